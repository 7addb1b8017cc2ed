#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# The kfree_skb drop tracer on the guest's kernel: a real drop is counted with
# its reason, and healthy traffic counts none.
#
#   netns wpt<pid>xa                                  netns wpt<pid>xb
#   warmpath run --interface vA --peer b=10.232.0.2   vB 10.232.0.2/24
#     --mode observe --metrics-listen 127.0.0.1:9051  ncat -u -l 7001
#   vA 10.232.0.1/24 ============ veth ================
#   ncat -u -l 7001  (each listener takes the datagrams of one sender:
#                     the other side sends from source port 7003)
#
# (1) healthy: N pings each way (raw-socket ping: the echo replies reach a raw
#     socket and are then freed), N UDP datagrams each way to listening
#     sockets: 0 kernel drops on vA, 0 for peer b
# (2) N datagrams from b to a closed port of a: exactly N no_socket drops

. "$(dirname "$0")/vm_lib.sh"
wp_require_root

N=7
PORT=7001
CLOSED=7002
SPORT=7003
MPORT=9051

veth_ab 10.232.0 || { fail "setup: veth"; wp_finish; }
udp_listen "$NS_A" $PORT
udp_listen "$NS_B" $PORT
pin_new PIN 1 "$NS_A"
LOG=$WP_TMP/agent.log
if ! agent_start "$NS_A" "$PIN" "$LOG" --interface vA --peer "b=$B_ADDR" --mode observe \
	--metrics-listen "127.0.0.1:$MPORT"; then
	fail "agent starts"
	wp_finish
fi
ok "agent starts"
_metrics_up()
{
	[ "$(metric_sum "$NS_A" $MPORT '^warmpath_kernel_drop_tracer_up$')" != 0 ]
}
wait_for 5 _metrics_up
check_eq "$(metric_sum "$NS_A" $MPORT '^warmpath_kernel_drop_tracer_up$')" 1 "drop tracer up"

# --- (1) healthy traffic -----------------------------------------------------------
check_true "healthy: $N pings a -> b" ping_n "$NS_A" $B_ADDR $N
check_true "healthy: $N pings b -> a" ping_n "$NS_B" $A_ADDR $N
send_udp_from "$NS_A" $SPORT $B_ADDR $PORT $N
send_udp_from "$NS_B" $SPORT $A_ADDR $PORT $N
check_eq "$(wait_peer "$PIN" b rx_packets $((2 * N + N)) 5)" $((3 * N)) "healthy: traffic counted"
sleep 0.5
check_eq "$(metric_sum "$NS_A" $MPORT '^warmpath_kernel_drops_total\{interface="vA"')" 0 \
	"healthy ping/UDP: 0 kernel drops on vA"
check_eq "$(metric_sum "$NS_A" $MPORT '^warmpath_peer_kernel_drops_total\{peer="b"')" 0 \
	"healthy ping/UDP: 0 kernel drops for peer b"
H=$(nsx "$NS_A" curl -s --max-time 3 "http://127.0.0.1:$MPORT/metrics" |
	grep '^warmpath_kernel_drops_total' | tr '\n' ' ')
[ -n "$H" ] && info "drops after healthy traffic: $H"

# --- (2) a real drop -----------------------------------------------------------------
NOSOCK='^warmpath_kernel_drops_total\{interface="vA",reason="no_socket"'
BASE=$(metric_sum "$NS_A" $MPORT "$NOSOCK")
send_udp "$NS_B" $A_ADDR $CLOSED $N
_drops_reach()
{
	[ "$(metric_sum "$NS_A" $MPORT "$NOSOCK")" -ge $((BASE + N)) ]
}
wait_for 5 _drops_reach
sleep 0.5
check_eq "$(($(metric_sum "$NS_A" $MPORT "$NOSOCK") - BASE))" $N \
	"$N datagrams to a closed port: $N no_socket drops on vA"

wp_finish
