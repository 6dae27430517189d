//! `driftglass train` and `driftglass calibrate`.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Args;
use driftglass_core::augment::Augmentation;
use driftglass_core::latent::LatentReference;
use driftglass_core::model_file::{self, TrainingSummary};
use driftglass_core::novelty::{NoveltyFit, NoveltyReference};
use driftglass_core::properties::{ImageProperties, PropertyReference};
use driftglass_core::reference::{self, Calibrated};
use driftglass_core::score::Reconstruction;
use driftglass_core::train::{OptimizerKind, SystemClock, TrainingEvent};
use driftglass_core::{
    AutoencoderConfig, Baseline, ImageSet, LossKind, PreprocessConfig, TrainingConfig,
};

use crate::{data, progress};

#[derive(Args, Debug)]
pub struct TrainArgs {
    /// Data directory holding `mnist/` (or the MNIST files themselves).
    #[arg(long, default_value_os_t = crate::default_data_dir())]
    pub data: PathBuf,
    /// Train on this folder of images (PNG, JPEG, GIF, WebP, BMP, IDX) instead of MNIST, as the
    /// page's Reference step does: a seeded share is held out for validation and the baseline.
    #[arg(long, conflicts_with_all = ["limit", "test_limit"])]
    pub images: Option<PathBuf>,
    /// With `--images`: read folders inside the folder too.
    #[arg(long, requires = "images")]
    pub recursive: bool,
    /// With `--images`: the input side (28, 32, 64 or 128; images are padded to a square and
    /// resized to it).
    #[arg(long, requires = "images", default_value_t = driftglass_core::IMAGE_SIDE)]
    pub side: usize,
    /// With `--images`: a colour model (three channels, R, G and B) instead of a gray one.
    #[arg(long, requires = "images")]
    pub color: bool,
    /// With `--images`: the share of the images held out for validation and the baseline.
    #[arg(long, requires = "images", default_value_t = reference::DEFAULT_VALIDATION_SHARE)]
    pub validation_share: f64,
    /// Passes over the training set (default: 10 on MNIST; for `--images`, what the page
    /// suggests for the set's size).
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Seed of initialisation, shuffling and noise.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Images per gradient step.
    #[arg(long, default_value_t = 128)]
    pub batch_size: usize,
    /// Gaussian noise factor on the inputs.
    #[arg(long, default_value_t = 0.5)]
    pub noise: f64,
    /// Optimizer.
    #[arg(long, value_enum, default_value = "adadelta")]
    pub optimizer: OptimizerArg,
    /// Learning rate (Keras 2.0 Adadelta: 1.0; use 0.001 for Adam).
    #[arg(long)]
    pub learning_rate: Option<f64>,
    /// Augmentation: rotate training images (and the images the novelty score is fitted on,
    /// and the held-out images the baseline is made from) by up to this many degrees either
    /// way, so that rotated images and batches are not called drift.
    #[arg(long, default_value_t = 0.0)]
    pub augment_rotation: f64,
    /// Augmentation: shift by up to this share of the side in each direction.
    #[arg(long, default_value_t = 0.0)]
    pub augment_shift: f64,
    /// Augmentation: scale by up to this share either way (0.1: 90 % to 110 %).
    #[arg(long, default_value_t = 0.0)]
    pub augment_scale: f64,
    /// Augmentation: change brightness by up to this share either way.
    #[arg(long, default_value_t = 0.0)]
    pub augment_brightness: f64,
    /// Augmentation (colour models): change each channel's gain by up to this share.
    #[arg(long, default_value_t = 0.0)]
    pub augment_colour: f64,
    /// Augmentation: add Gaussian noise with a standard deviation of up to this (each image's
    /// drawn uniformly), values clipped to [0, 1].
    #[arg(long, default_value_t = 0.0)]
    pub augment_noise: f64,
    /// Use only the first N training images (quick runs).
    #[arg(long)]
    pub limit: Option<usize>,
    /// Validate and calibrate on only the first N test images (quick runs; the baseline then
    /// holds N losses).
    #[arg(long)]
    pub test_limit: Option<usize>,
    /// Filters of every hidden convolution but the code's (the reference: 32).
    #[arg(long, default_value_t = 32)]
    pub filters: usize,
    /// Kernel side of every convolution (odd; the reference: 3).
    #[arg(long, default_value_t = 3)]
    pub kernel: usize,
    /// Conv-and-pool stages (the reference: 2); the side must be divisible by 2^depth.
    #[arg(long, default_value_t = driftglass_core::architecture::REFERENCE_DEPTH)]
    pub depth: usize,
    /// Channels of the code, the encoder's last convolution (default: as many as `--filters`).
    #[arg(long)]
    pub code: Option<usize>,
    /// Loss minimised in training (the baseline and scores stay the BCE).
    #[arg(long, value_enum, default_value = "bce")]
    pub loss: LossArg,
    /// How the steps are computed: `direct` (the core's CPU backward pass written out) or
    /// `burn` (burn's autodiff on its CPU backend, for comparison).
    #[arg(long, value_enum, default_value = "direct")]
    pub engine: EngineArg,
    /// Where to write the model file.
    #[arg(long, short)]
    pub output: PathBuf,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum EngineArg {
    Direct,
    Burn,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum LossArg {
    Bce,
    Mse,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum OptimizerArg {
    Adadelta,
    Adam,
}

/// The images to train on, those to validate and calibrate on, and how the model file names
/// them.
struct Data {
    training: ImageSet,
    validation: ImageSet,
    /// The validation images' properties (what the model file keeps for "what changed").
    validation_properties: Vec<ImageProperties>,
    /// What the training images were, e.g. "MNIST train (60000 images)".
    training_data: String,
    /// The baseline's dataset name.
    baseline_name: String,
    /// The default number of epochs for this data.
    epochs: usize,
}

/// The images of a folder, prepared with `config`, and how many files were not used (each
/// is listed on stderr with its reason: nothing is left out silently).
pub(crate) struct Folder {
    pub images: ImageSet,
    /// Each image's properties, in the same order.
    pub properties: Vec<ImageProperties>,
    pub not_used: usize,
}

/// Read and prepare the images of a folder (see [`Folder`]).
pub(crate) fn read_folder(
    dir: &Path,
    recursive: bool,
    config: &PreprocessConfig,
) -> Result<Folder> {
    let files = crate::score::collect_inputs(&[dir.to_path_buf()], recursive)?;
    let bar = progress::bar(files.len() as u64, "reading", "files");
    let mut pixels = Vec::new();
    let mut properties = Vec::new();
    let mut count = 0;
    let mut failed = 0;
    for chunk in files.chunks(driftglass_core::SCORE_BATCH) {
        for (name, input) in crate::score::prepare(chunk, config) {
            match input {
                Ok((image, measured)) => {
                    pixels.extend_from_slice(&image);
                    properties.push(measured);
                    count += 1;
                }
                Err(error) => {
                    failed += 1;
                    progress::println(&bar, format!("not used: {name}: {error}"));
                }
            }
        }
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    Ok(Folder {
        images: ImageSet::with_shape(pixels, count, config.channels, config.side),
        properties,
        not_used: failed,
    })
}

/// The properties of gray IDX images (format "idx").
fn idx_properties(set: &ImageSet) -> Vec<ImageProperties> {
    (0..set.count)
        .map(|i| ImageProperties::of_gray(set.image(i), set.side, set.side, "idx"))
        .collect()
}

/// MNIST's training images, and its test images for validation and the baseline.
fn mnist(args: &TrainArgs) -> Result<Data> {
    let mnist = data::mnist_dir(&args.data);
    let mut training = data::images(&mnist, "train-images-idx3-ubyte")?;
    if let Some(limit) = args.limit {
        training = training.take(limit);
    }
    let mut test = data::images(&mnist, "t10k-images-idx3-ubyte")?;
    if let Some(limit) = args.test_limit {
        test = test.take(limit);
    }
    Ok(Data {
        training_data: format!("MNIST train ({} images)", training.count),
        training,
        validation_properties: idx_properties(&test),
        validation: test,
        baseline_name: "MNIST test".into(),
        epochs: 10,
    })
}

/// A folder of images, prepared as the page prepares a reference set, split with `seed`.
fn folder(dir: &Path, args: &TrainArgs) -> Result<Data> {
    if !reference::INPUT_SIDES.contains(&args.side) {
        bail!(
            "--side {} is not offered; choose one of {:?}",
            args.side,
            reference::INPUT_SIDES
        );
    }
    if !dir.is_dir() {
        bail!("{} is not a folder", dir.display());
    }
    let channels = if args.color { 3 } else { 1 };
    let config = PreprocessConfig::with_side(args.side).with_channels(channels);
    let Folder {
        images: set,
        properties,
        not_used: failed,
    } = read_folder(dir, args.recursive, &config)?;
    let count = set.count;
    if count < reference::MIN_REFERENCE_IMAGES {
        bail!(
            "{} gave {count} usable images ({} not used); at least {} are needed",
            dir.display(),
            failed,
            reference::MIN_REFERENCE_IMAGES
        );
    }
    let parts = reference::split(&set, args.validation_share, args.seed)?;
    let validation_properties = parts
        .validation_indices
        .iter()
        .map(|i| properties[*i].clone())
        .collect();
    if let Some(warning) = reference::baseline_too_small(
        parts.validation.count,
        driftglass_core::report::DEFAULT_FLAG_RATE,
        args.validation_share,
    ) {
        eprintln!("warning: {warning}");
    }
    let label = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| dir.display().to_string());
    eprintln!(
        "{}: {count} images ({} not used), {} for training and {} held out",
        dir.display(),
        failed,
        parts.training.count,
        parts.validation.count
    );
    Ok(Data {
        training_data: format!("{label} ({} images)", parts.training.count),
        epochs: reference::suggested_epochs(parts.training.count),
        training: parts.training,
        validation: parts.validation,
        validation_properties,
        baseline_name: format!("{label}, held out"),
    })
}

pub fn run(args: TrainArgs) -> Result<()> {
    let started = Instant::now();
    let data = match &args.images {
        Some(dir) => folder(dir, &args)?,
        None => mnist(&args)?,
    };
    let Data {
        training,
        validation: test,
        validation_properties,
        training_data,
        baseline_name,
        epochs,
    } = data;
    let (side, channels) = (training.side, training.channels);
    let (optimizer, default_lr) = match args.optimizer {
        OptimizerArg::Adadelta => (OptimizerKind::Adadelta, 1.0),
        OptimizerArg::Adam => (OptimizerKind::Adam, 0.001),
    };
    let config = TrainingConfig {
        epochs: args.epochs.unwrap_or(epochs),
        batch_size: args.batch_size,
        noise_factor: args.noise,
        seed: args.seed,
        optimizer,
        learning_rate: args.learning_rate.unwrap_or(default_lr),
        loss: match args.loss {
            LossArg::Bce => LossKind::Bce,
            LossArg::Mse => LossKind::Mse,
        },
        augment: Augmentation {
            rotation: args.augment_rotation,
            shift: args.augment_shift,
            scale: args.augment_scale,
            brightness: args.augment_brightness,
            colour: args.augment_colour,
            noise: args.augment_noise,
        },
    };
    config.augment.validate()?;
    let model_config = AutoencoderConfig::new()
        .with_side(side)
        .with_channels(channels)
        .with_filters(args.filters)
        .with_kernel(args.kernel)
        .with_depth(args.depth)
        .with_code(args.code.unwrap_or(0));
    model_config.validate().map_err(anyhow::Error::msg)?;
    eprintln!(
        "training on {} images ({side}×{side}, {}), validating on {}, {} epochs, batch {}, seed {}, {:?} lr {}",
        training.count,
        if channels == 3 { "colour" } else { "gray" },
        test.count,
        config.epochs,
        config.batch_size,
        config.seed,
        config.optimizer,
        config.learning_rate
    );
    let batches = training.count.div_ceil(config.batch_size.max(1)) as u64;
    let bar = progress::bar(batches * config.epochs as u64, "training", "batches");
    let on_event = |event| {
        match event {
            TrainingEvent::Batch { epoch, loss, .. } => {
                bar.inc(1);
                bar.set_prefix(format!("epoch {epoch} loss {loss:.4}"));
            }
            TrainingEvent::Epoch(report) => {
                progress::println(
                    &bar,
                    format!(
                        "epoch {:>2}: train loss {:.4}, validation loss {:.4}, {:.0} s, {:.0} images/s",
                        report.epoch,
                        report.train_loss,
                        report.validation_loss,
                        report.train_seconds,
                        report.images_per_second
                    ),
                );
            }
            TrainingEvent::Samples { .. } => {}
        }
        ControlFlow::Continue(())
    };
    let (trained, device) = match args.engine {
        EngineArg::Direct => (
            pollster::block_on(driftglass_core::train(
                &model_config,
                &config,
                &training,
                &test,
                &SystemClock,
                on_event,
            ))?,
            "driftglass-core (CPU)",
        ),
        EngineArg::Burn => (
            pollster::block_on(driftglass_burn::train::train(
                &model_config,
                &config,
                &training,
                &test,
                &burn::tensor::Device::flex(),
                &SystemClock,
                on_event,
            ))?,
            "burn flex (CPU, autodiff)",
        ),
    };
    bar.finish_and_clear();

    if let Some(epoch) = trained.kept_epoch {
        eprintln!("kept the weights of epoch {epoch}, the lowest validation loss");
    }
    // An augmented model's reference holds the transformations it was trained with.
    let augment = config.augment;
    let calibration = config.calibration_images(&test);
    let (baseline, latent, held_out) =
        calibrate_baseline(&trained.weights, &calibration, &baseline_name)?;
    let fit = fit_novelty(&trained.weights, &training, "training images", &config)?;
    let novelty = reference::calibrate_novelty(fit, &calibration, &held_out)?;
    let bytes = reference::seal(
        &trained.weights,
        Calibrated {
            created_by: format!("driftglass {}", driftglass_core::VERSION),
            architecture: trained.weights.config(),
            preprocess: PreprocessConfig::with_side(side).with_channels(channels),
            baseline: &baseline,
            latent: &latent,
            novelty: Some(&novelty),
            properties: PropertyReference::new(&validation_properties),
            calibration_augment: augment,
            training: Some(TrainingSummary {
                config,
                training_data,
                training_images: training.count,
                validation_images: test.count,
                history: trained.history,
                total_seconds: started.elapsed().as_secs_f64(),
                device: device.into(),
                kept_epoch: trained.kept_epoch,
            }),
        },
    )?;
    write_file(&args.output, &bytes)?;
    eprintln!(
        "wrote {} ({} bytes): baseline mean loss {:.4} (sd {:.4}) on {} images{}, {:.0} s in all",
        args.output.display(),
        bytes.len(),
        baseline.mean(),
        baseline.std(),
        baseline.len(),
        transformed_note(&augment),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn write_file(path: &std::path::Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))
}

/// The baseline (per-image reconstruction losses of clean held-out images) and the latent
/// reference (a seeded sample of their projected codes), as the browser's Reference step makes
/// them.
pub fn calibrate_baseline(
    weights: &driftglass_core::Weights,
    images: &ImageSet,
    name: &str,
) -> Result<(Baseline, LatentReference, Vec<Reconstruction>)> {
    let network = driftglass_core::DirectNetwork::new(weights)?;
    let reconstructions = progress::reconstruct_set(&network, images, "calibrating")?;
    let (baseline, latent) = reference::calibration(name, &reconstructions)?;
    Ok((baseline, latent, reconstructions))
}

/// The novelty score fitted on (a seeded sample of) `images`, images the model was trained on.
pub fn fit_novelty(
    weights: &driftglass_core::Weights,
    images: &ImageSet,
    name: &str,
    config: &TrainingConfig,
) -> Result<NoveltyFit> {
    let network = driftglass_core::DirectNetwork::new(weights)?;
    let sample = config.augment_once(&ImageSet::from_images(
        images.channels,
        images.side,
        reference::novelty_fit_sample(images.count)
            .into_iter()
            .map(|i| images.image(i)),
    ));
    let reconstructions =
        progress::reconstruct_set(&network, &sample, "fitting the novelty score")?;
    Ok(reference::fit_novelty(
        &sample,
        &reconstructions,
        name,
        &config.augment,
    )?)
}

#[derive(Args, Debug)]
pub struct CalibrateArgs {
    /// Model file to recalibrate (default: the bundled model).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Held-out reference images: an IDX file, or a folder of images (PNG, JPEG, ...), prepared
    /// with the model's own preprocessing.
    #[arg(long)]
    pub images: PathBuf,
    /// With a folder: read folders inside it too.
    #[arg(long)]
    pub recursive: bool,
    /// Where to write the recalibrated model file.
    #[arg(long, short)]
    pub output: PathBuf,
    /// What the reference images are, for reports (default: the file's name).
    #[arg(long)]
    pub dataset: Option<String>,
    /// Images the model was trained on (an IDX file or a folder), to fit the novelty score on
    /// (a seeded sample of 10,000 at most). Without it the model's own fit is kept, where it
    /// has one; a model without one then flags images by their loss alone.
    #[arg(long)]
    pub fit_images: Option<PathBuf>,
    /// Fit and calibrate the novelty score only: the baseline, latent reference and image
    /// properties stay the model's own (`--images` should then be the images they were made
    /// from). This adds a novelty score to a model made before there was one.
    #[arg(long, requires = "fit_images")]
    pub novelty_only: bool,
}

/// Images and their properties from an IDX file or a folder, prepared as `preprocess` says.
fn read_reference(
    path: &Path,
    recursive: bool,
    preprocess: &PreprocessConfig,
) -> Result<(ImageSet, Vec<ImageProperties>)> {
    let (images, properties) = if path.is_dir() {
        let folder = read_folder(path, recursive, preprocess)?;
        (folder.images, folder.properties)
    } else {
        let images = driftglass_core::idx::read_images(path)
            .with_context(|| format!("reading {}", path.display()))?;
        let properties = idx_properties(&images);
        (images, properties)
    };
    if images.count == 0 {
        bail!("{} holds no images", path.display());
    }
    if (images.channels, images.side) != (preprocess.channels, preprocess.side) {
        bail!(
            "{} holds {}-channel {}×{} images; the model takes {}-channel {}×{} ones (give a folder of images: they are prepared to the model's size and channels)",
            path.display(),
            images.channels,
            images.side,
            images.side,
            preprocess.channels,
            preprocess.side,
            preprocess.side
        );
    }
    Ok((images, properties))
}

pub fn calibrate(args: CalibrateArgs) -> Result<()> {
    let loaded = crate::score::load_model(args.model.as_deref())?;
    let (images, properties) =
        read_reference(&args.images, args.recursive, &loaded.header.preprocess)?;
    let name = args.dataset.clone().unwrap_or_else(|| {
        args.images
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "reference images".into())
    });
    // A model trained with augmentation fits its novelty score on transformed images and is
    // calibrated on transformed held-out images, as `train` does.
    let config = loaded
        .header
        .training
        .as_ref()
        .map(|t| t.config.clone())
        .unwrap_or_default();
    // With `--novelty-only` the baseline stays the model's own, and so does how its images
    // were transformed.
    let images = if args.novelty_only {
        loaded.header.calibration_images(&images)
    } else {
        config.calibration_images(&images)
    };
    let (baseline, latent, held_out) = calibrate_baseline(&loaded.weights, &images, &name)?;
    let fit = match (&args.fit_images, &loaded.novelty) {
        (Some(path), _) => {
            let (fit_images, _) = read_reference(path, args.recursive, &loaded.header.preprocess)?;
            let fitted_on = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "fit images".into());
            Some(fit_novelty(
                &loaded.weights,
                &fit_images,
                &fitted_on,
                &config,
            )?)
        }
        (None, Some(novelty)) => Some(novelty.fit().clone()),
        (None, None) => None,
    };
    let novelty = fit
        .map(|fit| reference::calibrate_novelty(fit, &images, &held_out))
        .transpose()?;
    let mut header = loaded.header.clone();
    header.novelty = novelty.as_ref().map(NoveltyReference::summary);
    if !args.novelty_only {
        header.calibration_augment = config.augment;
    }
    let (baseline, latent) = if args.novelty_only {
        (loaded.baseline.clone(), loaded.latent.clone())
    } else {
        header.baseline = baseline.summary();
        header.latent = Some(latent.summary(baseline.dataset()));
        header.properties = PropertyReference::new(&properties);
        (baseline, Some(latent))
    };
    let bytes = model_file::encode(
        &loaded.weights,
        &header,
        &baseline,
        latent.as_ref(),
        novelty.as_ref(),
    )?;
    write_file(&args.output, &bytes)?;
    eprintln!(
        "wrote {}: baseline mean loss {:.4} on {} images{}, latent reference of {} codes, {}",
        args.output.display(),
        baseline.mean(),
        baseline.len(),
        transformed_note(&header.calibration_augment),
        latent.as_ref().map_or(0, LatentReference::len),
        match &novelty {
            Some(n) => format!("novelty score fitted on {}", n.summary().fitted_on),
            None =>
                "no novelty score (give --fit-images to fit one): images are flagged by their loss"
                    .into(),
        }
    );
    Ok(())
}

/// How a calibration's images were transformed, for the closing line ("" where they were
/// not).
fn transformed_note(augment: &Augmentation) -> String {
    if augment.is_none() {
        String::new()
    } else {
        format!(
            " transformed as in training ({augment}; batches are tested for being worse than this reference)"
        )
    }
}

#[derive(Args, Debug)]
pub struct UpgradeArgs {
    /// Model file to rewrite.
    pub model: PathBuf,
    /// Where to write it in the current format.
    #[arg(long, short)]
    pub output: PathBuf,
}

pub fn upgrade(args: UpgradeArgs) -> Result<()> {
    let loaded = crate::score::load_model(Some(&args.model))?;
    let bytes = model_file::encode(
        &loaded.weights,
        &loaded.header,
        &loaded.baseline,
        loaded.latent.as_ref(),
        loaded.novelty.as_ref(),
    )?;
    write_file(&args.output, &bytes)?;
    eprintln!(
        "wrote {} (format {}, was {}; {} bytes, was {})",
        args.output.display(),
        model_file::FORMAT_VERSION,
        loaded.format_version,
        bytes.len(),
        std::fs::metadata(&args.model).map(|m| m.len()).unwrap_or(0)
    );
    Ok(())
}
