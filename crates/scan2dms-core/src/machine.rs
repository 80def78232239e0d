//! States, events, effects and the transition function.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The work a batch goes through, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Fixity, manifests, order lists, image decodability.
    Validate,
    /// Page analysis, document split, OCR.
    Ocr,
    /// Searchable PDF/A e-files with provenance.
    Efile,
    /// Insert into the DMS.
    Push,
    /// Read back from the DMS and compare.
    Verify,
}

impl Stage {
    pub const ALL: [Stage; 5] = [Stage::Validate, Stage::Ocr, Stage::Efile, Stage::Push, Stage::Verify];

    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Validate => "validate",
            Stage::Ocr => "ocr",
            Stage::Efile => "efile",
            Stage::Push => "push",
            Stage::Verify => "verify",
        }
    }

    /// The stage after this one, `None` after the last.
    pub fn next(self) -> Option<Stage> {
        let index = Stage::ALL.iter().position(|&stage| stage == self)?;
        Stage::ALL.get(index + 1).copied()
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Stage {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Stage::ALL
            .into_iter()
            .find(|stage| stage.as_str() == text)
            .ok_or_else(|| format!("unknown stage {text:?} (expected one of validate, ocr, efile, push, verify)"))
    }
}

/// Where a batch stands.
///
/// Names follow the words people use: a batch waiting for validation is
/// `received`, one waiting for OCR is `accepted`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BatchState {
    /// Waiting for a worker to run the stage.
    Pending(Stage),
    /// A worker runs the stage now (or did, when the process died).
    Running(Stage),
    /// The stage failed more often than the retry policy allows; waits for an operator.
    Failed(Stage),
    /// Validation found the delivery invalid; nothing of it goes further.
    Rejected,
    /// Every stage is complete.
    Done,
}

impl BatchState {
    /// The state a newly registered batch starts in.
    pub const RECEIVED: BatchState = BatchState::Pending(Stage::Validate);

    pub fn name(self) -> String {
        match self {
            BatchState::Pending(Stage::Validate) => "received".to_owned(),
            BatchState::Running(Stage::Validate) => "validating".to_owned(),
            BatchState::Failed(Stage::Validate) => "validate_failed".to_owned(),
            BatchState::Pending(Stage::Ocr) => "accepted".to_owned(),
            BatchState::Pending(stage) => format!("{stage}_pending"),
            BatchState::Running(stage) => format!("{stage}_running"),
            BatchState::Failed(stage) => format!("{stage}_failed"),
            BatchState::Rejected => "rejected".to_owned(),
            BatchState::Done => "done".to_owned(),
        }
    }

    /// Every state, in lifecycle order; for listings and parsing.
    pub fn all() -> Vec<BatchState> {
        let mut states = Vec::new();
        for stage in Stage::ALL {
            states.extend([BatchState::Pending(stage), BatchState::Running(stage), BatchState::Failed(stage)]);
        }
        states.extend([BatchState::Rejected, BatchState::Done]);
        states
    }

    /// The stage the state belongs to, if any.
    pub fn stage(self) -> Option<Stage> {
        match self {
            BatchState::Pending(stage) | BatchState::Running(stage) | BatchState::Failed(stage) => Some(stage),
            BatchState::Rejected | BatchState::Done => None,
        }
    }

    /// No worker will touch a batch in this state without an operator.
    pub fn is_settled(self) -> bool {
        matches!(self, BatchState::Failed(_) | BatchState::Rejected | BatchState::Done)
    }

    /// Accepted at validation (whatever happened after).
    pub fn is_accepted(self) -> bool {
        match self {
            BatchState::Done => true,
            BatchState::Rejected => false,
            other => other.stage().is_some_and(|stage| stage > Stage::Validate),
        }
    }
}

impl fmt::Display for BatchState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

impl FromStr for BatchState {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        BatchState::all().into_iter().find(|state| state.name() == text).ok_or_else(|| {
            let names: Vec<String> = BatchState::all().into_iter().map(BatchState::name).collect();
            format!("unknown batch state {text:?} (expected one of {})", names.join(", "))
        })
    }
}

/// A batch as the state machine sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    pub state: BatchState,
    /// Attempts made at the current stage, including a running one.
    pub attempts: u32,
    /// A pending stage is not started before this time (unix milliseconds).
    pub not_before_ms: Option<i64>,
}

impl Batch {
    pub fn received() -> Batch {
        Batch { state: BatchState::RECEIVED, attempts: 0, not_before_ms: None }
    }

    /// A worker may start this batch's stage at `now_ms`.
    pub fn is_runnable(&self, now_ms: i64) -> bool {
        matches!(self.state, BatchState::Pending(_)) && self.not_before_ms.is_none_or(|at| at <= now_ms)
    }
}

/// How a stage ended when it ended well.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StageOutcome {
    /// Validation accepted the delivery (with or without warnings).
    Accepted,
    /// Validation rejected the delivery.
    Rejected,
    /// A processing stage finished its work.
    Completed,
}

/// What can happen to a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A worker starts the pending stage.
    Claimed,
    /// The running stage ended with a result.
    Succeeded(StageOutcome),
    /// The running stage could not finish: I/O error, timeout, remote outage.
    Failed { error: String },
    /// The process died while the stage ran; seen at start-up.
    Interrupted,
    /// An operator asks to run again, from `from` or from the stage that failed.
    RetryRequested { from: Option<Stage> },
}

/// What the runtime must do after a transition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Run this stage's work for the batch, then report back with an event.
    RunStage(Stage),
    /// The acceptance report is final: make it available to the contractor.
    PublishReport,
    /// Wake up no earlier than this to try the pending stage again.
    ScheduleRetry { at_ms: i64 },
    /// Tell the people watching: the batch needs an operator.
    AlertOperator { stage: Stage, error: String },
}

/// How often and how patiently a failing stage is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub backoff_base_ms: i64,
    pub backoff_max_ms: i64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy { max_attempts: 3, backoff_base_ms: 5_000, backoff_max_ms: 300_000 }
    }
}

impl RetryPolicy {
    /// Exponential back-off after the `attempts`-th failure.
    pub fn backoff_ms(&self, attempts: u32) -> i64 {
        let doublings = attempts.saturating_sub(1).min(30);
        self.backoff_base_ms.saturating_mul(1_i64 << doublings).min(self.backoff_max_ms)
    }
}

/// An event that makes no sense in the batch's state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("event {event:?} is not allowed in state {state}")]
pub struct InvalidTransition {
    pub state: BatchState,
    pub event: Event,
}

/// Applies one event to a batch.
pub fn step(
    batch: &Batch,
    now_ms: i64,
    event: &Event,
    policy: &RetryPolicy,
) -> Result<(Batch, Vec<Effect>), InvalidTransition> {
    let invalid = || InvalidTransition { state: batch.state, event: event.clone() };
    let transition = match (batch.state, event) {
        (BatchState::Pending(stage), Event::Claimed) => (
            Batch { state: BatchState::Running(stage), attempts: batch.attempts + 1, not_before_ms: None },
            vec![Effect::RunStage(stage)],
        ),
        (BatchState::Running(Stage::Validate), Event::Succeeded(StageOutcome::Accepted)) => {
            (pending(Stage::Ocr), vec![Effect::PublishReport])
        }
        (BatchState::Running(Stage::Validate), Event::Succeeded(StageOutcome::Rejected)) => (
            Batch { state: BatchState::Rejected, attempts: batch.attempts, not_before_ms: None },
            vec![Effect::PublishReport],
        ),
        (BatchState::Running(stage), Event::Succeeded(StageOutcome::Completed)) if stage != Stage::Validate => {
            match stage.next() {
                Some(next) => (pending(next), Vec::new()),
                None => (Batch { state: BatchState::Done, attempts: 0, not_before_ms: None }, Vec::new()),
            }
        }
        (BatchState::Running(stage), Event::Failed { error }) => fail(batch, stage, now_ms, error, policy),
        (BatchState::Running(stage), Event::Interrupted) => {
            fail(batch, stage, now_ms, "interrupted: the process stopped while the stage ran", policy)
        }
        (BatchState::Failed(failed), Event::RetryRequested { from }) => {
            let stage = from.unwrap_or(failed);
            if stage > failed {
                return Err(invalid());
            }
            (pending(stage), Vec::new())
        }
        // Orders imported late or a limit raised: a rejected batch may be validated again.
        (BatchState::Rejected, Event::RetryRequested { from: None | Some(Stage::Validate) }) => {
            (pending(Stage::Validate), Vec::new())
        }
        (BatchState::Done, &Event::RetryRequested { from: Some(stage) }) if stage != Stage::Validate => {
            (pending(stage), Vec::new())
        }
        _ => return Err(invalid()),
    };
    Ok(transition)
}

fn pending(stage: Stage) -> Batch {
    Batch { state: BatchState::Pending(stage), attempts: 0, not_before_ms: None }
}

fn fail(batch: &Batch, stage: Stage, now_ms: i64, error: &str, policy: &RetryPolicy) -> (Batch, Vec<Effect>) {
    if batch.attempts >= policy.max_attempts {
        let next = Batch { state: BatchState::Failed(stage), attempts: batch.attempts, not_before_ms: None };
        (next, vec![Effect::AlertOperator { stage, error: error.to_owned() }])
    } else {
        let at_ms = now_ms.saturating_add(policy.backoff_ms(batch.attempts));
        let next = Batch { state: BatchState::Pending(stage), attempts: batch.attempts, not_before_ms: Some(at_ms) };
        (next, vec![Effect::ScheduleRetry { at_ms }])
    }
}
