#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# wp-test-timeout: 720
#
# Learning each path's lifetime (issue 16), in the lifetime lab
# (scripts/lab_lifetime.sh, LAB=wplt, LAB_INDEX=3): a1 behind a NAT whose UDP
# mappings expire after 6 s, c1 behind a second NAT with 20 s, b1 public;
# pairs a1-b1 and c1-b1, wireguard-go, VXLAN pods, one agent per node.
#
#   1. ground truth, no agents: after an exchange and G s of silence, does one
#      datagram from b1 get in? Just below and just above the expected lifetime
#      (6 s; 20 + 10 s: WireGuard's keepalive 10 s after the exchange refreshes
#      a mapping that is still there).
#   2. baseline, --mode idle --keepalive-interval 4 (safe for the 6 s site): a
#      connection from b1 after 32 s without workload loses no SYN (nftables:
#      SYNs that left b1 vs arrived); probe exchanges per minute per pair.
#   3. learning, --keepalive-interval auto:4-60, --lifetime-trial-idle 5
#      --lifetime-trial-every 0: within 300 s (the issue's goal) each end's
#      lifetime_lower_seconds of every pair is in [0.7 x truth, truth] (/peers),
#      and stays there once the search has converged (within 420 s); two
#      workload connections per pair from b1 meanwhile: at most one per pair has
#      its first packet hit by a trial (loses its SYN), and the agents'
#      warmpath_lifetime_trial_workload_hits_total equals the SYNs lost.
#   4. cost and safety after learning: an idle window of 2 x the longest
#      lifetime (+1 s); probe exchanges per minute vs the baseline, <= 0.35x on
#      the 20 s site; then a connection from b1 on every pair loses no SYN.
#   5. teardown leaves nothing of the lab.

# shellcheck source=selftests/lib.sh
. "$(dirname "$0")/../lib.sh"
wp_require_root
export LAB=wplt LAB_INDEX=3
# shellcheck source=scripts/lab.sh
. "$(dirname "$0")/../../scripts/lab.sh"
# shellcheck source=scripts/lab_lifetime.sh
. "$(dirname "$0")/../../scripts/lab_lifetime.sh"
lab_require || exit 2
lt_configure

# shellcheck disable=SC2317 # called by the EXIT trap
lt_exit()
{
	lab_down
	_wp_cleanup
}
trap lt_exit EXIT

lt_finish()
{
	echo "figures:"
	lt_report
	lab_down
	check_eq "$(lab_leftovers | tr '\n' ' ')" "" "teardown: nothing of the lab left"
	wp_finish
}

# --- setup ----------------------------------------------------------------------------
if lab_up; then
	ok "setup: lab up (a1 behind a ${LT_NAT_A}s NAT, c1 behind a ${LT_NAT_C}s NAT, b1 public)"
else
	fail "setup: lab up"
	lt_finish
fi
check_eq "$(lab_pairs | tr '\n' ' ')" "a1-b1 c1-b1 " "setup: the pairs (A and C do not peer)"

# --- 1. ground truth -------------------------------------------------------------------
lt_truth
for p in $(lab_pairs); do
	t=${LT[truth.$p]}
	info "truth $p: a datagram from ${p#*-} after ${LT[below.$p]}s of silence" \
		"$([ "${LT[open.$p]}" = 1 ] && echo got in || echo was lost), after ${LT[above.$p]}s" \
		"$([ "${LT[closed.$p]}" = 1 ] && echo was lost || echo got in): lifetime ${t}s"
	check_eq "${LT[open.$p]}" 1 "truth $p: open after ${LT[below.$p]}s of silence"
	check_eq "${LT[closed.$p]}" 1 "truth $p: closed after ${LT[above.$p]}s of silence (lifetime ${t}s)"
done

# --- 2. baseline: fixed interval --------------------------------------------------------
# shellcheck disable=SC2119 # all pairs
if lab_agents_start idle && lab_warm; then
	ok "baseline: agents in --mode idle --keepalive-interval $LAB_KEEPALIVE, pods reach each other"
else
	fail "baseline: agents in --mode idle"
	lt_finish
fi
sleep 2
lt_idle_window base "${LT[base_window]}"
for p in $(lab_pairs); do
	info "baseline $p: ${LT[base.xpm.$p]} probe exchanges/min; connection ${p#*-} -> ${p%-*}" \
		"after ${LT[base_window]}s without workload: rc ${LT[base.rc.$p]}, ${LT[base.lost.$p]} SYN(s) lost"
	check_eq "${LT[base.rc.$p]}" 0 "baseline $p: the connection from ${p#*-} connects"
	check_eq "${LT[base.lost.$p]}" 0 "baseline $p: 0 first-packet drops (nftables)"
	check_true "baseline $p: ~1 exchange per ${LAB_KEEPALIVE}s (${LT[base.xpm.$p]}/min)" \
		awk -v x="${LT[base.xpm.$p]}" -v i="$LAB_KEEPALIVE" \
		'BEGIN { exit !(x >= 30 / i && x <= 90 / i) }'
done

# --- 3. learning ----------------------------------------------------------------------------
if ! lt_learn; then
	fail "learning: agents start with --keepalive-interval $LT_AUTO" \
		"$(grep -vh '^{' "$LAB_DIR"/agent-*.log 2>/dev/null | head -2 | tr '\n' ' ')"
	for p in $(lab_pairs); do
		fail "learning $p: lifetime learned" "no agent in auto mode"
		fail "safety $p: after learning, 0 first-packet drops" "no agent in auto mode"
	done
	fail "cost: exchanges/min after learning <= 0.35 x fixed on the ${LT_NAT_C}s site" "no agent in auto mode"
	lt_finish
fi
ok "learning: agents in --keepalive-interval $LT_AUTO --lifetime-trial-idle $LT_TRIAL_IDLE --lifetime-trial-every $LT_TRIAL_EVERY"
HITS=0
for p in $(lab_pairs); do
	t=${LT[truth.$p]}
	info "learning $p (truth ${t}s): converged after ${LT[learn_s.$p]}s, lower ${LT[lower.$p]}," \
		"upper ${LT[upper.$p]}, interval ${LT[interval.$p]} (${LT[source.$p]}), trials ${LT[trials.$p]}"
	g=${LT[goal_lower.$p]:-none/none}
	check_true "learning $p: ${p%-*}'s lower bound within ${LT_LEARN_GOAL}s (${g%/*} at ${LT[goal_s.$p]:-?}s) in [0.7 x $t, $t]" \
		lt_within "${g%/*}" "$t"
	check_true "learning $p: ${p#*-}'s lower bound within ${LT_LEARN_GOAL}s (${g#*/} at ${LT[goal_s.$p]:-?}s) in [0.7 x $t, $t]" \
		lt_within "${g#*/}" "$t"
	check_true "learning $p: both ends converged within ${LT_LEARN_MAX}s (${LT[learn_s.$p]})" \
		test "${LT[learn_s.$p]}" != no
	check_true "learning $p: ${p%-*}'s lower bound ${LT[lower.$p]%/*} in [0.7 x $t, $t]" \
		lt_within "${LT[lower.$p]%/*}" "$t"
	check_true "learning $p: ${p#*-}'s lower bound ${LT[lower.$p]#*/} in [0.7 x $t, $t]" \
		lt_within "${LT[lower.$p]#*/}" "$t"
	info "learning $p: ${LT[wl.sent.$p]} workload connection(s) from ${p#*-}, ${LT[wl.lost.$p]} SYN(s) lost" \
		"(by connection: ${LT[wl.rounds.$p]}), ${p#*-} counted ${LT[wl.fpd.$p]} first-packet drop(s);" \
		"${LT[learn.tmsg.$p]} trial messages on the wire"
	# a workload first packet hit: a connection that lost its SYN (and so its
	# retransmissions until the other side reopened the path)
	hit=0
	for r in ${LT[wl.rounds.$p]//+/ }; do [ "$r" -gt 0 ] && hit=$((hit + 1)); done
	check_true "learning $p: workload first packets hit by trials <= 1 ($hit connection(s), ${LT[wl.lost.$p]} SYN(s))" \
		test "$hit" -le 1
	HITS=$((HITS + ${LT[wl.lost.$p]}))
done
info "learning: trials ${LT[trials]}"
check_eq "${LT[wl.hits]}" "$HITS" \
	"learning: warmpath_lifetime_trial_workload_hits_total == workload SYNs lost (nftables)"

# --- 4. cost and safety after learning -------------------------------------------------------
W=${LT[safe_window]}
lt_idle_window safe "$W"
for p in $(lab_pairs); do
	r=$(lt_ratio "${LT[safe.xpm.$p]}" "${LT[base.xpm.$p]}")
	info "after learning $p: ${LT[safe.xpm.$p]} exchanges/min (fixed ${LT[base.xpm.$p]}: ratio $r);" \
		"connection ${p#*-} -> ${p%-*} after ${W}s idle: rc ${LT[safe.rc.$p]}, ${LT[safe.lost.$p]} SYN(s) lost"
	check_eq "${LT[safe.rc.$p]}" 0 "safety $p: the connection from ${p#*-} after ${W}s connects"
	check_eq "${LT[safe.lost.$p]}" 0 "safety $p: after learning, 0 first-packet drops (nftables)"
	if [ "$(lab_site "${p%-*}")" = c ]; then
		check_true "cost $p: exchanges/min after learning <= 0.35 x fixed (ratio $r)" \
			awk -v r="$r" 'BEGIN { exit !(r != "n/a" && r <= 0.35) }'
	fi
done
lt_finish
