//! The real data files the repository ships under `data/`, for the tests and
//! benchmarks that check fiscal on real records. A fresh clone has everything
//! they read; nothing beside the checkout is consulted.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

/// A file under the repository's `data/` folder.
pub fn data_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("data")
        .join(relative)
}

/// The bytes of the one file inside a zip: how the large CSVs are shipped.
pub fn read_single_entry(zip_path: &Path) -> Result<Vec<u8>> {
    let mut entries = super::import::zip_entries(zip_path)
        .with_context(|| format!("reading {}", zip_path.display()))?;
    match entries.pop() {
        Some((_, bytes)) if entries.is_empty() => Ok(bytes),
        _ => bail!("{} does not hold exactly one file", zip_path.display()),
    }
}

/// One of the two-year Portal CSVs of `data/procurement`, by its name
/// (`portal_transparencia_compras_202101-202212.csv`), read from its zip.
pub fn procurement_csv(name: &str) -> Result<Vec<u8>> {
    let zip = data_path("procurement").join(name.replace(".csv", ".zip"));
    read_single_entry(&zip)
}
