//! Settings, in layers: built-in defaults, then `config.toml` (or `--config PATH`),
//! then the original deployment's environment names, then `FISCAL_SECTION__KEY`
//! environment variables. Every key is documented with its default in the
//! repository's `config.toml`; a test keeps that file and [`Settings::default`] equal.
//!
//! Durations carry their unit in the key name (`lease_seconds`) and are read through
//! methods that return [`Duration`], so no other module converts units.

pub mod detectors;

use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    pub database: DatabaseSettings,
    pub worker: WorkerSettings,
    pub limits: LimitSettings,
    pub analysis: AnalysisSettings,
    pub detectors: detectors::DetectorSettings,
    pub http: HttpSettings,
    pub log: LogSettings,
    pub portal: PortalSettings,
}

/// The Portal da Transparência REST API, the `portal` backend of the contracts
/// data source. Debug never shows the key (see the `Debug` impl below).
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PortalSettings {
    /// The `chave-api-dados` key (`PORTAL_TRANSPARENCIA_API_KEY`); empty turns the
    /// API off and investigations read only what `fiscal import` loaded.
    pub api_key: String,
    /// Where `/contratos` lives (`PORTAL_TRANSPARENCIA_BASE_URL`): the Portal, a
    /// mirror, or a local server in tests.
    pub base_url: String,
    /// One HTTP request, connection included.
    pub request_timeout_seconds: u64,
    /// The Portal's limits per key, by day and from 00:00 to 05:59 Brasília time.
    pub requests_per_minute: u32,
    pub night_requests_per_minute: u32,
    /// Retries of one request after a 5xx, a timeout or a lost connection, each
    /// after retry_base_ms·2^n; also how many 429 answers are waited out.
    pub max_retries: u32,
    pub retry_base_ms: u64,
    /// A 429 asking to wait longer than this gives the investigation back to the
    /// queue instead of holding a job slot.
    pub max_retry_after_seconds: u64,
    /// How long a fetched month stays fresh while it is the current month (or was
    /// when fetched), and once it had ended when fetched.
    pub fresh_hours: u64,
    pub closed_month_fresh_days: u64,
    /// Months one investigation may fetch; a longer period fails with a message
    /// asking to narrow it.
    pub max_months: u32,
}

impl Default for PortalSettings {
    fn default() -> Self {
        Self {
            api_key: String::new(),
            base_url: "https://api.portaldatransparencia.gov.br/api-de-dados".into(),
            request_timeout_seconds: 30,
            requests_per_minute: 90,
            night_requests_per_minute: 300,
            max_retries: 3,
            retry_base_ms: 1_000,
            max_retry_after_seconds: 120,
            fresh_hours: 24,
            closed_month_fresh_days: 30,
            max_months: 24,
        }
    }
}

impl std::fmt::Debug for PortalSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Destructured, so a new field cannot be forgotten here.
        let PortalSettings {
            api_key,
            base_url,
            request_timeout_seconds,
            requests_per_minute,
            night_requests_per_minute,
            max_retries,
            retry_base_ms,
            max_retry_after_seconds,
            fresh_hours,
            closed_month_fresh_days,
            max_months,
        } = self;
        let key = if api_key.is_empty() { "" } else { "<redacted>" };
        f.debug_struct("PortalSettings")
            .field("api_key", &key)
            .field("base_url", base_url)
            .field("request_timeout_seconds", request_timeout_seconds)
            .field("requests_per_minute", requests_per_minute)
            .field("night_requests_per_minute", night_requests_per_minute)
            .field("max_retries", max_retries)
            .field("retry_base_ms", retry_base_ms)
            .field("max_retry_after_seconds", max_retry_after_seconds)
            .field("fresh_hours", fresh_hours)
            .field("closed_month_fresh_days", closed_month_fresh_days)
            .field("max_months", max_months)
            .finish()
    }
}

impl PortalSettings {
    pub fn enabled(&self) -> bool {
        !self.api_key.trim().is_empty()
    }
    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_seconds)
    }
    pub fn retry_base(&self) -> Duration {
        Duration::from_millis(self.retry_base_ms)
    }
    pub fn max_retry_after(&self) -> Duration {
        Duration::from_secs(self.max_retry_after_seconds)
    }
}

/// The worker's HTTP endpoints: /healthz, /readyz, /metrics, and the web page
/// when `ui` is on (src/web). Debug hides the operator's token.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpSettings {
    /// `host:port`; empty turns the endpoints off.
    pub listen: String,
    /// Serve the web page on the same port: a citizen view (ask, watch, read) and
    /// an operator view. Off by default: in production citizens use the frontend.
    pub ui: bool,
    /// The citizen the page asks and reads as, under Row Level Security; empty
    /// means a fixed development citizen, created in `auth.users` on first ask.
    pub ui_citizen: String,
    /// The token the operator view asks for (HTTP Basic password, or `Bearer`);
    /// empty turns the operator view off.
    pub ui_token: String,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:9187".into(),
            ui: false,
            ui_citizen: String::new(),
            ui_token: String::new(),
        }
    }
}

impl std::fmt::Debug for HttpSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpSettings")
            .field("listen", &self.listen)
            .field("ui", &self.ui)
            .field("ui_citizen", &self.ui_citizen)
            .field(
                "ui_token",
                &if self.ui_token.is_empty() {
                    ""
                } else {
                    "<redacted>"
                },
            )
            .finish()
    }
}

/// The citizen of the web page when `http.ui_citizen` is empty: one fixed id,
/// so a development database keeps its questions between runs.
pub const DEVELOPMENT_CITIZEN: uuid::Uuid = uuid::uuid!("f15ca1de-0000-4000-8000-000000000001");

impl HttpSettings {
    /// The page's citizen and whether it is the development one.
    pub fn citizen(&self) -> Result<(uuid::Uuid, bool)> {
        match self.ui_citizen.trim() {
            "" => Ok((DEVELOPMENT_CITIZEN, true)),
            id => Ok((
                id.parse().with_context(|| {
                    format!("http.ui_citizen ({id:?}) must be a citizen's id (a UUID)")
                })?,
                false,
            )),
        }
    }
}

/// Debug shows the URLs without their passwords (see the `Debug` impl below), so
/// `Settings` can be logged.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseSettings {
    /// Where the worker connects. `SUPABASE_DB_URL` or `DATABASE_URL` set it too.
    pub url: String,
    /// The owner's URL, for `fiscal migrate` and `fiscal import`; empty means `url`.
    pub migrate_url: String,
    /// Connections opened at start-up and kept (`SUPABASE_MIN_CONNECTIONS`).
    pub min_connections: usize,
    /// Upper bound of the pool (`SUPABASE_MAX_CONNECTIONS`). The LISTEN connection
    /// comes on top of it.
    pub max_connections: usize,
    pub connect_timeout_seconds: u64,
    /// Limit on one queue statement: the worker stops waiting for it, treats the
    /// connection as lost and retries; in sessions of its own (no transaction
    /// pooler) the server ends the statement at the same limit.
    pub statement_timeout_seconds: u64,
    /// PEM file of the CA that signed the server's certificate; empty means none.
    /// With it, TLS connections verify the chain and the host name; without it,
    /// `sslmode=require` encrypts without authenticating the server. `sslrootcert`
    /// in a URL wins for that URL.
    pub ca_file: String,
    /// Whether a transaction-mode pooler sits in front of the database; see [`Pooler`].
    pub pooler: Pooler,
}

/// `database.pooler`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Pooler {
    /// Transaction mode when the URL says `pgbouncer=true` or uses port 6543
    /// (Supavisor's transaction port on Supabase); otherwise none.
    Auto,
    /// A direct connection or a session-mode pooler: prepared statements and LISTEN.
    None,
    /// A transaction-mode pooler: unnamed statements only, no session state, no
    /// LISTEN (the worker polls).
    Transaction,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WorkerSettings {
    /// Investigations run at once by one process.
    pub concurrency: usize,
    /// How often an idle worker looks for work when no NOTIFY arrives.
    pub poll_interval_ms: u64,
    /// Use LISTEN/NOTIFY for wake-ups and cancellations. Always off behind a
    /// transaction-mode pooler (`database.pooler`), where LISTEN does not work; the
    /// poll then does all.
    pub listen: bool,
    /// How long a claim stays valid without a progress write or heartbeat.
    pub lease_seconds: u64,
    /// How often leases of silent jobs are renewed; well below the lease.
    pub heartbeat_seconds: u64,
    /// Minimum time between two progress writes of one investigation.
    pub progress_interval_ms: u64,
    /// How often running jobs are checked for cancellation when no NOTIFY came.
    pub cancel_check_ms: u64,
    /// How often expired leases are swept back to the queue.
    pub sweep_interval_seconds: u64,
    /// After SIGTERM, how long running jobs may finish before they are released.
    pub shutdown_grace_seconds: u64,
    /// Attempts before an investigation fails for good (the default of the
    /// `max_attempts` column, written to the database by `fiscal migrate`).
    pub max_attempts: i32,
    /// Retry delay: base·2^(attempt-1), capped, with ± jitter (a fraction).
    pub backoff_base_seconds: f64,
    pub backoff_max_seconds: f64,
    pub backoff_jitter: f64,
    /// Apply pending migrations when `fiscal work` starts, instead of refusing to
    /// start on an outdated schema.
    pub migrate_on_start: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitSettings {
    /// Pending + processing investigations one citizen may have at once.
    pub max_active_per_user: i32,
    /// New investigations one citizen may create per minute (a token bucket of
    /// that size, refilled at that rate). Defaults to 20.
    pub max_inserts_per_minute: i32,
    /// Spacing of one citizen's rows in the claim order (milliseconds): with
    /// many rows waiting, a citizen holds one place per quantum, and other
    /// citizens' new rows go in between. Defaults to 1000; 0 is first come,
    /// first served.
    pub queue_quantum_ms: i32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AnalysisSettings {
    /// Anomalies kept in `results`, most serious first (`anomalies_found` counts
    /// them all). Keeps a row well under Realtime's 1 MB payload limit.
    pub results_cap: usize,
    /// Bytes of `results` JSON at most: findings that would go past it are left
    /// out (least serious first), however many the count cap allows, because a
    /// Realtime message over 1 MB never reaches the frontend.
    pub results_max_bytes: usize,
    /// Contracts one investigation may retrieve; broader filters fail with a
    /// message asking to narrow them.
    pub max_records: usize,
    /// Reais at or above which a registered value is taken for an error: reported
    /// once and kept out of the statistics (see `pipeline::sanitize`).
    pub implausible_value: f64,
    /// A question from which nothing narrows the contracts fails, with the forms
    /// understood, when more than this many contracts are imported: analysing
    /// everything would not answer it. "todos os contratos" asks for all.
    pub unfocused_question_limit: usize,
}

impl Default for AnalysisSettings {
    fn default() -> Self {
        Self {
            results_cap: 500,
            results_max_bytes: 700_000,
            max_records: 2_000_000,
            implausible_value: 50_000_000_000.0,
            unfocused_question_limit: 20_000,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable on a terminal, JSON otherwise.
    Auto,
    Human,
    Json,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSettings {
    pub format: LogFormat,
    /// A tracing filter (`info`, `fiscal=debug`); `RUST_LOG` overrides it.
    pub level: String,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        Self {
            url: "postgres://postgres@127.0.0.1:5432/postgres".into(),
            migrate_url: String::new(),
            min_connections: 1,
            max_connections: 10,
            connect_timeout_seconds: 10,
            statement_timeout_seconds: 30,
            ca_file: String::new(),
            pooler: Pooler::Auto,
        }
    }
}

impl Default for WorkerSettings {
    fn default() -> Self {
        Self {
            concurrency: 4,
            poll_interval_ms: 5_000,
            listen: true,
            lease_seconds: 60,
            heartbeat_seconds: 15,
            progress_interval_ms: 250,
            cancel_check_ms: 1_000,
            sweep_interval_seconds: 15,
            shutdown_grace_seconds: 30,
            max_attempts: 5,
            backoff_base_seconds: 5.0,
            backoff_max_seconds: 600.0,
            backoff_jitter: 0.2,
            migrate_on_start: false,
        }
    }
}

impl Default for LimitSettings {
    fn default() -> Self {
        Self {
            max_active_per_user: 5,
            max_inserts_per_minute: 20,
            queue_quantum_ms: 1000,
        }
    }
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            format: LogFormat::Auto,
            level: "info".into(),
        }
    }
}

/// The original deployment's variable names, lowest precedence first: when both
/// are set, `SUPABASE_DB_URL` wins over `DATABASE_URL`.
const LEGACY_ENV: &[(&str, &str)] = &[
    ("DATABASE_URL", "database.url"),
    ("SUPABASE_DB_URL", "database.url"),
    ("SUPABASE_MIN_CONNECTIONS", "database.min_connections"),
    ("SUPABASE_MAX_CONNECTIONS", "database.max_connections"),
    ("PORTAL_TRANSPARENCIA_API_KEY", "portal.api_key"),
    ("PORTAL_TRANSPARENCIA_BASE_URL", "portal.base_url"),
];

impl Settings {
    /// Defaults, then the file (`path`, or `config.toml` in the working directory if
    /// present), then the environment.
    pub fn load(path: Option<&Path>) -> Result<Self> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        match path {
            Some(path) => {
                if !path.is_file() {
                    bail!("configuration file {} does not exist", path.display());
                }
                figment = figment.merge(Toml::file(path));
            }
            None => figment = figment.merge(Toml::file("config.toml")),
        }
        for (name, key) in LEGACY_ENV {
            figment = figment.merge(Env::raw().only(&[name]).map(move |_| (*key).into()));
        }
        // Only FISCAL_SECTION__KEY: variables such as FISCAL_TEST_DATABASE_URL are
        // not settings and must not trip the unknown-key check.
        figment = figment.merge(
            Env::prefixed("FISCAL_")
                .filter(|key| key.as_str().contains("__"))
                .split("__"),
        );
        let settings: Settings = figment
            .extract()
            .map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))?;
        settings.validate()?;
        Ok(settings)
    }

    /// Rules between keys that the types alone cannot state. Each error names the key.
    pub fn validate(&self) -> Result<()> {
        let w = &self.worker;
        let d = &self.database;
        if d.url.trim().is_empty() {
            bail!("database.url is empty: set it, or SUPABASE_DB_URL / DATABASE_URL");
        }
        if w.concurrency == 0 {
            bail!("worker.concurrency must be at least 1");
        }
        let listen = self.http.listen.trim();
        if !listen.is_empty() && listen.parse::<std::net::SocketAddr>().is_err() {
            bail!("http.listen ({listen:?}) must be an address and port such as 127.0.0.1:9187, or empty to turn the endpoints off");
        }
        if self.http.ui && listen.is_empty() {
            bail!("http.ui is on but http.listen is empty: the web page is served on http.listen");
        }
        self.http.citizen()?;
        if d.max_connections < 2 {
            bail!(
                "database.max_connections must be at least 2 (jobs and maintenance share the pool)"
            );
        }
        if d.min_connections > d.max_connections {
            bail!(
                "database.min_connections ({}) exceeds database.max_connections ({})",
                d.min_connections,
                d.max_connections
            );
        }
        if w.heartbeat_seconds == 0 || w.heartbeat_seconds * 2 > w.lease_seconds {
            bail!(
                "worker.heartbeat_seconds ({}) must be positive and at most half of worker.lease_seconds ({}), or leases expire under live jobs",
                w.heartbeat_seconds, w.lease_seconds
            );
        }
        if w.progress_interval_ms == 0 || w.progress_interval_ms >= w.heartbeat_seconds * 1000 {
            bail!("worker.progress_interval_ms ({}) must be positive and below worker.heartbeat_seconds", w.progress_interval_ms);
        }
        if w.poll_interval_ms == 0 || w.cancel_check_ms == 0 || w.sweep_interval_seconds == 0 {
            bail!("worker.poll_interval_ms, worker.cancel_check_ms and worker.sweep_interval_seconds must be positive");
        }
        if w.max_attempts < 1 {
            bail!("worker.max_attempts must be at least 1");
        }
        if !(w.backoff_base_seconds > 0.0 && w.backoff_max_seconds >= w.backoff_base_seconds) {
            bail!("worker.backoff_base_seconds must be positive and not above worker.backoff_max_seconds");
        }
        if !(0.0..1.0).contains(&w.backoff_jitter) {
            bail!(
                "worker.backoff_jitter must be in [0, 1), got {}",
                w.backoff_jitter
            );
        }
        if self.analysis.results_cap == 0
            || self.analysis.max_records == 0
            || self.analysis.results_max_bytes == 0
        {
            bail!("analysis.results_cap, analysis.results_max_bytes and analysis.max_records must be positive");
        }
        let p = &self.portal;
        if p.requests_per_minute == 0 || p.night_requests_per_minute == 0 {
            bail!(
                "portal.requests_per_minute and portal.night_requests_per_minute must be positive"
            );
        }
        if p.request_timeout_seconds == 0 || p.max_months == 0 {
            bail!("portal.request_timeout_seconds and portal.max_months must be positive");
        }
        if p.enabled() && !(p.base_url.starts_with("https://") || p.base_url.starts_with("http://"))
        {
            bail!("portal.base_url ({:?}) must be an http(s) URL such as https://api.portaldatransparencia.gov.br/api-de-dados", p.base_url);
        }
        if self.limits.max_active_per_user < 1 {
            bail!("limits.max_active_per_user must be at least 1");
        }
        if self.limits.queue_quantum_ms < 0 {
            bail!("limits.queue_quantum_ms must not be negative");
        }
        if self.limits.max_inserts_per_minute < 1 {
            bail!("limits.max_inserts_per_minute must be at least 1");
        }
        Ok(())
    }

    /// The URL migrations run with.
    pub fn migrate_url(&self) -> &str {
        if self.database.migrate_url.trim().is_empty() {
            &self.database.url
        } else {
            &self.database.migrate_url
        }
    }
}

impl DatabaseSettings {
    pub fn connect_timeout(&self) -> Duration {
        Duration::from_secs(self.connect_timeout_seconds)
    }
    pub fn statement_timeout(&self) -> Duration {
        Duration::from_secs(self.statement_timeout_seconds)
    }
}

impl WorkerSettings {
    pub fn poll_interval(&self) -> Duration {
        Duration::from_millis(self.poll_interval_ms)
    }
    pub fn lease(&self) -> Duration {
        Duration::from_secs(self.lease_seconds)
    }
    pub fn heartbeat(&self) -> Duration {
        Duration::from_secs(self.heartbeat_seconds)
    }
    pub fn progress_interval(&self) -> Duration {
        Duration::from_millis(self.progress_interval_ms)
    }
    pub fn cancel_check(&self) -> Duration {
        Duration::from_millis(self.cancel_check_ms)
    }
    pub fn sweep_interval(&self) -> Duration {
        Duration::from_secs(self.sweep_interval_seconds)
    }
    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_secs(self.shutdown_grace_seconds)
    }
}

#[cfg(test)]
// figment::Jail's closures return figment::Error, which is large by design.
#[allow(clippy::result_large_err)]
mod tests {
    use super::*;

    #[test]
    fn debug_of_the_settings_never_shows_a_database_password() {
        let mut settings = Settings::default();
        settings.database.url =
            "postgres://fiscal_app:s3cr3t-url@db.example.org:5432/postgres".into();
        settings.database.migrate_url =
            "postgres://postgres:s3cr3t-owner@db.example.org/postgres".into();
        let shown = format!("{settings:?} {settings:#?}");
        assert!(!shown.contains("s3cr3t"), "{shown}");
        assert!(
            shown.contains("postgres://fiscal_app@db.example.org:5432/postgres"),
            "{shown}"
        );
    }

    #[test]
    fn debug_of_the_settings_never_shows_the_portal_api_key() {
        let mut settings = Settings::default();
        settings.portal.api_key = "k3y-s3cr3t-portal".into();
        let shown = format!("{settings:?} {settings:#?}");
        assert!(!shown.contains("k3y-s3cr3t"), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
    }

    #[test]
    fn the_original_portal_variables_still_set_the_key_and_the_base_url() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("PORTAL_TRANSPARENCIA_API_KEY", "abc123");
            jail.set_env(
                "PORTAL_TRANSPARENCIA_BASE_URL",
                "http://127.0.0.1:9/api-de-dados",
            );
            let settings = Settings::load(None).map_err(|e| figment::Error::from(e.to_string()))?;
            assert_eq!(settings.portal.api_key, "abc123");
            assert_eq!(settings.portal.base_url, "http://127.0.0.1:9/api-de-dados");
            assert!(settings.portal.enabled());
            Ok(())
        });
    }

    #[test]
    fn config_toml_documents_exactly_the_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config.toml");
        let documented: Settings = Figment::from(Toml::file(&path))
            .extract()
            .expect("config.toml parses");
        assert_eq!(documented, Settings::default());
    }

    #[test]
    fn environment_overrides_the_file_and_the_original_names_still_work() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "fiscal.toml",
                "[worker]\nconcurrency = 2\npoll_interval_ms = 700\n",
            )?;
            jail.set_env("DATABASE_URL", "postgres://plain@127.0.0.1/a");
            jail.set_env("SUPABASE_DB_URL", "postgres://supabase@127.0.0.1/b");
            jail.set_env("SUPABASE_MAX_CONNECTIONS", "20");
            jail.set_env("FISCAL_WORKER__CONCURRENCY", "9");
            // Not a setting: must not trip the unknown-key check.
            jail.set_env("FISCAL_TEST_DATABASE_URL", "postgres://elsewhere/");
            let settings = Settings::load(Some(Path::new("fiscal.toml")))
                .map_err(|e| figment::Error::from(e.to_string()))?;
            assert_eq!(settings.database.url, "postgres://supabase@127.0.0.1/b");
            assert_eq!(settings.database.max_connections, 20);
            assert_eq!(settings.worker.concurrency, 9, "environment beats the file");
            assert_eq!(
                settings.worker.poll_interval_ms, 700,
                "the file beats the defaults"
            );
            Ok(())
        });
    }

    #[test]
    fn tls_and_pooler_settings_come_from_the_environment() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("FISCAL_DATABASE__CA_FILE", "/etc/fiscal/supabase-ca.crt");
            jail.set_env("FISCAL_DATABASE__POOLER", "transaction");
            let settings = Settings::load(None).map_err(|e| figment::Error::from(e.to_string()))?;
            assert_eq!(settings.database.ca_file, "/etc/fiscal/supabase-ca.crt");
            assert_eq!(settings.database.pooler, Pooler::Transaction);
            jail.set_env("FISCAL_DATABASE__POOLER", "sometimes");
            let err = Settings::load(None).expect_err("an unknown pooler mode");
            assert!(err.to_string().contains("sometimes"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn a_misspelt_environment_key_is_refused() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("FISCAL_WORKER__CONCURENCY", "9");
            let err = Settings::load(None).expect_err("unknown key");
            assert!(err.to_string().contains("concurency"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn unknown_keys_are_refused_by_name() {
        let err = Figment::from(Toml::string("[worker]\nconcurency = 3\n"))
            .extract::<Settings>()
            .expect_err("a misspelt key must not pass");
        assert!(err.to_string().contains("concurency"), "{err}");
    }

    #[test]
    fn heartbeat_must_stay_well_below_the_lease() {
        let mut settings = Settings::default();
        settings.worker.heartbeat_seconds = 40;
        let err = settings
            .validate()
            .expect_err("heartbeat above half the lease");
        assert!(
            err.to_string().contains("worker.heartbeat_seconds"),
            "{err}"
        );
    }
}
