//! Quota entities (user, client-id, their `<default>`s and the pairs Kafka allows) and
//! quota keys, with Kafka's validation of both. Names only; no state.

use std::fmt;

/// One entity a quota is set on: a user, a client-id, or a user with a client-id.
/// `Some(None)` is the `<default>` entity of that type (a null name on the wire);
/// `None` means the type is not part of the entity.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct QuotaEntity {
    pub user: Option<Option<String>>,
    pub client_id: Option<Option<String>>,
}

pub const USER: &str = "user";
pub const CLIENT_ID: &str = "client-id";
pub const IP: &str = "ip";

impl QuotaEntity {
    /// Builds an entity from its (type, name) components as AlterClientQuotas carries
    /// them, with Kafka's checks and messages (all INVALID_REQUEST).
    pub fn from_components<'a>(
        components: impl IntoIterator<Item = (&'a str, Option<&'a str>)>,
    ) -> Result<QuotaEntity, String> {
        let mut entity = QuotaEntity {
            user: None,
            client_id: None,
        };
        let mut any = false;
        for (entity_type, name) in components {
            any = true;
            let slot = match entity_type {
                USER => &mut entity.user,
                CLIENT_ID => &mut entity.client_id,
                IP => {
                    return Err(
                        "ip quotas (connection_creation_rate) are not supported by this broker"
                            .into(),
                    )
                }
                other => return Err(format!("Unhandled client quota entity type: {other}")),
            };
            if slot.is_some() {
                return Err(format!(
                    "Invalid client quota entity, duplicate entity entry {entity_type}"
                ));
            }
            if name == Some("") {
                return Err(format!("Empty {entity_type} not supported"));
            }
            *slot = Some(name.map(str::to_string));
        }
        if !any {
            return Err("Invalid empty client quota entity".into());
        }
        Ok(entity)
    }

    /// The (type, name) components, user first.
    pub fn components(&self) -> Vec<(&'static str, Option<&str>)> {
        let mut out = Vec::with_capacity(2);
        if let Some(u) = &self.user {
            out.push((USER, u.as_deref()));
        }
        if let Some(c) = &self.client_id {
            out.push((CLIENT_ID, c.as_deref()));
        }
        out
    }

    pub fn user(name: Option<&str>) -> QuotaEntity {
        QuotaEntity {
            user: Some(name.map(str::to_string)),
            client_id: None,
        }
    }

    pub fn client(name: Option<&str>) -> QuotaEntity {
        QuotaEntity {
            user: None,
            client_id: Some(name.map(str::to_string)),
        }
    }

    pub fn user_client(user: Option<&str>, client: Option<&str>) -> QuotaEntity {
        QuotaEntity {
            user: Some(user.map(str::to_string)),
            client_id: Some(client.map(str::to_string)),
        }
    }
}

impl fmt::Display for QuotaEntity {
    /// Kafka's ZooKeeper-era path form: `/users/alice/clients/<default>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = |n: &Option<String>| n.clone().unwrap_or_else(|| "<default>".into());
        if let Some(u) = &self.user {
            write!(f, "/users/{}", name(u))?;
        }
        if let Some(c) = &self.client_id {
            write!(f, "/clients/{}", name(c))?;
        }
        Ok(())
    }
}

/// The quota keys of user and client-id entities.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum QuotaKey {
    ProducerByteRate,
    ConsumerByteRate,
    RequestPercentage,
    ControllerMutationRate,
}

impl QuotaKey {
    pub const ALL: [QuotaKey; 4] = [
        QuotaKey::ProducerByteRate,
        QuotaKey::ConsumerByteRate,
        QuotaKey::RequestPercentage,
        QuotaKey::ControllerMutationRate,
    ];

    pub fn name(self) -> &'static str {
        match self {
            QuotaKey::ProducerByteRate => "producer_byte_rate",
            QuotaKey::ConsumerByteRate => "consumer_byte_rate",
            QuotaKey::RequestPercentage => "request_percentage",
            QuotaKey::ControllerMutationRate => "controller_mutation_rate",
        }
    }

    pub fn from_name(name: &str) -> Option<QuotaKey> {
        QuotaKey::ALL.into_iter().find(|k| k.name() == name)
    }

    pub fn code(self) -> u8 {
        self as u8
    }

    pub fn from_code(code: u8) -> Option<QuotaKey> {
        QuotaKey::ALL.get(code as usize).copied()
    }

    /// Kafka's checks of a value for this key (its config type is LONG for the byte
    /// rates, DOUBLE for the others); the message is Kafka's.
    pub fn validate(self, value: f64) -> Result<(), String> {
        if value.is_nan() || value <= 0.0 {
            return Err(format!("Quota {} must be greater than 0", self.name()));
        }
        match self {
            QuotaKey::ProducerByteRate | QuotaKey::ConsumerByteRate => {
                if value > i64::MAX as f64 {
                    return Err(format!(
                        "Proposed value for {} is too large for a LONG.",
                        self.name()
                    ));
                }
                if (value % 1.0).abs() > 1e-6 {
                    return Err(format!("{} cannot be a fractional value.", self.name()));
                }
                Ok(())
            }
            QuotaKey::RequestPercentage | QuotaKey::ControllerMutationRate => {
                if value.is_infinite() {
                    return Err(format!("Quota {} must be finite", self.name()));
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entities_are_checked_as_kafka_checks_them() {
        assert!(QuotaEntity::from_components([]).is_err());
        assert!(QuotaEntity::from_components([(USER, Some("a")), (USER, Some("b"))]).is_err());
        assert!(QuotaEntity::from_components([("topic", Some("a"))]).is_err());
        assert!(QuotaEntity::from_components([(USER, Some(""))]).is_err());
        let e = QuotaEntity::from_components([(CLIENT_ID, None), (USER, Some("alice"))]).unwrap();
        assert_eq!(e, QuotaEntity::user_client(Some("alice"), None));
        assert_eq!(e.to_string(), "/users/alice/clients/<default>");
    }

    #[test]
    fn values_are_checked_per_key_type() {
        assert!(QuotaKey::ProducerByteRate.validate(1024.0).is_ok());
        assert!(QuotaKey::ProducerByteRate.validate(1024.5).is_err());
        assert!(QuotaKey::ProducerByteRate.validate(0.0).is_err());
        assert!(QuotaKey::RequestPercentage.validate(12.5).is_ok());
        assert!(QuotaKey::ControllerMutationRate.validate(-1.0).is_err());
    }
}
