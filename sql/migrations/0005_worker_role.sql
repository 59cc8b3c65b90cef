-- `fiscal_worker`: the least-privilege role `fiscal work` and `fiscal status`
-- need, so the worker's URL holds neither a superuser, the table owner, nor a
-- BYPASSRLS role such as service_role. It is NOLOGIN: operators log in through a
-- role of their own that is a member of it,
--
--     create role fiscal_app login password '…' in role fiscal_worker;
--
-- while `fiscal migrate` and `fiscal import` keep running as the owner
-- (`database.migrate_url`).
--
-- Each grant below names the statements that need it (src/queue.rs,
-- src/status.rs, src/sources/contracts.rs, src/db/migrate.rs). The role is
-- cluster-wide while migrations run per database: the CREATE is guarded and
-- tolerates a concurrent creator in another database.

do $$
begin
    if not exists (select 1 from pg_roles where rolname = 'fiscal_worker') then
        begin
            create role fiscal_worker nologin;
        exception when duplicate_object or unique_violation then
            null;
        end;
    end if;
end
$$;

-- Revoke first, so that re-running this file (or a database where someone granted
-- more by hand) ends with exactly the grants below.
revoke all on public.investigations from fiscal_worker;
revoke all on all tables in schema fiscal from fiscal_worker;
revoke all on all tables in schema transparency from fiscal_worker;

grant usage on schema public, fiscal, transparency to fiscal_worker;

-- The claim, the fence checks, `--drain` and `fiscal status` read rows; the claim's
-- FOR UPDATE SKIP LOCKED needs UPDATE as well.
grant select on public.investigations to fiscal_worker;
-- Exactly the columns the claim, progress, heartbeat, complete, fail, retry,
-- release and sweep statements set. Never query, filters, user_id or the
-- citizen's other input; never INSERT or DELETE.
grant update (
    status, current_phase, progress, attempts, claim_token, locked_by,
    lease_expires_at, run_after, started_at, completed_at, processing_time_ms,
    results, anomalies_found, total_records_analyzed, confidence_score, summary,
    investigation_metadata, error_message
) on public.investigations to fiscal_worker;

-- RLS stays on for the worker instead of BYPASSRLS: it sees every row (it works
-- for all citizens) but changes only the active ones, and may not make a row
-- cancelled (the citizen's word) or bring a finished one back.
drop policy if exists "Workers read all investigations" on public.investigations;
create policy "Workers read all investigations"
    on public.investigations for select to fiscal_worker
    using (true);

drop policy if exists "Workers run active investigations" on public.investigations;
create policy "Workers run active investigations"
    on public.investigations for update to fiscal_worker
    using (status in ('pending', 'processing'))
    with check (status in ('pending', 'processing', 'completed', 'failed'));

-- The heartbeat row `fiscal status` lists (insert/refresh, remove, prune).
grant select, insert, update, delete on fiscal.workers to fiscal_worker;
-- `fiscal work` refuses an outdated schema: it reads which migrations ran.
grant select on fiscal.schema_migrations to fiscal_worker;
-- The retry and sweep statements compute run_after with it.
grant execute on function fiscal.retry_at(integer, float8, float8, float8) to fiscal_worker;

-- The contracts data source reads contracts and their amendments; `fiscal import`
-- writes them as the owner.
grant select on transparency.contracts, transparency.amendments to fiscal_worker;
