#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# Runs inside the vmtest guest (started by selftests/vm/init): every
# selftests/vm/test_*.sh, then the netns suites named in VMTEST_NETNS, each
# bounded by a timeout. Each part ends with "N passed, N failed"; a part that
# crashes, times out or prints no summary counts as one failure. The last line
# is "vmtest: N passed, N failed", which scripts/vmtest.sh reads on the host.

set -u
. /etc/vmtest.env
cd /wp || exit 1
PART_TIMEOUT=${VMTEST_PART_TIMEOUT:-240}

total_pass=0
total_fail=0
results=()

echo "vmtest: kernel $(uname -r), booted in $(cut -d' ' -f1 /proc/uptime) s," \
	"$(nproc) CPU, $(awk '/MemTotal/ { print int($2 / 1024) }' /proc/meminfo) MiB"
echo "vmtest: modules: $(cut -d' ' -f1 /proc/modules | sort | tr '\n' ' ')"

# want NAME: no filter, or NAME contains one of its words
want()
{
	local w

	[ -z "$VMTEST_FILTER" ] && return 0
	for w in $VMTEST_FILTER; do
		[[ "$1" == *"$w"* ]] && return 0
	done
	return 1
}

# run_part NAME CMD...: one part, its output streamed, its summary added up
run_part()
{
	local name=$1 log rc line p f t0

	shift
	log=$(mktemp /tmp/vmtest-part.XXXXXX)
	t0=$(date +%s)
	echo "=== $name"
	timeout -k 10 "$PART_TIMEOUT" "$@" 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -1)
	rm -f "$log"
	if [ -z "$line" ]; then
		p=0
		f=1
		if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
			echo "not ok $name: timed out after ${PART_TIMEOUT}s"
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
	results+=("$(printf '%-24s %4d passed, %d failed (%ds)' "$name" "$p" "$f" \
		$(($(date +%s) - t0)))")
}

for t in selftests/vm/test_*.sh; do
	[ -e "$t" ] || continue
	name=vm/$(basename "$t" .sh)
	want "$name" && run_part "$name" /usr/bin/bash "$t"
done
for s in $VMTEST_NETNS; do
	[ "$s" = none ] && continue
	t=selftests/netns/test_$s.sh
	name=netns/test_$s
	if [ ! -e "$t" ]; then
		echo "not ok $name: no such suite"
		total_fail=$((total_fail + 1))
		continue
	fi
	want "$name" && run_part "$name" /usr/bin/bash "$t"
done

echo "=== vmtest summary (kernel $(uname -r), $(cut -d' ' -f1 /proc/uptime) s since boot)"
for r in "${results[@]}"; do
	echo "  $r"
done
if [ ${#results[@]} -eq 0 ]; then
	echo "not ok vmtest: no part matches '$VMTEST_FILTER'"
	total_fail=$((total_fail + 1))
fi
echo "vmtest: $total_pass passed, $total_fail failed"
