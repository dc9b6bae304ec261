#!/usr/bin/env bash
# CLI tests for evidence bundles: signing keys (mode 0600), `scan --evidence`, `evidence verify`
# (every file's bytes flipped in turn, the signature, the re-run with --key), the investigation log,
# the PDF notes, and the secret key searched for in every output (hex and base64 forms).
# Usage: evidence_cli_test.sh PATH/TO/tracemark
set -u
source "$(dirname "$0")/cli_test_lib.sh" "$1"
# No PDF here (report_browser_test.sh prints and checks one): keep this test fast.
export TRACEMARK_CHROMIUM=/nonexistent/chromium

outputs=$work/outputs.log  # every line any command printed, searched for the secret at the end
expect_log=$outputs
run() { "$@" >>"$outputs" 2>&1; }

run "$tracemark" keygen --out ours.json --vocab-size 2000
run "$tracemark" keygen --out other.json --vocab-size 2000 --context-width 1
run "$tracemark" synth --key ours.json --out marked.jsonl --count 20 --length 150 --seed 3
run "$tracemark" synth --vocab-size 2000 --out clean.jsonl --count 20 --length 150 --seed 4

# Signing keys: the private key is written 0600, the public one 0644; never overwritten silently.
expect 0 "signing key ed25519:[0-9a-f]{64}" -- "$tracemark" evidence keygen --out sign.pem
check "signing key mode 0600" [ "$(stat -c %a sign.pem)" = 600 ]
check "public key mode 0644" [ "$(stat -c %a sign.pem.pub)" = 644 ]
expect 2 "" -- "$tracemark" evidence keygen --out sign.pem
run "$tracemark" evidence keygen --out intruder.pem

# A bundle: the scan's own report, then the investigation and the bundle lines.
expect 0 "Consistent with training on text watermarked with this key" -- \
  "$tracemark" scan --key ours.json --suspect marked.jsonl --control clean.jsonl --evidence bundle --signing-key sign.pem --include-inputs
expect 0 "Evidence bundle written to /.*/other-bundle \(9 files, manifest signed by ed25519:" -- \
  "$tracemark" scan --key ours.json --suspect marked.jsonl --evidence other-bundle --signing-key sign.pem
expect 0 "Note: report.pdf was skipped: Chromium \(/nonexistent/chromium\) could not be started" -- \
  "$tracemark" scan --key ours.json --suspect marked.jsonl --evidence pdf-note --signing-key sign.pem
expect 2 "report.pdf could not be printed: .*leave out --pdf" -- \
  "$tracemark" scan --key ours.json --suspect marked.jsonl --evidence pdf-required --signing-key sign.pem --pdf
check "no bundle is left when the required PDF fails" [ ! -e pdf-required ]
expect 2 "--evidence needs --signing-key FILE" -- "$tracemark" scan --key ours.json --suspect marked.jsonl --evidence nokey
mkdir not-a-bundle && echo notes >not-a-bundle/notes.txt
expect 2 "not-a-bundle is not empty and holds no manifest.json" -- \
  "$tracemark" scan --key ours.json --suspect marked.jsonl --evidence not-a-bundle --signing-key sign.pem
expect 2 "Chart.js|chart.js.*corpora/fetch.sh" -- env TRACEMARK_CACHE="$work/empty-cache" \
  "$tracemark" scan --key ours.json --suspect marked.jsonl --evidence no-chart --signing-key sign.pem
chmod 644 intruder.pem
expect 2 "signing key intruder.pem is readable or writable by group or others .*chmod 600" -- \
  "$tracemark" scan --key ours.json --suspect marked.jsonl --evidence x --signing-key intruder.pem
for file in inputs.json keys.json configuration.json investigation.jsonl results.json report.html manifest.json \
  manifest.dsse.json manifest.tsq inputs/suspect.jsonl inputs/control.jsonl; do
  check "bundle holds $file" [ -f "bundle/$file" ]
done
check "manifest is an in-toto Statement" grep -q '"_type":"https://in-toto.io/Statement/v1"' bundle/manifest.json
check "envelope is DSSE" grep -q '"payloadType":"application/vnd.in-toto+json"' bundle/manifest.dsse.json

# Verify: everything holds; the re-run with the key reproduces every figure.
expect 0 "evidence bundle bundle verifies" -- "$tracemark" evidence verify bundle --public-key sign.pem.pub
expect 0 "ok: re-run: the scan of the bundled inputs with the given keys reproduces results.json byte for byte" -- \
  "$tracemark" evidence verify bundle --public-key sign.pem.pub --key ours.json
expect 2 "FAIL: keys.json: key 1 given" -- "$tracemark" evidence verify bundle --public-key sign.pem.pub --key other.json
expect 2 "FAIL: inputs.json: input suspect is not in the bundle" -- \
  "$tracemark" evidence verify other-bundle --public-key sign.pem.pub --key ours.json
expect 2 "FAIL: manifest.dsse.json: field signatures\[0\].keyid" -- "$tracemark" evidence verify bundle --public-key intruder.pem.pub

# A bundle of text records carries the keys' tokenizer (--include-inputs), so the re-run needs no
# tokenizer cache: it verifies with TRACEMARK_CACHE pointing at an empty folder.
run "$tracemark" keygen --out gpt2key.json --tokenizer gpt2
python3 -c '
with open("text.jsonl", "w") as f:
    for i in range(20):
        f.write("{\"id\": %d, \"text\": \"The quick brown fox %d jumps over the lazy dog near the old river bank.\"}\n" % (i, i))'
expect 0 "Evidence bundle written to .*text-bundle" -- \
  "$tracemark" scan --key gpt2key.json --suspect text.jsonl --evidence text-bundle --signing-key sign.pem --include-inputs
check "the bundle holds the tokenizer's files" [ -f text-bundle/inputs/tokenizer/encoder.json -a -f text-bundle/inputs/tokenizer/vocab.bpe ]
mkdir -p "$work/no-cache"
expect 0 "ok: re-run: the scan of the bundled inputs with the given keys reproduces results.json byte for byte" -- \
  env TRACEMARK_CACHE="$work/no-cache" "$tracemark" evidence verify text-bundle --public-key sign.pem.pub --key gpt2key.json

# Every file, one byte flipped at a time (its middle byte; the unit test flips many more positions):
# verify fails and names the file. The file is restored after each try.
flip() { python3 -c '
import sys
path = sys.argv[1]
data = bytearray(open(path, "rb").read())
data[len(data) // 2] ^= 0x04
open(path, "wb").write(bytes(data))' "$1"; }
while IFS= read -r file; do
  cp -p "bundle/$file" saved
  flip "bundle/$file"
  name=$file
  [[ $file == manifest.json ]] && name="manifest.json|manifest.dsse.json"
  expect 2 "FAIL: ($name)" -- "$tracemark" evidence verify bundle --public-key sign.pem.pub
  cp -p saved "bundle/$file"
done < <(cd bundle && find . -type f | sed 's|^\./||' | sort)
expect 0 "verifies" -- "$tracemark" evidence verify bundle --public-key sign.pem.pub

# RFC 3161: a reply from a timestamp authority (here a local one made with `openssl ts`) added to the
# bundle later is checked against the request; a reply for another manifest, or a changed byte, fails.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout tsa.key -out tsa.crt -subj "/CN=Test TSA" \
  -days 30 -addext "extendedKeyUsage=critical,timeStamping" -addext "basicConstraints=critical,CA:FALSE" >/dev/null 2>&1
printf '[ tsa ]\ndefault_tsa = tsa_config\n[ tsa_config ]\nserial = ./serial\nsigner_digest = sha256\ndefault_policy = 1.2.3.4.1\ndigests = sha256\naccuracy = secs:1\ness_cert_id_alg = sha256\n' >ts.cnf
echo 01 >serial
openssl ts -reply -config ts.cnf -queryfile bundle/manifest.tsq -signer tsa.crt -inkey tsa.key -out bundle/manifest.tsr 2>/dev/null
check "the local authority answered" [ -s bundle/manifest.tsr ]
expect 0 "ok: timestamp: the manifest existed at .* per CN = Test TSA \(signature checked against the reply's own certificate" -- \
  "$tracemark" evidence verify bundle --public-key sign.pem.pub
expect 0 "ok: timestamp: .*\(certificate chain checked against tsa.crt\)" -- \
  "$tracemark" evidence verify bundle --public-key sign.pem.pub --tsa-ca tsa.crt
cp bundle/manifest.tsr good.tsr
openssl ts -reply -config ts.cnf -queryfile other-bundle/manifest.tsq -signer tsa.crt -inkey tsa.key -out bundle/manifest.tsr 2>/dev/null
expect 2 "FAIL: manifest.tsr: the reply does not verify against the request" -- "$tracemark" evidence verify bundle --public-key sign.pem.pub
for at in 0 middle -1; do
  cp good.tsr bundle/manifest.tsr
  python3 -c '
import sys
data = bytearray(open("bundle/manifest.tsr", "rb").read())
at = {"middle": len(data) // 2, "-1": len(data) - 1}.get(sys.argv[1], 0)
data[at] ^= 0x04
open("bundle/manifest.tsr", "wb").write(bytes(data))' "$at"
  expect 2 "FAIL: manifest.tsr" -- "$tracemark" evidence verify bundle --public-key sign.pem.pub
done
rm -f bundle/manifest.tsr

# A second scan into the same folder extends the investigation: both runs are listed, the chain holds.
expect 0 "Investigation: 2 scans, 2 distinct suspect tests" -- \
  "$tracemark" scan --key other.json --suspect marked.jsonl --evidence bundle --signing-key sign.pem --include-inputs
check "the log holds two runs" [ "$(wc -l <bundle/investigation.jsonl)" -eq 2 ]
expect 0 "ok: investigation log: 2 runs, hash chain intact" -- "$tracemark" evidence verify bundle --public-key sign.pem.pub
expect 0 "Investigation: 3 scans, 2 distinct suspect tests" -- \
  "$tracemark" scan --key other.json --suspect marked.jsonl --evidence bundle --signing-key sign.pem --include-inputs
# An outside log (--investigation-log) is extended too and copied into the bundle.
expect 0 "Investigation: 1 scan, 1 distinct suspect test " -- "$tracemark" scan --key ours.json --suspect marked.jsonl --evidence b3 \
  --signing-key sign.pem --investigation-log case.jsonl
expect 0 "Investigation: 2 scans, 2 distinct suspect tests .*" -- "$tracemark" scan --key other.json --suspect marked.jsonl \
  --evidence b4 --signing-key sign.pem --investigation-log case.jsonl
check "outside log copied into the bundle" cmp -s case.jsonl b4/investigation.jsonl

# absent TEXT PATH: PATH exists and no file under it holds TEXT (grep's status 1; 2 is an error).
absent() {
  [[ -e $2 ]] || return 1
  grep -rqaF -- "$1" "$2"
  [[ $? -eq 1 ]]
}
# The secret: never in any bundle file or any output, in hex (either case) or base64 (standard,
# URL-safe, padded or not) form.
for key in ours.json other.json; do
  secret=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["secret"])' "$key")
  mapfile -t forms < <(python3 -c '
import base64, sys
raw = bytes.fromhex(sys.argv[1])
for form in (sys.argv[1], sys.argv[1].upper(), base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode()):
    print(form)
    print(form.rstrip("="))' "$secret")
  for form in "${forms[@]}"; do
    check "secret form ${form:0:6}... absent from outputs" absent "$form" "$outputs"
    for folder in bundle other-bundle pdf-note b3 b4; do
      check "secret form ${form:0:6}... absent from $folder" absent "$form" "$folder"
    done
  done
  # The search itself works: the key file holds the secret.
  check "the search finds the secret in the key file" grep -qF -- "$secret" "$key"
done
# The signing key's private part (its PEM body) is in no bundle either.
signing_body=$(grep -v -- '-----' sign.pem | tr -d '\n')
check "signing key body absent from outputs" absent "$signing_body" "$outputs"
check "signing key body absent from the bundle" absent "$signing_body" bundle
check "outputs were captured" [ -s "$outputs" ]

finish
