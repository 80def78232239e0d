//! The workers of scan2dms: they take deliveries from the inbox, drive each
//! batch through its stages and carry out what the state machine asks for.
//!
//! The loop is deliberately plain: one pass takes what is ready in the
//! inbox, then runs the oldest runnable stage of one batch, and repeats.
//! Every step is a compare-and-set transition in the store, so a crash at any
//! point leaves each batch either before or after a step, never between;
//! [`Pipeline::recover`] resumes from there. CPU-heavy work inside a stage
//! (hashing, decoding) runs on rayon.
//!
//! Stages this build runs: validate, ocr, efile. Batches then wait in
//! `push_pending` for the DMS stages, which arrive with the next milestone.

mod efile_stage;
mod intake;
pub mod ocr_stage;
mod orderbook;
mod validate_stage;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use scan2dms_config::PipelineConfig;
use scan2dms_core::{Batch, BatchState, Effect, Event, Stage, StageOutcome, step};
use scan2dms_store::{BatchRow, NewEvent, StateStore, StoreError};

pub use intake::{Intake, IntakeOutcome};
pub use orderbook::StoreOrderBook;
pub use validate_stage::{unpack_archive, validate_options};

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_millis() as i64)
}

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{action} {}: {source}", path.display())]
    Io { action: &'static str, path: PathBuf, source: std::io::Error },
    #[error("batch {batch_id}: {source}")]
    InvalidTransition { batch_id: String, source: scan2dms_core::InvalidTransition },
}

/// What happened, for whoever watches a run (progress bars, log lines).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Note {
    Registered { batch_id: String, source_name: String },
    Refused { name: String, reason: String },
    StageStarted { batch_id: String, stage: Stage },
    Validated { batch_id: String, outcome: String, reasons: usize, warnings: usize },
    StageFailed { batch_id: String, stage: Stage, error: String, gave_up: bool },
    Resumed { batch_id: String, state: String },
    StageDone { batch_id: String, stage: Stage },
}

pub trait Observer: Send + Sync {
    fn note(&self, note: &Note);
}

/// An observer that only logs.
#[derive(Debug)]
pub struct LogObserver;

impl Observer for LogObserver {
    fn note(&self, note: &Note) {
        tracing::info!(?note, "pipeline");
    }
}

/// How to run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub inbox_dir: PathBuf,
    /// Take everything in the inbox at once and return when nothing is left.
    pub once: bool,
    /// The stages this worker runs; batches waiting for others are left to
    /// other workers (or a later run).
    pub stages: Vec<Stage>,
}

impl RunOptions {
    /// Every stage this build has.
    pub fn all_stages() -> Vec<Stage> {
        Stage::ALL.into_iter().filter(|&stage| has_handler(stage)).collect()
    }
}

/// Counts of one run, for the closing line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunSummary {
    pub registered: usize,
    pub refused: usize,
    pub accepted: usize,
    pub rejected: usize,
    pub failed: usize,
}

/// The pipeline over one data directory and one store.
pub struct Pipeline {
    pub store: Arc<dyn StateStore>,
    pub config: PipelineConfig,
    pub data_dir: PathBuf,
    /// The CPU pool of the OCR and e-file stages, built on first use.
    cpu_pool: std::sync::OnceLock<rayon::ThreadPool>,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline").field("data_dir", &self.data_dir).finish_non_exhaustive()
    }
}

/// Stages this build can run; the others wait.
fn has_handler(stage: Stage) -> bool {
    matches!(stage, Stage::Validate | Stage::Ocr | Stage::Efile)
}

impl Pipeline {
    pub fn new(store: Arc<dyn StateStore>, config: PipelineConfig, data_dir: &Path) -> Pipeline {
        Pipeline { store, config, data_dir: data_dir.to_owned(), cpu_pool: std::sync::OnceLock::new() }
    }

    /// The pool CPU-heavy stage work runs on: `ocr.threads` threads (one per
    /// core when 0), each keeping its own OCR engine.
    pub fn cpu_pool(&self) -> &rayon::ThreadPool {
        self.cpu_pool.get_or_init(|| {
            let threads = match self.config.ocr.threads {
                0 => std::thread::available_parallelism().map_or(1, usize::from),
                threads => threads,
            };
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .thread_name(|index| format!("scan2dms-cpu-{index}"))
                .build()
                .unwrap_or_else(|error| panic!("cannot start {threads} worker threads: {error}"))
        })
    }

    /// Where the batch's files live in the work area.
    pub fn batch_dir(&self, batch_id: &str) -> PathBuf {
        self.data_dir.join("batches").join(batch_id)
    }

    /// Where the contractor's reports are written.
    pub fn reports_dir(&self) -> PathBuf {
        self.data_dir.join("reports")
    }

    /// After a crash: registers deliveries that were moved but not yet
    /// registered, and turns stages that were running into retries.
    pub fn recover(&self, observer: &dyn Observer) -> Result<(), RuntimeError> {
        Intake::new(self).register_orphans(observer)?;
        for row in self.store.batches(None)? {
            if let BatchState::Running(_) = row.batch.state {
                self.apply(&row, &Event::Interrupted)?;
                observer.note(&Note::Resumed { batch_id: row.batch_id.clone(), state: row.batch.state.name() });
            }
        }
        Ok(())
    }

    /// Runs until `shutdown` is set, or with `once` until nothing is left.
    pub fn run(
        &self,
        options: &RunOptions,
        shutdown: &AtomicBool,
        observer: &dyn Observer,
    ) -> Result<RunSummary, RuntimeError> {
        let mut summary = RunSummary::default();
        self.recover(observer)?;
        let mut intake = Intake::new(self);
        loop {
            if shutdown.load(Ordering::SeqCst) {
                break;
            }
            let settle =
                if options.once { Duration::ZERO } else { Duration::from_secs(self.config.intake.settle_secs) };
            let taken = intake.poll(&options.inbox_dir, settle, observer)?;
            for outcome in &taken {
                match outcome {
                    IntakeOutcome::Registered(_) => summary.registered += 1,
                    IntakeOutcome::Refused { .. } => summary.refused += 1,
                }
            }
            if let Some(row) = self.next_runnable(&options.stages)? {
                self.run_stage(&row, &mut summary, observer)?;
                continue;
            }
            if options.once && intake.waiting() == 0 && !self.has_waiting_work(&options.stages)? {
                break;
            }
            self.sleep(Duration::from_millis(self.config.intake.poll_interval_ms), shutdown);
        }
        Ok(summary)
    }

    fn sleep(&self, duration: Duration, shutdown: &AtomicBool) {
        let until = std::time::Instant::now() + duration;
        while std::time::Instant::now() < until && !shutdown.load(Ordering::SeqCst) {
            std::thread::park_timeout(Duration::from_millis(50).min(until - std::time::Instant::now()));
        }
    }

    /// The oldest batch whose pending stage this worker runs and can run now.
    fn next_runnable(&self, stages: &[Stage]) -> Result<Option<BatchRow>, RuntimeError> {
        let now = now_ms();
        let runs = |stage: Stage| has_handler(stage) && stages.contains(&stage);
        let rows = self.store.batches(None)?;
        Ok(rows.into_iter().find(|row| row.batch.is_runnable(now) && row.batch.state.stage().is_some_and(runs)))
    }

    /// Pending work this worker does, now or after a back-off.
    fn has_waiting_work(&self, stages: &[Stage]) -> Result<bool, RuntimeError> {
        let runs = |stage: Stage| has_handler(stage) && stages.contains(&stage);
        Ok(self
            .store
            .batches(None)?
            .iter()
            .any(|row| matches!(row.batch.state, BatchState::Pending(stage) if runs(stage))))
    }

    fn run_stage(&self, row: &BatchRow, summary: &mut RunSummary, observer: &dyn Observer) -> Result<(), RuntimeError> {
        let claimed = match self.apply(row, &Event::Claimed) {
            Ok(claimed) => claimed,
            // Another worker took it first; nothing to do.
            Err(RuntimeError::Store(StoreError::Conflict { .. })) => return Ok(()),
            Err(error) => return Err(error),
        };
        let BatchState::Running(stage) = claimed.state else { return Ok(()) };
        observer.note(&Note::StageStarted { batch_id: row.batch_id.clone(), stage });
        let running = BatchRow { batch: claimed, ..row.clone() };
        let result = match stage {
            Stage::Validate => validate_stage::run(self, &running, observer),
            Stage::Ocr => ocr_stage::run(self, &running, observer),
            Stage::Efile => efile_stage::run(self, &running, observer),
            other => Err(format!("stage {other} is not available in this build")),
        };
        match result {
            Ok(StageOutcome::Accepted) => summary.accepted += 1,
            Ok(StageOutcome::Rejected) => summary.rejected += 1,
            Ok(StageOutcome::Completed) => {
                observer.note(&Note::StageDone { batch_id: row.batch_id.clone(), stage });
            }
            Err(error) => {
                tracing::warn!(batch_id = %row.batch_id, %stage, %error, "stage failed");
                let next = self.apply(&running, &Event::Failed { error: error.clone() })?;
                let gave_up = matches!(next.state, BatchState::Failed(_));
                if gave_up {
                    summary.failed += 1;
                }
                observer.note(&Note::StageFailed { batch_id: row.batch_id.clone(), stage, error, gave_up });
            }
        }
        Ok(())
    }

    /// Steps the state machine and stores the transition with its event.
    /// Effects other than running a stage are carried out here.
    pub fn apply(&self, row: &BatchRow, event: &Event) -> Result<Batch, RuntimeError> {
        let now = now_ms();
        let (next, effects) = step(&row.batch, now, event, &self.config.retry)
            .map_err(|source| RuntimeError::InvalidTransition { batch_id: row.batch_id.clone(), source })?;
        let (kind, detail) = event_log_entry(event, &next);
        self.store.transition(&row.batch_id, &row.batch, &next, &NewEvent::batch(&row.batch_id, kind, detail), now)?;
        for effect in effects {
            if let Effect::AlertOperator { stage, error } = effect {
                tracing::error!(batch_id = %row.batch_id, %stage, %error, "stage gave up; needs an operator");
            }
        }
        Ok(next)
    }
}

fn event_log_entry(event: &Event, next: &Batch) -> (&'static str, String) {
    match event {
        Event::Claimed => ("claimed", format!("{} (attempt {})", next.state, next.attempts)),
        Event::Succeeded(_) => ("succeeded", next.state.name()),
        Event::Failed { error } => ("failed", format!("{error}; now {}", next.state)),
        Event::Interrupted => ("interrupted", format!("the process stopped during the stage; now {}", next.state)),
        Event::RetryRequested { from } => (
            "retry_requested",
            format!(
                "from {}; now {}",
                from.map_or_else(|| "the failed stage".to_owned(), |stage| stage.to_string()),
                next.state
            ),
        ),
    }
}
