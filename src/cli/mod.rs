//! The `sluice` command-line client: topic administration, produce, consume, consumer
//! groups (all over the Kafka protocol, so they work against any Kafka broker) and an
//! offline segment dump/verify. `src/main.rs` parses the command line and calls
//! [`run`]; each command group lives in its own file:
//! - `client.rs`: one broker connection (framing, ApiVersions negotiation);
//! - `cluster.rs`: Metadata, leaders, coordinators, ListOffsets;
//! - `topic.rs`, `produce.rs`, `consume.rs`, `group.rs`, `user.rs`: the network commands;
//! - `consume_group.rs`: group membership for `consume --group`;
//! - `dump_log.rs`: the offline `dump-log`;
//! - `output.rs`: JSON, base64, tables, progress.
//!
//! The CLI must never link into the running broker's state: the network commands only
//! speak the wire protocol, and `dump-log` only reads files, through `crate::log`'s
//! parsing functions.

pub mod client;
pub mod cluster;
pub mod consume;
pub mod consume_group;
pub mod dump_log;
pub mod group;
pub mod output;
pub mod produce;
pub mod topic;
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
    /// Print (or --verify) segment files offline, like kafka-dump-log.
    DumpLog(dump_log::DumpLogArgs),
}

/// Runs a client command to completion; errors come back as one line for stderr.
pub fn run(command: ClientCommand) -> anyhow::Result<()> {
    if let ClientCommand::DumpLog(args) = command {
        return dump_log::run(args);
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
            ClientCommand::User(a) => user::run(a).await,
            ClientCommand::DumpLog(_) => unreachable!("handled above"),
        }
    })
}
