//! `filters` → the matching budget lines of `transparency.budget_lines`,
//! grouped into [`Allocation`]s, and the peers they are judged against.
//!
//! Lines arrive ordered by allocation, so grouping is one pass. The value
//! bounds apply to the allocation, not to its elements: a citizen asking for
//! budgets above R$ 1 million means the dotação, whatever its split by element.

use anyhow::{Context, Result};
use futures_util::{pin_mut, TryStreamExt};
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::Client;
use tokio_util::sync::CancellationToken;

use super::documents::{Document, Fase};
use super::filters::BudgetFilters;
use super::{Allocation, Amounts, Budget, Coded, Element};
use crate::sources::contracts::{rows_within, QueryParams, RetrievalError};
use crate::sources::filters::Where;

/// What retrieval read, for the investigation's metadata.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RetrievalStats {
    pub lines: usize,
    pub allocations: usize,
    pub documents: usize,
    /// The documents the filters select were more than the investigation
    /// could read beside the allocations, and were left out: this many places.
    pub documents_left_out_beyond: Option<usize>,
}

/// The revisions of one year and expense group across the whole imported
/// budget: the distribution of ln(updated / initial) over its allocations.
#[derive(Debug, Clone, PartialEq)]
pub struct Peers {
    pub exercicio: i32,
    pub grupo: String,
    /// Allocations with an initial budget of at least the rule's minimum.
    pub allocations: usize,
    pub p01: f64,
    pub median: f64,
    pub p99: f64,
}

impl Budget {
    pub fn peers_of(&self, a: &Allocation) -> Option<&Peers> {
        self.peers
            .iter()
            .find(|p| p.exercicio == a.exercicio && p.grupo == a.grupo.code)
    }
}

fn where_clause(f: &BudgetFilters) -> (String, QueryParams) {
    let mut w = Where::default();
    if let Some(y) = f.year {
        w.push("b.exercicio = ?", Box::new(y), Type::INT4);
    }
    // The budget is yearly: a period of documents selects its year's lines.
    for (column, value) in [
        ("b.codigo_orgao_superior", &f.codigo_orgao_superior),
        ("b.codigo_orgao", &f.codigo_orgao),
        ("b.codigo_uo", &f.codigo_uo),
        ("b.codigo_funcao", &f.funcao),
        ("b.codigo_programa", &f.programa),
        ("b.codigo_acao", &f.acao),
        ("b.codigo_grupo", &f.grupo_despesa),
    ] {
        if let Some(v) = value {
            w.push(&format!("{column} = ?"), Box::new(v.clone()), Type::TEXT);
        }
    }
    // `fold` leaves only letters, digits and spaces: no word holds a wildcard.
    if !f.texto.is_empty() {
        let patterns: Vec<String> = f.texto.iter().map(|w| format!("%{w}%")).collect();
        w.push(
            "b.nome_acao_busca like all(?)",
            Box::new(patterns),
            Type::TEXT_ARRAY,
        );
    }
    w.finish()
}

fn coded(row: &tokio_postgres::Row, code: usize) -> Coded {
    Coded {
        code: row.get(code),
        name: row.get(code + 1),
    }
}

/// Reads the allocations and the documents the filters select, and the peers
/// of the allocations' years. A UG is not a budget classification: with one,
/// only documents are read; a classification below the organ (UO, função,
/// programa, ação) is not on every document: with one, only allocations are.
/// Stops with `TooMany` past `limit` allocations; documents beyond what is left
/// of it are left out, not fatal: a budget question about a ministry's year
/// must not fail because its daily documents were imported too.
pub async fn retrieve(
    client: &Client,
    f: &BudgetFilters,
    min_initial: f64,
    limit: usize,
    cancel: &CancellationToken,
) -> Result<(Budget, RetrievalStats), RetrievalError> {
    let (mut budget, mut stats) = if f.codigo_ug.is_some() {
        (Budget::default(), RetrievalStats::default())
    } else {
        allocations(client, f, min_initial, limit, cancel).await?
    };
    if !f.classifies_below_the_organ() {
        let left = limit.saturating_sub(budget.allocations.len());
        match documents(client, f, left).await {
            Ok(documents) => budget.documents = documents,
            Err(RetrievalError::TooMany { .. }) if f.codigo_ug.is_none() => {
                stats.documents_left_out_beyond = Some(left);
            }
            Err(RetrievalError::TooMany { .. }) => return Err(RetrievalError::TooMany { limit }),
            Err(e) => return Err(e),
        }
        stats.documents = budget.documents.len();
    }
    Ok((budget, stats))
}

/// The documents the filters select, by issue date.
async fn documents(
    client: &Client,
    f: &BudgetFilters,
    limit: usize,
) -> Result<Vec<Document>, RetrievalError> {
    let mut w = Where::default();
    if let Some((from, until)) = f.document_period() {
        w.push("d.data_emissao >= ?", Box::new(from), Type::DATE);
        w.push("d.data_emissao <= ?", Box::new(until), Type::DATE);
    }
    for (column, value) in [
        ("d.codigo_orgao_superior", &f.codigo_orgao_superior),
        ("d.codigo_orgao", &f.codigo_orgao),
        ("d.codigo_ug", &f.codigo_ug),
        ("d.codigo_grupo", &f.grupo_despesa),
    ] {
        if let Some(v) = value {
            w.push(&format!("{column} = ?"), Box::new(v.clone()), Type::TEXT);
        }
    }
    if let Some(m) = f.min_value {
        w.push("d.valor >= ?::float8", Box::new(m), Type::FLOAT8);
    }
    if let Some(m) = f.max_value {
        w.push("d.valor <= ?::float8", Box::new(m), Type::FLOAT8);
    }
    if !f.texto.is_empty() {
        let patterns: Vec<String> = f.texto.iter().map(|w| format!("%{w}%")).collect();
        w.push(
            "d.observacao_busca like all(?)",
            Box::new(patterns),
            Type::TEXT_ARRAY,
        );
    }
    let (clause, params) = w.finish();
    let sql = format!(
        "select d.codigo, d.fase, d.data_emissao, d.codigo_orgao_superior,
             coalesce(d.nome_orgao_superior, ''), d.codigo_orgao, coalesce(d.nome_orgao, ''),
             d.codigo_ug, coalesce(d.nome_ug, ''), d.codigo_favorecido, d.nome_favorecido,
             d.codigo_grupo, d.codigo_elemento, d.nome_elemento, d.modalidade_licitacao,
             d.observacao, d.valor::float8, d.especie
         from transparency.expense_documents d
         where {clause}
         order by d.data_emissao, d.codigo"
    );
    let rows = rows_within(
        client,
        &sql,
        &params,
        limit,
        "transparency.expense_documents",
    )
    .await?;
    Ok(rows
        .iter()
        .filter_map(|r| {
            Some(Document {
                codigo: r.get(0),
                fase: Fase::parse(r.get(1))?,
                data: r.get(2),
                codigo_orgao_superior: r.get(3),
                nome_orgao_superior: r.get(4),
                codigo_orgao: r.get(5),
                nome_orgao: r.get(6),
                codigo_ug: r.get(7),
                nome_ug: r.get(8),
                codigo_favorecido: r.get(9),
                nome_favorecido: r.get(10),
                codigo_grupo: r.get(11),
                codigo_elemento: r.get(12),
                nome_elemento: r.get(13),
                modalidade_licitacao: r.get(14),
                observacao: r.get(15),
                valor: r.get(16),
                especie: r.get(17),
            })
        })
        .collect())
}

/// Reads the allocations the filters select and the peers of their years.
/// Stops with `TooMany` past `limit` allocations.
async fn allocations(
    client: &Client,
    f: &BudgetFilters,
    min_initial: f64,
    limit: usize,
    cancel: &CancellationToken,
) -> Result<(Budget, RetrievalStats), RetrievalError> {
    let (clause, params) = where_clause(f);
    let sql = format!(
        "select b.exercicio, b.codigo_orgao_superior, b.nome_orgao_superior, b.codigo_orgao,
             b.nome_orgao, b.codigo_uo, b.nome_uo, b.codigo_funcao, b.nome_funcao,
             b.codigo_subfuncao, b.nome_subfuncao, b.codigo_programa, b.nome_programa,
             b.codigo_acao, b.nome_acao, b.codigo_grupo, b.nome_grupo, b.codigo_elemento,
             b.nome_elemento, b.inicial::float8, b.atualizado::float8, b.empenhado::float8,
             b.realizado::float8
         from transparency.budget_lines b
         where {clause}
         order by b.exercicio, b.codigo_uo, b.codigo_funcao, b.codigo_subfuncao,
             b.codigo_programa, b.codigo_acao, b.codigo_grupo, b.codigo_elemento"
    );
    let typed: Vec<(&(dyn ToSql + Sync), Type)> = params
        .iter()
        .map(|(v, t)| (v.as_ref() as &(dyn ToSql + Sync), t.clone()))
        .collect();
    let rows = client
        .query_typed_raw(&sql, typed)
        .await
        .context("reading transparency.budget_lines")?;
    pin_mut!(rows);
    let mut allocations: Vec<Allocation> = Vec::new();
    let mut lines = 0usize;
    while let Some(row) = rows
        .try_next()
        .await
        .context("reading transparency.budget_lines")?
    {
        if cancel.is_cancelled() {
            return Err(RetrievalError::Cancelled);
        }
        lines += 1;
        let exercicio: i32 = row.get(0);
        let (uo, funcao, subfuncao, programa, acao, grupo) = (
            coded(&row, 5),
            coded(&row, 7),
            coded(&row, 9),
            coded(&row, 11),
            coded(&row, 13),
            coded(&row, 15),
        );
        let key = format!(
            "{exercicio}/{}/{}.{}/{}.{}/{}",
            uo.code, funcao.code, subfuncao.code, programa.code, acao.code, grupo.code
        );
        let amounts = Amounts {
            inicial: row.get(19),
            atualizado: row.get(20),
            empenhado: row.get(21),
            realizado: row.get(22),
        };
        if allocations.last().map(|a| &a.key) != Some(&key) {
            if allocations.len() >= limit {
                return Err(RetrievalError::TooMany { limit });
            }
            allocations.push(Allocation {
                key,
                exercicio,
                orgao_superior: coded(&row, 1),
                orgao: coded(&row, 3),
                uo,
                funcao,
                subfuncao,
                programa,
                acao,
                grupo,
                amounts: Amounts::default(),
                elements: Vec::new(),
            });
        }
        if let Some(a) = allocations.last_mut() {
            a.amounts.inicial += amounts.inicial;
            a.amounts.atualizado += amounts.atualizado;
            a.amounts.empenhado += amounts.empenhado;
            a.amounts.realizado += amounts.realizado;
            a.elements.push(Element {
                element: coded(&row, 17),
                amounts,
            });
        }
    }
    // Sums of cents in binary floating point leave dust (a line cancelled to
    // zero sums to 1e-10): back to cents, as the budget is written.
    for a in &mut allocations {
        for v in [
            &mut a.amounts.inicial,
            &mut a.amounts.atualizado,
            &mut a.amounts.empenhado,
            &mut a.amounts.realizado,
        ] {
            *v = (*v * 100.0).round() / 100.0;
        }
    }
    allocations.retain(|a| {
        let value = a.amounts.atualizado.max(a.amounts.empenhado);
        f.min_value.map_or(true, |m| value >= m) && f.max_value.map_or(true, |m| value <= m)
    });
    let mut years: Vec<i32> = allocations.iter().map(|a| a.exercicio).collect();
    years.dedup();
    let peers = peers(client, &years, min_initial).await?;
    let stats = RetrievalStats {
        lines,
        allocations: allocations.len(),
        documents: 0,
        documents_left_out_beyond: None,
    };
    Ok((
        Budget {
            allocations,
            peers,
            documents: Vec::new(),
        },
        stats,
    ))
}

/// The revision percentiles of every (year, GND) among `years`, over all the
/// imported allocations with an initial budget of at least `min_initial` and a
/// positive updated one: one aggregate over the whole budget of those years
/// (tens of thousands of lines), cheaper than any precomputed table to keep
/// fresh.
async fn peers(client: &Client, years: &[i32], min_initial: f64) -> Result<Vec<Peers>> {
    if years.is_empty() {
        return Ok(Vec::new());
    }
    let rows = client
        .query_typed(
            "with allocations as (
                 select exercicio, codigo_grupo, sum(inicial)::float8 as inicial,
                     sum(atualizado)::float8 as atualizado
                 from transparency.budget_lines
                 where exercicio = any($1)
                 group by exercicio, codigo_uo, codigo_funcao, codigo_subfuncao,
                     codigo_programa, codigo_acao, codigo_grupo)
             select exercicio, codigo_grupo, count(*)::int8,
                 percentile_cont(array[0.01, 0.5, 0.99]::float8[])
                     within group (order by ln(atualizado / inicial))
             from allocations
             where inicial >= $2 and atualizado > 0
             group by exercicio, codigo_grupo
             order by exercicio, codigo_grupo",
            &[(&years, Type::INT4_ARRAY), (&min_initial, Type::FLOAT8)],
        )
        .await
        .context("computing the budget's revision percentiles")?;
    Ok(rows
        .iter()
        .filter_map(|row| {
            let q: Vec<f64> = row.get(3);
            Some(Peers {
                exercicio: row.get(0),
                grupo: row.get(1),
                allocations: usize::try_from(row.get::<_, i64>(2)).ok()?,
                p01: *q.first()?,
                median: *q.get(1)?,
                p99: *q.get(2)?,
            })
        })
        .collect())
}
