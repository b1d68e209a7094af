//! The transaction coordinator (Kafka's `TransactionCoordinator`, classic protocol:
//! KIP-98 with KIP-360 and KIP-588 error handling): InitProducerId for transactional
//! ids, AddPartitionsToTxn, AddOffsetsToTxn, EndTxn, the check TxnOffsetCommit makes,
//! transaction timeouts, transactional id expiry, DescribeTransactions and
//! ListTransactions.
//!
//! Every state change is written to `__transaction_state` and fsync'd before it is
//! applied or answered (two-phase: `metadata::prepare_*`, write, `complete_transition`);
//! while a write or the markers of a decided transaction are in flight, other requests
//! for the id get CONCURRENT_TRANSACTIONS. EndTxn writes PrepareCommit/PrepareAbort,
//! then the markers (`marker_channel`), then CompleteCommit/CompleteAbort, and answers
//! once the markers are durable (Kafka answers after the Prepare write; the outcome is
//! the same, and a client that reads right after its commit sees its data). At
//! start-up the state is replayed before the listener opens, and transactions found in
//! PrepareCommit/PrepareAbort are completed by [`spawn_timers`].
//!
//! Transactions v2 (KIP-890 part 2), for clients that ask for it while the finalized
//! `transaction.version` is 2 ([`TransactionCoordinator::transactions_v2`]): partitions
//! are added implicitly by the producer's first write (Produce v12+) or offset commit
//! (TxnOffsetCommit v5+), and every EndTxn v5 bumps the epoch in its Prepare record
//! (rotating to a new producer id when the epochs run out), so the markers carry the new
//! epoch and fence any late write of the old one; the answer carries the producer id and
//! epoch to go on with. EndTxn retries are recognised by that bump (Kafka's
//! `endTxnEpochBumped`). The Prepare and Complete records of such a transaction are
//! TransactionLogValue v1, whose tagged fields keep the client's version and the next
//! producer id across a restart.
//!
//! Locks: the map lock and each id's lock are plain mutexes held only for in-memory
//! work, never across an await or a write. This module never parses Kafka requests
//! (handlers in `crate::api` translate) and never touches sockets.

mod completion;
pub mod log;
pub mod marker_channel;
pub mod metadata;
pub mod state_manager;

pub use completion::spawn_timers;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_v2;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;

use crate::clock::Clock;
use crate::config::BrokerConfig;
use crate::coordinator::features::FeatureControl;
use crate::coordinator::group::store::{partition_for, OFFSETS_TOPIC};
use crate::coordinator::producer_ids::ProducerIdManager;
use crate::error::ResponseError;
use crate::topics::{TopicPartition, TopicRegistry};
use marker_channel::{TransactionMarkerChannelManager, TxnOutcome};
use metadata::{is_epoch_exhausted, TransactionMetadata, TransactionState, TxnTransitMetadata};
use state_manager::{TransactionStateManager, TxnLogConfig, TxnRef};

pub use marker_channel::TxnOffsetsListener;
pub use state_manager::TRANSACTION_STATE_TOPIC;

/// How long EndTxn waits for its markers before answering anyway (the outcome is
/// already durable; the markers keep being retried in the background).
const MARKER_WAIT: Duration = Duration::from_secs(10);

#[derive(Clone, Debug)]
pub struct TransactionConfig {
    /// `transaction.max.timeout.ms`
    pub max_timeout_ms: i32,
    /// `transactional.id.expiration.ms`
    pub id_expiration_ms: i64,
    /// `transaction.abort.timed.out.transaction.cleanup.interval.ms`
    pub abort_check_interval_ms: u64,
    /// `offsets.topic.num.partitions`, for AddOffsetsToTxn before the topic exists.
    pub offsets_topic_num_partitions: i32,
}

/// A transaction as DescribeTransactions shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxnDescription {
    pub state: TransactionState,
    pub timeout_ms: i32,
    pub start_timestamp_ms: i64,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub partitions: BTreeSet<TopicPartition>,
}

/// A transaction as ListTransactions shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxnListing {
    pub transactional_id: String,
    pub producer_id: i64,
    pub state: TransactionState,
}

pub struct TransactionCoordinator {
    config: TransactionConfig,
    state: TransactionStateManager,
    topics: Arc<TopicRegistry>,
    producer_ids: Arc<ProducerIdManager>,
    clock: Clock,
    markers: TransactionMarkerChannelManager,
    /// The finalized `transaction.version`: 2 enables transactions v2, and 1 or more
    /// selects TransactionLogValue v1.
    features: Arc<FeatureControl>,
}

/// A transactions-v2 EndTxn's next step: the answer of a retry, or the epoch bump.
enum EndV2 {
    Answer(i64, i16),
    Bump,
}

enum InitStep {
    Done(i64, i16),
    Write(TxnTransitMetadata),
    FenceAbort(TxnTransitMetadata),
}

impl TransactionCoordinator {
    /// Rebuilds every transactional id from `__transaction_state` (if it exists).
    pub fn load(
        config: &BrokerConfig,
        topics: Arc<TopicRegistry>,
        producer_ids: Arc<ProducerIdManager>,
        clock: Clock,
        offsets_listener: Arc<dyn TxnOffsetsListener>,
        features: Arc<FeatureControl>,
    ) -> Result<TransactionCoordinator> {
        let log_config = TxnLogConfig {
            num_partitions: config.transaction_state_log_num_partitions,
            segment_bytes: config.transaction_state_log_segment_bytes,
        };
        Ok(TransactionCoordinator {
            config: TransactionConfig {
                max_timeout_ms: config.transaction_max_timeout_ms,
                id_expiration_ms: config.transactional_id_expiration_ms,
                abort_check_interval_ms: config.transaction_abort_timed_out_check_interval_ms,
                offsets_topic_num_partitions: config.offsets_topic_num_partitions,
            },
            state: TransactionStateManager::load(log_config, &topics)?,
            markers: TransactionMarkerChannelManager::new(
                topics.clone(),
                clock.clone(),
                offsets_listener,
            ),
            topics,
            producer_ids,
            clock,
            features,
        })
    }

    pub fn config(&self) -> &TransactionConfig {
        &self.config
    }

    /// Whether transactions v2 is on (finalized `transaction.version` 2): only then do
    /// Produce v12+, TxnOffsetCommit v5+ and EndTxn v5+ get KIP-890 part 2 semantics.
    pub fn transactions_v2(&self) -> bool {
        self.features.transaction_version() >= 2
    }

    /// Writes a prepared transition, waits for its fsync and applies it; on failure the
    /// transition is forgotten.
    async fn write_transition(
        &self,
        transactional_id: &str,
        entry: &TxnRef,
        t: TxnTransitMetadata,
    ) -> Result<(), ResponseError> {
        let value = (t.state != TransactionState::Dead).then_some(&t);
        let written = match self.state.append(
            &self.topics,
            transactional_id,
            value,
            self.features.transaction_version(),
            self.clock.now_ms(),
        ) {
            Ok(appended) => appended.durable().await,
            Err(e) => Err(e),
        };
        let mut m = entry.lock();
        match written {
            Ok(()) => {
                m.complete_transition(t);
                Ok(())
            }
            Err(e) => {
                m.abort_transition();
                Err(e)
            }
        }
    }

    // ---- InitProducerId ---------------------------------------------------------

    /// InitProducerId with a transactional id: a producer id and a bumped epoch. An
    /// ongoing transaction of the previous producer is aborted first (fencing it).
    /// `expected` is the producer's current id and epoch (KIP-360, v3+), if it sent one.
    pub async fn init_producer_id(
        self: &Arc<Self>,
        transactional_id: &str,
        timeout_ms: i32,
        expected: Option<(i64, i16)>,
    ) -> Result<(i64, i16), ResponseError> {
        if transactional_id.is_empty() {
            return Err(ResponseError::InvalidRequest);
        }
        if timeout_ms <= 0 || timeout_ms > self.config.max_timeout_ms {
            return Err(ResponseError::InvalidTransactionTimeout);
        }
        // Twice at most: an ongoing transaction is aborted first, then the epoch bumped.
        for _ in 0..2 {
            let entry = match self.state.get(transactional_id) {
                Some(e) => e,
                None => {
                    let producer_id = self.producer_ids.next_id().map_err(|e| {
                        tracing::error!(error = %format!("{e:#}"), "cannot allocate a producer id");
                        ResponseError::KafkaStorageError
                    })?;
                    self.state.get_or_insert(transactional_id, || {
                        TransactionMetadata::new(
                            transactional_id,
                            producer_id,
                            timeout_ms,
                            self.clock.now_ms(),
                        )
                    })
                }
            };
            let step = self.prepare_init(&entry, timeout_ms, expected)?;
            match step {
                InitStep::Done(pid, epoch) => return Ok((pid, epoch)),
                InitStep::Write(t) => {
                    let answer = (t.producer_id, t.producer_epoch);
                    self.write_transition(transactional_id, &entry, t).await?;
                    tracing::debug!(
                        transactional_id,
                        producer_id = answer.0,
                        epoch = answer.1,
                        "initialised transactional producer"
                    );
                    return Ok(answer);
                }
                InitStep::FenceAbort(t) => {
                    tracing::info!(
                        transactional_id,
                        producer_id = t.producer_id,
                        "aborting the ongoing transaction of a fenced producer"
                    );
                    self.write_transition(transactional_id, &entry, t).await?;
                    self.complete_in_background(transactional_id, entry).await;
                }
            }
        }
        Err(ResponseError::ConcurrentTransactions)
    }

    fn prepare_init(
        &self,
        entry: &TxnRef,
        timeout_ms: i32,
        expected: Option<(i64, i16)>,
    ) -> Result<InitStep, ResponseError> {
        let now = self.clock.now_ms();
        let mut m = entry.lock();
        if let Some((pid, epoch)) = expected {
            // Kafka's isValidProducerId.
            let valid = m.producer_epoch == metadata::NO_PRODUCER_EPOCH
                || pid == m.producer_id
                || (pid == m.last_producer_id && is_epoch_exhausted(epoch));
            if !valid {
                return Err(ResponseError::ProducerFenced);
            }
        }
        if m.pending_state.is_some() {
            return Err(ResponseError::ConcurrentTransactions);
        }
        match m.state {
            TransactionState::PrepareCommit | TransactionState::PrepareAbort => {
                Err(ResponseError::ConcurrentTransactions)
            }
            TransactionState::Dead | TransactionState::PrepareEpochFence => {
                Err(ResponseError::ConcurrentTransactions)
            }
            TransactionState::Ongoing => Ok(InitStep::FenceAbort(
                m.prepare_abort_or_commit(false, true, now)?,
            )),
            TransactionState::Empty
            | TransactionState::CompleteCommit
            | TransactionState::CompleteAbort => {
                if let Some((pid, epoch)) = expected {
                    // A retry after a rotation the producer never heard of.
                    if pid == m.last_producer_id && m.producer_epoch == 0 && epoch != 0 {
                        return Ok(InitStep::Done(m.producer_id, m.producer_epoch));
                    }
                }
                if is_epoch_exhausted(m.producer_epoch) {
                    let new_id = self.producer_ids.next_id().map_err(|e| {
                        tracing::error!(error = %format!("{e:#}"), "cannot allocate a producer id");
                        ResponseError::KafkaStorageError
                    })?;
                    Ok(InitStep::Write(m.prepare_producer_id_rotation(
                        new_id,
                        timeout_ms,
                        now,
                        expected.is_some(),
                    )?))
                } else {
                    Ok(InitStep::Write(m.prepare_increment_epoch(
                        timeout_ms,
                        expected.map(|e| e.1),
                        now,
                    )?))
                }
            }
        }
    }

    // ---- AddPartitionsToTxn / AddOffsetsToTxn -----------------------------------

    /// The metadata of `transactional_id` for AddPartitionsToTxn or EndTxn:
    /// INVALID_REQUEST for an empty id, INVALID_PRODUCER_ID_MAPPING for an unknown one.
    fn entry_for_request(&self, transactional_id: &str) -> Result<TxnRef, ResponseError> {
        if transactional_id.is_empty() {
            return Err(ResponseError::InvalidRequest);
        }
        self.state
            .get(transactional_id)
            .ok_or(ResponseError::InvalidProducerIdMapping)
    }

    /// Adds partitions to the producer's transaction (starting it if needed). The
    /// caller has checked that the partitions exist. `client_transaction_version` is 2
    /// for an implicit add by a transactions-v2 producer, 0 for AddPartitionsToTxn.
    pub async fn add_partitions(
        self: &Arc<Self>,
        transactional_id: &str,
        producer_id: i64,
        producer_epoch: i16,
        partitions: BTreeSet<TopicPartition>,
        client_transaction_version: i16,
    ) -> Result<(), ResponseError> {
        let entry = self.entry_for_request(transactional_id)?;
        let t = {
            let mut m = entry.lock();
            check_idle_producer(&m, producer_id, producer_epoch)?;
            match m.state {
                TransactionState::PrepareCommit | TransactionState::PrepareAbort => {
                    return Err(ResponseError::ConcurrentTransactions)
                }
                TransactionState::Dead | TransactionState::PrepareEpochFence => {
                    return Err(ResponseError::InvalidProducerIdMapping)
                }
                TransactionState::Ongoing if partitions.is_subset(&m.partitions) => return Ok(()),
                _ => {}
            }
            m.prepare_add_partitions(&partitions, client_transaction_version, self.clock.now_ms())?
        };
        self.write_transition(transactional_id, &entry, t).await
    }

    /// The `__consumer_offsets` partition that holds `group_id`'s offsets.
    pub fn offsets_partition(&self, group_id: &str) -> TopicPartition {
        let count = self
            .topics
            .get(OFFSETS_TOPIC)
            .map(|t| t.partitions.len() as i32)
            .unwrap_or(self.config.offsets_topic_num_partitions);
        (OFFSETS_TOPIC.to_string(), partition_for(group_id, count))
    }

    /// AddOffsetsToTxn (or TxnOffsetCommit v5+ of a transactions-v2 producer,
    /// `client_transaction_version` 2): adds the group's `__consumer_offsets` partition.
    pub async fn add_offsets(
        self: &Arc<Self>,
        transactional_id: &str,
        producer_id: i64,
        producer_epoch: i16,
        group_id: &str,
        client_transaction_version: i16,
    ) -> Result<(), ResponseError> {
        let tp = self.offsets_partition(group_id);
        self.add_partitions(
            transactional_id,
            producer_id,
            producer_epoch,
            [tp].into_iter().collect(),
            client_transaction_version,
        )
        .await
    }

    /// TxnOffsetCommit's check: the producer owns an ongoing transaction that includes
    /// the group's offsets partition (added by AddOffsetsToTxn), so a marker will land
    /// there.
    pub fn check_txn_offset_commit(
        &self,
        transactional_id: &str,
        producer_id: i64,
        producer_epoch: i16,
        group_id: &str,
    ) -> Result<(), ResponseError> {
        let entry = self
            .state
            .get(transactional_id)
            .ok_or(ResponseError::InvalidProducerIdMapping)?;
        let tp = self.offsets_partition(group_id);
        let m = entry.lock();
        check_producer(&m, producer_id, producer_epoch)?;
        if m.pending_state
            .is_some_and(|s| s != TransactionState::Ongoing)
        {
            return Err(ResponseError::ConcurrentTransactions);
        }
        if m.state != TransactionState::Ongoing || !m.partitions.contains(&tp) {
            return Err(ResponseError::InvalidTxnState);
        }
        Ok(())
    }

    /// KIP-890 verification (AddPartitionsToTxn v4+ with verify_only, Kafka's
    /// `handleVerifyPartitionsInTransaction`): per partition, whether it is part of the
    /// producer's transaction (TRANSACTION_ABORTABLE if not); CONCURRENT_TRANSACTIONS
    /// while the transaction is being decided.
    pub fn verify_partitions(
        &self,
        transactional_id: &str,
        producer_id: i64,
        producer_epoch: i16,
        partitions: &[TopicPartition],
    ) -> Vec<Option<ResponseError>> {
        let Some(entry) = self.state.get(transactional_id) else {
            return vec![Some(ResponseError::InvalidProducerIdMapping); partitions.len()];
        };
        let m = entry.lock();
        if let Err(e) = check_producer(&m, producer_id, producer_epoch) {
            return vec![Some(e); partitions.len()];
        }
        if matches!(
            m.state,
            TransactionState::PrepareCommit | TransactionState::PrepareAbort
        ) {
            return vec![Some(ResponseError::ConcurrentTransactions); partitions.len()];
        }
        partitions
            .iter()
            .map(|tp| (!m.partitions.contains(tp)).then_some(ResponseError::TransactionAbortable))
            .collect()
    }

    // ---- EndTxn -----------------------------------------------------------------

    /// EndTxn from a client: decide, write the markers, complete. `v2` is an EndTxn v5+
    /// while transactions v2 is on: the epoch is bumped (see the module doc). Returns
    /// the producer id and epoch the producer goes on with (unchanged for v1).
    pub async fn end_txn(
        self: &Arc<Self>,
        transactional_id: &str,
        producer_id: i64,
        producer_epoch: i16,
        commit: bool,
        v2: bool,
    ) -> Result<(i64, i16), ResponseError> {
        let entry = self.entry_for_request(transactional_id)?;
        let (t, answer) = {
            let mut m = entry.lock();
            let t = if v2 {
                match self.end_v2_step(&m, transactional_id, producer_id, producer_epoch, commit)? {
                    EndV2::Answer(pid, epoch) => return Ok((pid, epoch)),
                    EndV2::Bump => {
                        let next = if is_epoch_exhausted(m.producer_epoch) {
                            self.producer_ids.next_id().map_err(|e| {
                                tracing::error!(error = %format!("{e:#}"), "cannot allocate a producer id");
                                ResponseError::KafkaStorageError
                            })?
                        } else {
                            metadata::NO_PRODUCER_ID
                        };
                        m.prepare_end_v2(commit, next, self.clock.now_ms())?
                    }
                }
            } else {
                check_end_txn_producer(&m, producer_id, producer_epoch)?;
                use TransactionState::*;
                match (m.state, commit) {
                    (Ongoing, _) => {
                        m.prepare_abort_or_commit(commit, false, self.clock.now_ms())?
                    }
                    // A retry of an EndTxn that completed.
                    (CompleteCommit, true) | (CompleteAbort, false) => {
                        return Ok((m.producer_id, m.producer_epoch))
                    }
                    // A retry of an EndTxn whose markers are still being written.
                    (PrepareCommit, true) | (PrepareAbort, false) => {
                        return Err(ResponseError::ConcurrentTransactions)
                    }
                    (state, _) => {
                        tracing::info!(
                            transactional_id,
                            state = state.name(),
                            commit,
                            "EndTxn in an invalid state"
                        );
                        return Err(ResponseError::InvalidTxnState);
                    }
                }
            };
            let answer = if v2 {
                TransactionMetadata::v2_outcome(&t)
            } else {
                (t.producer_id, t.producer_epoch)
            };
            (t, answer)
        };
        self.write_transition(transactional_id, &entry, t).await?;
        self.complete_in_background(transactional_id, entry).await;
        Ok(answer)
    }

    /// What a transactions-v2 EndTxn does (Kafka 4's `endTransaction` with its table for
    /// idle states, KAFKA-14563, and the pending check first, KAFKA-18464). "Current" is
    /// the transaction's epoch; "retry" the epoch before a v2 bump (or the last epoch of
    /// the producer id it rotated away from):
    ///
    /// | state          | abort, retry | abort, current | commit, retry | commit, current |
    /// |----------------|--------------|----------------|---------------|-----------------|
    /// | Ongoing        | fenced       | bump           | fenced        | bump            |
    /// | Empty          | fenced       | bump (empty)   | invalid state | invalid state   |
    /// | CompleteAbort  | answer       | bump (empty)   | invalid state | invalid state   |
    /// | CompleteCommit | invalid state| bump (empty)   | answer        | invalid state   |
    ///
    /// PrepareCommit/PrepareAbort with a retry epoch wait (CONCURRENT_TRANSACTIONS); any
    /// other epoch is fenced.
    fn end_v2_step(
        &self,
        m: &TransactionMetadata,
        transactional_id: &str,
        producer_id: i64,
        producer_epoch: i16,
        commit: bool,
    ) -> Result<EndV2, ResponseError> {
        use TransactionState::*;
        let was_v2 = m.client_transaction_version >= 2;
        let retry_on_overflow = was_v2
            && m.last_producer_id == producer_id
            && producer_epoch == i16::MAX - 1
            && m.producer_epoch == 0;
        if m.producer_id != producer_id && !retry_on_overflow {
            return Err(ResponseError::InvalidProducerIdMapping);
        }
        if m.pending_state.is_some() {
            return Err(ResponseError::ConcurrentTransactions);
        }
        let current = !retry_on_overflow && producer_epoch == m.producer_epoch;
        let retry = retry_on_overflow
            || (was_v2 && i32::from(m.producer_epoch) == i32::from(producer_epoch) + 1);
        let invalid = || {
            tracing::info!(
                transactional_id,
                state = m.state.name(),
                commit,
                "EndTxn in an invalid state"
            );
            ResponseError::InvalidTxnState
        };
        match m.state {
            Ongoing if current => Ok(EndV2::Bump),
            PrepareCommit | PrepareAbort if retry => {
                if commit == (m.state == PrepareCommit) {
                    Err(ResponseError::ConcurrentTransactions)
                } else {
                    Err(invalid())
                }
            }
            Empty | CompleteCommit | CompleteAbort if current => {
                if commit {
                    Err(invalid())
                } else {
                    Ok(EndV2::Bump)
                }
            }
            Empty if retry => Err(if commit {
                invalid()
            } else {
                ResponseError::ProducerFenced
            }),
            CompleteCommit | CompleteAbort if retry => {
                if commit == (m.state == CompleteCommit) {
                    Ok(EndV2::Answer(m.producer_id, m.producer_epoch))
                } else {
                    Err(invalid())
                }
            }
            _ => Err(ResponseError::ProducerFenced),
        }
    }

    // ---- admin ------------------------------------------------------------------

    pub fn describe(&self, transactional_id: &str) -> Result<TxnDescription, ResponseError> {
        let entry = self
            .state
            .get(transactional_id)
            .ok_or(ResponseError::TransactionalIdNotFound)?;
        let m = entry.lock();
        if m.state == TransactionState::Dead {
            return Err(ResponseError::TransactionalIdNotFound);
        }
        Ok(TxnDescription {
            state: m.state,
            timeout_ms: m.txn_timeout_ms,
            start_timestamp_ms: m.txn_start_timestamp,
            producer_id: m.producer_id,
            producer_epoch: m.producer_epoch,
            partitions: m.partitions.clone(),
        })
    }

    /// ListTransactions: empty filters match everything; `min_duration_ms` < 0 too.
    pub fn list(
        &self,
        states: &[TransactionState],
        producer_ids: &[i64],
        min_duration_ms: i64,
    ) -> Vec<TxnListing> {
        let now = self.clock.now_ms();
        self.state
            .all()
            .into_iter()
            .filter_map(|(id, entry)| {
                let m = entry.lock();
                let keep = m.state != TransactionState::Dead
                    && (states.is_empty() || states.contains(&m.state))
                    && (producer_ids.is_empty() || producer_ids.contains(&m.producer_id))
                    && (min_duration_ms < 0
                        || (m.txn_start_timestamp >= 0
                            && now - m.txn_start_timestamp >= min_duration_ms));
                keep.then(|| TxnListing {
                    transactional_id: id,
                    producer_id: m.producer_id,
                    state: m.state,
                })
            })
            .collect()
    }
}

/// KIP-588: clients of API versions before `fenced_since` know INVALID_PRODUCER_EPOCH,
/// not PRODUCER_FENCED (Kafka converts the same way).
pub fn error_for_version(e: ResponseError, version: i16, fenced_since: i16) -> ResponseError {
    if e == ResponseError::ProducerFenced && version < fenced_since {
        ResponseError::InvalidProducerEpoch
    } else {
        e
    }
}

/// Kafka's producer id and epoch checks for AddPartitions/AddOffsets/EndTxn/TxnOffsetCommit.
/// [`check_producer`], and no state change of the transactional id may be in flight
/// (AddPartitionsToTxn and EndTxn are refused with CONCURRENT_TRANSACTIONS then).
fn check_idle_producer(
    m: &TransactionMetadata,
    producer_id: i64,
    producer_epoch: i16,
) -> Result<(), ResponseError> {
    check_producer(m, producer_id, producer_epoch)?;
    if m.pending_state.is_some() {
        return Err(ResponseError::ConcurrentTransactions);
    }
    Ok(())
}

/// EndTxn's producer checks (Kafka's `endTransaction`). For a transaction of a
/// transactions-v2 client the epoch alone says whether an EndTxn is new or a retry: a
/// new one carries the current epoch of an ongoing transaction; a retry carries the
/// epoch before the bump of a decided or completed one, or the last epoch of the
/// producer id the bump rotated away from.
fn check_end_txn_producer(
    m: &TransactionMetadata,
    producer_id: i64,
    producer_epoch: i16,
) -> Result<(), ResponseError> {
    if m.client_transaction_version < 2 {
        return check_idle_producer(m, producer_id, producer_epoch);
    }
    use TransactionState::*;
    let retry_on_overflow = m.last_producer_id == producer_id
        && producer_epoch == i16::MAX - 1
        && m.producer_epoch == 0;
    let retry_on_bump = i32::from(m.producer_epoch) == i32::from(producer_epoch) + 1;
    let valid_epoch = match m.state {
        Ongoing | Empty | Dead | PrepareEpochFence => producer_epoch == m.producer_epoch,
        PrepareCommit | PrepareAbort => retry_on_bump,
        CompleteCommit | CompleteAbort => retry_on_bump || retry_on_overflow,
    };
    if m.producer_id != producer_id && !retry_on_overflow {
        Err(ResponseError::InvalidProducerIdMapping)
    } else if !valid_epoch {
        Err(ResponseError::ProducerFenced)
    } else if m.pending_state.is_some() {
        Err(ResponseError::ConcurrentTransactions)
    } else {
        Ok(())
    }
}

fn check_producer(
    m: &TransactionMetadata,
    producer_id: i64,
    producer_epoch: i16,
) -> Result<(), ResponseError> {
    if m.producer_id != producer_id {
        Err(ResponseError::InvalidProducerIdMapping)
    } else if m.producer_epoch != producer_epoch {
        Err(ResponseError::ProducerFenced)
    } else {
        Ok(())
    }
}
