#!/usr/bin/env python3
"""Writes the seed corpus of one libFuzzer target (tests/fuzz/) into a directory, from the
repository's fixtures: real pgoutput messages and MariaDB binlog events captured from the servers
(tests/fixtures/capture_*.sh), the golden events, the configs, command lines.
    tests/fuzz/seeds.py NAME DIR"""
import os
import struct
import sys

root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
fixtures = os.path.join(root, "tests", "fixtures")


def frame(msgs):
    return b"".join(struct.pack(">H", min(len(m), 65535)) + m[:65535] for m in msgs)


def pgoutput():
    with open(os.path.join(fixtures, "pgoutput_stream.hex")) as f:
        msgs = [bytes.fromhex(line.strip()) for line in f if line.strip()]
    yield frame(msgs)
    # each change with the Relation messages before it
    rels = []
    for m in msgs:
        if m[:1] == b"R":
            rels.append(m)
        elif m[:1] in (b"I", b"U", b"D", b"T"):
            yield frame(rels + [m])


def binlog():
    with open(os.path.join(fixtures, "mariadb_binlog.bin"), "rb") as f:
        data = f.read()
    events, at = [], 4  # after the magic number
    while at + 19 <= len(data):
        size = struct.unpack_from("<I", data, at + 9)[0]
        if size < 19 or at + size > len(data):
            break
        events.append(data[at:at + size])
        at += size
    yield b"\x09" + frame(events)  # MariaDB, CRC32
    fde = [e for e in events if e[4] == 15]
    maps = [e for e in events if e[4] == 19]
    for e in events:
        if e[4] in (23, 24, 25, 30, 31, 32):
            yield b"\x09" + frame(fde + maps + [e])


def events():
    with open(os.path.join(fixtures, "events.golden"), "rb") as f:
        for line in f:
            if line.strip():
                yield line.rstrip(b"\n")


def json_seeds():
    yield from events()
    for s in (b'{"a":[1,-2.5e10,true,false,null,"\\u00e9\\ud83d\\ude00\\n"]}', b"[]", b'""',
              b'{"k":{"k":{"k":[[[]]]}}}', b"0", b"-0.0e+1"):
        yield s


def configs():
    for d in ("config", os.path.join("deploy")):
        base = os.path.join(root, d)
        for dirpath, _, names in os.walk(base):
            for n in names:
                if n.endswith((".yaml", ".yml")):
                    with open(os.path.join(dirpath, n), "rb") as f:
                        yield f.read()


def cli():
    for argv in (["run", "-c", "a.yaml"], ["check", "-c", "a.yaml"],
                 ["replay", "-c", "a.yaml", "--sink", "erp", "--from-timestamp",
                  "2026-01-02T03:04:05.678+01:00"],
                 ["replay", "-c", "a.yaml", "--sink", "erp", "--from-offset", "cdc.t:0:12"],
                 ["offsets", "set", "-c", "a.yaml", "--source", "crm", "--position",
                  "binlog.000001:4"],
                 ["offsets", "show", "-c", "a.yaml", "--json"],
                 ["snapshot", "-c", "a.yaml", "--source", "crm", "--table", "public.t"],
                 ["status", "-c", "a.yaml", "--api", "http://127.0.0.1:8080"],
                 ["duplicates", "-c", "a.yaml", "--sink", "erp", "--match", "email,phone"],
                 ["jobs", "-c", "a.yaml", "--api", "http://h:1", "--job", "j1", "--cancel"]):
        yield b"\0".join(a.encode() for a in argv)


SEEDS = {"pgoutput": pgoutput, "binlog": binlog, "event": events, "json": json_seeds,
         "config": configs, "cli": cli}

if __name__ == "__main__":
    name, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    for i, seed in enumerate(SEEDS[name]()):
        with open(os.path.join(out, "seed-%03d" % i), "wb") as f:
            f.write(seed)
