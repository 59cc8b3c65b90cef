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
