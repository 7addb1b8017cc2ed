#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# Shared by selftests/vm/test_*.sh (run inside the vmtest guest, also runnable
# on any host as root): selftests/lib.sh plus a veth pair between two tagged
# namespaces and small readers of the agent's state.

# shellcheck source=selftests/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

# veth_pair NS_A NS_B ADDR_A ADDR_B: vA (in NS_A) <-> vB (in NS_B), /24, up.
veth_pair()
{
	ns_add "$1" && ns_add "$2" || return 1
	ip -n "$1" link add vA type veth peer name vB netns "$2" || return 1
	iface_disable_ipv6 "$1" vA
	iface_disable_ipv6 "$2" vB
	ip -n "$1" addr add "$3/24" dev vA
	ip -n "$2" addr add "$4/24" dev vB
	ip -n "$1" link set vA up
	ip -n "$2" link set vB up
	ping_n "$1" "$4" 1
}

# ifindex NS IF
ifindex()
{
	ip -n "$1" -j link show "$2" | jq '.[0].ifindex'
}

# tc_ours NS IF DIR: how many tc filters at warmpath's handle 0x5750
tc_ours()
{
	in_ns "$1" tc filter show dev "$2" "$3" | grep -c 'handle 0x5750'
}

# attach_of PIN IF: the attach mode status reports for an interface
attach_of()
{
	status_json "$1" | jq -r --arg i "$2" '.interfaces[] | select(.name == $i) | .attach'
}

# metric_sum NS PORT REGEX: the sum of the series matching REGEX (0 if none)
metric_sum()
{
	nsx "$1" curl -s --max-time 3 "http://127.0.0.1:$2/metrics" |
		awk -v re="$3" '$0 !~ /^#/ && $1 ~ re { s += $2 } END { print s + 0 }'
}

# udp_listen NS PORT: a UDP socket that takes the datagrams of its first
# sender (ncat connects to it): send them with send_udp_from and one port
udp_listen()
{
	local pid

	bg pid ip netns exec "$1" ncat -u -l "$2" --recv-only >/dev/null 2>&1
	sleep 0.3
}

# agent_start NS PIN LOG ARGS...: lib.sh's, with a start timeout for an
# emulated CPU on a busy host (WP_START_TIMEOUT, default 90 s; lib.sh waits
# 15 s): under TCG the kernel's BTF and the verifier run 10-50x slower.
# Says how long a start took when it took more than 10 s.
agent_start()
{
	local ns=$1 pin=$2 log=$3 t0

	shift 3
	AGENT_PID=
	: >"$log"
	t0=$(date +%s)
	bg AGENT_PID nsenter --net="/run/netns/$ns" "$WARMPATH" run --pin-path "$pin" --metrics-listen off "$@" \
		>>"$log" 2>&1
	if ! wait_for "${WP_START_TIMEOUT:-90}" _agent_ready "$AGENT_PID" "$log"; then
		echo "# agent did not start in ${WP_START_TIMEOUT:-90} s; its log:" >&2
		sed 's/^/#   /' "$log" >&2
		return 1
	fi
	[ $(($(date +%s) - t0)) -gt 10 ] && info "the agent took $(($(date +%s) - t0)) s to start"
	grep -q ' running: ' "$log"
}
