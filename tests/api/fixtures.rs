//! Reference data and lots for tests, made through the API as the people who make them.

use crate::support::{Reply, Session, TestApp};
use serde_json::{Value, json};
use uuid::Uuid;

pub struct Custody {
    pub admin: Session,
    pub supplier: Session,
    pub warehouse_staff: Session,
    pub warehouse_id: String,
    pub commodity: String,
}

pub async fn commodity(app: &TestApp, admin: &Session, code: &str) {
    let reply = app
        .post(
            "/v1/commodities",
            admin.token(),
            &json!({
                "code": code,
                "name": "Fuji apples",
                "unit": "kg",
                "shelf_life_days": 180,
                "fresh_days": 60,
                "end_freshness_factor": "0.5",
                "grades": {"A": "1.00", "B": "0.85", "C": "0.60"},
                "temperature_min_c": "-1",
                "temperature_max_c": "4"
            }),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
}

pub async fn warehouse(
    app: &TestApp,
    admin: &Session,
    operator_org: Uuid,
    commodity: &str,
) -> String {
    let reply = app
        .post(
            "/v1/warehouses",
            admin.token(),
            &json!({
                "name": format!("Cold store {}", Uuid::new_v4().simple()),
                "operator_org_id": operator_org,
                "address": "Zhifu District, Yantai, Shandong",
                "kind": "cold_storage",
                "temperature_min_c": "-1",
                "temperature_max_c": "4",
                "breach_grace_minutes": 30,
                "storage_rates": [{"commodity_code": commodity, "rate_per_unit_day": "0.004", "currency": "CNY"}]
            }),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    reply.body["id"].as_str().expect("id").to_owned()
}

pub async fn voyage(
    app: &TestApp,
    admin: &Session,
    carrier_org: Uuid,
    destination: Option<&str>,
) -> String {
    let reply = app
        .post(
            "/v1/voyages",
            admin.token(),
            &json!({
                "vessel_name": "Beibu Gulf Star",
                "carrier_org_id": carrier_org,
                "origin": "Qinzhou, Guangxi",
                "destination": "Rizhao, Shandong",
                "destination_warehouse_id": destination,
                "departs_at": "2026-12-01T00:00:00Z",
                "eta": "2026-12-18T00:00:00Z"
            }),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    reply.body["id"].as_str().expect("id").to_owned()
}

/// A platform admin, a supplier, a warehouse operator with a cold store and its owner
/// (who scans), and an apple commodity.
pub async fn custody(app: &TestApp) -> Custody {
    use holdfast::auth::OrgKind;
    let admin = app.admin().await;
    let supplier = app.owner_of(OrgKind::Supplier).await;
    let warehouse_staff = app.owner_of(OrgKind::WarehouseOperator).await;
    let commodity_code = format!(
        "APPLE_{}",
        &Uuid::new_v4().simple().to_string()[..6].to_uppercase()
    );
    commodity(app, &admin, &commodity_code).await;
    let warehouse_id = warehouse(app, &admin, warehouse_staff.org_id, &commodity_code).await;
    Custody {
        admin,
        supplier,
        warehouse_staff,
        warehouse_id,
        commodity: commodity_code,
    }
}

pub fn today() -> chrono::NaiveDate {
    chrono::Utc::now().date_naive()
}

impl Custody {
    pub async fn announce(&self, app: &TestApp, quantity: &str) -> Value {
        let reply = app
            .post(
                "/v1/lots",
                self.supplier.token(),
                &json!({
                    "commodity_code": self.commodity,
                    "grade": "A",
                    "quantity": quantity,
                    "packed_on": today(),
                    "warehouse_id": self.warehouse_id
                }),
            )
            .await;
        assert_eq!(reply.status, 201, "{}", reply.text);
        reply.body
    }

    pub async fn scan(&self, app: &TestApp, body: Value) -> Reply {
        scan_as(app, &self.warehouse_staff, body).await
    }

    /// A lot received in full at the warehouse.
    pub async fn lot_in_custody(&self, app: &TestApp, quantity: &str) -> Value {
        let lot = self.announce(app, quantity).await;
        let reply = self
            .scan(app, json!({"code": lot["code"], "action": "receive"}))
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        reply.body["lot"].clone()
    }

    pub async fn withdraw(&self, app: &TestApp, lot_id: &str, quantity: &str) -> Reply {
        app.request_with(
            "POST",
            "/v1/withdrawals",
            Some(self.supplier.token()),
            Some(&json!({"lot_id": lot_id, "quantity": quantity})),
            &[("Idempotency-Key", &Uuid::new_v4().to_string())],
        )
        .await
    }
}

pub async fn scan_as(app: &TestApp, who: &Session, body: Value) -> Reply {
    app.request_with(
        "POST",
        "/v1/scans",
        Some(who.token()),
        Some(&body),
        &[("Idempotency-Key", &Uuid::new_v4().to_string())],
    )
    .await
}

/// A custody world plus a price of 6.00 CNY/kg for its apples, a lender, and a facility for
/// the supplier: limit 1,000,000 CNY, advance 0.50, 8 % a year, margin call 0.65,
/// liquidation 0.80, 3-day cure, one-year tenor.
pub struct Lending {
    pub custody: Custody,
    pub lender: Session,
    pub facility_id: String,
}

pub fn start_of_today() -> String {
    format!("{}T00:00:00Z", today())
}

pub async fn post_price(app: &TestApp, admin: &Session, commodity: &str, price: &str, as_of: &str) {
    let reply = app
        .post(
            "/v1/prices",
            admin.token(),
            &json!({"commodity_code": commodity, "price_per_unit": price, "currency": "CNY",
                    "as_of": as_of, "source": Uuid::new_v4().to_string()}),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
}

pub async fn lending(app: &TestApp) -> Lending {
    lending_with(app, json!({})).await
}

/// The same, with `terms` overriding the facility's.
pub async fn lending_with(app: &TestApp, terms: Value) -> Lending {
    use holdfast::auth::OrgKind;
    let custody = custody(app).await;
    post_price(
        app,
        &custody.admin,
        &custody.commodity,
        "6.00",
        &start_of_today(),
    )
    .await;
    let lender = app.owner_of(OrgKind::Lender).await;
    let mut body = json!({
        "supplier_org_id": custody.supplier.org_id,
        "currency": "CNY",
        "limit": "1000000",
        "advance_rate": "0.50",
        "annual_interest_rate": "0.08",
        "margin_call_ltv": "0.65",
        "liquidation_ltv": "0.80",
        "cure_period_days": 3,
        "max_tenor_days": 365,
        "eligible_commodities": [custody.commodity],
    });
    if let (Some(body), Value::Object(extra)) = (body.as_object_mut(), terms) {
        body.extend(extra);
    }
    let reply = app.post("/v1/facilities", lender.token(), &body).await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    Lending {
        facility_id: reply.body["id"].as_str().expect("id").to_owned(),
        custody,
        lender,
    }
}

pub fn with_key() -> [(&'static str, String); 1] {
    [("Idempotency-Key", Uuid::new_v4().to_string())]
}

impl Lending {
    /// The supplier asks for `principal` against `quantity` of the lot.
    pub async fn request(
        &self,
        app: &TestApp,
        lot_id: &str,
        quantity: &str,
        principal: &str,
    ) -> Reply {
        app.post(
            "/v1/loans",
            self.custody.supplier.token(),
            &json!({"facility_id": self.facility_id, "principal": principal,
                    "collateral": [{"lot_id": lot_id, "quantity": quantity}]}),
        )
        .await
    }

    pub async fn post_as(&self, app: &TestApp, who: &Session, path: &str, body: Value) -> Reply {
        let [(name, key)] = with_key();
        app.request_with(
            "POST",
            path,
            Some(who.token()),
            Some(&body),
            &[(name, &key)],
        )
        .await
    }

    /// A lot of `quantity` kg in custody and a disbursed loan of `principal` against all of it.
    pub async fn active_loan(
        &self,
        app: &TestApp,
        quantity: &str,
        principal: &str,
    ) -> (Value, String) {
        let lot = self.custody.lot_in_custody(app, quantity).await;
        let lot_id = lot["id"].as_str().expect("lot id");
        let loan = self.disbursed_loan(app, lot_id, quantity, principal).await;
        (lot, loan)
    }

    /// A loan of `principal` against `quantity` of the lot, requested, approved and disbursed.
    pub async fn disbursed_loan(
        &self,
        app: &TestApp,
        lot_id: &str,
        quantity: &str,
        principal: &str,
    ) -> String {
        match self.try_loan(app, lot_id, quantity, principal).await {
            Ok(loan) => loan,
            Err(refused) => panic!("{}", refused.text),
        }
    }

    /// The same, or the refusal of the request (a principal above the lending value).
    pub async fn try_loan(
        &self,
        app: &TestApp,
        lot_id: &str,
        quantity: &str,
        principal: &str,
    ) -> Result<String, Reply> {
        let requested = self.request(app, lot_id, quantity, principal).await;
        if requested.status == 422 {
            return Err(requested);
        }
        Ok(self.approve_and_disburse(app, requested).await)
    }

    /// The loan of `requested` (a 201 to `POST /v1/loans`), approved and disbursed.
    pub async fn approve_and_disburse(&self, app: &TestApp, requested: Reply) -> String {
        assert_eq!(requested.status, 201, "{}", requested.text);
        let loan = requested.body["id"].as_str().expect("loan id").to_owned();
        let approved = app
            .post(
                &format!("/v1/loans/{loan}/approve"),
                self.lender.token(),
                &json!({}),
            )
            .await;
        assert_eq!(approved.status, 200, "{}", approved.text);
        let disbursed = self
            .post_as(
                app,
                &self.lender,
                &format!("/v1/loans/{loan}/disburse"),
                json!({}),
            )
            .await;
        assert_eq!(disbursed.status, 200, "{}", disbursed.text);
        loan
    }

    pub async fn loan(&self, app: &TestApp, loan: &str) -> Value {
        let reply = app
            .get(&format!("/v1/loans/{loan}"), self.lender.token())
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        reply.body
    }

    pub async fn repay(&self, app: &TestApp, loan: &str, amount: &str) -> Reply {
        self.post_as(
            app,
            &self.custody.supplier,
            &format!("/v1/loans/{loan}/repayments"),
            json!({"amount": amount}),
        )
        .await
    }
}

/// The ledger check passes as the platform sees it: every entry and every currency balances.
pub async fn assert_books_balance(app: &TestApp, admin: &Session) {
    let check = app.get("/v1/ledger/check", admin.token()).await;
    assert_eq!(check.status, 200, "{}", check.text);
    assert_eq!(check.body["balanced"], true, "{}", check.text);
    assert_eq!(
        check.body["unbalanced_entries"],
        json!([]),
        "{}",
        check.text
    );
    assert_exposure_kept(app).await;
}

/// Closes business days up to `days` after today, as `holdfast jobs daily --as-of` would.
pub async fn close_days(app: &TestApp, days: u64) {
    let date = today() + chrono::Days::new(days);
    holdfast::lending::daily::run(&app.pool, date, true, true)
        .await
        .expect("daily job");
}

/// A lot-code character other than `c`, for a mistyped code.
pub fn other_code_character(c: char) -> char {
    if c == '2' { '3' } else { '2' }
}

/// The principal of an owner's session, for calling services directly (owners hold every
/// permission of their kind).
pub fn owner_principal(who: &Session, kind: holdfast::auth::OrgKind) -> holdfast::auth::Principal {
    holdfast::auth::Principal {
        user_id: who.user_id,
        org_id: who.org_id,
        kind,
        role: holdfast::auth::Role::Owner,
        permissions: holdfast::auth::Permission::all_for(kind),
        request_id: None,
    }
}

/// The exposure the API answers from its kept figures equals the one computed from every
/// pledge, for every lender's book and for every lender's together, in every currency lent;
/// and again after the appended deltas are folded into the cells.
pub async fn assert_exposure_kept(app: &TestApp) {
    use diesel_async::RunQueryDsl;
    use holdfast::lending::exposure::{
        ExposureQuery, StressRequest, book, compact, from_scratch, stress as lending_stress,
        stress_from_scratch,
    };
    #[derive(diesel::QueryableByName)]
    struct Book {
        #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Uuid>)]
        lender_org_id: Option<Uuid>,
        #[diesel(sql_type = diesel::sql_types::Text)]
        currency: String,
    }
    let platform = holdfast::auth::Principal {
        user_id: Uuid::new_v4(),
        org_id: Uuid::new_v4(),
        kind: holdfast::auth::OrgKind::Platform,
        role: holdfast::auth::Role::Owner,
        permissions: holdfast::auth::Permission::all_for(holdfast::auth::OrgKind::Platform),
        request_id: None,
    };
    let mut conn = app.pool.get().await.expect("connection");
    // Every loan a revaluation values holds the sum of its pledges' values, which the
    // revaluation of every loan adds its changes to rather than summing again.
    #[derive(diesel::QueryableByName)]
    struct Unequal {
        #[diesel(sql_type = diesel::sql_types::Text)]
        loan: String,
    }
    let unequal: Vec<Unequal> = diesel::sql_query(format!(
        "SELECT ln.id::text || ': ' || ln.collateral_value || ' against ' \
                || coalesce(sum(p.market_value), 0) AS loan \
         FROM loans ln LEFT JOIN pledges p ON p.loan_id = ln.id \
         WHERE ln.status IN {} \
         GROUP BY ln.id HAVING ln.collateral_value <> coalesce(sum(p.market_value), 0)",
        holdfast::lending::revaluation::REVALUED
    ))
    .load(&mut conn)
    .await
    .expect("loan values");
    let unequal: Vec<&str> = unequal.iter().map(|u| u.loan.as_str()).collect();
    assert!(
        unequal.is_empty(),
        "loans not valued at their pledges' sum: {unequal:?}"
    );
    let books: Vec<Book> = diesel::sql_query(
        "SELECT DISTINCT lender_org_id, currency FROM facilities \
         UNION SELECT DISTINCT NULL::uuid, currency FROM facilities",
    )
    .load(&mut conn)
    .await
    .expect("books");
    let codes: Vec<String> = {
        use diesel::QueryDsl;
        use holdfast::db::schema::commodities;
        commodities::table
            .select(commodities::code)
            .order(commodities::code)
            .load(&mut conn)
            .await
            .expect("commodities")
    };
    for fold in [false, true] {
        if fold {
            compact(&mut conn, i32::MAX).await.expect("fold");
        }
        for b in &books {
            let query = || ExposureQuery {
                currency: Some(b.currency.clone()),
                lender_org_id: b.lender_org_id,
            };
            let kept = book(&mut conn, &platform, query()).await.expect("kept");
            let scratch = from_scratch(&mut conn, &platform, query())
                .await
                .expect("from scratch");
            assert_same_figures(
                kept,
                scratch,
                &format!("book {:?} {} (folded: {fold})", b.lender_org_id, b.currency),
            );
            // And so does a stress: every commodity shocked (uneven changes, so that the
            // rounding shows), and one alone.
            for shocks in [shocks_of(&codes, codes.len()), shocks_of(&codes, 1)] {
                let stress = || StressRequest {
                    shocks: serde_json::from_value(shocks.clone()).expect("shocks"),
                };
                let kept = lending_stress(&mut conn, &platform, query(), stress())
                    .await
                    .expect("stress");
                let scratch = stress_from_scratch(&mut conn, &platform, query(), stress())
                    .await
                    .expect("stress from scratch");
                assert_same_figures(
                    kept,
                    scratch,
                    &format!(
                        "stress {shocks} of book {:?} {} (folded: {fold})",
                        b.lender_org_id, b.currency
                    ),
                );
            }
        }
    }
}

/// Two exposures are the same figures, whenever each was computed.
fn assert_same_figures(
    kept: holdfast::lending::exposure::Exposure,
    scratch: holdfast::lending::exposure::Exposure,
    what: &str,
) {
    let mut kept = serde_json::to_value(kept).expect("json");
    let mut scratch = serde_json::to_value(scratch).expect("json");
    kept["computed_at"] = Value::Null;
    scratch["computed_at"] = Value::Null;
    assert_eq!(kept, scratch, "{what}");
}

/// Price changes for the first `n` of `codes`: -33.33 %, +12.75 %, -33.33 %, …
fn shocks_of(codes: &[String], n: usize) -> Value {
    Value::Array(
        codes
            .iter()
            .take(n)
            .enumerate()
            .map(|(i, code)| {
                let change = if i % 2 == 0 { "-0.3333" } else { "0.1275" };
                json!({"commodity_code": code, "price_change": change})
            })
            .collect(),
    )
}

/// Quality rules for the fixture apples: firmness, sugar and defects; rules for A and B
/// (results meeting neither make C).
pub fn apple_quality(required: bool, reinspect_days: Option<i32>) -> Value {
    json!({
        "parameters": [
            {"name": "firmness_kgf", "unit": "kgf", "min": "0", "max": "20"},
            {"name": "brix", "unit": "°Brix", "min": "0", "max": "30"},
            {"name": "defects_pct", "unit": "%", "min": "0", "max": "100"}
        ],
        "grades": [
            {"grade": "A", "ranges": {"firmness_kgf": {"min": "7"}, "brix": {"min": "13"}, "defects_pct": {"max": "3"}}},
            {"grade": "B", "ranges": {"firmness_kgf": {"min": "6"}, "defects_pct": {"max": "8"}}}
        ],
        "inspection_required": required,
        "reinspect_days": reinspect_days
    })
}

/// Puts the fixture apple rules in force for `commodity`.
pub async fn set_quality(
    app: &TestApp,
    admin: &Session,
    commodity: &str,
    required: bool,
    reinspect_days: Option<i32>,
) -> Value {
    let reply = app
        .request(
            "PUT",
            &format!("/v1/commodities/{commodity}/quality"),
            Some(admin.token()),
            Some(&apple_quality(required, reinspect_days)),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.body
}

/// Results that make `grade` under [`apple_quality`].
pub fn results_for(grade: &str) -> Value {
    match grade {
        "A" => json!({"firmness_kgf": "7.8", "brix": "14.2", "defects_pct": "1.5"}),
        "B" => json!({"firmness_kgf": "6.4", "brix": "12.1", "defects_pct": "5"}),
        _ => json!({"firmness_kgf": "4.1", "brix": "10", "defects_pct": "22"}),
    }
}

/// An inspection of the lot whose results make `grade`.
pub async fn inspect(app: &TestApp, who: &Session, lot_id: &str, grade: &str) -> Reply {
    app.post_keyed(
        &format!("/v1/lots/{lot_id}/inspections"),
        who.token(),
        &json!({"sample_size": 20, "results": results_for(grade), "notes": "20 fruit from 4 bins"}),
    )
    .await
}

/// A small PNG, drawn here.
pub fn png(width: u32, height: u32) -> Vec<u8> {
    let rgb: Vec<u8> = (0..width * height)
        .flat_map(|i| [200, (i % 200) as u8, 40])
        .collect();
    holdfast::domain::photo::png_rgb(width, height, &rgb)
}

// ---------------------------------------------------------------------------------------------
// The market's money

/// A decimal the API wrote as a string.
pub fn dec(value: &Value) -> rust_decimal::Decimal {
    value
        .as_str()
        .unwrap_or_else(|| panic!("a decimal string, not {value}"))
        .parse()
        .expect("a decimal")
}

/// A new buyer of `tier`, as the daily job would have made it.
pub async fn buyer_of_tier(app: &TestApp, tier: &str) -> Session {
    let buyer = app.owner_of(holdfast::auth::OrgKind::Buyer).await;
    app.sql(&format!(
        "UPDATE orgs SET tier = '{tier}' WHERE id = '{}'",
        buyer.org_id
    ))
    .await;
    buyer
}

/// Money into a buyer's market funds, in CNY.
pub async fn fund(app: &TestApp, who: &Session, amount: &str) -> Reply {
    app.post_keyed(
        "/v1/funds",
        who.token(),
        &json!({"currency": "CNY", "amount": amount}),
    )
    .await
}

/// The buyer's CNY market funds: (available, held).
pub async fn market_funds(
    app: &TestApp,
    who: &Session,
) -> (rust_decimal::Decimal, rust_decimal::Decimal) {
    let reply = app.get("/v1/funds", who.token()).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply
        .body
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["currency"] == "CNY")
        .map_or(
            (rust_decimal::Decimal::ZERO, rust_decimal::Decimal::ZERO),
            |f| (dec(&f["available"]), dec(&f["held"])),
        )
}

/// The market job at `at`, as `holdfast jobs market --as-of` runs it.
pub async fn run_market(
    app: &TestApp,
    at: chrono::DateTime<chrono::Utc>,
) -> holdfast::market::job::Swept {
    holdfast::market::job::run(&app.pool, at)
        .await
        .expect("market job")
        .expect("the market lock")
}

/// The platform's held deposits in the ledger and the deposits the market holds are the same
/// money.
pub async fn assert_escrow_is_open_deposits(app: &TestApp) {
    let ledger = app
        .value(
            "SELECT coalesce(sum(l.amount), 0)::numeric(20, 2) FROM journal_lines l
             JOIN ledger_accounts a ON a.id = l.account_id WHERE a.kind = 'deposits'",
        )
        .await;
    let held = app
        .value("SELECT coalesce(sum(amount), 0)::numeric(20, 2) FROM market_deposits WHERE status = 'held'")
        .await;
    assert_eq!(
        ledger, held,
        "held deposits in the ledger and in the market"
    );
}
