//! A real `openintent-server` process is SIGKILLed while its webhook attempts are in flight and
//! more deliveries wait: a new process on the same database sends every one of them within a
//! few seconds (the dead process's claims are short and were only kept alive by its renewals),
//! and no delivery is acknowledged twice.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use super::*;

/// How long recovery may take: one default claim (5 s), one poll (1 s), a process start, slack.
const RECOVERY: Duration = Duration::from_secs(12);

/// A server process, killed when dropped.
struct Process {
    child: Child,
    url: String,
}

impl Process {
    /// Starts `openintent-server` on `database_url` and a free port; waits until it listens.
    async fn start(database_url: &str) -> Process {
        let mut child = Command::new(env!("CARGO_BIN_EXE_openintent-server"))
            .args(["--host", "127.0.0.1", "--port", "0", "--log-level", "warn", "--api-keys", KEY])
            // Attempts stay in flight until the kill, whatever the receiver does.
            .args(["--webhook-timeout", "60", "--database-url", database_url])
            // The receiver listens on 127.0.0.1.
            .arg("--webhook-allow-private")
            .env_remove("OPENINTENT_API_KEYS")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start openintent-server");
        let stdout = child.stdout.take().unwrap();
        let line = tokio::task::spawn_blocking(move || {
            let mut line = String::new();
            BufReader::new(stdout).read_line(&mut line).map(|_| line)
        });
        let line = tokio::time::timeout(Duration::from_secs(60), line).await.expect("started in time");
        let line = line.unwrap().unwrap();
        let url = format!("http://{}", line.trim().rsplit("http://").next().unwrap());
        Process { child, url }
    }

    fn api(&self) -> Api {
        Api { base: self.url.clone(), http: reqwest::Client::new() }
    }

    /// SIGKILL: nothing is released, nothing finished.
    fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
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
    let mut first = Process::start(&database_url).await;
    let api = first.api();
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

    let second = Process::start(&database_url).await;
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
