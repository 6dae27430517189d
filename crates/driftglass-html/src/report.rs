//! The HTML report: one self-contained file (inline SVG plots and, if asked for, thumbnails as
//! data URLs; a style sheet inside; no script; nothing fetched) with the model, the batch
//! summary, the verdict and each test, the histogram, the timeline, what changed and the most
//! drifted images. The page and the CLI write the same file from the same report.
//!
//! Every number a reader may want to check carries a `data-field` attribute with its full
//! value, so tests (and scripts) read the file as they read the JSON report.

use std::fmt::Write as _;

use driftglass_core::report::{ImageOutcome, Report};
use driftglass_core::stats::{KsMethod, LossHistogram, Verdict};

use crate::svg::{
    TimelinePoint, format_p, format_ratio, histogram_svg, property_plot_svg, timeline_svg,
    xml_escape,
};

/// A drifted image's pictures for the report (PNG data URLs), when the user asks for them.
#[derive(Debug, Clone, PartialEq)]
pub struct Thumbnail {
    pub name: String,
    pub loss: f64,
    pub p_value: f64,
    pub input: String,
    pub reconstruction: String,
    pub error: String,
}

/// What the report shows besides the report itself.
#[derive(Debug, Clone, Default)]
pub struct HtmlOptions<'a> {
    /// The model as the user knows it ("bundled MNIST autoencoder", a file name).
    pub model_label: &'a str,
    /// When and where the batch was scored, in words ("2026-11-30 05:30 UTC, CPU (wasm)").
    pub scored: &'a str,
    pub histogram: Option<&'a LossHistogram>,
    /// The batches scored so far, this one last (the page's timeline; one point in the CLI).
    pub timeline: &'a [TimelinePoint],
    pub alert_ratio: f64,
    /// Thumbnails of the most drifted images (empty unless the user ticked them).
    pub thumbnails: &'a [Thumbnail],
}

/// Most drifted images listed by name (the thumbnails are what the options hold).
pub const LISTED: usize = 20;

const STYLE: &str = "body{font-family:system-ui,sans-serif;color:#1b1f24;max-width:60rem;margin:2rem auto;padding:0 1rem;line-height:1.4}\
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:1.6rem}\
table{border-collapse:collapse;font-size:0.9rem}td,th{border-top:1px solid #d6dde4;padding:0.25rem 0.6rem;text-align:left;vertical-align:top}\
.drift{color:#c62828}.small{color:#8a4b00}.calm{color:#2e7d32}.unknown{color:#5b6570}.muted{color:#5b6570;font-size:0.85rem}\
figure{margin:0.5rem 0}svg{max-width:100%;height:auto}\
.changes li{margin:0.4rem 0}.thumbs{display:flex;flex-wrap:wrap;gap:0.8rem}\
.thumbs figure{font-size:0.75rem}.thumbs img{width:64px;height:64px;image-rendering:pixelated;border:1px solid #d6dde4}\
.headline{padding:0.7rem 0.9rem;border-radius:0.5rem;color:white;font-size:1.05rem}.headline strong{font-size:1.2rem;margin-right:0.3rem}\
.tone-drift{background:#c62828}.tone-small{background:#8a4b00}.tone-calm{background:#2e7d32}.tone-unknown{background:#5b6570}";

/// The report as one HTML document.
pub fn html_report(report: &Report, options: &HtmlOptions<'_>) -> String {
    let b = &report.batch;
    let m = &report.model;
    let mut html = String::new();
    let _ = write!(
        html,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>Driftglass report: {}</title><style>{STYLE}</style></head><body><h1>Driftglass report</h1>",
        xml_escape(&verdict_words(report))
    );
    let _ = write!(
        html,
        "<p class=\"muted\">Scored {} by {}. Everything was computed on the scorer's machine; this file fetches nothing.</p>",
        xml_escape(options.scored),
        xml_escape(&report.app)
    );
    // The one message, before any detail (the same words as the page's).
    if let Some(h) = crate::headline::headline(b, options.alert_ratio) {
        let _ = write!(
            html,
            "<p class=\"headline {}\" data-field=\"headline\"><strong>{}</strong> {} {}</p>",
            h.tone.class(),
            xml_escape(&h.title),
            xml_escape(&h.sentence),
            xml_escape(h.alert.as_deref().unwrap_or_default())
        );
    }

    // The model.
    let _ = write!(
        html,
        "<h2>Model</h2><table><tr><th>model</th><td>{}</td></tr><tr><th>file SHA-256</th><td data-field=\"model-sha256\">{}</td></tr>\
<tr><th>made by</th><td>{}</td></tr><tr><th>input</th><td>{}×{} {}</td></tr>\
<tr><th>baseline</th><td>{} images of {}: mean loss <span data-field=\"baseline-mean\">{}</span> (sd {:.4}, {:?})</td></tr></table>",
        xml_escape(options.model_label),
        xml_escape(&m.sha256),
        xml_escape(&m.created_by),
        report.preprocess.side,
        report.preprocess.side,
        if report.preprocess.channels == 3 {
            "colour"
        } else {
            "gray"
        },
        m.baseline.count,
        xml_escape(&m.baseline.dataset),
        m.baseline.mean,
        m.baseline.std,
        m.baseline.loss
    );

    // The batch.
    let _ = write!(
        html,
        "<h2>Batch</h2><table><tr><th>inputs</th><td data-field=\"inputs\">{}</td></tr><tr><th>scored</th><td data-field=\"scored\">{}</td></tr>\
<tr><th>could not be read</th><td data-field=\"failed\">{}</td></tr><tr><th>mean loss</th><td data-field=\"mean-loss\" data-value=\"{}\">{}</td></tr>\
<tr><th>loss ratio</th><td data-field=\"loss-ratio\" data-value=\"{}\">{}{}</td></tr>\
<tr><th>flagged</th><td><span data-field=\"flagged\">{}</span> at a {:.0} % false-positive rate</td></tr></table>",
        b.inputs,
        b.scored,
        b.failed,
        b.mean_loss.map(|v| v.to_string()).unwrap_or_default(),
        b.mean_loss
            .map(|v| format!("{v:.4}"))
            .unwrap_or_else(|| "—".into()),
        b.loss_ratio.map(|v| v.to_string()).unwrap_or_default(),
        b.loss_ratio.map(format_ratio).unwrap_or_else(|| "—".into()),
        b.loss_ratio
            .filter(|r| *r >= options.alert_ratio)
            .map(|_| format!(
                " (above the alert at {})",
                format_ratio(options.alert_ratio)
            ))
            .unwrap_or_default(),
        b.flagged,
        b.flag_rate * 100.0
    );

    // The verdict and each test.
    match &b.tests {
        Some(t) => {
            let (class, key) = match t.verdict {
                Verdict::Drift => ("drift", "drift"),
                Verdict::SmallShift => ("small", "small_shift"),
                Verdict::NoEvidenceOfDrift => ("calm", "no_evidence_of_drift"),
                Verdict::TooFewImages => ("unknown", "too_few_images"),
            };
            let _ = write!(
                html,
                "<h2>Verdict: <span class=\"{class}\" data-field=\"verdict\" data-value=\"{key}\">{}</span></h2><p>The smallest p-value × {} (the number of tests) is <span data-field=\"combined-p\" data-value=\"{}\">{}</span>; the level is {}.{}</p>",
                t.verdict.headline(),
                t.test_count(),
                t.combined_p_value,
                format_p(t.combined_p_value),
                t.alpha,
                match t.verdict {
                    Verdict::TooFewImages => format!(
                        " At least {} scored images are needed against this baseline.",
                        t.min_batch
                    ),
                    _ => t
                        .size_sentence()
                        .map(|sentence| format!(" {sentence}"))
                        .unwrap_or_default(),
                }
            );
            if let Some(sentence) = t.alternative_sentence() {
                let _ = write!(html, "<p data-field=\"alternative\">{sentence}</p>");
            }
            // Where a test of the whole distribution is shown but does not decide.
            let shown_only = if t.alternative.distribution_tests_decide() {
                ""
            } else {
                "; shown, not deciding"
            };
            let _ = write!(
                html,
                "<table><tr><th>test</th><th>statistic</th><th>p-value</th><th>what it asks</th></tr>\
<tr><td>Kolmogorov–Smirnov</td><td>{} = {:.4}</td><td data-field=\"ks-p\" data-value=\"{}\">{}</td><td>{} ({}{})</td></tr>\
<tr><td>Permutation</td><td>mean {}</td><td data-field=\"permutation-p\" data-value=\"{}\">{}</td><td>Is the batch's mean loss higher than random batches of baseline images would give? ({} reshuffles)</td></tr>\
<tr><td>Flagged share ({})</td><td>{} of {}</td><td data-field=\"binomial-p\" data-value=\"{}\">{}</td><td>Are more images flagged than the {:.1} % expected by chance? (beta-binomial)</td></tr>",
                if t.ks.one_sided { "D⁺" } else { "D" },
                t.ks.statistic,
                t.ks.p_value,
                format_p(t.ks.p_value),
                if t.ks.one_sided {
                    "Are the batch's losses larger than the baseline's?"
                } else {
                    "Could the batch's losses come from the baseline's distribution?"
                },
                match t.ks.method {
                    KsMethod::Exact => "exact p-value",
                    KsMethod::ExactConservative =>
                        "exact without ties; conservative, as some losses are equal",
                    KsMethod::Asymptotic => "asymptotic p-value",
                },
                shown_only,
                b.mean_loss.map(|v| format!("{v:.4}")).unwrap_or_default(),
                t.permutation_p_value,
                format_p(t.permutation_p_value),
                t.permutations,
                if t.flags_from_novelty {
                    "novelty"
                } else {
                    "loss"
                },
                t.flagged,
                t.images,
                t.binomial_p_value,
                format_p(t.binomial_p_value),
                t.flag_probability * 100.0
            );
            if let Some(mmd) = &t.mmd {
                let _ = write!(
                    html,
                    "<tr><td>Latent MMD</td><td>MMD² = {:.4}</td><td data-field=\"mmd-p\" data-value=\"{}\">{}</td><td>Do the images sit where the reference images sit in the encoder's code space? ({} batch codes against {} reference codes{})</td></tr>",
                    mmd.statistic,
                    mmd.p_value,
                    format_p(mmd.p_value),
                    mmd.batch_codes,
                    mmd.reference_codes,
                    shown_only
                );
            }
            if let Some((low, high)) = t.ratio_interval {
                let _ = write!(
                    html,
                    "<tr><td>Loss ratio</td><td>{}</td><td>—</td><td>95 % bootstrap interval {} to {}.</td></tr>",
                    format_ratio(t.loss_ratio),
                    format_ratio(low),
                    format_ratio(high)
                );
            }
            html.push_str("</table>");
            // What changed.
            html.push_str("<h2>What changed</h2>");
            match &t.properties {
                None => html.push_str(
                    "<p data-field=\"what-changed\" data-value=\"\">This model file keeps no image properties of its reference images, so what changed cannot be told.</p>",
                ),
                Some(p) if p.changed.is_empty() => {
                    let _ = write!(
                        html,
                        "<p data-field=\"what-changed\" data-value=\"\">No image property differs from the reference images' ({} tested).</p>",
                        p.tests.len()
                    );
                }
                Some(p) => {
                    let names: Vec<&str> = p.changed.iter().map(|c| c.name()).collect();
                    let _ = write!(
                        html,
                        "<ol class=\"changes\" data-field=\"what-changed\" data-value=\"{}\">",
                        names.join(",")
                    );
                    for property in &p.changed {
                        if let Some(test) = p.tests.iter().find(|t| t.property == *property) {
                            let _ = write!(
                                html,
                                "<li>{}<br>{}</li>",
                                xml_escape(&test.sentence),
                                property_plot_svg(test)
                            );
                        }
                    }
                    let _ = write!(
                        html,
                        "</ol><p class=\"muted\">One two-sample test per property against the model's {} reference images, counted with the verdict's tests.</p>",
                        p.reference_images
                    );
                }
            }
        }
        None => html.push_str("<h2>Verdict</h2><p>No batch tests (nothing was scored).</p>"),
    }

    if let Some(histogram) = options.histogram {
        let _ = write!(
            html,
            "<h2>Losses</h2><figure>{}<figcaption class=\"muted\">Reconstruction loss: gray, the baseline; blue, this batch.</figcaption></figure>",
            histogram_svg(histogram)
        );
    }
    if !options.timeline.is_empty() {
        let _ = write!(
            html,
            "<h2>Timeline</h2><figure>{}</figure>",
            timeline_svg(
                options.timeline,
                options.alert_ratio,
                b.tests.as_ref().map_or(0.01, |t| t.alpha)
            )
        );
    }

    // The most drifted images.
    let mut scored: Vec<(&str, &driftglass_core::report::ImageScore)> = report
        .images
        .iter()
        .filter_map(|i| match &i.outcome {
            ImageOutcome::Scored(s) => Some((i.name.as_str(), s)),
            ImageOutcome::Failed { .. } => None,
        })
        .collect();
    scored.sort_by(|a, b| b.1.drift_score().total_cmp(&a.1.drift_score()));
    if !scored.is_empty() {
        html.push_str("<h2>Most drifted images</h2><table><tr><th>image</th><th>loss</th><th>novelty</th><th>p-value</th><th>flagged</th></tr>");
        for (name, s) in scored.iter().take(LISTED) {
            let _ = write!(
                html,
                "<tr data-field=\"image\" data-name=\"{}\" data-loss=\"{}\"><td>{}</td><td>{:.4}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                xml_escape(name),
                s.loss,
                xml_escape(name),
                s.loss,
                s.novelty
                    .map(|t| format!("{t:.2}"))
                    .unwrap_or_else(|| "—".into()),
                format_p(s.p_value),
                if s.flagged { "yes" } else { "" }
            );
        }
        html.push_str("</table>");
    }
    if !options.thumbnails.is_empty() {
        html.push_str("<div class=\"thumbs\" data-field=\"thumbnails\">");
        for t in options.thumbnails {
            let _ = write!(
                html,
                "<figure><img src=\"{}\" alt=\"input\"><img src=\"{}\" alt=\"redrawn\"><img src=\"{}\" alt=\"error\"><figcaption>{}<br>loss {:.4} · p {}</figcaption></figure>",
                t.input,
                t.reconstruction,
                t.error,
                xml_escape(&t.name),
                t.loss,
                format_p(t.p_value)
            );
        }
        html.push_str("</div>");
    }
    let failed: Vec<(&str, &str)> = report
        .images
        .iter()
        .filter_map(|i| match &i.outcome {
            ImageOutcome::Failed { error } => Some((i.name.as_str(), error.as_str())),
            ImageOutcome::Scored(_) => None,
        })
        .collect();
    if !failed.is_empty() {
        html.push_str("<h2>Inputs that could not be read</h2><ul>");
        for (name, error) in failed.iter().take(LISTED) {
            let _ = write!(html, "<li>{}: {}</li>", xml_escape(name), xml_escape(error));
        }
        if failed.len() > LISTED {
            let _ = write!(html, "<li>… and {} more</li>", failed.len() - LISTED);
        }
        html.push_str("</ul>");
    }
    html.push_str("</body></html>\n");
    html
}

/// The title's words: the verdict, or that there is none.
fn verdict_words(report: &Report) -> String {
    report
        .batch
        .tests
        .as_ref()
        .map(|t| t.verdict.headline().to_string())
        .unwrap_or_else(|| "no batch tests".into())
}

#[cfg(test)]
mod tests {
    use driftglass_core::model_file;
    use driftglass_core::properties::ImageProperties;
    use driftglass_core::report::PreparedInput;
    use driftglass_core::scorer::Scorer;

    use super::*;

    /// A scored batch of striped images (and one that could not be read) against the bundled
    /// model.
    fn report() -> Report {
        let model = model_file::decode(driftglass_core::bundled::BUNDLED_MODEL)
            .unwrap_or_else(|e| panic!("{e}"));
        let config = model.header.preprocess;
        let mut inputs: Vec<(String, PreparedInput)> = (0..30)
            .map(|i| {
                let pixels: Vec<f32> = (0..784).map(|p| f32::from((p + i) % 7 == 0)).collect();
                let properties = ImageProperties::of_gray(&pixels, 28, 28, "png");
                (format!("<{i}>.png"), Ok((pixels, properties)))
            })
            .collect();
        inputs.push(("notes.txt".into(), Err("not an image".into())));
        let mut scorer =
            Scorer::new(&model, "test", config, 0.01).unwrap_or_else(|e| panic!("{e}"));
        scorer.push(&inputs).unwrap_or_else(|e| panic!("{e}"));
        scorer.finish(0.01)
    }

    #[test]
    fn the_report_holds_the_numbers_and_nothing_to_fetch() {
        let report = report();
        let tests = report
            .batch
            .tests
            .clone()
            .unwrap_or_else(|| panic!("no tests"));
        let html = html_report(
            &report,
            &HtmlOptions {
                model_label: "bundled MNIST autoencoder",
                scored: "2026-11-30 05:30 UTC on the CPU",
                alert_ratio: 1.1,
                ..HtmlOptions::default()
            },
        );
        assert!(html.starts_with("<!DOCTYPE html>") && html.ends_with("</html>\n"));
        assert!(
            !html.contains("<script") && !html.contains("http"),
            "{html}"
        );
        // The one message comes first, in the verdict's words.
        let title = match tests.verdict {
            Verdict::Drift => "Drift",
            Verdict::SmallShift => "Small shift",
            Verdict::NoEvidenceOfDrift => "No evidence of drift",
            Verdict::TooFewImages => "Too few images to tell",
        };
        let headline = html.find("data-field=\"headline\"");
        assert!(
            headline.is_some_and(
                |at| html[at..].contains(&format!("<strong>{title}</strong>"))
                    && html.find("<h2>").is_some_and(|h2| at < h2)
            ),
            "{html}"
        );
        let field = |name: &str| {
            let at = html
                .find(&format!("data-field=\"{name}\""))
                .unwrap_or_else(|| panic!("no {name}"));
            let rest = &html[at..];
            let start = rest.find("data-value=\"").map(|i| i + 12).unwrap_or(0);
            rest[start..start + rest[start..].find('"').unwrap_or(0)].to_string()
        };
        assert_eq!(
            field("loss-ratio"),
            report
                .batch
                .loss_ratio
                .map(|r| r.to_string())
                .unwrap_or_default()
        );
        assert_eq!(field("combined-p"), tests.combined_p_value.to_string());
        assert_eq!(field("verdict"), "drift");
        // The bundled model keeps no image properties: said, not guessed.
        assert_eq!(field("what-changed"), "");
        assert!(html.contains("keeps no image properties"));
        // Names are escaped; the failed input is listed with its reason.
        assert!(html.contains("&lt;0&gt;.png") && !html.contains("<0>.png"));
        assert!(html.contains("<li>notes.txt: not an image</li>"));
        assert_eq!(html.matches("data-field=\"image\"").count(), LISTED);
    }
}
