"""Cold start to first GetInfo with a chain backend configured but
unreachable, vs without a backend (goal: unchanged, < 50 ms), and the
whole process's peak RSS with the full synthetic graph (16,000 nodes,
60,000 channels) plus a 60,000-outpoint watch set loaded, following a real
node (bcoin regtest) (goal: < 64 MiB).

Same data dir for both start variants (full graph from gengraph,
chain.sqlite3 with 60,000 watched outputs); the variants alternate so
machine load hits both alike.  The unreachable backend is 127.0.0.1 on a
port nothing listens on.  For the RSS figure the same graph is made for
regtest and coldnode follows bcoin until synced (the watch set is loaded
once the node answers).

  COLDNODE=... COLDCTL=... GENGRAPH=... NODE=... BCOIN_DIR=... \
      PYTHONPATH=tests/chain bench_chain_coldstart.py [RUNS]
"""
import os
import shutil
import signal
import socket
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


def dead_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    p = s.getsockname()[1]
    s.close()
    return p


DEAD = dead_port()


def node_cmd(d, chain, net='mainnet', rpchost=None):
    cmd = [COLDNODE, f'--datadir={d}', '--signer=local', f'--network={net}',
           '--nolisten', '--rpclisten=127.0.0.1:0',
           '--signerlisten=127.0.0.1:0', f'--rpcunix={d}/rpc.sock',
           '--debuglevel=unusual']
    if chain:
        cmd += ['--bitcoin.node=bitcoind',
                f'--bitcoind.rpchost={rpchost or f"127.0.0.1:{DEAD}"}',
                '--bitcoind.rpcuser=u',
                f'--bitcoind.rpcpass={chain if isinstance(chain, str) else "p"}',
                '--bitcoind.blockpollinginterval=200ms']
    return cmd


def getinfo(d):
    return subprocess.run([COLDCTL, f'--datadir={d}', f'--rpcserver=unix:{d}/rpc.sock',
                           '--macaroonpath=' + os.path.join(d, 'admin.macaroon'),
                           '--timeout=1', 'getinfo'],
                          capture_output=True).returncode == 0


def one_start(d, chain, rss=False):
    t0 = time.monotonic()
    p = subprocess.Popen(node_cmd(d, chain), stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    try:
        while not getinfo(d):
            if time.monotonic() - t0 > 20:
                raise RuntimeError('no GetInfo answer in 20 s')
        ms = (time.monotonic() - t0) * 1000
        hwm = None
        if rss:
            time.sleep(3)  # a few failed polls, the graph counters read
            for _ in range(20):
                getinfo(d)
            with open(f'/proc/{p.pid}/status') as f:
                for line in f:
                    if line.startswith('VmHWM:'):
                        hwm = int(line.split()[1]) / 1024
        return ms, hwm
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait()


def rss_following(tmp, runs):
    """VmHWM of a coldnode with the full regtest graph and 60,000 watched
    outputs, synced to bcoin (watch set loaded)."""
    from bcoin import Bcoin
    d = os.path.join(tmp, 'r')
    os.makedirs(d, mode=0o700)
    subprocess.run([GENGRAPH, '--full', '--network', 'regtest',
                    '--datadir', d], check=True, stdout=subprocess.DEVNULL)
    watch_set(d)
    with Bcoin() as b:
        b.mine(20)
        p = subprocess.Popen(node_cmd(d, b.api_key, 'regtest',
                                      f'127.0.0.1:{b.port}'),
                             stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        try:
            t0 = time.monotonic()
            while True:
                r = subprocess.run(
                    [COLDCTL, f'--datadir={d}', f'--rpcserver=unix:{d}/rpc.sock',
                     '--macaroonpath=' + os.path.join(d, 'admin.macaroon'),
                     '--timeout=1', 'state'], capture_output=True, text=True)
                if r.returncode == 0 and '"watched": "60000"' in r.stdout \
                        and '"status": "synced"' in r.stdout:
                    break
                if time.monotonic() - t0 > 60:
                    raise RuntimeError('not synced with the watch set: ' +
                                       r.stdout[-800:])
                time.sleep(0.2)
            b.mine(5)  # a few blocks through the watch set
            time.sleep(2)
            with open(f'/proc/{p.pid}/status') as f:
                for line in f:
                    if line.startswith('VmHWM:'):
                        return int(line.split()[1]) / 1024
        finally:
            p.send_signal(signal.SIGTERM)
            p.wait()


def watch_set(d, n=60000):
    db = sqlite3.connect(os.path.join(d, 'chain.sqlite3'))
    db.executescript(
        'CREATE TABLE IF NOT EXISTS blocks(height INTEGER PRIMARY KEY,'
        ' hash BLOB NOT NULL, prev BLOB NOT NULL, time INTEGER NOT NULL);'
        'CREATE TABLE IF NOT EXISTS watch(scid INTEGER PRIMARY KEY,'
        ' txid BLOB NOT NULL, vout INTEGER NOT NULL,'
        ' capacity INTEGER NOT NULL, spent INTEGER NOT NULL);')
    db.executemany('INSERT OR REPLACE INTO watch VALUES (?, ?, ?, ?, 0)',
                   (((700000 + i // 1000) << 40 | (i % 1000) << 16,
                     os.urandom(32), 0, 100000) for i in range(n)))
    db.commit()
    db.close()


def main():
    tmp = tempfile.mkdtemp(prefix='bench-chain-coldstart-')
    d = os.path.join(tmp, 'f')
    try:
        os.makedirs(d, mode=0o700)
        subprocess.run([GENGRAPH, '--full', '--network', 'mainnet',
                        '--datadir', d], check=True, stdout=subprocess.DEVNULL)
        watch_set(d, int(os.environ.get('WATCH', '60000')))
        one_start(d, False)  # keys, TLS, macaroons made outside the figure
        without, with_ = [], []
        for _ in range(RUNS):
            without.append(one_start(d, False)[0])
            with_.append(one_start(d, True)[0])
        _, hwm_lost = one_start(d, True, rss=True)
        hwm = rss_following(tmp, RUNS)
        mw, mc = statistics.median(without), statistics.median(with_)
        print(f'cold start -> first GetInfo (median of {RUNS}), full graph: '
              f'no backend {mw:.1f} ms, backend unreachable {mc:.1f} ms, '
              f'difference {mc - mw:+.1f} ms (goal < 50 ms, unchanged)')
        print(f'  best: no backend {min(without):.1f} ms, backend unreachable '
              f'{min(with_):.1f} ms')
        print(f'  all without: {" ".join(f"{x:.0f}" for x in without)}')
        print(f'  all with:    {" ".join(f"{x:.0f}" for x in with_)}')
        print(f'peak RSS (VmHWM), full graph, backend unreachable (watch '
              f'set not loaded): {hwm_lost:.1f} MiB')
        print(f'peak RSS (VmHWM), full graph + 60,000 watched outpoints '
              f'loaded, synced to bcoin: {hwm:.1f} MiB (goal < 64 MiB)')
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


main()
