#!/usr/bin/env python3
"""Writes 10 MiB before it reads a byte of its input, then reports the input:
a host that writes the body before reading the output deadlocks here."""
import zlib
import sys

out = sys.stdout.buffer
out.write(b"Content-Type: application/octet-stream\r\n\r\n")
block = bytes(range(256)) * 4096  # 1 MiB
for _ in range(10):
    out.write(block)
out.flush()
body = sys.stdin.buffer.read()
out.write(f"\nreceived {len(body)} bytes, crc32 {zlib.crc32(body):08x}\n".encode())
