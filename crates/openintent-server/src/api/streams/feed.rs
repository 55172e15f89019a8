//! One open event stream: the replay after `Last-Event-ID` (or from the start), then the live
//! notifications of its channel, in log order for intents, with keep-alive pings, recovery when
//! it falls behind, and the end at shutdown (see [`super`] for what a client sees).

use std::collections::{HashMap, HashSet, VecDeque};
use std::convert::Infallible;
use std::io;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use openintent_types::Permission;
use serde_json::Value;
use tokio::sync::{broadcast, watch};
use tokio::time::Instant;

use crate::error::ApiResult;
use crate::state::{AppState, Channel, Notification};
use crate::store::{EventFilter, Store};

/// The `Content-Type` of every stream.
const EVENT_STREAM: &str = "text/event-stream; charset=utf-8";

/// The keep-alive comment block.
const PING: &[u8] = b": ping\n\n";

/// How many log events one page of a replay reads.
const REPLAY_PAGE: i64 = 500;

/// How many recently sent ids a stream remembers to drop duplicates.
const RECENT_IDS: usize = 4096;

/// The `Last-Event-ID` of a request, when it has a non-blank one.
fn last_event_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// One open stream: its notification receiver, the messages waiting to be sent, and what it
/// needs to resume from the log.
pub(super) struct Feed {
    state: AppState,
    channel: Channel,
    rx: broadcast::Receiver<Notification>,
    closing: watch::Receiver<bool>,
    keep_alive: Option<Duration>,
    /// When the next `: ping` is due if nothing is sent before (notifications of other
    /// channels do not count as activity).
    ping_at: Option<Instant>,
    queue: VecDeque<Bytes>,
    /// Ids recently sent (replayed or live), to drop a message that arrives twice.
    recent: RecentIds,
    /// The newest message (log event, or kept message) this stream has accounted for: where a
    /// replay goes on from.
    cursor: Option<String>,
    /// A replay has more pages to read after `cursor` before the stream goes live.
    replaying: bool,
    /// Intent streams: the live notifications received whose events are not sent yet (they
    /// did not follow `cursor`), by event id. The events go out in log order, read from the
    /// log ([`Feed::catch_up`]).
    pending: HashMap<String, Notification>,
    done: bool,
    /// Rewrites each message's name and data before it is sent (the SDK-style streams).
    translate: Option<Translate>,
    /// SDK-style agent and portfolio streams: the agent's intents or the portfolio's members,
    /// whose live `state_patched` and `status_changed` messages this stream carries too
    /// (following assignments and membership changes).
    follow: Option<HashSet<String>>,
    /// Agent and portfolio streams: the caller, who gets only the messages of the intents it
    /// may read (checked on each message).
    reader: Option<String>,
    /// Intent streams: the caller, whose read access is checked when the stream starts and
    /// again only when it may have changed.
    intent_reader: Option<IntentReader>,
}

/// The caller of an intent stream. Its access is decided once, when the stream starts, and
/// checked again only on the log events that change the intent's access
/// ([`crate::notify::changes_access`]) and once an ACL entry's expiry passed: the stream sends
/// nothing after the event that took the caller's access away, and ends.
struct IntentReader {
    principal: String,
    /// The earliest expiry, still to come at the last check, of the intent's ACL entries.
    recheck_at: Option<DateTime<Utc>>,
}

/// For whom an agent or portfolio stream runs, and what an SDK-style one follows.
pub(super) struct Follow {
    /// SDK-style streams: the agent's intents or the portfolio's members at the start
    /// (candidates: each message is checked against the assignments or memberships stored when
    /// it arrives); `None`: the stream follows no intent.
    pub(super) intents: Option<HashSet<String>>,
    /// The caller: the stream carries only the messages of intents it may read.
    pub(super) reader: String,
}

/// A rewrite of a message's event name and data.
pub(super) type Translate = fn(&str, &Value) -> (String, Value);

enum Step {
    Close,
    Ping,
    Received(Result<Notification, broadcast::error::RecvError>),
}

impl Feed {
    /// A stream of `channel`, subscribed to notifications from now on.
    pub(super) fn new(state: &AppState, channel: Channel) -> Feed {
        Feed {
            rx: state.subscribe(),
            closing: state.streams_closing(),
            keep_alive: state.sse_keep_alive(),
            ping_at: state.sse_keep_alive().map(|d| Instant::now() + d),
            state: state.clone(),
            channel,
            queue: VecDeque::new(),
            recent: RecentIds::default(),
            cursor: None,
            replaying: false,
            pending: HashMap::new(),
            done: false,
            translate: None,
            follow: None,
            reader: None,
            intent_reader: None,
        }
    }

    /// An intent stream carrying the log only while `principal` may read the intent (other
    /// streams: unchanged).
    pub(super) fn read_by(mut self, principal: String) -> Feed {
        if let Channel::Intent(_) = self.channel {
            self.intent_reader = Some(IntentReader { principal, recheck_at: None });
        }
        self
    }

    /// The stream leaving out its messages that name an intent `follow.reader` may not read,
    /// and, with `follow.intents` (for the 0.17 SDK runtime), also carrying the live state and
    /// status changes of those intents and of the intents its own messages name (assignments,
    /// added members; removed members leave), each only while the intent is still assigned (a
    /// member) and the reader may read it.
    pub(super) fn following(mut self, follow: Option<Follow>) -> Feed {
        if let Some(Follow { intents, reader }) = follow {
            self.follow = intents;
            self.reader = Some(reader);
        }
        self
    }

    /// The stream with each message rewritten by `translate` (none: as it is).
    pub(super) fn translated(mut self, translate: Option<Translate>) -> Feed {
        self.translate = translate;
        self
    }

    /// The channel it streams.
    pub(super) fn channel(&self) -> &Channel {
        &self.channel
    }

    /// Replays what came after the request's `Last-Event-ID`, when it names a message of this
    /// stream; else, with `from_start`, everything from the first message; else starts live,
    /// with the newest stored message as the recovery point.
    pub(super) async fn start(mut self, headers: &HeaderMap, from_start: bool) -> ApiResult<Feed> {
        if !self.may_read_intent().await? {
            // Taken away since the route's check: an empty stream that ends at once.
            self.done = true;
            return Ok(self);
        }
        let mut resumed = match last_event_id(headers) {
            Some(last) => self.replay(Some(&last)).await?,
            None => false,
        };
        if !resumed && from_start {
            resumed = self.replay(None).await?;
        }
        if !resumed {
            let store = self.state.store();
            self.cursor = match &self.channel {
                Channel::Intent(id) => newest_event_id(store, id).await?,
                other => store.newest_stream_message(&other.key()).await?,
            };
        }
        Ok(self)
    }

    /// The streaming response (`text/event-stream`), ending when the stream does.
    pub(super) fn into_response(self) -> Response {
        let stream = futures_util::stream::unfold(self, |mut feed| async move {
            let chunk = feed.next_chunk().await?;
            Some((Ok::<_, Infallible>(chunk), feed))
        });
        let mut resp = Body::from_stream(stream).into_response();
        let headers = resp.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(EVENT_STREAM));
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
        resp
    }

    /// The next bytes to send, or `None` when the stream ends.
    async fn next_chunk(&mut self) -> Option<Bytes> {
        let chunk = self.next_unpaced().await?;
        self.ping_at = self.keep_alive.map(|d| Instant::now() + d);
        Some(chunk)
    }

    async fn next_unpaced(&mut self) -> Option<Bytes> {
        loop {
            if let Some(chunk) = self.queue.pop_front() {
                return Some(chunk);
            }
            if self.done || *self.closing.borrow() {
                return None;
            }
            if self.replaying {
                // One page at a time, so a long backlog never sits in memory whole. Live
                // notifications wait in the receiver meanwhile (they are in storage too: if
                // the receiver overflows, `recover` reads them from there).
                let cursor = self.cursor.clone();
                match self.replay(cursor.as_deref()).await {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::warn!("event stream replay lost its position in storage");
                        self.done = true;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "event stream replay could not read storage");
                        self.done = true;
                    }
                }
                continue;
            }
            if !self.pending.is_empty() {
                if let Err(e) = self.catch_up().await {
                    tracing::warn!(error = %e, "event stream could not read the log");
                    self.done = true;
                }
                continue;
            }
            let ping_at = self.ping_at;
            let ping = async move {
                match ping_at {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending::<()>().await,
                }
            };
            let step = tokio::select! {
                // The flag only ever turns on (and its sender lives in the state this feed holds).
                _ = self.closing.changed() => Step::Close,
                received = self.rx.recv() => Step::Received(received),
                () = ping => Step::Ping,
            };
            match step {
                Step::Close => return None,
                Step::Ping => return Some(Bytes::from_static(PING)),
                Step::Received(Ok(n)) => self.accept(n).await,
                Step::Received(Err(broadcast::error::RecvError::Closed)) => return None,
                Step::Received(Err(broadcast::error::RecvError::Lagged(missed))) => self.recover(missed).await,
            }
        }
    }

    /// Takes a live notification of this stream's channel: a portfolio or agent message is
    /// queued; an intent's log event is queued as it is when it is the one right after the
    /// stream's last (its notification names the event before it), else it waits in `pending`
    /// for [`Feed::catch_up`], which sends the log in order.
    async fn accept(&mut self, n: Notification) {
        if let (Some(follow), Channel::Intent(intent)) = (&self.follow, &n.channel) {
            // Live only: these messages are not kept on the agent's stream.
            let changed = matches!(n.event.as_str(), "state_patched" | "status_changed");
            if changed && follow.contains(intent) && !self.recent.contains(&n.id) && self.still_follows(intent).await {
                self.queue_once(&n.event, &n.id, &n.data);
            }
            return;
        }
        if n.channel != self.channel {
            return;
        }
        if let (Some(follow), Some(intent)) = (&mut self.follow, n.data.get("intent_id").and_then(Value::as_str)) {
            if n.event == "intent_removed" {
                follow.remove(intent);
            } else {
                follow.insert(intent.to_owned());
            }
        }
        if self.recent.contains(&n.id) {
            return;
        }
        if let Channel::Intent(_) = self.channel {
            // The common case, with no read of storage: nothing waits, and the event follows the
            // last one this stream accounted for.
            if self.pending.is_empty() && n.after.is_some() && n.after == self.cursor {
                self.cursor = Some(n.id.clone());
                if self.admits(&n.event).await {
                    self.queue_notification(&n);
                }
            } else {
                self.pending.insert(n.id.clone(), n);
            }
            return;
        }
        self.cursor = Some(n.id.clone());
        if self.may_read(&n.data).await {
            self.queue_once(&n.event, &n.id, &n.data);
        }
    }

    /// SDK-style streams: whether `intent` is still assigned to the agent (a member of the
    /// portfolio) and the reader may read it. A failed read sends nothing (and is logged).
    async fn still_follows(&self, intent: &str) -> bool {
        let Some(reader) = &self.reader else { return true };
        match self.state.store().stream_follows(&self.channel, intent, reader).await {
            Ok(follows) => follows,
            Err(e) => {
                tracing::warn!(error = %e, "event stream could not check a followed intent");
                false
            }
        }
    }

    /// Agent and portfolio streams: whether the reader may read the intent a message of the
    /// stream's own channel names (`intent_id`; a message naming none is sent). A failed read
    /// sends nothing.
    async fn may_read(&self, data: &Value) -> bool {
        let (Some(reader), Some(intent)) = (&self.reader, data.get("intent_id").and_then(Value::as_str)) else {
            return true;
        };
        match self.state.store().readable_ids(reader, &[intent]).await {
            Ok(readable) => !readable.is_empty(),
            Err(e) => {
                tracing::warn!(error = %e, "event stream could not check access to an intent");
                false
            }
        }
    }

    /// Intent streams: queues the log's events after `cursor`, oldest first, up to the newest
    /// one a live notification announced, so that live events go out in log order whatever
    /// order their notifications arrived in. Takes every notification already received first,
    /// so that one read of the log serves them all.
    async fn catch_up(&mut self) -> ApiResult<()> {
        loop {
            match self.rx.try_recv() {
                Ok(n) => self.accept(n).await,
                Err(broadcast::error::TryRecvError::Lagged(missed)) => {
                    // The replay sends the whole log up to its end.
                    self.recover(missed).await;
                    return Ok(());
                }
                Err(_) => break,
            }
        }
        let Channel::Intent(intent_id) = self.channel.clone() else {
            self.pending.clear();
            return Ok(());
        };
        while !self.pending.is_empty() {
            let cursor = self.cursor.clone();
            match self.log_page(&intent_id, cursor.as_deref(), true).await? {
                None => {
                    tracing::warn!("event stream lost its position in the log");
                    self.done = true;
                    return Ok(());
                }
                // The log ends here: what is still pending was sent before (or is not an event
                // of this log).
                Some(false) => self.pending.clear(),
                Some(true) => {}
            }
        }
        Ok(())
    }

    /// Queues, oldest first, one page of the intent's log events after `after` (from the first
    /// when `None`): all of them, or with `only_notified` those up to the last one in `pending`.
    /// Each is its notification's message, or the same message made from the log
    /// ([`crate::notify::event_data`]). Stops at an event the reader may no longer see
    /// ([`Feed::admits`]). `Ok(None)` when `after` is not in the log; else whether the page was
    /// full (more may follow).
    async fn log_page(&mut self, intent_id: &str, after: Option<&str>, only_notified: bool) -> ApiResult<Option<bool>> {
        let store = self.state.store().clone();
        let Some(events) = store.events_after(intent_id, after, REPLAY_PAGE).await? else {
            return Ok(None);
        };
        let full = is_full(events.len());
        for event in events {
            if only_notified && self.pending.is_empty() {
                return Ok(Some(false));
            }
            self.cursor = Some(event.id.clone());
            let notified = self.pending.remove(&event.id);
            if self.recent.contains(&event.id) {
                continue;
            }
            if !self.admits(event.event_type.as_str()).await {
                self.pending.clear();
                return Ok(Some(false));
            }
            match notified {
                Some(n) => self.queue_notification(&n),
                None => self.queue_once(event.event_type.as_str(), &event.id, &crate::notify::event_data(&event)),
            }
        }
        Ok(Some(full))
    }

    /// Intent streams: whether the reader may still see the log from the event of type
    /// `event_type` on. Storage is read only when that event may change the intent's access
    /// or an ACL entry's expiry passed; when access is gone (or cannot be read) the stream
    /// ends after what it queued before.
    async fn admits(&mut self, event_type: &str) -> bool {
        let Some(reader) = &self.intent_reader else { return true };
        let expired = reader.recheck_at.is_some_and(|at| Utc::now() >= at);
        if !expired && !crate::notify::changes_access(event_type) {
            return true;
        }
        match self.may_read_intent().await {
            Ok(true) => true,
            Ok(false) => {
                tracing::debug!("event stream reader lost access to the intent; the stream ends");
                self.done = true;
                false
            }
            Err(e) => {
                tracing::warn!(error = %e, "event stream could not check access to its intent");
                self.done = true;
                false
            }
        }
    }

    /// Intent streams with a reader: reads whether the reader may read the intent now (the
    /// rule of `crate::rules::acl`), and when to check again at the latest (an entry's
    /// expiry). Other streams: `true`.
    async fn may_read_intent(&mut self) -> ApiResult<bool> {
        let (Channel::Intent(id), Some(reader)) = (&self.channel, &mut self.intent_reader) else {
            return Ok(true);
        };
        let now = Utc::now();
        let Some((creator, acl)) = self.state.store().access_of(id).await? else { return Ok(false) };
        reader.recheck_at =
            acl.as_ref().and_then(|a| a.entries.iter().filter_map(|e| e.expires_at).filter(|at| *at > now).min());
        Ok(crate::rules::acl::allows(acl.as_ref(), &creator, &reader.principal, &Permission::Read, now))
    }

    /// After notifications were dropped: re-reads them from the log or the kept messages; ends
    /// the stream, so that the client reconnects, only when that fails.
    async fn recover(&mut self, missed: u64) {
        let cursor = self.cursor.clone();
        match self.replay(cursor.as_deref()).await {
            Ok(true) => {
                tracing::debug!(missed, "event stream fell behind; recovered from storage");
                return;
            }
            Ok(false) => tracing::warn!(missed, "event stream fell behind and its position left storage"),
            Err(e) => tracing::warn!(missed, error = %e, "event stream fell behind; storage could not be read"),
        }
        self.done = true;
    }

    /// Queues, oldest first, one page of the messages this stream carries after the one with
    /// id `after` (from the first when `None`), and leaves `replaying` set when more pages
    /// follow. `Ok(false)` when `after` is not a message of this stream.
    async fn replay(&mut self, after: Option<&str>) -> ApiResult<bool> {
        let store = self.state.store().clone();
        let full = match self.channel.clone() {
            Channel::Intent(intent_id) => match self.log_page(&intent_id, after, false).await? {
                Some(full) => full,
                None => return Ok(false),
            },
            other => {
                let Some(page) = store.stream_messages_after(&other.key(), after, REPLAY_PAGE).await? else {
                    return Ok(false);
                };
                let full = is_full(page.len());
                for message in page {
                    self.cursor = Some(message.id.clone());
                    if self.may_read(&message.data).await {
                        self.queue_once(&message.event, &message.id, &message.data);
                    }
                }
                full
            }
        };
        if let (None, Some(after)) = (&self.cursor, after) {
            self.cursor = Some(after.to_owned());
        }
        self.replaying = full;
        Ok(true)
    }

    /// Queues a live intent event unless it was sent recently: its bytes are made once and
    /// shared by every stream that sends it as it is.
    fn queue_notification(&mut self, n: &Notification) {
        if self.translate.is_some() {
            self.queue_once(&n.event, &n.id, &n.data);
        } else if self.recent.insert(&n.id) {
            self.queue.push_back(n.frame.get_or_init(|| frame(&n.event, Some(&n.id), &n.data)));
        }
    }

    /// Queues a message unless it was sent recently.
    fn queue_once(&mut self, event: &str, id: &str, data: &Value) {
        if self.recent.insert(id) {
            let message = match self.translate {
                Some(translate) => {
                    let (event, data) = translate(event, data);
                    frame(&event, Some(id), &data)
                }
                None => frame(event, Some(id), data),
            };
            self.queue.push_back(message);
        }
    }
}

/// Whether a replay page came back full (so another may follow).
fn is_full(len: usize) -> bool {
    i64::try_from(len).unwrap_or(i64::MAX) >= REPLAY_PAGE
}

/// The id of the newest event in an intent's log.
async fn newest_event_id(store: &Store, intent_id: &str) -> ApiResult<Option<String>> {
    let filter = EventFilter { event_type: None, since: None, limit: 1, offset: 0 };
    Ok(store.list_events(intent_id, &filter).await?.into_iter().next().map(|e| e.id))
}

/// A bounded set of recently sent ids.
#[derive(Default)]
struct RecentIds {
    order: VecDeque<String>,
    set: HashSet<String>,
}

impl RecentIds {
    fn contains(&self, id: &str) -> bool {
        self.set.contains(id)
    }

    /// Remembers `id`; `false` when it was already there.
    fn insert(&mut self, id: &str) -> bool {
        if !self.set.insert(id.to_owned()) {
            return false;
        }
        self.order.push_back(id.to_owned());
        if self.order.len() > RECENT_IDS
            && let Some(old) = self.order.pop_front()
        {
            self.set.remove(&old);
        }
        true
    }
}

/// One message: `event:`, `id:` and `data:` lines and the empty line that ends it.
fn frame(event: &str, id: Option<&str>, data: &Value) -> Bytes {
    let mut out = Vec::with_capacity(128);
    out.extend_from_slice(b"event: ");
    push_field(&mut out, event);
    if let Some(id) = id {
        out.extend_from_slice(b"id: ");
        push_field(&mut out, id);
    }
    out.extend_from_slice(b"data: ");
    out.extend_from_slice(python_json(data).as_bytes());
    out.extend_from_slice(b"\n\n");
    Bytes::from(out)
}

/// A field value without the characters that would end it early.
fn push_field(out: &mut Vec<u8>, value: &str) {
    out.extend(value.bytes().filter(|b| !matches!(b, b'\r' | b'\n' | b'\0')));
    out.push(b'\n');
}

/// JSON on one line as Python's `json.dumps` writes it: `", "` and `": "` separators, non-ASCII
/// characters as `\uXXXX` escapes.
fn python_json(value: &Value) -> String {
    let mut out = Vec::with_capacity(256);
    let mut ser = serde_json::Serializer::with_formatter(&mut out, PythonFormatter);
    if serde::Serialize::serialize(value, &mut ser).is_err() {
        return "null".to_owned();
    }
    // The formatter writes ASCII only.
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

struct PythonFormatter;

impl serde_json::ser::Formatter for PythonFormatter {
    fn begin_array_value<W: ?Sized + io::Write>(&mut self, writer: &mut W, first: bool) -> io::Result<()> {
        if first { Ok(()) } else { writer.write_all(b", ") }
    }

    fn begin_object_key<W: ?Sized + io::Write>(&mut self, writer: &mut W, first: bool) -> io::Result<()> {
        if first { Ok(()) } else { writer.write_all(b", ") }
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        writer.write_all(b": ")
    }

    fn write_string_fragment<W: ?Sized + io::Write>(&mut self, writer: &mut W, fragment: &str) -> io::Result<()> {
        if fragment.is_ascii() {
            return writer.write_all(fragment.as_bytes());
        }
        let mut units = [0u16; 2];
        for c in fragment.chars() {
            if c.is_ascii() {
                writer.write_all(&[c as u8])?;
            } else {
                for unit in c.encode_utf16(&mut units) {
                    write!(writer, "\\u{unit:04x}")?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_like_python() {
        let v = json!({"a": [1, 2.5, null, true], "b": {"c": "é😀\n\"x"}, "d": {}, "e": []});
        assert_eq!(
            python_json(&v),
            r#"{"a": [1, 2.5, null, true], "b": {"c": "\u00e9\ud83d\ude00\n\"x"}, "d": {}, "e": []}"#
        );
    }

    #[test]
    fn frame_layout() {
        let f = frame("state_patched", Some("e1"), &json!({"k": "v"}));
        assert_eq!(&f[..], b"event: state_patched\nid: e1\ndata: {\"k\": \"v\"}\n\n");
        let f = frame("bad\r\nname", None, &json!({}));
        assert_eq!(&f[..], b"event: badname\ndata: {}\n\n");
    }

    #[test]
    fn recent_ids_are_bounded() {
        let mut r = RecentIds::default();
        assert!(r.insert("a"));
        assert!(!r.insert("a"));
        for i in 0..RECENT_IDS {
            r.insert(&i.to_string());
        }
        assert!(!r.contains("a"));
        assert!(r.contains(&(RECENT_IDS - 1).to_string()));
        assert_eq!(r.order.len(), RECENT_IDS);
    }
}
