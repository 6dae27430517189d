//! Statistics of a batch against the baseline, shared by the CLI and the web app. Pure Rust:
//! no burn types, no DOM.

use serde::{Deserialize, Serialize};

use crate::baseline::Baseline;

/// A batch's losses and the baseline's on shared bins, as shares of each (so a batch of 10 and a
/// baseline of 10,000 compare), with the flag threshold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LossHistogram {
    /// `bins + 1` bin edges, ascending. Losses beyond the last edge are counted in the last bin.
    pub edges: Vec<f64>,
    /// Share of baseline losses per bin (sums to 1).
    pub baseline: Vec<f64>,
    /// Share of batch losses per bin (sums to 1).
    pub batch: Vec<f64>,
    /// Batch images per bin.
    pub batch_counts: Vec<usize>,
    /// Loss above which an image is flagged, if any can be.
    pub flag_threshold: Option<f64>,
}

/// Histogram of `batch` losses over the baseline's, on `bins` equal bins from the smallest loss
/// to the larger of the baseline's 99.9th percentile and the batch's 98th percentile (so one
/// outlier does not squash the rest); `None` for an empty batch or `bins == 0`.
pub fn loss_histogram(
    baseline: &Baseline,
    batch: &[f32],
    flag_rate: f64,
    bins: usize,
) -> Option<LossHistogram> {
    if batch.is_empty() || bins == 0 || baseline.is_empty() {
        return None;
    }
    let mut sorted_batch: Vec<f32> = batch.iter().copied().filter(|v| v.is_finite()).collect();
    if sorted_batch.is_empty() {
        return None;
    }
    sorted_batch.sort_by(f32::total_cmp);
    let batch_q98 = sorted_batch[((sorted_batch.len() - 1) as f64 * 0.98).round() as usize];
    let low = (baseline.sorted()[0].min(sorted_batch[0]) as f64).max(0.0);
    let mut high = baseline.quantile(0.999).max(batch_q98 as f64);
    if high <= low {
        high = low + 1e-6;
    }
    let width = (high - low) / bins as f64;
    let edges: Vec<f64> = (0..=bins).map(|i| low + width * i as f64).collect();
    let bin_of = |v: f32| (((v as f64 - low) / width).floor().max(0.0) as usize).min(bins - 1);
    let count = |values: &[f32]| {
        let mut counts = vec![0usize; bins];
        for v in values {
            counts[bin_of(*v)] += 1;
        }
        counts
    };
    let shares = |counts: &[usize], total: usize| {
        counts
            .iter()
            .map(|c| *c as f64 / total as f64)
            .collect::<Vec<_>>()
    };
    let baseline_counts = count(baseline.sorted());
    let batch_counts = count(&sorted_batch);
    Some(LossHistogram {
        edges,
        baseline: shares(&baseline_counts, baseline.len()),
        batch: shares(&batch_counts, sorted_batch.len()),
        batch_counts,
        flag_threshold: baseline.flag_threshold(flag_rate).map(f64::from),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::LossKind;

    #[test]
    fn histogram_shares_sum_to_one_and_counts_match() {
        let baseline = Baseline::new(
            LossKind::Bce,
            "t",
            (0..1000).map(|i| 0.05 + i as f32 / 10_000.0).collect(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let batch = [0.06, 0.07, 0.1, 0.12, 5.0];
        let h = loss_histogram(&baseline, &batch, 0.01, 20).unwrap_or_else(|| panic!("none"));
        assert_eq!(h.edges.len(), 21);
        assert!(h.edges.windows(2).all(|w| w[1] > w[0]));
        assert!((h.baseline.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        assert!((h.batch.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        assert_eq!(h.batch_counts.iter().sum::<usize>(), 5);
        // The outlier 5.0 is beyond the range: counted in the last bin, not lost.
        assert_eq!(h.batch_counts[19], 1);
        assert_eq!(h.edges[0], 0.05f32 as f64);
        let t = h.flag_threshold.unwrap_or(f64::NAN);
        assert!(t > 0.14 && t < 0.15, "{t}");
        assert_eq!(loss_histogram(&baseline, &[], 0.01, 20), None);
        assert_eq!(loss_histogram(&baseline, &batch, 0.01, 0), None);
    }
}
