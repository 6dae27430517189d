//! The baseline: per-image reconstruction losses of held-out reference images.
//!
//! Stored sorted, so that any new loss can be placed as a percentile and a conformal p-value,
//! and any batch compared with the whole distribution.

use serde::{Deserialize, Serialize};

use crate::loss::LossKind;

/// Summary of a baseline, stored in the model file's header next to the sorted losses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BaselineSummary {
    /// Which loss the values are.
    pub loss: LossKind,
    /// What the images were, e.g. "MNIST test (10,000 images)".
    pub dataset: String,
    /// Number of images.
    pub count: usize,
    /// Mean loss.
    pub mean: f64,
    /// Standard deviation of the loss (population).
    pub std: f64,
    /// Median loss.
    pub median: f64,
    /// 99th percentile.
    pub p99: f64,
}

/// Per-image losses of held-out reference images, sorted ascending.
#[derive(Debug, Clone, PartialEq)]
pub struct Baseline {
    loss: LossKind,
    dataset: String,
    sorted: Vec<f32>,
    mean: f64,
    std: f64,
}

/// Why a baseline cannot be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BaselineError {
    #[error("a baseline needs at least one loss")]
    Empty,
    #[error("baseline loss #{index} is not a finite non-negative number ({value})")]
    NotFinite { index: usize, value: f32 },
}

impl Baseline {
    /// Build from unsorted per-image losses.
    pub fn new(
        loss: LossKind,
        dataset: impl Into<String>,
        mut losses: Vec<f32>,
    ) -> Result<Self, BaselineError> {
        if losses.is_empty() {
            return Err(BaselineError::Empty);
        }
        if let Some((index, value)) = losses
            .iter()
            .enumerate()
            .find(|(_, v)| !v.is_finite() || **v < 0.0)
        {
            return Err(BaselineError::NotFinite {
                index,
                value: *value,
            });
        }
        losses.sort_by(f32::total_cmp);
        let n = losses.len() as f64;
        let mean = losses.iter().map(|v| *v as f64).sum::<f64>() / n;
        let std = (losses
            .iter()
            .map(|v| (*v as f64 - mean).powi(2))
            .sum::<f64>()
            / n)
            .sqrt();
        Ok(Baseline {
            loss,
            dataset: dataset.into(),
            sorted: losses,
            mean,
            std,
        })
    }

    /// Which loss the baseline holds.
    pub fn loss(&self) -> LossKind {
        self.loss
    }

    /// Description of the reference images.
    pub fn dataset(&self) -> &str {
        &self.dataset
    }

    /// Sorted losses.
    pub fn sorted(&self) -> &[f32] {
        &self.sorted
    }

    /// Number of baseline images.
    pub fn len(&self) -> usize {
        self.sorted.len()
    }

    /// Never true for a constructed baseline; here for API completeness.
    pub fn is_empty(&self) -> bool {
        self.sorted.is_empty()
    }

    /// Mean baseline loss.
    pub fn mean(&self) -> f64 {
        self.mean
    }

    /// Standard deviation of the baseline loss.
    pub fn std(&self) -> f64 {
        self.std
    }

    /// Loss at quantile `q` in [0, 1] (linear interpolation between order statistics).
    pub fn quantile(&self, q: f64) -> f64 {
        let q = q.clamp(0.0, 1.0);
        let position = q * (self.sorted.len() - 1) as f64;
        let low = position.floor() as usize;
        let high = position.ceil() as usize;
        let fraction = position - low as f64;
        self.sorted[low] as f64 * (1.0 - fraction) + self.sorted[high] as f64 * fraction
    }

    /// Number of baseline losses `>= loss`.
    pub fn count_at_least(&self, loss: f32) -> usize {
        self.sorted.len() - self.sorted.partition_point(|v| *v < loss)
    }

    /// Percentile of `loss` in the baseline: the share of baseline losses strictly below it,
    /// in percent (0 to 100).
    pub fn percentile(&self, loss: f32) -> f64 {
        100.0 * self.sorted.partition_point(|v| *v < loss) as f64 / self.sorted.len() as f64
    }

    /// Conformal p-value `(1 + #{baseline ≥ loss}) / (n + 1)`: never 0, uniform under the
    /// hypothesis that the image is exchangeable with the baseline images.
    pub fn p_value(&self, loss: f32) -> f64 {
        (1 + self.count_at_least(loss)) as f64 / (self.sorted.len() + 1) as f64
    }

    /// Whether an image of this loss is flagged at false-positive rate `rate`: its p-value is
    /// below `rate`.
    pub fn is_flagged(&self, loss: f32, rate: f64) -> bool {
        self.p_value(loss) < rate
    }

    /// The chance that a clean image (exchangeable with the baseline images) is flagged at
    /// `rate`: `(⌈rate · (n + 1)⌉ − 1) / (n + 1)`, at most `rate`.
    pub fn flag_probability(&self, rate: f64) -> f64 {
        let slots = (self.sorted.len() + 1) as f64;
        ((rate * slots).ceil() - 1.0).max(0.0) / slots
    }

    /// The loss above which an image is flagged at false-positive rate `rate` (its p-value is
    /// then below `rate`); `None` when no loss can be flagged because the baseline is too small
    /// for that rate (`rate · (n + 1) ≤ 1`).
    pub fn flag_threshold(&self, rate: f64) -> Option<f32> {
        let n = self.sorted.len();
        let bound = rate * (n + 1) as f64 - 1.0;
        if bound.is_nan() || bound <= 0.0 {
            return None;
        }
        // At most `most` baseline losses may lie at or above a flagged loss.
        let most = (bound.ceil() as usize).saturating_sub(1).min(n - 1);
        Some(self.sorted[n - 1 - most])
    }

    /// Summary for headers and reports.
    pub fn summary(&self) -> BaselineSummary {
        BaselineSummary {
            loss: self.loss,
            dataset: self.dataset.clone(),
            count: self.sorted.len(),
            mean: self.mean,
            std: self.std,
            median: self.quantile(0.5),
            p99: self.quantile(0.99),
        }
    }
}

/// Mean of a batch's losses divided by the baseline mean, as the reference reports it
/// (`+44 %` is a ratio of 1.44).
pub fn loss_ratio(batch_losses: &[f32], baseline: &Baseline) -> Option<f64> {
    if batch_losses.is_empty() || baseline.mean() <= 0.0 {
        return None;
    }
    let mean = batch_losses.iter().map(|v| *v as f64).sum::<f64>() / batch_losses.len() as f64;
    Some(mean / baseline.mean())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn baseline() -> Baseline {
        Baseline::new(LossKind::Bce, "test", vec![0.4, 0.1, 0.3, 0.2])
            .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn percentiles_and_p_values() {
        let b = baseline();
        assert_eq!(b.sorted(), &[0.1, 0.2, 0.3, 0.4]);
        assert_eq!(b.percentile(0.05), 0.0);
        assert_eq!(b.percentile(0.25), 50.0);
        assert_eq!(b.percentile(1.0), 100.0);
        assert_eq!(b.p_value(1.0), 1.0 / 5.0);
        assert_eq!(b.p_value(0.0), 5.0 / 5.0);
        assert_eq!(b.p_value(0.3), 3.0 / 5.0);
        assert!((b.mean() - 0.25).abs() < 1e-7);
        assert!((b.quantile(0.5) - 0.25).abs() < 1e-7);
    }

    #[test]
    fn flag_threshold_separates_flagged_from_unflagged_losses() {
        let losses: Vec<f32> = (0..1000).map(|i| i as f32 / 1000.0).collect();
        let b = Baseline::new(LossKind::Bce, "ramp", losses).unwrap_or_else(|e| panic!("{e}"));
        for rate in [0.005, 0.01, 0.05, 0.2] {
            let t = b.flag_threshold(rate).unwrap_or(f32::NAN);
            assert!(
                b.p_value(t) >= rate,
                "{rate}: at the threshold it is not flagged"
            );
            assert!(
                b.p_value(t + 1e-6) < rate,
                "{rate}: just above it is flagged"
            );
        }
        // 1 % of 4 + 1 images: no loss can reach p < 0.01.
        assert_eq!(baseline().flag_threshold(0.01), None);
    }

    #[test]
    fn ratio_is_relative_to_baseline_mean() {
        let b = baseline();
        let ratio = loss_ratio(&[0.5, 0.2], &b).unwrap_or(f64::NAN);
        assert!((ratio - 1.4).abs() < 1e-6);
        assert_eq!(loss_ratio(&[], &b), None);
    }

    #[test]
    fn rejects_empty_and_nan() {
        assert_eq!(
            Baseline::new(LossKind::Bce, "x", vec![]),
            Err(BaselineError::Empty)
        );
        assert!(Baseline::new(LossKind::Bce, "x", vec![0.1, f32::NAN]).is_err());
    }
}

/// Area under the ROC curve for telling `positives` (drifted) from `negatives` (reference) by
/// their loss: the probability that a random positive scores above a random negative, ties
/// counted half (the Mann–Whitney U statistic over `n·m`). `None` if either side is empty.
pub fn auroc(negatives: &[f32], positives: &[f32]) -> Option<f64> {
    if negatives.is_empty() || positives.is_empty() {
        return None;
    }
    let mut sorted = negatives.to_vec();
    sorted.sort_by(f32::total_cmp);
    let mut wins = 0.0f64;
    for p in positives {
        let below = sorted.partition_point(|n| n < p);
        let not_above = sorted.partition_point(|n| n <= p);
        wins += below as f64 + 0.5 * (not_above - below) as f64;
    }
    Some(wins / (negatives.len() as f64 * positives.len() as f64))
}

#[cfg(test)]
mod auroc_tests {
    use super::auroc;

    #[test]
    fn auroc_of_separated_tied_and_reversed_samples() {
        assert_eq!(auroc(&[0.1, 0.2], &[0.3, 0.4]), Some(1.0));
        assert_eq!(auroc(&[0.3, 0.4], &[0.1, 0.2]), Some(0.0));
        assert_eq!(auroc(&[0.5, 0.5], &[0.5]), Some(0.5));
        // negatives 1,3; positives 2,4: pairs won (2>1), (4>1), (4>3) → 3/4.
        assert_eq!(auroc(&[1.0, 3.0], &[2.0, 4.0]), Some(0.75));
        assert_eq!(auroc(&[], &[1.0]), None);
    }
}
