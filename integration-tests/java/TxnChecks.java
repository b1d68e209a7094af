// Transactions through the official Java client (3.9), run by
// integration-tests/test_transactions_java.py as a single-file source program:
//   java -cp <kafka-clients and its jars> TxnChecks.java BOOTSTRAP TOPIC TXN_ID
// Prints "OK <check>" per check and throws (non-zero exit) on the first failure.

import java.time.Duration;
import java.util.*;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.*;
import org.apache.kafka.common.errors.*;
import org.apache.kafka.common.serialization.*;

public class TxnChecks {
    static void check(boolean ok, String what) {
        if (!ok) throw new AssertionError(what);
        System.out.println("OK " + what);
    }

    static KafkaProducer<String, String> producer(String bootstrap, String txnId) {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, txnId);
        p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, "30000");
        return new KafkaProducer<>(p);
    }

    static List<String> read(String bootstrap, String topic, String isolation, int atLeast) {
        Properties c = new Properties();
        c.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        c.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        c.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        c.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, isolation);
        List<String> out = new ArrayList<>();
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(c)) {
            TopicPartition tp = new TopicPartition(topic, 0);
            consumer.assign(List.of(tp));
            consumer.seekToBeginning(List.of(tp));
            long deadline = System.currentTimeMillis() + 20000;
            long end = -1;
            while (System.currentTimeMillis() < deadline) {
                for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(300))) out.add(r.value());
                end = consumer.endOffsets(List.of(tp)).get(tp);
                if (out.size() >= atLeast && consumer.position(tp) >= end) break;
            }
        }
        return out;
    }

    public static void main(String[] args) throws Exception {
        String bootstrap = args[0], topic = args[1], txnId = args[2];
        try (KafkaProducer<String, String> p = producer(bootstrap, txnId)) {
            p.initTransactions();
            p.beginTransaction();
            for (int i = 0; i < 10; i++) p.send(new ProducerRecord<>(topic, 0, "k" + i, "committed-" + i));
            p.commitTransaction();
            p.beginTransaction();
            for (int i = 0; i < 10; i++) p.send(new ProducerRecord<>(topic, 0, "k" + i, "aborted-" + i));
            p.flush();
            p.abortTransaction();
            p.beginTransaction();
            p.send(new ProducerRecord<>(topic, 0, "k", "committed-last"));
            p.commitTransaction();
        }
        List<String> committed = read(bootstrap, topic, "read_committed", 11);
        check(committed.size() == 11 && committed.stream().allMatch(v -> v.startsWith("committed-")),
            "read_committed sees the 11 committed records only: " + committed.size());
        List<String> all = read(bootstrap, topic, "read_uncommitted", 21);
        check(all.size() == 21 && all.stream().filter(v -> v.startsWith("aborted-")).count() == 10,
            "read_uncommitted sees the aborted records too: " + all.size());

        KafkaProducer<String, String> zombie = producer(bootstrap, txnId + "-z");
        zombie.initTransactions();
        zombie.beginTransaction();
        zombie.send(new ProducerRecord<>(topic, 0, "z", "zombie")).get();
        try (KafkaProducer<String, String> successor = producer(bootstrap, txnId + "-z")) {
            successor.initTransactions();
            try {
                zombie.commitTransaction();
                throw new AssertionError("the fenced producer must not commit");
            } catch (ProducerFencedException | InvalidProducerEpochException e) {
                check(true, "a second producer with the same transactional.id fences the first (" + e.getClass().getSimpleName() + ")");
            }
            successor.beginTransaction();
            successor.send(new ProducerRecord<>(topic, 0, "s", "committed-successor"));
            successor.commitTransaction();
        } finally {
            zombie.close(Duration.ZERO);
        }
        List<String> after = read(bootstrap, topic, "read_committed", 12);
        check(after.contains("committed-successor") && !after.contains("zombie"),
            "the zombie's record is never visible to read_committed");
    }
}
