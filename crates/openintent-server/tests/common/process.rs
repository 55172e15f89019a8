//! A real `openintent-server` process (the binary of this package) on a free port of 127.0.0.1.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// How long a process may take to start listening, or to stop after SIGTERM.
const STARTUP: Duration = Duration::from_secs(60);

/// A server process, killed (SIGKILL) when dropped.
pub struct ServerProcess {
    child: Child,
    /// The address it listens on.
    pub addr: SocketAddr,
}

impl ServerProcess {
    /// Starts `openintent-server --host 127.0.0.1 --port 0 --log-level warn --api-keys <KEY>`
    /// with `args` after those, and waits (at most a minute) until it prints the address it
    /// listens on.
    pub async fn start(args: &[&str]) -> ServerProcess {
        Self::start_with(args, |_| {}).await
    }

    /// [`ServerProcess::start`], with `configure` adjusting the command (its environment, say)
    /// before it runs. `OPENINTENT_API_KEYS` and the `OTEL_*` variables of the test's
    /// environment are removed first.
    pub async fn start_with(args: &[&str], configure: impl FnOnce(&mut Command)) -> ServerProcess {
        let mut command = Command::new(env!("CARGO_BIN_EXE_openintent-server"));
        command
            .args(["--host", "127.0.0.1", "--port", "0", "--log-level", "warn", "--api-keys", super::KEY])
            .args(args)
            .env_remove("OPENINTENT_API_KEYS")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("OTEL_") {
                command.env_remove(name);
            }
        }
        configure(&mut command);
        let mut child = command.spawn().expect("start openintent-server");
        let stdout = child.stdout.take().unwrap();
        let line = tokio::task::spawn_blocking(move || {
            let mut line = String::new();
            BufReader::new(stdout).read_line(&mut line).map(|_| line)
        });
        let line = tokio::time::timeout(STARTUP, line).await.expect("server started in time");
        let line = line.unwrap().unwrap();
        let addr = line.trim().rsplit("http://").next().unwrap().parse().unwrap_or_else(|_| panic!("{line:?}"));
        ServerProcess { child, addr }
    }

    /// `http://<addr>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// SIGKILL: no graceful shutdown, no chance to finish anything.
    pub fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// SIGTERM (a graceful shutdown), then waits at most a minute for the process to exit.
    #[cfg(unix)]
    pub async fn terminate(&mut self) -> ExitStatus {
        let pid = rustix::process::Pid::from_raw(i32::try_from(self.child.id()).unwrap()).unwrap();
        rustix::process::kill_process(pid, rustix::process::Signal::TERM).expect("send SIGTERM");
        let deadline = Instant::now() + STARTUP;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "the server did not stop within a minute of SIGTERM");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
