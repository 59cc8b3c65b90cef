-- Biddings (licitações) as `fiscal import` loads the Portal da Transparência's
-- monthly "Licitações" download (src/sources/biddings): the biddings
-- (`AAAAMM_Licitação.csv`) and their participants, item by item
-- (`AAAAMM_ParticipantesLicitação.csv`). The layout is the one the Portal
-- documents and open-source readers of it agree on; no real file could be
-- obtained (data/biddings/SOURCES.md), so it is checked against documented
-- layouts only.
--
-- A bidding is identified by its UG, number and modality code: the number alone
-- repeats across UGs. A later month that republishes it (a result, a new
-- situation) updates it.

create table if not exists transparency.biddings (
    bidding_id text primary key,
    source_file text not null,
    source_line integer not null,
    numero text not null,
    codigo_ug text not null,
    nome_ug text,
    codigo_modalidade text not null,
    modalidade text,
    numero_processo text,
    objeto text not null,
    objeto_busca text not null,
    situacao text,
    codigo_orgao_superior text,
    nome_orgao_superior text,
    codigo_orgao text,
    nome_orgao text,
    uf text,
    municipio text,
    data_resultado date,
    data_abertura date,
    valor numeric(20, 4),
    imported_at timestamptz not null default now()
);

create index if not exists biddings_orgao_abertura
    on transparency.biddings (codigo_orgao, data_abertura);
create index if not exists biddings_ug_abertura
    on transparency.biddings (codigo_ug, data_abertura);

-- One row per participant and item: a participant bids item by item.
create table if not exists transparency.bidding_participants (
    participant_key text primary key,
    bidding_id text not null,
    source_file text not null,
    source_line integer not null,
    codigo_item text,
    descricao_item text,
    codigo_participante text not null,
    nome_participante text,
    vencedor boolean not null
);

create index if not exists bidding_participants_bidding
    on transparency.bidding_participants (bidding_id);

revoke all on transparency.biddings, transparency.bidding_participants
    from public, anon, authenticated;
grant select on transparency.biddings, transparency.bidding_participants
    to service_role, fiscal_worker;
