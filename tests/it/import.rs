//! `fiscal import` on the real Portal da Transparência files, and on broken ones.

use std::path::PathBuf;

use fiscal::sources::import::{check, import_paths, FileReport, Kind};

use crate::harness::TestDb;

/// A real file the repository ships under `data/`.
pub fn shipped(relative: &str) -> PathBuf {
    let path = fiscal::sources::shipped::data_path(relative);
    assert!(path.exists(), "real data file missing: {}", path.display());
    path
}

pub const MONTHLY_ZIP: &str = "sample/portal_transparencia_compras_202101_original.zip";
/// The two-year contracts file, shipped zipped; its report is named after the
/// CSV inside.
pub const CONTRACTS_ZIP: &str = "procurement/portal_transparencia_compras_202101-202212.zip";
const CONTRACTS_CSV: &str = "portal_transparencia_compras_202101-202212.csv";

fn report<'a>(reports: &'a [FileReport], ends_with: &str) -> &'a FileReport {
    reports
        .iter()
        .find(|r| r.source.ends_with(ends_with))
        .unwrap_or_else(|| panic!("no report for {ends_with}: {reports:#?}"))
}

async fn count(client: &tokio_postgres::Client, table: &str) -> i64 {
    client
        .query_one(&format!("select count(*) from transparency.{table}"), &[])
        .await
        .expect("count")
        .get(0)
}

/// A scratch file under the temp dir, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str, bytes: &[u8]) -> Self {
        let dir =
            std::env::temp_dir().join(format!("fiscal-import-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("scratch dir");
        let path = dir.join(name);
        std::fs::write(&path, bytes).expect("scratch file");
        Self(path)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Some(dir) = self.0.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// The header and the first `n` data lines of the real contracts file, as bytes
/// (Latin-1, LF).
fn real_contract_lines(n: usize) -> Vec<u8> {
    let bytes = fiscal::sources::shipped::procurement_csv(CONTRACTS_CSV).expect("real csv");
    let mut out = Vec::new();
    for line in bytes.split_inclusive(|b| *b == b'\n').take(n + 1) {
        out.extend_from_slice(line);
    }
    out
}

#[tokio::test]
async fn the_real_monthly_zip_loads_every_file_and_a_second_import_changes_nothing() {
    let db = TestDb::new().await;
    let mut client = db.client().await;
    let zip = shipped(MONTHLY_ZIP);

    let first = import_paths(&mut client, &[&zip]).await;
    check(&first).expect("every file imported");
    let contracts = report(&first, "202101_Compras.csv");
    assert_eq!(contracts.kind, Some(Kind::Contracts));
    assert_eq!((contracts.read, contracts.rejected), (3184, 0));
    assert_eq!(contracts.loaded + contracts.merged, 3184);
    let amendments = report(&first, "202101_TermoAditivo.csv");
    assert_eq!((amendments.read, amendments.rejected), (2657, 0));
    let items = report(&first, "202101_ItemCompra.csv");
    assert_eq!((items.read, items.rejected), (8518, 0));
    assert!(report(&first, "202101_Apostilamento.csv").skipped.is_some());

    let before = (
        count(&client, "contracts").await,
        count(&client, "amendments").await,
        count(&client, "contract_items").await,
    );
    assert_eq!(before.0 as u64, contracts.loaded);

    let second = import_paths(&mut client, &[&zip]).await;
    check(&second).expect("every file imported again");
    for r in second.iter().filter(|r| r.skipped.is_none()) {
        assert_eq!(r.loaded, 0, "{} loaded rows twice", r.source);
    }
    assert_eq!(
        report(&second, "202101_Compras.csv").unchanged,
        contracts.loaded
    );
    let after = (
        count(&client, "contracts").await,
        count(&client, "amendments").await,
        count(&client, "contract_items").await,
    );
    assert_eq!(after, before);

    // Sentinels are unknowns, not zeros; the object loses its "Objeto: " prefix.
    let row = client
        .query_one(
            "select count(*) filter (where numero_licitacao = '-3'),
                    count(*) filter (where modalidade = 'Sem Informação'),
                    count(*) filter (where objeto like 'Objeto:%'),
                    count(*) filter (where valor_inicial = 0 and valor_final = 0)
             from transparency.contracts",
            &[],
        )
        .await
        .expect("query");
    assert_eq!(
        (
            row.get::<_, i64>(0),
            row.get::<_, i64>(1),
            row.get::<_, i64>(2)
        ),
        (0, 0, 0)
    );
}

#[tokio::test]
async fn the_full_two_year_file_loads_every_contract_and_matches_the_monthly_zip() {
    let db = TestDb::new().await;
    let mut client = db.client().await;
    let reports = import_paths(&mut client, &[shipped(CONTRACTS_ZIP), shipped(MONTHLY_ZIP)]).await;
    check(&reports).expect("imported");
    let full = report(&reports, CONTRACTS_CSV);
    assert_eq!((full.read, full.rejected), (49_414, 0));
    assert_eq!(full.loaded + full.merged, 49_414);
    // January 2021 is inside the two-year file: the zip adds no contract.
    assert_eq!(report(&reports, "202101_Compras.csv").loaded, 0);
    let suppliers: (i64, i64) = client
        .query_one(
            "select count(*) filter (where tipo_contratado = 'cnpj'), count(*) filter (where tipo_contratado = 'cpf')
             from transparency.contracts",
            &[],
        )
        .await
        .map(|r| (r.get(0), r.get(1)))
        .expect("query");
    assert!(suppliers.0 > 45_000 && suppliers.1 > 2_000, "{suppliers:?}");
}

#[tokio::test]
async fn broken_rows_are_reported_with_line_and_reason_and_the_rest_loads() {
    let db = TestDb::new().await;
    let mut client = db.client().await;
    let mut bytes = real_contract_lines(3);
    // Line 5: a signature date that does not exist. Line 6: a field missing.
    let good = real_contract_lines(1);
    let row = &good[good.iter().position(|b| *b == b'\n').expect("header") + 1..];
    let text: Vec<u8> = row.to_vec();
    let fields: Vec<&[u8]> = text.split(|b| *b == b';').collect();
    let mut bad_date = fields.clone();
    bad_date[11] = b"\"31/02/2021\"";
    bytes.extend_from_slice(&bad_date.join(&b';'));
    let short = &fields[..fields.len() - 1];
    bytes.extend_from_slice(&short.join(&b';'));
    bytes.push(b'\n');
    let file = Scratch::new("202101_Compras.csv", &bytes);

    let reports = import_paths(&mut client, &[&file.0]).await;
    check(&reports).expect("rejected rows are not fatal");
    let r = &reports[0];
    assert_eq!((r.read, r.loaded, r.rejected), (5, 3, 2));
    assert!(
        r.rejections[0].contains(":5:") && r.rejections[0].contains("31/02/2021"),
        "{:?}",
        r.rejections
    );
    assert!(
        r.rejections[1].contains(":6:") && r.rejections[1].contains("fields"),
        "{:?}",
        r.rejections
    );
    let recorded: i32 = client
        .query_one("select rows_rejected from transparency.imports", &[])
        .await
        .expect("import log")
        .get(0);
    assert_eq!(recorded, 2);
}

#[tokio::test]
async fn a_utf8_file_is_read_as_utf8_and_keeps_its_accents() {
    let db = TestDb::new().await;
    let mut client = db.client().await;
    let latin1 = real_contract_lines(20);
    let utf8: String = latin1.iter().map(|&b| b as char).collect();
    let file = Scratch::new("contratos-utf8.csv", utf8.as_bytes());
    let reports = import_paths(&mut client, &[&file.0]).await;
    check(&reports).expect("imported");
    assert_eq!((reports[0].read, reports[0].rejected), (20, 0));
    let garbled: i64 = client
        .query_one(
            "select count(*) from transparency.contracts where nome_orgao_superior like '%Ã%'",
            &[],
        )
        .await
        .expect("query")
        .get(0);
    assert_eq!(garbled, 0, "UTF-8 read as Latin-1");
    let accented: i64 = client
        .query_one(
            "select count(*) from transparency.contracts where nome_orgao_superior ~ '[çãéíó]'",
            &[],
        )
        .await
        .expect("query")
        .get(0);
    assert!(accented > 0);
}

#[tokio::test]
async fn an_empty_or_foreign_file_is_refused_clearly_and_the_others_still_load() {
    let db = TestDb::new().await;
    let mut client = db.client().await;
    let empty = Scratch::new("202101_Compras.csv", b"");
    let foreign = shipped("procurement/comprasgov_api_contratos_amostra_2024_head.csv");
    let good = Scratch::new("202102_Compras.csv", &real_contract_lines(10));
    let reports = import_paths(&mut client, &[&empty.0, &foreign, &good.0]).await;
    let err = check(&reports).expect_err("two files could not be imported");
    assert!(err.to_string().contains("2 file(s)"), "{err}");
    assert!(
        reports[0].error.as_deref().unwrap_or("").contains("empty"),
        "{:?}",
        reports[0]
    );
    assert!(
        reports[1]
            .error
            .as_deref()
            .unwrap_or("")
            .contains("not a Portal"),
        "{:?}",
        reports[1]
    );
    assert_eq!(reports[2].loaded, 10);
}

#[tokio::test]
async fn a_truncated_zip_and_rows_with_impossible_values_load_nothing_wrong() {
    let db = TestDb::new().await;
    let mut client = db.client().await;
    let zip = std::fs::read(shipped(MONTHLY_ZIP)).expect("the real zip");
    let truncated = Scratch::new("202101_truncated.zip", &zip[..zip.len() / 2]);

    let mut bytes = real_contract_lines(2);
    let good = real_contract_lines(1);
    let row = &good[good.iter().position(|b| *b == b'\n').expect("header") + 1..];
    let fields: Vec<&[u8]> = row.split(|b| *b == b';').collect();
    let huge = format!("\"{}\"", "9".repeat(400));
    for (column, value) in [
        (11, "\"01/01/0000\""),
        (17, huge.as_str()),
        (18, "\"-1000000000000000,00\""),
    ] {
        let mut broken = fields.clone();
        broken[column] = value.as_bytes();
        bytes.extend_from_slice(&broken.join(&b';'));
    }
    let extreme = Scratch::new("202102_Compras.csv", &bytes);

    let reports = import_paths(&mut client, &[&truncated.0, &extreme.0]).await;
    let err = check(&reports).expect_err("the truncated zip could not be imported");
    assert!(err.to_string().contains("1 file(s)"), "{err}");
    assert!(
        reports[0].error.as_deref().unwrap_or("").contains("zip"),
        "{:?}",
        reports[0]
    );
    let r = &reports[1];
    assert_eq!(
        (r.read, r.loaded, r.rejected),
        (5, 2, 3),
        "{:?}",
        r.rejections
    );
    for (rejection, value) in r
        .rejections
        .iter()
        .zip(["01/01/0000", "9999", "-1000000000000000"])
    {
        assert!(rejection.contains(value), "{rejection}");
    }
    assert_eq!(count(&client, "contracts").await, 2, "only the good rows");
}

pub const CNEP: &str = "sanctions/cnep_portal_sancoes_consulta_2023-10.json";

#[tokio::test]
async fn the_real_cnep_list_is_found_by_its_shape_and_imports_whole_and_once() {
    let db = TestDb::new().await;
    let mut client = db.client().await;
    let reports = fiscal::sources::import::import_paths(&mut client, &[shipped(CNEP)]).await;
    let r = report(&reports, "2023-10.json");
    assert_eq!(
        (r.read, r.loaded, r.rejected),
        (850, 850, 0),
        "{}",
        r.line()
    );
    assert!(r.line().contains("as sanctions"), "{}", r.line());
    let undated: i64 = client
        .query_one(
            "select count(*) from transparency.sanctions where published is null",
            &[],
        )
        .await
        .expect("count")
        .get(0);
    assert_eq!(undated, 43, "\"Sem informação\" is unknown, never a date");
    let again = fiscal::sources::import::import_paths(&mut client, &[shipped(CNEP)]).await;
    let r = report(&again, "2023-10.json");
    assert_eq!((r.loaded, r.unchanged), (0, 850), "{}", r.line());
    assert_eq!(count(&client, "sanctions").await, 850);
}
