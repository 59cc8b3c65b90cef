//! Rules that judge an investigation's contracts against the whole database,
//! on the real 2021–2022 files: `price.item_unit_price` (every item's unit
//! price against what all agencies paid for the same catalogue item, computed
//! by `fiscal import`, migration 0019) and `vendor.repeated_emergency_dispensa`
//! (emergencies counted outside the filters too), and the vendor rules that
//! compare direct awards with the agency's habit and count a supplier's
//! dispensas across units (migration 0020).

use serde_json::{json, Value};

use crate::harness::{add_user, drain_builtin, TestDb};
use crate::import::{shipped, CONTRACTS_ZIP};
use crate::pipeline_end_to_end::{insert_as_citizen, row_json};

pub const ITEMS_ZIP: &str = "procurement/portal_transparencia_itens_compra_202101-202212.zip";
const AMENDMENTS_ZIP: &str = "procurement/portal_transparencia_termos_aditivos_202101-202212.zip";

/// A test database with the shipped files `relative` imported, and a client.
async fn imported(relative: &[&str]) -> (TestDb, tokio_postgres::Client) {
    let db = TestDb::new().await;
    let mut client = db.client().await;
    let paths: Vec<_> = relative.iter().map(|r| shipped(r)).collect();
    let reports = fiscal::sources::import::import_paths(&mut client, &paths).await;
    fiscal::sources::import::check(&reports).expect("imported");
    (db, client)
}

/// The results of one rule in a completed investigation.
fn of_rule<'a>(row: &'a Value, rule: &str) -> Vec<&'a Value> {
    assert_eq!(row["status"], "completed", "{row:#}");
    row["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter(|r| r["metadata"]["rule"] == rule)
        .collect()
}

fn item_findings(row: &Value) -> Vec<&Value> {
    of_rule(row, "price.item_unit_price")
}

/// DNOCS's office in Recife (UG 113801) bought 2,000 jugs of ÁGUA MINERAL NATURAL
/// at R$ 519.99 each (contract 242022, a dispensa), where 47 agencies paid a
/// median of R$ 8.00: found, with those 47 agencies as its peers though the
/// investigation read only that unit. The UFF's building maintenance (UG
/// 150182, contract 382022: 12 "units" at R$ 630,333.33) is a service priced by
/// the month, and is not compared.
#[tokio::test]
async fn an_item_is_priced_against_every_agency_and_a_monthly_service_is_left_out() {
    let (db, client) = imported(&[CONTRACTS_ZIP, ITEMS_ZIP]).await;
    let peers = client
        .query_one(
            "select itens, orgaos, precos[3] from transparency.item_price_peers
             where item = 'ÁGUA MINERAL NATURAL'",
            &[],
        )
        .await
        .expect("the peers of mineral water");
    let (purchases, agencies, median): (i32, i32, f64) = (peers.get(0), peers.get(1), peers.get(2));
    assert_eq!((purchases, agencies, median), (487, 47, 8.0));

    let user = add_user(&client).await;
    let dnocs = insert_as_citizen(
        &client,
        user,
        "contratos da coordenadoria do DNOCS em Pernambuco",
        json!({"codigo_ug": "113801"}),
        json!(["price"]),
    )
    .await;
    let uff = insert_as_citizen(
        &client,
        user,
        "contratos da pró-reitoria de administração da UFF",
        json!({"codigo_ug": "150182"}),
        json!(["price"]),
    )
    .await;
    drain_builtin(&db).await;

    let row = row_json(&client, dnocs).await;
    let found = item_findings(&row);
    let water = found
        .iter()
        .find(|r| r["affected_records"][0]["numero"] == "242022")
        .unwrap_or_else(|| panic!("the water at R$ 519.99 is not found: {found:#?}"));
    let item = &water["metadata"]["evidence"]["items"][0];
    assert_eq!(item["item"], "ÁGUA MINERAL NATURAL");
    assert_eq!(
        (item["quantity"].as_f64(), item["unit_price"].as_f64()),
        (Some(2000.0), Some(519.99))
    );
    assert_eq!(
        item["peer_agencies"], agencies,
        "peers come from the whole database"
    );
    assert_eq!(item["peer_median"], 8.0);
    assert_eq!(water["severity"], "critical", "{water:#}");
    assert!(
        (water["metadata"]["financial_impact"]
            .as_f64()
            .unwrap_or(0.0)
            - (519.99 - 8.0) * 2000.0)
            .abs()
            < 1.0,
        "{water:#}"
    );
    assert!(row["investigation_metadata"]["rows_read"]["priced_items"].as_u64() > Some(0));
    let summary = row["summary"].as_str().unwrap_or_default();
    assert!(
        summary.contains("possível verificar valores e preços unitários de itens")
            && summary.contains("Não é possível verificar superfaturamento na medição"),
        "the summary says what the data could and could not show: {summary}"
    );

    let row = row_json(&client, uff).await;
    let numbers: Vec<&Value> = item_findings(&row)
        .iter()
        .map(|r| &r["affected_records"][0]["numero"])
        .collect();
    assert!(!numbers.contains(&&json!("382022")), "{numbers:?}");
    assert!(row["investigation_metadata"]["rows_read"]["priced_items"].as_u64() > Some(0));
}

/// The UFPE (UG 153080) hired ÉTICA EMPREENDIMENTO E SERVIÇOS by emergency
/// dispensa five times, once in March 2021 and four times in 2022: a question
/// about 2022 is told of all five. FIOCRUZ's three emergency dispensas with its
/// support foundation FIOTEC are reported one step lower, saying why. A pair
/// with a single emergency dispensa is not reported.
#[tokio::test]
async fn emergency_dispensas_repeated_with_one_supplier_are_counted_across_the_whole_database() {
    let (db, client) = imported(&[CONTRACTS_ZIP]).await;
    let user = add_user(&client).await;
    let ufpe = insert_as_citizen(
        &client,
        user,
        "contratos da UFPE em 2022",
        json!({"codigo_ug": "153080", "year": 2022}),
        json!(["vendor"]),
    )
    .await;
    let fiocruz = insert_as_citizen(
        &client,
        user,
        "contratos da Fiocruz",
        json!({"codigo_ug": "254420"}),
        json!(["vendor"]),
    )
    .await;
    drain_builtin(&db).await;

    let row = row_json(&client, ufpe).await;
    let found = of_rule(&row, "vendor.repeated_emergency_dispensa");
    let etica = found
        .iter()
        .find(|r| r["metadata"]["evidence"]["supplier_code"] == "09422042000195")
        .unwrap_or_else(|| panic!("ÉTICA's five emergencies are not found: {found:#?}"));
    let evidence = &etica["metadata"]["evidence"];
    assert_eq!(evidence["awards_in_database"], 5, "{etica:#}");
    assert_eq!(
        etica["affected_records"].as_array().map(Vec::len),
        Some(4),
        "2022's four"
    );
    assert!(
        evidence["awards"][0]["signed"] == "2021-03-16",
        "the 2021 one outside the filters is in the evidence: {evidence:#}"
    );
    assert!(etica["explanation"]
        .as_str()
        .is_some_and(|e| e.contains("fora dos filtros")));
    let summary = row["summary"].as_str().unwrap_or_default();
    assert!(
        summary.contains("Não é possível verificar preços de itens (nenhum contrato lido"),
        "without imported items the summary says so: {summary}"
    );
    for f in &found {
        assert!(
            f["metadata"]["evidence"]["awards_in_database"].as_u64() >= Some(2),
            "{f:#}"
        );
    }

    let row = row_json(&client, fiocruz).await;
    let found = of_rule(&row, "vendor.repeated_emergency_dispensa");
    let fiotec = found
        .iter()
        .find(|r| r["metadata"]["evidence"]["supplier_code"] == "02385669000174")
        .unwrap_or_else(|| panic!("FIOTEC's emergencies are not found: {found:#?}"));
    assert_eq!(fiotec["metadata"]["evidence"]["support_foundation"], true);
    assert_eq!(
        fiotec["severity"], "high",
        "critical, one step lower: {fiotec:#}"
    );
}

/// An investigation over everything puts on its first page (the first 20
/// results) the findings most worth a reporter's hour: all critical, each with
/// at least R$ 1 million at stake, the rules taking turns, and none of the
/// cases the law foresees (credenciamentos, support foundations, utilities,
/// state companies, a catalogue error, a typing slip), which are explained and
/// shown lower instead.
#[tokio::test]
async fn the_first_page_of_everything_is_strong_evidence_large_money_and_no_recognised_case() {
    let (db, client) = imported(&[CONTRACTS_ZIP, AMENDMENTS_ZIP, ITEMS_ZIP]).await;
    let user = add_user(&client).await;
    let id = insert_as_citizen(&client, user, "todos os contratos", json!({}), json!([])).await;
    drain_builtin(&db).await;
    let row = row_json(&client, id).await;
    assert_eq!(row["status"], "completed", "{row:#}");
    let first_page: Vec<&Value> = row["results"]
        .as_array()
        .expect("results")
        .iter()
        .take(20)
        .collect();
    assert_eq!(first_page.len(), 20);
    let mut rules = Vec::new();
    for r in &first_page {
        let evidence = &r["metadata"]["evidence"];
        let what = format!("{}: {}", r["metadata"]["rule"], r["description"]);
        assert_eq!(r["severity"], "critical", "{what}");
        assert!(
            r["metadata"]["financial_impact"].as_f64() >= Some(1_000_000.0),
            "{what}"
        );
        for recognised in [
            "credenciamento",
            "routine_supplier",
            "miscatalogued",
            "support_foundation",
        ] {
            assert_ne!(
                evidence[recognised], true,
                "{recognised} on the first page: {what}"
            );
        }
        assert!(evidence["routine"].is_null(), "{what}");
        assert!(
            evidence["recognised"].is_null() || evidence["recognised"] == false,
            "{what}"
        );
        assert!(evidence["lawful_by_design"].is_null(), "{what}");
        let object = r["affected_records"][0]["objeto"]
            .as_str()
            .unwrap_or_default()
            .to_lowercase();
        assert!(!object.contains("credenciamento"), "{what}: {object}");
        if r["metadata"]["rule"] == "payment.value_discrepancy" {
            assert!(evidence["pattern"].is_null(), "a typing slip: {what}");
        }
        rules.push(
            r["metadata"]["rule"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        );
    }
    for pair in rules.windows(2) {
        assert_ne!(pair[0], pair[1], "rules take turns: {rules:?}");
    }
}

/// The Brazilian Space Agency (UG 203001) has CENTRAL IT's 2018 service
/// contract twice: nº 92018 and nº 100092022, both dated 27/07/2018, same value
/// and object. A number with a year after the signature is the contract
/// registered anew: medium, said so, not a front-page double contract.
#[tokio::test]
async fn a_contract_registered_anew_under_a_later_years_number_is_told_as_such() {
    let (db, client) = imported(&[CONTRACTS_ZIP]).await;
    let user = add_user(&client).await;
    let id = insert_as_citizen(
        &client,
        user,
        "contratos da AEB",
        json!({"codigo_ug": "203001"}),
        json!(["duplicate"]),
    )
    .await;
    drain_builtin(&db).await;
    let row = row_json(&client, id).await;
    let found = of_rule(&row, "duplicate.near_identical_object");
    let central = found
        .iter()
        .find(|r| r["metadata"]["evidence"]["supplier"] == "07171299000196")
        .unwrap_or_else(|| panic!("the pair is not reported: {row:#}"));
    assert_eq!(central["severity"], "medium", "{central:#}");
    let explanation = central["explanation"].as_str().unwrap_or_default();
    assert!(
        explanation.contains("nº 100092022 termina pelo número do nº 92018"),
        "{explanation}"
    );
}

/// DNIT's headquarters (UG 393003) hired COESA CONSTRUÇÃO E MONTAGENS, in
/// judicial recovery, for R$ 221 million by dispensa on 18/10/2022: its only
/// contract in the database. Every supplier the rule reports has, in the
/// database, no contract signed before the one reported.
#[tokio::test]
async fn a_large_direct_award_as_a_suppliers_first_contract_is_reported_and_only_then() {
    let (db, client) = imported(&[CONTRACTS_ZIP]).await;
    let user = add_user(&client).await;
    let id = insert_as_citizen(
        &client,
        user,
        "contratos do DNIT em 2022",
        json!({"codigo_orgao_superior": "39000", "year": 2022}),
        json!(["vendor"]),
    )
    .await;
    drain_builtin(&db).await;
    let row = row_json(&client, id).await;
    let found = of_rule(&row, "vendor.newcomer_direct_award");
    let coesa = found
        .iter()
        .find(|r| r["metadata"]["evidence"]["supplier_code"] == "18738697000168")
        .unwrap_or_else(|| panic!("COESA's dispensa is not found: {found:#?}"));
    assert_eq!(coesa["affected_records"][0]["numero"], "5572022");
    assert_eq!(coesa["severity"], "critical", "{coesa:#}");
    for f in &found {
        let record = &f["affected_records"][0];
        let earlier: i64 = client
            .query_one(
                "select count(*) from transparency.contracts c
                 where c.codigo_contratado = $1
                   and c.data_assinatura < (select data_assinatura from transparency.contracts
                                            where contract_id = $2 limit 1)",
                &[
                    &f["metadata"]["evidence"]["supplier_code"].as_str(),
                    &record["id"].as_str(),
                ],
            )
            .await
            .expect("earlier contracts")
            .get(0);
        assert_eq!(earlier, 0, "a supplier with earlier contracts: {f:#}");
    }
}

/// IPHAN's office in Pará (UG 343002) hired LIMP CAR for drivers by dispensa,
/// R$ 867 million, where nine in ten of IPHAN's 74 direct awards in the
/// database are under R$ 164 thousand: critical, judged against the whole
/// agency though the investigation read one unit. IFMG's Bambuí campus (UG
/// 158275) hired GESTSERVI for labour by dispensa, R$ 6.4 million, 46 times
/// IFMG's 90th percentile; its R$ 67 million dispensa to UNIUBE is a
/// registration slip (final value R$ 491 thousand, which `payment` reports),
/// and is not judged on the slip. An Army battalion's R$ 8.5 billion health credenciamento (UG
/// 160247) is as far above the Army's habit, and is low: a ceiling of a
/// credenciamento by inexigibilidade, not a price.
#[tokio::test]
async fn a_direct_award_far_above_its_agencys_habit_is_reported_and_a_credenciamento_is_low() {
    let (db, client) = imported(&[CONTRACTS_ZIP]).await;
    let user = add_user(&client).await;
    let mut ids = Vec::new();
    for ug in ["343002", "158275", "160247"] {
        ids.push(
            insert_as_citizen(
                &client,
                user,
                "contratos sem licitação da unidade",
                json!({"codigo_ug": ug}),
                json!(["vendor"]),
            )
            .await,
        );
    }
    drain_builtin(&db).await;
    let exceptional = |row: &Value, number: &str| -> Value {
        of_rule(row, "vendor.exceptional_direct_award")
            .into_iter()
            .find(|r| r["affected_records"][0]["numero"] == number)
            .cloned()
            .unwrap_or_else(|| panic!("contract {number} is not reported: {row:#}"))
    };

    let iphan = exceptional(&row_json(&client, ids[0]).await, "22022");
    assert_eq!(iphan["severity"], "critical", "{iphan:#}");
    let evidence = &iphan["metadata"]["evidence"];
    assert_eq!(
        evidence["agency_direct_awards"], 74,
        "the whole agency's awards"
    );
    assert_eq!(evidence["kind"], "dispensa");
    let unit_awards: i64 = client
        .query_one(
            "select count(distinct contract_id) from transparency.contracts
             where codigo_ug = '343002' and modalidade_busca like '%dispensa%'",
            &[],
        )
        .await
        .expect("the unit's dispensas")
        .get(0);
    assert!(unit_awards < 74, "the unit alone has {unit_awards}");

    let row = row_json(&client, ids[1]).await;
    let ifmg = exceptional(&row, "702022");
    assert_eq!(ifmg["severity"], "medium", "{ifmg:#}");
    assert!(ifmg["metadata"]["evidence"]["ratio_to_p90"].as_f64() > Some(20.0));
    assert!(
        of_rule(&row, "vendor.exceptional_direct_award")
            .iter()
            .all(|r| r["affected_records"][0]["numero"] != "542021"),
        "a registration slip is judged as a value"
    );

    let army = exceptional(&row_json(&client, ids[2]).await, "102022");
    assert_eq!(army["severity"], "low", "{army:#}");
    assert_eq!(army["metadata"]["evidence"]["recognised"], "credenciamento");
    assert!(army["explanation"]
        .as_str()
        .is_some_and(|e| e.contains("credenciamento")));
}

/// VILLAGE ADMINISTRAÇÃO E SERVIÇOS was hired by dispensa by six UGs of four
/// agencies (federal universities and institutes, two EBSERH hospitals), R$
/// 12.5 million in all: a question about one campus (IFSULDEMINAS Machado,
/// UG 158304, one R$ 93,939 dispensa) sees the six. Every supplier reported
/// has, counted in SQL over the contracts, dispensas from at least five UGs.
/// The Correios, hired that way by 54 UGs, are a state company: low, with
/// three example contracts.
#[tokio::test]
async fn a_supplier_hired_by_dispensa_by_many_units_is_reported_from_any_of_them() {
    let (db, client) = imported(&[CONTRACTS_ZIP]).await;
    let user = add_user(&client).await;
    let id = insert_as_citizen(
        &client,
        user,
        "contratos do campus Machado",
        json!({"codigo_ug": "158304"}),
        json!(["vendor"]),
    )
    .await;
    let correios = insert_as_citizen(
        &client,
        user,
        "contratos dos Correios",
        json!({"cnpj_fornecedor": "34028316000707"}),
        json!(["vendor"]),
    )
    .await;
    drain_builtin(&db).await;
    let row = row_json(&client, id).await;
    let found = of_rule(&row, "vendor.dispensas_across_units");
    let village = found
        .iter()
        .find(|r| r["metadata"]["evidence"]["supplier_code"] == "01999079000179")
        .unwrap_or_else(|| panic!("VILLAGE is not reported: {found:#?}"));
    let evidence = &village["metadata"]["evidence"];
    assert_eq!(
        (evidence["units"].as_i64(), evidence["agencies"].as_i64()),
        (Some(6), Some(4))
    );
    assert_eq!(village["severity"], "high", "{village:#}");
    assert_eq!(village["affected_records"][0]["numero"], "302022");

    let row = row_json(&client, correios).await;
    let post = of_rule(&row, "vendor.dispensas_across_units");
    assert_eq!(post.len(), 1, "{post:#?}");
    assert_eq!(post[0]["severity"], "low", "{:#}", post[0]);
    assert_eq!(
        post[0]["metadata"]["evidence"]["lawful_by_design"],
        "routine_supplier"
    );
    assert!(post[0]["affected_records"].as_array().map(Vec::len) <= Some(3));
    for f in found.iter().chain(&post) {
        let units: i64 = client
            .query_one(
                "select count(distinct codigo_ug) from transparency.contracts
                 where codigo_contratado = $1 and modalidade_busca like '%dispensa%'",
                &[&f["metadata"]["evidence"]["supplier_code"].as_str()],
            )
            .await
            .expect("units")
            .get(0);
        assert!(units >= 5, "{units} units: {f:#}");
    }
}
