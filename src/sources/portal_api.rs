//! The `portal` backend: the Portal da Transparência REST API
//! (`GET {base_url}/contratos?codigoOrgao=…&dataInicial=dd/MM/yyyy&dataFinal=…&pagina=n`,
//! header `chave-api-dados`), turned into the same [`portal::Contract`] records the
//! bulk importer reads. `tests/data/portal_api/SOURCES.md` says where the response
//! shape comes from.
//!
//! Invariants:
//! - Every request of the process waits its turn at one [`RateLimiter`], so all
//!   investigations together stay under the key's limit (90/min by day, 300/min
//!   from 00:00 to 05:59 Brasília time). A 429 holds the limiter for everyone for
//!   its `Retry-After`.
//! - The key is sent as a sensitive header and appears in no error, log line or
//!   Debug output.
//! - Errors say whether trying later can help ([`ApiError::is_retryable`]): 5xx,
//!   timeouts, lost connections and 429s beyond the retries can; a refused key, a
//!   rejected query or a body that is not the expected JSON cannot.

use std::sync::Arc;
use std::time::Duration;

use chrono::{Datelike, NaiveDate, Timelike};
use serde::Deserialize;
use tokio::sync::Mutex;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::portal::{self, SupplierId};
use crate::config::PortalSettings;

const KEY_HEADER: &str = "chave-api-dados";

/// Brasília has had no daylight saving time since 2019.
const BRASILIA_OFFSET_HOURS: i64 = -3;

/// The current hour in Brasília, for the night limit.
pub fn brasilia_now() -> chrono::NaiveDateTime {
    chrono::Utc::now().naive_utc() + chrono::Duration::hours(BRASILIA_OFFSET_HOURS)
}

/// Spaces requests evenly at the limit in force: one slot every 60/rpm seconds,
/// reserved in arrival order. Even spacing rather than a bucket with bursts, since
/// the Portal counts per minute and a burst at a minute's edge would count twice.
/// Written on tokio's clock, so tests run it under a paused clock; a crate such as
/// `governor` keeps its own clock and would bring a dozen dependencies for this.
pub struct RateLimiter {
    day_per_minute: u32,
    night_per_minute: u32,
    /// The Brasília hour now; a function so tests can fix it.
    hour: Box<dyn Fn() -> u32 + Send + Sync>,
    next: Mutex<Option<Instant>>,
}

impl RateLimiter {
    pub fn new(day_per_minute: u32, night_per_minute: u32) -> Self {
        Self::with_hour(day_per_minute, night_per_minute, || brasilia_now().hour())
    }

    pub fn with_hour(
        day_per_minute: u32,
        night_per_minute: u32,
        hour: impl Fn() -> u32 + Send + Sync + 'static,
    ) -> Self {
        Self {
            day_per_minute: day_per_minute.max(1),
            night_per_minute: night_per_minute.max(1),
            hour: Box::new(hour),
            next: Mutex::new(None),
        }
    }

    /// The spacing between two requests at this hour.
    pub fn interval(&self) -> Duration {
        let per_minute = if (self.hour)() < 6 {
            self.night_per_minute
        } else {
            self.day_per_minute
        };
        Duration::from_secs(60) / per_minute
    }

    /// Waits for this request's slot; false when `cancel` fired first.
    pub async fn acquire(&self, cancel: &CancellationToken) -> bool {
        let at = {
            let mut next = self.next.lock().await;
            let now = Instant::now();
            let at = next.map_or(now, |n| n.max(now));
            *next = Some(at + self.interval());
            at
        };
        tokio::select! {
            _ = cancel.cancelled() => false,
            _ = tokio::time::sleep_until(at) => true,
        }
    }

    /// No slot before `until` (a 429's Retry-After), for every caller.
    pub async fn hold_until(&self, until: Instant) {
        let mut next = self.next.lock().await;
        *next = Some(next.map_or(until, |n| n.max(until)));
    }
}

/// Why a fetch stopped.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("cancelled")]
    Cancelled,
    /// 401/403: the key is missing, wrong or revoked.
    #[error("the Portal refused the API key (HTTP {status})")]
    KeyRefused { status: u16 },
    /// Another 4xx: the query itself (an unknown agency code, say).
    #[error("the Portal rejected the query (HTTP {status}): {body}")]
    Rejected { status: u16, body: String },
    /// 5xx, timeouts, lost connections, 429s: after the retries.
    #[error("the Portal did not answer: {detail}")]
    Unavailable { detail: String },
    /// A body that is not the JSON array of contracts.
    #[error("the Portal answered in an unexpected format: {detail}")]
    Malformed { detail: String },
}

impl ApiError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, ApiError::Unavailable { .. })
    }
}

/// One contract as `/contratos` sends it. Every field is optional here: a record
/// without what a contract needs is skipped (and counted) by [`to_contract`],
/// not the whole page.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ApiContract {
    pub numero: Option<String>,
    pub objeto: Option<String>,
    pub fundamento_legal: Option<String>,
    pub compra: Option<ApiPurchase>,
    pub situacao_contrato: Option<String>,
    pub modalidade_compra: Option<String>,
    pub unidade_gestora: Option<ApiUnit>,
    pub unidade_gestora_compras: Option<ApiUnit>,
    pub data_assinatura: Option<String>,
    #[serde(rename = "dataPublicacaoDOU")]
    pub data_publicacao_dou: Option<String>,
    pub data_inicio_vigencia: Option<String>,
    pub data_fim_vigencia: Option<String>,
    pub fornecedor: Option<ApiSupplier>,
    pub valor_inicial_compra: Option<Money>,
    pub valor_final_compra: Option<Money>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ApiPurchase {
    pub numero: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ApiUnit {
    pub codigo: Option<String>,
    pub nome: Option<String>,
    pub orgao_vinculado: Option<ApiAgency>,
    pub orgao_maximo: Option<ApiAgency>,
}

/// `orgaoVinculado` names its code `codigoSIAFI`, `orgaoMaximo` `codigo`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ApiAgency {
    pub codigo: Option<String>,
    #[serde(rename = "codigoSIAFI")]
    pub codigo_siafi: Option<String>,
    pub nome: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ApiSupplier {
    pub cnpj_formatado: Option<String>,
    pub cpf_formatado: Option<String>,
    pub nome: Option<String>,
}

/// Reais as a JSON number, or as text in either decimal convention.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Money(pub Option<f64>);

impl<'de> Deserialize<'de> for Money {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(f64),
            Text(String),
        }
        Ok(Money(match Raw::deserialize(d)? {
            Raw::Number(v) => Some(v),
            Raw::Text(t) => {
                let t = t.trim();
                let normalized = if t.contains(',') {
                    t.replace('.', "").replace(',', ".")
                } else {
                    t.to_string()
                };
                normalized.parse().ok()
            }
        }))
    }
}

/// Text at `path` of a record kept as JSON (`/licitacoes`, `/convenios`,
/// `/despesas/…`): a string or a number, trimmed; `None` when absent, empty or
/// one of the Portal's "no information" sentinels (`-1` too). Where clients
/// disagree on text or `{codigo, descricao}`, the description is read.
pub fn record_text(v: &serde_json::Value, path: &[&str]) -> Option<String> {
    use serde_json::Value;
    let at = path.iter().try_fold(v, |at, key| at.get(key))?;
    let s = match at {
        Value::String(s) => s.trim().to_string(),
        Value::Number(n) => n.to_string(),
        Value::Object(o) => return o.get("descricao").and_then(|d| record_text(d, &[])),
        _ => return None,
    };
    let folded = crate::domain::text::fold(&s);
    (s != "-1" && !folded.starts_with("sem informacao"))
        .then(|| known(Some(&s)))
        .flatten()
}

/// An amount at `key` of a JSON record: a number, or text in either
/// convention ("1.234,56" or "1234.56").
pub fn record_money(v: &serde_json::Value, key: &str) -> Option<f64> {
    serde_json::from_value::<Money>(v.get(key)?.clone())
        .ok()?
        .0
        .filter(|x| x.is_finite())
}

/// A date at `key` of a JSON record, `yyyy-MM-dd` (time of day ignored) or
/// `dd/MM/yyyy`; 1900 is the Portal's placeholder for none.
pub fn record_date(v: &serde_json::Value, key: &str) -> Option<NaiveDate> {
    let s = record_text(v, &[key])?;
    date(s.get(..10)).filter(|d| d.year() > 1900)
}

/// `yyyy-MM-dd` (what the API sends) or `dd/MM/yyyy`.
fn date(text: Option<&str>) -> Option<NaiveDate> {
    let text = text?.trim();
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(text, "%d/%m/%Y"))
        .ok()
}

/// Text, with the Portal's "no information" words as `None`.
fn known(text: Option<&str>) -> Option<String> {
    let text = text?.trim();
    let folded = crate::domain::text::fold(text);
    let unknown = text.is_empty()
        || matches!(
            folded.as_str(),
            "sem informacao" | "sem informacoes" | "nao informado" | "invalido" | "sigiloso"
        );
    (!unknown).then(|| text.to_string())
}

/// The record the bulk importer would have read for this contract, or why it
/// cannot be one. The supplier code is classified as the importer classifies
/// `Código Contratado`, so `contract_id` comes out the same for both sources.
pub fn to_contract(a: &ApiContract) -> Result<portal::Contract, &'static str> {
    let ug = a.unidade_gestora.clone().unwrap_or_default();
    let agency = ug.orgao_vinculado.clone().unwrap_or_default();
    let superior = ug.orgao_maximo.clone().unwrap_or_default();
    let text = |v: &Option<String>| v.as_deref().map(str::trim).unwrap_or("").to_string();
    let numero = known(a.numero.as_deref()).ok_or("no numero")?;
    let codigo_ug = known(ug.codigo.as_deref()).ok_or("no unidadeGestora.codigo")?;
    let data_assinatura = date(a.data_assinatura.as_deref()).ok_or("no valid dataAssinatura")?;
    let supplier = a.fornecedor.clone().unwrap_or_default();
    let code = known(supplier.cnpj_formatado.as_deref())
        .or_else(|| known(supplier.cpf_formatado.as_deref()));
    let objeto = text(&a.objeto);
    let objeto = match objeto.get(..7) {
        Some(head) if head.eq_ignore_ascii_case("objeto:") => objeto[7..].trim_start().to_string(),
        _ => objeto,
    };
    let purchases = a.unidade_gestora_compras.clone().unwrap_or_default();
    Ok(portal::Contract {
        numero,
        objeto,
        fundamento_legal: known(a.fundamento_legal.as_deref()),
        modalidade_compra: known(a.modalidade_compra.as_deref()),
        situacao: known(a.situacao_contrato.as_deref()),
        codigo_orgao_superior: text(&superior.codigo),
        nome_orgao_superior: text(&superior.nome),
        codigo_orgao: text(&agency.codigo_siafi),
        nome_orgao: text(&agency.nome),
        codigo_ug,
        nome_ug: text(&ug.nome),
        data_assinatura,
        data_publicacao_dou: date(a.data_publicacao_dou.as_deref()),
        data_inicio_vigencia: date(a.data_inicio_vigencia.as_deref()),
        data_fim_vigencia: date(a.data_fim_vigencia.as_deref()),
        fornecedor: code.as_deref().map(SupplierId::classify),
        nome_fornecedor: known(supplier.nome.as_deref()),
        valor_inicial: a.valor_inicial_compra.and_then(|m| m.0),
        valor_final: a.valor_final_compra.and_then(|m| m.0),
        numero_licitacao: a.compra.as_ref().and_then(|c| known(c.numero.as_deref())),
        codigo_ug_licitacao: known(purchases.codigo.as_deref()),
        nome_ug_licitacao: known(purchases.nome.as_deref()),
        codigo_modalidade_licitacao: None,
        modalidade_licitacao: None,
    })
}

/// A client of the Portal's API (`/contratos`, `/servidores`), shared by every
/// job of the process.
#[derive(Clone)]
pub struct PortalClient {
    http: reqwest::Client,
    settings: PortalSettings,
    key: reqwest::header::HeaderValue,
    limiter: Arc<RateLimiter>,
}

impl std::fmt::Debug for PortalClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The settings' own Debug redacts the key; the header value is not shown.
        f.debug_struct("PortalClient")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl PortalClient {
    pub fn new(settings: &PortalSettings) -> anyhow::Result<Self> {
        let limiter = RateLimiter::new(
            settings.requests_per_minute,
            settings.night_requests_per_minute,
        );
        Self::with_limiter(settings, Arc::new(limiter))
    }

    pub fn with_limiter(
        settings: &PortalSettings,
        limiter: Arc<RateLimiter>,
    ) -> anyhow::Result<Self> {
        let mut key =
            reqwest::header::HeaderValue::from_str(settings.api_key.trim()).map_err(|_| {
                anyhow::anyhow!("portal.api_key holds characters an HTTP header cannot carry")
            })?;
        key.set_sensitive(true);
        let http = reqwest::Client::builder()
            .timeout(settings.request_timeout())
            .connect_timeout(settings.request_timeout())
            .user_agent(concat!("fiscal/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| anyhow::anyhow!("building the Portal API client: {e}"))?;
        Ok(Self {
            http,
            settings: settings.clone(),
            key,
            limiter,
        })
    }

    pub fn settings(&self) -> &PortalSettings {
        &self.settings
    }

    /// Every contract of `codigo_orgao` for the month starting at `month`, page
    /// after page until a short or empty one. `on_page` hears each page's size.
    pub async fn month(
        &self,
        codigo_orgao: &str,
        month: NaiveDate,
        cancel: &CancellationToken,
        on_page: impl FnMut(usize),
    ) -> Result<(Vec<ApiContract>, u32), ApiError> {
        let query = [
            ("codigoOrgao", codigo_orgao.to_string()),
            ("dataInicial", month.format("%d/%m/%Y").to_string()),
            ("dataFinal", last_day(month).format("%d/%m/%Y").to_string()),
        ];
        let (records, requests) = self
            .pages("contratos", &query, parse, cancel, on_page)
            .await?;
        Ok((records, requests))
    }

    /// Every record of `endpoint` for `query`, page after page (`pagina` 1, 2…)
    /// until a short or empty one, each body read by `parse`. `on_page` hears
    /// each page's size. Also how many requests it took.
    pub async fn pages<T>(
        &self,
        endpoint: &str,
        query: &[(&str, String)],
        parse: fn(&[u8]) -> Result<Vec<T>, ApiError>,
        cancel: &CancellationToken,
        mut on_page: impl FnMut(usize),
    ) -> Result<(Vec<T>, u32), ApiError> {
        let mut all = Vec::new();
        let mut page_size = 0;
        let mut requests = 0;
        for page in 1.. {
            let mut paged = query.to_vec();
            paged.push(("pagina", page.to_string()));
            let (records, sent) = self.page(endpoint, &paged, parse, cancel).await?;
            requests += sent;
            let n = records.len();
            on_page(n);
            all.extend(records);
            // The API does not say its page size: the first full page shows it.
            page_size = page_size.max(n);
            if n == 0 || n < page_size {
                break;
            }
        }
        Ok((all, requests))
    }

    /// One page, with the retries; also how many requests it took.
    async fn page<T>(
        &self,
        endpoint: &str,
        query: &[(&str, String)],
        parse: fn(&[u8]) -> Result<Vec<T>, ApiError>,
        cancel: &CancellationToken,
    ) -> Result<(Vec<T>, u32), ApiError> {
        let url = format!(
            "{}/{endpoint}",
            self.settings.base_url.trim_end_matches('/')
        );
        let max = self.settings.max_retries;
        let (mut failures, mut throttled, mut sent) = (0u32, 0u32, 0u32);
        loop {
            if !self.limiter.acquire(cancel).await {
                return Err(ApiError::Cancelled);
            }
            sent += 1;
            let request = self
                .http
                .get(&url)
                .query(query)
                .header(KEY_HEADER, self.key.clone())
                .send();
            let outcome = tokio::select! {
                _ = cancel.cancelled() => return Err(ApiError::Cancelled),
                r = request => r,
            };
            let failure = match outcome {
                Err(e) => describe(&e),
                Ok(response) => {
                    let status = response.status();
                    if status.as_u16() == 429 {
                        throttled += 1;
                        let wait = retry_after(&response).unwrap_or(self.settings.retry_base());
                        if throttled > max || wait > self.settings.max_retry_after() {
                            return Err(ApiError::Unavailable {
                                detail: format!(
                                    "HTTP 429 (too many requests), Retry-After {} s, {throttled} time(s)",
                                    wait.as_secs()
                                ),
                            });
                        }
                        tracing::info!(
                            wait_ms = wait.as_millis() as u64,
                            "Portal API answered 429; waiting"
                        );
                        self.limiter.hold_until(Instant::now() + wait).await;
                        continue;
                    }
                    if status.as_u16() == 401 || status.as_u16() == 403 {
                        return Err(ApiError::KeyRefused {
                            status: status.as_u16(),
                        });
                    }
                    if status.is_server_error() {
                        format!("HTTP {status}")
                    } else if !status.is_success() {
                        let body = response.text().await.unwrap_or_default();
                        return Err(ApiError::Rejected {
                            status: status.as_u16(),
                            body: body.chars().take(200).collect(),
                        });
                    } else {
                        let body = tokio::select! {
                            _ = cancel.cancelled() => return Err(ApiError::Cancelled),
                            b = response.bytes() => b,
                        };
                        match body {
                            Ok(body) => return parse(&body).map(|records| (records, sent)),
                            Err(e) => describe(&e),
                        }
                    }
                }
            };
            failures += 1;
            if failures > max {
                return Err(ApiError::Unavailable {
                    detail: format!("{failure}, {failures} attempt(s)"),
                });
            }
            let backoff = self.settings.retry_base() * 2u32.saturating_pow(failures - 1);
            tracing::warn!(error = %failure, attempt = failures, "Portal API request failed; retrying");
            tokio::select! {
                _ = cancel.cancelled() => return Err(ApiError::Cancelled),
                _ = tokio::time::sleep(backoff) => {}
            }
        }
    }
}

/// A transport error in words, without the URL (a mirror's URL may carry
/// credentials).
fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "connection failed"
    };
    let mut cause = String::new();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        cause = s.to_string();
        source = s.source();
    }
    if cause.is_empty() {
        kind.to_string()
    } else {
        format!("{kind} ({cause})")
    }
}

fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    let value = response.headers().get(reqwest::header::RETRY_AFTER)?;
    value
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
        .map(Duration::from_secs)
}

/// The body as the array of contracts; what is wrong when it is not one.
pub fn parse(body: &[u8]) -> Result<Vec<ApiContract>, ApiError> {
    serde_json::from_slice::<Vec<ApiContract>>(body).map_err(|e| {
        let start: String = String::from_utf8_lossy(body).chars().take(60).collect();
        ApiError::Malformed {
            detail: format!(
                "expected a JSON array of contracts ({e}); the answer begins {start:?}"
            ),
        }
    })
}

/// What one fetch of an organ's records (`/servidores`, `/convenios`) brought.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct FetchStats {
    pub records: usize,
    /// Records without what identifies them: not stored.
    pub skipped: usize,
    /// Rows stored that were new or changed.
    pub changed: u64,
    pub requests: u32,
}

impl std::ops::AddAssign for FetchStats {
    fn add_assign(&mut self, other: FetchStats) {
        self.records += other.records;
        self.skipped += other.skipped;
        self.changed += other.changed;
        self.requests += other.requests;
    }
}

/// A page of an endpoint fiscal keeps whole (`/servidores`, `/convenios`): a
/// JSON array of records.
pub fn json_records(body: &[u8]) -> Result<Vec<serde_json::Value>, ApiError> {
    serde_json::from_slice::<Vec<serde_json::Value>>(body).map_err(|e| {
        let start: String = String::from_utf8_lossy(body).chars().take(60).collect();
        ApiError::Malformed {
            detail: format!("expected a JSON array of records ({e}); the answer begins {start:?}"),
        }
    })
}

pub fn last_day(month: NaiveDate) -> NaiveDate {
    let next = if month.month() == 12 {
        NaiveDate::from_ymd_opt(month.year() + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(month.year(), month.month() + 1, 1)
    };
    next.and_then(|n| n.pred_opt()).unwrap_or(month)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = include_str!("../../tests/data/portal_api/contratos_26274_202101.json");

    #[test]
    fn the_sample_response_maps_to_the_records_the_bulk_importer_reads() {
        let records = parse(SAMPLE.as_bytes()).expect("the sample parses");
        assert_eq!(records.len(), 39);
        let contracts: Vec<_> = records
            .iter()
            .map(|r| to_contract(r).expect("every sample record is a contract"))
            .collect();
        let c = &contracts[0];
        assert_eq!(c.numero, "212020");
        assert_eq!(c.codigo_orgao, "26274");
        assert_eq!(c.codigo_orgao_superior, "26000");
        assert_eq!(c.codigo_ug, "154043");
        assert!(!c.objeto.starts_with("Objeto:"), "{}", c.objeto);
        assert_eq!(c.fundamento_legal, None, "Sem informação is unknown");
        assert_eq!(
            c.data_assinatura,
            NaiveDate::from_ymd_opt(2020, 5, 7).expect("date")
        );
        assert!(matches!(c.fornecedor, Some(SupplierId::Cnpj(ref d)) if d.len() == 14));
        assert_eq!(
            crate::sources::contracts::rows::contract_id(c),
            format!(
                "154043/212020/20200507/{}",
                c.fornecedor.as_ref().map_or("-", |s| s.as_str())
            )
        );
    }

    #[test]
    fn money_is_read_from_numbers_and_from_text_in_either_convention() {
        let parse = |s: &str| serde_json::from_str::<Money>(s).expect("money").0;
        assert_eq!(parse("1234.5"), Some(1234.5));
        assert_eq!(parse("\"1.234,56\""), Some(1234.56));
        assert_eq!(parse("\"1234.56\""), Some(1234.56));
        assert_eq!(parse("\"Sem informação\""), None);
    }

    #[test]
    fn a_body_that_is_not_an_array_of_contracts_is_malformed_and_says_so() {
        let err = parse(b"<html>erro</html>").expect_err("not JSON");
        assert!(!err.is_retryable());
        assert!(err.to_string().contains("<html>"), "{err}");
        let err = parse(br#"{"contratos": []}"#).expect_err("an object, not an array");
        assert!(err.to_string().contains("expected a JSON array"), "{err}");
    }

    #[test]
    fn a_record_without_a_signature_date_is_not_a_contract() {
        let mut record = parse(SAMPLE.as_bytes()).expect("parses").remove(0);
        record.data_assinatura = Some("Sem informação".into());
        assert_eq!(to_contract(&record).err(), Some("no valid dataAssinatura"));
    }

    #[tokio::test(start_paused = true)]
    async fn the_rate_limiter_spaces_requests_at_the_day_limit() {
        let limiter = RateLimiter::with_hour(90, 300, || 14);
        let cancel = CancellationToken::new();
        let start = Instant::now();
        for _ in 0..91 {
            assert!(limiter.acquire(&cancel).await);
        }
        // 91 requests need 90 intervals of 60/90 s: a minute, never less.
        // (tokio's timer rounds each wait up to the millisecond.)
        let elapsed = start.elapsed();
        assert!(elapsed >= Duration::from_secs(60) / 90 * 90, "{elapsed:?}");
        assert!(elapsed < Duration::from_millis(60_100), "{elapsed:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn the_rate_limiter_allows_300_a_minute_before_six_in_the_morning() {
        let limiter = RateLimiter::with_hour(90, 300, || 3);
        let cancel = CancellationToken::new();
        let start = Instant::now();
        for _ in 0..301 {
            assert!(limiter.acquire(&cancel).await);
        }
        let elapsed = start.elapsed();
        assert!(
            elapsed >= Duration::from_secs(60) / 300 * 300,
            "{elapsed:?}"
        );
        assert!(elapsed < Duration::from_millis(60_400), "{elapsed:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_429_holds_the_rate_limiter_for_every_caller() {
        let limiter = RateLimiter::with_hour(6000, 6000, || 12);
        let cancel = CancellationToken::new();
        let start = Instant::now();
        limiter.hold_until(start + Duration::from_secs(30)).await;
        assert!(limiter.acquire(&cancel).await);
        assert_eq!(start.elapsed(), Duration::from_secs(30));
    }

    #[tokio::test(start_paused = true)]
    async fn cancelling_stops_a_wait_for_the_rate_limiter() {
        let limiter = RateLimiter::with_hour(1, 1, || 12);
        let cancel = CancellationToken::new();
        assert!(limiter.acquire(&cancel).await);
        cancel.cancel();
        assert!(
            !limiter.acquire(&cancel).await,
            "a cancelled wait ends at once"
        );
    }

    #[test]
    fn last_day_of_a_month_handles_december_and_february() {
        let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).expect("date");
        assert_eq!(last_day(d(2024, 2, 1)), d(2024, 2, 29));
        assert_eq!(last_day(d(2023, 12, 1)), d(2023, 12, 31));
    }
}
