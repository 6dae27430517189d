//! Reconstruct images and measure per-image losses, batch by batch.
//!
//! Every read from the device is asynchronous (`into_data_async`), so the same code runs
//! natively (under `pollster::block_on`) and in the browser, where WebGPU cannot be read
//! synchronously.

use burn::tensor::{Device, Tensor, TensorData};

use crate::direct::DirectNetwork;
use crate::idx::ImageSet;
use crate::latent::{LATENT_DIMS, default_projection};
use crate::loss::{bce_per_image, mse_per_image};
use crate::model::Autoencoder;

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
    /// The encoder's code, projected to [`LATENT_DIMS`] values (see [`crate::latent`]).
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

/// Upload `count` images of `side`×`side` pixels as a `[count, 1, side, side]` tensor.
pub fn images_tensor(pixels: &[f32], count: usize, side: usize, device: &Device) -> Tensor<4> {
    Tensor::from_data(
        TensorData::new(pixels.to_vec(), [count, 1, side, side]),
        device,
    )
}

/// Read a tensor's values back from its device (asynchronously: WebGPU allows nothing else).
pub async fn read_vec<const D: usize>(tensor: Tensor<D>) -> Result<Vec<f32>, ScoreError> {
    tensor
        .into_data_async()
        .await
        .map_err(|e| ScoreError::Readback(format!("{e:?}")))?
        .try_into_vec::<f32>()
        .map_err(|e| ScoreError::Readback(format!("{e:?}")))
}

/// How a batch is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Engine {
    #[default]
    /// burn's CPU device: the direct convolutions of [`crate::direct`] (same results, several
    /// times faster); any other device: burn.
    Auto,
    /// burn's tensor operations on the given device, whatever it is (for comparisons).
    Burn,
}

/// Reconstruct every image of `inputs` and score it.
///
/// `model_inputs` are what the network sees and `targets` what it is compared with; for plain
/// scoring they are the same images (see [`reconstruct`]). `on_batch` is told how many images
/// are done after each batch. On burn's CPU device the work runs in [`crate::direct`].
pub async fn reconstruct_with_targets(
    model: &Autoencoder,
    model_inputs: &ImageSet,
    targets: &ImageSet,
    device: &Device,
    batch_size: usize,
    on_batch: impl FnMut(usize),
) -> Result<Vec<Reconstruction>, ScoreError> {
    reconstruct_on(
        Engine::Auto,
        model,
        model_inputs,
        targets,
        device,
        batch_size,
        on_batch,
    )
    .await
}

/// [`reconstruct_with_targets`] on a chosen [`Engine`].
pub async fn reconstruct_on(
    engine: Engine,
    model: &Autoencoder,
    model_inputs: &ImageSet,
    targets: &ImageSet,
    device: &Device,
    batch_size: usize,
    mut on_batch: impl FnMut(usize),
) -> Result<Vec<Reconstruction>, ScoreError> {
    let (side, len) = (model_inputs.side, model_inputs.image_len());
    if targets.side != side {
        return Err(ScoreError::SideMismatch {
            inputs: side,
            targets: targets.side,
        });
    }
    for set in [model_inputs, targets] {
        if set.pixels.len() != model_inputs.count * len {
            return Err(ScoreError::WrongSize {
                found: set.pixels.len(),
                expected: model_inputs.count * len,
            });
        }
    }
    let batch_size = batch_size.max(1);
    let direct = match engine {
        Engine::Auto if *device == Device::flex() => {
            Some(DirectNetwork::from_model(model, side).await?)
        }
        _ => None,
    };
    let mut results = Vec::with_capacity(model_inputs.count);
    let mut start = 0;
    while start < model_inputs.count {
        let count = batch_size.min(model_inputs.count - start);
        let inputs = model_inputs.range(start, count);
        let target = targets.range(start, count);
        match &direct {
            Some(network) => results.extend(network.reconstruct_with_targets(&inputs, &target)?),
            None => results.extend(burn_batch(model, &inputs, &target, device).await?),
        }
        start += count;
        on_batch(start);
    }
    Ok(results)
}

/// One batch through burn's tensor operations.
async fn burn_batch(
    model: &Autoencoder,
    inputs: &ImageSet,
    targets: &ImageSet,
    device: &Device,
) -> Result<Vec<Reconstruction>, ScoreError> {
    let (count, side, len) = (inputs.count, inputs.side, inputs.image_len());
    let images = images_tensor(&inputs.pixels, count, side, device);
    let target = images_tensor(&targets.pixels, count, side, device);
    let (output, code) = model.forward_with_code(images); // [count, 1, side, side], [count, 32, side/4, side/4]
    let code_len = code.dims()[1..].iter().product::<usize>();
    let projection = Tensor::<2>::from_data(
        TensorData::new(
            default_projection(code_len).to_vec(),
            [code_len, LATENT_DIMS],
        ),
        device,
    );
    let latent = code.reshape([count, code_len]).matmul(projection); // [count, 64]
    let bce = bce_per_image(output.clone(), target.clone()); // [count]
    let mse = mse_per_image(output.clone(), target); // [count]
    let entropy = bce_per_image(output.clone(), output.clone()); // [count]
    let bce = read_vec(bce).await?;
    let mse = read_vec(mse).await?;
    let entropy = read_vec(entropy).await?;
    let pixels = read_vec(output).await?;
    let latent = read_vec(latent).await?;
    Ok((0..count)
        .map(|i| Reconstruction {
            bce: bce[i],
            mse: mse[i],
            output_entropy: entropy[i],
            pixels: pixels[i * len..(i + 1) * len].to_vec(),
            latent: latent[i * LATENT_DIMS..(i + 1) * LATENT_DIMS].to_vec(),
        })
        .collect())
}

/// Reconstruct and score images against themselves (what the product does).
pub async fn reconstruct(
    model: &Autoencoder,
    images: &ImageSet,
    device: &Device,
    batch_size: usize,
    on_batch: impl FnMut(usize),
) -> Result<Vec<Reconstruction>, ScoreError> {
    reconstruct_with_targets(model, images, images, device, batch_size, on_batch).await
}

/// Mean of a slice, `None` when empty.
pub fn mean(values: impl IntoIterator<Item = f32>) -> Option<f64> {
    let (sum, count) = values
        .into_iter()
        .fold((0.0f64, 0usize), |(s, c), v| (s + v as f64, c + 1));
    (count > 0).then(|| sum / count as f64)
}
