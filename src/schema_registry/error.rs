//! The registry's errors, under Confluent Schema Registry's error codes (40401 subject
//! not found, 42201 invalid schema, 409 incompatible, ...), so a REST front end can
//! answer exactly what Confluent's clients expect. The HTTP status is the code's first
//! three digits; this module never speaks HTTP itself.

use std::fmt;

/// One refused registry operation: Confluent's `error_code` and a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistryError {
    pub error_code: u32,
    pub message: String,
}

impl RegistryError {
    pub fn new(error_code: u32, message: impl Into<String>) -> RegistryError {
        RegistryError {
            error_code,
            message: message.into(),
        }
    }

    /// The HTTP status Confluent's registry sends with this code (40401 -> 404,
    /// 409 -> 409).
    pub fn status(&self) -> u16 {
        let code = self.error_code;
        let status = if code >= 10_000 { code / 100 } else { code };
        status as u16
    }

    pub fn subject_not_found(subject: &str) -> RegistryError {
        RegistryError::new(40401, format!("Subject '{subject}' not found."))
    }
    pub fn version_not_found(subject: &str, version: i32) -> RegistryError {
        RegistryError::new(
            40402,
            format!("Version {version} not found for subject '{subject}'."),
        )
    }
    pub fn schema_not_found(what: impl fmt::Display) -> RegistryError {
        RegistryError::new(40403, format!("Schema {what} not found"))
    }
    pub fn subject_soft_deleted(subject: &str) -> RegistryError {
        RegistryError::new(
            40404,
            format!(
                "Subject '{subject}' was soft deleted.Set permanent=true to delete permanently"
            ),
        )
    }
    pub fn subject_not_soft_deleted(subject: &str) -> RegistryError {
        RegistryError::new(
            40405,
            format!("Subject '{subject}' was not deleted first before being permanently deleted"),
        )
    }
    pub fn version_soft_deleted(subject: &str, version: i32) -> RegistryError {
        RegistryError::new(
            40406,
            format!("Subject '{subject}' Version {version} was soft deleted.Set permanent=true to delete permanently"),
        )
    }
    pub fn version_not_soft_deleted(subject: &str, version: i32) -> RegistryError {
        RegistryError::new(
            40407,
            format!("Subject '{subject}' Version {version} was not deleted first before being permanently deleted"),
        )
    }
    pub fn subject_config_not_configured(subject: &str) -> RegistryError {
        RegistryError::new(
            40408,
            format!("Subject '{subject}' does not have subject-level compatibility configured"),
        )
    }
    pub fn subject_mode_not_configured(subject: &str) -> RegistryError {
        RegistryError::new(
            40409,
            format!("Subject '{subject}' does not have subject-level mode configured"),
        )
    }
    pub fn incompatible(subject: &str, messages: &[String]) -> RegistryError {
        RegistryError::new(
            409,
            format!(
                "Schema being registered is incompatible with an earlier schema for subject \"{subject}\", details: [{}]",
                messages.join(", ")
            ),
        )
    }
    pub fn invalid_schema(message: impl fmt::Display) -> RegistryError {
        RegistryError::new(42201, format!("Invalid schema {message}"))
    }
    pub fn invalid_version(version: impl fmt::Display) -> RegistryError {
        RegistryError::new(
            42202,
            format!("The specified version '{version}' is not a valid version id. Allowed values are between [1, 2^31-1] and the string \"latest\""),
        )
    }
    pub fn invalid_compatibility_level(level: impl fmt::Display) -> RegistryError {
        RegistryError::new(
            42203,
            format!("Invalid compatibility level. Valid values are none, backward, forward, full, backward_transitive, forward_transitive, and full_transitive (got {level})"),
        )
    }
    pub fn invalid_mode(mode: impl fmt::Display) -> RegistryError {
        RegistryError::new(
            42204,
            format!("Invalid mode. Valid values are READWRITE, READONLY and IMPORT (got {mode})"),
        )
    }
    pub fn operation_not_permitted(message: impl Into<String>) -> RegistryError {
        RegistryError::new(42205, message)
    }
    pub fn reference_exists(message: impl Into<String>) -> RegistryError {
        RegistryError::new(42206, message)
    }
    pub fn id_does_not_match(message: impl Into<String>) -> RegistryError {
        RegistryError::new(42207, message)
    }
    pub fn invalid_subject(subject: &str) -> RegistryError {
        RegistryError::new(
            42208,
            format!("The specified subject '{subject}' is not valid."),
        )
    }
    pub fn schema_too_large(message: impl Into<String>) -> RegistryError {
        RegistryError::new(42209, message)
    }
    pub fn store_error(message: impl Into<String>) -> RegistryError {
        RegistryError::new(50001, message)
    }
}

impl fmt::Display for RegistryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (error code {})", self.message, self.error_code)
    }
}

impl std::error::Error for RegistryError {}

pub type Result<T, E = RegistryError> = std::result::Result<T, E>;
