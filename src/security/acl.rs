//! Kafka's ACL model: resource types, pattern types, operations, permissions, a binding
//! (one ACL) and a binding filter (what DescribeAcls and DeleteAcls send), with Kafka's
//! wire codes and names.
//!
//! It owns what a filter matches (Kafka's `AclBindingFilter.matches`: MATCH covers the
//! literal name, the `*` wildcard and every prefix of the name) and what a new binding
//! must satisfy. It never decides whether a request is allowed: that is
//! [`super::authorizer`].

use std::fmt;

macro_rules! wire_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident = $code:literal, $text:literal;)* }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum $name {
            $($variant = $code,)*
        }

        impl $name {
            /// Kafka's `fromCode`: an unknown code is `Unknown`.
            pub fn from_code(code: i8) -> $name {
                match code {
                    $($code => $name::$variant,)*
                    _ => $name::Unknown,
                }
            }

            pub fn code(self) -> i8 {
                self as i8
            }

            /// Kafka's name (`TOPIC`, `PREFIXED`, `DESCRIBE_CONFIGS`, `ALLOW`).
            pub fn name(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)*
                }
            }

            /// From Kafka's name, in any case (`-` and `_` alike, as Kafka's tools accept
            /// `--operation DescribeConfigs`).
            pub fn parse(text: &str) -> Option<$name> {
                let norm: String = text
                    .chars()
                    .filter(|c| *c != '_' && *c != '-')
                    .flat_map(char::to_uppercase)
                    .collect();
                [$($name::$variant,)*]
                    .into_iter()
                    .find(|v| v.name().replace('_', "") == norm)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.name())
            }
        }
    };
}

wire_enum!(
    /// Kafka's `ResourceType`.
    ResourceType {
        Unknown = 0, "UNKNOWN";
        Any = 1, "ANY";
        Topic = 2, "TOPIC";
        Group = 3, "GROUP";
        Cluster = 4, "CLUSTER";
        TransactionalId = 5, "TRANSACTIONAL_ID";
        DelegationToken = 6, "DELEGATION_TOKEN";
        User = 7, "USER";
    }
);

wire_enum!(
    /// Kafka's `PatternType`. MATCH and ANY appear only in filters.
    PatternType {
        Unknown = 0, "UNKNOWN";
        Any = 1, "ANY";
        Match = 2, "MATCH";
        Literal = 3, "LITERAL";
        Prefixed = 4, "PREFIXED";
    }
);

wire_enum!(
    /// Kafka's `AclOperation`.
    AclOperation {
        Unknown = 0, "UNKNOWN";
        Any = 1, "ANY";
        All = 2, "ALL";
        Read = 3, "READ";
        Write = 4, "WRITE";
        Create = 5, "CREATE";
        Delete = 6, "DELETE";
        Alter = 7, "ALTER";
        Describe = 8, "DESCRIBE";
        ClusterAction = 9, "CLUSTER_ACTION";
        DescribeConfigs = 10, "DESCRIBE_CONFIGS";
        AlterConfigs = 11, "ALTER_CONFIGS";
        IdempotentWrite = 12, "IDEMPOTENT_WRITE";
        CreateTokens = 13, "CREATE_TOKENS";
        DescribeTokens = 14, "DESCRIBE_TOKENS";
    }
);

wire_enum!(
    /// Kafka's `AclPermissionType`.
    PermissionType {
        Unknown = 0, "UNKNOWN";
        Any = 1, "ANY";
        Deny = 2, "DENY";
        Allow = 3, "ALLOW";
    }
);

/// The name of the one CLUSTER resource (Kafka's `CLUSTER_NAME`).
pub const CLUSTER_NAME: &str = "kafka-cluster";
/// The resource name, principal or host that stands for every one.
pub const WILDCARD: &str = "*";

impl ResourceType {
    /// The operations an ACL on this type can grant (Kafka's
    /// `AclEntry.supportedOperations`), which authorized-operations answers list.
    pub fn supported_operations(self) -> &'static [AclOperation] {
        use AclOperation::*;
        match self {
            ResourceType::Topic => &[
                Read,
                Write,
                Create,
                Describe,
                Delete,
                Alter,
                DescribeConfigs,
                AlterConfigs,
            ],
            ResourceType::Group => &[Read, Describe, Delete, DescribeConfigs, AlterConfigs],
            ResourceType::Cluster => &[
                Create,
                ClusterAction,
                DescribeConfigs,
                AlterConfigs,
                IdempotentWrite,
                Alter,
                Describe,
            ],
            ResourceType::TransactionalId => &[Describe, Write],
            ResourceType::DelegationToken => &[Describe],
            ResourceType::User => &[CreateTokens, DescribeTokens],
            _ => &[],
        }
    }
}

/// One ACL: a resource pattern and an access control entry.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AclBinding {
    pub resource_type: ResourceType,
    pub resource_name: String,
    pub pattern_type: PatternType,
    /// `User:alice`, or `User:*` for everyone.
    pub principal: String,
    /// An IP address as the client's socket shows it, or `*`.
    pub host: String,
    pub operation: AclOperation,
    pub permission: PermissionType,
}

impl AclBinding {
    /// Why CreateAcls refuses this binding (INVALID_REQUEST), as Kafka's controller and
    /// request handler check it.
    pub fn validate(&self) -> Result<(), String> {
        if matches!(
            self.resource_type,
            ResourceType::Unknown | ResourceType::Any
        ) {
            return Err(format!("Invalid resourceType {}", self.resource_type));
        }
        if !matches!(
            self.pattern_type,
            PatternType::Literal | PatternType::Prefixed
        ) {
            return Err(format!("Invalid patternType {}", self.pattern_type));
        }
        if matches!(self.operation, AclOperation::Unknown | AclOperation::Any) {
            return Err(format!("Invalid operation {}", self.operation));
        }
        if !matches!(
            self.permission,
            PermissionType::Allow | PermissionType::Deny
        ) {
            return Err(format!("Invalid permissionType {}", self.permission));
        }
        if self.resource_name.is_empty() {
            return Err("Invalid empty resource name".into());
        }
        if self.resource_type == ResourceType::Cluster && self.resource_name != CLUSTER_NAME {
            return Err(format!(
                "The only valid name for the CLUSTER resource is {CLUSTER_NAME}"
            ));
        }
        match self.principal.split_once(':') {
            Some((t, n)) if !t.is_empty() && !n.is_empty() => {}
            _ => {
                return Err(format!(
                    "Could not parse principal from `{}` (no colon is found)",
                    self.principal
                ))
            }
        }
        Ok(())
    }
}

impl fmt::Display for AclBinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {}:{} for {} from {}: {}",
            self.permission,
            self.operation,
            self.resource_type,
            self.resource_name,
            self.principal,
            self.host,
            self.pattern_type
        )
    }
}

/// What DescribeAcls and DeleteAcls select ACLs with: `None` fields match anything.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AclBindingFilter {
    pub resource_type: ResourceType,
    pub resource_name: Option<String>,
    pub pattern_type: PatternType,
    pub principal: Option<String>,
    pub host: Option<String>,
    pub operation: AclOperation,
    pub permission: PermissionType,
}

impl AclBindingFilter {
    /// Every ACL.
    pub fn any() -> AclBindingFilter {
        AclBindingFilter {
            resource_type: ResourceType::Any,
            resource_name: None,
            pattern_type: PatternType::Any,
            principal: None,
            host: None,
            operation: AclOperation::Any,
            permission: PermissionType::Any,
        }
    }

    /// Why the filter cannot be used (INVALID_REQUEST), as Kafka refuses filters with an
    /// UNKNOWN field.
    pub fn validate(&self) -> Result<(), String> {
        if self.resource_type == ResourceType::Unknown || self.pattern_type == PatternType::Unknown
        {
            return Err("Unknown patternFilter.".into());
        }
        if self.operation == AclOperation::Unknown || self.permission == PermissionType::Unknown {
            return Err("Unknown entryFilter.".into());
        }
        Ok(())
    }

    /// Kafka's `AclBindingFilter.matches`.
    pub fn matches(&self, acl: &AclBinding) -> bool {
        self.matches_pattern(acl) && self.matches_entry(acl)
    }

    fn matches_pattern(&self, acl: &AclBinding) -> bool {
        if self.resource_type != ResourceType::Any && self.resource_type != acl.resource_type {
            return false;
        }
        if !matches!(self.pattern_type, PatternType::Any | PatternType::Match)
            && self.pattern_type != acl.pattern_type
        {
            return false;
        }
        let Some(name) = &self.resource_name else {
            return true;
        };
        if self.pattern_type == PatternType::Any || self.pattern_type == acl.pattern_type {
            return *name == acl.resource_name;
        }
        // MATCH: every ACL whose pattern covers the name.
        match acl.pattern_type {
            PatternType::Literal => *name == acl.resource_name || acl.resource_name == WILDCARD,
            PatternType::Prefixed => name.starts_with(&acl.resource_name),
            _ => false,
        }
    }

    fn matches_entry(&self, acl: &AclBinding) -> bool {
        self.principal.as_ref().is_none_or(|p| *p == acl.principal)
            && self.host.as_ref().is_none_or(|h| *h == acl.host)
            && (self.operation == AclOperation::Any || self.operation == acl.operation)
            && (self.permission == PermissionType::Any || self.permission == acl.permission)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acl(rt: ResourceType, name: &str, pt: PatternType) -> AclBinding {
        AclBinding {
            resource_type: rt,
            resource_name: name.into(),
            pattern_type: pt,
            principal: "User:alice".into(),
            host: "*".into(),
            operation: AclOperation::Read,
            permission: PermissionType::Allow,
        }
    }

    fn filter(rt: ResourceType, name: Option<&str>, pt: PatternType) -> AclBindingFilter {
        AclBindingFilter {
            resource_type: rt,
            resource_name: name.map(str::to_string),
            pattern_type: pt,
            ..AclBindingFilter::any()
        }
    }

    #[test]
    fn filters_match_as_kafka() {
        use PatternType::*;
        use ResourceType::*;
        // (filter, acl, matches)
        let rows = [
            (
                filter(Topic, Some("orders"), Literal),
                acl(Topic, "orders", Literal),
                true,
            ),
            (
                filter(Topic, Some("orders"), Literal),
                acl(Topic, "*", Literal),
                false,
            ),
            (
                filter(Topic, Some("orders"), Literal),
                acl(Topic, "ord", Prefixed),
                false,
            ),
            (
                filter(Topic, Some("ord"), Prefixed),
                acl(Topic, "ord", Prefixed),
                true,
            ),
            (
                filter(Topic, Some("orders"), Prefixed),
                acl(Topic, "ord", Prefixed),
                false,
            ),
            (
                filter(Topic, Some("orders"), Match),
                acl(Topic, "orders", Literal),
                true,
            ),
            (
                filter(Topic, Some("orders"), Match),
                acl(Topic, "*", Literal),
                true,
            ),
            (
                filter(Topic, Some("orders"), Match),
                acl(Topic, "ord", Prefixed),
                true,
            ),
            (
                filter(Topic, Some("orders"), Match),
                acl(Topic, "orders-x", Prefixed),
                false,
            ),
            (
                filter(Topic, Some("orders"), Match),
                acl(Topic, "other", Literal),
                false,
            ),
            (
                filter(Topic, Some("ord"), PatternType::Any),
                acl(Topic, "ord", Prefixed),
                true,
            ),
            (
                filter(Topic, Some("ord"), PatternType::Any),
                acl(Topic, "ord", Literal),
                true,
            ),
            (
                filter(Topic, Some("orders"), PatternType::Any),
                acl(Topic, "ord", Prefixed),
                false,
            ),
            (
                filter(Topic, None, PatternType::Any),
                acl(Topic, "x", Prefixed),
                true,
            ),
            (
                filter(ResourceType::Any, None, PatternType::Any),
                acl(Group, "g", Literal),
                true,
            ),
            (
                filter(Group, None, PatternType::Any),
                acl(Topic, "g", Literal),
                false,
            ),
            (
                filter(Topic, None, Literal),
                acl(Topic, "x", Prefixed),
                false,
            ),
        ];
        for (i, (f, a, want)) in rows.iter().enumerate() {
            assert_eq!(f.matches(a), *want, "row {i}: {f:?} on {a}");
        }
    }

    #[test]
    fn entry_fields_filter_and_names_parse() {
        let a = acl(ResourceType::Topic, "t", PatternType::Literal);
        let mut f = AclBindingFilter::any();
        f.principal = Some("User:bob".into());
        assert!(!f.matches(&a));
        f.principal = Some("User:alice".into());
        f.permission = PermissionType::Deny;
        assert!(!f.matches(&a));
        f.permission = PermissionType::Allow;
        f.operation = AclOperation::Read;
        assert!(f.matches(&a));
        assert_eq!(
            AclOperation::parse("DescribeConfigs"),
            Some(AclOperation::DescribeConfigs)
        );
        assert_eq!(
            ResourceType::parse("transactional-id"),
            Some(ResourceType::TransactionalId)
        );
        assert_eq!(AclOperation::from_code(99), AclOperation::Unknown);
    }

    #[test]
    fn new_bindings_are_validated() {
        let mut a = acl(ResourceType::Cluster, "kafka-cluster", PatternType::Literal);
        assert!(a.validate().is_ok());
        a.resource_name = "other".into();
        assert!(a.validate().is_err());
        let mut b = acl(ResourceType::Topic, "t", PatternType::Match);
        assert!(b.validate().is_err());
        b.pattern_type = PatternType::Literal;
        b.principal = "alice".into();
        assert!(b.validate().is_err());
    }
}
