//! The one message a batch gets, read before any detail: the verdict in a few words, how much
//! worse the batch is redrawn, how many images are flagged, and where the loss ratio stands
//! against the user's alert line. The page's summary and the HTML report both show it.

use driftglass_core::report::BatchSummary;
use driftglass_core::stats::Verdict;

use crate::svg::format_ratio;

/// What a headline's colour means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Drift,
    SmallShift,
    NoEvidence,
    /// Too few images, or not tested yet.
    Unknown,
}

impl Tone {
    /// The CSS class that colours it.
    pub fn class(self) -> &'static str {
        match self {
            Tone::Drift => "tone-drift",
            Tone::SmallShift => "tone-small",
            Tone::NoEvidence => "tone-calm",
            Tone::Unknown => "tone-unknown",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Headline {
    pub tone: Tone,
    /// "Drift", "Small shift", "No evidence of drift", "Too few images to tell", "Not tested yet".
    pub title: String,
    /// The size and the counts, then what the verdict rests on where it needs saying.
    pub sentence: String,
    /// The loss ratio against the alert line: `Some(true)` above it.
    pub above_alert: Option<bool>,
    /// The alert line's words ("Above the alert line (+10.0 %).").
    pub alert: Option<String>,
}

/// The batch's headline; `None` before anything is scored.
pub fn headline(batch: &BatchSummary, alert_ratio: f64) -> Option<Headline> {
    if batch.scored == 0 {
        return None;
    }
    let size = match batch.loss_ratio {
        Some(r) if r >= 1.0 => format!("Redrawn {} worse than the baseline", format_ratio(r)),
        Some(r) => format!(
            "Redrawn {:.1} % better than the baseline",
            (1.0 - r) * 100.0
        ),
        None => "No loss ratio".to_string(),
    };
    let images = if batch.scored == 1 { "image" } else { "images" };
    let counts = format!("{} of {} {images} flagged", batch.flagged, batch.scored);
    let (tone, reason) = match &batch.tests {
        Some(t) => match t.verdict {
            Verdict::Drift => (Tone::Drift, String::new()),
            Verdict::SmallShift => (
                Tone::SmallShift,
                " The tests find a change, but smaller than the practical thresholds.".into(),
            ),
            Verdict::NoEvidenceOfDrift => (Tone::NoEvidence, String::new()),
            Verdict::TooFewImages => (
                Tone::Unknown,
                format!(
                    " The tests need at least {} scored images against this baseline.",
                    t.min_batch
                ),
            ),
        },
        None => (Tone::Unknown, String::new()),
    };
    // The verdict's own words ("no evidence of drift"), as a title.
    let title = match &batch.tests {
        Some(t) => {
            let words = t.verdict.headline();
            let mut chars = words.chars();
            chars
                .next()
                .map(|c| c.to_uppercase().chain(chars).collect())
                .unwrap_or_default()
        }
        None => "Not tested yet".to_string(),
    };
    let above_alert = batch.loss_ratio.map(|r| r >= alert_ratio);
    let alert = above_alert.map(|above| {
        format!(
            "{} the alert line ({}).",
            if above { "Above" } else { "Below" },
            format_ratio(alert_ratio)
        )
    });
    Some(Headline {
        tone,
        title,
        sentence: format!("{size}; {counts}.{reason}"),
        above_alert,
        alert,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(scored: usize, flagged: usize, ratio: Option<f64>) -> BatchSummary {
        BatchSummary {
            inputs: scored,
            scored,
            failed: 0,
            mean_loss: ratio.map(|r| r * 0.08),
            loss_ratio: ratio,
            flagged,
            flag_rate: 0.01,
            tests: None,
        }
    }

    /// A batch of `losses` tested against `n` baseline losses between 0.05 and 0.15.
    fn tested(losses: &[f32], n: usize) -> BatchSummary {
        use driftglass_core::LossKind;
        use driftglass_core::baseline::Baseline;
        use driftglass_core::stats::{Alternative, BatchSides, batch_tests};
        let baseline = Baseline::new(
            LossKind::Bce,
            "t",
            (0..n)
                .map(|i| 0.05 + (i * 7919 % n) as f32 / n as f32 / 10.0)
                .collect(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let sides = BatchSides {
            latent: None,
            properties: None,
            novelty: None,
            alternative: Alternative::Different,
        };
        let mean = losses.iter().map(|&l| f64::from(l)).sum::<f64>() / losses.len() as f64;
        let ratio = mean / baseline.mean();
        let flagged = losses.iter().filter(|&&l| l > 0.149).count();
        BatchSummary {
            tests: batch_tests(&baseline, losses, sides, 0.01, 0.01),
            ..batch(losses.len(), flagged, Some(ratio))
        }
    }

    #[test]
    fn the_verdict_is_the_title_and_too_few_says_how_many() {
        let drift = headline(&tested(&[0.5; 50], 1000), 1.1);
        assert_eq!(
            drift.as_ref().map(|h| (h.tone, h.title.as_str())),
            Some((Tone::Drift, "Drift"))
        );
        assert_eq!(drift.and_then(|h| h.above_alert), Some(true));
        let spread: Vec<f32> = (0..50).map(|i| 0.0505 + i as f32 / 500.0).collect();
        let calm = headline(&tested(&spread, 1000), 1.1);
        assert_eq!(
            calm.map(|h| (h.tone, h.title)),
            Some((Tone::NoEvidence, "No evidence of drift".into()))
        );
        let few = headline(&tested(&[0.5], 20), 1.1);
        assert_eq!(few.as_ref().map(|h| h.tone), Some(Tone::Unknown));
        assert!(
            few.as_ref()
                .is_some_and(|h| h.title == "Too few images to tell"
                    && h.sentence.contains("The tests need at least")),
            "{few:?}"
        );
    }

    #[test]
    fn nothing_scored_has_no_headline() {
        assert_eq!(headline(&batch(0, 0, None), 1.1), None);
    }

    #[test]
    fn untested_batches_say_so_with_their_size() {
        let h = headline(&batch(9, 9, Some(6.715)), 1.1);
        assert_eq!(
            h.as_ref()
                .map(|h| (h.tone, h.title.as_str(), h.sentence.as_str())),
            Some((
                Tone::Unknown,
                "Not tested yet",
                "Redrawn +571.5 % worse than the baseline; 9 of 9 images flagged."
            ))
        );
        assert_eq!(h.and_then(|h| h.above_alert), Some(true));
    }

    #[test]
    fn better_batches_and_one_image_read_naturally() {
        let h = headline(&batch(1, 0, Some(0.95)), 1.1);
        assert_eq!(
            h.as_ref().map(|h| h.sentence.as_str()),
            Some("Redrawn 5.0 % better than the baseline; 0 of 1 image flagged.")
        );
        assert_eq!(
            h.and_then(|h| h.alert),
            Some("Below the alert line (+10.0 %).".into())
        );
    }
}
