#!/usr/bin/env python3
"""The gearmand side of `scripts/bench.sh peer`: N no-op background jobs through
a running gearmand, W worker processes, timed from the first submit to the last
WORK_COMPLETE. Speaks the Gearman binary protocol over plain sockets (no
library): a submitter pipelines SUBMIT_JOB_BG in windows of --window packets and
reads the JOB_CREATED answers; each worker sends CAN_DO once, then loops
GRAB_JOB_UNIQ -> JOB_ASSIGN_UNIQ -> WORK_COMPLETE, and on NO_JOB sends PRE_SLEEP
and waits for the server's NOOP. Prints one key=value line.

With gearmand's MySQL queue a background job is INSERTed before JOB_CREATED is
sent and DELETEd when its WORK_COMPLETE arrives, so this is the persistent path.
"""
import argparse
import multiprocessing as mp
import socket
import struct
import sys
import time

REQ, RES = b"\0REQ", b"\0RES"
CAN_DO = 1
PRE_SLEEP = 4
NOOP = 6
JOB_CREATED = 8
NO_JOB = 10
WORK_COMPLETE = 13
ECHO_REQ = 16
ECHO_RES = 17
SUBMIT_JOB_BG = 18
ERROR = 19
GRAB_JOB_UNIQ = 30
JOB_ASSIGN_UNIQ = 31


def packet(kind, *args):
    data = b"\0".join(args)
    return REQ + struct.pack(">II", kind, len(data)) + data


class Conn:
    def __init__(self, host, port):
        self.sock = socket.create_connection((host, port), timeout=60)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()

    def send(self, data):
        self.sock.sendall(data)

    def read(self):
        """One response packet: (type, data)."""
        while True:
            if len(self.buf) >= 12:
                kind, size = struct.unpack_from(">II", self.buf, 4)
                if len(self.buf) >= 12 + size:
                    if self.buf[:4] != RES:
                        raise RuntimeError("gearmand sent a packet without the \\0RES magic")
                    data = bytes(self.buf[12:12 + size])
                    del self.buf[:12 + size]
                    if kind == ERROR:
                        raise RuntimeError("gearmand error: %r" % data)
                    return kind, data
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise EOFError("gearmand closed the connection")
            self.buf += chunk


def worker(host, port, function, slot, done, last, ready):
    conn = Conn(host, port)
    conn.send(packet(CAN_DO, function))
    grab, pre_sleep = packet(GRAB_JOB_UNIQ), packet(PRE_SLEEP)
    n = 0
    announced = False
    while True:
        conn.send(grab)
        while True:
            kind, data = conn.read()
            if kind in (JOB_ASSIGN_UNIQ, NO_JOB):
                break
            # A NOOP left over from an earlier sleep: keep reading for the answer.
        if kind == JOB_ASSIGN_UNIQ:
            handle = data.split(b"\0", 1)[0]
            conn.send(packet(WORK_COMPLETE, handle, b""))
            n += 1
            last[slot] = time.time()
            done[slot] = n
            continue
        conn.send(pre_sleep)
        if not announced:
            ready[slot] = 1
            announced = True
        while conn.read()[0] != NOOP:
            pass


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--jobs", type=int, default=10000)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--window", type=int, default=100, help="SUBMIT_JOB_BG packets in flight")
    ap.add_argument("--function", default="wdpost_bench_noop")
    ap.add_argument("--timeout", type=float, default=600)
    args = ap.parse_args()
    fn = args.function.encode()

    done = mp.Array("q", args.workers, lock=False)
    last = mp.Array("d", args.workers, lock=False)
    ready = mp.Array("b", args.workers, lock=False)
    procs = [mp.Process(target=worker, args=(args.host, args.port, fn, i, done, last, ready), daemon=True)
             for i in range(args.workers)]
    for p in procs:
        p.start()
    deadline = time.time() + 30
    while sum(ready) < args.workers:
        if time.time() > deadline or not all(p.is_alive() for p in procs):
            sys.exit("bench_gearman: workers did not register with gearmand")
        time.sleep(0.01)

    client = Conn(args.host, args.port)
    run = b"%d" % int(time.time() * 1e6)
    t0 = time.time()
    sent = 0
    while sent < args.jobs:
        k = min(args.window, args.jobs - sent)
        client.send(b"".join(packet(SUBMIT_JOB_BG, fn, b"%s-%d" % (run, i), b"") for i in range(sent, sent + k)))
        for _ in range(k):
            kind, _ = client.read()
            if kind != JOB_CREATED:
                raise RuntimeError("expected JOB_CREATED, got packet type %d" % kind)
        sent += k
    submit_s = time.time() - t0

    deadline = time.time() + args.timeout
    while sum(done) < args.jobs:
        if time.time() > deadline:
            sys.exit("bench_gearman: only %d of %d jobs done within %ss" % (sum(done), args.jobs, args.timeout))
        if not all(p.is_alive() for p in procs):
            sys.exit("bench_gearman: a worker died")
        time.sleep(0.002)
    elapsed = max(last) - t0
    for p in procs:
        p.terminate()
    print("jobs=%d workers=%d elapsed_s=%.3f jobs_per_s=%.1f submit_s=%.3f submit_jobs_per_s=%.1f"
          % (args.jobs, args.workers, elapsed, args.jobs / elapsed, submit_s, args.jobs / submit_s))


if __name__ == "__main__":
    main()
