//! Listing search: `GET /v1/listings` over a market of `BENCH_LISTINGS` open listings (default
//! 100,000), as a platinum buyer sees it (every listing visible), ranked by seller tier,
//! freshness and age.
//!
//! `cargo bench --bench market` starts a private PostgreSQL, seeds by set-based SQL 100
//! suppliers in the four tiers, four commodities, ten warehouses and one lot per listing, then
//! starts the release `holdfast serve` binary and times `BENCH_READS` searches (default 200)
//! from one client, cycling through four searches a buyer makes: the first page, one
//! commodity, one commodity in one warehouse with at least a quantity and at most a price, and
//! one grade. It prints p50 and p99 of each and of all.
//!
//! Then bids on one hot auction: `BENCH_BIDDERS` platinum buyers (default 32), each funded
//! through the API, bid for `BENCH_BID_SECONDS` (default 20) from as many concurrent clients,
//! each bid a little above the last one handed out (so a bid overtaken on its way arrives too
//! low and is refused, as it would be). Every bid, placed or refused, is judged in turn on the
//! listing's row; it prints bids judged and placed per second with p50 and p99, checks that the
//! held deposits equal the deposits ledger and that the books balance, and the server's peak
//! memory through both phases.

#[path = "harness/mod.rs"]
mod harness;

use diesel_async::{AsyncPgConnection, RunQueryDsl};
use harness::{PASSWORD, Server, env_number, ms, percentile};
use holdfast::auth::{OrgKind, Permission, Role};
use holdfast::db;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

async fn run(conn: &mut AsyncPgConnection, sql: &str) -> anyhow::Result<()> {
    diesel::sql_query(sql).execute(conn).await?;
    Ok(())
}

/// The market, by set-based SQL; answers the platinum buyer's login.
async fn seed(conn: &mut AsyncPgConnection, listings: u64) -> anyhow::Result<String> {
    use holdfast::orgs::store;
    let buyer = store::insert_org(conn, "Bench Buyer", OrgKind::Buyer).await?;
    let seller = store::insert_org(conn, "Bench Supplier 0", OrgKind::Supplier).await?;
    let email = "buyer@bench.holdfast".to_owned();
    let hash = holdfast::auth::password::hash_blocking(PASSWORD)?;
    store::insert_user(
        conn,
        store::NewUserRow {
            org_id: buyer.id,
            email: &email,
            password_hash: &hash,
            role: Role::Owner,
            permissions: &Permission::all_for(OrgKind::Buyer),
            created_by: None,
        },
    )
    .await?;
    let lister = store::insert_user(
        conn,
        store::NewUserRow {
            org_id: seller.id,
            email: "sales@bench.holdfast",
            password_hash: &hash,
            role: Role::Owner,
            permissions: &Permission::all_for(OrgKind::Supplier),
            created_by: None,
        },
    )
    .await?;
    let (b, u) = (buyer.id, lister.id);
    for sql in [
        format!("UPDATE orgs SET tier = 'platinum' WHERE id = '{b}'"),
        "INSERT INTO orgs (id, name, kind, tier) \
         SELECT md5('supplier' || k)::uuid, 'Bench Supplier ' || k, 'supplier', \
                (ARRAY['bronze', 'silver', 'gold', 'platinum'])[1 + k % 4] \
         FROM generate_series(1, 100) k".to_owned(),
        "INSERT INTO commodities (code, name, unit, shelf_life_days, fresh_days, end_freshness_factor, grades) \
         SELECT code, name, 'kg', 180, 60, 0.5, '{\"A\": \"1.00\", \"B\": \"0.85\"}' \
         FROM (VALUES ('APPLE_FUJI', 'Fuji apples'), ('PEAR_YALI', 'Yali pears'), \
                      ('KIWI_XUXIANG', 'Kiwifruit'), ('GRAPE_KYOHO', 'Kyoho grapes')) c(code, name)".to_owned(),
        format!("INSERT INTO warehouses (id, name, operator_org_id, address, kind, breach_grace_minutes) \
                 SELECT md5('warehouse' || w)::uuid, 'Bench store ' || w, '{b}', 'Shandong', 'cold_storage', 30 \
                 FROM generate_series(1, 10) w"),
        format!("INSERT INTO lots (id, code, owner_org_id, commodity_code, grade, declared_grade, unit, status, \
                 quantity_announced, quantity_on_hand, warehouse_id, packed_on, expires_on, received_at, warehouse_since) \
                 SELECT md5('lot' || i)::uuid, 'M' || i, md5('supplier' || (1 + i % 100))::uuid, \
                        (ARRAY['APPLE_FUJI', 'PEAR_YALI', 'KIWI_XUXIANG', 'GRAPE_KYOHO'])[1 + i % 4], \
                        CASE WHEN i % 3 = 0 THEN 'B' ELSE 'A' END, 'A', 'kg', 'in_custody', 2000, 2000, \
                        md5('warehouse' || (1 + i % 10))::uuid, current_date - (i % 150)::int, \
                        current_date - (i % 150)::int + 180, now() - (i % 60) * interval '1 day', \
                        now() - (i % 60) * interval '1 day' \
                 FROM generate_series(1, {listings}) i"),
        format!("INSERT INTO listings (id, lot_id, seller_org_id, mode, status, currency, quantity, unit_price, \
                 seller_tier, opened_at, created_by) \
                 SELECT md5('listing' || i)::uuid, md5('lot' || i)::uuid, md5('supplier' || (1 + i % 100))::uuid, \
                        'fixed', 'open', 'CNY', 500 + i % 1500, 4 + (i % 400) / 100.0, \
                        (ARRAY['bronze', 'silver', 'gold', 'platinum'])[1 + (1 + i % 100) % 4], \
                        now() - (i % 5000) * interval '1 minute', '{u}' \
                 FROM generate_series(1, {listings}) i"),
        "ANALYZE".to_owned(),
    ] {
        run(conn, &sql).await?;
    }
    Ok(email)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let listings = env_number("BENCH_LISTINGS", 100_000);
    let reads = env_number("BENCH_READS", 200) as usize;
    let (cluster, url) = harness::cluster("market", &[("shared_buffers", "512MB")]).await?;
    let mut conn = db::connect(&url).await?;
    let seeding = Instant::now();
    let email = seed(&mut conn, listings).await?;
    println!(
        "seeded {listings} open listings in {:.1} s",
        seeding.elapsed().as_secs_f64()
    );
    let server = Server::start(&url, 8).await?;
    let token = server.login(&email).await?;
    let client = reqwest::Client::new();
    let warehouse: String = {
        #[derive(diesel::QueryableByName)]
        struct Id {
            #[diesel(sql_type = diesel::sql_types::Text)]
            id: String,
        }
        let row: Id = diesel::sql_query("SELECT md5('warehouse' || 3)::uuid::text AS id")
            .get_result(&mut conn)
            .await?;
        row.id
    };
    let searches = [
        ("first page", "/v1/listings?limit=50".to_owned()),
        (
            "one commodity",
            "/v1/listings?commodity_code=PEAR_YALI&limit=50".to_owned(),
        ),
        (
            "commodity, warehouse, quantity, price",
            format!(
                "/v1/listings?commodity_code=APPLE_FUJI&warehouse_id={warehouse}&min_quantity=1000&max_price=6&limit=50"
            ),
        ),
        ("one grade", "/v1/listings?grade=B&limit=50".to_owned()),
    ];
    let mut all = Vec::new();
    let mut each: Vec<Vec<Duration>> = vec![Vec::new(); searches.len()];
    for i in 0..reads {
        let (_, path) = &searches[i % searches.len()];
        let sent = Instant::now();
        let reply = client
            .get(format!("{}{path}", server.base))
            .bearer_auth(&token)
            .send()
            .await?;
        anyhow::ensure!(reply.status().is_success(), "{path}: {}", reply.status());
        let body: serde_json::Value = reply.json().await?;
        anyhow::ensure!(
            !body["items"].as_array().is_none_or(|a| a.is_empty()),
            "{path} found nothing"
        );
        let took = sent.elapsed();
        all.push(took);
        each[i % searches.len()].push(took);
    }
    for ((name, _), mut times) in searches.iter().zip(each) {
        times.sort();
        println!(
            "search \"{name}\", {} requests: p50 {:.1} ms, p99 {:.1} ms",
            times.len(),
            ms(percentile(&times, 0.50)),
            ms(percentile(&times, 0.99))
        );
    }
    all.sort();
    println!(
        "GET /v1/listings over {listings} listings, {reads} searches: p50 {:.1} ms, p99 {:.1} ms",
        ms(percentile(&all, 0.50)),
        ms(percentile(&all, 0.99))
    );
    hot_auction(&mut conn, &server, &url).await?;
    if let Some(kib) = server.peak_rss_kib() {
        println!("server peak RSS: {:.1} MB", kib as f64 / 1024.0);
    }
    drop(server);
    drop(cluster);
    Ok(())
}

/// One auction, `BENCH_BIDDERS` funded platinum bidders racing on it.
async fn hot_auction(
    conn: &mut AsyncPgConnection,
    server: &Server,
    url: &str,
) -> anyhow::Result<()> {
    use holdfast::orgs::store;
    let bidders = env_number("BENCH_BIDDERS", 32) as usize;
    let seconds = env_number("BENCH_BID_SECONDS", 20);
    let hash = holdfast::auth::password::hash_blocking(PASSWORD)?;
    // The platform holds the deposits.
    store::insert_org(conn, "Bench Platform", OrgKind::Platform).await?;
    let mut emails = Vec::with_capacity(bidders);
    for i in 0..bidders {
        let org = store::insert_org(conn, &format!("Bench Bidder {i}"), OrgKind::Buyer).await?;
        let email = format!("bidder{i}@bench.holdfast");
        store::insert_user(
            conn,
            store::NewUserRow {
                org_id: org.id,
                email: &email,
                password_hash: &hash,
                role: Role::Owner,
                permissions: &Permission::all_for(OrgKind::Buyer),
                created_by: None,
            },
        )
        .await?;
        run(
            conn,
            &format!("UPDATE orgs SET tier = 'platinum' WHERE id = '{}'", org.id),
        )
        .await?;
        emails.push(email);
    }
    // The hot lot, the seller's own.
    run(
        conn,
        "INSERT INTO lots (id, code, owner_org_id, commodity_code, grade, declared_grade, unit, status, \
         quantity_announced, quantity_on_hand, warehouse_id, packed_on, expires_on, received_at, warehouse_since) \
         SELECT md5('hot lot')::uuid, 'HOT1', o.id, 'APPLE_FUJI', 'A', 'A', 'kg', 'in_custody', 20000, 20000, \
                md5('warehouse' || 1)::uuid, current_date, current_date + 180, now(), now() \
         FROM orgs o WHERE o.name = 'Bench Supplier 0'",
    )
    .await?;
    let lot = uuid_of(conn, "SELECT md5('hot lot')::uuid::text AS id").await?;
    let client = reqwest::Client::new();
    let seller = server.login("sales@bench.holdfast").await?;
    let listed: serde_json::Value = client
        .post(format!("{}/v1/listings", server.base))
        .bearer_auth(&seller)
        .header("idempotency-key", uuid::Uuid::new_v4().to_string())
        .json(&serde_json::json!({
            "lot_id": lot,
            "quantity": "20000", "mode": "auction", "currency": "CNY",
            "auction": {"reserve_price": "1.00", "min_increment": "0.0001",
                        "ends_at": chrono::Utc::now() + chrono::Duration::hours(1),
                        "extension_minutes": 1, "max_extensions": 0}
        }))
        .send()
        .await?
        .json()
        .await?;
    let listing = listed["id"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("the auction was not listed: {listed}"))?
        .to_owned();
    let mut tokens = Vec::with_capacity(bidders);
    for email in &emails {
        let token = server.login(email).await?;
        let funded = client
            .post(format!("{}/v1/funds", server.base))
            .bearer_auth(&token)
            .header("idempotency-key", uuid::Uuid::new_v4().to_string())
            .json(&serde_json::json!({"currency": "CNY", "amount": "100000.00"}))
            .send()
            .await?;
        anyhow::ensure!(funded.status().is_success(), "funding: {}", funded.status());
        tokens.push(token);
    }
    // One bid first, to know the auction takes them.
    let first = client
        .post(format!("{}/v1/listings/{listing}/bids", server.base))
        .bearer_auth(&tokens[0])
        .header("idempotency-key", uuid::Uuid::new_v4().to_string())
        .json(&serde_json::json!({"unit_price": "1.00"}))
        .send()
        .await?;
    anyhow::ensure!(
        first.status().as_u16() == 201,
        "the first bid: {} {}",
        first.status(),
        first.text().await?
    );
    let tokens = Arc::new(tokens);
    let placed = Arc::new(AtomicUsize::new(0));
    let base = server.base.clone();
    let (counted, listing_id) = (placed.clone(), listing.clone());
    let level = harness::drive(
        bidders,
        seconds,
        usize::MAX,
        Arc::new(AtomicUsize::new(0)),
        move |client: reqwest::Client, index: usize| {
            let (tokens, placed, base, listing) = (
                tokens.clone(),
                counted.clone(),
                base.clone(),
                listing_id.clone(),
            );
            async move {
                let price = rust_decimal::Decimal::new(10_001 + index as i64, 4);
                let reply = client
                    .post(format!("{base}/v1/listings/{listing}/bids"))
                    .bearer_auth(&tokens[index % tokens.len()])
                    .header("idempotency-key", uuid::Uuid::new_v4().to_string())
                    .json(&serde_json::json!({"unit_price": price.to_string()}))
                    .send()
                    .await;
                match reply.map(|r| r.status().as_u16()) {
                    Ok(201) => {
                        placed.fetch_add(1, Ordering::Relaxed);
                        true
                    }
                    // Overtaken on its way: judged, and refused as too low.
                    Ok(409) => true,
                    _ => false,
                }
            }
        },
    )
    .await;
    let placed = AtomicUsize::load(&placed, Ordering::Relaxed);
    let per_second = level.per_second * placed as f64 / level.done.max(1) as f64;
    println!(
        "bids on one auction, {bidders} clients, {seconds} s: {:.1} judged/s ({:.1} placed/s, {} placed, {} refused as overtaken), p50 {:.1} ms, p99 {:.1} ms, failures {}",
        level.per_second,
        per_second,
        placed,
        level.done - placed.min(level.done),
        ms(level.p50),
        ms(level.p99),
        level.failures
    );
    let held = uuid_of(
        conn,
        "SELECT ((SELECT coalesce(sum(amount), 0) FROM market_deposits WHERE status = 'held') = \
                 (SELECT coalesce(sum(l.amount), 0) FROM journal_lines l JOIN ledger_accounts a \
                  ON a.id = l.account_id WHERE a.kind = 'deposits'))::text AS id",
    )
    .await?;
    println!(
        "deposits held equal the deposits ledger: {held}; books balanced: {}",
        harness::books_balanced(url).await?
    );
    Ok(())
}

async fn uuid_of(conn: &mut AsyncPgConnection, sql: &str) -> anyhow::Result<String> {
    #[derive(diesel::QueryableByName)]
    struct Id {
        #[diesel(sql_type = diesel::sql_types::Text)]
        id: String,
    }
    let row: Id = diesel::sql_query(sql).get_result(conn).await?;
    Ok(row.id)
}
