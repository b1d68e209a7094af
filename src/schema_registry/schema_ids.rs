//! The registry's answer to the broker's schema id validation (the seam
//! [`SchemaIdLookup`] the log's validator asks through): is an id a live (not
//! soft-deleted) version of a subject a topic's naming strategy admits.
//!
//! A read of the in-memory state under its read lock, never I/O: the validator asks
//! once per distinct id per batch. It never writes and never waits for durability (a
//! version is visible here once applied, as it is to the registry's own readers'
//! lock-free paths; the produce that uses it is acknowledged only after its own fsync).

use crate::log::validator::schema_ids::{SchemaIdLookup, Subjects};

use super::records::{State, VersionEntry};
use super::SchemaRegistry;

impl SchemaIdLookup for SchemaRegistry {
    fn registered_under(&self, id: i32, subjects: Subjects<'_>) -> bool {
        registered_under(&self.state.read(), id, subjects)
    }

    fn exists(&self, id: i32) -> bool {
        self.state.read().schemas.contains_key(&id)
    }
}

fn live_with(versions: &std::collections::BTreeMap<i32, VersionEntry>, id: i32) -> bool {
    versions.values().any(|e| e.id == id && !e.deleted)
}

fn registered_under(state: &State, id: i32, subjects: Subjects<'_>) -> bool {
    if !state.schemas.contains_key(&id) {
        return false;
    }
    match subjects {
        Subjects::Exact(subject) => state
            .subjects
            .get(subject)
            .is_some_and(|vs| live_with(vs, id)),
        Subjects::Prefix(prefix) => state
            .subjects
            .range::<str, _>((
                std::ops::Bound::Excluded(prefix),
                std::ops::Bound::Unbounded,
            ))
            .take_while(|(s, _)| s.starts_with(prefix))
            .any(|(_, vs)| live_with(vs, id)),
        Subjects::Any => state.subjects.values().any(|vs| live_with(vs, id)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema_registry::records::{schema_value, RecordKey, SchemaValue};

    fn put(state: &mut State, subject: &str, version: i32, id: i32) {
        let value = SchemaValue {
            subject: subject.into(),
            version,
            id,
            schema_type: None,
            references: vec![],
            schema: format!("\"schema{id}\""),
            deleted: false,
        };
        let key = RecordKey::Schema {
            subject: subject.into(),
            version,
        };
        state.apply(&key, Some(&schema_value(&value)));
    }

    #[test]
    fn ids_count_under_live_versions_of_admitted_subjects_only() {
        let mut state = State::default();
        put(&mut state, "orders-value", 1, 1);
        put(&mut state, "orders-com.acme.Order", 1, 2);
        put(&mut state, "ordersx-value", 1, 3);
        put(&mut state, "other-value", 1, 4);
        assert!(registered_under(&state, 1, Subjects::Exact("orders-value")));
        assert!(!registered_under(
            &state,
            4,
            Subjects::Exact("orders-value")
        ));
        assert!(!registered_under(&state, 9, Subjects::Any));
        assert!(registered_under(&state, 2, Subjects::Prefix("orders-")));
        assert!(!registered_under(&state, 3, Subjects::Prefix("orders-")));
        assert!(registered_under(&state, 4, Subjects::Any));
        // A soft-deleted version no longer admits its id.
        state.apply(
            &RecordKey::DeleteSubject {
                subject: "orders-value".into(),
            },
            Some(&crate::schema_registry::records::delete_subject_value(
                "orders-value",
                1,
            )),
        );
        assert!(!registered_under(
            &state,
            1,
            Subjects::Exact("orders-value")
        ));
        assert!(state.schemas.contains_key(&1), "the id still exists");
    }
}
