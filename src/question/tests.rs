//! The question reader against questions as citizens write them, resolved
//! against the units and suppliers of the real two-year contracts file.

use std::sync::OnceLock;

use chrono::NaiveDate;
use proptest::prelude::*;
use serde_json::{json, Value};

use super::*;
use crate::sources::filters::ContractFilters;

/// The units and suppliers of `data/procurement`'s two-year contracts file,
/// gathered as the database's trigger gathers them.
fn directory() -> &'static Directory {
    static DIRECTORY: OnceLock<Directory> = OnceLock::new();
    DIRECTORY.get_or_init(|| {
        let vocab = Vocabulary::builtin();
        let bytes = crate::sources::shipped::procurement_csv(
            "portal_transparencia_compras_202101-202212.csv",
        )
        .unwrap_or_else(|e| panic!("real contracts file: {e:#}"));
        let rows = crate::sources::portal::read_contracts(std::io::Cursor::new(bytes), "compras")
            .expect("contracts header");
        let mut dir = Directory::default();
        for c in rows.filter_map(Result::ok) {
            dir.add_unit(
                Level::OrgaoSuperior,
                &c.codigo_orgao_superior,
                &c.nome_orgao_superior,
                vocab,
            );
            dir.add_unit(Level::Orgao, &c.codigo_orgao, &c.nome_orgao, vocab);
            dir.add_unit(Level::Ug, &c.codigo_ug, &c.nome_ug, vocab);
            if let (Some(code), Some(name)) = (&c.fornecedor, &c.nome_fornecedor) {
                dir.add_supplier(code.as_str(), name);
            }
        }
        dir
    })
}

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2024, 6, 15).expect("a date")
}

fn understood(q: &str) -> Understanding {
    understand(q, today(), Vocabulary::builtin(), directory())
}

/// What a question yields, as the test table writes it: the filters, and
/// `anomaly_types` when it names families.
fn derived(u: &Understanding) -> Value {
    let mut out = u.filters();
    let families = u.families();
    if !families.is_empty() {
        out.insert("anomaly_types".into(), json!(families));
    }
    Value::Object(out)
}

/// Questions as citizens type them (typos, no accents, abbreviations), and the
/// filters each must yield. Today is 2024-06-15.
fn cases() -> Vec<(&'static str, Value)> {
    vec![
        (
            "contratos acima de R$ 1 milhão em 2024 no Ministério da Saúde",
            json!({"min_value": 1e6, "year": 2024, "codigo_orgao_superior": "36000"}),
        ),
        ("mais de 500 mil reais em 2023", json!({"min_value": 5e5, "year": 2023})),
        (
            "contratos entre R$ 10 mil e R$ 50 mil",
            json!({"min_value": 1e4, "max_value": 5e4}),
        ),
        ("contratos até 17.600 reais", json!({"max_value": 17600.0})),
        (
            "contratos no primeiro semestre de 2022",
            json!({"data_inicial": "2022-01-01", "data_final": "2022-06-30"}),
        ),
        (
            "contratos entre março e junho de 2023",
            json!({"data_inicial": "2023-03-01", "data_final": "2023-06-30"}),
        ),
        (
            "o que foi assinado em janeiro de 2021",
            json!({"data_inicial": "2021-01-01", "data_final": "2021-01-31"}),
        ),
        (
            "contratos nos últimos 12 meses",
            json!({"data_inicial": "2023-06-16", "data_final": "2024-06-15"}),
        ),
        (
            "dispensas no IFSP",
            json!({"modalidade": ["dispensa"], "codigo_orgao": "26439"}),
        ),
        (
            "contratos da Universidade Federal de Goiás",
            json!({"codigo_orgao": "26235"}),
        ),
        (
            "contratos da PRF em 2022",
            json!({"codigo_orgao": "30802", "year": 2022}),
        ),
        (
            "contratos sem licitação do Ministério da Educação",
            json!({"modalidade": ["dispensa", "inexigibilidade"], "codigo_orgao_superior": "26000"}),
        ),
        (
            "pregões de 2021 acima de 1 mi",
            json!({"modalidade": ["pregao"], "year": 2021, "min_value": 1e6}),
        ),
        ("compras de ambulâncias", json!({"texto": "ambulancia"})),
        (
            "superfaturamento em compras de ambulancias do ministerio da saude",
            json!({"texto": "ambulancia", "codigo_orgao_superior": "36000", "anomaly_types": ["price"]}),
        ),
        (
            "fracionamento na UFMG",
            json!({"codigo_orgao": "26238", "anomaly_types": ["duplicate"]}),
        ),
        (
            "contratos com aditivos em 2022",
            json!({"year": 2022, "anomaly_types": ["payment"]}),
        ),
        (
            "contratos do CNPJ 22.934.158/0001-71",
            json!({"cnpj_fornecedor": "22934158000171"}),
        ),
        (
            "contratos com o cnpj 22934158000171 em 2021",
            json!({"cnpj_fornecedor": "22934158000171", "year": 2021}),
        ),
        ("contratos da empresa Claro", json!({"cnpj_fornecedor": "40432544"})),
        (
            "pagamentos à empresa Correios em 2022",
            json!({"cnpj_fornecedor": "34028316", "year": 2022}),
        ),
        (
            "contratos do fornecedor Daten Tecnologia em 2022",
            json!({"cnpj_fornecedor": "04602789000101", "year": 2022}),
        ),
        (
            "gastos com limpeza e conservação no Comando do Exército em 2022",
            json!({"texto": "limpeza conservac", "codigo_orgao": "52121", "year": 2022}),
        ),
        (
            "contratos do exercito acima de 5 milhoes",
            json!({"codigo_orgao": "52121", "min_value": 5e6}),
        ),
        (
            "licitações da Marinha em 2021",
            json!({"codigo_orgao": "52131", "year": 2021}),
        ),
        (
            "contratos da FIOCRUZ entre 2021 e 2022",
            json!({"codigo_orgao": "36201", "data_inicial": "2021-01-01", "data_final": "2022-12-31"}),
        ),
        (
            "inexigibilidades do INSS",
            json!({"modalidade": ["inexigibilidade"], "codigo_orgao": "37202"}),
        ),
        (
            "quanto a EBSERH gastou com medicamentos em 2022",
            json!({"codigo_orgao": "26443", "texto": "medicamento", "year": 2022}),
        ),
        ("contratos acima de meio milhão", json!({"min_value": 5e5})),
        (
            "contratos abaixo de 50 mil do IFSP em 2023",
            json!({"max_value": 5e4, "codigo_orgao": "26439", "year": 2023}),
        ),
        (
            "contratos entre 100 mil e 1 milhão",
            json!({"min_value": 1e5, "max_value": 1e6}),
        ),
        (
            "contratos de 10 a 50 mil reais",
            json!({"min_value": 1e4, "max_value": 5e4}),
        ),
        (
            "contratos de R$ 100.000,00 a R$ 200.000,00",
            json!({"min_value": 1e5, "max_value": 2e5}),
        ),
        (
            "dispensas de licitação acima de R$ 17.600 em 2021",
            json!({"modalidade": ["dispensa"], "min_value": 17600.0, "year": 2021}),
        ),
        ("contratos desde 2022", json!({"data_inicial": "2022-01-01"})),
        ("contratos até junho de 2022", json!({"data_final": "2022-06-30"})),
        ("contratos antes de 2022", json!({"data_final": "2021-12-31"})),
        (
            "contratos de 2021 a 2022",
            json!({"data_inicial": "2021-01-01", "data_final": "2022-12-31"}),
        ),
        (
            "2º trimestre de 2023",
            json!({"data_inicial": "2023-04-01", "data_final": "2023-06-30"}),
        ),
        (
            "contratos de 01/03/2022 a 30/06/2022",
            json!({"data_inicial": "2022-03-01", "data_final": "2022-06-30"}),
        ),
        ("contratos do ano passado", json!({"year": 2023})),
        ("contratos deste ano", json!({"year": 2024})),
        (
            "contratos do mês passado",
            json!({"data_inicial": "2024-05-01", "data_final": "2024-05-31"}),
        ),
        (
            "ultimos 90 dias",
            json!({"data_inicial": "2024-03-18", "data_final": "2024-06-15"}),
        ),
        (
            "pregao eletronico para compra de computadores na UFRJ",
            json!({"modalidade": ["pregao"], "texto": "computador", "codigo_orgao": "26245"}),
        ),
        (
            "aquisição de equipamentos de proteção individual pela Fiocruz",
            json!({"texto": "equipamento protec individua", "codigo_orgao": "36201"}),
        ),
        (
            "contratos de vigilância do Ministério da Economia",
            json!({"texto": "vigilancia", "codigo_orgao_superior": "25000"}),
        ),
        ("compras com valores redondos", json!({"anomaly_types": ["pattern"]})),
        (
            "contratos assinados no fim de ano pela Aeronáutica",
            json!({"codigo_orgao": "52111", "anomaly_types": ["temporal"]}),
        ),
        (
            "direcionamento para a mesma empresa no DNIT",
            json!({"codigo_orgao": "39252", "anomaly_types": ["vendor"]}),
        ),
        (
            "obras de pavimentação do DNIT acima de 10 milhões",
            json!({"texto": "pavimentac", "codigo_orgao": "39252", "min_value": 1e7}),
        ),
        (
            "ministerio da saude 2023",
            json!({"codigo_orgao_superior": "36000", "year": 2023}),
        ),
        (
            "Contratos MINISTÉRIO DA DEFESA 2022",
            json!({"codigo_orgao_superior": "52000", "year": 2022}),
        ),
        (
            "contratos do ministerio da saude acima de 1.000.000,00",
            json!({"codigo_orgao_superior": "36000", "min_value": 1e6}),
        ),
        (
            "Quero ver os contratos da Universidade Federal de Minas Gerais com valor superior a R$ 2 milhões",
            json!({"codigo_orgao": "26238", "min_value": 2e6}),
        ),
        (
            "contratos do Instituto Federal de São Paulo no 1º semestre de 2023",
            json!({"codigo_orgao": "26439", "data_inicial": "2023-01-01", "data_final": "2023-06-30"}),
        ),
        ("contratos da ANVISA", json!({"codigo_orgao": "36212"})),
        (
            "contratos do IBAMA entre jan/2022 e jun/2022",
            json!({"codigo_orgao": "20701", "data_inicial": "2022-01-01", "data_final": "2022-06-30"}),
        ),
        (
            "contratos com o cpf 123.456.789-09",
            json!({"cnpj_fornecedor": "12345678909"}),
        ),
        ("contratos acima de 2 bi", json!({"min_value": 2e9})),
        (
            "contratos de mais de dez mil reais em dezembro de 2022",
            json!({"min_value": 1e4, "data_inicial": "2022-12-01", "data_final": "2022-12-31"}),
        ),
        (
            "concorrências do Comando da Marinha",
            json!({"modalidade": ["concorrencia"], "codigo_orgao": "52131"}),
        ),
        (
            "tomada de preços em 2021",
            json!({"modalidade": ["tomada de precos"], "year": 2021}),
        ),
        (
            "contratos por registro de preços no Ministério da Justiça e Segurança Pública",
            json!({"modalidade": ["registro de preco"], "codigo_orgao_superior": "30000"}),
        ),
        (
            "contratos do Ministerio da Agricultura",
            json!({"codigo_orgao_superior": "22000"}),
        ),
        (
            "sobrepreço e fracionamento nas compras da Funasa",
            json!({"codigo_orgao": "36211", "anomaly_types": ["price", "duplicate"]}),
        ),
        (
            "contrato acima de 1,5 milhão da policia federal",
            json!({"min_value": 1.5e6, "codigo_orgao": "30108"}),
        ),
        (
            "contratos de 1 milhão e meio ou mais",
            json!({}),
        ),
        (
            "contratos acima de 1 milhão e meio em 2021 e 2022",
            json!({"min_value": 1.5e6, "data_inicial": "2021-01-01", "data_final": "2022-12-31"}),
        ),
        (
            "compras de cadeiras pela UFSC no segundo semestre de 2021",
            json!({"texto": "cadeira", "codigo_orgao": "26246", "data_inicial": "2021-07-01", "data_final": "2021-12-31"}),
        ),
        (
            "locação de veículos no INCRA acima de R$200 mil",
            json!({"texto": "veiculo", "codigo_orgao": "22201", "min_value": 2e5}),
        ),
        (
            "contratos da Universidade de Brasília",
            json!({"codigo_orgao": "26271"}),
        ),
        (
            "contratos do hospital geral de curitiba",
            json!({"codigo_ug": "160223"}),
        ),
        (
            "Em 2023, quais contratos do MEC passaram de 1 milhão?",
            json!({"codigo_orgao_superior": "26000", "year": 2023, "min_value": 1e6}),
        ),
        ("contratos do Min. da Saude", json!({"codigo_orgao_superior": "36000"})),
        ("contratos do minsterio da saud", json!({"codigo_orgao_superior": "36000"})),
        ("contratos do Inst. Federal de Sao Paulo", json!({"codigo_orgao": "26439"})),
        (
            "No Ministério da Saúde, quais contratos passaram de 1 milhão?",
            json!({"codigo_orgao_superior": "36000", "min_value": 1e6}),
        ),
        (
            "Quanto o Ministério da Saúde gastou com respiradores?",
            json!({"codigo_orgao_superior": "36000", "texto": "respirador"}),
        ),
        (
            "quanto a empresa Claro recebeu em 2022",
            json!({"cnpj_fornecedor": "40432544", "year": 2022}),
        ),
        ("compras de ambulâncias suspeitas", json!({"texto": "ambulancia"})),
        (
            "direcionamento na escolha da empresa Claro",
            json!({"cnpj_fornecedor": "40432544", "anomaly_types": ["vendor"]}),
        ),
        ("mais de 100 contratos do IFSP", json!({"codigo_orgao": "26439"})),
        ("compras de R$ 2000 em 2022", json!({"year": 2022})),
        ("todos os contratos de limpeza", json!({"texto": "limpeza"})),
        (
            "compras do CNPJ 22.934.158/0001-71",
            json!({"cnpj_fornecedor": "22934158000171"}),
        ),
        (
            "contratos da Universidade Federal de Goiás: quais são os maiores?",
            json!({"codigo_orgao": "26235"}),
        ),
        (
            "contratos da Marinha entre jan e mar de 2022",
            json!({"codigo_orgao": "52131", "data_inicial": "2022-01-01", "data_final": "2022-03-31"}),
        ),
        (
            "contratos da universidade federal do para",
            json!({"codigo_orgao": "26239"}),
        ),
        (
            "contratos do Ministério da Economia no último trimestre de 2022",
            json!({"codigo_orgao_superior": "25000", "data_inicial": "2022-10-01", "data_final": "2022-12-31"}),
        ),
        (
            "existe superfaturamento nas compras de respiradores do ministerio da saude em 2021?",
            json!({"texto": "respirador", "codigo_orgao_superior": "36000", "year": 2021, "anomaly_types": ["price"]}),
        ),
        (
            "contratos da policia rodoviaria federal acima de 100 mil reais no 2o semestre de 2021",
            json!({"codigo_orgao": "30802", "min_value": 1e5, "data_inicial": "2021-07-01", "data_final": "2021-12-31"}),
        ),
    ]
}

/// Texts with nothing to read: nothing derived, nothing refused.
const NOTHING: &[&str] = &[
    "",
    "   ",
    "olá",
    "quero saber onde está o dinheiro público",
    "me mostre coisas estranhas",
    "corrupção no governo federal",
    "asdfghjkl qwerty",
    "'; DROP TABLE investigations; --",
    "🙂🙂🙂",
    "1234",
    "123456789",
    "R$",
    "acima de",
    "investigação teste",
    "quais empresas mais ganharam?",
    "Lorem ipsum dolor sit amet",
    "existe algum problema?",
    "verificar irregularidades nos gastos",
    "compras de",
    "contratos com valor alto",
    "licitações suspeitas",
    "mais de 10",
    "um dois três",
    "teste 123",
    "contratos de alto valor",
    "dentro do prazo",
];

#[test]
fn citizens_questions_yield_the_filters_they_ask_for() {
    let cases = cases();
    assert!(cases.len() >= 60, "{} questions", cases.len());
    let mut wrong = Vec::new();
    for (q, expected) in &cases {
        let u = understood(q);
        let got = derived(&u);
        if &got != expected || !u.problems.is_empty() {
            wrong.push(format!(
                "{q:?}\n   expected {expected}\n   got      {got}\n   problems {:?}",
                u.problems
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {}:\n{}",
        wrong.len(),
        cases.len(),
        wrong.join("\n")
    );
}

#[test]
fn texts_without_a_filter_derive_nothing() {
    assert!(NOTHING.len() >= 15);
    for q in NOTHING {
        let u = understood(q);
        assert!(
            u.readings.is_empty() && u.problems.is_empty() && !u.everything,
            "{q:?}: {:?} {:?}",
            u.readings,
            u.problems
        );
    }
}

#[test]
fn every_derived_filter_passes_the_filter_check() {
    for (q, _) in cases() {
        let u = understood(q);
        ContractFilters::parse(&Value::Object(u.filters()))
            .unwrap_or_else(|e| panic!("{q:?}: {}", e.message));
    }
}

#[test]
fn every_acronym_of_the_vocabulary_names_one_imported_unit() {
    let vocab = Vocabulary::builtin();
    for a in &vocab.agencies {
        for alias in &a.aliases {
            let q = format!("contratos da {}", alias.join(" "));
            let u = understood(&q);
            assert!(
                u.problems.is_empty() && u.readings.len() == 1,
                "{q:?} ({}): {:?}",
                a.name,
                u.problems
            );
        }
    }
}

#[test]
fn the_summary_says_what_was_understood() {
    let u = understood("contratos acima de R$ 1 milhão em 2024 no Ministério da Saúde");
    let applied = apply(&u, "q", &json!({}), &json!([]));
    assert_eq!(
        applied.sentence.as_deref(),
        Some(
            "Entendi: contratos com valor a partir de R$ 1.000.000,00, assinados em 2024, do \
             Ministério da Saúde (órgão superior 36000)."
        )
    );
    let words: Vec<&str> = applied.metadata["derived"]
        .as_array()
        .expect("derived")
        .iter()
        .filter_map(|d| d["words"].as_str())
        .collect();
    assert_eq!(
        words,
        ["acima de R$ 1 milhão", "2024", "Ministério da Saúde"]
    );
}

#[test]
fn explicit_filters_win_over_the_text_a_group_at_a_time() {
    let u = understood("contratos acima de R$ 1 milhão em 2024 no Ministério da Saúde");
    let applied = apply(
        &u,
        "q",
        &json!({"data_inicial": "2023-01-01", "codigo_orgao": "26235"}),
        &json!([]),
    );
    assert_eq!(
        applied.filters,
        json!({"data_inicial": "2023-01-01", "codigo_orgao": "26235", "min_value": 1e6})
    );
    let set_aside: Vec<&str> = applied.metadata["overridden_by_filters"]
        .as_array()
        .expect("overridden")
        .iter()
        .filter_map(|d| d["words"].as_str())
        .collect();
    assert_eq!(set_aside, ["2024", "Ministério da Saúde"]);

    let u = understood("superfaturamento em 2022");
    let applied = apply(&u, "q", &json!({}), &json!(["vendor"]));
    assert_eq!(applied.anomaly_types, json!(["vendor"]));
    let applied = apply(&u, "q", &json!({}), &json!([]));
    assert_eq!(applied.anomaly_types, json!(["price"]));
}

#[test]
fn a_name_of_several_units_is_listed_back() {
    let u = understood("contratos do Instituto Federal em 2022");
    let message = &u.problems.first().expect("ambiguous").message;
    assert!(
        message.contains("\"Instituto Federal\" corresponde a")
            && message.contains("Instituto Federal")
            && message.contains("órgão 26")
            && message.contains("e mais"),
        "{message}"
    );
}

#[test]
fn what_cannot_be_answered_as_written_is_said() {
    for (q, expected) in [
        (
            "contratos do Ministério da Saúde e do Ministério da Educação",
            "mais de um órgão",
        ),
        (
            "contratos em 2022 da Universidade Federal de Santa Catarina e da UFRGS",
            "mais de um órgão",
        ),
        ("contratos em 2021 e em 2023", "mais de um período"),
        (
            "contratos do Ministério da Pesca",
            "Não encontramos \"Ministério da Pesca\"",
        ),
        (
            "contratos do CNPJ 12.345.678/0001-00",
            "dígitos verificadores",
        ),
        ("contratos da empresa Nova", "corresponde a"),
        (
            "contratos da empresa Xyzzyx Inexistente",
            "Não encontramos o fornecedor",
        ),
        (
            "contratos acima de R$ 99.000.000.000.000",
            "Confira o valor",
        ),
        (
            "contratos acima de 10 mil e mais de 20 mil",
            "dois limites de valor",
        ),
    ] {
        let u = understood(q);
        assert!(
            u.problems.iter().any(|p| p.message.contains(expected)),
            "{q:?}: {:?}",
            u.problems
        );
    }
}

#[test]
fn an_unfocused_question_is_told_apart_from_one_asking_for_everything() {
    for (q, filters, unfocused) in [
        ("olá, quero investigar", json!({}), true),
        ("superfaturamento", json!({}), true),
        ("todos os contratos", json!({}), false),
        ("olá", json!({"year": 2024}), false),
        ("", json!({}), false),
        ("em 2024", json!({}), false),
    ] {
        let applied = apply(&understood(q), q, &filters, &json!([]));
        assert_eq!(applied.unfocused, unfocused, "{q:?}");
    }
    assert!(unfocused_message(20_000).contains("todos os contratos"));
}

#[test]
fn the_shipped_vocabulary_reads() {
    Vocabulary::parse(vocabulary::SOURCE).expect("well formed");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    /// Whatever the text, reading ends, and what it derives passes the filter
    /// check or is told as a problem.
    #[test]
    fn any_text_reads_without_panicking(q in ".{0,200}") {
        let u = understood(&q);
        prop_assert!(ContractFilters::parse(&Value::Object(u.filters())).is_ok());
        for p in &u.problems {
            prop_assert!(!p.message.contains('\n'));
        }
    }

    /// Questions made of the vocabulary's own words, in any order.
    #[test]
    fn any_sentence_of_known_words_reads(words in prop::collection::vec(prop_oneof![
        Just("acima de"), Just("R$"), Just("1"), Just("milhão"), Just("entre"), Just("e"),
        Just("de"), Just("2024"), Just("março"), Just("semestre"), Just("primeiro"),
        Just("no"), Just("Ministério"), Just("da"), Just("Saúde"), Just("IFSP"), Just("empresa"),
        Just("compras"), Just("ambulâncias"), Just("até"), Just("31/12/2023"), Just("últimos"),
        Just("meses"), Just("12"), Just("dispensa"), Just("mil"), Just("a"), Just("desde"),
        Just("Instituto"), Just("Federal"), Just("meio"), Just("%"), Just("2021-2023"),
    ], 0..24)) {
        let q = words.join(" ");
        let u = understood(&q);
        prop_assert!(ContractFilters::parse(&Value::Object(u.filters())).is_ok(), "{}", q);
    }
}

#[test]
fn a_supplier_without_a_document_or_among_too_many_is_told_not_guessed() {
    let vocab = Vocabulary::builtin();
    let mut dir = Directory::default();
    dir.add_supplier("EX1133921", "ACME INTERNATIONAL INC");
    for i in 0..60 {
        dir.add_supplier(
            &format!("{:014}", 10_000_000_000_000u64 + i),
            &format!("NOVA ERA {i} LTDA"),
        );
    }
    let u = understand(
        "contratos da empresa Acme International",
        today(),
        vocab,
        &dir,
    );
    assert!(
        u.problems
            .iter()
            .any(|p| p.message.contains("não é um CNPJ nem um CPF")),
        "{:?}",
        u.problems
    );
    assert!(u.filters().is_empty());
    let u = understand("contratos da empresa Nova Era", today(), vocab, &dir);
    assert!(
        u.problems
            .iter()
            .any(|p| p.message.contains("corresponde a mais de 50 fornecedores")),
        "{:?}",
        u.problems
    );
}
