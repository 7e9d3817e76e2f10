#!/usr/bin/env python3
"""Splits a classic pcap file into N consecutive parts, for tests that feed a
capture to the sensor through a pipe piece by piece (a Redis outage or a
rules reload between the pieces).

    pcapsplit.py CAPTURE N PREFIX   ->  PREFIX1 (with the file header), PREFIX2, ...

Only the first part carries the 24-byte file header: concatenated, the
parts are the original file again.
"""
import struct
import sys


def main():
    path, n, prefix = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    data = open(path, "rb").read()
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        end = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        end = ">"
    else:
        sys.exit(f"{path}: not a classic pcap file")
    off, recs = 24, []
    while off + 16 <= len(data):
        incl = struct.unpack(end + "I", data[off + 8:off + 12])[0]
        recs.append(data[off:off + 16 + incl])
        off += 16 + incl
    size = len(recs) // n
    for i in range(n):
        part = recs[i * size:(i + 1) * size if i < n - 1 else len(recs)]
        with open(f"{prefix}{i + 1}", "wb") as f:
            f.write((data[:24] if i == 0 else b"") + b"".join(part))


if __name__ == "__main__":
    main()
