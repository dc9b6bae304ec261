#!/usr/bin/env bash
# The distributed scan on Dask (issue 20, tools/dask_scan.py): a local cluster of three worker
# processes scans three shards over four hash partitions; one worker is killed (SIGKILL) while it
# runs a reduce task, the scheduler re-runs the task elsewhere, and the merged report equals the
# single-process scan of the shards concatenated. Skipped (77) without Dask distributed.
# Usage: dask_scan_cli_test.sh PATH/TO/tracemark
set -u
driver="$(realpath "$(dirname "$0")/../../tools/dask_scan.py")"
source "$(dirname "$0")/cli_test_lib.sh" "$1"
if ! /usr/bin/python3 -c "import distributed" 2>/dev/null; then
  echo "SKIP: Dask distributed (python3-distributed) is not installed"
  exit 77
fi

"$tracemark" keygen --out ours.json --vocab-size 2000 >/dev/null
"$tracemark" keygen --out wide.json --vocab-size 2000 --context-width 3 >/dev/null
"$tracemark" synth --key ours.json --out marked.jsonl --count 60 --length 120 --seed 5 >/dev/null
"$tracemark" synth --vocab-size 2000 --out clean.jsonl --count 30 --length 120 --seed 6 >/dev/null
# Repeated tuples across shards: the first shard is repeated inside the last one.
head -n 25 marked.jsonl > shard1.jsonl
tail -n +26 marked.jsonl > shard2.jsonl
cat clean.jsonl shard1.jsonl > shard3.jsonl
cat shard1.jsonl shard2.jsonl shard3.jsonl > whole.jsonl

"$tracemark" scan --key ours.json --key wide.json --suspect whole.jsonl --json > single.json
/usr/bin/python3 "$driver" --tracemark "$tracemark" --key ours.json --key wide.json --partitions 4 --local-workers 3 \
  --kill-one-worker killed.marker shard1.jsonl shard2.jsonl shard3.jsonl > dask.json 2> dask.err
check "the Dask driver succeeded" test -s dask.json
check "a worker was killed during the run" test -s killed.marker
/usr/bin/python3 - <<'PY' > compare.txt
import hashlib, json
single = json.load(open("single.json"))
dask = json.load(open("dask.json"))
def figures(doc):
    keys = []
    for key in doc["suspect"]["keys"]:
        keys.append({k: v for k, v in key.items() if k != "trace"})
    return keys
same = figures(single) == figures(dask) and single["suspect"]["records"] == dask["suspect"]["records"]
print("same" if same else "DIFFERENT\n" + json.dumps(figures(single)) + "\n" + json.dumps(figures(dask)))
d = dask["distributed"]
digests = [hashlib.sha256(open(f"shard{i}.jsonl", "rb").read()).hexdigest() for i in (1, 2, 3)]
print("partitions", d["partitions"], "shards", [s["sha256"] for s in d["shards"]] == digests, "engine", d["engine"]["name"])
print("scored", figures(single)[0]["scored"], "repeated", figures(single)[0]["skipped_repeated_tuple"])
PY
check "the Dask run equals the single process: $(head -c 300 compare.txt)" grep -qx same compare.txt
check "the report records 4 partitions and the shards' SHA-256" grep -q "partitions 4 shards True engine dask.distributed" compare.txt
check "repeated tuples were deduplicated across shards" grep -qE "repeated [1-9][0-9]{3,}" compare.txt
[[ $failed -gt 0 ]] && sed 's/^/    dask: /' dask.err | tail -20

# The steps refuse what they cannot do: a distributed step with --evidence, a merge with a partition missing.
expect 2 "no --control or --evidence" -- "$tracemark" scan --key ours.json --suspect shard1.jsonl --emit-partitions 2 \
  --partition-out p --evidence bundle --signing-key none
"$tracemark" scan --key ours.json --suspect shard1.jsonl --emit-partitions 2 --partition-out p >/dev/null
"$tracemark" scan --key ours.json --reduce-partition p.0-of-2.tmpart --partial-out partial0.json
expect 2 "partition 1 of 2 is missing" -- "$tracemark" scan --key ours.json --merge partial0.json
finish
