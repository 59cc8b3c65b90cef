pub mod contracts;
pub mod filters;
pub mod import;
pub mod portal;
pub mod portal_api;
pub mod portal_cache;
pub mod sanctions;
pub mod shipped;
