//! Readers and writers for IDX files (the MNIST format), raw or gzip-compressed.
//!
//! Layout: big-endian `u32` magic (`0x0000_0803` = 2051 for unsigned-byte images of rank 3,
//! `0x0000_0801` = 2049 for labels), then one big-endian `u32` per dimension, then the bytes,
//! row-major. Files whose names are those of the published MNIST / Fashion-MNIST files are
//! checked against the SHA-256 sums those projects publish.

use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::architecture::{IMAGE_PIXELS, IMAGE_SIDE};

/// Magic number of an IDX file of unsigned bytes with three dimensions (images).
pub const IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic number of an IDX file of unsigned bytes with one dimension (labels).
pub const LABELS_MAGIC: u32 = 0x0000_0801;
/// Largest decompressed IDX file this reader accepts (1 GiB).
pub const MAX_IDX_BYTES: u64 = 1 << 30;

/// Published SHA-256 of the decompressed files, keyed by the decompressed file name.
/// The Fashion-MNIST test files share their names with MNIST's, so a name may have two sums.
pub const KNOWN_CHECKSUMS: &[(&str, &str, &str)] = &[
    (
        "train-images-idx3-ubyte",
        "MNIST train images",
        "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    ),
    (
        "train-labels-idx1-ubyte",
        "MNIST train labels",
        "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    ),
    (
        "t10k-images-idx3-ubyte",
        "MNIST test images",
        "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    ),
    (
        "t10k-labels-idx1-ubyte",
        "MNIST test labels",
        "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    ),
    (
        "t10k-images-idx3-ubyte",
        "Fashion-MNIST test images",
        "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    ),
    (
        "t10k-labels-idx1-ubyte",
        "Fashion-MNIST test labels",
        "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    ),
];

/// What can go wrong reading an IDX file.
#[derive(Debug, thiserror::Error)]
pub enum IdxError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("not a gzip stream or corrupt gzip data: {0}")]
    Gzip(std::io::Error),
    #[error("file is {0} bytes, shorter than an IDX header")]
    TooShort(usize),
    #[error("not an IDX file: magic number {found:#010x}, expected {expected:#010x}")]
    WrongMagic { found: u32, expected: u32 },
    #[error("IDX images must be {expected}×{expected}, this file holds {rows}×{cols}")]
    WrongImageSize {
        rows: u32,
        cols: u32,
        expected: usize,
    },
    #[error("truncated IDX file: header promises {expected} data bytes, found {found}")]
    Truncated { expected: u64, found: u64 },
    #[error("IDX file has {extra} bytes after the data the header describes")]
    TrailingBytes { extra: u64 },
    #[error("file larger than the {MAX_IDX_BYTES}-byte limit")]
    TooLarge,
    #[error("checksum mismatch for {name}: SHA-256 {found}, expected {expected}")]
    Checksum {
        name: String,
        found: String,
        expected: String,
    },
}

/// A set of square images (28×28 gray unless a model takes larger or colour inputs), values
/// scaled to [0, 1].
#[derive(Debug, Clone, PartialEq)]
pub struct ImageSet {
    /// `count · channels · side²` values in [0, 1], image after image, each channels first
    /// (plane after plane), row-major.
    pub pixels: Vec<f32>,
    /// Number of images.
    pub count: usize,
    /// Side of each image in pixels (28 for MNIST and every IDX file read here).
    pub side: usize,
    /// Channels per image: 1 (gray) or 3 (RGB).
    pub channels: usize,
}

impl ImageSet {
    /// A set of 28×28 images.
    pub fn new(pixels: Vec<f32>, count: usize) -> ImageSet {
        ImageSet {
            pixels,
            count,
            side: IMAGE_SIDE,
            channels: 1,
        }
    }

    /// A set of `channels`-channel `side`×`side` images.
    pub fn with_shape(pixels: Vec<f32>, count: usize, channels: usize, side: usize) -> ImageSet {
        ImageSet {
            pixels,
            count,
            side,
            channels,
        }
    }

    /// An empty set of images of this set's shape.
    pub fn empty_like(&self) -> ImageSet {
        ImageSet::with_shape(Vec::new(), 0, self.channels, self.side)
    }

    /// Values per image (`channels · side²`).
    pub fn image_len(&self) -> usize {
        self.channels * self.side * self.side
    }

    /// Pixels of image `index`.
    pub fn image(&self, index: usize) -> &[f32] {
        let len = self.image_len();
        &self.pixels[index * len..(index + 1) * len]
    }

    /// The first `count` images (or all if fewer).
    pub fn take(&self, count: usize) -> ImageSet {
        let count = count.min(self.count);
        ImageSet {
            pixels: self.pixels[..count * self.image_len()].to_vec(),
            count,
            side: self.side,
            channels: self.channels,
        }
    }

    /// Images `start..start + count` (clamped to the set).
    pub fn range(&self, start: usize, count: usize) -> ImageSet {
        let start = start.min(self.count);
        let count = count.min(self.count - start);
        let len = self.image_len();
        ImageSet {
            pixels: self.pixels[start * len..(start + count) * len].to_vec(),
            count,
            side: self.side,
            channels: self.channels,
        }
    }

    /// Build a set of `channels`-channel `side`×`side` images from single images
    /// (`channels · side²` values each).
    pub fn from_images<'a>(
        channels: usize,
        side: usize,
        images: impl IntoIterator<Item = &'a [f32]>,
    ) -> ImageSet {
        let mut pixels = Vec::new();
        let mut count = 0;
        for image in images {
            pixels.extend_from_slice(image);
            count += 1;
        }
        ImageSet {
            pixels,
            count,
            side,
            channels,
        }
    }
}

/// Whether a file name says it holds IDX images: `.idx`, `-idx3-ubyte`, each optionally `.gz`.
pub fn is_idx_name(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    let name = name.strip_suffix(".gz").unwrap_or(&name);
    name.ends_with(".idx") || name.ends_with("-idx3-ubyte") || name.ends_with(".idx3-ubyte")
}

/// Decompress if gzip (detected by its magic bytes, not by name), with a size limit.
fn decompress(bytes: Vec<u8>) -> Result<Vec<u8>, IdxError> {
    if bytes.len() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(bytes.as_slice())
            .take(MAX_IDX_BYTES + 1)
            .read_to_end(&mut out)
            .map_err(IdxError::Gzip)?;
        if out.len() as u64 > MAX_IDX_BYTES {
            return Err(IdxError::TooLarge);
        }
        Ok(out)
    } else {
        Ok(bytes)
    }
}

fn read_u32(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

/// Check a decompressed file against the published checksums for its name, if any.
/// Returns the data set's description when the name is known and a sum matches.
pub fn verify_checksum(file_name: &str, data: &[u8]) -> Result<Option<&'static str>, IdxError> {
    let name = file_name.trim_end_matches(".gz");
    let candidates: Vec<_> = KNOWN_CHECKSUMS
        .iter()
        .filter(|(known, ..)| *known == name)
        .collect();
    if candidates.is_empty() {
        return Ok(None);
    }
    let found = hex(&Sha256::digest(data));
    match candidates.iter().find(|(.., sum)| *sum == found) {
        Some((_, description, _)) => Ok(Some(description)),
        None => Err(IdxError::Checksum {
            name: name.to_string(),
            found,
            expected: candidates
                .iter()
                .map(|(.., sum)| *sum)
                .collect::<Vec<_>>()
                .join(" or "),
        }),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Parse IDX image bytes (raw or gzip) into an [`ImageSet`].
pub fn parse_images(bytes: Vec<u8>) -> Result<ImageSet, IdxError> {
    let data = decompress(bytes)?;
    parse_images_raw(&data)
}

fn parse_images_raw(data: &[u8]) -> Result<ImageSet, IdxError> {
    if data.len() < 16 {
        return Err(IdxError::TooShort(data.len()));
    }
    let magic = read_u32(data, 0);
    if magic != IMAGES_MAGIC {
        return Err(IdxError::WrongMagic {
            found: magic,
            expected: IMAGES_MAGIC,
        });
    }
    let count = read_u32(data, 4);
    let (rows, cols) = (read_u32(data, 8), read_u32(data, 12));
    if rows as usize != crate::IMAGE_SIDE || cols as usize != crate::IMAGE_SIDE {
        return Err(IdxError::WrongImageSize {
            rows,
            cols,
            expected: crate::IMAGE_SIDE,
        });
    }
    check_length(count as u64 * IMAGE_PIXELS as u64, data.len() - 16)?;
    let pixels = data[16..].iter().map(|b| *b as f32 / 255.0).collect();
    Ok(ImageSet {
        pixels,
        side: IMAGE_SIDE,
        count: count as usize,
        channels: 1,
    })
}

/// Parse IDX label bytes (raw or gzip).
pub fn parse_labels(bytes: Vec<u8>) -> Result<Vec<u8>, IdxError> {
    let data = decompress(bytes)?;
    if data.len() < 8 {
        return Err(IdxError::TooShort(data.len()));
    }
    let magic = read_u32(&data, 0);
    if magic != LABELS_MAGIC {
        return Err(IdxError::WrongMagic {
            found: magic,
            expected: LABELS_MAGIC,
        });
    }
    check_length(read_u32(&data, 4) as u64, data.len() - 8)?;
    Ok(data[8..].to_vec())
}

/// The data after the header must be exactly what the header promises.
fn check_length(expected: u64, found: usize) -> Result<(), IdxError> {
    let found = found as u64;
    if found < expected {
        return Err(IdxError::Truncated { expected, found });
    }
    if found > expected {
        return Err(IdxError::TrailingBytes {
            extra: found - expected,
        });
    }
    Ok(())
}

/// Read an IDX image file from disk, verifying its checksum when its name is a known one.
pub fn read_images(path: &Path) -> Result<ImageSet, IdxError> {
    let data = read_verified(path)?;
    parse_images_raw(&data)
}

/// Read an IDX label file from disk, verifying its checksum when its name is a known one.
pub fn read_labels(path: &Path) -> Result<Vec<u8>, IdxError> {
    parse_labels(read_verified(path)?)
}

fn read_verified(path: &Path) -> Result<Vec<u8>, IdxError> {
    let io = |source| IdxError::Io {
        path: path.display().to_string(),
        source,
    };
    let size = std::fs::metadata(path).map_err(io)?.len();
    if size > MAX_IDX_BYTES {
        return Err(IdxError::TooLarge);
    }
    let data = decompress(std::fs::read(path).map_err(io)?)?;
    if let Some(name) = path.file_name().and_then(|n| n.to_str()) {
        verify_checksum(name, &data)?;
    }
    Ok(data)
}

/// Encode images (values in [0, 1], rounded to bytes) as an uncompressed IDX image file.
pub fn encode_images(set: &ImageSet) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + set.pixels.len());
    out.extend_from_slice(&IMAGES_MAGIC.to_be_bytes());
    out.extend_from_slice(&(set.count as u32).to_be_bytes());
    out.extend_from_slice(&(crate::IMAGE_SIDE as u32).to_be_bytes());
    out.extend_from_slice(&(crate::IMAGE_SIDE as u32).to_be_bytes());
    out.extend(
        set.pixels
            .iter()
            .map(|v| (v.clamp(0.0, 1.0) * 255.0).round() as u8),
    );
    out
}

/// Encode labels as an uncompressed IDX label file.
pub fn encode_labels(labels: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + labels.len());
    out.extend_from_slice(&LABELS_MAGIC.to_be_bytes());
    out.extend_from_slice(&(labels.len() as u32).to_be_bytes());
    out.extend_from_slice(labels);
    out
}

/// The standard MNIST file names inside a data directory (gzip or raw, whichever exists).
pub fn locate(dir: &Path, stem: &str) -> Result<std::path::PathBuf, IdxError> {
    for candidate in [format!("{stem}.gz"), stem.to_string()] {
        let path = dir.join(&candidate);
        if path.is_file() {
            return Ok(path);
        }
    }
    Err(IdxError::Io {
        path: dir.join(stem).display().to_string(),
        source: std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("neither {stem} nor {stem}.gz exists in {}", dir.display()),
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idx_names() {
        for name in [
            "a.idx",
            "A.IDX",
            "t10k-images-idx3-ubyte",
            "x-idx3-ubyte.gz",
            "b.idx.gz",
            "train.idx3-ubyte",
        ] {
            assert!(is_idx_name(name), "{name}");
        }
        for name in ["a.png", "idx", "a.idx.png", "labels-idx1-ubyte", "a.gz"] {
            assert!(!is_idx_name(name), "{name}");
        }
    }
    use std::io::Write;

    fn two_images() -> ImageSet {
        let mut pixels = vec![0.0; 2 * IMAGE_PIXELS];
        pixels[5] = 1.0;
        pixels[IMAGE_PIXELS + 700] = 128.0 / 255.0;
        ImageSet::new(pixels, 2)
    }

    #[test]
    fn round_trip_raw_and_gzip() {
        let set = two_images();
        let raw = encode_images(&set);
        assert_eq!(parse_images(raw.clone()).ok(), Some(set.clone()));
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&raw).ok();
        let gz = gz.finish().unwrap_or_default();
        assert_eq!(parse_images(gz).ok(), Some(set));
        let labels = vec![3u8, 7];
        assert_eq!(parse_labels(encode_labels(&labels)).ok(), Some(labels));
    }

    #[test]
    fn truncated_file_is_reported() {
        let mut raw = encode_images(&two_images());
        raw.truncate(raw.len() - 10);
        match parse_images(raw) {
            Err(IdxError::Truncated { expected, found }) => {
                assert_eq!(expected, 2 * 784);
                assert_eq!(found, 2 * 784 - 10);
            }
            other => panic!("expected Truncated, got {other:?}"),
        }
        assert!(matches!(
            parse_images(vec![0, 0, 8]),
            Err(IdxError::TooShort(3))
        ));
    }

    #[test]
    fn wrong_magic_and_foreign_files_are_reported() {
        let labels = encode_labels(&[1, 2, 3]);
        assert!(matches!(
            parse_images(labels),
            Err(IdxError::WrongMagic { .. }) | Err(IdxError::TooShort(_))
        ));
        let png_header = b"\x89PNG\r\n\x1a\n0000000000000000".to_vec();
        assert!(matches!(
            parse_images(png_header),
            Err(IdxError::WrongMagic { .. })
        ));
        // A gzip header followed by garbage.
        assert!(matches!(
            parse_images(vec![0x1f, 0x8b, 8, 0, 1, 2, 3]),
            Err(IdxError::Gzip(_))
        ));
        let mut wrong_size = encode_images(&two_images());
        wrong_size[11] = 32;
        assert!(matches!(
            parse_images(wrong_size),
            Err(IdxError::WrongImageSize { .. })
        ));
    }

    #[test]
    fn checksums_are_verified_by_name() {
        assert!(matches!(verify_checksum("other-file", b"x"), Ok(None)));
        assert!(matches!(
            verify_checksum("t10k-images-idx3-ubyte.gz", b"not mnist"),
            Err(IdxError::Checksum { .. })
        ));
    }

    #[test]
    fn shared_mnist_test_set_verifies_when_present() {
        let dir = crate::data_dir_for_tests();
        let Some(dir) = dir else { return };
        let Ok(path) = locate(&dir.join("mnist"), "t10k-labels-idx1-ubyte") else {
            return;
        };
        let labels = read_labels(&path).unwrap_or_default();
        assert_eq!(labels.len(), 10_000);
    }
}
