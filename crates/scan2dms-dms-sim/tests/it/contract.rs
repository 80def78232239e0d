//! The wire contract: what the client sends and what the simulator answers.

use expect_test::expect;
use scan2dms_dms::{DmsError, DmsTarget, EnaioClient, EnaioSettings, ObjectId};
use scan2dms_dms_sim::{SimError, SimOptions, Simulator, dump};
use serde_json::{Value, json};

use crate::{client, content_file, document, fields, folder, register, settings, start};

#[test]
fn folders_registers_and_documents_are_created_found_and_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start(SimOptions::new(dir.path().join("dms")));
    let client = client(&sim);
    let health = client.health().unwrap();
    assert_eq!(health.object_types, ["Akte", "Register", "Dokument"]);

    assert_eq!(client.find_folder(&folder("R-1")).unwrap(), []);
    let folder_id = client.create_folder(&folder("R-1")).unwrap();
    assert_eq!(client.find_folder(&folder("R-1")).unwrap(), vec![folder_id.clone()]);
    assert_eq!(client.find_folder(&folder("R-2")).unwrap(), []);

    let register_id = client.create_register(&folder_id, &register("Zeugnisse")).unwrap();
    assert_eq!(client.find_register(&folder_id, &register("Zeugnisse")).unwrap(), vec![register_id.clone()]);
    assert_eq!(client.find_register(&folder_id, &register("Verträge")).unwrap(), []);
    let other_folder = client.create_folder(&folder("R-2")).unwrap();
    assert_eq!(client.find_register(&other_folder, &register("Zeugnisse")).unwrap(), []);

    let (path, sha256, length) = content_file(dir.path(), "zeugnis.pdf", 1, 300_000);
    let spec = document("SCAN-O'Brien \"1\" & Müller");
    let document_id = client.insert_document(&register_id, &spec, &path).unwrap();
    assert_eq!(client.find_document(&spec.external_id).unwrap(), vec![document_id.clone()]);
    assert_eq!(client.find_document("SCAN-O'Brien").unwrap(), []);

    let digest = client.fetch_content(&document_id).unwrap();
    assert_eq!((digest.sha256.as_str(), digest.length), (sha256.as_str(), length));

    let dumped = dump(&dir.path().join("dms")).unwrap();
    let summary: Vec<String> = dumped
        .iter()
        .map(|object| {
            format!(
                "{} {} parent={} {:?} {}",
                object.id,
                object.object_type,
                object.parent_id.as_deref().unwrap_or("-"),
                object.fields,
                object.content_length.map_or(String::new(), |length| format!("{length} bytes")),
            )
        })
        .collect();
    expect![[r#"
        1 Akte parent=- {"Aktenbezeichnung": "Personalakte R-1", "Aktenzeichen": "R-1"} 
        2 Register parent=1 {"Registername": "Zeugnisse"} 
        3 Akte parent=- {"Aktenbezeichnung": "Personalakte R-2", "Aktenzeichen": "R-2"} 
        4 Dokument parent=2 {"Betreff": "Dokument SCAN-O'Brien \"1\" & Müller", "ExtId": "SCAN-O'Brien \"1\" & Müller"} 300007 bytes"#]]
    .assert_eq(&summary.join("\n"));
    assert_eq!(dumped[3].content_sha256.as_deref(), Some(sha256.as_str()));
}

#[test]
fn field_names_are_mapped_to_internal_names() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start(SimOptions::new(dir.path().join("dms")));
    let mapped =
        EnaioSettings { field_names: [("title".to_owned(), "Aktenbezeichnung".to_owned())].into(), ..settings(&sim) };
    let client = EnaioClient::new(mapped).unwrap();
    let spec = scan2dms_dms::FolderSpec { key: "R-9".to_owned(), fields: fields(&[("title", "Akte Neun")]) };
    client.create_folder(&spec).unwrap();
    let dumped = dump(&dir.path().join("dms")).unwrap();
    assert_eq!(dumped[0].fields, fields(&[("Aktenbezeichnung", "Akte Neun"), ("Aktenzeichen", "R-9")]));
}

#[test]
fn a_wrong_password_is_unauthorized() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start(SimOptions::new(dir.path().join("dms")));
    let wrong = EnaioClient::new(EnaioSettings { password: "falsch".to_owned(), ..settings(&sim) }).unwrap();
    assert!(matches!(wrong.health(), Err(DmsError::Unauthorized { status: 401, .. })));
    assert!(matches!(wrong.create_folder(&folder("R-1")), Err(DmsError::Unauthorized { status: 401, .. })));
    assert!(dump(&dir.path().join("dms")).unwrap().is_empty());

    let http = reqwest::blocking::Client::new();
    let anonymous = http.get(format!("{}/objects/1", sim.base_url())).send().unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);
    assert_eq!(anonymous.headers()["www-authenticate"], "Basic realm=\"enaio\"");
}

#[test]
fn invalid_input_is_rejected_with_the_server_message() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start(SimOptions::new(dir.path().join("dms")));
    let client = client(&sim);
    let (path, _, _) = content_file(dir.path(), "a.pdf", 2, 1_000);
    let rejected = |result: Result<ObjectId, DmsError>| match result {
        Err(DmsError::Rejected { status, message, .. }) => format!("{status}: {message}"),
        other => panic!("expected a rejection, got {other:?}"),
    };

    let missing_parent = ObjectId::parse("999").unwrap();
    expect!["422: object 1: parent object 999 does not exist"].assert_eq(&rejected(client.insert_document(
        &missing_parent,
        &document("D-1"),
        &path,
    )));
    expect!["422: object 1: parent object 999 does not exist"]
        .assert_eq(&rejected(client.create_register(&missing_parent, &register("Zeugnisse"))));

    let folder_id = client.create_folder(&folder("R-1")).unwrap();
    let document_id = client.insert_document(&folder_id, &document("D-1"), &path).unwrap();
    expect!["422: object 1: parent object 2 is a document and cannot hold objects"]
        .assert_eq(&rejected(client.insert_document(&document_id, &document("D-2"), &path)));

    let unknown_type =
        EnaioClient::new(EnaioSettings { document_type: "Rechnung".to_owned(), ..settings(&sim) }).unwrap();
    expect![[r#"422: object 1: unknown object type "Rechnung""#]].assert_eq(&rejected(unknown_type.insert_document(
        &folder_id,
        &document("D-3"),
        &path,
    )));
    match unknown_type.health() {
        Err(DmsError::Rejected { status: 422, message, .. }) => assert_eq!(message, "unknown object type \"Rechnung\""),
        other => panic!("{other:?}"),
    }

    match client.fetch_content(&ObjectId::parse("4711").unwrap()) {
        Err(DmsError::Rejected { status: 404, message, .. }) => assert_eq!(message, "object 4711 not found"),
        other => panic!("{other:?}"),
    }
    match client.fetch_content(&folder_id) {
        Err(DmsError::Rejected { status: 404, message, .. }) => assert_eq!(message, "object 1 has no file 1"),
        other => panic!("{other:?}"),
    }
    assert_eq!(dump(&dir.path().join("dms")).unwrap().len(), 2);
}

/// Requests the client never sends, to pin down the simulator's side of the
/// contract: a document without content, a data part of the wrong type, the
/// search result shape, literals in single quotes.
#[test]
fn raw_requests_get_the_spec_shapes_and_codes() {
    let dir = tempfile::tempdir().unwrap();
    let sim = start(SimOptions::new(dir.path().join("dms")));
    let client = client(&sim);
    let folder_id = client.create_folder(&folder("R-1")).unwrap();
    let (path, sha256, _) = content_file(dir.path(), "a.pdf", 3, 5_000);
    client.insert_document(&folder_id, &document("O'Brien"), &path).unwrap();

    let http = reqwest::blocking::Client::new();
    let base = sim.base_url();
    let post_json = |url: String, body: Value| {
        let response = http.post(url).basic_auth("scan2dms", Some("scan2dms")).json(&body).send().unwrap();
        (response.status().as_u16(), response.json::<Value>().unwrap())
    };

    let no_content = json!({"objects": [{"properties": {
        "system:objectTypeId": {"value": "262144"}, "system:parentId": {"value": folder_id.as_str()}}}]});
    let (status, body) = post_json(format!("{base}/objects"), no_content);
    assert_eq!(status, 422);
    assert_eq!(
        body["message"],
        "object 1: a document needs its content (contentStreams with a cid and a part of that name)"
    );

    let text_data = reqwest::blocking::multipart::Form::new().text("data", "{\"objects\":[]}");
    let response = http
        .post(format!("{base}/objects"))
        .basic_auth("scan2dms", Some("scan2dms"))
        .multipart(text_data)
        .send()
        .unwrap();
    assert_eq!(response.status().as_u16(), 422);
    assert_eq!(
        response.json::<Value>().unwrap()["message"],
        "the data part must be application/json, not \"text/plain\""
    );

    let search = json!({"query": {
        "statement": "SELECT * FROM Dokument WHERE ExtId = 'O''Brien' AND system:SDSTA_ID = @folder",
        "parameters": {"folder": folder_id.as_str()}, "skipCount": 0, "maxItems": 10}});
    let (status, body) = post_json(format!("{base}/objects/search"), search);
    assert_eq!(status, 200);
    assert_eq!(
        (body["numItems"].clone(), body["totalNumItems"].clone(), body["hasMoreItems"].clone()),
        (json!(1), json!(1), json!(false))
    );
    let found = &body["objects"][0];
    assert_eq!(found["properties"]["system:objectId"]["value"], "2");
    assert_eq!(found["properties"]["system:objectTypeId"], json!({"value": "262144", "localName": "Dokument"}));
    assert_eq!(found["properties"]["ExtId"]["value"], "O'Brien");
    assert_eq!(found["contentStreams"][0]["length"], 5_007);
    assert_eq!(found["contentStreams"][0]["mimeType"], "application/pdf");

    let (status, body) = post_json(
        format!("{base}/objects/search"),
        json!({"query": {"statement": "SELECT * FROM Akte WHERE a = 1 OR b = 2"}}),
    );
    assert_eq!(
        (status, body["message"].as_str().unwrap()),
        (422, "unsupported query: unexpected \"OR\" after the statement")
    );

    let object = http.get(format!("{base}/objects/2")).basic_auth("scan2dms", Some("scan2dms")).send().unwrap();
    assert_eq!(object.status().as_u16(), 200);
    assert_eq!(object.json::<Value>().unwrap()["objects"][0]["contentStreams"][0]["fileName"], "O'Brien.pdf");
    let missing = http.get(format!("{base}/objects/77")).basic_auth("scan2dms", Some("scan2dms")).send().unwrap();
    assert_eq!(missing.status().as_u16(), 404);

    let content =
        http.get(format!("{base}/objects/2/contents/file/1")).basic_auth("scan2dms", Some("scan2dms")).send().unwrap();
    assert_eq!(content.headers()["content-type"], "application/pdf");
    let bytes = content.bytes().unwrap();
    assert_eq!(hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes)), sha256);
}

#[test]
fn bad_options_are_refused_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let options = SimOptions::new(dir.path().join("dms"));
    let refused = |options: SimOptions| match Simulator::start(options) {
        Err(SimError::Options { field, .. }) => field,
        other => panic!("{other:?}"),
    };
    assert_eq!(refused(SimOptions { fault_rate: 1.5, ..options.clone() }), "fault_rate");
    assert_eq!(refused(SimOptions { user: "a:b".to_owned(), ..options.clone() }), "user");
    let mut clash = options.clone();
    clash.object_types.push(scan2dms_dms_sim::ObjectTypeDef { name: "Akte".to_owned(), id: 1 });
    assert_eq!(refused(clash), "object_types");

    let running = Simulator::start(options.clone()).unwrap();
    let taken = Simulator::start(SimOptions { listen: running.addr(), ..options.clone() });
    assert!(matches!(taken, Err(SimError::Listen { .. })), "{taken:?}");
    assert!(!format!("{options:?}").contains("password: \"scan2dms\""));
}
