//! The message XML of one record: an xdomea 4.0.0 `Abgabe.Abgabe.0401`
//! built from the record's manifest. Element names, their order and the
//! code lists follow the 4.0.0 schema (`xdomea-Nachrichten-AbgabeDurchfuehren.xsd`,
//! `xdomea-Baukasten.xsd`); only what the mapping in `super` fills is written.
//!
//! Pure: no files and no clock, the caller passes the ids and the time. The
//! XML is written by hand (a small writer with escaping), as the message is
//! a fixed tree and a serializer would add a dependency for nothing.

use super::{DocumentEntry, Manifest};
use crate::Fields;

/// The xdomea version this export writes, and its target namespace.
pub(super) const XDOMEA_VERSION: &str = "4.0.0";
pub(super) const XDOMEA_NAMESPACE: &str = "urn:xoev-de:xdomea:schema:4.0.0";
/// Code of `Abgabe.Abgabe` in the code list `nachrichtentyp` 3.0.
pub(super) const MESSAGE_TYPE_CODE: &str = "0401";

const MESSAGE_TYPE_LIST: (&str, &str) = ("urn:xoev-de:xdomea:codeliste:nachrichtentyp", "3.0");
const FILE_FORMAT_LIST: (&str, &str) = ("urn:xoev-de:xdomea:codeliste:dateiformat", "2.0");
const HASH_ALGORITHM_LIST: (&str, &str) =
    ("urn:xoev-de:kosit:codeliste:xta.serviceprofile.kryptographische-algorithmen", "1.0.0");
/// The schema demands a list version for the directory service; "1" is not
/// checked against XRepository (see the module documentation of `super`).
const DIRECTORY_SERVICE_LIST: (&str, &str) = ("urn:xoev-de:kosit:codeliste:verzeichnisdienst", "1");
/// `Kennung` and `Name` of the application-specific extension that carries
/// our index fields.
const EXTENSION_ID: &str = "scan2dms";
const EXTENSION_NAME: &str = "scan2dms-Indexdaten";

/// What the message says about itself and its parties.
#[derive(Debug, Clone, Copy)]
pub(super) struct Header<'a> {
    pub message_id: &'a str,
    /// `xs:dateTime` in UTC with milliseconds, as the schema asks.
    pub created_at: &'a str,
    pub sender_code: &'a str,
    pub receiver_code: &'a str,
    pub directory_service: &'a str,
    /// `produkthersteller` on the root element.
    pub producer: &'a str,
    /// The field (of folder and document fields) whose value is the `Betreff`.
    pub title_field: &'a str,
}

/// The whole message for the record, as UTF-8 text.
pub(super) fn message_xml(header: &Header<'_>, record: &Manifest) -> String {
    let mut xml = Xml::default();
    xml.out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    xml.open(
        "xdomea:Abgabe.Abgabe.0401",
        &[
            ("xmlns:xdomea", XDOMEA_NAMESPACE),
            ("produkt", "scan2dms"),
            ("produkthersteller", header.producer),
            ("produktversion", env!("CARGO_PKG_VERSION")),
            ("standard", "xdomea"),
            ("version", XDOMEA_VERSION),
        ],
    );
    write_message_header(&mut xml, header, &record.process_id);
    xml.leaf("xdomea:Importbestaetigung", "1");
    xml.leaf("xdomea:Empfangsbestaetigung", "0");
    xml.leaf("xdomea:LfdNrNachrichtProTyp", "1");
    xml.leaf("xdomea:GesamtanzahlNachrichtenProTyp", "1");
    xml.open("xdomea:Schriftgutobjekt", &[]);
    write_file_object(&mut xml, header, record);
    xml.close("xdomea:Schriftgutobjekt");
    xml.close("xdomea:Abgabe.Abgabe.0401");
    xml.out
}

fn write_message_header(xml: &mut Xml, header: &Header<'_>, process_id: &str) {
    xml.open("xdomea:nachrichtenkopf", &[]);
    // The three children of identifikation.nachricht are unqualified in the schema.
    xml.open("xdomea:identifikation.nachricht", &[]);
    xml.leaf("nachrichtenUUID", header.message_id);
    xml.code("nachrichtentyp", MESSAGE_TYPE_LIST, MESSAGE_TYPE_CODE, Some("Abgabe.Abgabe"));
    xml.leaf("erstellungszeitpunkt", header.created_at);
    xml.close("xdomea:identifikation.nachricht");
    for (party, code) in [("xdomea:leser", header.receiver_code), ("xdomea:autor", header.sender_code)] {
        xml.open(party, &[]);
        xml.open("xdomea:Behoerdenkennung", &[]);
        xml.code("xdomea:verzeichnisdienst", DIRECTORY_SERVICE_LIST, header.directory_service, None);
        xml.leaf("xdomea:kennung", code);
        xml.close("xdomea:Behoerdenkennung");
        xml.close(party);
    }
    xml.leaf("xdomea:ProzessID", process_id);
    xml.close("xdomea:nachrichtenkopf");
}

/// The record as an `Akte`: documents filed directly in the folder, then one
/// `Vorgang` per register with its documents, in the order they were added.
fn write_file_object(xml: &mut Xml, header: &Header<'_>, record: &Manifest) {
    xml.open("xdomea:Akte", &[]);
    write_identification(xml, &record.folder_id);
    xml.open("xdomea:AllgemeineMetadaten", &[]);
    if let Some(title) = record.fields.get(header.title_field) {
        xml.leaf("xdomea:Betreff", title);
    }
    xml.leaf("xdomea:Kennzeichen", &record.record_key);
    xml.close("xdomea:AllgemeineMetadaten");
    if !(record.documents.is_empty() && record.registers.is_empty()) {
        xml.open("xdomea:Akteninhalt", &[]);
        for document in record.documents.iter().filter(|document| document.parent_id == record.folder_id) {
            write_document(xml, header, document);
        }
        for register in &record.registers {
            xml.open("xdomea:Vorgang", &[]);
            write_identification(xml, &register.id);
            xml.open("xdomea:AllgemeineMetadaten", &[]);
            xml.leaf("xdomea:Betreff", &register.name);
            xml.close("xdomea:AllgemeineMetadaten");
            for document in record.documents.iter().filter(|document| document.parent_id == register.id) {
                write_document(xml, header, document);
            }
            write_extension(xml, &register.fields, None);
            xml.close("xdomea:Vorgang");
        }
        xml.close("xdomea:Akteninhalt");
    }
    write_extension(xml, &record.fields, None);
    xml.close("xdomea:Akte");
}

/// One document with one version in one format: its primary document is the
/// zip entry `entry_name`, named by its own UUID, with its SHA-256.
fn write_document(xml: &mut Xml, header: &Header<'_>, document: &DocumentEntry) {
    let (format_code, format_name) = file_format(&document.mime_type);
    xml.open("xdomea:DokumentOderDokumentMitSchriftstueck", &[]);
    xml.open("xdomea:Dokument", &[]);
    write_identification(xml, &document.id);
    xml.open("xdomea:AllgemeineMetadaten", &[]);
    let title = document.fields.get(header.title_field).unwrap_or(&document.original_file_name);
    xml.leaf("xdomea:Betreff", title);
    xml.close("xdomea:AllgemeineMetadaten");
    write_extension(xml, &document.fields, Some(&document.external_id));
    xml.open("xdomea:Version", &[]);
    xml.leaf("xdomea:Nummer", "1");
    xml.open("xdomea:Format", &[]);
    xml.code("xdomea:Name", FILE_FORMAT_LIST, format_code, Some(format_name));
    if format_code == OTHER_FORMAT.0 {
        xml.leaf("xdomea:SonstigerName", &document.mime_type);
    }
    xml.leaf("xdomea:Version", "");
    xml.open("xdomea:Primaerdokument", &[]);
    xml.leaf("xdomea:Dateiname", &document.entry_name);
    xml.leaf("xdomea:DateinameOriginal", &document.original_file_name);
    xml.open("xdomea:Hash", &[]);
    xml.leaf("xdomea:Wert", &document.sha256);
    xml.code("xdomea:Algorithmus", HASH_ALGORITHM_LIST, "SHA-256", None);
    xml.close("xdomea:Hash");
    xml.close("xdomea:Primaerdokument");
    xml.close("xdomea:Format");
    xml.close("xdomea:Version");
    xml.close("xdomea:Dokument");
    xml.close("xdomea:DokumentOderDokumentMitSchriftstueck");
}

fn write_identification(xml: &mut Xml, id: &str) {
    xml.open("xdomea:Identifikation", &[]);
    xml.leaf("xdomea:xdomeaUUID", id);
    xml.close("xdomea:Identifikation");
}

/// Our index fields (and a document's external id) as one
/// `AnwendungsspezifischeErweiterung` with a `Feld` each; nothing when there
/// is nothing to say.
fn write_extension(xml: &mut Xml, fields: &Fields, external_id: Option<&str>) {
    if fields.is_empty() && external_id.is_none() {
        return;
    }
    xml.open("xdomea:AnwendungsspezifischeErweiterung", &[]);
    xml.leaf("xdomea:Kennung", EXTENSION_ID);
    xml.leaf("xdomea:Name", EXTENSION_NAME);
    let external_id = external_id.map(|value| ("external_id", value));
    for (name, value) in
        external_id.into_iter().chain(fields.iter().map(|(name, value)| (name.as_str(), value.as_str())))
    {
        xml.open("xdomea:Feld", &[]);
        xml.leaf("xdomea:Name", name);
        xml.leaf("xdomea:Wert", value);
        xml.close("xdomea:Feld");
    }
    xml.close("xdomea:AnwendungsspezifischeErweiterung");
}

const OTHER_FORMAT: (&str, &str) = ("100", "Sonstiges");

/// Code and description in the code list `dateiformat` 2.0. PDF is filed as
/// "Portable Document Format (Archival)": scan2dms files PDF/A e-files only.
fn file_format(mime_type: &str) -> (&'static str, &'static str) {
    let essence = mime_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    match essence.as_str() {
        "application/pdf" => ("044", "Portable Document Format (Archival)"),
        "image/tiff" => ("023", "Tagged Image File Format"),
        "image/png" => ("019", "Portable Network Graphics"),
        "image/jpeg" => ("011", "JPEG File Interchange Format"),
        "application/xml" | "text/xml" => ("030", "eXtensible Markup Language"),
        "text/plain" => ("045", "Unicode Text File"),
        _ => OTHER_FORMAT,
    }
}

/// The file extension (with its dot) for a primary document: the original
/// one when it is short and plain, else one for the MIME type, else none.
pub(super) fn file_extension(original_file_name: &str, mime_type: &str) -> String {
    let original = std::path::Path::new(original_file_name).extension().and_then(|extension| extension.to_str());
    if let Some(extension) = original
        && (1..=5).contains(&extension.len())
        && extension.bytes().all(|byte| byte.is_ascii_alphanumeric())
    {
        return format!(".{}", extension.to_ascii_lowercase());
    }
    let by_type = match file_format(mime_type).0 {
        "044" => ".pdf",
        "023" => ".tif",
        "019" => ".png",
        "011" => ".jpg",
        "030" => ".xml",
        "045" => ".txt",
        _ => "",
    };
    by_type.to_owned()
}

/// An indenting XML writer over a string. Text and attribute values are
/// escaped; characters XML 1.0 cannot carry at all (most C0 controls,
/// U+FFFE, U+FFFF) become U+FFFD, so a stray control character from an order
/// list cannot make the message unreadable.
#[derive(Debug, Default)]
struct Xml {
    out: String,
    depth: usize,
}

impl Xml {
    fn open(&mut self, name: &str, attributes: &[(&str, &str)]) {
        self.indent();
        self.out.push('<');
        self.out.push_str(name);
        for (attribute, value) in attributes {
            self.out.push(' ');
            self.out.push_str(attribute);
            self.out.push_str("=\"");
            escape_into(&mut self.out, value);
            self.out.push('"');
        }
        self.out.push_str(">\n");
        self.depth += 1;
    }

    fn close(&mut self, name: &str) {
        self.depth = self.depth.saturating_sub(1);
        self.indent();
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push_str(">\n");
    }

    fn leaf(&mut self, name: &str, text: &str) {
        self.indent();
        self.out.push('<');
        self.out.push_str(name);
        if text.is_empty() {
            self.out.push_str("/>\n");
            return;
        }
        self.out.push('>');
        escape_into(&mut self.out, text);
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push_str(">\n");
    }

    /// A code-list value: `listURI` and `listVersionID` on the element, the
    /// unqualified `code` and (optionally) `name` inside.
    fn code(&mut self, name: &str, list: (&str, &str), code: &str, code_name: Option<&str>) {
        self.open(name, &[("listURI", list.0), ("listVersionID", list.1)]);
        self.leaf("code", code);
        if let Some(code_name) = code_name {
            self.leaf("name", code_name);
        }
        self.close(name);
    }

    fn indent(&mut self) {
        for _ in 0..self.depth {
            self.out.push_str("  ");
        }
    }
}

fn escape_into(out: &mut String, text: &str) {
    for character in text.chars() {
        match character {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Kept as references: a parser would turn them into plain spaces
            // or line feeds (attribute and end-of-line normalisation).
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\u{0}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}' => out.push('\u{fffd}'),
            other => out.push(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use expect_test::expect;

    use super::*;
    use crate::xdomea::{MANIFEST_FORMAT, RegisterEntry};

    fn fields(pairs: &[(&str, &str)]) -> Fields {
        pairs.iter().map(|(name, value)| ((*name).to_owned(), (*value).to_owned())).collect()
    }

    #[test]
    fn a_record_with_a_register_and_a_loose_document_maps_to_one_akte() {
        let record = Manifest {
            format: MANIFEST_FORMAT,
            record_key: "R-7".to_owned(),
            folder_id: "00000000-0000-8000-8000-00000000000a".to_owned(),
            process_id: "00000000-0000-8000-8000-00000000000b".to_owned(),
            fields: fields(&[("title", "Müller, Jürgen & Söhne <GmbH>")]),
            registers: vec![RegisterEntry {
                id: "00000000-0000-8000-8000-00000000000c".to_owned(),
                name: "Zeugnisse".to_owned(),
                fields: Fields::new(),
            }],
            documents: vec![
                DocumentEntry {
                    id: "00000000-0000-8000-8000-00000000000d".to_owned(),
                    parent_id: "00000000-0000-8000-8000-00000000000c".to_owned(),
                    external_id: "B1/R-7/1".to_owned(),
                    entry_name: "00000000-0000-8000-8000-00000000000e.pdf".to_owned(),
                    original_file_name: "R-7_001.pdf".to_owned(),
                    mime_type: "application/pdf".to_owned(),
                    sha256: "ab".repeat(32),
                    length: 4,
                    fields: fields(&[("pages", "2")]),
                },
                DocumentEntry {
                    id: "00000000-0000-8000-8000-00000000000f".to_owned(),
                    parent_id: "00000000-0000-8000-8000-00000000000a".to_owned(),
                    external_id: "B1/R-7/2".to_owned(),
                    entry_name: "00000000-0000-8000-8000-000000000010".to_owned(),
                    original_file_name: "notiz\u{1}\"1\"".to_owned(),
                    mime_type: "application/x-unknown".to_owned(),
                    sha256: "cd".repeat(32),
                    length: 5,
                    fields: Fields::new(),
                },
            ],
        };
        let header = Header {
            message_id: "00000000-0000-8000-8000-000000000001",
            created_at: "2025-01-15T12:00:00.000Z",
            sender_code: "psw:01003110",
            receiver_code: "psw:05315000",
            directory_service: "DVDV",
            producer: "Stadt Beispiel",
            title_field: "title",
        };
        let xml = message_xml(&header, &record).replace(env!("CARGO_PKG_VERSION"), "VERSION");
        expect![[r#"
            <?xml version="1.0" encoding="UTF-8"?>
            <xdomea:Abgabe.Abgabe.0401 xmlns:xdomea="urn:xoev-de:xdomea:schema:4.0.0" produkt="scan2dms" produkthersteller="Stadt Beispiel" produktversion="VERSION" standard="xdomea" version="4.0.0">
              <xdomea:nachrichtenkopf>
                <xdomea:identifikation.nachricht>
                  <nachrichtenUUID>00000000-0000-8000-8000-000000000001</nachrichtenUUID>
                  <nachrichtentyp listURI="urn:xoev-de:xdomea:codeliste:nachrichtentyp" listVersionID="3.0">
                    <code>0401</code>
                    <name>Abgabe.Abgabe</name>
                  </nachrichtentyp>
                  <erstellungszeitpunkt>2025-01-15T12:00:00.000Z</erstellungszeitpunkt>
                </xdomea:identifikation.nachricht>
                <xdomea:leser>
                  <xdomea:Behoerdenkennung>
                    <xdomea:verzeichnisdienst listURI="urn:xoev-de:kosit:codeliste:verzeichnisdienst" listVersionID="1">
                      <code>DVDV</code>
                    </xdomea:verzeichnisdienst>
                    <xdomea:kennung>psw:05315000</xdomea:kennung>
                  </xdomea:Behoerdenkennung>
                </xdomea:leser>
                <xdomea:autor>
                  <xdomea:Behoerdenkennung>
                    <xdomea:verzeichnisdienst listURI="urn:xoev-de:kosit:codeliste:verzeichnisdienst" listVersionID="1">
                      <code>DVDV</code>
                    </xdomea:verzeichnisdienst>
                    <xdomea:kennung>psw:01003110</xdomea:kennung>
                  </xdomea:Behoerdenkennung>
                </xdomea:autor>
                <xdomea:ProzessID>00000000-0000-8000-8000-00000000000b</xdomea:ProzessID>
              </xdomea:nachrichtenkopf>
              <xdomea:Importbestaetigung>1</xdomea:Importbestaetigung>
              <xdomea:Empfangsbestaetigung>0</xdomea:Empfangsbestaetigung>
              <xdomea:LfdNrNachrichtProTyp>1</xdomea:LfdNrNachrichtProTyp>
              <xdomea:GesamtanzahlNachrichtenProTyp>1</xdomea:GesamtanzahlNachrichtenProTyp>
              <xdomea:Schriftgutobjekt>
                <xdomea:Akte>
                  <xdomea:Identifikation>
                    <xdomea:xdomeaUUID>00000000-0000-8000-8000-00000000000a</xdomea:xdomeaUUID>
                  </xdomea:Identifikation>
                  <xdomea:AllgemeineMetadaten>
                    <xdomea:Betreff>Müller, Jürgen &amp; Söhne &lt;GmbH&gt;</xdomea:Betreff>
                    <xdomea:Kennzeichen>R-7</xdomea:Kennzeichen>
                  </xdomea:AllgemeineMetadaten>
                  <xdomea:Akteninhalt>
                    <xdomea:DokumentOderDokumentMitSchriftstueck>
                      <xdomea:Dokument>
                        <xdomea:Identifikation>
                          <xdomea:xdomeaUUID>00000000-0000-8000-8000-00000000000f</xdomea:xdomeaUUID>
                        </xdomea:Identifikation>
                        <xdomea:AllgemeineMetadaten>
                          <xdomea:Betreff>notiz�&quot;1&quot;</xdomea:Betreff>
                        </xdomea:AllgemeineMetadaten>
                        <xdomea:AnwendungsspezifischeErweiterung>
                          <xdomea:Kennung>scan2dms</xdomea:Kennung>
                          <xdomea:Name>scan2dms-Indexdaten</xdomea:Name>
                          <xdomea:Feld>
                            <xdomea:Name>external_id</xdomea:Name>
                            <xdomea:Wert>B1/R-7/2</xdomea:Wert>
                          </xdomea:Feld>
                        </xdomea:AnwendungsspezifischeErweiterung>
                        <xdomea:Version>
                          <xdomea:Nummer>1</xdomea:Nummer>
                          <xdomea:Format>
                            <xdomea:Name listURI="urn:xoev-de:xdomea:codeliste:dateiformat" listVersionID="2.0">
                              <code>100</code>
                              <name>Sonstiges</name>
                            </xdomea:Name>
                            <xdomea:SonstigerName>application/x-unknown</xdomea:SonstigerName>
                            <xdomea:Version/>
                            <xdomea:Primaerdokument>
                              <xdomea:Dateiname>00000000-0000-8000-8000-000000000010</xdomea:Dateiname>
                              <xdomea:DateinameOriginal>notiz�&quot;1&quot;</xdomea:DateinameOriginal>
                              <xdomea:Hash>
                                <xdomea:Wert>cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd</xdomea:Wert>
                                <xdomea:Algorithmus listURI="urn:xoev-de:kosit:codeliste:xta.serviceprofile.kryptographische-algorithmen" listVersionID="1.0.0">
                                  <code>SHA-256</code>
                                </xdomea:Algorithmus>
                              </xdomea:Hash>
                            </xdomea:Primaerdokument>
                          </xdomea:Format>
                        </xdomea:Version>
                      </xdomea:Dokument>
                    </xdomea:DokumentOderDokumentMitSchriftstueck>
                    <xdomea:Vorgang>
                      <xdomea:Identifikation>
                        <xdomea:xdomeaUUID>00000000-0000-8000-8000-00000000000c</xdomea:xdomeaUUID>
                      </xdomea:Identifikation>
                      <xdomea:AllgemeineMetadaten>
                        <xdomea:Betreff>Zeugnisse</xdomea:Betreff>
                      </xdomea:AllgemeineMetadaten>
                      <xdomea:DokumentOderDokumentMitSchriftstueck>
                        <xdomea:Dokument>
                          <xdomea:Identifikation>
                            <xdomea:xdomeaUUID>00000000-0000-8000-8000-00000000000d</xdomea:xdomeaUUID>
                          </xdomea:Identifikation>
                          <xdomea:AllgemeineMetadaten>
                            <xdomea:Betreff>R-7_001.pdf</xdomea:Betreff>
                          </xdomea:AllgemeineMetadaten>
                          <xdomea:AnwendungsspezifischeErweiterung>
                            <xdomea:Kennung>scan2dms</xdomea:Kennung>
                            <xdomea:Name>scan2dms-Indexdaten</xdomea:Name>
                            <xdomea:Feld>
                              <xdomea:Name>external_id</xdomea:Name>
                              <xdomea:Wert>B1/R-7/1</xdomea:Wert>
                            </xdomea:Feld>
                            <xdomea:Feld>
                              <xdomea:Name>pages</xdomea:Name>
                              <xdomea:Wert>2</xdomea:Wert>
                            </xdomea:Feld>
                          </xdomea:AnwendungsspezifischeErweiterung>
                          <xdomea:Version>
                            <xdomea:Nummer>1</xdomea:Nummer>
                            <xdomea:Format>
                              <xdomea:Name listURI="urn:xoev-de:xdomea:codeliste:dateiformat" listVersionID="2.0">
                                <code>044</code>
                                <name>Portable Document Format (Archival)</name>
                              </xdomea:Name>
                              <xdomea:Version/>
                              <xdomea:Primaerdokument>
                                <xdomea:Dateiname>00000000-0000-8000-8000-00000000000e.pdf</xdomea:Dateiname>
                                <xdomea:DateinameOriginal>R-7_001.pdf</xdomea:DateinameOriginal>
                                <xdomea:Hash>
                                  <xdomea:Wert>abababababababababababababababababababababababababababababababab</xdomea:Wert>
                                  <xdomea:Algorithmus listURI="urn:xoev-de:kosit:codeliste:xta.serviceprofile.kryptographische-algorithmen" listVersionID="1.0.0">
                                    <code>SHA-256</code>
                                  </xdomea:Algorithmus>
                                </xdomea:Hash>
                              </xdomea:Primaerdokument>
                            </xdomea:Format>
                          </xdomea:Version>
                        </xdomea:Dokument>
                      </xdomea:DokumentOderDokumentMitSchriftstueck>
                    </xdomea:Vorgang>
                  </xdomea:Akteninhalt>
                  <xdomea:AnwendungsspezifischeErweiterung>
                    <xdomea:Kennung>scan2dms</xdomea:Kennung>
                    <xdomea:Name>scan2dms-Indexdaten</xdomea:Name>
                    <xdomea:Feld>
                      <xdomea:Name>title</xdomea:Name>
                      <xdomea:Wert>Müller, Jürgen &amp; Söhne &lt;GmbH&gt;</xdomea:Wert>
                    </xdomea:Feld>
                  </xdomea:AnwendungsspezifischeErweiterung>
                </xdomea:Akte>
              </xdomea:Schriftgutobjekt>
            </xdomea:Abgabe.Abgabe.0401>
        "#]]
        .assert_eq(&xml);
    }

    #[test]
    fn primary_documents_keep_a_plain_extension_or_get_one_from_their_type() {
        assert_eq!(file_extension("R-1_001.PDF", "application/pdf"), ".pdf");
        assert_eq!(file_extension("scan", "image/tiff; charset=binary"), ".tif");
        assert_eq!(file_extension("a.weird ext", "application/x-unknown"), "");
    }
}
