"""The funding checker caches blocks by hash, not by height (issue 17):
channel A's funding block at height H is fetched (and cached) by a
check (an announcement with other keys: refused, not stored); then a reorg 105 blocks deep (deeper than the 100 blocks the
follower keeps, so nothing drops the cached block) replaces block H with
one holding channel B's funding transaction at the same position.  B's
announcement (same short_channel_id as A's) must be checked against the
new block H: OK, not "wrong keys" from the stale one.  Against bcoin
(regtest) with real P2WSH 2-of-2 funding outputs."""
import asyncio
import os

from bcoin import Bcoin
from chainlib import wait_chain
from harness import Harness, fail, run
from test_chain_funding import Chan, send_all, wait_checks


def main():
    with Harness() as h, Bcoin(log=os.path.join(h.tmp, 'bcoin.log')) as b:
        b.mine(103)  # two mature coinbases: one per funding
        n = h.node('c', '--signer=local', '--network=regtest',
                   '--listen=127.0.0.1:0',
                   '--bitcoind.blockpollinginterval=200ms',
                   *b.coldnode_args())
        n.start()
        a, c = Chan(), Chan()
        fa = b.fund_2of2(a.btc1.hex(), a.btc2.hex(), 150000)
        b.mine(104)
        at_tip = (lambda s: s['status'] == 'synced' and
                  s['hash'] == b.rpc('getbestblockhash'))
        wait_chain(n, at_tip, 'synced')
        # Another channel's keys on A's output: refused (wrong keys),
        # not stored, but its block H was fetched and cached.
        w = Chan()
        asyncio.run(send_all(n.p2p_port(), n.node_id(),
                             [w.announcement(fa.scid_int)]))
        wait_checks(n, {'wrong_keys': 1})
        b.rpc('invalidateblock', fa.blockhash)
        fc = b.fund_2of2(c.btc1.hex(), c.btc2.hex(), 160000)
        if fc.scid != fa.scid:
            fail(f'test setup: B at {fc.scid}, A was at {fa.scid}')
        b.mine(106)
        wait_chain(n, at_tip, 'the new branch', timeout=120)
        asyncio.run(send_all(n.p2p_port(), n.node_id(),
                             [c.announcement(fc.scid_int)]))
        st = wait_checks(n, {'ok': 1})
        if int(st['checks']['wrong_keys']) != 1:
            fail(f'checked against the stale cached block: {st}')


if __name__ == '__main__':
    run(main)
