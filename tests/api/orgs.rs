//! Organisations, their users, permissions and activity.

use crate::support::TestApp;
use holdfast::auth::{OrgKind, Permission, Role};
use serde_json::json;

#[tokio::test]
async fn the_admin_creates_an_org_and_its_owner_who_can_log_in() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let org = app
        .post(
            "/v1/orgs",
            admin.token(),
            &json!({"name": "Guangxi Timber", "kind": "supplier"}),
        )
        .await;
    assert_eq!(org.status, 201, "{}", org.text);
    assert_eq!(org.body["kind"], "supplier");
    let id = org.body["id"].as_str().expect("id");
    let fetched = app.get(&format!("/v1/orgs/{id}"), admin.token()).await;
    assert_eq!(fetched.body["name"], "Guangxi Timber");
    let owner = app
        .post(&format!("/v1/orgs/{id}/users"), admin.token(), &json!({"email": "boss@timber.test", "password": "a-long-enough-password", "role": "owner"}))
        .await;
    assert_eq!(owner.status, 201, "{}", owner.text);
    assert_eq!(
        owner.body["permissions"],
        json!([
            "users:write",
            "audit:read",
            "lots:write",
            "loans:write",
            "sales:write"
        ])
    );
    assert!(owner.body.get("password_hash").is_none());
    let session = app
        .login("boss@timber.test", "a-long-enough-password")
        .await;
    assert_eq!(session.org_id.to_string(), id);
}

#[tokio::test]
async fn a_duplicate_org_name_is_409_naming_the_field() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    assert_eq!(
        app.post(
            "/v1/orgs",
            admin.token(),
            &json!({"name": "Same", "kind": "buyer"})
        )
        .await
        .status,
        201
    );
    let again = app
        .post(
            "/v1/orgs",
            admin.token(),
            &json!({"name": "SAME", "kind": "lender"}),
        )
        .await;
    again.assert_error(409, "org_name_taken");
    assert_eq!(again.field(), "name");
}

#[tokio::test]
async fn an_owner_creates_staff_with_a_subset_of_its_permissions() {
    let app = TestApp::spawn().await;
    let owner = app.owner_of(OrgKind::Supplier).await;
    let staff = app
        .post(
            &format!("/v1/orgs/{}/users", owner.org_id),
            owner.token(),
            &json!({"email": "clerk@supplier.test", "password": "a-long-enough-password", "role": "staff", "permissions": ["audit:read"]}),
        )
        .await;
    assert_eq!(staff.status, 201, "{}", staff.text);
    assert_eq!(staff.body["role"], "staff");
    assert_eq!(staff.body["permissions"], json!(["audit:read"]));
    assert_eq!(staff.body["created_by"], owner.user_id.to_string());
}

#[tokio::test]
async fn an_owner_cannot_create_another_owner() {
    let app = TestApp::spawn().await;
    let owner = app.owner_of(OrgKind::Supplier).await;
    let reply = app
        .post(
            &format!("/v1/orgs/{}/users", owner.org_id),
            owner.token(),
            &json!({"email": "second@supplier.test", "password": "a-long-enough-password", "role": "owner"}),
        )
        .await;
    reply.assert_error(403, "forbidden");
    assert_eq!(reply.field(), "role");
}

#[tokio::test]
async fn staff_cannot_grant_a_permission_it_does_not_hold() {
    let app = TestApp::spawn().await;
    let owner = app.owner_of(OrgKind::Lender).await;
    let manager = app
        .user(owner.org_id, Role::Staff, &[Permission::UsersWrite])
        .await;
    let users_before = app.count("users").await;
    let reply = app
        .post(
            &format!("/v1/orgs/{}/users", owner.org_id),
            manager.token(),
            &json!({"email": "x@lender.test", "password": "a-long-enough-password", "role": "staff", "permissions": ["audit:read"]}),
        )
        .await;
    reply.assert_error(403, "forbidden");
    assert_eq!(reply.field(), "permissions[0]");
    assert_eq!(app.count("users").await, users_before);
}

#[tokio::test]
async fn permissions_must_exist_and_suit_the_org_kind() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let buyer = app.org("Buyer Co", OrgKind::Buyer).await;
    let unknown = app
        .post(&format!("/v1/orgs/{buyer}/users"), admin.token(),
            &json!({"email": "a@buyer.test", "password": "a-long-enough-password", "role": "staff", "permissions": ["audit:read", "fly"]}))
        .await;
    unknown.assert_error(422, "validation_failed");
    assert_eq!(unknown.field(), "permissions[1]");
    let wrong_kind = app
        .post(&format!("/v1/orgs/{buyer}/users"), admin.token(),
            &json!({"email": "a@buyer.test", "password": "a-long-enough-password", "role": "staff", "permissions": ["orgs:write"]}))
        .await;
    wrong_kind.assert_error(422, "validation_failed");
    assert_eq!(wrong_kind.field(), "permissions[0]");
}

#[tokio::test]
async fn bad_emails_short_passwords_and_taken_emails_are_refused() {
    let app = TestApp::spawn().await;
    let owner = app.owner_of(OrgKind::Buyer).await;
    let path = format!("/v1/orgs/{}/users", owner.org_id);
    let email = app.post(&path, owner.token(), &json!({"email": "not-an-email", "password": "a-long-enough-password", "role": "staff"})).await;
    email.assert_error(422, "validation_failed");
    assert_eq!(email.field(), "email");
    let short = app
        .post(
            &path,
            owner.token(),
            &json!({"email": "a@b.test", "password": "short", "role": "staff"}),
        )
        .await;
    short.assert_error(422, "validation_failed");
    assert_eq!(short.field(), "password");
    let taken = app.post(&path, owner.token(), &json!({"email": owner.email.to_uppercase(), "password": "a-long-enough-password", "role": "staff"})).await;
    taken.assert_error(409, "email_taken");
}

#[tokio::test]
async fn an_owner_reads_what_its_staff_did_and_nothing_of_other_orgs() {
    let app = TestApp::spawn().await;
    let owner = app.owner_of(OrgKind::Supplier).await;
    let manager = app
        .user(owner.org_id, Role::Staff, &[Permission::UsersWrite])
        .await;
    let created = app
        .post(&format!("/v1/orgs/{}/users", owner.org_id), manager.token(),
            &json!({"email": "new@supplier.test", "password": "a-long-enough-password", "role": "staff"}))
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let stranger = app.owner_of(OrgKind::Lender).await;
    let activity = app
        .get(
            &format!("/v1/orgs/{}/activity", owner.org_id),
            owner.token(),
        )
        .await;
    assert_eq!(activity.status, 200, "{}", activity.text);
    let items = activity.body["items"].as_array().expect("items");
    let by_manager: Vec<&str> = items
        .iter()
        .filter(|e| e["actor_user_id"] == manager.user_id.to_string())
        .map(|e| e["action"].as_str().expect("action"))
        .collect();
    assert_eq!(by_manager, vec!["user.created", "session.started"]);
    assert!(
        items
            .iter()
            .all(|e| e["actor_org_id"] == owner.org_id.to_string())
    );
    assert!(
        !items
            .iter()
            .any(|e| e["actor_user_id"] == stranger.user_id.to_string())
    );
}

#[tokio::test]
async fn activity_pages_with_a_cursor() {
    let app = TestApp::spawn().await;
    let owner = app.owner_of(OrgKind::Supplier).await;
    for n in 0..3 {
        app.post(&format!("/v1/orgs/{}/users", owner.org_id), owner.token(),
            &json!({"email": format!("p{n}@supplier.test"), "password": "a-long-enough-password", "role": "staff"}))
            .await;
    }
    let first = app
        .get(
            &format!("/v1/orgs/{}/activity?limit=2", owner.org_id),
            owner.token(),
        )
        .await;
    assert_eq!(first.body["items"].as_array().expect("items").len(), 2);
    let cursor = first.body["next_cursor"].as_str().expect("cursor");
    let second = app
        .get(
            &format!("/v1/orgs/{}/activity?limit=2&cursor={cursor}", owner.org_id),
            owner.token(),
        )
        .await;
    assert_eq!(second.body["items"].as_array().expect("items").len(), 2);
    assert_eq!(second.body["next_cursor"], serde_json::Value::Null);
    let first_ids: Vec<i64> = first.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|e| e["id"].as_i64().expect("id"))
        .collect();
    let second_ids: Vec<i64> = second.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|e| e["id"].as_i64().expect("id"))
        .collect();
    assert!(first_ids.iter().min() > second_ids.iter().max());
}

#[tokio::test]
async fn weak_or_published_passwords_are_refused_naming_the_field() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let org = app.org("Weak Words Trading", OrgKind::Buyer).await;
    for weak in [
        "password1234",
        "aaaaaaaaaaaa",
        "            ",
        "holdfast-demo-2026",
        "clerk@weak.test",
    ] {
        let reply = app
            .post(
                &format!("/v1/orgs/{org}/users"),
                admin.token(),
                &json!({"email": "clerk@weak.test", "password": weak, "role": "owner"}),
            )
            .await;
        reply.assert_error(422, "validation_failed");
        assert_eq!(reply.field(), "password", "{weak:?}");
    }
    assert_eq!(app.count("users").await, 1);
}

#[tokio::test]
async fn an_owner_lists_manages_and_disables_its_staff_whose_tokens_stop_at_once() {
    let app = TestApp::spawn().await;
    let owner = app.owner_of(OrgKind::Supplier).await;
    let clerk = app
        .user(owner.org_id, Role::Staff, &[Permission::AuditRead])
        .await;
    let listed = app
        .get(&format!("/v1/orgs/{}/users", owner.org_id), owner.token())
        .await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    let emails: Vec<&str> = listed.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|u| u["email"].as_str())
        .collect();
    assert!(emails.contains(&clerk.email.as_str()), "{emails:?}");
    // A permission the owner does not hold cannot be granted; one it holds can.
    let path = format!("/v1/users/{}", clerk.user_id);
    let patch = |body: serde_json::Value| {
        let (app, path, token) = (&app, path.clone(), owner.token().to_owned());
        async move { app.request("PATCH", &path, Some(&token), Some(&body)).await }
    };
    let too_much = patch(json!({"permissions": ["orgs:write"]})).await;
    too_much.assert_error(422, "validation_failed");
    let changed = patch(json!({"permissions": ["lots:write"]})).await;
    assert_eq!(changed.status, 200, "{}", changed.text);
    assert_eq!(changed.body["permissions"], json!(["lots:write"]));
    // The clerk's old token carried the old permissions: it ends at once.
    app.get("/v1/me", clerk.token())
        .await
        .assert_error(401, "token_revoked");
    let again = app.login(&clerk.email, crate::support::PASSWORD).await;
    assert_eq!(app.get("/v1/me", again.token()).await.status, 200);
    // Disabled: the token stops, and so do logging in and refreshing.
    let disabled = patch(json!({"disabled": true})).await;
    assert_eq!(disabled.body["disabled"], true, "{}", disabled.text);
    app.get("/v1/me", again.token())
        .await
        .assert_error(401, "token_revoked");
    app.request(
        "POST",
        "/v1/auth/login",
        None,
        Some(&json!({"email": clerk.email, "password": crate::support::PASSWORD})),
    )
    .await
    .assert_error(403, "user_disabled");
    app.request(
        "POST",
        "/v1/auth/refresh",
        None,
        Some(&json!({"refresh_token": again.refresh_token})),
    )
    .await
    .assert_error(401, "invalid_refresh_token");
    // Nobody changes themselves; another org's owner does not see the user.
    app.request(
        "PATCH",
        &format!("/v1/users/{}", owner.user_id),
        Some(owner.token()),
        Some(&json!({"disabled": true})),
    )
    .await
    .assert_error(409, "own_user");
    let stranger = app.owner_of(OrgKind::Supplier).await;
    app.request(
        "PATCH",
        &path,
        Some(stranger.token()),
        Some(&json!({"disabled": false})),
    )
    .await
    .assert_error(404, "user_not_found");
}

#[tokio::test]
async fn changing_ones_password_ends_every_token_and_needs_the_current_one() {
    let app = TestApp::spawn().await;
    let owner = app.owner_of(OrgKind::Buyer).await;
    let other_device = app.login(&owner.email, crate::support::PASSWORD).await;
    let change = |current: &str, new: &str| {
        let body = json!({"current_password": current, "new_password": new});
        let (app, token) = (&app, owner.token().to_owned());
        async move {
            app.request("POST", "/v1/me/password", Some(&token), Some(&body))
                .await
        }
    };
    let wrong = change("not-it", "Yantai-apples-in-cold-store-7").await;
    wrong.assert_error(422, "validation_failed");
    assert_eq!(wrong.field(), "current_password");
    let weak = change(crate::support::PASSWORD, "password1234").await;
    assert_eq!(weak.field(), "new_password");
    let done = change(crate::support::PASSWORD, "Yantai-apples-in-cold-store-7").await;
    assert_eq!(done.status, 204, "{}", done.text);
    for token in [owner.token(), other_device.token()] {
        app.get("/v1/me", token)
            .await
            .assert_error(401, "token_revoked");
    }
    let relogin = app
        .login(&owner.email, "Yantai-apples-in-cold-store-7")
        .await;
    assert_eq!(app.get("/v1/me", relogin.token()).await.status, 200);
}

#[tokio::test]
async fn the_directory_finds_orgs_by_kind_and_part_of_the_name() {
    let app = TestApp::spawn().await;
    let beijing_buyer = app.org("Beijing Fresh Buyers", OrgKind::Buyer).await;
    app.org("Beijing Fruit Growers", OrgKind::Supplier).await;
    let literal = app.org("Shanghai 50%_Off Traders", OrgKind::Buyer).await;
    app.org("Shanghai 500 Off Traders", OrgKind::Buyer).await;
    let supplier = app.owner_of(OrgKind::Supplier).await;
    // A supplier looks for its buyer in Beijing.
    let found = app
        .get("/v1/orgs?kind=buyer&q=BEIJING", supplier.token())
        .await;
    assert_eq!(found.status, 200, "{}", found.text);
    let items = found.body["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{}", found.text);
    assert_eq!(items[0]["id"], beijing_buyer.to_string());
    assert_eq!(items[0]["kind"], "buyer");
    assert_eq!(items[0]["tier"], "bronze");
    assert!(
        items[0].get("created_at").is_none(),
        "only what a directory needs"
    );
    // `%` and `_` match themselves, not anything.
    let percent = app.get("/v1/orgs?q=50%25_", supplier.token()).await;
    let ids: Vec<&str> = percent.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|o| o["id"].as_str())
        .collect();
    assert_eq!(ids, vec![literal.to_string().as_str()], "{}", percent.text);
    // By name, a page at a time.
    let first = app
        .get("/v1/orgs?q=shanghai&limit=1", supplier.token())
        .await;
    assert_eq!(first.body["items"][0]["name"], "Shanghai 50%_Off Traders");
    let cursor = first.body["next_cursor"].as_str().expect("more");
    let second = app
        .get(
            &format!("/v1/orgs?q=shanghai&limit=1&cursor={cursor}"),
            supplier.token(),
        )
        .await;
    assert_eq!(second.body["items"][0]["name"], "Shanghai 500 Off Traders");
    assert_eq!(second.body["next_cursor"], serde_json::Value::Null);
    // Bad filters name themselves.
    for (query, field) in [
        ("kind=bank", "kind"),
        ("q=%20%20", "q"),
        ("limit=0", "limit"),
    ] {
        let refused = app
            .get(&format!("/v1/orgs?{query}"), supplier.token())
            .await;
        assert_eq!(refused.status, 422, "{query}: {}", refused.text);
        assert_eq!(refused.body["error"]["details"]["field"], field, "{query}");
    }
}
