//! Choosing where the network runs: the core's CPU kernels compiled to wasm, or WebGPU when the
//! browser has an adapter, whichever measured faster on this machine (for this tiny model the
//! CPU often wins; an emulated GPU always loses). WebGPU lives in a second module, fetched into
//! its own worker only after an adapter was found ([`crate::gpu`]).

pub use crate::state::{Backend, Preference};

/// Images per batch in the start-up measurement (the size of a scoring chunk).
pub const MEASURE_BATCH: usize = 32;

fn cpu(detail: impl Into<String>) -> Backend {
    Backend {
        name: crate::workers::cpu_name(),
        detail: detail.into(),
        is_gpu: false,
    }
}

/// Milliseconds per image to reconstruct and score a [`MEASURE_BATCH`]-image batch with
/// `weights` on WebGPU (`gpu`) or the CPU, after one untimed warm-up batch (shader compilation,
/// caches): the fastest of three timed batches.
pub async fn measure(weights: &driftglass_core::Weights, gpu: bool) -> Result<f64, String> {
    // Digit-like strokes: what is drawn does not change the work, only the size does.
    let pixels: Vec<f32> = (0..MEASURE_BATCH * driftglass_core::IMAGE_PIXELS)
        .map(|i| {
            if (i % 28 + i / 28 % 28) % 9 < 3 {
                0.9
            } else {
                0.0
            }
        })
        .collect();
    let images = driftglass_core::ImageSet::new(pixels, MEASURE_BATCH);
    let engine = crate::workers::Engine::new(weights, gpu).await?;
    let run = || engine.reconstruct(&images, MEASURE_BATCH);
    run().await?;
    // The fastest of three: a drop or the workers' warm-up may hold the workers for a while,
    // and waiting for them is not this backend's speed.
    let mut fastest = f64::INFINITY;
    for _ in 0..3 {
        let started = crate::glue::now_ms();
        run().await?;
        fastest = fastest.min(crate::glue::now_ms() - started);
    }
    Ok(fastest / MEASURE_BATCH as f64)
}

/// Pick and initialise a backend.
pub async fn init(preference: Preference) -> Backend {
    crate::workers::start_pool().await;
    if preference == Preference::Cpu {
        return cpu("chosen by you");
    }
    let adapter = match crate::gpu::gpu().await {
        Ok(gpu) => gpu.adapter.clone(),
        Err(reason) => return cpu(reason),
    };
    if preference == Preference::Gpu {
        return gpu_backend(adapter, "chosen by you".into());
    }
    // The bundled network, decoded once for both runs.
    let network = match driftglass_core::model_file::decode(driftglass_core::bundled::BUNDLED_MODEL)
    {
        Ok(loaded) => loaded.weights,
        Err(error) => return cpu(format!("WebGPU ({adapter}) failed its test run: {error}")),
    };
    let cpu_ms = measure(&network, false).await;
    let gpu_ms = measure(&network, true).await;
    match (cpu_ms, gpu_ms) {
        (Ok(c), Ok(g)) if g < c => gpu_backend(
            adapter.clone(),
            format!(
                "measured faster here: {g:.2} ms per image, the CPU {c:.2} ms ({MEASURE_BATCH}-image batches)"
            ),
        ),
        (Ok(c), Ok(g)) => cpu(format!(
            "measured faster here: {c:.2} ms per image, WebGPU ({adapter}) {g:.2} ms ({MEASURE_BATCH}-image batches)"
        )),
        (_, Err(error)) => cpu(format!("WebGPU ({adapter}) failed its test run: {error}")),
        (Err(error), Ok(_)) => {
            gpu_backend(adapter, format!("the CPU failed its test run: {error}"))
        }
    }
}

fn gpu_backend(adapter: String, why: String) -> Backend {
    Backend {
        name: "WebGPU".into(),
        detail: format!("{adapter}; {why}"),
        is_gpu: true,
    }
}
