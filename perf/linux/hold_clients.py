#!/usr/bin/python3
"""Holds N idle TCP sessions open, with plain blocking sockets.

The process is both ends: a sink listens on --listen and accepts, and N
clients connect to --connect (either the sink itself, or a proxy that
forwards to the sink). Prints "ready N" on stdout once N clients are
connected AND the sink has accepted N connections (so every session is
established end to end), then holds them until SIGTERM/SIGINT, when it
closes every socket with SO_LINGER 0 (RST: no TIME_WAIT left behind).
Uses 2 fds per session.
"""
import argparse
import signal
import socket
import struct
import sys
import threading
import time

LINGER_0 = struct.pack("ii", 1, 0)


def addr(text):
    host, port = text.rsplit(":", 1)
    return host, int(port)


def accept_loop(listener, accepted):
    while True:
        conn, _ = listener.accept()
        accepted.append(conn)


def close_all(socks):
    for s in socks:
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_0)
            s.close()
        except OSError:
            pass


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--listen", type=addr, required=True, help="sink HOST:PORT")
    ap.add_argument("--connect", type=addr, required=True, help="HOST:PORT the clients dial")
    ap.add_argument("-n", type=int, required=True, help="sessions")
    ap.add_argument("--timeout", type=float, default=60.0)
    args = ap.parse_args()

    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(args.listen)
    listener.listen(4096)
    accepted, clients = [], []
    threading.Thread(target=accept_loop, args=(listener, accepted), daemon=True).start()

    def stop(*_):
        close_all(clients)
        close_all(list(accepted))
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    deadline = time.monotonic() + args.timeout
    for _ in range(args.n):
        clients.append(socket.create_connection(args.connect, timeout=args.timeout))
    while len(accepted) < args.n:
        if time.monotonic() > deadline:
            print(f"hold_clients: only {len(accepted)}/{args.n} accepted", file=sys.stderr)
            stop()
        time.sleep(0.01)
    print(f"ready {args.n}", flush=True)
    while True:
        signal.pause()


if __name__ == "__main__":
    main()
