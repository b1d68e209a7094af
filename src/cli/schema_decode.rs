//! `consume --format json --schema-registry URL`: decodes Confluent-framed values with
//! their writer's schema (`crate::confluent_framing`), fetched once per id from the
//! registry's REST API (`/schemas/ids/{id}`). Values whose schema has references, and
//! any value that does not decode, are printed as they are (utf8 or base64). It never
//! writes to the registry.

use std::collections::HashMap;

use anyhow::Result;
use serde_json::Value;

pub use crate::confluent_framing::Decoded;
use crate::confluent_framing::{framed_id, Writer};

use super::schema::Registry;

/// Schemas by id, fetched on first use; `None`: fetched but not usable here
/// (references, a parse error, an id the registry does not know), so values stay raw.
pub struct SchemaDecoder {
    registry: Registry,
    writers: HashMap<i32, Option<Writer>>,
}

impl SchemaDecoder {
    pub fn new(url: &str) -> Result<SchemaDecoder> {
        Ok(SchemaDecoder {
            registry: Registry::new(url)?,
            writers: HashMap::new(),
        })
    }

    /// Fetches the schema of `value`'s id unless it is known. A registry that cannot be
    /// reached is an error; an id it does not know leaves such values raw.
    pub async fn prepare(&mut self, value: Option<&[u8]>) -> Result<()> {
        let Some(id) = value.and_then(framed_id) else {
            return Ok(());
        };
        if self.writers.contains_key(&id) {
            return Ok(());
        }
        let (status, answer) = self
            .registry
            .call("GET", &format!("/schemas/ids/{id}"), None)
            .await?;
        let writer = if status == 200 {
            writer(&answer)
                .map_err(|e| eprintln!("schema {id} cannot decode values here: {e:#}"))
                .ok()
        } else {
            None
        };
        self.writers.insert(id, writer);
        Ok(())
    }

    /// `value` decoded, if it is framed with a known, usable schema and decodes.
    pub fn decode(&self, value: Option<&[u8]>) -> Option<Decoded> {
        let bytes = value?;
        let writer = self.writers.get(&framed_id(bytes)?)?.as_ref()?;
        crate::confluent_framing::decode(bytes, writer)
    }
}

/// The writer of a registry's `/schemas/ids/{id}` answer.
fn writer(answer: &Value) -> Result<Writer> {
    let has_references = answer
        .get("references")
        .and_then(Value::as_array)
        .is_some_and(|r| !r.is_empty());
    let text = answer
        .get("schema")
        .and_then(Value::as_str)
        .ok_or_else(|| anyhow::anyhow!("no schema in the registry's answer"))?;
    Writer::from_schema(
        answer.get("schemaType").and_then(Value::as_str),
        text,
        has_references,
    )
}
