//! `classify train` and `review list|show|decide`: the classifier's model
//! and the people who decide where it is unsure.
//!
//! A document is named as in the DMS, `<batch>/<record>/<document>`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use scan2dms_classify::{DocType, Model, TrainOptions, train};
use scan2dms_config::PipelineConfig;
use scan2dms_store::{DocumentRecord, StateStore};

pub fn train_model(
    config: &PipelineConfig,
    data_dir: &Path,
    data: &Path,
    out: Option<PathBuf>,
) -> anyhow::Result<ExitCode> {
    let examples = scan2dms_classify::training::read_examples(data)
        .with_context(|| format!("labelled documents in {}", data.display()))?;
    if examples.is_empty() {
        bail!("{} holds no labelled documents (truth/*.json of generated deliveries)", data.display());
    }
    let model = train(&examples, &TrainOptions::default()).context("training")?;
    let out = out.unwrap_or_else(|| data_dir.join(&config.classify.model));
    if let Some(parent) = out.parent() {
        std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
    }
    model.save(&out).with_context(|| format!("cannot write the model to {}", out.display()))?;
    let summary = model.training_summary();
    println!("trained on {} documents of {} types: {}", summary.examples, model.labels().len(), out.display());
    if let Some(calibration) = &summary.calibration {
        println!(
            "cross-validated on {} documents: accuracy {:.3}, expected calibration error {:.3}",
            calibration.documents, calibration.accuracy, calibration.ece_after
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// A document by its `<batch>/<record>/<document>` name.
fn find(store: &dyn StateStore, name: &str) -> anyhow::Result<DocumentRecord> {
    let parts: Vec<&str> = name.split('/').collect();
    let [batch_id, record_id, document_no] = parts[..] else {
        bail!("{name:?} is not a document name like SSN-0001-001/PN-123456/2");
    };
    let document_no: u32 = document_no.parse().with_context(|| format!("{name:?}: document number"))?;
    store
        .documents(Some(batch_id))?
        .into_iter()
        .find(|document| document.record_id == record_id && document.document_no == document_no)
        .with_context(|| format!("no document {name}"))
}

fn name(document: &DocumentRecord) -> String {
    format!("{}/{}/{}", document.batch_id, document.record_id, document.document_no)
}

pub fn list(store: &dyn StateStore, json: bool) -> anyhow::Result<ExitCode> {
    let queue = store.review_queue()?;
    if json {
        let list: Vec<serde_json::Value> = queue
            .iter()
            .map(|document| {
                let classification = document.classification.as_ref();
                serde_json::json!({
                    "document": name(document),
                    "doc_type": classification.map(|c| c.doc_type.clone()),
                    "doc_type_confidence": classification.map(|c| c.confidence),
                    "pages": document.page_nos.len(),
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(ExitCode::SUCCESS);
    }
    if queue.is_empty() {
        println!("no document waits for review");
    }
    for document in &queue {
        let classification = document.classification.as_ref();
        println!(
            "{:<40} guess {:<20} confidence {:.3}  {} page(s)",
            name(document),
            classification.map_or("-", |c| c.doc_type.as_str()),
            classification.map_or(0.0, |c| c.confidence),
            document.page_nos.len()
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub fn show(store: &dyn StateStore, document_name: &str) -> anyhow::Result<ExitCode> {
    let document = find(store, document_name)?;
    println!("document {}", name(&document));
    println!("state {}", document.state);
    if let Some(classification) = &document.classification {
        println!("classified as {} (confidence {:.3})", classification.doc_type, classification.confidence);
        for (field, value) in &classification.fields {
            println!("  {field}: {value}");
        }
    }
    if let Some(review) = &document.review {
        println!("decided: {} by {}", review.doc_type, review.decided_by);
    }
    if let Some(efile) = &document.efile {
        println!("e-file {}", efile.path);
    }
    let pages = store.pages(&document.batch_id)?;
    for page in
        pages.iter().filter(|page| page.record_id == document.record_id && document.page_nos.contains(&page.page_no))
    {
        let text = page.result.as_ref().map_or("", |result| result.text.as_str());
        println!("--- page {} ({} page {})", page.page_no, page.file, page.file_page);
        for line in text.lines().filter(|line| !line.trim().is_empty()).take(12) {
            println!("  {line}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn decide(
    store: &dyn StateStore,
    document_name: &str,
    doc_type: &str,
    by: Option<String>,
) -> anyhow::Result<ExitCode> {
    let document = find(store, document_name)?;
    let doc_type: DocType = doc_type.parse().map_err(|error| anyhow::anyhow!("{error}"))?;
    let by = by.unwrap_or_else(|| format!("cli:{}", std::env::var("USER").unwrap_or_else(|_| "operator".to_owned())));
    store.decide_review(
        &document.batch_id,
        &document.record_id,
        document.document_no,
        doc_type.as_str(),
        &by,
        scan2dms_runtime::now_ms(),
    )?;
    println!("{}: {} (decided by {by}); `scan2dms run` files it", name(&document), doc_type.as_str());
    Ok(ExitCode::SUCCESS)
}

/// Checks that a model file loads, for `classify check`.
pub fn check_model(config: &PipelineConfig, data_dir: &Path) -> anyhow::Result<ExitCode> {
    let path = data_dir.join(&config.classify.model);
    let model = Model::load(&path).with_context(|| format!("classifier model {}", path.display()))?;
    println!(
        "{}: {} types, trained on {} documents",
        path.display(),
        model.labels().len(),
        model.training_summary().examples
    );
    Ok(ExitCode::SUCCESS)
}
