#!/usr/bin/env python3
# Writes the seed corpus of fuzz_guest (tests/fuzz/seeds_guest/): real
# request sequences of two unprivileged guests, domains 1 and 2, with
# relative and absolute paths, in the target's input format (a flags
# byte: after domain 1's part, bit 1: it corrupts its ring's request
# index, bit 0: it reconnects; the length of domain
# 1's part, 16 bits little-endian; domain 1's bytes, then domain 2's).
# Run it from anywhere; it replaces the directory's contents.
import os
import struct
import sys

OPS = {"DIRECTORY": 1, "READ": 2, "GET_PERMS": 3, "WATCH": 4, "UNWATCH": 5,
       "TRANSACTION_START": 6, "TRANSACTION_END": 7, "INTRODUCE": 8,
       "RELEASE": 9, "GET_DOMAIN_PATH": 10, "WRITE": 11, "MKDIR": 12,
       "RM": 13, "SET_PERMS": 14, "IS_DOMAIN_INTRODUCED": 17,
       "SET_TARGET": 19, "RESET_WATCHES": 21, "DIRECTORY_PART": 22,
       "GET_FEATURE": 23, "SET_FEATURE": 24, "GET_QUOTA": 25,
       "CONTROL": 0}


def msg(op, *args, tx=0, req=1, raw=None):
    """One message: args are NUL-terminated strings, except WRITE's value
    (the last argument, no NUL), as on the wire."""
    if raw is not None:
        body = raw
    elif op == "WRITE":
        body = args[0].encode() + b"\0" + args[1].encode()
    else:
        body = b"".join(a.encode() + b"\0" for a in args)
    return struct.pack("<IIII", OPS[op], req, tx, len(body)) + body


def seq(*msgs):
    return b"".join(msgs)


def inp(a, b, reconnect=False, corrupt=False):
    """The input: flags, domain 1's part length, the two parts."""
    flags = (1 if reconnect else 0) | (2 if corrupt else 0)
    return bytes([flags]) + struct.pack("<H", len(a)) + a + b


def seeds():
    s = {}
    s["read_write_rel"] = inp(seq(
        msg("WRITE", "data/x", "1"), msg("READ", "data/x", req=2),
        msg("DIRECTORY", "data", req=3), msg("GET_PERMS", "data/x", req=4),
        msg("RM", "data", req=5)), b"")
    s["read_write_abs"] = inp(seq(
        msg("WRITE", "/local/domain/1/a/b", "v"),
        msg("MKDIR", "/local/domain/1/c", req=2),
        msg("READ", "/local/domain/1/a/b", req=3),
        msg("DIRECTORY_PART", "/local/domain/1", "0", req=4)),
        seq(msg("WRITE", "/local/domain/2/d", "w"),
            msg("READ", "/local/domain/1/shared", req=2)))
    s["denied"] = inp(seq(
        msg("WRITE", "/guard/ro", "mine"),
        msg("WRITE", "/guard/new", "x", req=2),
        msg("RM", "/guard/hidden", req=3),
        msg("READ", "/guard/hidden", req=4),
        msg("SET_PERMS", "/guard/ro", "n1", req=5),
        msg("WRITE", "/local/domain/1/dom0", "x", req=6),
        msg("WRITE", "/local/domain/2/private", "x", req=7),
        msg("MKDIR", "/tool/x", req=8)),
        seq(msg("WRITE", "/local/domain/1/x", "y"),
            msg("RM", "/local/domain/1/dom0", req=2),
            msg("SET_PERMS", "/local/domain/1/shared", "n2", req=3)))
    s["denied_read"] = inp(seq(
        msg("READ", "/guard/hidden"),
        msg("TRANSACTION_START", "", req=2),
        msg("READ", "/guard/hidden", tx=1, req=3),
        msg("DIRECTORY", "/guard", tx=1, req=4),
        msg("TRANSACTION_END", "F", tx=1, req=5),
        msg("GET_PERMS", "/guard/hidden", req=6),
        msg("WATCH", "/guard/hidden", "h", req=7)),
        seq(msg("READ", "/guard/hidden"), msg("READ", "/guard/ro", req=2),
            msg("READ", "/local/domain/1/dom0", req=3)))
    s["watches"] = inp(seq(
        msg("WATCH", "/local/domain/2", "t2"),
        msg("WATCH", "data", "rel", req=2),
        msg("WATCH", "/guard", "g", req=3),
        msg("WATCH", "@releaseDomain", "r", req=4),
        msg("WRITE", "data/w", "1", req=5),
        msg("UNWATCH", "data", "rel", req=6)),
        seq(msg("WRITE", "/local/domain/2/y", "z"),
            msg("WATCH", "/local/domain/1/shared", "s"),
            msg("RESET_WATCHES", req=3)))
    tx1 = seq(msg("TRANSACTION_START", ""),
              msg("WRITE", "t/a", "1", tx=1, req=2),
              msg("READ", "t/a", tx=1, req=3),
              msg("WRITE", "/guard/ro", "no", tx=1, req=4),
              msg("RM", "dom0", tx=1, req=5),
              msg("TRANSACTION_END", "T", tx=1, req=6))
    s["transaction"] = inp(tx1, seq(
        msg("TRANSACTION_START", ""),
        msg("WRITE", "/local/domain/1/shared", "2", tx=1, req=2),
        msg("TRANSACTION_END", "F", tx=1, req=3),
        msg("TRANSACTION_START", "", req=4),
        msg("SET_PERMS", "/local/domain/1/shared", "n2", "r1", tx=2,
            req=5),
        msg("TRANSACTION_END", "T", tx=2, req=6)))
    # More than one 97-byte chunk of domain 1's stream: domain 2's write
    # lands between its transaction's write and its commit (EAGAIN).
    s["conflict"] = inp(seq(
        msg("TRANSACTION_START", ""),
        msg("WRITE", "/local/domain/1/shared", "one", tx=1, req=2),
        msg("READ", "/local/domain/1/shared", tx=1, req=3),
        msg("READ", "/local/domain/1/shared", tx=1, req=4),
        msg("READ", "/local/domain/1/shared", tx=1, req=5),
        msg("TRANSACTION_END", "T", tx=1, req=6),
        msg("READ", "/local/domain/1/shared", req=7)),
        seq(msg("WATCH", "/local/domain/1/shared", "w2"),
            msg("WRITE", "/local/domain/1/shared", "two", req=2)))
    s["reconnect"] = inp(seq(
        msg("WATCH", "data", "x"), msg("TRANSACTION_START", "", req=2),
        msg("WRITE", "data/q", "1", tx=1, req=3)),
        msg("WRITE", "/local/domain/1/shared", "after"), reconnect=True)
    s["hostile_index"] = inp(seq(
        msg("WATCH", "/local/domain/1/shared", "w"),
        msg("TRANSACTION_START", "", req=2)),
        msg("WRITE", "/local/domain/1/shared", "seen?"), corrupt=True)
    s["hostile_reconnect"] = inp(seq(
        msg("WATCH", "/local/domain/1/shared", "w"),
        msg("WRITE", "data", "1", req=2)),
        seq(msg("WRITE", "/local/domain/1/shared", "after"),
            msg("WATCH", "/local/domain/1", "d1")),
        reconnect=True, corrupt=True)
    s["set_perms"] = inp(seq(
        msg("WRITE", "p", ""), msg("SET_PERMS", "p", "n1", "r2", req=2),
        msg("SET_PERMS", "p", "n2", req=3),
        msg("GET_PERMS", "p", req=4), msg("WRITE", "p", "x", req=5)),
        seq(msg("WRITE", "/local/domain/1/p", "mine?"),
            msg("SET_PERMS", "/local/domain/1/p", "n2", "b1", req=2)))
    s["priv_ops"] = inp(seq(
        msg("INTRODUCE", "3", "0", "7"), msg("RELEASE", "2", req=2),
        msg("SET_TARGET", "1", "0", req=3),
        msg("CONTROL", "check", req=4),
        msg("GET_QUOTA", "", req=5), msg("SET_FEATURE", "1", "0", req=6)),
        seq(msg("GET_DOMAIN_PATH", "2"),
            msg("IS_DOMAIN_INTRODUCED", "1", req=2),
            msg("GET_FEATURE", "", req=3)))
    s["bad_input"] = inp(seq(
        msg("READ", raw=b"no-nul"), msg("WRITE", raw=b""),
        msg("WATCH", "only-path", req=3),
        msg("READ", "../x", req=4), msg("READ", "a//b", req=5),
        struct.pack("<IIII", 99, 6, 0, 0),
        msg("READ", "data", tx=77, req=7)),
        struct.pack("<IIII", 2, 1, 0, 5000) + b"x" * 16)
    return s


def main():
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                       "seeds_guest")
    os.makedirs(out, exist_ok=True)
    for f in os.listdir(out):
        os.unlink(os.path.join(out, f))
    for name, data in seeds().items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
