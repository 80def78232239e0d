//! The batch lifecycle as a state machine with no I/O in it.
//!
//! A batch moves through the stages of the pipeline one at a time:
//!
//! ```text
//! received ─claim→ validating ─accepted→ accepted ─claim→ ocr_running → … → done
//!                       │                      (pending → running per stage)
//!                       └─rejected→ rejected
//! any running stage ─failed→ pending again (with back-off) until the attempt
//! budget is spent, then <stage>_failed; an operator retry makes it pending.
//! ```
//!
//! [`step`] takes the current [`Batch`], the time and one [`Event`], and returns
//! the next [`Batch`] plus the [`Effect`]s the runtime must carry out. It never
//! reads a clock, a file or a database, so every path through the lifecycle is
//! testable with event transcripts. Persisting the result atomically is the
//! store's job; running the effects is the runtime's.

pub mod documents;
mod machine;

pub use machine::{Batch, BatchState, Effect, Event, InvalidTransition, RetryPolicy, Stage, StageOutcome, step};
