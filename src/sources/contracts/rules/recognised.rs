//! Contracting the law foresees, where a rule's usual reading misleads and the
//! finding is explained and shown lower instead.

use crate::domain::text;
use crate::sources::contracts::model::{Contract, Severity};

/// Contracts listed by a finding explained by a recognised convention or a
/// lawful routine: enough to see the pattern, without marking each contract
/// as a suspect (the count and total stay in the evidence).
pub(crate) const EXAMPLES: usize = 3;

/// How many records a finding lists: `max`, or for a recognised case (a
/// habit the law foresees) at most [`EXAMPLES`], its count left to the
/// evidence.
pub(crate) fn listed_at_most(recognised: bool, max: usize) -> usize {
    if recognised {
        EXAMPLES.min(max)
    } else {
        max
    }
}

/// A contract the law lets an agency make directly, where a value rule reads
/// too much into its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recognised {
    /// See [`is_credenciamento`].
    Credenciamento,
    /// See [`is_property_lease`].
    PropertyLease,
    /// See [`is_remainder`].
    Remainder,
    /// See [`is_routine_supplier`].
    RoutineSupplier,
}

impl Recognised {
    /// Which case `c` is, a credenciamento first.
    pub fn of(c: &Contract) -> Option<Self> {
        if is_credenciamento(c) {
            Some(Self::Credenciamento)
        } else if is_property_lease(c) {
            Some(Self::PropertyLease)
        } else if is_remainder(c) {
            Some(Self::Remainder)
        } else if is_routine_supplier(c) {
            Some(Self::RoutineSupplier)
        } else {
            None
        }
    }

    /// A credenciamento's value is no price at all: two steps; the others'
    /// reason for a direct award is in the law and in the object: one.
    pub fn lowered(self, severity: Severity) -> Severity {
        match self {
            Self::Credenciamento => severity.lower().lower(),
            Self::PropertyLease | Self::Remainder | Self::RoutineSupplier => severity.lower(),
        }
    }

    pub fn confidence_factor(self) -> f64 {
        match self {
            Self::Credenciamento => 0.7,
            Self::PropertyLease | Self::Remainder | Self::RoutineSupplier => 0.85,
        }
    }

    /// What a finding adds to its explanation.
    pub fn note(self) -> &'static str {
        match self {
            Self::Credenciamento => CREDENCIAMENTO_NOTE,
            Self::PropertyLease => PROPERTY_LEASE_NOTE,
            Self::Remainder => REMAINDER_NOTE,
            Self::RoutineSupplier => ROUTINE_SUPPLIER_NOTE,
        }
    }

    /// How the evidence names the case.
    pub fn label(self) -> &'static str {
        match self {
            Self::Credenciamento => "credenciamento",
            Self::PropertyLease => "property_lease",
            Self::Remainder => "remainder",
            Self::RoutineSupplier => "routine_supplier",
        }
    }
}

/// Words of a folded object that name health care, which the armed forces'
/// and other agencies' health systems buy by credenciamento (OCS, PSA, OSE).
const HEALTH_CARE: &[&str] = &[
    "saude",
    "medic",
    "hospitalar",
    "ambulatorial",
    "fisioterapia",
    "exames",
    "consultas",
    "odontolog",
    "psicolog",
    "patologia",
];

/// A credenciamento: an inexigibilidade by which an agency hires every
/// qualified provider at its own table of prices (Lei 14.133/2021 art. 79; Lei
/// 8.666/1993 art. 25, as case law reads it), mostly health care for the armed
/// forces' systems. The value registered is a ceiling estimated for the
/// period, not the price of a service, and several contracts share object and
/// value by design. Named in the object, or an inexigibilidade for health care.
pub fn is_credenciamento(c: &Contract) -> bool {
    let object = text::fold(&c.object);
    if object.contains("credenciamento") || object.contains("credenciad") {
        return true;
    }
    let inexigibilidade = c
        .modality
        .as_deref()
        .or(c.bidding_modality.as_deref())
        .is_some_and(|m| text::fold(m).contains("inexigib"));
    inexigibilidade && HEALTH_CARE.iter().any(|w| object.contains(w))
}

/// Words of a folded object that lease a building or a room, not a car.
const PROPERTY_LEASE: &[&str] = &[
    "locacao de imovel",
    "locacao do imovel",
    "locacao de um imovel",
    "locacao de predio",
    "locacao do predio",
    "locacao de sala",
    "locacao de galpao",
    "locacao de terreno",
    "locacao de area",
    "sublocacao de parte do imovel",
    "da em locacao",
];

/// The lease of a building chosen for its place and features, which the law
/// lets an agency sign directly (Lei 8.666/1993 art. 24 X; Lei 14.133/2021
/// art. 74 V): the landlord is the owner, often with no other public
/// contract. By the folded object.
pub fn is_property_lease(c: &Contract) -> bool {
    let object = text::fold(&c.object);
    PROPERTY_LEASE.iter().any(|w| object.contains(w))
}

/// The remainder of a contract rescinded before its end, awarded to the next
/// bidder of the original tender on its terms (Lei 8.666/1993 art. 24 XI; Lei
/// 14.133/2021 art. 90 § 7): a dispensa by name, competed for in fact. By the
/// folded object.
pub fn is_remainder(c: &Contract) -> bool {
    text::fold(&c.object).contains("remanescente")
}

/// State companies, public banks and laboratories, and the research network
/// hired without bidding by law (Lei 8.666/1993 art. 24 VIII, XVI and XXIV;
/// Lei 14.133/2021 art. 75 IX; the public banks for payroll and collection
/// services, as case law admits), by the supplier's folded name.
const STATE_COMPANIES: &[&str] = &[
    "instituto de tecnologia do parana",
    "tecpar",
    "butantan",
    "hemoderivados",
    "fundacao ezequiel dias",
    "laboratorio farmaceutico do estado",
    "instituto vital brazil",
    "fundacao para o remedio popular",
    "telebras",
    "telecomunicacoes brasileiras",
    "servico federal de processamento",
    "serpro",
    "dataprev",
    "empresa de tecnologia e informacoes da previdencia",
    "imprensa nacional",
    "casa da moeda",
    "empresa brasileira de correios",
    "empresa brasil de comunicacao",
    "banco do brasil",
    "caixa economica federal",
    "banco do nordeste",
    "banco da amazonia",
    "rede nacional de ensino e pesquisa",
];

/// A supplier the law lets agencies hire directly as a matter of course: a
/// support foundation of the buying institution (Lei 8.958/1994), a public
/// utility, or a state company or public laboratory. A contract's size then says what the
/// project or the service is, not what it cost.
pub fn is_routine_supplier(c: &Contract) -> bool {
    let supplier = c.supplier_name.as_deref().unwrap_or("");
    let buyer =
        c.ug.name
            .as_deref()
            .or(c.agency.name.as_deref())
            .unwrap_or("");
    if super::vendor::is_support_foundation(buyer, supplier) || super::vendor::is_utility(supplier)
    {
        return true;
    }
    let folded = text::fold(supplier);
    STATE_COMPANIES.iter().any(|w| folded.contains(w))
}

/// What a price finding about a routine supplier adds to its explanation.
const ROUTINE_SUPPLIER_NOTE: &str = " O fornecedor é uma fundação de apoio, uma \
     concessionária de serviço público ou uma empresa estatal, que a lei permite contratar \
     diretamente (Lei 8.958/1994; Lei 8.666/1993, art. 24; Lei 14.133/2021, art. 75): o valor \
     costuma refletir o tamanho do projeto ou do serviço. Por isso a gravidade é um grau menor.";

/// What a finding about a property lease adds to its explanation.
const PROPERTY_LEASE_NOTE: &str = " O contrato é a locação de um imóvel escolhido pela \
     localização e pelas instalações, que a lei permite contratar diretamente (Lei 8.666/1993, \
     art. 24, X; Lei 14.133/2021, art. 74, V): o locador costuma ser o proprietário, muitas \
     vezes sem outro contrato público. Por isso a gravidade é um grau menor; o que vale \
     conferir é a avaliação do aluguel.";

/// What a finding about a remainder adds to its explanation.
const REMAINDER_NOTE: &str = " O contrato é a contratação de remanescente: o que faltava \
     de um contrato rescindido, entregue ao licitante seguinte nas condições da licitação \
     original (Lei 8.666/1993, art. 24, XI; Lei 14.133/2021, art. 90, § 7º), de modo que o \
     fornecedor disputou a licitação. Por isso a gravidade é um grau menor.";

/// What a finding about a credenciamento adds to its explanation.
const CREDENCIAMENTO_NOTE: &str = " Este contrato é um credenciamento (inexigibilidade \
     em que o órgão contrata todos os prestadores habilitados pela sua tabela de preços; Lei \
     14.133/2021, art. 79): o valor registrado costuma ser um teto estimado para o período, não \
     o preço de um serviço, e vários prestadores recebem o mesmo objeto e o mesmo valor. Por \
     isso a gravidade é dois graus menor; o que vale conferir é quanto foi efetivamente pago.";

#[cfg(test)]
mod tests {
    use super::*;

    fn contract(object: &str, modality: &str) -> Contract {
        Contract {
            object: object.into(),
            modality: Some(modality.into()),
            ..Default::default()
        }
    }

    #[test]
    fn support_foundations_utilities_and_state_companies_are_routine_suppliers() {
        let by = |supplier: &str, ug: &str| Contract {
            supplier_name: Some(supplier.into()),
            ug: crate::sources::contracts::model::Unit {
                code: None,
                name: Some(ug.into()),
            },
            ..Default::default()
        };
        assert!(is_routine_supplier(&by(
            "TELECOMUNICACOES BRASILEIRAS SA TELEBRAS",
            "COMANDO DO EXERCITO"
        )));
        assert!(is_routine_supplier(&by(
            "FUNDACAO DE APOIO UNIVERSITARIO",
            "UNIVERSIDADE FEDERAL DE UBERLANDIA"
        )));
        assert!(is_routine_supplier(&by(
            "INSTITUTO DE TECNOLOGIA DO PARANA",
            "DEPARTAMENTO DE LOGISTICA EM SAUDE - DLOG"
        )));
        assert!(!is_routine_supplier(&by(
            "INSTITUTO SOCIAL SE LIGA",
            "HOSPITAL MILITAR DE AREA DE SAO PAULO"
        )));
    }

    #[test]
    fn a_buildings_lease_and_a_remainder_are_recognised_and_a_car_rental_is_not() {
        let lease = contract(
            "LOCAÇÃO DE IMÓVEL PARA A SEDE DA SUPERINTENDÊNCIA",
            "Dispensa de Licitação",
        );
        assert_eq!(Recognised::of(&lease), Some(Recognised::PropertyLease));
        let remainder = contract(
            "CONTRATAÇÃO DE SERVIÇOS CONTINUADOS REMANESCENTES DE LIMPEZA",
            "Dispensa de Licitação",
        );
        assert_eq!(Recognised::of(&remainder), Some(Recognised::Remainder));
        let cars = contract(
            "PRESTAÇÃO DE SERVIÇOS DE LOCAÇÃO DE VEÍCULOS, POR DEMANDA",
            "Dispensa de Licitação",
        );
        assert_eq!(Recognised::of(&cars), None);
    }

    #[test]
    fn credenciamentos_are_told_by_their_object_or_by_health_care_bought_without_bidding() {
        assert!(is_credenciamento(&contract(
            "CREDENCIAMENTO DE OCS E PSA PARA COMPLEMENTAR AS ATIVIDADES DO HGEBELÉM.",
            "Inexigibilidade de Licitação"
        )));
        assert!(is_credenciamento(&contract(
            "FISIOTERAPIA",
            "Inexigibilidade de Licitação"
        )));
        assert!(!is_credenciamento(&contract(
            "AQUISIÇÃO DE MEDICAMENTOS",
            "Pregão"
        )));
        assert!(!is_credenciamento(&contract(
            "AQUISIÇÃO DE MUNIÇÃO LEVE",
            "Inexigibilidade de Licitação"
        )));
    }
}
