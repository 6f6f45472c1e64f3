#!/usr/bin/python3
"""Runs a conformance script against the real Linux kernel (the oracle).

    sudo /usr/bin/python3 tests/conformance/tools/linux_oracle.py tests/conformance/tcp/x.pkt

The kernel plays dpx: it lives in network namespace `dpxk` (192.168.0.1 on
veth k0, MAC 02:00:00:00:00:01, default route via 192.168.0.254 whose MAC
is pinned to the peer's). The script peer is a packet socket on the other
veth end p0 in namespace `dpxp` (no IP there, so that kernel stays quiet).
Both namespaces are made fresh for each run (default sysctls, counters at
zero) and deleted afterwards. Offloads are off on k0 so segments look as
they would on a NIC without TSO.

Same format as the C++ runner (docs/conformance-scripts.md), in real time:
`>` lines wait up to the tolerance (default 10 ms here, `--tolerance-ms`)
and report the arrival time. The run stops at the first difference and
prints the transcript; exit status 0 when the kernel did exactly what the
script says. Not run by the test suite (it needs root and namespaces).

Every script process (pid 100, and 101, 102, ... for each `fork()`) is a
real process in `dpxk`: a worker forked from the oracle that runs the calls
on its own fd table (see "processes" below), so dup, fork, close and exit
reach the kernel exactly as a program's would.
"""

import argparse
import ctypes
import errno
import os
import pickle
import re
import select
import socket
import struct
import subprocess
import sys
import threading
import time

# DPX_ORACLE_NS=x: namespaces dpxkx/dpxpx, so several oracles can run at once.
KNS, PNS = "dpxk" + os.environ.get("DPX_ORACLE_NS", ""), "dpxp" + os.environ.get("DPX_ORACLE_NS", "")
DPX_IP, PEER_IP, GW_IP = "192.168.0.1", "192.0.2.1", "192.168.0.254"
DPX_MAC, PEER_MAC = bytes.fromhex("020000000001"), bytes.fromhex("020000000002")
DEFAULT_PEER_PORT, DEFAULT_DPX_PORT, PEER_ISN = 45000, 8080, 1000000000
CLONE_NEWNET = 0x40000000
DPX_SYSCTLS = {
    # Linux sizes this from the machine's memory; dpx's default is fixed.
    "net.ipv4.tcp_max_syn_backlog": "4096",
}

FLAG_BITS = {"F": 0x01, "S": 0x02, "R": 0x04, "P": 0x08, ".": 0x10, "U": 0x20, "E": 0x40, "W": 0x80}

NAMES = {
    "AF_INET": 2, "SOCK_STREAM": 1, "IPPROTO_TCP": 6, "SOL_TCP": 6, "SOL_SOCKET": 1,
    "SO_SNDBUF": 7, "SO_RCVBUF": 8, "SO_KEEPALIVE": 9, "SO_LINGER": 13, "SO_ERROR": 4,
    "TCP_NODELAY": 1, "TCP_MAXSEG": 2, "TCP_KEEPIDLE": 4, "TCP_KEEPINTVL": 5, "TCP_KEEPCNT": 6,
    "TCP_SYNCNT": 7, "TCP_LINGER2": 8, "SHUT_RD": 0, "SHUT_WR": 1, "SHUT_RDWR": 2,
    "TCP_CORK": 3, "TCP_USER_TIMEOUT": 18, "SO_REUSEADDR": 2, "MSG_MORE": 0x8000,
    "MSG_DONTWAIT": 0x40, "F_SETFL": 4, "F_GETFL": 3, "O_NONBLOCK": 0o4000, "O_RDWR": 2,
}

TCP_STATES = {1: "ESTABLISHED", 2: "SYN_SENT", 3: "SYN_RECV", 4: "FIN_WAIT1", 5: "FIN_WAIT2",
              6: "TIME_WAIT", 7: "CLOSE", 8: "CLOSE_WAIT", 9: "LAST_ACK", 10: "LISTEN",
              11: "CLOSING", 12: "NEW_SYN_RECV"}
STATE_ALIASES = {"ESTAB": "ESTABLISHED", "SYN-SENT": "SYN_SENT", "SYN-RECV": "SYN_RECV",
                 "FIN-WAIT-1": "FIN_WAIT1", "FIN-WAIT-2": "FIN_WAIT2", "TIME-WAIT": "TIME_WAIT",
                 "UNCONN": "CLOSE", "CLOSE-WAIT": "CLOSE_WAIT", "LAST-ACK": "LAST_ACK"}


class ScriptError(Exception):
    pass


# ----------------------------------------------------------------- parsing

def parse_opts(text):
    opts = []
    text = text.strip()
    if text == "*":
        return "*"
    if not text:
        return opts
    for part in text.split(","):
        w = part.split()
        k = w[0]
        if k in ("nop", "eol", "sackOK"):
            opts.append((k,))
        elif k in ("mss", "wscale"):
            opts.append((k, w[1]))
        elif k == "TS":
            opts.append(("TS", w[2], w[4]))
        elif k == "sack":
            opts.append(("sack", [tuple(int(x) for x in b.split(":")) for b in w[1:]]))
        else:
            raise ScriptError("unknown option " + k)
    return opts


def parse_packet(text):
    m = re.match(r"([SFRP.UEW?]+)\s+(\S+):(\S+)\((\d+)\)(.*)$", text)
    if not m:
        raise ScriptError("bad packet: " + text)
    fl = m.group(1)
    optional = sum(FLAG_BITS[fl[i - 1]] for i, c in enumerate(fl) if c == "?")
    p = {"flags": sum(FLAG_BITS[c] for c in fl if c != "?"), "optional": optional,
         "seq": m.group(2),
         "end": m.group(3), "len": int(m.group(4)), "ack": None, "win": None, "opts": None}
    rest = m.group(5)
    om = re.search(r"<(.*)>", rest)
    if om:
        p["opts"] = parse_opts(om.group(1))
        rest = rest[:om.start()] + rest[om.end():]
    w = rest.split()
    i = 0
    while i < len(w):
        if w[i] in ("ack", "win"):
            p[w[i]] = w[i + 1]
            i += 2
        else:
            raise ScriptError("unexpected " + w[i])
    return p


def split_args(s):
    out, depth, cur = [], 0, ""
    for ch in s:
        if ch in "{[":
            depth += 1
        elif ch in "}]":
            depth -= 1
        if ch == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        out.append(cur.strip())
    return out


ORACLE_TOLERANCE = re.compile(r"#\s*oracle-tolerance-ms:\s*([0-9.]+)")
ORACLE_SKIP = re.compile(r"#\s*oracle:\s*skip\b(.*)")


def script_skip(path):
    """`# oracle: skip (why)`: the oracle does not run the script (e.g. it
    runs for minutes in real time); prints SKIP and exits 0."""
    for raw in open(path):
        m = ORACLE_SKIP.match(raw.strip())
        if m:
            return m.group(1).strip() or "marked skip"
    return None


def script_tolerance(path):
    """A script may widen the oracle's tolerance for Linux's timer slack:
    a comment line `# oracle-tolerance-ms: 100`."""
    for raw in open(path):
        m = ORACLE_TOLERANCE.match(raw.strip())
        if m:
            return float(m.group(1))
    return None


def parse_script(path):
    lines, last = [], 0.0
    for n, raw in enumerate(open(path), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        m = re.match(r"(\+?)(\d*\.?\d+)\s+(.*)$", line)
        if not m:
            raise ScriptError(f"{path}:{n}: bad time")
        t = float(m.group(2))
        rel = m.group(1) == "+"
        t = last + t if rel else t
        last = t
        body = m.group(3)
        ev = {"line": n, "text": line, "time": t, "rel": rel}
        if body.startswith("<") or body.startswith(">"):
            ev["kind"] = "in" if body[0] == "<" else "out"
            ev["pkt"] = parse_packet(body[1:].strip())
        elif body.startswith("%"):
            w = body[1:].split()
            ev["kind"] = "dir"
            ev["name"], ev["words"] = w[0], w[1:]
        else:
            cm = re.match(r"(\w+)\((.*)\)\s*=\s*(-?\d+)\s*(\w+)?", body)
            if not cm:
                raise ScriptError(f"{path}:{n}: bad call")
            ev["kind"] = "call"
            ev["name"], ev["args"] = cm.group(1), split_args(cm.group(2))
            ev["ret"], ev["err"] = int(cm.group(3)), cm.group(4)
        lines.append(ev)
    return lines


# ------------------------------------------------------------- namespaces

def sh(cmd, ns=None):
    if ns:
        cmd = f"ip netns exec {ns} {cmd}"
    subprocess.run(cmd, shell=True, check=True, stdout=subprocess.DEVNULL)


def setup_netns():
    for ns in (KNS, PNS):
        subprocess.run(f"ip netns del {ns}", shell=True, stderr=subprocess.DEVNULL)
    sh(f"ip netns add {KNS}")
    sh(f"ip netns add {PNS}")
    sh(f"ip link add k0 netns {KNS} address 02:00:00:00:00:01 type veth peer name p0 "
       f"netns {PNS} address 02:00:00:00:00:02")
    sh("sysctl -qw net.ipv6.conf.all.disable_ipv6=1", KNS)
    sh("sysctl -qw net.ipv6.conf.default.disable_ipv6=1", KNS)
    sh("sysctl -qw net.ipv6.conf.all.disable_ipv6=1", PNS)
    sh("sysctl -qw net.ipv6.conf.default.disable_ipv6=1", PNS)
    sh("ethtool -K k0 tso off gso off gro off tx off rx off", KNS)
    sh("ethtool -K p0 tso off gso off gro off tx off rx off", PNS)
    sh(f"ip addr add {DPX_IP}/24 dev k0", KNS)
    sh("ip link set k0 up", KNS)
    sh("ip link set lo up", KNS)
    sh("ip link set p0 up", PNS)
    sh(f"ip route add default via {GW_IP} dev k0", KNS)
    sh(f"ip neigh replace {GW_IP} lladdr 02:00:00:00:00:02 dev k0 nud permanent", KNS)
    # Machine-dependent defaults set to dpx's (TcpSysctls follows Linux 6.18's
    # defaults otherwise). Behaviour switches (TLP, RACK, compressed SACK)
    # keep the kernel's defaults: scripts pin what Linux does with them.
    for k, v in DPX_SYSCTLS.items():
        sh(f"sysctl -qw {k}='{v}'", KNS)


def sockstat_tcp():
    """/proc/net/sockstat's TCP line as a dict. `orphan` is global in Linux
    (tcp_orphan_count is not per netns); inuse/tw/alloc are per netns."""
    for line in open("/proc/net/sockstat"):
        if line.startswith("TCP:"):
            f = line.split()[1:]
            return dict(zip(f[0::2], (int(x) for x in f[1::2])))
    return {}


def wait_no_orphans(limit_s=200):
    """Orphans of earlier runs (kept alive after their netns was deleted)
    would count in `%sockstat orphan`: wait for them to go."""
    end = time.monotonic() + limit_s
    n = sockstat_tcp().get("orphan", 0)
    if n:
        print(f"waiting for {n} orphan(s) of earlier runs to go...", flush=True)
    while n and time.monotonic() < end:
        time.sleep(1)
        n = sockstat_tcp().get("orphan", 0)
    return n


def teardown_netns():
    # Kill what the script left (orphans would outlive the namespace and
    # count in the next run's global orphan count).
    subprocess.run(f"ip netns exec {KNS} ss -K -t -a", shell=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for ns in (KNS, PNS):
        subprocess.run(f"ip netns del {ns}", shell=True, stderr=subprocess.DEVNULL)


libc = ctypes.CDLL("libc.so.6", use_errno=True)


def enter_netns(name):
    fd = os.open(f"/run/netns/{name}", os.O_RDONLY)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "setns")
    os.close(fd)


# ------------------------------------------------------------------ packets

def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data)//2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def ip4(a):
    return socket.inet_aton(a)


class Conn:
    def __init__(self, peer_port):
        self.peer_port = peer_port
        self.dpx_port = 0
        self.peer_isn = PEER_ISN
        self.dpx_isn = None
        self.last_tsval = 0

    def dpx_base(self):
        return self.dpx_isn or 0


def build_frame(p, conn, peer_port, ip_id):
    opt = b""
    if p["opts"] and p["opts"] != "*":
        for o in p["opts"]:
            k = o[0]
            if k == "nop":
                opt += b"\x01"
            elif k == "eol":
                opt += b"\x00"
            elif k == "mss":
                opt += struct.pack("!BBH", 2, 4, int(o[1]))
            elif k == "wscale":
                opt += struct.pack("!BBB", 3, 3, int(o[1]))
            elif k == "sackOK":
                opt += b"\x04\x02"
            elif k == "TS":
                ecr = conn.last_tsval if o[2] == "*" else int(o[2])  # `ecr *`: echo
                opt += struct.pack("!BBII", 8, 10, int(o[1]) & 0xFFFFFFFF, ecr & 0xFFFFFFFF)
            elif k == "sack":
                opt += struct.pack("!BB", 5, 2 + 8 * len(o[1]))
                for a, b in o[1]:
                    opt += struct.pack("!II", (conn.dpx_base() + a) & 0xFFFFFFFF,
                                       (conn.dpx_base() + b) & 0xFFFFFFFF)
    while len(opt) % 4:
        opt += b"\x00"
    payload = bytes((ord("a") + (int(p["seq"]) + i) % 26) for i in range(p["len"]))
    seq = (conn.peer_isn + int(p["seq"])) & 0xFFFFFFFF
    ack = (conn.dpx_base() + int(p["ack"])) & 0xFFFFFFFF if p["ack"] is not None else 0
    win = int(p["win"]) if p["win"] is not None else 65535
    doff = (20 + len(opt)) // 4
    tcp = struct.pack("!HHIIBBHHH", peer_port, conn.dpx_port, seq, ack, doff << 4, p["flags"],
                      win, 0, 0) + opt + payload
    pseudo = ip4(PEER_IP) + ip4(DPX_IP) + struct.pack("!BBH", 0, 6, len(tcp))
    c = (~csum(pseudo + tcp)) & 0xFFFF
    tcp = tcp[:16] + struct.pack("!H", c) + tcp[18:]
    iph = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), ip_id, 0x4000, 64, 6, 0,
                      ip4(PEER_IP), ip4(DPX_IP))
    iph = iph[:10] + struct.pack("!H", (~csum(iph)) & 0xFFFF) + iph[12:]
    return DPX_MAC + PEER_MAC + b"\x08\x00" + iph + tcp


def decode(frame):
    if len(frame) < 34 or frame[12:14] != b"\x08\x00":
        return None
    ihl = (frame[14] & 0xF) * 4
    tot = struct.unpack("!H", frame[16:18])[0]
    if frame[23] != 6:
        return {"what": f"IPv4 proto {frame[23]}"}
    t = frame[14 + ihl:14 + tot]
    sport, dport, seq, ack, off, flags, win = struct.unpack("!HHIIBBH", t[:16])
    hl = (off >> 4) * 4
    return {"sport": sport, "dport": dport, "seq": seq, "ack": ack, "flags": flags, "win": win,
            "len": tot - ihl - hl, "raw_opts": t[20:hl]}


def decode_opts(raw, sack_base):
    out, i = [], 0
    while i < len(raw):
        k = raw[i]
        if k == 0:
            out.append(("eol",))
            i += 1
            continue
        if k == 1:
            out.append(("nop",))
            i += 1
            continue
        ln = raw[i + 1]
        if k == 2:
            out.append(("mss", str(struct.unpack("!H", raw[i + 2:i + 4])[0])))
        elif k == 3:
            out.append(("wscale", str(raw[i + 2])))
        elif k == 4:
            out.append(("sackOK",))
        elif k == 8:
            v, e = struct.unpack("!II", raw[i + 2:i + 10])
            out.append(("TS", str(v), str(e)))
        elif k == 5:
            blocks = []
            for b in range(i + 2, i + ln, 8):
                a, e = struct.unpack("!II", raw[b:b + 8])
                blocks.append(((a - sack_base) & 0xFFFFFFFF, (e - sack_base) & 0xFFFFFFFF))
            out.append(("sack", blocks))
        else:
            out.append((f"opt{k}",))
        i += ln
    return out


def fmt_flags(f):
    s = "".join(c for c, b in (("S", 2), ("F", 1), ("R", 4), ("P", 8), ("U", 0x20), ("E", 0x40),
                                ("W", 0x80)) if f & b)
    return s + ("." if f & 0x10 else "")


def fmt_opts(opts):
    parts = []
    for o in opts:
        if o[0] in ("mss", "wscale"):
            parts.append(f"{o[0]} {o[1]}")
        elif o[0] == "TS":
            parts.append(f"TS val {o[1]} ecr {o[2]}")
        elif o[0] == "sack":
            parts.append("sack " + " ".join(f"{a}:{b}" for a, b in o[1]))
        else:
            parts.append(o[0])
    return "<" + ",".join(parts) + ">"


def rel_view(s, conn):
    seq = (s["seq"] - conn.dpx_base()) & 0xFFFFFFFF
    v = {"flags": s["flags"], "seq": seq, "end": (seq + s["len"]) & 0xFFFFFFFF, "len": s["len"],
         "ack": (s["ack"] - conn.peer_isn) & 0xFFFFFFFF if s["flags"] & 0x10 else None,
         "win": s["win"], "opts": decode_opts(s["raw_opts"], conn.peer_isn)}
    return v


def fmt_view(v):
    s = f"> {fmt_flags(v['flags'])} {v['seq']}:{v['end']}({v['len']})"
    if v["ack"] is not None:
        s += f" ack {v['ack']}"
    s += f" win {v['win']}"
    if v["opts"]:
        s += " " + fmt_opts(v["opts"])
    return s


def field_ok(want, got):
    return want is None or want == "*" or int(want) == int(got)


def compare(want, got):
    d = []
    opt = want.get("optional", 0)
    if (want["flags"] | opt) != (got["flags"] | opt):
        d.append("flags")
    if not field_ok(want["seq"], got["seq"]):
        d.append("seq")
    if not field_ok(want["end"], got["end"]) or want["len"] != got["len"]:
        d.append("len")
    if want["ack"] is not None and (got["ack"] is None or not field_ok(want["ack"], got["ack"])):
        d.append("ack")
    if not field_ok(want["win"], got["win"]):
        d.append("win")
    wo = want["opts"]
    if wo is not None and wo != "*":
        go = got["opts"]
        if len(wo) != len(go):
            d.append("options")
        else:
            for w, g in zip(wo, go):
                if w[0] != g[0]:
                    d.append("options")
                elif w[0] in ("mss", "wscale") and not field_ok(w[1], g[1]):
                    d.append(w[0])
                elif w[0] == "TS" and (not field_ok(w[1], g[1]) or not field_ok(w[2], g[2])):
                    d.append("TS")
                elif w[0] == "sack" and [tuple(b) for b in w[1]] != [tuple(b) for b in g[1]]:
                    d.append("sack")
    return d


# ------------------------------------------------------------- processes
#
# Every script process (pid 100 at the start, 101, 102, ... for each
# `fork()`) is a real Linux process: a worker forked from the oracle (or
# from another worker, for fork) in the kernel-side namespace. It executes
# the calls it is sent over an AF_UNIX SEQPACKET pair (pickled dicts) on its
# own fd table, whose fd numbers are the script's: the worker keeps no fd
# of its own between 3 and CTRL_FD, so socket() and dup() return what Linux
# returns. `fork` forks the worker (the child gets a new channel, passed to
# the oracle with SCM_RIGHTS); `exit` makes it _exit(n): do_exit closes its
# files, and the oracle waits until the process is gone (pidfd).

FIRST_PID = 100
CTRL_FD = 1000            # the worker's channel to the oracle
PR_SET_CHILD_SUBREAPER = 36


class Wrapped:
    """A socket object over a raw fd of the worker, detached (never closed)
    when done."""

    def __init__(self, fd):
        self.fd = fd

    def __enter__(self):
        self.s = socket.socket(fileno=self.fd)
        self.s.setblocking(False)
        return self.s

    def __exit__(self, *exc):
        self.s.detach()
        return False


def sock_tuple(fd):
    with Wrapped(fd) as s:
        try:
            return (s.getsockname(), s.getpeername())
        except OSError:
            return (s.getsockname(), None)


class Worker:
    """The process side: runs in the forked worker, never returns."""

    def __init__(self):
        self.ctrl = socket.socket(fileno=CTRL_FD)
        self.closing = {}  # fd -> thread running a lingering close

    def loop(self):
        while True:
            try:
                data = self.ctrl.recv(1 << 16)
            except OSError:
                data = b""
            if not data:
                os._exit(0)  # the oracle went away
            req = pickle.loads(data)
            fds = []
            try:
                res = {"ok": self.handle(req, fds)}
            except OSError as e:
                res = {"errno": e.errno}
            except Exception as e:  # a bug: report it rather than hang
                res = {"error": f"{type(e).__name__}: {e}"}
            if res.get("ok") is CHILD:
                continue  # this is the new child: it answers nothing for the fork
            socket.send_fds(self.ctrl, [pickle.dumps(res)], fds)
            for fd in fds:
                os.close(fd)
            if req["op"] == "exit" and "ok" in res:
                os._exit(req["n"])

    def handle(self, req, fds):
        op = req["op"]
        fd = req.get("fd")
        if op == "socket":
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            # dpx's default congestion control (a child netns may not change
            # the default, a CAP_NET_ADMIN socket may pick any available one)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, b"cubic")
            return s.detach()
        if op == "fork":
            a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            pid = os.fork()
            if pid == 0:
                os.dup2(b.fileno(), CTRL_FD, inheritable=False)
                os.close(a.detach())
                os.close(b.detach())
                self.closing = {}
                return CHILD
            os.close(b.detach())
            fds.append(a.detach())
            return pid
        if op == "exit":
            # Addresses of every socket it holds, for %state afterwards.
            tuples = {}
            for name in os.listdir("/proc/self/fd"):
                n = int(name)
                if n < 3 or n == CTRL_FD:
                    continue
                try:
                    if os.readlink(f"/proc/self/fd/{n}").startswith("socket:"):
                        tuples[n] = sock_tuple(n)
                except OSError:
                    pass
            return {"tuples": tuples}
        if op == "dup":
            return os.dup(fd)
        if op == "dup2":
            return os.dup2(fd, req["fd2"])
        if op == "state":
            try:
                with Wrapped(fd) as s:
                    return s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)[0]
            except OSError:
                return None
        if op == "close_done":
            th = self.closing.get(fd)
            if th is not None and req["wait"]:
                th.join(req["wait"])
            return th is None or not th.is_alive()
        if op in ("close", "close_exiting"):
            tup = sock_tuple(fd)
            if op == "close_exiting":
                # The last reference goes away in a process that is exiting
                # (PF_EXITING: inet_release ignores the linger time). A forked
                # child holds the socket; this process drops its reference,
                # then the child exits.
                r, w = os.pipe()
                pid = os.fork()
                if pid == 0:
                    os.close(w)
                    os.read(r, 1)
                    os._exit(0)
                os.close(r)
                os.close(fd)
                os.write(w, b"x")
                os.close(w)
                os.waitpid(pid, 0)
                return {"tuple": tup}
            with Wrapped(fd) as s:
                lg = struct.unpack("ii", s.getsockopt(socket.SOL_SOCKET, socket.SO_LINGER, 8))
            if lg[0] and lg[1] > 0:
                # SO_LINGER {1,N}: Linux blocks in close (even O_NONBLOCK);
                # run it aside so the script goes on (%close_done/%close_blocked).
                th = threading.Thread(target=os.close, args=(fd,), daemon=True)
                th.start()
                self.closing[fd] = th
                time.sleep(0.001)  # the fd slot is freed at once; let it start
                return {"tuple": tup}
            os.close(fd)
            return {"tuple": tup}
        with Wrapped(fd) as s:
            if op == "bind":
                s.bind((req["ip"], req["port"]))
                return 0
            if op == "listen":
                s.listen(req["n"])
                return s.getsockname()[1]
            if op == "accept":
                c, _ = s.accept()
                c.setblocking(False)
                return c.detach()
            if op == "connect":
                rc = s.connect_ex((req["ip"], req["port"]))
                return {"rc": rc, "sport": s.getsockname()[1]}
            if op == "send":
                return s.send(bytes((ord("A") + i % 26) for i in range(req["n"])), req["flags"])
            if op == "recv":
                return len(s.recv(req["n"]))
            if op == "shutdown":
                s.shutdown(req["how"])
                return 0
            if op == "setsockopt":
                v = req["val"]
                if isinstance(v, tuple):
                    s.setsockopt(req["level"], req["opt"], struct.pack("ii", *v))
                else:
                    s.setsockopt(req["level"], req["opt"], v)
                return 0
            if op == "getsockopt":
                if req["size"]:
                    return struct.unpack("ii", s.getsockopt(req["level"], req["opt"], req["size"]))
                return s.getsockopt(req["level"], req["opt"])
        raise ValueError("unknown op " + op)


CHILD = object()


def spawn_worker():
    """Forks the first worker (script pid 100) from the oracle."""
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    pid = os.fork()
    if pid == 0:
        try:
            os.dup2(b.fileno(), CTRL_FD, inheritable=False)
            a.detach()
            b.detach()
            # Nothing of the oracle's stays open (the packet socket, the
            # other end): the script's fds start at 3.
            os.closerange(3, CTRL_FD)
            os.closerange(CTRL_FD + 1, 1 << 16)
            Worker().loop()
        finally:
            os._exit(70)
    os.close(b.detach())
    return pid, a


class Proc:
    """The oracle's handle on one script process."""

    def __init__(self, spid, rpid, ctrl, direct=False):
        self.spid, self.rpid, self.ctrl, self.direct = spid, rpid, ctrl, direct
        self.ctrl.settimeout(10.0)
        self.pidfd = os.pidfd_open(rpid)
        self.alive = True
        self.closed = {}  # fd -> (local, peer) of a closed socket fd

    def newfd(self, fd):
        self.closed.pop(fd, None)
        return fd

    def req(self, op, **kw):
        kw["op"] = op
        self.ctrl.send(pickle.dumps(kw))
        data, fds, _, _ = socket.recv_fds(self.ctrl, 1 << 16, 1)
        if not data:
            raise ScriptError(f"process {self.spid} (pid {self.rpid}) went away")
        res = pickle.loads(data)
        if "error" in res:
            raise ScriptError(f"process {self.spid}: {op}: {res['error']}")
        if "errno" in res:
            raise OSError(res["errno"], os.strerror(res["errno"]))
        if op == "fork":
            return {"pid": res["ok"], "ctrl": socket.socket(fileno=fds[0])}
        return res["ok"]

    def wait_gone(self, limit_s=10.0):
        """Until the process has exited (its files are closed by then)."""
        poller = select.poll()
        poller.register(self.pidfd, select.POLLIN)
        if not poller.poll(limit_s * 1000):
            raise ScriptError(f"process {self.spid} (pid {self.rpid}) did not exit")
        if self.direct:
            os.waitpid(self.rpid, 0)
        self.alive = False
        self.ctrl.close()
        os.close(self.pidfd)

    def kill(self):
        if self.alive:
            try:
                os.kill(self.rpid, 9)
            except ProcessLookupError:
                pass
            self.wait_gone()


# -------------------------------------------------------------- the runner

class Oracle:
    def __init__(self, script, tol):
        self.script, self.tol = script, tol
        self.conns = {}
        self.procs, self.acting, self.next_pid = {}, FIRST_PID, FIRST_PID + 1
        self.peer_port, self.listen_port, self.ip_id = DEFAULT_PEER_PORT, 0, 1
        self.pending, self.log = [], []
        self.explore = False
        self.orphan_base = 0

    def stop(self):
        """Kills the script processes still alive and reaps them all."""
        for p in self.procs.values():
            try:
                p.kill()
            except (OSError, ScriptError):
                pass
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break

    def conn(self, port):
        if port not in self.conns:
            self.conns[port] = Conn(port)
        return self.conns[port]

    def now(self):
        return time.monotonic() - self.t0

    def out(self, s):
        self.log.append(s)
        print(s, flush=True)

    def collect(self, timeout=0.0):
        end = time.monotonic() + timeout
        while True:
            r, _, _ = select.select([self.ps], [], [], max(0.0, end - time.monotonic()))
            if not r:
                return
            data, addr = self.ps.recvfrom(65535)
            if addr[2] == socket.PACKET_OUTGOING:
                continue
            t = self.now()
            s = decode(data)
            if s is None or "what" in s:
                continue
            s["t"] = t
            c = self.conn(s["dport"])
            if not c.dpx_port:
                c.dpx_port = s["sport"]
            for o in decode_opts(s["raw_opts"], 0):
                if o[0] == "TS":
                    c.last_tsval = int(o[1])
            self.pending.append(s)
            end = time.monotonic()  # got one: drain what is queued, then return

    def describe(self, s):
        c = self.conn(s["dport"])
        extra = "" if s["dport"] == self.peer_port else f"   [peer port {s['dport']}]"
        return f"{s['t']:.6f} {fmt_view(rel_view(s, c))}{extra}"

    def fail(self, ev, msg):
        # Show what else the kernel sends in the next 300 ms, for diagnosis.
        end = time.monotonic() + 0.3
        while time.monotonic() < end:
            self.collect(max(0.0, end - time.monotonic()))
        more = "".join("\n  then:     " + self.describe(s) for s in self.pending)
        raise ScriptError(f"line {ev['line']}: {msg}\n  line: {ev['text']}{more}")

    def check_nothing(self, ev):
        self.collect(0.0)
        if self.pending and self.explore:
            for s in self.pending:
                self.out(self.describe(s) + "   [unexpected]")
            self.pending = []
        if self.pending:
            seen = "\n".join("  seen:     " + self.describe(s) for s in self.pending)
            self.fail(ev, "unexpected segment(s) before this line:\n" + seen)

    def run(self):
        prev_script = prev_eff = 0.0
        self.t0 = time.monotonic()
        for ev in self.script:
            eff = prev_eff + (ev["time"] - prev_script) if ev["rel"] else ev["time"]
            actual = eff
            if ev["kind"] == "out":
                actual = self.expect(ev, eff)
            else:
                delay = eff - self.now()
                if delay > 0:
                    self.collect(0.0)
                    # wait, collecting what the kernel sends meanwhile
                    end = time.monotonic() + delay
                    while time.monotonic() < end:
                        self.collect(max(0.0, end - time.monotonic()))
                # `%peer_port` only switches the connection the next lines
                # mean: segments still queued may be for it.
                if not (ev["kind"] == "dir" and ev["name"] == "peer_port"):
                    self.check_nothing(ev)
                getattr(self, "do_" + ev["kind"])(ev)
            prev_script, prev_eff = ev["time"], actual
        time.sleep(0.002)
        self.collect(0.0)
        if self.explore:
            self.check_nothing({"line": 0, "text": "end"})
        if self.pending:
            seen = "\n".join("  seen:     " + self.describe(s) for s in self.pending)
            raise ScriptError("unexpected segment(s) at the end of the script:\n" + seen)

    def expect(self, ev, eff):
        # Real time lags the script a little; never wait less than the tolerance.
        deadline = max(eff, self.now()) + self.tol
        while not self.pending and self.now() < deadline:
            self.collect(max(0.0, deadline - self.now()))
        want = ev["pkt"]
        if not self.pending:
            self.fail(ev, f"expected segment not seen by {deadline:.6f}")
        s = self.pending.pop(0)
        c = self.conn(s["dport"])
        if s["flags"] & 0x02 and c.dpx_isn is None:
            c.dpx_isn = (s["seq"] - (0 if want["seq"] == "*" else int(want["seq"]))) & 0xFFFFFFFF
        got = rel_view(s, c)
        diffs = compare(want, got)
        if s["t"] + self.tol < eff:
            diffs.append(f"too early (expected at {eff:.6f})")
        if s["dport"] != self.peer_port:
            diffs.append("peer port")
        self.out(self.describe(s))
        if diffs:
            self.fail(ev, "segment differs (" + ", ".join(diffs) + ")\n  seen:     " +
                      self.describe(s))
        return s["t"]

    def do_in(self, ev):
        c = self.conn(self.peer_port)
        if not c.dpx_port:
            c.dpx_port = self.listen_port
        frame = build_frame(ev["pkt"], c, self.peer_port, self.ip_id)
        self.ip_id += 1
        self.ps.send(frame)
        self.out(f"{self.now():.6f} {ev['text'].split(None, 1)[1]}")
        time.sleep(0.0005)

    # -- calls
    def argint(self, a):
        a = a.strip()
        if a.startswith("[") and a.endswith("]"):
            a = a[1:-1]
        if a in NAMES:
            return NAMES[a]
        return int(a)

    def addr(self, a, default_ip, default_port):
        m = re.match(r"(\d+\.\d+\.\d+\.\d+):(\d+)", a.strip())
        if m:
            return m.group(1), int(m.group(2))
        return default_ip, default_port

    def do_call(self, ev):
        name, args = ev["name"], ev["args"]
        r, err = 0, None
        try:
            r = self.call(name, args)
        except OSError as e:
            r, err = -1, errno.errorcode.get(e.errno, str(e.errno))
        except BlockingIOError:
            r, err = -1, "EAGAIN"
        self.out(f"{self.now():.6f} {ev['text'].split(None, 1)[1]}   -> {r} {err or ''}")
        want_err = "EAGAIN" if ev["err"] == "EWOULDBLOCK" else ev["err"]
        if r != ev["ret"] or (r == -1 and err != want_err):
            self.fail(ev, f"call returned {r} {err or ''}")
        time.sleep(0.0005)

    def proc(self):
        p = self.procs[self.acting]
        if not p.alive:
            raise ScriptError(f"process {self.acting} has exited")
        return p

    def call(self, name, args):
        p = self.proc()
        if name == "socket":
            return p.newfd(p.req("socket"))
        if name == "fork":
            res = p.req("fork")
            spid = self.next_pid
            self.next_pid += 1
            child = Proc(spid, res["pid"], res["ctrl"])
            child.closed = dict(p.closed)
            self.procs[spid] = child
            return spid
        if name == "exit":
            # do_exit: the worker reports its sockets' addresses (for %state
            # of the fds afterwards), then _exit()s; the line completes when
            # the process is gone (its deferred fputs ran before that).
            res = p.req("exit", n=self.argint(args[0]))
            p.closed.update(res["tuples"])
            p.wait_gone()
            return 0
        fd = self.argint(args[0])
        if name == "bind":
            ip, port = self.addr(args[1], "0.0.0.0", DEFAULT_DPX_PORT)
            return p.req("bind", fd=fd, ip=ip, port=port)
        if name == "listen":
            self.listen_port = p.req("listen", fd=fd, n=self.argint(args[1]))
            return 0
        if name == "accept":
            return p.newfd(p.req("accept", fd=fd))
        if name == "connect":
            ip, port = self.addr(args[1], PEER_IP, DEFAULT_DPX_PORT)
            self.peer_port = port
            self.conns.pop(port, None)
            res = p.req("connect", fd=fd, ip=ip, port=port)
            self.conn(port).dpx_port = res["sport"]
            if res["rc"]:
                raise OSError(res["rc"], "connect")
            return 0
        if name in ("write", "send"):
            fl = 0
            if name == "send" and len(args) > 3:
                for f in args[3].split("|"):
                    fl |= self.argint(f)
            return p.req("send", fd=fd, n=self.argint(args[2]), flags=fl)
        if name in ("read", "recv"):
            return p.req("recv", fd=fd, n=self.argint(args[2]))
        if name == "shutdown":
            return p.req("shutdown", fd=fd, how=self.argint(args[1]))
        if name == "dup":
            return p.newfd(p.req("dup", fd=fd))
        if name == "dup2":
            fd2 = self.argint(args[1])
            r = p.req("dup2", fd=fd, fd2=fd2)
            if fd2 != fd:
                p.closed.pop(fd2, None)
            return r
        if name in ("close", "close_exiting"):
            # The worker returns the connection's addresses: %state of a
            # closed fd looks the connection up in /proc/net/tcp.
            res = p.req(name, fd=fd)
            p.closed[fd] = res["tuple"]
            return 0
        if name in ("setsockopt", "getsockopt"):
            level, opt, val = self.argint(args[1]), self.argint(args[2]), args[3].strip()
            if name == "setsockopt":
                if val.startswith("{"):
                    f = dict(kv.split("=") for kv in val.strip("{}").replace(" ", "").split(","))
                    v = (int(f["l_onoff"]), int(f["l_linger"]))
                else:
                    v = self.argint(val)
                return p.req("setsockopt", fd=fd, level=level, opt=opt, val=v)
            if val.startswith("{"):
                got = tuple(p.req("getsockopt", fd=fd, level=level, opt=opt, size=8))
                f = dict(kv.split("=") for kv in val.strip("{}").replace(" ", "").split(","))
                if got != (int(f["l_onoff"]), int(f["l_linger"])):
                    raise ScriptError(f"getsockopt value {got}")
            else:
                got = p.req("getsockopt", fd=fd, level=level, opt=opt, size=0)
                if val != "..." and got != self.argint(val):
                    raise ScriptError(f"getsockopt value {got}, expected {val}")
            return 0
        if name == "fcntl":
            return 0
        raise ScriptError("unknown call " + name)

    # -- directives
    def tcp_table(self):
        rows = {}
        for line in open("/proc/net/tcp").read().splitlines()[1:]:
            w = line.split()
            la, ra, st = w[1], w[2], int(w[3], 16)
            rows.setdefault((la, ra), st)
        return rows

    @staticmethod
    def hexaddr(ipport):
        ip, port = ipport
        return "%08X:%04X" % (struct.unpack("<I", socket.inet_aton(ip))[0], port)

    def do_dir(self, ev):
        name, w = ev["name"], ev["words"]
        self.out(f"{self.now():.6f} {ev['text'].split(None, 1)[1]}")
        if name == "state":
            fd, want = int(w[0]), w[1].replace("TCP_", "")
            want = STATE_ALIASES.get(want, want).upper().replace("-", "_")
            p = self.procs[self.acting]
            st = p.req("state", fd=fd) if p.alive else None
            if st is not None:
                got = TCP_STATES.get(st, str(st))
            elif fd in p.closed:
                local, peer = p.closed[fd]
                got = "CLOSE"
                rows = self.tcp_table()
                if peer:
                    st = rows.get((self.hexaddr(local), self.hexaddr(peer)))
                else:
                    # No peer address (SYN_SENT has none to getpeername, a
                    # listener): the row with that local address, if any.
                    st = next((v for (la, _), v in rows.items()
                               if la == self.hexaddr(local) and local[1]), None)
                if st:
                    got = TCP_STATES.get(st, str(st))
            else:
                self.fail(ev, f"fd {fd} was never opened in process {self.acting}")
            if got != want:
                self.fail(ev, f"state is {got}")
        elif name == "counter":
            got = self.counter(w[0])
            if got != int(w[1]):
                self.fail(ev, f"counter {w[0]} is {got}")
        elif name == "sysctl":
            k, v = " ".join(w).split("=", 1)
            path = "/proc/sys/" + k.strip().replace(".", "/")
            with open(path, "w") as f:
                f.write(v.strip())
        elif name == "peer_port":
            self.peer_port = int(w[0])
        elif name == "tolerance_ms":
            self.tol = float(w[0]) / 1000
        elif name == "no_packet":
            pass
        elif name == "sockstat":
            # /proc/net/sockstat "TCP: inuse N orphan N tw N alloc N mem N";
            # orphan is global in Linux: counted from the run's start.
            vals = sockstat_tcp()
            if "orphan" in vals:
                vals["orphan"] -= self.orphan_base
            if w[0] not in vals:
                self.fail(ev, "unknown sockstat field " + w[0])
            if vals[w[0]] != int(w[1]):
                self.fail(ev, f"sockstat {w[0]} is {vals[w[0]]}")
        elif name in ("close_done", "close_blocked"):
            p = self.procs[self.acting]
            # %close_done gives the closing thread the tolerance to return.
            wait = self.tol if name == "close_done" else 0
            done = not p.alive or p.req("close_done", fd=int(w[0]), wait=wait)
            if done != (name == "close_done"):
                self.fail(ev, "close() has " + ("returned" if done else "not returned"))
        elif name == "proc":
            spid = int(w[0])
            if spid not in self.procs:
                self.fail(ev, f"no process {spid}")
            self.acting = spid
        else:
            self.fail(ev, "unknown directive " + name)

    def counter(self, nstat_name):
        vals = {}
        for path in ("/proc/net/snmp", "/proc/net/netstat"):
            lines = open(path).read().splitlines()
            for i in range(0, len(lines) - 1, 2):
                hk, hv = lines[i].split(), lines[i + 1].split()
                grp = hk[0].rstrip(":")
                for k, v in zip(hk[1:], hv[1:]):
                    vals[grp + k] = int(v)
        if nstat_name not in vals:
            raise ScriptError("unknown counter " + nstat_name)
        return vals[nstat_name]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("script")
    ap.add_argument("--tolerance-ms", type=float, default=None,
                    help="default 10, or the script's `# oracle-tolerance-ms: N`")
    ap.add_argument("--keep", action="store_true", help="keep the namespaces")
    ap.add_argument("--explore", action="store_true",
                    help="print unexpected segments instead of failing on them")
    a = ap.parse_args()
    skip = script_skip(a.script)
    if skip:
        print("SKIP (oracle: " + skip + ")")
        sys.exit(0)
    script = parse_script(a.script)
    if a.tolerance_ms is None:
        a.tolerance_ms = script_tolerance(a.script) or 10.0
    if any(ev["kind"] == "dir" and ev["name"] == "sockstat" for ev in script):
        left = wait_no_orphans()
        if left:
            print(f"note: {left} orphan(s) of other runs remain; counting from there")
    setup_netns()
    ok, o = False, None
    try:
        enter_netns(PNS)
        ps = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
        ps.bind(("p0", 0))
        enter_netns(KNS)
        o = Oracle(script, a.tolerance_ms / 1000)
        o.ps = ps
        # Workers whose parent worker exits are reparented here and reaped.
        libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        pid, ctrl = spawn_worker()
        o.procs[FIRST_PID] = Proc(FIRST_PID, pid, ctrl, direct=True)
        o.explore = a.explore
        o.orphan_base = sockstat_tcp().get("orphan", 0)
        time.sleep(0.05)
        o.collect(0.0)
        o.pending = []
        o.run()
        ok = True
        print("PASS (Linux " + os.uname().release + ")")
    except ScriptError as e:
        print("FAIL: " + str(e))
    finally:
        if o is not None:
            o.stop()
        if not a.keep:
            teardown_netns()
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
