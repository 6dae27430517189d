//! View state: what the page shows, built from the model crate's results. Pure Rust, no DOM,
//! so it is unit-tested natively. The UI never computes statistics; it renders these.

use std::fmt::Write as _;
use std::rc::Rc;

use base64::Engine;
use driftglass_core::report::{ImageOutcome, ImageReport};
pub use driftglass_html::svg::{
    TimelinePoint, format_p, format_ratio, histogram_svg, property_plot_svg, timeline_svg,
    xml_escape,
};

/// A one-click demo set: a small IDX file in `web/demo/`, fetched only when clicked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DemoSet {
    /// Stable id (also the `data-testid` suffix of its button).
    pub id: &'static str,
    /// Button label.
    pub title: &'static str,
    /// Path relative to the page.
    pub path: &'static str,
    /// What the teacher can say about it.
    pub blurb: &'static str,
}

/// The demo sets, in the order of the experiment: clean, noisy, letters, clothes.
/// Written by `driftglass demo-sets` (see `cargo xtask fixtures`), 200 images each.
pub const DEMO_SETS: [DemoSet; 4] = [
    DemoSet {
        id: "mnist",
        title: "MNIST digits",
        path: "demo/mnist.idx",
        blurb: "Handwritten digits like the training data: the ratio stays near 0 %.",
    },
    DemoSet {
        id: "noisy",
        title: "Noisy digits",
        path: "demo/noisy.idx",
        blurb: "The same digits with Gaussian noise (factor 0.5): the autoencoder removes the noise, so the error is large.",
    },
    DemoSet {
        id: "letters",
        title: "Letters (notMNIST-style)",
        path: "demo/letters.idx",
        blurb: "Letters A–J drawn from fonts: a different kind of image, redrawn badly.",
    },
    DemoSet {
        id: "fashion",
        title: "Fashion-MNIST",
        path: "demo/fashion.idx",
        blurb: "Photos of clothes at the same size: far from anything the model learned.",
    },
];

/// A set of the colour photo demo: `PHOTO_DEMO_COUNT` files `{id}/0000.{extension}`, … in
/// `PHOTO_DEMO_DIR`, made by `cargo xtask photo-demo` from photographs in scikit-image's wheel.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PhotoSet {
    pub id: &'static str,
    pub title: &'static str,
    pub blurb: &'static str,
    pub extension: &'static str,
}

/// Where the colour photo demo's model and sets are served from.
pub const PHOTO_DEMO_DIR: &str = "demo/photos";
/// Files per set of the colour photo demo.
pub const PHOTO_DEMO_COUNT: usize = 40;
/// The colour model's label in the model bar.
pub const PHOTO_MODEL_LABEL: &str = "colour photo demo model";

/// The colour photo demo's sets: 64×64 patches of four photographs the colour model was not
/// trained on (other patches of the same photographs), and the same patches drifted.
pub const PHOTO_SETS: [PhotoSet; 7] = [
    PhotoSet {
        id: "clean",
        title: "Clean patches",
        blurb: "Other patches of the photographs the colour model was trained on: no drift.",
        extension: "png",
    },
    PhotoSet {
        id: "cast",
        title: "Colour cast",
        blurb: "The clean patches with another white balance (red × 1.15, blue × 0.8).",
        extension: "png",
    },
    PhotoSet {
        id: "darker",
        title: "Darker",
        blurb: "The clean patches at 60 % exposure.",
        extension: "png",
    },
    PhotoSet {
        id: "blurred",
        title: "Blurred",
        blurb: "The clean patches blurred (Gaussian, σ 1.2 pixels).",
        extension: "png",
    },
    PhotoSet {
        id: "jpeg",
        title: "JPEG q15",
        blurb: "The clean patches saved as JPEG at quality 15.",
        extension: "jpg",
    },
    PhotoSet {
        id: "gray",
        title: "Grayscale",
        blurb: "The clean patches in grayscale.",
        extension: "png",
    },
    PhotoSet {
        id: "illustrations",
        title: "Illustrations",
        blurb: "Flat-colour drawings instead of photographs: a different kind of picture.",
        extension: "png",
    },
];

/// One card in the grid.
#[derive(Debug, Clone, PartialEq)]
pub struct Card {
    /// Position in the drop, for stable ordering.
    pub index: usize,
    /// File name as dropped.
    pub name: String,
    /// Scores or the reason there are none.
    pub outcome: ImageOutcome,
    /// Input and reconstruction, 8 bits per pixel (absent for failed inputs): a card's
    /// pictures are encoded only when it is shown, and most cards of a large drop never are.
    pub pixels: Option<Rc<CardPixels>>,
}

/// The pixels behind a card's pictures: square images in 0–255, `channels` planes each (1:
/// gray, 3: R, G, B).
#[derive(Debug, Clone, PartialEq)]
pub struct CardPixels {
    pub input: Vec<u8>,
    pub reconstruction: Vec<u8>,
    pub channels: usize,
}

/// The three pictures of a card, as PNG data URLs.
#[derive(Debug, Clone, PartialEq)]
pub struct CardImages {
    pub input: String,
    pub reconstruction: String,
    pub error: String,
}

/// Values in [0, 1] as 8-bit gray.
fn to_gray(values: &[f32]) -> Vec<u8> {
    values
        .iter()
        .map(|v| (v.clamp(0.0, 1.0) * 255.0).round() as u8)
        .collect()
}

impl CardPixels {
    /// Quantise an input and its reconstruction (`channels` planes each).
    pub fn new(input: &[f32], reconstruction: &[f32], channels: usize) -> Self {
        CardPixels {
            input: to_gray(input),
            reconstruction: to_gray(reconstruction),
            channels: channels.max(1),
        }
    }

    /// The card's pictures: input and reconstruction (in colour for colour models) and the
    /// error map (per pixel, the mean over channels of |input − reconstruction|).
    pub fn images(&self) -> CardImages {
        let channels = self.channels.max(1);
        let side = side_of(self.input.len().min(self.reconstruction.len()) / channels);
        let area = side * side;
        let rgb: Vec<u8> = (0..area)
            .flat_map(|p| {
                let sum: u32 = (0..channels)
                    .map(|c| {
                        u32::from(
                            self.input[c * area + p].abs_diff(self.reconstruction[c * area + p]),
                        )
                    })
                    .sum();
                heat(sum as f32 / (255.0 * channels as f32))
            })
            .collect();
        CardImages {
            input: planes_png_data_url(&self.input, channels, side),
            reconstruction: planes_png_data_url(&self.reconstruction, channels, side),
            error: png_data_url(&rgb, side, image::ExtendedColorType::Rgb8),
        }
    }
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

/// The positions (in input order) of the cards to show, in display order, optionally only
/// flagged ones.
pub fn arrange<'a>(
    cards: impl IntoIterator<Item = &'a Card>,
    order: SortOrder,
    flagged_only: bool,
) -> Vec<usize> {
    let mut shown: Vec<(usize, f64)> = cards
        .into_iter()
        .enumerate()
        .filter(|(_, c)| {
            !flagged_only || matches!(&c.outcome, ImageOutcome::Scored(s) if s.flagged)
        })
        .map(|(i, c)| (i, drift_of(c)))
        .collect();
    if order == SortOrder::MostDrifted {
        // Stable: equal scores keep their input order.
        shown.sort_by(|a, b| b.1.total_cmp(&a.1));
    }
    shown.into_iter().map(|(i, _)| i).collect()
}

/// The numbers under a card: the loss with its percentile, the novelty score where the model
/// has one, and the image's p-value (the novelty score's, else the loss's).
pub fn card_scores(s: &driftglass_core::report::ImageScore) -> String {
    let novelty = s
        .novelty
        .map(|t| format!(" · novelty {t:.1}"))
        .unwrap_or_default();
    format!(
        "loss {:.4} · {}{novelty} · p = {}",
        s.loss,
        above_baseline(s.percentile),
        format_p(s.p_value)
    )
}

/// Where a loss sits among the baseline's, in words: "above 71.3 % of the baseline"; at the
/// ends "above every baseline image" and "below every baseline image" (a rounded "100.0th
/// percentile" would claim the first where it is not so).
pub fn above_baseline(percentile: f64) -> String {
    if percentile >= 100.0 {
        "above every baseline image".into()
    } else if percentile <= 0.0 {
        "below every baseline image".into()
    } else if percentile >= 99.95 {
        "above 99.9 % of the baseline".into()
    } else {
        format!("above {percentile:.1} % of the baseline")
    }
}

fn drift_of(card: &Card) -> f64 {
    match &card.outcome {
        ImageOutcome::Scored(s) => s.drift_score(),
        ImageOutcome::Failed { .. } => f64::NEG_INFINITY,
    }
}

/// Cards for `images` (numbered from `first_index`) and the matching input/reconstruction
/// pixels of the scored ones, in order.
pub fn cards<'a>(
    images: &[ImageReport],
    first_index: usize,
    channels: usize,
    pixels: impl IntoIterator<Item = (&'a [f32], &'a [f32])>,
) -> Vec<Card> {
    let mut scored = pixels.into_iter();
    images
        .iter()
        .enumerate()
        .map(|(offset, ImageReport { name, outcome })| {
            let index = first_index + offset;
            let images = match outcome {
                ImageOutcome::Scored(_) => scored.next().map(|(input, reconstruction)| {
                    Rc::new(CardPixels::new(input, reconstruction, channels))
                }),
                ImageOutcome::Failed { .. } => None,
            };
            Card {
                index,
                name: name.clone(),
                outcome: outcome.clone(),
                pixels: images,
            }
        })
        .collect()
}

/// One training step on the live curve: its position in epochs (e.g. 2.5 = half-way through
/// the third epoch) and its loss.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CurvePoint {
    pub at_epoch: f64,
    pub loss: f64,
}

impl CurvePoint {
    /// Batch `batch` of `batches` of 1-based `epoch`, at `loss`.
    pub fn at(epoch: usize, batch: usize, batches: usize, loss: f64) -> CurvePoint {
        CurvePoint {
            at_epoch: (epoch - 1) as f64 + batch as f64 / batches.max(1) as f64,
            loss,
        }
    }
}

/// The first `most` of a training run's sample images as pictures: each noisy input beside its
/// reconstruction (`image_len` values of `channels` planes each, concatenated).
pub fn sample_pictures(
    noisy: &[f32],
    reconstructed: &[f32],
    image_len: usize,
    channels: usize,
    most: usize,
) -> Vec<(String, String)> {
    let picture = |values| image_png_data_url(values, channels);
    noisy
        .chunks(image_len.max(1))
        .zip(reconstructed.chunks(image_len.max(1)))
        .take(most)
        .map(|(n, r)| (picture(n), picture(r)))
        .collect()
}

/// Most step points drawn; longer runs are thinned to this many (every k-th step).
pub const CURVE_MAX_STEPS: usize = 600;

/// The live training curve: every step's training loss (thin line), and after each epoch the
/// epoch's mean training loss and its validation loss (dots joined by lines).
/// `epochs` holds `(epoch, train_loss, validation_loss)`; `total_epochs` fixes the x axis.
pub fn loss_curve_svg(
    steps: &[CurvePoint],
    epochs: &[(usize, f64, f64)],
    total_epochs: usize,
) -> String {
    const W: f64 = 640.0;
    const H: f64 = 220.0;
    const LEFT: f64 = 56.0;
    const RIGHT: f64 = 16.0;
    const TOP: f64 = 16.0;
    const BOTTOM: f64 = 34.0;
    let stride = steps.len().div_ceil(CURVE_MAX_STEPS).max(1);
    let shown: Vec<CurvePoint> = steps
        .iter()
        .copied()
        .filter(|p| p.loss.is_finite())
        .step_by(stride)
        .collect();
    let values = shown
        .iter()
        .map(|p| p.loss)
        .chain(epochs.iter().flat_map(|&(_, t, v)| [t, v]))
        .filter(|v| v.is_finite());
    let (low, high) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    let (low, high) = if low.is_finite() {
        let pad = ((high - low) * 0.08).max(1e-4);
        ((low - pad).max(0.0), high + pad)
    } else {
        (0.0, 1.0)
    };
    let span_x = total_epochs.max(1) as f64;
    let x = |epoch: f64| LEFT + (W - LEFT - RIGHT) * (epoch / span_x).clamp(0.0, 1.0);
    let y = |loss: f64| TOP + (H - TOP - BOTTOM) * (high - loss) / (high - low);
    let mut svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="{W}" height="{H}" role="img" aria-label="Training and validation loss" font-family="sans-serif" font-size="11" data-steps="{}" data-epochs="{}">"#,
        steps.len(),
        epochs.len()
    );
    svg.push_str(r##"<rect width="100%" height="100%" fill="#ffffff"/>"##);
    for i in 0..=4 {
        let value = low + (high - low) * i as f64 / 4.0;
        let _ = write!(
            svg,
            r##"<line x1="{LEFT}" y1="{0:.2}" x2="{1:.2}" y2="{0:.2}" stroke="#e3e7eb"/><text x="{2:.2}" y="{3:.2}" text-anchor="end" fill="#5b6570">{value:.4}</text>"##,
            y(value),
            W - RIGHT,
            LEFT - 4.0,
            y(value) + 4.0
        );
    }
    let ticks = total_epochs.clamp(1, 10);
    for i in 0..=ticks {
        let epoch = span_x * i as f64 / ticks as f64;
        let _ = write!(
            svg,
            r##"<text x="{:.2}" y="{:.2}" text-anchor="middle" fill="#5b6570">{epoch:.0}</text>"##,
            x(epoch),
            H - BOTTOM + 14.0
        );
    }
    let _ = write!(
        svg,
        r##"<text x="{:.2}" y="{:.2}" text-anchor="middle" fill="#5b6570">epoch</text>"##,
        LEFT + (W - LEFT - RIGHT) / 2.0,
        H - 4.0
    );
    let polyline = |points: &mut dyn Iterator<Item = (f64, f64)>| {
        points
            .map(|(ex, loss)| format!("{:.2},{:.2}", x(ex), y(loss)))
            .collect::<Vec<_>>()
            .join(" ")
    };
    if !shown.is_empty() {
        let _ = write!(
            svg,
            r##"<polyline class="steps" fill="none" stroke="#9ec5e8" stroke-width="1" points="{}"/>"##,
            polyline(&mut shown.iter().map(|p| (p.at_epoch, p.loss)))
        );
    }
    for (class, colour, pick) in [
        ("train", "#1565c0", 1usize),
        ("validation", "#e65100", 2usize),
    ] {
        let value = |e: &(usize, f64, f64)| if pick == 1 { e.1 } else { e.2 };
        let _ = write!(
            svg,
            r##"<polyline class="{class}" fill="none" stroke="{colour}" stroke-width="2" points="{}"/>"##,
            polyline(&mut epochs.iter().map(|e| (e.0 as f64, value(e))))
        );
        for e in epochs {
            let _ = write!(
                svg,
                r##"<circle class="{class}" cx="{:.2}" cy="{:.2}" r="3" fill="{colour}"/>"##,
                x(e.0 as f64),
                y(value(e))
            );
        }
    }
    let _ = write!(
        svg,
        r##"<text x="{0:.2}" y="12" text-anchor="end" fill="#1565c0">training loss (per epoch; light: per step)</text><text x="{0:.2}" y="26" text-anchor="end" fill="#e65100">validation loss</text>"##,
        W - RIGHT
    );
    svg.push_str("</svg>");
    svg
}

/// A duration for people: "45 s", "3 min 05 s", "1 h 02 min".
pub fn format_duration(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min {:02} s", s / 60, s % 60),
        _ => format!("{} h {:02} min", s / 3600, (s % 3600) / 60),
    }
}

/// Side of a square image of `values` pixels (28 for 784; images here are always square).
fn side_of(values: usize) -> usize {
    // Floored, so that `side * side <= values` whatever the length.
    values.isqrt()
}

fn png_data_url(bytes: &[u8], side: usize, color: image::ExtendedColorType) -> String {
    let mut png = Vec::new();
    let encoder = image::codecs::png::PngEncoder::new(&mut png);
    let side = side as u32;
    if image::ImageEncoder::write_image(encoder, bytes, side, side, color).is_err() {
        return String::new();
    }
    format!(
        "data:image/png;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(&png)
    )
}

/// A square image of `channels` planes in 0–255 (1: gray; 3: R, G, B, shown in colour) as a
/// PNG data URL.
fn planes_png_data_url(bytes: &[u8], channels: usize, side: usize) -> String {
    let area = side * side;
    if channels == 3 && bytes.len() >= 3 * area {
        let rgb: Vec<u8> = (0..area)
            .flat_map(|p| [bytes[p], bytes[area + p], bytes[2 * area + p]])
            .collect();
        png_data_url(&rgb, side, image::ExtendedColorType::Rgb8)
    } else {
        png_data_url(&bytes[..area], side, image::ExtendedColorType::L8)
    }
}

/// A square image of `channels` planes of values in [0, 1] (28×28 gray, or the side its
/// length says) as a PNG data URL.
pub fn image_png_data_url(pixels: &[f32], channels: usize) -> String {
    let channels = channels.max(1);
    let side = side_of(pixels.len() / channels);
    planes_png_data_url(&to_gray(&pixels[..channels * side * side]), channels, side)
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

    #[test]
    fn a_loss_is_placed_among_the_baseline_in_words() {
        assert_eq!(above_baseline(100.0), "above every baseline image");
        assert_eq!(above_baseline(99.97), "above 99.9 % of the baseline");
        assert_eq!(above_baseline(71.26), "above 71.3 % of the baseline");
        assert_eq!(above_baseline(0.0), "below every baseline image");
    }
    use driftglass_core::report::ImageScore;

    fn scored(name: &str, loss: f64, flagged: bool) -> ImageReport {
        ImageReport {
            name: name.into(),
            outcome: ImageOutcome::Scored(ImageScore {
                loss,
                mse: 0.0,
                percentile: 0.0,
                p_value: 0.5,
                flagged,
                loss_p_value: 0.5,
                novelty: None,
                properties: driftglass_core::properties::ImageProperties {
                    width: 28,
                    height: 28,
                    ..Default::default()
                },
            }),
        }
    }

    #[test]
    fn demo_sets_have_unique_ids_and_idx_paths() {
        let mut ids: Vec<&str> = DEMO_SETS.iter().map(|d| d.id).collect();
        ids.dedup();
        assert_eq!(ids.len(), 4);
        for set in DEMO_SETS {
            assert!(driftglass_core::idx::is_idx_name(set.path), "{}", set.path);
            let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../web")
                .join(set.path);
            let parsed = std::fs::read(&file)
                .map_err(|e| e.to_string())
                .and_then(|bytes| {
                    driftglass_core::idx::parse_images(bytes).map_err(|e| e.to_string())
                });
            assert!(
                matches!(&parsed, Ok(s) if s.count == 200),
                "{}: {:?}",
                file.display(),
                parsed.map(|s| s.count)
            );
        }
    }

    #[test]
    fn loss_curve_draws_steps_and_one_dot_per_epoch_and_series() {
        let steps: Vec<CurvePoint> = (0..40)
            .map(|i| CurvePoint {
                at_epoch: i as f64 / 10.0,
                loss: 0.3 - i as f64 * 0.004,
            })
            .collect();
        let epochs = [
            (1, 0.27, 0.25),
            (2, 0.22, 0.21),
            (3, 0.2, 0.19),
            (4, 0.18, 0.18),
        ];
        let svg = loss_curve_svg(&steps, &epochs, 10);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert_eq!(svg.matches(r#"<circle class="train""#).count(), 4);
        assert_eq!(svg.matches(r#"<circle class="validation""#).count(), 4);
        assert_eq!(svg.matches(r#"class="steps""#).count(), 1);
        assert!(svg.contains(r#"data-steps="40""#) && svg.contains(r#"data-epochs="4""#));
        // Thinned, never empty, for long runs; empty input still draws axes.
        let long: Vec<CurvePoint> = (0..10_000)
            .map(|i| CurvePoint {
                at_epoch: i as f64 / 1000.0,
                loss: 0.1,
            })
            .collect();
        let thinned = loss_curve_svg(&long, &[], 10);
        let points = thinned
            .split(r#"points=""#)
            .nth(1)
            .map(|p| p.split('"').next().unwrap_or("").split(' ').count());
        assert!(
            points.is_some_and(|n| n <= CURVE_MAX_STEPS && n > 100),
            "{points:?}"
        );
        assert!(loss_curve_svg(&[], &[], 0).contains("epoch"));
    }

    #[test]
    fn durations_read_like_people_say_them() {
        assert_eq!(format_duration(4.4), "4 s");
        assert_eq!(format_duration(185.0), "3 min 05 s");
        assert_eq!(format_duration(3720.0), "1 h 02 min");
        assert_eq!(format_duration(-3.0), "0 s");
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
        let url = image_png_data_url(&[0.5; 784], 1);
        assert!(
            url.starts_with("data:image/png;base64,iVBORw0KGgo"),
            "{url}"
        );
        // The PNG's own header says its size: 28×28, or 64×64 for larger inputs.
        for side in [28usize, 64] {
            let url = image_png_data_url(&vec![0.5; side * side], 1);
            let png = base64::engine::general_purpose::STANDARD
                .decode(url.trim_start_matches("data:image/png;base64,"))
                .unwrap_or_default();
            let width = u32::from_be_bytes([png[16], png[17], png[18], png[19]]);
            assert_eq!(width as usize, side);
            let card = CardPixels::new(&vec![0.0; side * side], &vec![1.0; side * side], 1);
            let images = card.images();
            assert_eq!(images.input, image_png_data_url(&vec![0.0; side * side], 1));
            assert!(images.error.starts_with("data:image/png;base64,") && images.error.len() > 30);
        }
    }

    /// Colour cards: input and reconstruction as RGB PNGs of the planes, the error map the
    /// mean over channels.
    #[test]
    fn color_cards_show_rgb_and_the_mean_error() {
        let decode = |url: &str| {
            let png = base64::engine::general_purpose::STANDARD
                .decode(url.trim_start_matches("data:image/png;base64,"))
                .unwrap_or_default();
            image::load_from_memory(&png)
                .map(|i| i.to_rgb8())
                .unwrap_or_else(|e| panic!("{e}"))
        };
        let side = 32;
        let area = side * side;
        // Input pure red; reconstruction red with blue 0.6 (error 0.2 on average).
        let input: Vec<f32> = (0..3 * area).map(|i| f32::from(i < area)).collect();
        let redrawn: Vec<f32> = (0..3 * area)
            .map(|i| match i / area {
                0 => 1.0,
                1 => 0.0,
                _ => 0.6,
            })
            .collect();
        let images = CardPixels::new(&input, &redrawn, 3).images();
        let shown = decode(&images.input);
        assert_eq!(shown.dimensions(), (32, 32));
        assert_eq!(shown.get_pixel(5, 7).0, [255, 0, 0]);
        assert_eq!(
            decode(&images.reconstruction).get_pixel(0, 0).0,
            [255, 0, 153]
        );
        assert_eq!(decode(&images.error).get_pixel(3, 3).0, heat(51.0 / 255.0));
        assert_eq!(image_png_data_url(&input, 3), images.input);
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
        let built = super::cards(&images, 10, 1, []);
        assert_eq!(built[1].index, 11);
        assert!(built.iter().all(|c| c.pixels.is_none()));
        let cards: Vec<Card> = images
            .into_iter()
            .enumerate()
            .map(|(index, r)| Card {
                index,
                name: r.name,
                outcome: r.outcome,
                pixels: None,
            })
            .collect();
        let names = |v: Vec<usize>| v.iter().map(|i| cards[*i].name.clone()).collect::<Vec<_>>();
        assert_eq!(
            names(arrange(&cards, SortOrder::MostDrifted, false)),
            ["b", "c", "a", "bad.txt"]
        );
        assert_eq!(names(arrange(&cards, SortOrder::Input, true)), ["b"]);
        assert_eq!(format_ratio(1.442), "+44.2 %");
        assert_eq!(format_p(0.0421), "0.042");
        assert_eq!(format_p(3.14e-5), "3.1e-5");
        assert_eq!(format_p(0.0), "< 1e-300");
        assert_eq!(format_p(8.54e-217), "8.5e-217");
        assert_eq!(format_ratio(0.9), "-10.0 %");
    }
}
