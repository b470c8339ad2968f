//! Quality inspection: rules per commodity, the grade that follows from what was measured, the
//! revaluation a regrade causes, eligibility (`not_inspected`, `inspection_overdue`), photos,
//! the lots due and who may do what.

use crate::fixtures::{
    self, Custody, Lending, assert_books_balance, close_days, inspect, lending, png, results_for,
    set_quality, today,
};
use crate::support::{Reply, Session, TestApp};
use holdfast::auth::{OrgKind, Role};
use serde_json::{Value, json};

fn id(value: &Value) -> String {
    value["id"].as_str().expect("id").to_owned()
}

async fn put_quality(app: &TestApp, who: &Session, commodity: &str, body: &Value) -> Reply {
    app.request(
        "PUT",
        &format!("/v1/commodities/{commodity}/quality"),
        Some(who.token()),
        Some(body),
    )
    .await
}

async fn inspect_with(app: &TestApp, who: &Session, lot: &str, body: Value) -> Reply {
    app.post_keyed(&format!("/v1/lots/{lot}/inspections"), who.token(), &body)
        .await
}

async fn valuation(app: &TestApp, c: &Custody, lot: &str) -> Value {
    let reply = app
        .get(&format!("/v1/lots/{lot}/valuation"), c.supplier.token())
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.body
}

async fn event_types(app: &TestApp, who: &Session) -> Vec<String> {
    // Verifying the trail seals what is pending, which places it in the feed.
    app.get("/v1/audit/verify", who.token()).await;
    let events = app.get("/v1/events?limit=500", who.token()).await;
    assert_eq!(events.status, 200, "{}", events.text);
    events.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|e| e["event_type"].as_str().expect("type").to_owned())
        .collect()
}

#[tokio::test]
async fn quality_rules_are_versioned_checked_and_kept_for_old_inspections() {
    let app = TestApp::spawn().await;
    let c = fixtures::custody(&app).await;
    let first = set_quality(&app, &c.admin, &c.commodity, false, None).await;
    assert_eq!(first["version"], 1);
    assert_eq!(first["current"], true);
    let lot = c.lot_in_custody(&app, "100").await;
    let inspected = inspect(&app, &c.warehouse_staff, &id(&lot), "A").await;
    assert_eq!(inspected.status, 201, "{}", inspected.text);
    assert_eq!(inspected.body["inspection"]["quality_version"], 1);
    let second = set_quality(&app, &c.admin, &c.commodity, true, Some(30)).await;
    assert_eq!(second["version"], 2);
    let now = app
        .get(
            &format!("/v1/commodities/{}/quality", c.commodity),
            c.supplier.token(),
        )
        .await;
    assert_eq!(now.body["version"], 2, "{}", now.text);
    assert_eq!(now.body["reinspect_days"], 30);
    let old = app
        .get(
            &format!("/v1/commodities/{}/quality?version=1", c.commodity),
            c.supplier.token(),
        )
        .await;
    assert_eq!(old.body["version"], 1, "{}", old.text);
    assert_eq!(old.body["current"], false);
    assert_eq!(old.body["inspection_required"], false);
    // The commodity shows the rules in force.
    let listed = app.get("/v1/commodities", c.supplier.token()).await;
    let ours = listed.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|x| x["code"] == c.commodity.as_str())
        .expect("commodity")
        .clone();
    assert_eq!(ours["quality_version"], 2);
    assert_eq!(ours["inspection_required"], true);
    // The earlier inspection keeps the version it was graded by.
    let history = app
        .get(
            &format!("/v1/lots/{}/inspections", id(&lot)),
            c.supplier.token(),
        )
        .await;
    assert_eq!(history.body["items"][0]["quality_version"], 1);

    // Rules that cannot stand: 422 naming the field.
    let mut bad = fixtures::apple_quality(false, None);
    bad["grades"][0]["ranges"]["colour"] = json!({"min": "1"});
    let refused = put_quality(&app, &c.admin, &c.commodity, &bad).await;
    refused.assert_error(422, "validation_failed");
    assert_eq!(refused.field(), "grades[0].ranges.colour");
    let mut bad = fixtures::apple_quality(false, None);
    bad["grades"][1]["grade"] = json!("D");
    let refused = put_quality(&app, &c.admin, &c.commodity, &bad).await;
    assert_eq!((refused.status, refused.field()), (422, "grades[1].grade"));
    let mut bad = fixtures::apple_quality(false, None);
    bad["parameters"][0]["min"] = json!("30");
    let refused = put_quality(&app, &c.admin, &c.commodity, &bad).await;
    assert_eq!(
        (refused.status, refused.field()),
        (422, "parameters[0].max")
    );
    let refused = put_quality(
        &app,
        &c.admin,
        &c.commodity,
        &fixtures::apple_quality(false, Some(30)),
    )
    .await;
    assert_eq!((refused.status, refused.field()), (422, "reinspect_days"));
    // Nothing of the refused versions was kept.
    let now = app
        .get(
            &format!("/v1/commodities/{}/quality", c.commodity),
            c.supplier.token(),
        )
        .await;
    assert_eq!(now.body["version"], 2);
    // No such commodity; not the platform.
    put_quality(
        &app,
        &c.admin,
        "NO_SUCH",
        &fixtures::apple_quality(false, None),
    )
    .await
    .assert_error(404, "commodity_not_found");
    let refused = put_quality(
        &app,
        &c.supplier,
        &c.commodity,
        &fixtures::apple_quality(false, None),
    )
    .await;
    assert_eq!(refused.status, 403, "{}", refused.text);
}

#[tokio::test]
async fn the_grade_follows_from_the_results_and_the_declared_grade_is_kept_beside_it() {
    let app = TestApp::spawn().await;
    let l = lending(&app).await;
    let c = &l.custody;
    set_quality(&app, &c.admin, &c.commodity, true, Some(30)).await;
    // Announced as A; not eligible until inspected; a loan on it is refused.
    let lot = c.lot_in_custody(&app, "1000").await;
    let lot_id = id(&lot);
    let before = valuation(&app, c, &lot_id).await;
    assert_eq!(before["eligible"], false);
    assert_eq!(before["ineligible_reasons"], json!(["not_inspected"]));
    let refused = l.request(&app, &lot_id, "1000", "100").await;
    refused.assert_error(422, "loan_refused");
    assert!(refused.text.contains("not_inspected"), "{}", refused.text);
    let due = app
        .get("/v1/inspections/due", c.warehouse_staff.token())
        .await;
    assert_eq!(
        due.body["items"][0]["lot_id"],
        lot_id.as_str(),
        "{}",
        due.text
    );
    assert_eq!(due.body["items"][0]["reason"], "never_inspected");

    // Measured as B.
    let inspected = inspect(&app, &c.warehouse_staff, &lot_id, "B").await;
    assert_eq!(inspected.status, 201, "{}", inspected.text);
    let body = &inspected.body;
    assert_eq!(body["regraded"], true);
    assert_eq!(body["inspection"]["graded"], "B");
    assert_eq!(body["inspection"]["grade"], "B");
    assert_eq!(body["inspection"]["grade_before"], "A");
    assert_eq!(body["inspection"]["results"], results_for("B"));
    assert_eq!(body["lot"]["grade"], "B");
    assert_eq!(body["lot"]["declared_grade"], "A");
    assert_eq!(
        body["lot"]["last_inspection_id"],
        body["inspection"]["id"].clone()
    );
    let due_on = (today() + chrono::Days::new(30)).to_string();
    assert_eq!(body["lot"]["inspection_due_on"], due_on.as_str());
    // Warehouse staff do not see what loans the grade touched.
    assert_eq!(body["loans_revalued"], json!([]));

    let after = valuation(&app, c, &lot_id).await;
    assert_eq!(after["eligible"], true, "{after}");
    assert_eq!(after["grade_factor"], "0.85");
    assert_eq!(after["market_value"], "5100.00");
    // The regrade is a movement of the lot.
    let moves = app
        .get(&format!("/v1/lots/{lot_id}/movements"), c.supplier.token())
        .await;
    let regrade = moves.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|m| m["kind"] == "regrade")
        .expect("regrade movement")
        .clone();
    assert_eq!(regrade["details"]["from_grade"], "A");
    assert_eq!(regrade["details"]["to_grade"], "B");
    // The supplier is told.
    assert!(
        event_types(&app, &c.supplier)
            .await
            .contains(&"lot.regraded".to_owned())
    );
    // Nothing is due any more; the lot can be pledged.
    let due = app
        .get("/v1/inspections/due", c.warehouse_staff.token())
        .await;
    assert_eq!(due.body["items"], json!([]), "{}", due.text);
    l.disbursed_loan(&app, &lot_id, "1000", "100").await;
    // The same grade again changes nothing but the record.
    let again = inspect(&app, &c.warehouse_staff, &lot_id, "B").await;
    assert_eq!(again.body["regraded"], false, "{}", again.text);
    let history = app
        .get(&format!("/v1/lots/{lot_id}/inspections"), l.lender.token())
        .await;
    assert_eq!(history.body["items"].as_array().map(Vec::len), Some(2));
    assert_books_balance(&app, &c.admin).await;
}

#[tokio::test]
async fn results_that_cannot_be_graded_are_refused_naming_the_field() {
    let app = TestApp::spawn().await;
    let c = fixtures::custody(&app).await;
    let lot = c.lot_in_custody(&app, "100").await;
    let lot_id = id(&lot);
    // No rules yet.
    inspect(&app, &c.warehouse_staff, &lot_id, "A")
        .await
        .assert_error(409, "no_quality_rules");
    set_quality(&app, &c.admin, &c.commodity, true, None).await;
    let with = |results: Value| json!({"sample_size": 10, "results": results});
    let cases = [
        (
            with(json!({"firmness_kgf": "7", "brix": "14", "defects_pct": "1", "colour": "3"})),
            "results.colour",
        ),
        (
            with(json!({"firmness_kgf": "7", "defects_pct": "1"})),
            "results.brix",
        ),
        (
            with(json!({"firmness_kgf": "25", "brix": "14", "defects_pct": "1"})),
            "results.firmness_kgf",
        ),
        (
            with(json!({"firmness_kgf": "seven", "brix": "14", "defects_pct": "1"})),
            "results.firmness_kgf",
        ),
        (
            json!({"sample_size": 0, "results": results_for("A")}),
            "sample_size",
        ),
        (
            json!({"sample_size": 5, "results": results_for("A"), "grade_override": {"grade": "Z", "reason": "looks fine"}}),
            "grade_override.grade",
        ),
        (
            json!({"sample_size": 5, "results": results_for("A"), "grade_override": {"grade": "B", "reason": "  "}}),
            "grade_override.reason",
        ),
    ];
    for (body, field) in cases {
        let refused = inspect_with(&app, &c.warehouse_staff, &lot_id, body).await;
        assert_eq!(refused.status, 422, "{field}: {}", refused.text);
        assert_eq!(refused.field(), field, "{}", refused.text);
    }
    assert_eq!(app.count("inspections").await, 0);
    // Results within what apples can be but outside every rule: the lowest grade.
    let low = inspect(&app, &c.warehouse_staff, &lot_id, "C").await;
    assert_eq!(low.status, 201, "{}", low.text);
    assert_eq!(low.body["lot"]["grade"], "C");
    // An override needs its reason, and keeps both grades.
    let overridden = inspect_with(
        &app,
        &c.warehouse_staff,
        &lot_id,
        json!({"sample_size": 30, "results": results_for("B"),
               "grade_override": {"grade": "A", "reason": "soft fruit from one bin only; the rest is A"}}),
    )
    .await;
    assert_eq!(overridden.status, 201, "{}", overridden.text);
    assert_eq!(overridden.body["inspection"]["graded"], "B");
    assert_eq!(overridden.body["inspection"]["grade"], "A");
    assert_eq!(
        overridden.body["inspection"]["override_reason"],
        "soft fruit from one bin only; the rest is A"
    );
    assert_eq!(overridden.body["lot"]["grade"], "A");
}

#[tokio::test]
async fn only_staff_of_the_warehouse_and_its_assigned_inspectors_may_inspect() {
    let app = TestApp::spawn().await;
    let c = fixtures::custody(&app).await;
    set_quality(&app, &c.admin, &c.commodity, true, Some(30)).await;
    let lot = c.lot_in_custody(&app, "100").await;
    let lot_id = id(&lot);
    let path = format!("/v1/lots/{lot_id}/inspections");
    let body = json!({"sample_size": 10, "results": results_for("A")});
    // The supplier and a lender may not (their kind); staff without the permission may not.
    for who in [
        c.supplier.clone(),
        app.owner_of(OrgKind::Lender).await,
        app.user(c.warehouse_staff.org_id, Role::Staff, &[]).await,
    ] {
        let refused = app.post_keyed(&path, who.token(), &body).await;
        assert_eq!(refused.status, 403, "{}", refused.text);
    }
    // Another warehouse's staff do not see the lot.
    let other = app.owner_of(OrgKind::WarehouseOperator).await;
    app.post_keyed(&path, other.token(), &body)
        .await
        .assert_error(404, "lot_not_found");
    // An inspector org: not until the platform assigns it to the warehouse.
    let inspectors = app.org("Yantai Inspection Co", OrgKind::Inspector).await;
    let inspector = app
        .user(
            inspectors,
            Role::Owner,
            &holdfast::auth::Permission::all_for(OrgKind::Inspector),
        )
        .await;
    app.post_keyed(&path, inspector.token(), &body)
        .await
        .assert_error(404, "lot_not_found");
    let assign = format!("/v1/warehouses/{}/inspectors", c.warehouse_id);
    let refused = app
        .post(
            &assign,
            c.admin.token(),
            &json!({"org_id": c.supplier.org_id}),
        )
        .await;
    assert_eq!((refused.status, refused.field()), (422, "org_id"));
    let assigned = app
        .post(&assign, c.admin.token(), &json!({"org_id": inspectors}))
        .await;
    assert_eq!(assigned.status, 201, "{}", assigned.text);
    let listed = app.get(&assign, c.warehouse_staff.token()).await;
    assert_eq!(
        listed.body["items"][0]["inspector_name"],
        "Yantai Inspection Co"
    );
    let seen = app
        .get(&format!("/v1/lots/{lot_id}"), inspector.token())
        .await;
    assert_eq!(seen.status, 200, "{}", seen.text);
    assert!(
        seen.body.get("receipt").is_none(),
        "inspectors see no money"
    );
    let due = app.get("/v1/inspections/due", inspector.token()).await;
    assert_eq!(
        due.body["items"][0]["lot_id"],
        lot_id.as_str(),
        "{}",
        due.text
    );
    let done = app.post_keyed(&path, inspector.token(), &body).await;
    assert_eq!(done.status, 201, "{}", done.text);
    assert_eq!(
        done.body["inspection"]["inspector_org_id"],
        inspectors.to_string()
    );
    // Unassigned, it sees the lot no more.
    let gone = app
        .request(
            "DELETE",
            &format!("{assign}/{inspectors}"),
            Some(c.admin.token()),
            None,
        )
        .await;
    assert_eq!(gone.status, 204, "{}", gone.text);
    app.post_keyed(&path, inspector.token(), &body)
        .await
        .assert_error(404, "lot_not_found");
    // Goods not yet received cannot be inspected.
    let announced = c.announce(&app, "10").await;
    app.post_keyed(
        &format!("/v1/lots/{}/inspections", id(&announced)),
        c.warehouse_staff.token(),
        &body,
    )
    .await
    .assert_error(409, "lot_not_in_custody");
    // The due list of another warehouse is not the caller's.
    let refused = app
        .get(
            &format!("/v1/inspections/due?warehouse_id={}", c.warehouse_id),
            other.token(),
        )
        .await;
    assert_eq!((refused.status, refused.field()), (404, "warehouse_id"));
}

#[tokio::test]
async fn a_downgrade_revalues_the_pledged_loan_at_once_and_opens_a_margin_call() {
    let app = TestApp::spawn().await;
    let l = lending(&app).await;
    let c = &l.custody;
    set_quality(&app, &c.admin, &c.commodity, true, Some(30)).await;
    let lot = c.lot_in_custody(&app, "10000").await;
    let lot_id = id(&lot);
    inspect(&app, &c.warehouse_staff, &lot_id, "A").await;
    // 60,000 of A apples; 28,000 lent: LTV 0.4667.
    let loan = l.disbursed_loan(&app, &lot_id, "10000", "28000").await;
    assert_eq!(l.loan(&app, &loan).await["ltv"], "0.466667");
    // Measured C: 36,000; LTV 0.7778 > the margin-call LTV 0.65.
    let downgraded = inspect(&app, &c.warehouse_staff, &lot_id, "C").await;
    assert_eq!(downgraded.status, 201, "{}", downgraded.text);
    let after = l.loan(&app, &loan).await;
    assert_eq!(after["collateral_value"], "36000.00", "{after}");
    assert_eq!(after["ltv"], "0.777778");
    let calls = app
        .get("/v1/margin-calls?status=open", l.lender.token())
        .await;
    assert_eq!(calls.body["items"][0]["status"], "open", "{}", calls.text);
    // The lender is told of the regrade and of the margin call.
    let events = event_types(&app, &l.lender).await;
    assert!(events.contains(&"lot.regraded".to_owned()), "{events:?}");
    assert!(
        events.contains(&"margin_call.opened".to_owned()),
        "{events:?}"
    );
    assert_books_balance(&app, &c.admin).await;
}

#[tokio::test]
async fn the_supplier_and_lender_see_which_loans_a_regrade_revalued() {
    let app = TestApp::spawn().await;
    let l = lending(&app).await;
    let c = &l.custody;
    set_quality(&app, &c.admin, &c.commodity, false, None).await;
    let (lot, loan) = l.active_loan(&app, "1000", "1000").await;
    let inspected = inspect(&app, &c.warehouse_staff, &id(&lot), "B").await;
    assert_eq!(inspected.body["loans_revalued"], json!([]));
    // The platform sees money, and the loan the regrade revalued.
    let platform_inspector = app.org("Platform QA", OrgKind::Inspector).await;
    let qa = app
        .user(
            platform_inspector,
            Role::Owner,
            &holdfast::auth::Permission::all_for(OrgKind::Inspector),
        )
        .await;
    app.post(
        &format!("/v1/warehouses/{}/inspectors", c.warehouse_id),
        c.admin.token(),
        &json!({"org_id": platform_inspector}),
    )
    .await;
    let regraded = inspect(&app, &qa, &id(&lot), "C").await;
    assert_eq!(regraded.status, 201, "{}", regraded.text);
    // Inspectors see no money either.
    assert_eq!(regraded.body["loans_revalued"], json!([]));
    assert_eq!(l.loan(&app, &loan).await["collateral_value"], "3600.00");
}

#[tokio::test]
async fn an_overdue_reinspection_makes_a_lot_ineligible_and_a_new_inspection_restores_it() {
    let app = TestApp::spawn().await;
    let l = lending(&app).await;
    let c = &l.custody;
    set_quality(&app, &c.admin, &c.commodity, true, Some(2)).await;
    let lot = c.lot_in_custody(&app, "1000").await;
    let lot_id = id(&lot);
    inspect(&app, &c.warehouse_staff, &lot_id, "A").await;
    let loan = l.disbursed_loan(&app, &lot_id, "500", "100").await;
    // Due in two days: eligible on the day it is due, overdue the day after.
    close_days(&app, 2).await;
    fixtures::post_price(
        &app,
        &c.admin,
        &c.commodity,
        "6.00",
        &chrono::Utc::now().to_rfc3339(),
    )
    .await;
    assert_eq!(valuation(&app, c, &lot_id).await["eligible"], true);
    close_days(&app, 3).await;
    let overdue = valuation(&app, c, &lot_id).await;
    assert_eq!(
        overdue["ineligible_reasons"],
        json!(["inspection_overdue"]),
        "{overdue}"
    );
    // The daily job told the owner, the warehouse and the lender.
    for who in [&c.supplier, &c.warehouse_staff, &l.lender] {
        let events = event_types(&app, who).await;
        assert!(
            events.contains(&"lot.inspection_overdue".to_owned()),
            "{events:?}"
        );
    }
    // The lender's exposure counts it; the warehouse has it on today's list.
    let exposure = app.get("/v1/exposure", l.lender.token()).await;
    assert_eq!(
        exposure.body["inspection_overdue"],
        json!({"lots": 1, "loans": 1, "collateral_value": "3000.00"}),
        "{}",
        exposure.text
    );
    assert_books_balance(&app, &c.admin).await;
    let due = app
        .get(
            &format!("/v1/inspections/due?warehouse_id={}", c.warehouse_id),
            c.warehouse_staff.token(),
        )
        .await;
    assert_eq!(due.body["items"][0]["reason"], "overdue", "{}", due.text);
    // More goods cannot be pledged on it.
    let refused = app
        .post_keyed(
            &format!("/v1/loans/{loan}/collateral"),
            c.supplier.token(),
            &json!({"collateral": [{"lot_id": lot_id, "quantity": "100"}]}),
        )
        .await;
    assert!(
        refused.text.contains("inspection_overdue"),
        "{}",
        refused.text
    );
    // Inspected again: eligible, and counted no more.
    let again = inspect(&app, &c.warehouse_staff, &lot_id, "A").await;
    assert_eq!(again.status, 201, "{}", again.text);
    assert_eq!(valuation(&app, c, &lot_id).await["eligible"], true);
    let exposure = app.get("/v1/exposure", l.lender.token()).await;
    assert_eq!(exposure.body["inspection_overdue"]["lots"], 0);
    assert_books_balance(&app, &c.admin).await;
}

#[tokio::test]
async fn photos_are_checked_cleaned_bounded_and_shown_only_to_those_who_see_the_lot() {
    let app = TestApp::spawn().await;
    let l = lending(&app).await;
    let c = &l.custody;
    set_quality(&app, &c.admin, &c.commodity, false, None).await;
    let lot = c.lot_in_custody(&app, "100").await;
    let inspected = inspect(&app, &c.warehouse_staff, &id(&lot), "A").await;
    let inspection = inspected.body["inspection"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let path = format!("/v1/inspections/{inspection}/photos");
    let upload = |who: Session, content_type: &'static str, bytes: Vec<u8>| {
        let (app, path) = (&app, path.clone());
        async move {
            app.send_bytes("POST", &path, who.token(), content_type, bytes)
                .await
        }
    };
    // A PNG carrying where it was taken.
    let clean = png(8, 6);
    let iend = clean.len() - 12;
    let mut tagged = clean[..iend].to_vec();
    tagged.extend(holdfast::domain::photo::png_chunk(
        b"tEXt",
        b"GPS\0Yantai cold store 37.46N 121.44E",
    ));
    tagged.extend_from_slice(&clean[iend..]);
    let added = upload(c.warehouse_staff.clone(), "image/png", tagged).await;
    assert_eq!(added.status, 201, "{}", added.text);
    assert_eq!(added.body["width"], 8);
    assert_eq!(added.body["size_bytes"], clean.len());
    let url = added.body["url"].as_str().expect("url").to_owned();
    let (status, content_type, bytes) = app.get_bytes(&url, c.supplier.token()).await;
    assert_eq!(status, 200);
    assert_eq!(content_type.as_deref(), Some("image/png"));
    assert_eq!(bytes, clean, "the location chunk is gone, the image kept");
    // Listed with the inspection.
    let history = app
        .get(
            &format!("/v1/lots/{}/inspections", id(&lot)),
            c.supplier.token(),
        )
        .await;
    assert_eq!(history.body["items"][0]["photos"][0]["url"], url.as_str());

    // Not an image; a type the bytes do not bear out; too large.
    let refused = upload(
        c.warehouse_staff.clone(),
        "image/png",
        b"%PDF-1.7 not a photo".to_vec(),
    )
    .await;
    assert_eq!(
        (refused.status, refused.field()),
        (422, "photo"),
        "{}",
        refused.text
    );
    let refused = upload(c.warehouse_staff.clone(), "image/jpeg", png(4, 4)).await;
    assert_eq!(
        (refused.status, refused.field()),
        (422, "Content-Type"),
        "{}",
        refused.text
    );
    let huge = png(1000, 800);
    assert!(huge.len() > holdfast::inspections::model::MAX_PHOTO_BYTES);
    let refused = upload(c.warehouse_staff.clone(), "image/png", huge).await;
    assert_eq!(
        (refused.status, refused.field()),
        (422, "photo"),
        "{}",
        refused.text
    );
    // At most six.
    for _ in 1..6 {
        let added = upload(c.warehouse_staff.clone(), "image/png", png(4, 4)).await;
        assert_eq!(added.status, 201, "{}", added.text);
    }
    let refused = upload(c.warehouse_staff.clone(), "image/png", png(4, 4)).await;
    assert_eq!(
        (refused.status, refused.field()),
        (422, "photo"),
        "{}",
        refused.text
    );
    // Only the inspecting org adds photos.
    let other = app.owner_of(OrgKind::WarehouseOperator).await;
    upload(other.clone(), "image/png", png(4, 4))
        .await
        .assert_error(404, "inspection_not_found");
    // Those who may not see the lot do not see its photos: another warehouse, another
    // supplier, a lender with no pledge on it. A lender with one does.
    for stranger in [
        other,
        app.owner_of(OrgKind::Supplier).await,
        l.lender.clone(),
    ] {
        let (status, _, _) = app.get_bytes(&url, stranger.token()).await;
        assert_eq!(status, 404);
    }
    l.disbursed_loan(&app, &id(&lot), "100", "10").await;
    let (status, _, _) = app.get_bytes(&url, l.lender.token()).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn an_inspection_racing_a_settlement_of_the_same_lot_leaves_one_consistent_result() {
    let app = TestApp::spawn().await;
    let l: Lending = lending(&app).await;
    let c = &l.custody;
    set_quality(&app, &c.admin, &c.commodity, false, None).await;
    let buyer = app.owner_of(OrgKind::Buyer).await;
    for round in 0..3 {
        let (lot, loan) = l.active_loan(&app, "10000", "20000").await;
        let lot_id = id(&lot);
        let sold = app
            .post_keyed(
                "/v1/sales",
                c.supplier.token(),
                &json!({"buyer_org_id": buyer.org_id, "currency": "CNY",
                        "lines": [{"lot_id": lot_id, "quantity": "10000", "unit_price": "6.00"}]}),
            )
            .await;
        assert_eq!(sold.status, 201, "{}", sold.text);
        let sale = id(&sold.body);
        let (pay_path, amount) = (
            format!("/v1/sales/{sale}/payments"),
            json!({"amount": "60000.00"}),
        );
        let pay = app.post_keyed(&pay_path, buyer.token(), &amount);
        let grade = inspect(&app, &c.warehouse_staff, &lot_id, "C");
        let (paid, graded) = tokio::join!(pay, grade);
        assert_eq!(paid.status, 201, "round {round}: {}", paid.text);
        assert_eq!(paid.body["sale"]["status"], "settled", "{}", paid.text);
        assert_eq!(graded.status, 201, "round {round}: {}", graded.text);
        // The loan was repaid from the sale whichever ran first; the lot's grade is the
        // inspection's; the books balance and the exposure equals its recomputation.
        let after = l.loan(&app, &loan).await;
        assert_eq!(after["status"], "repaid", "{after}");
        let seen = app
            .get(&format!("/v1/lots/{lot_id}"), c.supplier.token())
            .await;
        assert_eq!(seen.body["grade"], "C");
        assert_books_balance(&app, &c.admin).await;
    }
}
