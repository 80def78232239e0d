//! Multinomial logistic regression over sparse hashed features, trained by
//! AdaGrad stochastic gradient descent with L2 regularisation.
//!
//! Key decisions:
//! - The softmax runs over the candidate classes of each example only (the
//!   types its series can hold), in training as in prediction, so the model
//!   never spends capacity telling a tax notice from a job application.
//! - AdaGrad per coordinate: rare, telling features (a title word) get large
//!   steps, frequent ones small; no learning-rate schedule to tune.
//! - The L2 term is applied to the coordinates an example touches, when it
//!   touches them (the usual sparse approximation); untouched buckets stay
//!   exactly zero, which keeps the model file small. Examples the model
//!   already fits (every probability within 0.001 of its target) are
//!   skipped, so later epochs cost little more than a prediction.
//! - One thread, a seeded shuffle: the same input gives bit-identical weights.
//!
//! Weights are stored bucket-major (`weights[bucket * classes + class]`), so
//! one feature's weights for all classes sit together.

use crate::features::SparseVec;
use crate::rng::SplitMix64;

#[derive(Debug, Clone)]
pub(crate) struct DenseLinear {
    pub(crate) classes: usize,
    pub(crate) weights: Vec<f32>,
    pub(crate) bias: Vec<f32>,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct TrainingRow<'a> {
    pub(crate) features: &'a SparseVec,
    /// Class indices the softmax runs over.
    pub(crate) candidates: &'a [usize],
    /// The true class; one of `candidates`.
    pub(crate) target: usize,
    /// Scales the row's gradient: 1 for a plain example; more or less to
    /// count an example of a rare or common class more or less.
    pub(crate) weight: f32,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct SgdSettings {
    pub(crate) epochs: usize,
    pub(crate) learning_rate: f32,
    pub(crate) l2: f32,
    pub(crate) seed: u64,
    /// Return the mean of the weights at the end of each epoch of the second
    /// half instead of the last ones (tail-averaged SGD): the last epochs'
    /// steps chase single examples, their mean is smoother and leans less on
    /// any one layout's words.
    pub(crate) averaged: bool,
}

const ADAGRAD_EPSILON: f32 = 1e-6;
/// An example whose every class probability is within this of its target
/// is fitted: its (vanishing) update is skipped, which makes the later
/// epochs cheap. Its L2 shrinkage is skipped with it.
const FITTED: f32 = 1e-3;

impl DenseLinear {
    /// Fits the model to `rows`. Buckets where `usable` is false keep a
    /// zero weight: the model may not lean on them.
    pub(crate) fn train(
        rows: &[TrainingRow<'_>],
        classes: usize,
        buckets: usize,
        usable: Option<&[bool]>,
        settings: SgdSettings,
    ) -> Self {
        let mut model = DenseLinear { classes, weights: vec![0.0; buckets * classes], bias: vec![0.0; classes] };
        let mut squared = vec![0.0f32; buckets * classes];
        let mut bias_squared = vec![0.0f32; classes];
        let mut order: Vec<usize> = (0..rows.len()).collect();
        let mut rng = SplitMix64::new(settings.seed);
        let mut scores: Vec<f64> = Vec::with_capacity(classes);
        let mut gradient: Vec<f32> = Vec::with_capacity(classes);
        let rate = settings.learning_rate;
        // Epochs from this one on are averaged (when `averaged`): the second half.
        let first_averaged = settings.epochs / 2;
        let mut sum_weights: Vec<f32> = Vec::new();
        let mut sum_bias = vec![0.0f32; classes];
        for epoch in 0..settings.epochs {
            rng.shuffle(&mut order);
            for &row_index in &order {
                let row = rows[row_index];
                model.scores_into(row.features, row.candidates, &mut scores);
                softmax_in_place(&mut scores);
                gradient.clear();
                gradient.extend(
                    row.candidates
                        .iter()
                        .zip(&scores)
                        .map(|(&class, &p)| (p - f64::from(u8::from(class == row.target))) as f32),
                );
                if gradient.iter().all(|g| g.abs() < FITTED) {
                    continue;
                }
                for g in gradient.iter_mut() {
                    *g *= row.weight;
                }
                for (&class, &g) in row.candidates.iter().zip(&gradient) {
                    bias_squared[class] += g * g;
                    model.bias[class] -= rate * g / (bias_squared[class].sqrt() + ADAGRAD_EPSILON);
                }
                for (bucket, value) in row.features.iter() {
                    if usable.is_some_and(|usable| !usable[bucket]) {
                        continue;
                    }
                    let base = bucket * classes;
                    for (&class, &g) in row.candidates.iter().zip(&gradient) {
                        let at = base + class;
                        let step = g * value + settings.l2 * model.weights[at];
                        squared[at] += step * step;
                        model.weights[at] -= rate * step / (squared[at].sqrt() + ADAGRAD_EPSILON);
                    }
                }
            }
            if settings.averaged && epoch >= first_averaged {
                if sum_weights.is_empty() {
                    sum_weights = vec![0.0; model.weights.len()];
                }
                for (sum, &w) in sum_weights.iter_mut().zip(&model.weights) {
                    *sum += w;
                }
                for (sum, &b) in sum_bias.iter_mut().zip(&model.bias) {
                    *sum += b;
                }
            }
        }
        if settings.averaged {
            let snapshots = (settings.epochs - first_averaged) as f32;
            // A bucket never touched sums to exactly 0 and stays 0, so the
            // model file stays as small as without averaging.
            model.weights = sum_weights.into_iter().map(|sum| sum / snapshots).collect();
            model.bias = sum_bias.into_iter().map(|sum| sum / snapshots).collect();
        }
        model
    }

    /// Multinomial naive Bayes over the same rows, written as a linear model
    /// so it can be blended into a trained one ([`DenseLinear::add_scaled`]).
    ///
    /// A bucket's weight for a class is the log of its smoothed share of
    /// the class's feature mass (rows weighted by [`TrainingRow::weight`]),
    /// centred over the classes; the bias is the log of the class's share of
    /// all mass, centred too. Centring changes no decision (a constant per
    /// bucket shifts every class alike) and keeps the weights on the scale
    /// of the logistic model's. Buckets no row touches, and buckets where
    /// `usable` is false, stay zero: an unseen word says nothing, as in the
    /// logistic model. Hashing gives each feature a sign; a bucket is
    /// counted in the sign its mass mostly has, and its weights carry that
    /// sign, so the product with a feature value is the log-probability.
    pub(crate) fn naive_bayes(
        rows: &[TrainingRow<'_>],
        classes: usize,
        buckets: usize,
        usable: Option<&[bool]>,
        smoothing: f32,
    ) -> Self {
        let mut mass = vec![0.0f64; buckets * classes];
        for row in rows {
            for (bucket, value) in row.features.iter() {
                if usable.is_some_and(|usable| !usable[bucket]) {
                    continue;
                }
                mass[bucket * classes + row.target] += f64::from(row.weight * value);
            }
        }
        // Per bucket: its sign, and whether any row touched it.
        let sign: Vec<Option<f64>> = mass
            .chunks_exact(classes)
            .map(|masses| {
                let net: f64 = masses.iter().sum();
                masses.iter().any(|&m| m != 0.0).then_some(if net < 0.0 { -1.0 } else { 1.0 })
            })
            .collect();
        let vocabulary = sign.iter().flatten().count() as f64;
        let alpha = f64::from(smoothing);
        let mut class_mass = vec![0.0f64; classes];
        for (bucket, masses) in mass.chunks_exact_mut(classes).enumerate() {
            let Some(sign) = sign[bucket] else { continue };
            for (class, m) in masses.iter_mut().enumerate() {
                // Mass of the other sign (a colliding feature) counts as none.
                *m = (*m * sign).max(0.0);
                class_mass[class] += *m;
            }
        }
        let mut weights = vec![0.0f32; buckets * classes];
        let mut log_share = vec![0.0f64; classes];
        for (bucket, masses) in mass.chunks_exact(classes).enumerate() {
            let Some(sign) = sign[bucket] else { continue };
            for (class, share) in log_share.iter_mut().enumerate() {
                *share = ((masses[class] + alpha) / (class_mass[class] + alpha * vocabulary)).ln();
            }
            let mean = log_share.iter().sum::<f64>() / classes as f64;
            for (class, share) in log_share.iter().enumerate() {
                weights[bucket * classes + class] = (sign * (share - mean)) as f32;
            }
        }
        let total: f64 = class_mass.iter().sum();
        let log_prior: Vec<f64> =
            class_mass.iter().map(|&m| ((m + alpha) / (total + alpha * classes as f64)).ln()).collect();
        let mean_prior = log_prior.iter().sum::<f64>() / classes as f64;
        let bias = log_prior.iter().map(|&p| (p - mean_prior) as f32).collect();
        DenseLinear { classes, weights, bias }
    }

    /// Adds `scale` times `other`'s weights and bias to this model's: the
    /// blend's logits are this model's plus `scale` times `other`'s.
    pub(crate) fn add_scaled(&mut self, other: &DenseLinear, scale: f32) {
        for (weight, &add) in self.weights.iter_mut().zip(&other.weights) {
            *weight += scale * add;
        }
        for (bias, &add) in self.bias.iter_mut().zip(&other.bias) {
            *bias += scale * add;
        }
    }

    /// Raw scores (logits) of the candidate classes, in candidate order.
    pub(crate) fn scores_into(&self, features: &SparseVec, candidates: &[usize], out: &mut Vec<f64>) {
        out.clear();
        out.extend(candidates.iter().map(|&class| f64::from(self.bias[class])));
        for (bucket, value) in features.iter() {
            let base = bucket * self.classes;
            for (score, &class) in out.iter_mut().zip(candidates) {
                *score += f64::from(self.weights[base + class] * value);
            }
        }
    }
}

/// Softmax of `scores`, in place, numerically stable.
pub(crate) fn softmax_in_place(scores: &mut [f64]) {
    let max = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut sum = 0.0;
    for score in scores.iter_mut() {
        *score = (*score - max).exp();
        sum += *score;
    }
    if sum > 0.0 {
        for score in scores.iter_mut() {
            *score /= sum;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vector(pairs: &[(u32, f32)]) -> SparseVec {
        SparseVec { indices: pairs.iter().map(|p| p.0).collect(), values: pairs.iter().map(|p| p.1).collect() }
    }

    #[test]
    fn learns_a_separable_problem_within_its_candidates() {
        let a = vector(&[(1, 1.0)]);
        let b = vector(&[(2, 1.0)]);
        let c = vector(&[(3, 0.7), (1, 0.7)]);
        let all = [0usize, 1, 2];
        let two = [0usize, 2];
        let rows = [
            TrainingRow { features: &a, candidates: &all, target: 0, weight: 1.0 },
            TrainingRow { features: &b, candidates: &all, target: 1, weight: 1.0 },
            TrainingRow { features: &c, candidates: &two, target: 2, weight: 1.0 },
        ];
        let settings = SgdSettings { epochs: 50, learning_rate: 0.5, l2: 1e-4, seed: 1, averaged: false };
        let model = DenseLinear::train(&rows, 3, 8, None, settings);
        let mut scores = Vec::new();
        for row in rows {
            model.scores_into(row.features, row.candidates, &mut scores);
            let best = scores.iter().enumerate().max_by(|x, y| x.1.total_cmp(y.1)).map(|(i, _)| row.candidates[i]);
            assert_eq!(best, Some(row.target));
        }
        // Class 1 was never a candidate next to class 2; bucket 3 says nothing about it.
        assert_eq!(model.weights[3 * 3 + 1], 0.0);
        let again = DenseLinear::train(&rows, 3, 8, None, settings);
        assert_eq!(model.weights, again.weights);
    }

    #[test]
    fn averaged_weights_still_separate_and_a_zero_weight_row_teaches_nothing() {
        let a = vector(&[(1, 1.0)]);
        let b = vector(&[(2, 1.0)]);
        let c = vector(&[(3, 1.0)]);
        let all = [0usize, 1];
        let rows = [
            TrainingRow { features: &a, candidates: &all, target: 0, weight: 1.0 },
            TrainingRow { features: &b, candidates: &all, target: 1, weight: 1.0 },
            // Weighted 0: bucket 3 must stay untouched.
            TrainingRow { features: &c, candidates: &all, target: 0, weight: 0.0 },
        ];
        let plain = SgdSettings { epochs: 20, learning_rate: 0.5, l2: 1e-4, seed: 1, averaged: false };
        let averaged = SgdSettings { averaged: true, ..plain };
        let last = DenseLinear::train(&rows, 2, 8, None, plain);
        let mean = DenseLinear::train(&rows, 2, 8, None, averaged);
        let mut scores = Vec::new();
        for row in &rows[..2] {
            mean.scores_into(row.features, row.candidates, &mut scores);
            let best = if scores[0] > scores[1] { 0 } else { 1 };
            assert_eq!(best, row.target);
        }
        assert_eq!(&mean.weights[3 * 2..4 * 2], &[0.0, 0.0]);
        assert_eq!(&last.weights[3 * 2..4 * 2], &[0.0, 0.0]);
        // The mean of the later epochs trails the last weights, which only grow here.
        assert!(mean.weights[2] > 0.0 && mean.weights[2] < last.weights[2], "{} {}", mean.weights[2], last.weights[2]);
    }

    #[test]
    fn naive_bayes_prefers_the_class_whose_words_a_document_shares() {
        // Bucket 1 belongs to class 0, bucket 2 to class 1; bucket 3 is
        // shared; bucket 4 carries a negative hash sign; bucket 5 is unusable.
        let a = vector(&[(1, 0.8), (3, 0.6)]);
        let b = vector(&[(2, 0.8), (3, 0.6), (4, -0.5)]);
        let c = vector(&[(5, 1.0)]);
        let all = [0usize, 1];
        let rows = [
            TrainingRow { features: &a, candidates: &all, target: 0, weight: 1.0 },
            TrainingRow { features: &b, candidates: &all, target: 1, weight: 1.0 },
            TrainingRow { features: &c, candidates: &all, target: 0, weight: 1.0 },
        ];
        let usable = [true, true, true, true, true, false, true, true];
        let model = DenseLinear::naive_bayes(&rows, 2, 8, Some(&usable), 0.1);
        let mut scores = Vec::new();
        for (features, expected) in [(&a, 0), (&b, 1), (&vector(&[(4, -1.0)]), 1)] {
            model.scores_into(features, &all, &mut scores);
            let best = if scores[0] > scores[1] { 0 } else { 1 };
            assert_eq!(best, expected, "{scores:?}");
        }
        // Untouched and unusable buckets say nothing; weights are centred.
        assert_eq!(&model.weights[5 * 2..8 * 2], &[0.0; 6]);
        assert_eq!(&model.weights[0..2], &[0.0, 0.0]);
        for bucket in 1..5 {
            let pair = &model.weights[bucket * 2..bucket * 2 + 2];
            assert!((pair[0] + pair[1]).abs() < 1e-6, "bucket {bucket}: {pair:?}");
        }
        assert!((model.bias[0] + model.bias[1]).abs() < 1e-6);
    }

    #[test]
    fn a_blend_scores_as_the_sum_of_its_parts() {
        let a = vector(&[(1, 1.0)]);
        let b = vector(&[(2, 1.0)]);
        let all = [0usize, 1];
        let rows = [
            TrainingRow { features: &a, candidates: &all, target: 0, weight: 1.0 },
            TrainingRow { features: &b, candidates: &all, target: 1, weight: 1.0 },
        ];
        let settings = SgdSettings { epochs: 10, learning_rate: 0.5, l2: 1e-4, seed: 3, averaged: false };
        let logistic = DenseLinear::train(&rows, 2, 4, None, settings);
        let bayes = DenseLinear::naive_bayes(&rows, 2, 4, None, 0.5);
        let mut blend = logistic.clone();
        blend.add_scaled(&bayes, 0.25);
        let probe = vector(&[(1, 0.6), (2, 0.8)]);
        let (mut x, mut y, mut z) = (Vec::new(), Vec::new(), Vec::new());
        logistic.scores_into(&probe, &all, &mut x);
        bayes.scores_into(&probe, &all, &mut y);
        blend.scores_into(&probe, &all, &mut z);
        for class in 0..2 {
            assert!((z[class] - (x[class] + 0.25 * y[class])).abs() < 1e-5);
        }
    }

    #[test]
    fn softmax_sums_to_one_even_for_huge_scores() {
        let mut scores = [1000.0, 999.0, -1000.0];
        softmax_in_place(&mut scores);
        assert!((scores.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!(scores[0] > scores[1] && scores[2] == 0.0);
    }
}
