#!/usr/bin/env python3
"""Prints JMH JSON results (one op = one 4 KiB block) in MB/s (10^6 bytes/s): the JMH score (mean
of the measurement iterations) and the min / max iteration, which on a shared, noisy machine say
more than JMH's 99.9% interval over 3 iterations."""
import json
import sys

print(f"{'benchmark':<38} {'params':<27} {'thr':>3} {'ops/s':>10} {'MB/s':>7} {'min':>7} {'max':>7}")
for path in sys.argv[1:]:
    with open(path) as f:
        results = json.load(f)
    for r in results:
        m = r["primaryMetric"]
        if m["scoreUnit"] != "ops/s":
            continue
        params = ",".join(f"{k}={v}" for k, v in sorted((r.get("params") or {}).items()))
        name = r["benchmark"].replace("org.jvdo.bench.", "")
        its = [x for fork in m.get("rawData", []) for x in fork]
        mb = lambda ops: ops * 4096 / 1e6
        lo = f"{mb(min(its)):7.0f}" if its else f"{'':>7}"
        hi = f"{mb(max(its)):7.0f}" if its else f"{'':>7}"
        print(f"{name:<38} {params:<27} {r['threads']:>3} {float(m['score']):10.0f} {mb(float(m['score'])):7.0f} {lo} {hi}")
