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
use driftglass_core::latent::{LATENT_DIMS, LatentReference};
use driftglass_core::novelty::NoveltyReference;
use driftglass_core::properties::{ImageProperties, PropertyReference, property_tests};
use driftglass_core::report::DEFAULT_FLAG_RATE;
use driftglass_core::rng::{SeededRng, add_gaussian_noise};
use driftglass_core::stats::{
    BatchSides, DEFAULT_ALPHA, LatentBatch, NoveltyBatch, PropertyBatch, Verdict, batch_tests,
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

fn parse_named_folder(text: &str) -> Result<(String, PathBuf), String> {
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

/// Share of `batches` random batches of `size` (drawn without replacement) called drift;
/// with `latent`, the MMD test on the batches' codes takes part.
fn detection_rate(
    model: &EvalModel<'_>,
    latent: Option<&LatentReference>,
    properties: Option<&[ImageProperties]>,
    scores: &progress::SetScores,
    size: usize,
    batches: usize,
    rng: &mut SeededRng,
) -> Option<f64> {
    if scores.losses.len() < size || batches == 0 {
        return None;
    }
    let mut order: Vec<usize> = (0..scores.losses.len()).collect();
    let mut drift = 0;
    for _ in 0..batches {
        let chosen = rng.choose_front(&mut order, size);
        let batch: Vec<f32> = chosen.iter().map(|i| scores.losses[*i]).collect();
        let codes: Vec<f32> = chosen
            .iter()
            .flat_map(|i| {
                scores.codes[i * LATENT_DIMS..(i + 1) * LATENT_DIMS]
                    .iter()
                    .copied()
            })
            .collect();
        let latent = latent.map(|reference| LatentBatch {
            reference,
            codes: &codes,
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
        let novelty_scores: Vec<f32> = chosen
            .iter()
            .filter_map(|i| scores.novelty.get(*i).copied())
            .collect();
        let novelty = model.novelty.map(|n| NoveltyBatch {
            calibration: n.calibration(),
            scores: &novelty_scores,
        });
        if batch_tests(
            model.baseline,
            &batch,
            BatchSides {
                latent,
                properties,
                novelty,
            },
            DEFAULT_FLAG_RATE,
            DEFAULT_ALPHA,
        )
        .is_some_and(|t| t.verdict == Verdict::Drift)
        {
            drift += 1;
        }
    }
    Some(drift as f64 / batches as f64)
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
        let detected = BATCH_SIZES
            .iter()
            .map(|size| (*size, rate(latent, *size)))
            .collect();
        let detected_without_latent_at_50 = rate(None, 50);
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
        "{:<24} {:>6} {:>10} {:>7} {:>8} {:>8} | batches called drift at n = {} | n = 50 without MMD{}",
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
                .map(|(_, rate)| percent(*rate))
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
        },
        args.batches,
        &mut rng,
    )?;
    let header = format!(
        "baseline: the model's own ({}, {} images){}{}; control: {}; {} random batches per cell; verdict at alpha {}",
        loaded.baseline.dataset(),
        loaded.baseline.len(),
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

pub fn run(args: EvalArgs) -> Result<()> {
    if let Some(control) = &args.control {
        return folders(&args, control);
    }
    let started = Instant::now();
    let loaded = crate::score::load_model(args.model.as_deref())?;
    let model = &loaded.network()?;
    let test = data::images(&data::mnist_dir(&args.data), "t10k-images-idx3-ubyte")?;
    // A seeded random split: MNIST's test set is ordered (its first 5,000 digits are the
    // cleaner NIST SD-3 writers, the last 5,000 SD-1's students), so halves by position differ
    // by about 1 % in mean loss, which batches of 200 detect.
    let mut rng = SeededRng::new(args.seed);
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
    let labels = data::labels(&data::mnist_dir(&args.data), "t10k-labels-idx1-ubyte")?;
    let zeros_and_ones = ImageSet::from_images(
        test.channels,
        test.side,
        order[half..]
            .iter()
            .filter(|i| labels.get(**i).is_some_and(|label| *label <= 1))
            .map(|i| test.image(*i)),
    );
    // The same calibration as `driftglass train` and the browser's Reference step.
    let (baseline, latent, calibrated) =
        crate::train::calibrate_baseline(&loaded.weights, &calibration, "MNIST test, random half")?;
    // The model's novelty fit (on its training images), calibrated on the same half.
    let novelty = loaded
        .novelty
        .as_ref()
        .map(|n| reference::calibrate_novelty(n.fit().clone(), &calibration, &calibrated))
        .transpose()?;
    let noisy = |factor: f64, rng: &mut SeededRng| {
        let mut set = clean.clone();
        add_gaussian_noise(&mut set.pixels, factor, rng);
        set
    };
    let noisy_05 = noisy(0.5, &mut rng);
    let noisy_02 = noisy(0.2, &mut rng);
    let (letters_set, _, _) = letters::render_all(&args.fonts, None)?;
    let fashion = data::images(&args.data.join("fashion-mnist"), "t10k-images-idx3-ubyte")?;
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
        ("only digits 0 and 1", zeros_and_ones),
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
    let rows = rows_for(
        &sets,
        &EvalModel {
            network: model,
            baseline: &baseline,
            latent: Some(&latent),
            properties: None,
            novelty: novelty.as_ref(),
        },
        args.batches,
        &mut rng,
    )?;
    let header = format!(
        "baseline: {} MNIST test images (a seeded random half), latent reference: {} of their codes, {}; clean: the other {}; {} random batches per cell; verdict at alpha {}",
        baseline.len(),
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
    print_rows(&rows, &header, args.json, started.elapsed().as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dot() -> Vec<f32> {
        let mut image = vec![0.0; IMAGE_SIDE * IMAGE_SIDE];
        image[10 * IMAGE_SIDE + 20] = 1.0;
        image
    }

    #[test]
    fn corruptions_move_pixels_where_expected() {
        // A quarter turn maps (x, y) = (20, 10) about the centre 13.5 to (10, 7) or (17, 20).
        let turned = rotate(&dot(), 90.0);
        let hot: Vec<usize> = (0..turned.len()).filter(|i| turned[*i] > 0.5).collect();
        assert_eq!(hot.len(), 1);
        let (x, y) = (hot[0] % IMAGE_SIDE, hot[0] / IMAGE_SIDE);
        assert!((x, y) == (17, 20) || (x, y) == (10, 7), "({x}, {y})");
        assert_eq!(rotate(&dot(), 0.0), dot());
        let shifted = translate(&dot(), 4);
        assert_eq!(shifted[14 * IMAGE_SIDE + 24], 1.0);
        let blurred = blur(&dot(), 1.0);
        let sum: f32 = blurred.iter().sum();
        assert!((sum - 1.0).abs() < 1e-4, "blur keeps the ink: {sum}");
        assert!(blurred[10 * IMAGE_SIDE + 20] < 0.2);
    }
}
