//! The exactly-once push: find or create, over any [`DmsTarget`].
//!
//! A DMS offers no idempotency key, so "exactly once" rests on our own key
//! stored in an index field (the external id of a document, the record id of
//! a folder, the name of a register) and on one rule: never insert without
//! having searched in the same round. An insert whose answer got lost (a
//! timeout, a broken connection, a 5xx) may have been committed, so the next
//! round searches again before it inserts again. Transient failures are tried
//! again with exponential back-off and jitter, up to the policy's attempts;
//! anything else fails at once, with what the server said.
//!
//! Sleeping is injected (`sleep`), so tests run the whole algorithm without
//! waiting; production passes [`thread_sleep`].
//!
//! What this does not do: it does not guard against another caller creating
//! the same object between our search and our insert (the runtime pushes one
//! record from one thread), and it cannot see an insert the server carries
//! out after our second search (a request still running at the server long
//! after the client gave up). Either leaves two objects with one key, which
//! the next search reports as [`PushError::Duplicate`], never silently.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::path::Path;
use std::time::Duration;

use crate::{ContentDigest, DmsError, DmsTarget, DocumentSpec, FolderSpec, ObjectId, RegisterSpec};

/// How transient failures are tried again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Rounds in all, the first included; at least one is always made.
    pub max_attempts: u32,
    /// Back-off after the first failure; it doubles with each further one.
    pub base_delay: Duration,
    /// Upper bound of the back-off.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy { max_attempts: 6, base_delay: Duration::from_millis(500), max_delay: Duration::from_secs(30) }
    }
}

impl RetryPolicy {
    /// The back-off after the `failures`-th failure (1-based), before jitter.
    pub fn backoff(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(30);
        self.base_delay.saturating_mul(1_u32 << doublings).min(self.max_delay)
    }

    /// The back-off with "equal jitter": uniform in `[backoff / 2, backoff]`,
    /// drawn from `random`, so callers that failed together spread out.
    pub fn backoff_with_jitter(&self, failures: u32, random: u64) -> Duration {
        let full = self.backoff(failures);
        let half = full / 2;
        let spread_nanos = u64::try_from((full - half).as_nanos()).unwrap_or(u64::MAX);
        let jitter = if spread_nanos == 0 { 0 } else { random % (spread_nanos + 1) };
        half + Duration::from_nanos(jitter)
    }
}

/// One document to push into an existing folder or register.
#[derive(Debug, Clone, Copy)]
pub struct PushRequest<'a> {
    pub parent: &'a ObjectId,
    pub document: &'a DocumentSpec,
    /// The file to upload (the e-file).
    pub content: &'a Path,
}

/// Where the object is, and whether this call created it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushOutcome {
    pub object_id: ObjectId,
    /// True when the object did not exist when this call started: either the
    /// insert answered, or its answer was lost and a later search found it.
    pub created: bool,
}

/// Why a push or a verification did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// More than one object carries the key: someone must decide which stays.
    #[error("{what}: found {} objects ({}), expected at most one", ids.len(), join_ids(ids))]
    Duplicate { what: String, ids: Vec<ObjectId> },
    /// Transient failures until the attempts ran out; worth a later retry.
    #[error("{what}: gave up after {attempts} attempts: {source}")]
    Exhausted {
        what: String,
        attempts: u32,
        #[source]
        source: DmsError,
    },
    /// A failure that another try would not mend (rejected, unauthorized,
    /// unreadable answer or content).
    #[error("{what}: {source}")]
    Failed {
        what: String,
        #[source]
        source: DmsError,
    },
    /// The content read back differs from what was uploaded.
    #[error(
        "object {object_id}: read-back content has sha256 {actual_sha256} and {actual_length} bytes, \
         expected sha256 {expected_sha256} and {expected_length} bytes"
    )]
    Mismatch {
        object_id: ObjectId,
        expected_sha256: String,
        expected_length: u64,
        actual_sha256: String,
        actual_length: u64,
    },
}

impl PushError {
    /// The DMS error behind this one, if any.
    pub fn dms_error(&self) -> Option<&DmsError> {
        match self {
            PushError::Exhausted { source, .. } | PushError::Failed { source, .. } => Some(source),
            PushError::Duplicate { .. } | PushError::Mismatch { .. } => None,
        }
    }
}

/// The sleeper for production: blocks the calling thread.
pub fn thread_sleep(duration: Duration) {
    std::thread::sleep(duration);
}

/// Finds the folder by its key or creates it.
pub fn ensure_folder(
    target: &dyn DmsTarget,
    folder: &FolderSpec,
    policy: &RetryPolicy,
    sleep: &dyn Fn(Duration),
) -> Result<PushOutcome, PushError> {
    let what = format!("folder with key {:?}", folder.key);
    find_or_create(&what, &|| target.find_folder(folder), &|| target.create_folder(folder), policy, sleep)
}

/// Finds the register by its name inside the folder or creates it there.
pub fn ensure_register(
    target: &dyn DmsTarget,
    folder_id: &ObjectId,
    register: &RegisterSpec,
    policy: &RetryPolicy,
    sleep: &dyn Fn(Duration),
) -> Result<PushOutcome, PushError> {
    let what = format!("register {:?} in folder {folder_id}", register.name);
    find_or_create(
        &what,
        &|| target.find_register(folder_id, register),
        &|| target.create_register(folder_id, register),
        policy,
        sleep,
    )
}

/// Files a document exactly once: reuses the one object with its external
/// id, or inserts it.
pub fn push_document(
    target: &dyn DmsTarget,
    request: &PushRequest<'_>,
    policy: &RetryPolicy,
    sleep: &dyn Fn(Duration),
) -> Result<PushOutcome, PushError> {
    let what = format!("document with external id {:?}", request.document.external_id);
    find_or_create(
        &what,
        &|| target.find_document(&request.document.external_id),
        &|| target.insert_document(request.parent, request.document, request.content),
        policy,
        sleep,
    )
}

/// Reads the object's content back and compares its SHA-256 and length with
/// what was uploaded. Returns the digest read.
pub fn verify(
    target: &dyn DmsTarget,
    object_id: &ObjectId,
    expected_sha256: &str,
    expected_length: u64,
    policy: &RetryPolicy,
    sleep: &dyn Fn(Duration),
) -> Result<ContentDigest, PushError> {
    let what = format!("content of object {object_id}");
    let digest = with_retries(&what, &|| target.fetch_content(object_id), policy, sleep)?;
    if digest.sha256.eq_ignore_ascii_case(expected_sha256) && digest.length == expected_length {
        Ok(digest)
    } else {
        Err(PushError::Mismatch {
            object_id: object_id.clone(),
            expected_sha256: expected_sha256.to_ascii_lowercase(),
            expected_length,
            actual_sha256: digest.sha256,
            actual_length: digest.length,
        })
    }
}

/// The target's health check, retried like every other request: a DMS that
/// answers one 503 is not down.
pub fn check_health(
    target: &dyn DmsTarget,
    policy: &RetryPolicy,
    sleep: &dyn Fn(Duration),
) -> Result<crate::Health, PushError> {
    with_retries("health check", &|| target.health(), policy, sleep)
}

/// The one loop behind every find-or-create. A round searches, and inserts
/// only when that search found nothing; a transient failure anywhere in the
/// round ends it, and the next round starts with a search again.
fn find_or_create(
    what: &str,
    find: &dyn Fn() -> Result<Vec<ObjectId>, DmsError>,
    create: &dyn Fn() -> Result<ObjectId, DmsError>,
    policy: &RetryPolicy,
    sleep: &dyn Fn(Duration),
) -> Result<PushOutcome, PushError> {
    let mut failures = 0_u32;
    let mut insert_sent = false;
    loop {
        let error = match find() {
            Ok(ids) if ids.len() > 1 => return Err(PushError::Duplicate { what: what.to_owned(), ids }),
            Ok(mut ids) if ids.len() == 1 => {
                let object_id = ids.remove(0);
                if insert_sent {
                    tracing::info!(what, object_id = %object_id, "found the object an unanswered insert created");
                }
                return Ok(PushOutcome { object_id, created: insert_sent });
            }
            Ok(_) => {
                insert_sent = true;
                match create() {
                    Ok(object_id) => return Ok(PushOutcome { object_id, created: true }),
                    Err(error) => error,
                }
            }
            Err(error) => error,
        };
        failures = back_off_or_give_up(what, error, failures, policy, sleep)?;
    }
}

fn with_retries<T>(
    what: &str,
    call: &dyn Fn() -> Result<T, DmsError>,
    policy: &RetryPolicy,
    sleep: &dyn Fn(Duration),
) -> Result<T, PushError> {
    let mut failures = 0_u32;
    loop {
        match call() {
            Ok(value) => return Ok(value),
            Err(error) => failures = back_off_or_give_up(what, error, failures, policy, sleep)?,
        }
    }
}

/// Sleeps before the next round and returns the new failure count, or ends
/// the loop with the error.
fn back_off_or_give_up(
    what: &str,
    error: DmsError,
    failures: u32,
    policy: &RetryPolicy,
    sleep: &dyn Fn(Duration),
) -> Result<u32, PushError> {
    if !error.is_transient() {
        return Err(PushError::Failed { what: what.to_owned(), source: error });
    }
    let failures = failures + 1;
    if failures >= policy.max_attempts.max(1) {
        return Err(PushError::Exhausted { what: what.to_owned(), attempts: failures, source: error });
    }
    let delay = policy.backoff_with_jitter(failures, random_u64());
    tracing::debug!(what, failures, delay_ms = delay.as_millis(), error = %error, "transient dms failure, trying again");
    sleep(delay);
    Ok(failures)
}

/// A random number for jitter, from the standard library's per-instance
/// random hash keys; no need for a generator crate.
fn random_u64() -> u64 {
    RandomState::new().build_hasher().finish()
}

fn join_ids(ids: &[ObjectId]) -> String {
    ids.iter().map(ObjectId::as_str).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_and_jitter_stays_in_the_upper_half() {
        let policy = RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(700),
        };
        let delays: Vec<u128> = (1..=5).map(|failures| policy.backoff(failures).as_millis()).collect();
        assert_eq!(delays, [100, 200, 400, 700, 700]);
        for random in [0, 1, 12_345, u64::MAX] {
            let delay = policy.backoff_with_jitter(3, random);
            assert!(delay >= Duration::from_millis(200) && delay <= Duration::from_millis(400), "{delay:?}");
        }
        assert_eq!(RetryPolicy { base_delay: Duration::ZERO, ..policy }.backoff_with_jitter(2, 99), Duration::ZERO);
    }
}
