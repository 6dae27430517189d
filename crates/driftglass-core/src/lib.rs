//! Driftglass' core: everything between the bytes of an image and a drift report, with no
//! tensor library and no DOM, so the CLI, the page, its scoring workers and the fuzzers all
//! run the very same code.
//!
//! Data flows one way (see ARCHITECTURE.md):
//! bytes → decoded image ([`preprocess`]) → prepared input ([`idx::ImageSet`]) →
//! reconstruction and losses ([`direct`], [`score`]) → report and tests ([`report`],
//! [`stats`], [`baseline`], [`latent`]), one [`scorer`] for the CLI and the page.
//! Beside that path: the network's shape and weights ([`architecture`]), model files
//! ([`model_file`], [`burnpack`] for older ones), training on the CPU ([`direct_train`],
//! [`optim`], [`train`]) and the Reference step's split and calibration ([`reference`]).
//! burn's module, autodiff and WebGPU live above this crate, in `driftglass-burn`.

pub mod architecture;
pub mod augment;
pub mod baseline;
pub mod bundled;
pub mod burnpack;
pub mod direct;
pub mod direct_train;
pub mod idx;
pub mod latent;
pub mod loss;
pub mod model_file;
pub mod novelty;
pub mod optim;
pub mod preprocess;
pub mod properties;
pub mod reference;
pub mod report;
pub mod rng;
pub mod score;
pub mod scorer;
pub mod stats;
pub mod train;
mod winograd;

pub use architecture::{AutoencoderConfig, IMAGE_PIXELS, IMAGE_SIDE, Weights};
pub use baseline::{Baseline, auroc, loss_ratio};
pub use direct::DirectNetwork;
pub use idx::ImageSet;
pub use loss::LossKind;
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
