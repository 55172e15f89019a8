//! The [`Transport`] trait.

use std::sync::Arc;

use async_trait::async_trait;

use crate::{Request, Response, StreamResponse, TransportError};

/// Sends one request and returns one response: the seam between the
/// OpenIntent client and the network.
///
/// A transport makes exactly one attempt per call: no retries, no redirects.
/// Any HTTP status is a successful call (`Ok(Response)`); errors mean that no
/// status could be obtained. Retries are added by wrapping a transport in
/// [`RetryingTransport`](crate::RetryingTransport).
///
/// The trait is object safe; the client stores an `Arc<dyn Transport>`.
/// `Arc<T>` and `Box<T>` of a transport are transports too.
///
/// See the [crate documentation](crate) for an example implementation.
#[async_trait]
pub trait Transport: Send + Sync + std::fmt::Debug + 'static {
    /// Sends `req` and reads the whole response body.
    async fn send(&self, req: Request) -> Result<Response, TransportError>;

    /// Sends `req` and returns as soon as the status and headers are known;
    /// the body is read incrementally. Used for Server-Sent Events, so no
    /// total request timeout applies (a connect timeout still does).
    async fn send_stream(&self, req: Request) -> Result<StreamResponse, TransportError>;
}

#[async_trait]
impl<T: Transport + ?Sized> Transport for Arc<T> {
    async fn send(&self, req: Request) -> Result<Response, TransportError> {
        (**self).send(req).await
    }

    async fn send_stream(&self, req: Request) -> Result<StreamResponse, TransportError> {
        (**self).send_stream(req).await
    }
}

#[async_trait]
impl<T: Transport + ?Sized> Transport for Box<T> {
    async fn send(&self, req: Request) -> Result<Response, TransportError> {
        (**self).send(req).await
    }

    async fn send_stream(&self, req: Request) -> Result<StreamResponse, TransportError> {
        (**self).send_stream(req).await
    }
}
