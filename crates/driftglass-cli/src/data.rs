//! Loading the data sets the commands need.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use driftglass_model::idx::{self, ImageSet};

/// The MNIST folder inside a data directory, or the directory itself if it holds the files.
pub fn mnist_dir(data: &Path) -> PathBuf {
    let nested = data.join("mnist");
    if nested.is_dir() {
        nested
    } else {
        data.to_path_buf()
    }
}

/// Read `stem` (raw or .gz) from `dir`, checksum verified.
pub fn images(dir: &Path, stem: &str) -> Result<ImageSet> {
    let path = idx::locate(dir, stem)?;
    idx::read_images(&path).with_context(|| format!("reading {}", path.display()))
}
