//! Figures of a classifier on labelled documents: accuracy, confusion per
//! type, precision of what a confidence threshold would auto-accept, the
//! share sent to review, and the calibration error.
//!
//! Pure arithmetic over (truth, prediction, confidence) triples, shared by
//! the training summary, the tests and the `classify` bench, so they all
//! count alike. It runs no model itself.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::calibration::{ReliabilityBin, expected_calibration_error, reliability_bins};
use crate::doc_type::DocType;

/// One classified document.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Scored {
    pub truth: DocType,
    pub predicted: DocType,
    pub confidence: f64,
}

/// Precision and recall of one type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TypeFigures {
    pub doc_type: DocType,
    /// Documents of this type.
    pub support: usize,
    /// Documents predicted as this type.
    pub predicted: usize,
    pub correct: usize,
    pub precision: f64,
    pub recall: f64,
}

/// What [`evaluate`] measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    pub documents: usize,
    pub correct: usize,
    pub accuracy: f64,
    pub threshold: f64,
    /// Documents at or above the threshold: filed without review.
    pub auto_accepted: usize,
    pub auto_accepted_correct: usize,
    /// Correct share of the auto-accepted (1.0 when none were).
    pub auto_precision: f64,
    /// Share of documents below the threshold: sent to review.
    pub review_share: f64,
    /// Expected calibration error over 10 equal-width bins.
    pub ece: f64,
    pub reliability: Vec<ReliabilityBin>,
    pub per_type: Vec<TypeFigures>,
    /// truth → predicted → count.
    pub confusion: BTreeMap<DocType, BTreeMap<DocType, usize>>,
}

/// Number of equal-width bins of the reported calibration error.
pub const ECE_BINS: usize = 10;

pub fn evaluate(scored: &[Scored], threshold: f64) -> Evaluation {
    let documents = scored.len();
    let correct = scored.iter().filter(|s| s.truth == s.predicted).count();
    let accepted: Vec<&Scored> = scored.iter().filter(|s| s.confidence >= threshold).collect();
    let accepted_correct = accepted.iter().filter(|s| s.truth == s.predicted).count();
    let pairs: Vec<(f64, bool)> = scored.iter().map(|s| (s.confidence, s.truth == s.predicted)).collect();
    let mut confusion: BTreeMap<DocType, BTreeMap<DocType, usize>> = BTreeMap::new();
    for s in scored {
        *confusion.entry(s.truth).or_default().entry(s.predicted).or_default() += 1;
    }
    let per_type = DocType::ALL
        .into_iter()
        .filter_map(|doc_type| {
            let support = scored.iter().filter(|s| s.truth == doc_type).count();
            let predicted = scored.iter().filter(|s| s.predicted == doc_type).count();
            let hits = scored.iter().filter(|s| s.truth == doc_type && s.predicted == doc_type).count();
            (support + predicted > 0).then(|| TypeFigures {
                doc_type,
                support,
                predicted,
                correct: hits,
                precision: ratio(hits, predicted),
                recall: ratio(hits, support),
            })
        })
        .collect();
    Evaluation {
        documents,
        correct,
        accuracy: ratio(correct, documents),
        threshold,
        auto_accepted: accepted.len(),
        auto_accepted_correct: accepted_correct,
        auto_precision: ratio(accepted_correct, accepted.len()),
        review_share: if documents == 0 { 0.0 } else { (documents - accepted.len()) as f64 / documents as f64 },
        ece: expected_calibration_error(&pairs, ECE_BINS),
        reliability: reliability_bins(&pairs, ECE_BINS),
        per_type,
        confusion,
    }
}

/// The lowest threshold on a 0.01 grid from 0.50 at which the auto-accepted
/// reach `target_precision`, if any does.
pub fn lowest_threshold_for_precision(scored: &[Scored], target_precision: f64) -> Option<f64> {
    (50..=99).map(|hundredths| f64::from(hundredths) / 100.0).find(|&threshold| {
        let evaluation = evaluate(scored, threshold);
        evaluation.auto_accepted > 0 && evaluation.auto_precision >= target_precision
    })
}

/// `part / whole`, 1.0 for an empty whole (nothing claimed, nothing wrong).
fn ratio(part: usize, whole: usize) -> f64 {
    if whole == 0 { 1.0 } else { part as f64 / whole as f64 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_the_auto_accepted_and_the_review_share() {
        let scored = [
            Scored { truth: DocType::Mahnung, predicted: DocType::Mahnung, confidence: 0.99 },
            Scored { truth: DocType::Mahnung, predicted: DocType::Steuerbescheid, confidence: 0.6 },
            Scored { truth: DocType::Steuerbescheid, predicted: DocType::Steuerbescheid, confidence: 0.95 },
            Scored { truth: DocType::Widerspruch, predicted: DocType::Mahnung, confidence: 0.91 },
        ];
        let evaluation = evaluate(&scored, 0.9);
        assert_eq!(evaluation.accuracy, 0.5);
        assert_eq!((evaluation.auto_accepted, evaluation.auto_accepted_correct), (3, 2));
        assert_eq!(evaluation.review_share, 0.25);
        assert_eq!(evaluation.confusion[&DocType::Mahnung][&DocType::Steuerbescheid], 1);
        let mahnung = evaluation.per_type.iter().find(|t| t.doc_type == DocType::Mahnung).unwrap();
        assert_eq!((mahnung.support, mahnung.predicted, mahnung.correct), (2, 2, 1));
        assert_eq!(lowest_threshold_for_precision(&scored, 0.99), Some(0.92));
    }
}
