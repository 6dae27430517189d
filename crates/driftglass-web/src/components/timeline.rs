//! The timeline of finished batches: loss ratio and combined p-value, batch after batch.

use std::rc::Rc;

use driftglass_core::stats::DEFAULT_ALPHA;
use yew::prelude::*;

use crate::view::{self, TimelinePoint};

#[derive(Properties, PartialEq)]
pub struct TimelineProps {
    pub points: Rc<Vec<TimelinePoint>>,
    /// Loss ratio of the alert line.
    pub alert_ratio: f64,
    pub on_clear: Callback<()>,
}

#[function_component(Timeline)]
pub fn timeline(props: &TimelineProps) -> Html {
    let svg = use_memo(
        (props.points.clone(), props.alert_ratio.to_bits()),
        |(points, ratio)| view::timeline_svg(points, f64::from_bits(*ratio), DEFAULT_ALPHA),
    );
    if props.points.is_empty() {
        return Html::default();
    }
    let on_clear = props.on_clear.reform(|_: MouseEvent| ());
    // One batch is no timeline yet: a line says so instead of a plot with one point.
    html! {
        <section class="timeline" data-testid="timeline" data-points={props.points.len().to_string()}>
            <h2>{ "Timeline of batches" }
                <button onclick={on_clear} data-testid="clear-timeline">{ "Clear" }</button></h2>
            if props.points.len() > 1 {
                { Html::from_html_unchecked(AttrValue::from((*svg).clone())) }
            } else {
                <p class="hint">{ "Each batch you score is added here; from the second one on, the timeline shows how the loss ratio and the verdict move from batch to batch." }</p>
            }
        </section>
    }
}
