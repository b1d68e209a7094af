// The official Java client's AdminClient (3.9) managing ACLs, run by
// integration-tests/test_sasl_more_clients.py:
//   java -cp <kafka-clients and its jars>:<classes> AclAdminChecks ADMIN_BOOTSTRAP SASL_BOOTSTRAP USER PASSWORD TOPIC
// ADMIN_BOOTSTRAP: a PLAINTEXT listener whose principal (User:ANONYMOUS) is a super user;
// SASL_BOOTSTRAP: a SASL_PLAINTEXT (PLAIN) listener USER authenticates on. USER has no ACL at
// the start. Creates ALLOW WRITE on TOPIC for USER with createAcls, finds it with describeAcls,
// produces as USER, removes it with deleteAcls, and checks the next produce is refused with
// TopicAuthorizationException. Prints "OK ..." lines, throws (non-zero exit) on failure.

import java.util.*;
import java.util.concurrent.*;
import org.apache.kafka.clients.CommonClientConfigs;
import org.apache.kafka.clients.admin.*;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.acl.*;
import org.apache.kafka.common.config.SaslConfigs;
import org.apache.kafka.common.errors.TopicAuthorizationException;
import org.apache.kafka.common.resource.*;
import org.apache.kafka.common.serialization.StringSerializer;

public class AclAdminChecks {
    static void check(boolean ok, String what) {
        if (!ok) throw new AssertionError(what);
        System.out.println("OK " + what);
    }

    static Throwable produce(String bootstrap, String user, String password, String topic) throws Exception {
        Properties p = new Properties();
        p.put(CommonClientConfigs.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(CommonClientConfigs.SECURITY_PROTOCOL_CONFIG, "SASL_PLAINTEXT");
        p.put(SaslConfigs.SASL_MECHANISM, "PLAIN");
        p.put(SaslConfigs.SASL_JAAS_CONFIG, "org.apache.kafka.common.security.plain.PlainLoginModule required username=\""
            + user + "\" password=\"" + password + "\";");
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, "30000");
        p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, "30000");
        p.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, "20000");
        try (Producer<String, String> producer = new KafkaProducer<>(p)) {
            producer.send(new ProducerRecord<>(topic, 0, "k", "v")).get(60, TimeUnit.SECONDS);
            return null;
        } catch (ExecutionException e) {
            return e.getCause();
        }
    }

    public static void main(String[] a) throws Exception {
        String adminBootstrap = a[0], saslBootstrap = a[1], user = a[2], password = a[3], topic = a[4];
        Properties p = new Properties();
        p.put(CommonClientConfigs.BOOTSTRAP_SERVERS_CONFIG, adminBootstrap);
        try (Admin admin = Admin.create(p)) {
            admin.createTopics(List.of(new NewTopic(topic, 1, (short) 1))).all().get(30, TimeUnit.SECONDS);
            check(produce(saslBootstrap, user, password, topic) instanceof TopicAuthorizationException,
                "without an ACL: TopicAuthorizationException");
            AclBinding write = new AclBinding(new ResourcePattern(ResourceType.TOPIC, topic, PatternType.LITERAL),
                new AccessControlEntry("User:" + user, "*", AclOperation.WRITE, AclPermissionType.ALLOW));
            admin.createAcls(List.of(write)).all().get(30, TimeUnit.SECONDS);
            check(true, "createAcls");
            AclBindingFilter onTopic = new AclBindingFilter(
                new ResourcePatternFilter(ResourceType.TOPIC, topic, PatternType.LITERAL), AccessControlEntryFilter.ANY);
            Collection<AclBinding> found = admin.describeAcls(onTopic).values().get(30, TimeUnit.SECONDS);
            check(found.equals(List.of(write)), "describeAcls finds exactly the new binding: " + found);
            check(produce(saslBootstrap, user, password, topic) == null, "with WRITE: the produce succeeds");
            Collection<AclBinding> deleted = admin.deleteAcls(List.of(onTopic)).all().get(30, TimeUnit.SECONDS);
            check(deleted.equals(List.of(write)), "deleteAcls removes it: " + deleted);
            check(produce(saslBootstrap, user, password, topic) instanceof TopicAuthorizationException,
                "after deleteAcls: TopicAuthorizationException at once");
        }
    }
}
