//! The acceptance report: what the contractor's tooling reads for each batch.
//!
//! The JSON shape is a published interface (`batch_id`, `outcome`,
//! `reasons`, `warnings`, each finding with `code`, optional `record_id`,
//! `file`, `page_no`, and `detail`); fields may be added, never renamed.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::codes::{ReasonCode, WarningCode};

/// The verdict on one delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Accepted,
    AcceptedWithWarnings,
    Rejected,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Accepted => "accepted",
            Outcome::AcceptedWithWarnings => "accepted_with_warnings",
            Outcome::Rejected => "rejected",
        }
    }
}

/// One thing found wrong (or worth a look) in a delivery.
///
/// `C` is [`ReasonCode`] or [`WarningCode`]. Location fields are filled as far
/// as they are known: a checksum mismatch knows its file but not its record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding<C> {
    pub code: C,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_no: Option<u32>,
    pub detail: String,
}

impl<C> Finding<C> {
    pub fn new(code: C, detail: impl Into<String>) -> Self {
        Finding { code, record_id: None, file: None, page_no: None, detail: detail.into() }
    }

    pub fn record(mut self, record_id: impl Into<String>) -> Self {
        self.record_id = Some(record_id.into());
        self
    }

    pub fn file(mut self, file: impl Into<String>) -> Self {
        self.file = Some(file.into());
        self
    }

    pub fn page(mut self, page_no: u32) -> Self {
        self.page_no = Some(page_no);
        self
    }
}

/// The full verdict on a delivery, with every reason found, not just the first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AcceptanceReport {
    pub batch_id: String,
    pub outcome: Outcome,
    pub reasons: Vec<Finding<ReasonCode>>,
    pub warnings: Vec<Finding<WarningCode>>,
}

impl AcceptanceReport {
    /// Builds the report; the outcome follows from what was found.
    pub fn new(
        batch_id: impl Into<String>,
        reasons: Vec<Finding<ReasonCode>>,
        warnings: Vec<Finding<WarningCode>>,
    ) -> Self {
        let outcome = if !reasons.is_empty() {
            Outcome::Rejected
        } else if !warnings.is_empty() {
            Outcome::AcceptedWithWarnings
        } else {
            Outcome::Accepted
        };
        AcceptanceReport { batch_id: batch_id.into(), outcome, reasons, warnings }
    }

    pub fn is_accepted(&self) -> bool {
        self.outcome != Outcome::Rejected
    }
}

impl fmt::Display for AcceptanceReport {
    /// The readable rendering for the contractor: verdict first, then one line
    /// per finding with where it was found.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = match self.outcome {
            Outcome::Accepted => "ACCEPTED",
            Outcome::AcceptedWithWarnings => "ACCEPTED WITH WARNINGS",
            Outcome::Rejected => "REJECTED",
        };
        writeln!(f, "batch {}: {verdict}", self.batch_id)?;
        write_findings(f, "reasons", &self.reasons)?;
        write_findings(f, "warnings", &self.warnings)
    }
}

fn write_findings<C: fmt::Display>(f: &mut fmt::Formatter<'_>, heading: &str, findings: &[Finding<C>]) -> fmt::Result {
    if findings.is_empty() {
        return Ok(());
    }
    writeln!(f, "{heading} ({}):", findings.len())?;
    for finding in findings {
        write!(f, "  - {}", finding.code)?;
        let mut place = Vec::new();
        if let Some(record_id) = &finding.record_id {
            place.push(format!("record {record_id}"));
        }
        if let Some(page_no) = finding.page_no {
            place.push(format!("page {page_no}"));
        }
        if let Some(file) = &finding.file {
            place.push(format!("file {file}"));
        }
        if !place.is_empty() {
            write!(f, " [{}]", place.join(", "))?;
        }
        writeln!(f, ": {}", finding.detail)?;
    }
    Ok(())
}
