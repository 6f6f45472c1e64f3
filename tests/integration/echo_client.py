#!/usr/bin/env python3
"""A Linux TCP client for dpx's echo service: each connection sends SIZE
pseudo-random bytes while reading the echo back, half-closes, reads to EOF,
and compares what came back with what went out (SHA-256). Exit 0 when
every connection got its bytes back intact, 1 otherwise. Bounded in time.
"""
import argparse
import hashlib
import random
import socket
import sys
import threading
import time


def one(addr, port, size, seed, timeout, results, idx):
    rng = random.Random(seed)
    data = rng.randbytes(size)
    want = hashlib.sha256(data).hexdigest()
    got = hashlib.sha256()
    received = 0
    err = None
    t0 = time.monotonic()
    try:
        s = socket.create_connection((addr, port), timeout=timeout)
        s.settimeout(timeout)

        def writer():
            view = memoryview(data)
            off = 0
            while off < len(view):
                off += s.send(view[off:off + 65536])
            s.shutdown(socket.SHUT_WR)

        w = threading.Thread(target=writer, daemon=True)
        w.start()
        while True:
            chunk = s.recv(262144)
            if not chunk:
                break
            got.update(chunk)
            received += len(chunk)
        w.join(timeout)
        s.close()
    except OSError as e:
        err = repr(e)
    ok = err is None and received == size and got.hexdigest() == want
    results[idx] = (ok, received, err, time.monotonic() - t0)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("addr")
    ap.add_argument("port", type=int)
    ap.add_argument("--size", type=int, default=4 << 20, help="bytes per connection")
    ap.add_argument("--conns", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds per socket operation")
    a = ap.parse_args()
    results = [None] * a.conns
    threads = [threading.Thread(target=one, args=(a.addr, a.port, a.size, 1000 + i, a.timeout,
                                                  results, i)) for i in range(a.conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    bad = 0
    for i, (ok, received, err, secs) in enumerate(results):
        print(f"conn {i}: {'intact' if ok else 'BROKEN'}: {received} of {a.size} bytes back "
              f"in {secs:.1f} s{'' if err is None else ', error ' + err}")
        bad += not ok
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
