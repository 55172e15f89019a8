//! The delivery workers: claim due deliveries, POST them, record the outcome.

use std::net::SocketAddr;
use std::time::Duration;

use chrono::Utc;
use futures_util::future::join_all;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::{
    ATTEMPT_HEADER, DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, SUBSCRIPTION_HEADER, TIMESTAMP_HEADER,
    WebhookConfig, deliverable_url, host_ip, is_non_public_address, signature_header, unsupported_scheme,
};
use crate::store::{ClaimedDelivery, DeliveryUpdate, Store};

/// The running delivery workers of one server instance.
#[derive(Debug)]
pub(crate) struct WorkerPool {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl WorkerPool {
    /// Starts `config.workers` workers over `store` (none when delivery is disabled).
    pub(crate) fn start(store: &Store, config: &WebhookConfig) -> Result<Option<WorkerPool>, reqwest::Error> {
        if !config.enabled {
            return Ok(None);
        }
        let client = client_builder(config).build()?;
        let (stop, _) = watch::channel(false);
        let tasks = (0..config.workers)
            .map(|n| {
                let worker = Worker {
                    id: crate::store::new_id(),
                    store: store.clone(),
                    client: client.clone(),
                    config: config.clone(),
                    // One worker per instance deletes old finished deliveries.
                    prunes: n == 0 && config.retention.is_some(),
                };
                tokio::spawn(worker.run(stop.subscribe()))
            })
            .collect();
        Ok(Some(WorkerPool { stop, tasks }))
    }

    /// Stops the workers: attempts in flight are abandoned and their claims released, so the
    /// deliveries are sent again (with the same delivery id) by whichever worker claims them next.
    pub(crate) async fn stop(self) {
        self.stop.send_replace(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

struct Worker {
    id: String,
    store: Store,
    client: reqwest::Client,
    config: WebhookConfig,
    prunes: bool,
}

impl Worker {
    async fn run(self, mut stop: watch::Receiver<bool>) {
        tracing::debug!(worker = %self.id, "webhook worker started");
        let batch_size = i64::try_from(self.config.batch_size).unwrap_or(i64::MAX);
        let ttl = millis(self.config.claim_ttl);
        // Pruning runs at most once a minute (more often only with a shorter retention).
        let prune_every = self.config.retention.unwrap_or_default().min(Duration::from_secs(60));
        let mut last_prune: Option<tokio::time::Instant> = None;
        let new_deliveries = self.store.deliveries_signal();
        loop {
            if *stop.borrow() {
                break;
            }
            if self.prunes && last_prune.is_none_or(|t| t.elapsed() >= prune_every) {
                last_prune = Some(tokio::time::Instant::now());
                self.prune().await;
            }
            let claim = format!("{}/{}", self.id, crate::store::new_id());
            let now = Utc::now().timestamp_millis();
            let batch = match self.store.claim_deliveries(&claim, now, now.saturating_add(ttl), batch_size).await {
                Ok(batch) => batch,
                Err(e) => {
                    tracing::warn!(worker = %self.id, error = %e, "could not claim webhook deliveries");
                    Vec::new()
                }
            };
            let full = batch.len() == self.config.batch_size;
            if !batch.is_empty() {
                let work = join_all(batch.into_iter().map(|d| self.deliver(&claim, d)));
                tokio::select! {
                    _ = work => {}
                    // Never completes: renews the claim while the attempts are in flight.
                    _ = self.heartbeat(&claim) => {}
                    _ = stopped(&mut stop) => {
                        if let Err(e) = self.store.release_claims(&claim).await {
                            tracing::warn!(worker = %self.id, error = %e, "could not release webhook claims");
                        }
                        break;
                    }
                }
            }
            if !full {
                tokio::select! {
                    _ = tokio::time::sleep(self.config.poll_interval) => {}
                    // Deliveries written by this process are sent at once; those of other
                    // processes sharing the database, and retries, when the poll finds them.
                    _ = new_deliveries.notified() => {}
                    _ = stopped(&mut stop) => break,
                }
            }
        }
        tracing::debug!(worker = %self.id, "webhook worker stopped");
    }

    /// Renews `claim` every third of [`WebhookConfig::claim_ttl`] for as long as it is polled,
    /// so that an attempt slower than the claim is not taken over while this worker lives, and
    /// the claims of a worker that died expire one `claim_ttl` after its last renewal.
    async fn heartbeat(&self, claim: &str) {
        let every = self.config.claim_ttl / 3;
        loop {
            tokio::time::sleep(every).await;
            let until = Utc::now().timestamp_millis().saturating_add(millis(self.config.claim_ttl));
            if let Err(e) = self.store.renew_claims(claim, until).await {
                tracing::warn!(worker = %self.id, error = %e, "could not renew webhook claims");
            }
        }
    }

    /// Deletes the finished deliveries older than the retention.
    async fn prune(&self) {
        let Some(keep) = self.config.retention else { return };
        let keep = chrono::Duration::from_std(keep).unwrap_or(chrono::Duration::MAX);
        let Some(before) = Utc::now().checked_sub_signed(keep) else { return };
        match self.store.prune_deliveries(before).await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(worker = %self.id, deleted = n, "pruned finished webhook deliveries"),
            Err(e) => tracing::warn!(worker = %self.id, error = %e, "could not prune webhook deliveries"),
        }
    }

    /// Makes one attempt and records it.
    async fn deliver(&self, claim: &str, d: ClaimedDelivery) {
        let update = self.attempt(&d).await;
        match &update {
            DeliveryUpdate::Delivered { attempts, status_code } => {
                tracing::debug!(delivery = %d.id, subscription = %d.subscription_id, attempts, status_code, "webhook delivered");
            }
            DeliveryUpdate::Retry { attempts, error, .. } => {
                self.store.metrics().webhook_failure();
                tracing::info!(delivery = %d.id, subscription = %d.subscription_id, attempts, %error, "webhook attempt failed; will retry");
            }
            DeliveryUpdate::Failed { attempts, error, .. } => {
                self.store.metrics().webhook_failure();
                tracing::warn!(delivery = %d.id, subscription = %d.subscription_id, attempts, %error, "webhook delivery failed for good");
            }
            DeliveryUpdate::Cancelled { reason } => {
                tracing::debug!(delivery = %d.id, subscription = %d.subscription_id, %reason, "webhook delivery cancelled");
            }
        }
        match self.store.settle_delivery(&d.id, claim, &update).await {
            Ok(true) => {}
            Ok(false) => {
                tracing::info!(delivery = %d.id, "webhook claim lost before the outcome was recorded");
            }
            Err(e) => tracing::warn!(delivery = %d.id, error = %e, "could not record a webhook outcome"),
        }
    }

    async fn attempt(&self, d: &ClaimedDelivery) -> DeliveryUpdate {
        let cancelled = |reason: &str| DeliveryUpdate::Cancelled { reason: reason.to_owned() };
        let Some(target) = &d.target else { return cancelled("subscription deleted") };
        if !target.active {
            return cancelled("subscription inactive");
        }
        if target.expires_at.is_some_and(|e| e <= Utc::now()) {
            return cancelled("subscription expired");
        }
        let Some(url) = &target.url else { return cancelled("subscription has no webhook_url") };
        if !deliverable_url(url) {
            let error = "webhook_url is not an http(s) URL".into();
            return DeliveryUpdate::Failed { attempts: d.attempts, error, status_code: None };
        }
        if let Some(error) = unsupported_scheme(url) {
            return DeliveryUpdate::Failed { attempts: d.attempts, error, status_code: None };
        }
        let attempt = d.attempts.saturating_add(1);
        let result = match self.client_for(url).await {
            Ok(client) => self.send(&client, url, d, target.secret.as_deref(), attempt).await,
            Err(Destination::Refused(error)) => {
                return DeliveryUpdate::Failed { attempts: d.attempts, error, status_code: None };
            }
            Err(Destination::Unresolved(error)) => Err((error, None)),
        };
        let (error, status_code) = match result {
            Ok(status_code) => return DeliveryUpdate::Delivered { attempts: attempt, status_code },
            Err(failure) => failure,
        };
        if attempt >= self.config.max_attempts {
            DeliveryUpdate::Failed { attempts: attempt, error, status_code }
        } else {
            let delay = retry_delay(&self.config, attempt, fastrand::f64());
            let next_attempt_ms = Utc::now().timestamp_millis().saturating_add(millis(delay));
            DeliveryUpdate::Retry { attempts: attempt, next_attempt_ms, error, status_code }
        }
    }

    /// The client to send to `url` with: the shared one, or with
    /// [`WebhookConfig::deny_private`] one pinned to the checked addresses of the URL's host.
    async fn client_for(&self, url: &str) -> Result<reqwest::Client, Destination> {
        if !self.config.deny_private {
            return Ok(self.client.clone());
        }
        let parsed = reqwest::Url::parse(url).map_err(|e| Destination::Refused(format!("bad webhook_url: {e}")))?;
        let host = parsed.host_str().unwrap_or_default().to_owned();
        let refused = |ip| {
            Destination::Refused(format!(
                "destination refused: {host} resolves to {ip}, a loopback, private, link-local or otherwise \
                 non-public address (webhook deny-private is on)"
            ))
        };
        if let Some(ip) = host_ip(&parsed) {
            // A literal address: nothing to resolve, so nothing can change before the connection.
            return if is_non_public_address(ip) { Err(refused(ip)) } else { Ok(self.client.clone()) };
        }
        let port = parsed.port_or_known_default().unwrap_or(80);
        let lookup = tokio::net::lookup_host((host.as_str(), port));
        let addrs: Vec<SocketAddr> = match tokio::time::timeout(self.config.request_timeout, lookup).await {
            Ok(Ok(addrs)) => addrs.collect(),
            Ok(Err(e)) => return Err(Destination::Unresolved(format!("could not resolve {host}: {e}"))),
            Err(_) => return Err(Destination::Unresolved(format!("resolving {host} timed out"))),
        };
        if addrs.is_empty() {
            return Err(Destination::Unresolved(format!("{host} resolves to no address")));
        }
        if let Some(bad) = addrs.iter().find(|a| is_non_public_address(a.ip())) {
            return Err(refused(bad.ip()));
        }
        // Connect only to the addresses just checked: the client does not resolve the host again.
        client_builder(&self.config)
            .resolve_to_addrs(&host, &addrs)
            .build()
            .map_err(|e| Destination::Unresolved(format!("could not build the request: {e}")))
    }

    /// Sends one attempt; the 2xx status, or why it failed (with the status the receiver
    /// answered, when it answered).
    async fn send(
        &self,
        client: &reqwest::Client,
        url: &str,
        d: &ClaimedDelivery,
        secret: Option<&str>,
        attempt: u32,
    ) -> Result<u16, (String, Option<u16>)> {
        let timestamp = Utc::now().timestamp();
        let mut request = client
            .post(url)
            .timeout(self.config.request_timeout)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(DELIVERY_HEADER, &d.id)
            .header(EVENT_HEADER, &d.event_type)
            .header(SUBSCRIPTION_HEADER, &d.subscription_id)
            .header(ATTEMPT_HEADER, attempt.to_string())
            .header(TIMESTAMP_HEADER, timestamp.to_string());
        if let Some(secret) = secret {
            request = request.header(SIGNATURE_HEADER, signature_header(secret, timestamp, d.payload.as_bytes()));
        }
        match request.body(d.payload.clone()).send().await {
            Ok(response) if response.status().is_success() => Ok(response.status().as_u16()),
            Ok(response) => Err((format!("receiver answered {}", response.status()), Some(response.status().as_u16()))),
            Err(e) if e.is_timeout() => Err(("receiver timed out".to_owned(), None)),
            Err(e) => Err((format!("request failed: {}", e.without_url()), None)),
        }
    }
}

/// Why a destination cannot be sent to now.
enum Destination {
    /// Not allowed at all ([`WebhookConfig::deny_private`]): the delivery fails without retries.
    Refused(String),
    /// Not reachable now (the name did not resolve): a failed attempt, retried.
    Unresolved(String),
}

/// The settings of every webhook client.
fn client_builder(config: &WebhookConfig) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        // A redirect could lead anywhere (another scheme, an internal host): not followed.
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("openintent-server/", env!("CARGO_PKG_VERSION"), " (webhooks)"))
        .connect_timeout(config.request_timeout)
}

/// The delay after failed attempt number `attempt` (from 1): `base * 2^(attempt-1)` capped at
/// `max_backoff`, of which the upper half is jittered by `unit` (in `[0, 1)`), so retries of
/// many deliveries failing together spread out.
pub(crate) fn retry_delay(config: &WebhookConfig, attempt: u32, unit: f64) -> Duration {
    let exponent = attempt.saturating_sub(1).min(32);
    let full = config.base_backoff.saturating_mul(1u32 << exponent.min(31)).min(config.max_backoff);
    let half = full / 2;
    half + half.mul_f64(unit.clamp(0.0, 1.0))
}

/// Completes when the pool is told to stop (or is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_is_capped_and_jittered() {
        let c = WebhookConfig::default().base_backoff(Duration::from_secs(2)).max_backoff(Duration::from_secs(60));
        assert_eq!(retry_delay(&c, 1, 0.0), Duration::from_secs(1));
        assert_eq!(retry_delay(&c, 1, 1.0), Duration::from_secs(2));
        assert_eq!(retry_delay(&c, 2, 1.0), Duration::from_secs(4));
        assert_eq!(retry_delay(&c, 3, 0.5), Duration::from_secs(6));
        assert_eq!(retry_delay(&c, 10, 1.0), Duration::from_secs(60));
        assert_eq!(retry_delay(&c, u32::MAX, 0.0), Duration::from_secs(30));
        for attempt in 1..20 {
            let d = retry_delay(&c, attempt, fastrand::f64());
            assert!(d <= Duration::from_secs(60));
        }
    }
}
