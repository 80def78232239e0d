//! Manifests and the other tag files of a bag, through `validate_bag`.
//!
//! A small valid bag is made once; the first input byte picks which of its
//! tag files the rest of the input replaces (modulo the number of slots):
//!
//! | byte % 7 | file | bag |
//! |---|---|---|
//! | 0 | `manifest-sha256.txt` | 1.0, UTF-8 |
//! | 1 | `manifest-md5.txt` (added) | 1.0, UTF-8 |
//! | 2 | `manifest-sha512.txt` (added) | 1.0, UTF-8 |
//! | 3 | `tagmanifest-sha256.txt` | 1.0, UTF-8 |
//! | 4 | `fetch.txt` (added) | 1.0, UTF-8 |
//! | 5 | `bagit.txt` | as the input declares |
//! | 6 | `manifest-md5.txt` (added) | 0.97, ISO-8859-1 tag files |
//!
//! After each run the bag is put back as it was.
#![no_main]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use scan2dms_bagit::{Algorithm, ValidateOptions, digest_bytes, manifest_line, validate_bag};

const BAGIT_1_0: &str = "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n";
const BAGIT_0_97_LATIN1: &str = "BagIt-Version: 0.97\nTag-File-Character-Encoding: ISO-8859-1\n";

fuzz_target!(init: scan2dms_fuzz::init(), |data: &[u8]| {
    let Some((&selector, content)) = data.split_first() else {
        return;
    };
    let bag = template_bag();
    let (file, old_bag) = match selector % 7 {
        0 => ("manifest-sha256.txt", false),
        1 => ("manifest-md5.txt", false),
        2 => ("manifest-sha512.txt", false),
        3 => ("tagmanifest-sha256.txt", false),
        4 => ("fetch.txt", false),
        5 => ("bagit.txt", false),
        _ => ("manifest-md5.txt", true),
    };
    if old_bag {
        write(bag, "bagit.txt", BAGIT_0_97_LATIN1.as_bytes());
    }
    write(bag, file, content);
    let _ = validate_bag(bag, &ValidateOptions { threads: Some(1) });
    restore(bag, file);
    if old_bag {
        restore(bag, "bagit.txt");
    }
});

/// The template files, by bag-relative path.
fn template_files() -> &'static Vec<(&'static str, Vec<u8>)> {
    static FILES: OnceLock<Vec<(&'static str, Vec<u8>)>> = OnceLock::new();
    FILES.get_or_init(|| {
        let payload: [(&str, &[u8]); 3] =
            [("data/a.txt", b"hello\n"), ("data/dir/b c.txt", b"four"), ("data/100%.txt", b"")];
        let mut manifest = String::new();
        for (path, bytes) in payload {
            manifest.push_str(&manifest_line(&digest_bytes(Algorithm::Sha256, bytes), path));
        }
        let octets: usize = payload.iter().map(|(_, bytes)| bytes.len()).sum();
        let bag_info = format!("Payload-Oxum: {octets}.{}\nBagging-Date: 2026-11-29\n", payload.len());
        let mut files: Vec<(&'static str, Vec<u8>)> =
            payload.iter().map(|(path, bytes)| (*path, bytes.to_vec())).collect();
        files.push(("bagit.txt", BAGIT_1_0.as_bytes().to_vec()));
        files.push(("bag-info.txt", bag_info.into_bytes()));
        files.push(("manifest-sha256.txt", manifest.into_bytes()));
        let mut tag_manifest = String::new();
        for (path, bytes) in &files {
            if !path.starts_with("data/") {
                tag_manifest.push_str(&manifest_line(&digest_bytes(Algorithm::Sha256, bytes), path));
            }
        }
        files.push(("tagmanifest-sha256.txt", tag_manifest.into_bytes()));
        files
    })
}

/// The template bag in the scratch directory, made once per process.
fn template_bag() -> &'static Path {
    static BAG: OnceLock<PathBuf> = OnceLock::new();
    BAG.get_or_init(|| {
        let bag = scan2dms_fuzz::scratch_dir().join("bag");
        for (path, bytes) in template_files() {
            write(&bag, path, bytes);
        }
        bag
    })
}

fn write(bag: &Path, path: &str, bytes: &[u8]) {
    let target = bag.join(path);
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent).expect("create bag directory");
    }
    std::fs::write(target, bytes).expect("write bag file");
}

/// Puts `path` back as the template has it, or removes it when the template
/// has no such file.
fn restore(bag: &Path, path: &str) {
    match template_files().iter().find(|(name, _)| *name == path) {
        Some((_, bytes)) => write(bag, path, bytes),
        None => std::fs::remove_file(bag.join(path)).expect("remove added tag file"),
    }
}
