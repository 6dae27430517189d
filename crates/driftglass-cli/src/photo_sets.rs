//! `driftglass photo-sets`: colour demo and evaluation sets cut from real photographs.
//!
//! From a folder of photographs, square patches (`--patch` pixels, at seeded random places and
//! scales) in folders beside each other:
//!
//! | folder | what |
//! | --- | --- |
//! | `reference/` | patches to train and calibrate a colour model on |
//! | `clean/` | other patches of the same photographs (no drift: the false alarms) |
//! | `cast/` | clean patches with a colour cast (white balance: red × 1.15, blue × 0.8) |
//! | `darker/` | clean patches at 60 % exposure |
//! | `blurred/` | clean patches blurred (Gaussian, σ 1.2 px) |
//! | `jpeg/` | clean patches as JPEG files at quality 15 |
//! | `gray/` | clean patches in grayscale (Rec. 709 luma, as RGB) |
//! | `illustrations/` | a different kind of picture: flat-colour drawings of shapes and strokes |
//! | `formats/` | whole photographs at several sizes, in every format the app reads (JPEG, PNG with a transparent border, GIF, BMP, lossless WebP, gray PNG): the end-to-end test's colour drop |
//!
//! Every patch is a file of its own (PNG; JPEG for `jpeg/`), so the CLI and the page read them
//! as a user's files would be. The same photographs, counts and seed give the same files.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Args;
use driftglass_core::rng::SeededRng;
use image::{DynamicImage, Rgb, RgbImage, imageops};

#[derive(Args, Debug)]
pub struct PhotoSetsArgs {
    /// Folder of photographs (PNG or JPEG), at least a few hundred pixels on a side.
    #[arg(long)]
    pub photos: PathBuf,
    /// Folder to write the sets into (created).
    #[arg(long, short)]
    pub output: PathBuf,
    /// Patches in `reference/`.
    #[arg(long, default_value_t = 1000)]
    pub reference: usize,
    /// Patches in `clean/` and in each drift set.
    #[arg(long, default_value_t = 200)]
    pub count: usize,
    /// Side of each patch as written, in pixels.
    #[arg(long, default_value_t = 64)]
    pub patch: u32,
    /// Seed of the patches' places and scales and of the drawings.
    #[arg(long, default_value_t = 5)]
    pub seed: u64,
}

/// The drift sets, in the order the table lists them.
pub const DRIFT_SETS: [&str; 6] = ["cast", "darker", "blurred", "jpeg", "gray", "illustrations"];

pub fn run(args: PhotoSetsArgs) -> Result<()> {
    let mut names: Vec<PathBuf> = std::fs::read_dir(&args.photos)
        .with_context(|| format!("reading {}", args.photos.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| {
            path.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "png" | "jpg" | "jpeg"))
        })
        .collect();
    names.sort();
    let photos: Vec<RgbImage> = names
        .iter()
        .map(|path| {
            image::open(path)
                .map(|image| image.to_rgb8())
                .with_context(|| format!("reading {}", path.display()))
        })
        .collect::<Result<_>>()?;
    if photos.is_empty() {
        bail!("{} holds no PNG or JPEG photographs", args.photos.display());
    }
    if photos
        .iter()
        .any(|p| p.width().min(p.height()) < 2 * args.patch)
    {
        bail!(
            "every photograph must be at least {} pixels on a side",
            2 * args.patch
        );
    }
    let mut rng = SeededRng::new(args.seed);
    let reference = patches(&photos, args.reference, args.patch, &mut rng);
    let clean = patches(&photos, args.count, args.patch, &mut rng);
    write_set(&args.output.join("reference"), &reference, Encoding::Png)?;
    write_set(&args.output.join("clean"), &clean, Encoding::Png)?;
    for set in DRIFT_SETS {
        let folder = args.output.join(set);
        match set {
            "cast" => write_set(&folder, &map(&clean, cast), Encoding::Png)?,
            "darker" => write_set(&folder, &map(&clean, darker), Encoding::Png)?,
            "blurred" => write_set(
                &folder,
                &map(&clean, |p| imageops::blur(p, 1.2)),
                Encoding::Png,
            )?,
            "jpeg" => write_set(&folder, &clean, Encoding::Jpeg(15))?,
            "gray" => write_set(&folder, &map(&clean, gray), Encoding::Png)?,
            _ => {
                let drawings: Vec<RgbImage> = (0..args.count)
                    .map(|_| illustration(args.patch, &mut rng))
                    .collect();
                write_set(&folder, &drawings, Encoding::Png)?
            }
        }
    }
    write_formats(&args.output.join("formats"), &photos)?;
    eprintln!(
        "wrote {}: {} reference patches, {} clean, {} per drift set ({}), {}×{} pixels, from {} photographs",
        args.output.display(),
        reference.len(),
        clean.len(),
        args.count,
        DRIFT_SETS.join(", "),
        args.patch,
        args.patch,
        photos.len()
    );
    Ok(())
}

/// `count` patches: a photograph at random, a square of 1 to 2 patch sides at a random place,
/// area-averaged to the patch side (so the patches are sharp, as a camera's downscaled photo).
fn patches(photos: &[RgbImage], count: usize, side: u32, rng: &mut SeededRng) -> Vec<RgbImage> {
    (0..count)
        .map(|_| {
            let photo = &photos[rng.below(photos.len())];
            let crop = side + rng.below(side as usize + 1) as u32;
            let x = rng.below((photo.width() - crop + 1) as usize) as u32;
            let y = rng.below((photo.height() - crop + 1) as usize) as u32;
            let square = imageops::crop_imm(photo, x, y, crop, crop).to_image();
            if crop == side {
                square
            } else {
                imageops::resize(&square, side, side, imageops::FilterType::Triangle)
            }
        })
        .collect()
}

fn map(set: &[RgbImage], f: impl Fn(&RgbImage) -> RgbImage) -> Vec<RgbImage> {
    set.iter().map(f).collect()
}

fn per_pixel(image: &RgbImage, f: impl Fn([u8; 3]) -> [u8; 3]) -> RgbImage {
    RgbImage::from_fn(image.width(), image.height(), |x, y| {
        Rgb(f(image.get_pixel(x, y).0))
    })
}

fn scaled(v: u8, factor: f32) -> u8 {
    (f32::from(v) * factor).round().clamp(0.0, 255.0) as u8
}

/// A changed white balance: red up 15 %, blue down 20 %.
fn cast(image: &RgbImage) -> RgbImage {
    per_pixel(image, |[r, g, b]| [scaled(r, 1.15), g, scaled(b, 0.8)])
}

/// 60 % exposure.
fn darker(image: &RgbImage) -> RgbImage {
    per_pixel(image, |p| p.map(|v| scaled(v, 0.6)))
}

/// Rec. 709 luma in all three channels.
fn gray(image: &RgbImage) -> RgbImage {
    per_pixel(image, |[r, g, b]| {
        let luma = 0.2126 * f32::from(r) + 0.7152 * f32::from(g) + 0.0722 * f32::from(b);
        [luma.round().clamp(0.0, 255.0) as u8; 3]
    })
}

/// A flat-colour drawing: a plain background, then filled rectangles and discs and thick
/// strokes in a few saturated colours, as clip art and diagrams are drawn.
fn illustration(side: u32, rng: &mut SeededRng) -> RgbImage {
    let palette = [
        [230, 57, 70],
        [241, 250, 238],
        [168, 218, 220],
        [69, 123, 157],
        [29, 53, 87],
        [255, 183, 3],
        [33, 158, 188],
        [2, 48, 71],
        [251, 133, 0],
        [106, 153, 78],
    ];
    let colour = |rng: &mut SeededRng| palette[rng.below(palette.len())];
    let background = colour(rng);
    let mut image = RgbImage::from_pixel(side, side, Rgb(background));
    let s = side as f32;
    for _ in 0..3 + rng.below(4) {
        let fill = colour(rng);
        let (cx, cy) = (rng.uniform() as f32 * s, rng.uniform() as f32 * s);
        let size = (0.1 + 0.3 * rng.uniform() as f32) * s;
        match rng.below(3) {
            0 => {
                for y in 0..side {
                    for x in 0..side {
                        let (dx, dy) = (x as f32 - cx, y as f32 - cy);
                        if dx.abs() < size && dy.abs() < size * 0.6 {
                            image.put_pixel(x, y, Rgb(fill));
                        }
                    }
                }
            }
            1 => {
                for y in 0..side {
                    for x in 0..side {
                        let (dx, dy) = (x as f32 - cx, y as f32 - cy);
                        if dx * dx + dy * dy < size * size {
                            image.put_pixel(x, y, Rgb(fill));
                        }
                    }
                }
            }
            _ => {
                let (ex, ey) = (rng.uniform() as f32 * s, rng.uniform() as f32 * s);
                let width = 1.5 + 2.5 * rng.uniform() as f32;
                for y in 0..side {
                    for x in 0..side {
                        if distance_to_segment((x as f32, y as f32), (cx, cy), (ex, ey)) < width {
                            image.put_pixel(x, y, Rgb(fill));
                        }
                    }
                }
            }
        }
    }
    image
}

fn distance_to_segment(p: (f32, f32), a: (f32, f32), b: (f32, f32)) -> f32 {
    let (abx, aby) = (b.0 - a.0, b.1 - a.1);
    let length = abx * abx + aby * aby;
    let t = if length > 0.0 {
        (((p.0 - a.0) * abx + (p.1 - a.1) * aby) / length).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let (x, y) = (a.0 + t * abx, a.1 + t * aby);
    ((p.0 - x).powi(2) + (p.1 - y).powi(2)).sqrt()
}

/// The photographs whole, resized, as files of every format the app reads.
fn write_formats(folder: &Path, photos: &[RgbImage]) -> Result<()> {
    std::fs::create_dir_all(folder).with_context(|| format!("creating {}", folder.display()))?;
    let photo = |i: usize| &photos[i % photos.len()];
    let sized = |i: usize, width: u32, height: u32| {
        imageops::resize(photo(i), width, height, imageops::FilterType::Triangle)
    };
    let save = |name: &str, image: DynamicImage| {
        let path = folder.join(name);
        image
            .save(&path)
            .with_context(|| format!("writing {}", path.display()))
    };
    let jpeg = sized(2, 640, 427);
    let path = folder.join("photo-640x427.jpg");
    let file = std::fs::File::create(&path)?;
    image::codecs::jpeg::JpegEncoder::new_with_quality(std::io::BufWriter::new(file), 90)
        .encode_image(&jpeg)
        .with_context(|| format!("writing {}", path.display()))?;
    // A transparent border: alpha is flattened onto black, as the README says.
    let framed = image::RgbaImage::from_fn(300, 300, {
        let inner = sized(0, 300, 300);
        move |x, y| {
            let [r, g, b] = inner.get_pixel(x, y).0;
            let edge = x < 12 || y < 12 || x >= 288 || y >= 288;
            image::Rgba([r, g, b, if edge { 0 } else { 255 }])
        }
    });
    save("photo-300x300-alpha.png", DynamicImage::ImageRgba8(framed))?;
    save(
        "photo-225x150.gif",
        DynamicImage::ImageRgb8(sized(1, 225, 150)),
    )?;
    save(
        "photo-160x107.bmp",
        DynamicImage::ImageRgb8(sized(3, 160, 107)),
    )?;
    let webp = DynamicImage::ImageRgba8(DynamicImage::ImageRgb8(sized(2, 120, 80)).to_rgba8());
    save("photo-120x80.webp", webp)?;
    save(
        "photo-48x64-gray.png",
        DynamicImage::ImageLuma8(DynamicImage::ImageRgb8(sized(0, 48, 64)).to_luma8()),
    )?;
    Ok(())
}

#[derive(Clone, Copy)]
enum Encoding {
    Png,
    /// JPEG at this quality.
    Jpeg(u8),
}

fn write_set(folder: &Path, images: &[RgbImage], encoding: Encoding) -> Result<()> {
    std::fs::create_dir_all(folder).with_context(|| format!("creating {}", folder.display()))?;
    for (i, image) in images.iter().enumerate() {
        let path = match encoding {
            Encoding::Png => folder.join(format!("{i:04}.png")),
            Encoding::Jpeg(_) => folder.join(format!("{i:04}.jpg")),
        };
        let written = match encoding {
            Encoding::Png => DynamicImage::ImageRgb8(image.clone()).save(&path),
            Encoding::Jpeg(quality) => std::fs::File::create(&path)
                .map_err(image::ImageError::IoError)
                .and_then(|file| {
                    image::codecs::jpeg::JpegEncoder::new_with_quality(
                        std::io::BufWriter::new(file),
                        quality,
                    )
                    .encode_image(image)
                }),
        };
        written.with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}
