//! The schema formats behind one interface: parse a submitted schema (with the
//! schemas it references), give its stored text, and say why one version cannot read
//! data written with another. Each format lives in its own file; the registry's
//! compatibility levels are built on [`ParsedSchema::read_errors`] in `compat`.

pub mod avro;
pub mod json_schema;
pub mod protobuf;

use super::model::SchemaType;

/// A referenced schema, resolved from its subject and version.
#[derive(Clone, Debug)]
pub struct ResolvedReference {
    /// The name the referring schema uses for it.
    pub name: String,
    pub schema_type: SchemaType,
    pub schema: String,
}

/// A parsed schema of any format.
pub enum ParsedSchema {
    Avro(Box<avro::AvroSchema>),
    Json(json_schema::JsonSchema),
    Protobuf(Box<protobuf::ProtobufSchema>),
}

/// Parses `text` as a schema of `schema_type`. `references` are every schema it
/// references, transitively, dependencies first. The error is the reason, for a
/// 42201 answer.
pub fn parse(
    schema_type: SchemaType,
    text: &str,
    references: &[ResolvedReference],
) -> Result<ParsedSchema, String> {
    match schema_type {
        SchemaType::Avro => {
            let texts: Vec<&str> = references.iter().map(|r| r.schema.as_str()).collect();
            avro::parse(text, &texts).map(|s| ParsedSchema::Avro(Box::new(s)))
        }
        SchemaType::Json => {
            let refs: Vec<(&str, &str)> = references
                .iter()
                .map(|r| (r.name.as_str(), r.schema.as_str()))
                .collect();
            json_schema::parse(text, &refs).map(ParsedSchema::Json)
        }
        SchemaType::Protobuf => {
            let refs: Vec<(&str, &str)> = references
                .iter()
                .map(|r| (r.name.as_str(), r.schema.as_str()))
                .collect();
            protobuf::parse(text, &refs).map(|s| ParsedSchema::Protobuf(Box::new(s)))
        }
    }
}

impl ParsedSchema {
    /// The text stored and served for this schema (`normalize`: the format's
    /// normalised form, so equivalent schemas get one id).
    pub fn canonical(&self, normalize: bool) -> String {
        match self {
            ParsedSchema::Avro(s) => s.canonical(normalize),
            ParsedSchema::Json(s) => s.canonical(normalize),
            ParsedSchema::Protobuf(s) => s.canonical(normalize),
        }
    }

    /// Why a consumer holding `self` cannot read data written with `writer`; empty
    /// when it can. Schemas of different formats never read each other.
    pub fn read_errors(&self, writer: &ParsedSchema) -> Vec<String> {
        match (self, writer) {
            (ParsedSchema::Avro(r), ParsedSchema::Avro(w)) => r.read_errors(w),
            (ParsedSchema::Json(r), ParsedSchema::Json(w)) => r.read_errors(w),
            (ParsedSchema::Protobuf(r), ParsedSchema::Protobuf(w)) => r.read_errors(w),
            _ => vec!["the schema types differ".to_string()],
        }
    }
}

/// The stored text in the form an answer asks for: `format=serialized` gives a
/// Protobuf schema as Confluent's base64 FileDescriptorProto (when the text compiles
/// without its imports; otherwise, and for other formats, the stored text).
pub fn format_for_answer(schema_type: SchemaType, stored: &str, format: Option<&str>) -> String {
    if schema_type == SchemaType::Protobuf
        && format.is_some_and(|f| f.eq_ignore_ascii_case("serialized"))
    {
        if let Ok(p) = protobuf::parse(stored, &[]) {
            return p.serialized();
        }
    }
    stored.to_string()
}
