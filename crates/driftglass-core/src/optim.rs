//! Optimizers on plain parameter arrays, in f32 as burn's tensors compute them (so the CPU
//! trainer and burn's autodiff trainer take the same steps; `driftglass-burn` tests it).
//!
//! **Adadelta** (Zeiler 2012), Keras 2.0's definition and defaults (the reference): for each
//! parameter `p` with gradient `g` and accumulators `a` (of g²) and `d` (of Δ²), both starting
//! at zero:
//!
//! ```text
//! a ← ρ·a + (1 − ρ)·g²
//! Δ = g · √(d + ε) / √(a + ε)
//! p ← p − lr·Δ
//! d ← ρ·d + (1 − ρ)·Δ²
//! ```
//!
//! `lr = 1.0`, `ρ = 0.95`, `ε = 1e-8` (modern Keras uses `lr = 0.001`, `ε = 1e-7`; those do
//! not reproduce the reference).
//!
//! **Adam** as burn-optim 0.22 computes it (β₁ 0.9, β₂ 0.999, ε 1e-8): moments `m`, `v`, step
//! `t`, then `p ← p − lr · m·(√(1 − β₂ᵗ)/(1 − β₁ᵗ)) / (√v + ε·√(1 − β₂ᵗ))`.

use serde::{Deserialize, Serialize};

/// Which optimizer to train with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum OptimizerKind {
    /// Adadelta with Keras 2.0 defaults (the reference).
    #[default]
    Adadelta,
    /// Adam (β₁ 0.9, β₂ 0.999, ε 1e-8).
    Adam,
}

/// Adadelta's decay of both running averages.
pub const ADADELTA_RHO: f64 = 0.95;
/// Adadelta's ε, added inside both square roots.
pub const ADADELTA_EPSILON: f64 = 1e-8;
/// Adam's decay of the first moment.
pub const ADAM_BETA1: f64 = 0.9;
/// Adam's decay of the second moment.
pub const ADAM_BETA2: f64 = 0.999;
/// Adam's ε.
pub const ADAM_EPSILON: f64 = 1e-8;

/// One parameter array's optimizer state.
#[derive(Debug, Clone)]
pub struct ParamState {
    kind: OptimizerKind,
    /// Adadelta: running average of g²; Adam: first moment.
    first: Vec<f32>,
    /// Adadelta: running average of Δ²; Adam: second moment.
    second: Vec<f32>,
    /// Steps taken (Adam's bias correction).
    steps: i32,
}

impl ParamState {
    /// Fresh state for `len` parameters.
    pub fn new(kind: OptimizerKind, len: usize) -> ParamState {
        ParamState {
            kind,
            first: vec![0.0; len],
            second: vec![0.0; len],
            steps: 0,
        }
    }

    /// Update `values` by `grad` (same length) with learning rate `lr`.
    pub fn step(&mut self, values: &mut [f32], grad: &[f32], lr: f64) {
        self.steps += 1;
        match self.kind {
            OptimizerKind::Adadelta => self.adadelta(values, grad, lr as f32),
            OptimizerKind::Adam => self.adam(values, grad, lr),
        }
    }

    fn adadelta(&mut self, values: &mut [f32], grad: &[f32], lr: f32) {
        let (rho, epsilon) = (ADADELTA_RHO as f32, ADADELTA_EPSILON as f32);
        for (((value, &g), a), d) in values
            .iter_mut()
            .zip(grad)
            .zip(self.first.iter_mut())
            .zip(self.second.iter_mut())
        {
            *a = rho * *a + (1.0 - rho) * g * g;
            let update = g * (*d + epsilon).sqrt() / (*a + epsilon).sqrt();
            *d = rho * *d + (1.0 - rho) * update * update;
            *value -= lr * update;
        }
    }

    fn adam(&mut self, values: &mut [f32], grad: &[f32], lr: f64) {
        let (b1, b2) = (ADAM_BETA1 as f32, ADAM_BETA2 as f32);
        let correction2 = (1.0 - ADAM_BETA2.powi(self.steps)).sqrt();
        let factor = (correction2 / (1.0 - ADAM_BETA1.powi(self.steps))) as f32;
        let epsilon = (ADAM_EPSILON * correction2) as f32;
        let lr = lr as f32;
        for (((value, &g), m), v) in values
            .iter_mut()
            .zip(grad)
            .zip(self.first.iter_mut())
            .zip(self.second.iter_mut())
        {
            *m = b1 * *m + (1.0 - b1) * g;
            *v = b2 * *v + (1.0 - b2) * g * g;
            *value -= lr * (*m * factor / (v.sqrt() + epsilon));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keras 2.0's Adadelta in f64, step by step, for two parameters.
    #[test]
    fn adadelta_matches_the_formula() {
        let starts = [1.0f64, -2.0];
        let grads = [0.5f64, -0.25, 2.0];
        let (mut p, mut a, mut d) = (starts, [0.0f64; 2], [0.0f64; 2]);
        let mut values: Vec<f32> = starts.iter().map(|v| *v as f32).collect();
        let mut state = ParamState::new(OptimizerKind::Adadelta, 2);
        for g in grads {
            let g2 = [g, g * 3.0];
            for i in 0..2 {
                a[i] = 0.95 * a[i] + 0.05 * g2[i] * g2[i];
                let update = g2[i] * (d[i] + 1e-8).sqrt() / (a[i] + 1e-8).sqrt();
                d[i] = 0.95 * d[i] + 0.05 * update * update;
                p[i] -= update;
            }
            state.step(&mut values, &[g as f32, (g * 3.0) as f32], 1.0);
        }
        for (ours, want) in values.iter().zip(p) {
            assert!((*ours as f64 - want).abs() < 1e-6, "{ours} vs {want}");
        }
    }

    /// Adam's first step moves each parameter by about lr·sign(g).
    #[test]
    fn adam_first_step_is_a_sign_step() {
        let mut values = vec![0.0f32, 0.0, 0.0];
        let mut state = ParamState::new(OptimizerKind::Adam, 3);
        state.step(&mut values, &[0.3, -2.0, 0.0], 0.01);
        assert!((values[0] + 0.01).abs() < 1e-6, "{values:?}");
        assert!((values[1] - 0.01).abs() < 1e-6, "{values:?}");
        assert_eq!(values[2], 0.0);
    }
}
