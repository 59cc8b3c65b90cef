//! Contracts (`data_source = 'contracts'`): the Portal's Compras files and
//! `/contratos` pages, read from schema `transparency` as typed records
//! ([`model`]), cleaned ([`sanitize`]) and judged by the rule families of
//! [`rules`]. [`retrieval`] also holds the bounded row reader the other
//! sources share.

pub mod model;
pub mod retrieval;
pub mod rows;
pub mod rules;
pub mod sanitize;

pub use crate::sources::filters::QueryParams;
pub use retrieval::{
    attach_amendments, contracts_query, from_portal, retrieve, rows_within, where_clause, Interner,
    RetrievalError, RetrievalStats,
};
