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
use chrono::NaiveDate;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::Client;

use super::contracts::rows::{amendment_values, contract_values, item_values};
use super::expenses::documents;
pub use super::load::Kind;
use super::load::{distinct_keys, statements, Row, BUDGET_UNITS};
use super::portal::{self, RowError};

/// Rejected rows listed in the report and in `transparency.imports`; the count
/// is always complete.
const LISTED_REJECTIONS: usize = 50;

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
    if reports
        .iter()
        .any(|r| r.loaded > 0 && matches!(r.kind, Some(Kind::Contracts | Kind::Items)))
    {
        if let Err(e) = refresh_whole_database_norms(client).await {
            // The data is in; only the comparisons with the whole database
            // are stale, and the next import refreshes them.
            let mut report = FileReport::new("transparency.whole_database_norms");
            report.error = Some(format!("{e:#}"));
            reports.push(report);
        }
    }
    reports
}

/// Recomputes what rules compare a contract with across the whole database:
/// the items' unit prices and their peers (migration 0019), and the direct
/// awards of each agency and each supplier (migration 0020).
async fn refresh_whole_database_norms(client: &Client) -> Result<()> {
    client
        .batch_execute(
            "refresh materialized view transparency.item_unit_prices;
             refresh materialized view transparency.item_price_peers;
             refresh materialized view transparency.direct_awards;
             refresh materialized view transparency.agency_direct_awards;
             refresh materialized view transparency.supplier_dispensas;
             analyze transparency.item_unit_prices, transparency.item_price_peers,
                 transparency.agency_direct_awards, transparency.supplier_dispensas",
        )
        .await
        .context("refreshing the item prices, the direct awards' norms and their peers")
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
    (
        "itemempenho",
        "commitment items are not used by the analysis; their commitments are",
    ),
    (
        "liquidacao",
        "liquidations are not used by the analysis: their amounts are the commitments' and \
         payments'",
    ),
    (
        "pagamento_",
        "payments' beneficiary, bank, invoice and precatório lists are not used by the \
         analysis; the payments are",
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
                .or_else(|_| {
                    documents::read_commitments(Cursor::new(bytes), source)
                        .map(|_| Kind::ExpenseCommitments)
                })
                .or_else(|_| {
                    documents::read_payments(Cursor::new(bytes), source)
                        .map(|_| Kind::ExpensePayments)
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
                     OrcamentoDespesa, Licitação, ParticipantesLicitação, Convenios, Despesas_Empenho or \
                     Despesas_Pagamento file, nor a sanctions \
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
                s => |line| super::sanctions::sanction_values(&s, &file, line)
            )
        }
        Kind::BudgetLines => {
            copy_rows!(super::expenses::read_budget_lines(reader, source), l => |line| super::expenses::budget_values(&l, &file, line))
        }
        Kind::Servants => {
            copy_rows!(
                super::servants::read(bytes, source).map(JsonRecords::new),
                r => |_line| super::servants::servant_values(&r, &format!("file:{file}"))
            )
        }
        Kind::Biddings => {
            copy_rows!(super::biddings::read_biddings(reader, source), l => |line| super::biddings::bidding_values(&l, &file, line))
        }
        Kind::BiddingParticipants => {
            copy_rows!(super::biddings::read_participants(reader, source), p => |line| super::biddings::participant_values(&p, &file, line))
        }
        Kind::Agreements => {
            copy_rows!(super::agreements::read_agreements(reader, source), a => |line| super::agreements::agreement_values(&a, &file, line))
        }
        Kind::ExpenseCommitments => {
            copy_rows!(documents::read_commitments(reader, source), c => |line| documents::document_values(&c.0, &file, line))
        }
        Kind::ExpensePayments => {
            copy_rows!(documents::read_payments(reader, source), p => |line| documents::document_values(&p.0, &file, line))
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
