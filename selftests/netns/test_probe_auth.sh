#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# Probe authentication and a responder that is no reflector (issue 13 item 4),
# keep-alive discipline (issue 12): probes around the watched device, the
# idle-pair tie-break, --interface auto before the tunnel exists.
#
#   netns ..a (agent a)       netns ..r (agent r)       netns ..d (no agent)
#  +---------------------+   +---------------------+   +------------------------+
#  | ua 10.204.0.1/24    |   | ur 10.204.0.2/24    |   | ud 10.204.0.4/24 (d)   |
#  | peers r, d, y       |   | peers a, d          |   |    10.204.0.5 (not d)  |
#  | vy 10.206.0.1/24 ---+-+ |                     |   |    10.204.0.17 (d's    |
#  +------||-------------+ | +------||-------------+   |     prefix, not probe) |
#         ||  veth         |        ||                 | probe_dgram.py: forger,|
#  +------||---------------|--------||--------------+  | spoofer, flooder       |
#  |     sa -------------- | ----- sr ---- sd       |  +-----------||-----------+
#  |           bridge br0  |  netns ..s             |--------------||
#  +-----------------------|------------------------+
#                          +-- veth to netns ..y: 10.206.0.2 (peer y, probe
#                              address routed over vy, which a does not watch)
#
#  netns ..k1 (agent k, --interface auto, no tunnel yet) == veth == netns ..k2;
#  then a vxlan device on both ends.
#
# Agents: --keepalive-interval 2 --probe-timeout 500 --tick-interval 0.5, the
# same key file (phase 1), then no key (phase 2). Traffic is bounded: single
# datagrams, one flood of 4000 at 1000/s, forgers that stop after a few seconds.

# shellcheck source=selftests/lib.sh
. "$(dirname "$0")/../lib.sh"
# shellcheck source=selftests/lib_nodes.sh
. "$(dirname "$0")/../lib_nodes.sh"
wp_require_root
wp_require_cmds curl python3

PD=$(dirname "$0")/probe_dgram.py
PROBE=9050
MPORT=9051
KA=2
NS_S=${WP_TAG}s
declare -A NS ADDR PIN LOG APID
for n in a r d y k1 k2; do NS[$n]=${WP_TAG}$n; done
ADDR[a]=10.204.0.1 ADDR[r]=10.204.0.2 ADDR[d]=10.204.0.4 ADDR[y]=10.206.0.2
D_OTHER=10.204.0.5 D_PFX=10.204.0.17
KEY=$WP_TMP/key WRONG=$WP_TMP/wrong.key
head -c 32 /dev/urandom | base64 >"$KEY"
head -c 32 /dev/urandom | base64 >"$WRONG"

setup()
{
	local n

	ns_add "$NS_S" || return 1
	ip -n "$NS_S" link add br0 type bridge && ip -n "$NS_S" link set br0 up || return 1
	for n in a r d; do
		ns_add "${NS[$n]}" || return 1
		ip -n "${NS[$n]}" link add u$n type veth peer name s$n netns "$NS_S" || return 1
		ip -n "$NS_S" link set s$n master br0 up
		ip -n "${NS[$n]}" addr add "${ADDR[$n]}/24" dev u$n
		ip -n "${NS[$n]}" link set u$n up
	done
	ip -n "${NS[d]}" addr add $D_OTHER/24 dev ud
	ip -n "${NS[d]}" addr add $D_PFX/24 dev ud
	ns_add "${NS[y]}" || return 1
	veth_pair "${NS[a]}" vy 10.206.0.1/24 "${NS[y]}" uy "${ADDR[y]}/24" || return 1
	wait_for 10 ping_n "${NS[a]}" "${ADDR[r]}" 1 && wait_for 10 ping_n "${NS[a]}" "${ADDR[d]}" 1
}
if setup; then ok "setup: a, r, d on a bridge; y behind an unwatched veth"; else
	fail "setup"
	wp_finish
fi
printf 'r %s\nd %s 10.204.0.16/28\ny %s\n' "${ADDR[r]}" "${ADDR[d]}" "${ADDR[y]}" >"$WP_TMP/peers.a"
printf 'a %s\nd %s 10.204.0.16/28\n' "${ADDR[a]}" "${ADDR[d]}" >"$WP_TMP/peers.r"

# start N ARGS...: node N's agent (a or r) watching u<N>.
start()
{
	node_start "$1" "u$1" --mode idle --keepalive-interval $KA --probe-timeout 500 \
		--tick-interval 0.5 --metrics-listen "127.0.0.1:$MPORT" "${@:2}"
}
stop()
{
	node_stop "$1"
}
get()
{
	nsx "${NS[$1]}" curl -s --max-time 5 "http://127.0.0.1:$MPORT$2" "${@:3}"
}
# metric N NAME [SEL]: the summed value of the samples of NAME whose labels contain SEL
metric()
{
	get "$1" /metrics | awk -v n="$2" -v sel="${3:-}" '
		/^#/ { next }
		{ name = $1; lab = ""; i = index($1, "{")
		  if (i) { name = substr($1, 1, i - 1); lab = substr($1, i) }
		  if (name == n && (sel == "" || index(lab, sel))) { s += $2; f = 1 } }
		END { if (f) printf "%.12g\n", s; else print "NA" }'
}
pf()
{
	get "$1" /peers | jq -r --arg p "$2" --arg f "$3" '.peers[] | select(.name == $p) | .[$f]'
}
# ask NS SRC SPORT FILE OUT [OPTS]: FILE to r's probe port; the replies into OUT
ask()
{
	timeout -k 1 30 nsenter --net="/run/netns/$1" "$PD" ask "$2" "$3" "${ADDR[r]}" $PROBE "$4" \
		"$5" "${@:6}" 2>/dev/null
	stat -c %s "$5"
}
# forge MODE SECONDS [OPTS]: the forger at d's probe address answers a's probes to d
forge()
{
	nsx "${NS[d]}" timeout -k 1 20 "$PD" forge "${ADDR[d]}" "$1" "$2" --only "${ADDR[a]}" \
		"${@:3}" 2>/dev/null
}
range()
{
	if [ "$1" != NA ] && [ "$1" -ge "$2" ] && [ "$1" -le "$3" ]; then ok "$4 ($1)"; else
		fail "$4" "got $1, want $2..$3"
	fi
}
G=$WP_TMP/g
mkdir -p "$G"

# --- phase 1: a cluster key --------------------------------------------------------
if ! { start r --probe-key-file "$KEY" && start a --probe-key-file "$KEY"; }; then
	fail "key: agents start"
	wp_finish
fi
check_eq "$(metric a warmpath_probe_authenticated)" 1 "key: warmpath_probe_authenticated 1"
check_nomatch "$(cat "${LOG[a]}")" 'not authenticated' "key: no warning with a key"
sleep 3 # past the start-up probes (both sides probe a peer never seen)
s0=$(($(pf a r probes_sent) + $(pf r a probes_sent))) r0=$(pf r a probes_sent)
f0=$(pf a r probes_failed)
sleep 10
s1=$(($(pf a r probes_sent) + $(pf r a probes_sent)))
range $((s1 - s0)) 4 6 "tie-break: idle pair a-r, exchanges in 10 s at a 2 s interval (~5, not ~7)"
check_eq "$(($(pf r a probes_sent) - r0))" 0 "tie-break: r (sorts after a) leaves the probing to a"
check_eq "$(($(pf a r probes_failed) - f0))" 0 "key: a's authenticated probes to r answered"

"$PD" build v2 1 --key "$KEY" >"$G/good"
"$PD" build v2 1 >"$G/nomac"
"$PD" build v1 1 >"$G/v1"
"$PD" build v2 1 --key "$WRONG" >"$G/badmac"
D=${NS[d]} DA=${ADDR[d]}
check_eq "$(ask "$D" "$DA" $PROBE "$G/nomac" "$G/o1")" 0 "key: no answer to a request without MAC"
check_eq "$(ask "$D" "$DA" $PROBE "$G/v1" "$G/o2")" 0 "key: no answer to a v1 request"
check_eq "$(ask "$D" "$DA" $PROBE "$G/badmac" "$G/o3")" 0 "key: no answer to another key's MAC"
check_eq "$(ask "$D" $D_PFX $PROBE "$G/good" "$G/o4")" 0 \
	"reflector: no answer to a valid request from d's prefix, not its probe address"
check_eq "$(ask "$D" "$DA" 40000 "$G/good" "$G/o5")" 0 \
	"reflector: no answer to a valid request from d's probe address, another port"
check_eq "$(ask "$D" "$DA" $PROBE "$G/good" "$G/o6")" 96 "key: a valid request is answered (96 B)"
check_eq "$(ask "$D" "$DA" $PROBE "$G/good" "$G/o7")" 0 "replay: the same request again: no answer"
for r in unauthenticated:2 bad_mac:1 unknown_source:1 bad_port:1 replayed:1; do
	check_eq "$(metric r warmpath_probe_responder_dropped_total "reason=\"${r%:*}\"")" "${r#*:}" \
		"responder drops counted: ${r%:*}"
done

# forged replies to a's probes to d: none is taken, every probe to d fails
for m in badmac:bad_mac nomac:unauthenticated port:wrong_source addr:wrong_source; do
	a0=$(pf a d probes_answered) f0=$(pf a d probes_failed)
	j0=$(metric a warmpath_probe_replies_rejected_total "reason=\"${m#*:}\"")
	n=$(forge "${m%:*}" 4.5 --key "$KEY" --from $D_OTHER)
	sleep 0.6
	check_true "forged reply ${m%:*}: the forger answered a's probes ($n)" test "${n:-0}" -ge 1
	check_eq "$(($(pf a d probes_answered) - a0))" 0 "forged reply ${m%:*}: not accepted"
	check_true "forged reply ${m%:*}: the probes count as failed" \
		test "$(($(pf a d probes_failed) - f0))" -ge "$n"
	check_true "forged reply ${m%:*}: rejected as ${m#*:}" \
		test "$(metric a warmpath_probe_replies_rejected_total "reason=\"${m#*:}\"")" -gt "$j0"
done
a0=$(pf a d probes_answered)
n=$(forge echo 4.5 --key "$KEY")
check_true "control: a forger holding the key is answered ($n)" \
	test "$(($(pf a d probes_answered) - a0))" -ge 1

# one source's flood (fresh, authenticated requests) does not starve a's probes
a0=$(pf a r probes_answered) f0=$(pf a r probes_failed)
l0=$(metric r warmpath_probe_responder_dropped_total 'reason="rate_limited"')
ask "$D" "$DA" $PROBE "$G/good" "$G/flood" --fresh "$KEY" --count 4000 --rate 1000 --wait 0 >/dev/null
sleep 0.6
check_true "flood: d's 4000 requests are rate-limited" \
	test "$(($(metric r warmpath_probe_responder_dropped_total 'reason="rate_limited"') - l0))" -ge 3500
check_eq "$(($(pf a r probes_failed) - f0))" 0 "flood: none of a's probes to r failed meanwhile"
check_true "flood: a's probes to r answered meanwhile" test "$(($(pf a r probes_answered) - a0))" -ge 1

# --- keep-alive discipline: y's probe address is routed around the watched ua -------
b0=$(pf a y probes_sent)
sleep 10
range $(($(pf a y probes_sent) - b0)) 4 6 "bypass: y probed once per interval in 10 s (not every tick)"
check_true "bypass: counted in /peers" test "$(pf a y probes_bypassed)" -ge 4
check_true "bypass: in status --json (pinned map)" test "$(peer_get "${PIN[a]}" y probes_bypassed)" -ge 4
check_match "$("$WARMPATH" status --pin-path "${PIN[a]}")" 'BYPASS' "bypass: a column of the status table"
check_true "bypass: warmpath_probes_bypassed_total" test "$(metric a warmpath_probes_bypassed_total)" -ge 4
check_eq "$(pf a r probes_bypassed):$(pf a d probes_bypassed)" 0:0 "bypass: probes over ua are not"
check_eq "$(grep -c 'probe to y .*crossed no watched interface.*dev vy' "${LOG[a]}")" 1 \
	"bypass: logged once, with the route (dev vy)"

# --- phase 2: no key ----------------------------------------------------------------
stop a
stop r
if ! { start r && start a; }; then
	fail "no key: agents start"
	wp_finish
fi
check_eq "$(grep -c 'not authenticated' "${LOG[a]}")" 1 "no key: the agent warns once"
check_eq "$(metric a warmpath_probe_authenticated)" 0 "no key: warmpath_probe_authenticated 0"
check_eq "$(ask "$D" $D_PFX $PROBE "$G/nomac" "$G/p1")" 0 "no key, reflector: no answer from d's prefix"
check_eq "$(ask "$D" "$DA" 40000 "$G/nomac" "$G/p2")" 0 "no key, reflector: no answer to another port"
check_eq "$(ask "$D" "$DA" $PROBE "$G/nomac" "$G/p3")" 96 "no key: d's request is answered"
check_eq "$(ask "$D" "$DA" $PROBE "$G/v1" "$G/p4")" 56 "no key: a v1 request gets a v1 reply (56 B)"
for m in port addr; do
	a0=$(pf a d probes_answered)
	n=$(forge $m 4.5 --from $D_OTHER)
	check_true "no key, right content from the wrong $m: forger answered ($n)" test "${n:-0}" -ge 1
	check_eq "$(($(pf a d probes_answered) - a0))" 0 "no key, right content from the wrong $m: rejected"
done
a0=$(pf a d probes_answered)
n=$(forge echo 4.5)
check_true "no key, control: the right reply from the right address is taken ($n)" \
	test "$(($(pf a d probes_answered) - a0))" -ge 1
stop a
stop r

# --- bootstrap: --interface auto before the CNI made its tunnel -----------------------
if ! { ns_add "${NS[k1]}" && ns_add "${NS[k2]}" &&
	veth_pair "${NS[k1]}" uk1 10.207.0.1/24 "${NS[k2]}" uk2 10.207.0.2/24; }; then
	fail "bootstrap: setup"
fi
pin_new PIN[k] k "${NS[k1]}"
LOG[k]=$WP_TMP/agent-k.log
if agent_start "${NS[k1]}" "${PIN[k]}" "${LOG[k]}" --interface auto --node-name k \
	--peer "z=10.207.1.2" --metrics-listen "127.0.0.1:$MPORT"; then
	ok "bootstrap: the agent starts with no tunnel device"
	APID[k]=$AGENT_PID
else
	fail "bootstrap: the agent starts with no tunnel device"
fi
check_eq "$(get k1 /readyz -o /dev/null -w '%{http_code}')" 503 "bootstrap: /readyz 503"
check_match "$(get k1 /readyz)" 'not ready: no interface attached' "bootstrap: /readyz says why"
for n in 1 2; do
	o=$((3 - n))
	ip -n "${NS[k$n]}" link add vx$n type vxlan id 42 dstport 4789 local 10.207.0.$n \
		remote 10.207.0.$o dev uk$n
	ip -n "${NS[k$n]}" addr add 10.207.1.$n/24 dev vx$n
	ip -n "${NS[k$n]}" link set vx$n up
done
# shellcheck disable=SC2317 # run through wait_for
ready()
{
	[ "$(get k1 /readyz -o /dev/null -w '%{http_code}')" = 200 ]
}
wait_for 5 ready
check_eq "$(get k1 /readyz -o /dev/null -w '%{http_code}')" 200 "bootstrap: /readyz 200 once vxlan exists"
check_true "bootstrap: alive" kill -0 "${APID[k]}"
ping_n "${NS[k1]}" 10.207.1.2 3 >/dev/null
check_true "bootstrap: counting on the new device" test "$(peer_get "${PIN[k]}" z tx_packets)" -ge 3
check_match "$(cat "${LOG[k]}")" 'waiting for one' "bootstrap: the log says it waits"
stop k

if [ "$_wp_fail" -gt 0 ]; then
	for n in a r k; do [ -n "${LOG[$n]:-}" ] && dump_log "${LOG[$n]}"; done
fi
wp_finish
