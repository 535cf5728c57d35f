"""Channels stored unverified while the chain backend failed are checked
again when it comes back, every time (issue 17, item 5).  A proxy test
double (FaultyProxy) in front of bcoin fails only the funding checks'
gettxout batches: an announcement's check ends "unavailable" and the
channel is stored unverified; then the backend goes away (HTTP 503 for
everything: lost) and comes back: the channel is checked in the
background and verified.  Twice: the second time used to wait for a
restart (the background check ran once per process).

Then more than two pages (64 channels a page) at once with a funding-check
queue smaller than a page (--bitcoind.maxfundingchecks=10): 150 channels
on 150 outputs of one real funding transaction are stored unverified the
same way, the backend goes away and comes back, and the background check
(the only path: no announcement is sent meanwhile) must check all 150.  It
used to move its cursor to the end of a page when it started the page,
so the channels the full queue refused (54 of each 64) stayed unverified
for the life of the process: 30 of 150 checked.

Last, the queue already full when the sweep starts: 20 more channels
stored unverified, then, while the backend is away, announcements of 10
new channels fill the queue (their checks wait for the backend).  When it
is back the sweep's first page is refused whole; it goes on at the next
block (it used to end there, none checked)."""
import asyncio
import os
import time

from bcoin import Bcoin, multisig_2of2, p2wsh
from chainlib import chain_state, wait_chain
from ctl import coldctl_state
from harness import Harness, fail, run
from test_chain_bad_input import FaultyProxy
from test_chain_funding import Chan, send_all


def n_checks(n):
    return chain_state(n)['checks']


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


MANY = 150      # channels in the second phase: two pages and a part
QUEUE = 10      # --bitcoind.maxfundingchecks: below a page (64)
LATE = 20       # the last phase's channels stored unverified


def fund_many(b, chans, value=20000):
    """One real transaction with an output per channel (P2WSH of its
    2-of-2), mined; returns the short_channel_ids (vout i: chans[i])."""
    outs = [(p2wsh(multisig_2of2(c.btc1.hex(), c.btc2.hex())), value)
            for c in chans]
    txid, _ = b.pay_to(outs, fee=30000)
    bh = b.mine(1)[0]
    height, idx = b.locate(txid, bh)
    return [(height << 40) | (idx << 16) | i for i in range(len(chans))]


def queue_full_at_start(n, b, p, synced, chans, scids, have):
    """The sweep starts with the queue full of announcements' checks:
    it waits for the next block, then checks every channel."""
    late, late_scids = chans[:LATE], scids[:LATE]
    fresh, fresh_scids = chans[LATE:], scids[LATE:]
    p.fault = 'checks503'
    asyncio.run(send_all(n.p2p_port(), n.node_id(),
                         [c.announcement(s) for c, s in
                          zip(late, late_scids)]))
    wait_gossip(n, (have + LATE, LATE), f'{LATE} more stored unverified')
    p.fault = 'http503'
    wait_chain(n, lambda s: s['status'] == 'lost', 'lost (queue full)')
    # Announcements while the backend is away: their checks wait in the
    # queue, QUEUE of them: full.
    asyncio.run(send_all(n.p2p_port(), n.node_id(),
                         [c.announcement(s) for c, s in
                          zip(fresh, fresh_scids)]))
    wait_chain(n, lambda s: s['checks_queued'] == QUEUE,
               f'{QUEUE} announcement checks waiting')
    ok0 = int(n_checks(n)['ok'])
    since = n.mark()
    p.fault = None
    wait_chain(n, synced, 'the backend back (queue full)')
    n.wait_log(rf'checking {LATE} channels stored unverified in the '
               r'background \(the chain backend is back\)', since=since)
    # The announcements' checks go first; the sweep found the queue full.
    wait_gossip(n, (have + LATE + QUEUE, LATE),
                f'the {QUEUE} new channels checked, {LATE} still waiting')
    if int(n_checks(n)['ok']) != ok0 + QUEUE:
        fail(f'checks ok {n_checks(n)}, want {ok0 + QUEUE}: the sweep '
             f'got a check in a full queue')
    b.mine(1)
    wait_gossip(n, (have + LATE + QUEUE, 0),
                'the sweep going on at the next block', timeout=20)
    m = n.wait_log(r'background check of channels stored unverified '
                   r'done: (\d+) checked', since=since)
    got = gossip(n)
    if int(m.group(1)) != LATE or got != (have + LATE + QUEUE, 0):
        fail(f'the sweep after the next block: {m.group(1)} of {LATE} '
             f'checked, gossip (channels, unverified) {got}\n{n.tail()}')


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
                       f'--bitcoind.maxfundingchecks={QUEUE}',
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

            # More channels than the queue takes, several pages of them.
            # One funding tx for this phase and the last one.
            chans = [Chan() for _ in range(MANY + LATE + QUEUE)]
            all_scids = fund_many(b, chans)
            many, scids = chans[:MANY], all_scids[:MANY]
            b.mine(5)
            wait_chain(n, synced, 'the funding block followed')
            ok0 = int(n_checks(n)['ok'])
            p.fault = 'checks503'
            asyncio.run(send_all(n.p2p_port(), n.node_id(),
                                 [c.announcement(s) for c, s in
                                  zip(many, scids)]))
            wait_gossip(n, (2 + MANY, MANY),
                        f'{MANY} channels stored unverified')
            if int(n_checks(n)['ok']) != ok0:
                fail('a channel was verified on the announcement path')
            p.fault = 'http503'
            wait_chain(n, lambda s: s['status'] == 'lost', 'lost (many)')
            since = n.mark()
            p.fault = None
            wait_chain(n, synced, 'the backend back (many)')
            m = n.wait_log(r'background check of channels stored '
                           r'unverified done: (\d+) checked', since=since)
            got = gossip(n)
            if int(m.group(1)) != MANY or got != (2 + MANY, 0):
                fail(f'background check with --bitcoind.maxfundingchecks='
                     f'{QUEUE}: {m.group(1)} of {MANY} checked, gossip '
                     f'(channels, unverified) {got}\n{n.tail()}')
            if int(n_checks(n)['ok']) != ok0 + MANY:
                fail(f'checks ok {n_checks(n)}, want {ok0 + MANY}')

            queue_full_at_start(n, b, p, synced, chans[MANY:],
                                all_scids[MANY:], 2 + MANY)
            # Before bcoin and the proxy go (no poll forwarded to a
            # stopped bcoin).
            n.stop()
        finally:
            p.close()


if __name__ == '__main__':
    run(main)
