//! The convolutional autoencoder of the reference experiment, at any depth and code size.
//!
//! Keras original (channels last):
//! `Conv2D(32, 3×3, relu, same) → MaxPool(2) → Conv2D(32) → MaxPool(2)` (encoder) and
//! `Conv2D(32) → UpSampling(2) → Conv2D(32) → UpSampling(2) → Conv2D(1, sigmoid)` (decoder).
//! Here channels first, as burn expects: `[batch, channels, height, width]`; the shape comments
//! are the reference's.

use burn::module::{Module, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::interpolate::{Interpolate2d, Interpolate2dConfig, InterpolateMode};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Initializer, PaddingConfig2d};
use burn::tensor::activation::{relu, sigmoid};
use burn::tensor::{Device, Tensor, TensorData};
use driftglass_core::architecture::{AutoencoderConfig, ConvWeights, Weights, WeightsError};
use driftglass_core::score::ScoreError;

/// Build the network of `config` with Keras' initialisation (seed 0).
pub fn init(config: &AutoencoderConfig, device: &Device) -> Result<Autoencoder, WeightsError> {
    init_seeded(config, device, 0)
}

/// Build the network with Keras' initialisation: Glorot-uniform kernels, zero biases, drawn on
/// the host by the core ([`Weights::init_seeded`]), so a seed gives the same network on every
/// backend, platform and thread interleaving, and the same as the core's CPU trainer starts
/// from. A config that [`AutoencoderConfig::validate`] refuses is an error.
pub fn init_seeded(
    config: &AutoencoderConfig,
    device: &Device,
    seed: u64,
) -> Result<Autoencoder, WeightsError> {
    Weights::init_seeded(*config, seed).map(|weights| Autoencoder::from_weights(&weights, device))
}

/// The layers of `config` with zero weights (what `from_weights` fills).
fn empty(config: &AutoencoderConfig, device: &Device) -> Autoencoder {
    let conv = |shape: [usize; 4]| {
        let [to, from, k, _] = shape;
        Conv2dConfig::new([from, to], [k, k])
            .with_padding(PaddingConfig2d::Same)
            .with_initializer(Initializer::Zeros)
            .init(device)
    };
    let mut shapes = config.layer_shapes().into_iter();
    let encoder = shapes.by_ref().take(config.depth).map(conv).collect();
    let decoder = shapes.by_ref().take(config.depth).map(conv).collect();
    let output = conv([
        config.channels,
        config.filters,
        config.kernel,
        config.kernel,
    ]);
    Autoencoder {
        encoder,
        pool: MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init(),
        decoder,
        upsample: Interpolate2dConfig::new()
            .with_scale_factor(Some([2.0, 2.0]))
            .with_mode(InterpolateMode::Nearest)
            .init(),
        output,
    }
}

/// The denoising convolutional autoencoder as a burn module: the reference definition, for
/// autodiff training and WebGPU. Its weights convert to and from the core's [`Weights`].
#[derive(Module, Debug)]
pub struct Autoencoder {
    /// Each followed by a ReLU and a 2×2 max pooling.
    encoder: Vec<Conv2d>,
    pool: MaxPool2d,
    /// Each followed by a ReLU and a 2× nearest upsampling.
    decoder: Vec<Conv2d>,
    upsample: Interpolate2d,
    /// Followed by a sigmoid.
    output: Conv2d,
}

impl Autoencoder {
    /// Encoder: images `[batch, 1, 28, 28]` → code `[batch, 32, 7, 7]`.
    pub fn encode(&self, images: Tensor<4>) -> Tensor<4> {
        // [batch, 32, 28, 28] → [batch, 32, 14, 14] → [batch, 32, 14, 14] → [batch, 32, 7, 7]
        self.encoder
            .iter()
            .fold(images, |x, conv| self.pool.forward(relu(conv.forward(x))))
    }

    /// Decoder: code `[batch, 32, 7, 7]` → reconstruction `[batch, 1, 28, 28]` in (0, 1).
    pub fn decode(&self, code: Tensor<4>) -> Tensor<4> {
        // [batch, 32, 7, 7] → [batch, 32, 14, 14] → [batch, 32, 14, 14] → [batch, 32, 28, 28]
        let x = self
            .decoder
            .iter()
            .fold(code, |x, conv| self.upsample.forward(relu(conv.forward(x))));
        sigmoid(self.output.forward(x)) // [batch, 1, 28, 28]
    }

    /// Reconstruct a batch: `[batch, 1, 28, 28]` → `[batch, 1, 28, 28]`.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<4> {
        self.decode(self.encode(images))
    }

    fn convs(&self) -> impl Iterator<Item = &Conv2d> {
        self.encoder
            .iter()
            .chain(&self.decoder)
            .chain(std::iter::once(&self.output))
    }

    /// The convolutions' kernels `[out, in, k, k]` and biases `[out]`, in order (for
    /// exporting the network to other runtimes, such as the TF.js benchmark).
    pub fn conv_parameters(&self) -> Vec<(Tensor<4>, Option<Tensor<1>>)> {
        self.convs()
            .map(|conv| (conv.weight.val(), conv.bias.as_ref().map(|bias| bias.val())))
            .collect()
    }

    /// The weights as plain numbers (read from the device asynchronously: WebGPU cannot be
    /// read synchronously), for images of `side`×`side` pixels.
    pub async fn to_weights(&self, side: usize) -> Result<Weights, ScoreError> {
        let mut layers = Vec::with_capacity(2 * self.encoder.len() + 1);
        for (weight, bias) in self.conv_parameters() {
            let shape = weight.dims();
            let kernel = crate::score::read_vec(weight).await?;
            let bias = match bias {
                Some(bias) => Some(crate::score::read_vec(bias).await?),
                None => None,
            };
            layers.push(ConvWeights {
                shape,
                kernel,
                bias,
            });
        }
        let config = AutoencoderConfig::from_layer_shapes(side, &layers)
            .map_err(|e| ScoreError::Network(e.to_string()))?;
        Weights::new(config, layers).map_err(|e| ScoreError::Network(e.to_string()))
    }

    /// A network on `device` with `weights`.
    pub fn from_weights(weights: &Weights, device: &Device) -> Autoencoder {
        let mut copy = empty(weights.config(), device);
        let convs = copy
            .encoder
            .iter_mut()
            .chain(copy.decoder.iter_mut())
            .chain(std::iter::once(&mut copy.output));
        for (conv, layer) in convs.zip(weights.layers()) {
            conv.weight = Param::from_tensor(Tensor::from_data(
                TensorData::new(layer.kernel.clone(), layer.shape),
                device,
            ));
            conv.bias = layer.bias.as_ref().map(|bias| {
                Param::from_tensor(Tensor::from_data(
                    TensorData::new(bias.clone(), [bias.len()]),
                    device,
                ))
            });
        }
        copy
    }

    /// Reconstruct and also return the bottleneck code (for latent statistics).
    pub fn forward_with_code(&self, images: Tensor<4>) -> (Tensor<4>, Tensor<4>) {
        let code = self.encode(images); // [batch, 32, 7, 7]
        let reconstruction = self.decode(code.clone()); // [batch, 1, 28, 28]
        (reconstruction, code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_round_trip_reconstructs_identically() {
        let device = Device::flex();
        let model =
            init_seeded(&AutoencoderConfig::new(), &device, 3).unwrap_or_else(|e| panic!("{e}"));
        let weights = pollster::block_on(model.to_weights(28)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            weights,
            Weights::init_seeded(AutoencoderConfig::new(), 3).unwrap_or_else(|e| panic!("{e}"))
        );
        let copy = Autoencoder::from_weights(&weights, &device);
        let images = Tensor::<4>::from_data(
            TensorData::new(
                (0..2 * 784).map(|i| (i % 7) as f32 / 7.0).collect(),
                [2, 1, 28, 28],
            ),
            &device,
        );
        let a = model.forward(images.clone()).into_data();
        let b = copy.forward(images).into_data();
        assert_eq!(a, b);
    }

    #[test]
    fn shapes_follow_the_reference() {
        let device = Device::flex();
        let model = init(&AutoencoderConfig::new(), &device).unwrap_or_else(|e| panic!("{e}"));
        let images = Tensor::<4>::zeros([3, 1, 28, 28], &device);
        let (reconstruction, code) = model.forward_with_code(images);
        assert_eq!(code.dims(), [3, 32, 7, 7]);
        assert_eq!(reconstruction.dims(), [3, 1, 28, 28]);
        // 3×3 convs: (1·9+1)·32 + 3·(32·9+1)·32 + (32·9+1)·1 = 28,353 parameters.
        assert_eq!(model.num_params(), 28_353);
        assert_eq!(AutoencoderConfig::new().num_params(), 28_353);
        let wide = AutoencoderConfig::new()
            .with_filters(8)
            .with_kernel(5)
            .with_channels(3);
        let deep = AutoencoderConfig::new()
            .with_side(32)
            .with_depth(3)
            .with_code(4);
        for config in [wide, deep] {
            assert_eq!(
                config.num_params(),
                init(&config, &device)
                    .unwrap_or_else(|e| panic!("{e}"))
                    .num_params()
            );
        }
        let model = init(&deep, &device).unwrap_or_else(|e| panic!("{e}"));
        let (reconstruction, code) =
            model.forward_with_code(Tensor::<4>::zeros([2, 1, 32, 32], &device));
        assert_eq!(code.dims(), [2, 4, 4, 4]);
        assert_eq!(reconstruction.dims(), [2, 1, 32, 32]);
    }

    #[test]
    fn output_is_a_probability() {
        let device = Device::flex();
        let model = init(&AutoencoderConfig::new(), &device).unwrap_or_else(|e| panic!("{e}"));
        let images = Tensor::<4>::ones([2, 1, 28, 28], &device);
        let values = model
            .forward(images)
            .into_data()
            .try_into_vec::<f32>()
            .unwrap_or_default();
        assert_eq!(values.len(), 2 * 784);
        assert!(values.iter().all(|v| *v > 0.0 && *v < 1.0));
    }

    #[test]
    fn upsampling_is_nearest_neighbour_repeat() {
        let device = Device::flex();
        let up = Interpolate2dConfig::new()
            .with_scale_factor(Some([2.0, 2.0]))
            .with_mode(InterpolateMode::Nearest)
            .init();
        let x = Tensor::<4>::from_data(
            TensorData::new(vec![1.0f32, 2.0, 3.0, 4.0], [1, 1, 2, 2]),
            &device,
        );
        let values = up
            .forward(x)
            .into_data()
            .try_into_vec::<f32>()
            .unwrap_or_default();
        assert_eq!(
            values,
            vec![
                1.0, 1.0, 2.0, 2.0, //
                1.0, 1.0, 2.0, 2.0, //
                3.0, 3.0, 4.0, 4.0, //
                3.0, 3.0, 4.0, 4.0,
            ]
        );
    }
}
