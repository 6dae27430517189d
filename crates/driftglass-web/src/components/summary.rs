//! The batch summary: one headline (the verdict, its size and the alert line), the counts, mean
//! loss against the baseline and loss ratio, the tests one click away, and the histogram.
//! Renders the batch's view state; computes nothing.

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
    // One message per batch: the verdict, its size and the alert line together.
    let headline = driftglass_html::headline::headline(b, alert_ratio);
    let tone = headline.as_ref().map(|h| h.tone.class());
    let histogram = view
        .histogram
        .as_ref()
        .map(|h| Html::from_html_unchecked(AttrValue::from(view::histogram_svg(h))));
    html! {
        <section class={classes!("summary", tone)} data-testid="summary"
            data-complete={view.complete.to_string()} data-run={run.to_string()}>
            if let Some(h) = &headline {
                <div class={classes!("headline-box", h.tone.class())} data-testid="headline">
                    <strong class="title">{ &h.title }</strong>
                    <span class="sentence">{ " " }{ &h.sentence }</span>
                    if let Some(text) = &h.alert {
                        <span class="alert-line" data-testid={ if h.above_alert == Some(true) { "alert" } else { "no-alert" } }>
                            { " " }{ text }</span>
                    }
                </div>
            }
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
                { format!(" of {} ({:.0} % expected by chance)", b.scored, b.flag_rate * 100.0) }</div>
            if let Some(tests) = &b.tests {
                <VerdictPanel tests={tests.clone()} mean_loss={b.mean_loss} compact=true />
                <WhatChanged tests={tests.clone()} />
            }
            if let Some(svg) = histogram {
                <figure class="histogram" data-testid="histogram">{ svg }</figure>
            }
        </section>
    }
}
