//! The model file: network weights, architecture, preprocessing, baseline and training history
//! in one self-checking file, readable without burn.
//!
//! Layout (all integers little-endian):
//!
//! | bytes | what |
//! | --- | --- |
//! | 8 | magic `DGLSMODL` |
//! | 4 | format version ([`FORMAT_VERSION`]) |
//! | 4 | header length `h` (at most [`MAX_HEADER_BYTES`]) |
//! | h | header, JSON ([`ModelHeader`]) |
//! | 4 | baseline count `n` (at most [`MAX_BASELINE`]) |
//! | 4·n | sorted baseline losses, f32 |
//! | 4 | latent codes `c` (0: none; from version 2) |
//! | 4 | latent dimensions `d` (from version 2) |
//! | 4·c·d | latent reference codes, f32 (see [`crate::latent`]; from version 2) |
//! | 4 | novelty values `v` (0: none; from version 4) |
//! | 4·v | the novelty score (see [`crate::novelty`]), f32: 3 × [`KNOTS`] knots (loss, residual, distance), the code density's mean (`d`) and packed Cholesky factor (`d(d+1)/2`), the calibration images' sorted scores (`d` and their count in the header's `novelty`; from version 4); where the header's novelty declares an `edge_profile` (from version 5): its transform's [`KNOTS`] knots, the profiles' mean ([`EDGE_BINS`]) and packed Cholesky factor |
//! | 4 | weights length `w` (at most [`MAX_WEIGHTS_BYTES`]) |
//! | w | weights: named tensors (from version 3, below); burn `ModuleRecord` bytes (burnpack, versions 1 and 2) |
//! | 32 | SHA-256 of everything before it |
//!
//! The weights section of version 3: a tensor count `t` (u32), then per tensor its name's
//! length (u32) and UTF-8 bytes, its rank `r` (u32, at most 4), `r` dimensions (u32 each) and
//! its values (f32, row-major). The autoencoder's tensors are `<layer>.weight` `[out, in, k, k]`
//! and `<layer>.bias` `[out]` for each name of [`AutoencoderConfig::layer_names`] (the header's `architecture` gives the
//! depth and code channels; files of the reference shape omit them). Files of
//! versions 1 and 2 are read through [`crate::burnpack`] and converted on load; writing always
//! gives the current version ([`FORMAT_VERSION`]).
//!
//! Every length is checked against the bytes that remain (and a legacy burnpack's metadata
//! against a small cap) before anything is allocated, the checksum catches corruption before
//! parsing, and the weights are checked against the
//! architecture the header declares, so a truncated, corrupted, foreign or hostile file gives
//! an error, not a panic.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::architecture::{AutoencoderConfig, ConvWeights, Weights};
use crate::augment::Augmentation;
use crate::baseline::{Baseline, BaselineSummary};
use crate::burnpack::{self, Tensor};
use crate::latent::{LATENT_DIMS, LatentReference, LatentSummary, PROJECTION_SEED};
use crate::novelty::{EDGE_BINS, EdgeTerm, KNOTS, NoveltyReference, NoveltySummary};
use crate::preprocess::PreprocessConfig;
use crate::stats::Alternative;
use crate::train::{EpochReport, TrainingConfig};

/// First bytes of every model file.
pub const MAGIC: &[u8; 8] = b"DGLSMODL";
/// Version of the layout written by this build.
pub const FORMAT_VERSION: u32 = 6;
/// First version whose weights are named tensors (earlier: burnpack).
pub const TENSOR_FORMAT_VERSION: u32 = 3;
/// Oldest version this build reads (version 1 has no latent reference: no latent test).
pub const OLDEST_FORMAT_VERSION: u32 = 1;
/// Largest header accepted.
pub const MAX_HEADER_BYTES: u32 = 1 << 20;
/// Most baseline losses accepted.
pub const MAX_BASELINE: u32 = 10_000_000;
/// Most latent code values accepted (16 Mi values, 64 MiB).
pub const MAX_LATENT_VALUES: u32 = 16 << 20;
/// Most novelty values accepted (the calibration scores are most of them; 64 MiB).
pub const MAX_NOVELTY_VALUES: u32 = 16 << 20;
/// First version that may hold a novelty score.
pub const NOVELTY_FORMAT_VERSION: u32 = 4;
/// First version whose novelty score may have the edge-profile term.
pub const EDGE_FORMAT_VERSION: u32 = 5;
/// First version whose novelty score may leave the loss's own surprise out of its sum.
pub const LOSS_TERM_FORMAT_VERSION: u32 = 6;
/// Largest weights section accepted (256 MiB).
pub const MAX_WEIGHTS_BYTES: u32 = 256 << 20;
/// Most tensors accepted in a weights section.
pub const MAX_TENSORS: u32 = 64;
/// Longest tensor name accepted.
pub const MAX_TENSOR_NAME: u32 = 256;

/// How a model was trained, kept in its file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingSummary {
    /// The training settings.
    pub config: TrainingConfig,
    /// What the training images were.
    pub training_data: String,
    /// Number of training images.
    pub training_images: usize,
    /// Number of validation images.
    pub validation_images: usize,
    /// Per-epoch history.
    pub history: Vec<EpochReport>,
    /// Total wall-clock seconds, calibration included.
    pub total_seconds: f64,
    /// Device the model was trained on, e.g. "flex (CPU)".
    pub device: String,
    /// The epoch whose weights the file holds: the best validated one (files written before
    /// this field kept the last epoch's).
    #[serde(default)]
    pub kept_epoch: Option<usize>,
}

/// Everything in a model file except weights and baseline values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelHeader {
    /// Program and version that wrote the file.
    pub created_by: String,
    /// Architecture.
    pub architecture: AutoencoderConfig,
    /// Preprocessing used for the baseline; scoring must use the same.
    pub preprocess: PreprocessConfig,
    /// Summary of the baseline stored after the header.
    pub baseline: BaselineSummary,
    /// Training record, if the file was written by a trainer.
    pub training: Option<TrainingSummary>,
    /// The latent reference sample stored after the baseline, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latent: Option<LatentSummary>,
    /// The calibration images' properties, for "what changed" (absent in files written before
    /// they were measured: those reports say so).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub properties: Option<crate::properties::PropertyReference>,
    /// The novelty score's fit (its arrays follow the latent reference), if any: files before
    /// version 4, and files recalibrated without fit images, flag on the loss alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub novelty: Option<NoveltySummary>,
    /// The random transformations the calibration images were drawn with (none: the held-out
    /// images as they are). Where there are some, the reference holds transformed images, and
    /// the batch tests ask whether a batch is worse than it ([`Alternative::Worse`]).
    #[serde(default, skip_serializing_if = "Augmentation::is_none")]
    pub calibration_augment: Augmentation,
}

impl ModelHeader {
    /// `set` as this model's calibration images are made: transformed once by
    /// [`Self::calibration_augment`] (seeded by the training run's seed), or as it is.
    pub fn calibration_images(&self, set: &crate::ImageSet) -> crate::ImageSet {
        TrainingConfig {
            augment: self.calibration_augment,
            seed: self
                .training
                .as_ref()
                .map_or(TrainingConfig::default().seed, |t| t.config.seed),
            ..TrainingConfig::default()
        }
        .calibration_images(set)
    }

    /// What the batch tests ask of a batch scored with this model.
    pub fn alternative(&self) -> Alternative {
        if self.calibration_augment.is_none() {
            Alternative::Different
        } else {
            Alternative::Worse
        }
    }
}

/// A loaded model: the network, its baseline and its header.
#[derive(Debug, Clone)]
pub struct LoadedModel {
    pub header: ModelHeader,
    pub baseline: Baseline,
    /// The network's weights.
    pub weights: Weights,
    /// The format version the file was written in (older ones are converted on load).
    pub format_version: u32,
    /// Projected codes of reference images, for the latent MMD test (absent in version 1).
    pub latent: Option<LatentReference>,
    /// The novelty score, fitted and calibrated (see [`crate::novelty`]); absent before
    /// version 4.
    pub novelty: Option<NoveltyReference>,
    /// SHA-256 of the whole file, hex: the model's identity in reports.
    pub sha256: String,
}

/// Why a model file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum ModelFileError {
    #[error("not a Driftglass model file (it does not start with {MAGIC:?})")]
    NotAModelFile,
    #[error(
        "model file format version {found} is not supported (this build reads versions {OLDEST_FORMAT_VERSION} to {FORMAT_VERSION})"
    )]
    UnsupportedVersion { found: u32 },
    #[error("model file is truncated: {section} needs {needed} bytes, {available} remain")]
    Truncated {
        section: &'static str,
        needed: u64,
        available: u64,
    },
    #[error("model file declares a {section} of {declared}, over the limit of {limit}")]
    TooLarge {
        section: &'static str,
        declared: u64,
        limit: u64,
    },
    #[error("model file is corrupted: its checksum does not match its contents")]
    ChecksumMismatch,
    #[error("model file has {0} unexpected bytes at its end")]
    TrailingBytes(usize),
    #[error("model file header is invalid: {0}")]
    Header(String),
    #[error("model file baseline is invalid: {0}")]
    Baseline(String),
    #[error("model file latent reference is invalid: {0}")]
    Latent(String),
    #[error("model file novelty score is invalid: {0}")]
    Novelty(String),
    #[error("model file weights do not fit the architecture: {0}")]
    Weights(String),
}

impl LoadedModel {
    /// The network on the CPU kernels, for the side the model was trained at.
    pub fn network(&self) -> Result<crate::DirectNetwork, crate::score::ScoreError> {
        crate::DirectNetwork::new(&self.weights)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Serialise a model, its baseline and header into model-file bytes (the current version).
pub fn encode(
    weights: &Weights,
    header: &ModelHeader,
    baseline: &Baseline,
    latent: Option<&LatentReference>,
    novelty: Option<&NoveltyReference>,
) -> Result<Vec<u8>, ModelFileError> {
    if header.novelty != novelty.map(NoveltyReference::summary) {
        return Err(ModelFileError::Novelty(
            "the header's novelty summary is not the novelty reference's".into(),
        ));
    }
    let declared = header.latent.as_ref().map(|l| (l.count, l.dims));
    if declared != latent.map(|l| (l.len(), l.dims())) {
        return Err(ModelFileError::Latent(format!(
            "the header declares {declared:?} (codes, dimensions), the sample holds {:?}",
            latent.map(|l| (l.len(), l.dims()))
        )));
    }
    let header_json =
        serde_json::to_vec(header).map_err(|e| ModelFileError::Header(e.to_string()))?;
    if header.architecture != *weights.config() {
        return Err(ModelFileError::Weights(format!(
            "the header declares {:?}, the weights are of {:?}",
            header.architecture,
            weights.config()
        )));
    }
    let weights = encode_weights(weights);
    let mut out = Vec::with_capacity(64 + header_json.len() + 4 * baseline.len() + weights.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&(header_json.len() as u32).to_le_bytes());
    out.extend_from_slice(&header_json);
    out.extend_from_slice(&(baseline.len() as u32).to_le_bytes());
    for value in baseline.sorted() {
        out.extend_from_slice(&value.to_le_bytes());
    }
    let (codes, dims) = latent.map_or((0, 0), |l| (l.len(), l.dims()));
    out.extend_from_slice(&(codes as u32).to_le_bytes());
    out.extend_from_slice(&(dims as u32).to_le_bytes());
    for value in latent.map_or(&[][..], LatentReference::values) {
        out.extend_from_slice(&value.to_le_bytes());
    }
    let novelty = novelty.map(novelty_values).unwrap_or_default();
    out.extend_from_slice(&(novelty.len() as u32).to_le_bytes());
    for value in novelty {
        out.extend_from_slice(&value.to_le_bytes());
    }
    out.extend_from_slice(&(weights.len() as u32).to_le_bytes());
    out.extend_from_slice(&weights);
    let digest = Sha256::digest(&out);
    out.extend_from_slice(&digest);
    Ok(out)
}

/// The novelty section's values, in the order of the layout table.
fn novelty_values(novelty: &NoveltyReference) -> Vec<f32> {
    let mut values: Vec<f32> = novelty
        .transforms()
        .iter()
        .flat_map(|t| t.knots().iter().copied())
        .collect();
    values.extend_from_slice(novelty.density().mean());
    values.extend_from_slice(novelty.density().cholesky());
    values.extend_from_slice(novelty.calibration().sorted());
    if let Some(edges) = novelty.edges() {
        values.extend_from_slice(edges.transform().knots());
        values.extend_from_slice(edges.density().mean());
        values.extend_from_slice(edges.density().cholesky());
    }
    values
}

/// The novelty reference from the header's summary and the section's values.
fn check_novelty(
    version: u32,
    summary: Option<&NoveltySummary>,
    values: Vec<f32>,
) -> Result<Option<NoveltyReference>, ModelFileError> {
    let Some(summary) = summary else {
        return if values.is_empty() {
            Ok(None)
        } else {
            Err(ModelFileError::Novelty(
                "the file holds novelty values its header does not declare".into(),
            ))
        };
    };
    if summary.edge_profile.is_some() && version < EDGE_FORMAT_VERSION {
        return Err(ModelFileError::Novelty(format!(
            "a format {version} file declares an edge-profile term (from format {EDGE_FORMAT_VERSION})"
        )));
    }
    if !summary.loss_term && version < LOSS_TERM_FORMAT_VERSION {
        return Err(ModelFileError::Novelty(format!(
            "a format {version} file declares a novelty score without the loss term (from format {LOSS_TERM_FORMAT_VERSION})"
        )));
    }
    let edge_values = summary
        .edge_profile
        .map_or(0, |_| KNOTS + EDGE_BINS + EDGE_BINS * (EDGE_BINS + 1) / 2);
    let d = summary.dims;
    let expected = (d as u64).checked_mul(d as u64 + 1).map(|v| {
        v / 2 + d as u64 + 3 * KNOTS as u64 + summary.calibration_images as u64 + edge_values as u64
    });
    if expected != Some(values.len() as u64) {
        return Err(ModelFileError::Novelty(format!(
            "the header declares {d} dimensions and {} calibration scores, the file holds {} values",
            summary.calibration_images,
            values.len()
        )));
    }
    let mut rest = values;
    let mut take = |count: usize| -> Vec<f32> {
        let tail = rest.split_off(count);
        std::mem::replace(&mut rest, tail)
    };
    let knots = [take(KNOTS), take(KNOTS), take(KNOTS)];
    let mean = take(d);
    let cholesky = take(d * (d + 1) / 2);
    let calibration = take(summary.calibration_images);
    let edges = summary
        .edge_profile
        .as_ref()
        .map(|edge| {
            let knots = take(KNOTS);
            let mean = take(EDGE_BINS);
            EdgeTerm::from_parts(edge, knots, mean, take(EDGE_BINS * (EDGE_BINS + 1) / 2))
        })
        .transpose()
        .map_err(ModelFileError::Novelty)?;
    NoveltyReference::from_parts(summary, knots, mean, cholesky, calibration, edges)
        .map(Some)
        .map_err(ModelFileError::Novelty)
}

/// The weights section of version 3: the convolutions as named tensors.
fn encode_weights(weights: &Weights) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + 4 * weights.config().num_params());
    let mut tensors: Vec<(String, Vec<usize>, &[f32])> = Vec::new();
    for (layer, name) in weights.layers().iter().zip(weights.config().layer_names()) {
        tensors.push((
            format!("{name}.weight"),
            layer.shape.to_vec(),
            &layer.kernel,
        ));
        if let Some(bias) = &layer.bias {
            tensors.push((format!("{name}.bias"), vec![bias.len()], bias));
        }
    }
    out.extend_from_slice(&(tensors.len() as u32).to_le_bytes());
    for (name, shape, values) in tensors {
        out.extend_from_slice(&(name.len() as u32).to_le_bytes());
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(&(shape.len() as u32).to_le_bytes());
        for dim in shape {
            out.extend_from_slice(&(dim as u32).to_le_bytes());
        }
        for value in values {
            out.extend_from_slice(&value.to_le_bytes());
        }
    }
    out
}

/// The named tensors of a version 3 weights section.
fn read_tensors(bytes: &[u8]) -> Result<BTreeMap<String, Tensor>, ModelFileError> {
    let mut cursor = Cursor { bytes, at: 0 };
    let count = cursor.length("tensor count", MAX_TENSORS)?;
    let mut tensors = BTreeMap::new();
    for _ in 0..count {
        let name_len = cursor.length("tensor name", MAX_TENSOR_NAME)?;
        let name = std::str::from_utf8(cursor.take("tensor name", name_len as u64)?)
            .map_err(|_| ModelFileError::Weights("a tensor name is not UTF-8".into()))?
            .to_string();
        let rank = cursor.length("tensor rank", 4)?;
        let mut shape = Vec::with_capacity(rank as usize);
        for _ in 0..rank {
            shape.push(cursor.u32("tensor shape")? as usize);
        }
        let values = shape.iter().try_fold(1u64, |n, &d| n.checked_mul(d as u64));
        let bytes = values
            .and_then(|v| v.checked_mul(4))
            .ok_or_else(|| ModelFileError::Weights(format!("{name} is too large")))?;
        let values = floats(cursor.take("tensor values", bytes)?);
        if tensors
            .insert(name.clone(), Tensor { shape, values })
            .is_some()
        {
            return Err(ModelFileError::Weights(format!("{name} appears twice")));
        }
    }
    if cursor.at != bytes.len() {
        return Err(ModelFileError::Weights(format!(
            "{} bytes after the last tensor",
            bytes.len() - cursor.at
        )));
    }
    Ok(tensors)
}

/// The convolutions of `config` from named tensors; every tensor must be used.
fn assemble(
    config: AutoencoderConfig,
    mut tensors: BTreeMap<String, Tensor>,
) -> Result<Weights, ModelFileError> {
    let mut layers = Vec::with_capacity(config.layer_count());
    for (name, shape) in config.layer_names().iter().zip(config.layer_shapes()) {
        let kernel = tensors
            .remove(&format!("{name}.weight"))
            .ok_or_else(|| ModelFileError::Weights(format!("{name}.weight is missing")))?;
        if kernel.shape != shape {
            return Err(ModelFileError::Weights(format!(
                "{name}.weight has shape {:?}, the architecture needs {shape:?}",
                kernel.shape
            )));
        }
        let bias = match tensors.remove(&format!("{name}.bias")) {
            Some(bias) if bias.shape != [shape[0]] => {
                return Err(ModelFileError::Weights(format!(
                    "{name}.bias has shape {:?}, the architecture needs [{}]",
                    bias.shape, shape[0]
                )));
            }
            bias => bias.map(|b| b.values),
        };
        layers.push(ConvWeights {
            shape,
            kernel: kernel.values,
            bias,
        });
    }
    if let Some(name) = tensors.keys().next() {
        return Err(ModelFileError::Weights(format!(
            "unexpected tensor {name} for this architecture"
        )));
    }
    Weights::new(config, layers).map_err(|e| ModelFileError::Weights(e.to_string()))
}

/// A cursor that never reads past the end.
struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, section: &'static str, count: u64) -> Result<&'a [u8], ModelFileError> {
        let available = (self.bytes.len() - self.at) as u64;
        if count > available {
            return Err(ModelFileError::Truncated {
                section,
                needed: count,
                available,
            });
        }
        let slice = &self.bytes[self.at..self.at + count as usize];
        self.at += count as usize;
        Ok(slice)
    }

    fn u32(&mut self, section: &'static str) -> Result<u32, ModelFileError> {
        let bytes = self.take(section, 4)?;
        Ok(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    }

    fn length(&mut self, section: &'static str, limit: u32) -> Result<u32, ModelFileError> {
        let declared = self.u32(section)?;
        if declared > limit {
            return Err(ModelFileError::TooLarge {
                section,
                declared: declared as u64,
                limit: limit as u64,
            });
        }
        Ok(declared)
    }
}

/// Read the header only (cheap; no weights are built).
pub fn read_header(bytes: &[u8]) -> Result<ModelHeader, ModelFileError> {
    Ok(split(bytes)?.header)
}

/// The sections of a model file, checked for size and checksum but not yet interpreted.
struct Sections<'a> {
    version: u32,
    header: ModelHeader,
    baseline: Vec<f32>,
    latent: Option<(usize, Vec<f32>)>,
    novelty: Vec<f32>,
    weights: &'a [u8],
}

fn floats(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

fn split(bytes: &[u8]) -> Result<Sections<'_>, ModelFileError> {
    if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
        return Err(ModelFileError::NotAModelFile);
    }
    let mut cursor = Cursor { bytes, at: 8 };
    let version = cursor.u32("format version")?;
    if !(OLDEST_FORMAT_VERSION..=FORMAT_VERSION).contains(&version) {
        return Err(ModelFileError::UnsupportedVersion { found: version });
    }
    let header_len = cursor.length("header", MAX_HEADER_BYTES)?;
    let header_bytes = cursor.take("header", header_len as u64)?;
    let count = cursor.length("baseline", MAX_BASELINE)?;
    let baseline_bytes = cursor.take("baseline", count as u64 * 4)?;
    let latent_bytes = if version >= 2 {
        let codes = cursor.u32("latent reference")?;
        let dims = cursor.u32("latent reference")?;
        let values = codes as u64 * dims as u64;
        if values > MAX_LATENT_VALUES as u64 {
            return Err(ModelFileError::TooLarge {
                section: "latent reference",
                declared: values,
                limit: MAX_LATENT_VALUES as u64,
            });
        }
        let bytes = cursor.take("latent reference", values * 4)?;
        (codes > 0).then_some((dims as usize, bytes))
    } else {
        None
    };
    let novelty_bytes = if version >= NOVELTY_FORMAT_VERSION {
        let values = cursor.length("novelty score", MAX_NOVELTY_VALUES)?;
        cursor.take("novelty score", values as u64 * 4)?
    } else {
        &[]
    };
    let weights_len = cursor.length("weights", MAX_WEIGHTS_BYTES)?;
    let weights = cursor.take("weights", weights_len as u64)?;
    let body_end = cursor.at;
    let digest = cursor.take("checksum", 32)?;
    if cursor.at != bytes.len() {
        return Err(ModelFileError::TrailingBytes(bytes.len() - cursor.at));
    }
    if Sha256::digest(&bytes[..body_end]).as_slice() != digest {
        return Err(ModelFileError::ChecksumMismatch);
    }
    let header: ModelHeader =
        serde_json::from_slice(header_bytes).map_err(|e| ModelFileError::Header(e.to_string()))?;
    Ok(Sections {
        version,
        header,
        baseline: floats(baseline_bytes),
        latent: latent_bytes.map(|(dims, bytes)| (dims, floats(bytes))),
        novelty: floats(novelty_bytes),
        weights,
    })
}

fn check_latent(
    summary: Option<&LatentSummary>,
    codes: Option<(usize, Vec<f32>)>,
) -> Result<Option<LatentReference>, ModelFileError> {
    let (summary, (dims, values)) = match (summary, codes) {
        (None, None) => return Ok(None),
        (Some(summary), Some(codes)) => (summary, codes),
        (summary, codes) => {
            return Err(ModelFileError::Latent(format!(
                "the header {} a latent reference, the file {} one",
                if summary.is_some() {
                    "declares"
                } else {
                    "has no"
                },
                if codes.is_some() { "holds" } else { "lacks" },
            )));
        }
    };
    if summary.projection_seed != PROJECTION_SEED || summary.dims != LATENT_DIMS {
        return Err(ModelFileError::Latent(format!(
            "made with projection seed {:#x} to {} dimensions; this build uses {PROJECTION_SEED:#x} to {LATENT_DIMS}",
            summary.projection_seed, summary.dims
        )));
    }
    let reference =
        LatentReference::new(dims, values).map_err(|e| ModelFileError::Latent(e.to_string()))?;
    if reference.dims() != summary.dims || reference.len() != summary.count {
        return Err(ModelFileError::Latent(format!(
            "the header declares {} codes of {} dimensions, the file holds {} of {}",
            summary.count,
            summary.dims,
            reference.len(),
            reference.dims()
        )));
    }
    Ok(Some(reference))
}

/// Decode model-file bytes (any supported version).
pub fn decode(bytes: &[u8]) -> Result<LoadedModel, ModelFileError> {
    let Sections {
        version,
        header,
        baseline: losses,
        latent,
        novelty,
        weights,
    } = split(bytes)?;
    let config = header.architecture;
    config.validate().map_err(ModelFileError::Header)?;
    // Images are preprocessed to the side and channels the network was trained on: gray or RGB.
    if header.preprocess.side != config.side
        || header.preprocess.channels != config.channels
        || !matches!(config.channels, 1 | 3)
    {
        return Err(ModelFileError::Header(format!(
            "the network takes {}-channel {}×{} images but preprocessing makes {}-channel {}×{} ones (1: gray, 3: RGB)",
            config.channels,
            config.side,
            config.side,
            header.preprocess.channels,
            header.preprocess.side,
            header.preprocess.side
        )));
    }
    // Refuse an architecture whose parameters (4 bytes each) could not fit in the weights
    // section before anything is built for it, so a hostile header cannot make us allocate
    // gigabytes.
    let needed = config.num_params() as u64 * 4;
    if needed > weights.len() as u64 {
        return Err(ModelFileError::Weights(format!(
            "the architecture needs {needed} bytes of parameters, the weights section holds {}",
            weights.len()
        )));
    }
    if losses.len() != header.baseline.count {
        return Err(ModelFileError::Baseline(format!(
            "header says {} losses, file holds {}",
            header.baseline.count,
            losses.len()
        )));
    }
    if losses.windows(2).any(|w| w[0] > w[1]) {
        return Err(ModelFileError::Baseline("losses are not sorted".into()));
    }
    let baseline = Baseline::new(
        header.baseline.loss,
        header.baseline.dataset.clone(),
        losses,
    )
    .map_err(|e| ModelFileError::Baseline(e.to_string()))?;
    let latent = check_latent(header.latent.as_ref(), latent)?;
    let novelty = check_novelty(version, header.novelty.as_ref(), novelty)?;
    let tensors = if version >= TENSOR_FORMAT_VERSION {
        read_tensors(weights)?
    } else {
        burnpack::read(weights).map_err(ModelFileError::Weights)?
    };
    let weights = assemble(config, tensors)?;
    Ok(LoadedModel {
        header,
        baseline,
        weights,
        format_version: version,
        latent,
        novelty,
        sha256: hex(&Sha256::digest(bytes)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::direct::DirectNetwork;
    use crate::idx::ImageSet;
    use crate::loss::LossKind;

    /// The bundled model as format 2 wrote it (burnpack weights), before format 3.
    const FORMAT_2_FILE: &[u8] = include_bytes!("../tests/fixtures/mnist-ae-format2.dgm");

    fn sample_file() -> (Vec<u8>, Weights) {
        let config = AutoencoderConfig::new();
        let model = Weights::init_seeded(config, 3).unwrap_or_else(|e| panic!("{e}"));
        let baseline = Baseline::new(LossKind::Bce, "unit test", vec![0.3, 0.1, 0.2])
            .unwrap_or_else(|e| panic!("{e}"));
        let header = ModelHeader {
            created_by: "test".into(),
            architecture: config,
            preprocess: PreprocessConfig::default(),
            baseline: baseline.summary(),
            training: None,
            properties: None,
            novelty: None,
            calibration_augment: Augmentation::default(),
            latent: Some(LatentSummary {
                projection_seed: PROJECTION_SEED,
                dims: LATENT_DIMS,
                count: 3,
                dataset: "unit test".into(),
            }),
        };
        let codes = (0..3 * LATENT_DIMS).map(|i| i as f32 / 100.0).collect();
        let latent = LatentReference::new(LATENT_DIMS, codes).unwrap_or_else(|e| panic!("{e}"));
        let bytes = encode(&model, &header, &baseline, Some(&latent), None)
            .unwrap_or_else(|e| panic!("{e}"));
        (bytes, model)
    }

    #[test]
    fn round_trip_gives_identical_outputs() {
        let (bytes, model) = sample_file();
        let loaded = decode(&bytes).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(loaded.weights, model);
        assert_eq!(loaded.format_version, FORMAT_VERSION);
        assert_eq!(loaded.baseline.sorted(), &[0.1, 0.2, 0.3]);
        let latent = loaded
            .latent
            .as_ref()
            .unwrap_or_else(|| panic!("no latent reference"));
        assert_eq!((latent.len(), latent.dims()), (3, LATENT_DIMS));
        assert_eq!(
            latent.values()[LATENT_DIMS + 1],
            (LATENT_DIMS + 1) as f32 / 100.0
        );
        assert_eq!(loaded.header.created_by, "test");
        let mut images = ImageSet::new(vec![0.0; 2 * 784], 2);
        images.pixels[100] = 1.0;
        let run = |w: &Weights| {
            let network = DirectNetwork::new(w).unwrap_or_else(|e| panic!("{e}"));
            crate::reconstruct(&network, &images, 8, |_| {}).unwrap_or_default()
        };
        let (a, b) = (run(&model), run(&loaded.weights));
        assert_eq!(a.len(), 2);
        assert_eq!(a, b);
    }

    #[test]
    fn corrupted_files_give_errors_not_panics() {
        let (bytes, _) = sample_file();
        // Every truncation point.
        for len in (0..bytes.len()).step_by(97).chain([bytes.len() - 1]) {
            assert!(decode(&bytes[..len]).is_err(), "truncated at {len}");
        }
        // A flipped byte anywhere is caught by the checksum (or the magic/version check).
        for at in (0..bytes.len()).step_by(251) {
            let mut copy = bytes.clone();
            copy[at] ^= 0x40;
            assert!(decode(&copy).is_err(), "flip at {at}");
        }
        assert!(matches!(
            decode(b"PK\x03\x04 a zip file"),
            Err(ModelFileError::NotAModelFile)
        ));
        let mut other_version = bytes.clone();
        other_version[8] = 9;
        assert!(matches!(
            decode(&other_version),
            Err(ModelFileError::UnsupportedVersion { found: 9 })
        ));
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert!(matches!(
            decode(&trailing),
            Err(ModelFileError::TrailingBytes(1))
        ));
    }

    /// The loaded model's file again, with an edited header.
    fn reencode(loaded: &LoadedModel, header: &ModelHeader) -> Vec<u8> {
        encode(
            &loaded.weights,
            header,
            &loaded.baseline,
            loaded.latent.as_ref(),
            loaded.novelty.as_ref(),
        )
        .unwrap_or_else(|e| panic!("{e}"))
    }

    /// The loaded model's file with `header` swapped in after encoding (so the writer's own
    /// checks do not stop it), resealed: what a hostile or damaged file may hold.
    fn reencode_unchecked(loaded: &LoadedModel, header: &ModelHeader) -> Vec<u8> {
        let bytes = reencode(loaded, &loaded.header);
        let old_len = u32::from_le_bytes([bytes[12], bytes[13], bytes[14], bytes[15]]) as usize;
        let json = serde_json::to_vec(header).unwrap_or_default();
        let mut body = bytes[..12].to_vec();
        body.extend_from_slice(&(json.len() as u32).to_le_bytes());
        body.extend_from_slice(&json);
        body.extend_from_slice(&bytes[16 + old_len..bytes.len() - 32]);
        reseal(body)
    }

    /// Re-seal a file whose body was edited, so the edit reaches the parser.
    fn reseal(mut body: Vec<u8>) -> Vec<u8> {
        let digest = Sha256::digest(&body);
        body.extend_from_slice(&digest);
        body
    }

    #[test]
    fn hostile_sizes_are_refused_before_allocation() {
        let mut huge = Vec::new();
        huge.extend_from_slice(MAGIC);
        huge.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        huge.extend_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            decode(&reseal(huge)),
            Err(ModelFileError::TooLarge { .. })
        ));
    }

    #[test]
    fn a_huge_declared_architecture_is_refused_before_it_is_built() {
        let (bytes, _) = sample_file();
        let loaded = decode(&bytes).unwrap_or_else(|e| panic!("{e}"));
        let mut header = loaded.header.clone();
        // 1,024 filters of 15×15: about 700 million parameters (2.8 GB) if it were built.
        header.architecture.filters = 1024;
        header.architecture.kernel = 15;
        let hostile = reencode_unchecked(&loaded, &header);
        match decode(&hostile) {
            Err(ModelFileError::Weights(message)) => {
                assert!(message.contains("needs"), "{message}")
            }
            other => panic!("expected a weights error, got {other:?}"),
        }
    }

    #[test]
    fn weights_of_another_architecture_are_refused() {
        let (bytes, _) = sample_file();
        let mut header = read_header(&bytes).unwrap_or_else(|e| panic!("{e}"));
        header.architecture.filters = 16;
        let loaded = decode(&bytes).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            encode(
                &loaded.weights,
                &header,
                &loaded.baseline,
                loaded.latent.as_ref(),
                loaded.novelty.as_ref()
            )
            .is_err()
        );
        let wrong = reencode_unchecked(&loaded, &header);
        match decode(&wrong) {
            Err(ModelFileError::Weights(message)) => {
                assert!(message.contains("shape"), "{message}")
            }
            other => panic!("expected a weights error, got {other:?}"),
        }
    }

    /// A format 2 file rewritten as format version 1 (no latent section).
    fn as_version_1(bytes: &[u8]) -> Vec<u8> {
        let mut header = read_header(bytes).unwrap_or_else(|e| panic!("{e}"));
        header.latent = None;
        let json = serde_json::to_vec(&header).unwrap_or_default();
        let old_header_len =
            u32::from_le_bytes([bytes[12], bytes[13], bytes[14], bytes[15]]) as usize;
        let after_header = 16 + old_header_len;
        let count = u32::from_le_bytes([
            bytes[after_header],
            bytes[after_header + 1],
            bytes[after_header + 2],
            bytes[after_header + 3],
        ]) as usize;
        let latent_at = after_header + 4 + 4 * count;
        let latent_codes = u32::from_le_bytes([
            bytes[latent_at],
            bytes[latent_at + 1],
            bytes[latent_at + 2],
            bytes[latent_at + 3],
        ]) as usize;
        let latent_values = latent_codes * LATENT_DIMS;
        let weights_at = latent_at + 8 + 4 * latent_values;
        let mut body = Vec::new();
        body.extend_from_slice(MAGIC);
        body.extend_from_slice(&1u32.to_le_bytes());
        body.extend_from_slice(&(json.len() as u32).to_le_bytes());
        body.extend_from_slice(&json);
        body.extend_from_slice(&bytes[after_header..latent_at]);
        body.extend_from_slice(&bytes[weights_at..bytes.len() - 32]);
        reseal(body)
    }

    /// A file without a novelty score rewritten as format 3 (no novelty count).
    fn as_version_3(bytes: &[u8]) -> Vec<u8> {
        let header_len = u32::from_le_bytes([bytes[12], bytes[13], bytes[14], bytes[15]]) as usize;
        let at =
            |i: usize| u32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
        let after_header = 16 + header_len;
        let latent_at = after_header + 4 + 4 * at(after_header) as usize;
        let novelty_at = latent_at + 8 + 4 * (at(latent_at) * at(latent_at + 4)) as usize;
        assert_eq!(at(novelty_at), 0, "a file without a novelty score");
        let mut body = bytes[..novelty_at].to_vec();
        body[8..12].copy_from_slice(&3u32.to_le_bytes());
        body.extend_from_slice(&bytes[novelty_at + 4..bytes.len() - 32]);
        reseal(body)
    }

    #[test]
    fn novelty_sections_round_trip_and_disagreeing_ones_are_refused() {
        let bundled = decode(crate::bundled::BUNDLED_MODEL).unwrap_or_else(|e| panic!("{e}"));
        let novelty = bundled
            .novelty
            .as_ref()
            .unwrap_or_else(|| panic!("the bundled model has a novelty score"));
        let again = decode(&reencode(&bundled, &bundled.header)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(again.novelty.as_ref(), Some(novelty));
        // The writer refuses a header that does not describe the section.
        let mut header = bundled.header.clone();
        header.novelty = None;
        assert!(matches!(
            encode(
                &bundled.weights,
                &header,
                &bundled.baseline,
                bundled.latent.as_ref(),
                Some(novelty)
            ),
            Err(ModelFileError::Novelty(_))
        ));
        // The reader refuses a header that disagrees with the section, either way.
        let mut fewer = bundled.header.clone();
        if let Some(summary) = fewer.novelty.as_mut() {
            summary.calibration_images -= 1;
        }
        assert!(matches!(
            decode(&reencode_unchecked(&bundled, &fewer)),
            Err(ModelFileError::Novelty(_))
        ));
        assert!(matches!(
            decode(&reencode_unchecked(&bundled, &header)),
            Err(ModelFileError::Novelty(_))
        ));
    }

    /// The bundled model's file as an older format wrote it: format 5, a novelty score of four
    /// terms, the loss's among them; format 4, of three (no edge profile).
    fn as_old_version(bundled: &LoadedModel, version: u32) -> Vec<u8> {
        let novelty = bundled
            .novelty
            .as_ref()
            .unwrap_or_else(|| panic!("the bundled model has a novelty score"));
        let mut summary = novelty.summary();
        summary.loss_term = true;
        let mut edges = novelty.edges().cloned();
        if version < EDGE_FORMAT_VERSION {
            summary.edge_profile = None;
            edges = None;
        }
        let old = NoveltyReference::from_parts(
            &summary,
            novelty.transforms().clone().map(|t| t.knots().to_vec()),
            novelty.density().mean().to_vec(),
            novelty.density().cholesky().to_vec(),
            novelty.calibration().sorted().to_vec(),
            edges,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let mut header = bundled.header.clone();
        header.novelty = Some(summary);
        let bytes = encode(
            &bundled.weights,
            &header,
            &bundled.baseline,
            bundled.latent.as_ref(),
            Some(&old),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let mut body = bytes[..bytes.len() - 32].to_vec();
        body[8..12].copy_from_slice(&version.to_le_bytes());
        reseal(body)
    }

    /// The bundled file's own sections under an older version's label.
    fn relabelled(version: u32) -> Vec<u8> {
        let mut body =
            crate::bundled::BUNDLED_MODEL[..crate::bundled::BUNDLED_MODEL.len() - 32].to_vec();
        body[8..12].copy_from_slice(&version.to_le_bytes());
        reseal(body)
    }

    #[test]
    fn format_4_files_score_with_three_terms_and_cannot_declare_a_fourth() {
        let bundled = decode(crate::bundled::BUNDLED_MODEL).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            bundled
                .novelty
                .as_ref()
                .is_some_and(|n| n.edges().is_some()),
            "the bundled model's score has the edge-profile term"
        );
        let v4 = decode(&as_old_version(&bundled, 4)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(v4.format_version, 4);
        let novelty = v4.novelty.unwrap_or_else(|| panic!("a novelty score"));
        assert!(novelty.edges().is_none());
        assert_eq!(novelty.summary().edge_profile, None);
        assert!(novelty.summary().loss_term);
        assert!(matches!(
            decode(&relabelled(4)),
            Err(ModelFileError::Novelty(_))
        ));
    }

    #[test]
    fn format_5_files_keep_the_loss_in_their_sum_and_cannot_leave_it_out() {
        let bundled = decode(crate::bundled::BUNDLED_MODEL).unwrap_or_else(|e| panic!("{e}"));
        let ours = bundled
            .novelty
            .as_ref()
            .unwrap_or_else(|| panic!("novelty"));
        assert!(
            !ours.summary().loss_term,
            "the bundled model sums three terms"
        );
        let v5 = decode(&as_old_version(&bundled, 5)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(v5.format_version, 5);
        let old = v5.novelty.unwrap_or_else(|| panic!("a novelty score"));
        assert!(old.summary().loss_term && old.edges().is_some());
        // Its score adds the loss's own surprise to the same three terms.
        let code = vec![0.1f32; ours.density().dims()];
        let complexity = crate::novelty::complexity(&[0.2; 28 * 28], 1, 28);
        let input = |loss| crate::novelty::NoveltyInput {
            loss,
            code: &code,
            complexity,
        };
        for loss in [0.05f32, 0.1, 0.3] {
            let own = ours.transforms()[0].surprise(f64::from(loss));
            let gap = old.score(input(loss)) - ours.score(input(loss));
            assert!((gap - own).abs() < 1e-9, "{gap} {own}");
        }
        // A loss far out in the tail makes the gap positive.
        assert!(old.score(input(1.0)) > ours.score(input(1.0)));
        assert!(matches!(
            decode(&relabelled(5)),
            Err(ModelFileError::Novelty(_))
        ));
    }

    #[test]
    fn format_3_files_load_without_a_novelty_score() {
        let (bytes, model) = sample_file();
        let v3 = decode(&as_version_3(&bytes)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(v3.format_version, 3);
        assert!(v3.novelty.is_none());
        assert_eq!(v3.weights, model);
        assert_eq!(v3.latent.map(|l| l.len()), Some(3));
    }

    #[test]
    fn format_1_and_2_files_load_and_convert_to_the_current_format() {
        let old = decode(FORMAT_2_FILE).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(old.format_version, 2);
        assert_eq!(old.header.architecture, AutoencoderConfig::new());
        assert_eq!(old.baseline.len(), 10_000);
        // Written again, it is of the current format with the same weights, baseline and latent
        // sample.
        let again = reencode(&old, &old.header);
        assert_eq!(
            u32::from_le_bytes([again[8], again[9], again[10], again[11]]),
            FORMAT_VERSION
        );
        let new = decode(&again).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(new.format_version, FORMAT_VERSION);
        assert_eq!(new.weights, old.weights);
        assert_eq!(new.baseline.sorted(), old.baseline.sorted());
        assert_eq!(
            new.latent.as_ref().map(|l| l.values().to_vec()),
            old.latent.as_ref().map(|l| l.values().to_vec())
        );
        // Format 1: no latent reference.
        let v1 = decode(&as_version_1(FORMAT_2_FILE)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(v1.format_version, 1);
        assert!(v1.latent.is_none());
        assert_eq!(v1.weights, old.weights);
    }

    #[test]
    fn damaged_legacy_weights_give_errors() {
        let bytes = FORMAT_2_FILE;
        let header_len = u32::from_le_bytes([bytes[12], bytes[13], bytes[14], bytes[15]]) as usize;
        let latent_at = 16 + header_len + 4 + 4 * 10_000;
        let weights_at = latent_at + 8 + 4 * 500 * LATENT_DIMS + 4;
        // Flip bytes all over the burnpack (metadata and values), resealed past the checksum.
        for at in (weights_at..bytes.len() - 32).step_by(37) {
            let mut body = bytes[..bytes.len() - 32].to_vec();
            body[at] ^= 0xa5;
            // Either an error or, for a flipped value, a model: never a panic.
            let _ = decode(&reseal(body));
        }
        let mut body = bytes[..bytes.len() - 32].to_vec();
        body[weights_at] ^= 0xff; // the burnpack magic
        assert!(matches!(
            decode(&reseal(body)),
            Err(ModelFileError::Weights(_))
        ));
    }

    #[test]
    fn latent_sections_that_disagree_with_the_header_are_refused() {
        let (bytes, _) = sample_file();
        let loaded = decode(&bytes).unwrap_or_else(|e| panic!("{e}"));
        // Header without the summary, file with codes: refused when writing.
        let mut header = loaded.header.clone();
        header.latent = None;
        assert!(matches!(
            encode(
                &loaded.weights,
                &header,
                &loaded.baseline,
                loaded.latent.as_ref(),
                loaded.novelty.as_ref()
            ),
            Err(ModelFileError::Latent(_))
        ));
        // Another projection: refused when reading.
        let mut header = loaded.header.clone();
        if let Some(latent) = header.latent.as_mut() {
            latent.projection_seed += 1;
        }
        let other = reencode(&loaded, &header);
        match decode(&other) {
            Err(ModelFileError::Latent(message)) => assert!(message.contains("projection")),
            other => panic!("expected a latent error, got {other:?}"),
        }
        // Hostile declared size of the latent section.
        let header_len = u32::from_le_bytes([bytes[12], bytes[13], bytes[14], bytes[15]]) as usize;
        let latent_at = 16 + header_len + 4 + 4 * 3;
        let mut hostile = bytes[..bytes.len() - 32].to_vec();
        hostile[latent_at..latent_at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        hostile[latent_at + 4..latent_at + 8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            decode(&reseal(hostile)),
            Err(ModelFileError::TooLarge {
                section: "latent reference",
                ..
            })
        ));
    }
}
