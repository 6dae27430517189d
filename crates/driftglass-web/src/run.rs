//! One scoring run, from a batch's sources to the actions that show it: its chunks as they are
//! scored, then the finished batch with its timings, or why it stopped.

use std::cell::Cell;
use std::rc::Rc;

use driftglass_core::model_file::LoadedModel;
use driftglass_core::report::DEFAULT_FLAG_RATE;
use yew::Callback;

use crate::glue::now_ms;
use crate::pipeline::{self, Source};
use crate::state::{Action, Backend, RunInfo};

/// Score `sources` as run number `run` on `backend`, until done or `cancelled`.
pub fn start(
    run: u32,
    label: String,
    sources: Vec<Source>,
    model: Rc<LoadedModel>,
    backend: Backend,
    cancelled: Rc<Cell<bool>>,
    dispatch: Callback<Action>,
) {
    let total = sources.len();
    dispatch.emit(Action::RunStarted { run, total });
    wasm_bindgen_futures::spawn_local(async move {
        let started = now_ms();
        let mut first_result_ms = None;
        let result = pipeline::score_sources(
            sources,
            &model,
            backend.is_gpu,
            DEFAULT_FLAG_RATE,
            (!backend.is_gpu).then_some(pipeline::CPU_CHUNK_BUDGET_MS),
            &cancelled,
            |view, progress| {
                first_result_ms.get_or_insert_with(|| now_ms() - started);
                dispatch.emit(Action::RunUpdate {
                    run,
                    view: view.clone(),
                    progress,
                });
            },
        )
        .await;
        dispatch.emit(match result {
            Ok(view) => Action::RunFinished {
                run,
                info: RunInfo {
                    label,
                    inputs: total,
                    first_result_ms,
                    total_ms: now_ms() - started,
                    backend: format!("{}: {}", backend.name, backend.detail),
                    complete: view.complete,
                },
                view,
            },
            Err(error) => Action::RunFailed { run, error },
        });
    });
}
