//! Temperature scaling and the expected calibration error.
//!
//! Key decision: one scalar temperature `T`, fitted on predictions for
//! documents the model did not train on (out-of-fold), dividing every logit
//! before the softmax. It keeps the ranking (and so the accuracy) and only
//! bends the confidence so that "0.9" means right nine times in ten. The
//! negative log-likelihood is convex in `1/T`, so a golden-section search
//! finds the optimum without gradients.
//!
//! It does not fix a model that is wrong with confidence on a kind of
//! document it never saw; only more varied training data does that.

use crate::linear::softmax_in_place;

/// Logits of one held-out prediction and the index of the true class among them.
#[derive(Debug, Clone)]
pub(crate) struct HeldOut {
    pub(crate) logits: Vec<f64>,
    pub(crate) target: usize,
}

const INVERSE_TEMPERATURE_RANGE: (f64, f64) = (0.02, 50.0);

/// The temperature minimising the negative log-likelihood of `held_out`.
pub(crate) fn fit_temperature(held_out: &[HeldOut]) -> f64 {
    if held_out.is_empty() {
        return 1.0;
    }
    // Golden-section search on ln(1/T): the scale spans orders of magnitude.
    let (mut low, mut high) = (INVERSE_TEMPERATURE_RANGE.0.ln(), INVERSE_TEMPERATURE_RANGE.1.ln());
    let ratio = (5f64.sqrt() - 1.0) / 2.0;
    let loss = |log_beta: f64| mean_nll(held_out, 1.0 / log_beta.exp());
    let mut left = high - ratio * (high - low);
    let mut right = low + ratio * (high - low);
    let (mut left_loss, mut right_loss) = (loss(left), loss(right));
    for _ in 0..80 {
        if left_loss <= right_loss {
            high = right;
            right = left;
            right_loss = left_loss;
            left = high - ratio * (high - low);
            left_loss = loss(left);
        } else {
            low = left;
            left = right;
            left_loss = right_loss;
            right = low + ratio * (high - low);
            right_loss = loss(right);
        }
    }
    1.0 / ((low + high) / 2.0).exp()
}

/// Mean negative log-likelihood of the true classes at `temperature`.
pub(crate) fn mean_nll(held_out: &[HeldOut], temperature: f64) -> f64 {
    if held_out.is_empty() {
        return 0.0;
    }
    let mut total = 0.0;
    let mut probabilities = Vec::new();
    for item in held_out {
        probabilities.clear();
        probabilities.extend(item.logits.iter().map(|z| z / temperature));
        softmax_in_place(&mut probabilities);
        total -= probabilities[item.target].max(1e-300).ln();
    }
    total / held_out.len() as f64
}

/// The top class and its probability at `temperature`.
pub(crate) fn top(logits: &[f64], temperature: f64) -> (usize, f64) {
    let mut probabilities: Vec<f64> = logits.iter().map(|z| z / temperature).collect();
    softmax_in_place(&mut probabilities);
    probabilities.iter().copied().enumerate().max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0))).unwrap_or((0, 0.0))
}

/// Expected calibration error of (confidence, correct) pairs over `bins`
/// equal-width confidence bins: the mean, weighted by bin size, of
/// |accuracy − mean confidence| per bin.
pub fn expected_calibration_error(predictions: &[(f64, bool)], bins: usize) -> f64 {
    reliability_bins(predictions, bins)
        .iter()
        .map(|bin| bin.count as f64 * (bin.accuracy - bin.mean_confidence).abs())
        .sum::<f64>()
        / predictions.len().max(1) as f64
}

/// One bin of a reliability diagram.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ReliabilityBin {
    pub lower: f64,
    pub upper: f64,
    pub count: usize,
    pub mean_confidence: f64,
    pub accuracy: f64,
}

/// The non-empty bins of a reliability diagram with `bins` equal-width bins.
pub fn reliability_bins(predictions: &[(f64, bool)], bins: usize) -> Vec<ReliabilityBin> {
    let bins = bins.max(1);
    let mut sums = vec![(0usize, 0.0f64, 0usize); bins];
    for &(confidence, correct) in predictions {
        let index = ((confidence * bins as f64) as usize).min(bins - 1);
        sums[index].0 += 1;
        sums[index].1 += confidence;
        sums[index].2 += usize::from(correct);
    }
    sums.into_iter()
        .enumerate()
        .filter(|(_, (count, _, _))| *count > 0)
        .map(|(i, (count, confidence, correct))| ReliabilityBin {
            lower: i as f64 / bins as f64,
            upper: (i + 1) as f64 / bins as f64,
            count,
            mean_confidence: confidence / count as f64,
            accuracy: correct as f64 / count as f64,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::SplitMix64;

    #[test]
    fn recovers_the_temperature_that_made_the_data() {
        // Draw labels from softmax(z / 2.5): the fit must find T near 2.5.
        let mut rng = SplitMix64::new(11);
        let mut held_out = Vec::new();
        for _ in 0..4000 {
            let logits: Vec<f64> = (0..4).map(|_| rng.next_f64() * 12.0 - 6.0).collect();
            let mut p: Vec<f64> = logits.iter().map(|z| z / 2.5).collect();
            softmax_in_place(&mut p);
            let draw = rng.next_f64();
            let mut cumulative = 0.0;
            let target = p.iter().position(|pi| {
                cumulative += pi;
                draw < cumulative
            });
            held_out.push(HeldOut { logits, target: target.unwrap_or(3) });
        }
        let fitted = fit_temperature(&held_out);
        assert!((fitted - 2.5).abs() < 0.25, "{fitted}");
        assert!(mean_nll(&held_out, fitted) <= mean_nll(&held_out, 1.0));
    }

    #[test]
    fn ece_is_zero_when_confidence_matches_accuracy() {
        let calibrated: Vec<(f64, bool)> = (0..10).map(|i| (0.75, i != 3)).collect();
        // 9 of 10 right at 0.75 confidence: off by 0.15.
        assert!((expected_calibration_error(&calibrated, 10) - 0.15).abs() < 1e-12);
        let perfect = [(1.0, true), (0.5, true), (0.5, false)];
        assert!(expected_calibration_error(&perfect, 10) < 1e-12);
    }
}
