//! The novelty score: a second per-image score, sharper than the reconstruction loss alone.
//!
//! The loss misses two kinds of drift. A rotated or shifted digit is still a stroke the decoder
//! can draw, so it reconstructs almost as well as a clean one; and simple images (little ink,
//! few edges) reconstruct well whatever they are, complex ones badly, so the loss partly
//! measures complexity instead of novelty (Serrà et al., 2020). The novelty score looks at an
//! image four ways, each turned into an upper-tail probability under the reference:
//!
//! 1. the reconstruction loss (BCE, the reference experiment's score);
//! 2. the loss corrected for the input's complexity: the residual of `ln loss` after a least-
//!    squares fit on `ln ink` and `ln edges` (mean intensity and mean absolute difference of
//!    neighbouring pixels), so an image is judged against images as busy as itself;
//! 3. the density of the encoder's projected code: its squared Mahalanobis distance to the
//!    reference codes (mean and Ledoit–Wolf-shrunk covariance);
//! 4. the image's edge profile (from model format 5): how its neighbouring-pixel differences
//!    are spread from faint to sharp ([`EDGE_BINS`] shares, as logarithms), as a squared
//!    Mahalanobis distance to the reference images' profiles. Resampling (a rotation, a
//!    resize), blur and lossy re-encoding soften edges the network may still redraw well; the
//!    profile sees them.
//!
//! The score is Fisher's `T = −ln p₂ − ln p₃ − ln p₄`, over the views that are nearly
//! independent on clean images, as Fisher's method assumes. From model format 6 the loss itself
//! (1.) stays out of the sum: the residual already holds it, and counting it twice let complex
//! clean images crowd out the other views (the measured correlations and detection are in
//! docs/benchmarks.md). Files of formats 4 and 5 keep the sums they were calibrated with: the
//! first three views, or all four. A reference transformed by an augmentation that changes
//! edges leaves the edge profile out ([`EdgeProfile::for_augmentation`]). Each `pᵢ` is a fixed
//! transform fitted on the *training* images (knots of the empirical survival function, with an
//! exponential tail past its top [`TAIL_SHARE`], so extreme images keep their order instead of
//! all tying at the smallest rank). The loss's transform is still fitted and stored (the file
//! layout keeps three transforms), though a format 6 sum does not use it. The held-out calibration images' `T` values then give the per-image p-value
//! conformally, `(1 + #{T_cal ≥ T}) / (n + 1)`: exactly valid for an image exchangeable with the
//! calibration images, since nothing in `T` was fitted on them.
//!
//! Measured with `driftglass eval` on MNIST (see the README): the per-image AUROC it reaches
//! against the loss alone is printed side by side.

use serde::{Deserialize, Serialize};

use crate::augment::Augmentation;
use crate::baseline::{Baseline, BaselineError};
use crate::loss::LossKind;

/// Share of the fit values past the last knot, where the exponential tail takes over.
pub const TAIL_SHARE: f64 = 0.02;
/// Knots of each transform's survival function.
pub const KNOTS: usize = 256;
/// Fewest fit images accepted (the fewest a reference set of 20 leaves for training at the
/// largest held-out share; the covariance of so few is shrunk almost to a multiple of the
/// identity).
pub const MIN_FIT_IMAGES: usize = 10;
/// Added before taking logarithms of ink and edges (a blank image has neither).
pub const COMPLEXITY_EPSILON: f64 = 1e-3;
/// Smallest loss whose logarithm is taken (a perfect reconstruction has loss 0).
const LOSS_FLOOR: f64 = 1e-12;
/// Ridge added to the complexity fit's normal equations, for images that all look alike.
const RIDGE: f64 = 1e-9;
/// Bins of the edge profile: equal widths from [`EDGE_FLOOR`] to 1 (larger differences go in
/// the last).
pub const EDGE_BINS: usize = 8;
/// Neighbouring-pixel differences at or below this are flat ground, not edges (and stay out of
/// the profile, so a digit's blank surround does not swamp it).
pub const EDGE_FLOOR: f32 = 0.02;
/// Added to each share before its logarithm is taken. Shares are compositional (they sum to
/// one); their logarithms are far closer to Gaussian, which is what a Mahalanobis distance
/// assumes (the measured difference is in docs/benchmarks.md).
pub const EDGE_SHARE_FLOOR: f32 = 0.01;

/// The edge profile as the density sees it: the logarithm of each share.
fn edge_features(complexity: &Complexity) -> [f32; EDGE_BINS] {
    complexity
        .edge_profile
        .map(|share| (share.max(0.0) + EDGE_SHARE_FLOOR).ln())
}

/// How busy an image is: mean intensity and mean absolute difference between neighbouring
/// pixels (horizontal and vertical, every channel); and how sharp its edges are.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Complexity {
    pub ink: f64,
    pub edges: f64,
    /// Of the neighbouring-pixel differences above [`EDGE_FLOOR`], the share in each of
    /// [`EDGE_BINS`] equal bins up to 1 (all zero for an image without edges).
    pub edge_profile: [f32; EDGE_BINS],
}

/// The edge-profile bin of an absolute difference above [`EDGE_FLOOR`].
fn edge_bin(difference: f32) -> usize {
    let t = (difference - EDGE_FLOOR) / (1.0 - EDGE_FLOOR);
    ((t * EDGE_BINS as f32) as usize).min(EDGE_BINS - 1)
}

/// The complexity of a prepared image (`channels · side²` values, channels first).
pub fn complexity(pixels: &[f32], channels: usize, side: usize) -> Complexity {
    let plane = side * side;
    if plane == 0 || channels == 0 || pixels.len() != channels * plane {
        return Complexity {
            ink: 0.0,
            edges: 0.0,
            edge_profile: [0.0; EDGE_BINS],
        };
    }
    let ink = pixels.iter().map(|v| f64::from(*v)).sum::<f64>() / pixels.len() as f64;
    let mut edges = 0.0f64;
    let mut counts = [0u32; EDGE_BINS];
    let mut add = |difference: f32| {
        // NaN pixels fail this test and count as flat.
        if difference > EDGE_FLOOR {
            counts[edge_bin(difference)] += 1;
        }
        f64::from(difference)
    };
    for image in pixels.chunks_exact(plane) {
        for row in image.chunks_exact(side) {
            edges += row
                .windows(2)
                .map(|w| add((w[1] - w[0]).abs()))
                .sum::<f64>();
        }
        for (above, below) in image
            .chunks_exact(side)
            .zip(image.chunks_exact(side).skip(1))
        {
            edges += above
                .iter()
                .zip(below)
                .map(|(a, b)| add((b - a).abs()))
                .sum::<f64>();
        }
    }
    let total = counts.iter().sum::<u32>().max(1) as f32;
    Complexity {
        ink,
        edges: edges / pixels.len() as f64,
        edge_profile: counts.map(|c| c as f32 / total),
    }
}

fn features(c: Complexity) -> [f64; 3] {
    [
        1.0,
        (c.ink.max(0.0) + COMPLEXITY_EPSILON).ln(),
        (c.edges.max(0.0) + COMPLEXITY_EPSILON).ln(),
    ]
}

/// What one image brings to the novelty score.
#[derive(Debug, Clone, Copy)]
pub struct NoveltyInput<'a> {
    /// Reconstruction BCE.
    pub loss: f32,
    /// The projected code (see [`crate::latent`]).
    pub code: &'a [f32],
    pub complexity: Complexity,
}

/// An upper-tail probability fitted on values: knots of the empirical survival function, then
/// an exponential tail.
#[derive(Debug, Clone, PartialEq)]
pub struct TailTransform {
    /// Values at survival levels `1 − i/(K−1) · (1 − TAIL_SHARE)`, ascending.
    knots: Vec<f32>,
    /// Mean excess over the last knot of the values past it (the exponential tail's scale).
    scale: f64,
}

impl TailTransform {
    /// Fit on `values` (at least two finite ones).
    pub fn fit(values: &[f64]) -> Option<TailTransform> {
        let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
        if sorted.len() < 2 {
            return None;
        }
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let quantile = |u: f64| {
            let at = u * (n - 1) as f64;
            let (low, high) = (at.floor() as usize, at.ceil() as usize);
            let t = at - low as f64;
            sorted[low] * (1.0 - t) + sorted[high] * t
        };
        let top = 1.0 - TAIL_SHARE;
        let knots: Vec<f32> = (0..KNOTS)
            .map(|i| quantile(i as f64 / (KNOTS - 1) as f64 * top) as f32)
            .collect();
        let last = f64::from(knots[KNOTS - 1]);
        let excess: Vec<f64> = sorted
            .iter()
            .filter(|v| **v > last)
            .map(|v| v - last)
            .collect();
        // A tail without spread (ties) falls off at once past the last knot.
        let floor = 1e-6 * (last.abs() + 1e-6);
        let scale = if excess.is_empty() {
            floor
        } else {
            (excess.iter().sum::<f64>() / excess.len() as f64).max(floor)
        };
        Some(TailTransform { knots, scale })
    }

    /// Rebuild from stored parts (a model file), checked.
    pub fn from_parts(knots: Vec<f32>, scale: f64) -> Result<TailTransform, String> {
        if knots.len() != KNOTS {
            return Err(format!("{} knots, {KNOTS} expected", knots.len()));
        }
        if knots.iter().any(|v| !v.is_finite()) || knots.windows(2).any(|w| w[1] < w[0]) {
            return Err("knots are not finite and ascending".into());
        }
        if !(scale.is_finite() && scale > 0.0) {
            return Err(format!("tail scale {scale} is not positive"));
        }
        Ok(TailTransform { knots, scale })
    }

    pub fn knots(&self) -> &[f32] {
        &self.knots
    }

    pub fn scale(&self) -> f64 {
        self.scale
    }

    /// `−ln P(X ≥ value)` under the fitted values: 0 at or below the lowest knot, linear in
    /// the survival between knots, linear in `value` past the last (the exponential tail), so
    /// it never saturates.
    pub fn surprise(&self, value: f64) -> f64 {
        if value.is_nan() {
            return f64::INFINITY;
        }
        let last = f64::from(self.knots[KNOTS - 1]);
        if value > last {
            return -TAIL_SHARE.ln() + (value - last) / self.scale;
        }
        let above = self.knots.partition_point(|k| f64::from(*k) <= value);
        if above == 0 {
            return 0.0;
        }
        let step = (1.0 - TAIL_SHARE) / (KNOTS - 1) as f64;
        let i = above - 1;
        let (low, high) = (f64::from(self.knots[i]), f64::from(self.knots[i + 1]));
        let t = if high > low {
            (value - low) / (high - low)
        } else {
            1.0
        };
        let survival = 1.0 - (i as f64 + t) * step;
        -survival.max(TAIL_SHARE).ln()
    }
}

/// Mean and shrunk covariance of reference codes; the squared Mahalanobis distance of a code.
#[derive(Debug, Clone, PartialEq)]
pub struct CodeDensity {
    mean: Vec<f32>,
    /// Lower Cholesky factor of the shrunk covariance, packed by rows (`d(d+1)/2` values).
    cholesky: Vec<f32>,
}

impl CodeDensity {
    /// Fit on `codes` (`dims` values each). Returns the density and the Ledoit–Wolf shrinkage
    /// used (0: the sample covariance, 1: a multiple of the identity).
    pub fn fit(codes: &[f32], dims: usize) -> Option<(CodeDensity, f64)> {
        if dims == 0 || !codes.len().is_multiple_of(dims) || codes.len() / dims < 2 {
            return None;
        }
        let n = codes.len() / dims;
        let mut mean = vec![0.0f64; dims];
        for row in codes.chunks_exact(dims) {
            for (m, v) in mean.iter_mut().zip(row) {
                *m += f64::from(*v);
            }
        }
        mean.iter_mut().for_each(|m| *m /= n as f64);
        let mut covariance = vec![0.0f64; dims * dims];
        let mut centred = vec![0.0f64; dims];
        for row in codes.chunks_exact(dims) {
            for ((c, v), m) in centred.iter_mut().zip(row).zip(&mean) {
                *c = f64::from(*v) - m;
            }
            for i in 0..dims {
                for j in 0..=i {
                    covariance[i * dims + j] += centred[i] * centred[j];
                }
            }
        }
        for i in 0..dims {
            for j in 0..=i {
                covariance[i * dims + j] /= n as f64;
                covariance[j * dims + i] = covariance[i * dims + j];
            }
        }
        // Ledoit–Wolf: shrink towards μ·I by δ = min(b², d²) / d², with d² the distance of
        // the sample covariance from μ·I and b² the mean squared distance of each sample's
        // outer product from it (both in the Frobenius norm).
        let mu = (0..dims).map(|i| covariance[i * dims + i]).sum::<f64>() / dims as f64;
        let distance: f64 = (0..dims * dims)
            .map(|k| {
                let target = if k / dims == k % dims { mu } else { 0.0 };
                (covariance[k] - target).powi(2)
            })
            .sum();
        let mut spread = 0.0f64;
        for row in codes.chunks_exact(dims) {
            for ((c, v), m) in centred.iter_mut().zip(row).zip(&mean) {
                *c = f64::from(*v) - m;
            }
            for i in 0..dims {
                for j in 0..dims {
                    spread += (centred[i] * centred[j] - covariance[i * dims + j]).powi(2);
                }
            }
        }
        spread /= (n as f64) * (n as f64);
        let shrinkage = if distance > 0.0 {
            (spread.min(distance) / distance).clamp(0.0, 1.0)
        } else {
            1.0
        };
        // A floor on the diagonal keeps codes with dead dimensions invertible.
        let floor = (mu * 1e-6).max(1e-12);
        for i in 0..dims {
            for j in 0..dims {
                covariance[i * dims + j] *= 1.0 - shrinkage;
            }
            covariance[i * dims + i] += shrinkage * mu + floor;
        }
        let mut cholesky = vec![0.0f64; dims * (dims + 1) / 2];
        let at = |i: usize, j: usize| i * (i + 1) / 2 + j;
        for i in 0..dims {
            for j in 0..=i {
                let mut sum = covariance[i * dims + j];
                for k in 0..j {
                    sum -= cholesky[at(i, k)] * cholesky[at(j, k)];
                }
                cholesky[at(i, j)] = if i == j {
                    sum.max(floor).sqrt()
                } else {
                    sum / cholesky[at(j, j)]
                };
            }
        }
        let density = CodeDensity {
            mean: mean.iter().map(|v| *v as f32).collect(),
            cholesky: cholesky.iter().map(|v| *v as f32).collect(),
        };
        Some((density, shrinkage))
    }

    /// Rebuild from stored parts (a model file), checked.
    pub fn from_parts(mean: Vec<f32>, cholesky: Vec<f32>) -> Result<CodeDensity, String> {
        let dims = mean.len();
        if cholesky.len() != dims * (dims + 1) / 2 {
            return Err(format!(
                "{} Cholesky values for {dims} dimensions",
                cholesky.len()
            ));
        }
        if mean.iter().chain(&cholesky).any(|v| !v.is_finite()) {
            return Err("the code density holds a value that is not finite".into());
        }
        if (0..dims).any(|i| cholesky[i * (i + 1) / 2 + i] <= 0.0) {
            return Err("the code density's Cholesky factor is singular".into());
        }
        Ok(CodeDensity { mean, cholesky })
    }

    pub fn dims(&self) -> usize {
        self.mean.len()
    }

    pub fn mean(&self) -> &[f32] {
        &self.mean
    }

    pub fn cholesky(&self) -> &[f32] {
        &self.cholesky
    }

    /// Squared Mahalanobis distance of `code` (NaN when its length is wrong).
    pub fn distance(&self, code: &[f32]) -> f64 {
        let dims = self.dims();
        if code.len() != dims {
            return f64::NAN;
        }
        let mut z = vec![0.0f64; dims];
        let mut total = 0.0;
        for i in 0..dims {
            let row = &self.cholesky[i * (i + 1) / 2..i * (i + 1) / 2 + i + 1];
            let mut sum = f64::from(code[i]) - f64::from(self.mean[i]);
            for (l, zk) in row[..i].iter().zip(&z) {
                sum -= f64::from(*l) * zk;
            }
            z[i] = sum / f64::from(row[i]);
            total += z[i] * z[i];
        }
        total
    }
}

/// What a model file says about its novelty score (the arrays follow in the binary section).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NoveltySummary {
    /// `ln loss ≈ c₀ + c₁ ln(ink + ε) + c₂ ln(edges + ε)` on the fit images.
    pub complexity: [f64; 3],
    /// Exponential tail scales of the loss, residual and distance transforms.
    pub tail_scales: [f64; 3],
    /// Dimensions of the codes.
    pub dims: usize,
    /// Ledoit–Wolf shrinkage of the code covariance.
    pub shrinkage: f64,
    /// Images the transforms, complexity fit and code density were fitted on.
    pub fit_images: usize,
    /// What those images were.
    pub fitted_on: String,
    /// Calibration images (their sorted scores are stored).
    pub calibration_images: usize,
    /// The edge-profile term (absent in files before format 5, whose score has three terms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edge_profile: Option<EdgeSummary>,
    /// Whether the loss's own surprise is in the sum (absent, so true, before format 6).
    #[serde(default = "loss_term_before_format_6")]
    pub loss_term: bool,
}

fn loss_term_before_format_6() -> bool {
    true
}

/// What a model file says about the edge-profile term.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EdgeSummary {
    /// Bins of the profile ([`EDGE_BINS`]).
    pub bins: usize,
    /// Exponential tail scale of the distance transform.
    pub tail_scale: f64,
    /// Ledoit–Wolf shrinkage of the profiles' covariance.
    pub shrinkage: f64,
}

/// The edge-profile term: the reference images' profiles as a density, and the tail transform
/// of their squared Mahalanobis distances.
#[derive(Debug, Clone, PartialEq)]
pub struct EdgeTerm {
    density: CodeDensity,
    shrinkage: f64,
    transform: TailTransform,
}

impl EdgeTerm {
    fn fit(complexities: &[Complexity]) -> Option<EdgeTerm> {
        let profiles: Vec<f32> = complexities.iter().flat_map(edge_features).collect();
        let (density, shrinkage) = CodeDensity::fit(&profiles, EDGE_BINS)?;
        let distances: Vec<f64> = profiles
            .chunks_exact(EDGE_BINS)
            .map(|p| density.distance(p))
            .collect();
        let transform = TailTransform::fit(&distances)?;
        Some(EdgeTerm {
            density,
            shrinkage,
            transform,
        })
    }

    /// Rebuild from stored parts (a model file), checked.
    pub fn from_parts(
        summary: &EdgeSummary,
        knots: Vec<f32>,
        mean: Vec<f32>,
        cholesky: Vec<f32>,
    ) -> Result<EdgeTerm, String> {
        if summary.bins != EDGE_BINS || mean.len() != EDGE_BINS {
            return Err(format!(
                "an edge profile of {} bins ({} stored), this build's has {EDGE_BINS}",
                summary.bins,
                mean.len()
            ));
        }
        Ok(EdgeTerm {
            density: CodeDensity::from_parts(mean, cholesky)?,
            shrinkage: summary.shrinkage,
            transform: TailTransform::from_parts(knots, summary.tail_scale)?,
        })
    }

    fn surprise(&self, complexity: &Complexity) -> f64 {
        self.transform
            .surprise(self.density.distance(&edge_features(complexity)))
    }

    pub fn density(&self) -> &CodeDensity {
        &self.density
    }

    pub fn transform(&self) -> &TailTransform {
        &self.transform
    }

    pub fn summary(&self) -> EdgeSummary {
        EdgeSummary {
            bins: EDGE_BINS,
            tail_scale: self.transform.scale,
            shrinkage: self.shrinkage,
        }
    }
}

/// Why a novelty reference cannot be built or read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum NoveltyError {
    #[error("{found} fit images; the novelty score needs at least {MIN_FIT_IMAGES}")]
    TooFewFitImages { found: usize },
    #[error("codes have {found} values, {expected} expected")]
    CodeLength { found: usize, expected: usize },
    #[error("the novelty fit failed: {0}")]
    Fit(String),
    #[error(transparent)]
    Calibration(#[from] BaselineError),
}

/// The fitted score and the calibration images' sorted scores.
#[derive(Debug, Clone, PartialEq)]
pub struct NoveltyReference {
    fit: NoveltyFit,
    /// The calibration images' scores, as a baseline (sorted, with its conformal p-values).
    calibration: Baseline,
}

/// Whether a fit has the edge-profile term.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EdgeProfile {
    Included,
    /// For references transformed by an augmentation that changes edges (see
    /// [`EdgeProfile::for_augmentation`]).
    LeftOut,
}

impl EdgeProfile {
    /// The term for a reference transformed by `augment`. Nearly every image of a rotated,
    /// rescaled, brightened or noised reference has edges the augmentation made; untouched
    /// images, which the user said are not drift either, would then be novel by their edges
    /// alone (measured in docs/benchmarks.md), so such references leave the term out.
    pub fn for_augmentation(augment: &Augmentation) -> EdgeProfile {
        if augment.keeps_edges() {
            EdgeProfile::Included
        } else {
            EdgeProfile::LeftOut
        }
    }
}

/// The fitted part of a novelty reference, before calibration.
#[derive(Debug, Clone, PartialEq)]
pub struct NoveltyFit {
    complexity: [f64; 3],
    transforms: [TailTransform; 3],
    density: CodeDensity,
    shrinkage: f64,
    fit_images: usize,
    fitted_on: String,
    /// Absent in fits read from files before format 5.
    edges: Option<EdgeTerm>,
    /// Whether the loss's own surprise is in the sum (in fits read from files before format 6).
    loss_term: bool,
}

fn residual(coefficients: &[f64; 3], loss: f32, complexity: Complexity) -> f64 {
    let x = features(complexity);
    f64::from(loss).max(LOSS_FLOOR).ln()
        - coefficients.iter().zip(x).map(|(c, x)| c * x).sum::<f64>()
}

/// Least squares `ln loss ~ features`, solved by Gaussian elimination on the 3×3 normal
/// equations (with a tiny ridge).
fn fit_complexity(losses: &[f32], complexities: &[Complexity]) -> [f64; 3] {
    let mut a = [[0.0f64; 3]; 3];
    let mut b = [0.0f64; 3];
    for (loss, c) in losses.iter().zip(complexities) {
        let x = features(*c);
        let y = f64::from(*loss).max(LOSS_FLOOR).ln();
        for i in 0..3 {
            b[i] += x[i] * y;
            for j in 0..3 {
                a[i][j] += x[i] * x[j];
            }
        }
    }
    for (i, row) in a.iter_mut().enumerate() {
        row[i] += RIDGE * losses.len().max(1) as f64;
    }
    for col in 0..3 {
        let pivot = (col..3)
            .max_by(|x, y| a[*x][col].abs().total_cmp(&a[*y][col].abs()))
            .unwrap_or(col);
        a.swap(col, pivot);
        b.swap(col, pivot);
        if a[col][col].abs() < 1e-300 {
            return [0.0; 3];
        }
        let pivot_row = a[col];
        for row in col + 1..3 {
            let f = a[row][col] / pivot_row[col];
            for (x, p) in a[row][col..].iter_mut().zip(&pivot_row[col..]) {
                *x -= f * p;
            }
            b[row] -= f * b[col];
        }
    }
    let mut x = [0.0f64; 3];
    for row in (0..3).rev() {
        let rest: f64 = (row + 1..3).map(|k| a[row][k] * x[k]).sum();
        x[row] = (b[row] - rest) / a[row][row];
    }
    if x.iter().all(|v| v.is_finite()) {
        x
    } else {
        [0.0; 3]
    }
}

impl NoveltyFit {
    /// Fit on images the network was trained on (or any clean reference images that are not
    /// the calibration images): `losses`, `codes` (`dims` each) and `complexities`, one per
    /// image.
    pub fn fit(
        losses: &[f32],
        codes: &[f32],
        dims: usize,
        complexities: &[Complexity],
        fitted_on: impl Into<String>,
        edge_profile: EdgeProfile,
    ) -> Result<NoveltyFit, NoveltyError> {
        let n = losses.len();
        if n < MIN_FIT_IMAGES {
            return Err(NoveltyError::TooFewFitImages { found: n });
        }
        if codes.len() != n * dims || complexities.len() != n {
            return Err(NoveltyError::CodeLength {
                found: codes.len(),
                expected: n * dims,
            });
        }
        let complexity = fit_complexity(losses, complexities);
        let (density, shrinkage) = CodeDensity::fit(codes, dims)
            .ok_or_else(|| NoveltyError::Fit("the code covariance".into()))?;
        let residuals: Vec<f64> = losses
            .iter()
            .zip(complexities)
            .map(|(l, c)| residual(&complexity, *l, *c))
            .collect();
        let distances: Vec<f64> = codes
            .chunks_exact(dims)
            .map(|c| density.distance(c))
            .collect();
        let losses: Vec<f64> = losses.iter().map(|v| f64::from(*v)).collect();
        let edges = match edge_profile {
            EdgeProfile::Included => Some(
                EdgeTerm::fit(complexities)
                    .ok_or_else(|| NoveltyError::Fit("the edge profiles".into()))?,
            ),
            EdgeProfile::LeftOut => None,
        };
        let fit = |values: &[f64], what: &str| {
            TailTransform::fit(values).ok_or_else(|| NoveltyError::Fit(what.to_string()))
        };
        Ok(NoveltyFit {
            complexity,
            transforms: [
                fit(&losses, "the loss transform")?,
                fit(&residuals, "the residual transform")?,
                fit(&distances, "the distance transform")?,
            ],
            density,
            shrinkage,
            fit_images: n,
            fitted_on: fitted_on.into(),
            edges,
            loss_term: false,
        })
    }

    /// The novelty score `T` of one image (see the module's documentation).
    pub fn score(&self, input: NoveltyInput<'_>) -> f64 {
        let [loss, residual_t, distance_t] = &self.transforms;
        let loss_surprise = if self.loss_term {
            loss.surprise(f64::from(input.loss))
        } else {
            0.0
        };
        let t = loss_surprise
            + residual_t.surprise(residual(&self.complexity, input.loss, input.complexity))
            + distance_t.surprise(self.density.distance(input.code))
            + self
                .edges
                .as_ref()
                .map_or(0.0, |e| e.surprise(&input.complexity));
        if t.is_nan() { f64::INFINITY } else { t }
    }

    /// Calibrate with the calibration images' scores already computed (see [`Self::score`]).
    pub fn with_scores(self, scores: Vec<f32>) -> Result<NoveltyReference, NoveltyError> {
        let calibration = Baseline::new(LossKind::Bce, "novelty scores", scores)?;
        Ok(NoveltyReference {
            fit: self,
            calibration,
        })
    }
}

impl NoveltyReference {
    /// The fitted part, to calibrate again on other images (`driftglass calibrate`).
    pub fn fit(&self) -> &NoveltyFit {
        &self.fit
    }

    /// The novelty score `T` of one image.
    pub fn score(&self, input: NoveltyInput<'_>) -> f64 {
        self.fit.score(input)
    }

    /// The calibration images' scores, as a baseline: its `p_value` is the conformal p-value
    /// of a score, its `is_flagged` and `flag_probability` those of the flagged-share test.
    pub fn calibration(&self) -> &Baseline {
        &self.calibration
    }

    pub fn density(&self) -> &CodeDensity {
        &self.fit.density
    }

    pub fn transforms(&self) -> &[TailTransform; 3] {
        &self.fit.transforms
    }

    /// The edge-profile term, where the score has one.
    pub fn edges(&self) -> Option<&EdgeTerm> {
        self.fit.edges.as_ref()
    }

    pub fn summary(&self) -> NoveltySummary {
        let fit = &self.fit;
        NoveltySummary {
            complexity: fit.complexity,
            tail_scales: fit.transforms.clone().map(|t| t.scale),
            dims: fit.density.dims(),
            shrinkage: fit.shrinkage,
            fit_images: fit.fit_images,
            fitted_on: fit.fitted_on.clone(),
            calibration_images: self.calibration.len(),
            edge_profile: fit.edges.as_ref().map(EdgeTerm::summary),
            loss_term: fit.loss_term,
        }
    }

    /// Rebuild from a model file's header summary and arrays, checked.
    pub fn from_parts(
        summary: &NoveltySummary,
        knots: [Vec<f32>; 3],
        mean: Vec<f32>,
        cholesky: Vec<f32>,
        calibration: Vec<f32>,
        edges: Option<EdgeTerm>,
    ) -> Result<NoveltyReference, String> {
        if summary.edge_profile != edges.as_ref().map(EdgeTerm::summary) {
            return Err("the header's edge-profile summary is not the stored term's".into());
        }
        if mean.len() != summary.dims {
            return Err(format!(
                "the header declares {} code dimensions, the density has {}",
                summary.dims,
                mean.len()
            ));
        }
        if summary.complexity.iter().any(|c| !c.is_finite()) {
            return Err("the complexity fit is not finite".into());
        }
        let [k0, k1, k2] = knots;
        let transforms = [
            TailTransform::from_parts(k0, summary.tail_scales[0])?,
            TailTransform::from_parts(k1, summary.tail_scales[1])?,
            TailTransform::from_parts(k2, summary.tail_scales[2])?,
        ];
        let density = CodeDensity::from_parts(mean, cholesky)?;
        if calibration.len() != summary.calibration_images {
            return Err(format!(
                "the header declares {} calibration scores, the file holds {}",
                summary.calibration_images,
                calibration.len()
            ));
        }
        if calibration.windows(2).any(|w| w[1] < w[0]) {
            return Err("the calibration scores are not sorted".into());
        }
        let calibration = Baseline::new(LossKind::Bce, "novelty scores", calibration)
            .map_err(|e| e.to_string())?;
        Ok(NoveltyReference {
            fit: NoveltyFit {
                complexity: summary.complexity,
                transforms,
                density,
                shrinkage: summary.shrinkage,
                fit_images: summary.fit_images,
                fitted_on: summary.fitted_on.clone(),
                edges,
                loss_term: summary.loss_term,
            },
            calibration,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SeededRng;

    #[test]
    fn complexity_by_hand() {
        // 2×2, one channel: [0 1; 1 0] has ink 0.5, four unit differences over four pixels.
        let c = complexity(&[0.0, 1.0, 1.0, 0.0], 1, 2);
        assert_eq!((c.ink, c.edges), (0.5, 1.0));
        // Four differences of 1: all in the sharpest bin.
        assert_eq!(c.edge_profile, [0., 0., 0., 0., 0., 0., 0., 1.]);
        let blank = complexity(&[0.0; 8], 2, 2);
        assert_eq!((blank.ink, blank.edges), (0.0, 0.0));
        assert_eq!(blank.edge_profile, [0.0; EDGE_BINS]);
        // A wrong length gives zeros, not a panic.
        assert_eq!(complexity(&[1.0; 3], 1, 2).ink, 0.0);
        // [0 0.01; 0.31 0.91]: differences 0.01 (flat ground, left out), 0.6, 0.31 and 0.9:
        // bins 4, 2 and 7 of 8 between 0.02 and 1.
        let ramp = complexity(&[0.0, 0.01, 0.31, 0.91], 1, 2);
        let third = 1.0 / 3.0;
        assert_eq!(ramp.edge_profile, [0., 0., third, 0., third, 0., 0., third]);
    }

    #[test]
    fn edge_bins_cover_the_range() {
        assert_eq!(edge_bin(0.021), 0);
        assert_eq!(edge_bin(0.999), EDGE_BINS - 1);
        assert_eq!(edge_bin(1.0), EDGE_BINS - 1);
        assert_eq!(edge_bin(7.0), EDGE_BINS - 1);
    }

    #[test]
    fn tail_transform_is_monotone_and_unbounded() {
        let mut rng = SeededRng::new(3);
        let values: Vec<f64> = (0..5000).map(|_| rng.normal()).collect();
        let t = TailTransform::fit(&values).unwrap_or_else(|| panic!());
        let mut last = -1.0;
        for i in -400..800 {
            let s = t.surprise(i as f64 / 100.0);
            assert!(s >= last - 1e-12, "not monotone at {i}: {s} < {last}");
            last = s;
        }
        assert_eq!(t.surprise(-10.0), 0.0);
        // Near the median, about ln 2; past the knots it keeps growing.
        assert!(
            (t.surprise(0.0) - 2f64.ln()).abs() < 0.05,
            "{}",
            t.surprise(0.0)
        );
        assert!(t.surprise(20.0) > 40.0);
        // The empirical survival at the 99th percentile: about −ln 0.01.
        assert!((t.surprise(2.326) - 100f64.ln()).abs() < 0.3);
    }

    #[test]
    fn mahalanobis_of_a_known_gaussian() {
        // Independent coordinates with sd 1, 2, 3: the distance of (1, 2, 3) is about 3.
        let mut rng = SeededRng::new(9);
        let codes: Vec<f32> = (0..20_000)
            .flat_map(|_| [rng.normal(), 2.0 * rng.normal(), 3.0 * rng.normal()])
            .map(|v| v as f32)
            .collect();
        let (density, shrinkage) = CodeDensity::fit(&codes, 3).unwrap_or_else(|| panic!());
        assert!(shrinkage < 0.05, "{shrinkage}");
        let d = density.distance(&[1.0, 2.0, 3.0]);
        assert!((d - 3.0).abs() < 0.3, "{d}");
        assert!(density.distance(&[0.0, 0.0, 0.0]) < 0.01);
        assert!(density.distance(&[1.0, 2.0]).is_nan());
    }

    #[test]
    fn complexity_fit_recovers_a_power_law() {
        // loss = 0.2 · edges^1.5 / ink^0.5 exactly.
        let mut rng = SeededRng::new(4);
        let complexities: Vec<Complexity> = (0..200)
            .map(|_| Complexity {
                ink: 0.05 + 0.5 * rng.uniform(),
                edges: 0.05 + 0.5 * rng.uniform(),
                edge_profile: [0.0; EDGE_BINS],
            })
            .collect();
        let losses: Vec<f32> = complexities
            .iter()
            .map(|c| {
                (0.2 * (c.edges + COMPLEXITY_EPSILON).powf(1.5)
                    / (c.ink + COMPLEXITY_EPSILON).sqrt()) as f32
            })
            .collect();
        let c = fit_complexity(&losses, &complexities);
        assert!((c[0] - 0.2f64.ln()).abs() < 1e-3, "{c:?}");
        assert!((c[1] + 0.5).abs() < 1e-3, "{c:?}");
        assert!((c[2] - 1.5).abs() < 1e-3, "{c:?}");
    }

    /// An edge profile: shares drawn around a fixed shape, moved towards the faint bins by
    /// `soften`.
    fn profile(rng: &mut SeededRng, soften: f64) -> [f32; EDGE_BINS] {
        let mut p: [f64; EDGE_BINS] = std::array::from_fn(|i| {
            let sharp = 1.0 + i as f64;
            let faint = (EDGE_BINS - i) as f64;
            ((1.0 - soften) * sharp + soften * faint) * (1.0 + 0.1 * rng.normal()).max(0.01)
        });
        let total: f64 = p.iter().sum();
        p.iter_mut().for_each(|v| *v /= total);
        p.map(|v| v as f32)
    }

    fn gaussian_inputs(
        rng: &mut SeededRng,
        count: usize,
        shift: f64,
    ) -> Vec<(f32, Vec<f32>, Complexity)> {
        softened_inputs(rng, count, shift, 0.0)
    }

    fn softened_inputs(
        rng: &mut SeededRng,
        count: usize,
        shift: f64,
        soften: f64,
    ) -> Vec<(f32, Vec<f32>, Complexity)> {
        (0..count)
            .map(|_| {
                let code: Vec<f32> = (0..4).map(|_| (rng.normal() + shift) as f32).collect();
                let c = Complexity {
                    ink: 0.1 + 0.2 * rng.uniform(),
                    edges: 0.1 + 0.2 * rng.uniform(),
                    edge_profile: profile(rng, soften),
                };
                let loss = (c.edges * (0.3 * rng.normal()).exp()) as f32;
                (loss, code, c)
            })
            .collect()
    }

    fn fit_on(inputs: &[(f32, Vec<f32>, Complexity)]) -> NoveltyFit {
        fit_with(inputs, EdgeProfile::Included)
    }

    fn fit_with(inputs: &[(f32, Vec<f32>, Complexity)], edges: EdgeProfile) -> NoveltyFit {
        let losses: Vec<f32> = inputs.iter().map(|i| i.0).collect();
        let codes: Vec<f32> = inputs.iter().flat_map(|i| i.1.clone()).collect();
        let complexities: Vec<Complexity> = inputs.iter().map(|i| i.2).collect();
        NoveltyFit::fit(&losses, &codes, 4, &complexities, "test", edges)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    fn scores(fit: &NoveltyFit, inputs: &[(f32, Vec<f32>, Complexity)]) -> Vec<f32> {
        inputs
            .iter()
            .map(|(loss, code, complexity)| {
                fit.score(NoveltyInput {
                    loss: *loss,
                    code,
                    complexity: *complexity,
                }) as f32
            })
            .collect()
    }

    #[test]
    fn conformal_p_values_hold_their_rate_and_shifted_codes_are_found() {
        let mut rng = SeededRng::new(21);
        let fit = fit_on(&gaussian_inputs(&mut rng, 2000, 0.0));
        // 10,000 calibration scores: a baseline's own flag rate varies around 1 % with an sd
        // of about 0.1 % (Beta(100, 9,901)), so 0.7–1.3 % is three of them.
        let calibration = scores(&fit, &gaussian_inputs(&mut rng, 10_000, 0.0));
        let reference = fit
            .clone()
            .with_scores(calibration)
            .unwrap_or_else(|e| panic!("{e}"));
        let clean = scores(&fit, &gaussian_inputs(&mut rng, 20_000, 0.0));
        let flagged = clean
            .iter()
            .filter(|t| reference.calibration().is_flagged(**t, 0.01))
            .count();
        let rate = flagged as f64 / clean.len() as f64;
        assert!((0.007..=0.013).contains(&rate), "false flag rate {rate}");
        let shifted = scores(&fit, &gaussian_inputs(&mut rng, 2000, 3.0));
        let auroc = crate::auroc(&clean, &shifted).unwrap_or_else(|| panic!());
        assert!(auroc > 0.95, "{auroc}");
        // Softer edges, with the same losses and codes: the edge-profile term finds them.
        let softened = scores(&fit, &softened_inputs(&mut rng, 2000, 0.0, 0.3));
        let auroc = crate::auroc(&clean, &softened).unwrap_or_else(|| panic!());
        assert!(auroc > 0.95, "{auroc}");
    }

    #[test]
    fn a_fit_without_the_edge_term_scores_as_three_terms() {
        let mut rng = SeededRng::new(8);
        let inputs = gaussian_inputs(&mut rng, 500, 0.0);
        let fit = fit_on(&inputs);
        let three = fit_with(&inputs, EdgeProfile::LeftOut);
        assert!(three.edges.is_none());
        for (loss, code, complexity) in gaussian_inputs(&mut rng, 20, 0.0) {
            let input = NoveltyInput {
                loss,
                code: &code,
                complexity,
            };
            let edge = fit
                .edges
                .as_ref()
                .map_or(f64::NAN, |e| e.surprise(&complexity));
            assert!(edge >= 0.0, "{edge}");
            assert!((fit.score(input) - three.score(input) - edge).abs() < 1e-9);
        }
    }

    #[test]
    fn the_loss_is_in_the_sum_only_for_fits_of_old_files() {
        let mut rng = SeededRng::new(9);
        let fit = fit_on(&gaussian_inputs(&mut rng, 500, 0.0));
        assert!(!fit.loss_term);
        let mut old = fit.clone();
        old.loss_term = true;
        for (loss, code, complexity) in gaussian_inputs(&mut rng, 20, 0.0) {
            let input = NoveltyInput {
                loss,
                code: &code,
                complexity,
            };
            let own = fit.transforms[0].surprise(f64::from(loss));
            assert!((old.score(input) - fit.score(input) - own).abs() < 1e-9);
        }
        // A higher loss alone, at the same complexity, raises only the residual's term.
        let (loss, code, complexity) = gaussian_inputs(&mut rng, 1, 0.0).remove(0);
        let at = |loss: f32| {
            fit.score(NoveltyInput {
                loss,
                code: &code,
                complexity,
            })
        };
        let residual_t = &fit.transforms[1];
        let expected = residual_t.surprise(residual(&fit.complexity, 4.0 * loss, complexity))
            - residual_t.surprise(residual(&fit.complexity, loss, complexity));
        assert!((at(4.0 * loss) - at(loss) - expected).abs() < 1e-9);
    }

    #[test]
    fn parts_round_trip_and_bad_parts_are_refused() {
        let mut rng = SeededRng::new(5);
        let fit = fit_on(&gaussian_inputs(&mut rng, 500, 0.0));
        let reference = fit
            .clone()
            .with_scores(scores(&fit, &gaussian_inputs(&mut rng, 100, 0.0)))
            .unwrap_or_else(|e| panic!("{e}"));
        let summary = reference.summary();
        let knots = || reference.transforms().clone().map(|t| t.knots().to_vec());
        let edges = || reference.edges().cloned();
        let rebuilt = NoveltyReference::from_parts(
            &summary,
            knots(),
            reference.density().mean().to_vec(),
            reference.density().cholesky().to_vec(),
            reference.calibration().sorted().to_vec(),
            edges(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(rebuilt, reference);
        // Without the edge term the header's summary disagrees; a profile of other bins is
        // refused.
        assert!(
            NoveltyReference::from_parts(
                &summary,
                knots(),
                reference.density().mean().to_vec(),
                reference.density().cholesky().to_vec(),
                reference.calibration().sorted().to_vec(),
                None,
            )
            .is_err()
        );
        let term = reference.edges().unwrap_or_else(|| panic!("an edge term"));
        let mut other = term.summary();
        other.bins = EDGE_BINS + 1;
        assert!(
            EdgeTerm::from_parts(
                &other,
                term.transform().knots().to_vec(),
                term.density().mean().to_vec(),
                term.density().cholesky().to_vec(),
            )
            .is_err()
        );
        let mut unsorted = reference.calibration().sorted().to_vec();
        unsorted.reverse();
        let refused = [
            NoveltyReference::from_parts(
                &summary,
                knots(),
                reference.density().mean()[..3].to_vec(),
                reference.density().cholesky().to_vec(),
                reference.calibration().sorted().to_vec(),
                edges(),
            ),
            NoveltyReference::from_parts(
                &summary,
                knots(),
                reference.density().mean().to_vec(),
                vec![0.0; 10],
                reference.calibration().sorted().to_vec(),
                edges(),
            ),
            NoveltyReference::from_parts(
                &summary,
                knots(),
                reference.density().mean().to_vec(),
                reference.density().cholesky().to_vec(),
                unsorted,
                edges(),
            ),
            NoveltyReference::from_parts(
                &summary,
                [
                    vec![f32::NAN; KNOTS],
                    knots()[1].clone(),
                    knots()[2].clone(),
                ],
                reference.density().mean().to_vec(),
                reference.density().cholesky().to_vec(),
                reference.calibration().sorted().to_vec(),
                edges(),
            ),
        ];
        for result in refused {
            assert!(result.is_err());
        }
    }
}
