#!/usr/bin/env python3
"""Linux peers for the proxy integration tests: a backend server with modes
and the clients that drive it through dpx.

  proxy_peer.py serve --name NAME --listen ADDR:PORT [--listen ...] --log FILE
  proxy_peer.py MODE ADDR PORT [options]       (a client; see MODES)

The server reads one command line from each connection and then:
  NAME                 answers its name and closes (a short request)
  SINK                 reads to EOF, answers "COUNT SHA256\\n", closes
  SOURCE N SEED        sends N bytes of the stream SEED, closes (backend closes first)
  SOURCEHALF N SEED T  sends N bytes, shutdown(SHUT_WR), reads to EOF, logs what came (tag T)
  HALF N SEED          reads to EOF (the client's SHUT_WR), then sends N bytes, closes
  WAIT TAG             reads until EOF or an error, logs how it ended
  STALL TAG SECONDS    reads nothing for SECONDS, then reads to the end, logs it
  SOURCELOG N SEED TAG sends N bytes (blocking), logs how sending ended
  ECHO TAG             echoes until EOF or an error, logs how it ended
  RST                  sends "partial", then resets (SO_LINGER {1,0} + close)
Every connection appends one JSON line to --log: {"backend", "cmd", "tag", "end", ...}.

Clients print one JSON line and exit 0 when what they saw is what the test
expects, 1 otherwise (with "expected" and "seen").
"""
import argparse
import errno
import hashlib
import json
import os
import random
import socket
import struct
import sys
import threading
import time

CHUNK = 65536
_bases = {}


def base(seed):
    if seed not in _bases:
        _bases[seed] = random.Random(seed).randbytes(1 << 20)
    return _bases[seed]


def gen(n, seed):
    """N bytes of the deterministic stream SEED, in chunks."""
    b = base(seed)
    i = 0
    while n > 0:
        off = (i * 7919) % ((1 << 20) - CHUNK)
        c = struct.pack(">Q", i) + b[off + 8:off + CHUNK]
        c = c[:n]
        yield c
        n -= len(c)
        i += 1


def stream_sha(n, seed):
    h = hashlib.sha256()
    for c in gen(n, seed):
        h.update(c)
    return h.hexdigest()


def errname(e):
    if isinstance(e, socket.timeout):
        return "timeout"
    return errno.errorcode.get(getattr(e, "errno", None) or 0, str(e))


def read_line(s):
    buf = b""
    while not buf.endswith(b"\n"):
        c = s.recv(1)
        if not c:
            break
        buf += c
    return buf.decode(errors="replace").strip()


def drain(s, timeout=60.0):
    """Reads to the end: (bytes, sha, end)."""
    h = hashlib.sha256()
    n = 0
    end = "EOF"
    s.settimeout(timeout)
    try:
        while True:
            c = s.recv(1 << 18)
            if not c:
                break
            n += len(c)
            h.update(c)
    except (OSError, socket.timeout) as e:
        end = errname(e)
    return n, h.hexdigest(), end


# ---------------------------------------------------------------- server

class Server:
    def __init__(self, a):
        self.name = a.name
        self.log_path = a.log
        self.lock = threading.Lock()

    def log(self, **kw):
        kw["backend"] = self.name
        with self.lock, open(self.log_path, "a") as f:
            f.write(json.dumps(kw) + "\n")

    def handle(self, s, peer):
        cmd = ""
        try:
            s.settimeout(120)
            line = read_line(s)
            words = line.split()
            cmd = words[0] if words else ""
            if cmd == "NAME":
                s.sendall(self.name.encode() + b"\n")
                s.close()
                self.log(cmd=cmd, peer=peer, end="done")
            elif cmd == "SINK":
                n, sha, end = drain(s)
                if end == "EOF":
                    s.sendall(b"%d %s\n" % (n, sha.encode()))
                s.close()
                self.log(cmd=cmd, peer=peer, bytes=n, sha=sha, end=end)
            elif cmd == "SOURCE":
                n, seed = int(words[1]), int(words[2])
                end = "done"
                try:
                    for c in gen(n, seed):
                        s.sendall(c)
                except OSError as e:
                    end = errname(e)
                s.close()
                self.log(cmd=cmd, peer=peer, end=end)
            elif cmd == "SOURCELOG":
                n, seed, tag = int(words[1]), int(words[2]), words[3]
                end, sent = "done", 0
                try:
                    for c in gen(n, seed):
                        s.sendall(c)
                        sent += len(c)
                except OSError as e:
                    end = errname(e)
                s.close()
                self.log(cmd=cmd, tag=tag, peer=peer, sent=sent, end=end)
            elif cmd == "SOURCEHALF":
                n, seed, tag = int(words[1]), int(words[2]), words[3]
                for c in gen(n, seed):
                    s.sendall(c)
                s.shutdown(socket.SHUT_WR)
                got = b""
                end = "EOF"
                try:
                    while True:
                        c = s.recv(65536)
                        if not c:
                            break
                        got += c
                except OSError as e:
                    end = errname(e)
                s.close()
                self.log(cmd=cmd, tag=tag, peer=peer, received=got.decode(errors="replace"), end=end)
            elif cmd == "HALF":
                n, seed = int(words[1]), int(words[2])
                got, sha, end = drain(s)
                if end == "EOF":
                    for c in gen(n, seed):
                        s.sendall(c)
                s.close()
                self.log(cmd=cmd, peer=peer, request_bytes=got, end=end)
            elif cmd in ("WAIT", "STALL"):
                tag = words[1]
                if cmd == "STALL":
                    time.sleep(float(words[2]))
                n, sha, end = drain(s, timeout=120)
                s.close()
                self.log(cmd=cmd, tag=tag, peer=peer, bytes=n, end=end)
            elif cmd == "ECHO":
                tag = words[1]
                end, n = "EOF", 0
                try:
                    while True:
                        c = s.recv(65536)
                        if not c:
                            break
                        n += len(c)
                        s.sendall(c)
                except OSError as e:
                    end = errname(e)
                s.close()
                self.log(cmd=cmd, tag=tag, peer=peer, bytes=n, end=end)
            elif cmd == "RST":
                s.sendall(b"partial")
                time.sleep(0.2)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                s.close()
                self.log(cmd=cmd, peer=peer, end="reset sent")
            else:
                s.close()
                self.log(cmd=cmd or "(none)", peer=peer, end="unknown command")
        except OSError as e:
            self.log(cmd=cmd, peer=peer, end=errname(e))
            try:
                s.close()
            except OSError:
                pass

    def serve(self, listens):
        socks = []
        for l in listens:
            host, port = l.rsplit(":", 1)
            ls = socket.socket()
            ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            ls.bind((host, int(port)))
            ls.listen(1024)
            socks.append(ls)
        for ls in socks:
            threading.Thread(target=self.accept_loop, args=(ls,), daemon=True).start()
        print("serving", self.name, listens, flush=True)
        while True:
            time.sleep(3600)

    def accept_loop(self, ls):
        while True:
            s, peer = ls.accept()
            threading.Thread(target=self.handle, args=(s, "%s:%d" % peer), daemon=True).start()


# ---------------------------------------------------------------- clients

def connect(a):
    s = socket.create_connection((a.addr, a.port), timeout=a.timeout)
    s.settimeout(a.timeout)
    return s


def out(ok, **kw):
    kw["ok"] = ok
    print(json.dumps(kw), flush=True)
    return 0 if ok else 1


def c_many(a):
    """N short connections (NAME), --parallel at a time; every one answered."""
    names = {}
    failures = []
    lock = threading.Lock()
    todo = list(range(a.n))

    def worker():
        while True:
            with lock:
                if not todo:
                    return
                todo.pop()
            try:
                s = connect(a)
                s.sendall(b"NAME\n")
                got, end = b"", "EOF"
                while True:
                    c = s.recv(4096)
                    if not c:
                        break
                    got += c
                s.close()
                name = got.decode(errors="replace").strip()
                with lock:
                    if name:
                        names[name] = names.get(name, 0) + 1
                    else:
                        failures.append("empty answer")
            except OSError as e:
                with lock:
                    failures.append(errname(e))

    ts = [threading.Thread(target=worker) for _ in range(a.parallel)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    answered = sum(names.values())
    ok = answered == a.n and not failures
    return out(ok, expected=f"{a.n} answers", seen=f"{answered} answers, failures {failures[:10]}",
               names=names)


def c_upload(a):
    s = connect(a)
    s.sendall(b"SINK\n")
    for c in gen(a.n, a.seed):
        s.sendall(c)
    s.shutdown(socket.SHUT_WR)
    reply = read_line(s)
    s.close()
    want = "%d %s" % (a.n, stream_sha(a.n, a.seed))
    return out(reply == want, expected=want, seen=reply)


def c_download(a):
    s = connect(a)
    s.sendall(b"SOURCE %d %d\n" % (a.n, a.seed))
    h = hashlib.sha256()
    n, end = 0, "EOF"
    try:
        while True:
            c = s.recv(1 << 18)
            if not c:
                break
            n += len(c)
            h.update(c)
            if a.go_file and not os.path.exists(a.go_file):
                if a.ready_file and not os.path.exists(a.ready_file):
                    with open(a.ready_file, "w") as f:
                        f.write("%s:%d\n" % s.getsockname())
                wait_file(a.go_file)
            if a.rate:
                time.sleep(len(c) / a.rate)
    except OSError as e:
        end = errname(e)
    s.close()
    want = "%d bytes sha %s then EOF" % (a.n, stream_sha(a.n, a.seed))
    seen = "%d bytes sha %s then %s" % (n, h.hexdigest(), end)
    return out(want == seen, expected=want, seen=seen)


def c_sourcehalf(a):
    """Backend sends N bytes and shuts its side; we read to EOF, then still
    send a line (our direction is open) and shut ours."""
    s = connect(a)
    s.sendall(b"SOURCEHALF %d %d %s\n" % (a.n, a.seed, a.tag.encode()))
    n, sha, end = drain(s, a.timeout)
    err = ""
    try:
        s.sendall(b"after-eof " + a.tag.encode() + b"\n")
        s.shutdown(socket.SHUT_WR)
        time.sleep(0.5)
    except OSError as e:
        err = errname(e)
    s.close()
    want = "%d bytes sha %s then EOF; send after EOF ok" % (a.n, stream_sha(a.n, a.seed))
    seen = "%d bytes sha %s then %s; send after EOF %s" % (n, sha, end, err or "ok")
    return out(want == seen, expected=want, seen=seen)


def c_half(a):
    s = connect(a)
    s.sendall(b"HALF %d %d\n" % (a.n, a.seed))
    for c in gen(a.req, a.seed + 1):
        s.sendall(c)
    s.shutdown(socket.SHUT_WR)
    n, sha, end = drain(s, a.timeout)
    s.close()
    want = "%d bytes sha %s then EOF" % (a.n, stream_sha(a.n, a.seed))
    seen = "%d bytes sha %s then %s" % (n, sha, end)
    return out(want == seen, expected=want, seen=seen)


def c_clientrst(a):
    s = connect(a)
    s.sendall(b"WAIT %s\nsome bytes" % a.tag.encode())
    time.sleep(0.5)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
    return out(True, sent="RST")


def c_read(a):
    """Connects, sends --send, reads until the end; ok when the end is --expect-end
    (and, with --expect-bytes, that many bytes came)."""
    try:
        s = connect(a)
        if a.send:
            s.sendall(a.send.encode().decode("unicode_escape").encode())
    except OSError as e:  # reset during the handshake or before our send: still a reset
        n, end = 0, errname(e)
    else:
        n, sha, end = drain(s, a.timeout)
        s.close()
    seen = end
    want = a.expect_end
    if a.expect_bytes >= 0:
        seen = "%d bytes then %s" % (n, end)
        want = "%d bytes then %s" % (a.expect_bytes, a.expect_end)
    return out(seen == want, expected=want, seen=seen)


def c_slowread(a):
    """SOURCE N; reads nothing for --pause s (writes --ready-file), then reads
    at --rate B/s; byte-exact."""
    s = connect(a)
    s.sendall(b"SOURCE %d %d\n" % (a.n, a.seed))
    local = "%s:%d" % s.getsockname()
    if a.ready_file:
        with open(a.ready_file, "w") as f:
            f.write(local + "\n")
    time.sleep(a.pause)
    h = hashlib.sha256()
    n, end = 0, "EOF"
    try:
        while True:
            c = s.recv(CHUNK)
            if not c:
                break
            n += len(c)
            h.update(c)
            time.sleep(len(c) / a.rate)
    except OSError as e:
        end = errname(e)
    s.close()
    want = "%d bytes sha %s then EOF" % (a.n, stream_sha(a.n, a.seed))
    seen = "%d bytes sha %s then %s" % (n, h.hexdigest(), end)
    return out(want == seen, expected=want, seen=seen, local=local)


def wait_file(path, timeout=120):
    t = time.monotonic() + timeout
    while not os.path.exists(path) and time.monotonic() < t:
        time.sleep(0.05)


def c_push(a):
    """Kill test A: sends to a backend that reads nothing (STALL) until the
    connection fails; the proxy's socket has unread data, so its worker's
    death must reset us."""
    s = connect(a)
    s.sendall(b"STALL %s %d\n" % (a.tag.encode(), a.stall))
    s.settimeout(a.timeout)
    end, sent = "timeout", 0
    deadline = time.monotonic() + a.timeout
    data = b"x" * CHUNK
    try:
        while time.monotonic() < deadline:
            sent += s.send(data)
    except OSError as e:
        end = errname(e)
    if end == "EPIPE":  # the RST came while we were sending
        end = "ECONNRESET"
    s.close()
    return out(end == a.expect_end, expected=a.expect_end, seen=end, sent=sent)


def c_pullpaused(a):
    """Kill test B: asks for N bytes (SOURCELOG), reads nothing until
    --go-file exists, then reads to the end. The proxy's client socket has
    no unread data: its worker's death closes it with a FIN after what was
    queued: we see EOF, short of N."""
    s = connect(a)
    s.sendall(b"SOURCELOG %d %d %s\n" % (a.n, a.seed, a.tag.encode()))
    if a.ready_file:
        with open(a.ready_file, "w") as f:
            f.write("%s:%d\n" % s.getsockname())
    wait_file(a.go_file)
    n, sha, end = drain(s, a.timeout)
    s.close()
    ok = end == a.expect_end and 0 < n < a.n
    return out(ok, expected=f"some bytes (0 < n < {a.n}) then {a.expect_end}",
               seen=f"{n} bytes then {end}")


def c_idle(a):
    """Kill test C: one echo exchange, then idle until --go-file; then reads
    until the end (expects EOF: the worker died with nothing unread)."""
    s = connect(a)
    s.sendall(b"ECHO %s\nhello\n" % a.tag.encode())
    got = b""
    while len(got) < 6:
        c = s.recv(64)
        if not c:
            break
        got += c
    if a.ready_file:
        with open(a.ready_file, "w") as f:
            f.write("%s:%d\n" % s.getsockname())
    wait_file(a.go_file)
    n, sha, end = drain(s, a.timeout)
    s.close()
    seen = "echo %r, then %d bytes and %s" % (got.decode(errors="replace"), n, end)
    want = "echo 'hello\\n', then 0 bytes and %s" % a.expect_end
    return out(seen == want, expected=want, seen=seen)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="mode", required=True)
    sv = sub.add_parser("serve")
    sv.add_argument("--name", required=True)
    sv.add_argument("--listen", action="append", required=True)
    sv.add_argument("--log", required=True)
    for m in ("many", "upload", "download", "sourcehalf", "half", "clientrst", "read", "slowread",
              "push", "pullpaused", "idle"):
        p = sub.add_parser(m)
        p.add_argument("addr")
        p.add_argument("port", type=int)
        p.add_argument("--n", type=int, default=1 << 20)
        p.add_argument("--seed", type=int, default=1)
        p.add_argument("--req", type=int, default=1 << 20)
        p.add_argument("--parallel", type=int, default=4)
        p.add_argument("--timeout", type=float, default=60.0)
        p.add_argument("--rate", type=float, default=0.0)
        p.add_argument("--pause", type=float, default=0.0)
        p.add_argument("--stall", type=int, default=30)
        p.add_argument("--tag", default="t")
        p.add_argument("--send", default="")
        p.add_argument("--expect-end", default="EOF")
        p.add_argument("--expect-bytes", type=int, default=-1)
        p.add_argument("--ready-file", default="")
        p.add_argument("--go-file", default="")
    a = ap.parse_args()
    if a.mode == "serve":
        Server(a).serve(a.listen)
        return 0
    try:
        return globals()["c_" + a.mode](a)
    except OSError as e:
        return out(False, expected="a working connection", seen=f"{type(e).__name__}: {e}")


if __name__ == "__main__":
    sys.exit(main())
