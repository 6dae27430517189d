//! "Learn how it works": the reference experiment in six short steps, each with one thing to
//! do and live numbers from the model crate (see [`crate::lesson`]). The lesson always uses the
//! bundled MNIST model and the demo sets, on this page's CPU.

use std::cell::Cell;
use std::future::Future;
use std::ops::ControlFlow;
use std::pin::Pin;
use std::rc::Rc;

use driftglass_core::idx::ImageSet;
use driftglass_core::model_file::LoadedModel;
use driftglass_core::train::{Clock, TrainingEvent, train_with_pauses};
use driftglass_core::{AutoencoderConfig, TrainingConfig};
use yew::prelude::*;

use crate::components::verdict::VerdictPanel;
use crate::glue::{fetch_bytes, now_ms, yield_to_browser};
use crate::lesson::{self, OneImage, Redraw, Scored, TableRow};
use crate::view::{self, CurvePoint};

/// Steps of the lesson, in order (their titles).
const STEPS: [&str; 6] = [
    "Redrawing",
    "Training",
    "Drift",
    "One image",
    "A batch's verdict",
    "Your turn",
];
/// Epochs of the training step on [`TRAINING_DIGITS`] digits (a few seconds each on a CPU).
const LESSON_EPOCHS: usize = 3;
/// The training step's digits: the first 2,000 MNIST training digits (`driftglass demo-sets`).
const TRAINING_FILE: &str = "demo/train-2000.idx.gz";

struct PageClock;

impl Clock for PageClock {
    fn now_seconds(&self) -> f64 {
        now_ms() / 1000.0
    }
}

/// A demo IDX set, fetched on first use.
async fn demo_set(name: &str) -> Result<ImageSet, String> {
    let bytes = fetch_bytes(&format!("demo/{name}.idx")).await?;
    driftglass_core::idx::parse_images(bytes).map_err(|e| e.to_string())
}

/// A step's work: from the bundled model, the demo digits and what was computed so far, the
/// new computed state.
type StepFuture = Pin<Box<dyn Future<Output = Result<Computed, String>>>>;
type StepWork = Rc<dyn Fn(&LoadedModel, &ImageSet, Computed) -> StepFuture>;

fn boxed(future: impl Future<Output = Result<Computed, String>> + 'static) -> StepFuture {
    Box::pin(future)
}

/// What the steps computed so far.
#[derive(Default, Clone)]
struct Computed {
    digits: Option<Rc<ImageSet>>,
    redraw: Option<Redraw>,
    table: Option<Vec<TableRow>>,
    letters: Option<Rc<(Scored, ImageSet)>>,
    one: Option<OneImage>,
    error: Option<String>,
}

/// The training step's live state.
#[derive(Default, Clone, PartialEq)]
struct Training {
    running: bool,
    steps: Vec<CurvePoint>,
    epochs: Vec<(usize, f64, f64)>,
    samples: Vec<(String, String)>,
}

#[function_component(Lesson)]
pub fn lesson() -> Html {
    let step = use_state(|| 0usize);
    let computed = use_state(Computed::default);
    let training = use_state(Training::default);
    let stop = use_mut_ref(|| Rc::new(Cell::new(false)));
    let busy = use_state(|| false);
    let model = use_memo((), |_| {
        driftglass_core::model_file::decode(driftglass_core::bundled::BUNDLED_MODEL).ok()
    });

    let go = |to: usize| {
        let step = step.clone();
        Callback::from(move |_: MouseEvent| step.set(to))
    };

    // Runs `work` with the bundled model and the demo digits (fetched once), keeping what it
    // returns; errors are shown in the step.
    let run = {
        let computed = computed.clone();
        let busy = busy.clone();
        let model = model.clone();
        move |work: StepWork| {
            let computed = computed.clone();
            let busy = busy.clone();
            let model = model.clone();
            Callback::from(move |_: MouseEvent| {
                let (computed, busy, model, work) =
                    (computed.clone(), busy.clone(), model.clone(), work.clone());
                busy.set(true);
                wasm_bindgen_futures::spawn_local(async move {
                    let mut now = (*computed).clone();
                    let result = async {
                        let model = model
                            .as_ref()
                            .as_ref()
                            .ok_or("the bundled model did not load")?;
                        let digits = match &now.digits {
                            Some(d) => d.clone(),
                            None => Rc::new(demo_set("mnist").await?),
                        };
                        now.digits = Some(digits.clone());
                        yield_to_browser().await;
                        work(model, &digits, now.clone()).await
                    }
                    .await;
                    match result {
                        Ok(next) => computed.set(Computed {
                            error: None,
                            ..next
                        }),
                        Err(error) => computed.set(Computed {
                            error: Some(error),
                            ..now
                        }),
                    }
                    busy.set(false);
                });
            })
        }
    };

    let redraw_next = run(Rc::new(
        |model: &LoadedModel, digits: &ImageSet, now: Computed| {
            let next_index = now.redraw.as_ref().map_or(0, |r| r.index + 1);
            let result = model
                .network()
                .map_err(|e| e.to_string())
                .and_then(|network| lesson::redraw(&network, digits, next_index))
                .map(|redraw| Computed {
                    redraw: Some(redraw),
                    ..now
                });
            boxed(async move { result })
        },
    ));

    let rebuild_table = run(Rc::new(
        |model: &LoadedModel, digits: &ImageSet, now: Computed| {
            let model = model.clone();
            let digits = digits.clone();
            boxed(async move {
                let network = model.network().map_err(|e| e.to_string())?;
                let noisy = lesson::score_set(&model, "noisy.idx", &demo_set("noisy").await?)?;
                yield_to_browser().await;
                let letters_set = demo_set("letters").await?;
                let letters = lesson::score_set(&model, "letters.idx", &letters_set)?;
                yield_to_browser().await;
                let table = lesson::reference_table(&model, &network, &digits, &noisy, &letters)?;
                let one = lesson::one_image(&model, &letters, &letters_set, 0);
                Ok(Computed {
                    table: Some(table),
                    one,
                    letters: Some(Rc::new((letters, letters_set))),
                    ..now
                })
            })
        },
    ));

    let next_letter = run(Rc::new(
        |model: &LoadedModel, _: &ImageSet, now: Computed| {
            let result = match &now.letters {
                Some(letters) => {
                    let (scored, set) = &**letters;
                    let index = now
                        .one
                        .as_ref()
                        .map_or(0, |o| (o.index + 1) % set.count.max(1));
                    Ok(Computed {
                        one: lesson::one_image(model, scored, set, index),
                        ..now
                    })
                }
                None => Err("score the letters first (step 3)".to_string()),
            };
            boxed(async move { result })
        },
    ));

    let start_training = {
        let training = training.clone();
        let computed = computed.clone();
        let stop = stop.clone();
        Callback::from(move |_: MouseEvent| {
            let (training, computed) = (training.clone(), computed.clone());
            let flag = Rc::new(Cell::new(false));
            *stop.borrow_mut() = flag.clone();
            training.set(Training {
                running: true,
                ..Training::default()
            });
            wasm_bindgen_futures::spawn_local(async move {
                // Trained on 2,000 training digits, validated on the 200 demo test digits.
                let sets = async {
                    let train_set = fetch_bytes(TRAINING_FILE).await.and_then(|bytes| {
                        driftglass_core::idx::parse_images(bytes).map_err(|e| e.to_string())
                    })?;
                    let validation = match &computed.digits {
                        Some(d) => (**d).clone(),
                        None => demo_set("mnist").await?,
                    };
                    Ok::<_, String>((train_set, validation))
                };
                let (train_set, validation) = match sets.await {
                    Ok(sets) => sets,
                    Err(error) => {
                        computed.set(Computed {
                            error: Some(error),
                            ..(*computed).clone()
                        });
                        training.set(Training::default());
                        return;
                    }
                };
                let config = TrainingConfig {
                    epochs: LESSON_EPOCHS,
                    ..TrainingConfig::default()
                };
                let live = Rc::new(std::cell::RefCell::new(Training {
                    running: true,
                    ..Training::default()
                }));
                let (image_len, channels) = (validation.image_len(), validation.channels);
                let on_event = {
                    let live = live.clone();
                    let training = training.clone();
                    let flag = flag.clone();
                    move |event: TrainingEvent| {
                        {
                            let mut l = live.borrow_mut();
                            match event {
                                TrainingEvent::Batch {
                                    epoch,
                                    batch,
                                    batches,
                                    loss,
                                } => l.steps.push(CurvePoint::at(epoch, batch, batches, loss)),
                                TrainingEvent::Epoch(report) => l.epochs.push((
                                    report.epoch,
                                    report.train_loss,
                                    report.validation_loss,
                                )),
                                TrainingEvent::Samples {
                                    noisy,
                                    reconstructed,
                                } => {
                                    l.samples = view::sample_pictures(
                                        &noisy,
                                        &reconstructed,
                                        image_len,
                                        channels,
                                        4,
                                    );
                                }
                            }
                        }
                        training.set(live.borrow().clone());
                        if flag.get() {
                            ControlFlow::Break(())
                        } else {
                            ControlFlow::Continue(())
                        }
                    }
                };
                let result = train_with_pauses(
                    &AutoencoderConfig::new(),
                    &config,
                    &train_set,
                    &validation,
                    &PageClock,
                    on_event,
                    yield_to_browser,
                )
                .await;
                let mut done = live.borrow().clone();
                done.running = false;
                training.set(done);
                if let Err(error) = result {
                    computed.set(Computed {
                        error: Some(error.to_string()),
                        ..(*computed).clone()
                    });
                }
            });
        })
    };
    let stop_training = {
        let stop = stop.clone();
        Callback::from(move |_: MouseEvent| stop.borrow().set(true))
    };

    let c = &*computed;
    let t = &*training;
    let body = match *step {
        0 => html! {
            <div class="step" data-testid="lesson-redraw">
                <p>{ "The network is an autoencoder: it squeezes a 28×28 digit through a small code and redraws it. It was trained the way the reference experiment trained it: each digit with strong noise added (factor 0.5) as the input, the clean digit as the target. So it learned to redraw digits, and to remove that noise." }</p>
                <button onclick={redraw_next} disabled={*busy} data-testid="lesson-redraw-next">
                    { if c.redraw.is_some() { "Another digit" } else { "Show a digit" } }</button>
                if let Some(r) = &c.redraw {
                    <div class="redraw" data-testid="lesson-redraw-result" data-index={r.index.to_string()}
                        data-clean-loss={r.clean_loss.to_string()} data-denoising-loss={r.denoising_loss.to_string()}
                        data-noisy-loss={r.noisy_loss.to_string()}>
                        <figure><img src={r.clean.clone()} alt="a test digit" /><figcaption>{ "digit" }</figcaption></figure>
                        <figure><img src={r.from_clean.clone()} alt="the digit redrawn" /><figcaption>{ format!("redrawn: loss {:.4}", r.clean_loss) }</figcaption></figure>
                        <figure><img src={r.noisy.clone()} alt="the digit with noise" /><figcaption>{ "with noise 0.5" }</figcaption></figure>
                        <figure><img src={r.from_noisy.clone()} alt="the noisy digit redrawn" /><figcaption>{ format!("redrawn from the noise: loss against the clean digit {:.4}", r.denoising_loss) }</figcaption></figure>
                    </div>
                    <p>{ format!("The noisy digit comes back almost clean. Scored as any image is, against itself, the noisy digit's loss is {:.4}: {:.0}× the clean digit's, because the network removed the noise it was trained to remove.",
                        r.noisy_loss, r.noisy_loss / r.clean_loss.max(1e-9)) }</p>
                }
            </div>
        },
        1 => html! {
            <div class="step" data-testid="lesson-train">
                <p>{ format!("Train a fresh network here, on 2,000 MNIST training digits for {LESSON_EPOCHS} epochs (noise 0.5 on the inputs, clean targets, Adadelta, batches of 128, as the reference; the bundled model saw 60,000 digits 10 times), and watch the loss fall and the redrawn test digits sharpen. Stop it whenever you like.") }</p>
                if t.running {
                    <button onclick={stop_training} data-testid="lesson-train-stop">{ "Stop" }</button>
                } else {
                    <button onclick={start_training} data-testid="lesson-train-start">
                        { if t.epochs.is_empty() { "Train" } else { "Train again" } }</button>
                }
                <figure class="curve" data-testid="lesson-curve" data-epochs={t.epochs.len().to_string()}
                    data-first-loss={t.steps.first().map(|s| s.loss.to_string()).unwrap_or_default()}
                    data-last-loss={t.steps.last().map(|s| s.loss.to_string()).unwrap_or_default()}
                    data-running={t.running.to_string()}>
                    { Html::from_html_unchecked(AttrValue::from(view::loss_curve_svg(&t.steps, &t.epochs, LESSON_EPOCHS))) }
                </figure>
                if !t.samples.is_empty() {
                    <div class="samples">
                        <span class="hint">{ "Held-out digits as the network sees them (noisy) and redraws them, after the latest epoch:" }</span>
                        { for t.samples.iter().map(|(noisy, redrawn)| html! {
                            <figure><img src={noisy.clone()} alt="noisy input" /><img src={redrawn.clone()} alt="redrawn" /></figure>
                        }) }
                    </div>
                }
            </div>
        },
        2 => html! {
            <div class="step" data-testid="lesson-drift">
                <p>{ "Now give the bundled network (trained on all 60,000 digits) 200 noisy digits and 200 letters, and compare with the reference experiment's table." }</p>
                <button onclick={rebuild_table} disabled={*busy} data-testid="lesson-table-build">{ "Score noisy digits and letters" }</button>
                if let Some(rows) = &c.table {
                    <div class="table-scroll" tabindex="0" role="region" aria-label="The reference experiment's table beside this page's">
                    <table data-testid="lesson-table">
                        <tr><th>{ "" }</th><th>{ "reference (Keras)" }</th><th>{ "this page, the reference's way" }</th><th>{ "this page, true error" }</th></tr>
                        { for rows.iter().map(|r| html! {
                            <tr data-true-value={r.true_value.to_string()}><td>{ r.what }</td><td>{ r.reference.clone() }</td><td>{ r.reference_way.clone() }</td><td>{ r.true_error.clone() }</td></tr>
                        }) }
                    </table>
                    </div>
                    <p>{ "Why two columns? The reference measured noisy digits and letters by the loss of the network's output against itself: how unsure the redrawn pixels are (their entropy), divided by the validation loss. Measured that way, noisy digits look almost normal (a denoiser is sure of itself on noise). The true error compares each image with its own reconstruction: noisy digits are then far worse than clean ones, because the noise is removed, and letters are redrawn as digit-like strokes. Driftglass scores the true error." }</p>
                }
            </div>
        },
        3 => html! {
            <div class="step" data-testid="lesson-one">
                <p>{ "One image: where does its loss fall among the losses of 10,000 held-out digits (the baseline)? Its p-value is the share of them that score at least as high (a conformal p-value); below 1 % it is flagged. The flag uses the novelty score, which judges the loss against images as busy as this one and adds how typical its code and its edges are." }</p>
                if c.letters.is_none() {
                    <p class="hint">{ "Score the letters in step 3 first." }</p>
                }
                <button onclick={next_letter} disabled={*busy || c.letters.is_none()} data-testid="lesson-one-next">{ "Another letter" }</button>
                if let Some(o) = &c.one {
                    <div class="one" data-testid="lesson-one-result" data-name={o.name.clone()} data-loss={o.loss.to_string()}
                        data-p={o.p_value.to_string()} data-flagged={o.flagged.to_string()}>
                        <img src={o.picture.clone()} alt={o.name.clone()} />
                        <p>{ format!("{}: loss {:.4}, above {:.1} % of the baseline's losses (the histogram's bar of one); p = {} by its loss alone, p = {} by its novelty score: {}.",
                            o.name, o.loss, o.percentile, view::format_p(o.loss_p_value), view::format_p(o.p_value),
                            if o.flagged { "flagged" } else { "not flagged" }) }</p>
                        <figure class="histogram">{ Html::from_html_unchecked(AttrValue::from(o.histogram.clone())) }</figure>
                    </div>
                }
            </div>
        },
        4 => html! {
            <div class="step" data-testid="lesson-verdict">
                <p>{ "A whole batch gets more than a share of flags: tests that ask whether its losses could come from the baseline. Here are the 200 letters of step 3, test by test." }</p>
                if let Some(letters) = &c.letters {
                    if let Some(tests) = &letters.0.report.batch.tests {
                        <VerdictPanel tests={tests.clone()} mean_loss={letters.0.report.batch.mean_loss} />
                    }
                } else {
                    <p class="hint">{ "Score the letters in step 3 first." }</p>
                }
            </div>
        },
        _ => html! {
            <div class="step" data-testid="lesson-own">
                <p>{ "Your turn: drop your own images above (a folder works too) to score them against the digits, or train the network on your own reference images in \"Train on your own reference images\" below and check new images against those. Nothing leaves this page." }</p>
            </div>
        },
    };

    html! {
        <details class="lesson" data-testid="lesson" data-step={step.to_string()}>
            <summary>{ "Learn how it works: the reference experiment in six steps" }</summary>
            <p class="hint">{ "The lesson uses the bundled MNIST model and the demo sets on this page's CPU, whatever model you have loaded; nothing is uploaded." }</p>
            <ol class="steps" role="list">
                { for STEPS.iter().enumerate().map(|(i, title)| html! {
                    <li><button class={classes!((i == *step).then_some("current"))}
                        aria-current={(i == *step).then_some("step")}
                        onclick={go(i)} data-testid={format!("lesson-step-{}", i + 1)}>{ format!("{}. {title}", i + 1) }</button></li>
                }) }
            </ol>
            <h2>{ format!("Step {} of {}: {}", *step + 1, STEPS.len(), STEPS[*step]) }</h2>
            { body }
            if let Some(error) = &c.error {
                <p class="error" role="alert" data-testid="lesson-error">{ error.clone() }</p>
            }
            <p class="nav">
                <button onclick={go(step.saturating_sub(1))} disabled={*step == 0} data-testid="lesson-back">{ "Back" }</button>
                <button onclick={go((*step + 1).min(STEPS.len() - 1))} disabled={*step + 1 == STEPS.len()} data-testid="lesson-next">{ "Next" }</button>
            </p>
        </details>
    }
}
