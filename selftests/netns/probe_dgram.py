#!/usr/bin/env python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""Craft warmpath probe datagrams for the netns tests (user/probe/probe.h).

probe_dgram.py build v1|v2 TYPE [--key FILE] [--counter N] > FILE
probe_dgram.py ask SRC SPORT DST DPORT FILE OUT [--count N] [--rate PPS] [--wait S]
  send FILE from SRC:SPORT (SO_REUSEADDR: the agent's own port works) COUNT
  times at RATE per second, then collect what comes back for WAIT seconds
  into OUT (the replies concatenated). Bounded: at most 100000 datagrams.
  --fresh KEYFILE: a new request (counter, nonce, MAC with that key) each time.
probe_dgram.py forge ADDR MODE SECONDS [--key FILE] [--from ADDR]
  a forger at ADDR:9050 answering every v2 request it gets for SECONDS:
  echo (the right reply; MAC with --key, if any), badmac (MAC with another key),
  nomac (no MAC), port (the right reply from port 9099), addr (from --from ADDR);
  --only ADDR: answer the requests of that address only.
  Prints the number of requests answered.
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


def readkey(path):
    return open(path, "rb").read().rstrip(b"\n")


def reply_for(req, key, flags_mac=True):
    counter, nonce = struct.unpack(">Q16s", req[8:32])
    head = struct.pack(">IBBHQ16s32s", MAGIC, 2, 2, 1 if key else 0, counter, nonce, b"forger")
    return head + (hmac.new(key, head, hashlib.sha256).digest() if key else bytes(32))


def forge(addr, mode, seconds, key, src, only):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((addr, 9050))
    out = s
    if mode == "port":
        out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        out.bind((addr, 9099))
    elif mode == "addr":
        out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        out.bind((src, 9050))
    if mode == "badmac":
        key = b"not-the-cluster-key-0123456789"
    n = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        s.settimeout(max(end - time.monotonic(), 0.01))
        try:
            req, peer = s.recvfrom(2048)
        except socket.timeout:
            break
        if len(req) != 96 or req[4] != 2 or req[5] != 1 or (only and peer[0] != only):
            continue
        out.sendto(reply_for(req, None if mode == "nomac" else key), peer)
        n += 1
    print(n)


def ask(src, sport, dst, dport, path, out, count, rate, wait, fresh=None):
    data = open(path, "rb").read()
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((src, sport))
    count = min(count, 100000)
    t0 = time.monotonic()
    for i in range(count):
        if fresh:
            data = build("v2", 1, fresh, time.time_ns() // 1000 + i)
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
            d, frm = s.recvfrom(2048)
            # replies from dst only: this port is the agent's too, and its
            # own probes' replies or peers' requests may land here meanwhile
            if frm[0] == dst and len(d) > 5 and d[5] == 2:
                got += d
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
        key = readkey(opts["key"]) if "key" in opts else None
        sys.stdout.buffer.write(build(pos[1], int(pos[2]), key, int(opts.get("counter", "0")) or
                                      time.time_ns() // 1000))
    elif pos[0] == "ask":
        ask(pos[1], int(pos[2]), pos[3], int(pos[4]), pos[5], pos[6], int(opts.get("count", 1)),
            float(opts.get("rate", 0)), float(opts.get("wait", 1.5)),
            readkey(opts["fresh"]) if "fresh" in opts else None)
    elif pos[0] == "forge":
        forge(pos[1], pos[2], float(pos[3]), readkey(opts["key"]) if "key" in opts else None,
              opts.get("from"), opts.get("only"))
    else:
        sys.exit("usage: see the docstring")


if __name__ == "__main__":
    main(sys.argv[1:])
