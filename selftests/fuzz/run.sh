#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# Run the fuzz targets (built by 'make fuzz-build' into .output-fuzz/fuzz/)
# and the datapath mutation run (.output/fuzz_datapath). Every target first
# replays its checked-in crash reproducers (selftests/fuzz/crashes/<target>/),
# then fuzzes SECONDS from its seed corpus (selftests/fuzz/corpus/<target>/).
# Prints executions, time and inputs in the working corpus (new ones only with
# --smoke) per target, then "N passed, N failed".
#
# Usage: selftests/fuzz/run.sh [--smoke] SECONDS DATAPATH_RUNS [TARGET...]
#   --smoke  what 'make test' runs: new inputs go to a temporary directory;
#            without it they are kept in .output-fuzz/corpus/<target>/ and a
#            crash is copied to selftests/fuzz/crashes/<target>/ to check in.
set -u

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT" || exit 2
smoke=0
if [ "${1:-}" = "--smoke" ]; then
	smoke=1
	shift
fi
if [ $# -lt 2 ]; then
	sed -n '4,15p' "$0" | sed 's/^# \{0,1\}//'
	exit 2
fi
seconds=$1
dp_runs=$2
shift 2
bins=.output-fuzz/fuzz
work=$(mktemp -d /tmp/warmpath-fuzz.XXXXXX)
trap 'rm -rf "$work"' EXIT
pass=0
fail=0
rows=()

elapsed()
{
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'
}

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
	for b in "$bins"/fuzz_*; do
		[ -x "$b" ] && targets+=("$(basename "$b" | sed 's/^fuzz_//')")
	done
fi
if [ ${#targets[@]} -eq 0 ]; then
	echo "fuzz: no targets in $bins ('make fuzz-build' builds them)" >&2
	exit 2
fi

# sanitizer reports fail the run; libFuzzer keeps its own output on a dup of stderr
export ASAN_OPTIONS=halt_on_error=1:abort_on_error=1:detect_leaks=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1

for t in "${targets[@]}"; do
	bin=$bins/fuzz_$t
	seeds=selftests/fuzz/corpus/$t
	crashes=selftests/fuzz/crashes/$t
	log=$work/$t.log
	verdict=ok
	replayed=0

	if [ ! -x "$bin" ]; then
		rows+=("$(printf '%-12s not built' "$t")")
		fail=$((fail + 1))
		continue
	fi
	# 1. the reproducers: each input once
	if [ -d "$crashes" ] && [ -n "$(ls -A "$crashes")" ]; then
		replayed=$(find "$crashes" -type f | wc -l)
		if ! "$bin" -runs=1 "$crashes"/* >"$work/$t.replay" 2>&1; then
			verdict="REPRODUCER CRASHES"
			grep -m3 -E 'ERROR|SUMMARY|fuzz check|Running:' "$work/$t.replay" | sed 's/^/    /'
		fi
	fi
	# 2. fuzz from the seeds
	if [ $smoke = 1 ]; then
		corpus=$work/corpus-$t
	else
		corpus=.output-fuzz/corpus/$t
	fi
	mkdir -p "$corpus" "$work/art-$t"
	t0=$(date +%s.%N)
	timeout -k 10 $((seconds + 60)) "$bin" -max_total_time="$seconds" -print_final_stats=1 \
		-close_fd_mask=3 -max_len=8192 -timeout=10 -rss_limit_mb=1024 \
		-artifact_prefix="$work/art-$t/" "$corpus" $([ -d "$seeds" ] && echo "$seeds") \
		>"$log" 2>&1
	rc=$?
	t1=$(date +%s.%N)
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	if [ $rc != 0 ]; then
		if [ "$verdict" = ok ]; then
			verdict="CRASH (exit $rc)"
		else
			verdict="$verdict, CRASH (exit $rc)"
		fi
		grep -m3 -E 'ERROR|SUMMARY|fuzz check' "$log" | sed 's/^/    /'
		for a in "$work/art-$t"/*; do
			[ -e "$a" ] || continue
			if [ $smoke = 0 ]; then
				mkdir -p "$crashes"
				cp "$a" "$crashes/"
				echo "    reproducer: $crashes/$(basename "$a") (check it in)"
			else
				echo "    reproducer: $(base64 -w0 <"$a" | head -c 200)"
			fi
		done
	fi
	if [ "$verdict" = ok ]; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
	fi
	rows+=("$(awk -v t="$t" -v e="${execs:-0}" -v s="$(elapsed "$t0" "$t1")" \
		-v c="$(find "$corpus" -type f | wc -l)" -v r="$replayed" -v v="$verdict" \
		'BEGIN { printf "%-12s %10d execs %6.1f s %9d/s  inputs %4d  reproducers %d  %s", \
			t, e, s, (s > 0 ? e / s : 0), c, r, v }')")
done

# the datapath: reproducers, then mutated packets
if [ -x .output/fuzz_datapath ]; then
	dp_crashes=selftests/fuzz/crashes/datapath
	out=$dp_crashes
	[ $smoke = 1 ] && out=$work
	mkdir -p "$out"
	verdict=ok
	if [ -d "$dp_crashes" ] && [ -n "$(ls -A "$dp_crashes")" ]; then
		.output/fuzz_datapath "$dp_crashes"/* >"$work/dp.replay" 2>&1 || verdict="REPRODUCER FAILS"
	fi
	t0=$(date +%s.%N)
	.output/fuzz_datapath -n "$dp_runs" -o "$out" >"$work/dp.log" 2>&1 || verdict="FAILED"
	t1=$(date +%s.%N)
	grep -E '^(fuzz_datapath:|FAIL|reproducer:)' "$work/dp.log" | head -5 | sed 's/^/    /'
	if [ "$verdict" = ok ]; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
	fi
	rows+=("$(awk -v n="$dp_runs" -v s="$(elapsed "$t0" "$t1")" -v v="$verdict" \
		'BEGIN { printf "%-12s %10d pkts  %6.1f s %9d/s  %s", "datapath", n, s, (s > 0 ? n / s : 0), v }')")
else
	echo "fuzz: .output/fuzz_datapath not built: datapath run skipped" >&2
	fail=$((fail + 1))
fi

echo "=== fuzz ($([ $smoke = 1 ] && echo "smoke, ")${seconds}s per target)"
for r in "${rows[@]}"; do
	echo "  $r"
done
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
