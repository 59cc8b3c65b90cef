//! `filters` → the biddings of `transparency.biddings` with their participants.
//! The filters are the contracts' (DESIGN §4), read for a bidding: dates are the
//! opening date, the value is the bidding's, `cnpj_fornecedor` a participant.

use std::collections::HashMap;

use anyhow::{Context, Result};
use tokio_postgres::types::Type;
use tokio_postgres::Client;

use super::{Bidder, Tender, Tenders};
use crate::sources::contracts::{rows_within, RetrievalError};
use crate::sources::filters::{Columns, ContractFilters};

const COLUMNS: Columns = Columns {
    orgao: "b.codigo_orgao",
    orgao_superior: "b.codigo_orgao_superior",
    ug: "b.codigo_ug",
    supplier: "exists (select 1 from transparency.bidding_participants p
                 where p.bidding_id = b.bidding_id and p.codigo_participante like ?)",
    modality: "transparency.fold(coalesce(b.modalidade, ''))",
    object: "b.objeto_busca",
    date: "b.data_abertura",
    value: "b.valor",
};

/// Reads the biddings the filters select, at most `limit`, and their
/// participants (one per code, a winner if it won any item).
pub async fn retrieve(
    client: &Client,
    f: &ContractFilters,
    limit: usize,
) -> Result<(Tenders, usize), RetrievalError> {
    let (clause, params) = f.where_on(&COLUMNS);
    let sql = format!(
        "select b.bidding_id, b.numero, b.codigo_ug, coalesce(b.nome_ug, ''), b.codigo_orgao,
             coalesce(b.nome_orgao, ''), b.modalidade, b.objeto, b.situacao, b.data_abertura,
             b.valor::float8
         from transparency.biddings b
         where {clause}
         order by b.bidding_id"
    );
    let rows = rows_within(client, &sql, &params, limit, "transparency.biddings").await?;
    let mut tenders: Vec<Tender> = rows
        .iter()
        .map(|r| Tender {
            id: r.get(0),
            numero: r.get(1),
            ug: (r.get(2), r.get(3)),
            orgao: (r.get(4), r.get(5)),
            modalidade: r.get(6),
            objeto: r.get(7),
            situacao: r.get(8),
            abertura: r.get(9),
            valor: r.get(10),
            bidders: Vec::new(),
        })
        .collect();
    let ids: Vec<&str> = tenders.iter().map(|t| t.id.as_str()).collect();
    let participants = client
        .query_typed(
            "select bidding_id, codigo_participante, max(nome_participante), bool_or(vencedor)
             from transparency.bidding_participants
             where bidding_id = any($1)
             group by 1, 2
             order by 1, 2",
            &[(&ids, Type::TEXT_ARRAY)],
        )
        .await
        .context("reading transparency.bidding_participants")?;
    let index: HashMap<String, usize> = tenders
        .iter()
        .enumerate()
        .map(|(i, t)| (t.id.clone(), i))
        .collect();
    let mut read = 0;
    for p in &participants {
        let id: String = p.get(0);
        if let Some(&i) = index.get(&id) {
            read += 1;
            tenders[i].bidders.push(Bidder {
                code: p.get(1),
                name: p.get(2),
                won: p.get(3),
            });
        }
    }
    Ok((Tenders { tenders }, read))
}
