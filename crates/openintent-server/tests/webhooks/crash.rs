//! A real `openintent-server` process is SIGKILLed while its webhook attempts are in flight and
//! more deliveries wait: a new process on the same database sends every one of them within a
//! few seconds (the dead process's claims are short and were only kept alive by its renewals),
//! and no delivery is acknowledged twice.

use super::*;
use crate::common::process::ServerProcess;

/// How long recovery may take: one default claim (5 s), one poll (1 s), a process start, slack.
const RECOVERY: Duration = Duration::from_secs(12);

/// Starts `openintent-server` on `database_url`, delivering to the receiver on 127.0.0.1.
async fn start(database_url: &str) -> ServerProcess {
    // Attempts stay in flight until the kill, whatever the receiver does.
    ServerProcess::start(&["--webhook-timeout", "60", "--database-url", database_url, "--webhook-allow-private"]).await
}

/// The API of `process`.
fn api(process: &ServerProcess) -> Api {
    Api { base: process.url(), http: reqwest::Client::new() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_of_a_killed_process_are_sent_within_seconds_and_acknowledged_once() {
    let dir = tempfile::tempdir().unwrap();
    let database_url = match database(&dir).await {
        DatabaseLocation::SqliteFile(path) => format!("sqlite:///{}", path.display()),
        DatabaseLocation::Postgres(url) => url,
        other => panic!("not a shared database: {other:?}"),
    };
    let receiver = Receiver::start().await;
    let mut first = start(&database_url).await;
    let api = api(&first);
    let stall = Behaviour { stall_first: true, ..Behaviour::default() };
    api.subscribe(json!({"webhook_url": receiver.url("crash", stall)})).await;
    let a = api.intent("a").await;
    for n in 0..5 {
        api.log(&a, "comment", n).await;
    }
    // The worker's first batch is in flight (the receiver holds it); the rest waits for it.
    eventually("a batch is in flight", || async { !receiver.hits("crash").is_empty() }).await;
    for n in 0..3 {
        api.log(&a, "checkpoint", n).await;
    }
    let expected = api.event_ids(&a).await;
    let in_flight = receiver.hits("crash").len();
    assert!(in_flight < expected.len(), "deliveries are left pending");
    first.kill();
    let killed = Instant::now();
    // The receiver answers at once from now on.
    receiver.url("crash", Behaviour::default());

    let second = start(&database_url).await;
    let deadline = killed + Duration::from_secs(60);
    while receiver.delivered("crash").keys().cloned().collect::<BTreeSet<_>>() != expected {
        assert!(Instant::now() < deadline, "deliveries not recovered within a minute");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let recovery = killed.elapsed();
    println!(
        "webhook recovery after SIGKILL: {:.2} s ({} deliveries, {in_flight} in flight at the kill)",
        recovery.as_secs_f64(),
        expected.len()
    );
    assert!(recovery <= RECOVERY, "recovery took {recovery:?}");

    let hits = receiver.hits("crash");
    let mut acknowledged: BTreeMap<&str, usize> = BTreeMap::new();
    for h in hits.iter().filter(|h| h.answered == 200) {
        *acknowledged.entry(h.delivery_id.as_str()).or_default() += 1;
    }
    assert_eq!(acknowledged.len(), expected.len());
    assert!(acknowledged.values().all(|n| *n == 1), "a delivery was acknowledged twice: {acknowledged:?}");
    drop(second);
}
