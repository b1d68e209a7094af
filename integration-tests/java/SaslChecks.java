// The official Java client (3.9) over SASL listeners, run by
// integration-tests/test_sasl_more_clients.py as a single-file source program:
//   java -cp <kafka-clients and its jars> SaslChecks.java BOOTSTRAP PROTOCOL MECHANISM USER PASSWORD CA_PEM TOPIC MODE
// PROTOCOL: SASL_PLAINTEXT, SASL_SSL or SSL; MECHANISM: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, or mTLS
// (protocol SSL: no SASL, the client certificate names the client; USER is then the PEM keystore
// holding its private key and certificate chain, PASSWORD is ignored);
// CA_PEM: the CA certificate (PEM) the broker's certificate is checked against ("-" without TLS).
// MODE ok: produce 10 records and read them back; MODE badauth: the first request must fail with
// SaslAuthenticationException; MODE denied: the produce must fail with
// TopicAuthorizationException. Prints "OK ..." lines, throws (non-zero exit) on failure.

import java.time.Duration;
import java.util.*;
import java.util.concurrent.*;
import org.apache.kafka.clients.CommonClientConfigs;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.config.SaslConfigs;
import org.apache.kafka.common.config.SslConfigs;
import org.apache.kafka.common.errors.*;
import org.apache.kafka.common.serialization.*;

public class SaslChecks {
    static void check(boolean ok, String what) {
        if (!ok) throw new AssertionError(what);
        System.out.println("OK " + what);
    }

    public static void main(String[] a) throws Exception {
        String bootstrap = a[0], protocol = a[1], mechanism = a[2], user = a[3], password = a[4], ca = a[5],
            topic = a[6], mode = a[7];
        Properties p = new Properties();
        p.put(CommonClientConfigs.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(CommonClientConfigs.SECURITY_PROTOCOL_CONFIG, protocol);
        if (mechanism.equals("mTLS")) {
            p.put(SslConfigs.SSL_KEYSTORE_TYPE_CONFIG, "PEM");
            p.put(SslConfigs.SSL_KEYSTORE_LOCATION_CONFIG, user);
        } else {
            p.put(SaslConfigs.SASL_MECHANISM, mechanism);
            String module = mechanism.equals("PLAIN")
                ? "org.apache.kafka.common.security.plain.PlainLoginModule"
                : "org.apache.kafka.common.security.scram.ScramLoginModule";
            p.put(SaslConfigs.SASL_JAAS_CONFIG, module + " required username=\"" + user + "\" password=\""
                + password.replace("\\", "\\\\").replace("\"", "\\\"") + "\";");
        }
        if (!ca.equals("-")) {
            p.put(SslConfigs.SSL_TRUSTSTORE_TYPE_CONFIG, "PEM");
            p.put(SslConfigs.SSL_TRUSTSTORE_LOCATION_CONFIG, ca);
        }
        Properties pp = (Properties) p.clone();
        pp.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        pp.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        pp.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, "30000");
        pp.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, "30000");
        pp.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, "20000");
        try (Producer<String, String> producer = new KafkaProducer<>(pp)) {
            if (mode.equals("badauth")) {
                try {
                    producer.send(new ProducerRecord<>(topic, "k", "v")).get(60, TimeUnit.SECONDS);
                    throw new AssertionError("a produce with bad credentials must fail");
                } catch (SaslAuthenticationException e) {
                    check(true, "bad credentials: SaslAuthenticationException " + e.getMessage());
                } catch (ExecutionException e) {
                    check(e.getCause() instanceof SaslAuthenticationException,
                        "bad credentials: SaslAuthenticationException " + e.getCause());
                }
                return;
            }
            if (mode.equals("denied")) {
                try {
                    producer.send(new ProducerRecord<>(topic, "k", "v")).get(60, TimeUnit.SECONDS);
                    throw new AssertionError("a produce without WRITE must fail");
                } catch (ExecutionException e) {
                    check(e.getCause() instanceof TopicAuthorizationException,
                        "without WRITE: TopicAuthorizationException " + e.getCause());
                }
                return;
            }
            for (int i = 0; i < 10; i++) {
                producer.send(new ProducerRecord<>(topic, 0, "k" + i, "v" + i)).get(60, TimeUnit.SECONDS);
            }
            check(true, "produced 10");
        }
        Properties cp = (Properties) p.clone();
        cp.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        cp.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        try (Consumer<String, String> consumer = new KafkaConsumer<>(cp)) {
            TopicPartition tp = new TopicPartition(topic, 0);
            consumer.assign(List.of(tp));
            consumer.seekToBeginning(List.of(tp));
            List<String> values = new ArrayList<>();
            long deadline = System.currentTimeMillis() + 60_000;
            while (values.size() < 10 && System.currentTimeMillis() < deadline) {
                for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(500))) values.add(r.value());
            }
            List<String> want = new ArrayList<>();
            for (int i = 0; i < 10; i++) want.add("v" + i);
            check(values.equals(want), "consumed the 10 in order " + values);
        }
    }
}
