//! Expenses (`data_source = 'expenses'`): the federal budget as the Portal da
//! Transparência publishes it each year, "Orçamento da Despesa" (see
//! data/expenses/SOURCES.md).
//!
//! A file row is a budget line: the year and the classification from the
//! órgão superior down to the expense element, with four amounts — initial (the
//! LOA as passed), updated (after créditos adicionais and cancellations),
//! committed (empenhado) and realised. The Portal writes one line in several rows
//! split by a dimension the file does not carry; the import sums them.
//!
//! Investigations read [`Allocation`]s: the lines of one programa de trabalho
//! (unit, função, subfunção, programa, ação) and one expense group (GND), the
//! level at which the budget law authorises spending. Below it, moving money
//! between elements is an ordinary execution act; above-budget commitments at
//! element level are mostly that (373 in 2021, against 139 allocations).

pub mod by_organ;
pub mod document_rules;
pub mod documents;
pub mod filters;
pub mod retrieval;
pub mod rules;

use std::io::Read;

use serde_json::{json, Value};

use super::portal::{self, PortalRecord, Reason, RowError};
use crate::analysis::Records;
use crate::domain::text::fold;
use crate::sources::load::{b, Row};

/// One row of `AAAA_OrcamentoDespesa.csv`.
#[derive(Debug, Clone, PartialEq)]
pub struct BudgetLine {
    pub exercicio: i32,
    pub codigo_orgao_superior: String,
    pub nome_orgao_superior: String,
    /// The órgão subordinado (a ministry's own budget, a fund, an autarchy).
    pub codigo_orgao: String,
    pub nome_orgao: String,
    pub codigo_uo: String,
    pub nome_uo: String,
    pub codigo_funcao: String,
    pub nome_funcao: String,
    pub codigo_subfuncao: String,
    pub nome_subfuncao: String,
    pub codigo_programa: String,
    pub nome_programa: String,
    pub codigo_acao: String,
    pub nome_acao: String,
    pub codigo_categoria: String,
    pub nome_categoria: String,
    pub codigo_grupo: String,
    pub nome_grupo: String,
    /// `00` "Não informado": budget not yet detailed by element.
    pub codigo_elemento: String,
    pub nome_elemento: String,
    pub inicial: f64,
    pub atualizado: f64,
    pub empenhado: f64,
    pub realizado: f64,
}

impl BudgetLine {
    /// The line's identity: the year and every code of its classification.
    pub fn line_id(&self) -> String {
        format!(
            "{}/{}/{}.{}/{}.{}/{}.{}.{}",
            self.exercicio,
            self.codigo_uo,
            self.codigo_funcao,
            self.codigo_subfuncao,
            self.codigo_programa,
            self.codigo_acao,
            self.codigo_categoria,
            self.codigo_grupo,
            self.codigo_elemento
        )
    }
}

impl PortalRecord for BudgetLine {
    const COLUMNS: &'static [&'static str] = &[
        "EXERCÍCIO",
        "CÓDIGO ÓRGÃO SUPERIOR",
        "NOME ÓRGÃO SUPERIOR",
        "CÓDIGO ÓRGÃO SUBORDINADO",
        "NOME ÓRGÃO SUBORDINADO",
        "CÓDIGO UNIDADE ORÇAMENTÁRIA",
        "NOME UNIDADE ORÇAMENTÁRIA",
        "CÓDIGO FUNÇÃO",
        "NOME FUNÇÃO",
        "CÓDIGO SUBFUNÇÃO",
        "NOME SUBFUNÇÃO",
        "CÓDIGO PROGRAMA ORÇAMENTÁRIO",
        "NOME PROGRAMA ORÇAMENTÁRIO",
        "CÓDIGO AÇÃO",
        "NOME AÇÃO",
        "CÓDIGO CATEGORIA ECONÔMICA",
        "NOME CATEGORIA ECONÔMICA",
        "CÓDIGO GRUPO DE DESPESA",
        "NOME GRUPO DE DESPESA",
        "CÓDIGO ELEMENTO DE DESPESA",
        "NOME ELEMENTO DE DESPESA",
        "ORÇAMENTO INICIAL (R$)",
        "ORÇAMENTO ATUALIZADO (R$)",
        "ORÇAMENTO EMPENHADO (R$)",
        "ORÇAMENTO REALIZADO (R$)",
    ];

    fn from_row(row: &portal::Row<'_>) -> Result<Self, Reason> {
        let year = row.required("EXERCÍCIO")?;
        let exercicio = year
            .parse::<i32>()
            .ok()
            .filter(|y| (1990..=2199).contains(y))
            .ok_or(Reason::BadNumber {
                column: "EXERCÍCIO",
                value: year,
            })?;
        let amount = |column: &'static str| row.decimal(column)?.ok_or(Reason::Missing { column });
        Ok(BudgetLine {
            exercicio,
            codigo_orgao_superior: row.required("CÓDIGO ÓRGÃO SUPERIOR")?,
            nome_orgao_superior: row.text("NOME ÓRGÃO SUPERIOR")?,
            codigo_orgao: row.required("CÓDIGO ÓRGÃO SUBORDINADO")?,
            nome_orgao: row.text("NOME ÓRGÃO SUBORDINADO")?,
            codigo_uo: row.required("CÓDIGO UNIDADE ORÇAMENTÁRIA")?,
            nome_uo: row.text("NOME UNIDADE ORÇAMENTÁRIA")?,
            codigo_funcao: row.required("CÓDIGO FUNÇÃO")?,
            nome_funcao: row.text("NOME FUNÇÃO")?,
            codigo_subfuncao: row.required("CÓDIGO SUBFUNÇÃO")?,
            nome_subfuncao: row.text("NOME SUBFUNÇÃO")?,
            codigo_programa: row.required("CÓDIGO PROGRAMA ORÇAMENTÁRIO")?,
            nome_programa: row.text("NOME PROGRAMA ORÇAMENTÁRIO")?,
            codigo_acao: row.required("CÓDIGO AÇÃO")?,
            nome_acao: row.text("NOME AÇÃO")?,
            codigo_categoria: row.required("CÓDIGO CATEGORIA ECONÔMICA")?,
            nome_categoria: row.text("NOME CATEGORIA ECONÔMICA")?,
            codigo_grupo: row.required("CÓDIGO GRUPO DE DESPESA")?,
            nome_grupo: row.text("NOME GRUPO DE DESPESA")?,
            codigo_elemento: row.required("CÓDIGO ELEMENTO DE DESPESA")?,
            nome_elemento: row.text("NOME ELEMENTO DE DESPESA")?,
            inicial: amount("ORÇAMENTO INICIAL (R$)")?,
            atualizado: amount("ORÇAMENTO ATUALIZADO (R$)")?,
            empenhado: amount("ORÇAMENTO EMPENHADO (R$)")?,
            realizado: amount("ORÇAMENTO REALIZADO (R$)")?,
        })
    }
}

/// Reads `AAAA_OrcamentoDespesa.csv`. `file` names the source in errors.
pub fn read_budget_lines<R: Read>(
    reader: R,
    file: &str,
) -> Result<portal::Records<R, BudgetLine>, RowError> {
    portal::Records::new(reader, file)
}

/// A code and its name, as the file gives them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Coded {
    pub code: String,
    pub name: String,
}

impl Coded {
    /// "Comando da Aeronáutica (52111)".
    pub fn label(&self) -> String {
        if self.name.is_empty() {
            self.code.clone()
        } else {
            format!("{} ({})", self.name, self.code)
        }
    }
}

/// The four amounts of a line or an allocation, in reais.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Amounts {
    pub inicial: f64,
    pub atualizado: f64,
    pub empenhado: f64,
    pub realizado: f64,
}

/// One expense element of an allocation.
#[derive(Debug, Clone, PartialEq)]
pub struct Element {
    pub element: Coded,
    pub amounts: Amounts,
}

/// The budget of one programa de trabalho and one expense group (GND) in one
/// year: what the budget law authorises, the record an expenses investigation
/// reports on.
#[derive(Debug, Clone, PartialEq)]
pub struct Allocation {
    /// `AAAA/UO/função.subfunção/programa.ação/GND`, stable across imports.
    pub key: String,
    pub exercicio: i32,
    pub orgao_superior: Coded,
    pub orgao: Coded,
    pub uo: Coded,
    pub funcao: Coded,
    pub subfuncao: Coded,
    pub programa: Coded,
    pub acao: Coded,
    pub grupo: Coded,
    pub amounts: Amounts,
    /// By element code.
    pub elements: Vec<Element>,
}

impl Allocation {
    /// "10.302.5018.8585": função, subfunção, programa and ação, as the budget
    /// law writes a programa de trabalho.
    pub fn programa_trabalho(&self) -> String {
        format!(
            "{}.{}.{}.{}",
            self.funcao.code, self.subfuncao.code, self.programa.code, self.acao.code
        )
    }
}

/// What an expenses investigation read, and what its rules compare it with.
#[derive(Debug, Clone, Default)]
pub struct Budget {
    pub allocations: Vec<Allocation>,
    /// The peers of each (year, GND), from every imported line whatever the
    /// filters: a citizen asks about one ministry, and a revision is judged
    /// against the whole federal budget of that year.
    pub peers: Vec<retrieval::Peers>,
    /// Commitments and payments, one by one. Records number the allocations
    /// first, then the documents: a finding on documents cites indices from
    /// `allocations.len()` on.
    pub documents: Vec<documents::Document>,
}

impl Budget {
    /// The record index of document `i`.
    pub fn document_record(&self, i: usize) -> usize {
        self.allocations.len() + i
    }
}

impl Records for Budget {
    fn count(&self) -> usize {
        self.allocations.len() + self.documents.len()
    }

    fn key(&self, index: usize) -> Option<&str> {
        match self.allocations.get(index) {
            Some(a) => Some(a.key.as_str()),
            None => self
                .documents
                .get(index - self.allocations.len())
                .map(|d| d.codigo.as_str()),
        }
    }

    fn listed(&self, index: usize) -> Option<Value> {
        let Some(a) = self.allocations.get(index) else {
            return self
                .documents
                .get(index - self.allocations.len())
                .map(documents::listed);
        };
        Some(json!({
            "id": a.key,
            "exercicio": a.exercicio,
            "orgao_superior": a.orgao_superior.label(),
            "orgao": a.orgao.label(),
            "unidade_orcamentaria": a.uo.label(),
            "programa_trabalho": a.programa_trabalho(),
            "programa": a.programa.label(),
            "acao": a.acao.label(),
            "grupo_despesa": a.grupo.label(),
            "orcamento_inicial": crate::domain::format::round(a.amounts.inicial, 2),
            "orcamento_atualizado": crate::domain::format::round(a.amounts.atualizado, 2),
            "empenhado": crate::domain::format::round(a.amounts.empenhado, 2),
            "realizado": crate::domain::format::round(a.amounts.realizado, 2),
        }))
    }
}

pub(crate) fn budget_values(l: &BudgetLine, file: &str, line: i32) -> Row {
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn real(year: i32) -> Vec<u8> {
        let zip = crate::sources::shipped::data_path("expenses").join(format!(
            "portal_transparencia_orcamento_despesa_{year}_original.zip"
        ));
        crate::sources::shipped::read_single_entry(&zip).expect("the real yearly file")
    }

    #[test]
    fn the_real_yearly_files_read_whole_and_their_repeated_keys_are_split_lines() {
        for (year, rows, keys) in [(2021, 25_222, 22_695), (2022, 23_615, 21_623)] {
            let bytes = real(year);
            let lines: Vec<BudgetLine> = read_budget_lines(&bytes[..], "real")
                .expect("header")
                .collect::<Result<_, _>>()
                .expect("every row reads");
            assert_eq!(lines.len(), rows);
            assert!(lines.iter().all(|l| l.exercicio == year));
            let distinct: HashSet<String> = lines.iter().map(BudgetLine::line_id).collect();
            assert_eq!(distinct.len(), keys);
            let realizado: f64 = lines.iter().map(|l| l.realizado).sum();
            let expected = if year == 2021 {
                3_743_772_506_888.56
            } else {
                3_927_288_338_950.64
            };
            assert!((realizado - expected).abs() < 1.0, "{realizado}");
        }
    }

    #[test]
    fn a_line_keeps_leading_zeros_negative_amounts_and_its_accents() {
        let bytes = real(2021);
        let lines: Vec<BudgetLine> = read_budget_lines(&bytes[..], "real")
            .expect("header")
            .filter_map(Result::ok)
            .collect();
        let negative = lines.iter().filter(|l| l.inicial < 0.0).count();
        assert!(negative > 0, "cancellations are negative amounts");
        assert!(lines.iter().any(|l| l.codigo_funcao == "04"));
        assert!(lines
            .iter()
            .any(|l| l.codigo_acao == "00JG" || l.codigo_acao == "20TP"));
        assert!(lines
            .iter()
            .any(|l| l.codigo_elemento == "00" && l.nome_elemento == "Não informado"));
    }
}
