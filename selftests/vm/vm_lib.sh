#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# Shared by selftests/vm/test_*.sh (run inside the vmtest guest, also runnable
# on any host as root): selftests/lib.sh (veth_ab: the veth pair between two
# tagged namespaces) plus small readers of the agent's state.

# shellcheck source=selftests/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

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

# lib.sh's agent_start waits WP_START_TIMEOUT s: 90 here unless set (the
# guest's guest.sh exports it for the netns suites it runs too).
: "${WP_START_TIMEOUT:=90}"
export WP_START_TIMEOUT
