//! `driftglass search`: a seeded architecture search. Each candidate (widths, depth, code size,
//! kernel, training loss) is trained alike on the same images with the same seed, calibrated
//! and given its novelty score as `driftglass train` does, then measured: held-out loss,
//! per-image AUROC of the loss and of the novelty score on every drift set against clean
//! images it never saw, the clean images' flag rate, scoring speed on one thread, parameters
//! and model-file size. On MNIST the sets are `driftglass eval`'s; on folders (colour models),
//! a control folder and drift folders as `eval --control --drift` takes them.

use std::ops::ControlFlow;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Result, bail};
use clap::Args;
use driftglass_core::augment::Augmentation;
use driftglass_core::loss::LossKind;
use driftglass_core::model_file::TrainingSummary;
use driftglass_core::properties::PropertyReference;
use driftglass_core::reference::{self, Calibrated};
use driftglass_core::report::DEFAULT_FLAG_RATE;
use driftglass_core::train::{OptimizerKind, SystemClock};
use driftglass_core::{
    AutoencoderConfig, DirectNetwork, ImageSet, PreprocessConfig, TrainingConfig, auroc,
};
use serde::Serialize;

use crate::eval::{EvalSet, LABEL_SHIFT_SET, MnistSets, mnist_sets};
use crate::{data, progress};

#[derive(Args, Debug)]
pub struct SearchArgs {
    /// Data directory holding `mnist/` and `fashion-mnist/`.
    #[arg(long, default_value_os_t = crate::default_data_dir())]
    pub data: PathBuf,
    /// Fonts for the notMNIST-style letters.
    #[arg(long, default_value = "/usr/share/fonts/truetype/aenigma")]
    pub fonts: PathBuf,
    /// Search on this folder of reference images instead of MNIST: a seeded share is held out
    /// for validation and calibration, as `train --images` does (needs `--control`).
    #[arg(long, requires = "control")]
    pub images: Option<PathBuf>,
    /// With `--images`: clean images like the reference, not among them.
    #[arg(long, requires = "images")]
    pub control: Option<PathBuf>,
    /// With `--images`: a drift set, `NAME=FOLDER` (repeatable).
    #[arg(long, requires = "images", value_parser = crate::eval::parse_named_folder)]
    pub drift: Vec<(String, PathBuf)>,
    /// With `--images`: read folders inside the folders too.
    #[arg(long, requires = "images")]
    pub recursive: bool,
    /// With `--images`: the input side.
    #[arg(long, requires = "images", default_value_t = 64)]
    pub side: usize,
    /// With `--images`: colour models (R, G, B) instead of gray ones.
    #[arg(long, requires = "images")]
    pub color: bool,
    /// MNIST: train on the first N training digits (every candidate the same).
    #[arg(long, default_value_t = 10_000)]
    pub train_images: usize,
    /// Passes over the training images.
    #[arg(long, default_value_t = 5)]
    pub epochs: usize,
    /// Seed of initialisation, shuffling, noise, the MNIST split and the corruptions.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Several seeds, comma-separated: every candidate is trained and measured once per seed,
    /// and the pick weighs the mean gain over the reference against its spread across seeds.
    #[arg(long, value_delimiter = ',', conflicts_with = "seed")]
    pub seeds: Vec<u64>,
    /// Candidates to try, by name, comma-separated (default: the whole grid for the side).
    #[arg(long, value_delimiter = ',')]
    pub candidates: Vec<String>,
    /// Use at most N images of each evaluation set (quick runs).
    #[arg(long)]
    pub set_images: Option<usize>,
    /// Images scored for the speed column (one thread, best of three after a warm-up).
    #[arg(long, default_value_t = 2_000)]
    pub speed_images: usize,
    /// Write each candidate's model file (`<name>.dgm`) into this folder.
    #[arg(long)]
    pub models: Option<PathBuf>,
    /// Print the results as JSON.
    #[arg(long)]
    pub json: bool,
}

/// One architecture to try.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub name: &'static str,
    pub config: AutoencoderConfig,
    pub loss: LossKind,
}

/// The grid for images of `side` pixels and `channels` channels: the reference, and one change
/// of it at a time (filters, kernel, code channels, depth, training loss), plus two pairs.
pub fn grid(side: usize, channels: usize) -> Vec<Candidate> {
    let base = AutoencoderConfig::new()
        .with_side(side)
        .with_channels(channels);
    let bce = |name, config| Candidate {
        name,
        config,
        loss: LossKind::Bce,
    };
    let mut candidates = vec![
        bce("reference", base),
        Candidate {
            name: "reference-mse",
            config: base,
            loss: LossKind::Mse,
        },
        bce("filters-16", base.with_filters(16)),
        bce("filters-64", base.with_filters(64)),
        bce("kernel-5", base.with_kernel(5)),
        bce("code-4", base.with_code(4)),
        bce("code-8", base.with_code(8)),
        bce("code-64", base.with_code(64)),
        bce("filters-64-code-16", base.with_filters(64).with_code(16)),
        bce("depth-1-code-8", base.with_depth(1).with_code(8)),
        bce("depth-3", base.with_depth(3)),
        bce("depth-3-code-8", base.with_depth(3).with_code(8)),
    ];
    candidates.retain(|c| c.config.validate().is_ok());
    candidates
}

/// What was measured of one candidate.
#[derive(Debug, Serialize)]
pub struct SearchRow {
    pub name: String,
    pub seed: u64,
    pub config: AutoencoderConfig,
    /// "bce" or "mse".
    pub loss: String,
    pub params: usize,
    /// Values of the code per image.
    pub code_values: usize,
    pub model_bytes: usize,
    /// Mean BCE of the held-out images' reconstructions (clean inputs): the baseline's mean.
    pub held_out_bce: f64,
    /// Per drift set: (name, AUROC of the loss, AUROC of the novelty score) against the
    /// clean images.
    pub auroc: Vec<(String, Option<f64>, Option<f64>)>,
    /// Share of the clean images flagged at the default flag rate (by the novelty p-value).
    pub clean_flagged: f64,
    /// Images per second, reconstructed and scored on one thread.
    pub images_per_second: f64,
    pub train_seconds: f64,
}

impl SearchRow {
    /// The sets a per-image score can see: all but the label shift, whose images are each
    /// typical.
    fn per_image_sets(&self) -> impl Iterator<Item = &(String, Option<f64>, Option<f64>)> {
        self.auroc
            .iter()
            .filter(|(name, _, _)| name != LABEL_SHIFT_SET)
    }

    fn novelty(&self) -> Vec<f64> {
        self.per_image_sets().filter_map(|(_, _, n)| *n).collect()
    }

    fn loss_aurocs(&self) -> Vec<f64> {
        self.per_image_sets().filter_map(|(_, l, _)| *l).collect()
    }
}

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len().max(1) as f64
}

fn min(values: &[f64]) -> f64 {
    values.iter().copied().fold(f64::INFINITY, f64::min)
}

/// The images every candidate trains, validates and calibrates on, and the sets it is measured
/// on (the clean control first).
struct SearchData {
    training: ImageSet,
    validation: ImageSet,
    baseline_name: String,
    training_name: String,
    preprocess: PreprocessConfig,
    sets: Vec<EvalSet>,
}

fn mnist(args: &SearchArgs, seed: u64) -> Result<SearchData> {
    let training = data::images(&data::mnist_dir(&args.data), "train-images-idx3-ubyte")?
        .take(args.train_images);
    let MnistSets {
        calibration, sets, ..
    } = mnist_sets(&args.data, &args.fonts, seed)?;
    Ok(SearchData {
        training_name: format!("MNIST train ({} images)", training.count),
        training,
        validation: calibration,
        baseline_name: "MNIST test, random half".into(),
        preprocess: PreprocessConfig::default(),
        sets,
    })
}

fn folders(args: &SearchArgs, images: &std::path::Path, seed: u64) -> Result<SearchData> {
    let Some(control) = &args.control else {
        bail!("--images needs --control");
    };
    let channels = if args.color { 3 } else { 1 };
    let preprocess = PreprocessConfig::with_side(args.side).with_channels(channels);
    let read = |name: &str, folder: &std::path::Path| -> Result<ImageSet> {
        if !folder.is_dir() {
            bail!("{name}: {} is not a folder", folder.display());
        }
        let read = crate::train::read_folder(folder, args.recursive, &preprocess)?;
        eprintln!(
            "{name}: {} images ({} not used)",
            read.images.count, read.not_used
        );
        Ok(read.images)
    };
    let reference_set = read("reference", images)?;
    let parts = reference::split(&reference_set, reference::DEFAULT_VALIDATION_SHARE, seed)?;
    let mut sets = vec![EvalSet {
        name: "control".into(),
        images: read("control", control)?,
        properties: Vec::new(),
    }];
    for (name, folder) in &args.drift {
        sets.push(EvalSet {
            name: name.clone(),
            images: read(name, folder)?,
            properties: Vec::new(),
        });
    }
    Ok(SearchData {
        training_name: format!("{} ({} images)", images.display(), parts.training.count),
        training: parts.training,
        validation: parts.validation,
        baseline_name: format!("{}, held out", images.display()),
        preprocess,
        sets,
    })
}

fn search_data(args: &SearchArgs, seed: u64) -> Result<SearchData> {
    let mut data = match &args.images {
        Some(images) => folders(args, images, seed)?,
        None => mnist(args, seed)?,
    };
    if let Some(cap) = args.set_images {
        for set in &mut data.sets {
            set.images = set.images.take(cap);
        }
    }
    Ok(data)
}

pub fn run(args: SearchArgs) -> Result<()> {
    let started = Instant::now();
    let seeds = if args.seeds.is_empty() {
        vec![args.seed]
    } else {
        args.seeds.clone()
    };
    let mut data = search_data(&args, seeds[0])?;
    let (side, channels) = (data.training.side, data.training.channels);
    let mut candidates = grid(side, channels);
    if !args.candidates.is_empty() {
        for name in &args.candidates {
            if !candidates.iter().any(|c| c.name == name) {
                let known: Vec<_> = candidates.iter().map(|c| c.name).collect();
                bail!("no candidate {name:?} at this side; the grid has {known:?}");
            }
        }
        candidates.retain(|c| args.candidates.iter().any(|n| n == c.name));
    }
    if let Some(dir) = &args.models {
        std::fs::create_dir_all(dir)?;
    }
    let mut rows = Vec::with_capacity(candidates.len() * seeds.len());
    for (index, seed) in seeds.iter().enumerate() {
        if index > 0 {
            data = search_data(&args, *seed)?;
        }
        for candidate in &candidates {
            eprintln!(
                "candidate {} ({:?}), seed {seed}",
                candidate.name, candidate.config
            );
            rows.push(measure(candidate, &data, &args, *seed)?);
        }
    }
    let pick = choose(&rows);
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({ "rows": rows, "pick": pick }))?
        );
        return Ok(());
    }
    print_tables(&rows, &data, &args, &seeds);
    print_pick(&pick);
    println!(
        "{} candidates × {} seed{} in {:.0} s",
        candidates.len(),
        seeds.len(),
        if seeds.len() == 1 { "" } else { "s" },
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn measure(
    candidate: &Candidate,
    data: &SearchData,
    args: &SearchArgs,
    seed: u64,
) -> Result<SearchRow> {
    let config = TrainingConfig {
        epochs: args.epochs,
        batch_size: 128,
        noise_factor: 0.5,
        seed,
        optimizer: OptimizerKind::Adadelta,
        learning_rate: 1.0,
        loss: candidate.loss,
        augment: Augmentation::default(),
    };
    let started = Instant::now();
    let trained = pollster::block_on(driftglass_core::train(
        &candidate.config,
        &config,
        &data.training,
        &data.validation,
        &SystemClock,
        |_| ControlFlow::Continue(()),
    ))?;
    let train_seconds = started.elapsed().as_secs_f64();
    let weights = &trained.weights;
    let (baseline, latent, held_out) =
        crate::train::calibrate_baseline(weights, &data.validation, &data.baseline_name)?;
    let fit = crate::train::fit_novelty(weights, &data.training, "training images", &config)?;
    let novelty = reference::calibrate_novelty(fit, &data.validation, &held_out)?;
    let bytes = reference::seal(
        weights,
        Calibrated {
            created_by: format!(
                "driftglass {} search ({})",
                driftglass_core::VERSION,
                candidate.name
            ),
            architecture: weights.config(),
            preprocess: data.preprocess,
            baseline: &baseline,
            latent: &latent,
            novelty: Some(&novelty),
            properties: PropertyReference::new(&[]),
            calibration_augment: config.augment,
            training: Some(TrainingSummary {
                config,
                training_data: data.training_name.clone(),
                training_images: data.training.count,
                validation_images: data.validation.count,
                history: trained.history,
                total_seconds: train_seconds,
                device: "driftglass-core (CPU)".into(),
                kept_epoch: trained.kept_epoch,
            }),
        },
    )?;
    if let Some(dir) = &args.models {
        let path = dir.join(format!("{}-seed-{seed}.dgm", candidate.name));
        std::fs::write(&path, &bytes)?;
    }
    let network = DirectNetwork::new(weights)?;
    let mut scores = Vec::with_capacity(data.sets.len());
    for set in &data.sets {
        scores.push(progress::score_set(
            &network,
            &set.images,
            &set.name,
            Some(&novelty),
        )?);
    }
    let clean = &scores[0];
    let clean_flagged = clean
        .novelty
        .iter()
        .filter(|t| novelty.calibration().is_flagged(**t, DEFAULT_FLAG_RATE))
        .count() as f64
        / clean.novelty.len().max(1) as f64;
    let auroc_rows = data.sets[1..]
        .iter()
        .zip(&scores[1..])
        .map(|(set, s)| {
            (
                set.name.clone(),
                auroc(&clean.losses, &s.losses),
                auroc(&clean.novelty, &s.novelty),
            )
        })
        .collect();
    Ok(SearchRow {
        name: candidate.name.to_string(),
        seed,
        config: *weights.config(),
        loss: match candidate.loss {
            LossKind::Bce => "bce",
            LossKind::Mse => "mse",
        }
        .into(),
        params: weights.config().num_params(),
        code_values: weights.config().code_len(),
        model_bytes: bytes.len(),
        held_out_bce: baseline.mean(),
        auroc: auroc_rows,
        clean_flagged,
        images_per_second: one_thread_speed(&network, &data.validation, args.speed_images)?,
        train_seconds,
    })
}

/// Images per second on one thread: `count` images (cycled from `images`), reconstructed and
/// scored, best of three after a warm-up.
fn one_thread_speed(network: &DirectNetwork, images: &ImageSet, count: usize) -> Result<f64> {
    let count = count.max(1);
    let set = ImageSet::from_images(
        images.channels,
        images.side,
        (0..count).map(|i| images.image(i % images.count.max(1))),
    );
    let previous = driftglass_core::direct::thread_limit();
    driftglass_core::direct::set_thread_limit(1);
    let mut best = f64::INFINITY;
    let mut result = Ok(());
    for run in 0..4 {
        let started = Instant::now();
        if let Err(e) = network.reconstruct_with_targets(&set, &set) {
            result = Err(e);
            break;
        }
        if run > 0 {
            best = best.min(started.elapsed().as_secs_f64());
        }
    }
    driftglass_core::direct::set_thread_limit(previous);
    result?;
    Ok(count as f64 / best)
}

/// "d2 · 32 · code 32×7×7 · 3×3": depth, filters, code, kernel.
fn shape(config: &AutoencoderConfig) -> String {
    format!(
        "{} stage{} · {} filters · code {}×{}×{} · {}×{}",
        config.depth,
        if config.depth == 1 { "" } else { "s" },
        config.filters,
        config.code_channels(),
        config.code_side(),
        config.code_side(),
        config.kernel,
        config.kernel
    )
}

/// One candidate across the seeds it was measured with.
#[derive(Debug, Serialize)]
pub struct Across {
    pub name: String,
    pub seeds: usize,
    /// Mean over the seeds of the mean novelty AUROC (per-image drift sets).
    pub novelty: f64,
    /// Mean over the seeds of the held-out BCE.
    pub held_out_bce: f64,
    pub images_per_second: f64,
    /// Gain in mean novelty AUROC over the reference, seed by seed: its mean and standard
    /// deviation (0 with one seed).
    pub gain: f64,
    pub gain_sd: f64,
}

/// What the search recommends, and why.
#[derive(Debug, Serialize)]
pub struct Pick {
    pub candidates: Vec<Across>,
    /// The pick: the highest mean novelty AUROC among candidates at least 90 % as fast as the
    /// reference on one thread, where its gain over the reference is more than twice its
    /// standard error across seeds; else the reference.
    pub chosen: Option<String>,
    pub reason: String,
}

/// Each candidate across seeds, and the pick (see [`Pick::chosen`]).
pub fn choose(rows: &[SearchRow]) -> Pick {
    let mut names: Vec<&str> = Vec::new();
    for row in rows {
        if !names.contains(&row.name.as_str()) {
            names.push(&row.name);
        }
    }
    let reference: Vec<&SearchRow> = rows.iter().filter(|r| r.name == "reference").collect();
    let reference_at = |seed: u64| {
        reference
            .iter()
            .find(|r| r.seed == seed)
            .map(|r| mean(&r.novelty()))
    };
    let candidates: Vec<Across> = names
        .iter()
        .map(|name| {
            let mine: Vec<&SearchRow> = rows.iter().filter(|r| r.name == *name).collect();
            let over = |f: &dyn Fn(&SearchRow) -> f64| {
                mean(&mine.iter().map(|r| f(r)).collect::<Vec<_>>())
            };
            let gains: Vec<f64> = mine
                .iter()
                .filter_map(|r| reference_at(r.seed).map(|base| mean(&r.novelty()) - base))
                .collect();
            let gain = mean(&gains);
            let gain_sd = if gains.len() > 1 {
                (gains.iter().map(|g| (g - gain).powi(2)).sum::<f64>() / (gains.len() - 1) as f64)
                    .sqrt()
            } else {
                0.0
            };
            Across {
                name: name.to_string(),
                seeds: mine.len(),
                novelty: over(&|r| mean(&r.novelty())),
                held_out_bce: over(&|r| r.held_out_bce),
                images_per_second: over(&|r| r.images_per_second),
                gain: if gains.is_empty() { f64::NAN } else { gain },
                gain_sd,
            }
        })
        .collect();
    let Some(base) = candidates.iter().find(|c| c.name == "reference") else {
        return Pick {
            candidates,
            chosen: None,
            reason: "the reference was not among the candidates: nothing to compare with".into(),
        };
    };
    let fast_enough = |c: &Across| c.images_per_second >= 0.9 * base.images_per_second;
    let best = candidates
        .iter()
        .filter(|c| fast_enough(c))
        .fold(
            base,
            |best, c| if c.novelty > best.novelty { c } else { best },
        );
    let seeds = best.seeds;
    let (chosen, reason) = if best.name == "reference" {
        (
            "reference".to_string(),
            "no candidate at ≥ 90 % of its one-thread speed has a higher mean novelty AUROC"
                .to_string(),
        )
    } else if seeds < 2 {
        (
            best.name.clone(),
            format!(
                "highest mean novelty AUROC at ≥ 90 % of the reference's one-thread speed (+{:.4}); one seed, so its spread is unknown: check with --seeds",
                best.gain
            ),
        )
    } else if best.gain > 2.0 * best.gain_sd / (seeds as f64).sqrt() {
        (
            best.name.clone(),
            format!(
                "highest mean novelty AUROC at ≥ 90 % of the reference's one-thread speed: +{:.4} over {seeds} seeds (sd {:.4}), beyond twice its standard error",
                best.gain, best.gain_sd
            ),
        )
    } else {
        (
            "reference".to_string(),
            format!(
                "the best candidate at ≥ 90 % of its one-thread speed, {}, gains {:+.4} over {seeds} seeds (sd {:.4}): within twice its standard error",
                best.name, best.gain, best.gain_sd
            ),
        )
    };
    Pick {
        candidates,
        chosen: Some(chosen),
        reason,
    }
}

fn print_pick(pick: &Pick) {
    if pick.candidates.iter().any(|c| c.seeds > 1) {
        println!(
            "Across seeds (means over the seeds; gain: mean novelty AUROC minus the reference's, seed by seed):"
        );
        println!();
        println!(
            "| candidate | seeds | AUROC novelty mean | gain ± sd | held-out BCE | images/s, 1 thread |"
        );
        println!("| --- | ---: | ---: | ---: | ---: | ---: |");
        for c in &pick.candidates {
            println!(
                "| {} | {} | {:.4} | {:+.4} ± {:.4} | {:.4} | {:.0} |",
                c.name, c.seeds, c.novelty, c.gain, c.gain_sd, c.held_out_bce, c.images_per_second
            );
        }
        println!();
    }
    match &pick.chosen {
        Some(chosen) => println!("Chosen: {chosen} ({})", pick.reason),
        None => println!("No pick: {}", pick.reason),
    }
}

fn print_tables(rows: &[SearchRow], data: &SearchData, args: &SearchArgs, seeds: &[u64]) {
    let seeds: Vec<String> = seeds.iter().map(u64::to_string).collect();
    println!(
        "Trained on {} for {} epochs (batch 128, noise 0.5, Adadelta, seed {}); validated and calibrated on {} held-out images; measured against {} clean images ({}).",
        data.training_name,
        args.epochs,
        seeds.join(", "),
        data.validation.count,
        data.sets[0].images.count,
        data.sets[0].name
    );
    println!();
    if rows
        .iter()
        .any(|r| r.auroc.iter().any(|(n, _, _)| n == LABEL_SHIFT_SET))
    {
        println!(
            "AUROC means and minima are over the drift sets a per-image score can see: all but {LABEL_SHIFT_SET:?} (a label shift; in the second table)."
        );
        println!();
    }
    println!(
        "| candidate | seed | shape | loss | params | code values | model file | held-out BCE | AUROC loss mean / min | AUROC novelty mean / min | clean flagged | images/s, 1 thread | training |"
    );
    println!(
        "| --- | ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    for row in rows {
        let (loss, novelty) = (row.loss_aurocs(), row.novelty());
        println!(
            "| {} | {} | {} | {} | {} | {} | {:.0} KB | {:.4} | {:.4} / {:.4} | {:.4} / {:.4} | {:.1} % | {:.0} | {:.0} s |",
            row.name,
            row.seed,
            shape(&row.config),
            row.loss,
            row.params,
            row.code_values,
            row.model_bytes as f64 / 1000.0,
            row.held_out_bce,
            mean(&loss),
            min(&loss),
            mean(&novelty),
            min(&novelty),
            row.clean_flagged * 100.0,
            row.images_per_second,
            row.train_seconds
        );
    }
    println!();
    let Some(first) = rows.first() else {
        return;
    };
    let names: Vec<&str> = first.auroc.iter().map(|(n, _, _)| n.as_str()).collect();
    println!("Per-image AUROC of the novelty score (of the loss in brackets), per drift set:");
    println!();
    println!("| candidate | seed | {} |", names.join(" | "));
    println!("| --- | ---: |{}", " ---: |".repeat(names.len()));
    for row in rows {
        let cells: Vec<String> = row
            .auroc
            .iter()
            .map(|(_, l, n)| {
                let f = |v: &Option<f64>| v.map_or("—".to_string(), |v| format!("{v:.4}"));
                format!("{} ({})", f(n), f(l))
            })
            .collect();
        println!("| {} | {} | {} |", row.name, row.seed, cells.join(" | "));
    }
    println!();
}
