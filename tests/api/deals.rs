//! Group buying and forward sales through the API: members pay into escrow and settle all
//! at once at the deadline, or all get their money back; a forward sale's margin is held from
//! acceptance, applied in proportion to what arrives, and forfeited by a buyer that does not
//! pay in time.

use crate::fixtures::{
    self, Lending, assert_books_balance, assert_escrow_is_open_deposits, buyer_of_tier, fund,
    lending, market_funds as funds, run_market, scan_as,
};
use crate::support::{Reply, Session, TestApp};
use chrono::{Duration, Utc};
use holdfast::auth::OrgKind;
use rust_decimal::Decimal;
use serde_json::{Value, json};

fn id(value: &Value) -> String {
    value["id"].as_str().expect("an id").to_owned()
}

async fn buyer(app: &TestApp, funds: Option<&str>) -> Session {
    let buyer = buyer_of_tier(app, "platinum").await;
    if let Some(amount) = funds {
        let funded = fund(app, &buyer, amount).await;
        assert_eq!(funded.status, 201, "{}", funded.text);
    }
    buyer
}

fn d(text: &str) -> Decimal {
    text.parse().unwrap()
}

async fn join(app: &TestApp, who: &Session, listing: &str, quantity: &str) -> Reply {
    app.post_keyed(
        &format!("/v1/listings/{listing}/join"),
        who.token(),
        &json!({"quantity": quantity}),
    )
    .await
}

async fn group(app: &TestApp, l: &Lending, quantity: &str, minimum: &str) -> String {
    let lot = l.custody.lot_in_custody(app, quantity).await;
    let listed = app
        .post_keyed(
            "/v1/listings",
            l.custody.supplier.token(),
            &json!({"lot_id": id(&lot), "quantity": quantity, "mode": "group", "currency": "CNY",
                    "group": {"group_price": "5.00", "min_total_quantity": minimum,
                              "deadline": Utc::now() + Duration::hours(1)}}),
        )
        .await;
    assert_eq!(listed.status, 201, "{}", listed.text);
    assert_eq!(listed.body["group"]["joined_quantity"], "0.000");
    id(&listed.body)
}

async fn deadline_passes(app: &TestApp, listing: &str) {
    app.sql(&format!(
        "UPDATE listings SET deadline = now() - interval '1 second' WHERE id = '{listing}'"
    ))
    .await;
}

#[tokio::test]
async fn a_group_that_reaches_its_minimum_settles_every_member_at_once() {
    let app = TestApp::spawn().await;
    let l = lending(&app).await;
    let listing = group(&app, &l, "1000", "600").await;
    let (a, b, c) = (
        buyer(&app, Some("2000.00")).await,
        buyer(&app, Some("2500.00")).await,
        buyer(&app, None).await,
    );
    // Each pays in full into escrow as it joins.
    let joined = join(&app, &a, &listing, "300").await;
    assert_eq!(joined.status, 201, "{}", joined.text);
    assert_eq!(joined.body["paid"], "1500.00");
    assert_eq!(
        joined.body["listing"]["group"]["joined_quantity"],
        "300.000"
    );
    assert_eq!(funds(&app, &a).await, (d("500.00"), d("1500.00")));
    join(&app, &a, &listing, "10")
        .await
        .assert_error(409, "already_joined");
    let seen = app.get(&format!("/v1/listings/{listing}"), a.token()).await;
    assert_eq!(
        seen.body["group"]["your_quantity"], "300.000",
        "{}",
        seen.text
    );
    join(&app, &c, &listing, "10")
        .await
        .assert_error(409, "insufficient_funds");
    assert_eq!(join(&app, &b, &listing, "400").await.status, 201);
    let more = join(&app, &c, &listing, "301").await;
    more.assert_error(409, "quantity_not_available");
    assert_eq!(more.field(), "quantity");
    // Members hold money in it: the seller cannot withdraw it.
    app.post_keyed(
        &format!("/v1/listings/{listing}/withdraw"),
        l.custody.supplier.token(),
        &json!({}),
    )
    .await
    .assert_error(409, "group_has_members");
    assert_escrow_is_open_deposits(&app).await;
    // Nothing happens before the deadline; after it, joins are refused and the group fills.
    assert_eq!(run_market(&app, Utc::now()).await.groups.filled, 0);
    deadline_passes(&app, &listing).await;
    join(&app, &c, &listing, "1")
        .await
        .assert_error(409, "group_closed");
    let swept = run_market(&app, Utc::now()).await;
    assert_eq!(
        (swept.groups.filled, swept.groups.failed),
        (1, 0),
        "{swept:?}"
    );
    let ended = app
        .get(
            &format!("/v1/listings/{listing}"),
            l.custody.supplier.token(),
        )
        .await;
    assert_eq!(ended.body["status"], "filled", "{}", ended.text);
    for (who, total) in [(&a, "1500.00"), (&b, "2000.00")] {
        let sales = app.get("/v1/sales", who.token()).await;
        let sale = &sales.body["items"][0];
        assert_eq!(
            (sale["status"].as_str(), sale["total"].as_str()),
            (Some("settled"), Some(total)),
            "{}",
            sales.text
        );
        assert_eq!(funds(&app, who).await.1, Decimal::ZERO);
    }
    assert_eq!(funds(&app, &a).await.0, d("500.00"));
    app.get("/v1/audit/verify", l.custody.admin.token()).await;
    let events = app.get("/v1/events?limit=200", b.token()).await;
    assert!(events.text.contains("group.filled"), "{}", events.text);
    assert_escrow_is_open_deposits(&app).await;
    assert_books_balance(&app, &l.custody.admin).await;
}

#[tokio::test]
async fn a_group_that_misses_its_minimum_returns_every_payment() {
    let app = TestApp::spawn().await;
    let l = lending(&app).await;
    let listing = group(&app, &l, "1000", "900").await;
    let (a, b) = (
        buyer(&app, Some("2000.00")).await,
        buyer(&app, Some("2000.00")).await,
    );
    assert_eq!(join(&app, &a, &listing, "300").await.status, 201);
    assert_eq!(join(&app, &b, &listing, "100").await.status, 201);
    deadline_passes(&app, &listing).await;
    let swept = run_market(&app, Utc::now()).await;
    assert_eq!(
        (swept.groups.filled, swept.groups.failed),
        (0, 1),
        "{swept:?}"
    );
    let ended = app
        .get(
            &format!("/v1/listings/{listing}"),
            l.custody.supplier.token(),
        )
        .await;
    assert_eq!(ended.body["status"], "failed");
    assert_eq!(ended.body["group"]["outcome"], "below_minimum");
    for who in [&a, &b] {
        assert_eq!(funds(&app, who).await, (d("2000.00"), Decimal::ZERO));
    }
    assert_eq!(app.count("sales").await, 0);
    // Terms that cannot hold: a minimum above the quantity, a deadline gone.
    let lot = l.custody.lot_in_custody(&app, "10").await;
    for (terms, field) in [
        (
            json!({"group_price": "5", "min_total_quantity": "11", "deadline": Utc::now() + Duration::hours(1)}),
            "group.min_total_quantity",
        ),
        (
            json!({"group_price": "5", "min_total_quantity": "5", "deadline": Utc::now() - Duration::hours(1)}),
            "group.deadline",
        ),
    ] {
        let refused = app
            .post_keyed(
                "/v1/listings",
                l.custody.supplier.token(),
                &json!({"lot_id": id(&lot), "quantity": "10", "mode": "group", "currency": "CNY", "group": terms}),
            )
            .await;
        assert_eq!(
            (refused.status, refused.field()),
            (422, field),
            "{}",
            refused.text
        );
    }
    assert_escrow_is_open_deposits(&app).await;
    assert_books_balance(&app, &l.custody.admin).await;
}

/// A lot of the supplier's aboard a voyage bound for its warehouse; answers (lot, voyage,
/// carrier).
async fn at_sea(app: &TestApp, l: &Lending, quantity: &str) -> (Value, String, Session) {
    let c = &l.custody;
    let carrier = app.owner_of(OrgKind::WarehouseOperator).await;
    let voyage = fixtures::voyage(app, &c.admin, carrier.org_id, Some(&c.warehouse_id)).await;
    let announced = app
        .post(
            "/v1/lots",
            c.supplier.token(),
            &json!({"commodity_code": c.commodity, "grade": "A", "quantity": quantity,
                    "packed_on": fixtures::today(), "voyage_id": voyage}),
        )
        .await;
    assert_eq!(announced.status, 201, "{}", announced.text);
    let aboard = scan_as(
        app,
        &carrier,
        json!({"code": announced.body["code"], "action": "load", "voyage_id": voyage}),
    )
    .await;
    assert_eq!(aboard.status, 200, "{}", aboard.text);
    (announced.body, voyage, carrier)
}

async fn arrives(
    app: &TestApp,
    l: &Lending,
    lot: &Value,
    voyage: &str,
    carrier: &Session,
    counted: Option<&str>,
) {
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
    let landed = l
        .custody
        .scan(app, json!({"code": lot["code"], "action": "unload"}))
        .await;
    assert_eq!(landed.status, 200, "{}", landed.text);
    if let Some(counted) = counted {
        let count = l
            .custody
            .scan(app, json!({"code": lot["code"], "action": "count", "quantity": counted, "reason": "short on arrival"}))
            .await;
        assert_eq!(count.status, 200, "{}", count.text);
    }
}

/// A forward listing of the lot at 6.00, an offer of all of it by `buyer`, accepted.
async fn sold_forward(
    app: &TestApp,
    l: &Lending,
    lot: &Value,
    quantity: &str,
    buyer: &Session,
) -> Reply {
    let listed = app
        .post_keyed(
            "/v1/listings",
            l.custody.supplier.token(),
            &json!({"lot_id": id(lot), "quantity": quantity, "mode": "forward", "currency": "CNY", "unit_price": "6.00"}),
        )
        .await;
    assert_eq!(listed.status, 201, "{}", listed.text);
    assert_eq!(listed.body["forward"]["margin_rate"], "0.1");
    let offered = app
        .post_keyed(
            &format!("/v1/listings/{}/offers", id(&listed.body)),
            buyer.token(),
            &json!({"quantity": quantity, "unit_price": "6.00"}),
        )
        .await;
    assert_eq!(offered.status, 201, "{}", offered.text);
    app.post_keyed(
        &format!("/v1/offers/{}/accept", id(&offered.body)),
        l.custody.supplier.token(),
        &json!({}),
    )
    .await
}

#[tokio::test]
async fn a_forward_sale_delivered_short_applies_the_margin_in_proportion_and_returns_the_rest() {
    let app = TestApp::spawn().await;
    let l = lending(&app).await;
    // Goods in custody are not sold forward.
    let stored = l.custody.lot_in_custody(&app, "10").await;
    app.post_keyed(
        "/v1/listings",
        l.custody.supplier.token(),
        &json!({"lot_id": id(&stored), "quantity": "10", "mode": "forward", "currency": "CNY", "unit_price": "6"}),
    )
    .await
    .assert_error(409, "lot_status");
    let (lot, voyage, carrier) = at_sea(&app, &l, "1000").await;
    let b = buyer(&app, None).await;
    // Without the funds for its margin (10 % of 6,000) the offer cannot be accepted.
    let refused = sold_forward(&app, &l, &lot, "1000", &b).await;
    refused.assert_error(409, "insufficient_funds");
    assert_eq!(refused.body["error"]["details"]["margin"], "600.00");
    assert_eq!(app.count("sales").await, 0);
    let funded = app
        .post_keyed(
            "/v1/funds",
            b.token(),
            &json!({"currency": "CNY", "amount": "1000.00"}),
        )
        .await;
    assert_eq!(funded.status, 201);
    let offers = app.get("/v1/offers?status=open", b.token()).await;
    let accepted = app
        .post_keyed(
            &format!(
                "/v1/offers/{}/accept",
                offers.body["items"][0]["id"].as_str().unwrap()
            ),
            l.custody.supplier.token(),
            &json!({}),
        )
        .await;
    assert_eq!(accepted.status, 201, "{}", accepted.text);
    let sale = id(&accepted.body["sale"]);
    assert_eq!(funds(&app, &b).await, (d("400.00"), d("600.00")));
    // At sea, nothing falls due.
    assert_eq!(run_market(&app, Utc::now()).await.forward.due, 0);
    // 800 of 1,000 arrive: the sale shrinks to 4,800, and 80 % of the margin pays towards it.
    arrives(&app, &l, &lot, &voyage, &carrier, Some("800")).await;
    let swept = run_market(&app, Utc::now()).await;
    assert_eq!(swept.forward.due, 1, "{swept:?}");
    let due = app.get(&format!("/v1/sales/{sale}"), b.token()).await;
    assert_eq!(due.body["total"], "4800.00", "{}", due.text);
    assert_eq!(due.body["paid"], "480.00");
    assert_eq!(
        funds(&app, &b).await,
        (d("520.00"), Decimal::ZERO),
        "120.00 of the margin back"
    );
    app.get("/v1/audit/verify", l.custody.admin.token()).await;
    let events = app.get("/v1/events?limit=200", b.token()).await;
    assert!(events.text.contains("forward.due"), "{}", events.text);
    // The buyer pays the rest, ten days after the sale was made but before its due date:
    // settled, and on time for its tier.
    app.sql(&format!(
        "UPDATE sales SET created_at = now() - interval '10 days' WHERE id = '{sale}'"
    ))
    .await;
    let paid = app
        .post_keyed(
            &format!("/v1/sales/{sale}/payments"),
            b.token(),
            &json!({"amount": "4320.00"}),
        )
        .await;
    assert_eq!(paid.status, 201, "{}", paid.text);
    assert_eq!(paid.body["sale"]["status"], "settled");
    fixtures::close_days(&app, 0).await;
    let me = app.get(&format!("/v1/orgs/{}", b.org_id), b.token()).await;
    let metrics = &me.body["tier"]["metrics"];
    assert_eq!(
        (
            metrics["payments_counted"].as_i64(),
            metrics["paid_on_time"].as_i64()
        ),
        (Some(1), Some(1)),
        "{}",
        me.text
    );
    assert_eq!(
        run_market(&app, Utc::now() + Duration::days(10))
            .await
            .forward,
        Default::default()
    );
    assert_escrow_is_open_deposits(&app).await;
    assert_books_balance(&app, &l.custody.admin).await;
}

#[tokio::test]
async fn a_forward_buyer_that_does_not_pay_in_time_forfeits_its_margin() {
    let app = TestApp::spawn().await;
    let l = lending(&app).await;
    let (lot, voyage, carrier) = at_sea(&app, &l, "500").await;
    let b = buyer(&app, Some("300.00")).await;
    let accepted = sold_forward(&app, &l, &lot, "500", &b).await;
    assert_eq!(accepted.status, 201, "{}", accepted.text);
    let sale = id(&accepted.body["sale"]);
    arrives(&app, &l, &lot, &voyage, &carrier, None).await;
    let now = Utc::now();
    assert_eq!(run_market(&app, now).await.forward.due, 1);
    // Two business days on, unpaid: the margin (300.00) goes to the seller; the goods are free.
    let swept = run_market(&app, now + Duration::days(5)).await;
    assert_eq!(swept.forward.forfeited, 1, "{swept:?}");
    let ended = app
        .get(&format!("/v1/sales/{sale}"), l.custody.supplier.token())
        .await;
    assert_eq!(ended.body["status"], "forfeited", "{}", ended.text);
    let freed = app
        .get(
            &format!("/v1/lots/{}", id(&lot)),
            l.custody.supplier.token(),
        )
        .await;
    assert_eq!(freed.body["quantity_reserved"], "0.000");
    assert_eq!(funds(&app, &b).await, (Decimal::ZERO, Decimal::ZERO));
    let supplier_cash = app
        .value(&format!(
            "SELECT coalesce(sum(l.amount), 0)::numeric(20, 2) FROM journal_lines l JOIN ledger_accounts a
             ON a.id = l.account_id JOIN journal_entries e ON e.id = l.entry_id
             WHERE a.org_id = '{}' AND a.kind = 'cash' AND e.kind = 'forfeit'",
            l.custody.supplier.org_id
        ))
        .await;
    assert_eq!(
        supplier_cash, "300.00",
        "no loan on the goods: all to the supplier"
    );
    assert_escrow_is_open_deposits(&app).await;
    assert_books_balance(&app, &l.custody.admin).await;
}
