-- Sanctions lists (CNEP; CEIS has the same shape), as `fiscal import` loads
-- them from the Portal da Transparência (src/sources/sanctions.rs). One row per
-- penalty: a company usually has several (a fine and the publication of the
-- decision). A newer snapshot of the list updates the penalties it repeats.
--
-- Unknown values are NULL: "Sem informação" publication dates, "Não se aplica"
-- fines. The search endpoint the files come from leaves the start and end of
-- a penalty empty, so whether it was in force on a date cannot be told from it.

create table if not exists transparency.sanctions (
    registry text not null,
    sanction_id bigint not null,
    source_file text not null,
    source_line integer not null,
    document text not null,
    name text not null,
    uf text,
    category text not null,
    body text not null,
    published date,
    fine numeric(20, 2),
    link text,
    imported_at timestamptz not null default now(),
    primary key (registry, sanction_id)
);

-- Retrieval looks up the suppliers of the contracts it read.
create index if not exists sanctions_document on transparency.sanctions (document);

revoke all on transparency.sanctions from public, anon, authenticated;
grant select on transparency.sanctions to service_role, fiscal_worker;
