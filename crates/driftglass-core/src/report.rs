//! The scoring report: one JSON schema for the CLI's `score --json` and the browser's export.

use serde::{Deserialize, Serialize};

use crate::baseline::{BaselineSummary, loss_ratio};
use crate::model_file::LoadedModel;
use crate::novelty::{NoveltyInput, complexity};
use crate::preprocess::PreprocessConfig;
use crate::properties::ImageProperties;
use crate::score::Reconstruction;

/// Version of the report schema.
pub const REPORT_SCHEMA: u32 = 3;

/// Default false-positive rate for flagging single images.
pub const DEFAULT_FLAG_RATE: f64 = 0.01;

/// Identity of the model a report was made with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelIdentity {
    /// SHA-256 of the model file.
    pub sha256: String,
    /// Who wrote the model file.
    pub created_by: String,
    /// Baseline summary.
    pub baseline: BaselineSummary,
}

/// One input's outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageReport {
    /// File name (or `file.idx#index` for images of an IDX file).
    pub name: String,
    /// Scores, when the input was a readable image.
    #[serde(flatten)]
    pub outcome: ImageOutcome,
}

/// Scores of an image, or why it has none.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ImageOutcome {
    /// Scored.
    Scored(ImageScore),
    /// Not an image the pipeline could read.
    Failed {
        /// Plain-language reason.
        error: String,
    },
}

/// Scores of one image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageScore {
    /// Binary cross-entropy of the input against its reconstruction (the score).
    pub loss: f64,
    /// Mean squared error.
    pub mse: f64,
    /// Share of baseline images with a lower loss, in percent.
    pub percentile: f64,
    /// The image's p-value: of its novelty score where the model has one, else of its loss;
    /// conformal, `(1 + #{calibration ≥ score}) / (n + 1)`.
    pub p_value: f64,
    /// Whether the p-value is below the flag rate.
    pub flagged: bool,
    /// Conformal p-value of the loss alone, `(1 + #{baseline ≥ loss}) / (n + 1)`.
    pub loss_p_value: f64,
    /// The novelty score (see [`crate::novelty`]; larger: less like the reference), where
    /// the model has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub novelty: Option<f64>,
    /// The decoded image's size, format, brightness, … (see [`crate::properties`]).
    #[serde(flatten)]
    pub properties: ImageProperties,
}

impl ImageScore {
    /// What "most drifted first" sorts by, larger first: the novelty score where the model
    /// has one, else the loss.
    pub fn drift_score(&self) -> f64 {
        self.novelty.unwrap_or(self.loss)
    }
}

/// Batch statistics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchSummary {
    /// Inputs received.
    pub inputs: usize,
    /// Inputs scored.
    pub scored: usize,
    /// Inputs that could not be read.
    pub failed: usize,
    /// Mean loss of the scored images.
    pub mean_loss: Option<f64>,
    /// Mean loss / baseline mean loss.
    pub loss_ratio: Option<f64>,
    /// Images flagged at the flag rate.
    pub flagged: usize,
    /// The flag rate used.
    pub flag_rate: f64,
    /// Two-sample tests against the baseline and the verdict (see [`crate::stats`]); absent
    /// while a batch is still being scored, and for an empty batch.
    #[serde(default)]
    pub tests: Option<crate::stats::BatchTests>,
}

/// A whole report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Schema version ([`REPORT_SCHEMA`]).
    pub schema: u32,
    /// Program and version that made the report.
    pub app: String,
    /// Model identity.
    pub model: ModelIdentity,
    /// Preprocessing settings.
    pub preprocess: PreprocessConfig,
    /// Per-input outcomes, in input order.
    pub images: Vec<ImageReport>,
    /// Batch statistics.
    pub batch: BatchSummary,
}

/// Score one reconstruction of `pixels` (the prepared input) against the model's baseline and,
/// where it has one, its novelty score.
pub fn image_score(
    reconstruction: &Reconstruction,
    pixels: &[f32],
    model: &LoadedModel,
    flag_rate: f64,
    properties: ImageProperties,
) -> ImageScore {
    let baseline = &model.baseline;
    let loss_p_value = baseline.p_value(reconstruction.bce);
    let novelty = model.novelty.as_ref().map(|novelty| {
        let preprocess = &model.header.preprocess;
        let score = novelty.score(NoveltyInput {
            loss: reconstruction.bce,
            code: &reconstruction.latent,
            complexity: complexity(pixels, preprocess.channels, preprocess.side),
        });
        (score, novelty.calibration())
    });
    let (p_value, flagged) = match &novelty {
        Some((score, calibration)) => {
            let score = *score as f32;
            (
                calibration.p_value(score),
                calibration.is_flagged(score, flag_rate),
            )
        }
        None => (
            loss_p_value,
            baseline.is_flagged(reconstruction.bce, flag_rate),
        ),
    };
    ImageScore {
        loss: reconstruction.bce as f64,
        mse: reconstruction.mse as f64,
        percentile: baseline.percentile(reconstruction.bce),
        p_value,
        flagged,
        loss_p_value,
        novelty: novelty.map(|(score, _)| f64::from(score as f32)),
        properties,
    }
}

/// An input after preprocessing: its pixels (`channels · side²`, 784 by default) and the
/// decoded image's properties (size, format, brightness, …), or why it has none.
pub type PreparedInput = Result<(Vec<f32>, ImageProperties), String>;

/// Preprocess one image file's bytes (the documented pipeline of [`crate::preprocess`]).
pub fn prepare_image(bytes: &[u8], config: &PreprocessConfig) -> PreparedInput {
    crate::preprocess_bytes(bytes, config)
        .map(|p| (p.pixels, p.properties))
        .map_err(|e| e.to_string())
}

/// [`prepare_image`] for a JPEG whose pixels another decoder produced (see
/// [`crate::preprocess::preprocess_decoded_jpeg`]); `None` where they cannot stand in for ours.
pub fn prepare_decoded_jpeg(
    bytes: &[u8],
    width: u32,
    height: u32,
    rgba: Vec<u8>,
    config: &PreprocessConfig,
) -> Option<PreparedInput> {
    crate::preprocess::preprocess_decoded_jpeg(bytes, width, height, rgba, config)
        .map(|p| Ok((p.pixels, p.properties)))
}

/// The images of an IDX set as inputs named `{name}#{index}` (how the CLI and the web app
/// name them), prepared for `config` by [`prepare_gray`].
pub fn idx_inputs(
    name: &str,
    set: &crate::ImageSet,
    config: &PreprocessConfig,
) -> Vec<(String, PreparedInput)> {
    (0..set.count)
        .map(|index| {
            let input = prepare_gray(set.image(index), set.side, config, "idx");
            (format!("{name}#{index}"), Ok(input))
        })
        .collect()
}

/// A square gray image of `side`² values in [0, 1] (an IDX image) prepared for `config`:
/// resized by area average when the model takes another side (an exact copy otherwise),
/// replicated to three planes for a colour model.
pub fn prepare_gray(
    image: &[f32],
    side: usize,
    config: &PreprocessConfig,
    format: &str,
) -> (Vec<f32>, ImageProperties) {
    let properties = ImageProperties::of_gray(image, side, side, format);
    let plane = crate::preprocess::pad_and_resize(image, side, side, config.side);
    let pixels = if config.channels > 1 {
        plane.repeat(config.channels)
    } else {
        plane
    };
    (pixels, properties)
}

/// Per-input reports, in input order: failed inputs keep their reason; each scorable input takes
/// the next of `reconstructions` (one per scorable input, in the same order).
pub fn image_reports<'a>(
    inputs: impl IntoIterator<Item = (&'a str, &'a PreparedInput)>,
    reconstructions: &[Reconstruction],
    model: &LoadedModel,
    flag_rate: f64,
) -> Vec<ImageReport> {
    let mut next = reconstructions.iter();
    inputs
        .into_iter()
        .map(|(name, input)| ImageReport {
            name: name.to_string(),
            outcome: match input {
                Ok((pixels, properties)) => match next.next() {
                    Some(reconstruction) => ImageOutcome::Scored(image_score(
                        reconstruction,
                        pixels,
                        model,
                        flag_rate,
                        properties.clone(),
                    )),
                    None => ImageOutcome::Failed {
                        error: "internal error: no reconstruction".into(),
                    },
                },
                Err(error) => ImageOutcome::Failed {
                    error: error.clone(),
                },
            },
        })
        .collect()
}

/// Assemble a report from per-input outcomes.
pub fn build_report(
    app: &str,
    model: &LoadedModel,
    preprocess: PreprocessConfig,
    images: Vec<ImageReport>,
    flag_rate: f64,
) -> Report {
    let losses = scored_losses(&images);
    let flagged = images
        .iter()
        .filter(|i| matches!(&i.outcome, ImageOutcome::Scored(s) if s.flagged))
        .count();
    let batch = BatchSummary {
        inputs: images.len(),
        scored: losses.len(),
        failed: images.len() - losses.len(),
        mean_loss: crate::score::mean(losses.iter().copied()),
        loss_ratio: loss_ratio(&losses, &model.baseline),
        flagged,
        flag_rate,
        tests: None,
    };
    Report {
        schema: REPORT_SCHEMA,
        app: app.to_string(),
        model: ModelIdentity {
            sha256: model.sha256.clone(),
            created_by: model.header.created_by.clone(),
            baseline: model.baseline.summary(),
        },
        preprocess,
        images,
        batch,
    }
}

/// Losses of the scored images, in input order.
pub fn scored_losses(images: &[ImageReport]) -> Vec<f32> {
    images
        .iter()
        .filter_map(|i| match &i.outcome {
            ImageOutcome::Scored(score) => Some(score.loss as f32),
            ImageOutcome::Failed { .. } => None,
        })
        .collect()
}

/// Run the batch tests on a finished report (they are seeded: same batch, same numbers).
/// `codes` are the scored images' projected codes, concatenated in input order; the MMD test
/// runs when the model has a latent reference.
pub fn add_batch_tests(report: &mut Report, model: &LoadedModel, codes: &[f32], alpha: f64) {
    crate::stats::run_ready(add_batch_tests_with_pauses(
        report,
        model,
        codes,
        alpha,
        || std::future::ready(()),
    ));
}

/// [`add_batch_tests`], awaiting `pause()` between the tests (see
/// [`crate::stats::batch_tests_with_pauses`]).
pub async fn add_batch_tests_with_pauses<F: std::future::Future<Output = ()>>(
    report: &mut Report,
    model: &LoadedModel,
    codes: &[f32],
    alpha: f64,
    pause: impl FnMut() -> F,
) {
    let losses = scored_losses(&report.images);
    let images: Vec<ImageProperties> = report
        .images
        .iter()
        .filter_map(|i| match &i.outcome {
            ImageOutcome::Scored(score) => Some(score.properties.clone()),
            ImageOutcome::Failed { .. } => None,
        })
        .collect();
    let properties =
        model
            .header
            .properties
            .as_ref()
            .map(|reference| crate::stats::PropertyBatch {
                reference,
                images: &images,
            });
    let novelty_scores: Vec<f32> = report
        .images
        .iter()
        .filter_map(|i| match &i.outcome {
            ImageOutcome::Scored(score) => score.novelty.map(|t| t as f32),
            ImageOutcome::Failed { .. } => None,
        })
        .collect();
    let novelty = model
        .novelty
        .as_ref()
        .filter(|_| novelty_scores.len() == losses.len())
        .map(|novelty| crate::stats::NoveltyBatch {
            calibration: novelty.calibration(),
            scores: &novelty_scores,
        });
    report.batch.tests = crate::stats::batch_tests_with_pauses(
        &model.baseline,
        &losses,
        crate::stats::BatchSides {
            latent: latent_batch(model, codes),
            properties,
            novelty,
            alternative: model.header.alternative(),
        },
        report.batch.flag_rate,
        alpha,
        pause,
    )
    .await;
}

fn latent_batch<'a>(
    model: &'a LoadedModel,
    codes: &'a [f32],
) -> Option<crate::stats::LatentBatch<'a>> {
    model
        .latent
        .as_ref()
        .map(|reference| crate::stats::LatentBatch { reference, codes })
}

/// The report as CSV: `#`-comment lines with the model, baseline, preprocessing and batch
/// statistics, then one row per input (`name,status,loss,mse,percentile,p_value,flagged,width,
/// height,error`). Names and errors are quoted as RFC 4180 asks.
pub fn to_csv(report: &Report) -> String {
    let quote = |text: &str| format!("\"{}\"", text.replace('"', "\"\""));
    let b = &report.batch;
    let m = &report.model;
    let mut lines = vec![
        format!("# report schema {} by {}", report.schema, report.app),
        format!("# model sha256 {} ({})", m.sha256, m.created_by),
        format!(
            "# baseline {} images of {}: mean {} sd {} ({:?})",
            m.baseline.count, m.baseline.dataset, m.baseline.mean, m.baseline.std, m.baseline.loss
        ),
        format!("# preprocessing polarity {:?}", report.preprocess.polarity),
        format!(
            "# batch inputs {} scored {} failed {} mean_loss {} loss_ratio {} flagged {} flag_rate {}",
            b.inputs,
            b.scored,
            b.failed,
            b.mean_loss.map(|v| v.to_string()).unwrap_or_default(),
            b.loss_ratio.map(|v| v.to_string()).unwrap_or_default(),
            b.flagged,
            b.flag_rate
        ),
    ];
    if let Some(t) = &b.tests {
        lines.push(format!(
            "# verdict {} combined_p {} alpha {} ks_d {} ks_p {} ({:?}) permutation_p {} binomial_p {} flagged_by {} ratio_95 {} mmd2 {} mmd_p {}",
            t.verdict.headline(),
            t.combined_p_value,
            t.alpha,
            t.ks.statistic,
            t.ks.p_value,
            t.ks.method,
            t.permutation_p_value,
            t.binomial_p_value,
            if t.flags_from_novelty { "novelty" } else { "loss" },
            t.ratio_interval
                .map(|(low, high)| format!("{low}..{high}"))
                .unwrap_or_default(),
            t.mmd
                .as_ref()
                .map(|m| m.statistic.to_string())
                .unwrap_or_default(),
            t.mmd
                .as_ref()
                .map(|m| m.p_value.to_string())
                .unwrap_or_default()
        ));
    }
    if let Some(changed) = b.tests.as_ref().and_then(|t| t.properties.as_ref()) {
        for test in &changed.tests {
            let flag = if changed.changed.contains(&test.property) {
                "changed"
            } else {
                "unchanged"
            };
            lines.push(format!(
                "# property {} {flag} effect {} p {}: {}",
                test.property.name(),
                test.effect,
                test.p_value,
                test.sentence
            ));
        }
    }
    lines.push(
        "name,status,loss,mse,percentile,p_value,flagged,loss_p_value,novelty,width,height,format,brightness,contrast,red,green,blue,warmth,tint,saturation,sharpness,blockiness,clipped,error"
            .into(),
    );
    for image in &report.images {
        lines.push(match &image.outcome {
            ImageOutcome::Scored(s) => {
                let p = &s.properties;
                format!(
                    "{},scored,{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},",
                    quote(&image.name),
                    s.loss,
                    s.mse,
                    s.percentile,
                    s.p_value,
                    s.flagged,
                    s.loss_p_value,
                    s.novelty.map(|v| v.to_string()).unwrap_or_default(),
                    p.width,
                    p.height,
                    quote(&p.format),
                    p.brightness,
                    p.contrast,
                    p.red,
                    p.green,
                    p.blue,
                    p.warmth,
                    p.tint,
                    p.saturation,
                    p.sharpness,
                    p.blockiness,
                    p.clipped
                )
            }
            ImageOutcome::Failed { error } => {
                format!(
                    "{},failed,,,,,,,,,,,,,,,,,,,,,,{}",
                    quote(&image.name),
                    quote(error)
                )
            }
        });
    }
    lines.join("\n") + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sized(width: u32, height: u32) -> ImageProperties {
        ImageProperties {
            width,
            height,
            ..ImageProperties::default()
        }
    }

    #[test]
    fn csv_has_one_row_per_input_and_quotes_names() {
        let images = vec![
            ImageReport {
                name: "a \"quoted\", name.png".into(),
                outcome: ImageOutcome::Scored(ImageScore {
                    loss: 0.25,
                    mse: 0.01,
                    percentile: 99.5,
                    p_value: 0.004,
                    flagged: true,
                    loss_p_value: 0.02,
                    novelty: None,
                    properties: sized(28, 28),
                }),
            },
            ImageReport {
                name: "b.txt".into(),
                outcome: ImageOutcome::Failed {
                    error: "not an image".into(),
                },
            },
        ];
        let report = Report {
            schema: REPORT_SCHEMA,
            app: "test".into(),
            model: ModelIdentity {
                sha256: "ab".into(),
                created_by: "me".into(),
                baseline: BaselineSummary {
                    loss: crate::LossKind::Bce,
                    dataset: "d".into(),
                    count: 1,
                    mean: 0.1,
                    std: 0.0,
                    median: 0.1,
                    p99: 0.1,
                },
            },
            preprocess: PreprocessConfig::default(),
            images,
            batch: BatchSummary {
                inputs: 2,
                scored: 1,
                failed: 1,
                mean_loss: Some(0.25),
                loss_ratio: Some(2.5),
                flagged: 1,
                flag_rate: 0.01,
                tests: None,
            },
        };
        let csv = to_csv(&report);
        let rows: Vec<&str> = csv.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(rows.len(), 3);
        assert_eq!(
            rows[1],
            r#""a ""quoted"", name.png",scored,0.25,0.01,99.5,0.004,true,0.02,,28,28,"",0,0,0,0,0,0,0,0,0,0,0,"#
        );
        assert_eq!(
            rows[2],
            r#""b.txt",failed,,,,,,,,,,,,,,,,,,,,,,"not an image""#
        );
        // Every row has the header's columns.
        let columns = |row: &str| row.matches(',').count() - row.matches(", ").count();
        assert!(
            rows.iter().all(|row| columns(row) == columns(rows[0])),
            "{rows:?}"
        );
        assert!(csv.contains("loss_ratio 2.5"));
        // And the JSON round-trips with the batch tests absent.
        let json = serde_json::to_string(&report).unwrap_or_default();
        let back: Report = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, report);
    }

    #[test]
    fn outcome_json_is_tagged_and_round_trips() {
        let report = ImageReport {
            name: "a.txt".into(),
            outcome: ImageOutcome::Failed {
                error: "empty file".into(),
            },
        };
        let json = serde_json::to_string(&report).unwrap_or_default();
        assert_eq!(
            json,
            r#"{"name":"a.txt","status":"failed","error":"empty file"}"#
        );
        let back: ImageReport = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, report);
        let scored = ImageReport {
            name: "b.png".into(),
            outcome: ImageOutcome::Scored(ImageScore {
                loss: 0.1,
                mse: 0.01,
                percentile: 50.0,
                p_value: 0.5,
                flagged: false,
                loss_p_value: 0.5,
                novelty: Some(2.5),
                properties: sized(28, 28),
            }),
        };
        let json = serde_json::to_string(&scored).unwrap_or_default();
        assert!(json.contains(r#""status":"scored""#), "{json}");
        let back: ImageReport = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, scored);
    }

    #[test]
    fn reports_pair_reconstructions_with_scorable_inputs_in_order() {
        let mut model = crate::model_file::decode(crate::bundled::BUNDLED_MODEL)
            .unwrap_or_else(|e| panic!("{e}"));
        // Flagged by the loss: no novelty score.
        model.novelty = None;
        model.baseline = crate::Baseline::new(crate::LossKind::Bce, "t", vec![0.1, 0.2, 0.3])
            .unwrap_or_else(|e| panic!("{e}"));
        let reconstruction = |bce| Reconstruction {
            bce,
            mse: 0.0,
            output_entropy: 0.0,
            pixels: Vec::new(),
            latent: Vec::new(),
        };
        let inputs: Vec<(String, PreparedInput)> = vec![
            ("a".into(), Ok((Vec::new(), sized(28, 28)))),
            ("b".into(), Err("empty file".into())),
            ("c".into(), Ok((Vec::new(), sized(5, 7)))),
        ];
        let reports = image_reports(
            inputs.iter().map(|(n, i)| (n.as_str(), i)),
            &[reconstruction(0.05), reconstruction(0.9)],
            &model,
            0.3,
        );
        let losses: Vec<Option<(f64, bool, u32)>> = reports
            .iter()
            .map(|r| match &r.outcome {
                ImageOutcome::Scored(s) => Some((s.loss, s.flagged, s.properties.width)),
                ImageOutcome::Failed { .. } => None,
            })
            .collect();
        assert_eq!(
            losses,
            vec![
                Some((0.05f32 as f64, false, 28)),
                None,
                Some((0.9f32 as f64, true, 5))
            ]
        );
        assert_eq!(
            reports[1].outcome,
            ImageOutcome::Failed {
                error: "empty file".into()
            }
        );
    }
}
