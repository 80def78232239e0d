//! How training options are chosen: cross-validation on the training set
//! alone, with whole template variants held out, so no figure ever looks at
//! the test set of the `classify` bench.
//!
//! Run: `cargo bench -p scan2dms-benches --bench classify_cv`
//! (the training set is the `classify` bench's, generated once and cached;
//! `SCAN2DMS_CV_ONLY=Bayes,hash` runs the default and the candidates whose
//! names hold one of the words).
//!
//! The templates of each document type are dealt round 5 folds, twice
//! (fold seeds 1 and 2): a fold holds whole layouts out, but never every
//! layout of a type. Each fold's documents are scored by a model trained on
//! the other four folds, on OCR-noised text (the noise of
//! `scan2dms_classify::ocr_noise`, seeded per document). The figures are
//! the share of those documents typed right, and their mean log-loss at
//! temperature 1 (the models are not calibrated here: calibration does not
//! change which type wins). Every candidate sees the same folds.
//!
//! It asserts nothing; it prints one row per candidate and writes
//! `target/bench-results/classify_cv.json`.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use scan2dms_benches::classify_data::{TRAINING, ensure_generated, stable_seed};
use scan2dms_classify::training::{examples_from_truth, read_truth_dir};
use scan2dms_classify::{DocType, Example, FeatureParams, NoiseOptions, TrainOptions, ocr_noise, train};
use serde_json::json;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

const FOLDS: usize = 5;
const FOLD_SEEDS: [u64; 2] = [1, 2];

fn main() -> Result<()> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().ok_or("no workspace")?.to_path_buf();
    let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| workspace.join("target"));
    let generator = workspace.join("../shared/tools/make-deliveries");
    let held_out_templates = workspace.join("benches/templates/classify_heldout.py");
    let data = target.join("bench-data/classify");
    fs::create_dir_all(&data)?;
    let training_dir = ensure_generated(&generator, &data, &TRAINING, &held_out_templates)?;
    let examples = examples_from_truth(&read_truth_dir(&training_dir)?);
    let templates: BTreeSet<&str> = examples.iter().filter_map(|e| e.group.as_deref()).collect();
    println!(
        "training set: {} documents in {} template variants; {FOLDS} template-grouped folds, fold seeds {FOLD_SEEDS:?}",
        examples.len(),
        templates.len()
    );

    let noise = NoiseOptions::default();
    let noisy: Vec<String> = examples
        .iter()
        .enumerate()
        .map(|(index, example)| ocr_noise(&example.text, &noise, stable_seed(&format!("cv/{index}"))))
        .collect();

    let base = TrainOptions { calibration_folds: 0, ..TrainOptions::default() };
    let features = |change: fn(&mut FeatureParams)| {
        let mut options = base.clone();
        change(&mut options.features);
        options
    };
    let training = |change: fn(&mut TrainOptions)| {
        let mut options = base.clone();
        change(&mut options);
        options
    };
    let candidates: Vec<(&str, TrainOptions)> = vec![
        ("default", base.clone()),
        (
            "no subject group",
            features(|f| {
                f.subject_weight = 0.0;
                f.subject_char_weight = 0.0;
            }),
        ),
        ("subject words only", features(|f| f.subject_char_weight = 0.0)),
        (
            "subject weight 2",
            features(|f| {
                f.subject_weight = 2.0;
                f.subject_char_weight = 1.0;
            }),
        ),
        ("top lines weight 0.5", features(|f| f.top_line_weight = 0.5)),
        ("char n-grams 0.25", features(|f| f.char_ngram_weight = 0.25)),
        ("char n-grams 1.0", features(|f| f.char_ngram_weight = 1.0)),
        ("no word bigrams", features(|f| f.word_bigrams = false)),
        ("l2 1e-4", training(|t| t.l2 = 1e-4)),
        ("l2 1e-6", training(|t| t.l2 = 1e-6)),
        ("4 noisy copies", training(|t| t.noisy_copies = 4)),
        ("max group share 0.35", training(|t| t.max_feature_group_share = 0.35)),
        ("6 epochs", training(|t| t.epochs = 6)),
        ("24 epochs", training(|t| t.epochs = 24)),
        ("learning rate 0.15", training(|t| t.learning_rate = 0.15)),
        ("learning rate 0.6", training(|t| t.learning_rate = 0.6)),
        ("8 top lines", features(|f| f.top_lines = 8)),
        ("10 top lines", features(|f| f.top_lines = 10)),
        ("14 top lines", features(|f| f.top_lines = 14)),
        ("averaged SGD", training(|t| t.averaged = true)),
        ("features of 1 layout too", training(|t| t.min_feature_groups = 1)),
        ("hash bits 18", features(|f| f.hash_bits = 18)),
        ("no naive Bayes blend", training(|t| t.bayes_weight = 0.0)),
        ("naive Bayes blend 0.05", training(|t| t.bayes_weight = 0.05)),
        ("naive Bayes blend 0.1", training(|t| t.bayes_weight = 0.1)),
        ("naive Bayes blend 0.5", training(|t| t.bayes_weight = 0.5)),
        ("naive Bayes blend 1", training(|t| t.bayes_weight = 1.0)),
        ("naive Bayes smoothing 1", training(|t| t.bayes_smoothing = 1.0)),
        ("naive Bayes smoothing 0.01", training(|t| t.bayes_smoothing = 0.01)),
    ];

    // `SCAN2DMS_CV_ONLY=word,word` runs the default and the candidates whose
    // names hold one of the words.
    let only = std::env::var("SCAN2DMS_CV_ONLY").unwrap_or_default();
    let wanted = |name: &str| {
        only.is_empty() || name == "default" || only.split(',').any(|word| !word.is_empty() && name.contains(word))
    };
    println!("{:<34} {:>9} {:>9} {:>8}", "candidate", "accuracy", "log-loss", "seconds");
    let mut rows = Vec::new();
    for (name, options) in candidates.iter().filter(|(name, _)| wanted(name)) {
        let started = Instant::now();
        let (correct, total, loss) = cross_validate(&examples, &noisy, options)?;
        let accuracy = correct as f64 / total as f64;
        let log_loss = loss / total as f64;
        let seconds = started.elapsed().as_secs_f64();
        println!("{name:<34} {accuracy:>9.4} {log_loss:>9.4} {seconds:>8.1}");
        rows.push(json!({"candidate": name, "accuracy": accuracy, "log_loss": log_loss, "documents": total,
            "options": options}));
    }
    let results = target.join("bench-results");
    fs::create_dir_all(&results)?;
    let report = json!({"training_set": training_dir, "folds": FOLDS, "fold_seeds": FOLD_SEEDS, "candidates": rows});
    fs::write(results.join("classify_cv.json"), serde_json::to_string_pretty(&report)?)?;
    Ok(())
}

/// Each template's fold: the templates of each type are dealt round the
/// folds from a seeded start, so no fold holds out every layout of a type
/// (which no model could learn) while whole layouts stay together.
fn deal_templates(examples: &[Example], fold_seed: u64) -> BTreeMap<String, usize> {
    let mut by_type: BTreeMap<DocType, BTreeSet<&str>> = BTreeMap::new();
    for example in examples {
        by_type.entry(example.label).or_default().insert(example.group.as_deref().unwrap_or(""));
    }
    let mut folds = BTreeMap::new();
    for (doc_type, templates) in by_type {
        let mut templates: Vec<&str> = templates.into_iter().collect();
        templates.sort_by_key(|template| stable_seed(&format!("{fold_seed}/{template}")));
        let start = stable_seed(&format!("{fold_seed}/{}", doc_type.as_str())) as usize;
        for (index, template) in templates.into_iter().enumerate() {
            folds.insert(template.to_owned(), (start + index) % FOLDS);
        }
    }
    folds
}

/// Right answers, scored documents and summed log-loss over every fold of
/// every fold seed.
fn cross_validate(examples: &[Example], noisy: &[String], options: &TrainOptions) -> Result<(usize, usize, f64)> {
    let (mut correct, mut total, mut loss) = (0, 0, 0.0);
    for fold_seed in FOLD_SEEDS {
        let folds = deal_templates(examples, fold_seed);
        let fold_of = |example: &Example| folds.get(example.group.as_deref().unwrap_or("")).copied().unwrap_or(0);
        for fold in 0..FOLDS {
            let training: Vec<Example> = examples.iter().filter(|e| fold_of(e) != fold).cloned().collect();
            let model = train(&training, options)?;
            for (example, text) in examples.iter().zip(noisy).filter(|(e, _)| fold_of(e) == fold) {
                let prediction = model.classify(text, example.series)?;
                let probability = prediction.ranked.iter().find(|(t, _)| *t == example.label).map_or(0.0, |(_, p)| *p);
                correct += usize::from(prediction.doc_type == example.label);
                total += 1;
                loss -= probability.max(1e-12).ln();
            }
        }
    }
    Ok((correct, total, loss))
}
