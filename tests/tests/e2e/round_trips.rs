//! DynamoDB round trips per operation do not grow with the depth of the tree. Run with
//! `--nocapture` to see the table (the closing notes quote it).

use e2e::{Engine, TestApp};
use serde_json::json;
use switchboard::access::{Manage, Scope};
use switchboard::domain::Role;

both_engines!(round_trips_stay_constant_as_trees_deepen);

async fn round_trips_stay_constant_as_trees_deepen(engine: Engine) {
    let app = TestApp::spawn(engine).await;
    let mut rows = Vec::new();
    for depth in [1usize, 3, 6] {
        let owner = app.signup(&format!("depth{depth}"), "web").await;
        let mut chain = vec![owner.org.clone()];
        for level in 1..=depth {
            let id = app.sub_account(&owner.access, chain.last().unwrap(), &format!("L{level}")).await;
            chain.push(id);
        }
        let leaf = chain.last().unwrap().clone();
        // A member of the deepest sub-account only, as the seeds' location users are.
        let local = app.signup(&format!("local{depth}"), "web").await;
        app.add_member(&local.id, &leaf, &[Role::Agent], Scope::Subtree, Manage::All).await;

        let calls = || app.ctx.store.calls();
        let c = calls();
        let r = app.get("/v1/me/organizations", &owner.access).await;
        assert_eq!(r.body["organizations"].as_array().unwrap().len(), depth + 1);
        let list_owner = calls() - c;
        let c = calls();
        let r = app.get("/v1/me/organizations", &local.access).await;
        assert_eq!(
            r.body["organizations"].as_array().unwrap().iter().filter(|o| o["organization"]["id"] == leaf).count(),
            1
        );
        let list_leaf_member = calls() - c;
        let c = calls();
        let r = app.post_auth("/v1/auth/switch", &owner.access, json!({"organization_id": leaf})).await;
        assert!(r.status.is_success());
        let switch = calls() - c;
        let c = calls();
        let r = app.get(&format!("/v1/orgs/{}/activity", owner.org), &owner.access).await;
        assert_eq!(r.body["activity"].as_array().unwrap().len(), depth + 1);
        let feed = calls() - c;
        let c = calls();
        let r = app.get(&format!("/v1/orgs/{leaf}"), &owner.access).await;
        assert!(r.status.is_success());
        let get_leaf = calls() - c;
        rows.push((depth, list_owner, list_leaf_member, switch, feed, get_leaf));
    }
    println!("{engine:?}: depth | my orgs (top owner) | my orgs (leaf member) | switch | parent's feed | GET leaf org");
    for r in &rows {
        println!("{engine:?}: {:>5} | {:>19} | {:>21} | {:>6} | {:>13} | {:>12}", r.0, r.1, r.2, r.3, r.4, r.5);
    }
    let first = rows[0];
    for r in &rows[1..] {
        assert_eq!(
            (r.1, r.2, r.3, r.4, r.5),
            (first.1, first.2, first.3, first.4, first.5),
            "round trips grew with depth"
        );
    }
}
