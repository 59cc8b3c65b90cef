//! `vendor.sanctioned_supplier`: a contract signed with a supplier that a
//! sanctions list (CNEP, Lei 12.846/2013; CEIS when imported) had already
//! punished, by a penalty published before the signature date.
//!
//! Lei 14.133/2021 (art. 91, § 4º) has the administration consult the CEIS and
//! the CNEP before it signs or extends a contract. Not every penalty forbids
//! contracting: a fine or the publication of the decision does not by itself;
//! suspension, interdiction, a ban on contracting or a declaration of
//! unfitness (inidoneidade) may. The lists this reads do not give a penalty's
//! start and end, so whether it was in force on the day cannot be told here,
//! and the explanation says so.
//!
//! Severity: critical when a restrictive penalty came before the signature;
//! high when only fines or publications did; medium when the supplier is
//! punished but no publication date is known (the evidence says which dates are
//! unknown). Penalties published after the signature do not make a finding.
//! One finding per contract; `financial_impact` = the contract's value.

use serde_json::json;

use crate::domain::format::{date, reais};
use crate::domain::text::fold;
use crate::sources::contracts::model::{Dataset, Family, Finding, Severity, SupplierSanction};

pub const RULE: &str = "vendor.sanctioned_supplier";

/// Words of a penalty that can keep a supplier from contracting, folded.
const RESTRICTIVE: &[&str] = &[
    "suspensao",
    "interdicao",
    "proibicao",
    "inidoneidade",
    "impedimento",
    "dissolucao",
];

fn restrictive(s: &SupplierSanction) -> bool {
    let category = fold(&s.category);
    RESTRICTIVE.iter().any(|w| category.contains(w))
}

fn shown(s: &SupplierSanction) -> serde_json::Value {
    json!({
        "registry": s.registry,
        "sanction_id": s.id,
        "category": s.category,
        "body": s.body,
        "published": s.published.map(|d| d.to_string()),
        "fine": s.fine,
    })
}

fn said(s: &SupplierSanction) -> String {
    let when = s.published.map_or_else(
        || "data de publicação desconhecida".to_string(),
        |d| format!("publicada em {}", date(d)),
    );
    let fine = s
        .fine
        .map(|f| format!(" de {}", reais(f)))
        .unwrap_or_default();
    format!("{}{fine} ({}, {when})", s.category, s.body)
}

pub fn sanctioned_supplier(data: &Dataset) -> Vec<Finding> {
    let mut findings = Vec::new();
    for (i, c) in data.contracts.iter().enumerate() {
        let Some(code) = c.supplier_code.as_deref() else {
            continue;
        };
        let Some(penalties) = data.sanctions.get(code) else {
            continue;
        };
        let (before, undated): (Vec<&SupplierSanction>, Vec<&SupplierSanction>) = (
            penalties
                .iter()
                .filter(|s| matches!((s.published, c.signed), (Some(p), Some(d)) if p < d))
                .collect(),
            penalties
                .iter()
                .filter(|s| s.published.is_none() || c.signed.is_none())
                .collect(),
        );
        let after = penalties.len() - before.len() - undated.len();
        if before.is_empty() && undated.is_empty() {
            continue;
        }
        let registry = penalties
            .first()
            .map_or("CNEP", |s| s.registry.as_str())
            .to_string();
        let supplier = c
            .supplier_name
            .as_deref()
            .or(penalties.first().map(|s| s.name.as_str()))
            .unwrap_or(code);
        let signed = c
            .signed
            .map_or_else(|| "data desconhecida".to_string(), date);
        let (severity, confidence) = if before.iter().any(|s| restrictive(s)) {
            (Severity::Critical, 0.9)
        } else if !before.is_empty() {
            (Severity::High, 0.8)
        } else {
            (Severity::Medium, 0.5)
        };
        let listed: Vec<String> = before
            .iter()
            .chain(undated.iter())
            .map(|s| said(s))
            .collect();
        let description = if before.is_empty() {
            format!(
                "Contrato {} com {supplier}, fornecedor punido no {registry} (data da punição \
                 desconhecida)",
                c.number
            )
        } else {
            format!(
                "Contrato {} com {supplier}, punido no {registry} antes da assinatura ({})",
                c.number,
                said(before[0])
            )
        };
        let explanation = format!(
            "O fornecedor {supplier} ({code}) consta do {registry} com {} penalidade(s) \
             anterior(es) à assinatura do contrato em {signed} ou sem data conhecida: {}. A Lei \
             14.133/2021 (art. 91, § 4º) manda consultar o CEIS e o CNEP antes de contratar. \
             Multa e publicação da decisão não impedem contratar por si; suspensão, \
             interdição, proibição de contratar ou inidoneidade podem impedir. A lista não \
             traz o início e o fim de cada penalidade, então não foi possível verificar se \
             estava em vigor na data.",
            listed.len(),
            listed.join("; ")
        );
        findings.push(Finding {
            family: Family::Vendor,
            rule: RULE,
            severity,
            confidence,
            description,
            explanation,
            records: vec![i],
            suggested_actions: vec![
                "Consultar a penalidade no Portal da Transparência (Sanções) e verificar se \
                 estava em vigor na data da assinatura."
                    .to_string(),
                "Verificar no processo se o órgão consultou o CEIS e o CNEP antes de contratar."
                    .to_string(),
            ],
            evidence: json!({
                "registry": registry,
                "supplier": code,
                "signed": c.signed.map(|d| d.to_string()),
                "sanctions_before_signature": before.iter().map(|s| shown(s)).collect::<Vec<_>>(),
                "sanctions_without_date": undated.iter().map(|s| shown(s)).collect::<Vec<_>>(),
                "sanctions_after_signature": after,
                "dates_known": undated.is_empty(),
                "in_force_checked": false,
            }),
            financial_impact: c.value_now().unwrap_or(0.0),
        });
    }
    findings
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;
    use crate::sources::contracts::model::Contract;

    fn contract(supplier: &str, signed: (i32, u32, u32)) -> Contract {
        Contract {
            key: format!("k-{supplier}"),
            number: "12021".into(),
            supplier_code: Some(supplier.into()),
            supplier_name: Some("EMPRESA X LTDA".into()),
            signed: NaiveDate::from_ymd_opt(signed.0, signed.1, signed.2),
            final_value: Some(100_000.0),
            ..Default::default()
        }
    }

    fn penalty(category: &str, published: Option<(i32, u32, u32)>) -> SupplierSanction {
        SupplierSanction {
            registry: "CNEP".into(),
            id: 1,
            name: "EMPRESA X LTDA".into(),
            category: category.into(),
            body: "Controladoria-Geral da União".into(),
            published: published.and_then(|(y, m, d)| NaiveDate::from_ymd_opt(y, m, d)),
            fine: None,
        }
    }

    fn data(contracts: Vec<Contract>, penalties: Vec<(&str, SupplierSanction)>) -> Dataset {
        let mut d = Dataset {
            contracts,
            ..Default::default()
        };
        for (code, p) in penalties {
            d.sanctions.entry(code.to_string()).or_default().push(p);
        }
        d
    }

    #[test]
    fn a_supplier_punished_before_the_signature_is_found_with_the_penalty() {
        let d = data(
            vec![contract("11", (2022, 5, 10))],
            vec![(
                "11",
                penalty(
                    "Declaração de Inidoneidade sem prazo determinado",
                    Some((2021, 3, 1)),
                ),
            )],
        );
        let found = sanctioned_supplier(&d);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].severity, Severity::Critical);
        assert!(found[0].description.contains("antes da assinatura"));
        assert_eq!(
            found[0].evidence["sanctions_before_signature"][0]["published"],
            "2021-03-01"
        );
        assert_eq!(found[0].evidence["dates_known"], true);
    }

    #[test]
    fn a_penalty_after_the_signature_or_another_supplier_finds_nothing() {
        let d = data(
            vec![contract("11", (2021, 5, 10)), contract("22", (2021, 5, 10))],
            vec![("11", penalty("Multa", Some((2023, 3, 1))))],
        );
        assert!(sanctioned_supplier(&d).is_empty());
    }

    #[test]
    fn an_unknown_publication_date_is_said_and_weighs_less() {
        let d = data(
            vec![contract("11", (2021, 5, 10))],
            vec![("11", penalty("Multa", None))],
        );
        let found = sanctioned_supplier(&d);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].severity, Severity::Medium);
        assert_eq!(found[0].evidence["dates_known"], false);
        assert!(found[0]
            .explanation
            .contains("data de publicação desconhecida"));
    }

    #[test]
    fn on_the_real_files_the_contracts_of_punished_suppliers_are_found() {
        let mut d = crate::sources::contracts::rules::real_data();
        let bytes = std::fs::read(
            crate::sources::shipped::data_path("sanctions")
                .join("cnep_portal_sancoes_consulta_2023-10.json"),
        )
        .expect("the real CNEP list");
        for s in crate::sources::sanctions::read(&bytes, "cnep")
            .expect("a payload")
            .into_iter()
            .flatten()
        {
            d.sanctions
                .entry(s.document.clone())
                .or_default()
                .push(SupplierSanction {
                    registry: s.registry,
                    id: s.id,
                    name: s.name,
                    category: s.category,
                    body: s.body,
                    published: s.published,
                    fine: s.fine,
                });
        }
        let found = sanctioned_supplier(&d);
        eprintln!(
            "vendor.sanctioned_supplier on the real two-year file: {} contracts, {:?} by severity",
            found.len(),
            crate::sources::contracts::rules::severity_counts(&found.iter().collect::<Vec<_>>())
        );
        assert!(
            (20..=73).contains(&found.len()),
            "{} contracts of punished suppliers",
            found.len()
        );
        assert!(found
            .iter()
            .all(|f| f.evidence["sanctions_before_signature"]
                .as_array()
                .is_some_and(|a| !a.is_empty())
                || f.evidence["dates_known"] == false));
    }
}
