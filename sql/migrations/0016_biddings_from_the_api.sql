-- A biddings investigation naming an organ fetches its /licitacoes pages into
-- transparency.biddings, merged as an import merges (src/sources/load.rs), so
-- the worker writes the table it reads; participants still come only from the
-- ParticipantesLicitação files, which the operator imports.
grant insert, update on transparency.biddings to fiscal_worker;

-- Modality codes are now stored as the Compras files write them ("5", not the
-- "05" readers of the Licitações files show), so a bidding fetched and the same
-- bidding imported share one key. Rows imported before are re-keyed; where a
-- re-imported copy already holds the new key, the old copy goes.
delete from transparency.bidding_participants p
where p.bidding_id ~ '/0+[0-9]+$'
  and exists (
      select 1 from transparency.bidding_participants n
      where n.participant_key = regexp_replace(p.bidding_id, '/0+([0-9]+)$', '/\1')
          || substr(p.participant_key, length(p.bidding_id) + 1));
update transparency.bidding_participants
set participant_key = regexp_replace(bidding_id, '/0+([0-9]+)$', '/\1')
        || substr(participant_key, length(bidding_id) + 1),
    bidding_id = regexp_replace(bidding_id, '/0+([0-9]+)$', '/\1')
where bidding_id ~ '/0+[0-9]+$';
delete from transparency.biddings b
where b.codigo_modalidade ~ '^0+[0-9]+$'
  and exists (
      select 1 from transparency.biddings n
      where n.bidding_id = regexp_replace(b.bidding_id, '/0+([0-9]+)$', '/\1'));
update transparency.biddings
set bidding_id = regexp_replace(bidding_id, '/0+([0-9]+)$', '/\1'),
    codigo_modalidade = regexp_replace(codigo_modalidade, '^0+([0-9]+)$', '\1')
where codigo_modalidade ~ '^0+[0-9]+$';
