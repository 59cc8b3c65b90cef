-- `fiscal watch ID` follows one investigation through LISTEN on a channel named
-- after it. Only changes of status or phase notify: progress writes come up to
-- four times a second per job, and every notifying commit takes the cluster-wide
-- notification lock, so `watch` reads the fraction itself between transitions.
-- The frontend does not need any of this: it follows the row through Realtime.

create or replace function fiscal.notify_investigation_watchers() returns trigger
language plpgsql as $$
declare
    changed record;
begin
    for changed in
        select n.id, n.status
        from new_rows n join old_rows o on o.id = n.id
        where n.status is distinct from o.status
           or n.current_phase is distinct from o.current_phase
    loop
        perform pg_notify('fiscal_watch_' || replace(changed.id::text, '-', ''), changed.status);
    end loop;
    return null;
end
$$;

drop trigger if exists investigations_notify_watchers on public.investigations;
create trigger investigations_notify_watchers
    after update on public.investigations
    referencing new table as new_rows old table as old_rows
    for each statement execute function fiscal.notify_investigation_watchers();

-- The original schema indexes `status` on its own. With finished rows making up
-- nearly the whole table, the planner then reads all pending rows through it and
-- sorts them, instead of walking `idx_investigations_claimable` in order and
-- stopping at the batch size; measured by `fiscal bench`, claims slowed with every
-- finished row. Every query of the frontend that filters by status also filters
-- by user (`idx_investigations_user_status`), and `fiscal status` reads failures
-- through the partial index below, so the plain index only costs: it changes with
-- every state transition.
drop index if exists public.idx_investigations_status;
create index if not exists idx_investigations_failed
    on public.investigations (completed_at desc) where status = 'failed';
