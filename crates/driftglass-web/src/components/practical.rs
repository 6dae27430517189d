//! The practical thresholds: how large a significant change must be to be called drift rather
//! than a small shift.

use driftglass_core::stats::PracticalSize;
use yew::prelude::*;

use crate::components::model_bar::input_value;
use crate::state::Action;

#[derive(Properties, PartialEq)]
pub struct PracticalProps {
    pub practical: PracticalSize,
    pub on_action: Callback<Action>,
}

/// One threshold's field: `scale` turns the shown number into the threshold (100 for percent).
fn field(
    label: &'static str,
    test_id: &'static str,
    shown: f64,
    step: &'static str,
    unit: &'static str,
    on_change: Callback<f64>,
) -> Html {
    let onchange = Callback::from(move |event: Event| {
        if let Some(value) = input_value(&event).and_then(|i| i.value().parse::<f64>().ok()) {
            on_change.emit(value);
        }
    });
    html! {
        <label>{ label }
            <input type="number" min="0" {step} data-testid={test_id} value={shown.to_string()} {onchange} />
            { unit }</label>
    }
}

#[function_component(Practical)]
pub fn practical(props: &PracticalProps) -> Html {
    let p = props.practical;
    let set = |update: fn(&mut PracticalSize, f64)| {
        let on_action = props.on_action.clone();
        Callback::from(move |value: f64| {
            let mut next = p;
            update(&mut next, value);
            on_action.emit(Action::Practical(next));
        })
    };
    html! {
        <details class="practical" data-testid="practical">
            <summary>{ "Drift or small shift?" }</summary>
            <p class="hint">{ "A batch the tests find different is called drift when a significant test's change reaches its threshold (judged by its 95 % lower bound), else a small shift: real, but smaller than these. The defaults sit above what clean digits of other writers show against an MNIST baseline, and below every drift set the evaluation uses." }</p>
            <div class="fields">
                { field("Mean loss up by at least", "practical-ratio", (p.loss_ratio * 100.0 * 1e6).round() / 1e6, "1", " %",
                    set(|p, v| p.loss_ratio = v / 100.0)) }
                { field("or a Kolmogorov–Smirnov D of at least", "practical-d", p.distribution, "0.01", "",
                    set(|p, v| p.distribution = v)) }
                { field("or flagged images beyond chance of at least", "practical-flagged", (p.flagged_excess * 100.0 * 1e6).round() / 1e6, "1", " points",
                    set(|p, v| p.flagged_excess = v / 100.0)) }
                { field("or a code MMD² of at least", "practical-mmd", p.mmd, "0.01", "",
                    set(|p, v| p.mmd = v)) }
            </div>
        </details>
    }
}
