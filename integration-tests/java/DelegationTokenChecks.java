// Delegation tokens through the official Java clients (3.9), run by
// integration-tests/test_delegation_tokens.py:
//   java DelegationTokenChecks create BOOTSTRAP USER PASSWORD TOPIC
//       creates a token (renewer User:bob), describes and renews it, produces with it
//       (SCRAM-SHA-256/512, tokenauth=true), checks a token-authenticated session may
//       not create tokens; prints "TOKEN <id> <hmac base64>"
//   java DelegationTokenChecks use BOOTSTRAP ID HMAC TOPIC        produces with the token
//   java DelegationTokenChecks expire BOOTSTRAP USER PASSWORD ID HMAC TOPIC
//       expires it at once, then checks the token no longer authenticates
// Prints "OK <check>" per check and throws (non-zero exit) on the first failure.

import java.util.*;
import java.util.concurrent.*;
import org.apache.kafka.clients.CommonClientConfigs;
import org.apache.kafka.clients.admin.*;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.config.SaslConfigs;
import org.apache.kafka.common.errors.*;
import org.apache.kafka.common.security.auth.KafkaPrincipal;
import org.apache.kafka.common.security.token.delegation.DelegationToken;
import org.apache.kafka.common.serialization.StringSerializer;

public class DelegationTokenChecks {
    static void check(boolean ok, String what) {
        if (!ok) throw new AssertionError(what);
        System.out.println("OK " + what);
    }

    static Properties scram(String bootstrap, String mechanism, String user, String password, boolean token) {
        Properties p = new Properties();
        p.put(CommonClientConfigs.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(CommonClientConfigs.SECURITY_PROTOCOL_CONFIG, "SASL_PLAINTEXT");
        p.put(SaslConfigs.SASL_MECHANISM, mechanism);
        p.put(SaslConfigs.SASL_JAAS_CONFIG, "org.apache.kafka.common.security.scram.ScramLoginModule required username=\""
                + user + "\" password=\"" + password + "\"" + (token ? " tokenauth=\"true\"" : "") + ";");
        p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "20000");
        p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "15000");
        return p;
    }

    static void produce(String bootstrap, String mechanism, String id, String hmac, String topic) throws Exception {
        Properties p = scram(bootstrap, mechanism, id, hmac, true);
        p.remove(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG);
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, "20000");
        p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, "20000");
        try (Producer<String, String> producer = new KafkaProducer<>(p)) {
            for (int i = 0; i < 5; i++) {
                producer.send(new ProducerRecord<>(topic, "k" + i, "token-" + i)).get(30, TimeUnit.SECONDS);
            }
        }
    }

    public static void main(String[] args) throws Exception {
        String mode = args[0], bootstrap = args[1];
        if (mode.equals("create")) {
            String user = args[2], password = args[3], topic = args[4];
            DelegationToken token;
            try (Admin admin = Admin.create(scram(bootstrap, "SCRAM-SHA-512", user, password, false))) {
                token = admin.createDelegationToken(new CreateDelegationTokenOptions()
                        .renewers(List.of(new KafkaPrincipal("User", "bob")))).delegationToken().get();
                check(token.tokenInfo().owner().equals(new KafkaPrincipal("User", user)), "createDelegationToken owner " + token.tokenInfo().owner());
                check(token.tokenInfo().expiryTimestamp() <= token.tokenInfo().maxTimestamp(), "expiry <= max");
                List<DelegationToken> all = admin.describeDelegationToken().delegationTokens().get();
                check(all.stream().anyMatch(t -> t.tokenInfo().tokenId().equals(token.tokenInfo().tokenId())
                        && t.tokenInfo().renewers().contains(new KafkaPrincipal("User", "bob"))
                        && Arrays.equals(t.hmac(), token.hmac())), "describeDelegationToken lists it");
                long expiry = admin.renewDelegationToken(token.hmac()).expiryTimestamp().get();
                check(expiry >= token.tokenInfo().expiryTimestamp(), "renewDelegationToken");
                try {
                    admin.renewDelegationToken("not-a-token".getBytes()).expiryTimestamp().get();
                    throw new AssertionError("an unknown hmac must fail");
                } catch (ExecutionException e) {
                    check(e.getCause() instanceof DelegationTokenNotFoundException, "unknown hmac: " + e.getCause().getClass().getSimpleName());
                }
            }
            String id = token.tokenInfo().tokenId(), hmac = token.hmacAsBase64String();
            produce(bootstrap, "SCRAM-SHA-256", id, hmac, topic);
            check(true, "produce with the token (SCRAM-SHA-256, tokenauth)");
            try (Admin admin = Admin.create(scram(bootstrap, "SCRAM-SHA-512", id, hmac, true))) {
                admin.createDelegationToken().delegationToken().get();
                throw new AssertionError("a token-authenticated session must not create tokens");
            } catch (ExecutionException e) {
                check(e.getCause() instanceof UnsupportedByAuthenticationException,
                        "token session cannot create tokens: " + e.getCause().getClass().getSimpleName());
            }
            System.out.println("TOKEN " + id + " " + hmac);
        } else if (mode.equals("use")) {
            produce(bootstrap, "SCRAM-SHA-512", args[2], args[3], args[4]);
            check(true, "produce with the token after restart");
        } else if (mode.equals("expire")) {
            String user = args[2], password = args[3], id = args[4], hmac = args[5], topic = args[6];
            try (Admin admin = Admin.create(scram(bootstrap, "SCRAM-SHA-256", user, password, false))) {
                admin.expireDelegationToken(Base64.getDecoder().decode(hmac),
                        new ExpireDelegationTokenOptions().expiryTimePeriodMs(-1)).expiryTimestamp().get();
                check(admin.describeDelegationToken().delegationTokens().get().isEmpty(), "expired token is gone");
            }
            try {
                produce(bootstrap, "SCRAM-SHA-256", id, hmac, topic);
                throw new AssertionError("an expired token must not authenticate");
            } catch (ExecutionException | org.apache.kafka.common.KafkaException e) {
                Throwable c = e instanceof ExecutionException ? e.getCause() : e;
                check(c instanceof SaslAuthenticationException, "expired token refused: " + c);
            }
        }
    }
}
