//! Reconstruct images and measure per-image losses, batch by batch, with the CPU kernels of
//! [`crate::direct`]. Other engines (burn's tensor operations, WebGPU) produce the same
//! [`Reconstruction`]s in `driftglass-burn`.

use crate::direct::DirectNetwork;
use crate::idx::ImageSet;

/// Images per forward pass when scoring.
pub const SCORE_BATCH: usize = 256;

/// What the model made of one image.
#[derive(Debug, Clone, PartialEq)]
pub struct Reconstruction {
    /// Binary cross-entropy of the input (as target) against its reconstruction.
    pub bce: f32,
    /// Mean squared error between input and reconstruction.
    pub mse: f32,
    /// Mean binary entropy of the reconstruction, i.e. BCE of the output against itself:
    /// what the reference's `evaluate(x, model.predict(x))` measured.
    pub output_entropy: f32,
    /// The reconstruction, `side`² values in (0, 1) (784 for 28×28 inputs).
    pub pixels: Vec<f32>,
    /// The encoder's code, projected to [`crate::latent::LATENT_DIMS`] values (see
    /// [`crate::latent`]).
    pub latent: Vec<f32>,
}

/// Why scoring failed.
#[derive(Debug, thiserror::Error)]
pub enum ScoreError {
    #[error("reading results from the device failed: {0}")]
    Readback(String),
    #[error("image has {found} values, the model expects {expected}")]
    WrongSize { found: usize, expected: usize },
    #[error("the network cannot run: {0}")]
    Network(String),
    #[error("inputs are {inputs}×{inputs} pixels but targets are {targets}×{targets}")]
    SideMismatch { inputs: usize, targets: usize },
}

/// Whether `targets` can be compared with the reconstructions of `inputs`: the same side, and
/// every set holding whole images (what every engine checks before it runs).
pub fn check_pair(inputs: &ImageSet, targets: &ImageSet) -> Result<(), ScoreError> {
    if targets.side != inputs.side {
        return Err(ScoreError::SideMismatch {
            inputs: inputs.side,
            targets: targets.side,
        });
    }
    let expected = inputs.count * inputs.image_len();
    for set in [inputs, targets] {
        if set.pixels.len() != expected {
            return Err(ScoreError::WrongSize {
                found: set.pixels.len(),
                expected,
            });
        }
    }
    Ok(())
}

/// Reconstruct every image of `model_inputs` and score it against the same image of
/// `targets`: for plain scoring they are the same images (see [`reconstruct`]); for denoising
/// validation the inputs are noisy and the targets clean. `on_batch` is told how many images
/// are done after each batch of `batch_size`.
pub fn reconstruct_with_targets(
    network: &DirectNetwork,
    model_inputs: &ImageSet,
    targets: &ImageSet,
    batch_size: usize,
    mut on_batch: impl FnMut(usize),
) -> Result<Vec<Reconstruction>, ScoreError> {
    check_pair(model_inputs, targets)?;
    let batch_size = batch_size.max(1);
    let mut results = Vec::with_capacity(model_inputs.count);
    let mut start = 0;
    while start < model_inputs.count {
        let count = batch_size.min(model_inputs.count - start);
        let inputs = model_inputs.range(start, count);
        let target = targets.range(start, count);
        results.extend(network.reconstruct_with_targets(&inputs, &target)?);
        start += count;
        on_batch(start);
    }
    Ok(results)
}

/// Reconstruct and score images against themselves (what the product does).
pub fn reconstruct(
    network: &DirectNetwork,
    images: &ImageSet,
    batch_size: usize,
    on_batch: impl FnMut(usize),
) -> Result<Vec<Reconstruction>, ScoreError> {
    reconstruct_with_targets(network, images, images, batch_size, on_batch)
}

/// Mean of a slice, `None` when empty.
pub fn mean(values: impl IntoIterator<Item = f32>) -> Option<f64> {
    let (sum, count) = values
        .into_iter()
        .fold((0.0f64, 0usize), |(s, c), v| (s + v as f64, c + 1));
    (count > 0).then(|| sum / count as f64)
}
