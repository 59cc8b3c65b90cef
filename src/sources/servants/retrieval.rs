//! `filters` → the servants of `transparency.servants`, and the API calls that
//! fill it.

use anyhow::{Context, Result};
use serde_json::Value;
use tokio_postgres::types::Type;
use tokio_postgres::Client;

use tokio_util::sync::CancellationToken;

use super::filters::StaffFilters;
use super::{Servant, Staff};
use crate::domain::text::fold;
use crate::sources::load::Kind;
use crate::sources::portal_api::{FetchStats, PortalClient};
use crate::sources::portal_cache::{self, SyncError};

/// Reads the servants the filters select. Records the database holds but
/// cannot be read as servants (a capture edited by hand) are skipped and
/// counted.
pub async fn retrieve(client: &Client, f: &StaffFilters) -> Result<(Staff, usize)> {
    let rows = client
        .query_typed(
            "select record from transparency.servants
             where $1::text is null or orgao_exercicio = $1
             order by servant_id",
            &[(&f.codigo_orgao, Type::TEXT)],
        )
        .await
        .context("reading transparency.servants")?;
    let mut servants = Vec::with_capacity(rows.len());
    let mut unreadable = 0;
    for row in rows {
        let record: Value = row.get(0);
        match Servant::from_record(&record) {
            Ok(s) if matches_words(&s, &f.texto) => servants.push(s),
            Ok(_) => {}
            Err(_) => unreadable += 1,
        }
    }
    Ok((Staff { servants }, unreadable))
}

fn matches_words(s: &Servant, words: &[String]) -> bool {
    words.is_empty()
        || s.positions.iter().any(|p| {
            let cargo = fold(&p.cargo);
            words.iter().all(|w| cargo.contains(w.as_str()))
        })
}

/// Every servant working in `orgao` (`orgaoServidorExercicio`), from the API
/// into `transparency.servants`. `on_page` hears the records read so far.
pub async fn fetch(
    db: &Client,
    api: &PortalClient,
    orgao: &str,
    cancel: &CancellationToken,
    on_page: impl FnMut(usize),
) -> Result<FetchStats, SyncError> {
    let row = |record: &Value, source: &str, _line: i32| {
        let servant = Servant::from_record(record).ok()?;
        Some(super::servant_values(&(servant, record.clone()), source))
    };
    portal_cache::fetch_into(
        db,
        api,
        "servidores",
        &[("orgaoServidorExercicio", orgao.to_string())],
        (Kind::Servants, &row),
        cancel,
        on_page,
    )
    .await
}
