//! DescribeLogDirs (key 35): the data directory, each partition's size on disk, and
//! (v4+) the disk's total and usable bytes, as `kafka-log-dirs` shows them.

use std::sync::Arc;

use kafka_protocol::messages::describe_log_dirs_response::{
    DescribeLogDirsPartition, DescribeLogDirsResult, DescribeLogDirsTopic,
};
use kafka_protocol::messages::{DescribeLogDirsRequest, DescribeLogDirsResponse, TopicName};

use super::{sb, RequestContext};
use crate::broker::Broker;

pub async fn handle(
    request: DescribeLogDirsRequest,
    ctx: &RequestContext,
    broker: &Arc<Broker>,
) -> Option<DescribeLogDirsResponse> {
    let data_dir = broker.topics.data_dir();
    let mut dir = DescribeLogDirsResult::default();
    dir.log_dir = sb(match std::fs::canonicalize(data_dir) {
        Ok(path) => path.display().to_string(),
        // An in-memory broker's directory has no name on disk.
        Err(_) => crate::log::storage::display(data_dir),
    });
    let wanted: Option<Vec<(String, Vec<i32>)>> = request.topics.map(|topics| {
        topics
            .into_iter()
            .map(|t| (t.topic.to_string(), t.partitions))
            .collect()
    });
    for topic in broker.topics.list() {
        let partitions: Vec<i32> = match &wanted {
            None => (0..topic.partitions.len() as i32).collect(),
            Some(w) => match w.iter().find(|(name, _)| name.as_str() == &*topic.name) {
                Some((_, parts)) => parts.clone(),
                None => continue,
            },
        };
        let mut t = DescribeLogDirsTopic::default();
        t.name = TopicName(sb(topic.name.to_string()));
        for index in partitions {
            let Some(partition) = topic.partition(index) else {
                continue;
            };
            let mut p = DescribeLogDirsPartition::default();
            p.partition_index = index;
            p.partition_size = partition.size_bytes() as i64;
            p.offset_lag = 0;
            t.partitions.push(p);
        }
        dir.topics.push(t);
    }
    if ctx.api_version >= 4 {
        let (total, usable) = disk_space(data_dir).unwrap_or((-1, -1));
        dir.total_bytes = total;
        dir.usable_bytes = usable;
    }
    let mut r = DescribeLogDirsResponse::default();
    r.results = vec![dir];
    Some(r)
}

/// Total and available bytes of the file system holding `path` (statvfs).
fn disk_space(path: &std::path::Path) -> Option<(i64, i64)> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a valid NUL-terminated path and `st` a properly sized out-parameter.
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return None;
    }
    let frsize = st.f_frsize as i64;
    Some((st.f_blocks as i64 * frsize, st.f_bavail as i64 * frsize))
}
