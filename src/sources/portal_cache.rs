//! The API's contracts cached in `transparency.contracts`, month by month.
//!
//! Invariants:
//! - A month is written in one transaction with its row in
//!   `transparency.api_fetches`, so a month is recorded as fetched only when all
//!   its pages are in; a failed or cancelled fetch leaves nothing half-done.
//! - Rows are keyed as the importer keys them (`contract_id`, `source_month`, via
//!   `contracts::rows::contract_values`). An API row refreshes an earlier API row; a row
//!   from a bulk file is never overwritten (the published file wins).
//! - A month stays fresh for `portal.fresh_hours` when it was the current month
//!   at the fetch, and for `portal.closed_month_fresh_days` when it had ended.

use anyhow::Context;
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::Client;
use tokio_util::sync::CancellationToken;

use super::filters::ContractFilters;
use super::portal_api::{self, ApiError, PortalClient};
use crate::config::PortalSettings;

/// What a sync did, for the investigation's metadata.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct SyncStats {
    pub months: usize,
    pub months_fetched: usize,
    pub requests: u32,
    pub contracts: usize,
    /// Records without what a contract needs (number, UG, signature date).
    pub skipped: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error(transparent)]
    Database(#[from] anyhow::Error),
}

/// Why the months of an investigation cannot be fetched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TooManyMonths {
    pub months: usize,
    pub limit: u32,
}

fn first_of_month(d: NaiveDate) -> NaiveDate {
    d.with_day(1).unwrap_or(d)
}

fn add_months(d: NaiveDate, n: i32) -> NaiveDate {
    let total = d.year() * 12 + d.month0() as i32 + n;
    NaiveDate::from_ymd_opt(total.div_euclid(12), total.rem_euclid(12) as u32 + 1, 1).unwrap_or(d)
}

/// The months the signature period covers, up to the current one; without a
/// period, the last 12 months (the current one included). A period that starts
/// in the future covers none.
pub fn months(
    filters: &ContractFilters,
    today: NaiveDate,
    limit: u32,
) -> Result<Vec<NaiveDate>, TooManyMonths> {
    let current = first_of_month(today);
    let until = filters
        .signed_until
        .map_or(current, |u| first_of_month(u).min(current));
    let from = filters
        .signed_from
        .map_or_else(|| add_months(until, -11), first_of_month);
    let mut out = Vec::new();
    let mut m = from;
    while m <= until {
        out.push(m);
        if out.len() > limit as usize {
            let total =
                (until.year() - from.year()) * 12 + until.month() as i32 - from.month() as i32 + 1;
            return Err(TooManyMonths {
                months: total.max(0) as usize,
                limit,
            });
        }
        m = add_months(m, 1);
    }
    Ok(out)
}

/// Whether a fetch of `month` made at `fetched_at` still holds at `now`.
pub fn is_fresh(
    settings: &PortalSettings,
    month: NaiveDate,
    fetched_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> bool {
    let month_end = portal_api::last_day(month)
        .succ_opt()
        .and_then(|d| d.and_hms_opt(3, 0, 0)) // 00:00 in Brasília
        .map(|d| d.and_utc());
    let closed_when_fetched = month_end.is_some_and(|end| fetched_at >= end);
    let ttl = if closed_when_fetched {
        chrono::Duration::days(settings.closed_month_fresh_days as i64)
    } else {
        chrono::Duration::hours(settings.fresh_hours as i64)
    };
    now - fetched_at < ttl
}

/// Fetches the months of `codigo_orgao` that are not fresh and caches them.
/// `on_progress` hears (months done, months in all).
pub async fn sync(
    db: &Client,
    api: &PortalClient,
    codigo_orgao: &str,
    months: &[NaiveDate],
    cancel: &CancellationToken,
    mut on_progress: impl FnMut(usize, usize),
) -> Result<SyncStats, SyncError> {
    let mut stats = SyncStats {
        months: months.len(),
        ..SyncStats::default()
    };
    let rows = db
        .query_typed(
            "select month, fetched_at from transparency.api_fetches
             where codigo_orgao = $1 and month = any($2)",
            &[(&codigo_orgao, Type::TEXT), (&months, Type::DATE_ARRAY)],
        )
        .await
        .context("reading transparency.api_fetches")?;
    let now = Utc::now();
    let fresh: Vec<NaiveDate> = rows
        .iter()
        .filter(|r| is_fresh(api.settings(), r.get(0), r.get(1), now))
        .map(|r| r.get(0))
        .collect();
    let stale: Vec<NaiveDate> = months
        .iter()
        .copied()
        .filter(|m| !fresh.contains(m))
        .collect();
    let mut done = months.len() - stale.len();
    on_progress(done, months.len());
    for month in stale {
        let (records, requests) = api.month(codigo_orgao, month, cancel, |_| {}).await?;
        stats.requests += requests;
        let mut contracts = Vec::with_capacity(records.len());
        for record in &records {
            match portal_api::to_contract(record) {
                Ok(c) => contracts.push(c),
                Err(why) => {
                    stats.skipped += 1;
                    tracing::warn!(codigo_orgao, month = %month, why, "skipped a contract of the Portal API");
                }
            }
        }
        store(db, codigo_orgao, month, &contracts, requests).await?;
        stats.contracts += contracts.len();
        stats.months_fetched += 1;
        done += 1;
        on_progress(done, months.len());
    }
    Ok(stats)
}

/// One month's contracts and its fetch record, in one transaction. Unnamed
/// statements and no session state, so it also works behind a transaction-mode
/// pooler.
async fn store(
    db: &Client,
    codigo_orgao: &str,
    month: NaiveDate,
    contracts: &[super::portal::Contract],
    requests: u32,
) -> anyhow::Result<()> {
    db.batch_execute("begin")
        .await
        .context("starting the cache transaction")?;
    let result = async {
        let (columns, types) = super::contracts::rows::contract_columns();
        let placeholders: Vec<String> = (1..=types.len()).map(|i| format!("${i}")).collect();
        let updates: Vec<String> = columns
            .split(',')
            .map(str::trim)
            .filter(|c| *c != "contract_id" && *c != "source_month")
            .map(|c| format!("{c} = excluded.{c}"))
            .collect();
        let sql = format!(
            "insert into transparency.contracts ({columns}) values ({})
             on conflict (contract_id, source_month) do update set {}, imported_at = now()
             where transparency.contracts.source_file like 'api:%'",
            placeholders.join(", "),
            updates.join(", ")
        );
        let file = format!(
            "api:contratos?codigoOrgao={codigo_orgao}&mes={}",
            month.format("%Y-%m")
        );
        for (line, c) in contracts.iter().enumerate() {
            let values = super::contracts::rows::contract_values(c, &file, None, line as i32 + 1);
            let params: Vec<(&(dyn ToSql + Sync), Type)> = values
                .iter()
                .map(|v| v.as_ref() as &(dyn ToSql + Sync))
                .zip(types.iter().cloned())
                .collect();
            db.execute_typed(&sql, &params)
                .await
                .context("caching a contract in transparency.contracts")?;
        }
        let rows = i32::try_from(contracts.len()).unwrap_or(i32::MAX);
        let requests = i32::try_from(requests).unwrap_or(i32::MAX);
        db.execute_typed(
            "insert into transparency.api_fetches (codigo_orgao, month, fetched_at, rows, requests)
             values ($1, $2, now(), $3, $4)
             on conflict (codigo_orgao, month) do update
             set fetched_at = now(), rows = excluded.rows, requests = excluded.requests",
            &[
                (&codigo_orgao, Type::TEXT),
                (&month, Type::DATE),
                (&rows, Type::INT4),
                (&requests, Type::INT4),
            ],
        )
        .await
        .context("recording the fetch in transparency.api_fetches")?;
        db.batch_execute("commit")
            .await
            .context("committing the cache")?;
        Ok(())
    }
    .await;
    if result.is_err() {
        let _ = db.batch_execute("rollback").await;
    }
    result
}

/// How records fetched whole from an endpoint are stored: the table's import
/// kind, and each record's row (`None`: the record lacks what identifies it and
/// is skipped), given the source name to record and the record's position.
pub type Storage<'a> = (
    super::load::Kind,
    &'a (dyn Fn(&serde_json::Value, &str, i32) -> Option<super::load::Row> + Sync),
);

/// Every record of `endpoint` for `query`, page after page, merged into the
/// table of `into` as an import merges (`/servidores`, `/convenios`).
/// `on_page` hears the records read so far.
pub async fn fetch_into(
    db: &Client,
    api: &PortalClient,
    endpoint: &str,
    query: &[(&str, String)],
    into: Storage<'_>,
    cancel: &CancellationToken,
    on_page: impl FnMut(usize),
) -> Result<portal_api::FetchStats, SyncError> {
    let (rows, stats) = fetch_rows(api, endpoint, query, into.1, cancel, on_page).await?;
    merged(db, into.0, rows, stats).await
}

/// [`fetch_into`] for each query of `queries` in turn — the windows or days an
/// endpoint answers one at a time — merged once at the end, summed. `on_step`
/// hears the queries done and their number.
pub async fn fetch_each(
    db: &Client,
    api: &PortalClient,
    endpoint: &str,
    queries: &[Vec<(&str, String)>],
    into: Storage<'_>,
    cancel: &CancellationToken,
    mut on_step: impl FnMut(usize, usize),
) -> Result<portal_api::FetchStats, SyncError> {
    let mut rows = Vec::new();
    let mut total = portal_api::FetchStats::default();
    for (done, query) in queries.iter().enumerate() {
        let (more, stats) = fetch_rows(api, endpoint, query, into.1, cancel, |_| {}).await?;
        rows.extend(more);
        total += stats;
        on_step(done + 1, queries.len());
    }
    merged(db, into.0, rows, total).await
}

/// The pages of `endpoint` for `query` as rows, with what was read (nothing
/// changed yet).
async fn fetch_rows(
    api: &PortalClient,
    endpoint: &str,
    query: &[(&str, String)],
    row: &(dyn Fn(&serde_json::Value, &str, i32) -> Option<super::load::Row> + Sync),
    cancel: &CancellationToken,
    mut on_page: impl FnMut(usize),
) -> Result<(Vec<super::load::Row>, portal_api::FetchStats), SyncError> {
    let mut read = 0;
    let (records, requests) = api
        .pages(endpoint, query, portal_api::json_records, cancel, |n| {
            read += n;
            on_page(read)
        })
        .await
        .map_err(SyncError::Api)?;
    let source = format!("api:/{endpoint}");
    let rows: Vec<super::load::Row> = records
        .iter()
        .enumerate()
        .filter_map(|(i, r)| row(r, &source, i as i32 + 1))
        .collect();
    let stats = portal_api::FetchStats {
        records: records.len(),
        skipped: records.len() - rows.len(),
        changed: 0,
        requests,
    };
    Ok((rows, stats))
}

/// `rows` merged into the table of `kind`; `stats` with what changed.
async fn merged(
    db: &Client,
    kind: super::load::Kind,
    rows: Vec<super::load::Row>,
    stats: portal_api::FetchStats,
) -> Result<portal_api::FetchStats, SyncError> {
    let changed = super::load::merge_rows(db, kind, rows)
        .await
        .map_err(SyncError::Database)?;
    Ok(portal_api::FetchStats { changed, ..stats })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("date")
    }

    fn filters(json: serde_json::Value) -> ContractFilters {
        ContractFilters::parse(&json).expect("valid filters")
    }

    #[test]
    fn a_year_covers_its_twelve_months() {
        let m = months(
            &filters(serde_json::json!({"year": 2020})),
            d(2026, 11, 25),
            24,
        )
        .expect("within the limit");
        assert_eq!(m.len(), 12);
        assert_eq!((m[0], m[11]), (d(2020, 1, 1), d(2020, 12, 1)));
    }

    #[test]
    fn no_period_means_the_last_twelve_months_and_the_future_is_never_fetched() {
        let m = months(&filters(serde_json::json!({})), d(2026, 3, 10), 24).expect("ok");
        assert_eq!((m[0], m[11], m.len()), (d(2025, 4, 1), d(2026, 3, 1), 12));
        let m = months(
            &filters(serde_json::json!({"year": 2026})),
            d(2026, 3, 10),
            24,
        )
        .expect("ok");
        assert_eq!(m.len(), 3, "{m:?}");
    }

    #[test]
    fn a_period_longer_than_the_limit_is_refused_with_its_length() {
        let err = months(
            &filters(serde_json::json!({"data_inicial": "2019-01-01", "data_final": "2021-12-31"})),
            d(2026, 1, 1),
            24,
        )
        .expect_err("36 months");
        assert_eq!(
            err,
            TooManyMonths {
                months: 36,
                limit: 24
            }
        );
    }

    #[test]
    fn the_current_month_goes_stale_after_fresh_hours_and_a_closed_one_after_days() {
        let settings = PortalSettings::default();
        let at = |y, m, day, h| d(y, m, day).and_hms_opt(h, 0, 0).expect("time").and_utc();
        let current = d(2026, 11, 1);
        assert!(is_fresh(
            &settings,
            current,
            at(2026, 11, 20, 10),
            at(2026, 11, 21, 9)
        ));
        assert!(!is_fresh(
            &settings,
            current,
            at(2026, 11, 20, 10),
            at(2026, 11, 21, 11)
        ));
        let closed = d(2026, 9, 1);
        assert!(is_fresh(
            &settings,
            closed,
            at(2026, 10, 2, 0),
            at(2026, 10, 30, 0)
        ));
        assert!(!is_fresh(
            &settings,
            closed,
            at(2026, 10, 2, 0),
            at(2026, 11, 2, 0)
        ));
        // Fetched while September was still open: only fresh_hours.
        assert!(!is_fresh(
            &settings,
            closed,
            at(2026, 9, 29, 0),
            at(2026, 10, 2, 0)
        ));
    }
}
