//! Compatibility levels over the formats' reader/writer rule: BACKWARD means the new
//! schema reads data written with the old one, FORWARD the reverse, FULL both; the
//! transitive levels check every live version instead of only the latest.

use super::formats::ParsedSchema;
use super::model::CompatibilityLevel;

/// The messages of every rule `new` breaks against `existing` (oldest first) under
/// `level`; empty means compatible.
pub fn check(
    level: CompatibilityLevel,
    new: &ParsedSchema,
    existing: &[ParsedSchema],
) -> Vec<String> {
    if level == CompatibilityLevel::None {
        return Vec::new();
    }
    let against: &[ParsedSchema] = if level.transitive() {
        existing
    } else {
        match existing.last() {
            Some(_) => &existing[existing.len() - 1..],
            None => &[],
        }
    };
    let mut messages = Vec::new();
    for old in against {
        if level.backward() {
            for m in new.read_errors(old) {
                messages.push(format!("{{errorType:'BACKWARD', description:'The new schema cannot read data written with an earlier schema: {m}'}}"));
            }
        }
        if level.forward() {
            for m in old.read_errors(new) {
                messages.push(format!("{{errorType:'FORWARD', description:'An earlier schema cannot read data written with the new schema: {m}'}}"));
            }
        }
    }
    messages
}
