"""A rescan from a birthday far below the tip, against bcoin 1.0.2.

coldnode follows the chain with one account (no birthday: it starts at the
tip) while the node mines BLOCKS blocks carrying payments to a second
account and spends of some of them (signed from the mnemonic by bcoin's
own code); then the second account is imported with a birthday BLOCKS
blocks below the tip.  coldnode must rescan those blocks for it without
moving its tip back (GetState's wallet tip never goes down during the
rescan; the chain view's height, GetInfo's block_height, neither, and
synced_to_chain stays true), and end with exactly what
the node's UTXO set says the second account holds (gettxout of every
output made), the first account untouched.  The time the rescan took is
printed.

    test_wallet_rescan.py [BLOCKS]     (meson: 200; 1,000 with long tests)
"""
import json
import os
import sys
import time

from harness import Harness, fail, run
from ctl import coldctl_state
from test_wallet_diff import (Account, BcoinWallet, Tool,
                              b58check_reversion)  # noqa: F401
from bcoin import Bcoin

FUND_VALUE = 5_000_000


def main():
    blocks = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    with Harness() as h, Bcoin(log=os.path.join(h.tmp, 'bcoin.log')) as b:
        tool = Tool()
        try:
            b.activate_segwit()
            mn = tool(cmd='account', n=1)['mnemonic']
            a0 = Account(tool, mn, 0)
            a1 = Account(tool, mn, 1)
            fund_script = tool(cmd='p2wkh', wif=b.miner['wif'])['script']
            cb = b.rpc('getblock', b.rpc('getblockhash', 1), 1)['tx'][0]
            value = round(b.rpc('gettxout', cb, 0)['value'] * 1e8)
            nfund = 120
            outs = [{'script': fund_script, 'value': FUND_VALUE}
                    for _ in range(nfund)]
            outs.append({'script': fund_script,
                         'value': value - FUND_VALUE * nfund - 100000})
            fan = tool(cmd='sign', inputs=[{
                'txid': cb, 'vout': 0, 'value': value, 'wif': b.miner['wif'],
                'script': b.miner_script}], outputs=outs)
            b.send(fan['hex'])
            b.mine(1)
            funds = [(fan['txid'], i) for i in range(nfund)]

            def pay(script, v):
                txid, vout = funds.pop()
                tx = tool(cmd='sign', inputs=[{
                    'txid': txid, 'vout': vout, 'value': FUND_VALUE,
                    'wif': b.miner['wif'], 'script': fund_script}],
                    outputs=[{'script': script, 'value': v},
                             {'script': fund_script,
                              'value': FUND_VALUE - v - 2000}])
                b.send(tx['hex'])
                return tx['txid']

            p0 = os.path.join(h.tmp, 'a0.json')
            p1 = os.path.join(h.tmp, 'a1.json')
            for path, a in ((p0, a0), (p1, a1)):
                with open(path, 'w') as f:
                    json.dump(a.lnd_json(), f)
            w = h.node('w', '--signer=local', '--network=regtest',
                       '--nolisten', '--bitcoind.blockpollinginterval=200ms',
                       '--wallet.gaplimit=10', *b.coldnode_args(),
                       f'--wallet.accounts={p0}')
            w.start()
            start = b.height()
            deadline = time.monotonic() + 60
            while int(coldctl_state(w)['wallet']['tip_height']) != start:
                if time.monotonic() > deadline:
                    fail(f'coldnode did not start at {start}\n{w.tail()}')
                time.sleep(0.1)
            bday = start + 1

            # BLOCKS blocks: every 10th pays account 1 (index growing by
            # at most 5: inside any gap of 10), every 30th spends the
            # payment of 20 blocks before; one payment to account 0.
            made = []      # (txid, vout) paid to account 1
            spent = set()
            idx = 0
            pay0 = pay(a0.scripts[0][0], 77777)
            for i in range(blocks):
                if i % 10 == 5:
                    idx += 1 + (i // 10) % 5
                    made.append((pay(a1.scripts[0][idx], 10000 + i), 0,
                                 idx, 10000 + i))
                if i % 30 == 29 and len(made) >= 3:
                    txid, vout, j, v = made[-3]
                    sp = tool(cmd='sign', mnemonic=mn, inputs=[{
                        'txid': txid, 'vout': vout, 'value': v,
                        'path': f'{a1.path}/0/{j}'}], outputs=[{
                            'script': fund_script, 'value': v - 2000}])
                    b.send(sp['hex'])
                    spent.add((txid, vout))
                b.mine(1)
            tip = b.height()
            deadline = time.monotonic() + 120
            while int(coldctl_state(w)['wallet']['tip_height']) != tip:
                if time.monotonic() > deadline:
                    fail(f'coldnode did not reach {tip}\n{w.tail()}')
                time.sleep(0.2)
            want1 = 0
            for txid, vout, _, _ in made:
                o = b.rpc('gettxout', txid, vout)
                if o:
                    want1 += round(o['value'] * 1e8)
            if want1 == 0 or len(spent) == 0:
                fail(f'nothing to find: {len(made)} payments, '
                     f'{len(spent)} spent')

            from test_wallet_bcoin import balance, coldctl as ctl
            before = balance(w)
            if before['confirmed_balance'] != 77777:
                fail(f'account 0 before the import: {before}')
            t0 = time.monotonic()
            ctl(w, 'wallet', 'importaccounts', '--birthday', str(bday), p1)
            lowest = tip
            chain_lowest = tip
            unsynced = 0
            while True:
                st = coldctl_state(w)
                lowest = min(lowest, int(st['wallet']['tip_height']))
                # GetInfo's block_height and synced_to_chain come from
                # the chain view: the wallet's rescan must not move them
                # (the chain used to rewind itself for the wallet).
                chain_lowest = min(chain_lowest, int(st['chain']['height']))
                unsynced += not st['chain']['synced_to_chain']
                if (int(st['wallet'].get('rescan_height', -1)) == -1 and
                        int(st['wallet']['tip_height']) == tip):
                    break
                if time.monotonic() - t0 > 600:
                    fail(f'rescan not done: {st["wallet"]}\n{w.tail()}')
                time.sleep(0.1)
            took = time.monotonic() - t0
            if lowest != tip:
                fail(f'the wallet tip went back to {lowest} during the '
                     'rescan')
            if chain_lowest != tip or unsynced:
                fail(f'the chain view moved during the rescan: height down '
                     f'to {chain_lowest}, {unsynced} reads not synced')
            got = balance(w)
            acc = got['account_balance']
            c1 = int(acc['a1']['confirmed_balance'])
            c0 = int(acc['a0']['confirmed_balance'])
            if c1 != want1 or c0 != 77777 or got['unconfirmed_balance']:
                fail(f'after the rescan: {got}; want a1 {want1}, a0 77777')
            print(f'rescan of {tip - bday + 1} blocks ({len(made)} '
                  f'payments, {len(spent)} spent) took {took:.1f} s; '
                  f'{pay0[:8]}.. kept', file=sys.stderr)
        finally:
            tool.close()


if __name__ == '__main__':
    run(main)
