//! The module's state (one WebGPU device, one scoring network, one network in training) and the
//! calls the worker makes on it.

use std::cell::RefCell;

use burn::tensor::Device;
use driftglass_burn::Autoencoder;
use driftglass_burn::train::BurnStepper;
use driftglass_core::direct::pack_reconstructions;
use driftglass_core::loss::LossKind;
use driftglass_core::optim::OptimizerKind;
use driftglass_core::train::Stepper;
use driftglass_core::{ImageSet, Weights};
use js_sys::{Function, Promise, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

thread_local! {
    static DEVICE: RefCell<Option<Device>> = const { RefCell::new(None) };
    /// The scoring network, with the side of its images.
    static NETWORK: RefCell<Option<(Autoencoder, usize, usize)>> = const { RefCell::new(None) };
    /// The network being trained (taken out while a step runs).
    static TRAINING: RefCell<Option<BurnStepper>> = const { RefCell::new(None) };
}

fn get(target: &JsValue, key: &str) -> JsValue {
    Reflect::get(target, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

/// The WebGPU adapter's description (in a window or a worker), `None` when there is none.
async fn adapter() -> Result<Option<String>, String> {
    let gpu = get(&get(&js_sys::global(), "navigator"), "gpu");
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

fn device() -> Result<Device, String> {
    DEVICE.with(|d| {
        d.borrow()
            .clone()
            .ok_or_else(|| "WebGPU was not started".to_string())
    })
}

/// Start WebGPU once: the adapter's description. burn panics without an adapter (and a wasm
/// panic cannot be caught), so the adapter is checked first.
pub async fn start() -> Result<String, String> {
    let name = adapter()
        .await?
        .ok_or("this browser offers no WebGPU adapter")?;
    if DEVICE.with(|d| d.borrow().is_none()) {
        let device = Device::wgpu_options()
            .init_async()
            .await
            .map_err(|e| format!("WebGPU failed to start: {e:?}"))?;
        DEVICE.with(|d| *d.borrow_mut() = Some(device));
    }
    Ok(name)
}

/// Keep `packed` weights as the scoring network.
pub fn load(packed: &[f32]) -> Result<(), String> {
    let weights = Weights::from_packed(packed).map_err(|e| e.to_string())?;
    let network = Autoencoder::from_weights(&weights, &device()?);
    let config = weights.config();
    NETWORK.with(|n| *n.borrow_mut() = Some((network, config.side, config.channels)));
    Ok(())
}

fn image_set(
    pixels: Vec<f32>,
    count: usize,
    side: usize,
    channels: usize,
) -> Result<ImageSet, String> {
    if pixels.len() != count * channels * side * side {
        return Err(format!(
            "{} values for {count} images of {channels}×{side}×{side}",
            pixels.len()
        ));
    }
    Ok(ImageSet::with_shape(pixels, count, channels, side))
}

/// Score `count` images with the scoring network: the reconstructions packed.
pub async fn score(pixels: Vec<f32>, count: usize, side: usize) -> Result<Vec<f32>, String> {
    let (network, network_side, channels) = NETWORK
        .with(|n| n.borrow().clone())
        .ok_or("no network loaded")?;
    if side != network_side {
        return Err(format!(
            "images of {side}×{side}; the network takes {network_side}×{network_side}"
        ));
    }
    let set = image_set(pixels, count, side, channels)?;
    let device = device()?;
    let results =
        driftglass_burn::score::reconstruct(&network, &set, &device, count.max(1), |_| {})
            .await
            .map_err(|e| e.to_string())?;
    Ok(pack_reconstructions(&results))
}

/// Start training from `packed` weights.
pub fn train_start(packed: &[f32], loss: &str, optimizer: &str) -> Result<(), String> {
    let weights = Weights::from_packed(packed).map_err(|e| e.to_string())?;
    let loss = match loss {
        "bce" => LossKind::Bce,
        "mse" => LossKind::Mse,
        other => return Err(format!("unknown loss {other:?}")),
    };
    let optimizer = match optimizer {
        "adadelta" => OptimizerKind::Adadelta,
        "adam" => OptimizerKind::Adam,
        other => return Err(format!("unknown optimizer {other:?}")),
    };
    let stepper = BurnStepper::from_weights(&weights, &device()?, loss, optimizer);
    TRAINING.with(|t| *t.borrow_mut() = Some(stepper));
    Ok(())
}

/// Run `work` on the network being trained (taken out of its cell meanwhile).
async fn with_training<T, F: std::future::Future<Output = (BurnStepper, Result<T, String>)>>(
    work: impl FnOnce(BurnStepper) -> F,
) -> Result<T, String> {
    let stepper = TRAINING
        .with(|t| t.borrow_mut().take())
        .ok_or("no training was started (or a step is still running)")?;
    let (stepper, result) = work(stepper).await;
    TRAINING.with(|t| *t.borrow_mut() = Some(stepper));
    result
}

/// One training step: the batch's mean loss before it.
pub async fn train_step(
    inputs: Vec<f32>,
    targets: Vec<f32>,
    count: usize,
    learning_rate: f64,
) -> Result<f64, String> {
    with_training(|mut stepper| async move {
        let config = *stepper.config();
        let len = count * config.values_per_image();
        let result = if inputs.len() != len || targets.len() != len {
            Err(format!(
                "{} inputs and {} targets for {count} images of {} values",
                inputs.len(),
                targets.len(),
                config.values_per_image()
            ))
        } else {
            stepper
                .step(&inputs, &targets, count, learning_rate)
                .await
                .map_err(|e| e.to_string())
        };
        (stepper, result)
    })
    .await
}

/// Reconstruct with the network being trained: the results packed.
pub async fn train_reconstruct(
    inputs: Vec<f32>,
    targets: Vec<f32>,
    count: usize,
    side: usize,
) -> Result<Vec<f32>, String> {
    with_training(|mut stepper| async move {
        let result = async {
            let channels = inputs.len() / (count * side * side).max(1);
            let inputs = image_set(inputs, count, side, channels)?;
            let targets = image_set(targets, count, side, channels)?;
            stepper
                .reconstruct(&inputs, &targets)
                .await
                .map(|r| pack_reconstructions(&r))
                .map_err(|e| e.to_string())
        }
        .await;
        (stepper, result)
    })
    .await
}

/// The weights of the network being trained, packed.
pub async fn train_weights() -> Result<Vec<f32>, String> {
    with_training(|stepper| async move {
        let result = stepper
            .weights()
            .await
            .map(|w| w.to_packed())
            .map_err(|e| e.to_string());
        (stepper, result)
    })
    .await
}
