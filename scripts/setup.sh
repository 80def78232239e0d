#!/usr/bin/env bash
# Installs what scan2dms needs to build, run and test, when it is missing.
# Debian packages through apt (as root; otherwise it prints the command),
# bagit-python through pip for the agreement tests and benchmarks, tuspy for
# the server's upload test.
set -euo pipefail

packages=(
  # OCR: the engine, its German and orientation models, and the C API.
  tesseract-ocr tesseract-ocr-deu tesseract-ocr-osd libtesseract-dev libleptonica-dev
  # Bindings to the C API are generated with bindgen.
  clang libclang-dev pkg-config
  # Checking e-files: structure, text layer, rendering.
  qpdf poppler-utils
  # The dashboard's browser test: headless Chromium driven over WebDriver.
  chromium chromium-driver
)

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done

if ((${#missing[@]} > 0)); then
  if [[ $(id -u) -eq 0 ]]; then
    echo "setup: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "setup: missing Debian packages; run as root:" >&2
    echo "  apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi

if ! command -v cargo >/dev/null; then
  echo "setup: cargo is missing; install Rust (https://rustup.rs) first" >&2
  exit 1
fi

# bagit-python: the peer the BagIt checks are compared with.
if ! python3 -c 'import bagit' 2>/dev/null; then
  echo "setup: installing bagit-python"
  python3 -m pip install --quiet bagit || echo "setup: bagit-python not installed; its agreement test will be skipped" >&2
fi

# tus-py: a real resumable-upload client for the server's tus test.
if ! python3 -c 'import tusclient' 2>/dev/null; then
  echo "setup: installing tuspy"
  python3 -m pip install --quiet tuspy || echo "setup: tuspy not installed; the server's tus client test will be skipped" >&2
fi
