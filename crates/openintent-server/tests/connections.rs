//! Connection limits over real TCP: idle, half-sent and kept-alive connections are closed after
//! the idle timeout, and a flood of idle connections against a process with a low open-file
//! limit does not lock out the clients that send requests.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use openintent_server::{ConnectionLimits, ServerConfig, spawn};

/// Waits (until `limit` after `since`) for the server to close `stream`; when that happened,
/// counted from `since`, or `None`.
fn closed_within(mut stream: TcpStream, since: Instant, limit: Duration) -> Option<Duration> {
    let start = since;
    stream.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
    let mut buf = [0u8; 4096];
    while start.elapsed() < limit {
        match stream.read(&mut buf) {
            Ok(0) => return Some(start.elapsed()),
            Ok(_) => {}
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            // Reset by the server: closed too.
            Err(_) => return Some(start.elapsed()),
        }
    }
    None
}

/// Sends `GET path` on `stream` (kept alive) and reads the whole response; its status line.
fn get_keep_alive(stream: &mut TcpStream, path: &str) -> String {
    write!(stream, "GET {path} HTTP/1.1\r\nHost: test\r\n\r\n").unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut status = String::new();
    reader.read_line(&mut status).unwrap();
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        if line == "\r\n" {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().unwrap();
        }
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body).unwrap();
    status.trim().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_half_sent_and_kept_alive_connections_are_closed_after_the_idle_timeout() {
    let limits = ConnectionLimits::default().idle_timeout(Duration::from_secs(1));
    let config = ServerConfig::builder()
        .database_url("sqlite::memory:")
        .bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .connections(limits)
        .build()
        .unwrap();
    let server = spawn(config).await.unwrap();
    let addr = server.addr();
    let results = tokio::task::spawn_blocking(move || {
        let opened = Instant::now();
        let silent = TcpStream::connect(addr).unwrap();
        let mut half = TcpStream::connect(addr).unwrap();
        half.write_all(b"GET /api/v1/health HTTP/1.1\r\nHost: te").unwrap();
        let mut kept = TcpStream::connect(addr).unwrap();
        assert_eq!(get_keep_alive(&mut kept, "/health"), "HTTP/1.1 200 OK");
        let answered = Instant::now();
        let limit = Duration::from_secs(6);
        [
            ("silent", closed_within(silent, opened, limit)),
            ("half-sent headers", closed_within(half, opened, limit)),
            ("kept alive", closed_within(kept, answered, limit)),
        ]
    })
    .await
    .unwrap();
    for (what, closed) in results {
        let after = closed.unwrap_or_else(|| panic!("a {what} connection was still open after 6 s"));
        assert!(
            after >= Duration::from_millis(500),
            "a {what} connection was closed after {after:?}, before its timeout"
        );
    }
    // A connection in use is not idle: a request every 400 ms keeps it open past the timeout.
    let busy = tokio::task::spawn_blocking(move || {
        let mut stream = TcpStream::connect(addr).unwrap();
        for _ in 0..6 {
            assert_eq!(get_keep_alive(&mut stream, "/health"), "HTTP/1.1 200 OK");
            std::thread::sleep(Duration::from_millis(400));
        }
    });
    busy.await.unwrap();
    server.shutdown().await.unwrap();
}

/// Runs the server binary under an open-file limit of `files`; the child and its address.
fn server_with_file_limit(dir: &std::path::Path, files: u32) -> (Child, SocketAddr) {
    let db = format!("sqlite:///{}", dir.join("limits.db").display());
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -n {files} && exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_openintent-server"))
        .args(["--host", "127.0.0.1", "--port", "0", "--database-url", &db, "--log-level", "error"])
        .env_remove("OPENINTENT_MAX_CONNECTIONS")
        .env_remove("OPENINTENT_IDLE_TIMEOUT")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start openintent-server");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let addr =
        line.trim().rsplit("http://").next().unwrap().parse().unwrap_or_else(|_| panic!("no address in {line:?}"));
    (child, addr)
}

#[test]
fn a_flood_of_idle_connections_under_a_low_file_limit_does_not_lock_out_clients() {
    let dir = tempfile::tempdir().unwrap();
    // 128 files: 64 connections by default, the rest for the database and the process.
    let (mut child, addr) = server_with_file_limit(dir.path(), 128);
    let idle: Vec<TcpStream> = (0..300).map(|_| TcpStream::connect(addr).unwrap()).collect();
    let start = Instant::now();
    let clients: Vec<_> = (0..14)
        .map(|_| {
            std::thread::spawn(move || {
                let mut stream = TcpStream::connect(addr).unwrap();
                stream.set_read_timeout(Some(Duration::from_secs(40))).unwrap();
                get_keep_alive(&mut stream, "/health")
            })
        })
        .collect();
    let statuses: Vec<String> = clients.into_iter().map(|c| c.join().expect("a client failed")).collect();
    let took = start.elapsed();
    child.kill().ok();
    child.wait().ok();
    drop(idle);
    assert!(statuses.iter().all(|s| s == "HTTP/1.1 200 OK"), "{statuses:?}");
    assert!(took < Duration::from_secs(40), "the clients waited {took:?}");
    eprintln!("14 clients behind 300 idle connections (128 files) were served in {took:?}");
}
