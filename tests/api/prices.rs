//! Prices, the daily feed, and valuing lots as collateral.

use crate::fixtures::{Custody, custody, today};
use crate::support::TestApp;
use holdfast::auth::{Permission, Role};
use serde_json::json;
use std::process::Command;

async fn price(
    app: &TestApp,
    c: &Custody,
    value: &str,
    as_of: chrono::NaiveDate,
) -> crate::support::Reply {
    app.post(
        "/v1/prices",
        c.admin.token(),
        &json!({
            "commodity_code": c.commodity, "price_per_unit": value, "currency": "CNY",
            "as_of": format!("{as_of}T00:00:00Z"), "source": "Yantai wholesale market"
        }),
    )
    .await
}

async fn import(app: &TestApp, token: &str, csv: &str) -> crate::support::Reply {
    let response = app
        .client
        .post(app.url("/v1/prices/import"))
        .bearer_auth(token)
        .header("content-type", "text/csv")
        .body(csv.to_owned())
        .send()
        .await
        .expect("send");
    let status = response.status().as_u16();
    let text = response.text().await.expect("text");
    crate::support::Reply {
        status,
        headers: Default::default(),
        body: serde_json::from_str(&text).unwrap_or_default(),
        text,
    }
}

#[tokio::test]
async fn prices_are_posted_kept_as_history_and_validated() {
    let app = TestApp::spawn().await;
    let c = custody(&app).await;
    let first = price(&app, &c, "5.80", today() - chrono::Days::new(1)).await;
    assert_eq!(first.status, 201, "{}", first.text);
    assert_eq!(first.body["price_per_unit"], "5.80");
    assert_eq!(price(&app, &c, "6.00", today()).await.status, 201);
    price(&app, &c, "6.10", today())
        .await
        .assert_error(409, "price_exists");
    let history = app
        .get(
            &format!("/v1/prices?commodity_code={}", c.commodity),
            c.supplier.token(),
        )
        .await;
    let values: Vec<&str> = history.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["price_per_unit"].as_str().unwrap())
        .collect();
    assert_eq!(values, vec!["6.00", "5.80"]);
    let negative = price(&app, &c, "-1", today()).await;
    assert_eq!(negative.field(), "price_per_unit");
    let unknown = app.post("/v1/prices", c.admin.token(), &json!({
        "commodity_code": "NOPE", "price_per_unit": "1", "currency": "CNY", "as_of": "2026-11-01T00:00:00Z", "source": "x"
    })).await;
    assert_eq!(unknown.field(), "commodity_code");
    // A price feed account: platform staff holding only prices:write.
    let feed = app
        .user(c.admin.org_id, Role::Staff, &[Permission::PricesWrite])
        .await;
    let posted = app.post("/v1/prices", feed.token(), &json!({
        "commodity_code": c.commodity, "price_per_unit": "6.05", "currency": "CNY", "as_of": format!("{}T00:00:01Z", today()), "source": "feed"
    })).await;
    assert_eq!(posted.status, 201, "{}", posted.text);
}

#[tokio::test]
async fn a_feed_imports_whole_or_not_at_all_and_skips_rows_seen_before() {
    let app = TestApp::spawn().await;
    let c = custody(&app).await;
    let good = format!(
        "commodity_code,price_per_unit,currency,as_of,source\n{0},6.00,CNY,{1},feed\n{0},6.20,CNY,{1}T00:00:02Z,feed\n",
        c.commodity,
        today()
    );
    let first = import(&app, c.admin.token(), &good).await;
    assert_eq!(first.status, 200, "{}", first.text);
    assert_eq!(first.body["imported"], 2);
    let again = import(&app, c.admin.token(), &good).await;
    assert_eq!(again.body["already_present"], 2);
    let before = app.count("prices").await;
    let bad = format!(
        "commodity_code,price_per_unit,currency,as_of,source\n{0},7,CNY,2026-11-01,feed\n{0},seven,CNY,2026-11-02,feed\n",
        c.commodity
    );
    let refused = import(&app, c.admin.token(), &bad).await;
    refused.assert_error(422, "validation_failed");
    assert_eq!(refused.body["error"]["details"]["line"], 3);
    assert_eq!(refused.field(), "price_per_unit");
    let unknown = import(
        &app,
        c.admin.token(),
        "commodity_code,price_per_unit,currency,as_of,source\nNOPE,1,CNY,2026-11-01,feed\n",
    )
    .await;
    assert_eq!(unknown.body["error"]["details"]["line"], 2);
    assert_eq!(app.count("prices").await, before);
}

#[tokio::test]
async fn the_cli_imports_a_feed_file_and_names_a_bad_line() {
    let app = TestApp::spawn().await;
    let c = custody(&app).await;
    let dir = std::env::temp_dir().join(format!("holdfast-feed-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("good.csv");
    std::fs::write(
        &good,
        format!(
            "commodity_code,price_per_unit,currency,as_of,source\n{},6.00,CNY,{},feed\n",
            c.commodity,
            today()
        ),
    )
    .unwrap();
    let bad = dir.join("bad.csv");
    std::fs::write(
        &bad,
        format!(
            "commodity_code,price_per_unit,currency,as_of,source\n{},6.00,XX,2026-11-01,feed\n",
            c.commodity
        ),
    )
    .unwrap();
    let run = |file: &std::path::Path| {
        Command::new(env!("CARGO_BIN_EXE_holdfast"))
            .args(["prices", "import"])
            .arg(file)
            .env("DATABASE_URL", &app.database_url)
            .output()
            .expect("run")
    };
    let refused = run(&bad);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("line 2"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    let done = run(&good);
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    assert!(String::from_utf8_lossy(&done.stdout).contains("imported 1 prices"));
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_lot_is_valued_with_every_factor_and_told_why_it_is_not_eligible() {
    let app = TestApp::spawn().await;
    let c = custody(&app).await;
    let lot = c.lot_in_custody(&app, "20000").await;
    let path = format!("/v1/lots/{}/valuation", lot["id"].as_str().unwrap());
    let unpriced = app.get(&path, c.supplier.token()).await;
    assert_eq!(unpriced.status, 200, "{}", unpriced.text);
    assert_eq!(unpriced.body["market_value"], serde_json::Value::Null);
    assert_eq!(unpriced.body["ineligible_reasons"], json!(["no_price"]));

    price(&app, &c, "6.00", today()).await;
    let valued = app.get(&path, c.supplier.token()).await;
    assert_eq!(valued.body["quantity"], "20000.000");
    assert_eq!(valued.body["unit_price"], "6.00");
    assert_eq!(valued.body["currency"], "CNY");
    assert_eq!(valued.body["grade_factor"], "1");
    assert_eq!(valued.body["freshness_factor"], "1");
    assert_eq!(valued.body["market_value"], "120000.00");
    assert_eq!(valued.body["eligible"], true);

    // 120 days on: the price is stale and the apples half-way down their freshness slope.
    let later = app
        .get(
            &format!("{path}?as_of={}", today() + chrono::Days::new(120)),
            c.supplier.token(),
        )
        .await;
    assert_eq!(later.body["freshness_factor"], "0.75");
    assert_eq!(later.body["market_value"], "90000.00");
    assert_eq!(later.body["ineligible_reasons"], json!(["stale_price"]));
    let expired = app
        .get(
            &format!("{path}?as_of={}", today() + chrono::Days::new(200)),
            c.supplier.token(),
        )
        .await;
    assert_eq!(expired.body["market_value"], "0.00");
    assert_eq!(
        expired.body["ineligible_reasons"],
        json!(["stale_price", "expired"])
    );

    let announced = c.announce(&app, "100").await;
    let not_here = app
        .get(
            &format!("/v1/lots/{}/valuation", announced["id"].as_str().unwrap()),
            c.supplier.token(),
        )
        .await;
    assert_eq!(
        not_here.body["ineligible_reasons"],
        json!(["not_in_custody"])
    );

    app.get(&path, c.warehouse_staff.token())
        .await
        .assert_error(403, "forbidden");
    let other = app.owner_of(holdfast::auth::OrgKind::Supplier).await;
    app.get(&path, other.token())
        .await
        .assert_error(404, "lot_not_found");
}

#[tokio::test]
async fn goods_received_when_a_price_exists_keep_their_value_at_deposit() {
    let app = TestApp::spawn().await;
    let c = custody(&app).await;
    price(&app, &c, "6.00", today()).await;
    let lot = c.lot_in_custody(&app, "20000").await;
    let seen = app
        .get(
            &format!("/v1/lots/{}", lot["id"].as_str().unwrap()),
            c.supplier.token(),
        )
        .await;
    assert_eq!(seen.body["receipt"]["market_value_at_deposit"], "120000.00");
    assert_eq!(seen.body["receipt"]["deposit_currency"], "CNY");
}

/// A price recorded late for an earlier day takes its place by date: history is newest first
/// by the day a price is for, page after page.
#[tokio::test]
async fn price_history_is_newest_first_by_date_even_when_recorded_late() {
    let app = TestApp::spawn().await;
    let c = custody(&app).await;
    for (value, days_ago) in [("5.70", 3), ("5.90", 1), ("5.80", 2)] {
        let posted = price(&app, &c, value, today() - chrono::Days::new(days_ago)).await;
        assert_eq!(posted.status, 201, "{}", posted.text);
    }
    let mut seen = Vec::new();
    let mut path = format!("/v1/prices?commodity_code={}&limit=1", c.commodity);
    loop {
        let page = app.get(&path, c.supplier.token()).await;
        assert_eq!(page.status, 200, "{}", page.text);
        for item in page.body["items"].as_array().expect("items") {
            seen.push(item["price_per_unit"].as_str().expect("price").to_owned());
        }
        match page.body["next_cursor"].as_str() {
            Some(cursor) => {
                path = format!(
                    "/v1/prices?commodity_code={}&limit=1&cursor={cursor}",
                    c.commodity
                )
            }
            None => break,
        }
    }
    assert_eq!(seen, vec!["5.90", "5.80", "5.70"]);
}
