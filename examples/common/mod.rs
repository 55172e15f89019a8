//! What every example needs: a server to talk to.
//!
//! With `OPENINTENT_URL` set, the examples use that server (API key from `OPENINTENT_API_KEY`,
//! default `dev-user-key`). Otherwise they start an `openintent-server` in this process, on a
//! SQLite file in a temporary directory that is removed afterwards.
#![allow(dead_code)]

pub mod report;

use openintent_server::{ApiKey, DEV_API_KEYS, DatabaseLocation, RunningServer, ServerConfig};

/// A boxed error, so that `?` works on every error type in the examples.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The API key in the environment variable `var`, or `default` when it is unset or empty.
pub fn key(var: &str, default: &str) -> String {
    std::env::var(var).ok().filter(|k| !k.is_empty()).unwrap_or_else(|| default.to_owned())
}

/// The server an example talks to.
pub struct Server {
    /// Its base URL.
    pub url: String,
    /// The API key for the user (from `OPENINTENT_API_KEY`, or `dev-user-key`).
    pub api_key: String,
    /// Whether the server runs inside this process (we chose its keys).
    pub embedded: bool,
    running: Option<(RunningServer, tempfile::TempDir)>,
}

impl Server {
    /// The server named by `OPENINTENT_URL`, or an embedded one with the development keys.
    pub async fn start() -> Result<Server, BoxError> {
        Server::start_with_keys(&[]).await
    }

    /// Like [`Server::start`]; an embedded server also accepts `extra_keys` (`key` or
    /// `key=agent` for a key bound to one agent).
    pub async fn start_with_keys(extra_keys: &[&str]) -> Result<Server, BoxError> {
        let api_key = key("OPENINTENT_API_KEY", "dev-user-key");
        if let Some(url) = std::env::var("OPENINTENT_URL").ok().filter(|u| !u.is_empty()) {
            println!("Using the server at {url}");
            return Ok(Server { url, api_key, embedded: false, running: None });
        }
        let dir = tempfile::tempdir()?;
        let keys = DEV_API_KEYS.iter().chain(extra_keys).map(|k| ApiKey::parse(k).ok_or("bad key entry"));
        let config = ServerConfig::builder()
            .database(DatabaseLocation::SqliteFile(dir.path().join("example.db")))
            .api_keys(keys.collect::<Result<Vec<_>, _>>()?)
            .bind(([127, 0, 0, 1], 0).into())
            .build()?;
        let server = openintent_server::spawn(config).await?;
        let url = server.url();
        println!("Started an embedded OpenIntent server at {url} (set OPENINTENT_URL to use another)");
        Ok(Server { url, api_key, embedded: true, running: Some((server, dir)) })
    }

    /// Stops an embedded server (and removes its database); nothing for a remote one.
    pub async fn stop(self) -> Result<(), BoxError> {
        if let Some((server, dir)) = self.running {
            server.shutdown().await?;
            dir.close()?;
        }
        Ok(())
    }
}
