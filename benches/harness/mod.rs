//! What the benches share: a private PostgreSQL with a migrated `bench` database, the release
//! `holdfast serve` binary started against it, a login, concurrent HTTP clients that report
//! throughput and latency percentiles, pgbench as the ceiling, and the books-balance check.
//! Each bench includes it with `#[path = "harness/mod.rs"] mod harness;`.

#![allow(dead_code)]

use diesel_async::RunQueryDsl;
use holdfast::db::{self, embedded::EmbeddedPostgres};
use serde_json::json;
use std::future::Future;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub const PASSWORD: &str = "bench-password-123";
pub const SECRET: &str = "bench-secret-bench-secret-bench-secret-00";

pub fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The value below which a share `p` of the sorted durations fall.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

pub fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// A private, durable cluster (removed when dropped) with the `bench` database migrated;
/// answers the cluster and the database's URL.
pub async fn cluster(
    name: &str,
    settings: &[(&str, &str)],
) -> anyhow::Result<(EmbeddedPostgres, String)> {
    let dir = std::env::temp_dir().join(format!("holdfast-bench-{name}-{}", std::process::id()));
    let mut settings: Vec<(String, String)> = settings
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let mut preload = Vec::new();
    if profiling() {
        preload.push("pg_stat_statements");
        settings.push(("pg_stat_statements.track".into(), "all".into()));
        settings.push(("pg_stat_statements.track_planning".into(), "on".into()));
    }
    if let Some(ms) = explaining() {
        // Every statement slower than `ms`, nested ones too, logged with its plan as it ran.
        let plans = std::env::temp_dir().join("holdfast-bench-plans");
        std::fs::create_dir_all(&plans)?;
        std::fs::set_permissions(&plans, std::os::unix::fs::PermissionsExt::from_mode(0o1777))?;
        preload.push("auto_explain");
        for (k, v) in [
            ("auto_explain.log_min_duration", ms.to_string()),
            ("auto_explain.log_analyze", "on".into()),
            ("auto_explain.log_buffers", "on".into()),
            ("auto_explain.log_nested_statements", "on".into()),
            // The parse, bind and execute steps of a prepared statement each logged with its
            // duration: a plan made on first use shows up as a slow bind.
            ("log_min_duration_statement", ms.to_string()),
            ("logging_collector", "on".into()),
            ("log_directory", plans.display().to_string()),
            ("log_filename", format!("{name}-%H%M%S.log")),
        ] {
            settings.push((k.into(), v));
        }
        println!(
            "plans of statements over {ms} ms: {}/{name}-*.log",
            plans.display()
        );
    }
    if !preload.is_empty() {
        settings.push(("shared_preload_libraries".into(), preload.join(",")));
    }
    let cluster = EmbeddedPostgres::start(
        &dir,
        &db::embedded::Options {
            settings,
            remove_on_stop: true,
        },
    )?;
    let url = cluster.url("bench");
    db::create_database(&cluster.url("postgres"), "bench").await?;
    db::migrate(&url).await?;
    if let Ok(sql) = std::env::var("BENCH_SQL") {
        // Settings to try on the same binaries, e.g. a table's storage parameters.
        let mut conn = db::connect(&url).await?;
        for statement in sql.split(';').filter(|s| !s.trim().is_empty()) {
            diesel::sql_query(statement).execute(&mut conn).await?;
        }
        println!("ran BENCH_SQL after migrating: {sql}");
    }
    if profiling() {
        let mut conn = db::connect(&url).await?;
        for statement in [
            "CREATE EXTENSION pg_stat_statements",
            "CREATE EXTENSION pg_walinspect",
            "CREATE TABLE bench_wal_start (lsn pg_lsn NOT NULL)",
        ] {
            diesel::sql_query(statement).execute(&mut conn).await?;
        }
    }
    Ok((cluster, url))
}

/// `BENCH_PROFILE=1`: the cluster tracks every statement (nested ones too) and the benches
/// print where the database's time went and what its backends waited on.
pub fn profiling() -> bool {
    std::env::var("BENCH_PROFILE").is_ok_and(|v| v == "1")
}

/// `BENCH_EXPLAIN=<ms>`: the cluster logs the plan, as it ran, of every statement slower than
/// that (auto_explain), into files the bench names when it starts.
pub fn explaining() -> Option<u64> {
    std::env::var("BENCH_EXPLAIN").ok()?.parse().ok()
}

/// With `BENCH_PROFILE=1`, forgets the statistics gathered so far (seeding, earlier levels).
pub async fn profile_reset(url: &str) -> anyhow::Result<()> {
    if profiling() {
        let mut conn = db::connect(url).await?;
        diesel::sql_query("SELECT pg_stat_statements_reset()")
            .execute(&mut conn)
            .await?;
        for statement in [
            "SELECT pg_stat_reset_shared('wal'), pg_stat_reset_shared('bgwriter')",
            "DELETE FROM bench_wal_start",
            "INSERT INTO bench_wal_start SELECT pg_current_wal_insert_lsn()",
        ] {
            diesel::sql_query(statement).execute(&mut conn).await?;
        }
    }
    Ok(())
}

#[derive(diesel::QueryableByName)]
struct ProfileLine {
    #[diesel(sql_type = diesel::sql_types::Text)]
    line: String,
}

/// With `BENCH_PROFILE=1`, prints the statements that took the most time since the last reset.
pub async fn profile_report(url: &str, title: &str) -> anyhow::Result<()> {
    if !profiling() {
        return Ok(());
    }
    let mut conn = db::connect(url).await?;
    let lines: Vec<ProfileLine> = diesel::sql_query(
        "SELECT format('%10s ms %8s ms planning %8s calls %8s ms/call %6s rows/call  %s', \
                round(total_exec_time), round(total_plan_time), calls, \
                round((total_exec_time / nullif(calls, 0))::numeric, 3), round(rows::numeric / nullif(calls, 0), 1), \
                CASE WHEN toplevel THEN '' ELSE '(nested) ' END || left(regexp_replace(query, '\\s+', ' ', 'g'), 150)) AS line \
         FROM pg_stat_statements WHERE query NOT LIKE '%pg_stat_%' \
         ORDER BY total_exec_time DESC LIMIT 40",
    )
    .load(&mut conn)
    .await?;
    println!("-- profile: {title} (time in the database, nested statements included)");
    for l in lines {
        println!("{}", l.line);
    }
    // How much WAL the level wrote, how much of it full-page images, and the checkpoints
    // that ran meanwhile (each makes the next change of every page log the whole page).
    let wal: Vec<ProfileLine> = diesel::sql_query(
        "SELECT format('WAL: %s records, %s full-page images, %s bytes (%s); checkpoints %s timed, %s requested', \
                w.wal_records, w.wal_fpi, w.wal_bytes, pg_size_pretty(w.wal_bytes), \
                b.checkpoints_timed, b.checkpoints_req) AS line \
         FROM pg_stat_wal w, pg_stat_bgwriter b",
    )
    .load(&mut conn)
    .await?;
    for l in wal {
        println!("{}", l.line);
    }
    // The WAL by the relation its records change (a record naming several blocks counts
    // for the first): which tables and indexes the level's writes cost.
    let by_relation: Vec<ProfileLine> = diesel::sql_query(
        "WITH r AS ( \
             SELECT (regexp_match(block_ref, 'rel \\d+/\\d+/(\\d+)'))[1]::oid AS node, record_length, fpi_length \
             FROM pg_get_wal_records_info((SELECT lsn FROM bench_wal_start), pg_current_wal_flush_lsn())) \
         SELECT format('%12s bytes %8s records %10s fpi bytes  %s', sum(record_length), count(*), \
                       sum(fpi_length), coalesce(c.relname, r.node::text, '(no relation)')) AS line \
         FROM r LEFT JOIN pg_class c ON c.relfilenode = r.node \
         GROUP BY coalesce(c.relname, r.node::text, '(no relation)') ORDER BY sum(record_length) DESC LIMIT 25",
    )
    .load(&mut conn)
    .await?;
    for l in by_relation {
        println!("{}", l.line);
    }
    Ok(())
}

/// With `BENCH_PROFILE=1`, samples what the cluster's active backends wait on every 5 ms until
/// the answer is dropped, then prints the counts.
pub struct WaitSampler {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<Vec<(String, u64)>>>,
    cpu: std::collections::BTreeMap<String, u64>,
    started: Instant,
}

/// CPU time (clock ticks) used so far by the live processes of the machine, by command name.
fn cpu_by_command() -> std::collections::BTreeMap<String, u64> {
    let mut by = std::collections::BTreeMap::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return by;
    };
    for entry in dir.flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let comm = stat[open + 1..close].to_owned();
        let fields: Vec<&str> = stat[close + 2..].split(' ').collect();
        // utime and stime are the 14th and 15th fields; `fields` starts at the 3rd.
        let ticks: u64 = fields
            .get(11..13)
            .map(|f| f.iter().filter_map(|v| v.parse::<u64>().ok()).sum())
            .unwrap_or(0);
        *by.entry(comm).or_default() += ticks;
    }
    by
}

#[derive(diesel::QueryableByName)]
struct Waiting {
    #[diesel(sql_type = diesel::sql_types::Text)]
    what: String,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

impl WaitSampler {
    pub async fn start(url: &str) -> anyhow::Result<Self> {
        if !profiling() {
            return Ok(Self {
                stop: None,
                task: None,
                cpu: Default::default(),
                started: Instant::now(),
            });
        }
        let mut conn = db::connect(url).await?;
        let (stop, mut stopped) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(async move {
            let mut counts: std::collections::BTreeMap<String, u64> = Default::default();
            loop {
                if stopped.try_recv().is_ok() {
                    break;
                }
                let rows: Vec<Waiting> = diesel::sql_query(
                    "SELECT coalesce(wait_event_type || ':' || wait_event, 'CPU') AS what, count(*) AS n \
                     FROM pg_stat_activity WHERE state = 'active' AND pid <> pg_backend_pid() \
                     AND backend_type = 'client backend' GROUP BY 1",
                )
                .load(&mut conn)
                .await
                .unwrap_or_default();
                for r in rows {
                    *counts.entry(r.what).or_default() += r.n as u64;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            let mut counts: Vec<(String, u64)> = counts.into_iter().collect();
            counts.sort_by_key(|c| std::cmp::Reverse(c.1));
            counts
        });
        Ok(Self {
            stop: Some(stop),
            task: Some(task),
            cpu: cpu_by_command(),
            started: Instant::now(),
        })
    }

    pub async fn report(mut self, title: &str) {
        let (Some(stop), Some(task)) = (self.stop.take(), self.task.take()) else {
            return;
        };
        let _ = stop.send(());
        let seconds = self.started.elapsed().as_secs_f64();
        let mut used: Vec<(String, u64)> = cpu_by_command()
            .into_iter()
            .map(|(comm, ticks)| {
                let before = self.cpu.get(&comm).copied().unwrap_or(0);
                (comm, ticks.saturating_sub(before))
            })
            .filter(|(_, ticks)| *ticks > 0)
            .collect();
        used.sort_by_key(|u| std::cmp::Reverse(u.1));
        println!(
            "-- cpu: {title} (cores busy over {seconds:.1} s, by command; 100 ticks a second)"
        );
        for (comm, ticks) in used.iter().take(6) {
            println!("{:6.2}  {comm}", *ticks as f64 / 100.0 / seconds);
        }
        if let Ok(counts) = task.await {
            let total: u64 = counts.iter().map(|c| c.1).sum::<u64>().max(1);
            println!("-- waits: {title} (share of active backend samples)");
            for (what, n) in counts.iter().take(15) {
                println!("{:6.1}%  {what}", *n as f64 * 100.0 / total as f64);
            }
        }
    }
}

/// The release `holdfast serve` binary on a free port, stopped when dropped.
pub struct Server {
    child: Child,
    pub base: String,
}

impl Server {
    /// Starts the server against `url` with `pool` connections (`BENCH_POOL` overrides it) and
    /// waits until it is ready.
    pub async fn start(url: &str, pool: u32) -> anyhow::Result<Self> {
        let pool = env_number("BENCH_POOL", pool.into());
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let child = Command::new(env!("CARGO_BIN_EXE_holdfast"))
            .arg("serve")
            .env("DATABASE_URL", url)
            .env("HOLDFAST_BIND", format!("127.0.0.1:{port}"))
            .env("HOLDFAST_JWT_SECRET", SECRET)
            .env("HOLDFAST_POOL_SIZE", pool.to_string())
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let server = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
        };
        let client = reqwest::Client::new();
        let started = Instant::now();
        while client
            .get(format!("{}/readyz", server.base))
            .send()
            .await
            .map(|r| r.status().as_u16())
            .ok()
            != Some(200)
        {
            anyhow::ensure!(
                started.elapsed() < Duration::from_secs(30),
                "the server did not start"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(server)
    }

    /// The bearer token of a seeded user (password [`PASSWORD`]).
    pub async fn login(&self, email: &str) -> anyhow::Result<String> {
        let login: serde_json::Value = reqwest::Client::new()
            .post(format!("{}/v1/auth/login", self.base))
            .json(&json!({"email": email, "password": PASSWORD}))
            .send()
            .await?
            .json()
            .await?;
        login["access_token"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| anyhow::anyhow!("login failed: {login}"))
    }

    /// The server's peak resident memory so far, in KiB.
    pub fn peak_rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        status
            .lines()
            .find(|l| l.starts_with("VmHWM:"))?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

/// What one level of concurrency achieved.
pub struct Level {
    pub clients: usize,
    pub done: usize,
    pub per_second: f64,
    pub p50: Duration,
    pub p99: Duration,
    pub failures: usize,
}

impl Level {
    pub fn print(&self, unit: &str) {
        println!(
            "holdfast  clients={:>2}  done={:>6}  {:>7.1} {unit}/s  p50={:>7.2} ms  p99={:>7.2} ms  failures={}",
            self.clients,
            self.done,
            self.per_second,
            ms(self.p50),
            ms(self.p99),
            self.failures
        );
    }
}

/// Runs `clients` concurrent clients for `seconds` (or until `work` items run out), each
/// taking the next item index from `next` and calling `request`, which answers whether the
/// item succeeded. Latencies count successes only.
pub async fn drive<F, Fut>(
    clients: usize,
    seconds: u64,
    work: usize,
    next: Arc<AtomicUsize>,
    request: F,
) -> Level
where
    F: Fn(reqwest::Client, usize) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = bool> + Send,
{
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (next, request) = (next.clone(), request.clone());
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            // Each success: when it ended (since the level began) and how long it took.
            let mut done = Vec::new();
            let mut failures = 0;
            while Instant::now() < deadline {
                let index = next.fetch_add(1, Ordering::Relaxed);
                if index >= work {
                    break;
                }
                let sent = Instant::now();
                if request(client.clone(), index).await {
                    done.push((started.elapsed(), sent.elapsed()));
                } else {
                    failures += 1;
                }
            }
            (done, failures)
        }));
    }
    let mut timeline = Vec::new();
    let mut failures = 0;
    for task in tasks {
        if let Ok((mut d, f)) = task.await {
            timeline.append(&mut d);
            failures += f;
        }
    }
    let elapsed = started.elapsed();
    if std::env::var("BENCH_TIMELINE").is_ok_and(|v| v == "1") {
        print_timeline(&mut timeline);
    }
    let mut latencies: Vec<Duration> = timeline.iter().map(|(_, took)| *took).collect();
    latencies.sort();
    Level {
        clients,
        done: latencies.len(),
        per_second: latencies.len() as f64 / elapsed.as_secs_f64(),
        p50: percentile(&latencies, 0.50),
        p99: percentile(&latencies, 0.99),
        failures,
    }
}

/// `BENCH_TIMELINE=1`: for each quarter second of a level, the requests that ended in it, their
/// p50 and the slowest, to see whether a p99 comes from stalls (a burst of slow requests at
/// one moment) or from a wide spread at every moment.
fn print_timeline(timeline: &mut [(Duration, Duration)]) {
    let quarter = |(ended, _): &(Duration, Duration)| ended.as_millis() / 250;
    timeline.sort();
    for part in timeline.chunk_by(|a, b| quarter(a) == quarter(b)) {
        let mut took: Vec<Duration> = part.iter().map(|(_, took)| *took).collect();
        took.sort();
        println!(
            "  {:>6} ms  done={:>4}  p50={:>6.1} ms  max={:>6.1} ms",
            quarter(&part[0]) * 250,
            took.len(),
            ms(percentile(&took, 0.5)),
            ms(*took.last().unwrap_or(&Duration::ZERO))
        );
    }
}

/// Runs pgbench with `script` at `clients` clients for `seconds` against the bench database;
/// prints its rate, p50 and p99 and answers its transactions per second.
pub fn pgbench(
    cluster: &EmbeddedPostgres,
    url: &str,
    name: &str,
    script: &str,
    clients: u32,
    seconds: u64,
) -> anyhow::Result<f64> {
    // Beside, not inside, the cluster's directory, which its watchdog removes.
    let path =
        std::env::temp_dir().join(format!("holdfast-bench-{name}-{}.sql", std::process::id()));
    std::fs::write(&path, script)?;
    let pgbench = db::embedded::find_server_binaries()?.join("pgbench");
    // Every transaction's latency, to give pgbench's p50 and p99 beside the service's.
    let logs = std::env::temp_dir().join(format!(
        "holdfast-bench-{name}-{}-latencies",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&logs);
    std::fs::create_dir_all(&logs)?;
    let output = Command::new(pgbench)
        .args(["-n", "-c", &clients.to_string(), "-j", "2", "-r", "-l"])
        .arg(format!("--log-prefix={}", logs.join("tx").display()))
        .args(["-T", &seconds.to_string(), "-h", "127.0.0.1"])
        .args(["-p", &cluster.port().to_string(), "-U", "holdfast", "-f"])
        .arg(&path)
        .arg("bench")
        .env(
            "PGPASSWORD",
            url.split(':')
                .nth(2)
                .and_then(|s| s.split('@').next())
                .unwrap_or(""),
        )
        .output();
    let _ = std::fs::remove_file(&path);
    let output = output?;
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
    let mut latencies = transaction_latencies(&logs);
    let _ = std::fs::remove_dir_all(&logs);
    latencies.sort();
    let latency = format!(
        "p50={:>6.1} ms  p99={:>6.1} ms",
        ms(percentile(&latencies, 0.50)),
        ms(percentile(&latencies, 0.99))
    );
    println!("pgbench   clients={clients:>2}  {tps:>7.1} tx/s  {latency}");
    Ok(tps)
}

/// The latency of every transaction in pgbench's per-transaction logs (`-l`): the third field
/// of each line, in microseconds.
fn transaction_latencies(dir: &std::path::Path) -> Vec<Duration> {
    let mut latencies = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
        latencies.extend(
            text.lines()
                .filter_map(|l| l.split_whitespace().nth(2)?.parse().ok())
                .map(Duration::from_micros),
        );
    }
    latencies
}

/// Whether every currency's journal lines sum to zero.
pub async fn books_balanced(url: &str) -> anyhow::Result<bool> {
    #[derive(diesel::QueryableByName)]
    struct Check {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        balanced: bool,
    }
    let mut conn = db::connect(url).await?;
    let check: Check = diesel::sql_query(
        "SELECT coalesce(bool_and(t = 0), true) AS balanced \
         FROM (SELECT sum(amount) AS t FROM journal_lines GROUP BY currency) s",
    )
    .get_result(&mut conn)
    .await?;
    Ok(check.balanced)
}
