"""Channels stored unverified while the chain backend failed are checked
again when it comes back, every time (issue 17, item 5).  A proxy test
double (FaultyProxy) in front of bcoin fails only the funding checks'
gettxout batches: an announcement's check ends "unavailable" and the
channel is stored unverified; then the backend goes away (HTTP 503 for
everything: lost) and comes back: the channel is checked in the
background and verified.  Twice: the second time used to wait for a
restart (the background check ran once per process)."""
import asyncio
import os
import time

from bcoin import Bcoin
from chainlib import wait_chain
from ctl import coldctl_state
from harness import Harness, fail, run
from test_chain_bad_input import FaultyProxy
from test_chain_funding import Chan, send_all


def gossip(n):
    g = coldctl_state(n)['gossip']
    return int(g['channels']), int(g['channels_unverified'])


def wait_gossip(n, want, what, timeout=60):
    deadline = time.monotonic() + timeout
    got = None
    while time.monotonic() < deadline:
        got = gossip(n)
        if got == want:
            return
        time.sleep(0.2)
    fail(f'{what}: gossip (channels, unverified) {got}, want {want}\n'
         f'{n.tail()}')


def main():
    with Harness() as h, Bcoin(log=os.path.join(h.tmp, 'bcoin.log')) as b:
        b.mine(101)
        chans = [Chan() for _ in range(2)]
        funds = [b.fund_2of2(c.btc1.hex(), c.btc2.hex(), 150000)
                 for c in chans]
        b.mine(6)
        p = FaultyProxy(b.port)
        try:
            args = [a for a in b.coldnode_args() if 'rpchost' not in a]
            n = h.node('u', '--signer=local', '--network=regtest',
                       '--listen=127.0.0.1:0',
                       '--bitcoind.blockpollinginterval=200ms',
                       '--bitcoind.rpctimeout=1s',
                       f'--bitcoind.rpchost=127.0.0.1:{p.port}', *args)
            n.start()
            synced = (lambda s: s['status'] == 'synced' and
                      s['hash'] == b.rpc('getbestblockhash'))
            wait_chain(n, synced, 'first sync')
            for i, (c, f) in enumerate(zip(chans, funds)):
                p.fault = 'checks503'
                asyncio.run(send_all(n.p2p_port(), n.node_id(),
                                     [c.announcement(f.scid_int)]))
                wait_gossip(n, (i + 1, 1), f'channel {i} stored unverified')
                p.fault = 'http503'
                wait_chain(n, lambda s: s['status'] == 'lost', 'lost')
                p.fault = None
                wait_chain(n, synced, 'the backend back')
                wait_gossip(n, (i + 1, 0),
                            f'channel {i} checked after the backend came '
                            f'back (time {i + 1})')
            n.wait_log(r'channels stored unverified in the background '
                       r'\(the chain backend is back\)')
        finally:
            p.close()


if __name__ == '__main__':
    run(main)
