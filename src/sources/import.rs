//! `fiscal import PATH…`: Portal da Transparência bulk downloads into schema
//! `transparency`, through COPY.
//!
//! Accepts the monthly zip as published (`AAAAMM_Compras.csv`,
//! `AAAAMM_TermoAditivo.csv`, `AAAAMM_ItemCompra.csv`; `AAAAMM_Apostilamento.csv` has
//! no table and is skipped, said so), or a bare csv of any of those kinds, found by
//! its header. Each file is one transaction: rows are COPYed (binary) into a
//! staging table, then inserted with `on conflict do nothing` on the table's key,
//! so importing the same month again changes nothing and reports the rows as
//! unchanged. A broken row is reported with file, line and reason and the rest of
//! the file loads; a file that cannot be read at all (empty, not a Portal file) is
//! reported and the other files still load.
//!
//! Keys. `contract_id` is the contract's identity — UG, number, signature date,
//! supplier — the same whatever month republished it, and what results cite. A
//! row is keyed by (`contract_id`, `source_month`), the month being that of the
//! row's DOU publication (else the AAAAMM of the file name, else the signature),
//! so the same row arriving in the monthly zip and in a concatenated csv is one
//! row. Two rows of one month with one identity (the Portal publishes some
//! contracts twice a month, as `Publicado` and `Não se aplica`) are merged, keeping
//! the later DOU publication, then the later line; the report counts them.

use std::io::{Cursor, Read};
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use chrono::{Datelike, NaiveDate};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::Client;

use super::portal::{self, Amendment, Contract, ContractItem, RowError, SupplierId};
use crate::pipeline::text::fold;

/// Rejected rows listed in the report and in `transparency.imports`; the count
/// is always complete.
const LISTED_REJECTIONS: usize = 50;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Contracts,
    Amendments,
    Items,
    Sanctions,
    BudgetLines,
    Servants,
    Biddings,
    BiddingParticipants,
    Agreements,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Contracts => "contracts",
            Kind::Amendments => "amendments",
            Kind::Items => "contract_items",
            Kind::Sanctions => "sanctions",
            Kind::BudgetLines => "budget_lines",
            Kind::Servants => "servants",
            Kind::Biddings => "biddings",
            Kind::BiddingParticipants => "bidding_participants",
            Kind::Agreements => "agreements",
        }
    }
}

/// What happened to one file (or one zip entry).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FileReport {
    pub source: String,
    pub kind: Option<Kind>,
    pub read: u64,
    pub loaded: u64,
    pub unchanged: u64,
    /// Rows that repeat another row's key within the file (the Portal publishing
    /// one contract twice the same month), merged into it.
    pub merged: u64,
    pub rejected: u64,
    /// The first rejected rows, "file:line: reason".
    pub rejections: Vec<String>,
    /// Set when the file could not be imported at all (nothing was loaded).
    pub error: Option<String>,
    /// Set when the file was skipped on purpose.
    pub skipped: Option<String>,
}

impl FileReport {
    fn new(source: &str) -> Self {
        Self {
            source: source.to_string(),
            ..Self::default()
        }
    }

    /// One line for the terminal.
    pub fn line(&self) -> String {
        if let Some(e) = &self.error {
            return format!("{}: not imported: {e}", self.source);
        }
        if let Some(s) = &self.skipped {
            return format!("{}: skipped: {s}", self.source);
        }
        // Budget lines repeat as parts of one line, contracts as republications.
        let merged = if self.kind == Some(Kind::BudgetLines) {
            "parts summed into their line"
        } else {
            "merged republications"
        };
        format!(
            "{}: {} rows read as {}: {} loaded, {} unchanged, {} {merged}, {} rejected",
            self.source,
            self.read,
            self.kind.map_or("?", Kind::as_str),
            self.loaded,
            self.unchanged,
            self.merged,
            self.rejected
        )
    }
}

/// `fiscal import PATH…`: loads, prints the report, fails if a file could not be
/// imported at all. Uses the migration URL: loading data is an operator's task.
pub async fn run(settings: &crate::config::Settings, paths: &[std::path::PathBuf]) -> Result<()> {
    let started = std::time::Instant::now();
    let (mut client, driver) =
        crate::db::connect_driven(settings.migrate_url(), &settings.database).await?;
    let reports = import_paths(&mut client, paths).await;
    drop(client);
    let _ = driver.await;
    print!("{}", render(&reports, started.elapsed()));
    check(&reports)
}

/// Imports every path; never stops at a bad file. The caller decides the exit
/// code from the reports.
pub async fn import_paths(client: &mut Client, paths: &[impl AsRef<Path>]) -> Vec<FileReport> {
    let mut reports = Vec::new();
    for path in paths {
        let path = path.as_ref();
        let name = path.display().to_string();
        let is_zip = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("zip"));
        let result = if is_zip {
            import_zip(client, path, &mut reports).await
        } else {
            match std::fs::read(path) {
                Ok(bytes) => {
                    let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned());
                    reports.push(
                        import_bytes(client, &name, file_name.as_deref().unwrap_or(""), bytes)
                            .await,
                    );
                    Ok(())
                }
                Err(e) => Err(anyhow!(e).context("reading the file")),
            }
        };
        if let Err(e) = result {
            let mut report = FileReport::new(&name);
            report.error = Some(format!("{e:#}"));
            reports.push(report);
        }
    }
    // Fresh statistics, or the planner guesses the filters' selectivity from an
    // empty table and picks the wrong index.
    if reports.iter().any(|r| r.loaded > 0) {
        if let Err(e) = client
            .batch_execute(
                "analyze transparency.contracts, transparency.amendments, \
                 transparency.contract_items, transparency.sanctions, \
                 transparency.budget_lines, transparency.servants, transparency.biddings, \
                 transparency.bidding_participants, transparency.agreements",
            )
            .await
        {
            tracing::warn!(error = %e, "could not analyze the transparency tables");
        }
    }
    reports
}

/// The largest file a zip may hold, decompressed. The Portal's monthly files
/// are tens of megabytes (the whole of 2021–2022's contracts is 30 MB); a
/// forged or bombed zip stops here instead of taking the machine's memory.
const MAX_ZIP_ENTRY_BYTES: u64 = 512 << 20;

/// The files of a zip, decompressed, by name (folders left out).
pub fn zip_entries(path: &Path) -> Result<Vec<(String, Vec<u8>)>> {
    let file = std::fs::File::open(path).context("opening the zip")?;
    let mut archive =
        zip::ZipArchive::new(file).context("reading the zip (is it a Portal download?)")?;
    let mut entries = Vec::new();
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).context("reading the zip")?;
        if entry.is_dir() {
            continue;
        }
        let name = entry.name().to_string();
        // The size the zip declares is a hint, not a promise: it may be forged.
        let declared = entry.size().min(64 << 20);
        let mut bytes = Vec::with_capacity(declared as usize);
        (&mut entry)
            .take(MAX_ZIP_ENTRY_BYTES + 1)
            .read_to_end(&mut bytes)
            .with_context(|| format!("decompressing {name}"))?;
        if bytes.len() as u64 > MAX_ZIP_ENTRY_BYTES {
            bail!(
                "{name} decompresses to more than {} MiB, far more than any Portal file; \
                 refusing it",
                MAX_ZIP_ENTRY_BYTES >> 20
            );
        }
        entries.push((name, bytes));
    }
    Ok(entries)
}

/// Members of the Portal's zips the analysis does not read, by the ASCII part
/// of their name (accented names arrive in CP850, without the UTF-8 flag), and
/// why.
const UNUSED_MEMBERS: &[(&str, &str)] = &[
    (
        "apostilamento",
        "apostilamentos are not used by the analysis",
    ),
    ("itemlicita", "bidding items are not used by the analysis"),
    (
        "empenhosrelacionados",
        "empenhos related to biddings are not used by the analysis",
    ),
    (
        "ordensbancarias",
        "agreements' payment orders are not used by the analysis",
    ),
];

fn unused_member(name: &str) -> Option<&'static str> {
    let name = name.to_ascii_lowercase();
    UNUSED_MEMBERS
        .iter()
        .find(|(part, _)| name.contains(part))
        .map(|(_, why)| *why)
}

async fn import_zip(client: &mut Client, path: &Path, reports: &mut Vec<FileReport>) -> Result<()> {
    for (name, bytes) in zip_entries(path)? {
        let source = format!("{}:{name}", path.display());
        if let Some(why) = unused_member(&name) {
            let mut report = FileReport::new(&source);
            report.skipped = Some(why.into());
            reports.push(report);
            continue;
        }
        reports.push(import_bytes(client, &source, &name, bytes).await);
    }
    Ok(())
}

/// The month a file name announces: `AAAAMM_Compras.csv` → 1st of that month.
fn month_of_name(file_name: &str) -> Option<NaiveDate> {
    let base = file_name.rsplit(['/', '\\']).next().unwrap_or(file_name);
    let digits = base.get(..6)?;
    if base.as_bytes().get(6) != Some(&b'_') || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let year: i32 = digits[..4].parse().ok()?;
    let month: u32 = digits[4..].parse().ok()?;
    NaiveDate::from_ymd_opt(year, month, 1)
}

fn first_of_month(d: NaiveDate) -> NaiveDate {
    d.with_day(1).unwrap_or(d)
}

/// Which kind of Portal file this is: a sanctions list by its JSON shape, a CSV
/// by trying each header in turn.
fn detect(bytes: &[u8], source: &str) -> Result<Kind, RowError> {
    if super::sanctions::looks_like(bytes) {
        return Ok(Kind::Sanctions);
    }
    if super::servants::looks_like(bytes) {
        return Ok(Kind::Servants);
    }
    let contracts = portal::read_contracts(Cursor::new(bytes), source).map(|_| Kind::Contracts);
    match contracts {
        Ok(kind) => Ok(kind),
        Err(e) if matches!(e.reason, portal::Reason::MissingColumn { .. }) => {
            portal::read_amendments(Cursor::new(bytes), source)
                .map(|_| Kind::Amendments)
                .or_else(|_| portal::read_items(Cursor::new(bytes), source).map(|_| Kind::Items))
                .or_else(|_| {
                    super::expenses::read_budget_lines(Cursor::new(bytes), source)
                        .map(|_| Kind::BudgetLines)
                })
                .or_else(|_| {
                    super::biddings::read_biddings(Cursor::new(bytes), source)
                        .map(|_| Kind::Biddings)
                })
                .or_else(|_| {
                    super::biddings::read_participants(Cursor::new(bytes), source)
                        .map(|_| Kind::BiddingParticipants)
                })
                .or_else(|_| {
                    super::agreements::read_agreements(Cursor::new(bytes), source)
                        .map(|_| Kind::Agreements)
                })
                .map_err(|_| e)
        }
        Err(e) => Err(e),
    }
}

async fn import_bytes(
    client: &mut Client,
    source: &str,
    file_name: &str,
    bytes: Vec<u8>,
) -> FileReport {
    let mut report = FileReport::new(source);
    let kind = match detect(&bytes, source) {
        Ok(kind) => kind,
        Err(e) => {
            report.error = Some(match e.reason {
                portal::Reason::MissingColumn { .. } => format!(
                    "not a Portal da Transparência Compras, TermoAditivo, ItemCompra, \
                     OrcamentoDespesa, Licitação, ParticipantesLicitação or Convenios file, nor a sanctions \
                     list or a /servidores capture ({e})"
                ),
                _ => e.to_string(),
            });
            return report;
        }
    };
    report.kind = Some(kind);
    let started = chrono::Utc::now();
    let bar = progress_bar(bytes.len() as u64, file_name);
    let result = load(
        client,
        kind,
        source,
        month_of_name(file_name),
        &bytes,
        &bar,
        &mut report,
    )
    .await;
    bar.finish_and_clear();
    match result {
        Ok(()) => {
            if let Err(e) = record(client, &report, started).await {
                tracing::warn!(error = %format!("{e:#}"), "could not record the import in transparency.imports");
            }
        }
        Err(e) => {
            report.error = Some(format!("{e:#}"));
            report.loaded = 0;
            report.unchanged = 0;
        }
    }
    report
}

fn progress_bar(len: u64, name: &str) -> ProgressBar {
    // Hidden by indicatif itself when stderr is not a terminal.
    let bar = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template(
        "{msg:30!} [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec} {eta}",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(name.to_string());
    bar
}

/// Reads the rows and COPYs them in, all in one transaction.
async fn load(
    client: &mut Client,
    kind: Kind,
    source: &str,
    name_month: Option<NaiveDate>,
    bytes: &[u8],
    bar: &ProgressBar,
    report: &mut FileReport,
) -> Result<()> {
    let reader = bar.wrap_read(Cursor::new(bytes));
    let tx = client
        .transaction()
        .await
        .context("starting the import transaction")?;
    let (stage_ddl, columns, types, merge) = statements(kind);
    tx.batch_execute(stage_ddl)
        .await
        .context("creating the staging table")?;
    let sink = tx
        .copy_in(&format!("copy stage ({columns}) from stdin binary"))
        .await
        .context("starting COPY")?;
    let writer = BinaryCopyInWriter::new(sink, types);
    futures_util::pin_mut!(writer);

    let reject = |report: &mut FileReport, e: RowError| {
        report.rejected += 1;
        if report.rejections.len() < LISTED_REJECTIONS {
            report.rejections.push(e.to_string());
        }
    };
    macro_rules! copy_rows {
        ($records:expr, $row:ident => $values:expr) => {{
            let mut records = $records.map_err(|e| anyhow!("{e}"))?;
            while let Some(item) = records.next() {
                report.read += 1;
                let line = records.line() as i32;
                match item {
                    Ok($row) => {
                        let values: Row = $values(line);
                        let refs: Vec<&(dyn ToSql + Sync)> = values
                            .iter()
                            .map(|v| v.as_ref() as &(dyn ToSql + Sync))
                            .collect();
                        writer.as_mut().write(&refs).await.context("COPY")?;
                    }
                    Err(e) => reject(report, e),
                }
            }
        }};
    }
    let file = source.to_string();
    match kind {
        Kind::Contracts => {
            copy_rows!(portal::read_contracts(reader, source), c => |line| contract_values(&c, &file, name_month, line))
        }
        Kind::Amendments => {
            copy_rows!(portal::read_amendments(reader, source), a => |line| amendment_values(&a, &file, name_month, line))
        }
        Kind::Items => {
            copy_rows!(portal::read_items(reader, source), i => |line| item_values(&i, &file, name_month, line))
        }
        Kind::Sanctions => {
            copy_rows!(
                super::sanctions::read(bytes, source).map(JsonRecords::new),
                s => |line| sanction_values(&s, &file, line)
            )
        }
        Kind::BudgetLines => {
            copy_rows!(super::expenses::read_budget_lines(reader, source), l => |line| budget_values(&l, &file, line))
        }
        Kind::Servants => {
            copy_rows!(
                super::servants::read(bytes, source).map(JsonRecords::new),
                r => |_line| servant_values(&r, &format!("file:{file}"))
            )
        }
        Kind::Biddings => {
            copy_rows!(super::biddings::read_biddings(reader, source), l => |line| bidding_values(&l, &file, line))
        }
        Kind::BiddingParticipants => {
            copy_rows!(super::biddings::read_participants(reader, source), p => |line| participant_values(&p, &file, line))
        }
        Kind::Agreements => {
            copy_rows!(super::agreements::read_agreements(reader, source), a => |line| agreement_values(&a, &file, line))
        }
    }
    let staged = writer.finish().await.context("finishing COPY")?;
    let distinct: i64 = tx
        .query_one(distinct_keys(kind), &[])
        .await
        .context("counting staged keys")?
        .get(0);
    let distinct = distinct as u64;
    let loaded = tx
        .execute(merge, &[])
        .await
        .context("merging staged rows")?;
    if kind == Kind::BudgetLines {
        tx.execute(BUDGET_UNITS, &[])
            .await
            .context("adding the budget's organs to transparency.units")?;
    }
    tx.commit().await.context("committing the import")?;
    report.loaded = loaded;
    report.merged = staged.saturating_sub(distinct);
    report.unchanged = distinct.saturating_sub(loaded);
    Ok(())
}

/// Rows of `kind` that did not come from a file (the Portal API), merged as an
/// import merges them: staged by COPY and merged in one transaction, so a
/// record already there unchanged is left alone. Returns the rows that changed.
pub(crate) async fn merge_rows(client: &Client, kind: Kind, rows: Vec<Row>) -> Result<u64> {
    // begin/commit by hand rather than a Transaction: the worker's pooled
    // connections are shared, and this works behind a transaction-mode pooler.
    client
        .batch_execute("begin")
        .await
        .context("starting the merge transaction")?;
    let merged = async {
        let (stage_ddl, columns, types, merge) = statements(kind);
        client
            .batch_execute(stage_ddl)
            .await
            .context("creating the staging table")?;
        let sink = client
            .copy_in(&format!("copy stage ({columns}) from stdin binary"))
            .await
            .context("starting COPY")?;
        let writer = BinaryCopyInWriter::new(sink, types);
        futures_util::pin_mut!(writer);
        for values in &rows {
            let refs: Vec<&(dyn ToSql + Sync)> = values
                .iter()
                .map(|v| v.as_ref() as &(dyn ToSql + Sync))
                .collect();
            writer.as_mut().write(&refs).await.context("COPY")?;
        }
        writer.finish().await.context("finishing COPY")?;
        client
            .execute(merge, &[])
            .await
            .context("merging staged rows")
    }
    .await;
    match merged {
        Ok(changed) => {
            client
                .batch_execute("commit")
                .await
                .context("committing the merge")?;
            Ok(changed)
        }
        Err(e) => {
            let _ = client.batch_execute("rollback").await;
            Err(e)
        }
    }
}

async fn record(
    client: &Client,
    report: &FileReport,
    started: chrono::DateTime<chrono::Utc>,
) -> Result<()> {
    let n = |v: u64| i32::try_from(v).unwrap_or(i32::MAX);
    // Unnamed, outside the import's transaction: safe behind a transaction pooler.
    client
        .execute_typed(
            "insert into transparency.imports
                 (source_file, kind, rows_read, rows_loaded, rows_unchanged, rows_merged,
                  rows_rejected, rejections, started_at)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            &[
                (&report.source, Type::TEXT),
                (&report.kind.map_or("?", Kind::as_str), Type::TEXT),
                (&n(report.read), Type::INT4),
                (&n(report.loaded), Type::INT4),
                (&n(report.unchanged), Type::INT4),
                (&n(report.merged), Type::INT4),
                (&n(report.rejected), Type::INT4),
                (&json!(report.rejections), Type::JSONB),
                (&started, Type::TIMESTAMPTZ),
            ],
        )
        .await?;
    Ok(())
}

// Send, so the API cache may hold a row across an await.
pub(crate) type Row = Vec<Box<dyn ToSql + Sync + Send>>;

fn b<T: ToSql + Sync + Send + 'static>(v: T) -> Box<dyn ToSql + Sync + Send> {
    Box::new(v)
}

/// The contract's identity, the same in every month that republishes it.
pub fn contract_id(c: &Contract) -> String {
    format!(
        "{}/{}/{}/{}",
        c.codigo_ug,
        c.numero,
        c.data_assinatura.format("%Y%m%d"),
        c.fornecedor.as_ref().map_or("-", SupplierId::as_str)
    )
}

/// The values of one contract row, in the order of [`contract_columns`]; the API
/// cache writes its rows through it too, so both sources key a contract alike.
pub(crate) fn contract_values(
    c: &Contract,
    file: &str,
    name_month: Option<NaiveDate>,
    line: i32,
) -> Row {
    let month = c
        .data_publicacao_dou
        .map(first_of_month)
        .or(name_month)
        .unwrap_or_else(|| first_of_month(c.data_assinatura));
    let tipo = c.fornecedor.as_ref().map(|s| match s {
        SupplierId::Cnpj(_) => "cnpj",
        SupplierId::Cpf(_) => "cpf",
        SupplierId::Other(_) => "outro",
    });
    vec![
        b(contract_id(c)),
        b(month),
        b(file.to_string()),
        b(line),
        b(c.numero.clone()),
        b(c.objeto.clone()),
        b(fold(&c.objeto)),
        b(c.fundamento_legal.clone()),
        b(c.modalidade_compra.clone()),
        b(c.modalidade_compra.as_deref().map(fold)),
        b(c.situacao.clone()),
        b(c.codigo_orgao_superior.clone()),
        b(c.nome_orgao_superior.clone()),
        b(c.codigo_orgao.clone()),
        b(c.nome_orgao.clone()),
        b(c.codigo_ug.clone()),
        b(c.nome_ug.clone()),
        b(c.data_assinatura),
        b(c.data_publicacao_dou),
        b(c.data_inicio_vigencia),
        b(c.data_fim_vigencia),
        b(c.fornecedor.as_ref().map(|s| s.as_str().to_string())),
        b(tipo),
        b(c.nome_fornecedor.clone()),
        b(c.valor_inicial),
        b(c.valor_final),
        b(c.numero_licitacao.clone()),
        b(c.codigo_ug_licitacao.clone()),
        b(c.nome_ug_licitacao.clone()),
        b(c.codigo_modalidade_licitacao.clone()),
        b(c.modalidade_licitacao.clone()),
    ]
}

fn amendment_values(a: &Amendment, file: &str, name_month: Option<NaiveDate>, line: i32) -> Row {
    let month = a
        .data_publicacao
        .map(first_of_month)
        .or(name_month)
        .unwrap_or_default();
    let id = format!(
        "{}/{}/{}",
        a.codigo_ug, a.numero_contrato, a.numero_termo_aditivo
    );
    vec![
        b(id),
        b(month),
        b(file.to_string()),
        b(line),
        b(a.numero_contrato.clone()),
        b(a.codigo_orgao_superior.clone()),
        b(a.nome_orgao_superior.clone()),
        b(a.codigo_orgao.clone()),
        b(a.nome_orgao.clone()),
        b(a.codigo_ug.clone()),
        b(a.nome_ug.clone()),
        b(a.numero_termo_aditivo.clone()),
        b(a.data_publicacao),
        b(a.objeto.clone()),
    ]
}

fn item_values(i: &ContractItem, file: &str, name_month: Option<NaiveDate>, line: i32) -> Row {
    let id = format!(
        "{}/{}/{}",
        i.codigo_ug,
        i.numero_contrato,
        i.codigo_item.as_deref().unwrap_or("-")
    );
    vec![
        b(id),
        b(name_month.unwrap_or_default()),
        b(file.to_string()),
        b(line),
        b(i.codigo_orgao.clone()),
        b(i.nome_orgao.clone()),
        b(i.codigo_ug.clone()),
        b(i.nome_ug.clone()),
        b(i.numero_contrato.clone()),
        b(i.codigo_item.clone()),
        b(i.descricao.clone()),
        b(i.descricao_complementar.clone()),
        b(i.quantidade),
        b(i.valor),
    ]
}

/// The column list and types of [`contract_values`].
pub(crate) fn contract_columns() -> (&'static str, &'static [Type]) {
    let (_, columns, types, _) = statements(Kind::Contracts);
    (columns, types)
}

fn distinct_keys(kind: Kind) -> &'static str {
    match kind {
        Kind::Contracts => {
            "select count(*) from (select distinct contract_id, source_month from stage) k"
        }
        Kind::Amendments => {
            "select count(*) from (select distinct amendment_id, source_month from stage) k"
        }
        Kind::Items => "select count(*) from (select distinct item_id, source_month from stage) k",
        Kind::Sanctions => {
            "select count(*) from (select distinct registry, sanction_id from stage) k"
        }
        Kind::BudgetLines => "select count(distinct line_id) from stage",
        Kind::Servants => "select count(distinct servant_id) from stage",
        Kind::Biddings => "select count(distinct bidding_id) from stage",
        Kind::BiddingParticipants => "select count(distinct participant_key) from stage",
        Kind::Agreements => "select count(distinct numero) from stage",
    }
}

/// The records of a JSON file, read whole, handed out as the CSV readers hand
/// out rows; `line` is the record's position in the file's list.
struct JsonRecords<T> {
    records: std::vec::IntoIter<Result<T, RowError>>,
    line: u64,
}

impl<T> JsonRecords<T> {
    fn new(records: Vec<Result<T, RowError>>) -> Self {
        Self {
            records: records.into_iter(),
            line: 0,
        }
    }

    fn line(&self) -> u64 {
        self.line
    }
}

impl<T> Iterator for JsonRecords<T> {
    type Item = Result<T, RowError>;

    fn next(&mut self) -> Option<Self::Item> {
        let next = self.records.next()?;
        self.line += 1;
        Some(next)
    }
}

fn sanction_values(s: &super::sanctions::Sanction, file: &str, line: i32) -> Row {
    vec![
        b(s.registry.clone()),
        b(s.id),
        b(file.to_string()),
        b(line),
        b(s.document.clone()),
        b(s.name.clone()),
        b(s.uf.clone()),
        b(s.category.clone()),
        b(s.body.clone()),
        b(s.published),
        b(s.fine),
        b(s.link.clone()),
    ]
}

fn bidding_values(l: &super::biddings::Bidding, file: &str, line: i32) -> Row {
    vec![
        b(super::biddings::bidding_id(
            &l.codigo_ug,
            &l.numero,
            &l.codigo_modalidade,
        )),
        b(file.to_string()),
        b(line),
        b(l.numero.clone()),
        b(l.codigo_ug.clone()),
        b(l.nome_ug.clone()),
        b(l.codigo_modalidade.clone()),
        b(l.modalidade.clone()),
        b(l.numero_processo.clone()),
        b(l.objeto.clone()),
        b(fold(&l.objeto)),
        b(l.situacao.clone()),
        b(l.codigo_orgao_superior.clone()),
        b(l.nome_orgao_superior.clone()),
        b(l.codigo_orgao.clone()),
        b(l.nome_orgao.clone()),
        b(l.uf.clone()),
        b(l.municipio.clone()),
        b(l.data_resultado),
        b(l.data_abertura),
        b(l.valor),
    ]
}

fn participant_values(p: &super::biddings::Participant, file: &str, line: i32) -> Row {
    let bidding = super::biddings::bidding_id(&p.codigo_ug, &p.numero, &p.codigo_modalidade);
    vec![
        b(format!(
            "{bidding}/{}/{}",
            p.codigo_item.as_deref().unwrap_or("-"),
            p.codigo_participante
        )),
        b(bidding),
        b(file.to_string()),
        b(line),
        b(p.codigo_item.clone()),
        b(p.descricao_item.clone()),
        b(p.codigo_participante.clone()),
        b(p.nome_participante.clone()),
        b(p.vencedor),
    ]
}

pub(crate) fn agreement_values(a: &super::agreements::Agreement, file: &str, line: i32) -> Row {
    vec![
        b(a.numero.clone()),
        b(file.to_string()),
        b(line),
        b(a.uf.clone()),
        b(a.codigo_municipio.clone()),
        b(a.municipio.clone()),
        b(a.situacao.clone()),
        b(a.numero_original.clone()),
        b(a.numero_processo.clone()),
        b(a.objeto.clone()),
        b(fold(&a.objeto)),
        b(a.codigo_orgao_superior.clone()),
        b(a.nome_orgao_superior.clone()),
        b(a.codigo_orgao.clone()),
        b(a.nome_orgao.clone()),
        b(a.codigo_ug.clone()),
        b(a.nome_ug.clone()),
        b(a.codigo_convenente.clone()),
        b(a.tipo_convenente.clone()),
        b(a.nome_convenente.clone()),
        b(a.tipo_ente_convenente.clone()),
        b(a.tipo_instrumento.clone()),
        b(a.valor),
        b(a.valor_liberado),
        b(a.data_publicacao),
        b(a.data_inicio_vigencia),
        b(a.data_fim_vigencia),
        b(a.valor_contrapartida),
        b(a.data_ultima_liberacao),
        b(a.valor_ultima_liberacao),
    ]
}

/// The budget's organs, for questions to be resolved against (src/question):
/// added where the contracts have not named them, never renaming one.
const BUDGET_UNITS: &str = "
    insert into transparency.units (level, code, name, seen_month)
    select distinct on (v.level, v.code) v.level, v.code, btrim(v.name),
        make_date(s.exercicio, 1, 1)
    from stage s
    cross join lateral (values
        ('orgao_superior', s.codigo_orgao_superior, s.nome_orgao_superior),
        ('orgao', s.codigo_orgao, s.nome_orgao)) v(level, code, name)
    where btrim(v.name) <> ''
    order by v.level, v.code, s.exercicio desc
    on conflict (level, code) do nothing";

pub(crate) fn servant_values(r: &super::servants::Captured, file: &str) -> Row {
    let (s, record) = r;
    vec![
        b(s.id),
        b(s.exercicio.codigo.clone()),
        b(s.lotacao.codigo.clone()),
        b(s.nome.clone()),
        b(record.clone()),
        b(file.to_string()),
    ]
}

fn budget_values(l: &super::expenses::BudgetLine, file: &str, line: i32) -> Row {
    vec![
        b(l.line_id()),
        b(l.exercicio),
        b(file.to_string()),
        b(line),
        b(l.codigo_orgao_superior.clone()),
        b(l.nome_orgao_superior.clone()),
        b(l.codigo_orgao.clone()),
        b(l.nome_orgao.clone()),
        b(l.codigo_uo.clone()),
        b(l.nome_uo.clone()),
        b(l.codigo_funcao.clone()),
        b(l.nome_funcao.clone()),
        b(l.codigo_subfuncao.clone()),
        b(l.nome_subfuncao.clone()),
        b(l.codigo_programa.clone()),
        b(l.nome_programa.clone()),
        b(l.codigo_acao.clone()),
        b(l.nome_acao.clone()),
        b(fold(&l.nome_acao)),
        b(l.codigo_categoria.clone()),
        b(l.nome_categoria.clone()),
        b(l.codigo_grupo.clone()),
        b(l.nome_grupo.clone()),
        b(l.codigo_elemento.clone()),
        b(l.nome_elemento.clone()),
        b(l.inicial),
        b(l.atualizado),
        b(l.empenhado),
        b(l.realizado),
    ]
}

/// Staging DDL, COPY column list, COPY types and the merge statement of a kind.
/// Values are staged as float8 (binary COPY cannot send numeric from f64) and cast
/// on merge; float8 → numeric keeps 15 significant digits, enough for every value
/// the Portal writes (4 decimals, under 10^11).
fn statements(kind: Kind) -> (&'static str, &'static str, &'static [Type], &'static str) {
    match kind {
        Kind::Contracts => (
            "create temp table stage (
                 contract_id text, source_month date, source_file text, source_line int4,
                 numero text, objeto text, objeto_busca text, fundamento_legal text,
                 modalidade text, modalidade_busca text, situacao text,
                 codigo_orgao_superior text, nome_orgao_superior text, codigo_orgao text,
                 nome_orgao text, codigo_ug text, nome_ug text, data_assinatura date,
                 data_publicacao_dou date, data_inicio_vigencia date, data_fim_vigencia date,
                 codigo_contratado text, tipo_contratado text, nome_contratado text,
                 valor_inicial float8, valor_final float8, numero_licitacao text,
                 codigo_ug_licitacao text, nome_ug_licitacao text,
                 codigo_modalidade_licitacao text, modalidade_licitacao text
             ) on commit drop",
            "contract_id, source_month, source_file, source_line, numero, objeto, objeto_busca,
             fundamento_legal, modalidade, modalidade_busca, situacao, codigo_orgao_superior,
             nome_orgao_superior, codigo_orgao, nome_orgao, codigo_ug, nome_ug, data_assinatura,
             data_publicacao_dou, data_inicio_vigencia, data_fim_vigencia, codigo_contratado,
             tipo_contratado, nome_contratado, valor_inicial, valor_final, numero_licitacao,
             codigo_ug_licitacao, nome_ug_licitacao, codigo_modalidade_licitacao, modalidade_licitacao",
            &[
                Type::TEXT, Type::DATE, Type::TEXT, Type::INT4, Type::TEXT, Type::TEXT, Type::TEXT,
                Type::TEXT, Type::TEXT, Type::TEXT, Type::TEXT, Type::TEXT, Type::TEXT, Type::TEXT,
                Type::TEXT, Type::TEXT, Type::TEXT, Type::DATE, Type::DATE, Type::DATE, Type::DATE,
                Type::TEXT, Type::TEXT, Type::TEXT, Type::FLOAT8, Type::FLOAT8, Type::TEXT,
                Type::TEXT, Type::TEXT, Type::TEXT, Type::TEXT,
            ],
            "insert into transparency.contracts (
                 contract_id, source_month, source_file, source_line, numero, objeto, objeto_busca,
                 fundamento_legal, modalidade, modalidade_busca, situacao, codigo_orgao_superior,
                 nome_orgao_superior, codigo_orgao, nome_orgao, codigo_ug, nome_ug, data_assinatura,
                 data_publicacao_dou, data_inicio_vigencia, data_fim_vigencia, codigo_contratado,
                 tipo_contratado, nome_contratado, valor_inicial, valor_final, numero_licitacao,
                 codigo_ug_licitacao, nome_ug_licitacao, codigo_modalidade_licitacao, modalidade_licitacao)
             select distinct on (contract_id, source_month)
                 contract_id, source_month, source_file, source_line, numero, objeto, objeto_busca,
                 fundamento_legal, modalidade, modalidade_busca, situacao, codigo_orgao_superior,
                 nome_orgao_superior, codigo_orgao, nome_orgao, codigo_ug, nome_ug, data_assinatura,
                 data_publicacao_dou, data_inicio_vigencia, data_fim_vigencia, codigo_contratado,
                 tipo_contratado, nome_contratado, valor_inicial::numeric(20, 4),
                 valor_final::numeric(20, 4), numero_licitacao, codigo_ug_licitacao,
                 nome_ug_licitacao, codigo_modalidade_licitacao, modalidade_licitacao
             from stage
             order by contract_id, source_month, data_publicacao_dou desc nulls last, source_line desc
             on conflict (contract_id, source_month) do nothing",
        ),
        Kind::Amendments => (
            "create temp table stage (
                 amendment_id text, source_month date, source_file text, source_line int4,
                 numero_contrato text, codigo_orgao_superior text, nome_orgao_superior text,
                 codigo_orgao text, nome_orgao text, codigo_ug text, nome_ug text,
                 numero_termo text, data_publicacao date, objeto text
             ) on commit drop",
            "amendment_id, source_month, source_file, source_line, numero_contrato,
             codigo_orgao_superior, nome_orgao_superior, codigo_orgao, nome_orgao, codigo_ug,
             nome_ug, numero_termo, data_publicacao, objeto",
            &[
                Type::TEXT, Type::DATE, Type::TEXT, Type::INT4, Type::TEXT, Type::TEXT, Type::TEXT,
                Type::TEXT, Type::TEXT, Type::TEXT, Type::TEXT, Type::TEXT, Type::DATE, Type::TEXT,
            ],
            "insert into transparency.amendments (
                 amendment_id, source_month, source_file, source_line, numero_contrato,
                 codigo_orgao_superior, nome_orgao_superior, codigo_orgao, nome_orgao, codigo_ug,
                 nome_ug, numero_termo, data_publicacao, objeto)
             select distinct on (amendment_id, source_month) *
             from stage
             order by amendment_id, source_month, source_line desc
             on conflict (amendment_id, source_month) do nothing",
        ),
        Kind::Items => (
            "create temp table stage (
                 item_key text, source_month date, source_file text, source_line int4,
                 codigo_orgao text, nome_orgao text, codigo_ug text, nome_ug text,
                 numero_contrato text, codigo_item text, descricao text,
                 descricao_complementar text, quantidade float8, valor float8,
                 item_id text generated always as (item_key || '/' || left(md5(
                     coalesce(descricao, '') || '|' || coalesce(descricao_complementar, '') || '|'
                     || coalesce(quantidade::text, '') || '|' || coalesce(valor::text, '')), 12)) stored
             ) on commit drop",
            "item_key, source_month, source_file, source_line, codigo_orgao, nome_orgao,
             codigo_ug, nome_ug, numero_contrato, codigo_item, descricao,
             descricao_complementar, quantidade, valor",
            &[
                Type::TEXT, Type::DATE, Type::TEXT, Type::INT4, Type::TEXT, Type::TEXT, Type::TEXT,
                Type::TEXT, Type::TEXT, Type::TEXT, Type::TEXT, Type::TEXT, Type::FLOAT8,
                Type::FLOAT8,
            ],
            // One contract may list the same item code twice (different descriptions
            // or amounts): the content digest keeps both as distinct items.
            "insert into transparency.contract_items (
                 item_id, source_month, source_file, source_line, codigo_orgao, nome_orgao,
                 codigo_ug, nome_ug, numero_contrato, codigo_item, descricao,
                 descricao_complementar, quantidade, valor)
             select distinct on (item_id, source_month) item_id, source_month, source_file, source_line, codigo_orgao, nome_orgao,
                 codigo_ug, nome_ug, numero_contrato, codigo_item, descricao,
                 descricao_complementar, quantidade::numeric(20, 4), valor::numeric(20, 4)
             from stage
             order by item_id, source_month, source_line desc
             on conflict (item_id, source_month) do nothing",
        ),
        Kind::Sanctions => (
            "create temp table stage (
                 registry text, sanction_id int8, source_file text, source_line int4,
                 document text, name text, uf text, category text, body text,
                 published date, fine float8, link text
             ) on commit drop",
            "registry, sanction_id, source_file, source_line, document, name, uf, category,
             body, published, fine, link",
            &[
                Type::TEXT, Type::INT8, Type::TEXT, Type::INT4, Type::TEXT, Type::TEXT, Type::TEXT,
                Type::TEXT, Type::TEXT, Type::DATE, Type::FLOAT8, Type::TEXT,
            ],
            // A newer snapshot of the list may correct a penalty it repeats; what
            // it repeats unchanged is left alone, and counts as unchanged.
            "insert into transparency.sanctions as t (
                 registry, sanction_id, source_file, source_line, document, name, uf,
                 category, body, published, fine, link)
             select distinct on (registry, sanction_id) registry, sanction_id, source_file,
                 source_line, document, name, uf, category, body, published,
                 fine::numeric(20, 2), link
             from stage
             order by registry, sanction_id, source_line desc
             on conflict (registry, sanction_id) do update set
                 source_file = excluded.source_file, source_line = excluded.source_line,
                 document = excluded.document, name = excluded.name, uf = excluded.uf,
                 category = excluded.category, body = excluded.body,
                 published = excluded.published, fine = excluded.fine, link = excluded.link,
                 imported_at = now()
             where (t.document, t.name, t.uf, t.category, t.body, t.published, t.fine, t.link)
                 is distinct from (excluded.document, excluded.name, excluded.uf,
                     excluded.category, excluded.body, excluded.published, excluded.fine,
                     excluded.link)",
        ),
        Kind::BudgetLines => (
            "create temp table stage (
                 line_id text, exercicio int4, source_file text, source_line int4,
                 codigo_orgao_superior text, nome_orgao_superior text, codigo_orgao text,
                 nome_orgao text, codigo_uo text, nome_uo text, codigo_funcao text,
                 nome_funcao text, codigo_subfuncao text, nome_subfuncao text,
                 codigo_programa text, nome_programa text, codigo_acao text, nome_acao text,
                 nome_acao_busca text, codigo_categoria text, nome_categoria text,
                 codigo_grupo text, nome_grupo text, codigo_elemento text, nome_elemento text,
                 inicial float8, atualizado float8, empenhado float8, realizado float8
             ) on commit drop",
            "line_id, exercicio, source_file, source_line, codigo_orgao_superior,
             nome_orgao_superior, codigo_orgao, nome_orgao, codigo_uo, nome_uo, codigo_funcao,
             nome_funcao, codigo_subfuncao, nome_subfuncao, codigo_programa, nome_programa,
             codigo_acao, nome_acao, nome_acao_busca, codigo_categoria, nome_categoria,
             codigo_grupo, nome_grupo, codigo_elemento, nome_elemento, inicial, atualizado,
             empenhado, realizado",
            &[
                Type::TEXT, Type::INT4, Type::TEXT, Type::INT4, Type::TEXT, Type::TEXT, Type::TEXT,
                Type::TEXT, Type::TEXT, Type::TEXT, Type::TEXT, Type::TEXT, Type::TEXT, Type::TEXT,
                Type::TEXT, Type::TEXT, Type::TEXT, Type::TEXT, Type::TEXT, Type::TEXT, Type::TEXT,
                Type::TEXT, Type::TEXT, Type::TEXT, Type::TEXT, Type::FLOAT8, Type::FLOAT8,
                Type::FLOAT8, Type::FLOAT8,
            ],
            // The rows of one line are its parts (split by a dimension the file
            // does not carry): summed, each amount rounded to cents first so the
            // sum is exact. The names are the first part's. The Portal
            // regenerates the file nightly, so a newer import updates the
            // amounts it changed and leaves the rest alone.
            "with parts as (
                 select line_id, min(source_line) as first_line, count(*)::int4 as parts,
                     sum(inicial::numeric(20, 2)) as inicial,
                     sum(atualizado::numeric(20, 2)) as atualizado,
                     sum(empenhado::numeric(20, 2)) as empenhado,
                     sum(realizado::numeric(20, 2)) as realizado
                 from stage
                 group by line_id)
             insert into transparency.budget_lines as t (
                 line_id, exercicio, source_file, source_line, codigo_orgao_superior,
                 nome_orgao_superior, codigo_orgao, nome_orgao, codigo_uo, nome_uo,
                 codigo_funcao, nome_funcao, codigo_subfuncao, nome_subfuncao, codigo_programa,
                 nome_programa, codigo_acao, nome_acao, nome_acao_busca, codigo_categoria,
                 nome_categoria, codigo_grupo, nome_grupo, codigo_elemento, nome_elemento,
                 inicial, atualizado, empenhado, realizado, parts)
             select p.line_id, s.exercicio, s.source_file, p.first_line, s.codigo_orgao_superior,
                 s.nome_orgao_superior, s.codigo_orgao, s.nome_orgao, s.codigo_uo, s.nome_uo,
                 s.codigo_funcao, s.nome_funcao, s.codigo_subfuncao, s.nome_subfuncao,
                 s.codigo_programa, s.nome_programa, s.codigo_acao, s.nome_acao,
                 s.nome_acao_busca, s.codigo_categoria, s.nome_categoria, s.codigo_grupo,
                 s.nome_grupo, s.codigo_elemento, s.nome_elemento, p.inicial, p.atualizado,
                 p.empenhado, p.realizado, p.parts
             from parts p
             join stage s on s.line_id = p.line_id and s.source_line = p.first_line
             on conflict (line_id) do update set
                 source_file = excluded.source_file, source_line = excluded.source_line,
                 nome_orgao_superior = excluded.nome_orgao_superior,
                 nome_orgao = excluded.nome_orgao, nome_uo = excluded.nome_uo,
                 nome_acao = excluded.nome_acao, nome_acao_busca = excluded.nome_acao_busca,
                 inicial = excluded.inicial, atualizado = excluded.atualizado,
                 empenhado = excluded.empenhado, realizado = excluded.realizado,
                 parts = excluded.parts, imported_at = now()
             where (t.inicial, t.atualizado, t.empenhado, t.realizado, t.parts, t.nome_acao)
                 is distinct from (excluded.inicial, excluded.atualizado, excluded.empenhado,
                     excluded.realizado, excluded.parts, excluded.nome_acao)",
        ),
        Kind::Servants => (
            "create temp table stage (
                 servant_id int8, orgao_exercicio text, orgao_lotacao text, nome text,
                 record jsonb, source text
             ) on commit drop",
            "servant_id, orgao_exercicio, orgao_lotacao, nome, record, source",
            &[Type::INT8, Type::TEXT, Type::TEXT, Type::TEXT, Type::JSONB, Type::TEXT],
            // The same upsert as the API's (src/sources/servants/retrieval.rs):
            // a newer copy of a record replaces the older, an identical one is
            // left alone and counts as unchanged.
            "insert into transparency.servants as t
                 (servant_id, orgao_exercicio, orgao_lotacao, nome, record, source)
             select distinct on (servant_id) servant_id, orgao_exercicio, orgao_lotacao, nome,
                 record, source
             from stage
             order by servant_id
             on conflict (servant_id) do update set
                 orgao_exercicio = excluded.orgao_exercicio,
                 orgao_lotacao = excluded.orgao_lotacao, nome = excluded.nome,
                 record = excluded.record, source = excluded.source, fetched_at = now()
             where t.record is distinct from excluded.record",
        ),
        Kind::Biddings => (
            "create temp table stage (
                 bidding_id text, source_file text, source_line int4, numero text,
                 codigo_ug text, nome_ug text, codigo_modalidade text, modalidade text,
                 numero_processo text, objeto text, objeto_busca text, situacao text,
                 codigo_orgao_superior text, nome_orgao_superior text, codigo_orgao text,
                 nome_orgao text, uf text, municipio text, data_resultado date,
                 data_abertura date, valor float8
             ) on commit drop",
            "bidding_id, source_file, source_line, numero, codigo_ug, nome_ug,
             codigo_modalidade, modalidade, numero_processo, objeto, objeto_busca, situacao,
             codigo_orgao_superior, nome_orgao_superior, codigo_orgao, nome_orgao, uf,
             municipio, data_resultado, data_abertura, valor",
            &[
                Type::TEXT, Type::TEXT, Type::INT4, Type::TEXT, Type::TEXT, Type::TEXT, Type::TEXT,
                Type::TEXT, Type::TEXT, Type::TEXT, Type::TEXT, Type::TEXT, Type::TEXT, Type::TEXT,
                Type::TEXT, Type::TEXT, Type::TEXT, Type::TEXT, Type::DATE, Type::DATE,
                Type::FLOAT8,
            ],
            // A later month republishes a bidding with its result: the newer
            // row updates what changed.
            "insert into transparency.biddings as t (
                 bidding_id, source_file, source_line, numero, codigo_ug, nome_ug,
                 codigo_modalidade, modalidade, numero_processo, objeto, objeto_busca, situacao,
                 codigo_orgao_superior, nome_orgao_superior, codigo_orgao, nome_orgao, uf,
                 municipio, data_resultado, data_abertura, valor)
             select distinct on (bidding_id) bidding_id, source_file, source_line, numero,
                 codigo_ug, nome_ug, codigo_modalidade, modalidade, numero_processo, objeto,
                 objeto_busca, situacao, codigo_orgao_superior, nome_orgao_superior,
                 codigo_orgao, nome_orgao, uf, municipio, data_resultado, data_abertura,
                 valor::numeric(20, 4)
             from stage
             order by bidding_id, source_line desc
             on conflict (bidding_id) do update set
                 source_file = excluded.source_file, source_line = excluded.source_line,
                 objeto = excluded.objeto, objeto_busca = excluded.objeto_busca,
                 situacao = excluded.situacao, data_resultado = excluded.data_resultado,
                 data_abertura = excluded.data_abertura, valor = excluded.valor,
                 imported_at = now()
             where (t.objeto, t.situacao, t.data_resultado, t.data_abertura, t.valor)
                 is distinct from (excluded.objeto, excluded.situacao, excluded.data_resultado,
                     excluded.data_abertura, excluded.valor)",
        ),
        Kind::BiddingParticipants => (
            "create temp table stage (
                 participant_key text, bidding_id text, source_file text, source_line int4,
                 codigo_item text, descricao_item text, codigo_participante text,
                 nome_participante text, vencedor bool
             ) on commit drop",
            "participant_key, bidding_id, source_file, source_line, codigo_item,
             descricao_item, codigo_participante, nome_participante, vencedor",
            &[
                Type::TEXT, Type::TEXT, Type::TEXT, Type::INT4, Type::TEXT, Type::TEXT, Type::TEXT,
                Type::TEXT, Type::BOOL,
            ],
            "insert into transparency.bidding_participants as t (
                 participant_key, bidding_id, source_file, source_line, codigo_item,
                 descricao_item, codigo_participante, nome_participante, vencedor)
             select distinct on (participant_key) *
             from stage
             order by participant_key, source_line desc
             on conflict (participant_key) do update set
                 source_file = excluded.source_file, source_line = excluded.source_line,
                 vencedor = excluded.vencedor
             where t.vencedor is distinct from excluded.vencedor",
        ),
        Kind::Agreements => (
            "create temp table stage (
                 numero text, source_file text, source_line int4, uf text,
                 codigo_municipio text, municipio text, situacao text, numero_original text,
                 numero_processo text, objeto text, objeto_busca text,
                 codigo_orgao_superior text, nome_orgao_superior text, codigo_orgao text,
                 nome_orgao text, codigo_ug text, nome_ug text, codigo_convenente text,
                 tipo_convenente text, nome_convenente text, tipo_ente_convenente text,
                 tipo_instrumento text, valor float8, valor_liberado float8,
                 data_publicacao date, data_inicio_vigencia date, data_fim_vigencia date,
                 valor_contrapartida float8, data_ultima_liberacao date,
                 valor_ultima_liberacao float8
             ) on commit drop",
            "numero, source_file, source_line, uf, codigo_municipio, municipio, situacao,
             numero_original, numero_processo, objeto, objeto_busca, codigo_orgao_superior,
             nome_orgao_superior, codigo_orgao, nome_orgao, codigo_ug, nome_ug,
             codigo_convenente, tipo_convenente, nome_convenente, tipo_ente_convenente,
             tipo_instrumento, valor, valor_liberado, data_publicacao, data_inicio_vigencia,
             data_fim_vigencia, valor_contrapartida, data_ultima_liberacao,
             valor_ultima_liberacao",
            &[
                Type::TEXT, Type::TEXT, Type::INT4, Type::TEXT, Type::TEXT, Type::TEXT, Type::TEXT,
                Type::TEXT, Type::TEXT, Type::TEXT, Type::TEXT, Type::TEXT, Type::TEXT, Type::TEXT,
                Type::TEXT, Type::TEXT, Type::TEXT, Type::TEXT, Type::TEXT, Type::TEXT, Type::TEXT,
                Type::TEXT, Type::FLOAT8, Type::FLOAT8, Type::DATE, Type::DATE, Type::DATE,
                Type::FLOAT8, Type::DATE, Type::FLOAT8,
            ],
            // Each snapshot repeats every agreement: a newer one updates the
            // situation, releases and dates that changed.
            "insert into transparency.agreements as t (
                 numero, source_file, source_line, uf, codigo_municipio, municipio, situacao,
                 numero_original, numero_processo, objeto, objeto_busca, codigo_orgao_superior,
                 nome_orgao_superior, codigo_orgao, nome_orgao, codigo_ug, nome_ug,
                 codigo_convenente, tipo_convenente, nome_convenente, tipo_ente_convenente,
                 tipo_instrumento, valor, valor_liberado, data_publicacao, data_inicio_vigencia,
                 data_fim_vigencia, valor_contrapartida, data_ultima_liberacao,
                 valor_ultima_liberacao)
             select distinct on (numero) numero, source_file, source_line, uf, codigo_municipio,
                 municipio, situacao, numero_original, numero_processo, objeto, objeto_busca,
                 codigo_orgao_superior, nome_orgao_superior, codigo_orgao, nome_orgao,
                 codigo_ug, nome_ug, codigo_convenente, tipo_convenente, nome_convenente,
                 tipo_ente_convenente, tipo_instrumento, valor::numeric(20, 2),
                 valor_liberado::numeric(20, 2), data_publicacao, data_inicio_vigencia,
                 data_fim_vigencia, valor_contrapartida::numeric(20, 2), data_ultima_liberacao,
                 valor_ultima_liberacao::numeric(20, 2)
             from stage
             order by numero, source_line desc
             on conflict (numero) do update set
                 source_file = excluded.source_file, source_line = excluded.source_line,
                 situacao = excluded.situacao, valor = excluded.valor,
                 valor_liberado = excluded.valor_liberado,
                 data_fim_vigencia = excluded.data_fim_vigencia,
                 data_ultima_liberacao = excluded.data_ultima_liberacao,
                 valor_ultima_liberacao = excluded.valor_ultima_liberacao, imported_at = now()
             where (t.situacao, t.valor, t.valor_liberado, t.data_fim_vigencia,
                    t.data_ultima_liberacao, t.valor_ultima_liberacao)
                 is distinct from (excluded.situacao, excluded.valor, excluded.valor_liberado,
                    excluded.data_fim_vigencia, excluded.data_ultima_liberacao,
                    excluded.valor_ultima_liberacao)",
        ),
    }
}

/// Exit status of `fiscal import`: an error when a file could not be imported at
/// all; rejected rows are reported, not fatal.
pub fn check(reports: &[FileReport]) -> Result<()> {
    let failed: Vec<&str> = reports
        .iter()
        .filter(|r| r.error.is_some())
        .map(|r| r.source.as_str())
        .collect();
    if failed.is_empty() {
        Ok(())
    } else {
        bail!(
            "{} file(s) could not be imported: {}",
            failed.len(),
            failed.join(", ")
        )
    }
}

/// A summary for the terminal: one line per file, the rejected rows, totals.
pub fn render(reports: &[FileReport], elapsed: std::time::Duration) -> String {
    let mut out = String::new();
    for r in reports {
        out.push_str(&r.line());
        out.push('\n');
        for rejection in &r.rejections {
            out.push_str(&format!("  rejected {rejection}\n"));
        }
        if r.rejected as usize > r.rejections.len() {
            out.push_str(&format!(
                "  … and {} more rejected rows\n",
                r.rejected as usize - r.rejections.len()
            ));
        }
    }
    let sum = |f: fn(&FileReport) -> u64| reports.iter().map(f).sum::<u64>();
    out.push_str(&format!(
        "total: {} rows read, {} loaded, {} unchanged, {} merged, {} rejected in {:.1} s\n",
        sum(|r| r.read),
        sum(|r| r.loaded),
        sum(|r| r.unchanged),
        sum(|r| r.merged),
        sum(|r| r.rejected),
        elapsed.as_secs_f64()
    ));
    out
}
