#!/usr/bin/env bash
# The campaigns report (`tracemark campaigns --html-out`) in a real browser: headless Chromium renders
# it; the page's own self-check (written into the DOM) must say that every chart painted and that no
# script error, console error or blocked request happened. The page must be self-contained (a
# Content-Security-Policy that forbids every request, no external reference) and name the flagged
# accounts with the families that tie them. A report with no cluster renders cleanly too.
# Usage: campaigns_browser_test.sh PATH/TO/tracemark
set -u
source "$(dirname "$0")/cli_test_lib.sh" "$1"

browser=${TRACEMARK_CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
if [[ -z $browser ]]; then
  echo "FAIL: chromium is needed (tools/setup.sh installs it)"
  exit 1
fi
sandbox=()
[[ $(id -u) -eq 0 ]] && sandbox=(--no-sandbox)
chrome() { timeout 120 "$browser" --headless --disable-gpu --no-first-run --user-data-dir="$work/profile" "${sandbox[@]}" "$@" 2>/dev/null; }

expect 0 "" -- "$tracemark" simulate traffic --out day.jsonl --truth truth.tsv --exchanges 30000 --scale 0.0004 --days 0.25 --seed 7
expect 0 "cluster\(s\) flagged" -- "$tracemark" campaigns --audit-log day.jsonl --html-out report.html --accounts-out flagged.tsv
check "Content-Security-Policy forbids requests" grep -q "default-src 'none'" report.html
check "no external script, style or image" bash -c '! grep -qiE "(src|href)=\"(https?:)?//" report.html'
chrome --dump-dom "file://$work/report.html" >dom.html
check "dom dumped" [ -s dom.html ]
expected=$(grep -o 'data-charts-expected="[0-9]*"' dom.html | grep -o '[0-9]*')
check "charts expected: the overview and one timeline per cluster ($expected)" [ "${expected:-0}" -ge 3 ]
check "every chart drew" grep -q "data-charts-drawn=\"$expected\"" dom.html
check "no console or script errors" grep -q 'data-errors="\[\]"' dom.html
grep -o 'id="tm-self-check"[^>]*>[^<]*' dom.html | head -1
check "every flagged account is named, with the families that tie it" python3 - <<'PY'
import re
dom = open("dom.html").read()
for line in open("flagged.tsv"):
    if line.startswith("#"):
        continue
    account, cluster = line.rstrip("\n").split("\t")
    row = re.search(re.escape(account) + r"</td><td>\d+</td><td>(.*?)</td>", dom)
    assert row, account
    assert len(re.findall(r'class="tag (infrastructure|content|timing)"', row.group(1))) >= 2, (account, row.group(1))
    assert 'id="' + cluster + '"' in dom
for section in ("Summary", "How to read this", "Clusters", "Shared infrastructure", "Prompt templates", "Strongest links"):
    assert section in dom, section
PY

# A log with no campaign: the page says so, draws nothing and has no errors.
expect 0 "" -- "$tracemark" simulate traffic --out benign.jsonl --truth benign.tsv --exchanges 3000 --scale 0 --seed 4
expect 0 "No cluster is flagged" -- "$tracemark" campaigns --audit-log benign.jsonl --html-out none.html
chrome --dump-dom "file://$work/none.html" >none-dom.html
check "an empty report renders: no charts, no errors, says nothing is flagged" bash -c \
  'grep -q "data-charts-expected=\"0\"" none-dom.html && grep -q "data-errors=\"\[\]\"" none-dom.html && grep -q "No cluster is flagged" none-dom.html'

finish
