//! Facilities, loans, interest, repayments, margin calls, release consent, the ledger and
//! exposure, through the API as lenders and suppliers use them.

use crate::fixtures::{
    self, assert_books_balance, close_days, lending, lending_with, post_price, today,
};
use crate::support::TestApp;
use holdfast::auth::{OrgKind, Permission, Role};
use rust_decimal::Decimal;
use serde_json::{Value, json};

fn dec(value: &Value) -> Decimal {
    value
        .as_str()
        .unwrap_or_else(|| panic!("not a decimal string: {value}"))
        .parse()
        .expect("decimal")
}

#[tokio::test]
async fn a_loan_runs_from_request_through_interest_to_repayment() {
    let app = TestApp::spawn().await;
    let world = lending(&app).await;
    let lot = world.custody.lot_in_custody(&app, "10000").await;
    let lot_id = lot["id"].as_str().unwrap();

    let requested = world.request(&app, lot_id, "10000", "30000").await;
    assert_eq!(requested.status, 201, "{}", requested.text);
    assert_eq!(requested.body["status"], "requested");
    assert_eq!(requested.body["principal"], "30000.00");
    assert_eq!(requested.body["collateral_value"], "60000.00");
    assert_eq!(requested.body["ltv"], "0.5");
    let loan = requested.body["id"].as_str().unwrap().to_owned();
    let pledged = app
        .get(
            &format!("/v1/lots/{lot_id}"),
            world.custody.supplier.token(),
        )
        .await;
    assert_eq!(pledged.body["quantity_pledged"], "10000.000");
    let facility = app
        .get(
            &format!("/v1/facilities/{}", world.facility_id),
            world.lender.token(),
        )
        .await;
    assert_eq!(facility.body["committed"], "30000.00");
    assert_eq!(facility.body["available"], "970000.00");

    // The lender now sees the pledged lot.
    let seen = app
        .get(&format!("/v1/lots/{lot_id}"), world.lender.token())
        .await;
    assert_eq!(seen.status, 200, "{}", seen.text);

    let approved = app
        .post(
            &format!("/v1/loans/{loan}/approve"),
            world.lender.token(),
            &json!({}),
        )
        .await;
    assert_eq!(approved.body["status"], "approved", "{}", approved.text);
    let disbursed = world
        .post_as(
            &app,
            &world.lender,
            &format!("/v1/loans/{loan}/disburse"),
            json!({}),
        )
        .await;
    assert_eq!(disbursed.status, 200, "{}", disbursed.text);
    assert_eq!(disbursed.body["loan"]["status"], "active");
    assert_eq!(disbursed.body["loan"]["outstanding_principal"], "30000.00");
    assert_eq!(disbursed.body["loan"]["disbursed_on"], json!(today()));
    let again = world
        .post_as(
            &app,
            &world.lender,
            &format!("/v1/loans/{loan}/disburse"),
            json!({}),
        )
        .await;
    again.assert_error(409, "loan_status");

    // 40 days: 30,000 × 8 % / 365 = 6.57534247 a day.
    close_days(&app, 40).await;
    let after = world.loan(&app, &loan).await;
    assert_eq!(after["accrued_interest"], "263.01369880");
    assert_eq!(after["interest_due"], "263.01");
    assert_eq!(after["amount_to_repay"], "30263.01");

    let too_much = world.repay(&app, &loan, "30263.02").await;
    too_much.assert_error(422, "validation_failed");
    assert_eq!(too_much.field(), "amount");
    let part = world.repay(&app, &loan, "300").await;
    assert_eq!(part.status, 201, "{}", part.text);
    assert_eq!(
        part.body["allocation"],
        json!({"fees": "0.00", "interest": "263.01", "principal": "36.99"})
    );
    assert_eq!(part.body["loan"]["outstanding_principal"], "29963.01");
    let rest = world.repay(&app, &loan, "29963.01").await;
    assert_eq!(rest.status, 201, "{}", rest.text);
    assert_eq!(rest.body["loan"]["status"], "repaid");
    assert_eq!(rest.body["loan"]["collateral"], json!([]));
    let freed = app
        .get(
            &format!("/v1/lots/{lot_id}"),
            world.custody.supplier.token(),
        )
        .await;
    assert_eq!(freed.body["quantity_pledged"], "0.000");

    let entries = app
        .get(
            &format!("/v1/ledger/entries?loan_id={loan}"),
            world.lender.token(),
        )
        .await;
    let kinds: Vec<&str> = entries.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["disbursement", "repayment", "repayment"]);
    let accounts = app.get("/v1/ledger/accounts", world.lender.token()).await;
    let balance = |kind: &str| {
        accounts.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["kind"] == kind)
            .map(|a| a["balance"].clone())
    };
    assert_eq!(balance("interest_income"), Some(json!("-263.01")));
    assert_eq!(balance("loans_receivable"), Some(json!("0.00")));
    assert_eq!(balance("cash"), Some(json!("263.01")));
    // The supplier's books hold the mirror image, and only its own accounts.
    let theirs = app
        .get("/v1/ledger/accounts", world.custody.supplier.token())
        .await;
    assert!(
        theirs.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["org_id"] == json!(world.custody.supplier.org_id))
    );
    assert_books_balance(&app, &world.custody.admin).await;
}

#[tokio::test]
async fn a_loan_is_refused_with_every_reason() {
    let app = TestApp::spawn().await;
    let world = lending_with(&app, json!({"limit": "40000"})).await;
    let c = &world.custody;
    let lot = c.lot_in_custody(&app, "10000").await;
    let lot_id = lot["id"].as_str().unwrap();

    let over_value = world.request(&app, lot_id, "10000", "30000.01").await;
    over_value.assert_error(422, "loan_refused");
    assert_eq!(over_value.field(), "principal");
    assert_eq!(
        over_value.body["error"]["details"]["lending_value"],
        "30000.00"
    );
    let codes = |reply: &crate::support::Reply| -> Vec<String> {
        reply.body["error"]["details"]["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["code"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(codes(&over_value), ["principal_exceeds_lending_value"]);

    // Within value but above what the facility has left.
    let first = world.request(&app, lot_id, "10000", "30000").await;
    assert_eq!(first.status, 201, "{}", first.text);
    let second_lot = c.lot_in_custody(&app, "10000").await;
    let over_limit = world
        .request(
            &app,
            second_lot["id"].as_str().unwrap(),
            "10000",
            "10000.01",
        )
        .await;
    assert_eq!(codes(&over_limit), ["principal_exceeds_available_limit"]);

    // The first lot is fully pledged now.
    let taken = world.request(&app, lot_id, "1", "1").await;
    assert_eq!(codes(&taken), ["already_pledged", "quantity_not_free"]);
    // The refusal says how much is free to pledge: nothing.
    assert_eq!(
        taken.body["error"]["details"]["reasons"][1]["quantity_free"], "0.000",
        "{}",
        taken.text
    );
    assert_eq!(taken.field(), "collateral[0].lot_id");

    let announced = c.announce(&app, "100").await;
    let not_here = world
        .request(&app, announced["id"].as_str().unwrap(), "100", "1")
        .await;
    assert_eq!(codes(&not_here), ["not_in_custody", "quantity_not_free"]);

    // A facility for another commodity does not take these apples.
    let pears = "PEAR_LENDING";
    fixtures::commodity(&app, &c.admin, pears).await;
    let other = app
        .post(
            "/v1/facilities",
            world.lender.token(),
            &json!({"supplier_org_id": c.supplier.org_id, "currency": "CNY", "limit": "1000",
                    "annual_interest_rate": "0.08", "max_tenor_days": 30, "eligible_commodities": [pears]}),
        )
        .await;
    assert_eq!(other.status, 201, "{}", other.text);
    let refused = app
        .post(
            "/v1/loans",
            c.supplier.token(),
            &json!({"facility_id": other.body["id"], "principal": "1",
                    "collateral": [{"lot_id": second_lot["id"], "quantity": "1"}]}),
        )
        .await;
    assert_eq!(codes(&refused), ["commodity_not_allowed"]);

    // A stale price: the business date moves 8 days past the only price.
    close_days(&app, 8).await;
    let stale = world
        .request(&app, second_lot["id"].as_str().unwrap(), "10", "1")
        .await;
    assert_eq!(codes(&stale), ["stale_price"]);

    // Bad input names the field; other people's facilities do not exist; lenders do not borrow.
    let zero = world
        .request(&app, second_lot["id"].as_str().unwrap(), "10", "0")
        .await;
    zero.assert_error(422, "validation_failed");
    assert_eq!(zero.field(), "principal");
    let fine = world
        .request(&app, second_lot["id"].as_str().unwrap(), "10", "1.001")
        .await;
    assert_eq!(fine.field(), "principal");
    let stranger = app.owner_of(OrgKind::Supplier).await;
    let hidden = app
        .post(
            "/v1/loans",
            stranger.token(),
            &json!({"facility_id": world.facility_id, "principal": "1", "collateral": [{"lot_id": lot_id, "quantity": "1"}]}),
        )
        .await;
    hidden.assert_error(404, "facility_not_found");
    let lender_borrows = app
        .post(
            "/v1/loans",
            world.lender.token(),
            &json!({"facility_id": world.facility_id}),
        )
        .await;
    lender_borrows.assert_error(403, "forbidden");
    let unknown = app
        .post(
            "/v1/loans",
            c.supplier.token(),
            &json!({"facility_id": world.facility_id, "principal": "1", "collateral": [], "tenor": 3}),
        )
        .await;
    assert_eq!(unknown.status, 422, "{}", unknown.text);
    assert_books_balance(&app, &c.admin).await;
}

#[tokio::test]
async fn facilities_are_validated_and_private_to_their_parties() {
    let app = TestApp::spawn().await;
    let world = lending(&app).await;
    let c = &world.custody;
    let base = json!({"supplier_org_id": c.supplier.org_id, "currency": "CNY", "limit": "1000",
                      "annual_interest_rate": "0.08", "max_tenor_days": 30, "eligible_commodities": [c.commodity]});
    let with = |key: &str, value: Value| {
        let mut body = base.clone();
        body[key] = value;
        body
    };
    for (body, field) in [
        (with("margin_call_ltv", json!("0.4")), "margin_call_ltv"),
        (with("liquidation_ltv", json!("0.6")), "liquidation_ltv"),
        (with("limit", json!("-1")), "limit"),
        (with("currency", json!("cny")), "currency"),
        (
            with("eligible_commodities", json!(["NOPE"])),
            "eligible_commodities[0]",
        ),
        (with("max_tenor_days", json!(0)), "max_tenor_days"),
    ] {
        let reply = app
            .post("/v1/facilities", world.lender.token(), &body)
            .await;
        reply.assert_error(422, "validation_failed");
        assert_eq!(reply.field(), field, "{}", reply.text);
    }
    // An org that is not a supplier is no supplier to lend to: 404 naming the field.
    let not_supplier = app
        .post(
            "/v1/facilities",
            world.lender.token(),
            &with("supplier_org_id", json!(world.lender.org_id)),
        )
        .await;
    not_supplier.assert_error(404, "reference_not_found");
    assert_eq!(not_supplier.field(), "supplier_org_id");
    let other_lender = app.owner_of(OrgKind::Lender).await;
    let hidden = app
        .get(
            &format!("/v1/facilities/{}", world.facility_id),
            other_lender.token(),
        )
        .await;
    hidden.assert_error(404, "facility_not_found");
    let mine = app
        .get(
            &format!("/v1/facilities/{}", world.facility_id),
            c.supplier.token(),
        )
        .await;
    assert_eq!(mine.status, 200, "{}", mine.text);
    assert_eq!(mine.body["advance_rate"], "0.5");
    let staff = app.user(world.lender.org_id, Role::Staff, &[]).await;
    app.post("/v1/facilities", staff.token(), &base)
        .await
        .assert_error(403, "forbidden");
}

#[tokio::test]
async fn a_second_approver_must_confirm_when_the_facility_asks() {
    let app = TestApp::spawn().await;
    let world = lending_with(&app, json!({"second_approver_required": true})).await;
    let lot = world.custody.lot_in_custody(&app, "100").await;
    let requested = world
        .request(&app, lot["id"].as_str().unwrap(), "100", "100")
        .await;
    let loan = requested.body["id"].as_str().unwrap().to_owned();
    let approve = format!("/v1/loans/{loan}/approve");

    let first = app.post(&approve, world.lender.token(), &json!({})).await;
    assert_eq!(first.status, 200, "{}", first.text);
    assert_eq!(first.body["status"], "requested");
    assert_eq!(first.body["approvals"]["awaiting_second_approval"], true);
    let early = world
        .post_as(
            &app,
            &world.lender,
            &format!("/v1/loans/{loan}/disburse"),
            json!({}),
        )
        .await;
    early.assert_error(409, "loan_status");
    app.post(&approve, world.lender.token(), &json!({}))
        .await
        .assert_error(409, "second_approver_required");

    let checker = app
        .user(world.lender.org_id, Role::Staff, &[Permission::CreditWrite])
        .await;
    let confirmed = app.post(&approve, checker.token(), &json!({})).await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.text);
    assert_eq!(confirmed.body["status"], "approved");
    assert_eq!(
        confirmed.body["approvals"]["confirmed_by"],
        json!(checker.user_id)
    );

    // Rejecting an approved loan before disbursement frees its goods.
    let rejected = app
        .post(
            &format!("/v1/loans/{loan}/reject"),
            checker.token(),
            &json!({"reason": "changed our mind"}),
        )
        .await;
    assert_eq!(rejected.body["status"], "rejected", "{}", rejected.text);
    let freed = app
        .get(
            &format!("/v1/lots/{}", lot["id"].as_str().unwrap()),
            world.custody.supplier.token(),
        )
        .await;
    assert_eq!(freed.body["quantity_pledged"], "0.000");
    app.post(
        &format!("/v1/loans/{loan}/cancel"),
        world.custody.supplier.token(),
        &json!({}),
    )
    .await
    .assert_error(409, "loan_status");
}

#[tokio::test]
async fn pledged_goods_leave_only_with_the_lenders_consent_within_the_advance_rate() {
    let app = TestApp::spawn().await;
    let world = lending(&app).await;
    let c = &world.custody;
    let (lot, loan) = world.active_loan(&app, "10000", "20000").await;
    let lot_id = lot["id"].as_str().unwrap();
    c.withdraw(&app, lot_id, "1")
        .await
        .assert_error(409, "quantity_not_free");

    let consent = format!("/v1/loans/{loan}/collateral/release");
    // 5,000 kg out leaves 30,000 of value for 20,000 owed: LTV 0.67 > 0.50.
    let too_much = world
        .post_as(
            &app,
            &world.lender,
            &consent,
            json!({"lot_id": lot_id, "quantity": "5000"}),
        )
        .await;
    too_much.assert_error(409, "ltv_above_advance_rate");
    world
        .post_as(
            &app,
            &c.supplier,
            &consent,
            json!({"lot_id": lot_id, "quantity": "1"}),
        )
        .await
        .assert_error(403, "forbidden");
    let other_lender = app.owner_of(OrgKind::Lender).await;
    world
        .post_as(
            &app,
            &other_lender,
            &consent,
            json!({"lot_id": lot_id, "quantity": "1"}),
        )
        .await
        .assert_error(404, "loan_not_found");

    let given = world
        .post_as(
            &app,
            &world.lender,
            &consent,
            json!({"lot_id": lot_id, "quantity": "2000"}),
        )
        .await;
    assert_eq!(given.status, 201, "{}", given.text);
    assert_eq!(given.body["loan"]["collateral_value"], "48000.00");
    assert_eq!(given.body["release_order"]["kind"], "lender_consent");
    let order = given.body["release_order_id"].as_str().unwrap();
    let out = c
        .scan(
            &app,
            json!({"code": lot["code"], "action": "release", "release_order_id": order}),
        )
        .await;
    assert_eq!(out.status, 200, "{}", out.text);
    assert_eq!(out.body["lot"]["quantity_on_hand"], "8000.000");
    assert_eq!(out.body["lot"]["quantity_pledged"], "8000.000");
    assert_books_balance(&app, &c.admin).await;
}

#[tokio::test]
async fn the_same_disbursement_sent_twice_at_once_pays_out_once() {
    let app = TestApp::spawn().await;
    let world = lending(&app).await;
    let lot = world.custody.lot_in_custody(&app, "1000").await;
    let requested = world
        .request(&app, lot["id"].as_str().unwrap(), "1000", "3000")
        .await;
    let loan = requested.body["id"].as_str().unwrap().to_owned();
    app.post(
        &format!("/v1/loans/{loan}/approve"),
        world.lender.token(),
        &json!({}),
    )
    .await;
    let path = format!("/v1/loans/{loan}/disburse");
    let key = uuid::Uuid::new_v4().to_string();
    let headers = [("Idempotency-Key", key.as_str())];
    let body = json!({});
    let send = || {
        app.request_with(
            "POST",
            &path,
            Some(world.lender.token()),
            Some(&body),
            &headers,
        )
    };
    let (a, b) = tokio::join!(send(), send());
    let statuses = [a.status, b.status];
    assert!(
        statuses.contains(&200),
        "{statuses:?}: {} / {}",
        a.text,
        b.text
    );
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 409),
        "{statuses:?}"
    );
    // Different keys racing: the loan's lock lets one through.
    let other = world.post_as(&app, &world.lender, &path, json!({})).await;
    other.assert_error(409, "loan_status");
    assert_eq!(
        app.count("journal_entries WHERE kind = 'disbursement'")
            .await,
        1
    );
    assert_books_balance(&app, &world.custody.admin).await;
}

#[tokio::test]
async fn two_loans_racing_for_the_last_quantity_get_it_once() {
    let app = TestApp::spawn().await;
    let world = lending(&app).await;
    let lot = world.custody.lot_in_custody(&app, "1000").await;
    let lot_id = lot["id"].as_str().unwrap();
    let (a, b) = tokio::join!(
        world.request(&app, lot_id, "1000", "100"),
        world.request(&app, lot_id, "1000", "200")
    );
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert_eq!(statuses, [201, 422], "{} / {}", a.text, b.text);
    let after = app
        .get(
            &format!("/v1/lots/{lot_id}"),
            world.custody.supplier.token(),
        )
        .await;
    assert_eq!(after.body["quantity_pledged"], "1000.000");
    assert_eq!(app.count("loans").await, 1);
}

#[tokio::test]
async fn a_30_percent_price_drop_opens_margin_calls_for_exactly_the_loans_above_the_threshold() {
    let app = TestApp::spawn().await;
    let world = lending(&app).await;
    let c = &world.custody;
    // Each lot is worth 60,000; LTVs 0.40, 0.46, 0.50.
    let (_, low) = world.active_loan(&app, "10000", "24000").await;
    let (_, middle) = world.active_loan(&app, "10000", "27600").await;
    let (_, high) = world.active_loan(&app, "10000", "30000").await;

    post_price(
        &app,
        &c.admin,
        &c.commodity,
        "4.20",
        &chrono::Utc::now().to_rfc3339(),
    )
    .await;
    // After: 0.5714, 0.6571, 0.7143 against a margin-call LTV of 0.65.
    let open = app
        .get("/v1/margin-calls?status=open", world.lender.token())
        .await;
    let mut called: Vec<&str> = open.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["loan_id"].as_str().unwrap())
        .collect();
    called.sort();
    let mut expected = vec![middle.as_str(), high.as_str()];
    expected.sort();
    assert_eq!(called, expected);
    assert_eq!(world.loan(&app, &low).await["margin_call"], Value::Null);
    let high_loan = world.loan(&app, &high).await;
    assert_eq!(high_loan["ltv"], "0.714286");
    assert_eq!(high_loan["margin_call"]["status"], "open");
    assert_eq!(
        high_loan["margin_call"]["deadline"],
        json!(today() + chrono::Days::new(3))
    );

    // The call says what cures it: 27,600 − 6,599.98 = 21,000.02 on 42,000 is an LTV of
    // 0.5000005, read to six places as the advance rate 0.500000; so is 27,600 on
    // 42,000 + 13,199.95. The list of calls says the same.
    let middle_loan = world.loan(&app, &middle).await;
    assert_eq!(
        middle_loan["cure"],
        json!({"repayment": "6599.98", "extra_collateral_value": "13199.95", "target_ltv": "0.5"})
    );
    let listed = open.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["loan_id"] == middle.as_str())
        .expect("listed");
    assert_eq!(listed["cure"], middle_loan["cure"]);
    assert_eq!(world.loan(&app, &low).await["cure"], Value::Null);
    assert_eq!(high_loan["cure"]["repayment"], "8999.98");
    assert_eq!(high_loan["cure"]["extra_collateral_value"], "17999.95");
    // A cent less does not cure it; the cent does.
    let short = world.repay(&app, &middle, "6599.97").await;
    assert_eq!(short.status, 201, "{}", short.text);
    assert_eq!(short.body["loan"]["margin_call"]["status"], "open");
    assert_eq!(short.body["loan"]["cure"]["repayment"], "0.01");
    let repaid = world.repay(&app, &middle, "0.01").await;
    assert_eq!(repaid.status, 201, "{}", repaid.text);
    assert_eq!(repaid.body["loan"]["cure"], Value::Null);
    assert_eq!(repaid.body["loan"]["margin_call"]["status"], "cured");
    assert_eq!(
        repaid.body["loan"]["margin_call"]["closed_reason"],
        "repayment"
    );

    // Cured by pledging more: 5,000 kg more at 4.20 makes 63,000 for 30,000.
    let extra = c.lot_in_custody(&app, "5000").await;
    let topped = app
        .post_keyed(
            &format!("/v1/loans/{high}/collateral"),
            c.supplier.token(),
            &json!({"collateral": [{"lot_id": extra["id"], "quantity": "5000"}]}),
        )
        .await;
    assert_eq!(topped.status, 200, "{}", topped.text);
    assert_eq!(topped.body["collateral_value"], "63000.00");
    assert_eq!(topped.body["margin_call"]["status"], "cured");
    assert_eq!(topped.body["margin_call"]["closed_reason"], "collateral");
    assert_books_balance(&app, &c.admin).await;
}

#[tokio::test]
async fn an_uncured_margin_call_defaults_the_loan_and_the_lender_orders_the_goods_sold() {
    let app = TestApp::spawn().await;
    let world = lending(&app).await;
    let c = &world.custody;
    let (_, called) = world.active_loan(&app, "10000", "30000").await;
    let (_, crashed) = world.active_loan(&app, "10000", "10000").await;
    post_price(
        &app,
        &c.admin,
        &c.commodity,
        "4.20",
        &chrono::Utc::now().to_rfc3339(),
    )
    .await;
    assert_eq!(
        world.loan(&app, &called).await["margin_call"]["status"],
        "open"
    );

    // Still open on the deadline; defaulted the day after.
    close_days(&app, 3).await;
    assert_eq!(world.loan(&app, &called).await["status"], "active");
    app.post(
        &format!("/v1/loans/{called}/liquidate"),
        world.lender.token(),
        &json!({}),
    )
    .await
    .assert_error(409, "loan_status");
    close_days(&app, 4).await;
    let defaulted = world.loan(&app, &called).await;
    assert_eq!(defaulted["status"], "defaulted");
    assert_eq!(defaulted["default_reason"], "margin_call_deadline");
    assert_eq!(defaulted["margin_call"]["status"], "defaulted");

    // Above the liquidation LTV the loan defaults at once: 10,000 on 10,000 × 1.00 = 1.0.
    let posted_at = (chrono::Utc::now() + chrono::Days::new(4)).to_rfc3339();
    post_price(&app, &c.admin, &c.commodity, "1.00", &posted_at).await;
    let crashed = world.loan(&app, &crashed).await;
    assert_eq!(crashed["status"], "defaulted", "{crashed}");
    assert_eq!(crashed["default_reason"], "liquidation_ltv");

    let ordered = app
        .post(
            &format!("/v1/loans/{called}/liquidate"),
            world.lender.token(),
            &json!({}),
        )
        .await;
    assert_eq!(ordered.status, 201, "{}", ordered.text);
    assert_eq!(ordered.body["loan"]["status"], "liquidating");
    assert_eq!(ordered.body["lots"][0]["quantity"], "10000.000");
    app.post(
        &format!("/v1/loans/{called}/liquidate"),
        world.lender.token(),
        &json!({}),
    )
    .await
    .assert_error(409, "loan_status");
    // A defaulted loan can still be repaid in full; it is then closed.
    let owed = world.loan(&app, &called).await["amount_to_repay"].clone();
    let paid = world.repay(&app, &called, owed.as_str().unwrap()).await;
    assert_eq!(paid.body["loan"]["status"], "closed", "{}", paid.text);
    assert_books_balance(&app, &c.admin).await;
}

/// A loan paid in full under an open margin call: the call is cured by the repayment, the loan
/// closes with its debt and collateral at zero, every pledge is released, and the kept
/// exposure figures still equal a computation from scratch.
#[tokio::test]
async fn a_loan_repaid_in_full_under_a_margin_call_cures_it_and_gives_back_every_pledge() {
    let app = TestApp::spawn().await;
    let world = lending(&app).await;
    let c = &world.custody;
    let (lot, called) = world.active_loan(&app, "10000", "30000").await;
    let (_, other) = world.active_loan(&app, "10000", "24000").await;
    post_price(
        &app,
        &c.admin,
        &c.commodity,
        "4.20",
        &chrono::Utc::now().to_rfc3339(),
    )
    .await;
    assert_eq!(
        world.loan(&app, &called).await["margin_call"]["status"],
        "open"
    );
    let owed = world.loan(&app, &called).await["amount_to_repay"].clone();
    let paid = world.repay(&app, &called, owed.as_str().unwrap()).await;
    assert_eq!(paid.status, 201, "{}", paid.text);
    let loan = &paid.body["loan"];
    assert_eq!(loan["status"], "repaid", "{loan}");
    assert_eq!(loan["outstanding_principal"], "0.00");
    assert_eq!(loan["collateral_value"], "0.00");
    assert_eq!(loan["ltv"], Value::Null);
    assert_eq!(loan["margin_call"]["status"], "cured");
    assert_eq!(loan["margin_call"]["closed_reason"], "repayment");
    let lot_id = lot["id"].as_str().expect("lot id");
    let released = app
        .get(&format!("/v1/lots/{lot_id}"), c.supplier.token())
        .await;
    assert_eq!(
        released.body["quantity_pledged"], "0.000",
        "{}",
        released.text
    );
    // The other loan is untouched and stays in the book.
    let kept = world.loan(&app, &other).await;
    assert_eq!(kept["status"], "active");
    assert_eq!(kept["collateral_value"], "42000.00");
    fixtures::assert_exposure_kept(&app).await;
    assert_books_balance(&app, &c.admin).await;
}

#[tokio::test]
async fn a_year_of_daily_accrual_is_principal_times_rate_to_the_cent_and_each_day_closes_once() {
    let app = TestApp::spawn().await;
    let world = lending(&app).await;
    let (_, loan) = world.active_loan(&app, "10000", "30000").await;
    close_days(&app, 100).await;
    // The rest of the year is caught up day by day.
    close_days(&app, 365).await;
    let year = world.loan(&app, &loan).await;
    assert_eq!(year["interest_due"], "2400.00");
    assert_eq!(
        dec(&year["accrued_interest"]),
        "2400.00000155".parse::<Decimal>().unwrap()
    );
    assert_eq!(
        year["accrued_through"],
        json!(today() + chrono::Days::new(365))
    );
    // Closing the same date again changes nothing.
    close_days(&app, 365).await;
    close_days(&app, 200).await;
    assert_eq!(
        world.loan(&app, &loan).await["accrued_interest"],
        year["accrued_interest"]
    );
    assert_eq!(app.count("daily_closes").await, 266);
    // Future dates are refused without the setting.
    let refused =
        holdfast::lending::daily::run(&app.pool, today() + chrono::Days::new(400), false, true)
            .await;
    assert!(matches!(
        refused,
        Err(holdfast::lending::daily::DailyError::FutureDate(_))
    ));
}

/// The stress reads the kept figures: a loan whose goods are of one commodity in one place is
/// its kept value, a loan spread over two warehouses is summed from its pledges per place —
/// and the price change applies to each place's value, rounded once.
#[tokio::test]
async fn a_stress_values_each_loans_goods_per_commodity_and_place() {
    let app = TestApp::spawn().await;
    let world = lending(&app).await;
    let c = &world.custody;
    world.active_loan(&app, "10000", "24000").await;
    let (first, second) = (
        c.lot_in_custody(&app, "10000").await,
        c.lot_in_custody(&app, "5000").await,
    );
    let requested = app
        .post(
            "/v1/loans",
            c.supplier.token(),
            &json!({"facility_id": world.facility_id, "principal": "30000",
                    "collateral": [{"lot_id": first["id"], "quantity": "10000"},
                                   {"lot_id": second["id"], "quantity": "5000"}]}),
        )
        .await;
    let loan = world.approve_and_disburse(&app, requested).await;
    // The second lot moves to another cold store: the loan's goods are in two places.
    let elsewhere =
        crate::fixtures::warehouse(&app, &c.admin, c.warehouse_staff.org_id, &c.commodity).await;
    let moved = c
        .scan(
            &app,
            json!({"code": second["code"], "action": "transfer", "warehouse_id": elsewhere}),
        )
        .await;
    assert_eq!(moved.status, 200, "{}", moved.text);
    let stressed = app
        .post(
            "/v1/exposure/stress",
            world.lender.token(),
            &json!({"shocks": [{"commodity_code": c.commodity, "price_change": "-0.3333"}]}),
        )
        .await;
    assert_eq!(stressed.status, 200, "{}", stressed.text);
    // 60,000 at the first store for each loan, 30,000 at the second: each × 0.6667.
    assert_eq!(stressed.body["collateral_value"], "100005.00");
    let places: Vec<(String, String)> = stressed.body["by_location"]
        .as_array()
        .expect("places")
        .iter()
        .map(|p| {
            (
                p["collateral_value"].as_str().expect("value").to_owned(),
                p["loans"].to_string(),
            )
        })
        .collect();
    assert_eq!(
        places,
        [
            ("80004.00".to_owned(), "2".to_owned()),
            ("20001.00".to_owned(), "1".to_owned())
        ]
    );
    let spread = stressed.body["breaching_loans"]
        .as_array()
        .expect("loans")
        .iter()
        .find(|l| l["loan_id"] == loan.as_str())
        .cloned();
    // 30,000 owed against 60,003 of goods: 0.499975, within the margin-call LTV.
    assert!(spread.is_none(), "{spread:?}");
    // The other loan: 24,000 against 40,002, 0.599970.
    assert_eq!(stressed.body["ltv_buckets"][0]["loans"], 1);
    assert_eq!(stressed.body["ltv_buckets"][1]["loans"], 1);
    // The same as the stress computed from every pledge.
    crate::fixtures::assert_exposure_kept(&app).await;
}

#[tokio::test]
async fn a_lender_reviews_its_own_book_and_stresses_it() {
    let app = TestApp::spawn().await;
    let world = lending(&app).await;
    let c = &world.custody;
    world.active_loan(&app, "10000", "24000").await;
    world.active_loan(&app, "10000", "30000").await;

    let book = app.get("/v1/exposure", world.lender.token()).await;
    assert_eq!(book.status, 200, "{}", book.text);
    assert_eq!(book.body["active_loans"], 2);
    assert_eq!(book.body["live_loans"], 2);
    assert_eq!(
        book.body["by_status"][0],
        json!({"status": "active", "loans": 2, "outstanding_principal": "54000.00"})
    );
    assert_eq!(book.body["outstanding_principal"], "54000.00");
    assert_eq!(book.body["collateral_value"], "120000.00");
    assert_eq!(book.body["weighted_ltv"], "0.45");
    assert_eq!(book.body["by_supplier"][0]["share"], "1.0000");
    assert_eq!(
        book.body["by_commodity"][0]["commodity_code"],
        json!(c.commodity)
    );
    assert_eq!(
        book.body["by_location"][0]["warehouse_id"],
        json!(c.warehouse_id)
    );
    // Locations and suppliers are named, not only numbered.
    let location = &book.body["by_location"][0];
    assert_eq!(location["kind"], "warehouse");
    assert!(
        location["name"]
            .as_str()
            .is_some_and(|n| n.starts_with("Cold store")),
        "{location}"
    );
    assert_eq!(location["place"], "Zhifu District, Yantai, Shandong");
    assert!(book.body["by_supplier"][0]["supplier_name"].is_string());
    // Today's price is fresh; none of the collateral is valued on a stale one.
    assert_eq!(book.body["by_commodity"][0]["price_stale"], false);
    assert_eq!(book.body["stale_prices"]["lots"], 0);
    assert_eq!(book.body["stale_prices"]["collateral_value"], "0.00");
    assert!(book.body.get("ltv_sort").is_none());
    assert_eq!(book.body["ltv_buckets"][0]["loans"], 2);
    assert_eq!(book.body["ltv_buckets"][0]["bucket"], "up to 0.50");
    assert_eq!(book.body["expiring"]["within_30_days"]["lots"], 0);
    assert_eq!(book.body["loans_above_margin_call_ltv"], 0);

    // The stress test takes the book's currency as the exposure does: in the query.
    let stressed = app
        .post(
            "/v1/exposure/stress?currency=CNY",
            world.lender.token(),
            &json!({"shocks": [{"commodity_code": c.commodity, "price_change": "-0.30"}]}),
        )
        .await;
    assert_eq!(stressed.status, 200, "{}", stressed.text);
    assert_eq!(stressed.body["currency"], "CNY");
    assert!(stressed.body["breaching_loans"][0]["supplier_name"].is_string());
    let in_body = app
        .post(
            "/v1/exposure/stress",
            world.lender.token(),
            &json!({"currency": "CNY", "shocks": [{"commodity_code": c.commodity, "price_change": "-0.30"}]}),
        )
        .await;
    in_body.assert_error(422, "validation_failed");
    let made_up = app
        .post(
            "/v1/exposure/stress?currency=RMB",
            world.lender.token(),
            &json!({"shocks": [{"commodity_code": c.commodity, "price_change": "-0.30"}]}),
        )
        .await;
    assert_eq!(made_up.field(), "currency");
    assert_eq!(stressed.body["collateral_value"], "84000.00");
    assert_eq!(stressed.body["loans_above_margin_call_ltv"], 1);
    assert_eq!(stressed.body["loans_above_liquidation_ltv"], 0);
    assert_eq!(stressed.body["breaching_loans"][0]["ltv"], "0.714286");
    // The stress wrote nothing.
    assert_eq!(app.count("margin_calls").await, 0);
    let bad = app
        .post(
            "/v1/exposure/stress",
            world.lender.token(),
            &json!({"shocks": [{"commodity_code": c.commodity, "price_change": "-2"}]}),
        )
        .await;
    assert_eq!(bad.field(), "shocks[0].price_change");

    // A supplier named like a spreadsheet formula is written as text.
    app.sql(&format!(
        "UPDATE orgs SET name = '=HYPERLINK(\"http://x\")' WHERE id = '{}'",
        c.supplier.org_id
    ))
    .await;
    let csv = app
        .request("GET", "/v1/exposure.csv", Some(world.lender.token()), None)
        .await;
    assert_eq!(csv.status, 200);
    assert_eq!(csv.text.lines().count(), 3, "{}", csv.text);
    assert!(csv.text.starts_with("loan_id,supplier_org_id"));
    assert!(
        csv.text.contains(",\"'=HYPERLINK(\"\"http://x\"\")\","),
        "{}",
        csv.text
    );

    let other = app.owner_of(OrgKind::Lender).await;
    let empty = app.get("/v1/exposure", other.token()).await;
    assert_eq!(empty.body["active_loans"], 0);
    app.get(
        &format!("/v1/exposure?lender_org_id={}", world.lender.org_id),
        other.token(),
    )
    .await
    .assert_error(422, "validation_failed");
    let platform = app
        .get(
            &format!("/v1/exposure?lender_org_id={}", world.lender.org_id),
            c.admin.token(),
        )
        .await;
    assert_eq!(platform.body["active_loans"], 2);
    app.get("/v1/exposure", c.supplier.token())
        .await
        .assert_error(403, "forbidden");
}

#[tokio::test]
async fn the_database_refuses_unbalanced_or_changed_journal_entries() {
    use diesel_async::{AsyncConnection, RunQueryDsl};
    let app = TestApp::spawn().await;
    let world = lending(&app).await;
    world.active_loan(&app, "100", "100").await;
    let mut conn = app.pool.get().await.expect("conn");
    let unbalanced = conn
        .transaction::<_, diesel::result::Error, _>(async |conn| {
            diesel::sql_query(
                "INSERT INTO journal_entries (id, kind, memo, business_date) \
                 VALUES ('00000000-0000-0000-0000-00000000000e', 'adjustment', 'tamper', current_date)",
            )
            .execute(conn)
            .await?;
            diesel::sql_query(
                "INSERT INTO journal_lines (entry_id, account_id, currency, amount) \
                 SELECT '00000000-0000-0000-0000-00000000000e', id, currency, 1 FROM ledger_accounts LIMIT 2",
            )
            .execute(conn)
            .await?;
            Ok(())
        })
        .await;
    let error = unbalanced.expect_err("an unbalanced entry must not commit");
    assert!(error.to_string().contains("does not balance"), "{error}");
    let changed = diesel::sql_query("UPDATE journal_lines SET amount = amount * 2")
        .execute(&mut conn)
        .await;
    assert!(
        changed
            .expect_err("append-only")
            .to_string()
            .contains("append-only")
    );
    assert_books_balance(&app, &world.custody.admin).await;
}

#[tokio::test]
async fn the_sql_valuation_functions_agree_with_the_rust_ones() {
    use diesel::sql_types::{Date, Integer, Numeric};
    use diesel_async::RunQueryDsl;
    use holdfast::domain::{lending, valuation};
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = Date)]
        as_of: chrono::NaiveDate,
        #[diesel(sql_type = Numeric)]
        factor: Decimal,
        #[diesel(sql_type = Numeric)]
        value: Decimal,
        #[diesel(sql_type = Numeric)]
        rounded: Decimal,
        #[diesel(sql_type = Numeric)]
        inlined: Decimal,
        #[diesel(sql_type = Integer)]
        cents: i32,
    }
    let app = TestApp::spawn().await;
    let mut conn = app.pool.get().await.expect("conn");
    let packed = today();
    let rows: Vec<Row> = diesel::sql_query(
        "SELECT d::date AS as_of, freshness_factor($1, d::date, 37, 113, 0.35) AS factor, \
                round_half_even(1234.567 * 6.05 * 0.85 * freshness_factor($1, d::date, 37, 113, 0.35), 2) AS value, \
                round_half_even(c / 1000.0, 2) AS rounded, round_half_even_inline(c / 1000.0, 2) AS inlined, \
                c AS cents \
         FROM generate_series($1::timestamp, $1::timestamp + interval '130 days', interval '1 day') AS d, \
              generate_series(-2050, 2050, 5) AS c WHERE c % 1000 = extract(day FROM d)::int * 5 - 5",
    )
    .bind::<Date, _>(packed)
    .load(&mut conn)
    .await
    .expect("query");
    assert!(rows.len() > 100);
    for row in rows {
        let end = Decimal::new(35, 2);
        let factor = valuation::freshness_factor(packed, row.as_of, 37, 113, end);
        assert_eq!(row.factor, factor, "freshness on {}", row.as_of);
        let value = valuation::market_value(
            "1234.567".parse().unwrap(),
            "6.05".parse().unwrap(),
            Decimal::new(85, 2),
            factor,
            2,
        );
        assert_eq!(row.value, value, "value on {}", row.as_of);
        let rounded = lending::round_half_even(Decimal::new(row.cents.into(), 3), 2);
        assert_eq!(row.rounded, rounded, "rounding {}", row.cents);
        assert_eq!(row.inlined, rounded, "inline rounding {}", row.cents);
    }
}

#[tokio::test]
async fn the_revaluation_of_every_loan_puts_its_planner_settings_back() {
    use diesel::sql_types::Text;
    use diesel_async::{AsyncConnection, RunQueryDsl};
    use holdfast::lending::revaluation::{self, Scope};
    #[derive(diesel::QueryableByName, Debug, PartialEq)]
    struct Settings {
        #[diesel(sql_type = Text)]
        work_mem: String,
        #[diesel(sql_type = Text)]
        enable_sort: String,
    }
    const READ: &str = "SELECT current_setting('work_mem') AS work_mem, \
                               current_setting('enable_sort') AS enable_sort";
    let app = TestApp::spawn().await;
    let world = lending(&app).await;
    // A live loan with a pledge, so that the statement between the two reads values one.
    world.active_loan(&app, "1000", "2000").await;
    let mut conn = app.pool.get().await.expect("conn");
    let (before, after) = conn
        .transaction::<_, diesel::result::Error, _>(async |conn| {
            let before: Settings = diesel::sql_query(READ).get_result(conn).await?;
            revaluation::revalue(conn, today(), Scope::All, "revaluation").await?;
            let after: Settings = diesel::sql_query(READ).get_result(conn).await?;
            Ok((before, after))
        })
        .await
        .expect("revaluation");
    assert_eq!(before, after);
    assert_eq!(after.enable_sort, "on");
}

/// A settlement-like change to a loan's pledge, committed while a revaluation of every loan
/// waits for that loan: the revaluation values the pledge as the change left it. (Before
/// every loan was locked first, the waiting statement went on from the book as it was when it
/// started, and wrote the pledge's old quantity's value over the change's.)
#[tokio::test]
async fn a_revaluation_of_every_loan_waiting_for_a_changed_loan_values_it_as_changed() {
    use diesel::sql_types::{BigInt, Text, Uuid as SqlUuid};
    use diesel_async::{AsyncConnection, RunQueryDsl};
    use holdfast::lending::revaluation::{self, Scope};
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let app = TestApp::spawn().await;
    let world = lending(&app).await;
    let (lot, loan) = world.active_loan(&app, "1000", "2000").await;
    let loan: uuid::Uuid = loan.parse().expect("loan id");
    let lot: uuid::Uuid = lot["id"].as_str().expect("lot id").parse().expect("uuid");
    let commodity = world.custody.commodity.clone();
    let mut held = app.pool.get().await.expect("conn");
    let pool = app.pool.clone();
    let revalued = held
        .transaction::<_, diesel::result::Error, _>(async |conn| {
            // The change: the loan locked, half its pledge released, the loan revalued.
            diesel::sql_query("SELECT 1 FROM loans WHERE id = $1 FOR UPDATE")
                .bind::<SqlUuid, _>(loan)
                .execute(conn)
                .await?;
            diesel::sql_query("UPDATE pledges SET quantity = 500 WHERE loan_id = $1 AND lot_id = $2")
                .bind::<SqlUuid, _>(loan)
                .bind::<SqlUuid, _>(lot)
                .execute(conn)
                .await?;
            diesel::sql_query("UPDATE lots SET quantity_pledged = 500 WHERE id = $1")
                .bind::<SqlUuid, _>(lot)
                .execute(conn)
                .await?;
            revaluation::revalue(conn, today(), Scope::Loan(loan), "revaluation").await?;
            // Meanwhile a new price and the revaluation of every loan, which must wait.
            let every = tokio::spawn(async move {
                let mut conn = pool.get().await.expect("conn");
                conn.transaction::<_, diesel::result::Error, _>(async |conn| {
                    diesel::sql_query(
                        "INSERT INTO prices (commodity_code, price_per_unit, currency, as_of, source) \
                         VALUES ($1, 6.60, 'CNY', now(), 'race')",
                    )
                    .bind::<Text, _>(commodity)
                    .execute(conn)
                    .await?;
                    revaluation::revalue(conn, today(), Scope::All, "revaluation").await
                })
                .await
            });
            let mut watcher = app.pool.get().await.expect("conn");
            let mut waited = false;
            for _ in 0..400 {
                let waiting: Count = diesel::sql_query(
                    "SELECT count(*) AS n FROM pg_stat_activity \
                     WHERE datname = current_database() AND wait_event_type = 'Lock'",
                )
                .get_result(&mut watcher)
                .await?;
                if waiting.n > 0 {
                    waited = true;
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(25)).await;
            }
            assert!(waited, "the revaluation of every loan did not wait for the loan");
            Ok(every)
        })
        .await
        .expect("the change commits");
    let outcome = revalued
        .await
        .expect("task")
        .expect("the revaluation of every loan commits");
    assert!(outcome.pledges_revalued >= 1, "{outcome:?}");
    // Nothing left to correct: the pledge was valued at 500 kg and the new price.
    let again = held
        .transaction::<_, diesel::result::Error, _>(async |conn| {
            revaluation::revalue(conn, today(), Scope::Loan(loan), "revaluation").await
        })
        .await
        .expect("revaluation");
    assert_eq!(
        (again.pledges_revalued, again.loans_revalued),
        (0, 0),
        "{again:?}"
    );
    fixtures::assert_exposure_kept(&app).await;
}

/// A pledge's unrounded value exactly half a cent from the value it holds: the revaluation,
/// which decides which pledges changed without rounding them, rewrites it only when rounding
/// half to even moves it (the value held odd in its last place), and rounds the rest as
/// `domain::valuation` does.
#[tokio::test]
async fn a_value_half_a_cent_away_is_rewritten_only_when_half_to_even_moves_it() {
    use diesel::sql_types::{Text, Uuid as SqlUuid};
    use diesel_async::{AsyncConnection, RunQueryDsl};
    use holdfast::lending::revaluation::{self, Scope};
    #[derive(diesel::QueryableByName)]
    struct Values {
        #[diesel(sql_type = Text)]
        pledge: String,
        #[diesel(sql_type = Text)]
        loan: String,
    }
    let app = TestApp::spawn().await;
    let world = lending(&app).await;
    // 1,000 kg of grade A packed today: the value is 1,000 × the price.
    let (_, loan) = world.active_loan(&app, "1000", "100").await;
    let loan: uuid::Uuid = loan.parse().expect("loan id");
    let commodity = world.custody.commodity.clone();
    let mut conn = app.pool.get().await.expect("conn");
    // Each step: a new price, then the revaluation of every loan; answers how many pledges it
    // wrote and the pledge's and the loan's value after it.
    let mut at = async |price: &str| -> (i64, String, String) {
        let price = price.to_owned();
        let commodity = commodity.clone();
        conn.transaction::<_, diesel::result::Error, _>(async |conn| {
            diesel::sql_query(
                "INSERT INTO prices (commodity_code, price_per_unit, currency, as_of, source) \
                 VALUES ($1, $2::numeric, 'CNY', clock_timestamp(), 'half a cent')",
            )
            .bind::<Text, _>(commodity)
            .bind::<Text, _>(price)
            .execute(conn)
            .await?;
            let outcome = revaluation::revalue(conn, today(), Scope::All, "revaluation").await?;
            let values: Values = diesel::sql_query(
                "SELECT p.market_value::text AS pledge, ln.collateral_value::text AS loan \
                 FROM pledges p JOIN loans ln ON ln.id = p.loan_id WHERE ln.id = $1",
            )
            .bind::<SqlUuid, _>(loan)
            .get_result(conn)
            .await?;
            Ok((outcome.pledges_revalued, values.pledge, values.loan))
        })
        .await
        .expect("revaluation")
    };
    let step = |written: i64, value: &str| (written, value.to_owned(), value.to_owned());
    // 2,000.005 from 6,000.00: half to even, down to 2,000.00 (half away from zero: 2,000.01).
    assert_eq!(at("2.000005").await, step(1, "2000.00"));
    // The same price again: 2,000.00 is even, so it stays, and nothing is written.
    assert_eq!(at("2.000005").await, step(0, "2000.00"));
    // From 2,000.01 (odd) to 2,000.005, half a cent away: half to even moves it to 2,000.00.
    assert_eq!(at("2.00001").await, step(1, "2000.01"));
    assert_eq!(at("2.000005").await, step(1, "2000.00"));
    // From 2,000.02 (even) to 2,000.015, half a cent away: half to even keeps 2,000.02.
    assert_eq!(at("2.00002").await, step(1, "2000.02"));
    assert_eq!(at("2.000015").await, step(0, "2000.02"));
    // A cent and a half away: rewritten, to even (2,000.00 from 2,000.02, not 2,000.01).
    assert_eq!(at("2.000005").await, step(1, "2000.00"));
    fixtures::assert_exposure_kept(&app).await;
}

#[tokio::test]
async fn the_sql_minor_units_agree_with_the_iso_table() {
    use diesel::sql_types::{Integer, Text};
    use diesel_async::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = Integer)]
        places: i32,
    }
    let app = TestApp::spawn().await;
    let mut conn = app.pool.get().await.expect("conn");
    for code in holdfast::domain::currency::codes() {
        let row: Row = diesel::sql_query("SELECT minor_units($1) AS places")
            .bind::<Text, _>(code)
            .get_result(&mut conn)
            .await
            .expect("query");
        let places = holdfast::domain::currency::minor_units(code).expect("listed");
        assert_eq!(row.places, i32::try_from(places).expect("small"), "{code}");
    }
}

#[tokio::test]
async fn a_facility_is_in_an_iso_currency_and_changes_within_its_rules() {
    let app = TestApp::spawn().await;
    let world = lending(&app).await;
    let c = &world.custody;
    let base = json!({"supplier_org_id": c.supplier.org_id, "limit": "1000000",
                      "annual_interest_rate": "0.08", "max_tenor_days": 30, "eligible_commodities": [c.commodity]});
    let in_currency = |currency: &str, limit: &str| {
        let mut body = base.clone();
        body["currency"] = json!(currency);
        body["limit"] = json!(limit);
        body
    };
    // Three capital letters are not enough: RMB is no ISO code, XXX and XTS are not money.
    for made_up in ["RMB", "XXX", "ZZZ", "XTS"] {
        let reply = app
            .post(
                "/v1/facilities",
                world.lender.token(),
                &in_currency(made_up, "1000"),
            )
            .await;
        reply.assert_error(422, "validation_failed");
        assert_eq!(reply.field(), "currency", "{made_up}");
    }
    // A yen facility is in whole yen.
    let yen = app
        .post(
            "/v1/facilities",
            world.lender.token(),
            &in_currency("JPY", "5000000"),
        )
        .await;
    assert_eq!(yen.status, 201, "{}", yen.text);
    assert_eq!(yen.body["limit"], "5000000");
    let sen = app
        .post(
            "/v1/facilities",
            world.lender.token(),
            &in_currency("JPY", "5000000.50"),
        )
        .await;
    assert_eq!(sen.field(), "limit", "{}", sen.text);

    // 60,000 drawn: the limit may come down to it, not below.
    let (_, loan) = world.active_loan(&app, "20000", "60000.00").await;
    let path = format!("/v1/facilities/{}", world.facility_id);
    let change = |body: Value| {
        let path = path.clone();
        let token = world.lender.token().to_owned();
        let app = &app;
        async move {
            app.request_with("PATCH", &path, Some(&token), Some(&body), &[])
                .await
        }
    };
    let below = change(json!({"limit": "59999.99"})).await;
    below.assert_error(409, "limit_below_drawn");
    assert_eq!(below.body["error"]["details"]["drawn"], "60000.00");
    assert_eq!(below.body["error"]["details"]["committed"], "0.00");
    let lowered = change(json!({"limit": "70000"})).await;
    assert_eq!(lowered.status, 200, "{}", lowered.text);
    assert_eq!(lowered.body["limit"], "70000.00");
    assert_eq!(lowered.body["available"], "10000.00");
    // The advance rate stays below the margin-call LTV (0.65).
    let too_high = change(json!({"advance_rate": "0.65"})).await;
    assert_eq!(too_high.field(), "advance_rate", "{}", too_high.text);
    change(json!({"limit": "0"}))
        .await
        .assert_error(422, "validation_failed");
    // A new interest rate is for new loans: the loan made at 8 % keeps it.
    let repriced = change(json!({"annual_interest_rate": "0.12", "advance_rate": "0.55"})).await;
    assert_eq!(repriced.status, 200, "{}", repriced.text);
    assert_eq!(repriced.body["annual_interest_rate"], "0.12");
    assert_eq!(repriced.body["advance_rate"], "0.55");
    assert_eq!(
        world.loan(&app, &loan).await["annual_interest_rate"],
        "0.08"
    );
    // Only the facility's lender changes it: its supplier may not, another lender finds none.
    let supplier_try = app
        .request_with(
            "PATCH",
            &path,
            Some(c.supplier.token()),
            Some(&json!({"limit": "80000"})),
            &[],
        )
        .await;
    supplier_try.assert_error(403, "forbidden");
    let other_lender = app.owner_of(OrgKind::Lender).await;
    app.request_with(
        "PATCH",
        &path,
        Some(other_lender.token()),
        Some(&json!({"limit": "80000"})),
        &[],
    )
    .await
    .assert_error(404, "facility_not_found");

    // A request and a limit cut racing for the last 10,000: exactly one wins.
    let other = c.lot_in_custody(&app, "20000").await;
    let other_id = other["id"].as_str().expect("lot").to_owned();
    let (request, cut) = tokio::join!(
        world.request(&app, &other_id, "20000", "10000.00"),
        change(json!({"limit": "60000"}))
    );
    let requested = request.status == 201;
    let cut_won = cut.status == 200;
    assert!(requested != cut_won, "{} / {}", request.text, cut.text);
    if requested {
        cut.assert_error(409, "limit_below_drawn");
        // Closing waits for the request to be decided.
        let close = app
            .post(&format!("{path}/close"), world.lender.token(), &json!({}))
            .await;
        close.assert_error(409, "facility_has_pending_loans");
        assert_eq!(close.body["error"]["details"]["committed"], "10000.00");
        let pending = request.body["id"].as_str().expect("loan");
        let rejected = app
            .post(
                &format!("/v1/loans/{pending}/reject"),
                world.lender.token(),
                &json!({"reason": "closing the line"}),
            )
            .await;
        assert_eq!(rejected.status, 200, "{}", rejected.text);
    } else {
        assert_eq!(request.status, 422, "{}", request.text);
        assert_eq!(
            request.body["error"]["details"]["reasons"][0]["code"],
            "principal_exceeds_available_limit"
        );
    }
    // Closed: no new loans or changes; the loan it made runs on and is repaid.
    let closed = app
        .post(&format!("{path}/close"), world.lender.token(), &json!({}))
        .await;
    assert_eq!(closed.status, 200, "{}", closed.text);
    assert_eq!(closed.body["status"], "closed");
    world
        .request(&app, &other_id, "20000", "1000.00")
        .await
        .assert_error(409, "facility_closed");
    change(json!({"limit": "90000"}))
        .await
        .assert_error(409, "facility_closed");
    let repaid = world.repay(&app, &loan, "1000").await;
    assert_eq!(repaid.status, 201, "{}", repaid.text);
    assert_books_balance(&app, &c.admin).await;
}

#[tokio::test]
async fn the_exposure_flags_collateral_valued_on_a_stale_price() {
    let app = TestApp::spawn().await;
    let world = lending(&app).await;
    world.active_loan(&app, "10000", "24000").await;
    // Eight business days pass with no new price: the last one is stale.
    close_days(&app, 8).await;
    let book = app.get("/v1/exposure", world.lender.token()).await;
    assert_eq!(book.status, 200, "{}", book.text);
    let commodity = &book.body["by_commodity"][0];
    assert_eq!(commodity["price_stale"], true, "{commodity}");
    assert!(
        commodity["price_as_of"]
            .as_str()
            .is_some_and(|d| d.starts_with(&today().to_string()))
    );
    let stale = &book.body["stale_prices"];
    assert_eq!(stale["commodities"], json!([world.custody.commodity]));
    assert_eq!(stale["lots"], 1);
    assert_eq!(stale["loans"], 1);
    assert_eq!(stale["collateral_value"], book.body["collateral_value"]);
    // A new price makes it fresh again.
    post_price(
        &app,
        &world.custody.admin,
        &world.custody.commodity,
        "6.00",
        &format!("{}T00:00:00Z", today() + chrono::Days::new(8)),
    )
    .await;
    let book = app.get("/v1/exposure", world.lender.token()).await;
    assert_eq!(book.body["by_commodity"][0]["price_stale"], false);
    assert_eq!(book.body["stale_prices"]["lots"], 0);
}

/// How many statements `work` sends on a connection of its own (`SHOW_STATEMENTS=1` prints
/// them).
pub async fn statements_sent<T>(
    app: &TestApp,
    work: impl AsyncFnOnce(&mut diesel_async::AsyncPgConnection) -> T,
) -> usize {
    statement_log(app, work).await.sent
}

/// What `work` sent on a new connection of its own.
pub struct StatementLog {
    /// Every statement, BEGIN and COMMIT included.
    pub sent: usize,
    /// The statements sent as text to parse and plan on every call: neither prepared into the
    /// connection's cache nor transaction control.
    pub unprepared: Vec<String>,
}

/// Runs `work` on a new connection and logs its statements (`SHOW_STATEMENTS=1` prints them,
/// the unprepared ones marked). A cacheable statement is prepared on its first use on a
/// connection, which diesel reports as `CacheQuery`; on a new connection every statement that
/// is not reported so was sent to be parsed and planned again.
pub async fn statement_log<T>(
    app: &TestApp,
    work: impl AsyncFnOnce(&mut diesel_async::AsyncPgConnection) -> T,
) -> StatementLog {
    use diesel::connection::InstrumentationEvent;
    use diesel_async::AsyncConnection;
    use std::sync::{Arc, Mutex};
    let mut conn = holdfast::db::connect(&app.database_url)
        .await
        .expect("connection");
    let sent = Arc::new(Mutex::new((Vec::<String>::new(), Vec::<String>::new())));
    let seen = sent.clone();
    conn.set_instrumentation(move |event: InstrumentationEvent<'_>| {
        let mut seen = seen.lock().expect("log");
        match event {
            InstrumentationEvent::StartQuery { query, .. } => seen.0.push(query.to_string()),
            InstrumentationEvent::CacheQuery { sql, .. } => seen.1.push(sql.to_owned()),
            _ => {}
        }
    });
    work(&mut conn).await;
    let (started, cached) = std::mem::take(&mut *sent.lock().expect("log"));
    let control = [
        "BEGIN",
        "COMMIT",
        "ROLLBACK",
        "SAVEPOINT",
        "RELEASE SAVEPOINT",
    ];
    let mut unprepared = Vec::new();
    for text in &started {
        // A statement's text as logged is its SQL, then `-- binds: [...]`.
        let sql = text.split(" -- binds:").next().unwrap_or(text).trim();
        let prepared = cached.iter().any(|c| c.trim() == sql);
        let control = control.iter().any(|c| sql.starts_with(c));
        if std::env::var("SHOW_STATEMENTS").is_ok() {
            let mark = if prepared || control {
                ""
            } else {
                "UNPREPARED "
            };
            eprintln!("SQL: {mark}{}", &sql[..sql.len().min(160)]);
        }
        if !prepared && !control {
            unprepared.push(sql.to_owned());
        }
    }
    StatementLog {
        sent: started.len(),
        unprepared,
    }
}

#[tokio::test]
async fn a_page_of_loans_facilities_sales_or_calls_costs_the_same_statements_whatever_its_length() {
    use holdfast::http::PageQuery;
    use holdfast::lending::model::{LoanQuery, MarginCallQuery};
    let app = TestApp::spawn().await;
    let world = lending(&app).await;
    let c = &world.custody;
    // Six loans, two of them under margin calls after a fall in price; six facilities.
    for principal in ["24000", "24000", "24000", "24000", "29000", "30000"] {
        world.active_loan(&app, "10000", principal).await;
    }
    for _ in 0..5 {
        let more = json!({"supplier_org_id": c.supplier.org_id, "currency": "CNY", "limit": "1000",
                          "annual_interest_rate": "0.08", "max_tenor_days": 30, "eligible_commodities": [c.commodity]});
        assert_eq!(
            app.post("/v1/facilities", world.lender.token(), &more)
                .await
                .status,
            201
        );
    }
    post_price(
        &app,
        &c.admin,
        &c.commodity,
        "4.20",
        &chrono::Utc::now().to_rfc3339(),
    )
    .await;
    let lender = fixtures::owner_principal(&world.lender, OrgKind::Lender);
    let loans = |limit: i64| LoanQuery {
        status: None,
        facility_id: None,
        limit: Some(limit),
        cursor: None,
    };
    let pages = |limit: i64| PageQuery {
        limit: Some(limit),
        cursor: None,
    };
    let calls = |limit: i64| MarginCallQuery {
        status: None,
        limit: Some(limit),
        cursor: None,
    };
    let mut counted = Vec::new();
    for limit in [1, 6] {
        let l = &lender;
        let loans_sent = statements_sent(&app, async |conn| {
            let page = holdfast::lending::service::loans(conn, l, loans(limit))
                .await
                .expect("loans");
            assert_eq!(page.items.len() as i64, limit);
        })
        .await;
        let facilities_sent = statements_sent(&app, async |conn| {
            let page = holdfast::lending::service::facilities(conn, l, &pages(limit))
                .await
                .expect("facilities");
            assert_eq!(page.items.len() as i64, limit);
        })
        .await;
        let calls_sent = statements_sent(&app, async |conn| {
            holdfast::lending::service::margin_calls(conn, l, calls(limit))
                .await
                .expect("calls");
        })
        .await;
        counted.push((loans_sent, facilities_sent, calls_sent));
    }
    assert_eq!(
        counted[0], counted[1],
        "one item or six: (loans, facilities, calls)"
    );
    assert!(counted[0].0 <= 7, "{counted:?}");
    // Six sales, listed by their seller one or six at a time.
    let buyer = app.owner_of(OrgKind::Buyer).await;
    for _ in 0..6 {
        let lot = c.lot_in_custody(&app, "10").await;
        let sold = app
            .post_keyed(
                "/v1/sales",
                c.supplier.token(),
                &json!({"buyer_org_id": buyer.org_id, "currency": "CNY",
                        "lines": [{"lot_id": lot["id"], "quantity": "10", "unit_price": "6.00"}]}),
            )
            .await;
        assert_eq!(sold.status, 201, "{}", sold.text);
    }
    let seller = fixtures::owner_principal(&c.supplier, OrgKind::Supplier);
    let mut sales = Vec::new();
    for limit in [1, 6] {
        let s = &seller;
        let query = holdfast::sales::model::SaleQuery {
            status: None,
            limit: Some(limit),
            cursor: None,
        };
        sales.push(
            statements_sent(&app, async |conn| {
                let page = holdfast::sales::service::sales(conn, s, query)
                    .await
                    .expect("sales");
                assert_eq!(page.items.len() as i64, limit);
            })
            .await,
        );
    }
    assert_eq!(sales[0], sales[1], "one sale or six");
    // The six loans' page carries their collateral, calls and cures all the same.
    let page = app.get("/v1/loans?limit=6", world.lender.token()).await;
    let cured: Vec<&Value> = page.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|l| !l["cure"].is_null())
        .collect();
    assert_eq!(cured.len(), 2, "{}", page.text);
    assert!(
        page.body["items"]
            .as_array()
            .expect("items")
            .iter()
            .all(|l| l["collateral"][0]["quantity"] == "10000.000")
    );
}

/// A small deterministic generator, so a failing sequence can be replayed from its seed.
struct Steps(u64);

impl Steps {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % below
    }
}

#[tokio::test]
async fn the_kept_exposure_equals_the_book_computed_from_scratch_after_random_operations() {
    let app = TestApp::spawn().await;
    // Two lenders, each with its own supplier, warehouse and commodity.
    let worlds = [lending(&app).await, lending(&app).await];
    let mut loans: Vec<(usize, String, String)> = Vec::new();
    let mut steps = Steps(0x5eed_2026_1130);
    let mut done = [0; 8];
    for step in 0..40 {
        let w = steps.next(2) as usize;
        let world = &worlds[w];
        let c = &world.custody;
        let pick = |steps: &mut Steps| -> Option<(usize, String, String)> {
            let mine: Vec<_> = loans.iter().filter(|l| l.0 == w).cloned().collect();
            (!mine.is_empty()).then(|| mine[steps.next(mine.len() as u64) as usize].clone())
        };
        let what = if step < 4 { 0 } else { steps.next(8) };
        done[what as usize] += 1;
        match (what, pick(&mut steps)) {
            // A new loan on a new lot, or two loans sharing one lot; at a low price the
            // request may be refused (above the lending value), and nothing is lent.
            (0, _) | (1, None) => {
                let quantity = (1000 * (1 + steps.next(9))).to_string();
                let lot = c.lot_in_custody(&app, &quantity).await;
                let lot = lot["id"].as_str().expect("lot").to_owned();
                if let Ok(loan) = world.try_loan(&app, &lot, &quantity, &quantity).await {
                    loans.push((w, loan, lot));
                }
            }
            (1, Some(_)) => {
                let lot = c.lot_in_custody(&app, "4000").await;
                let lot = lot["id"].as_str().expect("lot").to_owned();
                for (quantity, principal) in [("1500", "1500"), ("2500", "2500")] {
                    if let Ok(loan) = world.try_loan(&app, &lot, quantity, principal).await {
                        loans.push((w, loan, lot.clone()));
                    }
                }
            }
            // Part of a loan repaid, or all of it.
            (2, Some((_, loan, _))) => {
                let reply = world.repay(&app, &loan, "500").await;
                assert!(
                    [201, 409].contains(&reply.status),
                    "step {step}: {}",
                    reply.text
                );
            }
            (3, Some((_, loan, _))) => {
                let now = world.loan(&app, &loan).await;
                if now["status"] == "active" {
                    let owed = dec(&now["outstanding_principal"]) + dec(&now["interest_due"]);
                    let reply = world.repay(&app, &loan, &owed.to_string()).await;
                    assert_eq!(reply.status, 201, "step {step}: {}", reply.text);
                }
            }
            // The price moves and every loan is revalued (margin calls, defaults follow).
            (4, _) => {
                let price =
                    ["1.40", "5.20", "6.00", "7.30", "2.90", "1.60"][steps.next(6) as usize];
                post_price(
                    &app,
                    &c.admin,
                    &c.commodity,
                    price,
                    &chrono::Utc::now().to_rfc3339(),
                )
                .await;
            }
            // A pledged lot moves to another warehouse.
            (5, Some((_, _, lot))) => {
                let code = app
                    .get(&format!("/v1/lots/{lot}"), c.supplier.token())
                    .await
                    .body["code"]
                    .clone();
                let second = crate::fixtures::warehouse(
                    &app,
                    &c.admin,
                    c.warehouse_staff.org_id,
                    &c.commodity,
                )
                .await;
                let moved = c
                    .scan(
                        &app,
                        json!({"code": code, "action": "transfer", "warehouse_id": second}),
                    )
                    .await;
                assert!(
                    [200, 409].contains(&moved.status),
                    "step {step}: {}",
                    moved.text
                );
            }
            // The facility's thresholds change (the API keeps them fixed once lent against;
            // an operator's correction in the database is tracked all the same), and a loan
            // goes into liquidation.
            (6, pick_loan) => {
                let (call, liquidation) =
                    [("0.60", "0.75"), ("0.65", "0.80"), ("0.55", "0.90")][steps.next(3) as usize];
                app.sql(&format!(
                    "UPDATE facilities SET margin_call_ltv = {call}, liquidation_ltv = {liquidation} \
                     WHERE id = '{}'",
                    world.facility_id
                ))
                .await;
                if let Some((_, loan, _)) = pick_loan {
                    app.sql(&format!(
                        "UPDATE loans SET status = 'liquidating' WHERE id = '{loan}' AND status = 'defaulted'"
                    ))
                    .await;
                }
            }
            // Days pass: interest accrues, margin calls run out, loans default.
            _ => close_days(&app, 1 + steps.next(10)).await,
        }
        crate::fixtures::assert_exposure_kept(&app).await;
    }
    // The sequence did every kind of operation, and the books it left are not trivial.
    assert!(done.iter().all(|n| *n > 0), "{done:?}");
    assert!(app.count("margin_calls").await > 0);
    let book = app.get("/v1/exposure", worlds[0].lender.token()).await;
    assert!(
        book.body["live_loans"].as_i64().is_some_and(|n| n > 1),
        "{}",
        book.text
    );
    assert_books_balance(&app, &worlds[0].custody.admin).await;
}

/// What `holdfast serve` runs on every connection of its pool before the first request: the
/// exposure read, prepared on a new connection, whether the database has a book or not; the
/// book a lender reads is unchanged by it.
#[tokio::test]
async fn a_connection_readied_at_start_has_the_exposure_read_prepared() {
    use diesel_async::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Prepared {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    // How many statements of the exposure read (a lender's book, every lender's) the
    // connection has prepared and planned once for any book (a generic plan).
    async fn exposure_statements(conn: &mut diesel_async::AsyncPgConnection) -> i64 {
        let row: Prepared = diesel::sql_query(
            "SELECT count(*) AS n FROM pg_prepared_statements \
             WHERE statement LIKE '%FROM exposure_cell_deltas WHERE book = $1%' \
               AND generic_plans > 0 AND statement NOT LIKE '%pg_prepared_statements%'",
        )
        .get_result(conn)
        .await
        .expect("statements");
        row.n
    }
    let app = TestApp::spawn().await;
    let world = lending(&app).await;
    for with_a_book in [false, true] {
        let mut conn = holdfast::db::connect(&app.database_url)
            .await
            .expect("connection");
        assert_eq!(exposure_statements(&mut conn).await, 0, "a new connection");
        holdfast::lending::exposure::warm(&mut conn)
            .await
            .expect("readied");
        assert_eq!(
            exposure_statements(&mut conn).await,
            2,
            "with a book: {with_a_book}"
        );
        if !with_a_book {
            world.active_loan(&app, "10000", "30000").await;
        }
    }
    let book = app.get("/v1/exposure", world.lender.token()).await;
    assert_eq!(book.status, 200, "{}", book.text);
    assert_eq!(book.body["live_loans"], 1, "{}", book.text);
    assert_eq!(book.body["collateral_value"], "60000.00", "{}", book.text);
}

#[tokio::test]
async fn each_closed_business_day_records_the_ltv_of_every_live_loan() {
    let app = TestApp::spawn().await;
    let world = lending(&app).await;
    let c = &world.custody;
    // A lot worth 60,000 carrying 30,000: LTV 0.5.
    let (_, loan) = world.active_loan(&app, "10000", "30000").await;
    let history = |who: &crate::support::Session| {
        let path = format!("/v1/loans/{loan}/ltv-history");
        let token = who.token().to_owned();
        let app = &app;
        async move { app.get(&path, &token).await }
    };
    assert_eq!(history(&world.lender).await.body["items"], json!([]));
    let vacuumed = "SELECT string_agg(relname, ',' ORDER BY relname) FROM pg_stat_user_tables \
                    WHERE relname IN ('exposure_loans', 'loans', 'pledges') AND last_vacuum IS NOT NULL";
    assert_eq!(app.value(&format!("coalesce(({vacuumed}), '')")).await, "");
    close_days(&app, 0).await;
    // The close vacuums what its revaluation rewrote, for the first reads after it.
    assert_eq!(app.value(vacuumed).await, "exposure_loans,loans,pledges");
    let first = history(&world.lender).await;
    assert_eq!(first.status, 200, "{}", first.text);
    let items = first.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["business_date"], json!(today()));
    let live = world.loan(&app, &loan).await;
    assert_eq!(items[0]["ltv"], live["ltv"]);
    assert_eq!(items[0]["collateral_value"], "60000");
    // Prices fall; the next close records the higher LTV, after the day's revaluation.
    post_price(
        &app,
        &c.admin,
        &c.commodity,
        "4.20",
        &chrono::Utc::now().to_rfc3339(),
    )
    .await;
    close_days(&app, 1).await;
    let second = history(&c.supplier).await;
    let items = second.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{}", second.text);
    assert_eq!(
        items[1]["business_date"],
        json!(today() + chrono::Days::new(1))
    );
    let (before, after) = (dec(&items[0]["ltv"]), dec(&items[1]["ltv"]));
    assert!(after > before, "{before} → {after}");
    assert_eq!(items[1]["ltv"], world.loan(&app, &loan).await["ltv"]);
    assert!(
        dec(&items[1]["outstanding"]) > Decimal::from(30000),
        "interest accrued"
    );
    // Someone else's loan: no such loan.
    let stranger = app.owner_of(OrgKind::Lender).await;
    assert_eq!(history(&stranger).await.status, 404);
    // A repaid loan is not recorded on later closes.
    let owed = world.loan(&app, &loan).await["amount_to_repay"]
        .as_str()
        .unwrap()
        .to_owned();
    let repaid = world.repay(&app, &loan, &owed).await;
    assert_eq!(repaid.status, 201, "{}", repaid.text);
    close_days(&app, 2).await;
    assert_eq!(
        history(&world.lender).await.body["items"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(app.count("loan_ltv_history").await, 2);
}
