#!/usr/bin/env python3
"""Turns weft_perf JSON output into the markdown tables of docs/performance.md.

Usage: perf_table.py RESULT.json [RESULT.json ...]

Expects runs made with --benchmark_repetitions=N --benchmark_report_aggregates_only=true (the
median and min aggregates; min is registered by perf/common.hpp). Each workload gets one table:
weft and, where there is one, the oneTBB peer per worker count, the weft/tbb ratio, and whether
the target is met. Targets are judged on the median wall-clock ns_per_op (or time) of the
repetitions; the min is shown beside it because on a shared machine it is the run least disturbed
by other load, and so is the process's CPU time per op (all threads), which leaves out time spent
preempted.
"""
import json
import re
import sys
from collections import defaultdict

# workload -> (metric, limit, description). metric "ratio" compares weft's time with tbb's.
TARGETS = {
    "spawn_many": ("ns_per_op", 40, "≤ 40 ns per task"),
    "yield_many": ("ns_per_op", 30, "≤ 30 ns per yield"),
    "ping_pong": ("ns_per_op", 80, "≤ 80 ns per round trip"),
    "chained_spawn": ("ns_per_op", 60, "≤ 60 ns per task"),
    "call_soon_threadsafe": ("ns_per_op", 60, "≤ 60 ns per callback"),
    "to_thread": ("ns_per_op", 1500, "≤ 1.5 µs per call"),
    "fib30": ("ratio", 0.5, "weft time ≤ 0.5 × oneTBB time"),
    "skynet": ("ratio", 0.5, "weft time ≤ 0.5 × oneTBB time"),
    "timers": ("mean_overshoot_us", 1000, "mean overshoot ≤ 1 ms"),
}
ORDER = list(TARGETS)
NAME = re.compile(r"^(?P<w>[a-z_0-9]+)/(?P<rt>weft|tbb)/workers:(?P<n>\d+)")


def to_ms(b):
    scale = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}[b["time_unit"]]
    return b["real_time"] * scale


def fmt_ns(v):
    return f"{v / 1000:.2f} µs" if v >= 1000 else f"{v:.1f} ns"


def main(paths):
    # (workload, runtime, workers) -> {aggregate: benchmark entry}
    rows = defaultdict(dict)
    contexts = []
    for p in paths:
        with open(p) as f:
            data = json.load(f)
        contexts.append((p, data["context"]))
        for b in data["benchmarks"]:
            m = NAME.match(b["run_name"] if "run_name" in b else b["name"])
            if not m:
                continue
            agg = b.get("aggregate_name", "single")
            rows[(m["w"], m["rt"], int(m["n"]))][agg] = b
    for p, c in contexts:
        print(f"<!-- {p}: {c['date']}, load_avg {', '.join(f'{x:.2f}' for x in c['load_avg'])} -->")
    for w in ORDER:
        workers = sorted({n for (ww, _, n) in rows if ww == w})
        if not workers:
            continue
        metric, limit, desc = TARGETS[w]
        print(f"\n#### {w} — target {desc}\n")
        if metric == "ratio":
            print("| workers | weft time (median / min) | oneTBB time (median / min) | weft/tbb wall (median) | weft/tbb CPU (median) | target |")
            print("|---|---|---|---|---|---|")
        elif metric == "mean_overshoot_us":
            print("| workers | wall time (median) | mean overshoot (median / min) | p99 overshoot | max overshoot | start burst | mean overshoot after burst | target |")
            print("|---|---|---|---|---|---|---|---|")
        else:
            print("| workers | ns_per_op wall (median / min) | CPU ns per op, all threads (median) | page faults / 1k ops | target |")
            print("|---|---|---|---|---|")
        for n in workers:
            wf = rows.get((w, "weft", n), {})
            med, mn = wf.get("median") or wf.get("single"), wf.get("min") or wf.get("single")
            if med is None:
                continue
            lost = med.get("lost_wakeups")
            note = f" (lost_wakeups rescued: {lost:.0f})" if lost else ""
            if metric == "ratio":
                tb = rows.get((w, "tbb", n), {})
                tmed, tmin = tb.get("median") or tb.get("single"), tb.get("min") or tb.get("single")
                ratio = to_ms(med) / to_ms(tmed)
                cpu = med.get("cpu_ns_per_op")
                tcpu = tmed.get("cpu_ns_per_op")
                cpu_s = f"{cpu / tcpu:.2f}×" if cpu and tcpu else "–"
                ok = "met" if ratio <= limit else "**missed**"
                print(f"| {n} | {to_ms(med):.1f} / {to_ms(mn):.1f} ms | {to_ms(tmed):.1f} / {to_ms(tmin):.1f} ms "
                      f"| {ratio:.2f}× | {cpu_s} | {ok}{note} |")
            elif metric == "mean_overshoot_us":
                v = med["mean_overshoot_us"]
                ok = "met" if v <= limit else "**missed**"
                late = med.get("mean_overshoot_late_us")
                late_s = f"{late / 1000:.2f} ms" if late is not None else "–"
                print(f"| {n} | {to_ms(med):.0f} ms | {v / 1000:.2f} / {mn['mean_overshoot_us'] / 1000:.2f} ms "
                      f"| {med['p99_overshoot_us'] / 1000:.2f} ms | {med['max_overshoot_us'] / 1000:.2f} ms "
                      f"| {med.get('start_burst_ms', 0):.0f} ms | {late_s} | {ok}{note} |")
            else:
                v = med[metric]
                ok = "met" if v <= limit else "**missed**"
                extra = ""
                tb = rows.get((w, "tbb", n), {})
                tmed = tb.get("median") or tb.get("single")
                if tmed is not None:
                    extra = f"; oneTBB {fmt_ns(tmed['ns_per_op'])}, weft/tbb {v / tmed['ns_per_op']:.2f}×"
                cpu = med.get("cpu_ns_per_op")
                cpu_s = fmt_ns(cpu) if cpu is not None else "–"
                print(f"| {n} | {fmt_ns(v)} / {fmt_ns(mn[metric])} | {cpu_s} "
                      f"| {med.get('faults_per_kop', 0):.1f} | {ok}{extra}{note} |")


if __name__ == "__main__":
    main(sys.argv[1:])
