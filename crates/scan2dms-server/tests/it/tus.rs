//! Resumable uploads per tus 1.0: creation, offsets, resumption, checksums,
//! termination, and a connection that breaks mid-chunk.

use std::io::{Read, Write};

use axum::body::Body;
use axum::http::{Method, StatusCode};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use scan2dms_store::StateStore;
use sha2::Digest;

use crate::{Env, Reply, RunningServer, request, tar_of};

/// Creates an upload and returns its location.
pub async fn create_upload(env: &Env, token: &str, filename: &str, length: u64) -> String {
    let reply = create(env, token, filename, length).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
    reply.header("location").to_owned()
}

async fn create(env: &Env, token: &str, filename: &str, length: u64) -> Reply {
    let request = request(Method::POST, "/api/uploads", Some(token))
        .header("tus-resumable", "1.0.0")
        .header("upload-length", length.to_string())
        .header("upload-metadata", format!("filename {},kind {}", STANDARD.encode(filename), STANDARD.encode("bag")));
    env.call(request.body(Body::empty()).unwrap()).await
}

async fn head(env: &Env, token: &str, location: &str) -> Reply {
    env.call(request(Method::HEAD, location, Some(token)).header("tus-resumable", "1.0.0").body(Body::empty()).unwrap())
        .await
}

async fn patch(env: &Env, location: &str, offset: u64, chunk: &[u8], checksum: Option<String>) -> Reply {
    let mut request = request(Method::PATCH, location, Some(&env.contractor))
        .header("tus-resumable", "1.0.0")
        .header("upload-offset", offset.to_string())
        .header("content-type", "application/offset+octet-stream");
    if let Some(checksum) = checksum {
        request = request.header("upload-checksum", checksum);
    }
    env.call(request.body(Body::from(chunk.to_vec())).unwrap()).await
}

fn sha256_of(bytes: &[u8]) -> String {
    format!("sha256 {}", STANDARD.encode(sha2::Sha256::digest(bytes)))
}

fn sha1_of(bytes: &[u8]) -> String {
    format!("sha1 {}", STANDARD.encode(sha1::Sha1::digest(bytes)))
}

#[tokio::test]
async fn options_tell_the_protocol_and_its_limits() {
    let env = Env::with_options(|options| options.max_upload_bytes = 12345);
    let reply =
        env.call(request(Method::OPTIONS, "/api/uploads", Some(&env.contractor)).body(Body::empty()).unwrap()).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert_eq!(reply.header("tus-version"), "1.0.0");
    assert_eq!(reply.header("tus-extension"), "creation,checksum,termination");
    assert!(reply.header("tus-checksum-algorithm").split(',').any(|algorithm| algorithm == "sha256"));
    assert_eq!(reply.header("tus-max-size"), "12345");
}

#[tokio::test]
async fn create_patch_resume_with_offsets_and_checksums() {
    let env = Env::new();
    let archive = tar_of("SSN-0007-001");
    let length = archive.len() as u64;
    let location = create_upload(&env, &env.contractor, "SSN-0007-001.tar", length).await;
    assert!(location.starts_with("/api/uploads/"), "{location}");
    let reply = head(&env, &env.contractor, &location).await;
    assert_eq!((reply.status, reply.header("upload-offset")), (StatusCode::OK, "0"));
    assert_eq!(reply.header("upload-length"), length.to_string());
    assert_eq!(reply.header("cache-control"), "no-store");
    assert_eq!(reply.header("tus-resumable"), "1.0.0");

    let (first, rest) = archive.split_at(archive.len() / 3);
    let reply = patch(&env, &location, 0, first, Some(sha256_of(first))).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.text());
    assert_eq!(reply.header("upload-offset"), first.len().to_string());
    assert_eq!(reply.header("tus-resumable"), "1.0.0");

    // A stale offset is refused and changes nothing.
    let reply = patch(&env, &location, 0, first, None).await;
    assert_eq!(reply.status, StatusCode::CONFLICT, "{}", reply.text());
    // A chunk that does not match its checksum: 460, nothing of it kept.
    let reply = patch(&env, &location, first.len() as u64, rest, Some(sha256_of(b"not this"))).await;
    assert_eq!(reply.status.as_u16(), 460, "{}", reply.text());
    assert_eq!(reply.json()["error"], "checksum_mismatch");
    assert_eq!(head(&env, &env.contractor, &location).await.header("upload-offset"), first.len().to_string());
    // Unknown algorithms and wrong media types are refused up front.
    let reply = patch(&env, &location, first.len() as u64, rest, Some("md5 AAAA".to_owned())).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let wrong_type = request(Method::PATCH, &location, Some(&env.contractor))
        .header("tus-resumable", "1.0.0")
        .header("upload-offset", first.len().to_string())
        .header("content-type", "application/octet-stream");
    assert_eq!(
        env.call(wrong_type.body(Body::from(rest.to_vec())).unwrap()).await.status,
        StatusCode::UNSUPPORTED_MEDIA_TYPE
    );
    let no_version = request(Method::PATCH, &location, Some(&env.contractor))
        .header("upload-offset", first.len().to_string())
        .header("content-type", "application/offset+octet-stream");
    let reply = env.call(no_version.body(Body::from(rest.to_vec())).unwrap()).await;
    assert_eq!(reply.status, StatusCode::PRECONDITION_FAILED);
    assert_eq!(reply.header("tus-version"), "1.0.0");

    // Resume: ask where it stands, send the rest (sha1 this time).
    let offset: u64 = head(&env, &env.contractor, &location).await.header("upload-offset").parse().unwrap();
    assert_eq!(offset, first.len() as u64);
    assert!(!env.inbox().join("SSN-0007-001.tar").exists(), "not in the inbox before it is complete");
    let reply = patch(&env, &location, offset, rest, Some(sha1_of(rest))).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.text());
    assert_eq!(reply.header("upload-offset"), length.to_string());
    assert_eq!(reply.header("scan2dms-batch-id"), "SSN-0007-001");
    assert_eq!(reply.header("link"), "</api/batches/SSN-0007-001/report>; rel=\"report\"");

    assert_eq!(std::fs::read(env.inbox().join("SSN-0007-001.tar")).unwrap(), archive);
    let upload = env.store.upload("SSN-0007-001").unwrap().unwrap();
    assert_eq!(upload.sha256, hex::encode(sha2::Sha256::digest(&archive)));
    assert_eq!(upload.bytes, length);
    let finished = head(&env, &env.contractor, &location).await;
    assert_eq!(finished.header("upload-offset"), length.to_string());
    assert_eq!(finished.header("scan2dms-batch-id"), "SSN-0007-001");
    let status = env.get(&location, Some(&env.contractor)).await.json();
    assert_eq!(status["finished"], true);
    assert_eq!(status["links"]["report"], "/api/batches/SSN-0007-001/report");
    // A finished upload takes no more bytes and cannot be abandoned.
    assert_eq!(patch(&env, &location, length, b"x", None).await.status, StatusCode::CONFLICT);
    let delete = request(Method::DELETE, &location, Some(&env.contractor)).header("tus-resumable", "1.0.0");
    assert_eq!(env.call(delete.body(Body::empty()).unwrap()).await.status, StatusCode::CONFLICT);
    assert_eq!(env.get("/api/batches/SSN-0007-001", Some(&env.contractor)).await.json()["state"], "uploaded");
}

#[tokio::test]
async fn creation_checks_the_name_the_length_and_the_limit() {
    let env = Env::with_options(|options| options.max_upload_bytes = 1000);
    assert_eq!(create(&env, &env.contractor, "SSN-0007-001.zip", 1001).await.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(create(&env, &env.contractor, "SSN-0007-001.7z", 10).await.status, StatusCode::BAD_REQUEST);
    assert_eq!(create(&env, &env.contractor, "a/b.zip", 10).await.status, StatusCode::BAD_REQUEST);
    let no_length = request(Method::POST, "/api/uploads", Some(&env.contractor))
        .header("tus-resumable", "1.0.0")
        .header("upload-metadata", format!("filename {}", STANDARD.encode("SSN-0007-001.zip")));
    assert_eq!(env.call(no_length.body(Body::empty()).unwrap()).await.status, StatusCode::BAD_REQUEST);
    let no_name = request(Method::POST, "/api/uploads", Some(&env.contractor))
        .header("tus-resumable", "1.0.0")
        .header("upload-length", "10");
    assert_eq!(env.call(no_name.body(Body::empty()).unwrap()).await.status, StatusCode::BAD_REQUEST);
    env.register_from_inbox("SSN-0007-002");
    assert_eq!(create(&env, &env.contractor, "SSN-0007-002.zip", 10).await.status, StatusCode::CONFLICT);

    // More bytes than declared: 413, and the upload is where it was.
    let location = create_upload(&env, &env.contractor, "SSN-0007-001.zip", 4).await;
    assert_eq!(patch(&env, &location, 0, b"12345", None).await.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(head(&env, &env.contractor, &location).await.header("upload-offset"), "0");
}

#[tokio::test]
async fn an_abandoned_upload_is_removed() {
    let env = Env::new();
    let location = create_upload(&env, &env.contractor, "SSN-0007-001.zip", 10).await;
    assert_eq!(patch(&env, &location, 0, b"12345", None).await.status, StatusCode::NO_CONTENT);
    let delete = request(Method::DELETE, &location, Some(&env.contractor)).header("tus-resumable", "1.0.0");
    let reply = env.call(delete.body(Body::empty()).unwrap()).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert_eq!(head(&env, &env.contractor, &location).await.status, StatusCode::NOT_FOUND);
    let leftovers: Vec<_> = std::fs::read_dir(env.inbox().join(".uploads")).unwrap().collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[tokio::test]
async fn two_uploads_of_one_batch_id_hand_over_only_once() {
    let env = Env::new();
    let first = create_upload(&env, &env.contractor, "SSN-0007-001.zip", 2).await;
    let second = create_upload(&env, &env.contractor, "SSN-0007-001.zip", 2).await;
    assert_eq!(patch(&env, &first, 0, b"PK", None).await.status, StatusCode::NO_CONTENT);
    let reply = patch(&env, &second, 0, b"PK", None).await;
    assert_eq!(reply.status, StatusCode::CONFLICT, "{}", reply.text());
    assert!(reply.text().contains("waits in the inbox"), "{}", reply.text());
}

/// A PATCH whose connection breaks keeps what arrived; the client asks
/// for the offset and sends the rest.
#[test]
fn a_broken_connection_keeps_what_arrived_and_the_upload_resumes() {
    let env = Env::new();
    let server = RunningServer::start(env.state.clone());
    let archive = tar_of("SSN-0007-001");
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let location = runtime.block_on(create_upload(&env, &env.contractor, "SSN-0007-001.tar", archive.len() as u64));

    let sent = 70_000;
    let mut stream = std::net::TcpStream::connect(server.address).unwrap();
    let head = format!(
        "PATCH {location} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\nTus-Resumable: 1.0.0\r\n\
         Upload-Offset: 0\r\nContent-Type: application/offset+octet-stream\r\nContent-Length: {}\r\n\r\n",
        server.address,
        env.contractor,
        archive.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(&archive[..sent]).unwrap();
    stream.flush().unwrap();
    // The client goes away mid-body; wait until the server has noticed.
    stream.shutdown(std::net::Shutdown::Write).unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);

    let client = reqwest::blocking::Client::new();
    let url = format!("{}{location}", server.base_url);
    let head = client.head(&url).bearer_auth(&env.contractor).header("tus-resumable", "1.0.0").send().unwrap();
    let offset: usize = head.headers()["upload-offset"].to_str().unwrap().parse().unwrap();
    assert_eq!(offset, sent, "everything that arrived is kept");

    let rest = client
        .patch(&url)
        .bearer_auth(&env.contractor)
        .header("tus-resumable", "1.0.0")
        .header("upload-offset", offset.to_string())
        .header("content-type", "application/offset+octet-stream")
        .header("upload-checksum", sha256_of(&archive[offset..]))
        .body(archive[offset..].to_vec())
        .send()
        .unwrap();
    assert_eq!(rest.status().as_u16(), 204, "{:?}", rest.text());
    assert_eq!(std::fs::read(env.inbox().join("SSN-0007-001.tar")).unwrap(), archive);
}

/// The process stopped after handing the upload over but before noting
/// it: the client's next PATCH (or HEAD) finds it complete, nothing twice.
#[tokio::test]
async fn an_upload_handed_over_before_a_crash_is_found_complete() {
    let env = Env::new();
    let location = create_upload(&env, &env.contractor, "SSN-0007-001.zip", 2).await;
    assert_eq!(patch(&env, &location, 0, b"PK", None).await.status, StatusCode::NO_CONTENT);
    let upload_id = location.rsplit('/').next().unwrap();
    let info_path = env.inbox().join(".uploads").join(format!("{upload_id}.json"));
    let mut info: serde_json::Value = serde_json::from_slice(&std::fs::read(&info_path).unwrap()).unwrap();
    info["finished"] = serde_json::Value::Null;
    std::fs::write(&info_path, serde_json::to_vec(&info).unwrap()).unwrap();

    assert_eq!(head(&env, &env.contractor, &location).await.header("upload-offset"), "2");
    let reply = patch(&env, &location, 2, b"", None).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.text());
    assert_eq!(reply.header("scan2dms-batch-id"), "SSN-0007-001");
    assert_eq!(env.get(&location, Some(&env.contractor)).await.json()["finished"], true);
    let uploaded =
        env.store.events("SSN-0007-001").unwrap().into_iter().filter(|event| event.kind == "uploaded").count();
    assert_eq!(uploaded, 1, "handed over once");
}
