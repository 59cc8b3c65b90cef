-- The names a citizen's question is resolved against (src/question): every
-- agency, órgão and UG, and every supplier, of the contracts imported.
--
-- Reading them from transparency.contracts at each question would scan the
-- table (a million rows name a few thousand units). They are kept instead by a
-- statement trigger, from the rows each insert adds, whoever inserts them:
-- `fiscal import` and the Portal API cache alike. The trigger is security
-- definer so the worker role, which writes API rows, needs no grant on these
-- tables beyond reading them.

create table if not exists transparency.units (
    level text not null check (level in ('orgao_superior', 'orgao', 'ug')),
    code text not null,
    name text not null,
    primary key (level, code)
);

create table if not exists transparency.suppliers (
    code text primary key,
    name text not null,
    -- Folded like the importer's *_busca columns (lower case, no accents, only
    -- letters, digits and single spaces), for whole-word matching.
    name_busca text not null
);

-- The importer folds in Rust; this is its SQL twin for the letters Portuguese
-- names use. Other letters are dropped rather than kept, which only makes a
-- supplier harder to find by them, never wrongly found.
create or replace function transparency.fold(p_text text) returns text
language sql immutable parallel safe
set search_path = pg_catalog, pg_temp
return btrim(regexp_replace(
    lower(translate(p_text,
        'ÁÀÂÃÄÅÉÈÊËÍÌÎÏÓÒÔÕÖÚÙÛÜÇÑáàâãäåéèêëíìîïóòôõöúùûüçñ',
        'AAAAAAEEEEIIIIOOOOOUUUUCNaaaaaaeeeeiiiiooooouuuucn')),
    '[^a-z0-9]+', ' ', 'g'));

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
        insert into transparency.units (level, code, name)
        select distinct on (level, code) level, code, name
        from (
            select 'orgao_superior' as level, codigo_orgao_superior as code,
                   btrim(nome_orgao_superior) as name, source_month
            from %1$s
            union all
            select 'orgao', codigo_orgao, btrim(nome_orgao), source_month from %1$s
            union all
            select 'ug', codigo_ug, btrim(nome_ug), source_month from %1$s
        ) u
        where code is not null and code <> '' and name is not null and name <> ''
        order by level, code, source_month desc, name
        on conflict (level, code) do update set name = excluded.name
            where transparency.units.name is distinct from excluded.name
    $sql$, p_rows),
    format($sql$
        insert into transparency.suppliers (code, name, name_busca)
        select distinct on (codigo_contratado) codigo_contratado, btrim(nome_contratado),
               transparency.fold(nome_contratado)
        from %1$s
        where codigo_contratado is not null and codigo_contratado <> ''
          and nome_contratado is not null and btrim(nome_contratado) <> ''
        order by codigo_contratado, source_month desc, nome_contratado
        on conflict (code) do update
            set name = excluded.name, name_busca = excluded.name_busca
            where transparency.suppliers.name is distinct from excluded.name
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
