//! The cold chain: readings in batches, breaches, quality hold, acknowledgement.

use crate::fixtures::{self, Custody, custody};
use crate::support::{Reply, TestApp};
use chrono::{DateTime, Duration, Utc};
use holdfast::auth::OrgKind;
use serde_json::{Value, json};

fn minutes_ago(minutes: i64) -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp(now.timestamp() - now.timestamp() % 60 - minutes * 60, 0)
        .expect("time")
}

fn reading(c: &Custody, sensor: &str, minutes_ago_value: i64, celsius: &str) -> Value {
    json!({"warehouse_id": c.warehouse_id, "sensor_id": sensor, "recorded_at": minutes_ago(minutes_ago_value), "celsius": celsius})
}

async fn send(app: &TestApp, c: &Custody, readings: Vec<Value>) -> Reply {
    app.post(
        "/v1/temperature-readings",
        c.warehouse_staff.token(),
        &json!({"readings": readings}),
    )
    .await
}

/// A 40-minute excursion to 9 °C, back in range since.
fn hot_spell(c: &Custody, sensor: &str) -> Vec<Value> {
    vec![
        reading(c, sensor, 100, "2.0"),
        reading(c, sensor, 90, "6.5"),
        reading(c, sensor, 80, "9.0"),
        reading(c, sensor, 70, "7.0"),
        reading(c, sensor, 50, "3.0"),
        reading(c, sensor, 40, "2.5"),
    ]
}

/// Readings cannot come from the future, so a lot "received hours ago", before the past
/// excursion the test sends, has its arrival in the warehouse moved back.
async fn received_hours_ago(app: &TestApp, lot: &Value, hours: u32) {
    let id = lot["id"].as_str().expect("lot id");
    app.sql(&format!(
        "UPDATE lots SET warehouse_since = now() - interval '{hours} hours' WHERE id = '{id}'"
    ))
    .await;
}

#[tokio::test]
async fn a_long_excursion_opens_a_breach_and_holds_the_goods_until_acknowledged() {
    let app = TestApp::spawn().await;
    let c = custody(&app).await;
    let lot = c.lot_in_custody(&app, "1000").await;
    received_hours_ago(&app, &lot, 3).await;
    let reply = send(&app, &c, hot_spell(&c, "s1")).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body["accepted"], 6);
    let breach = &reply.body["breaches"][0];
    assert_eq!(breach["kind"], "too_hot");
    assert_eq!(breach["extreme_celsius"], "9");
    assert_eq!(breach["started_at"], json!(minutes_ago(90)));
    assert_eq!(breach["ended_at"], json!(minutes_ago(50)));
    let id = lot["id"].as_str().unwrap();
    let held = app.get(&format!("/v1/lots/{id}"), c.supplier.token()).await;
    assert_eq!(held.body["on_hold"], true);

    let breach_id = breach["id"].as_str().unwrap();
    let path = format!("/v1/breaches/{breach_id}/acknowledge");
    let no_comment = app
        .post(&path, c.warehouse_staff.token(), &json!({"comment": " "}))
        .await;
    no_comment.assert_error(422, "validation_failed");
    assert_eq!(no_comment.field(), "comment");
    let unknown_grade = app
        .post(
            &path,
            c.warehouse_staff.token(),
            &json!({"comment": "door left open", "grade_downgrade": "Q"}),
        )
        .await;
    assert_eq!(unknown_grade.field(), "grade_downgrade");
    let stranger = app.owner_of(OrgKind::WarehouseOperator).await;
    app.post(&path, stranger.token(), &json!({"comment": "x"}))
        .await
        .assert_error(404, "breach_not_found");

    let done = app
        .post(
            &path,
            c.warehouse_staff.token(),
            &json!({"comment": "door left open 40 min; fruit inspected", "grade_downgrade": "B"}),
        )
        .await;
    assert_eq!(done.status, 200, "{}", done.text);
    assert!(done.body["breach"]["acknowledged_at"].is_string());
    assert_eq!(done.body["downgraded"][0]["from_grade"], "A");
    assert_eq!(done.body["downgraded"][0]["to_grade"], "B");
    let after = app.get(&format!("/v1/lots/{id}"), c.supplier.token()).await;
    assert_eq!(after.body["on_hold"], false);
    assert_eq!(after.body["grade"], "B");
    let moves = app
        .get(&format!("/v1/lots/{id}/movements"), c.supplier.token())
        .await;
    let regrade = moves.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["kind"] == "regrade")
        .expect("regrade movement");
    assert_eq!(regrade["reason"], "door left open 40 min; fruit inspected");
    app.post(
        &path,
        c.warehouse_staff.token(),
        &json!({"comment": "again"}),
    )
    .await
    .assert_error(409, "breach_acknowledged");
}

#[tokio::test]
async fn a_short_excursion_is_no_breach() {
    let app = TestApp::spawn().await;
    let c = custody(&app).await;
    let reply = send(
        &app,
        &c,
        vec![
            reading(&c, "s1", 30, "2"),
            reading(&c, "s1", 25, "8"),
            reading(&c, "s1", 10, "3"),
        ],
    )
    .await;
    assert_eq!(reply.body["breaches"], json!([]));
    assert_eq!(app.count("breaches").await, 0);
}

#[tokio::test]
async fn readings_out_of_order_and_repeated_give_the_same_breach() {
    let app = TestApp::spawn().await;
    let c = custody(&app).await;
    let mut spell = hot_spell(&c, "s1");
    spell.reverse();
    let (late, early) = spell.split_at(3);
    let first = send(&app, &c, late.to_vec()).await;
    assert_eq!(first.status, 200, "{}", first.text);
    assert_eq!(first.body["accepted"], 3, "{}", first.text);
    let reply = send(&app, &c, [early.to_vec(), late.to_vec()].concat()).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.body["duplicates"], 3);
    let all = app.get("/v1/breaches", c.warehouse_staff.token()).await;
    let items = all.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{}", all.text);
    assert_eq!(items[0]["started_at"], json!(minutes_ago(90)));
    assert_eq!(items[0]["ended_at"], json!(minutes_ago(50)));
    assert_eq!(items[0]["extreme_celsius"], "9");
}

#[tokio::test]
async fn a_late_in_range_reading_can_show_an_excursion_was_too_short() {
    let app = TestApp::spawn().await;
    let c = custody(&app).await;
    send(
        &app,
        &c,
        vec![
            reading(&c, "s1", 100, "2"),
            reading(&c, "s1", 90, "7"),
            reading(&c, "s1", 50, "7"),
            reading(&c, "s1", 40, "2"),
        ],
    )
    .await;
    assert_eq!(app.count("breaches").await, 1);
    // The gap is filled: the store was back in range after ten minutes, twice.
    send(
        &app,
        &c,
        vec![reading(&c, "s1", 80, "3"), reading(&c, "s1", 60, "3")],
    )
    .await;
    assert_eq!(app.count("breaches").await, 0);
}

#[tokio::test]
async fn goods_on_hold_can_still_be_released() {
    let app = TestApp::spawn().await;
    let c = custody(&app).await;
    let lot = c.lot_in_custody(&app, "10").await;
    send(&app, &c, hot_spell(&c, "s1")).await;
    let order = c.withdraw(&app, lot["id"].as_str().unwrap(), "10").await;
    assert_eq!(order.status, 201, "{}", order.text);
    let out = c.scan(&app, json!({"code": lot["code"], "action": "release", "release_order_id": order.body["release_order_id"]})).await;
    assert_eq!(out.status, 200, "{}", out.text);
    assert_eq!(out.body["lot"]["status"], "released");
}

#[tokio::test]
async fn bad_batches_are_refused_whole() {
    let app = TestApp::spawn().await;
    let c = custody(&app).await;
    let too_many: Vec<Value> = (0..1001)
        .map(|i| reading(&c, &format!("s{i}"), 10, "2"))
        .collect();
    send(&app, &c, too_many)
        .await
        .assert_error(422, "validation_failed");
    let empty = send(&app, &c, vec![]).await;
    assert_eq!(empty.field(), "readings");
    let future = send(&app, &c, vec![json!({"warehouse_id": c.warehouse_id, "sensor_id": "s", "recorded_at": Utc::now() + Duration::hours(1), "celsius": "2"})]).await;
    assert_eq!(future.field(), "readings[0].recorded_at");
    let mut foreign = reading(&c, "s", 10, "2");
    let stranger = app.owner_of(OrgKind::WarehouseOperator).await;
    let elsewhere = crate::fixtures::warehouse(&app, &c.admin, stranger.org_id, &c.commodity).await;
    foreign["warehouse_id"] = json!(elsewhere);
    let refused = send(&app, &c, vec![reading(&c, "s", 20, "2"), foreign]).await;
    refused.assert_error(404, "warehouse_not_found");
    assert_eq!(refused.field(), "readings[1].warehouse_id");
    assert_eq!(app.count("temperature_readings").await, 0);
}

#[tokio::test]
async fn a_breach_holds_only_the_goods_there_while_it_lasted_and_the_lender_hears_it_lifted() {
    let app = TestApp::spawn().await;
    let world = fixtures::lending(&app).await;
    let c = &world.custody;
    // Pledged goods in the store since three hours ago; a 40-minute hot spell ended 50 minutes
    // ago; goods received now, after it.
    let (before, loan) = world.active_loan(&app, "1000", "2000.00").await;
    received_hours_ago(&app, &before, 3).await;
    let reply = send(&app, c, hot_spell(c, "s1")).await;
    let breach_id = reply.body["breaches"][0]["id"]
        .as_str()
        .expect("breach")
        .to_owned();
    let after = c.lot_in_custody(&app, "1000").await;
    let lot = |value: &Value| {
        let id = value["id"].as_str().expect("id").to_owned();
        let app = &app;
        async move {
            app.get(&format!("/v1/lots/{id}"), c.supplier.token())
                .await
                .body
        }
    };
    assert_eq!(lot(&before).await["on_hold"], true);
    assert_eq!(
        lot(&after).await["on_hold"],
        false,
        "received after it ended"
    );
    let listed = app
        .get(
            &format!("/v1/lots?warehouse_id={}&status=in_custody", c.warehouse_id),
            c.supplier.token(),
        )
        .await;
    let held: Vec<&Value> = listed.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|l| l["on_hold"] == true)
        .collect();
    assert_eq!(held.len(), 1, "{}", listed.text);
    assert_eq!(held[0]["id"], before["id"]);
    // The lender's exposure counts the one held lot; the loan page shows the hold.
    let exposure = app.get("/v1/exposure", world.lender.token()).await;
    assert_eq!(
        exposure.body["breaches"][0]["lots_affected"], 1,
        "{}",
        exposure.text
    );
    let page = world.loan(&app, &loan).await;
    assert_eq!(page["holds"][0]["breach_id"], breach_id.as_str());
    assert_eq!(page["holds"][0]["lot_id"], before["id"]);
    assert_eq!(page["holds"][0]["lifted_at"], Value::Null);
    // Staff acknowledge with a downgrade: only the goods that were there are downgraded and
    // taken off hold.
    let done = app
        .post(
            &format!("/v1/breaches/{breach_id}/acknowledge"),
            c.warehouse_staff.token(),
            &json!({"comment": "fruit checked after the door was left open", "grade_downgrade": "B"}),
        )
        .await;
    assert_eq!(done.status, 200, "{}", done.text);
    assert_eq!(done.body["downgraded"].as_array().map(Vec::len), Some(1));
    assert_eq!(done.body["downgraded"][0]["lot_id"], before["id"]);
    assert_eq!(done.body["holds_lifted"], json!([before["id"]]));
    assert_eq!(lot(&before).await["on_hold"], false);
    assert_eq!(lot(&after).await["grade"], "A");
    let page = world.loan(&app, &loan).await;
    assert!(page["holds"][0]["lifted_at"].is_string(), "{page}");
    assert_eq!(
        page["holds"][0]["comment"],
        "fruit checked after the door was left open"
    );
    // The lender is told, with the lot and its downgrade.
    app.get("/v1/audit/verify", c.admin.token()).await;
    let events = app.get("/v1/events?limit=100", world.lender.token()).await;
    let lifted = events.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|e| e["event_type"] == "loan.collateral_hold_lifted")
        .unwrap_or_else(|| panic!("no hold-lifted event: {}", events.text));
    let data = &lifted["payload"]["data"];
    assert_eq!(data["loan_id"], loan.as_str(), "{lifted}");
    assert_eq!(data["breach_id"], breach_id.as_str());
    assert_eq!(data["lots"][0]["lot_id"], before["id"]);
    assert_eq!(data["lots"][0]["downgraded"]["to_grade"], "B");
}
