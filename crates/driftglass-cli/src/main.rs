//! `driftglass`: train, calibrate and score Driftglass models, generate notMNIST-style letters,
//! and reproduce the reference experiment's table.

mod data;
mod demo;
mod eval;
mod letters;
mod merge;
mod photo_sets;
mod progress;
mod reproduce;
mod score;
mod search;
mod train;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(name = "driftglass", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Threads for scoring and training on the CPU (default: every core). `train --engine burn`
    /// runs on burn's own thread pool and ignores it.
    #[arg(long, global = true, value_parser = clap::value_parser!(u32).range(1..=1024))]
    threads: Option<u32>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Train a denoising autoencoder on MNIST and calibrate its baseline on the test set.
    Train(train::TrainArgs),
    /// Recompute a model's baseline on other held-out reference images.
    Calibrate(train::CalibrateArgs),
    /// Rewrite a model file of an older format in the current one (same weights, baseline and
    /// latent sample; older files load as they are, this saves converting them each time).
    Upgrade(train::UpgradeArgs),
    /// Score images (a folder, files or IDX files) against a model's baseline.
    Score(score::ScoreArgs),
    /// Merge the summaries of a batch scored in shards (`score --shard I/N --summary FILE`)
    /// into the report and verdict of one run over all its files.
    Merge(merge::MergeArgs),
    /// Render notMNIST-style letters A–J from a folder of fonts into an IDX file.
    Letters(letters::LettersArgs),
    /// Reproduce the reference experiment's table with our model, side by side.
    Reproduce(reproduce::ReproduceArgs),
    /// Measure drift detection: per-image AUROC and batch detection power on real drift sets.
    Eval(eval::EvalArgs),
    /// Architecture search: train each candidate (widths, depth, code size, kernel, loss)
    /// alike and measure held-out loss, per-image AUROC, scoring speed and model size.
    Search(search::SearchArgs),
    /// Write the committed test fixtures from the MNIST test set (developers: `cargo xtask fixtures`).
    #[command(hide = true)]
    TestFixtures(demo::TestFixturesArgs),
    /// Write MNIST test digits as PNG files (developers: `cargo xtask soak`).
    #[command(hide = true)]
    ExportPngs(demo::ExportPngsArgs),
    /// Write the web app's demo sets (MNIST, noisy MNIST, letters, Fashion-MNIST) as IDX files.
    DemoSets(demo::DemoSetsArgs),
    /// Cut colour reference, clean and drift sets (colour cast, darker, blurred, JPEG, gray,
    /// illustrations) from a folder of photographs.
    PhotoSets(photo_sets::PhotoSetsArgs),
}

/// Exit status when every input was scored.
pub const EXIT_OK: u8 = 0;
/// Exit status for a fatal error (bad arguments, unreadable model, ...).
pub const EXIT_ERROR: u8 = 1;
/// Exit status when some inputs could not be scored (the others were).
pub const EXIT_SOME_FAILED: u8 = 3;

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(threads) = cli.threads {
        driftglass_core::direct::set_thread_limit(threads as usize);
    }
    let result = match cli.command {
        Command::Train(args) => train::run(args).map(|()| EXIT_OK),
        Command::Calibrate(args) => train::calibrate(args).map(|()| EXIT_OK),
        Command::Upgrade(args) => train::upgrade(args).map(|()| EXIT_OK),
        Command::Score(args) => score::run(args),
        Command::Merge(args) => merge::run(args),
        Command::Letters(args) => letters::run(args).map(|()| EXIT_OK),
        Command::Reproduce(args) => reproduce::run(args).map(|()| EXIT_OK),
        Command::DemoSets(args) => demo::run(args).map(|()| EXIT_OK),
        Command::PhotoSets(args) => photo_sets::run(args).map(|()| EXIT_OK),
        Command::TestFixtures(args) => demo::test_fixtures(args).map(|()| EXIT_OK),
        Command::ExportPngs(args) => demo::export_pngs(args).map(|()| EXIT_OK),
        Command::Eval(args) => eval::run(args).map(|()| EXIT_OK),
        Command::Search(args) => search::run(args).map(|()| EXIT_OK),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}

/// Where data sets live: `--data`, else `$DRIFTGLASS_DATA`, else `../shared/data`.
pub fn default_data_dir() -> PathBuf {
    std::env::var_os("DRIFTGLASS_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("../shared/data"))
}
