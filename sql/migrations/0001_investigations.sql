-- The investigations table as the original Supabase migration published it:
-- every column, constraint, index, trigger, view and function the frontend and
-- its operators rely on, under the same names.
--
-- Written with IF NOT EXISTS / OR REPLACE so that it also adopts a database where
-- the original migration already ran: the later migrations then harden it.

create table if not exists public.investigations (
    id uuid primary key default gen_random_uuid(),
    user_id uuid not null default auth.uid() references auth.users(id) on delete cascade,
    session_id varchar(255),
    query text not null,
    data_source varchar(100) not null,
    status varchar(50) not null default 'pending',
    current_phase varchar(100),
    progress double precision default 0,
    anomalies_found integer default 0,
    total_records_analyzed integer default 0,
    confidence_score double precision,
    filters jsonb default '{}'::jsonb,
    anomaly_types jsonb default '[]'::jsonb,
    results jsonb default '[]'::jsonb,
    investigation_metadata jsonb default '{}'::jsonb,
    summary text,
    error_message text,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    started_at timestamptz,
    completed_at timestamptz,
    processing_time_ms integer,
    constraint valid_status
        check (status in ('pending', 'processing', 'completed', 'failed', 'cancelled')),
    constraint valid_data_source
        check (data_source in ('contracts', 'expenses', 'agreements', 'biddings', 'servants')),
    constraint valid_progress check (progress >= 0 and progress <= 1),
    constraint valid_confidence
        check (confidence_score is null or (confidence_score >= 0 and confidence_score <= 1))
);

create index if not exists idx_investigations_user_id on public.investigations (user_id);
create index if not exists idx_investigations_status on public.investigations (status);
create index if not exists idx_investigations_created_at on public.investigations (created_at desc);
create index if not exists idx_investigations_user_status on public.investigations (user_id, status);
create index if not exists idx_investigations_session_id on public.investigations (session_id)
    where session_id is not null;
create index if not exists idx_investigations_user_created
    on public.investigations (user_id, created_at desc);
create index if not exists idx_investigations_filters on public.investigations using gin (filters);
create index if not exists idx_investigations_results on public.investigations using gin (results);

create or replace function public.update_updated_at_column() returns trigger
language plpgsql as $$
begin
    new.updated_at = now();
    return new;
end
$$;

drop trigger if exists update_investigations_updated_at on public.investigations;
create trigger update_investigations_updated_at
    before update on public.investigations
    for each row execute function public.update_updated_at_column();

-- security_invoker: the view answers with the caller's rights, so RLS on the table
-- applies through it (the original view ran as its owner).
create or replace view public.investigation_summaries with (security_invoker = true) as
select
    id, user_id, query, data_source, status, progress, current_phase,
    anomalies_found, total_records_analyzed, confidence_score,
    created_at, updated_at, started_at, completed_at, processing_time_ms,
    jsonb_array_length(coalesce(results, '[]'::jsonb)) as results_count
from public.investigations;

-- The original was SECURITY DEFINER and answered about any user id it was given.
-- As SECURITY INVOKER, RLS limits a citizen to their own rows whatever they pass.
drop function if exists public.get_investigation_stats(uuid);
create function public.get_investigation_stats(p_user_id uuid)
returns table (
    total_investigations bigint,
    completed_investigations bigint,
    failed_investigations bigint,
    pending_investigations bigint,
    total_anomalies bigint,
    avg_confidence double precision,
    avg_processing_time_ms double precision
)
language sql stable security invoker
set search_path = public, pg_temp
as $$
    select
        count(*),
        count(*) filter (where status = 'completed'),
        count(*) filter (where status = 'failed'),
        count(*) filter (where status in ('pending', 'processing')),
        coalesce(sum(anomalies_found), 0),
        avg(confidence_score),
        avg(processing_time_ms)::double precision
    from public.investigations
    where user_id = p_user_id
$$;
