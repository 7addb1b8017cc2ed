#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# Lifetime trials between two real agents (--keepalive-interval auto), on a
# path that never expires (a veth pair): the trial protocol over real sockets,
# authenticated, and what the agents show. (The lifetimes of real NATs are
# test_lifetime.sh's: two NAT sites behind WireGuard.)
#
#   netns wpt<pid>xa  vA 10.207.0.1/24 <---- veth ----> vB 10.207.0.2/24  netns wpt<pid>xb
#
# 1. both agents auto:1-4, one key: trials grow 2 s, 4 s (MAX) from both
#    sides, all survive; both sides converge with lower bound 4 s, interval
#    2.8 s from "trial", in /peers, status --json, the status table and the
#    metrics (promtool clean); a restart keeps it (pinned map);
# 2. a steady ping between the pair: every trial is aborted by the workload,
#    nothing is learned, the interval stays MIN ("default");
# 3. the other agent in fixed mode: proposals refused; with another key:
#    proposals rejected (bad MAC) and unanswered, nothing learned.

# shellcheck source=selftests/lib.sh
. "$(dirname "$0")/../lib.sh"
wp_require_root
for c in curl jq promtool; do
	command -v $c >/dev/null || { echo "$(basename "$0"): '$c' missing" >&2; exit 2; }
done

NS_A=${WP_TAG}a NS_B=${WP_TAG}b
A=10.207.0.1 B=10.207.0.2
MPORT=9051
KEY_A=$WP_TMP/key-a KEY_B=$WP_TMP/key-b
(umask 077 && head -c 32 /dev/urandom | base64 >"$KEY_A" && head -c 32 /dev/urandom | base64 >"$KEY_B")

ns_add "$NS_A" && ns_add "$NS_B" || { fail "setup"; wp_finish; }
veth_pair "$NS_A" vA $A/24 "$NS_B" vB $B/24 || { fail "veth"; wp_finish; }
pin_new PIN_A a "$NS_A"
pin_new PIN_B b "$NS_B"

# start SIDE KEYFILE ARGS...: the agent of side a or b (pid in PID_a / PID_b)
start()
{
	local side=$1 key=$2 ns pin peer dev

	shift 2
	if [ "$side" = a ]; then
		ns=$NS_A pin=$PIN_A peer="b=$B" dev=vA
	else
		ns=$NS_B pin=$PIN_B peer="a=$A" dev=vB
	fi
	agent_start "$ns" "$pin" "$WP_TMP/$side.log" --node-name "$side" --interface "$dev" \
		--peer "$peer" --probe-key-file "$key" --probe-timeout 300 --tick-interval 0.2 \
		--metrics-listen "127.0.0.1:$MPORT" "$@" || return 1
	printf -v "PID_$side" %s "$AGENT_PID"
}

stop_both()
{
	stop_pid "${PID_a:-}"
	stop_pid "${PID_b:-}"
	PID_a= PID_b=
}

# forget: the pinned maps go (what was learned with them), for the next part
forget()
{
	nsx "$NS_A" "$WARMPATH" cleanup --pin-path "$PIN_A" >/dev/null 2>&1
	nsx "$NS_B" "$WARMPATH" cleanup --pin-path "$PIN_B" >/dev/null 2>&1
}

# syn_watch PIN PEER: the agent's syn_watch for the peer, read with bpftool
# (while non-zero the datapath tracks every SYN to the peer, not a sample)
syn_watch()
{
	bpftool map dump pinned "$1/peers" -j 2>/dev/null |
		jq -r --arg p "$2" '[.[].formatted.value | select(.name == $p) | .syn_watch][0] // "none"'
}

# syn_watch_is PIN PEER WANT: the agent's syn_watch for the peer is WANT
# shellcheck disable=SC2317 # called by wait_for
syn_watch_is()
{
	[ "$(syn_watch "$1" "$2")" = "$3" ]
}

# aborted_any: a's agent has counted a trial aborted by workload
# shellcheck disable=SC2317 # called by wait_for
aborted_any()
{
	num_cmp "$(wp_metric "$(wp_metrics "$NS_A" "127.0.0.1:$MPORT")" \
		'warmpath_lifetime_trials_total{result="aborted"}')" '>=' 1
}

AUTO=(--keepalive-interval auto:1-4 --lifetime-trial-idle 0 --lifetime-trial-every 0)

# --- 1. learning on a path that never expires ----------------------------------
start a "$KEY_A" "${AUTO[@]}" && start b "$KEY_A" "${AUTO[@]}" || {
	fail "1: agents start"
	dump_log "$WP_TMP/a.log"
	wp_finish
}
ok "1: agents start in auto mode"
for side in a b; do
	pin=$PIN_A peer=b
	[ $side = b ] && pin=$PIN_B peer=a
	got=$(wait_peer "$pin" "$peer" lifetime_converged true 40)
	check_eq "$got" true "1: $side: the search converges within 40 s"
	check_eq "$(peer_get "$pin" "$peer" lifetime_lower_seconds)" 4 "1: $side: lower bound MAX (4 s)"
	check_eq "$(peer_get "$pin" "$peer" interval_source)" trial "1: $side: interval source trial"
	iv=$(peer_get "$pin" "$peer" keepalive_interval_seconds)
	check_true "1: $side: interval 0.7 x 4 s ($iv)" num_cmp "$iv" '==' 2.8
	trials=$(peer_get "$pin" "$peer" lifetime_trials)
	check_true "1: $side: at least 4 trials ($trials: 2 s and 4 s, both sides test)" \
		num_cmp "$trials" '>=' 4
done
M=$(wp_metrics "$NS_A" "127.0.0.1:$MPORT")
surv=$(wp_metric "$M" 'warmpath_lifetime_trials_total{result="survived"}')
check_true "1: metrics: trials survived ($surv)" num_cmp "${surv:-0}" '>=' 4
check_eq "$(wp_metric "$M" 'warmpath_lifetime_trials_total{result="failed"}')" 0 \
	"1: metrics: no trial failed on a path that never expires"
check_eq "$(wp_metric "$M" 'warmpath_lifetime_peers{source="trial"}')" 1 "1: metrics: one peer from trials"
check_eq "$(wp_metric "$M" 'warmpath_lifetime_learned_seconds_count')" 1 "1: metrics: learned histogram"
check_eq "$(wp_metric "$M" 'warmpath_lifetime_learned_seconds_bucket{le="5"}')" 1 \
	"1: metrics: learned 4 s in the le=5 bucket"
check_eq "$(wp_metric "$M" 'warmpath_probe_responder_dropped_total{reason="bad_mac"}')" 0 \
	"1: trial messages authenticated"
if echo "$M" | promtool check metrics >/dev/null 2>&1; then ok "1: promtool check metrics"; else
	fail "1: promtool check metrics" "$(echo "$M" | promtool check metrics 2>&1 | head -3)"
fi
peers=$(nsx "$NS_A" curl -s "http://127.0.0.1:$MPORT/peers")
check_eq "$(echo "$peers" | jq -r '.peers[0].interval_source')" trial \
	"1: /peers: interval_source"
table=$("$WARMPATH" status --pin-path "$PIN_A")
check_match "$table" '2\.8s trial +>=4\.0s learned' "1: status table: interval and lifetime"
stop_both
# a restart (rolling update) keeps what was learned: from the pinned map
start a "$KEY_A" "${AUTO[@]}" && start b "$KEY_A" "${AUTO[@]}" || fail "1: agents restart"
sleep 1
check_eq "$(peer_get "$PIN_A" b interval_source)" trial "1: restart: interval source still trial" ||
	dump_log "$WP_TMP/a.log"
check_eq "$(peer_get "$PIN_A" b keepalive_interval_seconds)" 2.8 "1: restart: interval kept"
check_eq "$(peer_get "$PIN_A" b lifetime_converged)" true "1: restart: still learned"
check_match "$(cat "$WP_TMP/a.log")" "4.00s learned before the restart, kept" "1: restart: logged" ||
	dump_log "$WP_TMP/a.log"
stop_both
forget

# --- 2. workload aborts the trials --------------------------------------------
start a "$KEY_A" "${AUTO[@]}" --keepalive-interval auto:2-8 && start b "$KEY_A" "${AUTO[@]}" \
	--keepalive-interval auto:2-8 || fail "2: agents start"
bg PING nsenter --net="/run/netns/$NS_A" ping -q -i 0.3 -c 100 $B
# a's first proposal may go before b's agent listens: unanswered, then a 10 s
# back-off before the next one
T0=$SECONDS
wait_for 25 aborted_any
M=$(wp_metrics "$NS_A" "127.0.0.1:$MPORT")
info "2: a's trials after $((SECONDS - T0)) s of workload:" \
	"unanswered $(wp_metric "$M" 'warmpath_lifetime_trials_total{result="unanswered"}')," \
	"aborted $(wp_metric "$M" 'warmpath_lifetime_trials_total{result="aborted"}')"

abrt=$(wp_metric "$M" 'warmpath_lifetime_trials_total{result="aborted"}')
check_true "2: trials aborted by the workload ($abrt)" num_cmp "${abrt:-0}" '>=' 1
check_eq "$(wp_metric "$M" 'warmpath_lifetime_trials_total{result="survived"}')" 0 \
	"2: no trial survived under workload"
wait_for 5 syn_watch_is "$PIN_A" b 1
check_eq "$(syn_watch "$PIN_A" b)" 1 \
	"2: trials met workload: every SYN to the peer tracked (syn_watch 1, bpftool)"
for side in a b; do
	ns=$NS_A
	[ $side = b ] && ns=$NS_B
	check_eq "$(wp_metric "$(wp_metrics "$ns" "127.0.0.1:$MPORT")" \
		'warmpath_probe_responder_dropped_total{reason="malformed"}')" 0 \
		"2: $side: every trial message well formed (aborts too)"
done
check_eq "$(peer_get "$PIN_A" b lifetime_lower_seconds)" "" "2: nothing learned"
check_eq "$(peer_get "$PIN_A" b interval_source)" default "2: interval source default"
check_eq "$(peer_get "$PIN_A" b keepalive_interval_seconds)" 2 "2: interval MIN"
stop_pid "$PING"
stop_both
forget

# --- 3. a peer that does not take part --------------------------------------------
# the fixed-mode agent first: a proposal to no agent is unanswered (and waits 10 s)
start b "$KEY_A" --keepalive-interval 1 && start a "$KEY_A" "${AUTO[@]}" || fail "3: agents start"
sleep 4
M=$(wp_metrics "$NS_A" "127.0.0.1:$MPORT")
ref=$(wp_metric "$M" 'warmpath_lifetime_trials_total{result="refused"}')
check_true "3: fixed-mode peer refuses ($ref)" num_cmp "${ref:-0}" '>=' 1
check_true "3: refused: not proposed again within 10 s ($ref)" num_cmp "${ref:-0}" '<=' 1
check_eq "$(syn_watch "$PIN_A" b)" 0 "3: no trial held: SYNs to the peer sampled (syn_watch 0)"
check_eq "$(peer_get "$PIN_A" b lifetime_lower_seconds)" "" "3: nothing learned from refusals"
check_eq "$(peer_get "$PIN_B" a interval_source)" default "3: fixed mode: source default"
check_eq "$(peer_get "$PIN_B" a keepalive_interval_seconds)" 1 "3: fixed mode: its interval"
stop_both
forget
start a "$KEY_A" "${AUTO[@]}" && start b "$KEY_B" "${AUTO[@]}" || fail "3: agents start (keys differ)"
sleep 4
M=$(wp_metrics "$NS_A" "127.0.0.1:$MPORT")
un=$(wp_metric "$M" 'warmpath_lifetime_trials_total{result="unanswered"}')
check_true "3: another key: proposals unanswered ($un)" num_cmp "${un:-0}" '>=' 1
M=$(wp_metrics "$NS_B" "127.0.0.1:$MPORT")
bad=$(wp_metric "$M" 'warmpath_probe_responder_dropped_total{reason="bad_mac"}')
check_true "3: another key: trial messages rejected as bad_mac ($bad)" num_cmp "${bad:-0}" '>=' 1
stop_both

wp_finish
