#!/usr/bin/env bash
# The main job on embedded defaults: a fresh SQLite state in target/demo,
# the city's order lists and the sample deliveries from fixtures/, one run
# of the pipeline, then what an operator would look at.
set -euo pipefail

bin=target/release/scan2dms
data=target/demo
deliveries=fixtures/deliveries

rm -rf "$data"
mkdir -p "$data/inbox"
cp -r "$deliveries"/batches/. "$data/inbox/"

echo "== scan2dms orders import"
"$bin" --data-dir "$data" orders import "$deliveries"/orders/*.csv
echo
echo "== scan2dms run --once"
"$bin" --data-dir "$data" run --once
echo
echo "== scan2dms status"
"$bin" --data-dir "$data" status
echo
echo "== scan2dms batches"
"$bin" --data-dir "$data" batches
echo
echo "== scan2dms documents"
"$bin" --data-dir "$data" documents
echo
echo "== a rejection report (scan2dms report SSN-0007-014)"
"$bin" --data-dir "$data" report SSN-0007-014
echo
echo
echo "== the text layer of one e-file (pdftotext, first lines)"
first=$(find "$data/batches/SSN-0007-001/efiles" -name '*.pdf' | sort | head -n 1)
pdftotext "$first" - | grep -v '^$' | head -n 8
echo
echo "State, reports and e-files are in $data."
echo "Try: $bin --data-dir $data events SSN-0007-001, or open $first"
