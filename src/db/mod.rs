//! Connections: the pool every queue statement runs on, and single connections for
//! LISTEN and migrations. Every one of them is made from an [`Endpoint`], the one
//! place that reads a URL: TLS (see [`tls`]) and whether a transaction-mode pooler
//! sits in front of the database.
//!
//! Behind a transaction-mode pooler (Supavisor on port 6543, PgBouncer with
//! `pool_mode = transaction`) consecutive statements of one client may run on
//! different server sessions. Named prepared statements, session settings,
//! session advisory locks and LISTEN then break in ways that show up only under
//! load. So, in that mode, every statement goes out unnamed with its parameter
//! types given (`query_typed`: parse, bind and execute in one round trip), and the
//! worker polls instead of listening. Elsewhere the queue keeps its cached
//! prepared statements, which save the server a parse per statement.

pub mod migrate;
pub mod tls;

use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use deadpool_postgres::{
    Hook, HookError, Manager, ManagerConfig, PoolError, RecyclingMethod, Runtime,
};
use tokio_postgres::tls::MakeTlsConnect;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Row, Socket};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::config::{DatabaseSettings, Pooler};

/// How a connection may be used, decided once per URL by [`Endpoint::new`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pooling {
    /// A direct connection or a session-mode pooler: the session is ours.
    Session,
    /// A transaction-mode pooler: nothing may outlive a transaction.
    Transaction,
}

/// The Supabase/Prisma convention for "this URL goes through PgBouncer".
const PGBOUNCER_PARAM: &str = "pgbouncer";
/// Supavisor's transaction-mode port on Supabase.
const SUPAVISOR_TRANSACTION_PORT: u16 = 6543;

/// The stream type of every connection fiscal makes (TLS or, when `sslmode`
/// says so, plain: tokio-postgres wraps both).
pub type TlsStream = <MakeRustlsConnect as MakeTlsConnect<Socket>>::Stream;
pub type Connection = tokio_postgres::Connection<Socket, TlsStream>;

/// A parsed connection URL with what it implies.
pub struct Endpoint {
    pub config: tokio_postgres::Config,
    pub tls: MakeRustlsConnect,
    pub pooling: Pooling,
    /// The URL without its password, for errors and logs.
    pub shown: String,
}

/// What the URL says that tokio-postgres would refuse as unknown, taken out
/// before it parses the rest.
#[derive(Debug, Default, PartialEq)]
struct LibpqExtras {
    sslrootcert: Option<String>,
    pgbouncer: bool,
    verify_full: bool,
}

/// Splits libpq-only parameters off a `postgres://` URL. Key-value strings
/// (`host=… port=…`) pass through untouched.
fn split_extras(url: &str) -> Result<(String, LibpqExtras)> {
    let mut extras = LibpqExtras::default();
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_string(), extras));
    };
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "sslrootcert" => {
                extras.sslrootcert = Some(
                    percent_encoding::percent_decode_str(value)
                        .decode_utf8_lossy()
                        .into(),
                )
            }
            PGBOUNCER_PARAM => {
                extras.pgbouncer = match value {
                    "true" | "1" => true,
                    "false" | "0" => false,
                    other => bail!("database URL: pgbouncer={other} is neither true nor false"),
                }
            }
            // libpq's strictest mode: verify chain and host name. We verify both
            // whenever a CA is given, so it is `require` plus a CA that must exist.
            "sslmode" if value == "verify-full" => {
                extras.verify_full = true;
                kept.push("sslmode=require".to_string());
            }
            _ => kept.push(pair.to_string()),
        }
    }
    let url = if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok((url, extras))
}

impl Endpoint {
    /// Parses `url` with the connection settings. The error never repeats the URL,
    /// which may hold a password.
    pub fn new(url: &str, settings: &DatabaseSettings) -> Result<Endpoint> {
        let (url, extras) = split_extras(url)?;
        let mut config = tokio_postgres::Config::from_str(&url)
            .map_err(|e| anyhow::anyhow!("database URL is not valid: {e}"))?;
        if config.get_application_name().is_none() {
            config.application_name("fiscal");
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(settings.connect_timeout());
        }
        let ca_file = extras
            .sslrootcert
            .clone()
            .or_else(|| Some(settings.ca_file.trim().to_string()).filter(|f| !f.is_empty()))
            .map(PathBuf::from);
        if extras.verify_full && ca_file.is_none() {
            bail!(
                "database URL asks for sslmode=verify-full but no CA is given: set \
                 database.ca_file (or sslrootcert in the URL) to the CA that signed the \
                 server's certificate"
            );
        }
        let tls = tls::connector(ca_file.as_deref())?;
        let pooling = match settings.pooler {
            Pooler::None => Pooling::Session,
            Pooler::Transaction => Pooling::Transaction,
            Pooler::Auto if extras.pgbouncer => Pooling::Transaction,
            Pooler::Auto if config.get_ports().contains(&SUPAVISOR_TRANSACTION_PORT) => {
                Pooling::Transaction
            }
            Pooler::Auto => Pooling::Session,
        };
        Ok(Endpoint {
            shown: shown(&config),
            config,
            tls,
            pooling,
        })
    }

    /// One connection; the caller drives it (see [`connect_driven`]).
    pub async fn connect(&self) -> Result<(tokio_postgres::Client, Connection)> {
        self.config
            .connect(self.tls.clone())
            .await
            .map_err(|e| explained(e, &self.shown))
    }
}

/// A connection error with its cause spelt out when it is a certificate problem,
/// which retrying cannot fix.
pub fn explained(error: tokio_postgres::Error, shown: &str) -> anyhow::Error {
    let problem = tls::certificate_problem(&error);
    let error = anyhow::Error::new(error).context(format!("connecting to the database at {shown}"));
    match problem {
        Some(problem) => error.context(problem),
        None => error,
    }
}

/// A failure to get a pooled connection, explained like [`Endpoint::connect`]'s.
pub fn pool_error(error: PoolError, url: &str) -> anyhow::Error {
    match error {
        PoolError::Backend(e) => explained(e, &redacted(url)),
        other => anyhow::anyhow!("connecting to the database at {}: {other}", redacted(url)),
    }
}

/// SQLSTATEs that describe a moment, not the request: connection trouble (class
/// 08), a server out of connections or resources (53), shutting down, starting
/// up or ending sessions (57), conflicts between transactions (40), and a
/// server in read-only mode (25006). Waiting and trying again can succeed.
pub fn is_transient_state(code: &tokio_postgres::error::SqlState) -> bool {
    let code = code.code();
    ["08", "53", "57", "40"]
        .iter()
        .any(|class| code.starts_with(class))
        || code == "25006"
}

/// True when `error` is a refused server certificate anywhere in its chain.
pub fn is_certificate_problem(error: &anyhow::Error) -> bool {
    error.chain().any(|e| tls::certificate_problem(e).is_some())
}

/// The worker's pool. Connections are made lazily and replaced when they break, so
/// a database restart costs failed statements (retried by the caller), not the pool.
#[derive(Clone)]
pub struct Pool {
    inner: deadpool_postgres::Pool,
    pooling: Pooling,
    /// For cancel requests, which open a connection of their own.
    tls: MakeRustlsConnect,
}

pub fn pool(settings: &DatabaseSettings) -> Result<Pool> {
    build_pool(settings, None)
}

/// The queue's pool: like [`pool`], and in sessions of our own the server ends
/// any statement at `database.statement_timeout_seconds` too, the limit after
/// which the worker stops waiting for it. Without it, a statement given up on
/// (stuck behind a lock, say) would hold its backend and its locks until it
/// finished. Behind a transaction-mode pooler a SET would leak into other
/// clients' transactions, so there only the worker's own limit holds.
pub fn queue_pool(settings: &DatabaseSettings) -> Result<Pool> {
    build_pool(settings, Some(settings.statement_timeout()))
}

fn build_pool(settings: &DatabaseSettings, server_timeout: Option<Duration>) -> Result<Pool> {
    let endpoint = Endpoint::new(&settings.url, settings)?;
    let set = match (endpoint.pooling, server_timeout) {
        (Pooling::Session, Some(limit)) => Some(format!(
            "set statement_timeout = {}",
            limit.as_millis().max(1)
        )),
        _ => None,
    };
    let manager = Manager::from_config(
        endpoint.config,
        endpoint.tls.clone(),
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    let mut builder = deadpool_postgres::Pool::builder(manager)
        .max_size(settings.max_connections)
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(settings.statement_timeout()))
        .create_timeout(Some(settings.connect_timeout()));
    if let Some(set) = set {
        builder = builder.post_create(Hook::async_fn(move |client, _| {
            let set = set.clone();
            Box::pin(async move {
                client
                    .simple_query(&set)
                    .await
                    .map(|_| ())
                    .map_err(HookError::Backend)
            })
        }));
    }
    let inner = builder.build().context("building the connection pool")?;
    Ok(Pool {
        inner,
        pooling: endpoint.pooling,
        tls: endpoint.tls,
    })
}

impl Pool {
    pub async fn get(&self) -> Result<Conn, PoolError> {
        Ok(Conn {
            client: Some(self.inner.get().await?),
            pooling: self.pooling,
            abandoned: AtomicBool::new(false),
        })
    }

    /// Asks the server to cancel whatever statement `conn` is running, so that
    /// a cancelled investigation stops costing database time at once instead of
    /// when its statement ends. The cancel request travels on a connection of
    /// its own, as the protocol requires (hence the pool's TLS settings); if it
    /// fails, the statement runs to its end or to `statement_timeout`.
    pub async fn cancel_statement(&self, conn: &Conn) {
        let token = conn.cancel_token();
        if let Err(e) = token.cancel_query(self.tls.clone()).await {
            tracing::warn!(error = %e, "could not cancel a running statement");
        }
    }

    pub fn pooling(&self) -> Pooling {
        self.pooling
    }

    /// Connections open, idle and waited for, for the metrics.
    pub fn status(&self) -> deadpool_postgres::Status {
        self.inner.status()
    }
}

/// Statements this process sent through [`Conn::rows`] and [`Conn::run`]:
/// the round trips `fiscal bench` counts per investigation.
static STATEMENTS: AtomicU64 = AtomicU64::new(0);

pub fn statements_sent() -> u64 {
    STATEMENTS.load(Ordering::Relaxed)
}

/// A pooled connection that knows how its statements may be sent.
pub struct Conn {
    /// Always present until dropped; an Option so that `drop` can take it.
    client: Option<deadpool_postgres::Client>,
    pooling: Pooling,
    /// Set while a statement of [`Conn::rows`] or [`Conn::run`] waits for its
    /// answer; still set at drop when the caller gave up on it (a client-side
    /// timeout, a cancelled job).
    abandoned: AtomicBool,
}

impl Deref for Conn {
    type Target = deadpool_postgres::Client;
    fn deref(&self) -> &Self::Target {
        self.client
            .as_ref()
            .expect("a Conn holds its client until dropped")
    }
}

/// For transactions (`Client::transaction` takes `&mut`), which roll back when
/// dropped unfinished, so a connection goes back to the pool clean.
impl DerefMut for Conn {
    fn deref_mut(&mut self) -> &mut Self::Target {
        self.client
            .as_mut()
            .expect("a Conn holds its client until dropped")
    }
}

impl Drop for Conn {
    /// A connection whose statement was given up on goes, instead of back to the
    /// pool: its answer is still owed (over a cut network, perhaps not for
    /// minutes), and every statement sent after it would queue behind that.
    fn drop(&mut self) {
        if self.abandoned.load(Ordering::Relaxed) {
            if let Some(client) = self.client.take() {
                drop(deadpool_postgres::Object::take(client));
            }
        }
    }
}

/// Parameters with their PostgreSQL types, so a statement can go out unnamed.
pub type Params<'a> = [(&'a (dyn ToSql + Sync), Type)];

impl Conn {
    /// Runs a statement and returns its rows: a cached prepared statement in a
    /// session of our own, an unnamed one behind a transaction-mode pooler.
    pub async fn rows(
        &self,
        sql: &str,
        params: &Params<'_>,
    ) -> Result<Vec<Row>, tokio_postgres::Error> {
        self.sent(async {
            match self.pooling {
                Pooling::Session => {
                    let (values, types) = unzip(params);
                    let statement = self.prepare_typed_cached(sql, &types).await?;
                    self.query(&statement, &values).await
                }
                Pooling::Transaction => self.query_typed(sql, params).await,
            }
        })
        .await
    }

    /// Like [`Conn::rows`], for statements whose row count is the answer.
    pub async fn run(&self, sql: &str, params: &Params<'_>) -> Result<u64, tokio_postgres::Error> {
        self.sent(async {
            match self.pooling {
                Pooling::Session => {
                    let (values, types) = unzip(params);
                    let statement = self.prepare_typed_cached(sql, &types).await?;
                    self.execute(&statement, &values).await
                }
                Pooling::Transaction => self.execute_typed(sql, params).await,
            }
        })
        .await
    }

    /// Awaits one statement, counted, with the connection marked as owed an
    /// answer until it comes (see `abandoned`).
    async fn sent<T>(&self, statement: impl Future<Output = T>) -> T {
        STATEMENTS.fetch_add(1, Ordering::Relaxed);
        self.abandoned.store(true, Ordering::Relaxed);
        let answer = statement.await;
        self.abandoned.store(false, Ordering::Relaxed);
        answer
    }
}

fn unzip<'a>(params: &Params<'a>) -> (Vec<&'a (dyn ToSql + Sync)>, Vec<Type>) {
    params.iter().map(|(v, t)| (*v, t.clone())).unzip()
}

/// Opens `min_connections` at once, so a misconfigured URL is reported at start-up
/// rather than at the first claim.
pub async fn warm_up(pool: &Pool, settings: &DatabaseSettings) -> Result<()> {
    let mut held = Vec::with_capacity(settings.min_connections);
    for _ in 0..settings.min_connections.max(1) {
        held.push(pool.get().await.map_err(|e| pool_error(e, &settings.url))?);
    }
    Ok(())
}

/// One connection outside the pool. For LISTEN the caller drives it (see
/// `worker::listener`).
pub async fn connect(
    url: &str,
    settings: &DatabaseSettings,
) -> Result<(tokio_postgres::Client, Connection)> {
    Endpoint::new(url, settings)?.connect().await
}

/// One connection driven by a task of its own, for short commands: drop the
/// client, then await the handle, to close it cleanly.
pub async fn connect_driven(
    url: &str,
    settings: &DatabaseSettings,
) -> Result<(tokio_postgres::Client, tokio::task::JoinHandle<()>)> {
    let (client, connection) = connect(url, settings).await?;
    let driver = tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok((client, driver))
}

// Debug lives here, beside the URL parser that redacts: settings are printed
// in logs and errors, and the password must never be.
impl std::fmt::Debug for DatabaseSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Destructured, so a new field cannot be forgotten here.
        let DatabaseSettings {
            url,
            migrate_url,
            min_connections,
            max_connections,
            connect_timeout_seconds,
            statement_timeout_seconds,
            ca_file,
            pooler,
        } = self;
        let redacted = |url: &str| {
            if url.trim().is_empty() {
                String::new()
            } else {
                redacted(url)
            }
        };
        f.debug_struct("DatabaseSettings")
            .field("url", &redacted(url))
            .field("migrate_url", &redacted(migrate_url))
            .field("min_connections", min_connections)
            .field("max_connections", max_connections)
            .field("connect_timeout_seconds", connect_timeout_seconds)
            .field("statement_timeout_seconds", statement_timeout_seconds)
            .field("ca_file", ca_file)
            .field("pooler", pooler)
            .finish()
    }
}

/// The URL with its password replaced, for logs and errors.
pub fn redacted(url: &str) -> String {
    match split_extras(url).map(|(url, _)| tokio_postgres::Config::from_str(&url)) {
        Ok(Ok(config)) => shown(&config),
        _ => "<unparseable URL>".into(),
    }
}

fn shown(config: &tokio_postgres::Config) -> String {
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .map(|h| match h {
            tokio_postgres::config::Host::Tcp(name) => name.clone(),
            tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .collect();
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!(
        "postgres://{}@{}:{}/{}",
        config.get_user().unwrap_or(""),
        hosts.join(","),
        port,
        config.get_dbname().unwrap_or("")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacted_url_never_shows_the_password() {
        let shown = redacted("postgres://fiscal:s3cr3t@db.example.org:6543/postgres");
        assert!(!shown.contains("s3cr3t"), "{shown}");
        assert_eq!(shown, "postgres://fiscal@db.example.org:6543/postgres");
    }

    #[test]
    fn debug_of_a_connection_config_never_shows_the_password() {
        // Pools and managers print their tokio_postgres::Config in Debug; we rely
        // on it hiding the password.
        let config = Endpoint::new(
            "postgres://fiscal:s3cr3t@db.example.org:5432/postgres",
            &DatabaseSettings::default(),
        )
        .expect("a valid URL")
        .config;
        let shown = format!("{config:?}");
        assert!(!shown.contains("s3cr3t"), "{shown}");
    }

    fn pooling(url: &str, pooler: Pooler) -> Pooling {
        let settings = DatabaseSettings {
            pooler,
            ..DatabaseSettings::default()
        };
        Endpoint::new(url, &settings).expect("a valid URL").pooling
    }

    #[test]
    fn transaction_pooling_is_detected_from_the_port_or_the_pgbouncer_parameter() {
        let direct = "postgres://postgres@db.example.org:5432/postgres";
        let supavisor = "postgres://postgres.ref@aws-0-sa-east-1.pooler.supabase.com:6543/postgres";
        let flagged = "postgres://postgres@127.0.0.1:7000/postgres?pgbouncer=true&sslmode=disable";
        assert_eq!(pooling(direct, Pooler::Auto), Pooling::Session);
        assert_eq!(pooling(supavisor, Pooler::Auto), Pooling::Transaction);
        assert_eq!(pooling(flagged, Pooler::Auto), Pooling::Transaction);
        assert_eq!(
            pooling(supavisor, Pooler::None),
            Pooling::Session,
            "explicit wins"
        );
        assert_eq!(pooling(direct, Pooler::Transaction), Pooling::Transaction);
    }

    #[test]
    fn libpq_only_parameters_are_taken_out_before_tokio_postgres_parses_the_url() {
        let (url, extras) = split_extras(
            "postgres://u@h:5432/db?sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem&pgbouncer=true",
        )
        .expect("splits");
        assert_eq!(url, "postgres://u@h:5432/db?sslmode=require");
        assert_eq!(
            extras,
            LibpqExtras {
                sslrootcert: Some("/etc/ca.pem".into()),
                pgbouncer: true,
                verify_full: true,
            }
        );
        let err = Endpoint::new(
            "postgres://u@h/db?sslmode=verify-full",
            &DatabaseSettings::default(),
        )
        .err()
        .expect("verify-full without a CA");
        assert!(err.to_string().contains("database.ca_file"), "{err}");
    }
}
