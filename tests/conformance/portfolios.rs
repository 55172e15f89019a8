//! Portfolios: create, membership with role and priority, aggregate status, listing, status,
//! removal, and the two membership views.

use openintent::types::{MembershipRole, PortfolioStatus};
use serde_json::json;

use crate::common::{Must, new_intent, target, unique};

#[tokio::test]
async fn portfolio_lifecycle_and_aggregate_status() {
    let agent = unique("portfolio-owner");
    let client = target().client(&agent);
    let name = unique("Q4 launch");

    let portfolio = client
        .create_portfolio(name.clone())
        .description("Everything for the Q4 launch")
        .governance_policy(json!({"require_approval": false}))
        .send()
        .await
        .must("create_portfolio");
    assert_eq!(portfolio.name, name);
    assert_eq!(portfolio.description, "Everything for the Q4 launch");
    assert_eq!(portfolio.created_by, agent);
    assert_eq!(portfolio.status, PortfolioStatus::Active);

    let research = new_intent(&client, "portfolio research").await;
    let writing = new_intent(&client, "portfolio writing").await;
    let review = new_intent(&client, "portfolio review").await;

    let m = client
        .add_intent_to_portfolio(&portfolio.id, research.id.clone())
        .role("primary")
        .priority(10)
        .send()
        .await
        .must("add_intent_to_portfolio");
    assert_eq!(m.intent_id.as_deref(), Some(research.id.as_str()));
    assert_eq!(m.portfolio_id.as_deref(), Some(portfolio.id.as_str()));
    assert_eq!(m.role, Some(MembershipRole::Primary));
    assert_eq!(m.priority, Some(10));
    client.add_intent_to_portfolio(&portfolio.id, writing.id.clone()).priority(5).send().await.must("add member");
    client
        .add_intent_to_portfolio(&portfolio.id, review.id.clone())
        .role(MembershipRole::Dependency)
        .send()
        .await
        .must("add dependency");

    let read = client.get_portfolio(&portfolio.id).await.must("get_portfolio");
    let agg = read.aggregate_status.clone().expect("aggregate status");
    assert_eq!((agg.total, agg.completion_percentage), (3, 0), "{agg:?}");
    assert_eq!(agg.by_status.get("draft"), Some(&3));

    client.set_status(&research.id, research.version, "completed").send().await.must("complete a member");
    let read = client.get_portfolio(&portfolio.id).await.must("get_portfolio after completion");
    let agg = read.aggregate_status.expect("aggregate status");
    assert_eq!(agg.total, 3);
    assert_eq!(agg.completion_percentage, 33, "one of three completed: {agg:?}");
    assert_eq!(agg.by_status.get("completed"), Some(&1));
    assert_eq!(agg.by_status.get("draft"), Some(&2));

    let members = client.get_portfolio_intents(&portfolio.id).await.must("get_portfolio_intents");
    let mut ids: Vec<_> = members.iter().map(|i| i.id.clone()).collect();
    ids.sort();
    let mut want = vec![research.id.clone(), writing.id.clone(), review.id.clone()];
    want.sort();
    assert_eq!(ids, want);

    let of_research = client.get_intent_portfolios(&research.id).await.must("get_intent_portfolios");
    assert_eq!(of_research.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(), vec![portfolio.id.as_str()]);
    let lonely = new_intent(&client, "portfolio outsider").await;
    assert!(client.get_intent_portfolios(&lonely.id).await.must("get_intent_portfolios").is_empty());

    let all = client.list_portfolios().send().await.must("list_portfolios");
    assert!(all.iter().any(|p| p.id == portfolio.id), "listed");
    let mine = client.list_portfolios().created_by(agent.clone()).send().await.must("list_portfolios created_by");
    assert_eq!(mine.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(), vec![portfolio.id.as_str()]);

    let updated = client.update_portfolio_status(&portfolio.id, "completed").await.must("update_portfolio_status");
    assert_eq!(updated.status, PortfolioStatus::Completed);
    assert_eq!(client.get_portfolio(&portfolio.id).await.must("get_portfolio").status, PortfolioStatus::Completed);

    client.remove_intent_from_portfolio(&portfolio.id, &review.id).await.must("remove_intent_from_portfolio");
    let members = client.get_portfolio_intents(&portfolio.id).await.must("get_portfolio_intents after removal");
    assert_eq!(members.len(), 2);
    assert!(members.iter().all(|i| i.id != review.id));
    assert!(client.get_intent_portfolios(&review.id).await.must("get_intent_portfolios").is_empty());
    let agg = client.get_portfolio(&portfolio.id).await.must("get_portfolio").aggregate_status.expect("aggregate");
    assert_eq!((agg.total, agg.completion_percentage), (2, 50));
}
