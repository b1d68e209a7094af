//! Reading one partition of an internal topic (`__consumer_offsets`,
//! `__transaction_state`) record by record, from its log start offset to its high
//! watermark: what each coordinator replays at start-up to rebuild its state.
//!
//! Owns only the walk (reads in 4 MiB chunks, decodes batches, skips records below
//! the requested offset in the first batch, and fails rather than loop if a read makes
//! no progress). It never interprets a record; the caller's visitor does.

use anyhow::Result;
use kafka_protocol::records::{Record, RecordBatchDecoder};

use crate::topics::Partition;

/// Calls `visit` with every record of `partition` (control records included), in
/// offset order.
pub fn for_each_record(partition: &Partition, mut visit: impl FnMut(Record)) -> Result<()> {
    let mut offset = partition.watermarks().log_start_offset;
    loop {
        let (info, marks) = partition.read(offset, 4 << 20, None, true)?;
        if info.records.is_empty() || offset >= marks.high_watermark {
            return Ok(());
        }
        let mut buf = info.records.clone();
        let sets = RecordBatchDecoder::decode_all(&mut buf)?;
        let mut next = offset;
        for set in sets {
            for record in set.records {
                next = next.max(record.offset + 1);
                if record.offset >= offset {
                    visit(record);
                }
            }
        }
        if next <= offset {
            anyhow::bail!("no progress replaying at offset {offset}");
        }
        offset = next;
    }
}
