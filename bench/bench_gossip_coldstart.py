"""Cold start to first GetInfo answered, with an empty gossip store and with
the full synthetic graph (16,000 nodes, 60,000 channels, 120,000 updates),
from a real coldnode (--signer=local, mainnet).

Each sample: spawn coldnode, then run `coldctl getinfo` over the unix
socket in a tight loop until it answers; the time from spawn to that
answer.  Empty and full runs alternate so machine load hits both alike.
The baseline is one `coldctl getinfo` against a node that is already up
(process start, TLS/HTTP/2 on the unix socket, macaroon): the part of the
figure that is not coldnode's start-up.  Goal: full within 10 ms of
empty, and under 50 ms.

  COLDNODE=... COLDCTL=... GENGRAPH=... bench_gossip_coldstart.py [RUNS]
"""
import os
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

COLDNODE = os.environ['COLDNODE']
COLDCTL = os.environ['COLDCTL']
GENGRAPH = os.environ['GENGRAPH']
RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 7


def node_cmd(d):
    return [COLDNODE, f'--datadir={d}', '--signer=local', '--network=mainnet',
            '--nolisten', '--rpclisten=127.0.0.1:0', '--signerlisten=127.0.0.1:0',
            f'--rpcunix={d}/rpc.sock', '--debuglevel=unusual']


def getinfo(d):
    return subprocess.run([COLDCTL, f'--datadir={d}', f'--rpcserver=unix:{d}/rpc.sock',
                           '--macaroonpath=' + os.path.join(d, 'admin.macaroon'),
                           '--timeout=1', 'getinfo'],
                          capture_output=True).returncode == 0


def one_start(d):
    t0 = time.monotonic()
    p = subprocess.Popen(node_cmd(d), stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    try:
        while not getinfo(d):
            if time.monotonic() - t0 > 20:
                raise RuntimeError('no GetInfo answer in 20 s')
        return (time.monotonic() - t0) * 1000
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait()


def first_start(d):
    """Create key, TLS and macaroons once, outside the measurement."""
    p = subprocess.Popen(node_cmd(d), stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    t0 = time.monotonic()
    while not getinfo(d):
        if time.monotonic() - t0 > 30:
            raise RuntimeError('coldnode did not come up')
        time.sleep(0.05)
    # Baseline: getinfo against a node already up.
    base = []
    for _ in range(RUNS):
        t = time.monotonic()
        getinfo(d)
        base.append((time.monotonic() - t) * 1000)
    p.send_signal(signal.SIGTERM)
    p.wait()
    return statistics.median(base)


def channels(d):
    db = sqlite3.connect(os.path.join(d, 'gossip.sqlite3'))
    try:
        return dict(db.execute('SELECT k, v FROM meta').fetchall())
    finally:
        db.close()


def main():
    tmp = tempfile.mkdtemp(prefix='bench-coldstart-')
    empty, full = os.path.join(tmp, 'e'), os.path.join(tmp, 'f')
    try:
        os.makedirs(empty, mode=0o700)
        os.makedirs(full, mode=0o700)
        t = time.monotonic()
        subprocess.run([GENGRAPH, '--full', '--network', 'mainnet',
                        '--datadir', full], check=True, stdout=subprocess.DEVNULL)
        print(f'full graph injected in {time.monotonic() - t:.0f} s: {channels(full)}')
        base = first_start(empty)
        first_start(full)
        e, f = [], []
        for _ in range(RUNS):
            e.append(one_start(empty))
            f.append(one_start(full))
        me, mf = statistics.median(e), statistics.median(f)
        print(f'baseline: coldctl getinfo against a running node: {base:.1f} ms')
        print(f'cold start -> first GetInfo (median of {RUNS}): empty store '
              f'{me:.1f} ms, full graph {mf:.1f} ms, difference {mf - me:+.1f} ms')
        print(f'  all empty: {" ".join(f"{x:.0f}" for x in e)}')
        print(f'  all full:  {" ".join(f"{x:.0f}" for x in f)}')
        print(f'  minus the coldctl baseline: empty {me - base:.1f} ms, full '
              f'{mf - base:.1f} ms (goal: within 10 ms, under 50 ms)')
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


main()
