#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# Install the Debian 12 packages warmpath needs to build, test, fuzz, bench and demo
# (gcc brings ASan/UBSan for make test SANITIZE=...; libclang-rt-14-dev libFuzzer).
# Usage: scripts/install-deps.sh [--check]
#   --check  only report what is missing (exit 1 if anything is)
# Idempotent: installs only what is missing, never recommends (no kernel images).
set -euo pipefail

# package:probe — a probe is a command name, or pc:<pkg-config name>, or file:<path>
deps=(
	"make:make"
	"gcc:gcc"
	"clang:clang"
	"libclang-rt-14-dev:file:/usr/lib/llvm-14/lib/clang/14.0.6/include/fuzzer/FuzzedDataProvider.h"
	"llvm:llvm-strip"
	"clang-format:clang-format"
	"pkg-config:pkg-config"
	"libbpf-dev:pc:libbpf"
	"libelf-dev:pc:libelf"
	"zlib1g-dev:pc:zlib"
	"bpftool:bpftool"
	"libmicrohttpd-dev:pc:libmicrohttpd"
	"libjansson-dev:pc:jansson"
	"libcurl4-openssl-dev:pc:libcurl"
	"libssl-dev:pc:libcrypto"
	"iproute2:ip"
	"iputils-ping:ping"
	"wireguard-go:wireguard-go"
	"wireguard-tools:wg"
	"nftables:nft"
	"prometheus:promtool"
	"iperf3:iperf3"
	"jq:jq"
	"curl:curl"
	"ncat:ncat"
	"openssl:openssl"
	"python3-yaml:file:/usr/lib/python3/dist-packages/yaml/__init__.py"
	# make vmtest: the guest runs under qemu, busybox is its init (the kernel
	# image is downloaded, never installed: scripts/vmtest.sh)
	"qemu-system-x86:qemu-system-x86_64"
	"busybox-static:file:/bin/busybox"
)

have() {
	local probe=$1
	case "$probe" in
	pc:*) pkg-config --exists "${probe#pc:}" 2>/dev/null ;;
	file:*) [ -e "${probe#file:}" ] ;;
	*) command -v "$probe" >/dev/null 2>&1 ;;
	esac
}

missing=()
for d in "${deps[@]}"; do
	pkg=${d%%:*}
	probe=${d#*:}
	have "$probe" || missing+=("$pkg")
done

if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi
if [ "${1:-}" = "--check" ]; then
	echo "missing packages: ${missing[*]}" >&2
	exit 1
fi
if [ "$(id -u)" != 0 ]; then
	echo "warmpath: missing Debian packages: ${missing[*]}" >&2
	echo "warmpath: run 'sudo make deps' (or sudo $0) once to install them" >&2
	exit 1
fi

echo "warmpath: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# pkg-config must exist before the probes above can see libraries
"$0" --check
