#!/usr/bin/python3
"""The distillation scan past one machine, on Dask distributed (issue 20).

Runs `tracemark scan`'s three distributed steps (verify/scan/include/tracemark/verify/scan_partition.hpp)
as Dask tasks:
  map     one task per input shard:   scan --emit-partitions N   -> N partition files (returned as bytes)
  reduce  one task per hash partition: scan --reduce-partition    -> partial counts (returned as bytes)
  merge   on the client:               scan --merge --json        -> the scan's report
Each distinct (context, token) tuple lands in exactly one partition, so it is deduplicated exactly
once; the merged report equals the single-process scan of the shards concatenated in order.

Intermediate data travels through Dask (task results), so workers need no shared disk for it; the
shards, the key files and any --reference-filter must be readable at the same paths on every worker
(a shared file system, or copies). A worker that dies mid-task is replaced and its task re-run by the
scheduler (tasks are pure: same inputs, same bytes out).

Usage (local cluster):   tools/dask_scan.py --tracemark build/release/tracemark --key k.json \
                             --partitions 8 --local-workers 4 shard-*.jsonl
Usage (multi-host):      dask-scheduler --port 8786                       (one host)
                         dask-worker tcp://SCHEDULER:8786 --nworkers 4 --nthreads 1   (every host)
                         tools/dask_scan.py --scheduler tcp://SCHEDULER:8786 ... shards
Prints the merged report (JSON, with a "distributed" section: partitions and shard digests).
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile


def run_tracemark(argv):
    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:2])} failed ({done.returncode}): {done.stderr.strip()}")
    return done.stdout


def emit_task(tracemark, key_args, scan_args, shard, partitions):
    """Map: the shard's partition files, as bytes, in partition order."""
    with tempfile.TemporaryDirectory(prefix="tm-emit-") as work:
        out = run_tracemark([tracemark, "scan", *key_args, *scan_args, "--threads", "1", "--suspect", shard,
                             "--emit-partitions", str(partitions), "--partition-out", os.path.join(work, "part")])
        paths = out.split()
        if len(paths) != partitions:
            raise RuntimeError(f"emit wrote {len(paths)} files, expected {partitions}")
        parts = []
        for path in paths:
            with open(path, "rb") as f:
                parts.append(f.read())
        return parts


def reduce_task(tracemark, key_args, partition, shard_parts, kill_marker=None):
    """Reduce: partition `partition` of every shard (in shard order) -> partial counts (bytes).
    kill_marker (tests only): the first attempt kills its own worker process with SIGKILL."""
    if kill_marker and not os.path.exists(kill_marker):
        with open(kill_marker, "w") as f:
            f.write(str(os.getpid()))
        os.kill(os.getpid(), signal.SIGKILL)
    with tempfile.TemporaryDirectory(prefix="tm-reduce-") as work:
        files = []
        for s, parts in enumerate(shard_parts):
            path = os.path.join(work, f"shard{s}.tmpart")
            with open(path, "wb") as f:
                f.write(parts[partition])
            files.append(path)
        out = os.path.join(work, "partial.json")
        run_tracemark([tracemark, "scan", *key_args, "--reduce-partition", ",".join(files), "--partial-out", out])
        with open(out, "rb") as f:
            return f.read()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("shards", nargs="+", help="suspect shards (JSON lines), in input order")
    parser.add_argument("--tracemark", required=True, help="the tracemark binary (same path on every worker)")
    parser.add_argument("--key", action="append", default=[], help="key file (repeat)")
    parser.add_argument("--keyring", help="keyring file")
    parser.add_argument("--labels", help="with --keyring: labels, comma-separated")
    parser.add_argument("--partitions", type=int, default=8)
    parser.add_argument("--scheduler", help="address of a running Dask scheduler (multi-host)")
    parser.add_argument("--local-workers", type=int, default=2, help="without --scheduler: local worker processes")
    parser.add_argument("--scan-arg", action="append", default=[],
                        help="further scan options for the map step, e.g. --scan-arg=--reference-filter=/abs/F (repeat; "
                             "absolute paths)")
    parser.add_argument("--kill-one-worker", metavar="MARKER",
                        help="tests only: the first attempt of partition 0's reduce kills its worker (SIGKILL)")
    args = parser.parse_args()
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        print("dask_scan: Dask distributed is missing; install python3-distributed (tools/setup.sh)", file=sys.stderr)
        return 3
    # Absolute paths: a worker's working folder is not the driver's.
    key_args = [a for k in args.key for a in ("--key", os.path.abspath(k))]
    if args.keyring:
        key_args += ["--keyring", os.path.abspath(args.keyring)] + (["--labels", args.labels] if args.labels else [])
    shards = [os.path.abspath(s) for s in args.shards]
    kill_marker = os.path.abspath(args.kill_one_worker) if args.kill_one_worker else None
    if args.scheduler:
        client = Client(args.scheduler)
        cluster = None
    else:
        cluster = LocalCluster(n_workers=args.local_workers, threads_per_worker=1, processes=True,
                               dashboard_address=None, silence_logs=40)
        client = Client(cluster)
    try:
        emitted = [client.submit(emit_task, args.tracemark, key_args, args.scan_arg, shard, args.partitions, pure=False)
                   for shard in shards]
        partials = [client.submit(reduce_task, args.tracemark, key_args, p, emitted,
                                  kill_marker if p == 0 else None, pure=False)
                    for p in range(args.partitions)]
        results = client.gather(partials)
        with tempfile.TemporaryDirectory(prefix="tm-merge-") as work:
            paths = []
            for p, data in enumerate(results):
                paths.append(os.path.join(work, f"partial{p}.json"))
                with open(paths[-1], "wb") as f:
                    f.write(data)
            report = run_tracemark([args.tracemark, "scan", *key_args, "--json", "--merge", ",".join(paths)])
        document = json.loads(report)
        document["distributed"]["engine"] = {"name": "dask.distributed", "workers": len(client.scheduler_info()["workers"])}
        print(json.dumps(document, indent=2))
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
