//! The human console: a browser interface served at `/console` (the index `/` redirects there)
//! from files built into the binary (`console/` in the crate: HTML, CSS and ES modules, written
//! by hand; nothing is fetched from elsewhere at run time).
//!
//! The console is only a client of the public API: it sends the person's own API key and agent
//! id as `X-API-Key` / `X-Agent-ID` on every request, so it works on every storage backend and
//! sees only what the key may see. Its pages need no key; every answer carries a strict
//! Content-Security-Policy (scripts, styles and connections only from this server, no inline
//! script or style, no framing), `X-Frame-Options: DENY` and `X-Content-Type-Options: nosniff`.
//! Files are revalidated on each load (`Cache-Control: no-cache` with an `ETag`), so an
//! upgraded server never runs with an older script.

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{Next, from_fn};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

use crate::error::ApiError;
use crate::state::AppState;

/// The Content-Security-Policy of every console answer.
pub(crate) const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; frame-ancestors 'none'; \
     base-uri 'none'; form-action 'self'";

/// One built-in file: its name under `/console/assets/`, content type and bytes.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static str,
}

const JS: &str = "text/javascript; charset=utf-8";

/// The page every console address loads (the views are chosen by the URL's fragment).
const INDEX: &str = include_str!("../../console/index.html");

const ASSETS: &[Asset] = &[
    Asset {
        name: "console.css",
        content_type: "text/css; charset=utf-8",
        body: include_str!("../../console/console.css"),
    },
    Asset { name: "app.js", content_type: JS, body: include_str!("../../console/app.js") },
    Asset { name: "api.js", content_type: JS, body: include_str!("../../console/api.js") },
    Asset { name: "stream.js", content_type: JS, body: include_str!("../../console/stream.js") },
    Asset { name: "dom.js", content_type: JS, body: include_str!("../../console/dom.js") },
    Asset { name: "inbox.js", content_type: JS, body: include_str!("../../console/inbox.js") },
    Asset { name: "intents.js", content_type: JS, body: include_str!("../../console/intents.js") },
    Asset { name: "intent.js", content_type: JS, body: include_str!("../../console/intent.js") },
    Asset { name: "graph.js", content_type: JS, body: include_str!("../../console/graph.js") },
    Asset { name: "chart.js", content_type: JS, body: include_str!("../../console/chart.js") },
    Asset { name: "fleet.js", content_type: JS, body: include_str!("../../console/fleet.js") },
    Asset { name: "favicon.svg", content_type: "image/svg+xml", body: include_str!("../../console/favicon.svg") },
];

/// The console's routes (keyless: the pages hold no data; the API calls they make need a key).
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/console", get(index))
        .route("/console/", get(index))
        .route("/console/assets/{name}", get(asset))
        .layer(from_fn(security_headers))
        .route("/", get(|| async { Redirect::temporary("/console") }))
}

/// A strong validator of a file's bytes (FNV-1a, 64 bits).
fn etag(body: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in body.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("\"{h:016x}\"")
}

/// The file with its type, validator and cache policy; 304 when `If-None-Match` names it.
fn serve(headers: &HeaderMap, content_type: &'static str, body: &'static str) -> Response {
    let tag = etag(body);
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == tag || t.trim() == "*"));
    let mut resp = if fresh { StatusCode::NOT_MODIFIED.into_response() } else { body.into_response() };
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(v) = HeaderValue::from_str(&tag) {
        h.insert(header::ETAG, v);
    }
    resp
}

async fn index(headers: HeaderMap) -> Response {
    serve(&headers, "text/html; charset=utf-8", INDEX)
}

async fn asset(headers: HeaderMap, Path(name): Path<String>) -> Response {
    match ASSETS.iter().find(|a| a.name == name) {
        Some(a) => serve(&headers, a.content_type, a.body),
        None => ApiError::not_found("Not Found").into_response(),
    }
}

/// Adds the console's security headers to every answer of its routes, errors included.
async fn security_headers(req: axum::extract::Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert("cross-origin-opener-policy", HeaderValue::from_static("same-origin"));
    resp
}
