//! E-files built from the fixture page images (G4 TIFF strip, JPEG, raw
//! gray), checked with the crate's own PDF/A rules and with the poppler and
//! qpdf command-line tools a person would use.

use std::path::{Path, PathBuf};
use std::process::Command;

use scan2dms_efile::pdfa_checks::{self, PdfaViolation};
use scan2dms_efile::{
    EfileError, EfilePage, PageImage, Provenance, RawColor, SourceFile, TextWord, write_efile, write_efile_to_vec,
};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/images").join(name)
}

fn provenance() -> Provenance {
    Provenance {
        batch_id: "SSN-0001-033".into(),
        record_id: "PN-481473".into(),
        document_no: 2,
        title: Some("Bauakte PN-481473 – Dokument 2 (Prüfung)".into()),
        sources: vec![
            SourceFile { path: "images/PN-481473/0001.tif".into(), sha256: "ab".repeat(32), pages: vec![1] },
            SourceFile { path: "images/PN-878785/0001.jpg".into(), sha256: "cd".repeat(32), pages: vec![1] },
        ],
        producer: scan2dms_efile::PRODUCER.into(),
        created: "2026-03-01T10:15:30.250+01:00".into(),
        processing_log: vec![
            "page 1: ocr ok, confidence 91".into(),
            "page 3: rotated_page 90 <corrected> & kept".into(),
        ],
    }
}

fn word(text: &str, bbox: [u32; 4], line: u32) -> TextWord {
    TextWord { text: text.into(), bbox, line }
}

/// The G4 page: the TIFF's strips, unchanged.
fn g4_page() -> EfilePage {
    let path = fixture("g4-300dpi.tif");
    let bytes = std::fs::read(&path).expect("read g4 fixture");
    let mut decoder = tiff::decoder::Decoder::new(std::io::Cursor::new(&bytes)).expect("tiff header");
    let (width, height) = decoder.dimensions().expect("dimensions");
    let offsets = decoder.get_tag_u64_vec(tiff::tags::Tag::StripOffsets).expect("strip offsets");
    let counts = decoder.get_tag_u64_vec(tiff::tags::Tag::StripByteCounts).expect("strip byte counts");
    let rows_per_strip = decoder.get_tag_u32(tiff::tags::Tag::RowsPerStrip).expect("rows per strip");
    let photometric = decoder.get_tag_u32(tiff::tags::Tag::PhotometricInterpretation).expect("photometric");
    let strips = offsets
        .iter()
        .zip(&counts)
        .map(|(offset, count)| bytes[*offset as usize..(offset + count) as usize].to_vec())
        .collect();
    EfilePage {
        image: PageImage::CcittStrips {
            strips,
            rows_per_strip,
            width,
            height,
            k: -1,
            black_is_1: photometric == 1,
            encoded_byte_align: false,
        },
        dpi: 300.0,
        rotate_clockwise_deg: 0,
        deskew_deg: 0.0,
        words: vec![
            word("Stadt", [300, 300, 520, 360], 1),
            word("Musterstadt", [550, 300, 1000, 360], 1),
            word("Bauamt", [1030, 300, 1300, 360], 1),
            word("Aktenzeichen", [300, 400, 760, 460], 2),
            word("12/345", [790, 400, 1010, 460], 2),
            word("Ümlaut-Prüfung", [1040, 395, 1600, 470], 2),
        ],
    }
}

fn jpeg_page() -> EfilePage {
    let data = std::fs::read(fixture("gray-200dpi.jpg")).expect("read jpeg fixture");
    EfilePage {
        image: PageImage::Jpeg { data, width: 1654, height: 2339, components: 1 },
        dpi: 200.0,
        rotate_clockwise_deg: 0,
        deskew_deg: 0.0,
        words: vec![word("Anlage", [200, 200, 400, 240], 7), word("𝔸usnahme", [420, 200, 700, 240], 7)],
    }
}

/// A landscape-stored gray page, 600x400 at 100 dpi, that must be turned
/// 90° clockwise: a black block at the stored top-left ends up top-right.
fn rotated_raw_page() -> EfilePage {
    let (width, height) = (600u32, 400u32);
    let mut pixels = vec![230u8; (width * height) as usize];
    for y in 0..120 {
        for x in 0..160 {
            pixels[(y * width + x) as usize] = 0;
        }
    }
    EfilePage {
        image: PageImage::Raw { pixels, width, height, color: RawColor::Gray8 },
        dpi: 100.0,
        rotate_clockwise_deg: 90,
        deskew_deg: 0.0,
        // Upright the page is 400x600 pixels.
        words: vec![word("Gedreht", [20, 300, 200, 340], 1), word("upright", [220, 300, 380, 340], 1)],
    }
}

fn efile() -> Vec<u8> {
    let (bytes, summary) =
        write_efile_to_vec(&[g4_page(), jpeg_page(), rotated_raw_page()], &provenance()).expect("write e-file");
    assert_eq!(summary.pages, 3);
    assert_eq!(summary.bytes, bytes.len() as u64);
    bytes
}

fn save(bytes: &[u8], name: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).expect("write pdf");
    (dir, path)
}

fn run(program: &str, args: &[&str]) -> String {
    let output =
        Command::new(program).args(args).output().unwrap_or_else(|error| panic!("cannot run {program}: {error}"));
    assert!(
        output.status.success(),
        "{program} {args:?} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn efile_from_fixture_pages_passes_every_pdfa_check() {
    let violations = pdfa_checks::check_pdfa(&efile());
    assert!(violations.is_empty(), "{violations:#?}");
}

#[test]
fn qpdf_check_passes() {
    let (_dir, path) = save(&efile(), "doc.pdf");
    let report = run("qpdf", &["--check", path.to_str().expect("utf-8 path")]);
    assert!(report.contains("No syntax or stream encoding errors found"), "{report}");
}

#[test]
fn pdftotext_returns_the_words_one_line_per_ocr_line() {
    let (_dir, path) = save(&efile(), "doc.pdf");
    let path = path.to_str().expect("utf-8 path");
    // pdftotext separates text blocks by an empty line; the lines themselves must match.
    let page = |n: &str| {
        let text = run("pdftotext", &["-f", n, "-l", n, "-enc", "UTF-8", path, "-"]);
        text.lines().filter(|line| !line.trim().is_empty() && *line != "\u{c}").collect::<Vec<_>>().join("\n")
    };
    assert_eq!(page("1"), "Stadt Musterstadt Bauamt\nAktenzeichen 12/345 Ümlaut-Prüfung");
    assert_eq!(page("2"), "Anlage 𝔸usnahme");
    assert_eq!(page("3"), "Gedreht upright");
}

#[test]
fn pdffonts_shows_the_text_font_embedded_with_tounicode() {
    let (_dir, path) = save(&efile(), "doc.pdf");
    let report = run("pdffonts", &[path.to_str().expect("utf-8 path")]);
    let font_lines: Vec<&str> = report.lines().skip(2).collect();
    assert_eq!(font_lines.len(), 1, "{report}");
    let columns: Vec<&str> = font_lines[0].split_whitespace().collect();
    // name type(2 words) encoding emb sub uni object id
    assert_eq!(columns[0], "Scan2dmsInvisible", "{report}");
    assert_eq!(&columns[1..4], ["CID", "TrueType", "Identity-H"], "{report}");
    assert_eq!(&columns[4..7], ["yes", "no", "yes"], "emb sub uni: {report}");
}

#[test]
fn pdfinfo_page_sizes_follow_pixels_and_dpi_upright() {
    let (_dir, path) = save(&efile(), "doc.pdf");
    let report = run("pdfinfo", &["-f", "1", "-l", "3", path.to_str().expect("utf-8 path")]);
    let sizes: Vec<&str> = report
        .lines()
        .filter(|line| line.starts_with("Page") && line.contains("size:"))
        .map(|line| line.split_once("size:").map_or("", |(_, size)| size.trim()))
        .collect();
    // 2480x3508 at 300 dpi is A4; 1654x2339 at 200 dpi; 600x400 at 100 dpi turned upright.
    assert_eq!(sizes, ["595.2 x 841.92 pts (A4)", "595.44 x 842.04 pts (A4)", "288 x 432 pts"], "{report}");
    let rotations: Vec<&str> = report.lines().filter(|line| line.contains("rot:")).collect();
    assert!(rotations.iter().all(|line| line.trim_end().ends_with('0')), "no /Rotate: {report}");
    assert!(report.contains("Producer:        scan2dms "), "{report}");
    assert!(report.contains("Title:           Bauakte PN-481473 – Dokument 2 (Prüfung)"), "{report}");
}

#[test]
fn jpeg_is_embedded_byte_for_byte() {
    let document = lopdf::Document::load_mem(&efile()).expect("parse");
    let input = std::fs::read(fixture("gray-200dpi.jpg")).expect("read jpeg");
    let dct: Vec<&lopdf::Stream> = document
        .objects
        .values()
        .filter_map(|object| object.as_stream().ok())
        .filter(|stream| stream.dict.get(b"Filter").and_then(|f| f.as_name()).ok() == Some(b"DCTDecode".as_slice()))
        .collect();
    assert_eq!(dct.len(), 1);
    assert!(dct[0].content == input, "jpeg bytes changed on the way into the pdf");
}

#[test]
fn g4_strips_are_embedded_byte_for_byte_as_ccitt() {
    let document = lopdf::Document::load_mem(&efile()).expect("parse");
    let PageImage::CcittStrips { strips, .. } = g4_page().image else { unreachable!("g4 page is in strips") };
    let ccitt: Vec<Vec<u8>> = document
        .objects
        .values()
        .filter_map(|object| object.as_stream().ok())
        .filter(|stream| {
            stream.dict.get(b"Filter").and_then(|f| f.as_name()).ok() == Some(b"CCITTFaxDecode".as_slice())
        })
        .map(|stream| stream.content.clone())
        .collect();
    assert_eq!(strips.len(), 17);
    assert!(ccitt == strips, "ccitt strips changed on the way into the pdf");
}

#[test]
fn xmp_parses_and_carries_pdfaid_and_provenance() {
    let document = lopdf::Document::load_mem(&efile()).expect("parse");
    let packet = pdfa_checks::xmp_packet(&document).expect("xmp packet");
    let xml = roxmltree::Document::parse(&packet).expect("xmp is xml");
    let value = |namespace: &str, local: &str| pdfa_checks::xmp_value(&xml, namespace, local);
    let pdfaid = "http://www.aiim.org/pdfa/ns/id/";
    assert_eq!(value(pdfaid, "part").as_deref(), Some("2"));
    assert_eq!(value(pdfaid, "conformance").as_deref(), Some("B"));
    assert_eq!(
        value("http://purl.org/dc/elements/1.1/", "title").as_deref(),
        Some("Bauakte PN-481473 – Dokument 2 (Prüfung)")
    );
    let ns = scan2dms_efile::xmp::PROVENANCE_NS;
    assert_eq!(value(ns, "BatchId").as_deref(), Some("SSN-0001-033"));
    assert_eq!(value(ns, "RecordId").as_deref(), Some("PN-481473"));
    assert_eq!(value(ns, "DocumentNo").as_deref(), Some("2"));
    assert_eq!(value(ns, "Software").as_deref(), Some(scan2dms_efile::PRODUCER));
    let source_ns = scan2dms_efile::xmp::SOURCE_NS;
    let paths: Vec<&str> = xml
        .descendants()
        .filter(|node| node.has_tag_name((source_ns, "Path")))
        .filter_map(|node| node.text())
        .collect();
    let hashes: Vec<&str> = xml
        .descendants()
        .filter(|node| node.has_tag_name((source_ns, "Sha256")))
        .filter_map(|node| node.text())
        .collect();
    assert_eq!(paths, ["images/PN-481473/0001.tif", "images/PN-878785/0001.jpg"]);
    assert_eq!(hashes, ["ab".repeat(32), "cd".repeat(32)]);
    let log: Vec<&str> = xml
        .descendants()
        .filter(|node| node.has_tag_name((ns, "ProcessingLog")))
        .flat_map(|node| node.descendants())
        .filter(|node| node.has_tag_name(("http://www.w3.org/1999/02/22-rdf-syntax-ns#", "li")))
        .filter_map(|node| node.text())
        .collect();
    assert_eq!(log, ["page 1: ocr ok, confidence 91", "page 3: rotated_page 90 <corrected> & kept"]);
    // The document ID is in the XMP and, as bytes, in the trailer.
    let document_id = value("http://ns.adobe.com/xap/1.0/mm/", "DocumentID").expect("xmpMM:DocumentID");
    let ids = document.trailer.get(b"ID").and_then(|id| id.as_array()).expect("trailer /ID");
    let trailer_id = hex::encode(ids[0].as_str().expect("id string"));
    assert_eq!(document_id.strip_prefix("uuid:").map(|uuid| uuid.replace('-', "")), Some(trailer_id));
}

#[test]
fn info_dictionary_agrees_with_xmp() {
    let bytes = efile();
    let document = lopdf::Document::load_mem(&bytes).expect("parse");
    assert_eq!(pdfa_checks::check_info_agreement(&document), []);
    let info = document
        .trailer
        .get(b"Info")
        .and_then(|info| document.dereference(info))
        .expect("info")
        .1
        .as_dict()
        .expect("info dict");
    assert_eq!(info.get(b"CreationDate").and_then(|d| d.as_str()).expect("creation date"), b"D:20260301101530+01'00'");
    assert_eq!(info.get(b"ModDate").and_then(|d| d.as_str()).expect("mod date"), b"D:20260301101530+01'00'");
    let packet = pdfa_checks::xmp_packet(&document).expect("xmp");
    assert!(packet.contains("<xmp:CreateDate>2026-03-01T10:15:30+01:00</xmp:CreateDate>"));
}

#[test]
fn no_encryption_javascript_or_lzw_and_trailer_has_id() {
    let bytes = efile();
    for forbidden in [b"/Encrypt".as_slice(), b"/JavaScript", b"/JS ", b"/LZWDecode"] {
        assert!(
            !bytes.windows(forbidden.len()).any(|window| window == forbidden),
            "{}",
            String::from_utf8_lossy(forbidden)
        );
    }
    let document = lopdf::Document::load_mem(&bytes).expect("parse");
    assert_eq!(pdfa_checks::check_trailer(&document), []);
    assert_eq!(pdfa_checks::check_forbidden_features(&document), []);
}

#[test]
fn rotated_page_renders_upright() {
    let (dir, path) = save(&efile(), "doc.pdf");
    let prefix = dir.path().join("page");
    run(
        "pdftoppm",
        &[
            "-r",
            "20",
            "-gray",
            "-f",
            "3",
            "-l",
            "3",
            "-png",
            path.to_str().expect("utf-8"),
            prefix.to_str().expect("utf-8"),
        ],
    );
    let png = std::fs::read_dir(dir.path())
        .expect("list")
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .find(|p| p.extension().is_some_and(|e| e == "png"));
    let image = image::open(png.expect("rendered page")).expect("png").to_luma8();
    // 288x432 pt at 20 dpi: 80x120 pixels, portrait.
    assert!(image.height() > image.width(), "{}x{}", image.width(), image.height());
    // The stored top-left block (160x120 px of 600x400) is now at the top right.
    let mean = |x0: u32, y0: u32, x1: u32, y1: u32| {
        let mut sum = 0u64;
        for y in y0..y1 {
            for x in x0..x1 {
                sum += u64::from(image.get_pixel(x, y).0[0]);
            }
        }
        sum / u64::from((x1 - x0) * (y1 - y0))
    };
    let (w, h) = (image.width(), image.height());
    assert!(mean(w - w / 5, 2, w - 2, h / 5) < 60, "top right should be black");
    assert!(mean(2, 2, w / 5, h / 5) > 180, "top left should be light");
    assert!(mean(w - w / 5, h - h / 5, w - 2, h - 2) > 180, "bottom right should be light");
}

/// Renders one page of an e-file to gray pixels at `dpi`.
fn render(bytes: &[u8], page: u32, dpi: u32) -> image::GrayImage {
    let (dir, path) = save(bytes, "render.pdf");
    let prefix = dir.path().join("page");
    let page = page.to_string();
    let dpi = dpi.to_string();
    run(
        "pdftoppm",
        &[
            "-r",
            &dpi,
            "-gray",
            "-f",
            &page,
            "-l",
            &page,
            "-png",
            path.to_str().expect("utf-8"),
            prefix.to_str().expect("utf-8"),
        ],
    );
    let png = std::fs::read_dir(dir.path())
        .expect("list")
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .find(|p| p.extension().is_some_and(|e| e == "png"));
    image::open(png.expect("rendered page")).expect("png").to_luma8()
}

/// A page whose one line rises to the right by `rise` pixels over its
/// length: content turned anticlockwise, as a crooked feed scans it.
fn skewed_line_page(rise: u32) -> EfilePage {
    let (width, height) = (800u32, 400u32);
    let mut pixels = vec![255u8; (width * height) as usize];
    for x in 100..700 {
        let centre = 200.0 + f64::from(rise) / 2.0 - f64::from(rise) * f64::from(x - 100) / 600.0;
        for y in (centre - 5.0) as u32..(centre + 5.0) as u32 {
            pixels[(y * width + x) as usize] = 0;
        }
    }
    EfilePage {
        image: PageImage::Raw { pixels, width, height, color: RawColor::Gray8 },
        dpi: 100.0,
        rotate_clockwise_deg: 0,
        deskew_deg: 0.0,
        // The OCR's box of a slanted word on that line.
        words: vec![word("Schieflage", [400, 180, 600, 215], 0)],
    }
}

/// Row of the middle of the dark pixels in column `x`.
fn dark_centre(image: &image::GrayImage, x: u32) -> f64 {
    let rows: Vec<u32> = (0..image.height()).filter(|&y| image.get_pixel(x, y).0[0] < 128).collect();
    assert!(!rows.is_empty(), "no ink in column {x}");
    rows.iter().map(|&y| f64::from(y)).sum::<f64>() / rows.len() as f64
}

#[test]
fn deskewed_page_renders_level_and_its_text_moves_with_it() {
    let rise = 30;
    let mut page = skewed_line_page(rise);
    let slope_deg = (f64::from(rise) / 600.0).atan().to_degrees();

    let skewed = render(&write_efile_to_vec(&[page.clone()], &provenance()).expect("write").0, 1, 100);
    let drop = dark_centre(&skewed, 150) - dark_centre(&skewed, 650);
    assert!(drop > f64::from(rise) * 0.7, "the test line should rise to the right: {drop:.1} px");

    // Turning it clockwise by its slope levels it.
    page.deskew_deg = -slope_deg as f32;
    let (bytes, _) = write_efile_to_vec(&[page], &provenance()).expect("write");
    assert_eq!(pdfa_checks::check_pdfa(&bytes), []);
    let level = render(&bytes, 1, 100);
    assert_eq!((level.width(), level.height()), (800, 400), "the page keeps its size");
    let drop = dark_centre(&level, 150) - dark_centre(&level, 650);
    assert!(drop.abs() <= 1.5, "deskewed line still drops {drop:.1} px over 500 px");

    // The word's box moved with the page: its centre was at (500, 197.5),
    // 100 px right of the page centre, so it now sits about
    // 100·sin(2.86°) = 5 px lower, on the level line.
    let (dir, path) = save(&bytes, "deskewed.pdf");
    let html = dir.path().join("words.html");
    run("pdftotext", &["-bbox", path.to_str().expect("utf-8"), html.to_str().expect("utf-8")]);
    let html = std::fs::read_to_string(&html).expect("bbox html");
    let line = html.lines().find(|line| line.contains("Schieflage")).expect("the word is in the text layer");
    let attribute = |name: &str| -> f64 {
        let start = line.find(&format!("{name}=\"")).expect("attribute") + name.len() + 2;
        line[start..].split('"').next().expect("value").parse().expect("number")
    };
    // pdftotext's boxes are in points; 100 dpi means 1 px = 0.72 pt.
    let centre_y = (attribute("yMin") + attribute("yMax")) / 2.0 / 0.72;
    let line_y = dark_centre(&level, 500);
    assert!((centre_y - line_y).abs() <= 8.0, "word centre at {centre_y:.1} px, its line at {line_y:.1} px");
}

#[test]
fn g4_page_renders_like_the_scan_and_is_previewed() {
    let (dir, path) = save(&efile(), "doc.pdf");
    let preview_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/efile-preview");
    std::fs::create_dir_all(&preview_dir).expect("preview dir");
    std::fs::copy(&path, preview_dir.join("fixture.pdf")).expect("keep the e-file next to its preview");
    for page in ["1", "2", "3"] {
        let prefix = preview_dir.join(format!("fixture-page{page}"));
        run(
            "pdftoppm",
            &[
                "-r",
                "40",
                "-f",
                page,
                "-l",
                page,
                "-singlefile",
                "-png",
                path.to_str().expect("utf-8"),
                prefix.to_str().expect("utf-8"),
            ],
        );
    }
    // A closer look at the G4 page, where its 17 strips meet.
    let prefix = preview_dir.join("fixture-page1-150dpi");
    run(
        "pdftoppm",
        &[
            "-r",
            "150",
            "-f",
            "1",
            "-l",
            "1",
            "-singlefile",
            "-png",
            path.to_str().expect("utf-8"),
            prefix.to_str().expect("utf-8"),
        ],
    );
    let rendered = image::open(preview_dir.join("fixture-page1.png")).expect("png").to_luma8();
    let scan = scan2dms_imaging::decode_page(&fixture("g4-300dpi.tif"), 0, &Default::default()).expect("decode g4");
    let scan_small =
        image::imageops::resize(&scan.gray, rendered.width(), rendered.height(), image::imageops::FilterType::Triangle);
    // Same polarity and nearly the same picture: mean absolute difference small.
    let difference: u64 =
        rendered.pixels().zip(scan_small.pixels()).map(|(a, b)| u64::from(a.0[0].abs_diff(b.0[0]))).sum();
    let mean_difference = difference / u64::from(rendered.width() * rendered.height());
    assert!(mean_difference < 12, "rendered page differs from the scan by {mean_difference} per pixel");
    drop(dir);
}

#[test]
fn output_is_deterministic_and_summary_hashes_the_bytes() {
    let mut first = Vec::new();
    let summary = write_efile(&[g4_page(), jpeg_page()], &provenance(), &mut first).expect("write");
    let (second, _) = write_efile_to_vec(&[g4_page(), jpeg_page()], &provenance()).expect("write");
    assert!(first == second, "two runs gave different bytes");
    use sha2::Digest;
    assert_eq!(summary.sha256, hex::encode(sha2::Sha256::digest(&first)));
}

#[test]
fn page_without_words_and_document_without_title_are_still_pdfa() {
    let mut page = rotated_raw_page();
    page.words.clear();
    page.rotate_clockwise_deg = 270;
    let mut bilevel = EfilePage {
        image: PageImage::Raw { pixels: vec![0b1010_1010; 3 * 20], width: 20, height: 20, color: RawColor::Bilevel },
        dpi: 5.0,
        rotate_clockwise_deg: 180,
        deskew_deg: 0.0,
        words: Vec::new(),
    };
    bilevel.words.push(word("x", [1, 1, 5, 5], 0));
    let mut provenance = provenance();
    provenance.title = None;
    let (bytes, _) = write_efile_to_vec(&[page, bilevel], &provenance).expect("write");
    assert_eq!(pdfa_checks::check_pdfa(&bytes), []);
    let (_dir, path) = save(&bytes, "plain.pdf");
    run("qpdf", &["--check", path.to_str().expect("utf-8")]);
}

/// Each mutation keeps the file length, so offsets stay valid and exactly
/// one rule is broken.
#[test]
fn checks_catch_each_broken_rule() {
    let bytes = efile();
    let check = |from: &str, to: &str, expected_rule: &str| {
        assert_eq!(from.len(), to.len());
        let position = bytes
            .windows(from.len())
            .position(|window| window == from.as_bytes())
            .unwrap_or_else(|| panic!("{from} not in the e-file"));
        let mut broken = bytes.clone();
        broken[position..position + to.len()].copy_from_slice(to.as_bytes());
        let violations: Vec<PdfaViolation> = pdfa_checks::check_pdfa(&broken);
        assert!(
            violations.iter().any(|v| v.rule == expected_rule),
            "{from} -> {to}: expected {expected_rule}, got {violations:#?}"
        );
    };
    check("%PDF-1.7", "%PDF-2.0", "6.1.2");
    check("/ID [", "/XD [", "6.1.3");
    check("<pdfaid:part>2</pdfaid:part>", "<pdfaid:part>1</pdfaid:part>", "6.6.4");
    check("<pdfaid:part>2</pdfaid:part>", "<pdfaid:part>2</pdfaid:pary>", "6.6.2.1");
    check("<s2d:BatchId>", "<s2d:BatchIX>", "6.6.2.1"); // unbalanced tags
    check("<pdfaProperty:name>RecordId<", "<pdfaProperty:name>RecordIX<", "6.6.2.3");
    check("<pdfaField:name>Sha256<", "<pdfaField:name>Sha25X<", "6.6.2.3");
    check("/Producer (scan2dms", "/Producer (scan2dmX", "6.6.3");
    check("/CreationDate (D:20260301101530", "/CreationDate (D:20260301101531", "6.6.3");
    check("/GTS_PDFA1", "/GTS_PDFX1", "6.2.3");
    check("/GTS_PDFA1", "/GTS_PDFX1", "6.2.4.3");
    check("/ToUnicode", "/ToUnicodX", "6.2.11.7.2");
    check("/FontFile2", "/FontFileX", "6.2.11.4.1");
    check("/CIDToGIDMap", "/CIDToGIDMaX", "6.2.11.3.2");
    check("/DW 500", "/DW 600", "6.2.11.5");
    check("/Filter /DCTDecode", "/Filter /LZWDecode", "6.1.7.2");
    check("/Type /XObject /Subtype /Image /Width 1654", "/Alternates [] /Subtype /Image /Width 1654", "6.2.8");
    check("/Type /Metadata", "/Type /Metadatx", "6.6.2.1");
    check("/Type /Catalog", "/AA <<>>      ", "6.6.2");
    check("/Type /Catalog", "/JS ()        ", "6.6.1");
    check("/Type /Catalog", "/EF <<>>      ", "6.8");
    check("/N 3", "/N 4", "6.2.3");
    check("stream\n<?xpacket", "stream\r<?xpacket", "6.1.7.1");
}

#[test]
fn stream_length_that_misses_endstream_is_a_violation() {
    let mut bytes = efile();
    let key = b"/Subtype /XML /Length ";
    let start = bytes.windows(key.len()).position(|window| window == key).expect("metadata length") + key.len();
    let digits = bytes[start..].iter().take_while(|b| b.is_ascii_digit()).count();
    let length: usize = std::str::from_utf8(&bytes[start..start + digits]).expect("ascii").parse().expect("number");
    let shorter = format!("{:0width$}", length - 1, width = digits);
    bytes[start..start + digits].copy_from_slice(shorter.as_bytes());
    let violations = pdfa_checks::check_pdfa(&bytes);
    assert!(violations.iter().any(|v| v.rule == "6.1.7.1"), "{violations:#?}");
}

#[test]
fn checks_survive_pdfs_that_are_not_pdfa() {
    for name in ["g4-3pages.pdf", "dct-200dpi.pdf", "gray-200dpi.jpg"] {
        let bytes = std::fs::read(fixture(name)).expect("read fixture");
        assert!(!pdfa_checks::check_pdfa(&bytes).is_empty(), "{name} is not pdf/a");
    }
}

#[test]
fn appending_after_eof_is_a_violation() {
    let mut bytes = efile();
    bytes.extend_from_slice(b"garbage");
    assert!(pdfa_checks::check_file_structure(&bytes).iter().any(|v| v.rule == "6.1.3"));
}

#[test]
fn bad_pages_and_provenance_are_errors_naming_the_page() {
    let message = |pages: &[EfilePage], provenance: &Provenance| {
        let mut out = Vec::new();
        let error: EfileError = write_efile(pages, provenance, &mut out).expect_err("must fail");
        assert!(out.is_empty(), "nothing is written before validation passes");
        error.to_string()
    };
    let good = provenance();
    assert_eq!(message(&[], &good), "a document needs at least one page");

    let mut jpeg = jpeg_page();
    if let PageImage::Jpeg { width, .. } = &mut jpeg.image {
        *width = 1000;
    }
    assert_eq!(
        message(&[g4_page(), jpeg], &good),
        "page 2: jpeg frame is 1654x2339 with 1 components, but the page says 1000x2339 with 1"
    );

    let mut truncated = rotated_raw_page();
    if let PageImage::Raw { pixels, .. } = &mut truncated.image {
        pixels.pop();
    }
    assert_eq!(message(&[truncated], &good), "page 1: raw image has 239999 bytes, 600x400 gray8 needs 240000");

    let mut tilted = rotated_raw_page();
    tilted.rotate_clockwise_deg = 45;
    assert_eq!(message(&[tilted], &good), "page 1: rotation 45 is not 0, 90, 180 or 270 degrees");

    let mut inverted = rotated_raw_page();
    inverted.words.push(word("bad", [50, 10, 40, 20], 3));
    assert_eq!(message(&[inverted], &good), "page 1: word 3 has an empty or inverted box [50, 10, 40, 20]");

    let mut tiny_dpi = rotated_raw_page();
    tiny_dpi.dpi = 1.0;
    assert!(message(&[tiny_dpi], &good).starts_with("page 1: page side of 28800.0 pt"));

    let mut not_jpeg = jpeg_page();
    if let PageImage::Jpeg { data, .. } = &mut not_jpeg.image {
        data[0] = 0;
    }
    assert_eq!(message(&[not_jpeg], &good), "page 1: jpeg data does not start with an soi marker");

    let mut late = provenance();
    late.created = "2026-03-01 10:15".into();
    assert_eq!(
        message(&[g4_page()], &late),
        "provenance: created \"2026-03-01 10:15\" is not an rfc 3339 date-time with seconds and offset"
    );

    let mut bad_hash = provenance();
    bad_hash.sources[0].sha256 = "ABC".into();
    assert_eq!(
        message(&[g4_page()], &bad_hash),
        "provenance: sha256 \"ABC\" of source images/PN-481473/0001.tif is not 64 lowercase hex digits"
    );
}

/// Words whose OCR boxes touch still come out as two words, in pdftotext's
/// raw (content order) mode as in its layout mode.
#[test]
fn touching_words_keep_their_space_in_every_extraction_mode() {
    let mut page = rotated_raw_page();
    page.rotate_clockwise_deg = 0;
    page.words = vec![
        word("des", [20, 100, 80, 130], 1),
        word("Schreibens", [80, 100, 260, 130], 1),
        // Overlapping boxes, as tesseract gives "Band I".
        word("Band", [20, 200, 110, 230], 2),
        word("I", [104, 200, 112, 230], 2),
    ];
    let (bytes, _) = write_efile_to_vec(&[page], &provenance()).expect("write");
    let (_dir, path) = save(&bytes, "touching.pdf");
    for mode in [&["-raw"][..], &[][..]] {
        let mut args: Vec<&str> = mode.to_vec();
        args.extend([path.to_str().expect("utf-8"), "-"]);
        let text = run("pdftotext", &args);
        assert_eq!(
            text.split_whitespace().collect::<Vec<_>>(),
            ["des", "Schreibens", "Band", "I"],
            "pdftotext {mode:?}: {text:?}"
        );
    }
}
