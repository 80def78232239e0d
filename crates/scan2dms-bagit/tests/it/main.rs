//! Integration tests of `scan2dms-bagit`: bags built in temp dirs from the
//! cases RFC 8493 describes, snapshotted with expect-test, and agreement with
//! bagit-python on the shared delivery corpus.

#![allow(clippy::unwrap_used, reason = "a test that cannot set up should panic")]

mod bagit_python;
mod rfc_cases;

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use expect_test::Expect;
use scan2dms_bagit::{Algorithm, BagReport, ValidateOptions, digest_file, manifest_line, validate_bag};

/// A bag under construction in a temp dir.
#[derive(Debug)]
pub struct TestBag {
    _dir: tempfile::TempDir,
    pub root: PathBuf,
}

impl TestBag {
    /// An empty directory called `bag` (nothing in it yet).
    pub fn empty() -> TestBag {
        let dir = tempfile::tempdir().expect("create temp dir");
        let root = dir.path().join("bag");
        fs::create_dir(&root).expect("create bag dir");
        TestBag { _dir: dir, root }
    }

    /// A valid BagIt 1.0 bag: two payload files, bag-info.txt with a correct
    /// Payload-Oxum, manifest-sha256.txt and tagmanifest-sha256.txt.
    pub fn valid() -> TestBag {
        let bag = TestBag::empty();
        bag.write("bagit.txt", "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n");
        bag.write("data/a.txt", "hello\n");
        bag.write("data/images/b.bin", "\x00\x01\x02");
        bag.write("bag-info.txt", "Source-Organization: Scan-Service Nord GmbH\nPayload-Oxum: 9.2\n");
        bag.write_manifest("manifest-sha256.txt", Algorithm::Sha256, &["data/a.txt", "data/images/b.bin"]);
        bag.update_tag_manifest();
        bag
    }

    pub fn path(&self, relative: &str) -> PathBuf {
        self.root.join(relative)
    }

    pub fn write(&self, relative: &str, content: impl AsRef<[u8]>) {
        let path = self.path(relative);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).expect("create parent dirs");
        }
        fs::write(&path, content).expect("write file");
    }

    pub fn remove(&self, relative: &str) {
        fs::remove_file(self.path(relative)).expect("remove file");
    }

    /// Appends to a file.
    pub fn append(&self, relative: &str, content: &str) {
        let existing = fs::read_to_string(self.path(relative)).unwrap_or_default();
        self.write(relative, existing + content);
    }

    /// Rewrites tagmanifest-sha256.txt to list bagit.txt, bag-info.txt and
    /// every payload manifest present, with their current digests.
    pub fn update_tag_manifest(&self) {
        let mut tag_files: Vec<String> = fs::read_dir(&self.root)
            .expect("list bag root")
            .map(|entry| entry.expect("bag root entry").file_name().to_string_lossy().into_owned())
            .filter(|name| {
                name == "bagit.txt"
                    || name == "bag-info.txt"
                    || (name.starts_with("manifest-") && name.ends_with(".txt"))
            })
            .collect();
        tag_files.sort();
        let tag_files: Vec<&str> = tag_files.iter().map(String::as_str).collect();
        self.write_manifest("tagmanifest-sha256.txt", Algorithm::Sha256, &tag_files);
    }

    /// Writes a manifest listing `paths` with their real digests.
    pub fn write_manifest(&self, name: &str, algorithm: Algorithm, paths: &[&str]) {
        let mut text = String::new();
        for path in paths {
            let (_, digests) = digest_file(&self.path(path), &[algorithm]).expect("digest file for manifest");
            text.push_str(&manifest_line(&digests[0].1, path));
        }
        self.write(name, text);
    }

    pub fn validate(&self) -> BagReport {
        validate_bag(&self.root, &ValidateOptions::default()).expect("bag can be validated")
    }
}

/// Renders the findings, one per line, or `valid`.
pub fn render_findings(report: &BagReport) -> String {
    if report.is_valid() {
        return "valid\n".to_owned();
    }
    let mut rendered = String::new();
    for finding in &report.findings {
        writeln!(rendered, "{finding}").expect("write to string");
    }
    rendered
}

pub fn check(bag: &TestBag, expect: Expect) {
    let report = bag.validate();
    assert_eq!(report.is_valid(), report.findings.is_empty());
    expect.assert_eq(&render_findings(&report));
}

/// The shared folder next to the workspace, when it is there.
pub fn shared_dir() -> Option<PathBuf> {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared");
    shared.is_dir().then_some(shared)
}
