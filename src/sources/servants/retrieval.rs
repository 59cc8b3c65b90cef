//! `filters` → the servants of `transparency.servants`, and the API calls that
//! fill it.

use anyhow::{Context, Result};
use serde_json::Value;
use tokio_postgres::types::Type;
use tokio_postgres::Client;

use tokio_util::sync::CancellationToken;

use super::filters::StaffFilters;
use super::{Servant, Staff};
use crate::pipeline::text::fold;
use crate::sources::portal_api::{ApiError, PortalClient};
use crate::sources::portal_cache::SyncError;

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

/// Writes records fetched from the API (or read from a capture): a newer copy
/// replaces the older; an identical one is left alone. Returns how many rows
/// changed.
pub async fn store(client: &Client, records: &[super::Captured], source: &str) -> Result<u64> {
    let mut changed = 0;
    for (s, record) in records {
        changed += client
            .execute_typed(
                "insert into transparency.servants as t
                     (servant_id, orgao_exercicio, orgao_lotacao, nome, record, source)
                 values ($1, $2, $3, $4, $5, $6)
                 on conflict (servant_id) do update set
                     orgao_exercicio = excluded.orgao_exercicio,
                     orgao_lotacao = excluded.orgao_lotacao, nome = excluded.nome,
                     record = excluded.record, source = excluded.source, fetched_at = now()
                 where t.record is distinct from excluded.record",
                &[
                    (&s.id, Type::INT8),
                    (&s.exercicio.codigo, Type::TEXT),
                    (&s.lotacao.codigo, Type::TEXT),
                    (&s.nome, Type::TEXT),
                    (record, Type::JSONB),
                    (&source, Type::TEXT),
                ],
            )
            .await
            .context("writing transparency.servants")?;
    }
    Ok(changed)
}

/// A `/servidores` page: a JSON array of records.
pub fn parse_page(body: &[u8]) -> Result<Vec<Value>, ApiError> {
    serde_json::from_slice::<Vec<Value>>(body).map_err(|e| {
        let start: String = String::from_utf8_lossy(body).chars().take(60).collect();
        ApiError::Malformed {
            detail: format!("expected a JSON array of servants ({e}); the answer begins {start:?}"),
        }
    })
}

/// What one fetch of an organ brought.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FetchStats {
    pub records: usize,
    /// Records without an id, a name or an organ: not stored.
    pub skipped: usize,
    pub changed: u64,
    pub requests: u32,
}

/// Every servant working in `orgao` (`orgaoServidorExercicio`), from the API
/// into `transparency.servants`. `on_page` hears the records read so far.
pub async fn fetch(
    db: &Client,
    api: &PortalClient,
    orgao: &str,
    cancel: &CancellationToken,
    mut on_page: impl FnMut(usize),
) -> Result<FetchStats, SyncError> {
    let mut read = 0;
    let (records, requests) = api
        .pages(
            "servidores",
            &[("orgaoServidorExercicio", orgao.to_string())],
            parse_page,
            cancel,
            |n| {
                read += n;
                on_page(read)
            },
        )
        .await
        .map_err(SyncError::Api)?;
    let total = records.len();
    let servants: Vec<super::Captured> = records
        .into_iter()
        .filter_map(|r| Servant::from_record(&r).ok().map(|s| (s, r)))
        .collect();
    let changed = store(db, &servants, "api:/servidores")
        .await
        .map_err(SyncError::Database)?;
    Ok(FetchStats {
        records: total,
        skipped: total - servants.len(),
        changed,
        requests,
    })
}
