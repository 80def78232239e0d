//! Tests of `scan2dms_delivery::archive`: archives built here with the `zip`
//! and `tar` crates (good bags and hostile ones), and the corpus archives in
//! `../shared` when present (skipped with a note otherwise).

use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};

use scan2dms_delivery::archive::{ArchiveError, ArchiveKind, ArchiveLimits, extract, sniff};

/// Deterministic bytes that do not compress (an xorshift stream).
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

fn good_bag() -> Vec<(String, Vec<u8>)> {
    vec![
        ("SSN-TEST-001/bagit.txt".into(), b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n".to_vec()),
        ("SSN-TEST-001/bag-info.txt".into(), b"External-Identifier: SSN-TEST-001\n".to_vec()),
        ("SSN-TEST-001/data/records.csv".into(), b"record_id;title;box_id;pages\n".repeat(200)),
        ("SSN-TEST-001/data/images/PN-000001/0001.tif".into(), noise(300_000, 1)),
        ("SSN-TEST-001/data/images/PN-000001/0002.tif".into(), noise(2_500_000, 2)),
        ("SSN-TEST-001/data/empty.txt".into(), Vec::new()),
    ]
}

fn build_zip(path: &Path, files: &[(String, Vec<u8>)], directories: &[&str]) {
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path).expect("create zip"));
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for directory in directories {
        zip.add_directory(*directory, options).expect("zip dir");
    }
    for (name, data) in files {
        zip.start_file(name.as_str(), options).expect("zip start");
        zip.write_all(data).expect("zip write");
    }
    zip.finish().expect("zip finish");
}

/// Appends a tar entry with a raw name, bypassing the tar crate's own path
/// sanitising so hostile names can be built.
fn append_raw(
    builder: &mut tar::Builder<std::fs::File>,
    name: &[u8],
    entry_type: tar::EntryType,
    data: &[u8],
    link: &[u8],
) {
    let mut header = tar::Header::new_ustar();
    header.as_old_mut().name[..name.len()].copy_from_slice(name);
    header.as_old_mut().linkname[..link.len()].copy_from_slice(link);
    header.set_entry_type(entry_type);
    header.set_size(data.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    builder.append(&header, Cursor::new(data)).expect("tar append");
}

fn build_tar(path: &Path, files: &[(String, Vec<u8>)], directories: &[&str]) {
    let mut builder = tar::Builder::new(std::fs::File::create(path).expect("create tar"));
    for directory in directories {
        append_raw(&mut builder, directory.as_bytes(), tar::EntryType::Directory, b"", b"");
    }
    for (name, data) in files {
        append_raw(&mut builder, name.as_bytes(), tar::EntryType::Regular, data, b"");
    }
    builder.finish().expect("tar finish");
}

/// Every regular file below `root`, relative, with its content.
fn tree(root: &Path) -> Vec<(String, Vec<u8>)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
        for entry in std::fs::read_dir(dir).expect("read dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let relative = path.strip_prefix(root).expect("prefix").to_string_lossy().into_owned();
                out.push((relative, std::fs::read(&path).expect("read")));
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out.sort();
    out
}

fn assert_refused_without_trace(result: &Result<scan2dms_delivery::archive::Extracted, ArchiveError>, dest: &Path) {
    assert!(result.is_err(), "expected a refusal, got {result:?}");
    assert!(
        !dest.exists() || std::fs::read_dir(dest).expect("read dest").next().is_none(),
        "{} not cleaned",
        dest.display()
    );
}

#[test]
fn good_bag_extracts_identically_from_zip_and_tar() {
    let scratch = tempfile::tempdir().expect("temp dir");
    let files = good_bag();
    let directories = ["SSN-TEST-001/", "SSN-TEST-001/data/"];
    let zip_path = scratch.path().join("upload.zip");
    let tar_path = scratch.path().join("upload.tar");
    build_zip(&zip_path, &files, &directories);
    build_tar(&tar_path, &files, &directories);
    assert_eq!(sniff(&zip_path), Some(ArchiveKind::Zip));
    assert_eq!(sniff(&tar_path), Some(ArchiveKind::Tar));

    let mut expected: Vec<(String, Vec<u8>)> =
        files.iter().map(|(name, data)| (name.trim_start_matches("SSN-TEST-001/").to_owned(), data.clone())).collect();
    expected.sort();
    let total: u64 = files.iter().map(|(_, data)| data.len() as u64).sum();
    for archive in [&zip_path, &tar_path] {
        let dest = scratch.path().join(format!("out-{}", archive.extension().and_then(|e| e.to_str()).unwrap_or("")));
        let extracted = extract(archive, &dest, &ArchiveLimits::default()).expect("extract");
        assert_eq!(extracted.bag_root, dest.join("SSN-TEST-001"));
        assert_eq!(extracted.bytes, total);
        assert_eq!(extracted.entries, (files.len() + directories.len()) as u64);
        assert_eq!(tree(&extracted.bag_root), expected, "{}", archive.display());
    }
}

#[test]
fn parent_directory_entry_is_path_escape() {
    let scratch = tempfile::tempdir().expect("temp dir");
    let mut files = good_bag();
    files.insert(1, ("SSN-TEST-001/data/../../escaped.txt".into(), b"gotcha".to_vec()));
    for kind in ["zip", "tar"] {
        let archive = scratch.path().join(format!("escape.{kind}"));
        if kind == "zip" {
            build_zip(&archive, &files, &[])
        } else {
            build_tar(&archive, &files, &[])
        }
        let dest = scratch.path().join(format!("out-{kind}"));
        let result = extract(&archive, &dest, &ArchiveLimits::default());
        assert!(
            matches!(&result, Err(ArchiveError::PathEscape { entry, .. }) if entry.contains("escaped.txt")),
            "{kind}: {result:?}"
        );
        assert_refused_without_trace(&result, &dest);
        assert!(!scratch.path().join("escaped.txt").exists());
    }
}

#[test]
fn absolute_backslash_and_drive_letter_entries_are_path_escape() {
    let scratch = tempfile::tempdir().expect("temp dir");
    for (index, name) in
        ["/etc/cron.d/evil", "SSN-TEST-001\\..\\..\\evil", "C:/evil", "SSN-TEST-001/C:evil"].iter().enumerate()
    {
        let files = vec![("SSN-TEST-001/bagit.txt".to_owned(), b"x".to_vec()), ((*name).to_owned(), b"evil".to_vec())];
        for kind in ["zip", "tar"] {
            let archive = scratch.path().join(format!("{index}.{kind}"));
            if kind == "zip" {
                build_zip(&archive, &files, &[])
            } else {
                build_tar(&archive, &files, &[])
            }
            let dest = scratch.path().join(format!("out-{index}-{kind}"));
            let result = extract(&archive, &dest, &ArchiveLimits::default());
            assert!(matches!(result, Err(ArchiveError::PathEscape { .. })), "{kind} {name}: {result:?}");
            assert_refused_without_trace(&result, &dest);
        }
    }
}

#[test]
fn zip_symlink_entry_is_refused() {
    let scratch = tempfile::tempdir().expect("temp dir");
    let archive = scratch.path().join("symlink.zip");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&archive).expect("create"));
    let options = zip::write::SimpleFileOptions::default();
    zip.start_file("SSN-TEST-001/bagit.txt", options).expect("start");
    zip.write_all(b"BagIt-Version: 1.0\n").expect("write");
    zip.add_symlink("SSN-TEST-001/data/passwd", "/etc/passwd", options).expect("symlink");
    zip.finish().expect("finish");
    let dest = scratch.path().join("out");
    let result = extract(&archive, &dest, &ArchiveLimits::default());
    assert!(matches!(&result, Err(ArchiveError::Link { entry }) if entry == "SSN-TEST-001/data/passwd"), "{result:?}");
    assert_refused_without_trace(&result, &dest);
}

#[test]
fn tar_symlink_hardlink_and_device_entries_are_refused() {
    let scratch = tempfile::tempdir().expect("temp dir");
    for (index, entry_type) in
        [tar::EntryType::Symlink, tar::EntryType::Link, tar::EntryType::Char, tar::EntryType::Fifo]
            .into_iter()
            .enumerate()
    {
        let archive = scratch.path().join(format!("{index}.tar"));
        let mut builder = tar::Builder::new(std::fs::File::create(&archive).expect("create"));
        append_raw(&mut builder, b"SSN-TEST-001/bagit.txt", tar::EntryType::Regular, b"BagIt-Version: 1.0\n", b"");
        append_raw(&mut builder, b"SSN-TEST-001/data/link", entry_type, b"", b"/etc/passwd");
        builder.finish().expect("finish");
        let dest = scratch.path().join(format!("out-{index}"));
        let result = extract(&archive, &dest, &ArchiveLimits::default());
        assert!(
            matches!(&result, Err(ArchiveError::Link { entry }) if entry == "SSN-TEST-001/data/link"),
            "{entry_type:?}: {result:?}"
        );
        assert_refused_without_trace(&result, &dest);
    }
}

#[test]
fn too_many_entries_is_too_large() {
    let scratch = tempfile::tempdir().expect("temp dir");
    let files: Vec<(String, Vec<u8>)> =
        (0..20).map(|i| (format!("SSN-TEST-001/data/{i}.txt"), vec![b'x'; 10])).collect();
    let limits = ArchiveLimits { max_entries: 10, ..ArchiveLimits::default() };
    for kind in ["zip", "tar"] {
        let archive = scratch.path().join(format!("many.{kind}"));
        if kind == "zip" {
            build_zip(&archive, &files, &[])
        } else {
            build_tar(&archive, &files, &[])
        }
        let dest = scratch.path().join(format!("out-{kind}"));
        let result = extract(&archive, &dest, &limits);
        assert!(matches!(result, Err(ArchiveError::TooLarge { .. })), "{kind}: {result:?}");
        assert_refused_without_trace(&result, &dest);
    }
}

#[test]
fn declared_total_above_limit_is_too_large() {
    let scratch = tempfile::tempdir().expect("temp dir");
    let files = good_bag();
    let limits = ArchiveLimits { max_total_bytes: 1_000_000, ..ArchiveLimits::default() };
    for kind in ["zip", "tar"] {
        let archive = scratch.path().join(format!("big.{kind}"));
        if kind == "zip" {
            build_zip(&archive, &files, &[])
        } else {
            build_tar(&archive, &files, &[])
        }
        let dest = scratch.path().join(format!("out-{kind}"));
        let result = extract(&archive, &dest, &limits);
        assert!(
            matches!(&result, Err(ArchiveError::TooLarge { detail }) if detail.contains("1000000")),
            "{kind}: {result:?}"
        );
        assert_refused_without_trace(&result, &dest);
    }
}

#[test]
fn highly_compressed_entry_is_refused_before_writing() {
    let scratch = tempfile::tempdir().expect("temp dir");
    let archive = scratch.path().join("bomb.zip");
    let files = vec![
        ("SSN-TEST-001/bagit.txt".to_owned(), b"BagIt-Version: 1.0\n".to_vec()),
        ("SSN-TEST-001/data/zeros.bin".to_owned(), vec![0u8; 8 * 1024 * 1024]),
    ];
    build_zip(&archive, &files, &[]);
    let dest = scratch.path().join("out");
    let result = extract(&archive, &dest, &ArchiveLimits::default());
    assert!(
        matches!(&result, Err(ArchiveError::TooLarge { detail }) if detail.contains("zeros.bin") && detail.contains("ratio")),
        "{result:?}"
    );
    assert!(!dest.exists(), "nothing may be written for a refused bomb");
    // The same entry passes when the ratio limit allows it.
    let lenient = ArchiveLimits { max_compression_ratio: 100_000, ..ArchiveLimits::default() };
    let extracted = extract(&archive, &dest, &lenient).expect("lenient extract");
    assert_eq!(extracted.bytes, 8 * 1024 * 1024 + 19);
}

#[test]
fn more_than_one_top_level_entry_is_no_single_root() {
    let scratch = tempfile::tempdir().expect("temp dir");
    let two_roots = vec![("A/bagit.txt".to_owned(), b"x".to_vec()), ("B/bagit.txt".to_owned(), b"x".to_vec())];
    let top_file = vec![("bagit.txt".to_owned(), b"x".to_vec()), ("A/data/x".to_owned(), b"x".to_vec())];
    for (index, files) in [two_roots, top_file].iter().enumerate() {
        for kind in ["zip", "tar"] {
            let archive = scratch.path().join(format!("{index}.{kind}"));
            if kind == "zip" {
                build_zip(&archive, files, &[])
            } else {
                build_tar(&archive, files, &[])
            }
            let dest = scratch.path().join(format!("out-{index}-{kind}"));
            let result = extract(&archive, &dest, &ArchiveLimits::default());
            assert!(matches!(result, Err(ArchiveError::NoSingleRoot { .. })), "{kind} {index}: {result:?}");
            assert_refused_without_trace(&result, &dest);
        }
    }
}

#[test]
fn failure_during_extraction_removes_partial_output() {
    // "x" as a file, then "x/y" below it: inspection passes, writing fails
    // after the first files are on disk.
    let scratch = tempfile::tempdir().expect("temp dir");
    let files = vec![
        ("SSN-TEST-001/bagit.txt".to_owned(), b"x".to_vec()),
        ("SSN-TEST-001/data/x".to_owned(), b"file".to_vec()),
        ("SSN-TEST-001/data/x/y".to_owned(), b"below a file".to_vec()),
    ];
    for kind in ["zip", "tar"] {
        let archive = scratch.path().join(format!("clash.{kind}"));
        if kind == "zip" {
            build_zip(&archive, &files, &[])
        } else {
            build_tar(&archive, &files, &[])
        }
        // An existing, empty destination stays, emptied.
        let dest = scratch.path().join(format!("out-{kind}"));
        std::fs::create_dir(&dest).expect("mkdir");
        let result = extract(&archive, &dest, &ArchiveLimits::default());
        assert!(matches!(result, Err(ArchiveError::Io { .. })), "{kind}: {result:?}");
        assert!(dest.is_dir());
        assert_refused_without_trace(&result, &dest);
    }
}

#[test]
fn non_empty_destination_is_left_alone() {
    let scratch = tempfile::tempdir().expect("temp dir");
    let archive = scratch.path().join("bag.zip");
    build_zip(&archive, &good_bag(), &[]);
    let dest = scratch.path().join("out");
    std::fs::create_dir(&dest).expect("mkdir");
    std::fs::write(dest.join("keep.txt"), "mine").expect("write");
    let result = extract(&archive, &dest, &ArchiveLimits::default());
    assert!(matches!(result, Err(ArchiveError::Io { .. })), "{result:?}");
    assert_eq!(std::fs::read_to_string(dest.join("keep.txt")).expect("read"), "mine");
}

#[test]
fn duplicate_file_entry_is_malformed() {
    let scratch = tempfile::tempdir().expect("temp dir");
    let files = vec![
        ("SSN-TEST-001/bagit.txt".to_owned(), b"one".to_vec()),
        ("SSN-TEST-001/./bagit.txt".to_owned(), b"two".to_vec()),
    ];
    let archive = scratch.path().join("dup.tar");
    build_tar(&archive, &files, &[]);
    let dest = scratch.path().join("out");
    let result = extract(&archive, &dest, &ArchiveLimits::default());
    assert!(matches!(result, Err(ArchiveError::Malformed(_))), "{result:?}");
    assert_refused_without_trace(&result, &dest);
}

#[test]
fn sniff_uses_magic_bytes_then_extension() {
    let scratch = tempfile::tempdir().expect("temp dir");
    let zip_named_tar = scratch.path().join("upload.tar");
    build_zip(&zip_named_tar, &good_bag()[..1], &[]);
    assert_eq!(sniff(&zip_named_tar), Some(ArchiveKind::Zip));
    let text = scratch.path().join("notes.txt");
    std::fs::write(&text, "hello").expect("write");
    assert_eq!(sniff(&text), None);
    assert_eq!(sniff(&scratch.path().join("missing.zip")), Some(ArchiveKind::Zip));
    let result = extract(&text, &scratch.path().join("out"), &ArchiveLimits::default());
    assert!(matches!(result, Err(ArchiveError::Malformed(_))), "{result:?}");
}

#[test]
fn garbage_archives_are_malformed() {
    let scratch = tempfile::tempdir().expect("temp dir");
    let zip_path = scratch.path().join("garbage.zip");
    std::fs::write(&zip_path, [b"PK\x03\x04".as_slice(), &noise(5000, 9)].concat()).expect("write");
    let tar_path = scratch.path().join("garbage.tar");
    std::fs::write(&tar_path, noise(5000, 7)).expect("write");
    for archive in [zip_path, tar_path] {
        let dest = scratch.path().join("out");
        let result = extract(&archive, &dest, &ArchiveLimits::default());
        assert!(
            matches!(result, Err(ArchiveError::Malformed(_) | ArchiveError::NoSingleRoot { .. })),
            "{}: {result:?}",
            archive.display()
        );
        assert_refused_without_trace(&result, &dest);
    }
}

fn corpus_batches() -> Option<PathBuf> {
    let batches = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/deliveries/batches");
    if batches.is_dir() {
        Some(batches)
    } else {
        eprintln!("note: {} not found, corpus archive test skipped", batches.display());
        None
    }
}

#[test]
fn corpus_archives_path_escape_symlink_and_bomb() {
    let Some(batches) = corpus_batches() else {
        return;
    };
    let scratch = tempfile::tempdir().expect("temp dir");
    let limits = ArchiveLimits::default();

    let dest = scratch.path().join("029");
    let result = extract(&batches.join("SSN-0001-029.zip"), &dest, &limits);
    assert!(matches!(&result, Err(ArchiveError::PathEscape { entry, .. }) if entry.contains("escaped")), "{result:?}");
    assert_refused_without_trace(&result, &dest);
    assert!(!scratch.path().join("SSN-0001-029-escaped.txt").exists());

    let dest = scratch.path().join("030");
    let result = extract(&batches.join("SSN-0001-030.zip"), &dest, &limits);
    assert!(matches!(&result, Err(ArchiveError::Link { entry }) if entry.ends_with("passwd")), "{result:?}");
    assert_refused_without_trace(&result, &dest);

    let dest = scratch.path().join("031");
    let result = extract(&batches.join("SSN-0001-031.zip"), &dest, &limits);
    assert!(
        matches!(&result, Err(ArchiveError::TooLarge { detail }) if detail.contains("scanner-dump.bin")),
        "{result:?}"
    );
    assert!(!dest.exists(), "the bomb must be refused before anything is written");
    for result in [
        extract(&batches.join("SSN-0001-029.zip"), &scratch.path().join("x"), &limits),
        extract(&batches.join("SSN-0001-031.zip"), &scratch.path().join("y"), &limits),
    ] {
        let code = result.err().and_then(|error| error.reason_code()).map(|code| code.as_str());
        assert!(matches!(code, Some("path_escape" | "archive_too_large")), "{code:?}");
    }
}
