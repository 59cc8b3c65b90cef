-- Two changes to the order in which the claim takes pending rows.
--
-- 1. Fair shares. The claim took the oldest rows first, so one citizen's burst
-- (with the cap raised, or a back office inserting for many) made everyone
-- after it wait for all of it. Each row now carries `queue_at`, its place in
-- the queue: a citizen's insert takes the later of now and that citizen's
-- previous place plus `queue_quantum_ms`. A citizen with a thousand rows
-- waiting holds places a second apart (by default), and a newcomer's row goes
-- in between, near the front: round-robin across citizens, from one index
-- walk. Inserts of other roles (owner, service) queue at now(). Retries and
-- swept rows queue at their retry time.
--
-- 2. Crash isolation, below.

alter table public.investigations
    add column if not exists queue_at timestamptz not null default now();
comment on column public.investigations.queue_at is
    'Place in the claim order; see migration 0009_claim_order.';
update public.investigations set queue_at = greatest(run_after, created_at)
where status = 'pending';

create index if not exists idx_investigations_queue
    on public.investigations (queue_at) where status = 'pending';
-- The claim walked this one; idx_investigations_queue replaces it.
drop index if exists idx_investigations_claimable;

-- The citizen's clock lives beside the insert budget, whose row lock already
-- serialises a citizen's inserts.
alter table fiscal.insert_budget add column if not exists queue_clock timestamptz;

-- Security definer like spend_insert_token; no argument, so it only ever moves
-- the caller's own clock. Called after spend_insert_token, so the row exists.
create or replace function fiscal.take_queue_slot() returns timestamptz
language plpgsql volatile security definer
set search_path = pg_catalog, pg_temp
as $$
declare
    quantum interval := greatest(fiscal.setting_int('queue_quantum_ms', 1000), 0)
                        * interval '1 millisecond';
    slot timestamptz;
begin
    update fiscal.insert_budget
    set queue_clock = greatest(queue_clock, now()) + quantum
    where user_id = auth.uid()
    returning queue_clock - quantum into slot;
    return coalesce(slot, now());
end
$$;
revoke execute on function fiscal.take_queue_slot() from public;
grant execute on function fiscal.take_queue_slot() to authenticated;

-- A trigger of its own rather than a copy of 0008's cap with one line more.
-- Triggers of one kind fire in name order: this one after
-- investigations_enforce_active_cap, whose spend_insert_token created the
-- citizen's budget row and whose refusals end the insert before a place is taken.
create or replace function fiscal.take_queue_place() returns trigger
language plpgsql as $$
begin
    if current_user = 'authenticated' then
        new.queue_at := fiscal.take_queue_slot();
    end if;
    return new;
end
$$;
drop trigger if exists investigations_take_queue_place on public.investigations;
create trigger investigations_take_queue_place
    before insert on public.investigations
    for each row execute function fiscal.take_queue_place();

-- The worker moves rows in the queue when it retries, sweeps or releases them.
grant update (queue_at) on public.investigations to fiscal_worker;

-- 2. Crash isolation. An attempt whose worker vanished (the lease sweep found it expired) may be
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
    on public.investigations (queue_at)
    where status = 'pending' and orphaned_attempts > 0;

-- The sweep (SWEEP_EXPIRED in src/queue.rs) counts them.
grant update (orphaned_attempts) on public.investigations to fiscal_worker;

-- Vacuum. Every investigation leaves dead versions behind (the claim, the
-- ending; progress writes are HOT and pruned within their page), and each
-- claim walks the pending index from its start, over entries of rows that
-- were pending once, until vacuum removes them. With the default scale factor
-- (0.2) a table of a million finished rows waits for 200,000 dead versions;
-- at 0.02 it waits for 20,000, and a table that only grows by inserts is
-- still visited for its visibility map. Nothing here helps while a
-- transaction somewhere holds the cleanup horizon back (see the README's
-- idle_in_transaction_session_timeout); it shortens the recovery afterwards.
alter table public.investigations set (
    autovacuum_vacuum_scale_factor = 0.02,
    autovacuum_vacuum_threshold = 1000,
    autovacuum_vacuum_insert_scale_factor = 0.05,
    autovacuum_analyze_scale_factor = 0.02
);

-- The data source is checked before the table's check constraint, so that the
-- citizen reads why in Portuguese instead of PostgreSQL's English. A trigger of
-- its own, named to fire before 0008's input check.
create or replace function fiscal.check_data_source() returns trigger
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
begin
    if new.data_source not in ('contracts', 'expenses', 'agreements', 'biddings', 'servants') then
        raise exception using
            errcode = 'PT400',
            message = format(
                'A fonte de dados "%s" não existe. Use uma destas: contracts (contratos), '
                'expenses (despesas), agreements (convênios), biddings (licitações) ou '
                'servants (servidores).',
                left(regexp_replace(new.data_source, '[[:cntrl:]]', ' ', 'g'), 60));
    end if;
    return new;
end
$$;
drop trigger if exists investigations_check_data_source on public.investigations;
create trigger investigations_check_data_source
    before insert on public.investigations
    for each row execute function fiscal.check_data_source();
