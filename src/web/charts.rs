//! Pictures of what a finding was judged against, drawn from its evidence as
//! inline SVG on the server: no script, no front-end build, and the same
//! picture in every browser and in a page saved to disk. Each has a `<title>`
//! and a `<desc>` that say in words what the bars show, for screen readers.

use maud::{html, Markup};
use serde_json::Value;

use crate::domain::format;

const WIDTH: f64 = 640.0;

/// One bar: its label, its length, the number written beside it, and whether
/// it is the thing the finding is about.
struct Bar {
    label: String,
    value: f64,
    shown: String,
    flagged: bool,
}

/// The chart for a finding, when its evidence holds a distribution.
pub fn for_finding(finding: &Value) -> Option<Markup> {
    let evidence = finding.pointer("/metadata/evidence")?;
    if let Some(months) = evidence.get("by_month").and_then(Value::as_array) {
        return monthly(evidence, months);
    }
    if let Some(top) = evidence.get("top_suppliers").and_then(Value::as_array) {
        return supplier_shares(evidence, top);
    }
    if let (Some(value), Some(median)) = (
        evidence.get("value").and_then(Value::as_f64),
        evidence.get("group_median").and_then(Value::as_f64),
    ) {
        return among_peers(evidence, value, median)
            .or_else(|| against_median(evidence, value, median));
    }
    if let Some(dates) = evidence.get("top_dates").and_then(Value::as_array) {
        return signature_dates(dates);
    }
    if let (Some(initial), Some(last)) = (
        evidence.get("initial_value").and_then(Value::as_f64),
        evidence.get("final_value").and_then(Value::as_f64),
    ) {
        return amended(
            initial,
            last,
            evidence.get("allowed_value").and_then(Value::as_f64),
        );
    }
    None
}

/// Amendment rules: what the contract started at, what the law allowed it to
/// reach (when the rule computed it) and what it reached.
fn amended(initial: f64, last: f64, allowed: Option<f64>) -> Option<Markup> {
    let mut bars = vec![Bar {
        label: "Valor inicial".into(),
        value: initial,
        shown: format::reais(initial),
        flagged: false,
    }];
    if let Some(allowed) = allowed {
        bars.push(Bar {
            label: "Máximo permitido".into(),
            value: allowed,
            shown: format::reais(allowed),
            flagged: false,
        });
    }
    bars.push(Bar {
        label: "Valor final".into(),
        value: last,
        shown: format::reais(last),
        flagged: true,
    });
    let desc = described(&bars);
    Some(horizontal(
        "Valor do contrato antes e depois dos aditivos",
        &desc,
        &bars,
    ))
}

/// `price.robust_zscore` with the peers' spread: where the contract falls on
/// a logarithmic axis among its peers (10th–90th percentile as a line, the
/// middle half as a box, the median as a tick).
fn among_peers(evidence: &Value, value: f64, median: f64) -> Option<Markup> {
    let spread = evidence.get("group_spread")?;
    let at = |k: &str| spread.get(k).and_then(Value::as_f64).filter(|v| *v > 0.0);
    let (min, p10, p25, p75, p90, max) = (
        at("min")?,
        at("p10")?,
        at("p25")?,
        at("p75")?,
        at("p90")?,
        at("max")?,
    );
    if value <= 0.0 || median <= 0.0 {
        return None;
    }
    let peers = evidence
        .get("group_size")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    let (lo, hi) = (min.min(value).ln(), max.max(value).ln());
    let (left, right) = (20.0, WIDTH - 20.0);
    let x = |v: f64| {
        if hi > lo {
            left + (v.ln() - lo) / (hi - lo) * (right - left)
        } else {
            (left + right) / 2.0
        }
    };
    let axis = 70.0;
    let desc = format!(
        "O contrato vale {}. Entre {peers} contratos semelhantes, a metade do meio vai de {} a {},          a mediana é {} e o maior é {}.",
        format::reais(value),
        format::reais(p25),
        format::reais(p75),
        format::reais(median),
        format::reais(max)
    );
    let title = "Valor do contrato entre os contratos semelhantes (escala logarítmica)";
    let anchor = |v: f64| {
        let px = x(v);
        if px < left + 80.0 {
            "start"
        } else if px > right - 80.0 {
            "end"
        } else {
            "middle"
        }
    };
    Some(html! {
        figure.chart {
            svg role="img" aria-label=(desc) viewBox={ "0 0 " (WIDTH) " 130" } width="100%"
                preserveAspectRatio="xMinYMin meet" {
                title { (title) }
                line x1=(x(p10)) x2=(x(p90)) y1=(axis) y2=(axis) class="median" {}
                rect x=(x(p25)) y=(axis - 12.0) width=((x(p75) - x(p25)).max(2.0)) height="24" class="bar" {}
                line x1=(x(median)) x2=(x(median)) y1=(axis - 16.0) y2=(axis + 16.0) class="median" {}
                line x1=(x(min)) x2=(x(min)) y1=(axis - 6.0) y2=(axis + 6.0) class="median" {}
                line x1=(x(max)) x2=(x(max)) y1=(axis - 6.0) y2=(axis + 6.0) class="median" {}
                circle cx=(x(value)) cy=(axis) r="8" class="bar flagged" {}
                text x=(x(value)) y=(axis - 24.0) text-anchor=(anchor(value)) class="value strong" {
                    "Este contrato: " (format::reais(value))
                }
                text x=(x(median)) y=(axis + 36.0) text-anchor=(anchor(median)) class="label" {
                    "mediana " (format::reais(median)) " (" (peers) " semelhantes)"
                }
            }
            figcaption { (title) }
        }
    })
}

/// `price.robust_zscore`: the contract's value beside the median of its peers.
fn against_median(evidence: &Value, value: f64, median: f64) -> Option<Markup> {
    let peers = evidence
        .get("group_size")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    let bars = [
        Bar {
            label: "Este contrato".into(),
            value,
            shown: format::reais(value),
            flagged: true,
        },
        Bar {
            label: format!("Mediana de {peers} semelhantes"),
            value: median,
            shown: format::reais(median),
            flagged: false,
        },
    ];
    let desc = if median > 0.0 {
        format!(
            "O contrato vale {}, {} vezes a mediana de {peers} contratos semelhantes ({}).",
            format::reais(value),
            format::decimal(value / median, 1),
            format::reais(median)
        )
    } else {
        format!(
            "O contrato vale {}; a mediana de {peers} contratos semelhantes é {}.",
            format::reais(value),
            format::reais(median)
        )
    };
    Some(horizontal(
        "Valor do contrato e dos contratos semelhantes",
        &desc,
        &bars,
    ))
}

/// Concentration rules: each top supplier's share of the unit's contracting,
/// and everyone else's.
fn supplier_shares(evidence: &Value, top: &[Value]) -> Option<Markup> {
    let mut bars: Vec<Bar> = top
        .iter()
        .filter_map(|s| {
            let share = s.get("share")?.as_f64()?;
            let code = s
                .get("supplier_code")
                .and_then(Value::as_str)
                .unwrap_or("?");
            Some(Bar {
                label: code.to_string(),
                value: share,
                shown: format::percent(share),
                flagged: false,
            })
        })
        .collect();
    if bars.is_empty() {
        return None;
    }
    bars[0].flagged = true;
    let rest = 1.0 - bars.iter().map(|b| b.value).sum::<f64>();
    let suppliers = evidence
        .get("suppliers")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    let others = suppliers.saturating_sub(bars.len() as u64);
    if rest > 0.0005 && others > 0 {
        bars.push(Bar {
            label: format!("Demais {others} fornecedores"),
            value: rest,
            shown: format::percent(rest),
            flagged: false,
        });
    }
    let desc = described(&bars);
    Some(horizontal(
        "Participação de cada fornecedor no valor contratado pelo órgão",
        &desc,
        &bars,
    ))
}

/// `temporal.weekend_or_holiday_signature`: the dates with most signatures.
fn signature_dates(dates: &[Value]) -> Option<Markup> {
    let bars: Vec<Bar> = dates
        .iter()
        .filter_map(|d| {
            let date = d.get("date")?.as_str()?;
            let n = d.get("contracts")?.as_f64()?;
            let shown = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d")
                .map(format::date)
                .unwrap_or_else(|_| date.to_string());
            Some(Bar {
                label: shown,
                value: n,
                shown: if n == 1.0 {
                    "1 contrato".to_string()
                } else {
                    format!("{n:.0} contratos")
                },
                flagged: true,
            })
        })
        .collect();
    if bars.is_empty() {
        return None;
    }
    let desc = described(&bars);
    Some(horizontal(
        "Contratos assinados nas datas mais frequentes",
        &desc,
        &bars,
    ))
}

/// The bars in words, for `<desc>`: "label: value; label: value."
fn described(bars: &[Bar]) -> String {
    let parts: Vec<String> = bars
        .iter()
        .map(|b| format!("{}: {}", b.label, b.shown))
        .collect();
    format!("{}.", parts.join("; "))
}

fn horizontal(title: &str, desc: &str, bars: &[Bar]) -> Markup {
    let label_w = 210.0;
    let value_w = 150.0;
    let row = 30.0;
    let height = row * bars.len() as f64 + 10.0;
    let longest = bars.iter().map(|b| b.value).fold(0.0, f64::max);
    let room = WIDTH - label_w - value_w;
    html! {
        figure.chart {
            svg role="img" aria-label=(desc) viewBox={ "0 0 " (WIDTH) " " (height) } width="100%"
                preserveAspectRatio="xMinYMin meet" {
                title { (title) }
                desc { (desc) }
                @for (i, b) in bars.iter().enumerate() {
                    @let y = 5.0 + row * i as f64;
                    @let w = if longest > 0.0 { (b.value / longest * room).max(1.0) } else { 1.0 };
                    text x=(label_w - 8.0) y=(y + 19.0) text-anchor="end" class="label" {
                        (short(&b.label, 30))
                    }
                    rect x=(label_w) y=(y + 4.0) width=(w) height=(row - 10.0)
                        class=(if b.flagged { "bar flagged" } else { "bar" }) {}
                    text x=(label_w + w + 6.0) y=(y + 19.0) class="value" { (b.shown) }
                }
            }
            figcaption { (title) }
        }
    }
}

/// `temporal.monthly_spike`: the unit's contracting per month, the spike
/// marked, the median month as a line.
fn monthly(evidence: &Value, months: &[Value]) -> Option<Markup> {
    let spike = evidence.get("month").and_then(Value::as_str).unwrap_or("");
    let median = evidence
        .get("median_month_value")
        .and_then(Value::as_f64)
        .unwrap_or(0.0);
    let points: Vec<(&str, f64)> = months
        .iter()
        .filter_map(|m| Some((m.get("month")?.as_str()?, m.get("value")?.as_f64()?)))
        .collect();
    if points.is_empty() {
        return None;
    }
    let (left, bottom, top) = (10.0, 40.0, 24.0);
    let height = 240.0;
    let plot_h = height - bottom - top;
    let highest = points.iter().map(|p| p.1).fold(median, f64::max).max(1.0);
    let col = (WIDTH - 2.0 * left) / points.len() as f64;
    // Every label when they fit, otherwise every k-th and the spike's.
    let every = ((58.0 / col).ceil() as usize).max(1);
    let y_of = |v: f64| top + plot_h - v / highest * plot_h;
    let spike_value = points.iter().find(|p| p.0 == spike).map(|p| p.1);
    let spiked = spike_value
        .map(|v| format!(" Em {spike} foram {};", format::reais(v)))
        .unwrap_or_default();
    let desc = format!(
        "Valor contratado por mês em {} meses.{spiked} a mediana mensal é {}.",
        points.len(),
        format::reais(median)
    );
    let title = "Valor contratado por mês pelo órgão";
    Some(html! {
        figure.chart {
            svg role="img" aria-label=(desc) viewBox={ "0 0 " (WIDTH) " " (height) } width="100%"
                preserveAspectRatio="xMinYMin meet" {
                title { (title) }
                desc { (desc) }
                @for (i, (month, value)) in points.iter().enumerate() {
                    @let x = left + col * i as f64;
                    @let y = y_of(*value);
                    rect x=(x + col * 0.1) y=(y) width=(col * 0.8) height=((top + plot_h - y).max(1.0))
                        class=(if *month == spike { "bar flagged" } else { "bar" }) {}
                    @if i % every == 0 || *month == spike {
                        text x=(x + col / 2.0) y=(height - bottom + 16.0) text-anchor="middle"
                            class=(if *month == spike { "label strong" } else { "label" }) { (month) }
                    }
                }
                line x1=(left) x2=(WIDTH - left) y1=(y_of(median)) y2=(y_of(median)) class="median" {}
                text x=(WIDTH - left) y=(y_of(median) - 5.0) text-anchor="end" class="value" {
                    "mediana " (format::reais(median))
                }
                @if let Some(v) = spike_value {
                    text x=(left) y=(14.0) class="value strong" { (spike) ": " (format::reais(v)) }
                }
            }
            figcaption { (title) }
        }
    })
}

fn short(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        text.chars().take(max - 1).chain(['…']).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn finding(evidence: Value) -> Value {
        json!({"metadata": {"rule": "x", "evidence": evidence}})
    }

    /// The chart of a finding with `evidence`, which must draw one.
    fn drawn(evidence: Value) -> String {
        for_finding(&finding(evidence))
            .expect("a chart")
            .into_string()
    }

    #[test]
    fn a_price_finding_draws_the_contract_beside_the_median() {
        let svg = drawn(json!({
            "value": 5_000_000.0, "group_median": 250_000.0, "group_size": 40
        }));
        assert!(svg.contains("Mediana de 40 semelhantes"), "{svg}");
        assert!(svg.contains("R$ 5.000.000,00"), "{svg}");
        assert!(svg.contains("20,0 vezes a mediana"), "{svg}");
        assert_eq!(svg.matches("<rect").count(), 2);
    }

    #[test]
    fn a_price_finding_with_its_peers_spread_places_the_contract_among_them() {
        let svg = drawn(json!({
            "value": 5_000_000.0, "group_median": 250_000.0, "group_size": 40,
            "group_spread": {"min": 10_000.0, "p10": 50_000.0, "p25": 120_000.0,
                             "p75": 400_000.0, "p90": 900_000.0, "max": 5_000_000.0}
        }));
        assert!(svg.contains("<circle"), "{svg}");
        assert!(
            svg.contains("metade do meio vai de R$ 120.000,00 a R$ 400.000,00"),
            "{svg}"
        );
        // The contract is the largest: its dot sits at the right end.
        assert!(svg.contains(r#"cx="620""#), "{svg}");
    }

    #[test]
    fn a_concentration_finding_adds_the_other_suppliers() {
        let svg = drawn(json!({
            "suppliers": 5,
            "top_suppliers": [
                {"supplier_code": "11111111000111", "share": 0.8},
                {"supplier_code": "22222222000122", "share": 0.15}
            ]
        }));
        assert!(svg.contains("Demais 3 fornecedores"), "{svg}");
        assert!(svg.contains("80,0%"), "{svg}");
        assert_eq!(svg.matches("bar flagged").count(), 1);
    }

    #[test]
    fn a_monthly_spike_marks_its_month_among_the_others() {
        let months: Vec<Value> = (1..=12)
            .map(|m| json!({"month": format!("{m:02}/2022"), "value": if m == 12 { 9e6 } else { 1e6 }}))
            .collect();
        let svg = drawn(json!({
            "month": "12/2022", "median_month_value": 1e6, "by_month": months
        }));
        assert_eq!(svg.matches("<rect").count(), 12);
        assert_eq!(svg.matches("bar flagged").count(), 1);
        assert!(svg.contains("mediana R$ 1.000.000,00"), "{svg}");
    }

    #[test]
    fn an_amended_contract_shows_where_the_law_stopped_it() {
        let svg = drawn(json!({
            "initial_value": 100.0, "final_value": 300.0, "allowed_value": 125.0
        }));
        assert!(svg.contains("Máximo permitido"), "{svg}");
        assert_eq!(svg.matches("<rect").count(), 3);
        assert_eq!(svg.matches("bar flagged").count(), 1);
    }

    #[test]
    fn evidence_without_a_distribution_draws_nothing() {
        assert!(for_finding(&finding(json!({"hhi": 0.5}))).is_none());
        assert!(for_finding(&json!({"metadata": {}})).is_none());
    }

    #[test]
    fn text_from_the_data_is_escaped_in_the_picture() {
        let svg = drawn(json!({
            "suppliers": 1,
            "top_suppliers": [{"supplier_code": "<script>x</script>", "share": 1.0}]
        }));
        assert!(!svg.contains("<script>"), "{svg}");
    }
}
