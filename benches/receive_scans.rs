//! Receive scans per second, end to end over HTTP, against the same SQL run by pgbench.
//!
//! `cargo bench --bench receive_scans` starts a private PostgreSQL (durable settings:
//! `synchronous_commit` and `fsync` on), seeds 100,000 announced lots, starts the release
//! `holdfast serve` binary, and drives receive scans at 1, 8 and 32 concurrent clients,
//! reporting throughput and p50/p99 latency. It then runs `pgbench` with a script issuing the
//! statements one receive scan issues, at 32 clients, as the ceiling, and reports the server's
//! peak resident memory. Environment: `BENCH_SECONDS` per level (default 15), `BENCH_LOTS`
//! (default 100000).

#[path = "harness/mod.rs"]
mod harness;

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use harness::{PASSWORD, Server, env_number};
use holdfast::auth::{OrgKind, Permission, Role};
use holdfast::domain::lot_code::LotCode;
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Instant;

struct World {
    url: String,
    codes: Vec<String>,
    operator_email: String,
    operator_org: uuid::Uuid,
    user_id: uuid::Uuid,
    warehouse: uuid::Uuid,
}

async fn seed(url: &str, lots: usize) -> anyhow::Result<World> {
    use diesel::ExpressionMethods;
    use holdfast::db::schema::lots as l;
    use holdfast::orgs::store;
    use holdfast::reference::store as reference;
    let mut conn = AsyncPgConnection::establish(url).await?;
    let supplier = store::insert_org(&mut conn, "Bench Supplier", OrgKind::Supplier).await?;
    let operator =
        store::insert_org(&mut conn, "Bench Cold Chain", OrgKind::WarehouseOperator).await?;
    let hash = holdfast::auth::password::hash_blocking(PASSWORD)?;
    let operator_email = "scanner@bench.holdfast".to_owned();
    let user = store::insert_user(
        &mut conn,
        store::NewUserRow {
            org_id: operator.id,
            email: &operator_email,
            password_hash: &hash,
            role: Role::Owner,
            permissions: &Permission::all_for(OrgKind::WarehouseOperator),
            created_by: None,
        },
    )
    .await?;
    reference::insert_commodity(
        &mut conn,
        reference::CommodityValues {
            code: "APPLE",
            name: "Apples",
            unit: "kg",
            shelf_life_days: 180,
            fresh_days: 60,
            end_freshness_factor: rust_decimal::Decimal::new(5, 1),
            grades: json!({"A": "1.00"}),
            temperature_min_c: None,
            temperature_max_c: None,
        },
    )
    .await?;
    let warehouse = reference::insert_warehouse(
        &mut conn,
        reference::WarehouseValues {
            name: "Bench store",
            operator_org_id: operator.id,
            address: "Yantai",
            kind: "cold_storage",
            temperature_min_c: None,
            temperature_max_c: None,
            breach_grace_minutes: 30,
        },
    )
    .await?;
    reference::insert_storage_rate(
        &mut conn,
        warehouse.id,
        &holdfast::reference::model::StorageRate {
            commodity_code: "APPLE".into(),
            rate_per_unit_day: rust_decimal::Decimal::new(4, 3),
            currency: "CNY".into(),
        },
    )
    .await?;
    let today = chrono::Utc::now().date_naive();
    let mut codes = Vec::with_capacity(lots);
    // Codes carry ~39 random bits: among 100,000 of them two alike turn up about once in a
    // hundred seedings, so a code already drawn is drawn again.
    let mut drawn = std::collections::HashSet::with_capacity(lots);
    for chunk in 0..lots.div_ceil(5000) {
        let rows: Vec<_> = (0..5000.min(lots - chunk * 5000))
            .map(|_| {
                let code = std::iter::repeat_with(|| LotCode::generate().to_string())
                    .find(|code| drawn.insert(code.clone()))
                    .unwrap_or_default();
                codes.push(code.clone());
                (
                    l::id.eq(uuid::Uuid::new_v4()),
                    l::code.eq(code),
                    l::owner_org_id.eq(supplier.id),
                    l::commodity_code.eq("APPLE"),
                    l::grade.eq("A"),
                    l::declared_grade.eq("A"),
                    l::unit.eq("kg"),
                    l::status.eq("announced"),
                    l::quantity_announced.eq(rust_decimal::Decimal::from(1000)),
                    l::warehouse_id.eq(Some(warehouse.id)),
                    l::packed_on.eq(today),
                    l::expires_on.eq(today + chrono::Days::new(180)),
                )
            })
            .collect();
        diesel::insert_into(l::table)
            .values(rows)
            .execute(&mut conn)
            .await?;
    }
    diesel::sql_query(
        "INSERT INTO movements (lot_id, kind, quantity_change, quantity_after, status_after, warehouse_id) \
         SELECT id, 'announce', 0, 0, 'announced', warehouse_id FROM lots",
    )
    .execute(&mut conn)
    .await?;
    diesel::sql_query("VACUUM ANALYZE")
        .execute(&mut conn)
        .await?;
    Ok(World {
        url: url.to_owned(),
        codes,
        operator_email,
        operator_org: operator.id,
        user_id: user.id,
        warehouse: warehouse.id,
    })
}

/// The least a receive needs, for pgbench: one transaction that updates the lot and inserts
/// its movement.
fn minimum_script(world: &World) -> String {
    format!(
        r#"\set n random(1, {lots})
BEGIN;
UPDATE lots SET quantity_on_hand = quantity_on_hand + 0, updated_at = now() WHERE seq = :n;
INSERT INTO movements (lot_id, kind, quantity_change, quantity_after, status_after, warehouse_id, details, actor_user_id) SELECT id, 'receive', 0, quantity_on_hand, 'in_custody', warehouse_id, '{{}}', '{user}' FROM lots WHERE seq = :n;
COMMIT;
"#,
        lots = world.codes.len(),
        user = world.user_id,
    )
}

/// The statements one receive scan issues, in its one transaction (take the key's advisory
/// lock, look for a stored response, scan, store the response), for pgbench.
fn pgbench_script(world: &World) -> String {
    format!(
        r#"\set n random(1, {lots})
\set k random(1, 1000000000)
BEGIN;
SELECT pg_try_advisory_xact_lock(hashtextextended('idempotency/{user}/pgbench-' || :client_id || '-' || :k, 0));
SELECT request_hash, response_status, response_body FROM idempotency_keys WHERE user_id = '{user}' AND idempotency_key = 'pgbench-' || :client_id || '-' || :k;
SELECT * FROM lots WHERE seq = :n AND id IN (SELECT id FROM lots WHERE (warehouse_id IN (SELECT id FROM warehouses WHERE operator_org_id = '{org}') OR voyage_id IN (SELECT id FROM voyages WHERE carrier_org_id = '{org}' OR destination_warehouse_id IN (SELECT id FROM warehouses WHERE operator_org_id = '{org}'))) AND seq = :n) FOR UPDATE;
SELECT sr.rate_per_unit_day, sr.currency, p.price_per_unit, p.currency, c.fresh_days, c.shelf_life_days, c.end_freshness_factor, c.grades FROM commodities c LEFT JOIN storage_rates sr ON sr.warehouse_id = '{warehouse}' AND sr.commodity_code = c.code LEFT JOIN LATERAL (SELECT price_per_unit, currency FROM prices WHERE commodity_code = c.code AND as_of <= now() ORDER BY as_of DESC, id DESC LIMIT 1) p ON true WHERE c.code = 'APPLE';
UPDATE lots SET quantity_on_hand = quantity_on_hand + 0, status = 'in_custody', warehouse_id = '{warehouse}', voyage_id = NULL, updated_at = now(), warehouse_since = now(), received_at = now(), storage_rate_per_unit_day = 0.004, storage_currency = 'CNY', market_value_at_deposit = NULL, deposit_currency = NULL, inspection_due_on = NULL WHERE seq = :n RETURNING *;
INSERT INTO movements (lot_id, kind, quantity_change, quantity_after, status_after, warehouse_id, details, actor_user_id) SELECT id, 'receive', 0, quantity_on_hand, 'in_custody', warehouse_id, '{{"variance": "0"}}', '{user}' FROM lots WHERE seq = :n;
SELECT warehouse_id, ended_at FROM breaches WHERE warehouse_id = ANY(ARRAY['{warehouse}'::uuid]) AND acknowledged_at IS NULL;
WITH event AS (INSERT INTO outbox_events (org_ids, event_type, payload) VALUES (ARRAY['{org}'::uuid], 'lot.received', '{{"object_kind": "lot"}}')) INSERT INTO audit_events (actor_user_id, actor_org_id, org_ids, action, object_kind, object_id, before, after) VALUES ('{user}', '{org}', ARRAY['{org}'::uuid], 'lot.received', 'lot', :n, '{{}}', '{{}}');
INSERT INTO idempotency_keys (user_id, idempotency_key, request_hash, response_status, response_body) VALUES ('{user}', 'pgbench-' || :client_id || '-' || :k, '\x00', 200, '\x00') ON CONFLICT DO NOTHING;
COMMIT;
"#,
        lots = world.codes.len(),
        user = world.user_id,
        org = world.operator_org,
        warehouse = world.warehouse,
    )
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let seconds = env_number("BENCH_SECONDS", 15);
    let lots = env_number("BENCH_LOTS", 100_000) as usize;
    let (cluster, url) = harness::cluster(
        "receive",
        &[("max_connections", "200"), ("shared_buffers", "256MB")],
    )
    .await?;
    let seeding = Instant::now();
    let world = seed(&url, lots).await?;
    println!(
        "seeded {lots} announced lots in {:.1} s",
        seeding.elapsed().as_secs_f64()
    );
    // The service's default pool (`HOLDFAST_POOL_SIZE`, 16): more connections than cores only
    // queue in PostgreSQL instead of the pool (`BENCH_POOL` to try others).
    let server = Server::start(&world.url, 16).await?;
    let token = server.login(&world.operator_email).await?;
    let codes = Arc::new(world.codes.clone());
    let next = Arc::new(AtomicUsize::new(0));
    let mut levels = Vec::new();
    for clients in [1, 8, 32] {
        let (base, token, codes) = (server.base.clone(), token.clone(), codes.clone());
        let receive = move |client: reqwest::Client, index: usize| {
            let (base, token, code) = (base.clone(), token.clone(), codes[index].clone());
            async move {
                let response = client
                    .post(format!("{base}/v1/scans"))
                    .bearer_auth(&token)
                    .header("Idempotency-Key", format!("bench-{index}"))
                    .json(&json!({"code": code, "action": "receive"}))
                    .send()
                    .await;
                match response {
                    Ok(r) if r.status().as_u16() == 200 => r.bytes().await.is_ok(),
                    _ => false,
                }
            }
        };
        // `BENCH_PROFILE=1`: where the database's time went at this level.
        harness::profile_reset(&url).await?;
        let waits = harness::WaitSampler::start(&url).await?;
        let level =
            harness::drive(clients, seconds, world.codes.len(), next.clone(), receive).await;
        waits.report(&format!("holdfast, {clients} clients")).await;
        harness::profile_report(&url, &format!("holdfast, {clients} clients")).await?;
        level.print("scans");
        levels.push(level);
    }
    let rss = server.peak_rss_kib();
    drop(server);
    harness::profile_reset(&url).await?;
    let waits = harness::WaitSampler::start(&url).await?;
    let tps = harness::pgbench(
        &cluster,
        &url,
        "receive",
        &pgbench_script(&world),
        32,
        seconds,
    )?;
    waits.report("pgbench, 32 clients").await;
    harness::profile_report(&url, "pgbench, 32 clients").await?;
    let minimum = harness::pgbench(
        &cluster,
        &url,
        "receive-minimum",
        &minimum_script(&world),
        32,
        seconds,
    )?;
    if let Some(at_32) = levels.iter().find(|l| l.clients == 32) {
        println!(
            "ratio at 32 clients: {:.2} of the pgbench ceiling ({tps:.0} tx/s), {:.2} of the two-statement minimum ({minimum:.0} tx/s)",
            at_32.per_second / tps,
            at_32.per_second / minimum
        );
    }
    if let Some(kib) = rss {
        println!("server peak RSS: {:.1} MB", kib as f64 / 1024.0);
    }
    drop(cluster);
    Ok(())
}
