//! Integration tests of scan2dms-imaging: real pages from `fixtures/images`
//! (always), the delivery corpus and the malformed corpus in `../shared`
//! (when it exists; skipped with a note otherwise).

#![allow(clippy::unwrap_used, reason = "a test that cannot set up should panic")]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use expect_test::{Expect, expect};
use scan2dms_imaging::{ColorKind, FileInfo, Format, ImageError, Limits, decode_page, probe, sniff_format};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/images").join(name)
}

/// `../shared/corpus` next to the workspace, when it is there.
fn shared_corpus() -> Option<PathBuf> {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus");
    if corpus.is_dir() {
        Some(corpus)
    } else {
        eprintln!("note: {} not found, corpus test skipped", corpus.display());
        None
    }
}

fn summary(info: &FileInfo) -> String {
    let mut out = format!("{} {} page(s)", info.format, info.pages.len());
    for page in &info.pages {
        let dpi = page.dpi.map_or("-".to_owned(), |dpi| format!("{dpi:.0}"));
        write!(out, "; {}x{} {dpi}dpi {:?} {}", page.width, page.height, page.color, page.compression)
            .expect("write to string");
    }
    out
}

fn check_probe(name: &str, expect: Expect) {
    let info = probe(&fixture(name), &Limits::default()).expect("probe");
    expect.assert_eq(&summary(&info));
}

#[test]
fn probe_reads_headers_of_every_supported_kind() {
    check_probe("g4-300dpi.tif", expect!["tiff 1 page(s); 2480x3508 300dpi Bilevel ccitt_g4"]);
    check_probe("lzw.tif", expect!["tiff 1 page(s); 2480x3508 300dpi Bilevel lzw"]);
    check_probe("jpeg-in-tiff.tif", expect!["tiff 1 page(s); 2480x3508 300dpi Gray jpeg"]);
    check_probe(
        "multipage-g4.tif",
        expect!["tiff 2 page(s); 2480x3508 300dpi Bilevel ccitt_g4; 2480x3508 300dpi Bilevel ccitt_g4"],
    );
    check_probe("bitonal.png", expect!["png 1 page(s); 2480x3508 300dpi Bilevel png"]);
    check_probe("gray-200dpi.jpg", expect!["jpeg 1 page(s); 1654x2339 200dpi Gray jpeg"]);
    check_probe(
        "g4-3pages.pdf",
        expect![
            "pdf 3 page(s); 2480x3508 300dpi Bilevel ccitt_g4; 2480x3508 300dpi Bilevel ccitt_g4; 2480x3508 300dpi Bilevel ccitt_g4"
        ],
    );
    check_probe("dct-200dpi.pdf", expect!["pdf 1 page(s); 1654x2339 200dpi Gray dct"]);
}

/// Share of pure white and of dark pixels, in per mille.
fn white_and_black_per_mille(gray: &image::GrayImage) -> (u64, u64) {
    let total = u64::from(gray.width()) * u64::from(gray.height());
    let white = gray.pixels().filter(|p| p.0[0] >= 200).count() as u64;
    let black = gray.pixels().filter(|p| p.0[0] < 128).count() as u64;
    (white * 1000 / total, black * 1000 / total)
}

#[test]
fn decoded_pages_are_mostly_white_paper_with_black_ink() {
    let pages = [
        ("g4-300dpi.tif", 0),
        ("lzw.tif", 0),
        ("jpeg-in-tiff.tif", 0),
        ("multipage-g4.tif", 0),
        ("multipage-g4.tif", 1),
        ("bitonal.png", 0),
        ("gray-200dpi.jpg", 0),
        ("g4-3pages.pdf", 0),
        ("g4-3pages.pdf", 2),
        ("dct-200dpi.pdf", 0),
    ];
    for (name, page_index) in pages {
        let page = decode_page(&fixture(name), page_index, &Limits::default())
            .unwrap_or_else(|error| panic!("{name} page {page_index}: {error}"));
        assert_eq!((page.gray.width(), page.gray.height()), (page.info.width, page.info.height), "{name}");
        let (white, black) = white_and_black_per_mille(&page.gray);
        assert!(white > 800, "{name} page {page_index}: only {white}‰ white");
        assert!(black >= 2, "{name} page {page_index}: only {black}‰ black");
    }
}

#[test]
fn decoded_page_info_matches_probe() {
    let limits = Limits::default();
    for name in ["g4-300dpi.tif", "multipage-g4.tif", "gray-200dpi.jpg", "g4-3pages.pdf", "dct-200dpi.pdf"] {
        let info = probe(&fixture(name), &limits).expect("probe");
        for (page_index, page_info) in info.pages.iter().enumerate() {
            let page = decode_page(&fixture(name), page_index, &limits).expect("decode");
            assert_eq!(&page.info, page_info, "{name} page {page_index}");
        }
    }
}

#[test]
fn page_index_past_the_end_is_out_of_range() {
    let limits = Limits::default();
    let cases = [("multipage-g4.tif", 2, 2), ("g4-3pages.pdf", 3, 3), ("bitonal.png", 1, 1), ("gray-200dpi.jpg", 5, 1)];
    for (name, page_index, page_count) in cases {
        match decode_page(&fixture(name), page_index, &limits) {
            Err(ImageError::PageOutOfRange { page_index: index, page_count: count }) => {
                assert_eq!((index, count), (page_index, page_count), "{name}");
            }
            other => panic!("{name}: expected PageOutOfRange, got {other:?}"),
        }
    }
}

#[test]
fn page_count_above_limit_is_too_many_pages() {
    let limits = Limits { max_pages_per_file: 1, ..Limits::default() };
    for name in ["multipage-g4.tif", "g4-3pages.pdf"] {
        let result = probe(&fixture(name), &limits);
        assert!(matches!(result, Err(ImageError::TooManyPages { max_pages_per_file: 1 })), "{name}: {result:?}");
    }
    let result = decode_page(&fixture("multipage-g4.tif"), 1, &limits);
    assert!(matches!(result, Err(ImageError::TooManyPages { .. })), "{result:?}");
}

#[test]
fn image_bomb_is_too_large_before_decoding() {
    let limits = Limits::default();
    let bomb = fixture("bomb-60000x60000.png");
    let expected = |error: Option<&ImageError>| matches!(error, Some(ImageError::TooLarge { width: 60000, height: 60000, max_pixels }) if *max_pixels == limits.max_pixels);
    let probed = probe(&bomb, &limits);
    assert!(expected(probed.as_ref().err()), "{probed:?}");
    let decoded = decode_page(&bomb, 0, &limits);
    assert!(expected(decoded.as_ref().err()), "{decoded:?}");
}

#[test]
fn pixel_limit_applies_to_every_format() {
    let limits = Limits { max_pixels: 1_000_000, ..Limits::default() };
    for name in [
        "g4-300dpi.tif",
        "lzw.tif",
        "jpeg-in-tiff.tif",
        "bitonal.png",
        "gray-200dpi.jpg",
        "g4-3pages.pdf",
        "dct-200dpi.pdf",
    ] {
        let probed = probe(&fixture(name), &limits);
        assert!(matches!(probed, Err(ImageError::TooLarge { max_pixels: 1_000_000, .. })), "{name}: {probed:?}");
        let decoded = decode_page(&fixture(name), 0, &limits);
        assert!(matches!(decoded, Err(ImageError::TooLarge { .. })), "{name}: {decoded:?}");
    }
}

#[test]
fn garbage_g4_data_is_malformed() {
    let result = decode_page(&fixture("garbage-g4.tif"), 0, &Limits::default());
    assert!(matches!(result, Err(ImageError::Malformed(_))), "{result:?}");
    let message = result.err().map(|error| error.to_string()).unwrap_or_default();
    assert!(message.contains("garbage-g4.tif"), "{message}");
}

#[test]
fn format_is_sniffed_from_magic_bytes_not_extension() {
    let dir = tempfile::tempdir().expect("tempdir");
    let disguised = dir.path().join("page.tif");
    std::fs::copy(fixture("bitonal.png"), &disguised).expect("copy");
    assert_eq!(probe(&disguised, &Limits::default()).expect("probe").format, Format::Png);

    let text = dir.path().join("notes.png");
    std::fs::write(&text, "not an image").expect("write");
    assert!(matches!(probe(&text, &Limits::default()), Err(ImageError::UnknownFormat)));
    let empty = dir.path().join("empty.tif");
    std::fs::write(&empty, "").expect("write");
    assert!(matches!(decode_page(&empty, 0, &Limits::default()), Err(ImageError::UnknownFormat)));
    assert!(matches!(probe(&dir.path().join("missing.tif"), &Limits::default()), Err(ImageError::Io { .. })));

    assert_eq!(sniff_format(b"MM\0*\0\0\0\x08"), Some(Format::Tiff));
    assert_eq!(sniff_format(b"%PDF-1.7"), Some(Format::Pdf));
    assert_eq!(sniff_format(b"\xff\xd8\xff\xe0"), Some(Format::Jpeg));
    assert_eq!(sniff_format(b"GIF89a"), None);
}

#[test]
fn truncated_files_end_in_clean_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let limits = Limits::default();
    for name in [
        "g4-300dpi.tif",
        "lzw.tif",
        "jpeg-in-tiff.tif",
        "multipage-g4.tif",
        "bitonal.png",
        "gray-200dpi.jpg",
        "g4-3pages.pdf",
        "dct-200dpi.pdf",
    ] {
        let bytes = std::fs::read(fixture(name)).expect("read fixture");
        for keep in [9, 64, 300, bytes.len() / 2, bytes.len() - 10] {
            let path = dir.path().join(format!("{keep}-{name}"));
            std::fs::write(&path, &bytes[..keep]).expect("write");
            // Ok (a reader may recover) or a clean error; never a panic.
            if let Ok(info) = probe(&path, &limits) {
                for page_index in 0..info.pages.len() {
                    let _ = decode_page(&path, page_index, &limits);
                }
            }
            let _ = decode_page(&path, 0, &limits);
        }
    }
}

/// A little-endian TIFF whose second IFD points back to the first.
fn looping_tiff() -> Vec<u8> {
    fn ifd(out: &mut Vec<u8>, next: u32) {
        let entries: [(u16, u16, u32, u32); 8] = [
            (256, 3, 1, 8),  // ImageWidth
            (257, 3, 1, 8),  // ImageLength
            (258, 3, 1, 8),  // BitsPerSample
            (259, 3, 1, 1),  // Compression: none
            (262, 3, 1, 1),  // Photometric: BlackIsZero
            (273, 4, 1, 8),  // StripOffsets
            (278, 3, 1, 8),  // RowsPerStrip
            (279, 4, 1, 64), // StripByteCounts
        ];
        out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
        for (tag, kind, count, value) in entries {
            out.extend_from_slice(&tag.to_le_bytes());
            out.extend_from_slice(&kind.to_le_bytes());
            out.extend_from_slice(&count.to_le_bytes());
            out.extend_from_slice(&value.to_le_bytes());
        }
        out.extend_from_slice(&next.to_le_bytes());
    }
    let mut out = b"II*\0".to_vec();
    out.extend_from_slice(&72u32.to_le_bytes()); // first IFD after the pixels
    out.extend_from_slice(&[128u8; 64]); // 8x8 pixels at offset 8
    let first = out.len() as u32; // 72
    let second = first + 2 + 8 * 12 + 4;
    ifd(&mut out, second);
    ifd(&mut out, first);
    out
}

#[test]
fn looping_ifd_chain_is_malformed_not_a_hang() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("loop.tif");
    std::fs::write(&path, looping_tiff()).expect("write");
    let result = probe(&path, &Limits::default());
    assert!(matches!(&result, Err(ImageError::Malformed(message)) if message.contains("loops")), "{result:?}");
    // The first page itself is fine; the page after the loop is not reachable.
    assert!(decode_page(&path, 0, &Limits::default()).is_ok());
    assert!(decode_page(&path, 5, &Limits::default()).is_err());
}

/// Every file of the malformed corpus ends in `Ok` or a clean `Err`, from
/// `probe` and from `decode_page` of its first pages: no panic, no hang.
#[test]
fn malformed_corpus_never_panics_or_hangs() {
    let Some(corpus) = shared_corpus() else {
        return;
    };
    let dir = corpus.join("malformed");
    let mut entries: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("read malformed corpus")
        .map(|entry| entry.expect("dir entry").path())
        .filter(|path| path.is_file())
        .filter(|path| !path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.')))
        .filter(|path| !matches!(path.extension().and_then(|e| e.to_str()), Some("md" | "csv")))
        .collect();
    entries.sort();
    assert!(entries.len() >= 10, "malformed corpus has only {} files", entries.len());
    let limits = Limits::default();
    let mut outcomes = String::new();
    for path in &entries {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("?");
        let probed = probe(path, &limits);
        let page_count = probed.as_ref().map_or(1, |info| info.pages.len());
        let decoded: Vec<String> = (0..page_count.min(3))
            .map(|page_index| match decode_page(path, page_index, &limits) {
                Ok(page) => format!("ok {}x{}", page.gray.width(), page.gray.height()),
                Err(error) => format!("err {}", variant(&error)),
            })
            .collect();
        let probed = match probed {
            Ok(info) => format!("ok {} page(s)", info.pages.len()),
            Err(error) => format!("err {}", variant(&error)),
        };
        writeln!(outcomes, "{name}: probe {probed}; decode {}", decoded.join(", ")).expect("write");
    }
    eprintln!("{outcomes}");
    // The expectations that are strict ("must decode", "must return an error").
    let line = |prefix: &str| outcomes.lines().find(|line| line.starts_with(prefix)).unwrap_or("").to_owned();
    assert!(line("imagetiff-oom_crash-000002.tif").contains("decode err"), "{outcomes}");
    for must_decode in ["imagetiff-seq-1c-1b-fax3-lsb.tif", "imagetiff-tiled-oversize-gray-i8.tif"] {
        assert!(line(must_decode).contains("probe ok") && line(must_decode).contains("decode ok"), "{outcomes}");
    }
}

fn variant(error: &ImageError) -> &'static str {
    match error {
        ImageError::Io { .. } => "io",
        ImageError::UnknownFormat => "unknown_format",
        ImageError::Malformed(_) => "malformed",
        ImageError::TooLarge { .. } => "too_large",
        ImageError::TooManyPages { .. } => "too_many_pages",
        ImageError::PageOutOfRange { .. } => "page_out_of_range",
        ImageError::Unsupported(_) => "unsupported",
    }
}

#[test]
fn corpus_defects_image_bomb_and_garbage_page() {
    let Some(corpus) = shared_corpus() else {
        return;
    };
    let batches = corpus.join("deliveries/batches");
    let limits = Limits::default();
    let bomb = batches.join("SSN-0001-028/data/images/KZ-2500-5124781/0001.png");
    assert!(matches!(probe(&bomb, &limits), Err(ImageError::TooLarge { .. })));
    let garbage = batches.join("SSN-0001-027/data/images/PN-039651/0002.tif");
    let result = decode_page(&garbage, 0, &limits);
    assert!(matches!(result, Err(ImageError::Malformed(_))), "{result:?}");
    let dct_pdf = batches.join("SSN-0001-004/data/akten/KZ-2610-5302102.pdf");
    let info = probe(&dct_pdf, &limits).expect("probe dct pdf");
    assert_eq!(info.pages.len(), 4);
    assert!(info.pages.iter().all(|page| page.compression == "dct"));
    let page = decode_page(&dct_pdf, 3, &limits).expect("decode dct pdf");
    let (white, black) = white_and_black_per_mille(&page.gray);
    assert!(white > 800 && black >= 2, "white {white}‰ black {black}‰");
}

/// Every page listed in the truth files of the well-formed batches probes to
/// the resolution and colour mode the generator used, and its file has at
/// least `file_page` pages.
#[test]
fn corpus_pages_match_truth_scan_fields() {
    let Some(corpus) = shared_corpus() else {
        return;
    };
    let deliveries = corpus.join("deliveries");
    let limits = Limits::default();
    let mut checked = 0;
    for batch in ["SSN-0001-001", "SSN-0001-002", "SSN-0001-003", "SSN-0001-004", "SSN-0001-005", "SSN-0001-033"] {
        let truth_text = std::fs::read_to_string(deliveries.join(format!("truth/{batch}.json"))).expect("truth");
        let truth: serde_json::Value = serde_json::from_str(&truth_text).expect("truth json");
        for document in truth["documents"].as_array().expect("documents") {
            for page in document["pages"].as_array().expect("pages") {
                let file = page["file"].as_str().expect("file");
                let file_page = page["file_page"].as_u64().expect("file_page") as usize;
                let path = deliveries.join(format!("batches/{batch}/data/{file}"));
                let info = probe(&path, &limits).unwrap_or_else(|error| panic!("{batch} {file}: {error}"));
                assert!(info.pages.len() >= file_page, "{batch} {file}: {} pages", info.pages.len());
                let page_info = &info.pages[file_page - 1];
                let scan = &page["scan"];
                let dpi = scan["dpi"].as_f64().expect("dpi") as f32;
                let probed_dpi = page_info.dpi.unwrap_or_else(|| panic!("{batch} {file}: no dpi"));
                assert!((probed_dpi - dpi).abs() < 1.0, "{batch} {file}: {probed_dpi} dpi, truth {dpi}");
                let mode = scan["mode"].as_str().expect("mode");
                let expected_color = match mode {
                    "bitonal" => ColorKind::Bilevel,
                    "gray" => ColorKind::Gray,
                    _ => ColorKind::Rgb,
                };
                assert_eq!(page_info.color, expected_color, "{batch} {file} ({mode})");
                checked += 1;
            }
        }
    }
    assert!(checked > 100, "only {checked} pages checked");
}

/// Every page of the valid directory batches of the committed fixture
/// deliveries and, when present, of the shared corpus: its file, its index
/// in the file, and its entry in the ground truth.
fn truth_pages() -> Vec<(PathBuf, usize, serde_json::Value)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut sets = vec![root.join("fixtures/deliveries")];
    sets.extend(shared_corpus().map(|corpus| corpus.join("deliveries")));
    let mut pages = Vec::new();
    for deliveries in sets {
        for entry in std::fs::read_dir(deliveries.join("truth")).unwrap() {
            let path = entry.unwrap().path();
            if !path.file_name().unwrap().to_string_lossy().starts_with("SSN-") {
                continue;
            }
            let truth: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
            if truth["expected_outcome"] == "rejected" || truth["packaging"] != "dir" {
                continue;
            }
            let batch = deliveries.join("batches").join(truth["batch_id"].as_str().unwrap()).join("data");
            for document in truth["documents"].as_array().unwrap() {
                for page in document["pages"].as_array().unwrap() {
                    let path = batch.join(page["file"].as_str().unwrap());
                    let index = page["file_page"].as_u64().unwrap() as usize - 1;
                    pages.push((path, index, page.clone()));
                }
            }
        }
    }
    pages
}

/// Every page the ground truth calls blank has little ink and, once its
/// faint marks are gone, no line of glyphs: it is called blank without
/// reading. Every other page has more ink or a line of glyphs, so it is read
/// (the corpus has pages with nothing but a page number and a name).
/// Separator sheets are left out.
#[test]
fn blank_pages_match_the_ground_truth() {
    use scan2dms_imaging::analysis::{BlankOptions, has_line_of_glyphs, is_blank, remove_faint_marks};
    let options = BlankOptions::default();
    let (mut checked, mut blanks, mut sparse_text) = (0, 0, 0);
    let mut wrong = Vec::new();
    for (path, index, page) in truth_pages().into_iter().filter(|(_, _, page)| page["separator"] != true) {
        let mut gray = decode_page(&path, index, &Limits::default()).unwrap().gray;
        let expected = page["blank"] == true;
        let little_ink = is_blank(&gray, &options);
        if little_ink {
            remove_faint_marks(&mut gray, &options);
        }
        let line = little_ink && has_line_of_glyphs(&gray, 300, &options);
        if (little_ink && !line) != expected {
            wrong.push(format!(
                "{} page {}: blank {expected}, little ink {little_ink}, line of glyphs {line}",
                path.display(),
                index + 1
            ));
        }
        checked += 1;
        blanks += usize::from(expected);
        sparse_text += usize::from(line && !expected);
    }
    assert!(checked > 20 && blanks > 0, "checked {checked} pages, {blanks} blank");
    assert!(wrong.is_empty(), "{wrong:#?}");
    eprintln!("{checked} pages, {blanks} blank, {sparse_text} with little ink but a line of text");
}

/// Separator sheets of the fixture deliveries (and of the shared corpus when
/// present) are found, and no other page is taken for one.
#[test]
fn separator_sheets_match_the_ground_truth() {
    use scan2dms_imaging::separator::is_separator;
    let mut separators = 0;
    let mut wrong = Vec::new();
    for (path, index, page) in truth_pages() {
        let decoded = decode_page(&path, index, &Limits::default()).unwrap();
        let expected = page["separator"] == true;
        if is_separator(&decoded.gray) != expected {
            wrong.push(format!("{} page {}: separator should be {expected}", path.display(), index + 1));
        }
        separators += usize::from(expected);
    }
    assert!(separators > 0, "the fixtures hold separator sheets");
    assert!(wrong.is_empty(), "{wrong:#?}");
}

/// A separator sheet stored sideways or upside down is still found.
#[test]
fn separator_sheets_are_found_in_every_orientation() {
    use scan2dms_imaging::separator::is_separator;
    let deliveries = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/deliveries");
    let truth: serde_json::Value =
        serde_json::from_slice(&std::fs::read(deliveries.join("truth/SSN-0007-002.json")).unwrap()).unwrap();
    let page = truth["documents"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|document| document["pages"].as_array().unwrap())
        .find(|page| page["separator"] == true)
        .expect("the rough fixture batch has separator sheets");
    let path = deliveries.join("batches/SSN-0007-002/data").join(page["file"].as_str().unwrap());
    let gray = decode_page(&path, page["file_page"].as_u64().unwrap() as usize - 1, &Limits::default()).unwrap().gray;
    assert!(is_separator(&gray));
    assert!(is_separator(&image::imageops::rotate90(&gray)));
    assert!(is_separator(&image::imageops::rotate180(&gray)));
    assert!(is_separator(&image::imageops::rotate270(&gray)));
}

/// Colour pages that have no stored stream to embed come back in colour,
/// not gray.
#[test]
fn colour_png_and_tiff_pages_keep_their_colour() {
    use scan2dms_imaging::embed::colour_pixels;
    let dir = tempfile::tempdir().unwrap();
    let mut page = image::RgbImage::from_pixel(40, 30, image::Rgb([250, 250, 245]));
    page.put_pixel(5, 5, image::Rgb([200, 20, 30])); // a red stamp
    let png = dir.path().join("colour.png");
    page.save(&png).unwrap();
    let tif = dir.path().join("colour.tif");
    let file = std::fs::File::create(&tif).unwrap();
    tiff::encoder::TiffEncoder::new(file)
        .unwrap()
        .write_image::<tiff::encoder::colortype::RGB8>(40, 30, page.as_raw())
        .unwrap();
    for path in [&png, &tif] {
        let colour = colour_pixels(path, &probe(path, &Limits::default()).unwrap(), 0, &Limits::default())
            .unwrap()
            .expect("a colour page");
        assert_eq!(colour, page, "{}", path.display());
    }
    assert_eq!(
        colour_pixels(
            &fixture("bitonal.png"),
            &probe(&fixture("bitonal.png"), &Limits::default()).unwrap(),
            0,
            &Limits::default()
        )
        .unwrap(),
        None
    );
    assert_eq!(
        colour_pixels(
            &fixture("lzw.tif"),
            &probe(&fixture("lzw.tif"), &Limits::default()).unwrap(),
            0,
            &Limits::default()
        )
        .unwrap(),
        None
    );
}

/// A Flate RGB image-only PDF (made from the OCRmyPDF corpus map, see
/// fixtures/images/README.md) decodes to gray and keeps its colour for the
/// e-file.
#[test]
fn flate_rgb_pdf_keeps_its_colour() {
    use scan2dms_imaging::embed::colour_pixels;
    let path = fixture("rgb-flate.pdf");
    let info = probe(&path, &Limits::default()).unwrap();
    assert_eq!(info.pages[0].color, ColorKind::Rgb);
    let colour = colour_pixels(&path, &info, 0, &Limits::default()).unwrap().expect("a colour page");
    assert_eq!(colour.dimensions(), (160, 170));
    // The map has pale land, blue water and red roads.
    let distinct: std::collections::BTreeSet<[u8; 3]> = colour.pixels().map(|pixel| pixel.0).collect();
    assert!(distinct.len() > 8, "only {} colours", distinct.len());
    assert!(colour.pixels().any(|pixel| u16::from(pixel.0[0]) > u16::from(pixel.0[2]) + 60), "no reddish pixel");
    let gray = decode_page(&path, 0, &Limits::default()).unwrap().gray;
    assert_eq!(gray.dimensions(), colour.dimensions());
    // Gray is the luma of the colour pixels, both decoded from one stream.
    for (luma, rgb) in gray.pixels().zip(colour.pixels()).step_by(97) {
        let [r, g, b] = rgb.0.map(f64::from);
        let expected = 0.299 * r + 0.587 * g + 0.114 * b;
        assert!((f64::from(luma.0[0]) - expected).abs() <= 2.0, "gray {} for {:?}", luma.0[0], rgb.0);
    }
}

/// The OCRmyPDF corpus' palette.pdf: an indexed colour image.
#[test]
fn indexed_pdf_image_of_the_shared_corpus_decodes_in_colour() {
    let Some(corpus) = shared_corpus() else { return };
    let path = corpus.join("scans/ocrmypdf/palette.pdf");
    let info = probe(&path, &Limits::default()).unwrap();
    let gray = decode_page(&path, 0, &Limits::default()).unwrap().gray;
    let colour = scan2dms_imaging::embed::colour_pixels(&path, &info, 0, &Limits::default()).unwrap().expect("colour");
    assert_eq!(gray.dimensions(), colour.dimensions());
    let distinct: std::collections::BTreeSet<[u8; 3]> = colour.pixels().map(|pixel| pixel.0).collect();
    assert!(distinct.len() > 2, "only {} colours", distinct.len());
}
