//! Bags built from the cases RFC 8493 describes, one test per case.

use std::fs;

use expect_test::expect;
use scan2dms_bagit::{Algorithm, BagError, FindingKind, ValidateOptions, digest_bytes, validate_bag};

use crate::{TestBag, check};

#[test]
fn valid_bag_1_0_reports_version_tags_and_payload() {
    let bag = TestBag::valid();
    let report = bag.validate();
    assert!(report.is_valid(), "{:?}", report.findings);
    assert_eq!(report.version, Some((1, 0)));
    assert_eq!(report.bag_info_value("Source-Organization"), Some("Scan-Service Nord GmbH"));
    // Reserved labels are case-insensitive (RFC 8493 §2.2.2).
    assert_eq!(report.bag_info_value("source-ORGANIZATION"), Some("Scan-Service Nord GmbH"));
    assert_eq!(report.payload_oxum(), (9, 2));
    expect![[r#"
        [
            PayloadFile {
                path: "data/a.txt",
                bytes: 6,
                digests: [
                    (
                        Sha256,
                        "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03",
                    ),
                ],
            },
            PayloadFile {
                path: "data/images/b.bin",
                bytes: 3,
                digests: [
                    (
                        Sha256,
                        "ae4b3280e56e2faf83f414a6e3dabe9d5fbe18976544c05fed121accb85b53fc",
                    ),
                ],
            },
        ]
    "#]]
    .assert_debug_eq(&report.payload_files);
}

#[test]
fn same_result_on_a_private_pool_of_one_thread() {
    let bag = TestBag::valid();
    bag.write("data/a.txt", "changed\n");
    let on_global_pool = bag.validate();
    let on_one_thread = validate_bag(&bag.root, &ValidateOptions { threads: Some(1) }).expect("validate");
    assert_eq!(on_global_pool, on_one_thread);
    assert!(!on_one_thread.is_valid());
}

#[test]
fn bagit_0_97_with_md5_binary_marker_and_padded_colons() {
    let bag = TestBag::empty();
    bag.write("bagit.txt", "BagIt-Version: 0.97\nTag-File-Character-Encoding: UTF-8\n");
    bag.write("data/a.txt", "hello\n");
    bag.write("bag-info.txt", "Contact-Name :  Jane Doe\nPayload-Oxum:6.1\n");
    bag.write("manifest-md5.txt", format!("{} *data/a.txt\n", digest_bytes(Algorithm::Md5, b"hello\n")));
    check(
        &bag,
        expect![[r#"
        valid
    "#]],
    );
    assert_eq!(bag.validate().bag_info_value("Contact-Name"), Some("Jane Doe"));

    // The same bag-info.txt is garbled in a 1.0 bag.
    bag.write("bagit.txt", "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n");
    check(
        &bag,
        expect![[r#"
        bad_bag_info bag-info.txt: line 1: label "Contact-Name" has whitespace before the ':'
        bad_bag_info bag-info.txt: line 2: no space after the ':' of "Payload-Oxum"
        bad_manifest manifest-md5.txt: line 1: "*data/a.txt" is not a payload file (not under data/)
        unlisted_file data/a.txt: not listed in manifest-md5.txt
    "#]],
    );
}

#[test]
fn every_payload_manifest_must_list_every_payload_file_in_1_0() {
    let bag = TestBag::valid();
    bag.write_manifest("manifest-sha512.txt", Algorithm::Sha512, &["data/a.txt", "data/images/b.bin"]);
    bag.write_manifest("manifest-md5.txt", Algorithm::Md5, &["data/a.txt", "data/images/b.bin"]);
    bag.update_tag_manifest();
    check(
        &bag,
        expect![[r#"
            valid
        "#]],
    );
    let report = bag.validate();
    let algorithms: Vec<Algorithm> = report.payload_files[0].digests.iter().map(|(algorithm, _)| *algorithm).collect();
    assert_eq!(algorithms, [Algorithm::Md5, Algorithm::Sha256, Algorithm::Sha512]);

    bag.write_manifest("manifest-sha512.txt", Algorithm::Sha512, &["data/a.txt"]);
    bag.update_tag_manifest();
    check(
        &bag,
        expect![[r#"
            unlisted_file data/images/b.bin: not listed in manifest-sha512.txt
        "#]],
    );

    // Before 1.0, one manifest listing a file was enough.
    bag.write("bagit.txt", "BagIt-Version: 0.97\nTag-File-Character-Encoding: UTF-8\n");
    bag.update_tag_manifest();
    check(
        &bag,
        expect![[r#"
            valid
        "#]],
    );
}

#[test]
fn wrong_digest_in_one_of_several_manifests() {
    let bag = TestBag::valid();
    bag.write(
        "manifest-sha1.txt",
        format!(
            "{}  data/a.txt\n{}  data/images/b.bin\n",
            "0".repeat(40),
            digest_bytes(Algorithm::Sha1, b"\x00\x01\x02")
        ),
    );
    bag.update_tag_manifest();
    check(
        &bag,
        expect![[r#"
            checksum_mismatch data/a.txt: manifest-sha1.txt line 1: expected 0000000000000000000000000000000000000000, computed f572d396fae9206628714fb2ce00f72e94f2258f
        "#]],
    );
}

#[test]
fn missing_bagit_txt() {
    let bag = TestBag::valid();
    bag.remove("bagit.txt");
    check(
        &bag,
        expect![[r#"
            bad_bagit_txt bagit.txt: missing
            missing_file bagit.txt: listed in tagmanifest-sha256.txt line 2, not in the bag
        "#]],
    );
}

#[test]
fn bom_in_bagit_txt_is_refused_in_1_0_only() {
    let bag = TestBag::valid();
    bag.write("bagit.txt", "\u{feff}BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n");
    bag.update_tag_manifest();
    check(
        &bag,
        expect![[r#"
            bad_bagit_txt bagit.txt: starts with a byte-order mark, not allowed in bagit 1.0
        "#]],
    );
    bag.write("bagit.txt", "\u{feff}BagIt-Version: 0.97\nTag-File-Character-Encoding: UTF-8\n");
    bag.update_tag_manifest();
    check(
        &bag,
        expect![[r#"
            valid
        "#]],
    );
}

#[test]
fn garbled_bagit_txt_and_bag_info() {
    let bag = TestBag::valid();
    bag.write("bagit.txt", "BagIt-Version: 1.0\n");
    bag.write("bag-info.txt", "  orphan continuation\nNo colon\nPayload-Oxum: 9.2\n");
    bag.update_tag_manifest();
    check(
        &bag,
        expect![[r#"
            bad_bagit_txt bagit.txt: has 1 lines, expected exactly 2
            bad_bagit_txt bagit.txt: line 2 is not 'Tag-File-Character-Encoding: ENCODING'
            bad_bag_info bag-info.txt: line 1: continuation line without a tag before it
            bad_bag_info bag-info.txt: line 2: no ':' after the label
        "#]],
    );
}

#[test]
fn bag_info_not_valid_in_declared_encoding() {
    let bag = TestBag::valid();
    bag.write("bag-info.txt", b"Source-Organization: M\xFCller\nPayload-Oxum: 9.2\n");
    bag.update_tag_manifest();
    check(
        &bag,
        expect![[r#"
            bad_bag_info bag-info.txt: not valid utf-8
        "#]],
    );
    bag.write("bagit.txt", "BagIt-Version: 1.0\nTag-File-Character-Encoding: ISO-8859-1\n");
    bag.update_tag_manifest();
    check(
        &bag,
        expect![[r#"
            valid
        "#]],
    );
    assert_eq!(bag.validate().bag_info_value("Source-Organization"), Some("Müller"));
}

#[test]
fn tag_manifest_mismatch_and_missing_tag_file() {
    let bag = TestBag::valid();
    bag.write("bag-info.txt", "Source-Organization: Someone Else\nPayload-Oxum: 9.2\n");
    bag.write("extra/notes.txt", "notes\n");
    bag.write_manifest("tagmanifest-md5.txt", Algorithm::Md5, &["extra/notes.txt", "bagit.txt", "manifest-sha256.txt"]);
    bag.remove("extra/notes.txt");
    check(
        &bag,
        expect![[r#"
            checksum_mismatch bag-info.txt: tagmanifest-sha256.txt line 1: expected 2719b4a72a6a0ac2dcf381f8ba505d7d0406e9da367a98285000bc99df2e913a, computed a4c2cae91e2caae5f179f49f0bc42bc69b0033ccea662860810ecb6f82319700
            missing_file extra/notes.txt: listed in tagmanifest-md5.txt line 1, not in the bag
        "#]],
    );
}

#[test]
fn percent_encoded_names_literal_percent_and_newline() {
    let bag = TestBag::empty();
    bag.write("bagit.txt", "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n");
    bag.write("data/100%.txt", "a");
    bag.write("data/x%0A.txt", "b"); // a literal '%0A' in the name, no newline
    bag.write("data/a%20b.txt", "c"); // a '%20' that is not an RFC escape stays literal
    let mut paths = vec!["data/100%.txt", "data/x%0A.txt", "data/a%20b.txt"];
    // Most Linux file systems allow a newline and a CR in a name; skip the
    // case where this one does not.
    let newline_name = "data/line\nbreak\r.txt";
    let newline_allowed = fs::write(bag.path(newline_name), "d").is_ok();
    if newline_allowed {
        paths.push(newline_name);
    } else {
        eprintln!("file system refuses newlines in names, that case is skipped");
    }
    bag.write_manifest("manifest-sha256.txt", Algorithm::Sha256, &paths);
    let manifest = fs::read_to_string(bag.path("manifest-sha256.txt")).expect("read manifest");
    assert!(manifest.contains("data/100%25.txt\n"), "{manifest}");
    assert!(manifest.contains("data/x%250A.txt\n"), "{manifest}");
    assert!(manifest.contains("data/a%2520b.txt\n"), "{manifest}");
    assert!(!newline_allowed || manifest.contains("data/line%0Abreak%0D.txt\n"), "{manifest}");
    check(
        &bag,
        expect![[r#"
        valid
    "#]],
    );

    // An unencoded '%20' (the way many tools write it) still names the file.
    bag.write("manifest-sha256.txt", manifest.replace("data/a%2520b.txt", "data/a%20b.txt"));
    check(
        &bag,
        expect![[r#"
        valid
    "#]],
    );
    // Lowercase hex in an escape is accepted too.
    bag.write("manifest-sha256.txt", manifest.replace("%0A", "%0a").replace("%0D", "%0d"));
    check(
        &bag,
        expect![[r#"
        valid
    "#]],
    );
}

#[test]
fn crlf_and_cr_line_ends_everywhere() {
    let bag = TestBag::valid();
    let sha256_a = digest_bytes(Algorithm::Sha256, b"hello\n");
    let sha256_b = digest_bytes(Algorithm::Sha256, b"\x00\x01\x02");
    bag.write("bagit.txt", "BagIt-Version: 1.0\r\nTag-File-Character-Encoding: UTF-8\r\n");
    bag.write("bag-info.txt", "Source-Organization: Scan-Service\r\n Nord GmbH\rPayload-Oxum: 9.2\r\n");
    bag.write("manifest-sha256.txt", format!("{sha256_a}  data/a.txt\r\n{sha256_b}  data/images/b.bin\r"));
    bag.update_tag_manifest();
    check(
        &bag,
        expect![[r#"
        valid
    "#]],
    );
    assert_eq!(bag.validate().bag_info_value("Source-Organization"), Some("Scan-Service\nNord GmbH"));
}

#[test]
fn tabs_and_several_spaces_between_digest_and_path() {
    let bag = TestBag::valid();
    let sha256_a = digest_bytes(Algorithm::Sha256, b"hello\n");
    let sha256_b = digest_bytes(Algorithm::Sha256, b"\x00\x01\x02");
    bag.write(
        "manifest-sha256.txt",
        format!("{sha256_a}\t data/a.txt\n{}     data/images/b.bin\n", sha256_b.to_uppercase()),
    );
    bag.remove("tagmanifest-sha256.txt");
    check(
        &bag,
        expect![[r#"
        valid
    "#]],
    );
}

#[test]
fn payload_oxum_wrong_and_malformed() {
    let bag = TestBag::valid();
    bag.remove("tagmanifest-sha256.txt");
    bag.write("bag-info.txt", "Payload-Oxum: 9.3\n");
    check(
        &bag,
        expect![[r#"
        oxum_mismatch bag-info.txt: payload-oxum 9.3 declared, data/ holds 9.2
    "#]],
    );
    bag.write("bag-info.txt", "Payload-Oxum: 9\nPayload-Oxum: 10.2\n");
    check(
        &bag,
        expect![[r#"
            bad_bag_info bag-info.txt: payload-oxum "9" is not <octets>.<count>
            bad_bag_info bag-info.txt: payload-oxum given 2 times, allowed once
            oxum_mismatch bag-info.txt: payload-oxum 10.2 declared, data/ holds 9.2
        "#]],
    );
    // Without a Payload-Oxum there is nothing to check.
    bag.write("bag-info.txt", "Source-Organization: x\n");
    check(
        &bag,
        expect![[r#"
        valid
    "#]],
    );
}

#[test]
fn unlisted_missing_and_changed_payload_files() {
    let bag = TestBag::valid();
    bag.remove("tagmanifest-sha256.txt");
    bag.write("data/new.txt", "");
    bag.remove("data/a.txt");
    bag.write("data/images/b.bin", "\x00\x01\x03");
    check(
        &bag,
        expect![[r#"
        checksum_mismatch data/images/b.bin: manifest-sha256.txt line 2: expected ae4b3280e56e2faf83f414a6e3dabe9d5fbe18976544c05fed121accb85b53fc, computed b744d600fbe3853702978ec726c166d26274fe7b09b2c600ddf2d7d895667b24
        missing_file data/a.txt: listed in manifest-sha256.txt line 1, not in the bag
        unlisted_file data/new.txt: not listed in manifest-sha256.txt
        oxum_mismatch bag-info.txt: payload-oxum 9.2 declared, data/ holds 3.2
    "#]],
    );
}

#[cfg(unix)]
#[test]
fn symlinks_are_refused_never_followed() {
    let bag = TestBag::valid();
    bag.remove("tagmanifest-sha256.txt");
    let outside = bag.root.parent().expect("temp dir").join("secret.txt");
    fs::write(&outside, "secret").expect("write outside file");
    std::os::unix::fs::symlink(&outside, bag.path("data/link.txt")).expect("symlink");
    std::os::unix::fs::symlink(bag.root.parent().expect("temp dir"), bag.path("data/linkdir")).expect("symlink");
    let sha256_secret = digest_bytes(Algorithm::Sha256, b"secret");
    let manifest = fs::read_to_string(bag.path("manifest-sha256.txt")).expect("read manifest");
    bag.write(
        "manifest-sha256.txt",
        format!("{manifest}{sha256_secret}  data/link.txt\n{sha256_secret}  data/linkdir/secret.txt\n"),
    );
    check(
        &bag,
        expect![[r#"
        path_escape data/link.txt: symbolic link, not followed
        path_escape data/linkdir: symbolic link, not followed
    "#]],
    );
    let report = bag.validate();
    assert_eq!(report.payload_files.len(), 2, "links are not payload files");
}

#[test]
fn dot_dot_and_absolute_paths_in_manifests() {
    let bag = TestBag::valid();
    let zeros = "0".repeat(64);
    let manifest = fs::read_to_string(bag.path("manifest-sha256.txt")).expect("read manifest");
    bag.write(
        "manifest-sha256.txt",
        format!("{manifest}{zeros}  data/../../etc/passwd\n{zeros}  /etc/passwd\n{zeros}  data/./a.txt\n"),
    );
    bag.update_tag_manifest();
    bag.append("tagmanifest-sha256.txt", &format!("{zeros}  ../bag/bagit.txt\n"));
    check(
        &bag,
        expect![[r#"
            bad_manifest manifest-sha256.txt: line 5: path "data/./a.txt" has an empty or '.' component
            path_escape manifest-sha256.txt: line 3: path "data/../../etc/passwd" leaves the bag through '..'
            path_escape manifest-sha256.txt: line 4: absolute path "/etc/passwd"
            path_escape tagmanifest-sha256.txt: line 4: path "../bag/bagit.txt" leaves the bag through '..'
        "#]],
    );
}

#[test]
fn fetch_txt_lists_a_file_not_yet_fetched() {
    let bag = TestBag::valid();
    bag.remove("tagmanifest-sha256.txt");
    let sha256_remote = digest_bytes(Algorithm::Sha256, b"remote");
    let manifest = fs::read_to_string(bag.path("manifest-sha256.txt")).expect("read manifest");
    bag.write("manifest-sha256.txt", format!("{manifest}{sha256_remote}  data/remote.bin\n"));
    bag.write("bag-info.txt", "Payload-Oxum: 15.3\n");
    bag.write(
        "fetch.txt",
        "https://example.org/remote.bin 6 data/remote.bin\nhttps://example.org/x - data/other.bin\nnot-a-url - data/y\n",
    );
    check(
        &bag,
        expect![[r#"
        bad_fetch fetch.txt: line 2: "data/other.bin" is not listed in a payload manifest
        bad_fetch fetch.txt: line 3: malformed url "not-a-url"
        missing_file data/other.bin: listed in fetch.txt line 2, not fetched yet
        missing_file data/remote.bin: listed in manifest-sha256.txt line 3, not in the bag (listed in fetch.txt, not fetched yet)
        oxum_mismatch bag-info.txt: payload-oxum 15.3 declared, data/ holds 9.2
    "#]],
    );

    // Once fetched, the bag is complete and valid.
    bag.write("data/remote.bin", "remote");
    bag.write("fetch.txt", "https://example.org/remote.bin 6 data/remote.bin\n");
    check(
        &bag,
        expect![[r#"
        valid
    "#]],
    );
}

#[test]
fn no_data_dir_no_payload_manifest_unknown_algorithm() {
    let bag = TestBag::empty();
    bag.write("bagit.txt", "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n");
    bag.write("manifest-blake3.txt", "whatever\n");
    bag.write("manifest-sha256.txt.bak", "not a manifest, just a tag file\n");
    check(
        &bag,
        expect![[r#"
        bad_manifest: no payload manifest (manifest-<algorithm>.txt)
        bad_manifest manifest-blake3.txt: unsupported algorithm "blake3", not checked
        bad_layout data: no data/ directory
    "#]],
    );
}

#[test]
fn payload_manifest_listing_a_tag_file_and_garbled_lines() {
    let bag = TestBag::valid();
    bag.remove("tagmanifest-sha256.txt");
    let manifest = fs::read_to_string(bag.path("manifest-sha256.txt")).expect("read manifest");
    let sha256_bagit = digest_bytes(Algorithm::Sha256, b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n");
    bag.write(
        "manifest-sha256.txt",
        format!("{manifest}{sha256_bagit}  bagit.txt\nno-separator\nabcd  data/short-digest\n{manifest}"),
    );
    check(
        &bag,
        expect![[r#"
        bad_manifest manifest-sha256.txt: line 3: "bagit.txt" is not a payload file (not under data/)
        bad_manifest manifest-sha256.txt: line 4: expected '<digest> <path>'
        bad_manifest manifest-sha256.txt: line 5: "abcd" is not a sha256 digest
        bad_manifest manifest-sha256.txt: line 6: "data/a.txt" listed again (first on line 1)
        bad_manifest manifest-sha256.txt: line 7: "data/images/b.bin" listed again (first on line 2)
    "#]],
    );
}

#[test]
fn empty_bag_with_empty_manifest_is_valid() {
    let bag = TestBag::empty();
    bag.write("bagit.txt", "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n");
    fs::create_dir(bag.path("data")).expect("create data");
    bag.write("manifest-sha512.txt", "");
    bag.write("bag-info.txt", "Payload-Oxum: 0.0\n");
    check(
        &bag,
        expect![[r#"
        valid
    "#]],
    );
}

#[test]
fn not_a_directory_is_an_error_not_a_finding() {
    let bag = TestBag::valid();
    let error = validate_bag(&bag.path("bagit.txt"), &ValidateOptions::default()).expect_err("a file is no bag");
    assert!(matches!(error, BagError::NotADirectory { .. }), "{error}");
    assert!(error.to_string().starts_with("bag directory "), "{error}");
    let error = validate_bag(&bag.path("nothing-here"), &ValidateOptions::default()).expect_err("absent");
    assert!(matches!(error, BagError::Unreadable { .. }), "{error}");
}

#[test]
fn findings_serialise_with_stable_codes() {
    let bag = TestBag::valid();
    bag.remove("data/a.txt");
    let report = bag.validate();
    let kinds: Vec<FindingKind> = report.findings.iter().map(|finding| finding.kind).collect();
    assert_eq!(kinds, [FindingKind::MissingFile, FindingKind::OxumMismatch]);
    assert_eq!(FindingKind::MissingFile.code(), "missing_file");
    let json = serde_json::to_string(&report.findings[0]).expect("serialise finding");
    expect![[
        r#"{"kind":"missing_file","path":"data/a.txt","detail":"listed in manifest-sha256.txt line 1, not in the bag"}"#
    ]]
    .assert_eq(&json);
}

#[test]
fn tag_manifest_rules_payload_files_tag_manifests_and_payload_manifests() {
    let bag = TestBag::valid();
    bag.write_manifest("manifest-sha512.txt", Algorithm::Sha512, &["data/a.txt", "data/images/b.bin"]);
    bag.write_manifest("tagmanifest-md5.txt", Algorithm::Md5, &["bagit.txt"]);
    bag.write_manifest(
        "tagmanifest-sha256.txt",
        Algorithm::Sha256,
        &["bagit.txt", "manifest-sha256.txt", "manifest-sha512.txt", "data/a.txt", "tagmanifest-md5.txt"],
    );
    check(
        &bag,
        expect![[r#"
        bad_manifest tagmanifest-md5.txt: does not list payload manifest manifest-sha256.txt
        bad_manifest tagmanifest-md5.txt: does not list payload manifest manifest-sha512.txt
        bad_manifest tagmanifest-sha256.txt: line 4: "data/a.txt" is a payload file, not allowed in a tag manifest
        bad_manifest tagmanifest-sha256.txt: line 5: "tagmanifest-md5.txt" is a tag manifest, not allowed in a tag manifest
    "#]],
    );
}

#[test]
fn byte_order_mark_in_other_utf8_tag_files_of_1_0() {
    let bag = TestBag::valid();
    bag.remove("tagmanifest-sha256.txt");
    let manifest = fs::read_to_string(bag.path("manifest-sha256.txt")).expect("read manifest");
    bag.write("manifest-sha256.txt", format!("\u{feff}{manifest}"));
    bag.write("bag-info.txt", "\u{feff}Payload-Oxum: 9.2\n");
    check(
        &bag,
        expect![[r#"
        bad_bag_info bag-info.txt: starts with a byte-order mark, not allowed in utf-8 tag files of bagit 1.0
        bad_manifest manifest-sha256.txt: starts with a byte-order mark, not allowed in utf-8 tag files of bagit 1.0
    "#]],
    );
}

#[test]
fn payload_oxum_must_not_be_repeated_and_label_case_is_ignored() {
    let bag = TestBag::valid();
    bag.remove("tagmanifest-sha256.txt");
    bag.write("bag-info.txt", "payload-oxum: 9.2\nPAYLOAD-OXUM: 9.2\n");
    check(
        &bag,
        expect![[r#"
        bad_bag_info bag-info.txt: payload-oxum given 2 times, allowed once
    "#]],
    );
    bag.write("bag-info.txt", "payload-oxum: 1.1\n");
    check(
        &bag,
        expect![[r#"
        oxum_mismatch bag-info.txt: payload-oxum 1.1 declared, data/ holds 9.2
    "#]],
    );
}
