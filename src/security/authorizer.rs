//! The ACL authorizer, with the semantics of Kafka's `StandardAuthorizer`: may this
//! principal, from this host, do this operation on this resource?
//!
//! Rules, in order: with no authorizer configured (`authorizer.class.name` empty)
//! everything is allowed; a principal in `super.users` is allowed everything; an ACL
//! applies when its resource pattern covers the name (LITERAL equal, LITERAL `*`, or a
//! PREFIXED pattern the name starts with), its principal is the request's or `User:*`,
//! its host is the client's IP address or `*`, and its operation is the one asked for
//! or ALL. An ALLOW ACL also grants what its operation implies (READ, WRITE, DELETE and
//! ALTER imply DESCRIBE; ALTER_CONFIGS implies DESCRIBE_CONFIGS); a DENY ACL denies only
//! its own operation (or ALL). Any applicable DENY wins over every ALLOW. When no ACL at
//! all exists on the resource (whatever its principal or operation), the answer is
//! `allow.everyone.if.no.acl.found`; when some exist but none allows, it is denied.
//!
//! It owns the ACL set (in memory, a snapshot swapped on each change, and on disk
//! through [`AclFile`]); changes are durable before they are in force and in force as
//! soon as they return. It never maps requests to checks: that is `api::authorize`.

use std::collections::{BTreeSet, HashSet};
use std::path::Path;
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};

use super::acl::{
    AclBinding, AclBindingFilter, AclOperation, PatternType, PermissionType, ResourceType, WILDCARD,
};
use super::acl_store::AclFile;
use super::KafkaPrincipal;

/// The class names Kafka users set to turn ACLs on; either one turns on this authorizer.
pub const AUTHORIZER_CLASS_NAMES: &[&str] = &[
    "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
    "kafka.security.authorizer.AclAuthorizer",
];

/// The authorizer's settings.
#[derive(Clone, Debug, Default)]
pub struct AuthorizerConfig {
    /// `authorizer.class.name` names one of [`AUTHORIZER_CLASS_NAMES`].
    pub enabled: bool,
    /// `super.users`, as `User:name` strings.
    pub super_users: HashSet<String>,
    pub allow_everyone_if_no_acl_found: bool,
}

/// What the rules decided, for the audit log line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Disabled,
    SuperUser,
    Allowed,
    Denied,
    /// No ACL on the resource: `allow.everyone.if.no.acl.found` decided.
    NoAcl(bool),
}

impl Decision {
    pub fn allowed(self) -> bool {
        match self {
            Decision::Disabled | Decision::SuperUser | Decision::Allowed => true,
            Decision::Denied => false,
            Decision::NoAcl(a) => a,
        }
    }
}

pub struct Authorizer {
    config: AuthorizerConfig,
    file: AclFile,
    /// The ACLs in force. Readers clone the `Arc` and match without holding a lock.
    acls: RwLock<Arc<BTreeSet<AclBinding>>>,
    /// Held across a change's file write, so changes are written one after the other.
    writer: Mutex<()>,
}

impl Authorizer {
    /// Loads the ACLs kept in the data directory `dir`.
    pub fn open(dir: &Path, config: AuthorizerConfig) -> anyhow::Result<Authorizer> {
        let (file, acls) = AclFile::open(dir)?;
        Ok(Authorizer {
            config,
            file,
            acls: RwLock::new(Arc::new(acls)),
            writer: Mutex::new(()),
        })
    }

    /// Whether an authorizer is configured (the ACL APIs answer SECURITY_DISABLED
    /// otherwise).
    pub fn enabled(&self) -> bool {
        self.config.enabled
    }

    fn snapshot(&self) -> Arc<BTreeSet<AclBinding>> {
        self.acls.read().clone()
    }

    pub fn authorize(
        &self,
        principal: &KafkaPrincipal,
        host: &str,
        operation: AclOperation,
        resource_type: ResourceType,
        name: &str,
    ) -> bool {
        let decision = self.decide(principal, host, operation, resource_type, name);
        if !decision.allowed() {
            tracing::debug!(
                principal = %principal, host, %operation, %resource_type, name,
                ?decision, "authorization denied"
            );
        }
        decision.allowed()
    }

    /// The rules of the module doc, with what decided.
    pub fn decide(
        &self,
        principal: &KafkaPrincipal,
        host: &str,
        operation: AclOperation,
        resource_type: ResourceType,
        name: &str,
    ) -> Decision {
        if !self.config.enabled {
            return Decision::Disabled;
        }
        let principal = principal.to_string();
        if self.config.super_users.contains(&principal) {
            return Decision::SuperUser;
        }
        let acls = self.snapshot();
        decide(
            acls.iter(),
            &principal,
            host,
            operation,
            resource_type,
            name,
            self.config.allow_everyone_if_no_acl_found,
        )
    }

    /// Kafka's `authorizeByResourceType`: whether some resource of this type could be
    /// allowed `operation` (an InitProducerId without a transactional id may go ahead
    /// when the principal may WRITE some topic). Allowed when an applicable ALLOW ACL
    /// exists whose pattern no applicable DENY covers.
    pub fn authorize_by_resource_type(
        &self,
        principal: &KafkaPrincipal,
        host: &str,
        operation: AclOperation,
        resource_type: ResourceType,
    ) -> bool {
        if !self.config.enabled {
            return true;
        }
        let principal = principal.to_string();
        if self.config.super_users.contains(&principal) {
            return true;
        }
        let acls = self.snapshot();
        let of_type: Vec<&AclBinding> = acls
            .iter()
            .filter(|a| a.resource_type == resource_type)
            .collect();
        if of_type.is_empty() {
            return self.config.allow_everyone_if_no_acl_found;
        }
        let applies = |a: &AclBinding| {
            (a.principal == principal || a.principal == "User:*")
                && (a.host == host || a.host == WILDCARD)
                && (a.operation == operation || a.operation == AclOperation::All)
        };
        let denies: Vec<&&AclBinding> = of_type
            .iter()
            .filter(|a| a.permission == PermissionType::Deny && applies(a))
            .collect();
        if denies
            .iter()
            .any(|d| d.pattern_type == PatternType::Literal && d.resource_name == WILDCARD)
        {
            return false;
        }
        of_type
            .iter()
            .filter(|a| a.permission == PermissionType::Allow && applies(a))
            .any(|allow| {
                !denies.iter().any(|d| match d.pattern_type {
                    PatternType::Prefixed => allow.resource_name.starts_with(&d.resource_name),
                    _ => {
                        allow.pattern_type == PatternType::Literal
                            && d.resource_name == allow.resource_name
                    }
                })
            })
    }

    /// Kafka's authorized-operations bit field (bit n set: operation code n allowed) for
    /// one resource, as Metadata, DescribeGroups and DescribeCluster answer it.
    pub fn authorized_operations(
        &self,
        principal: &KafkaPrincipal,
        host: &str,
        resource_type: ResourceType,
        name: &str,
    ) -> i32 {
        resource_type
            .supported_operations()
            .iter()
            .filter(|op| self.authorize(principal, host, **op, resource_type, name))
            .fold(0, |bits, op| bits | (1 << op.code()))
    }

    /// The ACLs a filter matches, in a stable order.
    pub fn describe(&self, filter: &AclBindingFilter) -> Vec<AclBinding> {
        self.snapshot()
            .iter()
            .filter(|a| filter.matches(a))
            .cloned()
            .collect()
    }

    /// Adds ACLs (an ACL already present stays once), durably. Blocking.
    pub fn create(&self, new: &[AclBinding]) -> std::io::Result<()> {
        let _w = self.writer.lock();
        let mut next = (*self.snapshot()).clone();
        next.extend(new.iter().cloned());
        self.file.write(&next)?;
        *self.acls.write() = Arc::new(next);
        Ok(())
    }

    /// Removes every ACL any filter matches, durably; returns, per filter, the ACLs it
    /// matched. Blocking.
    pub fn delete(&self, filters: &[AclBindingFilter]) -> std::io::Result<Vec<Vec<AclBinding>>> {
        let _w = self.writer.lock();
        let current = self.snapshot();
        let matched: Vec<Vec<AclBinding>> = filters
            .iter()
            .map(|f| current.iter().filter(|a| f.matches(a)).cloned().collect())
            .collect();
        if matched.iter().all(Vec::is_empty) {
            return Ok(matched);
        }
        let mut next = (*current).clone();
        for acl in matched.iter().flatten() {
            next.remove(acl);
        }
        self.file.write(&next)?;
        *self.acls.write() = Arc::new(next);
        Ok(matched)
    }
}

/// The ACL rules (module doc) over a set of ACLs, without super users.
pub fn decide<'a>(
    acls: impl Iterator<Item = &'a AclBinding>,
    principal: &str,
    host: &str,
    operation: AclOperation,
    resource_type: ResourceType,
    name: &str,
    allow_if_no_acl: bool,
) -> Decision {
    let mut found_resource_acl = false;
    let mut allowed = false;
    for acl in acls {
        if acl.resource_type != resource_type {
            continue;
        }
        let covers = match acl.pattern_type {
            PatternType::Literal => acl.resource_name == name || acl.resource_name == WILDCARD,
            PatternType::Prefixed => name.starts_with(&acl.resource_name),
            _ => false,
        };
        if !covers {
            continue;
        }
        found_resource_acl = true;
        if acl.principal != principal && acl.principal != "User:*" {
            continue;
        }
        if acl.host != WILDCARD && acl.host != host {
            continue;
        }
        let op_applies = acl.operation == AclOperation::All
            || acl.operation == operation
            || (acl.permission == PermissionType::Allow
                && match operation {
                    AclOperation::Describe => matches!(
                        acl.operation,
                        AclOperation::Read
                            | AclOperation::Write
                            | AclOperation::Delete
                            | AclOperation::Alter
                    ),
                    AclOperation::DescribeConfigs => acl.operation == AclOperation::AlterConfigs,
                    _ => false,
                });
        if !op_applies {
            continue;
        }
        match acl.permission {
            PermissionType::Deny => return Decision::Denied,
            PermissionType::Allow => allowed = true,
            _ => {}
        }
    }
    if allowed {
        Decision::Allowed
    } else if found_resource_acl {
        Decision::Denied
    } else {
        Decision::NoAcl(allow_if_no_acl)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use AclOperation::*;
    use PatternType::*;
    use PermissionType::*;
    use ResourceType::*;

    fn acl(
        rt: ResourceType,
        name: &str,
        pt: PatternType,
        principal: &str,
        host: &str,
        op: AclOperation,
        perm: PermissionType,
    ) -> AclBinding {
        AclBinding {
            resource_type: rt,
            resource_name: name.into(),
            pattern_type: pt,
            principal: principal.into(),
            host: host.into(),
            operation: op,
            permission: perm,
        }
    }

    /// (ACLs, principal, host, operation, resource type, name, allow-if-no-acl, allowed)
    type Row = (
        Vec<AclBinding>,
        &'static str,
        &'static str,
        AclOperation,
        ResourceType,
        &'static str,
        bool,
        bool,
    );

    #[test]
    fn the_rules_decide_as_kafkas_standard_authorizer() {
        let alice = "User:alice";
        let allow_read = acl(Topic, "orders", Literal, alice, "*", Read, Allow);
        let rows: Vec<Row> = vec![
            // No ACL on the resource: the setting decides.
            (
                vec![],
                alice,
                "1.2.3.4",
                Read,
                Topic,
                "orders",
                false,
                false,
            ),
            (vec![], alice, "1.2.3.4", Read, Topic, "orders", true, true),
            // An ACL for someone else exists on the resource: denied even with the
            // setting on.
            (
                vec![acl(Topic, "orders", Literal, "User:bob", "*", Read, Allow)],
                alice,
                "1.2.3.4",
                Read,
                Topic,
                "orders",
                true,
                false,
            ),
            (
                vec![allow_read.clone()],
                alice,
                "1.2.3.4",
                Read,
                Topic,
                "orders",
                false,
                true,
            ),
            (
                vec![allow_read.clone()],
                alice,
                "1.2.3.4",
                Write,
                Topic,
                "orders",
                false,
                false,
            ),
            (
                vec![allow_read.clone()],
                alice,
                "1.2.3.4",
                Read,
                Topic,
                "orders2",
                false,
                false,
            ),
            (
                vec![allow_read.clone()],
                "User:bob",
                "1.2.3.4",
                Read,
                Topic,
                "orders",
                false,
                false,
            ),
            (
                vec![allow_read.clone()],
                alice,
                "1.2.3.4",
                Read,
                Group,
                "orders",
                false,
                false,
            ),
            // Implications: READ implies DESCRIBE; DENY READ does not deny DESCRIBE.
            (
                vec![allow_read.clone()],
                alice,
                "h",
                Describe,
                Topic,
                "orders",
                false,
                true,
            ),
            (
                vec![
                    acl(Topic, "orders", Literal, alice, "*", Write, Allow),
                    acl(Topic, "orders", Literal, alice, "*", Read, Deny),
                ],
                alice,
                "h",
                Describe,
                Topic,
                "orders",
                false,
                true,
            ),
            (
                vec![acl(Topic, "t", Literal, alice, "*", AlterConfigs, Allow)],
                alice,
                "h",
                DescribeConfigs,
                Topic,
                "t",
                false,
                true,
            ),
            (
                vec![acl(Topic, "t", Literal, alice, "*", Describe, Allow)],
                alice,
                "h",
                Read,
                Topic,
                "t",
                false,
                false,
            ),
            (
                vec![acl(Topic, "t", Literal, alice, "*", Create, Allow)],
                alice,
                "h",
                Describe,
                Topic,
                "t",
                false,
                false,
            ),
            // Deny wins, whatever the order and however broad the allow.
            (
                vec![
                    acl(Topic, "*", Literal, "User:*", "*", All, Allow),
                    acl(Topic, "orders", Literal, alice, "*", Write, Deny),
                ],
                alice,
                "h",
                Write,
                Topic,
                "orders",
                false,
                false,
            ),
            (
                vec![
                    acl(Topic, "orders", Literal, alice, "*", Write, Allow),
                    acl(Topic, "ord", Prefixed, "User:*", "*", All, Deny),
                ],
                alice,
                "h",
                Write,
                Topic,
                "orders",
                false,
                false,
            ),
            // Prefixed and wildcard patterns.
            (
                vec![acl(Topic, "ord", Prefixed, alice, "*", Write, Allow)],
                alice,
                "h",
                Write,
                Topic,
                "orders",
                false,
                true,
            ),
            (
                vec![acl(
                    Topic,
                    "orders-long",
                    Prefixed,
                    alice,
                    "*",
                    Write,
                    Allow,
                )],
                alice,
                "h",
                Write,
                Topic,
                "orders",
                false,
                false,
            ),
            (
                vec![acl(Topic, "*", Literal, alice, "*", Write, Allow)],
                alice,
                "h",
                Write,
                Topic,
                "anything",
                false,
                true,
            ),
            // A literal named "*"-prefix is not a wildcard.
            (
                vec![acl(Topic, "*", Prefixed, alice, "*", Write, Allow)],
                alice,
                "h",
                Write,
                Topic,
                "anything",
                false,
                false,
            ),
            // Wildcard principal; host matching.
            (
                vec![acl(Group, "g", Literal, "User:*", "*", Read, Allow)],
                "User:carol",
                "h",
                Read,
                Group,
                "g",
                false,
                true,
            ),
            (
                vec![acl(Group, "g", Literal, alice, "10.0.0.1", Read, Allow)],
                alice,
                "10.0.0.1",
                Read,
                Group,
                "g",
                false,
                true,
            ),
            (
                vec![acl(Group, "g", Literal, alice, "10.0.0.1", Read, Allow)],
                alice,
                "10.0.0.2",
                Read,
                Group,
                "g",
                false,
                false,
            ),
            (
                vec![
                    acl(Group, "g", Literal, alice, "*", Read, Allow),
                    acl(Group, "g", Literal, alice, "10.0.0.2", Read, Deny),
                ],
                alice,
                "10.0.0.2",
                Read,
                Group,
                "g",
                false,
                false,
            ),
            (
                vec![
                    acl(Group, "g", Literal, alice, "*", Read, Allow),
                    acl(Group, "g", Literal, alice, "10.0.0.2", Read, Deny),
                ],
                alice,
                "10.0.0.3",
                Read,
                Group,
                "g",
                false,
                true,
            ),
            // ALL grants every operation, including CLUSTER ones.
            (
                vec![acl(
                    Cluster,
                    "kafka-cluster",
                    Literal,
                    alice,
                    "*",
                    All,
                    Allow,
                )],
                alice,
                "h",
                IdempotentWrite,
                Cluster,
                "kafka-cluster",
                false,
                true,
            ),
        ];
        for (i, (acls, principal, host, op, rt, name, if_none, want)) in rows.iter().enumerate() {
            let got = decide(acls.iter(), principal, host, *op, *rt, name, *if_none).allowed();
            assert_eq!(
                got, *want,
                "row {i}: {principal}@{host} {op} {rt}:{name} over {acls:?}"
            );
        }
    }

    fn authorizer(acls: &[AclBinding], super_users: &[&str]) -> (tempfile::TempDir, Authorizer) {
        let dir = tempfile::tempdir().unwrap();
        let a = Authorizer::open(
            dir.path(),
            AuthorizerConfig {
                enabled: true,
                super_users: super_users.iter().map(|s| s.to_string()).collect(),
                allow_everyone_if_no_acl_found: false,
            },
        )
        .unwrap();
        a.create(acls).unwrap();
        (dir, a)
    }

    #[test]
    fn super_users_bypass_and_a_disabled_authorizer_allows_all() {
        let deny = acl(Topic, "*", Literal, "User:*", "*", All, Deny);
        let (_d, a) = authorizer(std::slice::from_ref(&deny), &["User:admin"]);
        let admin = KafkaPrincipal::user("admin");
        let bob = KafkaPrincipal::user("bob");
        assert!(a.authorize(&admin, "h", Write, Topic, "t"));
        assert!(!a.authorize(&bob, "h", Write, Topic, "t"));
        let dir = tempfile::tempdir().unwrap();
        let off = Authorizer::open(dir.path(), AuthorizerConfig::default()).unwrap();
        assert!(off.authorize(&bob, "h", Write, Topic, "t"));
    }

    #[test]
    fn changes_are_in_force_at_once_and_after_reopening() {
        let allow = acl(Topic, "t", Literal, "User:bob", "*", Write, Allow);
        let (dir, a) = authorizer(std::slice::from_ref(&allow), &[]);
        let bob = KafkaPrincipal::user("bob");
        assert!(a.authorize(&bob, "h", Write, Topic, "t"));
        let reopened = Authorizer::open(
            dir.path(),
            AuthorizerConfig {
                enabled: true,
                ..Default::default()
            },
        )
        .unwrap();
        assert!(reopened.authorize(&bob, "h", Write, Topic, "t"));
        let mut f = AclBindingFilter::any();
        f.principal = Some("User:bob".into());
        let removed = a.delete(&[f]).unwrap();
        assert_eq!(removed, vec![vec![allow]]);
        assert!(!a.authorize(&bob, "h", Write, Topic, "t"));
    }

    #[test]
    fn by_resource_type_and_authorized_operations() {
        let (_d, a) = authorizer(
            &[
                acl(Topic, "out", Prefixed, "User:bob", "*", Write, Allow),
                acl(Topic, "outside", Literal, "User:bob", "*", Write, Deny),
            ],
            &[],
        );
        let bob = KafkaPrincipal::user("bob");
        assert!(a.authorize_by_resource_type(&bob, "h", Write, Topic));
        assert!(!a.authorize_by_resource_type(&bob, "h", Read, Topic));
        let (_d2, b) = authorizer(
            &[
                acl(Topic, "out", Prefixed, "User:bob", "*", Write, Allow),
                acl(Topic, "o", Prefixed, "User:bob", "*", Write, Deny),
            ],
            &[],
        );
        assert!(!b.authorize_by_resource_type(&bob, "h", Write, Topic));
        let bits = a.authorized_operations(&bob, "h", Topic, "out1");
        assert_eq!(bits, (1 << Write.code()) | (1 << Describe.code()));
    }
}
