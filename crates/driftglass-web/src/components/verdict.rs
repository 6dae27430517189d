//! The batch tests: the verdict, then each test's statistic and p-value with a plain line.

use driftglass_core::stats::{Alternative, BatchTests, KsMethod, Verdict};
use yew::prelude::*;

use crate::view;

#[derive(Properties, PartialEq)]
pub struct VerdictProps {
    pub tests: BatchTests,
    /// The batch's mean loss (the permutation test's statistic).
    pub mean_loss: Option<f64>,
    /// Under a headline that already says the verdict (the results): the tests fold away
    /// behind one line. The lesson shows them open, with their own headline.
    #[prop_or_default]
    pub compact: bool,
}

#[function_component(VerdictPanel)]
pub fn verdict_panel(props: &VerdictProps) -> Html {
    let (t, mean_loss, compact) = (&props.tests, props.mean_loss, props.compact);
    let class = match t.verdict {
        Verdict::Drift => "drift",
        Verdict::SmallShift => "small",
        Verdict::NoEvidenceOfDrift => "calm",
        Verdict::TooFewImages => "unknown",
    };
    let p = |p: f64| view::format_p(p);
    let worse = t.alternative == Alternative::Worse;
    // Where a test is shown but does not decide (a reference of transformed images).
    let shown_only = if worse { " Shown, not deciding." } else { "" };
    let detail = match t.verdict {
        Verdict::TooFewImages => format!(" — at least {} scored images are needed.", t.min_batch),
        _ => format!(
            " — the smallest p-value ×{} (the number of tests) is {} (level {}).",
            t.test_count(),
            p(t.combined_p_value),
            t.alpha
        ),
    };
    let summary_line = format!("How the tests decided{detail}");
    let headline = html! {
            <div class="headline">{ format!("Verdict: {}", t.verdict.headline()) }
                <span class="detail">{ detail.clone() }</span></div>
    };
    let sentences = html! {
        <>
            if let Some(sentence) = t.size_sentence() {
                <p class="size" data-testid={ if t.verdict == Verdict::SmallShift { "small-shift" } else { "large-changes" } }>
                    { sentence }{ if t.verdict == Verdict::SmallShift { " The thresholds are under \"Drift or small shift?\" below." } else { "" } }</p>
            }
            if let Some(sentence) = t.alternative_sentence() {
                <p class="alternative" data-testid="alternative">{ sentence }</p>
            }
        </>
    };
    let table = html! {
            <table>
                <tr><th>{ "test" }</th><th>{ "statistic" }</th><th>{ "p-value" }</th><th>{ "what it asks" }</th></tr>
                <tr><td>{ "Kolmogorov–Smirnov" }</td><td>{ format!("{} = {:.3}", if t.ks.one_sided { "D⁺" } else { "D" }, t.ks.statistic) }</td><td>{ p(t.ks.p_value) }</td>
                    <td>{ format!("{} ({}; {})",
                        if t.ks.one_sided { "Are the batch's losses larger than the baseline's?" } else { "Could the batch's losses come from the baseline's distribution?" },
                        if t.ks.one_sided { "largest gap by which the baseline's cumulative curve lies above the batch's" } else { "largest gap between the two cumulative curves" },
                        match t.ks.method {
                            KsMethod::Exact => "exact p-value",
                            KsMethod::ExactConservative => "exact p-value without ties; conservative, as some losses are equal",
                            KsMethod::Asymptotic => "asymptotic p-value",
                        }) }{ shown_only }</td></tr>
                <tr><td>{ "Permutation" }</td><td>{ mean_loss.map(|m| format!("mean {m:.4}")).unwrap_or_default() }</td><td>{ p(t.permutation_p_value) }</td>
                    <td>{ format!("Is the batch's mean loss higher than random batches of baseline images would give? ({} reshuffles)", t.permutations) }</td></tr>
                <tr><td>{ if t.flags_from_novelty { "Flagged share (novelty)" } else { "Flagged share (loss)" } }</td><td>{ format!("{} of {}", t.flagged, t.images) }</td><td>{ p(t.binomial_p_value) }</td>
                    <td>{ format!("Are more images flagged than the {:.1} % expected by chance? (beta-binomial: the baseline's own flag rate is uncertain too)", t.flag_probability * 100.0) }</td></tr>
                if let Some(m) = &t.mmd {
                    <tr data-testid="mmd-row"><td>{ "Latent MMD" }</td><td>{ format!("MMD² = {:.4}", m.statistic) }</td><td>{ p(m.p_value) }</td>
                        <td>{ format!("Do the images sit where the reference images sit in the encoder's code space, even if they are redrawn well? ({} batch codes against {} reference codes, Gaussian kernel, {} reshuffles)",
                            m.batch_codes, m.reference_codes, m.permutations) }{ shown_only }</td></tr>
                }
                if let Some((low, high)) = t.ratio_interval {
                    <tr><td>{ "Loss ratio" }</td><td>{ view::format_ratio(t.loss_ratio) }</td><td>{ "—" }</td>
                        <td>{ format!("95 % bootstrap interval {} to {}: how sure the ratio is, given the batch size.", view::format_ratio(low), view::format_ratio(high)) }</td></tr>
                }
            </table>
    };
    html! {
        <div class={classes!("verdict", class)} data-testid="verdict" data-verdict={format!("{:?}", t.verdict)}
            data-combined-p={t.combined_p_value.to_string()} data-ks-p={t.ks.p_value.to_string()}
            data-ks-d={t.ks.statistic.to_string()} data-permutation-p={t.permutation_p_value.to_string()}
            data-binomial-p={t.binomial_p_value.to_string()}
            data-mmd-p={t.mmd.as_ref().map(|m| m.p_value.to_string()).unwrap_or_default()}
            data-mmd={t.mmd.as_ref().map(|m| m.statistic.to_string()).unwrap_or_default()}
            data-alternative={if worse { "worse" } else { "different" }}>
            if compact {
                <details class="tests" data-testid="tests-detail">
                    <summary>{ summary_line }</summary>
                    { sentences }
                    { table }
                </details>
            } else {
                { headline }
                { sentences }
                { table }
            }
        </div>
    }
}
