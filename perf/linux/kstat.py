#!/usr/bin/python3
"""Kernel figures for bench_linux.sh, printed as one line of key=value.

  kstat.py mem [PID]          Slab total (/proc/meminfo), the active objects
                              of the TCP and tw_sock_TCP slab caches, the
                              object sizes of the caches a socket allocates
                              from (/proc/slabinfo), and PID's VmRSS.
  kstat.py tw                 TIME_WAIT sockets now, and the TcpExt counters
                              of those ever created and reused by a connect
                              (this network namespace).
  kstat.py mass-close PID N   SIGKILL PID, then poll /proc/net/sockstat of
                              the caller's network namespace until N fewer
                              TCP sockets are in use (the kernel closed the
                              ones PID owned); report the time and the peak
                              orphan and TIME_WAIT counts seen meanwhile.
"""
import os
import signal
import sys
import time


def meminfo_bytes(key):
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    return 0


def slab_cache(name):
    """(active objects, object size) of one slab cache, (0, 0) if unreadable."""
    try:
        with open("/proc/slabinfo") as f:
            for line in f:
                fields = line.split()
                if fields and fields[0] == name:
                    return int(fields[1]), int(fields[3])
    except OSError:
        pass
    return 0, 0


def rss_bytes(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def sockstat_tcp():
    """{'inuse':..,'orphan':..,'tw':..,'alloc':..,'mem':..} from this netns."""
    with open("/proc/net/sockstat") as f:
        for line in f:
            if line.startswith("TCP:"):
                fields = line.split()[1:]
                return {fields[i]: int(fields[i + 1]) for i in range(0, len(fields), 2)}
    return {}


# Slab caches one socket with an fd allocates from, besides "TCP": its inode,
# dentry and struct file; eventpoll_epi when it is in an epoll set.
SOCKET_CACHES = {"sock_inode": "sock_inode_cache", "dentry": "dentry", "filp": "filp",
                 "epi": "eventpoll_epi"}


def tcpext():
    """TcpExt counters of this network namespace (/proc/net/netstat)."""
    with open("/proc/net/netstat") as f:
        lines = [line.split() for line in f if line.startswith("TcpExt:")]
    return dict(zip(lines[0][1:], map(int, lines[1][1:])))


def cmd_tw(_):
    ext = tcpext()
    # The kernel counts a TIME_WAIT socket when it arms its timer, i.e. when
    # it is created: in TW, or TWKilled when the timer is under 4 s.
    created = ext.get("TW", 0) + ext.get("TWKilled", 0)
    print(f"tw={sockstat_tcp()['tw']} tw_created={created} tw_recycled={ext.get('TWRecycled', 0)}")


def cmd_mem(args):
    tcp_objs, tcp_size = slab_cache("TCP")
    tw_objs, tw_size = slab_cache("tw_sock_TCP")
    out = {
        "slab_bytes": meminfo_bytes("Slab"),
        "tcp_objs": tcp_objs,
        "tcp_objsize": tcp_size,
        "tw_objs": tw_objs,
        "tw_objsize": tw_size,
        "rss_bytes": rss_bytes(args[0]) if args else 0,
    }
    for key, cache in SOCKET_CACHES.items():
        out[key + "_objsize"] = slab_cache(cache)[1]
    print(" ".join(f"{k}={v}" for k, v in out.items()))


def exited(pid):
    """True once do_exit has run: the process is a zombie or gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


def cmd_mass_close(args):
    """kill -9 the proxy; seconds until its exit closed every fd (do_exit's
    exit_files, what dpx's proc kill reports), then the peaks of orphans
    and TIME_WAIT while the closes play out on the wire (1 s more)."""
    pid, _sockets = int(args[0]), int(args[1])
    before = sockstat_tcp()
    peak_orphans = peak_tw = polls = 0
    t0 = time.monotonic()
    os.kill(pid, signal.SIGKILL)
    while not exited(pid):
        polls += 1
        if time.monotonic() - t0 > 60:
            print("mass-close: timed out", file=sys.stderr)
            break
    secs = time.monotonic() - t0
    t_end = time.monotonic() + 1.0
    st = before
    while time.monotonic() < t_end:
        st = sockstat_tcp()
        peak_orphans = max(peak_orphans, st["orphan"])
        peak_tw = max(peak_tw, st["tw"])
    out = {
        "seconds": f"{secs:.6f}",
        "inuse_before": before["inuse"],
        "inuse_after": st["inuse"],
        "peak_orphans": peak_orphans,
        "peak_tw": peak_tw,
        "polls": polls,
    }
    print(" ".join(f"{k}={v}" for k, v in out.items()))


def main():
    commands = {"mem": cmd_mem, "tw": cmd_tw, "mass-close": cmd_mass_close}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        sys.exit(__doc__)
    commands[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    main()
