//! One share-partition's state (Kafka's SharePartition, KIP-932): the share-partition
//! start offset (SPSO), the end of what was ever acquired (SPEO), and the in-flight
//! records between them with their delivery state and delivery count.
//!
//! A pure state machine: acquisition takes the offsets the caller read from the log,
//! acknowledgements and lock expiry move records between states, and the durable view
//! ([`SharePartition::state_batches`]) is what the share coordinator writes to
//! `__share_group_state`. It never reads a log, never writes, and never looks at the
//! clock itself (times are passed in), so it is tested on its own.

use std::collections::BTreeMap;

/// Kafka's RecordState, with the values it persists (Acquired is never persisted).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordState {
    Available,
    Acquired,
    Acknowledged,
    Archived,
}

impl RecordState {
    pub fn code(self) -> i8 {
        match self {
            RecordState::Available => 0,
            RecordState::Acquired => 1,
            RecordState::Acknowledged => 2,
            RecordState::Archived => 4,
        }
    }

    /// Kafka's name of the state (RecordState in Kafka's share-partition), lower case.
    pub fn name(self) -> &'static str {
        match self {
            RecordState::Available => "available",
            RecordState::Acquired => "acquired",
            RecordState::Acknowledged => "acknowledged",
            RecordState::Archived => "archived",
        }
    }

    pub fn from_code(code: i8) -> Option<RecordState> {
        Some(match code {
            0 => RecordState::Available,
            1 => RecordState::Acquired,
            2 => RecordState::Acknowledged,
            4 => RecordState::Archived,
            _ => return None,
        })
    }
}

/// Kafka's AcknowledgeType (ShareFetch/ShareAcknowledge `AcknowledgeTypes`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AckType {
    Gap,
    Accept,
    Release,
    Reject,
    /// ShareFetch/ShareAcknowledge v2 (KIP-1222): keep the record and extend its lock.
    Renew,
}

impl AckType {
    pub fn from_code(code: i8) -> Option<AckType> {
        Some(match code {
            0 => AckType::Gap,
            1 => AckType::Accept,
            2 => AckType::Release,
            3 => AckType::Reject,
            4 => AckType::Renew,
            _ => return None,
        })
    }
}

/// The group settings acquisition and release follow.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub record_lock_duration_ms: i64,
    pub delivery_count_limit: i16,
    pub max_record_locks: usize,
}

#[derive(Clone, Debug, PartialEq)]
struct InFlight {
    state: RecordState,
    delivery_count: i16,
    /// The member holding the acquisition lock (Acquired only).
    member: Option<String>,
    lock_deadline_ms: i64,
}

/// An offset the log holds at or after the partition's next fetch offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Candidate {
    /// A data record that may be delivered.
    Data(i64),
    /// An offset never delivered: a control record, or a record of an aborted
    /// transaction under read_committed.
    Skip(i64),
}

/// A run of offsets acquired in one go with one delivery count (ShareFetch's
/// AcquiredRecords).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AcquiredRange {
    pub first_offset: i64,
    pub last_offset: i64,
    pub delivery_count: i16,
}

/// A run of offsets with one persisted state and delivery count (the StateBatch of
/// ShareSnapshot/ShareUpdate).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StateBatch {
    pub first_offset: i64,
    pub last_offset: i64,
    pub state: RecordState,
    pub delivery_count: i16,
}

/// A run of in-flight offsets with one live state, delivery count and holder, as
/// `sluice group describe` and the console show them (unlike [`StateBatch`], an
/// acquisition in progress shows as acquired, by its member).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InFlightRun {
    pub first_offset: i64,
    pub last_offset: i64,
    pub state: RecordState,
    pub delivery_count: i16,
    /// The member holding the acquisition lock (acquired runs only).
    pub member: Option<String>,
    /// When the earliest lock of the run runs out (acquired runs only, else 0).
    pub lock_deadline_ms: i64,
}

/// Why an acknowledgement was refused: Kafka's INVALID_RECORD_STATE (or
/// INVALID_REQUEST for a malformed batch).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AckError {
    InvalidRecordState(String),
    InvalidRequest(String),
}

#[derive(Clone, Debug, Default)]
pub struct SharePartition {
    /// SPSO: every offset below it is acknowledged or archived.
    pub start_offset: i64,
    /// SPEO + 1: the next offset never acquired. Offsets in [start, end) absent from
    /// `records` are gaps (no record, a control record or an aborted one).
    pub end_offset: i64,
    pub state_epoch: i32,
    records: BTreeMap<i64, InFlight>,
}

impl SharePartition {
    /// A share-partition that starts delivering at `start_offset`.
    pub fn new(start_offset: i64) -> SharePartition {
        SharePartition {
            start_offset,
            end_offset: start_offset,
            state_epoch: 0,
            records: BTreeMap::new(),
        }
    }

    /// Rebuilt from a persisted snapshot: acquired records come back available.
    pub fn from_snapshot(state_epoch: i32, start_offset: i64, batches: &[StateBatch]) -> Self {
        let mut p = SharePartition::new(start_offset);
        p.state_epoch = state_epoch;
        p.apply_update(None, batches);
        p
    }

    /// Applies a ShareUpdate: a new start offset (if any), then each batch's state.
    pub fn apply_update(&mut self, start_offset: Option<i64>, batches: &[StateBatch]) {
        if let Some(s) = start_offset {
            self.move_start_to(s);
        }
        for b in batches {
            for o in b.first_offset.max(self.start_offset)..=b.last_offset {
                let state = match b.state {
                    RecordState::Acquired => RecordState::Available,
                    s => s,
                };
                self.records.insert(
                    o,
                    InFlight {
                        state,
                        delivery_count: b.delivery_count,
                        member: None,
                        lock_deadline_ms: 0,
                    },
                );
                self.end_offset = self.end_offset.max(o + 1);
            }
        }
        self.advance_start();
    }

    /// Moves the start offset (AlterShareGroupOffsets, a log start offset past it):
    /// everything below is forgotten.
    pub fn move_start_to(&mut self, offset: i64) {
        self.start_offset = offset;
        self.end_offset = self.end_offset.max(offset);
        self.records = self.records.split_off(&offset);
        if self.records.is_empty() {
            self.end_offset = offset;
        }
    }

    /// Where the next read of the log starts: the first available record, or the end.
    pub fn next_fetch_offset(&self) -> i64 {
        self.records
            .iter()
            .find(|(_, r)| r.state == RecordState::Available)
            .map(|(o, _)| *o)
            .unwrap_or(self.end_offset)
    }

    /// Records currently acquired, available, acknowledged or archived above the start.
    pub fn in_flight(&self) -> usize {
        self.records.len()
    }

    /// Kafka's deliveryCompleteCount (KIP-1226): offsets in [start, end) that no member
    /// will ever be given again, acknowledged or archived records and the gaps (control
    /// records, aborted or compacted-away offsets), so that the share-partition lag is
    /// `end of log - start - this`.
    pub fn delivery_complete_count(&self) -> i64 {
        let pending = self
            .records
            .values()
            .filter(|r| matches!(r.state, RecordState::Available | RecordState::Acquired))
            .count() as i64;
        debug_assert!(self.end_offset >= self.start_offset);
        (self.end_offset - self.start_offset) - pending
    }

    /// Acquires up to `max_records` of `candidates` (in offset order, as read from the
    /// log at [`Self::next_fetch_offset`]) for `member`, locking each until
    /// `now_ms + record_lock_duration_ms`.
    ///
    /// `batch_ends` (the last offset of each producer batch read, in order) turns on
    /// ShareFetch's batch-optimized mode: `max_records` is then a soft limit,
    /// acquisition runs on to the end of the batch the limit was reached in, and no
    /// acquired range crosses a batch boundary. Empty: a strict record limit.
    pub fn acquire(
        &mut self,
        candidates: &[Candidate],
        member: &str,
        now_ms: i64,
        limits: &Limits,
        max_records: usize,
        batch_ends: &[i64],
    ) -> Vec<AcquiredRange> {
        let batch_of = |o: i64| batch_ends.partition_point(|&end| end < o);
        let mut acquired: Vec<(i64, i16)> = Vec::new();
        // With batch alignment: the last offset acquisition may still reach.
        let mut stop_after: Option<i64> = None;
        for c in candidates {
            let (offset, data) = match *c {
                Candidate::Data(o) => (o, true),
                Candidate::Skip(o) => (o, false),
            };
            match stop_after {
                Some(last) if offset > last => break,
                Some(_) => {}
                None if acquired.len() >= max_records => {
                    let held = acquired.last().map(|a| a.0).unwrap_or(i64::MAX);
                    match batch_ends.get(batch_of(held)) {
                        Some(&end) if offset <= end => stop_after = Some(end),
                        _ => break,
                    }
                }
                None => {}
            }
            if offset < self.start_offset {
                continue;
            }
            let lock = |count: i16| InFlight {
                state: RecordState::Acquired,
                delivery_count: count,
                member: Some(member.to_string()),
                lock_deadline_ms: now_ms + limits.record_lock_duration_ms,
            };
            if offset < self.end_offset {
                if let Some(r) = self.records.get_mut(&offset) {
                    if r.state == RecordState::Available && data {
                        *r = lock(r.delivery_count.saturating_add(1));
                        acquired.push((offset, r.delivery_count));
                    }
                }
                continue;
            }
            if !data {
                self.end_offset = offset + 1;
                continue;
            }
            if self.records.len() >= limits.max_record_locks {
                break;
            }
            self.records.insert(offset, lock(1));
            self.end_offset = offset + 1;
            acquired.push((offset, 1));
        }
        self.advance_start();
        let mut ranges: Vec<AcquiredRange> = Vec::new();
        for (o, count) in acquired {
            match ranges.last_mut() {
                Some(r)
                    if r.last_offset + 1 == o
                        && r.delivery_count == count
                        && (batch_ends.is_empty() || batch_of(r.last_offset) == batch_of(o)) =>
                {
                    r.last_offset = o
                }
                _ => ranges.push(AcquiredRange {
                    first_offset: o,
                    last_offset: o,
                    delivery_count: count,
                }),
            }
        }
        ranges
    }

    /// Applies one acknowledgement batch of `member` at `now_ms`: `types` holds one
    /// type for the whole range or one per offset. All or nothing: an offset not
    /// acquired by the member refuses the whole batch with INVALID_RECORD_STATE.
    pub fn acknowledge(
        &mut self,
        member: &str,
        first_offset: i64,
        last_offset: i64,
        types: &[i8],
        limits: &Limits,
        now_ms: i64,
    ) -> Result<(), AckError> {
        if last_offset < first_offset {
            return Err(AckError::InvalidRequest(format!(
                "last offset {last_offset} below first offset {first_offset}"
            )));
        }
        // Nothing outside the in-flight window can be acquired: refusing it here also
        // bounds the work a batch can ask for.
        if first_offset < self.start_offset || last_offset >= self.end_offset {
            return Err(AckError::InvalidRecordState(format!(
                "offsets {first_offset}-{last_offset} are outside the in-flight records {}-{}",
                self.start_offset,
                self.end_offset - 1
            )));
        }
        let len = (last_offset - first_offset + 1) as usize;
        if types.len() != 1 && types.len() != len {
            return Err(AckError::InvalidRequest(format!(
                "{} acknowledge types for {len} offsets",
                types.len()
            )));
        }
        let type_at = |o: i64| -> Result<AckType, AckError> {
            let code = if types.len() == 1 {
                types[0]
            } else {
                types[(o - first_offset) as usize]
            };
            AckType::from_code(code)
                .ok_or_else(|| AckError::InvalidRequest(format!("unknown acknowledge type {code}")))
        };
        for o in first_offset..=last_offset {
            let ty = type_at(o)?;
            match (self.records.get(&o), ty) {
                // A gap the client saw: nothing is held there.
                (None, AckType::Gap) if o < self.end_offset => {}
                (Some(r), _) if r.state == RecordState::Acquired => {
                    if r.member.as_deref() != Some(member) {
                        return Err(AckError::InvalidRecordState(format!(
                            "offset {o} is acquired by another member"
                        )));
                    }
                }
                _ => {
                    return Err(AckError::InvalidRecordState(format!(
                        "offset {o} is not acquired by this member"
                    )))
                }
            }
        }
        for o in first_offset..=last_offset {
            let ty = type_at(o)?;
            match ty {
                AckType::Gap => {
                    if let Some(r) = self.records.get_mut(&o) {
                        r.state = RecordState::Archived;
                        r.member = None;
                    }
                }
                AckType::Accept => self.set(o, RecordState::Acknowledged),
                AckType::Reject => self.set(o, RecordState::Archived),
                AckType::Release => self.release(o, limits),
                AckType::Renew => {
                    if let Some(r) = self.records.get_mut(&o) {
                        r.lock_deadline_ms = now_ms + limits.record_lock_duration_ms;
                    }
                }
            }
        }
        self.advance_start();
        Ok(())
    }

    /// Returns every record whose acquisition lock ran out; true if any changed.
    pub fn expire_locks(&mut self, now_ms: i64, limits: &Limits) -> bool {
        let expired: Vec<i64> = self
            .records
            .iter()
            .filter(|(_, r)| r.state == RecordState::Acquired && r.lock_deadline_ms <= now_ms)
            .map(|(o, _)| *o)
            .collect();
        for o in &expired {
            self.release(*o, limits);
        }
        self.advance_start();
        !expired.is_empty()
    }

    /// Releases everything `member` holds (its share session closed or it left the
    /// group); true if anything changed.
    pub fn release_member(&mut self, member: &str, limits: &Limits) -> bool {
        let held: Vec<i64> = self
            .records
            .iter()
            .filter(|(_, r)| {
                r.state == RecordState::Acquired && r.member.as_deref() == Some(member)
            })
            .map(|(o, _)| *o)
            .collect();
        for o in &held {
            self.release(*o, limits);
        }
        self.advance_start();
        !held.is_empty()
    }

    /// The earliest lock deadline of an acquired record, if any.
    pub fn next_lock_deadline(&self) -> Option<i64> {
        self.records
            .values()
            .filter(|r| r.state == RecordState::Acquired)
            .map(|r| r.lock_deadline_ms)
            .min()
    }

    /// Every in-flight record as persisted (acquired ones as available, without the
    /// delivery in progress), in runs of one state and delivery count.
    pub fn state_batches(&self) -> Vec<StateBatch> {
        let mut out: Vec<StateBatch> = Vec::new();
        for (o, r) in &self.records {
            // An acquisition in progress is not persisted, as in Kafka: a restart
            // brings the record back as it was before this delivery.
            let (state, count) = match r.state {
                RecordState::Acquired => (RecordState::Available, r.delivery_count - 1),
                s => (s, r.delivery_count),
            };
            match out.last_mut() {
                Some(b)
                    if b.last_offset + 1 == *o && b.state == state && b.delivery_count == count =>
                {
                    b.last_offset = *o
                }
                _ => out.push(StateBatch {
                    first_offset: *o,
                    last_offset: *o,
                    state,
                    delivery_count: count,
                }),
            }
        }
        out
    }

    /// The in-flight records as they are now (acquisitions included, with their holder
    /// and lock deadline), in runs of consecutive offsets with one state, delivery count
    /// and holder; at most `max_runs`, and whether more were left out.
    pub fn in_flight_runs(&self, max_runs: usize) -> (Vec<InFlightRun>, bool) {
        let mut out: Vec<InFlightRun> = Vec::new();
        for (o, r) in &self.records {
            if let Some(run) = out.last_mut() {
                if run.last_offset + 1 == *o
                    && run.state == r.state
                    && run.delivery_count == r.delivery_count
                    && run.member == r.member
                {
                    run.last_offset = *o;
                    if r.state == RecordState::Acquired {
                        run.lock_deadline_ms = run.lock_deadline_ms.min(r.lock_deadline_ms);
                    }
                    continue;
                }
            }
            if out.len() == max_runs {
                return (out, true);
            }
            out.push(InFlightRun {
                first_offset: *o,
                last_offset: *o,
                state: r.state,
                delivery_count: r.delivery_count,
                member: r.member.clone(),
                lock_deadline_ms: if r.state == RecordState::Acquired {
                    r.lock_deadline_ms
                } else {
                    0
                },
            });
        }
        (out, false)
    }

    /// (offset, state, delivery count) of every in-flight record, for describe.
    pub fn records(&self) -> impl Iterator<Item = (i64, RecordState, i16)> + '_ {
        self.records
            .iter()
            .map(|(o, r)| (*o, r.state, r.delivery_count))
    }

    fn set(&mut self, offset: i64, state: RecordState) {
        if let Some(r) = self.records.get_mut(&offset) {
            r.state = state;
            r.member = None;
        }
    }

    /// Back to available, or archived once the delivery count reached the limit
    /// (Kafka's group.share.delivery.count.limit).
    fn release(&mut self, offset: i64, limits: &Limits) {
        if let Some(r) = self.records.get_mut(&offset) {
            r.state = if r.delivery_count >= limits.delivery_count_limit {
                RecordState::Archived
            } else {
                RecordState::Available
            };
            r.member = None;
        }
    }

    /// Moves the start offset past acknowledged and archived records and gaps.
    fn advance_start(&mut self) {
        while self.start_offset < self.end_offset {
            match self.records.range(self.start_offset..).next() {
                None => {
                    self.start_offset = self.end_offset;
                }
                Some((&o, _)) if o > self.start_offset => self.start_offset = o,
                Some((&o, r)) => {
                    if matches!(r.state, RecordState::Acknowledged | RecordState::Archived) {
                        self.records.remove(&o);
                        self.start_offset = o + 1;
                    } else {
                        break;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
#[path = "partition_tests.rs"]
mod tests;
