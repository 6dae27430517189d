//! Per-image reconstruction losses on burn tensors, for autodiff training and burn's forward
//! pass (the core computes the same on plain buffers: `driftglass_core::loss`).
//!
//! burn's `BinaryCrossEntropyLoss` takes integer class targets; an autoencoder's targets are
//! continuous pixel intensities in [0, 1], so the loss is written here, as Keras 2.0's
//! `binary_crossentropy` on probabilities.

use burn::tensor::Tensor;

use driftglass_core::loss::{EPSILON, LossKind};

/// Per-image loss of `prediction` against `target`, both `[batch, c, h, w]` → `[batch]`.
pub fn per_image(kind: LossKind, prediction: Tensor<4>, target: Tensor<4>) -> Tensor<1> {
    match kind {
        LossKind::Bce => bce_per_image(prediction, target),
        LossKind::Mse => mse_per_image(prediction, target),
    }
}

/// Binary cross-entropy per image: `[batch, c, h, w]` → `[batch]`.
///
/// Targets may be any value in [0, 1]; 0 and 1 pixels give finite losses because the
/// prediction is clipped away from 0 and 1 first.
pub fn bce_per_image(prediction: Tensor<4>, target: Tensor<4>) -> Tensor<1> {
    let [batch, ..] = prediction.dims();
    let p = prediction.clamp(EPSILON, 1.0 - EPSILON);
    let one_minus_p = p.clone().neg().add_scalar(1.0);
    let one_minus_y = target.clone().neg().add_scalar(1.0);
    let elementwise = (target * p.log() + one_minus_y * one_minus_p.log()).neg();
    elementwise
        .reshape([batch as i32, -1])
        .mean_dim(1)
        .reshape([batch])
}

/// Mean squared error per image: `[batch, c, h, w]` → `[batch]`.
pub fn mse_per_image(prediction: Tensor<4>, target: Tensor<4>) -> Tensor<1> {
    let [batch, ..] = prediction.dims();
    (prediction - target)
        .square()
        .reshape([batch as i32, -1])
        .mean_dim(1)
        .reshape([batch])
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, TensorData};

    fn tensor(values: &[f32], device: &Device) -> Tensor<4> {
        Tensor::from_data(
            TensorData::new(values.to_vec(), [values.len() / 2, 1, 1, 2]),
            device,
        )
    }

    fn values(t: Tensor<1>) -> Vec<f32> {
        t.into_data().try_into_vec::<f32>().unwrap_or_default()
    }

    #[test]
    fn bce_matches_hand_computed_values() {
        let device = Device::flex();
        // image 0: p = [0.9, 0.2], y = [1, 0]   → (−ln 0.9 − ln 0.8) / 2
        // image 1: p = [0.5, 0.7], y = [0.3, 1] → (−0.3 ln .5 − 0.7 ln .5 − ln .7) / 2
        let p = tensor(&[0.9, 0.2, 0.5, 0.7], &device);
        let y = tensor(&[1.0, 0.0, 0.3, 1.0], &device);
        let got = values(bce_per_image(p, y));
        let want0 = (-(0.9f64.ln()) - 0.8f64.ln()) / 2.0;
        let want1 = (-(0.5f64.ln()) - 0.7f64.ln()) / 2.0;
        assert!((got[0] as f64 - want0).abs() < 1e-6, "{got:?}");
        assert!((got[1] as f64 - want1).abs() < 1e-6, "{got:?}");
    }

    #[test]
    fn bce_is_finite_at_zero_and_one() {
        let device = Device::flex();
        // Worst case: confident and wrong. p = 0 is clipped to 1e-7 → −ln(1e-7) ≈ 16.118;
        // p = 1 is clipped to f32(1 − 1e-7) = 0.99999988, so 1 − p = 1.19e-7 → 15.942.
        let p = tensor(&[0.0, 1.0, 0.0, 1.0], &device);
        let y = tensor(&[1.0, 0.0, 0.0, 1.0], &device);
        let got = values(bce_per_image(p, y));
        assert!(got.iter().all(|v| v.is_finite()), "{got:?}");
        let upper = 1.0 - (1.0f32 - 1e-7) as f64;
        let want = (-(1e-7f64).ln() - upper.ln()) / 2.0;
        assert!((got[0] as f64 - want).abs() < 1e-3, "{got:?} vs {want}");
        // Confident and right: −ln(1 − 1e-7) ≈ 1e-7.
        assert!(got[1].abs() < 1e-5, "{got:?}");
    }

    #[test]
    fn mse_matches_hand_computed_values() {
        let device = Device::flex();
        let p = tensor(&[0.9, 0.2, 0.0, 1.0], &device);
        let y = tensor(&[1.0, 0.0, 1.0, 1.0], &device);
        let got = values(mse_per_image(p, y));
        assert!((got[0] - (0.01 + 0.04) / 2.0).abs() < 1e-7, "{got:?}");
        assert!((got[1] - 0.5).abs() < 1e-7, "{got:?}");
    }
}
