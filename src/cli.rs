//! The command line: `serve`, `migrate`, `bootstrap-admin`.

use crate::app;
use crate::auth::{OrgKind, Permission, Role};
use crate::config::{Config, SecretPolicy};
use crate::orgs::store;
use crate::state::AppState;
use crate::{db, demo, jobs, telemetry};
use actix_web::web;
use anyhow::Context;
use clap::{Parser, Subcommand};
use diesel_async::AsyncConnection;

#[derive(Parser, Debug)]
#[command(
    name = "holdfast",
    version,
    about = "Warehouse-backed supply-chain finance"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the API (with its own PostgreSQL unless DATABASE_URL is set).
    Serve {
        /// Load the demo world and print its logins; a JWT secret is generated if none is set.
        #[arg(long)]
        demo: bool,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Create the platform organisation (if needed) and an admin owner. The password comes
    /// from HOLDFAST_ADMIN_PASSWORD or, if unset, the first line of standard input.
    BootstrapAdmin {
        #[arg(long)]
        email: String,
    },
    /// Commodity prices.
    Prices {
        #[command(subcommand)]
        command: PricesCommand,
    },
    /// Scheduled work, run by hand.
    Jobs {
        #[command(subcommand)]
        command: JobsCommand,
    },
}

#[derive(Subcommand, Debug)]
pub enum JobsCommand {
    /// Close every business day up to DATE (default today, UTC): accrue interest, revalue
    /// collateral, open margin calls and default loans past their deadline. Idempotent per
    /// day; catches up missed days. A date after today needs HOLDFAST_ALLOW_FUTURE_DATES=true.
    Daily {
        #[arg(long = "as-of")]
        as_of: Option<chrono::NaiveDate>,
    },
    /// The market's deadlines as of TIME (RFC 3339, default now): offers past their time
    /// expire. A time after now needs HOLDFAST_ALLOW_FUTURE_DATES=true.
    Market {
        #[arg(long = "as-of")]
        as_of: Option<chrono::DateTime<chrono::Utc>>,
    },
}

#[derive(Subcommand, Debug)]
pub enum PricesCommand {
    /// Import a daily price feed (CSV: commodity_code, price_per_unit, currency, as_of, source).
    /// A bad row stops the import, named by its line; nothing from the file is written.
    Import { file: std::path::PathBuf },
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve { demo } => serve(demo).await,
        Command::Migrate => migrate().await,
        Command::BootstrapAdmin { email } => bootstrap_admin(&email).await,
        Command::Prices {
            command: PricesCommand::Import { file },
        } => import_prices(&file).await,
        Command::Jobs {
            command: JobsCommand::Daily { as_of },
        } => daily(as_of).await,
        Command::Jobs {
            command: JobsCommand::Market { as_of },
        } => market(as_of).await,
    }
}

async fn serve(demo: bool) -> anyhow::Result<()> {
    let policy = if demo {
        SecretPolicy::GenerateIfMissing
    } else {
        SecretPolicy::Required
    };
    let secret_was_set = std::env::var_os("HOLDFAST_JWT_SECRET").is_some();
    let config = Config::from_env(policy)?;
    telemetry::init(config.log_format);
    if demo && !secret_was_set {
        tracing::warn!(
            "HOLDFAST_JWT_SECRET is not set: using a random secret, so tokens die with this process"
        );
    }
    let database = db::open(&config).await?;
    let applied = db::migrate(&database.url).await?;
    tracing::info!(applied = applied.len(), "migrations applied");
    let pool = db::pool(&database.url, config.pool_size)?;
    // Every connection of the pool, opened here on the start-up runtime: when only eight were
    // and the rest opened under load by whichever server worker first needed one, receive
    // scans at 32 clients had a p99 of 61-73 ms against 52-56 ms (docs/benchmarks.md).
    // Each ready for a lender's first look at the book (`lending::exposure::warm`).
    db::warm(&pool, config.pool_size, crate::lending::exposure::warm).await;
    if demo {
        let logins = demo::load(&pool)
            .await
            .context("could not load the demo world")?;
        print_logins(&logins, &config);
    }
    let state = web::Data::new(AppState::new(pool.clone(), &config));
    // The background jobs work over the whole book, on their own connections without the
    // requests' statement limit.
    let batch = db::pool_with(&database.url, 2, db::Timeouts::Batch)?;
    let background = tokio::spawn(jobs::run_background(batch));
    let server_state = state.clone();
    let drain = std::time::Duration::from_secs(config.drain_seconds);
    let listener = std::net::TcpListener::bind(config.bind).with_context(|| {
        format!(
            "could not listen on {}: set HOLDFAST_BIND to a free host:port",
            config.bind
        )
    })?;
    listener.set_nonblocking(true)?;
    // Idle connections end within the drain window.
    let keep_alive = drain
        .saturating_sub(std::time::Duration::from_secs(1))
        .max(std::time::Duration::from_secs(1));
    let server =
        crate::http::edge::serve(listener, keep_alive, move || app::app(server_state.clone()))?;
    tracing::info!(bind = %config.bind, "Holdfast is serving");
    let handle = server.handle();
    // Listened for before the first request is answered: a SIGTERM that arrives as soon as the
    // server answers drains it too, instead of ending the process at once.
    let signals = ShutdownSignals::listen();
    tokio::spawn(async move {
        signals.received().await;
        // Drain: keep answering, each answer closing its connection, until idle keep-alive
        // connections have timed out; then stop taking connections and finish what runs.
        tracing::info!(drain_seconds = drain.as_secs(), "shutting down: draining");
        state
            .draining
            .store(true, std::sync::atomic::Ordering::Relaxed);
        tokio::time::sleep(drain).await;
        tracing::info!("shutting down");
        handle.stop(true).await;
    });
    server.await?;
    background.abort();
    drop(database);
    Ok(())
}

/// SIGTERM and SIGINT, listened for from the moment this is made.
struct ShutdownSignals {
    terminate: Option<tokio::signal::unix::Signal>,
    interrupt: Option<tokio::signal::unix::Signal>,
}

impl ShutdownSignals {
    fn listen() -> Self {
        use tokio::signal::unix::{SignalKind, signal};
        Self {
            terminate: signal(SignalKind::terminate()).ok(),
            interrupt: signal(SignalKind::interrupt()).ok(),
        }
    }

    /// The first of the two to arrive (never, for one that could not be listened for).
    async fn received(mut self) {
        async fn next(signal: Option<&mut tokio::signal::unix::Signal>) {
            match signal {
                Some(signal) => {
                    signal.recv().await;
                }
                None => std::future::pending().await,
            }
        }
        tokio::select! {
            _ = next(self.terminate.as_mut()) => {}
            _ = next(self.interrupt.as_mut()) => {}
        }
    }
}

fn print_logins(logins: &[demo::DemoLogin], config: &Config) {
    println!(
        "\nHoldfast demo — every account's password is {}",
        demo::DEMO_PASSWORD
    );
    println!("{:<30} {:<20} {:<6} email", "organisation", "kind", "role");
    for login in logins {
        println!(
            "{:<30} {:<20} {:<6} {}",
            login.org,
            login.kind.as_str(),
            login.role.as_str(),
            login.email
        );
    }
    println!(
        "\nLog in: curl -s http://{}/v1/auth/login -H 'content-type: application/json' -d '{{\"email\":\"owner@platform.demo.holdfast\",\"password\":\"{}\"}}'",
        config.bind,
        demo::DEMO_PASSWORD
    );
    println!("API reference: http://{}/docs/", config.bind);
    println!(
        "Console (Chinese and English; sign in with any login above): http://{}/\n  the warehouse's scan station http://{}/scan, the lender's book http://{}/dashboard\n",
        config.bind, config.bind, config.bind
    );
}

async fn migrate() -> anyhow::Result<()> {
    let config = Config::from_env(SecretPolicy::GenerateIfMissing)?;
    telemetry::init(config.log_format);
    let database = db::open(&config).await?;
    let applied = db::migrate(&database.url).await?;
    if applied.is_empty() {
        println!("the database is up to date");
    }
    for version in applied {
        println!("applied {version}");
    }
    Ok(())
}

async fn bootstrap_admin(email: &str) -> anyhow::Result<()> {
    let config = Config::from_env(SecretPolicy::GenerateIfMissing)?;
    telemetry::init(config.log_format);
    let password = match std::env::var("HOLDFAST_ADMIN_PASSWORD") {
        Ok(password) => password,
        Err(_) => {
            let mut line = String::new();
            std::io::stdin()
                .read_line(&mut line)
                .context("could not read the password from standard input")?;
            line.trim_end_matches(['\r', '\n']).to_owned()
        }
    };
    crate::auth::password::check_strength(&password, email.trim())
        .map_err(|why| anyhow::anyhow!("the admin password is refused: {why}"))?;
    let database = db::open(&config).await?;
    db::migrate(&database.url).await?;
    let pool = db::pool(&database.url, 2)?;
    let hash = crate::auth::password::hash(password).await?;
    let email = email.trim().to_owned();
    let mut conn = pool.get().await?;
    let created = conn
        .transaction::<_, anyhow::Error, _>(async move |conn| {
                if store::find_user_by_email(conn, &email).await?.is_some() {
                    anyhow::bail!("a user with email {email} already exists");
                }
                let org = match store::find_org_by_name(conn, "Holdfast Platform").await? {
                    Some(org) => org,
                    None => store::insert_org(conn, "Holdfast Platform", OrgKind::Platform).await?,
                };
                anyhow::ensure!(org.kind == OrgKind::Platform.as_str(), "the org named Holdfast Platform is not a platform org");
                let user = store::insert_user(conn, store::NewUserRow {
                    org_id: org.id,
                    email: &email,
                    password_hash: &hash,
                    role: Role::Owner,
                    permissions: &Permission::all_for(OrgKind::Platform),
                    created_by: None,
                })
                .await?;
                crate::integrity::record(conn, None, crate::integrity::Change {
                    action: "user.created",
                    object_kind: "user",
                    object_id: user.id.to_string(),
                    org_ids: vec![org.id],
                    before: None,
                    after: Some(serde_json::json!({"email": user.email, "role": "owner", "via": "bootstrap-admin"})),
                })
                .await?;
                Ok(user)
            })
        .await?;
    println!("created platform admin {} ({})", created.email, created.id);
    Ok(())
}

async fn import_prices(file: &std::path::Path) -> anyhow::Result<()> {
    let config = Config::from_env(SecretPolicy::GenerateIfMissing)?;
    telemetry::init(config.log_format);
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("could not read {}", file.display()))?;
    let rows = crate::domain::price_feed::parse(&text)
        .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    let database = db::open(&config).await?;
    db::migrate(&database.url).await?;
    let pool = db::pool(&database.url, 2)?;
    let mut conn = pool.get().await?;
    let outcome = conn
        .transaction::<_, crate::error::ApiError, _>(async |conn| {
            crate::prices::service::import(conn, &rows, None).await
        })
        .await
        .map_err(|e| anyhow::anyhow!("{}: {}", file.display(), e.message))?;
    println!(
        "imported {} prices ({} already present)",
        outcome.imported, outcome.already_present
    );
    Ok(())
}

async fn market(as_of: Option<chrono::DateTime<chrono::Utc>>) -> anyhow::Result<()> {
    let config = Config::from_env(SecretPolicy::GenerateIfMissing)?;
    telemetry::init(config.log_format);
    let now = chrono::Utc::now();
    let as_of = as_of.unwrap_or(now);
    if as_of > now && !config.allow_future_dates {
        anyhow::bail!(
            "{as_of} is in the future: set HOLDFAST_ALLOW_FUTURE_DATES=true to run the market ahead"
        );
    }
    let database = db::open(&config).await?;
    db::migrate(&database.url).await?;
    let pool = db::pool_with(&database.url, 2, db::Timeouts::Batch)?;
    match crate::market::job::run(&pool, as_of)
        .await
        .map_err(|e| anyhow::anyhow!(e.message))?
    {
        Some(swept) => println!(
            "offers expired: {}; cancelled sales returned to their listings: {}; \
             auctions awarded: {}, unsold: {}, relisted: {}; winners forfeited: {}; \
             groups filled: {}, failed: {}; forward sales due: {}, margins returned: {}, forfeited: {}",
            swept.offers_expired,
            swept.sales_cancelled,
            swept.auctions.awarded,
            swept.auctions.unsold,
            swept.auctions.relisted,
            swept.auctions.forfeited,
            swept.groups.filled,
            swept.groups.failed,
            swept.forward.due,
            swept.forward.returned,
            swept.forward.forfeited
        ),
        None => println!("another instance is running the market job; nothing done"),
    }
    Ok(())
}

async fn daily(as_of: Option<chrono::NaiveDate>) -> anyhow::Result<()> {
    let config = Config::from_env(SecretPolicy::GenerateIfMissing)?;
    telemetry::init(config.log_format);
    let as_of = as_of.unwrap_or_else(|| chrono::Utc::now().date_naive());
    let database = db::open(&config).await?;
    db::migrate(&database.url).await?;
    let pool = db::pool_with(&database.url, 2, db::Timeouts::Batch)?;
    let closed = crate::lending::daily::run(&pool, as_of, config.allow_future_dates, true).await?;
    match (closed.first(), closed.last()) {
        (Some(first), Some(last)) => println!(
            "closed {} business day(s), {} to {}",
            closed.len(),
            first.business_date,
            last.business_date
        ),
        _ => println!("nothing to close: {as_of} is already closed"),
    }
    for day in &closed {
        println!(
            "{}: {} loans accrued, {} revalued, {} margin calls opened, {} cured, {} loans defaulted",
            day.business_date,
            day.loans_accrued,
            day.revaluation.loans_revalued,
            day.revaluation.margin_calls_opened,
            day.revaluation.margin_calls_cured,
            day.revaluation.loans_defaulted
        );
    }
    Ok(())
}
