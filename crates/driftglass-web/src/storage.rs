//! Keeping a model in this browser's own storage (`localStorage`), only when the user asks for
//! it. The model file's bytes are stored base64-encoded with a label; nothing leaves the machine.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use web_sys::Storage;

const MODEL_KEY: &str = "driftglass.model.v1";
const LABEL_KEY: &str = "driftglass.model.label.v1";

fn storage() -> Result<Storage, String> {
    web_sys::window()
        .ok_or("no window")?
        .local_storage()
        .map_err(|e| format!("this browser refuses storage: {e:?}"))?
        .ok_or_else(|| "this browser offers no local storage".to_string())
}

/// Store a model file's bytes under `label`, replacing any stored model.
pub fn save(label: &str, bytes: &[u8]) -> Result<(), String> {
    let storage = storage()?;
    storage
        .set_item(MODEL_KEY, &STANDARD.encode(bytes))
        .and_then(|()| storage.set_item(LABEL_KEY, label))
        .map_err(|e| {
            let _ = storage.remove_item(MODEL_KEY);
            format!("the browser's storage is full or refused the model ({e:?})")
        })
}

/// The stored model's label and bytes, if one is stored (and decodes from base64).
pub fn load() -> Result<Option<(String, Vec<u8>)>, String> {
    let storage = storage()?;
    let Some(encoded) = storage.get_item(MODEL_KEY).ok().flatten() else {
        return Ok(None);
    };
    let bytes = STANDARD
        .decode(encoded)
        .map_err(|e| format!("the stored model is damaged ({e}); forget it and store it again"))?;
    let label = storage
        .get_item(LABEL_KEY)
        .ok()
        .flatten()
        .unwrap_or_else(|| "stored model".into());
    Ok(Some((label, bytes)))
}

/// Remove the stored model.
pub fn forget() -> Result<(), String> {
    let storage = storage()?;
    storage
        .remove_item(MODEL_KEY)
        .and_then(|()| storage.remove_item(LABEL_KEY))
        .map_err(|e| format!("{e:?}"))
}
