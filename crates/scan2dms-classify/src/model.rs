//! The document type model: training, calibration, prediction and its file.
//!
//! Training (`train`) is deterministic for a seed: examples become hashed
//! feature vectors (the clean text plus `noisy_copies` OCR-noised copies),
//! cross-validation yields out-of-fold predictions on noised text, a
//! temperature is fitted on those, and a final model is trained on all
//! examples. The summary of that run travels in the model file.
//!
//! A model is one linear layer: multinomial logistic regression, plus (by
//! default) a quarter of a multinomial naive Bayes model over the same
//! features. Both are linear in the features, so their blend is stored as
//! one set of weights, and the file format does not know it is a blend.
//!
//! Key decision: the calibration folds are drawn twice and pooled
//! ([`CalibrationSplit::Pooled`]): once stratified by type, once keeping
//! each template together, so the temperature reflects both documents that
//! look like the training's and documents of layouts never seen. Real
//! scans will mostly be the second kind.
//!
//! The file is JSON with a `format_version`; weights are the little-endian
//! `f32` bytes of the buckets the training touched, base64-encoded, so a
//! model round-trips bit for bit. Loading a file of another format version
//! is refused with an error naming both versions; no migration is tried.
//!
//! Prediction never fails on odd text: an empty page gives a low-confidence
//! guess that the caller sends to review. It does fail when the model knows
//! no type of the series asked for.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use scan2dms_model::Series;
use serde::{Deserialize, Serialize};

use crate::calibration::{HeldOut, fit_temperature, mean_nll, top};
use crate::doc_type::DocType;
use crate::evaluation::{Scored, evaluate, lowest_threshold_for_precision};
use crate::features::{FeatureParams, SparseVec, extract};
use crate::linear::{DenseLinear, SgdSettings, TrainingRow, softmax_in_place};
use crate::noise::{NoiseOptions, ocr_noise};
use crate::rng::SplitMix64;

/// The model file format this build reads and writes.
pub const FORMAT_VERSION: u32 = 1;
const KIND: &str = "scan2dms-classify/doc-type-model";

/// One labelled document for training.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Example {
    /// The document's text, pages joined by form feed (`\f`).
    pub text: String,
    pub series: Series,
    pub label: DocType,
    /// The example's group (a template, a sender): with
    /// [`CalibrationSplit::Grouped`] or `Pooled`, the examples of one group
    /// are held out together. `None`: a group of its own.
    #[serde(default)]
    pub group: Option<String>,
}

/// How to train; [`TrainOptions::default`] is what the bench measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainOptions {
    pub seed: u64,
    pub features: FeatureParams,
    pub epochs: usize,
    pub learning_rate: f32,
    pub l2: f32,
    /// OCR-like noise for the copies and for the calibration folds; `None`
    /// trains and calibrates on the text as given.
    pub noise: Option<NoiseOptions>,
    /// Noisy copies per example, in addition to the example itself.
    pub noisy_copies: usize,
    /// Folds of the cross-validation that calibrates the confidence; below 2
    /// there is no calibration and the temperature stays 1.
    pub calibration_folds: usize,
    /// How the calibration folds are drawn.
    pub calibration_split: CalibrationSplit,
    /// The precision the suggested threshold aims at on the held-out folds.
    pub target_precision: f64,
    /// A feature is learnt only when it occurs in the training text of at
    /// least this many [`Example::group`]s (layouts); an example without a
    /// group counts as a group of its own. Words only one layout prints (a
    /// sender's address, a form's boilerplate) fit the training set
    /// perfectly and leave the words every layout of a type shares (its
    /// title, its subject matter) under-learnt; new layouts have only the
    /// latter. 1 learns every feature.
    #[serde(default = "one")]
    pub min_feature_groups: usize,
    /// A feature is not learnt when it occurs in the training text of more
    /// than this share of all groups (layouts): words nearly every layout
    /// prints (salutations, "Seite", the city's name) say little about the
    /// type but, being everywhere, take part in every decision. 1 learns
    /// them all.
    #[serde(default = "one_f64")]
    pub max_feature_group_share: f64,
    /// How far to even out the classes: each example's gradient is scaled
    /// by `(mean examples per class / examples of its class)^class_balance`.
    /// 0 counts every example once, 1 gives every class the same total
    /// weight. A common class (the catch-all letters) otherwise pulls
    /// unfamiliar documents of rarer classes to itself.
    #[serde(default)]
    pub class_balance: f32,
    /// Averaged SGD: the weights are the mean of those at the end of each
    /// epoch of the second half of training, not the last ones.
    #[serde(default)]
    pub averaged: bool,
    /// How much of a multinomial naive Bayes model over the same features
    /// is added to the logistic model's logits; 0 leaves it out. Naive
    /// Bayes weighs every word a type's training text shares, where the
    /// logistic model leans on the few that separate the training layouts
    /// best: on a layout never seen the two err differently.
    #[serde(default)]
    pub bayes_weight: f32,
    /// Additive (Lidstone) smoothing of the naive Bayes counts.
    #[serde(default = "default_bayes_smoothing")]
    pub bayes_smoothing: f32,
}

fn default_bayes_smoothing() -> f32 {
    0.1
}

fn one() -> usize {
    1
}

fn one_f64() -> f64 {
    1.0
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions {
            seed: 20_240_306,
            features: FeatureParams::default(),
            epochs: 12,
            learning_rate: 0.3,
            l2: 1e-5,
            noise: Some(NoiseOptions::default()),
            noisy_copies: 2,
            calibration_folds: 3,
            calibration_split: CalibrationSplit::Pooled,
            target_precision: 0.99,
            min_feature_groups: 2,
            // Both chosen by cross-validation on the training set with whole
            // templates held out (5 folds, 2 fold seeds): together accuracy
            // on unseen layouts 0.723 -> 0.746, log-loss 0.905 -> 0.830;
            // averaging did not help and stays off.
            max_feature_group_share: 0.5,
            class_balance: 1.0,
            averaged: false,
            // Chosen the same way (session 6): CV accuracy 0.7385 -> 0.7432,
            // log-loss 0.874 -> 0.869; weights 0.05 to 1 and smoothing 0.01
            // and 1 were tried (benches/README.md).
            bayes_weight: 0.25,
            bayes_smoothing: default_bayes_smoothing(),
        }
    }
}

/// How the cross-validation that fits the temperature splits the examples.
///
/// Out-of-fold predictions are only as honest as the split: documents of a
/// template the fold's model trained on are easy, documents of an unseen
/// template are not. `Stratified` calibrates for familiar layouts
/// (overconfident on new ones), `Grouped` for layouts the model never saw
/// (underconfident on familiar ones, and pessimistic, since a fold then
/// lacks a third of a type's layouts). `Pooled` fits one temperature on the
/// predictions of both splits: the default, for a pipeline that will meet
/// both kinds of documents in unknown proportion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CalibrationSplit {
    /// Folds stratified by label; examples dealt one by one.
    Stratified,
    /// Folds stratified by label that keep each [`Example::group`] together.
    Grouped,
    /// Both of the above, their out-of-fold predictions pooled.
    Pooled,
}

/// What a training run did and measured; stored in the model file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainingSummary {
    pub trained_by: String,
    pub seed: u64,
    pub examples: usize,
    pub examples_per_label: BTreeMap<DocType, usize>,
    pub epochs: usize,
    pub learning_rate: f32,
    pub l2: f32,
    pub noise: Option<NoiseOptions>,
    pub noisy_copies: usize,
    /// [`TrainOptions::min_feature_groups`]; model files from before it
    /// learnt every feature.
    #[serde(default = "one")]
    pub min_feature_groups: usize,
    /// [`TrainOptions::max_feature_group_share`]; 1 for older model files.
    #[serde(default = "one_f64")]
    pub max_feature_group_share: f64,
    /// [`TrainOptions::class_balance`]; 0 for older model files.
    #[serde(default)]
    pub class_balance: f32,
    /// [`TrainOptions::averaged`]; false for older model files.
    #[serde(default)]
    pub averaged: bool,
    /// [`TrainOptions::bayes_weight`]; 0 for older model files.
    #[serde(default)]
    pub bayes_weight: f32,
    /// [`TrainOptions::bayes_smoothing`].
    #[serde(default = "default_bayes_smoothing")]
    pub bayes_smoothing: f32,
    pub active_buckets: usize,
    pub calibration: Option<CalibrationSummary>,
}

/// Out-of-fold figures of the cross-validation that fitted the temperature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalibrationSummary {
    pub split: CalibrationSplit,
    /// Folds per split.
    pub folds: usize,
    /// Documents predicted out of fold.
    pub documents: usize,
    /// Out-of-fold predictions: `documents` per split.
    pub predictions: usize,
    pub accuracy: f64,
    pub nll_before: f64,
    pub nll_after: f64,
    pub ece_before: f64,
    pub ece_after: f64,
    pub target_precision: f64,
    /// Lowest threshold (0.01 grid) whose out-of-fold auto-accepted reach
    /// `target_precision`; `None` when none does.
    pub suggested_threshold: Option<f64>,
}

/// Why training could not start.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TrainError {
    #[error("no training examples")]
    NoExamples,
    #[error("example {index} is labelled {label}, which a {series} record cannot hold")]
    LabelNotInSeries { index: usize, label: DocType, series: Series },
    #[error("invalid feature parameters: {0}")]
    BadFeatureParams(String),
    #[error("invalid training options: {0}")]
    BadOptions(String),
}

/// Why a model file could not be read, written or used.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("cannot read model file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("cannot write model file {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error("{origin} is not a document type model: {source}")]
    Json { origin: String, source: serde_json::Error },
    #[error("{origin} has model format version {found}, this build reads version {supported}")]
    FormatVersion { origin: String, found: String, supported: u32 },
    #[error("{origin} is damaged: {reason}")]
    Invalid { origin: String, reason: String },
}

/// Why a document could not be classified.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ClassifyError {
    #[error("the model knows no document type of the {0} series")]
    NoLabelsForSeries(Series),
}

/// A classification: the best type, its calibrated probability, and all
/// candidate types of the series, most probable first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    pub doc_type: DocType,
    /// Calibrated probability of `doc_type`, in `[0, 1]`.
    pub confidence: f64,
    pub ranked: Vec<(DocType, f64)>,
}

impl Prediction {
    /// Whether the prediction may be filed without review at `threshold`.
    pub fn is_confident(&self, threshold: f64) -> bool {
        self.confidence >= threshold
    }
}

/// A trained, calibrated document type classifier.
#[derive(Clone)]
pub struct Model {
    labels: Vec<DocType>,
    features: FeatureParams,
    temperature: f64,
    bias: Vec<f32>,
    /// Per bucket: 0 when untouched, else 1 + its row in `rows`.
    row_of_bucket: Vec<u32>,
    /// Active buckets ascending, and their weights (`labels.len()` each).
    active_buckets: Vec<u32>,
    rows: Vec<f32>,
    summary: TrainingSummary,
}

impl std::fmt::Debug for Model {
    /// A summary: the weights are megabytes of numbers.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model")
            .field("labels", &self.labels)
            .field("temperature", &self.temperature)
            .field("hash_bits", &self.features.hash_bits)
            .field("active_buckets", &self.active_buckets.len())
            .field("trained_by", &self.summary.trained_by)
            .finish_non_exhaustive()
    }
}

impl Model {
    /// Classifies one document's text (pages joined by form feed) among the
    /// types a record of `series` can hold.
    pub fn classify(&self, text: &str, series: Series) -> Result<Prediction, ClassifyError> {
        let candidates = self.candidates(series);
        if candidates.is_empty() {
            return Err(ClassifyError::NoLabelsForSeries(series));
        }
        let features = extract(text, &self.features);
        let mut probabilities = self.logits(&features, &candidates);
        for p in probabilities.iter_mut() {
            *p /= self.temperature;
        }
        softmax_in_place(&mut probabilities);
        let mut ranked: Vec<(DocType, f64)> =
            candidates.iter().zip(&probabilities).map(|(&class, &p)| (self.labels[class], p)).collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let (doc_type, confidence) = ranked[0];
        Ok(Prediction { doc_type, confidence, ranked })
    }

    /// The types this model was trained on.
    pub fn labels(&self) -> &[DocType] {
        &self.labels
    }

    pub fn temperature(&self) -> f64 {
        self.temperature
    }

    pub fn feature_params(&self) -> &FeatureParams {
        &self.features
    }

    pub fn training_summary(&self) -> &TrainingSummary {
        &self.summary
    }

    /// The model as the JSON of its file.
    pub fn to_json(&self) -> String {
        let mut bytes = Vec::with_capacity(self.rows.len() * 4);
        for value in &self.rows {
            bytes.extend_from_slice(&value.to_le_bytes());
        }
        let file = ModelFile {
            format_version: FORMAT_VERSION,
            kind: KIND.to_owned(),
            labels: self.labels.clone(),
            features: self.features.clone(),
            temperature: self.temperature,
            bias: self.bias.clone(),
            weights: WeightsFile { active_buckets: self.active_buckets.clone(), f32_le_base64: BASE64.encode(bytes) },
            training: self.summary.clone(),
        };
        // Serialising plain data with string keys cannot fail.
        serde_json::to_string(&file).unwrap_or_default()
    }

    /// Reads a model from the JSON of its file.
    pub fn from_json(json: &str) -> Result<Model, ModelError> {
        Self::parse(json, "model JSON")
    }

    pub fn save(&self, path: &Path) -> Result<(), ModelError> {
        std::fs::write(path, self.to_json()).map_err(|source| ModelError::Write { path: path.to_owned(), source })
    }

    pub fn load(path: &Path) -> Result<Model, ModelError> {
        let json =
            std::fs::read_to_string(path).map_err(|source| ModelError::Read { path: path.to_owned(), source })?;
        Self::parse(&json, &format!("model file {}", path.display()))
    }

    fn parse(json: &str, origin: &str) -> Result<Model, ModelError> {
        let json_error = |source| ModelError::Json { origin: origin.to_owned(), source };
        let probe: VersionProbe = serde_json::from_str(json).map_err(json_error)?;
        if probe.kind.as_deref() != Some(KIND) {
            return Err(ModelError::Invalid {
                origin: origin.to_owned(),
                reason: match probe.kind {
                    Some(kind) => format!("kind is {kind:?}, expected {KIND:?}"),
                    None => format!("kind is missing, expected {KIND:?}"),
                },
            });
        }
        if probe.format_version != Some(FORMAT_VERSION) {
            return Err(ModelError::FormatVersion {
                origin: origin.to_owned(),
                found: probe.format_version.map_or_else(|| "(none)".to_owned(), |v| v.to_string()),
                supported: FORMAT_VERSION,
            });
        }
        let file: ModelFile = serde_json::from_str(json).map_err(json_error)?;
        let invalid = |reason: String| ModelError::Invalid { origin: origin.to_owned(), reason };
        file.features.validate().map_err(invalid)?;
        let classes = file.labels.len();
        if classes == 0 {
            return Err(invalid("no labels".to_owned()));
        }
        if file.labels.windows(2).any(|w| w[0] >= w[1]) {
            return Err(invalid("labels are not sorted and distinct".to_owned()));
        }
        if file.bias.len() != classes {
            return Err(invalid(format!("{} biases for {classes} labels", file.bias.len())));
        }
        if !(file.temperature.is_finite() && file.temperature > 0.0) {
            return Err(invalid(format!("temperature {} is not positive", file.temperature)));
        }
        let buckets = file.features.bucket_count();
        let active = &file.weights.active_buckets;
        if active.windows(2).any(|w| w[0] >= w[1]) || active.last().is_some_and(|&b| b as usize >= buckets) {
            return Err(invalid("active buckets are not ascending or exceed the hash space".to_owned()));
        }
        let bytes = BASE64
            .decode(file.weights.f32_le_base64.as_bytes())
            .map_err(|error| invalid(format!("weights are not base64: {error}")))?;
        if bytes.len() != active.len() * classes * 4 {
            return Err(invalid(format!(
                "{} weight bytes for {} buckets × {classes} labels",
                bytes.len(),
                active.len()
            )));
        }
        let rows: Vec<f32> = bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
        if rows.iter().chain(&file.bias).any(|w| !w.is_finite()) {
            return Err(invalid("a weight is not finite".to_owned()));
        }
        let mut row_of_bucket = vec![0u32; buckets];
        for (row, &bucket) in active.iter().enumerate() {
            row_of_bucket[bucket as usize] = row as u32 + 1;
        }
        Ok(Model {
            labels: file.labels,
            features: file.features,
            temperature: file.temperature,
            bias: file.bias,
            row_of_bucket,
            active_buckets: file.weights.active_buckets,
            rows,
            summary: file.training,
        })
    }

    fn candidates(&self, series: Series) -> Vec<usize> {
        self.labels.iter().enumerate().filter(|(_, label)| label.in_series(series)).map(|(i, _)| i).collect()
    }

    fn logits(&self, features: &SparseVec, candidates: &[usize]) -> Vec<f64> {
        let classes = self.labels.len();
        let mut scores: Vec<f64> = candidates.iter().map(|&class| f64::from(self.bias[class])).collect();
        for (bucket, value) in features.iter() {
            let row = self.row_of_bucket[bucket];
            if row == 0 {
                continue;
            }
            let base = (row as usize - 1) * classes;
            for (score, &class) in scores.iter_mut().zip(candidates) {
                *score += f64::from(self.rows[base + class] * value);
            }
        }
        scores
    }

    fn from_dense(
        labels: Vec<DocType>,
        features: FeatureParams,
        dense: DenseLinear,
        temperature: f64,
        summary: TrainingSummary,
    ) -> Model {
        let classes = labels.len();
        let buckets = features.bucket_count();
        let mut row_of_bucket = vec![0u32; buckets];
        let mut active_buckets = Vec::new();
        let mut rows = Vec::new();
        for (bucket, weights) in dense.weights.chunks_exact(classes).enumerate() {
            if weights.iter().any(|&w| w != 0.0) {
                active_buckets.push(bucket as u32);
                rows.extend_from_slice(weights);
                row_of_bucket[bucket] = active_buckets.len() as u32;
            }
        }
        let summary = TrainingSummary { active_buckets: active_buckets.len(), ..summary };
        Model { labels, features, temperature, bias: dense.bias, row_of_bucket, active_buckets, rows, summary }
    }
}

/// Trains and calibrates a model; the same examples and options give the
/// same model, bit for bit.
pub fn train(examples: &[Example], options: &TrainOptions) -> Result<Model, TrainError> {
    if examples.is_empty() {
        return Err(TrainError::NoExamples);
    }
    options.features.validate().map_err(TrainError::BadFeatureParams)?;
    let rate_ok = options.learning_rate.is_finite() && options.learning_rate > 0.0;
    let l2_ok = options.l2.is_finite() && options.l2 >= 0.0;
    if options.epochs == 0 || !rate_ok || !l2_ok {
        return Err(TrainError::BadOptions("epochs and learning rate must be positive, l2 not negative".to_owned()));
    }
    if !(options.class_balance.is_finite() && (0.0..=1.0).contains(&options.class_balance)) {
        return Err(TrainError::BadOptions(format!("class_balance {} is outside 0..=1", options.class_balance)));
    }
    if !(options.bayes_weight.is_finite() && options.bayes_weight >= 0.0) {
        return Err(TrainError::BadOptions(format!(
            "bayes_weight {} is negative or not a number",
            options.bayes_weight
        )));
    }
    if !(options.bayes_smoothing.is_finite() && options.bayes_smoothing > 0.0) {
        return Err(TrainError::BadOptions(format!("bayes_smoothing {} is not positive", options.bayes_smoothing)));
    }
    let share = options.max_feature_group_share;
    if !(share.is_finite() && share > 0.0 && share <= 1.0) {
        return Err(TrainError::BadOptions(format!("max_feature_group_share {share} is outside (0, 1]")));
    }
    for (index, example) in examples.iter().enumerate() {
        if !example.label.in_series(example.series) {
            return Err(TrainError::LabelNotInSeries { index, label: example.label, series: example.series });
        }
    }
    let mut labels: Vec<DocType> = examples.iter().map(|e| e.label).collect();
    labels.sort_unstable();
    labels.dedup();
    let class_of = |label: DocType| labels.iter().position(|&l| l == label).unwrap_or(0);
    let candidates_of = |series: Series| -> Vec<usize> {
        labels.iter().enumerate().filter(|(_, l)| l.in_series(series)).map(|(i, _)| i).collect()
    };
    let candidates = [candidates_of(Series::Personnel), candidates_of(Series::Tax)];
    // Per class: the gradient scale that evens the classes out as far as
    // `class_balance` asks. Computed on all examples (not per fold): it
    // depends on label counts only, which a fold barely changes.
    let mut class_counts = vec![0usize; labels.len()];
    for example in examples {
        class_counts[class_of(example.label)] += 1;
    }
    let mean_count = examples.len() as f64 / labels.len() as f64;
    let class_weight: Vec<f32> = class_counts
        .iter()
        .map(|&count| (mean_count / count.max(1) as f64).powf(f64::from(options.class_balance)) as f32)
        .collect();
    let candidates_for = |series: Series| match series {
        Series::Personnel => &candidates[0],
        Series::Tax => &candidates[1],
    };

    // Every example's training vectors: the text itself and its noisy copies.
    let copies = if options.noise.is_some() { options.noisy_copies } else { 0 };
    let variants: Vec<Vec<SparseVec>> = examples
        .iter()
        .enumerate()
        .map(|(index, example)| {
            let mut vectors = vec![extract(&example.text, &options.features)];
            if let Some(noise) = &options.noise {
                for copy in 0..copies {
                    let seed = SplitMix64::derive(options.seed, (index as u64) << 8 | copy as u64).next_u64();
                    vectors.push(extract(&ocr_noise(&example.text, noise, seed), &options.features));
                }
            }
            vectors
        })
        .collect();
    let rows_of = |indices: &[usize]| -> Vec<TrainingRow<'_>> {
        indices
            .iter()
            .flat_map(|&i| {
                let example = &examples[i];
                let target = class_of(example.label);
                let weight = class_weight[target];
                variants[i].iter().map(move |features| TrainingRow {
                    features,
                    candidates: candidates_for(example.series),
                    target,
                    weight,
                })
            })
            .collect()
    };
    let settings = SgdSettings {
        epochs: options.epochs,
        learning_rate: options.learning_rate,
        l2: options.l2,
        seed: SplitMix64::derive(options.seed, 1).next_u64(),
        averaged: options.averaged,
    };
    let buckets = options.features.bucket_count();

    let calibration = if options.calibration_folds >= 2 && examples.len() >= options.calibration_folds {
        let usable_in = |indices: &[usize]| shared_features(examples, &variants, indices, options, buckets);
        Some(cross_validate(examples, options, &labels, &rows_of, &usable_in, &candidates_for, &class_of, settings))
    } else {
        None
    };
    let temperature = calibration.as_ref().map_or(1.0, |c| c.1);

    let all: Vec<usize> = (0..examples.len()).collect();
    let usable = shared_features(examples, &variants, &all, options, buckets);
    let dense = fit(&rows_of(&all), labels.len(), buckets, usable.as_deref(), settings, options);
    let mut examples_per_label = BTreeMap::new();
    for example in examples {
        *examples_per_label.entry(example.label).or_insert(0) += 1;
    }
    let summary = TrainingSummary {
        trained_by: concat!(env!("CARGO_PKG_NAME"), " ", env!("CARGO_PKG_VERSION")).to_owned(),
        seed: options.seed,
        examples: examples.len(),
        examples_per_label,
        epochs: options.epochs,
        learning_rate: options.learning_rate,
        l2: options.l2,
        noise: options.noise.clone(),
        noisy_copies: copies,
        min_feature_groups: options.min_feature_groups,
        max_feature_group_share: options.max_feature_group_share,
        class_balance: options.class_balance,
        averaged: options.averaged,
        bayes_weight: options.bayes_weight,
        bayes_smoothing: options.bayes_smoothing,
        active_buckets: 0,
        calibration: calibration.map(|c| c.0),
    };
    Ok(Model::from_dense(labels, options.features.clone(), dense, temperature, summary))
}

/// The logistic model on `rows`, with naive Bayes blended in as far as
/// `options.bayes_weight` asks.
fn fit(
    rows: &[TrainingRow<'_>],
    classes: usize,
    buckets: usize,
    usable: Option<&[bool]>,
    settings: SgdSettings,
    options: &TrainOptions,
) -> DenseLinear {
    let mut model = DenseLinear::train(rows, classes, buckets, usable, settings);
    if options.bayes_weight > 0.0 {
        let bayes = DenseLinear::naive_bayes(rows, classes, buckets, usable, options.bayes_smoothing);
        model.add_scaled(&bayes, options.bayes_weight);
    }
    model
}

/// Cross-validation: out-of-fold logits on (noised) held-out text, the
/// fitted temperature and the figures before and after it.
#[allow(clippy::too_many_arguments, reason = "the training closures it shares with `train`, each named")]
fn cross_validate<'a>(
    examples: &[Example],
    options: &TrainOptions,
    labels: &[DocType],
    rows_of: &dyn Fn(&[usize]) -> Vec<TrainingRow<'a>>,
    usable_in: &dyn Fn(&[usize]) -> Option<Vec<bool>>,
    candidates_for: &dyn Fn(Series) -> &'a Vec<usize>,
    class_of: &dyn Fn(DocType) -> usize,
    settings: SgdSettings,
) -> (CalibrationSummary, f64) {
    let folds = options.calibration_folds;
    let groupings: &[bool] = match options.calibration_split {
        CalibrationSplit::Stratified => &[false],
        CalibrationSplit::Grouped => &[true],
        CalibrationSplit::Pooled => &[false, true],
    };
    let buckets = options.features.bucket_count();
    let mut held_out: Vec<HeldOut> = Vec::new();
    let mut truths: Vec<(DocType, &[usize])> = Vec::new();
    for (split_index, &grouped) in groupings.iter().enumerate() {
        let fold_of = assign_folds(examples, labels, folds, grouped, options.seed ^ split_index as u64);
        for fold in 0..folds {
            let train_indices: Vec<usize> = (0..examples.len()).filter(|&i| fold_of[i] != fold).collect();
            let usable = usable_in(&train_indices);
            let dense = fit(&rows_of(&train_indices), labels.len(), buckets, usable.as_deref(), settings, options);
            let mut scores = Vec::new();
            for (index, example) in examples.iter().enumerate().filter(|(i, _)| fold_of[*i] == fold) {
                let text = match &options.noise {
                    Some(noise) => {
                        let stream = ((0xFEED + split_index as u64) << 32) | index as u64;
                        ocr_noise(&example.text, noise, SplitMix64::derive(options.seed, stream).next_u64())
                    }
                    None => example.text.clone(),
                };
                let candidates = candidates_for(example.series);
                dense.scores_into(&extract(&text, &options.features), candidates, &mut scores);
                let target = candidates.iter().position(|&c| c == class_of(example.label)).unwrap_or(0);
                held_out.push(HeldOut { logits: scores.clone(), target });
                truths.push((example.label, candidates.as_slice()));
            }
        }
    }
    let temperature = fit_temperature(&held_out);
    let scored_at = |t: f64| -> Vec<Scored> {
        held_out
            .iter()
            .zip(&truths)
            .map(|(item, (truth, candidates))| {
                let (best, confidence) = top(&item.logits, t);
                Scored { truth: *truth, predicted: labels[candidates[best]], confidence }
            })
            .collect()
    };
    let before = scored_at(1.0);
    let after = scored_at(temperature);
    let evaluation_before = evaluate(&before, 0.5);
    let evaluation_after = evaluate(&after, 0.5);
    let summary = CalibrationSummary {
        split: options.calibration_split,
        folds,
        documents: examples.len(),
        predictions: held_out.len(),
        accuracy: evaluation_after.accuracy,
        nll_before: mean_nll(&held_out, 1.0),
        nll_after: mean_nll(&held_out, temperature),
        ece_before: evaluation_before.ece,
        ece_after: evaluation_after.ece,
        target_precision: options.target_precision,
        suggested_threshold: lowest_threshold_for_precision(&after, options.target_precision),
    };
    (summary, temperature)
}

/// Which buckets the clean text of at least `min_feature_groups` and at
/// most `max_feature_group_share` of the groups among `indices` sets;
/// `None` when every bucket may be learnt. Computed on the examples a model
/// trains on only, so cross-validation stays honest.
fn shared_features(
    examples: &[Example],
    variants: &[Vec<SparseVec>],
    indices: &[usize],
    options: &TrainOptions,
    buckets: usize,
) -> Option<Vec<bool>> {
    let min_groups = options.min_feature_groups;
    if min_groups <= 1 && options.max_feature_group_share >= 1.0 {
        return None;
    }
    // Per bucket: how many groups set it and the
    // last group counted, so a group's many documents count once. Indices
    // are visited group by group for that.
    let mut by_group: BTreeMap<(Option<&str>, usize), Vec<usize>> = BTreeMap::new();
    for &index in indices {
        let group = examples[index].group.as_deref();
        by_group.entry((group, if group.is_some() { 0 } else { index })).or_default().push(index);
    }
    let mut groups_seen = vec![0usize; buckets];
    let mut last_group = vec![usize::MAX; buckets];
    for (group_number, members) in by_group.values().enumerate() {
        for &index in members {
            let Some(clean) = variants[index].first() else { continue };
            for (bucket, _) in clean.iter() {
                if last_group[bucket] != group_number {
                    last_group[bucket] = group_number;
                    groups_seen[bucket] += 1;
                }
            }
        }
    }
    // The most groups a learnt feature may occur in; never below
    // `min_groups`, so a tiny training set keeps some features.
    let max_groups = ((options.max_feature_group_share * by_group.len() as f64).floor() as usize).max(min_groups);
    Some(groups_seen.into_iter().map(|seen| seen >= min_groups && seen <= max_groups).collect())
}

/// The fold of every example: stratified by label (each label's examples,
/// or groups, dealt round-robin into the folds in a seeded order), keeping
/// each [`Example::group`] together when `grouped`.
fn assign_folds(examples: &[Example], labels: &[DocType], folds: usize, grouped: bool, seed: u64) -> Vec<usize> {
    let mut rng = SplitMix64::derive(seed, 2);
    let mut fold_of = vec![0usize; examples.len()];
    let mut next_fold = 0;
    for &label in labels {
        let mut groups: Vec<Vec<usize>> = Vec::new();
        let mut slot_of_group: BTreeMap<&str, usize> = BTreeMap::new();
        for (i, example) in examples.iter().enumerate().filter(|(_, e)| e.label == label) {
            match example.group.as_deref().filter(|_| grouped) {
                Some(name) => {
                    let slot = *slot_of_group.entry(name).or_insert_with(|| {
                        groups.push(Vec::new());
                        groups.len() - 1
                    });
                    groups[slot].push(i);
                }
                None => groups.push(vec![i]),
            }
        }
        rng.shuffle(&mut groups);
        for group in groups {
            for i in group {
                fold_of[i] = next_fold;
            }
            next_fold = (next_fold + 1) % folds;
        }
    }
    fold_of
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ModelFile {
    format_version: u32,
    kind: String,
    labels: Vec<DocType>,
    features: FeatureParams,
    temperature: f64,
    bias: Vec<f32>,
    weights: WeightsFile,
    training: TrainingSummary,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WeightsFile {
    /// Buckets with any non-zero weight, ascending.
    active_buckets: Vec<u32>,
    /// `active_buckets.len() × labels.len()` little-endian f32, bucket-major.
    f32_le_base64: String,
}

#[derive(Debug, Deserialize)]
struct VersionProbe {
    format_version: Option<u32>,
    kind: Option<String>,
}
