//! `Ctx::request_input` against the in-process server: the handler suspends the intent, a
//! human answers through the API, and the answer reaches the handler over the stream while the
//! agent's other work goes on.

use std::time::Duration;

use openintent_agent::Agent;
use openintent_client::Client;
use openintent_client::hitl::InputOutcome;
use openintent_client::types::{IntentStatus, SuspensionChoice};
use openintent_server::ServerConfig;

async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..400 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_input_returns_the_answer_and_other_work_goes_on() {
    let srv = openintent_server::spawn(ServerConfig::in_memory()).await.unwrap();
    let url = srv.url();
    let user = Client::new(&url, "dev-user-key", "user").unwrap();
    let agent = Agent::builder(Client::new(&url, "agent-research-key", "approver").unwrap())
        .concurrency(2)
        .on_assignment(|ctx| async move {
            if ctx.intent().title == "Refund" {
                let choices = vec![SuspensionChoice::new("approve", "Approve"), SuspensionChoice::new("deny", "Deny")];
                match ctx.request_input("Refund order 12345?", choices, None).await? {
                    InputOutcome::Responded(answer) => {
                        ctx.set_state("decision", answer).await?;
                    }
                    other => return Err(format!("unexpected outcome {other:?}").into()),
                }
            } else {
                ctx.set_state("done", true).await?;
            }
            Ok(())
        })
        .build();
    let drain = agent.drain_handle();
    let run = tokio::spawn(agent.run());

    let refund = user.create_intent("Refund").send().await.unwrap();
    user.assign_agent(&refund.id).agent_id("approver").send().await.unwrap();
    eventually("the intent suspended", || async {
        user.get_intent(&refund.id).await.unwrap().status == IntentStatus::SuspendedAwaitingInput
    })
    .await;

    // Other work is not held up by the question.
    let other = user.create_intent("Other").send().await.unwrap();
    user.assign_agent(&other.id).agent_id("approver").send().await.unwrap();
    eventually("the other work done", || async {
        user.get_intent(&other.id).await.unwrap().state_at::<bool>("/done").unwrap() == Some(true)
    })
    .await;

    let suspension = user.get_suspension(&refund.id).await.unwrap().expect("a suspension record");
    assert_eq!(suspension.question, "Refund order 12345?");
    user.respond_to_suspension(&refund.id, suspension.id, "approve").send().await.unwrap();
    eventually("the answer in the state", || async {
        user.get_intent(&refund.id).await.unwrap().state_at::<String>("/decision").unwrap().as_deref()
            == Some("approve")
    })
    .await;
    drain.drain();
    tokio::time::timeout(Duration::from_secs(10), run).await.unwrap().unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_question_without_choices_takes_a_free_text_answer() {
    let srv = openintent_server::spawn(ServerConfig::in_memory()).await.unwrap();
    let url = srv.url();
    let user = Client::new(&url, "dev-user-key", "user").unwrap();
    let agent = Agent::builder(Client::new(&url, "agent-research-key", "asker").unwrap())
        .on_assignment(|ctx| async move {
            if let InputOutcome::Responded(answer) = ctx.request_input("Which region?", Vec::new(), None).await? {
                ctx.set_state("region", answer).await?;
            }
            Ok(())
        })
        .build();
    let drain = agent.drain_handle();
    let run = tokio::spawn(agent.run());
    let intent = user.create_intent("Ask").send().await.unwrap();
    user.assign_agent(&intent.id).agent_id("asker").send().await.unwrap();
    eventually("the intent suspended", || async {
        user.get_intent(&intent.id).await.unwrap().status == IntentStatus::SuspendedAwaitingInput
    })
    .await;
    let suspension = user.get_suspension(&intent.id).await.unwrap().expect("a suspension record");
    user.respond_to_suspension(&intent.id, suspension.id, "eu-west").send().await.unwrap();
    eventually("the answer in the state", || async {
        user.get_intent(&intent.id).await.unwrap().state_at::<String>("/region").unwrap().as_deref() == Some("eu-west")
    })
    .await;
    drain.drain();
    tokio::time::timeout(Duration::from_secs(10), run).await.unwrap().unwrap().unwrap();
}
