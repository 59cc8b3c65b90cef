//! The rules of a servants investigation, over [`Staff`].
//!
//! Rule `duplicate.retired_and_active`: a servant whose record holds a
//! retirement and an active position at once. Retirement vacates the position
//! (Lei 8.112/1990, art. 33, VII), and the Constitution forbids drawing a
//! pension together with a salary except for positions that may be
//! accumulated, elective offices and commissioned posts (CF art. 37, §10). The
//! same position retired from and active is high (the register was not updated,
//! or both are paid); a different one is medium (it may be an accumulable
//! pair). Confidence 0.8 and 0.5.
//!
//! Rule `duplicate.accumulated_positions`: more than one active position. The
//! Constitution allows two only as two teaching posts, teaching and a
//! technical or scientific one, or two health professions (CF art. 37, XVI):
//! three or more are critical; two that look like one of those pairs by their
//! names are low, other pairs high.
//!
//! Rule `temporal.admission_without_exam_after_1988`: a position entered
//! "sem concurso público" by someone who entered the public service after the
//! Constitution of 5 October 1988, which requires a public exam (CF art. 37,
//! II); before it, admission without one was lawful. Temporary contracts
//! (Lei 8.745/1993, CF art. 37, IX) are a different form and are not matched.
//! High, confidence 0.7.
//!
//! `financial_impact` is 0 for all three: the API serves no remuneration.

use chrono::NaiveDate;
use serde_json::json;

use super::{Position, Servant, Staff};
use crate::analysis::rank::strongest;
use crate::analysis::{Detector, Family, Finding, Severity};
use crate::domain::format::date;
use crate::domain::text::fold;

pub const RETIRED_AND_ACTIVE: &str = "duplicate.retired_and_active";
pub const ACCUMULATED_POSITIONS: &str = "duplicate.accumulated_positions";
pub const ADMISSION_WITHOUT_EXAM: &str = "temporal.admission_without_exam_after_1988";

/// Every rule of this source, for the README's table and its test.
pub const RULES: &[&str] = &[
    RETIRED_AND_ACTIVE,
    ACCUMULATED_POSITIONS,
    ADMISSION_WITHOUT_EXAM,
];

/// Findings each rule keeps, the strongest.
const MAX_FINDINGS: usize = 200;

fn who(s: &Servant) -> String {
    let mut text = s.nome.clone();
    if let Some(m) = &s.matricula {
        text.push_str(&format!(" (matrícula {m})"));
    }
    text
}

/// A finding about one servant, with no money at stake; the family is the
/// rule id's prefix, so the two cannot disagree.
fn finding(
    rule: &'static str,
    severity: Severity,
    confidence: f64,
    index: usize,
    description: String,
    explanation: String,
) -> Finding {
    let family = rule
        .split('.')
        .next()
        .and_then(Family::parse)
        .unwrap_or(Family::Pattern);
    Finding {
        family,
        rule,
        severity,
        confidence,
        description,
        explanation,
        records: vec![index],
        suggested_actions: Vec::new(),
        evidence: serde_json::Value::Null,
        financial_impact: 0.0,
    }
}

/// The duplicate family: one person holding what cannot be held together.
pub struct DuplicateRules;

impl Detector<Staff> for DuplicateRules {
    fn family(&self) -> Family {
        Family::Duplicate
    }

    fn detect(&self, data: &Staff) -> Vec<Finding> {
        let mut found = Vec::new();
        for (i, s) in data.servants.iter().enumerate() {
            found.extend(retired_and_active(i, s));
            found.extend(accumulated_positions(i, s));
        }
        strongest(found, data, MAX_FINDINGS)
    }
}

fn retired_and_active(index: usize, s: &Servant) -> Option<Finding> {
    let active: Vec<&Position> = s.positions.iter().filter(|p| p.is_active()).collect();
    let retirement = s.retirements.first()?;
    let position = active
        .iter()
        .find(|p| fold(&p.cargo) == fold(&retirement.cargo))
        .or(active.first())?;
    let same = fold(&position.cargo) == fold(&retirement.cargo);
    let when = retirement
        .data
        .map_or("em data não informada".to_string(), |d| {
            format!("em {}", date(d))
        });
    let kind = retirement
        .tipo
        .as_deref()
        .map_or("aposentadoria".to_string(), |t| t.trim().to_lowercase());
    let description = format!(
        "{} aparece aposentado e ativo ao mesmo tempo: {kind} {when} do cargo {}, e o cargo \
         {} como {}",
        who(s),
        retirement.cargo,
        position.cargo,
        position.situacao.to_lowercase()
    );
    let mut explanation = format!(
        "A ficha de {} no Portal da Transparência registra {kind} {when} do cargo {} ({}) e, \
         ao mesmo tempo, o cargo {} na situação \"{}\". A aposentadoria gera a vacância do \
         cargo (Lei 8.112/1990, art. 33, VII), e a Constituição veda receber proventos de \
         aposentadoria junto com a remuneração de um cargo, salvo cargos acumuláveis, eletivos \
         e em comissão (CF art. 37, §10).",
        s.nome,
        retirement.cargo,
        retirement.orgao.as_deref().unwrap_or("órgão não informado"),
        position.cargo,
        position.situacao
    );
    explanation.push_str(if same {
        " Aqui o cargo é o mesmo: ou o cadastro não foi atualizado depois da aposentadoria, \
         ou os dois vínculos estão sendo pagos."
    } else {
        " Os cargos são diferentes: a acumulação pode ser lícita se forem acumuláveis (CF art. \
         37, XVI); confira."
    });
    Some(Finding {
        suggested_actions: vec![
            format!(
                "Consultar a remuneração de {} no Portal (aba Remuneração) e verificar se há \
                 pagamento de proventos e de salário no mesmo mês.",
                s.nome
            ),
            "Pedir ao órgão o ato de aposentadoria publicado no DOU e a situação do cargo no \
             SIAPE."
                .to_string(),
        ],
        evidence: json!({
            "retirement_cargo": retirement.cargo,
            "retirement_date": retirement.data,
            "active_cargo": position.cargo,
            "active_situation": position.situacao,
            "same_position": same,
        }),
        ..finding(
            RETIRED_AND_ACTIVE,
            if same {
                Severity::High
            } else {
                Severity::Medium
            },
            if same { 0.8 } else { 0.5 },
            index,
            description,
            explanation,
        )
    })
}

/// The kinds of position the Constitution lets one person hold two of.
fn accumulable_kind(cargo: &str) -> Option<&'static str> {
    let c = fold(cargo);
    let any = |words: &[&str]| words.iter().any(|w| c.contains(w));
    if any(&["professor", "magisterio", "docente"]) {
        Some("professor")
    } else if any(&[
        "medic",
        "enferm",
        "odont",
        "dentista",
        "farmac",
        "fisioter",
        "psicolog",
        "nutricion",
        "fonoaud",
        "saude",
    ]) {
        Some("saúde")
    } else if any(&["tecnic", "tecnol", "analista", "pesquisador", "engenheir"]) {
        Some("técnico ou científico")
    } else {
        None
    }
}

fn accumulated_positions(index: usize, s: &Servant) -> Option<Finding> {
    let active: Vec<&Position> = s.positions.iter().filter(|p| p.is_active()).collect();
    if active.len() < 2 {
        return None;
    }
    let kinds: Vec<Option<&str>> = active.iter().map(|p| accumulable_kind(&p.cargo)).collect();
    let allowed_pair = active.len() == 2
        && matches!(
            (kinds[0], kinds[1]),
            (Some("professor"), Some(_))
                | (Some(_), Some("professor"))
                | (Some("saúde"), Some("saúde"))
        );
    let severity = if active.len() >= 3 {
        Severity::Critical
    } else if allowed_pair {
        Severity::Low
    } else {
        Severity::High
    };
    let cargos: Vec<String> = active
        .iter()
        .map(|p| {
            format!(
                "{} ({}{})",
                p.cargo,
                p.orgao.as_deref().unwrap_or("órgão não informado"),
                p.jornada
                    .as_deref()
                    .map_or(String::new(), |j| format!(", {}", j.to_lowercase()))
            )
        })
        .collect();
    let description = format!(
        "{} ocupa {} cargos ativos ao mesmo tempo: {}",
        who(s),
        active.len(),
        cargos.join("; ")
    );
    let judgement = if active.len() >= 3 {
        "Três ou mais cargos nunca são acumuláveis."
    } else if allowed_pair {
        "Pelos nomes, o par parece uma das combinações permitidas; ainda assim a acumulação \
         exige compatibilidade de horários."
    } else {
        "Pelos nomes, o par não parece uma das combinações permitidas."
    };
    let explanation = format!(
        "A Constituição veda acumular cargos públicos, salvo, com compatibilidade de horários, \
         dois cargos de professor, um de professor com outro técnico ou científico, ou dois de \
         profissionais de saúde (CF art. 37, XVI). A ficha de {} registra {} cargos ativos: {}. \
         {judgement}",
        s.nome,
        active.len(),
        cargos.join("; ")
    );
    Some(Finding {
        suggested_actions: vec![
            "Pedir aos órgãos a declaração de acumulação de cargos e a escala de horários."
                .to_string(),
        ],
        evidence: json!({
            "active_positions": active.len(),
            "kinds": kinds,
            "allowed_pair_by_name": allowed_pair,
        }),
        ..finding(
            ACCUMULATED_POSITIONS,
            severity,
            if allowed_pair { 0.4 } else { 0.75 },
            index,
            description,
            explanation,
        )
    })
}

/// The temporal family: dates the law gives meaning to.
pub struct TemporalRules;

/// The Constitution's promulgation: from then on, a public exam.
fn constitution() -> NaiveDate {
    NaiveDate::from_ymd_opt(1988, 10, 5).unwrap_or_default()
}

impl Detector<Staff> for TemporalRules {
    fn family(&self) -> Family {
        Family::Temporal
    }

    fn detect(&self, data: &Staff) -> Vec<Finding> {
        let mut found = Vec::new();
        for (i, s) in data.servants.iter().enumerate() {
            for p in s.positions.iter().filter(|p| p.is_active()) {
                found.extend(admission_without_exam(i, s, p));
            }
        }
        strongest(found, data, MAX_FINDINGS)
    }
}

fn admission_without_exam(index: usize, s: &Servant, p: &Position) -> Option<Finding> {
    let forma = p.forma_ingresso.as_deref()?;
    if !fold(forma).contains("sem concurso") {
        return None;
    }
    let entered = p.ingresso_servico_publico?;
    if entered < constitution() {
        return None;
    }
    let description = format!(
        "{} entrou no serviço público em {} sem concurso público, no cargo {}",
        who(s),
        date(entered),
        p.cargo
    );
    let explanation = format!(
        "Desde a Constituição de 5 de outubro de 1988, a investidura em cargo efetivo depende de \
         aprovação em concurso público (CF art. 37, II); contratações temporárias seguem a Lei \
         8.745/1993 e aparecem com outra forma de ingresso. A ficha de {} registra ingresso no \
         serviço público em {} com a forma \"{forma}\", no cargo {} ({}). Pode ser erro de \
         cadastro ou uma situação amparada por decisão judicial; vale pedir o ato de nomeação.",
        s.nome,
        date(entered),
        p.cargo,
        p.situacao
    );
    Some(Finding {
        suggested_actions: vec![
            "Pedir ao órgão o ato de nomeação ou admissão e o fundamento legal do ingresso."
                .to_string(),
        ],
        evidence: json!({
            "forma_ingresso": forma,
            "ingresso_servico_publico": entered,
            "ingresso_cargo": p.ingresso_cargo,
        }),
        ..finding(
            ADMISSION_WITHOUT_EXAM,
            Severity::High,
            0.7,
            index,
            description,
            explanation,
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::servants::{Organ, Retirement};

    fn servant(positions: Vec<Position>, retirements: Vec<Retirement>) -> Servant {
        let organ = Organ {
            codigo: "45205".into(),
            nome: "Fundação Instituto Brasileiro de Geografia e Estatística".into(),
            sigla: Some("IBGE".into()),
        };
        Servant {
            id: 1,
            key: "servidor/1".into(),
            nome: "FULANA DE TAL".into(),
            matricula: Some("123****".into()),
            exercicio: organ.clone(),
            lotacao: organ,
            positions,
            retirements,
            ..Servant::default()
        }
    }

    fn position(cargo: &str, situacao: &str) -> Position {
        Position {
            cargo: cargo.into(),
            situacao: situacao.into(),
            orgao: Some("IBGE".into()),
            ..Position::default()
        }
    }

    fn retired_from(cargo: &str) -> Retirement {
        Retirement {
            cargo: cargo.into(),
            orgao: Some("IBGE".into()),
            tipo: Some("APOSENTADORIA VOLUNTARIA".into()),
            data: NaiveDate::from_ymd_opt(2024, 11, 1),
        }
    }

    fn staff(servants: Vec<Servant>) -> Staff {
        Staff { servants }
    }

    #[test]
    fn retired_from_the_position_still_held_active_is_high_with_the_law() {
        let data = staff(vec![servant(
            vec![position(
                "TECNOL INF GEOGRAFICA ESTATISTICA",
                "ATIVO PERMANENTE",
            )],
            vec![retired_from("TECNOL INF GEOGRAFICA ESTATISTICA")],
        )]);
        let found = DuplicateRules.detect(&data);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(found[0].rule, RETIRED_AND_ACTIVE);
        assert_eq!(found[0].severity, Severity::High);
        assert!(found[0].explanation.contains("art. 33, VII"));
        assert!(found[0].description.contains("01/11/2024"));
    }

    #[test]
    fn a_retirement_without_an_active_position_or_a_pension_is_not_a_finding() {
        let data = staff(vec![
            servant(
                vec![position("TECNOL", "APOSENTADO")],
                vec![retired_from("TECNOL")],
            ),
            servant(vec![position("ANALISTA", "ATIVO PERMANENTE")], vec![]),
        ]);
        assert!(DuplicateRules.detect(&data).is_empty());
    }

    #[test]
    fn three_active_positions_are_critical_and_two_teaching_posts_low() {
        let three = servant(
            vec![
                position("ANALISTA", "ATIVO PERMANENTE"),
                position("MEDICO", "ATIVO PERMANENTE"),
                position("PROFESSOR", "ATIVO PERMANENTE"),
            ],
            vec![],
        );
        let teachers = servant(
            vec![
                position("PROFESSOR DO MAGISTERIO SUPERIOR", "ATIVO PERMANENTE"),
                position("PROFESSOR ENS BASICO TECN TECNOLOGICO", "ATIVO PERMANENTE"),
            ],
            vec![],
        );
        let clerks = servant(
            vec![
                position("AGENTE ADMINISTRATIVO", "ATIVO PERMANENTE"),
                position("ASSISTENTE EM ADMINISTRACAO", "ATIVO PERMANENTE"),
            ],
            vec![],
        );
        let severities: Vec<Severity> = [three, teachers, clerks]
            .into_iter()
            .map(|s| {
                let found = DuplicateRules.detect(&staff(vec![s]));
                assert_eq!(found.len(), 1);
                found[0].severity
            })
            .collect();
        assert_eq!(
            severities,
            vec![Severity::Critical, Severity::Low, Severity::High]
        );
    }

    #[test]
    fn admission_without_exam_counts_only_after_the_1988_constitution() {
        let mut before = position("TECNOL", "ATIVO PERMANENTE");
        before.forma_ingresso = Some("ADMISSAO SEM CONCURSO PUBLICO".into());
        before.ingresso_servico_publico = NaiveDate::from_ymd_opt(1973, 6, 6);
        let mut after = before.clone();
        after.ingresso_servico_publico = NaiveDate::from_ymd_opt(1995, 3, 1);
        let mut temporary = after.clone();
        temporary.forma_ingresso = Some("CONTRATADO TEMPORARIO LEI 8745/93".into());
        assert!(TemporalRules
            .detect(&staff(vec![
                servant(vec![before], vec![]),
                servant(vec![temporary], vec![])
            ]))
            .is_empty());
        let found = TemporalRules.detect(&staff(vec![servant(vec![after], vec![])]));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].rule, ADMISSION_WITHOUT_EXAM);
        assert!(found[0].explanation.contains("art. 37, II"));
    }

    #[test]
    fn the_readme_lists_exactly_the_rules_of_this_source() {
        let mut rules = RULES.to_vec();
        rules.sort_unstable();
        assert_eq!(crate::analysis::readme_rules("servants"), rules);
    }
}
