//! The citizen's pages, in Brazilian Portuguese: the question form with the
//! citizen's investigations, and one investigation — live while it runs (a
//! script follows server-sent events; without scripts the page reloads
//! itself), then its summary and findings. Everything a reader needs is in the
//! HTML: the script only spares the reload.

use maud::{html, Markup, DOCTYPE};
use serde_json::Value;

use super::charts;
use super::citizen::{Investigation, Listed};
use crate::domain::format;

/// The frame of every page. `lang` is the page's language (the operator view
/// speaks English); `refresh` reloads the page without scripts.
pub fn layout(lang: &str, title: &str, refresh: Option<u32>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang=(lang) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · fiscal" }
                link rel="stylesheet" href="/estilo.css";
                @if let Some(seconds) = refresh {
                    noscript { meta http-equiv="refresh" content=(seconds); }
                }
                script src="/ao-vivo.js" defer {}
            }
            body {
                a.skip href="#conteudo" { @if lang == "en" { "Skip to content" } @else { "Pular para o conteúdo" } }
                header.top {
                    a.brand href="/" { "fiscal" }
                    nav aria-label=(if lang == "en" { "Sections" } else { "Seções" }) {
                        a href="/" { @if lang == "en" { "Citizen view" } @else { "Investigações" } }
                        " "
                        a href="/operator" { @if lang == "en" { "Operator" } @else { "Operação" } }
                    }
                }
                main id="conteudo" data-refresh=[refresh] { (body) }
            }
        }
    }
}

/// A table's head: one column header per name; an empty name is a column of
/// buttons, named for screen readers only.
pub fn columns(names: &[&str]) -> Markup {
    html! {
        thead { tr {
            @for name in names {
                @if name.is_empty() {
                    th scope="col" { span.skip { "Actions" } }
                } @else {
                    th scope="col" { (name) }
                }
            }
        } }
    }
}

pub fn status_label(status: &str) -> &'static str {
    match status {
        "pending" => "Na fila",
        "processing" => "Em andamento",
        "completed" => "Concluída",
        "failed" => "Não concluída",
        "cancelled" => "Cancelada",
        _ => "Estado desconhecido",
    }
}

pub fn phase_label(status: &str, phase: Option<&str>) -> &'static str {
    match (status, phase) {
        ("pending", _) => "aguardando a vez na fila",
        ("processing", Some("initializing")) | ("processing", None) => "preparando",
        ("processing", Some("data_retrieval")) => "buscando os dados",
        ("processing", Some("anomaly_detection")) => "procurando anomalias",
        ("processing", Some("analysis")) => "analisando os achados",
        ("processing", Some("summary_generation")) => "escrevendo o resumo",
        ("processing", Some(_)) => "trabalhando",
        ("completed", _) => "resultado pronto",
        ("failed", _) => "a investigação não pôde ser concluída",
        ("cancelled", _) => "investigação cancelada",
        _ => "",
    }
}

pub fn source_label(source: &str) -> String {
    match source {
        "contracts" => "Contratos".into(),
        "expenses" => "Execução orçamentária".into(),
        "biddings" => "Licitações".into(),
        "agreements" => "Convênios".into(),
        "servants" => "Servidores".into(),
        other => other.to_string(),
    }
}

fn severity_label(severity: &str) -> &'static str {
    match severity {
        "critical" => "crítica",
        "high" => "alta",
        "medium" => "média",
        "low" => "baixa",
        _ => "não informada",
    }
}

fn type_label(kind: &str) -> String {
    match kind {
        "price" => "Preço".into(),
        "vendor" => "Fornecedor".into(),
        "temporal" => "Datas".into(),
        "payment" => "Pagamentos".into(),
        "duplicate" => "Duplicidade".into(),
        "pattern" => "Padrão estatístico".into(),
        other => other.to_string(),
    }
}

fn when(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%d/%m/%Y %H:%M UTC").to_string()
}

/// What the form shows again when a question was refused.
#[derive(Debug, Default)]
pub struct Asked<'a> {
    pub query: &'a str,
    pub data_source: &'a str,
    pub filters: &'a str,
    pub refused: Option<&'a str>,
}

/// `/`: the question form, then the citizen's investigations.
pub fn home(sources: &[String], mine: &[Listed], asked: &Asked<'_>) -> Markup {
    let running = mine
        .iter()
        .any(|l| matches!(l.status.as_str(), "pending" | "processing"));
    let chosen = match asked.data_source {
        "" => "contracts",
        chosen => chosen,
    };
    let body = html! {
        h1 { "Investigue as compras públicas federais" }
        p.lead {
            "Pergunte em linguagem comum. O fiscal procura anomalias nos dados do Portal da \
             Transparência — preços fora do padrão, fornecedores dominantes, datas suspeitas — \
             e explica cada achado."
        }
        @if let Some(why) = asked.refused {
            div.erro role="alert" id="recusa" {
                strong { "A pergunta não foi aceita. " } (why)
            }
        }
        form.pergunta method="post" action="/investigacoes" {
            label for="pergunta" { "Sua pergunta" }
            textarea id="pergunta" name="query" rows="3" required
                aria-describedby=[asked.refused.map(|_| "recusa")]
                aria-invalid=[asked.refused.map(|_| "true")]
                placeholder="Contratos acima de R$ 1 milhão em 2024 no Ministério da Saúde" {
                (asked.query)
            }
            label for="fonte" { "Fonte de dados" }
            select id="fonte" name="data_source" {
                @for s in sources {
                    option value=(s) selected[s == chosen] { (source_label(s)) }
                }
            }
            details open[!asked.filters.is_empty()] {
                summary { "Filtros exatos (opcional)" }
                label for="filtros" { "Filtros em JSON; têm precedência sobre o texto da pergunta" }
                textarea id="filtros" name="filters" rows="2"
                    placeholder=r#"{"min_value": 1000000, "year": 2024}"# { (asked.filters) }
            }
            button type="submit" { "Investigar" }
        }
        section aria-labelledby="minhas" {
            h2 id="minhas" { "Suas investigações" }
            @if mine.is_empty() {
                p { "Você ainda não fez nenhuma pergunta." }
            } @else {
                table.lista {
                    (columns(&["Pergunta", "Fonte", "Situação", "Anomalias", "Criada em"]))
                    tbody {
                        @for l in mine {
                            tr {
                                td { a href={ "/investigacoes/" (l.id) } { (l.query) } }
                                td { (source_label(&l.data_source)) }
                                td {
                                    span class={ "estado " (l.status) } { (status_label(&l.status)) }
                                    @if l.status == "processing" {
                                        " " (format!("{:.0}%", l.progress * 100.0))
                                    }
                                }
                                td.num { @if l.status == "completed" { (l.anomalies_found) } }
                                td { (when(l.created_at)) }
                            }
                        }
                    }
                }
            }
        }
    };
    layout("pt-BR", "Investigações", running.then_some(5), body)
}

/// `/investigacoes/ID`.
pub fn investigation(inv: &Investigation) -> Markup {
    let filters = inv
        .filters
        .as_object()
        .filter(|o| !o.is_empty())
        .map(|_| inv.filters.to_string());
    let percent = (inv.progress * 100.0).round().clamp(0.0, 100.0);
    let body = html! {
        p { a href="/" { "← Todas as suas investigações" } }
        h1 { (inv.query) }
        dl.meta {
            dt { "Fonte" } dd { (source_label(&inv.data_source)) }
            dt { "Criada em" } dd { (when(inv.created_at)) }
            @if let Some(f) = &filters { dt { "Filtros" } dd { code { (f) } } }
        }
        section.andamento aria-labelledby="andamento"
            data-live=[(!inv.is_finished()).then(|| format!("/investigacoes/{}/eventos", inv.id))] {
            h2 id="andamento" { "Andamento" }
            p aria-live="polite" {
                strong id="estado" class={ "estado " (inv.status) } { (status_label(&inv.status)) }
                " — "
                span id="fase" { (phase_label(&inv.status, inv.phase.as_deref())) }
            }
            @if !inv.is_finished() {
                progress id="progresso" max="100" value=(percent) aria-labelledby="andamento" {
                    (percent) "%"
                }
                " "
                span id="porcento" { (percent) "%" }
            }
        }
        @match inv.status.as_str() {
            "completed" => (results(inv)),
            "failed" => div.erro role="alert" {
                p { (inv.error_message.as_deref().unwrap_or(
                    "A investigação não pôde ser concluída. Tente de novo mais tarde.")) }
            },
            "cancelled" => p { "Esta investigação foi cancelada antes de terminar." },
            _ => {},
        }
    };
    layout("pt-BR", &inv.query, (!inv.is_finished()).then_some(3), body)
}

fn results(inv: &Investigation) -> Markup {
    let findings = inv
        .results
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    html! {
        section aria-labelledby="resultado" {
            h2 id="resultado" { "Resultado" }
            p.numeros {
                (inv.anomalies_found) " "
                (if inv.anomalies_found == 1 { "anomalia" } else { "anomalias" })
                " em " (format::count(inv.records_analyzed.max(0) as usize))
                (if inv.records_analyzed == 1 { " registro analisado" } else { " registros analisados" })
                @if let Some(ms) = inv.processing_time_ms {
                    ", em " (format::decimal(f64::from(ms) / 1000.0, 1)) " s"
                }
                "."
                @if findings.len() > 1 && findings.len() < inv.anomalies_found.max(0) as usize {
                    " Aqui estão as " (findings.len()) " mais relevantes."
                } @else if findings.len() == 1 && inv.anomalies_found > 1 {
                    " Aqui está a mais relevante."
                }
            }
            @if let Some(summary) = &inv.summary {
                div.resumo {
                    @for paragraph in summary.split('\n').filter(|p| !p.trim().is_empty()) {
                        p { (paragraph) }
                    }
                }
            }
            @if !findings.is_empty() {
                h2 id="achados" { "Achados" }
                ol.achados aria-labelledby="achados" {
                    @for (i, f) in findings.iter().enumerate() {
                        li { (finding(i, f)) }
                    }
                }
            }
        }
    }
}

fn text<'v>(v: &'v Value, key: &str) -> &'v str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

fn finding(i: usize, f: &Value) -> Markup {
    let severity = text(f, "severity");
    let confidence = f.get("confidence").and_then(Value::as_f64).unwrap_or(0.0);
    let impact = f
        .pointer("/metadata/financial_impact")
        .and_then(Value::as_f64)
        .filter(|v| *v > 0.0);
    let records = f
        .get("affected_records")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let actions = f
        .get("suggested_actions")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let heading = format!("achado-{}", i + 1);
    html! {
        article.achado aria-labelledby=(heading) {
            h3 id=(heading) { (text(f, "description")) }
            p.selos {
                span class={ "gravidade " (severity) } { "Gravidade: " (severity_label(severity)) }
                span.selo { (type_label(text(f, "type"))) }
                span.selo { "Confiança " (format::percent(confidence)) }
                @if let Some(v) = impact { span.selo { "Valor envolvido " (format::reais(v)) } }
            }
            p { (text(f, "explanation")) }
            @if let Some(chart) = charts::for_finding(f) { (chart) }
            @if !records.is_empty() {
                details {
                    summary { "Registros envolvidos (" (records.len()) ")" }
                    div.rolagem {
                        table {
                            (columns(&["Número", "Objeto", "Fornecedor", "Órgão", "Valor"]))
                            tbody {
                                @for r in records {
                                    tr {
                                        td { (text(r, "numero")) }
                                        td { (text(r, "objeto")) }
                                        td { (text(r, "fornecedor")) }
                                        td { (text(r, "orgao")) }
                                        td.num { @if let Some(v) = r.get("valor").and_then(Value::as_f64) { (format::reais(v)) } }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            @if !actions.is_empty() {
                h4 { "O que verificar" }
                ul { @for a in actions { li { (a.as_str().unwrap_or("")) } } }
            }
            @if let Some(evidence) = f.pointer("/metadata/evidence").filter(|e| !e.is_null()) {
                details {
                    summary { "Evidência (" (text(&f["metadata"], "rule")) ")" }
                    pre { (serde_json::to_string_pretty(evidence).unwrap_or_default()) }
                }
            }
        }
    }
}

/// 404: what is not the citizen's looks like what does not exist.
pub fn not_found() -> Markup {
    layout(
        "pt-BR",
        "Não encontrada",
        None,
        html! {
            h1 { "Investigação não encontrada" }
            p { "Não há investigação sua com este endereço. " a href="/" { "Voltar às suas investigações" } "." }
        },
    )
}

/// 503 and friends: the page could not be built; the operator's detail is in
/// the log.
pub fn trouble(message: &str) -> Markup {
    layout(
        "pt-BR",
        "Indisponível",
        None,
        html! {
            h1 { "Página indisponível no momento" }
            div.erro role="alert" { p { (message) } }
            p { a href="/" { "Tentar de novo" } }
        },
    )
}
