// KIP-714 client telemetry with the official Java client (3.9), run by
// integration-tests/test_client_telemetry.py as a single-file source program:
//   java -cp <kafka-clients and its jars> TelemetryChecks.java BOOTSTRAP TOPIC
// The AdminClient sets a client-metrics subscription (incrementalAlterConfigs on a
// CLIENT_METRICS resource), reads it back (describeConfigs) and lists it
// (listClientMetricsResources: ListConfigResources v0); then a producer whose client.id
// matches produces for a few push intervals, so it asks for its subscription and pushes
// its metrics. Prints "OK <check>" per check, "INSTANCE <client instance id>" for the
// caller to find its series on /metrics, and throws on the first failure.

import java.time.Duration;
import java.util.*;
import java.util.concurrent.*;
import org.apache.kafka.clients.admin.*;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.serialization.StringSerializer;

public class TelemetryChecks {
    static void check(boolean ok, String what) {
        if (!ok) throw new AssertionError(what);
        System.out.println("OK " + what);
    }

    public static void main(String[] args) throws Exception {
        String bootstrap = args[0], topic = args[1];
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "30000");
        try (Admin admin = Admin.create(p)) {
            ConfigResource sub = new ConfigResource(ConfigResource.Type.CLIENT_METRICS, "java-producers");
            admin.incrementalAlterConfigs(Map.of(sub, List.of(
                new AlterConfigOp(new ConfigEntry("metrics", "org.apache.kafka.producer."), AlterConfigOp.OpType.SET),
                new AlterConfigOp(new ConfigEntry("interval.ms", "1000"), AlterConfigOp.OpType.SET),
                new AlterConfigOp(new ConfigEntry("match", "client_id=java-telemetry.*"), AlterConfigOp.OpType.SET)
            ))).all().get(30, TimeUnit.SECONDS);
            Config described = admin.describeConfigs(List.of(sub)).all().get(30, TimeUnit.SECONDS).get(sub);
            check("1000".equals(described.get("interval.ms").value())
                    && "org.apache.kafka.producer.".equals(described.get("metrics").value()),
                "describeConfigs reads the subscription back");
            Collection<ClientMetricsResourceListing> listed =
                admin.listClientMetricsResources().all().get(30, TimeUnit.SECONDS);
            check(listed.stream().anyMatch(l -> l.name().equals("java-producers")),
                "listClientMetricsResources lists it");
        }
        Properties pp = new Properties();
        pp.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        pp.put(ProducerConfig.CLIENT_ID_CONFIG, "java-telemetry-producer");
        pp.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        pp.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        try (Producer<String, String> producer = new KafkaProducer<>(pp)) {
            org.apache.kafka.common.Uuid id = producer.clientInstanceId(Duration.ofSeconds(30));
            check(id != null && !id.equals(org.apache.kafka.common.Uuid.ZERO_UUID), "the broker gave a client instance id");
            System.out.println("INSTANCE " + id);
            // A few push intervals of traffic; close() sends the terminating push.
            for (int i = 0; i < 40; i++) {
                producer.send(new ProducerRecord<>(topic, "k" + i, "v" + i)).get(30, TimeUnit.SECONDS);
                Thread.sleep(100);
            }
        }
        System.out.println("OK producer closed");
    }
}
