//! The test harness: a real PostgreSQL for every test.
//!
//! One throwaway cluster per test process, made with the installed `initdb` /
//! `pg_ctl` (as the `postgres` OS user when running as root, since PostgreSQL
//! refuses root), with `wal_level=logical`; or the server named by
//! `FISCAL_TEST_DATABASE_URL`. A template database is migrated once; each test gets
//! its own database cloned from it, dropped when the test ends. A watchdog process
//! stops the cluster and deletes its files when the test process exits, however
//! it exits.
//!
//! Workers connect as they do in production: as a LOGIN role with a password that
//! is a member of `fiscal_worker` (sql/migrations/0005), never as the superuser.
//! Test setup (inserting rows, importing, migrating) keeps the superuser URL.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anyhow::Context;
use fiscal::config::Settings;
use fiscal::db::Pool;
pub use fiscal::pg_server::{self, give_to_postgres, is_root, run};
use tokio_postgres::{Client, NoTls};
use uuid::Uuid;

pub struct Cluster {
    /// Superuser URL of the maintenance database (`postgres`).
    admin_url: String,
    template: String,
    /// Present for clusters this harness started.
    _local: Option<LocalCluster>,
}

pub struct LocalCluster {
    pub root: PathBuf,
    pub port: u16,
    bin: PathBuf,
    /// Extra `-c name=value` server settings (TLS clusters).
    settings: Vec<String>,
}

static SHARED: OnceLock<Cluster> = OnceLock::new();

/// The cluster shared by every test of this process.
pub fn cluster() -> &'static Cluster {
    SHARED.get_or_init(|| {
        install_prerequisites();
        let cluster = match std::env::var("FISCAL_TEST_DATABASE_URL") {
            Ok(url) if !url.trim().is_empty() => Cluster {
                admin_url: url,
                template: format!("fiscal_tpl_{}", Uuid::new_v4().simple()),
                _local: None,
            },
            _ => {
                let local = LocalCluster::start().expect("starting a throwaway PostgreSQL cluster");
                Cluster {
                    admin_url: local.url("postgres"),
                    template: "fiscal_template".into(),
                    _local: Some(local),
                }
            }
        };
        block_on(cluster.create_template());
        cluster
    })
}

/// `cargo test` on a fresh machine: the Debian packages the suite needs
/// (PostgreSQL, wal2json, PgBouncer, openssl) are installed by the same script CI
/// uses, which does nothing when they are there.
fn install_prerequisites() {
    let script = repo_path(".ci/prerequisites");
    let out = Command::new(&script)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", script.display()));
    assert!(
        out.status.success(),
        "the test prerequisites are missing:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs a future to completion on a runtime of its own, from sync code (the
/// OnceLock initialiser, Drop).
pub fn block_on<F: std::future::Future + Send>(f: F) -> F::Output
where
    F::Output: Send,
{
    std::thread::scope(|s| {
        s.spawn(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a tokio runtime")
                .block_on(f)
        })
        .join()
        .expect("harness thread panicked")
    })
}

pub async fn connect(url: &str) -> Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .unwrap_or_else(|e| panic!("connecting to {url}: {e}"));
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}

/// Replaces the database name of a URL.
fn with_dbname(url: &str, dbname: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let base = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{dbname}?{q}"),
        None => format!("{base}/{dbname}"),
    }
}

/// Test-only tables, created in the template after the real migrations:
/// `test.runs` records every pipeline run (which worker, which attempt) and
/// `test.completions` every transition to `completed`, so tests can prove that
/// nothing ran or completed twice.
const TEST_SCHEMA: &str = "
create schema test;
create table test.runs (
    investigation_id uuid not null,
    worker text not null,
    attempt integer not null,
    started_at timestamptz not null default clock_timestamp(),
    stopped_at timestamptz,
    outcome text
);
create table test.completions (
    investigation_id uuid not null,
    at timestamptz not null default clock_timestamp()
);
create function test.record_completion() returns trigger language plpgsql as $$
begin
    if new.status = 'completed' and old.status <> 'completed' then
        insert into test.completions (investigation_id) values (new.id);
    end if;
    return new;
end $$;
create trigger record_completion after update on public.investigations
    for each row execute function test.record_completion();
-- The trigger runs as the worker, and worker processes record their runs.
grant usage on schema test to fiscal_worker;
grant select, insert, update on test.runs to fiscal_worker;
grant insert on test.completions to fiscal_worker;
";

/// The LOGIN role test workers connect as, and its password: a string that must
/// never show up in a log line or an error message.
pub const WORKER_LOGIN: &str = "fiscal_test_worker";
pub const WORKER_PASSWORD: &str = "pw-Q7vX2kLm9-never-printed";

/// Creates (or refreshes) the worker's login role on a migrated cluster. Roles are
/// cluster-wide and test processes may share a server: tolerate a concurrent
/// creator.
pub async fn ensure_worker_login(admin_url: &str) {
    let client = connect(admin_url).await;
    client
        .batch_execute(&format!(
            "do $$ begin
                 if not exists (select 1 from pg_roles where rolname = '{WORKER_LOGIN}') then
                     begin
                         create role {WORKER_LOGIN} login password '{WORKER_PASSWORD}';
                     exception when duplicate_object or unique_violation then null;
                     end;
                 end if;
             end $$;
             alter role {WORKER_LOGIN} login nosuperuser nobypassrls password '{WORKER_PASSWORD}';
             grant fiscal_worker to {WORKER_LOGIN};"
        ))
        .await
        .expect("creating the worker's login role (the test server URL must be a superuser's)");
}

/// The same database as `url`, as the worker's login role.
pub fn worker_url(url: &str) -> String {
    with_user(url, WORKER_LOGIN, WORKER_PASSWORD)
}

/// Replaces the user and password of a URL.
pub fn with_user(url: &str, user: &str, password: &str) -> String {
    let scheme_end = url.find("://").map(|i| i + 3).unwrap_or(0);
    let rest = &url[scheme_end..];
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let host = match rest[..authority_end].rfind('@') {
        Some(at) => &rest[at + 1..],
        None => rest,
    };
    format!("{}{user}:{password}@{host}", &url[..scheme_end])
}

/// Adds the test-only tables to a migrated database.
pub async fn prepare_test_schema(url: &str) {
    let client = connect(url).await;
    client
        .batch_execute(TEST_SCHEMA)
        .await
        .expect("creating test tables");
}

impl Cluster {
    pub fn url(&self, dbname: &str) -> String {
        with_dbname(&self.admin_url, dbname)
    }

    async fn create_template(&self) {
        let admin = connect(&self.admin_url).await;
        for statement in [
            format!("drop database if exists {}", self.template),
            format!("create database {}", self.template),
        ] {
            admin
                .batch_execute(&statement)
                .await
                .expect("creating the template database");
        }
        let mut settings = test_settings(&self.url(&self.template));
        settings.worker.max_attempts = 3;
        fiscal::db::migrate::run(&settings)
            .await
            .expect("migrating the template");
        prepare_test_schema(&self.url(&self.template)).await;
        ensure_worker_login(&self.admin_url).await;
    }

    /// A fresh database cloned from the migrated template.
    pub async fn database(&'static self) -> TestDb {
        let name = format!("t_{}", Uuid::new_v4().simple());
        let admin = connect(&self.admin_url).await;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match admin
                .batch_execute(&format!(
                    "create database {name} template {}",
                    self.template
                ))
                .await
            {
                Ok(()) => break,
                // The template's last session may still be closing (55006).
                Err(e)
                    if Instant::now() < deadline && e.code().map(|c| c.code()) == Some("55006") =>
                {
                    tokio::time::sleep(Duration::from_millis(50)).await
                }
                Err(e) => panic!("creating test database {name}: {e}"),
            }
        }
        TestDb {
            url: self.url(&name),
            worker_url: worker_url(&self.url(&name)),
            admin_url: self.admin_url.clone(),
            name,
        }
    }
}

pub struct TestDb {
    /// The superuser's: for setup and for owner commands (migrate, import).
    pub url: String,
    /// The worker's login role, password included.
    pub worker_url: String,
    pub name: String,
    admin_url: String,
}

impl TestDb {
    pub async fn new() -> TestDb {
        cluster().database().await
    }

    /// A worker's settings: connected as the worker's login role, migrating as
    /// the owner.
    pub fn settings(&self) -> Settings {
        worker_settings(&self.url)
    }

    pub async fn client(&self) -> Client {
        connect(&self.url).await
    }

    pub fn pool(&self) -> Pool {
        fiscal::db::pool(&self.settings().database).expect("a pool")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        block_on(async move {
            if let Ok((client, connection)) = tokio_postgres::connect(&admin_url, NoTls).await {
                tokio::spawn(connection);
                let _ = client
                    .batch_execute(&format!("drop database if exists {name} with (force)"))
                    .await;
            }
        });
    }
}

/// An empty database (from template0, not the migrated template), dropped at
/// the end like a TestDb.
pub struct EmptyDb {
    pub url: String,
    pub name: String,
}

impl EmptyDb {
    pub async fn new() -> Self {
        let cluster = cluster();
        let name = format!("e_{}", Uuid::new_v4().simple());
        let admin = connect(&cluster.url("postgres")).await;
        admin
            .batch_execute(&format!("create database {name} template template0"))
            .await
            .expect("creating an empty database");
        Self {
            url: cluster.url(&name),
            name,
        }
    }
}

impl Drop for EmptyDb {
    fn drop(&mut self) {
        let admin = cluster().url("postgres");
        let name = self.name.clone();
        block_on(async move {
            let client = connect(&admin).await;
            let _ = client
                .batch_execute(&format!("drop database if exists {name} with (force)"))
                .await;
        });
    }
}

/// Settings for tests: the defaults, with intervals short enough that tests wait
/// for behaviour rather than timers.
pub fn test_settings(url: &str) -> Settings {
    let mut s = Settings::default();
    s.database.url = url.to_string();
    s.database.max_connections = 8;
    s.database.statement_timeout_seconds = 10;
    s.worker.poll_interval_ms = 500;
    s.worker.progress_interval_ms = 50;
    s.worker.sweep_interval_seconds = 1;
    s.worker.shutdown_grace_seconds = 5;
    s.worker.backoff_base_seconds = 1.0;
    s.worker.max_attempts = 3;
    s.log.format = fiscal::config::LogFormat::Human;
    // Many workers share this machine; a test that scrapes gives its own port.
    s.http.listen = String::new();
    s
}

/// [`test_settings`] for a worker of the database at the superuser URL `url`.
pub fn worker_settings(url: &str) -> Settings {
    let mut s = test_settings(&worker_url(url));
    s.database.migrate_url = url.to_string();
    s
}

/// Polls `check` until it returns Some, failing the test after `limit`.
pub async fn eventually<T, F, Fut>(limit: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A memory figure of process `pid` from /proc (`VmRSS`, `VmHWM`…), in KiB.
pub fn proc_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// The uid and gid a server process must run as: `postgres` when we are root
/// (PostgreSQL and PgBouncer refuse root), ourselves otherwise.
pub fn server_user() -> Option<(u32, u32)> {
    if !is_root() {
        return None;
    }
    let id = |flag: &str| {
        Command::new("id")
            .args([flag, "postgres"])
            .output()
            .ok()
            .and_then(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .trim()
                    .parse::<u32>()
                    .ok()
            })
            .expect("the postgres OS user exists")
    };
    Some((id("-u"), id("-g")))
}

fn free_port() -> u16 {
    pg_server::free_port().expect("a free port on 127.0.0.1")
}

impl LocalCluster {
    /// initdb + pg_ctl start in a fresh folder under the system temp dir (reachable
    /// by the postgres user, unlike the checkout's parents).
    pub fn start() -> anyhow::Result<LocalCluster> {
        Self::start_with(|_| Vec::new(), None)
    }

    /// Like [`LocalCluster::start`], with extra server settings (`name=value`) and,
    /// when given, this `pg_hba.conf` instead of initdb's. `settings` gets the
    /// cluster's folder first, to put files there (certificates) that are removed
    /// with it.
    pub fn start_with(
        settings: impl FnOnce(&Path) -> Vec<String>,
        hba: Option<&str>,
    ) -> anyhow::Result<LocalCluster> {
        let root = std::env::temp_dir().join(format!("fiscal-test-{}", Uuid::new_v4().simple()));
        std::fs::create_dir_all(&root)?;
        let settings = settings(&root);
        let cluster = LocalCluster {
            root,
            port: free_port(),
            bin: pg_server::bin_dir()
                .context("install postgresql, or set FISCAL_TEST_DATABASE_URL")?,
            settings,
        };
        give_to_postgres(&cluster.root)?;
        run(cluster
            .pg_command("initdb")
            .args([
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
                "-D",
            ])
            .arg(cluster.data()))?;
        match hba {
            Some(hba) => {
                let path = cluster.data().join("pg_hba.conf");
                std::fs::write(&path, hba)?;
                give_to_postgres(&path)?;
            }
            None => cluster.require_passwords()?,
        }
        cluster.watchdog()?;
        cluster.start_server()?;
        Ok(cluster)
    }

    pub fn url(&self, dbname: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{dbname}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// What the server logged so far.
    pub fn server_log(&self) -> String {
        std::fs::read_to_string(self.root.join("server.log")).unwrap_or_default()
    }

    /// The superuser stays password-less for setup, but every other role must
    /// give its password (scram-sha-256), as on Supabase: a wrong one is refused.
    fn require_passwords(&self) -> anyhow::Result<()> {
        std::fs::write(
            self.data().join("pg_hba.conf"),
            "local all all trust\n\
             host all postgres 127.0.0.1/32 trust\n\
             host all all 127.0.0.1/32 scram-sha-256\n",
        )
        .context("writing pg_hba.conf")
    }

    fn data(&self) -> PathBuf {
        self.root.join("data")
    }

    fn pg_command(&self, program: &str) -> Command {
        pg_server::command(&self.bin, program)
    }

    /// Durability is traded for speed where a crash cannot lose data: fsync=off
    /// only matters if the machine goes down, but synchronous_commit stays on, since
    /// the restart test stops the server as a crash would.
    pub fn start_server(&self) -> anyhow::Result<()> {
        let mut options = format!(
            "-c port={} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} \
             -c wal_level=logical -c max_replication_slots=10 -c max_wal_senders=10 \
             -c fsync=off -c full_page_writes=off \
             -c max_connections=400 -c shared_buffers=128MB",
            self.port,
            self.root.display()
        );
        for setting in &self.settings {
            options.push_str(&format!(" -c {setting}"));
        }
        run(self
            .pg_command("pg_ctl")
            .args(["-w", "-t", "60", "-o", &options, "-l"])
            .arg(self.root.join("server.log"))
            .arg("-D")
            .arg(self.data())
            .arg("start"))
    }

    /// Stops the server at once, like a crash or a failover would.
    pub fn stop_server(&self) -> anyhow::Result<()> {
        self.stop_server_with("immediate")
    }

    /// Stops the server in pg_ctl's shutdown `mode`: `smart`, `fast` (sessions
    /// are ended, as for a planned restart) or `immediate`.
    pub fn stop_server_with(&self, mode: &str) -> anyhow::Result<()> {
        run(self
            .pg_command("pg_ctl")
            .args(["-w", "-m", mode, "-D"])
            .arg(self.data())
            .arg("stop"))
    }

    /// A shell loop that outlives nothing: when this process is gone, it stops the
    /// server and removes the folder. It ignores SIGINT so that Ctrl-C on the test
    /// run still leads to cleanup.
    fn watchdog(&self) -> anyhow::Result<()> {
        let ctl = self.bin.join("pg_ctl");
        let as_postgres = if is_root() {
            "runuser -u postgres -- "
        } else {
            ""
        };
        let script = format!(
            "trap '' INT HUP; while kill -0 {pid} 2>/dev/null; do sleep 1; done; \
             {as_postgres}{ctl} -D '{data}' -m immediate stop >/dev/null 2>&1; rm -rf '{root}'",
            pid = std::process::id(),
            ctl = ctl.display(),
            data = self.data().display(),
            root = self.root.display(),
        );
        Command::new("sh")
            .arg("-c")
            .arg(script)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map(|_| ())
            .context("starting the cluster's watchdog")
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        let _ = self.stop_server();
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// A citizen in `auth.users`.
pub async fn add_user(client: &Client) -> Uuid {
    let id = Uuid::new_v4();
    client
        .execute(
            "insert into auth.users (id, email) values ($1, $2)",
            &[&id, &format!("{id}@example.org")],
        )
        .await
        .expect("adding a user");
    id
}

/// Inserts a pending investigation as the back office would (owner role).
pub async fn enqueue(client: &Client, user: Uuid, query: &str) -> Uuid {
    client
        .query_one(
            "insert into investigations (user_id, query, data_source) values ($1, $2, 'contracts') returning id",
            &[&user, &query],
        )
        .await
        .expect("enqueueing")
        .get(0)
}

/// Inserts `n` pending investigations running `query`, for one citizen, at once.
pub async fn enqueue_many(client: &Client, user: Uuid, query: &str, n: i32) {
    client
        .execute(
            "insert into investigations (user_id, query, data_source)
             select $1, $2, 'contracts' from generate_series(1, $3)",
            &[&user, &query, &n],
        )
        .await
        .expect("seed");
}

/// One citizen insert as PostgREST sends it (one transaction, role and claims
/// set locally), with the JSON columns given as text so that values serde_json
/// cannot hold (1e400) reach the server as the frontend would send them.
pub async fn citizen_insert(
    client: &Client,
    user: Uuid,
    query: &str,
    filters: &str,
    anomaly_types: &str,
    session_id: Option<&str>,
) -> Result<Uuid, tokio_postgres::Error> {
    citizen_insert_into(
        client,
        user,
        "contracts",
        query,
        filters,
        anomaly_types,
        session_id,
    )
    .await
}

/// A citizen's investigation of `data_source`, inserted through RLS; panics
/// when the insert is refused.
pub async fn ask(
    client: &Client,
    user: Uuid,
    data_source: &str,
    query: &str,
    filters: serde_json::Value,
    anomaly_types: serde_json::Value,
) -> Uuid {
    citizen_insert_into(
        client,
        user,
        data_source,
        query,
        &filters.to_string(),
        &anomaly_types.to_string(),
        None,
    )
    .await
    .expect("citizen insert")
}

/// [`citizen_insert`] for any `data_source`.
pub async fn citizen_insert_into(
    client: &Client,
    user: Uuid,
    data_source: &str,
    query: &str,
    filters: &str,
    anomaly_types: &str,
    session_id: Option<&str>,
) -> Result<Uuid, tokio_postgres::Error> {
    let claims = serde_json::json!({"sub": user, "role": "authenticated"}).to_string();
    client
        .batch_execute(&format!(
            "begin; select set_config('role', 'authenticated', true);
             select set_config('request.jwt.claims', '{claims}', true);"
        ))
        .await
        .expect("a citizen session");
    let inserted = client
        .query_one(
            "insert into investigations (query, data_source, filters, anomaly_types, session_id)
             values ($1, $5, $2::text::jsonb, $3::text::jsonb, $4) returning id",
            &[&query, &filters, &anomaly_types, &session_id, &data_source],
        )
        .await;
    match inserted {
        Ok(row) => {
            client.batch_execute("commit").await.expect("commit");
            Ok(row.get(0))
        }
        Err(e) => {
            client.batch_execute("rollback").await.expect("rollback");
            Err(e)
        }
    }
}

/// The citizen who owns `id` cancels it, as the frontend does: through RLS.
pub async fn cancel_as_citizen(client: &Client, id: Uuid) {
    let user: Uuid = client
        .query_one("select user_id from investigations where id = $1", &[&id])
        .await
        .expect("the investigation exists")
        .get(0);
    client
        .batch_execute(&format!(
            "begin; select set_config('role', 'authenticated', true);
             select set_config('request.jwt.claims', '{{\"sub\":\"{user}\",\"role\":\"authenticated\"}}', true);
             update investigations set status = 'cancelled' where id = '{id}'; commit;"
        ))
        .await
        .expect("the citizen cancels");
}

/// The columns tests look at.
#[derive(Debug, Clone, PartialEq)]
pub struct Investigation {
    pub status: String,
    pub current_phase: Option<String>,
    pub progress: Option<f64>,
    pub attempts: i32,
    pub error_message: Option<String>,
    pub completed_at: Option<chrono::DateTime<chrono::Utc>>,
    pub processing_time_ms: Option<i32>,
    pub total_records_analyzed: i32,
    pub run_after: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
    pub metadata: serde_json::Value,
    pub locked_by: Option<String>,
    pub run_after_in_future: bool,
}

pub async fn fetch(client: &Client, id: Uuid) -> Investigation {
    let r = client
        .query_one(
            "select status, current_phase, progress, attempts, error_message, completed_at,
                    processing_time_ms, run_after, updated_at, investigation_metadata, locked_by,
                    run_after > now(), coalesce(total_records_analyzed, 0)
             from investigations where id = $1",
            &[&id],
        )
        .await
        .expect("fetching an investigation");
    Investigation {
        status: r.get(0),
        current_phase: r.get(1),
        progress: r.get(2),
        attempts: r.get(3),
        error_message: r.get(4),
        completed_at: r.get(5),
        processing_time_ms: r.get(6),
        run_after: r.get(7),
        updated_at: r.get(8),
        metadata: r.get(9),
        locked_by: r.get(10),
        run_after_in_future: r.get(11),
        total_records_analyzed: r.get(12),
    }
}

/// Waits until the investigation satisfies `done`, and returns it.
pub async fn wait_for(
    client: &Client,
    id: Uuid,
    limit: Duration,
    what: &str,
    done: impl Fn(&Investigation) -> bool,
) -> Investigation {
    eventually(limit, what, || async {
        let row = fetch(client, id).await;
        done(&row).then_some(row)
    })
    .await
}

/// Runs a worker in this process until the returned guard is dropped or stopped.
pub struct RunningWorker {
    stop: tokio_util::sync::CancellationToken,
    task: tokio::task::JoinHandle<anyhow::Result<fiscal::worker::RunReport>>,
}

impl RunningWorker {
    pub fn start(settings: Settings, pipelines: fiscal::pipeline::Pipelines) -> Self {
        Self::spawn(fiscal::worker::Worker::new(settings, pipelines))
    }

    pub fn spawn(worker: fiscal::worker::Worker) -> Self {
        let stop = tokio_util::sync::CancellationToken::new();
        let signal = stop.clone();
        let task =
            tokio::spawn(async move { worker.run(async move { signal.cancelled().await }).await });
        Self { stop, task }
    }

    /// True once the worker returned, by itself or with an error.
    pub fn has_ended(&self) -> bool {
        self.task.is_finished()
    }

    pub async fn stop(self) -> fiscal::worker::RunReport {
        self.stop.cancel();
        self.task
            .await
            .expect("worker task")
            .expect("worker ran without error")
    }
}

/// Runs a draining worker with the pipelines this build ships, to the end.
pub async fn drain_builtin(db: &TestDb) -> fiscal::worker::RunReport {
    drain_builtin_with(db.settings()).await
}

/// [`drain_builtin`] with settings of the test's choosing.
pub async fn drain_builtin_with(settings: Settings) -> fiscal::worker::RunReport {
    let pipelines = fiscal::pipeline::Pipelines::builtin(&settings).expect("pipelines");
    drain(settings, pipelines).await
}

/// Runs a draining worker to the end.
pub async fn drain(
    settings: Settings,
    pipelines: fiscal::pipeline::Pipelines,
) -> fiscal::worker::RunReport {
    drain_within(Duration::from_secs(120), settings, pipelines).await
}

/// [`drain`], failing the test after `limit`.
pub async fn drain_within(
    limit: Duration,
    settings: Settings,
    pipelines: fiscal::pipeline::Pipelines,
) -> fiscal::worker::RunReport {
    tokio::time::timeout(
        limit,
        fiscal::worker::Worker::new(settings, pipelines)
            .drain(true)
            .run(std::future::pending()),
    )
    .await
    .expect("draining worker finished in time")
    .expect("draining worker ran without error")
}

/// The `fiscal` binary as an operator runs it, with only what the test says: no
/// database URL or log filter from the environment, and no HTTP endpoints (tests
/// run in parallel; one that scrapes gives its own port). Killed when dropped.
pub fn fiscal_command() -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_fiscal"));
    for var in [
        "DATABASE_URL",
        "SUPABASE_DB_URL",
        "FISCAL_DATABASE__URL",
        "RUST_LOG",
    ] {
        command.env_remove(var);
    }
    command
        .env("FISCAL_HTTP__LISTEN", "")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    command
}

/// True when `FISCAL_TEST_FULL` asks for the full sizes of the fault and load
/// tests.
pub fn full() -> bool {
    std::env::var_os("FISCAL_TEST_FULL").is_some_and(|v| v != "0")
}

/// Writes one database-side setting (as `fiscal migrate` does from the config).
pub async fn set_setting(client: &Client, key: &str, value: &str) {
    client
        .execute(
            "insert into fiscal.settings (key, value) values ($1, $2::text::jsonb)
             on conflict (key) do update set value = excluded.value",
            &[&key, &value],
        )
        .await
        .unwrap_or_else(|e| panic!("setting {key}: {e}"));
}

/// Lifts the per-citizen cap and insert brake to `n`, as for a back office.
pub async fn lift_citizen_limits(client: &Client, n: i64) {
    for key in ["max_active_per_user", "max_inserts_per_minute"] {
        set_setting(client, key, &n.to_string()).await;
    }
}

/// Waits until no investigation is pending or processing.
pub async fn wait_until_all_finished(client: &Client, limit: Duration) {
    eventually(limit, "every investigation to finish", || async {
        let open: i64 = client
            .query_one(
                "select count(*) from investigations where status not in ('completed', 'failed')",
                &[],
            )
            .await
            .ok()?
            .get(0);
        (open == 0).then_some(())
    })
    .await
}

/// `fiscal work`, the real binary, on `db` as its worker login, logging to a
/// file of its own. Killed, and its log removed, when dropped.
pub struct WorkProcess {
    pub child: tokio::process::Child,
    log: PathBuf,
}

impl WorkProcess {
    pub fn start(db: &TestDb, concurrency: usize) -> WorkProcess {
        let log = std::env::temp_dir().join(format!("fiscal-work-{}.log", Uuid::new_v4().simple()));
        let file = std::fs::File::create(&log).expect("log file");
        let child = fiscal_command()
            .args(["work"])
            .env("FISCAL_DATABASE__URL", &db.worker_url)
            .env("FISCAL_DATABASE__MIGRATE_URL", &db.url)
            .env("FISCAL_WORKER__CONCURRENCY", concurrency.to_string())
            .env("FISCAL_LOG__FORMAT", "human")
            .env("RUST_LOG", "info")
            .stdout(Stdio::from(file.try_clone().expect("log handle")))
            .stderr(Stdio::from(file))
            .spawn()
            .expect("starting fiscal work");
        WorkProcess { child, log }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for WorkProcess {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        let _ = std::fs::remove_file(&self.log);
    }
}

/// Everything a finished command printed, stdout then stderr.
pub fn printed(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A file of the repository.
pub fn repo_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// A real PgBouncer in front of one test database, started in the foreground as a
/// child process (as the `postgres` OS user when we are root: PgBouncer refuses
/// root) and killed when dropped; a watchdog kills it if this process dies first.
pub struct PgBouncer {
    pub port: u16,
    dir: PathBuf,
    child: std::process::Child,
    user: String,
    dbname: String,
}

impl PgBouncer {
    /// Transaction pooling for the database at `url`, with at most `pool_size` server connections.
    pub fn start(url: &str, pool_size: u32) -> PgBouncer {
        let server: tokio_postgres::Config = url.parse().expect("the test database URL parses");
        let dbname = server.get_dbname().expect("a database name").to_string();
        let host = match server.get_hosts().first() {
            Some(tokio_postgres::config::Host::Tcp(host)) => host.clone(),
            _ => panic!("PgBouncer tests need a TCP test database URL"),
        };
        let server_port = server.get_ports().first().copied().unwrap_or(5432);
        let user = server.get_user().unwrap_or("postgres").to_string();
        let password = server
            .get_password()
            .map(|p| format!(" password={}", String::from_utf8_lossy(p)))
            .unwrap_or_default();
        let dir =
            std::env::temp_dir().join(format!("fiscal-pgbouncer-{}", Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("a folder for pgbouncer.ini");
        let port = free_port();
        let ini = format!(
            "[databases]
{dbname} = host={host} port={server_port} dbname={dbname} user={user}{password}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {dir}/userlist.txt
pool_mode = transaction
default_pool_size = {pool_size}
min_pool_size = 0
reserve_pool_size = 0
max_client_conn = 200
",
            dir = dir.display(),
        );
        std::fs::write(dir.join("pgbouncer.ini"), ini).expect("writing pgbouncer.ini");
        std::fs::write(dir.join("userlist.txt"), format!("\"{user}\" \"\"\n"))
            .expect("writing userlist.txt");
        for file in ["", "pgbouncer.ini", "userlist.txt"] {
            give_to_postgres(&dir.join(file)).expect("chown the PgBouncer files");
        }
        let binary = ["/usr/sbin/pgbouncer", "/usr/bin/pgbouncer"]
            .into_iter()
            .map(PathBuf::from)
            .find(|p| p.exists())
            .unwrap_or_else(|| PathBuf::from("pgbouncer"));
        let mut command = Command::new(binary);
        command
            .arg(dir.join("pgbouncer.ini"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(
                std::fs::File::create(dir.join("pgbouncer.log"))
                    .map(Stdio::from)
                    .unwrap_or_else(|_| Stdio::null()),
            );
        if let Some((uid, gid)) = server_user() {
            std::os::unix::process::CommandExt::uid(&mut command, uid);
            std::os::unix::process::CommandExt::gid(&mut command, gid);
        }
        let child = command
            .spawn()
            .expect("starting pgbouncer (Debian package `pgbouncer`; .ci/run installs it)");
        let script = format!(
            "trap '' INT HUP; while kill -0 {me} 2>/dev/null && kill -0 {child} 2>/dev/null; \
             do sleep 1; done; kill {child} 2>/dev/null",
            me = std::process::id(),
            child = child.id(),
        );
        let _ = Command::new("sh")
            .arg("-c")
            .arg(script)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        PgBouncer {
            port,
            dir,
            child,
            user,
            dbname,
        }
    }

    /// The URL of the test database through PgBouncer, with `extra` query
    /// parameters (`pgbouncer=true`, ...).
    pub fn url(&self, extra: &str) -> String {
        let query = if extra.is_empty() {
            String::new()
        } else {
            format!("?{extra}")
        };
        format!(
            "postgres://{}@127.0.0.1:{}/{}{query}",
            self.user, self.port, self.dbname
        )
    }

    /// Waits until PgBouncer accepts connections and reaches the server.
    pub async fn ready(&self) {
        let mut settings = Settings::default();
        settings.database.url = self.url("pgbouncer=true");
        let what = format!(
            "PgBouncer to accept connections (log: {})",
            self.dir.join("pgbouncer.log").display()
        );
        eventually(Duration::from_secs(30), &what, || async {
            let (client, driver) =
                fiscal::db::connect_driven(&settings.database.url, &settings.database)
                    .await
                    .ok()?;
            let answered = client.simple_query("select 1").await.is_ok();
            drop(client);
            let _ = driver.await;
            answered.then_some(())
        })
        .await
    }
}

impl Drop for PgBouncer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
