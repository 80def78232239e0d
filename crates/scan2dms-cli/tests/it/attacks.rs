//! Deliveries built to attack the pipeline: archives that climb out of
//! their folder or carry links, archive bombs, an image bomb, a TIFF whose
//! IFD chain loops, a CSV line that never ends, a sheet that is not UTF-8,
//! a bag-info field given twice, a link inside a delivered folder. All go
//! through one `scan2dms run --once` together with a good delivery. Each
//! bad one must end as a rejected batch whose report names the reason the
//! contract gives for it; the good one must still be filed; the run must
//! neither panic nor hang, and its memory must stay bounded.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::{BagRecord, bag_info, run_ok, scan2dms, seal, workspace_root, write_bag};

const ORDER_ID: &str = "ORD-0096-PERS";

/// Peak resident memory the run may reach: the figure issue 3 holds the
/// whole pipeline to. A bomb that is unpacked or decoded blows far past it.
const MAX_RSS_KIB: i64 = 400 * 1024;

/// Longer than an honest run of these deliveries takes, short of forever.
const HANG_GUARD: Duration = Duration::from_secs(10 * 60);

/// A line of index.csv with no end: 200 MB without a line break.
const ENDLESS_LINE_BYTES: usize = 200 * 1024 * 1024;

fn image(name: &str) -> PathBuf {
    workspace_root().join("fixtures/images").join(name)
}

fn record(record_id: &str, file: &str) -> Vec<BagRecord> {
    vec![BagRecord { record_id: record_id.to_owned(), files: vec![(image(file), 1)] }]
}

/// Every file of a directory tree, relative to `base`, sorted.
fn tree(dir: &Path, base: &Path, files: &mut Vec<(String, PathBuf)>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|entry| entry.unwrap().path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            tree(&path, base, files);
        } else {
            files.push((path.strip_prefix(base).unwrap().to_string_lossy().into_owned(), path));
        }
    }
}

/// Packs `bag` as `<name>.zip` in `inbox`; `extra` adds entries after the bag's own.
fn zip_bag(bag: &Path, inbox: &Path, extra: impl FnOnce(&mut zip::ZipWriter<File>)) {
    let name = bag.file_name().unwrap().to_string_lossy().into_owned();
    let mut files = Vec::new();
    tree(bag, bag.parent().unwrap(), &mut files);
    let mut writer = zip::ZipWriter::new(File::create(inbox.join(format!("{name}.zip"))).unwrap());
    let options =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated).large_file(true);
    for (relative, path) in files {
        writer.start_file(relative, options).unwrap();
        writer.write_all(&std::fs::read(path).unwrap()).unwrap();
    }
    extra(&mut writer);
    writer.finish().unwrap();
    std::fs::remove_dir_all(bag).unwrap();
}

/// Packs `bag` as `<name>.tar` in `inbox`; `extra` adds entries after the bag's own.
fn tar_bag(bag: &Path, inbox: &Path, extra: impl FnOnce(&mut tar::Builder<File>)) {
    let name = bag.file_name().unwrap().to_string_lossy().into_owned();
    let mut builder = tar::Builder::new(File::create(inbox.join(format!("{name}.tar"))).unwrap());
    builder.append_dir_all(&name, bag).unwrap();
    extra(&mut builder);
    builder.into_inner().unwrap().flush().unwrap();
    std::fs::remove_dir_all(bag).unwrap();
}

/// A little-endian TIFF of one 64×64 uncompressed bilevel page whose IFD
/// names itself as the next one: a chain that never ends.
fn looping_tiff() -> Vec<u8> {
    let (width, height) = (64u32, 64u32);
    let row_bytes = width.div_ceil(8);
    let entries: [(u16, u16, u32, u32); 10] = [
        (256, 4, 1, width),              // ImageWidth
        (257, 4, 1, height),             // ImageLength
        (258, 3, 1, 1),                  // BitsPerSample
        (259, 3, 1, 1),                  // Compression: none
        (262, 3, 1, 0),                  // PhotometricInterpretation: white is zero
        (273, 4, 1, 0),                  // StripOffsets, filled in below
        (278, 4, 1, height),             // RowsPerStrip
        (279, 4, 1, row_bytes * height), // StripByteCounts
        (282, 5, 1, 0),                  // XResolution, filled in below
        (283, 5, 1, 0),                  // YResolution, filled in below
    ];
    let ifd_at = 8u32;
    let ifd_len = 2 + 12 * entries.len() as u32 + 4;
    let rational_at = ifd_at + ifd_len;
    let strip_at = rational_at + 8;
    let mut bytes = b"II*\0".to_vec();
    bytes.extend_from_slice(&ifd_at.to_le_bytes());
    bytes.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    for (tag, kind, count, value) in entries {
        let value = match tag {
            273 => strip_at,
            282 | 283 => rational_at,
            _ => value,
        };
        bytes.extend_from_slice(&tag.to_le_bytes());
        bytes.extend_from_slice(&kind.to_le_bytes());
        bytes.extend_from_slice(&count.to_le_bytes());
        match kind {
            3 => bytes.extend_from_slice(&[(value as u16).to_le_bytes(), [0, 0]].concat()),
            _ => bytes.extend_from_slice(&value.to_le_bytes()),
        }
    }
    bytes.extend_from_slice(&ifd_at.to_le_bytes()); // the next IFD is this one
    bytes.extend_from_slice(&300u32.to_le_bytes());
    bytes.extend_from_slice(&1u32.to_le_bytes());
    bytes.resize(bytes.len() + (row_bytes * height) as usize, 0);
    bytes
}

/// One attack: the batch it arrives as and the reason code its report must give.
struct Attack {
    batch_id: String,
    what: &'static str,
    code: &'static str,
}

/// Runs the command to its end, following its peak resident memory (the
/// kernel's high-water mark, read every few milliseconds), and kills it if
/// it outlives `HANG_GUARD`. Returns its status, peak in KiB and stderr.
fn run_measured(mut command: Command) -> (std::process::ExitStatus, i64, String) {
    let mut child = command.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let status_file = format!("/proc/{}/status", child.id());
    let mut stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut stderr, &mut text).unwrap();
        text
    });
    let started = Instant::now();
    let mut peak_kib = 0;
    let status = loop {
        let high_water = std::fs::read_to_string(&status_file).ok().and_then(|status| {
            let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
            line.split_whitespace().nth(1)?.parse::<i64>().ok()
        });
        peak_kib = peak_kib.max(high_water.unwrap_or(0));
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > HANG_GUARD {
            let _ = child.kill();
            panic!("the run hung: still going after {HANG_GUARD:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    assert!(peak_kib > 0, "no memory figure was read");
    (status, peak_kib, reader.join().unwrap())
}

#[test]
fn hostile_deliveries_are_rejected_with_their_reason_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let (data_dir, inbox, work) = (dir.path().join("data"), dir.path().join("inbox"), dir.path().join("work"));
    std::fs::create_dir_all(&inbox).unwrap();
    std::fs::create_dir_all(&work).unwrap();

    let mut order = String::from("record_id;series;title;box_id\n");
    let mut attacks = Vec::new();
    let mut next = 0;
    // A fresh, valid bag in `work` (or the inbox), for the attack to spoil.
    let mut bag = |what: &'static str, code: &'static str, place: &Path, file: &str| {
        next += 1;
        let batch_id = format!("SSN-0096-{next:03}");
        let record_id = format!("PN-96{next:04}");
        order.push_str(&format!("{record_id};personnel;Testakte {record_id};BOX-009600\n"));
        write_bag(place, &batch_id, ORDER_ID, "personnel", &record(&record_id, file));
        attacks.push(Attack { batch_id: batch_id.clone(), what, code });
        (place.join(&batch_id), batch_id, record_id)
    };

    // Archives.
    let (path, batch_id, _) = bag("zip entry climbing out with ..", "path_escape", &work, "bitonal.png");
    zip_bag(&path, &inbox, |zip| {
        let options = zip::write::SimpleFileOptions::default();
        zip.start_file(format!("{batch_id}/../../escaped.txt"), options).unwrap();
        zip.write_all(b"outside").unwrap();
    });
    let (path, batch_id, _) = bag("zip entry that is a symbolic link", "path_escape", &work, "bitonal.png");
    zip_bag(&path, &inbox, |zip| {
        zip.add_symlink(format!("{batch_id}/data/passwd"), "/etc/passwd", zip::write::SimpleFileOptions::default())
            .unwrap();
    });
    let (path, batch_id, _) = bag("zip bomb: 256 MiB of zeros", "archive_too_large", &work, "bitonal.png");
    zip_bag(&path, &inbox, |zip| {
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .large_file(true);
        zip.start_file(format!("{batch_id}/data/zeros.bin"), options).unwrap();
        let block = vec![0u8; 1 << 20];
        for _ in 0..256 {
            zip.write_all(&block).unwrap();
        }
    });
    let (path, batch_id, _) = bag("tar hard link to a file outside", "path_escape", &work, "bitonal.png");
    tar_bag(&path, &inbox, |tar| {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Link);
        header.set_size(0);
        tar.append_link(&mut header, format!("{batch_id}/data/shadow"), "/etc/shadow").unwrap();
    });
    let (path, batch_id, _) = bag("tar bomb: 5,000 entries", "archive_too_large", &work, "bitonal.png");
    tar_bag(&path, &inbox, |tar| {
        for number in 0..5_000 {
            let mut header = tar::Header::new_gnu();
            header.set_size(1);
            header.set_mode(0o644);
            tar.append_data(&mut header, format!("{batch_id}/data/many/{number}.txt"), &b"x"[..]).unwrap();
        }
    });

    // Folders.
    let (path, _, _) = bag("symbolic link in a delivered folder", "path_escape", &inbox, "bitonal.png");
    std::os::unix::fs::symlink("/etc/passwd", path.join("data/images/passwd")).unwrap();
    seal(&path, &bag_info(path.file_name().unwrap().to_str().unwrap(), ORDER_ID, "personnel"));
    bag("image bomb: a PNG of 60000×60000 pixels", "image_too_large", &inbox, "bomb-60000x60000.png");
    let (path, batch_id, record_id) = bag("TIFF whose IFD chain loops", "undecodable_image", &inbox, "bitonal.png");
    let images = path.join("data/images").join(&record_id);
    std::fs::remove_file(images.join("0001.png")).unwrap();
    std::fs::write(images.join("0001.tif"), looping_tiff()).unwrap();
    let index = std::fs::read_to_string(path.join("data/index.csv")).unwrap().replace("0001.png", "0001.tif");
    std::fs::write(path.join("data/index.csv"), index).unwrap();
    seal(&path, &bag_info(&batch_id, ORDER_ID, "personnel"));
    let (path, batch_id, record_id) = bag("index.csv line without an end", "bad_csv_header", &inbox, "bitonal.png");
    let mut index = std::fs::read(path.join("data/index.csv")).unwrap();
    index.extend_from_slice(format!("{record_id};1;2;images/").as_bytes());
    index.resize(index.len() + ENDLESS_LINE_BYTES, b'a');
    std::fs::write(path.join("data/index.csv"), index).unwrap();
    seal(&path, &bag_info(&batch_id, ORDER_ID, "personnel"));
    let (path, batch_id, _) = bag("records.csv in Latin-1, not UTF-8", "bad_encoding", &inbox, "bitonal.png");
    let records = std::fs::read(path.join("data/records.csv")).unwrap();
    let latin1 = [&records[..records.len() - 1], b" M\xfcller\n"].concat();
    std::fs::write(path.join("data/records.csv"), latin1).unwrap();
    seal(&path, &bag_info(&batch_id, ORDER_ID, "personnel"));
    let (path, batch_id, _) = bag("bag-info.txt line without an end", "invalid_bag_info_field", &inbox, "bitonal.png");
    seal(
        &path,
        &format!(
            "{}Internal-Sender-Description: {}\n",
            bag_info(&batch_id, ORDER_ID, "personnel"),
            "x".repeat(ENDLESS_LINE_BYTES)
        ),
    );
    let (path, batch_id, _) = bag("Order-Identifier given twice", "invalid_bag_info_field", &inbox, "bitonal.png");
    seal(&path, &format!("{}Order-Identifier: ORD-0095-PERS\n", bag_info(&batch_id, ORDER_ID, "personnel")));

    // And one honest delivery among them.
    next += 1;
    let (good_batch, good_record) = (format!("SSN-0096-{next:03}"), format!("PN-96{next:04}"));
    order.push_str(&format!("{good_record};personnel;Testakte {good_record};BOX-009600\n"));
    write_bag(&inbox, &good_batch, ORDER_ID, "personnel", &record(&good_record, "g4-300dpi.tif"));

    let order_file = dir.path().join(format!("{ORDER_ID}.csv"));
    std::fs::write(&order_file, order).unwrap();
    run_ok(scan2dms(&data_dir).args(["orders", "import"]).arg(&order_file));
    let config = dir.path().join("pipeline.toml");
    std::fs::write(
        &config,
        "[limits]\nmax_archive_bytes = 67108864\nmax_archive_entries = 1000\nmax_compression_ratio = 100\n\
         max_image_pixels = 100000000\n[ocr]\nthreads = 1\n",
    )
    .unwrap();

    let mut run = scan2dms(&data_dir);
    run.arg("--config").arg(&config).args(["run", "--once", "--inbox"]).arg(&inbox);
    let (status, peak_kib, stderr) = run_measured(run);
    assert!(status.success(), "the run ended with {status}:\n{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    eprintln!("peak RSS of the run: {} MiB", peak_kib / 1024);
    assert!(peak_kib <= MAX_RSS_KIB, "the run peaked at {} MiB of memory", peak_kib / 1024);

    let batches: BTreeMap<String, Value> =
        serde_json::from_slice::<Vec<Value>>(&run_ok(scan2dms(&data_dir).args(["batches", "--json"])).stdout)
            .unwrap()
            .into_iter()
            .map(|batch| (batch["batch_id"].as_str().unwrap().to_owned(), batch))
            .collect();
    let mut problems = Vec::new();
    for attack in &attacks {
        let Some(batch) = batches.get(&attack.batch_id) else {
            problems.push(format!("{}: no batch {}", attack.what, attack.batch_id));
            continue;
        };
        if batch["state"] != "rejected" {
            problems.push(format!("{}: ended {} ({})", attack.what, batch["state"], batch["last_error"]));
            continue;
        }
        let report: Value =
            serde_json::from_slice(&run_ok(scan2dms(&data_dir).args(["report", &attack.batch_id, "--json"])).stdout)
                .unwrap();
        let reasons = report["reasons"].as_array().unwrap();
        eprintln!("{}: {reasons:?}", attack.what);
        // The report names files as delivered, never by our work area.
        if let Some(leak) = reasons.iter().find(|reason| {
            let detail = reason["detail"].as_str().unwrap_or_default();
            detail.contains("/batches/") || detail.contains(&*dir.path().to_string_lossy())
        }) {
            problems.push(format!("{}: report detail shows an internal path: {leak}", attack.what));
        }
        if !reasons.iter().any(|reason| reason["code"] == attack.code && reason["detail"] != "") {
            problems.push(format!("{}: no {} among {reasons:?}", attack.what, attack.code));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(!dir.path().join("escaped.txt").exists() && !data_dir.join("escaped.txt").exists());
    assert_eq!(batches[&good_batch]["state"], "done", "{}", batches[&good_batch]);
}
