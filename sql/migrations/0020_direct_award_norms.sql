-- What direct awards (dispensa and inexigibilidade de licitação) look like across
-- the whole database: the yardsticks of rules `vendor.exceptional_direct_award`
-- (an award far above what its agency usually contracts without bidding) and
-- `vendor.dispensas_across_units` (one supplier hired by dispensa by many units).
-- Materialized views that `fiscal import` refreshes after it loads contracts, as
-- migration 0019's item prices: an investigation about one UG or one year reads
-- its agencies' and suppliers' rows through indexes and is still judged against
-- every contract.
--
-- A direct award is told by its published modality, folded, as the vendor rules
-- read it; each contract is read at its latest publication, as retrieval reads
-- it, before its modality is looked at.

create materialized view if not exists transparency.direct_awards as
select contract_id, codigo_orgao, codigo_ug, nome_ug, codigo_contratado, valor,
       modalidade_busca like '%dispensa%' as dispensa
from (
    select distinct on (contract_id) contract_id, codigo_orgao, codigo_ug, nome_ug,
           codigo_contratado, modalidade_busca,
           -- The value as signed, as the rules judge an award.
           coalesce(valor_inicial, valor_final)::float8 as valor
    from transparency.contracts
    order by contract_id, source_month desc
) latest
where modalidade_busca like '%dispensa%' or modalidade_busca like '%inexigib%'
   or modalidade_busca like '%inexigivel%';

-- Per agency (órgão): how many direct awards of known value, and their value at
-- the median, the 90th and the 99th percentile. An agency's own habit is the
-- yardstick, not a national one: the Army's p90 is R$ 1 million, IPHAN's R$ 164
-- thousand.
create materialized view if not exists transparency.agency_direct_awards as
select codigo_orgao, count(*)::int4 as contratos,
       percentile_cont(array[0.5, 0.9, 0.99]) within group (order by valor) as valores
from transparency.direct_awards
where codigo_orgao is not null and valor > 0
group by codigo_orgao;

create unique index if not exists agency_direct_awards_orgao
    on transparency.agency_direct_awards (codigo_orgao);

-- Per supplier hired by dispensa by at least two UGs: how many dispensas, UGs
-- and agencies, their total, and the ten UGs that paid it most (code, name,
-- dispensas, total), for the evidence. Inexigibilidades are left out: a sole
-- provider (a publisher, a software house) is hired that way everywhere by law.
create materialized view if not exists transparency.supplier_dispensas as
with per_ug as (
    select codigo_contratado, codigo_ug, max(nome_ug) as nome_ug,
           max(codigo_orgao) as codigo_orgao, count(*) as contratos,
           coalesce(sum(valor) filter (where valor > 0), 0) as total
    from transparency.direct_awards
    where dispensa and codigo_contratado is not null and codigo_ug is not null
    group by codigo_contratado, codigo_ug
)
select codigo_contratado,
       sum(contratos)::int4 as contratos,
       count(*)::int4 as ugs,
       count(distinct codigo_orgao)::int4 as orgaos,
       sum(total)::float8 as total,
       (array_agg(codigo_ug order by total desc, codigo_ug))[1:10] as maiores_ugs,
       (array_agg(coalesce(nome_ug, '') order by total desc, codigo_ug))[1:10] as maiores_nomes,
       (array_agg(contratos::int4 order by total desc, codigo_ug))[1:10] as maiores_contratos,
       (array_agg(total::float8 order by total desc, codigo_ug))[1:10] as maiores_totais
from per_ug
group by codigo_contratado
having count(*) >= 2;

create unique index if not exists supplier_dispensas_contratado
    on transparency.supplier_dispensas (codigo_contratado);

revoke all on transparency.direct_awards, transparency.agency_direct_awards,
    transparency.supplier_dispensas from public, anon, authenticated;
grant select on transparency.direct_awards, transparency.agency_direct_awards,
    transparency.supplier_dispensas to service_role, fiscal_worker;
