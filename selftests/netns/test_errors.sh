#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# warmpath's command line: bad input is refused with an exit status and a
# message that names it; the help texts list the contract options.
#
#   netns wpt<pid>xa
#  +--------------------------------------------+
#  | lo, dummy-free: no tunnel, no WireGuard    |
#  | every 'warmpath run' of this test runs     |
#  | here, each with a pin dir of this run      |
#  +--------------------------------------------+
#
# Every 'run' is given --pin-path (ours) and a time limit, so that an input
# wrongly accepted can neither touch the host nor hang the suite.

# shellcheck source=selftests/lib.sh
. "$(dirname "$0")/../lib.sh"
wp_require_root

NS=${WP_TAG}a
ns_add "$NS" || { fail "setup: namespace"; wp_finish; }
pin_new PIN e "$NS"

# wp NSARGS...: warmpath in our namespace; sets OUT (stdout+stderr) and RC.
wp()
{
	OUT=$(timeout -k 2 10 nsenter --net="/run/netns/$NS" "$WARMPATH" "$@" 2>&1)
	RC=$?
}

# wp_run ARGS...: 'warmpath run' with our pin path first.
wp_run()
{
	wp run --pin-path "$PIN" --mode observe --metrics-listen off "$@"
}

# --- run: bad values --------------------------------------------------------------
wp_run --interface nosuch0 --peer b=10.9.0.2
check_rc $RC nonzero "unknown interface: non-zero exit"
check_match "$OUT" "nosuch0" "unknown interface: message names it"
check_match "$OUT" "no such interface" "unknown interface: message says why"
# a start that fails on its input leaves nothing of its own behind: no pin, no dir
check_true "unknown interface: nothing left behind (no pin dir)" test ! -e "$PIN"
nsx "$NS" "$WARMPATH" cleanup --pin-path "$PIN" >/dev/null 2>&1

# a node whose CNI has not made its tunnel yet: the agent waits (not ready)
# instead of exiting into a crash loop; test_probe_auth.sh sees it attach later
OUT=$(timeout -k 2 3 nsenter --net="/run/netns/$NS" "$WARMPATH" run --pin-path "$PIN" \
	--mode observe --metrics-listen off --peer b=10.9.0.2 2>&1)
RC=$?
check_eq $RC 124 "interface auto with no tunnel: keeps running (waits for one)"
check_match "$OUT" "waiting for one.*--interface" "interface auto with no tunnel: says it waits, how to name one"
nsx "$NS" "$WARMPATH" cleanup --pin-path "$PIN" >/dev/null 2>&1

wp_run --interface lo --peer foo
check_eq $RC 2 "bad --peer value: exit 2"
check_match "$OUT" "'foo'" "bad --peer value: message names it"
check_match "$OUT" "NAME=ADDR" "bad --peer value: message shows the syntax"

wp_run --interface lo --peer b=10.9.0.300
check_eq $RC 2 "bad peer address: exit 2"
check_match "$OUT" "10\.9\.0\.300" "bad peer address: message names it"

wp_run --interface lo --peer b=10.9.0.2,10.9.0.0/33
check_eq $RC 2 "bad peer prefix: exit 2"
check_match "$OUT" "10\.9\.0\.0/33" "bad peer prefix: message names it"

wp_run --interface lo --peer 'b c=10.9.0.2'
check_eq $RC 2 "bad peer name: exit 2"
check_match "$OUT" "'b c'" "bad peer name: message names it"

wp_run --interface lo --peer b=10.9.0.2 --peer b=10.9.0.3
check_eq $RC 2 "peer given twice: exit 2"
check_match "$OUT" "'b'" "peer given twice: message names it"

wp_run --interface lo --bogus-option
check_eq $RC 2 "bad option: exit 2"
check_match "$OUT" "--bogus-option" "bad option: message names it"

wp_run --interface lo --mode fast
check_eq $RC 2 "bad --mode value: exit 2"
check_match "$OUT" "--mode.*fast" "bad --mode value: message names it"

wp_run --interface lo --probe-port 70000
check_eq $RC 2 "bad --probe-port value: exit 2"
check_match "$OUT" "70000" "bad --probe-port value: message names it"

wp_run --interface lo --peer
check_eq $RC 2 "option without its value: exit 2"
check_match "$OUT" "--peer" "option without its value: message names it"

wp_run --interface lo extra-arg
check_eq $RC 2 "stray argument: exit 2"
check_match "$OUT" "extra-arg" "stray argument: message names it"

OUT=$(WARMPATH_MODE=fast timeout -k 2 10 nsenter --net="/run/netns/$NS" "$WARMPATH" run \
	--pin-path "$PIN" --interface lo --metrics-listen off 2>&1)
RC=$?
check_eq $RC 2 "bad environment value: exit 2"
check_match "$OUT" "WARMPATH_MODE" "bad environment value: message names the variable"

# --- run: peers file --------------------------------------------------------------
PF=$WP_TMP/peers
printf '# test peers\nb 10.9.0.2 10.9.1.0/24\n\nbroken-line-without-address\n' >"$PF"
wp_run --interface lo --peers-file "$PF"
check_eq $RC 2 "peers file syntax error: exit 2"
check_match "$OUT" "$PF:4" "peers file syntax error: message names file:line"

printf 'b 10.9.0.2\nc 10.9.0.999\n' >"$PF"
wp_run --interface lo --peers-file "$PF"
check_eq $RC 2 "peers file bad address: exit 2"
check_match "$OUT" "$PF:2" "peers file bad address: message names file:line"
check_match "$OUT" "10\.9\.0\.999" "peers file bad address: message names the address"

wp_run --interface lo --peers-file "$WP_TMP/no-such-peers"
check_rc $RC nonzero "missing peers file: non-zero exit"
check_match "$OUT" "$WP_TMP/no-such-peers" "missing peers file: message names it"

# --- run: pin path not on bpffs ---------------------------------------------------
mkdir -p "$WP_TMP/notbpf"
OUT=$(timeout -k 2 10 nsenter --net="/run/netns/$NS" "$WARMPATH" run --pin-path "$WP_TMP/notbpf/x" \
	--interface lo --peer b=10.9.0.2 --mode observe --metrics-listen off 2>&1)
RC=$?
check_rc $RC nonzero "pin path off bpffs: non-zero exit"
check_match "$OUT" "bpffs" "pin path off bpffs: message mentions bpffs"
check_match "$OUT" "$WP_TMP/notbpf/x" "pin path off bpffs: message names the path"
check_true "pin path off bpffs: nothing created there" test ! -e "$WP_TMP/notbpf/x"

wp run --pin-path relative/dir --interface lo --metrics-listen off
check_eq $RC 2 "relative pin path: exit 2"
check_match "$OUT" "relative/dir" "relative pin path: message names it"

# --- not root ---------------------------------------------------------------------
if setpriv --reuid=65534 --regid=65534 --clear-groups true 2>/dev/null &&
	setpriv --reuid=65534 --regid=65534 --clear-groups test -x "$WARMPATH"; then
	check_true "not root: (precondition) pin dir absent" test ! -e "$PIN"
	OUT=$(timeout -k 2 10 nsenter --net="/run/netns/$NS" setpriv --reuid=65534 --regid=65534 \
		--clear-groups --inh-caps=-all "$WARMPATH" run --pin-path "$PIN" --interface lo \
		--peer b=10.9.0.2 --mode observe --metrics-listen off 2>&1)
	RC=$?
	check_rc $RC nonzero "not root: non-zero exit"
	check_match "$OUT" "root|CAP_BPF" "not root: message says to run as root / with CAP_BPF"
	check_true "not root: no pin dir created" test ! -e "$PIN"
	# a root-only pin where status looks for the peers map
	pin_new PIN_RO ro "$NS"
	mkdir -m 755 "$PIN_RO"
	bpftool map create "$PIN_RO/peers" type array key 4 value 4 entries 1 name peers
	OUT=$(setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all "$WARMPATH" \
		status --pin-path "$PIN_RO" 2>&1)
	check_match "$OUT" "root|ermission" "not root: status says why it cannot read the pins"
else
	info "skip not-root checks: $WARMPATH is not executable by nobody"
fi

# --- help and version -------------------------------------------------------------
wp --help
check_eq $RC 0 "warmpath --help: exit 0"
check_match "$OUT" "^Usage: warmpath" "warmpath --help: usage"
for c in run status cleanup version; do
	check_match "$OUT" "^ +$c " "warmpath --help: lists '$c'"
done

wp run --help
check_eq $RC 0 "run --help: exit 0"
for o in interface underlay-interface wireguard-port peer peers-file kubernetes node-name \
	keepalive-interval cold-threshold mode probe probe-port probe-timeout metrics-listen \
	pin-path log-format; do
	check_match "$OUT" "(^|[[:space:],])--$o([[:space:]=]|$)" "run --help: lists --$o"
done
check_match "$OUT" "(^|[[:space:],])-v([[:space:],]|$)" "run --help: lists -v"
check_match "$OUT" "[Ee]xample" "run --help: has examples"

wp status --help
check_eq $RC 0 "status --help: exit 0"
check_match "$OUT" "--pin-path" "status --help: lists --pin-path"
check_match "$OUT" "--json" "status --help: lists --json"

wp cleanup --help
check_eq $RC 0 "cleanup --help: exit 0"
check_match "$OUT" "--pin-path" "cleanup --help: lists --pin-path"

wp version
check_eq $RC 0 "version: exit 0"
check_match "$OUT" "^warmpath [^ ]+" "version: prints the version"

wp no-such-command
check_eq $RC 2 "unknown command: exit 2"
check_match "$OUT" "no-such-command" "unknown command: message names it"

# --- status / cleanup -------------------------------------------------------------
wp status --pin-path "$WP_BPFFS/${WP_TAG}none"
check_rc $RC nonzero "status on a missing pin path: non-zero exit"
check_match "$OUT" "$WP_BPFFS/${WP_TAG}none" "status on a missing pin path: message names it"
check_match "$OUT" "warmpath run" "status on a missing pin path: message hints at 'warmpath run'"

wp status --pin-path "$PIN" --bogus
check_eq $RC 2 "status bad option: exit 2"
check_match "$OUT" "--bogus" "status bad option: message names it"

wp cleanup --pin-path "$PIN" --bogus
check_eq $RC 2 "cleanup bad option: exit 2"
check_match "$OUT" "--bogus" "cleanup bad option: message names it"

wp cleanup --pin-path "$WP_BPFFS/${WP_TAG}none"
check_eq $RC 0 "cleanup of a pin path with nothing: exit 0"

wp_finish
