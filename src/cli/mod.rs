//! The `sluice` command-line client: topic administration, produce, consume, consumer
//! groups (all over the Kafka protocol, so they work against any Kafka broker) and an
//! offline segment dump/verify. `src/main.rs` parses the command line and calls
//! [`run`]; each command group lives in its own file:
//! - `client.rs`: one broker connection (framing, ApiVersions negotiation);
//! - `security.rs`: `--command-config` and the security flags: TLS and SASL for it;
//! - `cluster.rs`: Metadata, leaders, coordinators, ListOffsets;
//! - `topic.rs`, `produce.rs`, `consume.rs`, `group.rs`, `user.rs`, `acl.rs`, `quota.rs`: the network
//!   commands;
//! - `consume_group.rs`: group membership for `consume --group`;
//! - `dump_log.rs`: the offline `dump-log`;
//! - `schema.rs`: `sluice schema`, a schema registry's REST API; `schema_decode.rs`:
//!   `consume --schema-registry` decoding Confluent-framed values;
//! - `status.rs`: `/health` and `/ready` of a broker's admin HTTP side;
//! - `output.rs`: JSON, base64, tables, progress;
//! - `export.rs`, `import.rs`, `replay.rs`, `mirror.rs`: copying histories (`archive.rs` is the
//!   `.sluice` format, `range_reader.rs` reads a committed range, `txn_producer.rs`
//!   writes exactly once, `records.rs` decodes and encodes their records with every
//!   header).
//!
//! The CLI must never link into the running broker's state: the network commands only
//! speak the wire protocol, and `dump-log` only reads files, through `crate::log`'s
//! parsing functions.

pub mod acl;
pub mod archive;
#[cfg(test)]
mod archive_doc_test;
pub mod client;
pub mod cluster;
pub mod consume;
pub mod consume_group;
pub mod consume_share;
pub mod dump_log;
pub mod export;
pub mod feature;
pub mod group;
pub mod group_kinds;
pub mod http_client;
pub mod import;
pub mod mirror;
pub mod output;
pub mod produce;
pub mod quota;
pub mod range_reader;
pub mod records;
pub mod replay;
pub mod schema;
pub mod schema_decode;
pub mod security;
pub mod share_in_flight;
pub mod status;
pub mod topic;
pub mod txn_producer;
pub mod user;

use clap::{Args, Subcommand};

/// `--bootstrap`, shared by every network command.
#[derive(Args, Debug, Clone)]
pub struct BootstrapArgs {
    /// Broker to connect to first.
    #[arg(
        short = 'b',
        long,
        value_name = "HOST:PORT",
        default_value = "127.0.0.1:9092",
        global = true
    )]
    pub bootstrap: String,
    #[command(flatten)]
    pub security: security::SecurityArgs,
}

/// The client subcommands (beside `serve`).
#[derive(Subcommand, Debug)]
pub enum ClientCommand {
    /// Create, list, describe, alter and delete topics.
    Topic(topic::TopicArgs),
    /// Produce lines from stdin to a topic, one record per line.
    Produce(produce::ProduceArgs),
    /// Print a topic's records as raw values or JSON lines.
    Consume(consume::ConsumeArgs),
    /// List consumer groups, or describe one with its lag per partition.
    Group(group::GroupArgs),
    /// Add, list and remove SCRAM users (AlterUserScramCredentials).
    User(user::UserArgs),
    /// Describe, upgrade and downgrade finalized features (UpdateFeatures).
    Feature(feature::FeatureArgs),
    /// Add, list and remove ACLs (CreateAcls, DescribeAcls, DeleteAcls).
    Acl(acl::AclArgs),
    /// Describe and alter client quotas (DescribeClientQuotas, AlterClientQuotas).
    Quota(quota::QuotaArgs),
    /// Print (or --verify) segment files offline, like kafka-dump-log.
    DumpLog(dump_log::DumpLogArgs),
    /// Ask a broker's admin HTTP side whether it is alive (/health) and ready (/ready).
    Status(status::StatusArgs),
    /// Write a topic's committed records to a .jsonl file or a .sluice archive.
    Export(export::ExportArgs),
    /// Produce an export into a topic, exactly once (a rerun never duplicates).
    Import(import::ImportArgs),
    /// Re-publish a time range of a topic into another, at its original pace.
    Replay(replay::ReplayArgs),
    /// Copy topics and group offsets to another cluster, continuously and exactly once.
    Mirror(mirror::MirrorArgs),
    /// Register, get, list, delete and check schemas in a schema registry (REST API).
    Schema(schema::SchemaArgs),
}

impl ClientCommand {
    /// The client security settings of a command that talks to brokers.
    fn security(&self) -> Option<&security::SecurityArgs> {
        match self {
            ClientCommand::Topic(a) => Some(&a.bootstrap.security),
            ClientCommand::Produce(a) => Some(&a.bootstrap.security),
            ClientCommand::Consume(a) => Some(&a.bootstrap.security),
            ClientCommand::Group(a) => Some(&a.bootstrap.security),
            ClientCommand::User(a) => Some(&a.bootstrap.security),
            ClientCommand::Export(a) => Some(&a.bootstrap.security),
            ClientCommand::Import(a) => Some(&a.bootstrap.security),
            ClientCommand::Replay(a) => Some(&a.bootstrap.security),
            ClientCommand::Mirror(a) => Some(&a.security),
            ClientCommand::Feature(a) => Some(&a.bootstrap.security),
            ClientCommand::Acl(a) => Some(&a.bootstrap.security),
            ClientCommand::Quota(a) => Some(&a.bootstrap.security),
            ClientCommand::DumpLog(_) | ClientCommand::Status(_) | ClientCommand::Schema(_) => None,
        }
    }
}

/// Runs a client command to completion; errors come back as one line for stderr.
pub fn run(command: ClientCommand) -> anyhow::Result<()> {
    if let ClientCommand::DumpLog(args) = command {
        return dump_log::run(args);
    }
    if let Some(settings) = command.security() {
        security::configure(settings)?;
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        match command {
            ClientCommand::Topic(a) => topic::run(a).await,
            ClientCommand::Produce(a) => produce::run(a).await,
            ClientCommand::Consume(a) => consume::run(a).await,
            ClientCommand::Group(a) => group::run(a).await,
            ClientCommand::Status(a) => status::run(a).await,
            ClientCommand::Export(a) => export::run(a).await,
            ClientCommand::Import(a) => import::run(a).await,
            ClientCommand::Replay(a) => replay::run(a).await,
            ClientCommand::Mirror(a) => mirror::run(a).await,
            ClientCommand::User(a) => user::run(a).await,
            ClientCommand::Feature(a) => feature::run(a).await,
            ClientCommand::Schema(a) => schema::run(a).await,
            ClientCommand::Acl(a) => acl::run(a).await,
            ClientCommand::Quota(a) => quota::run(a).await,
            ClientCommand::DumpLog(_) => unreachable!("handled above"),
        }
    })
}
