#!/usr/bin/env bash
# Fuzzes scan2dms' parsers of untrusted input (bag-info, manifests, CSV,
# archives, page images) with cargo-fuzz and libFuzzer; see fuzz/README.md.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#
# Runs each target (all by default) for SECONDS_PER_TARGET (default 600), one
# after another, one process at a time, starting from fuzz/seeds/<target> and
# the working corpus fuzz/corpus/<target>. Prints one line per target and
# exits 1 when any target found a crash, timeout or out-of-memory input; those
# are saved in fuzz/artifacts/<target>/, the full log in fuzz/logs/<target>.log.
set -euo pipefail

cd "$(dirname "$0")/.."

all_targets=(bag_info manifest index_csv order_csv archive decode_tiff decode_pdf decode_raster)

seconds=${1:-600}
if ! [[ $seconds =~ ^[0-9]+$ ]]; then
  echo "usage: scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]" >&2
  echo "targets: ${all_targets[*]}" >&2
  exit 2
fi
shift || true
targets=("$@")
if ((${#targets[@]} == 0)); then
  targets=("${all_targets[@]}")
fi

# Longest input per target: a little above the largest useful seed.
max_len() {
  case $1 in
    bag_info) echo 4096 ;;
    manifest | index_csv | order_csv) echo 16384 ;;
    archive) echo 65536 ;;
    decode_tiff | decode_pdf | decode_raster) echo 131072 ;;
    *)
      echo "fuzz: unknown target $1 (targets: ${all_targets[*]})" >&2
      exit 2
      ;;
  esac
}
for target in "${targets[@]}"; do max_len "$target" >/dev/null; done

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz: installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi

# cargo-fuzz passes nightly-only flags to rustc (-Zsanitizer=address and the
# coverage instrumentation libFuzzer needs). RUSTC_BOOTSTRAP=1 lets the stable
# toolchain accept them; on nightly it changes nothing.
export RUSTC_BOOTSTRAP=1

# The targets write their input to files (the entry points take paths); keep
# those in memory when /dev/shm exists, and remove them afterwards.
scratch_parent=/dev/shm
[[ -d $scratch_parent && -w $scratch_parent ]] || scratch_parent=${TMPDIR:-/tmp}
scratch=$(mktemp -d "$scratch_parent/scan2dms-fuzz.XXXXXX")
trap 'rm -rf "$scratch"' EXIT

echo "fuzz: building the fuzz targets"
cargo fuzz build >/dev/null

mkdir -p fuzz/logs
found=0
for target in "${targets[@]}"; do
  mkdir -p "fuzz/corpus/$target" "fuzz/artifacts/$target"
  log="fuzz/logs/$target.log"
  before=$(find "fuzz/artifacts/$target" -type f \( -name 'crash-*' -o -name 'timeout-*' -o -name 'oom-*' -o -name 'leak-*' \) | wc -l)
  started=$(date +%s)
  # One process, no fork: a crash ends this target's run and the next starts.
  # A hang (20 s) or more than 2 GiB of memory is a finding too. Leak
  # detection is off: rayon's pools free their threads' memory after a run
  # ends, which LeakSanitizer would check (slowly) after every run.
  TMPDIR=$scratch cargo fuzz run "$target" "fuzz/corpus/$target" "fuzz/seeds/$target" -- \
    -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=20 -max_len="$(max_len "$target")" \
    -detect_leaks=0 -print_final_stats=1 >"$log" 2>&1 || true
  elapsed=$(($(date +%s) - started))
  after=$(find "fuzz/artifacts/$target" -type f \( -name 'crash-*' -o -name 'timeout-*' -o -name 'oom-*' -o -name 'leak-*' \) | wc -l)
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  coverage=$(grep -E '^#[0-9]+.* cov: ' "$log" | tail -1 | sed -E 's/.* cov: ([0-9]+) ft: ([0-9]+) corp: ([0-9]+).*/cov \1 ft \2 corpus \3/')
  new=$((after - before))
  line="$target: ${elapsed}s, ${runs:-?} runs, ${speed:-?} exec/s, ${coverage:-no coverage line}, new crashes $new"
  if ((new > 0)) || ! grep -q '^Done [0-9]* runs' "$log"; then
    line="$line (see $log and fuzz/artifacts/$target/)"
    found=1
  fi
  echo "$line"
done
exit "$found"
