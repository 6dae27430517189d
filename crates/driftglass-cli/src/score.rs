//! `driftglass score`: per-image scores and a batch summary, as a table or JSON.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;
use driftglass_core::model_file::{self, LoadedModel};
use driftglass_core::preprocess::{MAX_FILE_BYTES, Polarity};
use driftglass_core::report::{
    DEFAULT_FLAG_RATE, ImageOutcome, PreparedInput, Report, idx_inputs, prepare_image, to_csv,
};
use driftglass_core::scorer::Scorer;
use driftglass_core::stats::{
    DEFAULT_ALPHA, DEFAULT_PRACTICAL_D, DEFAULT_PRACTICAL_FLAGGED, DEFAULT_PRACTICAL_MMD,
    DEFAULT_PRACTICAL_RATIO, PracticalSize, Verdict,
};
use driftglass_core::{PreprocessConfig, SCORE_BATCH};

use driftglass_html::svg::TimelinePoint;

use crate::progress;

/// The model to score against and how to print the report (`score` and `merge`).
#[derive(Args, Debug)]
pub struct ReportArgs {
    /// Model file (default: the bundled MNIST model).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Print the report as JSON instead of a table.
    #[arg(long, conflicts_with = "csv")]
    pub json: bool,
    /// Print the report as CSV (statistics in `#` comment lines, then one row per input).
    #[arg(long)]
    pub csv: bool,
    /// Also write the report as one self-contained HTML file (plots inline, no script, nothing
    /// fetched): the page's "report (HTML)".
    #[arg(long)]
    pub html: Option<PathBuf>,
    /// A significant change is drift, not a small shift, from this rise of the mean loss on
    /// (its 95 % lower bound; 0.05 = +5 %).
    #[arg(long, default_value_t = DEFAULT_PRACTICAL_RATIO)]
    pub min_ratio: f64,
    /// ... or from this Kolmogorov–Smirnov D of the losses or of an image property (lower
    /// bound).
    #[arg(long, default_value_t = DEFAULT_PRACTICAL_D)]
    pub min_d: f64,
    /// ... or from this share of flagged images beyond chance (lower bound; 0.04 = 4 points).
    #[arg(long, default_value_t = DEFAULT_PRACTICAL_FLAGGED)]
    pub min_flagged: f64,
    /// ... or from this MMD² of the codes (lower bound).
    #[arg(long, default_value_t = DEFAULT_PRACTICAL_MMD)]
    pub min_mmd: f64,
}

impl ReportArgs {
    /// Judge the verdict's size by the thresholds asked for (see `BatchTests::judge`).
    pub fn judge(&self, report: &mut Report) {
        let practical = PracticalSize {
            loss_ratio: self.min_ratio,
            distribution: self.min_d,
            flagged_excess: self.min_flagged,
            mmd: self.min_mmd,
        };
        if let Some(tests) = report.batch.tests.as_mut() {
            tests.judge(practical);
        }
    }

    /// The report as asked: JSON, CSV or a table, and the HTML file if asked for.
    pub fn print(&self, report: &Report, model: &LoadedModel, model_label: &str) -> Result<()> {
        print_report(report, self.json, self.csv);
        if let Some(path) = &self.html {
            let html = html_report(report, model, model_label);
            std::fs::write(path, html).with_context(|| format!("writing {}", path.display()))?;
            eprintln!("wrote the HTML report to {}", path.display());
        }
        Ok(())
    }
}

/// The HTML report of a CLI run: the page's file, its timeline this one batch.
fn html_report(report: &Report, model: &LoadedModel, model_label: &str) -> String {
    let losses = driftglass_core::report::scored_losses(&report.images);
    let histogram = driftglass_core::stats::loss_histogram(
        &model.baseline,
        &losses,
        report.batch.flag_rate,
        HISTOGRAM_BINS,
    );
    let timeline: Vec<TimelinePoint> = report
        .batch
        .loss_ratio
        .map(|ratio| TimelinePoint {
            label: "this batch".into(),
            images: report.batch.scored,
            ratio,
            p_value: report
                .batch
                .tests
                .as_ref()
                .filter(|t| t.verdict != driftglass_core::stats::Verdict::TooFewImages)
                .map(|t| t.combined_p_value),
            verdict: report
                .batch
                .tests
                .as_ref()
                .map(|t| t.verdict.headline().to_string())
                .unwrap_or_default(),
        })
        .into_iter()
        .collect();
    let scored = format!(
        "{} on the CPU ({} threads)",
        utc_now(),
        driftglass_core::direct::worker_threads()
    );
    driftglass_html::html_report(
        report,
        &driftglass_html::HtmlOptions {
            model_label,
            scored: &scored,
            histogram: histogram.as_ref(),
            timeline: &timeline,
            alert_ratio: ALERT_RATIO,
            thumbnails: &[],
        },
    )
}

/// Bins of the report's histogram (the page's).
const HISTOGRAM_BINS: usize = 40;
/// The loss ratio at which the page's alert shows by default.
const ALERT_RATIO: f64 = 1.10;

/// The time now as "2026-11-30 05:30 UTC" (from the system clock; no time-zone database).
fn utc_now() -> String {
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rest) = (seconds / 86_400, seconds % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        rest / 3_600,
        (rest % 3_600) / 60
    )
}

#[derive(Args, Debug)]
pub struct ScoreArgs {
    /// Image files, folders of images, or IDX image files (`.idx`, `-idx3-ubyte`, `.gz`).
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    #[command(flatten)]
    pub report: ReportArgs,
    /// False-positive rate at which single images are flagged.
    #[arg(long, default_value_t = DEFAULT_FLAG_RATE)]
    pub flag_rate: f64,
    /// Invert images so ink is white on black: as-is, invert or auto.
    #[arg(long, value_enum, default_value = "as-is")]
    pub polarity: PolarityArg,
    /// Significance level of the batch verdict.
    #[arg(long, default_value_t = DEFAULT_ALPHA)]
    pub alpha: f64,
    /// Look into sub-folders too.
    #[arg(long)]
    pub recursive: bool,
    /// Score only shard `I` of `N` (`I/N`, from 0) of the sorted file list: a contiguous slice,
    /// for running one batch on several machines. Needs `--summary`.
    #[arg(long, value_parser = parse_shard, requires = "summary")]
    pub shard: Option<(usize, usize)>,
    /// Write what `driftglass merge` needs (every image's report and latent code) to this file
    /// instead of printing a report.
    #[arg(long, requires = "shard")]
    pub summary: Option<PathBuf>,
    /// Print where the time went (reading and preparing, reconstructing and scoring, the batch
    /// tests) to standard error.
    #[arg(long)]
    pub timings: bool,
}

fn parse_shard(text: &str) -> Result<(usize, usize), String> {
    let parsed = text
        .split_once('/')
        .and_then(|(i, n)| Some((i.parse::<usize>().ok()?, n.parse::<usize>().ok()?)));
    match parsed {
        Some((i, n)) if n > 0 && i < n => Ok((i, n)),
        _ => Err(format!("expected I/N with 0 <= I < N, got {text:?}")),
    }
}

/// What one shard of a batch hands to `driftglass merge`: its images' reports (without batch
/// tests) and their latent codes, in the order of the whole batch's file list.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct ShardSummary {
    /// Format of this file.
    pub schema: u32,
    /// Which shard of how many.
    pub shard: (usize, usize),
    /// Files in the whole batch (all shards).
    pub files: usize,
    /// Significance level asked for.
    pub alpha: f64,
    /// The shard's report, without batch tests.
    pub report: Report,
    /// Projected codes of the shard's scored images, concatenated.
    pub codes: Vec<f32>,
}

/// The format of [`ShardSummary`] files.
pub const SHARD_SCHEMA: u32 = 1;

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum PolarityArg {
    AsIs,
    Invert,
    Auto,
}

/// The given model file, or the bundled one.
/// The model as a report names it: its file's name, or the bundled one.
pub fn model_label(path: Option<&Path>) -> String {
    path.and_then(|p| p.file_name())
        .map(|name| format!("model file {}", name.to_string_lossy()))
        .unwrap_or_else(|| "bundled MNIST autoencoder".into())
}

pub fn load_model(path: Option<&Path>) -> Result<LoadedModel> {
    match path {
        Some(path) => {
            let bytes =
                std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
            model_file::decode(&bytes).with_context(|| format!("loading model {}", path.display()))
        }
        None => model_file::decode(driftglass_core::bundled::BUNDLED_MODEL)
            .context("loading the bundled model"),
    }
}

fn is_idx(path: &Path) -> bool {
    path.file_name()
        .is_some_and(|n| driftglass_core::idx::is_idx_name(&n.to_string_lossy()))
}

/// Expand folders into their files (sorted by name), keeping explicit files as given.
/// The files to score, in order. Folders that give nothing to score (empty ones, and folders
/// inside folders without `--recursive`) are listed too, so the report can say so.
pub(crate) fn collect_inputs(inputs: &[PathBuf], recursive: bool) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for input in inputs {
        if input.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(input)
                .with_context(|| format!("listing {}", input.display()))?
                .filter_map(|entry| entry.ok().map(|e| e.path()))
                .collect();
            if entries.is_empty() {
                files.push(input.clone());
            }
            entries.sort();
            for entry in entries {
                if entry.is_dir() && recursive {
                    files.extend(collect_inputs(&[entry], true)?);
                } else {
                    files.push(entry);
                }
            }
        } else if input.exists() {
            files.push(input.clone());
        } else {
            bail!("{} does not exist", input.display());
        }
    }
    Ok(files)
}

/// Why a folder in the input list has no images to score.
fn folder_note(path: &Path) -> String {
    let empty = std::fs::read_dir(path).map_or(true, |mut entries| entries.next().is_none());
    if empty {
        "empty folder: nothing to score".into()
    } else {
        "folder not read: pass --recursive to score folders inside folders".into()
    }
}

/// Each input turned into pixels, or the reason it could not be (an IDX file gives its images).
pub(crate) fn prepare(
    files: &[PathBuf],
    config: &PreprocessConfig,
) -> Vec<(String, PreparedInput)> {
    let mut prepared = Vec::new();
    for file in files {
        let name = file.display().to_string();
        if file.is_dir() {
            prepared.push((name, Err(folder_note(file))));
            continue;
        }
        if is_idx(file) {
            match driftglass_core::idx::read_images(file) {
                Ok(set) => prepared.extend(idx_inputs(&name, &set, config)),
                Err(error) => prepared.push((name, Err(error.to_string()))),
            }
            continue;
        }
        let result = read_limited(file).and_then(|bytes| prepare_image(&bytes, config));
        prepared.push((name, result));
    }
    prepared
}

/// Read a file, refusing oversized ones before reading them.
fn read_limited(path: &Path) -> Result<Vec<u8>, String> {
    let size = std::fs::metadata(path)
        .map_err(|e| format!("cannot read file: {e}"))?
        .len();
    if size > MAX_FILE_BYTES {
        return Err(format!(
            "file is {size} bytes; the limit is {MAX_FILE_BYTES} bytes"
        ));
    }
    std::fs::read(path).map_err(|e| format!("cannot read file: {e}"))
}

pub fn run(args: ScoreArgs) -> Result<u8> {
    let loaded = load_model(args.report.model.as_deref())?;
    // The model's own preprocessing (its input side), with the polarity asked for.
    let config = PreprocessConfig {
        polarity: match args.polarity {
            PolarityArg::AsIs => Polarity::AsIs,
            PolarityArg::Invert => Polarity::Invert,
            PolarityArg::Auto => Polarity::Auto,
        },
        ..loaded.header.preprocess
    };
    if !(0.0..=1.0).contains(&args.flag_rate) {
        bail!("--flag-rate must be between 0 and 1");
    }
    if !(0.0..=1.0).contains(&args.alpha) {
        bail!("--alpha must be between 0 and 1");
    }
    let mut files = collect_inputs(&args.inputs, args.recursive)?;
    let all_files = files.len();
    if let Some((index, shards)) = args.shard {
        files = files[all_files * index / shards..all_files * (index + 1) / shards].to_vec();
    }
    let app = format!("driftglass-cli {}", driftglass_core::VERSION);
    // The scorer the page uses too: files are read, prepared and scored a chunk at a time, so
    // memory stays flat however many files there are.
    let mut scorer = Scorer::new(&loaded, &app, config, args.flag_rate)?;
    let bar = progress::bar(files.len() as u64, "scoring", "files");
    let (mut preparing, mut scoring) = (Duration::ZERO, Duration::ZERO);
    for part in files.chunks(SCORE_BATCH) {
        let started = Instant::now();
        let prepared = prepare(part, &config);
        let read = Instant::now();
        scorer.push(&prepared)?;
        (preparing, scoring) = (preparing + (read - started), scoring + read.elapsed());
        bar.inc(part.len() as u64);
    }
    bar.finish_and_clear();
    let timings = Timings {
        shown: args.timings,
        images: scorer.losses().len(),
        preparing,
        scoring,
    };
    if let (Some(shard), Some(path)) = (args.shard, &args.summary) {
        let summary = ShardSummary {
            schema: SHARD_SCHEMA,
            shard,
            files: all_files,
            alpha: args.alpha,
            report: scorer.report(),
            codes: scorer.codes().to_vec(),
        };
        let file =
            std::fs::File::create(path).with_context(|| format!("writing {}", path.display()))?;
        serde_json::to_writer(std::io::BufWriter::new(file), &summary)?;
        eprintln!(
            "shard {}/{}: {} of {} files, summary in {}",
            shard.0,
            shard.1,
            files.len(),
            all_files,
            path.display()
        );
        timings.print(None);
        return Ok(crate::EXIT_OK);
    }
    let started = Instant::now();
    let mut report = scorer.finish(args.alpha);
    args.report.judge(&mut report);
    timings.print(Some(started.elapsed()));
    let label = model_label(args.report.model.as_deref());
    args.report.print(&report, &loaded, &label)?;
    Ok(if report.batch.failed > 0 {
        crate::EXIT_SOME_FAILED
    } else {
        crate::EXIT_OK
    })
}

/// `--timings`: where the time of a run went.
struct Timings {
    shown: bool,
    images: usize,
    preparing: Duration,
    scoring: Duration,
}

impl Timings {
    fn print(&self, tests: Option<Duration>) {
        if !self.shown {
            return;
        }
        let rate = |d: Duration| self.images as f64 / d.as_secs_f64().max(1e-9);
        eprintln!(
            "timings: reading and preparing {:.3} s; reconstructing and scoring {} images {:.3} s ({:.0} images/s, {} threads){}",
            self.preparing.as_secs_f64(),
            self.images,
            self.scoring.as_secs_f64(),
            rate(self.scoring),
            driftglass_core::direct::worker_threads(),
            tests.map_or(String::new(), |t| format!(
                "; batch tests {:.3} s",
                t.as_secs_f64()
            ))
        );
    }
}

/// The report as JSON, CSV or a table.
fn print_report(report: &Report, json: bool, csv: bool) {
    if json {
        match serde_json::to_string_pretty(report) {
            Ok(text) => println!("{text}"),
            Err(error) => eprintln!("error: cannot write the report as JSON: {error}"),
        }
    } else if csv {
        print!("{}", to_csv(report));
    } else {
        print_table(report);
    }
}

fn print_table(report: &Report) {
    let width = report
        .images
        .iter()
        .map(|i| i.name.chars().count())
        .max()
        .unwrap_or(4)
        .clamp(4, 60);
    println!(
        "{:<width$}  {:>8}  {:>8}  {:>10}  {:>8}  {:>8}  flag",
        "file", "loss", "mse", "percentile", "novelty", "p-value"
    );
    for image in &report.images {
        match &image.outcome {
            ImageOutcome::Scored(s) => println!(
                "{:<width$}  {:>8.4}  {:>8.5}  {:>9.1}%  {:>8}  {:>8.4}  {}",
                image.name,
                s.loss,
                s.mse,
                s.percentile,
                s.novelty
                    .map(|t| format!("{t:.2}"))
                    .unwrap_or_else(|| "—".into()),
                s.p_value,
                if s.flagged { "DRIFT" } else { "" }
            ),
            ImageOutcome::Failed { error } => {
                println!("{:<width$}  error: {error}", image.name)
            }
        }
    }
    let b = &report.batch;
    println!();
    println!(
        "{} inputs: {} scored, {} failed; {} flagged at {:.0} % false-positive rate",
        b.inputs,
        b.scored,
        b.failed,
        b.flagged,
        b.flag_rate * 100.0
    );
    let baseline = &report.model.baseline;
    if let (Some(mean), Some(ratio)) = (b.mean_loss, b.loss_ratio) {
        println!(
            "mean loss {mean:.4} vs baseline {:.4} ({}): loss ratio {ratio:.3} ({:+.1} %)",
            baseline.mean,
            baseline.dataset,
            (ratio - 1.0) * 100.0
        );
    }
    if let Some(t) = &b.tests {
        println!(
            "verdict: {} (combined p = {:.2e}, alpha {}; at least {} images needed)",
            t.verdict.headline(),
            t.combined_p_value,
            t.alpha,
            t.min_batch
        );
        if let Some(sentence) = t.size_sentence() {
            println!("  {sentence}");
            if t.verdict == Verdict::SmallShift {
                println!(
                    "  (set the thresholds with --min-ratio, --min-d, --min-flagged, --min-mmd)"
                );
            }
        }
        if let Some(sentence) = t.alternative_sentence() {
            println!("  {sentence}");
        }
        if let Some((low, high)) = t.ratio_interval {
            println!("  loss ratio 95 % bootstrap interval: {low:.3} to {high:.3}");
        }
        println!(
            "  Kolmogorov-Smirnov{}: D = {:.4}, p = {:.2e} ({:?})",
            if t.ks.one_sided {
                " (one-sided: losses larger)"
            } else {
                ""
            },
            t.ks.statistic,
            t.ks.p_value,
            t.ks.method
        );
        println!(
            "  permutation test of the mean loss: p = {:.2e} ({} permutations)",
            t.permutation_p_value, t.permutations
        );
        println!(
            "  flagged images (by their {}): {} of {}, beta-binomial p = {:.2e} (a clean image is flagged with probability {:.4} on average over baselines)",
            if t.flags_from_novelty {
                "novelty score"
            } else {
                "loss"
            },
            t.flagged,
            t.images,
            t.binomial_p_value,
            t.flag_probability
        );
        match &t.properties {
            Some(properties) if properties.changed.is_empty() => println!(
                "what changed: no image property differs from the reference's ({} tested)",
                properties.tests.len()
            ),
            Some(properties) => {
                println!("what changed (largest change first):");
                for property in &properties.changed {
                    if let Some(test) = properties.tests.iter().find(|t| t.property == *property) {
                        println!("  {}", test.sentence);
                    }
                }
            }
            None => println!(
                "what changed: this model file keeps no image properties of its reference images (recalibrate it with `driftglass calibrate` to add them)"
            ),
        }
    }
}
