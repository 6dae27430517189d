//! The web crate's logic in a real browser (headless Chromium through wasm-bindgen-test):
//! the chunked pipeline on File objects, bad inputs, IDX files, cancel, training in the page,
//! and the fallback to the CPU where the WebGPU module cannot start. Run by `cargo xtask test`.
#![cfg(target_arch = "wasm32")]

use std::cell::Cell;

use driftglass_core::model_file::{self, LoadedModel};
use driftglass_core::report::{DEFAULT_FLAG_RATE, ImageOutcome, Report};
use driftglass_web::backend::{self, Preference};
use driftglass_web::pipeline::{self, BatchView, FIRST_CHUNK, Progress, Source};
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

const DIGIT_0: &[u8] = include_bytes!("../../../tests/fixtures/mnist-sample/mnist-test-00.png");
const DIGIT_1: &[u8] = include_bytes!("../../../tests/fixtures/mnist-sample/mnist-test-01.png");
const DIGITS_64: &[u8] = include_bytes!("../../../tests/fixtures/mnist-test-64.idx");

fn file(name: &str, bytes: &[u8]) -> Source {
    let parts = js_sys::Array::of1(&js_sys::Uint8Array::from(bytes));
    let file = web_sys::File::new_with_u8_array_sequence(&parts, name)
        .unwrap_or_else(|e| panic!("File::new: {e:?}"));
    Source::File {
        name: name.into(),
        file,
    }
}

fn model() -> LoadedModel {
    model_file::decode(driftglass_core::bundled::BUNDLED_MODEL)
        .unwrap_or_else(|e| panic!("bundled model: {e}"))
}

/// The finished report of a scored batch.
fn report(view: &BatchView) -> &Report {
    view.report
        .as_deref()
        .unwrap_or_else(|| panic!("a finished batch has its report"))
}

async fn score(
    sources: Vec<Source>,
    gpu: bool,
    cancel_after_first: bool,
) -> (BatchView, Vec<Progress>) {
    let model = model();
    let cancelled = Cell::new(false);
    let mut steps = Vec::new();
    let view = pipeline::score_sources(
        sources,
        &model,
        gpu,
        DEFAULT_FLAG_RATE,
        None,
        &cancelled,
        |_, step| {
            steps.push(step);
            if cancel_after_first {
                cancelled.set(true);
            }
        },
    )
    .await
    .unwrap_or_else(|e| panic!("scoring: {e}"));
    (view, steps)
}

fn loss_of(report: &Report, name: &str) -> f64 {
    report
        .images
        .iter()
        .find(|i| i.name == name)
        .and_then(|i| match &i.outcome {
            ImageOutcome::Scored(s) => Some(s.loss),
            ImageOutcome::Failed { .. } => None,
        })
        .unwrap_or_else(|| panic!("{name} was not scored"))
}

#[wasm_bindgen_test]
async fn bad_files_get_messages_and_good_ones_still_score() {
    let truncated = &DIGIT_1[..DIGIT_1.len() / 2];
    let sources = vec![
        file("zero.png", DIGIT_0),
        file("notes.txt", b"these are not pixels\n"),
        file("empty.png", b""),
        file("truncated.png", truncated),
        file("one.png", DIGIT_1),
    ];
    let (view, steps) = score(sources, false, false).await;
    assert!(view.complete);
    let report = report(&view);
    assert_eq!((report.batch.scored, report.batch.failed), (2, 3));
    let errors: Vec<(String, String)> = report
        .images
        .iter()
        .filter_map(|i| match &i.outcome {
            ImageOutcome::Failed { error } => Some((i.name.clone(), error.clone())),
            ImageOutcome::Scored(_) => None,
        })
        .collect();
    assert_eq!(errors.len(), 3);
    for (name, error) in &errors {
        assert!(!error.is_empty(), "{name} has no message");
    }
    assert!(errors[1].1.contains("empty"), "{:?}", errors[1]);
    // Cards: one per input, in input order, pictures for the scored ones only.
    let cards: Vec<_> = view.cards.iter().collect();
    assert_eq!(cards.len(), 5);
    assert!(cards[0].pixels.is_some() && cards[1].pixels.is_none());
    assert_eq!(steps.last().map(|p| (p.done, p.total)), Some((5, 5)));
    assert!(view.histogram.is_some());
}

#[wasm_bindgen_test]
async fn a_png_scores_exactly_like_the_same_digit_in_an_idx_file() {
    let sources = vec![file("zero.png", DIGIT_0), file("digits.idx", DIGITS_64)];
    let (view, _) = score(sources, false, false).await;
    assert_eq!(view.batch.scored, 65);
    let png = loss_of(report(&view), "zero.png");
    let idx = loss_of(report(&view), "digits.idx#0");
    assert!((png - idx).abs() < 1e-6, "{png} vs {idx}");
}

#[wasm_bindgen_test]
async fn results_arrive_in_chunks_and_cancel_keeps_what_was_done() {
    let sources =
        pipeline::idx_sources("digits.idx", DIGITS_64.to_vec()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(sources.len(), 64);
    let (view, steps) = score(sources.clone(), false, true).await;
    assert!(!view.complete);
    assert_eq!(steps.len(), 1);
    assert_eq!(view.batch.scored, FIRST_CHUNK);
    let (full, steps) = score(sources, false, false).await;
    assert!(full.complete);
    assert!(steps.windows(2).all(|w| w[1].done > w[0].done));
    assert_eq!(full.batch.scored, 64);
    // The first chunk's numbers do not change when more images arrive.
    assert_eq!(
        report(&full).images[..FIRST_CHUNK],
        report(&view).images[..]
    );
}

/// WebGPU lives in a second module that the test runner does not serve: asked for, the page
/// says why it has no WebGPU and scores on the CPU (the e2e test runs the module itself, and
/// `driftglass-gpu`'s own browser tests hold it to the CPU's numbers).
#[wasm_bindgen_test]
async fn without_the_webgpu_module_the_page_says_why_and_scores_on_the_cpu() {
    let chosen = backend::init(Preference::Gpu).await;
    assert!(!chosen.is_gpu, "{}", chosen.detail);
    if option_env!("DRIFTGLASS_EXPECT_WEBGPU") == Some("1") {
        // The browser has an adapter: the module's worker is what failed.
        assert!(
            chosen.detail.contains("WebGPU failed to start"),
            "{}",
            chosen.detail
        );
    }
    let (view, _) = score(vec![file("zero.png", DIGIT_0)], chosen.is_gpu, false).await;
    assert_eq!(view.batch.scored, 1);
}

/// The Reference step on a backend: 64 real digits (51 to train, 13 held out), a few epochs,
/// through the page's own training glue. Validation loss falls, and the sealed model file
/// reloads to exactly the per-image losses its baseline was measured with.
async fn train_on_digits(gpu: bool, epochs: usize) -> Vec<f64> {
    use driftglass_core::reference;
    use driftglass_web::training::{self, Control, ReferenceSet, Settings, Update};

    let images = driftglass_core::idx::parse_images(DIGITS_64.to_vec())
        .unwrap_or_else(|e| panic!("fixture: {e}"));
    let properties = (0..images.count)
        .map(|i| {
            driftglass_core::properties::ImageProperties::of_gray(images.image(i), 28, 28, "idx")
        })
        .collect();
    let set = ReferenceSet {
        label: "digits".into(),
        images,
        properties,
        failed: Vec::new(),
        skipped: 0,
    };
    let settings = Settings {
        epochs,
        batch_size: 16,
        ..Settings::for_images(set.images.count)
    };
    let mut validation = Vec::new();
    let mut samples = 0;
    let made = training::make_model(
        &set,
        &settings,
        gpu,
        "test",
        &Control::default(),
        |u| match u {
            Update::Epoch(report) => validation.push(report.validation_loss),
            Update::Samples {
                noisy,
                reconstructed,
            } => {
                assert_eq!(noisy.len(), reconstructed.len());
                samples += 1;
            }
            _ => {}
        },
    )
    .await
    .unwrap_or_else(|e| panic!("training: {e}"))
    .unwrap_or_else(|| panic!("training was not cancelled"));
    assert_eq!(samples, epochs);
    assert!(
        validation.last() < validation.first(),
        "validation loss did not fall: {validation:?}"
    );

    // Reload the file on the same backend: the held-out images score exactly as the baseline
    // stored in it.
    let reloaded = model_file::decode(&made.bytes).unwrap_or_else(|e| panic!("reload: {e}"));
    let held_out = reference::split(&set.images, settings.validation_share, settings.seed)
        .unwrap_or_else(|e| panic!("{e}"))
        .validation;
    let scores = driftglass_web::workers::reconstruct(&reloaded.weights, &held_out, gpu, 64)
        .await
        .unwrap_or_else(|e| panic!("scoring: {e}"));
    let mut losses: Vec<f32> = scores.iter().map(|r| r.bce).collect();
    losses.sort_by(f32::total_cmp);
    assert_eq!(
        losses,
        reloaded.baseline.sorted(),
        "reloaded model scores differently"
    );
    assert_eq!(reloaded.sha256, made.loaded.sha256);
    validation
}

#[wasm_bindgen_test]
async fn training_in_the_page_lowers_validation_loss_and_reloads_identically_on_the_cpu() {
    let validation = train_on_digits(false, 3).await;
    web_sys::console::log_1(&format!("CPU validation losses {validation:?}").into());
}

/// Larger inputs: reference PNGs read at 64×64, a model trained on them, then a drop scored
/// with it: PNG files are preprocessed to 64×64 and the 28×28 IDX images are resized to it.
#[wasm_bindgen_test]
async fn a_model_of_64_pixel_images_trains_and_scores_files_at_its_size() {
    use driftglass_web::training::{self, Control, Settings};

    let digits = driftglass_core::idx::parse_images(DIGITS_64.to_vec())
        .unwrap_or_else(|e| panic!("fixture: {e}"));
    // 40 reference PNGs (each digit drawn at 56×56, so 64×64 is a real size change).
    let sources: Vec<Source> = (0..40)
        .map(|i| {
            let image = digits.image(i);
            let big: Vec<u8> = (0..56 * 56)
                .map(|p| (image[(p / 56 / 2) * 28 + (p % 56) / 2] * 255.0) as u8)
                .collect();
            let mut png = Vec::new();
            image::ImageEncoder::write_image(
                image::codecs::png::PngEncoder::new(&mut png),
                &big,
                56,
                56,
                image::ExtendedColorType::L8,
            )
            .unwrap_or_else(|e| panic!("{e}"));
            file(&format!("ref/{i}.png"), &png)
        })
        .collect();
    let set = training::gather("ref".into(), sources, (64, 1), |_, _| {}).await;
    assert_eq!((set.images.count, set.images.side), (40, 64));
    let settings = Settings {
        epochs: 1,
        batch_size: 8,
        ..Settings::for_images(40)
    };
    let made = training::make_model(&set, &settings, false, "test", &Control::default(), |_| {})
        .await
        .unwrap_or_else(|e| panic!("training: {e}"))
        .unwrap_or_else(|| panic!("not cancelled"));
    assert_eq!(made.loaded.header.preprocess.side, 64);
    assert_eq!(made.loaded.header.architecture.side, 64);

    let cancelled = Cell::new(false);
    let mut sources = vec![file("zero.png", DIGIT_0)];
    sources.extend(
        pipeline::idx_sources("digits.idx", DIGITS_64.to_vec())
            .unwrap_or_else(|e| panic!("{e}"))
            .into_iter()
            .take(3),
    );
    let view = pipeline::score_sources(
        sources,
        &made.loaded,
        false,
        DEFAULT_FLAG_RATE,
        None,
        &cancelled,
        |_, _| {},
    )
    .await
    .unwrap_or_else(|e| panic!("scoring: {e}"));
    assert_eq!(view.batch.scored, 4);
    let card = view
        .cards
        .iter()
        .next()
        .unwrap_or_else(|| panic!("no card"));
    // The card's pictures are 64×64 PNGs (width at bytes 16..20 of the PNG).
    let images = card
        .pixels
        .as_ref()
        .unwrap_or_else(|| panic!("no pictures"))
        .images();
    let png = base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        images.input.trim_start_matches("data:image/png;base64,"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(u32::from_be_bytes([png[16], png[17], png[18], png[19]]), 64);
}

/// Colour models in the page: RGB reference PNGs read as three planes, a 32×32 colour model
/// trained on them, then a drop of an RGB PNG and a gray one (replicated to three channels)
/// scored with it; the cards are RGB PNGs (colour type 2 at byte 25).
#[wasm_bindgen_test]
async fn a_colour_model_trains_and_scores_rgb_and_gray_files() {
    use driftglass_web::training::{self, Control, Settings};

    let rgb_png = |i: usize| {
        let pixels: Vec<u8> = (0..40 * 40)
            .flat_map(|p| {
                let (x, y) = (p % 40, p / 40);
                [(x * 6 + i) as u8, (y * 6) as u8, (200 - i * 3) as u8]
            })
            .collect();
        let mut png = Vec::new();
        image::ImageEncoder::write_image(
            image::codecs::png::PngEncoder::new(&mut png),
            &pixels,
            40,
            40,
            image::ExtendedColorType::Rgb8,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        png
    };
    let sources: Vec<Source> = (0..24)
        .map(|i| file(&format!("ref/{i}.png"), &rgb_png(i)))
        .collect();
    let set = training::gather("ref".into(), sources, (32, 3), |_, _| {}).await;
    assert_eq!(
        (set.images.count, set.images.side, set.images.channels),
        (24, 32, 3)
    );
    let settings = Settings {
        epochs: 1,
        batch_size: 8,
        ..Settings::for_images(24)
    };
    let made = training::make_model(&set, &settings, false, "test", &Control::default(), |_| {})
        .await
        .unwrap_or_else(|e| panic!("training: {e}"))
        .unwrap_or_else(|| panic!("not cancelled"));
    assert_eq!(made.loaded.header.preprocess.channels, 3);
    assert_eq!(made.loaded.header.architecture.channels, 3);

    let cancelled = Cell::new(false);
    let sources = vec![file("colour.png", &rgb_png(30)), file("zero.png", DIGIT_0)];
    let view = pipeline::score_sources(
        sources,
        &made.loaded,
        false,
        DEFAULT_FLAG_RATE,
        None,
        &cancelled,
        |_, _| {},
    )
    .await
    .unwrap_or_else(|e| panic!("scoring: {e}"));
    assert_eq!(view.batch.scored, 2);
    for card in view.cards.iter() {
        let images = card
            .pixels
            .as_ref()
            .unwrap_or_else(|| panic!("no pictures"))
            .images();
        let png = base64::Engine::decode(
            &base64::engine::general_purpose::STANDARD,
            images.input.trim_start_matches("data:image/png;base64,"),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(u32::from_be_bytes([png[16], png[17], png[18], png[19]]), 32);
        assert_eq!(png[25], 2, "not an RGB PNG");
    }
}
