//! Finalized features (Kafka's `FeatureControlManager`, as the single node of a KRaft
//! cluster runs it): which feature levels this broker supports, which are finalized,
//! the epoch of that information, and UpdateFeatures' validation and changes.
//!
//! Three features exist: `metadata.version` (Kafka 4.2's levels 7 = 3.3-IV3 to 29 =
//! 4.2-IV1; Sluice keeps no metadata log, so the level changes nothing but what clients
//! read), `transaction.version` (0-2; 2 turns on KIP-890's transactions v2 for
//! clients that ask for it, see `crate::coordinator::transaction`) and `share.version`
//! (0-1, Kafka's ShareVersion: 1 turns on KIP-932 share groups, and needs
//! metadata.version 4.1-IV1 or later; at 0 the share group APIs answer
//! UNSUPPORTED_VERSION). A cluster that never changed them has Kafka 4.2's defaults
//! for a new cluster: metadata.version 29, transaction.version 2, share.version 1
//! (share groups are production-ready, and on, from 4.2). A data dir whose features
//! file predates share.version has it at 0, as a Kafka cluster upgraded to 4.2 does.
//!
//! The finalized levels live in `<log.dirs>/features` (text, layout in
//! storage-format.md), replaced as a whole on every change through the log's storage
//! seam (temp file, fsync, rename, directory fsync) before the change is applied in
//! memory and answered. The epoch counts the changes (0 until the first one), so it
//! only grows. This module never parses Kafka requests and never touches sockets.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use parking_lot::Mutex;

use crate::error::{KafkaError, ResponseError};
use crate::topics::store::write_atomically;

pub const FILE_NAME: &str = "features";
pub const METADATA_VERSION: &str = "metadata.version";
pub const TRANSACTION_VERSION: &str = "transaction.version";
pub const SHARE_VERSION: &str = "share.version";
/// The metadata.version share.version 1 depends on (4.1-IV1), as Kafka's ShareVersion.
const SHARE_VERSION_1_NEEDS_METADATA_VERSION: i16 = 27;

/// Kafka's `MetadataVersion` levels a 4.2 broker supports: (level, release name, whether
/// the level changed the metadata format). A downgrade across a level that changed the
/// format could lose metadata, so Kafka refuses it.
const METADATA_VERSIONS: &[(i16, &str, bool)] = &[
    (7, "3.3-IV3", true),
    (8, "3.4-IV0", true),
    (9, "3.5-IV0", false),
    (10, "3.5-IV1", false),
    (11, "3.5-IV2", true),
    (12, "3.6-IV0", false),
    (13, "3.6-IV1", true),
    (14, "3.6-IV2", true),
    (15, "3.7-IV0", true),
    (16, "3.7-IV1", false),
    (17, "3.7-IV2", true),
    (18, "3.7-IV3", false),
    (19, "3.7-IV4", false),
    (20, "3.8-IV0", false),
    (21, "3.9-IV0", false),
    (22, "4.0-IV0", false),
    (23, "4.0-IV1", true),
    (24, "4.0-IV2", false),
    (25, "4.0-IV3", false),
    (26, "4.1-IV0", false),
    (27, "4.1-IV1", false),
    (28, "4.2-IV0", false),
    (29, "4.2-IV1", false),
];

/// Kafka's ids for UpdateFeatures' upgrade types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UpgradeType {
    Upgrade,
    SafeDowngrade,
    UnsafeDowngrade,
    Unknown,
}

impl UpgradeType {
    pub fn from_code(code: i8) -> UpgradeType {
        match code {
            1 => UpgradeType::Upgrade,
            2 => UpgradeType::SafeDowngrade,
            3 => UpgradeType::UnsafeDowngrade,
            _ => UpgradeType::Unknown,
        }
    }
}

/// A feature level range this broker supports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SupportedFeature {
    pub name: &'static str,
    pub min: i16,
    pub max: i16,
}

/// Every feature this broker supports, with the range it supports.
pub fn supported_features() -> Vec<SupportedFeature> {
    vec![
        SupportedFeature {
            name: METADATA_VERSION,
            min: METADATA_VERSIONS[0].0,
            max: METADATA_VERSIONS[METADATA_VERSIONS.len() - 1].0,
        },
        SupportedFeature {
            name: TRANSACTION_VERSION,
            min: 0,
            max: 2,
        },
        SupportedFeature {
            name: SHARE_VERSION,
            min: 0,
            max: 1,
        },
    ]
}

/// The release name of a metadata.version level (`4.2-IV1`), if it is one.
pub fn metadata_version_name(level: i16) -> Option<&'static str> {
    METADATA_VERSIONS
        .iter()
        .find(|(l, _, _)| *l == level)
        .map(|(_, n, _)| *n)
}

/// Kafka 4.2's levels for a new cluster.
fn defaults() -> BTreeMap<String, i16> {
    BTreeMap::from([
        (METADATA_VERSION.to_string(), 29),
        (TRANSACTION_VERSION.to_string(), 2),
        (SHARE_VERSION.to_string(), 1),
    ])
}

/// The finalized levels (a feature at level 0 is not finalized and not listed) and
/// their epoch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FinalizedFeatures {
    pub levels: BTreeMap<String, i16>,
    pub epoch: i64,
}

impl FinalizedFeatures {
    pub fn level(&self, feature: &str) -> i16 {
        self.levels.get(feature).copied().unwrap_or(0)
    }
}

/// One change of an UpdateFeatures request.
#[derive(Clone, Debug)]
pub struct FeatureUpdate {
    pub feature: String,
    pub level: i16,
    pub upgrade_type: UpgradeType,
}

pub struct FeatureControl {
    path: PathBuf,
    /// Held across the file write, so the file always matches memory.
    state: Mutex<FinalizedFeatures>,
}

impl FeatureControl {
    /// Loads the finalized levels from `data_dir` (Kafka 4.2's defaults when the file is
    /// missing).
    pub fn open(data_dir: &Path) -> Result<FeatureControl> {
        let path = data_dir.join(FILE_NAME);
        let state = match crate::log::storage::read_to_string(&path) {
            Ok(text) => parse(&text).with_context(|| {
                format!(
                    "{} is damaged; refusing to start without its finalized feature levels",
                    path.display()
                )
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => FinalizedFeatures {
                levels: defaults(),
                epoch: 0,
            },
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        Ok(FeatureControl {
            path,
            state: Mutex::new(state),
        })
    }

    pub fn finalized(&self) -> FinalizedFeatures {
        self.state.lock().clone()
    }

    /// The finalized transaction.version (0 when not finalized).
    pub fn transaction_version(&self) -> i16 {
        self.state.lock().level(TRANSACTION_VERSION)
    }

    /// Whether share groups are on (share.version 1 or above finalized).
    pub fn share_groups_enabled(&self) -> bool {
        self.state.lock().level(SHARE_VERSION) >= 1
    }

    /// UpdateFeatures: validates every update against the levels as they would be after
    /// all of them (Kafka's `updateFeatures`), then, unless `validate_only`, makes them
    /// durable and applies them all at once. The first invalid update fails the whole
    /// request with INVALID_UPDATE_VERSION and Kafka's message for it.
    pub fn update(&self, updates: &[FeatureUpdate], validate_only: bool) -> Result<(), KafkaError> {
        let mut state = self.state.lock();
        let mut proposed = state.levels.clone();
        for u in updates {
            validate(&state.levels, u)?;
            if u.level == 0 {
                proposed.remove(&u.feature);
            } else {
                proposed.insert(u.feature.clone(), u.level);
            }
        }
        check_dependencies(&proposed, updates)?;
        if validate_only || updates.is_empty() {
            return Ok(());
        }
        let next = FinalizedFeatures {
            levels: proposed,
            epoch: state.epoch + 1,
        };
        write_atomically(&self.path, encode(&next).as_bytes()).map_err(|e| {
            tracing::error!(error = %format!("{e:#}"), "could not write the finalized features");
            KafkaError::new(
                ResponseError::FeatureUpdateFailed,
                "the finalized features could not be written",
            )
        })?;
        for u in updates {
            tracing::info!(
                feature = %u.feature,
                from = state.level(&u.feature),
                to = u.level,
                "finalized feature level changed"
            );
        }
        *state = next;
        Ok(())
    }
}

fn invalid(feature: &str, level: i16, reason: impl std::fmt::Display) -> KafkaError {
    KafkaError::new(
        ResponseError::InvalidUpdateVersion,
        format!("Invalid update version {level} for feature {feature}. {reason}"),
    )
}

/// Kafka's `updateFeature` checks for one update against the current levels.
fn validate(current: &BTreeMap<String, i16>, u: &FeatureUpdate) -> Result<(), KafkaError> {
    let (f, level) = (u.feature.as_str(), u.level);
    if u.upgrade_type == UpgradeType::Unknown {
        return Err(invalid(
            f,
            level,
            "The controller does not support the given upgrade type.",
        ));
    }
    if level < 0 {
        return Err(invalid(
            f,
            level,
            "A feature version cannot be less than 0.",
        ));
    }
    let Some(range) = supported_features().into_iter().find(|s| s.name == f) else {
        return Err(invalid(
            f,
            level,
            "Local controller does not support this feature.",
        ));
    };
    if level < range.min || level > range.max {
        return Err(invalid(
            f,
            level,
            format!(
                "Local controller only supports versions {}-{}",
                range.min, range.max
            ),
        ));
    }
    let now = current.get(f).copied().unwrap_or(0);
    if level < now && u.upgrade_type == UpgradeType::Upgrade {
        return Err(invalid(
            f,
            level,
            "Can't downgrade the version of this feature without setting the upgrade type \
             to either safe or unsafe downgrade.",
        ));
    }
    if level > now && u.upgrade_type != UpgradeType::Upgrade {
        return Err(invalid(f, level, "Can't downgrade to a newer version."));
    }
    if f == METADATA_VERSION && level < now && metadata_changed_between(level, now) {
        let reason = if u.upgrade_type == UpgradeType::UnsafeDowngrade {
            "Unsafe metadata downgrade is not supported in this version."
        } else {
            "Refusing to perform the requested downgrade because it might delete metadata \
             information."
        };
        return Err(KafkaError::new(
            ResponseError::InvalidUpdateVersion,
            format!("Invalid metadata.version {level}. {reason}"),
        ));
    }
    Ok(())
}

/// Kafka's feature dependencies on the levels as they would be after the request:
/// share.version 1 needs metadata.version 4.1-IV1 (27) or later.
fn check_dependencies(
    proposed: &BTreeMap<String, i16>,
    updates: &[FeatureUpdate],
) -> Result<(), KafkaError> {
    let share = proposed.get(SHARE_VERSION).copied().unwrap_or(0);
    let metadata = proposed.get(METADATA_VERSION).copied().unwrap_or(0);
    if share >= 1 && metadata < SHARE_VERSION_1_NEEDS_METADATA_VERSION {
        // Named after the update that broke the dependency, as Kafka reports it.
        let (feature, level) = if updates.iter().any(|u| u.feature == SHARE_VERSION) {
            (SHARE_VERSION, share)
        } else {
            (METADATA_VERSION, metadata)
        };
        return Err(invalid(
            feature,
            level,
            format!(
                "{SHARE_VERSION} level {share} depends on {METADATA_VERSION} level                  {SHARE_VERSION_1_NEEDS_METADATA_VERSION} or above, and {METADATA_VERSION}                  would be {metadata}."
            ),
        ));
    }
    Ok(())
}

/// Whether a metadata.version level above `low`, up to `high`, changed the format.
fn metadata_changed_between(low: i16, high: i16) -> bool {
    METADATA_VERSIONS
        .iter()
        .any(|(l, _, changed)| *l > low && *l <= high && *changed)
}

fn encode(f: &FinalizedFeatures) -> String {
    let mut text = format!(
        "#Written by Sluice; finalized feature levels (a feature not listed is at level 0).\nversion=1\nepoch={}\n",
        f.epoch
    );
    for (name, level) in &f.levels {
        text.push_str(&format!("{name}={level}\n"));
    }
    text
}

fn parse(text: &str) -> Result<FinalizedFeatures> {
    let mut epoch = None;
    let mut version = None;
    let mut levels = BTreeMap::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            bail!("line without '=': {line:?}");
        };
        match key {
            "version" => version = Some(value.to_string()),
            "epoch" => epoch = Some(value.parse::<i64>().context("epoch")?),
            name => {
                let level: i16 = value.parse().with_context(|| format!("level of {name}"))?;
                let Some(range) = supported_features().into_iter().find(|s| s.name == name) else {
                    bail!("unknown feature {name}");
                };
                if level != 0 && (level < range.min || level > range.max) {
                    bail!(
                        "{name} level {level} is outside the supported {}-{}",
                        range.min,
                        range.max
                    );
                }
                if level != 0 {
                    levels.insert(name.to_string(), level);
                }
            }
        }
    }
    if version.as_deref() != Some("1") {
        bail!("unsupported or missing version {version:?}");
    }
    let epoch = epoch.context("no epoch line")?;
    if epoch < 0 {
        bail!("negative epoch {epoch}");
    }
    Ok(FinalizedFeatures { levels, epoch })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn up(feature: &str, level: i16, t: UpgradeType) -> FeatureUpdate {
        FeatureUpdate {
            feature: feature.into(),
            level,
            upgrade_type: t,
        }
    }

    fn code(r: Result<(), KafkaError>) -> ResponseError {
        r.unwrap_err().error
    }

    #[test]
    fn defaults_are_kafka_4_2s_and_changes_survive_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let f = FeatureControl::open(dir.path()).unwrap();
        let d = f.finalized();
        assert_eq!(
            (
                d.level(METADATA_VERSION),
                d.level(TRANSACTION_VERSION),
                d.epoch
            ),
            (29, 2, 0)
        );
        // validate_only changes nothing.
        f.update(
            &[up(TRANSACTION_VERSION, 1, UpgradeType::SafeDowngrade)],
            true,
        )
        .unwrap();
        assert_eq!(f.transaction_version(), 2);
        f.update(
            &[up(TRANSACTION_VERSION, 0, UpgradeType::SafeDowngrade)],
            false,
        )
        .unwrap();
        let d = f.finalized();
        assert_eq!((d.level(TRANSACTION_VERSION), d.epoch), (0, 1));
        assert!(!d.levels.contains_key(TRANSACTION_VERSION));
        drop(f);
        let f = FeatureControl::open(dir.path()).unwrap();
        assert_eq!(f.finalized(), d);
        f.update(&[up(TRANSACTION_VERSION, 2, UpgradeType::Upgrade)], false)
            .unwrap();
        assert_eq!((f.transaction_version(), f.finalized().epoch), (2, 2));
    }

    #[test]
    fn kafkas_checks() {
        let dir = tempfile::tempdir().unwrap();
        let f = FeatureControl::open(dir.path()).unwrap();
        use UpgradeType::*;
        let e = f.update(&[up(TRANSACTION_VERSION, 1, Upgrade)], false);
        assert!(e
            .as_ref()
            .unwrap_err()
            .message
            .as_ref()
            .unwrap()
            .contains("without setting the upgrade type"));
        assert_eq!(code(e), ResponseError::InvalidUpdateVersion);
        assert_eq!(
            code(f.update(&[up(TRANSACTION_VERSION, 3, Upgrade)], false)),
            ResponseError::InvalidUpdateVersion
        );
        assert_eq!(
            code(f.update(&[up("group.version", 1, Upgrade)], false)),
            ResponseError::InvalidUpdateVersion
        );
        assert_eq!(
            code(f.update(&[up(TRANSACTION_VERSION, -1, SafeDowngrade)], false)),
            ResponseError::InvalidUpdateVersion
        );
        assert_eq!(
            code(f.update(&[up(TRANSACTION_VERSION, 1, Unknown)], false)),
            ResponseError::InvalidUpdateVersion
        );
        // 24..=29 changed no metadata: a safe downgrade to 23 works, to 22 it does not
        // (23 changed the format). share.version 1 needs 27, so it goes first.
        f.update(&[up(SHARE_VERSION, 0, SafeDowngrade)], false)
            .unwrap();
        f.update(&[up(METADATA_VERSION, 23, SafeDowngrade)], false)
            .unwrap();
        assert_eq!(
            code(f.update(&[up(METADATA_VERSION, 22, SafeDowngrade)], false)),
            ResponseError::InvalidUpdateVersion
        );
        assert_eq!(
            code(f.update(&[up(METADATA_VERSION, 29, SafeDowngrade)], false)),
            ResponseError::InvalidUpdateVersion
        );
        assert_eq!(
            code(f.update(&[up(METADATA_VERSION, 6, SafeDowngrade)], false)),
            ResponseError::InvalidUpdateVersion
        );
        // One bad update fails them all.
        assert!(f
            .update(
                &[
                    up(METADATA_VERSION, 29, Upgrade),
                    up(TRANSACTION_VERSION, 9, Upgrade)
                ],
                false
            )
            .is_err());
        assert_eq!(f.finalized().level(METADATA_VERSION), 23);
        assert_eq!(metadata_version_name(29), Some("4.2-IV1"));
    }

    #[test]
    fn share_version_gates_share_groups_and_depends_on_metadata_version() {
        let dir = tempfile::tempdir().unwrap();
        let f = FeatureControl::open(dir.path()).unwrap();
        use UpgradeType::*;
        assert_eq!(f.finalized().level(SHARE_VERSION), 1);
        assert!(f.share_groups_enabled());
        f.update(&[up(SHARE_VERSION, 0, SafeDowngrade)], false)
            .unwrap();
        assert!(!f.share_groups_enabled());
        assert_eq!(
            code(f.update(&[up(SHARE_VERSION, 2, Upgrade)], false)),
            ResponseError::InvalidUpdateVersion
        );
        // metadata.version 26 (4.1-IV0) cannot carry share.version 1.
        f.update(&[up(METADATA_VERSION, 26, SafeDowngrade)], false)
            .unwrap();
        let e = f.update(&[up(SHARE_VERSION, 1, Upgrade)], false);
        assert!(e
            .as_ref()
            .unwrap_err()
            .message
            .as_ref()
            .unwrap()
            .contains("depends on"));
        f.update(
            &[
                up(METADATA_VERSION, 29, Upgrade),
                up(SHARE_VERSION, 1, Upgrade),
            ],
            false,
        )
        .unwrap();
        assert_eq!(
            code(f.update(&[up(METADATA_VERSION, 26, SafeDowngrade)], false)),
            ResponseError::InvalidUpdateVersion
        );
        drop(f);
        let f = FeatureControl::open(dir.path()).unwrap();
        assert!(f.share_groups_enabled());
    }

    #[test]
    fn a_damaged_file_stops_start_up() {
        let dir = tempfile::tempdir().unwrap();
        for text in [
            "version=1\nepoch=x\n",
            "version=2\nepoch=1\n",
            "version=1\nepoch=1\ntransaction.version=7\n",
            "version=1\nepoch=1\nno.such.feature=1\n",
            "version=1\n",
        ] {
            std::fs::write(dir.path().join(FILE_NAME), text).unwrap();
            assert!(FeatureControl::open(dir.path()).is_err(), "{text}");
        }
    }
}
