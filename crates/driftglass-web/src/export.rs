//! Downloads generated in the page: the report as JSON, CSV and a self-contained HTML file, and
//! the plots as SVG or PNG.
//! Nothing is uploaded: each file is a Blob handed to the browser's own download.

use js_sys::{Array, Uint8Array};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{
    Blob, BlobPropertyBag, CanvasRenderingContext2d, HtmlAnchorElement, HtmlCanvasElement,
    HtmlImageElement, Url,
};

fn describe(error: JsValue) -> String {
    error.as_string().unwrap_or_else(|| format!("{error:?}"))
}

/// Offer `bytes` as a download named `name`.
pub fn download(name: &str, mime: &str, bytes: &[u8]) -> Result<(), String> {
    let parts = Array::of1(&Uint8Array::from(bytes));
    let options = BlobPropertyBag::new();
    options.set_type(mime);
    let blob = Blob::new_with_u8_array_sequence_and_options(&parts, &options).map_err(describe)?;
    download_blob(name, &blob)
}

fn download_blob(name: &str, blob: &Blob) -> Result<(), String> {
    let url = Url::create_object_url_with_blob(blob).map_err(describe)?;
    let document = web_sys::window()
        .and_then(|w| w.document())
        .ok_or("no document")?;
    let anchor: HtmlAnchorElement = document
        .create_element("a")
        .map_err(describe)?
        .unchecked_into();
    anchor.set_href(&url);
    anchor.set_download(name);
    anchor.click();
    // The browser has taken the file; free the URL once it has started.
    let revoke = Closure::once_into_js(move || {
        let _ = Url::revoke_object_url(&url);
    });
    if let Some(window) = web_sys::window() {
        let _ = window
            .set_timeout_with_callback_and_timeout_and_arguments_0(revoke.unchecked_ref(), 10_000);
    }
    Ok(())
}

/// Rasterise an SVG document (at twice its size, for sharpness) and offer it as a PNG.
pub fn download_svg_as_png(name: &str, svg: &str) -> Result<(), String> {
    let document = web_sys::window()
        .and_then(|w| w.document())
        .ok_or("no document")?;
    let image = HtmlImageElement::new().map_err(describe)?;
    let name = name.to_string();
    let loaded = image.clone();
    let onload = Closure::once_into_js(move || {
        let result = (|| -> Result<(), String> {
            let canvas: HtmlCanvasElement = document
                .create_element("canvas")
                .map_err(describe)?
                .unchecked_into();
            let (w, h) = (
                loaded.natural_width().max(1),
                loaded.natural_height().max(1),
            );
            canvas.set_width(w * 2);
            canvas.set_height(h * 2);
            let context: CanvasRenderingContext2d = canvas
                .get_context("2d")
                .map_err(describe)?
                .ok_or("no 2d context")?
                .unchecked_into();
            context
                .draw_image_with_html_image_element_and_dw_and_dh(
                    &loaded,
                    0.0,
                    0.0,
                    (w * 2) as f64,
                    (h * 2) as f64,
                )
                .map_err(describe)?;
            let name = name.clone();
            let on_blob = Closure::once_into_js(move |blob: JsValue| {
                if let Some(blob) = blob.dyn_ref::<Blob>()
                    && let Err(error) = download_blob(&name, blob)
                {
                    web_sys::console::error_1(&JsValue::from_str(&error));
                }
            });
            canvas.to_blob(on_blob.unchecked_ref()).map_err(describe)
        })();
        if let Err(error) = result {
            web_sys::console::error_1(&JsValue::from_str(&format!("PNG export failed: {error}")));
        }
    });
    image.set_onload(Some(onload.unchecked_ref()));
    let encoded = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, svg);
    image.set_src(&format!("data:image/svg+xml;base64,{encoded}"));
    Ok(())
}

/// The `count` most drifted scored cards (see `ImageScore::drift_score`), as the HTML
/// report's thumbnails.
fn most_drifted(view: &crate::state::BatchView, count: usize) -> Vec<driftglass_html::Thumbnail> {
    use driftglass_core::report::ImageOutcome;
    let mut scored: Vec<_> = view
        .cards
        .iter()
        .filter_map(|card| match (&card.outcome, &card.pixels) {
            (ImageOutcome::Scored(score), Some(pixels)) => Some((card, score, pixels)),
            _ => None,
        })
        .collect();
    scored.sort_by(|a, b| b.1.drift_score().total_cmp(&a.1.drift_score()));
    scored
        .into_iter()
        .take(count)
        .map(|(card, score, pixels)| {
            let images = pixels.images();
            driftglass_html::Thumbnail {
                name: card.name.clone(),
                loss: score.loss,
                p_value: score.p_value,
                input: images.input,
                reconstruction: images.reconstruction,
                error: images.error,
            }
        })
        .collect()
}

/// What a download button of the batch exports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Export {
    Json,
    Csv,
    /// The self-contained HTML report (`driftglass_html`).
    Html,
    /// The same with thumbnails of the most drifted images (only when the user ticks it).
    HtmlWithImages,
    HistogramSvg,
    HistogramPng,
    TimelineSvg,
    TimelinePng,
}

impl Export {
    /// Every export, with its button's words.
    pub const ALL: [(Export, &'static str); 7] = [
        (Export::Json, "report (JSON)"),
        (Export::Csv, "report (CSV)"),
        (Export::Html, "report (HTML)"),
        (Export::HistogramSvg, "histogram (SVG)"),
        (Export::HistogramPng, "histogram (PNG)"),
        (Export::TimelineSvg, "timeline (SVG)"),
        (Export::TimelinePng, "timeline (PNG)"),
    ];
}

/// Thumbnails in the HTML report when the user asks for them: the most drifted images.
pub const THUMBNAILS: usize = 12;

/// What the page knows of a batch besides its view: for the HTML report.
pub struct Context<'a> {
    pub timeline: &'a [crate::view::TimelinePoint],
    pub alert_ratio: f64,
    pub model_label: &'a str,
    /// Where it was scored ("CPU (wasm, 2 workers): …").
    pub backend: &'a str,
}

/// Download `what` of the batch on show.
pub fn batch(
    what: Export,
    view: &crate::state::BatchView,
    context: &Context<'_>,
) -> Result<(), String> {
    let (timeline, alert_ratio) = (context.timeline, context.alert_ratio);
    use driftglass_core::report::to_csv;
    use driftglass_core::stats::DEFAULT_ALPHA;

    let report = view
        .report
        .as_ref()
        .ok_or("The report is ready when the batch is scored (or cancelled).")?;
    let histogram = || {
        view.histogram
            .as_ref()
            .map(|h| crate::view::histogram_svg(h))
            .ok_or_else(|| "no histogram yet".to_string())
    };
    let timeline_svg = || crate::view::timeline_svg(timeline, alert_ratio, DEFAULT_ALPHA);
    let failed = |error: String| format!("Export failed: {error}");
    match what {
        Export::Json => {
            let json = serde_json::to_vec_pretty(&**report).map_err(|e| e.to_string());
            json.and_then(|json| download("driftglass-report.json", "application/json", &json))
        }
        Export::Csv => download(
            "driftglass-report.csv",
            "text/csv",
            to_csv(report).as_bytes(),
        ),
        Export::Html | Export::HtmlWithImages => {
            let thumbnails = if what == Export::HtmlWithImages {
                most_drifted(view, THUMBNAILS)
            } else {
                Vec::new()
            };
            let date = js_sys::Date::new_0().to_iso_string();
            let scored = format!(
                "{} UTC on {}",
                String::from(date)
                    .get(..16)
                    .unwrap_or_default()
                    .replace('T', " "),
                context.backend
            );
            let html = driftglass_html::html_report(
                report,
                &driftglass_html::HtmlOptions {
                    model_label: context.model_label,
                    scored: &scored,
                    histogram: view.histogram.as_deref(),
                    timeline,
                    alert_ratio,
                    thumbnails: &thumbnails,
                },
            );
            download("driftglass-report.html", "text/html", html.as_bytes())
        }
        Export::HistogramSvg => histogram()
            .and_then(|svg| download("driftglass-histogram.svg", "image/svg+xml", svg.as_bytes())),
        Export::HistogramPng => {
            histogram().and_then(|svg| download_svg_as_png("driftglass-histogram.png", &svg))
        }
        Export::TimelineSvg => download(
            "driftglass-timeline.svg",
            "image/svg+xml",
            timeline_svg().as_bytes(),
        ),
        Export::TimelinePng => download_svg_as_png("driftglass-timeline.png", &timeline_svg()),
    }
    .map_err(failed)
}
