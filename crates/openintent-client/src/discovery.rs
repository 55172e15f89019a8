//! Discovery: `GET /.well-known/openintent.json`.
//!
//! | Seed method | Rust | Wire |
//! |---|---|---|
//! | `discover()` | [`Client::discover`] | `GET /.well-known/openintent.json` (no key needed) |
//!
//! Servers advertise capabilities they do not all serve (the reference lists
//! `subscriptions`), so detect features by calling them and checking
//! [`is_unsupported`](crate::Error::is_unsupported) instead.

use openintent_transport::Request;
use openintent_types::Discovery;

use crate::client::Client;
use crate::error::Result;

impl Client {
    /// The server's discovery document: protocol, version, capabilities, and every other key
    /// in [`Discovery::raw`].
    ///
    /// ```no_run
    /// # async fn run(client: openintent_client::Client) -> openintent_client::Result<()> {
    /// let d = client.discover().await?;
    /// println!("{} {} {:?}", d.protocol, d.version, d.capabilities);
    /// # Ok(()) }
    /// ```
    pub async fn discover(&self) -> Result<Discovery> {
        self.json(Request::get("/.well-known/openintent.json")).await
    }
}
