//! Any bytes as an IDX image file and as an IDX label file: an error or a consistent set.
#![no_main]

use driftglass_core::idx::{parse_images, parse_labels};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(set) = parse_images(data.to_vec()) {
        assert_eq!(set.pixels.len(), set.count * driftglass_core::IMAGE_PIXELS);
        assert!(set.pixels.iter().all(|v| (0.0..=1.0).contains(v)));
    }
    if let Ok(labels) = parse_labels(data.to_vec()) {
        assert!(labels.len() <= data.len());
    }
});
