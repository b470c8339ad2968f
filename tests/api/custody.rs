//! Custody: reference data, announcing lots, scanning them in and out, the movement ledger,
//! splits, withdrawals, labels and voyages.

use crate::fixtures::{self, Custody, custody, scan_as, today};
use crate::support::TestApp;
use holdfast::auth::{OrgKind, Role};
use holdfast::domain::lot_code::LotCode;
use serde_json::json;
use uuid::Uuid;

async fn reconciled(app: &TestApp, c: &Custody) {
    let check = app.get("/v1/custody/reconciliation", c.admin.token()).await;
    assert_eq!(check.status, 200, "{}", check.text);
    assert_eq!(check.body["consistent"], true, "{}", check.text);
}

#[tokio::test]
async fn commodities_and_warehouses_are_validated_and_listed() {
    let app = TestApp::spawn().await;
    let c = custody(&app).await;
    let again = app.post("/v1/commodities", c.admin.token(), &json!({
        "code": c.commodity, "name": "x", "unit": "kg", "shelf_life_days": 10, "fresh_days": 5, "grades": {"A": "1"}
    })).await;
    again.assert_error(409, "commodity_exists");
    let bad_factor = app.post("/v1/commodities", c.admin.token(), &json!({
        "code": "PEAR", "name": "Pears", "unit": "kg", "shelf_life_days": 10, "fresh_days": 5, "grades": {"A": "lots"}
    })).await;
    bad_factor.assert_error(422, "validation_failed");
    assert_eq!(bad_factor.field(), "grades.A");
    let fresh_too_long = app.post("/v1/commodities", c.admin.token(), &json!({
        "code": "PEAR", "name": "Pears", "unit": "kg", "shelf_life_days": 10, "fresh_days": 11, "grades": {"A": "1"}
    })).await;
    assert_eq!(fresh_too_long.field(), "fresh_days");
    let not_operator = app.post("/v1/warehouses", c.admin.token(), &json!({
        "name": "W", "operator_org_id": c.supplier.org_id, "address": "Yantai", "kind": "ambient"
    })).await;
    not_operator.assert_error(404, "reference_not_found");
    assert_eq!(not_operator.field(), "operator_org_id");
    let listed = app.get("/v1/warehouses", c.supplier.token()).await;
    let ours = listed.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|w| w["id"] == c.warehouse_id.as_str())
        .expect("listed");
    assert_eq!(ours["storage_rates"][0]["rate_per_unit_day"], "0.004");
    assert_eq!(ours["storage_rates"][0]["currency"], "CNY");
}

#[tokio::test]
async fn announcing_a_lot_gives_it_a_checked_code_and_an_expiry() {
    let app = TestApp::spawn().await;
    let c = custody(&app).await;
    let lot = c.announce(&app, "20000").await;
    let code = lot["code"].as_str().expect("code");
    assert!(LotCode::parse(code).is_ok(), "{code}");
    assert_eq!(lot["status"], "announced");
    assert_eq!(lot["quantity_announced"], "20000.000");
    assert_eq!(lot["quantity_on_hand"], "0.000");
    assert_eq!(lot["unit"], "kg");
    assert_eq!(
        lot["expires_on"],
        (today() + chrono::Days::new(180)).to_string()
    );
    assert_eq!(lot["on_hold"], false);
    let movements = app
        .get(
            &format!("/v1/lots/{}/movements", lot["id"].as_str().unwrap()),
            c.supplier.token(),
        )
        .await;
    assert_eq!(movements.body["items"][0]["kind"], "announce");
}

#[tokio::test]
async fn a_bad_announcement_names_its_field_and_writes_nothing() {
    let app = TestApp::spawn().await;
    let c = custody(&app).await;
    let base = json!({"commodity_code": c.commodity, "grade": "A", "quantity": "100", "packed_on": today(), "warehouse_id": c.warehouse_id});
    // A field naming nothing that exists is 404 `reference_not_found`; the rest are 422.
    let cases = [
        ("commodity_code", json!({"commodity_code": "NOPE"})),
        ("commodity_code", json!({"commodity_code": "nope"})),
        ("grade", json!({"grade": "Z"})),
        ("quantity", json!({"quantity": "0"})),
        ("quantity", json!({"quantity": "1.0001"})),
        (
            "packed_on",
            json!({"packed_on": today() + chrono::Days::new(2)}),
        ),
        (
            "packed_on",
            json!({"packed_on": today() - chrono::Days::new(400)}),
        ),
        ("warehouse_id", json!({"voyage_id": Uuid::new_v4()})),
        ("warehouse_id", json!({"warehouse_id": Uuid::new_v4()})),
    ];
    let lots_before = app.count("lots").await;
    for (field, change) in cases {
        let mut body = base.clone();
        for (k, v) in change.as_object().unwrap() {
            body[k] = v.clone();
        }
        let reply = app.post("/v1/lots", c.supplier.token(), &body).await;
        let absent = change.to_string().contains("NOPE")
            || change
                .get("warehouse_id")
                .is_some_and(|id| *id != json!(c.warehouse_id));
        if absent {
            reply.assert_error(404, "reference_not_found");
        } else {
            reply.assert_error(422, "validation_failed");
        }
        assert_eq!(reply.field(), field, "{}", reply.text);
    }
    assert_eq!(app.count("lots").await, lots_before);
}

#[tokio::test]
async fn receiving_records_the_variance_and_the_receipt_which_staff_do_not_see() {
    let app = TestApp::spawn().await;
    let c = custody(&app).await;
    let lot = c.announce(&app, "20000").await;
    let reply = c.scan(&app, json!({"code": lot["code"], "action": "receive", "quantity": "19950", "warehouse_id": c.warehouse_id})).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body["lot"]["status"], "in_custody");
    assert_eq!(reply.body["lot"]["quantity_on_hand"], "19950.000");
    assert_eq!(reply.body["movement"]["kind"], "receive");
    assert_eq!(reply.body["movement"]["details"]["variance"], "-50.000");
    assert!(
        reply.body["lot"].get("receipt").is_none(),
        "warehouse staff see no money fields"
    );
    let id = lot["id"].as_str().unwrap();
    let seen_by_supplier = app.get(&format!("/v1/lots/{id}"), c.supplier.token()).await;
    assert_eq!(
        seen_by_supplier.body["receipt"]["storage_rate_per_unit_day"],
        "0.004"
    );
    assert_eq!(seen_by_supplier.body["receipt"]["storage_currency"], "CNY");
    assert!(seen_by_supplier.body["received_at"].is_string());
    reconciled(&app, &c).await;
}

#[tokio::test]
async fn a_gs1_string_names_the_lot_and_its_net_weight_is_the_quantity() {
    let app = TestApp::spawn().await;
    let c = custody(&app).await;
    let lot = c.announce(&app, "20000").await;
    let code = lot["code"].as_str().unwrap();
    let gs1 = format!("]C10109501101530003\u{1d}10{code}\u{1d}3100019980");
    let reply = c
        .scan(&app, json!({"code": gs1, "action": "receive"}))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body["lot"]["quantity_on_hand"], "19980.000");
    assert_eq!(
        reply.body["movement"]["details"]["gs1"]["gtin"],
        "09501101530003"
    );
}

#[tokio::test]
async fn malformed_codes_are_422_naming_the_element_and_unknown_ones_404() {
    let app = TestApp::spawn().await;
    let c = custody(&app).await;
    let lot = c.announce(&app, "100").await;
    let code = lot["code"].as_str().unwrap();
    let bad_date = c
        .scan(
            &app,
            json!({"code": format!("(10){code}(17)271340"), "action": "receive"}),
        )
        .await;
    bad_date.assert_error(422, "validation_failed");
    assert_eq!(bad_date.field(), "code");
    assert_eq!(bad_date.body["error"]["details"]["element"], "(17)");
    let bad_check = c
        .scan(
            &app,
            json!({"code": "(01)09501101530004(10)K7M3QX9T3", "action": "receive"}),
        )
        .await;
    assert_eq!(bad_check.body["error"]["details"]["element"], "(01)");
    // One character changed: the check character catches it.
    let mut typo: Vec<char> = code.chars().collect();
    typo[0] = if typo[0] == 'A' { 'B' } else { 'A' };
    let mistyped = c
        .scan(
            &app,
            json!({"code": typo.iter().collect::<String>(), "action": "receive"}),
        )
        .await;
    mistyped.assert_error(422, "validation_failed");
    assert_eq!(mistyped.field(), "code");
    let unknown = c
        .scan(
            &app,
            json!({"code": LotCode::generate().as_str(), "action": "receive"}),
        )
        .await;
    unknown.assert_error(404, "lot_not_found");
    // Staff of another warehouse cannot see, so cannot scan, this lot.
    let stranger = app.owner_of(OrgKind::WarehouseOperator).await;
    let foreign = scan_as(&app, &stranger, json!({"code": code, "action": "receive"})).await;
    foreign.assert_error(404, "lot_not_found");
    assert_eq!(app.count("movements WHERE kind <> 'announce'").await, 0);
}

#[tokio::test]
async fn scans_need_an_idempotency_key_and_replay_with_one() {
    let app = TestApp::spawn().await;
    let c = custody(&app).await;
    let lot = c.announce(&app, "100").await;
    let body = json!({"code": lot["code"], "action": "receive"});
    let without = app
        .post("/v1/scans", c.warehouse_staff.token(), &body)
        .await;
    without.assert_error(400, "idempotency_key_required");
    let headers = [("Idempotency-Key", "scan-1")];
    let first = app
        .request_with(
            "POST",
            "/v1/scans",
            Some(c.warehouse_staff.token()),
            Some(&body),
            &headers,
        )
        .await;
    assert_eq!(first.status, 200);
    let replay = app
        .request_with(
            "POST",
            "/v1/scans",
            Some(c.warehouse_staff.token()),
            Some(&body),
            &headers,
        )
        .await;
    assert_eq!(replay.header("idempotent-replayed"), Some("true"));
    assert_eq!(app.count("movements WHERE kind = 'receive'").await, 1);
}

#[tokio::test]
async fn an_action_the_status_does_not_allow_is_409_with_the_status() {
    let app = TestApp::spawn().await;
    let c = custody(&app).await;
    let lot = c.lot_in_custody(&app, "100").await;
    let twice = c
        .scan(&app, json!({"code": lot["code"], "action": "receive"}))
        .await;
    twice.assert_error(409, "lot_status");
    assert_eq!(twice.body["error"]["details"]["status"], "in_custody");
    let unload = c
        .scan(&app, json!({"code": lot["code"], "action": "unload"}))
        .await;
    unload.assert_error(409, "lot_status");
    let announced = c.announce(&app, "5").await;
    let count = c
        .scan(
            &app,
            json!({"code": announced["code"], "action": "count", "quantity": "5"}),
        )
        .await;
    count.assert_error(409, "lot_status");
    assert_eq!(count.body["error"]["details"]["status"], "announced");
}

#[tokio::test]
async fn goods_leave_only_against_a_release_order_partially_then_fully() {
    let app = TestApp::spawn().await;
    let c = custody(&app).await;
    let lot = c.lot_in_custody(&app, "1000").await;
    let id = lot["id"].as_str().unwrap();
    let refused = c
        .scan(
            &app,
            json!({"code": lot["code"], "action": "release", "quantity": "10"}),
        )
        .await;
    refused.assert_error(409, "release_order_required");

    let withdrawal = c.withdraw(&app, id, "600").await;
    assert_eq!(withdrawal.status, 201, "{}", withdrawal.text);
    let order = withdrawal.body["release_order_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let reserved = app.get(&format!("/v1/lots/{id}"), c.supplier.token()).await;
    assert_eq!(reserved.body["quantity_reserved"], "600.000");
    // A release without an order names the open ones.
    let unnamed = c
        .scan(&app, json!({"code": lot["code"], "action": "release"}))
        .await;
    unnamed.assert_error(409, "release_order_required");
    let open = &unnamed.body["error"]["details"]["open_release_orders"];
    assert_eq!(open[0]["id"], order.as_str(), "{}", unnamed.text);
    assert_eq!(open[0]["quantity_left"], "600.000");
    // The warehouse finds it in the list of its open orders, with its lot's code.
    let listed = app
        .get(
            &format!(
                "/v1/release-orders?warehouse_id={}&status=open",
                c.warehouse_id
            ),
            c.warehouse_staff.token(),
        )
        .await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    let item = &listed.body["items"][0];
    assert_eq!(item["id"], order.as_str(), "{}", listed.text);
    assert_eq!(item["lot_code"], lot["code"]);
    assert_eq!(item["quantity_left"], "600.000");
    assert_eq!(item["kind"], "withdrawal");
    // Another warehouse operator sees none of it.
    let other = app
        .owner_of(holdfast::auth::OrgKind::WarehouseOperator)
        .await;
    let theirs = app.get("/v1/release-orders", other.token()).await;
    assert_eq!(theirs.body["items"], json!([]), "{}", theirs.text);
    let bad = app
        .get("/v1/release-orders?status=shut", c.supplier.token())
        .await;
    bad.assert_error(422, "validation_failed");
    assert_eq!(bad.field(), "status");
    // More than is free, and more than the order allows, are both refused.
    c.withdraw(&app, id, "401")
        .await
        .assert_error(409, "quantity_not_free");
    let too_much = c.scan(&app, json!({"code": lot["code"], "action": "release", "quantity": "601", "release_order_id": order})).await;
    too_much.assert_error(409, "quantity_not_authorised");

    let part = c.scan(&app, json!({"code": lot["code"], "action": "release", "quantity": "200", "release_order_id": order})).await;
    assert_eq!(part.status, 200, "{}", part.text);
    assert_eq!(part.body["lot"]["quantity_on_hand"], "800.000");
    assert_eq!(part.body["lot"]["quantity_reserved"], "400.000");
    let rest = c
        .scan(
            &app,
            json!({"code": lot["code"], "action": "release", "release_order_id": order}),
        )
        .await;
    assert_eq!(rest.body["lot"]["quantity_on_hand"], "400.000");
    let done = app
        .get(
            &format!("/v1/release-orders?lot_id={id}"),
            c.supplier.token(),
        )
        .await;
    assert_eq!(
        done.body["items"][0]["status"], "completed",
        "{}",
        done.text
    );
    assert_eq!(done.body["items"][0]["quantity_left"], "0.000");
    assert_eq!(rest.body["lot"]["status"], "in_custody");
    let closed = c.scan(&app, json!({"code": lot["code"], "action": "release", "quantity": "1", "release_order_id": order})).await;
    closed.assert_error(409, "release_order_closed");

    let last = c.withdraw(&app, id, "400").await;
    let last_order = last.body["release_order_id"].as_str().unwrap();
    let out = c
        .scan(
            &app,
            json!({"code": lot["code"], "action": "release", "release_order_id": last_order}),
        )
        .await;
    assert_eq!(out.body["lot"]["status"], "released");
    assert_eq!(out.body["lot"]["quantity_on_hand"], "0.000");
    reconciled(&app, &c).await;
}

#[tokio::test]
async fn a_count_that_differs_needs_a_reason_and_adjusts_the_book() {
    let app = TestApp::spawn().await;
    let c = custody(&app).await;
    let lot = c.lot_in_custody(&app, "500").await;
    let same = c
        .scan(
            &app,
            json!({"code": lot["code"], "action": "count", "quantity": "500"}),
        )
        .await;
    assert_eq!(same.status, 200);
    assert!(same.body["movement"].is_null());
    let no_reason = c
        .scan(
            &app,
            json!({"code": lot["code"], "action": "count", "quantity": "497"}),
        )
        .await;
    no_reason.assert_error(422, "validation_failed");
    assert_eq!(no_reason.field(), "reason");
    let no_quantity = c
        .scan(&app, json!({"code": lot["code"], "action": "count"}))
        .await;
    assert_eq!(no_quantity.field(), "quantity");
    let adjusted = c.scan(&app, json!({"code": lot["code"], "action": "count", "quantity": "497", "reason": "three crates crushed"})).await;
    assert_eq!(adjusted.status, 200, "{}", adjusted.text);
    assert_eq!(adjusted.body["movement"]["kind"], "count_adjustment");
    assert_eq!(adjusted.body["movement"]["quantity_change"], "-3.000");
    assert_eq!(adjusted.body["lot"]["quantity_on_hand"], "497.000");
    reconciled(&app, &c).await;
}

#[tokio::test]
async fn a_split_makes_a_new_lot_with_its_own_code_and_movements_on_both() {
    let app = TestApp::spawn().await;
    let c = custody(&app).await;
    let lot = c.lot_in_custody(&app, "1000").await;
    let id = lot["id"].as_str().unwrap();
    let split = |quantity: &'static str, key: &'static str| {
        let app = &app;
        let token = c.supplier.token().to_owned();
        async move {
            app.request_with(
                "POST",
                &format!("/v1/lots/{id}/split"),
                Some(&token),
                Some(&json!({"quantity": quantity})),
                &[("Idempotency-Key", key)],
            )
            .await
        }
    };
    let reply = split("250", "split-1").await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    assert_eq!(reply.body["parent"]["quantity_on_hand"], "750.000");
    assert_eq!(reply.body["child"]["quantity_on_hand"], "250.000");
    assert_eq!(reply.body["child"]["parent_lot_id"], id);
    assert_ne!(reply.body["child"]["code"], lot["code"]);
    assert_eq!(reply.body["child"]["warehouse_id"], c.warehouse_id.as_str());
    let child = reply.body["child"]["id"].as_str().unwrap();
    let child_moves = app
        .get(&format!("/v1/lots/{child}/movements"), c.supplier.token())
        .await;
    assert_eq!(child_moves.body["items"][0]["kind"], "split_in");
    split("750", "split-2")
        .await
        .assert_error(409, "quantity_not_free");
    reconciled(&app, &c).await;
}

/// A lot code already taken does not fail the insert that drew it: nothing is written, the
/// insert answers `None`, and the transaction it ran in goes on, so the service draws another
/// code in it (an announcement or a split never fails on a clash of random codes).
#[tokio::test]
async fn a_lot_code_already_taken_writes_nothing_and_leaves_the_transaction_usable() {
    use diesel::{QueryDsl, SelectableHelper};
    use diesel_async::{AsyncConnection, RunQueryDsl};
    use holdfast::db::schema::lots;
    use holdfast::lots::{model::LotRow, store};
    let app = TestApp::spawn().await;
    let c = custody(&app).await;
    let lot = c.lot_in_custody(&app, "100").await;
    let id: Uuid = lot["id"].as_str().expect("id").parse().expect("uuid");
    let before = app.count("lots").await;
    let mut conn = app.pool.get().await.expect("connection");
    let (taken, fresh) = conn
        .transaction::<_, diesel::result::Error, _>(async |conn| {
            let parent: LotRow = lots::table
                .find(id)
                .select(LotRow::as_select())
                .first(conn)
                .await?;
            let values = |id| store::NewLotValues::split_off(&parent, id, parent.quantity_on_hand);
            let taken = store::insert(conn, &parent.code, &values(Uuid::new_v4())).await?;
            let fresh = LotCode::generate();
            let fresh = store::insert(conn, fresh.as_str(), &values(Uuid::new_v4())).await?;
            Ok((taken, fresh))
        })
        .await
        .expect("the transaction goes on after the clash");
    assert!(taken.is_none(), "{taken:?}");
    assert!(fresh.is_some_and(|lot| lot.parent_lot_id == Some(id)));
    assert_eq!(app.count("lots").await, before + 1);
}

#[tokio::test]
async fn lots_are_seen_by_their_supplier_and_custodian_only_and_listed_with_filters() {
    let app = TestApp::spawn().await;
    let c = custody(&app).await;
    let first = c.lot_in_custody(&app, "10").await;
    c.announce(&app, "20").await;
    c.announce(&app, "30").await;
    let other = app.owner_of(OrgKind::Supplier).await;
    let hidden = app
        .get(
            &format!("/v1/lots/{}", first["id"].as_str().unwrap()),
            other.token(),
        )
        .await;
    hidden.assert_error(404, "lot_not_found");
    assert_eq!(
        app.get("/v1/lots", other.token()).await.body["items"],
        json!([])
    );
    let announced = app
        .get("/v1/lots?status=announced&limit=1", c.supplier.token())
        .await;
    assert_eq!(announced.body["items"].as_array().unwrap().len(), 1);
    let cursor = announced.body["next_cursor"]
        .as_str()
        .expect("more")
        .to_owned();
    let next = app
        .get(
            &format!("/v1/lots?status=announced&limit=1&cursor={cursor}"),
            c.supplier.token(),
        )
        .await;
    assert_eq!(next.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(next.body["next_cursor"], serde_json::Value::Null);
    let at_warehouse = app
        .get(
            &format!("/v1/lots?warehouse_id={}", c.warehouse_id),
            c.warehouse_staff.token(),
        )
        .await;
    assert_eq!(at_warehouse.body["items"].as_array().unwrap().len(), 3);
    let expiring = app
        .get(
            &format!(
                "/v1/lots?expiring_before={}",
                today() + chrono::Days::new(10)
            ),
            c.supplier.token(),
        )
        .await;
    assert_eq!(expiring.body["items"], json!([]));
    let bad = app.get("/v1/lots?status=lost", c.supplier.token()).await;
    assert_eq!(bad.field(), "status");
}

/// The GS1-128 bars of a label, read back as a scanner would send them: each `<rect>` of the
/// `gs1-128` group is a bar at a whole-module `x` with a whole-module `width`.
fn read_gs1_128(svg: &str) -> String {
    let group = svg
        .split(r#"<g id="gs1-128""#)
        .nth(1)
        .and_then(|g| g.split("</g>").next())
        .expect("a GS1-128 group");
    let number = |rect: &str, name: &str| -> u32 {
        let value = rect
            .split(&format!(r#"{name}=""#))
            .nth(1)
            .expect("attribute");
        value
            .split('"')
            .next()
            .expect("value")
            .parse()
            .expect("whole modules")
    };
    let mut widths = Vec::new();
    let mut end = 10;
    for rect in group.split("<rect").skip(1) {
        let (x, width) = (number(rect, "x"), number(rect, "width"));
        if x > end {
            widths.push(u8::try_from(x - end).expect("space"));
        } else {
            assert!(widths.is_empty(), "bars follow one another with spaces");
        }
        widths.push(u8::try_from(width).expect("bar"));
        end = x + width;
    }
    holdfast::domain::code128::decode(&widths).expect("a valid Code 128 symbol")
}

#[tokio::test]
async fn the_label_shows_what_is_on_hand_whose_and_where_with_a_gs1_128_barcode() {
    let app = TestApp::spawn().await;
    let c = custody(&app).await;
    // 20,000 kg announced, 19,950 received: the label says what is there.
    let announced = c.announce(&app, "20000").await;
    let received = c
        .scan(
            &app,
            json!({"code": announced["code"], "action": "receive", "quantity": "19950"}),
        )
        .await;
    assert_eq!(received.status, 200, "{}", received.text);
    let id = announced["id"].as_str().expect("id");
    let code = announced["code"].as_str().expect("code");
    let response = app
        .client
        .get(app.url(&format!("/v1/lots/{id}/label.svg")))
        .bearer_auth(c.warehouse_staff.token())
        .send()
        .await
        .expect("label");
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.headers()["content-type"], "image/svg+xml");
    let svg = response.text().await.expect("svg");
    assert!(svg.contains(r#"width="100mm" height="150mm""#));
    assert!(svg.contains(code));
    assert!(svg.contains("Fuji apples"));
    assert!(svg.contains("Grade A"));
    assert!(
        svg.contains("19950.000 kg"),
        "the quantity on hand, not announced"
    );
    assert!(!svg.contains("20000"), "{svg}");
    let owner = app
        .get(
            &format!("/v1/orgs/{}", c.supplier.org_id),
            c.supplier.token(),
        )
        .await;
    // The owner's name, cut with an ellipsis past 34 characters.
    let name: String = owner.body["name"]
        .as_str()
        .expect("owner")
        .chars()
        .take(20)
        .collect();
    assert!(svg.contains(&name), "{name}: {svg}");
    assert!(
        svg.contains("Zhifu District, Yantai, Shandong"),
        "the warehouse"
    );
    assert!(svg.contains("<path d=\"M"), "the QR modules are drawn");
    // The barcode reads back as (10) the lot code and (3100) the net weight in kg.
    let scanned = read_gs1_128(&svg);
    assert_eq!(scanned, format!("]C110{code}\u{1d}3100019950"));
    assert!(svg.contains(&format!("(10) {code} (3100) 019950")));
    // What the scanner sends is what the scan station accepts: a count of the same goods.
    let counted = c
        .scan(&app, json!({"code": scanned, "action": "count"}))
        .await;
    assert_eq!(counted.status, 200, "{}", counted.text);
    assert_eq!(
        counted.body["movement"],
        serde_json::Value::Null,
        "a clean count"
    );

    // Many labels print as one page, one label per sheet, in the order asked.
    let other = c.lot_in_custody(&app, "40").await;
    let other_id = other["id"].as_str().expect("id");
    let page = app
        .request(
            "GET",
            &format!("/v1/labels.html?lot_ids={id},{other_id}"),
            Some(c.warehouse_staff.token()),
            None,
        )
        .await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert_eq!(page.text.matches("<section class=\"label\">").count(), 2);
    assert!(page.text.contains("@page { size: 100mm 150mm"));
    let first = page.text.find(code).expect("first");
    let second = page
        .text
        .find(other["code"].as_str().expect("code"))
        .expect("second");
    assert!(first < second);
    // A lot the caller may not see is not found, naming it; ids that are not ids are refused.
    let stranger = app.owner_of(OrgKind::Supplier).await;
    let hidden = app
        .request(
            "GET",
            &format!("/v1/labels.html?lot_ids={id}"),
            Some(stranger.token()),
            None,
        )
        .await;
    hidden.assert_error(404, "lot_not_found");
    let bad = app
        .request(
            "GET",
            "/v1/labels.html?lot_ids=K7M3QX9T3",
            Some(c.warehouse_staff.token()),
            None,
        )
        .await;
    assert_eq!(bad.field(), "lot_ids");
}

#[tokio::test]
async fn boards_travel_by_voyage_and_are_unloaded_only_on_arrival() {
    let app = TestApp::spawn().await;
    let c = custody(&app).await;
    let carrier = app.owner_of(OrgKind::WarehouseOperator).await;
    let voyage = fixtures::voyage(&app, &c.admin, carrier.org_id, Some(&c.warehouse_id)).await;
    let announced = app.post("/v1/lots", c.supplier.token(), &json!({
        "commodity_code": c.commodity, "grade": "B", "quantity": "300", "packed_on": today(), "voyage_id": voyage
    })).await;
    assert_eq!(announced.status, 201, "{}", announced.text);
    let code = announced.body["code"].clone();
    let aboard = scan_as(
        &app,
        &carrier,
        json!({"code": code, "action": "load", "voyage_id": voyage}),
    )
    .await;
    assert_eq!(aboard.status, 200, "{}", aboard.text);
    assert_eq!(aboard.body["lot"]["status"], "in_transit");
    assert_eq!(aboard.body["lot"]["quantity_on_hand"], "300.000");

    let early = scan_as(&app, &carrier, json!({"code": code, "action": "unload"})).await;
    early.assert_error(409, "voyage_status");
    let depart = app
        .post(
            &format!("/v1/voyages/{voyage}/depart"),
            carrier.token(),
            &json!({}),
        )
        .await;
    assert_eq!(depart.status, 200, "{}", depart.text);
    assert_eq!(depart.body["status"], "underway");
    app.post(
        &format!("/v1/voyages/{voyage}/depart"),
        carrier.token(),
        &json!({}),
    )
    .await
    .assert_error(409, "voyage_status");
    let arrive = app
        .post(
            &format!("/v1/voyages/{voyage}/arrive"),
            carrier.token(),
            &json!({}),
        )
        .await;
    assert_eq!(arrive.body["status"], "arrived");
    let landed = c
        .scan(
            &app,
            json!({"code": code, "action": "unload", "warehouse_id": c.warehouse_id}),
        )
        .await;
    assert_eq!(landed.status, 200, "{}", landed.text);
    assert_eq!(landed.body["lot"]["status"], "in_custody");
    assert_eq!(landed.body["lot"]["warehouse_id"], c.warehouse_id.as_str());
    reconciled(&app, &c).await;
}

#[tokio::test]
async fn goods_in_a_warehouse_are_loaded_whole_and_transferred_between_warehouses() {
    let app = TestApp::spawn().await;
    let c = custody(&app).await;
    let lot = c.lot_in_custody(&app, "40").await;
    let second = fixtures::warehouse(&app, &c.admin, c.warehouse_staff.org_id, &c.commodity).await;
    let moved = c
        .scan(
            &app,
            json!({"code": lot["code"], "action": "transfer", "warehouse_id": second}),
        )
        .await;
    assert_eq!(moved.status, 200, "{}", moved.text);
    assert_eq!(moved.body["lot"]["warehouse_id"], second.as_str());
    let voyage = fixtures::voyage(&app, &c.admin, c.warehouse_staff.org_id, None).await;
    let part = c
        .scan(
            &app,
            json!({"code": lot["code"], "action": "load", "voyage_id": voyage, "quantity": "10"}),
        )
        .await;
    part.assert_error(409, "quantity_mismatch");
    let loaded = c
        .scan(
            &app,
            json!({"code": lot["code"], "action": "load", "voyage_id": voyage}),
        )
        .await;
    assert_eq!(loaded.body["lot"]["status"], "in_transit");
    assert_eq!(loaded.body["lot"]["voyage_id"], voyage.as_str());
    reconciled(&app, &c).await;
}

/// A cold store of the custody's operator with no storage rate for anything.
async fn warehouse_without_rates(app: &TestApp, c: &Custody) -> String {
    let reply = app
        .post(
            "/v1/warehouses",
            c.admin.token(),
            &json!({"name": format!("Bare store {}", Uuid::new_v4().simple()),
                    "operator_org_id": c.warehouse_staff.org_id, "address": "Yantai", "kind": "ambient"}),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    reply.body["id"].as_str().expect("id").to_owned()
}

#[tokio::test]
async fn goods_go_only_into_a_warehouse_that_prices_their_storage() {
    let app = TestApp::spawn().await;
    let c = custody(&app).await;
    let bare = warehouse_without_rates(&app, &c).await;
    let lot = c.lot_in_custody(&app, "40").await;
    // A transfer in would leave goods that cannot be quoted or sold: refused, naming what is missing.
    let moved = c
        .scan(
            &app,
            json!({"code": lot["code"], "action": "transfer", "warehouse_id": bare}),
        )
        .await;
    moved.assert_error(409, "no_storage_rate");
    assert_eq!(moved.field(), "warehouse_id");
    assert_eq!(
        moved.body["error"]["details"]["warehouse_id"],
        bare.as_str()
    );
    assert_eq!(
        moved.body["error"]["details"]["commodity_code"],
        c.commodity.as_str()
    );
    let still = app
        .get(
            &format!("/v1/lots/{}", lot["id"].as_str().expect("id")),
            c.supplier.token(),
        )
        .await;
    assert_eq!(still.body["warehouse_id"], c.warehouse_id.as_str());
    // Nor may goods be announced into it, or unloaded into it from a ship.
    let announced = app
        .post(
            "/v1/lots",
            c.supplier.token(),
            &json!({"commodity_code": c.commodity, "grade": "A", "quantity": "10",
                    "packed_on": today(), "warehouse_id": bare}),
        )
        .await;
    announced.assert_error(409, "no_storage_rate");
    let voyage = fixtures::voyage(&app, &c.admin, c.warehouse_staff.org_id, None).await;
    let loaded = c
        .scan(
            &app,
            json!({"code": lot["code"], "action": "load", "voyage_id": voyage}),
        )
        .await;
    assert_eq!(loaded.status, 200, "{}", loaded.text);
    for step in ["depart", "arrive"] {
        let moved = app
            .post(
                &format!("/v1/voyages/{voyage}/{step}"),
                c.warehouse_staff.token(),
                &json!({}),
            )
            .await;
        assert_eq!(moved.status, 200, "{}", moved.text);
    }
    let unloaded = c
        .scan(
            &app,
            json!({"code": lot["code"], "action": "unload", "warehouse_id": bare}),
        )
        .await;
    unloaded.assert_error(409, "no_storage_rate");
    let home = c
        .scan(
            &app,
            json!({"code": lot["code"], "action": "unload", "warehouse_id": c.warehouse_id}),
        )
        .await;
    assert_eq!(home.status, 200, "{}", home.text);
    reconciled(&app, &c).await;
}

#[tokio::test]
async fn the_ledger_is_append_only_and_the_check_finds_a_tampered_lot() {
    let app = TestApp::spawn().await;
    let c = custody(&app).await;
    let lot = c.lot_in_custody(&app, "100").await;
    app.sql("UPDATE movements SET quantity_change = 999").await;
    app.sql("DELETE FROM movements").await;
    assert_eq!(app.count("movements WHERE quantity_change = 100").await, 1);
    reconciled(&app, &c).await;
    app.sql(&format!(
        "UPDATE lots SET quantity_on_hand = 90 WHERE id = '{}'",
        lot["id"].as_str().unwrap()
    ))
    .await;
    let check = app.get("/v1/custody/reconciliation", c.admin.token()).await;
    assert_eq!(check.body["consistent"], false);
    assert_eq!(
        check.body["discrepancies"][0]["quantity_from_movements"],
        "100"
    );
}

#[tokio::test]
async fn two_release_scans_for_the_last_units_let_exactly_one_through() {
    let app = TestApp::spawn().await;
    let c = custody(&app).await;
    let lot = c.lot_in_custody(&app, "50").await;
    let withdrawal = c.withdraw(&app, lot["id"].as_str().unwrap(), "50").await;
    let order = withdrawal.body["release_order_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let body = json!({"code": lot["code"], "action": "release", "quantity": "50", "release_order_id": order});
    let (a, b) = tokio::join!(c.scan(&app, body.clone()), c.scan(&app, body.clone()));
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert_eq!(statuses, [200, 409], "{} / {}", a.text, b.text);
    assert_eq!(app.count("movements WHERE kind = 'release'").await, 1);
    reconciled(&app, &c).await;
}

#[tokio::test]
async fn the_same_scan_key_sent_concurrently_writes_one_movement() {
    let app = TestApp::spawn().await;
    let c = custody(&app).await;
    let lot = c.announce(&app, "75").await;
    let body = json!({"code": lot["code"], "action": "receive"});
    let send = || {
        app.request_with(
            "POST",
            "/v1/scans",
            Some(c.warehouse_staff.token()),
            Some(&body),
            &[("Idempotency-Key", "same-scan")],
        )
    };
    let replies = futures_util::future::join_all((0..6).map(|_| send())).await;
    assert!(
        replies.iter().all(|r| r.status == 200 || r.status == 409),
        "{:?}",
        replies.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    assert_eq!(app.count("movements WHERE kind = 'receive'").await, 1);
    reconciled(&app, &c).await;
}

#[tokio::test]
async fn receive_and_count_racing_on_one_lot_leave_the_ledger_reconciled() {
    let app = TestApp::spawn().await;
    let c = custody(&app).await;
    for _ in 0..5 {
        let lot = c.announce(&app, "100").await;
        let receive = c.scan(
            &app,
            json!({"code": lot["code"], "action": "receive", "quantity": "98"}),
        );
        let count = c.scan(
            &app,
            json!({"code": lot["code"], "action": "count", "quantity": "97", "reason": "recount"}),
        );
        let (received, counted) = tokio::join!(receive, count);
        assert_eq!(received.status, 200, "{}", received.text);
        let lot_now = app
            .get(
                &format!("/v1/lots/{}", lot["id"].as_str().unwrap_or("")),
                c.supplier.token(),
            )
            .await;
        // The count either saw the lot announced (409, and the book stays at what was
        // received) or received (200: a count adjustment of -1 to 97).
        match counted.status {
            409 => {
                assert_eq!(
                    counted.body["error"]["code"], "lot_status",
                    "{}",
                    counted.text
                );
                assert_eq!(
                    lot_now.body["quantity_on_hand"], "98.000",
                    "{}",
                    lot_now.text
                );
            }
            200 => {
                assert_eq!(
                    counted.body["movement"]["kind"], "count_adjustment",
                    "{}",
                    counted.text
                );
                assert_eq!(
                    counted.body["movement"]["quantity_change"], "-1.000",
                    "{}",
                    counted.text
                );
                assert_eq!(
                    lot_now.body["quantity_on_hand"], "97.000",
                    "{}",
                    lot_now.text
                );
            }
            other => panic!("count answered {other}: {}", counted.text),
        }
    }
    reconciled(&app, &c).await;
}

#[tokio::test]
async fn staff_without_the_scan_permission_cannot_scan() {
    let app = TestApp::spawn().await;
    let c = custody(&app).await;
    let lot = c.announce(&app, "10").await;
    let clerk = app.user(c.warehouse_staff.org_id, Role::Staff, &[]).await;
    scan_as(
        &app,
        &clerk,
        json!({"code": lot["code"], "action": "receive"}),
    )
    .await
    .assert_error(403, "forbidden");
}

#[tokio::test]
async fn a_lot_is_found_by_the_code_on_its_label_and_a_mistyped_code_says_so() {
    let app = TestApp::spawn().await;
    let c = custody(&app).await;
    let lot = c.lot_in_custody(&app, "100").await;
    let code = lot["code"].as_str().expect("code").to_owned();
    // As printed, in lower case, with a hyphen: the same lot.
    let written = format!("{}-{}", &code[..4], &code[4..]).to_lowercase();
    for text in [code.clone(), written.clone()] {
        let found = app
            .get(
                &format!("/v1/lots/by-code/{text}"),
                c.warehouse_staff.token(),
            )
            .await;
        assert_eq!(found.status, 200, "{text}: {}", found.text);
        assert_eq!(found.body["id"], lot["id"]);
        let listed = app
            .get(&format!("/v1/lots?code={text}"), c.supplier.token())
            .await;
        assert_eq!(listed.status, 200, "{}", listed.text);
        assert_eq!(listed.body["items"][0]["id"], lot["id"], "{}", listed.text);
        assert_eq!(listed.body["items"].as_array().map(Vec::len), Some(1));
    }
    // One character wrong: the check character catches it.
    let last = code.chars().last().expect("last");
    let other = crate::fixtures::other_code_character(last);
    let mistyped = format!("{}{other}", &code[..8]);
    let wrong = app
        .get(
            &format!("/v1/lots/by-code/{mistyped}"),
            c.warehouse_staff.token(),
        )
        .await;
    wrong.assert_error(404, "lot_code_mistyped");
    let none = app
        .get(&format!("/v1/lots?code={mistyped}"), c.supplier.token())
        .await;
    assert_eq!(none.body["items"], json!([]), "{}", none.text);
    // Not a lot code at all: 422 naming it.
    let short = app
        .get("/v1/lots/by-code/ABC", c.warehouse_staff.token())
        .await;
    short.assert_error(422, "validation_failed");
    assert_eq!(short.field(), "code");
    // Another supplier cannot find it: 404 as for an id.
    let stranger = app.owner_of(holdfast::auth::OrgKind::Supplier).await;
    let hidden = app
        .get(&format!("/v1/lots/by-code/{code}"), stranger.token())
        .await;
    hidden.assert_error(404, "lot_not_found");
}

#[tokio::test]
async fn voyages_are_listed_for_the_platform_their_carrier_and_suppliers_with_goods_aboard() {
    let app = TestApp::spawn().await;
    let c = custody(&app).await;
    let carrier = c.warehouse_staff.org_id;
    let with_goods = crate::fixtures::voyage(&app, &c.admin, carrier, None).await;
    let empty = crate::fixtures::voyage(&app, &c.admin, carrier, None).await;
    // The supplier announces a lot straight onto the first voyage.
    let announced = app
        .post(
            "/v1/lots",
            c.supplier.token(),
            &json!({"commodity_code": c.commodity, "grade": "A", "quantity": "100",
                    "packed_on": today(), "voyage_id": with_goods}),
        )
        .await;
    assert_eq!(announced.status, 201, "{}", announced.text);
    let ids = |reply: &crate::support::Reply| -> Vec<String> {
        reply.body["items"]
            .as_array()
            .expect("items")
            .iter()
            .filter_map(|v| v["id"].as_str().map(str::to_owned))
            .collect()
    };
    let supplier = app.get("/v1/voyages", c.supplier.token()).await;
    assert_eq!(supplier.status, 200, "{}", supplier.text);
    assert_eq!(ids(&supplier), vec![with_goods.clone()]);
    let carrier_view = app.get("/v1/voyages", c.warehouse_staff.token()).await;
    let mut seen = ids(&carrier_view);
    seen.sort();
    let mut both = vec![with_goods.clone(), empty.clone()];
    both.sort();
    assert_eq!(seen, both);
    let planned = app
        .get("/v1/voyages?status=planned&limit=1", c.admin.token())
        .await;
    assert_eq!(ids(&planned).len(), 1, "{}", planned.text);
    assert!(planned.body["next_cursor"].is_string());
    let departed = app
        .post(
            &format!("/v1/voyages/{empty}/depart"),
            c.warehouse_staff.token(),
            &json!({}),
        )
        .await;
    assert_eq!(departed.status, 200, "{}", departed.text);
    let underway = app
        .get("/v1/voyages?status=underway", c.warehouse_staff.token())
        .await;
    assert_eq!(ids(&underway), vec![empty.clone()]);
    let stranger = app
        .owner_of(holdfast::auth::OrgKind::WarehouseOperator)
        .await;
    let none = app.get("/v1/voyages", stranger.token()).await;
    assert_eq!(ids(&none), Vec::<String>::new());
    let bad = app.get("/v1/voyages?status=sunk", c.admin.token()).await;
    bad.assert_error(422, "validation_failed");
    assert_eq!(bad.field(), "status");
}

#[tokio::test]
async fn a_receive_scan_costs_six_statements_at_most() {
    use holdfast::scans::model::ScanRequest;
    let app = TestApp::spawn().await;
    let c = custody(&app).await;
    fixtures::post_price(
        &app,
        &c.admin,
        &c.commodity,
        "6.00",
        &fixtures::start_of_today(),
    )
    .await;
    let lot = c.announce(&app, "100").await;
    let staff = fixtures::owner_principal(&c.warehouse_staff, OrgKind::WarehouseOperator);
    let request: ScanRequest =
        serde_json::from_value(json!({"code": lot["code"], "action": "receive"})).expect("scan");
    let scanned = holdfast::scans::service::read_code(&request.code).expect("code");
    // The lot found and locked (1); the storage rate, price and commodity terms (1); the
    // projection with the receipt stamped, then the movement (2); the hold check (1); the
    // audit and outbox events (1). The idempotency key and the transaction add their own.
    let log = crate::lending::statement_log(&app, async |conn| {
        let done = holdfast::scans::service::scan(conn, &staff, request, scanned)
            .await
            .expect("scan");
        assert_eq!(done.lot.quantity_on_hand.to_string(), "100.000");
    })
    .await;
    assert!(log.sent <= 6, "a receive scan sent {} statements", log.sent);
    // Each of them is prepared once per connection, none parsed and planned on every scan.
    assert_eq!(log.unprepared, Vec::<String>::new());
    let received = app
        .get(
            &format!("/v1/lots/{}", lot["id"].as_str().expect("id")),
            c.supplier.token(),
        )
        .await;
    assert_eq!(
        received.body["receipt"]["market_value_at_deposit"], "600.00",
        "{}",
        received.text
    );
}
