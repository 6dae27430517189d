//! Choosing where the network runs: the core's CPU kernels compiled to wasm, or WebGPU when the
//! browser has an adapter, whichever measured faster on this machine (for this tiny model the
//! CPU often wins; an emulated GPU always loses). WebGPU is initialised asynchronously and only
//! after an adapter was found (burn panics without one, and a wasm panic cannot be caught).

use std::cell::{Cell, RefCell};

use burn::tensor::Device;
use js_sys::{Function, Promise, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// What the user asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preference {
    /// Measure both (when the browser offers WebGPU) and take the faster.
    Auto,
    /// CPU (wasm) only.
    Cpu,
    /// WebGPU if it works, else the CPU.
    Gpu,
}

/// Images per batch in the start-up measurement (the size of a scoring chunk).
pub const MEASURE_BATCH: usize = 32;

/// The backend in use, for the badge.
#[derive(Debug, Clone, PartialEq)]
pub struct Backend {
    pub device: Device,
    /// "WebGPU" or "CPU (wasm, 2 workers)" (see `workers::cpu_name`).
    pub name: String,
    /// Adapter name and why this backend was chosen.
    pub detail: String,
    pub is_gpu: bool,
}

impl Backend {
    /// The same backend with another explanation.
    pub fn with_detail(self, detail: impl Into<String>) -> Backend {
        Backend {
            detail: detail.into(),
            ..self
        }
    }
}

thread_local! {
    /// WebGPU can be initialised once per page: the device (or why there is none), kept for
    /// later switches.
    static GPU: RefCell<Option<Result<(Device, String), String>>> = const { RefCell::new(None) };
    /// Whether a start of WebGPU is under way (a second start would fail: burn refuses a
    /// second server for the device).
    static STARTING: Cell<bool> = const { Cell::new(false) };
}

fn get(target: &JsValue, key: &str) -> JsValue {
    Reflect::get(target, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

/// The WebGPU adapter's description, `None` when the browser has no adapter.
async fn webgpu_adapter() -> Result<Option<String>, String> {
    let window = web_sys::window().ok_or("no window")?;
    let gpu = get(&window.navigator(), "gpu");
    if gpu.is_undefined() || gpu.is_null() {
        return Ok(None);
    }
    let request: Function = get(&gpu, "requestAdapter")
        .dyn_into()
        .map_err(|_| "navigator.gpu.requestAdapter is not a function")?;
    let promise: Promise = request
        .call0(&gpu)
        .map_err(|e| format!("{e:?}"))?
        .dyn_into()
        .map_err(|_| "requestAdapter did not return a promise")?;
    let adapter = JsFuture::from(promise)
        .await
        .map_err(|e| format!("{e:?}"))?;
    if adapter.is_null() || adapter.is_undefined() {
        return Ok(None);
    }
    let info = get(&adapter, "info");
    let part = |key: &str| get(&info, key).as_string().filter(|s| !s.is_empty());
    let name = [part("description"), part("vendor"), part("architecture")]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    Ok(Some(if name.is_empty() {
        "unnamed adapter".into()
    } else {
        name
    }))
}

fn cpu(detail: impl Into<String>) -> Backend {
    Backend {
        device: Device::flex(),
        name: crate::workers::cpu_name(),
        detail: detail.into(),
        is_gpu: false,
    }
}

/// The WebGPU device and its adapter's name, or why there is none. Started once per page;
/// callers that come while it starts wait for that start.
async fn webgpu() -> Result<(Device, String), String> {
    loop {
        if let Some(known) = GPU.with(|gpu| gpu.borrow().clone()) {
            return known;
        }
        if !STARTING.with(|starting| starting.replace(true)) {
            break;
        }
        crate::pipeline::sleep_ms(20).await;
    }
    let result = match webgpu_adapter().await {
        Ok(Some(name)) => match Device::wgpu_options().init_async().await {
            Ok(device) => Ok((device, name)),
            Err(error) => Err(format!("WebGPU failed to start: {error:?}")),
        },
        Ok(None) => Err("this browser offers no WebGPU adapter".into()),
        Err(error) => Err(format!("WebGPU check failed: {error}")),
    };
    GPU.with(|gpu| *gpu.borrow_mut() = Some(result.clone()));
    result
}

/// Milliseconds per image to reconstruct and score a [`MEASURE_BATCH`]-image batch with
/// `network` on `device`, after one untimed warm-up batch (shader compilation, caches).
pub async fn measure(weights: &driftglass_core::Weights, device: &Device) -> Result<f64, String> {
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
    let run = || crate::workers::reconstruct(weights, &images, device, MEASURE_BATCH);
    run().await?;
    let started = crate::pipeline::now_ms();
    run().await?;
    Ok((crate::pipeline::now_ms() - started) / MEASURE_BATCH as f64)
}

/// Pick and initialise a backend.
pub async fn init(preference: Preference) -> Backend {
    crate::workers::start_pool().await;
    if preference == Preference::Cpu {
        return cpu("chosen by you");
    }
    let (device, adapter) = match webgpu().await {
        Ok(found) => found,
        Err(reason) => return cpu(reason),
    };
    if preference == Preference::Gpu {
        return gpu_backend(device, adapter, "chosen by you".into());
    }
    // The bundled network, decoded once for both runs.
    let network = match driftglass_core::model_file::decode(driftglass_core::bundled::BUNDLED_MODEL)
    {
        Ok(loaded) => loaded.weights,
        Err(error) => return cpu(format!("WebGPU ({adapter}) failed its test run: {error}")),
    };
    let cpu_ms = measure(&network, &Device::flex()).await;
    let gpu_ms = measure(&network, &device).await;
    match (cpu_ms, gpu_ms) {
        (Ok(c), Ok(g)) if g < c => gpu_backend(
            device,
            adapter.clone(),
            format!(
                "measured faster here: {g:.2} ms per image, the CPU {c:.2} ms ({MEASURE_BATCH}-image batches)"
            ),
        ),
        (Ok(c), Ok(g)) => cpu(format!(
            "measured faster here: {c:.2} ms per image, WebGPU ({adapter}) {g:.2} ms ({MEASURE_BATCH}-image batches)"
        )),
        (_, Err(error)) => cpu(format!("WebGPU ({adapter}) failed its test run: {error}")),
        (Err(error), Ok(_)) => gpu_backend(
            device,
            adapter,
            format!("the CPU failed its test run: {error}"),
        ),
    }
}

fn gpu_backend(device: Device, adapter: String, why: String) -> Backend {
    Backend {
        device,
        name: "WebGPU".into(),
        detail: format!("{adapter}; {why}"),
        is_gpu: true,
    }
}
