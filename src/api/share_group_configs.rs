//! Share group configs on GROUP config resources (Kafka's ConfigResource type 32):
//! IncrementalAlterConfigs SET/DELETE of `share.auto.offset.reset`,
//! `share.isolation.level`, `share.record.lock.duration.ms`, ... with Kafka's names and
//! bounds. The values live in the share coordinator, durable in its group configs file.

use kafka_protocol::messages::incremental_alter_configs_request::AlterConfigsResource;

use crate::broker::Broker;
use crate::coordinator::share::config::validate_group_config;
use crate::error::{KafkaError, ResponseError};

/// Kafka's ConfigResource.Type.GROUP.
pub const RESOURCE_GROUP: i8 = 32;

pub fn apply(
    res: &AlterConfigsResource,
    broker: &Broker,
    validate_only: bool,
) -> Result<(), KafkaError> {
    for c in &res.configs {
        let value = match c.config_operation {
            0 => c.value.as_deref(),
            1 => None,
            _ => {
                return Err(KafkaError::new(
                    ResponseError::InvalidConfig,
                    format!("{} is not a list config", &*c.name),
                ))
            }
        };
        validate_group_config(&c.name, value)?;
    }
    if validate_only {
        return Ok(());
    }
    for c in &res.configs {
        let value = if c.config_operation == 0 {
            c.value.as_deref()
        } else {
            None
        };
        broker
            .share
            .set_group_config(&res.resource_name, &c.name, value)?;
    }
    Ok(())
}
