#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Craft warmpath probe datagrams for the netns tests (user/probe/probe.h).

probe_dgram.py build v1|v2 TYPE [--key FILE] [--counter N] > FILE
probe_dgram.py ask SRC SPORT DST DPORT FILE OUT [--count N] [--rate PPS] [--wait S]
  send FILE from SRC:SPORT (SO_REUSEADDR: the agent's own port works) COUNT
  times at RATE per second, then collect what comes back for WAIT seconds
  into OUT (the datagrams concatenated). Bounded: at most 100000 datagrams.
"""
import hashlib
import hmac
import os
import socket
import struct
import sys
import time

MAGIC = 0x57504B41


def build(version, typ, key, counter):
    if version == "v1":
        return struct.pack(">IBBHIIQ32s", MAGIC, 1, typ, 0, 7, 0, 1, b"x")
    nonce = os.urandom(16)
    flags = 1 if key else 0
    head = struct.pack(">IBBHQ16s32s", MAGIC, 2, typ, flags, counter, nonce, b"x")
    mac = hmac.new(key, head, hashlib.sha256).digest() if key else bytes(32)
    return head + mac


def ask(src, sport, dst, dport, path, out, count, rate, wait):
    data = open(path, "rb").read()
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((src, sport))
    count = min(count, 100000)
    t0 = time.monotonic()
    for i in range(count):
        s.sendto(data, (dst, dport))
        if rate:
            ahead = t0 + (i + 1) / rate - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)
    got = b""
    end = time.monotonic() + wait
    while True:
        left = end - time.monotonic()
        if left <= 0:
            break
        s.settimeout(left)
        try:
            got += s.recv(2048)
        except socket.timeout:
            break
    open(out, "wb").write(got)


def main(a):
    opts = {}
    pos = []
    i = 0
    while i < len(a):
        if a[i].startswith("--"):
            opts[a[i][2:]] = a[i + 1]
            i += 2
        else:
            pos.append(a[i])
            i += 1
    if pos[0] == "build":
        key = open(opts["key"], "rb").read().rstrip(b"\n") if "key" in opts else None
        sys.stdout.buffer.write(build(pos[1], int(pos[2]), key, int(opts.get("counter", "0")) or
                                      time.time_ns() // 1000))
    elif pos[0] == "ask":
        ask(pos[1], int(pos[2]), pos[3], int(pos[4]), pos[5], pos[6], int(opts.get("count", 1)),
            float(opts.get("rate", 0)), float(opts.get("wait", 1.5)))
    else:
        sys.exit("usage: see the docstring")


if __name__ == "__main__":
    main(sys.argv[1:])
