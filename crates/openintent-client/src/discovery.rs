//! Discovery: `GET /.well-known/openintent.json`.
//!
//! | Seed method | Rust | Wire |
//! |---|---|---|
//! | `discover()` | [`Client::discover`](crate::Client::discover) | `GET /.well-known/openintent.json` (no key needed) |
//!
//! Servers advertise capabilities they do not all serve (the reference lists
//! `subscriptions`), so detect features by calling them and checking
//! [`is_unsupported`](crate::Error::is_unsupported) instead.

use openintent_transport::Request;
use openintent_types::Discovery;

use crate::client::GenericClient;
use crate::mode::Mode;

impl<M: Mode> GenericClient<M> {
    /// The server's discovery document: protocol, version, capabilities, and every other key
    /// in [`Discovery::raw`].
    ///
    /// ```no_run
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// let d = client.discover().await?;
    /// println!("{} {} {:?}", d.protocol, d.version, d.capabilities);
    /// # Ok(()) }
    /// ```
    pub fn discover(&self) -> M::Call<Discovery> {
        self.call(|c| async move { c.json(Request::get("/.well-known/openintent.json")).await })
    }
}
