//! Any bytes through the whole decode + preprocess path (every polarity, gray and colour): an
//! error or `channels · 784` values in [0, 1] with finite properties, never a panic, a hang or
//! an allocation over the limits.
#![no_main]

use driftglass_core::preprocess::{Polarity, PreprocessConfig, preprocess_bytes};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for (polarity, channels) in [
        (Polarity::AsIs, 1),
        (Polarity::Invert, 1),
        (Polarity::Auto, 1),
        (Polarity::Auto, 3),
    ] {
        let config = PreprocessConfig { polarity, channels, ..PreprocessConfig::default() };
        if let Ok(image) = preprocess_bytes(data, &config) {
            assert_eq!(image.pixels.len(), channels * driftglass_core::IMAGE_PIXELS);
            assert!(image.pixels.iter().all(|v| (0.0..=1.0).contains(v)));
            let p = &image.properties;
            for value in [p.brightness, p.contrast, p.warmth, p.tint, p.saturation, p.sharpness, p.blockiness, p.clipped] {
                assert!(value.is_finite(), "{p:?}");
            }
        }
    }
});
