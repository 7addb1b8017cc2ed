#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# For suites with several nodes, sourced after selftests/lib.sh: the agent
# of node N in the caller's associative arrays (declare -A NS PIN LOG APID).

# --- agents of named nodes -------------------------------------------------
# For tests with several nodes in the caller's associative arrays: NS[N] the
# node's namespace, PIN[N], LOG[N] and APID[N] its agent's pin, log and pid.

# node_start N IFNAME ARGS...: (re)start node N's agent watching IFNAME, as
# node N with the peers file $WP_TMP/peers.N, plus ARGS; its pin made on first use.
node_start()
{
	local n=$1 ifname=$2

	shift 2
	[ -z "${PIN[$n]:-}" ] && pin_new "PIN[$n]" "$n" "${NS[$n]}"
	LOG[$n]=$WP_TMP/agent-$n.log
	if agent_start "${NS[$n]}" "${PIN[$n]}" "${LOG[$n]}" --interface "$ifname" --node-name "$n" \
		--peers-file "$WP_TMP/peers.$n" "$@"; then
		APID[$n]=$AGENT_PID
		return 0
	fi
	APID[$n]=
	return 1
}

# node_stop N: SIGTERM node N's agent, if it runs.
node_stop()
{
	[ -n "${APID[$1]:-}" ] && stop_pid "${APID[$1]}" TERM
	APID[$1]=
}

