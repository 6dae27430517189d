//! Latent drift: the maximum mean discrepancy (MMD) between the encoder codes of a batch and a
//! reference sample of codes stored in the model file.
//!
//! A batch can reconstruct as well as the reference images and still sit elsewhere in the
//! latent space (a different mix of classes, a style the decoder happens to handle). The loss
//! tests cannot see that; a two-sample test on the codes can.
//!
//! The code of an image is the encoder output (`[32, 7, 7]` = 1,568 values for the default
//! architecture), projected to [`LATENT_DIMS`] dimensions by a fixed Gaussian random matrix
//! (seed [`PROJECTION_SEED`]; Johnson–Lindenstrauss keeps pairwise distances to a few per
//! cent), so the reference sample stays small (500 × 64 floats = 125 KiB) and the kernel is
//! cheap. The kernel is Gaussian with the median heuristic: `k(x, y) = exp(-‖x - y‖² / M)`,
//! `M` the median squared distance of the pooled sample. The statistic is the unbiased MMD²
//! estimate; its p-value comes from permutations of the pooled sample, `(1 + k) / (B + 1)`.

use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use crate::rng::SeededRng;

/// Dimensions of a projected code.
pub const LATENT_DIMS: usize = 64;
/// Seed of the projection matrix. Model files record it; a file made with another is refused.
pub const PROJECTION_SEED: u64 = 0x1A7E_4750_C0DE;
/// Codes kept in a model file as the reference sample.
pub const LATENT_REFERENCE_SIZE: usize = 500;
/// Most batch codes used by the test: larger batches are subsampled (seeded), which keeps a
/// permutation at `O(n²)` with `n ≤ 200` (under 200 ms for the whole test in the browser).
pub const MMD_MAX_BATCH: usize = 200;
/// Permutations of the MMD test.
pub const MMD_PERMUTATIONS: usize = 999;

/// The projection matrix `[code_len, dims]`, entries `N(0, 1) / √dims`, row-major.
pub fn projection_matrix(code_len: usize, dims: usize, seed: u64) -> Vec<f32> {
    let mut rng = SeededRng::new(seed);
    let scale = 1.0 / (dims as f64).sqrt();
    (0..code_len * dims)
        .map(|_| (rng.normal() * scale) as f32)
        .collect()
}

/// [`projection_matrix`] with this build's seed and dimensions, computed once per code length
/// (the scoring loop asks for it every batch).
pub fn default_projection(code_len: usize) -> Arc<Vec<f32>> {
    static CACHE: Mutex<Option<(usize, Arc<Vec<f32>>)>> = Mutex::new(None);
    let mut cache = CACHE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    match &*cache {
        Some((len, matrix)) if *len == code_len => Arc::clone(matrix),
        _ => {
            let matrix = Arc::new(projection_matrix(code_len, LATENT_DIMS, PROJECTION_SEED));
            *cache = Some((code_len, Arc::clone(&matrix)));
            matrix
        }
    }
}

/// What a model file says about its latent reference sample.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LatentSummary {
    /// Seed of the projection the codes were made with.
    pub projection_seed: u64,
    /// Dimensions of each code.
    pub dims: usize,
    /// Codes stored.
    pub count: usize,
    /// What the images were.
    pub dataset: String,
}

/// Projected codes of held-out reference images.
#[derive(Debug, Clone, PartialEq)]
pub struct LatentReference {
    dims: usize,
    codes: Vec<f32>,
}

/// Why a latent reference cannot be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LatentError {
    #[error("a latent reference needs at least two codes of at least one dimension")]
    TooFew,
    #[error("{values} values do not divide into codes of {dims} dimensions")]
    Ragged { values: usize, dims: usize },
    #[error("latent code value #{0} is not finite")]
    NotFinite(usize),
}

impl LatentReference {
    /// Codes of `dims` values each, concatenated.
    pub fn new(dims: usize, codes: Vec<f32>) -> Result<Self, LatentError> {
        if dims == 0 || codes.len() < 2 * dims {
            return Err(LatentError::TooFew);
        }
        if !codes.len().is_multiple_of(dims) {
            return Err(LatentError::Ragged {
                values: codes.len(),
                dims,
            });
        }
        if let Some(index) = codes.iter().position(|v| !v.is_finite()) {
            return Err(LatentError::NotFinite(index));
        }
        Ok(LatentReference { dims, codes })
    }

    /// Take a seeded sample of at most `count` codes from `codes` (`dims` values each).
    pub fn sample(
        dims: usize,
        codes: &[f32],
        count: usize,
        seed: u64,
    ) -> Result<Self, LatentError> {
        if dims == 0 {
            return Err(LatentError::TooFew);
        }
        let mut order: Vec<usize> = (0..codes.len() / dims).collect();
        let chosen = SeededRng::new(seed).choose_front(&mut order, count);
        let values = chosen
            .iter()
            .flat_map(|&i| codes[i * dims..(i + 1) * dims].iter().copied())
            .collect();
        LatentReference::new(dims, values)
    }

    /// Dimensions of each code.
    pub fn dims(&self) -> usize {
        self.dims
    }

    /// Number of codes.
    pub fn len(&self) -> usize {
        self.codes.len() / self.dims
    }

    /// Never true for a constructed reference.
    pub fn is_empty(&self) -> bool {
        self.codes.is_empty()
    }

    /// All codes, concatenated.
    pub fn values(&self) -> &[f32] {
        &self.codes
    }

    /// The header entry describing this sample (made with this build's projection).
    pub fn summary(&self, dataset: impl Into<String>) -> LatentSummary {
        LatentSummary {
            projection_seed: PROJECTION_SEED,
            dims: self.dims,
            count: self.len(),
            dataset: dataset.into(),
        }
    }
}

/// Result of the MMD two-sample test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MmdTest {
    /// Unbiased estimate of MMD² (can be slightly negative when the samples agree).
    pub statistic: f64,
    /// The kernel's scale `M` (median squared distance of the pooled sample).
    pub bandwidth: f64,
    /// Permutation p-value, `(1 + #{permuted ≥ observed}) / (B + 1)`.
    pub p_value: f64,
    /// Permutations used.
    pub permutations: usize,
    /// Reference codes used.
    pub reference_codes: usize,
    /// Batch codes used (at most [`MMD_MAX_BATCH`]).
    pub batch_codes: usize,
    /// Standard deviation of MMD² over the permutations: how much the estimate moves by chance
    /// at these sample sizes (the verdict's size judges MMD² less this margin).
    #[serde(default)]
    pub null_sd: f64,
}

/// The Gaussian kernel matrix of a pooled sample, with its row sums and total.
struct PooledKernel {
    size: usize,
    values: Vec<f32>,
    row_sums: Vec<f64>,
    total: f64,
    bandwidth: f64,
}

impl PooledKernel {
    fn new(rows: &[&[f32]]) -> Self {
        let size = rows.len();
        let mut squared = vec![0f32; size * size];
        for i in 0..size {
            for j in i + 1..size {
                let d: f32 = rows[i]
                    .iter()
                    .zip(rows[j])
                    .map(|(a, b)| (a - b) * (a - b))
                    .sum();
                squared[i * size + j] = d;
                squared[j * size + i] = d;
            }
        }
        let mut upper: Vec<f32> = (0..size)
            .flat_map(|i| squared[i * size + i + 1..(i + 1) * size].iter().copied())
            .collect();
        let bandwidth = if upper.is_empty() {
            1.0
        } else {
            let middle = upper.len() / 2;
            let (_, median, _) = upper.select_nth_unstable_by(middle, f32::total_cmp);
            if *median > 0.0 { *median as f64 } else { 1.0 }
        };
        let values: Vec<f32> = squared
            .iter()
            .map(|d| (-(*d as f64) / bandwidth).exp() as f32)
            .collect();
        let row_sums: Vec<f64> = values
            .chunks_exact(size.max(1))
            .map(|row| row.iter().map(|v| *v as f64).sum())
            .collect();
        let total = row_sums.iter().sum();
        PooledKernel {
            size,
            values,
            row_sums,
            total,
            bandwidth,
        }
    }

    /// Unbiased MMD² between `group` (indices into the pool) and the rest.
    fn mmd2(&self, group: &[usize]) -> f64 {
        let n = group.len() as f64;
        let m = (self.size - group.len()) as f64;
        let mut within = 0.0f64;
        for &i in group {
            let row = &self.values[i * self.size..(i + 1) * self.size];
            within += group.iter().map(|&j| row[j] as f64).sum::<f64>();
        }
        let group_rows: f64 = group.iter().map(|&i| self.row_sums[i]).sum();
        let between = group_rows - within;
        let rest = self.total - within - 2.0 * between;
        // Diagonal entries are exp(0) = 1: the unbiased estimate leaves them out.
        (rest - m) / (m * (m - 1.0)) + (within - n) / (n * (n - 1.0)) - 2.0 * between / (m * n)
    }
}

/// MMD two-sample test of `batch` codes (`reference.dims()` values each) against the
/// reference sample. `None` when either side has fewer than two codes or the batch is ragged.
pub fn mmd_test(
    reference: &LatentReference,
    batch: &[f32],
    permutations: usize,
    rng: &mut SeededRng,
) -> Option<MmdTest> {
    let dims = reference.dims();
    if batch.is_empty() || !batch.len().is_multiple_of(dims) || reference.len() < 2 {
        return None;
    }
    let mut batch_rows: Vec<&[f32]> = batch.chunks_exact(dims).collect();
    if batch_rows.len() > MMD_MAX_BATCH {
        rng.choose_front(&mut batch_rows, MMD_MAX_BATCH);
        batch_rows.truncate(MMD_MAX_BATCH);
    }
    if batch_rows.len() < 2 {
        return None;
    }
    let reference_rows: Vec<&[f32]> = reference.values().chunks_exact(dims).collect();
    let (m, n) = (reference_rows.len(), batch_rows.len());
    let pool: Vec<&[f32]> = reference_rows.into_iter().chain(batch_rows).collect();
    let kernel = PooledKernel::new(&pool);
    // The smaller side is the one summed directly (O(size²) per permutation).
    let group_size = m.min(n);
    let observed_group: Vec<usize> = if n <= m {
        (m..m + n).collect()
    } else {
        (0..m).collect()
    };
    let observed = kernel.mmd2(&observed_group);
    let mut indices: Vec<usize> = (0..m + n).collect();
    let mut at_least = 0usize;
    let (mut sum, mut sum_squares) = (0.0f64, 0.0f64);
    for _ in 0..permutations {
        let group = rng.choose_front(&mut indices, group_size);
        let permuted = kernel.mmd2(group);
        sum += permuted;
        sum_squares += permuted * permuted;
        if permuted >= observed - 1e-12 {
            at_least += 1;
        }
    }
    let count = permutations.max(1) as f64;
    let null_sd = (sum_squares / count - (sum / count).powi(2))
        .max(0.0)
        .sqrt();
    Some(MmdTest {
        statistic: observed,
        bandwidth: kernel.bandwidth,
        p_value: (1 + at_least) as f64 / (permutations + 1) as f64,
        permutations,
        reference_codes: m,
        batch_codes: n,
        null_sd,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gaussian_codes(count: usize, dims: usize, shift: f64, seed: u64) -> Vec<f32> {
        let mut rng = SeededRng::new(seed);
        (0..count * dims)
            .map(|i| (rng.normal() + if i % dims == 0 { shift } else { 0.0 }) as f32)
            .collect()
    }

    fn reference(seed: u64) -> LatentReference {
        LatentReference::new(8, gaussian_codes(200, 8, 0.0, seed)).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn mmd_of_identical_samples_is_about_zero_and_not_significant() {
        let reference = reference(1);
        let mut rng = SeededRng::new(5);
        let t = mmd_test(&reference, reference.values(), 199, &mut rng)
            .unwrap_or_else(|| panic!("no test"));
        // Identical samples put each point's twin on the other side, so the unbiased
        // estimate is slightly negative, of order 2/n: here n = 200.
        assert!(t.statistic.abs() < 2.0 / 200.0, "{}", t.statistic);
        assert!(t.p_value > 0.5, "{}", t.p_value);
        assert_eq!((t.reference_codes, t.batch_codes), (200, 200));
    }

    #[test]
    fn mmd_matches_a_direct_computation() {
        // Two codes against two codes in one dimension, worked by hand:
        // reference {0, 1}, batch {2, 4}. Squared distances: 1, 4, 16, 1, 9, 4 → median of
        // {1, 1, 4, 4, 9, 16} (upper half's first, index 3) = 4.
        let reference = LatentReference::new(1, vec![0.0, 1.0]).unwrap_or_else(|e| panic!("{e}"));
        let mut rng = SeededRng::new(1);
        let t = mmd_test(&reference, &[2.0, 4.0], 10, &mut rng).unwrap_or_else(|| panic!());
        assert_eq!(t.bandwidth, 4.0);
        let k = |d2: f64| (-d2 / 4.0).exp();
        let expected = k(1.0) + k(4.0) - (k(4.0) + k(16.0) + k(1.0) + k(9.0)) / 2.0;
        assert!(
            (t.statistic - expected).abs() < 1e-6,
            "{} vs {expected}",
            t.statistic
        );
    }

    #[test]
    fn mmd_detects_a_shift_and_p_value_is_never_zero() {
        let reference = reference(1);
        let shifted = gaussian_codes(50, 8, 1.5, 9);
        let mut rng = SeededRng::new(5);
        let t = mmd_test(&reference, &shifted, 199, &mut rng).unwrap_or_else(|| panic!());
        assert!(t.statistic > 0.01, "{}", t.statistic);
        assert!((t.p_value - 1.0 / 200.0).abs() < 1e-12, "{}", t.p_value);
    }

    #[test]
    fn mmd_false_alarms_stay_near_alpha() {
        let reference = reference(1);
        let mut rng = SeededRng::new(7);
        let rejections = (0..100)
            .filter(|batch| {
                let clean = gaussian_codes(30, 8, 0.0, 100 + batch);
                mmd_test(&reference, &clean, 99, &mut rng).is_some_and(|t| t.p_value < 0.05)
            })
            .count();
        // Binomial(100, 0.05): 13 or more has probability < 0.001.
        assert!(
            rejections <= 12,
            "{rejections} of 100 clean batches rejected at 5 %"
        );
    }

    #[test]
    fn large_batches_are_subsampled_and_ragged_ones_refused() {
        let reference = reference(1);
        let big = gaussian_codes(MMD_MAX_BATCH + 50, 8, 0.0, 3);
        let mut rng = SeededRng::new(5);
        let t = mmd_test(&reference, &big, 9, &mut rng).unwrap_or_else(|| panic!());
        assert_eq!(t.batch_codes, MMD_MAX_BATCH);
        assert_eq!(mmd_test(&reference, &[1.0; 12], 9, &mut rng), None);
        assert_eq!(mmd_test(&reference, &[1.0; 8], 9, &mut rng), None);
        assert!(matches!(
            LatentReference::new(8, vec![0.0; 20]),
            Err(LatentError::Ragged { .. })
        ));
        assert!(matches!(
            LatentReference::new(1, vec![0.0, f32::NAN]),
            Err(LatentError::NotFinite(1))
        ));
    }

    #[test]
    fn projection_is_seeded_and_scaled() {
        let a = projection_matrix(100, 16, 3);
        assert_eq!(a, projection_matrix(100, 16, 3));
        assert_ne!(a, projection_matrix(100, 16, 4));
        let variance = a.iter().map(|v| (*v as f64).powi(2)).sum::<f64>() / a.len() as f64;
        assert!((variance * 16.0 - 1.0).abs() < 0.1, "{variance}");
        assert!(Arc::ptr_eq(
            &default_projection(40),
            &default_projection(40)
        ));
    }
}
