//! The harness runs a small workload against the embedded server and reports every operation.

use std::process::Command;

#[test]
fn embedded_run_reports_every_operation() {
    let out = Command::new(env!("CARGO_BIN_EXE_openintent-bench"))
        .args(["--embedded", "--concurrency", "2", "--units", "2", "--patches", "3", "--json"])
        .output()
        .expect("run openintent-bench");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    let target = &report["targets"][0];
    assert_eq!(target["name"], "embedded");
    assert_eq!(target["errors"], 0);
    assert_eq!(target["lost_writes"], 0);
    // 2 workers x 2 units x (create + 3 writes + get + log + events + acquire + release).
    assert_eq!(target["operations"], 2 * 2 * 9);
    assert_eq!(target["ops"]["update_state"]["count"], 2 * 2 * 3);
    assert!(target["ops"]["release_lease"]["p50_ms"].as_f64().is_some());
}

#[test]
fn a_bad_target_is_a_usage_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_openintent-bench")).args(["--target", "nourl"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("NAME=URL"));
}
