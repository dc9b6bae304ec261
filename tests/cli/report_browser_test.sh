#!/usr/bin/env bash
# report.html in a real browser and report.pdf on paper: headless Chromium renders the report; the
# page's own self-check (written into the DOM) must say that all three charts painted and that no
# script error, console error or blocked request happened; a screenshot must show the charts' and
# the highlighted tokens' colours; the PDF (printed by `scan --pdf`) must have pages holding the
# report's sections (pdfinfo, pdftotext from poppler-utils).
# Usage: report_browser_test.sh PATH/TO/tracemark
set -u
source "$(dirname "$0")/cli_test_lib.sh" "$1"

browser=${TRACEMARK_CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
if [[ -z $browser ]] || ! command -v pdfinfo >/dev/null || ! command -v pdftotext >/dev/null; then
  echo "FAIL: chromium and poppler-utils are needed (tools/setup.sh installs them)"
  exit 1
fi
sandbox=()
[[ $(id -u) -eq 0 ]] && sandbox=(--no-sandbox)
chrome() { timeout 120 "$browser" --headless --disable-gpu --no-first-run --user-data-dir="$work/profile" "${sandbox[@]}" "$@" 2>/dev/null; }

"$tracemark" keygen --out ours.json --tokenizer gpt2 >/dev/null
"$tracemark" evidence keygen --out sign.pem >/dev/null
# Text responses, so the highlighted examples show words. Watermarked ones come from synth over the
# gpt2 vocabulary; their ids are decoded to text by the key's tokenizer in the report.
"$tracemark" synth --key ours.json --out marked.jsonl --count 30 --length 120 --seed 5 >/dev/null
"$tracemark" synth --vocab-size 50257 --out clean.jsonl --count 30 --length 120 --seed 6 >/dev/null
expect 0 "Evidence bundle written to /.*/bundle" -- \
  "$tracemark" scan --key ours.json --suspect marked.jsonl --control clean.jsonl --evidence bundle --signing-key sign.pem --pdf
check "report.pdf was printed" [ -s bundle/report.pdf ]
expect 0 "verifies" -- "$tracemark" evidence verify bundle --public-key sign.pem.pub

# Self-contained: a policy that forbids every request, and no external reference.
check "Content-Security-Policy forbids requests" grep -q "default-src 'none'" bundle/report.html
check "no external script, style or image" bash -c '! grep -qiE "(src|href)=\"(https?:)?//" bundle/report.html'

# The DOM after the scripts ran.
chrome --dump-dom "file://$work/bundle/report.html" >dom.html
check "dom dumped" [ -s dom.html ]
check "three charts expected" grep -q 'data-charts-expected="3"' dom.html
check "three charts drew" grep -q 'data-charts-drawn="3"' dom.html
check "no console or script errors" grep -q 'data-errors="\[\]"' dom.html
grep -o 'id="tm-self-check"[^>]*>[^<]*' dom.html | head -1

# A screenshot: the charts' blue and the examples' green and red highlights must be on it.
chrome --screenshot="$work/shot.png" --window-size=800,5000 --force-device-scale-factor=0.5 --hide-scrollbars "file://$work/bundle/report.html"
check "screenshot taken" [ -s shot.png ]
python3 - shot.png <<'PY' >colours.txt
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n"
pos, idat, width, height, colour_type = 8, b"", 0, 0, 0
while pos < len(data):
    length, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + length]
    if kind == b"IHDR":
        width, height, depth, colour_type = struct.unpack(">IIBB", body[:10])
        assert depth == 8 and colour_type in (2, 6)
    elif kind == b"IDAT":
        idat += body
    pos += 12 + length
channels = 4 if colour_type == 6 else 3
raw, stride, rows, previous = zlib.decompress(idat), width * channels, [], bytearray(width * channels)
for y in range(height):
    kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
    for x in range(stride):
        a = line[x - channels] if x >= channels else 0
        b = previous[x]
        c = previous[x - channels] if x >= channels else 0
        if kind == 1: line[x] = (line[x] + a) & 255
        elif kind == 2: line[x] = (line[x] + b) & 255
        elif kind == 3: line[x] = (line[x] + (a + b) // 2) & 255
        elif kind == 4:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    rows.append(line)
    previous = line
def count(rgb):
    return sum(1 for line in rows for x in range(0, stride, channels) if tuple(line[x:x + 3]) == rgb)
print("chart-blue", count((0x2c, 0x6f, 0xb7)))
print("green-highlight", count((0xb9, 0xef, 0xb4)))
print("red-highlight", count((0xf6, 0xb9, 0xb9)))
PY
cat colours.txt
check "the p-value curve (blue) is drawn" awk '$1 == "chart-blue" && $2 > 150 { found = 1 } END { exit !found }' colours.txt
check "green highlights are drawn" awk '$1 == "green-highlight" && $2 > 1000 { found = 1 } END { exit !found }' colours.txt
check "red highlights are drawn" awk '$1 == "red-highlight" && $2 > 1000 { found = 1 } END { exit !found }' colours.txt

# The PDF: pages, and the report's sections in its text.
pages=$(pdfinfo bundle/report.pdf | awk '/^Pages:/ { print $2 }')
echo "report.pdf: $pages pages"
check "the PDF has at least 3 pages" [ "${pages:-0}" -ge 3 ]
check "the PDF is A4 or Letter" bash -c 'pdfinfo bundle/report.pdf | grep -qE "Page size: +(595|612)"'
pdftotext -layout bundle/report.pdf report.txt
for section in "The question" "Verdict" "What the p-value means, and what it does not" "The method in plain words" \
  "Controls" "Charts" "Example responses" "Limits" "Inputs and keys" "Consistent with training on text watermarked"; do
  check "the PDF holds \"$section\"" grep -q "$section" report.txt
done
key_id=$(python3 -c 'import json; print(json.load(open("ours.json"))["key_id"])')
check "the PDF names the key" grep -q "$key_id" report.txt

# With a keyring (issue 15): the attribution section's chart draws too (four charts), without errors.
"$tracemark" keyring new --out ring.json --labels cohort:campaign-a,cohort:campaign-b,model:v1 --tokenizer gpt2 >/dev/null
"$tracemark" keyring derive ring.json cohort:campaign-a --out campaign-a.json >/dev/null
"$tracemark" synth --key campaign-a.json --out ring-marked.jsonl --count 30 --length 120 --seed 7 >/dev/null
expect 0 "Evidence bundle written" -- "$tracemark" scan --keyring ring.json --suspect ring-marked.jsonl --control clean.jsonl \
  --evidence ring-bundle --signing-key sign.pem --no-pdf
chrome --dump-dom "file://$work/ring-bundle/report.html" >ring-dom.html
check "four charts expected with a keyring" grep -q 'data-charts-expected="4"' ring-dom.html
check "four charts drew with a keyring" grep -q 'data-charts-drawn="4"' ring-dom.html
check "no errors with a keyring" grep -q 'data-errors="\[\]"' ring-dom.html
check "the verdict in words" grep -q "Verdict: attributed to cohort:campaign-a" ring-dom.html

# Sampling-scheme keys only (issue 18): the rates chart shows their per-tuple means; every chart
# draws without errors.
"$tracemark" keygen --scheme gumbel-max --tokenizer gpt2 --out gumbel.json >/dev/null
"$tracemark" keygen --scheme synthid-tournament --tokenizer gpt2 --out tournament.json >/dev/null
"$tracemark" synth --key gumbel.json --out gumbel-marked.jsonl --count 30 --length 120 --seed 8 >/dev/null
expect 0 "Evidence bundle written" -- "$tracemark" scan --key gumbel.json --key tournament.json --suspect gumbel-marked.jsonl \
  --control clean.jsonl --evidence sampling-bundle --signing-key sign.pem --no-pdf
chrome --dump-dom "file://$work/sampling-bundle/report.html" >sampling-dom.html
check "three charts drew for sampling schemes" grep -q 'data-charts-drawn="3"' sampling-dom.html
check "no errors for sampling schemes" grep -q 'data-errors="\[\]"' sampling-dom.html
check "the table shows the mean score" grep -qE "<td>mean score [0-9]+\.[0-9]{4}</td>" sampling-dom.html

finish
