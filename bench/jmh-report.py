#!/usr/bin/env python3
"""Prints JMH JSON results (one op = one 4 KiB block) as MB/s and MiB/s, one line per result."""
import json
import sys

rows = []
for path in sys.argv[1:]:
    with open(path) as f:
        for r in json.load(f):
            m = r["primaryMetric"]
            unit = m["scoreUnit"]
            if unit != "ops/s":
                continue
            params = ",".join(f"{k}={v}" for k, v in sorted((r.get("params") or {}).items()))
            name = r["benchmark"].replace("org.jvdo.bench.", "")
            try:
                err = float(m.get("scoreError"))
            except (TypeError, ValueError):
                err = None
            if err is not None and err != err:  # NaN: a single measurement iteration
                err = None
            rows.append((name, params, r["threads"], float(m["score"]), err))

print(f"{'benchmark':<38} {'params':<28} {'thr':>3} {'ops/s':>12} {'MB/s':>9} {'± MB/s':>8} {'MiB/s':>9}")
for name, params, thr, score, err in rows:
    mb = score * 4096 / 1e6
    e = f"{err * 4096 / 1e6:8.0f}" if err is not None else f"{'':>8}"
    print(f"{name:<38} {params:<28} {thr:>3} {score:12.0f} {mb:9.0f} {e} {score * 4096 / 1048576:9.0f}")
