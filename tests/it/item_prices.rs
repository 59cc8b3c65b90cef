//! Rule `price.item_unit_price` on the real 2021–2022 contracts and items:
//! `fiscal import` computes every item's unit price and what all agencies paid
//! for the same catalogue item (migration 0019), and an investigation about one
//! unit is judged against the whole database.

use serde_json::{json, Value};

use crate::harness::{add_user, drain_builtin, TestDb};
use crate::import::{shipped, CONTRACTS_ZIP};
use crate::pipeline_end_to_end::{insert_as_citizen, row_json};

pub const ITEMS_ZIP: &str = "procurement/portal_transparencia_itens_compra_202101-202212.zip";

/// The `price.item_unit_price` results of a completed investigation.
fn item_findings(row: &Value) -> Vec<&Value> {
    assert_eq!(row["status"], "completed", "{row:#}");
    row["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter(|r| r["metadata"]["rule"] == "price.item_unit_price")
        .collect()
}

/// DNOCS's office in Recife (UG 113801) bought 2,000 jugs of ÁGUA MINERAL NATURAL
/// at R$ 519.99 each (contract 242022, a dispensa), where 47 agencies paid a
/// median of R$ 8.00: found, with those 47 agencies as its peers though the
/// investigation read only that unit. The UFF's building maintenance (UG
/// 150182, contract 382022: 12 "units" at R$ 630,333.33) is a service priced by
/// the month, and is not compared.
#[tokio::test]
async fn an_item_is_priced_against_every_agency_and_a_monthly_service_is_left_out() {
    let db = TestDb::new().await;
    let mut client = db.client().await;
    let reports = fiscal::sources::import::import_paths(
        &mut client,
        &[shipped(CONTRACTS_ZIP), shipped(ITEMS_ZIP)],
    )
    .await;
    fiscal::sources::import::check(&reports).expect("imported");
    let peers = client
        .query_one(
            "select itens, orgaos, precos[3] from transparency.item_price_peers
             where item = 'ÁGUA MINERAL NATURAL'",
            &[],
        )
        .await
        .expect("the peers of mineral water");
    let (purchases, agencies, median): (i32, i32, f64) = (peers.get(0), peers.get(1), peers.get(2));
    assert_eq!((purchases, agencies, median), (496, 47, 8.0));

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

    let row = row_json(&client, uff).await;
    let numbers: Vec<&Value> = item_findings(&row)
        .iter()
        .map(|r| &r["affected_records"][0]["numero"])
        .collect();
    assert!(!numbers.contains(&&json!("382022")), "{numbers:?}");
    assert!(row["investigation_metadata"]["rows_read"]["priced_items"].as_u64() > Some(0));
}
