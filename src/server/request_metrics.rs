//! Request metrics: what the connection records about each answered request
//! (`sluice_requests_total{api,version,error}` and
//! `sluice_request_duration_seconds{api,stage}`), kept here so the connection loop
//! calls one function per request and the answer queue one per written answer.
//!
//! The stages follow Kafka's request metrics: `queue` (frame read whole -> handler
//! starts: waiting behind the connection's in-order pipeline and for
//! `queued.max.request.bytes`, Kafka's RequestQueueTimeMs), `handle` (the handler,
//! LocalTimeMs), `remote` (a deferred answer's wait for durability, RemoteTimeMs),
//! `send` (answer ready -> its last byte written, waiting behind earlier answers
//! included: ResponseQueueTimeMs + ResponseSendTimeMs) and `total` (frame read ->
//! answer written; TotalTimeMs). Every stage is a difference of instants the
//! connection already takes, so timing costs a few `Instant::now()` per request.
//!
//! `error` is the answer's error code by Kafka's name (`NONE` when it carries none): the
//! top-level error code where the answer has one, else the first non-zero code of its
//! topics, partitions or groups. It never changes an answer.

use std::time::Instant;

use futures::FutureExt;
use kafka_protocol::messages::ApiKey;

use crate::api::{Answer, Response};
use crate::error::ResponseError;
use crate::metrics::{Metrics, RequestLabels, StageLabels};

fn stage(m: &Metrics, api: &'static str, stage: &'static str, seconds: f64) {
    m.request_duration
        .get_or_create(&StageLabels { api, stage })
        .observe(seconds);
}

/// When one request went through the connection: its frame was read whole
/// (`arrived`), its handler started (`started`) and returned (`handled`).
#[derive(Clone, Copy, Debug)]
pub struct Times {
    pub arrived: Instant,
    pub started: Instant,
    pub handled: Instant,
}

/// Records a request whose handler just returned `answer`. A deferred answer is
/// wrapped so that its wait and its error are recorded when it completes. An answer
/// that is sent has its `send` and `total` recorded by [`sent`]; a request without
/// an answer (acks=0 produce) ends here.
pub fn observe(
    m: &'static Metrics,
    key: ApiKey,
    version: i16,
    times: Times,
    answer: Answer,
) -> Answer {
    let api = api_name(key);
    let queued = times.started.saturating_duration_since(times.arrived);
    stage(m, api, "queue", queued.as_secs_f64());
    let handled = times.handled.saturating_duration_since(times.started);
    stage(m, api, "handle", handled.as_secs_f64());
    match answer {
        Answer::None => {
            count(m, api, version, "NONE");
            let total = times.handled.saturating_duration_since(times.arrived);
            stage(m, api, "total", total.as_secs_f64());
            Answer::None
        }
        Answer::Ready(response) => {
            count(m, api, version, error_name(error_code(&response)));
            Answer::Ready(response)
        }
        Answer::Deferred(wait) => {
            let waiting = times.handled;
            Answer::Deferred(
                wait.map(move |response| {
                    stage(m, api, "remote", waiting.elapsed().as_secs_f64());
                    count(m, api, version, error_name(error_code(&response)));
                    response
                })
                .boxed(),
            )
        }
    }
}

/// Records an answer whose last byte was written at `written`: it was ready (handler
/// returned or deferred wait over) at `ready`, its request read whole at `arrived`.
pub fn sent(m: &Metrics, key: ApiKey, arrived: Instant, ready: Instant, written: Instant) {
    let api = api_name(key);
    let send = written.saturating_duration_since(ready);
    stage(m, api, "send", send.as_secs_f64());
    let total = written.saturating_duration_since(arrived);
    stage(m, api, "total", total.as_secs_f64());
}

fn count(m: &Metrics, api: &'static str, version: i16, error: &'static str) {
    m.requests
        .get_or_create(&RequestLabels {
            api,
            version,
            error,
        })
        .inc();
}

/// Kafka's name of the API (`Produce`, `Fetch`, ...), as its request metrics label it.
pub fn api_name(key: ApiKey) -> &'static str {
    // `ApiKey`'s Debug names are Kafka's API names; cached as &'static str per key.
    static NAMES: std::sync::OnceLock<std::collections::HashMap<i16, &'static str>> =
        std::sync::OnceLock::new();
    let names = NAMES.get_or_init(|| {
        crate::api::SERVED_APIS
            .iter()
            .map(|k| (*k as i16, &*Box::leak(format!("{k:?}").into_boxed_str())))
            .collect()
    });
    names.get(&(key as i16)).copied().unwrap_or("Unknown")
}

/// Kafka's error name (`NOT_LEADER_OR_FOLLOWER`) of a code; `NONE` for 0 and `UNKNOWN`
/// for a code this codec does not know (one label value for all of them).
pub fn error_name(code: i16) -> &'static str {
    static NAMES: std::sync::OnceLock<
        parking_lot::Mutex<std::collections::HashMap<i16, &'static str>>,
    > = std::sync::OnceLock::new();
    if code == 0 {
        return "NONE";
    }
    let names = NAMES.get_or_init(Default::default);
    let mut names = names.lock();
    if let Some(n) = names.get(&code) {
        return n;
    }
    let error = match ResponseError::try_from_code(code) {
        Some(ResponseError::Unknown(_)) | None => return "UNKNOWN",
        Some(error) => error,
    };
    // Bounded: one entry per error code the codec knows.
    let name: &'static str = Box::leak(screaming_snake(&format!("{error:?}")).into_boxed_str());
    names.insert(code, name);
    name
}

fn screaming_snake(camel: &str) -> String {
    let mut out = String::with_capacity(camel.len() + 8);
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

/// The first non-zero code, else 0.
fn first(codes: impl IntoIterator<Item = i16>) -> i16 {
    codes.into_iter().find(|c| *c != 0).unwrap_or(0)
}

/// The answer's error code: top-level where the answer has one, else the first
/// non-zero code nested in it.
pub fn error_code(response: &Response) -> i16 {
    use Response as R;
    match response {
        R::Produce(r) => first(
            r.responses
                .iter()
                .flat_map(|t| t.partition_responses.iter().map(|p| p.error_code)),
        ),
        R::Fetch(r) => first(
            std::iter::once(r.error_code).chain(
                r.responses
                    .iter()
                    .flat_map(|t| t.partitions.iter().map(|p| p.error_code)),
            ),
        ),
        R::ListOffsets(r) => first(
            r.topics
                .iter()
                .flat_map(|t| t.partitions.iter().map(|p| p.error_code)),
        ),
        R::Metadata(r) => first(r.topics.iter().map(|t| t.error_code)),
        R::FindCoordinator(r) => {
            first(std::iter::once(r.error_code).chain(r.coordinators.iter().map(|c| c.error_code)))
        }
        R::ApiVersions(r) => r.error_code,
        R::GetTelemetrySubscriptions(r) => r.error_code,
        R::PushTelemetry(r) => r.error_code,
        R::ListConfigResources(r) => r.error_code,
        R::DescribeClientQuotas(r) => r.error_code,
        R::AlterClientQuotas(r) => first(r.entries.iter().map(|e| e.error_code)),
        R::CreateTopics(r) => first(r.topics.iter().map(|t| t.error_code)),
        R::DeleteTopics(r) => first(r.responses.iter().map(|t| t.error_code)),
        R::OffsetForLeaderEpoch(r) => first(
            r.topics
                .iter()
                .flat_map(|t| t.partitions.iter().map(|p| p.error_code)),
        ),
        R::DescribeConfigs(r) => first(r.results.iter().map(|t| t.error_code)),
        R::DescribeCluster(r) => r.error_code,
        R::InitProducerId(r) => r.error_code,
        R::DescribeProducers(r) => first(
            r.topics
                .iter()
                .flat_map(|t| t.partitions.iter().map(|p| p.error_code)),
        ),
        R::AddPartitionsToTxn(r) => first(std::iter::once(r.error_code).chain(
            r.results_by_topic_v3_and_below.iter().flat_map(|t| {
                t.results_by_partition
                    .iter()
                    .map(|p| p.partition_error_code)
            }),
        )),
        R::AddOffsetsToTxn(r) => r.error_code,
        R::EndTxn(r) => r.error_code,
        R::UpdateFeatures(r) => r.error_code,
        R::CreateDelegationToken(r) => r.error_code,
        R::RenewDelegationToken(r) => r.error_code,
        R::ExpireDelegationToken(r) => r.error_code,
        R::DescribeDelegationToken(r) => r.error_code,
        R::DescribeTransactions(r) => first(r.transaction_states.iter().map(|t| t.error_code)),
        R::ListTransactions(r) => r.error_code,
        R::TxnOffsetCommit(r) => first(
            r.topics
                .iter()
                .flat_map(|t| t.partitions.iter().map(|p| p.error_code)),
        ),
        R::DeleteRecords(r) => first(
            r.topics
                .iter()
                .flat_map(|t| t.partitions.iter().map(|p| p.error_code)),
        ),
        R::DescribeLogDirs(r) => {
            first(std::iter::once(r.error_code).chain(r.results.iter().map(|d| d.error_code)))
        }
        R::AlterReplicaLogDirs(r) => first(
            r.results
                .iter()
                .flat_map(|t| t.partitions.iter().map(|p| p.error_code)),
        ),
        R::CreatePartitions(r) => first(r.results.iter().map(|t| t.error_code)),
        R::AlterConfigs(r) => first(r.responses.iter().map(|t| t.error_code)),
        R::IncrementalAlterConfigs(r) => first(r.responses.iter().map(|t| t.error_code)),
        R::OffsetCommit(r) => first(
            r.topics
                .iter()
                .flat_map(|t| t.partitions.iter().map(|p| p.error_code)),
        ),
        R::OffsetFetch(r) => {
            first(std::iter::once(r.error_code).chain(r.groups.iter().map(|g| g.error_code)))
        }
        R::JoinGroup(r) => r.error_code,
        R::Heartbeat(r) => r.error_code,
        R::LeaveGroup(r) => {
            first(std::iter::once(r.error_code).chain(r.members.iter().map(|m| m.error_code)))
        }
        R::SyncGroup(r) => r.error_code,
        R::DescribeGroups(r) => first(r.groups.iter().map(|g| g.error_code)),
        R::ListGroups(r) => r.error_code,
        R::DeleteGroups(r) => first(r.results.iter().map(|g| g.error_code)),
        R::OffsetDelete(r) => first(
            std::iter::once(r.error_code).chain(
                r.topics
                    .iter()
                    .flat_map(|t| t.partitions.iter().map(|p| p.error_code)),
            ),
        ),
        R::DescribeTopicPartitions(r) => first(r.topics.iter().flat_map(|t| {
            std::iter::once(t.error_code).chain(t.partitions.iter().map(|p| p.error_code))
        })),
        R::ElectLeaders(r) => first(
            std::iter::once(r.error_code).chain(
                r.replica_election_results
                    .iter()
                    .flat_map(|t| t.partition_result.iter().map(|p| p.error_code)),
            ),
        ),
        R::AlterPartitionReassignments(r) => first(
            std::iter::once(r.error_code).chain(
                r.responses
                    .iter()
                    .flat_map(|t| t.partitions.iter().map(|p| p.error_code)),
            ),
        ),
        R::ListPartitionReassignments(r) => r.error_code,
        R::ConsumerGroupHeartbeat(r) => r.error_code,
        R::SaslHandshake(r) => r.error_code,
        R::SaslAuthenticate(r) => r.error_code,
        R::DescribeUserScramCredentials(r) => {
            first(std::iter::once(r.error_code).chain(r.results.iter().map(|u| u.error_code)))
        }
        R::AlterUserScramCredentials(r) => first(r.results.iter().map(|u| u.error_code)),
        R::DescribeAcls(r) => r.error_code,
        R::CreateAcls(r) => first(r.results.iter().map(|c| c.error_code)),
        R::DeleteAcls(r) => first(r.filter_results.iter().map(|f| f.error_code)),
        R::ConsumerGroupDescribe(r) => first(r.groups.iter().map(|g| g.error_code)),
        R::ShareGroupHeartbeat(r) => r.error_code,
        R::DescribeShareGroupOffsets(r) => first(r.response.groups.iter().map(|g| g.error_code)),
        R::AlterShareGroupOffsets(r) => first(
            std::iter::once(r.error_code).chain(
                r.responses
                    .iter()
                    .flat_map(|t| t.partitions.iter().map(|p| p.error_code)),
            ),
        ),
        R::DeleteShareGroupOffsets(r) => {
            first(std::iter::once(r.error_code).chain(r.responses.iter().map(|t| t.error_code)))
        }
        R::ShareGroupDescribe(r) => first(r.groups.iter().map(|g| g.error_code)),
        R::ShareFetch(r) => first(std::iter::once(r.response.error_code).chain(
            r.response.responses.iter().flat_map(|t| {
                t.partitions
                    .iter()
                    .flat_map(|p| [p.error_code, p.acknowledge_error_code])
            }),
        )),
        R::ShareAcknowledge(r) => first(
            std::iter::once(r.response.error_code).chain(
                r.response
                    .responses
                    .iter()
                    .flat_map(|t| t.partitions.iter().map(|p| p.error_code)),
            ),
        ),
        R::DescribeQuorum(r) => first(
            std::iter::once(r.error_code).chain(
                r.topics
                    .iter()
                    .flat_map(|t| t.partitions.iter().map(|p| p.error_code)),
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::produce_response::{
        PartitionProduceResponse, TopicProduceResponse,
    };
    use kafka_protocol::messages::ProduceResponse;

    #[test]
    fn error_names_are_kafkas() {
        assert_eq!(error_name(0), "NONE");
        assert_eq!(error_name(6), "NOT_LEADER_OR_FOLLOWER");
        assert_eq!(error_name(3), "UNKNOWN_TOPIC_OR_PARTITION");
        assert_eq!(error_name(-1), "UNKNOWN_SERVER_ERROR");
        assert_eq!(error_name(32000), "UNKNOWN");
        assert_eq!(api_name(ApiKey::Produce), "Produce");
        assert_eq!(api_name(ApiKey::OffsetCommit), "OffsetCommit");
    }

    /// `sluice_request_duration_seconds_{what}{api="Produce",stage=...}` in `m`.
    fn series(m: &Metrics, what: &str, stage: &str) -> Option<f64> {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, m.registry()).unwrap();
        let name =
            format!("sluice_request_duration_seconds_{what}{{api=\"Produce\",stage=\"{stage}\"}} ");
        text.lines()
            .find_map(|l| l.strip_prefix(name.as_str()))
            .map(|v| v.parse().unwrap())
    }

    #[tokio::test]
    async fn each_stage_is_the_difference_of_its_instants() {
        let m: &'static Metrics = Box::leak(Box::new(Metrics::new()));
        let arrived = Instant::now();
        let times = Times {
            arrived,
            started: arrived + std::time::Duration::from_millis(30),
            handled: arrived + std::time::Duration::from_millis(50),
        };
        let response = Response::Produce(ProduceResponse::default());
        let answer = observe(m, ApiKey::Produce, 9, times, Answer::Ready(response));
        assert!(matches!(answer, Answer::Ready(_)));
        assert_eq!(series(m, "count", "queue"), Some(1.0));
        assert!((series(m, "sum", "queue").unwrap() - 0.030).abs() < 1e-9);
        assert!((series(m, "sum", "handle").unwrap() - 0.020).abs() < 1e-9);
        assert_eq!(
            series(m, "count", "send"),
            None,
            "sent answers are timed by sent()"
        );
        assert_eq!(series(m, "count", "total"), None);

        let written = arrived + std::time::Duration::from_millis(65);
        sent(m, ApiKey::Produce, arrived, times.handled, written);
        assert!((series(m, "sum", "send").unwrap() - 0.015).abs() < 1e-9);
        assert!((series(m, "sum", "total").unwrap() - 0.065).abs() < 1e-9);

        // A deferred answer: remote is timed when it completes; no answer: total at once.
        let response = Response::Produce(ProduceResponse::default());
        let wait = async move { response }.boxed();
        let Answer::Deferred(wait) = observe(m, ApiKey::Produce, 9, times, Answer::Deferred(wait))
        else {
            panic!("still deferred");
        };
        assert_eq!(series(m, "count", "remote"), None);
        wait.await;
        assert_eq!(series(m, "count", "remote"), Some(1.0));
        observe(m, ApiKey::Produce, 0, times, Answer::None);
        assert_eq!(series(m, "count", "total"), Some(2.0));
        assert_eq!(series(m, "count", "queue"), Some(3.0));
    }

    #[test]
    fn a_partition_error_is_the_answers_error() {
        let ok = PartitionProduceResponse::default();
        let bad = PartitionProduceResponse::default().with_error_code(3);
        let r = ProduceResponse::default().with_responses(vec![
            TopicProduceResponse::default().with_partition_responses(vec![ok.clone()]),
            TopicProduceResponse::default().with_partition_responses(vec![ok, bad]),
        ]);
        assert_eq!(error_code(&Response::Produce(r)), 3);
        assert_eq!(
            error_code(&Response::Produce(ProduceResponse::default())),
            0
        );
    }
}
