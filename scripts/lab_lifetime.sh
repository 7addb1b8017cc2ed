#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# The lifetime lab (issue 16) and its figures, shared by
# selftests/netns/test_lifetime.sh (which asserts them) and bench/lab_bench.sh
# (which prints them). Sourced after scripts/lab.sh, not run alone.
#
#  site A: a1 behind NAT router r,  UDP conntrack timeout 6 s  (LT_NAT_A)
#  site C: c1 behind NAT router r2, UDP conntrack timeout 20 s (LT_NAT_C)
#  site B: b1 public; pairs a1-b1 and c1-b1 (A and C do not peer)
#
# The true lifetime of a path (the longest silence after which a first packet
# from outside the NAT still gets in): the pair's traffic is one outer UDP
# flow, and WireGuard sends a keepalive 10 s after it last received data if it
# sent nothing since, which refreshes the mapping if it is still there. So the
# lifetime is N for a NAT timeout N < 10 s and about N + 10 s for N >= 10 s.
# lt_truth measures it (lab_path_open just below and just above).
#
# Figures, in LT[...] (KEY.PAIR): base_window / safe_window (the idle windows:
# the longest lifetime + 2 s, 2 x it + 1 s), truth (nominal s), open/closed (1 if the
# datagram got in after the gap below / above), base.xpm and auto.xpm (probe
# exchanges per minute, fixed interval vs learned), base.lost / safe.lost (SYNs
# lost on a connection from the public side after an idle period), lower,
# upper, interval, source (both ends: "x/y"), learn_s (time to converge),
# goal_lower / goal_s (the lower bounds, "x/y", at convergence or at
# LT_LEARN_GOAL s, whichever came first, and when),
# wl.lost (workload SYNs lost during learning); node-level: wl.hits (agents'
# warmpath_lifetime_trial_workload_hits_total), trials (by result).

LT_NAT_A=${LT_NAT_A:-6}
LT_NAT_C=${LT_NAT_C:-20}
LT_FIXED=${LT_FIXED:-4}
LT_AUTO=${LT_AUTO:-auto:4-60}
LT_TRIAL_IDLE=${LT_TRIAL_IDLE:-5}
LT_TRIAL_EVERY=${LT_TRIAL_EVERY:-0}
# the goal: each end's lower bound right within LT_LEARN_GOAL s; the search
# itself may go on to LT_LEARN_MAX s (the figures after learning need it over)
LT_LEARN_GOAL=${LT_LEARN_GOAL:-300}
LT_LEARN_MAX=${LT_LEARN_MAX:-420}
declare -A LT

# lt_configure: the lab's variables for the lifetime lab (before lab_up)
# shellcheck disable=SC2034 # lab.sh reads them
lt_configure()
{
	LAB_NODES=(a1 c1 b1)
	LAB_NAT_TIMEOUT=$LT_NAT_A
	LAB_NAT2_TIMEOUT=$LT_NAT_C
	LAB_KEEPALIVE=$LT_FIXED
	LAB_COLD=$LT_NAT_A
}

# lt_nominal PAIR: the expected lifetime of a pair (its NATed side first)
lt_nominal()
{
	local n=$LT_NAT_A

	[ "$(lab_site "${1%-*}")" = c ] && n=$LT_NAT_C
	if [ "$n" -lt 10 ]; then echo "$n"; else echo $((n + 10)); fi
}

# lt_truth: each pair's lifetime measured, the pairs in parallel (no agents)
lt_truth()
{
	local p t m pids=()

	LT[longest]=0
	for p in $(lab_pairs); do
		t=$(lt_nominal "$p")
		[ "$t" -gt "${LT[longest]}" ] && LT[longest]=$t
		m=1
		[ "$t" -ge 10 ] && m=2 # WireGuard's keepalive timer: a little slack
		LT[truth.$p]=$t LT[below.$p]=$((t - m)) LT[above.$p]=$((t + m))
		(
			echo "$(lab_path_open "${p%-*}" "${p#*-}" $((t - m)))" \
				"$(lab_path_open "${p%-*}" "${p#*-}" $((t + m)))" >"$LAB_DIR/truth-$p"
		) &
		pids+=($!)
	done
	wait "${pids[@]}"
	# idle windows: past every lifetime (baseline), 2 x the longest (after learning)
	LT[base_window]=$((LT[longest] + 2)) LT[safe_window]=$((2 * LT[longest] + 1))
	for p in $(lab_pairs); do
		read -r "LT[open.$p]" "LT[closed.$p]" <"$LAB_DIR/truth-$p" || true
		# closed: 1 when the datagram did NOT get in
		LT[closed.$p]=$((1 - ${LT[closed.$p]:-1}))
	done
}

# lt_requests: "PAIR REQUESTS TRIALMSGS" for every pair, probe requests and
# trial messages both sides sent
lt_requests()
{
	local p x y

	for p in $(lab_pairs); do
		x=${p%-*} y=${p#*-}
		echo "$p $(lab_probe_requests "$x" "$y")" \
			$(($(lab_counter "$x" "probe_trial_$y") + $(lab_counter "$y" "probe_trial_$x")))
	done
}

# lt_syn_counts: "PAIR LEFT ARRIVED", SYNs from the public side to the NATed one
lt_syn_counts()
{
	local p

	for p in $(lab_pairs); do
		echo "$p $(lab_counter "${p#*-}" "syn_out_${p%-*}") $(lab_counter "${p%-*}" "syn_in_${p#*-}")"
	done
}

# lt_idle_window KEY SECONDS: no workload for SECONDS, then one connection on
# every pair from the public side. LT[KEY.xpm.PAIR] = probe exchanges per
# minute in the window, LT[KEY.tpm.PAIR] trial messages per minute,
# LT[KEY.lost.PAIR] = SYNs of the connection lost.
lt_idle_window()
{
	local key=$1 w=$2 p c m t0 span
	declare -A r0 m0

	while read -r p c m; do r0[$p]=$c m0[$p]=$m; done < <(lt_requests)
	t0=$(date +%s%N)
	sleep "$w"
	span=$(awk -v t="$t0" -v n="$(date +%s%N)" 'BEGIN { printf "%.2f", (n - t) / 1e9 }')
	while read -r p c m; do
		LT[$key.xpm.$p]=$(lab_per_min $((c - ${r0[$p]})) "$span")
		LT[$key.tpm.$p]=$(lab_per_min $((m - ${m0[$p]})) "$span")
	done < <(lt_requests)
	LT[$key.span]=$span
	lt_connect_all "$key"
}

# lt_connect_all KEY: one connection public -> NATed side on every pair (in
# parallel); LT[KEY.lost.PAIR] = its SYNs lost (left - arrived), LT[KEY.rc.PAIR]
lt_connect_all()
{
	local key=$1 p l a pids=()
	declare -A o0 i0

	while read -r p l a; do o0[$p]=$l i0[$p]=$a; done < <(lt_syn_counts)
	for p in $(lab_pairs); do
		lab_connect "${p#*-}" "${p%-*}" 8 >"$LAB_DIR/conn-$p" &
		pids+=($!)
	done
	wait "${pids[@]}"
	sleep 0.3
	while read -r p l a; do
		LT[$key.lost.$p]=$(((l - ${o0[$p]}) - (a - ${i0[$p]})))
		read -r "LT[$key.rc.$p]" _ <"$LAB_DIR/conn-$p" || LT[$key.rc.$p]=none
	done < <(lt_syn_counts)
}

# lt_peer NODE PEER FIELD: one field of a peer in the running agent's /peers
lt_peer()
{
	lab_http "$(lab_metrics_url "$1")/peers" | jq -r --arg p "$2" --arg f "$3" \
		'[.peers[] | select(.name == $p) | .[$f]][0] // "none"'
}

# lt_node_metric NODE NAME [LABEL]: sum of a node-level metric's samples
# (with LABEL, e.g. result="failed", only those)
lt_node_metric()
{
	lab_http "$(lab_metrics_url "$1")/metrics" |
		awk -v m="$2" -v l="${3:-}" '($1 == m || $1 ~ "^"m"[{]") && index($1, l) { s += $2 }
			END { print s + 0 }'
}

# lt_converged PAIR: both ends say the search for this pair is over
lt_converged()
{
	[ "$(lt_peer "${1%-*}" "${1#*-}" lifetime_converged)" = true ] &&
		[ "$(lt_peer "${1#*-}" "${1%-*}" lifetime_converged)" = true ]
}

# lt_learn: agents in auto mode; every pair's learning watched until both ends
# converged (LT_LEARN_MAX s at most); a connection public -> NATed side on
# every pair at 20 s and 80 s (the workload trials may meet). Fills
# LT[learn_s.PAIR] (or "no"), lower/upper/interval/source (x's view/y's view),
# wl.lost.PAIR (and wl.rounds.PAIR: lost per round, "0+3"), wl.fpd.PAIR (the
# public end's first_packet_drops meanwhile), learn.tmsg.PAIR (trial messages
# on the wire), wl.hits, trials.
lt_learn()
{
	local p t0 now el pend w=0 x y f v r pids=() m0
	declare -A l0 a0 f0

	lab_agents_start idle --keepalive-interval "$LT_AUTO" \
		--lifetime-trial-idle "$LT_TRIAL_IDLE" --lifetime-trial-every "$LT_TRIAL_EVERY" ||
		return 1
	t0=$(date +%s)
	# shellcheck disable=SC2034 # read through lt_round_mark's namerefs
	while read -r p x y; do l0[$p]=$x a0[$p]=$y; done < <(lt_syn_counts)
	m0=$(lt_requests)
	for p in $(lab_pairs); do
		LT[learn_s.$p]=no LT[wl.rounds.$p]='' LT[goal_s.$p]='' LT[goal_lower.$p]=''
		f0[$p]=$(lt_peer "${p#*-}" "${p%-*}" first_packet_drops)
	done
	while :; do
		now=$(date +%s)
		el=$((now - t0))
		pend=0
		for p in $(lab_pairs); do
			[ "${LT[learn_s.$p]}" = no ] || continue
			if lt_converged "$p"; then LT[learn_s.$p]=$el; else pend=1; fi
			[ -z "${LT[goal_s.$p]:-}" ] || continue
			if [ "${LT[learn_s.$p]}" != no ] || [ $el -ge "$LT_LEARN_GOAL" ]; then
				LT[goal_s.$p]=$el
				LT[goal_lower.$p]="$(lt_peer "${p%-*}" "${p#*-}" lifetime_lower_seconds)/$(
					lt_peer "${p#*-}" "${p%-*}" lifetime_lower_seconds)"
			fi
		done
		[ $pend = 0 ] && break
		[ $el -ge "$LT_LEARN_MAX" ] && break
		if { [ $w = 0 ] && [ $el -ge 20 ]; } || { [ $w = 1 ] && [ $el -ge 80 ]; }; then
			w=$((w + 1))
			lt_round_mark l0 a0
			# before the first round: no workload, nothing to count
			if [ $w = 1 ]; then
				for p in $(lab_pairs); do LT[wl.rounds.$p]=; done
			fi
			for p in $(lab_pairs); do
				lab_connect "${p#*-}" "${p%-*}" 8 >/dev/null &
				pids+=($!)
			done
		fi
		sleep 2
	done
	[ ${#pids[@]} = 0 ] || wait "${pids[@]}" # the workload's connections
	sleep 0.3
	lt_round_mark l0 a0
	while read -r p x y; do
		LT[wl.sent.$p]=$w
		LT[wl.rounds.$p]=${LT[wl.rounds.$p]#+}
		LT[wl.lost.$p]=$((${LT[wl.rounds.$p]:-0}))
	done < <(lt_syn_counts)
	while read -r p x v; do
		r=$(grep "^$p " <<<"$m0")
		LT[learn.tmsg.$p]=$((v - ${r##* }))
	done < <(lt_requests)
	for p in $(lab_pairs); do
		x=${p%-*} y=${p#*-}
		v=$(lt_peer "$y" "$x" first_packet_drops)
		LT[wl.fpd.$p]=$((${v//[^0-9]/} - ${f0[$p]//[^0-9]/}))
		for f in lower:lifetime_lower_seconds upper:lifetime_upper_seconds \
			interval:keepalive_interval_seconds source:interval_source trials:lifetime_trials; do
			LT[${f%%:*}.$p]="$(lt_peer "$x" "$y" "${f#*:}")/$(lt_peer "$y" "$x" "${f#*:}")"
		done
	done
	v=0
	for x in "${LAB_NODES[@]}"; do
		v=$((v + $(lt_node_metric "$x" warmpath_lifetime_trial_workload_hits_total)))
	done
	LT[wl.hits]=$v
	LT[trials]=
	for r in survived failed aborted refused unanswered; do
		v=0
		for x in "${LAB_NODES[@]}"; do
			v=$((v + $(lt_node_metric "$x" warmpath_lifetime_trials_total "result=\"$r\"")))
		done
		LT[trials]+="$r $v, "
	done
	LT[trials]=${LT[trials]%, }
}

# lt_round_mark L0 A0: the SYNs lost on each pair since the last mark
# (public -> NATed side: left - arrived), appended to LT[wl.rounds.PAIR] as
# "+N"; the arrays named L0 / A0 (by pair) hold the marks.
lt_round_mark()
{
	local -n _l=$1 _a=$2
	local p x y

	while read -r p x y; do
		LT[wl.rounds.$p]+="+$(((x - ${_l[$p]}) - (y - ${_a[$p]})))"
		# shellcheck disable=SC2004 # associative arrays: $p is a key
		_l[$p]=$x _a[$p]=$y
	done < <(lt_syn_counts)
}

# lt_within LOWER TRUTH: 0.7 x TRUTH <= LOWER <= TRUTH (LOWER a number)
lt_within()
{
	awk -v l="$1" -v t="$2" 'BEGIN { exit !(l ~ /^[0-9.]+$/ && l <= t && l >= 0.7 * t) }'
}

# lt_ratio A B: A / B to 2 places ("n/a" when either is missing or B is 0)
lt_ratio()
{
	awk -v a="$1" -v b="$2" 'BEGIN { if (a != "" && b > 0) printf "%.2f", a / b; else print "n/a" }'
}

# lt_report: the figures, one line per pair ("-": not measured)
lt_report()
{
	local p f='  %-6s %5s %-15s %6s %6s %5s %-11s %-11s %-9s %5s %5s %5s %3s %5s\n'

	# shellcheck disable=SC2059 # the format, once
	printf "$f" pair true measured fixed auto ratio lower upper interval learn drop0 drop1 wl wlost
	for p in $(lab_pairs); do
		# shellcheck disable=SC2059
		printf "$f" "$p" "${LT[truth.$p]}s" \
			"${LT[below.$p]}s:$([ "${LT[open.$p]}" = 1 ] && echo in || echo lost),${LT[above.$p]}s:$([ "${LT[closed.$p]}" = 1 ] && echo lost || echo in)" \
			"${LT[base.xpm.$p]:--}" "${LT[safe.xpm.$p]:--}" \
			"$(lt_ratio "${LT[safe.xpm.$p]:-}" "${LT[base.xpm.$p]:-}")" "${LT[lower.$p]:--}" \
			"${LT[upper.$p]:--}" "${LT[interval.$p]:--}" "${LT[learn_s.$p]:--}" \
			"${LT[base.lost.$p]:--}" "${LT[safe.lost.$p]:--}" "${LT[wl.sent.$p]:--}" "${LT[wl.rounds.$p]:--}"
	done
	echo "  true: the path's lifetime (s); measured: a datagram from the public side after that"
	echo "  many s of silence got in or was lost. fixed / auto: probe exchanges per minute on the"
	echo "  idle pair at ${LT_FIXED}s vs learned ($LT_AUTO), ratio auto/fixed. lower / upper /"
	echo "  interval: the NATed end's view / the public end's (s); learn: s until both converged."
	echo "  drop0 / drop1: SYNs lost on a connection from the public side after an idle window"
	echo "  (${LT[base_window]:-?}s fixed, ${LT[safe_window]:-?}s learned). wl / wlost: workload connections during"
	echo "  learning and the SYNs each lost (first + second...)."
	echo "  trials (all agents): ${LT[trials]:--}; workload hits they counted: ${LT[wl.hits]:--}"
	for p in $(lab_pairs); do
		echo "  $p: lower bounds ${LT[goal_lower.$p]:--} at ${LT[goal_s.$p]:--}s (at convergence or" \
			"${LT_LEARN_GOAL}s, whichever came first)"
	done
	for p in $(lab_pairs); do
		echo "  $p: trial messages per minute after learning ${LT[safe.tpm.$p]:--} (not in auto's" \
			"exchanges; fixed: ${LT[base.tpm.$p]:--})"
	done
}
