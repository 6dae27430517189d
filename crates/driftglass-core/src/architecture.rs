//! The autoencoder's shape and its weights as plain numbers: what model files store, what the
//! CPU kernels ([`crate::direct`], [`crate::direct_train`]) run, and what other runtimes (burn
//! in `driftglass-burn`, TF.js in the benchmark) are built from.
//!
//! The network is the reference experiment's: `Conv(f, k×k, relu, same) → MaxPool 2 →
//! Conv(f) → MaxPool 2` (encoder), `Conv(f) → UpSample 2 → Conv(f) → UpSample 2 →
//! Conv(channels, sigmoid)` (decoder). Kernels are stored `[out, in, k, k]` (burn's and
//! PyTorch's order), images channels first.

use serde::{Deserialize, Serialize};

use crate::rng::SeededRng;

/// Side of the reference experiment's square input image, in pixels.
pub const IMAGE_SIDE: usize = 28;
/// Pixels per reference image.
pub const IMAGE_PIXELS: usize = IMAGE_SIDE * IMAGE_SIDE;

/// The five convolutions' names, in order (the fields of burn's module, and the tensor names
/// in model files: `<name>.weight`, `<name>.bias`).
pub const LAYER_NAMES: [&str; 5] = [
    "encode_conv1",
    "encode_conv2",
    "decode_conv1",
    "decode_conv2",
    "decode_output",
];

/// Shape of the autoencoder. The defaults are the reference experiment's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AutoencoderConfig {
    /// Input channels (1: gray).
    pub channels: usize,
    /// Input side in pixels; must be divisible by 4 (two 2× poolings).
    pub side: usize,
    /// Filters of every hidden convolution.
    pub filters: usize,
    /// Kernel side of every convolution.
    pub kernel: usize,
}

impl Default for AutoencoderConfig {
    fn default() -> Self {
        AutoencoderConfig {
            channels: 1,
            side: IMAGE_SIDE,
            filters: 32,
            kernel: 3,
        }
    }
}

impl AutoencoderConfig {
    /// The reference architecture.
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_channels(mut self, channels: usize) -> Self {
        self.channels = channels;
        self
    }

    pub fn with_side(mut self, side: usize) -> Self {
        self.side = side;
        self
    }

    pub fn with_filters(mut self, filters: usize) -> Self {
        self.filters = filters;
        self
    }

    pub fn with_kernel(mut self, kernel: usize) -> Self {
        self.kernel = kernel;
        self
    }

    /// Values per input image (`channels · side · side`).
    pub fn values_per_image(&self) -> usize {
        self.channels * self.side * self.side
    }

    /// Side of the bottleneck feature map.
    pub fn code_side(&self) -> usize {
        self.side / 4
    }

    /// The five convolutions' kernel shapes `[out, in, k, k]`, in order.
    pub fn layer_shapes(&self) -> [[usize; 4]; 5] {
        let (c, f, k) = (self.channels, self.filters, self.kernel);
        [
            [f, c, k, k],
            [f, f, k, k],
            [f, f, k, k],
            [f, f, k, k],
            [c, f, k, k],
        ]
    }

    /// Number of parameters (weights and biases of the five convolutions).
    pub fn num_params(&self) -> usize {
        self.layer_shapes()
            .iter()
            .map(|s| s.iter().product::<usize>() + s[0])
            .sum()
    }

    /// Whether the config describes a network this crate can run.
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
}

/// One convolution's parameters: kernel `[out, in, k, k]` and bias `[out]`.
#[derive(Debug, Clone, PartialEq)]
pub struct ConvWeights {
    pub shape: [usize; 4],
    pub kernel: Vec<f32>,
    pub bias: Option<Vec<f32>>,
}

/// Why a set of weights does not make the network.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WeightsError {
    #[error("invalid architecture: {0}")]
    Architecture(String),
    #[error("{0} convolutions given, the autoencoder has 5")]
    LayerCount(usize),
    #[error("{layer}: shape {found:?}, the architecture needs {expected:?}")]
    Shape {
        layer: &'static str,
        found: [usize; 4],
        expected: [usize; 4],
    },
    #[error("{layer}: {found} {what} values for shape {shape:?}")]
    Values {
        layer: &'static str,
        what: &'static str,
        found: usize,
        shape: [usize; 4],
    },
    #[error("{layer}: a {what} value is not finite")]
    NotFinite {
        layer: &'static str,
        what: &'static str,
    },
}

/// The autoencoder's five convolutions, checked against its config.
#[derive(Debug, Clone, PartialEq)]
pub struct Weights {
    config: AutoencoderConfig,
    layers: Vec<ConvWeights>,
}

impl Weights {
    /// Check `layers` (in [`LAYER_NAMES`] order) against `config`.
    pub fn new(config: AutoencoderConfig, layers: Vec<ConvWeights>) -> Result<Self, WeightsError> {
        config.validate().map_err(WeightsError::Architecture)?;
        if layers.len() != 5 {
            return Err(WeightsError::LayerCount(layers.len()));
        }
        for ((layer, name), expected) in layers.iter().zip(LAYER_NAMES).zip(config.layer_shapes()) {
            if layer.shape != expected {
                return Err(WeightsError::Shape {
                    layer: name,
                    found: layer.shape,
                    expected,
                });
            }
            let values = |what, found| WeightsError::Values {
                layer: name,
                what,
                found,
                shape: layer.shape,
            };
            if layer.kernel.len() != expected.iter().product::<usize>() {
                return Err(values("kernel", layer.kernel.len()));
            }
            if let Some(bias) = &layer.bias
                && bias.len() != expected[0]
            {
                return Err(values("bias", bias.len()));
            }
            let finite = |v: &[f32]| v.iter().all(|x| x.is_finite());
            if !finite(&layer.kernel) {
                return Err(WeightsError::NotFinite {
                    layer: name,
                    what: "kernel",
                });
            }
            if !layer.bias.as_deref().is_none_or(finite) {
                return Err(WeightsError::NotFinite {
                    layer: name,
                    what: "bias",
                });
            }
        }
        Ok(Weights { config, layers })
    }

    /// Keras' initialisation: Glorot-uniform kernels, zero biases, drawn from [`SeededRng`]
    /// layer by layer in `[out, in, k, k]` order, so a seed gives the same network everywhere.
    pub fn init_seeded(config: AutoencoderConfig, seed: u64) -> Result<Self, WeightsError> {
        config.validate().map_err(WeightsError::Architecture)?;
        let mut rng = SeededRng::new(seed);
        let layers = config
            .layer_shapes()
            .into_iter()
            .map(|shape| {
                let [to, from, k, _] = shape;
                let (fan_in, fan_out) = ((from * k * k) as f64, (to * k * k) as f64);
                let limit = (6.0 / (fan_in + fan_out)).sqrt();
                let kernel = (0..shape.iter().product::<usize>())
                    .map(|_| ((rng.uniform() * 2.0 - 1.0) * limit) as f32)
                    .collect();
                ConvWeights {
                    shape,
                    kernel,
                    bias: Some(vec![0.0; to]),
                }
            })
            .collect();
        Weights::new(config, layers)
    }

    pub fn config(&self) -> &AutoencoderConfig {
        &self.config
    }

    /// The five convolutions, in [`LAYER_NAMES`] order.
    pub fn layers(&self) -> &[ConvWeights] {
        &self.layers
    }

    pub fn into_layers(self) -> Vec<ConvWeights> {
        self.layers
    }

    /// The weights as one array of numbers, how the page hands a network to its workers: the
    /// input side, then for each convolution its shape `[out, in, k, k]`, 1 or 0 for "has a
    /// bias", the kernel and the bias.
    pub fn to_packed(&self) -> Vec<f32> {
        let mut packed = vec![self.config.side as f32];
        for layer in &self.layers {
            packed.extend(layer.shape.map(|d| d as f32));
            packed.push(if layer.bias.is_some() { 1.0 } else { 0.0 });
            packed.extend(&layer.kernel);
            packed.extend(layer.bias.iter().flatten());
        }
        packed
    }

    /// The inverse of [`Weights::to_packed`]; a damaged array is refused, not misread.
    pub fn from_packed(packed: &[f32]) -> Result<Weights, WeightsError> {
        let malformed = |why: &str| WeightsError::Architecture(format!("packed weights: {why}"));
        let mut at = 0usize;
        let mut take = |n: usize| -> Result<&[f32], WeightsError> {
            let values = packed
                .get(at..at.saturating_add(n))
                .ok_or_else(|| malformed("too short"))?;
            at += n;
            Ok(values)
        };
        let whole = |v: f32| -> Result<usize, WeightsError> {
            if v.fract() == 0.0 && (0.0..=65_536.0).contains(&v) {
                Ok(v as usize)
            } else {
                Err(malformed("a size is not a whole number"))
            }
        };
        let side = whole(take(1)?[0])?;
        let mut layers = Vec::with_capacity(5);
        for _ in 0..5 {
            let head = take(5)?;
            let shape = [
                whole(head[0])?,
                whole(head[1])?,
                whole(head[2])?,
                whole(head[3])?,
            ];
            let has_bias = head[4] != 0.0;
            let count = shape
                .iter()
                .try_fold(1usize, |n, &d| n.checked_mul(d))
                .ok_or_else(|| malformed("a convolution is too large"))?;
            let kernel = take(count)?.to_vec();
            let bias = if has_bias {
                Some(take(shape[0])?.to_vec())
            } else {
                None
            };
            layers.push(ConvWeights {
                shape,
                kernel,
                bias,
            });
        }
        if at != packed.len() {
            return Err(malformed("trailing values"));
        }
        let [filters, channels, kernel, _] = layers[0].shape;
        let config = AutoencoderConfig {
            channels,
            side,
            filters,
            kernel,
        };
        Weights::new(config, layers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_shape_and_parameter_count() {
        // 3×3 convs: (1·9+1)·32 + 3·(32·9+1)·32 + (32·9+1)·1 = 28,353 parameters.
        assert_eq!(AutoencoderConfig::new().num_params(), 28_353);
        let weights =
            Weights::init_seeded(AutoencoderConfig::new(), 0).unwrap_or_else(|e| panic!("{e}"));
        let count: usize = weights
            .layers()
            .iter()
            .map(|l| l.kernel.len() + l.bias.as_ref().map_or(0, Vec::len))
            .sum();
        assert_eq!(count, 28_353);
    }

    #[test]
    fn seeded_init_is_glorot_uniform_and_reproducible() {
        let kernel = |seed| {
            Weights::init_seeded(AutoencoderConfig::new(), seed)
                .map(|w| w.layers()[1].kernel.clone())
                .unwrap_or_default()
        };
        let (a, b, c) = (kernel(5), kernel(5), kernel(6));
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

    #[test]
    fn packed_weights_round_trip_and_damage_is_refused() {
        let config = AutoencoderConfig::new()
            .with_side(12)
            .with_filters(12)
            .with_kernel(5);
        let weights = Weights::init_seeded(config, 4).unwrap_or_else(|e| panic!("{e}"));
        let packed = weights.to_packed();
        assert_eq!(Weights::from_packed(&packed), Ok(weights));
        let mut short = packed.clone();
        short.pop();
        assert!(Weights::from_packed(&short).is_err());
        let mut long = packed.clone();
        long.push(0.0);
        assert!(Weights::from_packed(&long).is_err());
        let mut odd = packed.clone();
        odd[1] = 7.5;
        assert!(Weights::from_packed(&odd).is_err());
        let mut wrong_side = packed.clone();
        wrong_side[0] = 30.0;
        assert!(Weights::from_packed(&wrong_side).is_err());
        let mut huge = packed;
        huge[1] = 65_536.0;
        huge[2] = 65_536.0;
        assert!(Weights::from_packed(&huge).is_err());
        assert!(Weights::from_packed(&[]).is_err());
    }

    #[test]
    fn weights_that_do_not_fit_are_refused() {
        let config = AutoencoderConfig::new();
        let good = Weights::init_seeded(config, 1).unwrap_or_else(|e| panic!("{e}"));
        let mut layers = good.clone().into_layers();
        layers[2].shape = [16, 32, 3, 3];
        assert!(matches!(
            Weights::new(config, layers),
            Err(WeightsError::Shape { .. })
        ));
        let mut layers = good.clone().into_layers();
        layers[4].kernel.pop();
        assert!(matches!(
            Weights::new(config, layers),
            Err(WeightsError::Values { .. })
        ));
        let mut layers = good.clone().into_layers();
        layers[0].kernel[3] = f32::NAN;
        assert!(matches!(
            Weights::new(config, layers),
            Err(WeightsError::NotFinite { .. })
        ));
        let mut layers = good.into_layers();
        layers.pop();
        assert_eq!(
            Weights::new(config, layers),
            Err(WeightsError::LayerCount(4))
        );
    }
}
