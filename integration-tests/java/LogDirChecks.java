// The JBOD calls of the official Java AdminClient (3.9) against a Sluice broker with two
// log directories, run by integration-tests/test_log_dirs.py as a single-file source
// program:
//   java -cp <kafka-clients and its jars> LogDirChecks.java BOOTSTRAP TOPIC
// describeLogDirs lists both directories with their space; alterReplicaLogDirs moves the
// topic's partition 0 to the directory not holding it, describeReplicaLogDirs and
// describeLogDirs follow it there; an unknown directory fails with
// LogDirNotFoundException. Prints "OK <check>" per check and throws on the first failure.

import java.util.*;
import java.util.concurrent.*;
import org.apache.kafka.clients.admin.*;
import org.apache.kafka.common.*;
import org.apache.kafka.common.errors.*;

public class LogDirChecks {
    static void check(boolean ok, String what) {
        if (!ok) throw new AssertionError(what);
        System.out.println("OK " + what);
    }

    /** The log dirs holding `tp`, with " (future)" after a future replica. */
    static List<String> holders(Admin admin, TopicPartition tp) throws Exception {
        Map<String, LogDirDescription> dirs =
            admin.describeLogDirs(List.of(1)).allDescriptions().get(30, TimeUnit.SECONDS).get(1);
        List<String> out = new ArrayList<>();
        for (Map.Entry<String, LogDirDescription> d : dirs.entrySet()) {
            ReplicaInfo r = d.getValue().replicaInfos().get(tp);
            if (r != null) out.add(d.getKey() + (r.isFuture() ? " (future)" : ""));
        }
        return out;
    }

    public static void main(String[] args) throws Exception {
        String bootstrap = args[0], topic = args[1];
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "30000");
        try (Admin admin = Admin.create(p)) {
            TopicPartition tp = new TopicPartition(topic, 0);
            TopicPartitionReplica replica = new TopicPartitionReplica(topic, 0, 1);
            Map<String, LogDirDescription> dirs =
                admin.describeLogDirs(List.of(1)).allDescriptions().get(30, TimeUnit.SECONDS).get(1);
            check(dirs.size() == 2, "describeLogDirs lists both log directories");
            for (LogDirDescription d : dirs.values()) {
                check(d.error() == null && d.totalBytes().orElse(0) > 0
                        && d.usableBytes().orElse(-1) >= 0, "a log directory reports its space");
            }
            List<String> before = holders(admin, tp);
            check(before.size() == 1, "the partition is in one log directory");
            String from = before.get(0);
            String to = dirs.keySet().stream().filter(d -> !d.equals(from)).findFirst().get();

            admin.alterReplicaLogDirs(Map.of(replica, to)).all().get(30, TimeUnit.SECONDS);
            long deadline = System.currentTimeMillis() + 60_000;
            while (!holders(admin, tp).equals(List.of(to)) && System.currentTimeMillis() < deadline) {
                Thread.sleep(100);
            }
            check(holders(admin, tp).equals(List.of(to)), "alterReplicaLogDirs moves the partition");
            DescribeReplicaLogDirsResult.ReplicaLogDirInfo info = admin
                .describeReplicaLogDirs(List.of(replica)).all().get(30, TimeUnit.SECONDS).get(replica);
            check(to.equals(info.getCurrentReplicaLogDir()) && info.getFutureReplicaLogDir() == null,
                "describeReplicaLogDirs shows the new directory and no future replica");

            try {
                admin.alterReplicaLogDirs(Map.of(replica, to + "-not-configured"))
                    .all().get(30, TimeUnit.SECONDS);
                check(false, "an unknown log directory is refused");
            } catch (ExecutionException e) {
                check(e.getCause() instanceof LogDirNotFoundException,
                    "an unknown log directory fails with LogDirNotFoundException");
            }
        }
    }
}
