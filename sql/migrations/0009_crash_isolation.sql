-- An attempt whose worker vanished (the lease sweep found it expired) may be
-- what killed the worker: a record that makes the process abort, exhaust its
-- memory or overflow its stack. Every other job that process was running lost
-- its attempt too, so after a few such crashes innocent investigations would
-- fail beside the guilty one. The sweep marks each row it recovers; workers run
-- marked rows alone, only when they have nothing else in flight, so that a
-- second crash costs the suspect its attempt and nobody else theirs.

alter table public.investigations
    add column if not exists orphaned_attempts integer not null default 0;

comment on column public.investigations.orphaned_attempts is
    'Attempts that ended with their worker gone (recovered by the lease sweep). '
    'Rows with any run alone.';

-- Suspects are few: the claim looks them up, and checks whether any are
-- overdue, without walking the pending rows.
create index if not exists idx_investigations_suspects
    on public.investigations (run_after, created_at)
    where status = 'pending' and orphaned_attempts > 0;

-- The sweep (SWEEP_EXPIRED in src/queue.rs) counts them.
grant update (orphaned_attempts) on public.investigations to fiscal_worker;
