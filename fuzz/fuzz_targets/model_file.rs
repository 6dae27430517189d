//! Any bytes as a model file: once as they are (the checksum rejects nearly all), and once with
//! a valid checksum appended, so the parser behind the checksum (lengths, header JSON,
//! baseline, latent codes, architecture, named tensors or a legacy burnpack) sees every mutation. An error or a model,
//! never a panic or a runaway allocation.
#![no_main]

use driftglass_core::model_file::decode;
use libfuzzer_sys::fuzz_target;
use sha2::{Digest, Sha256};

fuzz_target!(|data: &[u8]| {
    let _ = decode(data);
    let mut sealed = data.to_vec();
    let digest = Sha256::digest(data);
    sealed.extend_from_slice(&digest);
    if let Ok(model) = decode(&sealed) {
        assert_eq!(model.baseline.len(), model.header.baseline.count);
    }
});
