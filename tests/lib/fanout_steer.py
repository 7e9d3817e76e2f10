#!/usr/bin/env python3
"""The --fanout steering rule (sensor/fanout.h), written again from its
description, independently of the cBPF generator: which of N workers each
packet of an Ethernet pcap should reach, as the kernel numbers the group's
sockets (0 = the first that joined).

    fanout_steer.py HOME_NET CAPTURE N

prints "packets W COUNT" for each worker, then "host IP W" for every
internal IPv4 address seen. tests/integration/test_fanout.sh compares that
with what each live worker received and alerted on.
"""
import ipaddress
import struct
import sys

M32 = 0xFFFFFFFF


def fmix32(h):
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & M32
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & M32
    h ^= h >> 16
    return h


def pick(ip, home):
    """The address the packet is steered by, or None (worker 0)."""
    if len(ip) < 20:
        return None
    src, dst = struct.unpack("!II", ip[12:20])
    s_in = any((src & m) == n for n, m in home)
    d_in = any((dst & m) == n for n, m in home)
    if not s_in:
        return dst
    if not d_in:
        return src
    proto = ip[9]
    frag_off = struct.unpack("!H", ip[6:8])[0] & 0x1FFF
    if proto in (6, 17, 132) and frag_off == 0:
        l4 = (ip[0] & 0x0F) * 4
        if len(ip) < l4 + 4:
            return None
        sport, dport = struct.unpack("!HH", ip[l4:l4 + 4])
        if sport != dport:
            return src if sport > dport else dst
    return min(src, dst)


def worker(frame, home, n):
    if len(frame) < 14:
        return 0, None
    etype, ip = struct.unpack("!H", frame[12:14])[0], frame[14:]
    if etype in (0x8100, 0x88A8) and len(frame) >= 18:   # the kernel strips one tag
        etype, ip = struct.unpack("!H", frame[16:18])[0], frame[18:]
    if etype != 0x0800:
        return 0, None
    a = pick(ip, home)
    return (0, None) if a is None else (fmix32(a) % n, a)


def main():
    home = []
    for p in sys.argv[1].replace(" ", "").split(","):
        net = ipaddress.ip_network(p)
        if net.version == 4:
            home.append((int(net.network_address), int(net.netmask)))
    n = int(sys.argv[3])
    counts, hosts = [0] * n, {}
    with open(sys.argv[2], "rb") as f:
        magic = f.read(24)
        order = "<" if magic[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
        if struct.unpack(order + "I", magic[20:24])[0] != 1:
            sys.exit("fanout_steer.py: Ethernet captures only")
        while True:
            h = f.read(16)
            if len(h) < 16:
                break
            caplen = struct.unpack(order + "IIII", h)[2]
            w, a = worker(f.read(caplen), home, n)
            counts[w] += 1
            if a is not None and any((a & m) == net for net, m in home):
                hosts[str(ipaddress.IPv4Address(a))] = w
    for w, c in enumerate(counts):
        print("packets", w, c)
    for ip, w in sorted(hosts.items()):
        print("host", ip, w)


if __name__ == "__main__":
    main()
