//! The core's CPU kernels against burn: forward pass, gradients, optimizer steps, model-file
//! weights. burn's module is the reference definition; the core must agree with it to float
//! rounding (the sums run in other orders).

use std::ops::ControlFlow;

use burn::module::Module;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::interpolate::{Interpolate2d, Interpolate2dConfig, InterpolateMode};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor};
use driftglass_burn::adadelta::AdadeltaConfig;
use driftglass_burn::model::{Autoencoder, init_seeded};
use driftglass_burn::score::images_tensor;
use driftglass_core::architecture::{AutoencoderConfig, Weights};
use driftglass_core::direct_train::{DirectTrainer, SLICE};
use driftglass_core::loss::LossKind;
use driftglass_core::optim::OptimizerKind;
use driftglass_core::train::{Clock, TrainingConfig, TrainingEvent};
use driftglass_core::{DirectNetwork, ImageSet, Reconstruction, model_file};

/// Smooth blobs and strokes in (0, 1), different per image.
fn images(count: usize, channels: usize, side: usize) -> ImageSet {
    let len = channels * side * side;
    let pixels = (0..count * len)
        .map(|i| {
            let (n, rest) = (i / len, i % len);
            let (y, x) = ((rest % (side * side)) / side, rest % side);
            let v = ((x as f32 * 0.37 + n as f32).sin()
                * (y as f32 * 0.23 + rest as f32 / len as f32).cos())
            .abs();
            if (x + 2 * y + n) % 5 == 0 { 1.0 } else { v }
        })
        .collect();
    ImageSet::with_shape(pixels, count, channels, side)
}

/// Strokes and blobs in [0, 1], some pixels exactly 0 and 1; noisy inputs, clean targets.
fn batch(count: usize, channels: usize, side: usize, seed: usize) -> (Vec<f32>, Vec<f32>) {
    let len = side * side;
    let targets: Vec<f32> = (0..count * channels * len)
        .map(|i| {
            // Each channel of an image its own pattern.
            let (n, rest) = (i / len + seed, i % len);
            let (y, x) = (rest / side, rest % side);
            if (x + 3 * y + n) % 7 == 0 {
                1.0
            } else if (x * y + n) % 5 == 0 {
                0.0
            } else {
                ((x as f32 * 0.31 + n as f32).sin() * (y as f32 * 0.17).cos()).abs()
            }
        })
        .collect();
    let inputs = targets
        .iter()
        .enumerate()
        .map(|(i, v)| (v + 0.3 * ((i * 7919 % 101) as f32 / 101.0 - 0.5)).clamp(0.0, 1.0))
        .collect();
    (inputs, targets)
}

fn values<const D: usize>(tensor: Tensor<D>) -> Vec<f32> {
    tensor.into_data().try_into_vec::<f32>().unwrap_or_default()
}

fn seeded(config: AutoencoderConfig, seed: u64) -> Weights {
    Weights::init_seeded(config, seed).unwrap_or_else(|e| panic!("{e}"))
}

/// Largest difference between the core's and burn's reconstructions, relative to 1.
fn forward_difference(weights: &Weights, set: &ImageSet) -> f32 {
    let device = Device::flex();
    let network = DirectNetwork::new(weights).unwrap_or_else(|e| panic!("{e}"));
    let ours =
        driftglass_core::reconstruct(&network, set, 16, |_| {}).unwrap_or_else(|e| panic!("{e}"));
    let model = Autoencoder::from_weights(weights, &device);
    let theirs = pollster::block_on(driftglass_burn::score::reconstruct(
        &model,
        set,
        &device,
        16,
        |_| {},
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((ours.len(), theirs.len()), (set.count, set.count));
    let flat = |r: &Reconstruction| {
        [r.bce, r.mse, r.output_entropy]
            .into_iter()
            .chain(r.pixels.iter().copied())
            .collect::<Vec<_>>()
    };
    let mut worst = 0.0f32;
    for (a, b) in ours.iter().zip(&theirs) {
        assert_eq!(a.pixels.len(), b.pixels.len());
        for (x, y) in flat(a).into_iter().zip(flat(b)) {
            worst = worst.max((x - y).abs() / y.abs().max(1.0));
        }
        // The code's projection sums `code channels · code side²` terms (32,768 at 128×128),
        // in another order than burn's: its rounding grows with the square root of that count.
        let terms = weights.config().code_len() as f32;
        let scale = (terms / 1568.0).sqrt().max(1.0);
        for (x, y) in a.latent.iter().zip(&b.latent) {
            worst = worst.max((x - y).abs() / y.abs().max(1.0) / scale);
        }
    }
    worst
}

#[test]
fn bundled_model_forward_agrees_with_burn() {
    let loaded = model_file::decode(driftglass_core::bundled::BUNDLED_MODEL)
        .unwrap_or_else(|e| panic!("{e}"));
    let worst = forward_difference(&loaded.weights, &images(37, 1, 28));
    assert!(worst < 2e-5, "core vs burn differ by {worst}");
}

#[test]
fn other_shapes_forward_agrees_with_burn() {
    // 64×64 inputs; then filters that are no multiple of 8 and a 5×5 kernel.
    let cases = [
        (AutoencoderConfig::new().with_side(64), 5),
        (
            AutoencoderConfig::new()
                .with_side(12)
                .with_filters(12)
                .with_kernel(5),
            9,
        ),
        // Other depths and code sizes, as the architecture search tries them: a narrow code
        // (fewer than 8 channels: the narrow kernels), a wide one, three stages, one stage.
        (AutoencoderConfig::new().with_code(4), 7),
        (AutoencoderConfig::new().with_filters(16).with_code(48), 7),
        (
            AutoencoderConfig::new()
                .with_side(32)
                .with_depth(3)
                .with_code(8),
            6,
        ),
        (AutoencoderConfig::new().with_depth(1).with_code(12), 6),
        (
            AutoencoderConfig::new()
                .with_channels(3)
                .with_side(64)
                .with_depth(4)
                .with_filters(16)
                .with_code(24),
            3,
        ),
    ];
    for (config, count) in cases {
        let worst = forward_difference(
            &seeded(config, 11),
            &images(count, config.channels, config.side),
        );
        assert!(worst < 2e-5, "{config:?}: core vs burn differ by {worst}");
    }
}

/// burn's gradients of the batch's mean loss: per layer, kernel and bias.
fn burn_gradients(
    weights: &Weights,
    inputs: &[f32],
    targets: &[f32],
    loss: LossKind,
) -> Vec<(Vec<f32>, Vec<f32>)> {
    let device = Device::flex().autodiff();
    let (channels, side) = (weights.config().channels, weights.config().side);
    let tracked = Autoencoder::from_weights(weights, &device);
    let count = inputs.len() / (channels * side * side);
    let x = images_tensor(inputs, count, channels, side, &device);
    let y = images_tensor(targets, count, channels, side, &device);
    let grads = driftglass_burn::loss::per_image(loss, tracked.forward(x), y)
        .mean()
        .backward();
    tracked
        .conv_parameters()
        .into_iter()
        .map(|(w, b)| {
            let w = w.grad(&grads).map(values).unwrap_or_default();
            let b = b.and_then(|b| b.grad(&grads)).map(values);
            (w, b.unwrap_or_default())
        })
        .collect()
}

fn assert_close(ours: &[f32], theirs: &[f32], what: &str) {
    assert_eq!(ours.len(), theirs.len(), "{what}: lengths");
    let scale = theirs.iter().fold(0.0f32, |m, v| m.max(v.abs())).max(1e-12);
    let worst = ours
        .iter()
        .zip(theirs)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(
        worst <= 1e-4 * scale,
        "{what}: max |Δ| {worst:e} against max |g| {scale:e}"
    );
}

fn check_gradients(config: AutoencoderConfig, loss: LossKind) {
    check_gradients_on(config, loss, SLICE + 3);
}

/// As [`check_gradients`], on `count` images.
fn check_gradients_on(config: AutoencoderConfig, loss: LossKind, count: usize) {
    let weights = seeded(config, 5);
    let (inputs, targets) = batch(count, config.channels, config.side, 1);
    let trainer = DirectTrainer::new(&weights, loss, OptimizerKind::Adadelta)
        .unwrap_or_else(|e| panic!("{e}"));
    let ours = trainer.gradients(&inputs, &targets);
    let theirs = burn_gradients(&weights, &inputs, &targets, loss);
    for (layer, ((ok, ob), (tk, tb))) in ours.iter().zip(&theirs).enumerate() {
        assert_close(ok, tk, &format!("layer {layer} kernel"));
        assert_close(ob, tb, &format!("layer {layer} bias"));
    }
}

#[test]
fn gradients_agree_with_burn_autodiff() {
    check_gradients(AutoencoderConfig::new(), LossKind::Bce);
    check_gradients(AutoencoderConfig::new(), LossKind::Mse);
}

#[test]
fn gradients_agree_with_burn_autodiff_for_other_shapes() {
    // 12 filters (padded to 16 in the kernels), a 5×5 kernel, 12×12 images.
    let config = AutoencoderConfig::new()
        .with_filters(12)
        .with_kernel(5)
        .with_side(12);
    check_gradients(config, LossKind::Bce);
    // Other depths and code sizes.
    check_gradients(AutoencoderConfig::new().with_code(4), LossKind::Bce);
    check_gradients(
        AutoencoderConfig::new().with_filters(16).with_code(40),
        LossKind::Mse,
    );
    check_gradients_on(
        AutoencoderConfig::new()
            .with_side(32)
            .with_depth(3)
            .with_code(8),
        LossKind::Bce,
        5,
    );
    check_gradients_on(
        AutoencoderConfig::new().with_depth(1).with_code(12),
        LossKind::Bce,
        5,
    );
    check_gradients_on(
        AutoencoderConfig::new()
            .with_channels(3)
            .with_side(32)
            .with_depth(4)
            .with_filters(16)
            .with_code(6),
        LossKind::Bce,
        3,
    );
}

/// Colour models (three input channels, three sigmoid outputs) at every side the page and the
/// CLI offer: the core's forward pass agrees with burn's.
#[test]
fn color_forward_agrees_with_burn_at_every_side() {
    for (side, count) in [(28, 9), (32, 9), (64, 5), (128, 2)] {
        let config = AutoencoderConfig::new().with_channels(3).with_side(side);
        let worst = forward_difference(&seeded(config, 13), &images(count, 3, side));
        assert!(worst < 2e-5, "{config:?}: core vs burn differ by {worst}");
    }
}

/// ... and its gradients agree with burn's autodiff, for both losses.
#[test]
fn color_gradients_agree_with_burn_autodiff_at_every_side() {
    for (side, count) in [(28, SLICE + 3), (32, SLICE + 1), (64, 3), (128, 2)] {
        let config = AutoencoderConfig::new().with_channels(3).with_side(side);
        check_gradients_on(config, LossKind::Bce, count);
    }
    let config = AutoencoderConfig::new().with_channels(3).with_side(32);
    check_gradients_on(config, LossKind::Mse, 5);
}

/// `steps` optimizer steps on the same batch by the core and by burn; the largest weight
/// difference afterwards.
fn step_difference(optimizer: OptimizerKind, learning_rate: f64, steps: usize) -> f32 {
    let weights = seeded(AutoencoderConfig::new(), 9);
    let (inputs, targets) = batch(8, 1, 28, 3);
    let mut trainer =
        DirectTrainer::new(&weights, LossKind::Bce, optimizer).unwrap_or_else(|e| panic!("{e}"));
    for _ in 0..steps {
        trainer.step(&inputs, &targets, learning_rate);
    }
    let ours = trainer.weights().unwrap_or_else(|e| panic!("{e}"));

    let device = Device::flex().autodiff();
    let mut tracked = Autoencoder::from_weights(&weights, &device);
    let mut optim = match optimizer {
        OptimizerKind::Adadelta => AdadeltaConfig::new().init(),
        OptimizerKind::Adam => burn::optim::AdamConfig::new().with_epsilon(1e-8).init(),
    };
    for _ in 0..steps {
        let x = images_tensor(&inputs, 8, 1, 28, &device);
        let y = images_tensor(&targets, 8, 1, 28, &device);
        let mean = driftglass_burn::loss::per_image(LossKind::Bce, tracked.forward(x), y).mean();
        let grads = GradientsParams::from_grads(mean.backward(), &tracked);
        tracked = optim.step(learning_rate, tracked, grads);
    }
    let theirs =
        pollster::block_on(tracked.valid().to_weights(28)).unwrap_or_else(|e| panic!("{e}"));
    let mut worst = 0.0f32;
    for (a, b) in ours.layers().iter().zip(theirs.layers()) {
        for (x, y) in a.kernel.iter().zip(&b.kernel) {
            worst = worst.max((x - y).abs());
        }
        for (x, y) in a.bias.iter().flatten().zip(b.bias.iter().flatten()) {
            worst = worst.max((x - y).abs());
        }
    }
    worst
}

#[test]
fn adadelta_steps_match_burns() {
    // Adadelta's first step is ≈ ±√ε/√(1 − ρ) per weight (4.5e-4): a sign-like step, so a
    // disagreement would show as a whole step.
    let worst = step_difference(OptimizerKind::Adadelta, 1.0, 1);
    assert!(worst < 5e-5, "weights after one step differ by {worst:e}");
    let worst = step_difference(OptimizerKind::Adadelta, 1.0, 3);
    assert!(
        worst < 1e-4,
        "weights after three steps differ by {worst:e}"
    );
}

#[test]
fn adam_steps_match_burns() {
    // Adam's steps are ≈ lr per weight (1e-3 here).
    let worst = step_difference(OptimizerKind::Adam, 1e-3, 3);
    assert!(
        worst < 1e-4,
        "weights after three steps differ by {worst:e}"
    );
}

/// Model files of format 1 and 2 stored burn's record: the core's own reader of it gives the
/// very weights burn loads from it.
#[test]
fn legacy_weights_read_without_burn_equal_burns_record() {
    use burn::store::ModuleRecord;
    use burn::tensor::Bytes;
    let bytes = include_bytes!("../../driftglass-core/tests/fixtures/mnist-ae-format2.dgm");
    let ours = model_file::decode(bytes).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ours.format_version, 2);
    // The weights section: after the header, baseline and latent sections.
    let at = |i: usize| u32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
    let mut offset = 16 + at(12) as usize;
    offset += 4 + 4 * at(offset) as usize;
    offset += 8 + 4 * (at(offset) as usize * at(offset + 4) as usize);
    let len = at(offset) as usize;
    let record = ModuleRecord::from_bytes(Bytes::from_bytes_vec(
        bytes[offset + 4..offset + 4 + len].to_vec(),
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    let device = Device::flex();
    let model = LegacyAutoencoder::new(&device)
        .try_load_record(record)
        .unwrap_or_else(|e| panic!("{e}"));
    let theirs = Weights::new(
        AutoencoderConfig::new(),
        [
            &model.encode_conv1,
            &model.encode_conv2,
            &model.decode_conv1,
            &model.decode_conv2,
            &model.decode_output,
        ]
        .into_iter()
        .map(|conv| driftglass_core::architecture::ConvWeights {
            shape: conv.weight.val().dims(),
            kernel: values(conv.weight.val()),
            bias: conv.bias.as_ref().map(|b| values(b.val())),
        })
        .collect(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ours.weights, theirs);
}

/// The module whose record formats 1 and 2 stored: the reference network with a field per
/// layer (the module now keeps its layers in lists, for any depth).
#[derive(Module, Debug)]
struct LegacyAutoencoder {
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

impl LegacyAutoencoder {
    fn new(device: &Device) -> Self {
        let conv = |from: usize, to: usize| {
            Conv2dConfig::new([from, to], [3, 3])
                .with_padding(PaddingConfig2d::Same)
                .init(device)
        };
        let pool = || MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init();
        let upsample = || {
            Interpolate2dConfig::new()
                .with_scale_factor(Some([2.0, 2.0]))
                .with_mode(InterpolateMode::Nearest)
                .init()
        };
        LegacyAutoencoder {
            encode_conv1: conv(1, 32),
            encode_pool1: pool(),
            encode_conv2: conv(32, 32),
            encode_pool2: pool(),
            decode_conv1: conv(32, 32),
            decode_upsample1: upsample(),
            decode_conv2: conv(32, 32),
            decode_upsample2: upsample(),
            decode_output: conv(32, 1),
        }
    }
}

struct Zero;
impl Clock for Zero {
    fn now_seconds(&self) -> f64 {
        0.0
    }
}

/// The core's CPU trainer and burn's autodiff trainer, from the same seed through the same
/// loop: the same first batch (same initial weights, noise and order), and losses that stay
/// together over a short run.
#[test]
fn both_trainers_follow_the_same_loop() {
    let set = images(96, 1, 28);
    let validation = images(32, 1, 28);
    let config = TrainingConfig {
        epochs: 2,
        batch_size: 32,
        ..TrainingConfig::default()
    };
    let architecture = AutoencoderConfig::new();
    let first_loss = |events: &[TrainingEvent]| {
        events.iter().find_map(|e| match e {
            TrainingEvent::Batch { loss, .. } => Some(*loss),
            _ => None,
        })
    };
    let mut ours_events = Vec::new();
    let ours = pollster::block_on(driftglass_core::train(
        &architecture,
        &config,
        &set,
        &validation,
        &Zero,
        |e| {
            ours_events.push(e);
            ControlFlow::Continue(())
        },
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    let mut theirs_events = Vec::new();
    let theirs = pollster::block_on(driftglass_burn::train::train(
        &architecture,
        &config,
        &set,
        &validation,
        &Device::flex(),
        &Zero,
        |e| {
            theirs_events.push(e);
            ControlFlow::Continue(())
        },
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    let (a, b) = (first_loss(&ours_events), first_loss(&theirs_events));
    let (a, b) = (a.unwrap_or(f64::NAN), b.unwrap_or(f64::NAN));
    assert!((a - b).abs() < 1e-5 * b.abs(), "first batch: {a} vs {b}");
    for (x, y) in ours.history.iter().zip(&theirs.history) {
        let relative = (x.validation_loss - y.validation_loss).abs() / y.validation_loss;
        assert!(relative < 1e-3, "epoch {}: {x:?} vs {y:?}", x.epoch);
    }
    // The seeded burn module starts from the core's initial weights.
    let start =
        init_seeded(&architecture, &Device::flex(), config.seed).unwrap_or_else(|e| panic!("{e}"));
    let start = pollster::block_on(start.to_weights(28)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(start, seeded(architecture, config.seed));
}
