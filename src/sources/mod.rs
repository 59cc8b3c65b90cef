pub mod portal;
pub mod contracts;
pub mod filters;
pub mod import;
