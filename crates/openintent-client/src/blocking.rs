//! The blocking client.

use std::future::Future;
use std::panic::AssertUnwindSafe;

use futures_util::FutureExt;

/// A tokio runtime owned by blocking clients; shut down in the background when the last
/// clone goes away, so dropping never blocks and never panics, inside a runtime or not.
pub(crate) struct OwnedRuntime {
    rt: Option<tokio::runtime::Runtime>,
}

impl OwnedRuntime {
    pub(crate) fn new() -> std::io::Result<OwnedRuntime> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("openintent-blocking")
            .enable_all()
            .build()?;
        Ok(OwnedRuntime { rt: Some(rt) })
    }

    fn rt(&self) -> &tokio::runtime::Runtime {
        self.rt.as_ref().expect("runtime present until drop")
    }

    pub(crate) fn enter(&self) -> tokio::runtime::EnterGuard<'_> {
        self.rt().enter()
    }

    /// Runs `fut` on the runtime and waits for it from the calling thread. Works from any
    /// thread, including one driving another runtime (the future runs on this runtime's
    /// workers; the caller only waits). A panic in the future resumes on the caller.
    pub(crate) fn run<F>(&self, fut: F) -> F::Output
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.rt().spawn(async move {
            let out = AssertUnwindSafe(fut).catch_unwind().await;
            let _ = tx.send(out);
        });
        match rx.recv() {
            Ok(Ok(v)) => v,
            Ok(Err(panic)) => std::panic::resume_unwind(panic),
            Err(_) => panic!("the blocking client's runtime stopped while a call was running"),
        }
    }
}

impl Drop for OwnedRuntime {
    fn drop(&mut self) {
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}
