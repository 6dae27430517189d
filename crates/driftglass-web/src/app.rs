//! The page: the model bar, where batches come from, the reference step, and the results (the
//! summary with its verdict and histogram, controls, downloads, timeline and the grid). Its
//! state is one reducer ([`crate::state`]); the numbers come from the core through
//! [`crate::pipeline`]; each part is a component.

use std::cell::Cell;
use std::rc::Rc;

use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use wasm_bindgen_futures::spawn_local;
use web_sys::ClipboardEvent;
use yew::prelude::*;

use crate::components::controls::Controls;
use crate::components::drop_zone::DropZone;
use crate::components::exports::Exports;
use crate::components::how_it_works::HowItWorks;
use crate::components::lesson::Lesson;
use crate::components::model_bar::{ModelAction, ModelBar};
use crate::components::practical::Practical;
use crate::components::results_grid::ResultsGrid;
use crate::components::summary::Summary;
use crate::components::timeline::Timeline;
use crate::export::{self, Export};
use crate::glue::fetch_bytes;
use crate::input::Dropped;
use crate::pipeline::Source;
use crate::state::{Action, ActiveModel, AppState, Origin, Preference};
use crate::view::{PHOTO_DEMO_COUNT, PHOTO_DEMO_DIR, PHOTO_MODEL_LABEL, PhotoSet};
use crate::{backend, storage};
use driftglass_core::model_file::LoadedModel;

impl Reducible for AppState {
    type Action = Action;

    fn reduce(self: Rc<Self>, action: Action) -> Rc<Self> {
        let mut state = Rc::unwrap_or_clone(self);
        state.apply(action);
        Rc::new(state)
    }
}

#[function_component(App)]
pub fn app() -> Html {
    // The model the page starts with: a stored one (the user asked for it to be kept), else
    // the bundled one.
    let state = use_reducer(|| {
        let (model, message) = startup_model();
        AppState::new(model, message)
    });
    let dispatch = {
        let dispatcher = state.dispatcher();
        Callback::from(move |action| dispatcher.dispatch(action))
    };
    // Runs are numbered; a new one cancels the one before through its flag.
    let runs = use_mut_ref(|| 0u32);
    let cancel = use_mut_ref(|| Rc::new(Cell::new(false)));

    {
        let dispatch = dispatch.clone();
        use_effect_with(state.preference, move |preference| {
            let preference = *preference;
            dispatch.emit(Action::BackendChoosing);
            spawn_local(async move {
                // Measuring both backends takes a few seconds: the page works on the CPU
                // meanwhile and switches if WebGPU turns out faster.
                if preference == Preference::Auto {
                    let cpu = backend::init(Preference::Cpu).await;
                    dispatch.emit(Action::BackendReady(
                        cpu.with_detail("checking whether WebGPU is faster here…"),
                    ));
                    crate::glue::announce_interactive();
                }
                dispatch.emit(Action::BackendReady(backend::init(preference).await));
                crate::glue::announce_interactive();
            });
        });
    }

    // On the CPU, the workers get the active model's network as soon as they can, not with the
    // first drop (again once the backend is settled: its measurement runs the bundled model).
    {
        let model = state.model.as_ref().ok().map(|m| m.loaded.clone());
        let key = (
            model.as_ref().map(|m| m.sha256.clone()),
            state.backend.clone(),
        );
        use_effect_with(key, move |(_, backend)| {
            if let (Some(model), Some(backend)) = (model, backend)
                && !backend.is_gpu
            {
                spawn_local(async move { crate::workers::warm_up(&model.weights).await });
            }
        });
    }

    // A new model ends the run of the old one (its cards and numbers belong to that model).
    {
        let cancel = cancel.clone();
        let sha = state.model.as_ref().ok().map(|m| m.loaded.sha256.clone());
        use_effect_with(sha, move |_| cancel.borrow().set(true));
    }

    // Start scoring `sources` with `model`; a new run cancels the one before.
    let start_with = {
        let (state, dispatch, runs, cancel) = (
            state.clone(),
            dispatch.clone(),
            runs.clone(),
            cancel.clone(),
        );
        Callback::from(
            move |(label, sources, model): (String, Vec<Source>, Rc<LoadedModel>)| {
                let Some(backend) = state.backend.clone() else {
                    dispatch.emit(Action::Error(
                        "The backend is still starting; try again in a moment.".into(),
                    ));
                    return;
                };
                if sources.is_empty() {
                    dispatch.emit(Action::Error(format!("{label}: no files found.")));
                    return;
                }
                cancel.borrow().set(true);
                let flag = Rc::new(Cell::new(false));
                *cancel.borrow_mut() = flag.clone();
                *runs.borrow_mut() += 1;
                let run = *runs.borrow();
                crate::run::start(run, label, sources, model, backend, flag, dispatch.clone());
            },
        )
    };
    // Start scoring `sources` with the active model.
    let on_sources = {
        let (state, dispatch, start_with) = (state.clone(), dispatch.clone(), start_with.clone());
        Callback::from(
            move |(label, sources): (String, Vec<Source>)| match &state.model {
                Ok(active) => start_with.emit((label, sources, active.loaded.clone())),
                Err(error) => {
                    dispatch.emit(Action::Error(format!("The model did not load: {error}")))
                }
            },
        )
    };
    // A set of the colour photo demo: its colour model becomes the active one (fetched the
    // first time), then the set's files are fetched and scored as dropped files are.
    let on_photo_demo = {
        let (state, dispatch) = (state.clone(), dispatch.clone());
        Callback::from(move |set: PhotoSet| {
            let (dispatch, start_with) = (dispatch.clone(), start_with.clone());
            let active = state
                .model
                .as_ref()
                .ok()
                .filter(|m| m.origin == Origin::Demo)
                .map(|m| m.loaded.clone());
            spawn_local(async move {
                match photo_demo(set, active, &dispatch).await {
                    Ok((sources, model)) => start_with.emit((set.title.into(), sources, model)),
                    Err(error) => dispatch.emit(Action::Error(format!("{}: {error}", set.title))),
                }
            });
        })
    };
    // Listeners registered once (paste) call the latest callback through this cell.
    let latest_on_sources = use_mut_ref(|| on_sources.clone());
    *latest_on_sources.borrow_mut() = on_sources.clone();
    {
        let latest = latest_on_sources.clone();
        use_effect_with((), move |_| {
            let listener =
                Closure::<dyn FnMut(ClipboardEvent)>::new(move |event: ClipboardEvent| {
                    let Some(data) = event.clipboard_data() else {
                        return;
                    };
                    // Pasting text is not an error: only pasted files start a run.
                    let latest = latest.clone();
                    Dropped::gather(&data, move |sources| {
                        if !sources.is_empty() {
                            latest.borrow().emit(("pasted".into(), sources));
                        }
                    });
                });
            let document = web_sys::window().and_then(|w| w.document());
            if let Some(document) = &document {
                let _ = document
                    .add_event_listener_with_callback("paste", listener.as_ref().unchecked_ref());
            }
            move || {
                if let Some(document) = document {
                    let _ = document.remove_event_listener_with_callback(
                        "paste",
                        listener.as_ref().unchecked_ref(),
                    );
                }
            }
        });
    }

    let on_cancel = {
        let cancel = cancel.clone();
        Callback::from(move |_| cancel.borrow().set(true))
    };
    // On WebGPU the button offers the CPU; on the CPU (chosen, or for want of an adapter) it
    // offers to try WebGPU again.
    let on_gpu = state.backend.as_ref().is_some_and(|b| b.is_gpu);
    let toggle_backend = dispatch.reform(move |_: MouseEvent| {
        Action::Prefer(if on_gpu {
            Preference::Cpu
        } else {
            Preference::Gpu
        })
    });
    let on_export = {
        let (state, dispatch) = (state.clone(), dispatch.clone());
        Callback::from(move |what: Export| {
            let Some((_, view)) = &state.batch else {
                return;
            };
            let model_label = state.model.as_ref().map_or("", |m| m.label.as_str());
            let backend = state.run_info.as_ref().map_or("", |r| r.backend.as_str());
            let context = export::Context {
                timeline: &state.timeline,
                alert_ratio: state.alert_ratio,
                model_label,
                backend,
            };
            if let Err(error) = export::batch(what, view, &context) {
                dispatch.emit(Action::Error(error));
            }
        })
    };
    let on_trained = dispatch.reform(|made: Rc<crate::training::MadeModel>| {
        let label = format!(
            "trained in this page on {}",
            made.loaded
                .header
                .training
                .as_ref()
                .map(|t| t.training_data.as_str())
                .unwrap_or("your images")
        );
        Action::ModelChanged {
            model: ActiveModel {
                label,
                origin: Origin::Trained,
                bytes: Rc::new(made.bytes.clone()),
                loaded: Rc::new(made.loaded.clone()),
            },
            note: "The model trained on your reference images is now the active model.".into(),
        }
    });
    let on_model_action = {
        let (state, dispatch) = (state.clone(), dispatch.clone());
        Callback::from(move |action: ModelAction| model_action(action, &state, &dispatch))
    };

    let badge = match &state.backend {
        Some(b) => html! {
            <span class={classes!("badge", if b.is_gpu { "gpu" } else { "cpu" })} data-testid="backend"
                title="Where the network runs">
                { format!("{}: {}", b.name, b.detail) }
            </span>
        },
        None => html! { <span class="badge" data-testid="backend">{ "starting…" }</span> },
    };
    // Said once per finished run (a live region that changed with every chunk would talk all
    // through a large drop).
    let announcement = match (&state.run_info, &state.batch) {
        (Some(info), Some((_, view))) if view.report.is_some() => {
            let b = &view.batch;
            format!(
                "{}: {} inputs {}; {} scored, {} failed{}{}",
                info.label,
                info.inputs,
                if info.complete {
                    "scored"
                } else {
                    "partly scored (cancelled)"
                },
                b.scored,
                b.failed,
                b.loss_ratio
                    .map(|r| format!("; loss ratio {}", crate::view::format_ratio(r)))
                    .unwrap_or_default(),
                b.tests
                    .as_ref()
                    .map(|t| format!("; verdict: {}", t.verdict.headline()))
                    .unwrap_or_default()
            )
        }
        _ => String::new(),
    };
    let run_line = state.run_info.as_ref().map(|info| {
        html! {
            <p class="run" data-testid="run-info" data-complete={info.complete.to_string()}
                data-total-ms={info.total_ms.to_string()}>
                { format!("{}: {} inputs {} in {:.1} s on {}{}",
                    info.label, info.inputs,
                    if info.complete { "scored" } else { "partly scored (cancelled)" },
                    info.total_ms / 1000.0, info.backend,
                    info.first_result_ms.map(|ms| format!("; first result after {:.0} ms", ms)).unwrap_or_default()) }
            </p>
        }
    });

    html! {
        <main>
            <header>
                <h1>{ "Driftglass" }</h1>
                { badge }
                <button onclick={toggle_backend} data-testid="toggle-backend">
                    { if on_gpu { "Use CPU" } else { "Try WebGPU" } }
                </button>
            </header>
            <p class="privacy">{ "Everything runs in this tab: your images never leave your computer." }</p>
            <Lesson />
            <ModelBar model={state.model.clone()} stored={state.stored} on_action={on_model_action} />
            <DropZone on_sources={on_sources} on_error={dispatch.reform(Action::Error)} {on_photo_demo} />
            // The panel keeps its own state: it sits at a fixed place among <main>'s children
            // (everything that comes and goes is inside the <div> after it), so yew never
            // re-creates it when results appear or disappear.
            <crate::reference_panel::ReferencePanel backend={state.backend.clone()} on_model={on_trained} />
            <div class="results">
            <p class="visually-hidden" aria-live="polite" data-testid="announce">{ announcement }</p>
            if let Some(text) = &state.notice {
                <p class="notice" data-testid="notice" role="status">{ text }</p>
            }
            if let Some(p) = &state.progress {
                <div class="progress" data-testid="progress" aria-live="polite">
                    <progress max={p.total.to_string()} value={p.done.to_string()} />
                    <span>{ format!("{} of {} inputs", p.done, p.total) }</span>
                    <button onclick={on_cancel} data-testid="cancel">{ "Cancel" }</button>
                </div>
            }
            if let Some(text) = &state.message {
                <p class="error" data-testid="error" role="status">{ text }</p>
            }
            { for run_line }
            if let Some((run, view)) = &state.batch {
                <Summary run={*run} view={view.clone()} alert_ratio={state.alert_ratio} />
            }
            <Controls sort={state.sort} flagged_only={state.flagged_only} alert_ratio={state.alert_ratio}
                on_action={dispatch.clone()} />
            if state.batch.is_some() {
                <Practical practical={state.practical} on_action={dispatch.clone()} />
            }
            if state.batch.is_some() {
                <Exports {on_export} />
            }
            <Timeline points={state.timeline.clone()} alert_ratio={state.alert_ratio}
                on_clear={dispatch.reform(|_| Action::ClearTimeline)} />
            if let Some((_, view)) = &state.batch {
                <ResultsGrid cards={view.cards.clone()} sort={state.sort} flagged_only={state.flagged_only} />
            }
            </div>
            <HowItWorks />
        </main>
    }
}

/// What the model bar asked for: load a file, go back to the bundled model, download the
/// model, keep it in (or forget it from) this browser.
fn model_action(action: ModelAction, state: &AppState, dispatch: &Callback<Action>) {
    match action {
        ModelAction::Load(file) => {
            let dispatch = dispatch.clone();
            spawn_local(async move {
                let name = file.name();
                dispatch.emit(match load_model_file(file).await {
                    Ok(model) => Action::ModelChanged {
                        model,
                        note: format!("Loaded the model file {name}."),
                    },
                    Err(error) => Action::Error(format!("{name}: {error}")),
                });
            });
        }
        ModelAction::Bundled => dispatch.emit(match ActiveModel::bundled() {
            Ok(model) => Action::ModelChanged {
                model,
                note: "Back to the bundled MNIST model.".into(),
            },
            Err(error) => Action::Error(error),
        }),
        ModelAction::Download => {
            if let Ok(active) = &state.model {
                let result = export::download(
                    &active.file_name(),
                    "application/octet-stream",
                    &active.bytes,
                );
                if let Err(error) = result {
                    dispatch.emit(Action::Error(format!("Download failed: {error}")));
                }
            }
        }
        ModelAction::Keep(keep) => {
            let result = match (&state.model, keep) {
                (Ok(active), true) => storage::save(&active.label, &active.bytes),
                (_, false) => storage::forget(),
                (Err(_), true) => Err("no model to keep".into()),
            };
            dispatch.emit(match result {
                Ok(()) => Action::Kept(keep),
                Err(error) => Action::Error(format!("Could not change storage: {error}")),
            });
        }
    }
}

/// The model the page starts with: the one kept in this browser if the user kept one (and it
/// still loads), else the bundled one; with a message when a kept model could not be used.
fn startup_model() -> (Result<Rc<ActiveModel>, String>, Option<String>) {
    let kept = match storage::load() {
        Ok(Some((label, bytes))) => match ActiveModel::from_bytes(label, Origin::Stored, bytes) {
            Ok(active) => return (Ok(Rc::new(active)), None),
            Err(error) => Some(format!(
                "The model kept in this browser could not be loaded ({error}); using the bundled model."
            )),
        },
        Ok(None) => None,
        Err(error) => Some(format!("Browser storage is not available: {error}")),
    };
    (ActiveModel::bundled().map(Rc::new), kept)
}

/// The colour photo demo's model (`active` if it is already the active one, else fetched and
/// made active) and the files of `set`, as sources named `{set}/{file}`.
async fn photo_demo(
    set: PhotoSet,
    active: Option<Rc<LoadedModel>>,
    dispatch: &Callback<Action>,
) -> Result<(Vec<Source>, Rc<LoadedModel>), String> {
    let model = match active {
        Some(model) => model,
        None => {
            let bytes = fetch_bytes(&format!("{PHOTO_DEMO_DIR}/model.dgm")).await?;
            let model = ActiveModel::from_bytes(PHOTO_MODEL_LABEL.into(), Origin::Demo, bytes)?;
            let loaded = model.loaded.clone();
            dispatch.emit(Action::ModelChanged {
                model,
                note: "The colour photo demo's model is now the active model.".into(),
            });
            loaded
        }
    };
    let names: Vec<String> = (0..PHOTO_DEMO_COUNT)
        .map(|i| format!("{}/{i:04}.{}", set.id, set.extension))
        .collect();
    let fetched = futures::future::join_all(names.iter().map(|name| {
        let path = format!("{PHOTO_DEMO_DIR}/{name}");
        async move { fetch_bytes(&path).await }
    }))
    .await;
    let mut sources = Vec::with_capacity(names.len());
    for (name, bytes) in names.into_iter().zip(fetched) {
        sources.push(Source::File {
            file: crate::glue::file_of(&bytes?, &name)?,
            name,
        });
    }
    Ok((sources, model))
}

async fn load_model_file(file: web_sys::File) -> Result<ActiveModel, String> {
    if file.size() > (64 << 20) as f64 {
        return Err("too large for a model file (over 64 MiB)".into());
    }
    let name = file.name();
    let bytes = gloo_file::futures::read_as_bytes(&gloo_file::File::from(file))
        .await
        .map_err(|e| format!("cannot read the file: {e}"))?;
    ActiveModel::from_bytes(format!("model file {name}"), Origin::File, bytes)
}
