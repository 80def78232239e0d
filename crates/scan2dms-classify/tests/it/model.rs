//! The document type model: deterministic training, its file, series
//! narrowing, and what it learns from the corpus.

use expect_test::expect;
use scan2dms_classify::training::examples_from_truth;
use scan2dms_classify::{
    CalibrationSplit, ClassifyError, DocType, Example, Model, ModelError, NoiseOptions, Scored, TrainError,
    TrainOptions, evaluate, ocr_noise, train,
};
use scan2dms_model::Series;

use crate::corpus;

/// A few hand-written documents of five types in both series.
fn small_examples() -> Vec<Example> {
    let mut examples = Vec::new();
    let mut add = |series: Series, label: DocType, texts: &[&str]| {
        for (i, text) in texts.iter().enumerate() {
            for variant in 0..3 {
                examples.push(Example {
                    text: format!("{text}\nAktenzeichen {i}{variant}\nBraunschweig, den 1{variant}.0{}.199{i}", i + 1),
                    series,
                    label,
                    group: Some(format!("{label}/{i}")),
                });
            }
        }
    };
    add(
        Series::Personnel,
        DocType::Zeugnis,
        &[
            "Arbeitszeugnis\nFrau Muster war bei uns als Sachbearbeiterin tätig und hat stets zu unserer vollsten Zufriedenheit gearbeitet.",
            "Zwischenzeugnis\nHerr Beispiel erledigte seine Aufgaben stets sorgfältig und zuverlässig.",
        ],
    );
    add(
        Series::Personnel,
        DocType::Krankmeldung,
        &[
            "Arbeitsunfähigkeitsbescheinigung\narbeitsunfähig seit 02.03.1999 voraussichtlich bis 09.03.1999",
            "Krankmeldung\nerkrankt seit Montag, Dienst wieder aufgenommen am Freitag",
        ],
    );
    add(
        Series::Tax,
        DocType::Mahnung,
        &[
            "Mahnung\nDer Betrag von 120,00 DM ist seit dem 01.02.1998 fällig. Mahngebühr 5,00 DM",
            "Zahlungserinnerung\nbitte überweisen Sie den rückständigen Betrag, sonst Vollstreckung",
        ],
    );
    add(
        Series::Tax,
        DocType::Steuerbescheid,
        &[
            "Grundsteuerbescheid für das Kalenderjahr 1998\nJahressteuer 400,00 DM\nFälligkeit 15.02.1998",
            "Hundesteuerbescheid\nDie Steuer wird wie folgt festgesetzt: 150,00 DM jährlich",
        ],
    );
    add(
        Series::Personnel,
        DocType::Deckblatt,
        &["PERSONALAKTE\nName, Vorname Muster, Erika\nPersonalnummer PN-123456"],
    );
    add(Series::Tax, DocType::Deckblatt, &["STEUERAKTE\nSteuerpflichtige/r Max Muster\nKassenzeichen KZ-2300-0012345"]);
    examples
}

fn quick_options(seed: u64) -> TrainOptions {
    TrainOptions { seed, epochs: 6, calibration_folds: 3, ..TrainOptions::default() }
}

#[test]
fn training_is_deterministic_for_a_seed() {
    let examples = small_examples();
    let first = train(&examples, &quick_options(7)).unwrap();
    let second = train(&examples, &quick_options(7)).unwrap();
    assert!(first.to_json() == second.to_json(), "same seed, different model");
    let other_seed = train(&examples, &quick_options(8)).unwrap();
    assert!(first.to_json() != other_seed.to_json(), "another seed, the same model");
}

#[test]
fn a_model_round_trips_through_its_file() {
    let model = train(&small_examples(), &quick_options(1)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("doc-types.json");
    model.save(&path).unwrap();
    let loaded = Model::load(&path).unwrap();
    assert!(loaded.to_json() == model.to_json(), "the file of the loaded model differs");
    assert_eq!(loaded.labels(), model.labels());
    assert_eq!(loaded.temperature(), model.temperature());
    assert_eq!(loaded.training_summary(), model.training_summary());
    for (text, series) in [("Mahnung: bitte zahlen", Series::Tax), ("Zeugnis", Series::Personnel), ("", Series::Tax)] {
        assert_eq!(loaded.classify(text, series), model.classify(text, series));
    }
}

#[test]
fn a_file_of_another_format_version_is_refused() {
    let json = train(&small_examples(), &quick_options(1)).unwrap().to_json();
    let newer = json.replacen("\"format_version\":1", "\"format_version\":2", 1);
    assert_ne!(newer, json);
    let error = Model::from_json(&newer).unwrap_err();
    assert!(matches!(error, ModelError::FormatVersion { .. }));
    expect!["model JSON has model format version 2, this build reads version 1"].assert_eq(&error.to_string());

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.json");
    std::fs::write(&path, json.replacen("\"format_version\":1,", "", 1)).unwrap();
    let error = Model::load(&path).unwrap_err().to_string();
    assert!(
        error.starts_with("model file ")
            && error.ends_with("has model format version (none), this build reads version 1"),
        "{error}"
    );
}

#[test]
fn a_damaged_or_foreign_file_is_refused_with_the_reason() {
    let json = train(&small_examples(), &quick_options(1)).unwrap().to_json();
    let damaged = {
        let start = json.find("\"temperature\":").unwrap() + "\"temperature\":".len();
        let end = start + json[start..].find(',').unwrap();
        format!("{}-1.5{}", &json[..start], &json[end..])
    };
    expect!["model JSON is damaged: temperature -1.5 is not positive"]
        .assert_eq(&Model::from_json(&damaged).unwrap_err().to_string());
    let truncated_weights = {
        let start = json.find("\"f32_le_base64\":\"").unwrap() + "\"f32_le_base64\":\"".len();
        format!("{}{}", &json[..start], &json[start + 8..])
    };
    assert!(matches!(Model::from_json(&truncated_weights), Err(ModelError::Invalid { .. })));
    let foreign = Model::from_json(r#"{"format_version": 1, "kind": "something-else"}"#).unwrap_err();
    expect![[r#"model JSON is damaged: kind is "something-else", expected "scan2dms-classify/doc-type-model""#]]
        .assert_eq(&foreign.to_string());
    assert!(matches!(Model::from_json("not json"), Err(ModelError::Json { .. })));
}

#[test]
fn the_series_narrows_the_candidate_types() {
    let model = train(&small_examples(), &quick_options(3)).unwrap();
    // A tax-looking text in a personnel record still gets a personnel type.
    let prediction = model.classify("Mahnung\nMahngebühr 5,00 DM, Vollstreckung", Series::Personnel).unwrap();
    assert!(prediction.doc_type.in_series(Series::Personnel), "{prediction:?}");
    let ranked: Vec<DocType> = prediction.ranked.iter().map(|(t, _)| *t).collect();
    assert_eq!(ranked.len(), 3, "zeugnis, krankmeldung, deckblatt: {ranked:?}");
    assert!(ranked.iter().all(|t| t.in_series(Series::Personnel)));
    let total: f64 = prediction.ranked.iter().map(|(_, p)| p).sum();
    assert!((total - 1.0).abs() < 1e-9);
    // The cover sheet is a candidate in both series.
    assert_eq!(
        model.classify("STEUERAKTE\nKassenzeichen KZ-2300-0012345", Series::Tax).unwrap().doc_type,
        DocType::Deckblatt
    );

    let personnel_only: Vec<Example> = small_examples()
        .into_iter()
        .filter(|e| e.series == Series::Personnel && e.label != DocType::Deckblatt)
        .collect();
    let model = train(&personnel_only, &quick_options(3)).unwrap();
    assert_eq!(model.classify("Mahnung", Series::Tax), Err(ClassifyError::NoLabelsForSeries(Series::Tax)));
}

#[test]
fn training_refuses_labels_outside_the_series() {
    let mut examples = small_examples();
    examples[0].series = Series::Tax; // a Zeugnis in a tax record
    assert_eq!(
        train(&examples, &quick_options(1)).unwrap_err(),
        TrainError::LabelNotInSeries { index: 0, label: DocType::Zeugnis, series: Series::Tax }
    );
    assert_eq!(train(&[], &quick_options(1)).unwrap_err(), TrainError::NoExamples);
}

#[test]
fn out_of_range_options_are_refused() {
    let examples = small_examples();
    for options in [
        TrainOptions { class_balance: 1.5, ..quick_options(1) },
        TrainOptions { class_balance: f32::NAN, ..quick_options(1) },
        TrainOptions { max_feature_group_share: 0.0, ..quick_options(1) },
        TrainOptions { max_feature_group_share: 1.1, ..quick_options(1) },
        TrainOptions { bayes_weight: -0.1, ..quick_options(1) },
        TrainOptions { bayes_weight: f32::INFINITY, ..quick_options(1) },
        TrainOptions { bayes_smoothing: 0.0, ..quick_options(1) },
    ] {
        assert!(matches!(train(&examples, &options), Err(TrainError::BadOptions(_))), "{options:?}");
    }
}

/// Class balance, averaging, the feature share cap and the naive Bayes
/// blend change the model, are recorded in its summary and keep training
/// deterministic.
#[test]
fn balancing_averaging_the_share_cap_and_the_blend_are_recorded_and_deterministic() {
    let examples = small_examples();
    let plain = TrainOptions {
        class_balance: 0.0,
        averaged: false,
        max_feature_group_share: 1.0,
        bayes_weight: 0.0,
        ..quick_options(5)
    };
    let tuned = TrainOptions {
        class_balance: 1.0,
        averaged: true,
        max_feature_group_share: 0.5,
        bayes_weight: 0.5,
        bayes_smoothing: 0.2,
        ..quick_options(5)
    };
    let first = train(&examples, &tuned).unwrap();
    assert!(first.to_json() == train(&examples, &tuned).unwrap().to_json(), "same options, different model");
    assert!(first.to_json() != train(&examples, &plain).unwrap().to_json(), "the options changed nothing");
    let summary = first.training_summary();
    assert_eq!((summary.class_balance, summary.averaged, summary.max_feature_group_share), (1.0, true, 0.5));
    assert_eq!((summary.bayes_weight, summary.bayes_smoothing), (0.5, 0.2));
    for option in [
        TrainOptions { class_balance: 1.0, ..plain.clone() },
        TrainOptions { averaged: true, ..plain.clone() },
        TrainOptions { max_feature_group_share: 0.5, ..plain.clone() },
        TrainOptions { bayes_weight: 0.5, ..plain.clone() },
    ] {
        assert!(train(&examples, &option).unwrap().to_json() != train(&examples, &plain).unwrap().to_json());
    }
    // Still a working classifier of its own training documents.
    let right = examples.iter().filter(|e| first.classify(&e.text, e.series).unwrap().doc_type == e.label).count();
    assert_eq!(right, examples.len());
}

/// A model file written before these options existed has none of their
/// fields in its summary; it loads, with the values that training had.
#[test]
fn a_model_file_without_the_newer_summary_fields_loads() {
    let json = train(&small_examples(), &quick_options(1)).unwrap().to_json();
    let mut value: serde_json::Value = serde_json::from_str(&json).unwrap();
    let training = value["training"].as_object_mut().unwrap();
    for field in [
        "class_balance",
        "averaged",
        "max_feature_group_share",
        "min_feature_groups",
        "bayes_weight",
        "bayes_smoothing",
    ] {
        assert!(training.remove(field).is_some(), "{field}");
    }
    let model = Model::from_json(&value.to_string()).unwrap();
    let summary = model.training_summary();
    assert_eq!((summary.class_balance, summary.averaged, summary.max_feature_group_share), (0.0, false, 1.0));
    assert_eq!(summary.min_feature_groups, 1);
    assert_eq!(summary.bayes_weight, 0.0);
}

/// Trained on the corpus' six valid batches, the model classifies the
/// documents of the defect batches (other records, the same templates) in
/// OCR-noised form, and its training summary reports the calibration.
#[test]
fn a_model_trained_on_the_valid_corpus_batches_classifies_the_others() {
    let Some(batches) = corpus() else { return };
    let (train_batches, test_batches): (Vec<_>, Vec<_>) =
        batches.iter().cloned().partition(|b| b.batch_id.as_str() <= "SSN-0001-006");
    let examples = examples_from_truth(&train_batches);
    let options = TrainOptions { epochs: 8, noisy_copies: 1, ..TrainOptions::default() };
    let model = train(&examples, &options).unwrap();
    let summary = model.training_summary();
    assert_eq!(summary.examples, examples.len());
    let calibration = summary.calibration.as_ref().unwrap();
    assert_eq!(calibration.documents, examples.len());
    assert_eq!(calibration.predictions, 2 * examples.len(), "pooled: both splits predict every example once");
    assert!(calibration.nll_after <= calibration.nll_before + 1e-9);

    let noise = NoiseOptions::default();
    let scored: Vec<Scored> = examples_from_truth(&test_batches)
        .iter()
        .enumerate()
        .map(|(i, example)| {
            let prediction = model.classify(&ocr_noise(&example.text, &noise, i as u64), example.series).unwrap();
            Scored { truth: example.label, predicted: prediction.doc_type, confidence: prediction.confidence }
        })
        .collect();
    let evaluation = evaluate(&scored, 0.9);
    // Nothing to read is no reason to be sure: such documents go to review.
    for (text, series) in [("", Series::Tax), ("", Series::Personnel), ("xq zv ## 0000", Series::Tax)] {
        let prediction = model.classify(text, series).unwrap();
        assert!(prediction.confidence < 0.5, "{text:?} in {series}: {prediction:?}");
    }
    assert!(scored.len() > 80, "{}", scored.len());
    assert!(evaluation.accuracy >= 0.9, "{evaluation:#?}");
    assert!(evaluation.auto_precision >= 0.97, "{evaluation:#?}");
}

/// `train_default_from` on a generated delivery directory: two batches of
/// the corpus (one per series) copied to a directory of their own.
#[test]
fn train_default_from_reads_a_generated_delivery() {
    let Some(batches) = corpus() else { return };
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("truth")).unwrap();
    for name in ["SSN-0001-001.json", "SSN-0001-002.json", "orders.json", "summary.json"] {
        std::fs::copy(crate::corpus_dir().join("truth").join(name), dir.path().join("truth").join(name)).unwrap();
    }
    let model = Model::train_default_from(dir.path()).unwrap();
    let examples = examples_from_truth(&batches[..2]);
    assert_eq!(model.training_summary().examples, examples.len());
    assert_eq!(model.training_summary().calibration.as_ref().unwrap().split, CalibrationSplit::Pooled);
    let right = examples.iter().filter(|e| model.classify(&e.text, e.series).unwrap().doc_type == e.label).count();
    assert_eq!(right, examples.len(), "the training documents themselves");
}
