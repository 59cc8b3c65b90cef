//! The bottom layer: how numbers, dates and names read, the statistics the
//! rules share, and the law's tables. Nothing here knows about the queue, the
//! database or any data source.

pub mod format;
pub mod law;
pub mod stats;
pub mod text;
