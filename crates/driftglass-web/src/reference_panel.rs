//! The "Reference" step: drop your own reference images, train the autoencoder on them in this
//! page (live curve, samples, time left, pause, stop early, cancel), and hand the calibrated
//! model to the app. Rendering only: the work is in [`crate::training`].

use std::cell::RefCell;
use std::rc::Rc;

use driftglass_core::augment::Augmentation;
use driftglass_core::train::{EpochReport, OptimizerKind};
use wasm_bindgen_futures::spawn_local;
use web_sys::{HtmlInputElement, HtmlSelectElement};
use yew::prelude::*;

use crate::backend::Backend;
use crate::input;
use crate::pipeline::Source;
use crate::training::{self, Control, MadeModel, ReferenceSet, Settings, StepInfo, Update};
use crate::view::{self, CurvePoint};

#[derive(Properties, PartialEq)]
pub struct ReferenceProps {
    /// Where training runs (the app's active backend); `None` while it starts.
    pub backend: Option<Backend>,
    /// Called with each model made here.
    pub on_model: Callback<Rc<MadeModel>>,
}

/// Where the step is.
#[derive(Debug, Clone, PartialEq)]
enum Phase {
    Empty,
    Reading { done: usize, total: usize },
    Ready,
    Training,
    Calibrating,
    Done { seconds: f64, stopped_early: bool },
    Cancelled,
    Failed(String),
}

/// The live curve and samples, kept outside yew state (appended per step, read per render).
#[derive(Debug, Default)]
struct Live {
    steps: Vec<CurvePoint>,
    epochs: Vec<EpochReport>,
    samples: Vec<(String, String)>,
}

/// What to call a reference set: its folder's name (the first component of its files' paths),
/// else "your reference images".
fn set_label(sources: &[Source]) -> String {
    sources
        .iter()
        .find_map(|source| match source {
            Source::File { name, .. } | Source::Entry { name, .. } => {
                name.split_once('/').map(|(folder, _)| folder.to_string())
            }
            _ => None,
        })
        .unwrap_or_else(|| "your reference images".into())
}

/// A number field's callback: a value in `range` updates the settings through `apply`; anything
/// else leaves them as they are.
fn setting<T: std::str::FromStr + PartialOrd + 'static>(
    settings: &UseStateHandle<Settings>,
    range: std::ops::RangeInclusive<T>,
    apply: impl Fn(Settings, T) -> Settings + 'static,
) -> Callback<Event> {
    let settings = settings.clone();
    Callback::from(move |event: Event| {
        let value = event
            .target_dyn_into::<HtmlInputElement>()
            .and_then(|input| input.value().trim().parse::<T>().ok());
        if let Some(value) = value.filter(|v| range.contains(v)) {
            settings.set(apply((*settings).clone(), value));
        }
    })
}

#[function_component(ReferencePanel)]
pub fn reference_panel(props: &ReferenceProps) -> Html {
    let phase = use_state(|| Phase::Empty);
    let set = use_state(|| None::<Rc<ReferenceSet>>);
    let settings = use_state(|| Settings::for_images(0));
    let step = use_state(|| None::<StepInfo>);
    let live = use_mut_ref(Live::default);
    let version = use_state(|| 0u32);
    let control = use_mut_ref(|| Rc::new(Control::default()));
    let paused = use_state(|| false);
    let dragging = use_state(|| false);
    // Input side and channels, and the last drop (read again when either changes).
    let shape = use_state(|| (driftglass_core::IMAGE_SIDE, 1usize));
    let last_drop = use_mut_ref(|| None::<(String, Vec<Source>)>);

    let on_sources = {
        let (phase, set, settings, live, version, shape, last_drop) = (
            phase.clone(),
            set.clone(),
            settings.clone(),
            live.clone(),
            version.clone(),
            shape.clone(),
            last_drop.clone(),
        );
        Callback::from(
            move |(label, sources, chosen): (String, Vec<Source>, Option<(usize, usize)>)| {
                if matches!(*phase, Phase::Training | Phase::Calibrating) {
                    return;
                }
                if sources.is_empty() {
                    phase.set(Phase::Failed(format!("{label}: no files found.")));
                    return;
                }
                let (phase, set, settings, live, version) = (
                    phase.clone(),
                    set.clone(),
                    settings.clone(),
                    live.clone(),
                    version.clone(),
                );
                let chosen = chosen.unwrap_or(*shape);
                *last_drop.borrow_mut() = Some((label.clone(), sources.clone()));
                *live.borrow_mut() = Live::default();
                phase.set(Phase::Reading {
                    done: 0,
                    total: sources.len(),
                });
                spawn_local(async move {
                    let progress = phase.clone();
                    let gathered = training::gather(label, sources, chosen, |done, total| {
                        progress.set(Phase::Reading { done, total })
                    })
                    .await;
                    settings.set(Settings::for_images(gathered.images.count));
                    phase.set(
                        if gathered.images.count < driftglass_core::reference::MIN_REFERENCE_IMAGES
                        {
                            Phase::Failed(format!(
                                "{} usable reference images; at least {} are needed.",
                                gathered.images.count,
                                driftglass_core::reference::MIN_REFERENCE_IMAGES
                            ))
                        } else {
                            Phase::Ready
                        },
                    );
                    set.set(Some(Rc::new(gathered)));
                    version.set(*version + 1);
                });
            },
        )
    };
    let zone = input::drop_zone(
        dragging.clone(),
        on_sources.reform(|sources: Vec<Source>| (set_label(&sources), sources, None)),
    );
    let on_pick = {
        let on_sources = on_sources.clone();
        Callback::from(move |event: Event| {
            if let Some(picker) = event.target_dyn_into::<HtmlInputElement>() {
                let files = input::sources_of(picker.files());
                on_sources.emit((set_label(&files), files, None));
                picker.set_value("");
            }
        })
    };

    let start = {
        let (phase, set, settings, step, live, version, control, paused, backend, on_model) = (
            phase.clone(),
            set.clone(),
            settings.clone(),
            step.clone(),
            live.clone(),
            version.clone(),
            control.clone(),
            paused.clone(),
            props.backend.clone(),
            props.on_model.clone(),
        );
        Callback::from(move |_| {
            let (Some(reference), Some(backend)) = ((*set).clone(), backend.clone()) else {
                return;
            };
            let fresh = Rc::new(Control::default());
            *control.borrow_mut() = fresh.clone();
            *live.borrow_mut() = Live::default();
            paused.set(false);
            step.set(None);
            phase.set(Phase::Training);
            let (phase, settings, step, live, version, on_model) = (
                phase.clone(),
                (*settings).clone(),
                step.clone(),
                live.clone(),
                version.clone(),
                on_model.clone(),
            );
            spawn_local(async move {
                let started = crate::glue::now_ms();
                let device_name = format!("{}: {}", backend.name, backend.detail);
                let updates = Rc::new(RefCell::new(0u32));
                let result = training::make_model(
                    &reference,
                    &settings,
                    backend.is_gpu,
                    &device_name,
                    &fresh,
                    |update| {
                        match update {
                            Update::Step(info) => {
                                live.borrow_mut().steps.push(CurvePoint::at(
                                    info.epoch,
                                    info.batch,
                                    info.batches,
                                    info.loss,
                                ));
                                step.set(Some(info));
                            }
                            Update::Epoch(report) => live.borrow_mut().epochs.push(report),
                            Update::Samples {
                                noisy,
                                reconstructed,
                            } => {
                                live.borrow_mut().samples = view::sample_pictures(
                                    &noisy,
                                    &reconstructed,
                                    reference.images.image_len(),
                                    reference.images.channels,
                                    driftglass_core::train::SAMPLE_IMAGES,
                                );
                            }
                            Update::Calibrating => phase.set(Phase::Calibrating),
                        }
                        *updates.borrow_mut() += 1;
                        version.set(*updates.borrow());
                    },
                )
                .await;
                match result {
                    Ok(Some(made)) => {
                        phase.set(Phase::Done {
                            seconds: (crate::glue::now_ms() - started) / 1000.0,
                            stopped_early: made.stopped_early,
                        });
                        on_model.emit(Rc::new(made));
                    }
                    Ok(None) => phase.set(Phase::Cancelled),
                    Err(error) => phase.set(Phase::Failed(format!("Training stopped: {error}"))),
                }
            });
        })
    };
    let toggle_pause = {
        let (control, paused) = (control.clone(), paused.clone());
        Callback::from(move |_| {
            let now = !*paused;
            control.borrow().paused.set(now);
            paused.set(now);
        })
    };
    let finish_now = {
        let control = control.clone();
        Callback::from(move |_| control.borrow().finish_now.set(true))
    };
    let cancel = {
        let control = control.clone();
        Callback::from(move |_| control.borrow().cancelled.set(true))
    };

    let on_epochs = setting(&settings, 1..=1000usize, |s, epochs| Settings {
        epochs,
        ..s
    });
    let on_batch = setting(&settings, 1..=1024usize, |s, batch_size| Settings {
        batch_size,
        ..s
    });
    let on_share = setting(&settings, 5.0..=50.0f64, |s, percent| Settings {
        validation_share: percent / 100.0,
        ..s
    });
    // Augmentation: each field sets one range, in the units shown (degrees, percent).
    let augment = |apply: fn(&mut Augmentation, f64), most: f64| {
        setting(&settings, 0.0..=most, move |s, value: f64| {
            let mut augment = s.augment;
            apply(&mut augment, value);
            Settings { augment, ..s }
        })
    };
    let on_rotation = augment(|a, v| a.rotation = v, 180.0);
    let on_shift = augment(|a, v| a.shift = v / 100.0, 50.0);
    let on_scale = augment(|a, v| a.scale = v / 100.0, 90.0);
    let on_brightness = augment(|a, v| a.brightness = v / 100.0, 90.0);
    let on_colour = augment(|a, v| a.colour = v / 100.0, 90.0);
    let on_noise = augment(|a, v| a.noise = v, 1.0);
    let on_optimizer = {
        let settings = settings.clone();
        Callback::from(move |event: Event| {
            let Some(select) = event.target_dyn_into::<HtmlSelectElement>() else {
                return;
            };
            let optimizer = if select.value() == "adam" {
                OptimizerKind::Adam
            } else {
                OptimizerKind::Adadelta
            };
            settings.set(Settings {
                optimizer,
                ..(*settings).clone()
            });
        })
    };

    // A new side or colour choice: images already dropped are read again with it.
    let reshape = |apply: fn((usize, usize), usize) -> (usize, usize)| {
        let (shape, last_drop, on_sources) = (shape.clone(), last_drop.clone(), on_sources.clone());
        Callback::from(move |event: Event| {
            let Some(select) = event.target_dyn_into::<HtmlSelectElement>() else {
                return;
            };
            let Ok(value) = select.value().parse::<usize>() else {
                return;
            };
            let chosen = apply(*shape, value);
            shape.set(chosen);
            let again = last_drop.borrow().clone();
            if let Some((label, sources)) = again {
                on_sources.emit((label, sources, Some(chosen)));
            }
        })
    };
    let on_side = reshape(|(_, channels), side| (side, channels));
    let on_channels = reshape(|(side, _), channels| (side, channels));

    let busy = matches!(*phase, Phase::Training | Phase::Calibrating);
    let live = live.borrow();
    let status = match &*phase {
        Phase::Empty => html! {},
        Phase::Reading { done, total } => html! {
            <p data-testid="reference-reading">{ format!("Reading reference images: {done} of {total}…") }</p>
        },
        Phase::Ready => html! {},
        Phase::Training => html! {},
        Phase::Calibrating => html! {
            <p data-testid="reference-calibrating">{ "Training done; measuring the baseline on the held-out images…" }</p>
        },
        Phase::Done {
            seconds,
            stopped_early,
        } => {
            let per_epoch = live.epochs.iter().map(|e| e.train_seconds).sum::<f64>()
                / live.epochs.len().max(1) as f64;
            let last = live.epochs.last();
            html! {
                <p class="calm" data-testid="reference-done" data-epochs={live.epochs.len().to_string()}
                    data-seconds-per-epoch={per_epoch.to_string()}
                    data-first-validation={live.epochs.first().map(|e| e.validation_loss.to_string()).unwrap_or_default()}
                    data-last-validation={last.map(|e| e.validation_loss.to_string()).unwrap_or_default()}>
                    { format!("Model ready{}: {} epochs in {} ({} per epoch){}. It is now the active model: drop images above to check them against it.",
                        if *stopped_early { " (stopped early)" } else { "" },
                        live.epochs.len(), view::format_duration(*seconds), view::format_duration(per_epoch),
                        last.map(|e| format!(", validation loss {:.4}", e.validation_loss)).unwrap_or_default()) }
                </p>
            }
        }
        Phase::Cancelled => html! {
            <p data-testid="reference-cancelled">{ "Training cancelled; the active model is unchanged." }</p>
        },
        Phase::Failed(error) => html! {
            <p class="error" data-testid="reference-error" role="status">{ error }</p>
        },
    };
    let summary = set.as_ref().map(|s| {
        let validation =
            (s.images.count as f64 * settings.validation_share).round() as usize;
        let too_small = driftglass_core::reference::baseline_too_small(
            validation,
            driftglass_core::report::DEFAULT_FLAG_RATE,
            settings.validation_share,
        );
        html! {
            <div class="reference-set" data-testid="reference-set" data-images={s.images.count.to_string()}
                data-side={s.images.side.to_string()} data-channels={s.images.channels.to_string()}
                data-failed={s.failed.len().to_string()}>
                <p>{ format!("{}: {} images usable at {}×{} {} ({} for training, {} held out for validation and the baseline)",
                    s.label, s.images.count, s.images.side, s.images.side,
                    if s.images.channels == 3 { "colour" } else { "gray" },
                    s.images.count.saturating_sub(validation), validation) }
                    if s.skipped > 0 { { format!("; {} more not used (at most {})", s.skipped, training::MAX_REFERENCE_IMAGES) } }
                    if !s.failed.is_empty() { { format!("; {} could not be used:", s.failed.len()) } }
                </p>
                if let Some(warning) = too_small {
                    <p class="warning" data-testid="reference-baseline-warning" role="status">{ warning }</p>
                }
                if !s.failed.is_empty() {
                    <ul class="failed-list">{ for s.failed.iter().take(20).map(|(name, error)| html! { <li>{ format!("{name}: {error}") }</li> }) }
                        if s.failed.len() > 20 { <li>{ format!("… and {} more", s.failed.len() - 20) }</li> }</ul>
                }
            </div>
        }
    });
    let can_start = set
        .as_ref()
        .is_some_and(|s| s.images.count >= driftglass_core::reference::MIN_REFERENCE_IMAGES)
        && !busy
        && props.backend.is_some();
    let training_images = set.as_ref().map_or(0, |s| {
        s.images.count - (s.images.count as f64 * settings.validation_share).round() as usize
    });
    let settings_form = set.is_some().then(|| {
        html! {
            <div class="train-settings">
                <label>{ "Epochs " }<input type="number" min="1" max="1000" data-testid="train-epochs"
                    value={settings.epochs.to_string()} onchange={on_epochs} disabled={busy} /></label>
                <label>{ "Batch " }<input type="number" min="1" max="1024" data-testid="train-batch"
                    value={settings.batch_size.to_string()} onchange={on_batch} disabled={busy} /></label>
                <label>{ "Held out " }<input type="number" min="5" max="50" data-testid="train-share"
                    value={format!("{:.0}", settings.validation_share * 100.0)} onchange={on_share} disabled={busy} />{ " %" }</label>
                <label>{ "Optimizer " }<select data-testid="train-optimizer" onchange={on_optimizer} disabled={busy}>
                    <option value="adadelta" selected={settings.optimizer == OptimizerKind::Adadelta}>{ "Adadelta (as the reference)" }</option>
                    <option value="adam" selected={settings.optimizer == OptimizerKind::Adam}>{ "Adam" }</option>
                </select></label>
                <details class="augment" data-testid="train-augment">
                    <summary>{ "Augmentation: changes that should not count as drift" }</summary>
                    <label>{ "Rotate up to ±" }<input type="number" min="0" max="180" step="1" data-testid="train-rotation"
                        value={format!("{}", settings.augment.rotation)} onchange={on_rotation} disabled={busy} />{ "°" }</label>
                    <label>{ "shift up to ±" }<input type="number" min="0" max="50" step="1" data-testid="train-shift"
                        value={format!("{}", settings.augment.shift * 100.0)} onchange={on_shift} disabled={busy} />{ " % of the side" }</label>
                    <label>{ "scale up to ±" }<input type="number" min="0" max="90" step="1" data-testid="train-scale"
                        value={format!("{}", settings.augment.scale * 100.0)} onchange={on_scale} disabled={busy} />{ " %" }</label>
                    <label>{ "brightness up to ±" }<input type="number" min="0" max="90" step="1" data-testid="train-brightness"
                        value={format!("{}", settings.augment.brightness * 100.0)} onchange={on_brightness} disabled={busy} />{ " %" }</label>
                    if set.as_ref().is_some_and(|s| s.images.channels == 3) {
                        <label>{ "colour gains up to ±" }<input type="number" min="0" max="90" step="1" data-testid="train-colour"
                            value={format!("{}", settings.augment.colour * 100.0)} onchange={on_colour} disabled={busy} />{ " %" }</label>
                    }
                    <label>{ "noise (standard deviation) up to " }<input type="number" min="0" max="1" step="0.05" data-testid="train-noise"
                        value={format!("{}", settings.augment.noise)} onchange={on_noise} disabled={busy} /></label>
                    <span class="hint">{ "Training images are transformed at random within these ranges, and so are the held-out images the baseline is made from: the reference then holds these changes, and batches transformed within the ranges stop being drift (at a range's very edge a batch can still be worse than the reference's average). The batch tests then ask whether a batch is worse than that reference: the mean-loss and flagged-share tests decide, and the Kolmogorov–Smirnov, latent MMD and image-property tests, which ask \"different?\", are shown but do not; a change of mix whose images are each typical (only some classes) is then no longer drift. See the README's augmentation table." }</span>
                </details>
                <button onclick={start} disabled={!can_start} data-testid="train-start">{ "Train on these images" }</button>
                <span class="hint">{ format!("{} epochs × {} training images = {} image passes (the suggestion aims at about {}); Gaussian noise {} on the inputs, clean targets, as the reference. Runs on {}.",
                    settings.epochs, training_images, settings.epochs * training_images,
                    driftglass_core::reference::SUGGESTED_IMAGE_PASSES, settings.noise_factor,
                    props.backend.as_ref().map(|b| b.name.as_str()).unwrap_or("the backend once it has started")) }</span>
            </div>
        }
    });
    let running = (busy || matches!(*phase, Phase::Done { .. })).then(|| {
        let info = *step;
        html! {
            <div class="training" data-testid="training">
                if let Some(s) = info {
                    if busy {
                        <div class="progress" data-testid="train-progress" data-epoch={s.epoch.to_string()}>
                            <progress max={(s.epochs * s.batches).to_string()}
                                value={((s.epoch - 1) * s.batches + s.batch).to_string()} />
                            <span>{ format!("epoch {} of {}, batch {} of {} · loss {:.4} · {} so far, about {} left{}",
                                s.epoch, s.epochs, s.batch, s.batches, s.loss,
                                view::format_duration(s.elapsed_s), view::format_duration(s.eta_s),
                                if *paused { " · paused" } else { "" }) }</span>
                            <button onclick={toggle_pause} data-testid="train-pause">{ if *paused { "Resume" } else { "Pause" } }</button>
                            <button onclick={finish_now} data-testid="train-finish">{ "Stop and keep the model so far" }</button>
                            <button onclick={cancel} data-testid="train-cancel">{ "Cancel" }</button>
                        </div>
                    }
                } else if busy {
                    <p>{ "Starting…" }
                        <button onclick={cancel.clone()} data-testid="train-cancel">{ "Cancel" }</button></p>
                }
                <figure class="curve" data-testid="train-curve">
                    { Html::from_html_unchecked(AttrValue::from(view::loss_curve_svg(
                        &live.steps,
                        &live.epochs.iter().map(|e| (e.epoch, e.train_loss, e.validation_loss)).collect::<Vec<_>>(),
                        info.map(|s| s.epochs).unwrap_or(settings.epochs),
                    ))) }
                </figure>
                if !live.samples.is_empty() {
                    <div class="samples" data-testid="train-samples" data-count={live.samples.len().to_string()}>
                        <span class="hint">{ "Held-out images as the network sees them (noisy) and redraws them, after the latest epoch:" }</span>
                        { for live.samples.iter().map(|(noisy, redrawn)| html! {
                            <figure><img src={noisy.clone()} alt="noisy input" /><img src={redrawn.clone()} alt="redrawn" /></figure>
                        }) }
                    </div>
                }
            </div>
        }
    });

    html! {
        // Folded until asked for (the page's main drop target stays the only one in view), and
        // open from the first drop on.
        <details class="reference" data-testid="reference" open={*phase != Phase::Empty} data-phase={format!("{:?}", *phase).split([' ', '{', '(']).next().unwrap_or_default().to_string()}
            data-version={version.to_string()}>
            <summary><h2>{ "Train on your own reference images" }</h2></summary>
            <p class="hint">{ "Train the autoencoder on images like your training data (a folder of PNG, JPEG, …), here in this page. A share is held out to measure the baseline; nothing is uploaded. The trained model then checks new images exactly as the bundled one does." }</p>
            <label class={classes!("dropzone", "small", dragging.then_some("over"))} data-testid="reference-dropzone"
                ondrop={zone.ondrop} ondragover={zone.ondragover} ondragleave={zone.ondragleave}>
                <span class="pointer-fine">{ "Drop a folder of reference images here, or click to choose files." }</span>
                <span class="pointer-coarse">{ "Tap to choose your reference images." }</span>
                <input type="file" multiple=true accept="image/*,.idx,.gz,.idx3-ubyte" onchange={on_pick.clone()} data-testid="reference-file-input" disabled={busy} />
            </label>
            <label class="folder">{ "Or choose a folder: " }
                <input type="file" webkitdirectory=true multiple=true onchange={on_pick} data-testid="reference-folder-input" disabled={busy} />
            </label>
            <label class="folder">{ "Input size: " }
                <select data-testid="train-side" onchange={on_side} disabled={busy}>
                    { for driftglass_core::reference::INPUT_SIDES.iter().map(|s| html! {
                        <option value={s.to_string()} selected={*s == shape.0}>{ format!("{s}×{s}{}", match *s {
                            28 => " (as MNIST)".to_string(),
                            s => format!(" (finer detail, about {:.0}× the work)", (s * s) as f64 / 784.0),
                        }) }</option>
                    }) }
                </select></label>
            <label class="folder">{ "Colour: " }
                <select data-testid="train-channels" onchange={on_channels} disabled={busy}>
                    <option value="1" selected={shape.1 == 1}>{ "gray (one channel)" }</option>
                    <option value="3" selected={shape.1 == 3}>{ "colour (red, green, blue)" }</option>
                </select></label>
            { status }
            { for summary }
            { for settings_form }
            { for running }
        </details>
    }
}
