-- Expense documents (src/sources/expenses/documents.rs): the commitments
-- (empenhos) and payments the Portal da Transparência publishes one by one,
-- with their payee, as `fiscal import` loads the daily "Despesas" download and
-- as an expenses investigation naming a UG fetches them from
-- /despesas/documentos. A document's full code (UG, gestão, year, NE or OB,
-- number) identifies it across the federal government; a later copy updates
-- what changed and never erases what an earlier one said.

create table if not exists transparency.expense_documents (
    codigo text primary key,
    fase text not null check (fase in ('empenho', 'pagamento')),
    source_file text not null,
    source_line integer not null,
    data_emissao date not null,
    codigo_orgao_superior text,
    nome_orgao_superior text,
    codigo_orgao text,
    nome_orgao text,
    codigo_ug text not null,
    nome_ug text,
    codigo_favorecido text,
    nome_favorecido text,
    codigo_grupo text,
    codigo_elemento text,
    nome_elemento text,
    modalidade_licitacao text,
    -- Commitments: original, reforço or anulação; an anulação's valor is negative.
    especie text,
    observacao text,
    observacao_busca text,
    valor numeric(20, 2),
    imported_at timestamptz not null default now()
);

create index if not exists expense_documents_ug_data
    on transparency.expense_documents (codigo_ug, data_emissao);
create index if not exists expense_documents_orgao_data
    on transparency.expense_documents (codigo_orgao, data_emissao);
create index if not exists expense_documents_superior_data
    on transparency.expense_documents (codigo_orgao_superior, data_emissao);

revoke all on transparency.expense_documents from public, anon, authenticated;
-- The worker reads them, and writes what it fetches from the API.
grant select, insert, update on transparency.expense_documents to fiscal_worker;
grant select on transparency.expense_documents to service_role;
