//! Document type classification on generated deliveries: accuracy, the
//! confusion per type, precision of what a confidence threshold would file
//! without review, the share sent to review, and the calibration error;
//! with segmentation figures on the same documents.
//!
//! Run: `cargo bench -p scan2dms-benches --bench classify`
//! (`SCAN2DMS_BENCH_THRESHOLD`, default 0.90: the auto-accept threshold).
//!
//! Data, generated once with `../shared/tools/make-deliveries` and cached in
//! `target/bench-data/classify/` (a `.complete` marker beside each set holds
//! its command; delete it to regenerate):
//! - training: seed 1001, 48 batches × 8 records, built-in templates only;
//! - test: seed 2002, 10 batches × 8 records, with
//!   `benches/templates/classify_heldout.py` loaded: one more template
//!   variant per document type and series (18, named `heldout-…`, weight 2),
//!   which the training set never contains. About 40 % of the test
//!   documents use them; figures are given for all, for the built-in
//!   ("seen") and for the held-out ("unseen") variants;
//! - a second test set, made the same way with seed 4004, scored on real
//!   OCR only: how much of the first set's figure is the seed's luck.
//!
//! The classifier sees the truth text of each document (content pages, no
//! separator sheets or blank backs) after `scan2dms_classify::ocr_noise`
//! with its default options (about 7 % character errors), seeded per
//! document. That is a proxy; figures on the clean text are given for
//! comparison. Then the real thing: the test deliveries go through the
//! release binary (`run --stages validate,ocr` with the trained model, a few
//! minutes of OCR) and the types it gave the documents of accepted batches
//! are scored the same way, then those of the second test set
//! (`SCAN2DMS_BENCH_REAL_OCR=0` skips both).
//!
//! The model is trained with `TrainOptions::default()` (pooled calibration:
//! stratified and template-grouped folds). A second model, identical but for
//! its temperature fitted on stratified folds only, shows what calibrating
//! for familiar layouts alone would give.
//!
//! It asserts nothing; it prints tables and writes
//! `target/bench-results/classify.json` (and the trained model to
//! `target/bench-data/classify/model.json`).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use scan2dms_benches::classify_data::{DataSet, SECOND_TEST, TEST, TRAINING, ensure_generated, stable_seed};
use scan2dms_classify::training::{TruthBatch, TruthDocument, examples_from_truth, read_truth_dir};
use scan2dms_classify::{
    CalibrationSplit, DocType, Evaluation, Model, NoiseOptions, Scored, Series, TrainOptions, evaluate, ocr_noise,
    segment, train,
};
use serde_json::{Value, json};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

const DEFAULT_THRESHOLD: f64 = 0.90;
const SWEEP: [f64; 8] = [0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.99];
const HELD_OUT_MARK: &str = "heldout-";

/// A test document as the classifier sees it.
struct TestDocument {
    series: Series,
    truth: DocType,
    template: String,
    clean: String,
    noisy: String,
}

fn main() -> Result<()> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().ok_or("no workspace")?.to_path_buf();
    let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| workspace.join("target"));
    let threshold: f64 = std::env::var("SCAN2DMS_BENCH_THRESHOLD")
        .ok()
        .and_then(|value| value.parse().ok())
        .filter(|value: &f64| (0.0..=1.0).contains(value))
        .unwrap_or(DEFAULT_THRESHOLD);
    let generator = workspace.join("../shared/tools/make-deliveries");
    let held_out_templates = workspace.join("benches/templates/classify_heldout.py");
    let data = target.join("bench-data/classify");
    fs::create_dir_all(&data)?;

    let training_dir = ensure_generated(&generator, &data, &TRAINING, &held_out_templates)?;
    let test_dir = ensure_generated(&generator, &data, &TEST, &held_out_templates)?;

    let training_batches = read_truth_dir(&training_dir)?;
    let examples = examples_from_truth(&training_batches);
    let test_batches = read_truth_dir(&test_dir)?;
    let test = test_documents(&test_batches);
    let unseen_count = test.iter().filter(|d| d.template.contains(HELD_OUT_MARK)).count();
    println!(
        "training: {} documents ({}), test: {} documents, {} of them in held-out template variants ({})",
        examples.len(),
        training_dir.display(),
        test.len(),
        unseen_count,
        test_dir.display()
    );

    let options = TrainOptions::default();
    let started = Instant::now();
    let model = train(&examples, &options)?;
    let training_seconds = started.elapsed().as_secs_f64();
    let model_path = data.join("model.json");
    model.save(&model_path)?;
    let model_bytes = fs::metadata(&model_path)?.len();
    let stratified =
        train(&examples, &TrainOptions { calibration_split: CalibrationSplit::Stratified, ..options.clone() })?;
    let summary = model.training_summary();
    let calibration = summary.calibration.as_ref().ok_or("the default options calibrate")?;
    println!(
        "trained in {training_seconds:.1} s: {} active buckets, model file {:.1} MB, temperature {:.3} \
         (stratified only: {:.3})",
        summary.active_buckets,
        model_bytes as f64 / 1e6,
        model.temperature(),
        stratified.temperature()
    );
    println!(
        "cross-validation ({:?}, {} folds, {} held-out predictions): accuracy {:.3}, ECE {:.4} -> {:.4}, \
         suggested threshold for {:.0} % precision: {}",
        calibration.split,
        calibration.folds,
        calibration.predictions,
        calibration.accuracy,
        calibration.ece_before,
        calibration.ece_after,
        calibration.target_precision * 100.0,
        calibration.suggested_threshold.map_or("none".to_owned(), |t| format!("{t:.2}"))
    );

    let started = Instant::now();
    let noisy = score(&model, &test, |d| &d.noisy)?;
    let classify_ms = started.elapsed().as_secs_f64() * 1000.0 / test.len().max(1) as f64;
    let clean = score(&model, &test, |d| &d.clean)?;
    let noisy_stratified = score(&stratified, &test, |d| &d.noisy)?;
    let seen: Vec<Scored> = pick(&noisy, &test, false);
    let unseen: Vec<Scored> = pick(&noisy, &test, true);

    let rows = [
        ("all, OCR-noised", evaluate(&noisy, threshold)),
        ("seen templates", evaluate(&seen, threshold)),
        ("unseen templates", evaluate(&unseen, threshold)),
        ("all, clean text", evaluate(&clean, threshold)),
        ("all, stratified T", evaluate(&noisy_stratified, threshold)),
    ];
    println!();
    println!("threshold {threshold:.2}, {classify_ms:.2} ms per document");
    println!(
        "{:<20} {:>5} {:>9} {:>13} {:>12} {:>8} {:>7}",
        "set", "docs", "accuracy", "auto-accepted", "precision", "review", "ECE"
    );
    for (name, evaluation) in &rows {
        print_row(name, evaluation);
    }

    println!();
    println!("threshold sweep (all, OCR-noised): threshold, precision of auto-accepted, review share");
    let sweep: Vec<Value> = SWEEP
        .iter()
        .map(|&t| {
            let evaluation = evaluate(&noisy, t);
            let stratified_evaluation = evaluate(&noisy_stratified, t);
            println!(
                "  {t:.2}  {:>7.2}%  {:>5.1}%   (stratified T: {:>7.2}%  {:>5.1}%)",
                evaluation.auto_precision * 100.0,
                evaluation.review_share * 100.0,
                stratified_evaluation.auto_precision * 100.0,
                stratified_evaluation.review_share * 100.0
            );
            json!({
                "threshold": t,
                "auto_precision": evaluation.auto_precision,
                "review_share": evaluation.review_share,
                "stratified_auto_precision": stratified_evaluation.auto_precision,
                "stratified_review_share": stratified_evaluation.review_share,
            })
        })
        .collect();

    println!();
    println!("per type (all, OCR-noised): support, precision, recall, confused with");
    let overall = &rows[0].1;
    for figures in &overall.per_type {
        let confused: Vec<String> = overall
            .confusion
            .get(&figures.doc_type)
            .map(|row| row.iter().filter(|(p, _)| **p != figures.doc_type).map(|(p, n)| format!("{p} {n}")).collect())
            .unwrap_or_default();
        println!(
            "  {:<18} {:>4} {:>7.1}% {:>7.1}%  {}",
            figures.doc_type.as_str(),
            figures.support,
            figures.precision * 100.0,
            figures.recall * 100.0,
            confused.join(", ")
        );
    }

    let misses: Vec<Value> = noisy
        .iter()
        .zip(&test)
        .filter(|(scored, _)| scored.truth != scored.predicted)
        .map(|(scored, document)| {
            json!({
                "template": document.template,
                "truth": scored.truth,
                "predicted": scored.predicted,
                "confidence": scored.confidence,
            })
        })
        .collect();
    println!();
    println!("misclassified (all, OCR-noised): template -> predicted (confidence)");
    for (scored, document) in noisy.iter().zip(&test).filter(|(scored, _)| scored.truth != scored.predicted) {
        println!("  {:<45} -> {} ({:.2})", document.template, scored.predicted, scored.confidence);
    }

    let segmentation = segmentation_figures(&test_batches);
    println!();
    println!("segmentation of the test records from page text alone (no document numbers, no separators):");
    for (name, figures) in [("clean", &segmentation.0), ("OCR-noised", &segmentation.1)] {
        println!(
            "  {name:<11} {} of {} records split exactly; starts: precision {:.3}, recall {:.3}",
            figures.exact, figures.records, figures.precision, figures.recall
        );
    }

    let skip_real_ocr = std::env::var("SCAN2DMS_BENCH_REAL_OCR").is_ok_and(|value| value == "0");
    let binary = if skip_real_ocr { None } else { Some(release_binary(&workspace, &target)?) };
    let real_ocr = match &binary {
        None => None,
        Some(binary) => Some(through_pipeline(binary, &target, &test_dir, &model_path, threshold, &test_batches)?),
    };
    if let Some(real) = &real_ocr {
        print_real_ocr("the test deliveries", real, test.len(), threshold);
    }
    // The same on a test set of another seed, for how much the first is luck.
    let second_real_ocr = if let Some(binary) = &binary {
        let second_dir = ensure_generated(&generator, &data, &SECOND_TEST, &held_out_templates)?;
        let second_batches = read_truth_dir(&second_dir)?;
        let documents = test_documents(&second_batches).len();
        let real = through_pipeline(binary, &target, &second_dir, &model_path, threshold, &second_batches)?;
        print_real_ocr(&format!("the second test set (seed {})", SECOND_TEST.seed), &real, documents, threshold);
        Some((describe(&SECOND_TEST, &second_dir, documents), real))
    } else {
        None
    };

    let load_average = fs::read_to_string("/proc/loadavg").ok();
    let results = json!({
        "threshold": threshold,
        "training_set": describe(&TRAINING, &training_dir, examples.len()),
        "test_set": describe(&TEST, &test_dir, test.len()),
        "test_documents_in_held_out_templates": unseen_count,
        "noise": NoiseOptions::default(),
        "training_seconds": training_seconds,
        "classify_ms_per_document": classify_ms,
        "model_file_bytes": model_bytes,
        "temperature": model.temperature(),
        "temperature_stratified_only": stratified.temperature(),
        "training_summary": summary,
        "results": rows.iter().map(|(name, evaluation)| (name.to_string(), evaluation_json(evaluation))).collect::<BTreeMap<_, _>>(),
        "sweep": sweep,
        "misclassified": misses,
        "segmentation": {
            "clean": segmentation.0.to_json(),
            "ocr_noised": segmentation.1.to_json(),
        },
        "real_ocr": real_ocr.as_ref().map(|real| real_ocr_json(real, threshold)),
        "second_test_set": second_real_ocr.as_ref().map(|(set, _)| set),
        "second_real_ocr": second_real_ocr.as_ref().map(|(_, real)| real_ocr_json(real, threshold)),
        "load_average_after": load_average.as_deref().map(str::trim),
    });
    let results_dir = target.join("bench-results");
    fs::create_dir_all(&results_dir)?;
    let results_path = results_dir.join("classify.json");
    fs::write(&results_path, serde_json::to_string_pretty(&results)?)?;
    println!();
    if let Some(load_average) = &load_average {
        println!("load average after: {}", load_average.trim());
    }
    println!("wrote {}", results_path.display());
    Ok(())
}

/// One line of a results table: set, documents, accuracy, auto-accepted,
/// their precision, review share, ECE.
fn print_row(name: &str, evaluation: &Evaluation) {
    println!(
        "{:<20} {:>5} {:>8.1}% {:>13} {:>11.2}% {:>7.1}% {:>7.4}",
        name,
        evaluation.documents,
        evaluation.accuracy * 100.0,
        evaluation.auto_accepted,
        evaluation.auto_precision * 100.0,
        evaluation.review_share * 100.0,
        evaluation.ece
    );
}

/// Prints the real-OCR figures of one test set and its misclassified documents.
fn print_real_ocr(what: &str, real: &RealOcr, documents: usize, threshold: f64) {
    println!();
    println!(
        "real OCR: {what} through `scan2dms run --stages validate,ocr` with this model \
         ({:.0} s; {} of {documents} test documents came out of accepted batches)",
        real.seconds,
        real.all.len(),
    );
    for (name, scored) in [("all", &real.all), ("seen templates", &real.seen), ("unseen templates", &real.unseen)] {
        print_row(name, &evaluate(scored, threshold));
    }
    println!("misclassified (real OCR): template -> predicted (confidence)");
    for (template, scored) in &real.misses {
        println!("  {template:<45} -> {} ({:.2})", scored.predicted, scored.confidence);
    }
}

fn real_ocr_json(real: &RealOcr, threshold: f64) -> Value {
    json!({
        "seconds": real.seconds,
        "all": evaluation_json(&evaluate(&real.all, threshold)),
        "seen": evaluation_json(&evaluate(&real.seen, threshold)),
        "unseen": evaluation_json(&evaluate(&real.unseen, threshold)),
        "misclassified": real.misses.iter().map(|(template, scored)| json!({
            "template": template,
            "truth": scored.truth,
            "predicted": scored.predicted,
            "confidence": scored.confidence,
        })).collect::<Vec<_>>(),
    })
}

/// The classifier's results on real OCR text, through the pipeline.
struct RealOcr {
    seconds: f64,
    all: Vec<Scored>,
    seen: Vec<Scored>,
    unseen: Vec<Scored>,
    /// The documents typed wrong: their template and the score.
    misses: Vec<(String, Scored)>,
}

/// Builds the release binary the real-OCR runs use.
fn release_binary(workspace: &Path, target: &Path) -> Result<PathBuf> {
    println!();
    println!("building the release binary for the real-OCR runs ...");
    let status =
        Command::new("cargo").args(["build", "--release", "-p", "scan2dms-cli"]).current_dir(workspace).status()?;
    if !status.success() {
        return Err("cargo build --release -p scan2dms-cli failed".into());
    }
    Ok(target.join("release/scan2dms"))
}

/// Runs the test deliveries through the release binary, validation and OCR
/// with `model` (the classification is part of the OCR stage), and scores
/// the types it gave each document of an accepted batch against the truth.
fn through_pipeline(
    binary: &Path,
    target: &Path,
    test_dir: &Path,
    model: &Path,
    threshold: f64,
    batches: &[TruthBatch],
) -> Result<RealOcr> {
    let work = target.join("bench-data/classify/pipeline");
    if work.exists() {
        fs::remove_dir_all(&work)?;
    }
    let (data_dir, inbox) = (work.join("data"), work.join("inbox"));
    scan2dms_benches::copy_tree(&test_dir.join("batches"), &inbox)?;
    let mut orders: Vec<PathBuf> =
        fs::read_dir(test_dir.join("orders"))?.map(|entry| entry.map(|e| e.path())).collect::<std::io::Result<_>>()?;
    orders.sort();
    let config = work.join("pipeline.toml");
    fs::write(
        &config,
        format!("[classify]\nmodel = {:?}\nreview_threshold = {threshold}\n", model.display().to_string()),
    )?;
    let scan2dms = |args: &[&str]| {
        let mut command = Command::new(binary);
        command.arg("--data-dir").arg(&data_dir).arg("--config").arg(&config).args(args);
        command
    };
    let imported = scan2dms(&["orders", "import"]).args(&orders).output()?;
    if !imported.status.success() {
        return Err(format!("orders import: {}", String::from_utf8_lossy(&imported.stderr)).into());
    }
    let started = Instant::now();
    let run = scan2dms(&["run", "--once", "--stages", "validate,ocr", "--inbox"]).arg(&inbox).output()?;
    let seconds = started.elapsed().as_secs_f64();
    if !run.status.success() {
        return Err(format!("scan2dms run: {}", String::from_utf8_lossy(&run.stderr)).into());
    }
    let listed = scan2dms(&["documents", "--json"]).output()?;
    let documents: Vec<Value> = serde_json::from_slice(&listed.stdout)?;

    // The truth of the documents the bench scores (those with text).
    let mut truth: BTreeMap<(String, String, u64), (DocType, &str)> = BTreeMap::new();
    for batch in batches {
        for document in &batch.documents {
            if document.text().trim().is_empty() {
                continue;
            }
            let key = (batch.batch_id.clone(), document.record_id.clone(), u64::from(document.document_no));
            truth.insert(key, (document.doc_type, document.template.as_deref().unwrap_or("?")));
        }
    }
    let mut real = RealOcr { seconds, all: Vec::new(), seen: Vec::new(), unseen: Vec::new(), misses: Vec::new() };
    for document in &documents {
        let key = (
            document["batch_id"].as_str().unwrap_or_default().to_owned(),
            document["record_id"].as_str().unwrap_or_default().to_owned(),
            document["document_no"].as_u64().unwrap_or_default(),
        );
        let Some(&(doc_type, template)) = truth.get(&key) else { continue };
        let predicted: DocType = document["doc_type"].as_str().ok_or("a document without a type")?.parse()?;
        let confidence = document["doc_type_confidence"].as_f64().ok_or("a document without a confidence")?;
        let scored = Scored { truth: doc_type, predicted, confidence };
        real.all.push(scored);
        if template.contains(HELD_OUT_MARK) {
            real.unseen.push(scored)
        } else {
            real.seen.push(scored)
        }
        if predicted != doc_type {
            real.misses.push((template.to_owned(), scored));
        }
    }
    Ok(real)
}

/// The set's directory, generated (with `--force`) unless its marker says
/// it is complete and made by the same command.
fn test_documents(batches: &[TruthBatch]) -> Vec<TestDocument> {
    let noise = NoiseOptions::default();
    let mut documents = Vec::new();
    for batch in batches {
        for document in &batch.documents {
            let clean = document.text();
            if clean.trim().is_empty() {
                continue;
            }
            let seed = stable_seed(&format!("{}/{}/{}", batch.batch_id, document.record_id, document.document_no));
            documents.push(TestDocument {
                series: batch.series,
                truth: document.doc_type,
                template: document.template.clone().unwrap_or_default(),
                noisy: ocr_noise(&clean, &noise, seed),
                clean,
            });
        }
    }
    documents
}

fn score(model: &Model, documents: &[TestDocument], text: impl Fn(&TestDocument) -> &str) -> Result<Vec<Scored>> {
    documents
        .iter()
        .map(|document| {
            let prediction = model.classify(text(document), document.series)?;
            Ok(Scored { truth: document.truth, predicted: prediction.doc_type, confidence: prediction.confidence })
        })
        .collect()
}

fn pick(scored: &[Scored], documents: &[TestDocument], held_out: bool) -> Vec<Scored> {
    scored
        .iter()
        .zip(documents)
        .filter(|(_, document)| document.template.contains(HELD_OUT_MARK) == held_out)
        .map(|(scored, _)| *scored)
        .collect()
}

struct SegmentationFigures {
    records: usize,
    exact: usize,
    precision: f64,
    recall: f64,
}

impl SegmentationFigures {
    fn to_json(&self) -> Value {
        json!({"records": self.records, "exact": self.exact, "precision": self.precision, "recall": self.recall})
    }
}

/// Segmentation of every test record from its page texts, clean and noised.
fn segmentation_figures(batches: &[TruthBatch]) -> (SegmentationFigures, SegmentationFigures) {
    let noise = NoiseOptions::default();
    let mut sides = [(0usize, 0usize, 0usize, 0usize, 0usize); 2];
    for batch in batches {
        let mut records: Vec<(&str, Vec<&TruthDocument>)> = Vec::new();
        for document in &batch.documents {
            match records.iter_mut().find(|(id, _)| *id == document.record_id) {
                Some((_, documents)) => documents.push(document),
                None => records.push((&document.record_id, vec![document])),
            }
        }
        for (record_id, documents) in records {
            let mut clean: Vec<String> = Vec::new();
            let mut starts = Vec::new();
            for document in documents {
                starts.push(clean.len());
                clean.extend(document.content_pages().map(|page| page.text.clone()));
            }
            let noisy: Vec<String> = clean
                .iter()
                .enumerate()
                .map(|(i, text)| ocr_noise(text, &noise, stable_seed(&format!("{}/{record_id}/{i}", batch.batch_id))))
                .collect();
            for (side, pages) in sides.iter_mut().zip([&clean, &noisy]) {
                let pages: Vec<&str> = pages.iter().map(String::as_str).collect();
                let found = segment(&pages);
                side.0 += 1;
                side.1 += usize::from(found == starts);
                side.2 += found.iter().filter(|start| starts.contains(start)).count();
                side.3 += found.len();
                side.4 += starts.len();
            }
        }
    }
    let figures = |(records, exact, hits, found, truth): (usize, usize, usize, usize, usize)| SegmentationFigures {
        records,
        exact,
        precision: hits as f64 / found.max(1) as f64,
        recall: hits as f64 / truth.max(1) as f64,
    };
    (figures(sides[0]), figures(sides[1]))
}

fn describe(set: &DataSet, dir: &Path, documents: usize) -> Value {
    json!({
        "dir": dir.display().to_string(),
        "seed": set.seed,
        "batches": set.batches,
        "records_per_batch": set.records_per_batch,
        "held_out_templates": set.held_out_templates,
        "documents": documents,
    })
}

fn evaluation_json(evaluation: &Evaluation) -> Value {
    serde_json::to_value(evaluation).unwrap_or(Value::Null)
}
