//! The answers of one connection, kept in request order until they are written.
//!
//! Most answers are encoded as soon as their handler returns. A Produce that waits for
//! its fsync leaves a *deferred* answer instead (`api::Answer::Deferred`); answers of
//! later requests are encoded right away but queue behind it, because Kafka clients
//! match answers to requests by order as well as by correlation id. [`Answers::step`]
//! moves finished deferred answers to the write queue and writes it; the connection
//! polls it alongside whatever handler is running, so a produce answer whose fsync is
//! done goes out even while a later Fetch long-polls. This module never runs handlers
//! or reads the socket; it never reorders answers and never drops one except when the
//! connection closes.
//!
//! It times each answer's `send` stage (ready -> last byte written, see
//! `request_metrics`): one `Instant::now()` per write of the queue, shared by every
//! answer that write finished.

use std::collections::VecDeque;
use std::task::Poll;
use std::time::Instant;

use bytes::{BufMut, Bytes, BytesMut};
use futures::future::BoxFuture;
use kafka_protocol::messages::{ApiKey, ResponseHeader};
use kafka_protocol::protocol::Encodable;
use tokio::io::AsyncWrite;

use super::connection::Close;
use super::request_metrics;
use super::response_buf::{zero_copy_candidates, OutQueue, ResponseBuf};
use crate::api::Response;
use crate::metrics::{self, Metrics};

/// At most this many deferred answers per connection; then the connection reads no
/// more requests until the oldest is answered. (An idempotent producer keeps at most 5
/// requests in flight; a plain librdkafka producer may keep many more.)
pub const MAX_DEFERRED: usize = 16;
/// Flush answers early once this much is queued, so one pipelined burst of fetches
/// does not hold many megabytes in memory; past it the connection reads no more
/// requests until the queue is written.
pub const FLUSH_THRESHOLD: usize = 1024 * 1024;

/// Which request an answer belongs to, to frame and encode it.
#[derive(Clone, Copy, Debug)]
pub struct Slot {
    pub key: ApiKey,
    pub version: i16,
    pub correlation_id: i32,
    /// When the request's frame was read whole (its `queue` stage starts there).
    pub arrived: Instant,
}

/// An encoded answer not yet written, and when it became ready.
struct Unsent {
    slot: Slot,
    ready: Instant,
}

struct Deferred {
    slot: Slot,
    wait: BoxFuture<'static, Response>,
    /// Encoded answers of the requests that came after this one and before the next
    /// deferred one.
    behind: OutQueue,
    behind_unsent: Vec<Unsent>,
}

/// A connection's answers not yet written, in request order.
pub struct Answers {
    /// Encoded answers with nothing unanswered before them: write these now.
    ready: OutQueue,
    /// The answers in `ready`, to time their send once written.
    unsent: Vec<Unsent>,
    deferred: VecDeque<Deferred>,
    metrics: &'static Metrics,
}

impl Default for Answers {
    fn default() -> Answers {
        Answers::recording_into(metrics::global())
    }
}

impl Answers {
    /// Answers whose send times go to `metrics` (tests; connections use the global).
    pub fn recording_into(metrics: &'static Metrics) -> Answers {
        Answers {
            ready: OutQueue::default(),
            unsent: Vec::new(),
            deferred: VecDeque::new(),
            metrics,
        }
    }

    /// Queues the answer to the latest request; a ready answer became ready at
    /// `handled`.
    pub fn push(
        &mut self,
        slot: Slot,
        answer: crate::api::Answer,
        handled: Instant,
    ) -> Result<(), Close> {
        match answer {
            crate::api::Answer::None => Ok(()),
            crate::api::Answer::Ready(response) => {
                let (out, unsent) = match self.deferred.back_mut() {
                    Some(d) => (&mut d.behind, &mut d.behind_unsent),
                    None => (&mut self.ready, &mut self.unsent),
                };
                encode_response(out, slot, &response)?;
                unsent.push(Unsent {
                    slot,
                    ready: handled,
                });
                Ok(())
            }
            crate::api::Answer::Deferred(wait) => {
                self.deferred.push_back(Deferred {
                    slot,
                    wait,
                    behind: OutQueue::default(),
                    behind_unsent: Vec::new(),
                });
                Ok(())
            }
        }
    }

    /// True when the connection should read no more requests until [`Answers::step`]
    /// has made progress.
    pub fn is_full(&self) -> bool {
        self.deferred.len() >= MAX_DEFERRED
            || self.ready.len() >= FLUSH_THRESHOLD
            || self.deferred.iter().map(|d| d.behind.len()).sum::<usize>() >= FLUSH_THRESHOLD
    }

    /// True while some answer is waiting or unwritten: [`Answers::step`] has work.
    pub fn is_busy(&self) -> bool {
        !self.ready.is_empty() || !self.deferred.is_empty()
    }

    /// Makes one unit of progress: moves the oldest deferred answer, once finished, to
    /// the write queue, or writes the whole write queue. Pending forever when idle.
    /// Cancel-safe, so it can lose a `select!` to the running handler at any point.
    pub async fn step<W: AsyncWrite + Unpin>(&mut self, out: &mut W) -> Result<(), Close> {
        let Answers {
            ready,
            unsent,
            deferred,
            metrics,
        } = self;
        let (has_head, has_ready) = (!deferred.is_empty(), !ready.is_empty());
        let head = std::future::poll_fn(|cx| match deferred.front_mut() {
            Some(d) => d.wait.as_mut().poll(cx),
            None => Poll::Pending,
        });
        tokio::select! {
            // Finished answers first, so they join the next write.
            biased;
            response = head, if has_head => {
                let d = deferred.pop_front().expect("polled the head of a non-empty queue");
                encode_response(ready, d.slot, &response)?;
                ready.append(d.behind);
                unsent.push(Unsent { slot: d.slot, ready: Instant::now() });
                unsent.extend(d.behind_unsent);
                Ok(())
            }
            written = ready.write_to(out), if has_ready => {
                written.map_err(Close::Io)?;
                // Everything queued is written: each answer's last byte went out by now.
                let now = Instant::now();
                for u in unsent.drain(..) {
                    request_metrics::sent(metrics, u.slot.key, u.slot.arrived, u.ready, now);
                }
                Ok(())
            }
            else => std::future::pending().await,
        }
    }

    /// Completes and writes every queued answer (before closing on a request error or
    /// end of input, so answers already due are not lost).
    pub async fn finish<W: AsyncWrite + Unpin>(&mut self, out: &mut W) -> Result<(), Close> {
        while self.is_busy() {
            self.step(out).await?;
        }
        Ok(())
    }
}

/// Appends `[size][response header][body]` to `out`. Large record sets of a Fetch
/// answer are queued by reference (see `response_buf`), everything else is copied.
pub fn encode_response(out: &mut OutQueue, slot: Slot, response: &Response) -> Result<(), Close> {
    let Slot {
        key,
        version,
        correlation_id,
        ..
    } = slot;
    let mut header = ResponseHeader::default();
    header.correlation_id = correlation_id;
    let header_version = key.response_header_version(version);
    let failed = |e: anyhow::Error| {
        tracing::error!(?key, version, error = %e, "failed to encode response; this is a broker bug");
        Close::Protocol(format!("could not encode {key:?} v{version} response: {e}"))
    };
    let candidates = zero_copy_candidates(response);
    if !candidates.is_empty() {
        let mut buf = ResponseBuf::new(&candidates);
        header
            .encode(&mut buf, header_version)
            .and_then(|_| response.encode(&mut buf, version))
            .map_err(failed)?;
        if let Some(chunks) = buf.finish() {
            let size: usize = chunks.iter().map(Bytes::len).sum();
            out.push_slice(&(size as i32).to_be_bytes());
            for chunk in chunks {
                out.push(chunk);
            }
            return Ok(());
        }
    }
    let mut buf = BytesMut::new();
    buf.put_i32(0);
    header
        .encode(&mut buf, header_version)
        .and_then(|_| response.encode(&mut buf, version))
        .map_err(failed)?;
    let size = (buf.len() - 4) as i32;
    buf[0..4].copy_from_slice(&size.to_be_bytes());
    out.push_slice(&buf);
    Ok(())
}

#[cfg(test)]
mod tests {
    use futures::FutureExt;
    use kafka_protocol::messages::ApiVersionsResponse;
    use tokio::sync::oneshot;

    use super::*;
    use crate::api::Answer;

    fn slot(correlation_id: i32) -> Slot {
        Slot {
            key: ApiKey::ApiVersions,
            version: 0,
            correlation_id,
            arrived: Instant::now(),
        }
    }

    fn ready() -> Answer {
        Answer::Ready(Response::ApiVersions(ApiVersionsResponse::default()))
    }

    /// A deferred answer that finishes when the returned sender is used.
    fn deferred() -> (Answer, oneshot::Sender<()>) {
        let (tx, rx) = oneshot::channel::<()>();
        let wait = async move {
            let _ = rx.await;
            Response::ApiVersions(ApiVersionsResponse::default())
        };
        (Answer::Deferred(Box::pin(wait)), tx)
    }

    /// Steps until nothing is left that can be done without waiting.
    fn step_while_ready(answers: &mut Answers, out: &mut Vec<u8>) {
        while answers.is_busy() {
            match answers.step(out).now_or_never() {
                Some(r) => r.unwrap(),
                None => return,
            }
        }
    }

    /// The correlation ids of the framed ApiVersions v0 answers in `out`.
    fn correlation_ids(mut out: &[u8]) -> Vec<i32> {
        let mut ids = Vec::new();
        while !out.is_empty() {
            let size = i32::from_be_bytes(out[0..4].try_into().unwrap()) as usize;
            ids.push(i32::from_be_bytes(out[4..8].try_into().unwrap()));
            out = &out[4 + size..];
        }
        ids
    }

    #[test]
    fn answers_behind_a_deferred_one_wait_for_it() {
        let mut answers = Answers::default();
        let mut out = Vec::new();
        answers.push(slot(1), ready(), Instant::now()).unwrap();
        let (answer, first_done) = deferred();
        answers.push(slot(2), answer, Instant::now()).unwrap();
        answers.push(slot(3), ready(), Instant::now()).unwrap();
        answers.push(slot(4), Answer::None, Instant::now()).unwrap();
        let (answer, second_done) = deferred();
        answers.push(slot(5), answer, Instant::now()).unwrap();
        answers.push(slot(6), ready(), Instant::now()).unwrap();

        step_while_ready(&mut answers, &mut out);
        assert_eq!(
            correlation_ids(&out),
            [1],
            "nothing passes an unfinished answer"
        );

        // The second finishing first changes nothing: answers leave in request order.
        second_done.send(()).unwrap();
        step_while_ready(&mut answers, &mut out);
        assert_eq!(correlation_ids(&out), [1]);

        first_done.send(()).unwrap();
        step_while_ready(&mut answers, &mut out);
        assert_eq!(correlation_ids(&out), [1, 2, 3, 5, 6]);
        assert!(!answers.is_busy());
    }

    /// `sluice_request_duration_seconds_count{api="ApiVersions",stage=...}` in `m`.
    fn stage_count(m: &Metrics, stage: &str) -> u64 {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, m.registry()).unwrap();
        let series = format!(
            "sluice_request_duration_seconds_count{{api=\"ApiVersions\",stage=\"{stage}\"}} "
        );
        text.lines()
            .find_map(|l| l.strip_prefix(series.as_str()))
            .map_or(0, |v| v.parse().unwrap())
    }

    #[test]
    fn send_and_total_are_timed_once_the_answer_is_written() {
        let m: &'static Metrics = Box::leak(Box::new(Metrics::new()));
        let mut answers = Answers::recording_into(m);
        let mut out = Vec::new();
        let (answer, done) = deferred();
        answers.push(slot(1), answer, Instant::now()).unwrap();
        answers.push(slot(2), ready(), Instant::now()).unwrap();
        step_while_ready(&mut answers, &mut out);
        assert!(out.is_empty());
        assert_eq!(stage_count(m, "send"), 0, "nothing written, nothing timed");
        assert_eq!(stage_count(m, "total"), 0);

        done.send(()).unwrap();
        step_while_ready(&mut answers, &mut out);
        assert_eq!(correlation_ids(&out), [1, 2]);
        assert_eq!(
            stage_count(m, "send"),
            2,
            "the deferred answer and the one behind it"
        );
        assert_eq!(stage_count(m, "total"), 2);

        answers.push(slot(3), Answer::None, Instant::now()).unwrap();
        step_while_ready(&mut answers, &mut out);
        assert_eq!(
            stage_count(m, "send"),
            2,
            "a request without an answer sends nothing"
        );
    }

    #[test]
    fn too_many_deferred_answers_fill_the_queue() {
        let mut answers = Answers::default();
        let mut senders = Vec::new();
        for i in 0..MAX_DEFERRED {
            assert!(!answers.is_full());
            let (answer, tx) = deferred();
            answers
                .push(slot(i as i32), answer, Instant::now())
                .unwrap();
            senders.push(tx);
        }
        assert!(answers.is_full());

        let mut out = Vec::new();
        senders.remove(0).send(()).unwrap();
        step_while_ready(&mut answers, &mut out);
        assert_eq!(correlation_ids(&out), [0]);
        assert!(!answers.is_full(), "the oldest answered frees a place");
    }
}
