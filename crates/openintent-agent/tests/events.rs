//! The state, status, by-name and input-response handlers, fed by the streams of the intents
//! the agent is assigned to (against the in-process server).

use std::time::Duration;

use openintent_agent::{Agent, Ctx};
use openintent_client::Client;
use openintent_client::types::{IntentStatus, StreamEvent, SuspensionChoice};
use openintent_server::ServerConfig;
use serde_json::{Value, json};
use tokio::sync::mpsc;

/// What a handler saw: its kind, the event type, and a value read from the context.
type Seen = (&'static str, String, Value);

fn report(tx: &mpsc::UnboundedSender<Seen>, kind: &'static str, ctx: &Ctx, value: Value) {
    let event_type = ctx.event().map(StreamEvent::event_type).unwrap_or_default();
    tx.send((kind, event_type, value)).unwrap();
}

async fn next(rx: &mut mpsc::UnboundedReceiver<Seen>) -> Seen {
    tokio::time::timeout(Duration::from_secs(10), rx.recv()).await.expect("a handler ran").expect("open")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_of_assigned_intents_reach_their_handlers_in_order() {
    let srv = openintent_server::spawn(ServerConfig::in_memory()).await.unwrap();
    let url = srv.url();
    let user = Client::new(&url, "dev-user-key", "user").unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel::<Seen>();
    let (t1, t2, t3, t4, t5) = (tx.clone(), tx.clone(), tx.clone(), tx.clone(), tx);
    let agent = Agent::builder(Client::new(&url, "agent-research-key", "watcher").unwrap())
        .on_assignment(move |ctx| {
            let tx = t1.clone();
            async move {
                report(&tx, "assignment", &ctx, json!(ctx.intent().title));
                Ok(())
            }
        })
        .on_state_change(move |ctx| {
            let tx = t2.clone();
            async move {
                report(&tx, "state", &ctx, ctx.intent().state.get("step").cloned().unwrap_or(Value::Null));
                Ok(())
            }
        })
        .on_status_change(move |ctx| {
            let tx = t3.clone();
            async move {
                report(&tx, "status", &ctx, json!(ctx.intent().status.to_string()));
                Ok(())
            }
        })
        .on_event("comment", move |ctx| {
            let tx = t4.clone();
            async move {
                let payload = match ctx.event() {
                    Some(StreamEvent::Event(e)) => Value::Object(e.payload.clone()),
                    _ => Value::Null,
                };
                report(&tx, "comment", &ctx, payload);
                Ok(())
            }
        })
        .on_input_response(move |ctx| {
            let tx = t5.clone();
            async move {
                let value = match ctx.event() {
                    Some(StreamEvent::Event(e)) => e.payload.get("value").cloned().unwrap_or(Value::Null),
                    _ => Value::Null,
                };
                report(&tx, "input", &ctx, value);
                Ok(())
            }
        })
        .build();
    let drain = agent.drain_handle();
    let run = tokio::spawn(agent.run());

    let intent = user.create_intent("Watched").send().await.unwrap();
    user.assign_agent(&intent.id).agent_id("watcher").send().await.unwrap();
    assert_eq!(next(&mut rx).await, ("assignment", "agent_assigned".to_owned(), json!("Watched")));

    user.log_event(&intent.id, "comment").payload(json!({"message": "hello"})).send().await.unwrap();
    assert_eq!(next(&mut rx).await, ("comment", "comment".to_owned(), json!({"message": "hello"})));

    let current = user.get_intent(&intent.id).await.unwrap();
    let current = user.update_state(&intent.id, current.version).set("step", 2).send().await.unwrap();
    assert_eq!(next(&mut rx).await, ("state", "state_patched".to_owned(), json!(2)));

    let suspended = user
        .suspend(&intent.id, current.version, "Go on?")
        .choice(SuspensionChoice::new("yes", "Yes"))
        .send()
        .await
        .unwrap();
    assert_eq!(next(&mut rx).await, ("status", "status_changed".to_owned(), json!("suspended_awaiting_input")));
    let suspension = openintent_client::hitl::suspension_of(&suspended).unwrap();
    user.respond_to_suspension(&intent.id, suspension.id, "yes").send().await.unwrap();
    let mut after: Vec<Seen> = vec![next(&mut rx).await, next(&mut rx).await];
    after.sort_by(|a, b| a.0.cmp(b.0));
    assert_eq!(after[0], ("input", "intent.resumed".to_owned(), json!("yes")), "{after:?}");
    assert_eq!(after[1].0, "status", "{after:?}");

    let current = user.get_intent(&intent.id).await.unwrap();
    user.set_status(&intent.id, current.version, IntentStatus::Completed).send().await.unwrap();
    assert_eq!(next(&mut rx).await, ("status", "status_changed".to_owned(), json!("completed")));

    drain.drain();
    tokio::time::timeout(Duration::from_secs(10), run).await.unwrap().unwrap().unwrap();
    assert!(rx.try_recv().is_err(), "nothing else was handled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_agent_follows_its_intents_again_from_where_it_was() {
    let srv = openintent_server::spawn(ServerConfig::in_memory()).await.unwrap();
    let url = srv.url();
    let user = Client::new(&url, "dev-user-key", "user").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cursor = dir.path().join("follower.cursor");
    let (tx, mut rx) = mpsc::unbounded_channel::<Seen>();
    let start = || {
        let tx = tx.clone();
        let agent = Agent::builder(Client::new(&url, "agent-research-key", "follower").unwrap())
            .cursor_file(&cursor)
            .on_event("comment", move |ctx| {
                let tx = tx.clone();
                async move {
                    let message = match ctx.event() {
                        Some(StreamEvent::Event(e)) => e.payload.get("message").cloned().unwrap_or(Value::Null),
                        _ => Value::Null,
                    };
                    report(&tx, "comment", &ctx, message);
                    Ok(())
                }
            })
            .build();
        let drain = agent.drain_handle();
        (drain, tokio::spawn(agent.run()))
    };
    let comment = |text: &'static str| {
        let user = user.clone();
        async move {
            let id = user.list_intents().send().await.unwrap().items[0].id.clone();
            user.log_event(&id, "comment").payload(json!({"message": text})).send().await.unwrap();
        }
    };

    let (drain, run) = start();
    let intent = user.create_intent("Followed").send().await.unwrap();
    user.assign_agent(&intent.id).agent_id("follower").send().await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    comment("one").await;
    assert_eq!(next(&mut rx).await.2, json!("one"));
    drain.drain();
    tokio::time::timeout(Duration::from_secs(10), run).await.unwrap().unwrap().unwrap();

    // Logged while the agent is down: handled after the restart, and "one" is not handled again.
    comment("two").await;
    let (drain, run) = start();
    assert_eq!(next(&mut rx).await.2, json!("two"));
    comment("three").await;
    assert_eq!(next(&mut rx).await.2, json!("three"));
    drain.drain();
    tokio::time::timeout(Duration::from_secs(10), run).await.unwrap().unwrap().unwrap();
    assert!(rx.try_recv().is_err(), "nothing handled twice");
}
