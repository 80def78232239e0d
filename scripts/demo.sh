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
echo "== scan2dms classify train (labelled documents of generated deliveries)"
# Trained on other deliveries than the ones classified below when the shared
# corpus is next to this checkout; on the fixtures' own labels otherwise.
training=../shared/corpus/deliveries
[[ -d "$training/truth" ]] || training=$deliveries
"$bin" --data-dir "$data" classify train --data "$training"
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
echo "== scan2dms review list (documents the classifier was unsure of; filed once decided)"
"$bin" --data-dir "$data" review list
echo
echo "== what the DMS holds (scan2dms dms-sim dump: the built-in simulator)"
"$bin" --data-dir "$data/dms-sim" dms-sim dump --json > "$data/dms-dump.json"
python3 - "$data/dms-dump.json" <<'PY'
import collections, json, sys
objects = json.load(open(sys.argv[1]))
kinds = collections.Counter(o["kind"] for o in objects)
print(f"{kinds['folder']} folders (one per record), {kinds['register']} registers, {kinds['document']} documents")
for o in [o for o in objects if o["kind"] == "document"][:3]:
    print(f"  document {o['id']} in {o['parent_id']}: {o['fields'].get('ExtId')} {o['content_length']} bytes sha256 {o['content_sha256'][:16]}...")
PY
echo
echo "== the text layer of the first document, as the DMS stores it (pdftotext)"
sha=$(python3 -c 'import json,sys; print(next(o["content_sha256"] for o in json.load(open(sys.argv[1])) if o["kind"] == "document"))' "$data/dms-dump.json")
pdftotext "$data/dms-sim/content/$sha" - | grep -v '^$' | head -n 8
echo
echo "State, reports and the simulator's data are in $data; e-files leave the"
echo "work area once the DMS holds them verified (dms.keep_staging keeps them)."
echo "Try: $bin --data-dir $data events SSN-0007-001"
