//! The staging tables and merges every source loads through: a file import and
//! a Portal API fetch stage their rows by binary COPY into a temporary table and
//! merge them with one statement per kind, so both key a record alike and a
//! record already there unchanged is left alone. Each source maps its records
//! to a [`Row`] in the column order of its kind's staging table.

use anyhow::{Context, Result};
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::Client;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Contracts,
    Amendments,
    Items,
    Sanctions,
    BudgetLines,
    Servants,
    Biddings,
    BiddingParticipants,
    Agreements,
    /// Empenhos and payments: two kinds of file, one table.
    ExpenseCommitments,
    ExpensePayments,
}

impl Kind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Kind::Contracts => "contracts",
            Kind::Amendments => "amendments",
            Kind::Items => "contract_items",
            Kind::Sanctions => "sanctions",
            Kind::BudgetLines => "budget_lines",
            Kind::Servants => "servants",
            Kind::Biddings => "biddings",
            Kind::BiddingParticipants => "bidding_participants",
            Kind::Agreements => "agreements",
            Kind::ExpenseCommitments => "expense_commitments",
            Kind::ExpensePayments => "expense_payments",
        }
    }
}

// Send, so the API cache may hold a row across an await.
pub(crate) type Row = Vec<Box<dyn ToSql + Sync + Send>>;

pub(crate) fn b<T: ToSql + Sync + Send + 'static>(v: T) -> Box<dyn ToSql + Sync + Send> {
    Box::new(v)
}

/// Staging DDL, COPY column list, COPY types and the merge statement of a kind.
/// Values are staged as float8 (binary COPY cannot send numeric from f64) and cast
/// on merge; float8 → numeric keeps 15 significant digits, enough for every value
/// the Portal writes (4 decimals, under 10^11).
pub(crate) fn statements(
    kind: Kind,
) -> (&'static str, &'static str, &'static [Type], &'static str) {
    match kind {
        Kind::Contracts => (
            "create temp table stage (
                 contract_id text, source_month date, source_file text, source_line int4,
                 numero text, objeto text, objeto_busca text, fundamento_legal text,
                 modalidade text, modalidade_busca text, situacao text,
                 codigo_orgao_superior text, nome_orgao_superior text, codigo_orgao text,
                 nome_orgao text, codigo_ug text, nome_ug text, data_assinatura date,
                 data_publicacao_dou date, data_inicio_vigencia date, data_fim_vigencia date,
                 codigo_contratado text, tipo_contratado text, nome_contratado text,
                 valor_inicial float8, valor_final float8, numero_licitacao text,
                 codigo_ug_licitacao text, nome_ug_licitacao text,
                 codigo_modalidade_licitacao text, modalidade_licitacao text
             ) on commit drop",
            "contract_id, source_month, source_file, source_line, numero, objeto, objeto_busca,
             fundamento_legal, modalidade, modalidade_busca, situacao, codigo_orgao_superior,
             nome_orgao_superior, codigo_orgao, nome_orgao, codigo_ug, nome_ug, data_assinatura,
             data_publicacao_dou, data_inicio_vigencia, data_fim_vigencia, codigo_contratado,
             tipo_contratado, nome_contratado, valor_inicial, valor_final, numero_licitacao,
             codigo_ug_licitacao, nome_ug_licitacao, codigo_modalidade_licitacao, modalidade_licitacao",
            &[
                Type::TEXT, Type::DATE, Type::TEXT, Type::INT4, Type::TEXT, Type::TEXT, Type::TEXT,
                Type::TEXT, Type::TEXT, Type::TEXT, Type::TEXT, Type::TEXT, Type::TEXT, Type::TEXT,
                Type::TEXT, Type::TEXT, Type::TEXT, Type::DATE, Type::DATE, Type::DATE, Type::DATE,
                Type::TEXT, Type::TEXT, Type::TEXT, Type::FLOAT8, Type::FLOAT8, Type::TEXT,
                Type::TEXT, Type::TEXT, Type::TEXT, Type::TEXT,
            ],
            "insert into transparency.contracts (
                 contract_id, source_month, source_file, source_line, numero, objeto, objeto_busca,
                 fundamento_legal, modalidade, modalidade_busca, situacao, codigo_orgao_superior,
                 nome_orgao_superior, codigo_orgao, nome_orgao, codigo_ug, nome_ug, data_assinatura,
                 data_publicacao_dou, data_inicio_vigencia, data_fim_vigencia, codigo_contratado,
                 tipo_contratado, nome_contratado, valor_inicial, valor_final, numero_licitacao,
                 codigo_ug_licitacao, nome_ug_licitacao, codigo_modalidade_licitacao, modalidade_licitacao)
             select distinct on (contract_id, source_month)
                 contract_id, source_month, source_file, source_line, numero, objeto, objeto_busca,
                 fundamento_legal, modalidade, modalidade_busca, situacao, codigo_orgao_superior,
                 nome_orgao_superior, codigo_orgao, nome_orgao, codigo_ug, nome_ug, data_assinatura,
                 data_publicacao_dou, data_inicio_vigencia, data_fim_vigencia, codigo_contratado,
                 tipo_contratado, nome_contratado, valor_inicial::numeric(20, 4),
                 valor_final::numeric(20, 4), numero_licitacao, codigo_ug_licitacao,
                 nome_ug_licitacao, codigo_modalidade_licitacao, modalidade_licitacao
             from stage
             order by contract_id, source_month, data_publicacao_dou desc nulls last, source_line desc
             on conflict (contract_id, source_month) do nothing",
        ),
        Kind::Amendments => (
            "create temp table stage (
                 amendment_id text, source_month date, source_file text, source_line int4,
                 numero_contrato text, codigo_orgao_superior text, nome_orgao_superior text,
                 codigo_orgao text, nome_orgao text, codigo_ug text, nome_ug text,
                 numero_termo text, data_publicacao date, objeto text
             ) on commit drop",
            "amendment_id, source_month, source_file, source_line, numero_contrato,
             codigo_orgao_superior, nome_orgao_superior, codigo_orgao, nome_orgao, codigo_ug,
             nome_ug, numero_termo, data_publicacao, objeto",
            &[
                Type::TEXT, Type::DATE, Type::TEXT, Type::INT4, Type::TEXT, Type::TEXT, Type::TEXT,
                Type::TEXT, Type::TEXT, Type::TEXT, Type::TEXT, Type::TEXT, Type::DATE, Type::TEXT,
            ],
            "insert into transparency.amendments (
                 amendment_id, source_month, source_file, source_line, numero_contrato,
                 codigo_orgao_superior, nome_orgao_superior, codigo_orgao, nome_orgao, codigo_ug,
                 nome_ug, numero_termo, data_publicacao, objeto)
             select distinct on (amendment_id, source_month) *
             from stage
             order by amendment_id, source_month, source_line desc
             on conflict (amendment_id, source_month) do nothing",
        ),
        Kind::Items => (
            "create temp table stage (
                 item_key text, source_month date, source_file text, source_line int4,
                 codigo_orgao text, nome_orgao text, codigo_ug text, nome_ug text,
                 numero_contrato text, codigo_item text, descricao text,
                 descricao_complementar text, quantidade float8, valor float8,
                 item_id text generated always as (item_key || '/' || left(md5(
                     coalesce(descricao, '') || '|' || coalesce(descricao_complementar, '') || '|'
                     || coalesce(quantidade::text, '') || '|' || coalesce(valor::text, '')), 12)) stored
             ) on commit drop",
            "item_key, source_month, source_file, source_line, codigo_orgao, nome_orgao,
             codigo_ug, nome_ug, numero_contrato, codigo_item, descricao,
             descricao_complementar, quantidade, valor",
            &[
                Type::TEXT, Type::DATE, Type::TEXT, Type::INT4, Type::TEXT, Type::TEXT, Type::TEXT,
                Type::TEXT, Type::TEXT, Type::TEXT, Type::TEXT, Type::TEXT, Type::FLOAT8,
                Type::FLOAT8,
            ],
            // One contract may list the same item code twice (different descriptions
            // or amounts): the content digest keeps both as distinct items.
            "insert into transparency.contract_items (
                 item_id, source_month, source_file, source_line, codigo_orgao, nome_orgao,
                 codigo_ug, nome_ug, numero_contrato, codigo_item, descricao,
                 descricao_complementar, quantidade, valor)
             select distinct on (item_id, source_month) item_id, source_month, source_file, source_line, codigo_orgao, nome_orgao,
                 codigo_ug, nome_ug, numero_contrato, codigo_item, descricao,
                 descricao_complementar, quantidade::numeric(20, 4), valor::numeric(20, 4)
             from stage
             order by item_id, source_month, source_line desc
             on conflict (item_id, source_month) do nothing",
        ),
        Kind::Sanctions => (
            "create temp table stage (
                 registry text, sanction_id int8, source_file text, source_line int4,
                 document text, name text, uf text, category text, body text,
                 published date, fine float8, link text
             ) on commit drop",
            "registry, sanction_id, source_file, source_line, document, name, uf, category,
             body, published, fine, link",
            &[
                Type::TEXT, Type::INT8, Type::TEXT, Type::INT4, Type::TEXT, Type::TEXT, Type::TEXT,
                Type::TEXT, Type::TEXT, Type::DATE, Type::FLOAT8, Type::TEXT,
            ],
            // A newer snapshot of the list may correct a penalty it repeats; what
            // it repeats unchanged is left alone, and counts as unchanged.
            "insert into transparency.sanctions as t (
                 registry, sanction_id, source_file, source_line, document, name, uf,
                 category, body, published, fine, link)
             select distinct on (registry, sanction_id) registry, sanction_id, source_file,
                 source_line, document, name, uf, category, body, published,
                 fine::numeric(20, 2), link
             from stage
             order by registry, sanction_id, source_line desc
             on conflict (registry, sanction_id) do update set
                 source_file = excluded.source_file, source_line = excluded.source_line,
                 document = excluded.document, name = excluded.name, uf = excluded.uf,
                 category = excluded.category, body = excluded.body,
                 published = excluded.published, fine = excluded.fine, link = excluded.link,
                 imported_at = now()
             where (t.document, t.name, t.uf, t.category, t.body, t.published, t.fine, t.link)
                 is distinct from (excluded.document, excluded.name, excluded.uf,
                     excluded.category, excluded.body, excluded.published, excluded.fine,
                     excluded.link)",
        ),
        Kind::BudgetLines => (
            "create temp table stage (
                 line_id text, exercicio int4, source_file text, source_line int4,
                 codigo_orgao_superior text, nome_orgao_superior text, codigo_orgao text,
                 nome_orgao text, codigo_uo text, nome_uo text, codigo_funcao text,
                 nome_funcao text, codigo_subfuncao text, nome_subfuncao text,
                 codigo_programa text, nome_programa text, codigo_acao text, nome_acao text,
                 nome_acao_busca text, codigo_categoria text, nome_categoria text,
                 codigo_grupo text, nome_grupo text, codigo_elemento text, nome_elemento text,
                 inicial float8, atualizado float8, empenhado float8, realizado float8
             ) on commit drop",
            "line_id, exercicio, source_file, source_line, codigo_orgao_superior,
             nome_orgao_superior, codigo_orgao, nome_orgao, codigo_uo, nome_uo, codigo_funcao,
             nome_funcao, codigo_subfuncao, nome_subfuncao, codigo_programa, nome_programa,
             codigo_acao, nome_acao, nome_acao_busca, codigo_categoria, nome_categoria,
             codigo_grupo, nome_grupo, codigo_elemento, nome_elemento, inicial, atualizado,
             empenhado, realizado",
            &[
                Type::TEXT, Type::INT4, Type::TEXT, Type::INT4, Type::TEXT, Type::TEXT, Type::TEXT,
                Type::TEXT, Type::TEXT, Type::TEXT, Type::TEXT, Type::TEXT, Type::TEXT, Type::TEXT,
                Type::TEXT, Type::TEXT, Type::TEXT, Type::TEXT, Type::TEXT, Type::TEXT, Type::TEXT,
                Type::TEXT, Type::TEXT, Type::TEXT, Type::TEXT, Type::FLOAT8, Type::FLOAT8,
                Type::FLOAT8, Type::FLOAT8,
            ],
            // The rows of one line are its parts (split by a dimension the file
            // does not carry): summed, each amount rounded to cents first so the
            // sum is exact. The names are the first part's. The Portal
            // regenerates the file nightly, so a newer import updates the
            // amounts it changed and leaves the rest alone.
            "with parts as (
                 select line_id, min(source_line) as first_line, count(*)::int4 as parts,
                     sum(inicial::numeric(20, 2)) as inicial,
                     sum(atualizado::numeric(20, 2)) as atualizado,
                     sum(empenhado::numeric(20, 2)) as empenhado,
                     sum(realizado::numeric(20, 2)) as realizado
                 from stage
                 group by line_id)
             insert into transparency.budget_lines as t (
                 line_id, exercicio, source_file, source_line, codigo_orgao_superior,
                 nome_orgao_superior, codigo_orgao, nome_orgao, codigo_uo, nome_uo,
                 codigo_funcao, nome_funcao, codigo_subfuncao, nome_subfuncao, codigo_programa,
                 nome_programa, codigo_acao, nome_acao, nome_acao_busca, codigo_categoria,
                 nome_categoria, codigo_grupo, nome_grupo, codigo_elemento, nome_elemento,
                 inicial, atualizado, empenhado, realizado, parts)
             select p.line_id, s.exercicio, s.source_file, p.first_line, s.codigo_orgao_superior,
                 s.nome_orgao_superior, s.codigo_orgao, s.nome_orgao, s.codigo_uo, s.nome_uo,
                 s.codigo_funcao, s.nome_funcao, s.codigo_subfuncao, s.nome_subfuncao,
                 s.codigo_programa, s.nome_programa, s.codigo_acao, s.nome_acao,
                 s.nome_acao_busca, s.codigo_categoria, s.nome_categoria, s.codigo_grupo,
                 s.nome_grupo, s.codigo_elemento, s.nome_elemento, p.inicial, p.atualizado,
                 p.empenhado, p.realizado, p.parts
             from parts p
             join stage s on s.line_id = p.line_id and s.source_line = p.first_line
             on conflict (line_id) do update set
                 source_file = excluded.source_file, source_line = excluded.source_line,
                 nome_orgao_superior = excluded.nome_orgao_superior,
                 nome_orgao = excluded.nome_orgao, nome_uo = excluded.nome_uo,
                 nome_acao = excluded.nome_acao, nome_acao_busca = excluded.nome_acao_busca,
                 inicial = excluded.inicial, atualizado = excluded.atualizado,
                 empenhado = excluded.empenhado, realizado = excluded.realizado,
                 parts = excluded.parts, imported_at = now()
             where (t.inicial, t.atualizado, t.empenhado, t.realizado, t.parts, t.nome_acao)
                 is distinct from (excluded.inicial, excluded.atualizado, excluded.empenhado,
                     excluded.realizado, excluded.parts, excluded.nome_acao)",
        ),
        Kind::Servants => (
            "create temp table stage (
                 servant_id int8, orgao_exercicio text, orgao_lotacao text, nome text,
                 record jsonb, source text
             ) on commit drop",
            "servant_id, orgao_exercicio, orgao_lotacao, nome, record, source",
            &[Type::INT8, Type::TEXT, Type::TEXT, Type::TEXT, Type::JSONB, Type::TEXT],
            // The same upsert as the API's (src/sources/servants/retrieval.rs):
            // a newer copy of a record replaces the older, an identical one is
            // left alone and counts as unchanged.
            "insert into transparency.servants as t
                 (servant_id, orgao_exercicio, orgao_lotacao, nome, record, source)
             select distinct on (servant_id) servant_id, orgao_exercicio, orgao_lotacao, nome,
                 record, source
             from stage
             order by servant_id
             on conflict (servant_id) do update set
                 orgao_exercicio = excluded.orgao_exercicio,
                 orgao_lotacao = excluded.orgao_lotacao, nome = excluded.nome,
                 record = excluded.record, source = excluded.source, fetched_at = now()
             where t.record is distinct from excluded.record",
        ),
        Kind::Biddings => (
            "create temp table stage (
                 bidding_id text, source_file text, source_line int4, numero text,
                 codigo_ug text, nome_ug text, codigo_modalidade text, modalidade text,
                 numero_processo text, objeto text, objeto_busca text, situacao text,
                 codigo_orgao_superior text, nome_orgao_superior text, codigo_orgao text,
                 nome_orgao text, uf text, municipio text, data_resultado date,
                 data_abertura date, valor float8
             ) on commit drop",
            "bidding_id, source_file, source_line, numero, codigo_ug, nome_ug,
             codigo_modalidade, modalidade, numero_processo, objeto, objeto_busca, situacao,
             codigo_orgao_superior, nome_orgao_superior, codigo_orgao, nome_orgao, uf,
             municipio, data_resultado, data_abertura, valor",
            &[
                Type::TEXT, Type::TEXT, Type::INT4, Type::TEXT, Type::TEXT, Type::TEXT, Type::TEXT,
                Type::TEXT, Type::TEXT, Type::TEXT, Type::TEXT, Type::TEXT, Type::TEXT, Type::TEXT,
                Type::TEXT, Type::TEXT, Type::TEXT, Type::TEXT, Type::DATE, Type::DATE,
                Type::FLOAT8,
            ],
            // A later month republishes a bidding with its result: the newer
            // row updates what changed, and never erases what an earlier one
            // said (the API leaves out the value of a registro de preço).
            "insert into transparency.biddings as t (
                 bidding_id, source_file, source_line, numero, codigo_ug, nome_ug,
                 codigo_modalidade, modalidade, numero_processo, objeto, objeto_busca, situacao,
                 codigo_orgao_superior, nome_orgao_superior, codigo_orgao, nome_orgao, uf,
                 municipio, data_resultado, data_abertura, valor)
             select distinct on (bidding_id) bidding_id, source_file, source_line, numero,
                 codigo_ug, nome_ug, codigo_modalidade, modalidade, numero_processo, objeto,
                 objeto_busca, situacao, codigo_orgao_superior, nome_orgao_superior,
                 codigo_orgao, nome_orgao, uf, municipio, data_resultado, data_abertura,
                 valor::numeric(20, 4)
             from stage
             order by bidding_id, source_line desc
             on conflict (bidding_id) do update set
                 source_file = excluded.source_file, source_line = excluded.source_line,
                 objeto = coalesce(nullif(excluded.objeto, ''), t.objeto),
                 objeto_busca = coalesce(nullif(excluded.objeto_busca, ''), t.objeto_busca),
                 situacao = coalesce(excluded.situacao, t.situacao),
                 data_resultado = coalesce(excluded.data_resultado, t.data_resultado),
                 data_abertura = coalesce(excluded.data_abertura, t.data_abertura),
                 valor = coalesce(excluded.valor, t.valor),
                 imported_at = now()
             where (t.objeto, t.situacao, t.data_resultado, t.data_abertura, t.valor)
                 is distinct from (coalesce(nullif(excluded.objeto, ''), t.objeto),
                     coalesce(excluded.situacao, t.situacao),
                     coalesce(excluded.data_resultado, t.data_resultado),
                     coalesce(excluded.data_abertura, t.data_abertura),
                     coalesce(excluded.valor, t.valor))",
        ),
        Kind::BiddingParticipants => (
            "create temp table stage (
                 participant_key text, bidding_id text, source_file text, source_line int4,
                 codigo_item text, descricao_item text, codigo_participante text,
                 nome_participante text, vencedor bool
             ) on commit drop",
            "participant_key, bidding_id, source_file, source_line, codigo_item,
             descricao_item, codigo_participante, nome_participante, vencedor",
            &[
                Type::TEXT, Type::TEXT, Type::TEXT, Type::INT4, Type::TEXT, Type::TEXT, Type::TEXT,
                Type::TEXT, Type::BOOL,
            ],
            "insert into transparency.bidding_participants as t (
                 participant_key, bidding_id, source_file, source_line, codigo_item,
                 descricao_item, codigo_participante, nome_participante, vencedor)
             select distinct on (participant_key) *
             from stage
             order by participant_key, source_line desc
             on conflict (participant_key) do update set
                 source_file = excluded.source_file, source_line = excluded.source_line,
                 vencedor = excluded.vencedor
             where t.vencedor is distinct from excluded.vencedor",
        ),
        Kind::ExpenseCommitments | Kind::ExpensePayments => (
            "create temp table stage (
                 codigo text, fase text, source_file text, source_line int4, data_emissao date,
                 codigo_orgao_superior text, nome_orgao_superior text, codigo_orgao text,
                 nome_orgao text, codigo_ug text, nome_ug text, codigo_favorecido text,
                 nome_favorecido text, codigo_grupo text, codigo_elemento text,
                 nome_elemento text, modalidade_licitacao text, especie text,
                 observacao text, observacao_busca text, valor float8
             ) on commit drop",
            "codigo, fase, source_file, source_line, data_emissao, codigo_orgao_superior,
             nome_orgao_superior, codigo_orgao, nome_orgao, codigo_ug, nome_ug,
             codigo_favorecido, nome_favorecido, codigo_grupo, codigo_elemento, nome_elemento,
             modalidade_licitacao, especie, observacao, observacao_busca, valor",
            &[
                Type::TEXT, Type::TEXT, Type::TEXT, Type::INT4, Type::DATE, Type::TEXT,
                Type::TEXT, Type::TEXT, Type::TEXT, Type::TEXT, Type::TEXT, Type::TEXT,
                Type::TEXT, Type::TEXT, Type::TEXT, Type::TEXT, Type::TEXT, Type::TEXT,
                Type::TEXT, Type::TEXT, Type::FLOAT8,
            ],
            // The daily file and the API may both bring a document: a later copy
            // updates the value and payee it gives, and never erases them.
            "insert into transparency.expense_documents as t (
                 codigo, fase, source_file, source_line, data_emissao, codigo_orgao_superior,
                 nome_orgao_superior, codigo_orgao, nome_orgao, codigo_ug, nome_ug,
                 codigo_favorecido, nome_favorecido, codigo_grupo, codigo_elemento,
                 nome_elemento, modalidade_licitacao, especie, observacao, observacao_busca,
                 valor)
             select distinct on (codigo) codigo, fase, source_file, source_line, data_emissao,
                 codigo_orgao_superior, nome_orgao_superior, codigo_orgao, nome_orgao,
                 codigo_ug, nome_ug, codigo_favorecido, nome_favorecido, codigo_grupo,
                 codigo_elemento, nome_elemento, modalidade_licitacao, especie, observacao,
                 observacao_busca, valor::numeric(20, 2)
             from stage
             order by codigo, source_line desc
             on conflict (codigo) do update set
                 source_file = excluded.source_file, source_line = excluded.source_line,
                 codigo_favorecido = coalesce(excluded.codigo_favorecido, t.codigo_favorecido),
                 nome_favorecido = coalesce(excluded.nome_favorecido, t.nome_favorecido),
                 valor = coalesce(excluded.valor, t.valor), imported_at = now()
             where (t.codigo_favorecido, t.nome_favorecido, t.valor)
                 is distinct from (coalesce(excluded.codigo_favorecido, t.codigo_favorecido),
                     coalesce(excluded.nome_favorecido, t.nome_favorecido),
                     coalesce(excluded.valor, t.valor))",
        ),
        Kind::Agreements => (
            "create temp table stage (
                 numero text, source_file text, source_line int4, uf text,
                 codigo_municipio text, municipio text, situacao text, numero_original text,
                 numero_processo text, objeto text, objeto_busca text,
                 codigo_orgao_superior text, nome_orgao_superior text, codigo_orgao text,
                 nome_orgao text, codigo_ug text, nome_ug text, codigo_convenente text,
                 tipo_convenente text, nome_convenente text, tipo_ente_convenente text,
                 tipo_instrumento text, valor float8, valor_liberado float8,
                 data_publicacao date, data_inicio_vigencia date, data_fim_vigencia date,
                 valor_contrapartida float8, data_ultima_liberacao date,
                 valor_ultima_liberacao float8
             ) on commit drop",
            "numero, source_file, source_line, uf, codigo_municipio, municipio, situacao,
             numero_original, numero_processo, objeto, objeto_busca, codigo_orgao_superior,
             nome_orgao_superior, codigo_orgao, nome_orgao, codigo_ug, nome_ug,
             codigo_convenente, tipo_convenente, nome_convenente, tipo_ente_convenente,
             tipo_instrumento, valor, valor_liberado, data_publicacao, data_inicio_vigencia,
             data_fim_vigencia, valor_contrapartida, data_ultima_liberacao,
             valor_ultima_liberacao",
            &[
                Type::TEXT, Type::TEXT, Type::INT4, Type::TEXT, Type::TEXT, Type::TEXT, Type::TEXT,
                Type::TEXT, Type::TEXT, Type::TEXT, Type::TEXT, Type::TEXT, Type::TEXT, Type::TEXT,
                Type::TEXT, Type::TEXT, Type::TEXT, Type::TEXT, Type::TEXT, Type::TEXT, Type::TEXT,
                Type::TEXT, Type::FLOAT8, Type::FLOAT8, Type::DATE, Type::DATE, Type::DATE,
                Type::FLOAT8, Type::DATE, Type::FLOAT8,
            ],
            // Each snapshot repeats every agreement: a newer one updates the
            // situation, releases and dates that changed.
            "insert into transparency.agreements as t (
                 numero, source_file, source_line, uf, codigo_municipio, municipio, situacao,
                 numero_original, numero_processo, objeto, objeto_busca, codigo_orgao_superior,
                 nome_orgao_superior, codigo_orgao, nome_orgao, codigo_ug, nome_ug,
                 codigo_convenente, tipo_convenente, nome_convenente, tipo_ente_convenente,
                 tipo_instrumento, valor, valor_liberado, data_publicacao, data_inicio_vigencia,
                 data_fim_vigencia, valor_contrapartida, data_ultima_liberacao,
                 valor_ultima_liberacao)
             select distinct on (numero) numero, source_file, source_line, uf, codigo_municipio,
                 municipio, situacao, numero_original, numero_processo, objeto, objeto_busca,
                 codigo_orgao_superior, nome_orgao_superior, codigo_orgao, nome_orgao,
                 codigo_ug, nome_ug, codigo_convenente, tipo_convenente, nome_convenente,
                 tipo_ente_convenente, tipo_instrumento, valor::numeric(20, 2),
                 valor_liberado::numeric(20, 2), data_publicacao, data_inicio_vigencia,
                 data_fim_vigencia, valor_contrapartida::numeric(20, 2), data_ultima_liberacao,
                 valor_ultima_liberacao::numeric(20, 2)
             from stage
             order by numero, source_line desc
             on conflict (numero) do update set
                 source_file = excluded.source_file, source_line = excluded.source_line,
                 situacao = excluded.situacao, valor = excluded.valor,
                 valor_liberado = excluded.valor_liberado,
                 data_fim_vigencia = excluded.data_fim_vigencia,
                 data_ultima_liberacao = excluded.data_ultima_liberacao,
                 valor_ultima_liberacao = excluded.valor_ultima_liberacao, imported_at = now()
             where (t.situacao, t.valor, t.valor_liberado, t.data_fim_vigencia,
                    t.data_ultima_liberacao, t.valor_ultima_liberacao)
                 is distinct from (excluded.situacao, excluded.valor, excluded.valor_liberado,
                    excluded.data_fim_vigencia, excluded.data_ultima_liberacao,
                    excluded.valor_ultima_liberacao)",
        ),
    }
}

pub(crate) fn distinct_keys(kind: Kind) -> &'static str {
    match kind {
        Kind::Contracts => {
            "select count(*) from (select distinct contract_id, source_month from stage) k"
        }
        Kind::Amendments => {
            "select count(*) from (select distinct amendment_id, source_month from stage) k"
        }
        Kind::Items => "select count(*) from (select distinct item_id, source_month from stage) k",
        Kind::Sanctions => {
            "select count(*) from (select distinct registry, sanction_id from stage) k"
        }
        Kind::BudgetLines => "select count(distinct line_id) from stage",
        Kind::Servants => "select count(distinct servant_id) from stage",
        Kind::Biddings => "select count(distinct bidding_id) from stage",
        Kind::BiddingParticipants => "select count(distinct participant_key) from stage",
        Kind::Agreements => "select count(distinct numero) from stage",
        Kind::ExpenseCommitments | Kind::ExpensePayments => {
            "select count(distinct codigo) from stage"
        }
    }
}

/// The budget's organs, for questions to be resolved against (src/question):
/// added where the contracts have not named them, never renaming one.
pub(crate) const BUDGET_UNITS: &str = "
    insert into transparency.units (level, code, name, seen_month)
    select distinct on (v.level, v.code) v.level, v.code, btrim(v.name),
        make_date(s.exercicio, 1, 1)
    from stage s
    cross join lateral (values
        ('orgao_superior', s.codigo_orgao_superior, s.nome_orgao_superior),
        ('orgao', s.codigo_orgao, s.nome_orgao)) v(level, code, name)
    where btrim(v.name) <> ''
    order by v.level, v.code, s.exercicio desc
    on conflict (level, code) do nothing";

/// Rows of `kind` that did not come from a file (the Portal API), merged as an
/// import merges them: staged by COPY and merged in one transaction, so a
/// record already there unchanged is left alone. Returns the rows that changed.
pub(crate) async fn merge_rows(client: &Client, kind: Kind, rows: Vec<Row>) -> Result<u64> {
    // Nothing to stage: no transaction, no temporary table, no round trips.
    if rows.is_empty() {
        return Ok(0);
    }
    // begin/commit by hand rather than a Transaction: the worker's pooled
    // connections are shared, and this works behind a transaction-mode pooler.
    client
        .batch_execute("begin")
        .await
        .context("starting the merge transaction")?;
    let merged = async {
        let (stage_ddl, columns, types, merge) = statements(kind);
        client
            .batch_execute(stage_ddl)
            .await
            .context("creating the staging table")?;
        let sink = client
            .copy_in(&format!("copy stage ({columns}) from stdin binary"))
            .await
            .context("starting COPY")?;
        let writer = BinaryCopyInWriter::new(sink, types);
        futures_util::pin_mut!(writer);
        for values in &rows {
            let refs: Vec<&(dyn ToSql + Sync)> = values
                .iter()
                .map(|v| v.as_ref() as &(dyn ToSql + Sync))
                .collect();
            writer.as_mut().write(&refs).await.context("COPY")?;
        }
        writer.finish().await.context("finishing COPY")?;
        client
            .execute(merge, &[])
            .await
            .context("merging staged rows")
    }
    .await;
    match merged {
        Ok(changed) => {
            client
                .batch_execute("commit")
                .await
                .context("committing the merge")?;
            Ok(changed)
        }
        Err(e) => {
            let _ = client.batch_execute("rollback").await;
            Err(e)
        }
    }
}
