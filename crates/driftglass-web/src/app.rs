//! The page: inputs (drop zone, pickers, paste, demo sets), backend badge, progress, batch
//! summary with histogram, and the card grid. It renders view state; the numbers come from the
//! model crate through [`crate::pipeline`].

use std::cell::Cell;
use std::rc::Rc;

use driftglass_core::model_file::{self, LoadedModel};
use driftglass_core::report::{DEFAULT_FLAG_RATE, to_csv};
use driftglass_core::stats::{DEFAULT_ALPHA, Verdict};
use wasm_bindgen::JsCast;
use wasm_bindgen::closure::Closure;
use wasm_bindgen_futures::spawn_local;
use web_sys::ClipboardEvent;
use yew::prelude::*;

use crate::backend::{self, Backend, Preference};
use crate::components::card::ResultCard;
use crate::components::model_bar::{ModelAction, ModelBar, input_value};
use crate::components::summary::Summary;
use crate::glue::{fetch_bytes, now_ms};
use crate::input::{self, Dropped};
use crate::pipeline::{self, BatchView, Progress, Source};
use crate::view::{self, DEMO_SETS, DemoSet, SortOrder, TimelinePoint};
use crate::{export, storage};

/// Default alert threshold on the loss ratio: +10 %. Batches of clean MNIST digits stay within
/// a few percent of the baseline; noise, letters and clothes go far beyond it.
const DEFAULT_ALERT_RATIO: f64 = 1.10;
/// Cards rendered at first, and added per "show more".
const CARDS_PER_PAGE: usize = 240;

/// What a download button exports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Export {
    Json,
    Csv,
    HistogramSvg,
    HistogramPng,
    TimelineSvg,
    TimelinePng,
}

/// A run that finished (or was cancelled): how many inputs, how long, where.
#[derive(Debug, Clone, PartialEq)]
struct RunInfo {
    label: String,
    inputs: usize,
    first_result_ms: Option<f64>,
    total_ms: f64,
    backend: String,
    complete: bool,
}

#[function_component(App)]
pub fn app() -> Html {
    // The active model and whether it is kept in this browser's storage; a stored model (the
    // user asked for it to be kept) is the one the page starts with.
    let startup = use_memo((), |_| startup_model());
    let model = use_state(|| startup.0.clone());
    let stored = use_state(|| startup.0.as_ref().is_ok_and(|m| m.origin == Origin::Stored));
    let backend = use_state(|| None::<Backend>);
    let preference = use_state(|| Preference::Auto);
    // The batch on show, with the number of the run that made it (for tests and stale runs).
    let batch = use_state(|| None::<(u32, BatchView)>);
    let runs = use_mut_ref(|| 0u32);
    let progress = use_state(|| None::<Progress>);
    let message = use_state(|| startup.1.clone());
    // What just happened that is not an error (a model was loaded, kept, ...).
    let notice = use_state(|| None::<String>);
    let run_info = use_state(|| None::<RunInfo>);
    let sort = use_state(SortOrder::default);
    let flagged_only = use_state(|| false);
    let alert_ratio = use_state(|| DEFAULT_ALERT_RATIO);
    let shown = use_state(|| CARDS_PER_PAGE);
    let cancel = use_mut_ref(|| Rc::new(Cell::new(false)));
    // Finished batches, for the timeline (appended by runs, read by the render).
    let timeline = use_mut_ref(Vec::<TimelinePoint>::new);
    let timeline_version = use_state(|| 0u32);
    let dragging = use_state(|| false);

    {
        let backend = backend.clone();
        use_effect_with(*preference, move |preference| {
            let preference = *preference;
            backend.set(None);
            spawn_local(async move {
                // Measuring both backends takes a few seconds: the page works on the CPU
                // meanwhile and switches if WebGPU turns out faster.
                if preference == Preference::Auto {
                    backend.set(Some(
                        backend::init(Preference::Cpu)
                            .await
                            .with_detail("checking whether WebGPU is faster here…"),
                    ));
                }
                backend.set(Some(backend::init(preference).await));
            });
        });
    }

    // Start scoring `sources`; a new run cancels the one before.
    let on_sources = {
        let (timeline, runs, model, backend, batch, progress, message, run_info, shown, cancel) = (
            timeline.clone(),
            runs.clone(),
            model.clone(),
            backend.clone(),
            batch.clone(),
            progress.clone(),
            message.clone(),
            run_info.clone(),
            shown.clone(),
            cancel.clone(),
        );
        Callback::from(move |(label, sources): (String, Vec<Source>)| {
            let loaded: Rc<LoadedModel> = match &*model {
                Ok(active) => active.loaded.clone(),
                Err(error) => {
                    message.set(Some(format!("The model did not load: {error}")));
                    return;
                }
            };
            let Some(active) = (*backend).clone() else {
                message.set(Some(
                    "The backend is still starting; try again in a moment.".into(),
                ));
                return;
            };
            if sources.is_empty() {
                message.set(Some(format!("{label}: no files found.")));
                return;
            }
            cancel.borrow().set(true);
            let flag = Rc::new(Cell::new(false));
            *cancel.borrow_mut() = flag.clone();
            *runs.borrow_mut() += 1;
            let run = *runs.borrow();
            let current = cancel.clone();
            let timeline = timeline.clone();
            let (batch, progress, message, run_info, shown) = (
                batch.clone(),
                progress.clone(),
                message.clone(),
                run_info.clone(),
                shown.clone(),
            );
            let total = sources.len();
            progress.set(Some(Progress { done: 0, total }));
            message.set(None);
            shown.set(CARDS_PER_PAGE);
            spawn_local(async move {
                let started = now_ms();
                let mut first_result_ms = None;
                let result = pipeline::score_sources(
                    sources,
                    &loaded,
                    active.is_gpu,
                    DEFAULT_FLAG_RATE,
                    (!active.is_gpu).then_some(pipeline::CPU_CHUNK_BUDGET_MS),
                    &flag,
                    |view, step| {
                        if !Rc::ptr_eq(&current.borrow(), &flag) {
                            return;
                        }
                        first_result_ms.get_or_insert_with(|| now_ms() - started);
                        batch.set(Some((run, view.clone())));
                        progress.set(Some(step));
                    },
                )
                .await;
                // A newer run took over: leave the page to it.
                if !Rc::ptr_eq(&current.borrow(), &flag) {
                    return;
                }
                match result {
                    Ok(view) => {
                        let b = &view.batch;
                        if let Some(ratio) = b.loss_ratio {
                            timeline.borrow_mut().push(TimelinePoint {
                                label: label.clone(),
                                images: b.scored,
                                ratio,
                                p_value: b
                                    .tests
                                    .as_ref()
                                    .filter(|t| t.verdict != Verdict::TooFewImages)
                                    .map(|t| t.combined_p_value),
                                verdict: b
                                    .tests
                                    .as_ref()
                                    .map(|t| t.verdict.headline().to_string())
                                    .unwrap_or_default(),
                            });
                        }
                        run_info.set(Some(RunInfo {
                            label,
                            inputs: total,
                            first_result_ms,
                            total_ms: now_ms() - started,
                            backend: format!("{}: {}", active.name, active.detail),
                            complete: view.complete,
                        }));
                        batch.set(Some((run, view)));
                    }
                    Err(error) => message.set(Some(format!("Scoring stopped: {error}"))),
                }
                progress.set(None);
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

    let zone = input::drop_zone(
        dragging.clone(),
        on_sources.reform(|sources| ("dropped".to_string(), sources)),
    );
    let on_pick = {
        let on_sources = on_sources.clone();
        Callback::from(move |event: Event| {
            if let Some(input) = input_value(&event) {
                on_sources.emit(("chosen".into(), input::sources_of(input.files())));
                input.set_value("");
            }
        })
    };
    let on_demo = {
        let (on_sources, message) = (on_sources.clone(), message.clone());
        Callback::from(move |set: DemoSet| {
            let (on_sources, message) = (on_sources.clone(), message.clone());
            spawn_local(async move {
                let file = set.path.rsplit('/').next().unwrap_or(set.path);
                match fetch_bytes(set.path)
                    .await
                    .and_then(|bytes| pipeline::idx_sources(file, bytes))
                {
                    Ok(sources) => on_sources.emit((set.title.into(), sources)),
                    Err(error) => message.set(Some(format!("{}: {error}", set.title))),
                }
            });
        })
    };
    let on_cancel = {
        let cancel = cancel.clone();
        Callback::from(move |_| cancel.borrow().set(true))
    };
    // On WebGPU the button offers the CPU; on the CPU (chosen, or for want of an adapter) it
    // offers to try WebGPU again.
    let on_gpu = backend.as_ref().is_some_and(|b| b.is_gpu);
    let toggle_backend = {
        let preference = preference.clone();
        Callback::from(move |_| {
            preference.set(if on_gpu {
                Preference::Cpu
            } else {
                Preference::Gpu
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
            let percent = input_value(&event).and_then(|i| i.value().parse::<f64>().ok());
            if let Some(percent) = percent.filter(|p| p.is_finite() && *p >= 0.0) {
                alert_ratio.set(1.0 + percent / 100.0);
            }
        })
    };
    let clear_timeline = {
        let (timeline, version) = (timeline.clone(), timeline_version.clone());
        Callback::from(move |_| {
            timeline.borrow_mut().clear();
            version.set(*version + 1);
        })
    };
    let export = {
        let (batch, message, timeline, alert_ratio) = (
            batch.clone(),
            message.clone(),
            timeline.clone(),
            *alert_ratio,
        );
        Callback::from(move |what: Export| {
            let Some((_, view)) = &*batch else { return };
            let Some(report) = &view.report else {
                message.set(Some(
                    "The report is ready when the batch is scored (or cancelled).".into(),
                ));
                return;
            };
            let histogram = view.histogram.as_ref().map(|h| view::histogram_svg(h));
            let timeline_svg =
                || view::timeline_svg(&timeline.borrow(), alert_ratio, DEFAULT_ALPHA);
            let result = match what {
                Export::Json => serde_json::to_vec_pretty(&**report)
                    .map_err(|e| e.to_string())
                    .and_then(|json| {
                        export::download("driftglass-report.json", "application/json", &json)
                    }),
                Export::Csv => export::download(
                    "driftglass-report.csv",
                    "text/csv",
                    to_csv(report).as_bytes(),
                ),
                Export::HistogramSvg => histogram
                    .ok_or_else(|| "no histogram yet".to_string())
                    .and_then(|svg| {
                        export::download(
                            "driftglass-histogram.svg",
                            "image/svg+xml",
                            svg.as_bytes(),
                        )
                    }),
                Export::HistogramPng => histogram
                    .ok_or_else(|| "no histogram yet".to_string())
                    .and_then(|svg| export::download_svg_as_png("driftglass-histogram.png", &svg)),
                Export::TimelineSvg => export::download(
                    "driftglass-timeline.svg",
                    "image/svg+xml",
                    timeline_svg().as_bytes(),
                ),
                Export::TimelinePng => {
                    export::download_svg_as_png("driftglass-timeline.png", &timeline_svg())
                }
            };
            if let Err(error) = result {
                message.set(Some(format!("Export failed: {error}")));
            }
        })
    };
    let show_more = {
        let shown = shown.clone();
        Callback::from(move |_| shown.set(*shown + CARDS_PER_PAGE))
    };

    // Switching models: the batch on show and the timeline belonged to the old one.
    let set_model = {
        let (model, stored, batch, run_info, timeline, timeline_version, message, notice) = (
            model.clone(),
            stored.clone(),
            batch.clone(),
            run_info.clone(),
            timeline.clone(),
            timeline_version.clone(),
            message.clone(),
            notice.clone(),
        );
        Callback::from(move |(active, note): (ActiveModel, String)| {
            stored.set(active.origin == Origin::Stored);
            model.set(Ok(Rc::new(active)));
            batch.set(None);
            run_info.set(None);
            timeline.borrow_mut().clear();
            timeline_version.set(*timeline_version + 1);
            message.set(None);
            notice.set(Some(note));
        })
    };
    let on_trained = {
        let set_model = set_model.clone();
        Callback::from(move |made: Rc<crate::training::MadeModel>| {
            let label = format!(
                "trained in this page on {}",
                made.loaded
                    .header
                    .training
                    .as_ref()
                    .map(|t| t.training_data.as_str())
                    .unwrap_or("your images")
            );
            set_model.emit((
                ActiveModel {
                    label,
                    origin: Origin::Trained,
                    bytes: Rc::new(made.bytes.clone()),
                    loaded: Rc::new(made.loaded.clone()),
                },
                "The model trained on your reference images is now the active model.".into(),
            ));
        })
    };
    let on_model_action = {
        let (model, stored, message, notice, set_model) = (
            model.clone(),
            stored.clone(),
            message.clone(),
            notice.clone(),
            set_model.clone(),
        );
        Callback::from(move |action: ModelAction| match action {
            ModelAction::Load(file) => {
                let (message, set_model) = (message.clone(), set_model.clone());
                spawn_local(async move {
                    let name = file.name();
                    match load_model_file(file).await {
                        Ok(active) => {
                            set_model.emit((active, format!("Loaded the model file {name}.")))
                        }
                        Err(error) => message.set(Some(format!("{name}: {error}"))),
                    }
                });
            }
            ModelAction::Bundled => match bundled_model() {
                Ok(active) => set_model.emit((active, "Back to the bundled MNIST model.".into())),
                Err(error) => message.set(Some(error)),
            },
            ModelAction::Download => {
                if let Ok(active) = &*model {
                    let result = export::download(
                        &active.file_name(),
                        "application/octet-stream",
                        &active.bytes,
                    );
                    if let Err(error) = result {
                        message.set(Some(format!("Download failed: {error}")));
                    }
                }
            }
            ModelAction::Keep(keep) => {
                let result = match (&*model, keep) {
                    (Ok(active), true) => storage::save(&active.label, &active.bytes),
                    (_, false) => storage::forget(),
                    (Err(_), true) => Err("no model to keep".into()),
                };
                match result {
                    Ok(()) => {
                        stored.set(keep);
                        notice.set(Some(if keep {
                            "This model is kept in this browser's storage; the page will start with it. Nothing was uploaded.".into()
                        } else {
                            "The model is no longer kept in this browser.".into()
                        }));
                    }
                    Err(error) => message.set(Some(format!("Could not change storage: {error}"))),
                }
            }
        })
    };

    let badge = match &*backend {
        Some(b) => html! {
            <span class={classes!("badge", if b.is_gpu { "gpu" } else { "cpu" })} data-testid="backend"
                title="Where the network runs">
                { format!("{}: {}", b.name, b.detail) }
            </span>
        },
        None => html! { <span class="badge" data-testid="backend">{ "starting…" }</span> },
    };
    let model_line = html! { <ModelBar model={(*model).clone()} stored={*stored} on_action={on_model_action.clone()} /> };
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
    let summary = batch
        .as_ref()
        .map(|(run, view)| html! { <Summary run={*run} view={view.clone()} alert_ratio={*alert_ratio} /> });
    let run_line = run_info.as_ref().map(|info| {
        html! {
            <p class="run" data-testid="run-info" data-complete={info.complete.to_string()}>
                { format!("{}: {} inputs {} in {:.1} s on {}{}",
                    info.label, info.inputs,
                    if info.complete { "scored" } else { "partly scored (cancelled)" },
                    info.total_ms / 1000.0, info.backend,
                    info.first_result_ms.map(|ms| format!("; first result after {:.0} ms", ms)).unwrap_or_default()) }
            </p>
        }
    });
    let (grid, hidden) = match &*batch {
        Some((_, view)) => {
            let arranged = view::arrange(view.all_cards(), *sort, *flagged_only);
            let hidden = arranged.len().saturating_sub(*shown);
            let cards: Html = arranged
                .into_iter()
                .take(*shown)
                .map(|card| html! { <ResultCard card={card.clone()} /> })
                .collect();
            (cards, hidden)
        }
        None => (Html::default(), 0),
    };

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
            { model_line }
            <label
                class={classes!("dropzone", dragging.then_some("over"))}
                data-testid="dropzone"
                ondrop={zone.ondrop} ondragover={zone.ondragover} ondragleave={zone.ondragleave}
            >
                <span>{ "Drop images or folders here, paste an image (Ctrl+V), or click to choose files. PNG, JPEG, GIF, WebP, BMP, or MNIST-style IDX files." }</span>
                <input type="file" multiple=true accept="image/*,.idx,.gz,.idx3-ubyte" onchange={on_pick.clone()} data-testid="file-input" />
            </label>
            <div class="inputs">
                <label class="folder">{ "Or choose a folder: " }
                    <input type="file" webkitdirectory=true multiple=true onchange={on_pick} data-testid="folder-input" />
                </label>
                <span class="demos">{ "Demo sets (200 images each): " }{ demos }</span>
            </div>
            // The panel keeps its own state: it sits at a fixed place among <main>'s children
            // (everything that comes and goes is inside the <div> after it), so yew never
            // re-creates it when results appear or disappear.
            <crate::reference_panel::ReferencePanel backend={(*backend).clone()} on_model={on_trained} />
            <div class="results">
            if let Some(text) = &*notice {
                <p class="notice" data-testid="notice" role="status">{ text }</p>
            }
            if let Some(p) = &*progress {
                <div class="progress" data-testid="progress" aria-live="polite">
                    <progress max={p.total.to_string()} value={p.done.to_string()} />
                    <span>{ format!("{} of {} inputs", p.done, p.total) }</span>
                    <button onclick={on_cancel} data-testid="cancel">{ "Cancel" }</button>
                </div>
            }
            if let Some(text) = &*message {
                <p class="error" data-testid="error" role="status">{ text }</p>
            }
            { for run_line }
            { for summary }
            <div class="controls">
                <label>{ "Alert when the loss ratio exceeds +" }
                    <input type="number" min="0" max="1000" step="1" data-testid="threshold"
                        value={ format!("{:.0}", (*alert_ratio - 1.0) * 100.0) } onchange={on_threshold} />
                    { " %" }</label>
                <span class="hint">{ "Default +10 %: a batch of 50 or more clean digits stays within a few percent of the baseline's mean loss; noisy digits, letters and clothes land far above it. Small batches vary more; lower the threshold to catch subtler shifts, raise it to alarm less." }</span>
                <button onclick={toggle_sort} data-testid="sort">{ if *sort == SortOrder::MostDrifted { "Show in input order" } else { "Most drifted first" } }</button>
                <button onclick={toggle_flagged} data-testid="flagged-only">{ if *flagged_only { "Show all" } else { "Only flagged" } }</button>
            </div>
            if batch.is_some() {
                <div class="exports" data-testid="exports">{ "Download: " }
                    { for [
                        (Export::Json, "report (JSON)"), (Export::Csv, "report (CSV)"),
                        (Export::HistogramSvg, "histogram (SVG)"), (Export::HistogramPng, "histogram (PNG)"),
                        (Export::TimelineSvg, "timeline (SVG)"), (Export::TimelinePng, "timeline (PNG)"),
                    ].into_iter().map(|(what, text)| {
                        let export = export.clone();
                        html! { <button data-testid={format!("export-{what:?}")}
                            onclick={Callback::from(move |_| export.emit(what))}>{ text }</button> }
                    }) }
                    <span class="hint">{ "Files are made in this page; nothing is sent anywhere." }</span>
                </div>
            }
            if !timeline.borrow().is_empty() {
                <section class="timeline" data-testid="timeline" data-points={timeline.borrow().len().to_string()}>
                    <h2>{ "Timeline of batches" }
                        <button onclick={clear_timeline} data-testid="clear-timeline">{ "Clear" }</button></h2>
                    { Html::from_html_unchecked(AttrValue::from(view::timeline_svg(&timeline.borrow(), *alert_ratio, DEFAULT_ALPHA))) }
                </section>
            }
            <section class="grid" data-testid="grid">{ grid }</section>
            if hidden > 0 {
                <button class="more" onclick={show_more} data-testid="show-more">{ format!("Show more ({hidden} not shown)") }</button>
            }
            </div>
            <details class="how" open=true>
                <summary>{ "How it works" }</summary>
                <p>{ "A small neural network (a convolutional autoencoder) learned to redraw the reference images: 60,000 handwritten digits for the bundled model, or your own images (see above). \
                      It squeezes each 28×28 image through a bottleneck and redraws it: images like the ones it learned come back well, unfamiliar ones come back badly." }</p>
                <p>{ "Each image's loss measures how badly it was redrawn. It is compared with the losses of held-out reference images the network never trained on (the baseline: 10,000 digits for the bundled model): \
                      the percentile says where it falls among them, and an image is flagged when fewer than 1 % of baseline digits were redrawn as badly (p < 0.01)." }</p>
                <p>{ "The loss ratio compares the whole batch with the baseline: +44 % means the batch was redrawn 44 % worse than usual digits. \
                      Any image is first turned gray, shrunk to 28×28 and scaled to [0, 1], exactly as the command-line tool does." }</p>
                <p>{ "The verdict tests the whole batch four ways: are its losses distributed like the baseline's (Kolmogorov–Smirnov), is their mean higher (permutation test), are too many images flagged (binomial),                       and do the network's internal codes of the batch sit where those of 500 reference digits sit (latent MMD, which catches batches that are redrawn well but are not like the reference, such as only one kind of digit)." }</p>
                <p>{ "Nothing is uploaded: the network, its weights and every computation live in this page (WebGPU when the browser has it, else the CPU)." }</p>
            </details>
        </main>
    }
}

/// Where the active model came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Bundled,
    File,
    Trained,
    Stored,
}

/// The model the page scores with: its file bytes (for download and storage) and the decoded
/// model.
#[derive(Debug, Clone)]
pub struct ActiveModel {
    pub label: String,
    pub origin: Origin,
    pub bytes: Rc<Vec<u8>>,
    pub loaded: Rc<LoadedModel>,
}

impl ActiveModel {
    fn from_bytes(label: String, origin: Origin, bytes: Vec<u8>) -> Result<Self, String> {
        let loaded = model_file::decode(&bytes).map_err(|e| e.to_string())?;
        Ok(ActiveModel {
            label,
            origin,
            bytes: Rc::new(bytes),
            loaded: Rc::new(loaded),
        })
    }

    /// Download name, e.g. `driftglass-model-1a2b3c4d.dgm`.
    fn file_name(&self) -> String {
        format!(
            "driftglass-model-{}.dgm",
            &self.loaded.sha256[..8.min(self.loaded.sha256.len())]
        )
    }
}

fn bundled_model() -> Result<ActiveModel, String> {
    ActiveModel::from_bytes(
        "bundled MNIST autoencoder".into(),
        Origin::Bundled,
        driftglass_core::bundled::BUNDLED_MODEL.to_vec(),
    )
    .map_err(|e| format!("The bundled model failed to load: {e}"))
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
    (bundled_model().map(Rc::new), kept)
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
