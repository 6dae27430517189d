//! Where a batch comes from: the drop zone (files and folders, and click to choose), the
//! folder picker, and the demo sets. Hands each batch's sources, with a label, to the page.

use yew::prelude::*;

use crate::components::model_bar::input_value;
use crate::glue::fetch_bytes;
use crate::input;
use crate::pipeline::{self, Source};
use crate::view::{DEMO_SETS, DemoSet, PHOTO_DEMO_COUNT, PHOTO_SETS, PhotoSet};

#[derive(Properties, PartialEq)]
pub struct DropZoneProps {
    /// A batch to score: its label ("dropped", "chosen", a demo set's title) and sources.
    pub on_sources: Callback<(String, Vec<Source>)>,
    /// A demo set that could not be fetched.
    pub on_error: Callback<String>,
    /// A set of the colour photo demo (scored with its colour model).
    pub on_photo_demo: Callback<PhotoSet>,
}

#[function_component(DropZone)]
pub fn drop_zone(props: &DropZoneProps) -> Html {
    let dragging = use_state(|| false);
    let zone = input::drop_zone(
        dragging.clone(),
        props
            .on_sources
            .reform(|sources| ("dropped".to_string(), sources)),
    );
    let on_pick = {
        let on_sources = props.on_sources.clone();
        Callback::from(move |event: Event| {
            if let Some(input) = input_value(&event) {
                on_sources.emit(("chosen".into(), input::sources_of(input.files())));
                input.set_value("");
            }
        })
    };
    let on_demo = {
        let (on_sources, on_error) = (props.on_sources.clone(), props.on_error.clone());
        Callback::from(move |set: DemoSet| {
            let (on_sources, on_error) = (on_sources.clone(), on_error.clone());
            wasm_bindgen_futures::spawn_local(async move {
                let file = set.path.rsplit('/').next().unwrap_or(set.path);
                match fetch_bytes(set.path)
                    .await
                    .and_then(|bytes| pipeline::idx_sources(file, bytes))
                {
                    Ok(sources) => on_sources.emit((set.title.into(), sources)),
                    Err(error) => on_error.emit(format!("{}: {error}", set.title)),
                }
            });
        })
    };
    let demos: Html = DEMO_SETS
        .iter()
        .map(|set| {
            let on_demo = on_demo.clone();
            let set = *set;
            html! {
                <button class="demo" title={set.blurb} data-testid={format!("demo-{}", set.id)}
                    onclick={Callback::from(move |_| on_demo.emit(set))}>{ set.title }</button>
            }
        })
        .collect();
    let photos: Html = PHOTO_SETS
        .iter()
        .map(|set| {
            let (on_photo_demo, set) = (props.on_photo_demo.clone(), *set);
            html! {
                <button class="demo" title={set.blurb} data-testid={format!("photo-{}", set.id)}
                    onclick={Callback::from(move |_| on_photo_demo.emit(set))}>{ set.title }</button>
            }
        })
        .collect();
    html! {
        <>
            <label
                class={classes!("dropzone", dragging.then_some("over"))}
                data-testid="dropzone"
                ondrop={zone.ondrop} ondragover={zone.ondragover} ondragleave={zone.ondragleave}
            >
                // A mouse drops or clicks; a touch screen taps the picker, its main path there
                // (style.css shows one sentence or the other by the pointer).
                <span class="pointer-fine">{ "Drop images or folders here, paste an image (Ctrl+V), or click to choose files." }</span>
                <span class="pointer-coarse" data-testid="touch-hint">{ "Tap to choose images from this device." }</span>
                <span class="formats">{ " PNG, JPEG, GIF, WebP, BMP, or MNIST-style IDX files." }</span>
                <input type="file" multiple=true accept="image/*,.idx,.gz,.idx3-ubyte" onchange={on_pick.clone()} data-testid="file-input" />
            </label>
            <div class="inputs">
                <label class="folder">{ "Or choose a folder: " }
                    <input type="file" webkitdirectory=true multiple=true onchange={on_pick} data-testid="folder-input" />
                </label>
                <span class="demos">{ "Demo sets (200 images each): " }{ demos }</span>
                <span class="demos">{ format!("Colour photographs ({PHOTO_DEMO_COUNT} patches each, scored with a 64×64 colour model that is loaded first): ") }{ photos }</span>
            </div>
        </>
    }
}
