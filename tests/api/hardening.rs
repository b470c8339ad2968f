//! No 500 and no panic for what a client can send, and faults that pass answered with
//! `Retry-After` (issue 12).

use crate::fixtures::{custody, lending};
use crate::support::TestApp;
use holdfast::auth::OrgKind;
use serde_json::json;

const HUGE: &str = "79228162514264337593543950335";

#[tokio::test]
async fn numbers_too_large_for_the_arithmetic_or_the_columns_are_422_naming_the_field() {
    let app = TestApp::spawn().await;
    let world = lending(&app).await;
    let c = &world.custody;
    let lot = c.lot_in_custody(&app, "1000").await;
    let lot_id = lot["id"].as_str().expect("lot id");
    // A price that would overflow the multiplication, on a quote and on a sale.
    let quote = app
        .get(
            &format!("/v1/fee-quote?lot_id={lot_id}&quantity=1000&unit_price={HUGE}"),
            c.supplier.token(),
        )
        .await;
    quote.assert_error(422, "validation_failed");
    assert_eq!(quote.field(), "unit_price");
    let buyer = app.owner_of(OrgKind::Buyer).await;
    for price in [HUGE, "999999999999999999.99", "100000000.01"] {
        let sale = app
            .post_keyed(
                "/v1/sales",
                c.supplier.token(),
                &json!({"buyer_org_id": buyer.org_id, "currency": "CNY",
                        "lines": [{"lot_id": lot_id, "quantity": "1000", "unit_price": price}]}),
            )
            .await;
        sale.assert_error(422, "validation_failed");
        assert_eq!(
            sale.field(),
            "lines[0].unit_price",
            "{price}: {}",
            sale.text
        );
    }
    // A facility limit and a price beyond what their columns hold.
    let facility = app
        .post(
            "/v1/facilities",
            world.lender.token(),
            &json!({"supplier_org_id": c.supplier.org_id, "currency": "CNY",
                    "limit": "100000000000000000000", "annual_interest_rate": "0.08",
                    "max_tenor_days": 90, "eligible_commodities": [c.commodity]}),
        )
        .await;
    facility.assert_error(422, "validation_failed");
    assert_eq!(facility.field(), "limit");
    let price = app
        .post(
            "/v1/prices",
            c.admin.token(),
            &json!({"commodity_code": c.commodity, "price_per_unit": "999999999999999999.99",
                    "currency": "CNY", "as_of": crate::fixtures::start_of_today(),
                    "source": "fat finger"}),
        )
        .await;
    price.assert_error(422, "validation_failed");
    assert_eq!(price.field(), "price_per_unit");
    assert_eq!(app.count("sales").await, 0);
}

#[tokio::test]
async fn a_nul_character_in_a_body_or_a_query_is_422_naming_where() {
    let app = TestApp::spawn().await;
    let c = custody(&app).await;
    let login = app
        .request(
            "POST",
            "/v1/auth/login",
            None,
            Some(&json!({"email": "a\u{0}@b.test", "password": "whatever12345"})),
        )
        .await;
    login.assert_error(422, "validation_failed");
    assert_eq!(login.field(), "email");
    let org = app
        .post(
            "/v1/orgs",
            c.admin.token(),
            &json!({"name": "Nul\u{0} Trading", "kind": "buyer"}),
        )
        .await;
    org.assert_error(422, "validation_failed");
    assert_eq!(org.field(), "name");
    let lot = app
        .post(
            "/v1/lots",
            c.supplier.token(),
            &json!({"commodity_code": c.commodity, "grade": "A", "quantity": "10",
                    "packed_on": crate::fixtures::today(), "warehouse_id": c.warehouse_id,
                    "insurer": "PICC\u{0}"}),
        )
        .await;
    lot.assert_error(422, "validation_failed");
    assert_eq!(lot.field(), "insurer");
    let filtered = app
        .get("/v1/lots?status=in_custody%00", c.supplier.token())
        .await;
    filtered.assert_error(422, "validation_failed");
    assert_eq!(filtered.field(), "status");
    assert_eq!(app.count("lots").await, 0);
}

#[tokio::test]
async fn releasing_collateral_a_sale_already_reserves_is_a_named_conflict() {
    let app = TestApp::spawn().await;
    let world = lending(&app).await;
    let (lot, loan) = world.active_loan(&app, "10000", "1000").await;
    let lot_id = lot["id"].as_str().expect("lot id");
    let buyer = app.owner_of(OrgKind::Buyer).await;
    let sale = app
        .post_keyed(
            "/v1/sales",
            world.custody.supplier.token(),
            &json!({"buyer_org_id": buyer.org_id, "currency": "CNY",
                    "lines": [{"lot_id": lot_id, "quantity": "9000", "unit_price": "6.00"}]}),
        )
        .await;
    assert_eq!(sale.status, 201, "{}", sale.text);
    let refused = world
        .post_as(
            &app,
            &world.lender,
            &format!("/v1/loans/{loan}/collateral/release"),
            json!({"lot_id": lot_id, "quantity": "2000"}),
        )
        .await;
    refused.assert_error(409, "quantity_reserved");
    assert_eq!(
        refused.body["error"]["details"]["quantity_unreserved"],
        "1000.000"
    );
    assert!(!refused.text.contains("constraint"), "{}", refused.text);
}

#[tokio::test]
async fn a_scan_waiting_on_a_locked_lot_gives_up_with_409_locked_and_retry_after() {
    use diesel_async::{AsyncConnection, RunQueryDsl};
    let app = TestApp::spawn().await;
    let c = custody(&app).await;
    let lot = c.lot_in_custody(&app, "100").await;
    let lot_id: uuid::Uuid = lot["id"].as_str().expect("id").parse().expect("uuid");
    let mut conn = app.pool.get().await.expect("connection");
    let started = std::time::Instant::now();
    let counted = conn
        .transaction::<_, diesel::result::Error, _>(async |conn| {
            diesel::sql_query("SELECT 1 FROM lots WHERE id = $1 FOR UPDATE")
                .bind::<diesel::sql_types::Uuid, _>(lot_id)
                .execute(conn)
                .await?;
            Ok(c.scan(
                &app,
                json!({"code": lot["code"], "action": "count", "quantity": "99",
                           "reason": "recount"}),
            )
            .await)
        })
        .await
        .expect("lock held");
    counted.assert_error(409, "locked");
    assert_eq!(counted.header("retry-after"), Some("1"));
    assert!(started.elapsed() < std::time::Duration::from_secs(15));
}

#[tokio::test]
async fn sales_their_cancellation_and_consent_need_a_key_and_replay_a_retry() {
    let app = TestApp::spawn().await;
    let world = lending(&app).await;
    let c = &world.custody;
    let lot = c.lot_in_custody(&app, "100").await;
    let buyer = app.owner_of(OrgKind::Buyer).await;
    let body = json!({"buyer_org_id": buyer.org_id, "currency": "CNY",
                      "lines": [{"lot_id": lot["id"], "quantity": "40", "unit_price": "6.00"}]});
    app.post("/v1/sales", c.supplier.token(), &body)
        .await
        .assert_error(400, "idempotency_key_required");
    assert_eq!(app.count("sales").await, 0);
    let key = [("Idempotency-Key", "sale-1")];
    let first = app
        .request_with(
            "POST",
            "/v1/sales",
            Some(c.supplier.token()),
            Some(&body),
            &key,
        )
        .await;
    assert_eq!(first.status, 201, "{}", first.text);
    let again = app
        .request_with(
            "POST",
            "/v1/sales",
            Some(c.supplier.token()),
            Some(&body),
            &key,
        )
        .await;
    assert_eq!(again.status, 201, "{}", again.text);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.body["id"], first.body["id"]);
    assert_eq!(app.count("sales").await, 1);
    let lot_now = app
        .get(
            &format!("/v1/lots/{}", lot["id"].as_str().unwrap_or("")),
            c.supplier.token(),
        )
        .await;
    assert_eq!(lot_now.body["quantity_reserved"], "40.000");
    // Cancelling twice with one key answers the first cancellation again.
    let cancel = format!(
        "/v1/sales/{}/cancel",
        first.body["id"].as_str().unwrap_or("")
    );
    app.post(&cancel, c.supplier.token(), &json!({}))
        .await
        .assert_error(400, "idempotency_key_required");
    let key = [("Idempotency-Key", "cancel-1")];
    let cancelled = app
        .request_with("POST", &cancel, Some(c.supplier.token()), None, &key)
        .await;
    assert_eq!(cancelled.status, 200, "{}", cancelled.text);
    let replayed = app
        .request_with("POST", &cancel, Some(c.supplier.token()), None, &key)
        .await;
    assert_eq!(replayed.status, 200, "{}", replayed.text);
    assert_eq!(replayed.header("idempotent-replayed"), Some("true"));
    // A consent without a key is refused before anything else is looked at.
    let consent = format!(
        "/v1/sales/{}/consent",
        first.body["id"].as_str().unwrap_or("")
    );
    app.post(&consent, world.lender.token(), &json!({}))
        .await
        .assert_error(400, "idempotency_key_required");
}

#[tokio::test]
async fn a_buyer_sees_what_it_bought_and_paid_not_the_sellers_financing() {
    let app = TestApp::spawn().await;
    let world = lending(&app).await;
    let c = &world.custody;
    let (lot, loan) = world.active_loan(&app, "10000", "20000").await;
    let buyer = app.owner_of(OrgKind::Buyer).await;
    let sale = app
        .post_keyed(
            "/v1/sales",
            c.supplier.token(),
            &json!({"buyer_org_id": buyer.org_id, "currency": "CNY",
                    "lines": [{"lot_id": lot["id"], "quantity": "10000", "unit_price": "6.00"}]}),
        )
        .await;
    assert_eq!(sale.status, 201, "{}", sale.text);
    let id = sale.body["id"].as_str().expect("sale").to_owned();
    let paid = world
        .post_as(
            &app,
            &buyer,
            &format!("/v1/sales/{id}/payments"),
            json!({"amount": "60000.00"}),
        )
        .await;
    assert_eq!(paid.status, 201, "{}", paid.text);
    let financing = [
        "principal_repaid",
        "to_supplier",
        "interest_repaid",
        "fee_detail",
        "loans",
    ];
    for seen in [
        paid.body["sale"].clone(),
        app.get(&format!("/v1/sales/{id}"), buyer.token())
            .await
            .body,
        app.get("/v1/sales", buyer.token()).await.body["items"][0].clone(),
    ] {
        let settlement = &seen["settlement"];
        assert_eq!(settlement["gross"], "60000.00", "{seen}");
        for field in financing {
            assert!(
                settlement.get(field).is_none(),
                "the buyer sees {field}: {seen}"
            );
        }
    }
    // The seller sees the split.
    let own = app
        .get(&format!("/v1/sales/{id}"), c.supplier.token())
        .await;
    assert_eq!(own.body["settlement"]["loans"][0]["loan_id"], loan.as_str());
    assert!(
        own.body["settlement"]["to_supplier"].is_string(),
        "{}",
        own.text
    );
    // Nor does the buyer's audit trail tell it.
    let trail = app.get("/v1/audit?limit=500", buyer.token()).await;
    assert_eq!(trail.status, 200, "{}", trail.text);
    assert!(trail.text.contains(&id), "{}", trail.text);
    for secret in ["principal_repaid", "to_supplier", loan.as_str()] {
        assert!(!trail.text.contains(secret), "{secret} in {}", trail.text);
    }
}

#[tokio::test]
async fn while_the_database_is_gone_requests_get_503_and_after_it_returns_they_succeed() {
    let app = TestApp::spawn().await;
    let c = custody(&app).await;
    let lot = c.lot_in_custody(&app, "100").await;
    let lot_path = format!("/v1/lots/{}", lot["id"].as_str().unwrap_or(""));
    assert_eq!(app.get(&lot_path, c.supplier.token()).await.status, 200);
    app.cut_database().await;
    // Reads and writes while it is gone: 503 with Retry-After, never a 500.
    for n in 0..6 {
        let read = app.get(&lot_path, c.supplier.token()).await;
        let write = c
            .scan(
                &app,
                json!({"code": lot["code"], "action": "count", "quantity": "99",
                       "reason": format!("recount {n}")}),
            )
            .await;
        for reply in [&read, &write] {
            assert_eq!(reply.status, 503, "{}", reply.text);
            assert_eq!(reply.body["error"]["code"], "database_unavailable");
            assert!(reply.header("retry-after").is_some());
        }
    }
    app.restore_database().await;
    let back = std::time::Instant::now();
    loop {
        let read = app.get(&lot_path, c.supplier.token()).await;
        if read.status == 200 {
            break;
        }
        assert_eq!(read.status, 503, "{}", read.text);
        assert!(
            back.elapsed() < std::time::Duration::from_secs(5),
            "not back after 5 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // Nothing was half-written while it was gone.
    let lot_now = app.get(&lot_path, c.supplier.token()).await;
    assert_eq!(lot_now.body["quantity_on_hand"], "100.000");
}

#[tokio::test]
async fn a_loan_request_racing_the_settlement_of_the_same_lot_never_answers_500() {
    let app = TestApp::spawn().await;
    let world = lending(&app).await;
    let c = &world.custody;
    let buyer = app.owner_of(OrgKind::Buyer).await;
    let mut granted = 0;
    for round in 0..8 {
        let lot = c.lot_in_custody(&app, "1000").await;
        let lot_id = lot["id"].as_str().expect("lot").to_owned();
        let sale = app
            .post_keyed(
                "/v1/sales",
                c.supplier.token(),
                &json!({"buyer_org_id": buyer.org_id, "currency": "CNY",
                        "lines": [{"lot_id": lot_id, "quantity": "500", "unit_price": "6.00"}]}),
            )
            .await;
        assert_eq!(sale.status, 201, "round {round}: {}", sale.text);
        let sale_id = sale.body["id"].as_str().expect("sale").to_owned();
        let pay_path = format!("/v1/sales/{sale_id}/payments");
        let pay = world.post_as(&app, &buyer, &pay_path, json!({"amount": "3000.00"}));
        let borrow = world.request(&app, &lot_id, "400", "1000");
        let (paid, borrowed) = tokio::join!(pay, borrow);
        assert_eq!(paid.status, 201, "round {round}: {}", paid.text);
        assert!(
            borrowed.status == 201 || borrowed.status == 409,
            "round {round}: {} {}",
            borrowed.status,
            borrowed.text
        );
        granted += usize::from(borrowed.status == 201);
    }
    // The 400 kg left unreserved are there to pledge: the race refuses none of them.
    assert_eq!(granted, 8);
    crate::fixtures::assert_books_balance(&app, &c.admin).await;
    let reconciled = app.get("/v1/custody/reconciliation", c.admin.token()).await;
    assert_eq!(reconciled.body["consistent"], true, "{}", reconciled.text);
}

#[tokio::test]
async fn a_price_posted_while_payments_settle_loans_never_answers_500() {
    let app = TestApp::spawn().await;
    let world = lending(&app).await;
    let c = &world.custody;
    let buyer = app.owner_of(OrgKind::Buyer).await;
    for round in 0..6 {
        let (lot, _loan) = world.active_loan(&app, "1000", "2000").await;
        let sale = app
            .post_keyed(
                "/v1/sales",
                c.supplier.token(),
                &json!({"buyer_org_id": buyer.org_id, "currency": "CNY",
                        "lines": [{"lot_id": lot["id"], "quantity": "1000", "unit_price": "6.00"}]}),
            )
            .await;
        assert_eq!(sale.status, 201, "round {round}: {}", sale.text);
        let pay_path = format!(
            "/v1/sales/{}/payments",
            sale.body["id"].as_str().unwrap_or("")
        );
        let pay = world.post_as(&app, &buyer, &pay_path, json!({"amount": "6000.00"}));
        let price_body = json!({"commodity_code": c.commodity,
            "price_per_unit": format!("6.{round}0"), "currency": "CNY",
            "as_of": chrono::Utc::now() - chrono::Duration::seconds(1),
            "source": format!("race {round}")});
        let price = app.post("/v1/prices", c.admin.token(), &price_body);
        let (paid, priced) = tokio::join!(pay, price);
        assert_eq!(paid.status, 201, "round {round}: {}", paid.text);
        assert_eq!(paid.body["sale"]["status"], "settled", "round {round}");
        assert_eq!(priced.status, 201, "round {round}: {}", priced.text);
    }
    crate::fixtures::assert_books_balance(&app, &c.admin).await;
}
