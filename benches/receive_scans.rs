//! Receive scans per second, end to end over HTTP, against the same SQL run by pgbench.
//!
//! `cargo bench --bench receive_scans` starts a private PostgreSQL (durable settings:
//! `synchronous_commit` and `fsync` on), seeds 100,000 announced lots, starts the release
//! `holdfast serve` binary, and drives receive scans at 1, 8 and 32 concurrent clients,
//! reporting throughput and p50/p99 latency. It then runs `pgbench` with a script issuing the
//! statements one receive scan issues, at 32 clients, as the ceiling, and reports the server's
//! peak resident memory. Environment: `BENCH_SECONDS` per level (default 15), `BENCH_LOTS`
//! (default 100000).

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use holdfast::auth::{OrgKind, Permission, Role};
use holdfast::db::{self, embedded::EmbeddedPostgres};
use holdfast::domain::lot_code::LotCode;
use serde_json::json;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const PASSWORD: &str = "bench-password-123";
const SECRET: &str = "bench-secret-bench-secret-bench-secret-00";

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

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
    for chunk in 0..lots.div_ceil(5000) {
        let rows: Vec<_> = (0..5000.min(lots - chunk * 5000))
            .map(|_| {
                let code = LotCode::generate().to_string();
                codes.push(code.clone());
                (
                    l::id.eq(uuid::Uuid::new_v4()),
                    l::code.eq(code),
                    l::owner_org_id.eq(supplier.id),
                    l::commodity_code.eq("APPLE"),
                    l::grade.eq("A"),
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

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

struct Level {
    clients: usize,
    scans: usize,
    per_second: f64,
    p50: Duration,
    p99: Duration,
    failures: usize,
}

async fn drive(
    base: &str,
    token: &str,
    codes: Arc<Vec<String>>,
    next: Arc<AtomicUsize>,
    clients: usize,
    seconds: u64,
) -> Level {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (base, token, codes, next) = (
            base.to_owned(),
            token.to_owned(),
            codes.clone(),
            next.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut latencies = Vec::new();
            let mut failures = 0;
            while Instant::now() < deadline {
                let index = next.fetch_add(1, Ordering::Relaxed);
                let Some(code) = codes.get(index) else { break };
                let sent = Instant::now();
                let response = client
                    .post(format!("{base}/v1/scans"))
                    .bearer_auth(&token)
                    .header("Idempotency-Key", format!("bench-{index}"))
                    .json(&json!({"code": code, "action": "receive"}))
                    .send()
                    .await;
                match response {
                    Ok(r) if r.status().as_u16() == 200 => {
                        let _ = r.bytes().await;
                        latencies.push(sent.elapsed());
                    }
                    _ => failures += 1,
                }
            }
            (latencies, failures)
        }));
    }
    let mut latencies = Vec::new();
    let mut failures = 0;
    for task in tasks {
        let (mut l, f) = task.await.expect("client task");
        latencies.append(&mut l);
        failures += f;
    }
    let elapsed = started.elapsed();
    latencies.sort();
    Level {
        clients,
        scans: latencies.len(),
        per_second: latencies.len() as f64 / elapsed.as_secs_f64(),
        p50: percentile(&latencies, 0.50),
        p99: percentile(&latencies, 0.99),
        failures,
    }
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
SELECT id FROM lots WHERE (warehouse_id IN (SELECT id FROM warehouses WHERE operator_org_id = '{org}') OR voyage_id IN (SELECT id FROM voyages WHERE carrier_org_id = '{org}' OR destination_warehouse_id IN (SELECT id FROM warehouses WHERE operator_org_id = '{org}'))) AND seq = :n LIMIT 1;
SELECT * FROM lots WHERE seq = :n FOR UPDATE;
SELECT * FROM storage_rates WHERE warehouse_id = '{warehouse}' AND commodity_code = 'APPLE';
UPDATE lots SET received_at = now(), storage_rate_per_unit_day = 0.004, storage_currency = 'CNY' WHERE seq = :n;
UPDATE lots SET quantity_on_hand = quantity_on_hand + 0, status = 'in_custody', warehouse_id = '{warehouse}', voyage_id = NULL, updated_at = now() WHERE seq = :n RETURNING *;
INSERT INTO movements (lot_id, kind, quantity_change, quantity_after, status_after, warehouse_id, details, actor_user_id) SELECT id, 'receive', 0, quantity_on_hand, 'in_custody', warehouse_id, '{{"variance": "0"}}', '{user}' FROM lots WHERE seq = :n;
SELECT * FROM lots WHERE seq = :n;
SELECT DISTINCT warehouse_id FROM breaches WHERE warehouse_id = '{warehouse}' AND acknowledged_at IS NULL;
INSERT INTO outbox_events (org_ids, event_type, payload) VALUES (ARRAY['{org}'::uuid], 'lot.received', '{{"object_kind": "lot"}}');
INSERT INTO audit_events (actor_user_id, actor_org_id, org_ids, action, object_kind, object_id, before, after) VALUES ('{user}', '{org}', ARRAY['{org}'::uuid], 'lot.received', 'lot', :n, '{{}}', '{{}}');
INSERT INTO idempotency_keys (user_id, idempotency_key, request_hash, response_status, response_body) VALUES ('{user}', 'pgbench-' || :client_id || '-' || :k, '\x00', 200, '\x00') ON CONFLICT DO NOTHING;
COMMIT;
"#,
        lots = world.codes.len(),
        user = world.user_id,
        org = world.operator_org,
        warehouse = world.warehouse,
    )
}

fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let seconds = env_number("BENCH_SECONDS", 15);
    let lots = env_number("BENCH_LOTS", 100_000) as usize;
    let dir = std::env::temp_dir().join(format!("holdfast-bench-{}", std::process::id()));
    let cluster = EmbeddedPostgres::start(
        &dir,
        &db::embedded::Options {
            settings: vec![
                ("max_connections".into(), "200".into()),
                ("shared_buffers".into(), "256MB".into()),
            ],
            remove_on_stop: true,
        },
    )?;
    let url = cluster.url("bench");
    db::create_database(&cluster.url("postgres"), "bench").await?;
    db::migrate(&url).await?;
    let seeding = Instant::now();
    let world = seed(&url, lots).await?;
    println!(
        "seeded {lots} announced lots in {:.1} s",
        seeding.elapsed().as_secs_f64()
    );

    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let mut server = Command::new(env!("CARGO_BIN_EXE_holdfast"))
        .arg("serve")
        .env("DATABASE_URL", &world.url)
        .env("HOLDFAST_BIND", format!("127.0.0.1:{port}"))
        .env("HOLDFAST_JWT_SECRET", SECRET)
        .env("HOLDFAST_POOL_SIZE", "40")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let client = reqwest::Client::new();
    let ready = Instant::now();
    while client
        .get(format!("{base}/readyz"))
        .send()
        .await
        .map(|r| r.status().as_u16())
        .ok()
        != Some(200)
    {
        anyhow::ensure!(
            ready.elapsed() < Duration::from_secs(30),
            "the server did not start"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let login: serde_json::Value = client
        .post(format!("{base}/v1/auth/login"))
        .json(&json!({"email": world.operator_email, "password": PASSWORD}))
        .send()
        .await?
        .json()
        .await?;
    let token = login["access_token"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("login failed: {login}"))?
        .to_owned();
    let codes = Arc::new(world.codes.clone());
    let next = Arc::new(AtomicUsize::new(0));
    let mut levels = Vec::new();
    for clients in [1, 8, 32] {
        let level = drive(&base, &token, codes.clone(), next.clone(), clients, seconds).await;
        println!(
            "holdfast  clients={:>2}  scans={:>6}  {:>7.1} scans/s  p50={:>6.2} ms  p99={:>6.2} ms  failures={}",
            level.clients,
            level.scans,
            level.per_second,
            level.p50.as_secs_f64() * 1000.0,
            level.p99.as_secs_f64() * 1000.0,
            level.failures
        );
        levels.push(level);
    }
    let rss = peak_rss_kib(server.id());
    let _ = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status();
    let _ = server.wait();

    // Beside, not inside, the cluster's directory, which its watchdog removes.
    let script = std::env::temp_dir().join(format!("holdfast-bench-{}.sql", std::process::id()));
    std::fs::write(&script, pgbench_script(&world))?;
    let pgbench = db::embedded::find_server_binaries()?.join("pgbench");
    let port_pg = cluster.port().to_string();
    let output = Command::new(pgbench)
        .args([
            "-n",
            "-c",
            "32",
            "-j",
            "2",
            "-T",
            &seconds.to_string(),
            "-h",
            "127.0.0.1",
            "-p",
            &port_pg,
            "-U",
            "holdfast",
            "-f",
        ])
        .arg(&script)
        .arg("bench")
        .env(
            "PGPASSWORD",
            url.split(':')
                .nth(2)
                .and_then(|s| s.split('@').next())
                .unwrap_or(""),
        )
        .output()?;
    let text = String::from_utf8_lossy(&output.stdout);
    let tps: f64 = text
        .lines()
        .find(|l| l.starts_with("tps = "))
        .and_then(|l| l.split_whitespace().nth(2))
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| {
            anyhow::anyhow!(
                "pgbench failed: {text}{}",
                String::from_utf8_lossy(&output.stderr)
            )
        })?;
    let latency = text
        .lines()
        .find(|l| l.starts_with("latency average"))
        .unwrap_or("")
        .to_owned();
    println!("pgbench   clients=32  {tps:>7.1} tx/s  ({latency})");
    if let Some(at_32) = levels.iter().find(|l| l.clients == 32) {
        println!(
            "ratio at 32 clients: {:.2} of the pgbench ceiling",
            at_32.per_second / tps
        );
    }
    if let Some(kib) = rss {
        println!("server peak RSS: {:.1} MB", kib as f64 / 1024.0);
    }
    let _ = std::fs::remove_file(&script);
    drop(cluster);
    Ok(())
}
