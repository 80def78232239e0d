//! Exactly once: what the algorithm does on every kind of failure, shown
//! as the calls it made.

use std::path::Path;
use std::time::Duration;

use expect_test::{Expect, expect};
use scan2dms_dms::{
    DmsError, DocumentSpec, FolderSpec, ObjectId, PushError, PushOutcome, PushRequest, RegisterSpec, ensure_folder,
    ensure_register, push_document, verify,
};

use crate::fake::{CONTENT_LENGTH, CONTENT_SHA256, FakeDms, Fault, Sleeps, policy};

fn document(external_id: &str) -> DocumentSpec {
    DocumentSpec {
        external_id: external_id.to_owned(),
        file_name: "doc.pdf".to_owned(),
        mime_type: "application/pdf".to_owned(),
        fields: Default::default(),
    }
}

/// Pushes document `D1` into a seeded folder and checks the transcript.
fn push(dms: &FakeDms, max_attempts: u32, transcript: Expect) -> (Result<PushOutcome, PushError>, Vec<Duration>) {
    let folder = dms.seed("folder", None, "R1");
    let document = document("D1");
    let request = PushRequest { parent: &folder, document: &document, content: Path::new("doc.pdf") };
    let sleeps = Sleeps::default();
    let outcome = push_document(dms, &request, &policy(max_attempts), &|duration| sleeps.sleep(duration));
    transcript.assert_eq(&dms.transcript());
    (outcome, sleeps.taken())
}

fn id(value: &str) -> ObjectId {
    ObjectId::parse(value).unwrap()
}

#[test]
fn a_new_document_is_searched_for_then_inserted() {
    let dms = FakeDms::new();
    let (outcome, sleeps) = push(
        &dms,
        3,
        expect![[r#"
        find_document D1 -> []
        insert_document D1 -> 2"#]],
    );
    assert_eq!(outcome.unwrap(), PushOutcome { object_id: id("2"), created: true });
    assert!(sleeps.is_empty());
}

#[test]
fn a_document_already_there_is_reused_not_inserted() {
    let dms = FakeDms::new();
    let parent = dms.seed("folder", None, "R0");
    dms.seed("document", Some(&parent), "D1");
    let (outcome, _) = push(&dms, 3, expect!["find_document D1 -> [2]"]);
    assert_eq!(outcome.unwrap(), PushOutcome { object_id: id("2"), created: false });
}

#[test]
fn an_insert_whose_answer_was_lost_after_the_commit_leaves_no_duplicate() {
    let dms = FakeDms::new();
    dms.fail("insert_document", &[Fault::LostAfterCommit]);
    let (outcome, sleeps) = push(
        &dms,
        3,
        expect![[r#"
        find_document D1 -> []
        insert_document D1 -> 2, answer lost
        find_document D1 -> [2]"#]],
    );
    assert_eq!(outcome.unwrap(), PushOutcome { object_id: id("2"), created: true });
    assert_eq!(dms.objects("document", "D1").len(), 1);
    assert_eq!(sleeps.len(), 1);
}

#[test]
fn after_a_lost_answer_no_insert_is_sent_until_a_search_succeeded() {
    let dms = FakeDms::new();
    dms.fail("insert_document", &[Fault::LostAfterCommit]);
    dms.fail("find_document", &[Fault::Transient, Fault::Transient, Fault::Transient]);
    let (outcome, sleeps) = push(
        &dms,
        6,
        expect![[r#"
        find_document fails: Transient
        find_document fails: Transient
        find_document fails: Transient
        find_document D1 -> []
        insert_document D1 -> 2, answer lost
        find_document D1 -> [2]"#]],
    );
    assert_eq!(outcome.unwrap(), PushOutcome { object_id: id("2"), created: true });
    assert_eq!(dms.objects("document", "D1").len(), 1);
    assert_eq!(sleeps.len(), 4);
}

#[test]
fn an_insert_that_failed_before_committing_is_sent_again_after_a_search() {
    let dms = FakeDms::new();
    dms.fail("insert_document", &[Fault::Transient]);
    let (outcome, _) = push(
        &dms,
        3,
        expect![[r#"
        find_document D1 -> []
        insert_document fails: Transient
        find_document D1 -> []
        insert_document D1 -> 2"#]],
    );
    assert_eq!(outcome.unwrap(), PushOutcome { object_id: id("2"), created: true });
}

#[test]
fn a_rejected_insert_fails_at_once_with_the_server_message() {
    let dms = FakeDms::new();
    dms.fail("insert_document", &[Fault::Rejected(422, "field ExtId is unknown")]);
    let (outcome, sleeps) = push(
        &dms,
        5,
        expect![[r#"
        find_document D1 -> []
        insert_document fails: Rejected(422, "field ExtId is unknown")"#]],
    );
    let error = outcome.unwrap_err();
    match error.dms_error() {
        Some(DmsError::Rejected { status: 422, message, .. }) => assert_eq!(message, "field ExtId is unknown"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(error, PushError::Failed { .. }));
    assert!(sleeps.is_empty());
    expect![[r#"document with external id "D1": insert_document: rejected with status 422: field ExtId is unknown"#]]
        .assert_eq(&error.to_string());
}

#[test]
fn refused_credentials_fail_at_once() {
    let dms = FakeDms::new();
    dms.fail("find_document", &[Fault::Unauthorized]);
    let (outcome, sleeps) = push(&dms, 5, expect!["find_document fails: Unauthorized"]);
    assert!(matches!(outcome.unwrap_err().dms_error(), Some(DmsError::Unauthorized { status: 401, .. })));
    assert!(sleeps.is_empty());
}

#[test]
fn transient_failures_are_retried_a_bounded_number_of_times_with_growing_backoff() {
    let dms = FakeDms::new();
    dms.fail("find_document", &[Fault::Transient; 10]);
    let (outcome, sleeps) = push(
        &dms,
        4,
        expect![[r#"
        find_document fails: Transient
        find_document fails: Transient
        find_document fails: Transient
        find_document fails: Transient"#]],
    );
    match outcome.unwrap_err() {
        PushError::Exhausted { attempts: 4, source, .. } => assert!(source.is_transient()),
        other => panic!("{other:?}"),
    }
    // Three sleeps between four attempts, each within its jittered band.
    let bands = [(50, 100), (100, 200), (200, 400)];
    assert_eq!(sleeps.len(), bands.len());
    for (sleep, (low, high)) in sleeps.iter().zip(bands) {
        assert!(*sleep >= Duration::from_millis(low) && *sleep <= Duration::from_millis(high), "{sleeps:?}");
    }
}

#[test]
fn duplicates_are_reported_with_their_ids_and_nothing_is_inserted() {
    let dms = FakeDms::new();
    let parent = dms.seed("folder", None, "R0");
    dms.seed("document", Some(&parent), "D1");
    dms.seed("document", Some(&parent), "D1");
    let (outcome, _) = push(&dms, 3, expect!["find_document D1 -> [2, 3]"]);
    let error = outcome.unwrap_err();
    expect![[r#"document with external id "D1": found 2 objects (2, 3), expected at most one"#]]
        .assert_eq(&error.to_string());
}

#[test]
fn folders_and_registers_are_found_or_created_the_same_way() {
    let dms = FakeDms::new();
    dms.fail("create_folder", &[Fault::LostAfterCommit]);
    dms.fail("create_register", &[Fault::Transient]);
    let sleeps = Sleeps::default();
    let sleep = |duration| sleeps.sleep(duration);
    let folder = FolderSpec { key: "R1".to_owned(), fields: Default::default() };
    let first = ensure_folder(&dms, &folder, &policy(3), &sleep).unwrap();
    let again = ensure_folder(&dms, &folder, &policy(3), &sleep).unwrap();
    assert_eq!(first, PushOutcome { object_id: id("1"), created: true });
    assert_eq!(again, PushOutcome { object_id: id("1"), created: false });

    let register = RegisterSpec { name: "Zeugnisse".to_owned(), fields: Default::default() };
    let created = ensure_register(&dms, &first.object_id, &register, &policy(3), &sleep).unwrap();
    assert_eq!(created, PushOutcome { object_id: id("2"), created: true });
    let other_folder = dms.seed("folder", None, "R2");
    let elsewhere = ensure_register(&dms, &other_folder, &register, &policy(3), &sleep).unwrap();
    assert_eq!(elsewhere, PushOutcome { object_id: id("4"), created: true });
    expect![[r#"
        find_folder R1 -> []
        create_folder R1 -> 1, answer lost
        find_folder R1 -> [1]
        find_folder R1 -> [1]
        find_register Zeugnisse -> []
        create_register fails: Transient
        find_register Zeugnisse -> []
        create_register Zeugnisse -> 2
        find_register Zeugnisse -> []
        create_register Zeugnisse -> 4"#]]
    .assert_eq(&dms.transcript());
    assert_eq!(sleeps.taken().len(), 2);
}

#[test]
fn verify_compares_digest_and_length_and_retries_transient_reads() {
    let dms = FakeDms::new();
    let object = id("7");
    let sleeps = Sleeps::default();
    let sleep = |duration| sleeps.sleep(duration);
    dms.fail("fetch_content", &[Fault::Transient]);
    let digest = verify(&dms, &object, &CONTENT_SHA256.to_uppercase(), CONTENT_LENGTH, &policy(3), &sleep).unwrap();
    assert_eq!(digest.sha256, CONTENT_SHA256);

    dms.fail("fetch_content", &[Fault::WrongContent]);
    let error = verify(&dms, &object, CONTENT_SHA256, CONTENT_LENGTH, &policy(3), &sleep).unwrap_err();
    assert!(matches!(error, PushError::Mismatch { actual_length: 5, expected_length: 4, .. }), "{error:?}");

    dms.fail("fetch_content", &[Fault::Rejected(404, "object 7 not found")]);
    let error = verify(&dms, &object, CONTENT_SHA256, CONTENT_LENGTH, &policy(3), &sleep).unwrap_err();
    assert!(matches!(error.dms_error(), Some(DmsError::Rejected { status: 404, .. })));
    expect![[r#"
        fetch_content fails: Transient
        fetch_content 7
        fetch_content 7 -> other content
        fetch_content fails: Rejected(404, "object 7 not found")"#]]
    .assert_eq(&dms.transcript());
    assert_eq!(sleeps.taken().len(), 1);
}
