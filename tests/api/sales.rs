//! Sales, fees, settlement, release, tiers and statements, through the API.

use crate::fixtures::{self, Lending, assert_books_balance, close_days, lending, scan_as, today};
use crate::support::{Reply, Session, TestApp};
use holdfast::auth::OrgKind;
use serde_json::{Value, json};
use uuid::Uuid;

struct Market {
    l: Lending,
    buyer: Session,
}

async fn market(app: &TestApp) -> Market {
    Market {
        l: lending(app).await,
        buyer: app.owner_of(OrgKind::Buyer).await,
    }
}

fn key() -> [(&'static str, String); 1] {
    [("Idempotency-Key", Uuid::new_v4().to_string())]
}

impl Market {
    async fn sell(&self, app: &TestApp, lines: Value) -> Reply {
        app.post_keyed(
            "/v1/sales",
            self.l.custody.supplier.token(),
            &json!({"buyer_org_id": self.buyer.org_id, "currency": "CNY", "lines": lines}),
        )
        .await
    }

    async fn pay(&self, app: &TestApp, sale: &str, amount: &str) -> Reply {
        let [(name, key)] = key();
        app.request_with(
            "POST",
            &format!("/v1/sales/{sale}/payments"),
            Some(self.buyer.token()),
            Some(&json!({"amount": amount})),
            &[(name, &key)],
        )
        .await
    }

    async fn sale(&self, app: &TestApp, sale: &str) -> Value {
        let reply = app
            .get(
                &format!("/v1/sales/{sale}"),
                self.l.custody.supplier.token(),
            )
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        reply.body
    }
}

fn id(value: &Value) -> String {
    value["id"].as_str().expect("id").to_owned()
}

/// The supplier's ledger balances, by account, as `GET /v1/ledger/accounts` answers them.
async fn balances(app: &TestApp, who: &Session) -> Value {
    let reply = app
        .get("/v1/ledger/accounts?currency=CNY", who.token())
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let mut out = serde_json::Map::new();
    for account in reply.body["items"].as_array().expect("items") {
        out.insert(
            account["kind"].as_str().expect("kind").to_owned(),
            account["balance"].clone(),
        );
    }
    Value::Object(out)
}

#[tokio::test]
async fn the_yantai_story_to_the_cent() {
    let app = TestApp::spawn().await;
    let m = market(&app).await;
    let c = &m.l.custody;
    // 20 t of grade-A Fuji apples announced, received, worth 6.00 CNY/kg; 50 % borrowed.
    let (lot, loan) = m.l.active_loan(&app, "20000", "60000.00").await;
    let lot_id = id(&lot);
    assert_eq!(m.l.loan(&app, &loan).await["collateral_value"], "120000.00");
    // Forty days later the supplier sells all 20 t at 6.50 CNY/kg.
    close_days(&app, 40).await;
    let quote = app
        .get(
            &format!("/v1/fee-quote?lot_id={lot_id}&quantity=20000&currency=CNY"),
            c.supplier.token(),
        )
        .await;
    assert_eq!(quote.status, 200, "{}", quote.text);
    assert_eq!(quote.body["fee"], "2400.00", "30 days × 0.004 × 20,000 kg");
    assert_eq!(quote.body["lines"][0]["days"], 30);
    assert_eq!(quote.body["tier"], "bronze");
    // No quote for more than the lot holds; the refusal says how much it does.
    let too_much = app
        .get(
            &format!("/v1/fee-quote?lot_id={lot_id}&quantity=20001&currency=CNY"),
            c.supplier.token(),
        )
        .await;
    too_much.assert_error(409, "quantity_not_on_hand");
    assert_eq!(
        too_much.body["error"]["details"]["quantity_on_hand"],
        "20000.000"
    );
    let sold = m
        .sell(
            &app,
            json!([{"lot_id": lot_id, "quantity": "20000", "unit_price": "6.50"}]),
        )
        .await;
    assert_eq!(sold.status, 201, "{}", sold.text);
    let sale = id(&sold.body);
    assert_eq!(sold.body["total"], "130000.00");
    assert_eq!(sold.body["status"], "pending");
    let lot_now = app
        .get(&format!("/v1/lots/{lot_id}"), c.supplier.token())
        .await;
    assert_eq!(lot_now.body["quantity_reserved"], "20000.000");
    // The buyer pays in two parts; the second settles.
    let first = m.pay(&app, &sale, "50000.00").await;
    assert_eq!(first.status, 201, "{}", first.text);
    assert_eq!(first.body["sale"]["status"], "pending");
    assert_eq!(first.body["sale"]["paid"], "50000.00");
    let second = m.pay(&app, &sale, "80000.00").await;
    assert_eq!(second.status, 201, "{}", second.text);
    assert_eq!(second.body["sale"]["status"], "settled", "{}", second.text);
    // The buyer is not told how the proceeds were split; the seller is.
    assert!(second.body["sale"]["settlement"].get("fee").is_none());
    let seller_view = m.sale(&app, &sale).await;
    let settled = &seller_view;
    let s = &settled["settlement"];
    // Interest: 60,000 × 0.08 / 365 = 13.15068493 a day, × 40 = 526.03.
    assert_eq!(s["gross"], "130000.00");
    assert_eq!(s["fee"], "2400.00");
    assert_eq!(s["interest_repaid"], "526.03");
    assert_eq!(s["principal_repaid"], "60000.00");
    assert_eq!(s["to_supplier"], "67073.97");
    assert_eq!(s["loans"][0]["loan_id"], loan.as_str());
    let after = m.l.loan(&app, &loan).await;
    assert_eq!(after["status"], "repaid");
    assert_eq!(after["outstanding_principal"], "0.00");
    assert_eq!(after["collateral"], json!([]));
    // Warehouse staff scan the lot out against the sale's release order.
    let order = &settled["release_orders"][0];
    assert_eq!(order["quantity"], "20000.000");
    let out = c
        .scan(
            &app,
            json!({"code": lot["code"], "action": "release", "release_order_id": order["id"]}),
        )
        .await;
    assert_eq!(out.status, 200, "{}", out.text);
    assert_eq!(out.body["lot"]["status"], "released");
    assert_eq!(out.body["lot"]["quantity_on_hand"], "0.000");
    assert_eq!(
        m.sale(&app, &sale).await["release_orders"][0]["status"],
        "completed"
    );
    assert_books_balance(&app, &c.admin).await;
    // The supplier's statement agrees with its ledger accounts.
    let to = today() + chrono::Days::new(40);
    let statement = app
        .get(
            &format!("/v1/statements?from={}&to={to}", today()),
            c.supplier.token(),
        )
        .await;
    assert_eq!(statement.status, 200, "{}", statement.text);
    let cny = &statement.body["currencies"][0];
    assert_eq!(cny["currency"], "CNY");
    assert_eq!(cny["summary"]["advances"], "60000.00");
    assert_eq!(cny["summary"]["interest"], "526.03");
    assert_eq!(cny["summary"]["fees"], "2400.00");
    assert_eq!(cny["summary"]["principal_repaid"], "60000.00");
    assert_eq!(cny["summary"]["sale_proceeds"], "130000.00");
    assert_eq!(cny["summary"]["payouts"], "67073.97");
    assert_eq!(cny["opening_balances"]["cash"], "0.00");
    assert_eq!(cny["closing_balances"]["cash"], "127073.97");
    let ledger = balances(&app, &c.supplier).await;
    for (account, balance) in cny["closing_balances"].as_object().expect("balances") {
        assert_eq!(&ledger[account], balance, "{account}");
    }
    assert_eq!(statement.body["deposits"][0]["lot_id"], lot_id.as_str());
    // Another org's statement is not found; the platform may read it.
    let stranger = app.owner_of(OrgKind::Supplier).await;
    let path = format!("/v1/statements?org_id={}", c.supplier.org_id);
    app.get(&path, stranger.token())
        .await
        .assert_error(404, "org_not_found");
    assert_eq!(app.get(&path, c.admin.token()).await.status, 200);
    let backwards = app
        .get(
            &format!("/v1/statements?from={to}&to={}", today()),
            c.supplier.token(),
        )
        .await;
    assert_eq!(backwards.field(), "from");
    let csv = app
        .get(
            &format!("/v1/statements.csv?from={}&to={to}", today()),
            c.supplier.token(),
        )
        .await;
    assert_eq!(csv.status, 200);
    assert!(csv.text.contains("summary,"), "{}", csv.text);
    assert!(csv.text.contains(",payouts,67073.97,"), "{}", csv.text);
    assert!(csv.text.contains("closing_balance,"), "{}", csv.text);
}

#[tokio::test]
async fn the_boards_are_sold_at_sea_and_leave_when_the_voyage_arrives() {
    let app = TestApp::spawn().await;
    let m = market(&app).await;
    let c = &m.l.custody;
    let carrier = app.owner_of(OrgKind::WarehouseOperator).await;
    let voyage = fixtures::voyage(&app, &c.admin, carrier.org_id, Some(&c.warehouse_id)).await;
    let announced = app
        .post(
            "/v1/lots",
            c.supplier.token(),
            &json!({"commodity_code": c.commodity, "grade": "A", "quantity": "1000",
                    "packed_on": today(), "voyage_id": voyage}),
        )
        .await;
    assert_eq!(announced.status, 201, "{}", announced.text);
    let lot_id = id(&announced.body);
    let code = announced.body["code"].clone();
    let aboard = scan_as(
        &app,
        &carrier,
        json!({"code": code, "action": "load", "voyage_id": voyage}),
    )
    .await;
    assert_eq!(aboard.status, 200, "{}", aboard.text);
    // A loan against the goods at sea: 3,000 on 6,000 of value.
    m.l.disbursed_loan(&app, &lot_id, "1000", "3000.00").await;
    close_days(&app, 10).await;
    // Sold while at sea; the fee is 30 days of the destination store's rate.
    let sold = m
        .sell(
            &app,
            json!([{"lot_id": lot_id, "quantity": "1000", "unit_price": "6.20"}]),
        )
        .await;
    assert_eq!(sold.status, 201, "{}", sold.text);
    let sale = id(&sold.body);
    let paid = m.pay(&app, &sale, "6200.00").await;
    assert_eq!(paid.status, 201, "{}", paid.text);
    let seller_view = m.sale(&app, &sale).await;
    let s = &seller_view["settlement"];
    assert_eq!(s["fee"], "120.00", "30 × 0.004 × 1,000");
    // 3,000 × 0.08 / 365 = 0.65753425 a day, × 10 = 6.58.
    assert_eq!(s["interest_repaid"], "6.58");
    assert_eq!(s["principal_repaid"], "3000.00");
    assert_eq!(s["to_supplier"], "3073.42");
    let order = paid.body["sale"]["release_orders"][0]["id"].clone();
    // Nothing leaves a ship at sea; on arrival it is unloaded, then released.
    let early = c
        .scan(
            &app,
            json!({"code": code, "action": "release", "release_order_id": order}),
        )
        .await;
    early.assert_error(409, "lot_status");
    for step in ["depart", "arrive"] {
        let r = app
            .post(
                &format!("/v1/voyages/{voyage}/{step}"),
                carrier.token(),
                &json!({}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    let landed = c
        .scan(&app, json!({"code": code, "action": "unload"}))
        .await;
    assert_eq!(landed.status, 200, "{}", landed.text);
    let out = c
        .scan(
            &app,
            json!({"code": code, "action": "release", "release_order_id": order}),
        )
        .await;
    assert_eq!(out.status, 200, "{}", out.text);
    assert_eq!(out.body["lot"]["status"], "released");
    assert_books_balance(&app, &c.admin).await;
}

#[tokio::test]
async fn sales_reserve_goods_and_refuse_what_they_cannot_have() {
    let app = TestApp::spawn().await;
    let m = market(&app).await;
    let c = &m.l.custody;
    let lot = c.lot_in_custody(&app, "1000").await;
    let lot_id = id(&lot);
    let line = |q: &str, p: &str| json!([{"lot_id": lot_id, "quantity": q, "unit_price": p}]);
    // Bad input names the field.
    m.sell(&app, line("10", "0"))
        .await
        .assert_error(422, "validation_failed");
    assert_eq!(
        m.sell(&app, line("10", "0")).await.field(),
        "lines[0].unit_price"
    );
    assert_eq!(
        m.sell(&app, line("0", "6")).await.field(),
        "lines[0].quantity"
    );
    let twice = m
        .sell(
            &app,
            json!([{"lot_id": lot_id, "quantity": "1", "unit_price": "6"},
                           {"lot_id": lot_id, "quantity": "1", "unit_price": "6"}]),
        )
        .await;
    assert_eq!(twice.field(), "lines[1].lot_id");
    let nobody = app
        .post_keyed(
            "/v1/sales",
            c.supplier.token(),
            &json!({"buyer_org_id": Uuid::new_v4(), "currency": "CNY", "lines": line("1", "6")}),
        )
        .await;
    assert_eq!(nobody.field(), "buyer_org_id");
    let other = app.owner_of(OrgKind::Supplier).await;
    let foreign = app
        .post_keyed(
            "/v1/sales",
            other.token(),
            &json!({"buyer_org_id": m.buyer.org_id, "currency": "CNY", "lines": line("1", "6")}),
        )
        .await;
    assert_eq!(foreign.field(), "lines[0].lot_id");
    // A fee larger than the sale is refused.
    let tiny = m.sell(&app, line("1", "0.05")).await;
    tiny.assert_error(422, "validation_failed");
    assert_eq!(tiny.field(), "lines");
    // Reserving: 800 of 1,000, then 300 more is too much.
    let first = m.sell(&app, line("800", "6.10")).await;
    assert_eq!(first.status, 201, "{}", first.text);
    let sale = id(&first.body);
    let more = m.sell(&app, line("300", "6.10")).await;
    more.assert_error(409, "quantity_not_free");
    assert_eq!(
        more.body["error"]["details"]["quantity_available"],
        "200.000"
    );
    // Only the parties see the sale; warehouse staff may not sell.
    app.get(&format!("/v1/sales/{sale}"), other.token())
        .await
        .assert_error(404, "sale_not_found");
    assert_eq!(
        app.get(&format!("/v1/sales/{sale}"), m.buyer.token())
            .await
            .status,
        200
    );
    let staff = app
        .post_keyed(
            "/v1/sales",
            c.warehouse_staff.token(),
            &json!({"buyer_org_id": m.buyer.org_id, "currency": "CNY", "lines": line("1", "6")}),
        )
        .await;
    staff.assert_error(403, "forbidden");
    // Only the buyer pays; more than is due is refused.
    let [(name, k)] = key();
    let by_supplier = app
        .request_with(
            "POST",
            &format!("/v1/sales/{sale}/payments"),
            Some(c.supplier.token()),
            Some(&json!({"amount": "10.00"})),
            &[(name, &k)],
        )
        .await;
    by_supplier.assert_error(403, "forbidden");
    let too_much = m.pay(&app, &sale, "4880.01").await;
    assert_eq!(too_much.field(), "amount");
    // Cancelling frees the quantity; a paid sale cannot be cancelled.
    let cancelled = app
        .post_keyed(
            &format!("/v1/sales/{sale}/cancel"),
            c.supplier.token(),
            &json!({}),
        )
        .await;
    assert_eq!(cancelled.status, 200, "{}", cancelled.text);
    assert_eq!(cancelled.body["status"], "cancelled");
    let again = m.sell(&app, line("1000", "6.10")).await;
    assert_eq!(again.status, 201, "{}", again.text);
    let again = id(&again.body);
    assert_eq!(m.pay(&app, &again, "100.00").await.status, 201);
    app.post_keyed(
        &format!("/v1/sales/{again}/cancel"),
        c.supplier.token(),
        &json!({}),
    )
    .await
    .assert_error(409, "sale_paid");
    app.post_keyed(
        &format!("/v1/sales/{sale}/cancel"),
        c.supplier.token(),
        &json!({}),
    )
    .await
    .assert_error(409, "sale_status");
    assert_books_balance(&app, &c.admin).await;
}

#[tokio::test]
async fn two_sales_for_the_same_last_quantity_reserve_it_once() {
    let app = TestApp::spawn().await;
    let m = market(&app).await;
    let lot = m.l.custody.lot_in_custody(&app, "500").await;
    let lines = json!([{"lot_id": id(&lot), "quantity": "500", "unit_price": "6.00"}]);
    let (a, b) = tokio::join!(m.sell(&app, lines.clone()), m.sell(&app, lines.clone()));
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert_eq!(statuses, [201, 409], "{} / {}", a.text, b.text);
    let lot = app
        .get(
            &format!("/v1/lots/{}", id(&lot)),
            m.l.custody.supplier.token(),
        )
        .await;
    assert_eq!(lot.body["quantity_reserved"], "500.000");
}

#[tokio::test]
async fn two_payments_completing_the_same_sale_settle_it_once() {
    let app = TestApp::spawn().await;
    let m = market(&app).await;
    let (lot, loan) = m.l.active_loan(&app, "1000", "3000.00").await;
    let sold = m
        .sell(
            &app,
            json!([{"lot_id": id(&lot), "quantity": "1000", "unit_price": "6.00"}]),
        )
        .await;
    assert_eq!(sold.status, 201, "{}", sold.text);
    let sale = id(&sold.body);
    let (a, b) = tokio::join!(m.pay(&app, &sale, "6000.00"), m.pay(&app, &sale, "6000.00"));
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert_eq!(statuses, [201, 409], "{} / {}", a.text, b.text);
    let body = m.sale(&app, &sale).await;
    assert_eq!(body["status"], "settled");
    assert_eq!(body["payments"].as_array().map(Vec::len), Some(1));
    assert_eq!(app.count("settlements").await, 1);
    assert_eq!(m.l.loan(&app, &loan).await["status"], "repaid");
    assert_books_balance(&app, &m.l.custody.admin).await;
}

#[tokio::test]
async fn a_sale_that_would_not_repay_the_loan_waits_for_the_lenders_consent() {
    let app = TestApp::spawn().await;
    let m = market(&app).await;
    let c = &m.l.custody;
    let (lot, loan) = m.l.active_loan(&app, "20000", "60000.00").await;
    // Half the goods at a distress price: 20,000 gross, 1,200 fee, 18,800 for the loan, which
    // needs 30,000 to stay within its advance rate on the 10 t left pledged (60,000 × 0.5).
    let sold = m
        .sell(
            &app,
            json!([{"lot_id": id(&lot), "quantity": "10000", "unit_price": "2.00"}]),
        )
        .await;
    assert_eq!(sold.status, 201, "{}", sold.text);
    let sale = id(&sold.body);
    let needed = &sold.body["lender_consents"][0];
    assert_eq!(needed["loan_id"], loan.as_str());
    assert_eq!(needed["required"], "30000.00");
    assert_eq!(needed["would_pay"], "18800.00");
    assert_eq!(needed["consented"], false);
    // The lender sees the sale; another lender does not and cannot consent.
    let stranger = app.owner_of(OrgKind::Lender).await;
    app.post_keyed(
        &format!("/v1/sales/{sale}/consent"),
        stranger.token(),
        &json!({}),
    )
    .await
    .assert_error(404, "sale_not_found");
    // Paid in full, the sale waits.
    let paid = m.pay(&app, &sale, "20000.00").await;
    assert_eq!(paid.status, 201, "{}", paid.text);
    assert_eq!(paid.body["sale"]["status"], "pending");
    assert_eq!(paid.body["sale"]["settlement"], Value::Null);
    m.pay(&app, &sale, "1.00")
        .await
        .assert_error(409, "sale_paid");
    assert_eq!(
        m.l.loan(&app, &loan).await["outstanding_principal"],
        "60000.00"
    );
    // The consent settles it: the loan gets 18,800, the supplier nothing. A retry with the
    // same key answers the same, and settles nothing twice.
    let consent_key = [("Idempotency-Key", "consent-1")];
    let consent_path = format!("/v1/sales/{sale}/consent");
    let consented = app
        .request_with(
            "POST",
            &consent_path,
            Some(m.l.lender.token()),
            None,
            &consent_key,
        )
        .await;
    assert_eq!(consented.status, 200, "{}", consented.text);
    let retried = app
        .request_with(
            "POST",
            &consent_path,
            Some(m.l.lender.token()),
            None,
            &consent_key,
        )
        .await;
    assert_eq!(retried.status, 200, "{}", retried.text);
    assert_eq!(retried.header("idempotent-replayed"), Some("true"));
    assert_eq!(retried.body["settlement"], consented.body["settlement"]);
    assert_eq!(consented.body["status"], "settled");
    // The answer, built from the rows the settlement wrote, is what a read of the sale shows.
    let read = app
        .get(&format!("/v1/sales/{sale}"), m.l.lender.token())
        .await;
    assert_eq!(consented.body, read.body);
    let s = &consented.body["settlement"];
    assert_eq!(s["fee"], "1200.00");
    assert_eq!(s["principal_repaid"], "18800.00");
    assert_eq!(s["to_supplier"], "0.00");
    let after = m.l.loan(&app, &loan).await;
    assert_eq!(after["outstanding_principal"], "41200.00");
    assert_eq!(after["collateral"][0]["quantity"], "10000.000");
    // 41,200 on the 60,000 left is an LTV of 0.686667: above the margin-call LTV, so the
    // consent leaves the loan under a margin call that says what cures it.
    assert_eq!(after["status"], "active");
    assert_eq!(after["ltv"], "0.686667");
    assert_eq!(after["margin_call"]["status"], "open");
    assert_eq!(after["cure"]["repayment"], "11199.97");
    app.post_keyed(
        &format!("/v1/sales/{sale}/consent"),
        m.l.lender.token(),
        &json!({}),
    )
    .await
    .assert_error(409, "sale_status");
    assert_books_balance(&app, &c.admin).await;
}

#[tokio::test]
async fn a_lender_sells_the_goods_of_a_defaulted_loan_and_is_repaid_from_the_sale() {
    let app = TestApp::spawn().await;
    let m = market(&app).await;
    let c = &m.l.custody;
    let (lot, loan) = m.l.active_loan(&app, "10000", "30000.00").await;
    // Prices collapse: LTV above the liquidation LTV defaults the loan at once.
    fixtures::post_price(
        &app,
        &c.admin,
        &c.commodity,
        "3.50",
        &chrono::Utc::now().to_rfc3339(),
    )
    .await;
    assert_eq!(m.l.loan(&app, &loan).await["status"], "defaulted");
    let liquidate = app
        .post(
            &format!("/v1/loans/{loan}/liquidate"),
            m.l.lender.token(),
            &json!({}),
        )
        .await;
    assert_eq!(liquidate.status, 201, "{}", liquidate.text);
    // The lender's book counts it as liquidating, not active.
    let book = app.get("/v1/exposure", m.l.lender.token()).await;
    assert_eq!(book.status, 200, "{}", book.text);
    assert_eq!(book.body["active_loans"], 0, "{}", book.text);
    assert_eq!(book.body["live_loans"], 1);
    assert_eq!(book.body["by_status"][2]["status"], "liquidating");
    assert_eq!(book.body["by_status"][2]["loans"], 1);
    assert_eq!(book.body["by_status"][0]["loans"], 0);
    assert!(
        book.body["breaching_loans"][0].get("ltv_sort").is_none(),
        "{}",
        book.text
    );
    let lines = json!([{"lot_id": id(&lot), "quantity": "10000", "unit_price": "3.40"}]);
    // The supplier's sales staff cannot name a loan; the lender must.
    let by_supplier = app
        .post_keyed("/v1/sales", c.supplier.token(),
              &json!({"buyer_org_id": m.buyer.org_id, "currency": "CNY", "lines": lines, "loan_id": loan}))
        .await;
    assert_eq!(by_supplier.field(), "loan_id");
    let sold = app
        .post_keyed("/v1/sales", m.l.lender.token(),
              &json!({"buyer_org_id": m.buyer.org_id, "currency": "CNY", "lines": lines, "loan_id": loan}))
        .await;
    assert_eq!(sold.status, 201, "{}", sold.text);
    assert_eq!(sold.body["kind"], "liquidation");
    assert_eq!(sold.body["supplier_org_id"], c.supplier.org_id.to_string());
    let sale = id(&sold.body);
    let paid = m.pay(&app, &sale, "34000.00").await;
    assert_eq!(paid.status, 201, "{}", paid.text);
    let seller_view = m.sale(&app, &sale).await;
    let s = &seller_view["settlement"];
    assert_eq!(s["fee"], "1200.00");
    assert_eq!(s["principal_repaid"], "30000.00");
    assert_eq!(s["to_supplier"], "2800.00");
    assert_eq!(
        paid.body["sale"]["release_orders"][0]["quantity"],
        "10000.000"
    );
    assert_eq!(m.l.loan(&app, &loan).await["status"], "closed");
    assert_books_balance(&app, &c.admin).await;
}

#[tokio::test]
async fn fee_schedules_are_set_by_the_platform_and_quoted_with_their_workings() {
    let app = TestApp::spawn().await;
    let m = market(&app).await;
    let c = &m.l.custody;
    let lot = c.lot_in_custody(&app, "1000").await;
    let lot_id = id(&lot);
    let quote = |q: &'static str| {
        let path =
            format!("/v1/fee-quote?lot_id={lot_id}&quantity={q}&unit_price=6.00&currency=CNY");
        let token = c.supplier.token().to_owned();
        let app = &app;
        async move { app.get(&path, &token).await }
    };
    assert_eq!(quote("1000").await.body["fee"], "120.00");
    // A percent-of-value schedule with a minimum, for this commodity only.
    let bad = app
        .post(
            "/v1/fee-schedules",
            c.admin.token(),
            &json!({"commodity_code": c.commodity, "method": "percent_of_value", "percent": "1.5"}),
        )
        .await;
    assert_eq!(bad.field(), "percent");
    let no_currency = app
        .post(
            "/v1/fee-schedules",
            c.admin.token(),
            &json!({"method": "percent_of_value", "percent": "0.01", "minimum_fee": "50"}),
        )
        .await;
    assert_eq!(no_currency.field(), "currency");
    let unknown = app
        .post(
            "/v1/fee-schedules",
            c.admin.token(),
            &json!({"method": "flat"}),
        )
        .await;
    assert_eq!(unknown.field(), "method");
    app.post(
        "/v1/fee-schedules",
        c.supplier.token(),
        &json!({"method": "percent_of_value", "percent": "0.01"}),
    )
    .await
    .assert_error(403, "forbidden");
    let set = app
        .post(
            "/v1/fee-schedules",
            c.admin.token(),
            &json!({"commodity_code": c.commodity, "currency": "CNY", "method": "percent_of_value",
                      "percent": "0.015", "minimum_fee": "50.00"}),
        )
        .await;
    assert_eq!(set.status, 201, "{}", set.text);
    let q = quote("1000").await;
    assert_eq!(q.body["fee"], "90.00", "1.5 % of 6,000");
    assert_eq!(q.body["lines"][0]["method"], "percent_of_value");
    assert_eq!(q.body["lines"][0]["schedule_id"], set.body["id"]);
    let small = quote("100").await;
    assert_eq!(small.body["fee"], "50.00", "the minimum: 1.5 % of 600 is 9");
    assert_eq!(small.body["lines"][0]["minimum_applied"], true);
    // A new schedule for the same scope supersedes the old one.
    let replaced = app
        .post("/v1/fee-schedules", c.admin.token(),
              &json!({"commodity_code": c.commodity, "currency": "CNY", "method": "percent_of_value", "percent": "0.02"}))
        .await;
    assert_eq!(replaced.status, 201, "{}", replaced.text);
    assert_eq!(quote("1000").await.body["fee"], "120.00");
    let current = app.get("/v1/fee-schedules", c.supplier.token()).await;
    let ours: Vec<&Value> = current
        .body
        .as_array()
        .expect("list")
        .iter()
        .filter(|s| s["commodity_code"] == c.commodity.as_str())
        .collect();
    assert_eq!(ours.len(), 1);
    assert_eq!(ours[0]["percent"], "0.02");
    // Someone else's lot is not found.
    let other = app.owner_of(OrgKind::Supplier).await;
    app.get(
        &format!("/v1/fee-quote?lot_id={lot_id}&quantity=1"),
        other.token(),
    )
    .await
    .assert_error(404, "lot_not_found");
}

#[tokio::test]
async fn a_supplier_earns_a_tier_by_selling_and_repaying_and_loses_it_again() {
    let app = TestApp::spawn().await;
    let m = market(&app).await;
    let c = &m.l.custody;
    let org = app
        .get(
            &format!("/v1/orgs/{}", c.supplier.org_id),
            c.supplier.token(),
        )
        .await;
    assert_eq!(org.status, 200, "{}", org.text);
    assert_eq!(org.body["tier"]["tier"], "bronze");
    assert_eq!(org.body["tier"]["fee_factor"], "1");
    assert_eq!(org.body["tier"]["next"]["tier"], "silver");
    // A loan repaid on time, a clean count, and 120,000 CNY released through a sale.
    let (lot, loan) = m.l.active_loan(&app, "20000", "10000.00").await;
    let count = c
        .scan(
            &app,
            json!({"code": lot["code"], "action": "count", "quantity": "20000"}),
        )
        .await;
    assert_eq!(count.status, 200, "{}", count.text);
    assert_eq!(m.l.repay(&app, &loan, "10000.00").await.status, 201);
    let sold = m
        .sell(
            &app,
            json!([{"lot_id": id(&lot), "quantity": "20000", "unit_price": "6.00"}]),
        )
        .await;
    assert_eq!(sold.status, 201, "{}", sold.text);
    assert_eq!(m.pay(&app, &id(&sold.body), "120000.00").await.status, 201);
    close_days(&app, 1).await;
    let org = app
        .get(&format!("/v1/orgs/{}", c.supplier.org_id), c.admin.token())
        .await;
    let tier = &org.body["tier"];
    assert_eq!(tier["tier"], "silver", "{}", org.text);
    assert_eq!(tier["fee_factor"], "0.95");
    assert_eq!(tier["metrics"]["value_released"]["CNY"], "120000.00");
    assert_eq!(tier["metrics"]["loans_repaid_on_time"], 1);
    assert_eq!(tier["metrics"]["clean_stock_counts"], 1);
    assert_eq!(tier["history"][0]["tier"], "silver");
    assert_eq!(tier["history"][0]["previous_tier"], "bronze");
    // The tier lowers the fee.
    let next = c.lot_in_custody(&app, "1000").await;
    let quote = app
        .get(
            &format!(
                "/v1/fee-quote?lot_id={}&quantity=1000&currency=CNY",
                id(&next)
            ),
            c.supplier.token(),
        )
        .await;
    assert_eq!(quote.body["tier"], "silver");
    assert_eq!(quote.body["fee"], "114.00", "120.00 × 0.95");
    // Ninety days without business, and it is bronze again.
    close_days(&app, 92).await;
    let org = app
        .get(
            &format!("/v1/orgs/{}", c.supplier.org_id),
            c.supplier.token(),
        )
        .await;
    assert_eq!(org.body["tier"]["tier"], "bronze", "{}", org.text);
    assert_eq!(org.body["tier"]["history"][0]["previous_tier"], "silver");
}

/// A small deterministic generator, so a failing case can be replayed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

#[tokio::test]
async fn random_sales_over_random_loans_always_balance_and_pay_no_one_a_negative_amount() {
    let app = TestApp::spawn().await;
    let m = market(&app).await;
    let c = &m.l.custody;
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let (mut settled, mut with_loan) = (0, 0);
    for round in 0..8 {
        let kg = 1000 + rng.below(9) * 1000;
        // A loan of 10 % to 50 % of the value (6.00 CNY/kg), or none.
        let lot = if rng.below(4) == 0 {
            c.lot_in_custody(&app, &kg.to_string()).await
        } else {
            let principal = kg * 6 * (10 + rng.below(41)) / 100;
            m.l.active_loan(&app, &kg.to_string(), &format!("{principal}.00"))
                .await
                .0
        };
        let sold_kg = 1 + rng.below(kg);
        let price = format!("{}.{:02}", 1 + rng.below(7), rng.below(100));
        let sold = m
            .sell(
                &app,
                json!([{"lot_id": id(&lot), "quantity": sold_kg.to_string(), "unit_price": price}]),
            )
            .await;
        if sold.status == 422 {
            assert_eq!(
                sold.field(),
                "lines",
                "round {round}: only a fee above the total is refused"
            );
            continue;
        }
        assert_eq!(sold.status, 201, "round {round}: {}", sold.text);
        let sale = id(&sold.body);
        let paid = m
            .pay(&app, &sale, sold.body["total"].as_str().expect("total"))
            .await;
        assert_eq!(paid.status, 201, "round {round}: {}", paid.text);
        let mut body = paid.body["sale"].clone();
        if body["status"] == "pending" {
            let consent = app
                .post_keyed(
                    &format!("/v1/sales/{sale}/consent"),
                    m.l.lender.token(),
                    &json!({}),
                )
                .await;
            assert_eq!(consent.status, 200, "round {round}: {}", consent.text);
            body = consent.body;
        }
        assert_eq!(body["status"], "settled", "round {round}");
        let body = m.sale(&app, &sale).await;
        settled += 1;
        let s = &body["settlement"];
        if !s["loans"].as_array().is_none_or(Vec::is_empty) {
            with_loan += 1;
        }
        let amount = |k: &str| {
            s[k].as_str()
                .expect(k)
                .parse::<rust_decimal::Decimal>()
                .expect(k)
        };
        for k in [
            "fee",
            "loan_fees_repaid",
            "interest_repaid",
            "principal_repaid",
            "to_supplier",
        ] {
            assert!(
                amount(k) >= rust_decimal::Decimal::ZERO,
                "round {round}: {k} {}",
                s
            );
        }
        assert_eq!(
            amount("fee")
                + amount("loan_fees_repaid")
                + amount("interest_repaid")
                + amount("principal_repaid")
                + amount("to_supplier"),
            amount("gross"),
            "round {round}"
        );
        assert_books_balance(&app, &c.admin).await;
    }
    // The seed is fixed: these hold it to exercising what the test is about, settlements of
    // pledged goods (the consent path has a test of its own).
    assert!(settled >= 6, "only {settled} of 8 rounds settled");
    assert!(with_loan >= 4, "only {with_loan} settlements repaid a loan");
}

#[tokio::test]
async fn a_settlement_that_fails_at_any_step_writes_nothing() {
    let app = TestApp::spawn().await;
    let m = market(&app).await;
    let c = &m.l.custody;
    let (lot, loan) = m.l.active_loan(&app, "1000", "3000.00").await;
    let sold = m
        .sell(
            &app,
            json!([{"lot_id": id(&lot), "quantity": "1000", "unit_price": "6.00"}]),
        )
        .await;
    assert_eq!(sold.status, 201, "{}", sold.text);
    let sale = id(&sold.body);
    let entries = app.count("journal_entries").await;
    // The store's rate disappears before the buyer pays: the fee cannot be computed, so the
    // payment that would settle fails, and neither it nor any part of the settlement is kept.
    app.sql(&format!(
        "DELETE FROM storage_rates WHERE warehouse_id = '{}'",
        c.warehouse_id
    ))
    .await;
    m.pay(&app, &sale, "6000.00")
        .await
        .assert_error(409, "no_storage_rate");
    assert_eq!(app.count("journal_entries").await, entries);
    assert_eq!(app.count("sale_payments").await, 0);
    assert_eq!(app.count("settlements").await, 0);
    let body = m.sale(&app, &sale).await;
    assert_eq!(body["status"], "pending");
    assert_eq!(body["paid"], "0.00");
    assert_eq!(body["release_orders"], json!([]));
    // The sale still reads, and says why it cannot settle now.
    assert_eq!(body["settlement_blocked"]["code"], "no_storage_rate");
    assert!(body.get("lender_consents").is_none(), "{body}");
    let after = m.l.loan(&app, &loan).await;
    assert_eq!(after["outstanding_principal"], "3000.00");
    assert_eq!(after["collateral"][0]["quantity"], "1000.000");
    assert_books_balance(&app, &c.admin).await;
}

#[tokio::test]
async fn a_sale_that_repays_a_loan_under_a_margin_call_cures_it() {
    let app = TestApp::spawn().await;
    let m = market(&app).await;
    let c = &m.l.custody;
    let (lot, loan) = m.l.active_loan(&app, "1000", "3000.00").await;
    // 4.50 CNY/kg: LTV 3,000 / 4,500 = 0.667, above the margin-call LTV (0.65).
    fixtures::post_price(
        &app,
        &c.admin,
        &c.commodity,
        "4.50",
        &chrono::Utc::now().to_rfc3339(),
    )
    .await;
    let calls = app
        .get("/v1/margin-calls?status=open", m.l.lender.token())
        .await;
    assert_eq!(
        calls.body["items"].as_array().map(Vec::len),
        Some(1),
        "{}",
        calls.text
    );
    let sold = m
        .sell(
            &app,
            json!([{"lot_id": id(&lot), "quantity": "1000", "unit_price": "4.50"}]),
        )
        .await;
    assert_eq!(sold.status, 201, "{}", sold.text);
    let paid = m.pay(&app, &id(&sold.body), "4500.00").await;
    assert_eq!(paid.status, 201, "{}", paid.text);
    assert_eq!(
        m.sale(&app, &id(&sold.body)).await["settlement"]["principal_repaid"],
        "3000.00"
    );
    assert_eq!(m.l.loan(&app, &loan).await["status"], "repaid");
    let calls = app
        .get("/v1/margin-calls?status=open", m.l.lender.token())
        .await;
    assert_eq!(calls.body["items"], json!([]), "{}", calls.text);
    let cured = app
        .get("/v1/margin-calls?status=cured", m.l.lender.token())
        .await;
    assert_eq!(
        cured.body["items"][0]["loan_id"],
        loan.as_str(),
        "{}",
        cured.text
    );
    assert_books_balance(&app, &c.admin).await;
}

#[tokio::test]
async fn a_liquidation_sale_takes_the_goods_of_the_loan_it_liquidates_first() {
    let app = TestApp::spawn().await;
    let m = market(&app).await;
    let c = &m.l.custody;
    let lot = c.lot_in_custody(&app, "20000").await;
    let lot_id = id(&lot);
    let mut loans = Vec::new();
    for principal in ["20000.00", "25000.00"] {
        let requested = m.l.request(&app, &lot_id, "10000", principal).await;
        assert_eq!(requested.status, 201, "{}", requested.text);
        let loan = id(&requested.body);
        let approve = app
            .post(
                &format!("/v1/loans/{loan}/approve"),
                m.l.lender.token(),
                &json!({}),
            )
            .await;
        assert_eq!(approve.status, 200, "{}", approve.text);
        let paid_out =
            m.l.post_as(
                &app,
                &m.l.lender,
                &format!("/v1/loans/{loan}/disburse"),
                json!({}),
            )
            .await;
        assert_eq!(paid_out.status, 200, "{}", paid_out.text);
        loans.push(loan);
    }
    // The younger loan is being liquidated; the older one is in good standing.
    app.sql(&format!(
        "UPDATE loans SET status = 'liquidating' WHERE id = '{}'",
        loans[1]
    ))
    .await;
    let sold = app
        .post_keyed(
            "/v1/sales",
            m.l.lender.token(),
            &json!({"buyer_org_id": m.buyer.org_id, "currency": "CNY", "loan_id": loans[1],
                      "lines": [{"lot_id": lot_id, "quantity": "10000", "unit_price": "6.00"}]}),
        )
        .await;
    assert_eq!(sold.status, 201, "{}", sold.text);
    let paid = m.pay(&app, &id(&sold.body), "60000.00").await;
    assert_eq!(paid.status, 201, "{}", paid.text);
    let seller_view = m.sale(&app, &id(&sold.body)).await;
    let s = &seller_view["settlement"];
    assert_eq!(
        s["loans"].as_array().map(Vec::len),
        Some(1),
        "{}",
        paid.text
    );
    assert_eq!(s["loans"][0]["loan_id"], loans[1].as_str());
    assert_eq!(s["principal_repaid"], "25000.00");
    assert_eq!(m.l.loan(&app, &loans[1]).await["status"], "closed");
    let older = m.l.loan(&app, &loans[0]).await;
    assert_eq!(older["status"], "active");
    assert_eq!(older["collateral"][0]["quantity"], "10000.000");
    assert_books_balance(&app, &c.admin).await;
}

#[tokio::test]
async fn the_sales_list_shows_each_sale_as_its_own_page_does_without_the_preview() {
    let app = TestApp::spawn().await;
    let m = market(&app).await;
    let (lot, _loan) = m.l.active_loan(&app, "1000", "3000.00").await;
    let free = m.l.custody.lot_in_custody(&app, "800").await;
    let settled = m
        .sell(
            &app,
            json!([{"lot_id": id(&lot), "quantity": "1000", "unit_price": "6.00"}]),
        )
        .await;
    let settled = id(&settled.body);
    assert_eq!(m.pay(&app, &settled, "6000.00").await.status, 201);
    let pending = m
        .sell(
            &app,
            json!([{"lot_id": id(&free), "quantity": "300", "unit_price": "7.00"}]),
        )
        .await;
    let pending = id(&pending.body);
    assert_eq!(m.pay(&app, &pending, "500.00").await.status, 201);
    let cancelled = m
        .sell(
            &app,
            json!([{"lot_id": id(&free), "quantity": "100", "unit_price": "7.00"}]),
        )
        .await;
    let cancelled = id(&cancelled.body);
    let reply = app
        .post_keyed(
            &format!("/v1/sales/{cancelled}/cancel"),
            m.l.custody.supplier.token(),
            &json!({}),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);

    let page = app
        .get("/v1/sales?limit=2", m.l.custody.supplier.token())
        .await;
    assert_eq!(page.status, 200, "{}", page.text);
    let mut items: Vec<Value> = page.body["items"].as_array().cloned().unwrap_or_default();
    let cursor = page.body["next_cursor"]
        .as_str()
        .expect("a second page")
        .to_owned();
    let rest = app
        .get(
            &format!("/v1/sales?limit=2&cursor={cursor}"),
            m.l.custody.supplier.token(),
        )
        .await;
    items.extend(rest.body["items"].as_array().cloned().unwrap_or_default());
    let ids: Vec<String> = items.iter().map(id).collect();
    assert_eq!(ids, [settled.clone(), pending.clone(), cancelled.clone()]);
    for item in &items {
        assert!(item.get("lender_consents").is_none(), "{item}");
        let mut single = m.sale(&app, &id(item)).await;
        let preview = single
            .as_object_mut()
            .and_then(|o| o.remove("lender_consents"))
            .expect("a single sale shows its consents");
        assert!(preview.is_array(), "{preview}");
        assert_eq!(item, &single);
    }
    assert_eq!(items[0]["settlement"]["gross"], "6000.00");
    assert_eq!(items[0]["release_orders"][0]["quantity"], "1000.000");
    assert_eq!(items[1]["payments"][0]["amount"], "500.00");
    assert_eq!(items[1]["lines"][0]["amount"], "2100.00");
    assert_eq!(items[2]["status"], "cancelled");
    let pending_only = app
        .get("/v1/sales?status=pending", m.l.custody.supplier.token())
        .await;
    let only: Vec<String> = pending_only.body["items"]
        .as_array()
        .map(|a| a.iter().map(id).collect())
        .unwrap_or_default();
    assert_eq!(only, std::slice::from_ref(&pending));
    // The payment that completes it settles it: its answer (the earlier payment read, the
    // rest as the settlement wrote it) is what a read of the sale shows.
    let rest = m.pay(&app, &pending, "1600.00").await;
    assert_eq!(rest.status, 201, "{}", rest.text);
    let read = app
        .get(&format!("/v1/sales/{pending}"), m.buyer.token())
        .await;
    assert_eq!(read.body["status"], "settled");
    assert_eq!(read.body["payments"].as_array().map(Vec::len), Some(2));
    assert_eq!(rest.body["sale"], read.body);
}

#[tokio::test]
async fn listing_sales_or_loans_by_an_unknown_status_is_422_naming_it() {
    let app = TestApp::spawn().await;
    let m = market(&app).await;
    for path in [
        "/v1/sales?status=paid",
        "/v1/sales?status=settled%00",
        "/v1/loans?status=lent",
        "/v1/loans?status=active%00",
    ] {
        let reply = app.get(path, m.l.custody.supplier.token()).await;
        assert_eq!(reply.status, 422, "{path}: {}", reply.text);
        assert_eq!(reply.field(), "status", "{path}");
    }
    let settled = app
        .get("/v1/sales?status=settled", m.l.custody.supplier.token())
        .await;
    assert_eq!(settled.status, 200, "{}", settled.text);
}

/// Receive 1000, pledge 600, sell 200 (taken from the pledge first), count 700: the count
/// fits the commitments (600 needed until the sale settles, then 400 pledged + 200 to leave),
/// the buyer pays and the 200 leave. A count below the commitments is refused with
/// the numbers, and the lot's commitments never exceed what is on hand.
#[tokio::test]
async fn a_real_shortage_comes_off_free_goods_then_the_sale_then_the_pledge_then_the_order() {
    let app = TestApp::spawn().await;
    let m = market(&app).await;
    let c = &m.l.custody;
    let lot = c.lot_in_custody(&app, "1000").await;
    let lot_id = id(&lot);
    let loan = m.l.disbursed_loan(&app, &lot_id, "600", "1800.00").await;
    // A sale takes pledged goods first: 700 sold are the 600 pledged and 100 free; 300 free.
    let sold = m
        .sell(
            &app,
            json!([{"lot_id": lot_id, "quantity": "700", "unit_price": "6.50"}]),
        )
        .await;
    assert_eq!(sold.status, 201, "{}", sold.text);
    let sale = id(&sold.body);
    let count = |quantity: &'static str| {
        let code = lot["code"].clone();
        let app = &app;
        async move {
            c.scan(
                app,
                json!({"code": code, "action": "count", "quantity": quantity, "reason": "pallets missing"}),
            )
            .await
        }
    };
    // 301 missing: the 300 free go first, then 1 of the sale's unpledged 100.
    let short = count("699").await;
    assert_eq!(short.status, 200, "{}", short.text);
    assert_eq!(short.body["lot"]["quantity_on_hand"], "699.000");
    let incident = &short.body["incident"];
    assert_eq!(incident["quantity_missing"], "301.000", "{incident}");
    assert_eq!(incident["value"], "1806.00", "301 kg at 6.00");
    assert_eq!(
        incident["operator_org_id"],
        c.warehouse_staff.org_id.to_string()
    );
    assert_eq!(incident["effects"]["sales"][0]["quantity_cut"], "1.000");
    assert_eq!(incident["effects"]["sales"][0]["total"], "4543.50");
    // The worker sees the incident, not the owner's financing.
    assert_eq!(incident["effects"]["pledges"], json!([]));
    assert_eq!(incident["lender_org_ids"], json!([]));
    let shrunk = m.sale(&app, &sale).await;
    assert_eq!(shrunk["lines"][0]["quantity"], "699.000");
    assert_eq!(shrunk["total"], "4543.50");
    // 299 more: the sale's other 99 unpledged, then 200 both pledged and sold, cut together;
    // 1,800 on 400 kg worth 2,400 is an LTV of 0.75: a margin call opens at once.
    let short = count("400").await;
    assert_eq!(short.status, 200, "{}", short.text);
    let effects = &short.body["incident"]["effects"];
    assert_eq!(effects["sales"][0]["quantity_cut"], "299.000", "{effects}");
    let after = m.l.loan(&app, &loan).await;
    assert_eq!(after["collateral"][0]["quantity"], "400.000");
    assert_eq!(after["ltv"], "0.75");
    assert_eq!(after["margin_call"]["status"], "open");
    let incident_id = short.body["incident"]["id"]
        .as_str()
        .expect("incident")
        .to_owned();
    // The lender sees the pledge it lost; the buyer only its own sale; a stranger nothing.
    let path = format!("/v1/custody-incidents/{incident_id}");
    let lenders = app.get(&path, m.l.lender.token()).await;
    assert_eq!(lenders.status, 200, "{}", lenders.text);
    assert_eq!(
        lenders.body["effects"]["pledges"][0]["loan_id"],
        loan.as_str()
    );
    assert_eq!(
        lenders.body["effects"]["pledges"][0]["quantity_cut"],
        "200.000"
    );
    let buyers = app.get(&path, m.buyer.token()).await;
    assert_eq!(buyers.status, 200, "{}", buyers.text);
    assert_eq!(buyers.body["effects"]["pledges"], json!([]));
    assert_eq!(buyers.body["effects"]["sales"][0]["sale_id"], sale.as_str());
    let owners = app.get("/v1/custody-incidents", c.supplier.token()).await;
    assert_eq!(owners.body["items"].as_array().map(Vec::len), Some(2));
    let stranger = app.owner_of(OrgKind::Supplier).await;
    app.get(&path, stranger.token())
        .await
        .assert_error(404, "incident_not_found");
    let none = app.get("/v1/custody-incidents", stranger.token()).await;
    assert_eq!(none.body["items"], json!([]));
    // The buyer was told its sale shrank.
    app.get("/v1/audit/verify", c.admin.token()).await;
    let events = app.get("/v1/events?limit=100", m.buyer.token()).await;
    let told = events.body["items"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["event_type"] == "sale.shrunk")
        .count();
    assert_eq!(told, 2, "{}", events.text);
    // The buyer pays the 400 that are left: the sale settles and repays the loan.
    let paid = m.pay(&app, &sale, "2600.00").await;
    assert_eq!(paid.body["sale"]["status"], "settled", "{}", paid.text);
    // 100 of the goods paid for go missing before they leave: the release order shrinks.
    let short = count("300").await;
    assert_eq!(short.status, 200, "{}", short.text);
    let order = &short.body["incident"]["effects"]["release_orders"][0];
    assert_eq!(order["quantity_cut"], "100.000");
    let orders = m.sale(&app, &sale).await["release_orders"].clone();
    assert_eq!(orders[0]["quantity"], "300.000");
    let out = c
        .scan(
            &app,
            json!({"code": lot["code"], "action": "release", "release_order_id": orders[0]["id"]}),
        )
        .await;
    assert_eq!(out.status, 200, "{}", out.text);
    assert_eq!(out.body["lot"]["status"], "released");
    assert_books_balance(&app, &c.admin).await;
}

#[tokio::test]
async fn a_shortage_never_shrinks_a_sale_below_what_its_buyer_paid() {
    use diesel_async::RunQueryDsl;
    let app = TestApp::spawn().await;
    let m = market(&app).await;
    let c = &m.l.custody;
    let lot = c.lot_in_custody(&app, "100").await;
    let lot_id = id(&lot);
    let sold = m
        .sell(
            &app,
            json!([{"lot_id": lot_id, "quantity": "100", "unit_price": "6.50"}]),
        )
        .await;
    let sale = id(&sold.body);
    assert_eq!(m.pay(&app, &sale, "600.00").await.status, 201);
    // 650 total, 600 paid: at most 7.691 kg can come off (92.309 × 6.50 = 600.01, with half a
    // cent to spare for rounding).
    let short = c
        .scan(
            &app,
            json!({"code": lot["code"], "action": "count", "quantity": "90", "reason": "short"}),
        )
        .await;
    short.assert_error(409, "shortage_hits_paid_sale");
    assert_eq!(
        short.body["error"]["details"]["quantity_uncovered"],
        "2.309"
    );
    let within = c
        .scan(
            &app,
            json!({"code": lot["code"], "action": "count", "quantity": "95", "reason": "short"}),
        )
        .await;
    assert_eq!(within.status, 200, "{}", within.text);
    assert_eq!(m.sale(&app, &sale).await["total"], "617.50");
    // The database holds the rule as well: 95 on release orders and 50 pledged do not fit
    // in the 95 on hand, though each alone does.
    let mut conn = app.pool.get().await.expect("connection");
    let bypass = diesel::sql_query(format!(
        "UPDATE lots SET quantity_sold = 0, quantity_pledged = 50 WHERE id = '{lot_id}'"
    ))
    .execute(&mut conn)
    .await;
    let refused = bypass.expect_err("the commitments check refuses it");
    assert!(
        refused.to_string().contains("lots_commitments_fit"),
        "{refused}"
    );
}

/// One kind of org's statement summary for today to 40 days on, in CNY (`None`: no books).
async fn summary_of(app: &TestApp, who: &Session) -> Option<Value> {
    let to = today() + chrono::Days::new(40);
    let reply = app
        .get(
            &format!("/v1/statements?from={}&to={to}", today()),
            who.token(),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let cny = reply.body["currencies"].as_array()?.first()?.clone();
    // The figures agree with the entries and balances printed beside them.
    let money = |v: &Value| v.as_str().unwrap_or("0").parse::<f64>().expect("amount");
    let sum_of = |account: &str, sign: f64| -> f64 {
        let lines = cny["entries"].as_array().expect("entries").iter();
        lines
            .filter_map(|e| e["lines"].get(account).map(money))
            .filter(|a| a * sign > 0.0)
            .map(f64::abs)
            .sum()
    };
    let s = &cny["summary"];
    let close = |a: f64, b: f64| (a - b).abs() < 0.005;
    assert!(close(money(&s["cash_in"]), sum_of("cash", 1.0)), "{cny}");
    assert!(close(money(&s["cash_out"]), sum_of("cash", -1.0)), "{cny}");
    let cash_moved =
        money(&cny["closing_balances"]["cash"]) - money(&cny["opening_balances"]["cash"]);
    assert!(
        close(cash_moved, money(&s["cash_in"]) - money(&s["cash_out"])),
        "{cny}"
    );
    let lent = sum_of("loans_receivable", 1.0) + sum_of("loans_payable", -1.0);
    let repaid = sum_of("loans_receivable", -1.0) + sum_of("loans_payable", 1.0);
    assert!(close(money(&s["advances"]), lent), "{cny}");
    assert!(close(money(&s["principal_repaid"]), repaid), "{cny}");
    let interest = sum_of("interest_expense", 1.0) + sum_of("interest_income", -1.0);
    assert!(close(money(&s["interest"]), interest), "{cny}");
    Some(s.clone())
}

#[tokio::test]
async fn every_kind_of_orgs_statement_summary_agrees_with_its_entries() {
    let app = TestApp::spawn().await;
    let m = market(&app).await;
    let c = &m.l.custody;
    let (lot, loan) = m.l.active_loan(&app, "20000", "60000.00").await;
    close_days(&app, 20).await;
    let repaid = m.l.repay(&app, &loan, "10000").await;
    assert_eq!(repaid.status, 201, "{}", repaid.text);
    assert_eq!(
        repaid.body["allocation"],
        json!({"fees": "0.00", "interest": "263.01", "principal": "9736.99"})
    );
    close_days(&app, 40).await;
    let sold = m
        .sell(
            &app,
            json!([{"lot_id": lot["id"], "quantity": "20000", "unit_price": "6.50"}]),
        )
        .await;
    assert_eq!(sold.status, 201, "{}", sold.text);
    let sale = id(&sold.body);
    let paid = m.pay(&app, &sale, "130000.00").await;
    assert_eq!(paid.body["sale"]["status"], "settled", "{}", paid.text);
    let settled = m.sale(&app, &sale).await;
    let s = &settled["settlement"];
    let cents = |v: &Value| -> i64 {
        let text = v.as_str().expect("amount").replace('.', "");
        text.parse().expect("cents")
    };
    let print = |c: i64| format!("{}.{:02}", c / 100, c % 100);
    let to_supplier = cents(&s["to_supplier"]);
    let to_lender = cents(&s["interest_repaid"]) + cents(&s["principal_repaid"]);
    assert_eq!(to_supplier + to_lender + 240_000, 13_000_000);
    let interest = print(26_301 + cents(&s["interest_repaid"]));

    // The supplier borrowed, repaid, sold and was paid the rest.
    let supplier = summary_of(&app, &c.supplier).await.expect("supplier books");
    assert_eq!(supplier["advances"], "60000.00");
    assert_eq!(supplier["principal_repaid"], "60000.00");
    assert_eq!(supplier["interest"], interest.as_str());
    assert_eq!(supplier["fees"], "2400.00");
    assert_eq!(supplier["sale_proceeds"], "130000.00");
    assert_eq!(supplier["payouts"], print(to_supplier).as_str());
    assert_eq!(supplier["purchases_paid"], "0.00");
    assert_eq!(supplier["cash_out"], "10000.00");
    // The lender lent 60,000 and had all of it back with interest: not 0.00.
    let lender = summary_of(&app, &m.l.lender).await.expect("lender books");
    assert_eq!(lender["advances"], "60000.00");
    assert_eq!(lender["principal_repaid"], "60000.00");
    assert_eq!(lender["interest"], interest.as_str());
    assert_eq!(lender["fees"], "0.00");
    assert_eq!(lender["sale_proceeds"], "0.00");
    assert_eq!(lender["payouts"], print(to_lender).as_str());
    assert_eq!(lender["cash_out"], "60000.00");
    assert_eq!(lender["cash_in"], print(1_000_000 + to_lender).as_str());
    // The buyer paid for its purchase.
    let buyer = summary_of(&app, &m.buyer).await.expect("buyer books");
    assert_eq!(buyer["purchases_paid"], "130000.00");
    assert_eq!(buyer["cash_out"], "130000.00");
    assert_eq!(buyer["advances"], "0.00");
    assert_eq!(buyer["sale_proceeds"], "0.00");
    // The platform held the payment in escrow, released it and kept its fee.
    let platform = summary_of(&app, &c.admin).await.expect("platform books");
    assert_eq!(platform["escrow_received"], "130000.00");
    assert_eq!(platform["escrow_released"], "130000.00");
    assert_eq!(platform["fees"], "2400.00");
    assert_eq!(platform["payouts"], "2400.00");
    assert_eq!(platform["cash_in"], "2400.00");
    assert_eq!(platform["advances"], "0.00");
    // The warehouse operator moves no money and has no statement.
    app.get("/v1/statements", c.warehouse_staff.token())
        .await
        .assert_error(403, "forbidden");
    assert_books_balance(&app, &c.admin).await;
}

#[tokio::test]
async fn a_consented_sale_of_all_the_goods_that_leaves_debt_defaults_the_rest_at_once() {
    let app = TestApp::spawn().await;
    let m = market(&app).await;
    let (lot, loan) = m.l.active_loan(&app, "20000", "60000.00").await;
    // All the goods at 2.00: 40,000 gross, 2,400 fee, 37,600 for a loan owing 60,000.
    let sold = m
        .sell(
            &app,
            json!([{"lot_id": id(&lot), "quantity": "20000", "unit_price": "2.00"}]),
        )
        .await;
    assert_eq!(sold.status, 201, "{}", sold.text);
    let sale = id(&sold.body);
    assert_eq!(sold.body["lender_consents"][0]["required"], "60000.00");
    let paid = m.pay(&app, &sale, "40000.00").await;
    assert_eq!(paid.body["sale"]["status"], "pending", "{}", paid.text);
    let consented = app
        .post_keyed(
            &format!("/v1/sales/{sale}/consent"),
            m.l.lender.token(),
            &json!({}),
        )
        .await;
    assert_eq!(consented.status, 200, "{}", consented.text);
    assert_eq!(consented.body["settlement"]["principal_repaid"], "37600.00");
    // Nothing is left pledged for the rest: the loan defaults at once, unsecured.
    let after = m.l.loan(&app, &loan).await;
    assert_eq!(after["outstanding_principal"], "22400.00");
    assert_eq!(after["collateral"], json!([]));
    assert_eq!(after["status"], "defaulted", "{after}");
    assert_eq!(after["default_reason"], "liquidation_ltv");
    assert_books_balance(&app, &m.l.custody.admin).await;
}

/// Every money field the walk meets is at the minor unit of CNY (two places), every quantity
/// at the places of kg (three), every price per unit at two or more.
fn assert_printed_consistently(value: &Value, path: &str, bad: &mut Vec<String>) {
    const MONEY: &[&str] = &[
        "amount",
        "total",
        "paid",
        "principal",
        "outstanding_principal",
        "collateral_value",
        "market_value",
        "fee",
        "gross",
        "interest_repaid",
        "principal_repaid",
        "loan_fees_repaid",
        "to_supplier",
        "balance",
        "debits",
        "credits",
        "limit",
        "drawn",
        "committed",
        "available",
        "borrowing_base",
        "amount_to_repay",
        "interest_due",
        "fees_due",
        "interest_paid",
        "fees_paid",
        "repayment",
        "extra_collateral_value",
        "sale_value",
        "minimum_fee",
        "advances",
        "interest",
        "fees",
        "sale_proceeds",
        "payouts",
        "purchases_paid",
        "escrow_received",
        "escrow_released",
        "cash_in",
        "cash_out",
        "accrued_interest_due",
        "market_value_at_deposit",
        "lending_value",
        "cash",
        "loans_payable",
        "loans_receivable",
        "interest_income",
        "interest_expense",
        "fee_income",
        "fee_expense",
        "escrow",
    ];
    const PRICES: &[&str] = &["unit_price", "price_per_unit"];
    let places = |text: &str| text.split_once('.').map_or(0, |(_, f)| f.len());
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                let here = format!("{path}.{key}");
                if let Value::String(text) = v
                    && text.parse::<f64>().is_ok()
                {
                    let wrong = if MONEY.contains(&key.as_str()) {
                        places(text) != 2
                    } else if key.starts_with("quantity") || key == "variance" {
                        places(text) != 3
                    } else if PRICES.contains(&key.as_str()) {
                        places(text) < 2
                    } else if key == "accrued_interest" {
                        places(text) != 8
                            && !path.contains("exposure")
                            && !path.contains("by_supplier")
                    } else {
                        false
                    };
                    if wrong {
                        bad.push(format!("{here} = {text}"));
                    }
                }
                assert_printed_consistently(v, &here, bad);
            }
        }
        Value::Array(items) => {
            for item in items {
                assert_printed_consistently(item, path, bad);
            }
        }
        _ => {}
    }
}

#[tokio::test]
async fn every_amount_prints_at_its_minor_unit_and_every_quantity_at_its_units_places() {
    let app = TestApp::spawn().await;
    let m = market(&app).await;
    let c = &m.l.custody;
    // A loan, a partial repayment, a count with a shortfall of whole kilograms, a settled sale.
    let (lot, loan) = m.l.active_loan(&app, "20000", "60000").await;
    close_days(&app, 20).await;
    let repaid = m.l.repay(&app, &loan, "10000").await;
    assert_eq!(repaid.status, 201, "{}", repaid.text);
    let other = c.lot_in_custody(&app, "1000").await;
    let counted = c
        .scan(
            &app,
            json!({"code": other["code"], "action": "count", "quantity": "998", "reason": "two crates short"}),
        )
        .await;
    assert_eq!(counted.status, 200, "{}", counted.text);
    let sold = m
        .sell(
            &app,
            json!([{"lot_id": lot["id"], "quantity": "20000", "unit_price": "6.5"}]),
        )
        .await;
    let sale = id(&sold.body);
    let paid = m.pay(&app, &sale, "130000").await;
    assert_eq!(paid.body["sale"]["status"], "settled", "{}", paid.text);
    let lot_id = id(&lot);
    let other_id = id(&other);
    let to = today() + chrono::Days::new(40);
    let reads: Vec<(&Session, String)> = vec![
        (&c.supplier, format!("/v1/lots/{lot_id}")),
        (&c.supplier, format!("/v1/lots/{other_id}/movements")),
        (&c.supplier, format!("/v1/lots/{other_id}/valuation")),
        (&c.supplier, "/v1/lots".into()),
        (&c.supplier, format!("/v1/sales/{sale}")),
        (&c.supplier, "/v1/sales".into()),
        (
            &c.supplier,
            format!("/v1/statements?from={}&to={to}", today()),
        ),
        (
            &c.supplier,
            format!("/v1/fee-quote?lot_id={other_id}&quantity=100&currency=CNY"),
        ),
        (&m.l.lender, format!("/v1/loans/{loan}")),
        (&m.l.lender, "/v1/loans".into()),
        (&m.l.lender, "/v1/facilities".into()),
        (&m.l.lender, "/v1/exposure".into()),
        (&m.l.lender, "/v1/ledger/accounts".into()),
        (&m.l.lender, "/v1/ledger/entries".into()),
        (&m.buyer, format!("/v1/sales/{sale}")),
        (&c.admin, "/v1/prices".into()),
        (&c.admin, "/v1/fee-schedules".into()),
        (&c.admin, "/v1/release-orders".into()),
    ];
    let mut bad = Vec::new();
    for (who, path) in &reads {
        let reply = app.get(path, who.token()).await;
        assert_eq!(reply.status, 200, "{path}: {}", reply.text);
        assert_printed_consistently(&reply.body, path, &mut bad);
    }
    assert!(
        bad.is_empty(),
        "printed inconsistently:\n{}",
        bad.join("\n")
    );
}

#[tokio::test]
async fn a_shortage_racing_the_payment_that_settles_the_sale_leaves_one_consistent_story() {
    let app = TestApp::spawn().await;
    let m = market(&app).await;
    let c = &m.l.custody;
    let lot = c.lot_in_custody(&app, "100").await;
    let sold = m
        .sell(
            &app,
            json!([{"lot_id": lot["id"], "quantity": "100", "unit_price": "6.50"}]),
        )
        .await;
    let sale = id(&sold.body);
    let count = c.scan(
        &app,
        json!({"code": lot["code"], "action": "count", "quantity": "90", "reason": "short"}),
    );
    let (counted, paid) = tokio::join!(count, m.pay(&app, &sale, "650.00"));
    assert_eq!(counted.status, 200, "{}", counted.text);
    let after = m.sale(&app, &sale).await;
    if paid.status == 201 {
        // Paid first: the sale settled whole and the shortage shrank its release order.
        assert_eq!(after["status"], "settled");
        assert_eq!(after["release_orders"][0]["quantity"], "90.000");
    } else {
        // Counted first: the sale shrank to 90 kg, and 650 is more than it now costs.
        assert_eq!(paid.status, 422, "{}", paid.text);
        assert_eq!(paid.field(), "amount");
        assert_eq!(after["status"], "pending");
        assert_eq!(after["total"], "585.00");
    }
    let lot_now = app
        .get(&format!("/v1/lots/{}", id(&lot)), c.supplier.token())
        .await;
    assert_eq!(lot_now.body["quantity_on_hand"], "90.000");
    assert_eq!(lot_now.body["quantity_reserved"], "90.000");
    assert_books_balance(&app, &c.admin).await;
}

/// A payment that settles a sale of pledged goods: how many statements it sends (counted, not
/// timed: the round trips the settlement makes).
#[tokio::test]
async fn a_settling_payment_costs_twenty_six_prepared_statements_at_most() {
    let app = TestApp::spawn().await;
    let m = market(&app).await;
    let (lot, _loan) = m.l.active_loan(&app, "20000", "60000.00").await;
    let sold = m
        .sell(
            &app,
            json!([{"lot_id": lot["id"], "quantity": "20000", "unit_price": "6.50"}]),
        )
        .await;
    let sale: Uuid = id(&sold.body).parse().unwrap();
    // The platform pays (as it may for a buyer), so that the answer shows the whole
    // settlement: its split, each loan's share.
    let platform = fixtures::owner_principal(&m.l.custody.admin, OrgKind::Platform);
    let mut answer = None;
    let log = crate::lending::statement_log(&app, async |conn| {
        use diesel_async::AsyncConnection;
        let paid = conn
            .transaction::<_, holdfast::error::ApiError, _>(async |conn| {
                holdfast::sales::service::pay(
                    conn,
                    &platform,
                    sale,
                    rust_decimal::Decimal::new(13_000_000, 2),
                )
                .await
            })
            .await
            .expect("pay");
        answer = Some(paid.sale);
    })
    .await;
    // It was 56 before the ledger posted an entry and its lines in one statement, the sale was
    // found and locked in one, and a paid-off loan's revaluation skipped the margin-call rules.
    // 46 before the settlement's rows and the sale settled became one statement, the locked
    // lot served for the fee and the paid-off loan took the business date it was given. 42
    // before a loan paid in full closed in one write without a revaluation (its margin call
    // cured, all its pledges released in one statement), the consents were read only for a
    // loan left short, and the answer was built from the row the payment wrote. 36 before the
    // two audit events became one statement, the lots' sold quantity and the release orders
    // one, and the pledges read under the loans' locks served the plan. 33 before the answer
    // was built from what the settlement wrote (five reads), the business date and the
    // platform came in one read, and the loans on the sold lots and the pledges to release
    // were known from the locked rows instead of read again; one more has the transaction
    // keep its generic plans (`generic_plans_until_commit`).
    assert!(
        log.sent <= 26,
        "a settling payment sent {} statements",
        log.sent
    );
    // Each of them is prepared once per connection: the settlement's UPDATEs, which diesel
    // does not cache, and the hand-written statements included.
    assert_eq!(log.unprepared, Vec::<String>::new());
    // The answer, built from the rows the payment and the settlement wrote, is what a read of
    // the sale shows.
    let answer = serde_json::to_value(answer.expect("paid")).expect("json");
    assert_eq!(answer["status"], "settled");
    assert_eq!(
        answer["settlement"]["loans"][0]["quantity_released"],
        "20000.000"
    );
    let mut conn = app.pool.get().await.expect("connection");
    let read = holdfast::sales::service::sale(&mut conn, &platform, sale)
        .await
        .expect("sale");
    assert_eq!(answer, serde_json::to_value(read).expect("json"));
}
