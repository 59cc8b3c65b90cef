//! Price: items bought far above what other agencies paid for the same item.
//!
//! Rule `price.item_unit_price` compares the unit price of each item of a
//! contract with the unit prices of the same catalogue item (CATMAT, the
//! `Descrição Item Compra` of the Portal's `ItemCompra` files) in every contract
//! of the database, whatever the investigation's filters: the comparison the
//! Painel de Preços makes, whose median of official purchases is the first
//! parameter of a price survey (IN SEGES/ME 65/2021, art. 5 I and art. 6), and
//! which the estimate of a purchase must be compatible with (Lei 14.133/2021,
//! art. 23; Lei 8.666/1993, art. 15 V). The peers are precomputed by `fiscal
//! import` (migration 0019), only from contracts whose items add up to their
//! value, so a unit price is never a total read as one.
//!
//! The Portal publishes no unit of supply, so the rule compares only what can
//! be compared:
//! - materials: a catalogue name that speaks of a service (`MANUTENCAO`,
//!   `LOCACAO`, `SERVICO DE …`) is priced by month, post or square metre, and is
//!   left out;
//! - items bought by at least `item_min_agencies` agencies in at least
//!   `item_min_purchases` purchases, whose unit prices agree (the 75th
//!   percentile at most `item_max_spread` times the 25th);
//! - items bought in a quantity at least the peers' median quantity divided by
//!   `item_quantity_gap`: a unit price many times the median in a quantity many
//!   times smaller is a lot, a kit or a month, not an overprice.
//!
//! An item is flagged when its unit price is at least `item_min_ratio` times the
//! peers' median and above their 90th percentile, and the excess over the
//! median, times the quantity, is at least `item_min_excess` reais. One finding
//! per contract lists its flagged items; `financial_impact` is the sum of their
//! excesses.
//!
//! Severity (r = the largest ratio to the median, x = the excess): critical
//! when r ≥ 10 and x ≥ `large_value`; high when r ≥ 10 or x ≥ `large_value` / 4;
//! medium otherwise. When no word of any flagged item's name appears in the
//! contract's object ("MEDALHA" in a contract for desktops), or the object
//! hires a service or a work (water at R$ 28 thousand a unit in a contract to
//! drill wells), the item was most likely registered under the wrong catalogue
//! entry: the finding says so and is low, with half the confidence; it is
//! kept, because a wrong catalogue entry also hides the purchase from every
//! price survey. Items bought in quantity 1 are lump sums and never compared.
//!
//! Confidence: 0.55, plus up to 0.25 as r grows from `item_min_ratio` to 10,
//! plus 0.05 from 10 agencies, plus 0.05 when the peers' prices agree within a
//! factor of 2.5 (75th over 25th percentile).

use serde_json::json;

use crate::analysis::rank::{keep_strongest, Rank};
use crate::domain::format::{self, count, round};
use crate::domain::text;
use crate::sources::contracts::model::{
    supplier_name, unit_label, Contract, Dataset, Family, Finding, ItemPeers, ItemPrice, Severity,
};

use super::price::PriceSettings;

/// A contract with items priced far above what other agencies paid.
pub const ITEM_UNIT_PRICE: &str = "price.item_unit_price";

/// Words of a catalogue name (folded) that make it a service, priced per
/// month, post, hour or square metre rather than per unit.
const SERVICE_WORDS: &[&str] = &[
    "servico",
    "servicos",
    "prestacao",
    "manutencao",
    "locacao",
    "instalacao",
    "treinamento",
    "curso",
    "obra",
    "obras",
    "reforma",
    "gerenciamento",
    "monitoramento",
    "pagamento",
    "fornecimento",
    "cessao",
    "assinatura",
    "consultoria",
    "limpeza",
    "vigilancia",
    "transporte",
    "publicacao",
    "central",
    "link",
    "agenciamento",
    "hospedagem",
    "seguro",
    "outsourcing",
    "apoio",
    "operacao",
    "reparo",
    "incineracao",
    "laboratorio",
    "audiovisual",
    "almoxarife",
    "recepcionista",
    "motorista",
    "copeiragem",
    "secretariado",
    "vigilante",
    "porteiro",
];

/// Whether a catalogue name names a service (see [`SERVICE_WORDS`]).
pub fn is_service(item: &str) -> bool {
    text::fold(item)
        .split(' ')
        .any(|w| SERVICE_WORDS.contains(&w))
}

/// Whether some meaningful word of the item's name (4 letters or more)
/// appears in the contract's object, by its first five letters, so that
/// "SWITCH" meets "switches" and "MUNIÇÃO" meets "munições".
fn named_in_object(item: &str, object_words: &[String]) -> bool {
    let stem = |w: &str| w.chars().take(5).collect::<String>();
    text::tokens(item)
        .iter()
        .filter(|w| w.len() >= 4 && w.chars().any(char::is_alphabetic))
        .any(|w| {
            let s = stem(w);
            object_words.iter().any(|o| stem(o) == s)
        })
}

/// Whether a contract's object (its `text::tokens`) hires a service or a
/// work: its materials at "unit prices" are then placeholders of the catalogue
/// (water at R$ 28 thousand a unit in a contract to drill wells), not prices.
fn buys_a_service(object_words: &[String]) -> bool {
    const SERVICE_OBJECT: &[&str] = &[
        "terceirizados",
        "terceirizacao",
        "implantacao",
        "obra",
        "obras",
        "locacao",
        "mao",
        "postos",
        "continuados",
        "dedicacao",
    ];
    object_words
        .iter()
        .any(|w| SERVICE_OBJECT.contains(&w.as_str()))
}

/// One flagged item of a contract.
struct Overpriced<'a> {
    item: &'a ItemPrice,
    peers: &'a ItemPeers,
    ratio: f64,
    excess: f64,
}

fn overpriced<'a>(s: &PriceSettings, item: &'a ItemPrice) -> Option<Overpriced<'a>> {
    let peers = item.peers.as_deref()?;
    let [p10, p25, median, p75, p90] = peers.prices;
    let comparable = peers.agencies as usize >= s.item_min_agencies
        && peers.purchases as usize >= s.item_min_purchases
        && p10 > 0.0
        && p25 > 0.0
        && p75 <= s.item_max_spread * p25
        && item.quantity > 1.0
        && item.quantity * s.item_quantity_gap >= peers.median_quantity
        && !is_service(&item.item)
        && item.unit_price.is_finite()
        && item.quantity.is_finite();
    if !comparable {
        return None;
    }
    let ratio = item.unit_price / median;
    let excess = (item.unit_price - median) * item.quantity;
    (ratio >= s.item_min_ratio && item.unit_price > p90 && excess >= s.item_min_excess).then_some(
        Overpriced {
            item,
            peers,
            ratio,
            excess,
        },
    )
}

struct Candidate<'a> {
    idx: usize,
    items: Vec<Overpriced<'a>>,
    /// No flagged item's name appears in the object.
    miscatalogued: bool,
    severity: Severity,
    confidence: f64,
    excess: f64,
}

pub fn item_unit_price(s: &PriceSettings, data: &Dataset) -> Vec<Finding> {
    let contracts = &data.contracts;
    let mut ranked = Vec::new();
    for (idx, c) in contracts.iter().enumerate() {
        if c.items.is_empty() {
            continue;
        }
        let mut items: Vec<Overpriced> = c.items.iter().filter_map(|i| overpriced(s, i)).collect();
        if items.is_empty() {
            continue;
        }
        items.sort_by(|a, b| b.excess.total_cmp(&a.excess));
        let object_words: Vec<String> = text::tokens(&c.object).into_iter().collect();
        let miscatalogued = buys_a_service(&object_words)
            || !items
                .iter()
                .any(|o| named_in_object(&o.item.item, &object_words));
        let ratio = items.iter().map(|o| o.ratio).fold(0.0, f64::max);
        let excess = round(items.iter().map(|o| o.excess).sum(), 2);
        let agencies = items.iter().map(|o| o.peers.agencies).max().unwrap_or(0);
        let agree = items
            .iter()
            .all(|o| o.peers.prices[3] <= 2.5 * o.peers.prices[1]);
        let severity = if miscatalogued {
            Severity::Low
        } else if ratio >= 10.0 && excess >= s.large_value {
            Severity::Critical
        } else if ratio >= 10.0 || excess >= s.large_value / 4.0 {
            Severity::High
        } else {
            Severity::Medium
        };
        let span = (10.0 - s.item_min_ratio).max(f64::EPSILON);
        let mut confidence = 0.55 + 0.25 * ((ratio - s.item_min_ratio) / span).clamp(0.0, 1.0);
        if agencies >= 10 {
            confidence += 0.05;
        }
        if agree {
            confidence += 0.05;
        }
        if miscatalogued {
            confidence *= 0.5;
        }
        let confidence = round(confidence, 3);
        let rank = Rank {
            severity,
            confidence,
            impact: excess,
            first: idx,
        };
        ranked.push((
            rank,
            Candidate {
                idx,
                items,
                miscatalogued,
                severity,
                confidence,
                excess,
            },
        ));
    }
    keep_strongest(ranked, contracts, s.max_findings)
        .into_iter()
        .map(|(_, cand)| finding(s, &contracts[cand.idx], cand))
        .collect()
}

/// How many items a finding spells out; the evidence lists them all.
const ITEMS_TOLD: usize = 3;

fn finding(s: &PriceSettings, c: &Contract, cand: Candidate) -> Finding {
    let unit = unit_label(&c.ug);
    let supplier = supplier_name(c);
    let first = &cand.items[0];
    let told: Vec<String> = cand
        .items
        .iter()
        .take(ITEMS_TOLD)
        .map(|o| {
            format!(
                "{} ({} unidades a {} cada; a mediana de {} compras de {} órgãos é {}, {} vezes \
                 menos)",
                o.item.item,
                format::thousands(o.item.quantity),
                format::reais(o.item.unit_price),
                count(o.peers.purchases as usize),
                count(o.peers.agencies as usize),
                format::reais(o.peers.median()),
                format::decimal(o.ratio, 1),
            )
        })
        .collect();
    let more = cand.items.len().saturating_sub(ITEMS_TOLD);
    let more = if more > 0 {
        format!(" e mais {more} itens")
    } else {
        String::new()
    };
    let description = if cand.miscatalogued {
        format!(
            "Contrato {} de {unit} com {supplier}: item registrado como \"{}\" a {} a unidade, \
             {} vezes o que outros órgãos pagam por esse item, num contrato cujo objeto não \
             corresponde ao item: provável erro de cadastro",
            c.number,
            first.item.item,
            format::reais(first.item.unit_price),
            format::decimal(first.ratio, 1),
        )
    } else {
        format!(
            "Contrato {} de {unit} com {supplier}: \"{}\" a {} a unidade, {} vezes a mediana \
             paga por outros órgãos",
            c.number,
            first.item.item,
            format::reais(first.item.unit_price),
            format::decimal(first.ratio, 1),
        )
    };
    let caveat = if cand.miscatalogued {
        " O objeto do contrato não menciona os itens destacados ou contrata um serviço ou \
         uma obra, o que indica item cadastrado no catálogo errado: nesse caso o preço não é \
         comparável, mas o erro também esconde a compra de qualquer pesquisa de preços. Por \
         isso a gravidade é baixa."
    } else {
        ""
    };
    let explanation = format!(
        "Comparamos o preço unitário de cada item deste contrato com o de todas as compras do \
         mesmo item do catálogo (CATMAT) registradas na base, de qualquer órgão, como faz o \
         Painel de Preços: a mediana das compras públicas é o primeiro parâmetro da pesquisa \
         de preços (IN SEGES/ME 65/2021, art. 5º, I) e o valor estimado da compra deve ser \
         compatível com o de mercado (Lei 14.133/2021, art. 23; Lei 8.666/1993, art. 15, V). \
         Destacamos: {}{more}. Juntos, os itens custaram {} acima do que custariam pela \
         mediana. Só comparamos materiais comprados por ao menos {} órgãos com preços \
         coerentes entre si, em quantidades comparáveis, e só em contratos cujos itens somam \
         o valor do contrato; serviços ficam de fora porque a unidade (mês, posto, metro \
         quadrado) não é publicada. Consideramos atípico a partir de {} vezes a mediana, acima \
         de 90% das compras e com excesso de ao menos {}.{caveat}",
        told.join("; "),
        format::reais(cand.excess),
        s.item_min_agencies,
        format::decimal(s.item_min_ratio, 1),
        format::reais(s.item_min_excess),
    );
    let suggested_actions = vec![
        "Conferir no processo a unidade de fornecimento e a especificação do item: kit, caixa ou \
         lote registrado como unidade explica o preço."
            .to_string(),
        "Solicitar a pesquisa de preços que fundamentou o valor estimado e compará-la com o \
         Painel de Preços."
            .to_string(),
        "Verificar se o item foi entregue na especificação contratada e se houve sobrepreço \
         apontado pelo controle interno ou pelo TCU."
            .to_string(),
    ];
    let items: Vec<_> = cand
        .items
        .iter()
        .map(|o| {
            json!({
                "item": o.item.item,
                "quantity": o.item.quantity,
                "unit_price": o.item.unit_price,
                "peer_median": round(o.peers.median(), 2),
                "peer_p10": round(o.peers.prices[0], 2),
                "peer_p25": round(o.peers.prices[1], 2),
                "peer_p75": round(o.peers.prices[3], 2),
                "peer_p90": round(o.peers.prices[4], 2),
                "peer_purchases": o.peers.purchases,
                "peer_agencies": o.peers.agencies,
                "peer_median_quantity": o.peers.median_quantity,
                "ratio_to_median": round(o.ratio, 2),
                "excess": round(o.excess, 2),
            })
        })
        .collect();
    Finding {
        family: Family::Price,
        rule: ITEM_UNIT_PRICE,
        severity: cand.severity,
        confidence: cand.confidence,
        description,
        explanation,
        records: vec![cand.idx],
        suggested_actions,
        evidence: json!({
            "items": items,
            "items_priced": c.items.len(),
            "miscatalogued": cand.miscatalogued,
            "peers_from": "whole_database",
            "min_agencies": s.item_min_agencies,
            "min_ratio_to_median": s.item_min_ratio,
            "min_excess": s.item_min_excess,
        }),
        financial_impact: cand.excess,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    /// The peers of ÁGUA MINERAL NATURAL on the real 2021–2022 file (487
    /// purchases by 47 agencies), as migration 0019 computes them.
    fn water_peers() -> Arc<ItemPeers> {
        Arc::new(ItemPeers {
            purchases: 487,
            agencies: 47,
            prices: [2.06, 5.95, 8.0, 11.57, 19.66],
            median_quantity: 480.0,
        })
    }

    fn item(name: &str, quantity: f64, unit_price: f64, peers: &Arc<ItemPeers>) -> ItemPrice {
        ItemPrice {
            item: name.into(),
            quantity,
            unit_price,
            peers: Some(peers.clone()),
        }
    }

    fn contract(object: &str, items: Vec<ItemPrice>) -> Contract {
        Contract {
            key: "k1".into(),
            number: "12022".into(),
            object: object.into(),
            supplier_name: Some("Fornecedor".into()),
            items,
            ..Default::default()
        }
    }

    fn detect(contracts: Vec<Contract>) -> Vec<Finding> {
        item_unit_price(
            &PriceSettings::default(),
            &Dataset {
                contracts,
                ..Default::default()
            },
        )
    }

    #[test]
    fn water_at_sixty_times_the_national_median_is_flagged_with_its_peers() {
        let peers = water_peers();
        let findings = detect(vec![contract(
            "Aquisição de água mineral natural em garrafões de 20 litros",
            vec![
                item("ÁGUA MINERAL NATURAL", 2000.0, 519.99, &peers),
                item("ÁGUA MINERAL NATURAL", 300.0, 9.0, &peers),
            ],
        )]);
        assert_eq!(findings.len(), 1);
        let f = &findings[0];
        assert_eq!(f.rule, ITEM_UNIT_PRICE);
        assert_eq!(
            f.severity,
            Severity::Critical,
            "65x the median, R$ 1 million over"
        );
        assert_eq!(f.evidence["items"].as_array().map(Vec::len), Some(1));
        assert_eq!(f.evidence["items"][0]["peer_agencies"], 47);
        assert_eq!(f.evidence["items"][0]["peer_median"], 8.0);
        assert!((f.financial_impact - (519.99 - 8.0) * 2000.0).abs() < 0.01);
        assert!(f.explanation.contains("IN SEGES/ME 65/2021"));
        assert!(f.description.contains("a mediana paga por outros órgãos"));
    }

    #[test]
    fn prices_within_the_peers_are_not_flagged() {
        let peers = water_peers();
        let findings = detect(vec![contract(
            "Aquisição de água mineral",
            vec![item("ÁGUA MINERAL NATURAL", 5000.0, 14.5, &peers)],
        )]);
        assert!(findings.is_empty(), "{findings:?}");
    }

    #[test]
    fn a_lot_in_a_small_quantity_is_not_called_an_overprice() {
        // 24 "units" at R$ 972 thousand where others buy thousands of meals.
        let peers = Arc::new(ItemPeers {
            purchases: 71,
            agencies: 17,
            prices: [6.0, 8.38, 13.88, 16.25, 20.0],
            median_quantity: 20_000.0,
        });
        let findings = detect(vec![contract(
            "Fornecimento de refeições",
            vec![item("REFEICAO", 24.0, 972_039.31, &peers)],
        )]);
        assert!(findings.is_empty(), "{findings:?}");
    }

    #[test]
    fn services_and_items_few_agencies_bought_are_not_compared() {
        let many = water_peers();
        let few = Arc::new(ItemPeers {
            agencies: 3,
            ..(*many).clone()
        });
        let findings = detect(vec![
            contract(
                "Manutenção predial",
                vec![item("MANUTENCAO / REFORMA PREDIAL", 500.0, 630.0, &many)],
            ),
            contract(
                "Aquisição de água mineral",
                vec![item("ÁGUA MINERAL NATURAL", 2000.0, 519.99, &few)],
            ),
        ]);
        assert!(findings.is_empty(), "{findings:?}");
    }

    #[test]
    fn an_item_the_object_does_not_mention_is_told_as_a_catalogue_error_and_demoted() {
        let peers = Arc::new(ItemPeers {
            purchases: 60,
            agencies: 6,
            prices: [80.0, 105.26, 157.89, 280.0, 410.0],
            median_quantity: 10.0,
        });
        let findings = detect(vec![contract(
            "Aquisição de estações de desktops de alto desempenho",
            vec![item("MEDALHA", 295.0, 6_570.0, &peers)],
        )]);
        assert_eq!(findings.len(), 1);
        assert_eq!(findings[0].severity, Severity::Low);
        assert_eq!(findings[0].evidence["miscatalogued"], true);
        assert!(findings[0]
            .description
            .contains("provável erro de cadastro"));
    }

    #[test]
    fn catalogue_names_match_the_object_by_their_stems() {
        let words: Vec<String> = text::tokens("Aquisição de switches e munições")
            .into_iter()
            .collect();
        assert!(named_in_object("SWITCH", &words));
        assert!(named_in_object(
            "PROJETIL E COMPONENTES MUNIÇÃO ATÉ 30MM",
            &words
        ));
        assert!(!named_in_object("MEDALHA", &words));
        let tokens = |t: &str| text::tokens(t).into_iter().collect::<Vec<_>>();
        assert!(buys_a_service(&tokens(
            "Contratação de serviços de implantação de sistemas simplificados de \
             abastecimento de água"
        )));
        assert!(!buys_a_service(&tokens(
            "Fornecimento de bens de consumo para entrega parcelada de 2.000 botijões \
             padrão mineral de 20 litros"
        )));
        assert!(is_service("MANUTENCAO / REFORMA PREDIAL"));
        assert!(is_service("SERVICO DE LINK VIA CABO"));
        assert!(!is_service("ÁGUA MINERAL NATURAL"));
    }
}
