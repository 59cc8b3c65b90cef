-- Unit prices of contract items, and what every agency in the database paid for
-- the same catalogue item: the yardstick of rule `price.item_unit_price`, as the
-- Painel de Preços compares purchases (the median of official purchases,
-- IN SEGES/ME 65/2021 art. 5 I and art. 6). Both are materialized views that
-- `fiscal import` refreshes after it loads contracts or items, so an
-- investigation reads its own contracts' items and their peers through indexes,
-- whatever its filters: a question about one agency is answered against all.
--
-- `Valor Item` is the unit price in most rows and the item's total in some, and
-- the file gives no unit of supply. An item is read as priced only when its
-- contract's items add up (quantity × `Valor Item`) to the contract's initial
-- value within 5%: the others cannot be told apart and are not compared. Items are read at their
-- contract's latest month of publication, as contracts are.

create materialized view if not exists transparency.item_unit_prices as
-- One pass over the items with window sums, then one join: a self-join of
-- the items would leave the planner guessing a CTE's size, and it guessed
-- nested loops that took minutes on two years of items.
with items as (
    select i.codigo_orgao, i.codigo_ug, i.numero_contrato, i.descricao, i.quantidade, i.valor,
           sum(i.quantidade * i.valor)
               over (partition by i.codigo_ug, i.numero_contrato, i.source_month) as soma,
           i.source_month = max(i.source_month)
               over (partition by i.codigo_ug, i.numero_contrato) as latest
    from transparency.contract_items i
), contracts as (
    select distinct on (codigo_ug, numero) codigo_ug, numero,
           coalesce(valor_inicial, valor_final) as valor
    from transparency.contracts
    order by codigo_ug, numero, source_month desc
)
select i.codigo_orgao, i.codigo_ug, i.numero_contrato,
       -- The catalogue name, spaced as one: the key that peers share.
       upper(regexp_replace(btrim(i.descricao), '\s+', ' ', 'g')) as item,
       i.quantidade::float8 as quantidade,
       i.valor::float8 as preco_unitario
from items i
join contracts c on c.codigo_ug = i.codigo_ug and c.numero = i.numero_contrato
where i.latest and c.valor > 0 and abs(i.soma - c.valor) <= 0.05 * c.valor
  and i.quantidade > 0 and i.valor > 0
  -- `Inválido` is already NULL (the importer's sentinels); `Não se aplica` is
  -- kept as text elsewhere (a contract's state), and names no item.
  and i.descricao is not null and lower(btrim(i.descricao)) not in ('não se aplica', 'nao se aplica');

-- Retrieval reads the items of the contracts it read, by (UG, number).
create index if not exists item_unit_prices_contrato
    on transparency.item_unit_prices (codigo_ug, numero_contrato);

-- One row per catalogue item bought by at least two agencies: the spread of
-- unit prices and the typical quantity, which tells a unit price from a
-- monthly or lump one (a rule decides how many agencies it needs). An item
-- bought in quantity 1 is a lump sum (a whole service, a whole lot), not a
-- unit price, and is no one's peer.
create materialized view if not exists transparency.item_price_peers as
select item,
       count(*)::int4 as itens,
       count(distinct codigo_orgao)::int4 as orgaos,
       percentile_cont(array[0.1, 0.25, 0.5, 0.75, 0.9])
           within group (order by preco_unitario) as precos,
       percentile_cont(0.5) within group (order by quantidade) as quantidade_mediana
from transparency.item_unit_prices
where quantidade > 1
group by item
having count(distinct codigo_orgao) >= 2;

-- Unique, for the lookup and so that a refresh may run concurrently later.
create unique index if not exists item_price_peers_item
    on transparency.item_price_peers (item);

revoke all on transparency.item_unit_prices, transparency.item_price_peers
    from public, anon, authenticated;
grant select on transparency.item_unit_prices, transparency.item_price_peers
    to service_role, fiscal_worker;
