//! Statistics of a batch against the baseline, shared by the CLI and the web app. Pure Rust:
//! no burn types, no DOM.

use serde::{Deserialize, Serialize};

use crate::baseline::Baseline;

/// A batch's losses and the baseline's on shared bins, as shares of each (so a batch of 10 and a
/// baseline of 10,000 compare), with the flag threshold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LossHistogram {
    /// `bins + 1` bin edges, ascending. Losses beyond the last edge are counted in the last bin.
    pub edges: Vec<f64>,
    /// Share of baseline losses per bin (sums to 1).
    pub baseline: Vec<f64>,
    /// Share of batch losses per bin (sums to 1).
    pub batch: Vec<f64>,
    /// Batch images per bin.
    pub batch_counts: Vec<usize>,
    /// Loss above which an image is flagged, if any can be.
    pub flag_threshold: Option<f64>,
}

/// Histogram of `batch` losses over the baseline's, on `bins` equal bins from the smallest loss
/// to the larger of the baseline's 99.9th percentile and the batch's 98th percentile (so one
/// outlier does not squash the rest); `None` for an empty batch or `bins == 0`.
pub fn loss_histogram(
    baseline: &Baseline,
    batch: &[f32],
    flag_rate: f64,
    bins: usize,
) -> Option<LossHistogram> {
    let mut sorted_batch: Vec<f32> = batch.iter().copied().filter(|v| v.is_finite()).collect();
    sorted_batch.sort_by(f32::total_cmp);
    loss_histogram_of_sorted(baseline, &sorted_batch, flag_rate, bins)
}

/// [`loss_histogram`] of a batch whose finite losses are already sorted ascending: counted by
/// bisection at each edge, so it costs O(bins · log n) whatever the batch's size (the scorer
/// keeps its losses sorted and draws the histogram after every chunk).
pub fn loss_histogram_of_sorted(
    baseline: &Baseline,
    sorted_batch: &[f32],
    flag_rate: f64,
    bins: usize,
) -> Option<LossHistogram> {
    if sorted_batch.is_empty() || bins == 0 || baseline.is_empty() {
        return None;
    }
    let batch_q98 = sorted_batch[((sorted_batch.len() - 1) as f64 * 0.98).round() as usize];
    let low = (baseline.sorted()[0].min(sorted_batch[0]) as f64).max(0.0);
    let mut high = baseline.quantile(0.999).max(batch_q98 as f64);
    if high <= low {
        high = low + 1e-6;
    }
    let width = (high - low) / bins as f64;
    let edges: Vec<f64> = (0..=bins).map(|i| low + width * i as f64).collect();
    // Monotonic in the loss, so on sorted values each bin is one contiguous run.
    let bin_of = |v: f32| (((v as f64 - low) / width).floor().max(0.0) as usize).min(bins - 1);
    let count = |sorted: &[f32]| {
        let mut counts = Vec::with_capacity(bins);
        let mut start = 0;
        for bin in 0..bins {
            let end = start + sorted[start..].partition_point(|v| bin_of(*v) <= bin);
            counts.push(end - start);
            start = end;
        }
        counts
    };
    let shares = |counts: &[usize], total: usize| {
        counts
            .iter()
            .map(|c| *c as f64 / total as f64)
            .collect::<Vec<_>>()
    };
    let baseline_counts = count(baseline.sorted());
    let batch_counts = count(sorted_batch);
    Some(LossHistogram {
        edges,
        baseline: shares(&baseline_counts, baseline.len()),
        batch: shares(&batch_counts, sorted_batch.len()),
        batch_counts,
        flag_threshold: baseline.flag_threshold(flag_rate).map(f64::from),
    })
}

// ---------------------------------------------------------------------------------------------
// Batch tests: is this batch's loss distribution the baseline's?
// ---------------------------------------------------------------------------------------------

/// Largest batch [`min_batch`] looks at: beyond it the tests reach any level.
const MIN_BATCH_SEARCH: usize = 10_000;
/// Significance level of the batch verdict (after Bonferroni over the three tests).
pub const DEFAULT_ALPHA: f64 = 0.01;
/// Permutations of the permutation test.
pub const PERMUTATIONS: usize = 1999;
/// Bootstrap resamples of the ratio's confidence interval.
pub const BOOTSTRAP: usize = 1000;
/// Seed of the randomised statistics: the same batch gives the same numbers in the CLI and
/// in the browser.
pub const STATS_SEED: u64 = 0x00D1_F7C1_A55E;
/// Above this `n · m`, the KS p-value is asymptotic instead of exact.
pub const KS_EXACT_MAX_CELLS: usize = 20_000_000;

/// How a KS p-value was computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KsMethod {
    /// Exact distribution of the two-sample statistic (no ties in the pooled sample).
    Exact,
    /// The exact no-ties distribution where the pooled sample has ties (blank or duplicated
    /// images): then a conservative p-value, never smaller than the true one.
    ExactConservative,
    /// Kolmogorov's limiting distribution with Stephens' small-sample correction.
    Asymptotic,
}

/// Two-sample Kolmogorov–Smirnov test.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct KsTest {
    /// Largest gap between the two empirical CDFs; one-sided, the largest by which the
    /// baseline's lies above the batch's (the batch's losses larger).
    pub statistic: f64,
    /// Two-sided p-value, or one-sided where `one_sided`.
    pub p_value: f64,
    pub method: KsMethod,
    /// Whether the test asked only "are the batch's losses larger?" (see [`Alternative`]).
    #[serde(default)]
    pub one_sided: bool,
}

/// What the batch tests ask of a batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Alternative {
    /// "Is the batch different from the reference?": every test decides, two-sided where it
    /// can be. For a reference of images as they come.
    #[default]
    Different,
    /// "Is the batch worse than the reference?": for a reference calibrated on images
    /// transformed at random (augmentation). A batch transformed one way within those ranges
    /// is a part of that reference, which tests of the whole distribution call different (a
    /// batch of middling noise lacks the reference's noiseless images); so only a higher mean
    /// loss (permutation) and more images flagged than chance decide, and the KS test
    /// (one-sided), the latent MMD and the image-property tests are reported but do not.
    Worse,
}

impl Alternative {
    /// Whether the tests of the whole distribution (KS, latent MMD, image properties) take
    /// part in the verdict.
    pub fn distribution_tests_decide(self) -> bool {
        self == Alternative::Different
    }

    /// How many tests decide the verdict (its Bonferroni count): the permutation and
    /// flagged-share tests, and for "different?" the KS test, the latent test where it runs
    /// and one per image property tested.
    pub fn deciding_tests(self, latent: bool, properties: usize) -> usize {
        if self.distribution_tests_decide() {
            3 + usize::from(latent) + properties
        } else {
            2
        }
    }
}

/// Largest gap `D` between the empirical CDFs of two samples (each sorted ascending).
pub fn ks_statistic(a: &[f32], b: &[f32]) -> f64 {
    let (above, below) = ks_gaps(a, b);
    above.max(below)
}

/// The largest gaps between the empirical CDFs of two samples (each sorted ascending) either
/// way: `max(F_a − F_b)` (where `b`'s values are the larger) and `max(F_b − F_a)`.
pub fn ks_gaps(a: &[f32], b: &[f32]) -> (f64, f64) {
    let (n, m) = (a.len() as f64, b.len() as f64);
    let (mut i, mut j) = (0usize, 0usize);
    let (mut above, mut below) = (0.0f64, 0.0f64);
    while i < a.len() && j < b.len() {
        let value = a[i].min(b[j]);
        while i < a.len() && a[i] <= value {
            i += 1;
        }
        while j < b.len() && b[j] <= value {
            j += 1;
        }
        let gap = i as f64 / n - j as f64 / m;
        above = above.max(gap);
        below = below.max(-gap);
    }
    (above, below)
}

/// `P(D < d)` for samples of sizes `m` and `n` under the null hypothesis, exactly (the
/// lattice-path recursion of R's `psmirnov2x`), `O(m · n)` time, `O(n)` memory.
pub fn ks_exact_cdf(d: f64, m: usize, n: usize) -> f64 {
    ks_lattice(d, m, n, false).0
}

/// `P(D ≥ d)` for samples of sizes `m` and `n` under the null hypothesis, exactly, summed
/// directly over the lattice paths that reach `d` (not `1 − P(D < d)`, which cancels to
/// rounding noise near 1e-15): each path's first step onto the boundary, weighted by the paths
/// that lead there without touching it and the paths from there to the end. Same lattice,
/// rounding and pass as [`ks_exact_cdf`], `O(m · n)` time, `O(m + n)` memory.
pub fn ks_exact_upper(d: f64, m: usize, n: usize) -> f64 {
    ks_lattice(d, m, n, false).1
}

/// `P(D⁺ ≥ d)` for samples of sizes `m` and `n` under the null hypothesis, exactly, where
/// `D⁺ = max(F_n − F_m)` is the one-sided statistic of "the sample of `m` is the larger" (the
/// same first-hit sum as [`ks_exact_upper`], over a boundary on one side only).
pub fn ks_exact_upper_one_sided(d: f64, m: usize, n: usize) -> f64 {
    ks_lattice(d, m, n, true).1
}

/// Both tails of the two-sample KS statistic in one pass of the lattice recursion: the paths
/// that never reach `d` (`P(D < d)`, what is left at the end) and those that do (`P(D ≥ d)`,
/// summed over their first steps onto the boundary). `one_sided`: the statistic is
/// `max(F_n − F_m)`, so the boundary is on that side only.
fn ks_lattice(d: f64, m: usize, n: usize, one_sided: bool) -> (f64, f64) {
    // The walk counts the smaller sample along `i`; `swapped` remembers which that is, so the
    // one-sided gap keeps its direction.
    let swapped = m > n;
    let (m, n) = if swapped { (n, m) } else { (m, n) };
    // Every path reaches a gap of 0 (where it starts): exactly 1, not a sum that rounds.
    if m == 0 || d <= 0.0 {
        return (0.0, 1.0);
    }
    let (md, nd) = (m as f64, n as f64);
    // Round to the lattice of attainable values, as R does.
    let q = (0.5 + (d * md * nd - 1e-7).floor()) / (md * nd);
    let ln_factorial = ln_factorials(m + n);
    let ln_choose = |a: usize, b: usize| ln_factorial[a] - ln_factorial[b] - ln_factorial[a - b];
    let ln_all_paths = ln_choose(m + n, m);
    let mut upper = 0.0;
    // `u[j]`, and `v` at a boundary cell (i, j): the paths reaching (i, j) without touching the
    // boundary before, divided by C(i + n, i) (R's normalisation: `u[n]` ends as P(D < d)).
    let mut first_hit = |v: f64, i: usize, j: usize| {
        if v > 0.0 {
            upper += (v.ln() + ln_choose(i + n, i) + ln_choose(m - i + n - j, m - i)
                - ln_all_paths)
                .exp();
        }
    };
    // How far the path at (i, j) is from the two samples' CDFs agreeing, on the tested side.
    let beyond = |i: usize, j: usize| {
        let gap = j as f64 / nd - i as f64 / md;
        let gap = if swapped { -gap } else { gap };
        (if one_sided { gap } else { gap.abs() }) > q
    };
    let mut u = vec![0.0f64; n + 1];
    u[0] = 1.0;
    for j in 1..=n {
        if beyond(0, j) {
            first_hit(u[j - 1], 0, j);
            u[j] = 0.0;
        } else {
            u[j] = u[j - 1];
        }
    }
    for i in 1..=m {
        let w = i as f64 / (i + n) as f64;
        let v = w * u[0];
        if beyond(i, 0) {
            first_hit(v, i, 0);
            u[0] = 0.0;
        } else {
            u[0] = v;
        }
        for j in 1..=n {
            let v = w * u[j] + u[j - 1];
            if beyond(i, j) {
                first_hit(v, i, j);
                u[j] = 0.0;
            } else {
                u[j] = v;
            }
        }
    }
    (u[n], upper.clamp(0.0, 1.0))
}

/// `ln(k!)` for `k = 0..=n`, as running sums.
fn ln_factorials(n: usize) -> Vec<f64> {
    std::iter::once(0.0)
        .chain((1..=n).scan(0.0f64, |sum, k| {
            *sum += (k as f64).ln();
            Some(*sum)
        }))
        .collect()
}

/// Whether two sorted samples hold a value twice (within one or across both).
fn has_ties(a: &[f32], b: &[f32]) -> bool {
    let (mut i, mut j) = (0, 0);
    let mut last: Option<f32> = None;
    while i < a.len() || j < b.len() {
        let next = if j >= b.len() || (i < a.len() && a[i] <= b[j]) {
            i += 1;
            a[i - 1]
        } else {
            j += 1;
            b[j - 1]
        };
        if last == Some(next) {
            return true;
        }
        last = Some(next);
    }
    false
}

/// Kolmogorov's survival function `Q(λ) = 2 Σ (−1)^{k−1} exp(−2 k² λ²)`.
pub fn kolmogorov_survival(lambda: f64) -> f64 {
    if lambda < 0.2 {
        return 1.0;
    }
    let mut sum = 0.0;
    for k in 1..=100 {
        let k = k as f64;
        let term = (-2.0 * k * k * lambda * lambda).exp();
        sum += if k as usize % 2 == 1 { term } else { -term };
        if term < 1e-16 {
            break;
        }
    }
    (2.0 * sum).clamp(0.0, 1.0)
}

/// Two-sample KS test of `batch` against `reference` (both sorted ascending).
pub fn ks_test(reference: &[f32], batch: &[f32]) -> Option<KsTest> {
    ks_test_of(reference, batch, Alternative::Different)
}

/// [`ks_test`], two-sided for [`Alternative::Different`], one-sided for
/// [`Alternative::Worse`]: then `D⁺`, the largest gap by which the baseline's CDF lies above
/// the batch's (the batch's losses larger), with its one-sided p-value.
pub fn ks_test_of(reference: &[f32], batch: &[f32], alternative: Alternative) -> Option<KsTest> {
    if reference.is_empty() || batch.is_empty() {
        return None;
    }
    let one_sided = alternative == Alternative::Worse;
    let statistic = if one_sided {
        ks_gaps(reference, batch).0
    } else {
        ks_statistic(reference, batch)
    };
    let (n, m) = (reference.len(), batch.len());
    let (p_value, method) = if n.saturating_mul(m) <= KS_EXACT_MAX_CELLS {
        let method = if has_ties(reference, batch) {
            KsMethod::ExactConservative
        } else {
            KsMethod::Exact
        };
        let p = if one_sided {
            ks_exact_upper_one_sided(statistic, m, n)
        } else {
            ks_exact_upper(statistic, m, n)
        };
        (p, method)
    } else {
        // In f64: `n * m` overflows a 32-bit usize (wasm32) beyond 65,536².
        let en = (n as f64 * m as f64 / (n as f64 + m as f64)).sqrt();
        let p = if one_sided {
            // Smirnov's one-sided limit, `exp(−2λ²)`: no cancellation at any size.
            (-2.0 * (en * statistic).powi(2)).exp().min(1.0)
        } else {
            kolmogorov_survival((en + 0.12 + 0.11 / en) * statistic)
        };
        (p, KsMethod::Asymptotic)
    };
    Some(KsTest {
        statistic,
        p_value,
        method,
        one_sided,
    })
}

fn mean(values: &[f32]) -> f64 {
    values.iter().map(|v| *v as f64).sum::<f64>() / values.len() as f64
}

/// One-sided permutation test that the batch's mean loss is higher than the baseline's:
/// the batch is compared with `permutations` random batches of the same size drawn without
/// replacement from batch and baseline pooled. p-value `(1 + #{permuted ≥ observed}) / (B + 1)`,
/// never 0.
pub fn permutation_test(
    reference: &[f32],
    batch: &[f32],
    permutations: usize,
    rng: &mut crate::rng::SeededRng,
) -> Option<f64> {
    run_ready(permutation_test_with_pauses(
        reference,
        batch,
        permutations,
        rng,
        || std::future::ready(()),
    ))
}

/// Random draws between two pauses of the `…_with_pauses` tests: about 30 ms of work in the
/// browser, so a batch of thousands of images never holds the page for long.
const DRAWS_PER_STEP: usize = 300_000;

/// Counts work and says when a pause is due.
struct Pacer {
    draws: usize,
}

impl Pacer {
    fn due(&mut self, draws: usize) -> bool {
        self.draws += draws;
        if self.draws >= DRAWS_PER_STEP {
            self.draws = 0;
            true
        } else {
            false
        }
    }
}

/// [`permutation_test`], awaiting `pause()` every [`DRAWS_PER_STEP`] random draws (batches of
/// thousands of images take a while). Same draws, same p-value.
pub async fn permutation_test_with_pauses<F: std::future::Future<Output = ()>>(
    reference: &[f32],
    batch: &[f32],
    permutations: usize,
    rng: &mut crate::rng::SeededRng,
    mut pause: impl FnMut() -> F,
) -> Option<f64> {
    if reference.is_empty() || batch.is_empty() || permutations == 0 {
        return None;
    }
    let observed = mean(batch);
    let mut pool: Vec<f32> = reference.iter().chain(batch).copied().collect();
    let m = batch.len();
    let mut at_least = 0usize;
    let mut pacer = Pacer { draws: 0 };
    for _ in 0..permutations {
        if mean(rng.choose_front(&mut pool, m)) >= observed - 1e-12 {
            at_least += 1;
        }
        if pacer.due(m) {
            pause().await;
        }
    }
    Some((1 + at_least) as f64 / (permutations + 1) as f64)
}

/// Run a future whose every await is ready (pauses that do not wait) to its end.
pub(crate) fn run_ready<T>(future: impl std::future::Future<Output = T>) -> T {
    let mut future = std::pin::pin!(future);
    let mut context = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(result) = future.as_mut().poll(&mut context) {
            return result;
        }
    }
}

/// Percentile bootstrap interval (`level`, e.g. 0.95) of the loss ratio: the batch is
/// resampled with replacement; the baseline mean, over thousands of images, is drawn from its
/// normal sampling distribution (mean, sd/√n) instead of resampling all of it each time.
pub fn bootstrap_ratio_interval(
    reference: &[f32],
    batch: &[f32],
    resamples: usize,
    level: f64,
    rng: &mut crate::rng::SeededRng,
) -> Option<(f64, f64)> {
    run_ready(bootstrap_ratio_interval_with_pauses(
        reference,
        batch,
        resamples,
        level,
        rng,
        || std::future::ready(()),
    ))
}

/// [`bootstrap_ratio_interval`], awaiting `pause()` every [`DRAWS_PER_STEP`] random draws.
pub async fn bootstrap_ratio_interval_with_pauses<F: std::future::Future<Output = ()>>(
    reference: &[f32],
    batch: &[f32],
    resamples: usize,
    level: f64,
    rng: &mut crate::rng::SeededRng,
    mut pause: impl FnMut() -> F,
) -> Option<(f64, f64)> {
    if reference.is_empty() || batch.is_empty() || resamples == 0 {
        return None;
    }
    let reference_mean = mean(reference);
    let reference_se = (reference
        .iter()
        .map(|v| (*v as f64 - reference_mean).powi(2))
        .sum::<f64>()
        / reference.len().saturating_sub(1).max(1) as f64)
        .sqrt()
        / (reference.len() as f64).sqrt();
    let mut ratios: Vec<f64> = Vec::with_capacity(resamples);
    let mut pacer = Pacer { draws: 0 };
    for _ in 0..resamples {
        let b = (0..batch.len())
            .map(|_| batch[rng.below(batch.len())] as f64)
            .sum::<f64>()
            / batch.len() as f64;
        let r = reference_mean + reference_se * rng.normal();
        let ratio = if r > 0.0 { b / r } else { f64::NAN };
        if ratio.is_finite() {
            ratios.push(ratio);
        }
        if pacer.due(batch.len()) {
            pause().await;
        }
    }
    if ratios.is_empty() {
        return None;
    }
    ratios.sort_by(f64::total_cmp);
    let tail = (1.0 - level) / 2.0;
    let at = |q: f64| ratios[((ratios.len() - 1) as f64 * q).round() as usize];
    Some((at(tail), at(1.0 - tail)))
}

/// `P(X ≥ k)` for `X ~ Binomial(n, p)`, summed in log space (exact to rounding).
pub fn binomial_upper_tail(k: usize, n: usize, p: f64) -> f64 {
    if k == 0 {
        return 1.0;
    }
    if k > n || p <= 0.0 {
        return 0.0;
    }
    if p >= 1.0 {
        return 1.0;
    }
    // ln(i!) for i = 0..=n, once: O(n) in all (the batch can hold tens of thousands of images).
    let ln_factorial = ln_factorials(n);
    let ln_choose = |i: usize| ln_factorial[n] - ln_factorial[i] - ln_factorial[n - i];
    (k..=n)
        .map(|i| (ln_choose(i) + i as f64 * p.ln() + (n - i) as f64 * (1.0 - p).ln()).exp())
        .sum::<f64>()
        .clamp(0.0, 1.0)
}

/// ln Γ(x) for x > 0 (Lanczos, g = 7, nine coefficients: about 1e-15 relative).
pub(crate) fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection: Γ(x) Γ(1 − x) = π / sin(πx).
        return (std::f64::consts::PI / (std::f64::consts::PI * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let t = x + G + 0.5;
    let series = C[1..]
        .iter()
        .enumerate()
        .fold(C[0], |sum, (i, c)| sum + c / (x + i as f64 + 1.0));
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + series.ln()
}

/// `P(X ≥ k)` for `X ~ BetaBinomial(m, a, b)`: how many of `m` clean images are flagged when
/// the flag rate is itself uncertain, `Beta(a, b)`. A baseline of `n` losses flags the images
/// above its `a`-th largest, `a = ⌈α(n + 1)⌉ − 1`; for a new clean image that happens with a
/// probability that depends on the baseline drawn, distributed `Beta(a, n + 1 − a)`, and every
/// image of the batch shares it. The binomial test took it as exactly `a / (n + 1)`: fine for
/// small batches, but at 100,000 images some baselines then call every clean batch drift.
/// Summed in log space from `k` up, stopping once the terms past the mode are negligible.
pub fn beta_binomial_upper_tail(k: usize, m: usize, a: f64, b: f64) -> f64 {
    if k == 0 {
        return 1.0;
    }
    if k > m || a <= 0.0 {
        return 0.0;
    }
    if b <= 0.0 {
        return 1.0;
    }
    let md = m as f64;
    let ln_beta = |x: f64, y: f64| ln_gamma(x) + ln_gamma(y) - ln_gamma(x + y);
    let ln_norm = ln_gamma(md + 1.0) - ln_beta(a, b);
    let ln_term =
        |i: f64| ln_norm - ln_gamma(i + 1.0) - ln_gamma(md - i + 1.0) + ln_beta(i + a, md - i + b);
    let mode = if a > 1.0 && a + b > 2.0 {
        md * (a - 1.0) / (a + b - 2.0)
    } else {
        0.0
    };
    let mut total = f64::NEG_INFINITY;
    for i in k..=m {
        let term = ln_term(i as f64);
        total = if total == f64::NEG_INFINITY {
            term
        } else {
            total.max(term) + (-(total - term).abs()).exp().ln_1p()
        };
        if i as f64 > mode && term < total - 40.0 {
            break;
        }
    }
    total.exp().clamp(0.0, 1.0)
}

/// Lower 95 % Wilson bound of a share of `k` in `n`.
pub fn wilson_lower(k: usize, n: usize) -> f64 {
    if n == 0 {
        return 0.0;
    }
    let (z, n) = (1.96f64, n as f64);
    let p = k as f64 / n;
    let centre = p + z * z / (2.0 * n);
    let spread = z * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt();
    ((centre - spread) / (1.0 + z * z / n)).max(0.0)
}

/// What the batch tests conclude.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// At least one test rejects "same distribution as the baseline" at the chosen level, and
    /// the change it sees is at least as large as its practical threshold ([`PracticalSize`]).
    Drift,
    /// Some test rejects at the chosen level, but every change the significant tests see is
    /// smaller than its practical threshold: real, but too small to matter by those thresholds.
    SmallShift,
    /// No test does.
    NoEvidenceOfDrift,
    /// So few scored images that no test could reach the level, whatever they were (see
    /// [`min_batch`]).
    TooFewImages,
}

impl Verdict {
    /// The verdict in plain words.
    pub fn headline(self) -> &'static str {
        match self {
            Verdict::Drift => "drift",
            Verdict::SmallShift => "small shift",
            Verdict::NoEvidenceOfDrift => "no evidence of drift",
            Verdict::TooFewImages => "too few images to tell",
        }
    }
}

/// How large a change must be for a significant test to call it drift rather than a small
/// shift. Each is an effect size the tests already report: a significant test whose effect is
/// at least its threshold makes the verdict "drift". The defaults come from clean batches of
/// other writers against MNIST baselines (`driftglass eval`, see the README): they sit above
/// what those show and below every drift set.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PracticalSize {
    /// The mean loss's change, as a share (permutation test: ratio − 1; 0.05 = +5 %).
    pub loss_ratio: f64,
    /// Kolmogorov–Smirnov D, of the losses and of each image property (for the file format:
    /// the total variation distance of the format shares).
    pub distribution: f64,
    /// Share of the batch flagged beyond the share chance flags (0.04 = 4 points).
    pub flagged_excess: f64,
    /// MMD² of the codes (the latent test's statistic).
    pub mmd: f64,
}

impl Default for PracticalSize {
    fn default() -> Self {
        PracticalSize {
            loss_ratio: DEFAULT_PRACTICAL_RATIO,
            distribution: DEFAULT_PRACTICAL_D,
            flagged_excess: DEFAULT_PRACTICAL_FLAGGED,
            mmd: DEFAULT_PRACTICAL_MMD,
        }
    }
}

/// Default [`PracticalSize::loss_ratio`].
pub const DEFAULT_PRACTICAL_RATIO: f64 = 0.05;
/// Default [`PracticalSize::distribution`].
pub const DEFAULT_PRACTICAL_D: f64 = 0.1;
/// Default [`PracticalSize::flagged_excess`].
pub const DEFAULT_PRACTICAL_FLAGGED: f64 = 0.04;
/// Default [`PracticalSize::mmd`].
pub const DEFAULT_PRACTICAL_MMD: f64 = 0.06;

/// Every batch statistic, with the combined verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchTests {
    /// Scored images in the batch.
    pub images: usize,
    /// Mean batch loss / mean baseline loss.
    pub loss_ratio: f64,
    /// 95 % bootstrap interval of the ratio.
    pub ratio_interval: Option<(f64, f64)>,
    /// Kolmogorov–Smirnov test of the batch's losses against the baseline's.
    pub ks: KsTest,
    /// Permutation test: is the batch's mean loss higher than the baseline's?
    pub permutation_p_value: f64,
    /// Permutations used.
    pub permutations: usize,
    /// Images flagged (p-value below the flag rate).
    pub flagged: usize,
    /// Chance of a single clean image being flagged, under the null hypothesis.
    pub flag_probability: f64,
    /// `P(at least this many flagged)` if the batch were like the baseline, the baseline's own
    /// flag rate uncertain (beta-binomial; the name is kept for the report's schema).
    pub binomial_p_value: f64,
    /// Whether the images were flagged by their novelty score (else by their loss).
    #[serde(default)]
    pub flags_from_novelty: bool,
    /// MMD test of the batch's encoder codes against the model's latent reference sample
    /// (absent when the model file has none, or fewer than two images were scored).
    #[serde(default)]
    pub mmd: Option<crate::latent::MmdTest>,
    /// "What changed": a test per image property against the model's reference values
    /// (absent when the model file keeps none).
    #[serde(default)]
    pub properties: Option<crate::properties::PropertyTests>,
    /// Significance level of the verdict.
    pub alpha: f64,
    /// The smallest p-value times the number of tests (Bonferroni: three, four with the MMD
    /// test, and one more per property tested), capped at 1.
    pub combined_p_value: f64,
    pub verdict: Verdict,
    /// Fewest images with which the tests can reach the level against this baseline (see
    /// [`min_batch`]).
    pub min_batch: usize,
    /// Baseline losses the batch was tested against.
    #[serde(default)]
    pub baseline_images: usize,
    /// The thresholds the verdict's size was judged by.
    #[serde(default)]
    pub practical: PracticalSize,
    /// The significant tests whose change reaches its threshold (what makes "drift"), by name:
    /// `ks`, `permutation`, `flagged`, `mmd`, or a property's name.
    #[serde(default)]
    pub large: Vec<String>,
    /// What the tests asked: with [`Alternative::Worse`] (a reference of transformed images)
    /// the KS test is one-sided, and it, the MMD and the property tests are shown but do not
    /// decide.
    #[serde(default)]
    pub alternative: Alternative,
}

impl BatchTests {
    /// Why the verdict has its size, in words: for a small shift the thresholds it is under,
    /// for drift the tests whose change reaches theirs; `None` otherwise.
    pub fn size_sentence(&self) -> Option<String> {
        let p = &self.practical;
        match self.verdict {
            Verdict::SmallShift => Some(format!(
                "A small shift: the tests see a change, but each is under its practical threshold (mean loss +{:.0} %, D {:.2}, flagged +{:.0} points, MMD² {:.3}, by their 95 % lower bounds).",
                p.loss_ratio * 100.0,
                p.distribution,
                p.flagged_excess * 100.0,
                p.mmd
            )),
            Verdict::Drift if !self.large.is_empty() => Some(format!(
                "Large enough to call drift: {}.",
                self.large.join(", ")
            )),
            _ => None,
        }
    }

    /// What the tests asked, in words, where the model's reference holds transformed images
    /// ([`Alternative::Worse`]); `None` for the usual "different?".
    pub fn alternative_sentence(&self) -> Option<&'static str> {
        (self.alternative == Alternative::Worse).then_some(
            "This model's reference holds images transformed at random (augmentation), so the tests ask whether the batch is worse than the reference, not whether it is different: a higher mean loss, or more images flagged than chance, decides; the Kolmogorov–Smirnov test (one-sided), the latent MMD and the image-property tests are shown but do not decide, as a batch transformed one way within the ranges is a part of the reference that they would call different.",
        )
    }

    /// Judge the verdict's size by `practical`: "drift" where a significant test's change
    /// reaches its threshold, "small shift" where the tests reject but none does. Needs nothing
    /// but the tests' own numbers, so new thresholds apply without running the tests again.
    ///
    /// Each effect is judged by its lower 95 % bound, not its estimate, so that a small batch
    /// (whose estimates scatter) is not called drift for a change that may be small: the loss
    /// ratio by its bootstrap interval, a KS D less its 95 % critical gap, the flagged share by
    /// its Wilson bound, MMD² less 1.645 times its permutation spread.
    pub fn judge(&mut self, practical: PracticalSize) {
        self.practical = practical;
        let tests = self.test_count() as f64;
        let significant = |p: f64| p * tests < self.alpha;
        let deciding = self.alternative.distribution_tests_decide();
        // Kolmogorov's 95 % critical gap for samples of `m` and `n` (only the two-sided tests
        // of the whole distribution are judged by it: they decide only for "different?").
        let gap = |m: usize, n: usize| {
            if m == 0 || n == 0 {
                f64::INFINITY
            } else {
                1.358 * ((m + n) as f64 / (m as f64 * n as f64)).sqrt()
            }
        };
        let mut large = Vec::new();
        let ks_low = self.ks.statistic - gap(self.images, self.baseline_images);
        if deciding && significant(self.ks.p_value) && ks_low >= practical.distribution {
            large.push("ks".to_string());
        }
        let ratio_low = self
            .ratio_interval
            .map_or(self.loss_ratio, |(low, _)| low.min(self.loss_ratio))
            - 1.0;
        if significant(self.permutation_p_value) && ratio_low >= practical.loss_ratio {
            large.push("permutation".to_string());
        }
        let excess = wilson_lower(self.flagged, self.images) - self.flag_probability;
        if significant(self.binomial_p_value) && excess >= practical.flagged_excess {
            large.push("flagged".to_string());
        }
        if let Some(mmd) = &self.mmd
            && deciding
            && significant(mmd.p_value)
            && mmd.statistic - 1.645 * mmd.null_sd >= practical.mmd
        {
            large.push("mmd".to_string());
        }
        if let Some(properties) = self.properties.as_ref().filter(|_| deciding) {
            let margin = gap(self.images, properties.reference_images);
            for test in &properties.tests {
                if significant(test.p_value) && test.effect - margin >= practical.distribution {
                    large.push(test.property.name().to_string());
                }
            }
        }
        self.verdict = if self.images < self.min_batch {
            Verdict::TooFewImages
        } else if self.combined_p_value >= self.alpha {
            Verdict::NoEvidenceOfDrift
        } else if large.is_empty() {
            Verdict::SmallShift
        } else {
            Verdict::Drift
        };
        self.large = large;
    }

    /// How many tests the verdict's Bonferroni correction counts: the permutation and
    /// flagged-share tests, and where they decide (see [`Alternative`]) the KS test, the latent
    /// test where it ran and one per image property tested.
    pub fn test_count(&self) -> usize {
        self.alternative.deciding_tests(
            self.mmd.is_some(),
            self.properties.as_ref().map_or(0, |p| p.tests.len()),
        )
    }
}

/// The smallest p-value each test can give `m` images against a baseline of `n` (each clean
/// image flagged with probability `flag_probability`), and so the smallest of them: KS, every
/// image beyond the whole baseline (2 of the C(n + m, m) orderings); the permutation test, the
/// batch being the top `m` of the pooled losses (no less than 1/(B + 1) by Monte Carlo); the
/// binomial test, all `m` flagged (never below 1 when nothing can be flagged).
pub fn smallest_p_value(m: usize, n: usize, flag_probability: f64) -> f64 {
    smallest_p_value_of(m, n, flag_probability, Alternative::Different)
}

/// [`smallest_p_value`] of the tests that decide for `alternative` (with
/// [`Alternative::Worse`] the permutation and flagged-share tests only).
pub fn smallest_p_value_of(
    m: usize,
    n: usize,
    flag_probability: f64,
    alternative: Alternative,
) -> f64 {
    if m == 0 || n == 0 {
        return 1.0;
    }
    // ln C(n + m, m), summed: m is small where this matters.
    let ln_orderings: f64 = (1..=m).map(|k| ((n + k) as f64 / k as f64).ln()).sum();
    let ks = if alternative.distribution_tests_decide() {
        (2f64.ln() - ln_orderings).exp().min(1.0)
    } else {
        1.0
    };
    let permutation = (1.0 / (PERMUTATIONS + 1) as f64).max((-ln_orderings).exp());
    let binomial = if flag_probability > 0.0 {
        flag_probability.powi(m.min(i32::MAX as usize) as i32)
    } else {
        1.0
    };
    ks.min(permutation).min(binomial)
}

/// The fewest scored images with which the batch tests can call drift at `alpha` against a
/// baseline of `n` (Bonferroni over three tests, four with the latent test from two images
/// on): below it a batch gets "too few images to tell", at or above it the tests decide. With
/// the bundled model's 10,000 baseline losses that is one image; with 20 held out, three.
pub fn min_batch(n: usize, flag_probability: f64, latent: bool, alpha: f64) -> usize {
    min_batch_of(
        n,
        flag_probability,
        latent,
        0,
        Alternative::Different,
        alpha,
    )
}

/// [`min_batch`] with `properties` property tests in the Bonferroni count as well, for the
/// tests that decide for `alternative` (with [`Alternative::Worse`] two: the permutation and
/// flagged-share tests).
pub fn min_batch_of(
    n: usize,
    flag_probability: f64,
    latent: bool,
    properties: usize,
    alternative: Alternative,
    alpha: f64,
) -> usize {
    (1..=MIN_BATCH_SEARCH)
        .find(|m| {
            let tests = alternative.deciding_tests(latent && *m >= 2, properties);
            tests as f64 * smallest_p_value_of(*m, n, flag_probability, alternative) < alpha
        })
        .unwrap_or(MIN_BATCH_SEARCH + 1)
}

/// The properties side of the batch tests: the model's reference values and the batch's
/// scored images' properties (see [`crate::properties`]).
#[derive(Debug, Clone, Copy)]
pub struct PropertyBatch<'a> {
    pub reference: &'a crate::properties::PropertyReference,
    pub images: &'a [crate::properties::ImageProperties],
}

/// The latent side of the batch tests: the model's reference codes and the batch's codes
/// (concatenated, `reference.dims()` values per scored image).
#[derive(Debug, Clone, Copy)]
pub struct LatentBatch<'a> {
    pub reference: &'a crate::latent::LatentReference,
    pub codes: &'a [f32],
}

/// The novelty side of the batch tests: the model's calibration scores and the batch's
/// scored images' novelty scores (one each, see [`crate::novelty`]). With it, the flagged-share
/// test counts the images flagged by their novelty p-value instead of their loss's.
#[derive(Debug, Clone, Copy)]
pub struct NoveltyBatch<'a> {
    pub calibration: &'a Baseline,
    pub scores: &'a [f32],
}

/// What the batch tests see beside the losses, each where the model and batch have it, and
/// what they ask (the model's, see [`Alternative`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct BatchSides<'a> {
    pub latent: Option<LatentBatch<'a>>,
    pub properties: Option<PropertyBatch<'a>>,
    pub novelty: Option<NoveltyBatch<'a>>,
    pub alternative: Alternative,
}

/// Run the batch tests of `batch` losses (and, given `latent`, codes) against the baseline.
/// `None` for an empty batch. Randomised parts are seeded ([`STATS_SEED`]), so a batch always
/// gives the same numbers.
pub fn batch_tests(
    baseline: &Baseline,
    batch: &[f32],
    sides: BatchSides<'_>,
    flag_rate: f64,
    alpha: f64,
) -> Option<BatchTests> {
    run_ready(batch_tests_with_pauses(
        baseline,
        batch,
        sides,
        flag_rate,
        alpha,
        || std::future::ready(()),
    ))
}

/// [`batch_tests`], awaiting `pause()` between the tests: in the browser each test then runs
/// in its own task, so the page stays responsive after a batch of thousands of images. Same
/// numbers as [`batch_tests`].
pub async fn batch_tests_with_pauses<F: std::future::Future<Output = ()>>(
    baseline: &Baseline,
    batch: &[f32],
    sides: BatchSides<'_>,
    flag_rate: f64,
    alpha: f64,
    mut pause: impl FnMut() -> F,
) -> Option<BatchTests> {
    let BatchSides {
        latent,
        properties,
        novelty,
        alternative,
    } = sides;
    let mut sorted: Vec<f32> = batch.iter().copied().filter(|v| v.is_finite()).collect();
    if sorted.is_empty() || baseline.is_empty() {
        return None;
    }
    sorted.sort_by(f32::total_cmp);
    let reference = baseline.sorted();
    let mut rng = crate::rng::SeededRng::new(STATS_SEED);
    let ks = ks_test_of(reference, &sorted, alternative)?;
    pause().await;
    let permutation_p_value =
        permutation_test_with_pauses(reference, &sorted, PERMUTATIONS, &mut rng, &mut pause)
            .await?;
    pause().await;
    let ratio_interval = bootstrap_ratio_interval_with_pauses(
        reference, &sorted, BOOTSTRAP, 0.95, &mut rng, &mut pause,
    )
    .await;
    pause().await;
    // Flags by the novelty score where the batch has one, else by the loss; against the
    // scores that calibrate them.
    let (flag_reference, flag_scores) = match novelty {
        Some(n) => (n.calibration, n.scores),
        None => (baseline, &sorted[..]),
    };
    let flagged = flag_scores
        .iter()
        .filter(|score| flag_reference.is_flagged(**score, flag_rate))
        .count();
    let flag_probability = flag_reference.flag_probability(flag_rate);
    // The flag rate of this baseline is uncertain (see `beta_binomial_upper_tail`).
    let slots = (flag_reference.len() + 1) as f64;
    let flag_slots = flag_probability * slots;
    let binomial_p_value =
        beta_binomial_upper_tail(flagged, sorted.len(), flag_slots, slots - flag_slots);
    pause().await;
    let mut latent_rng = crate::rng::SeededRng::new(STATS_SEED ^ 0x004D_4D44);
    let mmd = latent.and_then(|l| {
        crate::latent::mmd_test(
            l.reference,
            l.codes,
            crate::latent::MMD_PERMUTATIONS,
            &mut latent_rng,
        )
    });
    pause().await;
    let property_tests =
        properties.and_then(|p| crate::properties::property_tests(p.reference, p.images));
    let mut p_values: Vec<f64> = vec![permutation_p_value, binomial_p_value];
    let mut shown: Vec<f64> = vec![ks.p_value];
    shown.extend(mmd.iter().map(|t| t.p_value));
    shown.extend(property_tests.iter().flatten().map(|t| t.p_value));
    // "What changed" names a property by the Bonferroni count of every test run.
    let tests = (p_values.len() + shown.len()) as f64;
    if alternative.distribution_tests_decide() {
        p_values.append(&mut shown);
    }
    // Bonferroni over every deciding test: the permutation and flagged-share tests, and
    // (for "different?") KS, the latent test and one per property.
    let smallest = p_values.iter().fold(1.0f64, |a, b| a.min(*b));
    let combined_p_value = (p_values.len() as f64 * smallest).min(1.0);
    let property_count = property_tests.as_ref().map_or(0, Vec::len);
    let reference_images = properties.map_or(0, |p| p.reference.images);
    let properties = property_tests.map(|tests_of| crate::properties::PropertyTests {
        reference_images,
        changed: tests_of
            .iter()
            .filter(|t| t.p_value * tests < alpha)
            .map(|t| t.property)
            .collect(),
        tests: tests_of,
    });
    let min_batch = min_batch_of(
        baseline.len(),
        flag_probability,
        mmd.is_some(),
        property_count,
        alternative,
        alpha,
    );
    let mut tests = BatchTests {
        images: sorted.len(),
        loss_ratio: mean(&sorted) / baseline.mean(),
        ratio_interval,
        ks,
        permutation_p_value,
        permutations: PERMUTATIONS,
        flagged,
        flag_probability,
        binomial_p_value,
        flags_from_novelty: novelty.is_some(),
        mmd,
        properties,
        alpha,
        combined_p_value,
        verdict: Verdict::NoEvidenceOfDrift,
        min_batch,
        baseline_images: baseline.len(),
        practical: PracticalSize::default(),
        large: Vec::new(),
        alternative,
    };
    tests.judge(PracticalSize::default());
    Some(tests)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::LossKind;

    /// Counting by bisection at the edges gives the counts of putting each loss in its bin,
    /// with ties, values on edges, outliers and losses below the baseline's smallest.
    #[test]
    fn histogram_bisection_counts_equal_binning_one_by_one() {
        let baseline = Baseline::new(
            LossKind::Bce,
            "t",
            (0..997)
                .map(|i| 0.04 + (i * 7919 % 997) as f32 / 9_000.0)
                .collect(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let mut batch: Vec<f32> = (0..3000)
            .map(|i| 0.03 + (i * 104_729 % 3001) as f32 / 20_000.0)
            .collect();
        batch.extend([0.1; 50]);
        batch.extend([7.0, f32::NAN, f32::INFINITY, 0.0]);
        for bins in [1, 7, 40] {
            let h = loss_histogram(&baseline, &batch, 0.01, bins).unwrap_or_else(|| panic!("none"));
            // The range as `loss_histogram` draws it.
            let mut finite: Vec<f32> = batch.iter().copied().filter(|v| v.is_finite()).collect();
            finite.sort_by(f32::total_cmp);
            let q98 = finite[((finite.len() - 1) as f64 * 0.98).round() as usize];
            let low = (baseline.sorted()[0].min(finite[0]) as f64).max(0.0);
            let high = baseline.quantile(0.999).max(q98 as f64);
            let width = (high - low) / bins as f64;
            assert_eq!(h.edges[0], low);
            let mut counts = vec![0usize; bins];
            for v in batch.iter().filter(|v| v.is_finite()) {
                let bin = (((*v as f64 - low) / width).floor().max(0.0) as usize).min(bins - 1);
                counts[bin] += 1;
            }
            assert_eq!(h.batch_counts, counts, "{bins} bins");
            assert_eq!(counts.iter().sum::<usize>(), 3052);
        }
    }

    #[test]
    fn histogram_shares_sum_to_one_and_counts_match() {
        let baseline = Baseline::new(
            LossKind::Bce,
            "t",
            (0..1000).map(|i| 0.05 + i as f32 / 10_000.0).collect(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let batch = [0.06, 0.07, 0.1, 0.12, 5.0];
        let h = loss_histogram(&baseline, &batch, 0.01, 20).unwrap_or_else(|| panic!("none"));
        assert_eq!(h.edges.len(), 21);
        assert!(h.edges.windows(2).all(|w| w[1] > w[0]));
        assert!((h.baseline.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        assert!((h.batch.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        assert_eq!(h.batch_counts.iter().sum::<usize>(), 5);
        // The outlier 5.0 is beyond the range: counted in the last bin, not lost.
        assert_eq!(h.batch_counts[19], 1);
        assert_eq!(h.edges[0], 0.05f32 as f64);
        let t = h.flag_threshold.unwrap_or(f64::NAN);
        assert!(t > 0.14 && t < 0.15, "{t}");
        assert_eq!(loss_histogram(&baseline, &[], 0.01, 20), None);
        assert_eq!(loss_histogram(&baseline, &batch, 0.01, 0), None);
    }

    #[test]
    fn ks_statistic_and_exact_p_values_by_hand() {
        // Fully separated samples of 3 and 3: D = 1, only 2 of the C(6,3) = 20 orderings.
        let t = ks_test(&[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0]).unwrap_or_else(|| panic!());
        assert_eq!(t.statistic, 1.0);
        assert!((t.p_value - 0.1).abs() < 1e-12, "{}", t.p_value);
        assert_eq!(t.method, KsMethod::Exact);
        // 4 and 4: 2 of 70.
        let t = ks_test(&[1.0, 2.0, 3.0, 4.0], &[5.0, 6.0, 7.0, 8.0]).unwrap_or_else(|| panic!());
        assert!((t.p_value - 2.0 / 70.0).abs() < 1e-12);
        // D = 2/3 for 3 and 3: the 8 orderings with |i - j| <= 1 at every step have D <= 1/3.
        let t = ks_test(&[1.0, 2.0, 4.0], &[3.0, 5.0, 6.0]).unwrap_or_else(|| panic!());
        assert!((t.statistic - 2.0 / 3.0).abs() < 1e-12);
        assert!((t.p_value - 0.6).abs() < 1e-12, "{}", t.p_value);
        // Perfectly interleaved: the smallest possible D, p = 1.
        let t = ks_test(&[1.0, 3.0, 5.0], &[2.0, 4.0, 6.0]).unwrap_or_else(|| panic!());
        assert!((t.statistic - 1.0 / 3.0).abs() < 1e-12);
        assert!((t.p_value - 1.0).abs() < 1e-12);
        assert_eq!(ks_test(&[], &[1.0]), None);
    }

    /// The upper tail summed over first hits is the complement of the lower one where both
    /// are well above rounding, and keeps its true magnitude where `1 − CDF` cancels.
    #[test]
    fn ks_upper_tail_without_cancellation() {
        for (d, m, n) in [
            (0.3, 7, 9),
            (0.1, 200, 300),
            (0.5, 20, 50),
            (0.2, 120, 1000),
        ] {
            let upper = ks_exact_upper(d, m, n);
            let lower = ks_exact_cdf(d, m, n);
            assert!(
                (upper + lower - 1.0).abs() < 1e-12,
                "{d} {m} {n}: {upper} + {lower}"
            );
        }
        // 120 letters with D = 0.93 against 10,000 baseline losses: `1 − CDF` gave 4.4e-15.
        let upper = ks_exact_upper(0.93, 120, 10_000);
        assert!(upper > 0.0 && upper < 1e-100, "{upper}");
        assert!(1.0 - ks_exact_cdf(0.93, 120, 10_000) < 1e-14);
        // Fully separated 3 and 3: 2 of the 20 orderings, as by hand.
        assert!((ks_exact_upper(1.0, 3, 3) - 0.1).abs() < 1e-12);
    }

    #[test]
    fn ks_says_when_ties_make_its_p_value_conservative() {
        let t = ks_test(&[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0]).unwrap_or_else(|| panic!());
        assert_eq!(t.method, KsMethod::Exact);
        // A value twice across the samples, or within one.
        let t = ks_test(&[1.0, 2.0, 3.0], &[3.0, 5.0, 6.0]).unwrap_or_else(|| panic!());
        assert_eq!(t.method, KsMethod::ExactConservative);
        let t = ks_test(&[1.0, 2.0, 3.0], &[5.0, 5.0, 6.0]).unwrap_or_else(|| panic!());
        assert_eq!(t.method, KsMethod::ExactConservative);
        assert!(has_ties(&[0.0, 0.0], &[]));
        assert!(!has_ties(&[0.0, 1.0], &[0.5, 2.0]));
    }

    #[test]
    fn ks_large_samples_use_the_limit_without_overflow() {
        // n · m = 10¹⁰: beyond a 32-bit usize, computed in f64.
        let reference: Vec<f32> = (0..100_000).map(|i| i as f32).collect();
        let batch: Vec<f32> = (0..100_000).map(|i| i as f32 + 0.5).collect();
        let t = ks_test(&reference, &batch).unwrap_or_else(|| panic!());
        assert_eq!(t.method, KsMethod::Asymptotic);
        assert!(t.p_value > 0.99, "{}", t.p_value);
    }

    #[test]
    fn kolmogorov_distribution_matches_the_classic_critical_values() {
        assert!((kolmogorov_survival(1.3581) - 0.05).abs() < 2e-4);
        assert!((kolmogorov_survival(1.6276) - 0.01).abs() < 1e-4);
        assert_eq!(kolmogorov_survival(0.1), 1.0);
        // Exact and asymptotic agree for large samples.
        let exact = 1.0 - ks_exact_cdf(0.1, 200, 300);
        let en = (200.0f64 * 300.0 / 500.0).sqrt();
        let asymptotic = kolmogorov_survival((en + 0.12 + 0.11 / en) * 0.1);
        assert!((exact - asymptotic).abs() < 0.01, "{exact} vs {asymptotic}");
    }

    #[test]
    fn permutation_p_value_is_never_zero_and_uniform_ish_under_the_null() {
        let mut rng = crate::rng::SeededRng::new(1);
        let reference: Vec<f32> = (0..1000).map(|_| rng.uniform() as f32).collect();
        let far = vec![5.0f32; 20];
        let p = permutation_test(&reference, &far, 999, &mut rng).unwrap_or(f64::NAN);
        assert_eq!(p, 1.0 / 1000.0);
        let same: Vec<f32> = reference[..20].to_vec();
        let p = permutation_test(&reference, &same, 999, &mut rng).unwrap_or(f64::NAN);
        assert!(p > 0.05, "{p}");
    }

    #[test]
    fn binomial_tail_by_hand() {
        assert!((binomial_upper_tail(1, 10, 0.01) - (1.0 - 0.99f64.powi(10))).abs() < 1e-12);
        assert!((binomial_upper_tail(2, 2, 0.5) - 0.25).abs() < 1e-12);
        assert!((binomial_upper_tail(3, 5, 0.5) - 0.5).abs() < 1e-12);
        assert_eq!(binomial_upper_tail(0, 5, 0.1), 1.0);
        assert_eq!(binomial_upper_tail(6, 5, 0.1), 0.0);
        // Large batches: Binomial(10000, 0.01) has its median at 100.
        let half = binomial_upper_tail(100, 10_000, 0.01);
        assert!(half > 0.45 && half < 0.56, "{half}");
    }

    #[test]
    fn beta_binomial_tail_by_hand_and_in_the_limit() {
        assert!((ln_gamma(5.0) - 24f64.ln()).abs() < 1e-12);
        assert!((ln_gamma(0.5) - std::f64::consts::PI.sqrt().ln()).abs() < 1e-12);
        assert!(
            (ln_gamma(1e6)
                - (1e6 * (1e6f64).ln() - 1e6 - 0.5 * (1e6f64).ln()
                    + 0.5 * (2.0 * std::f64::consts::PI).ln()
                    + 1.0 / 12e6))
                .abs()
                < 1e-6
        );
        // Beta(1, 1): every count from 0 to m equally likely.
        assert!((beta_binomial_upper_tail(3, 9, 1.0, 1.0) - 0.7).abs() < 1e-12);
        assert_eq!(beta_binomial_upper_tail(0, 9, 1.0, 1.0), 1.0);
        assert_eq!(beta_binomial_upper_tail(10, 9, 1.0, 1.0), 0.0);
        // A very certain rate: the binomial.
        for (k, m) in [(1, 10), (3, 50), (100, 10_000)] {
            let beta = beta_binomial_upper_tail(k, m, 1e7 * 0.01, 1e7 * 0.99);
            let binomial = binomial_upper_tail(k, m, 0.01);
            assert!(
                (beta - binomial).abs() < 2e-3 * binomial.max(1e-3),
                "{k}/{m}: {beta} vs {binomial}"
            );
        }
    }

    /// The flagged-share test with the baseline's own uncertainty: over baselines drawn afresh,
    /// clean batches of 100,000 images alarm at most at the level, where the plain binomial
    /// (the rate taken as exactly a/(n+1)) alarms for a large share of baselines.
    #[test]
    fn flagged_share_holds_its_level_over_resampled_baselines() {
        let mut rng = crate::rng::SeededRng::new(12);
        let (batch, draws) = (100_000, 100);
        let (mut beta_alarms, mut binomial_alarms) = (0, 0);
        for _ in 0..draws {
            let baseline = Baseline::new(LossKind::Bce, "normal", fresh(&mut rng, 10_000))
                .unwrap_or_else(|e| panic!("{e}"));
            let threshold = baseline.flag_threshold(0.01).unwrap_or(f32::INFINITY);
            let flagged = (0..batch)
                .filter(|_| ((0.08 + 0.02 * rng.normal()).max(0.0) as f32) > threshold)
                .count();
            let q = baseline.flag_probability(0.01);
            let slots = 10_001.0;
            if beta_binomial_upper_tail(flagged, batch, q * slots, slots - q * slots) < 0.01 {
                beta_alarms += 1;
            }
            if binomial_upper_tail(flagged, batch, q) < 0.01 {
                binomial_alarms += 1;
            }
        }
        assert!(
            beta_alarms <= 2,
            "{beta_alarms} of {draws} clean batches alarmed"
        );
        assert!(
            binomial_alarms >= 20,
            "the binomial alarmed in only {binomial_alarms}"
        );
    }

    #[test]
    fn pauses_change_nothing_but_the_tasks() {
        let mut rng = crate::rng::SeededRng::new(8);
        let reference: Vec<f32> = (0..5000).map(|_| rng.uniform() as f32).collect();
        let batch: Vec<f32> = (0..3000).map(|_| 0.01 + rng.uniform() as f32).collect();
        let sync = permutation_test(&reference, &batch, 999, &mut crate::rng::SeededRng::new(1));
        let mut pauses = 0;
        let paused = run_ready(permutation_test_with_pauses(
            &reference,
            &batch,
            999,
            &mut crate::rng::SeededRng::new(1),
            || {
                pauses += 1;
                std::future::ready(())
            },
        ));
        assert_eq!(sync, paused);
        assert_eq!(pauses, 999 * 3000 / DRAWS_PER_STEP);
        let baseline =
            Baseline::new(LossKind::Bce, "uniform", reference).unwrap_or_else(|e| panic!("{e}"));
        let mut steps = 0;
        let with_pauses = run_ready(batch_tests_with_pauses(
            &baseline,
            &batch,
            BatchSides::default(),
            0.01,
            DEFAULT_ALPHA,
            || {
                steps += 1;
                std::future::ready(())
            },
        ));
        assert_eq!(
            with_pauses,
            batch_tests(
                &baseline,
                &batch,
                BatchSides::default(),
                0.01,
                DEFAULT_ALPHA
            )
        );
        // Between the tests, and within the permutation test and the bootstrap.
        let within = (PERMUTATIONS + BOOTSTRAP) * 3000 / DRAWS_PER_STEP;
        assert!(steps >= 4 + within - 2, "{steps} pauses");
    }

    #[test]
    fn bootstrap_interval_contains_the_ratio() {
        let mut rng = crate::rng::SeededRng::new(2);
        let reference: Vec<f32> = (0..2000)
            .map(|_| 0.05 + 0.05 * rng.uniform() as f32)
            .collect();
        let batch: Vec<f32> = (0..100)
            .map(|_| 0.1 + 0.05 * rng.uniform() as f32)
            .collect();
        let ratio = mean(&batch) / mean(&reference);
        let (low, high) = bootstrap_ratio_interval(&reference, &batch, 500, 0.95, &mut rng)
            .unwrap_or((f64::NAN, f64::NAN));
        assert!(low < ratio && ratio < high, "{low} {ratio} {high}");
        assert!(high - low < 0.2, "{low} {high}");
    }

    /// Losses of a fresh sample from the distribution the baseline was drawn from.
    fn fresh(rng: &mut crate::rng::SeededRng, count: usize) -> Vec<f32> {
        (0..count)
            .map(|_| (0.08 + 0.02 * rng.normal()).max(0.0) as f32)
            .collect()
    }

    #[test]
    fn calibration_flag_rate_and_false_alarms_under_the_null() {
        let mut rng = crate::rng::SeededRng::new(3);
        let baseline = Baseline::new(LossKind::Bce, "normal", fresh(&mut rng, 10_000))
            .unwrap_or_else(|e| panic!("{e}"));
        // Single images: flagged at close to the chosen rate.
        let sample = fresh(&mut rng, 20_000);
        for rate in [0.01, 0.05] {
            let flagged = sample
                .iter()
                .filter(|l| baseline.p_value(**l) < rate)
                .count();
            let share = flagged as f64 / sample.len() as f64;
            assert!((share - rate).abs() < 0.4 * rate, "rate {rate}: {share}");
        }
        // Batches: the combined verdict holds its level. Over 2,000 clean batches (enough that
        // a true rate of 1 % would give 20 ± 4.5), fewer than 1 % reject at all ("drift" or
        // "small shift"), at each size; tiny batches get verdicts too (one image can reach the
        // level against 2,000 losses) and must not reject more.
        let baseline = Baseline::new(LossKind::Bce, "normal", fresh(&mut rng, 2_000))
            .unwrap_or_else(|e| panic!("{e}"));
        for size in [1, 3, 9, 50] {
            let (mut rejected, mut drift) = (0, 0);
            for _ in 0..2_000 {
                let batch = fresh(&mut rng, size);
                let verdict = batch_tests(
                    &baseline,
                    &batch,
                    BatchSides::default(),
                    0.01,
                    DEFAULT_ALPHA,
                )
                .map(|t| t.verdict);
                rejected += usize::from(matches!(
                    verdict,
                    Some(Verdict::Drift | Verdict::SmallShift)
                ));
                drift += usize::from(verdict == Some(Verdict::Drift));
            }
            assert!(
                rejected < 20 && drift <= rejected,
                "batches of {size}: {rejected} of 2,000 clean batches rejected, {drift} drift"
            );
        }
    }

    /// A shift the tests see but that is smaller than every practical threshold is a "small
    /// shift"; the same batch judged by lower thresholds is drift, with the tests that make it.
    #[test]
    fn significant_but_small_shifts_are_small_shifts() {
        let mut rng = crate::rng::SeededRng::new(8);
        let baseline = Baseline::new(LossKind::Bce, "normal", fresh(&mut rng, 10_000))
            .unwrap_or_else(|e| panic!("{e}"));
        // 20,000 images 3 % worse: plain to the tests, under the 5 % and D 0.1 thresholds.
        let slight: Vec<f32> = fresh(&mut rng, 20_000).iter().map(|l| l * 1.03).collect();
        let mut t = batch_tests(
            &baseline,
            &slight,
            BatchSides::default(),
            0.01,
            DEFAULT_ALPHA,
        )
        .unwrap_or_else(|| panic!());
        assert!(t.combined_p_value < 1e-6, "{t:?}");
        assert_eq!(t.verdict, Verdict::SmallShift, "{t:?}");
        assert!(t.large.is_empty());
        assert_eq!(t.practical, PracticalSize::default());
        t.judge(PracticalSize {
            loss_ratio: 0.02,
            ..PracticalSize::default()
        });
        assert_eq!(t.verdict, Verdict::Drift);
        assert_eq!(t.large, vec!["permutation".to_string()]);
        // Thresholds never turn "no evidence" or "too few" into drift.
        let clean = fresh(&mut rng, 200);
        let mut t = batch_tests(
            &baseline,
            &clean,
            BatchSides::default(),
            0.01,
            DEFAULT_ALPHA,
        )
        .unwrap_or_else(|| panic!());
        assert_eq!(t.verdict, Verdict::NoEvidenceOfDrift);
        t.judge(PracticalSize {
            loss_ratio: 0.0,
            distribution: 0.0,
            flagged_excess: -1.0,
            mmd: 0.0,
        });
        assert_eq!(t.verdict, Verdict::NoEvidenceOfDrift);
    }

    #[test]
    fn drifted_batches_are_caught_and_too_few_means_unreachable() {
        let mut rng = crate::rng::SeededRng::new(4);
        let baseline = Baseline::new(LossKind::Bce, "normal", fresh(&mut rng, 10_000))
            .unwrap_or_else(|e| panic!("{e}"));
        let shifted: Vec<f32> = fresh(&mut rng, 50).iter().map(|l| l * 1.3).collect();
        let t = batch_tests(
            &baseline,
            &shifted,
            BatchSides::default(),
            0.01,
            DEFAULT_ALPHA,
        )
        .unwrap_or_else(|| panic!());
        assert_eq!(t.verdict, Verdict::Drift, "{t:?}");
        assert!(t.ks.p_value < 1e-6 && t.permutation_p_value < 0.001);
        assert!(
            t.ratio_interval
                .is_some_and(|(low, high)| low > 1.2 && high < 1.4)
        );
        // Against 10,000 baseline losses one image can be judged: nine far beyond the
        // baseline are drift (as nine photographs on the MNIST model are), nine clean ones not.
        let far = vec![10.0f32; 9];
        let t = batch_tests(&baseline, &far, BatchSides::default(), 0.01, DEFAULT_ALPHA)
            .unwrap_or_else(|| panic!());
        assert_eq!((t.verdict, t.min_batch), (Verdict::Drift, 1), "{t:?}");
        let clean = fresh(&mut rng, 9);
        let t = batch_tests(
            &baseline,
            &clean,
            BatchSides::default(),
            0.01,
            DEFAULT_ALPHA,
        )
        .unwrap_or_else(|| panic!());
        assert_eq!(t.verdict, Verdict::NoEvidenceOfDrift, "{t:?}");
        // Against 20 baseline losses, two images cannot reach 1 % whatever they are; three can.
        let small = Baseline::new(LossKind::Bce, "small", fresh(&mut rng, 20))
            .unwrap_or_else(|e| panic!("{e}"));
        let t = batch_tests(
            &small,
            &[10.0, 10.0],
            BatchSides::default(),
            0.01,
            DEFAULT_ALPHA,
        )
        .unwrap_or_else(|| panic!());
        assert_eq!(
            (t.verdict, t.min_batch),
            (Verdict::TooFewImages, 3),
            "{t:?}"
        );
        let t = batch_tests(
            &small,
            &[10.0, 10.0, 10.0],
            BatchSides::default(),
            0.01,
            DEFAULT_ALPHA,
        )
        .unwrap_or_else(|| panic!());
        assert_eq!(t.verdict, Verdict::Drift, "{t:?}");
        // Same batch, same numbers (seeded): the CLI and the browser agree.
        assert_eq!(
            batch_tests(
                &baseline,
                &shifted,
                BatchSides::default(),
                0.01,
                DEFAULT_ALPHA
            ),
            batch_tests(
                &baseline,
                &shifted,
                BatchSides::default(),
                0.01,
                DEFAULT_ALPHA
            )
        );
    }

    #[test]
    fn latent_drift_is_caught_when_the_losses_look_clean() {
        let mut rng = crate::rng::SeededRng::new(5);
        let baseline = Baseline::new(LossKind::Bce, "normal", fresh(&mut rng, 10_000))
            .unwrap_or_else(|e| panic!("{e}"));
        let dims = 8;
        let codes = |rng: &mut crate::rng::SeededRng, count: usize, shift: f64| -> Vec<f32> {
            (0..count * dims)
                .map(|i| (rng.normal() + if i % dims == 0 { shift } else { 0.0 }) as f32)
                .collect()
        };
        let reference = crate::latent::LatentReference::new(dims, codes(&mut rng, 400, 0.0))
            .unwrap_or_else(|e| panic!("{e}"));
        let losses = fresh(&mut rng, 50);
        let moved = codes(&mut rng, 50, 2.0);
        let latent = Some(LatentBatch {
            reference: &reference,
            codes: &moved,
        });
        let t = batch_tests(
            &baseline,
            &losses,
            BatchSides {
                latent,
                ..BatchSides::default()
            },
            0.01,
            DEFAULT_ALPHA,
        )
        .unwrap_or_else(|| panic!());
        let mmd = t.mmd.clone().unwrap_or_else(|| panic!("no MMD test"));
        assert!(mmd.p_value < 0.002, "{mmd:?}");
        assert!(t.ks.p_value > 0.01 && t.permutation_p_value > 0.01, "{t:?}");
        assert_eq!(t.verdict, Verdict::Drift);
        // Four tests: the combined p-value is the smallest times four.
        assert!((t.combined_p_value - 4.0 * mmd.p_value).abs() < 1e-12);
        let without = batch_tests(
            &baseline,
            &losses,
            BatchSides::default(),
            0.01,
            DEFAULT_ALPHA,
        )
        .unwrap_or_else(|| panic!());
        assert_eq!(without.verdict, Verdict::NoEvidenceOfDrift);
        assert_eq!(without.mmd, None);
        // Against a reference of transformed images the MMD test is shown but does not decide:
        // the same batch is then judged by its losses alone.
        let worse = batch_tests(
            &baseline,
            &losses,
            BatchSides {
                latent,
                alternative: Alternative::Worse,
                ..BatchSides::default()
            },
            0.01,
            DEFAULT_ALPHA,
        )
        .unwrap_or_else(|| panic!());
        assert_eq!(worse.mmd, t.mmd);
        assert_eq!(worse.verdict, Verdict::NoEvidenceOfDrift, "{worse:?}");
        assert_eq!(worse.test_count(), 2);
        assert!(worse.alternative_sentence().is_some() && t.alternative_sentence().is_none());
    }

    /// Every ordering of `m` values of one sample and `n` of another, each ordering's
    /// `max(F_n − F_m)` and `max |F_n − F_m|`: the exact null distributions, by brute force.
    fn all_orderings(m: usize, n: usize) -> Vec<(f64, f64)> {
        let mut out = Vec::new();
        for mask in 0u32..(1 << (m + n)) {
            if mask.count_ones() as usize != m {
                continue;
            }
            let (mut i, mut j) = (0usize, 0usize);
            let (mut plus, mut both) = (0.0f64, 0.0f64);
            for bit in 0..m + n {
                if mask & (1 << bit) != 0 {
                    i += 1;
                } else {
                    j += 1;
                }
                let gap = j as f64 / n as f64 - i as f64 / m as f64;
                plus = plus.max(gap);
                both = both.max(gap.abs());
            }
            out.push((plus, both));
        }
        out
    }

    #[test]
    fn exact_tails_match_brute_force_both_ways_and_one_way() {
        // Unequal sizes both ways round, so the lattice's swap keeps the one-sided direction.
        for (m, n) in [(3, 4), (4, 3), (5, 5), (2, 7), (6, 4)] {
            let orderings = all_orderings(m, n);
            let total = orderings.len() as f64;
            for (plus, both) in &orderings {
                let p_plus = orderings.iter().filter(|o| o.0 >= plus - 1e-9).count() as f64 / total;
                let p_both = orderings.iter().filter(|o| o.1 >= both - 1e-9).count() as f64 / total;
                let one = ks_exact_upper_one_sided(*plus, m, n);
                let two = ks_exact_upper(*both, m, n);
                assert!(
                    (one - p_plus).abs() < 1e-12,
                    "{m} {n} D+ {plus}: {one} vs {p_plus}"
                );
                assert!(
                    (two - p_both).abs() < 1e-12,
                    "{m} {n} D {both}: {two} vs {p_both}"
                );
            }
        }
    }

    #[test]
    fn one_sided_ks_asks_only_whether_the_losses_are_larger() {
        let reference: Vec<f32> = (0..20).map(|i| i as f32).collect();
        let larger: Vec<f32> = (0..5).map(|i| 30.0 + i as f32).collect();
        let smaller: Vec<f32> = (0..5).map(|i| -10.0 + i as f32).collect();
        let up = ks_test_of(&reference, &larger, Alternative::Worse).unwrap_or_else(|| panic!());
        assert!(up.one_sided && (up.statistic - 1.0).abs() < 1e-12);
        // Only 1 of the C(25, 5) orderings puts all five above all twenty.
        assert!(
            (up.p_value - 1.0 / 53_130.0).abs() < 1e-15,
            "{}",
            up.p_value
        );
        let two = ks_test(&reference, &larger).unwrap_or_else(|| panic!());
        assert!((two.p_value - 2.0 * up.p_value).abs() < 1e-15);
        let down = ks_test_of(&reference, &smaller, Alternative::Worse).unwrap_or_else(|| panic!());
        assert_eq!(down.statistic, 0.0);
        assert_eq!(down.p_value, 1.0);
        // The asymptotic one-sided tail at 10¹⁰ cells: no overflow, no cancellation.
        let big: Vec<f32> = (0..100_000).map(|i| i as f32).collect();
        let shifted: Vec<f32> = (0..100_000).map(|i| i as f32 + 5_000.0).collect();
        let t = ks_test_of(&big, &shifted, Alternative::Worse).unwrap_or_else(|| panic!());
        assert_eq!(t.method, KsMethod::Asymptotic);
        assert!(t.p_value > 0.0 && t.p_value < 1e-100, "{}", t.p_value);
    }

    /// A reference of transformed images: a batch that is a part of it (its losses lower, as
    /// upright images' are against a rotated reference) is no drift, one that is worse still
    /// is; the usual two-sided tests call both different.
    #[test]
    fn worse_asks_for_larger_losses_only() {
        let mut rng = crate::rng::SeededRng::new(11);
        let baseline = Baseline::new(LossKind::Bce, "mixed", fresh(&mut rng, 5_000))
            .unwrap_or_else(|e| panic!("{e}"));
        let easier: Vec<f32> = fresh(&mut rng, 200).iter().map(|v| v * 0.8).collect();
        let harder: Vec<f32> = fresh(&mut rng, 200).iter().map(|v| v * 1.3).collect();
        let tested_against = |baseline: &Baseline, batch: &[f32], alternative: Alternative| {
            batch_tests(
                baseline,
                batch,
                BatchSides {
                    alternative,
                    ..BatchSides::default()
                },
                0.01,
                DEFAULT_ALPHA,
            )
            .unwrap_or_else(|| panic!())
        };
        let judge = |batch: &[f32], alternative| tested_against(&baseline, batch, alternative);
        assert_eq!(
            judge(&easier, Alternative::Different).verdict,
            Verdict::Drift
        );
        let easy = judge(&easier, Alternative::Worse);
        assert_eq!(easy.verdict, Verdict::NoEvidenceOfDrift, "{easy:?}");
        assert!(easy.ks.one_sided && easy.ks.p_value > 0.5);
        assert_eq!(judge(&harder, Alternative::Worse).verdict, Verdict::Drift);
        // A batch from the middle of a wide reference (middling noise against a reference of
        // noise from none to much): its losses lack the reference's low ones, which the
        // one-sided KS test sees, but it is not worse; only asked "different?" it is drift.
        let wide = Baseline::new(
            LossKind::Bce,
            "wide",
            (0..5_000)
                .map(|i| 0.05 + 0.3 * i as f32 / 5_000.0)
                .collect(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let middle: Vec<f32> = (0..200).map(|i| 0.17 + 0.02 * i as f32 / 200.0).collect();
        let tested = |alternative| tested_against(&wide, &middle, alternative);
        let inside = tested(Alternative::Worse);
        assert!(inside.ks.p_value < 1e-6, "{inside:?}");
        assert_eq!(inside.verdict, Verdict::NoEvidenceOfDrift, "{inside:?}");
        assert_eq!(tested(Alternative::Different).verdict, Verdict::Drift);
        // Fewer tests decide: never more images needed than for "different?".
        for n in [20, 100, 10_000] {
            let one = min_batch_of(n, 0.01, true, 5, Alternative::Worse, DEFAULT_ALPHA);
            let two = min_batch_of(n, 0.01, true, 5, Alternative::Different, DEFAULT_ALPHA);
            assert!(one <= two, "{n}: {one} {two}");
        }
    }
}
