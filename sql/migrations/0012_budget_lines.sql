-- The federal budget by line ("Orçamento da Despesa"), as `fiscal import` loads
-- the Portal da Transparência's yearly file (src/sources/expenses). One row per
-- budget line: the year and the full classification down to the expense
-- element, with the initial, updated (after créditos adicionais and
-- cancellations), committed (empenhado) and realised amounts.
--
-- The Portal writes one line in several rows, split by a dimension the file does
-- not carry (fonte, plano orçamentário); the import sums them. The file is
-- regenerated every night while a year is open, so a newer import of the same
-- year updates the amounts it changed.
--
-- Codes are text: they keep leading zeros ("04", "0032") and actions are
-- alphanumeric ("00JG"). Names follow the organisation of the day the file was
-- generated, so retrieval filters on codes. Amounts may be negative.

create table if not exists transparency.budget_lines (
    line_id text primary key,
    exercicio integer not null,
    source_file text not null,
    source_line integer not null,
    codigo_orgao_superior text not null,
    nome_orgao_superior text not null,
    codigo_orgao text not null,
    nome_orgao text not null,
    codigo_uo text not null,
    nome_uo text not null,
    codigo_funcao text not null,
    nome_funcao text not null,
    codigo_subfuncao text not null,
    nome_subfuncao text not null,
    codigo_programa text not null,
    nome_programa text not null,
    codigo_acao text not null,
    nome_acao text not null,
    nome_acao_busca text not null,
    codigo_categoria text not null,
    nome_categoria text not null,
    codigo_grupo text not null,
    nome_grupo text not null,
    codigo_elemento text not null,
    nome_elemento text not null,
    inicial numeric(20, 2) not null,
    atualizado numeric(20, 2) not null,
    empenhado numeric(20, 2) not null,
    realizado numeric(20, 2) not null,
    -- Rows of the file summed into this line.
    parts integer not null default 1,
    imported_at timestamptz not null default now()
);

-- Investigations narrow by year and agency; the peers of a line are the lines
-- of its year and expense group.
create index if not exists budget_lines_year_superior
    on transparency.budget_lines (exercicio, codigo_orgao_superior);
create index if not exists budget_lines_year_orgao
    on transparency.budget_lines (exercicio, codigo_orgao);
create index if not exists budget_lines_year_grupo
    on transparency.budget_lines (exercicio, codigo_grupo);

revoke all on transparency.budget_lines from public, anon, authenticated;
grant select on transparency.budget_lines to service_role, fiscal_worker;
