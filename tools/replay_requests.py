#!/usr/bin/python3
"""Sends recorded requests to a running `tracemark serve`, as their accounts would (used by
tools/run-main.sh and bench/attribution_campaigns.py to serve simulated traffic through the real
serving path: key policy, audit log, HTTP).

Input: JSON lines {"path": "/v1/chat/completions" or "/v1/completions", "key": API key, "body": the
OpenAI request body}. Sent in file order by THREADS workers; any HTTP error stops with its status and
the server's message (a request the server refused is never silently dropped).

Usage: replay_requests.py PORT REQUESTS.jsonl [THREADS]
"""
import concurrent.futures
import json
import sys
import urllib.error
import urllib.request


def send(port, record):
    request = urllib.request.Request("http://127.0.0.1:%s%s" % (port, record["path"]), data=json.dumps(record["body"]).encode(),
                                     headers={"Authorization": "Bearer " + record["key"], "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=300) as response:
            response.read()
    except urllib.error.HTTPError as e:
        raise SystemExit("replay_requests: the server answered %d to a request for %s: %s"
                         % (e.code, record["path"], e.read().decode("utf-8", "replace")[:300]))


def replay(port, path, threads=2):
    records = [json.loads(line) for line in open(path)]
    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda r: send(port, r), records))
    return len(records)


if __name__ == "__main__":
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    replay(sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) == 4 else 2)
