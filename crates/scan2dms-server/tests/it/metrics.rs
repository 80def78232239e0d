//! `/metrics` in Prometheus text format.

use axum::http::StatusCode;

use crate::Env;

#[tokio::test]
async fn metrics_count_batches_pages_documents_and_uploads() {
    let env = Env::new();
    env.register_from_inbox("SSN-0007-001");
    let reply = crate::plain::plain_upload(&env, &env.contractor, "SSN-0007-002.zip", b"PK".to_vec()).await;
    assert_eq!(reply.status, StatusCode::CREATED);
    let reply = env.get("/metrics", Some(&env.staff)).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.header("content-type").starts_with("text/plain; version=0.0.4"));
    let text = reply.text();
    for line in [
        "# TYPE scan2dms_batches gauge",
        "scan2dms_batches{state=\"received\"} 1",
        "scan2dms_batches{state=\"done\"} 0",
        "scan2dms_pages_total 0",
        "scan2dms_documents{state=\"verified\"} 0",
        "scan2dms_events_total{kind=\"registered\"} 1",
        "scan2dms_events_total{kind=\"uploaded\"} 1",
        "scan2dms_uploads_total 1",
    ] {
        assert!(text.lines().any(|candidate| candidate == line), "{line} missing in\n{text}");
    }
    // Every sample line is `name{labels} value` or `name value`.
    for line in text.lines().filter(|line| !line.starts_with('#')) {
        let (_, value) = line.rsplit_once(' ').unwrap();
        assert!(value.parse::<u64>().is_ok(), "{line}");
    }
}
