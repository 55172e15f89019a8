//! The suspension timeout sweeper (RFC-0025/0026): a background task that, every
//! [`SWEEP_INTERVAL`], runs the timers of unanswered suspensions that are due — re-notifies
//! (with `intent.suspension_renotified`, and for the retry policy's escalation ladder
//! `intent.suspension_escalated` plus an escalation a human can resolve) and expires them by
//! their policy (`fail` abandons the intent; `complete_with_fallback` and
//! `use_default_and_continue` resume it with the fallback value), writing
//! `intent.suspension_expired` and `status_changed`.
//!
//! Several server processes may share one PostgreSQL database, each with its sweeper: a timer
//! is checked again under the intent's row lock before it acts, so each step happens once.

use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::store::{Store, now};

/// How often the sweeper looks for due timers.
pub(crate) const SWEEP_INTERVAL: Duration = Duration::from_secs(1);

/// The running sweeper.
#[derive(Debug)]
pub(crate) struct Sweeper {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Sweeper {
    /// Starts the sweeper on `store`, looking every `interval`.
    pub(crate) fn start(store: &Store, interval: Duration) -> Sweeper {
        let (stop, mut stopped) = watch::channel(false);
        let store = store.clone();
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = stopped.wait_for(|s| *s) => break,
                    _ = tick.tick() => {}
                }
                // A full batch means more may be due: go on without waiting.
                loop {
                    match store.run_due_suspension_timers(now()).await {
                        Ok(n) if n > 0 && !*stopped.borrow() => continue,
                        Ok(_) => break,
                        Err(e) => {
                            tracing::warn!(error = %e, "suspension timers: sweep failed; retrying later");
                            break;
                        }
                    }
                }
            }
        });
        Sweeper { stop, task }
    }

    /// Stops the sweeper, letting a running step finish.
    pub(crate) async fn stop(self) {
        self.stop.send_replace(true);
        let _ = self.task.await;
    }
}
