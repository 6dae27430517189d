//! Adadelta (Zeiler 2012) as a burn optimizer, with Keras 2.0's definition and defaults.
//!
//! For each parameter `p` with gradient `g` and accumulators `a` (of g²) and `d` (of Δ²), both
//! starting at zero:
//!
//! ```text
//! a ← ρ·a + (1 − ρ)·g²
//! Δ = g · √(d + ε) / √(a + ε)
//! p ← p − lr·Δ
//! d ← ρ·d + (1 − ρ)·Δ²
//! ```
//!
//! Keras 2.0.x defaults: `lr = 1.0`, `ρ = 0.95`, `ε = 1e-8` (modern Keras uses `lr = 0.001`,
//! `ε = 1e-7`; those do not reproduce the reference).

use burn::config::Config;
use burn::optim::{LearningRate, ModuleOptimizer, Optimizer, RecordState, StateSink, StateSource};
use burn::tensor::{Device, Tensor};

/// Adadelta settings. `lr` is given to `ModuleOptimizer::step`; Keras 2.0 used 1.0.
#[derive(Config, Debug)]
pub struct AdadeltaConfig {
    /// Decay of both running averages.
    #[config(default = 0.95)]
    pub rho: f64,
    /// Added inside both square roots.
    #[config(default = 1e-8)]
    pub epsilon: f64,
}

/// The Adadelta optimizer for one parameter group.
#[derive(Clone, Debug)]
pub struct Adadelta {
    rho: f64,
    epsilon: f64,
}

/// Per-parameter Adadelta state: the running averages of g² and Δ².
#[derive(Clone)]
pub struct AdadeltaState<const D: usize> {
    /// Running average of squared gradients (`a`).
    pub square_grad: Tensor<D>,
    /// Running average of squared updates (`d`).
    pub square_update: Tensor<D>,
}

// Written by hand: burn's `#[derive(RecordState)]` only resolves inside burn-optim.
impl<const D: usize> RecordState for AdadeltaState<D> {
    fn state_flatten(&self, prefix: &str, out: &mut StateSink) {
        out.push_tensor(prefix, "square_grad", self.square_grad.clone().into_data());
        out.push_tensor(
            prefix,
            "square_update",
            self.square_update.clone().into_data(),
        );
    }

    fn state_unflatten(prefix: &str, src: &mut StateSource, device: &Device) -> Option<Self> {
        let square_grad = Tensor::from_data(src.take_tensor(prefix, "square_grad")?, device);
        let square_update = Tensor::from_data(src.take_tensor(prefix, "square_update")?, device);
        Some(AdadeltaState {
            square_grad,
            square_update,
        })
    }
}

impl AdadeltaConfig {
    /// The bare optimizer.
    pub fn build(&self) -> Adadelta {
        Adadelta {
            rho: self.rho,
            epsilon: self.epsilon,
        }
    }

    /// An optimizer for a whole module.
    pub fn init(&self) -> ModuleOptimizer {
        ModuleOptimizer::from(self.build())
    }
}

impl Optimizer for Adadelta {
    type State<const D: usize> = AdadeltaState<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        let (square_grad, square_update) = match state {
            Some(state) => (state.square_grad, state.square_update),
            None => (grad.zeros_like(), grad.zeros_like()),
        };
        let square_grad =
            square_grad.mul_scalar(self.rho) + grad.clone().square().mul_scalar(1.0 - self.rho);
        let update = grad * square_update.clone().add_scalar(self.epsilon).sqrt()
            / square_grad.clone().add_scalar(self.epsilon).sqrt();
        let square_update =
            square_update.mul_scalar(self.rho) + update.clone().square().mul_scalar(1.0 - self.rho);
        let tensor = tensor - update.mul_scalar(lr);
        (
            tensor,
            Some(AdadeltaState {
                square_grad,
                square_update,
            }),
        )
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        AdadeltaState {
            square_grad: state.square_grad.to_device(device),
            square_update: state.square_update.to_device(device),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::TensorData;

    /// The same recurrence in f64, written out by hand, for comparison.
    fn reference_steps(p0: f64, grads: &[f64], lr: f64, rho: f64, eps: f64) -> Vec<f64> {
        let (mut p, mut a, mut d) = (p0, 0.0, 0.0);
        let mut out = Vec::new();
        for g in grads {
            a = rho * a + (1.0 - rho) * g * g;
            let delta = g * (d + eps).sqrt() / (a + eps).sqrt();
            p -= lr * delta;
            d = rho * d + (1.0 - rho) * delta * delta;
            out.push(p);
        }
        out
    }

    #[test]
    fn first_step_by_hand() {
        // g = 0.5: a = 0.05·0.25 = 0.0125; Δ = 0.5·√1e-8/√(0.0125 + 1e-8) ≈ 4.4721e-4;
        // p = 1 − Δ = 0.99955279.
        let device = Device::flex();
        let optim = AdadeltaConfig::new().build();
        let p = Tensor::<1>::from_data(TensorData::new(vec![1.0f32], [1]), &device);
        let g = Tensor::<1>::from_data(TensorData::new(vec![0.5f32], [1]), &device);
        let (p, state) = optim.step(1.0, p, g, None);
        let got = p.into_data().try_into_vec::<f32>().unwrap_or_default()[0];
        assert!((got as f64 - 0.999_552_79).abs() < 1e-6, "{got}");
        let d = state
            .map(|s| {
                s.square_update
                    .into_data()
                    .try_into_vec::<f32>()
                    .unwrap_or_default()[0]
            })
            .unwrap_or(f32::NAN);
        // d = 0.05 · Δ² ≈ 0.05 · 2.0e-7 = 1.0e-8
        assert!(
            (d as f64 - 0.05 * 4.472_135_9e-4f64.powi(2)).abs() < 1e-12,
            "{d}"
        );
    }

    #[test]
    fn several_steps_match_the_recurrence() {
        let device = Device::flex();
        let optim = AdadeltaConfig::new().build();
        let grads = [0.5, -0.25, 1.5, 0.1, -2.0];
        let starts = [1.0, -0.3];
        let mut p = Tensor::<1>::from_data(
            TensorData::new(starts.iter().map(|v| *v as f32).collect(), [2]),
            &device,
        );
        let mut state = None;
        let want: Vec<Vec<f64>> = starts
            .iter()
            .enumerate()
            .map(|(i, p0)| {
                // Second parameter sees the gradients scaled by 3 (Adadelta is scale-aware
                // through ε only at the start, so this exercises both regimes).
                let scale = if i == 0 { 1.0 } else { 3.0 };
                let gs: Vec<f64> = grads.iter().map(|g| g * scale).collect();
                reference_steps(*p0, &gs, 1.0, 0.95, 1e-8)
            })
            .collect();
        for (step, g) in grads.iter().enumerate() {
            let grad = Tensor::<1>::from_data(
                TensorData::new(vec![*g as f32, (*g * 3.0) as f32], [2]),
                &device,
            );
            let (next, next_state) = optim.step(1.0, p, grad, state);
            p = next;
            state = next_state;
            let got = p
                .clone()
                .into_data()
                .try_into_vec::<f32>()
                .unwrap_or_default();
            for (i, value) in got.iter().enumerate() {
                let expected = want[i][step];
                assert!(
                    (*value as f64 - expected).abs() < 1e-6 * expected.abs().max(1.0),
                    "step {step} param {i}: got {value}, want {expected}"
                );
            }
        }
    }

    #[test]
    fn optimises_a_module_through_module_optimizer() {
        use burn::module::Module;
        use burn::nn::{Linear, LinearConfig};
        use burn::optim::GradientsParams;
        let device = Device::flex().autodiff();
        let layer: Linear = LinearConfig::new(4, 1).init(&device);
        let x = Tensor::<2>::ones([8, 4], &device);
        let before = layer.forward(x.clone()).square().mean();
        let before_value = before
            .clone()
            .into_data()
            .try_into_vec::<f32>()
            .unwrap_or_default()[0];
        let grads = GradientsParams::from_grads(before.backward(), &layer);
        let mut optim = AdadeltaConfig::new().init();
        let layer = optim.step(1.0, layer, grads);
        let after = layer
            .valid()
            .forward(Tensor::<2>::ones([8, 4], &device.inner()));
        let after_value = after
            .square()
            .mean()
            .into_data()
            .try_into_vec::<f32>()
            .unwrap_or_default()[0];
        assert!(
            after_value < before_value,
            "{after_value} !< {before_value}"
        );
    }
}
