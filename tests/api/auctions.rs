//! Auctions through the API: deposits from a buyer's market funds into escrow, bids refused
//! with their reason, the end moved by late bids, the close that awards the highest bid and
//! returns the other deposits, forfeiture by an unpaid winner, relisting, and the money kept
//! whole through all of it.

use crate::fixtures::{
    Lending, assert_books_balance, assert_escrow_is_open_deposits, buyer_of_tier as buyer, dec,
    fund, lending, market_funds as funds, run_market,
};
use crate::support::{Reply, Session, TestApp};
use chrono::{DateTime, Duration, Utc};
use rust_decimal::Decimal;
use serde_json::{Value, json};

fn id(value: &Value) -> String {
    value["id"].as_str().expect("an id").to_owned()
}

async fn bid(app: &TestApp, who: &Session, listing: &str, price: &str) -> Reply {
    app.post_keyed(
        &format!("/v1/listings/{listing}/bids"),
        who.token(),
        &json!({"unit_price": price}),
    )
    .await
}

/// Lists `quantity` of the lot by auction with `terms` over the defaults (reserve 4.00,
/// increment 0.10, two hours from now).
async fn auction(
    app: &TestApp,
    seller: &Session,
    lot: &str,
    quantity: &str,
    terms: Value,
) -> Value {
    let mut auction = json!({
        "reserve_price": "4.00", "min_increment": "0.10",
        "ends_at": (Utc::now() + Duration::hours(2)).to_rfc3339(),
    });
    for (k, v) in terms.as_object().unwrap() {
        auction[k] = v.clone();
    }
    let listed = app
        .post_keyed(
            "/v1/listings",
            seller.token(),
            &json!({"lot_id": lot, "quantity": quantity, "mode": "auction", "currency": "CNY", "auction": auction}),
        )
        .await;
    assert_eq!(listed.status, 201, "{}", listed.text);
    listed.body
}

/// Moves an auction's end to `from_now` (time passing).
async fn ends_in(app: &TestApp, listing: &str, from_now: Duration) {
    app.sql(&format!(
        "UPDATE listings SET ends_at = now() + interval '{0} seconds',
                starts_at = least(starts_at, now() + interval '{0} seconds' - interval '1 hour')
          WHERE id = '{listing}'",
        from_now.num_seconds()
    ))
    .await;
}

struct World {
    l: Lending,
}

impl World {
    async fn new(app: &TestApp) -> Self {
        Self {
            l: lending(app).await,
        }
    }

    fn seller(&self) -> &Session {
        &self.l.custody.supplier
    }

    fn admin(&self) -> &Session {
        &self.l.custody.admin
    }
}

#[tokio::test]
async fn bids_take_deposits_by_tier_are_refused_with_their_reason_and_the_close_awards_the_highest()
{
    let app = TestApp::spawn().await;
    let w = World::new(&app).await;
    let lot = w.l.custody.lot_in_custody(&app, "1000").await;
    let listing = auction(&app, w.seller(), &id(&lot), "1000", json!({})).await;
    let l = id(&listing);
    assert_eq!(listing["mode"], "auction");
    assert_eq!(listing["status"], "open");
    assert_eq!(listing["auction"]["minimum_bid"], "4.00");
    assert_eq!(listing["extensions_used"], 0);
    assert_eq!(listing["unit_price"], Value::Null);
    let platinum = buyer(&app, "platinum").await;
    let gold = buyer(&app, "gold").await;
    // Gold sees it two hours after it opened.
    app.sql(&format!(
        "UPDATE listings SET opened_at = now() - interval '121 minutes' WHERE id = '{l}'"
    ))
    .await;
    // Platinum's deposit is half of 10 % of reserve × quantity: 200.00. Without funds: refused.
    let seen = app
        .get(&format!("/v1/listings/{l}"), platinum.token())
        .await;
    assert_eq!(
        seen.body["auction"]["your_deposit"], "200.00",
        "{}",
        seen.text
    );
    let broke = bid(&app, &platinum, &l, "4.00").await;
    broke.assert_error(409, "insufficient_funds");
    assert_eq!(broke.body["error"]["details"]["deposit"], "200.00");
    assert_eq!(fund(&app, &platinum, "1000.00").await.status, 201);
    // Below the reserve: refused, naming the minimum.
    let low = bid(&app, &platinum, &l, "3.99").await;
    low.assert_error(409, "bid_too_low");
    assert_eq!(low.field(), "unit_price");
    assert_eq!(low.body["error"]["details"]["minimum_bid"], "4.00");
    let first = bid(&app, &platinum, &l, "4.00").await;
    assert_eq!(first.status, 201, "{}", first.text);
    assert_eq!(first.body["bid"]["deposit"], "200.00");
    assert_eq!(first.body["listing"]["high_bid"], "4.00");
    assert_eq!(first.body["listing"]["auction"]["you_lead"], true);
    assert_eq!(
        funds(&app, &platinum).await,
        (dec(&json!("800.00")), dec(&json!("200.00")))
    );
    // Gold's deposit: 0.70 × 400 = 280. Below the high bid plus the increment: refused.
    assert_eq!(fund(&app, &gold, "300.00").await.status, 201);
    let under = bid(&app, &gold, &l, "4.05").await;
    under.assert_error(409, "bid_too_low");
    assert_eq!(under.body["error"]["details"]["minimum_bid"], "4.10");
    let second = bid(&app, &gold, &l, "4.10").await;
    assert_eq!(second.status, 201, "{}", second.text);
    assert_eq!(second.body["bid"]["deposit"], "280.00");
    // A bidder's later bids take no more deposit.
    let third = bid(&app, &platinum, &l, "4.30").await;
    assert_eq!(third.status, 201, "{}", third.text);
    assert_eq!(third.body["bid"]["deposit"], "0.00");
    // The seller does not bid; nor can it withdraw an auction with bids.
    bid(&app, w.seller(), &l, "5.00")
        .await
        .assert_error(403, "forbidden");
    app.post_keyed(
        &format!("/v1/listings/{l}/withdraw"),
        w.seller().token(),
        &json!({}),
    )
    .await
    .assert_error(409, "auction_has_bids");
    // Every bidder sees every price; who bid, only its own.
    let seen = app
        .get(&format!("/v1/listings/{l}/bids"), gold.token())
        .await;
    let items = seen.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 3, "{}", seen.text);
    assert_eq!(items[0]["unit_price"], "4.00");
    assert!(items[0].get("buyer_org_id").is_none() && items[0]["mine"] == false);
    assert_eq!(items[1]["mine"], true);
    assert_eq!(items[1]["deposit"], "280.00");
    let sellers = app
        .get(&format!("/v1/listings/{l}/bids"), w.seller().token())
        .await;
    assert_eq!(
        sellers.body["items"][0]["buyer_org_id"],
        json!(platinum.org_id)
    );
    assert_escrow_is_open_deposits(&app).await;
    // After the end, bids are late; the close awards the highest and returns the others.
    ends_in(&app, &l, Duration::seconds(-1)).await;
    bid(&app, &gold, &l, "5.00")
        .await
        .assert_error(409, "auction_ended");
    let swept = run_market(&app, Utc::now()).await;
    assert_eq!(swept.auctions.awarded, 1, "{swept:?}");
    let closed = app
        .get(&format!("/v1/listings/{l}"), w.seller().token())
        .await;
    assert_eq!(closed.body["status"], "awarded", "{}", closed.text);
    let sale_id = closed.body["auction"]["sale_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let sale = app
        .get(&format!("/v1/sales/{sale_id}"), platinum.token())
        .await;
    assert_eq!(sale.body["total"], "4300.00", "{}", sale.text);
    assert_eq!(
        sale.body["paid"], "200.00",
        "the deposit is the first payment"
    );
    assert_eq!(sale.body["buyer_org_id"], json!(platinum.org_id));
    assert_eq!(
        funds(&app, &gold).await,
        (dec(&json!("300.00")), Decimal::ZERO)
    );
    assert_eq!(
        funds(&app, &platinum).await,
        (dec(&json!("800.00")), Decimal::ZERO)
    );
    assert_escrow_is_open_deposits(&app).await;
    app.get("/v1/audit/verify", w.admin().token()).await;
    let events = app.get("/v1/events?limit=200", gold.token()).await;
    for action in ["bid.outbid", "deposit.returned"] {
        assert!(events.text.contains(action), "{action}: {}", events.text);
    }
    app.get("/v1/audit/verify", w.admin().token()).await;
    let events = app.get("/v1/events?limit=200", platinum.token()).await;
    assert!(events.text.contains("auction.awarded"), "{}", events.text);
    // The winner pays the rest; the sale settles as any sale does.
    let paid = app
        .post_keyed(
            &format!("/v1/sales/{sale_id}/payments"),
            platinum.token(),
            &json!({"amount": "4100.00"}),
        )
        .await;
    assert_eq!(paid.status, 201, "{}", paid.text);
    assert_eq!(paid.body["sale"]["status"], "settled", "{}", paid.text);
    // A second run finds nothing to do.
    let again = run_market(&app, Utc::now() + Duration::days(10)).await;
    assert_eq!(again.auctions, Default::default());
    assert_books_balance(&app, w.admin()).await;
}

#[tokio::test]
async fn a_late_bid_extends_the_end_a_refused_one_does_not_and_the_cap_holds() {
    let app = TestApp::spawn().await;
    let w = World::new(&app).await;
    let lot = w.l.custody.lot_in_custody(&app, "100").await;
    let listing = auction(
        &app,
        w.seller(),
        &id(&lot),
        "100",
        json!({"max_extensions": 2, "extension_minutes": 5}),
    )
    .await;
    let l = id(&listing);
    let b = buyer(&app, "platinum").await;
    assert_eq!(fund(&app, &b, "100.00").await.status, 201);
    // Ten minutes out: no extension.
    ends_in(&app, &l, Duration::minutes(10)).await;
    let early = bid(&app, &b, &l, "4.00").await;
    assert_eq!(early.status, 201, "{}", early.text);
    assert_eq!(early.body["extended"], false);
    // Two minutes out: a refused bid changes nothing; a valid one moves the end by five.
    ends_in(&app, &l, Duration::minutes(2)).await;
    let before: DateTime<Utc> =
        app.get(&format!("/v1/listings/{l}"), b.token()).await.body["ends_at"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
    bid(&app, &b, &l, "4.05")
        .await
        .assert_error(409, "bid_too_low");
    let after_refusal = app.get(&format!("/v1/listings/{l}"), b.token()).await;
    assert_eq!(after_refusal.body["extensions_used"], 0);
    assert_eq!(
        after_refusal.body["ends_at"]
            .as_str()
            .unwrap()
            .parse::<DateTime<Utc>>()
            .unwrap(),
        before
    );
    let late = bid(&app, &b, &l, "4.10").await;
    assert_eq!(late.status, 201, "{}", late.text);
    assert_eq!(late.body["extended"], true);
    assert_eq!(late.body["listing"]["extensions_used"], 1);
    let moved: DateTime<Utc> = late.body["listing"]["ends_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(moved - before, Duration::minutes(5));
    // Once more, then the cap: the third late bid is taken but the end stays.
    ends_in(&app, &l, Duration::minutes(1)).await;
    let second = bid(&app, &b, &l, "4.20").await;
    assert_eq!(second.body["extended"], true, "{}", second.text);
    ends_in(&app, &l, Duration::minutes(1)).await;
    let capped = bid(&app, &b, &l, "4.30").await;
    assert_eq!(capped.status, 201, "{}", capped.text);
    assert_eq!(capped.body["extended"], false);
    assert_eq!(capped.body["listing"]["extensions_used"], 2);
    app.get("/v1/audit/verify", w.admin().token()).await;
    let events = app.get("/v1/events?limit=200", w.seller().token()).await;
    assert_eq!(
        events.text.matches("auction.extended").count(),
        2,
        "{}",
        events.text
    );
    // An auction not yet started reads as scheduled and refuses bids.
    let later = w.l.custody.lot_in_custody(&app, "50").await;
    let scheduled = auction(
        &app,
        w.seller(),
        &id(&later),
        "50",
        json!({"starts_at": (Utc::now() + Duration::hours(1)).to_rfc3339(),
               "ends_at": (Utc::now() + Duration::hours(3)).to_rfc3339()}),
    )
    .await;
    assert_eq!(scheduled["status"], "scheduled");
    bid(&app, &b, &id(&scheduled), "4.00")
        .await
        .assert_error(409, "auction_not_started");
    let listed = app
        .get("/v1/listings?status=scheduled", w.seller().token())
        .await;
    assert_eq!(
        listed.body["items"].as_array().unwrap().len(),
        1,
        "{}",
        listed.text
    );
    // Terms that cannot hold are refused, naming the field.
    let third = w.l.custody.lot_in_custody(&app, "10").await;
    for (terms, field) in [
        (
            json!({"ends_at": (Utc::now() - Duration::hours(1)).to_rfc3339()}),
            "auction.ends_at",
        ),
        (
            json!({"ends_at": (Utc::now() + Duration::days(40)).to_rfc3339()}),
            "auction.ends_at",
        ),
        (json!({"relist_step": "1"}), "auction.relist_step"),
        (json!({"extension_minutes": 0}), "auction.extension_minutes"),
    ] {
        let mut body = json!({"reserve_price": "4.00", "min_increment": "0.10",
            "ends_at": (Utc::now() + Duration::hours(2)).to_rfc3339()});
        for (k, v) in terms.as_object().unwrap() {
            body[k] = v.clone();
        }
        let refused = app
            .post_keyed(
                "/v1/listings",
                w.seller().token(),
                &json!({"lot_id": id(&third), "quantity": "10", "mode": "auction", "currency": "CNY", "auction": body}),
            )
            .await;
        assert_eq!(
            (refused.status, refused.field()),
            (422, field),
            "{}",
            refused.text
        );
    }
}

#[tokio::test]
async fn an_unpaid_winner_forfeits_its_deposit_to_the_lender_first_and_the_goods_are_offered_again()
{
    let app = TestApp::spawn().await;
    let w = World::new(&app).await;
    let (lot, loan) = w.l.active_loan(&app, "1000", "2000.00").await;
    let listing = auction(
        &app,
        w.seller(),
        &id(&lot),
        "1000",
        json!({"deposit_rate": "0.25", "payment_days": 2}),
    )
    .await;
    let l = id(&listing);
    let b = buyer(&app, "bronze").await;
    app.sql(&format!(
        "UPDATE listings SET opened_at = now() - interval '25 hours' WHERE id = '{l}'"
    ))
    .await;
    assert_eq!(fund(&app, &b, "1000.00").await.status, 201);
    let placed = bid(&app, &b, &l, "4.50").await;
    assert_eq!(placed.body["bid"]["deposit"], "1000.00", "{}", placed.text);
    ends_in(&app, &l, Duration::seconds(-1)).await;
    let now = Utc::now();
    assert_eq!(run_market(&app, now).await.auctions.awarded, 1);
    let owed_before = w.l.loan(&app, &loan).await;
    // Paid nothing more by the deadline (two business days): forfeited.
    let swept = run_market(&app, now + Duration::days(5)).await;
    assert_eq!(swept.auctions.forfeited, 1, "{swept:?}");
    let old = app
        .get(&format!("/v1/listings/{l}"), w.seller().token())
        .await;
    assert_eq!(
        (
            old.body["status"].as_str(),
            old.body["auction"]["outcome"].as_str()
        ),
        (Some("unsold"), Some("unpaid")),
        "{}",
        old.text
    );
    let sale_id = old.body["auction"]["sale_id"].as_str().unwrap().to_owned();
    let sale = app
        .get(&format!("/v1/sales/{sale_id}"), w.seller().token())
        .await;
    assert_eq!(sale.body["status"], "forfeited", "{}", sale.text);
    // The deposit paid the lender: the loan owes 1,000 less (interest, then principal).
    let owed_after = w.l.loan(&app, &loan).await;
    let principal = |v: &Value| dec(&v["outstanding_principal"]);
    assert!(
        principal(&owed_before) - principal(&owed_after) > Decimal::from(990),
        "{owed_before} / {owed_after}"
    );
    // The goods are free again and offered at the same reserve.
    let lot_now = app
        .get(&format!("/v1/lots/{}", id(&lot)), w.seller().token())
        .await;
    assert_eq!(
        lot_now.body["quantity_reserved"], "0.000",
        "{}",
        lot_now.text
    );
    let open = app
        .get("/v1/listings?status=open&mode=auction", w.seller().token())
        .await;
    let relisted = &open.body["items"][0];
    assert_eq!(
        relisted["auction"]["relisted_from"],
        json!(l),
        "{}",
        open.text
    );
    assert_eq!(relisted["auction"]["reserve_price"], "4.00");
    assert_eq!(funds(&app, &b).await, (Decimal::ZERO, Decimal::ZERO));
    assert_eq!(
        app.value(&format!(
            "SELECT status FROM market_deposits WHERE sale_id = '{sale_id}'"
        ))
        .await,
        "forfeited"
    );
    app.get("/v1/audit/verify", w.admin().token()).await;
    let events = app.get("/v1/events?limit=200", b.token()).await;
    assert!(events.text.contains("auction.forfeited"), "{}", events.text);
    // The buyer's tier counts the forfeited purchase as paid late.
    crate::fixtures::close_days(&app, 0).await;
    let me = app.get(&format!("/v1/orgs/{}", b.org_id), b.token()).await;
    let metrics = &me.body["tier"]["metrics"];
    assert_eq!(
        (
            metrics["payments_counted"].as_i64(),
            metrics["paid_on_time"].as_i64()
        ),
        (Some(1), Some(0)),
        "{}",
        me.text
    );
    assert_escrow_is_open_deposits(&app).await;
    assert_books_balance(&app, w.admin()).await;
}

#[tokio::test]
async fn an_auction_without_bids_is_unsold_and_relisted_lower_at_most_max_relists_times() {
    let app = TestApp::spawn().await;
    let w = World::new(&app).await;
    let lot = w.l.custody.lot_in_custody(&app, "100").await;
    let first = id(&auction(
        &app,
        w.seller(),
        &id(&lot),
        "100",
        json!({"max_relists": 1, "relist_step": "0.10"}),
    )
    .await);
    ends_in(&app, &first, Duration::seconds(-1)).await;
    let swept = run_market(&app, Utc::now()).await;
    assert_eq!(
        (swept.auctions.unsold, swept.auctions.relisted),
        (1, 1),
        "{swept:?}"
    );
    let old = app
        .get(&format!("/v1/listings/{first}"), w.seller().token())
        .await;
    assert_eq!(old.body["status"], "unsold");
    assert_eq!(old.body["auction"]["outcome"], "no_bids");
    let open = app
        .get("/v1/listings?status=open", w.seller().token())
        .await;
    let second = &open.body["items"][0];
    assert_eq!(second["auction"]["reserve_price"], "3.60", "{}", open.text);
    assert_eq!(second["auction"]["relist_count"], 1);
    ends_in(&app, &id(second), Duration::seconds(-1)).await;
    let swept = run_market(&app, Utc::now()).await;
    assert_eq!(
        (swept.auctions.unsold, swept.auctions.relisted),
        (1, 0),
        "{swept:?}"
    );
    let open = app
        .get("/v1/listings?status=open", w.seller().token())
        .await;
    assert_eq!(open.body["items"], json!([]), "{}", open.text);
}

#[tokio::test]
async fn bidders_racing_leave_a_consistent_order_one_deposit_each_and_escrow_equal_to_deposits() {
    let app = TestApp::spawn().await;
    let w = World::new(&app).await;
    let lot = w.l.custody.lot_in_custody(&app, "100").await;
    let l = id(&auction(
        &app,
        w.seller(),
        &id(&lot),
        "100",
        json!({"min_increment": "0.01"}),
    )
    .await);
    let (a, b) = (buyer(&app, "platinum").await, buyer(&app, "platinum").await);
    for who in [&a, &b] {
        assert_eq!(fund(&app, who, "100.00").await.status, 201);
    }
    // Both bid the reserve at once: exactly one is first; the other is below the new minimum.
    let (ra, rb) = tokio::join!(bid(&app, &a, &l, "4.00"), bid(&app, &b, &l, "4.00"));
    let mut statuses = [ra.status, rb.status];
    statuses.sort();
    assert_eq!(statuses, [201, 409], "{} / {}", ra.text, rb.text);
    // Then rounds of racing raises: whatever the interleaving, accepted bids rise.
    for round in 0..5 {
        let (pa, pb) = (
            format!("4.{}", 10 + round * 10),
            format!("4.{}", 15 + round * 10),
        );
        let (ra, rb) = tokio::join!(bid(&app, &a, &l, &pa), bid(&app, &b, &l, &pb));
        for r in [&ra, &rb] {
            assert!(r.status == 201 || r.status == 409, "{}", r.text);
        }
    }
    let bids = app
        .get(&format!("/v1/listings/{l}/bids"), w.seller().token())
        .await;
    let prices: Vec<Decimal> = bids.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| dec(&b["unit_price"]))
        .collect();
    assert!(
        prices.windows(2).all(|p| p[1] >= p[0] + Decimal::new(1, 2)),
        "{prices:?}"
    );
    let listing = app
        .get(&format!("/v1/listings/{l}"), w.seller().token())
        .await;
    assert_eq!(dec(&listing.body["high_bid"]), *prices.last().unwrap());
    assert_eq!(listing.body["auction"]["bid_count"], prices.len());
    // One deposit per bidder, 20.00 each (half of 10 % of 400).
    assert_eq!(app.count("market_deposits").await, 2);
    for who in [&a, &b] {
        assert_eq!(
            funds(&app, who).await,
            (dec(&json!("80.00")), dec(&json!("20.00")))
        );
    }
    assert_escrow_is_open_deposits(&app).await;
    assert_books_balance(&app, w.admin()).await;
}

/// A small deterministic generator, so a failing sequence can be replayed.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % below
    }
}

#[tokio::test]
async fn random_funding_bidding_joining_withdrawing_and_closing_never_lose_or_create_money() {
    let app = TestApp::spawn().await;
    let w = World::new(&app).await;
    let buyers = [
        buyer(&app, "platinum").await,
        buyer(&app, "gold").await,
        buyer(&app, "platinum").await,
    ];
    // Two group buys beside the auctions: members pay in full as they join.
    let mut groups = Vec::new();
    for minimum in ["20", "45"] {
        let lot = w.l.custody.lot_in_custody(&app, "50").await;
        let listed = app
            .post_keyed(
                "/v1/listings",
                w.seller().token(),
                &json!({"lot_id": id(&lot), "quantity": "50", "mode": "group", "currency": "CNY",
                        "group": {"group_price": "0.50", "min_total_quantity": minimum,
                                  "deadline": Utc::now() + Duration::hours(1)}}),
            )
            .await;
        assert_eq!(listed.status, 201, "{}", listed.text);
        groups.push(id(&listed.body));
    }
    let mut listings = Vec::new();
    for _ in 0..3 {
        let lot = w.l.custody.lot_in_custody(&app, "50").await;
        let l = id(&auction(
            &app,
            w.seller(),
            &id(&lot),
            "50",
            json!({"min_increment": "0.05"}),
        )
        .await);
        app.sql(&format!(
            "UPDATE listings SET opened_at = now() - interval '3 hours' WHERE id = '{l}'"
        ))
        .await;
        listings.push(l);
    }
    let mut rng = Lcg(0x5eed_2026);
    // What went into and out of the buyers' funds from outside the market.
    let mut net_in = Decimal::ZERO;
    for who in &buyers {
        assert_eq!(fund(&app, who, "20.00").await.status, 201);
        net_in += Decimal::from(20);
    }
    for step in 0..60 {
        let who = &buyers[rng.next(3) as usize];
        let l = &listings[rng.next(3) as usize];
        match rng.next(7) {
            6 => {
                let group = &groups[rng.next(2) as usize];
                let quantity = format!("{}", 1 + rng.next(20));
                let joined = app
                    .post_keyed(
                        &format!("/v1/listings/{group}/join"),
                        who.token(),
                        &json!({"quantity": quantity}),
                    )
                    .await;
                assert!(
                    matches!(joined.status, 201 | 404 | 409),
                    "step {step}: {}",
                    joined.text
                );
            }
            0 => {
                let amount = format!("{}.00", 5 + rng.next(30));
                if fund(&app, who, &amount).await.status == 201 {
                    net_in += amount.parse::<Decimal>().unwrap();
                }
            }
            1 => {
                let amount = format!("{}.00", 1 + rng.next(20));
                let out = app
                    .post_keyed(
                        "/v1/funds/withdrawals",
                        who.token(),
                        &json!({"currency": "CNY", "amount": amount}),
                    )
                    .await;
                match out.status {
                    201 => net_in -= amount.parse::<Decimal>().unwrap(),
                    409 => assert_eq!(out.body["error"]["code"], "insufficient_funds"),
                    other => panic!("step {step}: withdrawal answered {other}: {}", out.text),
                }
            }
            2 if step > 40 => {
                // Time passes for one auction, and the market job runs.
                ends_in(&app, l, Duration::seconds(-1)).await;
                run_market(&app, Utc::now()).await;
            }
            _ => {
                let price = format!("4.{:02}", rng.next(100));
                let placed = bid(&app, who, l, &price).await;
                assert!(
                    matches!(placed.status, 201 | 404 | 409),
                    "step {step}: {}",
                    placed.text
                );
            }
        }
        assert_escrow_is_open_deposits(&app).await;
    }
    assert!(app.count("bids").await >= 5, "the sequence placed bids");
    assert!(
        app.count("market_deposits").await >= 3,
        "the sequence took deposits"
    );
    // Every auction closes: the highest bids win, the other deposits return; every group
    // fills or fails.
    for l in &listings {
        ends_in(&app, l, Duration::seconds(-1)).await;
    }
    for g in &groups {
        app.sql(&format!(
            "UPDATE listings SET deadline = now() - interval '1 second' WHERE id = '{g}'"
        ))
        .await;
    }
    run_market(&app, Utc::now()).await;
    let ended = app
        .value(
            "SELECT concat_ws(' ', (SELECT count(*) FROM listings WHERE status = 'awarded'),
                    (SELECT count(*) FROM market_deposits WHERE kind = 'group'),
                    (SELECT count(*) FROM market_deposits WHERE status = 'returned'))",
        )
        .await;
    let counts: Vec<i64> = ended.split(' ').map(|n| n.parse().unwrap()).collect();
    assert!(
        counts.iter().all(|n| *n >= 1),
        "awards, group payments and returns all happened: {ended}"
    );
    assert_escrow_is_open_deposits(&app).await;
    // Money in = what the buyers hold free + what deposits hold + what deposits paid to sales.
    let mut held_free = Decimal::ZERO;
    for who in &buyers {
        let (available, held) = funds(&app, who).await;
        assert!(available >= Decimal::ZERO);
        held_free += available + held;
    }
    let applied: Decimal = app
        .value("SELECT coalesce(sum(amount), 0) FROM market_deposits WHERE status = 'applied'")
        .await
        .parse()
        .unwrap();
    assert_eq!(net_in, held_free + applied);
    assert_books_balance(&app, w.admin()).await;
}

#[tokio::test]
async fn a_lender_auctions_a_liquidating_loans_goods_and_the_winners_payment_repays_the_loan() {
    let app = TestApp::spawn().await;
    let w = World::new(&app).await;
    let c = &w.l.custody;
    let (lot, loan) = w.l.active_loan(&app, "1000", "3000.00").await;
    crate::fixtures::post_price(
        &app,
        &c.admin,
        &c.commodity,
        "3.50",
        &Utc::now().to_rfc3339(),
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
        .post_keyed(
            "/v1/listings",
            w.l.lender.token(),
            &json!({"lot_id": id(&lot), "quantity": "1000", "mode": "auction", "currency": "CNY",
                    "loan_id": loan,
                    "auction": {"reserve_price": "3.20", "min_increment": "0.05",
                                "ends_at": (Utc::now() + Duration::hours(2)).to_rfc3339()}}),
        )
        .await;
    assert_eq!(listed.status, 201, "{}", listed.text);
    let l = id(&listed.body);
    let b = buyer(&app, "platinum").await;
    assert_eq!(fund(&app, &b, "500.00").await.status, 201);
    let placed = bid(&app, &b, &l, "3.40").await;
    assert_eq!(placed.status, 201, "{}", placed.text);
    ends_in(&app, &l, Duration::seconds(-1)).await;
    assert_eq!(run_market(&app, Utc::now()).await.auctions.awarded, 1);
    // The close made a liquidation sale in the lender's name, the deposit its first payment.
    let closed = app
        .get(&format!("/v1/listings/{l}"), w.l.lender.token())
        .await;
    let sale_id = closed.body["auction"]["sale_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let sale = app.get(&format!("/v1/sales/{sale_id}"), b.token()).await;
    assert_eq!(sale.body["kind"], "liquidation", "{}", sale.text);
    assert_eq!(
        (sale.body["total"].as_str(), sale.body["paid"].as_str()),
        (Some("3400.00"), Some("160.00"))
    );
    let paid = app
        .post_keyed(
            &format!("/v1/sales/{sale_id}/payments"),
            b.token(),
            &json!({"amount": "3240.00"}),
        )
        .await;
    assert_eq!(paid.status, 201, "{}", paid.text);
    assert_eq!(paid.body["sale"]["status"], "settled", "{}", paid.text);
    let after = w.l.loan(&app, &loan).await;
    assert_ne!(
        after["status"], "liquidating",
        "the proceeds repaid it: {after}"
    );
    assert_escrow_is_open_deposits(&app).await;
    assert_books_balance(&app, w.admin()).await;
}

#[tokio::test]
async fn a_page_of_listings_or_bids_costs_the_same_statements_whatever_its_length() {
    use holdfast::market::model::{BidQuery, ListingQuery};
    let app = TestApp::spawn().await;
    let w = World::new(&app).await;
    let b = buyer(&app, "platinum").await;
    assert_eq!(fund(&app, &b, "10000.00").await.status, 201);
    let mut listings = Vec::new();
    for _ in 0..6 {
        let lot = w.l.custody.lot_in_custody(&app, "100").await;
        let l = id(&auction(&app, w.seller(), &id(&lot), "100", json!({})).await);
        assert_eq!(bid(&app, &b, &l, "4.00").await.status, 201);
        listings.push(l);
    }
    // Six bids on the first.
    for price in ["4.10", "4.20", "4.30", "4.40", "4.50"] {
        assert_eq!(bid(&app, &b, &listings[0], price).await.status, 201);
    }
    let reader = crate::fixtures::owner_principal(&b, holdfast::auth::OrgKind::Buyer);
    let mut counted = Vec::new();
    for limit in [1, 6] {
        let r = &reader;
        let listed = crate::lending::statements_sent(&app, async |conn| {
            let query = ListingQuery {
                limit: Some(limit),
                ..ListingQuery::default()
            };
            let page = holdfast::market::service::listings(conn, r, query)
                .await
                .expect("listings");
            assert_eq!(page.items.len() as i64, limit);
        })
        .await;
        let first = listings[0].parse().unwrap();
        let bids = crate::lending::statements_sent(&app, async |conn| {
            let query = BidQuery {
                limit: Some(limit),
                cursor: None,
            };
            let page = holdfast::market::auction::bids(conn, r, first, query)
                .await
                .expect("bids");
            assert_eq!(page.items.len() as i64, limit);
        })
        .await;
        counted.push((listed, bids));
    }
    assert_eq!(counted[0], counted[1], "one or six: (listings, bids)");
    assert!(counted[0].0 <= 4, "{counted:?}");
}
