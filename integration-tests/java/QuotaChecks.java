// Client quotas through the official Java AdminClient (3.9): alterClientQuotas and
// describeClientQuotas, run by integration-tests/test_quotas.py as a single-file source
// program:
//   java -cp <kafka-clients and its jars> QuotaChecks.java BOOTSTRAP
// Prints one line per check ("OK <name>"), throws (non-zero exit) on the first failure.

import java.util.*;
import java.util.concurrent.*;
import org.apache.kafka.clients.admin.*;
import org.apache.kafka.common.errors.*;
import org.apache.kafka.common.quota.*;

public class QuotaChecks {
    static void check(boolean ok, String what) {
        if (!ok) throw new AssertionError(what);
        System.out.println("OK " + what);
    }

    static ClientQuotaEntity entity(String... kv) {
        Map<String, String> m = new HashMap<>();
        for (int i = 0; i < kv.length; i += 2) m.put(kv[i], kv[i + 1]);
        return new ClientQuotaEntity(m);
    }

    static Map<ClientQuotaEntity, Map<String, Double>> describe(Admin admin, ClientQuotaFilter f) throws Exception {
        return admin.describeClientQuotas(f).entities().get(30, TimeUnit.SECONDS);
    }

    static Throwable alterFails(Admin admin, ClientQuotaAlteration a) throws Exception {
        try {
            admin.alterClientQuotas(List.of(a)).all().get(30, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            return e.getCause();
        }
        throw new AssertionError("alteration " + a + " must fail");
    }

    public static void main(String[] args) throws Exception {
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
        p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "30000");
        try (Admin admin = Admin.create(p)) {
            ClientQuotaEntity alice = entity(ClientQuotaEntity.USER, "alice");
            ClientQuotaEntity aliceDefaultClient = entity(ClientQuotaEntity.USER, "alice", ClientQuotaEntity.CLIENT_ID, null);
            ClientQuotaEntity defaultClient = entity(ClientQuotaEntity.CLIENT_ID, null);
            admin.alterClientQuotas(List.of(
                new ClientQuotaAlteration(alice, List.of(
                    new ClientQuotaAlteration.Op("producer_byte_rate", 1024.0),
                    new ClientQuotaAlteration.Op("consumer_byte_rate", 2048.0))),
                new ClientQuotaAlteration(aliceDefaultClient, List.of(
                    new ClientQuotaAlteration.Op("request_percentage", 50.0))),
                new ClientQuotaAlteration(defaultClient, List.of(
                    new ClientQuotaAlteration.Op("controller_mutation_rate", 10.0)))
            )).all().get(30, TimeUnit.SECONDS);
            check(true, "alterClientQuotas on user, user+<default> client, <default> client");

            Map<ClientQuotaEntity, Map<String, Double>> all = describe(admin, ClientQuotaFilter.all());
            check(all.size() == 3, "describe all: 3 entities " + all);
            check(all.get(alice).equals(Map.of("producer_byte_rate", 1024.0, "consumer_byte_rate", 2048.0)), "describe all: alice's values");
            check(all.get(defaultClient).equals(Map.of("controller_mutation_rate", 10.0)), "describe all: <default> client");

            Map<ClientQuotaEntity, Map<String, Double>> strict = describe(admin,
                ClientQuotaFilter.containsOnly(List.of(ClientQuotaFilterComponent.ofEntity(ClientQuotaEntity.USER, "alice"))));
            check(strict.keySet().equals(Set.of(alice)), "strict filter user=alice: only /users/alice " + strict);
            Map<ClientQuotaEntity, Map<String, Double>> loose = describe(admin,
                ClientQuotaFilter.contains(List.of(ClientQuotaFilterComponent.ofEntity(ClientQuotaEntity.USER, "alice"))));
            check(loose.keySet().equals(Set.of(alice, aliceDefaultClient)), "non-strict filter user=alice: both alice entities " + loose);
            Map<ClientQuotaEntity, Map<String, Double>> defaults = describe(admin,
                ClientQuotaFilter.contains(List.of(ClientQuotaFilterComponent.ofDefaultEntity(ClientQuotaEntity.CLIENT_ID))));
            check(defaults.keySet().equals(Set.of(aliceDefaultClient, defaultClient)), "default client-id filter " + defaults);
            Map<ClientQuotaEntity, Map<String, Double>> anyClient = describe(admin,
                ClientQuotaFilter.containsOnly(List.of(ClientQuotaFilterComponent.ofEntityType(ClientQuotaEntity.CLIENT_ID))));
            check(anyClient.keySet().equals(Set.of(defaultClient)), "strict any-client-id filter " + anyClient);

            admin.alterClientQuotas(List.of(new ClientQuotaAlteration(alice, List.of(
                new ClientQuotaAlteration.Op("producer_byte_rate", 1.0)))),
                new AlterClientQuotasOptions().validateOnly(true)).all().get(30, TimeUnit.SECONDS);
            check(describe(admin, ClientQuotaFilter.all()).get(alice).get("producer_byte_rate") == 1024.0, "validateOnly changes nothing");

            Throwable e = alterFails(admin, new ClientQuotaAlteration(alice, List.of(new ClientQuotaAlteration.Op("bogus_rate", 1.0))));
            check(e instanceof InvalidRequestException, "unknown key: InvalidRequestException " + e);
            e = alterFails(admin, new ClientQuotaAlteration(entity("topic", "t"), List.of(new ClientQuotaAlteration.Op("producer_byte_rate", 1.0))));
            check(e instanceof InvalidRequestException, "unknown entity type: InvalidRequestException " + e);
            e = alterFails(admin, new ClientQuotaAlteration(alice, List.of(new ClientQuotaAlteration.Op("producer_byte_rate", 10.5))));
            check(e instanceof InvalidRequestException, "fractional byte rate: InvalidRequestException " + e);
            e = alterFails(admin, new ClientQuotaAlteration(alice, List.of(new ClientQuotaAlteration.Op("consumer_byte_rate", -1.0))));
            check(e instanceof InvalidRequestException, "negative rate: InvalidRequestException " + e);
            try {
                describe(admin, ClientQuotaFilter.contains(List.of(ClientQuotaFilterComponent.ofEntity("topic", "t"))));
                throw new AssertionError("describe with an unknown entity type must fail");
            } catch (ExecutionException ex) {
                check(ex.getCause() instanceof UnsupportedVersionException, "describe unknown entity type: UnsupportedVersionException " + ex.getCause());
            }

            admin.alterClientQuotas(List.of(new ClientQuotaAlteration(aliceDefaultClient, List.of(
                new ClientQuotaAlteration.Op("request_percentage", null))))).all().get(30, TimeUnit.SECONDS);
            check(!describe(admin, ClientQuotaFilter.all()).containsKey(aliceDefaultClient), "removing the last key removes the entity");

            // controller_mutation_rate: 1 partition/s with 11 windows of 1 s is a burst of 11
            // tokens; 12 partitions take the bucket below zero, so the next CreateTopics
            // (v7: strict) is refused with THROTTLING_QUOTA_EXCEEDED and a throttle time.
            admin.alterClientQuotas(List.of(new ClientQuotaAlteration(defaultClient, List.of(
                new ClientQuotaAlteration.Op("controller_mutation_rate", 1.0))))).all().get(30, TimeUnit.SECONDS);
            CreateTopicsOptions noRetry = new CreateTopicsOptions().retryOnQuotaViolation(false);
            String suffix = Long.toString(System.nanoTime());
            admin.createTopics(List.of(new NewTopic("quota-big-" + suffix, 12, (short) 1)), noRetry).all().get(30, TimeUnit.SECONDS);
            check(true, "a CreateTopics within the burst is accepted");
            try {
                admin.createTopics(List.of(new NewTopic("quota-next-" + suffix, 1, (short) 1)), noRetry).all().get(30, TimeUnit.SECONDS);
                throw new AssertionError("a CreateTopics over controller_mutation_rate must be refused");
            } catch (ExecutionException ex) {
                check(ex.getCause() instanceof ThrottlingQuotaExceededException
                    && ((ThrottlingQuotaExceededException) ex.getCause()).throttleTimeMs() > 0,
                    "over controller_mutation_rate: ThrottlingQuotaExceededException with a throttle time " + ex.getCause());
            }
        }
    }
}
