//! The console's pages over plain HTTP: who may see which page, the session cookie, the form
//! token, and the sign-in throttle. The browser tests (`tests/console`) drive the same pages
//! in Chromium.

use crate::support::{PASSWORD, TestApp};
use holdfast::auth::{OrgKind, Permission, Role};
use holdfast::http::route_table::Surface;

fn client() -> reqwest::Client {
    crate::support::client_builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// The value of `name` in the response's `Set-Cookie` headers.
fn cookie(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| {
            v.strip_prefix(&format!("{name}="))
                .map(|rest| rest.split(';').next().unwrap_or("").to_owned())
        })
}

fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).expect(name) + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

/// Signs in through the form; answers the session cookie and the page's form token.
async fn sign_in(app: &TestApp, email: &str) -> (String, String) {
    let client = client();
    let page = client.get(app.url("/login")).send().await.unwrap();
    let login_cookie = cookie(&page, "holdfast_login_csrf").expect("the form's cookie");
    let html = page.text().await.unwrap();
    let form = format!(
        "csrf={}&next=%2F&email={}&password={}",
        hidden(&html, "csrf"),
        email.replace('@', "%40"),
        PASSWORD
    );
    let signed = client
        .post(app.url("/login"))
        .header("Cookie", format!("holdfast_login_csrf={login_cookie}"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .unwrap();
    assert_eq!(signed.status().as_u16(), 303);
    let set = signed
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|v| v.starts_with("holdfast_session="))
        .expect("a session cookie");
    assert!(set.contains("HttpOnly"), "{set}");
    assert!(set.contains("SameSite=Strict"), "{set}");
    let session = cookie(&signed, "holdfast_session").unwrap();
    let home = client
        .get(app.url("/welcome"))
        .header("Cookie", format!("holdfast_session={session}"))
        .send()
        .await
        .unwrap();
    let html = home.text().await.unwrap();
    (session, hidden(&html, "csrf"))
}

async fn get(app: &TestApp, path: &str, session: Option<&str>) -> (u16, String, String) {
    let mut request = client().get(app.url(path));
    if let Some(session) = session {
        request = request.header("Cookie", format!("holdfast_session={session}"));
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let location = response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    (status, location, response.text().await.unwrap_or_default())
}

#[test]
fn every_console_page_is_in_the_route_table_with_its_access_rule() {
    let pages: Vec<_> = holdfast::app::routes()
        .into_iter()
        .filter(|r| r.surface == Surface::Page)
        .collect();
    assert!(pages.len() >= 15, "{}", pages.len());
    // Only the sign-in, the language switch and the assets are public.
    let public: Vec<String> = pages
        .iter()
        .filter(|r| r.access.is_public())
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(
        public,
        [
            "GET /assets/console.css",
            "GET /assets/scan.js",
            "GET /assets/market.js",
            "GET /login",
            "POST /login",
            "GET /lang/{tag}"
        ]
    );
}

#[tokio::test]
async fn pages_follow_the_api_access_rules_and_forms_need_their_token() {
    let app = TestApp::spawn().await;
    let lender = app.owner_of(OrgKind::Lender).await;
    let warehouse = app.owner_of(OrgKind::WarehouseOperator).await;
    let scanless = app
        .user(
            warehouse.org_id,
            Role::Staff,
            &[Permission::InspectionsWrite],
        )
        .await;

    // Without a session every page but the public ones asks to sign in, and comes back.
    for path in [
        "/",
        "/scan",
        "/dashboard",
        "/approvals",
        "/loans",
        "/stress",
    ] {
        let (status, location, _) = get(&app, path, None).await;
        assert_eq!(status, 303, "{path}");
        assert!(location.starts_with("/login"), "{path}: {location}");
    }
    let (status, location, _) = get(&app, "/scan?x=1", None).await;
    assert_eq!(
        (status, location.as_str()),
        (303, "/login?next=%2Fscan%3Fx%3D1")
    );
    // A made-up cookie is no session.
    let (status, _, _) = get(&app, "/dashboard", Some("0123456789abcdef")).await;
    assert_eq!(status, 303);

    let (lender_session, lender_csrf) = sign_in(&app, &lender.email).await;
    let (staff_session, _) = sign_in(&app, &warehouse.email).await;
    let (scanless_session, _) = sign_in(&app, &scanless.email).await;
    // Each lands on its own first page.
    assert_eq!(get(&app, "/", Some(&lender_session)).await.1, "/dashboard");
    assert_eq!(get(&app, "/", Some(&staff_session)).await.1, "/scan");
    // The same rules as the API: a page one may not see is no such page.
    assert_eq!(get(&app, "/scan", Some(&lender_session)).await.0, 404);
    assert_eq!(get(&app, "/dashboard", Some(&staff_session)).await.0, 404);
    assert_eq!(get(&app, "/scan", Some(&scanless_session)).await.0, 404);
    let (status, _, html) = get(&app, "/scan", Some(&staff_session)).await;
    assert_eq!(status, 200);
    assert!(html.contains("id=\"scan-input\""));
    let (status, _, html) = get(&app, "/dashboard", Some(&lender_session)).await;
    assert_eq!(status, 200);
    assert!(html.contains("<svg"), "the charts are drawn on the server");
    // Another org's loan is no such page.
    let other = uuid::Uuid::new_v4();
    assert_eq!(
        get(&app, &format!("/loans/{other}"), Some(&lender_session))
            .await
            .0,
        404
    );

    // A form without the session's token, or with another session's, changes nothing.
    let (_, staff_csrf) = sign_in(&app, &warehouse.email).await;
    for token in ["", "guess", staff_csrf.as_str()] {
        let posted = client()
            .post(app.url("/stress"))
            .header("Cookie", format!("holdfast_session={lender_session}"))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(format!("csrf={token}&shock.APPLE=-0.3"))
            .send()
            .await
            .unwrap();
        assert_eq!(posted.status().as_u16(), 403, "token {token:?}");
    }
    // An action one may not take is refused even with the right token.
    let forced = client()
        .post(app.url(&format!("/loans/{other}/approve")))
        .header("Cookie", format!("holdfast_session={staff_session}"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("csrf=x")
        .send()
        .await
        .unwrap();
    assert_eq!(forced.status().as_u16(), 403);
    // A script request needs the token in its header.
    let scan = client()
        .post(app.url("/scan/submit"))
        .header("Cookie", format!("holdfast_session={staff_session}"))
        .header("Idempotency-Key", "k1")
        .header("Content-Type", "application/json")
        .body(r#"{"code":"X","action":"receive"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(scan.status().as_u16(), 403);

    // Signing out ends the session at once.
    let out = client()
        .post(app.url("/logout"))
        .header("Cookie", format!("holdfast_session={lender_session}"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(format!("csrf={lender_csrf}"))
        .send()
        .await
        .unwrap();
    assert_eq!(out.status().as_u16(), 303);
    assert_eq!(get(&app, "/dashboard", Some(&lender_session)).await.0, 303);
    // Disabling a user ends its browser sessions too.
    let admin = app.admin().await;
    let disabled = app
        .request(
            "PATCH",
            &format!("/v1/users/{}", scanless.user_id),
            Some(admin.token()),
            Some(&serde_json::json!({"disabled": true})),
        )
        .await;
    assert_eq!(disabled.status, 200, "{}", disabled.text);
    assert_eq!(get(&app, "/welcome", Some(&scanless_session)).await.0, 303);
}

#[tokio::test]
async fn the_sign_in_form_needs_its_own_token_and_words_refusals_in_the_language() {
    let app = TestApp::spawn().await;
    let lender = app.owner_of(OrgKind::Lender).await;
    // No form cookie (another site's page posting the form): refused, nothing started.
    let forged = client()
        .post(app.url("/login"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(format!(
            "csrf=abc&email={}&password={PASSWORD}",
            lender.email.replace('@', "%40")
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status().as_u16(), 403);
    assert!(cookie(&forged, "holdfast_session").is_none());
    // A wrong password is named in the browser's language.
    let page = client()
        .get(app.url("/login"))
        .header("Accept-Language", "zh-CN,zh;q=0.9,en;q=0.8")
        .send()
        .await
        .unwrap();
    let form_cookie = cookie(&page, "holdfast_login_csrf").unwrap();
    let html = page.text().await.unwrap();
    assert!(html.contains("lang=\"zh-CN\""));
    let wrong = client()
        .post(app.url("/login"))
        .header("Accept-Language", "zh-CN")
        .header("Cookie", format!("holdfast_login_csrf={form_cookie}"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(format!(
            "csrf={}&email={}&password=wrong-password",
            hidden(&html, "csrf"),
            lender.email.replace('@', "%40")
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status().as_u16(), 401);
    assert!(wrong.text().await.unwrap().contains("邮箱或密码错误"));
    // The language switch keeps the choice and goes back only to a page of ours.
    let (status, location, _) = get(&app, "/lang/en?next=%2F%2Fevil.example%2F", None).await;
    assert_eq!((status, location.as_str()), (303, "/"));
    assert_eq!(get(&app, "/lang/fr", None).await.0, 404);
}

#[tokio::test]
async fn the_platform_imports_a_price_feed_from_its_page() {
    let app = TestApp::spawn().await;
    let custody = crate::fixtures::custody(&app).await;
    let (session, csrf) = sign_in(&app, &custody.admin.email).await;
    assert_eq!(get(&app, "/", Some(&session)).await.1, "/admin");
    let (status, _, html) = get(&app, "/admin", Some(&session)).await;
    assert_eq!(status, 200);
    assert!(html.contains(&custody.commodity));
    let post = |body: String| {
        client()
            .post(app.url("/admin/prices"))
            .header("Cookie", format!("holdfast_session={session}"))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };
    let feed = |price: &str| {
        format!(
            "commodity_code,price_per_unit,currency,as_of,source\n{},{price},CNY,{},feed\n",
            custody.commodity,
            crate::fixtures::today()
        )
    };
    let encode =
        |text: String| form_urlencoded::byte_serialize(text.as_bytes()).collect::<String>();
    // A bad line is named on the page and nothing is written.
    let refused = post(format!("csrf={csrf}&csv={}", encode(feed("seven"))))
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 422);
    let page = refused.text().await.unwrap();
    assert!(page.contains("role=\"alert\""), "{page}");
    let prices = app
        .get(
            &format!("/v1/prices?commodity_code={}", custody.commodity),
            custody.admin.token(),
        )
        .await;
    assert_eq!(prices.body["items"].as_array().unwrap().len(), 0);
    // A good feed is imported, once.
    for (imported, already) in [(1, 0), (0, 1)] {
        let done = post(format!("csrf={csrf}&csv={}", encode(feed("6.40"))))
            .await
            .unwrap();
        assert_eq!(done.status().as_u16(), 303);
        assert_eq!(
            done.headers()["location"],
            format!("/admin?imported={imported}&already={already}#prices").as_str()
        );
    }
    let prices = app
        .get(
            &format!("/v1/prices?commodity_code={}", custody.commodity),
            custody.admin.token(),
        )
        .await;
    let stored: rust_decimal::Decimal = prices.body["items"][0]["price_per_unit"]
        .as_str()
        .expect("a price")
        .parse()
        .unwrap();
    assert_eq!(stored, rust_decimal::Decimal::new(64, 1));
    // Only the platform: a supplier's session gets no such page.
    let (supplier, _) = sign_in(&app, &custody.supplier.email).await;
    assert_eq!(get(&app, "/admin", Some(&supplier)).await.0, 404);
}

#[tokio::test]
async fn the_statement_page_and_its_csv_follow_the_api() {
    let app = TestApp::spawn().await;
    let lending = crate::fixtures::lending(&app).await;
    let (_lot, _loan) = lending.active_loan(&app, "1000", "2000").await;
    let supplier = &lending.custody.supplier;
    let (session, _) = sign_in(&app, &supplier.email).await;
    let (status, _, html) = get(&app, "/statement", Some(&session)).await;
    assert_eq!(status, 200);
    // The advance of 2,000 shows as the API's statement has it.
    let api = app.get("/v1/statements", supplier.token()).await;
    assert_eq!(api.body["currencies"][0]["summary"]["advances"], "2000.00");
    assert!(
        html.contains("CNY 2,000.00") || html.contains("¥2,000.00"),
        "{html}"
    );
    let csv = client()
        .get(app.url("/statement.csv"))
        .header("Cookie", format!("holdfast_session={session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status().as_u16(), 200);
    assert!(
        csv.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let body = csv.text().await.unwrap();
    let api_csv = app
        .client
        .get(app.url("/v1/statements.csv"))
        .bearer_auth(supplier.token())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(body, api_csv, "the page's CSV is the API's");
    // A date that is not one is named on the page.
    let (status, _, html) = get(&app, "/statement?to=2026-13-45", Some(&session)).await;
    assert_eq!(status, 422);
    assert!(html.contains("role=\"alert\""));
    // Warehouse staff see no statement (no money), as in the API.
    let (staff, _) = sign_in(&app, &lending.custody.warehouse_staff.email).await;
    assert_eq!(get(&app, "/statement", Some(&staff)).await.0, 404);
    assert_eq!(get(&app, "/sales", Some(&staff)).await.0, 404);
}

#[tokio::test]
async fn the_dashboard_lists_the_open_margin_calls_after_a_price_fall() {
    let app = TestApp::spawn().await;
    let world = crate::fixtures::lending(&app).await;
    let (_, high) = world.active_loan(&app, "10000", "30000").await;
    crate::fixtures::post_price(
        &app,
        &world.custody.admin,
        &world.custody.commodity,
        "4.20",
        &chrono::Utc::now().to_rfc3339(),
    )
    .await;
    let (session, _) = sign_in(&app, &world.lender.email).await;
    let (status, _, html) = get(&app, "/dashboard", Some(&session)).await;
    assert_eq!(status, 200);
    // The call's row links the loan and shows its LTV (0.714286 against 0.65).
    assert!(html.contains(&format!("/loans/{high}")), "{html}");
    assert!(html.contains("0.714286"));
    assert_eq!(
        html.matches(&format!("href=\"/loans/{high}\"")).count(),
        2,
        "in the calls and the breaching loans"
    );
}

/// Posts a console form (`fields` already URL-encoded) with the session's cookie.
async fn post_form(
    app: &TestApp,
    path: &str,
    session: &str,
    fields: &str,
) -> (u16, String, String) {
    let response = client()
        .post(app.url(path))
        .header("Cookie", format!("holdfast_session={session}"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(fields.to_owned())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let location = response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    (status, location, response.text().await.unwrap_or_default())
}

#[tokio::test]
async fn the_platform_adds_orgs_users_and_reference_data_from_its_page() {
    let app = TestApp::spawn().await;
    let custody = crate::fixtures::custody(&app).await;
    let (session, csrf) = sign_in(&app, &custody.admin.email).await;
    let (_, _, page) = get(&app, "/admin", Some(&session)).await;
    for form in [
        "new-org",
        "new-commodity",
        "new-warehouse",
        "new-voyage",
        "new-price",
    ] {
        assert!(page.contains(&format!("id=\"{form}\"")), "{form} offered");
    }

    // An organisation, then its owner, who can sign in; a taken name comes back on the form.
    let (status, location, _) = post_form(
        &app,
        "/admin/orgs",
        &session,
        &format!("csrf={csrf}&name=Qingdao+Fruit+Buyers&kind=buyer"),
    )
    .await;
    assert_eq!(status, 303);
    let org_path = location
        .strip_suffix("?done=org")
        .expect("the org's page")
        .to_owned();
    let (status, _, page) = post_form(
        &app,
        "/admin/orgs",
        &session,
        &format!("csrf={csrf}&name=qingdao+fruit+buyers&kind=buyer"),
    )
    .await;
    assert_eq!(status, 409);
    assert!(
        page.contains("id=\"new-org\" open"),
        "the refused form is open"
    );
    assert!(
        page.contains("value=\"qingdao fruit buyers\""),
        "what was typed is kept"
    );
    let (status, _, page) = get(&app, &format!("{org_path}?done=org"), Some(&session)).await;
    assert_eq!(status, 200);
    assert!(page.contains("Qingdao Fruit Buyers") && page.contains("role=\"status\""));
    assert!(
        page.contains("value=\"payments:write\""),
        "a buyer's permissions are offered"
    );
    assert!(!page.contains("value=\"scans:write\""), "not a warehouse's");
    let users = format!("{org_path}/users");
    let (status, _, page) = post_form(
        &app,
        &users,
        &session,
        &format!("csrf={csrf}&email=buyer%40qingdao.example&password=short&role=owner"),
    )
    .await;
    assert_eq!(status, 422);
    assert!(
        page.contains("id=\"new-user\" open") && page.contains("role=\"alert\""),
        "{page}"
    );
    let (status, location, _) = post_form(
        &app,
        &users,
        &session,
        &format!("csrf={csrf}&email=buyer%40qingdao.example&password={PASSWORD}&role=staff&permissions=payments%3Awrite"),
    )
    .await;
    assert_eq!(
        (status, location.as_str()),
        (303, format!("{org_path}?done=user").as_str())
    );
    let (buyer, _) = sign_in(&app, "buyer@qingdao.example").await;
    assert_eq!(get(&app, "/", Some(&buyer)).await.1, "/market");
    // Disabling the user ends its session at once; the admin cannot disable itself.
    let (_, _, page) = get(&app, &org_path, Some(&session)).await;
    let user_id = page
        .split("action=\"/admin/users/")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a disable form")
        .to_owned();
    let (status, location, _) = post_form(
        &app,
        &format!("/admin/users/{user_id}"),
        &session,
        &format!("csrf={csrf}&disabled=true"),
    )
    .await;
    assert_eq!(
        (status, location.as_str()),
        (303, format!("{org_path}?done=disabled").as_str())
    );
    assert_eq!(get(&app, "/sales", Some(&buyer)).await.0, 303);
    let (status, _, page) = post_form(
        &app,
        &format!("/admin/users/{}", custody.admin.user_id),
        &session,
        &format!("csrf={csrf}&disabled=true&org={}", custody.admin.org_id),
    )
    .await;
    assert_eq!(status, 409);
    assert!(page.contains("role=\"alert\""), "{page}");

    // A commodity: a bad number is named; a good one is the API's.
    let commodity = |shelf: &str| {
        format!(
            "csrf={csrf}&code=PEAR_YALI&name=Yali+pears&unit=kg&shelf_life_days={shelf}&fresh_days=30&grades=A%3D1.00+B%3D0.80&temperature_min_c=-1&temperature_max_c=4"
        )
    };
    let (status, _, page) =
        post_form(&app, "/admin/commodities", &session, &commodity("ninety")).await;
    assert_eq!(status, 422);
    assert!(
        page.contains("shelf_life_days") && page.contains("id=\"new-commodity\" open"),
        "{page}"
    );
    let (status, location, _) =
        post_form(&app, "/admin/commodities", &session, &commodity("90")).await;
    assert_eq!(
        (status, location.as_str()),
        (303, "/admin?done=commodity#commodities")
    );
    let listed = app.get("/v1/commodities", custody.admin.token()).await;
    let pear = listed.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["code"] == "PEAR_YALI")
        .expect("the pear is listed");
    assert_eq!(pear["grades"]["B"], "0.8");
    assert_eq!(pear["shelf_life_days"], 90);

    // A warehouse with a storage rate for the pear, run by the custody fixture's operator.
    let (status, location, _) = post_form(
        &app,
        "/admin/warehouses",
        &session,
        &format!(
            "csrf={csrf}&name=Laiyang+Cold+Store&operator_org_id={}&address=Laiyang%2C+Shandong&kind=cold_storage&temperature_min_c=-1&temperature_max_c=4&breach_grace_minutes=&currency=CNY&rate.PEAR_YALI=0.012&rate.{}=",
            custody.warehouse_staff.org_id, custody.commodity
        ),
    )
    .await;
    assert_eq!(
        (status, location.as_str()),
        (303, "/admin?done=warehouse#warehouses")
    );
    let warehouses = app.get("/v1/warehouses", custody.admin.token()).await;
    let laiyang = warehouses.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["name"] == "Laiyang Cold Store")
        .expect("the warehouse is listed");
    assert_eq!(laiyang["storage_rates"].as_array().unwrap().len(), 1);
    assert_eq!(laiyang["storage_rates"][0]["rate_per_unit_day"], "0.012");

    // A voyage (times typed in UTC); an arrival before departure is refused.
    let voyage = |eta: &str| {
        format!(
            "csrf={csrf}&vessel_name=Bohai+Pearl&carrier_org_id={}&origin=Dalian&destination=Yantai&destination_warehouse_id=&departs_at=2026-12-01T08%3A00&eta={eta}",
            custody.warehouse_staff.org_id
        )
    };
    let (status, _, _) = post_form(
        &app,
        "/admin/voyages",
        &session,
        &voyage("2026-11-30T08%3A00"),
    )
    .await;
    assert_eq!(status, 422);
    let (status, location, _) = post_form(
        &app,
        "/admin/voyages",
        &session,
        &voyage("2026-12-03T08%3A00"),
    )
    .await;
    assert_eq!(
        (status, location.as_str()),
        (303, "/admin?done=voyage#voyages")
    );

    // A price now (as_of left empty); a price from the future is refused naming as_of.
    let price = |as_of: &str| {
        format!(
            "csrf={csrf}&commodity_code=PEAR_YALI&price_per_unit=5.20&currency=CNY&as_of={as_of}&source=console"
        )
    };
    let (status, _, page) =
        post_form(&app, "/admin/price", &session, &price("2099-01-01T00%3A00")).await;
    assert_eq!(status, 422);
    assert!(page.contains("id=\"new-price\" open"), "{page}");
    let (status, location, _) = post_form(&app, "/admin/price", &session, &price("")).await;
    assert_eq!(
        (status, location.as_str()),
        (303, "/admin?done=price#prices")
    );
    let (_, _, page) = get(&app, "/admin?done=price", Some(&session)).await;
    let prices = page.split("id=\"prices\"").nth(1).unwrap_or("");
    assert!(
        prices.contains("<td>PEAR_YALI</td>"),
        "the latest price is listed: {prices}"
    );

    // Others: no such page, and the forms are refused.
    let (supplier, supplier_csrf) = sign_in(&app, &custody.supplier.email).await;
    assert_eq!(get(&app, &org_path, Some(&supplier)).await.0, 404);
    let (status, _, _) = post_form(
        &app,
        "/admin/orgs",
        &supplier,
        &format!("csrf={supplier_csrf}&name=Mine&kind=buyer"),
    )
    .await;
    assert_eq!(status, 403);
}
