//! Driftglass for Python: the burn-free core (model files, decoders, preprocessing, CPU kernels,
//! batch tests) as the `driftglass` module. A thin layer: every number comes from
//! `driftglass-core`, the same code the CLI and the page run, so a model file gives the same
//! losses and the same verdict in all three.
//!
//! The GIL is released while images are decoded and scored; arrays cross the boundary once
//! (NumPy → the core's buffers, the core's results → NumPy).

// pyo3's macros expand to the FFI glue of a CPython extension (unsafe blocks in generated code).
#![allow(unsafe_code)]

use std::path::PathBuf;
use std::sync::Arc;

use driftglass_core::model_file::{self, LoadedModel};
use driftglass_core::preprocess::{Polarity, PreprocessConfig};
use driftglass_core::properties::ImageProperties;
use driftglass_core::report::{self, DEFAULT_FLAG_RATE, ImageOutcome, PreparedInput, Report};
use driftglass_core::scorer::{Scorer, join_parts};
use driftglass_core::stats::{
    DEFAULT_ALPHA, DEFAULT_PRACTICAL_D, DEFAULT_PRACTICAL_FLAGGED, DEFAULT_PRACTICAL_MMD,
    DEFAULT_PRACTICAL_RATIO, PracticalSize,
};
use numpy::ndarray::ArrayViewD;
use numpy::{IntoPyArray, PyArray1, PyArrayMethods, PyReadonlyArrayDyn};
use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use serde::{Deserialize, Serialize};

create_exception!(
    driftglass,
    DriftglassError,
    PyException,
    "A model file, an image or a batch Driftglass cannot use; the message is the core's."
);

fn error(message: impl std::fmt::Display) -> PyErr {
    DriftglassError::new_err(message.to_string())
}

/// What the reports name as the program.
fn app() -> String {
    format!("driftglass-python {}", driftglass_core::VERSION)
}

/// A model file: the network, its baseline and its preprocessing.
#[pyclass(module = "driftglass", frozen)]
struct Model {
    loaded: Arc<LoadedModel>,
    config: PreprocessConfig,
}

#[pymethods]
impl Model {
    /// Load a model file from a path or from its bytes; `polarity` as the CLI's `--polarity`
    /// ("as-is", "invert" or "auto").
    #[staticmethod]
    #[pyo3(signature = (source, polarity = "as-is"))]
    fn load(py: Python<'_>, source: &Bound<'_, PyAny>, polarity: &str) -> PyResult<Model> {
        let bytes = if let Ok(bytes) = source.cast::<PyBytes>() {
            bytes.as_bytes().to_vec()
        } else {
            let path: PathBuf = source.extract().map_err(|_| {
                PyValueError::new_err("a model is loaded from a path (str or os.PathLike) or bytes")
            })?;
            std::fs::read(&path).map_err(|e| error(format!("reading {}: {e}", path.display())))?
        };
        let loaded = py
            .detach(|| model_file::decode(&bytes))
            .map_err(|e| error(format!("loading the model: {e}")))?;
        Model::new(loaded, polarity)
    }

    /// The bundled MNIST model (what the CLI and the page use without a model file).
    #[staticmethod]
    #[pyo3(signature = (polarity = "as-is"))]
    fn bundled(polarity: &str) -> PyResult<Model> {
        let loaded = model_file::decode(driftglass_core::bundled::BUNDLED_MODEL)
            .map_err(|e| error(format!("loading the bundled model: {e}")))?;
        Model::new(loaded, polarity)
    }

    /// The model file's SHA-256 (as the reports name it).
    #[getter]
    fn sha256(&self) -> String {
        self.loaded.sha256.clone()
    }

    /// Side of the square images the network takes.
    #[getter]
    fn side(&self) -> usize {
        self.config.side
    }

    /// Channels of its images: 1 (gray) or 3 (RGB).
    #[getter]
    fn channels(&self) -> usize {
        self.config.channels
    }

    /// The baseline's mean loss (a batch's loss ratio is its mean loss over this).
    #[getter]
    fn baseline_mean(&self) -> f64 {
        self.loaded.baseline.mean()
    }

    fn __repr__(&self) -> String {
        format!(
            "Model({}×{} {}, baseline mean {:.4} on {} images, sha256 {}…)",
            self.config.side,
            self.config.side,
            if self.config.channels == 3 {
                "colour"
            } else {
                "gray"
            },
            self.loaded.baseline.mean(),
            self.loaded.baseline.summary().count,
            &self.loaded.sha256[..12.min(self.loaded.sha256.len())]
        )
    }

    /// Decode and prepare encoded images (PNG, JPEG, GIF, WebP, BMP) with the core's pipeline,
    /// the CLI's own. An input that cannot be used keeps its reason (`Prepared.errors`) and
    /// never stops the others. `names` default to "0", "1", …
    #[pyo3(signature = (blobs, names = None))]
    fn prepare(
        &self,
        py: Python<'_>,
        blobs: Vec<Vec<u8>>,
        names: Option<Vec<String>>,
    ) -> PyResult<Prepared> {
        let names = names_for(names, blobs.len())?;
        let config = self.config;
        let inputs = py.detach(move || {
            names
                .into_iter()
                .zip(blobs)
                // The core refuses empty, oversized and unknown files with the CLI's messages.
                .map(|(name, bytes)| (name, report::prepare_image(&bytes, &config)))
                .collect()
        });
        Ok(Prepared { inputs, config })
    }

    /// Score prepared images (`Model.prepare`), or an array of images: uint8 (0–255) or float
    /// (0–1), shaped [N, H, W] (gray) or [N, H, W, 3] (RGB), taken as pixels ready to use (as
    /// an IDX file's are: padded to a square and area-resized to the model's side, no polarity
    /// or centring). Returns `Scores`, whose arrays are NumPy's.
    #[pyo3(signature = (images, names = None, flag_rate = DEFAULT_FLAG_RATE))]
    fn score(
        &self,
        py: Python<'_>,
        images: &Bound<'_, PyAny>,
        names: Option<Vec<String>>,
        flag_rate: f64,
    ) -> PyResult<Scores> {
        if !(0.0..=1.0).contains(&flag_rate) {
            return Err(PyValueError::new_err("flag_rate must be between 0 and 1"));
        }
        // Prepared images are scored where they lie (a frozen object, shared read-only).
        let from_array;
        let inputs: &[(String, PreparedInput)] = if let Ok(prepared) = images.cast::<Prepared>() {
            if names.is_some() {
                return Err(PyValueError::new_err(
                    "prepared images keep the names given to prepare()",
                ));
            }
            let prepared = prepared.get();
            if prepared.config != self.config {
                return Err(PyValueError::new_err(format!(
                    "these images were prepared for another model or polarity ({}×{}, {} channel(s), {:?}); this model takes {}×{}, {} channel(s), {:?}",
                    prepared.config.side,
                    prepared.config.side,
                    prepared.config.channels,
                    prepared.config.polarity,
                    self.config.side,
                    self.config.side,
                    self.config.channels,
                    self.config.polarity
                )));
            }
            &prepared.inputs
        } else {
            // Copied once, straight into the network's input buffers (with the GIL: the array
            // is NumPy's); the scoring below runs without it.
            from_array = array_inputs(images, names, &self.config)?;
            &from_array
        };
        let (loaded, config) = (self.loaded.clone(), self.config);
        let part = py
            .detach(move || -> Result<Part, String> {
                let mut scorer =
                    Scorer::new(&loaded, &app(), config, flag_rate).map_err(|e| e.to_string())?;
                scorer.push(inputs).map_err(|e| e.to_string())?;
                Ok(Part {
                    report: scorer.report(),
                    codes: scorer.codes().to_vec(),
                })
            })
            .map_err(error)?;
        Ok(Scores { part })
    }
}

impl Model {
    fn new(loaded: LoadedModel, polarity: &str) -> PyResult<Model> {
        let polarity = match polarity {
            "as-is" => Polarity::AsIs,
            "invert" => Polarity::Invert,
            "auto" => Polarity::Auto,
            other => {
                return Err(PyValueError::new_err(format!(
                    "polarity is \"as-is\", \"invert\" or \"auto\", not {other:?}"
                )));
            }
        };
        let config = PreprocessConfig {
            polarity,
            ..loaded.header.preprocess
        };
        Ok(Model {
            loaded: Arc::new(loaded),
            config,
        })
    }
}

/// Names for `count` inputs: the given ones (as many as inputs), else "0", "1", …
fn names_for(names: Option<Vec<String>>, count: usize) -> PyResult<Vec<String>> {
    match names {
        Some(names) if names.len() == count => Ok(names),
        Some(names) => Err(PyValueError::new_err(format!(
            "{} names for {count} images",
            names.len()
        ))),
        None => Ok((0..count).map(|i| i.to_string()).collect()),
    }
}

/// Each image of a NumPy array (uint8 0–255, or float 0–1) as a prepared input.
fn array_inputs(
    images: &Bound<'_, PyAny>,
    names: Option<Vec<String>>,
    config: &PreprocessConfig,
) -> PyResult<Vec<(String, PreparedInput)>> {
    if let Ok(array) = images.extract::<PyReadonlyArrayDyn<'_, u8>>() {
        prepare_array(array.as_array(), |v| f32::from(v) / 255.0, names, config)
    } else if let Ok(array) = images.extract::<PyReadonlyArrayDyn<'_, f32>>() {
        prepare_array(array.as_array(), |v| v, names, config)
    } else if let Ok(array) = images.extract::<PyReadonlyArrayDyn<'_, f64>>() {
        prepare_array(array.as_array(), |v| v as f32, names, config)
    } else {
        Err(PyValueError::new_err(
            "images are a Prepared, or a NumPy array of uint8, float32 or float64",
        ))
    }
}

fn prepare_array<T: Copy>(
    view: ArrayViewD<'_, T>,
    to_f32: impl Fn(T) -> f32,
    names: Option<Vec<String>>,
    config: &PreprocessConfig,
) -> PyResult<Vec<(String, PreparedInput)>> {
    let shape = view.shape().to_vec();
    let rgb = match shape.as_slice() {
        [_, h, w] if *h > 0 && *w > 0 => false,
        [_, h, w, 3] if *h > 0 && *w > 0 => true,
        _ => {
            return Err(PyValueError::new_err(format!(
                "images are shaped [N, H, W] (gray) or [N, H, W, 3] (RGB), not {shape:?}"
            )));
        }
    };
    let names = names_for(names, shape[0])?;
    Ok(names
        .into_iter()
        .zip(view.outer_iter())
        .map(|(name, image)| {
            // Row-major, channels last: the one copy out of NumPy.
            let values: Vec<f32> = image.iter().map(|&v| to_f32(v)).collect();
            (
                name,
                prepare_values(values, shape[1], shape[2], rgb, config),
            )
        })
        .collect())
}

/// One array image prepared for `config`: padded to a square and area-resized plane by plane to
/// the model's side (kept as it is at that side already); a gray image is repeated for a colour
/// model, an RGB image made gray (Rec. 709, as decoded files are) for a gray model. Properties
/// are measured on the image as given.
fn prepare_values(
    values: Vec<f32>,
    h: usize,
    w: usize,
    rgb: bool,
    config: &PreprocessConfig,
) -> PreparedInput {
    if values.iter().any(|v| !v.is_finite()) {
        return Err("the image holds values that are not finite numbers".into());
    }
    if let Some(v) = values.iter().find(|v| !(0.0..=1.0).contains(*v)) {
        return Err(format!(
            "a pixel value is {v}: float images hold values from 0 to 1 (uint8 images 0 to 255)"
        ));
    }
    let side = config.side;
    let fit = |plane: Vec<f32>| {
        if (h, w) == (side, side) {
            plane
        } else {
            driftglass_core::preprocess::pad_and_resize(&plane, w, h, side)
        }
    };
    if !rgb {
        let properties = ImageProperties::of_gray(&values, w, h, "array");
        let plane = fit(values);
        return Ok((plane.repeat(config.channels), properties));
    }
    let buffer = image::Rgb32FImage::from_raw(w as u32, h as u32, values)
        .ok_or_else(|| "the image does not fit its shape".to_string())?;
    let decoded = image::DynamicImage::ImageRgb32F(buffer);
    let properties = ImageProperties::measure(&decoded, "array");
    let values = decoded.into_rgb32f().into_raw();
    let plane_of = |c: usize| -> Vec<f32> { values.iter().skip(c).step_by(3).copied().collect() };
    let pixels = if config.channels == 3 {
        (0..3).flat_map(|c| fit(plane_of(c))).collect()
    } else {
        let gray = values
            .chunks_exact(3)
            .map(|p| 0.2126 * p[0] + 0.7152 * p[1] + 0.0722 * p[2])
            .collect();
        fit(gray)
    };
    Ok((pixels, properties))
}

/// Images decoded and prepared for a model, with the reasons of those that could not be.
#[pyclass(module = "driftglass", frozen)]
struct Prepared {
    inputs: Vec<(String, PreparedInput)>,
    /// What they were prepared for: a model must take exactly this to score them.
    config: PreprocessConfig,
}

#[pymethods]
impl Prepared {
    /// Every input's name, in order (the usable and the refused).
    #[getter]
    fn names(&self) -> Vec<String> {
        self.inputs.iter().map(|(name, _)| name.clone()).collect()
    }

    /// (name, reason) of each input that could not be used.
    #[getter]
    fn errors(&self) -> Vec<(String, String)> {
        self.inputs
            .iter()
            .filter_map(|(name, input)| input.as_ref().err().map(|e| (name.clone(), e.clone())))
            .collect()
    }

    /// The usable images as the network sees them: float32 in [0, 1], [N, side, side] for a gray
    /// model, [N, side, side, 3] for a colour one.
    fn images<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let (side, channels) = (self.config.side, self.config.channels);
        let plane = side * side;
        let mut values = Vec::new();
        let mut count = 0;
        for (pixels, _) in self
            .inputs
            .iter()
            .filter_map(|(_, input)| input.as_ref().ok())
        {
            count += 1;
            if channels == 1 {
                values.extend_from_slice(pixels);
            } else {
                values.extend(
                    (0..plane)
                        .flat_map(|i| (0..channels).map(move |c| (c, i)))
                        .map(|(c, i)| pixels[c * plane + i]),
                );
            }
        }
        let array = values.into_pyarray(py);
        let shape: Vec<usize> = if channels == 1 {
            vec![count, side, side]
        } else {
            vec![count, side, side, channels]
        };
        Ok(array.reshape(shape)?.into_any())
    }

    fn __len__(&self) -> usize {
        self.inputs.len()
    }
}

/// One scored part of a batch: its report (without tests) and its scored images' projected
/// codes. What travels between Ray workers (pickled as JSON) and what `batch_tests` joins.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Part {
    report: Report,
    codes: Vec<f32>,
}

/// Per-image scores of a batch (or of a part of one), as NumPy arrays over the scored images
/// in input order. Picklable: parts scored anywhere are joined by `batch_tests`.
#[pyclass(module = "driftglass", frozen)]
struct Scores {
    part: Part,
}

impl Scores {
    fn scored(&self) -> impl Iterator<Item = &report::ImageScore> {
        self.part
            .report
            .images
            .iter()
            .filter_map(|i| match &i.outcome {
                ImageOutcome::Scored(s) => Some(s),
                ImageOutcome::Failed { .. } => None,
            })
    }

    fn column<'py>(
        &self,
        py: Python<'py>,
        of: impl Fn(&report::ImageScore) -> f64,
    ) -> Bound<'py, PyArray1<f64>> {
        self.scored().map(of).collect::<Vec<_>>().into_pyarray(py)
    }
}

#[pymethods]
impl Scores {
    /// The reconstruction loss of each scored image (the model's loss: BCE or MSE per pixel).
    #[getter]
    fn loss<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.column(py, |s| s.loss)
    }

    /// Mean squared error of each reconstruction.
    #[getter]
    fn mse<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.column(py, |s| s.mse)
    }

    /// Each image's conformal p-value against the baseline (of its novelty score where the
    /// model has one, else of its loss).
    #[getter]
    fn p_value<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.column(py, |s| s.p_value)
    }

    /// The novelty score of each image (NaN where the model has none).
    #[getter]
    fn novelty<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.column(py, |s| s.novelty.unwrap_or(f64::NAN))
    }

    /// Whether each image is flagged at the flag rate.
    #[getter]
    fn flagged<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<bool>> {
        self.scored()
            .map(|s| s.flagged)
            .collect::<Vec<_>>()
            .into_pyarray(py)
    }

    /// The projected latent code of each scored image, [N, code size] (the latent MMD test's
    /// input).
    #[getter]
    fn code<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let n = self.scored().count();
        let size = self.part.codes.len().checked_div(n).unwrap_or(0);
        let array = self.part.codes.clone().into_pyarray(py);
        Ok(array.reshape([n, size])?.into_any())
    }

    /// Names of the scored images, in order.
    #[getter]
    fn names(&self) -> Vec<String> {
        self.part
            .report
            .images
            .iter()
            .filter(|i| matches!(i.outcome, ImageOutcome::Scored(_)))
            .map(|i| i.name.clone())
            .collect()
    }

    /// (name, reason) of each input that could not be scored.
    #[getter]
    fn errors(&self) -> Vec<(String, String)> {
        self.part
            .report
            .images
            .iter()
            .filter_map(|i| match &i.outcome {
                ImageOutcome::Failed { error } => Some((i.name.clone(), error.clone())),
                ImageOutcome::Scored(_) => None,
            })
            .collect()
    }

    /// Inputs in this part (scored and refused).
    fn __len__(&self) -> usize {
        self.part.report.images.len()
    }

    /// Pickling: the part as JSON, read back by `Scores._from_state`.
    fn __reduce__<'py>(
        &self,
        py: Python<'py>,
    ) -> PyResult<(Bound<'py, PyAny>, (Bound<'py, PyBytes>,))> {
        let json = serde_json::to_vec(&self.part).map_err(error)?;
        let from_state = py.get_type::<Scores>().getattr("_from_state")?;
        Ok((from_state, (PyBytes::new(py, &json),)))
    }

    #[staticmethod]
    fn _from_state(state: &[u8]) -> PyResult<Scores> {
        Ok(Scores {
            part: serde_json::from_slice(state).map_err(error)?,
        })
    }
}

/// The batch tests over `scores` (one part, or parts in batch order: shards of one file list,
/// Ray blocks), as the CLI's JSON report: every image, the batch summary, the tests and the
/// verdict. Parts must come from the same model with the same flag rate; joined, they give
/// exactly the verdict of one run over all their images. The thresholds are the CLI's
/// `--min-ratio`, `--min-d`, `--min-flagged` and `--min-mmd`.
#[pyfunction]
#[pyo3(signature = (model, scores, alpha = DEFAULT_ALPHA, min_ratio = DEFAULT_PRACTICAL_RATIO,
    min_d = DEFAULT_PRACTICAL_D, min_flagged = DEFAULT_PRACTICAL_FLAGGED, min_mmd = DEFAULT_PRACTICAL_MMD))]
#[allow(clippy::too_many_arguments)]
fn batch_tests(
    py: Python<'_>,
    model: &Model,
    scores: &Bound<'_, PyAny>,
    alpha: f64,
    min_ratio: f64,
    min_d: f64,
    min_flagged: f64,
    min_mmd: f64,
) -> PyResult<String> {
    if !(0.0..=1.0).contains(&alpha) {
        return Err(PyValueError::new_err("alpha must be between 0 and 1"));
    }
    let parts: Vec<Part> = if let Ok(one) = scores.cast::<Scores>() {
        vec![one.get().part.clone()]
    } else {
        let mut parts = Vec::new();
        for item in scores.try_iter()? {
            let item = item?;
            let scores = item
                .cast::<Scores>()
                .map_err(|_| PyValueError::new_err("scores is a Scores or a sequence of Scores"))?;
            parts.push(scores.get().part.clone());
        }
        parts
    };
    let loaded = model.loaded.clone();
    let practical = PracticalSize {
        loss_ratio: min_ratio,
        distribution: min_d,
        flagged_excess: min_flagged,
        mmd: min_mmd,
    };
    py.detach(move || joined_report(&loaded, parts, alpha, practical))
        .map_err(error)
}

fn joined_report(
    loaded: &LoadedModel,
    parts: Vec<Part>,
    alpha: f64,
    practical: PracticalSize,
) -> Result<String, String> {
    let mut report = join_parts(
        loaded,
        parts.into_iter().map(|p| (p.report, p.codes)),
        alpha,
    )
    .map_err(|e| e.to_string())?;
    if let Some(tests) = report.batch.tests.as_mut() {
        tests.judge(practical);
    }
    serde_json::to_string_pretty(&report).map_err(|e| e.to_string())
}

/// Let each scoring call use at most `threads` threads (0: every core, the default); for
/// several scorers on one machine, such as Ray actors of one CPU each.
#[pyfunction]
fn set_threads(threads: usize) {
    driftglass_core::direct::set_thread_limit(threads);
}

#[pymodule]
fn driftglass(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", driftglass_core::VERSION)?;
    m.add("DriftglassError", m.py().get_type::<DriftglassError>())?;
    m.add_class::<Model>()?;
    m.add_class::<Prepared>()?;
    m.add_class::<Scores>()?;
    m.add_function(wrap_pyfunction!(batch_tests, m)?)?;
    m.add_function(wrap_pyfunction!(set_threads, m)?)?;
    Ok(())
}
