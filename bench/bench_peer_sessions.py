"""Benchmark: resident memory of idle BOLT 1 peer sessions in coldnode.

Starts coldnode (--signer=local), opens N sessions to it with Electrum's
BOLT 8 transport (handshake + init each), waits until coldnode logged every
one as ready, and reads coldnode's VmRSS from /proc before and after.

Physical limit: the state a session cannot do without, i.e. the transport
keys and chaining keys (4 x 32 bytes), two nonces (2 x 8), the peer's node
id (33), and the feature bits it sent (8): 185 bytes.  The ratio printed
is limit / measured (1.0 would be perfect).  Kernel socket buffers are not
in VmRSS and not counted.

Usage: COLDNODE=build/src/daemon/coldnode PYTHONPATH=tests/integration \
           /usr/bin/python3 bench/bench_peer_sessions.py [N]   (default 1000)
"""
import asyncio
import os
import resource
import sys
import time

from harness import Harness, ln_session

LIMIT_BYTES = 4 * 32 + 2 * 8 + 33 + 8


def vm_rss(pid):
    with open(f'/proc/{pid}/status') as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1]) * 1024
    return -1


async def open_sessions(port, node_id, n):
    sessions = []
    sem = asyncio.Semaphore(64)  # bounded concurrency of handshakes

    async def one():
        async with sem:
            t, r, _ = await ln_session('127.0.0.1', port, node_id)
            sessions.append(t)

    await asyncio.gather(*(one() for _ in range(n)))
    return sessions


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    with Harness() as h:
        node = h.node('bench', '--signer=local', '--network=regtest',
                      '--listen=127.0.0.1:0', '--pinginterval=1h',
                      f'--maxpeers={n + 10}', '--debuglevel=info',
                      # All clients are 127.0.0.1, 64 handshakes at once:
                      # lift the flood cap (8 per source) for this count.
                      '--peer.maxpreauthpersource=0').start()
        port, node_id = node.p2p_port(), node.node_id()
        pid = node.proc.pid

        async def run():
            # Warm up allocator and code paths with a few sessions first,
            # so the measurement is the per-session growth.
            warm = await open_sessions(port, node_id, 10)
            while node.count_log(r'ready \(inbound') < 10:
                await asyncio.sleep(0.05)
            before = vm_rss(pid)
            start = time.monotonic()
            sessions = await open_sessions(port, node_id, n)
            while node.count_log(r'ready \(inbound') < n + 10:
                await asyncio.sleep(0.1)
            took = time.monotonic() - start
            await asyncio.sleep(0.5)
            after = vm_rss(pid)
            per = (after - before) / n
            print(f'peer sessions: {n} idle sessions to coldnode '
                  f'(Electrum clients, handshake + init)')
            print(f'  {"VmRSS before -> after":34} {before} -> {after}')
            print(f'  {"bytes per session":34} {per:10.0f}')
            print(f'  {"sessions set up per second":34} {n / took:10.0f}')
            print(f'  {"physical limit (keys+nonces+id)":34} '
                  f'{LIMIT_BYTES:10d}')
            print(f'  {"ratio limit/measured":34} {LIMIT_BYTES / per:10.3f}')
            for t in warm + sessions:
                t.close()

        asyncio.run(run())


if __name__ == '__main__':
    main()
