//! Shared helpers of the fuzz targets: a per-process scratch directory for
//! the entry points that take a path, the template bags, and the panic policy.
//!
//! Key decision: the targets call the same public functions the pipeline
//! calls (`validate_delivery`, `validate_bag`, `extract`, `probe`,
//! `decode_page`, ...), with the fuzz input written to a file, rather than
//! private parsers made public for the fuzzer. A finding is then a finding of
//! the product, never of a test-only path.
//!
//! Panics: libfuzzer-sys aborts on every panic, even one that is caught.
//! scan2dms-imaging deliberately catches panics of third-party decoders at its
//! boundary (`guard_panics`), so [`init`] installs a hook that lets a panic
//! whose location is in a crates.io crate unwind (it is printed once per
//! location, to be reported upstream) and aborts on any other. A third-party
//! panic that nothing catches still ends the run: libfuzzer-sys aborts when a
//! panic reaches the fuzz target.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

/// Installs the panic policy described in the crate documentation. Call it
/// from the `init:` block of `fuzz_target!`, which runs after libfuzzer-sys
/// installed its own hook.
pub fn init() {
    let libfuzzer_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let location = info.location().map(|location| location.file().to_owned()).unwrap_or_default();
        if is_third_party(&location) {
            static SEEN: Mutex<Option<HashSet<String>>> = Mutex::new(None);
            let place = info.location().map(|l| format!("{}:{}", l.file(), l.line())).unwrap_or_default();
            let mut seen = SEEN.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if seen.get_or_insert_with(HashSet::new).insert(place) {
                eprintln!("scan2dms-fuzz: third-party panic, left to our boundary to catch: {info}");
            }
            return;
        }
        libfuzzer_hook(info);
    }));
}

/// True for source files of crates.io or git dependencies.
fn is_third_party(file: &str) -> bool {
    file.contains("/registry/src/") || file.contains("/git/checkouts/")
}

/// A directory of this process under the temporary directory (`TMPDIR`;
/// `scripts/fuzz.sh` points it at a fresh directory that it removes).
pub fn scratch_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("scan2dms-fuzz-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the fuzz scratch directory");
        dir
    })
}

/// Writes `data` to `name` in the scratch directory, reusing the file.
pub fn write_input(name: &str, data: &[u8]) -> PathBuf {
    let path = scratch_dir().join(name);
    std::fs::write(&path, data).expect("write the fuzz input");
    path
}

/// `fixtures/` of the workspace.
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}

/// A clean delivery in the scratch directory, made once per process: the
/// tag files, records.csv and index.csv of the fixture batch `SSN-0007-001`
/// (so the fixture order lists know its records), with its full-size page
/// images replaced by small seed images, and manifests and `Payload-Oxum`
/// made to match. The directory name is the batch id.
pub fn template_delivery() -> &'static Path {
    static BAG: OnceLock<PathBuf> = OnceLock::new();
    BAG.get_or_init(|| {
        use scan2dms_bagit::{Algorithm, digest_bytes, manifest_line};
        let fixture = fixtures_dir().join("deliveries/batches/SSN-0007-001");
        let seed = |target: &str, name: &str| {
            std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds").join(target).join(name))
                .expect("read a seed image")
        };
        let g4 = seed("decode_tiff", "gen-1-group4.tif");
        let mut payload: Vec<(String, Vec<u8>)> = Vec::new();
        for name in ["records.csv", "index.csv"] {
            payload
                .push((format!("data/{name}"), std::fs::read(fixture.join("data").join(name)).expect("fixture csv")));
        }
        for record in ["PN-534303", "PN-982704"] {
            for page in 1..=5 {
                let (name, bytes) = match (record, page) {
                    ("PN-534303", 2) => ("0002.png".to_owned(), seed("decode_raster", "gen-1.png")),
                    ("PN-982704", 5) => ("0005.tif".to_owned(), seed("decode_tiff", "gen-3pages-g4.tif")),
                    _ => (format!("{page:04}.tif"), g4.clone()),
                };
                payload.push((format!("data/images/{record}/{name}"), bytes));
            }
        }
        // Unreferenced, for index.csv rows the fuzzer points at them.
        payload.push(("data/images/extra/scan.pdf".to_owned(), seed("decode_pdf", "gen-pil-3pages.pdf")));
        payload.push(("data/images/extra/photo.jpg".to_owned(), seed("decode_raster", "gen-L.jpg")));

        let bag = scratch_dir().join("SSN-0007-001");
        let octets: usize = payload.iter().map(|(_, bytes)| bytes.len()).sum();
        let bag_info = std::fs::read_to_string(fixture.join("bag-info.txt")).expect("fixture bag-info.txt");
        let bag_info: String = bag_info
            .lines()
            .map(|line| {
                if line.starts_with("Payload-Oxum:") {
                    format!("Payload-Oxum: {octets}.{}\n", payload.len())
                } else {
                    format!("{line}\n")
                }
            })
            .collect();
        let mut manifest = String::new();
        for (path, bytes) in &payload {
            manifest.push_str(&manifest_line(&digest_bytes(Algorithm::Sha256, bytes), path));
        }
        let bagit = std::fs::read(fixture.join("bagit.txt")).expect("fixture bagit.txt");
        let mut tag_manifest = String::new();
        for (path, bytes) in
            [("bag-info.txt", bag_info.as_bytes()), ("bagit.txt", &bagit), ("manifest-sha256.txt", manifest.as_bytes())]
        {
            tag_manifest.push_str(&manifest_line(&digest_bytes(Algorithm::Sha256, bytes), path));
        }
        let mut files = payload;
        files.push(("bagit.txt".to_owned(), bagit));
        files.push(("bag-info.txt".to_owned(), bag_info.into_bytes()));
        files.push(("manifest-sha256.txt".to_owned(), manifest.into_bytes()));
        files.push(("tagmanifest-sha256.txt".to_owned(), tag_manifest.into_bytes()));
        for (path, bytes) in files {
            let target = bag.join(path);
            std::fs::create_dir_all(target.parent().expect("a file in the bag")).expect("create template directory");
            std::fs::write(target, bytes).expect("write template file");
        }
        bag
    })
}

/// The fixture order lists, read once.
pub fn order_book() -> &'static scan2dms_delivery::DirectoryOrderBook {
    static BOOK: OnceLock<scan2dms_delivery::DirectoryOrderBook> = OnceLock::new();
    BOOK.get_or_init(|| {
        scan2dms_delivery::DirectoryOrderBook::read(&fixtures_dir().join("deliveries/orders"))
            .expect("read the fixture order lists")
    })
}

/// Validation as the pipeline runs it, but on one thread and with page
/// images only probed, so one run stays in the millisecond range.
pub fn delivery_options() -> scan2dms_delivery::ValidateOptions {
    scan2dms_delivery::ValidateOptions {
        image_limits: scan2dms_imaging::Limits::default(),
        image_check: scan2dms_delivery::ImageCheck::Probe,
        threads: Some(1),
    }
}

/// Limits for the decode targets: 4 megapixels instead of 64, everything
/// else as in production. Decoding a full A4 page at 300 dpi (8.7 MP) takes
/// the fuzzer tens of milliseconds; with this limit the full-size seeds only
/// exercise the parsers (and `TooLarge`), and the small generated seeds
/// reach every decoder at a thousand runs a second.
pub fn image_limits() -> scan2dms_imaging::Limits {
    scan2dms_imaging::Limits { max_pixels: 4_000_000, ..scan2dms_imaging::Limits::default() }
}

/// Everything the pipeline does with one page image file: probe, decode the
/// first and last page, and the e-file's embedding paths for the first page.
/// Errors are expected; only a panic, hang or runaway allocation is a bug.
pub fn exercise_image(path: &Path) {
    use scan2dms_imaging::{decode_page, embed, probe};
    let limits = image_limits();
    let info = probe(path, &limits);
    let _ = decode_page(path, 0, &limits);
    if let Ok(info) = info {
        let last = info.pages.len().saturating_sub(1);
        if last > 0 {
            let _ = decode_page(path, last, &limits);
        }
        if !info.pages.is_empty() {
            let _ = embed::encoded_page(path, &info, 0, &limits);
            let _ = embed::colour_pixels(path, &info, 0, &limits);
        }
    }
}
