//! Protobuf compatibility, table-driven: (old, new, level) -> verdict, one row per rule
//! of `formats::protobuf`; and the two input forms (.proto text, base64 descriptor).

use super::compat;
use super::formats::{self, ParsedSchema};
use super::{CompatibilityLevel, SchemaType};

fn proto(body: &str) -> String {
    format!("syntax = \"proto3\";\npackage p;\n{body}\n")
}

fn parse(text: &str) -> ParsedSchema {
    formats::parse(SchemaType::Protobuf, text, &[]).unwrap_or_else(|e| panic!("{text}: {e}"))
}

use CompatibilityLevel::{Backward, Full};

#[test]
fn protobuf_compatibility_table() {
    let base = proto("message M { int32 a = 1; string s = 2; }");
    let table: Vec<(&str, String, String, CompatibilityLevel, bool)> = vec![
        ("identical", base.clone(), base.clone(), Full, true),
        (
            "field added",
            base.clone(),
            proto("message M { int32 a = 1; string s = 2; bool b = 3; }"),
            Full,
            true,
        ),
        (
            "field removed",
            base.clone(),
            proto("message M { int32 a = 1; }"),
            Full,
            true,
        ),
        (
            "field renamed",
            base.clone(),
            proto("message M { int32 x = 1; string s = 2; }"),
            Full,
            true,
        ),
        (
            "int32 to int64 (same wire type)",
            base.clone(),
            proto("message M { int64 a = 1; string s = 2; }"),
            Full,
            true,
        ),
        (
            "string to bytes",
            base.clone(),
            proto("message M { int32 a = 1; bytes s = 2; }"),
            Full,
            true,
        ),
        (
            "number reused with another wire type",
            base.clone(),
            proto("message M { double a = 1; string s = 2; }"),
            Backward,
            false,
        ),
        (
            "sint32 to int32",
            proto("message M { sint32 a = 1; }"),
            proto("message M { int32 a = 1; }"),
            Backward,
            false,
        ),
        (
            "made repeated",
            base.clone(),
            proto("message M { repeated int32 a = 1; string s = 2; }"),
            Backward,
            false,
        ),
        (
            "message field type changed",
            proto("message A {} message B {} message M { A f = 1; }"),
            proto("message A {} message B {} message M { B f = 1; }"),
            Backward,
            false,
        ),
        (
            "record type renamed",
            base.clone(),
            proto("message N { int32 a = 1; string s = 2; }"),
            Backward,
            false,
        ),
        (
            "package changed",
            base.clone(),
            base.replace("package p;", "package q;"),
            Backward,
            false,
        ),
        (
            "required field added (proto2)",
            "syntax = \"proto2\"; message M { optional int32 a = 1; }".into(),
            "syntax = \"proto2\"; message M { optional int32 a = 1; required int32 b = 2; }".into(),
            Backward,
            false,
        ),
        (
            "required field removed (proto2)",
            "syntax = \"proto2\"; message M { required int32 a = 1; optional int32 b = 2; }".into(),
            "syntax = \"proto2\"; message M { optional int32 b = 2; }".into(),
            Backward,
            false,
        ),
        (
            "nested message gains a field",
            proto("message M { message N { int32 x = 1; } N n = 1; }"),
            proto("message M { message N { int32 x = 1; int32 y = 2; } N n = 1; }"),
            Full,
            true,
        ),
        (
            "nested message field retyped",
            proto("message M { message N { int32 x = 1; } N n = 1; }"),
            proto("message M { message N { string x = 1; } N n = 1; }"),
            Backward,
            false,
        ),
    ];
    for (what, old, new, level, compatible) in &table {
        let messages = compat::check(*level, &parse(new), &[parse(old)]);
        assert_eq!(messages.is_empty(), *compatible, "{what}: {messages:?}");
    }
    assert!(table.len() >= 16);
}

#[test]
fn protobuf_text_and_serialized_forms() {
    let text = proto("import \"google/protobuf/timestamp.proto\";\nmessage M { google.protobuf.Timestamp t = 1; }");
    let ParsedSchema::Protobuf(p) = parse(&text) else {
        unreachable!()
    };
    let serialized = p.serialized();
    // The base64 FileDescriptorProto parses to the same schema.
    assert!(compat::check(Full, &parse(&serialized), &[parse(&text)]).is_empty());
    assert_eq!(
        formats::format_for_answer(SchemaType::Protobuf, &text, Some("serialized")),
        serialized
    );
    for bad in [
        "message {",
        "syntax = \"proto3\"; message M { Missing m = 1; }",
        "bm90IGEgZGVzY3JpcHRvcg==",
    ] {
        assert!(
            formats::parse(SchemaType::Protobuf, bad, &[]).is_err(),
            "{bad}"
        );
    }
    let refs = [formats::ResolvedReference {
        name: "other.proto".into(),
        schema_type: SchemaType::Protobuf,
        schema: proto("message O { int32 v = 1; }"),
    }];
    let with_import = proto("import \"other.proto\";\nmessage M { O o = 1; }");
    assert!(formats::parse(SchemaType::Protobuf, &with_import, &refs).is_ok());
    assert!(formats::parse(SchemaType::Protobuf, &with_import, &[]).is_err());
}
