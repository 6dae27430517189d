//! WebGPU, from the page's side. The page's own module links no burn, cubecl or wgpu: where the
//! browser offers a WebGPU adapter, a dedicated worker (`web/gpu-worker.js`) fetches the WebGPU
//! module (`driftglass-gpu`), starts WebGPU there and answers calls on plain arrays. Nothing is
//! fetched where there is no adapter. The worker runs one call at a time; callers take turns.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use driftglass_core::Weights;
use driftglass_core::direct::unpack_reconstructions;
use driftglass_core::idx::ImageSet;
use driftglass_core::loss::LossKind;
use driftglass_core::optim::OptimizerKind;
use driftglass_core::score::Reconstruction;
use driftglass_core::train::{Stepper, TrainError};
use js_sys::{Array, Float32Array, Function, Promise, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Worker, WorkerOptions, WorkerType};

use crate::workers::{Turns, call, glue_url, message, set_property};

/// The started GPU worker.
pub struct Gpu {
    worker: Worker,
    /// The adapter's description.
    pub adapter: String,
    /// The packed weights the worker scores with.
    loaded: RefCell<Option<Vec<f32>>>,
    turns: Turns,
}

thread_local! {
    /// Started once per page: the worker, or why there is none.
    static GPU: RefCell<Option<Result<Rc<Gpu>, String>>> = const { RefCell::new(None) };
    static STARTING: Cell<bool> = const { Cell::new(false) };
}

fn get(target: &JsValue, key: &str) -> JsValue {
    Reflect::get(target, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

/// Whether this browser offers a WebGPU adapter (asked in the page: cheap, fetches nothing).
async fn has_adapter() -> Result<bool, String> {
    let gpu = get(&get(&js_sys::global(), "navigator"), "gpu");
    if gpu.is_undefined() || gpu.is_null() {
        return Ok(false);
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
    Ok(!adapter.is_null() && !adapter.is_undefined())
}

async fn start_worker() -> Result<Gpu, String> {
    if !has_adapter().await? {
        return Err("this browser offers no WebGPU adapter".into());
    }
    launch()
        .await
        .map_err(|e| format!("WebGPU failed to start: {e}"))
}

/// Start the worker, which fetches the module and starts WebGPU.
async fn launch() -> Result<Gpu, String> {
    let script = web_sys::Url::new_with_base("gpu-worker.js", &glue_url()?)
        .map_err(|_| "no URL for the GPU worker script")?
        .href();
    let options = WorkerOptions::new();
    options.set_type(WorkerType::Module);
    let worker = Worker::new_with_options(&script, &options)
        .map_err(|e| format!("the GPU worker did not start: {e:?}"))?;
    match call(&worker, &message("start"), &Array::new()).await {
        Ok(adapter) => Ok(Gpu {
            worker,
            adapter: adapter
                .as_string()
                .unwrap_or_else(|| "unnamed adapter".into()),
            loaded: RefCell::new(None),
            turns: Turns::default(),
        }),
        Err(error) => {
            worker.terminate();
            Err(error)
        }
    }
}

/// The GPU worker, started on first use (callers that come while it starts wait for it).
pub async fn gpu() -> Result<Rc<Gpu>, String> {
    loop {
        if let Some(known) = GPU.with(|g| g.borrow().clone()) {
            return known;
        }
        if !STARTING.with(|s| s.replace(true)) {
            break;
        }
        crate::glue::sleep_ms(20).await;
    }
    let result = start_worker().await.map(Rc::new);
    GPU.with(|g| *g.borrow_mut() = Some(result.clone()));
    result
}

impl Gpu {
    /// Call `kind` with `args` (Float32Arrays among them are transferred).
    async fn request(&self, kind: &str, args: Vec<JsValue>) -> Result<JsValue, String> {
        let transfer = Array::new();
        for arg in &args {
            if let Some(values) = arg.dyn_ref::<Float32Array>() {
                transfer.push(&values.buffer());
            }
        }
        let request = message(kind);
        set_property(&request, "args", &args.into_iter().collect::<Array>());
        call(&self.worker, &request, &transfer)
            .await
            .map_err(|e| format!("the GPU worker failed: {e}"))
    }

    fn floats(values: &[f32]) -> JsValue {
        Float32Array::from(values).into()
    }

    fn unpack(out: JsValue, image_len: usize) -> Result<Vec<Reconstruction>, String> {
        let packed: Float32Array = out
            .dyn_into()
            .map_err(|_| "the GPU worker sent no numbers")?;
        unpack_reconstructions(&packed.to_vec(), image_len).map_err(|e| e.to_string())
    }

    /// Reconstruct and score `set` with the network `packed` (`Weights::to_packed`; loaded into
    /// the worker when it changes).
    pub async fn reconstruct(
        &self,
        packed: &[f32],
        set: &ImageSet,
    ) -> Result<Vec<Reconstruction>, String> {
        let _turn = self.turns.take().await;
        if self.loaded.borrow().as_deref() != Some(packed) {
            *self.loaded.borrow_mut() = None;
            self.request("gpu_load", vec![Self::floats(packed)]).await?;
            *self.loaded.borrow_mut() = Some(packed.to_vec());
        }
        let out = self
            .request(
                "gpu_score",
                vec![
                    Self::floats(&set.pixels),
                    JsValue::from_f64(set.count as f64),
                    JsValue::from_f64(set.side as f64),
                ],
            )
            .await?;
        let results = Self::unpack(out, set.image_len())?;
        if results.len() != set.count {
            return Err(format!(
                "the GPU worker returned {} of {} images",
                results.len(),
                set.count
            ));
        }
        Ok(results)
    }
}

/// Training on WebGPU, step by step, for the core's training loop in the page.
pub struct GpuStepper {
    gpu: Rc<Gpu>,
    side: usize,
}

impl GpuStepper {
    /// Start training from `weights` in the GPU worker.
    pub async fn start(
        weights: &Weights,
        loss: LossKind,
        optimizer: OptimizerKind,
    ) -> Result<GpuStepper, String> {
        let gpu = gpu().await?;
        let optimizer = match optimizer {
            OptimizerKind::Adadelta => "adadelta",
            OptimizerKind::Adam => "adam",
        };
        {
            let _turn = gpu.turns.take().await;
            gpu.request(
                "gpu_train_start",
                vec![
                    Gpu::floats(&weights.to_packed()),
                    JsValue::from_str(loss.name()),
                    JsValue::from_str(optimizer),
                ],
            )
            .await?;
        }
        Ok(GpuStepper {
            gpu,
            side: weights.config().side,
        })
    }
}

fn engine(error: String) -> TrainError {
    TrainError::Engine(error)
}

impl Stepper for GpuStepper {
    async fn step(
        &mut self,
        inputs: &[f32],
        targets: &[f32],
        count: usize,
        learning_rate: f64,
    ) -> Result<f64, TrainError> {
        let _turn = self.gpu.turns.take().await;
        let out = self
            .gpu
            .request(
                "gpu_train_step",
                vec![
                    Gpu::floats(inputs),
                    Gpu::floats(targets),
                    JsValue::from_f64(count as f64),
                    JsValue::from_f64(learning_rate),
                ],
            )
            .await
            .map_err(engine)?;
        out.as_f64()
            .ok_or_else(|| engine("the GPU worker sent no loss".into()))
    }

    async fn reconstruct(
        &mut self,
        inputs: &ImageSet,
        targets: &ImageSet,
    ) -> Result<Vec<Reconstruction>, TrainError> {
        let _turn = self.gpu.turns.take().await;
        let out = self
            .gpu
            .request(
                "gpu_train_reconstruct",
                vec![
                    Gpu::floats(&inputs.pixels),
                    Gpu::floats(&targets.pixels),
                    JsValue::from_f64(inputs.count as f64),
                    JsValue::from_f64(self.side as f64),
                ],
            )
            .await
            .map_err(engine)?;
        let results = Gpu::unpack(out, inputs.image_len()).map_err(engine)?;
        if results.len() != inputs.count {
            return Err(engine(format!(
                "the GPU worker returned {} of {} images",
                results.len(),
                inputs.count
            )));
        }
        Ok(results)
    }

    async fn weights(&self) -> Result<Weights, TrainError> {
        let _turn = self.gpu.turns.take().await;
        let out = self
            .gpu
            .request("gpu_train_weights", Vec::new())
            .await
            .map_err(engine)?;
        let packed: Float32Array = out
            .dyn_into()
            .map_err(|_| engine("the GPU worker sent no weights".into()))?;
        Weights::from_packed(&packed.to_vec()).map_err(|e| engine(e.to_string()))
    }
}
