//! Integration tests of the OCR engine on real pages of the generated corpus:
//! the committed `fixtures/` always, `../shared/corpus/deliveries` when
//! present. Recognition quality is asserted as a character error rate (CER)
//! against the truth text, with bounds generous enough for tesseract's
//! run-to-run stability but tight enough to catch a wrong page segmentation
//! mode, a wrong resolution or a broken image hand-over.
//!
//! `.cargo/config.toml` sets `OMP_THREAD_LIMIT=1` for `cargo test`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use image::GrayImage;
use scan2dms_imaging::{Limits, decode_page};
use scan2dms_ocr::{Engine, EngineOptions, OcrError, PageStatus, PageText, ensure_single_threaded_openmp};

fn workspace_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn fixture_deliveries() -> PathBuf {
    workspace_dir().join("fixtures/deliveries")
}

fn shared_deliveries() -> Option<PathBuf> {
    let dir = workspace_dir().join("../shared/corpus/deliveries");
    dir.join("truth").is_dir().then_some(dir)
}

fn engine() -> Engine {
    match Engine::new(&EngineOptions::default()) {
        Ok(engine) => engine,
        Err(error) => panic!("cannot create engine (is tesseract-ocr-deu installed?): {error}"),
    }
}

fn decode(path: &Path, page_index: usize) -> (GrayImage, u32) {
    match decode_page(path, page_index, &Limits::default()) {
        Ok(page) => {
            let dpi = page.info.dpi.map_or(300, |dpi| dpi.round() as u32);
            (page.gray, dpi)
        }
        Err(error) => panic!("cannot decode page {page_index} of {}: {error}", path.display()),
    }
}

/// One page of a delivery with its truth.
#[derive(Debug, Clone)]
struct TruthPage {
    path: PathBuf,
    page_index: usize,
    text: String,
    format: String,
    blank: bool,
    separator: bool,
    rotation: u64,
    /// How far the generator turned the page content, in degrees,
    /// anticlockwise positive.
    skew_deg: f64,
}

/// Every page of every unpacked batch under `deliveries/` (archived batches
/// are skipped), in truth-file order.
fn truth_pages(deliveries: &Path) -> Vec<TruthPage> {
    let mut truth_files: Vec<PathBuf> = std::fs::read_dir(deliveries.join("truth"))
        .map(|entries| entries.filter_map(|entry| entry.ok().map(|entry| entry.path())).collect())
        .unwrap_or_default();
    truth_files.sort();
    let mut pages = Vec::new();
    for truth_file in truth_files {
        let Ok(json) = std::fs::read_to_string(&truth_file) else { continue };
        let Ok(truth) = serde_json::from_str::<serde_json::Value>(&json) else { continue };
        let Some(batch_dir) = truth["path"].as_str().map(|path| deliveries.join(path).join("data")) else { continue };
        if !batch_dir.is_dir() {
            continue;
        }
        for document in truth["documents"].as_array().into_iter().flatten() {
            for page in document["pages"].as_array().into_iter().flatten() {
                let (Some(file), Some(file_page)) = (page["file"].as_str(), page["file_page"].as_u64()) else {
                    continue;
                };
                pages.push(TruthPage {
                    path: batch_dir.join(file),
                    page_index: file_page.saturating_sub(1) as usize,
                    text: page["text"].as_str().unwrap_or_default().to_owned(),
                    format: page["scan"]["format"].as_str().unwrap_or_default().to_owned(),
                    blank: page["blank"].as_bool().unwrap_or(false),
                    separator: page["separator"].as_bool().unwrap_or(false),
                    rotation: page["scan"]["rotation"].as_u64().unwrap_or(0),
                    skew_deg: page["scan"]["skew_deg"].as_f64().unwrap_or(0.0),
                });
            }
        }
    }
    pages
}

/// Upright text pages, at most `per_format` of each scan format.
fn sample_text_pages(pages: &[TruthPage], per_format: usize) -> Vec<TruthPage> {
    let mut sample: Vec<TruthPage> = Vec::new();
    for page in pages {
        let upright_text = !page.blank && !page.separator && page.rotation == 0 && page.path.is_file();
        if upright_text && sample.iter().filter(|taken| taken.format == page.format).count() < per_format {
            sample.push(page.clone());
        }
    }
    sample
}

/// Levenshtein distance over characters, two rows.
fn levenshtein(left: &[char], right: &[char]) -> usize {
    let mut previous: Vec<usize> = (0..=right.len()).collect();
    let mut current = vec![0; right.len() + 1];
    for (i, left_char) in left.iter().enumerate() {
        current[0] = i + 1;
        for (j, right_char) in right.iter().enumerate() {
            let substitution = previous[j] + usize::from(left_char != right_char);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[right.len()]
}

/// Character error rate of `recognised` against `truth`, over the
/// non-whitespace characters: the truth letter-spaces some headings
/// ("P E R S O N A L A K T E", which tesseract reads as one word) and line
/// breaks and column gaps are layout, not recognition.
fn character_error_rate(recognised: &str, truth: &str) -> f64 {
    let normalise = |text: &str| -> Vec<char> { text.chars().filter(|c| !c.is_whitespace()).collect() };
    let (recognised, truth) = (normalise(recognised), normalise(truth));
    levenshtein(&recognised, &truth) as f64 / truth.len().max(1) as f64
}

/// Truth words (of two or more characters, as a multiset) that the
/// recognised text lacks, in any order: reading order of side-by-side blocks
/// may legitimately differ, text tesseract reads beyond the truth (stamps,
/// signatures) is not counted, and one-character tokens are left out because
/// the truth letter-spaces some headings ("P E R S O N A L A K T E") and
/// numbers paragraphs ("§ 1") in ways layout analysis splits differently.
fn missing_words(recognised: &str, truth: &str) -> (usize, usize) {
    let long_words = |text: &str| -> Vec<String> {
        text.split_whitespace().filter(|word| word.chars().count() >= 2).map(str::to_owned).collect()
    };
    let mut available: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for word in long_words(recognised) {
        *available.entry(word).or_default() += 1;
    }
    let truth_words = long_words(truth);
    let mut missing = 0;
    for word in &truth_words {
        match available.get_mut(word) {
            Some(count) if *count > 0 => *count -= 1,
            _ => missing += 1,
        }
    }
    (missing, truth_words.len())
}

/// Recognition quality of a set of pages, against their truth.
#[derive(Debug, Default)]
struct Quality {
    missing_words: usize,
    truth_words: usize,
    report: Vec<String>,
}

impl Quality {
    /// Records one page and checks that it lost few of the truth's words.
    /// The bound is 25% per page because short "Vermerk" pages (20 words)
    /// lose their list numbers ("1.", "2.", ...) to layout analysis, as the
    /// tesseract CLI does; a wrong image, resolution or mode loses far more.
    /// Its CER is reported, not asserted: on pages with side-by-side blocks,
    /// tables, stamps or signatures it measures layout, not recognition.
    fn add(&mut self, recognised: &str, truth: &str, what: &str) {
        let cer = character_error_rate(recognised, truth);
        let (missing, truth_words) = missing_words(recognised, truth);
        let missing_rate = missing as f64 / truth_words.max(1) as f64;
        self.missing_words += missing;
        self.truth_words += truth_words;
        self.report.push(format!("cer {:>6.2}%  missing words {:>6.2}%  {what}", cer * 100.0, missing_rate * 100.0));
        assert!(
            missing_rate < 0.25,
            "{what}: missing words {missing_rate:.4}, cer {cer:.4}\n--- recognised\n{recognised}\n--- truth\n{truth}"
        );
    }

    /// Share of all truth words missing over every page added.
    fn overall_missing_rate(&self) -> f64 {
        self.missing_words as f64 / self.truth_words.max(1) as f64
    }
}

fn assert_sane_words(page: &PageText, image: &GrayImage, what: &str) {
    let (width, height) = image.dimensions();
    let mut previous_line = 0;
    for (index, word) in page.words.iter().enumerate() {
        let [left, top, right, bottom] = word.bbox;
        assert!(left < right && top < bottom, "{what}: empty box {:?} for {:?}", word.bbox, word.text);
        assert!(right <= width && bottom <= height, "{what}: box {:?} outside {width}x{height}", word.bbox);
        assert!(!word.text.trim().is_empty(), "{what}: whitespace word at {index}");
        assert!((0.0..=100.0).contains(&word.confidence), "{what}: confidence {}", word.confidence);
        let expected_first_line = index == 0 && word.line == 0;
        let continues = index > 0 && (word.line == previous_line || word.line == previous_line + 1);
        assert!(expected_first_line || continues, "{what}: line {} after {previous_line}", word.line);
        previous_line = word.line;
    }
}

#[test]
fn g4_fixture_page_is_recognised_within_two_percent_cer() {
    let (image, dpi) = decode(&workspace_dir().join("fixtures/images/g4-300dpi.tif"), 0);
    let truth = include_str!("g4-300dpi.txt");
    let page = engine().recognize(&image, dpi);
    assert_eq!(page.status, PageStatus::Ok, "{:?}", page.detail);
    let cer = character_error_rate(&page.text, truth);
    assert!(cer < 0.02, "cer {cer:.4}\n--- recognised\n{}", page.text);
    assert!(page.mean_confidence.is_some_and(|confidence| confidence > 70.0), "{:?}", page.mean_confidence);
    assert!(page.detail.is_none());

    // Words: boxes inside the image, dense line numbers, and the words
    // joined give the same text as tesseract's own rendering.
    assert_sane_words(&page, &image, "g4-300dpi.tif");
    let line_count = page.words.last().map_or(0, |word| word.line + 1);
    assert!(line_count >= 10, "only {line_count} lines");
    let words_joined: Vec<&str> = page.words.iter().map(|word| word.text.as_str()).collect();
    let text_words: Vec<&str> = page.text.split_whitespace().collect();
    assert_eq!(words_joined, text_words);
    // The first word is near the top-left of the page, where the letterhead is.
    let first = &page.words[0];
    assert!(first.bbox[1] < image.height() / 4, "{:?}", first);
}

/// With the same mode and resolution the engine gives the tesseract CLI's
/// text byte for byte (what the "no worse than the CLI" rests on),
/// although the CLI reads the G4 TIFF itself and the engine gets our decode.
#[test]
fn text_is_the_tesseract_cli_text() {
    let path = workspace_dir().join("fixtures/images/g4-300dpi.tif");
    let cli =
        std::process::Command::new("tesseract").arg(&path).arg("stdout").args(["-l", "deu", "--psm", "3"]).output();
    let Ok(cli) = cli.map_err(|error| eprintln!("tesseract cli not runnable ({error}), skipped")) else { return };
    assert!(cli.status.success(), "{}", String::from_utf8_lossy(&cli.stderr));
    let (image, dpi) = decode(&path, 0);
    let page = engine().recognize(&image, dpi);
    assert_eq!(page.text, String::from_utf8_lossy(&cli.stdout));
}

/// One engine, several pages in a row, of every format in the fixtures.
#[test]
fn one_engine_recognises_fixture_pages_of_every_format_in_a_row() {
    let pages = sample_text_pages(&truth_pages(&fixture_deliveries()), 2);
    assert!(pages.len() >= 4, "fixtures have too few text pages: {}", pages.len());
    let mut engine = engine();
    let mut quality = Quality::default();
    for truth in &pages {
        let (image, dpi) = decode(&truth.path, truth.page_index);
        let page = engine.recognize(&image, dpi);
        let what = format!("{} {} page {}", truth.format, truth.path.display(), truth.page_index);
        assert_eq!(page.status, PageStatus::Ok, "{what}: {:?}", page.detail);
        assert_sane_words(&page, &image, &what);
        quality.add(&page.text, &truth.text, &what);
    }
    let missing_rate = quality.overall_missing_rate();
    eprintln!(
        "{}\noverall missing words {:.2}% over {} pages",
        quality.report.join("\n"),
        missing_rate * 100.0,
        pages.len()
    );
    assert!(missing_rate < 0.05, "overall missing words {missing_rate:.4}");
}

/// The skew measured on tesseract's binary image undoes the skew the pages
/// were scanned with: the e-file stage turns the page image by it.
#[test]
fn skew_of_fixture_pages_is_measured_to_a_quarter_degree() {
    let pages = sample_text_pages(&truth_pages(&fixture_deliveries()), 6);
    let mut engine = engine();
    let mut errors = Vec::new();
    for truth in &pages {
        let (image, dpi) = decode(&truth.path, truth.page_index);
        let page = engine.recognize(&image, dpi);
        let what = format!("{} {} page {}", truth.format, truth.path.display(), truth.page_index);
        let skew = page.skew_deg.unwrap_or_else(|| panic!("{what}: no skew measured"));
        eprintln!("{what}: skew {skew:.2}, truth {:.2}", truth.skew_deg);
        // Content turned anticlockwise by a is levelled by turning it back.
        errors.push((f64::from(skew) + truth.skew_deg).abs());
    }
    let worst = errors.iter().copied().fold(0.0, f64::max);
    let mean = errors.iter().sum::<f64>() / errors.len() as f64;
    eprintln!("skew error over {} pages: mean {mean:.3}°, worst {worst:.3}°", errors.len());
    assert!(worst <= 0.1, "worst skew error {worst:.3}°");
}

/// The shared corpus, when present: more pages, all formats, one engine.
#[test]
fn shared_corpus_pages_stay_within_cer_bounds() {
    let Some(deliveries) = shared_deliveries() else {
        eprintln!("../shared/corpus/deliveries not present, skipped");
        return;
    };
    let pages = sample_text_pages(&truth_pages(&deliveries), 3);
    let mut engine = engine();
    let mut quality = Quality::default();
    for truth in &pages {
        let (image, dpi) = decode(&truth.path, truth.page_index);
        let page = engine.recognize(&image, dpi);
        let what = format!("{} {} page {}", truth.format, truth.path.display(), truth.page_index);
        assert_eq!(page.status, PageStatus::Ok, "{what}: {:?}", page.detail);
        assert_sane_words(&page, &image, &what);
        quality.add(&page.text, &truth.text, &what);
    }
    let missing_rate = quality.overall_missing_rate();
    eprintln!(
        "{}\noverall missing words {:.2}% over {} pages",
        quality.report.join("\n"),
        missing_rate * 100.0,
        pages.len()
    );
    assert!(missing_rate < 0.05, "overall missing words {missing_rate:.4}");
}

#[test]
fn clean_blank_page_is_empty() {
    let blank = truth_pages(&fixture_deliveries())
        .into_iter()
        .find(|page| page.blank && page.path.is_file())
        .expect("the fixtures have a blank page (SSN-0007-028)");
    let (image, dpi) = decode(&blank.path, blank.page_index);
    let page = engine().recognize(&image, dpi);
    assert_eq!(page.status, PageStatus::Empty, "{}: {:?}", blank.path.display(), page.words);
    assert!(page.text.is_empty() && page.words.is_empty() && page.mean_confidence.is_none() && page.detail.is_none());
}

/// What tesseract really does with blank pages of the shared corpus: clean
/// ones are `Empty`; one with bleed-through from the reverse side and a
/// blotchy background (SSN-0001-002, KZ-2610-8636363_0004.png) yields a few
/// dozen garbage words. The engine reports them (status `Ok`) with a low mean
/// confidence; telling that page blank is the pixel-based blank detector's
/// job, not OCR's.
#[test]
fn shared_corpus_blank_pages_are_empty_or_low_confidence() {
    let Some(deliveries) = shared_deliveries() else {
        eprintln!("../shared/corpus/deliveries not present, skipped");
        return;
    };
    let blanks: Vec<TruthPage> =
        truth_pages(&deliveries).into_iter().filter(|page| page.blank && page.path.is_file()).collect();
    assert!(!blanks.is_empty());
    let mut engine = engine();
    let mut empty_count = 0;
    for blank in &blanks {
        let (image, dpi) = decode(&blank.path, blank.page_index);
        let page = engine.recognize(&image, dpi);
        let what = format!("{} page {}", blank.path.display(), blank.page_index);
        match page.status {
            PageStatus::Empty => empty_count += 1,
            PageStatus::Ok => {
                let confidence = page.mean_confidence.unwrap_or(100.0);
                assert!(confidence < 60.0, "{what}: blank page read with confidence {confidence}: {}", page.text);
            }
            _ => panic!("{what}: {:?} {:?}", page.status, page.detail),
        }
    }
    eprintln!("{empty_count} of {} blank pages empty", blanks.len());
    assert!(empty_count * 2 >= blanks.len(), "most blank pages should be empty");
}

/// Turns `image` clockwise by a multiple of 90 degrees.
fn rotate_clockwise(image: &GrayImage, degrees: u16) -> GrayImage {
    match degrees {
        90 => image::imageops::rotate90(image),
        180 => image::imageops::rotate180(image),
        270 => image::imageops::rotate270(image),
        _ => image.clone(),
    }
}

/// The sign convention, checked on a real page turned by us: a page stored
/// turned 90° clockwise needs 270° more clockwise to be upright, and turning
/// it by the answer gives back the upright page pixel for pixel.
#[test]
fn orientation_of_a_page_we_turned_is_undone_by_the_answer() {
    let (upright, dpi) = decode(&workspace_dir().join("fixtures/images/g4-300dpi.tif"), 0);
    let mut engine = engine();
    let found = engine.try_detect_orientation(&upright, dpi).expect("osd model loads");
    assert_eq!(found.map(|orientation| orientation.rotate_clockwise_deg), Some(0), "{found:?}");
    for (stored_turn, expected_answer) in [(90, 270), (180, 180), (270, 90)] {
        let stored = rotate_clockwise(&upright, stored_turn);
        let orientation = engine
            .detect_orientation(&stored, dpi)
            .unwrap_or_else(|| panic!("no orientation for a page turned {stored_turn}°"));
        assert_eq!(orientation.rotate_clockwise_deg, expected_answer, "page turned {stored_turn}° clockwise");
        assert!(orientation.confidence > 1.0, "{orientation:?}");
        assert!(rotate_clockwise(&stored, orientation.rotate_clockwise_deg) == upright);
    }
}

/// Engines on several threads ask the one shared OSD engine at the same
/// time, and each gets the answer for its own page.
#[test]
fn engines_on_several_threads_share_the_orientation_check() {
    let (upright, dpi) = decode(&workspace_dir().join("fixtures/images/g4-300dpi.tif"), 0);
    let answers: Vec<Vec<Option<u16>>> = std::thread::scope(|scope| {
        let workers: Vec<_> = [90u16, 180, 270]
            .into_iter()
            .map(|stored_turn| {
                let stored = rotate_clockwise(&upright, stored_turn);
                scope.spawn(move || {
                    let mut engine = engine();
                    (0..2)
                        .map(|_| engine.detect_orientation(&stored, dpi).map(|found| found.rotate_clockwise_deg))
                        .collect()
                })
            })
            .collect();
        workers.into_iter().map(|worker| worker.join().expect("worker panicked")).collect()
    });
    assert_eq!(answers, vec![vec![Some(270); 2], vec![Some(180); 2], vec![Some(90); 2]]);
}

/// The fixture page scanned upside down (SSN-0007-002, `rotation: 180` in the
/// truth) is detected, turned and then read like any upright page.
#[test]
fn upside_down_fixture_page_is_detected_turned_and_read() {
    let turned = truth_pages(&fixture_deliveries())
        .into_iter()
        .find(|page| page.rotation == 180 && page.path.is_file())
        .expect("the fixtures have a page scanned upside down");
    let (image, dpi) = decode(&turned.path, turned.page_index);
    let mut engine = engine();
    let orientation = engine.detect_orientation(&image, dpi).expect("orientation detected");
    assert_eq!(orientation.rotate_clockwise_deg, 180);
    let upright = rotate_clockwise(&image, orientation.rotate_clockwise_deg);
    let page = engine.recognize(&upright, dpi);
    Quality::default().add(&page.text, &turned.text, "upside-down page, turned");
}

/// The corpus truth's `scan.rotation` for turned pages, when the shared
/// corpus is present: the engine's answer undoes it.
#[test]
fn shared_corpus_turned_pages_are_detected() {
    let Some(deliveries) = shared_deliveries() else {
        eprintln!("../shared/corpus/deliveries not present, skipped");
        return;
    };
    let turned: Vec<TruthPage> =
        truth_pages(&deliveries).into_iter().filter(|page| page.rotation != 0 && page.path.is_file()).collect();
    let mut engine = engine();
    let mut report = Vec::new();
    for page in turned.iter().take(8) {
        let (image, dpi) = decode(&page.path, page.page_index);
        let orientation = engine.detect_orientation(&image, dpi);
        report.push(format!("truth rotation {:>3}: {:?} {}", page.rotation, orientation, page.path.display()));
        let answer = orientation.map(|orientation| u64::from(orientation.rotate_clockwise_deg));
        // The truth records how far the scan is turned clockwise.
        assert_eq!(answer, Some((360 - page.rotation) % 360), "{}", report.join("\n"));
    }
    eprintln!("{}", report.join("\n"));
}

#[test]
fn timeout_stops_the_page_and_leaves_the_engine_usable() {
    let (image, dpi) = decode(&workspace_dir().join("fixtures/images/g4-300dpi.tif"), 0);
    let options = EngineOptions { page_timeout: Duration::ZERO, ..EngineOptions::default() };
    let mut engine = Engine::new(&options).expect("engine");
    let page = engine.recognize(&image, dpi);
    assert_eq!(page.status, PageStatus::Timeout);
    assert!(page.text.is_empty() && page.words.is_empty() && page.mean_confidence.is_none());
    let detail = page.detail.unwrap_or_default();
    assert!(detail.starts_with("page recognition stopped at its time limit of 0.0 s"), "{detail}");

    engine.set_page_timeout(Duration::from_secs(600));
    let page = engine.recognize(&image, dpi);
    assert_eq!(page.status, PageStatus::Ok, "{:?}", page.detail);
    assert!(character_error_rate(&page.text, include_str!("g4-300dpi.txt")) < 0.02);
}

#[test]
fn garbage_images_give_a_status_not_a_panic() {
    let mut engine = engine();
    for (width, height) in [(0, 0), (1, 1), (2, 500), (40_000, 3)] {
        let page = engine.recognize(&GrayImage::new(width, height), 300);
        assert_eq!(page.status, PageStatus::Failed, "{width}x{height}");
        assert!(page.detail.is_some_and(|detail| detail.contains(&format!("{width}x{height} pixels"))));
        assert_eq!(engine.detect_orientation(&GrayImage::new(width, height), 300), None);
    }

    // Uniform white and black pages, and salt-and-pepper noise from a fixed
    // linear congruential generator: no text, so `Empty`.
    let white = GrayImage::from_pixel(800, 600, image::Luma([255]));
    let black = GrayImage::from_pixel(800, 600, image::Luma([0]));
    let mut state: u32 = 0x5ca2_d315;
    let noise = GrayImage::from_fn(800, 600, |_, _| {
        state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        image::Luma([if state >> 31 == 1 { 255 } else { 0 }])
    });
    for (name, image) in [("white", &white), ("black", &black), ("noise", &noise)] {
        let page = engine.recognize(image, 300);
        assert!(
            page.status == PageStatus::Empty
                || (page.status == PageStatus::Ok && page.mean_confidence.is_some_and(|confidence| confidence < 50.0)),
            "{name}: {:?} {:?} {:?}",
            page.status,
            page.mean_confidence,
            page.text
        );
        eprintln!("{name}: {:?}, {} words", page.status, page.words.len());
        // OSD finds blobs in noise and answers, but with a confidence far
        // below the 7-19 of real pages.
        let orientation = engine.detect_orientation(image, 300);
        assert!(orientation.is_none_or(|orientation| orientation.confidence < 4.0), "{name}: {orientation:?}");
    }

    // The engine still reads a real page afterwards.
    let (image, dpi) = decode(&workspace_dir().join("fixtures/images/g4-300dpi.tif"), 0);
    assert_eq!(engine.recognize(&image, dpi).status, PageStatus::Ok);
}

#[test]
fn unknown_resolution_is_estimated_by_tesseract() {
    let (image, _) = decode(&workspace_dir().join("fixtures/images/g4-300dpi.tif"), 0);
    let page = engine().recognize(&image, 0);
    assert_eq!(page.status, PageStatus::Ok);
    // FIXME: without the resolution tesseract misjudges this page (it
    // estimates from text height) and reads it worse; callers should pass
    // the file's DPI or the bag's declared one.
    let cer = character_error_rate(&page.text, include_str!("g4-300dpi.txt"));
    eprintln!("cer without dpi {cer:.4}");
    assert!(cer < 0.25, "cer {cer:.4}\n{}", page.text);
}

#[test]
fn missing_model_and_bad_language_are_errors() {
    let empty_dir = std::env::temp_dir().join(format!("scan2dms-ocr-no-models-{}", std::process::id()));
    std::fs::create_dir_all(&empty_dir).expect("temp dir");
    let options = EngineOptions { tessdata_dir: Some(empty_dir.clone()), ..EngineOptions::default() };
    let error = Engine::new(&options).expect_err("no model there");
    assert!(matches!(error, OcrError::ModelNotFound { .. }), "{error}");
    assert_eq!(error.to_string(), format!("tesseract model {}/deu.traineddata not found", empty_dir.display()));
    std::fs::remove_dir(&empty_dir).ok();

    for language in ["", "../deu", "deu+", "de u"] {
        let options = EngineOptions { language: language.to_owned(), ..EngineOptions::default() };
        let error = Engine::new(&options).expect_err(language);
        assert!(matches!(error, OcrError::InvalidLanguage { .. }), "{language:?}: {error}");
    }

    let options = EngineOptions { language: "xxx".to_owned(), ..EngineOptions::default() };
    let error = Engine::new(&options).expect_err("no xxx model");
    assert!(matches!(error, OcrError::Init { .. }), "{error}");
}

#[test]
fn engines_move_to_worker_threads() {
    fn assert_send<T: Send>() {}
    assert_send::<Engine>();
    let (image, dpi) = decode(&workspace_dir().join("fixtures/images/g4-300dpi.tif"), 0);
    let engines: Vec<Engine> = (0..2).map(|_| engine()).collect();
    let statuses: Vec<PageStatus> = std::thread::scope(|scope| {
        let handles: Vec<_> = engines
            .into_iter()
            .map(|mut engine| {
                let image = &image;
                scope.spawn(move || engine.recognize(image, dpi).status)
            })
            .collect();
        handles.into_iter().map(|handle| handle.join().expect("worker")).collect()
    });
    assert_eq!(statuses, [PageStatus::Ok, PageStatus::Ok]);
}

/// Environment marker: this process is the child started by
/// `missing_thread_limit_is_set_by_reexec`.
const REEXEC_CHILD: &str = "SCAN2DMS_OCR_REEXEC_CHILD";

#[test]
fn thread_limit_already_set_is_a_no_op() {
    // cargo test sets OMP_THREAD_LIMIT (see .cargo/config.toml), so this
    // returns instead of replacing the test process.
    assert!(std::env::var_os("OMP_THREAD_LIMIT").is_some());
    ensure_single_threaded_openmp().expect("no-op");
}

/// Runs this test binary again without `OMP_THREAD_LIMIT`, filtered to
/// `reexec_child`; that child calls `ensure_single_threaded_openmp`, which
/// must re-exec it with the variable set and the same arguments.
#[test]
fn missing_thread_limit_is_set_by_reexec() {
    let output = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args(["--exact", "reexec_child", "--nocapture", "--test-threads=1"])
        .env_remove("OMP_THREAD_LIMIT")
        .env(REEXEC_CHILD, "1")
        .output()
        .expect("run test binary");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("child sees OMP_THREAD_LIMIT=1 args=[\"--exact\", \"reexec_child\""), "{stdout}");
}

#[test]
fn reexec_child() {
    if std::env::var_os(REEXEC_CHILD).is_none() {
        return; // Only meaningful when started by the test above.
    }
    ensure_single_threaded_openmp().expect("re-exec");
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    let limit = std::env::var("OMP_THREAD_LIMIT").unwrap_or_default();
    println!("child sees OMP_THREAD_LIMIT={limit} args={arguments:?}");
}
