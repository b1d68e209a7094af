//! `consume --format json --schema-registry URL`: decodes Confluent-framed values (magic
//! byte 0, a 4-byte schema id, then the serialized data) into JSON with the writer's
//! schema, fetched once per id from the registry's REST API (`/schemas/ids/{id}`).
//!
//! Avro with apache-avro (the datum read with the writer's schema), JSON Schema as the
//! JSON text it is, Protobuf with protox (the schema compiled, Google's well-known types
//! resolved) and prost-reflect as protox re-exports it (the message picked by Confluent's message indexes,
//! printed with proto3's JSON names; 64-bit integers as strings, as proto3's JSON
//! mapping writes them). Schemas with references are not resolved: such values, and
//! any value that does not decode, are printed as they are (utf8 or base64). It never
//! writes to the registry.

use std::collections::HashMap;

use anyhow::{anyhow, bail, Context, Result};
use base64::Engine;
use prost::Message;
use protox::prost_reflect::{
    DescriptorPool, DynamicMessage, Kind, MapKey, MessageDescriptor, Value as PValue,
};
use serde_json::{json, Value};

use super::schema::Registry;

/// A value decoded with its writer's schema.
pub struct Decoded {
    pub schema_id: i32,
    /// `avro`, `json` or `protobuf`, printed as the value's encoding.
    pub format: &'static str,
    pub value: Value,
}

/// The writer's schema of one id, ready to decode.
enum Writer {
    Avro(Box<apache_avro::Schema>),
    Json,
    Protobuf(DescriptorPool),
    /// Fetched but not usable here (references, a parse error): values stay raw.
    Unusable,
}

/// Schemas by id, fetched on first use.
pub struct SchemaDecoder {
    registry: Registry,
    writers: HashMap<i32, Writer>,
}

/// The schema id of a Confluent-framed value.
fn framed_id(value: &[u8]) -> Option<i32> {
    (value.len() >= 5 && value[0] == 0)
        .then(|| i32::from_be_bytes([value[1], value[2], value[3], value[4]]))
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
            writer(&answer).unwrap_or_else(|e| {
                eprintln!("schema {id} cannot decode values here: {e:#}");
                Writer::Unusable
            })
        } else {
            Writer::Unusable
        };
        self.writers.insert(id, writer);
        Ok(())
    }

    /// `value` decoded, if it is framed with a known, usable schema and decodes.
    pub fn decode(&self, value: Option<&[u8]>) -> Option<Decoded> {
        let bytes = value?;
        let schema_id = framed_id(bytes)?;
        let body = &bytes[5..];
        let (format, value) = match self.writers.get(&schema_id)? {
            Writer::Avro(schema) => {
                let datum = apache_avro::from_avro_datum(schema, &mut &body[..], None).ok()?;
                ("avro", Value::try_from(datum).ok()?)
            }
            Writer::Json => ("json", serde_json::from_slice(body).ok()?),
            Writer::Protobuf(pool) => ("protobuf", decode_protobuf(pool, body)?),
            Writer::Unusable => return None,
        };
        Some(Decoded {
            schema_id,
            format,
            value,
        })
    }
}

fn writer(answer: &Value) -> Result<Writer> {
    if answer
        .get("references")
        .and_then(Value::as_array)
        .is_some_and(|r| !r.is_empty())
    {
        bail!("schemas with references are not resolved by the CLI");
    }
    let text = answer
        .get("schema")
        .and_then(Value::as_str)
        .context("no schema in the registry's answer")?;
    Ok(
        match answer
            .get("schemaType")
            .and_then(Value::as_str)
            .unwrap_or("AVRO")
        {
            "AVRO" => Writer::Avro(Box::new(apache_avro::Schema::parse_str(text)?)),
            "JSON" => Writer::Json,
            "PROTOBUF" => Writer::Protobuf(compile_proto(text)?),
            other => bail!("unknown schema type {other}"),
        },
    )
}

const MAIN: &str = "sluice_consume_schema.proto";

/// Compiles `.proto` text or a base64 serialized FileDescriptorProto.
fn compile_proto(text: &str) -> Result<DescriptorPool> {
    use protox::file::{ChainFileResolver, File, FileResolver, GoogleFileResolver};
    let file = match File::from_source(MAIN, text) {
        Ok(f) => f,
        Err(parse_error) => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(text.trim())
                .map_err(|_| anyhow!("{parse_error}"))?;
            let mut proto = prost_types::FileDescriptorProto::decode(bytes.as_slice())?;
            proto.name = Some(MAIN.to_string());
            File::from_file_descriptor_proto(proto)
        }
    };
    struct Main(std::sync::Mutex<Option<File>>);
    impl FileResolver for Main {
        fn open_file(&self, name: &str) -> Result<File, protox::Error> {
            match (name == MAIN, self.0.lock().expect("not poisoned").take()) {
                (true, Some(f)) => Ok(f),
                _ => Err(protox::Error::file_not_found(name)),
            }
        }
    }
    let mut chain = ChainFileResolver::new();
    chain.add(Main(std::sync::Mutex::new(Some(file))));
    chain.add(GoogleFileResolver::new());
    let mut compiler = protox::Compiler::with_file_resolver(chain);
    compiler.include_imports(true);
    compiler.open_file(MAIN)?;
    Ok(compiler.descriptor_pool())
}

/// Reads a zig-zag varint (Confluent's message indexes).
fn read_zigzag(buf: &mut &[u8]) -> Option<i64> {
    let mut raw = 0u64;
    for shift in (0..64).step_by(7) {
        let (&b, rest) = buf.split_first()?;
        *buf = rest;
        raw |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(((raw >> 1) as i64) ^ -((raw & 1) as i64));
        }
    }
    None
}

fn decode_protobuf(pool: &DescriptorPool, mut body: &[u8]) -> Option<Value> {
    let count = read_zigzag(&mut body)?;
    let indexes: Vec<i64> = if count == 0 {
        vec![0]
    } else {
        (0..count)
            .map(|_| read_zigzag(&mut body))
            .collect::<Option<_>>()?
    };
    let file = pool.get_file_by_name(MAIN)?;
    let mut message: Option<MessageDescriptor> = None;
    for index in indexes {
        let index = usize::try_from(index).ok()?;
        message = Some(match &message {
            None => file.messages().nth(index)?,
            Some(m) => m.child_messages().nth(index)?,
        });
    }
    let decoded = DynamicMessage::decode(message?, body).ok()?;
    Some(message_json(&decoded))
}

fn message_json(message: &DynamicMessage) -> Value {
    let mut out = serde_json::Map::new();
    for (field, value) in message.fields() {
        out.insert(
            field.json_name().to_string(),
            value_json(value, &field.kind()),
        );
    }
    Value::Object(out)
}

fn value_json(value: &PValue, kind: &Kind) -> Value {
    match value {
        PValue::Bool(b) => json!(b),
        PValue::I32(n) => json!(n),
        PValue::U32(n) => json!(n),
        PValue::I64(n) => json!(n.to_string()),
        PValue::U64(n) => json!(n.to_string()),
        PValue::F32(n) => json!(n),
        PValue::F64(n) => json!(n),
        PValue::String(s) => json!(s),
        PValue::Bytes(b) => json!(base64::engine::general_purpose::STANDARD.encode(b)),
        PValue::EnumNumber(n) => match kind.as_enum().and_then(|e| e.get_value(*n)) {
            Some(v) => json!(v.name()),
            None => json!(n),
        },
        PValue::Message(m) => message_json(m),
        PValue::List(items) => Value::Array(items.iter().map(|v| value_json(v, kind)).collect()),
        PValue::Map(entries) => {
            let value_kind = kind
                .as_message()
                .map(|m| m.map_entry_value_field().kind())
                .unwrap_or_else(|| kind.clone());
            let mut out = serde_json::Map::new();
            for (k, v) in entries {
                let key = match k {
                    MapKey::Bool(b) => b.to_string(),
                    MapKey::I32(n) => n.to_string(),
                    MapKey::I64(n) => n.to_string(),
                    MapKey::U32(n) => n.to_string(),
                    MapKey::U64(n) => n.to_string(),
                    MapKey::String(s) => s.clone(),
                };
                out.insert(key, value_json(v, &value_kind));
            }
            Value::Object(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn avro_json_and_protobuf_values_decode() {
        let mut d = SchemaDecoder::new("http://127.0.0.1:1").unwrap();
        let avro = r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"s","type":"string"}]}"#;
        d.writers
            .insert(1, writer(&json!({"schema": avro})).unwrap());
        d.writers.insert(
            2,
            writer(&json!({"schema": "{}", "schemaType": "JSON"})).unwrap(),
        );
        let proto = "syntax = \"proto3\"; package p; message A { int64 n = 1; } message B { string s = 1; repeated int32 v = 2; }";
        d.writers.insert(
            3,
            writer(&json!({"schema": proto, "schemaType": "PROTOBUF"})).unwrap(),
        );
        // Avro: zig-zag 21 -> 42, then the string "hi".
        let v = [&[0u8, 0, 0, 0, 1][..], &[84, 4, b'h', b'i']].concat();
        let got = d.decode(Some(&v)).unwrap();
        assert_eq!(
            (got.format, got.value),
            ("avro", json!({"a": 42, "s": "hi"}))
        );
        let v = [&[0u8, 0, 0, 0, 2][..], br#"{"x":[1]}"#].concat();
        assert_eq!(d.decode(Some(&v)).unwrap().value, json!({"x": [1]}));
        // Protobuf: message indexes [1] (count 1 -> zig-zag 2, index 1 -> 2), then B.
        let v = [
            &[0u8, 0, 0, 0, 3, 2, 2][..],
            &[10, 2, b'o', b'k', 18, 2, 1, 2],
        ]
        .concat();
        assert_eq!(
            d.decode(Some(&v)).unwrap().value,
            json!({"s": "ok", "v": [1, 2]})
        );
        // [0] is written as a lone 0.
        let v = [&[0u8, 0, 0, 0, 3, 0][..], &[8, 7]].concat();
        assert_eq!(d.decode(Some(&v)).unwrap().value, json!({"n": "7"}));
        assert!(d.decode(Some(b"plain")).is_none());
        assert!(
            d.decode(Some(&[0, 0, 0, 0, 9, 1])).is_none(),
            "an unknown id"
        );
    }
}
