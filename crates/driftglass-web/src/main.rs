//! The page's entry point: mounts the app (see the library for everything else).

// wasm-ld wraps *every* export of a module whose exports never call `__wasm_call_ctors` in a
// shim that runs all static constructors first (it treats it as a "command"). When this module
// still linked cubecl (whose IR dialects register through `inventory` constructors), every call
// from JavaScript re-ran them: over 80 % of the page's CPU time. cubecl now lives in the WebGPU
// module (which does the same); calling the constructors once here keeps any dependency's from
// doing that again.
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
    driftglass_web::glue::install_panic_hook();
    // In a scoring worker (`web/score-worker.js`) this module only answers its calls below.
    if web_sys::window().is_some() {
        yew::Renderer::<driftglass_web::app::App>::new().render();
    }
}

/// For the scoring workers (`web/score-worker.js`, see the library's `workers` module): each
/// runs its own instance of this module.
#[cfg(target_arch = "wasm32")]
mod worker_exports {
    use driftglass_web::workers::worker_side;
    use wasm_bindgen::prelude::*;

    /// Keep this network (`DirectNetwork::packed`) for the next calls.
    #[wasm_bindgen]
    pub fn driftglass_worker_network(values: Vec<f32>) -> Result<(), JsValue> {
        worker_side::load(values).map_err(JsValue::from)
    }

    /// Read, decode, preprocess and score `files` (`File`s) with the preprocessing `config`
    /// (JSON): `{errors, properties, pixels, packed}` (see `worker_side::Prepared`; the
    /// properties as JSON). `decoded`: per
    /// file, `null` or the browser's `{width, height, data}` (RGBA) for it.
    #[wasm_bindgen]
    pub fn driftglass_worker_prepare_score(
        files: js_sys::Array,
        config: String,
        decoded: js_sys::Array,
    ) -> Result<js_sys::Object, JsValue> {
        use wasm_bindgen::JsCast;
        let files: Vec<web_sys::File> = files
            .iter()
            .map(|f| f.dyn_into::<web_sys::File>())
            .collect::<Result<_, _>>()
            .map_err(|_| JsValue::from_str("not a file"))?;
        let get = |value: &JsValue, key: &str| {
            js_sys::Reflect::get(value, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
        };
        let decoded = decoded
            .iter()
            .map(|entry| {
                let data = get(&entry, "data")
                    .dyn_into::<js_sys::Uint8ClampedArray>()
                    .ok()?;
                Some(worker_side::BrowserPixels {
                    width: get(&entry, "width").as_f64()? as u32,
                    height: get(&entry, "height").as_f64()? as u32,
                    rgba: data.to_vec(),
                })
            })
            .collect();
        let prepared =
            worker_side::prepare_and_score(&files, &config, decoded).map_err(JsValue::from)?;
        let out = js_sys::Object::new();
        let errors: js_sys::Array = prepared
            .errors
            .iter()
            .map(|e| e.as_deref().map(JsValue::from_str).unwrap_or(JsValue::NULL))
            .collect();
        let set = |key: &str, value: &JsValue| {
            let _ = js_sys::Reflect::set(&out, &JsValue::from_str(key), value);
        };
        set("errors", &errors);
        let properties = serde_json::to_string(&prepared.properties).map_err(|e| e.to_string())?;
        set("properties", &JsValue::from_str(&properties));
        set(
            "pixels",
            &js_sys::Float32Array::from(prepared.pixels.as_slice()),
        );
        set(
            "packed",
            &js_sys::Float32Array::from(prepared.packed.as_slice()),
        );
        set("browserDecoded", &JsValue::from(prepared.browser_decoded));
        Ok(out)
    }

    /// Score `count` images of `side`² values; the results packed.
    #[wasm_bindgen]
    pub fn driftglass_worker_score(
        pixels: Vec<f32>,
        count: usize,
        side: usize,
    ) -> Result<Vec<f32>, JsValue> {
        worker_side::score(pixels, count, side).map_err(JsValue::from)
    }
}

/// For the benchmark page (`tests/bench`, Driftglass' engines next to TensorFlow.js') and the
/// end-to-end test. Exported from this binary (exports of the library would not survive
/// linking).
#[cfg(all(target_arch = "wasm32", feature = "hooks"))]
mod bench_exports {
    use driftglass_web::bench::{self, Path};
    use wasm_bindgen::prelude::*;

    /// The bundled model's convolutions, JSON `[{shape, kernel, bias}, ...]`.
    #[wasm_bindgen]
    pub async fn driftglass_bench_weights() -> Result<String, JsValue> {
        bench::weights_json().await.map_err(JsValue::from)
    }

    /// Use WebGPU (`gpu`) or the CPU for the next reconstructions.
    #[wasm_bindgen]
    pub async fn driftglass_bench_backend(gpu: bool) -> Result<String, JsValue> {
        bench::set_backend(gpu).await.map_err(JsValue::from)
    }

    /// The backend in use.
    #[wasm_bindgen]
    pub fn driftglass_bench_backend_name() -> String {
        bench::backend_name()
    }

    /// Panic on purpose: the end-to-end test checks that the page then shows a readable error
    /// with a way to reload (the panic hook), instead of going dead.
    #[wasm_bindgen]
    pub fn driftglass_test_panic() {
        panic!("a test asked for a panic");
    }

    /// Make the next call to a scoring worker fail, as a crashed worker's would (the end-to-end
    /// test checks that the drop then finishes on the page's thread with the same numbers).
    #[wasm_bindgen]
    pub fn driftglass_test_fail_next_worker_call() {
        driftglass_web::workers::fail_next_call();
    }

    /// How many files the scoring workers decoded with the browser's decoder so far (the
    /// end-to-end test checks that a photo-sized JPEG went that way).
    #[wasm_bindgen]
    pub fn driftglass_test_browser_decoded() -> u32 {
        driftglass_web::workers::browser_decoded()
    }

    /// Decode and preprocess image files (the app's own path: the model crate's decoders and
    /// preprocessing, 28×28); returns how many succeeded. `files` is an array of `Uint8Array`s.
    #[wasm_bindgen]
    pub fn driftglass_bench_preprocess(files: js_sys::Array) -> usize {
        bench::preprocess(files)
    }

    /// Reconstruct and score `count` images in batches of `batch`; returns the
    /// reconstructions. `path`: "app" (as the app does: workers on the CPU, or the GPU worker)
    /// or "one-thread" (the CPU kernels on the page's thread).
    #[wasm_bindgen]
    pub async fn driftglass_bench_reconstruct(
        pixels: Vec<f32>,
        count: usize,
        batch: usize,
        path: String,
    ) -> Result<Vec<f32>, JsValue> {
        let path = Path::parse(&path).map_err(JsValue::from)?;
        bench::reconstruct(pixels, count, batch, path)
            .await
            .map_err(JsValue::from)
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("driftglass-web runs in the browser: build it with `trunk serve` (see the README)");
}
