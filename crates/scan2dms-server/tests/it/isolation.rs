//! A contractor sees its own batches and uploads only; everything else is
//! a 404, as if it did not exist. Staff see all.

use axum::body::Body;
use axum::http::{Method, StatusCode};

use crate::plain::plain_upload;
use crate::tus::create_upload;
use crate::{Env, request};

#[tokio::test]
async fn a_contractor_never_sees_another_contractors_batch() {
    let env = Env::new();
    let reply = plain_upload(&env, &env.contractor, "SSN-0007-001.zip", b"PK mine".to_vec()).await;
    assert_eq!(reply.status, StatusCode::CREATED);
    let reply = plain_upload(&env, &env.other_contractor, "SSN-0007-002.zip", b"PK theirs".to_vec()).await;
    assert_eq!(reply.status, StatusCode::CREATED);
    env.register_from_inbox("SSN-0007-003");

    let listed = |reply: crate::Reply| -> Vec<String> {
        reply.json().as_array().unwrap().iter().map(|batch| batch["batch_id"].as_str().unwrap().to_owned()).collect()
    };
    assert_eq!(listed(env.get("/api/batches", Some(&env.contractor)).await), ["SSN-0007-001"]);
    assert_eq!(listed(env.get("/api/batches", Some(&env.other_contractor)).await), ["SSN-0007-002"]);
    assert_eq!(
        listed(env.get("/api/batches", Some(&env.staff)).await),
        ["SSN-0007-003", "SSN-0007-001", "SSN-0007-002"],
        "staff: registered first, then uploads waiting in the inbox"
    );

    for path in ["", "/report", "/documents"] {
        for batch_id in ["SSN-0007-002", "SSN-0007-003", "SSN-0007-999"] {
            let path = format!("/api/batches/{batch_id}{path}");
            let reply = env.get(&path, Some(&env.contractor)).await;
            assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}: {}", reply.text());
            assert_eq!(reply.json()["message"], format!("no batch {batch_id}"), "same answer as for no batch");
        }
        let own = env.get(&format!("/api/batches/SSN-0007-001{path}"), Some(&env.contractor)).await;
        assert!(own.status.is_success(), "{path}: {}", own.text());
        for batch_id in ["SSN-0007-001", "SSN-0007-002", "SSN-0007-003"] {
            let reply = env.get(&format!("/api/batches/{batch_id}{path}"), Some(&env.staff)).await;
            assert!(reply.status.is_success(), "staff {batch_id}{path}: {}", reply.text());
        }
    }
    // Staff see who uploaded; contractors get no other user's id anyway.
    let staff_view = env.get("/api/batches/SSN-0007-001", Some(&env.staff)).await.json();
    assert!(staff_view["upload"]["user_id"].is_string());
    let own_view = env.get("/api/batches/SSN-0007-001", Some(&env.contractor)).await.json();
    assert!(own_view["upload"].get("user_id").is_none(), "{own_view}");
    assert!(env.get("/api/batches/SSN-0007-003", Some(&env.staff)).await.json()["upload"].is_null());

    // Retries and the event log are staff's: 403 for any contractor.
    let retry = env
        .call(
            request(Method::POST, "/api/batches/SSN-0007-001/retry", Some(&env.contractor))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(retry.status, StatusCode::FORBIDDEN);
    let events = env.get("/api/batches/SSN-0007-001/events", Some(&env.contractor)).await;
    assert_eq!(events.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_contractor_cannot_touch_another_contractors_upload() {
    let env = Env::new();
    let location = create_upload(&env, &env.contractor, "SSN-0007-001.zip", 10).await;
    for (method, token) in [
        (Method::HEAD, &env.other_contractor),
        (Method::PATCH, &env.other_contractor),
        (Method::DELETE, &env.other_contractor),
        (Method::GET, &env.other_contractor),
    ] {
        let request = request(method.clone(), &location, Some(token))
            .header("tus-resumable", "1.0.0")
            .header("upload-offset", "0")
            .header("content-type", "application/offset+octet-stream");
        let reply = env.call(request.body(Body::from("0123456789")).unwrap()).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{method}");
    }
    let head = env
        .call(
            request(Method::HEAD, &location, Some(&env.contractor))
                .header("tus-resumable", "1.0.0")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(head.header("upload-offset"), "0", "untouched");
    let staff = env.get(&location, Some(&env.staff)).await;
    assert_eq!(staff.status, StatusCode::OK, "staff may look");
}
