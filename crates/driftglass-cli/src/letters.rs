//! `driftglass letters`: a notMNIST-style set rendered from a folder of fonts.
//!
//! notMNIST (Y. Bulatov, 2011) holds the letters A–J in many typefaces: each glyph cropped to
//! its ink, centred on a square, scaled to 28×28, white on black. It is in no package registry,
//! so this renders the same kind of set from any fonts on disk (e.g. Debian's `fonts-aenigma`,
//! 465 faces).

use std::path::{Path, PathBuf};

use ab_glyph::{Font, FontVec, PxScale};
use anyhow::{Context, Result, bail};
use clap::Args;
use driftglass_core::idx::{ImageSet, encode_images, encode_labels};
use driftglass_core::preprocess::pad_and_resize;
use driftglass_core::{IMAGE_PIXELS, IMAGE_SIDE};

/// The ten letters of notMNIST.
pub const LETTERS: [char; 10] = ['A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J'];

/// Pixel height the glyphs are rasterised at before scaling down.
const RENDER_PX: f32 = 112.0;
/// Coverage below which a pixel is not ink (for cropping).
const INK_THRESHOLD: f32 = 0.05;

#[derive(Args, Debug)]
pub struct LettersArgs {
    /// Folder of .ttf/.otf fonts, searched recursively.
    #[arg(long, default_value = "/usr/share/fonts/truetype/aenigma")]
    pub fonts: PathBuf,
    /// IDX image file to write.
    #[arg(long, short)]
    pub output: PathBuf,
    /// IDX label file to write (0 = A … 9 = J).
    #[arg(long)]
    pub labels: Option<PathBuf>,
    /// Also write each image as a PNG into this folder.
    #[arg(long)]
    pub png_dir: Option<PathBuf>,
    /// Keep at most this many fonts (in file-name order).
    #[arg(long)]
    pub max_fonts: Option<usize>,
}

fn font_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("listing fonts in {}", dir.display()))?;
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            font_files(&path, out)?;
        } else if path
            .extension()
            .map(|e| matches!(e.to_string_lossy().to_lowercase().as_str(), "ttf" | "otf"))
            .unwrap_or(false)
        {
            out.push(path);
        }
    }
    Ok(())
}

/// Render one letter: rasterise, crop to ink, centre on a square, scale to 28×28.
/// `None` when the font has no visible glyph for it.
pub fn render_letter(font: &FontVec, letter: char) -> Option<Vec<f32>> {
    let id = font.glyph_id(letter);
    if id.0 == 0 {
        return None;
    }
    let outlined = font.outline_glyph(id.with_scale(PxScale::from(RENDER_PX)))?;
    let bounds = outlined.px_bounds();
    let (width, height) = (
        bounds.width().ceil() as usize,
        bounds.height().ceil() as usize,
    );
    if width == 0 || height == 0 || width > 4096 || height > 4096 {
        return None;
    }
    let mut canvas = vec![0.0f32; width * height];
    outlined.draw(|x, y, coverage| {
        let (x, y) = (x as usize, y as usize);
        if x < width && y < height {
            canvas[y * width + x] = coverage.clamp(0.0, 1.0);
        }
    });
    // Crop to the ink.
    let ink = |x: usize, y: usize| canvas[y * width + x] > INK_THRESHOLD;
    let rows: Vec<usize> = (0..height)
        .filter(|y| (0..width).any(|x| ink(x, *y)))
        .collect();
    let cols: Vec<usize> = (0..width)
        .filter(|x| (0..height).any(|y| ink(*x, y)))
        .collect();
    let (top, bottom) = (*rows.first()?, *rows.last()?);
    let (left, right) = (*cols.first()?, *cols.last()?);
    let (crop_w, crop_h) = (right - left + 1, bottom - top + 1);
    let mut cropped = Vec::with_capacity(crop_w * crop_h);
    for y in top..=bottom {
        cropped.extend_from_slice(&canvas[y * width + left..=y * width + right]);
    }
    Some(pad_and_resize(&cropped, crop_w, crop_h, IMAGE_SIDE))
}

/// Render A–J in every usable font of `dir`. Returns the images, labels and fonts used.
pub fn render_all(dir: &Path, max_fonts: Option<usize>) -> Result<(ImageSet, Vec<u8>, usize)> {
    let mut files = Vec::new();
    font_files(dir, &mut files)?;
    files.sort();
    if files.is_empty() {
        bail!(
            "no .ttf or .otf fonts in {} (on Debian: apt-get install fonts-aenigma)",
            dir.display()
        );
    }
    let mut images = Vec::new();
    let mut labels = Vec::new();
    let mut fonts_used = 0;
    for file in files {
        if max_fonts.is_some_and(|max| fonts_used >= max) {
            break;
        }
        let Ok(bytes) = std::fs::read(&file) else {
            continue;
        };
        let Ok(font) = FontVec::try_from_vec(bytes) else {
            eprintln!("skipping {}: not a readable font", file.display());
            continue;
        };
        let glyphs: Vec<Option<Vec<f32>>> =
            LETTERS.iter().map(|l| render_letter(&font, *l)).collect();
        // A face must draw all ten letters, and not the same shape for all (symbol fonts).
        let all: Option<Vec<Vec<f32>>> = glyphs.into_iter().collect();
        let Some(all) = all else { continue };
        if all.windows(2).all(|w| w[0] == w[1]) {
            continue;
        }
        fonts_used += 1;
        for (label, image) in all.into_iter().enumerate() {
            images.push(image);
            labels.push(label as u8);
        }
    }
    if images.is_empty() {
        bail!("no font in {} could draw the letters A–J", dir.display());
    }
    let set = ImageSet::from_images(
        1,
        driftglass_core::IMAGE_SIDE,
        images.iter().map(|i| i.as_slice()),
    );
    Ok((set, labels, fonts_used))
}

pub fn run(args: LettersArgs) -> Result<()> {
    let (set, labels, fonts) = render_all(&args.fonts, args.max_fonts)?;
    std::fs::write(&args.output, encode_images(&set))
        .with_context(|| format!("writing {}", args.output.display()))?;
    if let Some(path) = &args.labels {
        std::fs::write(path, encode_labels(&labels))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(dir) = &args.png_dir {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        for index in 0..set.count {
            let path = dir.join(format!(
                "{index:05}-{}.png",
                LETTERS[labels[index] as usize]
            ));
            crate::data::save_gray_png(&path, set.image(index))?;
        }
    }
    eprintln!(
        "wrote {} letters from {fonts} fonts to {}",
        set.count,
        args.output.display()
    );
    debug_assert_eq!(set.pixels.len(), set.count * IMAGE_PIXELS);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// DejaVu Sans ships with Debian (fonts-dejavu-core); the CI installs it.
    const DEJAVU: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";

    #[test]
    fn letters_are_cropped_centred_and_white_on_black() {
        let bytes = std::fs::read(DEJAVU).unwrap_or_else(|e| panic!("{DEJAVU}: {e}"));
        let font = FontVec::try_from_vec(bytes).unwrap_or_else(|e| panic!("{e}"));
        for letter in LETTERS {
            let image = render_letter(&font, letter).unwrap_or_else(|| panic!("{letter}"));
            assert_eq!(image.len(), 784);
            let max = image.iter().cloned().fold(0.0f32, f32::max);
            assert!(max > 0.9, "{letter}: no full ink");
            // Cropped to the ink: the longer side touches both edges of the square.
            let row_ink = |y: usize| (0..28).any(|x| image[y * 28 + x] > 0.2);
            let col_ink = |x: usize| (0..28).any(|y| image[y * 28 + x] > 0.2);
            assert!(
                (row_ink(0) && row_ink(27)) || (col_ink(0) && col_ink(27)),
                "{letter} does not fill the square"
            );
        }
        // 'I' is tall and thin: its corners are background.
        let i = render_letter(&font, 'I').unwrap_or_default();
        assert_eq!(i[0], 0.0);
    }
}
