//! Client quota enforcement around one request, with Kafka's semantics (KIP-219): what a
//! request costs is recorded against the quotas that apply to its principal and
//! client-id, the answer still goes out at once carrying `throttle_time_ms`, and the
//! connection is told how long to read nothing more from that client.
//!
//! Produce is measured by the request's bytes in (`producer_byte_rate`), Fetch by the
//! answer's bytes out (`consumer_byte_rate`; its max_bytes is first bounded by what
//! the quota can let through in the quota window, as Kafka bounds it, so one answer
//! never throttles for ever), every request by the time its handler spent running
//! (`request_percentage`, percent of one thread: the time inside the handler's polls,
//! so a long poll's or a group join's wait does not count, as Kafka counts only
//! request-thread time). The slowest of these is the delay.
//! Kafka answers a throttled Fetch empty and takes its bytes back; this broker sends
//! the data it read and throttles the next fetch instead (the fetch session already
//! moved past that data). With no quota configured nothing here runs but one atomic
//! load. It never touches sockets: muting is the connection's.

use std::future::Future;
use std::time::{Duration, Instant};

use futures::FutureExt;
use kafka_protocol::messages::ApiKey;
use kafka_protocol::protocol::Encodable;

use super::{Answer, Command, RequestContext, Response};
use crate::broker::Broker;
use crate::security::quota::QuotaKey;

/// What was recorded before the request ran, for [`after`].
pub struct Metered {
    user: String,
    client_id: String,
    /// Time spent inside the handler's polls (see [`timed`]).
    busy: Duration,
    throttle_ms: i64,
}

/// Records a request's cost known before it runs (Produce bytes in) and bounds a
/// Fetch's max_bytes; `None` when no quota is configured.
pub fn before(
    command: &mut Command,
    ctx: &RequestContext,
    broker: &Broker,
    request_bytes: usize,
) -> Option<Metered> {
    let quotas = &broker.client_quotas;
    if !quotas.enabled() {
        return None;
    }
    let user = ctx.principal().name;
    let client_id = ctx.client_id.clone().unwrap_or_default();
    let mut throttle_ms = 0;
    match command {
        Command::Produce(_) => {
            throttle_ms = quotas.record(
                QuotaKey::ProducerByteRate,
                &user,
                &client_id,
                request_bytes as f64,
                broker.clock.now_ms(),
            );
        }
        Command::Fetch(f) => {
            if let Some(max) =
                quotas.max_value_in_window(QuotaKey::ConsumerByteRate, &user, &client_id)
            {
                let max = max.clamp(1.0, i32::MAX as f64) as i32;
                if f.max_bytes > max {
                    f.max_bytes = max;
                }
            }
        }
        _ => {}
    }
    Some(Metered {
        user,
        client_id,
        busy: Duration::ZERO,
        throttle_ms,
    })
}

/// Runs a handler, adding the time spent inside its polls to `metered` (nothing more
/// than the await when no quota is configured).
pub async fn timed<F: Future>(metered: &mut Option<Metered>, handler: F) -> F::Output {
    let Some(m) = metered.as_mut() else {
        return handler.await;
    };
    let mut handler = std::pin::pin!(handler);
    std::future::poll_fn(|cx| {
        let start = Instant::now();
        let polled = handler.as_mut().poll(cx);
        m.busy += start.elapsed();
        polled
    })
    .await
}

/// Records what the request cost once handled (Fetch bytes out, handler time), puts
/// the delay in the answer's `throttle_time_ms` and returns it (milliseconds) for the
/// connection to mute itself.
pub fn after(
    metered: Metered,
    key: ApiKey,
    version: i16,
    answer: Answer,
    broker: &Broker,
) -> (Answer, u64) {
    let quotas = &broker.client_quotas;
    let now = broker.clock.now_ms();
    let mut throttle_ms = metered.throttle_ms;
    // A handler's own throttle (controller_mutation_rate) counts too.
    if let Answer::Ready(r) = &answer {
        throttle_ms = throttle_ms.max(throttle_time_ms(r) as i64);
    }
    if let Answer::Ready(Response::Fetch(r)) = &answer {
        let bytes = r.compute_size(version).unwrap_or(0);
        throttle_ms = throttle_ms.max(quotas.record(
            QuotaKey::ConsumerByteRate,
            &metered.user,
            &metered.client_id,
            bytes as f64,
            now,
        ));
    }
    if !matches!(
        key,
        ApiKey::ApiVersions | ApiKey::SaslHandshake | ApiKey::SaslAuthenticate
    ) {
        // Percent of one thread's second: nanoseconds * 100 / 1e9.
        let percent = metered.busy.as_nanos() as f64 * 1e-7;
        throttle_ms = throttle_ms.max(quotas.record(
            QuotaKey::RequestPercentage,
            &metered.user,
            &metered.client_id,
            percent,
            now,
        ));
    }
    if throttle_ms <= 0 {
        return (answer, 0);
    }
    let ms = throttle_ms.min(i32::MAX as i64) as i32;
    tracing::debug!(user = %metered.user, client_id = %metered.client_id, throttle_time_ms = ms, "client over its quota: throttled");
    let answer = match answer {
        Answer::Ready(mut r) => {
            set_throttle_time_ms(&mut r, ms, version);
            Answer::Ready(r)
        }
        Answer::Deferred(wait) => Answer::Deferred(
            wait.map(move |mut r| {
                set_throttle_time_ms(&mut r, ms, version);
                r
            })
            .boxed(),
        ),
        Answer::None => Answer::None,
    };
    (answer, ms as u64)
}

/// `$variant`s carry the codec's `throttle_time_ms`; `$wrapped` ones are the
/// `codec_4_2` wrappers of Kafka 4.2's versions, whose codec message is `response`.
macro_rules! with_throttle_time {
    ($($variant:ident)* ; wrapped: $($wrapped:ident)*) => {
        fn throttle_time_ms(response: &Response) -> i32 {
            match response {
                $(Response::$variant(r) => r.throttle_time_ms,)*
                $(Response::$wrapped(r) => r.response.throttle_time_ms,)*
                _ => 0,
            }
        }

        /// Sets `throttle_time_ms` where the answer's version has the field.
        pub fn set_throttle_time_ms(response: &mut Response, ms: i32, version: i16) {
            match response {
                $(Response::$variant(r) => {
                    r.throttle_time_ms = ms;
                    // A version without the field cannot carry it (the codec refuses
                    // a non-default value there).
                    if r.compute_size(version).is_err() {
                        r.throttle_time_ms = 0;
                    }
                })*
                $(Response::$wrapped(r) => {
                    r.response.throttle_time_ms = ms;
                    if r.compute_size(version).is_err() {
                        r.response.throttle_time_ms = 0;
                    }
                })*
                _ => {}
            }
        }
    };
}

with_throttle_time! {
    Produce Fetch ListOffsets Metadata FindCoordinator ApiVersions CreateTopics DeleteTopics
    OffsetForLeaderEpoch DescribeConfigs DescribeCluster InitProducerId DescribeProducers
    AddPartitionsToTxn AddOffsetsToTxn EndTxn DescribeTransactions ListTransactions
    TxnOffsetCommit DeleteRecords DescribeLogDirs CreatePartitions AlterConfigs
    IncrementalAlterConfigs OffsetCommit OffsetFetch JoinGroup Heartbeat LeaveGroup SyncGroup
    DescribeGroups ListGroups DeleteGroups OffsetDelete DescribeTopicPartitions ElectLeaders
    AlterPartitionReassignments ListPartitionReassignments ConsumerGroupHeartbeat
    ConsumerGroupDescribe ShareGroupHeartbeat ShareGroupDescribe AlterShareGroupOffsets
    DeleteShareGroupOffsets DescribeUserScramCredentials AlterUserScramCredentials
    UpdateFeatures DescribeAcls CreateAcls DeleteAcls DescribeClientQuotas AlterClientQuotas
    GetTelemetrySubscriptions PushTelemetry ListConfigResources AlterReplicaLogDirs
    CreateDelegationToken RenewDelegationToken ExpireDelegationToken DescribeDelegationToken
    ; wrapped: ShareFetch ShareAcknowledge DescribeShareGroupOffsets
}

/// `controller_mutation_rate` for one CreateTopics, CreatePartitions or DeleteTopics
/// request: every partition created or deleted is one permit. In strict mode (the
/// versions where Kafka refuses: CreateTopics v6+, CreatePartitions v3+, DeleteTopics
/// v5+) a topic asked for while the client is already over its quota gets
/// THROTTLING_QUOTA_EXCEEDED and the answer the throttle time; older versions are never
/// refused, the answer carries the time the client is over.
pub struct MutationQuota {
    user: String,
    client_id: String,
    strict: bool,
    throttle_ms: i64,
}

impl MutationQuota {
    /// `None` when no quota is configured at all.
    pub fn new(ctx: &RequestContext, broker: &Broker, strict: bool) -> Option<MutationQuota> {
        broker.client_quotas.enabled().then(|| MutationQuota {
            user: ctx.principal().name,
            client_id: ctx.client_id.clone().unwrap_or_default(),
            strict,
            throttle_ms: 0,
        })
    }

    /// Before a mutation: refuses it in strict mode when the client is already over.
    pub fn check(&mut self, broker: &Broker) -> Result<(), crate::error::KafkaError> {
        if !self.strict {
            return Ok(());
        }
        let now = broker.clock.now_ms();
        match broker
            .client_quotas
            .record_mutations(&self.user, &self.client_id, 0.0, true, now)
        {
            Some(Err(ms)) => {
                self.throttle_ms = self.throttle_ms.max(ms);
                Err(crate::error::KafkaError::new(
                    crate::error::ResponseError::ThrottlingQuotaExceeded,
                    format!("The throttling quota has been exceeded: retry in {ms} ms."),
                ))
            }
            _ => Ok(()),
        }
    }

    /// After a mutation of `partitions` partitions.
    pub fn take(&mut self, broker: &Broker, partitions: i32) {
        let now = broker.clock.now_ms();
        if let Some(Ok(ms)) = broker.client_quotas.record_mutations(
            &self.user,
            &self.client_id,
            partitions.max(0) as f64,
            false,
            now,
        ) {
            if !self.strict {
                self.throttle_ms = self.throttle_ms.max(ms);
            }
        }
    }

    /// What the answer's `throttle_time_ms` says.
    pub fn throttle_time_ms(quota: &Option<MutationQuota>) -> i32 {
        quota
            .as_ref()
            .map_or(0, |q| q.throttle_ms.min(i32::MAX as i64) as i32)
    }
}
