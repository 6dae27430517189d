//! Per-image reconstruction losses.
//!
//! An autoencoder's targets are continuous pixel intensities in [0, 1]. The loss matches Keras
//! 2.0's `binary_crossentropy` on probabilities: the prediction is clipped to
//! `[1e-7, 1 − 1e-7]`, then `−[y·ln p + (1 − y)·ln(1 − p)]` is averaged over the values of each
//! image (every channel and pixel). `driftglass-burn` computes the same on tensors.

use serde::{Deserialize, Serialize};

/// Keras' `epsilon()`: predictions are clipped to `[EPSILON, 1 − EPSILON]` before the logarithm.
pub const EPSILON: f64 = 1e-7;

/// Which reconstruction loss a score is measured in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum LossKind {
    /// Binary cross-entropy, the reference experiment's loss.
    #[default]
    Bce,
    /// Mean squared error.
    Mse,
}

impl LossKind {
    /// Short name for tables and file headers.
    pub fn name(self) -> &'static str {
        match self {
            LossKind::Bce => "bce",
            LossKind::Mse => "mse",
        }
    }

    /// This loss of one image's `prediction` against its `target` (same length).
    pub fn of(self, prediction: &[f32], target: &[f32]) -> f32 {
        match self {
            LossKind::Bce => bce(prediction, target),
            LossKind::Mse => mse(prediction, target),
        }
    }
}

/// The prediction clipped as Keras clips it, in f32.
#[inline]
pub fn clip(p: f32) -> f32 {
    p.clamp(EPSILON as f32, 1.0 - EPSILON as f32)
}

/// Binary cross-entropy of one image (mean over its values). Targets may be any value in
/// [0, 1]; 0 and 1 pixels give finite losses because the prediction is clipped first.
pub fn bce(prediction: &[f32], target: &[f32]) -> f32 {
    // f32 terms summed in f64: a 128×128 colour image has 49,152 of them.
    let sum: f64 = prediction
        .iter()
        .zip(target)
        .map(|(&p, &y)| {
            let p = clip(p);
            f64::from(-(y * p.ln() + (1.0 - y) * (1.0 - p).ln()))
        })
        .sum();
    (sum / prediction.len().max(1) as f64) as f32
}

/// Mean squared error of one image.
pub fn mse(prediction: &[f32], target: &[f32]) -> f32 {
    let sum: f64 = prediction
        .iter()
        .zip(target)
        .map(|(&p, &y)| f64::from((p - y) * (p - y)))
        .sum();
    (sum / prediction.len().max(1) as f64) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bce_matches_hand_computed_values() {
        // p = [0.9, 0.2], y = [1, 0]   → (−ln 0.9 − ln 0.8) / 2
        let got = bce(&[0.9, 0.2], &[1.0, 0.0]) as f64;
        let want = (-(0.9f64.ln()) - 0.8f64.ln()) / 2.0;
        assert!((got - want).abs() < 1e-6, "{got} vs {want}");
        // p = [0.5, 0.7], y = [0.3, 1] → (−0.3 ln .5 − 0.7 ln .5 − ln .7) / 2
        let got = bce(&[0.5, 0.7], &[0.3, 1.0]) as f64;
        let want = (-(0.5f64.ln()) - 0.7f64.ln()) / 2.0;
        assert!((got - want).abs() < 1e-6, "{got} vs {want}");
    }

    #[test]
    fn bce_is_finite_at_zero_and_one() {
        // Confident and wrong: p = 0 is clipped to 1e-7 → −ln(1e-7) ≈ 16.118; p = 1 is
        // clipped to f32(1 − 1e-7), so 1 − p = 1.19e-7 → 15.942.
        let got = bce(&[0.0, 1.0], &[1.0, 0.0]) as f64;
        let upper = 1.0 - (1.0f32 - 1e-7) as f64;
        let want = (-(1e-7f64).ln() - upper.ln()) / 2.0;
        assert!((got - want).abs() < 1e-3, "{got} vs {want}");
        // Confident and right: −ln(1 − 1e-7) ≈ 1e-7.
        assert!(bce(&[0.0, 1.0], &[0.0, 1.0]).abs() < 1e-5);
    }

    #[test]
    fn mse_matches_hand_computed_values() {
        assert!((mse(&[0.9, 0.2], &[1.0, 0.0]) - (0.01 + 0.04) / 2.0).abs() < 1e-7);
        assert!((mse(&[0.0, 1.0], &[1.0, 1.0]) - 0.5).abs() < 1e-7);
        assert_eq!(LossKind::Mse.of(&[0.0, 1.0], &[1.0, 1.0]), 0.5);
    }
}
