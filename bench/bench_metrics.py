"""Metrics (issue 12): what a Prometheus scrape costs a loaded coldnode.

A real coldnode (--signer=local, regtest) with the full synthetic graph
(tools/gengraph --full: 16,000 nodes, 60,000 channels, 120,000 updates),
1,000 gossip-only BOLT 8 sessions and 100 full ones (Electrum clients; a
full one sends a channel message), and --prometheus.listen.

1. Scrape time and size: GET /metrics on a keep-alive connection, against
   GET /nope (404 from the same libmicrohttpd on the same loop: the HTTP
   floor with no page to build), interleaved.  Ratio floor / scrape.
2. Render time logged by coldnode itself (PROM debug line): what one
   scrape adds to the loop iteration it runs in; max and median.
3. GetInfo/s (h2load over TLS, monitor macaroon, 10 streams) while
   /metrics is fetched every second, against the same without, alternating
   runs; best of each.  Goal: ratio >= 0.95.  Scraped twice: by a plain
   HTTP client thread (coldnode's own cost) and by a real Prometheus (which
   also takes CPU from this 2-core machine).

  COLDNODE=... GENGRAPH=... PYTHONPATH=tests/integration:tests/metrics \\
      bench_metrics.py [RUNS] [SECONDS]
"""
import asyncio
import http.client
import os
import re
import resource
import statistics
import subprocess
import sys
import threading
import time

from harness import Harness, ln_session
from promlib import Prometheus, metrics_port
from ctl import rpc_port

RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 3
SECONDS = int(sys.argv[2]) if len(sys.argv) > 2 else 10
GOSSIP_ONLY, FULL = 1000, 100


async def open_sessions(port, node_id, n, full):
    sessions = []
    sem = asyncio.Semaphore(64)

    async def one():
        async with sem:
            t, r, _ = await ln_session('127.0.0.1', port, node_id)
            if full:
                # A channel message (BOLT 1 type 32..255) while ACTIVE
                # makes the session full; coldnode ignores its content.
                t.send_bytes((32).to_bytes(2, 'big') + bytes(32))
            sessions.append(t)

    await asyncio.gather(*(one() for _ in range(n)))
    return sessions


def timed_get(conn, path):
    t = time.perf_counter()
    conn.request('GET', path)
    r = conn.getresponse()
    body = r.read()
    return (time.perf_counter() - t) * 1000, len(body), r.status


def loop_max(conn):
    """coldnode_loop_busy_max_seconds in ms (and resets it: a scrape)."""
    conn.request('GET', '/metrics')
    page = conn.getresponse().read().decode()
    return float(re.search(r'^coldnode_loop_busy_max_seconds (\S+)$', page,
                           re.M).group(1)) * 1000


def h2load(port, mac_hex, body, secs):
    """GetInfo calls per second over @secs seconds (so a 1 s scrape
    interval lands several times inside each run)."""
    p = subprocess.run(
        ['h2load', '-D', str(secs), '-c', '1', '-m', '10', '-t', '1',
         '-H', 'content-type: application/grpc', '-H', 'te: trailers',
         '-H', f'macaroon: {mac_hex}', '-d', body,
         f'https://127.0.0.1:{port}/lnrpc.Lightning/GetInfo'],
        capture_output=True, text=True, timeout=600)
    m = re.search(r'finished in [0-9.]+\w+, ([0-9.]+) req/s', p.stdout)
    ok = re.search(r'requests: \d+ total, \d+ started, \d+ done, (\d+) '
                   r'succeeded, (\d+) failed, (\d+) errored', p.stdout)
    if not m or not ok or ok.group(2) != '0' or ok.group(3) != '0':
        raise RuntimeError('h2load failed:\n' + p.stdout + p.stderr)
    return float(m.group(1))


def main():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    with Harness() as h:
        d = os.path.join(h.tmp, 'x')
        os.makedirs(d, mode=0o700)
        t = time.monotonic()
        subprocess.run([os.environ['GENGRAPH'], '--full', '--network',
                        'regtest', '--datadir', d], check=True,
                       stdout=subprocess.DEVNULL)
        print(f'full graph injected in {time.monotonic() - t:.0f} s')
        x = h.node('x', '--signer=local', '--network=regtest',
                   '--listen=127.0.0.1:0', '--pinginterval=1h',
                   '--maxpeers=1200', '--maxpendinghandshakes=1200',
                   # Every client here comes from 127.0.0.1, 64 handshakes
                   # at a time; the flood cap (8 per source) is not what
                   # this measures.
                   '--peer.maxpreauthpersource=0',
                   '--prometheus.listen=127.0.0.1:0', '--logdir=none',
                   '--debuglevel=info,PROM=debug,PEER=unusual', datadir=d)
        x.start()
        port, node_id = x.p2p_port(), x.node_id()
        mport = metrics_port(x)

        async def setup():
            a = await open_sessions(port, node_id, GOSSIP_ONLY, False)
            b = await open_sessions(port, node_id, FULL, True)
            return a + b
        loop = asyncio.new_event_loop()
        sessions = loop.run_until_complete(setup())
        conn = http.client.HTTPConnection('127.0.0.1', mport, timeout=30)
        # Wait until the page shows them all.
        while True:
            conn.request('GET', '/metrics')
            page = conn.getresponse().read().decode()
            g = re.search(r'coldnode_peers\{mode="gossip-only"\} (\d+)', page)
            f = re.search(r'coldnode_peers\{mode="full"\} (\d+)', page)
            if int(g.group(1)) >= GOSSIP_ONLY and int(f.group(1)) >= FULL:
                break
            loop.run_until_complete(asyncio.sleep(0.2))
        chans = re.search(r'coldnode_gossip_channels (\d+)', page).group(1)
        print(f'peers: {g.group(1)} gossip-only, {f.group(1)} full; graph '
              f'{chans} channels')

        mark = x.mark()
        scr, nope, size = [], [], 0
        for _ in range(300):
            ms, size, st = timed_get(conn, '/metrics')
            scr.append(ms)
            ms, _, st = timed_get(conn, '/nope')
            nope.append(ms)
        renders = [float(m) for m in re.findall(
            r'scrape: \d+ bytes rendered in ([0-9.]+) ms',
            x.log()[mark:])]
        scr.sort()
        nope.sort()
        print(f'scrape: {size} bytes, {size // 1024} KiB; median '
              f'{statistics.median(scr):.3f} ms, p99 '
              f'{scr[int(len(scr) * 0.99)]:.3f} ms (300 scrapes)')
        print(f'  HTTP floor (GET /nope, same server): median '
              f'{statistics.median(nope):.3f} ms; ratio floor/scrape '
              f'{statistics.median(nope) / statistics.median(scr):.2f}')
        print(f'  render inside coldnode (the loop iteration it adds to): '
              f'median {statistics.median(renders):.3f} ms, max '
              f'{max(renders):.3f} ms')

        body = os.path.join(h.tmp, 'empty.grpc')
        with open(body, 'wb') as bf:
            bf.write(b'\0\0\0\0\0')
        with open(os.path.join(d, 'monitor.macaroon'), 'rb') as mf:
            mac = mf.read().hex()
        rport = rpc_port(x)
        h2load(rport, mac, body, 2)  # warm up
        base, light, scraped = [], [], []
        max_base, max_light, max_prom = [], [], []
        for i in range(RUNS):
            loop_max(conn)  # reset: the window starts here
            base.append(h2load(rport, mac, body, SECONDS))
            max_base.append(loop_max(conn))
            # The same scrapes without Prometheus' own CPU on this 2-core
            # machine: a thread fetching /metrics every second.
            stop = threading.Event()

            def scraper():
                c = http.client.HTTPConnection('127.0.0.1', mport,
                                               timeout=30)
                while not stop.wait(1.0):
                    max_light.append(loop_max(c))
                c.close()
            th = threading.Thread(target=scraper)
            th.start()
            try:
                light.append(h2load(rport, mac, body, SECONDS))
            finally:
                stop.set()
                th.join()
            prom = Prometheus(h.tmp + f'/p{i}', [mport])
            try:
                # Scraping for real before and after the measurement.
                prom.wait_value('up{job="coldnode"}', 1, timeout=60)
                scraped.append(h2load(rport, mac, body, SECONDS))
                prom.wait_value('up{job="coldnode"}', 1, timeout=60)
                q = prom.query(f'max_over_time(coldnode_loop_busy_max_'
                               f'seconds[{SECONDS}s])')
                if q:
                    max_prom.append(q[0][1] * 1000)
            finally:
                prom.stop()
        b, l, s = max(base), max(light), max(scraped)
        print(f'GetInfo/s (h2load, 10 streams, {SECONDS} s runs, best of '
              f'{RUNS}), without scrapes: {b:.0f}/s')
        print(f'  bound from the render time alone: 1 - '
              f'{statistics.median(renders):.3f} ms / 1000 ms = '
              f'{1 - statistics.median(renders) / 1000:.4f}')
        print(f'  scraped every 1 s by a plain HTTP client: {l:.0f}/s, '
              f'ratio {l / b:.3f} (goal >= 0.95)')
        print(f'  scraped every 1 s by a real Prometheus on the same 2 '
              f'cores: {s:.0f}/s, ratio {s / b:.3f}')
        print(f'longest loop iteration under that load: {max(max_base):.2f} '
              f'ms without scrapes (median of runs '
              f'{statistics.median(max_base):.2f}), '
              f'{max(max_light):.2f} ms with 1/s scrapes (median of '
              f'windows {statistics.median(max_light):.2f}), '
              f'{max(max_prom) if max_prom else float("nan"):.2f} ms with '
              f'Prometheus')
        print(f'  all without:    {" ".join(f"{v:.0f}" for v in base)}')
        print(f'  all plain 1/s:  {" ".join(f"{v:.0f}" for v in light)}')
        print(f'  all Prometheus: {" ".join(f"{v:.0f}" for v in scraped)}')
        for t in sessions:
            t.close()
        loop.close()


if __name__ == '__main__':
    main()
