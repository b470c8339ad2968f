//! The error envelope everywhere, including actix's own refusals, and nothing written on any.

use crate::support::TestApp;
use serde_json::json;

#[tokio::test]
async fn malformed_json_is_400_and_writes_nothing() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let orgs_before = app.count("orgs").await;
    let response = app
        .client
        .post(app.url("/v1/orgs"))
        .bearer_auth(admin.token())
        .header("content-type", "application/json")
        .body("{\"name\": \"Half")
        .send()
        .await
        .expect("send");
    assert_eq!(response.status().as_u16(), 400);
    let body: serde_json::Value = response.json().await.expect("json");
    assert_eq!(body["error"]["code"], "malformed_json");
    assert_eq!(app.count("orgs").await, orgs_before);
}

#[tokio::test]
async fn unknown_and_mistyped_fields_are_422_naming_the_field() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let orgs_before = app.count("orgs").await;
    let unknown = app
        .post(
            "/v1/orgs",
            admin.token(),
            &json!({"name": "A", "kind": "buyer", "colour": "red"}),
        )
        .await;
    unknown.assert_error(422, "validation_failed");
    assert_eq!(unknown.field(), "colour");
    let bad_kind = app
        .post(
            "/v1/orgs",
            admin.token(),
            &json!({"name": "A", "kind": "bank"}),
        )
        .await;
    bad_kind.assert_error(422, "validation_failed");
    assert_eq!(bad_kind.field(), "kind");
    let blank = app
        .post(
            "/v1/orgs",
            admin.token(),
            &json!({"name": "  ", "kind": "buyer"}),
        )
        .await;
    blank.assert_error(422, "validation_failed");
    assert_eq!(blank.field(), "name");
    assert_eq!(app.count("orgs").await, orgs_before);
}

#[tokio::test]
async fn a_body_over_the_limit_is_413() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let huge = json!({"name": "x".repeat(300 * 1024), "kind": "buyer"});
    let reply = app.post("/v1/orgs", admin.token(), &huge).await;
    reply.assert_error(413, "payload_too_large");
}

#[tokio::test]
async fn another_content_type_is_415() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let response = app
        .client
        .post(app.url("/v1/orgs"))
        .bearer_auth(admin.token())
        .header("content-type", "text/plain")
        .body("name=x")
        .send()
        .await
        .expect("send");
    assert_eq!(response.status().as_u16(), 415);
    let body: serde_json::Value = response.json().await.expect("json");
    assert_eq!(body["error"]["code"], "unsupported_media_type");
}

#[tokio::test]
async fn a_wrong_method_is_405_and_an_unknown_route_404_both_in_the_envelope() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let wrong = app
        .request("DELETE", "/v1/me", Some(admin.token()), None)
        .await;
    wrong.assert_error(405, "method_not_allowed");
    assert_eq!(wrong.header("allow"), Some("GET"));
    let missing = app
        .request("GET", "/v1/nothing-here", Some(admin.token()), None)
        .await;
    missing.assert_error(404, "route_not_found");
}

#[tokio::test]
async fn a_bad_query_parameter_is_422_naming_it() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let too_big = app.get("/v1/audit?limit=501", admin.token()).await;
    too_big.assert_error(422, "validation_failed");
    assert_eq!(too_big.field(), "limit");
    let not_number = app.get("/v1/audit?limit=ten", admin.token()).await;
    not_number.assert_error(422, "validation_failed");
    assert_eq!(not_number.field(), "limit");
    let lot_filter = app
        .get("/v1/lots?warehouse_id=not-a-uuid", admin.token())
        .await;
    lot_filter.assert_error(422, "validation_failed");
    assert_eq!(lot_filter.field(), "warehouse_id");
    let bad_cursor = app.get("/v1/events?cursor=abc", admin.token()).await;
    bad_cursor.assert_error(422, "validation_failed");
    assert_eq!(bad_cursor.field(), "cursor");
    let unknown = app.get("/v1/audit?colour=red", admin.token()).await;
    unknown.assert_error(422, "validation_failed");
    assert_eq!(unknown.field(), "colour");
}

#[tokio::test]
async fn a_malformed_id_in_the_path_is_404() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let reply = app.get("/v1/orgs/not-a-uuid", admin.token()).await;
    reply.assert_error(404, "not_found");
}

#[tokio::test]
async fn a_missing_file_under_docs_is_a_404_in_the_envelope() {
    let app = TestApp::spawn().await;
    let reply = app
        .request("GET", "/docs/no-such-file.js", None, None)
        .await;
    reply.assert_error(404, "not_found");
    let page = app.request("GET", "/docs/", None, None).await;
    assert_eq!(page.status, 200);
}
