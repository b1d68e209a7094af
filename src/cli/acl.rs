//! `sluice acl add|list|remove`: ACLs over the Kafka protocol (CreateAcls,
//! DescribeAcls, DeleteAcls), with the flags of Kafka's `kafka-acls` tool
//! (`--allow-principal`, `--deny-principal`, `--operation`, `--topic`, `--group`,
//! `--cluster`, `--transactional-id`, `--resource-pattern-type`), so it works against
//! any Kafka broker. It must never touch a data directory.

use anyhow::{bail, Result};
use clap::{Args, Subcommand};
use kafka_protocol::messages::create_acls_request::AclCreation;
use kafka_protocol::messages::delete_acls_request::DeleteAclsFilter;
use kafka_protocol::messages::{CreateAclsRequest, DeleteAclsRequest, DescribeAclsRequest};
use kafka_protocol::protocol::StrBytes;

use super::client::check_code;
use super::client::Connection;
use super::output::table;
use super::BootstrapArgs;
use crate::security::acl::{
    AclBinding, AclOperation, PatternType, PermissionType, ResourceType, CLUSTER_NAME,
};

#[derive(Args, Debug)]
pub struct AclArgs {
    #[command(flatten)]
    pub bootstrap: BootstrapArgs,
    #[command(subcommand)]
    pub command: AclCommand,
}

/// The resource an ACL names (one of them), and how its name matches.
#[derive(Args, Debug, Clone, Default)]
pub struct ResourceArgs {
    #[arg(long)]
    pub topic: Option<String>,
    #[arg(long)]
    pub group: Option<String>,
    #[arg(long = "transactional-id")]
    pub transactional_id: Option<String>,
    /// The cluster resource (kafka-cluster).
    #[arg(long)]
    pub cluster: bool,
    /// LITERAL or PREFIXED (add); also MATCH or ANY (list, remove).
    #[arg(long = "resource-pattern-type")]
    pub pattern_type: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum AclCommand {
    /// Add ACLs: every principal x operation on the resource.
    Add {
        #[command(flatten)]
        resource: ResourceArgs,
        /// Principal to allow (User:alice, User:*); repeatable.
        #[arg(long = "allow-principal")]
        allow: Vec<String>,
        /// Principal to deny; repeatable.
        #[arg(long = "deny-principal")]
        deny: Vec<String>,
        /// READ, WRITE, CREATE, DELETE, ALTER, DESCRIBE, CLUSTER_ACTION, DESCRIBE_CONFIGS,
        /// ALTER_CONFIGS, IDEMPOTENT_WRITE or ALL; repeatable.
        #[arg(long = "operation", required = true)]
        operations: Vec<String>,
        /// The client IP address the ACLs apply to.
        #[arg(long, default_value = "*")]
        host: String,
    },
    /// List the ACLs matching a filter [default: all].
    List {
        #[command(flatten)]
        resource: ResourceArgs,
        #[arg(long)]
        principal: Option<String>,
    },
    /// Remove the ACLs matching a filter (a resource or a principal must be given).
    Remove {
        #[command(flatten)]
        resource: ResourceArgs,
        #[arg(long)]
        principal: Option<String>,
        #[arg(long = "operation")]
        operation: Option<String>,
        #[arg(long)]
        host: Option<String>,
    },
}

fn parse<T>(what: &str, text: &str, f: impl Fn(&str) -> Option<T>) -> Result<T> {
    f(text).ok_or_else(|| anyhow::anyhow!("unknown {what} `{text}`"))
}

impl ResourceArgs {
    /// The resource type and name given, if any (more than one is an error).
    fn resource(&self) -> Result<Option<(ResourceType, String)>> {
        let mut given = Vec::new();
        if let Some(t) = &self.topic {
            given.push((ResourceType::Topic, t.clone()));
        }
        if let Some(g) = &self.group {
            given.push((ResourceType::Group, g.clone()));
        }
        if let Some(x) = &self.transactional_id {
            given.push((ResourceType::TransactionalId, x.clone()));
        }
        if self.cluster {
            given.push((ResourceType::Cluster, CLUSTER_NAME.to_string()));
        }
        if given.len() > 1 {
            bail!("give one of --topic, --group, --transactional-id, --cluster");
        }
        Ok(given.pop())
    }

    fn pattern(&self, default: PatternType) -> Result<PatternType> {
        match &self.pattern_type {
            None => Ok(default),
            Some(p) => parse("pattern type", p, PatternType::parse),
        }
    }
}

pub async fn run(args: AclArgs) -> Result<()> {
    let mut conn = Connection::connect(&args.bootstrap.bootstrap).await?;
    match args.command {
        AclCommand::Add {
            resource,
            allow,
            deny,
            operations,
            host,
        } => {
            let Some((rt, name)) = resource.resource()? else {
                bail!("give one of --topic, --group, --transactional-id, --cluster");
            };
            if allow.is_empty() && deny.is_empty() {
                bail!("give --allow-principal or --deny-principal");
            }
            let pattern = resource.pattern(PatternType::Literal)?;
            let mut acls = Vec::new();
            for (principals, permission) in [
                (&allow, PermissionType::Allow),
                (&deny, PermissionType::Deny),
            ] {
                for principal in principals {
                    for op in &operations {
                        let acl = AclBinding {
                            resource_type: rt,
                            resource_name: name.clone(),
                            pattern_type: pattern,
                            principal: principal.clone(),
                            host: host.clone(),
                            operation: parse("operation", op, AclOperation::parse)?,
                            permission,
                        };
                        acl.validate().map_err(anyhow::Error::msg)?;
                        acls.push(acl);
                    }
                }
            }
            let mut req = CreateAclsRequest::default();
            req.creations = acls
                .iter()
                .map(|a| {
                    let mut c = AclCreation::default();
                    c.resource_type = a.resource_type.code();
                    c.resource_name = StrBytes::from_string(a.resource_name.clone());
                    c.resource_pattern_type = a.pattern_type.code();
                    c.principal = StrBytes::from_string(a.principal.clone());
                    c.host = StrBytes::from_string(a.host.clone());
                    c.operation = a.operation.code();
                    c.permission_type = a.permission.code();
                    c
                })
                .collect();
            let resp = conn.send(&req, 3).await?;
            for (acl, r) in acls.iter().zip(&resp.results) {
                check_code(r.error_code, r.error_message.as_ref(), &format!("{acl}"))?;
                println!("added: {acl}");
            }
        }
        AclCommand::List {
            resource,
            principal,
        } => {
            let (rt, name) = match resource.resource()? {
                Some((rt, n)) => (rt, Some(n)),
                None => (ResourceType::Any, None),
            };
            let mut req = DescribeAclsRequest::default();
            req.resource_type_filter = rt.code();
            req.resource_name_filter = name.map(StrBytes::from_string);
            req.pattern_type_filter = resource.pattern(PatternType::Any)?.code();
            req.principal_filter = principal.map(StrBytes::from_string);
            req.host_filter = None;
            req.operation = AclOperation::Any.code();
            req.permission_type = PermissionType::Any.code();
            let resp = conn.send(&req, 3).await?;
            check_code(
                resp.error_code,
                resp.error_message.as_ref(),
                "describe ACLs",
            )?;
            let mut rows = Vec::new();
            for r in &resp.resources {
                for a in &r.acls {
                    rows.push(vec![
                        ResourceType::from_code(r.resource_type).to_string(),
                        r.resource_name.to_string(),
                        PatternType::from_code(r.pattern_type).to_string(),
                        a.principal.to_string(),
                        a.host.to_string(),
                        AclOperation::from_code(a.operation).to_string(),
                        PermissionType::from_code(a.permission_type).to_string(),
                    ]);
                }
            }
            print!(
                "{}",
                table(
                    &[
                        "RESOURCE_TYPE",
                        "NAME",
                        "PATTERN",
                        "PRINCIPAL",
                        "HOST",
                        "OPERATION",
                        "PERMISSION"
                    ],
                    &rows
                )
            );
        }
        AclCommand::Remove {
            resource,
            principal,
            operation,
            host,
        } => {
            let given = resource.resource()?;
            if given.is_none() && principal.is_none() {
                bail!("give a resource (--topic, --group, ...) or --principal to remove by");
            }
            let (rt, name) = match given {
                Some((rt, n)) => (rt, Some(n)),
                None => (ResourceType::Any, None),
            };
            let mut f = DeleteAclsFilter::default();
            f.resource_type_filter = rt.code();
            f.resource_name_filter = name.map(StrBytes::from_string);
            f.pattern_type_filter = resource.pattern(PatternType::Literal)?.code();
            f.principal_filter = principal.map(StrBytes::from_string);
            f.host_filter = host.map(StrBytes::from_string);
            f.operation = match operation {
                Some(op) => parse("operation", &op, AclOperation::parse)?.code(),
                None => AclOperation::Any.code(),
            };
            f.permission_type = PermissionType::Any.code();
            let mut req = DeleteAclsRequest::default();
            req.filters = vec![f];
            let resp = conn.send(&req, 3).await?;
            for r in &resp.filter_results {
                check_code(r.error_code, r.error_message.as_ref(), "delete ACLs")?;
                for m in &r.matching_acls {
                    println!(
                        "removed: {} {} {}:{} for {} from {}: {}",
                        PermissionType::from_code(m.permission_type),
                        AclOperation::from_code(m.operation),
                        ResourceType::from_code(m.resource_type),
                        m.resource_name,
                        m.principal,
                        m.host,
                        PatternType::from_code(m.pattern_type)
                    );
                }
            }
        }
    }
    Ok(())
}
