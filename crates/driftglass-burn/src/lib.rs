//! Driftglass on burn: the autoencoder as a burn `Module` (the reference definition), its
//! forward pass on any device (WebGPU in the browser), training through autodiff, and the
//! conversion to and from the core's plain [`driftglass_core::Weights`].
//!
//! Layers, one direction: `driftglass-core` (no burn) ← this crate ← apps. The core's CPU
//! kernels are held to this crate's forward pass and autodiff by the agreement tests
//! (`tests/agreement.rs`).

pub mod adadelta;
pub mod loss;
pub mod model;
pub mod score;
pub mod train;

pub use model::Autoencoder;
