-- The `portal` backend: contracts fetched from the Portal da Transparência REST API
-- are cached in transparency.contracts, the table `fiscal import` fills, keyed by
-- the same contract_id, so a contract from the API and the same contract from a
-- bulk file are one row. `source_file` says where a row came from (`api:…` for
-- the API); rows from bulk files are never overwritten by the API.
--
-- api_fetches records which (agency, month) the API was asked for and when, so a
-- second investigation over the same agency and months reads the cache instead
-- of calling the API again (freshness: `portal.fresh_hours`,
-- `portal.closed_month_fresh_days`).

create table if not exists transparency.api_fetches (
    codigo_orgao text not null,
    month date not null check (extract(day from month) = 1),
    fetched_at timestamptz not null default now(),
    rows integer not null,
    requests integer not null,
    primary key (codigo_orgao, month)
);

revoke all on transparency.api_fetches from public, anon, authenticated;
grant select on transparency.api_fetches to service_role;

-- The worker writes the cache itself, inside an investigation, so unlike the
-- bulk import (run as the owner) it needs to write these two tables: INSERT and
-- UPDATE (`insert … on conflict do update`) on contracts, and the same on the
-- fetch log. Never DELETE, never the amendments, items or import log.
grant insert, update on transparency.contracts to fiscal_worker;
grant select, insert, update on transparency.api_fetches to fiscal_worker;
