"""A peer that reads slowly (Tor, mobile: tools/latproxy --rate-kbps) asks
for a full backfill (gossip_timestamp_filter from 0): coldnode sends what
the socket drains instead of 64 KiB every 50 ms whatever it drains, so the
peer's send queue stays under --peer.maxbuffer, the peer is not dropped,
the backfill completes (every channel_announcement, channel_update and
node_announcement), and a ping sent a third of the way is answered before the
backfill ends: at most a bounded amount of gossip (kernel send queue
included) is ahead of it, not everything queued so far.  (On loopback the
kernel alone would hold megabytes.)"""
import asyncio
import os
import subprocess
import time

from harness import CHAIN, Harness, fail, ln_session, msg_ping, msg_type, run

# ~1.5 MB of backfill by default; GOSSIP_SLOW_CHANNELS=60000 (-Dlong_tests):
# the full graph, ~42 MB, about 2.5 minutes at 300 KB/s.
CHANNELS = int(os.environ.get('GOSSIP_SLOW_CHANNELS', '2000'))
NODES = max(2, CHANNELS // 4)
RATE_KBPS = 300
MAXBUFFER = 128 * 1024           # --peer.maxbuffer: dropped past this


def start_proxy(target_port):
    p = subprocess.Popen([os.environ['LATPROXY'], '--delay-ms', '20',
                          '--rate-kbps', str(RATE_KBPS),
                          f'127.0.0.1:{target_port}'],
                         stdout=subprocess.PIPE, text=True)
    for line in p.stdout:
        if line.startswith('MAP '):
            port = int(line.split()[1])
        if line.strip() == 'READY':
            return p, port
    fail(f'latproxy exited with {p.wait()}')


async def backfill(port, node_id):
    t, r, _ = await ln_session('127.0.0.1', port, node_id, CHAIN['regtest'])
    f = (265).to_bytes(2, 'big') + CHAIN['regtest'] + \
        (0).to_bytes(4, 'big') + (0xffffffff).to_bytes(4, 'big')
    t.send_bytes(f)
    got = {256: 0, 257: 0, 258: 0}
    pinged = pong_at = None
    pong_before_end = False
    t0 = time.monotonic()
    want = {256: CHANNELS, 257: NODES, 258: 2 * CHANNELS}
    while got != want:
        m = await r.next(timeout=120)
        ty = msg_type(m)
        if ty in got:
            got[ty] += 1
        if ty == 18:  # coldnode's ping (every minute): answer it
            n = int.from_bytes(m[2:4], 'big')
            if n < 65532:
                t.send_bytes((19).to_bytes(2, 'big') + n.to_bytes(2, 'big') +
                             bytes(n))
        if ty == 19 and pinged:
            pong_at = time.monotonic() - pinged
            pong_before_end = got != want
        if pinged is None and got[258] >= CHANNELS // 3:
            t.send_bytes(msg_ping(4))
            pinged = time.monotonic()
    took = time.monotonic() - t0
    # The pong may trail the last gossip a little.
    while pong_at is None:
        m = await r.next(timeout=30)
        if msg_type(m) == 19:
            pong_at = time.monotonic() - pinged
    t.close()
    return took, pong_at, pong_before_end


def main():
    gengraph = os.environ['GENGRAPH']
    with Harness() as h:
        a = h.node('a', '--signer=local', '--network=regtest',
                   '--listen=127.0.0.1:0', f'--peer.maxbuffer={MAXBUFFER}')
        os.makedirs(a.datadir, mode=0o700, exist_ok=True)
        subprocess.run([gengraph, '--nodes', str(NODES), '--channels',
                        str(CHANNELS), '--network', 'regtest',
                        '--datadir', a.datadir], check=True,
                       stdout=subprocess.DEVNULL)
        a.start()
        proxy, port = start_proxy(a.p2p_port())
        try:
            took, pong, early = asyncio.run(backfill(port, a.node_id()))
        finally:
            proxy.terminate()
            proxy.wait(10)
        if 'send buffer full' in a.log():
            fail('the slow reader was dropped:\n' + a.tail())
        if not early:
            fail(f'the ping waited behind the whole backfill ({pong:.1f} s)')
        print(f'backfill of {CHANNELS} channels / {NODES} nodes at '
              f'{RATE_KBPS} KB/s: {took:.1f} s, ping answered in '
              f'{pong:.2f} s mid-backfill')


run(main)
