"""Chain follower against a real node (bcoin regtest): tip following and
GetInfo's chain fields, a reorg (invalidateblock), the node killed and
restarted with blocks mined while it was away, a node on another network,
and the signer lost at the same time as the chain."""
import os
import sys
import time

from bcoin import Bcoin
from chainlib import chain_state, coldctl_getinfo, health, wait_chain
from harness import Harness, fail, run


def at(b, height=None):
    """Predicate: coldnode's chain section is synced at bcoin's tip."""
    want_h = b.height() if height is None else height
    want = b.rpc('getblockhash', want_h)
    return lambda st: (st['status'] == 'synced' and st['height'] == want_h
                       and st['hash'] == want)


def main():
    with Harness() as h, Bcoin(log=os.path.join(h.tmp, 'bcoin.log')) as b:
        b.mine(5)
        n = h.node('a', '--signer=local', '--network=regtest', '--nolisten',
                   '--bitcoind.blockpollinginterval=200ms',
                   *b.coldnode_args())
        n.start()

        # 1. Tip following; GetInfo fields as lnd fills them.
        wait_chain(n, at(b), 'the first tip')
        b.mine(3)
        st = wait_chain(n, at(b), 'three new blocks')
        gi = coldctl_getinfo(n)
        if (gi['block_height'] != b.height() or
                gi['block_hash'] != b.rpc('getbestblockhash') or
                not gi['synced_to_chain']):
            fail(f'GetInfo chain fields wrong: {gi}')
        hdr = b.rpc('getblockheader', gi['block_hash'], True)
        if int(gi['best_header_timestamp']) != hdr['time']:
            fail(f'best_header_timestamp {gi["best_header_timestamp"]} != '
                 f'{hdr["time"]}')
        if st['blocks_connected'] < 4 or st['node_chain'] != 'regtest':
            fail(f'counters: {st}')
        if health(n) != 'SERVING':
            fail(f'health "chain" while synced: {health(n)}')

        # 2. Reorg: invalidate the last two blocks, mine a longer branch.
        tip = b.height()
        b.rpc('invalidateblock', b.rpc('getblockhash', tip - 1))
        b.mine(3)
        st = wait_chain(n, at(b), 'the new branch after the reorg')
        if st['blocks_disconnected'] < 2 or st['reorgs'] != 1:
            fail(f'reorg: expected 2 blocks disconnected, 1 reorg: {st}')
        n.wait_log(r'block \d+ disconnected \(reorg\)')

        # 3. Node killed; blocks mined while it was away (bcoin keeps the
        # chain in memory: restart_with_blocks feeds it back, plus 4 new).
        raws = [b.rpc('getblock', b.rpc('getblockhash', i), 0)
                for i in range(1, b.height() + 1)]
        b.kill()
        st = wait_chain(n, lambda s: s['status'] == 'lost', 'lost')
        if not st['last_error'] or st['synced_to_chain']:
            fail(f'lost without a cause or still synced: {st}')
        gi = coldctl_getinfo(n)          # RPC goes on
        if gi['synced_to_chain']:
            fail('GetInfo synced_to_chain while the chain is lost')
        if health(n) != 'NOT_SERVING':
            fail(f'health "chain" while lost: {health(n)}')
        b.start(port=b.port)
        for r in raws:
            b.rpc('submitblock', r)
        b.mine(4)
        st = wait_chain(n, at(b), 'catching up after the node came back',
                        timeout=60)
        if st['lost_count'] < 1:
            fail(f'lost_count not counted: {st}')

        # 4. Stored tip survives a restart: no block is connected twice.
        before = st['height']
        n.stop()
        n.start()
        st = wait_chain(n, at(b), 'the tip after a coldnode restart')
        if st['blocks_connected'] != 0:
            fail(f'restart reconnected {st["blocks_connected"]} blocks at '
                 f'the same tip {before}')

        # 5. Wrong network: coldnode on testnet, node on regtest.
        w = h.node('w', '--signer=local', '--network=testnet', '--nolisten',
                   '--bitcoind.blockpollinginterval=200ms',
                   *b.coldnode_args())
        w.start()
        st = wait_chain(w, lambda s: s['status'] == 'wrong-network',
                        'wrong-network')
        if 'regtest' not in st['last_error'] or st['height'] != 0:
            fail(f'wrong network not explained: {st}')
        w.wait_log(r'wrong-network: node is on chain "regtest", not '
                   r'--network=testnet')
        if health(w) != 'NOT_SERVING':
            fail(f'health "chain" on the wrong network: {health(w)}')
        w.stop()

        # 6. Cookie auth: a stale .cookie fails (401), a new one is read
        # again without a restart (bitcoind writes one at each start).
        cookie = os.path.join(h.tmp, '.cookie')
        with open(cookie, 'w') as f:
            f.write('__cookie__:stale\n')
        k = h.node('k', '--signer=local', '--network=regtest', '--nolisten',
                   '--bitcoind.blockpollinginterval=200ms',
                   '--bitcoin.node=bitcoind',
                   f'--bitcoind.rpchost=127.0.0.1:{b.port}',
                   f'--bitcoind.rpccookie={cookie}')
        k.start()
        st = wait_chain(k, lambda s: s['status'] == 'lost', 'lost on 401')
        if 'authentication failed' not in st['last_error']:
            fail(f'401 not explained: {st}')
        with open(cookie, 'w') as f:
            f.write(f'__cookie__:{b.api_key}\n')
        wait_chain(k, at(b), 'synced with the new cookie')
        k.stop()

        # 7. No backend: the chain section says so, the health service is
        # not registered (NOT_FOUND), GetInfo's chain fields stay zero.
        z = h.node('z', '--signer=local', '--network=regtest', '--nolisten')
        z.start()
        st = chain_state(z)
        if st['backend'] != 'none' or st['status'] != 'off':
            fail(f'no backend: {st}')
        if health(z) != 'ERR 5':
            fail(f'health "chain" without a backend: {health(z)}')
        gi = coldctl_getinfo(z)
        if gi['block_height'] != 0 or gi['synced_to_chain']:
            fail(f'GetInfo without a backend: {gi}')
        z.stop()


if __name__ == '__main__':
    run(main)
