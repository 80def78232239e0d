//! The route table: who may call what, and the OpenAPI document over it.

use axum::body::Body;
use axum::http::{Method, StatusCode};
use scan2dms_server::{Access, route_table};

use crate::{Env, request};

/// The route's path with sample values for its parameters.
fn sample_path(path: &str) -> String {
    path.replace("{id}", "SSN-0007-001")
        .replace("{batch}", "SSN-0007-001")
        .replace("{record}", "PN-534303")
        .replace("{document}", "1")
        .replace("{page}", "1")
        .replace("{upload_id}", &"0".repeat(32))
}

#[tokio::test]
async fn every_route_but_healthz_answers_401_without_a_token() {
    let env = Env::new();
    let routes = route_table();
    assert!(routes.len() > 20, "{routes:?}");
    for route in routes {
        let method = Method::from_bytes(route.method.as_bytes()).unwrap();
        let path = sample_path(route.path);
        let reply = env.call(request(method.clone(), &path, None).body(Body::empty()).unwrap()).await;
        if route.access == Access::Public {
            assert_eq!(route.path, "/healthz", "only /healthz is public");
            assert_eq!(reply.status, StatusCode::OK, "{method} {path}");
            continue;
        }
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{method} {path}: {}", reply.text());
        // A wrong token is no better than none.
        let wrong = format!("{}x", &env.staff[..env.staff.len() - 1]);
        let reply = env.call(request(method.clone(), &path, Some(&wrong)).body(Body::empty()).unwrap()).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{method} {path} with a wrong secret");
        let reply = env.call(request(method.clone(), &path, Some("garbage")).body(Body::empty()).unwrap()).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{method} {path} with garbage");
    }
}

#[tokio::test]
async fn api_routes_say_bearer_and_pages_show_the_login_form() {
    let env = Env::new();
    let api = env.get("/api/batches", None).await;
    assert_eq!(api.header("www-authenticate"), "Bearer realm=\"scan2dms\"");
    assert_eq!(api.json()["error"], "unauthorized");
    let page = env.get("/batches/SSN-0007-001", None).await;
    assert_eq!(page.status, StatusCode::UNAUTHORIZED);
    let html = page.text();
    assert!(html.contains("action=\"/login\"") && html.contains("name=\"token\""), "{html}");
    assert!(html.contains("value=\"/batches/SSN-0007-001\""), "the login returns to the page asked for: {html}");
}

#[tokio::test]
async fn staff_routes_refuse_contractors_with_403() {
    let env = Env::new();
    env.register_from_inbox("SSN-0007-001");
    for route in route_table() {
        if !matches!(route.access, Access::StaffToken | Access::StaffPage | Access::StaffForm) {
            continue;
        }
        let method = Method::from_bytes(route.method.as_bytes()).unwrap();
        let path = sample_path(route.path);
        let reply = env.call(request(method.clone(), &path, Some(&env.contractor)).body(Body::empty()).unwrap()).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{method} {path}: {}", reply.text());
    }
}

#[tokio::test]
async fn the_openapi_document_lists_every_api_route() {
    let env = Env::new();
    let reply = env.get("/api/openapi.json", Some(&env.contractor)).await;
    assert_eq!(reply.status, StatusCode::OK);
    let document = reply.json();
    assert_eq!(document["openapi"], "3.1.0");
    for route in route_table() {
        let listed = &document["paths"][route.path][route.method.to_ascii_lowercase()];
        match route.access {
            Access::StaffPage | Access::StaffForm | Access::Login => {
                assert!(listed.is_null(), "dashboard {} {} is no API", route.method, route.path)
            }
            _ => {
                assert!(listed.is_object(), "{} {} missing", route.method, route.path);
                assert_eq!(listed["summary"], route.summary);
                let responses = listed["responses"].as_object().unwrap();
                if route.access != Access::Public {
                    assert!(responses.contains_key("401"), "{} {}", route.method, route.path);
                }
            }
        }
    }
    let ids: Vec<&str> = document["paths"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|methods| methods.as_object().unwrap().values())
        .map(|operation| operation["operationId"].as_str().unwrap())
        .collect();
    let unique: std::collections::HashSet<&&str> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "operation ids are unique: {ids:?}");
}

#[tokio::test]
async fn unknown_routes_are_404() {
    let env = Env::new();
    assert_eq!(env.get("/api/nothing", Some(&env.staff)).await.status, StatusCode::NOT_FOUND);
}
