"""The node's chain gets shorter and coldnode follows it (issue 17):
invalidateblock of the tip on bcoin (regtest) leaves the node one block
below coldnode's tip, not catching up (no initialblockdownload, headers ==
blocks): coldnode steps back to the node's best block, GetInfo's
block_height is the node's and the wallet no longer counts the orphaned
block's payment.  Then invalidateblock three deep and one block mined on
the parent (a shorter branch wins), and reconsiderblock (the long branch
is back)."""
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..', 'wallet'))
from bcoin import Bcoin  # noqa: E402
from chainlib import chain_state, coldctl_getinfo, wait_chain  # noqa: E402
from harness import Harness, fail, run  # noqa: E402
from test_wallet_bcoin import (balance, coldctl, hdtool,  # noqa: E402
                               lnd_accounts, wallet_state, worth)


def at(b):
    want_h = b.height()
    want = b.rpc('getbestblockhash')
    return lambda st: (st['status'] == 'synced' and st['height'] == want_h
                       and st['hash'] == want)


def wait_balance(n, want, what, timeout=30):
    deadline = time.monotonic() + timeout
    bal = None
    while time.monotonic() < deadline:
        bal = balance(n)
        if (bal['confirmed_balance'], bal['unconfirmed_balance']) == want:
            return bal
        time.sleep(0.2)
    fail(f'{what}: balance {bal}, want confirmed/unconfirmed {want}\n'
         f'{n.tail()}')


def main():
    with Harness() as h, Bcoin(log=os.path.join(h.tmp, 'bcoin.log')) as b:
        b.mine(105)
        hd = hdtool({'cmd': 'accounts', 'n': 3})
        accounts = os.path.join(h.tmp, 'accounts.json')
        with open(accounts, 'w') as f:
            json.dump(lnd_accounts(hd), f)
        a84 = hd['accounts'][1]
        n = h.node('s', '--signer=local', '--network=regtest', '--nolisten',
                   '--bitcoind.blockpollinginterval=200ms',
                   *b.coldnode_args(), f'--wallet.accounts={accounts}',
                   f'--wallet.birthday={b.height()}')
        n.start()
        wait_chain(n, at(b), 'the first tip')

        # 1. A payment mined in the tip, then that tip invalidated.
        txid, _ = b.pay_to([(a84['ext'][0], 150000)])
        tip = b.mine(1)[0]
        v = worth(b, [(txid, 0)])
        wait_chain(n, at(b), 'the block with the payment')
        wait_balance(n, (v, 0), 'the payment confirmed')
        b.rpc('invalidateblock', tip)
        info = b.rpc('getblockchaininfo')
        if info['blocks'] != info['headers'] or info.get('initialblockdownload'):
            fail(f'bcoin catching up after invalidateblock? {info}')
        st = wait_chain(n, at(b), 'the shorter chain after invalidateblock')
        if st['blocks_disconnected'] < 1:
            fail(f'no block disconnected: {st}')
        gi = coldctl_getinfo(n)
        if gi['block_height'] != b.height() or \
                gi['block_hash'] != b.rpc('getbestblockhash'):
            fail(f'GetInfo above the node: {gi}, node at {b.height()}')
        # bcoin drops its whole mempool after invalidateblock (interop.md).
        back = v if txid in b.rpc('getrawmempool') else 0
        wait_balance(n, (0, back), 'the orphaned payment undone')
        n.wait_log(r'node.s chain is shorter .* stepping back')

        # 2. A shorter branch wins: three blocks invalidated, one mined
        # on their parent.
        b.mine(3)
        wait_chain(n, at(b), 'three more blocks')
        h0 = b.height()
        b.rpc('invalidateblock', b.rpc('getblockhash', h0 - 2))
        b.mine(1)
        if b.height() != h0 - 2:
            fail(f'bcoin at {b.height()}, expected {h0 - 2}')
        wait_chain(n, at(b), 'the shorter winning branch')

        # 3. The long branch reconsidered: more blocks, coldnode follows.
        long_tip = b.rpc('getblockhash', h0 - 2)
        try:
            b.rpc('reconsiderblock', b.rpc('getblockheader', long_tip, True)
                  ['hash'])
        except Exception as e:  # bcoin 1.0.2 may lack it: mine instead
            print(f'reconsiderblock: {e}', file=sys.stderr)
        b.mine(2)
        wait_chain(n, at(b), 'the node\'s chain after more blocks')

        # 4. A reorg deeper than the 100 blocks the chain stores: a
        # payment 105 blocks deep is on the losing branch.  The chain
        # restarts from the node's tip; the wallet's blocks of the old
        # branch are undone one by one, compared by hash, then the new
        # branch is delivered to it: no loop (requests stay bounded).
        wait_balance(n, (0, 0), 'before the deep reorg')
        txid, _ = b.pay_to([(a84['ext'][1], 90000)])
        fork = b.mine(1)[0]
        b.mine(104)
        v = worth(b, [(txid, 0)])
        wait_chain(n, at(b), '105 blocks on the payment')
        wait_balance(n, (v, 0), 'the deep payment confirmed')
        before = chain_state(n)['requests']
        b.rpc('invalidateblock', fork)
        b.mine(107)
        st = wait_chain(n, at(b), 'the new branch after a 105-deep reorg',
                        timeout=120)
        back = v if txid in b.rpc('getrawmempool') else 0
        wait_balance(n, (0, back), 'the deep payment undone', timeout=120)
        st = chain_state(n)
        used = st['requests'] - before
        # ~2 requests per block of each branch plus the polls: a
        # rewind loop makes thousands.
        if used > 2000:
            fail(f'{used} requests for a 105-deep reorg: a loop? {st}')
        print(f'105-deep reorg: {used} requests', file=sys.stderr)
        if not n.running():
            fail('coldnode died')

        # 5. Accounts imported with a birthday in the past into a running
        # node: the wallet rescans (blocks fetched for it alone), the
        # chain's tip stays: GetInfo's block_height never goes back and
        # synced_to_chain stays true meanwhile.
        plain = h.node('p', '--signer=local', '--network=regtest',
                       '--nolisten', '--bitcoind.blockpollinginterval=200ms',
                       *b.coldnode_args())
        plain.start()
        wait_chain(plain, at(b), 'the plain node synced')
        top = b.height()
        coldctl(plain, 'wallet', 'importaccounts', '--birthday', '100',
                accounts)
        samples = 0
        deadline = time.monotonic() + 120
        while (int(wallet_state(plain)['rescan_height']) >= 0 or
               int(wallet_state(plain)['tip_height']) != top):
            gi = coldctl_getinfo(plain)
            samples += 1
            if gi['block_height'] != top or not gi['synced_to_chain']:
                fail(f'GetInfo during the rescan: {gi}, node at {top}')
            if time.monotonic() > deadline:
                fail(f'rescan not done: {wallet_state(plain)}')
        if samples == 0:
            fail('the rescan was over before GetInfo was asked once')
        print(f'rescan of {top - 99} blocks: GetInfo at {top} in all '
              f'{samples} samples', file=sys.stderr)


if __name__ == '__main__':
    run(main)
