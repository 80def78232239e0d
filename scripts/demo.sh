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
echo "== a rejection report (scan2dms report SSN-0007-014)"
"$bin" --data-dir "$data" report SSN-0007-014
echo
echo "State and reports are in $data; try: $bin --data-dir $data events SSN-0007-001"
