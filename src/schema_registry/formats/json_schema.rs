//! JSON Schema (drafts 4 to 2020-12): parsing, the stored form, and the compatibility
//! rule "every instance the writer's schema accepts, the reader's accepts too", checked
//! structurally the way Confluent's JSON Schema rules do: type narrowing (integer is a
//! number, not the reverse), added or tightened bounds (maximum, minLength, pattern,
//! maxItems, ...), enum and const changes, added required properties, properties added
//! to an open content model or removed from a closed one, additionalProperties closed,
//! array items, and oneOf/anyOf/allOf branches.
//!
//! Written by hand: no maintained Rust crate checks JSON Schema compatibility (the
//! `jsonschema` crates validate instances). `$ref`s are resolved locally (`#/...` JSON
//! pointers, `definitions`/`$defs`) and against the referenced schemas by name; `not`,
//! `if`/`then`/`else` and `dependencies` are not compared (a change to them is accepted).

use std::collections::HashMap;

use serde_json::{Map, Value};

/// A parsed JSON Schema with the schemas its `$ref`s may name.
pub struct JsonSchema {
    root: Value,
    /// Referenced schemas by the name (URL) the referring schema uses.
    external: HashMap<String, Value>,
}

const TYPES: &[&str] = &[
    "null", "boolean", "object", "array", "number", "integer", "string",
];

/// How deep the comparison follows `$ref`s and nesting before it stops (accepting):
/// recursive schemas would loop otherwise.
const MAX_DEPTH: usize = 64;

/// Parses `text`; `references` are (name, text) of the referenced schemas.
pub fn parse(text: &str, references: &[(&str, &str)]) -> Result<JsonSchema, String> {
    let root: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    if !root.is_object() && !root.is_boolean() {
        return Err("a JSON Schema is an object or a boolean".into());
    }
    let mut external = HashMap::new();
    for (name, text) in references {
        let v: Value = serde_json::from_str(text).map_err(|e| format!("reference {name}: {e}"))?;
        external.insert(name.to_string(), v);
    }
    let schema = JsonSchema { root, external };
    schema.validate(&schema.root, 0)?;
    Ok(schema)
}

impl JsonSchema {
    /// The stored text: compact JSON (`normalize` changes nothing more: keys are
    /// already in one order).
    pub fn canonical(&self, _normalize: bool) -> String {
        self.root.to_string()
    }

    /// Checks what a registry must refuse: unknown types and `$ref`s that resolve to
    /// nothing.
    fn validate(&self, v: &Value, depth: usize) -> Result<(), String> {
        if depth > MAX_DEPTH {
            return Ok(());
        }
        match v {
            Value::Object(map) => {
                if let Some(t) = map.get("type") {
                    let names: Vec<&Value> = match t {
                        Value::Array(a) => a.iter().collect(),
                        other => vec![other],
                    };
                    for n in names {
                        match n.as_str() {
                            Some(s) if TYPES.contains(&s) => {}
                            _ => return Err(format!("unknown type {n}")),
                        }
                    }
                }
                if let Some(Value::String(r)) = map.get("$ref") {
                    if self.resolve_ref(r).is_none() {
                        return Err(format!(
                            "$ref {r} resolves to nothing (neither defined nor referenced)"
                        ));
                    }
                }
                for (k, child) in map {
                    if k == "enum" || k == "const" || k == "default" || k == "examples" {
                        continue;
                    }
                    self.validate(child, depth + 1)?;
                }
                Ok(())
            }
            Value::Array(items) => items.iter().try_for_each(|i| self.validate(i, depth + 1)),
            _ => Ok(()),
        }
    }

    fn resolve_ref<'a>(&'a self, r: &str) -> Option<&'a Value> {
        if let Some(pointer) = r.strip_prefix('#') {
            return if pointer.is_empty() {
                Some(&self.root)
            } else {
                self.root.pointer(pointer)
            };
        }
        let (doc, pointer) = r.split_once('#').unwrap_or((r, ""));
        let target = self.external.get(doc).or_else(|| self.external.get(r))?;
        if pointer.is_empty() {
            Some(target)
        } else {
            target.pointer(pointer)
        }
    }

    /// Why a consumer validating with `self` refuses data valid under `writer`.
    pub fn read_errors(&self, writer: &JsonSchema) -> Vec<String> {
        let mut cx = Cx {
            reader: self,
            writer,
            errors: Vec::new(),
        };
        cx.compare(&self.root, &writer.root, "#", 0);
        cx.errors
    }
}

struct Cx<'a> {
    reader: &'a JsonSchema,
    writer: &'a JsonSchema,
    errors: Vec<String>,
}

fn types_of(map: &Map<String, Value>) -> Option<Vec<String>> {
    match map.get("type")? {
        Value::String(s) => Some(vec![s.clone()]),
        Value::Array(a) => Some(
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
        ),
        _ => None,
    }
}

fn num(map: &Map<String, Value>, key: &str) -> Option<f64> {
    map.get(key).and_then(Value::as_f64)
}

impl Cx<'_> {
    fn fail(&mut self, path: &str, rule: &str) {
        self.errors.push(format!("{rule} at {path}"));
    }

    fn compare(&mut self, reader: &Value, writer: &Value, path: &str, depth: usize) {
        if depth > MAX_DEPTH {
            return;
        }
        // Resolve $ref on both sides (only a $ref-only object is replaced; siblings of
        // $ref are ignored as drafts before 2019-09 do).
        let reader = match reader.get("$ref").and_then(Value::as_str) {
            Some(r) => match self.reader.resolve_ref(r) {
                Some(v) => v,
                None => return,
            },
            None => reader,
        };
        let writer = match writer.get("$ref").and_then(Value::as_str) {
            Some(r) => match self.writer.resolve_ref(r) {
                Some(v) => v,
                None => return,
            },
            None => writer,
        };
        match (reader, writer) {
            (Value::Bool(true), _) | (_, Value::Bool(false)) => return,
            (Value::Bool(false), _) => return self.fail(path, "SCHEMA_NARROWED_TO_FALSE"),
            (Value::Object(r), Value::Bool(true)) => {
                if !is_unconstrained(r) {
                    self.fail(path, "SCHEMA_CONSTRAINED (was true)");
                }
                return;
            }
            _ => {}
        }
        let (Some(r), Some(w)) = (reader.as_object(), writer.as_object()) else {
            return;
        };
        // Combinators: every writer branch must be read by some reader branch.
        for key in ["oneOf", "anyOf"] {
            if let Some(Value::Array(r_branches)) = r.get(key) {
                let w_branches: Vec<&Value> = match w.get("oneOf").or_else(|| w.get("anyOf")) {
                    Some(Value::Array(b)) => b.iter().collect(),
                    _ => vec![writer],
                };
                for (i, wb) in w_branches.iter().enumerate() {
                    let readable = r_branches.iter().any(|rb| {
                        let mut sub = Cx {
                            reader: self.reader,
                            writer: self.writer,
                            errors: Vec::new(),
                        };
                        sub.compare(rb, wb, path, depth + 1);
                        sub.errors.is_empty()
                    });
                    if !readable {
                        self.fail(
                            &format!("{path}/{key}/{i}"),
                            "COMBINED_TYPE_SUBSCHEMAS_CHANGED",
                        );
                    }
                }
                return;
            }
        }
        if let Some(Value::Array(w_branches)) = w.get("oneOf").or_else(|| w.get("anyOf")) {
            // Writer is a sum, reader is not: the reader must read every branch.
            for (i, wb) in w_branches.iter().enumerate() {
                self.compare(reader, wb, &format!("{path}/anyOf/{i}"), depth + 1);
            }
            return;
        }
        if let Some(Value::Array(r_all)) = r.get("allOf") {
            for (i, rb) in r_all.iter().enumerate() {
                self.compare(rb, writer, &format!("{path}/allOf/{i}"), depth + 1);
            }
        }
        self.compare_types(r, w, path);
        self.compare_bounds(r, w, path);
        if r.contains_key("enum") {
            match (r.get("enum"), w.get("enum")) {
                (Some(Value::Array(re)), Some(Value::Array(we))) => {
                    if we.iter().any(|v| !re.contains(v)) {
                        self.fail(path, "ENUM_ARRAY_NARROWED");
                    }
                }
                _ => self.fail(path, "ENUM_ADDED"),
            }
        }
        if let Some(c) = r.get("const") {
            if w.get("const") != Some(c) {
                self.fail(path, "CONST_CHANGED");
            }
        }
        self.compare_object(r, w, path, depth);
        self.compare_array(r, w, path, depth);
    }

    fn compare_types(&mut self, r: &Map<String, Value>, w: &Map<String, Value>, path: &str) {
        let Some(r_types) = types_of(r) else { return };
        let Some(w_types) = types_of(w) else {
            return self.fail(path, "TYPE_NARROWED (type added)");
        };
        for t in &w_types {
            let ok =
                r_types.contains(t) || (t == "integer" && r_types.iter().any(|x| x == "number"));
            if !ok {
                self.fail(path, &format!("TYPE_CHANGED ({t} is not accepted)"));
            }
        }
    }

    fn compare_bounds(&mut self, r: &Map<String, Value>, w: &Map<String, Value>, path: &str) {
        // Upper bounds: the reader's may not be lower (or new). Lower bounds: not higher.
        for key in [
            "maximum",
            "exclusiveMaximum",
            "maxLength",
            "maxItems",
            "maxProperties",
        ] {
            if let Some(rv) = num(r, key) {
                match num(w, key) {
                    Some(wv) if rv >= wv => {}
                    Some(_) => self.fail(path, &format!("{}_DECREASED", rule_name(key))),
                    None => self.fail(path, &format!("{}_ADDED", rule_name(key))),
                }
            }
        }
        for key in [
            "minimum",
            "exclusiveMinimum",
            "minLength",
            "minItems",
            "minProperties",
        ] {
            if let Some(rv) = num(r, key) {
                match num(w, key) {
                    Some(wv) if rv <= wv => {}
                    Some(_) => self.fail(path, &format!("{}_INCREASED", rule_name(key))),
                    None => self.fail(path, &format!("{}_ADDED", rule_name(key))),
                }
            }
        }
        // Draft 4's boolean exclusive bounds: becoming exclusive narrows.
        for key in ["exclusiveMaximum", "exclusiveMinimum"] {
            if r.get(key) == Some(&Value::Bool(true)) && w.get(key) != Some(&Value::Bool(true)) {
                self.fail(path, &format!("{}_ADDED", rule_name(key)));
            }
        }
        if let Some(rm) = num(r, "multipleOf") {
            match num(w, "multipleOf") {
                Some(wm) if (wm / rm).fract().abs() < 1e-9 => {}
                Some(_) => self.fail(path, "MULTIPLE_OF_CHANGED"),
                None => self.fail(path, "MULTIPLE_OF_ADDED"),
            }
        }
        if let Some(p) = r.get("pattern") {
            if w.get("pattern") != Some(p) {
                self.fail(path, "PATTERN_ADDED_OR_CHANGED");
            }
        }
        if r.get("uniqueItems") == Some(&Value::Bool(true))
            && w.get("uniqueItems") != Some(&Value::Bool(true))
        {
            self.fail(path, "UNIQUE_ITEMS_ADDED");
        }
    }

    fn compare_object(
        &mut self,
        r: &Map<String, Value>,
        w: &Map<String, Value>,
        path: &str,
        depth: usize,
    ) {
        let empty = Map::new();
        let r_props = r
            .get("properties")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let w_props = w
            .get("properties")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let r_additional = r.get("additionalProperties");
        let w_additional = w.get("additionalProperties");
        let w_open = w_additional != Some(&Value::Bool(false));
        for (name, rp) in r_props {
            let p = format!("{path}/properties/{name}");
            match w_props.get(name) {
                Some(wp) => self.compare(rp, wp, &p, depth + 1),
                None if w_open => {
                    // The writer's open model may already have produced this property
                    // with any value its additionalProperties allows.
                    let w_any = w_additional.cloned().unwrap_or(Value::Bool(true));
                    let mut sub = Cx {
                        reader: self.reader,
                        writer: self.writer,
                        errors: Vec::new(),
                    };
                    sub.compare(rp, &w_any, &p, depth + 1);
                    if !sub.errors.is_empty() {
                        self.fail(&p, "PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL");
                    }
                }
                None => {}
            }
        }
        for (name, wp) in w_props {
            if r_props.contains_key(name) {
                continue;
            }
            let p = format!("{path}/properties/{name}");
            match r_additional {
                Some(Value::Bool(false)) => {
                    self.fail(&p, "PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL")
                }
                Some(ra @ Value::Object(_)) => self.compare(ra, wp, &p, depth + 1),
                _ => {}
            }
        }
        match (r_additional, w_additional) {
            (_, Some(Value::Bool(false))) | (None, _) | (Some(Value::Bool(true)), _) => {}
            (Some(Value::Bool(false)), _) => self.fail(path, "ADDITIONAL_PROPERTIES_REMOVED"),
            (Some(ra), Some(wa)) => {
                self.compare(ra, wa, &format!("{path}/additionalProperties"), depth + 1)
            }
            (Some(ra), None) => self.compare(
                ra,
                &Value::Bool(true),
                &format!("{path}/additionalProperties"),
                depth + 1,
            ),
        }
        let w_required: Vec<&Value> = w
            .get("required")
            .and_then(Value::as_array)
            .map(|a| a.iter().collect())
            .unwrap_or_default();
        if let Some(Value::Array(r_required)) = r.get("required") {
            for name in r_required {
                if !w_required.contains(&name) {
                    self.fail(
                        &format!("{path}/required/{}", name.as_str().unwrap_or("?")),
                        "REQUIRED_PROPERTY_ADDED",
                    );
                }
            }
        }
    }

    fn compare_array(
        &mut self,
        r: &Map<String, Value>,
        w: &Map<String, Value>,
        path: &str,
        depth: usize,
    ) {
        // Tuples: 2020-12's prefixItems, or an array-valued items in older drafts.
        let tuple = |m: &Map<String, Value>| -> Option<Vec<Value>> {
            match m.get("prefixItems").or_else(|| m.get("items")) {
                Some(Value::Array(a)) => Some(a.clone()),
                _ => None,
            }
        };
        let single = |m: &Map<String, Value>| -> Option<Value> {
            match m.get("items") {
                Some(v @ (Value::Object(_) | Value::Bool(_))) => Some(v.clone()),
                _ => None,
            }
        };
        if let (Some(rt), Some(wt)) = (tuple(r), tuple(w)) {
            for (i, (ri, wi)) in rt.iter().zip(wt.iter()).enumerate() {
                self.compare(ri, wi, &format!("{path}/items/{i}"), depth + 1);
            }
            if rt.len() > wt.len() {
                self.fail(path, "ITEM_ADDED_TO_TUPLE");
            }
        }
        if let Some(ri) = single(r) {
            let wi = single(w).unwrap_or(Value::Bool(true));
            self.compare(&ri, &wi, &format!("{path}/items"), depth + 1);
        }
    }
}

fn is_unconstrained(m: &Map<String, Value>) -> bool {
    m.keys().all(|k| {
        matches!(
            k.as_str(),
            "$schema"
                | "$id"
                | "id"
                | "title"
                | "description"
                | "$comment"
                | "default"
                | "examples"
                | "definitions"
                | "$defs"
        )
    })
}

fn rule_name(key: &str) -> String {
    let mut out = String::new();
    for c in key.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}
