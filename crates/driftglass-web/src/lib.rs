//! Driftglass in the browser. The logic lives in `driftglass-core`; this crate is UI and browser
//! glue only: gathering files, running the core's pipeline in chunks, and rendering what it
//! returns. It links no burn, cubecl or wgpu: WebGPU is a second module (`driftglass-gpu`)
//! fetched into its own worker only where the browser offers an adapter ([`gpu`]).
//!
//! Data flows one way: dropped files ([`input`]) → bytes → preprocessed images →
//! reconstruction and per-image loss → report and statistics ([`pipeline`], all from the core)
//! → view state ([`view`], [`state`]: one reducer) → components ([`app`], [`components`]).

pub mod grid_layout;
pub mod lesson;
pub mod state;
pub mod view;

#[cfg(target_arch = "wasm32")]
pub mod app;
#[cfg(target_arch = "wasm32")]
pub mod backend;
#[cfg(all(target_arch = "wasm32", feature = "hooks"))]
pub mod bench;
#[cfg(target_arch = "wasm32")]
pub mod components;
#[cfg(target_arch = "wasm32")]
pub mod export;
#[cfg(target_arch = "wasm32")]
pub mod glue;
#[cfg(target_arch = "wasm32")]
pub mod gpu;
#[cfg(target_arch = "wasm32")]
pub mod input;
#[cfg(target_arch = "wasm32")]
pub mod pipeline;
#[cfg(target_arch = "wasm32")]
pub mod reference_panel;
#[cfg(target_arch = "wasm32")]
pub mod run;
#[cfg(target_arch = "wasm32")]
pub mod storage;
#[cfg(target_arch = "wasm32")]
pub mod training;
#[cfg(target_arch = "wasm32")]
pub mod workers;
