//! Confluent's wire framing of record keys and values (magic byte 0, a 4-byte
//! big-endian schema id, then the serialized data) and decoding such a value into JSON
//! with its writer's schema: Avro with apache-avro (the datum read with the writer's
//! schema), JSON Schema as the JSON text it is, Protobuf with protox (the schema
//! compiled, Google's well-known types resolved) and prost-reflect as protox re-exports
//! it (the message picked by Confluent's message indexes, printed with proto3's JSON
//! names; 64-bit integers as strings, as proto3's JSON mapping writes them).
//!
//! Pure functions of bytes and schema text: it never fetches a schema (the CLI asks a
//! registry over HTTP, the console asks the broker's own), never touches the log or a
//! socket, so both sides of the layering may use it. Schemas with references are not
//! resolved here.

use anyhow::{anyhow, bail, Result};
use base64::Engine;
use prost::Message;
use protox::prost_reflect::{
    DescriptorPool, DynamicMessage, Kind, MapKey, MessageDescriptor, Value as PValue,
};
use serde_json::{json, Value};

/// A value decoded with its writer's schema.
#[derive(Debug)]
pub struct Decoded {
    pub schema_id: i32,
    /// `avro`, `json` or `protobuf`.
    pub format: &'static str,
    pub value: Value,
}

/// The writer's schema of one id, ready to decode values.
pub enum Writer {
    Avro(Box<apache_avro::Schema>),
    Json,
    Protobuf(DescriptorPool),
}

/// The schema id of a Confluent-framed value.
pub fn framed_id(value: &[u8]) -> Option<i32> {
    (value.len() >= 5 && value[0] == 0)
        .then(|| i32::from_be_bytes([value[1], value[2], value[3], value[4]]))
}

impl Writer {
    /// A writer from a registry's schema: its type (`AVRO`, `JSON`, `PROTOBUF`; none
    /// means Avro, as the registry answers), its text, and whether it references other
    /// schemas (not resolved here: an error).
    pub fn from_schema(
        schema_type: Option<&str>,
        text: &str,
        has_references: bool,
    ) -> Result<Writer> {
        if has_references {
            bail!("schemas with references are not resolved");
        }
        Ok(match schema_type.unwrap_or("AVRO") {
            "AVRO" => Writer::Avro(Box::new(apache_avro::Schema::parse_str(text)?)),
            "JSON" => Writer::Json,
            "PROTOBUF" => Writer::Protobuf(compile_proto(text)?),
            other => bail!("unknown schema type {other}"),
        })
    }

    /// The data part of a framed value (after its 5-byte prefix) decoded, if it decodes.
    pub fn decode(&self, body: &[u8]) -> Option<(&'static str, Value)> {
        Some(match self {
            Writer::Avro(schema) => {
                let datum = apache_avro::from_avro_datum(schema, &mut &body[..], None).ok()?;
                ("avro", Value::try_from(datum).ok()?)
            }
            Writer::Json => ("json", serde_json::from_slice(body).ok()?),
            Writer::Protobuf(pool) => ("protobuf", decode_protobuf(pool, body)?),
        })
    }
}

/// `value` decoded with `writer`, the writer of its framed schema id.
pub fn decode(value: &[u8], writer: &Writer) -> Option<Decoded> {
    let schema_id = framed_id(value)?;
    let (format, value) = writer.decode(&value[5..])?;
    Some(Decoded {
        schema_id,
        format,
        value,
    })
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
        let avro = r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int"},{"name":"s","type":"string"}]}"#;
        let avro = Writer::from_schema(None, avro, false).unwrap();
        let json_writer = Writer::from_schema(Some("JSON"), "{}", false).unwrap();
        let proto = "syntax = \"proto3\"; package p; message A { int64 n = 1; } message B { string s = 1; repeated int32 v = 2; }";
        let proto = Writer::from_schema(Some("PROTOBUF"), proto, false).unwrap();
        // Avro: zig-zag 21 -> 42, then the string "hi".
        let v = [&[0u8, 0, 0, 0, 1][..], &[84, 4, b'h', b'i']].concat();
        let got = decode(&v, &avro).unwrap();
        assert_eq!(
            (got.schema_id, got.format, got.value),
            (1, "avro", json!({"a": 42, "s": "hi"}))
        );
        let v = [&[0u8, 0, 0, 0, 2][..], br#"{"x":[1]}"#].concat();
        assert_eq!(decode(&v, &json_writer).unwrap().value, json!({"x": [1]}));
        // Protobuf: message indexes [1] (count 1 -> zig-zag 2, index 1 -> 2), then B.
        let v = [
            &[0u8, 0, 0, 0, 3, 2, 2][..],
            &[10, 2, b'o', b'k', 18, 2, 1, 2],
        ]
        .concat();
        assert_eq!(
            decode(&v, &proto).unwrap().value,
            json!({"s": "ok", "v": [1, 2]})
        );
        // [0] is written as a lone 0.
        let v = [&[0u8, 0, 0, 0, 3, 0][..], &[8, 7]].concat();
        assert_eq!(decode(&v, &proto).unwrap().value, json!({"n": "7"}));
        assert!(decode(b"plain", &avro).is_none());
        assert!(Writer::from_schema(None, "{}", true).is_err(), "references");
    }
}
