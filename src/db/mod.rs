//! Connections: the pool every queue statement runs on, and single connections for
//! LISTEN and migrations.

pub mod migrate;

use std::str::FromStr;

use anyhow::{Context, Result};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::NoTls;

use crate::config::DatabaseSettings;

/// Parses a connection URL, naming fiscal in `pg_stat_activity`. The error never
/// repeats the URL, which may hold a password.
pub fn pg_config(url: &str, settings: &DatabaseSettings) -> Result<tokio_postgres::Config> {
    let mut config = tokio_postgres::Config::from_str(url)
        .map_err(|e| anyhow::anyhow!("database URL is not valid: {e}"))?;
    if config.get_application_name().is_none() {
        config.application_name("fiscal");
    }
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(settings.connect_timeout());
    }
    Ok(config)
}

/// The worker's pool. Connections are made lazily and replaced when they break, so
/// a database restart costs failed statements (retried by the caller), not the pool.
pub fn pool(settings: &DatabaseSettings) -> Result<Pool> {
    let config = pg_config(&settings.url, settings)?;
    let manager = Manager::from_config(
        config,
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .max_size(settings.max_connections)
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(settings.statement_timeout()))
        .create_timeout(Some(settings.connect_timeout()))
        .build()
        .context("building the connection pool")
}

/// Opens `min_connections` at once, so a misconfigured URL is reported at start-up
/// rather than at the first claim.
pub async fn warm_up(pool: &Pool, settings: &DatabaseSettings) -> Result<()> {
    let mut held = Vec::with_capacity(settings.min_connections);
    for _ in 0..settings.min_connections.max(1) {
        held.push(pool.get().await.with_context(|| {
            format!("connecting to the database at {}", redacted(&settings.url))
        })?);
    }
    Ok(())
}

/// One connection outside the pool, driven by a task of its own. For LISTEN the
/// caller drives it instead (see `worker::listener`).
pub async fn connect(
    url: &str,
    settings: &DatabaseSettings,
) -> Result<(
    tokio_postgres::Client,
    tokio_postgres::Connection<tokio_postgres::Socket, tokio_postgres::tls::NoTlsStream>,
)> {
    let config = pg_config(url, settings)?;
    config
        .connect(NoTls)
        .await
        .with_context(|| format!("connecting to the database at {}", redacted(url)))
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

/// The URL with its password replaced, for logs and errors.
pub fn redacted(url: &str) -> String {
    match tokio_postgres::Config::from_str(url) {
        Ok(config) => {
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
        Err(_) => "<unparseable URL>".into(),
    }
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
        let config = pg_config(
            "postgres://fiscal:s3cr3t@db.example.org:5432/postgres",
            &DatabaseSettings::default(),
        )
        .expect("a valid URL");
        let shown = format!("{config:?}");
        assert!(!shown.contains("s3cr3t"), "{shown}");
    }
}
