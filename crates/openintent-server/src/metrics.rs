//! Operational metrics in the Prometheus text format, served by `GET /metrics` on the separate
//! metrics listener ([`crate::ServerConfigBuilder::metrics_addr`], off by default).
//!
//! A small hand-written registry: a handful of counters, gauges and fixed-bucket histograms
//! need no metrics framework (and its compile time). One registry per [`crate::Store`], so
//! several servers in one process (tests) count separately. The HTTP side (the middleware that
//! counts requests, the `/metrics` listener) is `crate::api::metrics`; this module imports
//! nothing of the server, so the store can count its transactions here.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Upper bounds (seconds) of the histogram buckets.
const BUCKETS: [f64; 12] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];

/// A fixed-bucket histogram of durations.
#[derive(Debug, Default, Clone)]
struct Histogram {
    /// Observations at most `BUCKETS[i]` (not cumulative; summed when rendered).
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, d: Duration) {
        let s = d.as_secs_f64();
        if let Some(i) = BUCKETS.iter().position(|b| s <= *b) {
            self.counts[i] += 1;
        }
        self.count += 1;
        self.sum += s;
    }

    /// The `_bucket`, `_sum` and `_count` lines of `name` with `labels` (`k="v",` pairs or "").
    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let mut cumulative = 0;
        for (bound, n) in BUCKETS.iter().zip(self.counts) {
            cumulative += n;
            let _ = writeln!(out, "{name}_bucket{{{labels}le=\"{bound}\"}} {cumulative}");
        }
        let _ = writeln!(out, "{name}_bucket{{{labels}le=\"+Inf\"}} {}", self.count);
        let trimmed = labels.trim_end_matches(',');
        let set = if trimmed.is_empty() { String::new() } else { format!("{{{trimmed}}}") };
        let _ = writeln!(out, "{name}_sum{set} {}", self.sum);
        let _ = writeln!(out, "{name}_count{set} {}", self.count);
    }
}

/// What is counted of one (method, route template).
#[derive(Debug, Default)]
struct RouteStats {
    /// Responses by status.
    by_status: BTreeMap<u16, u64>,
    /// Time to the response head.
    seconds: Histogram,
}

/// The metrics of one server.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    /// Requests by method, then route template: nested so that a request of a route already
    /// seen is counted by borrowed keys, without allocating (this runs on every request).
    requests: Mutex<BTreeMap<String, BTreeMap<String, RouteStats>>>,
    /// Write transactions, from begin to commit.
    write_seconds: Mutex<Histogram>,
    open_streams: AtomicI64,
    open_connections: AtomicI64,
    webhook_failures: AtomicU64,
}

/// What is read from the database at scrape time.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Snapshot {
    /// Pending webhook deliveries (the outbox's queue depth).
    pub(crate) pending_deliveries: Option<i64>,
    /// Connections of the pool, and of those the idle ones.
    pub(crate) pool_size: u32,
    pub(crate) pool_idle: usize,
}

impl Metrics {
    /// Records one answered request.
    pub(crate) fn request(&self, method: &str, route: &str, status: u16, took: Duration) {
        let mut requests = self.requests.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if !requests.contains_key(method) {
            requests.insert(method.to_owned(), BTreeMap::new());
        }
        let routes = requests.get_mut(method).expect("inserted above");
        if !routes.contains_key(route) {
            routes.insert(route.to_owned(), RouteStats::default());
        }
        let stats = routes.get_mut(route).expect("inserted above");
        *stats.by_status.entry(status).or_default() += 1;
        stats.seconds.observe(took);
    }

    /// Records a committed write transaction that took `took` from begin to commit.
    pub(crate) fn write_transaction(&self, took: Duration) {
        self.write_seconds.lock().unwrap_or_else(std::sync::PoisonError::into_inner).observe(took);
    }

    /// Records a failed webhook attempt (retried later, or failed for good).
    pub(crate) fn webhook_failure(&self) {
        self.webhook_failures.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts an open event stream until the returned guard is dropped.
    pub(crate) fn stream(self: &Arc<Self>) -> Gauge {
        Gauge::enter(self, |m| &m.open_streams)
    }

    /// Counts an accepted connection until the returned guard is dropped.
    pub(crate) fn connection(self: &Arc<Self>) -> Gauge {
        Gauge::enter(self, |m| &m.open_connections)
    }

    /// The Prometheus text exposition of every family.
    pub(crate) fn render(&self, snapshot: Snapshot) -> String {
        let mut out = String::new();
        let family = |out: &mut String, name: &str, kind: &str, help: &str| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        };
        family(
            &mut out,
            "openintent_http_requests_total",
            "counter",
            "HTTP responses by method, route template and status.",
        );
        let requests = self.requests.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let routes = || requests.iter().flat_map(|(method, routes)| routes.iter().map(move |(r, s)| (method, r, s)));
        for (method, route, stats) in routes() {
            for (status, n) in &stats.by_status {
                let _ = writeln!(
                    out,
                    "openintent_http_requests_total{{method=\"{method}\",route=\"{}\",status=\"{status}\"}} {n}",
                    escape(route)
                );
            }
        }
        family(&mut out, "openintent_http_request_duration_seconds", "histogram", "Time to the response head.");
        for (method, route, stats) in routes() {
            let labels = format!("method=\"{method}\",route=\"{}\",", escape(route));
            stats.seconds.render(&mut out, "openintent_http_request_duration_seconds", &labels);
        }
        drop(requests);
        family(
            &mut out,
            "openintent_db_write_transaction_seconds",
            "histogram",
            "Write transactions, begin to commit.",
        );
        self.write_seconds.lock().unwrap_or_else(std::sync::PoisonError::into_inner).render(
            &mut out,
            "openintent_db_write_transaction_seconds",
            "",
        );
        let gauge = |out: &mut String, name: &str, help: &str, value: String| {
            family(out, name, "gauge", help);
            let _ = writeln!(out, "{name} {value}");
        };
        gauge(&mut out, "openintent_open_streams", "Open event streams (SSE).", load(&self.open_streams));
        gauge(&mut out, "openintent_open_connections", "Open client connections.", load(&self.open_connections));
        if let Some(pending) = snapshot.pending_deliveries {
            gauge(
                &mut out,
                "openintent_webhook_pending_deliveries",
                "Webhook deliveries waiting.",
                pending.to_string(),
            );
        }
        family(&mut out, "openintent_webhook_delivery_failures_total", "counter", "Failed webhook attempts.");
        let _ = writeln!(
            out,
            "openintent_webhook_delivery_failures_total {}",
            self.webhook_failures.load(Ordering::Relaxed)
        );
        gauge(
            &mut out,
            "openintent_db_pool_connections",
            "Connections of the database pool.",
            snapshot.pool_size.to_string(),
        );
        gauge(
            &mut out,
            "openintent_db_pool_idle_connections",
            "Idle connections of the pool.",
            snapshot.pool_idle.to_string(),
        );
        out
    }
}

fn load(g: &AtomicI64) -> String {
    g.load(Ordering::Relaxed).max(0).to_string()
}

/// A label value as the text format writes it.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// Holds one unit of a gauge until dropped.
#[derive(Debug)]
pub(crate) struct Gauge {
    metrics: Arc<Metrics>,
    which: fn(&Metrics) -> &AtomicI64,
}

impl Gauge {
    fn enter(metrics: &Arc<Metrics>, which: fn(&Metrics) -> &AtomicI64) -> Gauge {
        which(metrics).fetch_add(1, Ordering::Relaxed);
        Gauge { metrics: metrics.clone(), which }
    }
}

impl Drop for Gauge {
    fn drop(&mut self) {
        (self.which)(&self.metrics).fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_are_cumulative_and_labels_escaped() {
        let m = Metrics::default();
        m.request("GET", "/a/{id}", 200, Duration::from_millis(3));
        m.request("GET", "/a/{id}", 200, Duration::from_secs(60));
        m.request("GET", "/a/{id}", 404, Duration::from_millis(1));
        m.request("GET", "say \"x\"", 200, Duration::ZERO);
        let text = m.render(Snapshot { pending_deliveries: Some(2), pool_size: 3, pool_idle: 1 });
        assert!(text.contains("openintent_http_requests_total{method=\"GET\",route=\"/a/{id}\",status=\"200\"} 2"));
        assert!(text.contains("route=\"say \\\"x\\\"\""));
        let route = "openintent_http_request_duration_seconds_bucket{method=\"GET\",route=\"/a/{id}\",";
        assert!(text.contains(&format!("{route}le=\"0.001\"}} 1")), "{text}");
        assert!(text.contains(&format!("{route}le=\"0.005\"}} 2")), "{text}");
        assert!(text.contains(&format!("{route}le=\"5\"}} 2")), "{text}");
        assert!(text.contains(&format!("{route}le=\"+Inf\"}} 3")), "{text}");
        assert!(text.contains("openintent_http_request_duration_seconds_count{method=\"GET\",route=\"/a/{id}\"} 3"));
        assert!(text.contains("openintent_webhook_pending_deliveries 2"));
        assert!(text.contains("openintent_db_write_transaction_seconds_count 0"));
    }

    #[test]
    fn gauges_count_until_dropped() {
        let m = Arc::new(Metrics::default());
        let a = m.connection();
        let b = m.connection();
        assert_eq!(m.open_connections.load(Ordering::Relaxed), 2);
        drop(a);
        drop(b);
        assert_eq!(m.open_connections.load(Ordering::Relaxed), 0);
    }
}
