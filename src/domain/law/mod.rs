//! Tables of Brazilian law the rules apply: the amounts below which a purchase
//! may be made without bidding, the national holidays, and when a contract
//! must be published in the Diário Oficial.

pub mod dispensa_limits;
pub mod dou;
pub mod holidays;
