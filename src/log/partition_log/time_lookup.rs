//! ListOffsets by time on a partition log: the first offset at or after a timestamp
//! (Kafka's `fetchOffsetByTimestamp`) and the record with the largest timestamp. The
//! time and offset indexes narrow the scan to a position; the batches from there are
//! decoded (and decompressed) only when their header says they can hold a match. Read
//! only: it never changes the log, and refuses (a storage error) once it is offline.

use super::*;

impl PartitionLog {
    /// First record of `seg`, scanning batches from position `from_pos`, whose
    /// timestamp satisfies `pred`. Only batches whose header passes `header_pred`
    /// are decoded (through `kafka_protocol`, which also decompresses).
    fn find_record(
        &self,
        seg: &SegmentReader,
        from_pos: u64,
        header_pred: impl Fn(&BatchHeader) -> bool,
        pred: impl Fn(i64) -> bool,
    ) -> Result<Option<(i64, i64)>, LogError> {
        let mut pos = from_pos;
        while let Some(h) = seg.batch_at(pos) {
            let size = h.total_size() as u64;
            if h.last_offset() >= self.log_start_offset && header_pred(&h) {
                if h.timestamp_type() == TimestampType::LogAppendTime {
                    // Every record of a LogAppendTime batch has the batch max timestamp.
                    if pred(h.max_timestamp) {
                        return Ok(Some((
                            h.base_offset.max(self.log_start_offset),
                            h.max_timestamp,
                        )));
                    }
                } else {
                    let mut bytes = seg.slice(pos, pos + size);
                    let set = RecordBatchDecoder::decode(&mut bytes).map_err(|e| {
                        LogError::Corrupt(format!(
                            "cannot decode batch at offset {}: {e}",
                            h.base_offset
                        ))
                    })?;
                    if let Some(r) = set
                        .records
                        .iter()
                        .find(|r| r.offset >= self.log_start_offset && pred(r.timestamp))
                    {
                        return Ok(Some((r.offset, r.timestamp)));
                    }
                }
            }
            pos += size;
        }
        Ok(None)
    }

    /// ListOffsets by timestamp (Kafka's `fetchOffsetByTimestamp`): the first
    /// offset whose record timestamp >= `target_ts`, exact per record.
    pub fn offset_for_timestamp(&self, target_ts: i64) -> Result<Option<(i64, i64)>, LogError> {
        self.offline.check()?;
        for seg in &self.segments {
            if seg.max_timestamp() < target_ts || seg.next_offset <= self.log_start_offset {
                continue;
            }
            // The time index gives a batch no later than the first candidate; the
            // offset index turns it into a position.
            let seg = seg.reader()?;
            let from = match seg.time_index().lookup(target_ts) {
                Some((_, off)) => seg.offset_index().lookup(off).1 as u64,
                None => 0,
            };
            let found = self.find_record(
                &seg,
                from,
                |h| h.max_timestamp >= target_ts,
                |ts| ts >= target_ts,
            )?;
            if found.is_some() {
                return Ok(found);
            }
        }
        Ok(None)
    }

    /// ListOffsets MAX_TIMESTAMP (-3): offset and timestamp of the first record
    /// carrying the largest timestamp. None if the log is empty.
    pub fn max_timestamp_and_offset(&self) -> Result<Option<(i64, i64)>, LogError> {
        self.offline.check()?;
        let mut best: Option<&LogSegment> = None;
        for seg in &self.segments {
            if seg.size() == 0 || seg.next_offset <= self.log_start_offset {
                continue;
            }
            if best.is_none_or(|b| seg.max_timestamp() > b.max_timestamp()) {
                best = Some(seg);
            }
        }
        let Some(seg) = best else {
            return Ok(None);
        };
        let max_ts = seg.max_timestamp();
        let r = seg.reader()?;
        let from = if seg.offset_of_max_timestamp() >= 0 {
            r.offset_index().lookup(seg.offset_of_max_timestamp()).1 as u64
        } else {
            0
        };
        let found = self.find_record(&r, from, |h| h.max_timestamp == max_ts, |ts| ts == max_ts)?;
        Ok(found.or(Some((seg.base_offset.max(self.log_start_offset), max_ts))))
    }
}
