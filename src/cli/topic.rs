//! `sluice topic create|list|describe|alter|delete`: topic administration over the
//! Kafka protocol (Metadata, CreateTopics, DescribeConfigs, ListOffsets,
//! IncrementalAlterConfigs, DeleteTopics), so it works against any Kafka broker.
//!
//! It owns the topic subcommands' arguments and output. It must never touch a data
//! directory or the broker's internals, and never retry a request that changes state.

use anyhow::{bail, Result};
use clap::{Args, Subcommand};
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::delete_topics_request::DeleteTopicState;
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::incremental_alter_configs_request::{
    AlterConfigsResource, AlterableConfig,
};
use kafka_protocol::messages::{
    ApiKey, CreateTopicsRequest, DeleteTopicsRequest, DescribeConfigsRequest,
    IncrementalAlterConfigsRequest, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use super::client::check_code;
use super::cluster::{Cluster, EARLIEST, LATEST};
use super::output::table;
use super::BootstrapArgs;

/// DescribeConfigs / IncrementalAlterConfigs resource type of a topic.
const TOPIC_RESOURCE: i8 = 2;

#[derive(Args, Debug)]
pub struct TopicArgs {
    #[command(flatten)]
    pub bootstrap: BootstrapArgs,
    #[command(subcommand)]
    pub command: TopicCommand,
}

#[derive(Subcommand, Debug)]
pub enum TopicCommand {
    /// Create a topic.
    Create {
        name: String,
        /// Partition count [default: the broker's num.partitions].
        #[arg(short, long)]
        partitions: Option<i32>,
        /// Replication factor [default: the broker's default.replication.factor].
        #[arg(short, long)]
        replication_factor: Option<i16>,
        /// A topic config, e.g. --config retention.ms=86400000. Repeatable.
        #[arg(short, long = "config", value_name = "NAME=VALUE")]
        configs: Vec<String>,
        /// Ask the broker to validate the request without creating the topic.
        #[arg(long)]
        validate_only: bool,
    },
    /// List topic names, one per line.
    List {
        /// Also list internal topics (such as __consumer_offsets).
        #[arg(long)]
        internal: bool,
    },
    /// Show partitions, leaders, offsets and non-default configs of topics.
    Describe {
        #[arg(required = true)]
        names: Vec<String>,
        /// Show every config, not only the ones set on the topic.
        #[arg(long)]
        all_configs: bool,
    },
    /// Change topic configs (IncrementalAlterConfigs).
    Alter {
        name: String,
        /// Set a config, e.g. --set retention.ms=3600000. Repeatable.
        #[arg(long = "set", value_name = "NAME=VALUE")]
        set: Vec<String>,
        /// Remove a topic-level config (back to the broker default). Repeatable.
        #[arg(long = "delete", value_name = "NAME")]
        delete: Vec<String>,
        /// Ask the broker to validate the change without applying it.
        #[arg(long)]
        validate_only: bool,
    },
    /// Delete topics and their data.
    Delete {
        #[arg(required = true)]
        names: Vec<String>,
    },
}

pub async fn run(args: TopicArgs) -> Result<()> {
    let mut cluster = Cluster::connect(&args.bootstrap.bootstrap).await?;
    match args.command {
        TopicCommand::Create {
            name,
            partitions,
            replication_factor,
            configs,
            validate_only,
        } => {
            let configs = parse_pairs(&configs, "--config")?;
            create(
                &mut cluster,
                &name,
                partitions,
                replication_factor,
                &configs,
                validate_only,
            )
            .await
        }
        TopicCommand::List { internal } => {
            for t in cluster.topics(None).await? {
                if internal || !t.internal {
                    println!("{}", t.name);
                }
            }
            Ok(())
        }
        TopicCommand::Describe { names, all_configs } => {
            for (i, name) in names.iter().enumerate() {
                if i > 0 {
                    println!();
                }
                describe(&mut cluster, name, all_configs).await?;
            }
            Ok(())
        }
        TopicCommand::Alter {
            name,
            set,
            delete,
            validate_only,
        } => {
            let set = parse_pairs(&set, "--set")?;
            alter(&mut cluster, &name, &set, &delete, validate_only).await
        }
        TopicCommand::Delete { names } => delete_topics(&mut cluster, &names).await,
    }
}

/// Splits `NAME=VALUE` arguments.
pub fn parse_pairs(items: &[String], flag: &str) -> Result<Vec<(String, String)>> {
    items
        .iter()
        .map(|s| match s.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
            _ => bail!("{flag} expects NAME=VALUE, got `{s}`"),
        })
        .collect()
}

fn str_bytes(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

async fn create(
    cluster: &mut Cluster,
    name: &str,
    partitions: Option<i32>,
    replication_factor: Option<i16>,
    configs: &[(String, String)],
    validate_only: bool,
) -> Result<()> {
    let conn = cluster.any();
    let version = conn.version::<CreateTopicsRequest>(7)?;
    if version < 4 && (partitions.is_none() || replication_factor.is_none()) {
        bail!("this broker needs --partitions and --replication-factor (CreateTopics v{version})");
    }
    let topic = CreatableTopic::default()
        .with_name(TopicName(str_bytes(name)))
        .with_num_partitions(partitions.unwrap_or(-1))
        .with_replication_factor(replication_factor.unwrap_or(-1))
        .with_configs(
            configs
                .iter()
                .map(|(k, v)| {
                    CreatableTopicConfig::default()
                        .with_name(str_bytes(k))
                        .with_value(Some(str_bytes(v)))
                })
                .collect(),
        );
    let request = CreateTopicsRequest::default()
        .with_topics(vec![topic])
        .with_timeout_ms(30_000)
        .with_validate_only(validate_only);
    let answer = conn.send_raw(&request, version).await?;
    for t in &answer.topics {
        check_code(
            t.error_code,
            t.error_message.as_ref(),
            &format!("cannot create topic `{name}`"),
        )?;
        let verb = if validate_only {
            "would create"
        } else {
            "created"
        };
        if version >= 5 {
            println!(
                "{verb} topic {name} ({} partitions, replication factor {})",
                t.num_partitions, t.replication_factor
            );
        } else {
            println!("{verb} topic {name}");
        }
    }
    Ok(())
}

async fn describe(cluster: &mut Cluster, name: &str, all_configs: bool) -> Result<()> {
    let topic = cluster.topic(name).await?;
    let parts: Vec<i32> = topic.partitions.iter().map(|p| p.partition).collect();
    let start = cluster
        .list_offsets(&topic, &parts, EARLIEST, false)
        .await?;
    let end = cluster.list_offsets(&topic, &parts, LATEST, false).await?;
    println!("Topic: {}", topic.name);
    if !topic.topic_id.is_nil() {
        println!("TopicId: {}", topic.topic_id);
    }
    println!("Partitions: {}", topic.partitions.len());
    let ids = |v: &[i32]| {
        v.iter()
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(",")
    };
    let rows: Vec<Vec<String>> = topic
        .partitions
        .iter()
        .map(|p| {
            let s = start.get(&p.partition).map(|x| x.0).unwrap_or(-1);
            let e = end.get(&p.partition).map(|x| x.0).unwrap_or(-1);
            vec![
                p.partition.to_string(),
                p.leader.to_string(),
                ids(&p.replicas),
                ids(&p.isr),
                s.to_string(),
                e.to_string(),
            ]
        })
        .collect();
    print!(
        "{}",
        table(
            &[
                "PARTITION",
                "LEADER",
                "REPLICAS",
                "ISR",
                "START-OFFSET",
                "END-OFFSET"
            ],
            &rows
        )
    );
    let conn = cluster.any();
    if conn.advertised(ApiKey::DescribeConfigs).is_none() {
        return Ok(());
    }
    let request =
        DescribeConfigsRequest::default().with_resources(vec![DescribeConfigsResource::default()
            .with_resource_type(TOPIC_RESOURCE)
            .with_resource_name(str_bytes(name))
            .with_configuration_keys(None)]);
    let answer = conn.send(&request, 4).await?;
    let mut rows = Vec::new();
    for r in &answer.results {
        check_code(
            r.error_code,
            r.error_message.as_ref(),
            &format!("configs of topic `{name}`"),
        )?;
        for c in &r.configs {
            // Source 1 is TOPIC_CONFIG (set on the topic); 0 (unknown) comes from old brokers.
            if !all_configs && c.config_source != 1 {
                continue;
            }
            let value = if c.is_sensitive {
                "(sensitive)".to_string()
            } else {
                c.value.as_deref().unwrap_or("(null)").to_string()
            };
            rows.push(vec![
                c.name.to_string(),
                value,
                config_source(c.config_source).to_string(),
            ]);
        }
    }
    if rows.is_empty() {
        println!("Configs: (none set on the topic)");
    } else {
        println!("Configs:");
        print!("{}", table(&["NAME", "VALUE", "SOURCE"], &rows));
    }
    Ok(())
}

fn config_source(code: i8) -> &'static str {
    match code {
        1 => "TOPIC",
        2 => "DYNAMIC_BROKER",
        3 => "DYNAMIC_DEFAULT_BROKER",
        4 => "STATIC_BROKER",
        5 => "DEFAULT",
        6 => "DYNAMIC_BROKER_LOGGER",
        _ => "UNKNOWN",
    }
}

async fn alter(
    cluster: &mut Cluster,
    name: &str,
    set: &[(String, String)],
    delete: &[String],
    validate_only: bool,
) -> Result<()> {
    if set.is_empty() && delete.is_empty() {
        bail!("nothing to change: give --set NAME=VALUE or --delete NAME");
    }
    let mut configs: Vec<AlterableConfig> = set
        .iter()
        .map(|(k, v)| {
            AlterableConfig::default()
                .with_name(str_bytes(k))
                .with_config_operation(0) // SET
                .with_value(Some(str_bytes(v)))
        })
        .collect();
    configs.extend(delete.iter().map(|k| {
        AlterableConfig::default()
            .with_name(str_bytes(k))
            .with_config_operation(1) // DELETE
            .with_value(None)
    }));
    let request = IncrementalAlterConfigsRequest::default()
        .with_resources(vec![AlterConfigsResource::default()
            .with_resource_type(TOPIC_RESOURCE)
            .with_resource_name(str_bytes(name))
            .with_configs(configs)])
        .with_validate_only(validate_only);
    let answer = cluster.any().send(&request, 1).await?;
    for r in &answer.responses {
        check_code(
            r.error_code,
            r.error_message.as_ref(),
            &format!("cannot alter topic `{name}`"),
        )?;
    }
    let verb = if validate_only {
        "validated"
    } else {
        "altered"
    };
    println!("{verb} topic {name}");
    Ok(())
}

async fn delete_topics(cluster: &mut Cluster, names: &[String]) -> Result<()> {
    let conn = cluster.any();
    let version = conn.version::<DeleteTopicsRequest>(6)?;
    let mut request = DeleteTopicsRequest::default().with_timeout_ms(30_000);
    if version >= 6 {
        request.topics = names
            .iter()
            .map(|n| DeleteTopicState::default().with_name(Some(TopicName(str_bytes(n)))))
            .collect();
    } else {
        request.topic_names = names.iter().map(|n| TopicName(str_bytes(n))).collect();
    }
    let answer = conn.send_raw(&request, version).await?;
    let mut failed = None;
    for r in &answer.responses {
        let name = r.name.as_ref().map(|n| n.0.to_string()).unwrap_or_default();
        match check_code(
            r.error_code,
            r.error_message.as_ref(),
            &format!("cannot delete topic `{name}`"),
        ) {
            Ok(()) => println!("deleted topic {name}"),
            Err(e) => failed = Some(e),
        }
    }
    match failed {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_parse_and_refuse_bad_ones() {
        let ok = parse_pairs(&["a=1".into(), "b=x=y".into()], "--set").unwrap();
        assert_eq!(
            ok,
            vec![("a".into(), "1".into()), ("b".into(), "x=y".into())]
        );
        let err = parse_pairs(&["novalue".into()], "--set").unwrap_err();
        assert_eq!(err.to_string(), "--set expects NAME=VALUE, got `novalue`");
    }
}
