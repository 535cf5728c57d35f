"""One rule for applying a block (issue 17): coldnode is killed (SIGKILL,
through the COLDNODE_TEST_HOOK_CRASH_AT test hook) at every crash point
of a block's connect and disconnect, one by one, and the restarted node
must reach the state of a node that followed the same chain without a
kill: chain tip (height, hash), the funding watch set (watched, spent),
the wallet's tip and balances.

Against bcoin (regtest): each connected block pays a watched wallet
address and spends a watched channel funding output (a real P2WSH 2-of-2
announced over gossip and checked), so all three writes happen in it:

  connect.store       tip row written, watch set not yet (one transaction:
                      rolled back)
  connect.chain       tip and watch set committed, wallet not told
  connect.consumer    wallet committed too
  disconnect.store    tip row dropped, watch undo not yet (rolled back)
  disconnect.chain    chain committed, wallet still on the orphaned block
  consumer.disconnect then, restarting, the wallet's orphaned block undone
                      by the cursor, killed again right after
  disconnect.consumer wallet undone too
  consumer.rescan     a block delivered to the wallet below the chain's
                      tip (accounts imported with a past birthday)

docs/chain.md "Crash points" says what each restart repairs."""
import asyncio
import json
import os
import sqlite3
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..', 'wallet'))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..', 'chain'))
from bcoin import Bcoin  # noqa: E402
from chainlib import chain_state, wait_chain  # noqa: E402
from harness import Harness, fail, run  # noqa: E402
from test_chain_funding import Chan, send_all, wait_checks  # noqa: E402
from test_wallet_bcoin import (balance, coldctl, hdtool,  # noqa: E402
                               lnd_accounts, wallet_state)

HOOK = 'COLDNODE_TEST_HOOK_CRASH_AT'


def watch_set(n):
    """The funding watch set as committed in chain.sqlite3 (a second
    connection sees committed rows only): (scid, spent height)."""
    db = sqlite3.connect(os.path.join(n.datadir, 'chain.sqlite3'))
    try:
        return sorted(db.execute('SELECT scid, spent FROM watch'))
    finally:
        db.close()


def view(n):
    st = chain_state(n)
    w = wallet_state(n)
    bal = balance(n)
    return {'height': st['height'], 'hash': st['hash'],
            'watched': st['watched'], 'watch_set': watch_set(n),
            'wallet_tip': int(w['tip_height']),
            # a rescan (accounts imported with a past birthday) runs
            # below a tip that does not move: settled when it is done
            'rescan': int(w.get('rescan_height', -1)),
            'confirmed': bal['confirmed_balance'],
            'unconfirmed': bal['unconfirmed_balance']}


def settle(n, b, timeout=60):
    """Wait until n is synced at bcoin's tip with its wallet there too."""
    want_h, want = b.height(), b.rpc('getbestblockhash')
    deadline = time.monotonic() + timeout
    v = None
    while time.monotonic() < deadline:
        try:
            v = view(n)
            if (v['height'] == want_h and v['hash'] == want and
                    v['wallet_tip'] == want_h and v['rescan'] == -1 and
                    chain_state(n)['status'] == 'synced'):
                return v
        except Exception as e:  # restarting: not answering yet
            v = str(e)
        time.sleep(0.2)
    fail(f'{n.name}: not settled at {want_h}: {v}\n{n.tail()}')


def start_with_hook(n, point):
    if point:
        os.environ[HOOK] = point
    try:
        n.start()
    finally:
        os.environ.pop(HOOK, None)


def wait_killed(n, point, timeout=60):
    deadline = time.monotonic() + timeout
    while n.running():
        if time.monotonic() > deadline:
            fail(f'{n.name}: not killed at crash point {point}\n{n.tail()}')
        time.sleep(0.05)
    name = point.split('@')[0]
    if f'crash point {name} at block' not in n.log():
        fail(f'{n.name}: died, but not at crash point {point}\n{n.tail()}')
    n.proc = None
    if n.logfile:
        n.logfile.close()
        n.logfile = None


def same(x, r, b, what):
    vx, vr = settle(x, b), settle(r, b)
    if vx != vr:
        fail(f'{what}: after the restart {vx}\nwithout a kill {vr}\n'
             f'{x.tail()}')
    print(f'{what}: restarted node agrees: {vx}', file=sys.stderr)


def main():
    with Harness() as h, Bcoin(log=os.path.join(h.tmp, 'bcoin.log')) as b:
        b.activate_segwit()
        hd = hdtool({'cmd': 'accounts', 'n': 10})
        accounts = os.path.join(h.tmp, 'accounts.json')
        with open(accounts, 'w') as f:
            json.dump(lnd_accounts(hd), f)
        ext = hd['accounts'][1]['ext']
        birthday = b.height()
        args = ['--signer=local', '--network=regtest',
                '--listen=127.0.0.1:0', '--bitcoind.blockpollinginterval=200ms',
                *b.coldnode_args(), f'--wallet.accounts={accounts}',
                f'--wallet.birthday={birthday}']
        r = h.node('r', *args)   # the reference: never killed
        x = h.node('x', *args)   # killed at each crash point
        r.start()
        x.start()
        # Channels, one spent per connected block: both nodes check and
        # watch them.
        chans = [Chan() for _ in range(6)]
        funds = [b.fund_2of2(c.btc1.hex(), c.btc2.hex(), 200000,
                             keys=[c.bpriv1, c.bpriv2]) for c in chans]
        b.mine(6)
        for n in (r, x):
            settle(n, b)
            asyncio.run(send_all(n.p2p_port(), n.node_id(),
                                 [c.announcement(f.scid_int)
                                  for c, f in zip(chans, funds)]))
            wait_checks(n, {'ok': len(chans)})
        same(x, r, b, 'before any kill')
        spent = iter(funds)
        pay = iter(range(len(ext)))

        def busy_block():
            """A block paying the wallet and spending a watched channel."""
            b.pay_to([(ext[next(pay)], 50000)])
            return b.spend(next(spent))

        # Connect: killed inside/after each write of block T+1.
        for point in ('connect.store', 'connect.chain', 'connect.consumer'):
            x.stop()
            start_with_hook(x, f'{point}@{b.height() + 1}')
            settle(x, b)
            busy_block()
            wait_killed(x, point)
            x.start()
            same(x, r, b, point)

        # Disconnect: the tip (paying the wallet, spending a channel)
        # replaced by a branch of two empty blocks.
        for point in ('disconnect.store', 'disconnect.chain',
                      'disconnect.consumer'):
            busy_block()
            settle(x, b)
            settle(r, b)
            tip, th = b.rpc('getbestblockhash'), b.height()
            x.stop()
            start_with_hook(x, f'{point}@{th}')
            settle(x, b)
            b.empty_branch(tip, 2)
            wait_killed(x, point)
            if point == 'disconnect.chain':
                # The wallet is left on the orphaned block: the restart's
                # cursor undoes it, and is killed right after that too.
                start_with_hook(x, f'consumer.disconnect@{th}')
                wait_killed(x, 'consumer.disconnect')
            x.start()
            same(x, r, b, point)

        # A rescan delivered below the chain's tip: killed after one of
        # its blocks; the restart goes on from the wallet's next height.
        for n in (r, x):
            n.stop()
        plain = [a for a in args if not a.startswith('--wallet.')]
        r2 = h.node('r2', *plain)
        x2 = h.node('x2', *plain)
        r2.start()
        start_with_hook(x2, f'consumer.rescan@{birthday + 3}')
        for n in (r2, x2):
            wait_chain(n, lambda st: st['status'] == 'synced' and
                       st['height'] == b.height(), 'synced, no accounts')
        coldctl(r2, 'wallet', 'importaccounts', '--birthday', str(birthday),
                accounts)
        coldctl(x2, 'wallet', 'importaccounts', '--birthday', str(birthday),
                accounts)
        wait_killed(x2, 'consumer.rescan')
        x2.start()
        same(x2, r2, b, 'consumer.rescan')


if __name__ == '__main__':
    run(main)
