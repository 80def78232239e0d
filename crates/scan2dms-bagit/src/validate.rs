//! `validate_bag`: the whole RFC 8493 check of one bag directory.
//!
//! Key decisions:
//! - Everything wrong is collected as a finding; the check never stops at the
//!   first problem, and only an unreadable bag directory is an error.
//! - Every file is read exactly once, for all algorithms any manifest wants
//!   of it, and files are hashed largest first by a fixed set of rayon
//!   workers pulling from a shared queue, so the last file to finish is a
//!   small one and both cores stay busy to the end.
//! - Paths from manifests are looked up in the walked tree, never opened, so
//!   a hostile manifest cannot make the validator read outside the bag.
//!
//! This module does not check the meaning of bag-info values (dates, ids),
//! does not fetch anything listed in fetch.txt, and does not apply Unicode
//! normalisation to file names (bagit-python does; a bag made on macOS with
//! NFD names listed as NFC shows up here as missing + unlisted files).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fs;
use std::path::Path;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::manifest::{FetchEntry, ManifestEntry, parse_fetch, parse_manifest};
use crate::tagfile::{decode_tag_file, parse_bag_info, parse_bagit_txt, parse_oxum};
use crate::walk::{BagTree, DiskFile, walk_bag};
use crate::{Algorithm, BagError, BagFinding, BagReport, FindingKind, PayloadFile, ValidateOptions, digest_file};

/// Validates the bag in `bag_dir` against RFC 8493 (versions 0.97 and 1.0):
/// bag declaration, bag-info.txt, payload and tag manifests, fetch.txt,
/// completeness in both directions, `Payload-Oxum`, and every checksum.
///
/// Fails only when `bag_dir` is not a readable directory (or the hashing
/// threads cannot start); everything wrong with the bag is a finding in the
/// report.
pub fn validate_bag(bag_dir: &Path, options: &ValidateOptions) -> Result<BagReport, BagError> {
    let metadata =
        fs::metadata(bag_dir).map_err(|source| BagError::Unreadable { path: bag_dir.to_path_buf(), source })?;
    if !metadata.is_dir() {
        return Err(BagError::NotADirectory { path: bag_dir.to_path_buf() });
    }
    fs::read_dir(bag_dir).map_err(|source| BagError::Unreadable { path: bag_dir.to_path_buf(), source })?;

    let mut tree = walk_bag(bag_dir);
    let mut findings = std::mem::take(&mut tree.findings);

    let declaration = read_bagit_txt(&tree, &mut findings);
    let version = declaration.version.unwrap_or((1, 0));
    let encoding = declaration.encoding;

    if !tree.has_data_dir {
        let detail = if tree.tag.contains_key("data") { "data is not a directory" } else { "no data/ directory" };
        findings.push(BagFinding::new(FindingKind::BadLayout, "data", detail));
    }

    let bag_info = read_bag_info(&tree, encoding, version, &mut findings);
    let manifests = read_manifests(&tree, encoding, version, &mut findings);
    let fetch_entries = read_fetch(&tree, encoding, version, &mut findings);

    let payload_manifests: Vec<&Manifest> = manifests.iter().filter(|manifest| !manifest.is_tag).collect();
    if payload_manifests.is_empty() {
        findings.push(BagFinding::bagless(FindingKind::BadManifest, "no payload manifest (manifest-<algorithm>.txt)"));
    }

    let digests = hash_files(&tree, &manifests, options.threads, &mut findings)?;

    let fetch_paths: HashSet<&str> = fetch_entries.iter().map(|entry| entry.path.as_str()).collect();
    check_manifest_entries(&tree, &manifests, &digests, &fetch_paths, &mut findings);
    check_payload_listed(&tree, &payload_manifests, version, &mut findings);
    check_fetch(&tree, &payload_manifests, &fetch_entries, &mut findings);

    let payload_files: Vec<PayloadFile> = tree
        .payload
        .iter()
        .map(|(path, file)| PayloadFile {
            path: path.clone(),
            bytes: file.bytes,
            digests: match digests.get(path) {
                Some(Ok(digests)) => digests.clone(),
                _ => Vec::new(),
            },
        })
        .collect();

    let mut report = BagReport { version: declaration.version, bag_info, payload_files, findings };
    check_oxum(&mut report);
    report.findings.sort();
    report.findings.dedup();
    Ok(report)
}

/// A parsed manifest or tag manifest.
#[derive(Debug)]
struct Manifest {
    /// File name in the bag root, e.g. `manifest-sha256.txt`.
    name: String,
    algorithm: Algorithm,
    is_tag: bool,
    entries: Vec<ManifestEntry>,
}

/// Digests per bag-relative path, or why the file could not be read.
type DigestsByPath = HashMap<String, Result<Vec<(Algorithm, String)>, String>>;

/// Largest tag file read into memory. A payload manifest lists each file
/// on one line of about 100 bytes, so this holds some 300,000 files; a tag
/// file beyond it (a bag-info line without an end, say) is a finding, not
/// an allocation the size of the file.
const MAX_TAG_FILE_BYTES: u64 = 32 << 20;

/// The file's bytes, or `None` if it holds more than `limit`; never reads
/// past the limit (the file may still be growing). For any file of a
/// delivery that is parsed in memory.
pub fn read_at_most(path: &std::path::Path, limit: u64) -> std::io::Result<Option<Vec<u8>>> {
    use std::io::Read;
    let mut bytes = Vec::new();
    fs::File::open(path)?.take(limit + 1).read_to_end(&mut bytes)?;
    Ok((bytes.len() as u64 <= limit).then_some(bytes))
}

/// Reads and decodes a tag file named by the RFC. In a 1.0 bag a UTF-8 tag
/// file must not start with a byte-order mark (RFC 8493 §2.3); it is a
/// finding, and the file is read anyway.
fn read_tag_file(
    tree: &BagTree,
    path: &str,
    encoding: &'static encoding_rs::Encoding,
    version: (u32, u32),
    garbled_kind: FindingKind,
    findings: &mut Vec<BagFinding>,
) -> Option<String> {
    let file = tree.tag.get(path)?;
    let bytes = match read_at_most(&file.disk_path, MAX_TAG_FILE_BYTES) {
        Ok(Some(bytes)) => bytes,
        Ok(None) => {
            let detail = format!("larger than the {} MiB a tag file may have; not read", MAX_TAG_FILE_BYTES >> 20);
            findings.push(BagFinding::new(garbled_kind, path, detail));
            return None;
        }
        Err(error) => {
            findings.push(BagFinding::new(FindingKind::UnreadableFile, path, format!("cannot read: {error}")));
            return None;
        }
    };
    if version >= (1, 0) && encoding == encoding_rs::UTF_8 && bytes.starts_with(crate::tagfile::BOM) {
        findings.push(BagFinding::new(
            garbled_kind,
            path,
            "starts with a byte-order mark, not allowed in utf-8 tag files of bagit 1.0",
        ));
    }
    match decode_tag_file(&bytes, encoding) {
        Ok(text) => Some(text),
        Err(problem) => {
            findings.push(BagFinding::new(garbled_kind, path, problem));
            None
        }
    }
}

fn read_bagit_txt(tree: &BagTree, findings: &mut Vec<BagFinding>) -> crate::tagfile::BagDeclaration {
    let fallback = crate::tagfile::BagDeclaration { version: None, encoding: encoding_rs::UTF_8 };
    let Some(file) = tree.tag.get("bagit.txt") else {
        if !tree.is_refused("bagit.txt") {
            findings.push(BagFinding::new(FindingKind::BadBagitTxt, "bagit.txt", "missing"));
        }
        return fallback;
    };
    let bytes = match read_at_most(&file.disk_path, MAX_TAG_FILE_BYTES) {
        Ok(Some(bytes)) => bytes,
        Ok(None) => {
            let detail = format!("larger than the {} MiB a tag file may have; not read", MAX_TAG_FILE_BYTES >> 20);
            findings.push(BagFinding::new(FindingKind::BadBagitTxt, "bagit.txt", detail));
            return fallback;
        }
        Err(error) => {
            findings.push(BagFinding::new(FindingKind::UnreadableFile, "bagit.txt", format!("cannot read: {error}")));
            return fallback;
        }
    };
    let (declaration, problems) = parse_bagit_txt(&bytes);
    for problem in problems {
        findings.push(BagFinding::new(FindingKind::BadBagitTxt, "bagit.txt", problem));
    }
    declaration
}

fn read_bag_info(
    tree: &BagTree,
    encoding: &'static encoding_rs::Encoding,
    version: (u32, u32),
    findings: &mut Vec<BagFinding>,
) -> Vec<(String, String)> {
    let Some(text) = read_tag_file(tree, "bag-info.txt", encoding, version, FindingKind::BadBagInfo, findings) else {
        return Vec::new();
    };
    let (tags, problems) = parse_bag_info(&text, version);
    for problem in problems {
        findings.push(BagFinding::new(FindingKind::BadBagInfo, "bag-info.txt", problem));
    }
    tags
}

/// Reads every `manifest-*.txt` and `tagmanifest-*.txt` in the bag root.
fn read_manifests(
    tree: &BagTree,
    encoding: &'static encoding_rs::Encoding,
    version: (u32, u32),
    findings: &mut Vec<BagFinding>,
) -> Vec<Manifest> {
    let mut manifests = Vec::new();
    for name in tree.tag.keys().filter(|name| !name.contains('/')) {
        let (is_tag, algorithm_name) = if let Some(rest) = name.strip_prefix("tagmanifest-") {
            (true, rest)
        } else if let Some(rest) = name.strip_prefix("manifest-") {
            (false, rest)
        } else {
            continue;
        };
        let Some(algorithm_name) = algorithm_name.strip_suffix(".txt") else {
            continue;
        };
        let Some(algorithm) = Algorithm::from_name(algorithm_name) else {
            findings.push(BagFinding::new(
                FindingKind::BadManifest,
                name.as_str(),
                format!("unsupported algorithm {algorithm_name:?}, not checked"),
            ));
            continue;
        };
        let Some(text) = read_tag_file(tree, name, encoding, version, FindingKind::BadManifest, findings) else {
            continue;
        };
        let (mut entries, problems) = parse_manifest(&text, algorithm, version);
        for (kind, detail) in problems {
            findings.push(BagFinding::new(kind, name.as_str(), detail));
        }
        // RFC 8493 §2.1.3 and §2.2.1: payload manifests list only payload
        // files; tag manifests list no payload file and no tag manifest.
        entries.retain(|entry| {
            let problem = if !is_tag && !entry.path.starts_with("data/") {
                Some("is not a payload file (not under data/)")
            } else if is_tag && entry.path.starts_with("data/") {
                Some("is a payload file, not allowed in a tag manifest")
            } else if is_tag && entry.path.starts_with("tagmanifest-") && !entry.path.contains('/') {
                Some("is a tag manifest, not allowed in a tag manifest")
            } else {
                None
            };
            if let Some(problem) = problem {
                findings.push(BagFinding::new(
                    FindingKind::BadManifest,
                    name.as_str(),
                    format!("line {}: {:?} {problem}", entry.line_no, entry.path),
                ));
            }
            problem.is_none()
        });
        manifests.push(Manifest { name: name.clone(), algorithm, is_tag, entries });
    }
    // Each tag manifest must list every payload manifest (RFC 8493 §2.2.1).
    let payload_manifest_names: Vec<&String> = tree
        .tag
        .keys()
        .filter(|name| !name.contains('/') && name.starts_with("manifest-") && name.ends_with(".txt"))
        .collect();
    for manifest in manifests.iter().filter(|manifest| manifest.is_tag) {
        for payload_manifest_name in &payload_manifest_names {
            if !manifest.entries.iter().any(|entry| &&entry.path == payload_manifest_name) {
                findings.push(BagFinding::new(
                    FindingKind::BadManifest,
                    manifest.name.as_str(),
                    format!("does not list payload manifest {payload_manifest_name}"),
                ));
            }
        }
    }
    manifests
}

fn read_fetch(
    tree: &BagTree,
    encoding: &'static encoding_rs::Encoding,
    version: (u32, u32),
    findings: &mut Vec<BagFinding>,
) -> Vec<FetchEntry> {
    let Some(text) = read_tag_file(tree, "fetch.txt", encoding, version, FindingKind::BadFetch, findings) else {
        return Vec::new();
    };
    let (entries, problems) = parse_fetch(&text);
    for (kind, detail) in problems {
        findings.push(BagFinding::new(kind, "fetch.txt", detail));
    }
    entries
}

/// Hashes every payload file with every payload manifest algorithm, and
/// every tag-manifest-listed file with the tag manifest algorithms, one read
/// per file.
fn hash_files(
    tree: &BagTree,
    manifests: &[Manifest],
    threads: Option<usize>,
    findings: &mut Vec<BagFinding>,
) -> Result<DigestsByPath, BagError> {
    let payload_algorithms: BTreeSet<Algorithm> =
        manifests.iter().filter(|manifest| !manifest.is_tag).map(|manifest| manifest.algorithm).collect();
    let mut wanted: BTreeMap<&str, (&DiskFile, BTreeSet<Algorithm>)> = BTreeMap::new();
    if !payload_algorithms.is_empty() {
        for (path, file) in &tree.payload {
            wanted.insert(path.as_str(), (file, payload_algorithms.clone()));
        }
    }
    for manifest in manifests.iter().filter(|manifest| manifest.is_tag) {
        for entry in &manifest.entries {
            let Some((path, file)) =
                tree.tag.get_key_value(&entry.path).or_else(|| tree.payload.get_key_value(&entry.path))
            else {
                continue;
            };
            wanted.entry(path.as_str()).or_insert_with(|| (file, BTreeSet::new())).1.insert(manifest.algorithm);
        }
    }

    let mut jobs: Vec<Job<'_>> = wanted
        .into_iter()
        .map(|(path, (file, algorithms))| Job { path, file, algorithms: algorithms.into_iter().collect() })
        .collect();
    // Largest first: the pool then ends on small files, not on one big file
    // with the other cores idle.
    jobs.sort_by(|a, b| b.file.bytes.cmp(&a.file.bytes).then_with(|| a.path.cmp(b.path)));
    let results = run_jobs(&jobs, threads)?;

    let mut digests = DigestsByPath::with_capacity(jobs.len());
    for (job, result) in jobs.iter().zip(results) {
        let result = result.map_err(|error| {
            findings.push(BagFinding::new(FindingKind::UnreadableFile, job.path, format!("cannot read: {error}")));
            error.to_string()
        });
        digests.insert(job.path.to_owned(), result);
    }
    Ok(digests)
}

/// The digests of one file, or why it could not be read.
type FileDigests = std::io::Result<Vec<(Algorithm, String)>>;

struct Job<'a> {
    path: &'a str,
    file: &'a DiskFile,
    algorithms: Vec<Algorithm>,
}

/// Runs the jobs on `threads` workers (rayon's global pool when `None`),
/// each pulling the next job from a shared counter; results come back in
/// job order.
fn run_jobs(jobs: &[Job<'_>], threads: Option<usize>) -> Result<Vec<FileDigests>, BagError> {
    let next_job = AtomicUsize::new(0);
    let slots: Vec<OnceLock<FileDigests>> = jobs.iter().map(|_| OnceLock::new()).collect();
    let work = || {
        loop {
            let index = next_job.fetch_add(1, Ordering::Relaxed);
            let Some(job) = jobs.get(index) else {
                break;
            };
            let result = digest_file(&job.file.disk_path, &job.algorithms).map(|(_, digests)| digests);
            // Each index is taken by exactly one worker, so the slot is empty.
            let _ = slots[index].set(result);
        }
    };
    let spawn_workers = |workers: usize| {
        rayon::scope(|scope| {
            for _ in 0..workers.min(jobs.len()) {
                scope.spawn(|_| work());
            }
        })
    };
    match threads {
        Some(threads) if threads > 0 => {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .thread_name(|index| format!("bagit-hash-{index}"))
                .build()
                .map_err(|source| BagError::ThreadPool { threads, source })?;
            pool.install(|| spawn_workers(threads));
        }
        _ => spawn_workers(rayon::current_num_threads()),
    }
    Ok(slots
        .into_iter()
        .map(|slot| slot.into_inner().unwrap_or_else(|| Err(std::io::Error::other("file was not hashed"))))
        .collect())
}

/// Every manifest entry: present, and its digest matches.
fn check_manifest_entries(
    tree: &BagTree,
    manifests: &[Manifest],
    digests: &DigestsByPath,
    fetch_paths: &HashSet<&str>,
    findings: &mut Vec<BagFinding>,
) {
    for manifest in manifests {
        for entry in &manifest.entries {
            if tree.is_refused(&entry.path) {
                // Already a path escape; it is there, but will not be read.
                continue;
            }
            match digests.get(&entry.path) {
                Some(Ok(computed)) => {
                    let computed = computed
                        .iter()
                        .find(|(algorithm, _)| *algorithm == manifest.algorithm)
                        .map(|(_, digest)| digest.as_str());
                    if computed != Some(entry.digest.as_str()) {
                        findings.push(BagFinding::new(
                            FindingKind::ChecksumMismatch,
                            entry.path.as_str(),
                            format!(
                                "{} line {}: expected {}, computed {}",
                                manifest.name,
                                entry.line_no,
                                entry.digest,
                                computed.unwrap_or("nothing")
                            ),
                        ));
                    }
                }
                Some(Err(_)) => {} // Already an unreadable-file finding.
                None => {
                    let mut detail = format!("listed in {} line {}, not in the bag", manifest.name, entry.line_no);
                    if fetch_paths.contains(entry.path.as_str()) {
                        detail.push_str(" (listed in fetch.txt, not fetched yet)");
                    }
                    findings.push(BagFinding::new(FindingKind::MissingFile, entry.path.as_str(), detail));
                }
            }
        }
    }
}

/// Every payload file is listed in every payload manifest (RFC 8493 §3, for
/// 1.0); in at least one for older bags.
fn check_payload_listed(
    tree: &BagTree,
    payload_manifests: &[&Manifest],
    version: (u32, u32),
    findings: &mut Vec<BagFinding>,
) {
    if payload_manifests.is_empty() {
        return;
    }
    let listed: Vec<HashSet<&str>> = payload_manifests
        .iter()
        .map(|manifest| manifest.entries.iter().map(|entry| entry.path.as_str()).collect())
        .collect();
    for path in tree.payload.keys() {
        if version >= (1, 0) {
            for (manifest, listed) in payload_manifests.iter().zip(&listed) {
                if !listed.contains(path.as_str()) {
                    findings.push(BagFinding::new(
                        FindingKind::UnlistedFile,
                        path.as_str(),
                        format!("not listed in {}", manifest.name),
                    ));
                }
            }
        } else if !listed.iter().any(|listed| listed.contains(path.as_str())) {
            findings.push(BagFinding::new(
                FindingKind::UnlistedFile,
                path.as_str(),
                "not listed in any payload manifest",
            ));
        }
    }
}

/// fetch.txt lists payload files that every payload manifest knows; one not
/// retrieved yet makes the bag incomplete.
fn check_fetch(
    tree: &BagTree,
    payload_manifests: &[&Manifest],
    fetch_entries: &[FetchEntry],
    findings: &mut Vec<BagFinding>,
) {
    let listed: HashSet<&str> = payload_manifests
        .iter()
        .flat_map(|manifest| manifest.entries.iter().map(|entry| entry.path.as_str()))
        .collect();
    for entry in fetch_entries {
        if !entry.path.starts_with("data/") {
            findings.push(BagFinding::new(
                FindingKind::BadFetch,
                "fetch.txt",
                format!("line {}: {:?} is not a payload file (not under data/)", entry.line_no, entry.path),
            ));
        }
        if !listed.contains(entry.path.as_str()) {
            findings.push(BagFinding::new(
                FindingKind::BadFetch,
                "fetch.txt",
                format!("line {}: {:?} is not listed in a payload manifest", entry.line_no, entry.path),
            ));
            if !tree.payload.contains_key(&entry.path) && !tree.is_refused(&entry.path) {
                findings.push(BagFinding::new(
                    FindingKind::MissingFile,
                    entry.path.as_str(),
                    format!("listed in fetch.txt line {}, not fetched yet", entry.line_no),
                ));
            }
        }
    }
}

/// Every `Payload-Oxum` value is `<octets>.<count>` and matches `data/`.
fn check_oxum(report: &mut BagReport) {
    let (octets, count) = report.payload_oxum();
    let mut new_findings = Vec::new();
    let values: Vec<&str> = report.bag_info_values("Payload-Oxum").collect();
    if values.len() > 1 {
        new_findings.push(BagFinding::new(
            FindingKind::BadBagInfo,
            "bag-info.txt",
            format!("payload-oxum given {} times, allowed once", values.len()),
        ));
    }
    for value in values {
        match parse_oxum(value) {
            None => new_findings.push(BagFinding::new(
                FindingKind::BadBagInfo,
                "bag-info.txt",
                format!("payload-oxum {value:?} is not <octets>.<count>"),
            )),
            Some((declared_octets, declared_count)) if (declared_octets, declared_count) != (octets, count) => {
                new_findings.push(BagFinding::new(
                    FindingKind::OxumMismatch,
                    "bag-info.txt",
                    format!("payload-oxum {value} declared, data/ holds {octets}.{count}"),
                ));
            }
            Some(_) => {}
        }
    }
    report.findings.extend(new_findings);
}
