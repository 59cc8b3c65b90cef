-- Federal servants as the Portal da Transparência API serves them
-- (`GET /servidores`, src/sources/servants): one row per servant record, the
-- record kept whole as the API sent it, since its nested files (positions,
-- functions, retirements, pensions) are what the rules read and their keys are
-- the Portal's, not ours. Loaded by `fiscal import` from a saved capture and by
-- investigations that fetch an organ from the API; a newer copy of a record
-- replaces the older.
--
-- No remuneration: `/servidores/remuneracao` needs an access level an ordinary
-- key does not have, so the teto constitucional cannot be checked from here.

create table if not exists transparency.servants (
    servant_id bigint primary key,
    -- SIAPE organ codes (45205 = IBGE), of the unit the servant works in and of
    -- the one the position belongs to.
    orgao_exercicio text not null,
    orgao_lotacao text not null,
    nome text not null,
    record jsonb not null,
    source text not null,
    fetched_at timestamptz not null default now()
);

create index if not exists servants_orgao_exercicio
    on transparency.servants (orgao_exercicio);

revoke all on transparency.servants from public, anon, authenticated;
grant select, insert, update on transparency.servants to fiscal_worker;
grant select on transparency.servants to service_role;
