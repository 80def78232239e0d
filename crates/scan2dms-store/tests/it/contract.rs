//! Behaviour every `StateStore` adapter must show.

use scan2dms_core::{Batch, BatchState, Stage};
use scan2dms_model::{AcceptanceReport, Finding, ReasonCode, Series};
use scan2dms_store::*;

use crate::adapters;

pub(crate) fn order(records: &[(&str, &str)]) -> NewOrder {
    NewOrder {
        order_id: "ORD-1".parse().unwrap(),
        series: Series::Personnel,
        source: "ORD-1.csv".to_owned(),
        records: records
            .iter()
            .map(|(id, title)| NewOrderRecord {
                record_id: id.parse().unwrap(),
                title: title.to_string(),
                box_id: "BOX-1".into(),
            })
            .collect(),
    }
}

pub(crate) fn new_batch(id: &str) -> NewBatch {
    NewBatch {
        batch_id: id.parse().unwrap(),
        source_name: id.to_owned(),
        source_path: format!("batches/{id}/source/{id}"),
    }
}

pub(crate) fn running_validation() -> Batch {
    Batch { state: BatchState::Running(Stage::Validate), attempts: 1, not_before_ms: None }
}

pub(crate) fn claim(store: &dyn StateStore, id: &str) {
    store
        .transition(id, &Batch::received(), &running_validation(), &NewEvent::batch(id, "claimed", "validate"), 2)
        .unwrap();
}

pub(crate) fn accepted_result(id: &str, records: &[&str]) -> ValidationResult {
    ValidationResult {
        report: AcceptanceReport::new(id, vec![], vec![]),
        order_id: Some("ORD-1".parse().unwrap()),
        records: records
            .iter()
            .map(|record| DeliveredRecord {
                record_id: record.parse().unwrap(),
                title: "T".into(),
                box_id: "BOX-1".into(),
                pages: 1,
            })
            .collect(),
        pages: records
            .iter()
            .map(|record| PageRecord {
                record_id: record.to_string(),
                page_no: 1,
                document_no: Some(1),
                file: format!("images/{record}.tif"),
                file_page: 1,
                sha256: Some("ab".repeat(32)),
                result: None,
            })
            .collect(),
    }
}

#[test]
fn order_import_merges_and_never_removes() {
    for (name, store, _dir) in adapters() {
        let first = store.import_order(&order(&[("PN-000001", "A"), ("PN-000002", "B")]), 1).unwrap();
        assert_eq!(first, ImportSummary { added: 2, updated: 0, unchanged: 0 }, "{name}");
        let again = store.import_order(&order(&[("PN-000002", "B2"), ("PN-000003", "C")]), 2).unwrap();
        assert_eq!(again, ImportSummary { added: 1, updated: 1, unchanged: 0 }, "{name}");
        let ids: Vec<String> =
            store.order_records(&"ORD-1".parse().unwrap()).unwrap().iter().map(ToString::to_string).collect();
        assert_eq!(ids, ["PN-000001", "PN-000002", "PN-000003"], "{name}");
        let mut tax = order(&[("KZ-2300-0000001", "X")]);
        tax.series = Series::Tax;
        assert!(store.import_order(&tax, 3).is_err(), "{name}: an order keeps its series");
    }
}

#[test]
fn a_batch_is_registered_once() {
    for (name, store, _dir) in adapters() {
        assert!(matches!(store.register_batch(&new_batch("B-1"), 1).unwrap(), Registration::Registered(_)), "{name}");
        match store.register_batch(&new_batch("B-1"), 2).unwrap() {
            Registration::AlreadyRegistered(row) => assert_eq!(row.received_at_ms, 1, "{name}"),
            other => panic!("{name}: {other:?}"),
        }
        assert_eq!(store.batches(None).unwrap().len(), 1, "{name}");
        let kinds: Vec<String> = store.events("B-1").unwrap().into_iter().map(|event| event.kind).collect();
        assert_eq!(kinds, ["registered"], "{name}");
    }
}

#[test]
fn transitions_are_compare_and_set() {
    for (name, store, _dir) in adapters() {
        store.register_batch(&new_batch("B-1"), 1).unwrap();
        claim(&*store, "B-1");
        let stale = store.transition(
            "B-1",
            &Batch::received(),
            &running_validation(),
            &NewEvent::batch("B-1", "claimed", ""),
            3,
        );
        assert!(matches!(stale, Err(StoreError::Conflict { .. })), "{name}: {stale:?}");
        let unknown = store.transition(
            "B-9",
            &Batch::received(),
            &running_validation(),
            &NewEvent::batch("B-9", "claimed", ""),
            3,
        );
        assert!(matches!(unknown, Err(StoreError::UnknownBatch(_))), "{name}: {unknown:?}");
        let row = store.batch("B-1").unwrap().unwrap();
        assert_eq!(row.batch, running_validation(), "{name}");
        assert_eq!(store.batches(Some("validating")).unwrap().len(), 1, "{name}");
        assert_eq!(store.events("B-1").unwrap().len(), 2, "{name}: the stale claim logged nothing");
    }
}

#[test]
fn a_record_is_delivered_by_one_accepted_batch_only() {
    for (name, store, _dir) in adapters() {
        store.import_order(&order(&[("PN-000001", "A"), ("PN-000002", "B")]), 1).unwrap();
        for id in ["B-1", "B-2"] {
            store.register_batch(&new_batch(id), 1).unwrap();
            claim(&*store, id);
        }
        let accepted = Batch { state: BatchState::Pending(Stage::Ocr), attempts: 0, not_before_ms: None };
        let outcome = store
            .finish_validation("B-1", &running_validation(), &accepted, &accepted_result("B-1", &["PN-000001"]), 3)
            .unwrap();
        assert_eq!(outcome, ClaimOutcome::Stored, "{name}");
        let outcome = store
            .finish_validation(
                "B-2",
                &running_validation(),
                &accepted,
                &accepted_result("B-2", &["PN-000001", "PN-000002"]),
                4,
            )
            .unwrap();
        assert_eq!(
            outcome,
            ClaimOutcome::AlreadyDelivered(vec![("PN-000001".parse().unwrap(), "B-1".parse().unwrap())]),
            "{name}"
        );
        assert_eq!(store.batch("B-2").unwrap().unwrap().batch, running_validation(), "{name}: nothing written");
        let delivered = store.delivered(&["PN-000001".parse().unwrap()], "B-2").unwrap();
        assert_eq!(delivered.len(), 1, "{name}");
        assert!(store.delivered(&["PN-000001".parse().unwrap()], "B-1").unwrap().is_empty(), "{name}");
        let progress = store.order_progress().unwrap();
        assert_eq!((progress[0].records, progress[0].delivered), (2, 1), "{name}");
        assert_eq!(store.pages("B-1").unwrap().len(), 1, "{name}");
        assert_eq!(store.report("B-1").unwrap().unwrap().batch_id, "B-1", "{name}");
    }
}

#[test]
fn a_rejected_batch_stores_its_report_but_claims_nothing() {
    for (name, store, _dir) in adapters() {
        store.register_batch(&new_batch("B-1"), 1).unwrap();
        claim(&*store, "B-1");
        let mut result = accepted_result("B-1", &["PN-000001"]);
        result.report = AcceptanceReport::new("B-1", vec![Finding::new(ReasonCode::PageGap, "page 2 missing")], vec![]);
        let rejected = Batch { state: BatchState::Rejected, attempts: 1, not_before_ms: None };
        store.finish_validation("B-1", &running_validation(), &rejected, &result, 3).unwrap();
        assert_eq!(store.report("B-1").unwrap().unwrap().reasons[0].code, ReasonCode::PageGap, "{name}");
        assert!(store.delivered(&["PN-000001".parse().unwrap()], "X").unwrap().is_empty(), "{name}");
        assert_eq!(store.batch("B-1").unwrap().unwrap().outcome.as_deref(), Some("rejected"), "{name}");
    }
}

#[test]
fn ocr_results_documents_and_efiles_are_stored_with_the_transition() {
    use scan2dms_model::WarningCode;
    for (name, store, _dir) in adapters() {
        store.import_order(&order(&[("PN-000001", "A")]), 1).unwrap();
        store.register_batch(&new_batch("B-1"), 1).unwrap();
        claim(&*store, "B-1");
        let accepted = Batch { state: BatchState::Pending(Stage::Ocr), attempts: 0, not_before_ms: None };
        store
            .finish_validation("B-1", &running_validation(), &accepted, &accepted_result("B-1", &["PN-000001"]), 3)
            .unwrap();
        let ocr_running = Batch { state: BatchState::Running(Stage::Ocr), attempts: 1, not_before_ms: None };
        store.transition("B-1", &accepted, &ocr_running, &NewEvent::batch("B-1", "claimed", "ocr"), 4).unwrap();

        let result = PageResult {
            status: "ok".into(),
            confidence: Some(91.5),
            blank: false,
            separator: false,
            rotation: 90,
            skew: Some(-0.8),
            dpi: Some(300.0),
            text: "Stadt Braunschweig".into(),
        };
        let outcome = OcrOutcome {
            pages: vec![("PN-000001".into(), 1, result.clone())],
            documents: vec![DocumentRecord {
                batch_id: "B-1".into(),
                record_id: "PN-000001".into(),
                document_no: 1,
                state: "ocr_done".into(),
                page_nos: vec![1],
                efile: None,
                dms: None,
                classification: None,
                review: None,
            }],
            warnings: vec![Finding::new(WarningCode::RotatedPage, "stored rotated 90°").record("PN-000001").page(1)],
        };
        let efile_pending = Batch { state: BatchState::Pending(Stage::Efile), attempts: 0, not_before_ms: None };
        store.finish_ocr("B-1", &ocr_running, &efile_pending, &outcome, 5).unwrap();
        assert_eq!(store.pages("B-1").unwrap()[0].result.as_ref(), Some(&result), "{name}");
        let report = store.report("B-1").unwrap().unwrap();
        assert_eq!(report.outcome, scan2dms_model::Outcome::AcceptedWithWarnings, "{name}");
        assert_eq!(report.warnings.len(), 1, "{name}");

        // Running the stage again replaces its warnings instead of adding to them.
        let ocr_again = Batch { state: BatchState::Running(Stage::Ocr), attempts: 1, not_before_ms: None };
        store.transition("B-1", &efile_pending, &accepted, &NewEvent::batch("B-1", "retry_requested", ""), 6).unwrap();
        store.transition("B-1", &accepted, &ocr_again, &NewEvent::batch("B-1", "claimed", "ocr"), 6).unwrap();
        store.finish_ocr("B-1", &ocr_again, &efile_pending, &outcome, 7).unwrap();
        assert_eq!(store.report("B-1").unwrap().unwrap().warnings.len(), 1, "{name}");

        let efile_running = Batch { state: BatchState::Running(Stage::Efile), attempts: 1, not_before_ms: None };
        store
            .transition("B-1", &efile_pending, &efile_running, &NewEvent::batch("B-1", "claimed", "efile"), 8)
            .unwrap();
        let efile =
            EfileRecord { path: "batches/B-1/efiles/PN-000001/1.pdf".into(), sha256: "cd".repeat(32), bytes: 1234 };
        let push_pending = Batch { state: BatchState::Pending(Stage::Push), attempts: 0, not_before_ms: None };
        store
            .finish_efiles("B-1", &efile_running, &push_pending, &[("PN-000001".into(), 1, efile.clone())], 9)
            .unwrap();
        let documents = store.documents(Some("B-1")).unwrap();
        assert_eq!(documents.len(), 1, "{name}");
        assert_eq!(documents[0].state, "efile_done", "{name}");
        assert_eq!(documents[0].efile.as_ref(), Some(&efile), "{name}");
        assert_eq!(store.documents(None).unwrap(), documents, "{name}");

        // Push, then verify: the object id, then the verdict, each with its transition.
        let push_running = Batch { state: BatchState::Running(Stage::Push), attempts: 1, not_before_ms: None };
        store.transition("B-1", &push_pending, &push_running, &NewEvent::batch("B-1", "claimed", "push"), 10).unwrap();
        let verify_pending = Batch { state: BatchState::Pending(Stage::Verify), attempts: 0, not_before_ms: None };
        store
            .finish_push("B-1", &push_running, &verify_pending, &[("PN-000001".into(), 1, "4711".into())], 11)
            .unwrap();
        let document = &store.documents(Some("B-1")).unwrap()[0];
        assert_eq!(document.state, "pushed", "{name}");
        assert_eq!(document.dms, Some(DmsRecord { object_id: "4711".into(), verified: false }), "{name}");

        let verify_running = Batch { state: BatchState::Running(Stage::Verify), attempts: 1, not_before_ms: None };
        store
            .transition("B-1", &verify_pending, &verify_running, &NewEvent::batch("B-1", "claimed", "verify"), 12)
            .unwrap();
        // A document that was never pushed cannot be verified; nothing changes.
        let done = Batch { state: BatchState::Done, attempts: 0, not_before_ms: None };
        assert!(store.finish_verify("B-1", &verify_running, &done, &[("PN-000002".into(), 1)], 13).is_err(), "{name}");
        assert_eq!(store.batch("B-1").unwrap().unwrap().batch, verify_running, "{name}");
        store.finish_verify("B-1", &verify_running, &done, &[("PN-000001".into(), 1)], 13).unwrap();
        let document = &store.documents(Some("B-1")).unwrap()[0];
        assert_eq!(document.state, "verified", "{name}");
        assert_eq!(document.dms, Some(DmsRecord { object_id: "4711".into(), verified: true }), "{name}");
        let kinds: Vec<String> = store.events("B-1").unwrap().into_iter().map(|event| event.kind).collect();
        assert!(
            kinds.ends_with(&["pushed".to_owned(), "claimed".to_owned(), "verified".to_owned()]),
            "{name}: {kinds:?}"
        );

        // The day it was verified counts its records and pages.
        let days = store.daily_throughput(0).unwrap();
        assert_eq!(days.len(), 1, "{name}: {days:?}");
        assert_eq!((days[0].day.as_str(), days[0].batches, days[0].records), ("1970-01-01", 1, 1), "{name}");
        assert!(store.daily_throughput(14).unwrap().is_empty(), "{name}: verified before the window");
    }
}

// --- The server's: users, uploads, progress and counts (migration 5).

fn new_user(user_id: &str, name: &str, role: &str) -> NewUser {
    NewUser {
        user_id: user_id.to_owned(),
        name: name.to_owned(),
        role: role.to_owned(),
        token_hash: format!("$argon2id$hash-of-{user_id}"),
    }
}

fn new_upload(batch_id: &str, user_id: &str) -> NewUpload {
    NewUpload {
        batch_id: batch_id.parse().unwrap(),
        user_id: user_id.to_owned(),
        source_name: format!("{batch_id}.zip"),
        bytes: 1234,
        sha256: "ab".repeat(32),
    }
}

#[test]
fn users_are_added_once_by_name_and_found_by_id() {
    for (name, store, _dir) in adapters() {
        let added = store.add_user(&new_user("u1", "Scan GmbH", "contractor"), 5).unwrap();
        let UserAdded::Added(row) = added else { panic!("{name}: {added:?}") };
        assert_eq!((row.role.as_str(), row.created_at_ms), ("contractor", 5), "{name}");
        let again = store.add_user(&new_user("u2", "Scan GmbH", "staff"), 6).unwrap();
        assert!(matches!(&again, UserAdded::NameTaken(row) if row.user_id == "u1"), "{name}: {again:?}");
        assert!(store.user("u2").unwrap().is_none(), "{name}: nothing added");
        store.add_user(&new_user("u3", "Archiv", "staff"), 7).unwrap();
        assert_eq!(store.user("u1").unwrap().unwrap().token_hash, "$argon2id$hash-of-u1", "{name}");
        let names: Vec<String> = store.users().unwrap().into_iter().map(|user| user.name).collect();
        assert_eq!(names, ["Archiv", "Scan GmbH"], "{name}");
        assert!(store.add_user(&new_user("u4", "X", "admin"), 8).is_err(), "{name}: unknown role");
    }
}

#[test]
fn an_upload_belongs_to_one_user_and_never_to_a_registered_batch() {
    for (name, store, _dir) in adapters() {
        store.add_user(&new_user("u1", "Scan GmbH", "contractor"), 1).unwrap();
        store.add_user(&new_user("u2", "Other GmbH", "contractor"), 1).unwrap();
        let claim = store.claim_upload(&new_upload("B-1", "u1"), 2).unwrap();
        assert!(matches!(&claim, UploadClaim::Claimed(row) if row.user_id == "u1"), "{name}: {claim:?}");
        assert_eq!(store.claim_upload(&new_upload("B-1", "u2"), 3).unwrap(), UploadClaim::OwnedByOther, "{name}");
        // The same user again (an upload that never reached the inbox): still theirs.
        let mut again = new_upload("B-1", "u1");
        again.bytes = 99;
        assert!(matches!(store.claim_upload(&again, 4).unwrap(), UploadClaim::Claimed(_)), "{name}");
        assert_eq!(store.upload("B-1").unwrap().unwrap().bytes, 99, "{name}");
        // Batches that arrived otherwise cannot be taken over.
        store.register_batch(&new_batch("B-2"), 5).unwrap();
        assert_eq!(store.claim_upload(&new_upload("B-2", "u1"), 6).unwrap(), UploadClaim::Registered, "{name}");
        assert!(store.upload("B-2").unwrap().is_none(), "{name}");
        assert!(store.claim_upload(&new_upload("B-3", "nobody"), 6).is_err(), "{name}: unknown user");

        store.claim_upload(&new_upload("B-4", "u2"), 7).unwrap();
        let mine: Vec<String> = store.uploads(Some("u1")).unwrap().into_iter().map(|row| row.batch_id).collect();
        assert_eq!(mine, ["B-1"], "{name}");
        assert_eq!(store.uploads(None).unwrap().len(), 2, "{name}");
        // The upload is in the batch's processing record, before its registration.
        store.register_batch(&new_batch("B-1"), 8).unwrap();
        let kinds: Vec<String> = store.events("B-1").unwrap().into_iter().map(|event| event.kind).collect();
        assert_eq!(kinds, ["uploaded", "uploaded", "registered"], "{name}");
    }
}

#[test]
fn order_stage_progress_counts_records_by_the_stage_all_their_documents_reached() {
    for (name, store, _dir) in adapters() {
        store.import_order(&order(&[("PN-000001", "A"), ("PN-000002", "B"), ("PN-000003", "C")]), 1).unwrap();
        let accepted = Batch { state: BatchState::Pending(Stage::Ocr), attempts: 0, not_before_ms: None };
        for (id, records) in [("B-1", &["PN-000001", "PN-000002"][..]), ("B-2", &["PN-000003"][..])] {
            store.register_batch(&new_batch(id), 1).unwrap();
            claim(&*store, id);
            let mut result = accepted_result(id, records);
            let to = if id == "B-2" {
                result.report =
                    AcceptanceReport::new(id, vec![Finding::new(ReasonCode::PageGap, "page 2 missing")], vec![]);
                Batch { state: BatchState::Rejected, attempts: 1, not_before_ms: None }
            } else {
                accepted.clone()
            };
            store.finish_validation(id, &running_validation(), &to, &result, 3).unwrap();
        }
        let ocr_running = Batch { state: BatchState::Running(Stage::Ocr), attempts: 1, not_before_ms: None };
        store.transition("B-1", &accepted, &ocr_running, &NewEvent::batch("B-1", "claimed", "ocr"), 4).unwrap();
        let document = |record: &str, document_no| DocumentRecord {
            batch_id: "B-1".into(),
            record_id: record.into(),
            document_no,
            state: "ocr_done".into(),
            page_nos: vec![1],
            efile: None,
            dms: None,
            classification: None,
            review: None,
        };
        let outcome = OcrOutcome {
            pages: vec![],
            documents: vec![document("PN-000001", 1), document("PN-000002", 1), document("PN-000002", 2)],
            warnings: vec![],
        };
        let efile_pending = Batch { state: BatchState::Pending(Stage::Efile), attempts: 0, not_before_ms: None };
        store.finish_ocr("B-1", &ocr_running, &efile_pending, &outcome, 5).unwrap();
        let efile_running = Batch { state: BatchState::Running(Stage::Efile), attempts: 1, not_before_ms: None };
        store
            .transition("B-1", &efile_pending, &efile_running, &NewEvent::batch("B-1", "claimed", "efile"), 6)
            .unwrap();
        let efile = EfileRecord { path: "x.pdf".into(), sha256: "cd".repeat(32), bytes: 1 };
        let push_pending = Batch { state: BatchState::Pending(Stage::Push), attempts: 0, not_before_ms: None };
        // One of PN-000002's two documents has its e-file: that record is not done.
        let efiles = [("PN-000001".to_owned(), 1, efile.clone()), ("PN-000002".to_owned(), 1, efile)];
        store.finish_efiles("B-1", &efile_running, &push_pending, &efiles, 7).unwrap();

        let progress = store.order_stage_progress().unwrap();
        assert_eq!(
            progress,
            [OrderStageProgress {
                order_id: "ORD-1".into(),
                series: "personnel".into(),
                records: 3,
                batches: 2,
                rejected_batches: 1,
                accepted: 2,
                ocr_done: 2,
                efile_done: 1,
                pushed: 0,
                verified: 0,
            }],
            "{name}"
        );

        let counts = store.counts().unwrap();
        let pairs = |list: &[(String, u64)]| -> Vec<(String, u64)> { list.to_vec() };
        assert_eq!(
            pairs(&counts.batches_by_state),
            [("push_pending".to_owned(), 1), ("rejected".to_owned(), 1)],
            "{name}"
        );
        assert_eq!(pairs(&counts.pages_by_status), [("pending".to_owned(), 2)], "{name}");
        assert_eq!(
            pairs(&counts.documents_by_state),
            [("efile_done".to_owned(), 2), ("ocr_done".to_owned(), 1)],
            "{name}"
        );
        assert!(counts.events_by_kind.contains(&("registered".to_owned(), 2)), "{name}: {:?}", counts.events_by_kind);
    }
}

#[test]
fn classified_documents_wait_for_review_until_a_person_decides() {
    for (name, store, _dir) in adapters() {
        store.import_order(&order(&[("PN-000001", "A")]), 1).unwrap();
        store.register_batch(&new_batch("B-1"), 1).unwrap();
        claim(&*store, "B-1");
        let accepted = Batch { state: BatchState::Pending(Stage::Ocr), attempts: 0, not_before_ms: None };
        store
            .finish_validation("B-1", &running_validation(), &accepted, &accepted_result("B-1", &["PN-000001"]), 3)
            .unwrap();
        let ocr_running = Batch { state: BatchState::Running(Stage::Ocr), attempts: 1, not_before_ms: None };
        store.transition("B-1", &accepted, &ocr_running, &NewEvent::batch("B-1", "claimed", "ocr"), 4).unwrap();
        let classified = |document_no: u32, doc_type: &str, confidence: f32, needs_review: bool| DocumentRecord {
            batch_id: "B-1".into(),
            record_id: "PN-000001".into(),
            document_no,
            state: "ocr_done".into(),
            page_nos: vec![document_no],
            efile: None,
            dms: None,
            classification: Some(Classification {
                doc_type: doc_type.into(),
                confidence,
                needs_review,
                fields: [("record_key".to_owned(), "PN-000001".to_owned())].into(),
            }),
            review: None,
        };
        let documents = vec![classified(1, "zeugnis", 0.99, false), classified(2, "beurteilung", 0.41, true)];
        let outcome = OcrOutcome { pages: vec![], documents: documents.clone(), warnings: vec![] };
        let efile_pending = Batch { state: BatchState::Pending(Stage::Efile), attempts: 0, not_before_ms: None };
        store.finish_ocr("B-1", &ocr_running, &efile_pending, &outcome, 5).unwrap();
        assert_eq!(store.documents(Some("B-1")).unwrap(), documents, "{name}");

        let queue = store.review_queue().unwrap();
        assert_eq!(queue.len(), 1, "{name}");
        assert!(queue[0].awaits_review() && queue[0].document_no == 2, "{name}");
        assert_eq!(queue[0].doc_type(), Some("beurteilung"), "{name}");

        assert!(store.decide_review("B-1", "PN-000001", 9, "zeugnis", "staff:anna", 6).is_err(), "{name}");
        store.decide_review("B-1", "PN-000001", 2, "zeugnis", "staff:anna", 6).unwrap();
        assert!(store.review_queue().unwrap().is_empty(), "{name}");
        let decided = &store.documents(Some("B-1")).unwrap()[1];
        assert!(!decided.awaits_review(), "{name}");
        assert_eq!(decided.doc_type(), Some("zeugnis"), "{name}: the decision rules");
        assert_eq!(decided.classification.as_ref().map(|c| c.doc_type.as_str()), Some("beurteilung"), "{name}");
        let last = store.events("B-1").unwrap().pop().unwrap();
        assert_eq!(last.kind, "review_decided", "{name}");
    }
}

#[test]
fn counts_time_stage_runs_and_count_dms_failures_from_the_event_log() {
    for (name, store, _dir) in adapters() {
        let event =
            |kind: &str, detail: &str, at: i64| store.append_event(&NewEvent::batch("B-9", kind, detail), at).unwrap();
        event("claimed", "push_running (attempt 1)", 1_000);
        event("failed", "dms timed out; now push_pending", 4_000);
        event("claimed", "push_running (attempt 2)", 10_000);
        event("pushed", "3 document(s) in the dms", 12_000);
        event("claimed", "verify_running (attempt 1)", 12_500);
        event("verified", "3 document(s) read back from the dms unchanged", 13_500);
        event("claimed", "ocr_running (attempt 1)", 20_000);
        let counts = store.counts().unwrap();
        assert_eq!(counts.stage_runs, [("push".to_owned(), 2, 5_000), ("verify".to_owned(), 1, 1_000)], "{name}");
        assert_eq!(counts.dms_failures, 1, "{name}");
    }
}
