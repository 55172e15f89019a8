//! Intent graphs (RFC-0002): children, descendants, ancestors, dependencies added and removed
//! with `If-Match`, dependents, ready and blocked children, the graph, and cycle refusal.

use openintent::types::{EdgeKind, IntentStatus};

use crate::common::{Must, new_intent, target, unique};

#[tokio::test]
async fn children_ancestors_and_descendants() {
    let client = target().client(&unique("graph-tree"));
    let root = new_intent(&client, "graph root").await;
    let a = client.create_child_intent(&root.id, unique("child a")).send().await.must("create_child_intent");
    assert_eq!(a.parent_id.as_deref(), Some(root.id.as_str()));
    assert_eq!(a.status, IntentStatus::Draft);
    let b = client.create_child_intent(&root.id, unique("child b")).send().await.must("create child b");
    let a1 = client.create_child_intent(&a.id, unique("grandchild")).send().await.must("create grandchild");

    let ids = |v: Vec<openintent::types::Intent>| v.into_iter().map(|i| i.id).collect::<Vec<_>>();
    assert_eq!(ids(client.get_children(&root.id).await.must("get_children")), [a.id.clone(), b.id.clone()]);
    let kids = client.get_children(&root.id).await.must("get_children");
    assert!(kids.iter().all(|k| k.parent_id.as_deref() == Some(root.id.as_str())));
    let all = ids(client.get_descendants(&root.id).await.must("get_descendants"));
    assert_eq!(all, [a.id.clone(), a1.id.clone(), b.id.clone()]);
    assert_eq!(ids(client.get_ancestors(&a1.id).await.must("get_ancestors")), [a.id.clone(), root.id.clone()]);

    let err = client.create_child_intent("00000000-0000-0000-0000-000000000000", "orphan").send().await.unwrap_err();
    assert!(err.is_not_found(), "{err}");
    let err = client.get_children("00000000-0000-0000-0000-000000000000").await.unwrap_err();
    assert!(err.is_not_found(), "{err}");
}

#[tokio::test]
async fn dependencies_readiness_and_the_graph() {
    let client = target().client(&unique("graph-deps"));
    let root = new_intent(&client, "graph deps root").await;
    let fetch = client.create_child_intent(&root.id, unique("fetch")).send().await.must("fetch");
    let build = client.create_child_intent(&root.id, unique("build")).send().await.must("build");
    let deploy = client
        .create_child_intent(&root.id, unique("deploy"))
        .depends_on([fetch.id.as_str()])
        .send()
        .await
        .must("deploy");
    assert_eq!(deploy.depends_on, [fetch.id.as_str()]);
    let deploy = client.add_dependency(&deploy.id, &build.id, deploy.version).await.must("add_dependency");
    assert_eq!(deploy.depends_on, [fetch.id.clone(), build.id.clone()]);
    assert_eq!(deploy.version, 2);

    let stale = client.add_dependency(&deploy.id, &root.id, 1).await.unwrap_err();
    assert!(stale.is_conflict(), "{stale}");
    let duplicate = client.add_dependency(&deploy.id, &build.id, deploy.version).await.unwrap_err();
    assert_eq!(duplicate.status(), Some(400), "{duplicate}");
    let cycle = client.add_dependency(&fetch.id, &deploy.id, fetch.version).await.unwrap_err();
    assert_eq!(cycle.status(), Some(400), "{cycle}");
    assert!(cycle.to_string().contains("cycle"), "{cycle}");

    let ids = |v: Vec<openintent::types::Intent>| v.into_iter().map(|i| i.id).collect::<Vec<_>>();
    // Both, in an order of the server's choosing (the reference answers in storage order).
    let mut upstream = ids(client.get_dependencies(&deploy.id).await.must("get_dependencies"));
    upstream.sort();
    let mut expected = vec![fetch.id.clone(), build.id.clone()];
    expected.sort();
    assert_eq!(upstream, expected);
    assert_eq!(ids(client.get_dependents(&build.id).await.must("get_dependents")), [deploy.id.as_str()]);
    assert_eq!(
        ids(client.get_ready_intents(&root.id).await.must("get_ready_intents")),
        [fetch.id.clone(), build.id.clone()]
    );
    assert_eq!(ids(client.get_blocked_intents(&root.id).await.must("get_blocked_intents")), [deploy.id.as_str()]);

    for dep in [&fetch, &build] {
        let active = client.set_status(&dep.id, dep.version, "active").send().await.must("activate");
        client.set_status(&dep.id, active.version, "completed").send().await.must("complete");
    }
    let ready = ids(client.get_ready_intents(&root.id).await.must("ready after completion"));
    if target().full() {
        // Completed children are no longer listed as ready; deploy is.
        assert_eq!(ready, [deploy.id.as_str()]);
        let events = client.get_events(&deploy.id).send().await.must("deploy events");
        assert!(events.iter().any(|e| e.event_type.as_str() == "task.ready"), "{events:?}");
    } else {
        // The reference lists every child whose dependencies are completed, completed ones too.
        assert_eq!(ready, [fetch.id.clone(), build.id.clone(), deploy.id.clone()]);
    }
    assert!(client.get_blocked_intents(&root.id).await.must("blocked after completion").is_empty());

    let graph = client.get_intent_graph(&root.id).await.must("get_intent_graph");
    assert_eq!(graph.root_id, root.id);
    assert_eq!(graph.nodes.len(), 4);
    assert_eq!(graph.aggregate_status.total, 4);
    assert_eq!(graph.aggregate_status.completion_percentage, 50);
    let dependency_edges = graph.edges.iter().filter(|e| e.kind == EdgeKind::Dependency).count();
    assert_eq!(dependency_edges, 2);

    let deploy = client.get_intent(&deploy.id).await.must("get deploy");
    let after = client.remove_dependency(&deploy.id, &build.id, deploy.version).await.must("remove_dependency");
    assert_eq!(after.depends_on, [fetch.id.as_str()]);
    let again = client.remove_dependency(&deploy.id, &build.id, after.version).await;
    if target().full() {
        assert!(again.unwrap_err().is_not_found());
    } else {
        // The reference answers 200 for a dependency that is not there (and bumps the version).
        again.must("remove an absent dependency");
    }
}
