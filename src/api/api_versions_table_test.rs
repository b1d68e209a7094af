//! Sluice's ApiVersions answer against Kafka 4.2's client-facing API keys, as listed in
//! docs/kafka-4.2-api-keys.md.
//!
//! Fails on anything advertised that Kafka 4.2 does not advertise (a key outside the
//! table, a version above its maximum, a minimum below Kafka's without a reason) and on
//! anything advertised that is not really served: every advertised version of every
//! key must decode a request and produce an answer that encodes at that version.
//! A key missing or below Kafka's maximum needs an entry in [`GAPS`] that records what
//! is advertised today and why; an entry that no longer matches fails too, so the list
//! can only be changed on purpose (it shrinks as work lands, and cannot silently grow).
//! `cargo test api_versions_table -- --nocapture` prints the comparison.

use std::collections::BTreeMap;
use std::time::Duration;

use kafka_protocol::messages::{ApiKey, ApiVersionsRequest};

use super::tests::{broker, ctx};
use super::{api_versions, default_request_body, Command};

const TABLE: &str = include_str!("../../docs/kafka-4.2-api-keys.md");

/// Keys served below Kafka 4.2's maximum, or not at all: (key, the maximum advertised
/// today or `None` when the key is not served, why).
const GAPS: &[(ApiKey, Option<i16>, &str)] = &[
    (
        ApiKey::WriteTxnMarkers,
        None,
        "sent by another broker's transaction coordinator; a single node writes \
         its own markers",
    ),
    (
        ApiKey::CreateDelegationToken,
        None,
        "no delegation tokens (need SASL)",
    ),
    (
        ApiKey::RenewDelegationToken,
        None,
        "no delegation tokens (need SASL)",
    ),
    (
        ApiKey::ExpireDelegationToken,
        None,
        "no delegation tokens (need SASL)",
    ),
    (
        ApiKey::DescribeDelegationToken,
        None,
        "no delegation tokens (need SASL)",
    ),
    (ApiKey::DescribeClientQuotas, None, "no client quotas"),
    (ApiKey::AlterClientQuotas, None, "no client quotas"),
    (
        ApiKey::UnregisterBroker,
        None,
        "a single node has no other broker to unregister",
    ),
    (
        ApiKey::AddRaftVoter,
        None,
        "no KRaft quorum to change: the node is its own single, static voter",
    ),
    (
        ApiKey::RemoveRaftVoter,
        None,
        "no KRaft quorum to change: the node is its own single, static voter",
    ),
    (
        ApiKey::InitializeShareGroupState,
        None,
        "inter-broker (group coordinator to share coordinator); here the share \
         coordinator runs in-process over __share_group_state",
    ),
    (
        ApiKey::ReadShareGroupState,
        None,
        "inter-broker (group coordinator to share coordinator); here the share \
         coordinator runs in-process over __share_group_state",
    ),
    (
        ApiKey::WriteShareGroupState,
        None,
        "inter-broker (group coordinator to share coordinator); here the share \
         coordinator runs in-process over __share_group_state",
    ),
    (
        ApiKey::DeleteShareGroupState,
        None,
        "inter-broker (group coordinator to share coordinator); here the share \
         coordinator runs in-process over __share_group_state",
    ),
    (
        ApiKey::ReadShareGroupStateSummary,
        None,
        "inter-broker (group coordinator to share coordinator); here the share \
         coordinator runs in-process over __share_group_state",
    ),
];

/// Streams-group keys (KIP-1071) are not in the codec at all; they are matched by
/// number.
const GAPS_OUTSIDE_CODEC: &[(i16, &str)] = &[
    (
        88,
        "streams groups (KIP-1071): the codec (kafka-protocol 0.18) has no \
         StreamsGroupHeartbeat",
    ),
    (
        89,
        "streams groups (KIP-1071): the codec (kafka-protocol 0.18) has no \
         StreamsGroupDescribe",
    ),
];

struct Row {
    name: String,
    min: i16,
    max: i16,
}

fn kafka_table() -> BTreeMap<i16, Row> {
    let mut parts = TABLE.split("<!-- table -->");
    let body = parts
        .nth(1)
        .expect("the table between <!-- table --> markers");
    let mut rows = BTreeMap::new();
    for line in body.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        // "| key | name | min | max | who |" splits into 7 cells, the outer two empty.
        let Some(Ok(key)) = cells.get(1).map(|c| c.parse::<i16>()) else {
            continue;
        };
        let row = Row {
            name: cells[2].to_string(),
            min: cells[3].parse().unwrap(),
            max: cells[4].parse().unwrap(),
        };
        assert!(
            rows.insert(key, row).is_none(),
            "key {key} twice in the table"
        );
    }
    rows
}

#[test]
fn the_table_names_every_key_as_the_codec_does() {
    let table = kafka_table();
    assert!(table.len() > 70, "table parsed: {} rows", table.len());
    for (key, row) in &table {
        if let Ok(api) = ApiKey::try_from(*key) {
            assert_eq!(format!("{api:?}"), row.name, "key {key}");
        } else {
            assert!(
                GAPS_OUTSIDE_CODEC.iter().any(|(k, _)| k == key),
                "key {key} ({}) is not in the codec and not explained",
                row.name
            );
        }
    }
}

#[tokio::test]
async fn api_versions_table_matches_kafka_4_2() {
    let dir = tempfile::tempdir().unwrap();
    let b = broker(dir.path(), &[]);
    let answer = api_versions::handle(ApiVersionsRequest::default(), &ctx(3), &b)
        .await
        .unwrap();
    let advertised: BTreeMap<i16, (i16, i16)> = answer
        .api_keys
        .iter()
        .map(|k| (k.api_key, (k.min_version, k.max_version)))
        .collect();
    let table = kafka_table();
    let mut failures = Vec::new();

    // Nothing advertised beyond Kafka 4.2.
    for (key, (min, max)) in &advertised {
        let Some(row) = table.get(key) else {
            failures.push(format!(
                "key {key} is advertised but not in Kafka 4.2's table"
            ));
            continue;
        };
        if max > &row.max {
            failures.push(format!(
                "{} advertised up to v{max}, Kafka 4.2 stops at v{}",
                row.name, row.max
            ));
        }
        if min < &row.min {
            failures.push(format!(
                "{} advertised from v{min}, Kafka 4.2 from v{}",
                row.name, row.min
            ));
        }
    }

    // Every gap explained, every explanation current.
    let mut report = Vec::new();
    let mut at_max = 0;
    for (key, row) in &table {
        let served_max = advertised.get(key).map(|(_, max)| *max);
        let gap = ApiKey::try_from(*key)
            .ok()
            .and_then(|api| GAPS.iter().find(|(k, _, _)| *k == api));
        let outside = GAPS_OUTSIDE_CODEC.iter().find(|(k, _)| k == key);
        if served_max == Some(row.max) {
            at_max += 1;
            report.push(format!("  {key:>3} {:<30} v{} ok", row.name, row.max));
            if gap.is_some() {
                failures.push(format!(
                    "{} is served at Kafka 4.2's maximum v{}: remove it from GAPS",
                    row.name, row.max
                ));
            }
            continue;
        }
        let reason = match (gap, outside) {
            (Some((_, recorded, reason)), _) => {
                if *recorded != served_max {
                    failures.push(format!(
                        "{}: GAPS records {recorded:?} as advertised, the answer has \
                         {served_max:?}: update the entry",
                        row.name
                    ));
                }
                *reason
            }
            (None, Some((_, reason))) => *reason,
            (None, None) => {
                failures.push(format!(
                    "{} advertised {served_max:?}, Kafka 4.2 up to v{}, and no GAPS \
                     entry says why",
                    row.name, row.max
                ));
                "?"
            }
        };
        let have = match served_max {
            Some(max) => format!("v{max} of v{}", row.max),
            None => format!("missing (v{})", row.max),
        };
        report.push(format!("  {key:>3} {:<30} {have}: {reason}", row.name));
    }
    println!(
        "Kafka 4.2 client-facing keys: {} ; advertised: {} ; at Kafka 4.2's maximum: {}",
        table.len(),
        advertised.len(),
        at_max
    );
    println!("{}", report.join("\n"));
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Every advertised version of every key decodes a request and gets an answer that
/// encodes at that version: nothing is advertised that is not served.
#[tokio::test]
async fn every_advertised_version_is_served() {
    let dir = tempfile::tempdir().unwrap();
    let b = broker(dir.path(), &[]);
    let answer = api_versions::handle(ApiVersionsRequest::default(), &ctx(3), &b)
        .await
        .unwrap();
    let mut failures = Vec::new();
    for k in &answer.api_keys {
        let api = ApiKey::try_from(k.api_key).unwrap();
        // Produce v0-v2 is advertised but refused on purpose (see supported_versions).
        let min = if api == ApiKey::Produce {
            3
        } else {
            k.min_version
        };
        for version in min..=k.max_version {
            let body = match default_request_body(api, version) {
                Ok(body) => body,
                Err(e) => {
                    failures.push(format!("{api:?} v{version}: cannot encode a request: {e}"));
                    continue;
                }
            };
            let command = match Command::decode(api, version, &mut body.freeze()) {
                Ok(c) => c,
                Err(e) => {
                    failures.push(format!("{api:?} v{version}: cannot decode: {e}"));
                    continue;
                }
            };
            let context = ctx(version);
            let applied =
                tokio::time::timeout(Duration::from_secs(10), command.apply(&context, &b)).await;
            match applied {
                Err(_) => failures.push(format!("{api:?} v{version}: no answer within 10 s")),
                // A default Produce has acks=0: no answer is right.
                Ok(None) if api == ApiKey::Produce => {}
                Ok(None) => failures.push(format!("{api:?} v{version}: no answer")),
                Ok(Some(response)) => {
                    let mut buf = bytes::BytesMut::new();
                    if let Err(e) = response.encode(&mut buf, version) {
                        failures.push(format!("{api:?} v{version}: answer does not encode: {e}"));
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
