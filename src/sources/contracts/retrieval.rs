//! The postgres data source: `filters` → the matching contracts of schema
//! `transparency`, with their amendments, as a [`Dataset`].
//!
//! Rows are streamed and typed as they arrive, so the table is held in memory once,
//! as records. The statement is built from fixed fragments, one per filter given,
//! with every value bound as a parameter; the planner picks the index of the most
//! selective filter. Each contract is read at its latest publication
//! (`distinct on (contract_id)`), since the Portal republishes contracts across
//! months.

use std::collections::HashMap;

use anyhow::{Context, Result};
use chrono::NaiveDate;
use futures_util::{pin_mut, TryStreamExt};
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::Client;
use tokio_util::sync::CancellationToken;

use crate::sources::filters::{ContractFilters, QueryParams, Where};
use std::sync::Arc;

use crate::sources::contracts::model::{
    AgencyDirectAwards, Amendment, Contract, Dataset, EmergencyAward, EmergencyHistory, ItemPeers,
    ItemPrice, Shared, SupplierDispensas, SupplierHistory, SupplierSanction, Unit, UnitDispensas,
};

/// Why retrieval stopped early.
#[derive(Debug, thiserror::Error)]
pub enum RetrievalError {
    #[error("cancelled")]
    Cancelled,
    #[error("the filters match more than {limit} contracts")]
    TooMany { limit: usize },
    #[error(transparent)]
    Database(#[from] anyhow::Error),
}

/// What retrieval read, for the investigation's metadata.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RetrievalStats {
    pub contracts: usize,
    pub amendments: usize,
    /// Priced items of the contracts read (migration 0019).
    pub items: usize,
}

/// What the detectors read, and nothing more: every column costs transfer and
/// decoding for each of up to millions of rows.
const CONTRACT_COLUMNS: &str = "
    c.contract_id, c.numero, c.objeto, c.fundamento_legal, c.modalidade,
    c.codigo_orgao_superior, c.nome_orgao_superior, c.codigo_orgao, c.nome_orgao,
    c.codigo_ug, c.nome_ug, c.data_assinatura, c.data_publicacao_dou,
    c.data_inicio_vigencia, c.data_fim_vigencia, c.codigo_contratado, c.nome_contratado,
    c.valor_inicial::float8, c.valor_final::float8, c.modalidade_licitacao";

/// The rows of `select` (a statement without LIMIT) with its typed `params`,
/// at most `limit`: one row past it is asked for, and its arrival is
/// `TooMany`. `table` names what was read in the error's context.
pub async fn rows_within(
    client: &Client,
    select: &str,
    params: &QueryParams,
    limit: usize,
    table: &str,
) -> Result<Vec<tokio_postgres::Row>, RetrievalError> {
    let sql = format!("{select} limit {}", limit.saturating_add(1));
    let typed: Vec<(&(dyn ToSql + Sync), Type)> = params
        .iter()
        .map(|(v, t)| (v.as_ref() as &(dyn ToSql + Sync), t.clone()))
        .collect();
    let rows = client
        .query_typed(&sql, &typed)
        .await
        .with_context(|| format!("reading {table}"))?;
    if rows.len() > limit {
        return Err(RetrievalError::TooMany { limit });
    }
    Ok(rows)
}

/// The WHERE clause over `transparency.contracts c` and its parameters.
pub fn where_clause(f: &ContractFilters) -> (String, QueryParams) {
    let mut w = Where::default();
    if let Some(v) = &f.codigo_orgao {
        w.push("c.codigo_orgao = ?", Box::new(v.clone()), Type::TEXT);
    }
    if let Some(v) = &f.codigo_orgao_superior {
        w.push(
            "c.codigo_orgao_superior = ?",
            Box::new(v.clone()),
            Type::TEXT,
        );
    }
    if let Some(v) = &f.codigo_ug {
        w.push("c.codigo_ug = ?", Box::new(v.clone()), Type::TEXT);
    }
    match &f.cnpj_fornecedor {
        // A CNPJ root: every 14-digit code that starts with it, as a range the
        // index on codigo_contratado serves whatever the collation (a LIKE
        // prefix would need text_pattern_ops); an 11-digit CPF can sort inside
        // the range, hence the length.
        Some(root) if root.len() == 8 => {
            let (first, last) = (format!("{root}000000"), format!("{root}999999"));
            w.push("c.codigo_contratado >= ?", Box::new(first), Type::TEXT);
            w.push(
                "c.codigo_contratado <= ? and length(c.codigo_contratado) = 14",
                Box::new(last),
                Type::TEXT,
            );
        }
        Some(v) => w.push("c.codigo_contratado = ?", Box::new(v.clone()), Type::TEXT),
        None => {}
    }
    if !f.modalidade.is_empty() {
        let patterns: Vec<String> = f.modalidade.iter().map(|m| format!("%{m}%")).collect();
        w.push(
            "c.modalidade_busca like any(?)",
            Box::new(patterns),
            Type::TEXT_ARRAY,
        );
    }
    // One clause and one parameter however many words: the statement's size and
    // its plan do not depend on what the citizen typed. `fold` leaves only
    // letters, digits and spaces, so no word holds a LIKE wildcard.
    if !f.texto.is_empty() {
        let patterns: Vec<String> = f.texto.iter().map(|w| format!("%{w}%")).collect();
        w.push(
            "c.objeto_busca like all(?)",
            Box::new(patterns),
            Type::TEXT_ARRAY,
        );
    }
    if let Some(v) = f.signed_from {
        w.push("c.data_assinatura >= ?", Box::new(v), Type::DATE);
    }
    if let Some(v) = f.signed_until {
        w.push("c.data_assinatura <= ?", Box::new(v), Type::DATE);
    }
    if let Some(v) = f.min_value {
        w.push(
            "coalesce(c.valor_final, c.valor_inicial) >= ?::float8::numeric",
            Box::new(v),
            Type::FLOAT8,
        );
    }
    if let Some(v) = f.max_value {
        w.push(
            "coalesce(c.valor_final, c.valor_inicial) <= ?::float8::numeric",
            Box::new(v),
            Type::FLOAT8,
        );
    }
    w.finish()
}

/// The statement retrieval runs; public so the benchmark can time a bare
/// `COPY (…) TO STDOUT` of the very same rows.
pub fn contracts_query(f: &ContractFilters) -> (String, QueryParams) {
    let (clause, params) = where_clause(f);
    let sql = format!(
        "select distinct on (c.contract_id) {CONTRACT_COLUMNS}
         from transparency.contracts c
         where {clause}
         order by c.contract_id, c.source_month desc"
    );
    (sql, params)
}

fn amendments_query(f: &ContractFilters) -> (String, QueryParams) {
    let (clause, params) = where_clause(f);
    let sql = format!(
        "select distinct on (a.amendment_id)
                a.codigo_ug, a.numero_contrato, a.numero_termo, a.data_publicacao, a.objeto
         from transparency.amendments a
         where exists (
             select 1 from transparency.contracts c
             where c.codigo_ug is not distinct from a.codigo_ug
               and c.numero = a.numero_contrato and {clause})
         order by a.amendment_id, a.source_month desc"
    );
    (sql, params)
}

/// The priced items of the contracts the filters select, each with what every
/// agency in the database paid for the same item: the peers are precomputed by
/// `fiscal import` (migration 0019), so they ignore the filters. Priced items
/// always have a UG, so the match is `=`, which the planner can hash: `is not
/// distinct from` made it a nested loop, 1 s instead of 0.1 s over two years.
fn items_query(f: &ContractFilters) -> (String, QueryParams) {
    let (clause, params) = where_clause(f);
    let sql = format!(
        "select u.codigo_ug, u.numero_contrato, u.item, u.quantidade, u.preco_unitario,
                p.itens, p.orgaos, p.precos, p.quantidade_mediana
         from transparency.item_unit_prices u
         left join transparency.item_price_peers p using (item)
         where exists (
             select 1 from transparency.contracts c
             where c.codigo_ug = u.codigo_ug
               and c.numero = u.numero_contrato and {clause})
         order by u.codigo_ug, u.numero_contrato, u.item, u.preco_unitario, u.quantidade"
    );
    (sql, params)
}

/// Every emergency dispensa in the database between the (UG, supplier) pairs
/// of `$1` and `$2`, each at its latest publication, in (UG, supplier,
/// signature) order. The pairs come from the contracts already read
/// ([`Lookups`]), so the filters' rows are not scanned again.
const EMERGENCIES: &str = "
    select * from (
        select distinct on (c.contract_id) c.codigo_ug, c.nome_ug, c.codigo_contratado,
               c.nome_contratado, c.contract_id, c.numero, c.data_assinatura,
               coalesce(c.valor_final, c.valor_inicial)::float8, c.objeto
        from transparency.contracts c
        join unnest($1::text[], $2::text[]) as asked(codigo_ug, codigo_contratado)
            using (codigo_ug, codigo_contratado)
        where c.modalidade_busca like '%dispensa%' and c.objeto_busca like '%emergen%'
        order by c.contract_id, c.source_month desc
    ) e
    order by 1, 3, 7 nulls last, 5";

/// The whole database's record (earliest signature, contracts) of `$1`'s
/// suppliers, and the database's earliest month of publication on each row.
/// The suppliers are found among the contracts already read, as sanctions are:
/// a second scan of a million rows to find them again cost half a second.
const SUPPLIER_HISTORY: &str = "
    select c.codigo_contratado, min(c.data_assinatura), count(distinct c.contract_id)::int4,
           (select min(source_month) from transparency.contracts)
    from transparency.contracts c
    where c.codigo_contratado = any($1)
    group by c.codigo_contratado";

/// What the agencies of `$1` usually award without bidding, precomputed by
/// `fiscal import` (migration 0020): one index lookup per agency.
const AGENCY_DIRECT_AWARDS: &str = "
    select codigo_orgao, contratos, valores
    from transparency.agency_direct_awards
    where codigo_orgao = any($1)";

/// The dispensas, across the database, of the suppliers of `$1`, precomputed
/// by `fiscal import` (migration 0020).
const SUPPLIER_DISPENSAS: &str = "
    select codigo_contratado, contratos, ugs, orgaos, total, maiores_ugs, maiores_nomes,
           maiores_contratos, maiores_totais
    from transparency.supplier_dispensas
    where codigo_contratado = any($1)";

/// Which contracts read need the whole database's record, found in one pass
/// with each modality classified once, as the vendor rules classify it.
#[derive(Default)]
struct Lookups<'a> {
    /// (UG, supplier) pairs of emergency dispensas, for [`EMERGENCIES`]: a
    /// dispensa whose object, folded, speaks of an emergency (Lei 8.666/1993
    /// art. 24 IV, Lei 14.133/2021 art. 75 VIII; the Portal rarely fills in the
    /// legal basis).
    emergency_ugs: Vec<&'a str>,
    emergency_suppliers: Vec<&'a str>,
    /// Suppliers of direct awards of at least `direct_from`, for
    /// [`SUPPLIER_HISTORY`].
    large_award_suppliers: Vec<&'a str>,
    /// Agencies of those awards, for [`AGENCY_DIRECT_AWARDS`].
    large_award_agencies: Vec<&'a str>,
    /// Suppliers of any dispensa, for [`SUPPLIER_DISPENSAS`].
    dispensa_suppliers: Vec<&'a str>,
}

impl<'a> Lookups<'a> {
    fn of(contracts: &'a [Contract], direct_from: f64) -> Self {
        use super::rules::vendor::{modality_is_direct, modality_is_dispensa};
        let mut kinds: HashMap<&str, (bool, bool)> = HashMap::new();
        let mut out = Self::default();
        let mut pairs: Vec<(&str, &str)> = Vec::new();
        for c in contracts {
            let Some(m) = c.modality.as_deref() else {
                continue;
            };
            let (direct, dispensa) = *kinds
                .entry(m)
                .or_insert_with(|| (modality_is_direct(m), modality_is_dispensa(m)));
            if !direct {
                continue;
            }
            let supplier = c.supplier_code.as_deref();
            if c.value_signed().is_some_and(|v| v >= direct_from) {
                out.large_award_suppliers.extend(supplier);
                out.large_award_agencies.extend(c.agency.code.as_deref());
            }
            if !dispensa {
                continue;
            }
            out.dispensa_suppliers.extend(supplier);
            // Folding is the cost: only objects that can say it are folded.
            let emergency = c
                .object
                .as_bytes()
                .windows(5)
                .any(|w| w.eq_ignore_ascii_case(b"emerg"))
                && crate::domain::text::fold(&c.object).contains("emergen");
            if let (true, Some(ug), Some(supplier)) = (emergency, c.ug.code.as_deref(), supplier) {
                pairs.push((ug, supplier));
            }
        }
        pairs.sort_unstable();
        pairs.dedup();
        (out.emergency_ugs, out.emergency_suppliers) = pairs.into_iter().unzip();
        for codes in [
            &mut out.large_award_suppliers,
            &mut out.large_award_agencies,
            &mut out.dispensa_suppliers,
        ] {
            codes.sort_unstable();
            codes.dedup();
        }
        out
    }
}

fn unit(code: Option<Shared>, name: Option<Shared>) -> Unit {
    Unit { code, name }
}

/// Shares repeated text (agency and UG names, modalities, suppliers) among the
/// records of one retrieval: a million contracts name a few thousand units, and
/// one copy each keeps the dataset within memory.
/// FNV rather than SipHash: a dozen short lookups per row, millions of rows, and
/// the text comes from our own database.
#[derive(Default)]
pub struct Interner {
    seen: std::collections::HashSet<Shared, fnv::FnvBuildHasher>,
}

impl Interner {
    pub fn get(&mut self, text: Option<&str>) -> Option<Shared> {
        let text = text?;
        if let Some(shared) = self.seen.get(text) {
            return Some(shared.clone());
        }
        let shared: Shared = Arc::from(text);
        self.seen.insert(shared.clone());
        Some(shared)
    }
}

/// A parsed Portal row as the detectors see it, keyed as the importer keys it;
/// what retrieval builds from the database, without the database (benchmarks,
/// tests of detectors on real rows).
pub fn from_portal(c: &crate::sources::portal::Contract) -> Contract {
    let some = |s: &str| (!s.is_empty()).then(|| Shared::from(s));
    let shared = |s: &Option<String>| s.as_deref().map(Shared::from);
    Contract {
        key: super::rows::contract_id(c),
        number: c.numero.clone(),
        object: c.objeto.clone(),
        legal_basis: shared(&c.fundamento_legal),
        modality: shared(&c.modalidade_compra),
        superior_agency: unit(some(&c.codigo_orgao_superior), some(&c.nome_orgao_superior)),
        agency: unit(some(&c.codigo_orgao), some(&c.nome_orgao)),
        ug: unit(some(&c.codigo_ug), some(&c.nome_ug)),
        signed: Some(c.data_assinatura),
        published: c.data_publicacao_dou,
        valid_from: c.data_inicio_vigencia,
        valid_until: c.data_fim_vigencia,
        supplier_code: c.fornecedor.as_ref().map(|s| Shared::from(s.as_str())),
        supplier_name: shared(&c.nome_fornecedor),
        initial_value: c.valor_inicial,
        final_value: c.valor_final,
        bidding_modality: shared(&c.modalidade_licitacao),
        amendments: Vec::new(),
        items: Vec::new(),
    }
}

/// Contracts by (UG, contract number): how the Portal links an amendment to its
/// contract (the number alone repeats across units). A sorted list of (hash,
/// position), 16 bytes a contract, rather than a map of string pairs to lists:
/// at a million contracts the map and its rehash were 200 MB at the peak of
/// retrieval; equal hashes are told apart by comparing the contracts.
struct ByUgNumber<'a> {
    contracts: &'a [Contract],
    sorted: Vec<(u64, usize)>,
}

impl<'a> ByUgNumber<'a> {
    fn new(contracts: &'a [Contract]) -> Self {
        let mut sorted: Vec<(u64, usize)> = contracts
            .iter()
            .enumerate()
            .map(|(i, c)| (Self::hash(c.ug.code.as_deref(), &c.number), i))
            .collect();
        sorted.sort_unstable();
        Self { contracts, sorted }
    }

    fn hash(ug: Option<&str>, number: &str) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (ug, number).hash(&mut h);
        h.finish()
    }

    /// Calls `f` with each contract of that UG and number, in dataset order.
    fn each(&self, ug: Option<&str>, number: &str, mut f: impl FnMut(usize)) {
        let h = Self::hash(ug, number);
        let start = self.sorted.partition_point(|&(k, _)| k < h);
        for &(_, i) in self.sorted[start..].iter().take_while(|&&(k, _)| k == h) {
            let c = &self.contracts[i];
            if c.ug.code.as_deref() == ug && c.number == number {
                f(i);
            }
        }
    }
}

/// Gives each contract its amendments, in publication order.
fn attach(contracts: &mut [Contract], attached: Vec<(usize, Amendment)>) {
    for (i, amendment) in attached {
        contracts[i].amendments.push(amendment);
    }
    for c in contracts {
        c.amendments.sort_by(|a, b| {
            (a.published, &a.number, &a.object).cmp(&(b.published, &b.number, &b.object))
        });
    }
}

/// Attaches parsed Portal amendments to contracts, as retrieval does.
pub fn attach_amendments(
    contracts: &mut [Contract],
    amendments: &[crate::sources::portal::Amendment],
) {
    let index = ByUgNumber::new(contracts);
    let mut attached = Vec::new();
    for a in amendments {
        index.each(Some(&a.codigo_ug), &a.numero_contrato, |i| {
            attached.push((
                i,
                Amendment {
                    number: Some(a.numero_termo_aditivo.clone()),
                    published: a.data_publicacao,
                    object: a.objeto.clone(),
                },
            ))
        });
    }
    attach(contracts, attached);
}

/// Streams the rows of one retrieval statement, sent unnamed with its types.
async fn query_rows(
    client: &Client,
    (sql, params): &(String, QueryParams),
) -> Result<tokio_postgres::RowStream, tokio_postgres::Error> {
    client
        .query_typed_raw(
            sql,
            params
                .iter()
                .map(|(p, ty)| (p.as_ref() as &(dyn ToSql + Sync), ty.clone())),
        )
        .await
}

/// Reads the dataset. `on_progress` is told how many contracts were read so far,
/// every few thousand rows; `cancel` is checked as often. Suppliers of direct
/// awards from `direct_from` reais get their history in the whole database.
pub async fn retrieve(
    client: &Client,
    filters: &ContractFilters,
    (limit, direct_from): (usize, f64),
    cancel: &CancellationToken,
    mut on_progress: impl FnMut(usize),
) -> Result<(Dataset, RetrievalStats), RetrievalError> {
    const BATCH: usize = 5_000;
    let rows = query_rows(client, &contracts_query(filters))
        .await
        .context("querying transparency.contracts")?;
    pin_mut!(rows);
    let mut contracts = Vec::new();
    let mut strings = Interner::default();
    while let Some(r) = rows.try_next().await.context("reading contracts")? {
        let mut text = |i: usize| strings.get(r.get::<_, Option<&str>>(i));
        let contract = Contract {
            legal_basis: text(3),
            modality: text(4),
            superior_agency: unit(text(5), text(6)),
            agency: unit(text(7), text(8)),
            ug: unit(text(9), text(10)),
            supplier_code: text(15),
            supplier_name: text(16),
            bidding_modality: text(19),
            key: r.get(0),
            number: r.get(1),
            object: r.get(2),
            signed: r.get(11),
            published: r.get(12),
            valid_from: r.get(13),
            valid_until: r.get(14),
            initial_value: r.get(17),
            final_value: r.get(18),
            amendments: Vec::new(),
            items: Vec::new(),
        };
        contracts.push(contract);
        if contracts.len() % BATCH == 0 {
            if cancel.is_cancelled() {
                return Err(RetrievalError::Cancelled);
            }
            if contracts.len() > limit {
                return Err(RetrievalError::TooMany { limit });
            }
            on_progress(contracts.len());
        }
    }
    if contracts.len() > limit {
        return Err(RetrievalError::TooMany { limit });
    }
    on_progress(contracts.len());

    let index = ByUgNumber::new(&contracts);
    let mut attached: Vec<(usize, Amendment)> = Vec::new();
    let rows = query_rows(client, &amendments_query(filters))
        .await
        .context("querying transparency.amendments")?;
    pin_mut!(rows);
    let mut amendments = 0;
    while let Some(r) = rows.try_next().await.context("reading amendments")? {
        if cancel.is_cancelled() {
            return Err(RetrievalError::Cancelled);
        }
        let ug: Option<String> = r.get(0);
        let number: String = r.get(1);
        let amendment = Amendment {
            number: r.get(2),
            published: r.get::<_, Option<NaiveDate>>(3),
            object: r.get(4),
        };
        amendments += 1;
        index.each(ug.as_deref(), &number, |i| {
            attached.push((i, amendment.clone()))
        });
    }
    let items = attach_items(client, filters, &index, &mut strings, cancel).await?;
    drop(index);
    attach(&mut contracts, attached);
    let priced = items.len();
    for (i, item) in items {
        contracts[i].items.push(item);
    }
    // Independent lookups, sent together: tokio-postgres pipelines them on the
    // one connection, so they cost about one round trip, not five.
    let lookups = Lookups::of(&contracts, direct_from);
    let (
        sanctions,
        emergencies,
        (supplier_history, published_from),
        agency_direct_awards,
        supplier_dispensas,
    ) = tokio::try_join!(
        sanctions_of(client, &contracts),
        emergencies_of(
            client,
            (&lookups.emergency_ugs, &lookups.emergency_suppliers)
        ),
        supplier_history_of(client, &lookups.large_award_suppliers),
        agency_direct_awards_of(client, &lookups.large_award_agencies),
        supplier_dispensas_of(client, &lookups.dispensa_suppliers),
    )?;
    drop(lookups);
    let stats = RetrievalStats {
        contracts: contracts.len(),
        amendments,
        items: priced,
    };
    Ok((
        Dataset {
            contracts,
            sanctions,
            emergencies,
            supplier_history,
            published_from,
            agency_direct_awards,
            supplier_dispensas,
        },
        stats,
    ))
}

/// The priced items of the contracts read, by contract index, in the order
/// the statement gives (contract, item, price), with one shared copy of each
/// item's peers.
async fn attach_items(
    client: &Client,
    filters: &ContractFilters,
    index: &ByUgNumber<'_>,
    strings: &mut Interner,
    cancel: &CancellationToken,
) -> Result<Vec<(usize, ItemPrice)>, RetrievalError> {
    let rows = query_rows(client, &items_query(filters))
        .await
        .context("querying transparency.item_unit_prices")?;
    pin_mut!(rows);
    let mut peers_of: HashMap<Shared, Arc<ItemPeers>> = HashMap::new();
    let mut out = Vec::new();
    while let Some(r) = rows.try_next().await.context("reading item prices")? {
        if cancel.is_cancelled() {
            return Err(RetrievalError::Cancelled);
        }
        let ug: Option<String> = r.get(0);
        let number: String = r.get(1);
        let Some(item) = strings.get(r.get::<_, Option<&str>>(2)) else {
            continue;
        };
        let peers = match peers_of.get(&item) {
            Some(known) => Some(known.clone()),
            None => item_peers(&r).map(|p| {
                let p = Arc::new(p);
                peers_of.insert(item.clone(), p.clone());
                p
            }),
        };
        let priced = ItemPrice {
            item,
            quantity: r.get(3),
            unit_price: r.get(4),
            peers,
        };
        index.each(ug.as_deref(), &number, |i| out.push((i, priced.clone())));
    }
    Ok(out)
}

/// An item's peers from [`items_query`]'s columns 5–8; none where no other
/// agency bought it (the left join found nothing).
fn item_peers(r: &tokio_postgres::Row) -> Option<ItemPeers> {
    let purchases: i32 = r.get::<_, Option<i32>>(5)?;
    let prices = <[f64; 5]>::try_from(r.get::<_, Option<Vec<f64>>>(7)?).ok()?;
    Some(ItemPeers {
        purchases: purchases.max(0) as u32,
        agencies: r.get::<_, Option<i32>>(6).unwrap_or(0).max(0) as u32,
        prices,
        median_quantity: r.get::<_, Option<f64>>(8).unwrap_or(0.0),
    })
}

/// The rows of [`SUPPLIER_HISTORY`] for `codes`.
async fn supplier_history_of(
    client: &Client,
    codes: &[&str],
) -> Result<(HashMap<Shared, SupplierHistory>, Option<NaiveDate>), RetrievalError> {
    let mut out = HashMap::new();
    if codes.is_empty() {
        return Ok((out, None));
    }
    let rows = client
        .query_typed(SUPPLIER_HISTORY, &[(&codes, Type::TEXT_ARRAY)])
        .await
        .context("querying the suppliers' history")?;
    let mut published_from = None;
    for r in rows {
        let Some(code) = r.get::<_, Option<&str>>(0).map(Shared::from) else {
            continue;
        };
        published_from = r.get(3);
        out.insert(
            code,
            SupplierHistory {
                first_signed: r.get(1),
                contracts: r.get::<_, i32>(2).max(0) as u32,
            },
        );
    }
    Ok((out, published_from))
}

/// The emergency dispensas of [`EMERGENCIES`] for `(ugs, suppliers)`, grouped
/// by (UG, supplier).
async fn emergencies_of(
    client: &Client,
    (ugs, suppliers): (&[&str], &[&str]),
) -> Result<Vec<EmergencyHistory>, RetrievalError> {
    let mut out: Vec<EmergencyHistory> = Vec::new();
    if ugs.is_empty() {
        return Ok(out);
    }
    let rows = client
        .query_typed(
            EMERGENCIES,
            &[(&ugs, Type::TEXT_ARRAY), (&suppliers, Type::TEXT_ARRAY)],
        )
        .await
        .context("querying emergency dispensas")?;
    for r in rows {
        let text = |i: usize| r.get::<_, Option<&str>>(i).map(Shared::from);
        let (Some(ug), Some(supplier)) = (text(0), text(2)) else {
            continue;
        };
        let award = EmergencyAward {
            key: r.get(4),
            number: r.get(5),
            signed: r.get(6),
            value: r.get(7),
            object: r.get(8),
        };
        match out.last_mut() {
            Some(h) if h.ug.code.as_ref() == Some(&ug) && h.supplier_code == supplier => {
                h.awards.push(award)
            }
            _ => out.push(EmergencyHistory {
                ug: unit(Some(ug), text(1)),
                supplier_code: supplier,
                supplier_name: text(3),
                awards: vec![award],
            }),
        }
    }
    Ok(out)
}

/// The rows of [`AGENCY_DIRECT_AWARDS`] for `codes`.
async fn agency_direct_awards_of(
    client: &Client,
    codes: &[&str],
) -> Result<HashMap<Shared, AgencyDirectAwards>, RetrievalError> {
    let mut out = HashMap::new();
    if codes.is_empty() {
        return Ok(out);
    }
    let rows = client
        .query_typed(AGENCY_DIRECT_AWARDS, &[(&codes, Type::TEXT_ARRAY)])
        .await
        .context("querying transparency.agency_direct_awards")?;
    for r in rows {
        let values = r.get::<_, Option<Vec<f64>>>(2).unwrap_or_default();
        let (Some(code), Ok(values)) = (
            r.get::<_, Option<&str>>(0).map(Shared::from),
            <[f64; 3]>::try_from(values),
        ) else {
            continue;
        };
        let awards = r.get::<_, i32>(1).max(0) as u32;
        out.insert(code, AgencyDirectAwards { awards, values });
    }
    Ok(out)
}

/// The rows of [`SUPPLIER_DISPENSAS`] for `codes`.
async fn supplier_dispensas_of(
    client: &Client,
    codes: &[&str],
) -> Result<HashMap<Shared, SupplierDispensas>, RetrievalError> {
    let mut out = HashMap::new();
    if codes.is_empty() {
        return Ok(out);
    }
    let rows = client
        .query_typed(SUPPLIER_DISPENSAS, &[(&codes, Type::TEXT_ARRAY)])
        .await
        .context("querying transparency.supplier_dispensas")?;
    for r in rows {
        let Some(code) = r.get::<_, Option<&str>>(0).map(Shared::from) else {
            continue;
        };
        let count = |i: usize| r.get::<_, Option<i32>>(i).unwrap_or(0).max(0) as u32;
        let codes: Vec<Option<String>> = r.get::<_, Option<_>>(5).unwrap_or_default();
        let names: Vec<Option<String>> = r.get::<_, Option<_>>(6).unwrap_or_default();
        let contracts: Vec<Option<i32>> = r.get::<_, Option<_>>(7).unwrap_or_default();
        let totals: Vec<Option<f64>> = r.get::<_, Option<_>>(8).unwrap_or_default();
        let largest = codes
            .into_iter()
            .zip(names)
            .zip(contracts.into_iter().zip(totals))
            .map(|((code, name), (contracts, total))| UnitDispensas {
                ug: unit(
                    code.map(Shared::from),
                    name.filter(|n| !n.is_empty()).map(Shared::from),
                ),
                contracts: contracts.unwrap_or(0).max(0) as u32,
                total: total.unwrap_or(0.0),
            })
            .collect();
        out.insert(
            code,
            SupplierDispensas {
                contracts: count(1),
                units: count(2),
                agencies: count(3),
                total: r.get::<_, Option<f64>>(4).unwrap_or(0.0),
                largest,
            },
        );
    }
    Ok(out)
}

/// The penalties, in any sanctions list imported, of the suppliers of
/// `contracts`: an index lookup per supplier, in one statement.
async fn sanctions_of(
    client: &Client,
    contracts: &[Contract],
) -> Result<HashMap<String, Vec<SupplierSanction>>, RetrievalError> {
    let mut codes: Vec<&str> = contracts
        .iter()
        .filter_map(|c| c.supplier_code.as_deref())
        .collect();
    codes.sort_unstable();
    codes.dedup();
    let mut out: HashMap<String, Vec<SupplierSanction>> = HashMap::new();
    if codes.is_empty() {
        return Ok(out);
    }
    let rows = client
        .query_typed(
            "select document, registry, sanction_id, name, category, body, published,
                    fine::float8
             from transparency.sanctions
             where document = any($1)
             order by document, published nulls last, registry, sanction_id",
            &[(&codes, Type::TEXT_ARRAY)],
        )
        .await
        .context("querying transparency.sanctions")?;
    for r in rows {
        out.entry(r.get(0)).or_default().push(SupplierSanction {
            registry: r.get(1),
            id: r.get(2),
            name: r.get(3),
            category: r.get(4),
            body: r.get(5),
            published: r.get(6),
            fine: r.get(7),
        });
    }
    Ok(out)
}
