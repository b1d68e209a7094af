//! The registry's vocabulary under Confluent's names: schema types, compatibility
//! levels, modes, references and version selectors, each parsed from and printed as
//! the strings Confluent's REST API and `_schemas` records use.

use serde::{Deserialize, Serialize};

use super::error::{RegistryError, Result};

/// The schema formats the registry understands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SchemaType {
    Avro,
    Json,
    Protobuf,
}

impl SchemaType {
    pub const ALL: [SchemaType; 3] = [SchemaType::Json, SchemaType::Protobuf, SchemaType::Avro];

    pub fn as_str(self) -> &'static str {
        match self {
            SchemaType::Avro => "AVRO",
            SchemaType::Json => "JSON",
            SchemaType::Protobuf => "PROTOBUF",
        }
    }

    /// Confluent's `schemaType`; absent means AVRO. Case-insensitive like the registry.
    pub fn parse(s: Option<&str>) -> Result<SchemaType> {
        match s.map(|s| s.to_ascii_uppercase()).as_deref() {
            None | Some("AVRO") | Some("") => Ok(SchemaType::Avro),
            Some("JSON") => Ok(SchemaType::Json),
            Some("PROTOBUF") => Ok(SchemaType::Protobuf),
            Some(other) => Err(RegistryError::new(
                42201,
                format!(
                    "Invalid schema type {other}: the registry supports AVRO, JSON and PROTOBUF"
                ),
            )),
        }
    }
}

/// A compatibility level (Confluent's names); BACKWARD is the default.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompatibilityLevel {
    None,
    Backward,
    BackwardTransitive,
    Forward,
    ForwardTransitive,
    Full,
    FullTransitive,
}

impl CompatibilityLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            CompatibilityLevel::None => "NONE",
            CompatibilityLevel::Backward => "BACKWARD",
            CompatibilityLevel::BackwardTransitive => "BACKWARD_TRANSITIVE",
            CompatibilityLevel::Forward => "FORWARD",
            CompatibilityLevel::ForwardTransitive => "FORWARD_TRANSITIVE",
            CompatibilityLevel::Full => "FULL",
            CompatibilityLevel::FullTransitive => "FULL_TRANSITIVE",
        }
    }

    pub fn parse(s: &str) -> Result<CompatibilityLevel> {
        Ok(match s.to_ascii_uppercase().as_str() {
            "NONE" => CompatibilityLevel::None,
            "BACKWARD" => CompatibilityLevel::Backward,
            "BACKWARD_TRANSITIVE" => CompatibilityLevel::BackwardTransitive,
            "FORWARD" => CompatibilityLevel::Forward,
            "FORWARD_TRANSITIVE" => CompatibilityLevel::ForwardTransitive,
            "FULL" => CompatibilityLevel::Full,
            "FULL_TRANSITIVE" => CompatibilityLevel::FullTransitive,
            _ => return Err(RegistryError::invalid_compatibility_level(s)),
        })
    }

    /// Whether the new schema must be checked against every live version, not only the
    /// latest.
    pub fn transitive(self) -> bool {
        matches!(
            self,
            CompatibilityLevel::BackwardTransitive
                | CompatibilityLevel::ForwardTransitive
                | CompatibilityLevel::FullTransitive
        )
    }

    /// New schema reads data written with the old one.
    pub fn backward(self) -> bool {
        matches!(
            self,
            CompatibilityLevel::Backward
                | CompatibilityLevel::BackwardTransitive
                | CompatibilityLevel::Full
                | CompatibilityLevel::FullTransitive
        )
    }

    /// Old schema reads data written with the new one.
    pub fn forward(self) -> bool {
        matches!(
            self,
            CompatibilityLevel::Forward
                | CompatibilityLevel::ForwardTransitive
                | CompatibilityLevel::Full
                | CompatibilityLevel::FullTransitive
        )
    }
}

/// The registry's mode: READWRITE (default), READONLY (no writes), IMPORT
/// (registrations carry their ids, to migrate a registry).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    ReadWrite,
    ReadOnly,
    Import,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::ReadWrite => "READWRITE",
            Mode::ReadOnly => "READONLY",
            Mode::Import => "IMPORT",
        }
    }

    pub fn parse(s: &str) -> Result<Mode> {
        Ok(match s.to_ascii_uppercase().as_str() {
            "READWRITE" => Mode::ReadWrite,
            "READONLY" | "READONLY_OVERRIDE" => Mode::ReadOnly,
            "IMPORT" => Mode::Import,
            _ => return Err(RegistryError::invalid_mode(s)),
        })
    }
}

/// A schema reference: `name` is how the referring schema names it (an Avro full
/// name, a JSON Schema `$ref` URL, a .proto import path), `subject`/`version` where it
/// is registered.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Reference {
    pub name: String,
    pub subject: String,
    pub version: i32,
}

/// A schema as a client submits it (register, lookup, compatibility check).
#[derive(Clone, Debug)]
pub struct SchemaInput {
    pub schema_type: SchemaType,
    pub schema: String,
    pub references: Vec<Reference>,
    /// IMPORT mode only: the id (and version) the schema had in the registry it
    /// comes from.
    pub id: Option<i32>,
    pub version: Option<i32>,
}

/// A version selector in a path: a number in [1, 2^31-1], or `latest` / -1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VersionSpec {
    Latest,
    Number(i32),
}

impl VersionSpec {
    pub fn parse(s: &str) -> Result<VersionSpec> {
        if s.eq_ignore_ascii_case("latest") {
            return Ok(VersionSpec::Latest);
        }
        match s.parse::<i32>() {
            Ok(-1) => Ok(VersionSpec::Latest),
            Ok(n) if n >= 1 => Ok(VersionSpec::Number(n)),
            _ => Err(RegistryError::invalid_version(s)),
        }
    }
}

/// A registered schema as the API returns it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubjectVersion {
    pub subject: String,
    pub version: i32,
    pub id: i32,
    pub schema_type: SchemaType,
    pub schema: String,
    pub references: Vec<Reference>,
    pub deleted: bool,
}

/// A schema by id (the text is shared by every subject-version that has this id).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredSchema {
    pub id: i32,
    pub schema_type: SchemaType,
    pub schema: String,
    pub references: Vec<Reference>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_in_any_case() {
        assert_eq!(
            CompatibilityLevel::parse("full_transitive").unwrap(),
            CompatibilityLevel::FullTransitive
        );
        assert_eq!(
            CompatibilityLevel::parse("x").unwrap_err().error_code,
            42203
        );
        assert_eq!(Mode::parse("import").unwrap(), Mode::Import);
        assert_eq!(Mode::parse("x").unwrap_err().error_code, 42204);
        assert_eq!(SchemaType::parse(None).unwrap(), SchemaType::Avro);
        assert_eq!(
            SchemaType::parse(Some("protobuf")).unwrap(),
            SchemaType::Protobuf
        );
        assert_eq!(VersionSpec::parse("LATEST").unwrap(), VersionSpec::Latest);
        assert_eq!(VersionSpec::parse("-1").unwrap(), VersionSpec::Latest);
        assert_eq!(VersionSpec::parse("7").unwrap(), VersionSpec::Number(7));
        for bad in ["0", "-2", "abc", "99999999999"] {
            assert_eq!(
                VersionSpec::parse(bad).unwrap_err().error_code,
                42202,
                "{bad}"
            );
        }
    }
}
