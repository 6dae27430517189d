//! Reconstructing images through burn's tensor operations, on any device (WebGPU in the
//! browser, the CPU for comparisons): the same [`Reconstruction`]s as the core's CPU kernels.
//!
//! Every read from the device is asynchronous (`into_data_async`), so the same code runs
//! natively (under `pollster::block_on`) and in the browser, where WebGPU cannot be read
//! synchronously.

use burn::tensor::{Device, Tensor, TensorData};
use driftglass_core::ImageSet;
use driftglass_core::latent::{LATENT_DIMS, default_projection};
use driftglass_core::score::{Reconstruction, ScoreError, check_pair};

use crate::loss::{bce_per_image, mse_per_image};
use crate::model::Autoencoder;

/// Upload `count` images of `channels`×`side`×`side` values as a tensor.
pub fn images_tensor(
    pixels: &[f32],
    count: usize,
    channels: usize,
    side: usize,
    device: &Device,
) -> Tensor<4> {
    Tensor::from_data(
        TensorData::new(pixels.to_vec(), [count, channels, side, side]),
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

/// Reconstruct every image of `inputs` and score it against the same image of `targets`, in
/// batches of `batch_size`; `on_batch` is told how many are done after each.
pub async fn reconstruct_with_targets(
    model: &Autoencoder,
    inputs: &ImageSet,
    targets: &ImageSet,
    device: &Device,
    batch_size: usize,
    mut on_batch: impl FnMut(usize),
) -> Result<Vec<Reconstruction>, ScoreError> {
    check_pair(inputs, targets)?;
    let batch_size = batch_size.max(1);
    let mut results = Vec::with_capacity(inputs.count);
    let mut start = 0;
    while start < inputs.count {
        let count = batch_size.min(inputs.count - start);
        let part = inputs.range(start, count);
        let target = targets.range(start, count);
        results.extend(batch(model, &part, &target, device).await?);
        start += count;
        on_batch(start);
    }
    Ok(results)
}

/// Reconstruct and score images against themselves.
pub async fn reconstruct(
    model: &Autoencoder,
    images: &ImageSet,
    device: &Device,
    batch_size: usize,
    on_batch: impl FnMut(usize),
) -> Result<Vec<Reconstruction>, ScoreError> {
    reconstruct_with_targets(model, images, images, device, batch_size, on_batch).await
}

/// One batch through burn's tensor operations.
async fn batch(
    model: &Autoencoder,
    inputs: &ImageSet,
    targets: &ImageSet,
    device: &Device,
) -> Result<Vec<Reconstruction>, ScoreError> {
    let (count, side, len) = (inputs.count, inputs.side, inputs.image_len());
    let channels = len / (side * side).max(1);
    let images = images_tensor(&inputs.pixels, count, channels, side, device);
    let target = images_tensor(&targets.pixels, count, channels, side, device);
    let (output, code) = model.forward_with_code(images); // [count, c, side, side], [count, f, side/4, side/4]
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
