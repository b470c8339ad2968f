//! Idempotency keys, the hash-chained audit trail, and the outbox event feed.

use crate::support::TestApp;
use holdfast::auth::{OrgKind, Role};
use serde_json::json;

async fn create_org_with_key(
    app: &TestApp,
    token: &str,
    key: &str,
    name: &str,
) -> crate::support::Reply {
    app.request_with(
        "POST",
        "/v1/orgs",
        Some(token),
        Some(&json!({"name": name, "kind": "supplier"})),
        &[("Idempotency-Key", key)],
    )
    .await
}

#[tokio::test]
async fn a_retry_with_the_same_key_replays_the_first_response() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let first = create_org_with_key(&app, admin.token(), "key-1", "Replay Co").await;
    assert_eq!(first.status, 201, "{}", first.text);
    assert_eq!(first.header("idempotent-replayed"), None);
    let again = create_org_with_key(&app, admin.token(), "key-1", "Replay Co").await;
    assert_eq!(again.status, 201);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.body, first.body);
    assert_eq!(app.count("orgs WHERE name = 'Replay Co'").await, 1);
}

#[tokio::test]
async fn the_same_key_with_another_body_is_refused() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    assert_eq!(
        create_org_with_key(&app, admin.token(), "key-2", "First Co")
            .await
            .status,
        201
    );
    let other = create_org_with_key(&app, admin.token(), "key-2", "Second Co").await;
    other.assert_error(422, "idempotency_key_reused");
    assert_eq!(app.count("orgs WHERE name = 'Second Co'").await, 0);
}

#[tokio::test]
async fn keys_are_scoped_per_user() {
    let app = TestApp::spawn().await;
    let first_admin = app.admin().await;
    let platform = first_admin.org_id;
    let second_admin = app
        .user(
            platform,
            Role::Owner,
            &holdfast::auth::Permission::all_for(OrgKind::Platform),
        )
        .await;
    assert_eq!(
        create_org_with_key(&app, first_admin.token(), "shared", "One Co")
            .await
            .status,
        201
    );
    let second = create_org_with_key(&app, second_admin.token(), "shared", "Two Co").await;
    assert_eq!(second.status, 201, "{}", second.text);
    assert_eq!(second.header("idempotent-replayed"), None);
}

#[tokio::test]
async fn a_refused_request_releases_its_key() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    app.org("Taken Co", OrgKind::Buyer).await;
    let refused = create_org_with_key(&app, admin.token(), "key-3", "Taken Co").await;
    refused.assert_error(409, "org_name_taken");
    assert_eq!(app.count("idempotency_keys").await, 0);
}

#[tokio::test]
async fn concurrent_requests_with_one_key_create_one_org() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let attempts = (0..8).map(|_| create_org_with_key(&app, admin.token(), "race", "Race Co"));
    let replies = futures_util::future::join_all(attempts).await;
    let statuses: Vec<u16> = replies.iter().map(|r| r.status).collect();
    assert!(
        statuses.iter().all(|s| *s == 201 || *s == 409),
        "{statuses:?}"
    );
    let fresh = replies
        .iter()
        .filter(|r| r.status == 201 && r.header("idempotent-replayed").is_none())
        .count();
    assert_eq!(fresh, 1, "exactly one request did the work: {statuses:?}");
    for conflict in replies.iter().filter(|r| r.status == 409) {
        conflict.assert_error(409, "idempotency_key_in_use");
    }
    assert_eq!(app.count("orgs WHERE name = 'Race Co'").await, 1);
}

#[tokio::test]
async fn every_change_writes_one_audit_event_and_one_outbox_event() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let (audit_before, outbox_before) = (
        app.count("audit_events").await,
        app.count("outbox_events").await,
    );
    let org = app
        .post(
            "/v1/orgs",
            admin.token(),
            &json!({"name": "Audited Co", "kind": "lender"}),
        )
        .await;
    assert_eq!(org.status, 201);
    let org_id = org.body["id"].as_str().expect("id");
    let user = app
        .post(
            &format!("/v1/orgs/{org_id}/users"),
            admin.token(),
            &json!({"email": "boss@audited.test", "password": "a-long-enough-password", "role": "owner"}),
        )
        .await;
    assert_eq!(user.status, 201, "{}", user.text);
    assert_eq!(app.count("audit_events").await, audit_before + 2);
    assert_eq!(app.count("outbox_events").await, outbox_before + 2);
    let trail = app.get("/v1/audit?limit=2", admin.token()).await;
    assert_eq!(trail.body["items"][0]["action"], "user.created");
    assert_eq!(trail.body["items"][1]["action"], "org.created");
    assert_eq!(trail.body["items"][1]["after"]["name"], "Audited Co");
    assert!(
        trail.body["items"][0]["after"]
            .get("password_hash")
            .is_none()
    );
}

#[tokio::test]
async fn the_chain_verifies_and_detects_an_edited_event() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    for n in 0..3 {
        let reply = app
            .post(
                "/v1/orgs",
                admin.token(),
                &json!({"name": format!("Chain {n}"), "kind": "buyer"}),
            )
            .await;
        assert_eq!(reply.status, 201);
    }
    let verified = app.get("/v1/audit/verify", admin.token()).await;
    assert_eq!(verified.status, 200, "{}", verified.text);
    assert_eq!(verified.body["ok"], true);
    let sealed = verified.body["events_checked"].as_i64().expect("count");
    assert!(sealed >= 4, "login and three orgs: {sealed}");

    app.sql("UPDATE audit_events SET after = jsonb_set(after, '{name}', '\"Forged\"') WHERE action = 'org.created' AND after->>'name' = 'Chain 1'")
        .await;
    let tampered = app.get("/v1/audit/verify", admin.token()).await;
    assert_eq!(tampered.body["ok"], false);
    let bad = tampered.body["first_bad_seq"].as_i64().expect("seq");
    assert!(bad >= 2 && bad <= sealed, "{}", tampered.text);
}

#[tokio::test]
async fn the_chain_detects_a_deleted_event_in_the_middle_and_at_the_end() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    for n in 0..3 {
        app.post(
            "/v1/orgs",
            admin.token(),
            &json!({"name": format!("Del {n}"), "kind": "buyer"}),
        )
        .await;
    }
    assert_eq!(
        app.get("/v1/audit/verify", admin.token()).await.body["ok"],
        true
    );
    app.sql("DELETE FROM audit_events WHERE seq = 2").await;
    let middle = app.get("/v1/audit/verify", admin.token()).await;
    assert_eq!(middle.body["ok"], false);
    assert_eq!(middle.body["first_bad_seq"], 2);

    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    app.post(
        "/v1/orgs",
        admin.token(),
        &json!({"name": "Last", "kind": "buyer"}),
    )
    .await;
    assert_eq!(
        app.get("/v1/audit/verify", admin.token()).await.body["ok"],
        true
    );
    app.sql("DELETE FROM audit_events WHERE seq = (SELECT max(seq) FROM audit_events)")
        .await;
    let end = app.get("/v1/audit/verify", admin.token()).await;
    assert_eq!(end.body["ok"], false, "{}", end.text);
}

#[tokio::test]
async fn the_event_feed_is_per_org_and_follows_its_cursor() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let lender = app.owner_of(OrgKind::Lender).await;
    let other = app.owner_of(OrgKind::Lender).await;
    for n in 0..3 {
        let reply = app
            .post(
                &format!("/v1/orgs/{}/users", lender.org_id),
                lender.token(),
                &json!({"email": format!("clerk{n}@lender.test"), "password": "a-long-enough-password", "role": "staff", "permissions": ["audit:read"]}),
            )
            .await;
        assert_eq!(reply.status, 201, "{}", reply.text);
    }
    // The sealer numbers events; verify runs it.
    app.get("/v1/audit/verify", admin.token()).await;
    let first = app.get("/v1/events?limit=2", lender.token()).await;
    assert_eq!(first.status, 200);
    assert_eq!(first.body["items"].as_array().expect("items").len(), 2);
    let cursor = first.body["next_cursor"].as_str().expect("more").to_owned();
    let rest = app
        .get(
            &format!("/v1/events?limit=50&cursor={cursor}"),
            lender.token(),
        )
        .await;
    let mut types: Vec<String> = first.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .chain(rest.body["items"].as_array().expect("items"))
        .map(|e| e["event_type"].as_str().expect("type").to_owned())
        .collect();
    types.sort();
    assert_eq!(
        types,
        vec![
            "session.started",
            "user.created",
            "user.created",
            "user.created"
        ]
    );
    assert_eq!(rest.body["next_cursor"], serde_json::Value::Null);
    // Another lender sees none of it.
    let others = app.get("/v1/events", other.token()).await;
    let foreign = others.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|e| e["event_type"] == "user.created")
        .count();
    assert_eq!(foreign, 0);
}

/// `db::pipeline`: `BEGIN` sent with the first statements, `COMMIT` with the last — all or
/// nothing still, and the connection free for the next transaction either way.
#[tokio::test]
async fn a_pipelined_transaction_keeps_all_or_nothing() {
    use diesel::result::{DatabaseErrorKind, Error};
    use diesel::sql_types::{Integer, Text};
    use diesel_async::{AsyncConnection, RunQueryDsl, SimpleAsyncConnection};
    use holdfast::db::pipeline;
    let app = TestApp::spawn().await;
    let mut conn = holdfast::db::connect(&app.database_url)
        .await
        .expect("connection");
    conn.batch_execute("CREATE TEMP TABLE probe (id int PRIMARY KEY)")
        .await
        .expect("table");
    let insert =
        |id: i32| diesel::sql_query("INSERT INTO probe VALUES ($1)").bind::<Integer, _>(id);
    let kept = async |conn: &mut diesel_async::AsyncPgConnection| {
        diesel::select(diesel::dsl::sql::<Text>(
            "(SELECT coalesce(string_agg(id::text, ',' ORDER BY id), '') FROM probe)",
        ))
        .get_result::<String>(conn)
        .await
        .expect("probe")
    };

    // Kept: the first statement, a nested transaction (a savepoint in it), the last.
    pipeline::begin_with(&mut conn, |shared| async move {
        insert(1).execute(&mut { shared }).await
    })
    .await
    .expect("begin");
    conn.transaction(async |c| insert(2).execute(c).await)
        .await
        .expect("nested");
    assert_eq!(
        pipeline::commit_with(&mut conn, insert(3)).await.ok(),
        Some(1)
    );
    assert_eq!(kept(&mut conn).await, "1,2,3");

    // The last statement refused: its own error answered, nothing of the transaction kept.
    pipeline::begin_with(&mut conn, |shared| async move {
        insert(4).execute(&mut { shared }).await
    })
    .await
    .expect("begin");
    let refused = pipeline::commit_with(&mut conn, insert(1)).await;
    assert!(
        matches!(
            refused,
            Err(Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _))
        ),
        "{refused:?}"
    );
    assert_eq!(kept(&mut conn).await, "1,2,3");

    // The first statement refused: rolled back, and the connection opens the next one.
    let failed = pipeline::begin_with(&mut conn, |shared| async move {
        insert(1).execute(&mut { shared }).await
    })
    .await;
    assert!(failed.is_err());
    pipeline::rollback(&mut conn).await.expect("rollback");
    pipeline::begin_with(&mut conn, |shared| async move {
        insert(5).execute(&mut { shared }).await
    })
    .await
    .expect("begin again");
    pipeline::commit(&mut conn).await.expect("commit");
    assert_eq!(kept(&mut conn).await, "1,2,3,5");
}
