// Topic lifecycle through the official Java AdminClient (3.9), run by
// integration-tests/test_admin_java.py as a single-file source program:
//   java -cp <kafka-clients and its jars> AdminChecks.java BOOTSTRAP TOPIC
// Prints one line per check ("OK <name> ..."), throws (non-zero exit) on the first
// failure so the test shows which Kafka admin call broke.

import java.util.*;
import java.util.concurrent.*;
import org.apache.kafka.clients.admin.*;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.*;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.errors.*;
import org.apache.kafka.common.serialization.StringSerializer;

public class AdminChecks {
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
            admin.createTopics(List.of(new NewTopic(topic, 1, (short) 1))).all().get(30, TimeUnit.SECONDS);

            admin.createPartitions(Map.of(topic, NewPartitions.increaseTo(2))).all().get(30, TimeUnit.SECONDS);
            int parts = admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic).partitions().size();
            check(parts == 2, "createPartitions 1 -> 2");
            try {
                admin.createPartitions(Map.of(topic, NewPartitions.increaseTo(1))).all().get(30, TimeUnit.SECONDS);
                throw new AssertionError("shrinking must fail");
            } catch (ExecutionException e) {
                check(e.getCause() instanceof InvalidPartitionsException, "createPartitions refuses to shrink");
            }

            ConfigResource res = new ConfigResource(ConfigResource.Type.TOPIC, topic);
            admin.incrementalAlterConfigs(Map.of(res, List.of(
                    new AlterConfigOp(new ConfigEntry("retention.ms", "3600000"), AlterConfigOp.OpType.SET),
                    new AlterConfigOp(new ConfigEntry("cleanup.policy", "compact"), AlterConfigOp.OpType.APPEND))))
                .all().get(30, TimeUnit.SECONDS);
            Config cfg = admin.describeConfigs(List.of(res)).all().get(30, TimeUnit.SECONDS).get(res);
            check("3600000".equals(cfg.get("retention.ms").value())
                    && cfg.get("retention.ms").source() == ConfigEntry.ConfigSource.DYNAMIC_TOPIC_CONFIG,
                "incrementalAlterConfigs SET, describeConfigs source");
            check("delete,compact".equals(cfg.get("cleanup.policy").value()), "incrementalAlterConfigs APPEND");
            try {
                admin.incrementalAlterConfigs(Map.of(res, List.of(
                        new AlterConfigOp(new ConfigEntry("retention.ms", "never"), AlterConfigOp.OpType.SET))))
                    .all().get(30, TimeUnit.SECONDS);
                throw new AssertionError("a bad value must fail");
            } catch (ExecutionException e) {
                check(e.getCause() instanceof InvalidConfigurationException, "incrementalAlterConfigs refuses a bad value");
            }

            Properties pp = new Properties();
            pp.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
            pp.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
            pp.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
            try (KafkaProducer<String, String> producer = new KafkaProducer<>(pp)) {
                for (int i = 0; i < 20; i++) producer.send(new ProducerRecord<>(topic, 0, "k" + i, "v" + i)).get();
            }
            TopicPartition tp = new TopicPartition(topic, 0);
            long low = admin.deleteRecords(Map.of(tp, RecordsToDelete.beforeOffset(7)))
                .lowWatermarks().get(tp).get(30, TimeUnit.SECONDS).lowWatermark();
            check(low == 7, "deleteRecords low watermark 7");
            long earliest = admin.listOffsets(Map.of(tp, OffsetSpec.earliest())).partitionResult(tp).get().offset();
            check(earliest == 7, "listOffsets earliest follows deleteRecords");

            Map<Integer, Map<String, LogDirDescription>> dirs =
                admin.describeLogDirs(List.of(1)).allDescriptions().get(30, TimeUnit.SECONDS);
            long size = dirs.get(1).values().stream()
                .flatMap(d -> d.replicaInfos().entrySet().stream())
                .filter(e -> e.getKey().equals(tp)).mapToLong(e -> e.getValue().size()).sum();
            check(size > 0, "describeLogDirs reports the partition's size");

            DescribeProducersResult producers = admin.describeProducers(List.of(tp));
            check(!producers.partitionResult(tp).get().activeProducers().isEmpty(),
                "describeProducers shows the (idempotent by default) producer");

            admin.deleteTopics(List.of(topic)).all().get(30, TimeUnit.SECONDS);
            check(!admin.listTopics().names().get().contains(topic), "deleteTopics");
        }
    }
}
