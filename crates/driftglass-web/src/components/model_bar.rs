//! The model bar: the active model and its baseline, with loading a model file, going back to the
//! bundled model, downloading the model and keeping it in this browser.

use std::rc::Rc;

use web_sys::HtmlInputElement;
use yew::prelude::*;

use crate::state::{ActiveModel, Origin};

/// The input element an event came from.
pub fn input_value(event: &Event) -> Option<HtmlInputElement> {
    use wasm_bindgen::JsCast;
    event
        .target()
        .and_then(|t| t.dyn_into::<HtmlInputElement>().ok())
}

/// What the model bar's controls ask for.
#[derive(Debug, Clone)]
pub enum ModelAction {
    Load(web_sys::File),
    Bundled,
    Download,
    Keep(bool),
}

#[derive(Properties)]
pub struct ModelBarProps {
    /// The active model, or why none loaded.
    pub model: Result<Rc<ActiveModel>, String>,
    /// Whether it is kept in this browser's storage.
    pub stored: bool,
    pub on_action: Callback<ModelAction>,
}

impl PartialEq for ModelBarProps {
    fn eq(&self, other: &Self) -> bool {
        let same_model = match (&self.model, &other.model) {
            (Ok(a), Ok(b)) => Rc::ptr_eq(a, b),
            (Err(a), Err(b)) => a == b,
            _ => false,
        };
        same_model && self.stored == other.stored && self.on_action == other.on_action
    }
}

/// The model bar: which model scores, its baseline, and loading, downloading and keeping models.
#[function_component(ModelBar)]
pub fn model_bar(props: &ModelBarProps) -> Html {
    let (model, stored, on_action) = (&props.model, props.stored, &props.on_action);
    let active = match model {
        Ok(active) => active,
        Err(error) => return html! { <p class="error">{ error }</p> },
    };
    let m = &active.loaded;
    let training = m.header.training.as_ref().map(|t| {
        format!(
            " · trained {} epochs on {} ({})",
            t.history.len(),
            t.training_data,
            t.device
        )
    });
    let on_load = {
        let on_action = on_action.clone();
        Callback::from(move |event: Event| {
            if let Some(input) = input_value(&event) {
                if let Some(file) = input.files().and_then(|f| f.get(0)) {
                    on_action.emit(ModelAction::Load(file));
                }
                input.set_value("");
            }
        })
    };
    let action = |what: ModelAction| {
        let on_action = on_action.clone();
        Callback::from(move |_| on_action.emit(what.clone()))
    };
    let on_keep = {
        let on_action = on_action.clone();
        Callback::from(move |event: Event| {
            if let Some(input) = input_value(&event) {
                on_action.emit(ModelAction::Keep(input.checked()));
            }
        })
    };
    html! {
        <div class="model" data-testid="model" data-origin={format!("{:?}", active.origin)}
            data-sha256={m.sha256.clone()} data-baseline-mean={m.baseline.mean().to_string()}
            data-channels={m.header.preprocess.channels.to_string()}>
            <p>{ format!("Model: {} ({}×{} {}) · baseline: {} · mean loss {:.4}{}",
                active.label, m.header.preprocess.side, m.header.preprocess.side,
                if m.header.preprocess.channels == 3 { "colour" } else { "gray" },
                m.baseline.dataset(), m.baseline.mean(), training.unwrap_or_default()) }</p>
            <div class="model-actions">
                <button onclick={action(ModelAction::Download)} data-testid="model-download">{ "Download this model (.dgm)" }</button>
                <label class="file-button">{ "Load a model file: " }
                    <input type="file" accept=".dgm,application/octet-stream" onchange={on_load} data-testid="model-file-input" /></label>
                if active.origin != Origin::Bundled {
                    <button onclick={action(ModelAction::Bundled)} data-testid="model-bundled">{ "Use the bundled MNIST model" }</button>
                }
                <label title="Stored in this browser's local storage on this computer; never uploaded.">
                    <input type="checkbox" checked={stored} onchange={on_keep} data-testid="model-keep" />
                    { " Keep this model in this browser" }</label>
            </div>
        </div>
    }
}
