//! The console's pages as their users work them.

use crate::Browser;
use crate::fixtures;
use crate::support::{PASSWORD, TestApp};
use holdfast::auth::{Permission, Role};
use holdfast::demo::{self, DEMO_PASSWORD};
use serde_json::{Value, json};
use std::time::Duration;
use thirtyfour::prelude::*;

#[tokio::test]
async fn each_kind_of_user_signs_in_to_its_own_pages_in_both_languages() {
    let app = TestApp::spawn().await;
    demo::load(&app.pool).await.expect("demo");
    let browser = Browser::start(&app.base).await;

    // Not signed in: a page asks for the sign-in, then comes back.
    browser.open("/dashboard").await;
    assert_eq!(browser.path().await, "/login?next=%2Fdashboard");
    browser.shoot("login").await;

    // A wrong password is refused on the page, in words.
    browser.fill("#email", "owner@lender.demo.holdfast").await;
    browser.fill("#password", "not-the-password").await;
    browser
        .click("form[action='/login'] button[type=submit]")
        .await;
    let refusal = browser.text("[role=alert]").await;
    assert_eq!(refusal, "The email or password is wrong.");

    // The lender lands on the book; the browser asks for English.
    let landed = browser
        .sign_in("owner@lender.demo.holdfast", DEMO_PASSWORD)
        .await;
    assert_eq!(landed, "/dashboard");
    assert_eq!(browser.text("h1").await, "The book");
    let lang = browser
        .driver
        .find(By::Css("html"))
        .await
        .unwrap()
        .attr("lang")
        .await
        .unwrap();
    assert_eq!(lang.as_deref(), Some("en"));
    // The figures are the API's.
    let lender = app.login("owner@lender.demo.holdfast", DEMO_PASSWORD).await;
    let book = app.get("/v1/exposure", lender.token()).await;
    let outstanding: rust_decimal::Decimal = book.body["outstanding_principal"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(outstanding > rust_decimal::Decimal::ZERO);
    let shown = browser.text(".grid .figure:first-child .value").await;
    assert_eq!(
        shown,
        holdfast::console::i18n::Lang::En.money(outstanding, "CNY")
    );
    let charts = browser
        .driver
        .find_all(By::Css("svg.chart rect"))
        .await
        .unwrap();
    assert!(!charts.is_empty(), "the dashboard draws its charts");
    browser.shoot("dashboard-en").await;

    // Switching to Chinese keeps the page and changes every word, money and date.
    browser.click(".langs a[lang='zh-CN']").await;
    browser
        .wait_for(|p: String| p == "/dashboard", "back on the dashboard")
        .await;
    browser.wait_text("h1", |t| t == "贷款组合").await;
    let shown = browser.text(".grid .figure:first-child .value").await;
    assert!(shown.starts_with('¥'), "{shown}");
    assert!(browser.text("p.help").await.contains("年"));
    browser.shoot("dashboard-zh").await;

    // The stress test as a form: apples fall 40 %.
    browser.open("/stress").await;
    browser
        .fill("input[name='shock.APPLE_FUJI']", "-0.40")
        .await;
    browser
        .click("form[action='/stress'] button[type=submit]")
        .await;
    browser.wait_text("h2", |t| t.contains("将会突破")).await;
    browser.shoot("stress-zh").await;
    // A change that is not a fraction is named on the page.
    browser.fill("input[name='shock.APPLE_FUJI']", "much").await;
    browser
        .click("form[action='/stress'] button[type=submit]")
        .await;
    assert!(browser.text("[role=alert]").await.contains("APPLE_FUJI"));

    // A page the lender may not see is no such page.
    browser.open("/scan").await;
    assert!(browser.text("h1").await.contains("找不到此页"));
    browser.open("/approvals").await;
    browser.shoot("approvals-zh").await;
    browser.sign_out().await;
    browser.open("/dashboard").await;
    assert!(browser.path().await.starts_with("/login"));
    // Each kind of user has its own first page.
    for (email, home, title) in [
        ("staff@warehouse.demo.holdfast", "/scan", "扫码台"),
        ("owner@supplier.demo.holdfast", "/lots", "我的货物"),
        ("owner@platform.demo.holdfast", "/admin", "平台管理"),
        ("owner@buyer.demo.holdfast", "/market", "市场"),
    ] {
        let landed = browser.sign_in(email, DEMO_PASSWORD).await;
        assert_eq!(landed, home, "{email}");
        assert_eq!(browser.text("h1").await, title, "{email}");
        browser
            .shoot(&format!("home-{}", home.trim_start_matches('/')))
            .await;
        if home == "/scan" {
            browser.open("/breaches").await;
            browser.shoot("breaches-zh").await;
        }
        if home == "/lots" {
            assert!(browser.text("main").await.contains("可质押"));
            // The cooperative's sales to Qingdao Fresh Market and its statement.
            browser.open("/sales").await;
            let settled = browser
                .driver
                .find_all(By::Css("tr[data-sale] .badge-settled"))
                .await
                .unwrap();
            assert!(!settled.is_empty(), "the demo has settled sales");
            browser.shoot("sales-zh").await;
            browser.open("/statement").await;
            assert!(browser.text("main").await.contains("销售收入"));
            browser.shoot("statement-zh").await;
            browser.open("/statement?from=yesterday").await;
            assert!(browser.text("[role=alert]").await.contains("from"));
            browser.open("/loans").await;
            browser.click("table a").await;
            browser
                .wait_for(|p: String| p.starts_with("/loans/"), "a loan page")
                .await;
            browser.shoot("loan-zh").await;
        }
        if home == "/market" {
            // The demo's auction, in Chinese: Qingdao leads, the clock counts down.
            let auction = browser
                .wait_text(".auction", |t| t.contains("最高出价") && t.contains("秒"))
                .await;
            assert!(auction.contains("您领先"), "{auction}");
            browser.scroll_to(".auction").await;
            browser.shoot("market-auction-zh").await;
        }
        browser.sign_out().await;
    }
    browser.close().await;
}

/// Scans `text` into the station's field as a keyboard-wedge scanner would (DevTools'
/// insertText: WebDriver drops the GS byte), then Enter.
async fn scan(browser: &Browser, text: &str) {
    let field = browser
        .driver
        .find(By::Css("#scan-input"))
        .await
        .expect("field");
    field.focus().await.expect("focus");
    browser
        .driver
        .cdp()
        .input()
        .insert_text(text)
        .await
        .expect("insert");
    field.send_keys(Key::Enter).await.expect("enter");
}

async fn press(browser: &Browser, key: Key) {
    browser
        .driver
        .find(By::Css("#scan-input"))
        .await
        .expect("field")
        .send_keys(key)
        .await
        .expect("key");
}

/// The station's outcome line's classes: `ok`, `fail`, `queued` or `wait`.
async fn outcome_class(browser: &Browser) -> String {
    browser
        .driver
        .find(By::Css("#scan-outcome"))
        .await
        .expect("the outcome line")
        .class_name()
        .await
        .expect("its class")
        .unwrap_or_default()
}

async fn lot_now(app: &TestApp, token: &str, id: &str) -> Value {
    app.get(&format!("/v1/lots/{id}"), token).await.body
}

#[tokio::test]
async fn a_gs1_scan_with_its_gs_byte_receives_the_lot_and_a_release_follows_its_order() {
    let app = TestApp::spawn().await;
    let custody = fixtures::custody(&app).await;
    let announced = custody.announce(&app, "500").await;
    let (id, code) = (
        announced["id"].as_str().unwrap().to_owned(),
        announced["code"].as_str().unwrap().to_owned(),
    );
    let browser = Browser::start(&app.base).await;
    assert_eq!(
        browser
            .sign_in(&custody.warehouse_staff.email, PASSWORD)
            .await,
        "/scan"
    );
    browser.shoot("scan-empty").await;

    // Look up first (Esc mode): the card says what may be done.
    scan(&browser, &code).await;
    browser.wait_text("#scan-card", |t| t.contains(&code)).await;
    assert!(
        browser
            .text("#scan-card .allowed")
            .await
            .contains("Receive")
    );

    // F1 receives; the scan carries ]C1, a GS byte and a net weight of 500 kg.
    press(&browser, Key::F1).await;
    scan(&browser, &format!("]C110{code}\u{1d}3100000500")).await;
    let outcome = browser
        .wait_text("#scan-outcome", |t| t.contains("Received"))
        .await;
    let class = outcome_class(&browser).await;
    assert!(class.contains("ok"), "{class}: {outcome}");
    let received = lot_now(&app, custody.warehouse_staff.token(), &id).await;
    assert_eq!(received["status"], "in_custody");
    assert_eq!(received["quantity_on_hand"], "500.000");
    browser.shoot("scan-received").await;

    // The same lot received again is refused, loudly, in words.
    scan(&browser, &code).await;
    browser
        .wait_text("#scan-log li:first-child", |t| {
            t.contains(&code) && t.contains("status")
        })
        .await;
    let class = outcome_class(&browser).await;
    assert!(class.contains("fail"), "{class}");
    browser.shoot("scan-refused").await;

    // The supplier withdraws 200 kg: a release order. F2 releases against it.
    let withdrawal = custody.withdraw(&app, &id, "200").await;
    assert_eq!(withdrawal.status, 201, "{}", withdrawal.text);
    press(&browser, Key::F2).await;
    scan(&browser, &code).await;
    browser
        .wait_text("#scan-outcome", |t| t.contains("300"))
        .await;
    let released = lot_now(&app, custody.warehouse_staff.token(), &id).await;
    assert_eq!(released["quantity_on_hand"], "300.000");
    let orders = app
        .get(
            &format!("/v1/release-orders?lot_id={id}"),
            custody.warehouse_staff.token(),
        )
        .await;
    assert_eq!(
        orders.body["items"][0]["status"], "completed",
        "{}",
        orders.text
    );
    // The day's movements list the lot's announcement, receipt and release, newest first.
    browser.open("/movements").await;
    let rows = browser
        .driver
        .find_all(By::Css("tr[data-movement]"))
        .await
        .unwrap();
    let mut texts = Vec::new();
    for row in &rows {
        texts.push(row.text().await.unwrap());
    }
    assert_eq!(texts.len(), 3, "{texts:?}");
    for (text, kind) in texts.iter().zip(["released", "received", "announced"]) {
        assert!(text.contains(&code) && text.contains(kind), "{text}");
    }
    browser.shoot("movements").await;
    browser.close().await;
}

#[tokio::test]
async fn scans_made_while_the_network_is_down_wait_on_the_device_and_apply_once() {
    let app = TestApp::spawn().await;
    let custody = fixtures::custody(&app).await;
    let first = custody.announce(&app, "100").await;
    let second = custody.announce(&app, "250").await;
    let browser = Browser::start(&app.base).await;
    browser
        .sign_in(&custody.warehouse_staff.email, PASSWORD)
        .await;
    press(&browser, Key::F1).await;

    let cdp = browser.driver.cdp();
    cdp.network().enable().await.expect("network");
    let offline = thirtyfour::cdp::domains::network::NetworkConditions {
        offline: true,
        ..Default::default()
    };
    cdp.network()
        .emulate_network_conditions(offline)
        .await
        .expect("offline");
    for lot in [&first, &second] {
        scan(&browser, lot["code"].as_str().unwrap()).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert_eq!(browser.wait_text("#queue-count", |t| t == "2").await, "2");
    assert!(browser.text("#net-state").await.contains("Offline"));
    browser.shoot("scan-offline-queue").await;
    for lot in [&first, &second] {
        let now = lot_now(
            &app,
            custody.warehouse_staff.token(),
            lot["id"].as_str().unwrap(),
        )
        .await;
        assert_eq!(now["status"], "announced", "nothing reached the server");
    }

    cdp.network()
        .emulate_network_conditions(Default::default())
        .await
        .expect("online");
    browser.wait_text("#queue-count", |t| t == "0").await;
    for (lot, quantity) in [(&first, "100.000"), (&second, "250.000")] {
        let id = lot["id"].as_str().unwrap();
        let now = lot_now(&app, custody.warehouse_staff.token(), id).await;
        assert_eq!(now["status"], "in_custody");
        assert_eq!(now["quantity_on_hand"], quantity);
        let movements = app
            .get(
                &format!("/v1/lots/{id}/movements"),
                custody.warehouse_staff.token(),
            )
            .await;
        let receipts = movements.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["kind"] == "receive")
            .count();
        assert_eq!(receipts, 1, "received exactly once: {}", movements.text);
    }
    // A reload finds the queue empty: nothing is sent twice.
    browser.open("/scan").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(browser.text("#queue-count").await, "0");
    browser.close().await;
}

#[tokio::test]
async fn a_loan_is_approved_by_a_maker_and_confirmed_by_a_checker() {
    let app = TestApp::spawn().await;
    let lending = fixtures::lending_with(&app, json!({"second_approver_required": true})).await;
    let lot = lending.custody.lot_in_custody(&app, "1000").await;
    let requested = lending
        .request(&app, lot["id"].as_str().unwrap(), "1000", "2000")
        .await;
    assert_eq!(requested.status, 201, "{}", requested.text);
    let loan_id = requested.body["id"].as_str().unwrap().to_owned();
    let checker = app
        .user(
            lending.lender.org_id,
            Role::Staff,
            &[Permission::CreditWrite],
        )
        .await;

    let browser = Browser::start(&app.base).await;
    browser.sign_in(&lending.lender.email, PASSWORD).await;
    browser.open("/approvals").await;
    assert!(
        browser
            .text("[data-inbox=decide]")
            .await
            .contains(&loan_id[..8])
    );
    browser
        .click("[data-inbox=decide] form[action$='/approve'] button")
        .await;
    browser
        .wait_for(|p: String| p == "/approvals?done=approved", "the inbox")
        .await;
    // The maker cannot also be the checker: the page says so and offers nothing.
    let second = browser.text("[data-inbox=second]").await;
    assert!(second.contains("another user must confirm"), "{second}");
    assert!(
        browser
            .driver
            .find_all(By::Css("[data-inbox=second] form"))
            .await
            .unwrap()
            .is_empty()
    );
    browser.shoot("approvals-maker").await;
    browser.sign_out().await;

    browser.sign_in(&checker.email, PASSWORD).await;
    browser.open("/approvals").await;
    browser
        .click("[data-inbox=second] form[action$='/approve'] button")
        .await;
    browser
        .wait_for(|p: String| p == "/approvals?done=approved", "the inbox")
        .await;
    let loan = app
        .get(&format!("/v1/loans/{loan_id}"), lending.lender.token())
        .await;
    assert_eq!(loan.body["status"], "approved", "{}", loan.text);
    assert_ne!(
        loan.body["approvals"]["approved_by"],
        loan.body["approvals"]["confirmed_by"]
    );
    assert!(browser.text("main").await.contains(&loan_id[..8]));
    browser.shoot("approvals-checker").await;

    // Without a session, a form is sent to sign in; with the session's cookie but not its form
    // token (as another site's page would send it), it changes nothing.
    let client = crate::support::client_builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let anonymous = client
        .post(app.url(&format!("/loans/{loan_id}/reject")))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("reason=forged")
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status().as_u16(), 303);
    let session = browser
        .driver
        .get_named_cookie("holdfast_session")
        .await
        .expect("the session cookie");
    assert_eq!(session.http_only, Some(true));
    for form in ["reason=forged", "reason=forged&csrf=guess"] {
        let forged = client
            .post(app.url(&format!("/loans/{loan_id}/reject")))
            .header("Cookie", format!("holdfast_session={}", session.value))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(form)
            .send()
            .await
            .unwrap();
        assert_eq!(forged.status().as_u16(), 403);
    }
    let loan = app
        .get(&format!("/v1/loans/{loan_id}"), lending.lender.token())
        .await;
    assert_eq!(loan.body["status"], "approved");

    // The checker pays it out from the inbox.
    browser.open("/approvals").await;
    browser.click("[data-inbox=disburse] button").await;
    browser
        .wait_for(|p: String| p == "/approvals?done=disbursed", "the inbox")
        .await;
    let loan = app
        .get(&format!("/v1/loans/{loan_id}"), lending.lender.token())
        .await;
    assert_eq!(loan.body["status"], "active", "{}", loan.text);
    // The loan's page shows the payout's journal entry; the facilities page its drawing.
    browser.open(&format!("/loans/{loan_id}")).await;
    assert!(browser.text("main").await.contains("Loan paid out"));
    browser.open("/facilities").await;
    let row = browser.text("tr[data-facility]").await;
    assert!(row.contains("CNY 2,000.00"), "drawn: {row}");
    browser.shoot("facilities").await;
    browser.sign_out().await;

    // The supplier repays 500 from the loan's page; the same form sent twice (a double
    // click) moves the money once.
    let supplier = &lending.custody.supplier;
    browser.sign_in(&supplier.email, PASSWORD).await;
    browser.open(&format!("/loans/{loan_id}")).await;
    browser.fill("#repay input[name=amount]", "500").await;
    browser.click("#repay button[type=submit]").await;
    browser
        .wait_for(|p: String| p.ends_with("?done=repaid"), "the loan page")
        .await;
    let repaid = app
        .get(&format!("/v1/loans/{loan_id}"), supplier.token())
        .await;
    assert_eq!(
        repaid.body["outstanding_principal"], "1500.00",
        "{}",
        repaid.text
    );
    assert!(browser.text("main").await.contains("Repayment"));
    browser.shoot("loan-repaid").await;
    let session = browser
        .driver
        .get_named_cookie("holdfast_session")
        .await
        .expect("the session cookie");
    let page = client
        .get(app.url(&format!("/loans/{loan_id}")))
        .header("Cookie", format!("holdfast_session={}", session.value))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let field = |name: &str| {
        let marker = format!("name=\"{name}\" value=\"");
        let start = page.find(&marker).expect(name) + marker.len();
        page[start..].split('"').next().unwrap().to_owned()
    };
    let form = format!("csrf={}&key={}&amount=100", field("csrf"), field("key"));
    for _ in 0..2 {
        let sent = client
            .post(app.url(&format!("/loans/{loan_id}/repay")))
            .header("Cookie", format!("holdfast_session={}", session.value))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(form.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(sent.status().as_u16(), 303);
    }
    let once = app
        .get(&format!("/v1/loans/{loan_id}"), supplier.token())
        .await;
    assert_eq!(
        once.body["outstanding_principal"], "1400.00",
        "{}",
        once.text
    );
    crate::fixtures::assert_books_balance(&app, &lending.custody.admin).await;
    browser.close().await;
}

#[tokio::test]
async fn a_supplier_sees_what_its_goods_are_worth_asks_for_a_loan_and_announces_a_lot() {
    let app = TestApp::spawn().await;
    let lending = fixtures::lending(&app).await;
    let lot = lending.custody.lot_in_custody(&app, "1000").await;
    let code = lot["code"].as_str().unwrap().to_owned();
    let browser = Browser::start(&app.base).await;
    let supplier = &lending.custody.supplier;
    assert_eq!(browser.sign_in(&supplier.email, PASSWORD).await, "/lots");
    // The lot's value and what may be borrowed: the API's valuation × the advance rate.
    let valuation = app
        .get(
            &format!("/v1/lots/{}/valuation", lot["id"].as_str().unwrap()),
            supplier.token(),
        )
        .await;
    let value: rust_decimal::Decimal = valuation.body["market_value"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let row = browser.text(&format!("tr[data-lot='{code}']")).await;
    let en = holdfast::console::i18n::Lang::En;
    assert!(row.contains(&en.money(value, "CNY")), "{row}");
    let half = (value * rust_decimal::Decimal::new(5, 1)).round_dp(2);
    assert!(row.contains(&en.money(half, "CNY")), "{row}");
    assert!(row.contains("eligible"), "{row}");
    browser.shoot("portal").await;

    // Pledge 600 kg for 1,000.00.
    browser
        .fill(
            &format!("input[name='pledge.{}']", lot["id"].as_str().unwrap()),
            "600",
        )
        .await;
    browser.fill("input[name=principal]", "1000").await;
    browser.click("#borrow button[type=submit]").await;
    let path = browser
        .wait_for(|p: String| p.starts_with("/loans/"), "the new loan")
        .await;
    let loan_id = path.trim_start_matches("/loans/").to_owned();
    let loan = app
        .get(&format!("/v1/loans/{loan_id}"), supplier.token())
        .await;
    assert_eq!(loan.body["status"], "requested", "{}", loan.text);
    assert_eq!(loan.body["collateral"][0]["quantity"], "600.000");
    assert!(browser.text("main").await.contains("requested"));
    browser.shoot("loan-requested").await;

    // Too much is refused on the page, naming why.
    browser.open("/lots").await;
    browser
        .fill(
            &format!("input[name='pledge.{}']", lot["id"].as_str().unwrap()),
            "400",
        )
        .await;
    browser.fill("input[name=principal]", "999999").await;
    browser.click("#borrow button[type=submit]").await;
    assert!(!browser.text("[role=alert]").await.is_empty());

    // Announce 100 kg at the cold store.
    browser.open("/lots").await;
    browser.fill("#announce input[name=quantity]", "100").await;
    browser
        .driver
        .execute(
            &format!(
                "document.querySelector('#announce input[name=packed_on]').value = '{}'",
                chrono::Utc::now().date_naive()
            ),
            vec![],
        )
        .await
        .unwrap();
    browser.click("#announce button[type=submit]").await;
    browser
        .wait_for(|p: String| p == "/lots?done=announced", "the portal")
        .await;
    let announced = app.get("/v1/lots?status=announced", supplier.token()).await;
    assert_eq!(announced.body["items"].as_array().unwrap().len(), 1);
    browser.close().await;
}

#[tokio::test]
async fn warehouse_staff_acknowledge_a_breach_and_downgrade_the_goods_from_the_page() {
    let app = TestApp::spawn().await;
    let custody = fixtures::custody(&app).await;
    let lot = custody.lot_in_custody(&app, "1000").await;
    let id = lot["id"].as_str().unwrap().to_owned();
    app.sql(&format!(
        "UPDATE lots SET warehouse_since = now() - interval '3 hours' WHERE id = '{id}'"
    ))
    .await;
    let minutes_ago = |m: i64| {
        let now = chrono::Utc::now();
        chrono::DateTime::from_timestamp(now.timestamp() - now.timestamp() % 60 - m * 60, 0)
            .unwrap()
    };
    let readings: Vec<Value> = [(100, "2.0"), (90, "6.5"), (80, "9.0"), (50, "3.0")]
        .iter()
        .map(|(m, c)| {
            json!({"warehouse_id": custody.warehouse_id, "sensor_id": "s1",
                   "recorded_at": minutes_ago(*m), "celsius": c})
        })
        .collect();
    let sent = app
        .post(
            "/v1/temperature-readings",
            custody.warehouse_staff.token(),
            &json!({ "readings": readings }),
        )
        .await;
    assert_eq!(sent.status, 200, "{}", sent.text);
    assert_eq!(sent.body["breaches"].as_array().unwrap().len(), 1);

    let browser = Browser::start(&app.base).await;
    browser
        .sign_in(&custody.warehouse_staff.email, PASSWORD)
        .await;
    browser.open("/breaches").await;
    assert_eq!(
        browser.text("nav a[aria-current=page]").await,
        "Temperature breaches"
    );
    let card = browser.text("[data-breach]").await;
    assert!(card.contains("too warm") && card.contains("9"), "{card}");
    browser.shoot("breaches").await;
    // A grade the commodity does not have is refused on the page, and nothing changes.
    browser
        .fill("[data-breach] textarea", "door left open")
        .await;
    browser
        .fill("[data-breach] input[name=grade_downgrade]", "Q")
        .await;
    browser.click("[data-breach] button[type=submit]").await;
    assert!(!browser.text("[role=alert]").await.is_empty());
    let held = lot_now(&app, custody.supplier.token(), &id).await;
    assert_eq!(held["on_hold"], true);
    // Acknowledged with a downgrade to B: the hold lifts, the grade is B.
    browser
        .fill(
            "[data-breach] textarea",
            "door left open 40 min; fruit checked",
        )
        .await;
    browser
        .fill("[data-breach] input[name=grade_downgrade]", "B")
        .await;
    browser.click("[data-breach] button[type=submit]").await;
    browser
        .wait_for(
            |p: String| p == "/breaches?done=acknowledged",
            "the breaches page",
        )
        .await;
    let after = lot_now(&app, custody.supplier.token(), &id).await;
    assert_eq!(after["on_hold"], false);
    assert_eq!(after["grade"], "B");
    assert!(browser.text("main").await.contains("fruit checked"));
    // A reading by hand: a word is not a temperature; 3.0 °C is recorded.
    browser
        .fill("#reading input[name=sensor_id]", "hand-1")
        .await;
    browser.fill("#reading input[name=celsius]", "warm").await;
    browser.click("#reading button[type=submit]").await;
    assert!(browser.text("[role=alert]").await.contains("celsius"));
    browser
        .fill("#reading input[name=sensor_id]", "hand-1")
        .await;
    browser.fill("#reading input[name=celsius]", "3.0").await;
    browser.click("#reading button[type=submit]").await;
    browser
        .wait_for(
            |p: String| p == "/breaches?done=recorded",
            "the breaches page",
        )
        .await;
    let stored = app.count("temperature_readings").await;
    assert_eq!(stored, 5, "four sent by the API, one by hand");
    browser.close().await;
}

#[tokio::test]
async fn the_platform_adds_a_commodity_an_organisation_and_its_user_and_a_lender_reads_a_loans_ltv_history()
 {
    let app = TestApp::spawn().await;
    let world = fixtures::lending(&app).await;
    let c = &world.custody;
    let (_, loan) = world.active_loan(&app, "10000", "30000").await;
    fixtures::close_days(&app, 0).await;
    fixtures::post_price(
        &app,
        &c.admin,
        &c.commodity,
        "4.20",
        &chrono::Utc::now().to_rfc3339(),
    )
    .await;
    fixtures::close_days(&app, 1).await;

    let browser = Browser::start(&app.base).await;
    browser.sign_in(&c.admin.email, PASSWORD).await;
    // A commodity: a bad grade list comes back open with the reason; then it is created.
    browser.open("/admin").await;
    browser.click("#new-commodity summary").await;
    browser.fill("#c-code", "PEAR_YALI").await;
    browser.fill("#c-name", "Yali pears").await;
    browser.fill("#c-shelf", "90").await;
    browser.fill("#c-fresh", "30").await;
    browser.fill("#c-grades", "A:1.00").await;
    browser.shoot("admin-commodity-form").await;
    browser.click("#new-commodity button[type=submit]").await;
    let refused = browser.text("#new-commodity [role=alert]").await;
    assert!(refused.contains("NAME=FACTOR"), "{refused}");
    assert_eq!(
        browser
            .element("#c-code")
            .await
            .value()
            .await
            .unwrap()
            .as_deref(),
        Some("PEAR_YALI"),
        "what was typed is kept"
    );
    browser.fill("#c-grades", "A=1.00 B=0.80").await;
    browser.click("#new-commodity button[type=submit]").await;
    browser
        .wait_for(
            |p: String| p.starts_with("/admin?done=commodity"),
            "the commodity created",
        )
        .await;
    assert!(
        browser
            .text("#commodities + details + .table-wrap, main")
            .await
            .contains("Yali pears")
    );
    // An organisation, then its first user, who signs in.
    browser.click("#new-org summary").await;
    browser.fill("#org-name", "Qingdao Fruit Buyers").await;
    browser.click("#org-kind option[value=buyer]").await;
    browser.click("#new-org button[type=submit]").await;
    browser
        .wait_for(
            |p: String| p.contains("?done=org"),
            "the organisation's page",
        )
        .await;
    assert_eq!(browser.text("h1").await, "Qingdao Fruit Buyers");
    browser.click("#new-user summary").await;
    browser.fill("#u-email", "buyer@qingdao.example").await;
    browser.fill("#u-password", PASSWORD).await;
    browser.click("input[value='payments:write']").await;
    browser.click("#new-user button[type=submit]").await;
    browser
        .wait_for(|p: String| p.ends_with("?done=user"), "the user created")
        .await;
    assert!(
        browser
            .text("main table")
            .await
            .contains("buyer@qingdao.example")
    );
    browser.shoot("admin-org").await;
    browser.sign_out().await;
    assert_eq!(
        browser.sign_in("buyer@qingdao.example", PASSWORD).await,
        "/market"
    );
    browser.sign_out().await;
    // The lender's loan page draws the LTV as each day closed, with the facility's limits.
    browser.sign_in(&world.lender.email, PASSWORD).await;
    browser.open(&format!("/loans/{loan}")).await;
    let chart = browser.element("svg.chart[aria-label='LTV history']").await;
    let dots = chart.find_all(By::Css("circle")).await.unwrap();
    assert_eq!(dots.len(), 3, "two closes and now");
    let calls = browser.text("main").await;
    assert!(
        calls.contains("71.4%"),
        "the margin call's LTV at opening: {calls}"
    );
    chart.scroll_into_view().await.expect("scroll to the chart");
    browser.shoot("loan-ltv-history").await;
    browser.close().await;
}

#[tokio::test]
async fn the_station_counts_with_a_reason_transfers_loads_and_unloads_in_a_keystroke_each() {
    let app = TestApp::spawn().await;
    let custody = fixtures::custody(&app).await;
    let staff = &custody.warehouse_staff;
    let lot = custody.lot_in_custody(&app, "1000").await;
    let (id, code) = (
        lot["id"].as_str().unwrap().to_owned(),
        lot["code"].as_str().unwrap().to_owned(),
    );
    let here = custody.warehouse_id.clone();
    let other = fixtures::warehouse(&app, &custody.admin, staff.org_id, &custody.commodity).await;
    let voyage = fixtures::voyage(&app, &custody.admin, staff.org_id, Some(&other)).await;

    let browser = Browser::start(&app.base).await;
    assert_eq!(browser.sign_in(&staff.email, PASSWORD).await, "/scan");
    // The operator runs two stores: the settings are open to choose where it stands.
    browser
        .click(&format!("#scan-warehouse option[value='{here}']"))
        .await;
    browser
        .click(&format!("#scan-destination option[value='{other}']"))
        .await;
    browser
        .click(&format!("#scan-voyage option[value='{voyage}']"))
        .await;

    // F3 counts: the quantity, then (it differs from the book) the reason.
    press(&browser, Key::F3).await;
    scan(&browser, &code).await;
    browser
        .wait_text("#scan-outcome", |t| t.contains("quantity counted"))
        .await;
    scan(&browser, "990").await;
    browser
        .wait_text("#scan-outcome", |t| t.contains("type why"))
        .await;
    assert!(outcome_class(&browser).await.contains("fail"));
    scan(&browser, "two crates crushed").await;
    browser
        .wait_text("#scan-outcome", |t| t.contains("Counted"))
        .await;
    let counted = lot_now(&app, staff.token(), &id).await;
    assert_eq!(counted["quantity_on_hand"], "990.000");
    browser.shoot("scan-counted").await;

    // F6 transfers to the store chosen in the settings.
    press(&browser, Key::F6).await;
    scan(&browser, &code).await;
    browser
        .wait_text("#scan-outcome", |t| t.contains("Transferred"))
        .await;
    assert_eq!(
        lot_now(&app, staff.token(), &id).await["warehouse_id"],
        json!(other)
    );

    // F4 loads onto the voyage; it sails and arrives; F5 unloads here.
    press(&browser, Key::F4).await;
    scan(&browser, &code).await;
    browser
        .wait_text("#scan-outcome", |t| t.contains("Loaded"))
        .await;
    let aboard = lot_now(&app, staff.token(), &id).await;
    assert_eq!(
        (aboard["status"].as_str(), aboard["voyage_id"].as_str()),
        (Some("in_transit"), Some(voyage.as_str()))
    );
    for step in ["depart", "arrive"] {
        let moved = app
            .post(
                &format!("/v1/voyages/{voyage}/{step}"),
                staff.token(),
                &json!({}),
            )
            .await;
        assert_eq!(moved.status, 200, "{step}: {}", moved.text);
    }
    press(&browser, Key::F5).await;
    scan(&browser, &code).await;
    browser
        .wait_text("#scan-outcome", |t| t.contains("Unloaded"))
        .await;
    let landed = lot_now(&app, staff.token(), &id).await;
    assert_eq!(landed["status"], "in_custody");
    assert_eq!(landed["warehouse_id"], json!(here));
    assert_eq!(landed["quantity_on_hand"], "990.000");
    // Each scan is in the session's list, newest first.
    let log = browser.text("#scan-log").await;
    for done in ["Counted", "Transferred", "Loaded", "Unloaded"] {
        assert!(log.contains(done), "{done} in {log}");
    }
    browser.close().await;
}

#[tokio::test]
async fn a_supplier_lists_goods_a_buyer_offers_and_the_supplier_accepts_in_the_market() {
    let app = TestApp::spawn().await;
    let custody = fixtures::custody(&app).await;
    let lot = custody.lot_in_custody(&app, "800").await;
    let code = lot["code"].as_str().unwrap().to_owned();
    let buyer = app.owner_of(holdfast::auth::OrgKind::Buyer).await;
    app.sql(&format!(
        "UPDATE orgs SET tier = 'gold' WHERE id = '{}'",
        buyer.org_id
    ))
    .await;

    // The supplier lists 500 kg at 6.80.
    let browser = Browser::start(&app.base).await;
    browser.sign_in(&custody.supplier.email, PASSWORD).await;
    browser.open("/market").await;
    browser.click("#new-listing summary").await;
    browser.fill("#l-quantity", "500").await;
    browser.fill("#l-price", "6.80").await;
    browser.click("#new-listing button[type=submit]").await;
    browser
        .wait_for(|p: String| p == "/market?done=listed", "the listing made")
        .await;
    let card = browser.text("[data-listing]").await;
    assert!(card.contains(&code) && card.contains("6.80"), "{card}");
    let reaches = browser.text("[data-listing] .reaches").await;
    assert!(
        reaches.contains("platinum") && reaches.contains("bronze"),
        "when each tier sees it: {reaches}"
    );
    let listing = browser
        .element("[data-listing]")
        .await
        .attr("data-listing")
        .await
        .unwrap()
        .expect("the listing's id");
    browser.sign_out().await;

    // A gold buyer sees it two hours after it opened, with what the platform verified.
    browser.sign_in(&buyer.email, PASSWORD).await;
    assert_eq!(browser.path().await, "/market");
    assert!(
        browser
            .text("main")
            .await
            .contains("Nothing listed here yet"),
        "not yet for gold"
    );
    app.sql(&format!(
        "UPDATE listings SET opened_at = now() - interval '3 hours' WHERE id = '{listing}'"
    ))
    .await;
    browser.open("/market").await;
    let card = browser.text("[data-listing]").await;
    assert!(card.contains("500") && card.contains("Freshness"), "{card}");
    browser.shoot("market-buyer").await;
    // An offer above what is listed is refused on the page; then 300 kg at 6.60.
    browser
        .fill("[data-listing] input[name=quantity]", "900")
        .await;
    browser.click("[data-listing] form.offer button").await;
    assert!(browser.text("[role=alert]").await.contains("available"));
    browser
        .fill("[data-listing] input[name=quantity]", "300")
        .await;
    browser
        .fill("[data-listing] input[name=unit_price]", "6.60")
        .await;
    browser.click("[data-listing] form.offer button").await;
    browser
        .wait_for(|p: String| p == "/market?done=offered", "the offer made")
        .await;
    assert!(
        browser
            .text("main table")
            .await
            .contains("awaiting the seller")
    );
    browser.sign_out().await;

    // The supplier accepts: a sale of 300 kg at 6.60 to the buyer.
    browser.sign_in(&custody.supplier.email, PASSWORD).await;
    browser.open("/market").await;
    browser.shoot("market-seller").await;
    browser
        .click("[data-offer] form[action$='/accept'] button")
        .await;
    browser
        .wait_for(
            |p: String| p == "/market?done=accepted",
            "the offer accepted",
        )
        .await;
    let sales = app.get("/v1/sales", custody.supplier.token()).await;
    let sale = &sales.body["items"][0];
    assert_eq!(sale["buyer_org_id"], json!(buyer.org_id));
    assert_eq!(sale["total"], "1980.00");
    let listed = app
        .get(&format!("/v1/listings/{listing}"), custody.supplier.token())
        .await;
    assert_eq!(listed.body["quantity_available"], "200.000");
    browser.sign_out().await;

    // The buyer pays for its purchase from its page: the sale settles.
    browser.sign_in(&buyer.email, PASSWORD).await;
    browser.open("/sales").await;
    let row = browser.text("tr[data-sale]").await;
    assert!(row.contains("1,980.00"), "{row}");
    browser.shoot("purchases-to-pay").await;
    browser.click("form[data-pay] button").await;
    browser
        .wait_for(|p: String| p == "/sales?done=paid", "the payment recorded")
        .await;
    assert!(
        browser
            .text("tr[data-sale] .badge-settled")
            .await
            .contains("settled")
    );
    let paid = app
        .get(
            &format!("/v1/sales/{}", sale["id"].as_str().unwrap()),
            buyer.token(),
        )
        .await;
    assert_eq!(paid.body["status"], "settled", "{}", paid.text);
    browser.close().await;
}

#[tokio::test]
async fn a_supplier_auctions_goods_and_a_buyer_funds_and_bids_against_a_live_clock() {
    let app = TestApp::spawn().await;
    let custody = fixtures::custody(&app).await;
    let lot = custody.lot_in_custody(&app, "400").await;
    let code = lot["code"].as_str().unwrap().to_owned();
    let buyer = app.owner_of(holdfast::auth::OrgKind::Buyer).await;
    app.sql(&format!(
        "UPDATE orgs SET tier = 'platinum' WHERE id = '{}'",
        buyer.org_id
    ))
    .await;

    // The supplier auctions 400 kg from a reserve of 5.00, for two hours.
    let browser = Browser::start(&app.base).await;
    browser.sign_in(&custody.supplier.email, PASSWORD).await;
    browser.open("/market").await;
    browser.click("#new-listing summary").await;
    browser.fill("#l-quantity", "400").await;
    browser.click("#l-mode option[value=auction]").await;
    browser.fill("#l-reserve", "5.00").await;
    browser.fill("#l-increment", "0.10").await;
    browser.click("#l-hours option[value='2']").await;
    browser.click("#new-listing button[type=submit]").await;
    browser
        .wait_for(|p: String| p == "/market?done=listed", "the auction listed")
        .await;
    let card = browser.text("[data-listing]").await;
    assert!(
        card.contains(&code) && card.contains("Reserve CNY 5.00 per kg") && card.contains("0 bids"),
        "{card}"
    );
    browser.sign_out().await;

    // A platinum buyer sees it at once. Without funds the bid is refused on the page, with
    // the reason; with funds it is placed, and the deposit (half of 10 % of 2,000) is held.
    browser.sign_in(&buyer.email, PASSWORD).await;
    assert_eq!(browser.path().await, "/market");
    assert!(
        browser.text("#funds").await.contains("No funds yet"),
        "open while empty"
    );
    // The clock counts down by itself, second by second.
    let first = browser
        .wait_text("[data-listing] .countdown", |t| {
            t.contains("min") && t.ends_with('s')
        })
        .await;
    let later = browser
        .wait_text("[data-listing] .countdown", |t| {
            t.ends_with('s') && t != first
        })
        .await;
    assert_ne!(first, later, "the countdown moves");
    assert!(
        first.starts_with("1 h 59 min") || first.starts_with("2 h"),
        "{first}"
    );
    browser.click("[data-listing] form.bid button").await;
    let refusal = browser.text("[role=alert]").await;
    assert!(refusal.contains("deposit"), "{refusal}");
    browser.fill("#funds input[name=amount]", "500").await;
    browser.click("#funds button").await;
    browser
        .wait_for(|p: String| p == "/market?done=funded", "the funds added")
        .await;
    assert_eq!(
        browser.text("#funds strong[data-funds=CNY]").await,
        "CNY 500.00"
    );
    browser.click("[data-listing] form.bid button").await;
    browser
        .wait_for(|p: String| p == "/market?done=bid", "the bid placed")
        .await;
    let card = browser.text("[data-listing]").await;
    assert!(
        card.contains("High bid CNY 5.00 per kg")
            && card.contains("you lead")
            && card.contains("CNY 100.00"),
        "{card}"
    );
    assert_eq!(
        browser.text("#funds strong[data-funds=CNY]").await,
        "CNY 400.00"
    );
    let minimum = browser
        .element("[data-listing] form.bid input[name=unit_price]")
        .await
        .prop("value")
        .await
        .unwrap();
    assert_eq!(
        minimum.as_deref(),
        Some("5.10"),
        "the next bid must raise by the increment"
    );
    browser.scroll_to("[data-listing]").await;
    browser.shoot("market-auction-buyer").await;
    browser.sign_out().await;

    // The seller sees the bid and who made it; the listing can no longer be withdrawn.
    browser.sign_in(&custody.supplier.email, PASSWORD).await;
    browser.open("/market").await;
    let bids = browser.text("[data-listing] table.bids").await;
    assert!(bids.contains("5.00"), "{bids}");
    assert!(
        browser
            .driver
            .find(By::Css("[data-listing] form[action$='/withdraw']"))
            .await
            .is_err(),
        "an auction with bids runs to its close"
    );
    browser.scroll_to("[data-listing]").await;
    browser.shoot("market-auction-seller").await;
    // Past its end the clock says so and the close awards the bid.
    app.sql(
        "UPDATE listings SET ends_at = now() + interval '2 seconds', starts_at = now() - interval '1 hour'",
    )
    .await;
    browser.open("/market").await;
    browser
        .wait_text("[data-listing] .countdown", |t| t.contains("ended"))
        .await;
    holdfast::market::job::run(&app.pool, chrono::Utc::now() + chrono::Duration::seconds(3))
        .await
        .expect("market job");
    browser.open("/market").await;
    assert!(browser.text("[data-listing]").await.contains("awarded"));
    browser.close().await;
}

#[tokio::test]
async fn a_supplier_opens_a_group_buy_and_a_buyer_joins_it_paying_into_escrow() {
    let app = TestApp::spawn().await;
    let custody = fixtures::custody(&app).await;
    custody.lot_in_custody(&app, "1000").await;
    let buyer = app.owner_of(holdfast::auth::OrgKind::Buyer).await;
    app.sql(&format!(
        "UPDATE orgs SET tier = 'platinum' WHERE id = '{}'",
        buyer.org_id
    ))
    .await;
    let funded = app
        .post_keyed(
            "/v1/funds",
            buyer.token(),
            &json!({"currency": "CNY", "amount": "2000.00"}),
        )
        .await;
    assert_eq!(funded.status, 201, "{}", funded.text);

    // The supplier offers 1,000 kg for group buying at 5.00, 600 kg to fill it, for a day.
    let browser = Browser::start(&app.base).await;
    browser.sign_in(&custody.supplier.email, PASSWORD).await;
    browser.open("/market").await;
    browser.click("#new-listing summary").await;
    browser.fill("#l-quantity", "1000").await;
    browser.click("#l-mode option[value=group]").await;
    browser.fill("#l-price", "5.00").await;
    browser.fill("#l-minimum", "600").await;
    browser.click("#new-listing button[type=submit]").await;
    browser
        .wait_for(|p: String| p == "/market?done=listed", "the group listed")
        .await;
    let card = browser.text("[data-listing] .group").await;
    assert!(
        card.contains("Group price CNY 5.00 per kg")
            && card.contains("0 kg joined of the 600 kg needed"),
        "{card}"
    );
    browser.sign_out().await;

    // The buyer joins with 300 kg: 1,500.00 moves from its funds into escrow.
    browser.sign_in(&buyer.email, PASSWORD).await;
    browser
        .wait_text("[data-listing] .countdown", |t| t.starts_with("23 h"))
        .await;
    browser
        .fill(
            "[data-listing] form[action$='/join'] input[name=quantity]",
            "300",
        )
        .await;
    browser
        .click("[data-listing] form[action$='/join'] button")
        .await;
    browser
        .wait_for(|p: String| p == "/market?done=joined", "the group joined")
        .await;
    let card = browser.text("[data-listing] .group").await;
    assert!(
        card.contains("300 kg joined of the 600 kg needed"),
        "{card}"
    );
    assert_eq!(
        browser.text("#funds strong[data-funds=CNY]").await,
        "CNY 500.00"
    );
    // The card says what the buyer joined, and offers no second join.
    assert!(card.contains("you joined with 300 kg"), "{card}");
    assert!(
        browser
            .driver
            .find(By::Css("[data-listing] form[action$='/join']"))
            .await
            .is_err()
    );
    browser.scroll_to("[data-listing]").await;
    browser.shoot("market-group-buyer").await;
    browser.close().await;
}
