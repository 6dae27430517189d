//! The convolutional autoencoder of the reference experiment.
//!
//! Keras original (channels last):
//! `Conv2D(32, 3×3, relu, same) → MaxPool(2) → Conv2D(32) → MaxPool(2)` (encoder) and
//! `Conv2D(32) → UpSampling(2) → Conv2D(32) → UpSampling(2) → Conv2D(1, sigmoid)` (decoder).
//! Here channels first, as burn expects: `[batch, channels, height, width]`.

use burn::config::Config;
use burn::module::{Module, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::interpolate::{Interpolate2d, Interpolate2dConfig, InterpolateMode};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Initializer, PaddingConfig2d};
use burn::tensor::activation::{relu, sigmoid};
use burn::tensor::{Device, Tensor, TensorData};

use crate::rng::SeededRng;

/// Side of the square input image, in pixels.
pub const IMAGE_SIDE: usize = 28;
/// Pixels per image.
pub const IMAGE_PIXELS: usize = IMAGE_SIDE * IMAGE_SIDE;

/// Shape of the autoencoder. The defaults are the reference experiment's.
#[derive(Config, Debug, PartialEq, Eq)]
pub struct AutoencoderConfig {
    /// Input channels (1: gray).
    #[config(default = 1)]
    pub channels: usize,
    /// Input side in pixels; must be divisible by 4 (two 2× poolings).
    #[config(default = 28)]
    pub side: usize,
    /// Filters of every hidden convolution.
    #[config(default = 32)]
    pub filters: usize,
    /// Kernel side of every convolution.
    #[config(default = 3)]
    pub kernel: usize,
}

impl AutoencoderConfig {
    /// Values per input image (`channels · side · side`).
    pub fn values_per_image(&self) -> usize {
        self.channels * self.side * self.side
    }

    /// Side of the bottleneck feature map.
    pub fn code_side(&self) -> usize {
        self.side / 4
    }

    /// Number of parameters of the network this config builds (weights and biases of its five
    /// convolutions), computed without building it.
    pub fn num_params(&self) -> usize {
        let conv = |from: usize, to: usize| to * from * self.kernel * self.kernel + to;
        conv(self.channels, self.filters)
            + 3 * conv(self.filters, self.filters)
            + conv(self.filters, self.channels)
    }

    /// Whether the config describes a network this crate can build.
    pub fn validate(&self) -> Result<(), String> {
        if self.channels == 0 || self.channels > 4 {
            return Err(format!("channels must be 1..=4, got {}", self.channels));
        }
        if self.side < 4 || !self.side.is_multiple_of(4) || self.side > 512 {
            return Err(format!(
                "side must be a multiple of 4 in 4..=512, got {}",
                self.side
            ));
        }
        if self.filters == 0 || self.filters > 1024 {
            return Err(format!("filters must be 1..=1024, got {}", self.filters));
        }
        if self.kernel == 0 || self.kernel.is_multiple_of(2) || self.kernel > 15 {
            return Err(format!(
                "kernel must be odd and at most 15, got {}",
                self.kernel
            ));
        }
        Ok(())
    }

    /// Build the network with Keras' initialisation (seed 0).
    pub fn init(&self, device: &Device) -> Autoencoder {
        self.init_seeded(device, 0)
    }

    /// Build the network with Keras' initialisation: Glorot-uniform kernels, zero biases.
    ///
    /// Weights are drawn on the host from [`SeededRng`], not from the backend's RNG, so a seed
    /// gives the same network on every backend, platform and thread interleaving.
    pub fn init_seeded(&self, device: &Device, seed: u64) -> Autoencoder {
        let mut rng = SeededRng::new(seed);
        let mut conv = |from: usize, to: usize| {
            let mut layer = Conv2dConfig::new([from, to], [self.kernel, self.kernel])
                .with_padding(PaddingConfig2d::Same)
                .with_initializer(Initializer::Zeros)
                .init(device);
            let shape = [to, from, self.kernel, self.kernel];
            let receptive = self.kernel * self.kernel;
            let (fan_in, fan_out) = ((from * receptive) as f64, (to * receptive) as f64);
            let limit = (6.0 / (fan_in + fan_out)).sqrt();
            let values: Vec<f32> = (0..shape.iter().product::<usize>())
                .map(|_| ((rng.uniform() * 2.0 - 1.0) * limit) as f32)
                .collect();
            layer.weight =
                Param::from_tensor(Tensor::from_data(TensorData::new(values, shape), device));
            layer.bias = Some(Param::from_tensor(Tensor::zeros([to], device)));
            layer
        };
        let pool = || MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init();
        let upsample = || {
            Interpolate2dConfig::new()
                .with_scale_factor(Some([2.0, 2.0]))
                .with_mode(InterpolateMode::Nearest)
                .init()
        };
        Autoencoder {
            encode_conv1: conv(self.channels, self.filters),
            encode_pool1: pool(),
            encode_conv2: conv(self.filters, self.filters),
            encode_pool2: pool(),
            decode_conv1: conv(self.filters, self.filters),
            decode_upsample1: upsample(),
            decode_conv2: conv(self.filters, self.filters),
            decode_upsample2: upsample(),
            decode_output: conv(self.filters, self.channels),
        }
    }
}

/// One convolution's kernel shape `[out, in, k, k]`, kernel values and bias values.
pub(crate) type ConvParameters = ([usize; 4], Vec<f32>, Option<Vec<f32>>);

/// The denoising convolutional autoencoder.
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

    /// A copy of this network on the host CPU (`Device::flex()`), read from its device
    /// asynchronously: model files are written from host weights, and WebGPU cannot be read
    /// synchronously.
    pub async fn to_host(&self) -> Result<Autoencoder, crate::score::ScoreError> {
        let parameters = self.read_parameters().await?;
        Ok(Autoencoder::from_parameters(parameters, &Device::flex()))
    }

    /// The five convolutions' shapes, kernels and biases ([`Autoencoder::conv_parameters`])
    /// read from the device asynchronously (WebGPU cannot be read synchronously).
    pub(crate) async fn read_parameters(
        &self,
    ) -> Result<Vec<ConvParameters>, crate::score::ScoreError> {
        let mut read = Vec::new();
        for (weight, bias) in self.conv_parameters() {
            let shape = weight.dims();
            let weight = crate::score::read_vec(weight).await?;
            let bias = match bias {
                Some(bias) => Some(crate::score::read_vec(bias).await?),
                None => None,
            };
            read.push((shape, weight, bias));
        }
        Ok(read)
    }

    /// A network on `device` from the five convolutions' kernels (`[out, in, k, k]`, burn's
    /// order) and biases, as [`Autoencoder::conv_parameters`] lists them.
    pub(crate) fn from_parameters(parameters: Vec<ConvParameters>, device: &Device) -> Autoencoder {
        let [filters, channels, kernel, _] = parameters[0].0;
        let mut copy = AutoencoderConfig::new()
            .with_channels(channels)
            .with_filters(filters)
            .with_kernel(kernel)
            .init(device);
        let convs = [
            &mut copy.encode_conv1,
            &mut copy.encode_conv2,
            &mut copy.decode_conv1,
            &mut copy.decode_conv2,
            &mut copy.decode_output,
        ];
        for (conv, (shape, weight, bias)) in convs.into_iter().zip(parameters) {
            conv.weight =
                Param::from_tensor(Tensor::from_data(TensorData::new(weight, shape), device));
            conv.bias = bias.map(|bias| {
                let len = bias.len();
                Param::from_tensor(Tensor::from_data(TensorData::new(bias, [len]), device))
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
    fn host_copy_reconstructs_identically() {
        let device = Device::flex();
        let model = AutoencoderConfig::new().init_seeded(&device, 3);
        let copy = pollster::block_on(model.to_host()).unwrap_or_else(|e| panic!("{e}"));
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
        let model = AutoencoderConfig::new().init(&device);
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
        assert_eq!(wide.num_params(), wide.init(&device).num_params());
    }

    #[test]
    fn output_is_a_probability() {
        let device = Device::flex();
        let model = AutoencoderConfig::new().init(&device);
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

    #[test]
    fn seeded_init_is_glorot_uniform_and_reproducible() {
        let device = Device::flex();
        let weights = |seed| {
            AutoencoderConfig::new()
                .init_seeded(&device, seed)
                .encode_conv2
                .weight
                .val()
                .into_data()
                .try_into_vec::<f32>()
                .unwrap_or_default()
        };
        let (a, b, c) = (weights(5), weights(5), weights(6));
        assert_eq!(a, b);
        assert_ne!(a, c);
        // Glorot limit for 32→32, 3×3: sqrt(6 / (288 + 288)) ≈ 0.1021.
        let limit = (6.0f32 / 576.0).sqrt();
        assert!(a.iter().all(|v| v.abs() <= limit));
        assert!(a.iter().any(|v| v.abs() > 0.9 * limit));
    }

    #[test]
    fn config_validation_rejects_nonsense() {
        assert!(AutoencoderConfig::new().validate().is_ok());
        assert!(AutoencoderConfig::new().with_side(30).validate().is_err());
        assert!(AutoencoderConfig::new().with_kernel(2).validate().is_err());
        assert!(
            AutoencoderConfig::new()
                .with_channels(0)
                .validate()
                .is_err()
        );
    }
}
