-- Schema `transparency`: Portal da Transparência bulk downloads ("Compras"), as
-- loaded by `fiscal import`. The postgres data source reads it.
--
-- Keys. The contract number alone repeats across agencies, and even (number, UG)
-- repeats across months because the Portal republishes contracts. `contract_id`
-- identifies a contract (UG, number, signature date, supplier) and is what results
-- cite; a row is one publication of it, keyed by (contract_id, source_month), so
-- re-importing a month changes nothing and the data source reads the latest
-- publication of each contract.
--
-- Unknown values are NULL: the source's sentinels (-3, -99, "Sem Informação")
-- never become zero. `*_busca` columns hold the text folded (lower case, no
-- accents) by the importer, so filters match "saude" and "Saúde" alike without an
-- extension.

create schema if not exists transparency;

create table if not exists transparency.contracts (
    contract_id text not null,
    source_month date not null,
    source_file text not null,
    source_line integer not null,
    numero text not null,
    objeto text not null,
    objeto_busca text not null,
    fundamento_legal text,
    modalidade text,
    modalidade_busca text,
    situacao text,
    codigo_orgao_superior text,
    nome_orgao_superior text,
    codigo_orgao text,
    nome_orgao text,
    codigo_ug text,
    nome_ug text,
    data_assinatura date,
    data_publicacao_dou date,
    data_inicio_vigencia date,
    data_fim_vigencia date,
    codigo_contratado text,
    tipo_contratado text check (tipo_contratado in ('cnpj', 'cpf', 'outro')),
    nome_contratado text,
    valor_inicial numeric(20, 4),
    valor_final numeric(20, 4),
    numero_licitacao text,
    codigo_ug_licitacao text,
    nome_ug_licitacao text,
    codigo_modalidade_licitacao text,
    modalidade_licitacao text,
    imported_at timestamptz not null default now(),
    primary key (contract_id, source_month)
);

-- The filters of DESIGN §4, each led by the column citizens narrow by most.
create index if not exists contracts_orgao_assinatura
    on transparency.contracts (codigo_orgao, data_assinatura);
create index if not exists contracts_orgao_superior_assinatura
    on transparency.contracts (codigo_orgao_superior, data_assinatura);
create index if not exists contracts_ug_assinatura
    on transparency.contracts (codigo_ug, data_assinatura);
create index if not exists contracts_contratado
    on transparency.contracts (codigo_contratado);
create index if not exists contracts_assinatura
    on transparency.contracts (data_assinatura);

create table if not exists transparency.amendments (
    amendment_id text not null,
    source_month date not null,
    source_file text not null,
    source_line integer not null,
    numero_contrato text not null,
    codigo_orgao_superior text,
    nome_orgao_superior text,
    codigo_orgao text,
    nome_orgao text,
    codigo_ug text,
    nome_ug text,
    numero_termo text,
    data_publicacao date,
    objeto text not null,
    imported_at timestamptz not null default now(),
    primary key (amendment_id, source_month)
);

-- Amendments link to contracts by (UG, contract number), as the Portal publishes.
create index if not exists amendments_contrato
    on transparency.amendments (codigo_ug, numero_contrato);

create table if not exists transparency.contract_items (
    item_id text not null,
    source_month date not null,
    source_file text not null,
    source_line integer not null,
    codigo_orgao text,
    nome_orgao text,
    codigo_ug text,
    nome_ug text,
    numero_contrato text not null,
    codigo_item text,
    descricao text,
    descricao_complementar text,
    quantidade numeric(20, 4),
    valor numeric(20, 4),
    imported_at timestamptz not null default now(),
    primary key (item_id, source_month)
);

create index if not exists contract_items_contrato
    on transparency.contract_items (codigo_ug, numero_contrato);

-- One row per file `fiscal import` read, with what it did and why rows were
-- skipped, so an operator can see what the data behind an investigation is.
create table if not exists transparency.imports (
    id bigint generated always as identity primary key,
    source_file text not null,
    kind text not null,
    rows_read integer not null,
    rows_loaded integer not null,
    rows_unchanged integer not null,
    rows_merged integer not null,
    rows_rejected integer not null,
    rejections jsonb not null default '[]'::jsonb,
    started_at timestamptz not null,
    finished_at timestamptz not null default now()
);

-- Public procurement data, but not the API's to serve: the worker reads it.
revoke all on schema transparency from public, anon, authenticated;
grant usage on schema transparency to service_role;
grant select on all tables in schema transparency to service_role;
