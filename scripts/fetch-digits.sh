#!/usr/bin/env bash
# Extracts scikit-learn's 8x8 digits (digits.csv.gz: 1797 rows of 64 pixels in 0..16, then the
# label) from Debian's python3-sklearn package, without installing it, into
#   <repo>/.cache/data/sklearn-digits/digits.csv.gz     (git-ignored; the digits loader's default)
# Safe to run again: does nothing when the file is already there. Needs apt-get's package lists
# (run `apt-get update` first on a fresh system) and network access to the Debian mirror.
# DEST=/some/dir overrides the target directory (the loader then needs PFT_DIGITS=/some/dir/digits.csv.gz).
set -euo pipefail
cd "$(dirname "$0")/.."

dest="${DEST:-$PWD/.cache/data/sklearn-digits}"
target="$dest/digits.csv.gz"
if [ -s "$target" ]; then
  echo "fetch-digits: $target already present"
  exit 0
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
# apt-get download writes into the current directory as the sandbox user _apt when run as root.
if [ "$(id -u)" = 0 ] && id _apt >/dev/null 2>&1; then chown _apt "$tmp"; fi
if ! (cd "$tmp" && apt-get download -qq python3-sklearn); then
  echo "fetch-digits: apt-get download python3-sklearn failed (run apt-get update first; needs the Debian mirror)" >&2
  exit 1
fi
deb="$(ls "$tmp"/python3-sklearn_*.deb)"
dpkg-deb -x "$deb" "$tmp/root"
src="$(find "$tmp/root" -path '*/sklearn/datasets/data/digits.csv.gz' -print -quit)"
if [ -z "$src" ]; then
  echo "fetch-digits: digits.csv.gz not found inside $(basename "$deb")" >&2
  exit 1
fi
mkdir -p "$dest"
cp "$src" "$target.tmp"
mv "$target.tmp" "$target"
echo "fetch-digits: wrote $target ($(stat -c %s "$target") bytes, from $(basename "$deb"))"
