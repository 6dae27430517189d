//! "What changed": plain image properties, measured on each decoded image before it is resized,
//! and per batch a two-sample test of each against the values the model file keeps from its
//! calibration images, with sentences ranked by effect size.
//!
//! The properties (values in [0, 1] are of 8-bit values / 255, alpha flattened onto black as
//! in preprocessing):
//!
//! | property | definition |
//! | --- | --- |
//! | `width`, `height` | pixels of the decoded image |
//! | `pixels` | width · height |
//! | `aspect` | width / height |
//! | `brightness` | mean luma (Rec. 709 weights on the stored values) |
//! | `contrast` | standard deviation of luma over its mean (RMS contrast relative to the brightness: an exposure change alone leaves it as it is); 0 for a black image |
//! | `red`, `green`, `blue` | mean of each channel (reported, not tested: content moves them more than a white balance does) |
//! | `warmth`, `tint` | the white balance, from the colour of the image's edges (the gray-edge hypothesis: edges average to gray whatever the scene): with e_c the mean absolute difference between neighbouring pixels in channel c (plus 1 % of the three's mean), warmth = ln(e_R / e_B), tint = ln(e_G / √(e_R e_B)). A change of white balance (each channel times its own factor) shifts both by the logarithms of the factors, whatever the image shows; an exposure change leaves them as they are; 0 for gray images |
//! | `saturation` | mean HSV saturation, (max − min) / max of R, G, B, after a gray-world white balance (each channel divided by its mean over the image: a colour cast shows in the colour balance, not here); 0 for gray images |
//! | `sharpness` | variance of the 4-neighbour Laplacian of luma over the interior pixels, divided by the variance of luma (so that a change of contrast alone leaves it as it is); 0 for a flat image |
//! | `blockiness` | mean absolute luma step across the edges of the 8×8 JPEG block grid, divided by the mean step elsewhere (about 1 without block artefacts) |
//! | `clipped` | share of pixels whose luma is within 1/255 of 0 or 1 |
//!
//! and the file's format (`png`, `jpeg`, …), compared as counts of compression families:
//! JPEG, WebP, and lossless (PNG, GIF, BMP and IDX, which hold the same pixels: MNIST digits
//! as PNG files are no drift from the IDX file they came from).
//!
//! Per batch ([`property_tests`]): for each numeric property, the two-sample
//! Kolmogorov–Smirnov test of the batch's values against the reference values; for the format,
//! a chi-square test of the counts. A property "changed" when its p-value times the number of
//! tests the verdict combines (Bonferroni, over the loss, latent and property tests together)
//! is below the level. The changes are ranked by effect size: the shift of the batch's median
//! from the reference's in units of the reference's interquartile range (on a log scale for
//! the scale-like properties: size, aspect, contrast, sharpness, blockiness; for the format,
//! the total variation distance between the shares over 0.25), ties broken by a fixed order (size, format, brightness, saturation,
//! blockiness, sharpness, contrast, warmth, tint, clipped) that names the simpler explanation
//! first. The properties are chosen to be nearly independent of each other: darker images keep
//! their contrast, saturation and white balance; blur and JPEG keep their brightness.

use std::collections::BTreeMap;

use image::DynamicImage;
use serde::{Deserialize, Serialize};

use crate::preprocess::LUMA_WEIGHTS;
use crate::rng::SeededRng;

/// Most values per property a model file keeps (a seeded sample beyond that).
pub const MAX_REFERENCE_VALUES: usize = 2_000;
/// Side of the JPEG block grid [`ImageProperties::blockiness`] looks at.
const BLOCK: usize = 8;

/// The properties of one decoded image (see the module's table). Reports written before they
/// were measured read as zeros with an empty format.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ImageProperties {
    pub width: u32,
    pub height: u32,
    pub format: String,
    pub brightness: f32,
    pub contrast: f32,
    pub red: f32,
    pub green: f32,
    pub blue: f32,
    pub warmth: f32,
    pub tint: f32,
    pub saturation: f32,
    pub sharpness: f32,
    pub blockiness: f32,
    pub clipped: f32,
}

/// The numeric properties tested per batch, in the tie-break order of the ranking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Property {
    Pixels,
    Aspect,
    Format,
    Brightness,
    Saturation,
    Blockiness,
    Sharpness,
    Contrast,
    Warmth,
    Tint,
    Clipped,
}

impl Property {
    /// Every property, in the ranking's tie-break order.
    pub const ALL: [Property; 11] = [
        Property::Pixels,
        Property::Aspect,
        Property::Format,
        Property::Brightness,
        Property::Saturation,
        Property::Blockiness,
        Property::Sharpness,
        Property::Contrast,
        Property::Warmth,
        Property::Tint,
        Property::Clipped,
    ];

    /// The numeric ones (all but the format).
    pub fn numeric() -> impl Iterator<Item = Property> {
        Property::ALL.into_iter().filter(|p| *p != Property::Format)
    }

    /// Its name in reports and model files.
    pub fn name(self) -> &'static str {
        match self {
            Property::Pixels => "pixels",
            Property::Aspect => "aspect",
            Property::Format => "format",
            Property::Brightness => "brightness",
            Property::Saturation => "saturation",
            Property::Blockiness => "blockiness",
            Property::Sharpness => "sharpness",
            Property::Contrast => "contrast",
            Property::Warmth => "warmth",
            Property::Tint => "tint",
            Property::Clipped => "clipped",
        }
    }

    /// What it is, in words, for sentences and plots.
    pub fn label(self) -> &'static str {
        match self {
            Property::Pixels => "image size",
            Property::Aspect => "aspect ratio",
            Property::Format => "file format",
            Property::Brightness => "mean brightness",
            Property::Saturation => "mean saturation",
            Property::Blockiness => "JPEG blockiness",
            Property::Sharpness => "sharpness",
            Property::Contrast => "contrast",
            Property::Warmth => "warmth (white balance, red against blue)",
            Property::Tint => "tint (white balance, green against magenta)",
            Property::Clipped => "share of clipped pixels",
        }
    }

    /// The change in a word or two: (lower, higher).
    fn directions(self) -> (&'static str, &'static str) {
        match self {
            Property::Pixels => ("smaller images", "larger images"),
            Property::Aspect => ("taller images", "wider images"),
            Property::Format => ("other file formats", "other file formats"),
            Property::Brightness => ("darker", "brighter"),
            Property::Saturation => ("less colourful", "more colourful"),
            Property::Blockiness => ("fewer compression blocks", "compression blocks"),
            Property::Sharpness => ("blurrier", "sharper"),
            Property::Contrast => ("lower contrast", "higher contrast"),
            Property::Warmth => ("cooler colours", "warmer colours"),
            Property::Tint => ("more magenta", "greener"),
            Property::Clipped => ("fewer clipped pixels", "more clipped pixels"),
        }
    }
}

impl ImageProperties {
    /// The value of a numeric property (`None` for the format).
    pub fn value(&self, property: Property) -> Option<f32> {
        Some(match property {
            Property::Pixels => self.width as f32 * self.height as f32,
            Property::Aspect => self.width as f32 / self.height.max(1) as f32,
            Property::Format => return None,
            Property::Brightness => self.brightness,
            Property::Saturation => self.saturation,
            Property::Blockiness => self.blockiness,
            Property::Sharpness => self.sharpness,
            Property::Contrast => self.contrast,
            Property::Warmth => self.warmth,
            Property::Tint => self.tint,
            Property::Clipped => self.clipped,
        })
    }

    /// Measure a decoded image (`format` as the preprocessing names it), in one pass over its
    /// pixels (no copy of the image beyond its luma).
    pub fn measure(image: &DynamicImage, format: &str) -> ImageProperties {
        let (width, height) = (image.width() as usize, image.height() as usize);
        // Formats without a fast path are converted once, for both passes.
        let converted = match image {
            DynamicImage::ImageLuma8(_)
            | DynamicImage::ImageRgb8(_)
            | DynamicImage::ImageRgba8(_) => None,
            other => Some(other.to_rgba32f()),
        };
        let mut sums = Sums::new(width, height);
        for_each_rgb(image, converted.as_ref(), &mut |rgb| sums.add(rgb));
        // Second pass: saturation after gray-world white balance (each channel over its mean),
        // so that a colour cast shows as colour balance, not as saturation.
        let means = sums
            .channels
            .map(|s| (s / (width * height).max(1) as f64) as f32);
        let mut saturation = 0.0f64;
        for_each_rgb(image, converted.as_ref(), &mut |rgb| {
            saturation += f64::from(balanced_saturation(rgb, means))
        });
        sums.saturation = saturation;
        sums.finish(width, height, format)
    }

    /// Measure a gray image of `width`×`height` values in [0, 1] (IDX images).
    pub fn of_gray(values: &[f32], width: usize, height: usize, format: &str) -> ImageProperties {
        let mut sums = Sums::new(width, height);
        values.iter().for_each(|v| sums.add([*v; 3]));
        sums.finish(width, height, format)
    }
}

/// (max − min) / max of R, G and B, each divided by its image mean first (0 for black pixels,
/// and for channels whose mean is 0 the value stands as it is).
#[inline]
fn balanced_saturation(rgb: [f32; 3], means: [f32; 3]) -> f32 {
    let [r, g, b] = [0, 1, 2].map(|c| {
        if means[c] > 1e-6 {
            rgb[c] / means[c]
        } else {
            rgb[c]
        }
    });
    let (max, min) = (r.max(g).max(b), r.min(g).min(b));
    if max > 0.0 { (max - min) / max } else { 0.0 }
}

/// Each pixel of `image`, row by row, as R, G, B in [0, 1], alpha flattened onto black (what
/// colour models take, and what the properties measure). `converted`: the image as RGBA
/// floats, for the formats without a fast path here (converted here when `None`).
pub(crate) fn for_each_rgb(
    image: &DynamicImage,
    converted: Option<&image::Rgba32FImage>,
    f: &mut dyn FnMut([f32; 3]),
) {
    let byte = |v: u8| f32::from(v) / 255.0;
    match (image, converted) {
        (_, Some(rgba)) => rgba.as_raw().chunks_exact(4).for_each(|p| {
            let alpha = p[3].clamp(0.0, 1.0);
            f([p[0], p[1], p[2]].map(|v| (v * alpha).clamp(0.0, 1.0)))
        }),
        (DynamicImage::ImageLuma8(buffer), None) => {
            buffer.as_raw().iter().for_each(|v| f([byte(*v); 3]))
        }
        (DynamicImage::ImageRgb8(buffer), None) => buffer
            .as_raw()
            .chunks_exact(3)
            .for_each(|p| f([byte(p[0]), byte(p[1]), byte(p[2])])),
        (DynamicImage::ImageRgba8(buffer), None) => buffer.as_raw().chunks_exact(4).for_each(|p| {
            let alpha = byte(p[3]);
            f([byte(p[0]) * alpha, byte(p[1]) * alpha, byte(p[2]) * alpha])
        }),
        (other, None) => other.to_rgba32f().as_raw().chunks_exact(4).for_each(|p| {
            let alpha = p[3].clamp(0.0, 1.0);
            f([p[0], p[1], p[2]].map(|v| (v * alpha).clamp(0.0, 1.0)))
        }),
    }
}

/// What [`ImageProperties`] accumulates in its pass over the pixels.
struct Sums {
    width: usize,
    luma: Vec<f32>,
    channels: [f64; 3],
    saturation: f64,
    /// The row above (and, left of the current pixel, the current row): for the edges.
    row: Vec<[f32; 3]>,
    /// Sum of the absolute differences between neighbouring pixels, per channel, and how many.
    edges: [f64; 3],
    steps: usize,
}

impl Sums {
    fn new(width: usize, height: usize) -> Sums {
        Sums {
            width: width.max(1),
            luma: Vec::with_capacity(width * height),
            channels: [0.0; 3],
            saturation: 0.0,
            row: vec![[0.0; 3]; width.max(1)],
            edges: [0.0; 3],
            steps: 0,
        }
    }

    #[inline]
    fn add(&mut self, rgb: [f32; 3]) {
        let [r, g, b] = rgb;
        let at = self.luma.len();
        let (x, y) = (at % self.width, at / self.width);
        self.luma
            .push(LUMA_WEIGHTS[0] * r + LUMA_WEIGHTS[1] * g + LUMA_WEIGHTS[2] * b);
        self.channels[0] += f64::from(r);
        self.channels[1] += f64::from(g);
        self.channels[2] += f64::from(b);
        for neighbour in [
            (x > 0).then(|| self.row[x - 1]),
            (y > 0).then(|| self.row[x]),
        ]
        .into_iter()
        .flatten()
        {
            for c in 0..3 {
                self.edges[c] += f64::from((rgb[c] - neighbour[c]).abs());
            }
            self.steps += 1;
        }
        self.row[x] = rgb;
    }

    fn finish(self, width: usize, height: usize, format: &str) -> ImageProperties {
        // White balance from the edges' colour (gray edge): each channel's mean step, plus 1 %
        // of their mean (so that a channel without edges gives a finite value, and an exposure
        // change, which scales all three, none).
        let mean_step = |c: usize| self.edges[c] / self.steps.max(1) as f64;
        let floor = 0.01 * (mean_step(0) + mean_step(1) + mean_step(2)) / 3.0 + 1e-12;
        let (edge_r, edge_g, edge_b) = (
            mean_step(0) + floor,
            mean_step(1) + floor,
            mean_step(2) + floor,
        );
        let warmth = (edge_r / edge_b).ln();
        let tint = (edge_g / (edge_r * edge_b).sqrt()).ln();
        let luma = self.luma;
        let area = luma.len();
        let n = area.max(1) as f64;
        let brightness = luma.iter().map(|v| f64::from(*v)).sum::<f64>() / n;
        let [red, green, blue] = self.channels.map(|s| s / n);
        let variance = luma
            .iter()
            .map(|v| (f64::from(*v) - brightness).powi(2))
            .sum::<f64>()
            / n;
        let saturation = self.saturation / n;
        let at = |x: usize, y: usize| f64::from(luma[y * width + x]);
        // Sharpness: variance of the Laplacian over the interior, relative to luma's variance.
        let mut laplacian = (0.0f64, 0.0f64, 0usize);
        if width >= 3 && height >= 3 && area == width * height {
            for y in 1..height - 1 {
                for x in 1..width - 1 {
                    let l =
                        at(x - 1, y) + at(x + 1, y) + at(x, y - 1) + at(x, y + 1) - 4.0 * at(x, y);
                    laplacian.0 += l;
                    laplacian.1 += l * l;
                    laplacian.2 += 1;
                }
            }
        }
        let sharpness = if laplacian.2 > 0 && variance > 1e-12 {
            let count = laplacian.2 as f64;
            let mean_l = laplacian.0 / count;
            (laplacian.1 / count - mean_l * mean_l).max(0.0) / variance
        } else {
            0.0
        };
        // Blockiness: steps across the 8×8 grid's edges against the other steps.
        let (mut edge, mut edges, mut inner, mut inners) = (0.0f64, 0usize, 0.0f64, 0usize);
        let mut tally = |step: f64, on_grid: bool| {
            if on_grid {
                edge += step;
                edges += 1;
            } else {
                inner += step;
                inners += 1;
            }
        };
        if area == width * height {
            for y in 0..height {
                for x in 1..width {
                    tally((at(x, y) - at(x - 1, y)).abs(), x % BLOCK == 0);
                }
            }
            for y in 1..height {
                for x in 0..width {
                    tally((at(x, y) - at(x, y - 1)).abs(), y % BLOCK == 0);
                }
            }
        }
        let blockiness = if edges > 0 && inners > 0 && inner > 1e-12 {
            (edge / edges as f64) / (inner / inners as f64)
        } else {
            1.0
        };
        let clipped = luma
            .iter()
            .filter(|v| **v <= 1.0 / 255.0 || **v >= 254.0 / 255.0)
            .count() as f64
            / n;
        ImageProperties {
            width: width as u32,
            height: height as u32,
            format: format.to_string(),
            brightness: brightness as f32,
            contrast: if brightness > 1e-9 {
                (variance.sqrt() / brightness) as f32
            } else {
                0.0
            },
            red: red as f32,
            green: green as f32,
            blue: blue as f32,
            warmth: warmth as f32,
            tint: tint as f32,
            saturation: saturation as f32,
            sharpness: sharpness as f32,
            blockiness: blockiness as f32,
            clipped: clipped as f32,
        }
    }
}

/// The properties of a model's calibration images, kept in its file: per numeric property its
/// values, sorted (a seeded sample of [`MAX_REFERENCE_VALUES`] where there were more), and the
/// count of each file format.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PropertyReference {
    /// Calibration images measured.
    pub images: usize,
    /// Sorted values per property name.
    pub values: BTreeMap<String, Vec<f32>>,
    /// Images per file format.
    pub formats: BTreeMap<String, usize>,
}

impl PropertyReference {
    /// The reference of `images` (seeded: the same images give the same file).
    pub fn new(images: &[ImageProperties]) -> Option<PropertyReference> {
        if images.is_empty() {
            return None;
        }
        let mut order: Vec<usize> = (0..images.len()).collect();
        if images.len() > MAX_REFERENCE_VALUES {
            SeededRng::new(0x5052_4F50).shuffle(&mut order);
            order.truncate(MAX_REFERENCE_VALUES);
        }
        let values = Property::numeric()
            .map(|property| {
                let mut values: Vec<f32> = order
                    .iter()
                    .filter_map(|i| images[*i].value(property))
                    .filter(|v| v.is_finite())
                    .collect();
                values.sort_by(f32::total_cmp);
                (property.name().to_string(), values)
            })
            .collect();
        let mut formats = BTreeMap::new();
        for image in images {
            *formats.entry(image.format.clone()).or_insert(0) += 1;
        }
        Some(PropertyReference {
            images: images.len(),
            values,
            formats,
        })
    }

    /// The sorted reference values of `property`.
    pub fn values(&self, property: Property) -> &[f32] {
        self.values
            .get(property.name())
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }
}

/// Five quantiles (5 %, 25 %, 50 %, 75 %, 95 %) of sorted values, for the plots.
pub fn quantiles(sorted: &[f32]) -> [f64; 5] {
    [0.05, 0.25, 0.5, 0.75, 0.95].map(|q| {
        if sorted.is_empty() {
            return f64::NAN;
        }
        let at = q * (sorted.len() - 1) as f64;
        let (low, high) = (at.floor() as usize, at.ceil() as usize);
        let weight = at - low as f64;
        f64::from(sorted[low]) * (1.0 - weight) + f64::from(sorted[high]) * weight
    })
}

/// One property's test of a batch against the reference.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PropertyTest {
    pub property: Property,
    /// Kolmogorov–Smirnov D (numeric) or total variation distance between the format shares.
    pub effect: f64,
    /// The ranking's effect size: the median's shift in reference interquartile ranges (see
    /// the module's notes).
    pub shift: f64,
    /// The test's own p-value (KS; chi-square for the format).
    pub p_value: f64,
    /// Batch and reference means (for the format: the share of the format whose share moved
    /// most, in the batch and in the reference).
    pub batch_mean: f64,
    pub reference_mean: f64,
    /// 5, 25, 50, 75 and 95 % quantiles of the batch's and the reference's values (empty for
    /// the format).
    pub batch_quantiles: Vec<f64>,
    pub reference_quantiles: Vec<f64>,
    /// The change in plain words, e.g. "darker: mean brightness 0.31 against 0.52 in the
    /// reference (p < 1e-12)".
    pub sentence: String,
}

/// The property tests of a batch: each test, and which changed at the verdict's level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PropertyTests {
    /// Every property's test, in the ranking's order (largest effect first).
    pub tests: Vec<PropertyTest>,
    /// The properties whose p-value, times the number of tests the verdict combines, is below
    /// its level; in the ranking's order.
    pub changed: Vec<Property>,
    /// Reference images the tests compared against.
    #[serde(default)]
    pub reference_images: usize,
}

/// A p-value for sentences: "p = 0.003", "p < 1e-12".
fn format_p(p: f64) -> String {
    if p < 1e-12 {
        "p < 1e-12".into()
    } else if p < 0.001 {
        format!("p = {p:.1e}")
    } else {
        format!("p = {p:.3}")
    }
}

/// Size as "320×240" from a median pixel count and aspect ratio.
fn size_words(pixels: f64, aspect: f64) -> String {
    let height = (pixels / aspect.max(1e-9)).sqrt();
    format!("{:.0}×{:.0}", height * aspect, height)
}

/// Test each property of `batch` against `reference`. `None` when the batch is empty.
pub fn property_tests(
    reference: &PropertyReference,
    batch: &[ImageProperties],
) -> Option<Vec<PropertyTest>> {
    if batch.is_empty() || reference.images == 0 {
        return None;
    }
    let mut tests = Vec::new();
    for property in Property::numeric() {
        let reference_values = reference.values(property);
        let mut values: Vec<f32> = batch
            .iter()
            .filter_map(|i| i.value(property))
            .filter(|v| v.is_finite())
            .collect();
        values.sort_by(f32::total_cmp);
        if values.is_empty() || reference_values.is_empty() {
            continue;
        }
        let Some(ks) = crate::stats::ks_test(reference_values, &values) else {
            continue;
        };
        let mean = |v: &[f32]| v.iter().map(|x| f64::from(*x)).sum::<f64>() / v.len() as f64;
        let (batch_mean, reference_mean) = (mean(&values), mean(reference_values));
        let (batch_quantiles, reference_quantiles) =
            (quantiles(&values), quantiles(reference_values));
        tests.push(PropertyTest {
            property,
            effect: ks.statistic,
            shift: shift(
                property,
                (&values, &batch_quantiles),
                (reference_values, &reference_quantiles),
            ),
            p_value: ks.p_value,
            batch_mean,
            reference_mean,
            batch_quantiles: batch_quantiles.to_vec(),
            reference_quantiles: reference_quantiles.to_vec(),
            sentence: String::new(),
        });
    }
    tests.extend(format_test(reference, batch));
    // The size sentences take both medians, pixels' and aspect's: from the tests themselves.
    let median = |property: Property| {
        tests
            .iter()
            .find(|t| t.property == property)
            .map(|t| (t.batch_quantiles[2], t.reference_quantiles[2]))
    };
    let sizes = median(Property::Pixels).zip(median(Property::Aspect));
    for test in tests.iter_mut().filter(|t| t.property != Property::Format) {
        test.sentence = sentence(test, sizes);
    }
    tests.sort_by(|a, b| {
        b.shift
            .total_cmp(&a.shift)
            .then(a.property.cmp(&b.property))
    });
    Some(tests)
}

/// The median's shift from the reference's, in reference interquartile ranges (log values for
/// scale-like properties); 0 when neither moves, a large number when the reference does not
/// vary and the batch moved. Each side: its sorted values and their quantiles.
fn shift(
    property: Property,
    (batch, batch_quantiles): (&[f32], &[f64; 5]),
    (reference, reference_quantiles): (&[f32], &[f64; 5]),
) -> f64 {
    let logarithmic = matches!(
        property,
        Property::Pixels
            | Property::Aspect
            | Property::Contrast
            | Property::Sharpness
            | Property::Blockiness
    );
    let of_logarithms =
        |sorted: &[f32]| quantiles(&sorted.iter().map(|v| v.max(1e-6).ln()).collect::<Vec<_>>());
    let (batch, reference) = if logarithmic {
        (of_logarithms(batch), of_logarithms(reference))
    } else {
        (*batch_quantiles, *reference_quantiles)
    };
    let moved = (batch[2] - reference[2]).abs();
    let spread = (reference[3] - reference[1]).max(1e-6);
    if moved < 1e-9 {
        0.0
    } else {
        (moved / spread).min(1e6)
    }
}

/// The sentence of a numeric property: the direction of the change in means (medians for the
/// size), the values, and the test's p-value.
/// `sizes`: the batch's and the reference's medians of the pixel count and of the aspect ratio.
fn sentence(test: &PropertyTest, sizes: Option<((f64, f64), (f64, f64))>) -> String {
    let (lower, higher) = test.property.directions();
    let p = format_p(test.p_value);
    match test.property {
        Property::Format => test.sentence.clone(),
        Property::Pixels | Property::Aspect => {
            let Some(((batch_pixels, reference_pixels), (batch_aspect, reference_aspect))) = sizes
            else {
                return String::new();
            };
            let (batch, reference) = if test.property == Property::Pixels {
                (batch_pixels, reference_pixels)
            } else {
                (batch_aspect, reference_aspect)
            };
            let change = if batch == reference {
                if test.property == Property::Pixels {
                    "same size"
                } else {
                    "same aspect ratio"
                }
            } else if batch < reference {
                lower
            } else {
                higher
            };
            format!(
                "{change}: median {} against {} in the reference ({p})",
                size_words(batch_pixels, batch_aspect),
                size_words(reference_pixels, reference_aspect)
            )
        }
        property => {
            let (batch, reference) = (
                significant(test.batch_mean),
                significant(test.reference_mean),
            );
            let direction = if batch == reference {
                "unchanged"
            } else if test.batch_mean < test.reference_mean {
                lower
            } else {
                higher
            };
            format!(
                "{direction}: {} {batch} against {reference} in the reference ({p})",
                property.label(),
            )
        }
    }
}

/// Three significant digits, no exponent for everyday values.
fn significant(value: f64) -> String {
    if value == 0.0 || (1e-3..1e4).contains(&value.abs()) {
        let digits = (2 - value.abs().log10().floor() as i32).max(0) as usize;
        format!("{value:.digits$}")
    } else {
        format!("{value:.2e}")
    }
}

/// The format test: a chi-square test of homogeneity between the batch's and the reference's
/// format counts; effect: the total variation distance between their shares.
fn format_test(reference: &PropertyReference, batch: &[ImageProperties]) -> Option<PropertyTest> {
    let mut counts: BTreeMap<&str, (f64, f64)> = BTreeMap::new();
    for (format, count) in &reference.formats {
        counts.entry(family(format)).or_default().1 += *count as f64;
    }
    for image in batch {
        counts.entry(family(&image.format)).or_default().0 += 1.0;
    }
    let (n_batch, n_reference) = (batch.len() as f64, reference.images as f64);
    let total = n_batch + n_reference;
    let mut chi_square = 0.0;
    let mut distance = 0.0;
    for (b, r) in counts.values() {
        let column = b + r;
        for (observed, rows) in [(*b, n_batch), (*r, n_reference)] {
            let expected = column * rows / total;
            if expected > 0.0 {
                chi_square += (observed - expected).powi(2) / expected;
            }
        }
        distance += (b / n_batch - r / n_reference).abs() / 2.0;
    }
    let freedom = counts.len().saturating_sub(1);
    let p_value = if freedom == 0 {
        1.0
    } else {
        chi_square_survival(chi_square, freedom as f64)
    };
    // The format whose share moved most, for the sentence.
    let (format, (in_batch, in_reference)) = counts
        .iter()
        .map(|(f, (b, r))| (*f, (b / n_batch, r / n_reference)))
        .max_by(|a, b| {
            let moved = |(batch, reference): (f64, f64)| (batch - reference).abs();
            // On a tie, the format the batch has more of.
            moved(a.1)
                .total_cmp(&moved(b.1))
                .then(a.1.0.total_cmp(&b.1.0))
        })?;
    Some(PropertyTest {
        property: Property::Format,
        effect: distance,
        shift: distance / 0.25,
        p_value,
        batch_mean: in_batch,
        reference_mean: in_reference,
        batch_quantiles: Vec::new(),
        reference_quantiles: Vec::new(),
        sentence: format!(
            "other file formats: {:.0} % {format} against {:.0} % in the reference ({})",
            100.0 * in_batch,
            100.0 * in_reference,
            format_p(p_value)
        ),
    })
}

/// The compression family of a format: what the format test compares.
fn family(format: &str) -> &'static str {
    match format {
        "jpeg" => "jpeg",
        "webp" => "webp",
        _ => "lossless",
    }
}

/// `P(X ≥ x)` for a chi-square variable with `k` degrees of freedom: the regularised upper
/// incomplete gamma Q(k/2, x/2) (series below a + 1, continued fraction above).
pub fn chi_square_survival(x: f64, k: f64) -> f64 {
    if x <= 0.0 {
        return 1.0;
    }
    let (a, x) = (k / 2.0, x / 2.0);
    let ln_gamma_a = crate::stats::ln_gamma(a);
    if x < a + 1.0 {
        let (mut term, mut sum, mut n) = (1.0 / a, 1.0 / a, a);
        for _ in 0..500 {
            n += 1.0;
            term *= x / n;
            sum += term;
            if term < sum * 1e-15 {
                break;
            }
        }
        (1.0 - sum * (-x + a * x.ln() - ln_gamma_a).exp()).clamp(0.0, 1.0)
    } else {
        // Lentz's continued fraction.
        let tiny = 1e-300;
        let mut b = x + 1.0 - a;
        let mut c = 1.0 / tiny;
        let mut d = 1.0 / b;
        let mut h = d;
        for i in 1..500 {
            let an = -(i as f64) * (i as f64 - a);
            b += 2.0;
            d = an * d + b;
            if d.abs() < tiny {
                d = tiny;
            }
            c = b + an / c;
            if c.abs() < tiny {
                c = tiny;
            }
            d = 1.0 / d;
            let delta = d * c;
            h *= delta;
            if (delta - 1.0).abs() < 1e-15 {
                break;
            }
        }
        ((-x + a * x.ln() - ln_gamma_a).exp() * h).clamp(0.0, 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageBuffer, Rgb};

    /// A smooth, colourful 96×96 scene with some detail; exposure, tint and pattern vary with
    /// `seed`, as they do between photographs.
    fn scene(seed: u32) -> image::RgbImage {
        let mut rng = SeededRng::new(u64::from(seed));
        let exposure = 0.55 + 0.45 * rng.uniform() as f32;
        let tint = [0; 3].map(|_| 0.8 + 0.2 * rng.uniform() as f32);
        let (fx0, fy0) = (
            0.1 + 0.2 * rng.uniform() as f32,
            0.1 + 0.2 * rng.uniform() as f32,
        );
        ImageBuffer::from_fn(96, 96, |x, y| {
            let (fx, fy, s) = (x as f32, y as f32, seed as f32);
            let wave = ((fx * fx0 + s).sin() * (fy * fy0 + s * 0.7).cos() * 0.5 + 0.5) * 0.8;
            let stripe = if (x + 2 * y + seed) % 11 < 2 {
                0.15
            } else {
                0.0
            };
            let value = [
                0.1 + wave + stripe,
                0.15 + 0.6 * wave,
                0.5 - 0.4 * wave + stripe,
            ];
            Rgb([0, 1, 2].map(|c| (value[c] * tint[c] * exposure * 230.0).clamp(0.0, 255.0) as u8))
        })
    }

    fn measure(image: image::RgbImage) -> ImageProperties {
        ImageProperties::measure(&DynamicImage::ImageRgb8(image), "png")
    }

    fn jpeg(image: &image::RgbImage, quality: u8) -> image::RgbImage {
        let mut bytes = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, quality)
            .encode_image(image)
            .unwrap_or_else(|e| panic!("{e}"));
        image::load_from_memory(&bytes)
            .unwrap_or_else(|e| panic!("{e}"))
            .to_rgb8()
    }

    #[test]
    fn properties_measure_what_they_say() {
        let flat = ImageProperties::of_gray(&[0.5; 64], 8, 8, "idx");
        assert_eq!(
            (flat.width, flat.height, flat.format.as_str()),
            (8, 8, "idx")
        );
        assert!((flat.brightness - 0.5).abs() < 1e-6 && flat.contrast.abs() < 1e-6);
        assert_eq!(
            (flat.sharpness, flat.saturation, flat.clipped),
            (0.0, 0.0, 0.0)
        );
        let half = ImageProperties::of_gray(
            &(0..64).map(|i| f32::from(i % 2 == 0)).collect::<Vec<_>>(),
            8,
            8,
            "idx",
        );
        assert!((half.contrast - 1.0).abs() < 1e-6 && (half.clipped - 1.0).abs() < 1e-6);

        let clean = scene(1);
        let base = measure(clean.clone());
        assert!(base.saturation > 0.2, "{base:?}");
        assert!((0.8..1.25).contains(&base.blockiness), "{base:?}");
        // Darker: brightness falls; contrast, saturation and white balance stay.
        let dark = measure(ImageBuffer::from_fn(96, 96, |x, y| {
            Rgb(clean.get_pixel(x, y).0.map(|v| (f32::from(v) * 0.6) as u8))
        }));
        assert!((dark.brightness / base.brightness - 0.6).abs() < 0.02);
        for property in [Property::Contrast, Property::Saturation] {
            let (d, b) = (dark.value(property), base.value(property));
            let ratio = d.unwrap_or(0.0) / b.unwrap_or(1.0);
            assert!((ratio - 1.0).abs() < 0.03, "{property:?}: {d:?} vs {b:?}");
        }
        // (logarithms: their difference; 8-bit rounding of the darker pixels moves them a little).
        assert!(
            (dark.warmth - base.warmth).abs() < 0.03,
            "{dark:?} vs {base:?}"
        );
        assert!((dark.tint - base.tint).abs() < 0.03, "{dark:?} vs {base:?}");
        // A white balance change shifts warmth by about ln(1.15 / 0.8) = 0.36.
        let cast = measure(ImageBuffer::from_fn(96, 96, |x, y| {
            let [r, g, b] = clean.get_pixel(x, y).0;
            Rgb([
                (f32::from(r) * 1.15).min(255.0) as u8,
                g,
                (f32::from(b) * 0.8) as u8,
            ])
        }));
        assert!(
            (cast.warmth - base.warmth - 0.36).abs() < 0.04,
            "{cast:?} vs {base:?}"
        );
        // Gray: no colour left, same brightness.
        let gray = measure(
            DynamicImage::ImageLuma8(DynamicImage::ImageRgb8(clean.clone()).to_luma8()).to_rgb8(),
        );
        assert!(gray.saturation < 0.02, "{gray:?}");
        // Blurred: less sharp, contrast about the same; sharpness ignores contrast alone.
        let blurred = measure(image::imageops::blur(&clean, 1.2));
        assert!(
            blurred.sharpness < 0.5 * base.sharpness,
            "{blurred:?} vs {base:?}"
        );
        let flatter = measure(ImageBuffer::from_fn(96, 96, |x, y| {
            Rgb(clean
                .get_pixel(x, y)
                .0
                .map(|v| (64.0 + f32::from(v) * 0.5) as u8))
        }));
        assert!(
            flatter.contrast < 0.6 * base.contrast,
            "{flatter:?} vs {base:?}"
        );
        assert!(
            (flatter.sharpness / base.sharpness - 1.0).abs() < 0.25,
            "{flatter:?}"
        );
        // JPEG at quality 15: 8×8 blocks show.
        let blocky = measure(jpeg(&clean, 15));
        assert!(
            blocky.blockiness > 1.3 * base.blockiness,
            "{blocky:?} vs {base:?}"
        );
    }

    #[test]
    fn formats_are_compared_by_compression_family() {
        let of = |format: &str| ImageProperties {
            format: format.into(),
            width: 28,
            height: 28,
            ..ImageProperties::default()
        };
        let reference = PropertyReference::new(&vec![of("png"); 200]).unwrap_or_else(|| panic!());
        let test = |format: &str| {
            property_tests(&reference, &vec![of(format); 50])
                .unwrap_or_default()
                .into_iter()
                .find(|t| t.property == Property::Format)
                .unwrap_or_else(|| panic!("no format test"))
        };
        let jpeg = test("jpeg");
        assert!(
            jpeg.p_value < 1e-12 && (jpeg.effect - 1.0).abs() < 1e-9,
            "{jpeg:?}"
        );
        assert_eq!(
            jpeg.sentence,
            "other file formats: 100 % jpeg against 0 % in the reference (p < 1e-12)"
        );
        // IDX digits and their PNG exports hold the same pixels.
        assert_eq!(test("idx").p_value, 1.0);
    }

    /// Clean batches (other scenes from the same source) rarely call any property changed:
    /// with Bonferroni over the 11 tests at 0.01, at most a few of 300 batches.
    #[test]
    fn clean_batches_hold_the_level() {
        let measured: Vec<ImageProperties> = (0..600).map(|i| measure(scene(i))).collect();
        let reference = PropertyReference::new(&measured[..200]).unwrap_or_else(|| panic!());
        let mut rng = SeededRng::new(3);
        let mut pool: Vec<usize> = (200..600).collect();
        let mut alarms = 0;
        for size in [5, 20, 80] {
            for _ in 0..100 {
                let chosen = rng.choose_front(&mut pool, size).to_vec();
                let batch: Vec<ImageProperties> =
                    chosen.iter().map(|i| measured[*i].clone()).collect();
                let tests = property_tests(&reference, &batch).unwrap_or_default();
                let count = tests.len() as f64;
                alarms += usize::from(tests.iter().any(|t| t.p_value * count < 0.01));
            }
        }
        assert!(alarms <= 6, "{alarms} of 300 clean batches alarmed");
    }

    #[test]
    fn chi_square_survival_matches_tables() {
        // P(χ²₁ ≥ 3.841) = 0.05, P(χ²₄ ≥ 13.277) = 0.01, P(χ²₁₀ ≥ 2.558) = 0.99.
        for (x, k, p) in [(3.841, 1.0, 0.05), (13.277, 4.0, 0.01), (2.558, 10.0, 0.99)] {
            let got = chi_square_survival(x, k);
            assert!((got - p).abs() < 2e-4, "χ²({k}) ≥ {x}: {got} vs {p}");
        }
        assert_eq!(chi_square_survival(0.0, 3.0), 1.0);
        assert!(chi_square_survival(500.0, 2.0) < 1e-100);
    }

    /// Batches of 50 against a reference of 200 scenes: clean batches change nothing at
    /// α = 0.01 / 15 (the verdict's count: 4 model tests and 11 properties); each drift is
    /// found and named first by the property it changes.
    #[test]
    fn drifts_are_named_by_the_property_they_change() {
        let scenes: Vec<image::RgbImage> = (0..250).map(scene).collect();
        let reference: Vec<ImageProperties> = scenes[..200].iter().cloned().map(measure).collect();
        let reference = PropertyReference::new(&reference).unwrap_or_else(|| panic!("empty"));
        assert_eq!(reference.values(Property::Brightness).len(), 200);
        let batch = &scenes[200..];
        let first_change = |f: &dyn Fn(&image::RgbImage) -> image::RgbImage| {
            let images: Vec<ImageProperties> = batch.iter().map(|i| measure(f(i))).collect();
            let tests = property_tests(&reference, &images).unwrap_or_default();
            let changed: Vec<&PropertyTest> =
                tests.iter().filter(|t| t.p_value * 15.0 < 0.01).collect();
            (
                changed.first().map(|t| t.property),
                changed.first().map(|t| t.sentence.clone()),
            )
        };
        assert_eq!(first_change(&|i| i.clone()).0, None);
        let map = |f: fn([u8; 3]) -> [u8; 3]| {
            move |i: &image::RgbImage| {
                ImageBuffer::from_fn(96, 96, |x, y| Rgb(f(i.get_pixel(x, y).0)))
            }
        };
        let (property, sentence) = first_change(&map(|p| p.map(|v| (f32::from(v) * 0.6) as u8)));
        assert_eq!(property, Some(Property::Brightness));
        assert!(
            sentence
                .unwrap_or_default()
                .starts_with("darker: mean brightness")
        );
        // A white balance that changed: red up 15 %, blue down 20 %.
        let (property, _) = first_change(&map(|[r, g, b]| {
            [
                (f32::from(r) * 1.15).min(255.0) as u8,
                g,
                (f32::from(b) * 0.8) as u8,
            ]
        }));
        assert!(
            matches!(property, Some(Property::Warmth | Property::Tint)),
            "{property:?}"
        );
        let gray = |i: &image::RgbImage| {
            DynamicImage::ImageLuma8(DynamicImage::ImageRgb8(i.clone()).to_luma8()).to_rgb8()
        };
        assert_eq!(first_change(&gray).0, Some(Property::Saturation));
        assert_eq!(
            first_change(&|i| image::imageops::blur(i, 1.2)).0,
            Some(Property::Sharpness)
        );
        assert_eq!(first_change(&|i| jpeg(i, 15)).0, Some(Property::Blockiness));
        let small = |i: &image::RgbImage| image::imageops::thumbnail(i, 48, 48);
        let (property, sentence) = first_change(&small);
        assert_eq!(property, Some(Property::Pixels));
        assert_eq!(
            sentence.unwrap_or_default(),
            "smaller images: median 48×48 against 96×96 in the reference (p < 1e-12)"
        );
    }
}
