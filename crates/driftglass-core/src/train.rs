//! Denoising training, as in the reference: Gaussian noise on the inputs, clean targets,
//! shuffled mini-batches, validation loss after every epoch, everything seeded.
//!
//! The loop is written once ([`train_with`]); how each step is computed is a [`Stepper`]: the
//! CPU trainer of [`crate::direct_train`] here ([`train`]), burn's autodiff on any device
//! (WebGPU too) in `driftglass-burn`.

use std::ops::ControlFlow;

use serde::{Deserialize, Serialize};

use crate::architecture::{AutoencoderConfig, Weights};
use crate::augment::Augmentation;
use crate::direct::DirectNetwork;
use crate::direct_train::DirectTrainer;
use crate::idx::ImageSet;
use crate::loss::LossKind;
pub use crate::optim::OptimizerKind;
use crate::rng::{SeededRng, add_gaussian_noise};
use crate::score::{Reconstruction, ScoreError, reconstruct_with_targets};

/// Settings of a training run. The defaults are the reference experiment's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingConfig {
    /// Passes over the training set.
    pub epochs: usize,
    /// Images per gradient step.
    pub batch_size: usize,
    /// Standard deviation of the Gaussian noise added to inputs (before clipping to [0, 1]).
    pub noise_factor: f64,
    /// Seed of initialisation, shuffling and noise.
    pub seed: u64,
    /// Optimizer.
    pub optimizer: OptimizerKind,
    /// Learning rate (Keras 2.0's Adadelta: 1.0).
    pub learning_rate: f64,
    /// Loss minimised.
    pub loss: LossKind,
    /// Random transformations of the training images (see [`crate::augment`]); none by
    /// default, and absent from files made before there were any.
    #[serde(default, skip_serializing_if = "Augmentation::is_none")]
    pub augment: Augmentation,
}

/// Mixed into the run's seed for the training images' transformations.
const AUGMENT_SEED: u64 = 0x0A06_3E17;
/// Mixed into the run's seed for [`TrainingConfig::augment_once`].
const ONCE_AUGMENT_SEED: u64 = 0x0A06_4E1D;
/// Mixed into the run's seed for [`TrainingConfig::calibration_images`].
const CALIBRATION_AUGMENT_SEED: u64 = 0x0A06_CA1B;

impl TrainingConfig {
    /// Each image of `set` transformed once by the augmentation (seeded by the run's seed), or
    /// `set` as it is: the images the novelty score of an augmented model is fitted on.
    pub fn augment_once(&self, set: &ImageSet) -> ImageSet {
        self.augment
            .apply_to_set(set, self.seed ^ ONCE_AUGMENT_SEED)
    }

    /// The held-out images an augmented model is calibrated on: each transformed once (seeded
    /// apart from [`Self::augment_once`]), so that its baseline, latent reference and novelty
    /// calibration hold the transformations the user said are not drift; `set` as it is
    /// without augmentation.
    pub fn calibration_images(&self, set: &ImageSet) -> ImageSet {
        self.augment
            .apply_to_set(set, self.seed ^ CALIBRATION_AUGMENT_SEED)
    }
}

impl Default for TrainingConfig {
    fn default() -> Self {
        TrainingConfig {
            epochs: 10,
            batch_size: 128,
            noise_factor: 0.5,
            seed: 42,
            optimizer: OptimizerKind::Adadelta,
            learning_rate: 1.0,
            loss: LossKind::Bce,
            augment: Augmentation::default(),
        }
    }
}

/// What one epoch did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochReport {
    /// 1-based epoch number.
    pub epoch: usize,
    /// Mean training loss over the epoch's batches (noisy inputs, clean targets).
    pub train_loss: f64,
    /// Validation loss: clean validation targets against reconstructions of noisy inputs.
    pub validation_loss: f64,
    /// Wall-clock seconds of the training part of the epoch.
    pub train_seconds: f64,
    /// Training throughput.
    pub images_per_second: f64,
}

/// Progress events, for progress bars and live curves.
#[derive(Debug, Clone, PartialEq)]
pub enum TrainingEvent {
    /// A batch finished.
    Batch {
        epoch: usize,
        batch: usize,
        batches: usize,
        loss: f64,
    },
    /// An epoch finished, validation included.
    Epoch(EpochReport),
    /// After each epoch: the first validation images ([`SAMPLE_IMAGES`] at most) as the
    /// network saw them (noisy) and as it redrew them, `side`² values per image.
    Samples {
        noisy: Vec<f32>,
        reconstructed: Vec<f32>,
    },
}

/// Validation images shown in [`TrainingEvent::Samples`].
pub const SAMPLE_IMAGES: usize = 8;
/// Validation images reconstructed per forward pass (a pause may follow each).
pub const VALIDATION_BATCH: usize = 64;

/// Why training stopped early.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("training set is empty")]
    EmptyTrainingSet,
    #[error("validation set is empty")]
    EmptyValidationSet,
    #[error("batch size must be at least 1")]
    ZeroBatch,
    #[error("invalid model config: {0}")]
    Config(String),
    #[error(
        "the model takes {model}×{model} images with {model_channels} channel(s) but the {which} images are {images}×{images} with {image_channels}"
    )]
    Side {
        model: usize,
        images: usize,
        model_channels: usize,
        image_channels: usize,
        which: &'static str,
    },
    #[error("training diverged: loss became {0}")]
    Diverged(f64),
    #[error(transparent)]
    Score(#[from] ScoreError),
    #[error("the training engine failed: {0}")]
    Engine(String),
}

/// Result of [`train`].
#[derive(Debug)]
pub struct Trained {
    /// The trained network.
    pub weights: Weights,
    /// One report per completed epoch.
    pub history: Vec<EpochReport>,
    /// Whether the callback stopped training before the last epoch.
    pub stopped_early: bool,
    /// The epoch whose weights these are: the one with the lowest validation loss (the
    /// reference experiment's checkpoint), `None` when training stopped before the first
    /// epoch was validated (then the weights as they stood).
    pub kept_epoch: Option<usize>,
}

/// The weights to keep: the best validated epoch's, else the network as it stands.
async fn kept<S: Stepper>(
    stepper: &S,
    best: Option<(f64, usize, Weights)>,
    history: Vec<EpochReport>,
    stopped_early: bool,
) -> Result<Trained, TrainError> {
    let (weights, kept_epoch) = match best {
        Some((_, epoch, weights)) => (weights, Some(epoch)),
        None => (stepper.weights().await?, None),
    };
    Ok(Trained {
        weights,
        history,
        stopped_early,
        kept_epoch,
    })
}

/// A clock that works natively and in the browser.
pub trait Clock {
    /// Seconds since an arbitrary origin.
    fn now_seconds(&self) -> f64;
}

/// Wall clock for native builds.
#[cfg(not(target_arch = "wasm32"))]
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

#[cfg(not(target_arch = "wasm32"))]
impl Clock for SystemClock {
    fn now_seconds(&self) -> f64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0)
    }
}

/// How a training step is computed, and what the network being trained makes of images.
#[allow(async_fn_in_trait)] // used through generics only; the futures need not be Send
pub trait Stepper {
    /// One gradient step on `count` images (`inputs` noisy, `targets` clean, channels first)
    /// at `learning_rate`: the batch's mean loss before the step.
    async fn step(
        &mut self,
        inputs: &[f32],
        targets: &[f32],
        count: usize,
        learning_rate: f64,
    ) -> Result<f64, TrainError>;

    /// Reconstruct `inputs` and score them against `targets` with the network as it stands.
    async fn reconstruct(
        &mut self,
        inputs: &ImageSet,
        targets: &ImageSet,
    ) -> Result<Vec<Reconstruction>, TrainError>;

    /// The network's weights as they stand.
    async fn weights(&self) -> Result<Weights, TrainError>;
}

/// The CPU trainer as a [`Stepper`]; the validation network is rebuilt after each step only
/// when asked for.
#[derive(Debug)]
pub struct DirectStepper {
    trainer: DirectTrainer,
    network: Option<DirectNetwork>,
}

impl DirectStepper {
    /// Start from `weights`.
    pub fn new(
        weights: &Weights,
        loss: LossKind,
        optimizer: OptimizerKind,
    ) -> Result<DirectStepper, TrainError> {
        Ok(DirectStepper {
            trainer: DirectTrainer::new(weights, loss, optimizer)?,
            network: None,
        })
    }
}

impl Stepper for DirectStepper {
    async fn step(
        &mut self,
        inputs: &[f32],
        targets: &[f32],
        _count: usize,
        learning_rate: f64,
    ) -> Result<f64, TrainError> {
        self.network = None;
        Ok(self.trainer.step(inputs, targets, learning_rate))
    }

    async fn reconstruct(
        &mut self,
        inputs: &ImageSet,
        targets: &ImageSet,
    ) -> Result<Vec<Reconstruction>, TrainError> {
        let network = match &mut self.network {
            Some(network) => network,
            empty => empty.insert(DirectNetwork::new(&self.trainer.weights()?)?),
        };
        Ok(reconstruct_with_targets(
            network,
            inputs,
            targets,
            inputs.count,
            |_| {},
        )?)
    }

    async fn weights(&self) -> Result<Weights, TrainError> {
        Ok(self.trainer.weights()?)
    }
}

/// Train a denoising autoencoder on the CPU ([`crate::direct_train`]).
///
/// `on_event` may return `ControlFlow::Break(())` to stop after the current batch (the model
/// so far is returned).
pub async fn train(
    model_config: &AutoencoderConfig,
    config: &TrainingConfig,
    training_set: &ImageSet,
    validation_set: &ImageSet,
    clock: &dyn Clock,
    on_event: impl FnMut(TrainingEvent) -> ControlFlow<()>,
) -> Result<Trained, TrainError> {
    train_with_pauses(
        model_config,
        config,
        training_set,
        validation_set,
        clock,
        on_event,
        || std::future::ready(()),
    )
    .await
}

/// [`train`], awaiting `pause()` after every training batch and every validation batch. In the
/// browser the pause lets the page paint and handle input, and waits while the user has
/// paused training. Same numbers as [`train`].
pub async fn train_with_pauses<F: std::future::Future<Output = ()>>(
    model_config: &AutoencoderConfig,
    config: &TrainingConfig,
    training_set: &ImageSet,
    validation_set: &ImageSet,
    clock: &dyn Clock,
    on_event: impl FnMut(TrainingEvent) -> ControlFlow<()>,
    pause: impl FnMut() -> F,
) -> Result<Trained, TrainError> {
    check(model_config, config, training_set, validation_set)?;
    let weights = Weights::init_seeded(*model_config, config.seed)
        .map_err(|e| TrainError::Config(e.to_string()))?;
    let stepper = DirectStepper::new(&weights, config.loss, config.optimizer)?;
    train_with(
        stepper,
        config,
        training_set,
        validation_set,
        clock,
        on_event,
        pause,
    )
    .await
}

/// Whether the settings and image sets can train `model_config`.
pub fn check(
    model_config: &AutoencoderConfig,
    config: &TrainingConfig,
    training_set: &ImageSet,
    validation_set: &ImageSet,
) -> Result<(), TrainError> {
    model_config.validate().map_err(TrainError::Config)?;
    if training_set.count == 0 {
        return Err(TrainError::EmptyTrainingSet);
    }
    if validation_set.count == 0 {
        return Err(TrainError::EmptyValidationSet);
    }
    if config.batch_size == 0 {
        return Err(TrainError::ZeroBatch);
    }
    for (set, which) in [(training_set, "training"), (validation_set, "validation")] {
        if set.side != model_config.side || set.channels != model_config.channels {
            return Err(TrainError::Side {
                model: model_config.side,
                images: set.side,
                model_channels: model_config.channels,
                image_channels: set.channels,
                which,
            });
        }
    }
    Ok(())
}

/// The training loop, whatever computes the steps. Call [`check`] first.
#[allow(clippy::too_many_arguments)]
pub async fn train_with<S: Stepper, F: std::future::Future<Output = ()>>(
    mut stepper: S,
    config: &TrainingConfig,
    training_set: &ImageSet,
    validation_set: &ImageSet,
    clock: &dyn Clock,
    mut on_event: impl FnMut(TrainingEvent) -> ControlFlow<()>,
    mut pause: impl FnMut() -> F,
) -> Result<Trained, TrainError> {
    let len = training_set.image_len();
    let mut rng = SeededRng::new(config.seed);
    let mut augment_rng = SeededRng::new(config.seed ^ AUGMENT_SEED);
    // Fixed noisy copy of the validation inputs, as the reference made once with numpy.
    let mut noisy_validation = validation_set.clone();
    add_gaussian_noise(
        &mut noisy_validation.pixels,
        config.noise_factor,
        &mut SeededRng::new(config.seed ^ 0x005e_ed0f_da7a),
    );

    let batches = training_set.count.div_ceil(config.batch_size);
    let mut order: Vec<usize> = (0..training_set.count).collect();
    let mut history = Vec::new();
    // (validation loss, epoch, weights) of the best epoch so far.
    let mut best: Option<(f64, usize, Weights)> = None;
    let mut batch_inputs = Vec::with_capacity(config.batch_size * len);
    let mut batch_targets = Vec::with_capacity(config.batch_size * len);
    for epoch in 1..=config.epochs {
        rng.shuffle(&mut order);
        let started = clock.now_seconds();
        let mut loss_sum = 0.0;
        let mut seen = 0usize;
        for (batch, indices) in order.chunks(config.batch_size).enumerate() {
            batch_targets.clear();
            for index in indices {
                batch_targets.extend_from_slice(training_set.image(*index));
            }
            if !config.augment.is_none() {
                for target in batch_targets.chunks_exact_mut(len) {
                    config.augment.apply(
                        target,
                        training_set.channels,
                        training_set.side,
                        &mut augment_rng,
                    );
                }
            }
            batch_inputs.clear();
            batch_inputs.extend_from_slice(&batch_targets);
            add_gaussian_noise(&mut batch_inputs, config.noise_factor, &mut rng);

            let count = indices.len();
            let loss_value = stepper
                .step(&batch_inputs, &batch_targets, count, config.learning_rate)
                .await?;
            if !loss_value.is_finite() {
                return Err(TrainError::Diverged(loss_value));
            }
            loss_sum += loss_value * count as f64;
            seen += count;
            let flow = on_event(TrainingEvent::Batch {
                epoch,
                batch: batch + 1,
                batches,
                loss: loss_value,
            });
            if flow.is_break() {
                return kept(&stepper, best, history, true).await;
            }
            pause().await;
        }
        let train_seconds = (clock.now_seconds() - started).max(1e-9);
        let mut losses = Vec::with_capacity(validation_set.count);
        let mut samples = None;
        let mut from = 0;
        while from < validation_set.count {
            let count = VALIDATION_BATCH.min(validation_set.count - from);
            let inputs = noisy_validation.range(from, count);
            let results = stepper
                .reconstruct(&inputs, &validation_set.range(from, count))
                .await?;
            losses.extend(results.iter().map(|r| match config.loss {
                LossKind::Bce => r.bce,
                LossKind::Mse => r.mse,
            }));
            if samples.is_none() {
                let shown = SAMPLE_IMAGES.min(count);
                samples = Some(TrainingEvent::Samples {
                    noisy: inputs.pixels[..shown * len].to_vec(),
                    reconstructed: results[..shown]
                        .iter()
                        .flat_map(|r| r.pixels.iter().copied())
                        .collect(),
                });
            }
            from += count;
            pause().await;
        }
        let validation_loss = crate::score::mean(losses).unwrap_or(f64::NAN);
        let report = EpochReport {
            epoch,
            train_loss: loss_sum / seen.max(1) as f64,
            validation_loss,
            train_seconds,
            images_per_second: seen as f64 / train_seconds,
        };
        if validation_loss.is_finite() && best.as_ref().is_none_or(|b| validation_loss < b.0) {
            best = Some((validation_loss, epoch, stepper.weights().await?));
        }
        history.push(report.clone());
        let mut flow = on_event(TrainingEvent::Epoch(report));
        if let Some(samples) = samples {
            flow = match (flow, on_event(samples)) {
                (ControlFlow::Continue(()), ControlFlow::Continue(())) => ControlFlow::Continue(()),
                _ => ControlFlow::Break(()),
            };
        }
        if flow.is_break() && epoch < config.epochs {
            return kept(&stepper, best, history, true).await;
        }
    }
    kept(&stepper, best, history, false).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::architecture::IMAGE_PIXELS;

    /// Synthetic "digits": random bright rectangles on black, a learnable family of images.
    fn rectangles(count: usize, seed: u64) -> ImageSet {
        let mut rng = SeededRng::new(seed);
        let mut pixels = vec![0.0f32; count * IMAGE_PIXELS];
        for i in 0..count {
            let (x0, y0) = (4 + rng.below(10), 4 + rng.below(10));
            let (w, h) = (3 + rng.below(10), 3 + rng.below(10));
            for y in y0..(y0 + h).min(28) {
                for x in x0..(x0 + w).min(28) {
                    pixels[i * IMAGE_PIXELS + y * 28 + x] = 1.0;
                }
            }
        }
        ImageSet::new(pixels, count)
    }

    struct FixedClock;
    impl Clock for FixedClock {
        fn now_seconds(&self) -> f64 {
            0.0
        }
    }

    fn short_run(seed: u64) -> Trained {
        let config = TrainingConfig {
            epochs: 3,
            batch_size: 32,
            seed,
            ..TrainingConfig::default()
        };
        let result = pollster::block_on(train(
            &AutoencoderConfig::new(),
            &config,
            &rectangles(256, 1),
            &rectangles(64, 2),
            &FixedClock,
            |_| ControlFlow::Continue(()),
        ));
        result.unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn short_training_run_lowers_validation_loss() {
        let trained = short_run(7);
        let losses: Vec<f64> = trained.history.iter().map(|r| r.validation_loss).collect();
        assert_eq!(losses.len(), 3);
        assert!(
            losses[2] < losses[0],
            "validation loss did not fall: {losses:?}"
        );
        let train: Vec<f64> = trained.history.iter().map(|r| r.train_loss).collect();
        assert!(train[2] < train[0], "training loss did not fall: {train:?}");
    }

    #[test]
    fn same_seed_same_result() {
        let a = short_run(11);
        let b = short_run(11);
        assert_eq!(a.history, b.history);
    }

    #[test]
    fn callback_can_stop_training() {
        let mut batches = 0;
        let trained = pollster::block_on(train(
            &AutoencoderConfig::new(),
            &TrainingConfig {
                batch_size: 16,
                ..TrainingConfig::default()
            },
            &rectangles(64, 1),
            &rectangles(16, 2),
            &FixedClock,
            |event| {
                if let TrainingEvent::Batch { .. } = event {
                    batches += 1;
                }
                if batches == 2 {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            },
        ))
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(trained.stopped_early);
        assert_eq!(batches, 2);
        assert!(trained.history.is_empty());
    }

    /// A stepper whose validation losses follow a script, and whose weights say which step
    /// they come from (the first kernel value holds the number of steps taken).
    struct Scripted {
        weights: Weights,
        steps: usize,
        steps_per_epoch: usize,
        validation_losses: Vec<f32>,
    }

    impl Stepper for Scripted {
        async fn step(
            &mut self,
            _inputs: &[f32],
            _targets: &[f32],
            _count: usize,
            _learning_rate: f64,
        ) -> Result<f64, TrainError> {
            self.steps += 1;
            Ok(0.5)
        }

        async fn reconstruct(
            &mut self,
            inputs: &ImageSet,
            _targets: &ImageSet,
        ) -> Result<Vec<Reconstruction>, TrainError> {
            let epoch = self.steps / self.steps_per_epoch;
            Ok(constant_reconstructions(
                inputs,
                self.validation_losses[epoch - 1],
            ))
        }

        async fn weights(&self) -> Result<Weights, TrainError> {
            let config = *self.weights.config();
            let mut layers = self.weights.clone().into_layers();
            layers[0].kernel[0] = self.steps as f32;
            Weights::new(config, layers).map_err(|e| TrainError::Config(e.to_string()))
        }
    }

    /// A black reconstruction of each of `inputs` with every loss `loss` (for test steppers).
    fn constant_reconstructions(inputs: &ImageSet, loss: f32) -> Vec<Reconstruction> {
        (0..inputs.count)
            .map(|_| Reconstruction {
                bce: loss,
                mse: loss,
                output_entropy: loss,
                pixels: vec![0.0; inputs.image_len()],
                latent: Vec::new(),
            })
            .collect()
    }

    /// Records the clean targets of the first step.
    struct Recording {
        weights: Weights,
        targets: std::rc::Rc<std::cell::RefCell<Vec<f32>>>,
    }

    impl Stepper for Recording {
        async fn step(
            &mut self,
            _inputs: &[f32],
            targets: &[f32],
            _count: usize,
            _learning_rate: f64,
        ) -> Result<f64, TrainError> {
            let mut recorded = self.targets.borrow_mut();
            if recorded.is_empty() {
                *recorded = targets.to_vec();
            }
            Ok(0.5)
        }

        async fn reconstruct(
            &mut self,
            inputs: &ImageSet,
            _targets: &ImageSet,
        ) -> Result<Vec<Reconstruction>, TrainError> {
            Ok(constant_reconstructions(inputs, 0.5))
        }

        async fn weights(&self) -> Result<Weights, TrainError> {
            Ok(self.weights.clone())
        }
    }

    /// With augmentation the steps learn from transformed images (the same ones for the same
    /// seed); without it, from the images themselves.
    #[test]
    fn augmentation_transforms_what_the_steps_learn_from() {
        let image = rectangles(1, 4);
        let first_targets = |augment: Augmentation| {
            let config = TrainingConfig {
                epochs: 1,
                batch_size: 1,
                augment,
                ..TrainingConfig::default()
            };
            let recorded = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
            let stepper = Recording {
                weights: Weights::init_seeded(AutoencoderConfig::new(), 1)
                    .unwrap_or_else(|e| panic!("{e}")),
                targets: std::rc::Rc::clone(&recorded),
            };
            let result = pollster::block_on(train_with(
                stepper,
                &config,
                &image,
                &image,
                &FixedClock,
                |_| ControlFlow::Continue(()),
                || std::future::ready(()),
            ));
            if let Err(e) = result {
                panic!("{e}");
            }
            recorded.take()
        };
        assert_eq!(first_targets(Augmentation::default()), image.image(0));
        let rotation = Augmentation {
            rotation: 40.0,
            ..Augmentation::default()
        };
        let rotated = first_targets(rotation);
        assert_ne!(rotated, image.image(0));
        assert_eq!(rotated, first_targets(rotation));
    }

    /// The model kept is the best validated epoch's (the reference's checkpoint), not the
    /// last; stopping early keeps the best so far.
    #[test]
    fn the_best_validated_epoch_is_kept() {
        let run = |losses: Vec<f32>, stop_after_batches: Option<usize>| {
            let config = TrainingConfig {
                epochs: losses.len(),
                batch_size: 16,
                ..TrainingConfig::default()
            };
            let stepper = Scripted {
                weights: Weights::init_seeded(AutoencoderConfig::new(), 1)
                    .unwrap_or_else(|e| panic!("{e}")),
                steps: 0,
                steps_per_epoch: 2,
                validation_losses: losses,
            };
            let mut batches = 0;
            pollster::block_on(train_with(
                stepper,
                &config,
                &rectangles(32, 1),
                &rectangles(8, 2),
                &FixedClock,
                |event| {
                    if let TrainingEvent::Batch { .. } = event {
                        batches += 1;
                    }
                    match stop_after_batches {
                        Some(n) if batches >= n => ControlFlow::Break(()),
                        _ => ControlFlow::Continue(()),
                    }
                },
                || std::future::ready(()),
            ))
            .unwrap_or_else(|e| panic!("{e}"))
        };
        let steps_of = |t: &Trained| t.weights.layers()[0].kernel[0];
        // Validation worsens after epoch 2: epoch 2's weights (4 steps) are kept.
        let trained = run(vec![0.3, 0.2, 0.25, 0.4], None);
        assert_eq!(trained.kept_epoch, Some(2));
        assert_eq!(steps_of(&trained), 4.0);
        assert_eq!(trained.history.len(), 4);
        // Improving to the end: the last epoch.
        let trained = run(vec![0.3, 0.2, 0.1], None);
        assert_eq!((trained.kept_epoch, steps_of(&trained)), (Some(3), 6.0));
        // Stopped in epoch 3 (after 5 steps): the best validated epoch so far, epoch 1.
        let trained = run(vec![0.1, 0.2, 0.05], Some(5));
        assert!(trained.stopped_early);
        assert_eq!((trained.kept_epoch, steps_of(&trained)), (Some(1), 2.0));
        // Stopped before any epoch was validated: the weights as they stand.
        let trained = run(vec![0.1, 0.2], Some(1));
        assert_eq!((trained.kept_epoch, steps_of(&trained)), (None, 1.0));
    }
}
