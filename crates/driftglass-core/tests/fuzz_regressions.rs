//! Replays the inputs the fuzzers kept (`fuzz/regressions/<target>/`: each target's corpus,
//! minimised with `cargo fuzz cmin`, plus any crash reproducers) through the same calls as the
//! fuzz targets (`fuzz/fuzz_targets/`), on the stable toolchain: none may panic, and what is
//! accepted must be consistent.

use std::path::PathBuf;

use driftglass_core::idx::{parse_images, parse_labels};
use driftglass_core::model_file::decode;
use driftglass_core::preprocess::{Polarity, PreprocessConfig, preprocess_bytes};
use sha2::{Digest, Sha256};

fn inputs(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/regressions")
        .join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no inputs in {}", dir.display());
    files
        .into_iter()
        .map(|path| {
            let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            (path.display().to_string(), bytes)
        })
        .collect()
}

#[test]
fn preprocess_regressions() {
    for (name, bytes) in inputs("preprocess") {
        for (polarity, channels) in [
            (Polarity::AsIs, 1),
            (Polarity::Invert, 1),
            (Polarity::Auto, 1),
            (Polarity::Auto, 3),
        ] {
            if let Ok(image) = preprocess_bytes(
                &bytes,
                &PreprocessConfig {
                    polarity,
                    channels,
                    ..PreprocessConfig::default()
                },
            ) {
                assert_eq!(
                    image.pixels.len(),
                    channels * driftglass_core::IMAGE_PIXELS,
                    "{name}"
                );
                assert!(
                    image.pixels.iter().all(|v| (0.0..=1.0).contains(v)),
                    "{name}"
                );
                let p = &image.properties;
                let values = [
                    p.brightness,
                    p.contrast,
                    p.warmth,
                    p.tint,
                    p.saturation,
                    p.sharpness,
                    p.blockiness,
                    p.clipped,
                ];
                assert!(values.iter().all(|v| v.is_finite()), "{name}: {p:?}");
            }
        }
    }
}

#[test]
fn idx_regressions() {
    for (name, bytes) in inputs("idx") {
        if let Ok(set) = parse_images(bytes.clone()) {
            assert_eq!(
                set.pixels.len(),
                set.count * driftglass_core::IMAGE_PIXELS,
                "{name}"
            );
        }
        let _ = parse_labels(bytes);
    }
}

#[test]
fn model_file_regressions() {
    for (name, bytes) in inputs("model_file") {
        let _ = decode(&bytes);
        let mut sealed = bytes.clone();
        sealed.extend_from_slice(&Sha256::digest(&bytes));
        if let Ok(model) = decode(&sealed) {
            assert_eq!(model.baseline.len(), model.header.baseline.count, "{name}");
        }
    }
}
