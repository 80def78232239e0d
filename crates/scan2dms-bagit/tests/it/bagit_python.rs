//! Agreement with bagit-python (the reference implementation) on every bag
//! directory of the shared delivery corpus: valid/invalid must be the same.

use std::fs;
use std::process::Command;

use scan2dms_bagit::{ValidateOptions, validate_bag};

use crate::{render_findings, shared_dir};

fn bagit_python_available() -> bool {
    Command::new("python3").args(["-c", "import bagit"]).output().map(|output| output.status.success()).unwrap_or(false)
}

#[test]
fn valid_invalid_agrees_with_bagit_python_on_the_corpus() {
    let Some(shared) = shared_dir() else {
        eprintln!("skipped: ../shared is not there");
        return;
    };
    if !bagit_python_available() {
        eprintln!("skipped: python3 module bagit is not installed");
        return;
    }
    let batches = shared.join("corpus/deliveries/batches");
    let mut bag_dirs: Vec<_> = fs::read_dir(&batches)
        .expect("list corpus batches")
        .map(|entry| entry.expect("corpus entry").path())
        .filter(|path| path.is_dir())
        .collect();
    bag_dirs.sort();
    assert!(!bag_dirs.is_empty(), "no bag directories in {}", batches.display());

    let mut disagreements = Vec::new();
    for bag_dir in &bag_dirs {
        let python = Command::new("python3")
            .args(["-m", "bagit", "--validate"])
            .arg(bag_dir)
            .output()
            .expect("run python3 -m bagit");
        let python_valid = python.status.success();
        let report = validate_bag(bag_dir, &ValidateOptions::default()).expect("validate corpus bag");
        if report.is_valid() != python_valid {
            disagreements.push(format!(
                "{}: bagit-python valid={python_valid}, ours valid={}\n  ours: {}  python: {}",
                bag_dir.display(),
                report.is_valid(),
                render_findings(&report),
                String::from_utf8_lossy(&python.stderr).trim(),
            ));
        }
    }
    assert!(disagreements.is_empty(), "disagreements with bagit-python:\n{}", disagreements.join("\n"));
}
