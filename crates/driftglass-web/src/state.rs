//! The page's state and the one place it changes: every event (a backend settled, a chunk of a
//! run scored, the model switched, a button pressed) is an [`Action`], and [`AppState::apply`]
//! is the reducer. Pure: no DOM, no browser calls, so it is tested natively. The page holds it
//! in `use_reducer` (see `app.rs`).

use std::rc::Rc;

use driftglass_core::model_file::{self, LoadedModel};
use driftglass_core::report::{BatchSummary, Report};
use driftglass_core::stats::{LossHistogram, PracticalSize, Verdict};

use crate::view::{Card, SortOrder, TimelinePoint};

/// Default alert threshold on the loss ratio: +10 %. Batches of clean MNIST digits stay within
/// a few percent of the baseline; noise, letters and clothes go far beyond it.
pub const DEFAULT_ALERT_RATIO: f64 = 1.10;

/// What the user asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preference {
    /// Measure both (when the browser offers WebGPU) and take the faster.
    Auto,
    /// CPU (wasm) only.
    Cpu,
    /// WebGPU if it works, else the CPU.
    Gpu,
}

/// The backend in use, for the badge.
#[derive(Debug, Clone, PartialEq)]
pub struct Backend {
    /// "WebGPU" or "CPU (wasm, 2 workers)" (see `workers::cpu_name`).
    pub name: String,
    /// Adapter name and why this backend was chosen.
    pub detail: String,
    /// WebGPU (in the GPU worker) rather than the CPU kernels.
    pub is_gpu: bool,
}

impl Backend {
    /// The same backend with another explanation.
    pub fn with_detail(self, detail: impl Into<String>) -> Backend {
        Backend {
            detail: detail.into(),
            ..self
        }
    }
}

/// Where the active model came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Bundled,
    File,
    Trained,
    Stored,
    /// The colour photo demo's model, fetched when one of its sets is clicked.
    Demo,
}

/// The model the page scores with: its file bytes (for download and storage) and the decoded
/// model.
#[derive(Debug, Clone)]
pub struct ActiveModel {
    pub label: String,
    pub origin: Origin,
    pub bytes: Rc<Vec<u8>>,
    pub loaded: Rc<LoadedModel>,
}

impl ActiveModel {
    /// Decode a model file.
    pub fn from_bytes(label: String, origin: Origin, bytes: Vec<u8>) -> Result<Self, String> {
        let loaded = model_file::decode(&bytes).map_err(|e| e.to_string())?;
        Ok(ActiveModel {
            label,
            origin,
            bytes: Rc::new(bytes),
            loaded: Rc::new(loaded),
        })
    }

    /// The bundled MNIST model.
    pub fn bundled() -> Result<Self, String> {
        ActiveModel::from_bytes(
            "bundled MNIST autoencoder".into(),
            Origin::Bundled,
            driftglass_core::bundled::BUNDLED_MODEL.to_vec(),
        )
        .map_err(|e| format!("The bundled model failed to load: {e}"))
    }

    /// Download name, e.g. `driftglass-model-1a2b3c4d.dgm`.
    pub fn file_name(&self) -> String {
        format!(
            "driftglass-model-{}.dgm",
            &self.loaded.sha256[..8.min(self.loaded.sha256.len())]
        )
    }
}

/// How far a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Inputs read so far.
    pub done: usize,
    /// Inputs in the drop.
    pub total: usize,
}

/// What the page shows of a batch: its statistics so far, its histogram, the cards, and the
/// whole report once it is finished.
#[derive(Debug, Clone)]
pub struct BatchView {
    /// Batch statistics so far; the tests once finished.
    pub batch: BatchSummary,
    /// The baseline's mean loss, for the summary line.
    pub baseline_mean: f64,
    /// The whole report (every image, the tests), once the batch is finished or cancelled:
    /// what the exports write. Built once, not after every chunk.
    pub report: Option<Rc<Report>>,
    pub histogram: Option<Rc<LossHistogram>>,
    pub cards: Cards,
    /// False while running, and when cancelled before the end.
    pub complete: bool,
}

/// Equal when the summaries are and the report, histogram and cards are the very same: yew
/// compares views on every render, and must not walk a finished batch's every image.
impl PartialEq for BatchView {
    fn eq(&self, other: &Self) -> bool {
        fn same<T>(a: &Option<Rc<T>>, b: &Option<Rc<T>>) -> bool {
            match (a, b) {
                (Some(a), Some(b)) => Rc::ptr_eq(a, b),
                (None, None) => true,
                _ => false,
            }
        }
        self.batch == other.batch
            && self.baseline_mean == other.baseline_mean
            && same(&self.report, &other.report)
            && same(&self.histogram, &other.histogram)
            && self.cards == other.cards
            && self.complete == other.complete
    }
}

/// A batch's cards in the chunks they were scored in, so that adding a chunk copies none of
/// the earlier cards. Equal when they hold the very same chunks: comparing a view (yew does,
/// on every render) never walks ten thousand cards.
#[derive(Debug, Clone, Default)]
pub struct Cards(Vec<Rc<Vec<Card>>>);

impl PartialEq for Cards {
    fn eq(&self, other: &Self) -> bool {
        self.0.len() == other.0.len() && self.0.iter().zip(&other.0).all(|(a, b)| Rc::ptr_eq(a, b))
    }
}

impl Cards {
    /// Add a scored chunk's cards.
    pub fn push(&mut self, chunk: Vec<Card>) {
        if !chunk.is_empty() {
            self.0.push(Rc::new(chunk));
        }
    }

    /// All cards, in input order.
    pub fn iter(&self) -> impl Iterator<Item = &Card> {
        self.0.iter().flat_map(|chunk| chunk.iter())
    }

    /// The card at `position` in input order.
    pub fn get(&self, mut position: usize) -> Option<&Card> {
        for chunk in &self.0 {
            if position < chunk.len() {
                return chunk.get(position);
            }
            position -= chunk.len();
        }
        None
    }

    /// How many.
    pub fn len(&self) -> usize {
        self.0.iter().map(|chunk| chunk.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A run that finished (or was cancelled): how many inputs, how long, where.
#[derive(Debug, Clone, PartialEq)]
pub struct RunInfo {
    pub label: String,
    pub inputs: usize,
    pub first_result_ms: Option<f64>,
    pub total_ms: f64,
    pub backend: String,
    pub complete: bool,
}

/// Everything the page renders (besides what components keep for themselves: the drop zone's
/// highlight, the grid's scroll window, the reference panel's form).
#[derive(Debug, Clone)]
pub struct AppState {
    /// The active model, or why none loaded.
    pub model: Result<Rc<ActiveModel>, String>,
    /// Whether the active model is kept in this browser's storage.
    pub stored: bool,
    /// The backend in use; `None` while it is being chosen.
    pub backend: Option<Backend>,
    pub preference: Preference,
    /// The newest run started (run numbers start at 1; 0: none, or its model was replaced);
    /// updates of other runs are ignored.
    pub run: u32,
    /// The batch on show, with the number of the run that made it.
    pub batch: Option<(u32, BatchView)>,
    /// Progress of the run under way.
    pub progress: Option<Progress>,
    /// The last error to show.
    pub message: Option<String>,
    /// What just happened that is not an error (a model was loaded, kept, ...).
    pub notice: Option<String>,
    pub run_info: Option<RunInfo>,
    pub sort: SortOrder,
    pub flagged_only: bool,
    /// Loss ratio at which a batch raises the alert.
    pub alert_ratio: f64,
    /// How large a significant change must be to be called drift, not a small shift.
    pub practical: PracticalSize,
    /// Finished batches, oldest first.
    pub timeline: Rc<Vec<TimelinePoint>>,
}

/// Everything that changes the page's state.
#[derive(Debug, Clone)]
pub enum Action {
    /// The backend is being (re)chosen.
    BackendChoosing,
    /// A backend is ready (possibly a provisional one while WebGPU is measured).
    BackendReady(Backend),
    /// The user asked for a backend.
    Prefer(Preference),
    /// Run `run` started on `total` inputs.
    RunStarted {
        run: u32,
        total: usize,
    },
    /// Run `run` scored another chunk.
    RunUpdate {
        run: u32,
        view: BatchView,
        progress: Progress,
    },
    /// Run `run` finished or was cancelled: its final batch and timings.
    RunFinished {
        run: u32,
        view: BatchView,
        info: RunInfo,
    },
    /// Run `run` stopped on an error.
    RunFailed {
        run: u32,
        error: String,
    },
    /// An error to show.
    Error(String),
    /// A model became the active one (loaded, trained, bundled): the batch on show and the
    /// timeline belonged to the old one.
    ModelChanged {
        model: ActiveModel,
        note: String,
    },
    /// The active model is now kept in (or forgotten by) this browser's storage.
    Kept(bool),
    ToggleSort,
    ToggleFlagged,
    /// The alert threshold, as a loss ratio.
    AlertRatio(f64),
    /// New practical thresholds: the batch on show is judged by them again.
    Practical(PracticalSize),
    ClearTimeline,
}

impl AppState {
    /// The state the page starts in: the model it starts with (or why there is none), and a
    /// message about it when there is one.
    pub fn new(model: Result<Rc<ActiveModel>, String>, message: Option<String>) -> Self {
        AppState {
            stored: model.as_ref().is_ok_and(|m| m.origin == Origin::Stored),
            model,
            backend: None,
            preference: Preference::Auto,
            run: 0,
            batch: None,
            progress: None,
            message,
            notice: None,
            run_info: None,
            sort: SortOrder::default(),
            flagged_only: false,
            alert_ratio: DEFAULT_ALERT_RATIO,
            practical: PracticalSize::default(),
            timeline: Rc::new(Vec::new()),
        }
    }

    /// The reducer.
    pub fn apply(&mut self, action: Action) {
        match action {
            Action::BackendChoosing => self.backend = None,
            Action::BackendReady(backend) => self.backend = Some(backend),
            Action::Prefer(preference) => self.preference = preference,
            Action::RunStarted { run, total } => {
                self.run = run;
                self.progress = Some(Progress { done: 0, total });
                self.message = None;
            }
            Action::RunUpdate {
                run,
                view,
                progress,
            } => {
                if run == self.run {
                    self.batch = Some((run, view));
                    self.progress = Some(progress);
                }
            }
            Action::RunFinished {
                run,
                mut view,
                info,
            } => {
                if run != self.run {
                    return;
                }
                judge(&mut view, self.practical);
                if let Some(point) = timeline_point(&info.label, &view) {
                    Rc::make_mut(&mut self.timeline).push(point);
                }
                self.run_info = Some(info);
                self.batch = Some((run, view));
                self.progress = None;
            }
            Action::RunFailed { run, error } => {
                if run == self.run {
                    self.message = Some(format!("Scoring stopped: {error}"));
                    self.progress = None;
                }
            }
            Action::Error(text) => self.message = Some(text),
            Action::ModelChanged { model, note } => {
                // A run under way belonged to the old model (the page cancels it): its later
                // updates match no run.
                self.run = 0;
                self.progress = None;
                self.stored = model.origin == Origin::Stored;
                self.model = Ok(Rc::new(model));
                self.batch = None;
                self.run_info = None;
                self.timeline = Rc::new(Vec::new());
                self.message = None;
                self.notice = Some(note);
            }
            Action::Kept(keep) => {
                self.stored = keep;
                self.notice = Some(if keep {
                    "This model is kept in this browser's storage; the page will start with it. Nothing was uploaded.".into()
                } else {
                    "The model is no longer kept in this browser.".into()
                });
            }
            Action::ToggleSort => {
                self.sort = match self.sort {
                    SortOrder::Input => SortOrder::MostDrifted,
                    SortOrder::MostDrifted => SortOrder::Input,
                }
            }
            Action::ToggleFlagged => self.flagged_only = !self.flagged_only,
            Action::AlertRatio(ratio) => {
                if ratio.is_finite() && ratio >= 1.0 {
                    self.alert_ratio = ratio;
                }
            }
            Action::Practical(practical) => {
                let sensible = [
                    practical.loss_ratio,
                    practical.distribution,
                    practical.flagged_excess,
                    practical.mmd,
                ]
                .iter()
                .all(|v| v.is_finite() && *v >= 0.0);
                if sensible {
                    self.practical = practical;
                    if let Some((_, view)) = &mut self.batch {
                        judge(view, practical);
                    }
                }
            }
            Action::ClearTimeline => self.timeline = Rc::new(Vec::new()),
        }
    }
}

/// Judge a batch's verdict by `practical` (the core's `BatchTests::judge`), in its summary and
/// in the report the exports write.
fn judge(view: &mut BatchView, practical: PracticalSize) {
    if let Some(tests) = view.batch.tests.as_mut() {
        tests.judge(practical);
    }
    if let Some(report) = view.report.as_mut()
        && report.batch.tests.is_some()
    {
        let report = Rc::make_mut(report);
        if let Some(tests) = report.batch.tests.as_mut() {
            tests.judge(practical);
        }
    }
}

/// A finished batch's point on the timeline (none for a batch with nothing scored).
fn timeline_point(label: &str, view: &BatchView) -> Option<TimelinePoint> {
    let b = &view.batch;
    let ratio = b.loss_ratio?;
    Some(TimelinePoint {
        label: label.to_string(),
        images: b.scored,
        ratio,
        p_value: b
            .tests
            .as_ref()
            .filter(|t| t.verdict != Verdict::TooFewImages)
            .map(|t| t.combined_p_value),
        verdict: b
            .tests
            .as_ref()
            .map(|t| t.verdict.headline().to_string())
            .unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use driftglass_core::report::PreparedInput;
    use driftglass_core::scorer::Scorer;
    use driftglass_core::stats::DEFAULT_ALPHA;

    use super::*;

    type Result<T = ()> = std::result::Result<T, String>;

    fn bundled() -> Result<ActiveModel> {
        ActiveModel::bundled()
    }

    /// A finished batch of `n` blank and striped images scored with the bundled model.
    fn finished(n: usize) -> Result<BatchView> {
        let model = bundled()?;
        let loaded = &model.loaded;
        let config = loaded.header.preprocess;
        let side = config.side;
        let inputs: Vec<(String, PreparedInput)> = (0..n)
            .map(|i| {
                let pixels: Vec<f32> = (0..side * side)
                    .map(|p| if (p + i) % 7 == 0 { 1.0 } else { 0.0 })
                    .collect();
                let properties = driftglass_core::properties::ImageProperties::of_gray(
                    &pixels, side, side, "png",
                );
                (format!("{i}.png"), Ok((pixels, properties)))
            })
            .collect();
        let mut scorer = Scorer::new(loaded, "test", config, 0.01).map_err(|e| e.to_string())?;
        scorer.push(&inputs).map_err(|e| e.to_string())?;
        let report = scorer.finish(DEFAULT_ALPHA);
        Ok(BatchView {
            batch: report.batch.clone(),
            baseline_mean: loaded.baseline.mean(),
            report: Some(Rc::new(report)),
            histogram: None,
            cards: Cards::default(),
            complete: true,
        })
    }

    fn info(label: &str) -> RunInfo {
        RunInfo {
            label: label.into(),
            inputs: 0,
            first_result_ms: Some(1.0),
            total_ms: 2.0,
            backend: "CPU".into(),
            complete: true,
        }
    }

    fn state() -> Result<AppState> {
        Ok(AppState::new(Ok(Rc::new(bundled()?)), None))
    }

    #[test]
    fn only_the_newest_run_updates_the_page() -> Result {
        let mut s = state()?;
        s.apply(Action::RunStarted { run: 1, total: 20 });
        s.apply(Action::RunStarted { run: 2, total: 30 });
        let view = finished(20)?;
        s.apply(Action::RunUpdate {
            run: 1,
            view: view.clone(),
            progress: Progress {
                done: 20,
                total: 20,
            },
        });
        s.apply(Action::RunFinished {
            run: 1,
            view: view.clone(),
            info: info("old"),
        });
        s.apply(Action::RunFailed {
            run: 1,
            error: "gone".into(),
        });
        assert!(s.batch.is_none());
        assert!(s.timeline.is_empty());
        assert!(s.message.is_none());
        assert_eq!(s.progress, Some(Progress { done: 0, total: 30 }));

        s.apply(Action::RunUpdate {
            run: 2,
            view: view.clone(),
            progress: Progress { done: 8, total: 30 },
        });
        assert_eq!(s.progress, Some(Progress { done: 8, total: 30 }));
        assert_eq!(s.batch.as_ref().map(|(run, _)| *run), Some(2));
        s.apply(Action::RunFinished {
            run: 2,
            view,
            info: info("dropped"),
        });
        assert_eq!(s.progress, None);
        assert_eq!(s.timeline.len(), 1);
        assert_eq!(s.timeline[0].label, "dropped");
        assert_eq!(s.timeline[0].images, 20);
        assert!(s.timeline[0].p_value.is_some());
        assert_eq!(
            s.run_info.as_ref().map(|i| i.label.as_str()),
            Some("dropped")
        );
        Ok(())
    }

    #[test]
    fn a_failed_run_says_why_and_stops_its_progress() -> Result {
        let mut s = state()?;
        s.apply(Action::RunStarted { run: 1, total: 5 });
        s.apply(Action::RunFailed {
            run: 1,
            error: "the worker crashed".into(),
        });
        assert_eq!(
            s.message.as_deref(),
            Some("Scoring stopped: the worker crashed")
        );
        assert_eq!(s.progress, None);
        // A new run clears the old message.
        s.apply(Action::RunStarted { run: 2, total: 5 });
        assert_eq!(s.message, None);
        Ok(())
    }

    #[test]
    fn a_new_model_clears_what_belonged_to_the_old_one() -> Result {
        let mut s = state()?;
        s.apply(Action::RunStarted { run: 1, total: 20 });
        s.apply(Action::RunFinished {
            run: 1,
            view: finished(20)?,
            info: info("dropped"),
        });
        // A second run is under way when the model changes: nothing of it shows afterwards.
        s.apply(Action::RunStarted { run: 2, total: 20 });
        s.apply(Action::Error("something".into()));
        let mut model = bundled()?;
        model.origin = Origin::Stored;
        s.apply(Action::ModelChanged {
            model,
            note: "kept model".into(),
        });
        assert!(s.batch.is_none() && s.run_info.is_none() && s.message.is_none());
        assert!(s.timeline.is_empty());
        assert!(s.stored);
        assert_eq!(s.notice.as_deref(), Some("kept model"));
        assert_eq!(s.progress, None);
        s.apply(Action::RunUpdate {
            run: 2,
            view: finished(20)?,
            progress: Progress {
                done: 20,
                total: 20,
            },
        });
        s.apply(Action::RunFinished {
            run: 2,
            view: finished(20)?,
            info: info("old model"),
        });
        assert!(s.batch.is_none() && s.timeline.is_empty() && s.progress.is_none());
        Ok(())
    }

    #[test]
    fn an_empty_batch_adds_no_timeline_point() -> Result {
        let mut s = state()?;
        s.apply(Action::RunStarted { run: 1, total: 0 });
        s.apply(Action::RunFinished {
            run: 1,
            view: finished(0)?,
            info: info("empty"),
        });
        assert!(s.timeline.is_empty());
        assert!(s.run_info.is_some());
        Ok(())
    }

    #[test]
    fn controls_toggle_and_refuse_meaningless_thresholds() -> Result {
        let mut s = state()?;
        s.apply(Action::ToggleSort);
        s.apply(Action::ToggleFlagged);
        assert_eq!(s.sort, SortOrder::MostDrifted);
        assert!(s.flagged_only);
        s.apply(Action::ToggleSort);
        assert_eq!(s.sort, SortOrder::Input);
        s.apply(Action::AlertRatio(1.25));
        s.apply(Action::AlertRatio(f64::NAN));
        s.apply(Action::AlertRatio(0.5));
        assert_eq!(s.alert_ratio, 1.25);
        s.apply(Action::Kept(true));
        assert!(s.stored);
        s.apply(Action::Kept(false));
        assert!(!s.stored);
        Ok(())
    }
}
