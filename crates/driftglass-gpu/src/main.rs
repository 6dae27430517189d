//! The WebGPU module's entry point. The page never links this module: where the browser offers a
//! WebGPU adapter, its GPU worker (`web/gpu-worker.js`) fetches and instantiates it and calls the
//! functions of the library (`driftglass_gpu`), exported here on plain arrays.

// wasm-ld wraps *every* export of a module whose exports never call `__wasm_call_ctors` in a
// shim that runs all static constructors first (it treats it as a "command"). cubecl registers
// its IR dialects with `inventory` constructors, so every call from JavaScript into wasm re-ran
// them (measured at over 80 % of the page's CPU time when this code lived in the page). Calling
// the constructors once, here, makes wasm-ld drop the shims.
#[cfg(target_arch = "wasm32")]
#[allow(unsafe_code)]
unsafe extern "C" {
    fn __wasm_call_ctors();
}

#[cfg(target_arch = "wasm32")]
fn main() {
    // SAFETY: wasm-ld synthesises this function; it runs the static constructors and is
    // called exactly once, before any other code of this module.
    #[allow(unsafe_code)]
    unsafe {
        __wasm_call_ctors()
    };
}

#[cfg(target_arch = "wasm32")]
mod exports {
    use wasm_bindgen::prelude::*;

    fn js(error: String) -> JsValue {
        JsValue::from_str(&error)
    }

    /// Start WebGPU: the adapter's description, or why there is none.
    #[wasm_bindgen]
    pub async fn gpu_start() -> Result<String, JsValue> {
        driftglass_gpu::start().await.map_err(js)
    }

    /// Keep this network (`Weights::to_packed`) for scoring.
    #[wasm_bindgen]
    pub fn gpu_load(packed: Vec<f32>) -> Result<(), JsValue> {
        driftglass_gpu::load(&packed).map_err(js)
    }

    /// Score `count` images of `side`² values per channel; the results packed
    /// (`pack_reconstructions`).
    #[wasm_bindgen]
    pub async fn gpu_score(
        pixels: Vec<f32>,
        count: usize,
        side: usize,
    ) -> Result<Vec<f32>, JsValue> {
        driftglass_gpu::score(pixels, count, side).await.map_err(js)
    }

    /// Start training from these weights (`Weights::to_packed`); `loss`: "bce" or "mse";
    /// `optimizer`: "adadelta" or "adam".
    #[wasm_bindgen]
    pub fn gpu_train_start(
        packed: Vec<f32>,
        loss: String,
        optimizer: String,
    ) -> Result<(), JsValue> {
        driftglass_gpu::train_start(&packed, &loss, &optimizer).map_err(js)
    }

    /// One training step on `count` images; the batch's mean loss before it.
    #[wasm_bindgen]
    pub async fn gpu_train_step(
        inputs: Vec<f32>,
        targets: Vec<f32>,
        count: usize,
        learning_rate: f64,
    ) -> Result<f64, JsValue> {
        driftglass_gpu::train_step(inputs, targets, count, learning_rate)
            .await
            .map_err(js)
    }

    /// Reconstruct `inputs` against `targets` (`count` images of `side`²) with the network being
    /// trained; the results packed.
    #[wasm_bindgen]
    pub async fn gpu_train_reconstruct(
        inputs: Vec<f32>,
        targets: Vec<f32>,
        count: usize,
        side: usize,
    ) -> Result<Vec<f32>, JsValue> {
        driftglass_gpu::train_reconstruct(inputs, targets, count, side)
            .await
            .map_err(js)
    }

    /// The weights of the network being trained (`Weights::to_packed`).
    #[wasm_bindgen]
    pub async fn gpu_train_weights() -> Result<Vec<f32>, JsValue> {
        driftglass_gpu::train_weights().await.map_err(js)
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!(
        "driftglass-gpu is the page's WebGPU module: it runs in the browser (see the README)"
    );
}
