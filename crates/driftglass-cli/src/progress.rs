//! Progress bars on stderr (hidden when stderr is not a terminal).

use indicatif::{ProgressBar, ProgressStyle};

/// A bar counting `total` items of `unit`.
pub fn bar(total: u64, message: &str, unit: &str) -> ProgressBar {
    let bar = ProgressBar::new(total);
    let template = format!(
        "{{msg:>12}} [{{bar:32}}] {{pos}}/{{len}} {unit} {{per_sec}} eta {{eta}} {{prefix}}"
    );
    if let Ok(style) = ProgressStyle::with_template(&template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(message.to_string());
    bar
}

/// Print a line above the bar, or to stderr when the bar is hidden (not a terminal).
pub fn println(bar: &ProgressBar, line: String) {
    if bar.is_hidden() {
        eprintln!("{line}");
    } else {
        bar.println(line);
    }
}

/// Per-image reconstruction losses (BCE of each image against its reconstruction) of `set`,
/// with a progress bar labelled `label`.
pub fn reconstruction_losses(
    model: &driftglass_model::Autoencoder,
    set: &driftglass_model::ImageSet,
    device: &burn::tensor::Device,
    label: &str,
) -> anyhow::Result<Vec<f32>> {
    let bar = bar(set.count as u64, label, "images");
    let results = pollster::block_on(driftglass_model::reconstruct(
        model,
        set,
        device,
        driftglass_model::SCORE_BATCH,
        |done| bar.set_position(done as u64),
    ))?;
    bar.finish_and_clear();
    Ok(results.iter().map(|r| r.bce).collect())
}
