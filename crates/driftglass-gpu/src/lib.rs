//! Driftglass on WebGPU, as a second wasm module: the page (`driftglass-web`, which links no
//! burn) fetches it only where the browser offers a WebGPU adapter, into a dedicated worker
//! (`web/gpu-worker.js`), and talks to it in plain arrays: packed weights in
//! (`Weights::to_packed`), packed reconstructions out (`pack_reconstructions`), a training step's
//! loss. Scoring is burn's forward pass on burn-wgpu; training is burn's autodiff as a
//! [`driftglass_core::train::Stepper`], driven step by step by the core's training loop in the
//! page.

#[cfg(target_arch = "wasm32")]
mod gpu;

#[cfg(target_arch = "wasm32")]
pub use gpu::*;
