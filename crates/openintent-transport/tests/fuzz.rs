//! Bounded fuzzing of the decoders the client runs on what a server sends: the Server-Sent
//! Events parser (arbitrary bytes split at arbitrary points, generated streams, the size bound)
//! and `Retry-After`. Never a panic; results do not depend on how the bytes were split; a
//! stream of encoded events parses back to those events; oversized input is a typed
//! `Protocol` error. Deterministic (a fixed seed) with a fixed case budget.

use std::time::{Duration, SystemTime};

use openintent_transport::sse::{SseEvent, SseParser};
use openintent_transport::{Headers, TransportErrorKind, parse_retry_after};
use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence, RngAlgorithm, TestRng, TestRunner};

fn runner(cases: u32) -> TestRunner {
    let config =
        Config { cases, failure_persistence: Some(Box::new(FileFailurePersistence::Off)), ..Config::default() };
    TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha))
}

/// What a stream parsed to: the events, the last event id and the retry seen.
type Parsed = (Vec<SseEvent>, Option<String>, Option<Duration>);

/// Feeds `bytes` cut at `cuts` (positions, any order); the events, the last event id and the
/// retry seen, or the error's kind.
fn parse(bytes: &[u8], cuts: &[usize], max: Option<usize>) -> Result<Parsed, TransportErrorKind> {
    let mut parser = SseParser::new();
    if let Some(max) = max {
        parser = parser.max_event_size(max);
    }
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    cuts.push(0);
    cuts.push(bytes.len());
    cuts.sort_unstable();
    let mut events = Vec::new();
    for w in cuts.windows(2) {
        events.extend(parser.feed(&bytes[w[0]..w[1]]).map_err(|e| e.kind())?);
    }
    Ok((events, parser.last_event_id().map(str::to_owned), parser.retry()))
}

/// Bytes that look like an event stream: field lines, comments, blank lines, every line
/// ending, a BOM, invalid UTF-8, NULs, and noise.
fn stream_bytes() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        prop::sample::select(vec![
            "event: ",
            "event:",
            "data: ",
            "data:",
            "data",
            "id: ",
            "id:",
            "retry: ",
            "retry:",
            ": ping",
            ":",
            "\n",
            "\r",
            "\r\n",
            "\n\n",
            "\u{feff}",
            "state_patched",
            "{\"a\": 1}",
            "42",
            "-1",
            "99999999999999999999",
            "\0",
        ])
        .prop_map(|s| s.as_bytes().to_vec()),
        prop::collection::vec(any::<u8>(), 0..8),
        prop::sample::select(vec![vec![0xff_u8], vec![0xc3], vec![0xe2, 0x82], vec![0xef, 0xbb, 0xbf]]),
    ];
    prop::collection::vec(piece, 0..40).prop_map(|p| p.concat())
}

#[test]
fn arbitrary_bytes_split_anywhere_parse_the_same_and_never_panic() {
    let cases = (stream_bytes(), prop::collection::vec(any::<usize>(), 0..8));
    runner(3000)
        .run(&cases, |(bytes, cuts)| {
            let whole = parse(&bytes, &[], None);
            prop_assert!(whole.is_ok(), "{whole:?}");
            prop_assert_eq!(parse(&bytes, &cuts, None), whole.clone());
            // One byte at a time.
            let every: Vec<usize> = (0..bytes.len()).collect();
            prop_assert_eq!(parse(&bytes, &every, None), whole);
            Ok(())
        })
        .unwrap();
}

#[test]
fn encoded_events_parse_back() {
    // Field values without line breaks (which cannot be encoded in one field), not starting
    // with a space (one leading space is removed by the format).
    let value = "[^\r\n ][^\r\n]{0,12}|";
    let event = (value, prop::collection::vec(value, 1..4), prop::option::of("[^\r\n\0 ][^\r\n\0]{0,8}"));
    let cases = (prop::collection::vec(event, 0..6), prop::sample::select(vec!["\n", "\r", "\r\n"]), any::<usize>());
    runner(2000)
        .run(&cases, |(events, eol, cut)| {
            let mut text = String::new();
            for (name, data, id) in &events {
                if !name.is_empty() {
                    text.push_str(&format!("event: {name}{eol}"));
                }
                for line in data {
                    text.push_str(&format!("data: {line}{eol}"));
                }
                if let Some(id) = id {
                    text.push_str(&format!("id: {id}{eol}"));
                }
                text.push_str(&format!(": comment{eol}{eol}"));
            }
            let (parsed, _, _) = parse(text.as_bytes(), &[cut], None).unwrap();
            prop_assert_eq!(parsed.len(), events.len());
            let mut last_id: Option<String> = None;
            for (got, (name, data, id)) in parsed.iter().zip(&events) {
                let name = if name.is_empty() { "message" } else { name.as_str() };
                prop_assert_eq!(&got.event, name);
                prop_assert_eq!(&got.data, &data.join("\n"));
                if id.is_some() {
                    last_id.clone_from(id);
                }
                prop_assert_eq!(
                    got.id.as_deref().filter(|i| !i.is_empty()),
                    last_id.as_deref().filter(|i| !i.is_empty())
                );
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn oversized_lines_and_events_are_a_protocol_error() {
    let cases = (1usize..64, stream_bytes(), prop::collection::vec(any::<usize>(), 0..4));
    runner(2000)
        .run(&cases, |(max, bytes, cuts)| {
            let mut long = bytes.clone();
            long.extend(std::iter::repeat_n(b'x', max + 1));
            match parse(&long, &cuts, Some(max)) {
                Err(kind) => prop_assert_eq!(kind, TransportErrorKind::Protocol),
                Ok(_) => prop_assert!(false, "{} pending bytes over a bound of {max} accepted", max + 1),
            }
            // Under any bound, arbitrary input is parsed or refused with the typed error.
            if let Err(kind) = parse(&bytes, &cuts, Some(max)) {
                prop_assert_eq!(kind, TransportErrorKind::Protocol);
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn retry_after_values_never_panic() {
    let value = prop_oneof![
        "[0-9]{0,25}",
        prop::sample::select(vec![
            "Wed, 21 Oct 2015 07:28:00 GMT",
            "Sun, 06 Nov 1994 08:49:37 GMT",
            "Fri, 31 Dec 9999 23:59:59 GMT",
            "-1",
            " 5 ",
            "1.5",
            "",
        ])
        .prop_map(str::to_owned),
        ".{0,32}",
    ];
    runner(3000)
        .run(&value, |v| {
            let mut headers = Headers::new();
            headers.insert("retry-after", v.clone());
            let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_600_000_000);
            if let Some(d) = parse_retry_after(&headers, now)
                && let Ok(secs) = v.trim().parse::<u64>()
            {
                prop_assert_eq!(d, Duration::from_secs(secs));
            }
            Ok(())
        })
        .unwrap();
}
