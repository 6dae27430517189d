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

/// Reconstructions (losses, pixels, projected codes) of every image of `set`, with a progress
/// bar labelled `label`.
pub fn reconstruct_set(
    network: &driftglass_core::DirectNetwork,
    set: &driftglass_core::ImageSet,
    label: &str,
) -> anyhow::Result<Vec<driftglass_core::Reconstruction>> {
    let bar = bar(set.count as u64, label, "images");
    let results =
        driftglass_core::reconstruct(network, set, driftglass_core::SCORE_BATCH, |done| {
            bar.set_position(done as u64)
        })?;
    bar.finish_and_clear();
    Ok(results)
}

/// Per-image losses and projected codes of a set.
pub struct SetScores {
    /// BCE of each image against its reconstruction.
    pub losses: Vec<f32>,
    /// Projected encoder codes, concatenated ([`driftglass_core::latent::LATENT_DIMS`] each).
    pub codes: Vec<f32>,
    /// Novelty scores (see [`driftglass_core::novelty`]); empty without a novelty reference.
    pub novelty: Vec<f32>,
}

impl SetScores {
    /// The scores of `set` from its reconstructions (one each, in order); novelty scores given
    /// a novelty reference.
    pub fn of(
        set: &driftglass_core::ImageSet,
        reconstructions: &[driftglass_core::Reconstruction],
        novelty: Option<&driftglass_core::novelty::NoveltyReference>,
    ) -> SetScores {
        SetScores {
            losses: reconstructions.iter().map(|r| r.bce).collect(),
            codes: reconstructions
                .iter()
                .flat_map(|r| r.latent.iter().copied())
                .collect(),
            novelty: novelty
                .map(|n| driftglass_core::reference::novelty_scores(n.fit(), set, reconstructions))
                .unwrap_or_default(),
        }
    }

    /// The losses, codes and novelty scores of the images at `indices`, in that order.
    pub fn pick(&self, indices: &[usize]) -> SetScores {
        let dims = driftglass_core::latent::LATENT_DIMS;
        SetScores {
            losses: indices.iter().map(|i| self.losses[*i]).collect(),
            codes: indices
                .iter()
                .flat_map(|i| self.codes[i * dims..(i + 1) * dims].iter().copied())
                .collect(),
            novelty: indices
                .iter()
                .filter_map(|i| self.novelty.get(*i).copied())
                .collect(),
        }
    }
}

/// Per-image reconstruction losses (BCE of each image against its reconstruction), latent
/// codes and, given a novelty reference, novelty scores of `set`, with a progress bar labelled
/// `label`.
pub fn score_set(
    network: &driftglass_core::DirectNetwork,
    set: &driftglass_core::ImageSet,
    label: &str,
    novelty: Option<&driftglass_core::novelty::NoveltyReference>,
) -> anyhow::Result<SetScores> {
    let results = reconstruct_set(network, set, label)?;
    Ok(SetScores::of(set, &results, novelty))
}
