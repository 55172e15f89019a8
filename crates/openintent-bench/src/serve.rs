//! The servers the harness measures, each run as a child process of the harness binary
//! (`openintent-bench serve --kind ...`) on 127.0.0.1, so that its CPU and memory are its own:
//!
//! - `ours`: `openintent-server` (the library, as the binary runs it) on an SQLite file or a
//!   PostgreSQL URL;
//! - `bare-get`: the ceiling of a read, an axum handler answering a static JSON body (the bytes
//!   of a real intent as our server answers it);
//! - `bare-insert`: the ceiling of a write, an axum handler that decodes the JSON body and
//!   inserts two rows (the document and an event) in one transaction of an SQLite file in WAL
//!   mode with `synchronous=NORMAL` (our server's settings): one rusqlite connection behind a
//!   mutex (one writer), `BEGIN IMMEDIATE`, two prepared (cached) inserts and `COMMIT` run inline
//!   on the handler's thread, the least a server on SQLite must do for a write.
//!
//! All three run on the same tokio runtime configuration (multi-threaded, one worker per core).
//! The child prints `listening <url>` on its standard output when it is ready, and exits when
//! its standard input closes (so a child never outlives the harness).

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use serde_json::Value;

/// What a `serve` child runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    /// openintent-server.
    Ours,
    /// GET of a static JSON body.
    BareGet,
    /// POST inserting two rows in one SQLite transaction.
    BareInsert,
}

/// Options of the `serve` child.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// What to run.
    #[arg(long, value_enum)]
    pub kind: Kind,
    /// `ours`: a database URL (`sqlite:///path`, `postgres://...`); `bare-insert`: an SQLite
    /// file path.
    #[arg(long)]
    pub database: Option<String>,
    /// `ours`: the API key it accepts.
    #[arg(long, default_value = "dev-user-key")]
    pub api_key: String,
    /// `bare-get`: the JSON body it answers.
    #[arg(long)]
    pub body: Option<String>,
}

/// A running child server; killed when dropped.
pub struct Spawned {
    child: Child,
    /// Closing it tells the child to exit.
    stdin: Option<ChildStdin>,
    /// Its base URL.
    pub url: String,
}

impl Spawned {
    /// Starts `openintent-bench serve` with `args` and waits until it listens.
    pub fn start(args: &[&str]) -> Result<Spawned, String> {
        let exe = std::env::current_exe().map_err(|e| format!("cannot find the harness binary: {e}"))?;
        let mut child = Command::new(exe)
            .arg("serve")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start a server process: {e}"))?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        match lines.next() {
            Some(Ok(line)) if line.starts_with("listening ") => {
                let url = line["listening ".len()..].trim().to_owned();
                // Keep draining the pipe so the child never blocks on a full one.
                std::thread::spawn(move || lines.for_each(drop));
                Ok(Spawned { child, stdin, url })
            }
            other => {
                let _ = child.kill();
                let _ = child.wait();
                Err(format!("the server process did not start ({other:?}), args {args:?}"))
            }
        }
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its resident memory now and at its peak, in KiB.
    pub fn rss(&self) -> Option<(u64, u64)> {
        crate::procfs::rss_kib(self.pid())
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        drop(self.stdin.take());
        // A clean exit first (closes the database), then the hard way.
        for _ in 0..50 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `serve` child's main.
pub fn main(args: ServeArgs) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("serve: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("serve: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Blocks (on a thread of its own) until standard input closes.
async fn stdin_closed() {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        let mut buf = [0_u8; 64];
        let mut stdin = std::io::stdin();
        while matches!(stdin.read(&mut buf), Ok(n) if n > 0) {}
        let _ = tx.send(());
    });
    let _ = rx.await;
}

fn announce(url: &str) {
    let mut out = std::io::stdout();
    let _ = writeln!(out, "listening {url}");
    let _ = out.flush();
}

async fn run(args: ServeArgs) -> Result<(), String> {
    let loopback = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    match args.kind {
        Kind::Ours => {
            let db = args.database.as_deref().ok_or("--database is required")?;
            let config = openintent_server::ServerConfig::builder()
                .database_url(db)
                .bind(loopback)
                .api_keys_from_list(&args.api_key)
                .build()
                .map_err(|e| e.to_string())?;
            let server = openintent_server::spawn(config).await.map_err(|e| e.to_string())?;
            announce(&server.url());
            stdin_closed().await;
            server.shutdown().await.map_err(|e| e.to_string())
        }
        Kind::BareGet => {
            let body: Arc<[u8]> = args.body.ok_or("--body is required")?.into_bytes().into();
            let app = Router::new().route(
                "/intent",
                get(move || {
                    let body = body.clone();
                    async move { ([(header::CONTENT_TYPE, "application/json")], axum::body::Bytes::from_owner(body)) }
                }),
            );
            serve_router(app, loopback).await
        }
        Kind::BareInsert => {
            let path = args.database.ok_or("--database is required")?;
            let db = bare_db(&path).map_err(|e| e.to_string())?;
            let app = Router::new().route("/insert", post(bare_insert)).with_state(db);
            serve_router(app, loopback).await
        }
    }
}

async fn serve_router(app: Router, addr: std::net::SocketAddr) -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| e.to_string())?;
    let url = format!("http://{}", listener.local_addr().map_err(|e| e.to_string())?);
    announce(&url);
    axum::serve(listener, app).with_graceful_shutdown(stdin_closed()).await.map_err(|e| e.to_string())
}

/// The bare insert's database: one rusqlite connection to an SQLite file in WAL mode with
/// `synchronous=NORMAL`, behind a mutex (one writer, as SQLite has).
type Bare = Arc<std::sync::Mutex<rusqlite::Connection>>;

/// Opens the SQLite file (WAL, `synchronous=NORMAL`) and creates the two tables.
fn bare_db(path: &str) -> Result<Bare, rusqlite::Error> {
    let conn = rusqlite::Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS docs (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, \
         body TEXT NOT NULL, created_at TEXT NOT NULL); \
         CREATE TABLE IF NOT EXISTS doc_events (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, \
         doc_id TEXT NOT NULL, payload TEXT NOT NULL, created_at TEXT NOT NULL)",
    )?;
    Ok(Arc::new(std::sync::Mutex::new(conn)))
}

/// Decodes the body, inserts it and an event in one transaction (`BEGIN IMMEDIATE`, two
/// prepared and cached inserts, `COMMIT`, run inline on the handler's thread), answers the
/// stored document.
async fn bare_insert(State(db): State<Bare>, axum::Json(mut doc): axum::Json<Value>) -> axum::response::Response {
    let id = format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..));
    let at = openintent_types::time::format_wire(&openintent_types::time::now());
    if let Value::Object(m) = &mut doc {
        m.insert("id".into(), Value::String(id.clone()));
    }
    let body = doc.to_string();
    let result = {
        let mut conn = db.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        insert_two(&mut conn, &id, &body, &at)
    };
    match result {
        Ok(()) => (StatusCode::CREATED, [(header::CONTENT_TYPE, "application/json")], body).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// The bare insert's transaction (rolled back when a statement fails).
fn insert_two(conn: &mut rusqlite::Connection, id: &str, body: &str, at: &str) -> Result<(), rusqlite::Error> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    tx.prepare_cached("INSERT INTO docs (id, body, created_at) VALUES (?1, ?2, ?3)")?.execute((id, body, at))?;
    tx.prepare_cached("INSERT INTO doc_events (id, doc_id, payload, created_at) VALUES (?1, ?2, '{}', ?3)")?
        .execute((format!("{id}-e"), id, at))?;
    tx.commit()
}
