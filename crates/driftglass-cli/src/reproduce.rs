//! `driftglass reproduce`: the reference experiment's table, theirs beside ours.
//!
//! The reference (a Keras 2.0 denoising conv AE on MNIST) reported a validation BCE of 0.1011,
//! noisy MNIST 0.1024 (+1.3 %) and notMNIST 0.1458 (+44.2 %). Its validation loss compares
//! clean targets with reconstructions of noisy inputs, but its noisy and notMNIST figures came
//! from `evaluate(x, model.predict(x))`: the loss of the output against itself, i.e. the mean
//! binary entropy of the reconstruction, not an error against the input. We print both: ours
//! computed the reference's way, and ours as true reconstruction error (input against
//! reconstruction, what the product scores).

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;
use driftglass_core::rng::{SeededRng, add_gaussian_noise};
use driftglass_core::score::{mean, reconstruct_with_targets};
use driftglass_core::{ImageSet, Reconstruction, SCORE_BATCH, auroc};
use serde::Serialize;

use crate::{data, letters, progress};

#[derive(Args, Debug)]
pub struct ReproduceArgs {
    /// Model file (default: the bundled model).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Data directory holding `mnist/` and `fashion-mnist/`.
    #[arg(long, default_value_os_t = crate::default_data_dir())]
    pub data: PathBuf,
    /// notMNIST-style IDX file (from `driftglass letters`); rendered from --fonts if absent.
    #[arg(long)]
    pub letters: Option<PathBuf>,
    /// Fonts to render the notMNIST-style set from when --letters is not given.
    #[arg(long, default_value = "/usr/share/fonts/truetype/aenigma")]
    pub fonts: PathBuf,
    /// Seed of the test-set noise.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Print the table as JSON.
    #[arg(long)]
    pub json: bool,
}

/// One row of the table.
#[derive(Debug, Serialize)]
pub struct Row {
    pub set: String,
    pub images: usize,
    pub reference_loss: Option<f64>,
    pub reference_ratio: Option<f64>,
    /// Ours, computed the way the reference computed its figure for this row.
    pub ours_reference_way: f64,
    pub ours_reference_way_ratio: Option<f64>,
    /// Ours as true reconstruction error (input vs reconstruction).
    pub ours_true: f64,
    pub ours_true_ratio: Option<f64>,
    /// Per-image AUROC of true error against clean MNIST test images.
    pub auroc: Option<f64>,
}

fn run_set(
    model: &driftglass_core::DirectNetwork,
    inputs: &ImageSet,
    targets: &ImageSet,
    label: &str,
) -> Result<Vec<Reconstruction>> {
    let bar = progress::bar(inputs.count as u64, label, "images");
    let out = reconstruct_with_targets(model, inputs, targets, SCORE_BATCH, |done| {
        bar.set_position(done as u64)
    })?;
    bar.finish_and_clear();
    Ok(out)
}

fn avg(results: &[Reconstruction], pick: impl Fn(&Reconstruction) -> f32) -> f64 {
    mean(results.iter().map(pick)).unwrap_or(f64::NAN)
}

pub fn run(args: ReproduceArgs) -> Result<()> {
    let started = Instant::now();
    let loaded = crate::score::load_model(args.model.as_deref())?;
    let model = &loaded.network()?;
    let mnist = data::mnist_dir(&args.data);
    let test = data::images(&mnist, "t10k-images-idx3-ubyte")?;
    let mut noisy = test.clone();
    add_gaussian_noise(&mut noisy.pixels, 0.5, &mut SeededRng::new(args.seed));
    let fashion = data::images(&args.data.join("fashion-mnist"), "t10k-images-idx3-ubyte")?;
    let letters = match &args.letters {
        Some(path) => driftglass_core::idx::read_images(path)
            .with_context(|| format!("reading {}", path.display()))?,
        None => letters::render_all(&args.fonts, None)?.0,
    };

    // Clean test images: the baseline (true error) and the output entropy.
    let clean = run_set(model, &test, &test, "clean")?;
    // Noisy inputs against clean targets: Keras' validation loss.
    let noisy_vs_clean = run_set(model, &noisy, &test, "noisy→clean")?;
    // Noisy inputs against themselves: true error.
    let noisy_true = run_set(model, &noisy, &noisy, "noisy")?;
    let letters_out = run_set(model, &letters, &letters, "letters")?;
    let fashion_out = run_set(model, &fashion, &fashion, "fashion")?;

    let validation_ref = avg(&noisy_vs_clean, |r| r.bce);
    let clean_true = avg(&clean, |r| r.bce);
    let clean_losses: Vec<f32> = clean.iter().map(|r| r.bce).collect();
    let ratio = |value: f64, base: f64| Some(value / base);
    let row = |set: &str,
               results: &[Reconstruction],
               reference: Option<(f64, Option<f64>)>,
               reference_way: f64| {
        let ours_true = avg(results, |r| r.bce);
        let losses: Vec<f32> = results.iter().map(|r| r.bce).collect();
        Row {
            set: set.to_string(),
            images: results.len(),
            reference_loss: reference.map(|r| r.0),
            reference_ratio: reference.and_then(|r| r.1),
            ours_reference_way: reference_way,
            ours_reference_way_ratio: ratio(reference_way, validation_ref),
            ours_true,
            ours_true_ratio: ratio(ours_true, clean_true),
            auroc: auroc(&clean_losses, &losses),
        }
    };
    let rows = vec![
        Row {
            set: "MNIST validation".into(),
            images: clean.len(),
            reference_loss: Some(0.1011),
            reference_ratio: None,
            ours_reference_way: validation_ref,
            ours_reference_way_ratio: None,
            ours_true: clean_true,
            ours_true_ratio: None,
            auroc: None,
        },
        row(
            "noisy MNIST (0.5)",
            &noisy_true,
            Some((0.1024, Some(0.1024 / 0.1011))),
            avg(&noisy_true, |r| r.output_entropy),
        ),
        row(
            "notMNIST-style",
            &letters_out,
            Some((0.1458, Some(0.1458 / 0.1011))),
            avg(&letters_out, |r| r.output_entropy),
        ),
        row(
            "Fashion-MNIST",
            &fashion_out,
            None,
            avg(&fashion_out, |r| r.output_entropy),
        ),
    ];
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        print_table(&rows, &loaded.sha256);
    }
    eprintln!("reproduce took {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

fn pct(ratio: Option<f64>) -> String {
    ratio
        .map(|r| format!("{:+.1} %", (r - 1.0) * 100.0))
        .unwrap_or_else(|| "—".into())
}

fn num(value: Option<f64>) -> String {
    value
        .map(|v| format!("{v:.4}"))
        .unwrap_or_else(|| "—".into())
}

fn print_table(rows: &[Row], sha: &str) {
    println!("model {}", &sha[..16.min(sha.len())]);
    println!(
        "{:<20} {:>6} | {:<17} | {:<17} | ours, true error",
        "", "images", "reference", "ours, ref. way"
    );
    println!(
        "{:<20} {:>6} | {:>8} {:>8} | {:>8} {:>8} | {:>8} {:>9} {:>6}",
        "set", "", "loss", "ratio", "loss", "ratio", "loss", "ratio", "AUROC"
    );
    for r in rows {
        println!(
            "{:<20} {:>6} | {:>8} {:>8} | {:>8.4} {:>8} | {:>8.4} {:>9} {:>6}",
            r.set,
            r.images,
            num(r.reference_loss),
            pct(r.reference_ratio),
            r.ours_reference_way,
            pct(r.ours_reference_way_ratio),
            r.ours_true,
            pct(r.ours_true_ratio),
            r.auroc
                .map(|a| format!("{a:.3}"))
                .unwrap_or_else(|| "—".into()),
        );
    }
}
