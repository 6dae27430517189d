//! The convolutional autoencoder of the reference experiment.
//!
//! Keras original (channels last):
//! `Conv2D(32, 3×3, relu, same) → MaxPool(2) → Conv2D(32) → MaxPool(2)` (encoder) and
//! `Conv2D(32) → UpSampling(2) → Conv2D(32) → UpSampling(2) → Conv2D(1, sigmoid)` (decoder).
//! Here channels first, as burn expects: `[batch, channels, height, width]`.

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
    let conv = |from: usize, to: usize| {
        Conv2dConfig::new([from, to], [config.kernel, config.kernel])
            .with_padding(PaddingConfig2d::Same)
            .with_initializer(Initializer::Zeros)
            .init(device)
    };
    let pool = || MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init();
    let upsample = || {
        Interpolate2dConfig::new()
            .with_scale_factor(Some([2.0, 2.0]))
            .with_mode(InterpolateMode::Nearest)
            .init()
    };
    Autoencoder {
        encode_conv1: conv(config.channels, config.filters),
        encode_pool1: pool(),
        encode_conv2: conv(config.filters, config.filters),
        encode_pool2: pool(),
        decode_conv1: conv(config.filters, config.filters),
        decode_upsample1: upsample(),
        decode_conv2: conv(config.filters, config.filters),
        decode_upsample2: upsample(),
        decode_output: conv(config.filters, config.channels),
    }
}

/// The denoising convolutional autoencoder as a burn module: the reference definition, for
/// autodiff training and WebGPU. Its weights convert to and from the core's [`Weights`].
#[derive(Module, Debug)]
pub struct Autoencoder {
    encode_conv1: Conv2d,
    encode_pool1: MaxPool2d,
    encode_conv2: Conv2d,
    encode_pool2: MaxPool2d,
    decode_conv1: Conv2d,
    decode_upsample1: Interpolate2d,
    decode_conv2: Conv2d,
    decode_upsample2: Interpolate2d,
    decode_output: Conv2d,
}

impl Autoencoder {
    /// Encoder: images `[batch, 1, 28, 28]` → code `[batch, 32, 7, 7]`.
    pub fn encode(&self, images: Tensor<4>) -> Tensor<4> {
        let x = relu(self.encode_conv1.forward(images)); // [batch, 32, 28, 28]
        let x = self.encode_pool1.forward(x); // [batch, 32, 14, 14]
        let x = relu(self.encode_conv2.forward(x)); // [batch, 32, 14, 14]
        self.encode_pool2.forward(x) // [batch, 32, 7, 7]
    }

    /// Decoder: code `[batch, 32, 7, 7]` → reconstruction `[batch, 1, 28, 28]` in (0, 1).
    pub fn decode(&self, code: Tensor<4>) -> Tensor<4> {
        let x = relu(self.decode_conv1.forward(code)); // [batch, 32, 7, 7]
        let x = self.decode_upsample1.forward(x); // [batch, 32, 14, 14]
        let x = relu(self.decode_conv2.forward(x)); // [batch, 32, 14, 14]
        let x = self.decode_upsample2.forward(x); // [batch, 32, 28, 28]
        sigmoid(self.decode_output.forward(x)) // [batch, 1, 28, 28]
    }

    /// Reconstruct a batch: `[batch, 1, 28, 28]` → `[batch, 1, 28, 28]`.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<4> {
        self.decode(self.encode(images))
    }

    /// The five convolutions' kernels `[out, in, k, k]` and biases `[out]`, in order (for
    /// exporting the network to other runtimes, such as the TF.js benchmark).
    pub fn conv_parameters(&self) -> Vec<(Tensor<4>, Option<Tensor<1>>)> {
        [
            &self.encode_conv1,
            &self.encode_conv2,
            &self.decode_conv1,
            &self.decode_conv2,
            &self.decode_output,
        ]
        .into_iter()
        .map(|conv| (conv.weight.val(), conv.bias.as_ref().map(|bias| bias.val())))
        .collect()
    }

    /// The weights as plain numbers (read from the device asynchronously: WebGPU cannot be
    /// read synchronously), for images of `side`×`side` pixels.
    pub async fn to_weights(&self, side: usize) -> Result<Weights, ScoreError> {
        let mut layers = Vec::with_capacity(5);
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
        let [filters, channels, kernel, _] = layers[0].shape;
        let config = AutoencoderConfig {
            channels,
            side,
            filters,
            kernel,
        };
        Weights::new(config, layers).map_err(|e| ScoreError::Network(e.to_string()))
    }

    /// A network on `device` with `weights`.
    pub fn from_weights(weights: &Weights, device: &Device) -> Autoencoder {
        let mut copy = empty(weights.config(), device);
        let convs = [
            &mut copy.encode_conv1,
            &mut copy.encode_conv2,
            &mut copy.decode_conv1,
            &mut copy.decode_conv2,
            &mut copy.decode_output,
        ];
        for (conv, layer) in convs.into_iter().zip(weights.layers()) {
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
        assert_eq!(
            wide.num_params(),
            init(&wide, &device)
                .unwrap_or_else(|e| panic!("{e}"))
                .num_params()
        );
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
