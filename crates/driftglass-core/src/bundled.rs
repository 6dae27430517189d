//! The bundled model: trained on MNIST, calibrated on the MNIST test set, embedded in every
//! build so the CLI and the browser work with nothing else.

/// Bytes of the bundled model file (see the README for how it was made).
pub const BUNDLED_MODEL: &[u8] = include_bytes!("../assets/mnist-ae.dgm");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_bytes_decode_into_the_architecture() {
        let loaded = crate::model_file::decode(BUNDLED_MODEL)
            .unwrap_or_else(|e| panic!("bundled model does not decode: {e}"));
        assert_eq!(loaded.header.architecture, crate::AutoencoderConfig::new());
        assert_eq!(loaded.weights.config().num_params(), 28_353);
        assert_eq!(loaded.format_version, crate::model_file::FORMAT_VERSION);
        assert_eq!(loaded.baseline.len(), 10_000);
        let latent = loaded.latent.as_ref().map(|l| (l.len(), l.dims()));
        assert_eq!(latent, Some((500, crate::latent::LATENT_DIMS)));
        let training = loaded.header.training.as_ref();
        assert_eq!(training.map(|t| t.training_images), Some(60_000));
        assert_eq!(training.map(|t| t.history.len()), Some(10));
        // A trained model: baseline reconstruction BCE of clean MNIST well under 0.2.
        assert!(loaded.baseline.mean() < 0.2, "{}", loaded.baseline.mean());
    }
}
