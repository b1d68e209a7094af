//! The registry's rules, table-driven: Avro compatibility verdicts per level for pairs
//! of schemas, and the registry's operations (ids, versions, deletes, references,
//! modes) on a real `_schemas` log, including replay after a reopen.

use std::sync::Arc;

use super::compat;
use super::formats::{self, ParsedSchema};
use super::*;
use crate::config::{BrokerConfig, Overrides};

fn avro(text: &str) -> ParsedSchema {
    formats::parse(SchemaType::Avro, text, &[]).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn record(fields: &str) -> String {
    format!(r#"{{"type":"record","name":"R","namespace":"n","fields":[{fields}]}}"#)
}

use CompatibilityLevel::{Backward, BackwardTransitive, Forward, Full, FullTransitive};
const NONE: CompatibilityLevel = CompatibilityLevel::None;

/// (what, old, new, level, compatible)
fn avro_table() -> Vec<(&'static str, String, String, CompatibilityLevel, bool)> {
    let a_int = r#"{"name":"a","type":"int"}"#;
    let a_long = r#"{"name":"a","type":"long"}"#;
    let a_string = r#"{"name":"a","type":"string"}"#;
    let a_bytes = r#"{"name":"a","type":"bytes"}"#;
    let b_def = r#"{"name":"b","type":"string","default":"x"}"#;
    let b_nodef = r#"{"name":"b","type":"string"}"#;
    let enum_ab = r#"{"name":"e","type":{"type":"enum","name":"E","symbols":["A","B"]}}"#;
    let enum_abc = r#"{"name":"e","type":{"type":"enum","name":"E","symbols":["A","B","C"]}}"#;
    let enum_abc_default =
        r#"{"name":"e","type":{"type":"enum","name":"E","symbols":["A","B","C"],"default":"A"}}"#;
    let union_ns = r#"{"name":"u","type":["null","string"]}"#;
    let union_nsi = r#"{"name":"u","type":["null","string","int"]}"#;
    let fixed4 = r#"{"name":"f","type":{"type":"fixed","name":"F","size":4}}"#;
    let fixed8 = r#"{"name":"f","type":{"type":"fixed","name":"F","size":8}}"#;
    let arr_int = r#"{"name":"l","type":{"type":"array","items":"int"}}"#;
    let arr_long = r#"{"name":"l","type":{"type":"array","items":"long"}}"#;
    let map_int = r#"{"name":"m","type":{"type":"map","values":"int"}}"#;
    let map_string = r#"{"name":"m","type":{"type":"map","values":"string"}}"#;
    let r = |f: &str| record(f);
    let two = |x: &str, y: &str| record(&format!("{x},{y}"));
    vec![
        ("identical", r(a_int), r(a_int), FullTransitive, true),
        ("add field with default, backward", r(a_int), two(a_int, b_def), Backward, true),
        ("add field with default, full", r(a_int), two(a_int, b_def), Full, true),
        ("add field without default, backward", r(a_int), two(a_int, b_nodef), Backward, false),
        ("add field without default, forward", r(a_int), two(a_int, b_nodef), Forward, true),
        ("add field without default, full", r(a_int), two(a_int, b_nodef), Full, false),
        ("add field without default, none", r(a_int), two(a_int, b_nodef), NONE, true),
        ("remove field with default, forward", two(a_int, b_def), r(a_int), Forward, true),
        ("remove field without default, backward", two(a_int, b_nodef), r(a_int), Backward, true),
        ("remove field without default, forward", two(a_int, b_nodef), r(a_int), Forward, false),
        ("int promoted to long, backward", r(a_int), r(a_long), Backward, true),
        ("int promoted to long, forward", r(a_int), r(a_long), Forward, false),
        ("long narrowed to int, backward", r(a_long), r(a_int), Backward, false),
        ("string read as bytes", r(a_string), r(a_bytes), Backward, true),
        ("int changed to string", r(a_int), r(a_string), Backward, false),
        ("enum symbol added, backward", r(enum_ab), r(enum_abc), Backward, true),
        ("enum symbol added, forward", r(enum_ab), r(enum_abc), Forward, false),
        ("enum symbol removed, backward", r(enum_abc), r(enum_ab), Backward, false),
        ("enum symbol added with a default, forward", r(enum_ab), r(enum_abc_default), Forward, false),
        ("union branch added, backward", r(union_ns), r(union_nsi), Backward, true),
        ("union branch added, forward", r(union_ns), r(union_nsi), Forward, false),
        ("union branch removed, backward", r(union_nsi), r(union_ns), Backward, false),
        ("fixed size changed", r(fixed4), r(fixed8), Backward, false),
        ("array items promoted", r(arr_int), r(arr_long), Backward, true),
        ("array items narrowed", r(arr_long), r(arr_int), Backward, false),
        ("map values changed", r(map_int), r(map_string), Backward, false),
        (
            "record renamed",
            r(a_int),
            r#"{"type":"record","name":"Other","namespace":"n","fields":[{"name":"a","type":"int"}]}"#.into(),
            Backward,
            false,
        ),
        ("primitive int to long", r#""int""#.into(), r#""long""#.into(), Backward, true),
        ("primitive to record", r#""int""#.into(), r(a_int), Full, false),
        (
            "nested record gains a defaulted field",
            r(r#"{"name":"n","type":{"type":"record","name":"N","fields":[{"name":"x","type":"int"}]}}"#),
            r(r#"{"name":"n","type":{"type":"record","name":"N","fields":[{"name":"x","type":"int"},{"name":"y","type":"int","default":0}]}}"#),
            Full,
            true,
        ),
    ]
}

#[test]
fn avro_compatibility_table() {
    let table = avro_table();
    for (what, old, new, level, compatible) in &table {
        let messages = compat::check(*level, &avro(new), &[avro(old)]);
        assert_eq!(
            messages.is_empty(),
            *compatible,
            "{what} under {}: {messages:?}",
            level.as_str()
        );
    }
    assert!(table.len() >= 30);
}

/// Transitive levels check every live version, the others only the latest.
#[test]
fn transitive_levels_check_every_version() {
    let v1 = avro(&record(r#"{"name":"a","type":"int"}"#));
    // v2 drops a; v3 adds a back as a string: readable from v2's data (a defaulted),
    // not from v1's (int is not a string).
    let v2 = avro(&record(r#"{"name":"b","type":"int","default":0}"#));
    let v3 = avro(&record(
        r#"{"name":"b","type":"int","default":0},{"name":"a","type":"string","default":""}"#,
    ));
    assert!(compat::check(
        Backward,
        &v3,
        &[avro(&record(r#"{"name":"a","type":"int"}"#)), v2]
    )
    .is_empty());
    let v2 = avro(&record(r#"{"name":"b","type":"int","default":0}"#));
    assert!(!compat::check(BackwardTransitive, &v3, &[v1, v2]).is_empty());
}

#[test]
fn avro_parse_refuses_unknown_names_and_bad_json() {
    for bad in [
        r#"{"type":"record","name":"R","fields":[{"name":"a","type":"Missing"}]}"#,
        "{not json",
        r#"{"type":"enum","name":"E","symbols":["A","A"]}"#,
        r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int","default":"x"}]}"#,
    ] {
        assert!(formats::parse(SchemaType::Avro, bad, &[]).is_err(), "{bad}");
    }
}

fn open(dir: &std::path::Path) -> (Arc<crate::topics::TopicRegistry>, SchemaRegistry) {
    let overrides = Overrides {
        listen: Some("127.0.0.1:0".into()),
        data_dir: Some(dir.to_path_buf()),
        ..Default::default()
    };
    let config = Arc::new(BrokerConfig::load(None, &overrides).unwrap());
    let clock = crate::clock::Clock::system();
    let topics = Arc::new(crate::topics::TopicRegistry::load(config, clock.clone()).unwrap());
    let registry = SchemaRegistry::open(topics.clone(), clock, 1 << 20).unwrap();
    (topics, registry)
}

fn input(schema: &str) -> SchemaInput {
    SchemaInput {
        schema_type: SchemaType::Avro,
        schema: schema.to_string(),
        references: vec![],
        id: Option::None,
        version: Option::None,
    }
}

#[tokio::test]
async fn ids_are_dense_shared_by_content_and_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let (topics, reg) = open(dir.path());
    let s1 = record(r#"{"name":"a","type":"int"}"#);
    let s2 = record(r#"{"name":"a","type":"int"},{"name":"b","type":"int","default":1}"#);
    let r1 = reg.register("x-value", &input(&s1), false).await.unwrap();
    assert_eq!((r1.id, r1.version), (1, 1));
    // Whitespace does not make another schema; another subject shares the id.
    let again = reg
        .register("x-value", &input(&s1.replace(',', " , ")), false)
        .await
        .unwrap();
    assert_eq!((again.id, again.version), (1, 1));
    let other = reg.register("y-value", &input(&s1), false).await.unwrap();
    assert_eq!((other.id, other.version), (1, 1));
    let r2 = reg.register("x-value", &input(&s2), false).await.unwrap();
    assert_eq!((r2.id, r2.version), (2, 2));
    let incompatible = reg
        .register(
            "x-value",
            &input(&record(r#"{"name":"a","type":"string"}"#)),
            false,
        )
        .await
        .unwrap_err();
    assert_eq!(incompatible.error_code, 409);
    // Hard delete of the only version carrying id 2: the id is not given again.
    assert_eq!(
        reg.delete_version("x-value", VersionSpec::Number(2), true)
            .await
            .unwrap_err()
            .error_code,
        40407
    );
    assert_eq!(
        reg.delete_version("x-value", VersionSpec::Number(2), false)
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        reg.delete_version("x-value", VersionSpec::Number(2), false)
            .await
            .unwrap_err()
            .error_code,
        40406
    );
    assert_eq!(
        reg.delete_version("x-value", VersionSpec::Number(2), true)
            .await
            .unwrap(),
        2
    );
    assert_eq!(reg.schema_by_id(2).await.unwrap_err().error_code, 40403);
    let s3 = record(r#"{"name":"a","type":"int"},{"name":"c","type":"int","default":1}"#);
    let r3 = reg.register("x-value", &input(&s3), false).await.unwrap();
    assert_eq!((r3.id, r3.version), (3, 2));
    reg.set_config(Some("y-value"), Full).await.unwrap();
    reg.delete_subject("y-value", false).await.unwrap();
    assert_eq!(
        reg.delete_subject("y-value", false)
            .await
            .unwrap_err()
            .error_code,
        40404
    );
    assert_eq!(
        reg.delete_subject("x-value", true)
            .await
            .unwrap_err()
            .error_code,
        40405
    );
    drop(reg);
    topics.close_all();
    drop(topics);

    let (topics, reg) = open(dir.path());
    assert_eq!(reg.max_id(), 3);
    assert_eq!(
        reg.versions("x-value", false, false).await.unwrap(),
        vec![1, 2]
    );
    assert_eq!(
        reg.versions("y-value", false, false)
            .await
            .unwrap_err()
            .error_code,
        40401
    );
    assert_eq!(reg.versions("y-value", true, false).await.unwrap(), vec![1]);
    assert_eq!(reg.config(Some("y-value"), false).await.unwrap(), Full);
    assert_eq!(
        reg.schema_by_id(3).await.unwrap().schema,
        avro(&s3).canonical(false)
    );
    let r4 = reg
        .register(
            "z-value",
            &input(r#"{"type":"enum","name":"E","symbols":["A"]}"#),
            false,
        )
        .await
        .unwrap();
    assert_eq!(r4.id, 4);
    topics.close_all();
}

#[tokio::test]
async fn references_resolve_and_protect_what_they_name() {
    let dir = tempfile::tempdir().unwrap();
    let (topics, reg) = open(dir.path());
    let address = r#"{"type":"record","name":"Address","namespace":"n","fields":[{"name":"city","type":"string"}]}"#;
    let person = r#"{"type":"record","name":"Person","namespace":"n","fields":[{"name":"home","type":"Address"}]}"#;
    assert_eq!(
        reg.register("person", &input(person), false)
            .await
            .unwrap_err()
            .error_code,
        42201
    );
    let a = reg
        .register("address", &input(address), false)
        .await
        .unwrap();
    let mut with_ref = input(person);
    with_ref.references = vec![Reference {
        name: "n.Address".into(),
        subject: "address".into(),
        version: 1,
    }];
    let p = reg.register("person", &with_ref, false).await.unwrap();
    assert_eq!(p.id, a.id + 1);
    assert_eq!(
        reg.referenced_by("address", VersionSpec::Latest)
            .await
            .unwrap(),
        vec![p.id]
    );
    assert_eq!(
        reg.delete_subject("address", false)
            .await
            .unwrap_err()
            .error_code,
        42206
    );
    // A compatible evolution of the referring schema is checked with the reference inlined.
    let mut evolved = with_ref.clone();
    evolved.schema = r#"{"type":"record","name":"Person","namespace":"n","fields":[{"name":"home","type":"Address"},{"name":"age","type":"int","default":0}]}"#.into();
    assert_eq!(
        reg.register("person", &evolved, false)
            .await
            .unwrap()
            .version,
        2
    );
    let mut broken = with_ref.clone();
    broken.schema = r#"{"type":"record","name":"Person","namespace":"n","fields":[{"name":"home","type":"Address"},{"name":"age","type":"string","default":""}]}"#.into();
    assert_eq!(
        reg.register("person", &broken, false)
            .await
            .unwrap_err()
            .error_code,
        409
    );
    let mut dangling = with_ref.clone();
    dangling.references[0].version = 9;
    assert_eq!(
        reg.register("person", &dangling, false)
            .await
            .unwrap_err()
            .error_code,
        42201
    );
    topics.close_all();
}

#[tokio::test]
async fn modes_gate_writes_and_import_keeps_ids() {
    let dir = tempfile::tempdir().unwrap();
    let (topics, reg) = open(dir.path());
    reg.set_mode(None, Mode::Import, false).await.unwrap();
    assert_eq!(
        reg.register("s", &input(r#""int""#), false)
            .await
            .unwrap_err()
            .error_code,
        42205
    );
    let mut imported = input(r#""int""#);
    imported.id = Some(100);
    imported.version = Some(3);
    let r = reg.register("s", &imported, false).await.unwrap();
    assert_eq!((r.id, r.version), (100, 3));
    let mut clash = input(r#""long""#);
    clash.id = Some(100);
    assert_eq!(
        reg.register("t", &clash, false)
            .await
            .unwrap_err()
            .error_code,
        42207
    );
    assert_eq!(
        reg.set_mode(None, Mode::Import, false)
            .await
            .unwrap_err()
            .error_code,
        42205
    );
    reg.set_mode(None, Mode::ReadOnly, false).await.unwrap();
    assert_eq!(
        reg.register("s", &input(r#""long""#), false)
            .await
            .unwrap_err()
            .error_code,
        42205
    );
    assert_eq!(
        reg.delete_subject("s", false).await.unwrap_err().error_code,
        42205
    );
    reg.set_mode(None, Mode::ReadWrite, false).await.unwrap();
    // After an import, new ids continue above the highest one.
    reg.set_config(Some("s"), NONE).await.unwrap();
    assert_eq!(
        reg.register("s", &input(r#""long""#), false)
            .await
            .unwrap()
            .id,
        101
    );
    topics.close_all();
}
