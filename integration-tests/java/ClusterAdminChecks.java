// The cluster-management calls of the official Java AdminClient (3.9) against a
// single Sluice node, run by integration-tests/test_cluster_admin.py as a single-file
// source program:
//   java -cp <kafka-clients and its jars> ClusterAdminChecks.java BOOTSTRAP TOPIC
// describeTopics goes through DescribeTopicPartitions (KIP-966) when the broker offers
// it, paging with the partition limit; electLeaders, alterPartitionReassignments,
// listPartitionReassignments and describeMetadataQuorum get a one-node cluster's
// answers. Prints "OK <check>" per check and throws on the first failure.

import java.util.*;
import java.util.concurrent.*;
import org.apache.kafka.clients.admin.*;
import org.apache.kafka.common.*;
import org.apache.kafka.common.errors.*;

public class ClusterAdminChecks {
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
            String other = topic + "-b";
            admin.createTopics(List.of(new NewTopic(topic, 5, (short) 1), new NewTopic(other, 3, (short) 1)))
                .all().get(30, TimeUnit.SECONDS);

            // Pages of 2 partitions: the client follows the cursor until every
            // partition of both topics is described.
            Map<String, TopicDescription> described = admin.describeTopics(List.of(topic, other),
                    new DescribeTopicsOptions().partitionSizeLimitPerResponse(2))
                .allTopicNames().get(30, TimeUnit.SECONDS);
            check(described.get(topic).partitions().size() == 5
                    && described.get(other).partitions().size() == 3,
                "describeTopics pages through 8 partitions 2 at a time");
            TopicPartitionInfo last = described.get(topic).partitions().get(4);
            check(last.partition() == 4 && last.leader() != null && last.leader().id() == 1
                    && last.replicas().size() == 1 && last.isr().size() == 1,
                "describeTopics partition 4 led by node 1");
            try {
                admin.describeTopics(List.of("no-such-topic-" + topic)).allTopicNames().get(30, TimeUnit.SECONDS);
                throw new AssertionError("an unknown topic must fail");
            } catch (ExecutionException e) {
                check(e.getCause() instanceof UnknownTopicOrPartitionException,
                    "describeTopics of an unknown topic: UnknownTopicOrPartitionException");
            }

            TopicPartition tp0 = new TopicPartition(topic, 0);
            TopicPartition missing = new TopicPartition(topic, 99);
            ElectLeadersResult elect = admin.electLeaders(ElectionType.PREFERRED, Set.of(tp0, missing));
            Map<TopicPartition, Optional<Throwable>> outcome = elect.partitions().get(30, TimeUnit.SECONDS);
            check(outcome.get(tp0).isPresent() && outcome.get(tp0).get() instanceof ElectionNotNeededException,
                "electLeaders PREFERRED: ElectionNotNeeded");
            check(outcome.get(missing).isPresent()
                    && outcome.get(missing).get() instanceof UnknownTopicOrPartitionException,
                "electLeaders of an unknown partition: UnknownTopicOrPartition");
            Map<TopicPartition, Optional<Throwable>> all =
                admin.electLeaders(ElectionType.UNCLEAN, null).partitions().get(30, TimeUnit.SECONDS);
            check(all.isEmpty(), "electLeaders UNCLEAN for all partitions: nothing to elect");

            TopicPartition tp1 = new TopicPartition(topic, 1);
            AlterPartitionReassignmentsResult moved = admin.alterPartitionReassignments(Map.of(
                tp0, Optional.of(new NewPartitionReassignment(List.of(1))),
                tp1, Optional.of(new NewPartitionReassignment(List.of(2)))));
            moved.values().get(tp0).get(30, TimeUnit.SECONDS);
            check(true, "alterPartitionReassignments to this node: success");
            try {
                moved.values().get(tp1).get(30, TimeUnit.SECONDS);
                throw new AssertionError("a move to another broker must fail");
            } catch (ExecutionException e) {
                check(e.getCause() instanceof InvalidReplicaAssignmentException,
                    "alterPartitionReassignments to broker 2: InvalidReplicaAssignment");
            }
            try {
                admin.alterPartitionReassignments(Map.of(tp0, Optional.empty())).all().get(30, TimeUnit.SECONDS);
                throw new AssertionError("cancelling must fail");
            } catch (ExecutionException e) {
                check(e.getCause() instanceof NoReassignmentInProgressException,
                    "cancelling a reassignment: NoReassignmentInProgress");
            }
            check(admin.listPartitionReassignments().reassignments().get(30, TimeUnit.SECONDS).isEmpty(),
                "listPartitionReassignments: nothing ongoing");

            QuorumInfo quorum = admin.describeMetadataQuorum().quorumInfo().get(30, TimeUnit.SECONDS);
            check(quorum.leaderId() == 1 && quorum.voters().size() == 1
                    && quorum.voters().get(0).replicaId() == 1 && quorum.observers().isEmpty(),
                "describeMetadataQuorum: node 1 is the single voter and leader");

            Collection<Node> nodes = admin.describeCluster().nodes().get(30, TimeUnit.SECONDS);
            check(nodes.size() == 1 && nodes.iterator().next().id() == 1, "describeCluster: one node");
        }
    }
}
