-- The queue: what turns `investigations` into a work queue that any number of
-- workers share safely.
--
-- Invariants (see src/queue.rs for the statements that keep them):
-- * Only a worker holding the current `claim_token` of a `processing` row may write
--   to it; every claim draws a new token, so a worker that lost its lease (paused,
--   partitioned, slow) is fenced out of every later write.
-- * The claim and the lease sweep read partial indexes whose size is the number of
--   pending / processing rows, never the number of finished ones.
-- * No index covers a column the progress write changes (progress, current_phase,
--   lease_expires_at, updated_at), so progress writes stay HOT updates.

create schema if not exists fiscal;
revoke all on schema fiscal from public;

-- Database-side settings, written by `fiscal migrate` from the configuration so
-- that triggers and defaults do not carry literals.
create table if not exists fiscal.settings (
    key text primary key,
    value jsonb not null,
    updated_at timestamptz not null default now()
);

create or replace function fiscal.setting_int(p_key text, p_default integer) returns integer
language sql stable security definer
set search_path = pg_catalog, pg_temp
as $$
    select coalesce((select (value #>> '{}')::integer from fiscal.settings where key = p_key), p_default)
$$;

-- One row per running worker process, refreshed by its heartbeat; `fiscal status`
-- reads it, and rows of crashed workers age out by `last_seen_at`.
create table if not exists fiscal.workers (
    worker_id text primary key,
    hostname text not null,
    pid integer not null,
    version text not null,
    concurrency integer not null,
    running integer not null default 0,
    started_at timestamptz not null default now(),
    last_seen_at timestamptz not null default now()
);

-- When a failed attempt may run again: base·2^(attempt-1) seconds, capped, ± a
-- jitter fraction so that jobs failing together do not retry together. One
-- formula for the worker's retries and the lease sweep.
create or replace function fiscal.retry_at(
    p_attempt integer, p_base_seconds float8, p_max_seconds float8, p_jitter float8
) returns timestamptz
language sql volatile as $$
    select now() + make_interval(secs =>
        least(p_base_seconds * power(2, greatest(p_attempt - 1, 0)), p_max_seconds)
        * (1 + p_jitter * (2 * random() - 1)))
$$;

alter table public.investigations
    add column if not exists attempts integer not null default 0,
    add column if not exists max_attempts integer not null
        default fiscal.setting_int('max_attempts', 5),
    add column if not exists run_after timestamptz not null default now(),
    add column if not exists locked_by text,
    add column if not exists lease_expires_at timestamptz,
    add column if not exists claim_token uuid;

-- Room on each page for the new version of a row, so progress writes stay on the
-- page (HOT) instead of touching every index.
alter table public.investigations set (fillfactor = 70);

-- The claim reads pending rows in run_after order; finished rows never enter.
create index if not exists idx_investigations_claimable
    on public.investigations (run_after, created_at) where status = 'pending';
-- The lease sweep, heartbeats and `--drain` read processing rows. Keyed by id, not
-- by lease_expires_at, which every progress write changes.
create index if not exists idx_investigations_processing
    on public.investigations (id) where status = 'processing';

-- Wake-ups: one NOTIFY per statement, however many rows it touched, so a bulk
-- insert of ten thousand rows costs listeners one message. Payload 'pending' means
-- "there may be work", 'cancelled' means "a running job may have been cancelled".
create or replace function fiscal.notify_investigations_inserted() returns trigger
language plpgsql as $$
begin
    if exists (select 1 from new_rows where status = 'pending') then
        perform pg_notify('fiscal_investigations', 'pending');
    end if;
    return null;
end
$$;

create or replace function fiscal.notify_investigations_updated() returns trigger
language plpgsql as $$
begin
    if exists (
        select 1 from new_rows n join old_rows o using (id)
        where n.status = 'pending' and o.status <> 'pending'
    ) then
        perform pg_notify('fiscal_investigations', 'pending');
    end if;
    if exists (
        select 1 from new_rows n join old_rows o using (id)
        where n.status = 'cancelled' and o.status = 'processing'
    ) then
        perform pg_notify('fiscal_investigations', 'cancelled');
    end if;
    return null;
end
$$;

drop trigger if exists investigations_notify_inserted on public.investigations;
create trigger investigations_notify_inserted
    after insert on public.investigations
    referencing new table as new_rows
    for each statement execute function fiscal.notify_investigations_inserted();

drop trigger if exists investigations_notify_updated on public.investigations;
create trigger investigations_notify_updated
    after update on public.investigations
    referencing old table as old_rows new table as new_rows
    for each statement execute function fiscal.notify_investigations_updated();

-- A citizen may only flip `status` to 'cancelled'; the worker writes nothing more
-- to that row, so the database completes it here.
create or replace function fiscal.complete_cancelled_investigation() returns trigger
language plpgsql as $$
begin
    if new.status = 'cancelled' and old.status in ('pending', 'processing') then
        new.current_phase := 'cancelled';
        new.completed_at := coalesce(new.completed_at, now());
        new.locked_by := null;
        new.lease_expires_at := null;
        if old.started_at is not null and new.processing_time_ms is null then
            new.processing_time_ms :=
                (extract(epoch from (new.completed_at - old.started_at)) * 1000)::integer;
        end if;
    end if;
    return new;
end
$$;

drop trigger if exists investigations_complete_cancelled on public.investigations;
create trigger investigations_complete_cancelled
    before update of status on public.investigations
    for each row execute function fiscal.complete_cancelled_investigation();

-- The per-citizen cap on active (pending + processing) investigations. It applies
-- to citizens (the `authenticated` role, as PostgREST sets it); the service role
-- and the owner are trusted back-office writers. The advisory lock serialises the
-- inserts of one citizen, so two tabs racing cannot both slip under the cap.
create or replace function fiscal.enforce_active_cap() returns trigger
language plpgsql as $$
declare
    cap integer;
    active integer;
begin
    if current_user <> 'authenticated' or new.status not in ('pending', 'processing') then
        return new;
    end if;
    cap := fiscal.setting_int('max_active_per_user', 5);
    perform pg_advisory_xact_lock(hashtextextended('fiscal.active_cap:' || new.user_id::text, 0));
    select count(*) into active
    from public.investigations
    where user_id = new.user_id and status in ('pending', 'processing');
    if active >= cap then
        raise exception using
            errcode = 'PT429',
            message = format(
                'Você já tem %s investigações em andamento, o máximo permitido. '
                'Aguarde uma terminar ou cancele uma antes de pedir outra.', active),
            hint = format('Limite de %s investigações ativas por pessoa.', cap);
    end if;
    return new;
end
$$;

drop trigger if exists investigations_enforce_active_cap on public.investigations;
create trigger investigations_enforce_active_cap
    before insert on public.investigations
    for each row execute function fiscal.enforce_active_cap();
