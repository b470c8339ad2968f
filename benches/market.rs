//! Listing search: `GET /v1/listings` over a market of `BENCH_LISTINGS` open listings (default
//! 100,000), as a platinum buyer sees it (every listing visible), ranked by seller tier,
//! freshness and age.
//!
//! `cargo bench --bench market` starts a private PostgreSQL, seeds by set-based SQL 100
//! suppliers in the four tiers, four commodities, ten warehouses and one lot per listing, then
//! starts the release `holdfast serve` binary and times `BENCH_READS` searches (default 200)
//! from one client, cycling through four searches a buyer makes: the first page, one
//! commodity, one commodity in one warehouse with at least a quantity and at most a price, and
//! one grade. It prints p50 and p99 of each and of all, and the server's peak memory.

#[path = "harness/mod.rs"]
mod harness;

use diesel_async::{AsyncPgConnection, RunQueryDsl};
use harness::{PASSWORD, Server, env_number, ms, percentile};
use holdfast::auth::{OrgKind, Permission, Role};
use holdfast::db;
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
    if let Some(kib) = server.peak_rss_kib() {
        println!("server peak RSS: {:.1} MB", kib as f64 / 1024.0);
    }
    drop(server);
    drop(cluster);
    Ok(())
}
