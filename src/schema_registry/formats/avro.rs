//! Avro schemas: parsing (with referenced schemas), the stored form, and Avro's
//! schema-resolution rules as the compatibility check, all through the `apache-avro`
//! crate. What is written here by hand is only the inlining of referenced named types
//! into the referring schema, so the crate's checker (which compares references by
//! name only) sees whole schemas.

use std::collections::{HashMap, HashSet};

use apache_avro::schema_compatibility::SchemaCompatibility;
use apache_avro::Schema;
use serde_json::Value;

/// A parsed Avro schema, with its references inlined for the compatibility check.
pub struct AvroSchema {
    /// The submitted JSON, for the stored form.
    json: Value,
    /// The parsed schema (references resolved by name against the referenced ones).
    parsed: Schema,
    /// The schema with every referenced named type inlined, when that parses.
    whole: Option<Schema>,
}

const PRIMITIVES: &[&str] = &[
    "null", "boolean", "int", "long", "float", "double", "bytes", "string",
];

/// Parses `text` with `references` (the referenced schemas' texts, dependencies first).
/// An unknown type name, bad JSON or a bad default is an error.
pub fn parse(text: &str, references: &[&str]) -> Result<AvroSchema, String> {
    let json: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let parsed = if references.is_empty() {
        Schema::parse_str(text).map_err(|e| e.to_string())?
    } else {
        Schema::parse_str_with_list(text, references)
            .map_err(|e| e.to_string())?
            .0
    };
    let whole = if references.is_empty() {
        Some(parsed.clone())
    } else {
        let mut available = HashMap::new();
        for r in references {
            if let Ok(v) = serde_json::from_str::<Value>(r) {
                collect_named(&v, "", &mut available);
            }
        }
        let mut inlined = json.clone();
        inline(&mut inlined, "", &mut HashSet::new(), &available);
        Schema::parse(&inlined).ok()
    };
    Ok(AvroSchema {
        json,
        parsed,
        whole,
    })
}

impl AvroSchema {
    /// The stored text: the submitted JSON without insignificant whitespace; with
    /// `normalize`, the crate's own serialisation of the parsed schema (attributes
    /// in one order, defaults and docs kept).
    pub fn canonical(&self, normalize: bool) -> String {
        if normalize {
            if let Ok(s) = serde_json::to_string(&self.parsed) {
                return s;
            }
        }
        self.json.to_string()
    }

    /// Why `self` (the reader) cannot read data written with `writer`; empty when it
    /// can.
    pub fn read_errors(&self, writer: &AvroSchema) -> Vec<String> {
        let (Some(reader), Some(writer_whole)) = (&self.whole, &writer.whole) else {
            return vec!["a referenced type could not be resolved for the check".into()];
        };
        match SchemaCompatibility::can_read(writer_whole, reader) {
            Ok(()) => Vec::new(),
            Err(e) => {
                let mut message = e.to_string();
                // The crate prints whole schemas in some messages.
                if message.len() > 400 {
                    message.truncate(400);
                    message.push_str("...");
                }
                vec![message]
            }
        }
    }
}

fn fullname(name: &str, namespace: &str) -> String {
    if name.contains('.') || namespace.is_empty() {
        name.to_string()
    } else {
        format!("{namespace}.{name}")
    }
}

/// Every named type (record, enum, fixed) defined in `v`, by full name.
fn collect_named(v: &Value, namespace: &str, out: &mut HashMap<String, Value>) {
    match v {
        Value::Array(items) => items.iter().for_each(|i| collect_named(i, namespace, out)),
        Value::Object(map) => {
            let mut ns = namespace.to_string();
            if let Some(name) = map.get("name").and_then(Value::as_str) {
                if matches!(
                    map.get("type").and_then(Value::as_str),
                    Some("record" | "error" | "enum" | "fixed")
                ) {
                    if let Some(explicit) = map.get("namespace").and_then(Value::as_str) {
                        ns = explicit.to_string();
                    }
                    let full = fullname(name, &ns);
                    if let Some((prefix, _)) = full.rsplit_once('.') {
                        ns = prefix.to_string();
                    }
                    // Children resolve names in this type's namespace.
                    let mut with_ns = v.clone();
                    if !full.contains('.') || map.contains_key("namespace") {
                        out.insert(full, with_ns);
                    } else {
                        with_ns["namespace"] = Value::String(ns.clone());
                        out.insert(full, with_ns);
                    }
                }
            }
            for key in ["fields", "type", "items", "values"] {
                if let Some(child) = map.get(key) {
                    collect_named(child, &ns, out);
                }
            }
        }
        _ => {}
    }
}

/// Replaces the first use of each referenced named type in `v` by its definition.
fn inline(
    v: &mut Value,
    namespace: &str,
    defined: &mut HashSet<String>,
    available: &HashMap<String, Value>,
) {
    match v {
        Value::String(name) => {
            if PRIMITIVES.contains(&name.as_str()) {
                return;
            }
            for candidate in [fullname(name, namespace), name.clone()] {
                if defined.contains(&candidate) {
                    return;
                }
                if let Some(def) = available.get(&candidate) {
                    let mut def = def.clone();
                    inline(&mut def, namespace, defined, available);
                    *v = def;
                    return;
                }
            }
        }
        Value::Array(items) => items
            .iter_mut()
            .for_each(|i| inline(i, namespace, defined, available)),
        Value::Object(map) => {
            let mut ns = namespace.to_string();
            if let Some(name) = map.get("name").and_then(Value::as_str) {
                if matches!(
                    map.get("type").and_then(Value::as_str),
                    Some("record" | "error" | "enum" | "fixed")
                ) {
                    if let Some(explicit) = map.get("namespace").and_then(Value::as_str) {
                        ns = explicit.to_string();
                    }
                    let full = fullname(name, &ns);
                    if let Some((prefix, _)) = full.rsplit_once('.') {
                        ns = prefix.to_string();
                    }
                    defined.insert(full);
                }
            }
            if let Some(Value::Array(fields)) = map.get_mut("fields") {
                for field in fields {
                    if let Some(t) = field.get_mut("type") {
                        inline(t, &ns, defined, available);
                    }
                }
            }
            for key in ["items", "values"] {
                if let Some(child) = map.get_mut(key) {
                    inline(child, &ns, defined, available);
                }
            }
            if let Some(t) = map.get_mut("type") {
                if !t.is_string() || !is_complex_keyword(t) {
                    inline(t, &ns, defined, available);
                }
            }
        }
        _ => {}
    }
}

fn is_complex_keyword(t: &Value) -> bool {
    matches!(
        t.as_str(),
        Some("record" | "error" | "enum" | "fixed" | "array" | "map")
    )
}
