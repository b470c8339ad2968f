//! Logging in, rotating refresh tokens, logging out, and login throttling.

use crate::support::{PASSWORD, TestApp};
use holdfast::auth::OrgKind;
use serde_json::json;

#[tokio::test]
async fn login_answers_a_bearer_pair_and_me_names_the_user() {
    let app = TestApp::spawn().await;
    let owner = app.owner_of(OrgKind::Lender).await;
    let reply = app
        .request(
            "POST",
            "/v1/auth/login",
            None,
            Some(&json!({"email": owner.email.to_uppercase(), "password": PASSWORD})),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body["token_type"], "Bearer");
    assert_eq!(reply.body["expires_in"], 900);
    assert!(
        reply.body["refresh_token"]
            .as_str()
            .is_some_and(|t| t.len() == 64)
    );
    let me = app
        .get(
            "/v1/me",
            reply.body["access_token"].as_str().expect("token"),
        )
        .await;
    assert_eq!(me.status, 200);
    assert_eq!(me.body["email"], owner.email);
    assert_eq!(me.body["role"], "owner");
    assert_eq!(me.body["org"]["kind"], "lender");
    assert_eq!(
        me.body["permissions"],
        json!(["users:write", "audit:read", "credit:write"])
    );
}

#[tokio::test]
async fn a_wrong_password_or_unknown_email_is_401_and_writes_no_session() {
    let app = TestApp::spawn().await;
    let owner = app.owner_of(OrgKind::Supplier).await;
    let sessions_before = app.count("refresh_tokens").await;
    let wrong = app
        .request(
            "POST",
            "/v1/auth/login",
            None,
            Some(&json!({"email": owner.email, "password": "not-the-password"})),
        )
        .await;
    wrong.assert_error(401, "invalid_credentials");
    let unknown = app
        .request(
            "POST",
            "/v1/auth/login",
            None,
            Some(&json!({"email": "nobody@nowhere.test", "password": PASSWORD})),
        )
        .await;
    unknown.assert_error(401, "invalid_credentials");
    assert_eq!(app.count("refresh_tokens").await, sessions_before);
}

#[tokio::test]
async fn repeated_failures_for_one_email_are_throttled_even_with_the_right_password() {
    let app = TestApp::spawn().await;
    let owner = app.owner_of(OrgKind::Buyer).await;
    for _ in 0..5 {
        let reply = app
            .request(
                "POST",
                "/v1/auth/login",
                None,
                Some(&json!({"email": owner.email, "password": "wrong-password"})),
            )
            .await;
        assert_eq!(reply.status, 401);
    }
    let throttled = app
        .request(
            "POST",
            "/v1/auth/login",
            None,
            Some(&json!({"email": owner.email, "password": PASSWORD})),
        )
        .await;
    throttled.assert_error(429, "rate_limited");
    // Another account from the same address is not locked out by this one's failures.
    let other = app.owner_of(OrgKind::Buyer).await;
    assert!(!other.access_token.is_empty());
}

#[tokio::test]
async fn many_failures_from_one_address_are_throttled_across_emails() {
    let app = TestApp::spawn().await;
    for n in 0..30 {
        let reply = app
            .request(
                "POST",
                "/v1/auth/login",
                None,
                Some(&json!({"email": format!("guess{n}@x.test"), "password": "wrong-password"})),
            )
            .await;
        assert_eq!(reply.status, 401, "attempt {n}");
    }
    let reply = app
        .request(
            "POST",
            "/v1/auth/login",
            None,
            Some(&json!({"email": "guess-next@x.test", "password": "wrong-password"})),
        )
        .await;
    reply.assert_error(429, "rate_limited");
}

#[tokio::test]
async fn refresh_rotates_and_reusing_an_old_token_revokes_the_family() {
    let app = TestApp::spawn().await;
    let owner = app.owner_of(OrgKind::Supplier).await;
    let first = app
        .request(
            "POST",
            "/v1/auth/refresh",
            None,
            Some(&json!({"refresh_token": owner.refresh_token})),
        )
        .await;
    assert_eq!(first.status, 200, "{}", first.text);
    let rotated = first.body["refresh_token"]
        .as_str()
        .expect("new token")
        .to_owned();
    assert_ne!(rotated, owner.refresh_token);
    assert_eq!(
        app.get(
            "/v1/me",
            first.body["access_token"].as_str().expect("token")
        )
        .await
        .status,
        200
    );

    // The old token again: theft is assumed, and the whole family dies.
    let reused = app
        .request(
            "POST",
            "/v1/auth/refresh",
            None,
            Some(&json!({"refresh_token": owner.refresh_token})),
        )
        .await;
    reused.assert_error(401, "refresh_token_reused");
    let after = app
        .request(
            "POST",
            "/v1/auth/refresh",
            None,
            Some(&json!({"refresh_token": rotated})),
        )
        .await;
    after.assert_error(401, "invalid_refresh_token");
}

#[tokio::test]
async fn logout_revokes_the_refresh_token() {
    let app = TestApp::spawn().await;
    let owner = app.owner_of(OrgKind::Lender).await;
    let reply = app
        .request(
            "POST",
            "/v1/auth/logout",
            Some(owner.token()),
            Some(&json!({"refresh_token": owner.refresh_token})),
        )
        .await;
    assert_eq!(reply.status, 204);
    let refresh = app
        .request(
            "POST",
            "/v1/auth/refresh",
            None,
            Some(&json!({"refresh_token": owner.refresh_token})),
        )
        .await;
    refresh.assert_error(401, "invalid_refresh_token");
}

#[tokio::test]
async fn logout_cannot_revoke_another_users_session() {
    let app = TestApp::spawn().await;
    let victim = app.owner_of(OrgKind::Lender).await;
    let attacker = app.owner_of(OrgKind::Lender).await;
    let reply = app
        .request(
            "POST",
            "/v1/auth/logout",
            Some(attacker.token()),
            Some(&json!({"refresh_token": victim.refresh_token})),
        )
        .await;
    assert_eq!(reply.status, 204);
    let refresh = app
        .request(
            "POST",
            "/v1/auth/refresh",
            None,
            Some(&json!({"refresh_token": victim.refresh_token})),
        )
        .await;
    assert_eq!(refresh.status, 200, "{}", refresh.text);
}

#[tokio::test]
async fn login_with_a_missing_field_names_it() {
    let app = TestApp::spawn().await;
    let reply = app
        .request(
            "POST",
            "/v1/auth/login",
            None,
            Some(&json!({"email": "a@b.test"})),
        )
        .await;
    reply.assert_error(422, "validation_failed");
    assert_eq!(reply.field(), "password");
}

#[tokio::test]
async fn an_expired_token_says_so_and_a_forged_one_does_not() {
    use holdfast::auth::jwt::JwtKeys;
    use holdfast::auth::{OrgKind, Principal, Role};
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let me = app.get("/v1/me", admin.token()).await;
    assert_eq!(me.status, 200, "{}", me.text);
    let who = Principal {
        user_id: admin.user_id,
        org_id: admin.org_id,
        kind: OrgKind::Platform,
        role: Role::Owner,
        permissions: Vec::new(),
        request_id: None,
    };
    let secret = crate::support::config().jwt_secret;
    let now = chrono::Utc::now().timestamp();
    let expired = JwtKeys::new(&secret, 900)
        .issue(&who, uuid::Uuid::new_v4(), 0, now - 2_000)
        .expect("token");
    app.get("/v1/me", &expired)
        .await
        .assert_error(401, "token_expired");
    let forged = JwtKeys::new(b"not the secret, not the secret!!", 900)
        .issue(&who, uuid::Uuid::new_v4(), 0, now)
        .expect("token");
    app.get("/v1/me", &forged)
        .await
        .assert_error(401, "unauthenticated");
    let long_lived = JwtKeys::new(&secret, 86_400)
        .issue(&who, uuid::Uuid::new_v4(), 0, now)
        .expect("token");
    app.get("/v1/me", &long_lived)
        .await
        .assert_error(401, "unauthenticated");
}

#[tokio::test]
async fn parallel_wrong_passwords_for_one_email_are_checked_no_more_than_the_limit() {
    let app = TestApp::spawn().await;
    let owner = app.owner_of(OrgKind::Buyer).await;
    let body = json!({"email": owner.email, "password": "wrong-password"});
    let attempts = (0..40).map(|_| app.request("POST", "/v1/auth/login", None, Some(&body)));
    let replies = futures_util::future::join_all(attempts).await;
    let checked = replies.iter().filter(|r| r.status == 401).count();
    let throttled = replies.iter().filter(|r| r.status == 429).count();
    assert_eq!(
        checked,
        5,
        "{:?}",
        replies.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    assert_eq!(throttled, 35);
    assert!(
        replies
            .iter()
            .filter(|r| r.status == 429)
            .all(|r| r.header("retry-after").is_some())
    );
}

#[tokio::test]
async fn an_access_token_ends_with_its_login_and_with_a_reused_refresh_token() {
    let app = TestApp::spawn().await;
    let owner = app.owner_of(OrgKind::Buyer).await;
    let other = app.login(&owner.email, PASSWORD).await;
    assert_eq!(app.get("/v1/me", owner.token()).await.status, 200);
    let logout = app
        .request(
            "POST",
            "/v1/auth/logout",
            Some(owner.token()),
            Some(&json!({"refresh_token": owner.refresh_token})),
        )
        .await;
    assert_eq!(logout.status, 204, "{}", logout.text);
    app.get("/v1/me", owner.token())
        .await
        .assert_error(401, "token_revoked");
    // Another login of the same user goes on.
    assert_eq!(app.get("/v1/me", other.token()).await.status, 200);
    // A refresh token presented twice ends the access tokens of its whole family.
    let refresh = |token: String| {
        let app = &app;
        async move {
            app.request(
                "POST",
                "/v1/auth/refresh",
                None,
                Some(&json!({"refresh_token": token})),
            )
            .await
        }
    };
    let rotated = refresh(other.refresh_token.clone()).await;
    assert_eq!(rotated.status, 200, "{}", rotated.text);
    let new_access = rotated.body["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    assert_eq!(app.get("/v1/me", &new_access).await.status, 200);
    refresh(other.refresh_token.clone())
        .await
        .assert_error(401, "refresh_token_reused");
    app.get("/v1/me", &new_access)
        .await
        .assert_error(401, "token_revoked");
    app.get("/v1/me", other.token())
        .await
        .assert_error(401, "token_revoked");
}
