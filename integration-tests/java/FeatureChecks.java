// The official Java AdminClient (3.9) against Sluice's finalized features: describeFeatures
// (ApiVersions) and updateFeatures (UpdateFeatures): a safe downgrade, a refused one, a
// validate-only upgrade, an upgrade back. Prints one "OK <check>" line per check passed and
// exits non-zero on the first failure. Run as a single-file program:
//   java -cp <kafka-clients and deps> FeatureChecks.java HOST:PORT
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.ExecutionException;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.FeatureMetadata;
import org.apache.kafka.clients.admin.FeatureUpdate;
import org.apache.kafka.clients.admin.UpdateFeaturesOptions;
import org.apache.kafka.common.errors.InvalidUpdateVersionException;

public class FeatureChecks {
    static void check(boolean ok, String what) {
        if (!ok) {
            System.out.println("FAIL " + what);
            System.exit(1);
        }
        System.out.println("OK " + what);
    }

    static short level(FeatureMetadata m, String f) {
        var r = m.finalizedFeatures().get(f);
        return r == null ? 0 : r.maxVersionLevel();
    }

    public static void main(String[] args) throws Exception {
        Properties p = new Properties();
        p.put("bootstrap.servers", args[0]);
        try (Admin admin = Admin.create(p)) {
            FeatureMetadata m = admin.describeFeatures().featureMetadata().get();
            check(level(m, "transaction.version") == 2 && level(m, "metadata.version") == 29,
                  "describeFeatures: transaction.version 2, metadata.version 29 " + m);
            check(m.supportedFeatures().get("metadata.version").maxVersion() == 29, "supported metadata.version up to 29");
            long epoch = m.finalizedFeaturesEpoch().orElse(-1L);
            check(epoch >= 0, "a finalized epoch " + epoch);

            admin.updateFeatures(Map.of("transaction.version",
                    new FeatureUpdate((short) 1, FeatureUpdate.UpgradeType.SAFE_DOWNGRADE)),
                new UpdateFeaturesOptions()).all().get();
            m = admin.describeFeatures().featureMetadata().get();
            check(level(m, "transaction.version") == 1 && m.finalizedFeaturesEpoch().get() > epoch,
                  "safe downgrade to 1, epoch grew " + m);

            try {
                admin.updateFeatures(Map.of("metadata.version",
                        new FeatureUpdate((short) 28, FeatureUpdate.UpgradeType.UPGRADE)),
                    new UpdateFeaturesOptions()).all().get();
                check(false, "a downgrade typed as an upgrade is refused");
            } catch (ExecutionException e) {
                check(e.getCause() instanceof InvalidUpdateVersionException,
                      "a downgrade typed as an upgrade is refused: " + e.getCause());
            }

            admin.updateFeatures(Map.of("transaction.version",
                    new FeatureUpdate((short) 2, FeatureUpdate.UpgradeType.UPGRADE)),
                new UpdateFeaturesOptions().validateOnly(true)).all().get();
            m = admin.describeFeatures().featureMetadata().get();
            check(level(m, "transaction.version") == 1, "validateOnly changes nothing");

            admin.updateFeatures(Map.of("transaction.version",
                    new FeatureUpdate((short) 2, FeatureUpdate.UpgradeType.UPGRADE)),
                new UpdateFeaturesOptions()).all().get();
            m = admin.describeFeatures().featureMetadata().get();
            check(level(m, "transaction.version") == 2, "upgrade back to 2");
        }
    }
}
