//! The single-request upload: a small bag in one POST.

use axum::body::Body;
use axum::http::{Method, StatusCode};
use base64::Engine;
use scan2dms_store::StateStore;
use sha2::Digest;

use crate::{Env, Reply, request, tar_of};

pub async fn plain_upload(env: &Env, token: &str, name: &str, bytes: Vec<u8>) -> Reply {
    let path = format!("/api/batches?name={}", name.replace(' ', "%20"));
    let request = request(Method::POST, &path, Some(token)).header("content-type", "application/x-tar");
    env.call(request.body(Body::from(bytes)).unwrap()).await
}

#[tokio::test]
async fn a_plain_upload_lands_in_the_inbox_and_links_its_report() {
    let env = Env::new();
    let archive = tar_of("SSN-0007-001");
    let reply = plain_upload(&env, &env.contractor, "SSN-0007-001.tar", archive.clone()).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    assert_eq!(reply.header("location"), "/api/batches/SSN-0007-001");
    assert_eq!(reply.header("link"), "</api/batches/SSN-0007-001/report>; rel=\"report\"");
    let body = reply.json();
    assert_eq!(body["batch_id"], "SSN-0007-001");
    assert_eq!(body["links"]["report"], "/api/batches/SSN-0007-001/report");
    assert_eq!(body["sha256"], hex::encode(sha2::Sha256::digest(&archive)));
    assert_eq!(std::fs::read(env.inbox().join("SSN-0007-001.tar")).unwrap(), archive);
    // Nothing is left behind but the finished delivery.
    let leftovers: Vec<_> = std::fs::read_dir(env.inbox().join(".uploads")).unwrap().collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // Until intake takes it, the batch is `uploaded` and its report pending.
    let batch = env.get("/api/batches/SSN-0007-001", Some(&env.contractor)).await;
    assert_eq!(batch.json()["state"], "uploaded");
    let report = env.get("/api/batches/SSN-0007-001/report", Some(&env.contractor)).await;
    assert_eq!(report.status, StatusCode::ACCEPTED);
    assert_eq!(report.header("retry-after"), "10");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_upload_is_validated_by_the_pipeline_and_its_report_read() {
    let env = Env::new();
    crate::import_orders(&*env.store);
    let reply = plain_upload(&env, &env.contractor, "SSN-0007-001.tar", tar_of("SSN-0007-001")).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    let summary = tokio::task::block_in_place(|| crate::run_pipeline(&env, &[scan2dms_core::Stage::Validate]));
    assert_eq!((summary.registered, summary.accepted), (1, 1), "{summary:?}");
    let report = env.get("/api/batches/SSN-0007-001/report", Some(&env.contractor)).await;
    assert_eq!(report.status, StatusCode::OK, "{}", report.text());
    assert_eq!(report.json()["outcome"], "accepted");
    let text = env
        .call(
            request(Method::GET, "/api/batches/SSN-0007-001/report", Some(&env.contractor))
                .header("accept", "text/plain")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert!(text.text().starts_with("batch SSN-0007-001: ACCEPTED"), "{}", text.text());
    let batch = env.get("/api/batches/SSN-0007-001", Some(&env.contractor)).await.json();
    assert_eq!(batch["state"], "accepted");
    assert_eq!(batch["pages"], 10);
    // The upload is the first entry of the processing record.
    let events = env.get("/api/batches/SSN-0007-001/events", Some(&env.staff)).await.json();
    let kinds: Vec<&str> = events.as_array().unwrap().iter().map(|event| event["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds[..2], ["uploaded", "registered"], "{kinds:?}");
}

#[tokio::test]
async fn a_plain_upload_is_refused_for_bad_names_taken_ids_and_size() {
    let env = Env::with_options(|options| options.max_plain_upload_bytes = 1000);
    for name in ["SSN-0007-001.rar", "../SSN-0007-001.zip", "SSN 0007.zip", ".zip"] {
        let reply = plain_upload(&env, &env.contractor, name, b"x".to_vec()).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{name}: {}", reply.text());
    }
    // Declared too large: refused before a byte is read.
    let declared = request(Method::POST, "/api/batches?name=SSN-0007-001.zip", Some(&env.contractor))
        .header("content-length", "1001");
    let reply = env.call(declared.body(Body::from(vec![0u8; 1001])).unwrap()).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", reply.text());
    // Without a declared length (streamed): cut off at the limit.
    let reply = plain_upload(&env, &env.contractor, "SSN-0007-001.zip", vec![0; 1001]).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", reply.text());
    assert!(!env.inbox().join("SSN-0007-001.zip").exists());

    env.register_from_inbox("SSN-0007-002");
    let reply = plain_upload(&env, &env.contractor, "SSN-0007-002.zip", b"PK".to_vec()).await;
    assert_eq!(reply.status, StatusCode::CONFLICT, "registered already: {}", reply.text());
    let reply = plain_upload(&env, &env.contractor, "SSN-0007-003.zip", b"PK".to_vec()).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    let reply = plain_upload(&env, &env.contractor, "SSN-0007-003.tar", b"PK".to_vec()).await;
    assert_eq!(reply.status, StatusCode::CONFLICT, "waiting in the inbox: {}", reply.text());
    let reply = plain_upload(&env, &env.other_contractor, "SSN-0007-003.zip", b"PK".to_vec()).await;
    assert_eq!(reply.status, StatusCode::CONFLICT, "another's: {}", reply.text());
    let reply = env
        .call(
            request(Method::POST, "/api/batches?name=SSN-0007-004.zip", Some(&env.contractor))
                .header("content-type", "multipart/form-data; boundary=x")
                .body(Body::from("--x--"))
                .unwrap(),
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

#[tokio::test]
async fn a_plain_upload_with_a_wrong_checksum_is_460_and_leaves_nothing() {
    let env = Env::new();
    let digest = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(b"something else"));
    let upload = request(Method::POST, "/api/batches?name=SSN-0007-001.zip", Some(&env.contractor))
        .header("upload-checksum", format!("sha256 {digest}"));
    let reply = env.call(upload.body(Body::from("PK")).unwrap()).await;
    assert_eq!(reply.status.as_u16(), 460, "{}", reply.text());
    assert!(!env.inbox().join("SSN-0007-001.zip").exists());
    assert!(env.store.upload("SSN-0007-001").unwrap().is_none());
    let leftovers: Vec<_> = std::fs::read_dir(env.inbox().join(".uploads")).unwrap().collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
