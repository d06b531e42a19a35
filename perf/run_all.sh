#!/usr/bin/env bash
# Runs the full weft_perf set the way docs/performance.md reports it: 1 worker, then 2 workers
# bracketed by the cross-core round-trip probe (shared/tools/corelat.c), 3 repetitions each with
# random interleaving (weft and oneTBB peers alternate in one process), JSON kept for
# perf/perf_table.py.
#
# usage: perf/run_all.sh BUILD_DIR OUT_DIR [extra weft_perf flags]
set -euo pipefail
build=${1:?build dir (e.g. build/perf)}
out=${2:?output dir}
shift 2
here=$(cd "$(dirname "$0")" && pwd)
bin="$build/perf/weft_perf"
mkdir -p "$out"

corelat_src="$here/../../shared/tools/corelat.c"
[ -f "$corelat_src" ] || corelat_src=/work/shared/tools/corelat.c
corelat=""
if [ -f "$corelat_src" ]; then
  corelat="$out/corelat"
  cc -O2 -pthread -o "$corelat" "$corelat_src"
fi
probe() {  # $1: label
  { date -Is; uptime; [ -n "$corelat" ] && "$corelat" quick; } > "$out/corelat_$1.txt" 2>&1 || true
}

common=(--benchmark_repetitions=3 --benchmark_report_aggregates_only=true
        --benchmark_enable_random_interleaving=true)

uptime > "$out/uptime_w1.txt"
"$bin" --benchmark_filter='/workers:1/' "${common[@]}" \
  --benchmark_out="$out/w1.json" --benchmark_out_format=json "$@" | tee "$out/w1.txt"
probe before_w2
"$bin" --benchmark_filter='/workers:2/' "${common[@]}" \
  --benchmark_out="$out/w2.json" --benchmark_out_format=json "$@" | tee "$out/w2.txt"
probe after_w2
python3 "$here/perf_table.py" "$out/w1.json" "$out/w2.json" > "$out/tables.md"
echo "tables: $out/tables.md"
