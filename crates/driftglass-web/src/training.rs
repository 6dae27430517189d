//! The Reference step's browser glue: read the user's reference images, train the autoencoder
//! on them with the model crate's training loop (pausing between batches so the page stays
//! live), calibrate the baseline on the held-out images, and seal a model file. The numbers all
//! come from `driftglass_core`; this module only schedules the work and reports progress.

use std::cell::Cell;
use std::ops::ControlFlow;

use driftglass_core::augment::Augmentation;
use driftglass_core::model_file::{self, LoadedModel, TrainingSummary};
use driftglass_core::properties::{ImageProperties, PropertyReference};
use driftglass_core::reference::{self, Calibrated, MIN_REFERENCE_IMAGES};
use driftglass_core::train::{
    Clock, EpochReport, OptimizerKind, TrainingConfig, TrainingEvent, VALIDATION_BATCH, check,
    train_with, train_with_pauses,
};
use driftglass_core::{AutoencoderConfig, ImageSet, LossKind, PreprocessConfig, Weights};

use crate::gpu::GpuStepper;

use crate::glue::{now_ms, sleep_ms, yield_to_browser};
use crate::pipeline::{Source, prepare};

/// Most reference images taken (MNIST's training set is 60,000); more are reported, not used.
pub const MAX_REFERENCE_IMAGES: usize = 60_000;
/// Default images per training step in the page: each CPU step runs on the page's thread, and
/// 32 keeps a step near a few hundred milliseconds (the reference used 128).
pub const DEFAULT_BATCH_SIZE: usize = 32;

/// The user's reference images, preprocessed exactly as images to be scored are.
#[derive(Debug, Clone, PartialEq)]
pub struct ReferenceSet {
    /// What was dropped, e.g. "my-scans (folder)".
    pub label: String,
    pub images: ImageSet,
    /// Each image's properties, in the same order (for "what changed").
    pub properties: Vec<ImageProperties>,
    /// Names of inputs that could not be used, with why.
    pub failed: Vec<(String, String)>,
    /// Inputs over [`MAX_REFERENCE_IMAGES`], not used.
    pub skipped: usize,
}

/// Read and preprocess reference images to `side`×`side` with `channels` channels (1: gray,
/// 3: RGB), `on_progress(done, total)` every 64 files.
pub async fn gather(
    label: String,
    sources: Vec<Source>,
    (side, channels): (usize, usize),
    mut on_progress: impl FnMut(usize, usize),
) -> ReferenceSet {
    let config = PreprocessConfig::with_side(side).with_channels(channels);
    let total = sources.len();
    let mut pixels = Vec::new();
    let mut properties = Vec::new();
    let mut count = 0;
    let mut failed = Vec::new();
    let mut skipped = 0;
    for (done, source) in sources.into_iter().enumerate() {
        for (name, input) in prepare(source, &config).await {
            match input {
                Ok(_) if count >= MAX_REFERENCE_IMAGES => skipped += 1,
                Ok((image, measured)) => {
                    pixels.extend_from_slice(&image);
                    properties.push(measured);
                    count += 1;
                }
                Err(error) => failed.push((name, error)),
            }
        }
        if done % 64 == 63 {
            on_progress(done + 1, total);
            yield_to_browser().await;
        }
    }
    on_progress(total, total);
    ReferenceSet {
        label,
        images: ImageSet::with_shape(pixels, count, channels, side),
        properties,
        failed,
        skipped,
    }
}

/// The choices the Reference step offers.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub epochs: usize,
    pub batch_size: usize,
    pub optimizer: OptimizerKind,
    /// `None`: the optimizer's default (Adadelta 1.0, Adam 0.001).
    pub learning_rate: Option<f64>,
    pub validation_share: f64,
    pub noise_factor: f64,
    pub seed: u64,
    /// Transformations that should not count as drift (none by default).
    pub augment: Augmentation,
}

impl Settings {
    /// Defaults for a reference set of `images` images.
    pub fn for_images(images: usize) -> Self {
        let validation_share = reference::DEFAULT_VALIDATION_SHARE;
        let training = images - (images as f64 * validation_share).round() as usize;
        Settings {
            epochs: reference::suggested_epochs(training),
            batch_size: DEFAULT_BATCH_SIZE,
            optimizer: OptimizerKind::Adadelta,
            learning_rate: None,
            validation_share,
            noise_factor: 0.5,
            seed: 42,
            augment: Augmentation::default(),
        }
    }

    fn training_config(&self) -> TrainingConfig {
        TrainingConfig {
            epochs: self.epochs,
            batch_size: self.batch_size,
            noise_factor: self.noise_factor,
            seed: self.seed,
            optimizer: self.optimizer,
            learning_rate: self.learning_rate.unwrap_or(match self.optimizer {
                OptimizerKind::Adadelta => 1.0,
                OptimizerKind::Adam => 0.001,
            }),
            loss: LossKind::Bce,
            augment: self.augment,
        }
    }
}

/// What the user can do to a running training: pause it, stop it early and keep the model so
/// far, or cancel it.
#[derive(Debug, Default)]
pub struct Control {
    pub paused: Cell<bool>,
    pub finish_now: Cell<bool>,
    pub cancelled: Cell<bool>,
}

/// Where training is after a step, for the progress bar and the estimate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepInfo {
    pub epoch: usize,
    pub epochs: usize,
    pub batch: usize,
    pub batches: usize,
    pub loss: f64,
    /// Seconds spent training so far (pauses excluded).
    pub elapsed_s: f64,
    /// Estimated seconds left at the speed so far.
    pub eta_s: f64,
}

/// Progress reported to the page.
#[derive(Debug, Clone, PartialEq)]
pub enum Update {
    /// A training step finished.
    Step(StepInfo),
    /// An epoch finished with its validation loss.
    Epoch(EpochReport),
    /// Held-out images as the network saw them (noisy) and redrew them, `channels · side²`
    /// values each.
    Samples {
        noisy: Vec<f32>,
        reconstructed: Vec<f32>,
    },
    /// Training is done; the baseline is being measured on the held-out images.
    Calibrating,
}

/// A model made in the page: its file bytes (for download and storage) and the loaded model.
#[derive(Debug, Clone)]
pub struct MadeModel {
    pub bytes: Vec<u8>,
    pub loaded: LoadedModel,
    pub stopped_early: bool,
}

struct PageClock;

impl Clock for PageClock {
    fn now_seconds(&self) -> f64 {
        now_ms() / 1000.0
    }
}

/// Reconstructions of every image of `set` on `engine`, a part at a time, giving the page its
/// turn between parts; `None` when cancelled.
async fn reconstruct_all(
    engine: &crate::workers::Engine,
    set: &ImageSet,
    control: &Control,
) -> Result<Option<Vec<driftglass_core::Reconstruction>>, String> {
    let mut reconstructions = Vec::with_capacity(set.count);
    for start in (0..set.count).step_by(VALIDATION_BATCH) {
        let count = VALIDATION_BATCH.min(set.count - start);
        let part = set.range(start, count);
        reconstructions.extend(engine.reconstruct(&part, count).await?);
        yield_to_browser().await;
        if control.cancelled.get() {
            return Ok(None);
        }
    }
    Ok(Some(reconstructions))
}

/// Train on `set`, calibrate on its held-out part and seal a model file. `Ok(None)` when
/// cancelled. `device_name` is recorded in the file's training summary.
pub async fn make_model(
    set: &ReferenceSet,
    settings: &Settings,
    gpu: bool,
    device_name: &str,
    control: &Control,
    mut on_update: impl FnMut(Update),
) -> Result<Option<MadeModel>, String> {
    if set.images.count < MIN_REFERENCE_IMAGES {
        return Err(format!(
            "{} usable reference images; at least {MIN_REFERENCE_IMAGES} are needed",
            set.images.count
        ));
    }
    let started = now_ms();
    let parts = reference::split(&set.images, settings.validation_share, settings.seed)
        .map_err(|e| e.to_string())?;
    let (side, channels) = (set.images.side, set.images.channels);
    let architecture = AutoencoderConfig::new()
        .with_side(side)
        .with_channels(channels);
    let config = settings.training_config();
    let total_steps = parts.training.count.div_ceil(config.batch_size.max(1)) * config.epochs;
    let mut steps_done = 0usize;
    // Time spent paused is not training time: it is left out of the estimate.
    let paused_ms = Cell::new(0.0);
    let pause = || async {
        yield_to_browser().await;
        if control.paused.get() {
            let since = now_ms();
            while control.paused.get() && !control.finish_now.get() && !control.cancelled.get() {
                sleep_ms(100).await;
            }
            paused_ms.set(paused_ms.get() + now_ms() - since);
        }
    };
    let on_event = |event| {
        match event {
            TrainingEvent::Batch {
                epoch,
                batch,
                batches,
                loss,
            } => {
                steps_done += 1;
                let elapsed_s = (now_ms() - started - paused_ms.get()) / 1000.0;
                let eta_s =
                    elapsed_s / steps_done as f64 * total_steps.saturating_sub(steps_done) as f64;
                on_update(Update::Step(StepInfo {
                    epoch,
                    epochs: config.epochs,
                    batch,
                    batches,
                    loss,
                    elapsed_s,
                    eta_s,
                }));
            }
            TrainingEvent::Epoch(report) => on_update(Update::Epoch(report)),
            TrainingEvent::Samples {
                noisy,
                reconstructed,
            } => on_update(Update::Samples {
                noisy,
                reconstructed,
            }),
        }
        if control.finish_now.get() || control.cancelled.get() {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    };
    // The CPU trains with the core's kernels; WebGPU with burn's autodiff in the GPU worker,
    // step by step, through the same loop.
    let trained = if gpu {
        check(&architecture, &config, &parts.training, &parts.validation)
            .map_err(|e| e.to_string())?;
        let start = Weights::init_seeded(architecture, config.seed).map_err(|e| e.to_string())?;
        let stepper = GpuStepper::start(&start, config.loss, config.optimizer).await?;
        train_with(
            stepper,
            &config,
            &parts.training,
            &parts.validation,
            &PageClock,
            on_event,
            pause,
        )
        .await
    } else {
        train_with_pauses(
            &architecture,
            &config,
            &parts.training,
            &parts.validation,
            &PageClock,
            on_event,
            pause,
        )
        .await
    }
    .map_err(|e| e.to_string())?;
    if control.cancelled.get() {
        return Ok(None);
    }

    on_update(Update::Calibrating);
    let engine = crate::workers::Engine::new(&trained.weights, gpu).await?;
    // With augmentation the reference holds the transformations too (see `Alternative`).
    let calibration = config.calibration_images(&parts.validation);
    let Some(reconstructions) = reconstruct_all(&engine, &calibration, control).await? else {
        return Ok(None);
    };
    let dataset = format!("{}, held out", set.label);
    let (baseline, latent) =
        reference::calibration(&dataset, &reconstructions).map_err(|e| e.to_string())?;
    // The novelty score: fitted on (a sample of) the training images, calibrated on the
    // held-out ones.
    let fit_images = config.augment_once(&ImageSet::from_images(
        channels,
        side,
        reference::novelty_fit_sample(parts.training.count)
            .into_iter()
            .map(|i| parts.training.image(i)),
    ));
    let Some(fit_reconstructions) = reconstruct_all(&engine, &fit_images, control).await? else {
        return Ok(None);
    };
    let fit = reference::fit_novelty(
        &fit_images,
        &fit_reconstructions,
        "training images",
        &config.augment,
    )
    .map_err(|e| e.to_string())?;
    let novelty = reference::calibrate_novelty(fit, &calibration, &reconstructions)
        .map_err(|e| e.to_string())?;
    let bytes = reference::seal(
        &trained.weights,
        Calibrated {
            created_by: format!("driftglass-web {}", driftglass_core::VERSION),
            architecture: &architecture,
            preprocess: PreprocessConfig::with_side(side).with_channels(channels),
            baseline: &baseline,
            latent: &latent,
            novelty: Some(&novelty),
            calibration_augment: config.augment,
            properties: {
                let measured: Vec<ImageProperties> = parts
                    .validation_indices
                    .iter()
                    .filter_map(|i| set.properties.get(*i).cloned())
                    .collect();
                PropertyReference::new(&measured)
            },
            training: Some(TrainingSummary {
                config,
                training_data: format!("{} ({} images)", set.label, parts.training.count),
                training_images: parts.training.count,
                validation_images: parts.validation.count,
                history: trained.history,
                total_seconds: (now_ms() - started) / 1000.0,
                device: device_name.to_string(),
                kept_epoch: trained.kept_epoch,
            }),
        },
    )
    .map_err(|e| e.to_string())?;
    // Decoded from its own bytes, so the page scores with exactly what a reload would give.
    let loaded = model_file::decode(&bytes).map_err(|e| e.to_string())?;
    Ok(Some(MadeModel {
        bytes,
        loaded,
        stopped_early: trained.stopped_early,
    }))
}
