//! The batch controls: the alert threshold, the grid's order, and the flagged-only filter.

use yew::prelude::*;

use crate::components::model_bar::input_value;
use crate::state::Action;
use crate::view::SortOrder;

#[derive(Properties, PartialEq)]
pub struct ControlsProps {
    pub sort: SortOrder,
    pub flagged_only: bool,
    pub alert_ratio: f64,
    pub on_action: Callback<Action>,
}

#[function_component(Controls)]
pub fn controls(props: &ControlsProps) -> Html {
    let on_threshold = {
        let on_action = props.on_action.clone();
        Callback::from(move |event: Event| {
            let percent = input_value(&event).and_then(|i| i.value().parse::<f64>().ok());
            if let Some(percent) = percent.filter(|p| p.is_finite() && *p >= 0.0) {
                on_action.emit(Action::AlertRatio(1.0 + percent / 100.0));
            }
        })
    };
    let toggle_sort = props.on_action.reform(|_: MouseEvent| Action::ToggleSort);
    let toggle_flagged = props
        .on_action
        .reform(|_: MouseEvent| Action::ToggleFlagged);
    html! {
        <div class="controls">
            <label>{ "Alert when the loss ratio exceeds +" }
                <input type="number" min="0" max="1000" step="1" data-testid="threshold"
                    value={ format!("{:.0}", (props.alert_ratio - 1.0) * 100.0) } onchange={on_threshold} />
                { " %" }</label>
            <span class="hint">{ "Default +10 %: a batch of 50 or more clean digits stays within a few percent of the baseline's mean loss; noisy digits, letters and clothes land far above it. Small batches vary more; lower the threshold to catch subtler shifts, raise it to alarm less." }</span>
            <button onclick={toggle_sort} data-testid="sort">{ if props.sort == SortOrder::MostDrifted { "Show in input order" } else { "Most drifted first" } }</button>
            <button onclick={toggle_flagged} data-testid="flagged-only">{ if props.flagged_only { "Show all" } else { "Only flagged" } }</button>
        </div>
    }
}
