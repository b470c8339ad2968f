//! The market through the API: listings of goods the platform holds, what buyers see of them
//! and when, offers and the sales they become.

use crate::fixtures::{self, Lending, assert_books_balance, lending};
use crate::support::{Session, TestApp};
use holdfast::auth::OrgKind;
use serde_json::{Value, json};

struct World {
    l: Lending,
    buyer: Session,
}

async fn world(app: &TestApp) -> World {
    let l = lending(app).await;
    let buyer = app.owner_of(OrgKind::Buyer).await;
    World { l, buyer }
}

fn id(value: &Value) -> String {
    value["id"].as_str().expect("an id").to_owned()
}

/// Sets an org's tier as the daily job would have.
async fn tier(app: &TestApp, who: &Session, tier: &str) {
    app.sql(&format!(
        "UPDATE orgs SET tier = '{tier}' WHERE id = '{}'",
        who.org_id
    ))
    .await;
}

/// Moves a listing's opening back by `minutes` (time passing).
async fn opened_ago(app: &TestApp, listing: &str, minutes: i64) {
    app.sql(&format!(
        "UPDATE listings SET opened_at = now() - interval '{minutes} minutes' WHERE id = '{listing}'"
    ))
    .await;
}

impl World {
    async fn list(&self, app: &TestApp, lot: &str, quantity: &str, price: &str) -> Value {
        let listed = app
            .post_keyed(
                "/v1/listings",
                self.l.custody.supplier.token(),
                &json!({"lot_id": lot, "quantity": quantity, "mode": "fixed", "currency": "CNY", "unit_price": price}),
            )
            .await;
        assert_eq!(listed.status, 201, "{}", listed.text);
        listed.body
    }

    async fn offer(
        &self,
        app: &TestApp,
        buyer: &Session,
        listing: &str,
        quantity: &str,
        price: &str,
    ) -> crate::support::Reply {
        app.post_keyed(
            &format!("/v1/listings/{listing}/offers"),
            buyer.token(),
            &json!({"quantity": quantity, "unit_price": price}),
        )
        .await
    }
}

#[tokio::test]
async fn a_listing_shows_buyers_what_the_platform_verified_and_never_the_sellers_loans() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let c = &w.l.custody;
    // The lot carries a loan: buyers must not learn of it.
    let (lot, loan) = w.l.active_loan(&app, "10000", "24000").await;
    let listing = w.list(&app, &id(&lot), "4000", "6.80").await;
    assert_eq!(listing["status"], "open");
    assert_eq!(listing["quantity_available"], "4000.000");
    assert_eq!(listing["seller_tier"], "bronze");
    let verified = &listing["verified"];
    assert_eq!(verified["commodity_code"], c.commodity.as_str());
    assert_eq!(verified["grade"], lot["grade"]);
    assert_eq!(verified["quantity_on_hand"], "10000.000");
    assert_eq!(verified["warehouse_id"], c.warehouse_id.as_str());
    assert_eq!(verified["days_in_custody"], 0);
    assert_eq!(verified["breaches_in_custody"], 0);
    assert_eq!(verified["freshness_factor"], "1");
    // A platinum buyer sees it at once, with the facts and without the loan.
    tier(&app, &w.buyer, "platinum").await;
    let seen = app
        .get(&format!("/v1/listings/{}", id(&listing)), w.buyer.token())
        .await;
    assert_eq!(seen.status, 200, "{}", seen.text);
    assert_eq!(seen.body["verified"], listing["verified"]);
    assert!(seen.body.get("loan_id").is_none());
    assert!(
        !seen.text.contains(&loan),
        "the loan's id is nowhere in a buyer's answer"
    );
    assert!(!seen.text.contains("ltv") && !seen.text.contains("principal"));
    // Another supplier's lot cannot be listed: no such lot.
    let other = app.owner_of(OrgKind::Supplier).await;
    app.post_keyed(
        "/v1/listings",
        other.token(),
        &json!({"lot_id": id(&lot), "quantity": "10", "mode": "fixed", "currency": "CNY", "unit_price": "6"}),
    )
    .await
    .assert_error(404, "lot_not_found");
    // One open listing per lot; more than is free, a missing price, a mode's terms missing or
    // another's given, a mode that does not exist: refused.
    let again = json!({"lot_id": id(&lot), "quantity": "10", "mode": "fixed", "currency": "CNY", "unit_price": "6"});
    app.post_keyed("/v1/listings", c.supplier.token(), &again)
        .await
        .assert_error(409, "listing_exists");
    let lot2 = c.lot_in_custody(&app, "500").await;
    for (body, field) in [
        (
            json!({"lot_id": id(&lot2), "quantity": "5", "mode": "fixed", "currency": "CNY"}),
            "unit_price",
        ),
        (
            json!({"lot_id": id(&lot2), "quantity": "5", "mode": "group", "currency": "CNY", "unit_price": "6"}),
            "unit_price",
        ),
        (
            json!({"lot_id": id(&lot2), "quantity": "5", "mode": "auction", "currency": "CNY", "unit_price": "6"}),
            "unit_price",
        ),
        (
            json!({"lot_id": id(&lot2), "quantity": "5", "mode": "barter", "currency": "CNY", "unit_price": "6"}),
            "mode",
        ),
        (
            json!({"lot_id": id(&lot2), "quantity": "5", "mode": "fixed", "currency": "XXX", "unit_price": "6"}),
            "currency",
        ),
    ] {
        let refused = app
            .post_keyed("/v1/listings", c.supplier.token(), &body)
            .await;
        assert_eq!(
            (refused.status, refused.field()),
            (422, field),
            "{}",
            refused.text
        );
    }
    // A supplier cannot sell as a lender.
    let as_lender = app
        .post_keyed(
            "/v1/listings",
            c.supplier.token(),
            &json!({"lot_id": id(&lot2), "quantity": "5", "mode": "fixed", "currency": "CNY", "unit_price": "6", "loan_id": loan}),
        )
        .await;
    assert_eq!(
        (as_lender.status, as_lender.field()),
        (403, "loan_id"),
        "{}",
        as_lender.text
    );
    // More than the lot has free is a conflict with its state, naming the quantity.
    let more = app
        .post_keyed(
            "/v1/listings",
            c.supplier.token(),
            &json!({"lot_id": id(&lot2), "quantity": "501", "mode": "fixed", "currency": "CNY", "unit_price": "6"}),
        )
        .await;
    assert_eq!(
        (more.status, more.field()),
        (409, "quantity"),
        "{}",
        more.text
    );
    assert_eq!(more.body["error"]["details"]["quantity_free"], "500.000");
    // Warehouse staff and buyers do not list.
    app.post_keyed("/v1/listings", w.buyer.token(), &again)
        .await
        .assert_error(403, "forbidden");
    app.post_keyed("/v1/listings", c.warehouse_staff.token(), &again)
        .await
        .assert_error(403, "forbidden");
}

#[tokio::test]
async fn new_listings_reach_buyers_by_tier_and_rank_by_seller_tier_then_freshness() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let c = &w.l.custody;
    let (gold, silver, bronze) = (
        app.owner_of(OrgKind::Buyer).await,
        app.owner_of(OrgKind::Buyer).await,
        app.owner_of(OrgKind::Buyer).await,
    );
    tier(&app, &w.buyer, "platinum").await;
    tier(&app, &gold, "gold").await;
    tier(&app, &silver, "silver").await;
    let lot = c.lot_in_custody(&app, "1000").await;
    let listing = id(&w.list(&app, &id(&lot), "1000", "6.50").await);
    let sees = |who: &Session| {
        let token = who.token().to_owned();
        let app = &app;
        let listing = listing.clone();
        async move {
            let page = app.get("/v1/listings", &token).await;
            assert_eq!(page.status, 200, "{}", page.text);
            page.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .any(|l| l["id"] == listing.as_str())
        }
    };
    // Just opened: platinum only; a bronze buyer asking for it by id finds nothing.
    assert_eq!(
        (
            sees(&w.buyer).await,
            sees(&gold).await,
            sees(&silver).await,
            sees(&bronze).await
        ),
        (true, false, false, false)
    );
    app.get(&format!("/v1/listings/{listing}"), bronze.token())
        .await
        .assert_error(404, "listing_not_found");
    w.offer(&app, &bronze, &listing, "10", "6.40")
        .await
        .assert_error(404, "listing_not_found");
    for (minutes, expected) in [
        (121, (true, true, false, false)),
        (361, (true, true, true, false)),
        (1441, (true, true, true, true)),
    ] {
        opened_ago(&app, &listing, minutes).await;
        assert_eq!(
            (
                sees(&w.buyer).await,
                sees(&gold).await,
                sees(&silver).await,
                sees(&bronze).await
            ),
            expected,
            "{minutes} minutes after opening"
        );
    }
    let seen = app
        .get(&format!("/v1/listings/{listing}"), gold.token())
        .await;
    let opened: chrono::DateTime<chrono::Utc> =
        seen.body["opened_at"].as_str().unwrap().parse().unwrap();
    let visible: chrono::DateTime<chrono::Utc> =
        seen.body["visible_from"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        visible - opened,
        chrono::Duration::minutes(120),
        "gold sees it two hours on"
    );

    // Ranking: a gold seller's listing first; then, at one tier, the fresher goods.
    let gold_seller = &c.supplier;
    let other = app.owner_of(OrgKind::Supplier).await;
    app.sql(&format!(
        "UPDATE orgs SET tier = 'gold' WHERE id = '{}'",
        gold_seller.org_id
    ))
    .await;
    let fresh = c.lot_in_custody(&app, "100").await;
    let older = c.lot_in_custody(&app, "100").await;
    app.sql(&format!(
        "UPDATE lots SET packed_on = packed_on - 120 WHERE id = '{}'",
        id(&older)
    ))
    .await;
    let fresh_listing = id(&w.list(&app, &id(&fresh), "100", "7").await);
    let older_listing = id(&w.list(&app, &id(&older), "100", "5").await);
    // `listing` was listed while the seller was bronze: it ranks below both.
    let page = app.get("/v1/listings?limit=10", w.buyer.token()).await;
    let order: Vec<&str> = page.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        order,
        [
            fresh_listing.as_str(),
            older_listing.as_str(),
            listing.as_str()
        ]
    );
    // Filters: commodity, grade, warehouse, quantity, price; a bad mode names the field.
    let filtered = app
        .get(
            &format!(
                "/v1/listings?commodity_code={}&warehouse_id={}&min_quantity=500&max_price=6.5",
                c.commodity, c.warehouse_id
            ),
            w.buyer.token(),
        )
        .await;
    let ids: Vec<&str> = filtered.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [listing.as_str()]);
    let none = app.get("/v1/listings?grade=Z", w.buyer.token()).await;
    assert_eq!(none.body["items"], json!([]));
    let bad = app.get("/v1/listings?mode=swap", w.buyer.token()).await;
    assert_eq!((bad.status, bad.field()), (422, "mode"));
    // A seller sees its own listings, not another's.
    let theirs = app.get("/v1/listings", other.token()).await;
    assert_eq!(theirs.body["items"], json!([]));
    app.get(&format!("/v1/listings/{listing}"), other.token())
        .await
        .assert_error(404, "listing_not_found");
}

#[tokio::test]
async fn an_accepted_offer_becomes_a_sale_that_settles_and_the_listing_closes_when_taken() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let c = &w.l.custody;
    tier(&app, &w.buyer, "platinum").await;
    let second = app.owner_of(OrgKind::Buyer).await;
    tier(&app, &second, "platinum").await;
    let lot = c.lot_in_custody(&app, "1000").await;
    let listing = id(&w.list(&app, &id(&lot), "600", "6.50").await);
    // Offers beyond what is listed, or malformed, are refused naming the field.
    for (quantity, price, field) in [("10", "-1", "unit_price"), ("ten", "6", "quantity")] {
        let refused = w.offer(&app, &w.buyer, &listing, quantity, price).await;
        assert_eq!(
            (refused.status, refused.field()),
            (422, field),
            "{}",
            refused.text
        );
    }
    let beyond = w.offer(&app, &w.buyer, &listing, "601", "6.40").await;
    assert_eq!(
        (beyond.status, beyond.field()),
        (409, "quantity"),
        "{}",
        beyond.text
    );
    let first = w.offer(&app, &w.buyer, &listing, "400", "6.40").await;
    assert_eq!(first.status, 201, "{}", first.text);
    assert_eq!(first.body["status"], "open");
    let rival = w.offer(&app, &second, &listing, "300", "6.45").await;
    assert_eq!(rival.status, 201, "{}", rival.text);
    let low = w.offer(&app, &second, &listing, "50", "5.00").await;
    // Each buyer sees its own offers; the seller all on its listing.
    let mine = app.get("/v1/offers", w.buyer.token()).await;
    assert_eq!(mine.body["items"].as_array().unwrap().len(), 1);
    let on_listing = app
        .get(
            &format!("/v1/offers?listing_id={listing}"),
            c.supplier.token(),
        )
        .await;
    assert_eq!(on_listing.body["items"].as_array().unwrap().len(), 3);
    // A buyer cannot accept; another seller finds no such offer.
    app.post_keyed(
        &format!("/v1/offers/{}/accept", id(&first.body)),
        w.buyer.token(),
        &json!({}),
    )
    .await
    .assert_error(403, "forbidden");
    let stranger = app.owner_of(OrgKind::Supplier).await;
    app.post_keyed(
        &format!("/v1/offers/{}/accept", id(&first.body)),
        stranger.token(),
        &json!({}),
    )
    .await
    .assert_error(404, "offer_not_found");
    // The seller rejects the low one, accepts the first: a sale at its price and quantity.
    let rejected = app
        .post(
            &format!("/v1/offers/{}/reject", id(&low.body)),
            c.supplier.token(),
            &json!({"reason": "too low"}),
        )
        .await;
    assert_eq!(
        (rejected.status, rejected.body["status"].as_str()),
        (200, Some("rejected"))
    );
    app.post(
        &format!("/v1/offers/{}/reject", id(&low.body)),
        c.supplier.token(),
        &json!({}),
    )
    .await
    .assert_error(409, "offer_status");
    let accepted = app
        .post_keyed(
            &format!("/v1/offers/{}/accept", id(&first.body)),
            c.supplier.token(),
            &json!({}),
        )
        .await;
    assert_eq!(accepted.status, 201, "{}", accepted.text);
    assert_eq!(accepted.body["offer"]["status"], "accepted");
    let sale = &accepted.body["sale"];
    assert_eq!(sale["buyer_org_id"], json!(w.buyer.org_id));
    assert_eq!(sale["lines"][0]["quantity"], "400.000");
    assert_eq!(sale["total"], "2560.00");
    let after = app
        .get(&format!("/v1/listings/{listing}"), c.supplier.token())
        .await;
    assert_eq!(after.body["quantity_available"], "200.000");
    // The rival asks for more than is left now: accepting it is refused.
    app.post_keyed(
        &format!("/v1/offers/{}/accept", id(&rival.body)),
        c.supplier.token(),
        &json!({}),
    )
    .await
    .assert_error(409, "quantity_not_available");
    // The buyer pays; the sale settles as any sale does.
    let paid = app
        .post_keyed(
            &format!("/v1/sales/{}/payments", id(sale)),
            w.buyer.token(),
            &json!({"amount": "2560.00"}),
        )
        .await;
    assert_eq!(paid.status, 201, "{}", paid.text);
    let settled = app
        .get(&format!("/v1/sales/{}", id(sale)), w.buyer.token())
        .await;
    assert_eq!(settled.body["status"], "settled", "{}", settled.text);
    // An offer for the rest closes the listing; the rival's open offer is rejected as sold out.
    let rest = w.offer(&app, &w.buyer, &listing, "200", "6.50").await;
    let taken = app
        .post_keyed(
            &format!("/v1/offers/{}/accept", id(&rest.body)),
            c.supplier.token(),
            &json!({}),
        )
        .await;
    assert_eq!(taken.status, 201, "{}", taken.text);
    let closed = app
        .get(&format!("/v1/listings/{listing}"), c.supplier.token())
        .await;
    assert_eq!(closed.body["status"], "closed");
    let rival_now = app
        .get(
            &format!("/v1/offers?listing_id={listing}&status=rejected"),
            second.token(),
        )
        .await;
    let reasons: Vec<&str> = rival_now.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["reason"].as_str().unwrap_or(""))
        .collect();
    assert!(reasons.contains(&"sold_out"), "{reasons:?}");
    // Closed listings take no offers and are gone from the market.
    w.offer(&app, &w.buyer, &listing, "1", "6.5")
        .await
        .assert_error(404, "listing_not_found");
    // Every step left an event for the seller.
    // Verifying the trail seals what is pending, which places it in the feed.
    app.get("/v1/audit/verify", c.admin.token()).await;
    let events = app.get("/v1/events?limit=200", c.supplier.token()).await;
    assert_eq!(events.status, 200, "{}", events.text);
    for kind in [
        "listing.opened",
        "offer.made",
        "offer.accepted",
        "offer.rejected",
        "listing.closed",
    ] {
        assert!(events.text.contains(kind), "{kind} in the feed");
    }
    assert_books_balance(&app, &c.admin).await;
}

#[tokio::test]
async fn two_sellers_accepting_and_a_withdrawal_racing_leave_one_winner() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let c = &w.l.custody;
    tier(&app, &w.buyer, "platinum").await;
    let second = app.owner_of(OrgKind::Buyer).await;
    tier(&app, &second, "platinum").await;
    let lot = c.lot_in_custody(&app, "100").await;
    let listing = id(&w.list(&app, &id(&lot), "100", "6").await);
    let a = id(&w.offer(&app, &w.buyer, &listing, "80", "6").await.body);
    let b = id(&w.offer(&app, &second, &listing, "70", "6").await.body);
    // Two accepts race for 100: exactly one becomes a sale.
    let (pa, pb, empty) = (
        format!("/v1/offers/{a}/accept"),
        format!("/v1/offers/{b}/accept"),
        json!({}),
    );
    let (ra, rb) = tokio::join!(
        app.post_keyed(&pa, c.supplier.token(), &empty),
        app.post_keyed(&pb, c.supplier.token(), &empty),
    );
    let mut statuses = [ra.status, rb.status];
    statuses.sort();
    assert_eq!(statuses, [201, 409], "{} / {}", ra.text, rb.text);
    assert_eq!(app.count("sales").await, 1);
    let now = app
        .get(&format!("/v1/lots/{}", id(&lot)), c.supplier.token())
        .await;
    let reserved: rust_decimal::Decimal = now.body["quantity_reserved"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        reserved == rust_decimal::Decimal::from(80) || reserved == rust_decimal::Decimal::from(70),
        "{reserved}"
    );
    // Withdrawn: open offers are rejected, the listing leaves the market.
    let c2 = w.offer(&app, &second, &listing, "5", "6").await;
    assert_eq!(c2.status, 201, "{}", c2.text);
    let withdrawn = app
        .post_keyed(
            &format!("/v1/listings/{listing}/withdraw"),
            c.supplier.token(),
            &json!({}),
        )
        .await;
    assert_eq!(
        (withdrawn.status, withdrawn.body["status"].as_str()),
        (200, Some("withdrawn")),
        "{}",
        withdrawn.text
    );
    let ended = app
        .get(
            &format!("/v1/offers?listing_id={listing}&status=rejected"),
            second.token(),
        )
        .await;
    assert!(ended.text.contains("listing_withdrawn"), "{}", ended.text);
    app.post_keyed(
        &format!("/v1/listings/{listing}/withdraw"),
        c.supplier.token(),
        &json!({}),
    )
    .await
    .assert_error(409, "listing_status");
    // The lot can be listed again.
    let again = w.list(&app, &id(&lot), "20", "6.1").await;
    assert_eq!(again["status"], "open");
    assert_books_balance(&app, &c.admin).await;
}

#[tokio::test]
async fn a_lender_lists_the_goods_of_its_liquidating_loan_and_the_sale_repays_it() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let c = &w.l.custody;
    tier(&app, &w.buyer, "platinum").await;
    let (lot, loan) = w.l.active_loan(&app, "10000", "30000.00").await;
    let listing_body = json!({"lot_id": id(&lot), "quantity": "10000", "mode": "fixed", "currency": "CNY", "unit_price": "3.40", "loan_id": loan});
    // An active loan's goods are not the lender's to list.
    app.post_keyed("/v1/listings", w.l.lender.token(), &listing_body)
        .await
        .assert_error(409, "loan_status");
    fixtures::post_price(
        &app,
        &c.admin,
        &c.commodity,
        "3.50",
        &chrono::Utc::now().to_rfc3339(),
    )
    .await;
    let liquidate = app
        .post(
            &format!("/v1/loans/{loan}/liquidate"),
            w.l.lender.token(),
            &json!({}),
        )
        .await;
    assert_eq!(liquidate.status, 201, "{}", liquidate.text);
    let listed = app
        .post_keyed("/v1/listings", w.l.lender.token(), &listing_body)
        .await;
    assert_eq!(listed.status, 201, "{}", listed.text);
    assert_eq!(listed.body["loan_id"], json!(loan));
    let seen = app
        .get(
            &format!("/v1/listings/{}", id(&listed.body)),
            w.buyer.token(),
        )
        .await;
    assert!(
        seen.body.get("loan_id").is_none(),
        "buyers never see the loan"
    );
    let offered = w
        .offer(&app, &w.buyer, &id(&listed.body), "10000", "3.40")
        .await;
    assert_eq!(offered.status, 201, "{}", offered.text);
    let accepted = app
        .post_keyed(
            &format!("/v1/offers/{}/accept", id(&offered.body)),
            w.l.lender.token(),
            &json!({}),
        )
        .await;
    assert_eq!(accepted.status, 201, "{}", accepted.text);
    let sale = id(&accepted.body["sale"]);
    assert_eq!(accepted.body["sale"]["kind"], "liquidation");
    let paid = app
        .post_keyed(
            &format!("/v1/sales/{sale}/payments"),
            w.buyer.token(),
            &json!({"amount": "34000.00"}),
        )
        .await;
    assert_eq!(paid.status, 201, "{}", paid.text);
    let after = w.l.loan(&app, &loan).await;
    assert_ne!(after["status"], "liquidating", "{after}");
    assert_books_balance(&app, &c.admin).await;
}

#[tokio::test]
async fn offers_expire_at_their_time_and_the_market_job_marks_them_and_tells_both_sides() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let c = &w.l.custody;
    tier(&app, &w.buyer, "platinum").await;
    let lot = c.lot_in_custody(&app, "100").await;
    let listing = id(&w.list(&app, &id(&lot), "100", "6").await);
    let short = app
        .post_keyed(
            &format!("/v1/listings/{listing}/offers"),
            w.buyer.token(),
            &json!({"quantity": "10", "unit_price": "5.9", "valid_hours": 1}),
        )
        .await;
    assert_eq!(short.status, 201, "{}", short.text);
    let standing = id(&w.offer(&app, &w.buyer, &listing, "20", "5.8").await.body);
    for hours in [0, 169] {
        let refused = app
            .post_keyed(
                &format!("/v1/listings/{listing}/offers"),
                w.buyer.token(),
                &json!({"quantity": "1", "unit_price": "5", "valid_hours": hours}),
            )
            .await;
        assert_eq!((refused.status, refused.field()), (422, "valid_hours"));
    }
    // An hour on, the short offer reads as expired and cannot be accepted, before any job.
    app.sql(&format!(
        "UPDATE offers SET expires_at = now() - interval '1 second' WHERE id = '{}'",
        id(&short.body)
    ))
    .await;
    let mine = app.get("/v1/offers?status=expired", w.buyer.token()).await;
    assert_eq!(
        mine.body["items"].as_array().unwrap().len(),
        1,
        "{}",
        mine.text
    );
    app.post_keyed(
        &format!("/v1/offers/{}/accept", id(&short.body)),
        c.supplier.token(),
        &json!({}),
    )
    .await
    .assert_error(409, "offer_status");
    // The job marks it, once; the standing offer is left alone.
    let swept = holdfast::market::job::run(&app.pool, chrono::Utc::now())
        .await
        .unwrap();
    assert_eq!(swept.map(|s| s.offers_expired), Some(1));
    let again = holdfast::market::job::run(&app.pool, chrono::Utc::now())
        .await
        .unwrap();
    assert_eq!(again.map(|s| s.offers_expired), Some(0));
    let open = app
        .get(
            &format!("/v1/offers?listing_id={listing}&status=open"),
            c.supplier.token(),
        )
        .await;
    let ids: Vec<&str> = open.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [standing.as_str()]);
    app.get("/v1/audit/verify", c.admin.token()).await;
    for who in [&w.buyer, &c.supplier] {
        let events = app.get("/v1/events?limit=200", who.token()).await;
        assert!(events.text.contains("offer.expired"), "{}", events.text);
    }
    // Run ahead as `holdfast jobs market --as-of` would: the standing offer expires too.
    let ahead =
        holdfast::market::job::run(&app.pool, chrono::Utc::now() + chrono::Duration::hours(49))
            .await
            .unwrap();
    assert_eq!(ahead.map(|s| s.offers_expired), Some(1));
}

#[tokio::test]
async fn buyers_earn_tiers_by_completing_purchases_and_paying_on_time_and_lose_them_by_not() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let c = &w.l.custody;
    let sell = |quantity: &'static str| {
        let app = &app;
        let w = &w;
        async move {
            let lot = w.l.custody.lot_in_custody(app, quantity).await;
            let sold = app
                .post_keyed(
                    "/v1/sales",
                    w.l.custody.supplier.token(),
                    &json!({"buyer_org_id": w.buyer.org_id, "currency": "CNY",
                            "lines": [{"lot_id": lot["id"], "quantity": quantity, "unit_price": "6.00"}]}),
                )
                .await;
            assert_eq!(sold.status, 201, "{}", sold.text);
            sold.body
        }
    };
    // Two purchases of 30,000 paid at once: 60,000 completed, all on time.
    for _ in 0..2 {
        let sale = sell("5000").await;
        let paid = app
            .post_keyed(
                &format!("/v1/sales/{}/payments", id(&sale)),
                w.buyer.token(),
                &json!({"amount": sale["total"]}),
            )
            .await;
        assert_eq!(paid.body["sale"]["status"], "settled", "{}", paid.text);
    }
    let org = format!("/v1/orgs/{}", w.buyer.org_id);
    let before = app.get(&org, w.buyer.token()).await;
    assert_eq!(before.body["tier"]["tier"], "bronze", "{}", before.text);
    assert_eq!(before.body["tier"]["earned_tier"], "silver");
    assert_eq!(
        before.body["tier"]["market"]["visibility_delay_minutes"],
        1440
    );
    fixtures::close_days(&app, 0).await;
    let silver = app.get(&org, w.buyer.token()).await;
    let tier = &silver.body["tier"];
    assert_eq!(tier["tier"], "silver", "{}", silver.text);
    assert_eq!(tier["metrics"]["value_purchased"]["CNY"], "60000.00");
    assert_eq!(tier["metrics"]["purchases_completed"]["CNY"], 2);
    assert_eq!(tier["market"]["visibility_delay_minutes"], 360);
    assert_eq!(tier["market"]["deposit_factor"], "0.85");
    assert_eq!(tier["next"]["tier"], "gold");
    let cny = tier["next"]["requirements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["currency"] == "CNY")
        .expect("a CNY row");
    assert_eq!(
        (
            cny["min_value_purchased"].as_str(),
            cny["min_purchases_completed"].as_i64()
        ),
        (Some("250000"), Some(5))
    );
    // A supplier's tier still reads in its own terms.
    let supplier = app
        .get(
            &format!("/v1/orgs/{}", c.supplier.org_id),
            c.supplier.token(),
        )
        .await;
    assert!(
        supplier.body["tier"]["next"]["requirements"][0]
            .get("min_value_released")
            .is_some(),
        "{}",
        supplier.text
    );
    // A purchase left unpaid three days: one late of three, the tier goes back down.
    let late = sell("100").await;
    app.sql(&format!(
        "UPDATE sales SET created_at = now() - interval '3 days' WHERE id = '{}'",
        id(&late)
    ))
    .await;
    fixtures::close_days(&app, 1).await;
    let down = app.get(&org, w.buyer.token()).await;
    assert_eq!(down.body["tier"]["tier"], "bronze", "{}", down.text);
    assert_eq!(down.body["tier"]["metrics"]["payments_counted"], 3);
    let history: Vec<&str> = down.body["tier"]["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["tier"].as_str().unwrap())
        .collect();
    assert_eq!(history, ["bronze", "silver"]);
    // Another buyer cannot read it.
    let other = app.owner_of(OrgKind::Buyer).await;
    app.get(&org, other.token())
        .await
        .assert_error(404, "org_not_found");
}

#[tokio::test]
async fn a_sale_cancelled_unpaid_gives_its_quantity_back_to_the_listing_which_reopens() {
    let app = TestApp::spawn().await;
    let w = world(&app).await;
    let c = &w.l.custody;
    tier(&app, &w.buyer, "platinum").await;
    let lot = c.lot_in_custody(&app, "100").await;
    let listing = id(&w.list(&app, &id(&lot), "100", "6").await);
    let offer = id(&w.offer(&app, &w.buyer, &listing, "100", "6").await.body);
    let accepted = app
        .post_keyed(
            &format!("/v1/offers/{offer}/accept"),
            c.supplier.token(),
            &json!({}),
        )
        .await;
    assert_eq!(accepted.status, 201, "{}", accepted.text);
    let sale = id(&accepted.body["sale"]);
    let path = format!("/v1/listings/{listing}");
    assert_eq!(
        app.get(&path, c.supplier.token()).await.body["status"],
        "closed"
    );
    // The buyer does not pay; the seller cancels the sale.
    let cancelled = app
        .post_keyed(
            &format!("/v1/sales/{sale}/cancel"),
            c.supplier.token(),
            &json!({}),
        )
        .await;
    assert_eq!(cancelled.status, 200, "{}", cancelled.text);
    let swept = holdfast::market::job::run(&app.pool, chrono::Utc::now())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(swept.sales_cancelled, 1);
    let back = app.get(&path, c.supplier.token()).await.body;
    assert_eq!(
        (back["status"].as_str(), back["quantity_available"].as_str()),
        (Some("open"), Some("100.000")),
        "{back}"
    );
    let mine = app
        .get(
            &format!("/v1/offers?listing_id={listing}&status=cancelled"),
            w.buyer.token(),
        )
        .await;
    assert_eq!(
        mine.body["items"][0]["reason"], "sale_cancelled",
        "{}",
        mine.text
    );
    assert_eq!(mine.body["items"][0]["sale_id"], json!(sale));
    // Once only; another buyer may now take the goods.
    let again = holdfast::market::job::run(&app.pool, chrono::Utc::now())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.sales_cancelled, 0);
    let second = app.owner_of(OrgKind::Buyer).await;
    tier(&app, &second, "platinum").await;
    let offer = w.offer(&app, &second, &listing, "100", "6.1").await;
    let taken = app
        .post_keyed(
            &format!("/v1/offers/{}/accept", id(&offer.body)),
            c.supplier.token(),
            &json!({}),
        )
        .await;
    assert_eq!(taken.status, 201, "{}", taken.text);
    assert_books_balance(&app, &c.admin).await;
}
