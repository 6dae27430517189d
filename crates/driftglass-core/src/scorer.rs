//! One scorer for the CLI and the page: push prepared inputs a chunk at a time, get that
//! chunk's per-image reports at once and an up-to-date batch summary, then finish to run the
//! batch tests. Nothing already scored is rebuilt when a chunk arrives (the page used to
//! rebuild the whole report after each chunk: quadratic in the size of a drop).
//!
//! Pausing and cancelling belong to the caller: it decides when to push the next chunk, and may
//! [`Scorer::finish`] at any time with what was scored. The CPU network is built once, in
//! [`Scorer::new`]; reconstructions computed elsewhere (WebGPU, the page's workers) enter
//! through [`Scorer::push_reconstructed`]. Parts of one batch scored apart (the CLI's shards,
//! the Python package's Ray blocks) are joined into one run's report by [`join_parts`].

use crate::baseline::loss_ratio;
use crate::direct::DirectNetwork;
use crate::idx::ImageSet;
use crate::model_file::LoadedModel;
use crate::preprocess::PreprocessConfig;
use crate::report::{
    BatchSummary, ImageOutcome, ImageReport, PreparedInput, Report, build_report, image_reports,
};
use crate::score::{Reconstruction, SCORE_BATCH, ScoreError, reconstruct};

/// A batch being scored against one model.
#[derive(Debug)]
pub struct Scorer<'m> {
    model: &'m LoadedModel,
    network: DirectNetwork,
    app: String,
    preprocess: PreprocessConfig,
    flag_rate: f64,
    images: Vec<ImageReport>,
    /// Losses of the scored images, in input order.
    losses: Vec<f32>,
    /// The finite ones, sorted (merged chunk by chunk): the histogram after every chunk costs
    /// O(bins · log n), not a sort of everything scored.
    sorted_losses: Vec<f32>,
    /// Their projected codes, concatenated (the latent test's input).
    codes: Vec<f32>,
    loss_sum: f64,
    flagged: usize,
}

/// What one pushed chunk gave.
#[derive(Debug, Clone, PartialEq)]
pub struct Chunk {
    /// Index of the chunk's first input in the whole batch.
    pub first: usize,
    /// The chunk's per-input reports, in input order.
    pub images: Vec<ImageReport>,
    /// Reconstructions of the chunk's scored inputs, in input order.
    pub reconstructions: Vec<Reconstruction>,
}

impl<'m> Scorer<'m> {
    /// Start a batch against `model`, preprocessing with `preprocess`, flagging at `flag_rate`;
    /// `app` names the program in the report.
    pub fn new(
        model: &'m LoadedModel,
        app: &str,
        preprocess: PreprocessConfig,
        flag_rate: f64,
    ) -> Result<Scorer<'m>, ScoreError> {
        let network = model.network()?;
        if (preprocess.channels, preprocess.side) != (network.channels(), network.side()) {
            return Err(ScoreError::Network(format!(
                "preprocessing makes {}-channel {}×{} images; the network takes {}-channel {}×{}",
                preprocess.channels,
                preprocess.side,
                preprocess.side,
                network.channels(),
                network.side(),
                network.side()
            )));
        }
        Ok(Scorer {
            model,
            network,
            app: app.to_string(),
            preprocess,
            flag_rate,
            images: Vec::new(),
            losses: Vec::new(),
            sorted_losses: Vec::new(),
            codes: Vec::new(),
            loss_sum: 0.0,
            flagged: 0,
        })
    }

    /// The CPU network this scorer runs (built once).
    pub fn network(&self) -> &DirectNetwork {
        &self.network
    }

    /// Channels of the prepared inputs (1: gray, 3: RGB).
    pub fn channels(&self) -> usize {
        self.preprocess.channels
    }

    /// Score a chunk of prepared inputs on the CPU kernels (every core natively).
    pub fn push(&mut self, inputs: &[(String, PreparedInput)]) -> Result<Chunk, ScoreError> {
        let set = scorable(self.preprocess.channels, self.preprocess.side, inputs);
        let reconstructions = if set.count == 0 {
            Vec::new()
        } else {
            reconstruct(&self.network, &set, SCORE_BATCH, |_| {})?
        };
        Ok(self.push_reconstructed(inputs, reconstructions))
    }

    /// Add a chunk whose scorable inputs (in order) were reconstructed elsewhere.
    pub fn push_reconstructed(
        &mut self,
        inputs: &[(String, PreparedInput)],
        reconstructions: Vec<Reconstruction>,
    ) -> Chunk {
        let first = self.images.len();
        let images = image_reports(
            inputs.iter().map(|(name, input)| (name.as_str(), input)),
            &reconstructions,
            self.model,
            self.flag_rate,
        );
        let mut new_losses = Vec::new();
        for image in &images {
            if let ImageOutcome::Scored(score) = &image.outcome {
                self.losses.push(score.loss as f32);
                new_losses.push(score.loss as f32);
                self.loss_sum += score.loss;
                self.flagged += usize::from(score.flagged);
            }
        }
        self.merge_sorted(new_losses);
        for r in &reconstructions {
            self.codes.extend_from_slice(&r.latent);
        }
        self.images.extend(images.iter().cloned());
        Chunk {
            first,
            images,
            reconstructions,
        }
    }

    /// The batch so far, without tests (no copy of the per-image reports; the loss ratio is a
    /// pass over the losses).
    pub fn summary(&self) -> BatchSummary {
        let scored = self.losses.len();
        BatchSummary {
            inputs: self.images.len(),
            scored,
            failed: self.images.len() - scored,
            mean_loss: (scored > 0).then(|| self.loss_sum / scored as f64),
            loss_ratio: loss_ratio(&self.losses, &self.model.baseline),
            flagged: self.flagged,
            flag_rate: self.flag_rate,
            tests: None,
        }
    }

    /// Losses of the images scored so far, in input order.
    pub fn losses(&self) -> &[f32] {
        &self.losses
    }

    /// Projected codes of the images scored so far, concatenated in input order (what the
    /// latent test takes; a shard's summary carries them).
    pub fn codes(&self) -> &[f32] {
        &self.codes
    }

    /// The histogram of the losses so far over the baseline's (see
    /// [`crate::stats::loss_histogram`], which it equals), without sorting them again.
    pub fn histogram(&self, bins: usize) -> Option<crate::stats::LossHistogram> {
        crate::stats::loss_histogram_of_sorted(
            &self.model.baseline,
            &self.sorted_losses,
            self.flag_rate,
            bins,
        )
    }

    /// Merge a chunk's losses into the sorted ones: linear in what was scored, a copy of a few
    /// kilobytes even for large batches.
    fn merge_sorted(&mut self, mut chunk: Vec<f32>) {
        chunk.retain(|v| v.is_finite());
        if chunk.is_empty() {
            return;
        }
        chunk.sort_by(f32::total_cmp);
        let old = std::mem::take(&mut self.sorted_losses);
        let mut merged = Vec::with_capacity(old.len() + chunk.len());
        let (mut a, mut b) = (old.iter().peekable(), chunk.iter().peekable());
        while let (Some(x), Some(y)) = (a.peek(), b.peek()) {
            if x.total_cmp(y).is_le() {
                merged.push(**x);
                a.next();
            } else {
                merged.push(**y);
                b.next();
            }
        }
        merged.extend(a);
        merged.extend(b);
        self.sorted_losses = merged;
    }

    /// The report of the batch so far, without tests (copies the per-image reports).
    pub fn report(&self) -> Report {
        build_report(
            &self.app,
            self.model,
            self.preprocess,
            self.images.clone(),
            self.flag_rate,
        )
    }

    /// The finished report with the batch tests at `alpha`, awaiting `pause()` between tests
    /// (the page yields to the browser there).
    pub async fn finish_with_pauses<F: std::future::Future<Output = ()>>(
        self,
        alpha: f64,
        pause: impl FnMut() -> F,
    ) -> Report {
        let mut report = build_report(
            &self.app,
            self.model,
            self.preprocess,
            self.images,
            self.flag_rate,
        );
        crate::report::add_batch_tests_with_pauses(
            &mut report,
            self.model,
            &self.codes,
            alpha,
            pause,
        )
        .await;
        report
    }

    /// The finished report with the batch tests at `alpha`.
    pub fn finish(self, alpha: f64) -> Report {
        crate::stats::run_ready(self.finish_with_pauses(alpha, || std::future::ready(())))
    }
}

/// Why parts of a batch cannot be joined.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum JoinError {
    #[error("no parts to join")]
    Empty,
    #[error("part {index} was scored with model {found}, not {expected}")]
    OtherModel {
        index: usize,
        found: String,
        expected: String,
    },
    #[error(
        "part {index} was scored differently from part 0 (program, preprocessing or flag rate)"
    )]
    OtherSettings { index: usize },
}

/// The report of one batch scored in `parts` (each a report without tests and its scored
/// images' codes, in batch order): their images and codes joined, then the batch tests at
/// `alpha` run once, exactly as one run over all of them would. Every part must come from
/// `model`, by the same program, with the same preprocessing and flag rate.
pub fn join_parts(
    model: &LoadedModel,
    parts: impl IntoIterator<Item = (Report, Vec<f32>)>,
    alpha: f64,
) -> Result<Report, JoinError> {
    let mut parts = parts.into_iter().enumerate();
    let (_, (first, mut codes)) = parts.next().ok_or(JoinError::Empty)?;
    let same_model = |index: usize, report: &Report| {
        if report.model.sha256 == model.sha256 {
            Ok(())
        } else {
            Err(JoinError::OtherModel {
                index,
                found: report.model.sha256.clone(),
                expected: model.sha256.clone(),
            })
        }
    };
    same_model(0, &first)?;
    let (app, preprocess, flag_rate) = (first.app, first.preprocess, first.batch.flag_rate);
    let mut images = first.images;
    for (index, (part, part_codes)) in parts {
        same_model(index, &part)?;
        if part.app != app || part.preprocess != preprocess || part.batch.flag_rate != flag_rate {
            return Err(JoinError::OtherSettings { index });
        }
        images.extend(part.images);
        codes.extend(part_codes);
    }
    let mut report = build_report(&app, model, preprocess, images, flag_rate);
    crate::report::add_batch_tests(&mut report, model, &codes, alpha);
    Ok(report)
}

/// The scorable inputs of a chunk as one image set of `channels`-channel `side`×`side` images.
pub fn scorable(channels: usize, side: usize, inputs: &[(String, PreparedInput)]) -> ImageSet {
    ImageSet::from_images(
        channels,
        side,
        inputs
            .iter()
            .filter_map(|(_, input)| input.as_ref().ok().map(|(pixels, ..)| pixels.as_slice())),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::add_batch_tests;

    /// Bright strokes on black: digit-like inputs for the bundled model.
    fn inputs(count: usize) -> Vec<(String, PreparedInput)> {
        (0..count)
            .map(|i| {
                if i % 7 == 3 {
                    return (format!("bad-{i}.png"), Err("not an image".to_string()));
                }
                let pixels: Vec<f32> = (0..784)
                    .map(|p| {
                        let (y, x) = (p / 28, p % 28);
                        if (x + i) % 9 < 3 && (6..22).contains(&y) {
                            0.9
                        } else {
                            0.0
                        }
                    })
                    .collect();
                let properties =
                    crate::properties::ImageProperties::of_gray(&pixels, 28, 28, "png");
                (format!("img-{i}.png"), Ok((pixels, properties)))
            })
            .collect()
    }

    /// Pushing in chunks gives exactly the report of scoring the whole batch at once.
    #[test]
    fn chunks_give_the_report_of_one_pass() {
        let model = crate::model_file::decode(crate::bundled::BUNDLED_MODEL)
            .unwrap_or_else(|e| panic!("{e}"));
        let all = inputs(45);
        let config = PreprocessConfig::default();

        let network = model.network().unwrap_or_else(|e| panic!("{e}"));
        let set = scorable(1, 28, &all);
        let reconstructions =
            reconstruct(&network, &set, SCORE_BATCH, |_| {}).unwrap_or_else(|e| panic!("{e}"));
        let images = image_reports(
            all.iter().map(|(n, i)| (n.as_str(), i)),
            &reconstructions,
            &model,
            0.01,
        );
        let mut whole = build_report("test", &model, config, images, 0.01);
        let codes: Vec<f32> = reconstructions
            .iter()
            .flat_map(|r| r.latent.clone())
            .collect();
        add_batch_tests(&mut whole, &model, &codes, 0.01);

        let mut scorer =
            Scorer::new(&model, "test", config, 0.01).unwrap_or_else(|e| panic!("{e}"));
        let mut seen = 0;
        for part in all.chunks(8) {
            let chunk = scorer.push(part).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(chunk.first, seen);
            assert_eq!(chunk.images.len(), part.len());
            seen += part.len();
            let summary = scorer.summary();
            assert_eq!(summary.inputs, seen);
            assert_eq!(summary, scorer.report().batch);
            // The running histogram is the one drawn from scratch.
            assert_eq!(
                scorer.histogram(40),
                crate::stats::loss_histogram(&model.baseline, scorer.losses(), 0.01, 40)
            );
        }
        let chunked = scorer.finish(0.01);
        assert_eq!(chunked, whole);
        assert_eq!(chunked.batch.failed, 6);
        assert!(chunked.batch.tests.is_some());
    }

    /// Parts scored by separate scorers, joined, give the report of one run; parts of another
    /// model or scored otherwise are refused.
    #[test]
    fn joined_parts_give_the_report_of_one_run() {
        let model = crate::model_file::decode(crate::bundled::BUNDLED_MODEL)
            .unwrap_or_else(|e| panic!("{e}"));
        let all = inputs(45);
        let config = PreprocessConfig::default();
        let part = |inputs: &[(String, PreparedInput)], flag_rate: f64| {
            let mut scorer =
                Scorer::new(&model, "test", config, flag_rate).unwrap_or_else(|e| panic!("{e}"));
            scorer.push(inputs).unwrap_or_else(|e| panic!("{e}"));
            (scorer.report(), scorer.codes().to_vec())
        };
        let whole = {
            let mut scorer =
                Scorer::new(&model, "test", config, 0.01).unwrap_or_else(|e| panic!("{e}"));
            scorer.push(&all).unwrap_or_else(|e| panic!("{e}"));
            scorer.finish(0.01)
        };
        let parts = vec![
            part(&all[..10], 0.01),
            part(&all[10..31], 0.01),
            part(&all[31..], 0.01),
        ];
        assert_eq!(join_parts(&model, parts.clone(), 0.01), Ok(whole));

        assert_eq!(join_parts(&model, Vec::new(), 0.01), Err(JoinError::Empty));
        let mut other = parts.clone();
        other[2].0.model.sha256 = "0".repeat(64);
        assert!(matches!(
            join_parts(&model, other, 0.01),
            Err(JoinError::OtherModel { index: 2, .. })
        ));
        let mut flagged_otherwise = parts;
        flagged_otherwise[1] = part(&all[10..31], 0.05);
        assert_eq!(
            join_parts(&model, flagged_otherwise, 0.01),
            Err(JoinError::OtherSettings { index: 1 })
        );
    }
}
