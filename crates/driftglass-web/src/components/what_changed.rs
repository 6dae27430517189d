//! "What changed": the image properties that differ from the model's reference images, in
//! plain sentences ranked by effect size, each with a small plot of the batch against the
//! reference. Renders the batch tests' view state; computes nothing.

use driftglass_core::stats::BatchTests;
use yew::prelude::*;

use crate::view;

#[derive(Properties, PartialEq)]
pub struct WhatChangedProps {
    pub tests: BatchTests,
}

#[function_component(WhatChanged)]
pub fn what_changed(props: &WhatChangedProps) -> Html {
    let t = &props.tests;
    let Some(properties) = &t.properties else {
        // Nothing to show: one quiet line, not a panel.
        return html! {
            <p class="hint what-changed-none" data-testid="what-changed" data-stored="false">
                <span data-testid="what-changed-none">{ "What changed (brightness, colour, sharpness, …) cannot be told for this model: its file keeps no image properties of its reference images (models trained or recalibrated now keep them)." }</span>
            </p>
        };
    };
    let changed: Vec<_> = properties
        .changed
        .iter()
        .filter_map(|p| properties.tests.iter().find(|test| test.property == *p))
        .collect();
    let names = properties
        .changed
        .iter()
        .map(|p| p.name())
        .collect::<Vec<_>>()
        .join(",");
    html! {
        <section class="what-changed" data-testid="what-changed" data-stored="true" data-changed={names}>
            <h3>{ "What changed" }</h3>
            if changed.is_empty() {
                <p class="calm" data-testid="what-changed-nothing">{ format!(
                    "No image property differs from the reference images' ({} tested: size, format, brightness, contrast, saturation, white balance, sharpness, JPEG blockiness, clipping).",
                    properties.tests.len()) }</p>
            } else {
                <ol class="changes">
                    { for changed.iter().map(|test| html! {
                        <li data-testid="change" data-property={test.property.name()} data-p={test.p_value.to_string()}>
                            <span class="sentence">{ &test.sentence }</span>
                            { Html::from_html_unchecked(AttrValue::from(view::property_plot_svg(test))) }
                        </li>
                    }) }
                </ol>
            }
            <p class="hint">{ format!(
                "Each image is measured as decoded, before resizing. One two-sample test per property (Kolmogorov–Smirnov; chi-square for the file format's compression family) against the model's {} reference images; a property counts as changed when its p-value × {} (every test of the verdict) is below {}. Largest change first (the median's shift in the reference's interquartile ranges).",
                properties.reference_images, t.test_count(), t.alpha) }</p>
        </section>
    }
}
