//! Reads a bounded range of a topic's committed records, for `export` and `replay`:
//! the bounds (offsets or timestamps) are resolved once with ListOffsets, the end is
//! never past the last stable offset seen at the start, and the fetch loop stops when
//! every partition reached its end.
//!
//! It owns the range and the fetch loop only. It reads with read_committed and drops
//! control records and aborted transactions (`consume::decode_partition`), so it must
//! never hand out a record a read_committed consumer would not see, and never wait for
//! records that arrive after it started.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::FetchRequest;

use super::client::error_name;
use super::cluster::{Cluster, TopicInfo, EARLIEST, LATEST};
use super::consume::decode_partition;
use super::records::Record;

/// Gives up when no partition moved for this long (a broker that keeps answering
/// nothing below an end it reported itself).
const STALL_LIMIT: Duration = Duration::from_secs(60);

/// Where a range starts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum From {
    Beginning,
    /// This offset (clamped to the log start offset).
    Offset(i64),
    /// The first record at or after this time (ms), and only records at or after it.
    Timestamp(i64),
}

/// Where a range ends (exclusive).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum To {
    /// The last stable offset when the read starts.
    End,
    /// Before this offset.
    Offset(i64),
    /// Only records before this time (ms), up to the last stable offset at the start.
    Timestamp(i64),
}

/// Reads `[start, end)` of some partitions of one topic.
pub struct RangeReader {
    pub topic: TopicInfo,
    positions: BTreeMap<i32, i64>,
    /// Partition -> exclusive end offset.
    ends: BTreeMap<i32, i64>,
    min_timestamp: Option<i64>,
    max_timestamp: Option<i64>,
    last_progress: Instant,
}

impl RangeReader {
    /// Resolves the range for `partitions` of `topic` (every partition with `None`).
    pub async fn new(
        cluster: &mut Cluster,
        topic: TopicInfo,
        partitions: Option<&[i32]>,
        from: From,
        to: To,
    ) -> Result<RangeReader> {
        let all: Vec<i32> = topic.partitions.iter().map(|p| p.partition).collect();
        let parts: Vec<i32> = match partitions {
            None => all,
            Some(ps) => {
                for p in ps {
                    if !all.contains(p) {
                        bail!("topic `{}` has no partition {p}", topic.name);
                    }
                }
                ps.to_vec()
            }
        };
        let earliest = cluster.list_offsets(&topic, &parts, EARLIEST, true).await?;
        let stable = cluster.list_offsets(&topic, &parts, LATEST, true).await?;
        let at_time = |found: BTreeMap<i32, (i64, i64)>| -> BTreeMap<i32, i64> {
            found
                .into_iter()
                .map(|(p, (o, _))| (p, if o < 0 { stable[&p].0 } else { o }))
                .collect()
        };
        let starts: BTreeMap<i32, i64> = match from {
            From::Beginning => earliest.iter().map(|(p, (o, _))| (*p, *o)).collect(),
            From::Offset(o) => earliest.iter().map(|(p, (e, _))| (*p, o.max(*e))).collect(),
            From::Timestamp(t) => at_time(cluster.list_offsets(&topic, &parts, t, true).await?),
        };
        let ends: BTreeMap<i32, i64> = match to {
            To::End => stable.iter().map(|(p, (o, _))| (*p, *o)).collect(),
            To::Offset(o) => stable.iter().map(|(p, (s, _))| (*p, o.min(*s))).collect(),
            // Not ListOffsets(t): a transaction marker carries the broker's clock as its
            // timestamp, so the first offset "at or after t" can be a marker in front of
            // records that are still before t. The range runs to the last stable offset
            // and the records at or after t are left out.
            To::Timestamp(_) => stable.iter().map(|(p, (o, _))| (*p, *o)).collect(),
        };
        Ok(RangeReader {
            topic,
            positions: starts,
            ends,
            min_timestamp: match from {
                From::Timestamp(t) => Some(t),
                _ => None,
            },
            max_timestamp: match to {
                To::Timestamp(t) => Some(t),
                _ => None,
            },
            last_progress: Instant::now(),
        })
    }

    /// Moves the start of partition `p` forward to `offset` (a resumed run).
    pub fn skip_to(&mut self, p: i32, offset: i64) {
        if let Some(pos) = self.positions.get_mut(&p) {
            *pos = (*pos).max(offset);
        }
    }

    /// The partitions read, with their current position and end.
    pub fn progress(&self) -> impl Iterator<Item = (i32, i64, i64)> + '_ {
        self.positions
            .iter()
            .map(|(p, pos)| (*p, *pos, self.ends[p]))
    }

    /// Partition -> exclusive end offset of the range.
    pub fn ends(&self) -> &BTreeMap<i32, i64> {
        &self.ends
    }

    /// Partition -> next offset to read.
    pub fn positions(&self) -> &BTreeMap<i32, i64> {
        &self.positions
    }

    pub fn partition_done(&self, p: i32) -> bool {
        self.positions[&p] >= self.ends[&p]
    }

    pub fn done(&self) -> bool {
        self.positions.iter().all(|(p, pos)| *pos >= self.ends[p])
    }

    /// The next records of the partitions not yet at their end (only those in `only`
    /// if given),
    /// in offset order per partition; empty once done. Positions move past control
    /// records and aborted data even when no record comes out.
    pub async fn next(
        &mut self,
        cluster: &mut Cluster,
        only: Option<&[i32]>,
    ) -> Result<Vec<(i32, Record)>> {
        let open: Vec<i32> = self
            .positions
            .iter()
            .filter(|(p, pos)| **pos < self.ends[p] && only.is_none_or(|o| o.contains(p)))
            .map(|(p, _)| *p)
            .collect();
        if open.is_empty() {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        let mut moved = false;
        for (leader, parts) in self.topic.by_leader(open)? {
            let request = self
                .topic
                .fetch_request(&parts, &self.positions, 100, 1, 4 << 20);
            let conn = cluster.node(leader).await?;
            let version = conn.version::<FetchRequest>(12)?;
            let answer = conn.send_raw(&request, version).await?;
            if let Some(e) = ResponseError::try_from_code(answer.error_code) {
                bail!("fetch from {}: {}", self.topic.name, error_name(e));
            }
            for t in answer.responses {
                for pd in t.partitions {
                    let p = pd.partition_index;
                    let Some(&position) = self.positions.get(&p) else {
                        continue;
                    };
                    match ResponseError::try_from_code(pd.error_code) {
                        None => {}
                        Some(e) if e.is_retriable() => continue,
                        Some(e) => bail!("fetch from {}-{p}: {}", self.topic.name, error_name(e)),
                    }
                    let aborted: Vec<(i64, i64)> = pd
                        .aborted_transactions
                        .unwrap_or_default()
                        .iter()
                        .map(|a| (a.producer_id.0, a.first_offset))
                        .collect();
                    let records = pd.records.unwrap_or_default();
                    let (recs, next) = decode_partition(&records, position, Some(&aborted))
                        .with_context(|| format!("{}-{p}", self.topic.name))?;
                    let end = self.ends[&p];
                    moved |= next > position;
                    self.positions.insert(p, next.min(end).max(position));
                    out.extend(
                        recs.into_iter()
                            .filter(|r| r.offset < end)
                            .filter(|r| self.min_timestamp.is_none_or(|t| r.timestamp >= t))
                            .filter(|r| self.max_timestamp.is_none_or(|t| r.timestamp < t))
                            .map(|r| (p, r)),
                    );
                }
            }
        }
        if moved {
            self.last_progress = Instant::now();
        } else if self.last_progress.elapsed() > STALL_LIMIT {
            bail!(
                "reading {}: no progress for {} s below the end offsets {:?}",
                self.topic.name,
                STALL_LIMIT.as_secs(),
                self.ends
            );
        }
        Ok(out)
    }
}
