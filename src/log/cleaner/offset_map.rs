//! The cleaner's bounded key -> last offset map (Kafka's `SkimpyOffsetMap`).
//!
//! Owns one fixed-size open-addressing table of (128-bit key hash, offset) slots whose
//! memory is chosen up front (`log.cleaner.dedupe.buffer.size`) and never grows: when
//! it holds `load factor × slots` keys it refuses new ones, and the cleaner cleans the
//! prefix of the dirty range that fitted (as Kafka does). Keys are hashed with two
//! randomly keyed SipHash instances (a fresh pair per map), so a collision that would
//! make the cleaner drop a record needs two 64-bit hashes to collide under secret keys.
//! It must never store keys themselves, allocate after construction, or read files.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;

/// Bytes per slot: two hash halves and the offset, as three u64 words.
pub const SLOT_BYTES: usize = 24;

pub struct OffsetMap {
    /// `3 × slots` words: hash1, hash2, offset + 1 (0 = empty slot). Allocated zeroed,
    /// so untouched pages cost no memory.
    table: Vec<u64>,
    slots: usize,
    max_entries: usize,
    entries: usize,
    /// Largest offset put so far, -1 if none.
    latest_offset: i64,
    h1: RandomState,
    h2: RandomState,
}

impl OffsetMap {
    /// A map using at most `memory_bytes` of table (at least one slot), filled up to
    /// `load_factor` of its slots.
    pub fn new(memory_bytes: usize, load_factor: f64) -> OffsetMap {
        let slots = (memory_bytes / SLOT_BYTES).max(1);
        let max_entries = ((slots as f64) * load_factor.clamp(0.01, 1.0)) as usize;
        OffsetMap {
            table: vec![0u64; slots * 3],
            slots,
            max_entries: max_entries.clamp(1, slots),
            entries: 0,
            latest_offset: -1,
            h1: RandomState::new(),
            h2: RandomState::new(),
        }
    }

    /// How many distinct keys fit.
    pub fn capacity(&self) -> usize {
        self.max_entries
    }

    pub fn len(&self) -> usize {
        self.entries
    }

    pub fn is_empty(&self) -> bool {
        self.entries == 0
    }

    pub fn is_full(&self) -> bool {
        self.entries >= self.max_entries
    }

    /// Largest offset put, -1 if none.
    pub fn latest_offset(&self) -> i64 {
        self.latest_offset
    }

    fn hashes(&self, key: &[u8]) -> (u64, u64) {
        (self.h1.hash_one(key), self.h2.hash_one(key))
    }

    /// Slot holding `key`'s hashes, or the empty slot where it would go; `None` when
    /// every slot is taken by other keys.
    fn find(&self, a: u64, b: u64) -> Option<usize> {
        let mut i = (a % self.slots as u64) as usize;
        for _ in 0..self.slots {
            let w = &self.table[i * 3..i * 3 + 3];
            if w[2] == 0 || (w[0] == a && w[1] == b) {
                return Some(i);
            }
            i = (i + 1) % self.slots;
        }
        None
    }

    /// Records `offset` as the latest for `key`. Returns false (and changes nothing)
    /// when the key is new and the map is full.
    pub fn put(&mut self, key: &[u8], offset: i64) -> bool {
        debug_assert!(offset >= 0);
        let (a, b) = self.hashes(key);
        let Some(i) = self.find(a, b) else {
            return false;
        };
        if self.table[i * 3 + 2] == 0 {
            if self.is_full() {
                return false;
            }
            self.entries += 1;
            self.table[i * 3] = a;
            self.table[i * 3 + 1] = b;
        }
        self.table[i * 3 + 2] = offset as u64 + 1;
        self.latest_offset = self.latest_offset.max(offset);
        true
    }

    /// The latest offset put for `key`.
    pub fn get(&self, key: &[u8]) -> Option<i64> {
        let (a, b) = self.hashes(key);
        let w = self.table[self.find(a, b)? * 3 + 2];
        (w != 0).then(|| w as i64 - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_latest_offset_and_refuses_new_keys_when_full() {
        let mut m = OffsetMap::new(10 * SLOT_BYTES, 0.5);
        assert_eq!(m.capacity(), 5);
        for i in 0..5 {
            assert!(m.put(format!("k{i}").as_bytes(), i));
        }
        assert!(m.is_full());
        assert!(!m.put(b"new", 99), "a new key does not fit");
        assert!(m.put(b"k1", 42), "an existing key is updated when full");
        assert_eq!(m.get(b"k1"), Some(42));
        assert_eq!(m.get(b"k0"), Some(0));
        assert_eq!(m.get(b"new"), None);
        assert_eq!(m.latest_offset(), 42);
        assert_eq!(m.len(), 5);
    }

    #[test]
    fn tiny_memory_still_holds_one_key() {
        let mut m = OffsetMap::new(0, 0.9);
        assert!(m.put(b"a", 1));
        assert!(!m.put(b"b", 2));
        assert_eq!(m.get(b"a"), Some(1));
    }
}
