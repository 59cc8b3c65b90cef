//! The real data files the repository ships under `data/`, for the tests and
//! benchmarks that check fiscal on real records. A fresh clone has everything
//! they read; nothing beside the checkout is consulted.

use std::io::Read;
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
    let file =
        std::fs::File::open(zip_path).with_context(|| format!("opening {}", zip_path.display()))?;
    let mut archive = zip::ZipArchive::new(file)
        .with_context(|| format!("reading the zip {}", zip_path.display()))?;
    if archive.len() != 1 {
        bail!(
            "{} holds {} entries, not one",
            zip_path.display(),
            archive.len()
        );
    }
    let mut entry = archive.by_index(0).context("reading the zip entry")?;
    let mut bytes = Vec::with_capacity(entry.size() as usize);
    entry
        .read_to_end(&mut bytes)
        .with_context(|| format!("decompressing {}", zip_path.display()))?;
    Ok(bytes)
}

/// One of the two-year Portal CSVs of `data/procurement`, by its name
/// (`portal_transparencia_compras_202101-202212.csv`), read from its zip.
pub fn procurement_csv(name: &str) -> Result<Vec<u8>> {
    let zip = data_path("procurement").join(name.replace(".csv", ".zip"));
    read_single_entry(&zip)
}
