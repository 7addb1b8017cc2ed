#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# Measuring the lab: counters on the wire and in the agents, connections,
# traffic, Prometheus queries. Sourced by scripts/lab.sh, not run alone.

# --- measuring ------------------------------------------------------------------

# lab_wait TIMEOUT_S CMD...: retry every 0.1 s until CMD succeeds
lab_wait()
{
	local deadline

	deadline=$(($(date +%s%N) + ${1%.*} * 1000000000))
	shift
	while :; do
		"$@" >/dev/null 2>&1 && return 0
		[ "$(date +%s%N)" -ge "$deadline" ] && return 1
		sleep 0.1
	done
}

# lab_http URL: GET, the body on stdout; fails unless the answer is 200. curl
# when it is there (LAB_HTTP=ncat forces the fallback), else HTTP/1.0 by hand
# over ncat, which the lab needs anyway.
lab_http()
{
	local hp path resp

	if [ "${LAB_HTTP:-}" != ncat ] && command -v curl >/dev/null; then
		curl -sf --max-time 5 "$1"
		return
	fi
	hp=${1#http://}
	path=/${hp#*/}
	hp=${hp%%/*}
	resp=$(printf 'GET %s HTTP/1.0\r\nHost: %s\r\nConnection: close\r\n\r\n' "$path" "$hp" |
		timeout 5 ncat --no-shutdown "${hp%:*}" "${hp##*:}" 2>/dev/null) || return 1
	[[ "$resp" == "HTTP/1."?" 200 "* ]] || return 1
	sed '1,/^\r\{0,1\}$/d' <<<"$resp"
}

# lab_ping NODE ADDR: one echo, answered within 1 s
lab_ping() { lab_in "$1" ping -q -n -c 1 -W 1 "$2" >/dev/null 2>&1; }

# lab_counter NODE NAME: packets of a named nftables counter in the node
lab_counter()
{
	lab_in "$1" nft -j list counter inet lab "$2" 2>/dev/null |
		jq -r '[.nftables[] | select(.counter) | .counter.packets][0] // 0'
}

# lab_router_counter NAME: packets of the NAT router's drop counter
lab_router_counter()
{
	ip netns exec "$(lab_router_ns)" nft -j list counter inet lab_fw "$1" 2>/dev/null |
		jq -r '[.nftables[] | select(.counter) | .counter.packets][0] // 0'
}

# lab_probe_packets X Y: probe packets (requests + replies) both put on the wire to each other
lab_probe_packets()
{
	echo $(($(lab_counter "$1" "probe_req_$2") + $(lab_counter "$1" "probe_rep_$2") +
		$(lab_counter "$2" "probe_req_$1") + $(lab_counter "$2" "probe_rep_$1")))
}

# lab_per_min N SECONDS: N events in SECONDS, per minute (one decimal)
lab_per_min() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.1f", n * 60 / s }'; }

# lab_probe_requests X Y: probe requests either side sent to the other (= exchanges)
lab_probe_requests()
{
	echo $(($(lab_counter "$1" "probe_req_$2") + $(lab_counter "$2" "probe_req_$1")))
}

lab_status_json() { "$WARMPATH" status --pin-path "$(lab_pin "$1")" --json 2>/dev/null; }

# lab_peer NODE PEER FIELD: one field of one peer in NODE's pinned maps
lab_peer()
{
	lab_status_json "$1" | jq -r --arg p "$2" --arg f "$3" \
		'[.peers[] | select(.name == $p) | .[$f]][0] // 0'
}

# lab_metric NODE NAME PEER: a per-peer metric of NODE's agent (0 when absent)
lab_metric()
{
	lab_http "$(lab_metrics_url "$1")/metrics" |
		awk -v m="$2" -v p="peer=\"$3\"" '$1 ~ "^"m"[{]" && index($1, p) { s += $2 } END { print s + 0 }'
}

# lab_connect FROM TO TIMEOUT_S: one TCP connect FROM's pod -> TO's pod:8080.
# Prints "RC MS": RC 0 connected, 124 timed out; MS how long it took.
lab_connect()
{
	# shellcheck disable=SC2016 # expanded by the inner shell
	lab_in "$1" bash -c '
		t0=$(date +%s%N)
		timeout "$0" bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null
		rc=$?
		echo "$rc $((($(date +%s%N) - t0) / 1000000))"' "$3" "$(lab_pod "$2")" $LAB_TCP_PORT
}

# lab_send NODE TO: one UDP datagram from NODE to TO's wg address (discarded there)
lab_send()
{
	lab_in "$1" bash -c "echo x >/dev/udp/$(lab_wgaddr "$2")/$LAB_DISCARD_PORT" 2>/dev/null
}

# lab_warm [X-Y...]: one ping each way between the pods of these pairs (default:
# all), NATed side first, so that every agent has seen its peers (a cold start
# needs a packet before the gap); fails if a ping is not answered.
lab_warm()
{
	local p x y pairs=("$@")

	[ $# -gt 0 ] || mapfile -t pairs < <(lab_pairs)
	for p in "${pairs[@]}"; do
		x=${p%-*} y=${p#*-}
		lab_wait 5 lab_ping "$x" "$(lab_pod "$y")" || return 1
		lab_wait 5 lab_ping "$y" "$(lab_pod "$x")" || return 1
	done
}

# lab_quiet [X-Y...]: one WireGuard keepalive each way on these pairs (default:
# all), the NATed side first. wireguard-go answers received data with a
# keepalive after 10 s and re-handshakes 15 s after unanswered data; with the
# lab's short NAT timeout either would reopen the path in the middle of an idle
# period (with a real NAT's 30 s or more it happens before the mapping expires).
# A keepalive each way clears both timers, invisibly to warmpath (not a packet
# on the tun device).
lab_quiet()
{
	local p x y pairs=("$@")

	[ $# -gt 0 ] || mapfile -t pairs < <(lab_pairs)
	for p in "${pairs[@]}"; do
		x=${p%-*} y=${p#*-}
		_lab_keepalive "$x" "$y" || return 1
		sleep 0.05
		_lab_keepalive "$y" "$x" || return 1
	done
}

# _lab_keepalive FROM TO: wireguard-go sends a keepalive when one is switched on
_lab_keepalive()
{
	local wg pub

	wg=$(lab_wg "$1")
	pub=$(cat "$LAB_DIR/$2.pub")
	lab_in "$1" wg set "$wg" peer "$pub" persistent-keepalive 1 &&
		lab_in "$1" wg set "$wg" peer "$pub" persistent-keepalive off
}

# lab_busy_start X Y: a steady ping between the pods of X and Y (5/s)
lab_busy_start()
{
	local pid

	lab_spawn pid "busy-$1-$2" /dev/null ip netns exec "$(lab_ns "$1")" \
		ping -q -n -i 0.2 "$(lab_pod "$2")"
}

lab_busy_stop() { lab_kill "busy-$1-$2"; }

# lab_promql QUERY: the Prometheus HTTP API's answer (JSON)
lab_promql()
{
	lab_http "$(lab_prom_url)/api/v1/query?query=$(jq -rn --arg q "$1" '$q | @uri')"
}

# lab_path_open X P G [FIRST]: the ground truth of the path X (NATed) - P
# (outside X's NAT) after G s of silence: a keepalive each way (clears
# WireGuard's timers), one exchange (a ping: FIRST x = X asks, p = P asks), G s
# of silence, then one datagram from P to X. Prints 1 if it got through, 0 if
# the NAT dropped it. Nothing else may talk on the pair meanwhile (no agents).
lab_path_open()
{
	local x=$1 p=$2 g=$3 c0

	lab_quiet "$x-$p" || return 1
	if [ "${4:-x}" = x ]; then
		lab_wait 3 lab_ping "$x" "$(lab_wgaddr "$p")" || return 1
	else
		lab_wait 3 lab_ping "$p" "$(lab_wgaddr "$x")" || return 1
	fi
	c0=$(lab_counter "$x" "disc_in_$p")
	sleep "$g"
	lab_send "$p" "$x"
	sleep 0.5
	[ "$(lab_counter "$x" "disc_in_$p")" -gt "$c0" ] && echo 1 || echo 0
}
