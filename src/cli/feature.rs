//! `sluice feature describe|upgrade|downgrade`: finalized feature levels over the Kafka
//! protocol, as `kafka-features.sh` shows and changes them, so it works against any
//! Kafka 4.x broker.
//!
//! `describe` reads ApiVersions v4 (v3 leaves out features whose minimum level is 0) and
//! prints one line per feature in kafka-features' format; `upgrade` and `downgrade` send
//! UpdateFeatures (upgrade type 1, or 2 — 3 with `--unsafe` — for a downgrade), with
//! `--dry-run` as validate-only. `metadata.version` levels are shown and may be given by
//! their release names (`4.2-IV1`). It never touches a data directory.

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use kafka_protocol::messages::update_features_request::FeatureUpdateKey;
use kafka_protocol::messages::{ApiVersionsRequest, UpdateFeaturesRequest};
use kafka_protocol::protocol::StrBytes;

use super::client::{check_code, Connection};
use super::BootstrapArgs;

/// Kafka 4.2's metadata.version release names, by level (7 = 3.3-IV3 ... 29 =
/// 4.2-IV1). The broker keeps the same list (the CLI may not import it); a level
/// outside it is shown as its number.
const METADATA_VERSION_NAMES: &[&str] = &[
    "3.3-IV3", "3.4-IV0", "3.5-IV0", "3.5-IV1", "3.5-IV2", "3.6-IV0", "3.6-IV1", "3.6-IV2",
    "3.7-IV0", "3.7-IV1", "3.7-IV2", "3.7-IV3", "3.7-IV4", "3.8-IV0", "3.9-IV0", "4.0-IV0",
    "4.0-IV1", "4.0-IV2", "4.0-IV3", "4.1-IV0", "4.1-IV1", "4.2-IV0", "4.2-IV1",
];
const FIRST_METADATA_LEVEL: i16 = 7;
const METADATA_VERSION: &str = "metadata.version";

#[derive(Args, Debug)]
pub struct FeatureArgs {
    #[command(flatten)]
    pub bootstrap: BootstrapArgs,
    #[command(subcommand)]
    pub command: FeatureCommand,
}

#[derive(Subcommand, Debug)]
pub enum FeatureCommand {
    /// Every supported feature with its range, finalized level and epoch.
    Describe,
    /// Raise finalized feature levels.
    Upgrade(ChangeArgs),
    /// Lower finalized feature levels (level 0 removes a feature).
    Downgrade(ChangeArgs),
}

#[derive(Args, Debug)]
pub struct ChangeArgs {
    /// FEATURE=LEVEL, e.g. transaction.version=2; repeatable.
    #[arg(long = "feature", value_name = "FEATURE=LEVEL")]
    pub features: Vec<String>,
    /// The metadata.version to set, by release name (4.2-IV1) or level (29).
    #[arg(long)]
    pub metadata: Option<String>,
    /// Only validate the change (UpdateFeatures' validate_only).
    #[arg(long)]
    pub dry_run: bool,
    /// Downgrade even where metadata could be lost (Kafka refuses it for
    /// metadata.version today).
    #[arg(long)]
    pub unsafe_downgrade: bool,
}

fn metadata_level_name(level: i16) -> String {
    usize::try_from(level - FIRST_METADATA_LEVEL)
        .ok()
        .and_then(|i| METADATA_VERSION_NAMES.get(i))
        .map_or_else(|| level.to_string(), |n| n.to_string())
}

fn parse_metadata_level(s: &str) -> Result<i16> {
    if let Ok(level) = s.parse::<i16>() {
        return Ok(level);
    }
    METADATA_VERSION_NAMES
        .iter()
        .position(|n| *n == s)
        .map(|i| FIRST_METADATA_LEVEL + i as i16)
        .with_context(|| format!("unknown metadata.version `{s}`"))
}

fn show(feature: &str, level: i16) -> String {
    if feature == METADATA_VERSION {
        metadata_level_name(level)
    } else {
        level.to_string()
    }
}

pub async fn run(args: FeatureArgs) -> Result<()> {
    let mut conn = Connection::connect(&args.bootstrap.bootstrap).await?;
    match args.command {
        FeatureCommand::Describe => describe(&mut conn).await,
        FeatureCommand::Upgrade(c) => change(&mut conn, c, false).await,
        FeatureCommand::Downgrade(c) => change(&mut conn, c, true).await,
    }
}

async fn describe(conn: &mut Connection) -> Result<()> {
    let answer = conn
        .send_raw(&ApiVersionsRequest::default(), 4)
        .await
        .context("ApiVersions v4")?;
    check_code(answer.error_code, None, "ApiVersions")?;
    for f in &answer.supported_features {
        let name = f.name.as_str();
        let finalized = answer
            .finalized_features
            .iter()
            .find(|k| k.name.as_str() == name)
            .map_or(0, |k| k.max_version_level);
        println!(
            "Feature: {name}\tSupportedMinVersion: {}\tSupportedMaxVersion: {}\tFinalizedVersionLevel: {}\tEpoch: {}",
            show(name, f.min_version),
            show(name, f.max_version),
            show(name, finalized),
            answer.finalized_features_epoch
        );
    }
    Ok(())
}

async fn change(conn: &mut Connection, c: ChangeArgs, downgrade: bool) -> Result<()> {
    let mut updates: Vec<(String, i16)> = Vec::new();
    for f in &c.features {
        let Some((name, level)) = f.split_once('=') else {
            bail!("--feature takes FEATURE=LEVEL, not `{f}`");
        };
        let level = if name == METADATA_VERSION {
            parse_metadata_level(level)?
        } else {
            level
                .parse()
                .with_context(|| format!("the level of {name} is not a number: `{level}`"))?
        };
        updates.push((name.to_string(), level));
    }
    if let Some(m) = &c.metadata {
        updates.push((METADATA_VERSION.to_string(), parse_metadata_level(m)?));
    }
    if updates.is_empty() {
        bail!("name at least one --feature FEATURE=LEVEL or --metadata VERSION");
    }
    let upgrade_type = match (downgrade, c.unsafe_downgrade) {
        (false, _) => 1,
        (true, false) => 2,
        (true, true) => 3,
    };
    let version = conn.version::<UpdateFeaturesRequest>(2)?;
    let mut req = UpdateFeaturesRequest::default();
    req.validate_only = c.dry_run;
    for (name, level) in &updates {
        let mut k = FeatureUpdateKey::default();
        k.feature = StrBytes::from_string(name.clone());
        k.max_version_level = *level;
        // v0 has a downgrade flag where v1+ have the upgrade type.
        if version == 0 {
            k.allow_downgrade = downgrade;
        } else {
            k.upgrade_type = upgrade_type;
        }
        req.feature_updates.push(k);
    }
    let answer = conn.send_raw(&req, version).await?;
    let verb = if downgrade { "downgraded" } else { "upgraded" };
    let what = updates
        .iter()
        .map(|(n, l)| format!("{n} to {}", show(n, *l)))
        .collect::<Vec<_>>()
        .join(", ");
    check_code(
        answer.error_code,
        answer.error_message.as_ref(),
        &format!("could not change {what}"),
    )?;
    for (name, level) in &updates {
        if c.dry_run {
            println!("{name} can be {verb} to {}.", show(name, *level));
        } else {
            println!("{name} was {verb} to {}.", show(name, *level));
        }
    }
    Ok(())
}
