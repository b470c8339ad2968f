//! Revaluation after one price change, against a bare UPDATE of the same rows, and the
//! lender's exposure read.
//!
//! `cargo bench --bench revaluation` starts a private PostgreSQL, seeds `BENCH_LOTS` lots
//! (default 1,000,000) in custody pledged to `BENCH_LOANS` active loans (default 100,000) of
//! one lender, then alternately (`BENCH_ROUNDS` rounds, default 3) posts a price change and
//! runs the set-based revaluation (`lending::revaluation::revalue`, every loan), and runs a bare
//! SQL UPDATE writing the same pledge and loan rows. It reports the medians and their ratio, then starts the
//! release `holdfast serve` binary and times `GET /v1/exposure` for the lender
//! (`BENCH_READS` requests, default 1,000, after one untimed first read; p50 and p99: of 50 reads
//! the p99 would be the slowest one, of 1,000 it is the tenth slowest).

#[path = "harness/mod.rs"]
mod harness;

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use harness::{PASSWORD, Server, env_number, median, percentile};
use holdfast::auth::{OrgKind, Permission, Role};
use holdfast::db;
use holdfast::lending::revaluation::{self, Scope};
use std::time::{Duration, Instant};

async fn run(conn: &mut AsyncPgConnection, sql: &str) -> anyhow::Result<()> {
    diesel::sql_query(sql).execute(conn).await?;
    Ok(())
}

/// The cluster's WAL and checkpoint counters, to tell what a timed step wrote and whether a
/// checkpoint ran during it.
#[derive(diesel::QueryableByName, Clone, Copy)]
struct WalMark {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    bytes: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    full_pages: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    checkpoints: i64,
}

impl WalMark {
    async fn now(conn: &mut AsyncPgConnection) -> anyhow::Result<Self> {
        // This backend's own counts reach the view when a transaction ends, at most once a
        // second unless forced (a step's last statement may have ended just before).
        run(conn, "SELECT pg_stat_force_next_flush()").await?;
        run(conn, "SELECT 1").await?;
        Ok(diesel::sql_query(
            "SELECT w.wal_bytes::bigint AS bytes, w.wal_fpi AS full_pages, \
                    (b.checkpoints_timed + b.checkpoints_req)::bigint AS checkpoints \
             FROM pg_stat_wal w, pg_stat_bgwriter b",
        )
        .get_result(conn)
        .await?)
    }

    /// "WAL n MB, f full-page images, c checkpoints" since `self`.
    async fn since(self, conn: &mut AsyncPgConnection) -> anyhow::Result<String> {
        let now = Self::now(conn).await?;
        Ok(format!(
            "WAL {} MB, {} full-page images, {} checkpoints",
            (now.bytes - self.bytes) / 1_000_000,
            now.full_pages - self.full_pages,
            now.checkpoints - self.checkpoints
        ))
    }
}

/// Both timed steps start from the same state: dead rows of the last step vacuumed away and a
/// checkpoint just done, so neither pays for the other's leftovers (dead rows to skip, the
/// full-page images the first change of each page after a checkpoint writes to the WAL).
async fn settle(conn: &mut AsyncPgConnection) -> anyhow::Result<()> {
    run(conn, "VACUUM pledges, loans").await?;
    run(conn, "CHECKPOINT").await
}

#[derive(diesel::QueryableByName)]
struct Unsealed {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// Waits (at most two minutes) until no audit event is left unsealed and no outbox event
/// unnumbered; answers how many there were when it started.
async fn caught_up(conn: &mut AsyncPgConnection) -> anyhow::Result<i64> {
    let count = async |conn: &mut AsyncPgConnection| -> anyhow::Result<i64> {
        let row: Unsealed = diesel::sql_query(
            "SELECT (SELECT count(*) FROM audit_events WHERE seq IS NULL) \
                    + (SELECT count(*) FROM outbox_events WHERE seq IS NULL) AS n",
        )
        .get_result(conn)
        .await?;
        Ok(row.n)
    };
    let first = count(conn).await?;
    let deadline = Instant::now() + Duration::from_secs(120);
    while count(conn).await? > 0 {
        anyhow::ensure!(
            Instant::now() < deadline,
            "the service did not seal the backlog in 2 minutes"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(first)
}

/// One lender's book: its org and login, a facility, and `lots` lots pledged ten to a loan
/// to `loans` active loans, their ids and codes told apart from other books' by `tag`.
struct Book<'a> {
    tag: &'a str,
    lender: &'a str,
    email: &'a str,
    facility: &'a str,
    lots: u64,
    loans: u64,
}

/// The commodity, cold store, price and orgs every book shares, then `book`, all by set-based
/// SQL; answers the supplier's id.
async fn seed(conn: &mut AsyncPgConnection, book: &Book<'_>) -> anyhow::Result<uuid::Uuid> {
    use holdfast::orgs::store;
    let supplier = store::insert_org(conn, "Bench Supplier", OrgKind::Supplier).await?;
    let operator = store::insert_org(conn, "Bench Cold Chain", OrgKind::WarehouseOperator).await?;
    let o = operator.id;
    for sql in [
        "SET session_replication_role = replica".to_owned(),
        "INSERT INTO commodities (code, name, unit, shelf_life_days, fresh_days, end_freshness_factor, grades) \
         VALUES ('APPLE_FUJI', 'Fuji apples', 'kg', 180, 60, 0.5, '{\"A\": \"1.00\", \"B\": \"0.85\"}')".to_owned(),
        format!("INSERT INTO warehouses (id, name, operator_org_id, address, kind, breach_grace_minutes) \
                 VALUES ('00000000-0000-0000-0000-0000000000aa', 'Bench store', '{o}', 'Yantai', 'cold_storage', 30)"),
        "INSERT INTO prices (commodity_code, price_per_unit, currency, as_of, source) \
         VALUES ('APPLE_FUJI', 6.00, 'CNY', date_trunc('day', now()), 'bench')".to_owned(),
        "SET session_replication_role = origin".to_owned(),
    ] {
        run(conn, &sql).await?;
    }
    seed_book(conn, book, supplier.id).await?;
    Ok(supplier.id)
}

/// `book`'s lender, login, facility, lots, loans and pledges, seeded with the triggers off, then
/// the exposure figures built from scratch and the database analysed.
async fn seed_book(
    conn: &mut AsyncPgConnection,
    book: &Book<'_>,
    supplier: uuid::Uuid,
) -> anyhow::Result<()> {
    use holdfast::orgs::store;
    let lender = store::insert_org(conn, book.lender, OrgKind::Lender).await?;
    let hash = holdfast::auth::password::hash_blocking(PASSWORD)?;
    store::insert_user(
        conn,
        store::NewUserRow {
            org_id: lender.id,
            email: book.email,
            password_hash: &hash,
            role: Role::Owner,
            permissions: &Permission::all_for(OrgKind::Lender),
            created_by: None,
        },
    )
    .await?;
    let Book {
        tag,
        facility: f,
        lots,
        loans,
        ..
    } = *book;
    let per_loan = lots.div_ceil(loans).max(1);
    let (s, l) = (supplier, lender.id);
    for sql in [
        // Seeded with the triggers off, then the exposure figures built once from scratch.
        "SET session_replication_role = replica".to_owned(),
        format!(
            "INSERT INTO facilities (id, lender_org_id, supplier_org_id, currency, limit_amount, advance_rate, \
                 annual_interest_rate, margin_call_ltv, liquidation_ltv, cure_period_days, max_tenor_days, eligible_commodities) \
                 VALUES ('{f}', '{l}', '{s}', 'CNY', 1e15, 0.5, 0.08, 0.65, 0.8, 3, 365, '{{APPLE_FUJI}}')"
        ),
        format!(
            "INSERT INTO lots (id, code, owner_org_id, commodity_code, grade, declared_grade, unit, status, quantity_announced, \
                 quantity_on_hand, quantity_pledged, warehouse_id, packed_on, expires_on) \
                 SELECT md5('{tag}lot' || i)::uuid, '{tag}B' || i, '{s}', 'APPLE_FUJI', CASE WHEN i % 5 = 0 THEN 'B' ELSE 'A' END, 'A', 'kg', 'in_custody', \
                        1000, 1000, 1000, '00000000-0000-0000-0000-0000000000aa', current_date - (i % 150)::int, current_date - (i % 150)::int + 180 \
                 FROM generate_series(1, {lots}) i"
        ),
        format!(
            "INSERT INTO loans (id, facility_id, lender_org_id, supplier_org_id, currency, principal, outstanding_principal, \
                 annual_interest_rate, status, disbursed_on, accrued_through, maturity_date) \
                 SELECT md5('{tag}loan' || k)::uuid, '{f}', '{l}', '{s}', 'CNY', \
                        {principal}, {principal}, 0.08, 'active', current_date, current_date, current_date + 365 \
                 FROM generate_series(1, {loans}) k",
            principal = per_loan * 2500
        ),
        format!(
            "INSERT INTO pledges (loan_id, lot_id, quantity) \
                 SELECT md5('{tag}loan' || ((i - 1) / {per_loan} + 1))::uuid, md5('{tag}lot' || i)::uuid, 1000 \
                 FROM generate_series(1, {lots}) i"
        ),
        "SET session_replication_role = origin".to_owned(),
        "SELECT exposure_rebuild()".to_owned(),
        "ANALYZE".to_owned(),
    ] {
        run(conn, &sql).await?;
    }
    Ok(())
}

/// `reads` timed `GET /v1/exposure` of each token's book, the books taking turns (which goes
/// first alternating), so that every book is read under the same conditions; answers each
/// book's untimed first read, its timed latencies in the order read, and its last answer.
///
/// Each book is read once before the timed reads (`first`, reported apart): the first read
/// opens the client's connection and has the server plan the exposure statement on the pool
/// connection that serves it, which no later read repeats. Timed among the others, it was the
/// whole p99 of 50 reads (one read of 50), so that "no slower at 100,000 loans" compared two
/// cold starts rather than the reads a lender makes.
async fn read_exposure(
    base: &str,
    tokens: &[&str],
    reads: usize,
) -> anyhow::Result<Vec<(Duration, Vec<Duration>, serde_json::Value)>> {
    let client = reqwest::Client::new();
    let read = async |token: &str| -> anyhow::Result<(Duration, serde_json::Value)> {
        let sent = Instant::now();
        let body: serde_json::Value = client
            .get(format!("{base}/v1/exposure"))
            .bearer_auth(token)
            .send()
            .await?
            .json()
            .await?;
        Ok((sent.elapsed(), body))
    };
    let mut books = Vec::new();
    for token in tokens {
        let (first, body) = read(token).await?;
        books.push((first, Vec::new(), body));
    }
    for i in 0..reads {
        for k in 0..tokens.len() {
            let k = if i % 2 == 0 { k } else { tokens.len() - 1 - k };
            let (took, body) = read(tokens[k]).await?;
            books[k].1.push(took);
            books[k].2 = body;
        }
    }
    Ok(books)
}

/// Prints a book's read latencies (the untimed first read, then p50 and p99 of the timed
/// reads) and the size of what was read.
fn print_reads(
    first: Duration,
    mut latencies: Vec<Duration>,
    answer: &serde_json::Value,
    beside: &str,
) {
    let active = &answer["active_loans"];
    let reads = latencies.len();
    latencies.sort();
    let (p50, p99) = (
        percentile(&latencies, 0.50).as_secs_f64() * 1000.0,
        percentile(&latencies, 0.99).as_secs_f64() * 1000.0,
    );
    println!(
        "GET /v1/exposure{beside}, {}: {:.1} ms; then {reads} timed: p50 {p50:.1} ms, p99 {p99:.1} ms",
        if beside.is_empty() {
            "the first read after the server started"
        } else {
            "its first read"
        },
        first.as_secs_f64() * 1000.0,
    );
    println!(
        "GET /v1/exposure ({active} loans{beside}), {reads} timed requests: p50 {p50:.1} ms, p99 {p99:.1} ms"
    );
    println!(
        "  each answer: {active} active loans, {} above the margin-call LTV ({} listed), {} open margin calls ({} listed)",
        answer["loans_above_margin_call_ltv"],
        answer["breaching_loans"].as_array().map_or(0, Vec::len),
        answer["margin_calls"]["open"],
        answer["margin_calls"]["items"]
            .as_array()
            .map_or(0, Vec::len)
    );
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let lots = env_number("BENCH_LOTS", 1_000_000);
    let loans = env_number("BENCH_LOANS", 100_000);
    let reads = env_number("BENCH_READS", 1000) as usize;
    // Rounds of price change, revaluation and bare UPDATE (at least one: the first opens the
    // margin calls the exposure read reports).
    let rounds = env_number("BENCH_ROUNDS", 3).max(1);
    let (cluster, url) = harness::cluster(
        "reval",
        &[
            ("shared_buffers", "1GB"),
            ("max_wal_size", "8GB"),
            ("work_mem", "64MB"),
        ],
    )
    .await?;
    // The service's connection setup (`jit = off`).
    let mut conn = db::connect(&url).await?;
    let seeding = Instant::now();
    let book = Book {
        tag: "",
        lender: "Bench Bank",
        email: "risk@bench.holdfast",
        facility: "00000000-0000-0000-0000-0000000000fa",
        lots,
        loans,
    };
    let supplier = seed(&mut conn, &book).await?;
    println!(
        "seeded {lots} lots pledged to {loans} active loans in {:.1} s",
        seeding.elapsed().as_secs_f64()
    );
    let today = chrono::Utc::now().date_naive();
    let first = Instant::now();
    let outcome = conn
        .transaction::<_, diesel::result::Error, _>(async |conn| {
            revaluation::revalue(conn, today, Scope::All, "revaluation").await
        })
        .await?;
    println!(
        "first revaluation (every pledge written): {:.2} s, {outcome:?}",
        first.elapsed().as_secs_f64()
    );

    let mut revaluations = Vec::new();
    let mut bare = Vec::new();
    for round in 0..rounds {
        // Alternate the price, so every pledge and loan changes each round.
        let price = if round % 2 == 0 { "5.70" } else { "6.00" };
        settle(&mut conn).await?;
        let mark = WalMark::now(&mut conn).await?;
        let started = Instant::now();
        let outcome = conn
            .transaction::<_, diesel::result::Error, _>(async |conn| {
                diesel::sql_query(format!(
                    "INSERT INTO prices (commodity_code, price_per_unit, currency, as_of, source) \
                     VALUES ('APPLE_FUJI', {price}, 'CNY', now(), 'bench {round}')"
                ))
                .execute(conn)
                .await?;
                revaluation::revalue(conn, today, Scope::All, "revaluation").await
            })
            .await?;
        revaluations.push(started.elapsed());
        println!(
            "round {round}: revaluation {:.2} s ({} loans, {} pledges written, {} margin calls opened; {})",
            started.elapsed().as_secs_f64(),
            outcome.loans_revalued,
            outcome.pledges_revalued,
            outcome.margin_calls_opened,
            mark.since(&mut conn).await?
        );
        settle(&mut conn).await?;
        let mark = WalMark::now(&mut conn).await?;
        let started = Instant::now();
        // The same rows written and nothing else: no trigger keeps the exposure figures. Then
        // rolled back, so that the book stays as the revaluation left it: committed, these
        // writes changed the pledges' values behind the kept figures, and the next
        // revaluation (the daily close before the reads) added its change from those values to
        // figures that had never seen them — the exposure read was then timed on a book whose
        // kept LTVs were 5% off and whose list of loans above the margin-call LTV was empty.
        // A rollback does not wait for the WAL to reach the disk as a commit does: the bare
        // side is spared that one flush (the revaluation is not).
        for sql in [
            "BEGIN",
            "SET LOCAL session_replication_role = replica",
            "UPDATE pledges SET market_value = round(market_value * 0.95, 2)",
            "UPDATE loans SET collateral_value = round(collateral_value * 0.95, 2)",
            "ROLLBACK",
        ] {
            run(&mut conn, sql).await?;
        }
        bare.push(started.elapsed());
        println!(
            "round {round}: bare UPDATE {:.2} s ({})",
            started.elapsed().as_secs_f64(),
            mark.since(&mut conn).await?
        );
    }
    run(&mut conn, "VACUUM pledges, loans").await?;
    let (r, b) = (median(revaluations), median(bare));
    println!(
        "revaluation median {:.2} s, bare UPDATE median {:.2} s, ratio {:.2} (target ≤ 1.5)",
        r.as_secs_f64(),
        b.as_secs_f64(),
        r.as_secs_f64() / b.as_secs_f64()
    );

    // A smaller book beside the full one (`BENCH_SIDE_LOANS` loans, default a tenth, with a
    // tenth of the lots), seeded after the timed rounds so that they write the same rows as
    // before, and revalued once at today's price, which opens its margin calls as the rounds
    // opened the full book's. The two books' reads then take turns on the same server: "no
    // slower at 100,000 loans than at 10,000" is measured in one run, under the same conditions,
    // rather than across two runs minutes apart.
    let side_loans = env_number("BENCH_SIDE_LOANS", loans / 10);
    let side = Book {
        tag: "side ",
        lender: "Bench Side Bank",
        email: "risk@side.bench.holdfast",
        facility: "00000000-0000-0000-0000-0000000000fb",
        lots: lots * side_loans / loans.max(1),
        loans: side_loans,
    };
    if side.loans > 0 {
        let seeding = Instant::now();
        seed_book(&mut conn, &side, supplier).await?;
        let outcome = conn
            .transaction::<_, diesel::result::Error, _>(async |conn| {
                revaluation::revalue(conn, today, Scope::All, "revaluation").await
            })
            .await?;
        println!(
            "seeded a book of {} lots pledged to {} loans beside it and revalued it in {:.1} s \
             ({} margin calls opened)",
            side.lots,
            side.loans,
            seeding.elapsed().as_secs_f64(),
            outcome.margin_calls_opened
        );
    }

    // Today's daily close, so that the server's scheduler, which runs it on start, finds
    // nothing to do and the reads below are timed alone.
    let pool = db::pool(&url, 2)?;
    holdfast::lending::daily::run(&pool, today, false, true).await?;
    drop(pool);
    // Every table the seeding and the revaluations changed vacuumed and analysed, and a
    // checkpoint taken, as before each timed revaluation (`settle`): autovacuum otherwise takes
    // up these tables (at 100,000 loans, 200,000 rewritten rows of `exposure_loans`) while the
    // reads run, on the same two cores. Before the server starts: the plans it makes then, as
    // it readies its connections, are of the book as it is (an ANALYZE afterwards would have
    // PostgreSQL make them again, on the first read of each connection).
    let settling = Instant::now();
    run(&mut conn, "VACUUM ANALYZE").await?;
    run(&mut conn, "CHECKPOINT").await?;
    println!(
        "vacuumed and analysed the database and took a checkpoint in {:.1} s",
        settling.elapsed().as_secs_f64()
    );
    let server = Server::start(&url, 16).await?;
    let token = server.login(book.email).await?;
    let side_token = match side.loans {
        0 => None,
        _ => Some(server.login(side.email).await?),
    };
    // The revaluations above opened a margin call on every loan past its margin-call LTV,
    // each with its audit and outbox events, which no server was running to seal. The
    // service seals them once it starts (26,666 events at 100,000 loans, about a second of
    // work); the reads are timed after that, alone, as they are after the daily close, and
    // after the tables the sealing rewrote (which the read does not use) are vacuumed.
    let sealing = Instant::now();
    let backlog = caught_up(&mut conn).await?;
    run(&mut conn, "VACUUM ANALYZE audit_events, outbox_events").await?;
    run(&mut conn, "CHECKPOINT").await?;
    println!(
        "the service sealed the {backlog} audit and outbox events the revaluations left, then \
         they were vacuumed, in {:.2} s",
        sealing.elapsed().as_secs_f64()
    );
    harness::profile_reset(&url).await?;
    let (client, base) = (reqwest::Client::new(), server.base.clone());
    let mut tokens = vec![token.as_str()];
    tokens.extend(side_token.as_deref());
    let mut books = read_exposure(&base, &tokens, reads).await?.into_iter();
    if let Some((first, latencies, answer)) = books.next() {
        print_reads(first, latencies, &answer, "");
    }
    if let Some((first, latencies, answer)) = books.next() {
        print_reads(
            first,
            latencies,
            &answer,
            ", beside the full book, reads in turn",
        );
    }
    harness::profile_report(&url, "the exposure reads").await?;
    // The stress test values every loan of the full book at the shocked price.
    harness::profile_reset(&url).await?;
    let mut stresses = Vec::new();
    for _ in 0..3 {
        let sent = Instant::now();
        let reply = client
            .post(format!("{base}/v1/exposure/stress"))
            .bearer_auth(&token)
            .json(&serde_json::json!({"shocks": [{"commodity_code": "APPLE_FUJI", "price_change": "-0.30"}]}))
            .send()
            .await?;
        anyhow::ensure!(
            reply.status().is_success(),
            "stress: {}",
            reply.text().await?
        );
        stresses.push(sent.elapsed());
    }
    println!(
        "POST /v1/exposure/stress, 3 requests: median {:.0} ms",
        median(stresses).as_secs_f64() * 1000.0
    );
    harness::profile_report(&url, "the stresses").await?;
    if let Some(kib) = server.peak_rss_kib() {
        println!("server peak RSS: {:.1} MB", kib as f64 / 1024.0);
    }
    drop(server);
    drop(cluster);
    Ok(())
}
