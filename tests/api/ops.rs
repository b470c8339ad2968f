//! Health, readiness, metrics, the OpenAPI document and the offline docs page.

use crate::support::TestApp;
use std::collections::BTreeSet;

#[tokio::test]
async fn health_and_readiness_answer_when_the_database_is_up() {
    let app = TestApp::spawn().await;
    let health = app.request("GET", "/healthz", None, None).await;
    assert_eq!(health.status, 200);
    assert_eq!(health.body["status"], "ok");
    let ready = app.request("GET", "/readyz", None, None).await;
    assert_eq!(ready.status, 200);
    assert!(
        ready
            .header("x-request-id")
            .is_some_and(|id| !id.is_empty())
    );
}

#[tokio::test]
async fn readiness_is_503_when_the_database_is_down_and_the_api_too() {
    let app = TestApp::spawn_without_database().await;
    let ready = app.request("GET", "/readyz", None, None).await;
    ready.assert_error(503, "database_unavailable");
    let login = app
        .request(
            "POST",
            "/v1/auth/login",
            None,
            Some(&serde_json::json!({"email": "a@b.test", "password": "whatever-password"})),
        )
        .await;
    login.assert_error(503, "database_unavailable");
    assert_eq!(app.request("GET", "/healthz", None, None).await.status, 200);
}

#[tokio::test]
async fn a_request_id_sent_by_the_client_is_echoed() {
    let app = TestApp::spawn().await;
    let reply = app
        .request_with(
            "GET",
            "/healthz",
            None,
            None,
            &[("x-request-id", "abc-123")],
        )
        .await;
    assert_eq!(reply.header("x-request-id"), Some("abc-123"));
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_status_and_show_the_pool() {
    let app = TestApp::spawn().await;
    app.request("GET", "/healthz", None, None).await;
    app.request("GET", "/v1/me", None, None).await;
    let metrics = app.request("GET", "/metrics", None, None).await;
    assert_eq!(metrics.status, 200);
    let text = metrics.text;
    assert!(
        text.contains(
            r#"holdfast_http_requests_total{method="GET",route="/healthz",status="200"} 1"#
        ),
        "{text}"
    );
    assert!(
        text.contains(
            r#"holdfast_http_requests_total{method="GET",route="/v1/me",status="401"} 1"#
        ),
        "{text}"
    );
    assert!(
        text.contains("holdfast_http_request_duration_seconds_bucket"),
        "{text}"
    );
    for state in ["in_use", "idle", "waiting"] {
        assert!(
            text.contains(&format!(
                r#"holdfast_db_pool_connections{{state="{state}"}}"#
            )),
            "{state}"
        );
    }
}

#[tokio::test]
async fn the_openapi_document_lists_exactly_the_route_table() {
    let app = TestApp::spawn().await;
    let doc = app.request("GET", "/openapi.json", None, None).await;
    assert_eq!(doc.status, 200);
    let mut documented = BTreeSet::new();
    for (path, item) in doc.body["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("item").keys() {
            documented.insert(format!("{} {path}", method.to_uppercase()));
        }
    }
    let declared: BTreeSet<String> = holdfast::app::routes()
        .iter()
        .filter(|r| !r.path.contains("{_:"))
        .filter(|r| r.surface == holdfast::http::route_table::Surface::Api)
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(documented, declared);
    // Every operation documents its error envelope, and schemas exist for bodies.
    assert!(doc.body["components"]["schemas"]["ErrorBody"].is_object());
    assert!(doc.body["components"]["schemas"]["NewOrg"].is_object());
    // Money, quantities and the states are described once, as components, and every
    // reference resolves.
    let schemas = &doc.body["components"]["schemas"];
    assert_eq!(schemas["Money"]["type"], "string", "{}", schemas["Money"]);
    assert_eq!(
        schemas["Loan"]["properties"]["principal"]["$ref"],
        "#/components/schemas/Money"
    );
    assert_eq!(
        schemas["Quantity"]["type"], "string",
        "{}",
        schemas["Quantity"]
    );
    for (schema, field) in [("Lot", "quantity_on_hand"), ("Movement", "quantity_change")] {
        assert_eq!(
            schemas[schema]["properties"][field]["$ref"], "#/components/schemas/Quantity",
            "{schema}.{field}"
        );
    }
    // A request's quantity is its own type: above zero, with the pattern the server reads.
    assert_eq!(
        schemas["NewLot"]["properties"]["quantity"]["$ref"],
        "#/components/schemas/QuantityInput"
    );
    let pattern = schemas["QuantityInput"]["pattern"]
        .as_str()
        .expect("pattern");
    assert_eq!(
        pattern,
        holdfast::domain::inputs::QuantityInput::SHAPE.pattern()
    );
    // Every operation says what the edge may answer: a secured one 401 and 403, every one
    // that reads the database 503 with Retry-After; query parameters are never null.
    for (path, item) in doc.body["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("operations") {
            let responses = &op["responses"];
            if op.get("security").is_some() {
                for status in ["401", "403", "503"] {
                    assert!(
                        responses.get(status).is_some(),
                        "{method} {path}: no {status}"
                    );
                }
            }
            for param in op["parameters"].as_array().into_iter().flatten() {
                let name = param["name"].as_str().unwrap_or_default();
                if param["in"] == "path" {
                    assert!(
                        path.contains(&format!("{{{name}}}")),
                        "{method} {path}: {name}"
                    );
                }
                if param["in"] == "query" {
                    let nullable = param["schema"]["type"]
                        .as_array()
                        .is_some_and(|types| types.contains(&serde_json::json!("null")));
                    assert!(!nullable, "{method} {path}: {name}");
                }
            }
        }
    }
    let unavailable = &doc.body["components"]["responses"]["Unavailable"];
    assert!(
        unavailable["headers"].get("Retry-After").is_some(),
        "{unavailable}"
    );
    let lots = &doc.body["paths"]["/v1/lots"]["get"]["parameters"];
    let limit = lots
        .as_array()
        .expect("parameters")
        .iter()
        .find(|p| p["name"] == "limit")
        .expect("limit");
    assert_eq!(limit["in"], "query");
    assert_eq!(limit["schema"]["type"], "integer", "{limit}");
    assert_eq!(limit["schema"]["maximum"], 500, "{limit}");
    // Short lists answer {"items": [...]}, and say so.
    for path in ["/v1/commodities", "/v1/warehouses", "/v1/orgs/{id}/users"] {
        let schema = &doc.body["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]
            ["schema"];
        let name = schema["$ref"]
            .as_str()
            .and_then(|r| r.strip_prefix("#/components/schemas/"))
            .unwrap_or_else(|| panic!("{path}: {schema}"));
        assert_eq!(
            schemas[name]["properties"]["items"]["type"], "array",
            "{path}: {}",
            schemas[name]
        );
    }
    let statuses = schemas["LoanStatus"]["enum"]
        .as_array()
        .expect("LoanStatus");
    assert!(statuses.iter().any(|s| s == "liquidating"), "{statuses:?}");
    let mut refs = Vec::new();
    collect_refs(&doc.body, &mut refs);
    assert!(!refs.is_empty());
    let components = &doc.body["components"];
    for reference in refs {
        let mut target = components;
        for step in reference.trim_start_matches("#/components/").split('/') {
            target = &target[step];
        }
        assert!(target.is_object(), "{reference} does not resolve");
    }
}

fn collect_refs(value: &serde_json::Value, into: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, v) in map {
                match (key.as_str(), v.as_str()) {
                    ("$ref", Some(target)) => into.push(target.to_owned()),
                    _ => collect_refs(v, into),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| collect_refs(v, into)),
        _ => {}
    }
}

#[tokio::test]
async fn the_docs_page_is_served_from_the_binary() {
    let app = TestApp::spawn().await;
    let page = app.request("GET", "/docs/", None, None).await;
    assert_eq!(page.status, 200);
    assert!(
        page.text.to_lowercase().contains("swagger"),
        "{}",
        page.text
    );
    assert!(
        !page.text.contains("://cdn"),
        "the page must not load from a CDN"
    );
    let script = app
        .request("GET", "/docs/swagger-ui-bundle.js", None, None)
        .await;
    assert_eq!(script.status, 200);
    assert!(script.text.len() > 100_000);
}

#[tokio::test]
async fn invented_methods_do_not_grow_the_metrics() {
    let app = TestApp::spawn().await;
    for n in 0..50 {
        app.request(&format!("INVENTED{n}"), "/v1/me", None, None)
            .await;
    }
    let metrics = app.request("GET", "/metrics", None, None).await;
    assert!(!metrics.text.contains("INVENTED"), "{}", metrics.text);
    assert!(
        metrics.text.contains(r#"method="OTHER""#),
        "{}",
        metrics.text
    );
}
