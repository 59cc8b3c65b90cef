-- Agreements (convênios and other voluntary transfers) as `fiscal import`
-- loads the Portal da Transparência's "Convênios" download
-- (`AAAAMMDD_Convenios.csv`, src/sources/agreements): a cumulative snapshot of
-- every agreement, so a newer snapshot updates the ones it repeats. The
-- layout is the one the Portal documents and open-source readers agree on; no
-- real file could be obtained (tests/data/agreements/SOURCES.md). Investigations
-- that fetch an organ from the API's /convenios write here too.

create table if not exists transparency.agreements (
    numero text primary key,
    source_file text not null,
    source_line integer not null,
    uf text,
    codigo_municipio text,
    municipio text,
    situacao text,
    numero_original text,
    numero_processo text,
    objeto text not null,
    objeto_busca text not null,
    codigo_orgao_superior text,
    nome_orgao_superior text,
    codigo_orgao text,
    nome_orgao text,
    codigo_ug text,
    nome_ug text,
    codigo_convenente text,
    tipo_convenente text,
    nome_convenente text,
    tipo_ente_convenente text,
    tipo_instrumento text,
    valor numeric(20, 2),
    valor_liberado numeric(20, 2),
    data_publicacao date,
    data_inicio_vigencia date,
    data_fim_vigencia date,
    valor_contrapartida numeric(20, 2),
    data_ultima_liberacao date,
    valor_ultima_liberacao numeric(20, 2),
    imported_at timestamptz not null default now()
);

create index if not exists agreements_orgao_inicio
    on transparency.agreements (codigo_orgao, data_inicio_vigencia);
create index if not exists agreements_convenente
    on transparency.agreements (codigo_convenente);

revoke all on transparency.agreements from public, anon, authenticated;
-- The worker writes agreements it fetches from the API (/convenios).
grant select, insert, update on transparency.agreements to fiscal_worker;
grant select on transparency.agreements to service_role;
