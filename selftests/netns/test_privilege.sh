#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# warmpath with exactly the DaemonSet's capabilities (read from
# deploy/kubernetes/daemonset.yaml; no CAP_SYS_ADMIN), behind a foreign
# program that ends the chain, across SIGKILL and restart, in tcx and tc mode.
#
#   netns wpt<pid>xa                               netns wpt<pid>xb
#  +------------------------------------------+   +-------------------------+
#  | setpriv --bounding-set=<DaemonSet caps>  |   |                         |
#  |   warmpath run --interface vA            |   |                         |
#  |   --attach-mode tcx|tc --peer b=...      |   |                         |
#  | vA: foreign "r0 = 0; exit" attached      |   |                         |
#  |     first (tcx link / tc prio 1 handle 1,|   |                         |
#  |     as Cilium's), returns TCX_PASS /     |   |                         |
#  |     TC_ACT_OK: hides packets from later  |   |                         |
#  |     programs                             |   |                         |
#  |   vA 10.204.0.1/24  ============== veth ======= vB 10.204.0.2/24       |
#  |   vC (veth to vD): a foreign filter at   |   |  vD                     |
#  |       warmpath's own handle + priority   |   |                         |
#  +------------------------------------------+   +-------------------------+
#
# Per mode: exact per-peer counts, then CYCLES x (SIGKILL, traffic while dead,
# restart: one attachment per hook, exact counts), SIGTERM (ours gone, the
# foreign program and its clsact stay), and 'warmpath cleanup' under the same
# capabilities after a SIGKILL. Then, in tc mode: a clsact qdisc warmpath
# created is deleted only when nothing else is on it (its ownership survives
# SIGKILL); a start refused by a foreign filter leaves the running filters and
# their map entries as they were; a start with a bad --interface leaves no pin.
# Last, bpffs: in a private mount namespace without it, 'warmpath run' mounts
# it as root, and without CAP_SYS_ADMIN says how to.

# shellcheck source=selftests/lib.sh
. "$(dirname "$0")/../lib.sh"
wp_require_root
for c in setpriv cc unshare; do
	command -v $c >/dev/null || { fail "setup: '$c' missing"; wp_finish; }
done

N=10 # datagrams each way per round
K=4 # datagrams while the agent is dead
CYCLES=3 # SIGKILL + restart cycles per mode
PORT=7000

NS_A=${WP_TAG}a
NS_B=${WP_TAG}b
A_ADDR=10.204.0.1
B_ADDR=10.204.0.2

# --- the DaemonSet's capabilities, and the agent under exactly those ------------
DS=$WP_ROOT/deploy/kubernetes/daemonset.yaml
CAPS=$(grep -E '^[[:space:]]*add:[[:space:]]*\[' "$DS" | head -1 | sed 's/.*\[//; s/\].*//; s/[" ]//g')
check_match "$CAPS" '^[A-Z_,]+$' "setup: capabilities read from daemonset.yaml ($CAPS)"
check_nomatch "$CAPS" 'SYS_ADMIN' "setup: the DaemonSet grants no SYS_ADMIN"
SETCAPS=$(tr 'A-Z' 'a-z' <<<"$CAPS" | sed 's/\([a-z_]*\)/+\1/g')
WANT_MASK=0
for c in ${CAPS//,/ }; do
	case $c in
	NET_ADMIN) b=12 ;; NET_RAW) b=13 ;; SYS_ADMIN) b=21 ;; SYS_RESOURCE) b=24 ;;
	PERFMON) b=38 ;; BPF) b=39 ;; *) fail "setup: capability $c unknown to this test"; b= ;;
	esac
	[ -n "$b" ] && WANT_MASK=$((WANT_MASK | (1 << b)))
done
WANT_MASK=$(printf '%016x' $WANT_MASK)

REAL=$WARMPATH
PRIV=$WP_TMP/warmpath-priv
cat >"$PRIV" <<EOF
#!/bin/sh
exec setpriv --bounding-set=-all,$SETCAPS --inh-caps=-all -- "$REAL" "\$@"
EOF
chmod +x "$PRIV"
WARMPATH=$PRIV # agent_start, status and the final cleanup all run with these caps

FOREIGN=$WP_TMP/foreign_prog
if ! cc -O2 -Wall -o "$FOREIGN" "$WP_ROOT/selftests/netns/foreign_prog.c" -lbpf; then
	fail "setup: foreign_prog compiles"
	wp_finish
fi

ns_add "$NS_A" && ns_add "$NS_B" || { fail "setup: namespaces"; wp_finish; }
ip -n "$NS_A" link add vA type veth peer name vB netns "$NS_B"
ip -n "$NS_A" link add vC type veth peer name vD netns "$NS_B"
for i in vA vC; do iface_disable_ipv6 "$NS_A" $i; ip -n "$NS_A" link set $i up; done
for i in vB vD; do iface_disable_ipv6 "$NS_B" $i; ip -n "$NS_B" link set $i up; done
ip -n "$NS_A" addr add $A_ADDR/24 dev vA
ip -n "$NS_B" addr add $B_ADDR/24 dev vB
udp_sink "$NS_A" $PORT
udp_sink "$NS_B" $PORT
ping_n "$NS_A" $B_ADDR 1 || { fail "setup: veth reachable"; wp_finish; }
IFINDEX=$(ip -n "$NS_A" -j link show vA | jq '.[0].ifindex')
IFINDEX_C=$(ip -n "$NS_A" -j link show vC | jq '.[0].ifindex')
pin_new FPIN f "" # the foreign tcx links' pins
mkdir -p "$FPIN"

LOG=$WP_TMP/agent.log
E_TX=0 E_RX=0

traffic()
{
	send_udp "$NS_A" $B_ADDR $PORT "$1"
	send_udp "$NS_B" $A_ADDR $PORT "$1"
	E_TX=$((E_TX + $1))
	E_RX=$((E_RX + $1))
}

check_counts()
{
	check_eq "$(wait_peer "$PIN" b tx_packets $E_TX)" $E_TX "$1: tx_packets exact"
	check_eq "$(wait_peer "$PIN" b rx_packets $E_RX)" $E_RX "$1: rx_packets exact"
}

# tc filters on vA in DIR: ours (handle 0x5750), the foreign one (handle 0x1)
tc_count() { in_ns "$NS_A" tc filter show dev "${3:-vA}" "$1" | grep -c "handle $2 "; }
tc_ours() { echo "$(tc_count ingress 0x5750) $(tc_count egress 0x5750)"; }
tc_foreign() { echo "$(tc_count ingress 0x1) $(tc_count egress 0x1)"; }
# program id of our filter on vA in DIR
tc_our_id()
{
	in_ns "$NS_A" tc filter show dev vA "$1" | grep 'handle 0x5750 ' | grep -oE ' id [0-9]+' |
		awk '{print $2}'
}
links() { ls "$PIN/links" 2>/dev/null | sort | tr '\n' ' '; }
links_alive()
{
	for d in ingress egress; do
		bpftool link show pinned "$FPIN/$1_$d" >/dev/null 2>&1 || return 1
	done
}
has_clsact() { in_ns "$NS_A" tc qdisc show dev "${1:-vA}" | grep -q clsact; }
no_clsact() { ! has_clsact "$@"; }

start()
{
	agent_start "$NS_A" "$PIN" "$LOG" --interface vA --peer "b=$B_ADDR" --mode observe \
		--attach-mode "$@"
}

# --- per mode: behind a foreign program, SIGKILL/restart cycles, cleanup ---------
run_mode()
{
	local mode=$1 c

	E_TX=0 E_RX=0
	pin_new PIN "$mode" "$NS_A"
	if [ "$mode" = tcx ]; then
		for d in ingress egress; do
			nsx "$NS_A" "$FOREIGN" tcx "$IFINDEX" $d "$FPIN/${mode}_$d" >/dev/null ||
				fail "$mode: foreign tcx link on $d"
		done
		check_true "$mode: foreign tcx links attached first" links_alive "$mode"
	else
		for d in ingress egress; do
			nsx "$NS_A" "$FOREIGN" tc "$IFINDEX" $d 1 1 >/dev/null || fail "$mode: foreign tc filter on $d"
		done
		check_eq "$(tc_foreign)" "1 1" "$mode: foreign filters at prio 1 handle 1 (as Cilium's)"
	fi
	if ! start "$mode"; then
		fail "$mode: agent starts with $CAPS only"
		dump_log "$LOG"
		return
	fi
	ok "$mode: agent starts with $CAPS only"
	check_eq "$(awk '/^CapEff/ {print $2}' "/proc/$AGENT_PID/status")" "$WANT_MASK" \
		"$mode: agent's effective capabilities are exactly the DaemonSet's"
	check_eq "$(status_json "$PIN" | jq -r '.interfaces[0].attach')" "$mode" "$mode: attach mode"
	traffic $N
	check_counts "$mode behind a foreign TCX_PASS/TC_ACT_OK program"

	for c in $(seq $CYCLES); do
		stop_pid "$AGENT_PID" KILL
		traffic $K
		check_counts "$mode SIGKILL $c: orphan attachment still counts"
		if start "$mode"; then
			ok "$mode restart $c: agent starts"
		else
			fail "$mode restart $c: agent starts"
			dump_log "$LOG"
			return
		fi
		if [ "$mode" = tcx ]; then
			check_eq "$(links)" "if${IFINDEX}_egress if${IFINDEX}_ingress " \
				"$mode restart $c: one link per direction"
		else
			check_eq "$(tc_ours)" "1 1" "$mode restart $c: one filter of ours per direction"
		fi
		check_counts "$mode restart $c: counts survive"
		traffic $N
		check_counts "$mode restart $c: +$N each way counted once"
	done
	if [ "$mode" = tcx ]; then
		check_true "$mode: foreign links still attached" links_alive "$mode"
	else
		check_eq "$(tc_foreign)" "1 1" "$mode: foreign filters still there"
	fi

	stop_pid "$AGENT_PID" TERM
	check_eq "$STOP_RC" 0 "$mode SIGTERM: exits 0"
	check_eq "$(links)$(tc_ours)" "0 0" "$mode SIGTERM: no link or filter of ours left"
	if [ "$mode" = tc ]; then
		check_eq "$(tc_foreign)" "1 1" "$mode SIGTERM: foreign filters untouched"
		check_true "$mode SIGTERM: the foreign clsact qdisc stays" has_clsact
	fi

	# cleanup under the same capabilities after a crash
	start "$mode" || fail "$mode again: agent starts"
	traffic $N
	check_counts "$mode again"
	LINK_IDS=
	[ "$mode" = tcx ] && LINK_IDS=$(for d in ingress egress; do
		bpftool link show pinned "$PIN/links/if${IFINDEX}_$d" -j | jq -r .id
	done)
	stop_pid "$AGENT_PID" KILL
	C=$(nsx "$NS_A" "$PRIV" cleanup --pin-path "$PIN" -v 2>&1)
	check_eq "$?" 0 "$mode cleanup with $CAPS: exits 0"
	check_eq "$(tc_ours)" "0 0" "$mode cleanup: our tc filters removed"
	check_true "$mode cleanup: pin dir removed" test ! -e "$PIN"
	for id in $LINK_IDS; do
		check_true "$mode cleanup: our tcx link $id detached" \
			bash -c "! bpftool link show id $id >/dev/null 2>&1"
	done
	traffic 1
	if [ "$mode" = tcx ]; then
		check_true "$mode cleanup: foreign links untouched" links_alive "$mode"
		rm -f "$FPIN/${mode}_ingress" "$FPIN/${mode}_egress"
	else
		check_eq "$(tc_foreign)" "1 1" "$mode cleanup: foreign filters untouched"
		in_ns "$NS_A" tc qdisc del dev vA clsact
	fi
}

run_mode tcx
run_mode tc

# --- tc: the clsact qdisc warmpath created --------------------------------------
pin_new PIN q "$NS_A"
E_TX=0 E_RX=0
has_clsact && fail "qdisc: vA starts without clsact"
start tc || fail "qdisc: agent starts"
check_true "qdisc: agent created clsact" has_clsact
stop_pid "$AGENT_PID" KILL
start tc || fail "qdisc: agent restarts after SIGKILL"
stop_pid "$AGENT_PID" TERM
check_true "qdisc: created (before a SIGKILL) and empty: deleted on exit" no_clsact
start tc || fail "qdisc: agent starts again"
nsx "$NS_A" "$FOREIGN" tc "$IFINDEX" ingress 7 2 >/dev/null
stop_pid "$AGENT_PID" TERM
check_true "qdisc: created but another filter was added: kept" has_clsact
check_eq "$(tc_count ingress 0x7)" 1 "qdisc: the other filter untouched"
in_ns "$NS_A" tc qdisc del dev vA clsact

# --- tc: a refused start changes nothing; a bad --interface leaves no pin -------
start tc || fail "refuse: agent starts"
traffic $N
check_counts "refuse: before"
stop_pid "$AGENT_PID" KILL
IDS="$(tc_our_id ingress) $(tc_our_id egress)"
nsx "$NS_A" "$FOREIGN" tc "$IFINDEX_C" ingress 0x5750 1 >/dev/null
PINS=$(ls "$PIN" | tr '\n' ' ')
OUT=$(timeout 10 nsenter --net="/run/netns/$NS_A" "$PRIV" run --pin-path "$PIN" --interface vA,vC --attach-mode tc \
	--peer "b=$B_ADDR" --mode observe --metrics-listen off 2>&1)
check_rc $? nonzero "refuse: a foreign filter at our handle on vC: start fails"
check_match "$OUT" "vC belongs to another program" "refuse: the error names it"
check_eq "$(tc_our_id ingress) $(tc_our_id egress)" "$IDS" "refuse: vA's filters untouched (same programs)"
S=$(status_json "$PIN")
check_eq "$(jq -r '.interfaces | map(.name) | join(",")' <<<"$S")" vA "refuse: vA's ifaces entry kept"
check_eq "$(ls "$PIN" | tr '\n' ' ')" "$PINS" "refuse: pins unchanged"
traffic $N
check_counts "refuse: vA still counts (if_flags kept)"
check_eq "$(tc_count ingress 0x5750 vC)" 1 "refuse: the foreign filter on vC untouched"

OUT=$(timeout 10 nsenter --net="/run/netns/$NS_A" "$PRIV" run --pin-path "$PIN" --interface vA,nonexist \
	--attach-mode tc --peer "b=$B_ADDR" --mode observe --metrics-listen off 2>&1)
check_rc $? nonzero "bad --interface: start fails"
check_eq "$(tc_our_id ingress) $(tc_our_id egress)" "$IDS" "bad --interface: vA's filters untouched"
check_eq "$(ls "$PIN" | tr '\n' ' ')" "$PINS" "bad --interface: pins unchanged"
nsx "$NS_A" "$PRIV" cleanup --pin-path "$PIN" >/dev/null 2>&1
check_eq "$(tc_ours)" "0 0" "refuse: cleanup removes our filters"
pin_new PIN n "$NS_A"
OUT=$(timeout 10 nsenter --net="/run/netns/$NS_A" "$PRIV" run --pin-path "$PIN" --interface nonexist \
	--peer "b=$B_ADDR" --mode observe --metrics-listen off 2>&1)
check_rc $? nonzero "bad --interface, fresh pin path: start fails"
check_match "$OUT" "nonexist: no such interface" "bad --interface: the error names it"
check_true "bad --interface, fresh pin path: nothing left behind" test ! -e "$PIN"

# --- bpffs: mounted by 'warmpath run' as root, a clear error without SYS_ADMIN ---
# a private mount namespace without /sys/fs/bpf: the host's mount is untouched
pin_new PIN m "$NS_A"
OUT=$(unshare -m --propagation private bash -c '
	while mountpoint -q /sys/fs/bpf; do umount -l /sys/fs/bpf || exit 1; done
	[ "$(stat -f -c %T /sys/fs/bpf)" = bpf_fs ] && { echo "still bpffs"; exit 1; }
	timeout -s TERM 4 nsenter --net=/run/netns/'"$NS_A"' '"$REAL"' run --pin-path '"$PIN"' \
		--interface vA --peer b='"$B_ADDR"' --mode observe --metrics-listen off
	echo "fs after: $(stat -f -c %T /sys/fs/bpf)"' 2>&1)
check_match "$OUT" "mounted a BPF filesystem at /sys/fs/bpf" "bpffs: run mounts it when missing"
check_match "$OUT" " running: " "bpffs: and runs"
check_match "$OUT" "fs after: bpf_fs" "bpffs: /sys/fs/bpf is a bpffs in that namespace"
check_eq "$(stat -f -c %T /sys/fs/bpf)" bpf_fs "bpffs: the host's mount untouched"
check_true "bpffs: no pin of that run in the host's bpffs" test ! -e "$PIN"
OUT=$(unshare -m --propagation private bash -c '
	while mountpoint -q /sys/fs/bpf; do umount -l /sys/fs/bpf || exit 1; done
	timeout -s TERM 4 nsenter --net=/run/netns/'"$NS_A"' '"$PRIV"' run --pin-path '"$PIN"' \
		--interface vA --peer b='"$B_ADDR"' --mode observe --metrics-listen off' 2>&1)
check_match "$OUT" "not on a BPF filesystem.*needs CAP_SYS_ADMIN.*mount -t bpf" \
	"bpffs: without SYS_ADMIN, a clear error"

wp_finish
