//! The vocabulary every other scan2dms crate speaks: identifiers that only
//! exist when valid, the record series, the reason and warning codes of the
//! delivery contract, and the findings and reports built from them.
//!
//! This crate does no I/O and knows nothing of files, databases or networks.
//! Codes are spelled exactly as in section 3 and 4 of the delivery format; they
//! are a stable interface to the contractor's tooling and must never be
//! renamed.

mod codes;
mod ids;
mod report;

pub use codes::{ReasonCode, WarningCode};
pub use ids::{BatchId, IdError, OrderId, RecordId, Series};
pub use report::{AcceptanceReport, Finding, Outcome};
