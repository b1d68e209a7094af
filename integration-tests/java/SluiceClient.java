import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.DescribeClusterResult;
import org.apache.kafka.clients.admin.ListOffsetsResult;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndTimestamp;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * The official Java client (kafka-clients 3.9) driven by integration-tests/test_java_client.py.
 *
 * <p>Usage: {@code java SluiceClient BOOTSTRAP COMMAND ARGS...}. Output is one tab-separated line per
 * fact on stdout (parsed by the test); the client's own log goes to stderr. Records produced here have
 * value {@code TAG-%06d-} followed by "abcdefgh" x 16, key {@code k<i>} and header {@code seq=<i>}, the
 * same scheme as {@code value_of} in the Python test. Consumers never join a group: they assign().
 *
 * <pre>
 * create-topic TOPIC PARTITIONS             -> CREATED | EXISTS
 * metadata TOPIC                            -> BROKER id host port / CONTROLLER id / PARTITION p leader replicas isr
 * produce TOPIC PARTITION CODEC ACKS N TAG [TS0 STEP]
 *                                           -> ACK i partition offset timestamp   (one per record, in order)
 * consume TOPIC PARTS START TIMEOUT_MS      -> REC partition offset timestamp key value seq (to the end offsets)
 *      PARTS = "0,1"; START = earliest | latest | OFFSET | ts:MILLIS
 * latest TOPIC PARTITION N                  -> POSITION p, then produces N records (tag "new") and reads them: REC ...
 * offsets-for-times TOPIC PARTITION TS      -> OFFSET offset timestamp | NONE
 * list-offsets TOPIC PARTITION              -> EARLIEST o / LATEST o / MAXTS o ts / (admin API)
 * produce-sync TOPIC PARTITIONS N TAG       -> ACK i partition offset per acknowledged send (acks=all, retries=0,
 *                                              one synchronous send at a time); FAIL i error at the first failure, then exit 0
 * </pre>
 */
public class SluiceClient {
    static String bootstrap;

    public static void main(String[] args) throws Exception {
        bootstrap = args[0];
        String cmd = args[1];
        String[] a = java.util.Arrays.copyOfRange(args, 2, args.length);
        switch (cmd) {
            case "create-topic": createTopic(a[0], Integer.parseInt(a[1])); break;
            case "metadata": metadata(a[0]); break;
            case "produce": produce(a); break;
            case "consume": consume(a[0], parts(a[1]), a[2], Long.parseLong(a[3])); break;
            case "latest": latest(a[0], Integer.parseInt(a[1]), Integer.parseInt(a[2])); break;
            case "offsets-for-times": offsetsForTimes(a[0], Integer.parseInt(a[1]), Long.parseLong(a[2])); break;
            case "list-offsets": listOffsets(a[0], Integer.parseInt(a[1])); break;
            case "produce-sync": produceSync(a[0], Integer.parseInt(a[1]), Integer.parseInt(a[2]), a[3]); break;
            case "produce-default": produceDefault(a[0], Integer.parseInt(a[1]), Integer.parseInt(a[2]), a[3]); break;
            default: throw new IllegalArgumentException("unknown command " + cmd);
        }
        System.out.flush();
    }

    static List<Integer> parts(String s) {
        List<Integer> out = new ArrayList<>();
        for (String p : s.split(",")) out.add(Integer.parseInt(p));
        return out;
    }

    static String pad() {
        return "abcdefgh".repeat(16);
    }

    static String valueOf(String tag, int i) {
        return String.format("%s-%06d-%s", tag, i, pad());
    }

    static void out(Object... fields) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < fields.length; i++) {
            if (i > 0) sb.append('\t');
            sb.append(fields[i]);
        }
        System.out.println(sb);
    }

    // -- admin --------------------------------------------------------------------------------------

    static Admin admin() {
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "15000");
        p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "30000");
        return Admin.create(p);
    }

    static void createTopic(String topic, int partitions) throws Exception {
        try (Admin admin = admin()) {
            admin.createTopics(List.of(new NewTopic(topic, partitions, (short) 1))).all().get(30, TimeUnit.SECONDS);
            out("CREATED", topic);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof TopicExistsException) {
                out("EXISTS", topic);
            } else {
                throw e;
            }
        }
    }

    static void metadata(String topic) throws Exception {
        try (Admin admin = admin()) {
            DescribeClusterResult cluster = admin.describeCluster();
            for (Node n : cluster.nodes().get(30, TimeUnit.SECONDS)) out("BROKER", n.id(), n.host(), n.port());
            out("CONTROLLER", cluster.controller().get(30, TimeUnit.SECONDS).id());
            TopicDescription d = admin.describeTopics(List.of(topic)).allTopicNames().get(30, TimeUnit.SECONDS).get(topic);
            for (TopicPartitionInfo p : d.partitions()) {
                out("PARTITION", p.partition(), p.leader().id(), ids(p.replicas()), ids(p.isr()));
            }
        }
    }

    static String ids(List<Node> nodes) {
        List<String> s = new ArrayList<>();
        for (Node n : nodes) s.add(String.valueOf(n.id()));
        return String.join(",", s);
    }

    static void listOffsets(String topic, int partition) throws Exception {
        TopicPartition tp = new TopicPartition(topic, partition);
        try (Admin admin = admin()) {
            out("EARLIEST", admin.listOffsets(Map.of(tp, OffsetSpec.earliest())).partitionResult(tp).get(30, TimeUnit.SECONDS).offset());
            out("LATEST", admin.listOffsets(Map.of(tp, OffsetSpec.latest())).partitionResult(tp).get(30, TimeUnit.SECONDS).offset());
            ListOffsetsResult.ListOffsetsResultInfo m =
                    admin.listOffsets(Map.of(tp, OffsetSpec.maxTimestamp())).partitionResult(tp).get(30, TimeUnit.SECONDS);
            out("MAXTS", m.offset(), m.timestamp());
        }
    }

    // -- producer -----------------------------------------------------------------------------------

    static KafkaProducer<byte[], byte[]> producer(String codec, String acks, Map<String, String> extra) {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "false");
        p.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, codec);
        p.put(ProducerConfig.ACKS_CONFIG, acks);
        p.put(ProducerConfig.LINGER_MS_CONFIG, "10");
        p.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, "15000");
        p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, "30000");
        p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, "30000");
        p.putAll(extra);
        return new KafkaProducer<>(p);
    }

    static ProducerRecord<byte[], byte[]> record(String topic, int partition, Long ts, String tag, int i) {
        RecordHeaders h = new RecordHeaders();
        h.add("seq", String.valueOf(i).getBytes(StandardCharsets.UTF_8));
        return new ProducerRecord<>(topic, partition, ts, ("k" + i).getBytes(StandardCharsets.UTF_8),
                valueOf(tag, i).getBytes(StandardCharsets.UTF_8), h);
    }

    static void produce(String[] a) throws Exception {
        String topic = a[0];
        int partition = Integer.parseInt(a[1]);
        String codec = a[2], acks = a[3];
        int n = Integer.parseInt(a[4]);
        String tag = a[5];
        Long ts0 = a.length > 6 ? Long.parseLong(a[6]) : null;
        long step = a.length > 7 ? Long.parseLong(a[7]) : 0;
        List<Future<RecordMetadata>> futures = new ArrayList<>();
        KafkaProducer<byte[], byte[]> producer = producer(codec, acks, Map.of());
        try {
            for (int i = 0; i < n; i++) {
                Long ts = ts0 == null ? null : ts0 + i * step;
                futures.add(producer.send(record(topic, partition, ts, tag, i)));
            }
            for (int i = 0; i < n; i++) {
                RecordMetadata m = futures.get(i).get(30, TimeUnit.SECONDS);
                out("ACK", i, m.partition(), m.offset(), m.timestamp());
            }
        } finally {
            producer.close(Duration.ofSeconds(5));
        }
    }

    /** A producer with nothing but the defaults: since Kafka 3.0 that is idempotent, acks=all. */
    static void produceDefault(String topic, int partitions, int n, String tag) throws Exception {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        List<Future<RecordMetadata>> futures = new ArrayList<>();
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(p)) {
            for (int i = 0; i < n; i++) futures.add(producer.send(record(topic, i % partitions, null, tag, i)));
            for (int i = 0; i < n; i++) {
                RecordMetadata m = futures.get(i).get(30, TimeUnit.SECONDS);
                out("ACK", i, m.partition(), m.offset());
            }
        }
    }

    static void produceSync(String topic, int partitions, int n, String tag) {
        Map<String, String> extra = new HashMap<>();
        extra.put(ProducerConfig.RETRIES_CONFIG, "0");
        extra.put(ProducerConfig.LINGER_MS_CONFIG, "0");
        extra.put(ProducerConfig.MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION, "1");
        extra.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, "3000");
        extra.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, "5000");
        extra.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, "5000");
        try (KafkaProducer<byte[], byte[]> producer = producer("none", "all", extra)) {
            for (int i = 0; i < n; i++) {
                int partition = i % partitions;
                try {
                    RecordMetadata m = producer.send(record(topic, partition, null, tag, i)).get(10, TimeUnit.SECONDS);
                    out("ACK", i, m.partition(), m.offset());
                    System.out.flush();
                } catch (Exception e) {
                    Throwable c = e instanceof ExecutionException ? e.getCause() : e;
                    out("FAIL", i, c.getClass().getSimpleName() + ": " + c.getMessage());
                    System.out.flush();
                    break;
                }
            }
            producer.close(Duration.ofSeconds(2));
        }
    }

    // -- consumer -----------------------------------------------------------------------------------

    static KafkaConsumer<byte[], byte[]> consumer() {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false"); // no group.id: assign() only
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "none");
        p.put(ConsumerConfig.REQUEST_TIMEOUT_MS_CONFIG, "15000");
        p.put(ConsumerConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "30000");
        p.put(ConsumerConfig.CHECK_CRCS_CONFIG, "true");
        return new KafkaConsumer<>(p);
    }

    static void printRecord(ConsumerRecord<byte[], byte[]> r) {
        Header seq = r.headers().lastHeader("seq");
        out("REC", r.partition(), r.offset(), r.timestamp(),
                r.key() == null ? "" : new String(r.key(), StandardCharsets.UTF_8),
                new String(r.value(), StandardCharsets.UTF_8),
                seq == null ? "" : new String(seq.value(), StandardCharsets.UTF_8));
    }

    static void consume(String topic, List<Integer> partitions, String start, long timeoutMs) {
        List<TopicPartition> tps = new ArrayList<>();
        for (int p : partitions) tps.add(new TopicPartition(topic, p));
        try (KafkaConsumer<byte[], byte[]> c = consumer()) {
            c.assign(tps);
            if (start.equals("earliest")) {
                c.seekToBeginning(tps);
            } else if (start.equals("latest")) {
                c.seekToEnd(tps);
            } else if (start.startsWith("ts:")) {
                Map<TopicPartition, Long> q = new HashMap<>();
                for (TopicPartition tp : tps) q.put(tp, Long.parseLong(start.substring(3)));
                Map<TopicPartition, OffsetAndTimestamp> r = c.offsetsForTimes(q);
                for (TopicPartition tp : tps) {
                    if (r.get(tp) == null) c.seekToEnd(List.of(tp)); else c.seek(tp, r.get(tp).offset());
                }
            } else {
                for (TopicPartition tp : tps) c.seek(tp, Long.parseLong(start));
            }
            Map<TopicPartition, Long> end = c.endOffsets(tps);
            long deadline = System.currentTimeMillis() + timeoutMs;
            while (true) {
                boolean done = true;
                for (TopicPartition tp : tps) if (c.position(tp) < end.get(tp)) done = false;
                if (done) break;
                if (System.currentTimeMillis() > deadline) {
                    throw new RuntimeException("timed out: end offsets " + end);
                }
                for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(200))) printRecord(r);
            }
            // nothing beyond the end offsets
            for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(300))) printRecord(r);
        }
    }

    static void latest(String topic, int partition, int n) throws Exception {
        TopicPartition tp = new TopicPartition(topic, partition);
        try (KafkaConsumer<byte[], byte[]> c = consumer()) {
            c.assign(List.of(tp));
            c.seekToEnd(List.of(tp));
            out("POSITION", c.position(tp));
            try (KafkaProducer<byte[], byte[]> producer = producer("none", "all", Map.of())) {
                for (int i = 0; i < n; i++) producer.send(record(topic, partition, null, "new", i)).get(30, TimeUnit.SECONDS);
            }
            int got = 0;
            long deadline = System.currentTimeMillis() + 20000;
            while (got < n && System.currentTimeMillis() < deadline) {
                for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(200))) {
                    printRecord(r);
                    got++;
                }
            }
        }
    }

    static void offsetsForTimes(String topic, int partition, long ts) {
        TopicPartition tp = new TopicPartition(topic, partition);
        try (KafkaConsumer<byte[], byte[]> c = consumer()) {
            OffsetAndTimestamp r = c.offsetsForTimes(Map.of(tp, ts)).get(tp);
            if (r == null) out("NONE"); else out("OFFSET", r.offset(), r.timestamp());
        }
    }
}
