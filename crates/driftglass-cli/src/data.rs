//! Loading the data sets the commands need.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use driftglass_core::idx::{self, ImageSet};

/// The MNIST folder inside a data directory, or the directory itself if it holds the files.
pub fn mnist_dir(data: &Path) -> PathBuf {
    let nested = data.join("mnist");
    if nested.is_dir() {
        nested
    } else {
        data.to_path_buf()
    }
}

/// Write a 28×28 image (values in [0, 1]) as an 8-bit gray PNG.
pub fn save_gray_png(path: &Path, pixels: &[f32]) -> Result<()> {
    let bytes: Vec<u8> = pixels
        .iter()
        .map(|v| (v.clamp(0.0, 1.0) * 255.0).round() as u8)
        .collect();
    let side = driftglass_core::IMAGE_SIDE as u32;
    image::save_buffer(path, &bytes, side, side, image::ExtendedColorType::L8)
        .with_context(|| format!("writing {}", path.display()))
}

/// Read `stem` (raw or .gz) from `dir`, checksum verified.
pub fn images(dir: &Path, stem: &str) -> Result<ImageSet> {
    let path = idx::locate(dir, stem)?;
    idx::read_images(&path).with_context(|| format!("reading {}", path.display()))
}

/// Read the labels file `stem` (raw or .gz) from `dir`, checksum verified.
pub fn labels(dir: &Path, stem: &str) -> Result<Vec<u8>> {
    let path = idx::locate(dir, stem)?;
    idx::read_labels(&path).with_context(|| format!("reading {}", path.display()))
}
