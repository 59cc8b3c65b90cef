-- A biddings investigation naming an organ fetches its /licitacoes pages into
-- transparency.biddings, merged as an import merges (src/sources/load.rs), so
-- the worker writes the table it reads; participants still come only from the
-- ParticipantesLicitação files, which the operator imports.
grant insert, update on transparency.biddings to fiscal_worker;
