//! Driftglass in the browser. The logic lives in `driftglass-model`; this crate is UI and
//! browser glue only.

#[cfg(target_arch = "wasm32")]
mod app;
#[cfg(target_arch = "wasm32")]
mod backend;
pub mod view;

#[cfg(target_arch = "wasm32")]
fn main() {
    yew::Renderer::<app::App>::new().render();
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("driftglass-web runs in the browser: build it with `trunk serve` (see the README)");
}
