#!/usr/bin/env python3
"""A Linux TCP peer for the control-plane tests: connects to ADDR:PORT,
writes its local address to --name-file (so the test can find the
connection in `dpxctl conns`), sends --send (if any), then reads until the
connection ends or --timeout passes, and prints one JSON line:

  {"local": "10.0.0.1:41234", "received": "...", "end": "EOF"}

end: EOF (a FIN), ECONNRESET (an RST), timeout, or the error's name. With
--hold the peer neither sends nor reads: it keeps the connection open for
--timeout seconds and then closes it (a connection for `conns` to show).
--retry-refused N connects again when refused (see --help).
Exit 0 unless the connection could not be made.
"""
import argparse
import errno
import json
import socket
import sys
import time


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("addr")
    ap.add_argument("port", type=int)
    ap.add_argument("--send", default="", help="bytes to send right after connecting")
    ap.add_argument("--timeout", type=float, default=20.0)
    ap.add_argument("--name-file", default="")
    ap.add_argument("--hold", action="store_true")
    ap.add_argument("--retry-refused", type=int, default=0,
                    help="connect again (from a new port) up to N times when refused: with "
                         "several lcores a listener made on one core sees only the flows RSS "
                         "steers to that core")
    a = ap.parse_args()

    attempt = 0
    while True:
        try:
            s = socket.create_connection((a.addr, a.port), timeout=a.timeout)
            break
        except ConnectionRefusedError as e:
            attempt += 1
            if attempt > a.retry_refused:
                print(json.dumps({"error": f"connect: {e}", "attempts": attempt}), flush=True)
                return 1
            time.sleep(0.05)
        except OSError as e:
            print(json.dumps({"error": f"connect: {e}"}), flush=True)
            return 1
    local = "%s:%d" % s.getsockname()
    if a.name_file:
        with open(a.name_file + ".tmp", "w") as f:
            f.write(local + "\n")
        import os
        os.rename(a.name_file + ".tmp", a.name_file)
    if a.hold:
        time.sleep(a.timeout)
        s.close()
        print(json.dumps({"local": local, "end": "held"}), flush=True)
        return 0
    if a.send:
        s.sendall(a.send.encode())
    received = b""
    end = "timeout"
    deadline = time.monotonic() + a.timeout
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            s.settimeout(left)
            chunk = s.recv(65536)
            if not chunk:
                end = "EOF"
                break
            received += chunk
    except socket.timeout:
        end = "timeout"
    except OSError as e:
        end = errno.errorcode.get(e.errno, str(e))
    s.close()
    print(json.dumps({"local": local, "received": received.decode(errors="replace"), "end": end}),
          flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
