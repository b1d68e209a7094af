//! One transactional id's state (Kafka's `TransactionMetadata`) and its state machine:
//! which transitions are legal, and the `prepare_*` steps that compute the next state
//! as a [`TxnTransitMetadata`] without applying it.
//!
//! A transition is two-phase, as in Kafka: `prepare_*` validates, computes the target
//! and sets `pending_state` (so concurrent requests get CONCURRENT_TRANSACTIONS); the
//! caller writes the target to `__transaction_state`, waits for the fsync, then calls
//! [`TransactionMetadata::complete_transition`] (or `abort_transition` on failure).
//! This module is pure state: it never does I/O, never locks, never parses requests.

use std::collections::BTreeSet;

use crate::error::ResponseError;

/// A producer id without an epoch yet (Kafka's RecordBatch.NO_PRODUCER_EPOCH).
pub const NO_PRODUCER_EPOCH: i16 = -1;
pub const NO_PRODUCER_ID: i64 = -1;

/// Kafka's transaction states, with the status byte stored in TransactionLogValue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TransactionState {
    Empty,
    Ongoing,
    PrepareCommit,
    PrepareAbort,
    CompleteCommit,
    CompleteAbort,
    Dead,
    PrepareEpochFence,
}

impl TransactionState {
    pub const ALL: [TransactionState; 8] = [
        TransactionState::Empty,
        TransactionState::Ongoing,
        TransactionState::PrepareCommit,
        TransactionState::PrepareAbort,
        TransactionState::CompleteCommit,
        TransactionState::CompleteAbort,
        TransactionState::Dead,
        TransactionState::PrepareEpochFence,
    ];

    pub fn id(self) -> i8 {
        self as i8
    }

    pub fn from_id(id: i8) -> Option<TransactionState> {
        Self::ALL.get(usize::try_from(id).ok()?).copied()
    }

    /// The name DescribeTransactions and ListTransactions use.
    pub fn name(self) -> &'static str {
        match self {
            TransactionState::Empty => "Empty",
            TransactionState::Ongoing => "Ongoing",
            TransactionState::PrepareCommit => "PrepareCommit",
            TransactionState::PrepareAbort => "PrepareAbort",
            TransactionState::CompleteCommit => "CompleteCommit",
            TransactionState::CompleteAbort => "CompleteAbort",
            TransactionState::Dead => "Dead",
            TransactionState::PrepareEpochFence => "PrepareEpochFence",
        }
    }

    pub fn from_name(name: &str) -> Option<TransactionState> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }

    /// Kafka's `validPreviousStates`.
    fn valid_previous(self) -> &'static [TransactionState] {
        use TransactionState::*;
        match self {
            Empty => &[Empty, CompleteCommit, CompleteAbort],
            Ongoing => &[Ongoing, Empty, CompleteCommit, CompleteAbort],
            PrepareCommit => &[Ongoing],
            // Transactions v2 may abort with no transaction running (an "empty abort": the
            // producer cannot know whether its first write added a partition).
            PrepareAbort => &[
                Ongoing,
                PrepareEpochFence,
                Empty,
                CompleteCommit,
                CompleteAbort,
            ],
            CompleteCommit => &[PrepareCommit],
            CompleteAbort => &[PrepareAbort],
            Dead => &[Empty, CompleteCommit, CompleteAbort],
            PrepareEpochFence => &[Ongoing],
        }
    }

    pub fn is_complete(self) -> bool {
        matches!(
            self,
            TransactionState::CompleteCommit | TransactionState::CompleteAbort
        )
    }
}

/// Kafka's `isEpochExhausted`: the last epochs are kept back so a fencing bump and a
/// retry always have room.
pub fn is_epoch_exhausted(epoch: i16) -> bool {
    epoch >= i16::MAX - 1
}

/// The state a transition leads to: what is written to `__transaction_state`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxnTransitMetadata {
    pub producer_id: i64,
    pub last_producer_id: i64,
    /// Transactions v2: the producer id a commit/abort whose epoch ran out rotates to
    /// once its markers are written (-1: none).
    pub next_producer_id: i64,
    /// The transaction version the client used for this transaction (2: v2).
    pub client_transaction_version: i16,
    pub producer_epoch: i16,
    pub last_producer_epoch: i16,
    pub txn_timeout_ms: i32,
    pub state: TransactionState,
    pub partitions: BTreeSet<(String, i32)>,
    pub txn_start_timestamp: i64,
    pub txn_last_update_timestamp: i64,
}

#[derive(Clone, Debug)]
pub struct TransactionMetadata {
    pub transactional_id: String,
    pub producer_id: i64,
    /// The producer id before the last rotation (epoch exhaustion) or, for transactions
    /// v2, before the last completed transaction (Kafka's `previousProducerId`), for
    /// KIP-360 and EndTxn retries.
    pub last_producer_id: i64,
    /// Transactions v2: the producer id to rotate to when the decided transaction
    /// completes (-1: none).
    pub next_producer_id: i64,
    /// The transaction version the client used in the last transition (Kafka's
    /// `clientTransactionVersion`): 2 when the transaction is a transactions-v2 one.
    pub client_transaction_version: i16,
    pub producer_epoch: i16,
    /// In memory only, as in Kafka: lets a retried InitProducerId get the same answer.
    pub last_producer_epoch: i16,
    pub txn_timeout_ms: i32,
    pub state: TransactionState,
    pub partitions: BTreeSet<(String, i32)>,
    pub txn_start_timestamp: i64,
    pub txn_last_update_timestamp: i64,
    /// A transition written (or being written) but not yet applied.
    pub pending_state: Option<TransactionState>,
}

impl TransactionMetadata {
    /// A transactional id seen for the first time: no epoch yet, so the first
    /// InitProducerId bumps it to 0.
    pub fn new(transactional_id: &str, producer_id: i64, timeout_ms: i32, now: i64) -> Self {
        TransactionMetadata {
            transactional_id: transactional_id.to_string(),
            producer_id,
            last_producer_id: NO_PRODUCER_ID,
            next_producer_id: NO_PRODUCER_ID,
            client_transaction_version: 0,
            producer_epoch: NO_PRODUCER_EPOCH,
            last_producer_epoch: NO_PRODUCER_EPOCH,
            txn_timeout_ms: timeout_ms,
            state: TransactionState::Empty,
            partitions: BTreeSet::new(),
            txn_start_timestamp: -1,
            txn_last_update_timestamp: now,
            pending_state: None,
        }
    }

    fn transit(&self) -> TxnTransitMetadata {
        TxnTransitMetadata {
            producer_id: self.producer_id,
            last_producer_id: self.last_producer_id,
            next_producer_id: self.next_producer_id,
            client_transaction_version: self.client_transaction_version,
            producer_epoch: self.producer_epoch,
            last_producer_epoch: self.last_producer_epoch,
            txn_timeout_ms: self.txn_timeout_ms,
            state: self.state,
            partitions: self.partitions.clone(),
            txn_start_timestamp: self.txn_start_timestamp,
            txn_last_update_timestamp: self.txn_last_update_timestamp,
        }
    }

    fn prepare(&mut self, t: TxnTransitMetadata) -> Result<TxnTransitMetadata, ResponseError> {
        if self.pending_state.is_some() {
            return Err(ResponseError::ConcurrentTransactions);
        }
        if !t.state.valid_previous().contains(&self.state) {
            tracing::error!(
                transactional_id = %self.transactional_id,
                from = self.state.name(),
                to = t.state.name(),
                "illegal transaction state transition"
            );
            return Err(ResponseError::InvalidTxnState);
        }
        self.pending_state = Some(t.state);
        Ok(t)
    }

    /// InitProducerId on an idle transactional id: epoch + 1, state Empty. With an
    /// expected epoch (KIP-360), a retry of a bump that succeeded returns the current
    /// epoch unchanged and anything else stale is PRODUCER_FENCED.
    pub fn prepare_increment_epoch(
        &mut self,
        timeout_ms: i32,
        expected_epoch: Option<i16>,
        now: i64,
    ) -> Result<TxnTransitMetadata, ResponseError> {
        let bumped = self.producer_epoch + 1;
        let (epoch, last_epoch) = match expected_epoch {
            None => (bumped, NO_PRODUCER_EPOCH),
            Some(e) if self.producer_epoch == NO_PRODUCER_EPOCH || e == self.producer_epoch => {
                (bumped, self.producer_epoch)
            }
            Some(e) if e == self.last_producer_epoch => {
                (self.producer_epoch, self.last_producer_epoch)
            }
            Some(_) => return Err(ResponseError::ProducerFenced),
        };
        let mut t = self.transit_to_empty(timeout_ms, now);
        t.producer_epoch = epoch;
        t.last_producer_epoch = last_epoch;
        self.prepare(t)
    }

    /// What both InitProducerId transitions start from: state Empty with no partitions
    /// and no running transaction, the producer's requested timeout, updated now.
    fn transit_to_empty(&self, timeout_ms: i32, now: i64) -> TxnTransitMetadata {
        let mut t = self.transit();
        t.txn_timeout_ms = timeout_ms;
        t.state = TransactionState::Empty;
        t.partitions.clear();
        t.txn_start_timestamp = -1;
        t.txn_last_update_timestamp = now;
        t.next_producer_id = NO_PRODUCER_ID;
        t.client_transaction_version = 0;
        t
    }

    /// InitProducerId when the epoch is exhausted: a new producer id at epoch 0.
    pub fn prepare_producer_id_rotation(
        &mut self,
        new_producer_id: i64,
        timeout_ms: i32,
        now: i64,
        remember_last: bool,
    ) -> Result<TxnTransitMetadata, ResponseError> {
        let mut t = self.transit_to_empty(timeout_ms, now);
        t.last_producer_id = if remember_last {
            self.producer_id
        } else {
            NO_PRODUCER_ID
        };
        t.producer_id = new_producer_id;
        t.producer_epoch = 0;
        t.last_producer_epoch = NO_PRODUCER_EPOCH;
        self.prepare(t)
    }

    /// AddPartitionsToTxn / AddOffsetsToTxn: state Ongoing; the transaction starts now
    /// if it was not already running.
    /// `client_transaction_version` is 2 when the partitions are added implicitly by a
    /// transactions-v2 producer (Produce v12+, TxnOffsetCommit v5+).
    pub fn prepare_add_partitions(
        &mut self,
        add: &BTreeSet<(String, i32)>,
        client_transaction_version: i16,
        now: i64,
    ) -> Result<TxnTransitMetadata, ResponseError> {
        let mut t = self.transit();
        t.client_transaction_version = client_transaction_version;
        if matches!(
            self.state,
            TransactionState::Empty
                | TransactionState::CompleteCommit
                | TransactionState::CompleteAbort
        ) {
            t.txn_start_timestamp = now;
            t.partitions.clear();
        }
        t.partitions.extend(add.iter().cloned());
        t.state = TransactionState::Ongoing;
        t.txn_last_update_timestamp = now;
        self.prepare(t)
    }

    /// EndTxn (or a timeout, or a fencing InitProducerId): PrepareCommit/PrepareAbort.
    /// `fence` bumps the epoch first (Kafka's PrepareEpochFence folded into the same
    /// write), so the producer that owned the transaction is fenced once it is durable.
    pub fn prepare_abort_or_commit(
        &mut self,
        commit: bool,
        fence: bool,
        now: i64,
    ) -> Result<TxnTransitMetadata, ResponseError> {
        let mut t = self.transit();
        if fence && !is_epoch_exhausted(self.producer_epoch) {
            t.producer_epoch = self.producer_epoch + 1;
            t.last_producer_epoch = NO_PRODUCER_EPOCH;
        }
        if !fence {
            // An EndTxn below v5: a transactions-v1 end, whatever added the partitions.
            t.client_transaction_version = 0;
        }
        t.state = if commit {
            TransactionState::PrepareCommit
        } else {
            TransactionState::PrepareAbort
        };
        t.txn_last_update_timestamp = now;
        self.prepare(t)
    }

    /// EndTxn of a transactions-v2 client (KIP-890 part 2): PrepareCommit/PrepareAbort
    /// with the epoch bumped, so every transaction ends with a new epoch and a late
    /// write of the old one is fenced. `next_producer_id` is the id to rotate to when the
    /// bump uses up the epochs (then the markers carry the last epoch and the producer
    /// continues with the new id at epoch 0).
    pub fn prepare_end_v2(
        &mut self,
        commit: bool,
        next_producer_id: i64,
        now: i64,
    ) -> Result<TxnTransitMetadata, ResponseError> {
        let mut t = self.transit();
        t.producer_epoch = self.producer_epoch + 1;
        t.last_producer_epoch = self.producer_epoch;
        t.next_producer_id = next_producer_id;
        t.client_transaction_version = 2;
        t.state = if commit {
            TransactionState::PrepareCommit
        } else {
            TransactionState::PrepareAbort
        };
        t.txn_last_update_timestamp = now;
        self.prepare(t)
    }

    /// The producer id and epoch a decided transactions-v2 transaction leaves the
    /// producer with: the rotated id at epoch 0, or the bumped epoch.
    pub fn v2_outcome(t: &TxnTransitMetadata) -> (i64, i16) {
        if t.next_producer_id >= 0 {
            (t.next_producer_id, 0)
        } else {
            (t.producer_id, t.producer_epoch)
        }
    }

    /// After every marker is written: CompleteCommit/CompleteAbort, no partitions. A
    /// transactions-v2 transaction remembers the producer id it ran under (EndTxn
    /// retries) and, if its epoch ran out, moves to its next producer id at epoch 0.
    pub fn prepare_complete(&mut self, now: i64) -> Result<TxnTransitMetadata, ResponseError> {
        let mut t = self.transit();
        if self.client_transaction_version >= 2 {
            t.last_producer_id = self.producer_id;
            t.last_producer_epoch = self.producer_epoch;
            if self.next_producer_id >= 0 {
                t.producer_id = self.next_producer_id;
                t.producer_epoch = 0;
            }
            t.next_producer_id = NO_PRODUCER_ID;
        }
        t.state = match self.state {
            TransactionState::PrepareCommit => TransactionState::CompleteCommit,
            TransactionState::PrepareAbort => TransactionState::CompleteAbort,
            _ => return Err(ResponseError::InvalidTxnState),
        };
        t.partitions.clear();
        t.txn_last_update_timestamp = now;
        self.prepare(t)
    }

    /// transactional.id.expiration.ms: the id is forgotten (a tombstone is written).
    pub fn prepare_dead(&mut self, now: i64) -> Result<TxnTransitMetadata, ResponseError> {
        let mut t = self.transit();
        t.state = TransactionState::Dead;
        t.partitions.clear();
        t.txn_last_update_timestamp = now;
        self.prepare(t)
    }

    /// Applies a prepared transition once it is durable.
    pub fn complete_transition(&mut self, t: TxnTransitMetadata) {
        debug_assert_eq!(self.pending_state, Some(t.state));
        self.producer_id = t.producer_id;
        self.last_producer_id = t.last_producer_id;
        self.next_producer_id = t.next_producer_id;
        self.client_transaction_version = t.client_transaction_version;
        self.producer_epoch = t.producer_epoch;
        self.last_producer_epoch = t.last_producer_epoch;
        self.txn_timeout_ms = t.txn_timeout_ms;
        self.state = t.state;
        self.partitions = t.partitions;
        self.txn_start_timestamp = t.txn_start_timestamp;
        self.txn_last_update_timestamp = t.txn_last_update_timestamp;
        self.pending_state = None;
    }

    /// Forgets a prepared transition whose write failed.
    pub fn abort_transition(&mut self) {
        self.pending_state = None;
    }

    /// The state as it was loaded from `__transaction_state`.
    pub fn from_log(transactional_id: &str, v: &super::log::TransactionLogValue) -> Self {
        let mut partitions = BTreeSet::new();
        for (topic, parts) in &v.partitions {
            for p in parts {
                partitions.insert((topic.clone(), *p));
            }
        }
        TransactionMetadata {
            transactional_id: transactional_id.to_string(),
            producer_id: v.producer_id,
            last_producer_id: v.previous_producer_id,
            next_producer_id: v.next_producer_id,
            client_transaction_version: v.client_transaction_version,
            producer_epoch: v.producer_epoch,
            last_producer_epoch: NO_PRODUCER_EPOCH,
            txn_timeout_ms: v.transaction_timeout_ms,
            state: v.state,
            partitions,
            txn_start_timestamp: v.start_timestamp_ms,
            txn_last_update_timestamp: v.last_update_timestamp_ms,
            pending_state: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use TransactionState::*;

    fn tp(t: &str, p: i32) -> BTreeSet<(String, i32)> {
        [(t.to_string(), p)].into_iter().collect()
    }

    fn apply(
        m: &mut TransactionMetadata,
        f: impl FnOnce(&mut TransactionMetadata) -> Result<TxnTransitMetadata, ResponseError>,
    ) -> TxnTransitMetadata {
        let t = f(m).unwrap();
        m.complete_transition(t.clone());
        t
    }

    #[test]
    fn status_bytes_and_names_are_kafkas() {
        let ids: Vec<i8> = TransactionState::ALL.iter().map(|s| s.id()).collect();
        assert_eq!(ids, vec![0, 1, 2, 3, 4, 5, 6, 7]);
        assert_eq!(TransactionState::from_id(3), Some(PrepareAbort));
        assert_eq!(TransactionState::from_id(8), None);
        assert_eq!(
            TransactionState::from_name("CompleteCommit"),
            Some(CompleteCommit)
        );
    }

    #[test]
    fn a_full_commit_cycle() {
        let mut m = TransactionMetadata::new("t", 5, 60_000, 1);
        let t = apply(&mut m, |m| m.prepare_increment_epoch(60_000, None, 2));
        assert_eq!((t.producer_epoch, t.state), (0, Empty));
        apply(&mut m, |m| m.prepare_add_partitions(&tp("a", 0), 0, 3));
        assert_eq!((m.state, m.txn_start_timestamp), (Ongoing, 3));
        apply(&mut m, |m| m.prepare_add_partitions(&tp("a", 1), 0, 4));
        assert_eq!(m.partitions.len(), 2);
        assert_eq!(m.txn_start_timestamp, 3);
        let t = m.prepare_abort_or_commit(true, false, 5).unwrap();
        // While pending, everything else is CONCURRENT_TRANSACTIONS.
        assert_eq!(
            m.prepare_add_partitions(&tp("b", 0), 0, 5).unwrap_err(),
            ResponseError::ConcurrentTransactions
        );
        m.complete_transition(t);
        assert_eq!(m.state, PrepareCommit);
        let t = m.prepare_complete(6).unwrap();
        m.complete_transition(t);
        assert_eq!(m.state, CompleteCommit);
        assert!(m.partitions.is_empty());
        // A new transaction restarts the clock and the partition set.
        apply(&mut m, |m| m.prepare_add_partitions(&tp("c", 0), 0, 9));
        assert_eq!((m.txn_start_timestamp, m.partitions.len()), (9, 1));
    }

    #[test]
    fn illegal_transitions_are_refused_without_pending() {
        let mut m = TransactionMetadata::new("t", 5, 60_000, 1);
        assert_eq!(
            m.prepare_abort_or_commit(true, false, 2).unwrap_err(),
            ResponseError::InvalidTxnState
        );
        assert_eq!(m.pending_state, None);
        assert_eq!(
            m.prepare_complete(2).unwrap_err(),
            ResponseError::InvalidTxnState
        );
    }

    #[test]
    fn fencing_abort_bumps_the_epoch() {
        let mut m = TransactionMetadata::new("t", 5, 60_000, 1);
        apply(&mut m, |m| m.prepare_increment_epoch(60_000, None, 2));
        apply(&mut m, |m| m.prepare_add_partitions(&tp("a", 0), 0, 3));
        let t = apply(&mut m, |m| m.prepare_abort_or_commit(false, true, 4));
        assert_eq!((t.producer_epoch, t.state), (1, PrepareAbort));
    }

    #[test]
    fn kip_360_expected_epochs() {
        let mut m = TransactionMetadata::new("t", 5, 60_000, 1);
        apply(&mut m, |m| m.prepare_increment_epoch(60_000, None, 2));
        // The producer at epoch 0 recovers: bump to 1, remembering 0.
        let t = apply(&mut m, |m| m.prepare_increment_epoch(60_000, Some(0), 3));
        assert_eq!((t.producer_epoch, t.last_producer_epoch), (1, 0));
        // Its retry (it never saw the answer) gets epoch 1 again.
        let t = apply(&mut m, |m| m.prepare_increment_epoch(60_000, Some(0), 4));
        assert_eq!(t.producer_epoch, 1);
        // A stale epoch is fenced.
        assert_eq!(
            m.prepare_increment_epoch(60_000, Some(7), 5).unwrap_err(),
            ResponseError::ProducerFenced
        );
    }

    #[test]
    fn exhausted_epochs_rotate_the_producer_id() {
        assert!(is_epoch_exhausted(i16::MAX - 1));
        assert!(!is_epoch_exhausted(i16::MAX - 2));
        let mut m = TransactionMetadata::new("t", 5, 60_000, 1);
        m.producer_epoch = i16::MAX - 1;
        let t = apply(&mut m, |m| {
            m.prepare_producer_id_rotation(9, 60_000, 2, true)
        });
        assert_eq!(
            (t.producer_id, t.producer_epoch, t.last_producer_id),
            (9, 0, 5)
        );
    }
}
