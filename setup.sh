#!/usr/bin/env bash
# Sets pft up on Debian 12, as root: system packages, the npm dependencies, the native engine
# and the TypeScript build. Safe to run again. LIBTORCH=/path/to/libtorch skips libtorch-dev.
set -euo pipefail
cd "$(dirname "$0")"

export DEBIAN_FRONTEND=noninteractive
packages=(
  libopenblas0-openmp         # the BLAS; Debian's default reference BLAS is ~30x slower
  python3-torch python3-torchvision  # reference peers for tests and benchmarks only
  dataset-fashion-mnist       # real data that installs offline
  g++ make python3            # node-gyp builds the native addon
  chromium                    # the report test opens report.html headless
)
[ -n "${LIBTORCH:-}" ] || packages+=(libtorch-dev)
command -v node >/dev/null 2>&1 || packages+=(nodejs npm)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# OpenBLAS must be the active libblas.so.3 (libtorch calls sgemm_ through it), and its OpenMP
# build: the pthreads build keeps its own threads, which fight libtorch's OpenMP threads for the
# cores (float32 training measured 2x slower on 2 cores). libtorch also links liblapack.so.3 and
# libopenblas.so.0, so all three alternatives point at the same build.
arch_dir="/usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)"
arch="$(basename "$arch_dir")"
for lib in libblas.so.3 liblapack.so.3 libopenblas.so.0; do
  target="$arch_dir/openblas-openmp/$lib"
  if [ -e "$target" ] && [ "$(readlink -f "$arch_dir/$lib")" != "$(readlink -f "$target")" ]; then
    update-alternatives --set "$lib-$arch" "$target" >/dev/null
  fi
done
case "$(readlink -f "$arch_dir/libblas.so.3")" in
  *openblas-openmp*) echo "setup: BLAS is $(readlink -f "$arch_dir/libblas.so.3")" ;;
  *openblas*) echo "setup: warning: the active libblas.so.3 is not OpenBLAS's OpenMP build" >&2 ;;
  *) echo "setup: warning: the active libblas.so.3 is not OpenBLAS" >&2 ;;
esac

# The sklearn 8x8 digits, extracted from Debian's python3-sklearn (no other file of it is used).
bash scripts/fetch-digits.sh || { apt-get update -qq && bash scripts/fetch-digits.sh; }

# npm ci runs node-gyp (the native engine) through the package's install script.
if [ -f package-lock.json ]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi
# The build also links node_modules/.bin/pft (scripts/link-bin.mjs), so `npx pft` runs this
# checkout's CLI, at the root and below it (never a registry package).
npm run build
