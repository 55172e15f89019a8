//! Scope leases (RFC-0003): exclusive, expiring ownership of a scope of an intent.
//!
//! | Seed method | Rust | Wire |
//! |---|---|---|
//! | `acquire_lease(id, scope, duration_seconds)` | [`Client::acquire_lease`] | `POST …/leases` |
//! | `release_lease(id, lease_id)` | [`Client::release_lease`] | `DELETE …/leases/{lease_id}` |
//! | `renew_lease(id, lease_id, duration_seconds)` | [`Client::renew_lease`] | `PATCH …/leases/{lease_id}` |
//! | `get_leases(id)` | [`Client::get_leases`] (active ones; [`GetLeases::all`] for every lease) | `GET …/leases` |
//! | `with client.lease(id, scope):` | [`Client::with_lease`] (async), [`blocking::Client::with_lease`](crate::blocking::Client::with_lease) (closure) or [`blocking::Client::lease`](crate::blocking::Client::lease) (guard) | acquire + release |
//!
//! Servers that do not send a lease `status` get one derived here (PROTOCOL.md §4.4):
//! released when `released_at` is set, expired when `expires_at` has passed, else active.
//! A lease's `agent_id` may be the caller's API key rather than its agent id (the reference
//! server records the key), so do not compare it with [`Client::agent_id`].

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::time::Duration;

use chrono::Utc;
use futures_util::FutureExt;
use openintent_transport::Request;
use openintent_types::{AcquireLeaseRequest, DEFAULT_LEASE_SECONDS, Lease, RenewLeaseRequest};

use crate::client::{Client, GenericClient, intent_path, seg};
use crate::error::{Error, Result};
#[cfg(feature = "blocking")]
use crate::mode::Blocking;
use crate::mode::{AbortOnDrop, Async, Mode, impl_send};

fn lease_path(intent_id: &str, lease_id: &str) -> Result<String> {
    intent_path(intent_id, &format!("/leases/{}", seg("lease_id", lease_id)?))
}

/// Fills in the derived status of a lease.
fn with_status(mut lease: Lease) -> Lease {
    lease.status = Some(lease.status_at(Utc::now()));
    lease
}

impl<M: Mode> GenericClient<M> {
    /// Acquires a lease on a scope (`POST …/leases`; default duration 300 s). A scope held by
    /// someone else gives an error with [`is_lease_conflict`](Error::is_lease_conflict).
    ///
    /// ```no_run
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// let lease = client.acquire_lease("7f1c…", "content.draft").duration_seconds(300).send().await?;
    /// # Ok(()) }
    /// ```
    pub fn acquire_lease(&self, intent_id: &str, scope: impl Into<String>) -> AcquireLease<M> {
        AcquireLease {
            client: self.clone(),
            intent_id: intent_id.to_owned(),
            req: AcquireLeaseRequest::new(scope, DEFAULT_LEASE_SECONDS),
        }
    }

    /// Releases a lease (`DELETE …/leases/{lease_id}`).
    ///
    /// ```no_run
    /// # async fn run(client: openintent_client::Client, lease: openintent_types::Lease) -> openintent_client::Result<()> {
    /// client.release_lease(&lease.intent_id, &lease.id).await?;
    /// # Ok(()) }
    /// ```
    pub fn release_lease(&self, intent_id: &str, lease_id: &str) -> M::Call<()> {
        let path = lease_path(intent_id, lease_id);
        self.call(|c| async move { c.empty(Request::delete(path?)).await })
    }

    /// Extends a lease (`PATCH …/leases/{lease_id}`); the new expiry is counted from now
    /// (default duration 300 s).
    ///
    /// ```no_run
    /// # async fn run(client: openintent_client::Client, lease: openintent_types::Lease) -> openintent_client::Result<()> {
    /// let renewed = client.renew_lease(&lease.intent_id, &lease.id).duration_seconds(600).send().await?;
    /// # Ok(()) }
    /// ```
    pub fn renew_lease(&self, intent_id: &str, lease_id: &str) -> RenewLease<M> {
        RenewLease {
            client: self.clone(),
            intent_id: intent_id.to_owned(),
            lease_id: lease_id.to_owned(),
            req: RenewLeaseRequest::default(),
        }
    }

    /// Lists the active leases of an intent (`GET …/leases`), or every lease with
    /// [`GetLeases::all`]. Each lease carries its derived `status`.
    ///
    /// ```no_run
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// let active = client.get_leases("7f1c…").await?;
    /// let history = client.get_leases("7f1c…").all().send().await?;
    /// # Ok(()) }
    /// ```
    pub fn get_leases(&self, intent_id: &str) -> GetLeases<M> {
        GetLeases { client: self.clone(), intent_id: intent_id.to_owned(), all: false }
    }
}

/// Working under a lease, async: the work is a closure returning a future.
impl Client {
    /// Runs `work` while holding a lease on `scope`, and releases the lease afterwards:
    /// when `work` succeeds, when it fails, and when it panics (the panic then continues).
    /// Release errors are logged and ignored (the lease may have expired). With
    /// [`WithLease::auto_renew`] the lease is renewed in the background while `work` runs.
    ///
    /// `work` receives the lease and a handle on this client (a cheap clone), so it needs no
    /// clone made beforehand, and returns a [`Result<T>`](crate::Result): `?` works on every
    /// call inside, and a bare `Ok(value)` needs no type annotation. A failure to acquire the
    /// lease is returned without running `work`. To return an error type of your own, use
    /// [`with_lease_custom_error`](Self::with_lease_custom_error).
    ///
    /// ```no_run
    /// # async fn run(client: openintent_client::Client, id: String) -> openintent_client::Result<()> {
    /// let version = client
    ///     .with_lease(&id, "analysis", |lease, client| async move {
    ///         let intent = client.get_intent(&lease.intent_id).await?;
    ///         let done = intent.state_at::<u32>("/sections_done")?.unwrap_or(0);
    ///         let intent =
    ///             client.update_state(&intent.id, intent.version).set("sections_done", done + 1).send().await?;
    ///         Ok(intent.version)
    ///     })
    ///     .duration_seconds(120)
    ///     .auto_renew()
    ///     .send()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn with_lease<F, Fut, T>(&self, intent_id: &str, scope: impl Into<String>, work: F) -> WithLease<F>
    where
        F: FnOnce(Lease, Client) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        self.with_lease_builder(intent_id, scope.into(), work)
    }

    /// [`with_lease`](Self::with_lease) for work that returns an error type of its own, `E`,
    /// which must convert from [`Error`] (a failure to acquire the lease is returned as `E`, and
    /// `?` on client calls inside `work` converts too). Name `E` once when the closure does
    /// not make it plain, e.g. `Err::<(), _>(MyError::Missing)` or `Ok::<_, MyError>(())`.
    ///
    /// ```no_run
    /// use openintent_client::Error;
    ///
    /// #[derive(Debug)]
    /// enum JobError {
    ///     Client(Error),
    ///     NothingToDo,
    /// }
    /// impl From<Error> for JobError {
    ///     fn from(e: Error) -> Self {
    ///         JobError::Client(e)
    ///     }
    /// }
    ///
    /// # async fn run(client: openintent_client::Client, id: String) -> Result<(), JobError> {
    /// let title = client
    ///     .with_lease_custom_error(&id, "analysis", |lease, client| async move {
    ///         let intent = client.get_intent(&lease.intent_id).await?;
    ///         if intent.title.is_empty() {
    ///             return Err(JobError::NothingToDo);
    ///         }
    ///         Ok(intent.title)
    ///     })
    ///     .send()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn with_lease_custom_error<F, Fut, T, E>(
        &self,
        intent_id: &str,
        scope: impl Into<String>,
        work: F,
    ) -> WithLease<F>
    where
        F: FnOnce(Lease, Client) -> Fut,
        Fut: Future<Output = std::result::Result<T, E>>,
        E: From<Error>,
    {
        self.with_lease_builder(intent_id, scope.into(), work)
    }

    fn with_lease_builder<F>(&self, intent_id: &str, scope: String, work: F) -> WithLease<F> {
        WithLease {
            client: self.clone(),
            intent_id: intent_id.to_owned(),
            scope,
            duration_seconds: DEFAULT_LEASE_SECONDS,
            renew_every: None,
            work,
        }
    }
}

/// Builder of [`Client::acquire_lease`].
#[must_use = "a builder does nothing until .send() is awaited"]
#[derive(Debug)]
pub struct AcquireLease<M: Mode = Async> {
    client: GenericClient<M>,
    intent_id: String,
    req: AcquireLeaseRequest,
}

impl<M: Mode> AcquireLease<M> {
    /// Duration in seconds (1-86400; default 300).
    ///
    /// Example: [`Client::acquire_lease`].
    pub fn duration_seconds(mut self, seconds: i64) -> Self {
        self.req.duration_seconds = seconds;
        self
    }

    async fn run(self) -> Result<Lease> {
        let request = Client::with_body(Request::post(intent_path(&self.intent_id, "/leases")?), &self.req)?;
        self.client.json(request).await.map(with_status)
    }
}
impl_send!(AcquireLease, Lease, "acquire_lease");

/// Builder of [`Client::renew_lease`].
#[must_use = "a builder does nothing until .send() is awaited"]
#[derive(Debug)]
pub struct RenewLease<M: Mode = Async> {
    client: GenericClient<M>,
    intent_id: String,
    lease_id: String,
    req: RenewLeaseRequest,
}

impl<M: Mode> RenewLease<M> {
    /// New duration in seconds from now (1-86400; default 300).
    ///
    /// Example: [`Client::renew_lease`].
    pub fn duration_seconds(mut self, seconds: i64) -> Self {
        self.req.duration_seconds = seconds;
        self
    }

    async fn run(self) -> Result<Lease> {
        let request = Client::with_body(Request::patch(lease_path(&self.intent_id, &self.lease_id)?), &self.req)?;
        self.client.json(request).await.map(with_status)
    }
}
impl_send!(RenewLease, Lease, "renew_lease");

/// Builder of [`Client::get_leases`].
#[must_use = "a builder does nothing until .send() is awaited"]
#[derive(Debug)]
pub struct GetLeases<M: Mode = Async> {
    client: GenericClient<M>,
    intent_id: String,
    all: bool,
}

impl<M: Mode> GetLeases<M> {
    /// Include released and expired leases.
    ///
    /// Example: [`Client::get_leases`].
    pub fn all(mut self) -> Self {
        self.all = true;
        self
    }

    async fn run(self) -> Result<Vec<Lease>> {
        let leases = self.client.list::<Lease>(Request::get(intent_path(&self.intent_id, "/leases")?)).await?.items;
        let now = Utc::now();
        Ok(leases
            .into_iter()
            .map(|l| {
                let mut l = l;
                l.status = Some(l.status_at(now));
                l
            })
            .filter(|l| self.all || l.is_active_at(now))
            .collect())
    }
}
impl_send!(GetLeases, Vec<Lease>, "get_leases");

/// Builder of [`Client::with_lease`] and [`Client::with_lease_custom_error`].
#[must_use = "a builder does nothing until .send() is awaited"]
pub struct WithLease<F> {
    client: Client,
    intent_id: String,
    scope: String,
    duration_seconds: i64,
    renew_every: Option<Duration>,
    work: F,
}

impl<F> std::fmt::Debug for WithLease<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WithLease")
            .field("intent_id", &self.intent_id)
            .field("scope", &self.scope)
            .field("duration_seconds", &self.duration_seconds)
            .field("renew_every", &self.renew_every)
            .finish_non_exhaustive()
    }
}

/// Renews at this fraction of the lease duration when auto-renewing
/// ([`WithLease::auto_renew`]).
pub const AUTO_RENEW_FRACTION: f64 = 0.5;

/// Releases a lease when dropped before being disarmed (the future holding it was cancelled).
struct ReleaseOnDrop {
    client: Client,
    intent_id: String,
    lease_id: String,
    armed: bool,
}

impl Drop for ReleaseOnDrop {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            let (client, intent_id, lease_id) = (self.client.clone(), self.intent_id.clone(), self.lease_id.clone());
            handle.spawn(async move {
                if let Err(e) = client.release_lease(&intent_id, &lease_id).await {
                    tracing::warn!(%lease_id, error = %e, "could not release a lease after cancellation");
                }
            });
        }
    }
}

/// Starts renewing `lease` every `every` until the returned handle is dropped. Stops on its
/// own when the server says the lease is gone.
fn spawn_renewer(client: Client, lease: &Lease, every: Duration, duration_seconds: i64) -> AbortOnDrop {
    let (intent_id, lease_id) = (lease.intent_id.clone(), lease.id.clone());
    AbortOnDrop(tokio::spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            match client.renew_lease(&intent_id, &lease_id).duration_seconds(duration_seconds).send().await {
                Ok(_) => tracing::debug!(%lease_id, "lease renewed"),
                Err(e) if e.is_not_found() => {
                    tracing::warn!(%lease_id, "lease lost; auto-renew stops");
                    return;
                }
                Err(e) => tracing::warn!(%lease_id, error = %e, "lease renewal failed; will try again"),
            }
        }
    }))
}

/// The renewal interval for a lease of `duration_seconds`.
fn renew_interval(duration_seconds: i64) -> Duration {
    Duration::from_secs_f64((duration_seconds.max(1) as f64) * AUTO_RENEW_FRACTION)
}

impl<F, Fut, T, E> WithLease<F>
where
    F: FnOnce(Lease, Client) -> Fut,
    Fut: Future<Output = std::result::Result<T, E>>,
    E: From<Error>,
{
    /// Lease duration in seconds (1-86400; default 300).
    ///
    /// Example: [`Client::with_lease`].
    pub fn duration_seconds(mut self, seconds: i64) -> Self {
        self.duration_seconds = seconds;
        self
    }

    /// Renew the lease in the background while the work runs, every half duration.
    ///
    /// Example: [`Client::with_lease`].
    pub fn auto_renew(mut self) -> Self {
        self.renew_every = Some(renew_interval(self.duration_seconds));
        self
    }

    /// Renew the lease in the background at this interval.
    ///
    /// Example: [`Client::with_lease`].
    pub fn renew_every(mut self, every: Duration) -> Self {
        self.renew_every = Some(every);
        self
    }

    /// Acquires, runs the work, releases.
    ///
    /// Example: [`Client::with_lease`].
    pub async fn send(self) -> std::result::Result<T, E> {
        let lease = self
            .client
            .acquire_lease(&self.intent_id, self.scope.clone())
            .duration_seconds(self.duration_seconds)
            .send()
            .await?;
        let mut guard = ReleaseOnDrop {
            client: self.client.clone(),
            intent_id: self.intent_id.clone(),
            lease_id: lease.id.clone(),
            armed: true,
        };
        // Renew at the chosen interval, recomputed if the duration changed after auto_renew().
        let renewer = self.renew_every.map(|every| {
            let every = every.min(renew_interval(self.duration_seconds));
            spawn_renewer(self.client.clone(), &lease, every, self.duration_seconds)
        });
        let outcome = AssertUnwindSafe((self.work)(lease, self.client.clone())).catch_unwind().await;
        drop(renewer);
        // The guard stays armed until the release has been answered: if this future is dropped
        // while the release is in flight, the guard sends it again from a task of its own.
        if let Err(e) = self.client.release_lease(&self.intent_id, &guard.lease_id).await {
            tracing::warn!(lease_id = %guard.lease_id, error = %e, "could not release the lease");
        }
        guard.armed = false;
        match outcome {
            Ok(result) => result,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
}

impl<F, Fut, T, E> std::future::IntoFuture for WithLease<F>
where
    F: FnOnce(Lease, Client) -> Fut + Send + 'static,
    Fut: Future<Output = std::result::Result<T, E>> + Send + 'static,
    T: Send + 'static,
    E: From<Error> + Send + 'static,
{
    type Output = std::result::Result<T, E>;
    type IntoFuture = futures_util::future::BoxFuture<'static, std::result::Result<T, E>>;
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.send())
    }
}

/// Working under a lease, blocking: a closure, or a guard that releases on drop.
#[cfg(feature = "blocking")]
impl GenericClient<Blocking> {
    /// Acquires a lease for 300 s and returns a guard that releases it when dropped.
    ///
    /// ```no_run
    /// # fn run(client: openintent_client::blocking::Client) -> openintent_client::Result<()> {
    /// let mut lease = client.lease("7f1c…", "analysis")?;
    /// lease.auto_renew()?;
    /// // ... exclusive work ...
    /// lease.release()?; // or just let it drop
    /// # Ok(()) }
    /// ```
    pub fn lease(&self, intent_id: &str, scope: impl Into<String>) -> Result<LeaseGuard> {
        self.lease_for(intent_id, scope, DEFAULT_LEASE_SECONDS)
    }

    /// Like [`lease`](Self::lease) with a duration in seconds.
    ///
    /// Example: [`lease`](Self::lease).
    pub fn lease_for(&self, intent_id: &str, scope: impl Into<String>, duration_seconds: i64) -> Result<LeaseGuard> {
        let lease = self.acquire_lease(intent_id, scope).duration_seconds(duration_seconds).send_blocking()?;
        Ok(LeaseGuard { client: self.clone(), lease, duration_seconds, released: false, renewer: None })
    }

    /// Runs `work` while holding a lease (300 s), releasing it afterwards, also on error or
    /// panic. The blocking counterpart of [`Client::with_lease`]: `work` receives the lease
    /// and this client and returns a [`Result<T>`](crate::Result), so `?` works inside and a
    /// bare `Ok(value)` needs no annotation. For an error type of your own, use
    /// [`with_lease_custom_error`](Self::with_lease_custom_error); for a lease held across
    /// more code, the [`lease`](Self::lease) guard.
    ///
    /// ```no_run
    /// # fn run(client: openintent_client::blocking::Client) -> openintent_client::Result<()> {
    /// let version = client.with_lease("7f1c…", "analysis", |lease, client| {
    ///     let intent = client.get_intent(&lease.intent_id)?;
    ///     let intent = client.update_state(&intent.id, intent.version).set("analysed", true).send_blocking()?;
    ///     Ok(intent.version)
    /// })?;
    /// # Ok(()) }
    /// ```
    pub fn with_lease<T>(
        &self,
        intent_id: &str,
        scope: impl Into<String>,
        work: impl FnOnce(&Lease, &GenericClient<Blocking>) -> Result<T>,
    ) -> Result<T> {
        self.with_lease_custom_error(intent_id, scope, work)
    }

    /// [`with_lease`](Self::with_lease) for work that returns an error type of its own, `E`,
    /// which must convert from [`Error`] (a failure to acquire the lease is returned as `E`).
    ///
    /// ```no_run
    /// #[derive(Debug)]
    /// enum JobError {
    ///     Client(openintent_client::Error),
    ///     NothingToDo,
    /// }
    /// impl From<openintent_client::Error> for JobError {
    ///     fn from(e: openintent_client::Error) -> Self {
    ///         JobError::Client(e)
    ///     }
    /// }
    ///
    /// # fn run(client: openintent_client::blocking::Client) -> Result<(), JobError> {
    /// let title = client.with_lease_custom_error("7f1c…", "analysis", |lease, client| {
    ///     let intent = client.get_intent(&lease.intent_id)?;
    ///     if intent.title.is_empty() {
    ///         return Err(JobError::NothingToDo);
    ///     }
    ///     Ok(intent.title)
    /// })?;
    /// # Ok(()) }
    /// ```
    pub fn with_lease_custom_error<T, E>(
        &self,
        intent_id: &str,
        scope: impl Into<String>,
        work: impl FnOnce(&Lease, &GenericClient<Blocking>) -> std::result::Result<T, E>,
    ) -> std::result::Result<T, E>
    where
        E: From<Error>,
    {
        let guard = self.lease(intent_id, scope)?;
        let out = work(&guard, self);
        if let Err(e) = guard.release() {
            tracing::warn!(error = %e, "could not release the lease");
        }
        out
    }
}

/// A held lease of the blocking client that is released when dropped (errors on that release
/// are logged).
///
/// Dereferences to the [`Lease`]. Made by
/// [`blocking::Client::lease`](crate::blocking::Client::lease) (example there).
#[cfg(feature = "blocking")]
#[derive(Debug)]
pub struct LeaseGuard {
    client: GenericClient<Blocking>,
    lease: Lease,
    duration_seconds: i64,
    released: bool,
    renewer: Option<AbortOnDrop>,
}

#[cfg(feature = "blocking")]
impl LeaseGuard {
    /// The lease as last returned by the server.
    ///
    /// Example: [`blocking::Client::lease`](crate::blocking::Client::lease).
    pub fn lease(&self) -> &Lease {
        &self.lease
    }

    /// Extends the lease by `duration_seconds` from now.
    ///
    /// Example: [`blocking::Client::lease`](crate::blocking::Client::lease).
    pub fn renew(&mut self, duration_seconds: i64) -> Result<&Lease> {
        self.lease = self
            .client
            .renew_lease(&self.lease.intent_id, &self.lease.id)
            .duration_seconds(duration_seconds)
            .send_blocking()?;
        self.duration_seconds = duration_seconds;
        Ok(&self.lease)
    }

    /// Renews the lease in the background at half its duration until the guard is released
    /// or dropped.
    ///
    /// Example: [`blocking::Client::lease`](crate::blocking::Client::lease).
    pub fn auto_renew(&mut self) -> Result<()> {
        if self.renewer.is_none() {
            let _enter = self.client.mode.enter();
            let every = renew_interval(self.duration_seconds);
            let renewer = spawn_renewer(self.client.as_async(), &self.lease, every, self.duration_seconds);
            self.renewer = Some(renewer);
        }
        Ok(())
    }

    /// Releases the lease now, reporting errors.
    ///
    /// Example: [`blocking::Client::lease`](crate::blocking::Client::lease).
    pub fn release(mut self) -> Result<()> {
        self.released = true;
        self.renewer = None;
        self.client.release_lease(&self.lease.intent_id, &self.lease.id)
    }
}

#[cfg(feature = "blocking")]
impl std::ops::Deref for LeaseGuard {
    type Target = Lease;
    fn deref(&self) -> &Lease {
        &self.lease
    }
}

#[cfg(feature = "blocking")]
impl Drop for LeaseGuard {
    fn drop(&mut self) {
        self.renewer = None;
        if self.released {
            return;
        }
        if let Err(e) = self.client.release_lease(&self.lease.intent_id, &self.lease.id) {
            tracing::warn!(lease_id = %self.lease.id, error = %e, "could not release the lease");
        }
    }
}
