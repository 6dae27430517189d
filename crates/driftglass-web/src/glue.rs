//! Browser glue shared across the page: the clock, waiting without blocking the page, fetching
//! the page's own files, the panic panel, and saying that the app is interactive. (Files and drops are `input`'s, workers
//! `workers`' and `gpu`'s, storage `storage`'s, downloads `export`'s.)

use js_sys::Promise;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// Milliseconds since the page started (0 outside a window).
pub fn now_ms() -> f64 {
    web_sys::window()
        .and_then(|w| w.performance())
        .map(|p| p.now())
        .unwrap_or(0.0)
}

/// Tell the page's other scripts that the app can score (`web/offline.js` installs the service
/// worker then: its first install downloads the page's files again, and on a slow line that
/// download would compete with the app's own start).
pub fn announce_interactive() {
    if let Some(window) = web_sys::window()
        && let Ok(event) = web_sys::Event::new("driftglass-interactive")
    {
        let _ = window.dispatch_event(&event);
    }
}

/// Wait for the next macrotask, so the browser can paint and handle input.
pub async fn yield_to_browser() {
    sleep_ms(0).await;
}

/// Wait `ms` milliseconds without blocking the page.
pub async fn sleep_ms(ms: i32) {
    let promise = Promise::new(&mut |resolve, _| {
        if let Some(window) = web_sys::window() {
            let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
        }
    });
    let _ = JsFuture::from(promise).await;
}

/// Fetch one of the page's own static files.
pub async fn fetch_bytes(path: &str) -> Result<Vec<u8>, String> {
    let window = web_sys::window().ok_or("no window")?;
    let response: web_sys::Response = JsFuture::from(window.fetch_with_str(path))
        .await
        .map_err(|e| format!("cannot fetch {path}: {e:?}"))?
        .unchecked_into();
    if !response.ok() {
        return Err(format!("cannot fetch {path}: HTTP {}", response.status()));
    }
    let buffer = JsFuture::from(response.array_buffer().map_err(|e| format!("{e:?}"))?)
        .await
        .map_err(|e| format!("cannot read {path}: {e:?}"))?;
    Ok(js_sys::Uint8Array::new(&buffer).to_vec())
}

/// A browser `File` named `name` holding `bytes` (the demo's fetched files, scored as dropped
/// files are).
pub fn file_of(bytes: &[u8], name: &str) -> Result<web_sys::File, String> {
    let parts = js_sys::Array::of1(&js_sys::Uint8Array::from(bytes));
    web_sys::File::new_with_u8_array_sequence(&parts, name).map_err(|e| format!("{e:?}"))
}

/// Show a readable message in the page when the wasm code panics (instead of a dead page), and
/// log it to the console. Installed through yew, which would otherwise replace any hook with
/// its own console-only one when the app mounts.
pub fn install_panic_hook() {
    yew::set_custom_panic_hook(Box::new(|info| {
        let message = format!("Driftglass stopped because of an internal error: {info}");
        web_sys::console::error_1(&JsValue::from_str(&message));
        let Some(document) = web_sys::window().and_then(|w| w.document()) else {
            return;
        };
        if let (Ok(panel), Some(body)) = (document.create_element("div"), document.body()) {
            panel.set_class_name("panic");
            let _ = panel.set_attribute("role", "alert");
            let _ = panel.set_attribute("data-testid", "panic");
            panel.set_text_content(Some(&message));
            if let Ok(link) = document.create_element("a") {
                let _ = link.set_attribute("href", "");
                link.set_text_content(Some(" Reload the page to start again."));
                let _ = panel.append_child(&link);
            }
            let _ = body.prepend_with_node_1(&panel);
        }
    }));
}
