//! Tables of Brazilian law the rules apply: the amounts below which a purchase
//! may be made without bidding, and the national holidays.

pub mod dispensa_limits;
pub mod holidays;
