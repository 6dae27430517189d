//! Choosing where the network runs: WebGPU when the browser has an adapter, else burn's CPU
//! backend compiled to wasm. WebGPU is initialised asynchronously and only after an adapter was
//! found (burn panics without one, and a wasm panic cannot be caught).

use std::cell::RefCell;

use burn::tensor::Device;
use js_sys::{Function, Promise, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// What the user asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preference {
    /// WebGPU if it works, else CPU.
    Auto,
    /// CPU (wasm) only.
    Cpu,
}

/// The backend in use, for the badge.
#[derive(Debug, Clone, PartialEq)]
pub struct Backend {
    pub device: Device,
    /// "WebGPU" or "CPU (wasm)".
    pub name: String,
    /// Adapter name, or why the CPU is used.
    pub detail: String,
    pub is_gpu: bool,
}

thread_local! {
    /// WebGPU can be initialised once per page; keep the device for later switches.
    static GPU: RefCell<Option<(Device, String)>> = const { RefCell::new(None) };
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
        name: "CPU (wasm)".into(),
        detail: detail.into(),
        is_gpu: false,
    }
}

/// Pick and initialise a backend.
pub async fn init(preference: Preference) -> Backend {
    if preference == Preference::Cpu {
        return cpu("chosen by you");
    }
    if let Some((device, name)) = GPU.with(|gpu| gpu.borrow().clone()) {
        return gpu_backend(device, name);
    }
    match webgpu_adapter().await {
        Ok(Some(name)) => match Device::wgpu_options().init_async().await {
            Ok(device) => {
                GPU.with(|gpu| *gpu.borrow_mut() = Some((device.clone(), name.clone())));
                gpu_backend(device, name)
            }
            Err(error) => cpu(format!("WebGPU failed to start: {error:?}")),
        },
        Ok(None) => cpu("this browser offers no WebGPU adapter"),
        Err(error) => cpu(format!("WebGPU check failed: {error}")),
    }
}

fn gpu_backend(device: Device, adapter: String) -> Backend {
    Backend {
        device,
        name: "WebGPU".into(),
        detail: adapter,
        is_gpu: true,
    }
}
