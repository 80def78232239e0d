//! Work leases: which worker runs a batch, and until when.
//!
//! A running batch belongs to the worker that claimed it for as long as its
//! lease lasts; the worker renews it while it works. When a worker dies (or
//! a whole host), its lease runs out and another worker may interrupt the
//! batch and claim it again. A claim bumps the batch's attempts, so the stale
//! worker's late transition fails the compare-and-set instead of overwriting
//! the new run.
//!
//! The rules for which batch a worker gets next live here once, as SQL both
//! adapters run, so SQLite and PostgreSQL cannot drift apart on them. What
//! the claim changes is the state machine's business: the store calls back
//! into it ([`ClaimRequest::claim`]) with the batch locked.

use std::fmt;

use scan2dms_core::{Batch, BatchState, Stage};

use crate::types::{BatchRow, NewEvent, StoreError};

/// A running batch's owner. Only a batch in a running state has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub worker_id: String,
    /// Unix milliseconds; after this another worker may take the batch over.
    pub expires_ms: i64,
}

/// What a worker asks [`StateStore::claim_next`](crate::StateStore::claim_next) for.
pub struct ClaimRequest<'a> {
    /// Stages this worker runs.
    pub stages: &'a [Stage],
    pub worker_id: &'a str,
    pub lease_until_ms: i64,
    /// The state machine's step for a claim: the running batch and the event to log.
    pub claim: &'a ClaimStep<'a>,
}

/// The state machine's step for a claim, given the batch as stored; an
/// `Err` says why it cannot start. A callback rather than a value because
/// the batch is only known, and locked, inside the store's transaction.
pub type ClaimStep<'a> = dyn Fn(&BatchRow) -> Result<(Batch, NewEvent), String> + Sync + 'a;

impl fmt::Debug for ClaimRequest<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClaimRequest")
            .field("stages", &self.stages)
            .field("worker_id", &self.worker_id)
            .field("lease_until_ms", &self.lease_until_ms)
            .finish_non_exhaustive()
    }
}

/// The condition a batch (`b`) meets to be claimed: pending in one of
/// `stages` and due at `now_param`, and neither of the two waits that
/// keep a due batch back:
/// - validations run one at a time, in registration order, so the first
///   delivery of a record is the one accepted, even when an earlier
///   batch's validation was cut short and runs again;
/// - a push waits while any of the batch's documents awaits a reviewer,
///   since nothing of a batch is filed until every document has its type.
///
/// `None` when there is nothing to claim. State names come from the
/// state machine, never from input, so they are written into the SQL.
pub(crate) fn claimable_condition(stages: &[Stage], now_param: &str) -> Option<String> {
    if stages.is_empty() {
        return None;
    }
    let pending = state_list(stages.iter().map(|&stage| BatchState::Pending(stage)));
    let received = literal(BatchState::Pending(Stage::Validate));
    let validations = state_list([BatchState::Pending(Stage::Validate), BatchState::Running(Stage::Validate)]);
    let push_pending = literal(BatchState::Pending(Stage::Push));
    Some(format!(
        "b.state IN ({pending})
         AND (b.not_before_ms IS NULL OR b.not_before_ms <= {now_param})
         AND NOT (b.state = {received} AND EXISTS (
             SELECT 1 FROM batches e WHERE e.seq < b.seq AND e.state IN ({validations})))
         AND NOT (b.state = {push_pending} AND EXISTS (
             SELECT 1 FROM documents d
             WHERE d.batch_id = b.batch_id AND d.needs_review AND d.review_doc_type IS NULL))"
    ))
}

/// The running states as an SQL list, for `state IN (...)`: the states a lease belongs to.
pub(crate) fn running_states() -> String {
    state_list(Stage::ALL.into_iter().map(BatchState::Running))
}

/// Checks what the state machine made of a claim before it is written: a
/// claim starts a run, and it logs to the claimed batch's record only.
pub(crate) fn check_claim(row: &BatchRow, running: &Batch, event: &NewEvent) -> Result<(), StoreError> {
    let refused = |reason: String| Err(StoreError::ClaimRefused { batch_id: row.batch_id.clone(), reason });
    if !matches!(running.state, BatchState::Running(_)) {
        return refused(format!("the claim step left it {}, not running", running.state));
    }
    if event.batch_id != row.batch_id {
        return refused(format!("the claim step logged to batch {}", event.batch_id));
    }
    Ok(())
}

fn literal(state: BatchState) -> String {
    format!("'{}'", state.name())
}

fn state_list(states: impl IntoIterator<Item = BatchState>) -> String {
    states.into_iter().map(literal).collect::<Vec<_>>().join(", ")
}
