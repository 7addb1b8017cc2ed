#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# warmpath test suite: the unit tests (.output/test_progs, BPF_PROG_TEST_RUN on
# crafted packets) then every device test in selftests/netns/test_*.sh. Each
# part ends with "N passed, N failed"; this script adds them up and prints one
# final "N passed, N failed". A part that crashes, times out or prints no
# summary counts as one failure. Exits non-zero if anything failed.
#
# Usage: sudo selftests/run.sh [FILTER]
#   FILTER  run only the parts whose name contains it (e.g. veth, wireguard,
#           errors, unit)
# Environment: WARMPATH (binary, default ./warmpath), WP_TEST_TIMEOUT (seconds
# per part, default 300; a test that needs longer says so in a line
# "# wp-test-timeout: N" of its header, and gets the larger of both).

set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
FILTER=${1:-}
TIMEOUT=${WP_TEST_TIMEOUT:-300}

case "$FILTER" in
-h | --help)
	sed -n '4,16p' "$0" | sed 's/^# \{0,1\}//'
	exit 0
	;;
esac

if [ "$(id -u)" != 0 ]; then
	echo "selftests/run.sh: must run as root (BPF programs, network namespaces, bpffs):" >&2
	echo "  sudo make test" >&2
	exit 2
fi

# the device tests pin under /sys/fs/bpf: a fresh machine may have no bpffs there
if [ "$(stat -f -c %T /sys/fs/bpf 2>/dev/null)" != bpf_fs ]; then
	mkdir -p /sys/fs/bpf && mount -t bpf bpf /sys/fs/bpf && echo "# mounted a bpffs at /sys/fs/bpf"
fi

total_pass=0
total_fail=0
results=()
start=$(date +%s)

# run_part NAME CMD...: run one part, stream its output, add up its summary.
# PART_TIMEOUT, when set, is that part's time limit.
run_part()
{
	local name=$1 log rc line p f t0 limit=${PART_TIMEOUT:-$TIMEOUT}

	shift
	log=$(mktemp /tmp/warmpath-test.XXXXXX)
	t0=$(date +%s)
	echo "=== $name"
	timeout -k 10 "$limit" "$@" 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -1)
	rm -f "$log"
	if [ -z "$line" ]; then
		p=0
		f=1
		if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
			echo "not ok $name: timed out after ${limit}s"
		else
			echo "not ok $name: crashed (exit $rc) without a summary"
		fi
	else
		p=${line%% passed*}
		f=${line#*passed, }
		f=${f%% failed}
		if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
			echo "not ok $name: exit $rc although no check failed"
			f=1
		fi
	fi
	total_pass=$((total_pass + p))
	total_fail=$((total_fail + f))
	results+=("$(printf '%-28s %4d passed, %d failed (%ds)' "$name" "$p" "$f" \
		$(($(date +%s) - t0)))")
}

want()
{
	[ -z "$FILTER" ] || [[ "$1" == *"$FILTER"* ]]
}

cd "$ROOT" || exit 2
if [ -z "${WARMPATH:-}" ] && [ ! -x ./warmpath ]; then
	echo "selftests/run.sh: ./warmpath not built: run 'make test' (or 'make' first)" >&2
	exit 2
fi

if want unit/test_progs; then
	if [ -x .output/test_progs ]; then
		run_part unit/test_progs ./.output/test_progs
	else
		echo "# .output/test_progs not built ('make test' builds it): unit tests skipped"
	fi
fi
for t in selftests/netns/test_*.sh; do
	[ -e "$t" ] || continue
	name=netns/$(basename "$t" .sh)
	want "$name" || continue
	own=$(sed -n '1,10s/^# wp-test-timeout: \([0-9][0-9]*\)$/\1/p' "$t" | head -1)
	PART_TIMEOUT=$TIMEOUT
	[ -n "$own" ] && [ "$own" -gt "$TIMEOUT" ] && PART_TIMEOUT=$own
	PART_TIMEOUT=$PART_TIMEOUT run_part "$name" "$t"
done

echo "=== summary ($(($(date +%s) - start))s)"
for r in "${results[@]}"; do
	echo "  $r"
done
if [ ${#results[@]} -eq 0 ]; then
	echo "selftests/run.sh: no test matches '$FILTER'" >&2
	total_fail=1
fi
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
