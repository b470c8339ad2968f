//! Settlements per second, end to end over HTTP, when every loan belongs to one lender (its
//! cash, interest and receivable accounts, the platform's escrow and fee income, and the
//! buyer's cash are hot), against pgbench running the same writes in the same run.
//!
//! `cargo bench --bench settlement` starts a private PostgreSQL (durable: `fsync` and
//! `synchronous_commit` on), seeds `BENCH_SALES` pending sales (default 20,000), each of one
//! lot of 1,000 kg at 6.00 CNY/kg pledged to its own active loan of 2,500 CNY from the one
//! lender, starts the release `holdfast serve` binary, and has the buyer pay each sale in full
//! (`POST /v1/sales/{id}/payments`: the payment, then the settlement — fee, loan repaid,
//! payout, pledge released, release order, two journal entries) at 1 and 32 concurrent
//! clients for `BENCH_SECONDS` each (default 15), reporting throughput and p50/p99. Then
//! pgbench runs a script of the same writes at 32 clients as the ceiling, and the ratio is
//! reported.

#[path = "harness/mod.rs"]
mod harness;

use diesel_async::RunQueryDsl;
use harness::{PASSWORD, Server, env_number};
use holdfast::auth::{OrgKind, Permission, Role};
use holdfast::db;
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Instant;
use uuid::Uuid;

struct World {
    sales: Vec<Uuid>,
    buyer_email: String,
    buyer_user: Uuid,
    platform: Uuid,
    supplier: Uuid,
    lender: Uuid,
    buyer: Uuid,
}

async fn run(conn: &mut diesel_async::AsyncPgConnection, sql: &str) -> anyhow::Result<()> {
    diesel::sql_query(sql).execute(conn).await?;
    Ok(())
}

async fn seed(url: &str, sales: u64) -> anyhow::Result<World> {
    use holdfast::orgs::store;
    let mut conn = db::connect(url).await?;
    let platform = store::insert_org(&mut conn, "Bench Platform", OrgKind::Platform).await?;
    let supplier = store::insert_org(&mut conn, "Bench Supplier", OrgKind::Supplier).await?;
    let lender = store::insert_org(&mut conn, "Bench Bank", OrgKind::Lender).await?;
    let buyer = store::insert_org(&mut conn, "Bench Buyer", OrgKind::Buyer).await?;
    let operator = store::insert_org(&mut conn, "Bench Store", OrgKind::WarehouseOperator).await?;
    let hash = holdfast::auth::password::hash_blocking(PASSWORD)?;
    let buyer_email = "payer@bench.holdfast".to_owned();
    let user = store::insert_user(
        &mut conn,
        store::NewUserRow {
            org_id: buyer.id,
            email: &buyer_email,
            password_hash: &hash,
            role: Role::Owner,
            permissions: &Permission::all_for(OrgKind::Buyer),
            created_by: None,
        },
    )
    .await?;
    let (s, l, b, o) = (supplier.id, lender.id, buyer.id, operator.id);
    for sql in [
        // Seeded with the triggers off, then the exposure figures built once from scratch.
        "SET session_replication_role = replica".to_owned(),
        "INSERT INTO commodities (code, name, unit, shelf_life_days, fresh_days, end_freshness_factor, grades) \
         VALUES ('APPLE', 'Apples', 'kg', 180, 60, 0.5, '{\"A\": \"1.00\"}')".to_owned(),
        format!("INSERT INTO warehouses (id, name, operator_org_id, address, kind, breach_grace_minutes) \
                 VALUES ('00000000-0000-0000-0000-0000000000aa', 'Bench store', '{o}', 'Yantai', 'cold_storage', 30)"),
        "INSERT INTO storage_rates VALUES ('00000000-0000-0000-0000-0000000000aa', 'APPLE', 0.004, 'CNY')".to_owned(),
        "INSERT INTO prices (commodity_code, price_per_unit, currency, as_of, source) \
         VALUES ('APPLE', 6.00, 'CNY', date_trunc('day', now()), 'bench')".to_owned(),
        format!("INSERT INTO facilities (id, lender_org_id, supplier_org_id, currency, limit_amount, advance_rate, \
                 annual_interest_rate, margin_call_ltv, liquidation_ltv, cure_period_days, max_tenor_days, eligible_commodities) \
                 VALUES ('00000000-0000-0000-0000-0000000000fa', '{l}', '{s}', 'CNY', 1e15, 0.5, 0.08, 0.65, 0.8, 3, 365, '{{APPLE}}')"),
        format!("INSERT INTO lots (id, code, owner_org_id, commodity_code, grade, declared_grade, unit, status, quantity_announced, \
                 quantity_on_hand, quantity_pledged, quantity_reserved, quantity_sold, warehouse_id, packed_on, expires_on) \
                 SELECT md5('lot' || i)::uuid, 'S' || i, '{s}', 'APPLE', 'A', 'A', 'kg', 'in_custody', 1000, 1000, 1000, 1000, 1000, \
                        '00000000-0000-0000-0000-0000000000aa', current_date, current_date + 180 \
                 FROM generate_series(1, {sales}) i"),
        format!("INSERT INTO loans (id, facility_id, lender_org_id, supplier_org_id, currency, principal, outstanding_principal, \
                 annual_interest_rate, status, disbursed_on, accrued_through, maturity_date, collateral_value, ltv) \
                 SELECT md5('loan' || i)::uuid, '00000000-0000-0000-0000-0000000000fa', '{l}', '{s}', 'CNY', 2500, 2500, \
                        0.08, 'active', current_date, current_date, current_date + 365, 6000, 0.416667 \
                 FROM generate_series(1, {sales}) i"),
        format!("INSERT INTO pledges (loan_id, lot_id, quantity, market_value) \
                 SELECT md5('loan' || i)::uuid, md5('lot' || i)::uuid, 1000, 6000 FROM generate_series(1, {sales}) i"),
        format!("INSERT INTO sales (id, supplier_org_id, buyer_org_id, currency, total) \
                 SELECT md5('sale' || i)::uuid, '{s}', '{b}', 'CNY', 6000 FROM generate_series(1, {sales}) i ORDER BY i"),
        format!("INSERT INTO sale_lines (sale_id, line_no, lot_id, quantity, unit_price, amount) \
                 SELECT md5('sale' || i)::uuid, 1, md5('lot' || i)::uuid, 1000, 6, 6000 FROM generate_series(1, {sales}) i"),
        // The business day is closed, so the server's scheduler has nothing to do.
        "INSERT INTO daily_closes (business_date) VALUES ((now() AT TIME ZONE 'UTC')::date)".to_owned(),
        "SET session_replication_role = origin".to_owned(),
        "SELECT exposure_rebuild()".to_owned(),
        "VACUUM ANALYZE".to_owned(),
    ] {
        run(&mut conn, &sql).await?;
    }
    let ids: Vec<Uuid> = {
        use diesel::QueryDsl;
        use holdfast::db::schema::sales;
        sales::table
            .order(sales::seq)
            .select(sales::id)
            .load(&mut conn)
            .await?
    };
    Ok(World {
        sales: ids,
        buyer_email,
        buyer_user: user.id,
        platform: platform.id,
        supplier: s,
        lender: l,
        buyer: b,
    })
}

/// The writes of one paid-and-settled sale, in one transaction, for pgbench: the idempotency
/// key, the sale locked, the payment entry into escrow, the loan and lot locked, the loan
/// repaid and closed with no collateral left (one write, as the service does), the pledge
/// released — real changes, so that the triggers that keep the exposure figures do the work
/// they do for a real settlement — the release order, the settlement entry (platform,
/// supplier, lender lines), the settlement rows, the audit and outbox events. Each
/// transaction takes the next sale nobody has settled yet (`pgbench_sales`, a sequence the
/// bench starts after the service's last), so none of them finds its writes already done.
fn pgbench_script(w: &World) -> String {
    let (p, s, l, b, u) = (w.platform, w.supplier, w.lender, w.buyer, w.buyer_user);
    format!(
        r#"\set k random(1, 1000000000)
BEGIN;
SELECT pg_try_advisory_xact_lock(hashtextextended('idempotency/{u}/pgbench-' || :client_id || '-' || :k, 0));
SELECT request_hash, response_status, response_body FROM idempotency_keys WHERE user_id = '{u}' AND idempotency_key = 'pgbench-' || :client_id || '-' || :k;
SELECT s.id AS sale, sl.lot_id AS lot, p.loan_id AS loan, gen_random_uuid() AS pay, gen_random_uuid() AS settle FROM sales s JOIN sale_lines sl ON sl.sale_id = s.id JOIN pledges p ON p.lot_id = sl.lot_id WHERE s.seq = (SELECT nextval('pgbench_sales')) FOR UPDATE OF s \gset
INSERT INTO ledger_accounts (org_id, kind, currency) VALUES ('{b}', 'cash', 'CNY'), ('{p}', 'escrow', 'CNY') ON CONFLICT DO NOTHING;
SELECT id, org_id, kind FROM ledger_accounts WHERE org_id IN ('{b}', '{p}') AND currency = 'CNY';
INSERT INTO journal_entries (id, kind, memo, business_date, sale_id, created_by) VALUES (':pay', 'sale_payment', 'pgbench', current_date, ':sale', '{u}');
INSERT INTO journal_lines (entry_id, account_id, currency, amount) SELECT ':pay', a.id, 'CNY', v.amount FROM (VALUES ('{b}'::uuid, 'cash', -6000.00), ('{p}'::uuid, 'escrow', 6000.00)) v(org, kind, amount) JOIN ledger_accounts a ON a.org_id = v.org AND a.kind = v.kind AND a.currency = 'CNY';
INSERT INTO sale_payments (id, sale_id, amount, paid_by, journal_entry_id) VALUES (gen_random_uuid(), ':sale', 6000, '{u}', ':pay');
UPDATE sales SET paid = total WHERE id = ':sale';
SELECT id FROM loans WHERE id = ':loan' FOR UPDATE;
SELECT * FROM lots WHERE id = ':lot' FOR UPDATE;
UPDATE loans SET outstanding_principal = 0, interest_paid = interest_paid, status = 'repaid', repaid_at = now(), repaid_on = current_date, collateral_value = 0, ltv = NULL, revalued_at = now() WHERE id = ':loan';
UPDATE pledges SET quantity = 0 WHERE loan_id = ':loan' AND lot_id = ':lot';
UPDATE lots SET quantity_pledged = 0, updated_at = now() WHERE id = ':lot';
UPDATE lots SET quantity_sold = 0, updated_at = now() WHERE id = ':lot';
INSERT INTO release_orders (id, lot_id, kind, quantity, sale_id) VALUES (gen_random_uuid(), ':lot', 'sale', 1000, ':sale');
INSERT INTO ledger_accounts (org_id, kind, currency) VALUES ('{p}', 'cash', 'CNY'), ('{p}', 'fee_income', 'CNY'), ('{s}', 'fee_expense', 'CNY'), ('{s}', 'cash', 'CNY'), ('{s}', 'loans_payable', 'CNY'), ('{l}', 'cash', 'CNY'), ('{l}', 'loans_receivable', 'CNY') ON CONFLICT DO NOTHING;
SELECT id, org_id, kind FROM ledger_accounts WHERE org_id IN ('{p}', '{s}', '{l}') AND currency = 'CNY';
INSERT INTO journal_entries (id, kind, memo, business_date, sale_id, created_by) VALUES (':settle', 'settlement', 'pgbench', current_date, ':sale', '{u}');
INSERT INTO journal_lines (entry_id, account_id, currency, amount) SELECT ':settle', a.id, 'CNY', v.amount FROM (VALUES ('{p}'::uuid, 'escrow', -6000.00), ('{p}'::uuid, 'cash', 120.00), ('{p}'::uuid, 'fee_income', -120.00), ('{s}'::uuid, 'fee_expense', 120.00), ('{s}'::uuid, 'cash', 3380.00), ('{l}'::uuid, 'cash', 2500.00), ('{l}'::uuid, 'loans_receivable', -2500.00), ('{s}'::uuid, 'loans_payable', 2500.00)) v(org, kind, amount) JOIN ledger_accounts a ON a.org_id = v.org AND a.kind = v.kind AND a.currency = 'CNY';
INSERT INTO settlements (sale_id, business_date, gross, fee, fee_detail, loan_fees_repaid, interest_repaid, principal_repaid, to_supplier, journal_entry_id) VALUES (':sale', current_date, 6000, 120, '{{}}', 0, 0, 2500, 3380, ':settle') ON CONFLICT DO NOTHING;
INSERT INTO settlement_loans (sale_id, loan_id, quantity_released, fees, interest, principal) SELECT ':sale', ':loan', 1000, 0, 0, 2500 WHERE EXISTS (SELECT 1 FROM settlements WHERE sale_id = ':sale') ON CONFLICT DO NOTHING;
UPDATE sales SET status = 'settled', settled_at = now() WHERE id = ':sale';
INSERT INTO audit_events (actor_user_id, actor_org_id, org_ids, action, object_kind, object_id, before, after) VALUES ('{u}', '{b}', ARRAY['{s}'::uuid, '{b}'::uuid, '{l}'::uuid], 'sale.settled', 'sale', ':sale', '{{}}', '{{}}'), ('{u}', '{b}', ARRAY['{s}'::uuid, '{b}'::uuid], 'sale.payment', 'sale', ':sale', '{{}}', '{{}}');
INSERT INTO outbox_events (org_ids, event_type, payload) VALUES (ARRAY['{s}'::uuid, '{b}'::uuid, '{l}'::uuid], 'sale.settled', '{{"object_kind": "sale"}}'), (ARRAY['{s}'::uuid, '{b}'::uuid], 'sale.payment', '{{"object_kind": "sale"}}');
INSERT INTO idempotency_keys (user_id, idempotency_key, request_hash, response_status, response_body) VALUES ('{u}', 'pgbench-' || :client_id || '-' || :k, '\x00', 201, '\x00') ON CONFLICT DO NOTHING;
COMMIT;
"#
    )
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let seconds = env_number("BENCH_SECONDS", 15);
    let sales = env_number("BENCH_SALES", 20_000);
    let (cluster, url) = harness::cluster(
        "settle",
        &[("max_connections", "200"), ("shared_buffers", "256MB")],
    )
    .await?;
    let seeding = Instant::now();
    let world = seed(&url, sales).await?;
    println!(
        "seeded {sales} pending sales of pledged lots, one lender, in {:.1} s",
        seeding.elapsed().as_secs_f64()
    );
    // The service's default pool (`HOLDFAST_POOL_SIZE`, 16; `BENCH_POOL` to try others).
    let server = Server::start(&url, 16).await?;
    let token = server.login(&world.buyer_email).await?;
    let ids = Arc::new(world.sales.clone());
    let next = Arc::new(AtomicUsize::new(0));
    let mut at_32 = None;
    for clients in [1, 32] {
        let (base, token, ids) = (server.base.clone(), token.clone(), ids.clone());
        let pay = move |client: reqwest::Client, index: usize| {
            let (base, token, sale) = (base.clone(), token.clone(), ids[index]);
            async move {
                let response = client
                    .post(format!("{base}/v1/sales/{sale}/payments"))
                    .bearer_auth(&token)
                    .header("Idempotency-Key", format!("bench-{index}"))
                    .json(&json!({"amount": "6000.00"}))
                    .send()
                    .await;
                match response {
                    Ok(r) if r.status().as_u16() == 201 => {
                        let body: serde_json::Value = r.json().await.unwrap_or_default();
                        body["sale"]["status"] == "settled"
                    }
                    _ => false,
                }
            }
        };
        harness::profile_reset(&url).await?;
        let waits = harness::WaitSampler::start(&url).await?;
        let level = harness::drive(clients, seconds, world.sales.len(), next.clone(), pay).await;
        waits.report(&format!("holdfast, {clients} clients")).await;
        harness::profile_report(&url, &format!("holdfast, {clients} clients")).await?;
        level.print("settlements");
        if clients == 32 {
            at_32 = Some(level);
        }
    }
    if let Some(kib) = server.peak_rss_kib() {
        println!("server peak RSS: {:.1} MB", kib as f64 / 1024.0);
    }
    drop(server);
    println!(
        "books balanced after the run: {}",
        harness::books_balanced(&url).await?
    );
    let script = pgbench_script(&world);
    {
        let mut conn = db::connect(&url).await?;
        let first =
            std::sync::atomic::AtomicUsize::load(&next, std::sync::atomic::Ordering::SeqCst) + 1;
        run(
            &mut conn,
            &format!("CREATE SEQUENCE pgbench_sales START {first}"),
        )
        .await?;
    }
    harness::profile_reset(&url).await?;
    let waits = harness::WaitSampler::start(&url).await?;
    let tps = harness::pgbench(&cluster, &url, "settle", &script, 32, seconds)?;
    waits.report("pgbench, 32 clients").await;
    harness::profile_report(&url, "pgbench, 32 clients").await?;
    if let Some(level) = at_32 {
        println!(
            "ratio at 32 clients: {:.2} of the pgbench ceiling; holdfast p99 {:.1} ms",
            level.per_second / tps,
            harness::ms(level.p99)
        );
    }
    drop(cluster);
    Ok(())
}
