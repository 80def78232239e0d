//! The xdomea export driven by the port's own users (the exactly-once push
//! and the read-back verification), then the package read back with a zip
//! reader and a real XML parser.

use std::collections::BTreeMap;
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use roxmltree::Node;
use scan2dms_dms::{
    DmsError, DmsTarget, DocumentSpec, Fields, FolderSpec, ObjectId, PushError, PushOutcome, PushRequest, RegisterSpec,
    RetryPolicy, XdomeaExport, XdomeaSettings, ensure_folder, ensure_register, push_document, verify,
};
use sha2::{Digest, Sha256};

const NAMESPACE: &str = "urn:xoev-de:xdomea:schema:4.0.0";
const RECORD_ID: &str = "R-0042";
const RECORD_TITLE: &str = "Müller, Jürgen & Söhne <GmbH>";

/// The record every test files: two registers, three documents.
const DOCUMENTS: [(u32, &str); 3] = [(1, "Zeugnisse"), (2, "Zeugnisse"), (3, "Verträge")];

struct Setup {
    _dir: tempfile::TempDir,
    work_dir: PathBuf,
    out_dir: PathBuf,
    export: XdomeaExport,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let work_dir = dir.path().join("work");
    let out_dir = dir.path().join("out");
    fs::create_dir_all(&work_dir).unwrap();
    fs::create_dir_all(&out_dir).unwrap();
    let export = XdomeaExport::new(settings(&out_dir)).unwrap();
    Setup { _dir: dir, work_dir, out_dir, export }
}

fn settings(out_dir: &Path) -> XdomeaSettings {
    XdomeaSettings {
        out_dir: out_dir.to_owned(),
        sender_code: "psw:01003110".to_owned(),
        receiver_code: "psw:05315000".to_owned(),
        producer: "Stadt Beispiel".to_owned(),
        ..XdomeaSettings::default()
    }
}

fn policy() -> RetryPolicy {
    RetryPolicy { max_attempts: 2, base_delay: Duration::ZERO, max_delay: Duration::ZERO }
}

fn no_sleep(_: Duration) {}

fn fields(pairs: &[(&str, &str)]) -> Fields {
    pairs.iter().map(|(name, value)| ((*name).to_owned(), (*value).to_owned())).collect()
}

/// A document as the pipeline files it, with its file written to disk.
struct Filed {
    external_id: String,
    file_name: String,
    register: &'static str,
    object_id: ObjectId,
    created: bool,
    sha256: String,
    length: u64,
}

fn content(document_no: u32) -> Vec<u8> {
    let mut bytes = format!("%PDF-1.7\n% document {document_no} of Müller\n").into_bytes();
    bytes.extend((0..1000 * document_no).map(|index| (index % 251) as u8));
    bytes
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Files the record through the push algorithm, as the push stage does.
fn push_record(setup: &Setup) -> (ObjectId, Vec<Filed>) {
    let export: &dyn DmsTarget = &setup.export;
    let folder =
        FolderSpec { key: RECORD_ID.to_owned(), fields: fields(&[("record_id", RECORD_ID), ("title", RECORD_TITLE)]) };
    let folder_id = ensure_folder(export, &folder, &policy(), &no_sleep).unwrap().object_id;
    let mut filed = Vec::new();
    for (document_no, register) in DOCUMENTS {
        let register_spec = RegisterSpec { name: register.to_owned(), fields: Fields::new() };
        let register_id = ensure_register(export, &folder_id, &register_spec, &policy(), &no_sleep).unwrap().object_id;
        let outcome = push(setup, &register_id, document_no);
        let bytes = content(document_no);
        filed.push(Filed {
            external_id: external_id(document_no),
            file_name: file_name(document_no),
            register,
            object_id: outcome.object_id,
            created: outcome.created,
            sha256: sha256_hex(&bytes),
            length: bytes.len() as u64,
        });
    }
    (folder_id, filed)
}

fn external_id(document_no: u32) -> String {
    format!("B-1/{RECORD_ID}/{document_no}")
}

fn file_name(document_no: u32) -> String {
    format!("{RECORD_ID}_{document_no:03}.pdf")
}

fn push_outcome(setup: &Setup, parent: &ObjectId, document_no: u32) -> Result<PushOutcome, PushError> {
    let path = setup.work_dir.join(file_name(document_no));
    fs::write(&path, content(document_no)).unwrap();
    let document = DocumentSpec {
        external_id: external_id(document_no),
        file_name: file_name(document_no),
        mime_type: "application/pdf".to_owned(),
        fields: fields(&[
            ("document_no", &document_no.to_string()),
            ("title", &format!("Zeugnis Nr. {document_no} – Äußeres")),
        ]),
    };
    let request = PushRequest { parent, document: &document, content: &path };
    push_document(&setup.export, &request, &policy(), &no_sleep)
}

fn push(setup: &Setup, parent: &ObjectId, document_no: u32) -> PushOutcome {
    push_outcome(setup, parent, document_no).unwrap()
}

/// The one zip in `out_dir`, its name and its entries.
fn read_package(out_dir: &Path) -> (String, BTreeMap<String, Vec<u8>>) {
    let zips: Vec<String> = fs::read_dir(out_dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".zip"))
        .collect();
    assert_eq!(zips.len(), 1, "one package per record: {zips:?}");
    let mut archive = zip::ZipArchive::new(fs::File::open(out_dir.join(&zips[0])).unwrap()).unwrap();
    let mut entries = BTreeMap::new();
    for index in 0..archive.len() {
        let mut entry = archive.by_index(index).unwrap();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).unwrap();
        entries.insert(entry.name().to_owned(), bytes);
    }
    (zips[0].clone(), entries)
}

/// The only child element `name` in the xdomea namespace.
fn child<'a, 'input>(node: Node<'a, 'input>, name: &str) -> Node<'a, 'input> {
    let found = children(node, name);
    assert_eq!(found.len(), 1, "{name} under {}", node.tag_name().name());
    found[0]
}

fn children<'a, 'input>(node: Node<'a, 'input>, name: &str) -> Vec<Node<'a, 'input>> {
    node.children().filter(|child| child.has_tag_name((NAMESPACE, name))).collect()
}

/// The text of an element reached by a path of xdomea children.
fn text(node: Node<'_, '_>, path: &[&str]) -> String {
    let node = path.iter().fold(node, |node, name| child(node, name));
    node.text().unwrap_or_default().to_owned()
}

/// An unqualified child, as the code-list values and the message
/// identification have them.
fn plain_child<'a, 'input>(node: Node<'a, 'input>, name: &str) -> Node<'a, 'input> {
    let found: Vec<Node> = node
        .children()
        .filter(|child| child.is_element() && child.tag_name().namespace().is_none() && child.tag_name().name() == name)
        .collect();
    assert_eq!(found.len(), 1, "{name} under {}", node.tag_name().name());
    found[0]
}

#[test]
fn a_record_with_two_registers_and_three_documents_becomes_one_package() {
    let setup = setup();
    let (folder_id, filed) = push_record(&setup);
    assert!(filed.iter().all(|document| document.created));
    assert_eq!(setup.export.package_path(&folder_id).parent(), Some(setup.out_dir.as_path()));

    let (zip_name, entries) = read_package(&setup.out_dir);
    assert_eq!(setup.export.package_path(&folder_id).file_name().unwrap().to_string_lossy(), zip_name);
    let process_id = zip_name.strip_suffix("_0401_1.zip").expect("{ProzessID}_0401_1.zip");
    let xml_name = format!("{process_id}_0401_1.xml");
    assert_eq!(entries.len(), 1 + filed.len(), "{:?}", entries.keys());

    // Well-formed UTF-8 with the title's umlauts as they are and its markup escaped.
    let xml = String::from_utf8(entries[&xml_name].clone()).expect("the message is UTF-8");
    assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"));
    assert!(xml.contains("Müller, Jürgen &amp; Söhne &lt;GmbH&gt;"), "{xml}");
    let message = roxmltree::Document::parse(&xml).expect("the message is well-formed XML");

    let root = message.root_element();
    assert!(root.has_tag_name((NAMESPACE, "Abgabe.Abgabe.0401")));
    assert_eq!(root.lookup_prefix(NAMESPACE), Some("xdomea"));
    assert_eq!(root.attribute("version"), Some("4.0.0"));
    assert_eq!(root.attribute("standard"), Some("xdomea"));
    assert_eq!(root.attribute("produkt"), Some("scan2dms"));

    let head = child(root, "nachrichtenkopf");
    let identification = child(head, "identifikation.nachricht");
    let message_type = plain_child(identification, "nachrichtentyp");
    assert_eq!(plain_child(message_type, "code").text(), Some("0401"));
    assert_eq!(message_type.attribute("listURI"), Some("urn:xoev-de:xdomea:codeliste:nachrichtentyp"));
    let created_at = plain_child(identification, "erstellungszeitpunkt").text().unwrap();
    assert!(created_at.ends_with('Z') && created_at.len() == "2025-01-15T12:00:00.000Z".len(), "{created_at}");
    assert_eq!(text(head, &["ProzessID"]), process_id);
    assert_eq!(text(head, &["autor", "Behoerdenkennung", "kennung"]), "psw:01003110");
    assert_eq!(text(head, &["leser", "Behoerdenkennung", "kennung"]), "psw:05315000");
    assert_eq!(text(root, &["Importbestaetigung"]), "1");

    let akten: Vec<Node> = root.descendants().filter(|node| node.has_tag_name((NAMESPACE, "Akte"))).collect();
    assert_eq!(akten.len(), 1);
    let akte = child(child(root, "Schriftgutobjekt"), "Akte");
    assert_eq!(text(akte, &["Identifikation", "xdomeaUUID"]), folder_id.as_str());
    assert_eq!(text(akte, &["AllgemeineMetadaten", "Kennzeichen"]), RECORD_ID);
    assert_eq!(text(akte, &["AllgemeineMetadaten", "Betreff"]), RECORD_TITLE);

    // Each register a Vorgang holding its documents, in the order they came.
    let vorgaenge = children(child(akte, "Akteninhalt"), "Vorgang");
    let filed_by_register: Vec<(String, Vec<String>)> = vorgaenge
        .iter()
        .map(|vorgang| {
            let documents = children(*vorgang, "DokumentOderDokumentMitSchriftstueck")
                .into_iter()
                .map(|wrapper| text(child(wrapper, "Dokument"), &["Identifikation", "xdomeaUUID"]))
                .collect();
            (text(*vorgang, &["AllgemeineMetadaten", "Betreff"]), documents)
        })
        .collect();
    let expected: Vec<(String, Vec<String>)> = ["Zeugnisse", "Verträge"]
        .iter()
        .map(|register| {
            let ids = filed.iter().filter(|document| document.register == *register);
            ((*register).to_owned(), ids.map(|document| document.object_id.as_str().to_owned()).collect())
        })
        .collect();
    assert_eq!(filed_by_register, expected);

    // Every Dokument names a file in the zip whose SHA-256 it carries.
    let dokumente: Vec<Node> = akte.descendants().filter(|node| node.has_tag_name((NAMESPACE, "Dokument"))).collect();
    assert_eq!(dokumente.len(), filed.len());
    let mut named_files = Vec::new();
    for (dokument, document) in dokumente.iter().zip(&filed) {
        assert_eq!(text(*dokument, &["Identifikation", "xdomeaUUID"]), document.object_id.as_str());
        let primary = child(child(child(*dokument, "Version"), "Format"), "Primaerdokument");
        let entry_name = text(primary, &["Dateiname"]);
        let bytes = entries.get(&entry_name).unwrap_or_else(|| panic!("{entry_name} is not in the zip"));
        assert_eq!(text(primary, &["DateinameOriginal"]), document.file_name);
        assert_eq!(text(primary, &["Hash", "Wert"]), sha256_hex(bytes));
        assert_eq!(text(primary, &["Hash", "Wert"]), document.sha256);
        assert_eq!(plain_child(child(child(primary, "Hash"), "Algorithmus"), "code").text(), Some("SHA-256"));
        assert!(text(*dokument, &["AllgemeineMetadaten", "Betreff"]).ends_with("– Äußeres"));
        let external_id = child(*dokument, "AnwendungsspezifischeErweiterung")
            .descendants()
            .filter(|node| node.has_tag_name((NAMESPACE, "Feld")))
            .find(|feld| text(*feld, &["Name"]) == "external_id")
            .map(|feld| text(feld, &["Wert"]));
        assert_eq!(external_id.as_deref(), Some(document.external_id.as_str()));
        named_files.push(entry_name);
    }
    named_files.push(xml_name);
    named_files.sort();
    assert_eq!(named_files, entries.keys().cloned().collect::<Vec<_>>(), "no file in the zip goes unnamed");

    for document in &filed {
        let digest =
            verify(&setup.export, &document.object_id, &document.sha256, document.length, &policy(), &no_sleep)
                .unwrap();
        assert_eq!(digest.length, document.length);
    }
}

#[test]
fn pushing_the_record_again_files_nothing_twice() {
    let setup = setup();
    let (folder_id, first) = push_record(&setup);
    let (_, entries_before) = read_package(&setup.out_dir);
    let package_before = fs::read(setup.export.package_path(&folder_id)).unwrap();

    let (folder_again, again) = push_record(&setup);
    assert_eq!(folder_again, folder_id);
    assert!(again.iter().all(|document| !document.created));
    let ids = |filed: &[Filed]| filed.iter().map(|document| document.object_id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&again), ids(&first));
    assert_eq!(fs::read(setup.export.package_path(&folder_id)).unwrap(), package_before, "the zip is untouched");

    let (_, entries) = read_package(&setup.out_dir);
    assert_eq!(entries.keys().collect::<Vec<_>>(), entries_before.keys().collect::<Vec<_>>());
    let xml_name = entries.keys().find(|name| name.ends_with(".xml")).unwrap();
    let xml = String::from_utf8(entries[xml_name].clone()).unwrap();
    let message = roxmltree::Document::parse(&xml).unwrap();
    let dokumente = message.descendants().filter(|node| node.has_tag_name((NAMESPACE, "Dokument"))).count();
    assert_eq!(dokumente, DOCUMENTS.len());
    let vorgaenge = message.descendants().filter(|node| node.has_tag_name((NAMESPACE, "Vorgang"))).count();
    assert_eq!(vorgaenge, 2);
}

#[test]
fn a_document_filed_again_with_other_content_is_a_conflict_not_a_second_document() {
    let setup = setup();
    let (folder_id, filed) = push_record(&setup);
    let other = setup.work_dir.join("other.pdf");
    fs::write(&other, b"%PDF-1.7 other bytes").unwrap();
    let document = DocumentSpec {
        external_id: filed[0].external_id.clone(),
        file_name: filed[0].file_name.clone(),
        mime_type: "application/pdf".to_owned(),
        fields: Fields::new(),
    };
    let error = setup.export.insert_document(&folder_id, &document, &other).unwrap_err();
    assert!(matches!(error, DmsError::Rejected { status: 409, .. }), "{error}");
    assert_eq!(setup.export.find_document(&filed[0].external_id).unwrap(), [filed[0].object_id.clone()]);
}

#[test]
fn a_damaged_package_fails_the_read_back() {
    let setup = setup();
    let (folder_id, filed) = push_record(&setup);
    let package = setup.export.package_path(&folder_id);
    let mut bytes = fs::read(&package).unwrap();
    let marker = b"document 2 of";
    let at = bytes.windows(marker.len()).position(|window| window == marker).expect("entries are stored");
    bytes[at] ^= 0x01;
    fs::write(&package, &bytes).unwrap();

    let error = setup.export.fetch_content(&filed[1].object_id).unwrap_err();
    assert!(matches!(&error, DmsError::Protocol { message, .. } if message.contains("damaged")), "{error}");
    let failed = verify(&setup.export, &filed[1].object_id, &filed[1].sha256, filed[1].length, &policy(), &no_sleep);
    assert!(matches!(failed, Err(PushError::Failed { .. })), "{failed:?}");
    verify(&setup.export, &filed[0].object_id, &filed[0].sha256, filed[0].length, &policy(), &no_sleep).unwrap();

    // The damage is not carried into the next version of the package.
    let refused = push_outcome(&setup, &folder_id, 4).unwrap_err();
    assert!(matches!(refused.dms_error(), Some(DmsError::Protocol { .. })), "{refused}");
    assert_eq!(fs::read(&package).unwrap(), bytes, "the damaged zip is left as it was");
    assert_eq!(setup.export.find_document(&external_id(4)).unwrap(), []);
}

#[test]
fn a_package_with_other_bytes_under_a_valid_checksum_fails_verification() {
    let setup = setup();
    let (folder_id, filed) = push_record(&setup);
    let package = setup.export.package_path(&folder_id);
    let (_, entries) = read_package(&setup.out_dir);
    let target = {
        let xml_name = entries.keys().find(|name| name.ends_with(".xml")).unwrap();
        let xml = String::from_utf8(entries[xml_name].clone()).unwrap();
        let message = roxmltree::Document::parse(&xml).unwrap();
        let dokument = message
            .descendants()
            .filter(|node| node.has_tag_name((NAMESPACE, "Dokument")))
            .find(|node| text(*node, &["Identifikation", "xdomeaUUID"]) == filed[1].object_id.as_str())
            .unwrap();
        text(child(child(child(dokument, "Version"), "Format"), "Primaerdokument"), &["Dateiname"])
    };
    let mut writer = zip::ZipWriter::new(fs::File::create(&package).unwrap());
    for (name, bytes) in &entries {
        writer.start_file(name.as_str(), zip::write::SimpleFileOptions::default()).unwrap();
        let bytes: &[u8] = if *name == target { b"%PDF-1.7 someone else's file" } else { bytes };
        writer.write_all(bytes).unwrap();
    }
    writer.finish().unwrap();

    let mismatch = verify(&setup.export, &filed[1].object_id, &filed[1].sha256, filed[1].length, &policy(), &no_sleep);
    assert!(matches!(mismatch, Err(PushError::Mismatch { .. })), "{mismatch:?}");
    verify(&setup.export, &filed[2].object_id, &filed[2].sha256, filed[2].length, &policy(), &no_sleep).unwrap();
}

#[test]
fn a_package_moved_away_cannot_grow_and_says_so() {
    let setup = setup();
    let (folder_id, _) = push_record(&setup);
    let package = setup.export.package_path(&folder_id);
    fs::rename(&package, setup.work_dir.join("handed-over.zip")).unwrap();
    let refused = push_outcome(&setup, &folder_id, 4).unwrap_err();
    assert!(
        matches!(refused.dms_error(), Some(DmsError::Protocol { message, .. }) if message.contains("is missing")),
        "{refused}"
    );
}

#[test]
fn health_needs_an_existing_writable_directory() {
    let setup = setup();
    let health = setup.export.health().unwrap();
    assert_eq!(health.object_types, ["Akte", "Vorgang", "Dokument"]);

    let missing = XdomeaExport::new(settings(&setup.work_dir.join("not-there"))).unwrap();
    assert!(matches!(missing.health(), Err(DmsError::Settings { field: "out_dir", .. })));
    let file = setup.work_dir.join("a-file");
    fs::write(&file, b"").unwrap();
    let not_a_directory = XdomeaExport::new(settings(&file)).unwrap();
    assert!(matches!(not_a_directory.health(), Err(DmsError::Settings { field: "out_dir", .. })));
    let nothing_written =
        ensure_folder(&missing, &FolderSpec { key: RECORD_ID.to_owned(), fields: Fields::new() }, &policy(), &no_sleep);
    assert!(nothing_written.is_err());
    assert!(!setup.work_dir.join("not-there").exists(), "a missing out_dir is reported, not created");
}

#[test]
fn settings_without_codes_are_refused() {
    let error = XdomeaExport::new(XdomeaSettings { sender_code: String::new(), ..settings(Path::new("out")) });
    assert!(matches!(error, Err(DmsError::Settings { field: "sender_code", .. })));
    let error = XdomeaExport::new(XdomeaSettings { out_dir: PathBuf::new(), ..settings(Path::new("out")) });
    assert!(matches!(error, Err(DmsError::Settings { field: "out_dir", .. })));
}
