//! The batch summary: counts, mean loss against the baseline, the loss ratio and its alert, the
//! verdict panel and the histogram. Renders the batch's view state; computes nothing.

use yew::prelude::*;

use crate::components::verdict::VerdictPanel;
use crate::components::what_changed::WhatChanged;
use crate::state::BatchView;
use crate::view;

#[derive(Properties, PartialEq)]
pub struct SummaryProps {
    /// The run that made the batch (for tests and stale runs).
    pub run: u32,
    pub view: BatchView,
    /// Loss ratio at which the alert shows.
    pub alert_ratio: f64,
}

#[function_component(Summary)]
pub fn summary(props: &SummaryProps) -> Html {
    let SummaryProps {
        run,
        view,
        alert_ratio,
    } = props;
    let (run, alert_ratio) = (*run, *alert_ratio);

    let b = &view.batch;
    let drifted = b.loss_ratio.is_some_and(|ratio| ratio >= alert_ratio);
    // Where the tests cannot tell yet, the alert says so itself: one message, not a red
    // "drift" above "too few images to tell".
    let too_few = b
        .tests
        .as_ref()
        .filter(|t| t.verdict == driftglass_core::stats::Verdict::TooFewImages)
        .map(|t| t.min_batch);
    let histogram = view
        .histogram
        .as_ref()
        .map(|h| Html::from_html_unchecked(AttrValue::from(view::histogram_svg(h))));
    html! {
        <section class={classes!("summary", drifted.then_some("drifted"))} data-testid="summary"
            data-complete={view.complete.to_string()} data-run={run.to_string()}>
            <div><span class="label">{ "images" }</span>
                <span data-testid="scored">{ b.scored }</span>{ " scored, " }
                <span data-testid="failed">{ b.failed }</span>{ " failed" }</div>
            <div><span class="label">{ "mean loss" }</span>
                <span data-testid="mean-loss" data-value={ b.mean_loss.map(|m| m.to_string()).unwrap_or_default() }>
                    { b.mean_loss.map(|m| format!("{m:.4}")).unwrap_or_else(|| "—".into()) }</span>
                { format!(" (baseline {:.4})", view.baseline_mean) }</div>
            <div><span class="label">{ "loss ratio" }</span>
                <span class="ratio" data-testid="ratio" data-value={ b.loss_ratio.map(|r| r.to_string()).unwrap_or_default() }>
                    { b.loss_ratio.map(view::format_ratio).unwrap_or_else(|| "—".into()) }</span></div>
            <div><span class="label">{ "flagged" }</span>
                <span data-testid="flagged">{ b.flagged }</span>
                { format!(" at {:.0} % false-positive rate", b.flag_rate * 100.0) }</div>
            if drifted {
                <div class="alert" role="alert" data-testid="alert">
                    { match too_few {
                        Some(needed) => format!("This batch is redrawn {} worse than the baseline (alert at {}), but the tests need at least {needed} scored images to tell whether it drifted.",
                            b.loss_ratio.map(view::format_ratio).unwrap_or_default(), view::format_ratio(alert_ratio)),
                        None => format!("Drift: this batch is redrawn {} worse than the baseline (alert at {}).",
                            b.loss_ratio.map(view::format_ratio).unwrap_or_default(), view::format_ratio(alert_ratio)),
                    } }
                </div>
            } else if b.loss_ratio.is_some() {
                <div class="calm" data-testid="no-alert">
                    { format!("No alert: the loss ratio is below {}.", view::format_ratio(alert_ratio)) }
                </div>
            }
            if let Some(tests) = &b.tests {
                <VerdictPanel tests={tests.clone()} mean_loss={b.mean_loss} />
                <WhatChanged tests={tests.clone()} />
            }
            if let Some(svg) = histogram {
                <figure class="histogram" data-testid="histogram">{ svg }</figure>
            }
        </section>
    }
}
