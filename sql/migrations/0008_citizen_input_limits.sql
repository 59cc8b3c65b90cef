-- What a citizen may write, bounded in the database, where the frontend's insert
-- lands; the worker checks the same limits again for rows stored before this
-- migration (src/input.rs holds the same numbers, and a test pins both sides).
--
-- * Sizes and shapes of query, session_id, filters and anomaly_types are refused
--   at insert with a pt-BR message and a SQLSTATE PostgREST turns into an HTTP
--   status: PT413 (too large) and PT400 (malformed). Nothing over the limits
--   reaches the table, so nothing over them reaches the WAL or a Realtime event.
-- * A per-citizen brake on inserts (a token bucket), so insert+cancel loops cannot
--   flood the queue or Realtime.
-- * The per-citizen cap on active investigations holds under every isolation
--   level. Its count reads the transaction's snapshot, which under REPEATABLE
--   READ can predate a concurrent insert that has committed since (so 0002's
--   advisory lock was not enough). Every citizen insert first updates the
--   citizen's bucket row, and a row update does not depend on the snapshot:
--   under READ COMMITTED the second insert waits for the first and counts after
--   it; under REPEATABLE READ and SERIALIZABLE it fails with 40001 (try again).
--   That row lock is what serialises one citizen's inserts now.
-- * Functions created later in schema fiscal are not executable by everyone, and
--   the worker role may write only the contracts it cached from the API.

alter table public.investigations alter column session_id type text;

-- Runs as the caller; reads nothing. Depth counts containers: {"a": 1} is 1.
create or replace function fiscal.check_citizen_json(p_column text, p_value jsonb,
                                                     p_max_bytes integer, p_max_depth integer,
                                                     p_max_items integer)
returns void
language plpgsql stable
set search_path = pg_catalog, pg_temp
as $$
declare
    size integer;
    depth integer;
    items integer;
    big_number boolean;
    long_text boolean;
begin
    if p_value is null then
        return;
    end if;
    size := octet_length(p_value::text);
    if size > p_max_bytes then
        raise exception using
            errcode = 'PT413',
            message = format('O campo %s é grande demais (%s bytes); o máximo é %s bytes.',
                             p_column, size, p_max_bytes),
            hint = 'Envie só os filtros da pergunta, como {"year": 2024, "min_value": 1000000}.';
    end if;
    -- The size bound above keeps this walk short (a few thousand nodes at most).
    with recursive walk(v, d) as (
        select p_value, case when jsonb_typeof(p_value) in ('object', 'array') then 1 else 0 end
        union all
        select c.value, w.d + 1
        from walk w
        cross join lateral (
            select e.value from jsonb_each(case when jsonb_typeof(w.v) = 'object' then w.v end) e
            union all
            select a.value from jsonb_array_elements(case when jsonb_typeof(w.v) = 'array' then w.v end) a
        ) c
        where w.d <= p_max_depth
    )
    select max(d) filter (where jsonb_typeof(v) in ('object', 'array')),
           count(*) - 1,
           coalesce(bool_or(jsonb_typeof(v) = 'number' and abs((v #>> '{}')::numeric) >= 1e15), false),
           coalesce(bool_or(jsonb_typeof(v) = 'string' and char_length(v #>> '{}') > 500), false)
    into depth, items, big_number, long_text
    from walk;
    if depth > p_max_depth then
        raise exception using
            errcode = 'PT400',
            message = format('O campo %s tem níveis demais de objetos ou listas uns dentro dos '
                             'outros; o máximo é %s.', p_column, p_max_depth);
    end if;
    if items > p_max_items then
        raise exception using
            errcode = 'PT413',
            message = format('O campo %s tem itens demais (%s); o máximo é %s.',
                             p_column, items, p_max_items);
    end if;
    if big_number then
        raise exception using
            errcode = 'PT400',
            message = format('O campo %s tem um número grande demais; use valores abaixo de '
                             '1.000.000.000.000.000.', p_column);
    end if;
    if long_text then
        raise exception using
            errcode = 'PT413',
            message = format('O campo %s tem um texto longo demais; cada texto pode ter até '
                             '500 caracteres.', p_column);
    end if;
end
$$;

-- Every insert, whoever sends it: the back office is bounded as citizens are, so
-- the worker never meets a row it would refuse.
create or replace function fiscal.check_investigation_input() returns trigger
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
begin
    if char_length(new.query) > 2000 then
        raise exception using
            errcode = 'PT413',
            message = format('A pergunta é longa demais (%s caracteres); o máximo é 2000.',
                             char_length(new.query)),
            hint = 'Escreva a pergunta em poucas frases, como "contratos acima de R$ 1 milhão '
                   'em 2024 no Ministério da Saúde".';
    end if;
    if char_length(new.session_id) > 255 then
        raise exception using
            errcode = 'PT413',
            message = 'O identificador de sessão (session_id) é longo demais; o máximo é 255 '
                      'caracteres.';
    end if;
    if jsonb_typeof(new.filters) not in ('object', 'null') then
        raise exception using
            errcode = 'PT400',
            message = 'O campo filters deve ser um objeto JSON, como {"year": 2024}.';
    end if;
    if jsonb_typeof(new.anomaly_types) not in ('array', 'null') then
        raise exception using
            errcode = 'PT400',
            message = 'O campo anomaly_types deve ser uma lista JSON, como ["price", "vendor"].';
    end if;
    perform fiscal.check_citizen_json('filters', new.filters, 4096, 3, 64);
    perform fiscal.check_citizen_json('anomaly_types', new.anomaly_types, 1024, 1, 16);
    return new;
end
$$;

drop trigger if exists investigations_check_input on public.investigations;
create trigger investigations_check_input
    before insert on public.investigations
    for each row execute function fiscal.check_investigation_input();

-- The token bucket of each citizen's inserts: `tokens` refills at
-- `max_inserts_per_minute` per minute up to the same number.
create table if not exists fiscal.insert_budget (
    user_id uuid primary key,
    tokens double precision not null,
    refilled_at timestamptz not null
);
revoke all on fiscal.insert_budget from public, anon, authenticated;

-- Security definer so a citizen's insert may spend from the bucket without
-- reading it; it takes no argument, so it only ever spends the caller's own.
create or replace function fiscal.spend_insert_token() returns double precision
language plpgsql volatile security definer
set search_path = pg_catalog, pg_temp
as $$
declare
    per_minute double precision := greatest(fiscal.setting_int('max_inserts_per_minute', 20), 1);
    who uuid := auth.uid();
    left_over double precision;
begin
    -- No signed-in citizen: the insert fails its RLS check (user_id = auth.uid()).
    if who is null then
        return per_minute;
    end if;
    insert into fiscal.insert_budget as b (user_id, tokens, refilled_at)
    values (who, per_minute - 1, clock_timestamp())
    on conflict (user_id) do update
    set tokens = least(per_minute,
                       b.tokens + extract(epoch from clock_timestamp() - b.refilled_at) * per_minute / 60)
                 - 1,
        refilled_at = clock_timestamp()
    returning tokens into left_over;
    return left_over;
end
$$;

-- The cap, now behind the insert brake, which replaces 0002's advisory lock
-- (see the top of this file).
create or replace function fiscal.enforce_active_cap() returns trigger
language plpgsql as $$
declare
    cap integer;
    active integer;
begin
    if current_user <> 'authenticated' or new.status not in ('pending', 'processing') then
        return new;
    end if;
    if fiscal.spend_insert_token() < 0 then
        raise exception using
            errcode = 'PT429',
            message = 'Você criou investigações rápido demais. Espere um minuto antes de '
                      'pedir outra.',
            hint = format('Limite de %s investigações novas por minuto por pessoa.',
                          fiscal.setting_int('max_inserts_per_minute', 20));
    end if;
    -- Spending above locked the citizen's bucket row until commit: the count
    -- below cannot race another insert of the same citizen.
    cap := fiscal.setting_int('max_active_per_user', 5);
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

-- Functions: nothing in schema fiscal is executable by PUBLIC unless granted
-- below, now or for functions added later. PostgreSQL's EXECUTE for PUBLIC is a
-- global default, which a per-schema default cannot take back, so the owner's
-- global default changes: functions it creates later anywhere are executable by
-- those granted (Supabase's per-schema defaults on public still grant its roles).
-- Trigger functions need no grant to fire.
alter default privileges revoke execute on functions from public;
revoke execute on all functions in schema fiscal from public;
grant execute on function fiscal.setting_int(text, integer) to authenticated, service_role;
grant execute on function fiscal.spend_insert_token() to authenticated;
grant execute on function fiscal.check_citizen_json(text, jsonb, integer, integer, integer)
    to authenticated, service_role;
grant execute on function fiscal.retry_at(integer, float8, float8, float8) to fiscal_worker;
-- anon cannot insert; it needs nothing in schema fiscal.
revoke usage on schema fiscal from anon;

-- The worker caches API contracts (source_file 'api:…') and must not touch the
-- rows of the bulk import. The owner (fiscal import) is not subject to RLS.
alter table transparency.contracts enable row level security;
drop policy if exists "Everyone with a grant reads contracts" on transparency.contracts;
create policy "Everyone with a grant reads contracts"
    on transparency.contracts for select using (true);
drop policy if exists "Workers insert API contracts" on transparency.contracts;
create policy "Workers insert API contracts"
    on transparency.contracts for insert to fiscal_worker
    with check (source_file like 'api:%');
drop policy if exists "Workers refresh API contracts" on transparency.contracts;
create policy "Workers refresh API contracts"
    on transparency.contracts for update to fiscal_worker
    using (source_file like 'api:%') with check (source_file like 'api:%');
