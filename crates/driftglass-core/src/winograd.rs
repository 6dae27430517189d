//! Winograd's minimal filtering, F(2×2, 3×3), for the wide 3×3 convolutions of
//! [`crate::direct`]: each 2×2 block of outputs comes from a 4×4 block of inputs with 16
//! multiplications per input and output channel instead of 36 (2.25× fewer).
//!
//! With `d` a 4×4 input tile of one channel and `g` a 3×3 kernel, the 2×2 outputs are
//! `Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A` (Lavin and Gray, 2015). The kernel transform `U = G g Gᵀ` is
//! made once per network; per tile, the input transform `V = Bᵀ d B` costs a few additions per
//! channel, the 16 products summed over the input channels are 16 small matrix products (the
//! bulk of the work, blocked in registers as the direct kernels are), and the output transform
//! a few more additions. The sums run in another order than the direct convolution's, so the
//! results differ by float rounding (a few units in the last place of the largest term).

use multiversion::multiversion;
use multiversion::target::selected_target;

use crate::direct::multiply_add;

/// Output channels per block (as [`crate::direct`]'s wide kernels).
const LANES: usize = 8;
/// Tiles transformed and multiplied together (their products share each weight load).
const TILES: usize = 4;
/// Values of a transformed tile.
const POINTS: usize = 16;

/// A 3×3 convolution's kernel in the Winograd domain.
#[derive(Debug, Clone)]
pub(crate) struct Winograd {
    /// Input channels stored per pixel of the input map.
    inputs: usize,
    /// `U` as `[point][block][input]` rows of 8 output lanes (outputs padded with zeros).
    kernel: Vec<[f32; LANES]>,
    /// One row of 8 per block.
    bias: Vec<[f32; LANES]>,
}

impl Winograd {
    /// From burn's `[out, in, 3, 3]` kernel, the bias padded with zeros to whole blocks of 8
    /// (the direct wide kernel's), for input maps of `stored_inputs ≥ in` channels per pixel.
    pub(crate) fn new(
        shape: [usize; 4],
        kernel_values: &[f32],
        padded_bias: &[f32],
        stored_inputs: usize,
    ) -> Winograd {
        let [outputs, real_inputs, _, _] = shape;
        let inputs = stored_inputs.max(real_inputs);
        let blocks = outputs.div_ceil(LANES);
        let mut kernel = vec![[0.0f32; LANES]; POINTS * blocks * inputs];
        for o in 0..outputs {
            for i in 0..real_inputs {
                let g = |y: usize, x: usize| {
                    f64::from(kernel_values[((o * real_inputs + i) * 3 + y) * 3 + x])
                };
                // G g: 4×3 (column by column), then (G g) Gᵀ: 4×4 (row by row).
                let columns: [[f64; 4]; 3] =
                    std::array::from_fn(|x| transform_kernel([g(0, x), g(1, x), g(2, x)]));
                let gg: [[f64; 4]; 4] = std::array::from_fn(|row| {
                    transform_kernel([columns[0][row], columns[1][row], columns[2][row]])
                });
                for (row, values) in gg.iter().enumerate() {
                    for (column, value) in values.iter().copied().enumerate() {
                        let point = row * 4 + column;
                        kernel[(point * blocks + o / LANES) * inputs + i][o % LANES] = value as f32;
                    }
                }
            }
        }
        let bias = padded_bias.as_chunks::<LANES>().0.to_vec();
        Winograd {
            inputs,
            kernel,
            bias,
        }
    }

    /// "Same" convolution of a zero-bordered map `input` (`[side + 2]²` pixels of
    /// `self.inputs` channels) into `output` (`[side]²` pixels of `8 · blocks` channels).
    pub(crate) fn apply(&self, input: &[f32], side: usize, output: &mut [f32]) {
        convolve(self, input, side, output);
    }
}

/// `G g` for one column `g` of a 3×3 kernel (G = [[1, 0, 0], [½, ½, ½], [½, −½, ½], [0, 0, 1]]).
fn transform_kernel([a, b, c]: [f64; 3]) -> [f64; 4] {
    [a, (a + b + c) / 2.0, (a - b + c) / 2.0, c]
}

/// Bᵀ d for the four rows (or columns) of a tile, 8 channels at a time.
#[inline(always)]
fn transform_input(d: [[f32; LANES]; 4]) -> [[f32; LANES]; 4] {
    let mut out = [[0.0f32; LANES]; 4];
    for lane in 0..LANES {
        out[0][lane] = d[0][lane] - d[2][lane];
        out[1][lane] = d[1][lane] + d[2][lane];
        out[2][lane] = d[2][lane] - d[1][lane];
        out[3][lane] = d[1][lane] - d[3][lane];
    }
    out
}

/// Aᵀ m for the four rows (or columns) of a product tile.
#[inline(always)]
fn transform_output(m: [[f32; LANES]; 4]) -> [[f32; LANES]; 2] {
    let mut out = [[0.0f32; LANES]; 2];
    for lane in 0..LANES {
        out[0][lane] = m[0][lane] + m[1][lane] + m[2][lane];
        out[1][lane] = m[1][lane] - m[2][lane] - m[3][lane];
    }
    out
}

/// [`Winograd::apply`], compiled for AVX-512, AVX2 with FMA and AVX besides the baseline (as
/// [`crate::direct`]'s kernels), chosen once at run time.
#[multiversion(targets("x86_64+avx512f+avx512vl+avx2+fma", "x86_64+avx2+fma", "x86_64+avx"))]
fn convolve(conv: &Winograd, input: &[f32], side: usize, output: &mut [f32]) {
    let (group, fma) = crate::direct::clone_shape(selected_target!());
    convolve_grouped(conv, input, side, output, group, fma);
}

/// [`convolve`] with `group` output blocks at a time and fused multiply-adds or not (each
/// clone's choice; the tests run every combination on any machine).
#[inline(always)]
fn convolve_grouped(
    conv: &Winograd,
    input: &[f32],
    side: usize,
    output: &mut [f32],
    group: usize,
    fma: bool,
) {
    let cin = conv.inputs;
    let blocks = conv.bias.len();
    let padded = side + 2;
    let across = side.div_ceil(2);
    let tiles = across * across;
    // Transformed inputs of `TILES` tiles: `[point][tile][input]`.
    let mut transformed = vec![0.0f32; POINTS * TILES * cin];
    // Their products: `[tile][block][point]` rows of 8 outputs (a tile's 16 points together,
    // for the output transform).
    let mut products = vec![[0.0f32; LANES]; TILES * blocks * POINTS];
    for first in (0..tiles).step_by(TILES) {
        let count = TILES.min(tiles - first);
        for t in 0..count {
            let (ty, tx) = ((first + t) / across, (first + t) % across);
            transform_tile(input, padded, cin, 2 * ty, 2 * tx, t, &mut transformed);
        }
        for point in 0..POINTS {
            let values = &transformed[point * TILES * cin..(point + 1) * TILES * cin];
            let kernel = &conv.kernel[point * blocks * cin..(point + 1) * blocks * cin];
            let mut block = 0;
            while block < blocks {
                let step = crate::direct::group_step(group, blocks - block);
                macro_rules! run {
                    ($b:literal) => {
                        multiply::<$b>(
                            values,
                            kernel,
                            cin,
                            blocks,
                            block,
                            point,
                            &mut products,
                            fma,
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
        for t in 0..count {
            let (ty, tx) = ((first + t) / across, (first + t) % across);
            for (block, bias) in conv.bias.iter().enumerate() {
                let at = (t * blocks + block) * POINTS;
                let Ok(m) = <&[[f32; LANES]; POINTS]>::try_from(&products[at..at + POINTS]) else {
                    continue;
                };
                // Aᵀ m A: the columns of each row, then the rows.
                let mut rows = [[[0.0f32; LANES]; 4]; 2];
                for row in 0..4 {
                    let [a, b] = transform_output([
                        m[row * 4],
                        m[row * 4 + 1],
                        m[row * 4 + 2],
                        m[row * 4 + 3],
                    ]);
                    (rows[0][row], rows[1][row]) = (a, b);
                }
                for (dx, column) in rows.iter().enumerate() {
                    let pair = transform_output(*column);
                    for (dy, values) in pair.iter().enumerate() {
                        let (y, x) = (2 * ty + dy, 2 * tx + dx);
                        if y < side && x < side {
                            let at = (y * side + x) * blocks * LANES + block * LANES;
                            if let Ok(out) =
                                <&mut [f32; LANES]>::try_from(&mut output[at..at + LANES])
                            {
                                for lane in 0..LANES {
                                    out[lane] = values[lane] + bias[lane];
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Bᵀ d B of the 4×4 tile at padded row `y`, column `x` (rows and columns past the map read as
/// zeros: the last tile of an odd side), for every input channel, into tile `t` of
/// `transformed`.
#[inline(always)]
fn transform_tile(
    input: &[f32],
    padded: usize,
    cin: usize,
    y: usize,
    x: usize,
    t: usize,
    transformed: &mut [f32],
) {
    let mut channel = 0;
    while channel < cin {
        let width = LANES.min(cin - channel);
        // Plain loops, not nested `array::from_fn`: that closure was not inlined into the
        // multiversioned clones and ran as a baseline-compiled call per tile.
        let mut d = [[[0.0f32; LANES]; 4]; 4];
        for (i, d_row) in d.iter_mut().enumerate() {
            if y + i >= padded {
                break;
            }
            for (j, values) in d_row.iter_mut().enumerate() {
                if x + j >= padded {
                    break;
                }
                let at = ((y + i) * padded + x + j) * cin + channel;
                match <&[f32; LANES]>::try_from(input.get(at..at + LANES).unwrap_or(&[])) {
                    Ok(full) if width == LANES => *values = *full,
                    _ => values[..width].copy_from_slice(&input[at..at + width]),
                }
            }
        }
        // Bᵀ d (the columns of each row position), then (Bᵀ d) B (the rows).
        let mut columns = [[[0.0f32; LANES]; 4]; 4];
        for j in 0..4 {
            let transformed_column = transform_input(std::array::from_fn(|i| d[i][j]));
            for i in 0..4 {
                columns[i][j] = transformed_column[i];
            }
        }
        for (i, row) in columns.iter().enumerate() {
            let v = transform_input(*row);
            for (j, values) in v.iter().enumerate() {
                let at = ((i * 4 + j) * TILES + t) * cin + channel;
                match <&mut [f32; LANES]>::try_from(&mut transformed[at..at + width]) {
                    Ok(full) => *full = *values,
                    Err(_) => transformed[at..at + width].copy_from_slice(&values[..width]),
                }
            }
        }
        channel += LANES;
    }
}

/// For one point: the `TILES` tiles' transformed inputs (`values`, `[tile][input]`) times the
/// kernel's blocks `first..first + B` (`kernel`, `[block][input]` rows of 8), into `products`
/// (`[tile][block][point]`).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn multiply<const B: usize>(
    values: &[f32],
    kernel: &[[f32; LANES]],
    cin: usize,
    blocks: usize,
    first: usize,
    point: usize,
    products: &mut [[f32; LANES]],
    fma: bool,
) {
    let rows: [&[f32]; TILES] = std::array::from_fn(|t| &values[t * cin..(t + 1) * cin]);
    let weights: [&[[f32; LANES]]; B] =
        std::array::from_fn(|b| &kernel[(first + b) * cin..(first + b + 1) * cin]);
    let acc = if fma {
        sums::<B, true>(rows, weights, cin)
    } else {
        sums::<B, false>(rows, weights, cin)
    };
    for (t, sums) in acc.iter().enumerate() {
        for (b, lanes) in sums.iter().enumerate() {
            products[(t * blocks + first + b) * POINTS + point] = *lanes;
        }
    }
}

/// The sums of [`multiply`], with `FMA` fixed at compile time so that the loop holds no branch
/// and stays in vector registers.
#[inline(always)]
fn sums<const B: usize, const FMA: bool>(
    rows: [&[f32]; TILES],
    weights: [&[[f32; LANES]]; B],
    cin: usize,
) -> [[[f32; LANES]; B]; TILES] {
    let mut acc = [[[0.0f32; LANES]; B]; TILES];
    for c in 0..cin {
        for (t, sums) in acc.iter_mut().enumerate() {
            let v = rows[t][c];
            for (b, lanes) in sums.iter_mut().enumerate() {
                let w = &weights[b][c];
                for lane in 0..LANES {
                    lanes[lane] = multiply_add(v, w[lane], lanes[lane], FMA);
                }
            }
        }
    }
    acc
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every clone's path (1, 2 or 4 blocks at a time, with and without FMA) on an even and an
    /// odd side and a channel count that is not a multiple of 8 gives the plain convolution's
    /// outputs.
    #[test]
    fn winograd_equals_the_plain_convolution() {
        for (outputs, inputs, side) in [(40, 32, 14), (32, 12, 7), (8, 8, 5)] {
            let (kernel, bias, input) =
                crate::direct::tests::convolution_case([outputs, inputs, 3, side]);
            let layer =
                crate::direct::Conv::new([outputs, inputs, 3, 3], &kernel, Some(&bias), inputs);
            let Some(conv) = layer.winograd() else {
                panic!("{outputs}×{inputs}: no Winograd form");
            };
            let stored = layer.stored_outputs();
            let want = crate::direct::tests::plain_convolution(
                [outputs, inputs, 3, side],
                &kernel,
                &bias,
                &input,
                stored,
            );
            for group in [1, 2, 4] {
                for fma in [false, true] {
                    let mut got = vec![f32::NAN; side * side * stored];
                    convolve_grouped(conv, &input, side, &mut got, group, fma);
                    for (at, (g, w)) in got.iter().zip(&want).enumerate() {
                        let expected = if at % stored < outputs { *w } else { 0.0 };
                        assert!(
                            (f64::from(*g) - expected).abs() < 2e-5,
                            "{outputs}×{inputs} at side {side}, group {group}, fma {fma}: {g} vs {expected} at {at}"
                        );
                    }
                }
            }
        }
    }
}
