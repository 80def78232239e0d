//! The review queue: listing it, deciding through the API and the
//! dashboard's form, what is refused and with which status, and the page
//! thumbnails a reviewer decides by.

use std::path::Path;

use axum::body::Body;
use axum::http::{Method, StatusCode};
use scan2dms_core::{Batch, BatchState, Stage};
use scan2dms_model::AcceptanceReport;
use scan2dms_store::{
    Classification, DeliveredRecord, DocumentRecord, NewBatch, NewEvent, OcrOutcome, PageRecord, PageResult,
    StateStore, ValidationResult,
};

use crate::dashboard::{csrf_in, login, page, post_form, session_cookie};
use crate::{Env, Reply, import_orders, request};

/// The batch of [`review_batch`] in these tests.
pub const REVIEW_BATCH: &str = "SSN-0007-050";
/// Its one record: on ORD-0007-PERS, and in no fixture delivery.
pub const REVIEW_RECORD: &str = "PN-957380";
/// The document that waits for review.
pub const IN_REVIEW: &str = "SSN-0007-050/PN-957380/1";

/// A batch as the pipeline leaves it after the OCR stage, written through
/// the store: its record's first document (pages 1 and 2) was classified
/// `beurteilung` with confidence 0.41 and waits for review; the second
/// (page 3) is a confident `zeugnis`. The pages are real images from
/// fixtures/images: a G4 TIFF, a PNG that was stored a quarter turn off
/// (rotation 90), and the second page of a two-page TIFF. The fixture
/// orders must be imported first.
pub fn review_batch(env: &Env, batch_id: &str) {
    let store: &dyn StateStore = &*env.store;
    let source_path = format!("batches/{batch_id}/source/{batch_id}");
    let images = env.dir.path().join(&source_path).join("data/images").join(REVIEW_RECORD);
    std::fs::create_dir_all(&images).unwrap();
    let fixture_images = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/images");
    for (fixture, file) in
        [("g4-300dpi.tif", "0001.tif"), ("bitonal.png", "0002.png"), ("multipage-g4.tif", "0003.tif")]
    {
        std::fs::copy(fixture_images.join(fixture), images.join(file)).unwrap();
    }
    let new_batch = NewBatch {
        batch_id: batch_id.parse().unwrap(),
        source_name: batch_id.to_owned(),
        source_path: source_path.clone(),
    };
    store.register_batch(&new_batch, 1).unwrap();

    let validating = Batch { state: BatchState::Running(Stage::Validate), attempts: 1, not_before_ms: None };
    let claimed = NewEvent::batch(batch_id, "claimed", "validate");
    store.transition(batch_id, &Batch::received(), &validating, &claimed, 2).unwrap();
    let page = |page_no: u32, document_no: u32, file: &str, file_page: u32| PageRecord {
        record_id: REVIEW_RECORD.to_owned(),
        page_no,
        document_no: Some(document_no),
        file: format!("images/{REVIEW_RECORD}/{file}"),
        file_page,
        sha256: None,
        result: None,
    };
    let validation = ValidationResult {
        report: AcceptanceReport::new(batch_id, vec![], vec![]),
        order_id: Some("ORD-0007-PERS".parse().unwrap()),
        records: vec![DeliveredRecord {
            record_id: REVIEW_RECORD.parse().unwrap(),
            title: "Kühn, Sabine".to_owned(),
            box_id: "BOX-001844".to_owned(),
            pages: 3,
        }],
        pages: vec![page(1, 1, "0001.tif", 1), page(2, 1, "0002.png", 1), page(3, 2, "0003.tif", 2)],
    };
    let ocr_pending = Batch { state: BatchState::Pending(Stage::Ocr), attempts: 0, not_before_ms: None };
    store.finish_validation(batch_id, &validating, &ocr_pending, &validation, 3).unwrap();

    let ocr_running = Batch { state: BatchState::Running(Stage::Ocr), attempts: 1, not_before_ms: None };
    store.transition(batch_id, &ocr_pending, &ocr_running, &NewEvent::batch(batch_id, "claimed", "ocr"), 4).unwrap();
    let read = |rotation: u16| PageResult {
        status: "ok".to_owned(),
        confidence: Some(88.0),
        blank: false,
        separator: false,
        rotation,
        skew: None,
        dpi: Some(300.0),
        text: String::new(),
    };
    let document = |document_no: u32, page_nos: Vec<u32>, doc_type: &str, confidence: f32| DocumentRecord {
        batch_id: batch_id.to_owned(),
        record_id: REVIEW_RECORD.to_owned(),
        document_no,
        state: "ocr_done".to_owned(),
        page_nos,
        efile: None,
        dms: None,
        classification: Some(Classification {
            doc_type: doc_type.to_owned(),
            confidence,
            needs_review: confidence < 0.9,
            fields: [
                ("record_key".to_owned(), REVIEW_RECORD.to_owned()),
                ("document_date".to_owned(), "2019-03-14".to_owned()),
            ]
            .into(),
        }),
        review: None,
    };
    let outcome = OcrOutcome {
        pages: vec![
            (REVIEW_RECORD.to_owned(), 1, read(0)),
            (REVIEW_RECORD.to_owned(), 2, read(90)),
            (REVIEW_RECORD.to_owned(), 3, read(0)),
        ],
        documents: vec![document(1, vec![1, 2], "beurteilung", 0.41), document(2, vec![3], "zeugnis", 0.97)],
        warnings: vec![],
    };
    let efile_pending = Batch { state: BatchState::Pending(Stage::Efile), attempts: 0, not_before_ms: None };
    store.finish_ocr(batch_id, &ocr_running, &efile_pending, &outcome, 5).unwrap();
    assert_eq!(store.review_queue().unwrap().len(), 1, "one document waits for review");
}

fn env_with_review() -> Env {
    let env = Env::new();
    import_orders(&*env.store);
    review_batch(&env, REVIEW_BATCH);
    env
}

async fn decide(env: &Env, token: &str, document: &str, body: &str) -> Reply {
    let request = request(Method::POST, &format!("/api/review/{document}"), Some(token))
        .header("content-type", "application/json")
        .body(Body::from(body.to_owned()))
        .unwrap();
    env.call(request).await
}

/// Width and height from a PNG's header.
fn png_size(png: &[u8]) -> (u32, u32) {
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG");
    let number = |at: usize| u32::from_be_bytes(png[at..at + 4].try_into().unwrap());
    (number(16), number(20))
}

fn thumbnail(page_no: u32) -> String {
    format!("/batches/{REVIEW_BATCH}/records/{REVIEW_RECORD}/pages/{page_no}/thumbnail")
}

#[tokio::test]
async fn the_queue_lists_each_document_with_its_guess_series_allowed_types_and_pages() {
    let env = env_with_review();
    let reply = env.get("/api/review", Some(&env.staff)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let queue = reply.json();
    let items = queue.as_array().unwrap();
    assert_eq!(items.len(), 1, "the confident document is not in review: {queue}");
    let item = &items[0];
    assert_eq!(item["document"], IN_REVIEW);
    assert_eq!((item["batch_id"].as_str(), item["record_id"].as_str()), (Some(REVIEW_BATCH), Some(REVIEW_RECORD)));
    assert_eq!(item["document_no"], 1);
    assert_eq!(item["doc_type"], "beurteilung");
    assert!((item["confidence"].as_f64().unwrap() - 0.41).abs() < 1e-6, "{item}");
    assert_eq!(item["series"], "personnel");
    let allowed: Vec<&str> = item["allowed_types"].as_array().unwrap().iter().map(|t| t.as_str().unwrap()).collect();
    assert_eq!(allowed.len(), 11, "{allowed:?}");
    assert!(allowed.contains(&"zeugnis") && allowed.contains(&"deckblatt"), "{allowed:?}");
    assert!(!allowed.contains(&"mahnung"), "tax types are not for a personnel record: {allowed:?}");
    assert_eq!(item["fields"]["record_key"], REVIEW_RECORD);
    assert_eq!(item["pages"][0]["page_no"], 1);
    assert_eq!(item["pages"][1]["thumbnail"], thumbnail(2));
    assert_eq!(item["links"]["decide"], format!("/api/review/{IN_REVIEW}"));
}

#[tokio::test]
async fn a_decision_is_stored_with_the_staff_name_and_takes_the_document_out_of_the_queue() {
    let env = env_with_review();
    let reply = decide(&env, &env.staff, IN_REVIEW, r#"{"doc_type": "zeugnis"}"#).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let decided = reply.json();
    assert_eq!(decided["document"], IN_REVIEW);
    assert_eq!(decided["doc_type"], "zeugnis");
    assert_eq!(decided["decided_by"], "staff:Archiv der Stadt");

    assert!(env.store.review_queue().unwrap().is_empty());
    let document = &env.store.documents(Some(REVIEW_BATCH)).unwrap()[0];
    let review = document.review.as_ref().unwrap();
    assert_eq!((review.doc_type.as_str(), review.decided_by.as_str()), ("zeugnis", "staff:Archiv der Stadt"));
    assert_eq!(document.doc_type(), Some("zeugnis"), "the decision rules over the guess");
    let event = env.store.events(REVIEW_BATCH).unwrap().pop().unwrap();
    assert_eq!(event.kind, "review_decided");
    assert_eq!(env.get("/api/review", Some(&env.staff)).await.json(), serde_json::json!([]));

    // Decided is decided: a second decision (a second reviewer, a resent form) is refused.
    let reply = decide(&env, &env.staff, IN_REVIEW, r#"{"doc_type": "beurteilung"}"#).await;
    assert_eq!(reply.status, StatusCode::CONFLICT, "{}", reply.text());
    assert!(reply.json()["message"].as_str().unwrap().contains("decided already"), "{}", reply.text());
}

#[tokio::test]
async fn a_type_that_is_unknown_or_not_of_the_series_is_422_and_a_bad_body_400() {
    let env = env_with_review();
    for doc_type in ["mahnung", "steuerbescheid", "paint", "Zeugnis", ""] {
        let reply = decide(&env, &env.staff, IN_REVIEW, &format!(r#"{{"doc_type": "{doc_type}"}}"#)).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{doc_type}: {}", reply.text());
        assert_eq!(reply.json()["error"], "unprocessable");
    }
    let reply = decide(&env, &env.staff, IN_REVIEW, r#"{"doc_type": "mahnung"}"#).await;
    assert!(reply.json()["message"].as_str().unwrap().contains("personnel series"), "{}", reply.text());
    for body in ["", "zeugnis", r#"{"type": "zeugnis"}"#] {
        let reply = decide(&env, &env.staff, IN_REVIEW, body).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body:?}: {}", reply.text());
    }
    assert_eq!(env.store.review_queue().unwrap().len(), 1, "nothing was decided");
}

#[tokio::test]
async fn an_unknown_document_is_404_and_one_not_in_review_409() {
    let env = env_with_review();
    for document in [
        "SSN-0007-404/PN-957380/1",
        "SSN-0007-050/PN-534303/1",
        "SSN-0007-050/PN-957380/9",
        "SSN-0007-050/PN-957380/one",
    ] {
        let reply = decide(&env, &env.staff, document, r#"{"doc_type": "zeugnis"}"#).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{document}: {}", reply.text());
    }
    let reply = decide(&env, &env.staff, "SSN-0007-050/PN-957380/2", r#"{"doc_type": "zeugnis"}"#).await;
    assert_eq!(reply.status, StatusCode::CONFLICT, "the confident document was never in review");
    assert!(reply.json()["message"].as_str().unwrap().contains("not sent to review"));
}

#[tokio::test]
async fn contractors_may_neither_list_nor_decide_nor_see_pages() {
    let env = env_with_review();
    assert_eq!(env.get("/api/review", Some(&env.contractor)).await.status, StatusCode::FORBIDDEN);
    let reply = decide(&env, &env.contractor, IN_REVIEW, r#"{"doc_type": "zeugnis"}"#).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.text());
    assert_eq!(env.get(&thumbnail(1), Some(&env.contractor)).await.status, StatusCode::FORBIDDEN);
    assert_eq!(env.store.review_queue().unwrap().len(), 1, "nothing was decided");
}

#[tokio::test]
async fn thumbnails_are_upright_pngs_300_pixels_wide_for_staff_only() {
    let env = env_with_review();
    // A4 at 300 dpi is 2480x3508; the second page was stored a quarter turn
    // off, and page 3 is the second page of its file.
    for (page_no, size) in [(1, (300, 424)), (2, (300, 212)), (3, (300, 424))] {
        let reply = env.get(&thumbnail(page_no), Some(&env.staff)).await;
        assert_eq!(reply.status, StatusCode::OK, "page {page_no}: {}", reply.text());
        assert_eq!(reply.header("content-type"), "image/png");
        assert!(reply.header("cache-control").starts_with("private"), "{}", reply.header("cache-control"));
        assert_eq!(png_size(&reply.body), size, "page {page_no}");
    }
    assert_eq!(env.get(&thumbnail(1), None).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(env.get(&thumbnail(9), Some(&env.staff)).await.status, StatusCode::NOT_FOUND);
    let other_batch = format!("/batches/SSN-0007-404/records/{REVIEW_RECORD}/pages/1/thumbnail");
    assert_eq!(env.get(&other_batch, Some(&env.staff)).await.status, StatusCode::NOT_FOUND);

    // A page whose image is gone is a 404, not a server error.
    let image = env.dir.path().join(format!("batches/{REVIEW_BATCH}/source/{REVIEW_BATCH}/data/images"));
    std::fs::remove_file(image.join(REVIEW_RECORD).join("0001.tif")).unwrap();
    assert_eq!(env.get(&thumbnail(1), Some(&env.staff)).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_review_page_shows_pages_guess_and_fields_and_its_form_decides_with_the_csrf_token() {
    let env = env_with_review();
    let cookie = session_cookie(&login(&env, &env.staff, "/").await);
    let overview = page(&env, "/", &cookie).await.text();
    assert!(overview.contains("<a href=\"/review\">1 Dokument zur Prüfung</a>"), "{overview}");
    assert!(overview.contains("<nav><a href=\"/\">Übersicht</a><a href=\"/review\">Prüfung</a></nav>"));

    let reply = page(&env, "/review", &cookie).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let html = reply.text();
    for expected in [
        "Prüfung der Dokumenttypen",
        "Akte PN-957380 · Dokument 1",
        "<strong>Beurteilung</strong> <span class=\"muted\">(Konfidenz 41,0 %)</span>",
        "Personalakten",
        "<dt>Ordnungsbegriff im Text</dt><dd>PN-957380</dd>",
        "<dt>Datum</dt><dd>14.03.2019</dd>",
        &format!("<img src=\"{}\"", thumbnail(1)),
        &format!("<img src=\"{}\"", thumbnail(2)),
        "action=\"/review/SSN-0007-050/PN-957380/1\"",
        "<option value=\"beurteilung\" selected>Beurteilung</option>",
        "<option value=\"zeugnis\">Zeugnis</option>",
        "Entscheiden",
    ] {
        assert!(html.contains(expected), "{expected} missing in\n{html}");
    }
    assert!(!html.contains("value=\"mahnung\""), "only the series' types are offered");
    assert!(!html.contains("Dokument 2"), "the confident document is not in review");
    assert!(!html.contains("http-equiv=\"refresh\""), "a half-made choice is not reloaded away");

    let action = "/review/SSN-0007-050/PN-957380/1";
    let reply = post_form(&env, action, &cookie, "doc_type=zeugnis").await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "no csrf token: {}", reply.text());
    assert_eq!(env.store.review_queue().unwrap().len(), 1);

    let csrf = csrf_in(&html);
    let reply = post_form(&env, action, &cookie, &format!("csrf={csrf}&doc_type=mahnung")).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", reply.text());
    let reply = post_form(&env, action, &cookie, &format!("csrf={csrf}&doc_type=zeugnis")).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.text());
    let location = reply.header("location").to_owned();
    assert_eq!(location, "/review?decided=SSN-0007-050/PN-957380/1&doc_type=zeugnis");
    let review = env.store.documents(Some(REVIEW_BATCH)).unwrap()[0].review.clone().unwrap();
    assert_eq!((review.doc_type.as_str(), review.decided_by.as_str()), ("zeugnis", "staff:Archiv der Stadt"));

    let html = page(&env, &location, &cookie).await.text();
    assert!(html.contains("Entschieden: Dokument SSN-0007-050/PN-957380/1 ist Zeugnis."), "{html}");
    assert!(html.contains("Keine Dokumente warten auf Prüfung."), "{html}");
    let batch = page(&env, &format!("/batches/{REVIEW_BATCH}"), &cookie).await.text();
    assert!(batch.contains("Zeugnis <span class=\"muted\">(entschieden von staff:Archiv der Stadt)</span>"), "{batch}");
    let reply = post_form(&env, action, &cookie, &format!("csrf={csrf}&doc_type=zeugnis")).await;
    assert_eq!(reply.status, StatusCode::CONFLICT, "a form sent twice decides once");
}
