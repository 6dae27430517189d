//! A model of the user's own reference images: split them into training and validation images
//! (seeded), pick a sensible number of epochs, calibrate the baseline and the latent reference
//! on the validation images, and seal everything into a model file.
//!
//! The browser's "Reference" step and the CLI's `train` and `calibrate` share these steps, so a
//! model made in either loads and scores identically in the other.

use crate::architecture::{AutoencoderConfig, Weights};
use crate::augment::Augmentation;
use crate::baseline::{Baseline, BaselineError};
use crate::idx::ImageSet;
use crate::latent::{LATENT_DIMS, LATENT_REFERENCE_SIZE, LatentError, LatentReference};
use crate::loss::LossKind;
use crate::model_file::{self, ModelFileError, ModelHeader, TrainingSummary};
use crate::novelty::{
    Complexity, EdgeProfile, NoveltyError, NoveltyFit, NoveltyInput, NoveltyReference,
};
use crate::preprocess::PreprocessConfig;
use crate::rng::SeededRng;
use crate::score::Reconstruction;

/// Fewest reference images accepted: fewer cannot give a training set and a baseline that
/// says anything.
pub const MIN_REFERENCE_IMAGES: usize = 20;
/// Input sides a reference set can be trained at (`driftglass train --images --side`).
pub const INPUT_SIDES: [usize; 4] = [28, 32, 64, 128];
/// Default share of the reference images held out for validation and the baseline.
pub const DEFAULT_VALIDATION_SHARE: f64 = 0.2;
/// Most training images the novelty score is fitted on (a seeded sample of larger sets).
pub const NOVELTY_FIT_IMAGES: usize = 10_000;
/// Seed of that sample.
pub const NOVELTY_SAMPLE_SEED: u64 = 0x0B5E_55ED;
/// Seed of the latent reference sample drawn from the calibration images.
pub const LATENT_SAMPLE_SEED: u64 = 0x5A4D_911E;
/// Image passes the suggested number of epochs aims at (about 2 minutes of CPU training in a
/// browser), within [`MIN_SUGGESTED_EPOCHS`]..=[`MAX_SUGGESTED_EPOCHS`].
pub const SUGGESTED_IMAGE_PASSES: usize = 20_000;
/// Fewest epochs suggested (the reference trained MNIST for 10).
pub const MIN_SUGGESTED_EPOCHS: usize = 10;
/// Most epochs suggested.
pub const MAX_SUGGESTED_EPOCHS: usize = 60;

/// The fewest baseline images with which any image can be flagged at `flag_rate`: an image's
/// smallest conformal p-value is 1/(n + 1), and [`crate::Baseline::flag_threshold`] needs
/// `flag_rate · (n + 1) > 1` (100 at 1 %).
pub fn smallest_flagging_baseline(flag_rate: f64) -> usize {
    if !(flag_rate > 0.0 && flag_rate < 1.0) {
        return 1;
    }
    let mut n = (1.0 / flag_rate).floor() as usize;
    while flag_rate * (n + 1) as f64 <= 1.0 {
        n += 1;
    }
    while n > 1 && flag_rate * n as f64 > 1.0 {
        n -= 1;
    }
    n
}

/// What to tell someone whose held-out share leaves `held_out` baseline images, too few to
/// ever flag an image at `flag_rate`, with how many images in all it would take at
/// `validation_share`; `None` when the baseline can flag.
pub fn baseline_too_small(
    held_out: usize,
    flag_rate: f64,
    validation_share: f64,
) -> Option<String> {
    let needed = smallest_flagging_baseline(flag_rate);
    if held_out >= needed {
        return None;
    }
    let in_all = (needed as f64 / validation_share.max(0.01)).ceil() as usize;
    Some(format!(
        "{held_out} held-out images make the baseline: no image can be flagged at {} % with it (the smallest p-value is 1/{} = {:.3}). Hold out at least {needed} images: about {in_all} in all at {:.0} % held out, or a larger share.",
        flag_rate * 100.0,
        held_out + 1,
        1.0 / (held_out + 1) as f64,
        validation_share * 100.0
    ))
}

/// Why a reference model could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ReferenceError {
    #[error(
        "{found} reference images; at least {MIN_REFERENCE_IMAGES} are needed to train and calibrate"
    )]
    TooFewImages { found: usize },
    #[error("validation share must be between 0.05 and 0.5, got {0}")]
    ValidationShare(f64),
    #[error(transparent)]
    Baseline(#[from] BaselineError),
    #[error(transparent)]
    Latent(#[from] LatentError),
    #[error(transparent)]
    Novelty(#[from] NoveltyError),
    #[error(transparent)]
    ModelFile(#[from] ModelFileError),
}

/// Reference images split into training and validation images.
#[derive(Debug, Clone, PartialEq)]
pub struct Split {
    pub training: ImageSet,
    pub validation: ImageSet,
    /// Where the validation images were in the set, in order: what else is known of each
    /// image (its properties) follows it with these.
    pub validation_indices: Vec<usize>,
}

/// Split `set` into training and validation images: a seeded shuffle, then
/// `round(count · validation_share)` images (at least 1) are held out.
pub fn split(set: &ImageSet, validation_share: f64, seed: u64) -> Result<Split, ReferenceError> {
    if set.count < MIN_REFERENCE_IMAGES {
        return Err(ReferenceError::TooFewImages { found: set.count });
    }
    if !(0.05..=0.5).contains(&validation_share) {
        return Err(ReferenceError::ValidationShare(validation_share));
    }
    let (training, validation) = split_indices(set.count, validation_share, seed);
    let pick = |indices: &[usize]| {
        ImageSet::from_images(
            set.channels,
            set.side,
            indices.iter().map(|i| set.image(*i)),
        )
    };
    Ok(Split {
        training: pick(&training),
        validation: pick(&validation),
        validation_indices: validation,
    })
}

/// The indices [`split`] puts in training and in validation, each in input order (so that
/// the split does not depend on how the shuffle orders the images inside a part).
fn split_indices(count: usize, validation_share: f64, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let mut order: Vec<usize> = (0..count).collect();
    SeededRng::new(seed ^ 0x5311_7000).shuffle(&mut order);
    let held_out = ((count as f64 * validation_share).round() as usize).clamp(1, count.max(2) - 1);
    let (validation, training) = order.split_at(held_out.min(count));
    let sorted = |indices: &[usize]| {
        let mut indices = indices.to_vec();
        indices.sort_unstable();
        indices
    };
    (sorted(training), sorted(validation))
}

/// A sensible number of epochs for `training_images` images: about
/// [`SUGGESTED_IMAGE_PASSES`] image passes, at least [`MIN_SUGGESTED_EPOCHS`], at most
/// [`MAX_SUGGESTED_EPOCHS`].
pub fn suggested_epochs(training_images: usize) -> usize {
    SUGGESTED_IMAGE_PASSES
        .div_ceil(training_images.max(1))
        .clamp(MIN_SUGGESTED_EPOCHS, MAX_SUGGESTED_EPOCHS)
}

/// The baseline (each calibration image's reconstruction loss) and the latent reference (a
/// seeded sample of their projected codes) from the reconstructions of clean held-out images.
pub fn calibration(
    dataset: &str,
    reconstructions: &[Reconstruction],
) -> Result<(Baseline, LatentReference), ReferenceError> {
    let baseline = Baseline::new(
        LossKind::Bce,
        format!("{dataset} ({} images)", reconstructions.len()),
        reconstructions.iter().map(|r| r.bce).collect(),
    )?;
    let codes: Vec<f32> = reconstructions
        .iter()
        .flat_map(|r| r.latent.iter().copied())
        .collect();
    let latent = LatentReference::sample(
        LATENT_DIMS,
        &codes,
        LATENT_REFERENCE_SIZE,
        LATENT_SAMPLE_SEED,
    )?;
    Ok((baseline, latent))
}

/// Which of `count` images the novelty score is fitted on: all of them, or a seeded sample of
/// [`NOVELTY_FIT_IMAGES`], in input order.
pub fn novelty_fit_sample(count: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..count).collect();
    if count > NOVELTY_FIT_IMAGES {
        SeededRng::new(NOVELTY_SAMPLE_SEED).shuffle(&mut order);
        order.truncate(NOVELTY_FIT_IMAGES);
        order.sort_unstable();
    }
    order
}

/// Each image's complexity (see [`crate::novelty::complexity`]).
fn complexities(images: &ImageSet) -> Vec<Complexity> {
    (0..images.count)
        .map(|i| crate::novelty::complexity(images.image(i), images.channels, images.side))
        .collect()
}

/// Fit the novelty score on reconstructions of `images` (images the network was trained on,
/// or any clean reference images other than the calibration images), transformed by
/// `augment` as the model's reference is (see [`EdgeProfile::for_augmentation`]).
pub fn fit_novelty(
    images: &ImageSet,
    reconstructions: &[Reconstruction],
    fitted_on: &str,
    augment: &Augmentation,
) -> Result<NoveltyFit, ReferenceError> {
    let losses: Vec<f32> = reconstructions.iter().map(|r| r.bce).collect();
    let codes: Vec<f32> = reconstructions
        .iter()
        .flat_map(|r| r.latent.iter().copied())
        .collect();
    Ok(NoveltyFit::fit(
        &losses,
        &codes,
        LATENT_DIMS,
        &complexities(images),
        format!("{fitted_on} ({} images)", images.count),
        EdgeProfile::for_augmentation(augment),
    )?)
}

/// The novelty scores of `images` from their reconstructions, one each, in order.
pub fn novelty_scores(
    fit: &NoveltyFit,
    images: &ImageSet,
    reconstructions: &[Reconstruction],
) -> Vec<f32> {
    reconstructions
        .iter()
        .zip(complexities(images))
        .map(|(r, complexity)| {
            fit.score(NoveltyInput {
                loss: r.bce,
                code: &r.latent,
                complexity,
            }) as f32
        })
        .collect()
}

/// Calibrate a fitted novelty score on reconstructions of clean held-out `images`.
pub fn calibrate_novelty(
    fit: NoveltyFit,
    images: &ImageSet,
    reconstructions: &[Reconstruction],
) -> Result<NoveltyReference, ReferenceError> {
    let scores = novelty_scores(&fit, images, reconstructions);
    Ok(fit.with_scores(scores)?)
}

/// Everything a model file holds besides the network.
#[derive(Debug, Clone)]
pub struct Calibrated<'a> {
    pub created_by: String,
    pub architecture: &'a AutoencoderConfig,
    pub preprocess: PreprocessConfig,
    pub baseline: &'a Baseline,
    pub latent: &'a LatentReference,
    pub training: Option<TrainingSummary>,
    /// The calibration images' properties (see [`crate::properties`]), where they were
    /// measured.
    pub properties: Option<crate::properties::PropertyReference>,
    /// The novelty score, fitted on training images and calibrated on the held-out ones.
    pub novelty: Option<&'a NoveltyReference>,
    /// The transformations the held-out images were drawn with before calibrating (see
    /// [`crate::train::TrainingConfig::calibration_images`]).
    pub calibration_augment: crate::augment::Augmentation,
}

/// Seal a network with its baseline, latent reference and training record into model-file
/// bytes (the same bytes `driftglass train` writes).
pub fn seal(weights: &Weights, parts: Calibrated<'_>) -> Result<Vec<u8>, ReferenceError> {
    let header = ModelHeader {
        created_by: parts.created_by,
        architecture: *parts.architecture,
        preprocess: parts.preprocess,
        baseline: parts.baseline.summary(),
        training: parts.training,
        latent: Some(parts.latent.summary(parts.baseline.dataset())),
        properties: parts.properties,
        novelty: parts.novelty.map(NoveltyReference::summary),
        calibration_augment: parts.calibration_augment,
    };
    Ok(model_file::encode(
        weights,
        &header,
        parts.baseline,
        Some(parts.latent),
        parts.novelty,
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::architecture::IMAGE_PIXELS;

    fn numbered(count: usize) -> ImageSet {
        // Image i is filled with i / count, so images can be told apart after the split.
        let pixels = (0..count)
            .flat_map(|i| std::iter::repeat_n(i as f32 / count as f32, IMAGE_PIXELS))
            .collect();
        ImageSet::new(pixels, count)
    }

    fn ids(set: &ImageSet) -> Vec<usize> {
        (0..set.count)
            .map(|i| (set.image(i)[0] * 100.0).round() as usize)
            .collect()
    }

    #[test]
    fn split_holds_out_the_share_and_loses_nothing() {
        let set = numbered(100);
        let split = split(&set, 0.2, 7).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((split.training.count, split.validation.count), (80, 20));
        let mut all = ids(&split.training);
        all.extend(ids(&split.validation));
        all.sort_unstable();
        assert_eq!(all, (0..100).collect::<Vec<_>>());
        // Seeded: same seed, same split; another seed, another split.
        let again = super::split(&set, 0.2, 7).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(again, split);
        let other = super::split(&set, 0.2, 8).unwrap_or_else(|e| panic!("{e}"));
        assert_ne!(ids(&other.validation), ids(&split.validation));
        // Parts keep input order.
        let v = ids(&split.validation);
        assert!(v.windows(2).all(|w| w[0] < w[1]), "{v:?}");
    }

    #[test]
    fn split_refuses_too_few_images_and_odd_shares() {
        assert!(matches!(
            split(&numbered(19), 0.2, 1),
            Err(ReferenceError::TooFewImages { found: 19 })
        ));
        assert!(matches!(
            split(&numbered(50), 0.9, 1),
            Err(ReferenceError::ValidationShare(_))
        ));
        assert!(matches!(
            split(&numbered(50), f64::NAN, 1),
            Err(ReferenceError::ValidationShare(_))
        ));
        let smallest = split(&numbered(20), 0.05, 1).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(smallest.validation.count, 1);
    }

    /// The browser's Reference step, natively: real MNIST digits, split, trained, calibrated,
    /// sealed; the file reloads to the very same per-image scores.
    #[test]
    fn real_reference_images_train_calibrate_and_reload_to_identical_scores() {
        use std::ops::ControlFlow;

        use crate::train::{Clock, TrainingConfig, train};

        struct Ticks(std::cell::Cell<f64>);
        impl Clock for Ticks {
            fn now_seconds(&self) -> f64 {
                self.0.set(self.0.get() + 1.0);
                self.0.get()
            }
        }

        let Some(dir) = crate::data_dir_for_tests() else {
            eprintln!("skipped: no MNIST data");
            return;
        };
        let digits = crate::idx::read_images(&dir.join("mnist/t10k-images-idx3-ubyte.gz"))
            .unwrap_or_else(|e| panic!("{e}"))
            .take(300);
        let parts = split(&digits, DEFAULT_VALIDATION_SHARE, 42).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((parts.training.count, parts.validation.count), (240, 60));
        let architecture = AutoencoderConfig::new();
        let config = TrainingConfig {
            epochs: 3,
            batch_size: 32,
            ..TrainingConfig::default()
        };
        let mut samples = 0;
        let trained = pollster::block_on(train(
            &architecture,
            &config,
            &parts.training,
            &parts.validation,
            &Ticks(std::cell::Cell::new(0.0)),
            |event| {
                if let crate::train::TrainingEvent::Samples {
                    noisy,
                    reconstructed,
                } = event
                {
                    assert_eq!(noisy.len(), 8 * IMAGE_PIXELS);
                    assert_eq!(reconstructed.len(), 8 * IMAGE_PIXELS);
                    samples += 1;
                }
                ControlFlow::Continue(())
            },
        ))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(samples, 3, "one sample refresh per epoch");
        let validation: Vec<f64> = trained.history.iter().map(|r| r.validation_loss).collect();
        assert!(
            validation[2] < validation[0],
            "validation loss did not fall: {validation:?}"
        );

        let reconstructions = crate::reconstruct(
            &crate::DirectNetwork::new(&trained.weights).unwrap_or_else(|e| panic!("{e}")),
            &parts.validation,
            crate::SCORE_BATCH,
            |_| {},
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let (baseline, latent) =
            calibration("my digits", &reconstructions).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(baseline.len(), 60);
        assert_eq!(baseline.dataset(), "my digits (60 images)");
        assert_eq!(latent.len(), 60);
        let network = crate::DirectNetwork::new(&trained.weights).unwrap_or_else(|e| panic!("{e}"));
        let trained_on = crate::reconstruct(&network, &parts.training, crate::SCORE_BATCH, |_| {})
            .unwrap_or_else(|e| panic!("{e}"));
        let fit = fit_novelty(
            &parts.training,
            &trained_on,
            "my digits",
            &Augmentation::default(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let novelty = calibrate_novelty(fit, &parts.validation, &reconstructions)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(novelty.calibration().len(), 60);
        let bytes = seal(
            &trained.weights,
            Calibrated {
                created_by: "test".into(),
                architecture: &architecture,
                preprocess: PreprocessConfig::default(),
                baseline: &baseline,
                latent: &latent,
                training: None,
                properties: None,
                novelty: Some(&novelty),
                calibration_augment: Default::default(),
            },
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let loaded = model_file::decode(&bytes).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(loaded.baseline.sorted(), baseline.sorted());
        assert_eq!(loaded.novelty.as_ref(), Some(&novelty));
        assert_eq!(
            loaded.latent.as_ref().map(|l| l.values()),
            Some(latent.values())
        );
        let again = crate::reconstruct(
            &crate::DirectNetwork::new(&loaded.weights).unwrap_or_else(|e| panic!("{e}")),
            &parts.validation,
            crate::SCORE_BATCH,
            |_| {},
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let losses = |r: &[Reconstruction]| r.iter().map(|r| r.bce).collect::<Vec<_>>();
        assert_eq!(
            losses(&again),
            losses(&reconstructions),
            "scores changed on reload"
        );
    }

    /// Larger inputs: 64×64 images train, seal with their side, refuse a mismatched
    /// preprocessing, and score PNG files at 64×64 after a reload.
    #[test]
    fn larger_inputs_train_seal_and_score_at_their_side() {
        use std::ops::ControlFlow;

        use crate::preprocess::pad_and_resize;
        use crate::train::{Clock, TrainingConfig, train};

        struct Zero;
        impl Clock for Zero {
            fn now_seconds(&self) -> f64 {
                0.0
            }
        }
        // Bright discs of varying size and place on black, 64×64.
        let side = 64;
        let mut rng = SeededRng::new(5);
        let images: Vec<Vec<f32>> = (0..40)
            .map(|_| {
                let (cx, cy, r) = (
                    16.0 + rng.below(32) as f32,
                    16.0 + rng.below(32) as f32,
                    4.0 + rng.below(10) as f32,
                );
                (0..side * side)
                    .map(|i| {
                        let (x, y) = ((i % side) as f32, (i / side) as f32);
                        f32::from((x - cx).powi(2) + (y - cy).powi(2) <= r * r)
                    })
                    .collect()
            })
            .collect();
        let set = ImageSet::from_images(1, side, images.iter().map(Vec::as_slice));
        assert_eq!(set.image(39).len(), 4096);
        let parts = split(&set, 0.2, 1).unwrap_or_else(|e| panic!("{e}"));
        let architecture = AutoencoderConfig::new().with_side(side);
        let config = TrainingConfig {
            epochs: 2,
            batch_size: 8,
            ..TrainingConfig::default()
        };
        let trained = pollster::block_on(train(
            &architecture,
            &config,
            &parts.training,
            &parts.validation,
            &Zero,
            |_| ControlFlow::Continue(()),
        ))
        .unwrap_or_else(|e| panic!("{e}"));
        // A 28×28 model refuses 64×64 images instead of misreading them.
        let refused = pollster::block_on(train(
            &AutoencoderConfig::new(),
            &config,
            &parts.training,
            &parts.validation,
            &Zero,
            |_| ControlFlow::Continue(()),
        ));
        assert!(matches!(
            refused,
            Err(crate::train::TrainError::Side {
                model: 28,
                images: 64,
                ..
            })
        ));

        let reconstructions = crate::reconstruct(
            &crate::DirectNetwork::new(&trained.weights).unwrap_or_else(|e| panic!("{e}")),
            &parts.validation,
            8,
            |_| {},
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(reconstructions[0].pixels.len(), 4096);
        let (baseline, latent) =
            calibration("discs", &reconstructions).unwrap_or_else(|e| panic!("{e}"));
        let sealed = |preprocess: PreprocessConfig| {
            seal(
                &trained.weights,
                Calibrated {
                    created_by: "test".into(),
                    architecture: &architecture,
                    preprocess,
                    baseline: &baseline,
                    latent: &latent,
                    training: None,
                    properties: None,
                    novelty: None,
                    calibration_augment: Default::default(),
                },
            )
            .unwrap_or_else(|e| panic!("{e}"))
        };
        let bytes = sealed(PreprocessConfig::with_side(side));
        let loaded = model_file::decode(&bytes).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(loaded.header.architecture.side, 64);
        assert_eq!(loaded.header.preprocess.side, 64);
        let mismatch = model_file::decode(&sealed(PreprocessConfig::default()));
        assert!(
            matches!(&mismatch, Err(ModelFileError::Header(m)) if m.contains("64×64") && m.contains("28×28")),
            "{mismatch:?}"
        );

        // A PNG of the first held-out disc, at 128×128, is preprocessed to 64×64 and scores
        // like the disc itself (area-averaging a 2× upscale gives the disc back).
        let disc = parts.validation.image(0);
        let big: Vec<u8> = (0..128 * 128)
            .map(|i| (disc[(i / 128 / 2) * 64 + (i % 128) / 2] * 255.0) as u8)
            .collect();
        let mut png = Vec::new();
        image::ImageEncoder::write_image(
            image::codecs::png::PngEncoder::new(&mut png),
            &big,
            128,
            128,
            image::ExtendedColorType::L8,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let pre = crate::preprocess_bytes(&png, &loaded.header.preprocess)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(pre.pixels, disc);
        assert_eq!(pad_and_resize(disc, 64, 64, 64), disc);
        let scored = crate::reconstruct(
            &crate::DirectNetwork::new(&loaded.weights).unwrap_or_else(|e| panic!("{e}")),
            &ImageSet::from_images(1, side, [pre.pixels.as_slice()]),
            8,
            |_| {},
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(scored[0].bce, reconstructions[0].bce);
    }

    /// Colour models: 32×32 RGB images train (loss falls), seal with three channels, refuse a
    /// gray preprocessing, and score an RGB PNG of an image exactly as the image itself.
    #[test]
    fn color_models_train_seal_and_score_rgb_files() {
        use std::ops::ControlFlow;

        use crate::train::{Clock, TrainingConfig, train};

        struct Zero;
        impl Clock for Zero {
            fn now_seconds(&self) -> f64 {
                0.0
            }
        }
        // Discs of a random colour on a background of another, 32×32, channels first.
        let side = 32;
        let mut rng = SeededRng::new(8);
        let images: Vec<Vec<f32>> = (0..48)
            .map(|_| {
                let (cx, cy, r) = (
                    8.0 + rng.below(16) as f32,
                    8.0 + rng.below(16) as f32,
                    3.0 + rng.below(6) as f32,
                );
                let disc = [0; 3].map(|_| rng.below(256) as f32 / 255.0);
                let ground = [0; 3].map(|_| rng.below(256) as f32 / 255.0);
                (0..3 * side * side)
                    .map(|i| {
                        let (c, p) = (i / (side * side), i % (side * side));
                        let (x, y) = ((p % side) as f32, (p / side) as f32);
                        if (x - cx).powi(2) + (y - cy).powi(2) <= r * r {
                            disc[c]
                        } else {
                            ground[c]
                        }
                    })
                    .collect()
            })
            .collect();
        let set = ImageSet::from_images(3, side, images.iter().map(Vec::as_slice));
        let parts = split(&set, 0.25, 2).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(parts.validation.channels, 3);
        let architecture = AutoencoderConfig::new().with_side(side).with_channels(3);
        let config = TrainingConfig {
            epochs: 3,
            batch_size: 8,
            ..TrainingConfig::default()
        };
        let trained = pollster::block_on(train(
            &architecture,
            &config,
            &parts.training,
            &parts.validation,
            &Zero,
            |_| ControlFlow::Continue(()),
        ))
        .unwrap_or_else(|e| panic!("{e}"));
        let history = &trained.history;
        assert!(
            history.last().map(|e| e.train_loss) < history.first().map(|e| e.train_loss),
            "{history:?}"
        );
        // A gray model refuses colour images instead of misreading them.
        let refused = pollster::block_on(train(
            &AutoencoderConfig::new().with_side(side),
            &config,
            &parts.training,
            &parts.validation,
            &Zero,
            |_| ControlFlow::Continue(()),
        ));
        assert!(matches!(
            refused,
            Err(crate::train::TrainError::Side {
                model_channels: 1,
                image_channels: 3,
                ..
            })
        ));
        let network = crate::DirectNetwork::new(&trained.weights).unwrap_or_else(|e| panic!("{e}"));
        let reconstructions = crate::reconstruct(&network, &parts.validation, 8, |_| {})
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(reconstructions[0].pixels.len(), 3 * 1024);
        let (baseline, latent) =
            calibration("discs", &reconstructions).unwrap_or_else(|e| panic!("{e}"));
        let sealed = |preprocess: PreprocessConfig| {
            seal(
                &trained.weights,
                Calibrated {
                    created_by: "test".into(),
                    architecture: &architecture,
                    preprocess,
                    baseline: &baseline,
                    latent: &latent,
                    training: None,
                    properties: None,
                    novelty: None,
                    calibration_augment: Default::default(),
                },
            )
        };
        let color = PreprocessConfig::with_side(side).with_channels(3);
        let bytes = sealed(color).unwrap_or_else(|e| panic!("{e}"));
        let loaded = model_file::decode(&bytes).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(loaded.header.preprocess, color);
        assert_eq!(loaded.header.architecture.channels, 3);
        let gray = sealed(PreprocessConfig::with_side(side)).unwrap_or_else(|e| panic!("{e}"));
        let mismatch = model_file::decode(&gray);
        assert!(
            matches!(&mismatch, Err(ModelFileError::Header(m)) if m.contains("3-channel")),
            "{mismatch:?}"
        );

        // The first held-out image as an RGB PNG scores as the image itself.
        let image = parts.validation.image(0);
        let rgb: Vec<u8> = (0..side * side)
            .flat_map(|p| (0..3).map(move |c| (c, p)))
            .map(|(c, p)| (image[c * side * side + p] * 255.0).round() as u8)
            .collect();
        let mut png = Vec::new();
        image::ImageEncoder::write_image(
            image::codecs::png::PngEncoder::new(&mut png),
            &rgb,
            side as u32,
            side as u32,
            image::ExtendedColorType::Rgb8,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let pre = crate::preprocess_bytes(&png, &loaded.header.preprocess)
            .unwrap_or_else(|e| panic!("{e}"));
        let differs = pre
            .pixels
            .iter()
            .zip(image)
            .any(|(a, b)| (a - b).abs() > 0.5 / 255.0);
        assert!(!differs, "the PNG's planes are not the image's");
        let scored = crate::reconstruct(
            &crate::DirectNetwork::new(&loaded.weights).unwrap_or_else(|e| panic!("{e}")),
            &ImageSet::from_images(3, side, [pre.pixels.as_slice()]),
            8,
            |_| {},
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!((scored[0].bce - reconstructions[0].bce).abs() < 1e-3);
    }

    #[test]
    fn suggested_epochs_scale_with_the_set() {
        assert_eq!(suggested_epochs(60_000), 10);
        assert_eq!(suggested_epochs(1_000), 20);
        assert_eq!(suggested_epochs(160), 60);
        assert_eq!(suggested_epochs(0), 60);
    }

    #[test]
    fn a_baseline_too_small_to_flag_is_named_with_what_it_needs() {
        assert_eq!(smallest_flagging_baseline(0.01), 100);
        assert_eq!(smallest_flagging_baseline(0.05), 20);
        assert_eq!(smallest_flagging_baseline(0.1), 10);
        // The smallest size agrees with the baseline's own rule.
        for rate in [0.01, 0.05, 0.1, 0.2] {
            let n = smallest_flagging_baseline(rate);
            let make = |count: usize| {
                crate::Baseline::new(
                    crate::LossKind::Bce,
                    "t",
                    (0..count).map(|i| i as f32 / count as f32).collect(),
                )
                .unwrap_or_else(|e| panic!("{e}"))
            };
            assert!(make(n).flag_threshold(rate).is_some(), "{rate}: {n}");
            assert!(
                make(n - 1).flag_threshold(rate).is_none(),
                "{rate}: {}",
                n - 1
            );
        }
        let text = baseline_too_small(40, 0.01, 0.2).unwrap_or_default();
        assert!(text.contains("40 held-out images"), "{text}");
        assert!(
            text.contains("at least 100 images: about 500 in all at 20 %"),
            "{text}"
        );
        assert_eq!(baseline_too_small(100, 0.01, 0.2), None);
    }
}
