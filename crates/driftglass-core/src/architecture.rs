//! The autoencoder's shape and its weights as plain numbers: what model files store, what the
//! CPU kernels ([`crate::direct`], [`crate::direct_train`]) run, and what other runtimes (burn
//! in `driftglass-burn`, TF.js in the benchmark) are built from.
//!
//! The reference experiment's network is `Conv(f, k×k, relu, same) → MaxPool 2 → Conv(f) →
//! MaxPool 2` (encoder), `Conv(f) → UpSample 2 → Conv(f) → UpSample 2 → Conv(channels,
//! sigmoid)` (decoder). The architecture search (`driftglass search`) also varies its depth
//! (how many conv-and-pool stages, each halving the side) and its code size (the channels of
//! the encoder's last convolution, the bottleneck). Kernels are stored `[out, in, k, k]`
//! (burn's and PyTorch's order), images channels first.

use serde::{Deserialize, Serialize};

use crate::rng::SeededRng;

/// Side of the reference experiment's square input image, in pixels.
pub const IMAGE_SIDE: usize = 28;
/// Pixels per reference image.
pub const IMAGE_PIXELS: usize = IMAGE_SIDE * IMAGE_SIDE;

/// The reference network's five convolutions' names, in order (the tensor names in model
/// files: `<name>.weight`, `<name>.bias`); see [`AutoencoderConfig::layer_names`] for any depth.
pub const LAYER_NAMES: [&str; 5] = [
    "encode_conv1",
    "encode_conv2",
    "decode_conv1",
    "decode_conv2",
    "decode_output",
];

/// The reference experiment's depth: two conv-and-pool stages.
pub const REFERENCE_DEPTH: usize = 2;
/// The deepest network the kernels run.
pub const MAX_DEPTH: usize = 4;

fn reference_depth() -> usize {
    REFERENCE_DEPTH
}

fn is_reference_depth(depth: &usize) -> bool {
    *depth == REFERENCE_DEPTH
}

fn is_zero(value: &usize) -> bool {
    *value == 0
}

/// Shape of the autoencoder. The defaults are the reference experiment's. Model files written
/// before depth and code size existed read as the reference's (the fields default), and files
/// of the reference shape are written without them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AutoencoderConfig {
    /// Input channels (1: gray).
    pub channels: usize,
    /// Input side in pixels; must be divisible by `2^depth`.
    pub side: usize,
    /// Filters of every hidden convolution but the bottleneck.
    pub filters: usize,
    /// Kernel side of every convolution.
    pub kernel: usize,
    /// Conv-and-pool stages of the encoder (and conv-and-upsample stages of the decoder).
    #[serde(
        default = "reference_depth",
        skip_serializing_if = "is_reference_depth"
    )]
    pub depth: usize,
    /// Channels of the code (the encoder's last convolution); 0: as many as `filters`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub code: usize,
}

impl Default for AutoencoderConfig {
    fn default() -> Self {
        AutoencoderConfig {
            channels: 1,
            side: IMAGE_SIDE,
            filters: 32,
            kernel: 3,
            depth: REFERENCE_DEPTH,
            code: 0,
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

    pub fn with_depth(mut self, depth: usize) -> Self {
        self.depth = depth;
        self
    }

    /// Channels of the code; `filters` (or 0) gives every hidden convolution the same width.
    pub fn with_code(mut self, code: usize) -> Self {
        self.code = code;
        self
    }

    /// Channels of the code (the bottleneck).
    pub fn code_channels(&self) -> usize {
        if self.code == 0 {
            self.filters
        } else {
            self.code
        }
    }

    /// The same network with `code` written the one way (0 where it equals `filters`), so
    /// that equal networks compare equal.
    pub fn normalised(mut self) -> Self {
        if self.code == self.filters {
            self.code = 0;
        }
        self
    }

    /// Whether this is the reference experiment's shape at any channels, side, filters and
    /// kernel (two stages, a code as wide as the other layers).
    pub fn is_reference_shape(&self) -> bool {
        self.depth == REFERENCE_DEPTH && self.code_channels() == self.filters
    }

    /// Values of the code per image (`code channels · code side²`).
    pub fn code_len(&self) -> usize {
        self.code_channels() * self.code_side() * self.code_side()
    }

    /// Number of convolutions (`2 · depth + 1`).
    pub fn layer_count(&self) -> usize {
        2 * self.depth + 1
    }

    /// The convolutions' names, in order: `encode_conv1…`, `decode_conv1…`, `decode_output`
    /// (for the reference depth, [`LAYER_NAMES`]).
    pub fn layer_names(&self) -> Vec<String> {
        (1..=self.depth)
            .map(|i| format!("encode_conv{i}"))
            .chain((1..=self.depth).map(|i| format!("decode_conv{i}")))
            .chain(std::iter::once("decode_output".to_string()))
            .collect()
    }

    /// Values per input image (`channels · side · side`).
    pub fn values_per_image(&self) -> usize {
        self.channels * self.side * self.side
    }

    /// Side of the bottleneck feature map.
    pub fn code_side(&self) -> usize {
        self.side >> self.depth.min(usize::BITS as usize - 1)
    }

    /// The convolutions' kernel shapes `[out, in, k, k]`, in order: the encoder's (the last
    /// one makes the code), the decoder's, the output.
    pub fn layer_shapes(&self) -> Vec<[usize; 4]> {
        let (c, f, k, code) = (
            self.channels,
            self.filters,
            self.kernel,
            self.code_channels(),
        );
        let mut shapes = Vec::with_capacity(self.layer_count());
        for stage in 0..self.depth {
            let from = if stage == 0 { c } else { f };
            let to = if stage + 1 == self.depth { code } else { f };
            shapes.push([to, from, k, k]);
        }
        for stage in 0..self.depth {
            let from = if stage == 0 { code } else { f };
            shapes.push([f, from, k, k]);
        }
        shapes.push([c, f, k, k]);
        shapes
    }

    /// Number of parameters (weights and biases of the convolutions).
    pub fn num_params(&self) -> usize {
        self.layer_shapes()
            .iter()
            .map(|s| s.iter().product::<usize>() + s[0])
            .sum()
    }

    /// The config whose convolutions have these shapes (for images of `side` pixels), read from
    /// them: depth from their number, channels and kernel from the first, filters from the
    /// decoder's first, code channels from the encoder's last.
    pub fn from_layer_shapes(
        side: usize,
        layers: &[ConvWeights],
    ) -> Result<AutoencoderConfig, WeightsError> {
        let count = layers.len();
        if count < 3 || count.is_multiple_of(2) {
            return Err(WeightsError::LayerCount {
                found: count,
                expected: 2 * REFERENCE_DEPTH + 1,
            });
        }
        let depth = (count - 1) / 2;
        let [_, channels, kernel, _] = layers[0].shape;
        let filters = layers[depth].shape[0];
        let code = layers[depth - 1].shape[0];
        Ok(AutoencoderConfig {
            channels,
            side,
            filters,
            kernel,
            depth,
            code,
        }
        .normalised())
    }

    /// Whether the config describes a network this crate can run.
    pub fn validate(&self) -> Result<(), String> {
        if self.channels == 0 || self.channels > 4 {
            return Err(format!("channels must be 1..=4, got {}", self.channels));
        }
        if self.depth == 0 || self.depth > MAX_DEPTH {
            return Err(format!("depth must be 1..={MAX_DEPTH}, got {}", self.depth));
        }
        let step = 1usize << self.depth;
        if self.side < step || !self.side.is_multiple_of(step) || self.side > 512 {
            return Err(format!(
                "side must be a multiple of {step} (2^depth) up to 512, got {}",
                self.side
            ));
        }
        if self.filters == 0 || self.filters > 1024 {
            return Err(format!("filters must be 1..=1024, got {}", self.filters));
        }
        if self.code > 1024 {
            return Err(format!("code channels must be 0..=1024, got {}", self.code));
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
    #[error("{found} convolutions given, the autoencoder has {expected}")]
    LayerCount { found: usize, expected: usize },
    #[error("{layer}: shape {found:?}, the architecture needs {expected:?}")]
    Shape {
        layer: String,
        found: [usize; 4],
        expected: [usize; 4],
    },
    #[error("{layer}: {found} {what} values for shape {shape:?}")]
    Values {
        layer: String,
        what: &'static str,
        found: usize,
        shape: [usize; 4],
    },
    #[error("{layer}: a {what} value is not finite")]
    NotFinite { layer: String, what: &'static str },
}

/// The autoencoder's convolutions, checked against its config.
#[derive(Debug, Clone, PartialEq)]
pub struct Weights {
    config: AutoencoderConfig,
    layers: Vec<ConvWeights>,
}

impl Weights {
    /// Check `layers` (in [`AutoencoderConfig::layer_names`] order) against `config`.
    pub fn new(config: AutoencoderConfig, layers: Vec<ConvWeights>) -> Result<Self, WeightsError> {
        config.validate().map_err(WeightsError::Architecture)?;
        let config = config.normalised();
        if layers.len() != config.layer_count() {
            return Err(WeightsError::LayerCount {
                found: layers.len(),
                expected: config.layer_count(),
            });
        }
        for ((layer, name), expected) in layers
            .iter()
            .zip(config.layer_names())
            .zip(config.layer_shapes())
        {
            if layer.shape != expected {
                return Err(WeightsError::Shape {
                    layer: name,
                    found: layer.shape,
                    expected,
                });
            }
            let values = |what, found| WeightsError::Values {
                layer: name.clone(),
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
                    layer: name.clone(),
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

    /// The convolutions, in [`AutoencoderConfig::layer_names`] order.
    pub fn layers(&self) -> &[ConvWeights] {
        &self.layers
    }

    pub fn into_layers(self) -> Vec<ConvWeights> {
        self.layers
    }

    /// The weights as one array of numbers, how the page hands a network to its workers: the
    /// input side, the number of convolutions, then for each its shape `[out, in, k, k]`, 1 or
    /// 0 for "has a bias", the kernel and the bias.
    pub fn to_packed(&self) -> Vec<f32> {
        let mut packed = vec![self.config.side as f32, self.layers.len() as f32];
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
        let count = whole(take(1)?[0])?;
        if !(3..=2 * MAX_DEPTH + 1).contains(&count) || count.is_multiple_of(2) {
            return Err(malformed("not an autoencoder's number of convolutions"));
        }
        let mut layers = Vec::with_capacity(count);
        for _ in 0..count {
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
        let config = AutoencoderConfig::from_layer_shapes(side, &layers)?;
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
        odd[2] = 7.5;
        assert!(Weights::from_packed(&odd).is_err());
        let mut wrong_side = packed.clone();
        wrong_side[0] = 30.0;
        assert!(Weights::from_packed(&wrong_side).is_err());
        let mut huge = packed;
        huge[2] = 65_536.0;
        huge[3] = 65_536.0;
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
            Err(WeightsError::LayerCount {
                found: 4,
                expected: 5
            })
        );
    }

    #[test]
    fn depth_and_code_size_shape_the_network() {
        let reference = AutoencoderConfig::new();
        assert_eq!(reference.layer_names(), LAYER_NAMES);
        assert!(reference.is_reference_shape());
        assert_eq!(reference.code_len(), 32 * 7 * 7);
        let deep = AutoencoderConfig::new()
            .with_side(32)
            .with_filters(16)
            .with_depth(3)
            .with_code(4);
        assert!(deep.validate().is_ok());
        assert!(!deep.is_reference_shape());
        assert_eq!(deep.code_side(), 4);
        assert_eq!(deep.code_len(), 4 * 4 * 4);
        assert_eq!(
            deep.layer_shapes(),
            vec![
                [16, 1, 3, 3],
                [16, 16, 3, 3],
                [4, 16, 3, 3],
                [16, 4, 3, 3],
                [16, 16, 3, 3],
                [16, 16, 3, 3],
                [1, 16, 3, 3],
            ]
        );
        assert_eq!(deep.layer_names()[2], "encode_conv3");
        assert_eq!(deep.layer_names()[5], "decode_conv3");
        // 28 is not divisible by 8.
        assert!(deep.with_side(28).validate().is_err());
        assert!(deep.with_depth(0).validate().is_err());
        assert!(deep.with_depth(MAX_DEPTH + 1).validate().is_err());
        let shallow = AutoencoderConfig::new().with_depth(1).with_code(8);
        assert_eq!(
            shallow.layer_shapes(),
            vec![[8, 1, 3, 3], [32, 8, 3, 3], [1, 32, 3, 3]]
        );
        // Read back from the weights, as packed weights are.
        for config in [deep, shallow, reference, reference.with_code(32)] {
            let weights = Weights::init_seeded(config, 2).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(weights.config(), &config.normalised());
            let packed = Weights::from_packed(&weights.to_packed());
            assert_eq!(packed, Ok(weights));
        }
    }

    #[test]
    fn reference_configs_serialise_as_before() {
        let json = serde_json::to_string(&AutoencoderConfig::new()).unwrap_or_default();
        assert_eq!(json, r#"{"channels":1,"side":28,"filters":32,"kernel":3}"#);
        let old: AutoencoderConfig = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(old, AutoencoderConfig::new());
        let deep = AutoencoderConfig::new().with_depth(1).with_code(8);
        let json = serde_json::to_string(&deep).unwrap_or_default();
        let back: AutoencoderConfig = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, deep);
    }
}
