//! `sluice quota describe|alter`: client quotas over the Kafka protocol
//! (DescribeClientQuotas, AlterClientQuotas) with the flags of Kafka's `kafka-configs`
//! tool (`--entity-type users|clients`, `--entity-name`, `--entity-default`,
//! `--add-config k=v,...`, `--delete-config k,...`, and its shorthands `--user`,
//! `--client`, `--user-defaults`, `--client-defaults`), so it works against any Kafka
//! broker. With `--entity-type`, names are given to the types in order and a type left
//! without a name is its `<default>` when `--entity-default` is given; a named user
//! with the default client-id (or the reverse) is said with the shorthands. It must
//! never touch a data directory.

use anyhow::{bail, Result};
use clap::{Args, Subcommand};
use kafka_protocol::messages::alter_client_quotas_request::{EntityData, EntryData, OpData};
use kafka_protocol::messages::describe_client_quotas_request::ComponentData;
use kafka_protocol::messages::{AlterClientQuotasRequest, DescribeClientQuotasRequest};
use kafka_protocol::protocol::StrBytes;

use super::client::{check_code, Connection};
use super::output::table;
use super::BootstrapArgs;

#[derive(Args, Debug)]
pub struct QuotaArgs {
    #[command(flatten)]
    pub bootstrap: BootstrapArgs,
    #[command(subcommand)]
    pub command: QuotaCommand,
}

/// Which entity: `--entity-type users --entity-name alice --entity-type clients
/// --entity-default` is alice's quota for clients without their own.
#[derive(Args, Debug, Clone, Default)]
pub struct EntityArgs {
    /// users or clients (user or client-id); at most one of each.
    #[arg(long = "entity-type")]
    pub types: Vec<String>,
    /// The names, given to the entity types in order.
    #[arg(long = "entity-name")]
    pub names: Vec<String>,
    /// Entity types without a name mean their <default>.
    #[arg(long = "entity-default")]
    pub default: bool,
    /// Shorthand for --entity-type users --entity-name USER.
    #[arg(long, conflicts_with_all = ["types", "user_defaults"])]
    pub user: Option<String>,
    /// Shorthand for --entity-type users --entity-default.
    #[arg(long = "user-defaults", conflicts_with = "types")]
    pub user_defaults: bool,
    /// Shorthand for --entity-type clients --entity-name CLIENT_ID.
    #[arg(long, conflicts_with_all = ["types", "client_defaults"])]
    pub client: Option<String>,
    /// Shorthand for --entity-type clients --entity-default.
    #[arg(long = "client-defaults", conflicts_with = "types")]
    pub client_defaults: bool,
}

#[derive(Subcommand, Debug)]
pub enum QuotaCommand {
    /// List quotas: all, or those of the given entity (a type without a name or
    /// --entity-default lists every entity of that type).
    Describe {
        #[command(flatten)]
        entity: EntityArgs,
    },
    /// Set and remove quotas of one entity.
    Alter {
        #[command(flatten)]
        entity: EntityArgs,
        /// KEY=VALUE pairs separated by commas: producer_byte_rate, consumer_byte_rate,
        /// request_percentage, controller_mutation_rate.
        #[arg(long = "add-config")]
        add: Option<String>,
        /// Keys to remove, separated by commas.
        #[arg(long = "delete-config")]
        delete: Option<String>,
        /// Let the broker check the change without applying it.
        #[arg(long = "validate-only")]
        validate_only: bool,
    },
}

fn wire_type(t: &str) -> Result<&'static str> {
    Ok(match t {
        "users" | "user" => "user",
        "clients" | "client" | "client-id" => "client-id",
        other => bail!("unknown --entity-type `{other}` (users or clients)"),
    })
}

/// One filter or entity component: (wire type, name), where the name is
/// `Some(Some(n))` for a name, `Some(None)` for the default and `None` for any.
type Component = (&'static str, Option<Option<String>>);

fn components(e: &EntityArgs, any_allowed: bool) -> Result<Vec<Component>> {
    let mut out: Vec<Component> = Vec::new();
    if e.user.is_some() || e.user_defaults {
        out.push(("user", Some(e.user.clone())));
    }
    if e.client.is_some() || e.client_defaults {
        out.push(("client-id", Some(e.client.clone())));
    }
    if !out.is_empty() {
        return Ok(out);
    }
    if e.names.len() > e.types.len() {
        bail!("more --entity-name than --entity-type");
    }
    if e.types.len() > 1 && e.default && !e.names.is_empty() {
        bail!("which type is the default is ambiguous here: say it with --user/--user-defaults and --client/--client-defaults");
    }
    for (i, t) in e.types.iter().enumerate() {
        let t = wire_type(t)?;
        if out.iter().any(|(o, _)| *o == t) {
            bail!("--entity-type {t} given twice");
        }
        let name = match e.names.get(i) {
            Some(n) => Some(Some(n.clone())),
            None if e.default => Some(None),
            None if any_allowed => None,
            None => bail!("--entity-type {t} needs an --entity-name or --entity-default"),
        };
        out.push((t, name));
    }
    Ok(out)
}

pub async fn run(args: QuotaArgs) -> Result<()> {
    let mut conn = Connection::connect(&args.bootstrap.bootstrap).await?;
    match args.command {
        QuotaCommand::Describe { entity } => {
            let mut req = DescribeClientQuotasRequest::default();
            let comps = components(&entity, true)?;
            req.strict = !comps.is_empty();
            req.components = comps
                .into_iter()
                .map(|(t, name)| {
                    let mut c = ComponentData::default();
                    c.entity_type = StrBytes::from_static_str(t);
                    match name {
                        Some(Some(n)) => {
                            c.match_type = 0;
                            c._match = Some(StrBytes::from_string(n));
                        }
                        Some(None) => {
                            c.match_type = 1;
                            c._match = None;
                        }
                        None => {
                            c.match_type = 2;
                            c._match = None;
                        }
                    }
                    c
                })
                .collect();
            let resp = conn.send(&req, 1).await?;
            check_code(
                resp.error_code,
                resp.error_message.as_ref(),
                "describe quotas",
            )?;
            let mut rows = Vec::new();
            for e in resp.entries.unwrap_or_default() {
                let name = |t: &str| {
                    e.entity
                        .iter()
                        .find(|d| &*d.entity_type == t)
                        .map(|d| {
                            d.entity_name
                                .as_ref()
                                .map(|n| n.to_string())
                                .unwrap_or("<default>".into())
                        })
                        .unwrap_or_default()
                };
                let (user, client) = (name("user"), name("client-id"));
                for v in &e.values {
                    rows.push(vec![
                        user.clone(),
                        client.clone(),
                        v.key.to_string(),
                        v.value.to_string(),
                    ]);
                }
            }
            print!("{}", table(&["USER", "CLIENT-ID", "KEY", "VALUE"], &rows));
        }
        QuotaCommand::Alter {
            entity,
            add,
            delete,
            validate_only,
        } => {
            let comps = components(&entity, false)?;
            if comps.is_empty() {
                bail!("give the entity: --entity-type users|clients with --entity-name or --entity-default");
            }
            let mut entry = EntryData::default();
            entry.entity = comps
                .into_iter()
                .map(|(t, name)| {
                    let mut d = EntityData::default();
                    d.entity_type = StrBytes::from_static_str(t);
                    d.entity_name = name.flatten().map(StrBytes::from_string);
                    d
                })
                .collect();
            for pair in add
                .iter()
                .flat_map(|a| a.split(','))
                .filter(|p| !p.trim().is_empty())
            {
                let Some((k, v)) = pair.split_once('=') else {
                    bail!("--add-config wants KEY=VALUE, not `{pair}`");
                };
                let value: f64 = v
                    .trim()
                    .parse()
                    .map_err(|_| anyhow::anyhow!("`{v}` is not a number"))?;
                let mut op = OpData::default();
                op.key = StrBytes::from_string(k.trim().to_string());
                op.value = value;
                entry.ops.push(op);
            }
            for k in delete
                .iter()
                .flat_map(|d| d.split(','))
                .filter(|k| !k.trim().is_empty())
            {
                let mut op = OpData::default();
                op.key = StrBytes::from_string(k.trim().to_string());
                op.remove = true;
                entry.ops.push(op);
            }
            if entry.ops.is_empty() {
                bail!("nothing to change: give --add-config or --delete-config");
            }
            let mut req = AlterClientQuotasRequest::default();
            req.validate_only = validate_only;
            req.entries = vec![entry];
            let resp = conn.send(&req, 1).await?;
            for e in &resp.entries {
                check_code(e.error_code, e.error_message.as_ref(), "alter quotas")?;
            }
            println!(
                "{}",
                if validate_only {
                    "quotas valid (not applied)"
                } else {
                    "quotas altered"
                }
            );
        }
    }
    Ok(())
}
