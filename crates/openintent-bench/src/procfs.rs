//! What the harness reads about processes: the CPU time of its own process (for the client's
//! cost per request) and the resident memory of a server process (`/proc/<pid>/status`).

use std::time::Duration;

/// CPU time (user + system) this process has used so far, every thread of it (fields 14 and 15
/// of `/proc/self/stat`, in clock ticks of 10 ms: measure runs of a second or more).
pub fn self_cpu() -> Duration {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else { return Duration::ZERO };
    // The command name (field 2) is parenthesized and may hold spaces: count after its `)`.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    // `after` starts at field 3 (the state): utime is field 14, stime field 15.
    let tick = |i: usize| fields.get(i - 3).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
    Duration::from_millis((tick(14) + tick(15)) * 1000 / TICKS_PER_SECOND)
}

/// `sysconf(_SC_CLK_TCK)` on Linux (100 on every architecture the kernel supports today).
const TICKS_PER_SECOND: u64 = 100;

/// The resident set of process `pid` now and its peak (`VmRSS`, `VmHWM`), in KiB; `None` when
/// `/proc` cannot be read (not Linux, or the process is gone).
pub fn rss_kib(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// `kib` as MiB with one decimal.
pub fn mib(kib: u64) -> String {
    format!("{:.1}", kib as f64 / 1024.0)
}
