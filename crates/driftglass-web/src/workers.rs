//! Scoring on every core: Web Workers (`web/score-worker.js`), each running its own instance
//! of this very wasm module, read, decode and score slices of a batch with the core's direct
//! CPU kernels while the page waits. [`Engine`] picks between them and WebGPU
//! ([`crate::gpu`]). Nothing is shared: `File` handles or pixels go in by copy, results come
//! back transferred, so no cross-origin isolation (and no nightly wasm threads) is needed.
//!
//! The pool starts once per page. Where workers cannot start (no module workers, one core,
//! the module's URL not found) or one fails, scoring runs on the page's own thread instead,
//! with the same results; the reason is logged and shown in the backend badge.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use driftglass_core::direct::{DirectNetwork, unpack_reconstructions};
use driftglass_core::properties::ImageProperties;
use driftglass_core::{ImageSet, Reconstruction, Weights};
use js_sys::{Array, Float32Array, Object, Promise, Reflect};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{MessageEvent, Worker, WorkerOptions, WorkerType};

/// Most workers started, whatever the browser reports: each holds its own instance of the
/// module and its memory, and a drop's chunks are small enough that more would mostly wait.
const MAX_WORKERS: usize = 4;
/// Smallest slice worth sending to a worker (a message costs about as much as a few images).
const MIN_IMAGES_PER_WORKER: usize = 4;

/// The started workers and the network each of them holds.
pub struct WorkerPool {
    workers: Vec<Worker>,
    /// The packed network every worker has loaded (see `DirectNetwork::packed`).
    network: RefCell<Option<Vec<f32>>>,
    /// Each worker answers one request at a time, so callers (the start-up measurement and a
    /// drop, say) take turns.
    turns: Turns,
    /// False once the workers were stopped after a failure: a caller that was waiting for its
    /// turn must not post to them (it would wait for a reply forever).
    alive: Cell<bool>,
}

/// Callers of a worker taking turns: one call at a time (a worker's replies would otherwise go
/// to whichever caller listens).
#[derive(Debug, Default)]
pub(crate) struct Turns(Cell<bool>);

/// A turn; the next caller's comes when it is dropped.
pub(crate) struct Turn<'a>(&'a Cell<bool>);

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        self.0.set(false);
    }
}

impl Turns {
    /// Wait for this caller's turn.
    pub(crate) async fn take(&self) -> Turn<'_> {
        while self.0.replace(true) {
            crate::glue::sleep_ms(2).await;
        }
        Turn(&self.0)
    }
}

#[derive(Clone)]
enum State {
    Starting,
    Ready(Rc<WorkerPool>),
    Unavailable(String),
}

thread_local! {
    static POOL: RefCell<Option<State>> = const { RefCell::new(None) };
}

pub(crate) fn set_property(target: &Object, key: &str, value: &JsValue) {
    // Setting a property of a plain object cannot fail.
    let _ = Reflect::set(target, &JsValue::from_str(key), value);
}

pub(crate) fn message(kind: &str) -> Object {
    let object = Object::new();
    set_property(&object, "kind", &JsValue::from_str(kind));
    object
}

#[cfg(feature = "hooks")]
thread_local! {
    /// Set by the end-to-end test's hook: the next worker call times out at once, as a call to a
    /// worker that died would after [`CALL_TIMEOUT_MS`].
    static FAIL_NEXT_CALL: Cell<bool> = const { Cell::new(false) };
}

/// Test hook (`driftglass_test_fail_next_worker_call`): make the next call to a worker time
/// out, so the test sees the worker stopped and a drop fall back to the page's thread with the
/// same numbers.
#[cfg(feature = "hooks")]
pub fn fail_next_call() {
    FAIL_NEXT_CALL.with(|fail| fail.set(true));
}

/// How long a worker may take over one call: far beyond a chunk of large photos or a training
/// step on an emulated GPU, so only a worker that will never answer reaches it.
const CALL_TIMEOUT_MS: i32 = 120_000;

/// Marks a worker stopped by [`call`] for not answering.
const STOPPED: &str = "driftglassStopped";

/// Post `message` to `worker` and wait for its one reply: `{ok: true, out?}` (gives `out`) or
/// `{ok: false, error}` (gives `error`).
pub(crate) async fn call(
    worker: &Worker,
    message: &Object,
    transfer: &Array,
) -> Result<JsValue, String> {
    // The test hook: this call gets no time to answer, as if its worker had died.
    #[cfg(feature = "hooks")]
    let limit_ms = if FAIL_NEXT_CALL.with(|fail| fail.replace(false)) {
        0
    } else {
        CALL_TIMEOUT_MS
    };
    #[cfg(not(feature = "hooks"))]
    let limit_ms = CALL_TIMEOUT_MS;
    if Reflect::get(worker, &JsValue::from_str(STOPPED)).is_ok_and(|v| v.is_truthy()) {
        return Err("this worker was stopped after it failed to answer".into());
    }
    let mut settle = None;
    let promise = Promise::new(&mut |resolve, reject| settle = Some((resolve, reject)));
    let (resolve, reject) = settle.ok_or("no promise")?;
    let timeout_reject = reject.clone();
    // Kept for this call and dropped after it (a closure handed to JS for good would leak when
    // it is never called, as the error handler mostly is).
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
        let _ = resolve.call1(&JsValue::NULL, &event.data());
    });
    let on_error = Closure::<dyn FnMut(JsValue)>::new(move |event: JsValue| {
        let text = Reflect::get(&event, &JsValue::from_str("message"))
            .ok()
            .and_then(|m| m.as_string())
            .unwrap_or_else(|| "the worker failed to load or crashed".into());
        let _ = reject.call1(&JsValue::NULL, &JsValue::from_str(&text));
    });
    // A worker that never answers (killed for memory, say) must not hang the page: after
    // CALL_TIMEOUT_MS the call fails and the worker is stopped, so that a late reply cannot be
    // taken for the next call's.
    let timed_out = Rc::new(Cell::new(false));
    let timer_fired = timed_out.clone();
    let on_timeout = Closure::<dyn FnMut()>::new(move || {
        timer_fired.set(true);
        let text = format!("no reply in {} s", limit_ms / 1000);
        let _ = timeout_reject.call1(&JsValue::NULL, &JsValue::from_str(&text));
    });
    let window = web_sys::window().ok_or("no window")?;
    let timer = window
        .set_timeout_with_callback_and_timeout_and_arguments_0(
            on_timeout.as_ref().unchecked_ref(),
            limit_ms,
        )
        .map_err(|e| format!("no timer: {e:?}"))?;
    worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    let posted = worker
        .post_message_with_transfer(message, transfer)
        .map_err(|e| format!("posting to a worker failed: {e:?}"));
    let reply = match posted {
        Ok(()) => JsFuture::from(promise)
            .await
            .map_err(|e| e.as_string().unwrap_or_else(|| format!("{e:?}"))),
        Err(error) => Err(error),
    };
    window.clear_timeout_with_handle(timer);
    worker.set_onmessage(None);
    worker.set_onerror(None);
    drop((on_message, on_error, on_timeout));
    if reply.is_err() && timed_out.get() {
        worker.terminate();
        set_property(worker, STOPPED, &JsValue::TRUE);
    }
    let reply = reply?;
    let ok = Reflect::get(&reply, &JsValue::from_str("ok"))
        .map(|v| v.is_truthy())
        .unwrap_or(false);
    if ok {
        Ok(Reflect::get(&reply, &JsValue::from_str("out")).unwrap_or(JsValue::UNDEFINED))
    } else {
        let error = Reflect::get(&reply, &JsValue::from_str("error"))
            .ok()
            .and_then(|e| e.as_string())
            .unwrap_or_else(|| "unknown error".into());
        Err(error)
    }
}

/// Wait for all of `calls` (started together, so the workers run at once).
async fn all(calls: Vec<Promise>) -> Result<Vec<JsValue>, String> {
    let array = calls.into_iter().collect::<Array>();
    let values = JsFuture::from(Promise::all(&array))
        .await
        .map_err(|e| e.as_string().unwrap_or_else(|| format!("{e:?}")))?;
    Ok(Array::from(&values).iter().collect())
}

/// `call` as a promise, to run several workers concurrently.
fn call_promise(worker: Worker, message: Object, transfer: Array) -> Promise {
    wasm_bindgen_futures::future_to_promise(async move {
        call(&worker, &message, &transfer)
            .await
            .map_err(|e| JsValue::from_str(&format!("a scoring worker failed: {e}")))
    })
}

/// The URL of this module's JS glue, as trunk linked it into the page
/// (`<link rel="modulepreload" href="/driftglass-web-<hash>.js">`).
pub(crate) fn glue_url() -> Result<String, String> {
    let document = web_sys::window()
        .and_then(|w| w.document())
        .ok_or("no document")?;
    let link = document
        .query_selector("link[rel=modulepreload][href*='driftglass-web']")
        .ok()
        .flatten()
        .ok_or("the page does not link the app's module")?;
    let href = link
        .get_attribute("href")
        .ok_or("the module link has no href")?;
    let base = document.base_uri().ok().flatten().ok_or("no base URL")?;
    web_sys::Url::new_with_base(&href, &base)
        .map(|url| url.href())
        .map_err(|_| format!("not a URL: {href}"))
}

async fn start() -> Result<WorkerPool, String> {
    let window = web_sys::window().ok_or("no window")?;
    let cores = window.navigator().hardware_concurrency() as usize;
    if cores < 2 {
        return Err("this browser reports one core".into());
    }
    let glue = glue_url()?;
    let script = web_sys::Url::new_with_base("score-worker.js", &glue)
        .map_err(|_| "no URL for the worker script")?
        .href();
    let options = WorkerOptions::new();
    options.set_type(WorkerType::Module);
    let mut workers = Vec::new();
    let mut starts = Vec::new();
    for _ in 0..cores.min(MAX_WORKERS) {
        let worker = Worker::new_with_options(&script, &options)
            .map_err(|e| format!("a worker did not start: {e:?}"))?;
        let hello = message("start");
        set_property(&hello, "glue", &JsValue::from_str(&glue));
        // The compiled module itself: workers instantiate it without fetching or compiling.
        set_property(&hello, "module", &wasm_bindgen::module());
        starts.push(call_promise(worker.clone(), hello, Array::new()));
        workers.push(worker);
    }
    if let Err(error) = all(starts).await {
        workers.iter().for_each(Worker::terminate);
        return Err(error);
    }
    Ok(WorkerPool {
        workers,
        network: RefCell::new(None),
        turns: Turns::default(),
        alive: Cell::new(true),
    })
}

/// The pool, started on first use (callers that come while it starts wait for that start).
async fn pool() -> Result<Rc<WorkerPool>, String> {
    loop {
        match POOL.with(|pool| pool.borrow().clone()) {
            Some(State::Ready(pool)) => return Ok(pool),
            Some(State::Unavailable(why)) => return Err(why),
            Some(State::Starting) => crate::glue::sleep_ms(10).await,
            None => break,
        }
    }
    POOL.with(|pool| *pool.borrow_mut() = Some(State::Starting));
    let (state, result) = match start().await {
        Ok(pool) => {
            let pool = Rc::new(pool);
            (State::Ready(Rc::clone(&pool)), Ok(pool))
        }
        Err(why) => {
            web_sys::console::warn_1(&JsValue::from_str(&format!(
                "Driftglass scores on the page's own thread: {why}"
            )));
            (State::Unavailable(why.clone()), Err(why))
        }
    };
    POOL.with(|pool| *pool.borrow_mut() = Some(state));
    result
}

/// Start the pool now, if it has not started (the backend choice does, before measuring).
pub async fn start_pool() {
    let _ = pool().await;
}

/// How the CPU runs, for the badge: "CPU (wasm, 2 workers)", "CPU (wasm, one thread)", or
/// "CPU (wasm)" before the pool was tried.
pub fn cpu_name() -> String {
    match POOL.with(|pool| pool.borrow().clone()) {
        Some(State::Ready(pool)) => format!("CPU (wasm, {} workers)", pool.workers.len()),
        Some(State::Unavailable(_)) => "CPU (wasm, one thread)".into(),
        _ => "CPU (wasm)".into(),
    }
}

impl WorkerPool {
    /// Stop the workers for good (after a failure); callers still waiting get an error.
    fn stop(&self) {
        self.alive.set(false);
        self.workers.iter().for_each(Worker::terminate);
    }

    async fn load(&self, network: &DirectNetwork) -> Result<(), String> {
        if self.network.borrow().as_deref() == Some(network.packed()) {
            return Ok(());
        }
        let calls = self
            .workers
            .iter()
            .map(|worker| {
                let load = message("network");
                set_property(&load, "values", &Float32Array::from(network.packed()));
                call_promise(worker.clone(), load, Array::new())
            })
            .collect();
        *self.network.borrow_mut() = None;
        all(calls).await?;
        *self.network.borrow_mut() = Some(network.packed().to_vec());
        Ok(())
    }

    /// Run `work` with the workers to this caller alone. On a failure the workers are stopped
    /// and the page scores on its own thread from then on ([`abandon`]), before the next
    /// caller's turn: another worker may still be busy with this call, and its reply must not
    /// reach that caller.
    async fn exclusive<T>(
        &self,
        work: impl std::future::Future<Output = Result<T, String>>,
    ) -> Result<T, String> {
        let _turn = self.turns.take().await;
        if !self.alive.get() {
            return Err("the scoring workers were stopped after a failure".into());
        }
        let result = work.await;
        if let Err(why) = &result {
            abandon(self, why.clone());
        }
        result
    }

    /// Items per worker when `count` are shared out in contiguous slices (no slice under
    /// [`MIN_IMAGES_PER_WORKER`] unless there are fewer items).
    fn per_worker(&self, count: usize) -> usize {
        let parts = self
            .workers
            .len()
            .min(count.div_ceil(MIN_IMAGES_PER_WORKER))
            .max(1);
        count.div_ceil(parts).max(1)
    }

    /// Score `set` on the workers, a contiguous slice each, results in order.
    async fn reconstruct(
        &self,
        network: &DirectNetwork,
        set: &ImageSet,
    ) -> Result<Vec<Reconstruction>, String> {
        self.exclusive(self.reconstruct_in_turn(network, set)).await
    }

    async fn reconstruct_in_turn(
        &self,
        network: &DirectNetwork,
        set: &ImageSet,
    ) -> Result<Vec<Reconstruction>, String> {
        self.load(network).await?;
        let per_part = self.per_worker(set.count);
        let mut calls = Vec::new();
        let mut start = 0;
        for worker in &self.workers {
            if start >= set.count {
                break;
            }
            let part = set.range(start, per_part);
            start += part.count;
            let pixels = Float32Array::from(part.pixels.as_slice());
            let score = message("score");
            set_number(&score, "count", part.count);
            set_number(&score, "side", part.side);
            set_property(&score, "pixels", &pixels);
            calls.push(call_promise(
                worker.clone(),
                score,
                Array::of1(&pixels.buffer()),
            ));
        }
        let mut results = Vec::with_capacity(set.count);
        for out in all(calls).await? {
            let packed: Float32Array = out
                .dyn_into()
                .map_err(|_| "a scoring worker sent no numbers")?;
            results.extend(
                unpack_reconstructions(&packed.to_vec(), set.image_len())
                    .map_err(|e| e.to_string())?,
            );
        }
        if results.len() != set.count {
            return Err(format!(
                "the scoring workers returned {} of {} images",
                results.len(),
                set.count
            ));
        }
        Ok(results)
    }
}

/// What a worker made of a slice of files: each file's outcome (its prepared input and, when it
/// was scored, its reconstruction), in order.
pub type PreparedFiles = Vec<(
    driftglass_core::report::PreparedInput,
    Option<Reconstruction>,
)>;

impl WorkerPool {
    /// Read, decode, preprocess and reconstruct `files` on the workers, a contiguous slice
    /// each: the page's thread only hands over the `File` handles (reading a file's bytes and
    /// decoding it cost the page more than the network did).
    pub(crate) async fn prepare_and_reconstruct(
        &self,
        network: &DirectNetwork,
        files: Vec<web_sys::File>,
        config: &driftglass_core::PreprocessConfig,
    ) -> Result<PreparedFiles, String> {
        self.exclusive(self.prepare_in_turn(network, files, config))
            .await
    }

    async fn prepare_in_turn(
        &self,
        network: &DirectNetwork,
        files: Vec<web_sys::File>,
        config: &driftglass_core::PreprocessConfig,
    ) -> Result<PreparedFiles, String> {
        self.load(network).await?;
        let config = serde_json::to_string(config).map_err(|e| e.to_string())?;
        let per_part = self.per_worker(files.len());
        let calls = self
            .workers
            .iter()
            .zip(files.chunks(per_part))
            .map(|(worker, part)| {
                let request = message("prepare-score");
                set_property(&request, "files", &part.iter().collect::<Array>());
                set_property(&request, "config", &JsValue::from_str(&config));
                call_promise(worker.clone(), request, Array::new())
            })
            .collect();
        let image_len = network.image_len();
        let mut results = Vec::with_capacity(files.len());
        for out in all(calls).await? {
            results.extend(unpack_prepared(&out, image_len)?);
        }
        if results.len() != files.len() {
            return Err(format!(
                "the scoring workers returned {} of {} files",
                results.len(),
                files.len()
            ));
        }
        Ok(results)
    }

    /// Whether the workers still run.
    pub(crate) fn alive(&self) -> bool {
        self.alive.get()
    }
}

fn field<T: JsCast>(object: &JsValue, key: &str) -> Result<T, String> {
    Reflect::get(object, &JsValue::from_str(key))
        .ok()
        .and_then(|value| value.dyn_into::<T>().ok())
        .ok_or_else(|| format!("a scoring worker's reply has no {key}"))
}

#[cfg(feature = "hooks")]
thread_local! {
    /// Files the workers decoded with the browser's decoder (`driftglass_test_browser_decoded`).
    static BROWSER_DECODED: Cell<u32> = const { Cell::new(0) };
}

/// Test hook: how many files the scoring workers have decoded with the browser's decoder.
#[cfg(feature = "hooks")]
pub fn browser_decoded() -> u32 {
    BROWSER_DECODED.with(Cell::get)
}

/// A worker's reply to "prepare-score" (see [`worker_side::prepare_and_score`]).
fn unpack_prepared(out: &JsValue, image_len: usize) -> Result<PreparedFiles, String> {
    #[cfg(feature = "hooks")]
    if let Some(count) = Reflect::get(out, &JsValue::from_str("browserDecoded"))
        .ok()
        .and_then(|v| v.as_f64())
    {
        BROWSER_DECODED.with(|total| total.set(total.get() + count as u32));
    }
    let errors: Array = field(out, "errors")?;
    let properties: Vec<ImageProperties> = field::<js_sys::JsString>(out, "properties")
        .ok()
        .and_then(|json| serde_json::from_str(&String::from(json)).ok())
        .ok_or("a scoring worker's reply has no properties")?;
    let pixels = field::<Float32Array>(out, "pixels")?.to_vec();
    let packed = field::<Float32Array>(out, "packed")?.to_vec();
    let mut reconstructions = unpack_reconstructions(&packed, image_len)
        .map_err(|e| e.to_string())?
        .into_iter();
    let mut images = pixels.chunks_exact(image_len);
    let mut properties = properties.into_iter();
    errors
        .iter()
        .map(|error| match error.as_string() {
            Some(error) => Ok((Err(error), None)),
            None => {
                let (Some(pixels), Some(measured), Some(r)) =
                    (images.next(), properties.next(), reconstructions.next())
                else {
                    return Err("a scoring worker's reply is short".to_string());
                };
                Ok((Ok((pixels.to_vec(), measured)), Some(r)))
            }
        })
        .collect()
}

/// The pool, when the CPU scores on workers (started on first use); `None` where they cannot
/// run.
pub(crate) async fn ready_pool() -> Option<Rc<WorkerPool>> {
    pool().await.ok().filter(|pool| pool.alive())
}

/// Get the workers ready for `weights` before the first drop: start them, send them the
/// network and run a few blank images through each (its first call is its slowest), so that a
/// drop's first result does not wait for any of it. Does nothing where the workers cannot run.
pub async fn warm_up(weights: &Weights) {
    let (Ok(network), Some(pool)) = (DirectNetwork::new(weights), ready_pool().await) else {
        return;
    };
    let count = pool.workers.len() * MIN_IMAGES_PER_WORKER;
    let blank = ImageSet::with_shape(
        vec![0.0; count * network.image_len()],
        count,
        network.channels(),
        network.side(),
    );
    // A failure has already stopped the workers (see `WorkerPool::exclusive`).
    let _ = pool.reconstruct(&network, &blank).await;
}

/// Stop the workers for good after `why` (a failed call): the page scores on its own thread
/// from then on.
fn abandon(pool: &WorkerPool, why: String) {
    web_sys::console::warn_1(&JsValue::from_str(&format!(
        "{why}; Driftglass scores on the page's own thread from now on"
    )));
    pool.stop();
    POOL.with(|p| *p.borrow_mut() = Some(State::Unavailable(why)));
}

fn set_number(target: &Object, key: &str, value: usize) {
    set_property(target, key, &JsValue::from_f64(value as f64));
}

/// A network on the active backend, built once (for a drop, a measurement, a calibration).
pub enum Engine {
    /// The core's kernels: on the scoring workers, or this thread where they cannot run.
    Cpu(Box<DirectNetwork>),
    /// burn on WebGPU, in the GPU worker, with the packed weights (loaded there when they
    /// change).
    Gpu(Rc<crate::gpu::Gpu>, Vec<f32>),
}

impl Engine {
    /// `weights` on WebGPU (`gpu`) or the CPU kernels.
    pub async fn new(weights: &Weights, gpu: bool) -> Result<Engine, String> {
        if gpu {
            Ok(Engine::Gpu(crate::gpu::gpu().await?, weights.to_packed()))
        } else {
            DirectNetwork::new(weights)
                .map(|network| Engine::Cpu(Box::new(network)))
                .map_err(|e| e.to_string())
        }
    }

    /// Reconstruct and score `set` (on the page's thread in batches of `batch`).
    pub async fn reconstruct(
        &self,
        set: &ImageSet,
        batch: usize,
    ) -> Result<Vec<Reconstruction>, String> {
        match self {
            Engine::Cpu(direct) => reconstruct_on_cpu(direct, set, batch).await,
            Engine::Gpu(gpu, packed) => gpu.reconstruct(packed, set).await,
        }
    }
}

/// Reconstruct and score `set` as the app does: on the CPU with the core's kernels on the
/// workers when they run (falling back to this thread, with a warning, if they fail), or on
/// WebGPU (`gpu`).
pub async fn reconstruct(
    weights: &Weights,
    set: &ImageSet,
    gpu: bool,
    batch: usize,
) -> Result<Vec<Reconstruction>, String> {
    Engine::new(weights, gpu)
        .await?
        .reconstruct(set, batch)
        .await
}

/// The core's kernels on the workers, or on this thread where they cannot run.
async fn reconstruct_on_cpu(
    direct: &DirectNetwork,
    set: &ImageSet,
    batch: usize,
) -> Result<Vec<Reconstruction>, String> {
    if set.count >= 2
        && let Ok(pool) = pool().await
    {
        // On a failure the workers are already stopped: this thread scores instead.
        if let Ok(results) = pool.reconstruct(direct, set).await {
            return Ok(results);
        }
    }
    driftglass_core::reconstruct(direct, set, batch, |_| {}).map_err(|e| e.to_string())
}

/// The worker's side (called from `web/score-worker.js` through the exports of `main.rs`).
pub mod worker_side {
    use std::cell::RefCell;

    use driftglass_core::ImageSet;
    use driftglass_core::direct::{DirectNetwork, pack_reconstructions};

    thread_local! {
        static NETWORK: RefCell<Option<DirectNetwork>> = const { RefCell::new(None) };
    }

    /// Keep the network the page sent (see `DirectNetwork::packed`).
    pub fn load(values: Vec<f32>) -> Result<(), String> {
        let network = DirectNetwork::from_packed(values).map_err(|e| e.to_string())?;
        NETWORK.with(|n| *n.borrow_mut() = Some(network));
        Ok(())
    }

    /// What [`prepare_and_score`] made of a slice of files.
    pub struct Prepared {
        /// Per file, in order: why it could not be scored, or `None` when it was.
        pub errors: Vec<Option<String>>,
        /// What each scored file looks like as decoded (size, format, brightness, …).
        pub properties: Vec<driftglass_core::properties::ImageProperties>,
        /// The scored files' prepared inputs, `channels · side²` values each.
        pub pixels: Vec<f32>,
        /// Their reconstructions, packed (`pack_reconstructions`).
        pub packed: Vec<f32>,
        /// How many of them the browser's decoder decoded.
        pub browser_decoded: u32,
    }

    /// A file the worker's script already decoded with the browser's decoder (large JPEGs,
    /// where it is faster than ours: docs/benchmarks.md): its size and RGBA pixels.
    pub struct BrowserPixels {
        pub width: u32,
        pub height: u32,
        pub rgba: Vec<u8>,
    }

    /// Read, decode and preprocess `files` (as the page's thread would, see
    /// `pipeline::prepare`), then score those that gave an image. `decoded`: per file, the
    /// browser's pixels where the worker's script decoded it; they stand in for our decoder's
    /// only where the core vouches for them (`prepare_decoded_jpeg`), else the bytes are
    /// decoded here as always.
    pub fn prepare_and_score(
        files: &[web_sys::File],
        config: &str,
        mut decoded: Vec<Option<BrowserPixels>>,
    ) -> Result<Prepared, String> {
        decoded.resize_with(files.len(), || None);
        let config: driftglass_core::PreprocessConfig =
            serde_json::from_str(config).map_err(|e| e.to_string())?;
        let reader = web_sys::FileReaderSync::new()
            .map_err(|e| format!("this worker cannot read files: {e:?}"))?;
        let mut prepared = Prepared {
            errors: Vec::with_capacity(files.len()),
            properties: Vec::new(),
            pixels: Vec::new(),
            packed: Vec::new(),
            browser_decoded: 0,
        };
        let mut count = 0;
        for (file, browser) in files.iter().zip(decoded) {
            let input = match crate::pipeline::oversized(file.size()) {
                Some(error) => Err(error),
                None => match reader.read_as_array_buffer(file) {
                    Ok(buffer) => {
                        let bytes = js_sys::Uint8Array::new(&buffer).to_vec();
                        match browser.and_then(|b| {
                            driftglass_core::report::prepare_decoded_jpeg(
                                &bytes, b.width, b.height, b.rgba, &config,
                            )
                        }) {
                            Some(input) => {
                                prepared.browser_decoded += 1;
                                input
                            }
                            None => driftglass_core::report::prepare_image(&bytes, &config),
                        }
                    }
                    Err(error) => Err(format!(
                        "cannot read file: {}",
                        crate::input::describe(error)
                    )),
                },
            };
            match input {
                Ok((pixels, measured)) => {
                    prepared.errors.push(None);
                    prepared.properties.push(measured);
                    prepared.pixels.extend(pixels);
                    count += 1;
                }
                Err(error) => prepared.errors.push(Some(error)),
            }
        }
        if count > 0 {
            // The page gets the prepared pixels too (for the losses and the cards).
            prepared.packed = score(prepared.pixels.clone(), count, config.side)?;
        }
        Ok(prepared)
    }

    /// Score `count` images of `side`² values per channel of the network; the results packed
    /// (`pack_reconstructions`).
    pub fn score(pixels: Vec<f32>, count: usize, side: usize) -> Result<Vec<f32>, String> {
        NETWORK.with(|network| {
            let network = network.borrow();
            let network = network.as_ref().ok_or("no network loaded")?;
            let channels = network.channels();
            if side != network.side() || pixels.len() != count * network.image_len() {
                return Err(format!(
                    "{} values for {count} images of {side}×{side}; the network takes {channels}-channel {}×{}",
                    pixels.len(),
                    network.side(),
                    network.side()
                ));
            }
            let set = ImageSet::with_shape(pixels, count, channels, side);
            network
                .reconstruct_with_targets(&set, &set)
                .map(|results| pack_reconstructions(&results))
                .map_err(|e| e.to_string())
        })
    }
}
