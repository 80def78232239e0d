//! A bag with only a sha512 manifest still yields every payload file's
//! SHA-256, which the e-files' provenance needs (a regression: such batches
//! failed their e-file stage).

use std::path::Path;

use scan2dms_bagit::{Algorithm, digest_file, manifest_line};
use scan2dms_delivery::{DirectoryOrderBook, ImageCheck, ValidateOptions, validate_delivery};

fn copy_tree(from: &Path, to: &Path) {
    if from.is_dir() {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            copy_tree(&entry.path(), &to.join(entry.file_name()));
        }
    } else {
        std::fs::copy(from, to).unwrap();
    }
}

#[test]
fn a_sha512_only_bag_gets_sha256_for_every_payload_file() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/deliveries");
    let dir = tempfile::tempdir().unwrap();
    let bag = dir.path().join("SSN-0007-001");
    copy_tree(&fixtures.join("batches/SSN-0007-001"), &bag);

    // Swap the sha256 manifest for a sha512 one; drop the tag manifest that named it.
    let sha256_manifest = std::fs::read_to_string(bag.join("manifest-sha256.txt")).unwrap();
    let mut sha512_manifest = String::new();
    for line in sha256_manifest.lines() {
        let path = line.split_once(char::is_whitespace).unwrap().1.trim();
        let (_, digests) = digest_file(&bag.join(path), &[Algorithm::Sha512]).unwrap();
        sha512_manifest.push_str(&manifest_line(&digests[0].1, path));
    }
    std::fs::write(bag.join("manifest-sha512.txt"), sha512_manifest).unwrap();
    std::fs::remove_file(bag.join("manifest-sha256.txt")).unwrap();
    std::fs::remove_file(bag.join("tagmanifest-sha256.txt")).unwrap();

    let book = DirectoryOrderBook::read(&fixtures.join("orders")).unwrap();
    let options =
        ValidateOptions { image_limits: Default::default(), image_check: ImageCheck::Probe, threads: Some(2) };
    let validation = validate_delivery(&bag, &book, &options).unwrap();
    assert!(validation.report.is_accepted(), "{}", validation.report);
    assert!(!validation.payload.is_empty());
    for entry in &validation.payload {
        let (_, expected) = digest_file(&bag.join(&entry.path), &[Algorithm::Sha256]).unwrap();
        assert_eq!(entry.sha256.as_deref(), Some(expected[0].1.as_str()), "{}", entry.path);
    }
}
