//! `driftglass eval`: how well drift is detected, measured on real data the model never
//! trained on.
//!
//! The MNIST test set is split in two at random (seeded): one half calibrates the baseline, the
//! other is the clean data (so clean batches are never part of the baseline they are tested against).
//! Drift sets: notMNIST-style letters, Fashion-MNIST, and the clean half corrupted (noise 0.5
//! and 0.2, rotation, blur, inversion, translation). For each: per-image AUROC against the
//! clean half, and the share of random batches of 10, 50 and 200 that the batch verdict calls
//! drift at alpha = 0.01 (for clean batches: the false-alarm rate). One more drift set, only
//! the digits 0 and 1 of the clean half, is a label shift: the images reconstruct as well as
//! any digit, so the loss tests barely see it, and the latent MMD test is there for it; the
//! table also shows each set's detection at n = 50 without the MMD test.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
use clap::Args;
use driftglass_core::augment::Augmentation;
use driftglass_core::latent::{LATENT_DIMS, LatentReference};
use driftglass_core::model_file::LoadedModel;
use driftglass_core::novelty::NoveltyReference;
use driftglass_core::properties::{ImageProperties, PropertyReference, property_tests};
use driftglass_core::report::DEFAULT_FLAG_RATE;
use driftglass_core::rng::{SeededRng, add_gaussian_noise};
use driftglass_core::stats::{
    Alternative, BatchSides, DEFAULT_ALPHA, LatentBatch, NoveltyBatch, PropertyBatch, Verdict,
    batch_tests,
};
use driftglass_core::{Baseline, IMAGE_SIDE, ImageSet, auroc};
use serde::Serialize;

use driftglass_core::reference;

use crate::{data, letters, progress};

#[derive(Args, Debug)]
pub struct EvalArgs {
    /// Model file (default: the bundled model).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Data directory holding `mnist/` and `fashion-mnist/`.
    #[arg(long, default_value_os_t = crate::default_data_dir())]
    pub data: PathBuf,
    /// Fonts for the notMNIST-style letters.
    #[arg(long, default_value = "/usr/share/fonts/truetype/aenigma")]
    pub fonts: PathBuf,
    /// Random batches per set and batch size.
    #[arg(long, default_value_t = 200)]
    pub batches: usize,
    /// Seed for corruptions and batch draws.
    #[arg(long, default_value_t = 11)]
    pub seed: u64,
    /// Print the table as JSON.
    #[arg(long)]
    pub json: bool,
    /// Evaluate on your own folders instead of MNIST: clean images like the reference (not the
    /// ones the model's baseline was made from), scored against the model's baseline.
    #[arg(long)]
    pub control: Option<PathBuf>,
    /// With `--control`: a drift set, `NAME=FOLDER` (repeatable).
    #[arg(long, requires = "control", value_parser = parse_named_folder)]
    pub drift: Vec<(String, PathBuf)>,
    /// With `--control`: read folders inside the folders too.
    #[arg(long, requires = "control")]
    pub recursive: bool,
}

pub(crate) fn parse_named_folder(text: &str) -> Result<(String, PathBuf), String> {
    match text.split_once('=') {
        Some((name, folder)) if !name.is_empty() && !folder.is_empty() => {
            Ok((name.to_string(), PathBuf::from(folder)))
        }
        _ => Err(format!("expected NAME=FOLDER, got {text:?}")),
    }
}

/// Batch sizes of the power table.
pub const BATCH_SIZES: [usize; 3] = [10, 50, 200];

/// One row of the table.
#[derive(Debug, Serialize)]
pub struct EvalRow {
    pub set: String,
    pub images: usize,
    /// Mean loss / baseline mean.
    pub loss_ratio: f64,
    /// Per-image AUROC against clean held-out digits (None for the clean set itself).
    pub auroc: Option<f64>,
    /// Per-image AUROC of the novelty score (see `driftglass_core::novelty`), what images are
    /// flagged and sorted by, where the model has one.
    pub auroc_novelty: Option<f64>,
    /// Share of the set's images flagged at the default flag rate (by the novelty p-value where
    /// the model has a novelty score, else by the loss's): for the control, the per-image
    /// false-alarm rate.
    pub flagged: f64,
    /// Share of batches called drift, per batch size (`None` where the set has fewer images).
    pub detected: Vec<(usize, Option<f64>)>,
    /// Share of batches called "small shift", per batch size.
    pub small_shift: Vec<(usize, Option<f64>)>,
    /// Medians of the effect sizes of batches of 200 (of the set's size where smaller).
    pub effects: Option<Called>,
    /// Share of batches of 50 called drift by the loss tests alone (no latent MMD test).
    pub detected_without_latent_at_50: Option<f64>,
    /// The property that changed most over the whole set against the model's reference
    /// values (see `driftglass_core::properties`), in words; `None` when none changed or the
    /// model keeps no properties.
    pub changed_most: Option<String>,
}

/// What a set is scored and tested against.
pub struct EvalModel<'a> {
    pub network: &'a driftglass_core::DirectNetwork,
    pub baseline: &'a Baseline,
    pub latent: Option<&'a LatentReference>,
    pub properties: Option<&'a PropertyReference>,
    pub novelty: Option<&'a NoveltyReference>,
    /// What the batch tests ask (the model's: see `Alternative`).
    pub alternative: Alternative,
}

/// One set of the table: its images and, where measured, each image's properties.
pub struct EvalSet {
    pub name: String,
    pub images: ImageSet,
    pub properties: Vec<ImageProperties>,
}

fn map_pixels(set: &ImageSet, f: impl Fn(&[f32]) -> Vec<f32>) -> ImageSet {
    let images: Vec<Vec<f32>> = (0..set.count).map(|i| f(set.image(i))).collect();
    ImageSet::from_images(set.channels, set.side, images.iter().map(Vec::as_slice))
}

/// Rotate by `degrees` about the centre (bilinear, black outside).
fn rotate(image: &[f32], degrees: f64) -> Vec<f32> {
    let (sin, cos) = degrees.to_radians().sin_cos();
    let side = IMAGE_SIDE as f64;
    let c = (side - 1.0) / 2.0;
    let at = |x: i64, y: i64| {
        if x < 0 || y < 0 || x >= IMAGE_SIDE as i64 || y >= IMAGE_SIDE as i64 {
            0.0
        } else {
            image[y as usize * IMAGE_SIDE + x as usize] as f64
        }
    };
    let mut out = vec![0.0; image.len()];
    for y in 0..IMAGE_SIDE {
        for x in 0..IMAGE_SIDE {
            let (dx, dy) = (x as f64 - c, y as f64 - c);
            let sx = cos * dx + sin * dy + c;
            let sy = -sin * dx + cos * dy + c;
            let (x0, y0) = (sx.floor(), sy.floor());
            let (fx, fy) = (sx - x0, sy - y0);
            let (x0, y0) = (x0 as i64, y0 as i64);
            let v = at(x0, y0) * (1.0 - fx) * (1.0 - fy)
                + at(x0 + 1, y0) * fx * (1.0 - fy)
                + at(x0, y0 + 1) * (1.0 - fx) * fy
                + at(x0 + 1, y0 + 1) * fx * fy;
            out[y * IMAGE_SIDE + x] = v as f32;
        }
    }
    out
}

/// Gaussian blur with standard deviation `sigma` pixels (separable, zero padding).
fn blur(image: &[f32], sigma: f64) -> Vec<f32> {
    let radius = (3.0 * sigma).ceil() as i64;
    let weights: Vec<f64> = (-radius..=radius)
        .map(|k| (-(k * k) as f64 / (2.0 * sigma * sigma)).exp())
        .collect();
    let total: f64 = weights.iter().sum();
    let pass = |input: &[f32], horizontal: bool| {
        let mut out = vec![0.0f32; input.len()];
        for y in 0..IMAGE_SIDE as i64 {
            for x in 0..IMAGE_SIDE as i64 {
                let mut sum = 0.0;
                for (i, w) in weights.iter().enumerate() {
                    let k = i as i64 - radius;
                    let (sx, sy) = if horizontal { (x + k, y) } else { (x, y + k) };
                    if (0..IMAGE_SIDE as i64).contains(&sx) && (0..IMAGE_SIDE as i64).contains(&sy)
                    {
                        sum += w * input[(sy * IMAGE_SIDE as i64 + sx) as usize] as f64;
                    }
                }
                out[(y * IMAGE_SIDE as i64 + x) as usize] = (sum / total) as f32;
            }
        }
        out
    };
    pass(&pass(image, true), false)
}

/// Shift right and down by `pixels` (black fill).
fn translate(image: &[f32], pixels: usize) -> Vec<f32> {
    let mut out = vec![0.0; image.len()];
    for y in pixels..IMAGE_SIDE {
        for x in pixels..IMAGE_SIDE {
            out[y * IMAGE_SIDE + x] = image[(y - pixels) * IMAGE_SIDE + (x - pixels)];
        }
    }
    out
}

/// What random batches of one size were called, and how large the changes they saw were.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Called {
    /// Share called "drift".
    pub drift: f64,
    /// Share called "small shift" (significant, under every practical threshold).
    pub small_shift: f64,
    /// Medians over the batches of each test's effect: loss ratio − 1, KS D, flagged share
    /// beyond chance, MMD² (`None` without the latent test).
    pub ratio: f64,
    pub ks_d: f64,
    pub flagged_excess: f64,
    pub mmd: Option<f64>,
}

impl Called {
    /// The effect sizes as a table row: loss ratio − 1, KS D, flagged beyond chance, MMD².
    fn line(&self) -> String {
        format!(
            "{:>+8.1} % {:>8.3} {:>+8.3} {:>10}",
            self.ratio * 100.0,
            self.ks_d,
            self.flagged_excess,
            self.mmd
                .map(|m| format!("{m:.4}"))
                .unwrap_or_else(|| "—".into())
        )
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

/// What `batches` random batches of `size` (drawn without replacement) were called, with the
/// medians of their effect sizes; with `latent`, the MMD test on the batches' codes takes part.
fn detection_rate(
    model: &EvalModel<'_>,
    latent: Option<&LatentReference>,
    properties: Option<&[ImageProperties]>,
    scores: &progress::SetScores,
    size: usize,
    batches: usize,
    rng: &mut SeededRng,
) -> Option<Called> {
    if scores.losses.len() < size || batches == 0 {
        return None;
    }
    let mut order: Vec<usize> = (0..scores.losses.len()).collect();
    let mut all = Vec::with_capacity(batches);
    for _ in 0..batches {
        let chosen = rng.choose_front(&mut order, size);
        let picked = scores.pick(chosen);
        let latent = latent.map(|reference| LatentBatch {
            reference,
            codes: &picked.codes,
        });
        let measured: Vec<ImageProperties> = properties
            .map(|all| chosen.iter().map(|i| all[*i].clone()).collect())
            .unwrap_or_default();
        let properties = model
            .properties
            .filter(|_| properties.is_some())
            .map(|reference| PropertyBatch {
                reference,
                images: &measured,
            });
        let novelty = model.novelty.map(|n| NoveltyBatch {
            calibration: n.calibration(),
            scores: &picked.novelty,
        });
        let tests = batch_tests(
            model.baseline,
            &picked.losses,
            BatchSides {
                latent,
                properties,
                novelty,
                alternative: model.alternative,
            },
            DEFAULT_FLAG_RATE,
            DEFAULT_ALPHA,
        );
        all.extend(tests);
    }
    let share = |verdict: Verdict| {
        all.iter().filter(|t| t.verdict == verdict).count() as f64 / batches as f64
    };
    let mmd: Vec<f64> = all
        .iter()
        .filter_map(|t| t.mmd.as_ref().map(|m| m.statistic))
        .collect();
    Some(Called {
        drift: share(Verdict::Drift),
        small_shift: share(Verdict::SmallShift),
        ratio: median(all.iter().map(|t| t.loss_ratio - 1.0).collect()),
        ks_d: median(all.iter().map(|t| t.ks.statistic).collect()),
        flagged_excess: median(
            all.iter()
                .map(|t| t.flagged as f64 / t.images.max(1) as f64 - t.flag_probability)
                .collect(),
        ),
        mmd: (!mmd.is_empty()).then(|| median(mmd)),
    })
}

/// One row per set (the first is the control: its row gives the false alarms): loss ratio,
/// per-image AUROC against the control (the loss, and the novelty score where the model has
/// one), the share of images flagged, and the share of random batches called drift.
fn rows_for(
    sets: &[EvalSet],
    model: &EvalModel<'_>,
    batches: usize,
    rng: &mut SeededRng,
) -> Result<Vec<EvalRow>> {
    let (baseline, latent, reference) = (model.baseline, model.latent, model.properties);
    let mut clean_losses = Vec::new();
    let mut clean_novelty = Vec::new();
    let mut rows = Vec::new();
    for (index, set) in sets.iter().enumerate() {
        let (name, properties) = (&set.name, set.properties.as_slice());
        let set = &set.images;
        // Property tests where the model keeps reference values and the images were measured.
        let measured = reference.filter(|_| properties.len() == set.count && set.count > 0);
        let changed_most = measured.and_then(|reference| {
            let tests = property_tests(reference, properties)?;
            // Bonferroni over the properties alone here: which one explains the set best.
            let count = tests.len() as f64;
            tests
                .into_iter()
                .find(|t| t.p_value * count < DEFAULT_ALPHA)
                .map(|t| t.sentence)
        });
        let properties = measured.map(|_| properties);
        let scores = progress::score_set(model.network, set, name, model.novelty)?;
        let flagged = match model.novelty {
            Some(novelty) => scores
                .novelty
                .iter()
                .filter(|t| novelty.calibration().is_flagged(**t, DEFAULT_FLAG_RATE))
                .count(),
            None => scores
                .losses
                .iter()
                .filter(|l| baseline.is_flagged(**l, DEFAULT_FLAG_RATE))
                .count(),
        } as f64
            / set.count.max(1) as f64;
        if index == 0 {
            clean_losses = scores.losses.clone();
            clean_novelty = scores.novelty.clone();
        }
        let loss_ratio = driftglass_core::loss_ratio(&scores.losses, baseline).unwrap_or(f64::NAN);
        let mut rate = |latent: Option<&LatentReference>, size: usize| {
            detection_rate(model, latent, properties, &scores, size, batches, rng)
        };
        let called: Vec<(usize, Option<Called>)> = BATCH_SIZES
            .iter()
            .map(|size| (*size, rate(latent, *size)))
            .collect();
        let detected = called
            .iter()
            .map(|(n, c)| (*n, c.as_ref().map(|c| c.drift)))
            .collect();
        let small_shift = called
            .iter()
            .map(|(n, c)| (*n, c.as_ref().map(|c| c.small_shift)))
            .collect();
        let effects = called.iter().rev().find_map(|(_, c)| c.clone());
        let detected_without_latent_at_50 = rate(None, 50).map(|c| c.drift);
        rows.push(EvalRow {
            set: name.clone(),
            images: set.count,
            loss_ratio,
            auroc: (index > 0)
                .then(|| auroc(&clean_losses, &scores.losses))
                .flatten(),
            auroc_novelty: (index > 0 && model.novelty.is_some())
                .then(|| auroc(&clean_novelty, &scores.novelty))
                .flatten(),
            flagged,
            detected,
            small_shift,
            effects,
            detected_without_latent_at_50,
            changed_most,
        });
    }
    Ok(rows)
}

fn percent(rate: Option<f64>) -> String {
    rate.map(|r| format!("{:>6.1} %", r * 100.0))
        .unwrap_or_else(|| format!("{:>8}", "—"))
}

/// "drift % (small shift %)" for one batch size.
fn called(drift: Option<f64>, small: Option<f64>) -> String {
    match (drift, small) {
        (Some(d), Some(s)) => format!("{:>5.1} % ({:>4.1})", d * 100.0, s * 100.0),
        _ => format!("{:>14}", "—"),
    }
}

/// The table (or JSON) of `rows` under `header`, with the first row named as the false alarms.
fn print_rows(rows: &[EvalRow], header: &str, json: bool, seconds: f64) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(rows)?);
        return Ok(());
    }
    println!("{header}");
    println!();
    let changes = rows.iter().any(|r| r.changed_most.is_some());
    println!(
        "{:<24} {:>6} {:>10} {:>7} {:>8} {:>8} | batches called drift (small shift) at n = {} | n = 50 without MMD{}",
        "set",
        "images",
        "ratio",
        "AUROC",
        "novelty",
        "flagged",
        BATCH_SIZES.map(|n| n.to_string()).join(" / "),
        if changes {
            " (under each set: what changed most over the whole set)"
        } else {
            ""
        }
    );
    for row in rows {
        println!(
            "{:<24} {:>6} {:>+9.1}% {:>7} {:>8} {:>7.1}% | {} | {}",
            row.set,
            row.images,
            (row.loss_ratio - 1.0) * 100.0,
            row.auroc
                .map(|a| format!("{a:.4}"))
                .unwrap_or_else(|| "—".into()),
            row.auroc_novelty
                .map(|a| format!("{a:.4}"))
                .unwrap_or_else(|| "—".into()),
            row.flagged * 100.0,
            row.detected
                .iter()
                .zip(&row.small_shift)
                .map(|((_, drift), (_, small))| called(*drift, *small))
                .collect::<Vec<_>>()
                .join("  "),
            percent(row.detected_without_latent_at_50)
        );
        if let Some(change) = &row.changed_most {
            println!("    what changed most: {change}");
        }
    }
    println!();
    println!(
        "(AUROC: per image against the control, of the loss and of the novelty score; flagged: images flagged at {:.0} %, by the novelty score where the model has one; first row: the false-alarm rates on the clean control images; — where a set has fewer images than the batch; {seconds:.0} s)",
        DEFAULT_FLAG_RATE * 100.0
    );
    println!();
    println!(
        "effect sizes, medians over the batches of the largest size: loss ratio − 1, KS D of the losses, share flagged beyond chance, MMD² of the codes"
    );
    for row in rows {
        if let Some(e) = &row.effects {
            println!("{:<24} {}", row.set, e.line());
        }
    }
    Ok(())
}

/// `eval --control DIR --drift NAME=DIR ...`: any folders against the model's own baseline.
fn folders(args: &EvalArgs, control: &std::path::Path) -> Result<()> {
    let started = Instant::now();
    let loaded = crate::score::load_model(args.model.as_deref())?;
    let model = loaded.network()?;
    let config = loaded.header.preprocess;
    let mut sets = Vec::new();
    for (name, folder) in std::iter::once(("control".to_string(), control.to_path_buf()))
        .chain(args.drift.iter().cloned())
    {
        if !folder.is_dir() {
            anyhow::bail!("{name}: {} is not a folder", folder.display());
        }
        let read = crate::train::read_folder(&folder, args.recursive, &config)?;
        if read.images.count == 0 {
            anyhow::bail!("{name}: {} holds no usable images", folder.display());
        }
        eprintln!(
            "{name}: {} images ({} not used)",
            read.images.count, read.not_used
        );
        sets.push(EvalSet {
            name,
            images: read.images,
            properties: read.properties,
        });
    }
    let mut rng = SeededRng::new(args.seed);
    let rows = rows_for(
        &sets,
        &EvalModel {
            network: &model,
            baseline: &loaded.baseline,
            latent: loaded.latent.as_ref(),
            properties: loaded.header.properties.as_ref(),
            novelty: loaded.novelty.as_ref(),
            alternative: loaded.header.alternative(),
        },
        args.batches,
        &mut rng,
    )?;
    let header = format!(
        "baseline: the model's own ({}, {} images{}){}{}; control: {}; {} random batches per cell; verdict at alpha {}",
        loaded.baseline.dataset(),
        loaded.baseline.len(),
        reference_note(&loaded),
        loaded
            .latent
            .as_ref()
            .map(|l| format!(", latent reference: {} codes", l.len()))
            .unwrap_or_else(|| ", no latent reference (MMD test off)".into()),
        loaded
            .header
            .properties
            .as_ref()
            .map(|p| format!(", image properties of {} images", p.images))
            .unwrap_or_else(|| ", no stored image properties (property tests off)".into()),
        control.display(),
        args.batches,
        DEFAULT_ALPHA
    );
    print_rows(&rows, &header, args.json, started.elapsed().as_secs_f64())
}

/// For the table's header: how an augmented model's calibration images were transformed and
/// what its tests then ask ("" for a model calibrated on images as they are).
fn reference_note(loaded: &LoadedModel) -> String {
    match loaded.header.alternative() {
        Alternative::Different => String::new(),
        Alternative::Worse => format!(
            ", transformed as in training ({}): the tests ask whether a batch is worse, only the mean-loss and flagged-share tests decide",
            loaded.header.calibration_augment
        ),
    }
}

/// The MNIST set whose images are each typical (only their mix of labels changed): no per-image
/// score can see it, only the batch tests.
pub const LABEL_SHIFT_SET: &str = "only digits 0 and 1";

/// The MNIST evaluation's images: the test set, its calibration half, and the sets of the
/// table (the clean half first), with the generator in the state the table's batch draws
/// continue from.
pub struct MnistSets {
    pub test: ImageSet,
    pub calibration: ImageSet,
    pub sets: Vec<EvalSet>,
    pub rng: SeededRng,
}

/// The MNIST test set split in two at random with `seed`, and the drift sets made from its
/// clean half, Fashion-MNIST and letters rendered from `fonts`.
pub fn mnist_sets(
    data_dir: &std::path::Path,
    fonts: &std::path::Path,
    seed: u64,
) -> Result<MnistSets> {
    let test = data::images(&data::mnist_dir(data_dir), "t10k-images-idx3-ubyte")?;
    // A seeded random split: MNIST's test set is ordered (its first 5,000 digits are the
    // cleaner NIST SD-3 writers, the last 5,000 SD-1's students), so halves by position differ
    // by about 1 % in mean loss, which batches of 200 detect.
    let mut rng = SeededRng::new(seed);
    let mut order: Vec<usize> = (0..test.count).collect();
    rng.shuffle(&mut order);
    let half = test.count / 2;
    let calibration = ImageSet::from_images(
        test.channels,
        test.side,
        order[..half].iter().map(|i| test.image(*i)),
    );
    let clean = ImageSet::from_images(
        test.channels,
        test.side,
        order[half..].iter().map(|i| test.image(*i)),
    );
    let labels = data::labels(&data::mnist_dir(data_dir), "t10k-labels-idx1-ubyte")?;
    let zeros_and_ones = ImageSet::from_images(
        test.channels,
        test.side,
        order[half..]
            .iter()
            .filter(|i| labels.get(**i).is_some_and(|label| *label <= 1))
            .map(|i| test.image(*i)),
    );
    let noisy = |factor: f64, rng: &mut SeededRng| {
        let mut set = clean.clone();
        add_gaussian_noise(&mut set.pixels, factor, rng);
        set
    };
    let noisy_05 = noisy(0.5, &mut rng);
    let noisy_02 = noisy(0.2, &mut rng);
    let (letters_set, _, _) = letters::render_all(fonts, None)?;
    let fashion = data::images(&data_dir.join("fashion-mnist"), "t10k-images-idx3-ubyte")?;
    let sets: Vec<(&str, ImageSet)> = vec![
        ("clean MNIST (held out)", clean.clone()),
        ("notMNIST-style letters", letters_set),
        ("Fashion-MNIST", fashion),
        ("noise 0.5", noisy_05),
        ("noise 0.2", noisy_02),
        ("rotated 45°", map_pixels(&clean, |i| rotate(i, 45.0))),
        ("rotated 15°", map_pixels(&clean, |i| rotate(i, 15.0))),
        ("blurred (σ = 1 px)", map_pixels(&clean, |i| blur(i, 1.0))),
        (
            "inverted",
            map_pixels(&clean, |i| i.iter().map(|v| 1.0 - v).collect()),
        ),
        ("shifted 4 px", map_pixels(&clean, |i| translate(i, 4))),
        (LABEL_SHIFT_SET, zeros_and_ones),
    ];
    // The MNIST evaluation keeps to the model's tests: no image properties here.
    let sets: Vec<EvalSet> = sets
        .into_iter()
        .map(|(name, images)| EvalSet {
            name: name.to_string(),
            images,
            properties: Vec::new(),
        })
        .collect();
    Ok(MnistSets {
        test,
        calibration,
        sets,
        rng,
    })
}

pub fn run(args: EvalArgs) -> Result<()> {
    if let Some(control) = &args.control {
        return folders(&args, control);
    }
    let started = Instant::now();
    let loaded = crate::score::load_model(args.model.as_deref())?;
    let model = &loaded.network()?;
    let MnistSets {
        test,
        calibration,
        sets,
        mut rng,
    } = mnist_sets(&args.data, &args.fonts, args.seed)?;
    let half = calibration.count;
    let clean = &sets[0].images;
    // The same calibration as `driftglass train` and the browser's Reference step.
    let (baseline, latent, novelty, calibration_scores) =
        calibrate(&loaded, &calibration, "MNIST test, random half")?;
    let rows = rows_for(
        &sets,
        &EvalModel {
            network: model,
            baseline: &baseline,
            latent: Some(&latent),
            properties: None,
            novelty: novelty.as_ref(),
            alternative: loaded.header.alternative(),
        },
        args.batches,
        &mut rng,
    )?;
    let writers = other_writers(&args, &loaded, &test)?;
    // The false alarms' clean images are the null's: for an augmented model, transformed as
    // its reference is (seeded apart from the calibration's), so the one-sided tests' level is
    // measured where it is tight, not on upright digits, which are easier.
    let null_clean = loaded
        .header
        .calibration_augment
        .apply_to_set(clean, args.seed ^ NULL_AUGMENT_SEED);
    let alarms = false_alarms(
        &args,
        model,
        (&calibration_scores, &null_clean),
        novelty.as_ref(),
        loaded.header.alternative(),
        &mut rng,
    )?;
    let header = format!(
        "baseline: {} MNIST test images (a seeded random half){}, latent reference: {} of their codes, {}; clean: the other {}; {} random batches per cell; verdict at alpha {}",
        baseline.len(),
        reference_note(&loaded),
        latent.len(),
        novelty
            .as_ref()
            .map(|n| format!(
                "novelty score fitted on {}, calibrated on the same half",
                n.summary().fitted_on
            ))
            .unwrap_or_else(|| "no novelty score in the model (flags by the loss)".into()),
        test.count - half,
        args.batches,
        DEFAULT_ALPHA
    );
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(
                &serde_json::json!({ "sets": rows, "other_writers": writers, "false_alarms": alarms })
            )?
        );
        return Ok(());
    }
    print_rows(&rows, &header, false, started.elapsed().as_secs_f64())?;
    print_writers(&writers);
    print_false_alarms(&alarms, &loaded.header.calibration_augment);
    Ok(())
}

/// The baseline, latent reference and novelty calibration a model gets from `images` (its
/// novelty fit, on its training images, stays), and the images' own scores. An augmented
/// model's images are transformed first, as its own calibration's were.
fn calibrate(
    loaded: &LoadedModel,
    images: &ImageSet,
    name: &str,
) -> Result<(
    Baseline,
    LatentReference,
    Option<NoveltyReference>,
    progress::SetScores,
)> {
    let images = &loaded.header.calibration_images(images);
    let (baseline, latent, reconstructions) =
        crate::train::calibrate_baseline(&loaded.weights, images, name)?;
    let novelty = loaded
        .novelty
        .as_ref()
        .map(|n| reference::calibrate_novelty(n.fit().clone(), images, &reconstructions))
        .transpose()?;
    let scores = progress::SetScores::of(images, &reconstructions, novelty.as_ref());
    Ok((baseline, latent, novelty, scores))
}

/// Mixed into the evaluation's seed for the false alarms' transformed clean images.
const NULL_AUGMENT_SEED: u64 = 0x4E55_11A6;

/// Batch sizes of the false-alarm table.
pub const NULL_SIZES: [usize; 6] = [10, 50, 200, 1_000, 10_000, 100_000];

/// The verdict on clean batches of one size, each against a freshly resampled baseline.
#[derive(Debug, Serialize)]
pub struct NullRow {
    pub size: usize,
    pub batches: usize,
    /// Share called "drift": the false-alarm rate.
    pub drift: f64,
    /// Share called "small shift".
    pub small_shift: f64,
    /// Seconds the batches took.
    pub seconds: f64,
}

/// Fewer batches where each is large (a batch of 100,000 costs about a second).
fn null_batches(size: usize, batches: usize) -> usize {
    match size {
        0..=1_000 => batches,
        1_001..=10_000 => (batches / 4).max(10),
        _ => (batches / 10).max(10),
    }
}

/// The verdict's false alarms at every size of [`NULL_SIZES`]: each batch is drawn with
/// replacement from the clean half, each against a baseline (losses, latent reference, novelty
/// calibration) drawn afresh with replacement from the calibration half. Both halves are finite
/// pools of 5,000 digits: at 100,000 images the tests can see the difference between the two
/// pools themselves, which the verdict's size should call at most a small shift.
fn false_alarms(
    args: &EvalArgs,
    network: &driftglass_core::DirectNetwork,
    (reference, clean): (&progress::SetScores, &ImageSet),
    novelty: Option<&NoveltyReference>,
    alternative: Alternative,
    rng: &mut SeededRng,
) -> Result<Vec<NullRow>> {
    let clean = progress::score_set(network, clean, "clean", novelty)?;
    let resample = |scores: &progress::SetScores, count: usize, rng: &mut SeededRng| {
        let picked: Vec<usize> = (0..count).map(|_| rng.below(scores.losses.len())).collect();
        let picked = scores.pick(&picked);
        (picked.losses, picked.codes, picked.novelty)
    };
    let mut rows = Vec::new();
    for size in NULL_SIZES {
        let started = Instant::now();
        let batches = null_batches(size, args.batches);
        let (mut drift, mut small) = (0, 0);
        for _ in 0..batches {
            let (base_losses, base_codes, base_novelty) =
                resample(reference, reference.losses.len(), rng);
            let baseline = Baseline::new(driftglass_core::LossKind::Bce, "resampled", base_losses)?;
            let latent = LatentReference::sample(
                LATENT_DIMS,
                &base_codes,
                driftglass_core::latent::LATENT_REFERENCE_SIZE,
                rng.next_u64(),
            )?;
            let calibrated = novelty
                .map(|n| n.fit().clone().with_scores(base_novelty))
                .transpose()?;
            let (losses, codes, scores) = resample(&clean, size, rng);
            let tests = batch_tests(
                &baseline,
                &losses,
                BatchSides {
                    latent: Some(LatentBatch {
                        reference: &latent,
                        codes: &codes,
                    }),
                    properties: None,
                    novelty: calibrated.as_ref().map(|n| NoveltyBatch {
                        calibration: n.calibration(),
                        scores: &scores,
                    }),
                    alternative,
                },
                DEFAULT_FLAG_RATE,
                DEFAULT_ALPHA,
            );
            match tests.map(|t| t.verdict) {
                Some(Verdict::Drift) => drift += 1,
                Some(Verdict::SmallShift) => small += 1,
                _ => {}
            }
        }
        rows.push(NullRow {
            size,
            batches,
            drift: drift as f64 / batches as f64,
            small_shift: small as f64 / batches as f64,
            seconds: started.elapsed().as_secs_f64(),
        });
    }
    Ok(rows)
}

fn print_false_alarms(rows: &[NullRow], augment: &Augmentation) {
    println!();
    println!(
        "false alarms at any size: clean digits{} drawn with replacement from the clean half, each batch against a baseline resampled from the calibration half",
        if augment.is_none() {
            String::new()
        } else {
            format!(" (each transformed once, {augment}, as the reference)")
        }
    );
    println!(
        "{:>8} {:>8} {:>8} {:>12} {:>8}",
        "n", "batches", "drift", "small shift", "seconds"
    );
    for row in rows {
        println!(
            "{:>8} {:>8} {:>7.1}% {:>11.1}% {:>8.1}",
            row.size,
            row.batches,
            row.drift * 100.0,
            row.small_shift * 100.0,
            row.seconds
        );
    }
}

/// Batch sizes of the other-writers table.
pub const WRITER_BATCH_SIZES: [usize; 4] = [10, 50, 200, 1000];

/// Clean digits of other writers against a baseline of one block of the MNIST test set: how
/// often their batches are called "small shift" and "drift".
#[derive(Debug, Serialize)]
pub struct WritersRow {
    pub baseline: String,
    pub clean: String,
    /// Per batch size: (n, share called drift, share called small shift).
    pub called: Vec<(usize, Option<f64>, Option<f64>)>,
    pub effects: Option<Called>,
}

/// The MNIST test set is ordered by writer: its first 5,000 digits come from NIST's SD-3
/// (Census Bureau employees), its last 5,000 from SD-1 (students). A baseline from one block and
/// clean batches from another are the same task by other people: what a practical threshold
/// should call at most a small shift.
fn other_writers(
    args: &EvalArgs,
    loaded: &LoadedModel,
    test: &ImageSet,
) -> Result<Vec<WritersRow>> {
    let block = |from: usize, to: usize| {
        ImageSet::from_images(
            test.channels,
            test.side,
            (from..to.min(test.count)).map(|i| test.image(i)),
        )
    };
    let network = loaded.network()?;
    let mut rows = Vec::new();
    for ((baseline_from, baseline_to), (clean_from, clean_to)) in
        [((5000, 7000), (7000, 10_000)), ((0, 5000), (5000, 10_000))]
    {
        let reference = block(baseline_from, baseline_to);
        let clean = block(clean_from, clean_to);
        let name = format!("MNIST test digits {baseline_from}–{}", baseline_to - 1);
        let (baseline, latent, novelty, _) = calibrate(loaded, &reference, &name)?;
        let model = EvalModel {
            network: &network,
            baseline: &baseline,
            latent: Some(&latent),
            properties: None,
            novelty: novelty.as_ref(),
            alternative: loaded.header.alternative(),
        };
        let scores = progress::score_set(&network, &clean, "other writers", novelty.as_ref())?;
        let mut rng = SeededRng::new(args.seed ^ 0x3717);
        let mut effects = None;
        let called = WRITER_BATCH_SIZES
            .iter()
            .map(|size| {
                let c = detection_rate(
                    &model,
                    Some(&latent),
                    None,
                    &scores,
                    *size,
                    args.batches,
                    &mut rng,
                );
                let row = (
                    *size,
                    c.as_ref().map(|c| c.drift),
                    c.as_ref().map(|c| c.small_shift),
                );
                if c.is_some() {
                    effects = c;
                }
                row
            })
            .collect();
        rows.push(WritersRow {
            baseline: name,
            clean: format!("digits {clean_from}–{}", clean_to - 1),
            called,
            effects,
        });
    }
    Ok(rows)
}

fn print_writers(rows: &[WritersRow]) {
    println!();
    println!(
        "clean digits of other writers: batches called drift (small shift) at n = {}, then the effect sizes of batches of {} (as above)",
        WRITER_BATCH_SIZES.map(|n| n.to_string()).join(" / "),
        WRITER_BATCH_SIZES[WRITER_BATCH_SIZES.len() - 1]
    );
    for row in rows {
        println!(
            "{} against {}: {}",
            row.clean,
            row.baseline,
            row.called
                .iter()
                .map(|(_, drift, small)| called(*drift, *small))
                .collect::<Vec<_>>()
                .join("  ")
        );
        if let Some(e) = &row.effects {
            println!("    {}", e.line());
        }
    }
}
