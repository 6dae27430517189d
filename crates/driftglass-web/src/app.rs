//! The page: drop zone, backend badge, batch summary, card grid.

use std::cell::Cell;
use std::rc::Rc;

use driftglass_model::model_file::{self, LoadedModel};
use driftglass_model::report::{
    DEFAULT_FLAG_RATE, ImageOutcome, PreparedInput, Report, build_report, image_reports,
};
use driftglass_model::{ImageSet, PreprocessConfig, preprocess_bytes};
use js_sys::Promise;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::{JsFuture, spawn_local};
use web_sys::{DragEvent, File, FileList, HtmlInputElement};
use yew::prelude::*;

use crate::backend::{self, Backend, Preference};
use crate::view::{self, Card, SortOrder};

/// Images reconstructed per chunk; the page repaints between chunks.
const CHUNK: usize = 64;
/// Default alert threshold on the loss ratio (+10 %).
const DEFAULT_ALERT_RATIO: f64 = 1.10;

#[derive(Debug, Clone, PartialEq)]
struct Progress {
    done: usize,
    total: usize,
    stage: &'static str,
}

/// Wait for the next macrotask, so the browser can paint and handle input.
async fn yield_to_browser() {
    let promise = Promise::new(&mut |resolve, _| {
        if let Some(window) = web_sys::window() {
            let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, 0);
        }
    });
    let _ = JsFuture::from(promise).await;
}

fn files_of(list: Option<FileList>) -> Vec<File> {
    let Some(list) = list else { return Vec::new() };
    (0..list.length()).filter_map(|i| list.get(i)).collect()
}

/// Read, preprocess, reconstruct and score `files`, reporting progress; `None` if cancelled.
async fn score_files(
    files: Vec<File>,
    model: &LoadedModel,
    backend: &Backend,
    cancelled: &Cell<bool>,
    on_progress: &Callback<Progress>,
) -> Result<Option<(Report, Vec<Card>)>, String> {
    let config = PreprocessConfig::default();
    let total = files.len();
    let mut prepared: Vec<(String, PreparedInput)> = Vec::new();
    for (i, file) in files.into_iter().enumerate() {
        if cancelled.get() {
            return Ok(None);
        }
        let name = file.name();
        let bytes = gloo_file::futures::read_as_bytes(&gloo_file::File::from(file)).await;
        let result = match bytes {
            Ok(bytes) => preprocess_bytes(&bytes, &config)
                .map(|p| (p.pixels, p.source_width, p.source_height))
                .map_err(|e| e.to_string()),
            Err(error) => Err(format!("cannot read file: {error}")),
        };
        prepared.push((name, result));
        if i % CHUNK == CHUNK - 1 {
            on_progress.emit(Progress {
                done: i + 1,
                total,
                stage: "decoding",
            });
            yield_to_browser().await;
        }
    }
    let good: Vec<usize> = (0..prepared.len())
        .filter(|i| prepared[*i].1.is_ok())
        .collect();
    // The model is decoded once; its weights move to the active backend's device here.
    let network = burn::module::Module::to_device(model.model.clone(), &backend.device);
    let mut reconstructions = Vec::with_capacity(good.len());
    for chunk in good.chunks(CHUNK) {
        if cancelled.get() {
            return Ok(None);
        }
        let set = ImageSet::from_images(chunk.iter().filter_map(|i| {
            prepared[*i]
                .1
                .as_ref()
                .ok()
                .map(|(pixels, ..)| pixels.as_slice())
        }));
        let out = driftglass_model::reconstruct(&network, &set, &backend.device, CHUNK, |_| {})
            .await
            .map_err(|e| e.to_string())?;
        reconstructions.extend(out);
        on_progress.emit(Progress {
            done: reconstructions.len(),
            total: good.len(),
            stage: "reconstructing",
        });
        yield_to_browser().await;
    }
    let images = image_reports(
        prepared.iter().map(|(name, input)| (name.as_str(), input)),
        &reconstructions,
        &model.baseline,
        DEFAULT_FLAG_RATE,
    );
    // Input and reconstruction pixels of the scored images, for the cards' pictures.
    let pixels: Vec<(Vec<f32>, Vec<f32>)> = prepared
        .iter()
        .filter_map(|(_, input)| input.as_ref().ok())
        .zip(&reconstructions)
        .map(|((input, ..), r)| (input.clone(), r.pixels.clone()))
        .collect();
    let app = format!("driftglass-web {}", driftglass_model::VERSION);
    let report = build_report(&app, model, config, images, DEFAULT_FLAG_RATE);
    let cards = view::cards(&report, &pixels);
    Ok(Some((report, cards)))
}

#[function_component(App)]
pub fn app() -> Html {
    let model = use_state(|| {
        model_file::decode(
            driftglass_model::bundled::BUNDLED_MODEL,
            &burn::tensor::Device::flex(),
        )
        .map(Rc::new)
        .map_err(|e| e.to_string())
    });
    let backend = use_state(|| None::<Backend>);
    let preference = use_state(|| Preference::Auto);
    let report = use_state(|| None::<Report>);
    let cards = use_state(Vec::<Card>::new);
    let progress = use_state(|| None::<Progress>);
    let error = use_state(|| None::<String>);
    let sort = use_state(SortOrder::default);
    let flagged_only = use_state(|| false);
    let alert_ratio = use_state(|| DEFAULT_ALERT_RATIO);
    let cancel = use_mut_ref(|| Rc::new(Cell::new(false)));
    let dragging = use_state(|| false);

    {
        let backend = backend.clone();
        use_effect_with(*preference, move |preference| {
            let preference = *preference;
            backend.set(None);
            spawn_local(async move {
                backend.set(Some(backend::init(preference).await));
            });
        });
    }

    let on_files = {
        let (model, backend, report, cards, progress, error, cancel) = (
            model.clone(),
            backend.clone(),
            report.clone(),
            cards.clone(),
            progress.clone(),
            error.clone(),
            cancel.clone(),
        );
        Callback::from(move |files: Vec<File>| {
            let Ok(loaded) = (*model).clone() else { return };
            let Some(active) = (*backend).clone() else {
                error.set(Some(
                    "the backend is still starting; try again in a moment".into(),
                ));
                return;
            };
            if files.is_empty() {
                return;
            }
            let flag = Rc::new(Cell::new(false));
            *cancel.borrow_mut() = flag.clone();
            let (report, cards, progress, error) = (
                report.clone(),
                cards.clone(),
                progress.clone(),
                error.clone(),
            );
            progress.set(Some(Progress {
                done: 0,
                total: files.len(),
                stage: "decoding",
            }));
            error.set(None);
            spawn_local(async move {
                let on_progress = {
                    let progress = progress.clone();
                    Callback::from(move |p: Progress| progress.set(Some(p)))
                };
                match score_files(files, &loaded, &active, &flag, &on_progress).await {
                    Ok(Some((new_report, new_cards))) => {
                        report.set(Some(new_report));
                        cards.set(new_cards);
                    }
                    Ok(None) => error.set(Some("cancelled".into())),
                    Err(message) => error.set(Some(message)),
                }
                progress.set(None);
            });
        })
    };

    let ondrop = {
        let (on_files, dragging) = (on_files.clone(), dragging.clone());
        Callback::from(move |event: DragEvent| {
            event.prevent_default();
            dragging.set(false);
            on_files.emit(files_of(event.data_transfer().and_then(|d| d.files())));
        })
    };
    let ondragover = {
        let dragging = dragging.clone();
        Callback::from(move |event: DragEvent| {
            event.prevent_default();
            dragging.set(true);
        })
    };
    let ondragleave = {
        let dragging = dragging.clone();
        Callback::from(move |_| dragging.set(false))
    };
    let onchange = {
        let on_files = on_files.clone();
        Callback::from(move |event: Event| {
            let input = event
                .target()
                .and_then(|t| t.dyn_into::<HtmlInputElement>().ok());
            if let Some(input) = input {
                on_files.emit(files_of(input.files()));
                input.set_value("");
            }
        })
    };
    let on_cancel = {
        let cancel = cancel.clone();
        Callback::from(move |_| cancel.borrow().set(true))
    };
    let toggle_backend = {
        let preference = preference.clone();
        Callback::from(move |_| {
            preference.set(match *preference {
                Preference::Auto => Preference::Cpu,
                Preference::Cpu => Preference::Auto,
            })
        })
    };
    let toggle_sort = {
        let sort = sort.clone();
        Callback::from(move |_| {
            sort.set(match *sort {
                SortOrder::Input => SortOrder::MostDrifted,
                SortOrder::MostDrifted => SortOrder::Input,
            })
        })
    };
    let toggle_flagged = {
        let flagged_only = flagged_only.clone();
        Callback::from(move |_| flagged_only.set(!*flagged_only))
    };
    let on_threshold = {
        let alert_ratio = alert_ratio.clone();
        Callback::from(move |event: Event| {
            let value = event
                .target()
                .and_then(|t| t.dyn_into::<HtmlInputElement>().ok())
                .and_then(|i| i.value().parse::<f64>().ok());
            if let Some(percent) = value {
                alert_ratio.set(1.0 + percent / 100.0);
            }
        })
    };

    let badge = match &*backend {
        Some(b) => html! {
            <span class={classes!("badge", if b.is_gpu { "gpu" } else { "cpu" })} data-testid="backend">
                { format!("{}: {}", b.name, b.detail) }
            </span>
        },
        None => html! { <span class="badge" data-testid="backend">{ "starting…" }</span> },
    };
    let model_line = match &*model {
        Ok(m) => html! {
            <p class="model">{ format!(
                "Model: bundled MNIST autoencoder · baseline {} · mean loss {:.4}",
                m.baseline.dataset(), m.baseline.mean()
            ) }</p>
        },
        Err(e) => {
            html! { <p class="error">{ format!("The bundled model failed to load: {e}") }</p> }
        }
    };
    let summary = report.as_ref().map(|r| {
        let b = &r.batch;
        let drifted = b.loss_ratio.is_some_and(|ratio| ratio >= *alert_ratio);
        html! {
            <section class={classes!("summary", drifted.then_some("drifted"))} data-testid="summary">
                <div><span class="label">{ "images" }</span>
                    <span data-testid="scored">{ b.scored }</span>{ " scored, " }
                    <span data-testid="failed">{ b.failed }</span>{ " failed" }</div>
                <div><span class="label">{ "mean loss" }</span>
                    <span data-testid="mean-loss">{ b.mean_loss.map(|m| format!("{m:.6}")).unwrap_or_default() }</span></div>
                <div><span class="label">{ "loss ratio" }</span>
                    <span data-testid="ratio" data-value={ b.loss_ratio.map(|r| r.to_string()).unwrap_or_default() }>
                        { b.loss_ratio.map(view::format_ratio).unwrap_or_else(|| "—".into()) }</span></div>
                <div><span class="label">{ "flagged" }</span>
                    <span data-testid="flagged">{ b.flagged }</span>
                    { format!(" at {:.0} % false-positive rate", b.flag_rate * 100.0) }</div>
                if drifted {
                    <div class="alert" role="alert" data-testid="alert">
                        { format!("Drift: this batch reconstructs {} worse than the baseline (alert at {}).",
                            b.loss_ratio.map(view::format_ratio).unwrap_or_default(), view::format_ratio(*alert_ratio)) }
                    </div>
                }
            </section>
        }
    });
    let grid: Html = view::arrange(&cards, *sort, *flagged_only)
        .into_iter()
        .map(card_view)
        .collect();

    html! {
        <main>
            <header>
                <h1>{ "Driftglass" }</h1>
                { badge }
                <button onclick={toggle_backend} data-testid="toggle-backend">
                    { if *preference == Preference::Cpu { "Try WebGPU" } else { "Use CPU" } }
                </button>
            </header>
            <p class="privacy">{ "Everything runs in this tab: your images never leave your computer." }</p>
            { model_line }
            <label
                class={classes!("dropzone", dragging.then_some("over"))}
                data-testid="dropzone"
                {ondrop} {ondragover} {ondragleave}
            >
                <span>{ "Drop images here, or click to choose files (PNG, JPEG, GIF, WebP, BMP)" }</span>
                <input type="file" multiple=true accept="image/*" {onchange} data-testid="file-input" />
            </label>
            if let Some(p) = &*progress {
                <div class="progress" data-testid="progress">
                    <progress max={p.total.to_string()} value={p.done.to_string()} />
                    <span>{ format!("{} {}/{}", p.stage, p.done, p.total) }</span>
                    <button onclick={on_cancel}>{ "Cancel" }</button>
                </div>
            }
            if let Some(message) = &*error {
                <p class="error" data-testid="error">{ message }</p>
            }
            { for summary }
            <div class="controls">
                <label>{ "Alert when the loss ratio exceeds +" }
                    <input type="number" min="0" max="500" step="1"
                        value={ format!("{:.0}", (*alert_ratio - 1.0) * 100.0) } onchange={on_threshold} />
                    { " %" }</label>
                <span class="hint">{ "Clean MNIST batches stay within a few percent of the baseline; noisy or unfamiliar images go far above it." }</span>
                <button onclick={toggle_sort}>{ if *sort == SortOrder::MostDrifted { "Show in drop order" } else { "Most drifted first" } }</button>
                <button onclick={toggle_flagged}>{ if *flagged_only { "Show all" } else { "Only flagged" } }</button>
            </div>
            <section class="grid" data-testid="grid">{ grid }</section>
            <details class="how">
                <summary>{ "How it works" }</summary>
                <p>{ "A small neural network (a convolutional autoencoder) learned to redraw handwritten digits. \
                      It redraws images like the ones it learned well, and unfamiliar images badly. \
                      Each image's score is how badly it was redrawn, compared with how badly 10,000 digits it never saw were redrawn (the baseline). \
                      The loss ratio compares the whole batch with the baseline: +44 % means 44 % worse than usual." }</p>
            </details>
        </main>
    }
}

fn card_view(card: &Card) -> Html {
    match (&card.outcome, &card.images) {
        (ImageOutcome::Scored(s), Some(images)) => html! {
            <article class={classes!("card", s.flagged.then_some("flagged"))} data-testid="card"
                data-name={card.name.clone()} data-loss={s.loss.to_string()}
                data-p-value={s.p_value.to_string()}>
                <div class="pictures">
                    <img src={images.input.clone()} alt="input" />
                    <img src={images.reconstruction.clone()} alt="reconstruction" />
                    <img src={images.error.clone()} alt="error map" />
                </div>
                <div class="name">{ &card.name }</div>
                <div class="numbers">
                    { format!("loss {:.4} · {:.1} th percentile · p = {:.3}", s.loss, s.percentile, s.p_value) }
                    if s.flagged { <strong class="flag">{ " drifted" }</strong> }
                </div>
            </article>
        },
        (ImageOutcome::Failed { error }, _) => html! {
            <article class="card failed" data-testid="card-error" data-name={card.name.clone()}>
                <div class="name">{ &card.name }</div>
                <div class="error">{ error }</div>
            </article>
        },
        (ImageOutcome::Scored(_), None) => html! {},
    }
}
