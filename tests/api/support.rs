//! The test harness: one PostgreSQL per test run (`DATABASE_URL`, or a private cluster started
//! here), one migrated template database, and for each test a database cloned from it with
//! the real app serving it over HTTP on a free port.

use actix_web::{HttpServer, web};
use holdfast::app;
use holdfast::auth::{OrgKind, Permission, Role};
use holdfast::config::{Config, SecretPolicy};
use holdfast::db::{self, DbPool, embedded::EmbeddedPostgres};
use holdfast::orgs::store;
use holdfast::state::AppState;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::net::TcpListener;
use std::sync::OnceLock;
use uuid::Uuid;

pub const PASSWORD: &str = "correct-horse-battery";
pub const JWT_SECRET: &str = "test-secret-test-secret-test-secret-0123";

/// How long the test server keeps an idle connection open.
const SERVER_KEEP_ALIVE: std::time::Duration = std::time::Duration::from_secs(5);

/// The tests' HTTP client builder. It stops reusing an idle connection after half a second,
/// sooner than any server in the tests closes one (the test server after 5 s, `holdfast serve`
/// with `HOLDFAST_DRAIN_SECONDS=1` after 1 s): a request sent on a connection the server is
/// closing at that instant fails with "connection closed before message completed" (a browser
/// test waiting on pages between two API calls hit exactly that once).
pub fn client_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder().pool_idle_timeout(std::time::Duration::from_millis(500))
}

/// A client from [`client_builder`].
pub fn test_client() -> reqwest::Client {
    client_builder().build().expect("an HTTP client")
}

struct Server {
    /// A URL on the server for CREATE/DROP DATABASE.
    maintenance_url: String,
    template: String,
    /// Kept alive for the whole run; its watchdog stops and removes the cluster when the
    /// test process exits.
    _cluster: Option<EmbeddedPostgres>,
}

fn server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| {
        std::thread::spawn(|| {
            let runtime = tokio::runtime::Runtime::new().expect("runtime");
            runtime.block_on(start_server())
        })
        .join()
        .expect("the database set-up thread panicked")
    })
}

async fn start_server() -> Server {
    let (maintenance_url, cluster) = match std::env::var("DATABASE_URL") {
        Ok(url) if !url.trim().is_empty() => (url, None),
        _ => {
            let dir = std::env::temp_dir().join(format!("holdfast-test-pg-{}", std::process::id()));
            let options = db::embedded::Options {
                settings: vec![
                    ("fsync".into(), "off".into()),
                    ("synchronous_commit".into(), "off".into()),
                    ("full_page_writes".into(), "off".into()),
                    ("max_connections".into(), "300".into()),
                ],
                remove_on_stop: true,
            };
            let cluster = EmbeddedPostgres::start(&dir, &options).unwrap_or_else(|e| {
                panic!("could not start a private PostgreSQL for the tests: {e:#}")
            });
            (cluster.url("postgres"), Some(cluster))
        }
    };
    let template = format!("holdfast_tpl_{}", migrations_fingerprint());
    let lock_url = maintenance_url.clone();
    // Concurrent test runs on one server build the template once.
    with_advisory_lock(&lock_url, async {
        let exists = database_exists(&maintenance_url, &template).await;
        if !exists {
            let building = format!("{template}_build_{}", std::process::id());
            db::create_database(&maintenance_url, &building)
                .await
                .expect("create template");
            db::migrate(&db::with_database(&maintenance_url, &building))
                .await
                .expect("migrate the template");
            execute(
                &maintenance_url,
                &format!("ALTER DATABASE \"{building}\" RENAME TO \"{template}\""),
            )
            .await;
        }
    })
    .await;
    Server {
        maintenance_url,
        template,
        _cluster: cluster,
    }
}

fn migrations_fingerprint() -> String {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let mut files: Vec<_> = walk(&dir);
    files.sort();
    let mut hasher = Sha256::new();
    for file in files {
        hasher.update(file.to_string_lossy().as_bytes());
        hasher.update(std::fs::read(&file).expect("read migration"));
    }
    hex::encode(&hasher.finalize()[..8])
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("migrations dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

async fn connect(url: &str) -> diesel_async::AsyncPgConnection {
    use diesel_async::AsyncConnection;
    diesel_async::AsyncPgConnection::establish(url)
        .await
        .expect("connect")
}

async fn execute(url: &str, sql: &str) {
    use diesel_async::RunQueryDsl;
    let mut conn = connect(url).await;
    diesel::sql_query(sql)
        .execute(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

async fn database_exists(url: &str, name: &str) -> bool {
    use diesel_async::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let mut conn = connect(url).await;
    let rows: Vec<Count> =
        diesel::sql_query("SELECT count(*) AS n FROM pg_database WHERE datname = $1")
            .bind::<diesel::sql_types::Text, _>(name)
            .load(&mut conn)
            .await
            .expect("query pg_database");
    rows[0].n > 0
}

async fn with_advisory_lock<F: std::future::Future<Output = ()>>(url: &str, work: F) {
    use diesel_async::RunQueryDsl;
    let mut conn = connect(url).await;
    diesel::sql_query("SELECT pg_advisory_lock(727272)")
        .execute(&mut conn)
        .await
        .expect("lock");
    work.await;
    diesel::sql_query("SELECT pg_advisory_unlock(727272)")
        .execute(&mut conn)
        .await
        .expect("unlock");
}

pub fn config() -> Config {
    let secret = JWT_SECRET.to_owned();
    Config::from_lookup(
        move |name| (name == "HOLDFAST_JWT_SECRET").then(|| secret.clone()),
        SecretPolicy::Required,
    )
    .expect("test config")
}

/// One test's world: its own database and a running app.
pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub pool: DbPool,
    pub database_url: String,
    database: String,
    server: actix_web::dev::ServerHandle,
}

impl TestApp {
    pub async fn spawn() -> Self {
        let server = server();
        let database = format!("holdfast_test_{}", Uuid::new_v4().simple());
        db::create_database_from(&server.maintenance_url, &database, Some(&server.template))
            .await
            .expect("clone the template database");
        let database_url = db::with_database(&server.maintenance_url, &database);
        let pool = db::pool(&database_url, 8).expect("pool");
        let state = web::Data::new(AppState::new(pool.clone(), &config()));
        Self::serve(state, pool, database_url, database)
    }

    /// An app over a pool that cannot reach any database.
    pub async fn spawn_without_database() -> Self {
        let closed = TcpListener::bind("127.0.0.1:0").expect("port");
        let port = closed.local_addr().expect("addr").port();
        drop(closed);
        let url = format!("postgres://nobody@127.0.0.1:{port}/none");
        let pool = db::pool(&url, 2).expect("pool");
        let state = web::Data::new(AppState::new(pool.clone(), &config()));
        Self::serve(state, pool, url, String::new())
    }

    fn serve(
        state: web::Data<AppState>,
        pool: DbPool,
        database_url: String,
        database: String,
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let server = HttpServer::new(move || app::app(state.clone()))
            .workers(2)
            .keep_alive(SERVER_KEEP_ALIVE)
            .disable_signals()
            .listen(listener)
            .expect("listen")
            .run();
        let handle = server.handle();
        tokio::spawn(server);
        Self {
            base: format!("http://127.0.0.1:{port}"),
            client: test_client(),
            pool,
            database_url,
            database,
            server: handle,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn request(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Reply {
        self.request_with(method, path, token, body, &[]).await
    }

    pub async fn request_with(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut request = self.client.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        Reply::from(request.send().await.expect("request sent")).await
    }

    /// A request whose body is raw bytes of `content_type` (an image upload).
    pub async fn send_bytes(
        &self,
        method: &str,
        path: &str,
        token: &str,
        content_type: &str,
        bytes: Vec<u8>,
    ) -> Reply {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let request = self
            .client
            .request(method, self.url(path))
            .bearer_auth(token)
            .header("content-type", content_type)
            .body(bytes);
        Reply::from(request.send().await.expect("request sent")).await
    }

    /// The raw bytes of a GET (an image).
    pub async fn get_bytes(&self, path: &str, token: &str) -> (u16, Option<String>, Vec<u8>) {
        let response = self
            .client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("request sent");
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = response.bytes().await.expect("body").to_vec();
        (status, content_type, bytes)
    }

    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.request("GET", path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: &Value) -> Reply {
        self.request("POST", path, Some(token), Some(body)).await
    }

    /// A POST with a fresh `Idempotency-Key`, as routes that move goods or money require.
    pub async fn post_keyed(&self, path: &str, token: &str, body: &Value) -> Reply {
        let key = Uuid::new_v4().to_string();
        self.request_with(
            "POST",
            path,
            Some(token),
            Some(body),
            &[("Idempotency-Key", &key)],
        )
        .await
    }

    /// Creates an org directly in the database.
    pub async fn org(&self, name: &str, kind: OrgKind) -> Uuid {
        let mut conn = self.pool.get().await.expect("conn");
        store::insert_org(&mut conn, name, kind)
            .await
            .expect("insert org")
            .id
    }

    /// Creates a user directly in the database and logs in over HTTP.
    pub async fn user(&self, org_id: Uuid, role: Role, permissions: &[Permission]) -> Session {
        let email = format!("{}@test.holdfast", Uuid::new_v4().simple());
        {
            let mut conn = self.pool.get().await.expect("conn");
            store::insert_user(
                &mut conn,
                store::NewUserRow {
                    org_id,
                    email: &email,
                    password_hash: password_hash(),
                    role,
                    permissions,
                    created_by: None,
                },
            )
            .await
            .expect("insert user");
        }
        self.login(&email, PASSWORD).await
    }

    /// An org of `kind` and its owner, holding every permission the kind allows.
    pub async fn owner_of(&self, kind: OrgKind) -> Session {
        let org = self
            .org(
                &format!("{} {}", kind.as_str(), Uuid::new_v4().simple()),
                kind,
            )
            .await;
        self.user(org, Role::Owner, &Permission::all_for(kind))
            .await
    }

    pub async fn admin(&self) -> Session {
        self.owner_of(OrgKind::Platform).await
    }

    pub async fn login(&self, email: &str, password: &str) -> Session {
        let reply = self
            .request(
                "POST",
                "/v1/auth/login",
                None,
                Some(&json!({"email": email, "password": password})),
            )
            .await;
        assert_eq!(reply.status, 200, "login failed: {}", reply.body);
        let me = self
            .get(
                "/v1/me",
                reply.body["access_token"].as_str().expect("token"),
            )
            .await;
        Session {
            email: email.to_owned(),
            access_token: reply.body["access_token"]
                .as_str()
                .expect("token")
                .to_owned(),
            refresh_token: reply.body["refresh_token"]
                .as_str()
                .expect("token")
                .to_owned(),
            user_id: me.body["user_id"]
                .as_str()
                .expect("user id")
                .parse()
                .expect("uuid"),
            org_id: me.body["org"]["id"]
                .as_str()
                .expect("org id")
                .parse()
                .expect("uuid"),
        }
    }

    /// Runs `sql` on this test's database (for tampering tests).
    /// Takes this test's database away as a stopping server would: no new connections, and
    /// every open one terminated ("terminating connection due to administrator command").
    pub async fn cut_database(&self) {
        let server = server();
        execute(
            &server.maintenance_url,
            &format!("ALTER DATABASE {} ALLOW_CONNECTIONS false", self.database),
        )
        .await;
        execute(
            &server.maintenance_url,
            &format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{}'",
                self.database
            ),
        )
        .await;
    }

    /// Gives the database back after [`TestApp::cut_database`].
    pub async fn restore_database(&self) {
        execute(
            &server().maintenance_url,
            &format!("ALTER DATABASE {} ALLOW_CONNECTIONS true", self.database),
        )
        .await;
    }

    pub async fn sql(&self, sql: &str) {
        execute(&self.database_url, sql).await;
    }

    /// One value, as text, of a query answering one row (`SELECT … AS v`).
    pub async fn value(&self, sql: &str) -> String {
        use diesel_async::RunQueryDsl;
        #[derive(diesel::QueryableByName)]
        struct Text {
            #[diesel(sql_type = diesel::sql_types::Text)]
            v: String,
        }
        let mut conn = self.pool.get().await.expect("conn");
        let row: Text = diesel::sql_query(format!("SELECT ({sql})::text AS v"))
            .get_result(&mut conn)
            .await
            .expect("value");
        row.v
    }

    pub async fn count(&self, table: &str) -> i64 {
        use diesel_async::RunQueryDsl;
        #[derive(diesel::QueryableByName)]
        struct Count {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let mut conn = self.pool.get().await.expect("conn");
        let rows: Vec<Count> = diesel::sql_query(format!("SELECT count(*) AS n FROM {table}"))
            .load(&mut conn)
            .await
            .expect("count");
        rows[0].n
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if self.database.is_empty() {
            return;
        }
        // Ask the server to stop without waiting: it runs on this test's runtime, which this
        // thread is about to block.
        drop(self.server.stop(false));
        let maintenance = server().maintenance_url.clone();
        let database = self.database.clone();
        // Dropping happens inside the test's runtime; do the async clean-up on a thread of its own.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                execute(
                    &maintenance,
                    &format!("DROP DATABASE IF EXISTS \"{database}\" WITH (FORCE)"),
                )
                .await;
            });
        })
        .join();
    }
}

fn password_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| holdfast::auth::password::hash_blocking(PASSWORD).expect("hash"))
}

#[derive(Clone, Debug)]
pub struct Session {
    pub email: String,
    pub access_token: String,
    pub refresh_token: String,
    pub user_id: Uuid,
    pub org_id: Uuid,
}

impl Session {
    pub fn token(&self) -> &str {
        &self.access_token
    }
}

#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Reply {
    async fn from(response: reqwest::Response) -> Self {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.expect("body");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Self {
            status,
            headers,
            body,
            text,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts the error envelope with this status and code.
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(
            self.status, status,
            "unexpected status; body: {}",
            self.text
        );
        assert_eq!(
            self.body["error"]["code"], code,
            "unexpected code; body: {}",
            self.text
        );
        assert!(
            self.body["error"]["message"].is_string(),
            "no message: {}",
            self.text
        );
    }

    pub fn field(&self) -> &str {
        self.body["error"]["details"]["field"]
            .as_str()
            .unwrap_or("")
    }
}
