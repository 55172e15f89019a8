//! The incremental Server-Sent Events parser.

use std::time::Duration;

use crate::TransportError;

/// One dispatched Server-Sent Event.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SseEvent {
    /// The event name from the `event:` field; `"message"` when absent.
    pub event: String,
    /// The `data:` lines of the frame, joined with `\n`.
    pub data: String,
    /// The last event id in effect when the event was dispatched: the most
    /// recent `id:` field of this or an earlier frame on the stream (`None`
    /// when none was seen, or an empty `id:` reset it).
    pub id: Option<String>,
    /// The `retry:` value carried by this frame, if any.
    pub retry: Option<Duration>,
}

impl SseEvent {
    /// An event with the given name and data, no id and no retry.
    pub fn new(event: impl Into<String>, data: impl Into<String>) -> Self {
        Self { event: event.into(), data: data.into(), id: None, retry: None }
    }

    /// Sets the id.
    pub fn with_id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }
}

/// The default bound on a single line plus the data of one pending event.
pub const DEFAULT_MAX_EVENT_SIZE: usize = 16 * 1024 * 1024;

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// An incremental parser for the `text/event-stream` format (WHATWG HTML,
/// "Server-sent events", §9.2.6).
///
/// Feed it chunks as they arrive, split at any byte; it returns the events
/// completed so far. Lines may end in CR, LF or CRLF (a CRLF may be split
/// across chunks), a leading UTF-8 BOM is skipped, comment lines (`: ping`)
/// are ignored, and invalid UTF-8 is replaced by U+FFFD. An event still
/// incomplete when the stream ends is discarded, as the specification says.
///
/// ```
/// use openintent_transport::sse::SseParser;
///
/// let mut parser = SseParser::new();
/// assert!(parser.feed(b"event: state_patched\ndata: {\"a\"").unwrap().is_empty());
/// let events = parser.feed(b": 1}\n\n: ping\n\n").unwrap();
/// assert_eq!(events.len(), 1);
/// assert_eq!(events[0].event, "state_patched");
/// assert_eq!(events[0].data, "{\"a\": 1}");
/// ```
#[derive(Debug, Clone)]
pub struct SseParser {
    buf: Vec<u8>,
    scan_from: usize,
    bom_checked: bool,
    skip_lf: bool,
    event_type: String,
    data: String,
    frame_retry: Option<Duration>,
    last_event_id: String,
    retry: Option<Duration>,
    max_event_size: usize,
}

impl Default for SseParser {
    fn default() -> Self {
        Self::new()
    }
}

impl SseParser {
    /// A parser at the start of a stream.
    pub fn new() -> Self {
        Self {
            buf: Vec::new(),
            scan_from: 0,
            bom_checked: false,
            skip_lf: false,
            event_type: String::new(),
            data: String::new(),
            frame_retry: None,
            last_event_id: String::new(),
            retry: None,
            max_event_size: DEFAULT_MAX_EVENT_SIZE,
        }
    }

    /// A parser for a resumed stream: events without an `id:` field report
    /// `last_event_id` until the server sends a new one.
    pub fn with_last_event_id(last_event_id: impl Into<String>) -> Self {
        let mut p = Self::new();
        p.last_event_id = last_event_id.into();
        p
    }

    /// Sets the bound on one line plus the buffered data of one event
    /// (default 16 MiB); [`feed`](Self::feed) fails when it is exceeded.
    pub fn max_event_size(mut self, bytes: usize) -> Self {
        self.max_event_size = bytes;
        self
    }

    /// The last event id seen on the stream (`None` if none, or reset).
    pub fn last_event_id(&self) -> Option<&str> {
        (!self.last_event_id.is_empty()).then_some(self.last_event_id.as_str())
    }

    /// The most recent `retry:` value seen on the stream.
    pub fn retry(&self) -> Option<Duration> {
        self.retry
    }

    /// Parses `chunk` and returns every event it completes.
    ///
    /// Fails with a [`Protocol`](crate::TransportErrorKind::Protocol) error
    /// when a line or an event grows beyond the size bound; the parser
    /// should then be discarded.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<Vec<SseEvent>, TransportError> {
        let mut events = Vec::new();
        let mut chunk = chunk;
        if self.skip_lf && !chunk.is_empty() {
            if chunk[0] == b'\n' {
                chunk = &chunk[1..];
            }
            self.skip_lf = false;
        }
        self.buf.extend_from_slice(chunk);

        if !self.bom_checked {
            let n = self.buf.len().min(BOM.len());
            if self.buf[..n] != BOM[..n] {
                self.bom_checked = true;
            } else if self.buf.len() >= BOM.len() {
                self.buf.drain(..BOM.len());
                self.bom_checked = true;
            } else {
                return Ok(events);
            }
        }

        let mut start = 0;
        let mut i = self.scan_from;
        while i < self.buf.len() {
            let b = self.buf[i];
            if b == b'\n' || b == b'\r' {
                let line = String::from_utf8_lossy(&self.buf[start..i]).into_owned();
                let mut next = i + 1;
                if b == b'\r' {
                    if next < self.buf.len() {
                        if self.buf[next] == b'\n' {
                            next += 1;
                        }
                    } else {
                        self.skip_lf = true;
                    }
                }
                self.process_line(&line, &mut events);
                start = next;
                i = next;
            } else {
                i += 1;
            }
        }
        self.buf.drain(..start);
        self.scan_from = self.buf.len();
        if self.buf.len() + self.data.len() > self.max_event_size {
            return Err(TransportError::protocol(format!(
                "server-sent event larger than {} bytes",
                self.max_event_size
            )));
        }
        Ok(events)
    }

    fn process_line(&mut self, line: &str, events: &mut Vec<SseEvent>) {
        if line.is_empty() {
            self.dispatch(events);
            return;
        }
        if line.starts_with(':') {
            return;
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        match field {
            "event" => value.clone_into(&mut self.event_type),
            "data" => {
                self.data.push_str(value);
                self.data.push('\n');
            }
            "id" if !value.contains('\0') => value.clone_into(&mut self.last_event_id),
            "retry" if !value.is_empty() && value.bytes().all(|c| c.is_ascii_digit()) => {
                // Absurdly long digit strings saturate instead of failing.
                let ms = value.parse::<u64>().unwrap_or(u64::MAX);
                let d = Duration::from_millis(ms);
                self.retry = Some(d);
                self.frame_retry = Some(d);
            }
            _ => {}
        }
    }

    fn dispatch(&mut self, events: &mut Vec<SseEvent>) {
        let retry = self.frame_retry.take();
        if self.data.is_empty() {
            self.event_type.clear();
            return;
        }
        let mut data = std::mem::take(&mut self.data);
        data.pop(); // the trailing '\n'
        let event =
            if self.event_type.is_empty() { "message".to_owned() } else { std::mem::take(&mut self.event_type) };
        self.event_type.clear();
        events.push(SseEvent { event, data, id: self.last_event_id().map(str::to_owned), retry });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(chunks: &[&[u8]]) -> Vec<SseEvent> {
        let mut p = SseParser::new();
        let mut out = Vec::new();
        for c in chunks {
            out.extend(p.feed(c).unwrap());
        }
        out
    }

    const DOC: &str = "\u{feff}: hello\r\n\
        event: state_patched\r\n\
        data: {\"a\": \"\u{e9}\u{1f600}\"}\r\n\
        \r\n\
        id: 7\n\
        data: line one\n\
        data: line two\n\
        data\n\
        \n\
        : ping\n\
        \n\
        retry: 1500\r\
        event: comment\r\
        data:no-space\r\
        data:  two-spaces\r\
        \r\
        data: after-cr\r\n\r\n\
        id\n\
        data: id reset\n\n\
        data: unterminated\n";

    fn expected() -> Vec<SseEvent> {
        vec![
            SseEvent::new("state_patched", "{\"a\": \"\u{e9}\u{1f600}\"}"),
            SseEvent::new("message", "line one\nline two\n").with_id("7"),
            SseEvent {
                event: "comment".into(),
                data: "no-space\n two-spaces".into(),
                id: Some("7".into()),
                retry: Some(Duration::from_millis(1500)),
            },
            SseEvent::new("message", "after-cr").with_id("7"),
            SseEvent::new("message", "id reset"),
        ]
    }

    #[test]
    fn whole_document() {
        assert_eq!(parse_all(&[DOC.as_bytes()]), expected());
    }

    #[test]
    fn every_split_point_gives_the_same_events() {
        let doc = DOC.as_bytes();
        for i in 0..=doc.len() {
            let (a, b) = doc.split_at(i);
            assert_eq!(parse_all(&[a, b]), expected(), "split at byte {i}");
        }
    }

    #[test]
    fn every_pair_of_split_points_gives_the_same_events() {
        let doc = DOC.as_bytes();
        for i in 0..=doc.len() {
            for j in i..=doc.len() {
                let got = parse_all(&[&doc[..i], &doc[i..j], &doc[j..]]);
                assert_eq!(got, expected(), "split at bytes {i} and {j}");
            }
        }
    }

    #[test]
    fn one_byte_at_a_time() {
        let chunks: Vec<&[u8]> = DOC.as_bytes().chunks(1).collect();
        assert_eq!(parse_all(&chunks), expected());
    }

    #[test]
    fn crlf_split_across_chunks_is_one_line_end() {
        // If the CR and LF were two line ends, the LF would be an empty line
        // and would dispatch "a" before "b" is added.
        let got = parse_all(&[b"data: a\r", b"\ndata: b\r", b"\n\r", b"\n"]);
        assert_eq!(got, vec![SseEvent::new("message", "a\nb")]);
    }

    #[test]
    fn lone_cr_then_empty_chunk_then_lf() {
        let got = parse_all(&[b"data: a\r", b"", b"\n\n"]);
        assert_eq!(got, vec![SseEvent::new("message", "a")]);
    }

    #[test]
    fn bom_only_stripped_at_start_and_when_split() {
        let got = parse_all(&[b"\xEF", b"\xBB", b"\xBFdata: x\n\n"]);
        assert_eq!(got, vec![SseEvent::new("message", "x")]);
        // A second BOM is not stripped: the field name becomes "\u{feff}data".
        let got = parse_all(&[b"\xEF\xBB\xBF\xEF\xBB\xBFdata: x\n\n"]);
        assert!(got.is_empty());
    }

    #[test]
    fn comments_and_keepalives_do_not_dispatch() {
        let got = parse_all(&[b": ping\n\n:\n\n\n\nevent: x\n\n"]);
        assert!(got.is_empty());
        // The lone "event: x" frame had no data, so its name is reset.
        let got = parse_all(&[b"event: x\n\ndata: y\n\n"]);
        assert_eq!(got, vec![SseEvent::new("message", "y")]);
    }

    #[test]
    fn reference_server_capture() {
        let raw = include_str!("../../tests/data/sse_subscribe_intent.txt");
        let got = parse_all(&[raw.as_bytes()]);
        let names: Vec<_> = got.iter().map(|e| e.event.as_str()).collect();
        assert_eq!(names, ["state_patched", "status_changed", "comment"]);
        assert!(got[0].data.starts_with("{\"id\": \"030a440c"));
        assert!(got.iter().all(|e| e.id.is_none() && e.retry.is_none()));
    }

    #[test]
    fn invalid_retry_and_nul_id_are_ignored() {
        let mut p = SseParser::new();
        let got = p.feed(b"retry: 12a\nid: a\0b\ndata: x\n\nretry:\nretry: 99999999999999999999999\n").unwrap();
        assert_eq!(got, vec![SseEvent::new("message", "x")]);
        assert_eq!(p.last_event_id(), None);
        assert_eq!(p.retry(), Some(Duration::from_millis(u64::MAX)));
    }

    #[test]
    fn invalid_utf8_is_replaced() {
        let got = parse_all(&[b"data: a\xFFb\n\n"]);
        assert_eq!(got[0].data, "a\u{fffd}b");
    }

    #[test]
    fn oversized_events_fail() {
        let mut p = SseParser::new().max_event_size(16);
        assert!(p.feed(b"data: 0123456789\n").is_ok());
        let err = p.feed(b"data: 0123456789\n").unwrap_err();
        assert_eq!(err.kind(), crate::TransportErrorKind::Protocol);
        let mut p = SseParser::new().max_event_size(8);
        assert!(p.feed(b"data: 0123456789").is_err());
    }

    #[test]
    fn resumed_parser_reports_the_previous_id() {
        let mut p = SseParser::with_last_event_id("41");
        let got = p.feed(b"data: a\n\nid: 42\ndata: b\n\n").unwrap();
        assert_eq!(got[0].id.as_deref(), Some("41"));
        assert_eq!(got[1].id.as_deref(), Some("42"));
        assert_eq!(p.last_event_id(), Some("42"));
    }
}
