//! The staff dashboard: login, session cookie, CSRF-guarded forms, and what
//! the pages show.

use axum::body::Body;
use axum::http::{Method, StatusCode};
use scan2dms_core::{Batch, BatchState, Stage};
use scan2dms_model::{AcceptanceReport, Finding, ReasonCode};
use scan2dms_store::{NewEvent, StateStore, ValidationResult};

use crate::{Env, Reply, request};

pub async fn login(env: &Env, token: &str, next: &str) -> Reply {
    let form = format!("token={token}&next={}", next.replace('/', "%2F"));
    let request = request(Method::POST, "/login", None).header("content-type", "application/x-www-form-urlencoded");
    env.call(request.body(Body::from(form)).unwrap()).await
}

pub async fn page(env: &Env, path: &str, cookie: &str) -> Reply {
    env.call(request(Method::GET, path, None).header("cookie", cookie).body(Body::empty()).unwrap()).await
}

pub async fn post_form(env: &Env, path: &str, cookie: &str, form: &str) -> Reply {
    let request = request(Method::POST, path, None)
        .header("cookie", cookie)
        .header("content-type", "application/x-www-form-urlencoded");
    env.call(request.body(Body::from(form.to_owned())).unwrap()).await
}

/// The session cookie (`name=value`) a login answered with.
pub fn session_cookie(reply: &Reply) -> String {
    reply.header("set-cookie").split(';').next().unwrap().to_owned()
}

pub fn csrf_in(html: &str) -> String {
    let start = html.find("name=\"csrf\" value=\"").expect("a form with a csrf token") + 19;
    html[start..].split('"').next().unwrap().to_owned()
}

fn failed_batch(store: &dyn StateStore, batch_id: &str, error: &str) {
    let failed = Batch { state: BatchState::Failed(Stage::Ocr), attempts: 3, not_before_ms: None };
    store.transition(batch_id, &Batch::received(), &failed, &NewEvent::batch(batch_id, "failed", error), 2).unwrap();
}

fn rejected_batch(store: &dyn StateStore, batch_id: &str) {
    let running = Batch { state: BatchState::Running(Stage::Validate), attempts: 1, not_before_ms: None };
    store
        .transition(batch_id, &Batch::received(), &running, &NewEvent::batch(batch_id, "claimed", "validate"), 2)
        .unwrap();
    let report = AcceptanceReport::new(
        batch_id,
        vec![Finding::new(ReasonCode::PageGap, "page 2 <missing>").record("PN-000001")],
        vec![],
    );
    let result = ValidationResult { report, order_id: None, records: vec![], pages: vec![] };
    let rejected = Batch { state: BatchState::Rejected, attempts: 1, not_before_ms: None };
    store.finish_validation(batch_id, &running, &rejected, &result, 3).unwrap();
}

#[tokio::test]
async fn staff_log_in_with_their_token_and_get_a_strict_httponly_session() {
    let env = Env::new();
    let reply = login(&env, "nonsense", "/").await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert!(reply.text().contains("Anmeldung fehlgeschlagen"));
    assert!(reply.header("set-cookie").is_empty());
    let reply = login(&env, &env.contractor, "/").await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "contractors have no dashboard");
    assert!(reply.header("set-cookie").is_empty());

    let reply = login(&env, &env.staff, "/batches/SSN-0007-001").await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    assert_eq!(reply.header("location"), "/batches/SSN-0007-001");
    let set_cookie = reply.header("set-cookie");
    assert!(set_cookie.starts_with("scan2dms_session="), "{set_cookie}");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(set_cookie.contains(attribute), "{set_cookie}");
    }
    // Only paths of this site are followed after a login.
    assert_eq!(login(&env, &env.staff, "https://evil.example/").await.header("location"), "/");
    assert_eq!(login(&env, &env.staff, "//evil.example/").await.header("location"), "/");

    let cookie = session_cookie(&reply);
    let overview = page(&env, "/", &cookie).await;
    assert_eq!(overview.status, StatusCode::OK, "{}", overview.text());
    let html = overview.text();
    assert!(html.contains("Fortschritt je Serie und Auftrag"), "{html}");
    assert!(html.contains("http-equiv=\"refresh\""), "pages reload themselves");
    assert!(overview.header("content-security-policy").contains("default-src 'none'"));

    // Logging out ends the session on the server, not only the cookie.
    let csrf = csrf_in(&html);
    let reply = post_form(&env, "/logout", &cookie, &format!("csrf={csrf}")).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    assert!(reply.header("set-cookie").contains("Max-Age=0"));
    assert_eq!(page(&env, "/", &cookie).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_overview_shows_progress_failures_and_rejections_with_retry_buttons() {
    let env = Env::new();
    crate::import_orders(&*env.store);
    env.register_from_inbox("SSN-0007-001");
    failed_batch(&*env.store, "SSN-0007-001", "tesseract <died>");
    env.register_from_inbox("SSN-0007-003");
    rejected_batch(&*env.store, "SSN-0007-003");
    let cookie = session_cookie(&login(&env, &env.staff, "/").await);
    let html = page(&env, "/", &cookie).await.text();
    for expected in [
        "Personalakten",
        "Steuerakten",
        "ORD-0007-PERS",
        "Fehlgeschlagene Stufen",
        "fehlgeschlagen: Texterkennung",
        "tesseract &lt;died&gt;",
        "Abgelehnte Lieferungen",
        "<code>page_gap</code> page 2 &lt;missing&gt;",
        "action=\"/batches/SSN-0007-001/retry\"",
        "action=\"/batches/SSN-0007-003/retry\"",
        "Eingangsordner",
        "Durchsatz und Prognose",
    ] {
        assert!(html.contains(expected), "{expected} missing in\n{html}");
    }
    assert!(!html.contains("<died>"), "text from outside is escaped");
}

#[tokio::test]
async fn a_retry_form_needs_the_sessions_csrf_token() {
    let env = Env::new();
    env.register_from_inbox("SSN-0007-001");
    failed_batch(&*env.store, "SSN-0007-001", "disk full");
    let cookie = session_cookie(&login(&env, &env.staff, "/").await);
    let html = page(&env, "/batches/SSN-0007-001", &cookie).await.text();
    assert!(html.contains("Ereignisprotokoll") && html.contains("disk full"), "{html}");
    let csrf = csrf_in(&html);

    let reply = post_form(&env, "/batches/SSN-0007-001/retry", &cookie, "from_stage=").await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "no token: {}", reply.text());
    let reply = post_form(&env, "/batches/SSN-0007-001/retry", &cookie, "csrf=0000&from_stage=").await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "a wrong token");
    assert_eq!(env.store.batch("SSN-0007-001").unwrap().unwrap().batch.state, BatchState::Failed(Stage::Ocr));

    let reply = post_form(&env, "/batches/SSN-0007-001/retry", &cookie, &format!("csrf={csrf}&from_stage=ocr")).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.text());
    assert_eq!(reply.header("location"), "/batches/SSN-0007-001?retried=1");
    let row = env.store.batch("SSN-0007-001").unwrap().unwrap();
    assert_eq!(row.batch.state, BatchState::Pending(Stage::Ocr));
    let event = env.store.events("SSN-0007-001").unwrap().pop().unwrap();
    assert_eq!(event.kind, "retry_requested");
    assert!(event.detail.starts_with("from ocr; now accepted; requested by user "), "{}", event.detail);
    let html = page(&env, "/batches/SSN-0007-001?retried=1", &cookie).await.text();
    assert!(html.contains("Wiederholung angefordert"));

    // Not retryable now: a page that says why, with 409.
    let reply = post_form(&env, "/batches/SSN-0007-001/retry", &cookie, &format!("csrf={csrf}")).await;
    assert_eq!(reply.status, StatusCode::CONFLICT);
    assert!(reply.text().contains("Nicht möglich"));
}

#[tokio::test]
async fn the_api_retry_runs_a_rejected_batch_again() {
    let env = Env::new();
    env.register_from_inbox("SSN-0007-003");
    rejected_batch(&*env.store, "SSN-0007-003");
    let retry = |body: &'static str| {
        request(Method::POST, "/api/batches/SSN-0007-003/retry", Some(&env.staff))
            .header("content-type", "application/json")
            .body(Body::from(body))
            .unwrap()
    };
    let reply = env.call(retry(r#"{"from_stage": "ocr"}"#)).await;
    assert_eq!(reply.status, StatusCode::CONFLICT, "a rejected batch is validated again, nothing else");
    let reply = env.call(retry(r#"{"from_stage": "paint"}"#)).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let reply = env.call(retry("")).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.json()["from_state"], "rejected");
    assert_eq!(reply.json()["state"], "received");
    let reply = env
        .call(request(Method::POST, "/api/batches/SSN-0007-404/retry", Some(&env.staff)).body(Body::empty()).unwrap())
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
}
