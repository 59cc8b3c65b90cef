pub mod contracts;
pub mod filters;
pub mod import;
pub mod portal;
