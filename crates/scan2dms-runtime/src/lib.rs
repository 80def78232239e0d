//! The workers of scan2dms: they take deliveries from the inbox, drive each
//! batch through its stages and carry out what the state machine asks for.
//!
//! The loop is deliberately plain: the calling thread takes what is ready
//! in the inbox; a few stage slots each claim the oldest runnable stage of a
//! batch, run it, and repeat, all putting their CPU work on one rayon pool.
//! Every step is a compare-and-set transition in the store, so a crash at any
//! point leaves each batch either before or after a step, never between;
//! [`Pipeline::recover`] resumes from there.
//!
//! Many workers, on many hosts, may share one (PostgreSQL) store: a claim
//! gives the worker a lease on the batch, which a heartbeat renews while the
//! stage runs. A batch whose lease ran out (its worker died) is interrupted
//! by whichever worker sees it first and runs again; the DMS push stays
//! exactly-once through the push's idempotency.
//!
//! Stages: validate, ocr, efile, and, when a DMS target is attached
//! ([`Pipeline::with_dms`]), push and verify. Without one, batches wait in
//! `push_pending`.

mod dms_stage;
mod efile_stage;
mod intake;
pub mod ocr_stage;
mod orderbook;
mod validate_stage;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use scan2dms_config::PipelineConfig;
use scan2dms_core::{Batch, BatchState, Effect, Event, Stage, StageOutcome, step};
use scan2dms_store::{BatchRow, ClaimRequest, NewEvent, StateStore, StoreError};

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
    /// Take deliveries from `inbox_dir`; a worker of a many-host
    /// deployment leaves that to the one process that does.
    pub intake: bool,
    /// Take everything in the inbox at once and return when nothing is left.
    pub once: bool,
    /// The stages this worker runs; batches waiting for others are left to
    /// other workers (or a later run).
    pub stages: Vec<Stage>,
}

impl RunOptions {
    /// Every stage; those the pipeline cannot run (push and verify without a
    /// DMS) are left waiting.
    pub fn all_stages() -> Vec<Stage> {
        Stage::ALL.to_vec()
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
    /// Where documents are filed; push and verify wait without one.
    dms: Option<Arc<dyn scan2dms_dms::DmsTarget>>,
    /// The document type classifier, loaded on first use (none when the
    /// configured model file does not exist).
    classifier: std::sync::OnceLock<Option<Arc<scan2dms_classify::Model>>>,
    /// This process among the workers sharing the store: host, process id
    /// and start time, so a restarted process is a new worker.
    worker_id: String,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline").field("data_dir", &self.data_dir).finish_non_exhaustive()
    }
}

impl Pipeline {
    pub fn new(store: Arc<dyn StateStore>, config: PipelineConfig, data_dir: &Path) -> Pipeline {
        Pipeline {
            store,
            config,
            data_dir: data_dir.to_owned(),
            cpu_pool: std::sync::OnceLock::new(),
            dms: None,
            classifier: std::sync::OnceLock::new(),
            worker_id: worker_id(),
        }
    }

    /// Who holds the leases this process takes.
    pub fn worker_id(&self) -> &str {
        &self.worker_id
    }

    /// The classifier of `classify.model`, or `None` when that file does not
    /// exist (documents then stay unclassified). A file that exists but
    /// cannot be loaded is an error: the stage fails with it.
    pub fn classifier(&self) -> Result<Option<Arc<scan2dms_classify::Model>>, String> {
        if let Some(loaded) = self.classifier.get() {
            return Ok(loaded.clone());
        }
        let path = self.data_dir.join(&self.config.classify.model);
        let loaded = if path.is_file() {
            let model = scan2dms_classify::Model::load(&path)
                .map_err(|error| format!("classifier model {}: {error}", path.display()))?;
            Some(Arc::new(model))
        } else {
            tracing::info!(path = %path.display(), "no classifier model; documents stay unclassified");
            None
        };
        Ok(self.classifier.get_or_init(|| loaded).clone())
    }

    /// Attaches the DMS the push and verify stages file documents into.
    pub fn with_dms(mut self, dms: Arc<dyn scan2dms_dms::DmsTarget>) -> Pipeline {
        self.dms = Some(dms);
        self
    }

    /// The attached DMS, if any.
    pub fn dms(&self) -> Option<Arc<dyn scan2dms_dms::DmsTarget>> {
        self.dms.clone()
    }

    /// Whether this pipeline can run the stage (push and verify need a DMS).
    pub fn has_handler(&self, stage: Stage) -> bool {
        match stage {
            Stage::Validate | Stage::Ocr | Stage::Efile => true,
            Stage::Push | Stage::Verify => self.dms.is_some(),
        }
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
    /// registered, and turns stages that were running into retries. An
    /// embedded store belongs to this process alone, so everything running
    /// was its own; on a shared store only batches whose lease ran out are
    /// (the others belong to live workers).
    pub fn recover(&self, observer: &dyn Observer) -> Result<(), RuntimeError> {
        Intake::new(self).register_orphans(observer)?;
        if self.store.is_shared() {
            return self.take_over_expired(observer);
        }
        for row in self.store.batches(None)? {
            if let BatchState::Running(_) = row.batch.state {
                self.apply(&row, &Event::Interrupted)?;
                observer.note(&Note::Resumed { batch_id: row.batch_id.clone(), state: row.batch.state.name() });
            }
        }
        Ok(())
    }

    /// Interrupts the running batches whose lease ran out, so they run
    /// again. Another worker doing the same at the same moment makes one of
    /// the two transitions a conflict, which is fine.
    fn take_over_expired(&self, observer: &dyn Observer) -> Result<(), RuntimeError> {
        for row in self.store.expired_leases(now_ms())? {
            match self.apply(&row, &Event::Interrupted) {
                Ok(_) => {
                    tracing::warn!(batch_id = %row.batch_id, lease = ?row.lease, "lease expired; batch taken over");
                    observer.note(&Note::Resumed { batch_id: row.batch_id.clone(), state: row.batch.state.name() });
                }
                Err(RuntimeError::Store(StoreError::Conflict { .. })) => {}
                Err(error) => return Err(error),
            }
        }
        Ok(())
    }

    /// How many stages run at once: one per pool thread, and at least two,
    /// so a push or verification (waiting on the DMS) overlaps another
    /// batch's OCR, and with two or more threads one batch's validation
    /// overlaps another's OCR and the tail of one batch's pages is filled
    /// with the next batch's. Stages that compute never outnumber the pool's
    /// threads, so a single-threaded worker holds one OCR at a time and
    /// leaves the next batch to a worker with a free thread.
    pub fn stage_slots(&self) -> usize {
        self.cpu_pool().current_num_threads().max(2)
    }

    /// Runs until `shutdown` is set, or with `once` until nothing is left.
    ///
    /// The calling thread takes deliveries from the inbox; [`stage_slots`]
    /// threads each claim the oldest runnable stage and run it, all of them
    /// putting their CPU work on the one pool. Batches wait between stages in
    /// the store (`<stage>_pending`), so the queue between two stages is
    /// bounded by the slots: at most that many batches are in work at once,
    /// and at most one page per pool thread is decoded in memory.
    ///
    /// [`stage_slots`]: Pipeline::stage_slots
    pub fn run(
        &self,
        options: &RunOptions,
        shutdown: &AtomicBool,
        observer: &dyn Observer,
    ) -> Result<RunSummary, RuntimeError> {
        self.recover(observer)?;
        let scheduler = Scheduler::default();
        let slots = self.stage_slots();
        std::thread::scope(|scope| {
            let heartbeat = std::thread::Builder::new()
                .name("scan2dms-lease".to_owned())
                .spawn_scoped(scope, || self.heartbeat(&scheduler, observer));
            if let Err(error) = heartbeat {
                scheduler.fail(RuntimeError::Io { action: "start lease thread", path: PathBuf::new(), source: error });
            }
            for index in 0..slots {
                let scheduler = &scheduler;
                let spawned = std::thread::Builder::new()
                    .name(format!("scan2dms-stage-{index}"))
                    .spawn_scoped(scope, move || self.stage_slot(options, shutdown, scheduler, observer));
                if let Err(error) = spawned {
                    scheduler.fail(RuntimeError::Io {
                        action: "start stage thread",
                        path: PathBuf::new(),
                        source: error,
                    });
                }
            }
            if let Err(error) = self.intake_loop(options, shutdown, &scheduler, observer) {
                scheduler.fail(error);
            }
            scheduler.stop();
        });
        match scheduler.error.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner) {
            Some(error) => Err(error),
            None => Ok(scheduler.summary.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner)),
        }
    }

    /// The calling thread of [`Pipeline::run`]: takes deliveries from the
    /// inbox and, with `once`, decides when everything is done.
    fn intake_loop(
        &self,
        options: &RunOptions,
        shutdown: &AtomicBool,
        scheduler: &Scheduler,
        observer: &dyn Observer,
    ) -> Result<(), RuntimeError> {
        let mut intake = Intake::new(self);
        let settle = if options.once { Duration::ZERO } else { Duration::from_secs(self.config.intake.settle_secs) };
        let poll = Duration::from_millis(self.config.intake.poll_interval_ms);
        while !shutdown.load(Ordering::SeqCst) && !scheduler.stopped() {
            let taken = if options.intake { intake.poll(&options.inbox_dir, settle, observer)? } else { Vec::new() };
            if !taken.is_empty() {
                let mut summary = scheduler.summary();
                for outcome in &taken {
                    match outcome {
                        IntakeOutcome::Registered(_) => summary.registered += 1,
                        IntakeOutcome::Refused { .. } => summary.refused += 1,
                    }
                }
                drop(summary);
                scheduler.wake_all();
            }
            if options.once {
                // Under the pick lock no slot is between looking and claiming,
                // so "nothing busy and nothing waiting" is a settled fact.
                let _picking = scheduler.picking();
                if (!options.intake || intake.waiting() == 0)
                    && scheduler.busy.load(Ordering::SeqCst) == 0
                    && !self.has_waiting_work(&options.stages)?
                {
                    return Ok(());
                }
            }
            scheduler.wait(poll);
        }
        Ok(())
    }

    /// One stage slot: claims the oldest runnable stage, runs it, repeats.
    fn stage_slot(&self, options: &RunOptions, shutdown: &AtomicBool, scheduler: &Scheduler, observer: &dyn Observer) {
        let poll = Duration::from_millis(self.config.intake.poll_interval_ms);
        while !shutdown.load(Ordering::SeqCst) && !scheduler.stopped() {
            let claimed = {
                let _picking = scheduler.picking();
                // With every pool thread taken by a stage that computes, a
                // slot takes only stages that wait on the DMS: a second
                // batch claimed now would only queue for the same threads,
                // held from a worker on another host with a thread free.
                let pool_full = scheduler.computing.load(Ordering::SeqCst) >= self.cpu_pool().current_num_threads();
                let stages: Vec<Stage> =
                    options.stages.iter().copied().filter(|&stage| !pool_full || !computes(stage)).collect();
                match self.claim_next(&stages) {
                    Ok(Some(running)) => {
                        scheduler.busy.fetch_add(1, Ordering::SeqCst);
                        if running_stage(&running).is_some_and(computes) {
                            scheduler.computing.fetch_add(1, Ordering::SeqCst);
                        }
                        Some(running)
                    }
                    Ok(None) => None,
                    Err(error) => {
                        scheduler.fail(error);
                        return;
                    }
                }
            };
            let Some(running) = claimed else {
                scheduler.wait(poll);
                continue;
            };
            scheduler.leases().insert(running.batch_id.clone());
            let result = self.run_claimed(&running, scheduler, observer);
            scheduler.leases().remove(&running.batch_id);
            if running_stage(&running).is_some_and(computes) {
                scheduler.computing.fetch_sub(1, Ordering::SeqCst);
            }
            scheduler.busy.fetch_sub(1, Ordering::SeqCst);
            scheduler.wake_all();
            if let Err(error) = result {
                scheduler.fail(error);
                return;
            }
        }
    }

    /// Claims the oldest due stage this worker runs, under a lease: the
    /// batch, now running, or `None` when there is none. The store applies
    /// the rules of which batch may go next (validations one at a time in
    /// registration order, no push while a document awaits review) in the
    /// same transaction, so workers on other hosts see the same order.
    fn claim_next(&self, stages: &[Stage]) -> Result<Option<BatchRow>, RuntimeError> {
        let runs: Vec<Stage> = stages.iter().copied().filter(|&stage| self.has_handler(stage)).collect();
        let now = now_ms();
        let claim = |row: &BatchRow| -> Result<(Batch, NewEvent), String> {
            let (next, _) = step(&row.batch, now, &Event::Claimed, &self.config.retry).map_err(|e| e.to_string())?;
            let (kind, detail) = event_log_entry(&Event::Claimed, &next);
            Ok((next, NewEvent::batch(&row.batch_id, kind, detail)))
        };
        let request = ClaimRequest {
            stages: &runs,
            worker_id: &self.worker_id,
            lease_until_ms: now + self.lease_ms(),
            claim: &claim,
        };
        Ok(self.store.claim_next(&request, now)?)
    }

    fn lease_ms(&self) -> i64 {
        i64::try_from(self.config.lease.as_millis()).unwrap_or(i64::MAX)
    }

    /// The lease thread of a run: renews the leases of the batches this
    /// process runs every third of a lease, and takes over batches of dead
    /// workers. A lease found lost is logged; the stage's own transition
    /// then fails its compare-and-set and its work is dropped.
    fn heartbeat(&self, scheduler: &Scheduler, observer: &dyn Observer) {
        let period = (self.config.lease / 3).max(Duration::from_millis(100));
        while !scheduler.stopped() {
            // Every period, not at every stage end that wakes the scheduler.
            let next = std::time::Instant::now() + period;
            while !scheduler.stopped() && std::time::Instant::now() < next {
                scheduler.wait(next.saturating_duration_since(std::time::Instant::now()));
            }
            if scheduler.stopped() {
                return;
            }
            let running: Vec<String> = scheduler.leases().iter().cloned().collect();
            let until = now_ms() + self.lease_ms();
            for batch_id in running {
                match self.store.renew_lease(&batch_id, &self.worker_id, until) {
                    Ok(true) => {}
                    // A stage that ended since the list was taken has no lease
                    // left to renew; only a batch still running is lost.
                    Ok(false) if self.still_running(&batch_id, scheduler) => {
                        tracing::warn!(%batch_id, "lease lost; another worker runs this batch now");
                    }
                    Ok(false) => {}
                    Err(error) => tracing::warn!(%batch_id, %error, "lease not renewed"),
                }
            }
            if let Err(error) = self.take_over_expired(observer) {
                tracing::warn!(%error, "looking for expired leases failed");
            }
            scheduler.wake_all();
        }
    }

    /// Whether this process still runs a stage of the batch, as the store sees it.
    fn still_running(&self, batch_id: &str, scheduler: &Scheduler) -> bool {
        scheduler.leases().contains(batch_id)
            && self
                .store
                .batch(batch_id)
                .ok()
                .flatten()
                .is_some_and(|row| matches!(row.batch.state, BatchState::Running(_)))
    }

    /// Pending work this worker does, now or after a back-off. A batch
    /// whose documents wait for a reviewer waits for people, not for us.
    fn has_waiting_work(&self, stages: &[Stage]) -> Result<bool, RuntimeError> {
        let runs = |stage: Stage| self.has_handler(stage) && stages.contains(&stage);
        let in_review = self.batches_in_review()?;
        for row in self.store.batches(None)? {
            if matches!(row.batch.state, BatchState::Pending(stage) if runs(stage)) && !awaits_review(&row, &in_review)
            {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Batches with documents waiting for a reviewer: one query per look
    /// for work, whatever the number of batches.
    fn batches_in_review(&self) -> Result<std::collections::HashSet<String>, RuntimeError> {
        Ok(self.store.review_queue()?.into_iter().map(|document| document.batch_id).collect())
    }

    fn run_claimed(
        &self,
        running: &BatchRow,
        scheduler: &Scheduler,
        observer: &dyn Observer,
    ) -> Result<(), RuntimeError> {
        let BatchState::Running(stage) = running.batch.state else { return Ok(()) };
        observer.note(&Note::StageStarted { batch_id: running.batch_id.clone(), stage });
        let result = match stage {
            Stage::Validate => validate_stage::run(self, running, observer),
            Stage::Ocr => ocr_stage::run(self, running, observer),
            Stage::Efile => efile_stage::run(self, running, observer),
            Stage::Push => dms_stage::push(self, running, observer),
            Stage::Verify => dms_stage::verify_stage(self, running, observer),
        };
        match result {
            Ok(StageOutcome::Accepted) => scheduler.summary().accepted += 1,
            Ok(StageOutcome::Rejected) => scheduler.summary().rejected += 1,
            Ok(StageOutcome::Completed) => {
                observer.note(&Note::StageDone { batch_id: running.batch_id.clone(), stage });
            }
            Err(error) => {
                tracing::warn!(batch_id = %running.batch_id, %stage, %error, "stage failed");
                let next = self.apply(running, &Event::Failed { error: error.clone() })?;
                let gave_up = matches!(next.state, BatchState::Failed(_));
                if gave_up {
                    scheduler.summary().failed += 1;
                }
                observer.note(&Note::StageFailed { batch_id: running.batch_id.clone(), stage, error, gave_up });
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

/// Whether a stage's work is computation on the CPU pool (hashing,
/// decoding, OCR, PDF writing) rather than waiting on the DMS.
fn computes(stage: Stage) -> bool {
    matches!(stage, Stage::Validate | Stage::Ocr | Stage::Efile)
}

/// The stage a claimed batch runs.
fn running_stage(row: &BatchRow) -> Option<Stage> {
    match row.batch.state {
        BatchState::Running(stage) => Some(stage),
        _ => None,
    }
}

/// A batch waiting to be pushed while some of its documents wait for a
/// reviewer's decision: nothing of it is filed until all are decided.
fn awaits_review(row: &BatchRow, in_review: &std::collections::HashSet<String>) -> bool {
    row.batch.state == BatchState::Pending(Stage::Push) && in_review.contains(&row.batch_id)
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

/// What the threads of one [`Pipeline::run`] share.
#[derive(Debug, Default)]
struct Scheduler {
    /// Held while a slot looks for work and claims it, and while the intake
    /// thread decides that a `--once` run is over.
    pick: Mutex<()>,
    /// Slots running a stage.
    busy: AtomicUsize,
    /// Slots running a stage that computes on the pool (see [`computes`]).
    computing: AtomicUsize,
    stopped: AtomicBool,
    summary: Mutex<RunSummary>,
    /// The first error that ended the run (a store or disk failure).
    error: Mutex<Option<RuntimeError>>,
    /// Wakes idle threads when a stage ends or a delivery arrives.
    changed: Condvar,
    changed_lock: Mutex<()>,
    /// Batches this process runs, whose leases the heartbeat renews.
    leases: Mutex<std::collections::HashSet<String>>,
}

impl Scheduler {
    fn picking(&self) -> MutexGuard<'_, ()> {
        self.pick.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn leases(&self) -> MutexGuard<'_, std::collections::HashSet<String>> {
        self.leases.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn summary(&self) -> MutexGuard<'_, RunSummary> {
        self.summary.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn stopped(&self) -> bool {
        self.stopped.load(Ordering::SeqCst)
    }

    fn stop(&self) {
        self.stopped.store(true, Ordering::SeqCst);
        self.wake_all();
    }

    fn fail(&self, error: RuntimeError) {
        let mut first = self.error.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if first.is_none() {
            *first = Some(error);
        }
        drop(first);
        self.stop();
    }

    fn wake_all(&self) {
        let _guard = self.changed_lock.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        self.changed.notify_all();
    }

    /// Waits until woken or `timeout` passes (back-offs end, files arrive).
    fn wait(&self, timeout: Duration) {
        let guard = self.changed_lock.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if self.stopped() {
            return;
        }
        // A wake-up lost between the check and the wait costs one timeout.
        let _ = self.changed.wait_timeout(guard, timeout);
    }
}

/// `host:pid:start`: unique among the workers of a deployment, and readable
/// in the event log and the lease columns.
fn worker_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".to_owned());
    format!("{host}:{}:{}", std::process::id(), now_ms())
}
