"""A busy mempool against a real node (bcoin regtest): thousands of
transactions enter the mempool between two polls, some paying the
wallet's watched scripts (lnd accounts from bcoin's own HD code).  Each
poll asks for up to 100 transactions per batch request; coldnode used to
crash (SIGSEGV) at the first such batch, with 5 or 70 payments.  Checked:
coldnode stays up, its unconfirmed balance is the sum of every watched
payment (none missed), and the block that mines them all (the size of a
busy mainnet block) confirms the same sum.

The node runs with a per-poll bound of a quarter of the transactions
(test hook COLDNODE_TEST_HOOK_MEMPOOL_PER_POLL), so the mempool is larger
than what one poll fetches: every payment must still be seen.

Default: 600 transactions, 150 of them watched (one poll batch > 64 and
> 100 calls); MEMPOOL_LOAD=5000:1000 (meson -Dlong_tests=true) is the
issue's scale: 5,000 transactions, 1,000 watched."""
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..', 'wallet'))
from bcoin import Bcoin, BCOIN_DIR, NODE, COINBASE_MATURITY  # noqa: E402
from harness import Harness, fail, run  # noqa: E402
from test_wallet_bcoin import (balance, hdtool, lnd_accounts,  # noqa: E402
                               wait_tip)

HERE = os.path.dirname(os.path.abspath(__file__))
FANOUT = 2000
EACH = 30000


def flood(req):
    p = subprocess.run([NODE, os.path.join(HERE, 'flood.js')],
                       input=json.dumps(req).encode(), capture_output=True,
                       timeout=600, cwd=BCOIN_DIR)
    if p.returncode != 0:
        fail('flood.js: ' + p.stderr.decode(errors='replace'))
    return json.loads(p.stdout)


def send_all(b, hexes, chunk=250):
    """sendrawtransaction in batch requests (bcoin answers each call)."""
    for i in range(0, len(hexes), chunk):
        body = [{'method': 'sendrawtransaction', 'params': [x], 'id': j}
                for j, x in enumerate(hexes[i:i + chunk])]
        for r in b.rpc_raw(body, timeout=300):
            if r.get('error'):
                fail(f'sendrawtransaction: {r["error"]}')


def wait_mempool(b, want, timeout=300):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        have = set(b.rpc('getrawmempool'))
        if want <= have:
            return
        time.sleep(0.2)
    fail(f'bcoin mempool has {len(want & have)} of {len(want)} transactions')


def prepare_flood(h, b, total, watched):
    """lnd accounts from bcoin's HD code (written to accounts.json) and
    @total transactions signed, @watched of them paying the accounts'
    scripts round-robin (indexes < 20: inside the gap) with distinct
    values, the rest the miner; their fan-out parents sent and mined.
    Returns (accounts path, scripts, sum of watched payments, flood.js's
    answer: 'spends' still to send)."""
    hd = hdtool({'cmd': 'accounts', 'n': 20})
    accounts = os.path.join(h.tmp, 'accounts.json')
    with open(accounts, 'w') as f:
        json.dump(lnd_accounts(hd), f)
    scripts = []
    for a in hd['accounts']:
        scripts += a['ext'] + a['chg']
    targets, want = [], 0
    for i in range(total):
        if i * watched // total != (i + 1) * watched // total:
            v = 10000 + i
            targets.append({'script': scripts[i % len(scripts)],
                            'value': v})
            want += v
        else:
            targets.append({'script': b.miner_script, 'value': 10000})
    coins = []
    for _ in range((total + FANOUT - 1) // FANOUT):
        txid, vout, value = b._coinbase_utxo(FANOUT * EACH + 200000)
        b._spent.add((txid, vout))
        coins.append({'txid': txid, 'vout': vout, 'value': value,
                      'script': b.miner_script})
    t0 = time.monotonic()
    r = flood({'wif': b.miner['wif'], 'coins': coins, 'fanout': FANOUT,
               'each': EACH, 'targets': targets})
    print(f'{total} transactions signed in {time.monotonic() - t0:.1f} s',
          file=sys.stderr)
    send_all(b, r['fanouts'])
    b.mine(1)
    return accounts, scripts, want, r


def main():
    total, watched = (int(x) for x in
                      os.environ.get('MEMPOOL_LOAD', '600:150').split(':'))
    with Harness() as h, Bcoin(log=os.path.join(h.tmp, 'bcoin.log')) as b:
        b.activate_segwit()
        accounts, _, want, r = prepare_flood(h, b, total, watched)
        n = h.node('m', '--signer=local', '--network=regtest', '--nolisten',
                   '--bitcoind.blockpollinginterval=2s', *b.coldnode_args(),
                   f'--wallet.accounts={accounts}',
                   f'--wallet.birthday={b.height()}')
        # A mempool larger than the per-poll bound (test hook: 150 new
        # transactions per poll instead of 10,000): fetched over several
        # polls, none dropped.
        os.environ['COLDNODE_TEST_HOOK_MEMPOOL_PER_POLL'] = str(
            max(100, total // 4))
        try:
            n.start()
        finally:
            os.environ.pop('COLDNODE_TEST_HOOK_MEMPOOL_PER_POLL', None)
        wait_tip(n, b.height())
        # All at once, between two polls as far as bcoin lets us (it
        # validates each): every poll sees hundreds of new txids.
        t0 = time.monotonic()
        send_all(b, [s['hex'] for s in r['spends']])
        wait_mempool(b, {s['txid'] for s in r['spends']})
        print(f'{total} transactions in bcoin\'s mempool in '
              f'{time.monotonic() - t0:.1f} s', file=sys.stderr)
        deadline = time.monotonic() + 300
        bal = None
        while time.monotonic() < deadline:
            if not n.running():
                fail(f'coldnode died with the mempool full\n{n.tail()}')
            bal = balance(n)
            if bal['unconfirmed_balance'] == want:
                break
            time.sleep(0.5)
        else:
            fail(f'unconfirmed balance {bal}, want {want} ({watched} '
                 f'payments)\n{n.tail()}')
        if bal['confirmed_balance'] != 0:
            fail(f'confirmed balance before the block: {bal}')
        # One block mines them all.
        b.mine(1)
        blk = b.rpc('getblock', b.rpc('getbestblockhash'), 1)
        if len(blk['tx']) < total + 1:
            fail(f'the block holds {len(blk["tx"])} transactions')
        wait_tip(n, b.height())
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            bal = balance(n)
            if (bal['confirmed_balance'] == want and
                    bal['unconfirmed_balance'] == 0):
                break
            time.sleep(0.3)
        else:
            fail(f'after the block: {bal}, want {want} confirmed')
        if not n.running():
            fail('coldnode died')
        print(f'{total} mempool transactions, {watched} watched payments '
              f'worth {want} sat: all seen, then confirmed in a block of '
              f'{len(blk["tx"])}', file=sys.stderr)


if __name__ == '__main__':
    run(main)
