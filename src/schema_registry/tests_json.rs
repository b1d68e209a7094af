//! JSON Schema compatibility, table-driven: (old, new, level) -> verdict, one row per
//! rule of `formats::json_schema`, across drafts.

use super::compat;
use super::formats::{self, ParsedSchema};
use super::{CompatibilityLevel, SchemaType};

fn json(text: &str) -> ParsedSchema {
    formats::parse(SchemaType::Json, text, &[]).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn obj(props: &str, extra: &str) -> String {
    let sep = if extra.is_empty() { "" } else { "," };
    format!(r#"{{"type":"object","properties":{{{props}}}{sep}{extra}}}"#)
}

use CompatibilityLevel::{Backward, Forward, Full};

#[test]
fn json_schema_compatibility_table() {
    let closed = r#""additionalProperties":false"#;
    let a_int = r#""a":{"type":"integer"}"#;
    let a_num = r#""a":{"type":"number"}"#;
    let a_str = r#""a":{"type":"string"}"#;
    let b_str = r#""b":{"type":"string"}"#;
    let table: Vec<(&str, String, String, CompatibilityLevel, bool)> = vec![
        ("identical", obj(a_int, ""), obj(a_int, ""), Full, true),
        ("integer widened to number", obj(a_int, ""), obj(a_num, ""), Backward, true),
        ("number narrowed to integer", obj(a_num, ""), obj(a_int, ""), Backward, false),
        ("integer widened, forward", obj(a_int, ""), obj(a_num, ""), Forward, false),
        ("type changed", obj(a_int, ""), obj(a_str, ""), Backward, false),
        ("property added to closed model", obj(a_int, closed), obj(&format!("{a_int},{b_str}"), closed), Backward, true),
        ("property added to open model", obj(a_int, ""), obj(&format!("{a_int},{b_str}"), ""), Backward, false),
        ("unconstrained property added to open model", obj(a_int, ""), obj(&format!(r#"{a_int},"b":{{}}"#), ""), Backward, true),
        ("property removed from open model", obj(&format!("{a_int},{b_str}"), ""), obj(a_int, ""), Backward, true),
        ("property removed from closed model", obj(&format!("{a_int},{b_str}"), closed), obj(a_int, closed), Backward, false),
        ("model closed", obj(a_int, ""), obj(a_int, closed), Backward, false),
        ("model opened", obj(a_int, closed), obj(a_int, ""), Backward, true),
        ("required added", obj(a_int, ""), obj(a_int, r#""required":["a"]"#), Backward, false),
        ("required removed", obj(a_int, r#""required":["a"]"#), obj(a_int, ""), Backward, true),
        ("required removed, forward", obj(a_int, r#""required":["a"]"#), obj(a_int, ""), Forward, false),
        ("enum extended", r#"{"enum":["A","B"]}"#.into(), r#"{"enum":["A","B","C"]}"#.into(), Backward, true),
        ("enum narrowed", r#"{"enum":["A","B"]}"#.into(), r#"{"enum":["A"]}"#.into(), Backward, false),
        ("enum added", r#"{"type":"string"}"#.into(), r#"{"type":"string","enum":["A"]}"#.into(), Backward, false),
        ("maximum added", r#"{"type":"number"}"#.into(), r#"{"type":"number","maximum":10}"#.into(), Backward, false),
        ("maximum increased", r#"{"type":"number","maximum":10}"#.into(), r#"{"type":"number","maximum":20}"#.into(), Backward, true),
        ("minimum increased", r#"{"type":"number","minimum":1}"#.into(), r#"{"type":"number","minimum":2}"#.into(), Backward, false),
        ("maxLength decreased", r#"{"type":"string","maxLength":10}"#.into(), r#"{"type":"string","maxLength":5}"#.into(), Backward, false),
        ("minLength removed", r#"{"type":"string","minLength":3}"#.into(), r#"{"type":"string"}"#.into(), Backward, true),
        ("pattern added", r#"{"type":"string"}"#.into(), r#"{"type":"string","pattern":"^a"}"#.into(), Backward, false),
        ("draft 4 exclusiveMaximum turned on", r#"{"type":"number","maximum":5}"#.into(), r#"{"type":"number","maximum":5,"exclusiveMaximum":true}"#.into(), Backward, false),
        ("array items widened", r#"{"type":"array","items":{"type":"integer"}}"#.into(), r#"{"type":"array","items":{"type":"number"}}"#.into(), Backward, true),
        ("array items narrowed", r#"{"type":"array","items":{"type":"number"}}"#.into(), r#"{"type":"array","items":{"type":"integer"}}"#.into(), Backward, false),
        ("maxItems added", r#"{"type":"array"}"#.into(), r#"{"type":"array","maxItems":3}"#.into(), Backward, false),
        ("2020-12 prefixItems tuple item narrowed", r#"{"type":"array","prefixItems":[{"type":"number"}]}"#.into(), r#"{"type":"array","prefixItems":[{"type":"integer"}]}"#.into(), Backward, false),
        ("oneOf branch added", r#"{"oneOf":[{"type":"string"}]}"#.into(), r#"{"oneOf":[{"type":"string"},{"type":"integer"}]}"#.into(), Backward, true),
        ("oneOf branch removed", r#"{"oneOf":[{"type":"string"},{"type":"integer"}]}"#.into(), r#"{"oneOf":[{"type":"string"}]}"#.into(), Backward, false),
        ("type made a oneOf", r#"{"type":"string"}"#.into(), r#"{"oneOf":[{"type":"string"},{"type":"null"}]}"#.into(), Backward, true),
        ("local $ref followed", r##"{"definitions":{"A":{"type":"integer"}},"type":"object","properties":{"a":{"$ref":"#/definitions/A"}}}"##.into(), r##"{"$defs":{"A":{"type":"string"}},"type":"object","properties":{"a":{"$ref":"#/$defs/A"}}}"##.into(), Backward, false),
        ("schema false to true", "false".into(), "true".into(), Backward, true),
        ("schema true to constrained", "true".into(), r#"{"type":"string"}"#.into(), Backward, false),
        ("nested property narrowed", obj(&format!(r#""n":{}"#, obj(a_num, "")), ""), obj(&format!(r#""n":{}"#, obj(a_int, "")), ""), Backward, false),
    ];
    for (what, old, new, level, compatible) in &table {
        let messages = compat::check(*level, &json(new), &[json(old)]);
        assert_eq!(
            messages.is_empty(),
            *compatible,
            "{what} under {}: {messages:?}",
            level.as_str()
        );
    }
    assert!(table.len() >= 36);
}

#[test]
fn json_schema_parse_refuses_what_the_registry_must() {
    for bad in [
        "{not json",
        "[1]",
        r#"{"type":"strin"}"#,
        r##"{"properties":{"a":{"$ref":"#/definitions/Missing"}}}"##,
        r#"{"properties":{"a":{"$ref":"other.json"}}}"#,
    ] {
        assert!(formats::parse(SchemaType::Json, bad, &[]).is_err(), "{bad}");
    }
    let refs = [formats::ResolvedReference {
        name: "other.json".into(),
        schema_type: SchemaType::Json,
        schema: r#"{"type":"string"}"#.into(),
    }];
    assert!(formats::parse(
        SchemaType::Json,
        r#"{"properties":{"a":{"$ref":"other.json"}}}"#,
        &refs
    )
    .is_ok());
}
