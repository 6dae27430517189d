//! Training through burn's autodiff on any device (WebGPU in the browser; the CPU for
//! comparison with the core's written-out backward pass): a [`Stepper`] for the core's
//! training loop, so both engines share noise, shuffling, validation and events.

use std::ops::ControlFlow;

use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::Device;
use driftglass_core::architecture::{AutoencoderConfig, Weights};
use driftglass_core::idx::ImageSet;
use driftglass_core::loss::LossKind;
use driftglass_core::score::Reconstruction;
use driftglass_core::train::{
    Clock, OptimizerKind, Stepper, TrainError, Trained, TrainingConfig, TrainingEvent, check,
    train_with,
};

use crate::adadelta::AdadeltaConfig;
use crate::model::Autoencoder;
use crate::score::{images_tensor, read_vec, reconstruct_with_targets};

/// The network on an autodiff device with its optimizer.
pub struct BurnStepper {
    /// `None` only while a step moves it through the optimizer.
    model: Option<Autoencoder>,
    optim: ModuleOptimizer,
    /// The autodiff device.
    device: Device,
    config: AutoencoderConfig,
    loss: LossKind,
}

impl BurnStepper {
    /// A network starting from `weights` on `device` (autodiff is layered here).
    pub fn from_weights(
        weights: &Weights,
        device: &Device,
        loss: LossKind,
        optimizer: OptimizerKind,
    ) -> BurnStepper {
        let device = device.clone().autodiff();
        BurnStepper {
            model: Some(Autoencoder::from_weights(weights, &device)),
            optim: optimizer_for(optimizer),
            device,
            config: *weights.config(),
            loss,
        }
    }

    /// The architecture being trained.
    pub fn config(&self) -> &AutoencoderConfig {
        &self.config
    }

    fn model(&self) -> Result<&Autoencoder, TrainError> {
        self.model
            .as_ref()
            .ok_or_else(|| TrainError::Engine("a failed step lost the network".into()))
    }
}

fn optimizer_for(optimizer: OptimizerKind) -> ModuleOptimizer {
    match optimizer {
        OptimizerKind::Adadelta => AdadeltaConfig::new().init(),
        OptimizerKind::Adam => AdamConfig::new().with_epsilon(1e-8).init(),
    }
}

impl Stepper for BurnStepper {
    async fn step(
        &mut self,
        inputs: &[f32],
        targets: &[f32],
        count: usize,
        learning_rate: f64,
    ) -> Result<f64, TrainError> {
        let model = self
            .model
            .take()
            .ok_or_else(|| TrainError::Engine("a failed step lost the network".into()))?;
        let (c, side) = (self.config.channels, self.config.side);
        let inputs = images_tensor(inputs, count, c, side, &self.device); // [count, c, side, side]
        let targets = images_tensor(targets, count, c, side, &self.device); // [count, c, side, side]
        let output = model.forward(inputs);
        let loss = crate::loss::per_image(self.loss, output, targets).mean(); // [1]
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        self.model = Some(self.optim.step(learning_rate, model, grads));
        Ok(read_vec(loss).await?.first().copied().unwrap_or(f32::NAN) as f64)
    }

    async fn reconstruct(
        &mut self,
        inputs: &ImageSet,
        targets: &ImageSet,
    ) -> Result<Vec<Reconstruction>, TrainError> {
        let plain = self.model()?.valid();
        let device = self.device.clone().inner();
        Ok(
            reconstruct_with_targets(&plain, inputs, targets, &device, inputs.count, |_| {})
                .await?,
        )
    }

    async fn weights(&self) -> Result<Weights, TrainError> {
        Ok(self.model()?.valid().to_weights(self.config.side).await?)
    }
}

/// Train through burn's autodiff on `device` (a plain device; autodiff is layered on it), with
/// the core's loop: same noise, order, validation and events as `driftglass_core::train`.
#[allow(clippy::too_many_arguments)]
pub async fn train_with_pauses<F: std::future::Future<Output = ()>>(
    model_config: &AutoencoderConfig,
    config: &TrainingConfig,
    training_set: &ImageSet,
    validation_set: &ImageSet,
    device: &Device,
    clock: &dyn Clock,
    on_event: impl FnMut(TrainingEvent) -> ControlFlow<()>,
    pause: impl FnMut() -> F,
) -> Result<Trained, TrainError> {
    check(model_config, config, training_set, validation_set)?;
    // The core's seeded initial weights, as its CPU trainer starts from.
    let weights = Weights::init_seeded(*model_config, config.seed)
        .map_err(|e| TrainError::Config(e.to_string()))?;
    let stepper = BurnStepper::from_weights(&weights, device, config.loss, config.optimizer);
    train_with(
        stepper,
        config,
        training_set,
        validation_set,
        clock,
        on_event,
        pause,
    )
    .await
}

/// [`train_with_pauses`] without pauses.
pub async fn train(
    model_config: &AutoencoderConfig,
    config: &TrainingConfig,
    training_set: &ImageSet,
    validation_set: &ImageSet,
    device: &Device,
    clock: &dyn Clock,
    on_event: impl FnMut(TrainingEvent) -> ControlFlow<()>,
) -> Result<Trained, TrainError> {
    train_with_pauses(
        model_config,
        config,
        training_set,
        validation_set,
        device,
        clock,
        on_event,
        || std::future::ready(()),
    )
    .await
}
