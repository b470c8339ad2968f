//! The demo world `serve --demo` loads.

use crate::support::TestApp;
use holdfast::demo::{self, DEMO_PASSWORD};

#[tokio::test]
async fn the_demo_world_has_apples_in_the_cold_store_and_boards_at_sea_and_loads_once() {
    let app = TestApp::spawn().await;
    let logins = demo::load(&app.pool).await.expect("demo");
    assert_eq!(logins.len(), 16);
    let lots_once = app.count("lots").await;
    demo::load(&app.pool).await.expect("demo again");
    assert_eq!(
        app.count("lots").await,
        lots_once,
        "loading twice adds nothing"
    );

    let staff = app
        .login("staff@warehouse.demo.holdfast", DEMO_PASSWORD)
        .await;
    assert!(!staff.access_token.is_empty());
    let warehouse_owner = app
        .login("owner@warehouse.demo.holdfast", DEMO_PASSWORD)
        .await;
    let in_custody = app
        .get("/v1/lots?status=in_custody", warehouse_owner.token())
        .await;
    let apples: Vec<_> = in_custody.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["commodity_code"] == "APPLE_FUJI")
        .collect();
    // Three pledged lots, one sold and waiting to be picked up, one with a sale pending, and
    // four listed in the market (the cooperative's two, one by auction, and the Qixia
    // growers' two, one for group buying).
    assert_eq!(apples.len(), 9, "{}", in_custody.text);
    let supplier = app
        .login("owner@supplier.demo.holdfast", DEMO_PASSWORD)
        .await;
    let at_sea = app
        .get("/v1/lots?status=in_transit", supplier.token())
        .await;
    let boards: Vec<_> = at_sea.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["commodity_code"] == "EUCALYPTUS_BOARD")
        .collect();
    assert_eq!(boards.len(), 2);
    assert_eq!(boards[0]["unit"], "m3");
    let apple = app
        .get(
            &format!("/v1/lots/{}", apples[0]["id"].as_str().unwrap()),
            supplier.token(),
        )
        .await;
    assert_eq!(apple.body["receipt"]["storage_rate_per_unit_day"], "0.004");
    let admin = app
        .login("owner@platform.demo.holdfast", DEMO_PASSWORD)
        .await;
    // The bank lends half the apples' value and a low-rate loan on the boards at sea.
    let bank = app.login("owner@lender.demo.holdfast", DEMO_PASSWORD).await;
    let loans = app.get("/v1/loans?status=active", bank.token()).await;
    let items = loans.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 4, "{}", loans.text);
    for loan in items.iter().take(3) {
        assert_eq!(loan["ltv"], "0.5", "{loan}");
    }
    assert_eq!(items[3]["annual_interest_rate"], "0.035");
    assert_eq!(items[3]["collateral"].as_array().unwrap().len(), 2);
    let book = app.get("/v1/exposure", bank.token()).await;
    assert_eq!(book.body["active_loans"], 4, "{}", book.text);
    // Sales at every stage, and suppliers in different tiers.
    let buyer = app.login("owner@buyer.demo.holdfast", DEMO_PASSWORD).await;
    let sales = app.get("/v1/sales", buyer.token()).await;
    let sales = sales.body["items"].as_array().unwrap().clone();
    let stages: Vec<(&str, bool)> = sales
        .iter()
        .map(|s| {
            (
                s["status"].as_str().unwrap(),
                s["release_orders"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|o| o["status"] == "completed"),
            )
        })
        .collect();
    assert_eq!(
        stages,
        vec![
            ("settled", true),
            ("settled", false),
            ("pending", true),
            ("settled", true),
            ("pending", true)
        ],
        "released, awaiting pickup, pending, released, and the boards sold forward"
    );
    assert_eq!(sales[4]["total"], "118400.00", "80 m3 at 1,480");
    assert_eq!(sales[2]["paid"], "5000.00");
    let cooperative = app
        .get(&format!("/v1/orgs/{}", supplier.org_id), supplier.token())
        .await;
    assert_eq!(
        cooperative.body["tier"]["tier"], "bronze",
        "{}",
        cooperative.text
    );
    let growers = app.login("owner@grower.demo.holdfast", DEMO_PASSWORD).await;
    let growers = app
        .get(&format!("/v1/orgs/{}", growers.org_id), growers.token())
        .await;
    assert_eq!(growers.body["tier"]["tier"], "silver", "{}", growers.text);
    assert_eq!(
        growers.body["tier"]["history"][0]["previous_tier"],
        "bronze"
    );
    let check = app.get("/v1/ledger/check", admin.token()).await;
    assert_eq!(check.body["balanced"], true, "{}", check.text);
    let check = app.get("/v1/custody/reconciliation", admin.token()).await;
    assert_eq!(check.body["consistent"], true, "{}", check.text);
}

#[tokio::test]
async fn demo_warehouse_staff_can_scan_and_demo_staff_cannot_manage_users() {
    let app = TestApp::spawn().await;
    demo::load(&app.pool).await.expect("demo");
    let staff = app
        .login("staff@warehouse.demo.holdfast", DEMO_PASSWORD)
        .await;
    let me = app.get("/v1/me", staff.token()).await;
    assert_eq!(
        me.body["permissions"],
        serde_json::json!(["audit:read", "scans:write", "inspections:write"])
    );
    let lots = app
        .get("/v1/lots?status=in_custody&limit=1", staff.token())
        .await;
    let code = lots.body["items"][0]["code"].clone();
    // The demo lots are pledged in full, so a count may find more, not less.
    let on_hand: rust_decimal::Decimal = lots.body["items"][0]["quantity_on_hand"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let counted = (on_hand + rust_decimal::Decimal::from(5)).to_string();
    let count = crate::fixtures::scan_as(
        &app,
        &staff,
        serde_json::json!({"code": code, "action": "count", "quantity": counted, "reason": "demo"}),
    )
    .await;
    assert_eq!(count.status, 200, "{}", count.text);
}

#[tokio::test]
async fn the_demo_grades_its_apples_by_inspection_and_has_one_lot_overdue() {
    let app = TestApp::spawn().await;
    demo::load(&app.pool).await.expect("demo");
    let supplier = app
        .login("owner@supplier.demo.holdfast", DEMO_PASSWORD)
        .await;
    let lots = app.get("/v1/lots?limit=100", supplier.token()).await;
    let items = lots.body["items"].as_array().expect("items").clone();
    // Every apple lot received was inspected at intake; the 8 t declared A measured B.
    let apples: Vec<&serde_json::Value> = items
        .iter()
        .filter(|l| l["commodity_code"] == "APPLE_FUJI")
        .collect();
    assert!(apples.iter().all(|l| l["last_inspection_id"].is_string()));
    let downgraded: Vec<&&serde_json::Value> = apples
        .iter()
        .filter(|l| l["grade"] != l["declared_grade"])
        .collect();
    assert_eq!(downgraded.len(), 1, "{}", lots.text);
    assert_eq!(downgraded[0]["declared_grade"], "A");
    assert_eq!(downgraded[0]["grade"], "B");
    let history = app
        .get(
            &format!(
                "/v1/lots/{}/inspections",
                downgraded[0]["id"].as_str().expect("id")
            ),
            supplier.token(),
        )
        .await;
    let photos = history.body["items"][0]["photos"]
        .as_array()
        .expect("photos")
        .clone();
    assert_eq!(photos.len(), 2, "{}", history.text);
    let (status, content_type, bytes) = app
        .get_bytes(photos[0]["url"].as_str().expect("url"), supplier.token())
        .await;
    assert_eq!((status, content_type.as_deref()), (200, Some("image/png")));
    assert!(bytes.len() > 1000);
    // The boards that arrived at the yard were inspected there; those at sea were not.
    let arrived: Vec<&serde_json::Value> = items
        .iter()
        .filter(|l| l["commodity_code"] == "EUCALYPTUS_BOARD" && l["status"] == "in_custody")
        .collect();
    assert_eq!(arrived.len(), 1);
    assert!(arrived[0]["last_inspection_id"].is_string());
    // One pledged apple lot is overdue: ineligible, on the warehouse's list, in the exposure.
    let bank = app.login("owner@lender.demo.holdfast", DEMO_PASSWORD).await;
    let book = app.get("/v1/exposure", bank.token()).await;
    assert_eq!(book.body["inspection_overdue"]["lots"], 1, "{}", book.text);
    let staff = app
        .login("staff@warehouse.demo.holdfast", DEMO_PASSWORD)
        .await;
    let due = app.get("/v1/inspections/due", staff.token()).await;
    let reasons: Vec<&str> = due.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|d| d["reason"].as_str().expect("reason"))
        .collect();
    assert_eq!(reasons, vec!["overdue"], "{}", due.text);
}

#[tokio::test]
async fn the_demo_market_shows_the_silver_buyer_yesterdays_listing_and_not_yet_todays() {
    let app = TestApp::spawn().await;
    demo::load(&app.pool).await.expect("demo");
    let buyer = app.login("owner@buyer.demo.holdfast", DEMO_PASSWORD).await;
    // The buyer's purchases earned it silver.
    let me = app
        .get(&format!("/v1/orgs/{}", buyer.org_id), buyer.token())
        .await;
    assert_eq!(me.body["tier"]["tier"], "silver", "{}", me.text);
    let market = app.get("/v1/listings?mode=fixed", buyer.token()).await;
    let items = market.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{}", market.text);
    assert_eq!(items[0]["seller_name"], "Yantai Orchard Cooperative");
    assert_eq!(items[0]["unit_price"], "6.80");
    // The auction: two bids, Qingdao leading; the Beijing wholesaler, new and bronze, was
    // outbid and its deposit (the full 10 % of reserve × quantity) is held until the close.
    let auctions = app.get("/v1/listings?mode=auction", buyer.token()).await;
    let auction = &auctions.body["items"][0];
    assert_eq!(auction["high_bid"], "6.35", "{}", auctions.text);
    assert_eq!(auction["auction"]["bid_count"], 2);
    assert_eq!(auction["auction"]["you_lead"], true);
    assert_eq!(
        auction["auction"]["your_deposit"], "2635.00",
        "silver: 0.85 of 3,100"
    );
    let wholesale = app
        .login("owner@wholesale.demo.holdfast", DEMO_PASSWORD)
        .await;
    // Beijing holds its auction deposit and its group payment (2 t at 5.60).
    let funds = app.get("/v1/funds", wholesale.token()).await;
    assert_eq!(funds.body[0]["held"], "14300.00", "{}", funds.text);
    assert_eq!(funds.body[0]["available"], "35700.00");
    let groups = app.get("/v1/listings?mode=group", wholesale.token()).await;
    assert_eq!(
        groups.body["items"][0]["group"]["joined_quantity"], "5000.000",
        "{}",
        groups.text
    );
    // Qingdao bought the boards at sea forward: its margin (10 % of 118,400) is held.
    let qingdao = app.get("/v1/funds", buyer.token()).await;
    assert_eq!(
        qingdao.body[0]["held"], "31275.00",
        "2,635 + 16,800 + 11,840: {}",
        qingdao.text
    );
    let me = app
        .get(&format!("/v1/orgs/{}", wholesale.org_id), wholesale.token())
        .await;
    assert_eq!(me.body["tier"]["tier"], "bronze", "{}", me.text);
    let offers = app.get("/v1/offers", buyer.token()).await;
    assert_eq!(offers.body["items"][0]["status"], "open", "{}", offers.text);
    // The growers see their own fixed-price listing, which silver buyers will see in four
    // hours (and their group buy, which the buyers joined).
    let growers = app.login("owner@grower.demo.holdfast", DEMO_PASSWORD).await;
    let theirs = app.get("/v1/listings?mode=fixed", growers.token()).await;
    assert_eq!(
        theirs.body["items"].as_array().unwrap().len(),
        1,
        "{}",
        theirs.text
    );
    // Loading again adds nothing.
    demo::load(&app.pool).await.expect("demo again");
    assert_eq!(app.count("listings").await, 5);
}
