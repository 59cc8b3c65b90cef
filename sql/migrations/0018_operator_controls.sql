-- Operator controls: `fiscal pause` and `fiscal resume` flip one fleet-wide
-- switch in fiscal.settings that every claim reads (src/queue.rs, CLAIM), so a
-- pause reaches every worker at its next claim, needs no restart and survives
-- one. Running investigations finish; nothing new is taken.
create or replace function fiscal.claims_paused() returns boolean
language sql stable security definer
set search_path = pg_catalog, pg_temp
as $$
    select coalesce(
        (select (value #>> '{}')::boolean from fiscal.settings where key = 'claims_paused'),
        false)
$$;
revoke all on function fiscal.claims_paused() from public;
grant execute on function fiscal.claims_paused() to fiscal_worker;
