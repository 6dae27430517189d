//! View state: what the page shows, built from the model crate's results. Pure Rust, no DOM,
//! so it is unit-tested natively. The UI never computes statistics; it renders these.

use base64::Engine;
use driftglass_model::report::{ImageOutcome, ImageReport, Report};
use driftglass_model::{IMAGE_PIXELS, IMAGE_SIDE};

/// One card in the grid.
#[derive(Debug, Clone, PartialEq)]
pub struct Card {
    /// Position in the drop, for stable ordering.
    pub index: usize,
    /// File name as dropped.
    pub name: String,
    /// Scores or the reason there are none.
    pub outcome: ImageOutcome,
    /// PNG data URLs of input, reconstruction and error map (absent for failed inputs).
    pub images: Option<CardImages>,
}

/// The three pictures of a card.
#[derive(Debug, Clone, PartialEq)]
pub struct CardImages {
    pub input: String,
    pub reconstruction: String,
    pub error: String,
}

/// How the grid is ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortOrder {
    /// As dropped.
    #[default]
    Input,
    /// Highest loss first.
    MostDrifted,
}

/// Cards in display order, optionally only flagged ones.
pub fn arrange(cards: &[Card], order: SortOrder, flagged_only: bool) -> Vec<&Card> {
    let mut shown: Vec<&Card> = cards
        .iter()
        .filter(|c| !flagged_only || matches!(&c.outcome, ImageOutcome::Scored(s) if s.flagged))
        .collect();
    if order == SortOrder::MostDrifted {
        shown.sort_by(|a, b| loss_of(b).total_cmp(&loss_of(a)));
    }
    shown
}

fn loss_of(card: &Card) -> f64 {
    match &card.outcome {
        ImageOutcome::Scored(s) => s.loss,
        ImageOutcome::Failed { .. } => f64::NEG_INFINITY,
    }
}

/// Cards from a report and the matching input/reconstruction pixels of the scored images.
pub fn cards(report: &Report, pixels: &[(Vec<f32>, Vec<f32>)]) -> Vec<Card> {
    let mut scored = pixels.iter();
    report
        .images
        .iter()
        .enumerate()
        .map(|(index, ImageReport { name, outcome })| {
            let images = match outcome {
                ImageOutcome::Scored(_) => {
                    scored.next().map(|(input, reconstruction)| CardImages {
                        input: gray_png_data_url(input),
                        reconstruction: gray_png_data_url(reconstruction),
                        error: error_png_data_url(input, reconstruction),
                    })
                }
                ImageOutcome::Failed { .. } => None,
            };
            Card {
                index,
                name: name.clone(),
                outcome: outcome.clone(),
                images,
            }
        })
        .collect()
}

/// "+44.2 %" for a ratio of 1.442.
pub fn format_ratio(ratio: f64) -> String {
    format!("{:+.1} %", (ratio - 1.0) * 100.0)
}

fn png_data_url(bytes: &[u8], color: image::ExtendedColorType) -> String {
    let mut png = Vec::new();
    let encoder = image::codecs::png::PngEncoder::new(&mut png);
    let side = IMAGE_SIDE as u32;
    if image::ImageEncoder::write_image(encoder, bytes, side, side, color).is_err() {
        return String::new();
    }
    format!(
        "data:image/png;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(&png)
    )
}

/// A 28×28 gray image as a PNG data URL.
pub fn gray_png_data_url(pixels: &[f32]) -> String {
    let bytes: Vec<u8> = pixels
        .iter()
        .take(IMAGE_PIXELS)
        .map(|v| (v.clamp(0.0, 1.0) * 255.0).round() as u8)
        .collect();
    png_data_url(&bytes, image::ExtendedColorType::L8)
}

/// Per-pixel absolute error as a heat map (black → red → yellow → white).
pub fn error_png_data_url(input: &[f32], reconstruction: &[f32]) -> String {
    let rgb: Vec<u8> = input
        .iter()
        .zip(reconstruction)
        .take(IMAGE_PIXELS)
        .flat_map(|(a, b)| heat((a - b).abs()))
        .collect();
    png_data_url(&rgb, image::ExtendedColorType::Rgb8)
}

/// Heat colour of an error in [0, 1].
pub fn heat(error: f32) -> [u8; 3] {
    let e = error.clamp(0.0, 1.0) * 3.0;
    let channel = |x: f32| (x.clamp(0.0, 1.0) * 255.0).round() as u8;
    [channel(e), channel(e - 1.0), channel(e - 2.0)]
}

#[cfg(test)]
mod tests {
    use super::*;
    use driftglass_model::report::ImageScore;

    fn scored(name: &str, loss: f64, flagged: bool) -> ImageReport {
        ImageReport {
            name: name.into(),
            outcome: ImageOutcome::Scored(ImageScore {
                loss,
                mse: 0.0,
                percentile: 0.0,
                p_value: 0.5,
                flagged,
                width: 28,
                height: 28,
            }),
        }
    }

    #[test]
    fn heat_map_runs_black_red_yellow_white() {
        assert_eq!(heat(0.0), [0, 0, 0]);
        assert_eq!(heat(1.0 / 3.0), [255, 0, 0]);
        assert_eq!(heat(2.0 / 3.0), [255, 255, 0]);
        assert_eq!(heat(1.0), [255, 255, 255]);
    }

    #[test]
    fn data_urls_are_pngs() {
        let url = gray_png_data_url(&[0.5; IMAGE_PIXELS]);
        assert!(
            url.starts_with("data:image/png;base64,iVBORw0KGgo"),
            "{url}"
        );
    }

    #[test]
    fn sorting_and_filtering() {
        let failed = ImageReport {
            name: "bad.txt".into(),
            outcome: ImageOutcome::Failed {
                error: "nope".into(),
            },
        };
        let images = vec![
            scored("a", 0.1, false),
            failed,
            scored("b", 0.3, true),
            scored("c", 0.2, false),
        ];
        let cards: Vec<Card> = images
            .into_iter()
            .enumerate()
            .map(|(index, r)| Card {
                index,
                name: r.name,
                outcome: r.outcome,
                images: None,
            })
            .collect();
        let names = |v: Vec<&Card>| v.iter().map(|c| c.name.clone()).collect::<Vec<_>>();
        assert_eq!(
            names(arrange(&cards, SortOrder::MostDrifted, false)),
            ["b", "c", "a", "bad.txt"]
        );
        assert_eq!(names(arrange(&cards, SortOrder::Input, true)), ["b"]);
        assert_eq!(format_ratio(1.442), "+44.2 %");
        assert_eq!(format_ratio(0.9), "-10.0 %");
    }
}
