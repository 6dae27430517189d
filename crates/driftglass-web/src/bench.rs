//! What the benchmark page (`tests/bench`, Driftglass against TensorFlow.js) calls through the
//! functions `main.rs` exports. The app itself never uses this module; it runs the same code
//! (the core's kernels, burn on WebGPU) on the same backends as the app.

use std::cell::RefCell;

use driftglass_core::model_file::{self, LoadedModel};
use driftglass_core::{DirectNetwork, ImageSet, Weights, bundled::BUNDLED_MODEL};
use serde::Serialize;

use crate::backend::{self, Backend, Preference};

thread_local! {
    /// The bundled network's weights and the chosen backend.
    static ACTIVE: RefCell<Option<(Weights, Backend)>> = const { RefCell::new(None) };
}

fn bundled() -> Result<LoadedModel, String> {
    model_file::decode(BUNDLED_MODEL).map_err(|e| e.to_string())
}

/// One convolution's parameters, as plain arrays.
#[derive(Serialize)]
struct ConvWeights {
    /// `[out, in, k, k]`.
    shape: Vec<usize>,
    kernel: Vec<f32>,
    bias: Vec<f32>,
}

/// The bundled model's convolutions as JSON: `[{shape, kernel, bias}, ...]`, encoder first.
pub async fn weights_json() -> Result<String, String> {
    let model = bundled()?;
    let layers: Vec<ConvWeights> = model
        .weights
        .layers()
        .iter()
        .map(|layer| ConvWeights {
            shape: layer.shape.to_vec(),
            kernel: layer.kernel.clone(),
            bias: layer
                .bias
                .clone()
                .unwrap_or_else(|| vec![0.0; layer.shape[0]]),
        })
        .collect();
    serde_json::to_string(&layers).map_err(|e| e.to_string())
}

/// Put the bundled network on WebGPU (`gpu`) or the CPU; fails when WebGPU was asked for and
/// the browser has none.
pub async fn set_backend(gpu: bool) -> Result<String, String> {
    let chosen = backend::init(if gpu {
        Preference::Gpu
    } else {
        Preference::Cpu
    })
    .await;
    if gpu && !chosen.is_gpu {
        return Err(format!("no WebGPU: {}", chosen.detail));
    }
    let network = bundled()?.weights;
    let name = format!("{}: {}", chosen.name, chosen.detail);
    ACTIVE.with(|active| *active.borrow_mut() = Some((network, chosen)));
    Ok(name)
}

/// The active backend, as the badge names it.
pub fn backend_name() -> String {
    ACTIVE.with(|active| {
        active
            .borrow()
            .as_ref()
            .map(|(_, b)| format!("{}: {}", b.name, b.detail))
            .unwrap_or_else(|| "none".into())
    })
}

/// How the benchmark runs our CPU path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Path {
    /// Exactly as the app: the direct kernels on the scoring workers (WebGPU: burn, in the
    /// GPU worker).
    App,
    /// The direct kernels on the page's own thread.
    OneThread,
}

impl Path {
    /// "app" or "one-thread". (burn's CPU operations, an engine of earlier benchmarks, left
    /// the page with burn.)
    pub fn parse(name: &str) -> Result<Path, String> {
        match name {
            "app" => Ok(Path::App),
            "one-thread" => Ok(Path::OneThread),
            other => Err(format!("unknown path {other:?}: app or one-thread")),
        }
    }
}

/// Reconstruct and score `count` images (784 values each) in batches of `batch` on `path`;
/// returns the reconstructions.
pub async fn reconstruct(
    pixels: Vec<f32>,
    count: usize,
    batch: usize,
    path: Path,
) -> Result<Vec<f32>, String> {
    let (network, chosen) = ACTIVE
        .with(|active| active.borrow().clone())
        .ok_or("call driftglass_bench_backend first")?;
    let set = ImageSet::new(pixels, count);
    let results = match path {
        Path::App => {
            let engine = crate::workers::Engine::new(&network, chosen.is_gpu).await?;
            let mut results = Vec::with_capacity(count);
            for start in (0..count).step_by(batch.max(1)) {
                let part = set.range(start, batch.max(1));
                results.extend(engine.reconstruct(&part, batch).await?);
            }
            results
        }
        Path::OneThread => {
            let direct = DirectNetwork::new(&network).map_err(|e| e.to_string())?;
            driftglass_core::reconstruct(&direct, &set, batch, |_| {}).map_err(|e| e.to_string())?
        }
    };
    Ok(results.into_iter().flat_map(|r| r.pixels).collect())
}

/// Decode and preprocess each file of `files` (an array of `Uint8Array`s) exactly as a drop
/// is; returns how many became model inputs.
pub fn preprocess(files: js_sys::Array) -> usize {
    let config = driftglass_core::PreprocessConfig::default();
    files
        .iter()
        .filter(|file| {
            let bytes = js_sys::Uint8Array::new(file).to_vec();
            driftglass_core::report::prepare_image(&bytes, &config).is_ok()
        })
        .count()
}
