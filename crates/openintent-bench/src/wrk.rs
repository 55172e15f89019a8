//! Load from `wrk` (the Debian package `wrk`): a C load generator with keep-alive connections,
//! far cheaper per request than any server it drives, so the figures measure the server. It
//! runs with one thread (the machine's other core is left to the server) and `connections`
//! keep-alive connections, for `seconds`; POST bodies come from a generated Lua script.

use std::process::Command;

/// What one `wrk` run measured.
#[derive(Debug, Clone, Default)]
pub struct WrkRun {
    /// Completed requests per second.
    pub rps: f64,
    /// Latency percentiles (ms): 50, 90, 99.
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// Answers that were not 2xx/3xx.
    pub non_2xx: u64,
    /// Socket errors (connect, read, write, timeout).
    pub socket_errors: u64,
    /// Requests completed.
    pub requests: u64,
}

/// One request shape.
#[derive(Debug, Clone)]
pub struct Load {
    pub url: String,
    /// `None`: GET; `Some(body)`: POST with a JSON body.
    pub post_body: Option<String>,
    pub headers: Vec<(String, String)>,
}

/// Whether `wrk` can be run.
pub fn available() -> bool {
    Command::new("wrk").arg("--version").output().is_ok()
}

/// Runs `wrk` once against `load`.
pub fn run(load: &Load, connections: usize, seconds: u64) -> Result<WrkRun, String> {
    let dir = std::env::temp_dir();
    let mut cmd = Command::new("wrk");
    cmd.args(["-t1", &format!("-c{connections}"), &format!("-d{seconds}s"), "--latency", "--timeout", "10s"]);
    for (k, v) in &load.headers {
        cmd.args(["-H", &format!("{k}: {v}")]);
    }
    let script = match &load.post_body {
        Some(body) => {
            let path = dir.join(format!("openintent-bench-{}-{}.lua", std::process::id(), fastrand::u32(..)));
            let lua = format!(
                "wrk.method = \"POST\"\nwrk.headers[\"Content-Type\"] = \"application/json\"\nwrk.body = [==[{body}]==]\n"
            );
            std::fs::write(&path, lua).map_err(|e| format!("cannot write the wrk script: {e}"))?;
            cmd.args(["-s", &path.to_string_lossy()]);
            Some(path)
        }
        None => None,
    };
    cmd.arg(&load.url);
    let out = cmd.output();
    if let Some(path) = script {
        let _ = std::fs::remove_file(path);
    }
    let out = out.map_err(|e| format!("cannot run wrk: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!("wrk failed: {}{}", text, String::from_utf8_lossy(&out.stderr)));
    }
    parse(&text).ok_or_else(|| format!("cannot read wrk's output:\n{text}"))
}

/// Reads wrk's report.
fn parse(text: &str) -> Option<WrkRun> {
    let mut run = WrkRun::default();
    for line in text.lines().map(str::trim) {
        if let Some(v) = line.strip_prefix("Requests/sec:") {
            run.rps = v.trim().parse().ok()?;
        } else if let Some(v) = line.strip_prefix("50%") {
            run.p50_ms = duration_ms(v.trim())?;
        } else if let Some(v) = line.strip_prefix("99%") {
            run.p99_ms = duration_ms(v.trim())?;
        } else if let Some(v) = line.strip_prefix("Non-2xx or 3xx responses:") {
            run.non_2xx = v.trim().parse().ok()?;
        } else if let Some(v) = line.strip_prefix("Socket errors:") {
            run.socket_errors = v
                .split(',')
                .filter_map(|part| part.split_whitespace().nth(1).and_then(|n| n.parse::<u64>().ok()))
                .sum();
        } else if line.contains("requests in") {
            run.requests = line.split_whitespace().next()?.parse().ok()?;
        }
    }
    (run.rps > 0.0).then_some(run)
}

/// `1.23ms`, `456.00us`, `2.01s`, `1.5m` as milliseconds.
fn duration_ms(v: &str) -> Option<f64> {
    let (num, unit) = v.split_at(v.find(|c: char| c.is_ascii_alphabetic())?);
    let n: f64 = num.parse().ok()?;
    Some(match unit {
        "us" => n / 1000.0,
        "ms" => n,
        "s" => n * 1000.0,
        "m" => n * 60_000.0,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_wrk_report() {
        let text = "Running 2s test @ http://127.0.0.1:1/intent\n  1 threads and 32 connections\n  Thread Stats   Avg      Stdev     Max   +/- Stdev\n    Latency   645.25us  120.10us   3.10ms   80.00%\n  Latency Distribution\n     50%  612.00us\n     75%  700.00us\n     90%  800.00us\n     99%    1.20ms\n  98765 requests in 2.00s, 60.00MB read\n  Socket errors: connect 0, read 2, write 0, timeout 1\n  Non-2xx or 3xx responses: 7\nRequests/sec:  49382.50\nTransfer/sec:     30.00MB\n";
        let run = parse(text).unwrap();
        assert_eq!(run.rps, 49382.50);
        assert!((run.p50_ms - 0.612).abs() < 1e-9);
        assert_eq!(run.p99_ms, 1.20);
        assert_eq!(run.non_2xx, 7);
        assert_eq!(run.socket_errors, 3);
        assert_eq!(run.requests, 98765);
    }

    #[test]
    fn a_report_without_a_rate_is_not_read() {
        assert!(parse("unable to connect to 127.0.0.1:1 Connection refused").is_none());
    }
}
