//! `cargo xtask bench-score`: native scoring throughput of the core's CPU engine (what
//! `driftglass score` runs) against PyTorch on the same images, weights and threads.
//!
//! Both sides do the same thing the same way: the bundled model, the first `--limit` MNIST test
//! images in batches of 256, each image reconstructed and its binary cross-entropy computed
//! (ours also computes the MSE, the output entropy and the latent code: more work, not less);
//! one untimed warm-up pass over all images, then the fastest of three timed passes, in one
//! process each. Each side reports the threads it really used. The per-image losses must agree
//! to 1e-4, or the benchmark fails. Keras / TensorFlow (tests/bench/score_peer_keras.py) runs
//! too where the Python has it. `--cuda` adds PyTorch on the GPU, where there is one.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use driftglass_core::direct::{DirectNetwork, set_thread_limit, worker_threads};
use driftglass_core::idx::ImageSet;

use crate::{captured, option_value, torch_python};

const BATCH: usize = 256;
const RUNS: usize = 3;

/// One engine's figures at one thread count.
struct Row {
    ours: bool,
    engine: String,
    threads: String,
    images_per_second: f64,
}

pub fn run(args: &[String], data: &Path) -> Result<()> {
    // The benchmark times our kernels: without the dev profile's overflow checks.
    if cfg!(debug_assertions) {
        let mut release = std::process::Command::new("cargo");
        release.args(["run", "--quiet", "--release", "--package", "xtask", "--"]);
        release.arg("bench-score").args(args);
        let status = release.status().context("cargo run --release")?;
        if !status.success() {
            bail!("the release build of the benchmark failed");
        }
        return Ok(());
    }
    let limit: usize = option_value(args, "--limit").map_or(Ok(10_000), |v| v.parse())?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads: Vec<usize> = match option_value(args, "--threads") {
        Some(list) => list
            .split(',')
            .map(|t| t.trim().parse())
            .collect::<Result<_, _>>()?,
        None => {
            let mut list = vec![1, cores];
            list.dedup();
            list
        }
    };
    let python = match option_value(args, "--python") {
        Some(python) => PathBuf::from(python),
        None => torch_python()?,
    };
    let images_path = data.join("mnist/t10k-images-idx3-ubyte.gz");
    let mut images = driftglass_core::idx::read_images(&images_path)
        .with_context(|| format!("reading {}", images_path.display()))?;
    let count = limit.min(images.count);
    images.pixels.truncate(count * images.image_len());
    images.count = count;
    let model = std::env::temp_dir().join("driftglass-bench-score.dgm");
    std::fs::write(&model, driftglass_core::bundled::BUNDLED_MODEL)?;
    let loaded = driftglass_core::model_file::decode(driftglass_core::bundled::BUNDLED_MODEL)?;
    let network = DirectNetwork::new(&loaded.weights)?;
    let batches: Vec<ImageSet> = images
        .pixels
        .chunks(BATCH * images.image_len())
        .map(|pixels| {
            ImageSet::with_shape(
                pixels.to_vec(),
                pixels.len() / images.image_len(),
                images.channels,
                images.side,
            )
        })
        .collect();

    // Keras / TensorFlow from PyPI into the bench venv, as PyTorch is (a Python given with
    // `--python` is used as it is).
    if !has_tensorflow(&python) && option_value(args, "--python").is_none() {
        eprintln!("installing TensorFlow (CPU) into {}", python.display());
        crate::run(
            &python.to_string_lossy(),
            &["-m", "pip", "install", "--quiet", "tensorflow-cpu"],
        )?;
    }
    let keras = has_tensorflow(&python);
    if !keras {
        eprintln!("no Keras row: {} has no TensorFlow", python.display());
    }
    let mut rows = Vec::new();
    let mut worst = 0.0f32;
    // Our losses at the last thread count, for the GPU peer's comparison.
    let mut last_ours = Vec::new();
    for &t in &threads {
        set_thread_limit(t);
        let pass = || -> Result<Vec<f32>> {
            let mut losses = Vec::with_capacity(count);
            for batch in &batches {
                let reconstructions = network.reconstruct_with_targets(batch, batch)?;
                losses.extend(reconstructions.iter().map(|r| r.bce));
            }
            Ok(losses)
        };
        pass()?;
        let mut fastest = f64::INFINITY;
        let mut ours = Vec::new();
        for _ in 0..RUNS {
            let started = Instant::now();
            ours = pass()?;
            fastest = fastest.min(started.elapsed().as_secs_f64());
        }
        rows.push(Row {
            ours: true,
            engine: format!("Driftglass core ({})", kernel_name()),
            threads: worker_threads().to_string(),
            images_per_second: count as f64 / fastest,
        });
        let (row, theirs) = peer(&python, &model, &images_path, count, t, "cpu")?;
        worst = worst.max(max_difference(&ours, &theirs)?);
        rows.push(row);
        if keras {
            let (row, theirs) = run_peer(
                &python,
                "tests/bench/score_peer_keras.py",
                &[],
                &model,
                &images_path,
                count,
                t,
            )?;
            worst = worst.max(max_difference(&ours, &theirs)?);
            rows.push(row);
        }
        last_ours = ours;
    }
    if args.iter().any(|a| a == "--cuda") {
        match peer(&python, &model, &images_path, count, cores, "cuda") {
            Ok((row, theirs)) => {
                worst = worst.max(max_difference(&last_ours, &theirs)?);
                rows.push(row);
            }
            Err(error) => eprintln!("no GPU row: {error:#}"),
        }
    }
    if worst > 1e-4 {
        bail!("the losses differ by up to {worst:e} between the engines (allowed: 1e-4)");
    }
    println!(
        "\nscoring throughput, {count} MNIST test images, batches of {BATCH}, one warm-up pass, fastest of {RUNS} timed passes, {cores} cores"
    );
    println!(
        "{:<58}{:>9}{:>12}{:>14}",
        "engine", "threads", "images/s", "ours / it"
    );
    // Each peer row against the Driftglass row above it (the GPU's: our last, most threads).
    let mut ours = f64::NAN;
    for row in &rows {
        let ratio = if row.ours {
            ours = row.images_per_second;
            String::new()
        } else {
            format!("{:.2}×", ours / row.images_per_second)
        };
        println!(
            "{:<58}{:>9}{:>12.0}{:>14}",
            row.engine, row.threads, row.images_per_second, ratio
        );
    }
    println!("per-image losses: max |Δ| {worst:.1e} between the engines (asserted ≤ 1e-4)");
    Ok(())
}

/// Which clone of the kernels this processor runs (multiversioned at run time).
fn kernel_name() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512vl")
            && std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("fma")
        {
            return "AVX-512 kernels";
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            return "AVX2+FMA kernels";
        }
        if std::arch::is_x86_feature_detected!("avx") {
            return "AVX kernels";
        }
    }
    "baseline kernels"
}

/// The PyTorch peer (tests/bench/score_peer.py) on `device` with `threads`: its row and losses.
fn peer(
    python: &Path,
    model: &Path,
    images: &Path,
    count: usize,
    threads: usize,
    device: &str,
) -> Result<(Row, Vec<f32>)> {
    run_peer(
        python,
        "tests/bench/score_peer.py",
        &["--device", device],
        model,
        images,
        count,
        threads,
    )
}

/// Whether `python` has TensorFlow (for the Keras peer).
fn has_tensorflow(python: &Path) -> bool {
    std::process::Command::new(python)
        .args(["-c", "import tensorflow"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// One peer script's run: its row (engine and threads as it reports them) and losses.
fn run_peer(
    python: &Path,
    script: &str,
    extra: &[&str],
    model: &Path,
    images: &Path,
    count: usize,
    threads: usize,
) -> Result<(Row, Vec<f32>)> {
    let device = extra
        .iter()
        .position(|a| *a == "--device")
        .and_then(|i| extra.get(i + 1))
        .copied()
        .unwrap_or("cpu");
    let losses = std::env::temp_dir().join(format!(
        "driftglass-bench-score-{}-{device}.f32",
        script.replace('/', "-")
    ));
    let mut command = std::process::Command::new(python);
    command.args([script, "--model"]);
    command.arg(model).arg("--images").arg(images);
    command.args(extra);
    command.args([
        "--limit",
        &count.to_string(),
        "--threads",
        &threads.to_string(),
        "--batch-size",
        &BATCH.to_string(),
        "--warmups",
        "1",
        "--runs",
        &RUNS.to_string(),
        "--losses",
    ]);
    command.arg(&losses);
    let output = captured(command, &format!("the peer {script}"))?;
    let line = String::from_utf8_lossy(&output.stdout);
    let report: serde_json::Value = line
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str(l).ok())
        .with_context(|| format!("the peer printed no JSON: {line}"))?;
    let values = std::fs::read(&losses)?
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    let engine = match report["tensorflow"].as_str() {
        Some(version) => format!("Keras / TensorFlow {version} (cpu)"),
        None => format!(
            "PyTorch {} ({}{})",
            report["torch"].as_str().unwrap_or("?"),
            report["device"].as_str().unwrap_or("?"),
            if report["mkldnn"].as_bool() == Some(true) && device == "cpu" {
                ", oneDNN"
            } else {
                ""
            }
        ),
    };
    let threads = if device == "cuda" {
        "GPU".to_string()
    } else {
        report["threads"].to_string()
    };
    Ok((
        Row {
            ours: false,
            engine,
            threads,
            images_per_second: report["images_per_second"].as_f64().unwrap_or(f64::NAN),
        },
        values,
    ))
}

fn max_difference(ours: &[f32], theirs: &[f32]) -> Result<f32> {
    if ours.len() != theirs.len() {
        bail!(
            "the engines scored {} and {} images",
            ours.len(),
            theirs.len()
        );
    }
    Ok(ours
        .iter()
        .zip(theirs)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max))
}
