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
PART_TIMEOUT=${VMTEST_PART_TIMEOUT:-300}
# an agent start takes 11-17 s under TCG: lib.sh's agent_start waits this long
# in every part, the netns suites' included
export WP_START_TIMEOUT=${WP_START_TIMEOUT:-90}

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

# The parts (name, script), in the order the summary lists them; they run
# VMTEST_JOBS at a time (default: one per CPU), longest first (VMTEST_FIRST:
# the parts known to take longest; the others follow in this order). Every
# part is tagged (namespaces, pins, links), so parts do not see each other.
names=()
files=()
for t in selftests/vm/test_*.sh; do
	[ -e "$t" ] || continue
	name=vm/$(basename "$t" .sh)
	want "$name" || continue
	names+=("$name")
	files+=("$t")
done
for s in $VMTEST_NETNS; do
	[ "$s" = none ] && continue
	t=selftests/netns/test_$s.sh
	name=netns/test_$s
	want "$name" || continue
	if [ ! -e "$t" ]; then
		echo "not ok $name: no such suite"
		total_fail=$((total_fail + 1))
		continue
	fi
	names+=("$name")
	files+=("$t")
done
order=()
for f in ${VMTEST_FIRST:-vm/test_tunnels vm/test_leastpriv netns/test_wireguard_nat vm/test_tc}; do
	for i in "${!names[@]}"; do
		[ "${names[$i]}" = "$f" ] && order+=("$i")
	done
done
for i in "${!names[@]}"; do
	[[ " ${order[*]} " == *" $i "* ]] || order+=("$i")
done
JOBS=${VMTEST_JOBS:-$(nproc)}
[ "$JOBS" -ge 1 ] 2>/dev/null || JOBS=1
OUT=$(mktemp -d /tmp/vmtest-parts.XXXXXX)
echo 0 >"$OUT/next"

# run_part I: part I bounded by PART_TIMEOUT, its output into OUT/I.log (and
# on the console at once when it runs alone, else whole when it ends, one
# part at a time), "PASSED FAILED SECONDS" into OUT/I.res. A part that
# crashes, times out or prints no summary counts as one failure.
run_part()
{
	local i=$1 name=${names[$1]} log=$OUT/$1.log rc line p f t0 verdict

	t0=$(date +%s)
	if [ "$JOBS" = 1 ]; then
		echo "=== $name"
		timeout -k 10 "$PART_TIMEOUT" /usr/bin/bash "${files[$i]}" 2>&1 | tee "$log"
		rc=${PIPESTATUS[0]}
	else
		timeout -k 10 "$PART_TIMEOUT" /usr/bin/bash "${files[$i]}" >"$log" 2>&1
		rc=$?
	fi
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -1)
	verdict=
	if [ -z "$line" ]; then
		p=0
		f=1
		if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
			verdict="not ok $name: timed out after ${PART_TIMEOUT}s"
		else
			verdict="not ok $name: crashed (exit $rc) without a summary"
		fi
	else
		p=${line%% passed*}
		f=${line#*passed, }
		f=${f%% failed}
		if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
			verdict="not ok $name: exit $rc although no check failed"
			f=1
		fi
	fi
	[ -n "$verdict" ] && echo "$verdict" >>"$log"
	echo "$p $f $(($(date +%s) - t0))" >"$OUT/$i.res"
	if [ "$JOBS" = 1 ]; then
		[ -n "$verdict" ] && echo "$verdict"
	else
		{
			flock 9
			echo "=== $name ($(($(date +%s) - t0)) s)"
			cat "$log"
		} 9>"$OUT/print.lock"
	fi
	return 0
}

# worker: take the next part in ORDER until none is left
worker()
{
	local k

	while :; do
		k=$({
			flock 8
			read -r k <"$OUT/next"
			echo $((k + 1)) >"$OUT/next"
			echo "$k"
		} 8>"$OUT/next.lock")
		[ "$k" -lt "${#order[@]}" ] || return 0
		run_part "${order[$k]}"
	done
}

t_parts=$(date +%s)
[ "$JOBS" -gt 1 ] && echo "vmtest: ${#names[@]} parts, $JOBS at a time"
for _ in $(seq "$JOBS"); do
	worker &
done
wait
for i in "${!names[@]}"; do
	if [ -s "$OUT/$i.res" ]; then
		read -r p f secs <"$OUT/$i.res"
	else
		p=0 f=1 secs=0
		echo "not ok ${names[$i]}: never ran"
	fi
	total_pass=$((total_pass + p))
	total_fail=$((total_fail + f))
	results+=("$(printf '%-24s %4d passed, %d failed (%ds)' "${names[$i]}" "$p" "$f" "$secs")")
done
rm -rf -- "$OUT"

echo "=== vmtest summary (kernel $(uname -r), $(cut -d' ' -f1 /proc/uptime) s since boot;" \
	"parts: $(($(date +%s) - t_parts)) s, $JOBS at a time)"
for r in "${results[@]}"; do
	echo "  $r"
done
if [ ${#results[@]} -eq 0 ]; then
	echo "not ok vmtest: no part matches '$VMTEST_FILTER'"
	total_fail=$((total_fail + 1))
fi
echo "vmtest: $total_pass passed, $total_fail failed"
