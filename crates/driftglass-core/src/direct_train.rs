//! Training on the CPU without a tensor library: the autoencoder's backward pass written out,
//! as [`crate::direct`] writes out its forward pass.
//!
//! burn trains through autodiff: every layer's forward op records a node, and the backward
//! pass runs general tensor kernels (im2col, matrix products, layout changes) over the whole
//! batch. For this small network that overhead dominates. Here each image goes forward
//! through the direct convolutions keeping its activations, then backward:
//!
//! - the loss gradient at the sigmoid's input (`(p − y)/n` for the clipped BCE, zero where the
//!   prediction is clipped; `2(p − y)·p(1 − p)/n` for the MSE),
//! - a convolution's input gradient is the "same" convolution of its output gradient with the
//!   kernel transposed (inputs ↔ outputs) and flipped, run by the forward kernels,
//! - its kernel gradient sums, over the output pixels, the outer product of the output
//!   gradient with the receptive field (skipping the ReLU zeros),
//! - ReLU passes gradients where its output is positive, max pooling to each window's
//!   maximum, nearest upsampling sums each 2×2 block.
//!
//! The batch is cut into fixed slices of [`SLICE`] images whose gradients are summed in order
//! (natively, slices run on every core): the same numbers on any number of threads. Then
//! Adadelta or Adam updates the parameters ([`crate::optim`]).
//! The gradients and steps agree with burn's autodiff and optimizers to float rounding
//! (`driftglass-burn`'s agreement tests).

use multiversion::multiversion;
use multiversion::target::selected_target;

use crate::architecture::{AutoencoderConfig, ConvWeights, Weights};
use crate::direct::{Activation, Conv, FeatureMaps, multiply_add, window, worker_threads};
use crate::loss::{EPSILON, LossKind};
use crate::optim::{OptimizerKind, ParamState};
use crate::score::ScoreError;

/// Images whose gradients are summed together before the slices are added up in order.
pub const SLICE: usize = 8;

/// One convolution's parameters in burn's layout: kernel `[out, in, k, k]`, bias `[out]`.
#[derive(Debug, Clone)]
struct Layer {
    shape: [usize; 4],
    weight: Vec<f32>,
    bias: Vec<f32>,
}

/// A network being trained on the CPU, with its optimizer state.
#[derive(Debug, Clone)]
pub struct DirectTrainer {
    config: AutoencoderConfig,
    side: usize,
    loss: LossKind,
    /// The encoder's convolutions, the decoder's, the output.
    layers: Vec<Layer>,
    /// Per layer: kernel, then bias.
    states: Vec<(ParamState, ParamState)>,
}

/// The convolutions of one step: forward ones, and the transposed ones of every layer but the
/// first that carry gradients back to their inputs.
struct StepConvs {
    forward: Vec<Conv>,
    backward: Vec<Conv>,
    /// Per layer: channels stored per pixel in its input map and in its output map.
    stored: Vec<(usize, usize)>,
    kernel: usize,
}

/// Kernel and bias gradients of the layers, laid out for accumulation: kernels as
/// `[ky][kx][stored in][stored out]`.
#[derive(Debug, Clone)]
struct Gradients {
    kernels: Vec<Vec<f32>>,
    biases: Vec<Vec<f32>>,
    loss_sum: f64,
}

/// Per-image buffers, reused from image to image: the forward pass's feature maps (as
/// [`crate::direct`]'s scoring keeps them) and the backward pass's gradients.
struct Scratch {
    maps: FeatureMaps,
    /// The loss's gradient at the output convolution's output (channels last).
    d_output: Vec<f32>,
    /// Per layer (but the first): its output gradient inside a zero border, as its transposed
    /// convolution reads it. One map per layer keeps each border zero without clearing it.
    d_padded: Vec<Vec<f32>>,
    /// Gradients at a convolution's input, then at its output after a pooling or
    /// upsampling step back: two maps of the largest size, used in turn.
    d_a: Vec<f32>,
    d_b: Vec<f32>,
    active: Vec<(usize, usize)>,
}

impl DirectTrainer {
    /// Start from `weights`, for images of the side and channels they were built for,
    /// minimising `loss` with `optimizer`.
    pub fn new(
        weights: &Weights,
        loss: LossKind,
        optimizer: OptimizerKind,
    ) -> Result<DirectTrainer, ScoreError> {
        let config = *weights.config();
        let layers: Vec<Layer> = weights
            .layers()
            .iter()
            .map(|l| Layer {
                shape: l.shape,
                weight: l.kernel.clone(),
                bias: l.bias.clone().unwrap_or_else(|| vec![0.0; l.shape[0]]),
            })
            .collect();
        let states = layers
            .iter()
            .map(|l| {
                (
                    ParamState::new(optimizer, l.weight.len()),
                    ParamState::new(optimizer, l.bias.len()),
                )
            })
            .collect();
        Ok(DirectTrainer {
            config,
            side: config.side,
            loss,
            layers,
            states,
        })
    }

    /// The network as it stands.
    pub fn weights(&self) -> Result<Weights, ScoreError> {
        let layers = self
            .layers
            .iter()
            .map(|l| ConvWeights {
                shape: l.shape,
                kernel: l.weight.clone(),
                bias: Some(l.bias.clone()),
            })
            .collect();
        Weights::new(self.config, layers).map_err(|e| ScoreError::Network(e.to_string()))
    }

    /// Each layer's gradients of the batch's mean loss (`inputs` noisy, `targets` clean) in
    /// the weights' layout: kernel `[out, in, k, k]`, bias `[out]`. What [`Self::step`] uses.
    pub fn gradients(&self, inputs: &[f32], targets: &[f32]) -> Vec<(Vec<f32>, Vec<f32>)> {
        let len = self.config.values_per_image();
        let count = inputs.len() / len;
        let convs = self.step_convs();
        let gradients = self.batch_gradients(&convs, &inputs[..count * len], targets);
        self.layer_gradients(&convs, &gradients, count.max(1))
    }

    /// One gradient step on a batch (`inputs` noisy, `targets` clean, `channels · side²`
    /// values per image, channels first): returns the batch's mean loss before the step.
    pub fn step(&mut self, inputs: &[f32], targets: &[f32], learning_rate: f64) -> f64 {
        let len = self.config.values_per_image();
        let count = inputs.len() / len;
        if count == 0 {
            return f64::NAN;
        }
        let convs = self.step_convs();
        let gradients = self.batch_gradients(&convs, &inputs[..count * len], targets);
        let mean_gradients = self.layer_gradients(&convs, &gradients, count);
        for ((layer, (kernel_state, bias_state)), (kernel_grad, bias_grad)) in self
            .layers
            .iter_mut()
            .zip(self.states.iter_mut())
            .zip(mean_gradients)
        {
            kernel_state.step(&mut layer.weight, &kernel_grad, learning_rate);
            bias_state.step(&mut layer.bias, &bias_grad, learning_rate);
        }
        gradients.loss_sum / count as f64
    }

    /// Each layer's gradients of the batch's mean loss in burn's layout: kernel
    /// `[out, in, k, k]` (from the accumulated `[ky][kx][in][out]`), bias `[out]`.
    fn layer_gradients(
        &self,
        convs: &StepConvs,
        gradients: &Gradients,
        count: usize,
    ) -> Vec<(Vec<f32>, Vec<f32>)> {
        let scale = 1.0 / count as f32;
        self.layers
            .iter()
            .enumerate()
            .map(|(index, layer)| {
                let [outputs, inputs, k, _] = layer.shape;
                let (stored_in, stored_out) = convs.stored[index];
                let blocked = &gradients.kernels[index];
                let mut kernel = vec![0.0f32; layer.weight.len()];
                for o in 0..outputs {
                    for i in 0..inputs {
                        for ky in 0..k {
                            for kx in 0..k {
                                kernel[((o * inputs + i) * k + ky) * k + kx] = blocked
                                    [((ky * k + kx) * stored_in + i) * stored_out + o]
                                    * scale;
                            }
                        }
                    }
                }
                let bias = gradients.biases[index][..outputs]
                    .iter()
                    .map(|g| g * scale)
                    .collect();
                (kernel, bias)
            })
            .collect()
    }

    fn step_convs(&self) -> StepConvs {
        let mut forward: Vec<Conv> = Vec::with_capacity(self.layers.len());
        for layer in &self.layers {
            let stored_inputs = forward.last().map_or(layer.shape[1], Conv::stored_outputs);
            forward.push(Conv::new(
                layer.shape,
                &layer.weight,
                Some(&layer.bias),
                stored_inputs,
            ));
        }
        let stored: Vec<(usize, usize)> = forward
            .iter()
            .enumerate()
            .map(|(index, conv)| {
                let input = match index {
                    0 => self.config.channels,
                    _ => forward[index - 1].stored_outputs(),
                };
                (input, conv.stored_outputs())
            })
            .collect();
        let backward = self.layers[1..]
            .iter()
            .zip(&stored[1..])
            .map(|(layer, (_, stored_gradient))| {
                let [outputs, inputs, k, _] = layer.shape;
                // Transposed and flipped: [in, out, k, k] with (ky, kx) → (k−1−ky, k−1−kx).
                let mut flipped = vec![0.0f32; layer.weight.len()];
                for o in 0..outputs {
                    for i in 0..inputs {
                        for ky in 0..k {
                            for kx in 0..k {
                                flipped[((i * outputs + o) * k + ky) * k + kx] = layer.weight
                                    [((o * inputs + i) * k + (k - 1 - ky)) * k + (k - 1 - kx)];
                            }
                        }
                    }
                }
                // Its input is the gradient map of the layer's outputs, stored as they are.
                Conv::new([inputs, outputs, k, k], &flipped, None, *stored_gradient)
            })
            .collect();
        StepConvs {
            forward,
            backward,
            stored,
            kernel: self.layers[0].shape[2],
        }
    }

    /// Sum of the per-image gradients, slice by slice in order.
    fn batch_gradients(&self, convs: &StepConvs, inputs: &[f32], targets: &[f32]) -> Gradients {
        let len = self.config.values_per_image();
        let slices: Vec<(&[f32], &[f32])> = inputs
            .chunks(SLICE * len)
            .zip(targets.chunks(SLICE * len))
            .collect();
        let run = |slice: &[(&[f32], &[f32])]| -> Vec<Gradients> {
            let mut scratch = self.scratch(convs);
            slice
                .iter()
                .map(|(images, targets)| {
                    let mut gradients = self.zero_gradients(convs);
                    for (image, target) in images.chunks_exact(len).zip(targets.chunks_exact(len)) {
                        self.image_gradients(convs, image, target, &mut scratch, &mut gradients);
                    }
                    gradients
                })
                .collect()
        };
        let threads = worker_threads().min(slices.len()).max(1);
        let per_slice: Vec<Gradients> = if threads == 1 {
            run(&slices)
        } else {
            let per_thread = slices.len().div_ceil(threads);
            std::thread::scope(|scope| {
                let handles: Vec<_> = slices
                    .chunks(per_thread)
                    .map(|part| scope.spawn(move || run(part)))
                    .collect();
                handles
                    .into_iter()
                    .flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
                    .collect()
            })
        };
        let mut total = self.zero_gradients(convs);
        for part in per_slice {
            for (sum, add) in total.kernels.iter_mut().zip(&part.kernels) {
                sum.iter_mut().zip(add).for_each(|(s, a)| *s += a);
            }
            for (sum, add) in total.biases.iter_mut().zip(&part.biases) {
                sum.iter_mut().zip(add).for_each(|(s, a)| *s += a);
            }
            total.loss_sum += part.loss_sum;
        }
        total
    }

    fn zero_gradients(&self, convs: &StepConvs) -> Gradients {
        let k2 = convs.kernel * convs.kernel;
        Gradients {
            kernels: convs
                .stored
                .iter()
                .map(|(i, o)| vec![0.0; k2 * i * o])
                .collect(),
            biases: convs.stored.iter().map(|(_, o)| vec![0.0; *o]).collect(),
            loss_sum: 0.0,
        }
    }

    fn scratch(&self, convs: &StepConvs) -> Scratch {
        let (s, b) = (self.side, convs.kernel - 1);
        let ch = self.config.channels;
        let sq = |n: usize| n * n;
        let widest = convs
            .stored
            .iter()
            .map(|(i, o)| *i.max(o))
            .max()
            .unwrap_or(ch);
        Scratch {
            maps: FeatureMaps::new(&convs.forward, s, ch),
            d_output: vec![0.0; sq(s) * ch],
            d_padded: convs
                .stored
                .iter()
                .enumerate()
                .map(|(layer, (_, stored_out))| {
                    let d = self.config.depth;
                    let at = if layer < d {
                        s >> layer
                    } else {
                        s >> (2 * d - layer)
                    };
                    if layer == 0 {
                        Vec::new()
                    } else {
                        vec![0.0; sq(at + b) * stored_out]
                    }
                })
                .collect(),
            d_a: vec![0.0; sq(s) * widest],
            d_b: vec![0.0; sq(s) * widest],
            active: Vec::with_capacity(sq(s)),
        }
    }

    /// Forward and backward through one image, adding its gradients (of its mean loss over
    /// the pixels) to `gradients`.
    fn image_gradients(
        &self,
        convs: &StepConvs,
        image: &[f32],
        target: &[f32],
        t: &mut Scratch,
        gradients: &mut Gradients,
    ) {
        let (s, k, d) = (self.side, convs.kernel, self.config.depth);
        let ch = self.config.channels;
        let border = (k - 1) / 2;
        let f = &convs.forward;
        // Forward, keeping what the backward pass needs, as `DirectNetwork` scores.
        t.maps.load(image, s, ch, border);
        t.maps.forward(f, s);

        // Loss (the mean over channels and pixels), and its gradient at the sigmoid's input;
        // `output` and `d_output` are channels last, `target` channels first.
        let n = (ch * s * s) as f32;
        let (low, high) = (EPSILON as f32, 1.0 - EPSILON as f32);
        let mut loss = 0.0f32;
        for (at, (d, &p)) in t.d_output.iter_mut().zip(&t.maps.output).enumerate() {
            let y = target[(at % ch) * s * s + at / ch];
            match self.loss {
                LossKind::Bce => {
                    let clipped = p.clamp(low, high);
                    loss -= y * clipped.ln() + (1.0 - y) * (1.0 - clipped).ln();
                    *d = if (low..=high).contains(&p) {
                        (p - y) / n
                    } else {
                        0.0
                    };
                }
                LossKind::Mse => {
                    loss += (p - y) * (p - y);
                    *d = 2.0 * (p - y) * p * (1.0 - p) / n;
                }
            }
        }
        gradients.loss_sum += (loss / n) as f64;

        let b = &convs.backward;
        let active = &mut t.active;
        let Scratch {
            maps:
                FeatureMaps {
                    encoder_in,
                    encoder_out,
                    decoder_out,
                    decoder_up,
                    ..
                },
            d_output,
            d_padded,
            d_a,
            d_b,
            ..
        } = t;
        // Every map below is cut to its exact size: the kernels walk whole slices.
        let sq = |n: usize| n * n;
        let output_layer = 2 * d;
        // Output layer: its gradient at its input (the last upsampled map) into `d_a`.
        let stored_in = convs.stored[output_layer].0;
        conv_backward(
            output_layer,
            &decoder_up[d - 1],
            stored_in,
            d_output,
            ch,
            s,
            k,
            &b[output_layer - 1],
            &mut d_padded[output_layer],
            &mut d_a[..sq(s) * stored_in],
            gradients,
            active,
        );
        // Decoder, last stage first: the upsampling back (through the stage's ReLU), then its
        // convolution back.
        for stage in (0..d).rev() {
            let layer = d + stage;
            let at = s >> (d - stage);
            let (stored_in, stored_out) = convs.stored[layer];
            let d_out = &mut d_b[..sq(at) * stored_out];
            upsample_backward(
                &d_a[..sq(2 * at) * stored_out],
                at,
                stored_out,
                &decoder_out[stage],
                d_out,
            );
            let input = if stage == 0 {
                &encoder_in[d]
            } else {
                &decoder_up[stage - 1]
            };
            conv_backward(
                layer,
                input,
                stored_in,
                d_out,
                stored_out,
                at,
                k,
                &b[layer - 1],
                &mut d_padded[layer],
                &mut d_a[..sq(at) * stored_in],
                gradients,
                active,
            );
        }
        // Encoder, last stage first: the pooling back (through the stage's ReLU), then its
        // convolution back; the first needs no gradient at its input.
        for stage in (0..d).rev() {
            let at = s >> stage;
            let (stored_in, stored_out) = convs.stored[stage];
            let d_out = &mut d_b[..sq(at) * stored_out];
            max_pool_backward(
                &encoder_out[stage],
                at,
                stored_out,
                &d_a[..sq(at / 2) * stored_out],
                d_out,
            );
            if stage == 0 {
                weight_gradients(
                    &encoder_in[0],
                    ch,
                    d_out,
                    stored_out,
                    s,
                    k,
                    gradients,
                    0,
                    active,
                );
            } else {
                conv_backward(
                    stage,
                    &encoder_in[stage],
                    stored_in,
                    d_out,
                    stored_out,
                    at,
                    k,
                    &b[stage - 1],
                    &mut d_padded[stage],
                    &mut d_a[..sq(at) * stored_in],
                    gradients,
                    active,
                );
            }
        }
    }
}

/// Backward through convolution `layer`: its kernel and bias gradients from its output
/// gradient `d` (`[side]²` × `outputs`) and its zero-bordered `input` map, then the gradient
/// at its input (`[side]²` × stored channels, into `d_input`): `d` inside a zero border
/// (`padded`) through the layer's `transposed` convolution.
#[allow(clippy::too_many_arguments)]
fn conv_backward(
    layer: usize,
    input: &[f32],
    inputs: usize,
    d: &[f32],
    outputs: usize,
    side: usize,
    k: usize,
    transposed: &Conv,
    padded: &mut [f32],
    d_input: &mut [f32],
    gradients: &mut Gradients,
    active: &mut Vec<(usize, usize)>,
) {
    weight_gradients(input, inputs, d, outputs, side, k, gradients, layer, active);
    copy_into_border(d, side, outputs, padded, (k - 1) / 2);
    transposed.apply(padded, side, d_input, Activation::Identity);
}

/// `[side]²` pixels × `channels` into the interior of a zero-bordered map.
fn copy_into_border(
    input: &[f32],
    side: usize,
    channels: usize,
    output: &mut [f32],
    border: usize,
) {
    let padded = side + 2 * border;
    for y in 0..side {
        let from = y * side * channels;
        let to = ((y + border) * padded + border) * channels;
        output[to..to + side * channels].copy_from_slice(&input[from..from + side * channels]);
    }
}

/// Adds layer `index`'s kernel and bias gradients: for each output pixel, its gradient `d`
/// (`[side]²` × `outputs`) times the receptive field of the zero-bordered `input` map.
///
/// Only pixels that received a gradient (`active`, refilled here) are visited: after a ReLU
/// or a pooling most get none. For 8 outputs at a time and 4 neighbouring values of a
/// receptive-field row, the sums over the pixels stay in registers.
///
/// Compiled for AVX-512, AVX2 with FMA and AVX besides the baseline and chosen at run time, as
/// [`crate::direct`]'s kernels are: each clone keeps as many output blocks in registers as it
/// has room for.
#[allow(clippy::too_many_arguments)]
#[multiversion(targets("x86_64+avx512f+avx512vl+avx2+fma", "x86_64+avx2+fma", "x86_64+avx"))]
fn weight_gradients(
    input: &[f32],
    inputs: usize,
    d: &[f32],
    outputs: usize,
    side: usize,
    k: usize,
    gradients: &mut Gradients,
    index: usize,
    active: &mut Vec<(usize, usize)>,
) {
    let (group, fma) = crate::direct::clone_shape(selected_target!());
    weight_gradients_grouped(
        input, inputs, d, outputs, side, k, gradients, index, active, group, fma,
    );
}

/// [`weight_gradients`] with `group` output blocks at a time and fused multiply-adds or not.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn weight_gradients_grouped(
    input: &[f32],
    inputs: usize,
    d: &[f32],
    outputs: usize,
    side: usize,
    k: usize,
    gradients: &mut Gradients,
    index: usize,
    active: &mut Vec<(usize, usize)>,
    group: usize,
    fma: bool,
) {
    let padded = side + k - 1;
    let run = k * inputs;
    let kernel = &mut gradients.kernels[index];
    let bias = &mut gradients.biases[index];
    // (pixel, offset of its receptive field's top-left value in `input`)
    active.clear();
    for (p, gradient) in d.chunks_exact(outputs).enumerate() {
        if gradient.iter().any(|v| *v != 0.0) {
            active.push((p, ((p / side) * padded + p % side) * inputs));
            bias.iter_mut().zip(gradient).for_each(|(b, g)| *b += g);
        }
    }
    let row_stride = padded * inputs;
    if outputs == 1 {
        // The output layer: one gradient per pixel times each receptive-field row.
        for &(p, origin) in active.iter() {
            for ky in 0..k {
                let start = origin + ky * row_stride;
                let row = &input[start..start + run];
                let grads = &mut kernel[ky * run..(ky + 1) * run];
                let g = d[p];
                grads.iter_mut().zip(row).for_each(|(sum, v)| *sum += v * g);
            }
        }
        return;
    }
    if !outputs.is_multiple_of(BLOCK) {
        for &(p, origin) in active.iter() {
            let gradient = &d[p * outputs..(p + 1) * outputs];
            for ky in 0..k {
                let start = origin + ky * row_stride;
                let row = &input[start..start + run];
                let grads = &mut kernel[ky * run * outputs..(ky + 1) * run * outputs];
                for (&v, g) in row.iter().zip(grads.chunks_exact_mut(outputs)) {
                    g.iter_mut().zip(gradient).for_each(|(g, d)| *g += v * d);
                }
            }
        }
        return;
    }
    let blocks = outputs / BLOCK;
    let mut block = 0;
    while block < blocks {
        let step = crate::direct::group_step(group, blocks - block);
        for ky in 0..k {
            let mut r = 0;
            while r < run {
                let width = VALUES.min(run - r);
                let offset = ky * row_stride + r;
                let place = |kernel: &mut [f32], j: usize, g: usize, sum: &[f32; BLOCK]| {
                    let at = (ky * run + r + j) * outputs + (block + g) * BLOCK;
                    kernel[at..at + BLOCK]
                        .iter_mut()
                        .zip(sum)
                        .for_each(|(k, s)| *k += s);
                };
                if width < VALUES {
                    // The end of a short row (a one-channel input): one value at a time.
                    for j in 0..width {
                        for g in 0..step {
                            let lanes = (block + g) * BLOCK;
                            let mut sum = [0.0f32; BLOCK];
                            for &(p, origin) in active.iter() {
                                let v = input[origin + offset + j];
                                let gradient = &d[p * outputs + lanes..p * outputs + lanes + BLOCK];
                                for (s, g) in sum.iter_mut().zip(gradient) {
                                    *s += v * g;
                                }
                            }
                            place(kernel, j, g, &sum);
                        }
                    }
                } else {
                    macro_rules! sums {
                        ($g:literal) => {{
                            let sums = if fma {
                                accumulate::<$g, true>(input, d, outputs, block, active, offset)
                            } else {
                                accumulate::<$g, false>(input, d, outputs, block, active, offset)
                            };
                            for (j, row) in sums.iter().enumerate() {
                                for (g, sum) in row.iter().enumerate() {
                                    place(kernel, j, g, sum);
                                }
                            }
                        }};
                    }
                    match step {
                        4 => sums!(4),
                        2 => sums!(2),
                        _ => sums!(1),
                    }
                }
                r += width;
            }
        }
        block += step;
    }
}

/// For blocks `first..first + G` of 8 outputs and `VALUES` neighbouring values of a receptive
/// field row (at `offset` from each pixel's origin): the sums over the active pixels of value ×
/// gradient, in registers (`FMA`: fused multiply-adds).
#[inline(always)]
fn accumulate<const G: usize, const FMA: bool>(
    input: &[f32],
    d: &[f32],
    outputs: usize,
    first: usize,
    active: &[(usize, usize)],
    offset: usize,
) -> [[[f32; BLOCK]; G]; VALUES] {
    let mut sums = [[[0.0f32; BLOCK]; G]; VALUES];
    for &(p, origin) in active {
        let start = origin + offset;
        let Ok(values) = <&[f32; VALUES]>::try_from(&input[start..start + VALUES]) else {
            continue;
        };
        let base = p * outputs + first * BLOCK;
        let gradients = &d[base..base + G * BLOCK];
        for (j, row) in sums.iter_mut().enumerate() {
            for (g, sum) in row.iter_mut().enumerate() {
                for lane in 0..BLOCK {
                    sum[lane] =
                        multiply_add(values[j], gradients[g * BLOCK + lane], sum[lane], FMA);
                }
            }
        }
    }
    sums
}

/// Outputs per register block of [`weight_gradients`].
const BLOCK: usize = 8;
/// Receptive-field values per register block of [`weight_gradients`].
const VALUES: usize = 4;

/// Nearest 2× upsampling backward (each 2×2 block of `d_full` summed) through the ReLU of
/// `activations` (`[side]²` × `channels`, the upsampled map).
fn upsample_backward(
    d_full: &[f32],
    side: usize,
    channels: usize,
    activations: &[f32],
    d_half: &mut [f32],
) {
    for y in 0..side {
        for x in 0..side {
            let [a, b, c, d] = window(y, x, 2 * side, channels);
            let out = (y * side + x) * channels;
            for ch in 0..channels {
                d_half[out + ch] = if activations[out + ch] > 0.0 {
                    d_full[a + ch] + d_full[b + ch] + d_full[c + ch] + d_full[d + ch]
                } else {
                    0.0
                };
            }
        }
    }
}

/// 2×2 max pooling backward: each pooled gradient goes to its window's maximum in
/// `activations` (`[side]²` × `channels`, the first on ties), through that ReLU.
fn max_pool_backward(
    activations: &[f32],
    side: usize,
    channels: usize,
    d_pooled: &[f32],
    d_full: &mut [f32],
) {
    d_full.fill(0.0);
    let half = side / 2;
    for y in 0..half {
        for x in 0..half {
            let window = window(y, x, side, channels);
            let from = (y * half + x) * channels;
            let mut ch = 0;
            // 8 channels at a time, branch-free (the compiler vectorises the selects).
            while ch + BLOCK <= channels {
                let a: [&[f32]; 4] =
                    std::array::from_fn(|w| &activations[window[w] + ch..window[w] + ch + BLOCK]);
                let g = &d_pooled[from + ch..from + ch + BLOCK];
                let mut routed = [[0.0f32; BLOCK]; 4];
                for lane in 0..BLOCK {
                    // The first maximum, as the scalar loop below picks it.
                    let mut best = a[0][lane];
                    let mut which = 0;
                    for (w, values) in a.iter().enumerate().skip(1) {
                        let better = values[lane] > best;
                        best = if better { values[lane] } else { best };
                        which = if better { w } else { which };
                    }
                    for (w, out) in routed.iter_mut().enumerate() {
                        out[lane] = if w == which && best > 0.0 {
                            g[lane]
                        } else {
                            0.0
                        };
                    }
                }
                for (w, out) in routed.iter().enumerate() {
                    d_full[window[w] + ch..window[w] + ch + BLOCK].copy_from_slice(out);
                }
                ch += BLOCK;
            }
            for ch in ch..channels {
                let mut best = window[0] + ch;
                for &w in &window[1..] {
                    if activations[w + ch] > activations[best] {
                        best = w + ch;
                    }
                }
                if activations[best] > 0.0 {
                    d_full[best] = d_pooled[from + ch];
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every clone's way through the kernel gradients (1, 2 or 4 output blocks at a time, with
    /// and without fused multiply-adds; 40 outputs, so groups leave a remainder; a 1-channel
    /// input, so rows end short) equals the plain sum over the pixels with a gradient.
    #[test]
    fn every_weight_gradient_variant_agrees_with_the_plain_sum() {
        for (inputs, outputs, side) in [(12, 40, 6), (1, 16, 5)] {
            let k = 3;
            let padded = side + k - 1;
            let input: Vec<f32> = (0..padded * padded * inputs)
                .map(|i| (i as f32 * 0.377).fract() - 0.3)
                .collect();
            // Some pixels without any gradient, as after a ReLU.
            let d: Vec<f32> = (0..side * side * outputs)
                .map(|i| {
                    if (i / outputs) % 3 == 1 {
                        0.0
                    } else {
                        (i as f32 * 0.611).fract() - 0.5
                    }
                })
                .collect();
            let run = k * inputs;
            let mut want = vec![0.0f64; k * run * outputs];
            for p in 0..side * side {
                let origin = ((p / side) * padded + p % side) * inputs;
                for ky in 0..k {
                    for r in 0..run {
                        for o in 0..outputs {
                            want[(ky * run + r) * outputs + o] += f64::from(d[p * outputs + o])
                                * f64::from(input[origin + ky * padded * inputs + r]);
                        }
                    }
                }
            }
            for group in [1, 2, 4] {
                for fma in [false, true] {
                    let mut gradients = Gradients {
                        kernels: vec![vec![0.0; k * run * outputs]],
                        biases: vec![vec![0.0; outputs]],
                        loss_sum: 0.0,
                    };
                    weight_gradients_grouped(
                        &input,
                        inputs,
                        &d,
                        outputs,
                        side,
                        k,
                        &mut gradients,
                        0,
                        &mut Vec::new(),
                        group,
                        fma,
                    );
                    for (at, (got, want)) in gradients.kernels[0].iter().zip(&want).enumerate() {
                        assert!(
                            (f64::from(*got) - want).abs() < 1e-4,
                            "{inputs}→{outputs}, group {group}, fma {fma}: {got} vs {want} at {at}"
                        );
                    }
                }
            }
        }
    }

    /// Strokes and blobs in [0, 1], some pixels exactly 0 and 1.
    fn batch(count: usize, side: usize, seed: usize) -> (Vec<f32>, Vec<f32>) {
        let len = side * side;
        let targets: Vec<f32> = (0..count * len)
            .map(|i| {
                let (n, rest) = (i / len + seed, i % len);
                let (y, x) = (rest / side, rest % side);
                if (x + 3 * y + n) % 7 == 0 {
                    1.0
                } else if (x * y + n) % 5 == 0 {
                    0.0
                } else {
                    ((x as f32 * 0.31 + n as f32).sin() * (y as f32 * 0.17).cos()).abs()
                }
            })
            .collect();
        let inputs = targets
            .iter()
            .enumerate()
            .map(|(i, v)| (v + 0.3 * ((i * 7919 % 101) as f32 / 101.0 - 0.5)).clamp(0.0, 1.0))
            .collect();
        (inputs, targets)
    }

    #[test]
    fn same_batch_same_step_on_any_thread_count() {
        let weights =
            Weights::init_seeded(AutoencoderConfig::new(), 2).unwrap_or_else(|e| panic!("{e}"));
        let (inputs, targets) = batch(3 * SLICE + 5, 28, 4);
        let new = || {
            DirectTrainer::new(&weights, LossKind::Bce, OptimizerKind::Adadelta)
                .unwrap_or_else(|e| panic!("{e}"))
        };
        let convs = new().step_convs();
        let trainer = new();
        let together = trainer.batch_gradients(&convs, &inputs, &targets);
        // Slice by slice on this thread, summed in order: the same bits.
        let len = 28 * 28;
        let mut total = trainer.zero_gradients(&convs);
        let mut scratch = trainer.scratch(&convs);
        for (images, targets) in inputs.chunks(SLICE * len).zip(targets.chunks(SLICE * len)) {
            let mut part = trainer.zero_gradients(&convs);
            for (image, target) in images.chunks_exact(len).zip(targets.chunks_exact(len)) {
                trainer.image_gradients(&convs, image, target, &mut scratch, &mut part);
            }
            for (sum, add) in total.kernels.iter_mut().zip(&part.kernels) {
                sum.iter_mut().zip(add).for_each(|(s, a)| *s += a);
            }
        }
        assert_eq!(together.kernels, total.kernels);
    }
}
