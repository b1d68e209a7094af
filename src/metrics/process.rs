//! `process_*`: the process's CPU time, memory, file descriptors and memory maps, read
//! from `/proc/self` at scrape time, under the names Prometheus's client libraries use
//! (so the usual process dashboards work), plus `sluice_process_memory_maps`, the count
//! that `vm.max_map_count` bounds (every segment's indexes are mapped).
//!
//! Only reads `/proc`; a file that cannot be read (not Linux, a hardened /proc) leaves
//! its series out rather than failing the scrape.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

#[derive(Debug)]
pub struct ProcessCollector;

/// What /proc says about this process (`None`: could not be read).
#[derive(Debug, Default, PartialEq)]
pub struct ProcessStats {
    pub cpu_seconds: Option<f64>,
    pub resident_bytes: Option<i64>,
    pub virtual_bytes: Option<i64>,
    pub start_time_seconds: Option<f64>,
    pub open_fds: Option<i64>,
    pub max_fds: Option<i64>,
    pub memory_maps: Option<i64>,
}

impl ProcessStats {
    pub fn read() -> ProcessStats {
        // SAFETY: sysconf and getrlimit only read process-wide values.
        let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as i64;
        let mut stats = std::fs::read_to_string("/proc/self/stat")
            .ok()
            .and_then(|stat| {
                let boot = std::fs::read_to_string("/proc/stat").ok().and_then(|s| {
                    s.lines()
                        .find_map(|l| l.strip_prefix("btime "))
                        .and_then(|v| v.trim().parse::<f64>().ok())
                });
                parse_stat(&stat, ticks, page, boot)
            })
            .unwrap_or_default();
        stats.open_fds = std::fs::read_dir("/proc/self/fd")
            .ok()
            .map(|d| d.count() as i64);
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: `limit` is a valid rlimit to write into.
        if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0 {
            stats.max_fds = Some(limit.rlim_cur.min(i64::MAX as u64) as i64);
        }
        stats.memory_maps = std::fs::read("/proc/self/maps")
            .ok()
            .map(|m| m.iter().filter(|&&b| b == b'\n').count() as i64);
        stats
    }
}

/// Parses `/proc/self/stat` (proc(5)): utime and stime (fields 14, 15, in clock ticks),
/// starttime (22, ticks since boot), vsize (23, bytes) and rss (24, pages). The command
/// name (field 2) may hold spaces and parentheses, so fields are counted after its last
/// `)`.
fn parse_stat(stat: &str, ticks: f64, page: i64, boot_time: Option<f64>) -> Option<ProcessStats> {
    let rest = &stat[stat.rfind(')')? + 1..];
    // `rest` starts at field 3 (state).
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |n: usize| -> Option<f64> { fields.get(n - 3)?.parse().ok() };
    let ticks = if ticks > 0.0 { ticks } else { 100.0 };
    Some(ProcessStats {
        cpu_seconds: Some((field(14)? + field(15)?) / ticks),
        virtual_bytes: field(23).map(|v| v as i64),
        resident_bytes: field(24).map(|p| p as i64 * page),
        start_time_seconds: boot_time.and_then(|b| field(22).map(|s| b + s / ticks)),
        ..ProcessStats::default()
    })
}

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let s = ProcessStats::read();
        if let Some(v) = s.cpu_seconds {
            let c = ConstCounter::new(v);
            let m = encoder.encode_descriptor(
                "process_cpu_seconds",
                "User and system CPU time spent, in seconds",
                None,
                c.metric_type(),
            )?;
            c.encode(m)?;
        }
        let gauges: [(&str, &str, Option<f64>); 6] = [
            (
                "process_resident_memory_bytes",
                "Resident memory size in bytes",
                s.resident_bytes.map(|v| v as f64),
            ),
            (
                "process_virtual_memory_bytes",
                "Virtual memory size in bytes",
                s.virtual_bytes.map(|v| v as f64),
            ),
            (
                "process_start_time_seconds",
                "Start time of the process since the Unix epoch, in seconds",
                s.start_time_seconds,
            ),
            (
                "process_open_fds",
                "Open file descriptors",
                s.open_fds.map(|v| v as f64),
            ),
            (
                "process_max_fds",
                "Limit on open file descriptors (RLIMIT_NOFILE)",
                s.max_fds.map(|v| v as f64),
            ),
            (
                "sluice_process_memory_maps",
                "Memory mappings of the process (bounded by vm.max_map_count)",
                s.memory_maps.map(|v| v as f64),
            ),
        ];
        for (name, help, value) in gauges {
            if let Some(v) = value {
                let g = ConstGauge::new(v);
                let m = encoder.encode_descriptor(name, help, None, g.metric_type())?;
                g.encode(m)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_after_the_command_name() {
        // A command name with spaces and a parenthesis, as proc(5) allows.
        let stat = "4242 (a b) c) S 1 2 3 4 5 6 7 8 9 10 250 150 0 0 20 0 9 0 1000 123456789 300 18446744073709551615";
        let s = parse_stat(stat, 100.0, 4096, Some(1_700_000_000.0)).unwrap();
        assert_eq!(s.cpu_seconds, Some(4.0));
        assert_eq!(s.virtual_bytes, Some(123_456_789));
        assert_eq!(s.resident_bytes, Some(300 * 4096));
        assert_eq!(s.start_time_seconds, Some(1_700_000_010.0));
        assert!(parse_stat("garbage", 100.0, 4096, None).is_none());
    }

    #[test]
    fn this_process_reads_its_own_stats() {
        let s = ProcessStats::read();
        assert!(s.open_fds.unwrap() > 0);
        assert!(s.resident_bytes.unwrap() > 0);
        assert!(s.memory_maps.unwrap() > 0);
    }
}
