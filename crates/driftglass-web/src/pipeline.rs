//! Scoring a drop in chunks: read and preprocess a few files, reconstruct them on the active
//! backend, score them against the baseline, hand the page what it can show so far, and let
//! the browser paint before the next chunk. All numbers come from the core's scorer, exactly
//! as the CLI computes them.

use std::cell::Cell;
use std::rc::Rc;

use driftglass_core::PreprocessConfig;
use driftglass_core::Reconstruction;
use driftglass_core::direct::DirectNetwork;
use driftglass_core::idx::{is_idx_name, parse_images};
use driftglass_core::model_file::LoadedModel;
use driftglass_core::preprocess::MAX_FILE_BYTES;
use driftglass_core::report::{PreparedInput, idx_inputs, prepare_gray, prepare_image};
use driftglass_core::scorer::{Scorer, scorable};
use driftglass_core::stats::DEFAULT_ALPHA;
use web_sys::File;

use crate::glue::{now_ms, yield_to_browser};
use crate::view;
use crate::workers::WorkerPool;

/// Sources in the first chunk: small, so the first result shows quickly (and, on the CPU, the
/// first chunk's task stays short while the wasm code is still warming up).
pub const FIRST_CHUNK: usize = 4;
/// Sources (and images per forward pass) in later chunks, at most.
pub const CHUNK: usize = 64;
/// Fewest sources per chunk when chunks are sized by time.
pub const MIN_CHUNK: usize = 4;
/// Where a chunk is read and prepared on the page's thread (no workers, IDX files, demo sets),
/// chunks are sized so that doing that, scoring and showing one takes about this long (the
/// soak benchmark checks that no task exceeds 200 ms).
pub const CPU_CHUNK_BUDGET_MS: f64 = 50.0;
/// Files read at once within a chunk.
pub const READS_IN_FLIGHT: usize = 8;
/// Folder entries opened at once (each is a callback from the browser) before a chunk goes
/// to the workers.
pub const OPENS_IN_FLIGHT: usize = 64;
/// Most sources per chunk when the workers read and score the files.
pub const WORKER_CHUNK: usize = 128;
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
    Ok((0..set.count)
        .map(|index| Source::Pixels {
            name: format!("{name}#{index}"),
            pixels: set.image(index).to_vec(),
            side,
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
/// a large drop. Each is decoded as its bytes arrive; the order stays the drop's. (With
/// workers, files are read on the workers instead, see [`fetch_on_workers`].)
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
            vec![(name, Ok(prepare_gray(&pixels, side, config, "idx")))]
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
    if let Some(error) = oversized(file.size()) {
        return vec![(name, Err(error))];
    }
    let bytes = match wasm_bindgen_futures::JsFuture::from(file.array_buffer()).await {
        Ok(buffer) => js_sys::Uint8Array::new(&buffer).to_vec(),
        // Worded as the workers word it (`worker_side::prepare_and_score`).
        Err(error) => {
            let error = crate::input::describe(error);
            return vec![(name, Err(format!("cannot read file: {error}")))];
        }
    };
    if is_idx_name(&name) {
        return match parse_images(bytes) {
            Ok(set) => idx_inputs(&name, &set, config),
            Err(error) => vec![(name, Err(error.to_string()))],
        };
    }
    let input = prepare_image(&bytes, config);
    vec![(name, input)]
}

/// Why a file of `size` bytes is refused unread, if it is.
pub fn oversized(size: f64) -> Option<String> {
    (size > MAX_FILE_BYTES as f64)
        .then(|| format!("file is {size} bytes; the limit is {MAX_FILE_BYTES} bytes"))
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

/// A run's scoring state: what is scored so far and what the page was shown.
struct Shown<'m, U> {
    scorer: Scorer<'m>,
    view: BatchView,
    done: usize,
    total: usize,
    on_update: U,
}

impl<U: FnMut(&BatchView, Progress)> Shown<'_, U> {
    /// Score a part (its inputs and the reconstructions of the scorable ones), show it, and
    /// let the browser paint. `sources` is how many of the drop's inputs it completes.
    async fn show(
        &mut self,
        sources: usize,
        part: &[(String, PreparedInput)],
        reconstructions: Vec<Reconstruction>,
    ) {
        let chunk = self.scorer.push_reconstructed(part, reconstructions);
        let pixels = part
            .iter()
            .filter_map(|(_, input)| input.as_ref().ok())
            .zip(&chunk.reconstructions)
            .map(|((input, ..), r)| (input.as_slice(), r.pixels.as_slice()));
        self.view.cards.push(view::cards(
            &chunk.images,
            chunk.first,
            self.scorer.channels(),
            pixels,
        ));
        self.view.batch = self.scorer.summary();
        self.view.histogram = self.scorer.histogram(HISTOGRAM_BINS).map(Rc::new);
        self.done += sources;
        (self.on_update)(
            &self.view,
            Progress {
                done: self.done,
                total: self.total,
            },
        );
        yield_to_browser().await;
    }

    /// Score and show a chunk the workers fetched.
    async fn show_fetched(&mut self, fetched: Fetched) {
        self.show(fetched.sources, &fetched.inputs, fetched.reconstructions)
            .await;
    }
}

/// A chunk of files read, prepared and reconstructed on the workers, not yet shown.
struct Fetched {
    sources: usize,
    inputs: Vec<(String, PreparedInput)>,
    reconstructions: Vec<Reconstruction>,
}

/// Whether the workers can take this source whole: a file (or a folder's file) that is not an
/// IDX file (those hold many images and are read on the page's thread).
fn for_workers(source: &Source) -> bool {
    match source {
        Source::File { name, .. } | Source::Entry { name, .. } => !is_idx_name(name),
        Source::Pixels { .. } | Source::Failed { .. } => false,
    }
}

/// Files to read on the workers: the page's thread only opens folder entries (a callback
/// each); the workers refuse oversized files unread.
async fn fetch_on_workers(
    pool: &WorkerPool,
    network: &DirectNetwork,
    chunk: Vec<Source>,
    config: &PreprocessConfig,
) -> Result<Fetched, String> {
    use futures::StreamExt;
    let sources = chunk.len();
    let opened: Vec<(String, Result<File, String>)> = futures::stream::iter(chunk)
        .map(|source| async move {
            match source {
                Source::File { name, file } => (name, Ok(file)),
                Source::Entry { name, entry } => {
                    let file = crate::input::entry_file(&entry)
                        .await
                        .map_err(|error| format!("cannot read file: {error}"));
                    (name, file)
                }
                Source::Pixels { name, .. } | Source::Failed { name, .. } => {
                    (name, Err("not a file".into()))
                }
            }
        })
        .buffered(OPENS_IN_FLIGHT)
        .collect()
        .await;
    let files: Vec<File> = opened
        .iter()
        .filter_map(|(_, file)| file.as_ref().ok().cloned())
        .collect();
    let mut done = pool
        .prepare_and_reconstruct(network, files, config)
        .await?
        .into_iter();
    let mut inputs = Vec::with_capacity(sources);
    let mut reconstructions = Vec::with_capacity(sources);
    for (name, file) in opened {
        match file {
            Err(error) => inputs.push((name, Err(error))),
            Ok(_) => {
                let (input, reconstruction) = done
                    .next()
                    .ok_or("the scoring workers returned too few files")?;
                inputs.push((name, input));
                reconstructions.extend(reconstruction);
            }
        }
    }
    Ok(Fetched {
        sources,
        inputs,
        reconstructions,
    })
}

/// Score `sources` on the CPU or WebGPU (`gpu`) in chunks, calling `on_update` with the batch
/// so far after each chunk. Stops early (with what it has, `complete == false`) when
/// `cancelled` is set. `chunk_budget_ms` sizes chunks by time (for backends that compute on
/// the page's thread, see [`CPU_CHUNK_BUDGET_MS`]); `None` uses [`CHUNK`].
///
/// On the CPU with workers, files are read, decoded and reconstructed on the workers, one
/// chunk ahead: while the page scores and shows chunk k, the workers already work on k + 1.
pub async fn score_sources(
    sources: Vec<Source>,
    model: &LoadedModel,
    gpu: bool,
    flag_rate: f64,
    chunk_budget_ms: Option<f64>,
    cancelled: &Cell<bool>,
    on_update: impl FnMut(&BatchView, Progress),
) -> Result<BatchView, String> {
    // The model's own preprocessing: its input side (28×28 unless trained on larger inputs).
    let config = model.header.preprocess;
    let app = format!("driftglass-web {}", driftglass_core::VERSION);
    let total = sources.len();
    // The CPU network is built here once for the whole drop; WebGPU's once below.
    let scorer = Scorer::new(model, &app, config, flag_rate).map_err(|e| e.to_string())?;
    let engine = crate::workers::Engine::new(&model.weights, gpu).await?;
    let pool = match &engine {
        crate::workers::Engine::Cpu(_) => crate::workers::ready_pool().await,
        crate::workers::Engine::Gpu(..) => None,
    };
    let mut run = Shown {
        view: BatchView {
            batch: scorer.summary(),
            baseline_mean: model.baseline.mean(),
            report: None,
            histogram: None,
            cards: Default::default(),
            complete: false,
        },
        scorer,
        done: 0,
        total,
        on_update,
    };
    let mut chunk_size = FIRST_CHUNK;
    let mut queue = sources.into_iter();
    // Fetched on the workers, to show while they fetch the next chunk.
    let mut ahead: Option<Fetched> = None;
    let complete = loop {
        if cancelled.get() {
            break false;
        }
        let chunk: Vec<Source> = queue.by_ref().take(chunk_size).collect();
        if chunk.is_empty() {
            break true;
        }
        let workers = match (&engine, &pool) {
            (crate::workers::Engine::Cpu(network), Some(pool))
                if pool.alive() && chunk.iter().all(for_workers) =>
            {
                Some((network, pool))
            }
            _ => None,
        };
        let chunk = match workers {
            Some((network, workers)) => {
                let fetch = fetch_on_workers(workers, network, chunk.clone(), &config);
                let fetched = match ahead.take() {
                    Some(previous) => {
                        futures::future::join(fetch, run.show_fetched(previous))
                            .await
                            .0
                    }
                    None => fetch.await,
                };
                match fetched {
                    Ok(fetched) => {
                        ahead = Some(fetched);
                        chunk_size = (chunk_size * 4).min(WORKER_CHUNK);
                        continue;
                    }
                    // The workers stopped themselves (`WorkerPool::exclusive`): this chunk and
                    // the rest are scored on the page's thread.
                    Err(_) => chunk,
                }
            }
            None => chunk,
        };
        if let Some(previous) = ahead.take() {
            run.show_fetched(previous).await;
        }
        chunk_size = score_here(
            &mut run,
            &engine,
            chunk,
            &config,
            chunk_budget_ms,
            chunk_size,
            cancelled,
        )
        .await?;
    };
    if let Some(previous) = ahead.take() {
        run.show_fetched(previous).await;
    }
    run.view.complete = complete && !cancelled.get();
    Ok(finish(run.view, run.scorer).await)
}

/// Read and prepare a chunk on the page's thread and reconstruct it on `engine`, a part at a
/// time (an IDX file can hold thousands of images); returns the next chunk's size (parts
/// follow the time each takes, see [`next_chunk_size`]).
async fn score_here<U: FnMut(&BatchView, Progress)>(
    run: &mut Shown<'_, U>,
    engine: &crate::workers::Engine,
    chunk: Vec<Source>,
    config: &PreprocessConfig,
    chunk_budget_ms: Option<f64>,
    mut chunk_size: usize,
    cancelled: &Cell<bool>,
) -> Result<usize, String> {
    let sources = chunk.len();
    let prepared = read_chunk(chunk, config).await;
    let mut rest = prepared.as_slice();
    let mut first = true;
    while !rest.is_empty() && !cancelled.get() {
        let (part, after) = rest.split_at(chunk_size.clamp(1, rest.len()));
        rest = after;
        let started = now_ms();
        let set = scorable(config.channels, config.side, part);
        let reconstructions = if set.count == 0 {
            Vec::new()
        } else {
            engine.reconstruct(&set, CHUNK).await?
        };
        // The chunk's sources count as done with its first part.
        run.show(if first { sources } else { 0 }, part, reconstructions)
            .await;
        first = false;
        chunk_size = next_chunk_size(chunk_budget_ms, part.len(), now_ms() - started);
    }
    Ok(chunk_size)
}
