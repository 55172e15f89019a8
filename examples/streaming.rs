//! Live events over Server-Sent Events: one task follows an intent's stream and prints each
//! event as it arrives, while another task changes the intent.
//!
//! ```text
//! cargo run --example streaming
//! OPENINTENT_URL=http://127.0.0.1:8000 cargo run --example streaming
//! ```

mod common;

use std::time::Duration;

use common::{BoxError, Server};
use futures_util::StreamExt;
use openintent::types::{EventType, IntentStatus, StreamEvent};
use openintent::{Client, Error};
use serde_json::json;
use tokio::sync::oneshot;

/// Prints the stream until the intent is completed. Signals `connected` on the first event.
async fn listen(client: Client, intent_id: String, connected: oneshot::Sender<()>) -> Result<usize, Error> {
    let mut events = client.stream_intent_events(&intent_id).into_stream();
    let mut connected = Some(connected);
    let mut count = 0;
    while let Some(event) = events.next().await {
        let event = event?;
        count += 1;
        if let Some(tx) = connected.take() {
            let _ = tx.send(());
        }
        match &event {
            StreamEvent::IntentChanged { event_type, intent } => {
                let state = serde_json::Value::Object(intent.state.clone());
                println!(
                    "  <- {:<15} v{} status={} state={state}",
                    event_type.to_string(),
                    intent.version,
                    intent.status
                );
                if intent.status == IntentStatus::Completed {
                    break;
                }
            }
            // Our server sends each change as the event (its patches, or the new status) and the
            // new version; the reference server sends the intent (above).
            StreamEvent::Event(e) => {
                println!(
                    "  <- {:<15} by {} {}",
                    e.event_type.to_string(),
                    e.agent_id(),
                    serde_json::Value::Object(e.payload.clone())
                );
                let status = e.payload.get("status").and_then(|s| s.as_str());
                if e.event_type == EventType::StatusChanged && status == Some(IntentStatus::Completed.as_str()) {
                    break;
                }
            }
            other => println!("  <- {}", other.event_type()),
        }
    }
    Ok(count)
}

/// Waits until the listener receives something (pinging meanwhile), then makes changes.
async fn work(client: Client, intent_id: String, mut connected: oneshot::Receiver<()>) -> Result<(), BoxError> {
    for attempt in 1.. {
        client.log_event(&intent_id, "comment").payload(json!({"message": "anyone listening?"})).send().await?;
        match tokio::time::timeout(Duration::from_millis(300), &mut connected).await {
            Ok(Ok(())) => break,
            Ok(Err(_)) => return Err("the listener stopped before receiving anything".into()),
            Err(_) if attempt >= 30 => return Err("the listener received nothing within 9 s".into()),
            Err(_) => {}
        }
    }
    println!("  -> the listener is connected; making changes");
    let mut intent = client.get_intent(&intent_id).await?;
    for (step, phase) in ["collecting", "analysing", "writing"].iter().enumerate() {
        tokio::time::sleep(Duration::from_millis(200)).await;
        println!("  -> state: phase={phase}");
        intent = client
            .update_state(&intent.id, intent.version)
            .set("phase", *phase)
            .set("progress", ((step + 1) as f64 / 3.0 * 100.0).round() / 100.0)
            .send()
            .await?;
    }
    client.log_event(&intent_id, "comment").payload(json!({"message": "all phases done"})).send().await?;
    println!("  -> status: completed");
    client.set_status(&intent.id, intent.version, "completed").send().await?;
    Ok(())
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    common::report::exit(run().await)
}

async fn run() -> Result<(), BoxError> {
    let server = Server::start().await?;
    let client = Client::new(&server.url, &server.api_key, "stream-demo")?;
    let intent = client.create_intent("Streamed analysis").send().await?;
    println!("\nFollowing the events of intent {}\n", intent.id);

    let (tx, rx) = oneshot::channel();
    let listener = tokio::spawn(listen(client.clone(), intent.id.clone(), tx));
    let writer = tokio::spawn(work(client.clone(), intent.id.clone(), rx));

    if let Err(e) = writer.await? {
        // Report why the listener stopped, when that is the cause.
        if listener.is_finished()
            && let Ok(Err(listen_error)) = listener.await
        {
            return Err(format!("{e}: {listen_error}").into());
        }
        return Err(e);
    }
    let received = tokio::time::timeout(Duration::from_secs(15), listener)
        .await
        .map_err(|_| "the stream did not report the completion within 15 s")???;
    println!("\nReceived {received} live event(s); the intent is completed.");

    server.stop().await
}
