#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# make vmtest: boot another kernel under qemu and run the kernel-facing tests
# (selftests/vm/test_*.sh) inside it. Prints the guest's checks and one final
# "N passed, N failed"; exits non-zero on any failure, a guest that hangs
# (bounded by VMTEST_TIMEOUT) or a guest that prints no summary.
#
# Usage: sudo scripts/vmtest.sh [KERNEL]
#   KERNEL  a Debian kernel package (default linux-image-cloud-amd64, Debian 12's
#           6.1; a meta package is resolved to its versioned image), downloaded
#           with apt-get download and unpacked into .output/vm/ (never installed
#           on the host); or a path to a vmlinuz, its modules in
#           VMTEST_MODULES or <vmlinuz dir>/../lib/modules/<version>.
# Environment: VMTEST_FILTER (run only the guest parts whose name contains one
#   of its words),
#   VMTEST_NETNS (selftests/netns suites to run in the guest too, default
#   "wireguard_nat": kernel WireGuard behind a NAT; "none" for none),
#   VMTEST_TIMEOUT (seconds for the whole guest, default 900), VMTEST_ACCEL
#   (auto|kvm|tcg; auto uses KVM only when a probe boot under it succeeds),
#   VMTEST_MEM (MiB, default 1536), VMTEST_SMP (default 2).
#
# The guest has no 9p: everything it runs is packed into an initramfs
# (busybox-static for init, the needed kernel modules, ./warmpath, selftests/
# and the host's bash, iproute2, bpftool, wg, nft, ... with their libraries).
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
VM=$ROOT/.output/vm
KERNEL=${1:-${KERNEL:-linux-image-cloud-amd64}}
TIMEOUT=${VMTEST_TIMEOUT:-900}
MEM=${VMTEST_MEM:-1536}
SMP=${VMTEST_SMP:-2}
ACCEL=${VMTEST_ACCEL:-auto}

# kernel modules the guest loads (with their dependencies from modules.dep)
MODULES=(veth sch_ingress cls_bpf cls_matchall act_gact ipip vxlan wireguard
	nf_tables nft_ct nft_nat nft_masq nft_chain_nat nft_reject_inet nf_conntrack)
# host programs copied into the guest (with the libraries ldd names)
TOOLS=(bash ip tc bpftool wg nft ping setpriv capsh curl jq timeout nsenter unshare ncat
	sysctl ps grep egrep sed awk find xargs mount umount flock getopt)

die()
{
	echo "vmtest: $*" >&2
	echo "0 passed, 1 failed"
	exit 1
}

log()
{
	echo "vmtest: $*"
}

[ "$(id -u)" = 0 ] || die "must run as root (apt-get download, the guest's initramfs); try: sudo make vmtest"
for c in qemu-system-x86_64 busybox gzip ldd; do
	command -v "$c" >/dev/null || die "'$c' missing; run scripts/install-deps.sh"
done
[ -x "$ROOT/warmpath" ] || die "$ROOT/warmpath not built; run 'make' first"
mkdir -p "$VM"

# --- the kernel ------------------------------------------------------------

# resolve PKG: a meta package (linux-image-cloud-amd64) to the versioned
# image it depends on; the name itself otherwise
resolve()
{
	local dep

	dep=$(apt-cache depends "$1" 2>/dev/null |
		awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
	echo "${dep:-$1}"
}

# fetch_kernel PKG: download and unpack a Debian kernel package (cached);
# sets VMLINUZ and MODDIR.
fetch_kernel()
{
	local pkg dir deb

	pkg=$(resolve "$1")
	if [ -z "$(apt-cache show "$pkg" 2>/dev/null | head -1)" ]; then
		if [ -s "$VM/$1.resolved" ]; then
			pkg=$(cat "$VM/$1.resolved") # no package lists: the last resolution
		fi
	fi
	dir=$VM/$pkg
	if [ ! -e "$dir/.ok" ]; then
		log "downloading $pkg (apt-get download; not installed on the host)"
		rm -rf "$dir" && mkdir -p "$dir/root"
		if ! (cd "$dir" && apt-get download "$pkg" >/dev/null 2>&1); then
			# stale or missing package lists: update them once and resolve again
			apt-get update -qq >/dev/null 2>&1
			pkg=$(resolve "$1")
			rm -rf "$dir"
			dir=$VM/$pkg
			mkdir -p "$dir/root"
			(cd "$dir" && apt-get download "$pkg" >/dev/null 2>&1) ||
				die "apt-get download $pkg failed"
		fi
		deb=$(ls "$dir"/*.deb 2>/dev/null | head -1)
		[ -n "$deb" ] || die "apt-get download $pkg: no .deb"
		dpkg-deb -x "$deb" "$dir/root" || die "dpkg-deb -x $deb failed"
		rm -f "$deb"
		touch "$dir/.ok"
	fi
	[ "$pkg" != "$1" ] && echo "$pkg" >"$VM/$1.resolved"
	VMLINUZ=$(ls "$dir"/root/boot/vmlinuz-* 2>/dev/null | head -1)
	[ -n "$VMLINUZ" ] || die "$pkg has no /boot/vmlinuz-*"
	MODDIR=$dir/root/lib/modules/${VMLINUZ##*/vmlinuz-}
}

if [ -f "$KERNEL" ]; then
	VMLINUZ=$(realpath "$KERNEL")
	KVER=${VMLINUZ##*/vmlinuz-}
	MODDIR=${VMTEST_MODULES:-$(dirname "$VMLINUZ")/../lib/modules/$KVER}
else
	fetch_kernel "$KERNEL"
fi
[ -d "$MODDIR" ] || die "no modules directory $MODDIR (set VMTEST_MODULES)"
MODDIR=$(realpath "$MODDIR")
KVER=$(basename "$MODDIR")
log "kernel $KVER ($VMLINUZ)"

# --- the initramfs ---------------------------------------------------------

# Two archives, concatenated (the kernel unpacks one after the other): the
# base (busybox, host tools and libraries, modules), cached in .output/vm/
# until the kernel, this script, the host's packages or warmpath's libraries
# change; and the project (./warmpath, selftests/, the run's settings), packed
# anew each run. Staged outside .output: the Makefile includes every *.d there.
t_prep=$(date +%s)
STAGE=$(mktemp -d /tmp/vmtest-initramfs.XXXXXX) || die "mktemp failed"
trap 'rm -rf -- "$STAGE" "$STAGE.cpio.gz"' EXIT
BASE=$VM/base-$KVER.cpio.gz
INITRD=$VM/initramfs-$KVER.cpio.gz
KEY=$({
	echo "$KVER $MODDIR $VMLINUZ"
	sha256sum "$0" "$ROOT/selftests/vm/init"
	stat -c %Y /var/lib/dpkg/status
	ldd "$ROOT/warmpath" | sed "s/ (0x[0-9a-f]*)//" # no load addresses
} | sha256sum | cut -d' ' -f1)

# pack DIR OUT: a gzip'ed newc cpio archive of DIR
pack()
{
	(cd "$1" && find . | busybox cpio -o -H newc 2>/dev/null | gzip -1) >"$2"
}

# put_file SRC [DEST]: copy one file (following links) to the same path in the guest
put_file()
{
	local dest=$STAGE${2:-$1}

	[ -e "$dest" ] && return 0
	mkdir -p "$(dirname "$dest")"
	cp -L "$1" "$dest"
}

# put_progs PATH...: programs and every library ldd names for them (one ldd)
put_progs()
{
	local f

	for f in "$@"; do
		case "$f" in /usr/*) put_file "$f" ;; esac
	done
	for f in $(ldd "$@" 2>/dev/null | grep -o '/[^ :]*\.so[^ :]*' | sort -u); do
		put_file "$f"
	done
}

build_base()
{
	mkdir -p "$STAGE"/{usr/bin,usr/sbin,usr/lib,usr/lib64,bbin,proc,sys,dev,tmp,run,etc,root,var}
	ln -s usr/bin "$STAGE/bin"
	ln -s usr/sbin "$STAGE/sbin"
	ln -s usr/lib "$STAGE/lib"
	ln -s usr/lib64 "$STAGE/lib64"
	ln -s ../run "$STAGE/var/run"

	cp /bin/busybox "$STAGE/bbin/busybox"
	for a in $(busybox --list); do
		[ "$a" = busybox ] || ln -s busybox "$STAGE/bbin/$a"
	done
	# coreutils whole (the tests use many), the tools above, busybox's libraries
	# (none, unless it is not busybox-static's), the project binary's libraries
	progs=(/usr/bin/busybox "$ROOT/warmpath")
	for f in $(dpkg -L coreutils | grep -E '^(/usr)?/s?bin/'); do
		[ -f "$f" ] && progs+=("/usr${f#/usr}")
	done
	for t in "${TOOLS[@]}"; do
		p=$(command -v "$t") || { log "host has no $t (the guest will use busybox's, if any)"; continue; }
		progs+=("/usr${p#/usr}")
	done
	put_progs "${progs[@]}"
	ln -sf bash "$STAGE/usr/bin/sh"
	cp -r /usr/lib/x86_64-linux-gnu/gconv "$STAGE/usr/lib/x86_64-linux-gnu/" 2>/dev/null
	printf 'root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$STAGE/etc/passwd"
	printf 'root:x:0:\nnogroup:x:65534:\n' >"$STAGE/etc/group"
	printf 'passwd: files\ngroup: files\nhosts: files\n' >"$STAGE/etc/nsswitch.conf"
	printf '127.0.0.1 localhost\n' >"$STAGE/etc/hosts"
	for d in /etc/iproute2 /usr/share/iproute2 /etc/protocols /etc/services /etc/ssl/openssl.cnf \
		/usr/lib/x86_64-linux-gnu/ossl-modules; do
		[ -e "$d" ] && { mkdir -p "$STAGE$(dirname "$d")"; cp -r "$d" "$STAGE$d"; }
	done

	# kernel modules: the closure of MODULES in modules.dep (generated if absent)
	if [ ! -s "$MODDIR/modules.dep" ]; then
		busybox depmod -b "$(dirname "$(dirname "$(dirname "$MODDIR")")")" "$KVER" ||
			die "depmod for $MODDIR failed"
	fi
	GMOD=$STAGE/lib/modules/$KVER
	mkdir -p "$GMOD"
	want_mods=()
	for m in "${MODULES[@]}"; do
		line=$(grep -E "(^|/)${m}\.ko(\.[gx]z|\.zst)?:" "$MODDIR/modules.dep" | head -1)
		if [ -z "$line" ]; then
			grep -qE "(^|/)${m}\.ko" "$MODDIR/modules.builtin" 2>/dev/null ||
				log "module $m: neither in modules.dep nor built in"
			continue
		fi
		want_mods+=("$m")
		for f in ${line/:/}; do
			mkdir -p "$GMOD/$(dirname "$f")"
			case "$f" in
			*.xz) xz -dc "$MODDIR/$f" >"$GMOD/${f%.xz}" ;;
			*.gz) gzip -dc "$MODDIR/$f" >"$GMOD/${f%.gz}" ;;
			*.zst) zstd -qdc "$MODDIR/$f" >"$GMOD/${f%.zst}" ;;
			*) cp "$MODDIR/$f" "$GMOD/$f" ;;
			esac
		done
	done
	sed -E 's/\.ko\.(xz|gz|zst)/.ko/g' "$MODDIR/modules.dep" >"$GMOD/modules.dep"
	for f in modules.alias modules.builtin modules.symbols; do
		[ -e "$MODDIR/$f" ] && cp "$MODDIR/$f" "$GMOD/"
	done
	echo "${want_mods[*]}" >"$BASE.modules"
}

if [ "$(cat "$BASE.key" 2>/dev/null)" != "$KEY" ] || [ ! -s "$BASE" ]; then
	rm -f "$BASE.key"
	build_base
	pack "$STAGE" "$BASE" || die "packing the initramfs failed"
	echo "$KEY" >"$BASE.key"
	log "base initramfs $(du -h "$BASE" | cut -f1) ($(find "$STAGE" -type f | wc -l) files)" \
		"built in $(($(date +%s) - t_prep)) s, cached"
	rm -rf -- "$STAGE"
	mkdir -p "$STAGE"
fi

# the project: the binary, the tests, the manifests the tests read
mkdir -p "$STAGE"/{wp/deploy,etc}
cp "$ROOT/warmpath" "$STAGE/wp/"
cp -r "$ROOT/selftests" "$STAGE/wp/"
rm -rf "$STAGE/wp/selftests/unit"
cp -r "$ROOT/deploy/kubernetes" "$STAGE/wp/deploy/" 2>/dev/null
cat >"$STAGE/etc/vmtest.env" <<EOF
VMTEST_MODULES="$(cat "$BASE.modules")"
VMTEST_FILTER="${VMTEST_FILTER:-}"
VMTEST_NETNS="${VMTEST_NETNS:-wireguard_nat}"
VMTEST_KERNEL="$KVER"
EOF
cp "$ROOT/selftests/vm/init" "$STAGE/init"
chmod +x "$STAGE/init"
{ pack "$STAGE" "$STAGE.cpio.gz" && cat "$BASE" "$STAGE.cpio.gz" >"$INITRD"; } ||
	die "packing the initramfs failed"
rm -rf -- "$STAGE" "$STAGE.cpio.gz"
log "initramfs $(du -h "$INITRD" | cut -f1), ready in $(($(date +%s) - t_prep)) s"

# --- boot ------------------------------------------------------------------

# qemu_run ACCEL CPU TIMEOUT LOG APPEND: boot, console on stdout and LOG
qemu_run()
{
	timeout -k 5 "$3" qemu-system-x86_64 -accel "$1" -cpu "$2" -smp "$SMP" -m "$MEM" \
		-nodefaults -display none -no-reboot -serial stdio \
		-kernel "$VMLINUZ" -initrd "$INITRD" \
		-append "console=ttyS0 panic=-1 quiet loglevel=4 $5" </dev/null 2>&1 |
		sed -u 's/\r$//' | tee "$4"
	return "${PIPESTATUS[0]}"
}

if [ "$ACCEL" = auto ]; then
	ACCEL=tcg
	if [ -w /dev/kvm ]; then
		# KVM guests hang at boot on some hosts: use it only if a probe boots
		if qemu_run kvm host 20 "$VM/kvm-probe.log" vmtest.probe=1 >/dev/null &&
			grep -q '^vmtest: probe ok' "$VM/kvm-probe.log"; then
			ACCEL=kvm
		else
			log "KVM probe boot failed or hung: using TCG"
		fi
	fi
fi
CPU=max
[ "$ACCEL" = kvm ] && CPU=host
log "booting: qemu $ACCEL -cpu $CPU, ${SMP} vCPU, ${MEM} MiB, timeout ${TIMEOUT}s"
t0=$(date +%s)
qemu_run "$ACCEL" "$CPU" "$TIMEOUT" "$VM/console.log" ""
rc=$?
elapsed=$(($(date +%s) - t0))

line=$(grep -E '^vmtest: [0-9]+ passed, [0-9]+ failed$' "$VM/console.log" | tail -1)
if [ -z "$line" ]; then
	if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
		log "guest timed out after ${TIMEOUT}s (console: $VM/console.log)"
	else
		log "guest ended (qemu exit $rc) without a summary (console: $VM/console.log)"
	fi
	echo "0 passed, 1 failed"
	exit 1
fi
pass=${line#vmtest: }
pass=${pass%% passed*}
failed=${line#*passed, }
failed=${failed%% failed}
log "guest ran ${elapsed}s under $ACCEL"
echo "$pass passed, $failed failed"
[ "$failed" = 0 ]
