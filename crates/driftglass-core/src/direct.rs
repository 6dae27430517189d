//! Scoring on the CPU without a tensor library: the autoencoder's forward pass written out, as
//! direct convolutions over channels-last feature maps.
//!
//! burn's CPU backend runs every layer as a general tensor operation (layout changes, im2col,
//! a general matrix product, then the loss, the latent projection and five read-backs as
//! separate passes over the batch). For this small network most of that is overhead: here each
//! image goes through the convolutions, poolings and upsamplings in place, in buffers
//! that stay in cache, and its losses and projected code are computed on the way out.
//!
//! The inner loops are written over small fixed-size arrays (8 output channels × 4 pixels) so
//! that the compiler turns them into SIMD: SSE/AVX natively, wasm `simd128` in the browser
//! (`.cargo/config.toml` enables it). No `unsafe`, no intrinsics.
//!
//! The results agree with burn's forward pass to float rounding (about 1e-6; the sums run in
//! another order); `driftglass-burn`'s agreement tests hold them to it. [`crate::direct_train`] runs the backward
//! pass the same way.

use std::sync::atomic::{AtomicUsize, Ordering};

use multiversion::multiversion;
use multiversion::target::selected_target;

use crate::architecture::Weights;
use crate::idx::ImageSet;
use crate::latent::{LATENT_DIMS, default_projection};
use crate::loss::EPSILON;
use crate::score::{Reconstruction, ScoreError};
use crate::winograd::Winograd;

/// Output channels computed together by the convolution kernel (two 4-lane vectors).
const BLOCK_CHANNELS: usize = 8;
/// Neighbouring output pixels of a row computed together (they share the weight loads).
const BLOCK_PIXELS: usize = 4;

/// One convolution, weights rearranged for the kernels below.
#[derive(Debug, Clone)]
pub(crate) struct Conv {
    inputs: usize,
    outputs: usize,
    kernel: usize,
    /// Wide layers (`outputs ≥ 8`): `[output block][ky][kx][input][8]`, outputs padded with
    /// zeros to a multiple of 8. Narrow layers: `[output][ky][kx][input]`.
    weights: Vec<f32>,
    /// One per output, padded like the weights.
    bias: Vec<f32>,
    /// The same convolution in Winograd's form, where it pays: 3×3 kernels between wide
    /// layers (2.25× fewer multiplications; see [`crate::winograd`]).
    winograd: Option<Winograd>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Activation {
    Relu,
    Sigmoid,
    /// None (the backward pass's transposed convolutions).
    Identity,
}

impl Conv {
    /// From burn's `[out, in, k, k]` kernel and `[out]` bias, for input maps that store
    /// `stored_inputs ≥ in` channels per pixel (the previous layer's padded outputs).
    pub(crate) fn new(
        shape: [usize; 4],
        kernel_values: &[f32],
        bias: Option<&[f32]>,
        stored_inputs: usize,
    ) -> Conv {
        let [outputs, real_inputs, kernel, _] = shape;
        let inputs = stored_inputs.max(real_inputs);
        let at = |o: usize, i: usize, ky: usize, kx: usize| {
            if i < real_inputs {
                kernel_values[((o * real_inputs + i) * kernel + ky) * kernel + kx]
            } else {
                0.0
            }
        };
        let bias_of = |o: usize| bias.map_or(0.0, |b| b[o]);
        let (weights, bias): (Vec<f32>, Vec<f32>) = if outputs >= BLOCK_CHANNELS {
            let blocks = outputs.div_ceil(BLOCK_CHANNELS);
            let mut weights =
                Vec::with_capacity(blocks * kernel * kernel * inputs * BLOCK_CHANNELS);
            for block in 0..blocks {
                for ky in 0..kernel {
                    for kx in 0..kernel {
                        for i in 0..inputs {
                            for lane in 0..BLOCK_CHANNELS {
                                let o = block * BLOCK_CHANNELS + lane;
                                weights.push(if o < outputs { at(o, i, ky, kx) } else { 0.0 });
                            }
                        }
                    }
                }
            }
            let bias = (0..blocks * BLOCK_CHANNELS)
                .map(|o| if o < outputs { bias_of(o) } else { 0.0 })
                .collect();
            (weights, bias)
        } else {
            let mut weights = Vec::with_capacity(outputs * kernel * kernel * inputs);
            for o in 0..outputs {
                for ky in 0..kernel {
                    for kx in 0..kernel {
                        for i in 0..inputs {
                            weights.push(at(o, i, ky, kx));
                        }
                    }
                }
            }
            (weights, (0..outputs).map(bias_of).collect())
        };
        // The wide layout's bias (padded to blocks of 8) serves the Winograd form too.
        let winograd = (kernel == 3 && outputs >= BLOCK_CHANNELS && real_inputs >= BLOCK_CHANNELS)
            .then(|| Winograd::new(shape, kernel_values, &bias, stored_inputs));
        Conv {
            inputs,
            outputs,
            kernel,
            weights,
            bias,
            winograd,
        }
    }

    /// The Winograd form, where this layer has one (for its tests).
    #[cfg(test)]
    pub(crate) fn winograd(&self) -> Option<&Winograd> {
        self.winograd.as_ref()
    }

    /// Channels of this layer's output map (outputs padded to the block size for wide layers).
    pub(crate) fn stored_outputs(&self) -> usize {
        self.bias.len()
    }

    /// "Same" convolution of a zero-bordered map `input` (`[side + k − 1]²` pixels of
    /// `self.inputs` channels) into `output` (`[side]²` pixels of `stored_outputs` channels).
    pub(crate) fn apply(
        &self,
        input: &[f32],
        side: usize,
        output: &mut [f32],
        activation: Activation,
    ) {
        // Many outputs: 8 output channels × up to 4 pixels of a row per step, each step walking
        // the `k` rows of the receptive field (contiguous runs of `k · inputs` values). Few
        // outputs (the last layer: one per image channel): a dot product of the receptive field
        // with each output's weights, summed in 8 lanes.
        let (weights, bias, k, cin) = (&self.weights, &self.bias, self.kernel, self.inputs);
        match &self.winograd {
            Some(winograd) => winograd.apply(input, side, output),
            None if self.outputs >= BLOCK_CHANNELS => {
                conv_wide(weights, bias, input, side, output, k, cin)
            }
            None => conv_narrow(weights, bias, input, side, output, k, cin),
        }
        match activation {
            Activation::Relu => relu_in_place(output),
            Activation::Sigmoid => output
                .iter_mut()
                .for_each(|v| *v = 1.0 / (1.0 + (-*v).exp())),
            Activation::Identity => {}
        }
    }
}

/// [`Conv::apply`]'s loops for many outputs, compiled for AVX-512, AVX2 with FMA and AVX
/// besides the baseline, and chosen once at run time. Each clone keeps as many output blocks in registers
/// as it has room for (AVX-512's 32 vector registers: four blocks, all 32 channels of the
/// reference network; AVX's 16: two; the baseline and wasm: one), so that each input value
/// loaded feeds that many fused multiply-adds. FMA rounds once, so the results differ from the
/// baseline's by float rounding.
#[multiversion(targets("x86_64+avx512f+avx512vl+avx2+fma", "x86_64+avx2+fma", "x86_64+avx"))]
fn conv_wide(
    weights: &[f32],
    bias: &[f32],
    input: &[f32],
    side: usize,
    output: &mut [f32],
    k: usize,
    cin: usize,
) {
    let (group, fma) = clone_shape(selected_target!());
    conv_wide_grouped(weights, bias, input, side, output, k, cin, group, fma);
}

/// [`conv_wide`] with `group` output blocks at a time and fused multiply-adds or not (each
/// clone's choice; the tests run every combination on any machine).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn conv_wide_grouped(
    weights: &[f32],
    bias: &[f32],
    input: &[f32],
    side: usize,
    output: &mut [f32],
    k: usize,
    cin: usize,
    group: usize,
    fma: bool,
) {
    let (weights, _) = weights.as_chunks::<BLOCK_CHANNELS>();
    let (bias, _) = bias.as_chunks::<BLOCK_CHANNELS>();
    let per_block = k * k * cin;
    let layer = Layer {
        input,
        side,
        k,
        cin,
        stored: bias.len() * BLOCK_CHANNELS,
        fma,
    };
    let mut block = 0;
    while block < bias.len() {
        let blocks = &weights[block * per_block..];
        let step = group_step(group, bias.len() - block);
        macro_rules! run {
            ($b:literal) => {
                layer.blocks::<$b>(
                    std::array::from_fn(|b| &blocks[b * per_block..(b + 1) * per_block]),
                    std::array::from_fn(|b| bias[block + b]),
                    block,
                    output,
                )
            };
        }
        match step {
            4 => run!(4),
            2 => run!(2),
            _ => run!(1),
        }
        block += step;
    }
}

/// One wide convolution's input and shape, for [`Layer::blocks`].
struct Layer<'a> {
    input: &'a [f32],
    side: usize,
    k: usize,
    cin: usize,
    /// Channels per pixel of the output map.
    stored: usize,
    fma: bool,
}

impl Layer<'_> {
    /// Output blocks `first..first + B` (`weights`: each block's `[ky][kx][input]` lanes) over
    /// the whole map, 4 pixels of a row at a time.
    #[inline(always)]
    fn blocks<const B: usize>(
        &self,
        weights: [&[[f32; BLOCK_CHANNELS]]; B],
        bias: [[f32; BLOCK_CHANNELS]; B],
        first: usize,
        output: &mut [f32],
    ) {
        let (side, cin) = (self.side, self.cin);
        let padded = side + self.k - 1;
        let mut store = |x: usize, y: usize, sums: &[[f32; BLOCK_CHANNELS]; B]| {
            for (b, values) in sums.iter().enumerate() {
                let at = (y * side + x) * self.stored + (first + b) * BLOCK_CHANNELS;
                output[at..at + BLOCK_CHANNELS].copy_from_slice(values);
            }
        };
        for y in 0..side {
            let mut x = 0;
            while x + BLOCK_PIXELS <= side {
                let acc = self.sum::<B, BLOCK_PIXELS>(weights, bias, (y * padded + x) * cin);
                for (p, sums) in acc.iter().enumerate() {
                    store(x + p, y, sums);
                }
                x += BLOCK_PIXELS;
            }
            while x < side {
                let [sums] = self.sum::<B, 1>(weights, bias, (y * padded + x) * cin);
                store(x, y, &sums);
                x += 1;
            }
        }
    }

    /// `P` neighbouring pixels × `B` blocks of 8 output channels, from input offset `origin`
    /// (top-left of the first pixel's receptive field). Every slice is cut to the loop's
    /// length first, so the compiler drops the bounds checks from the inner loop.
    #[inline(always)]
    fn sum<const B: usize, const P: usize>(
        &self,
        weights: [&[[f32; BLOCK_CHANNELS]]; B],
        bias: [[f32; BLOCK_CHANNELS]; B],
        origin: usize,
    ) -> [[[f32; BLOCK_CHANNELS]; B]; P] {
        let (k, cin) = (self.k, self.cin);
        let run = k * cin;
        let row_stride = (self.side + k - 1) * cin;
        let mut acc = [bias; P];
        for ky in 0..k {
            let start = origin + ky * row_stride;
            let rows: [&[f32]; P] =
                std::array::from_fn(|p| &self.input[start + p * cin..start + p * cin + run]);
            let w: [&[[f32; BLOCK_CHANNELS]]; B] =
                std::array::from_fn(|b| &weights[b][ky * run..ky * run + run]);
            for r in 0..run {
                for (p, sums) in acc.iter_mut().enumerate() {
                    let v = rows[p][r];
                    for (b, lanes) in sums.iter_mut().enumerate() {
                        for lane in 0..BLOCK_CHANNELS {
                            lanes[lane] = multiply_add(v, w[b][r][lane], lanes[lane], self.fma);
                        }
                    }
                }
            }
        }
        acc
    }
}

/// [`Conv::apply`]'s loops for few outputs, multiversioned as [`conv_wide`]. Each pixel's sum
/// is one chain of fused multiply-adds per lane, so pixels are taken 8 (then 4, then 1) at a
/// time: their chains are independent, the weights loaded once feed them all, and each pixel's
/// sum keeps the order it has alone (the same numbers whatever the blocking).
#[multiversion(targets("x86_64+avx2+fma", "x86_64+avx"))]
fn conv_narrow(
    weights: &[f32],
    bias: &[f32],
    input: &[f32],
    side: usize,
    output: &mut [f32],
    k: usize,
    cin: usize,
) {
    let fma = x86_64_has(selected_target!(), "fma");
    let shape = NarrowShape {
        padded: side + k - 1,
        cin,
        run: k * cin,
        fma,
    };
    let outputs = bias.len();
    for (o, weights) in weights.chunks_exact(k * shape.run).enumerate() {
        for y in 0..side {
            let mut x = 0;
            let mut put = |x: usize, sums: &[f32]| {
                for (p, sum) in sums.iter().enumerate() {
                    output[(y * side + x + p) * outputs + o] = *sum;
                }
            };
            while x + 8 <= side {
                put(x, &shape.pixels::<8>(weights, bias[o], input, y, x));
                x += 8;
            }
            while x + 4 <= side {
                put(x, &shape.pixels::<4>(weights, bias[o], input, y, x));
                x += 4;
            }
            while x < side {
                put(x, &shape.pixels::<1>(weights, bias[o], input, y, x));
                x += 1;
            }
        }
    }
}

/// The sizes [`conv_narrow`]'s pixel blocks read with.
#[derive(Clone, Copy)]
struct NarrowShape {
    padded: usize,
    cin: usize,
    run: usize,
    fma: bool,
}

impl NarrowShape {
    /// The outputs of `P` neighbouring pixels from `(y, x)` on, for one output's `weights` (`k`
    /// rows of `run`) and `bias`.
    #[inline(always)]
    fn pixels<const P: usize>(
        self,
        weights: &[f32],
        bias: f32,
        input: &[f32],
        y: usize,
        x: usize,
    ) -> [f32; P] {
        let (run, cin) = (self.run, self.cin);
        let mut lanes = [[0.0f32; BLOCK_CHANNELS]; P];
        let mut tails = [0.0f32; P];
        for (ky, row_weights) in weights.chunks_exact(run).enumerate() {
            let start = ((y + ky) * self.padded + x) * cin;
            // The `P` receptive-field rows overlap: pixel `p`'s starts `p · cin` further on.
            let window = &input[start..start + (P - 1) * cin + run];
            let (w_blocks, w_rest) = row_weights.as_chunks::<BLOCK_CHANNELS>();
            for (p, (sums, tail)) in lanes.iter_mut().zip(tails.iter_mut()).enumerate() {
                let row = &window[p * cin..p * cin + run];
                let (v_blocks, v_rest) = row.as_chunks::<BLOCK_CHANNELS>();
                for (v, w) in v_blocks.iter().zip(w_blocks) {
                    for lane in 0..BLOCK_CHANNELS {
                        sums[lane] = multiply_add(v[lane], w[lane], sums[lane], self.fma);
                    }
                }
                for (v, w) in v_rest.iter().zip(w_rest) {
                    *tail += v * w;
                }
            }
        }
        let mut out = [0.0f32; P];
        for ((o, sums), tail) in out.iter_mut().zip(&lanes).zip(&tails) {
            *o = bias + sums.iter().sum::<f32>() + tail;
        }
        out
    }
}

/// Whether a kernel clone was compiled for an x86-64 `feature` (the feature names are
/// x86-64's: asked on another architecture, `supports_feature_str` panics).
#[inline(always)]
fn x86_64_has(target: multiversion::target::Target, feature: &str) -> bool {
    cfg!(target_arch = "x86_64") && target.supports_feature_str(feature)
}

/// What a kernel clone compiled for `target` (`selected_target!()`) can do: how many output
/// blocks of 8 it keeps in registers (AVX-512's 32 vector registers: 4; AVX's 16: 2; the
/// baseline and wasm: 1), and whether it fuses multiply-adds.
#[inline(always)]
pub(crate) fn clone_shape(target: multiversion::target::Target) -> (usize, bool) {
    let group = if x86_64_has(target, "avx512f") {
        4
    } else if x86_64_has(target, "avx") {
        2
    } else {
        1
    };
    (group, x86_64_has(target, "fma"))
}

/// How many output blocks to take together next: `group` where at least that many are `left`,
/// else fewer.
#[inline(always)]
pub(crate) fn group_step(group: usize, left: usize) -> usize {
    match left {
        left if group >= 4 && left >= 4 => 4,
        left if group >= 2 && left >= 2 => 2,
        _ => 1,
    }
}

/// `a · b + c`, fused where the clone has FMA (one instruction, one rounding); apart where it
/// has not (`mul_add` would call a slow software routine there). The kernels pass `fma` as a
/// compile-time constant where a branch in their inner loop would keep it from vectorising.
#[inline(always)]
pub(crate) fn multiply_add(a: f32, b: f32, c: f32, fma: bool) -> f32 {
    if fma { a.mul_add(b, c) } else { c + a * b }
}

/// Offsets of the four values of channel 0 of 2×2 window (`y`, `x`) in a `[side]²` map of
/// `channels` values per pixel: top left, top right, bottom left, bottom right.
#[inline]
pub(crate) fn window(y: usize, x: usize, side: usize, channels: usize) -> [usize; 4] {
    let at = |yy: usize, xx: usize| (yy * side + xx) * channels;
    [
        at(2 * y, 2 * x),
        at(2 * y, 2 * x + 1),
        at(2 * y + 1, 2 * x),
        at(2 * y + 1, 2 * x + 1),
    ]
}

/// 2×2 max pooling of `[side]²` pixels × `channels` into the interior of a zero-bordered map
/// with `border` pixels on each side. Multiversioned as the convolutions (exact: the same
/// numbers on every clone).
#[multiversion(targets("x86_64+avx512f+avx512vl+avx2+fma", "x86_64+avx2+fma", "x86_64+avx"))]
pub(crate) fn max_pool_into(
    input: &[f32],
    side: usize,
    channels: usize,
    output: &mut [f32],
    border: usize,
) {
    let half = side / 2;
    let padded = half + 2 * border;
    for y in 0..half {
        for x in 0..half {
            let [a, b, c, d] = window(y, x, side, channels);
            let out = ((y + border) * padded + x + border) * channels;
            for ch in 0..channels {
                output[out + ch] = input[a + ch]
                    .max(input[b + ch])
                    .max(input[c + ch])
                    .max(input[d + ch]);
            }
        }
    }
}

/// Nearest-neighbour 2× upsampling of `[side]²` pixels into the interior of a zero-bordered
/// `[2·side + 2·border]²` map. Multiversioned, and each pixel's channels copied in blocks of
/// eight in registers (a `copy_from_slice` of 32 values was a `memmove` call per pixel).
#[multiversion(targets("x86_64+avx512f+avx512vl+avx2+fma", "x86_64+avx2+fma", "x86_64+avx"))]
pub(crate) fn upsample_into(
    input: &[f32],
    side: usize,
    channels: usize,
    output: &mut [f32],
    border: usize,
) {
    let double = 2 * side;
    let padded = double + 2 * border;
    for y in 0..double {
        for x in 0..double {
            let from = ((y / 2) * side + x / 2) * channels;
            let to = ((y + border) * padded + x + border) * channels;
            let (source, source_rest) = input[from..from + channels].as_chunks::<BLOCK_CHANNELS>();
            let (target, target_rest) = output[to..to + channels].as_chunks_mut::<BLOCK_CHANNELS>();
            for (t, v) in target.iter_mut().zip(source) {
                *t = *v;
            }
            target_rest.copy_from_slice(source_rest);
        }
    }
}

/// `values` through the ReLU, in place (multiversioned: exact on every clone).
#[multiversion(targets("x86_64+avx512f+avx512vl+avx2+fma", "x86_64+avx2+fma", "x86_64+avx"))]
fn relu_in_place(values: &mut [f32]) {
    values.iter_mut().for_each(|v| *v = v.max(0.0));
}

/// The code (interior of the zero-bordered `padded_code`, `[code_side + 2·border]²` pixels ×
/// `stored` values, the first `channels` of them the code's) times `projection` (a row of
/// [`LATENT_DIMS`] per code value, channels last). Multiversioned: each dimension's sum runs
/// in the same order on every clone, so the same numbers.
#[multiversion(targets("x86_64+avx512f+avx512vl+avx2+fma", "x86_64+avx2+fma", "x86_64+avx"))]
fn project_code(
    padded_code: &[f32],
    (code_side, border, stored, channels): (usize, usize, usize, usize),
    projection: &[f32],
) -> [f32; LATENT_DIMS] {
    let padded = code_side + 2 * border;
    let mut latent = [0.0f32; LATENT_DIMS];
    for y in 0..code_side {
        for x in 0..code_side {
            let from = ((y + border) * padded + x + border) * stored;
            for c in 0..channels {
                let v = padded_code[from + c];
                if v == 0.0 {
                    continue; // ReLU zeros, most of the code
                }
                let row = ((y * code_side + x) * channels + c) * LATENT_DIMS;
                let row = &projection[row..row + LATENT_DIMS];
                for (sum, w) in latent.iter_mut().zip(row) {
                    *sum += v * w;
                }
            }
        }
    }
    latent
}

/// The autoencoder's weights, rearranged for direct convolution on the CPU.
#[derive(Debug, Clone)]
pub struct DirectNetwork {
    side: usize,
    channels: usize,
    /// Conv-and-pool stages of the encoder.
    depth: usize,
    /// Channels of the code.
    code_channels: usize,
    kernel: usize,
    /// The encoder's convolutions, the decoder's, the output.
    convs: Vec<Conv>,
    /// The latent projection with its rows reordered for channels-last codes.
    projection: Vec<f32>,
    /// What it was built from (see [`DirectNetwork::packed`]).
    packed: Vec<f32>,
}

/// One image's feature maps on the way through the network, reused from image to image (for
/// scoring, and kept for the backward pass when training). Stage `i` of the encoder works at
/// side `side >> i`; maps read by a convolution are zero-bordered.
#[derive(Debug)]
pub(crate) struct FeatureMaps {
    /// The encoder's inputs: `[0]` the image, `[i]` stage `i − 1`'s pooled output; the last,
    /// at the code's side, is the code.
    pub(crate) encoder_in: Vec<Vec<f32>>,
    /// The encoder's convolution outputs (after the ReLU), per stage.
    pub(crate) encoder_out: Vec<Vec<f32>>,
    /// The decoder's convolution outputs (after the ReLU), per stage (stage `j` at side
    /// `side >> (depth − j)`).
    pub(crate) decoder_out: Vec<Vec<f32>>,
    /// The decoder's upsampled maps: `[j]` is decoder stage `j`'s output upsampled, what stage
    /// `j + 1` (or, for the last, the output convolution) reads.
    pub(crate) decoder_up: Vec<Vec<f32>>,
    /// The reconstruction, channels last.
    pub(crate) output: Vec<f32>,
}

impl FeatureMaps {
    /// Maps for `convs` (the encoder's stages, the decoder's, the output) on images of `side`
    /// pixels and `channels` channels.
    pub(crate) fn new(convs: &[Conv], side: usize, channels: usize) -> FeatureMaps {
        let (s, d) = (side, convs.len() / 2);
        let b = convs[0].kernel - 1;
        let sq = |n: usize| n * n;
        let stored = |layer: usize| convs[layer].stored_outputs();
        let encoder_in = (0..=d)
            .map(|i| {
                let channels = if i == 0 { channels } else { stored(i - 1) };
                vec![0.0; sq((s >> i) + b) * channels]
            })
            .collect();
        let encoder_out = (0..d).map(|i| vec![0.0; sq(s >> i) * stored(i)]).collect();
        let decoder_out = (0..d)
            .map(|j| vec![0.0; sq(s >> (d - j)) * stored(d + j)])
            .collect();
        let decoder_up = (0..d)
            .map(|j| vec![0.0; sq((s >> (d - j - 1)) + b) * stored(d + j)])
            .collect();
        FeatureMaps {
            encoder_in,
            encoder_out,
            decoder_out,
            decoder_up,
            output: vec![0.0; sq(s) * channels],
        }
    }

    /// Put `image` (`channels · side²` values, channels first) into `encoder_in[0]`, channels
    /// last inside a zero border of `border` pixels.
    pub(crate) fn load(&mut self, image: &[f32], side: usize, channels: usize, border: usize) {
        let padded = side + 2 * border;
        let input = &mut self.encoder_in[0];
        for (channel, plane) in image.chunks_exact(side * side).enumerate() {
            for (row, values) in plane.chunks_exact(side).enumerate() {
                let start = ((row + border) * padded + border) * channels + channel;
                for (x, v) in values.iter().enumerate() {
                    input[start + x * channels] = *v;
                }
            }
        }
    }

    /// The forward pass of `convs` from the zero-bordered image already in `encoder_in[0]`:
    /// for the reference, [28, 28, 32] → pooled [14, 14, 32] → [14, 14, 32] → code
    /// [7, 7, 32]; then [7, 7, 32] → upsampled [14, 14, 32] → … → [28, 28, 1].
    pub(crate) fn forward(&mut self, convs: &[Conv], side: usize) {
        let (s, d) = (side, convs.len() / 2);
        let border = (convs[0].kernel - 1) / 2;
        for stage in 0..d {
            let conv = &convs[stage];
            let (before, after) = self.encoder_in.split_at_mut(stage + 1);
            let out = &mut self.encoder_out[stage];
            conv.apply(&before[stage], s >> stage, out, Activation::Relu);
            max_pool_into(
                out,
                s >> stage,
                conv.stored_outputs(),
                &mut after[0],
                border,
            );
        }
        for stage in 0..d {
            let conv = &convs[d + stage];
            let at = s >> (d - stage);
            let input = if stage == 0 {
                &self.encoder_in[d]
            } else {
                &self.decoder_up[stage - 1]
            };
            let out = &mut self.decoder_out[stage];
            conv.apply(input, at, out, Activation::Relu);
            let up = &mut self.decoder_up[stage];
            upsample_into(out, at, conv.stored_outputs(), up, border);
        }
        convs[2 * d].apply(
            &self.decoder_up[d - 1],
            s,
            &mut self.output,
            Activation::Sigmoid,
        );
    }
}

impl DirectNetwork {
    /// The network for `weights`, for inputs of the side they were built for.
    pub fn new(weights: &Weights) -> Result<DirectNetwork, ScoreError> {
        let config = weights.config();
        let side = config.side;
        let mut convs: Vec<Conv> = Vec::with_capacity(config.layer_count());
        for layer in weights.layers() {
            let stored_inputs = convs.last().map_or(layer.shape[1], Conv::stored_outputs);
            convs.push(Conv::new(
                layer.shape,
                &layer.kernel,
                layer.bias.as_deref(),
                stored_inputs,
            ));
        }
        // `Weights` are checked against their config: convolutions that chain, a side
        // divisible by 2^depth.
        if convs.len() != config.layer_count() {
            return Err(ScoreError::Network(format!(
                "{} convolutions, the architecture has {}",
                convs.len(),
                config.layer_count()
            )));
        }
        let (channels, kernel) = (config.channels, config.kernel);
        let code_channels = config.code_channels();
        let code_side = config.code_side();
        let code_len = config.code_len();
        let projection_nchw = default_projection(code_len);
        // Channels-last position (y, x, c) ← burn's channels-first row c·side² + y·side + x.
        let mut projection = vec![0.0f32; code_len * LATENT_DIMS];
        for y in 0..code_side {
            for x in 0..code_side {
                for c in 0..code_channels {
                    let from = (c * code_side * code_side + y * code_side + x) * LATENT_DIMS;
                    let to = ((y * code_side + x) * code_channels + c) * LATENT_DIMS;
                    projection[to..to + LATENT_DIMS]
                        .copy_from_slice(&projection_nchw[from..from + LATENT_DIMS]);
                }
            }
        }
        Ok(DirectNetwork {
            side,
            channels,
            depth: config.depth,
            code_channels,
            kernel,
            convs,
            projection,
            packed: weights.to_packed(),
        })
    }

    /// The network as one array of numbers ([`Weights::to_packed`]): how the page hands it to
    /// its scoring workers.
    pub fn packed(&self) -> &[f32] {
        &self.packed
    }

    /// Rebuild a network from [`DirectNetwork::packed`] ([`Weights::from_packed`]).
    pub fn from_packed(packed: Vec<f32>) -> Result<DirectNetwork, ScoreError> {
        let weights =
            Weights::from_packed(&packed).map_err(|e| ScoreError::Network(e.to_string()))?;
        DirectNetwork::new(&weights)
    }

    /// Side of the images this network takes.
    pub fn side(&self) -> usize {
        self.side
    }

    /// Channels of the images this network takes (1: gray, 3: RGB).
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// Values per image (`channels · side²`).
    pub fn image_len(&self) -> usize {
        self.channels * self.side * self.side
    }

    /// Reconstruct and score one image (`channels · side²` values, channels first) against
    /// `target` (same layout).
    fn reconstruct_one(
        &self,
        image: &[f32],
        target: &[f32],
        scratch: &mut FeatureMaps,
    ) -> Reconstruction {
        let (s, c, d) = (self.side, self.channels, self.depth);
        let border = (self.kernel - 1) / 2;
        scratch.load(image, s, c, border);
        scratch.forward(&self.convs, s);
        let latent = self.project(&scratch.encoder_in[d], border);

        // Channels last → first; losses as `loss.rs` computes them (f32 terms of clipped
        // logarithms, summed in f64: a 128×128 colour image has 49,152).
        let mut pixels = vec![0.0f32; c * s * s];
        let (mut bce, mut mse, mut entropy) = (0.0f64, 0.0f64, 0.0f64);
        let (low, high) = (EPSILON as f32, 1.0 - EPSILON as f32);
        for ch in 0..c {
            for i in 0..s * s {
                let p = scratch.output[i * c + ch];
                let at = ch * s * s + i;
                pixels[at] = p;
                let y = target[at];
                let clipped = p.clamp(low, high);
                let (log_p, log_q) = (clipped.ln(), (1.0 - clipped).ln());
                bce -= f64::from(y * log_p + (1.0 - y) * log_q);
                entropy -= f64::from(p * log_p + (1.0 - p) * log_q);
                mse += f64::from((p - y) * (p - y));
            }
        }
        let n = (c * s * s) as f64;
        Reconstruction {
            bce: (bce / n) as f32,
            mse: (mse / n) as f32,
            output_entropy: (entropy / n) as f32,
            pixels,
            latent,
        }
    }

    /// The code (interior of the zero-bordered last encoder input) times the projection.
    fn project(&self, padded_code: &[f32], border: usize) -> Vec<f32> {
        let shape = (
            self.side >> self.depth,
            border,
            self.convs[self.depth - 1].stored_outputs(),
            self.code_channels,
        );
        project_code(padded_code, shape, &self.projection).to_vec()
    }

    /// Reconstruct `inputs` and score each against the same image of `targets` (see
    /// [`crate::score::reconstruct_with_targets`]), using every core natively.
    pub fn reconstruct_with_targets(
        &self,
        inputs: &ImageSet,
        targets: &ImageSet,
    ) -> Result<Vec<Reconstruction>, ScoreError> {
        let len = self.channels * self.side * self.side;
        for set in [inputs, targets] {
            if set.side != self.side
                || set.channels != self.channels
                || set.pixels.len() != inputs.count * len
            {
                return Err(ScoreError::WrongSize {
                    found: set.pixels.len(),
                    expected: inputs.count * len,
                });
            }
        }
        let run = |images: &[f32], targets: &[f32]| {
            let mut scratch = FeatureMaps::new(&self.convs, self.side, self.channels);
            images
                .chunks_exact(len)
                .zip(targets.chunks_exact(len))
                .map(|(image, target)| self.reconstruct_one(image, target, &mut scratch))
                .collect::<Vec<_>>()
        };
        let threads = worker_threads().min(inputs.count.div_ceil(8)).max(1);
        if threads == 1 {
            return Ok(run(&inputs.pixels, &targets.pixels));
        }
        let per_thread = inputs.count.div_ceil(threads) * len;
        std::thread::scope(|scope| {
            let handles: Vec<_> = inputs
                .pixels
                .chunks(per_thread)
                .zip(targets.pixels.chunks(per_thread))
                .map(|(images, targets)| scope.spawn(move || run(images, targets)))
                .collect();
            let mut results = Vec::with_capacity(inputs.count);
            for handle in handles {
                let part = handle
                    .join()
                    .map_err(|_| ScoreError::Network("a scoring thread panicked".into()))?;
                results.extend(part);
            }
            Ok(results)
        })
    }
}

/// Values per image in [`pack_reconstructions`]: three losses, the code, the reconstruction.
pub fn packed_len(image_len: usize) -> usize {
    3 + LATENT_DIMS + image_len
}

/// Reconstructions as one array (see [`packed_len`]), to hand back from a worker.
pub fn pack_reconstructions(reconstructions: &[Reconstruction]) -> Vec<f32> {
    let mut packed = Vec::new();
    for r in reconstructions {
        packed.extend([r.bce, r.mse, r.output_entropy]);
        packed.extend(&r.latent);
        packed.extend(&r.pixels);
    }
    packed
}

/// The inverse of [`pack_reconstructions`] for images of `image_len` values.
pub fn unpack_reconstructions(
    packed: &[f32],
    image_len: usize,
) -> Result<Vec<Reconstruction>, ScoreError> {
    let len = packed_len(image_len);
    if !packed.len().is_multiple_of(len) {
        return Err(ScoreError::WrongSize {
            found: packed.len(),
            expected: packed.len().next_multiple_of(len),
        });
    }
    Ok(packed
        .chunks_exact(len)
        .map(|values| Reconstruction {
            bce: values[0],
            mse: values[1],
            output_entropy: values[2],
            latent: values[3..3 + LATENT_DIMS].to_vec(),
            pixels: values[3 + LATENT_DIMS..].to_vec(),
        })
        .collect())
}

/// The most threads one call of the kernels may use; 0: every core.
static THREAD_LIMIT: AtomicUsize = AtomicUsize::new(0);

/// Let each call of the CPU kernels (scoring and training) use at most `threads` threads
/// (0: every core, the default): to share a machine, or to compare engines at equal threads.
pub fn set_thread_limit(threads: usize) {
    THREAD_LIMIT.store(threads, Ordering::Relaxed);
}

/// The limit [`set_thread_limit`] set (0: none).
pub fn thread_limit() -> usize {
    THREAD_LIMIT.load(Ordering::Relaxed)
}

/// Threads for one call: every core natively (or the limit set), one in wasm (no threads
/// there; the page runs one worker per core instead).
pub fn worker_threads() -> usize {
    if cfg!(target_arch = "wasm32") {
        return 1;
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    match THREAD_LIMIT.load(Ordering::Relaxed) {
        0 => cores,
        limit => limit,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A convolution's test case for `[outputs, inputs, k, side]`: a kernel and bias of
    /// varied values, and an input map of varied values inside a zero border of 1 (`k` = 3).
    pub(crate) fn convolution_case(
        [outputs, inputs, k, side]: [usize; 4],
    ) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
        let kernel = (0..outputs * inputs * k * k)
            .map(|i| ((i * 37 % 101) as f32 / 101.0 - 0.5) * 0.3)
            .collect();
        let bias = (0..outputs).map(|o| o as f32 * 0.01 - 0.2).collect();
        let padded = side + k - 1;
        let input = (0..padded * padded * inputs)
            .map(|i| {
                let pixel = i / inputs;
                let (y, x) = (pixel / padded, pixel % padded);
                if y == 0 || x == 0 || y == padded - 1 || x == padded - 1 {
                    0.0
                } else {
                    (i as f32 * 0.618).fract()
                }
            })
            .collect();
        (kernel, bias, input)
    }

    /// A "same" convolution summed plainly in f64, for the kernels' tests: `[outputs, inputs,
    /// k, side]`, an `[out, in, k, k]` kernel, a zero-bordered channels-last `input`; the output
    /// map stores `stored` channels per pixel (those past `outputs` stay 0).
    pub(crate) fn plain_convolution(
        [outputs, inputs, k, side]: [usize; 4],
        kernel: &[f32],
        bias: &[f32],
        input: &[f32],
        stored: usize,
    ) -> Vec<f64> {
        let padded = side + k - 1;
        let mut want = vec![0.0f64; side * side * stored];
        for y in 0..side {
            for x in 0..side {
                for o in 0..outputs {
                    let mut sum = f64::from(bias[o]);
                    for ky in 0..k {
                        for kx in 0..k {
                            for i in 0..inputs {
                                sum += f64::from(kernel[((o * inputs + i) * k + ky) * k + kx])
                                    * f64::from(input[((y + ky) * padded + x + kx) * inputs + i]);
                            }
                        }
                    }
                    want[(y * side + x) * stored + o] = sum;
                }
            }
        }
        want
    }
    use crate::architecture::AutoencoderConfig;

    /// Smooth blobs and strokes in (0, 1), different per image.
    fn images(count: usize, channels: usize, side: usize) -> ImageSet {
        let len = channels * side * side;
        let pixels = (0..count * len)
            .map(|i| {
                let (n, rest) = (i / len, i % len);
                let (y, x) = ((rest % (side * side)) / side, rest % side);
                let v = ((x as f32 * 0.37 + n as f32).sin()
                    * (y as f32 * 0.23 + rest as f32 / len as f32).cos())
                .abs();
                if (x + 2 * y + n) % 5 == 0 { 1.0 } else { v }
            })
            .collect();
        ImageSet::with_shape(pixels, count, channels, side)
    }

    /// Every clone's way through a wide convolution (1, 2 or 4 output blocks at a time, with
    /// and without fused multiply-adds, 4-pixel steps and the leftover pixels of a row) gives
    /// the plain sum's result; whichever clone this machine picks, the others are checked too.
    #[test]
    fn every_kernel_variant_agrees_with_the_plain_convolution() {
        let (outputs, inputs, k, side) = (40, 8, 3, 7);
        let shape = [outputs, inputs, k, k];
        let (kernel, bias, input) = convolution_case([outputs, inputs, k, side]);
        let conv = Conv::new(shape, &kernel, Some(&bias), inputs);
        let stored = conv.stored_outputs();
        let want = plain_convolution([outputs, inputs, k, side], &kernel, &bias, &input, stored);
        for group in [1, 2, 4] {
            for fma in [false, true] {
                let mut got = vec![f32::NAN; side * side * stored];
                conv_wide_grouped(
                    &conv.weights,
                    &conv.bias,
                    &input,
                    side,
                    &mut got,
                    k,
                    inputs,
                    group,
                    fma,
                );
                for (at, (g, w)) in got.iter().zip(&want).enumerate() {
                    if at % stored < outputs {
                        assert!(
                            (f64::from(*g) - w).abs() < 1e-5,
                            "group {group}, fma {fma}: {g} vs {w} at {at}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn packed_forms_round_trip() {
        let weights = Weights::init_seeded(AutoencoderConfig::new().with_filters(12), 4)
            .unwrap_or_else(|e| panic!("{e}"));
        let network = DirectNetwork::new(&weights).unwrap_or_else(|e| panic!("{e}"));
        let again =
            DirectNetwork::from_packed(network.packed().to_vec()).unwrap_or_else(|e| panic!("{e}"));
        let set = images(3, 1, 28);
        let a = network
            .reconstruct_with_targets(&set, &set)
            .unwrap_or_default();
        let b = again
            .reconstruct_with_targets(&set, &set)
            .unwrap_or_default();
        assert_eq!(a.len(), 3);
        assert_eq!(a, b);
        let unpacked = unpack_reconstructions(&pack_reconstructions(&a), 784)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(unpacked, a);
        assert!(unpack_reconstructions(&[0.0; 10], 784).is_err());
        // Damaged forms are refused, not misread.
        let mut short = network.packed().to_vec();
        short.pop();
        assert!(DirectNetwork::from_packed(short).is_err());
        let mut long = network.packed().to_vec();
        long.push(0.0);
        assert!(DirectNetwork::from_packed(long).is_err());
        let mut odd = network.packed().to_vec();
        odd[1] = 7.5;
        assert!(DirectNetwork::from_packed(odd).is_err());
        assert!(DirectNetwork::from_packed(Vec::new()).is_err());
    }

    #[test]
    fn wrong_sizes_are_refused() {
        let weights =
            Weights::init_seeded(AutoencoderConfig::new(), 0).unwrap_or_else(|e| panic!("{e}"));
        let network = DirectNetwork::new(&weights).unwrap_or_else(|e| panic!("{e}"));
        let small = images(2, 1, 12);
        assert!(network.reconstruct_with_targets(&small, &small).is_err());
        let mut packed = network.packed().to_vec();
        packed[0] = 30.0;
        assert!(DirectNetwork::from_packed(packed).is_err());
    }
}
