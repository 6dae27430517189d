//! Scoring a drop in chunks: read and preprocess a few files, reconstruct them on the active
//! backend, score them against the baseline, hand the page what it can show so far, and let
//! the browser paint before the next chunk. All numbers come from the core's scorer, exactly
//! as the CLI computes them.

use std::cell::Cell;
use std::rc::Rc;

use driftglass_core::PreprocessConfig;
use driftglass_core::idx::{is_idx_name, parse_images};
use driftglass_core::model_file::LoadedModel;
use driftglass_core::preprocess::{MAX_FILE_BYTES, pad_and_resize};
use driftglass_core::report::{PreparedInput, idx_inputs, prepare_image};
use driftglass_core::scorer::{Scorer, scorable};
use driftglass_core::stats::{DEFAULT_ALPHA, loss_histogram};
use web_sys::File;

use crate::glue::{now_ms, yield_to_browser};
use crate::view;

/// Sources in the first chunk: small, so the first result shows quickly (and, on the CPU, the
/// first chunk's task stays short while the wasm code is still warming up).
pub const FIRST_CHUNK: usize = 4;
/// Sources (and images per forward pass) in later chunks, at most.
pub const CHUNK: usize = 64;
/// Fewest sources per chunk when chunks are sized by time.
pub const MIN_CHUNK: usize = 4;
/// On the CPU backend the reconstruction runs on the page's thread: chunks are sized so that
/// reconstructing, scoring and showing one takes about this long (the soak benchmark checks
/// that no task exceeds 200 ms).
pub const CPU_CHUNK_BUDGET_MS: f64 = 50.0;
/// Files read at once within a chunk.
pub const READS_IN_FLIGHT: usize = 8;
/// Bins of the loss histogram.
pub const HISTOGRAM_BINS: usize = 40;

/// One input of a drop.
#[derive(Debug, Clone)]
pub enum Source {
    /// A file from a drop, picker or paste, named by its path in the drop.
    File { name: String, file: File },
    /// A file inside a dropped folder, opened only when its chunk comes (so a folder of
    /// thousands of files starts scoring at once).
    Entry {
        name: String,
        entry: web_sys::FileSystemFileEntry,
    },
    /// An image that is already `side`×`side` pixels in [0, 1] (demo sets: 28×28), resized
    /// when the model takes another size.
    Pixels {
        name: String,
        pixels: Vec<f32>,
        side: usize,
    },
    /// An input that could not even be read (a folder that cannot be listed, ...).
    Failed { name: String, error: String },
}

/// The images of an IDX file's bytes as sources named `{name}#{index}`, like the CLI's.
pub fn idx_sources(name: &str, bytes: Vec<u8>) -> Result<Vec<Source>, String> {
    let set = parse_images(bytes).map_err(|e| e.to_string())?;
    let side = set.side;
    Ok(idx_inputs(name, &set, side)
        .into_iter()
        .filter_map(|(name, input)| {
            input
                .ok()
                .map(|(pixels, ..)| Source::Pixels { name, pixels, side })
        })
        .collect())
}

pub use crate::state::{BatchView, Progress};

/// The next chunk's size: what fits `budget_ms` at the speed of the last chunk.
fn next_chunk_size(budget_ms: Option<f64>, inputs: usize, elapsed_ms: f64) -> usize {
    match budget_ms {
        Some(budget) if inputs > 0 => {
            let per_input = (elapsed_ms / inputs as f64).max(0.01);
            ((budget / per_input) as usize).clamp(MIN_CHUNK, CHUNK)
        }
        _ => CHUNK,
    }
}

/// Read and preprocess a chunk of sources. The chunk's files are read at once: each read is an
/// asynchronous round trip to the browser, and awaited one after another they set the pace of
/// a large drop (the soak's figures are in the README). Each is decoded as its bytes arrive;
/// the order stays the drop's. Reading one chunk ahead of scoring, in a task of its own, was
/// tried and measured slower.
async fn read_chunk(chunk: Vec<Source>, config: &PreprocessConfig) -> Vec<(String, PreparedInput)> {
    use futures::StreamExt;
    // A few at a time, not the whole chunk: each file may be up to `MAX_FILE_BYTES`.
    futures::stream::iter(chunk.into_iter().map(|source| prepare(source, config)))
        .buffered(READS_IN_FLIGHT)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .flatten()
        .collect()
}

/// Read and preprocess one source (an IDX file becomes its images).
pub async fn prepare(source: Source, config: &PreprocessConfig) -> Vec<(String, PreparedInput)> {
    match source {
        Source::Pixels { name, pixels, side } => {
            // An exact copy when the model takes this side.
            let pixels = pad_and_resize(&pixels, side, side, config.side);
            vec![(name, Ok((pixels, side as u32, side as u32)))]
        }
        Source::Failed { name, error } => vec![(name, Err(error))],
        Source::File { name, file } => prepare_file(name, file, config).await,
        Source::Entry { name, entry } => match crate::input::entry_file(&entry).await {
            Ok(file) => prepare_file(name, file, config).await,
            Err(error) => vec![(name, Err(format!("cannot read file: {error}")))],
        },
    }
}

/// Read one file (refusing oversized ones unread) and preprocess it; an IDX file becomes its
/// images.
async fn prepare_file(
    name: String,
    file: File,
    config: &PreprocessConfig,
) -> Vec<(String, PreparedInput)> {
    let size = file.size();
    if size > MAX_FILE_BYTES as f64 {
        let error = format!("file is {size} bytes; the limit is {MAX_FILE_BYTES} bytes");
        return vec![(name, Err(error))];
    }
    let bytes = match gloo_file::futures::read_as_bytes(&gloo_file::File::from(file)).await {
        Ok(bytes) => bytes,
        Err(error) => return vec![(name, Err(format!("cannot read file: {error}")))],
    };
    if is_idx_name(&name) {
        return match parse_images(bytes) {
            Ok(set) => idx_inputs(&name, &set, config.side),
            Err(error) => vec![(name, Err(error.to_string()))],
        };
    }
    let input = prepare_image(&bytes, config);
    vec![(name, input)]
}

/// The batch tests run once, on what was scored (running them after every chunk would slow
/// large drops down), each test in its own task.
async fn finish(mut view: BatchView, scorer: Scorer<'_>) -> BatchView {
    let report = scorer
        .finish_with_pauses(DEFAULT_ALPHA, yield_to_browser)
        .await;
    view.batch = report.batch.clone();
    view.report = Some(Rc::new(report));
    view
}

/// Score `sources` on the CPU or WebGPU (`gpu`) in chunks, calling `on_update` with the batch so far after each
/// chunk. Stops early (with what it has, `complete == false`) when `cancelled` is set.
/// `chunk_budget_ms` sizes chunks by time (for backends that compute on the page's thread,
/// see [`CPU_CHUNK_BUDGET_MS`]); `None` uses [`CHUNK`].
pub async fn score_sources(
    sources: Vec<Source>,
    model: &LoadedModel,
    gpu: bool,
    flag_rate: f64,
    chunk_budget_ms: Option<f64>,
    cancelled: &Cell<bool>,
    mut on_update: impl FnMut(&BatchView, Progress),
) -> Result<BatchView, String> {
    // The model's own preprocessing: its input side (28×28 unless trained on larger inputs).
    let config = model.header.preprocess;
    let app = format!("driftglass-web {}", driftglass_core::VERSION);
    let total = sources.len();
    // The CPU network is built here once for the whole drop; WebGPU's once below.
    let mut scorer = Scorer::new(model, &app, config, flag_rate).map_err(|e| e.to_string())?;
    let engine = crate::workers::Engine::new(&model.weights, gpu).await?;
    let mut view = BatchView {
        batch: scorer.summary(),
        baseline_mean: model.baseline.mean(),
        report: None,
        histogram: None,
        cards: Default::default(),
        complete: false,
    };
    let mut done = 0;
    let mut chunk_size = FIRST_CHUNK;
    let mut queue = sources.into_iter();
    loop {
        let chunk: Vec<Source> = queue.by_ref().take(chunk_size).collect();
        if chunk.is_empty() {
            view.complete = true;
            return Ok(finish(view, scorer).await);
        }
        if cancelled.get() {
            return Ok(finish(view, scorer).await);
        }
        done += chunk.len();
        let prepared = read_chunk(chunk, &config).await;
        // An IDX file can hold thousands of images: reconstruct them a chunk at a time (the
        // chunk size follows the time each part takes).
        let mut rest = prepared.as_slice();
        while !rest.is_empty() {
            let (part, after) = rest.split_at(chunk_size.clamp(1, rest.len()));
            rest = after;
            if cancelled.get() {
                return Ok(finish(view, scorer).await);
            }
            let started = now_ms();
            let set = scorable(config.side, part);
            let reconstructions = if set.count == 0 {
                Vec::new()
            } else {
                engine.reconstruct(&set, CHUNK).await?
            };
            let chunk = scorer.push_reconstructed(part, reconstructions);
            let pixels = part
                .iter()
                .filter_map(|(_, input)| input.as_ref().ok())
                .zip(&chunk.reconstructions)
                .map(|((input, ..), r)| (input.as_slice(), r.pixels.as_slice()));
            view.cards
                .push(view::cards(&chunk.images, chunk.first, pixels));
            view.batch = scorer.summary();
            view.histogram =
                loss_histogram(&model.baseline, scorer.losses(), flag_rate, HISTOGRAM_BINS)
                    .map(Rc::new);
            on_update(&view, Progress { done, total });
            chunk_size = next_chunk_size(chunk_budget_ms, part.len(), now_ms() - started);
            yield_to_browser().await;
        }
    }
}
