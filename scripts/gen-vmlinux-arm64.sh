#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#
# Generate vmlinux/arm64/vmlinux.h on an x86 machine from Debian's arm64
# kernel package: its Image carries the kernel's BTF (.BTF) uncompressed, and
# Debian strips System.map, so the blob is found by its header (magic 0xeB9F,
# version 1, hdr_len 24) and cut to the length the header declares. The
# architecture is added only for the download and removed again.
#
# Usage: sudo scripts/gen-vmlinux-arm64.sh
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"; dpkg --remove-architecture arm64 2>/dev/null || true' EXIT

dpkg --add-architecture arm64
apt-get update -qq
pkg=$(apt-cache depends linux-image-arm64:arm64 | awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
echo "kernel package: $pkg"
(cd "$work" && apt-get download "$pkg" >/dev/null 2>&1)
dpkg-deb -x "$work"/linux-image-*.deb "$work/x"

python3 - "$work"/x/boot/vmlinuz-* "$work/btf.raw" <<'PY'
import struct, sys
img = open(sys.argv[1], 'rb').read()
magic = b'\x9f\xeb\x01\x00\x18\x00\x00\x00'
best = None
i = img.find(magic)
while i != -1:
    hdr_len, type_off, type_len, str_off, str_len = struct.unpack_from('<IIIII', img, i + 4)
    size = hdr_len + max(type_off + type_len, str_off + str_len)
    if size < len(img) - i and (best is None or size > best[1]):
        best = (i, size)
    i = img.find(magic, i + 1)
if best is None:
    sys.exit('no BTF blob found in ' + sys.argv[1])
open(sys.argv[2], 'wb').write(img[best[0]:best[0] + best[1]])
PY
mkdir -p "$top/vmlinux/arm64"
bpftool btf dump file "$work/btf.raw" format c > "$top/vmlinux/arm64/vmlinux.h"
echo "wrote vmlinux/arm64/vmlinux.h ($(wc -l < "$top/vmlinux/arm64/vmlinux.h") lines) from $pkg"
