//! Protobuf schemas: parsing `.proto` text (or the base64 serialized
//! FileDescriptorProto that Confluent's Python serializer sends) with `protox`, imports
//! resolved from the schema's references and Google's well-known types, and Confluent's
//! Protobuf compatibility rules on the compiled descriptors: the first message (the
//! record type) removed or renamed, the package changed, a field number reused with a
//! wire-incompatible type, a field's kind (singular/repeated) or message type changed,
//! a required field added or removed.
//!
//! The stored text is what was submitted (a base64 descriptor stays base64: Sluice has no
//! `.proto` printer); `format=serialized` answers the base64 descriptor of a `.proto`
//! text. Enum value changes and oneof moves are not compared.

use std::collections::HashMap;

use base64::Engine;
use prost::Message;
use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::{DescriptorProto, FileDescriptorProto};
use protox::file::{ChainFileResolver, File, FileResolver, GoogleFileResolver};

/// A compiled Protobuf schema.
pub struct ProtobufSchema {
    text: String,
    file: FileDescriptorProto,
}

/// The name the main file is compiled under when its text does not carry one.
const MAIN: &str = "sluice_schema_registry_main.proto";

fn to_file(name: &str, text: &str) -> Result<File, String> {
    match File::from_source(name, text) {
        Ok(f) => Ok(f),
        Err(parse_error) => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(text.trim())
                .map_err(|_| parse_error.to_string())?;
            let mut proto = FileDescriptorProto::decode(bytes.as_slice())
                .map_err(|e| format!("neither .proto text ({parse_error}) nor a serialized FileDescriptorProto ({e})"))?;
            proto.name = Some(name.to_string());
            Ok(File::from_file_descriptor_proto(proto))
        }
    }
}

struct Sources(HashMap<String, String>);

impl FileResolver for Sources {
    fn open_file(&self, name: &str) -> Result<File, protox::Error> {
        match self.0.get(name) {
            Some(text) => {
                to_file(name, text).map_err(|e| protox::Error::new(std::io::Error::other(e)))
            }
            None => Err(protox::Error::file_not_found(name)),
        }
    }
}

/// Compiles `text`; `references` are (import path, text).
pub fn parse(text: &str, references: &[(&str, &str)]) -> Result<ProtobufSchema, String> {
    let mut sources: HashMap<String, String> = references
        .iter()
        .map(|(n, t)| (n.to_string(), t.to_string()))
        .collect();
    sources.insert(MAIN.to_string(), text.to_string());
    let mut chain = ChainFileResolver::new();
    chain.add(Sources(sources));
    chain.add(GoogleFileResolver::new());
    let mut compiler = protox::Compiler::with_file_resolver(chain);
    compiler.include_imports(true);
    compiler.open_file(MAIN).map_err(|e| e.to_string())?;
    let file = compiler
        .file_descriptor_set()
        .file
        .into_iter()
        .find(|f| f.name() == MAIN)
        .ok_or("the schema did not compile to a file")?;
    Ok(ProtobufSchema {
        text: text.trim().to_string(),
        file,
    })
}

impl ProtobufSchema {
    pub fn canonical(&self, _normalize: bool) -> String {
        self.text.clone()
    }

    /// The base64 serialized FileDescriptorProto (Confluent's `format=serialized`).
    pub fn serialized(&self) -> String {
        let mut file = self.file.clone();
        file.name = None;
        file.source_code_info = None;
        base64::engine::general_purpose::STANDARD.encode(file.encode_to_vec())
    }

    /// Why a reader with `self` cannot read what `writer` wrote.
    pub fn read_errors(&self, writer: &ProtobufSchema) -> Vec<String> {
        let mut errors = Vec::new();
        if self.file.package() != writer.file.package() {
            errors.push(format!(
                "PACKAGE_CHANGED: {} -> {}",
                writer.file.package(),
                self.file.package()
            ));
        }
        match (
            writer.file.message_type.first(),
            self.file.message_type.first(),
        ) {
            (Some(w), Some(r)) if w.name() != r.name() => errors.push(format!(
                "MESSAGE_REMOVED: the record type {} is now {}",
                w.name(),
                r.name()
            )),
            (Some(w), None) => errors.push(format!("MESSAGE_REMOVED: {}", w.name())),
            _ => {}
        }
        let readers = messages(&self.file);
        for (name, w) in messages(&writer.file) {
            if let Some(r) = readers.get(&name) {
                compare_message(&name, r, w, &mut errors);
            }
        }
        errors
    }
}

fn messages(file: &FileDescriptorProto) -> HashMap<String, &DescriptorProto> {
    fn walk<'a>(
        prefix: &str,
        list: &'a [DescriptorProto],
        out: &mut HashMap<String, &'a DescriptorProto>,
    ) {
        for m in list {
            let name = format!("{prefix}{}", m.name());
            walk(&format!("{name}."), &m.nested_type, out);
            out.insert(name, m);
        }
    }
    let mut out = HashMap::new();
    walk("", &file.message_type, &mut out);
    out
}

/// Wire-compatible scalar groups: a field may change type within its group.
fn wire_group(t: Type) -> u8 {
    match t {
        Type::Int32 | Type::Uint32 | Type::Int64 | Type::Uint64 | Type::Bool | Type::Enum => 1,
        Type::Sint32 | Type::Sint64 => 2,
        Type::Fixed32 | Type::Sfixed32 => 3,
        Type::Fixed64 | Type::Sfixed64 => 4,
        Type::String | Type::Bytes => 5,
        Type::Float => 6,
        Type::Double => 7,
        Type::Message => 8,
        Type::Group => 9,
    }
}

fn compare_message(name: &str, r: &DescriptorProto, w: &DescriptorProto, errors: &mut Vec<String>) {
    let r_fields: HashMap<i32, _> = r.field.iter().map(|f| (f.number(), f)).collect();
    let w_fields: HashMap<i32, _> = w.field.iter().map(|f| (f.number(), f)).collect();
    for (number, wf) in &w_fields {
        let Some(rf) = r_fields.get(number) else {
            if wf.label() == Label::Required {
                errors.push(format!(
                    "REQUIRED_FIELD_REMOVED: {name}.{} ({number})",
                    wf.name()
                ));
            }
            continue;
        };
        if wire_group(rf.r#type()) != wire_group(wf.r#type()) {
            errors.push(format!(
                "FIELD_SCALAR_KIND_CHANGED: {name} field {number} {:?} -> {:?}",
                wf.r#type(),
                rf.r#type()
            ));
        } else if matches!(rf.r#type(), Type::Message | Type::Enum)
            && rf.type_name() != wf.type_name()
        {
            errors.push(format!(
                "FIELD_NAMED_TYPE_CHANGED: {name} field {number} {} -> {}",
                wf.type_name(),
                rf.type_name()
            ));
        }
        if (rf.label() == Label::Repeated) != (wf.label() == Label::Repeated) {
            errors.push(format!(
                "FIELD_KIND_CHANGED: {name} field {number} repeated-ness changed"
            ));
        }
    }
    for (number, rf) in &r_fields {
        if rf.label() == Label::Required && !w_fields.contains_key(number) {
            errors.push(format!(
                "REQUIRED_FIELD_ADDED: {name}.{} ({number})",
                rf.name()
            ));
        }
    }
}
