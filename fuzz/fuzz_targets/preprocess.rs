//! Any bytes through the whole decode + preprocess path (every polarity): an error or 784
//! values in [0, 1], never a panic, a hang or an allocation over the limits.
#![no_main]

use driftglass_core::preprocess::{Polarity, PreprocessConfig, preprocess_bytes};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for polarity in [Polarity::AsIs, Polarity::Invert, Polarity::Auto] {
        if let Ok(image) = preprocess_bytes(data, &PreprocessConfig { polarity, ..PreprocessConfig::default() }) {
            assert_eq!(image.pixels.len(), driftglass_core::IMAGE_PIXELS);
            assert!(image.pixels.iter().all(|v| (0.0..=1.0).contains(v)));
        }
    }
});
