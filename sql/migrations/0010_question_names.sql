-- The names a citizen's question is resolved against (src/question): every
-- agency, órgão and UG, and every supplier, of the contracts imported.
--
-- Reading them from transparency.contracts at each question would scan the
-- table (a million rows name a few thousand units). They are kept instead by a
-- statement trigger, from the rows each insert adds, whoever inserts them:
-- `fiscal import` and the Portal API cache alike. The trigger is security
-- definer so the worker role, which writes API rows, needs no grant on these
-- tables beyond reading them.

-- `seen_month` is the newest publication month the name came from: importing
-- an older month after a newer one keeps the newer name.
create table if not exists transparency.units (
    level text not null check (level in ('orgao_superior', 'orgao', 'ug')),
    code text not null,
    name text not null,
    seen_month date not null,
    primary key (level, code)
);

create table if not exists transparency.suppliers (
    code text primary key,
    name text not null,
    seen_month date not null,
    -- transparency.fold(name): for whole-word candidates (src/question/lookup.rs).
    name_busca text not null
);

-- The worker compares names folded in Rust (src/pipeline/text.rs); this is a
-- cheap twin to find candidates by: lower case, the accents of Portuguese
-- removed, punctuation turned into spaces, by translate() alone. A regexp
-- would fold exactly but costs ten times more per name at import. Candidates
-- are checked again in Rust, so this only has to find every true match.
-- No SET clause, so the planner inlines it; its standard-SQL body is bound when
-- created, so the caller's search_path cannot redirect it.
create or replace function transparency.fold(p_text text) returns text
language sql immutable parallel safe
return pg_catalog.lower(pg_catalog.translate(p_text,
    'ÁÀÂÃÄÅÉÈÊËÍÌÎÏÓÒÔÕÖÚÙÛÜÇÑáàâãäåéèêëíìîïóòôõöúùûüçñ.,;:/\-&()[]{}''"!?*+_|@#%$ºª°~^`<>=’‘“”–—'
        || chr(9) || chr(10) || chr(13),
    'AAAAAAEEEEIIIIOOOOOUUUUCNaaaaaaeeeeiiiiooooouuuucn                                         '
        || '   '));

-- The statements that take the names from `p_rows`, a relation with
-- transparency.contracts' columns: an insert's transition table, or the table
-- itself once. A renamed unit takes its newest name. They are returned rather
-- than run because a transition table is visible only to statements the
-- trigger function itself runs, not to a function it calls.
create or replace function transparency.name_statements(p_rows text) returns text[]
language sql immutable
set search_path = pg_catalog, pg_temp
return array[
    format($sql$
        insert into transparency.units (level, code, name, seen_month)
        select distinct on (level, code) level, code, name, newest
        from (
            -- Grouped first (a hash over the rows), sorted after: a few thousand
            -- units, not three sorts of every row.
            select v.level, v.code, pg_catalog.btrim(v.name) as name,
                   max(r.source_month) as newest
            from %1$s r
            cross join lateral (values
                ('orgao_superior', r.codigo_orgao_superior, r.nome_orgao_superior),
                ('orgao', r.codigo_orgao, r.nome_orgao),
                ('ug', r.codigo_ug, r.nome_ug)) v(level, code, name)
            where v.code is not null and v.code <> ''
              and v.name is not null and pg_catalog.btrim(v.name) <> ''
            group by 1, 2, 3
        ) u
        order by level, code, newest desc, name
        on conflict (level, code) do update
            set name = excluded.name, seen_month = excluded.seen_month
            where excluded.seen_month > transparency.units.seen_month
               or excluded.seen_month = transparency.units.seen_month
                  and excluded.name is distinct from transparency.units.name
    $sql$, p_rows),
    format($sql$
        insert into transparency.suppliers (code, name, seen_month, name_busca)
        select code, name, newest, transparency.fold(name)
        from (
            select distinct on (code) code, name, newest
            from (
                select r.codigo_contratado as code, pg_catalog.btrim(r.nome_contratado) as name,
                       max(r.source_month) as newest
                from %1$s r
                where r.codigo_contratado is not null and r.codigo_contratado <> ''
                  and r.nome_contratado is not null and pg_catalog.btrim(r.nome_contratado) <> ''
                group by 1, 2
            ) g
            order by code, newest desc, name
        ) s
        -- Folded only when there is something to learn: a new supplier, or a
        -- name from a month newer than the one known.
        where not exists (
            select 1 from transparency.suppliers k
            where k.code = s.code and k.seen_month >= s.newest
              and (k.name = s.name or k.seen_month > s.newest))
        order by code
        on conflict (code) do update
            set name = excluded.name, seen_month = excluded.seen_month,
                name_busca = excluded.name_busca
            where excluded.seen_month >= transparency.suppliers.seen_month
    $sql$, p_rows)
];

create or replace function transparency.remember_names() returns trigger
language plpgsql volatile security definer
set search_path = pg_catalog, pg_temp
as $$
declare
    statement text;
begin
    foreach statement in array transparency.name_statements('added') loop
        execute statement;
    end loop;
    return null;
end
$$;

drop trigger if exists contracts_remember_names_inserted on transparency.contracts;
create trigger contracts_remember_names_inserted
    after insert on transparency.contracts
    referencing new table as added
    for each statement execute function transparency.remember_names();

drop trigger if exists contracts_remember_names_updated on transparency.contracts;
create trigger contracts_remember_names_updated
    after update on transparency.contracts
    referencing new table as added
    for each statement execute function transparency.remember_names();

-- What was imported before this migration.
do $$
declare
    statement text;
begin
    foreach statement in array transparency.name_statements('transparency.contracts') loop
        execute statement;
    end loop;
end
$$;

revoke all on transparency.units, transparency.suppliers from public, anon, authenticated;
grant select on transparency.units, transparency.suppliers to service_role, fiscal_worker;
revoke all on function transparency.remember_names() from public;
