//! Driftglass' model crate: the convolutional autoencoder, its losses, the Adadelta optimizer,
//! denoising training, model files, IDX data, image preprocessing and baseline statistics.
//!
//! Backend-agnostic (burn's runtime `Device`), no DOM: the CLI and the browser app share it.
//! Data flows one way: bytes → decoded image ([`preprocess`]) → 28×28 batch → reconstruction
//! and per-image loss ([`score`]) → statistics ([`baseline`]).

pub mod adadelta;
pub mod baseline;
pub mod bundled;
pub mod direct;
pub mod direct_train;
pub mod idx;
pub mod latent;
pub mod loss;
pub mod model;
pub mod model_file;
pub mod preprocess;
pub mod reference;
pub mod report;
pub mod rng;
pub mod score;
pub mod stats;
pub mod train;

pub use baseline::{Baseline, auroc, loss_ratio};
pub use idx::ImageSet;
pub use loss::LossKind;
pub use model::{Autoencoder, AutoencoderConfig, IMAGE_PIXELS, IMAGE_SIDE};
pub use model_file::{LoadedModel, ModelFileError, ModelHeader};
pub use preprocess::{PreprocessConfig, PreprocessError, preprocess_bytes};
pub use score::{Reconstruction, SCORE_BATCH, reconstruct};
pub use train::{TrainingConfig, train};

/// Version of this crate, written into model files and reports.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The data directory for tests: `DRIFTGLASS_DATA`, else `../shared/data` next to the
/// workspace. Under CI (`CI=true`) the data must be there; elsewhere tests that need it skip.
#[cfg(test)]
pub(crate) fn data_dir_for_tests() -> Option<std::path::PathBuf> {
    let dir = std::env::var_os("DRIFTGLASS_DATA")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data")
        });
    if dir.join("mnist").is_dir() {
        Some(dir)
    } else if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!(
            "CI=true but the data directory {} is missing; set DRIFTGLASS_DATA",
            dir.display()
        )
    } else {
        None
    }
}
