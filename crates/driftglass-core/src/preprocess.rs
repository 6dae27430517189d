//! From any image file to the model's input: `side`×`side` values in [0, 1] (28×28 gray for
//! MNIST models; three planes R, G, B for colour models).
//!
//! The same code runs in the CLI and in the browser. Step by step:
//!
//! 1. **Limits before decoding.** Files over [`MAX_FILE_BYTES`] are refused unread. The format
//!    is sniffed from the bytes (never from the file name). The header's dimensions are read
//!    first; images over [`MAX_PIXELS`] pixels or [`MAX_SIDE`] on a side are refused before any
//!    pixel is decoded (decompression bombs), and the decoder runs with an allocation limit.
//! 2. **Decode** PNG, JPEG, GIF (first frame), BMP or WebP at any bit depth. JPEG EXIF
//!    orientation is applied.
//! 3. **To gray.** Every pixel becomes RGBA floats in [0, 1] (8-bit values / 255, 16-bit values
//!    / 65535); gray = 0.2126 R + 0.7152 G + 0.0722 B (Rec. 709 weights on the stored,
//!    gamma-encoded values, as most tools do). Gray images keep their value.
//!    **Colour models** (3 channels) keep R, G and B as three planes instead (a gray image gives
//!    three equal planes); steps 4 to 7 apply to each plane, polarity being decided on the gray
//!    value of the border.
//! 4. **Flatten alpha onto black.** gray ← gray · alpha: transparent pixels become background
//!    (MNIST's background is black, value 0).
//! 5. **Polarity.** MNIST is white ink on black. [`Polarity::AsIs`] (default) leaves values
//!    alone; [`Polarity::Invert`] maps v → 1 − v; [`Polarity::Auto`] inverts when the mean of the
//!    outermost ring of pixels is above 0.5 (a light background, such as ink on paper).
//! 6. **Keep the aspect ratio.** The image is centred on a black square whose side is its
//!    longer side (nothing is cropped or stretched).
//! 7. **Resize to 28×28 by area averaging.** Each output pixel is the mean of the source area it
//!    covers, with fractional weights at the edges. A 28×28 input passes unchanged, so an MNIST
//!    digit saved as PNG gives exactly its IDX values. Smaller images are enlarged the same
//!    way (each output pixel takes the value of the source pixel it falls in, blended at edges).

use std::io::Cursor;

use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};
use serde::{Deserialize, Serialize};

use crate::architecture::IMAGE_SIDE;
use crate::properties::ImageProperties;

/// Largest file accepted, in bytes (32 MiB).
pub const MAX_FILE_BYTES: u64 = 32 * 1024 * 1024;
/// Largest image accepted, in pixels (40 megapixels).
pub const MAX_PIXELS: u64 = 40_000_000;
/// Longest side accepted, in pixels.
pub const MAX_SIDE: u32 = 30_000;
/// Most memory a decoder may allocate (512 MiB).
pub const MAX_DECODER_ALLOC: u64 = 512 * 1024 * 1024;

/// Weights of R, G and B in the gray value (Rec. 709).
pub const LUMA_WEIGHTS: [f32; 3] = [0.2126, 0.7152, 0.0722];

/// Whether to invert gray values so that ink is white on black, as in MNIST.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Polarity {
    /// Keep values as decoded.
    #[default]
    AsIs,
    /// Always invert (v → 1 − v).
    Invert,
    /// Invert when the image's border is light on average.
    Auto,
}

/// Settings of the preprocessing pipeline, stored in every model file and report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreprocessConfig {
    /// Polarity handling (step 5).
    pub polarity: Polarity,
    /// Side of the square gray image the model takes (step 7); 28 unless a model was trained
    /// on larger inputs. Files written before this field existed are 28.
    #[serde(default = "default_side")]
    pub side: usize,
    /// Channels the model takes: 1 (gray, step 3) or 3 (RGB kept, step 3c). Files written
    /// before this field existed are gray.
    #[serde(default = "default_channels")]
    pub channels: usize,
}

fn default_side() -> usize {
    IMAGE_SIDE
}

fn default_channels() -> usize {
    1
}

impl Default for PreprocessConfig {
    fn default() -> Self {
        PreprocessConfig {
            polarity: Polarity::default(),
            side: IMAGE_SIDE,
            channels: 1,
        }
    }
}

impl PreprocessConfig {
    /// The default pipeline for `side`×`side` gray inputs.
    pub fn with_side(side: usize) -> Self {
        PreprocessConfig {
            side,
            ..PreprocessConfig::default()
        }
    }

    /// The same pipeline for `channels`-channel inputs (1: gray, 3: RGB).
    pub fn with_channels(self, channels: usize) -> Self {
        PreprocessConfig { channels, ..self }
    }

    /// Values per prepared image (`channels · side²`).
    pub fn values_per_image(&self) -> usize {
        self.channels * self.side * self.side
    }
}

/// Why a file could not be turned into a model input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PreprocessError {
    #[error("empty file")]
    Empty,
    #[error("file is {size} bytes; the limit is {limit} bytes")]
    FileTooLarge { size: u64, limit: u64 },
    #[error("not an image in a supported format (PNG, JPEG, GIF, BMP, WebP)")]
    UnknownFormat,
    #[error("{format} images are not supported (PNG, JPEG, GIF, BMP, WebP are)")]
    UnsupportedFormat { format: String },
    #[error(
        "image is {width}×{height} pixels; the limit is {MAX_PIXELS} pixels and {MAX_SIDE} per side"
    )]
    TooManyPixels { width: u32, height: u32 },
    #[error("image has no pixels ({width}×{height})")]
    NoPixels { width: u32, height: u32 },
    #[error("corrupt or truncated {format} file: {reason}")]
    Corrupt { format: String, reason: String },
}

/// A decoded, preprocessed image.
#[derive(Debug, Clone, PartialEq)]
pub struct Preprocessed {
    /// `side`² values in [0, 1], row-major (784 for the default 28×28).
    pub pixels: Vec<f32>,
    /// Width of the decoded source image.
    pub source_width: u32,
    /// Height of the decoded source image.
    pub source_height: u32,
    /// Detected format, e.g. "png".
    pub format: &'static str,
    /// Whether the values were inverted (step 5).
    pub inverted: bool,
    /// What the decoded image looks like, measured before resizing (see
    /// [`crate::properties`]).
    pub properties: ImageProperties,
}

fn format_name(format: ImageFormat) -> &'static str {
    match format {
        ImageFormat::Png => "png",
        ImageFormat::Jpeg => "jpeg",
        ImageFormat::Gif => "gif",
        ImageFormat::Bmp => "bmp",
        ImageFormat::WebP => "webp",
        _ => "other",
    }
}

/// Run the whole pipeline on the bytes of an image file.
pub fn preprocess_bytes(
    bytes: &[u8],
    config: &PreprocessConfig,
) -> Result<Preprocessed, PreprocessError> {
    let image = decode(bytes)?;
    let (source_width, source_height) = (image.width(), image.height());
    let format = image::guess_format(bytes)
        .map(format_name)
        .unwrap_or("other");
    let (pixels, inverted) = preprocess_image(&image, config);
    Ok(Preprocessed {
        pixels,
        source_width,
        source_height,
        format,
        inverted,
        properties: ImageProperties::measure(&image, format),
    })
}

/// The pipeline for a JPEG file that another decoder (the browser's `createImageBitmap`, which
/// is faster on photos) already turned into `width`×`height` RGBA pixels, orientation applied.
/// Those pixels stand in for ours only where [`decode`] would accept the file as it is (a JPEG
/// within the limits, with its end marker) and the header declares the same size (or the
/// rotated one): `None` otherwise, and the caller decodes the bytes itself, which gives the
/// usual result or error. JPEG decoders round differently, so values may differ from ours by
/// a unit of 1/255 here and there; after the area average to the model's side they agree to
/// about 1e-4.
pub fn preprocess_decoded_jpeg(
    bytes: &[u8],
    width: u32,
    height: u32,
    rgba: Vec<u8>,
    config: &PreprocessConfig,
) -> Option<Preprocessed> {
    if bytes.len() as u64 > MAX_FILE_BYTES
        || image::guess_format(bytes).ok()? != ImageFormat::Jpeg
        || !jpeg_has_end_marker(bytes)
    {
        return None;
    }
    let (w, h) = header_dimensions(bytes, ImageFormat::Jpeg)?;
    let fits =
        w > 0 && h > 0 && w <= MAX_SIDE && h <= MAX_SIDE && w as u64 * h as u64 <= MAX_PIXELS;
    if !fits || !((width, height) == (w, h) || (width, height) == (h, w)) {
        return None;
    }
    let image = DynamicImage::ImageRgba8(image::RgbaImage::from_raw(width, height, rgba)?);
    let (pixels, inverted) = preprocess_image(&image, config);
    let format = format_name(ImageFormat::Jpeg);
    Some(Preprocessed {
        pixels,
        source_width: width,
        source_height: height,
        format,
        inverted,
        properties: ImageProperties::measure(&image, format),
    })
}

/// Steps 1 and 2: check limits, then decode.
pub fn decode(bytes: &[u8]) -> Result<DynamicImage, PreprocessError> {
    if bytes.is_empty() {
        return Err(PreprocessError::Empty);
    }
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(PreprocessError::FileTooLarge {
            size: bytes.len() as u64,
            limit: MAX_FILE_BYTES,
        });
    }
    let format = image::guess_format(bytes).map_err(|_| PreprocessError::UnknownFormat)?;
    if !matches!(
        format,
        ImageFormat::Png
            | ImageFormat::Jpeg
            | ImageFormat::Gif
            | ImageFormat::Bmp
            | ImageFormat::WebP
    ) {
        return Err(PreprocessError::UnsupportedFormat {
            format: format!("{format:?}").to_uppercase(),
        });
    }
    let corrupt = |error: image::ImageError| match error {
        image::ImageError::Limits(_) => PreprocessError::Corrupt {
            format: format_name(format).to_string(),
            reason: format!("decoder needs more than {MAX_DECODER_ALLOC} bytes of memory"),
        },
        other => PreprocessError::Corrupt {
            format: format_name(format).to_string(),
            reason: plain_reason(&other.to_string()),
        },
    };
    // JPEG decoders fill a cut-off image with gray and call it done: refuse it instead.
    if format == ImageFormat::Jpeg && !jpeg_has_end_marker(bytes) {
        return Err(PreprocessError::Corrupt {
            format: "jpeg".into(),
            reason: "the file ends before the image data does (no end-of-image marker)".into(),
        });
    }
    // The declared size, read from the header by this crate, before any decoder sees the
    // bytes: decoders differ in how (and whether) they refuse huge sizes, natively and in wasm.
    if let Some((width, height)) = header_dimensions(bytes, format)
        && (width > MAX_SIDE || height > MAX_SIDE || width as u64 * height as u64 > MAX_PIXELS)
    {
        return Err(PreprocessError::TooManyPixels { width, height });
    }
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_DECODER_ALLOC);

    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(|error| match error {
        image::ImageError::Limits(_) => too_many_pixels_from_header(bytes, format),
        other => corrupt(other),
    })?;
    let (width, height) = decoder.dimensions();
    if width == 0 || height == 0 {
        return Err(PreprocessError::NoPixels { width, height });
    }
    if width > MAX_SIDE || height > MAX_SIDE || width as u64 * height as u64 > MAX_PIXELS {
        return Err(PreprocessError::TooManyPixels { width, height });
    }
    let orientation = decoder.orientation().ok();
    let mut image = DynamicImage::from_decoder(decoder).map_err(corrupt)?;
    if let Some(orientation) = orientation {
        image.apply_orientation(orientation);
    }
    Ok(image)
}

/// The image size a file's header declares, for the formats this crate decodes; `None` when
/// the header is too short or malformed (the decoder then reports it).
pub fn header_dimensions(bytes: &[u8], format: ImageFormat) -> Option<(u32, u32)> {
    let be32 = |at: usize| Some(u32::from_be_bytes(bytes.get(at..at + 4)?.try_into().ok()?));
    let le16 = |at: usize| Some(u16::from_le_bytes(bytes.get(at..at + 2)?.try_into().ok()?) as u32);
    let le24 = |at: usize| {
        let b = bytes.get(at..at + 3)?;
        Some(b[0] as u32 | (b[1] as u32) << 8 | (b[2] as u32) << 16)
    };
    let le32 = |at: usize| Some(i32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?));
    match format {
        // Signature, then the IHDR chunk: width and height, big-endian.
        ImageFormat::Png => Some((be32(16)?, be32(20)?)),
        // The logical screen: no frame may exceed it.
        ImageFormat::Gif => Some((le16(6)?, le16(8)?)),
        // BITMAPINFOHEADER (or later): width, then height (negative: top-down rows).
        ImageFormat::Bmp => {
            if le32(14)? == 12 {
                // OS/2 BITMAPCOREHEADER: 16-bit sizes.
                Some((le16(18)?, le16(20)?))
            } else {
                Some((le32(18)?.unsigned_abs(), le32(22)?.unsigned_abs()))
            }
        }
        ImageFormat::Jpeg => jpeg_dimensions(bytes),
        ImageFormat::WebP => match bytes.get(12..16)? {
            b"VP8X" => Some((le24(24)? + 1, le24(27)? + 1)),
            b"VP8L" => {
                let b = bytes.get(21..25)?;
                let bits = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                Some(((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1))
            }
            b"VP8 " => Some((le16(26)? & 0x3FFF, le16(28)? & 0x3FFF)),
            _ => None,
        },
        _ => None,
    }
}

/// The size in a JPEG's first start-of-frame marker (SOF0–SOF15, not DHT, JPG or DAC).
fn jpeg_dimensions(bytes: &[u8]) -> Option<(u32, u32)> {
    let mut at = 2;
    while at + 4 <= bytes.len() {
        if bytes[at] != 0xFF {
            return None;
        }
        let marker = bytes[at + 1];
        if marker == 0xFF {
            at += 1;
            continue;
        }
        let length = u16::from_be_bytes([bytes[at + 2], bytes[at + 3]]) as usize;
        if (0xC0..=0xCF).contains(&marker) && !matches!(marker, 0xC4 | 0xC8 | 0xCC) {
            let b = bytes.get(at + 5..at + 9)?;
            let height = u16::from_be_bytes([b[0], b[1]]) as u32;
            let width = u16::from_be_bytes([b[2], b[3]]) as u32;
            return Some((width, height));
        }
        if marker == 0xDA || length < 2 {
            return None;
        }
        at += 2 + length;
    }
    None
}

/// A decoder's error message without the decoder's own framing ("Format error decoding Png:")
/// or debug dumps of its internal types, at most 160 characters.
fn plain_reason(message: &str) -> String {
    let message = message
        .strip_prefix("Format error decoding ")
        .and_then(|rest| rest.split_once(": ").map(|(_, reason)| reason))
        .unwrap_or(message);
    let message = match message.find(" while decoding") {
        Some(at) if message[at..].contains('{') => &message[..at],
        _ => message,
    };
    let message = message.trim().trim_matches('"').trim_end_matches('.');
    match message.char_indices().nth(160) {
        Some((at, _)) => format!("{}…", &message[..at]),
        None => message.to_string(),
    }
}

/// Whether a JPEG has an end-of-image marker (`FF D9`) after its last start-of-scan (`FF DA`).
/// Entropy-coded data escapes `FF` as `FF 00`, so the pair only occurs as a marker; bytes after
/// the marker (camera trailers) are allowed.
fn jpeg_has_end_marker(bytes: &[u8]) -> bool {
    let last_scan = bytes.windows(2).rposition(|pair| pair == [0xFF, 0xDA]);
    let from = last_scan.map_or(0, |at| at + 2);
    bytes[from..].windows(2).any(|pair| pair == [0xFF, 0xD9])
}

/// The decoder refused the header for its size: report the declared size when it can be read.
fn too_many_pixels_from_header(bytes: &[u8], format: ImageFormat) -> PreprocessError {
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    reader.no_limits();
    match reader.into_dimensions() {
        Ok((width, height)) => PreprocessError::TooManyPixels { width, height },
        Err(error) => PreprocessError::Corrupt {
            format: format_name(format).to_string(),
            reason: plain_reason(&error.to_string()),
        },
    }
}

/// Steps 3 to 7 on a decoded image. Returns the `channels · side²` values (784 by default),
/// channels first, and whether they were inverted.
pub fn preprocess_image(image: &DynamicImage, config: &PreprocessConfig) -> (Vec<f32>, bool) {
    if config.channels == 3 {
        return preprocess_color(image, config);
    }
    let (width, height) = (image.width() as usize, image.height() as usize);
    let gray = to_gray_on_black(image);
    let inverted = match config.polarity {
        Polarity::AsIs => false,
        Polarity::Invert => true,
        Polarity::Auto => border_mean(&gray, width, height) > 0.5,
    };
    let gray = if inverted {
        gray.into_iter().map(|v| 1.0 - v).collect()
    } else {
        gray
    };
    let pixels = pad_and_resize(&gray, width, height, config.side);
    debug_assert_eq!(pixels.len(), config.values_per_image());
    (pixels, inverted)
}

/// Steps 3 to 7 for colour models: R, G and B planes (a gray image gives three equal ones),
/// alpha flattened onto black in each, polarity decided on the gray value of the border, each
/// plane padded and area-averaged as a gray image is.
fn preprocess_color(image: &DynamicImage, config: &PreprocessConfig) -> (Vec<f32>, bool) {
    let (width, height) = (image.width() as usize, image.height() as usize);
    let planes = to_rgb_planes_on_black(image);
    let inverted = match config.polarity {
        Polarity::AsIs => false,
        Polarity::Invert => true,
        Polarity::Auto => {
            let gray: Vec<f32> = (0..width * height)
                .map(|i| {
                    (0..3)
                        .map(|c| LUMA_WEIGHTS[c] * planes[c * width * height + i])
                        .sum()
                })
                .collect();
            border_mean(&gray, width, height) > 0.5
        }
    };
    let mut pixels = Vec::with_capacity(config.values_per_image());
    for plane in planes.chunks_exact(width * height) {
        let resized = if inverted {
            let plane: Vec<f32> = plane.iter().map(|v| 1.0 - v).collect();
            pad_and_resize(&plane, width, height, config.side)
        } else {
            pad_and_resize(plane, width, height, config.side)
        };
        pixels.extend(resized);
    }
    (pixels, inverted)
}

/// Step 3c: the R, G and B planes in [0, 1], one after the other, alpha flattened onto black
/// (v ← v · alpha, as the gray path does). Gray images give three equal planes.
fn to_rgb_planes_on_black(image: &DynamicImage) -> Vec<f32> {
    let area = image.width() as usize * image.height() as usize;
    let mut planes = vec![0.0f32; 3 * area];
    let (red, rest) = planes.split_at_mut(area);
    let (green, blue) = rest.split_at_mut(area);
    let mut at = 0;
    crate::properties::for_each_rgb(image, None, &mut |[r, g, b]| {
        (red[at], green[at], blue[at]) = (r, g, b);
        at += 1;
    });
    planes
}

/// Steps 3 and 4: gray in [0, 1], alpha flattened onto black.
fn to_gray_on_black(image: &DynamicImage) -> Vec<f32> {
    let weights = LUMA_WEIGHTS;
    match image {
        DynamicImage::ImageLuma8(buffer) => {
            buffer.as_raw().iter().map(|v| *v as f32 / 255.0).collect()
        }
        DynamicImage::ImageLuma16(buffer) => buffer
            .as_raw()
            .iter()
            .map(|v| *v as f32 / 65535.0)
            .collect(),
        DynamicImage::ImageLumaA8(buffer) => buffer
            .as_raw()
            .chunks_exact(2)
            .map(|la| la[0] as f32 / 255.0 * (la[1] as f32 / 255.0))
            .collect(),
        other => other
            .to_rgba32f()
            .as_raw()
            .chunks_exact(4)
            .map(|p| {
                let gray = weights[0] * p[0] + weights[1] * p[1] + weights[2] * p[2];
                (gray * p[3]).clamp(0.0, 1.0)
            })
            .collect(),
    }
}

/// Mean of the outermost ring of pixels.
fn border_mean(gray: &[f32], width: usize, height: usize) -> f32 {
    let mut sum = 0.0f64;
    let mut count = 0usize;
    for y in 0..height {
        for x in 0..width {
            if x == 0 || y == 0 || x + 1 == width || y + 1 == height {
                sum += gray[y * width + x] as f64;
                count += 1;
            }
        }
    }
    if count == 0 {
        0.0
    } else {
        (sum / count as f64) as f32
    }
}

/// Steps 6 and 7: centre the image on a black square whose side is its longer side, then
/// area-average that square to `out_side`², without building the square: a 30,000 × 1 image
/// would otherwise become 900 million pixels (a fuzzer found the 10,000 × 10 case taking
/// seconds and 400 MB). The black margin adds nothing to any sum, so the result is exactly
/// that of resizing the square.
pub fn pad_and_resize(gray: &[f32], width: usize, height: usize, out_side: usize) -> Vec<f32> {
    let side = width.max(height);
    let (left, top) = ((side - width) / 2, (side - height) / 2);
    resize_area_window(
        gray,
        width,
        height,
        (side, side),
        (left, top),
        (out_side, out_side),
    )
}

/// Step 7: area-averaging resize (separable), exact identity when sizes match.
pub fn resize_area(
    values: &[f32],
    width: usize,
    height: usize,
    out_width: usize,
    out_height: usize,
) -> Vec<f32> {
    resize_area_window(
        values,
        width,
        height,
        (width, height),
        (0, 0),
        (out_width, out_height),
    )
}

/// Area-average a `canvas` (black outside the image) to `out`, where the `width × height`
/// image sits at `offset` on the canvas. Only the image's pixels are visited: the work is
/// O(image pixels + canvas side), whatever the canvas's area.
fn resize_area_window(
    values: &[f32],
    width: usize,
    height: usize,
    canvas: (usize, usize),
    offset: (usize, usize),
    out: (usize, usize),
) -> Vec<f32> {
    let (canvas_width, canvas_height) = canvas;
    let (left, top) = offset;
    let (out_width, out_height) = out;
    if canvas_width == out_width && canvas_height == out_height && (width, height) == canvas {
        return values.to_vec();
    }
    // Each output pixel's weights, restricted to the image (the canvas around it is black and
    // adds nothing), as indices into the image; in the same order, so the sums are unchanged.
    let restrict = |weights: Vec<Vec<(usize, f32)>>, start: usize, length: usize| {
        weights
            .into_iter()
            .map(|covered| {
                covered
                    .into_iter()
                    .filter(|(i, _)| (start..start + length).contains(i))
                    .map(|(i, w)| (i - start, w))
                    .collect::<Vec<_>>()
            })
            .collect::<Vec<_>>()
    };
    let column_weights = restrict(area_weights(canvas_width, out_width), left, width);
    let row_weights = restrict(area_weights(canvas_height, out_height), top, height);
    // Horizontal pass over the image's rows: [height, width] → [height, out_width].
    let mut horizontal = vec![0.0f32; height * out_width];
    for y in 0..height {
        let row = &values[y * width..(y + 1) * width];
        for (x, weights) in column_weights.iter().enumerate() {
            horizontal[y * out_width + x] = weights.iter().map(|(i, w)| row[*i] * w).sum();
        }
    }
    // Vertical pass: [height, out_width] → [out_height, out_width].
    let mut output = vec![0.0f32; out_height * out_width];
    for (y, weights) in row_weights.iter().enumerate() {
        for x in 0..out_width {
            output[y * out_width + x] = weights
                .iter()
                .map(|(j, w)| horizontal[j * out_width + x] * w)
                .sum::<f32>()
                .clamp(0.0, 1.0);
        }
    }
    output
}

/// For each output index, the source indices it covers and their weights (summing to 1).
fn area_weights(from: usize, to: usize) -> Vec<Vec<(usize, f32)>> {
    let scale = from as f64 / to as f64;
    (0..to)
        .map(|o| {
            let start = o as f64 * scale;
            let end = (o + 1) as f64 * scale;
            let first = start.floor() as usize;
            let last = (end.ceil() as usize).min(from);
            let mut weights: Vec<(usize, f32)> = (first..last)
                .map(|i| {
                    let overlap = (end.min(i as f64 + 1.0) - start.max(i as f64)).max(0.0);
                    (i, (overlap / scale) as f32)
                })
                .filter(|(_, w)| *w > 0.0)
                .collect();
            let total: f32 = weights.iter().map(|(_, w)| w).sum();
            if total > 0.0 {
                for (_, w) in &mut weights {
                    *w /= total;
                }
            }
            weights
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageBuffer, Luma, LumaA, Rgb, Rgba};

    fn encode(image: &DynamicImage, format: ImageFormat) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        image.write_to(&mut out, format).ok();
        out.into_inner()
    }

    /// A 28×28 "digit": a bright vertical bar on black.
    fn bar_28() -> Vec<u8> {
        let mut pixels = vec![0u8; 784];
        for y in 4..24 {
            for x in 12..16 {
                pixels[y * 28 + x] = 255;
            }
        }
        pixels
    }

    fn gray_28(pixels: &[u8]) -> DynamicImage {
        DynamicImage::ImageLuma8(
            ImageBuffer::<Luma<u8>, _>::from_raw(28, 28, pixels.to_vec()).unwrap_or_default(),
        )
    }

    /// Pixels decoded elsewhere stand in for ours only for a whole, plausible JPEG of the size
    /// its header declares; with the same pixels the result is ours exactly.
    #[test]
    fn pixels_decoded_elsewhere_stand_in_only_for_whole_jpegs_of_their_size() {
        let photo = DynamicImage::ImageRgb8(image::RgbImage::from_fn(64, 48, |x, y| {
            image::Rgb([(x * 4) as u8, (y * 5) as u8, ((x + y) * 2) as u8])
        }));
        let bytes = encode(&photo, ImageFormat::Jpeg);
        let ours = decode(&bytes).unwrap_or_else(|e| panic!("{e}"));
        let rgba = ours.to_rgba8().into_raw();
        let config = PreprocessConfig::default();
        let want = preprocess_bytes(&bytes, &config).unwrap_or_else(|e| panic!("{e}"));
        let got = preprocess_decoded_jpeg(&bytes, 64, 48, rgba.clone(), &config)
            .unwrap_or_else(|| panic!("refused a whole JPEG"));
        assert_eq!(got.pixels, want.pixels);
        assert_eq!((got.source_width, got.source_height), (64, 48));
        // Another size than the header's, a cut-off file, another format: not vouched for.
        assert!(
            preprocess_decoded_jpeg(&bytes, 48, 48, rgba[..48 * 48 * 4].to_vec(), &config)
                .is_none()
        );
        assert!(
            preprocess_decoded_jpeg(&bytes[..bytes.len() - 2], 64, 48, rgba.clone(), &config)
                .is_none()
        );
        let png = encode(&photo, ImageFormat::Png);
        assert!(preprocess_decoded_jpeg(&png, 64, 48, rgba, &config).is_none());
    }

    #[test]
    fn png_28x28_gray_passes_unchanged() {
        let raw = bar_28();
        let bytes = encode(&gray_28(&raw), ImageFormat::Png);
        let out = preprocess_bytes(&bytes, &PreprocessConfig::default());
        let out = out.unwrap_or_else(|e| panic!("{e}"));
        let want: Vec<f32> = raw.iter().map(|v| *v as f32 / 255.0).collect();
        assert_eq!(out.pixels, want);
        assert_eq!(out.format, "png");
        assert_eq!((out.source_width, out.source_height), (28, 28));
    }

    #[test]
    fn every_supported_format_decodes() {
        let image = gray_28(&bar_28());
        let rgb = DynamicImage::ImageRgb8(image.to_rgb8());
        for (format, name) in [
            (ImageFormat::Png, "png"),
            (ImageFormat::Jpeg, "jpeg"),
            (ImageFormat::Gif, "gif"),
            (ImageFormat::Bmp, "bmp"),
            (ImageFormat::WebP, "webp"),
        ] {
            let source = if format == ImageFormat::Png {
                &image
            } else {
                &rgb
            };
            let bytes = encode(source, format);
            assert!(!bytes.is_empty(), "{name} encoder produced nothing");
            let out = preprocess_bytes(&bytes, &PreprocessConfig::default())
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(out.format, name);
            assert_eq!(out.pixels.len(), 784);
            // Lossy JPEG: centre of the bar stays bright, the corner stays dark.
            assert!(out.pixels[14 * 28 + 13] > 0.8, "{name}");
            assert!(out.pixels[0] < 0.1, "{name}");
        }
    }

    #[test]
    fn rgba_alpha_is_flattened_onto_black() {
        // Opaque white, half-transparent white, fully transparent white.
        let mut buffer = ImageBuffer::<Rgba<u8>, _>::new(3, 1);
        buffer.put_pixel(0, 0, Rgba([255, 255, 255, 255]));
        buffer.put_pixel(1, 0, Rgba([255, 255, 255, 128]));
        buffer.put_pixel(2, 0, Rgba([255, 255, 255, 0]));
        let gray = to_gray_on_black(&DynamicImage::ImageRgba8(buffer));
        assert!((gray[0] - 1.0).abs() < 1e-6);
        assert!((gray[1] - 128.0 / 255.0).abs() < 1e-6);
        assert_eq!(gray[2], 0.0);
        let la = ImageBuffer::<LumaA<u8>, _>::from_raw(1, 1, vec![255, 51]).unwrap_or_default();
        assert!((to_gray_on_black(&DynamicImage::ImageLumaA8(la))[0] - 0.2).abs() < 1e-6);
    }

    #[test]
    fn colour_uses_rec709_weights() {
        let buffer =
            ImageBuffer::<Rgb<u8>, _>::from_raw(3, 1, vec![255, 0, 0, 0, 255, 0, 0, 0, 255])
                .unwrap_or_default();
        let gray = to_gray_on_black(&DynamicImage::ImageRgb8(buffer));
        for (value, weight) in gray.iter().zip(LUMA_WEIGHTS) {
            assert!((value - weight).abs() < 1e-6, "{gray:?}");
        }
    }

    #[test]
    fn sixteen_bit_png_uses_full_range() {
        let buffer =
            ImageBuffer::<Luma<u16>, _>::from_raw(28, 28, vec![32768u16; 784]).unwrap_or_default();
        let bytes = encode(&DynamicImage::ImageLuma16(buffer), ImageFormat::Png);
        let out = preprocess_bytes(&bytes, &PreprocessConfig::default())
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            out.pixels
                .iter()
                .all(|v| (v - 32768.0 / 65535.0).abs() < 1e-6)
        );
    }

    #[test]
    fn one_by_one_and_very_wide_images() {
        let one = DynamicImage::ImageLuma8(
            ImageBuffer::<Luma<u8>, _>::from_raw(1, 1, vec![200]).unwrap_or_default(),
        );
        let out = preprocess_bytes(
            &encode(&one, ImageFormat::Png),
            &PreprocessConfig::default(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(out.pixels.iter().all(|v| (v - 200.0 / 255.0).abs() < 1e-6));

        // 2800×10 white strip: aspect kept, so it becomes a thin centred band.
        let wide = DynamicImage::ImageLuma8(
            ImageBuffer::<Luma<u8>, _>::from_raw(2800, 10, vec![255; 28_000]).unwrap_or_default(),
        );
        let out = preprocess_bytes(
            &encode(&wide, ImageFormat::Png),
            &PreprocessConfig::default(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((out.source_width, out.source_height), (2800, 10));
        let total: f32 = out.pixels.iter().sum();
        // Area is conserved: 10/2800 of the square is white → 784 · 10 / 2800 = 2.8.
        assert!((total - 2.8).abs() < 1e-3, "{total}");
        assert_eq!(out.pixels[0], 0.0);
        assert!(out.pixels[13 * 28 + 5] > 0.0 || out.pixels[14 * 28 + 5] > 0.0);
    }

    #[test]
    fn downscaling_averages_areas() {
        // 56×56 checkerboard of 2×2 blocks → every output pixel covers one block.
        let mut values = vec![0.0f32; 56 * 56];
        for y in 0..56 {
            for x in 0..56 {
                values[y * 56 + x] = if (x / 2 + y / 2) % 2 == 0 { 1.0 } else { 0.0 };
            }
        }
        let out = resize_area(&values, 56, 56, 28, 28);
        assert_eq!(out[0], 1.0);
        assert_eq!(out[1], 0.0);
        // 1-pixel checkerboard averages to 0.5 everywhere.
        let fine: Vec<f32> = (0..56 * 56)
            .map(|i| ((i % 56 + i / 56) % 2) as f32)
            .collect();
        assert!(
            resize_area(&fine, 56, 56, 28, 28)
                .iter()
                .all(|v| (v - 0.5).abs() < 1e-6)
        );
    }

    #[test]
    fn color_models_keep_three_planes() {
        let color = PreprocessConfig::default().with_channels(3);
        // A 28×28 RGB image passes unchanged, plane after plane.
        let rgb = ImageBuffer::from_fn(28, 28, |x, y| Rgb([x as u8 * 9, y as u8 * 9, 200]));
        let bytes = encode(&DynamicImage::ImageRgb8(rgb), ImageFormat::Png);
        let out = preprocess_bytes(&bytes, &color).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(out.pixels.len(), 3 * 784);
        assert_eq!(out.pixels[5 * 28 + 3], 27.0 / 255.0); // red at (3, 5)
        assert_eq!(out.pixels[784 + 5 * 28 + 3], 45.0 / 255.0); // green
        assert_eq!(out.pixels[2 * 784 + 5 * 28 + 3], 200.0 / 255.0); // blue
        // A gray image gives three equal planes, equal to the gray model's input.
        let gray = encode(&gray_28(&bar_28()), ImageFormat::Png);
        let planes = preprocess_bytes(&gray, &color).unwrap_or_else(|e| panic!("{e}"));
        let single =
            preprocess_bytes(&gray, &PreprocessConfig::default()).unwrap_or_else(|e| panic!("{e}"));
        for plane in planes.pixels.chunks_exact(784) {
            assert_eq!(plane, single.pixels.as_slice());
        }
        // Alpha flattens each channel onto black.
        let rgba = ImageBuffer::from_fn(28, 28, |_, _| Rgba([255u8, 128, 0, 51]));
        let bytes = encode(&DynamicImage::ImageRgba8(rgba), ImageFormat::Png);
        let out = preprocess_bytes(&bytes, &color).unwrap_or_else(|e| panic!("{e}"));
        assert!((out.pixels[0] - 0.2).abs() < 1e-6);
        assert!((out.pixels[784] - 128.0 / 255.0 * 0.2).abs() < 1e-6);
        assert_eq!(out.pixels[2 * 784], 0.0);
        // A wide image is centred on black and area-averaged per plane.
        let wide = ImageBuffer::from_fn(56, 28, |_, _| Rgb([255u8, 0, 255]));
        let bytes = encode(&DynamicImage::ImageRgb8(wide), ImageFormat::Png);
        let out = preprocess_bytes(&bytes, &color).unwrap_or_else(|e| panic!("{e}"));
        let at = |c: usize, y: usize| out.pixels[c * 784 + y * 28 + 10];
        assert_eq!((at(0, 0), at(1, 14), at(2, 14)), (0.0, 0.0, 1.0));
    }

    #[test]
    fn auto_polarity_inverts_dark_ink_on_paper() {
        let paper: Vec<u8> = bar_28().iter().map(|v| 255 - v).collect();
        let bytes = encode(&gray_28(&paper), ImageFormat::Png);
        let auto = PreprocessConfig {
            polarity: Polarity::Auto,
            ..PreprocessConfig::default()
        };
        let out = preprocess_bytes(&bytes, &auto).unwrap_or_else(|e| panic!("{e}"));
        assert!(out.inverted);
        assert_eq!(out.pixels[14 * 28 + 13], 1.0);
        assert_eq!(out.pixels[0], 0.0);
        let digit = encode(&gray_28(&bar_28()), ImageFormat::Png);
        let out = preprocess_bytes(&digit, &auto).unwrap_or_else(|e| panic!("{e}"));
        assert!(!out.inverted);
    }

    #[test]
    fn bad_inputs_get_clear_errors() {
        let config = PreprocessConfig::default();
        assert_eq!(preprocess_bytes(&[], &config), Err(PreprocessError::Empty));
        assert_eq!(
            preprocess_bytes(b"hello, this is text", &config),
            Err(PreprocessError::UnknownFormat)
        );
        let png = encode(&gray_28(&bar_28()), ImageFormat::Png);
        let truncated = &png[..png.len() / 2];
        assert!(matches!(
            preprocess_bytes(truncated, &config),
            Err(PreprocessError::Corrupt { .. })
        ));
    }

    #[test]
    fn decompression_bomb_is_refused_before_decoding() {
        // A PNG header claiming 100,000 × 100,000 pixels, with no data behind it.
        let mut png = Vec::new();
        png.extend_from_slice(b"\x89PNG\r\n\x1a\n");
        let mut ihdr = Vec::new();
        ihdr.extend_from_slice(b"IHDR");
        ihdr.extend_from_slice(&100_000u32.to_be_bytes());
        ihdr.extend_from_slice(&100_000u32.to_be_bytes());
        ihdr.extend_from_slice(&[8, 0, 0, 0, 0]);
        png.extend_from_slice(&13u32.to_be_bytes());
        png.extend_from_slice(&ihdr);
        png.extend_from_slice(&crc32(&ihdr).to_be_bytes());
        // A small IDAT (zlib stream of a few zero bytes) and IEND, as a real bomb would have.
        let mut idat = b"IDAT".to_vec();
        idat.extend_from_slice(&[0x78, 0x9c, 0x63, 0x60, 0x00, 0x00, 0x00, 0x02, 0x00, 0x01]);
        png.extend_from_slice(&((idat.len() - 4) as u32).to_be_bytes());
        png.extend_from_slice(&idat);
        png.extend_from_slice(&crc32(&idat).to_be_bytes());
        png.extend_from_slice(&0u32.to_be_bytes());
        png.extend_from_slice(b"IEND");
        png.extend_from_slice(&crc32(b"IEND").to_be_bytes());
        let result = preprocess_bytes(&png, &PreprocessConfig::default());
        assert_eq!(
            result,
            Err(PreprocessError::TooManyPixels {
                width: 100_000,
                height: 100_000
            })
        );
    }

    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = 0xffff_ffffu32;
        for byte in bytes {
            crc ^= *byte as u32;
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xedb8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    #[test]
    fn decoder_messages_lose_their_framing_and_debug_dumps() {
        assert_eq!(
            plain_reason(
                "Format error decoding Png: CRC error: expected 0x0 have 0x57 while decoding ChunkType { type: IHDR } chunk."
            ),
            "CRC error: expected 0x0 have 0x57"
        );
        assert_eq!(
            plain_reason("Format error decoding Gif: Unexpected End of File"),
            "Unexpected End of File"
        );
        assert_eq!(
            plain_reason("unexpected end of file"),
            "unexpected end of file"
        );
        assert_eq!(plain_reason(&"x".repeat(500)).chars().count(), 161);
    }

    #[test]
    fn cut_off_jpegs_are_refused_and_trailers_allowed() {
        let mut jpeg = Vec::new();
        let image = image::GrayImage::from_fn(16, 16, |x, y| image::Luma([(x * y) as u8]));
        image
            .write_to(&mut std::io::Cursor::new(&mut jpeg), ImageFormat::Jpeg)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(jpeg_has_end_marker(&jpeg));
        let config = PreprocessConfig::default();
        assert!(preprocess_bytes(&jpeg, &config).is_ok());
        let cut = &jpeg[..jpeg.len() - 10];
        match preprocess_bytes(cut, &config) {
            Err(PreprocessError::Corrupt { format, reason }) => {
                assert_eq!(format, "jpeg");
                assert!(reason.contains("end-of-image"), "{reason}");
            }
            other => panic!("a cut-off JPEG was accepted: {other:?}"),
        }
        let mut trailer = jpeg.clone();
        trailer.extend_from_slice(b"camera maker's trailer");
        assert!(preprocess_bytes(&trailer, &config).is_ok());
    }

    #[test]
    fn other_image_formats_are_named() {
        let tiff = b"II*\0\x08\0\0\0";
        assert_eq!(
            decode(tiff).map(|_| ()),
            Err(PreprocessError::UnsupportedFormat {
                format: "TIFF".into()
            })
        );
    }

    #[test]
    fn header_dimensions_match_what_encoders_wrote() {
        let image = image::DynamicImage::ImageLuma8(image::GrayImage::from_fn(37, 23, |x, y| {
            image::Luma([(x * 5 + y * 3) as u8])
        }));
        for format in [
            ImageFormat::Png,
            ImageFormat::Jpeg,
            ImageFormat::Gif,
            ImageFormat::Bmp,
            ImageFormat::WebP,
        ] {
            let mut bytes = Vec::new();
            // GIF takes RGBA only, JPEG no alpha.
            let image = if format == ImageFormat::Gif {
                image::DynamicImage::ImageRgba8(image.to_rgba8())
            } else {
                image.clone()
            };
            image
                .write_to(&mut std::io::Cursor::new(&mut bytes), format)
                .unwrap_or_else(|e| panic!("{format:?}: {e}"));
            assert_eq!(
                header_dimensions(&bytes, format),
                Some((37, 23)),
                "{format:?}"
            );
        }
        assert_eq!(header_dimensions(b"\x89PNG", ImageFormat::Png), None);
        assert_eq!(
            header_dimensions(&[0xFF, 0xD8, 0xFF], ImageFormat::Jpeg),
            None
        );
    }

    #[test]
    fn padding_is_exactly_resizing_the_built_square_and_never_builds_it() {
        let mut rng = crate::rng::SeededRng::new(4);
        for (width, height) in [(7, 3), (3, 7), (30, 29), (1, 1), (100, 28), (28, 28)] {
            let gray: Vec<f32> = (0..width * height).map(|_| rng.uniform() as f32).collect();
            let side = usize::max(width, height);
            let (left, top) = ((side - width) / 2, (side - height) / 2);
            let mut square = vec![0.0f32; side * side];
            for y in 0..height {
                for x in 0..width {
                    square[(top + y) * side + left + x] = gray[y * width + x];
                }
            }
            assert_eq!(
                pad_and_resize(&gray, width, height, IMAGE_SIDE),
                resize_area(&square, side, side, IMAGE_SIDE, IMAGE_SIDE),
                "{width}×{height}"
            );
        }
        // The fuzzer's case, and worse: a 30,000 × 1 line would be a 900-megapixel square.
        let line = vec![1.0f32; 30_000];
        let out = pad_and_resize(&line, 30_000, 1, IMAGE_SIDE);
        let ink: f32 = out.iter().sum();
        assert!((ink - 28.0 / 30_000.0 * 28.0).abs() < 1e-3, "{ink}");
    }
}
