"""The wallet against a real node (bcoin 1.0.2, regtest).

Accounts come from bcoin's own BIP39/BIP32 code (a random mnemonic), BIP86
scripts from bitcoinjs-lib (tests/wallet/hdtool.js); coins are sent with
bcoin's transaction builder and mined.  Checked through coldctl: the
import (file at start, then again over RPC: idempotent), WalletBalance
equal to what bcoin says the outputs are worth, per account and with
min_confs, a payment and a spend seen unconfirmed in the mempool and then
confirmed, an invalidateblock reorg undoing a payment, a spend signed by
bcoin from the same mnemonic, lnd's own clients (grpc-js with
lightning.proto, the npm lightning package), refused bad accounts files,
kill -9 during a 500-block scan (after the restart the balances equal the
clean scan's), accounts imported into a running node with a past
birthday (rescan), accounts imported with a birthday into a wallet that
has none and holds coins from before it (kept), and stale balances served
while the node is gone.
"""
import hashlib
import json
import os
import subprocess
import sys
import time

from bcoin import Bcoin
from ctl import coldctl_state, rpc_port
from harness import Harness, fail, run

HERE = os.path.dirname(os.path.abspath(__file__))
B58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz'


def hdtool(req):
    env = dict(os.environ)
    env.setdefault('INTEROP_DIR', os.path.join(HERE, '..', 'interop'))
    p = subprocess.run([os.environ.get('NODE', 'node'),
                        os.path.join(HERE, 'hdtool.js')],
                       input=json.dumps(req), capture_output=True, text=True,
                       timeout=60, env=env)
    if p.returncode != 0:
        fail(f'hdtool: {p.stderr}')
    return json.loads(p.stdout)


def reversion(key, version):
    """The same extended key with other SLIP-132 version bytes (lnd writes
    upub for m/49', vpub for m/84', tpub for m/86' on test networks)."""
    n = 0
    for c in key:
        n = n * 58 + B58.index(c)
    raw = n.to_bytes(82, 'big')[:-4]
    raw = bytes.fromhex(version) + raw[4:]
    raw += hashlib.sha256(hashlib.sha256(raw).digest()).digest()[:4]
    n = int.from_bytes(raw, 'big')
    s = ''
    while n:
        n, r = divmod(n, 58)
        s = B58[r] + s
    return s


def lnd_accounts(hd):
    """`lncli wallet accounts list` as lnd prints it for these keys."""
    conv = {49: ('HYBRID_NESTED_WITNESS_PUBKEY_HASH', '044a5262'),
            84: ('WITNESS_PUBKEY_HASH', '045f1cf6'),
            86: ('TAPROOT_PUBKEY', '043587cf')}
    accts = []
    for a in hd['accounts']:
        t, v = conv[a['purpose']]
        accts.append({'name': 'default', 'address_type': t,
                      'extended_public_key': reversion(a['xpub'], v),
                      'master_key_fingerprint': None,
                      'derivation_path': a['path'],
                      'external_key_count': 0, 'internal_key_count': 0,
                      'watch_only': False})
    return {'accounts': accts}


def coldctl(node, *args, mac='admin.macaroon', check=True):
    p = subprocess.run(
        [os.environ['COLDCTL'], f'--datadir={node.datadir}',
         f'--rpcserver=127.0.0.1:{rpc_port(node)}',
         f'--macaroonpath={os.path.join(node.datadir, mac)}',
         '--timeout=10', *args],
        capture_output=True, text=True, timeout=30)
    if check and p.returncode != 0:
        fail(f'coldctl {" ".join(args)}: rc {p.returncode}\n{p.stderr}')
    return p


def balance(node, *args):
    r = json.loads(coldctl(node, 'walletbalance', *args,
                           mac='monitor.macaroon').stdout)
    for k in ('total_balance', 'confirmed_balance', 'unconfirmed_balance',
              'locked_balance', 'reserved_balance_anchor_chan'):
        r[k] = int(r[k])
    return r


def lnd_clients(node):
    """grpc-js with lnd's lightning.proto and the npm lightning package."""
    env = dict(os.environ)
    env.setdefault('INTEROP_DIR', os.path.join(HERE, '..', 'interop'))
    p = subprocess.run([os.environ.get('NODE', 'node'),
                        os.path.join(HERE, 'lnd_balance.js'), node.datadir,
                        f'127.0.0.1:{rpc_port(node)}'],
                       capture_output=True, text=True, timeout=60, env=env)
    if p.returncode != 0:
        fail(f'lnd_balance.js: {p.stderr}')
    return json.loads(p.stdout)


def wallet_state(node):
    return coldctl_state(node)['wallet']


def wait_balance(node, pred, what, timeout=60.0, args=()):
    deadline = time.monotonic() + timeout
    b = None
    while time.monotonic() < deadline:
        b = balance(node, *args)
        if pred(b):
            return b
        time.sleep(0.2)
    fail(f'wallet: waited {timeout:.0f} s for {what}; last balance {b}; '
         f'state {wallet_state(node)}\n{node.tail()}')


def wait_tip(node, height, timeout=120.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if int(wallet_state(node)['tip_height']) == height:
            return
        time.sleep(0.2)
    fail(f'wallet tip did not reach {height}: {wallet_state(node)}\n'
         f'{node.tail()}')


def wait_rescan(node, timeout=120.0):
    """Until the rescan of accounts imported with a past birthday is done
    (the wallet tip does not move back for it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if int(wallet_state(node).get('rescan_height', -1)) == -1:
            return
        time.sleep(0.2)
    fail(f'rescan not done: {wallet_state(node)}\n{node.tail()}')


def varint(n):
    return bytes([n]) if n < 0xfd else b'\xfd' + n.to_bytes(2, 'little')


def empty_block(b, prev_hash_hex, height, ntime):
    """A block holding only a coinbase that claims nothing, on top of
    prev_hash_hex (display order), proof of work ground here (regtest's
    target passes about every other nonce).  Returns its hex."""
    script_sig = bytes([3]) + height.to_bytes(3, 'little') + b'\x00\x00'
    cb = (b'\x01\x00\x00\x00' + b'\x01' + b'\x00' * 32 +
          b'\xff\xff\xff\xff' + varint(len(script_sig)) + script_sig +
          b'\xff\xff\xff\xff' + b'\x01' + (0).to_bytes(8, 'little') +
          b'\x01\x51' + b'\x00\x00\x00\x00')
    merkle = hashlib.sha256(hashlib.sha256(cb).digest()).digest()
    bits = 0x207fffff
    target = (bits & 0xffffff) << (8 * ((bits >> 24) - 3))
    for nonce in range(1 << 20):
        hdr = ((0x20000000).to_bytes(4, 'little') +
               bytes.fromhex(prev_hash_hex)[::-1] + merkle +
               ntime.to_bytes(4, 'little') + bits.to_bytes(4, 'little') +
               nonce.to_bytes(4, 'little'))
        h = hashlib.sha256(hashlib.sha256(hdr).digest()).digest()
        if int.from_bytes(h, 'little') <= target:
            return (hdr + b'\x01' + cb).hex(), h[::-1].hex()
    fail('no proof of work found')


def worth(b, outs):
    """What bcoin says unspent outputs [(txid, vout)] are worth."""
    total = 0
    for txid, vout in outs:
        o = b.rpc('gettxout', txid, vout)
        if o:
            total += round(o['value'] * 1e8)
    return total


def main():
    with Harness() as h, Bcoin(log=os.path.join(h.tmp, 'bcoin.log')) as b:
        b.activate_segwit()  # our segwit coins are spent below
        hd = hdtool({'cmd': 'accounts', 'n': 6})
        a49, a84, a86 = hd['accounts']
        accounts = os.path.join(h.tmp, 'accounts.json')
        with open(accounts, 'w') as f:
            json.dump(lnd_accounts(hd), f, indent=4)
        birthday = b.height() + 1
        args = ['--signer=local', '--network=regtest', '--nolisten',
                '--bitcoind.blockpollinginterval=200ms', *b.coldnode_args(),
                f'--wallet.accounts={accounts}',
                f'--wallet.birthday={birthday}']
        w = h.node('w', *args)
        w.start()
        w.wait_log(r'--wallet.accounts: 3 added, 0 already present')

        # Importing the same file again over RPC changes nothing, and
        # says so.
        p = coldctl(w, 'wallet', 'importaccounts', accounts)
        r = json.loads(p.stdout)
        if r['added'] != 0 or r['already_present'] != 3:
            fail(f'second import not idempotent: {r}')
        if 'already imported' not in p.stderr:
            fail(f'second import: no notice: {p.stderr}')

        # 1. Payments to every address type: np2wkh (49 receive), p2wkh
        # (84 receive and change), p2tr (86, script from bitcoinjs-lib).
        outs = [(a49['ext'][0], 100000), (a84['ext'][1], 200000),
                (a84['chg'][0], 50000), (a86['ext'][0], 300000),
                (a49['chg'][2], 25000)]
        txid, _ = b.pay_to(outs)
        # In the mempool first: unconfirmed (getrawmempool +
        # getrawtransaction each poll), then confirmed.
        mine_worth = worth(b, [(txid, i) for i in range(len(outs))])
        bal = wait_balance(w, lambda x: x['unconfirmed_balance'] == mine_worth,
                           'the payment unconfirmed')
        if bal['confirmed_balance'] != 0 or bal['total_balance'] != mine_worth:
            fail(f'balance with the payment in the mempool: {bal}')
        # The same mempool polled again (every 200 ms) keeps the payment:
        # a second poll of an unchanged mempool used to drop it.  No
        # timing bound: only a change is a failure.
        for _ in range(10):
            time.sleep(0.25)
            again = balance(w)
            if again['unconfirmed_balance'] != mine_worth:
                fail(f'payment gone from an unchanged mempool: {again}')
        mine_h = b.height() + 1
        b.mine(1)
        if mine_worth != 675000:
            fail(f'bcoin says the outputs are worth {mine_worth}')
        bal = wait_balance(w, lambda x: x['confirmed_balance'] == mine_worth,
                           'the first payment confirmed')
        if (bal['unconfirmed_balance'] != 0 or
                bal['total_balance'] != mine_worth or
                int(bal['account_balance']['default']['confirmed_balance'])
                != mine_worth or bal['locked_balance'] != 0):
            fail(f'balance after the payment: {bal}')
        st = wallet_state(w)
        if st['source'] != 'accounts' or int(st['tip_height']) != mine_h:
            fail(f'GetState wallet: {st}')
        lc = lnd_clients(w)
        if (int(lc['grpc']['confirmed_balance']) != mine_worth or
                int(lc['grpc']['total_balance']) != mine_worth or
                int(lc['grpc']['account_balance']['default']
                    ['confirmed_balance']) != mine_worth or
                lc['chain_balance'] != mine_worth):
            fail(f'lnd clients see {lc}, bcoin says {mine_worth}')

        # Bad input over the RPC: refused with a reason, the node keeps
        # running and its accounts are unchanged.
        def refused(doc, why):
            path = os.path.join(h.tmp, 'bad.json')
            with open(path, 'w') as f:
                f.write(doc if isinstance(doc, str) else json.dumps(doc))
            p = coldctl(w, 'wallet', 'importaccounts', path, check=False)
            if p.returncode == 0 or why not in p.stderr:
                fail(f'bad accounts file accepted or unclear: {p.stderr}')
            os.unlink(path)
        good = lnd_accounts(hd)
        refused('{"accounts": [', 'not valid JSON')
        refused({'accounts': []}, 'empty')
        tprv = ('tprv8ZgxMBicQKsPd9TeAdPADNnSyH9SSUUbTVeFszDE23Ki6TBB5nCef'
                'AdHkK8Fm3qMQR6sHwA56zqRmKmxnHk37JkiFzvncDqoKmPWubu7hDF')
        bad = json.loads(json.dumps(good))
        bad['accounts'][1]['extended_public_key'] = tprv
        refused(bad, 'private')
        bad = json.loads(json.dumps(good))
        bad['accounts'][1]['extended_public_key'] = reversion(
            a84['xpub'], '04b24746')  # zpub: mainnet
        refused(bad, 'is for mainnet')
        bad = json.loads(json.dumps(good))
        bad['accounts'][1]['derivation_path'] = "m/49'/1'/0'"
        refused(bad, 'does not match')
        if tprv in w.log():
            fail('the refused private key is in the log')
        if int(wallet_state(w)['accounts']) != 3:
            fail('a refused import changed the accounts')

        # 2. min_confs as lnd: one confirmation so far.
        bal = balance(w, '--min_confs', '2')
        if bal['confirmed_balance'] != 0 or bal['unconfirmed_balance'] != mine_worth:
            fail(f'min_confs 2 with one confirmation: {bal}')
        b.mine(1)
        wait_balance(w, lambda x: x['confirmed_balance'] == mine_worth,
                     'two confirmations', args=('--min_confs', '2'))
        p = coldctl(w, 'walletbalance', '--account', 'nosuch',
                    mac='monitor.macaroon', check=False)
        if p.returncode == 0 or 'account nosuch not found' not in p.stderr:
            fail(f'unknown account: rc {p.returncode} {p.stderr}')

        # 3. A reorg undoes a payment: invalidateblock, then a longer
        # branch of two empty blocks (built here, submitblock) without
        # it.  If bcoin put the payment back in its mempool it is
        # unconfirmed, else gone.
        txid2, _ = b.pay_to([(a84['ext'][5], 70000)])
        blk = b.mine(1)[0]
        wait_balance(w, lambda x: x['confirmed_balance'] == mine_worth + 70000,
                     'the second payment')
        parent = b.rpc('getblockheader', blk, True)
        b.rpc('invalidateblock', blk)
        prev, t = parent['previousblockhash'], parent['time']
        for i in range(2):
            raw, prev = empty_block(b, prev, parent['height'] + i, t + 1 + i)
            b.rpc('submitblock', raw)
        if b.rpc('getbestblockhash') != prev:
            fail('the empty branch did not become the best chain')
        back = 70000 if txid2 in b.rpc('getrawmempool') else 0
        print(f'after the reorg the payment is {"back in" if back else "not in"} '
              'bcoin\'s mempool', file=sys.stderr)
        wait_balance(w, lambda x: (x['confirmed_balance'] == mine_worth and
                                   x['unconfirmed_balance'] == back),
                     'the reorg to undo the second payment')
        w.wait_log(r'block \d+ disconnected: its wallet changes undone')
        b.mine(1)
        wait_tip(w, b.height())
        expect = mine_worth + worth(b, [(txid2, 0)])
        wait_balance(w, lambda x: (x['confirmed_balance'] == expect and
                                   x['unconfirmed_balance'] == 0),
                     'the new branch mined on')

        # 4. A spend signed by bcoin from the same mnemonic lowers it.
        spend = hdtool({'cmd': 'sign', 'mnemonic': hd['mnemonic'],
                        'inputs': [{'txid': txid, 'vout': 1, 'value': 200000,
                                    'path': "m/84'/1'/0'/0/1",
                                    'type': 'p2wkh'},
                                   {'txid': txid, 'vout': 0, 'value': 100000,
                                    'path': "m/49'/1'/0'/0/0",
                                    'type': 'np2wkh'}],
                        'outputs': [{'script': b.miner_script,
                                     'value': 240000},
                                    {'script': a84['chg'][1],
                                     'value': 50000}]})
        b.send(spend['hex'])
        # In the mempool: the spent coins leave the balance at once, the
        # change comes back unconfirmed (btcwallet's view).
        wait_balance(w, lambda x: (x['confirmed_balance'] == expect - 300000
                                   and x['unconfirmed_balance'] == 50000),
                     'the spend in the mempool')
        b.mine(1)
        expect = expect - 300000 + 50000
        wait_balance(w, lambda x: x['confirmed_balance'] == expect,
                     'the spend')

        # 5. kill -9 during a 500-block scan, then the restart: same
        # balances as the node that followed it all.
        b.mine(500)
        wait_tip(w, b.height())
        clean = balance(w)
        k = h.node('k', *args)
        k.start()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            t = int(wallet_state(k)['tip_height'])
            if t > birthday + 50:
                break
            time.sleep(0.05)
        k.kill()
        print(f'killed at wallet tip {t} of {b.height()}', file=sys.stderr)
        k.start()
        wait_tip(k, b.height(), timeout=240)
        got = balance(k)
        if got != clean:
            fail(f'after kill -9: {got}, clean scan: {clean}')

        # 6. Accounts imported into a running node with a birthday in the
        # past: they are scanned from it, the wallet tip stays.
        plain = [a for a in args if not a.startswith('--wallet.')]
        r = h.node('r', *plain)
        r.start()
        wait_tip(r, b.height())
        p = coldctl(r, 'wallet', 'importaccounts', '--birthday',
                    str(birthday), accounts)
        res = json.loads(p.stdout)
        if (res['added'] != 3 or not res['rescan'] or
                int(res['birthday']) != birthday):
            fail(f'import with a past birthday: {res}')
        wait_rescan(r, timeout=240)
        wait_tip(r, b.height(), timeout=240)
        got = balance(r)
        if got != clean:
            fail(f'rescan after a runtime import: {got}, clean scan: {clean}')

        # 8. A wallet without a birthday (it started at the chain's tip)
        # holding a coin, then accounts imported with a birthday after
        # that coin's block: the coin stays (the import used to forget the
        # whole scan and restart at the birthday: issue 17, item 2), the
        # new accounts are found from their birthday, the tip stays.
        hd2 = hdtool({'cmd': 'accounts', 'n': 3})
        hd3 = hdtool({'cmd': 'accounts', 'n': 3})
        acc2 = os.path.join(h.tmp, 'accounts2.json')
        acc3 = os.path.join(h.tmp, 'accounts3.json')
        for path, d in ((acc2, hd2), (acc3, hd3)):
            with open(path, 'w') as f:
                json.dump(lnd_accounts(d), f)
        q = h.node('q', *plain, f'--wallet.accounts={acc2}')
        q.start()
        wait_tip(q, b.height())
        b.pay_to([(hd2['accounts'][1]['ext'][0], 40000)])
        b.mine(1)
        wait_balance(q, lambda x: x['confirmed_balance'] == 40000,
                     'the payment before the birthday')
        b.mine(2)
        bday = b.height()
        b.pay_to([(hd3['accounts'][1]['ext'][1], 15000)])
        b.mine(1)
        b.pay_to([(hd3['accounts'][0]['ext'][2], 25000)])
        b.mine(1)
        wait_tip(q, b.height())
        p = coldctl(q, 'wallet', 'importaccounts', '--birthday', str(bday),
                    acc3)
        res = json.loads(p.stdout)
        if res['added'] != 3 or not res['rescan']:
            fail(f'import into a wallet without a birthday: {res}')
        if int(wallet_state(q)['tip_height']) != b.height():
            fail(f'the wallet tip moved back: {wallet_state(q)}')
        wait_rescan(q)
        wait_balance(q, lambda x: (x['confirmed_balance'] == 80000 and
                                   x['unconfirmed_balance'] == 0),
                     'the old coin kept and the new accounts rescanned')
        q.stop()

        # 7. The chain backend lost: the last balances are served, GetState
        # says they are stale and how old.
        b.kill()
        deadline = time.monotonic() + 60
        while not wallet_state(w)['stale']:
            if time.monotonic() > deadline:
                fail(f'wallet not stale with bcoin gone: {wallet_state(w)}')
            time.sleep(0.2)
        if balance(w) != clean or int(wallet_state(w)['updated_unix']) <= 0:
            fail(f'balances while the chain is lost: {balance(w)}')


if __name__ == '__main__':
    run(main)
