//! Schema migrations: plain SQL under `sql/`, compiled into the binary so a
//! container needs nothing beside it.
//!
//! Each migration runs once, in its own transaction, and is recorded with the md5
//! of its text in `fiscal.schema_migrations`. A session-level advisory lock makes
//! any number of processes starting at once safe: one applies, the others wait and
//! then find nothing to do. The Supabase shim runs first, only where `auth.uid()`
//! is missing (plain PostgreSQL).

use anyhow::{Context, Result};
use tokio_postgres::Client;
use tracing::{info, warn};

use crate::config::Settings;

pub struct Migration {
    pub version: i32,
    pub name: &'static str,
    pub sql: &'static str,
}

macro_rules! migration {
    ($version:expr, $name:literal) => {
        Migration {
            version: $version,
            name: $name,
            sql: include_str!(concat!("../../sql/migrations/", $name, ".sql")),
        }
    };
}

/// In order. A test checks that this list and `sql/migrations/` agree.
pub const MIGRATIONS: &[Migration] = &[
    migration!(1, "0001_investigations"),
    migration!(2, "0002_queue"),
    migration!(3, "0003_security_and_realtime"),
    migration!(4, "0004_transparency"),
    migration!(5, "0005_worker_role"),
    migration!(6, "0006_operations"),
];

pub const SUPABASE_SHIM: &str = include_str!("../../sql/supabase_shim.sql");

/// "fiscal" in ASCII: the advisory lock every migrating process queues on.
const MIGRATION_LOCK: i64 = 0x66_69_73_63_61_6c;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct MigrationReport {
    pub shim_applied: bool,
    pub applied: Vec<String>,
}

/// Brings the database at `settings.migrate_url()` up to date and writes the
/// database-side settings.
pub async fn run(settings: &Settings) -> Result<MigrationReport> {
    let (mut client, driver) =
        crate::db::connect_driven(settings.migrate_url(), &settings.database).await?;
    let report = migrate(&mut client, settings).await;
    drop(client);
    let _ = driver.await;
    report
}

async fn migrate(client: &mut Client, settings: &Settings) -> Result<MigrationReport> {
    // "already exists, skipping" notices of the idempotent DDL are noise in logs.
    client
        .batch_execute("set client_min_messages = warning")
        .await
        .context("configuring the migration session")?;
    client
        .execute("select pg_advisory_lock($1)", &[&MIGRATION_LOCK])
        .await
        .context("waiting for the migration lock")?;
    let result = apply_all(client, settings).await;
    // The lock also ends with the session; unlocking here frees waiters sooner.
    let _ = client
        .execute("select pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
        .await;
    result
}

async fn apply_all(client: &mut Client, settings: &Settings) -> Result<MigrationReport> {
    let mut report = MigrationReport::default();
    client
        .batch_execute(
            "create schema if not exists fiscal;
             create table if not exists fiscal.schema_migrations (
                 version integer primary key,
                 name text not null,
                 checksum text not null,
                 applied_at timestamptz not null default now()
             );",
        )
        .await
        .context("creating fiscal.schema_migrations")?;

    let has_auth: bool = client
        .query_one("select to_regprocedure('auth.uid()') is not null", &[])
        .await?
        .get(0);
    if !has_auth {
        let tx = client.transaction().await?;
        tx.batch_execute(SUPABASE_SHIM)
            .await
            .context("applying sql/supabase_shim.sql")?;
        tx.commit().await?;
        report.shim_applied = true;
        info!("applied the Supabase shim (auth schema, roles, publication)");
    }

    let applied = applied_checksums(client).await?;
    for migration in MIGRATIONS {
        if let Some(checksum) = applied.iter().find(|(v, _)| *v == migration.version) {
            let current: String = client
                .query_one("select md5($1)", &[&migration.sql])
                .await?
                .get(0);
            if checksum.1 != current {
                warn!(
                    migration = migration.name,
                    "migration file changed after it was applied; the database keeps the old version"
                );
            }
            continue;
        }
        let tx = client.transaction().await?;
        tx.batch_execute(migration.sql)
            .await
            .with_context(|| format!("applying sql/migrations/{}.sql", migration.name))?;
        tx.execute(
            "insert into fiscal.schema_migrations (version, name, checksum) values ($1, $2, md5($3))",
            &[&migration.version, &migration.name, &migration.sql],
        )
        .await?;
        tx.commit().await?;
        info!(migration = migration.name, "applied migration");
        report.applied.push(migration.name.to_string());
    }

    write_settings(client, settings).await?;
    Ok(report)
}

async fn applied_checksums(client: &Client) -> Result<Vec<(i32, String)>> {
    let rows = client
        .query(
            "select version, checksum from fiscal.schema_migrations",
            &[],
        )
        .await
        .context("reading fiscal.schema_migrations")?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// The settings triggers and column defaults read, so the database holds no
/// literals that the configuration should decide.
async fn write_settings(client: &Client, settings: &Settings) -> Result<()> {
    let values = [
        (
            "max_attempts",
            serde_json::json!(settings.worker.max_attempts),
        ),
        (
            "max_active_per_user",
            serde_json::json!(settings.limits.max_active_per_user),
        ),
    ];
    for (key, value) in values {
        client
            .execute(
                "insert into fiscal.settings (key, value) values ($1, $2)
                 on conflict (key) do update set value = excluded.value, updated_at = now()
                 where fiscal.settings.value is distinct from excluded.value",
                &[&key, &value],
            )
            .await
            .with_context(|| format!("writing setting {key}"))?;
    }
    Ok(())
}

/// Migrations the database at hand has not applied yet, by name.
pub async fn pending(client: &Client) -> Result<Vec<&'static str>> {
    let exists: bool = client
        .query_one(
            "select to_regclass('fiscal.schema_migrations') is not null",
            &[],
        )
        .await?
        .get(0);
    let applied = if exists {
        applied_checksums(client).await?
    } else {
        Vec::new()
    };
    Ok(MIGRATIONS
        .iter()
        .filter(|m| !applied.iter().any(|(v, _)| *v == m.version))
        .map(|m| m.name)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_in_sql_migrations_is_compiled_in_order() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("sql/migrations");
        let mut files: Vec<String> = std::fs::read_dir(&dir)
            .expect("sql/migrations exists")
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".sql"))
            .collect();
        files.sort();
        let compiled: Vec<String> = MIGRATIONS
            .iter()
            .map(|m| format!("{}.sql", m.name))
            .collect();
        assert_eq!(files, compiled);
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version as usize, i + 1, "{} is out of sequence", m.name);
            assert!(m.name.starts_with(&format!("{:04}_", m.version)));
        }
    }
}
