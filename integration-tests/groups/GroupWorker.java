import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeSet;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.admin.ConsumerGroupListing;
import org.apache.kafka.clients.admin.ListOffsetsResult;
import org.apache.kafka.clients.admin.MemberDescription;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/**
 * The Java client (kafka-clients 3.9) in a consumer group, for integration-tests/test_groups_java.py.
 *
 * <pre>
 * member BOOTSTRAP GROUP TOPIC STRATEGY   a member speaking groups_common.Worker's stdin/stdout protocol:
 *                                         commitSync of each record before printing REC partition offset.
 *                                         STRATEGY = range | roundrobin | cooperative-sticky
 * admin BOOTSTRAP GROUP TOPIC             GROUP id state / DESC state assignor members / MEMBER id instance
 *                                         partitions / OFFSET partition committed metadata / END partition offset
 * delete BOOTSTRAP GROUP                  DELETED | ERROR ExceptionClass
 * </pre>
 */
public class GroupWorker {
    static volatile boolean idle = false;
    static volatile boolean stop = false;

    public static void main(String[] args) throws Exception {
        switch (args[0]) {
            case "member": member(args[1], args[2], args[3], args[4]); break;
            case "admin": admin(args[1], args[2], args[3]); break;
            case "delete": delete(args[1], args[2]); break;
            default: throw new IllegalArgumentException(args[0]);
        }
        System.out.flush();
    }

    static void out(String s) {
        System.out.println(s);
        System.out.flush();
    }

    static String parts(Collection<TopicPartition> tps) {
        TreeSet<Integer> s = new TreeSet<>();
        for (TopicPartition tp : tps) s.add(tp.partition());
        StringBuilder b = new StringBuilder();
        for (int p : s) b.append(b.length() == 0 ? "" : ",").append(p);
        return b.toString();
    }

    static void member(String bootstrap, String group, String topic, String strategy) throws Exception {
        Thread control = new Thread(() -> {
            try (BufferedReader in = new BufferedReader(new InputStreamReader(System.in))) {
                String line;
                while ((line = in.readLine()) != null) {
                    if (line.trim().equals("idle")) idle = true;
                    if (line.trim().equals("stop")) stop = true;
                }
            } catch (Exception e) {
                // fall through
            }
            stop = true;
        });
        control.setDaemon(true);
        control.start();
        Map<String, String> assignors = Map.of(
            "range", "org.apache.kafka.clients.consumer.RangeAssignor",
            "roundrobin", "org.apache.kafka.clients.consumer.RoundRobinAssignor",
            "cooperative-sticky", "org.apache.kafka.clients.consumer.CooperativeStickyAssignor");
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(ConsumerConfig.GROUP_ID_CONFIG, group);
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.MAX_POLL_INTERVAL_MS_CONFIG, "30000");
        p.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, "1");
        if (strategy.equals("consumer")) {
            // KIP-848: the broker assigns and sets the session and heartbeat interval.
            p.put("group.protocol", "consumer");
        } else {
            p.put(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, "3000");
            p.put(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG, "300");
            p.put(ConsumerConfig.PARTITION_ASSIGNMENT_STRATEGY_CONFIG, assignors.get(strategy));
        }
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(p)) {
            c.subscribe(Collections.singletonList(topic), new ConsumerRebalanceListener() {
                public void onPartitionsRevoked(Collection<TopicPartition> tps) { out("REVOKE " + parts(tps)); }
                public void onPartitionsAssigned(Collection<TopicPartition> tps) { out("ASSIGN " + parts(c.assignment())); }
            });
            while (!stop) {
                if (idle) {
                    out("IDLE");
                    while (!stop) Thread.sleep(50);
                    break;
                }
                ConsumerRecords<byte[], byte[]> recs = c.poll(Duration.ofMillis(100));
                for (ConsumerRecord<byte[], byte[]> r : recs) {
                    TopicPartition tp = new TopicPartition(r.topic(), r.partition());
                    try {
                        c.commitSync(Map.of(tp, new OffsetAndMetadata(r.offset() + 1)));
                    } catch (KafkaException e) {
                        out("COMMITFAIL " + r.partition() + " " + r.offset() + " " + e.getClass().getSimpleName());
                        if (c.assignment().contains(tp)) c.seek(tp, r.offset());
                        break;
                    }
                    out("REC " + r.partition() + " " + r.offset());
                }
            }
        }
        out("CLOSED");
    }

    static Admin admin(String bootstrap) {
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        return Admin.create(p);
    }

    static void admin(String bootstrap, String group, String topic) throws Exception {
        try (Admin a = admin(bootstrap)) {
            for (ConsumerGroupListing g : a.listConsumerGroups().all().get()) {
                out("GROUP " + g.groupId() + " " + g.state().map(Object::toString).orElse("?"));
            }
            ConsumerGroupDescription d = a.describeConsumerGroups(List.of(group)).all().get().get(group);
            out("DESC " + d.state() + " " + d.partitionAssignor() + " " + d.members().size());
            for (MemberDescription m : d.members()) {
                out("MEMBER " + m.consumerId() + " " + m.groupInstanceId().orElse("-") + " "
                    + parts(m.assignment().topicPartitions()));
            }
            Map<TopicPartition, OffsetAndMetadata> offs =
                a.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get();
            Map<TopicPartition, OffsetSpec> latest = new HashMap<>();
            for (TopicPartition tp : offs.keySet()) latest.put(tp, OffsetSpec.latest());
            for (Map.Entry<TopicPartition, OffsetAndMetadata> e : offs.entrySet()) {
                out("OFFSET " + e.getKey().partition() + " " + e.getValue().offset() + " " + e.getValue().metadata());
            }
            Map<TopicPartition, ListOffsetsResult.ListOffsetsResultInfo> ends = a.listOffsets(latest).all().get();
            for (Map.Entry<TopicPartition, ListOffsetsResult.ListOffsetsResultInfo> e : ends.entrySet()) {
                out("END " + e.getKey().partition() + " " + e.getValue().offset());
            }
        }
    }

    static void delete(String bootstrap, String group) throws Exception {
        try (Admin a = admin(bootstrap)) {
            a.deleteConsumerGroups(List.of(group)).all().get();
            out("DELETED");
        } catch (java.util.concurrent.ExecutionException e) {
            out("ERROR " + e.getCause().getClass().getSimpleName());
        }
    }
}
