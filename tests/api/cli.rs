//! The `holdfast` binary itself: bootstrap-admin, migrate, and serve with its own PostgreSQL,
//! JSON logs without secrets, and a clean stop on SIGTERM.

use crate::support::TestApp;
use serde_json::json;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BINARY: &str = env!("CARGO_BIN_EXE_holdfast");
const SECRET: &str = "cli-test-secret-cli-test-secret-cli-test";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .port()
}

#[tokio::test]
async fn bootstrap_admin_creates_a_platform_owner_who_can_log_in() {
    let app = TestApp::spawn().await;
    let output = Command::new(BINARY)
        .args(["bootstrap-admin", "--email", "ops@holdfast.test"])
        .env("DATABASE_URL", &app.database_url)
        .env("HOLDFAST_ADMIN_PASSWORD", "a-very-long-admin-password")
        .output()
        .expect("run holdfast");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let admin = app
        .login("ops@holdfast.test", "a-very-long-admin-password")
        .await;
    let me = app.get("/v1/me", admin.token()).await;
    assert_eq!(me.body["role"], "owner");
    assert_eq!(me.body["org"]["kind"], "platform");
    assert_eq!(
        me.body["permissions"],
        json!([
            "orgs:write",
            "users:write",
            "audit:read",
            "reference:write",
            "prices:write",
            "payments:write"
        ])
    );

    // A second run for the same email refuses and changes nothing.
    let again = Command::new(BINARY)
        .args(["bootstrap-admin", "--email", "ops@holdfast.test"])
        .env("DATABASE_URL", &app.database_url)
        .env("HOLDFAST_ADMIN_PASSWORD", "another-long-password")
        .output()
        .expect("run holdfast");
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
}

#[tokio::test]
async fn migrate_on_a_migrated_database_has_nothing_to_do() {
    let app = TestApp::spawn().await;
    let output = Command::new(BINARY)
        .arg("migrate")
        .env("DATABASE_URL", &app.database_url)
        .output()
        .expect("run holdfast");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("up to date"));
}

#[tokio::test]
async fn serve_without_a_secret_or_with_a_dead_database_says_how_to_fix_it() {
    let no_secret = Command::new(BINARY)
        .arg("serve")
        .env_remove("HOLDFAST_JWT_SECRET")
        .env("DATABASE_URL", "postgres://x@127.0.0.1:1/x")
        .output()
        .expect("run holdfast");
    assert!(!no_secret.status.success());
    assert!(String::from_utf8_lossy(&no_secret.stderr).contains("HOLDFAST_JWT_SECRET is not set"));
    let dead = Command::new(BINARY)
        .arg("serve")
        .env("HOLDFAST_JWT_SECRET", SECRET)
        .env(
            "DATABASE_URL",
            format!("postgres://x@127.0.0.1:{}/x", free_port()),
        )
        .output()
        .expect("run holdfast");
    assert!(!dead.status.success());
    let stderr = String::from_utf8_lossy(&dead.stderr);
    assert!(
        stderr.contains("could not connect to the database at DATABASE_URL"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

struct Served {
    pub child: Child,
    base: String,
}

impl Served {
    fn start(envs: &[(&str, &str)], args: &[&str]) -> Self {
        let port = free_port();
        let bind = format!("127.0.0.1:{port}");
        let mut command = Command::new(BINARY);
        command
            .arg("serve")
            .args(args)
            .env("HOLDFAST_BIND", &bind)
            .env("HOLDFAST_JWT_SECRET", SECRET)
            .env("HOLDFAST_DRAIN_SECONDS", "1")
            .env_remove("DATABASE_URL")
            .env_remove("RUST_LOG")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (name, value) in envs {
            command.env(name, value);
        }
        Self {
            child: command.spawn().expect("spawn holdfast"),
            base: format!("http://{bind}"),
        }
    }

    /// Logs in as a demo user (`serve --demo`); answers the login's JSON.
    async fn demo_login(&self, client: &reqwest::Client, email: &str) -> serde_json::Value {
        client
            .post(format!("{}/v1/auth/login", self.base))
            .json(&json!({"email": email, "password": "holdfast-demo-2026"}))
            .send()
            .await
            .expect("login")
            .json()
            .await
            .expect("json")
    }

    async fn wait_ready(&mut self) {
        let client = crate::support::test_client();
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(response) = client.get(format!("{}/readyz", self.base)).send().await
                && response.status().as_u16() == 200
            {
                return;
            }
            if let Some(status) = self.child.try_wait().expect("wait") {
                panic!("holdfast exited early with {status}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("holdfast did not become ready");
    }

    /// Sends SIGTERM, without waiting.
    fn signal_term(&self) {
        let killed = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(killed.success());
    }

    /// Sends SIGTERM and answers the exit status and everything written to stderr.
    fn terminate(self) -> (std::process::ExitStatus, String) {
        self.signal_term();
        self.wait_exit()
    }

    /// Waits for the process to end; answers its status and everything written to stderr.
    fn wait_exit(mut self) -> (std::process::ExitStatus, String) {
        let stderr = self.child.stderr.take().expect("stderr");
        let lines: Vec<String> = BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
            .collect();
        let status = self.child.wait().expect("wait");
        (status, lines.join("\n"))
    }
}

#[tokio::test]
async fn serve_runs_its_own_postgres_logs_json_without_secrets_and_stops_cleanly() {
    let data_dir =
        std::env::temp_dir().join(format!("holdfast-cli-{}", uuid::Uuid::new_v4().simple()));
    let data_dir_text = data_dir.to_string_lossy().to_string();
    let envs = [
        ("HOLDFAST_DATA_DIR", data_dir_text.as_str()),
        ("HOLDFAST_LOG_FORMAT", "json"),
    ];
    let mut served = Served::start(&envs, &["--demo"]);
    served.wait_ready().await;
    let client = crate::support::test_client();
    let login = served
        .demo_login(&client, "owner@supplier.demo.holdfast")
        .await;
    let access = login["access_token"].as_str().expect("token").to_owned();
    let refresh = login["refresh_token"].as_str().expect("token").to_owned();
    let me = client
        .get(format!("{}/v1/me", served.base))
        .bearer_auth(&access)
        .send()
        .await
        .expect("me");
    assert_eq!(me.status().as_u16(), 200);
    let pid_file = data_dir.join("pg").join("postmaster.pid");
    assert!(
        pid_file.exists(),
        "the private cluster runs in the data directory"
    );

    let (status, logs) = served.terminate();
    assert!(status.success(), "exit {status}: {logs}");
    assert!(!pid_file.exists(), "SIGTERM stops the private cluster too");
    assert!(
        !logs.contains("holdfast-demo-2026"),
        "a password reached the logs"
    );
    assert!(
        !logs.contains(&access) && !logs.contains(&refresh),
        "a token reached the logs"
    );
    let request_line = logs
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .find(|line| line["message"] == "request finished" && line["span"]["route"] == "/v1/me")
        .unwrap_or_else(|| panic!("no JSON request line for /v1/me in:\n{logs}"));
    assert_eq!(request_line["span"]["status"], 200);
    assert!(request_line["span"]["request_id"].is_string());
    assert!(request_line["span"]["duration_ms"].is_number());

    // The next start reuses the cluster and the demo world.
    let mut again = Served::start(&envs, &[]);
    again.wait_ready().await;
    let relogin = crate::support::test_client()
        .post(format!("{}/v1/auth/login", again.base))
        .json(&json!({"email": "owner@supplier.demo.holdfast", "password": "holdfast-demo-2026"}))
        .send()
        .await
        .expect("login");
    assert_eq!(relogin.status().as_u16(), 200);
    let (status, _) = again.terminate();
    assert!(status.success());
    let _ = std::fs::remove_dir_all(&data_dir);
}

#[tokio::test]
async fn instances_migrating_an_empty_database_at_once_apply_each_migration_once() {
    let app = TestApp::spawn().await;
    let empty = format!("holdfast_empty_{}", uuid::Uuid::new_v4().simple());
    holdfast::db::create_database(&app.database_url, &empty)
        .await
        .expect("create");
    let url = holdfast::db::with_database(&app.database_url, &empty);
    let runs: Vec<Child> = (0..3)
        .map(|_| {
            Command::new(BINARY)
                .arg("migrate")
                .env("DATABASE_URL", &url)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn")
        })
        .collect();
    let outputs: Vec<_> = runs
        .into_iter()
        .map(|c| c.wait_with_output().expect("wait"))
        .collect();
    for output in &outputs {
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let applied = outputs
        .iter()
        .filter(|o| String::from_utf8_lossy(&o.stdout).contains("applied "))
        .count();
    assert_eq!(applied, 1, "exactly one instance applied the migrations");
    app.sql(&format!("DROP DATABASE \"{empty}\" WITH (FORCE)"))
        .await;
}

#[tokio::test]
async fn sigterm_drains_open_connections_before_the_server_stops() {
    let data_dir =
        std::env::temp_dir().join(format!("holdfast-drain-{}", uuid::Uuid::new_v4().simple()));
    let data_dir_text = data_dir.to_string_lossy().to_string();
    let envs = [
        ("HOLDFAST_DATA_DIR", data_dir_text.as_str()),
        ("HOLDFAST_DRAIN_SECONDS", "3"),
    ];
    let mut served = Served::start(&envs, &[]);
    served.wait_ready().await;
    let client = crate::support::test_client();
    let before = client
        .get(format!("{}/healthz", served.base))
        .send()
        .await
        .expect("healthz");
    assert_eq!(before.status().as_u16(), 200);
    assert_ne!(
        before.headers().get("connection").map(|v| v.as_bytes()),
        Some(&b"close"[..])
    );
    served.signal_term();
    tokio::time::sleep(Duration::from_millis(500)).await;
    // While draining: still answered, each answer closing its connection; not ready.
    let during = client
        .get(format!("{}/healthz", served.base))
        .send()
        .await
        .expect("a request during the drain is answered");
    assert_eq!(during.status().as_u16(), 200);
    assert_eq!(
        during.headers().get("connection").map(|v| v.as_bytes()),
        Some(&b"close"[..])
    );
    let ready = client
        .get(format!("{}/readyz", served.base))
        .send()
        .await
        .expect("readyz");
    assert_eq!(ready.status().as_u16(), 503);
    assert!(ready.headers().contains_key("retry-after"));
    let (status, logs) = served.wait_exit();
    assert!(status.success(), "exit {status}: {logs}");
    let _ = std::fs::remove_dir_all(&data_dir);
}

/// Splits of one unit off `lot` at `base`, each under its own key, all at once; answers the
/// statuses (0 where no answer came).
async fn splits(base: &str, token: &str, lot: &str, keys: &[String]) -> Vec<u16> {
    let client = crate::support::test_client();
    let sends = keys.iter().map(|key| {
        client
            .post(format!("{base}/v1/lots/{lot}/split"))
            .bearer_auth(token)
            .header("Idempotency-Key", key)
            .json(&json!({"quantity": "1"}))
            .send()
    });
    futures_util::future::join_all(sends)
        .await
        .into_iter()
        .map(|r| r.map(|r| r.status().as_u16()).unwrap_or(0))
        .collect()
}

#[tokio::test]
async fn killed_under_load_and_restarted_every_replayed_request_is_applied_exactly_once() {
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    use holdfast::db::schema::lots;
    let app = TestApp::spawn().await;
    let c = crate::fixtures::custody(&app).await;
    let lot = c.lot_in_custody(&app, "1000").await;
    let lot_id = lot["id"].as_str().expect("lot").to_owned();
    let envs = [
        ("DATABASE_URL", app.database_url.as_str()),
        ("HOLDFAST_JWT_SECRET", crate::support::JWT_SECRET),
    ];
    let keys: Vec<String> = (0..120).map(|n| format!("split-{n}")).collect();
    let parent: uuid::Uuid = lot_id.parse().expect("uuid");
    let mut conn = app.pool.get().await.expect("conn");
    let mut served = Served::start(&envs, &[]);
    served.wait_ready().await;
    let base = served.base.clone();
    let token = c.supplier.token().to_owned();
    // SIGKILL while the splits are in flight.
    let load = {
        let (base, token, lot_id, keys) =
            (base.clone(), token.clone(), lot_id.clone(), keys.clone());
        tokio::spawn(async move { splits(&base, &token, &lot_id, &keys).await })
    };
    // Once some splits are written, and while others are still coming.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let written: i64 = lots::table
            .filter(lots::parent_lot_id.eq(parent))
            .count()
            .get_result(&mut conn)
            .await
            .expect("count");
        if written >= 10 || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    served.child.kill().expect("SIGKILL");
    let _ = served.child.wait();
    let first = load.await.expect("load");
    let answered = first.iter().filter(|s| **s == 201).count();
    assert!(answered > 0, "no split was acknowledged before the kill");
    assert!(
        first.contains(&0),
        "every split was answered before the kill: {first:?}"
    );
    // Restarted, every request is sent again with its key.
    let mut again = Served::start(&envs, &[]);
    again.wait_ready().await;
    let replayed = splits(&again.base, &token, &lot_id, &keys).await;
    assert!(replayed.iter().all(|s| *s == 201), "{replayed:?}");
    let children: i64 = lots::table
        .filter(lots::parent_lot_id.eq(parent))
        .count()
        .get_result(&mut conn)
        .await
        .expect("count");
    // Every acknowledged split survived, and none was applied twice.
    assert_eq!(
        children,
        keys.len() as i64,
        "{answered} answered before the kill"
    );
    let on_hand = app.get(&format!("/v1/lots/{lot_id}"), &token).await;
    assert_eq!(on_hand.body["quantity_on_hand"], "880.000");
    let reconciled = app.get("/v1/custody/reconciliation", c.admin.token()).await;
    assert_eq!(reconciled.body["consistent"], true, "{}", reconciled.text);
    let (status, _) = again.terminate();
    assert!(status.success());
}

/// What one request of the load answered: its status, and whether a 503 said when to retry.
async fn load_round(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    warehouse: &str,
) -> Vec<(u16, bool)> {
    let read = client
        .get(format!("{base}/v1/lots?limit=5"))
        .bearer_auth(token)
        .send();
    let write = client
        .post(format!("{base}/v1/lots"))
        .bearer_auth(token)
        .json(
            &json!({"commodity_code": "APPLE_FUJI", "grade": "A", "quantity": "10",
                      "packed_on": chrono::Utc::now().date_naive(), "warehouse_id": warehouse}),
        )
        .send();
    let (read, write) = tokio::join!(read, write);
    [read, write]
        .into_iter()
        .map(|reply| {
            let reply = reply.expect("the server answers");
            let status = reply.status().as_u16();
            (status, reply.headers().contains_key("retry-after"))
        })
        .collect()
}

/// The whole PostgreSQL server stops under load and starts again: while it is down every
/// answer is 503 with Retry-After (never a 500, never a hang), and within 5 s of its return
/// requests succeed again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_stopped_and_started_under_load_gives_only_503s_then_recovers() {
    use holdfast::db::embedded::{EmbeddedPostgres, Options};
    let data_dir =
        std::env::temp_dir().join(format!("holdfast-pgstop-{}", uuid::Uuid::new_v4().simple()));
    let options = Options {
        settings: vec![("fsync".into(), "off".into())],
        remove_on_stop: true,
    };
    let mut cluster = EmbeddedPostgres::start(&data_dir, &options).expect("cluster");
    let url = cluster.url("postgres");
    let mut served = Served::start(&[("DATABASE_URL", url.as_str())], &["--demo"]);
    served.wait_ready().await;
    let client = crate::support::client_builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");
    let login = served
        .demo_login(&client, "owner@supplier.demo.holdfast")
        .await;
    let token = login["access_token"].as_str().expect("token").to_owned();
    let warehouses: serde_json::Value = client
        .get(format!("{}/v1/warehouses", served.base))
        .bearer_auth(&token)
        .send()
        .await
        .expect("warehouses")
        .json()
        .await
        .expect("json");
    // The cold store, which prices the storage of the apples the load announces.
    let warehouse = warehouses["items"]
        .as_array()
        .expect("warehouses")
        .iter()
        .find(|w| w["storage_rates"].to_string().contains("APPLE_FUJI"))
        .and_then(|w| w["id"].as_str())
        .expect("a cold store")
        .to_owned();
    let round = || load_round(&client, &served.base, &token, &warehouse);

    for _ in 0..5 {
        for (status, _) in round().await {
            assert!(status == 200 || status == 201, "before the stop: {status}");
        }
    }
    // Load in flight while the server stops.
    let load = tokio::spawn({
        let (client, base, token, warehouse) = (
            client.clone(),
            served.base.clone(),
            token.clone(),
            warehouse.clone(),
        );
        async move {
            let mut seen = Vec::new();
            for _ in 0..20 {
                seen.extend(load_round(&client, &base, &token, &warehouse).await);
            }
            seen
        }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    cluster.stop_server().expect("stop");
    for (status, _) in load.await.expect("load") {
        assert!(
            [200, 201, 503].contains(&status),
            "while stopping: {status}"
        );
    }
    let mut down = 0;
    for _ in 0..10 {
        for (status, retry_after) in round().await {
            assert_eq!(status, 503, "while PostgreSQL is down");
            assert!(retry_after, "a 503 says when to retry");
            down += 1;
        }
    }
    assert_eq!(down, 20);
    cluster.start_again(&options).expect("start again");
    let back = Instant::now();
    loop {
        let answers = round().await;
        if answers
            .iter()
            .all(|(status, _)| *status == 200 || *status == 201)
        {
            break;
        }
        for (status, _) in &answers {
            assert!(
                [200, 201, 503].contains(status),
                "after the return: {status}"
            );
        }
        assert!(
            back.elapsed() < Duration::from_secs(5),
            "not back within 5 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for _ in 0..5 {
        for (status, _) in round().await {
            assert!(status == 200 || status == 201, "after recovery: {status}");
        }
    }
    let (status, logs) = served.terminate();
    assert!(status.success(), "exit {status}");
    assert!(!logs.contains("panicked"), "{logs}");
    cluster.stop();
    let _ = std::fs::remove_dir_all(&data_dir);
}

/// Sends raw bytes on a fresh connection and answers everything the server writes back.
fn raw_exchange(base: &str, bytes: &[u8]) -> String {
    use std::io::{Read, Write};
    let address = base.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(address).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    stream.write_all(bytes).expect("write");
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

/// What the HTTP parser refuses before the app sees it — a request line it cannot read, a
/// head over its buffer — carries the same JSON error envelope as every other answer.
#[tokio::test]
async fn a_request_the_parser_refuses_still_gets_the_json_envelope() {
    let app = TestApp::spawn().await;
    let envs = [("DATABASE_URL", app.database_url.as_str())];
    let mut served = Served::start(&envs, &[]);
    served.wait_ready().await;
    let base = served.base.clone();
    let envelope = |answer: &str, status: &str, code: &str| {
        let (head, body) = answer.split_once("\r\n\r\n").expect("head and body");
        assert!(head.starts_with(status), "{answer}");
        assert!(head.contains("content-type: application/json"), "{answer}");
        let json: serde_json::Value = serde_json::from_str(body).expect("a JSON body");
        assert_eq!(json["error"]["code"], code, "{answer}");
    };
    let garbage = tokio::task::spawn_blocking({
        let base = base.clone();
        move || raw_exchange(&base, b"GARBAGE\r\n\r\n")
    });
    envelope(
        &garbage.await.expect("join"),
        "HTTP/1.1 400",
        "malformed_request",
    );
    let mut huge = b"GET /healthz HTTP/1.1\r\nHost: x\r\n".to_vec();
    for n in 0..20 {
        huge.extend(format!("X-Filler-{n}: {}\r\n", "a".repeat(8000)).as_bytes());
    }
    huge.extend(b"\r\n");
    let too_large = tokio::task::spawn_blocking({
        let base = base.clone();
        move || raw_exchange(&base, &huge)
    });
    envelope(
        &too_large.await.expect("join"),
        "HTTP/1.1 431",
        "headers_too_large",
    );
    // A good request then a bad line on the same connection: the good answer is untouched.
    let pipelined = tokio::task::spawn_blocking({
        let base = base.clone();
        move || {
            raw_exchange(
                &base,
                b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nNOT HTTP AT ALL\r\n\r\n",
            )
        }
    })
    .await
    .expect("join");
    assert!(pipelined.starts_with("HTTP/1.1 200 OK"), "{pipelined}");
    assert!(
        pipelined.contains("{\"status\":\"ok\"}HTTP/1.1 400"),
        "{pipelined}"
    );
    assert!(pipelined.contains("\"malformed_request\""), "{pipelined}");
    let (status, _) = served.terminate();
    assert!(status.success());
}
