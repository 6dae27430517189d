//! The page's entry point: mounts the app (see the library for everything else).

// wasm-ld wraps *every* export of a module whose exports never call `__wasm_call_ctors` in a
// shim that runs all static constructors first (it treats it as a "command"). cubecl registers
// its IR dialects with `inventory` constructors, so every call from JavaScript into wasm (each
// event handler, each future wake-up) re-ran them: measured at over 80 % of the page's CPU time
// (a 200-image demo took 26 s). Calling the constructors once, here, makes wasm-ld drop the
// shims.
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
    driftglass_web::app::install_panic_hook();
    yew::Renderer::<driftglass_web::app::App>::new().render();
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("driftglass-web runs in the browser: build it with `trunk serve` (see the README)");
}
