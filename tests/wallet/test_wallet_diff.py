"""Differential test: coldnode's wallet against bcoin 1.0.2's own wallet.

Both watch the same BIP84 account keys (coldnode: lnd's accounts JSON with
the vpub; bcoin: a watch-only wallet per account, `PUT /wallet/:id
{watchOnly, witness, accountKey}` with the key in bcoin's regtest `rpub`
version) on the same bcoin node, and one random sequence drives the chain:
payments to random indexes inside the gap (confirmed or left in the
mempool), spends signed from the mnemonic, invalidateblock of depth 1 to 10
followed by a longer competing branch, coldnode killed -9 at random moments
(also in the middle of a catch-up), and a second account imported later
with a birthday in the past (coldnode: importaccounts --birthday; bcoin: a
second watch-only wallet and `POST /rescan`).  After every step both must
be caught up with the node and their balances, per account, must agree,
except in these named cases, where lnd's semantics differ from bcoin's:

  MEMPOOL_SPEND   a confirmed coin spent by a mempool transaction leaves
                  lnd's confirmed balance at once (btcwallet's ListUnspent
                  skips it); bcoin's `confirmed` keeps it until the spend is
                  mined.  Compared: coldnode confirmed == bcoin confirmed -
                  the value of our coins spent by bcoin's pending txs.
  DROPPED_PENDING after invalidateblock the node clears its whole mempool;
                  bcoin's wallet keeps those transactions as pending.  They
                  are abandoned in bcoin (DELETE /wallet/:id/tx/:hash, what
                  `zap` does by age) before comparing.
  WINDOW          bcoin watches max(1, used) + 10 addresses per branch
                  (lookahead 10, not settable over HTTP), coldnode used + 10
                  (--wallet.gaplimit=10): payments go below used + 10.
  (SHORTER)       not a difference: invalidateblock without a longer
                  branch (the node's chain gets shorter and coldnode follows
                  it back, issue 17); WALLET_DIFF_SHORTER=0 leaves these
                  steps out (a coldnode before that fix kept the orphaned
                  blocks).

The seed is printed; WALLET_DIFF_SEED=N reproduces a run,
WALLET_DIFF_STEPS=N sets its length (meson: 200 in the plain build, 30 in
the sanitizer build, 1,000 with -Dlong_tests=true).
"""
import base64
import json
import os
import random
import subprocess
import sys
import time
import urllib.error
import urllib.request

import bcoin as bcoinmod
from bcoin import Bcoin, BcoinError, RPCError, free_port
from ctl import coldctl_state, rpc_port
from harness import Harness, fail, run

HERE = os.path.dirname(os.path.abspath(__file__))
B58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz'
GAP = 10
NSCRIPTS = 400       # derived per branch by the test
FUND_OUTPUTS = 600   # 0.05 BTC outputs of the fan-out transaction
FUND_VALUE = 5_000_000


def b58check_reversion(key, version_hex):
    """The same extended key with other version bytes (bcoin wants its
    regtest `rpub` 0xeab4fa05; lnd writes vpub 0x045f1cf6 for m/84')."""
    import hashlib
    n = 0
    for c in key:
        n = n * 58 + B58.index(c)
    raw = n.to_bytes(82, 'big')[:-4]
    raw = bytes.fromhex(version_hex) + raw[4:]
    raw += hashlib.sha256(hashlib.sha256(raw).digest()).digest()[:4]
    n = int.from_bytes(raw, 'big')
    s = ''
    while n:
        n, r = divmod(n, 58)
        s = B58[r] + s
    return s


class BcoinWallet(Bcoin):
    """bcoin with its wallet plugin, its HTTP server on a free port."""

    def start(self, port=None, timeout=30.0):
        self.port = port or self.port or free_port()
        self.wport = getattr(self, 'wport', None) or free_port()
        entry = os.path.join(bcoinmod.BCOIN_DIR, 'node_modules', 'bcoin',
                             'bin', 'node')
        args = [bcoinmod.NODE, entry, '--network=regtest', '--memory=true',
                '--workers=false', '--listen=false',
                '--http-host=127.0.0.1', f'--http-port={self.port}',
                f'--api-key={self.api_key}',
                '--wallet-http-host=127.0.0.1',
                f'--wallet-http-port={self.wport}',
                '--log-level=warning', '--log-console=true']
        if self.logpath:
            self._logf = open(self.logpath, 'ab')
        self.proc = subprocess.Popen(
            args, cwd=bcoinmod.BCOIN_DIR, stdin=subprocess.DEVNULL,
            stdout=self._logf or subprocess.DEVNULL,
            stderr=subprocess.STDOUT if self._logf else subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise BcoinError(f'bcoin exited with {self.proc.returncode}')
            try:
                self.rpc('getblockcount', timeout=2)
                self.wallet_http('GET', '/wallet/primary')
                break
            except (OSError, BcoinError):
                if time.monotonic() > deadline:
                    self.stop()
                    raise BcoinError('bcoin did not answer')
                time.sleep(0.1)
        if self.miner is None:
            self.miner = bcoinmod.keygen(1)[0]
            self.miner_script = bcoinmod.p2pkh_script(self.miner['pub'])
        return self

    def wallet_http(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(
            f'http://127.0.0.1:{self.wport}{path}', data=data, method=method)
        auth = base64.b64encode(f'x:{self.api_key}'.encode()).decode()
        req.add_header('Authorization', 'Basic ' + auth)
        req.add_header('Content-Type', 'application/json')
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return json.loads(r.read() or b'null')
        except urllib.error.HTTPError as e:
            raise BcoinError(f'{method} {path}: HTTP {e.code} '
                             f'{e.read()[:300]!r}')


class Tool:
    """tests/wallet/difftool.js, kept running."""

    def __init__(self):
        env = dict(os.environ)
        env.setdefault('BCOIN_DIR', bcoinmod.BCOIN_DIR)
        self.p = subprocess.Popen(
            [bcoinmod.NODE, os.path.join(HERE, 'difftool.js')],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            env=env)

    def __call__(self, **req):
        self.p.stdin.write(json.dumps(req) + '\n')
        self.p.stdin.flush()
        r = json.loads(self.p.stdout.readline())
        if 'error' in r:
            fail(f'difftool {req.get("cmd")}: {r["error"]}')
        return r['ok']

    def close(self):
        self.p.stdin.close()
        self.p.wait(10)


class Account:
    def __init__(self, tool, mnemonic, index):
        a = tool(cmd='account', mnemonic=mnemonic, account=index,
                 n=NSCRIPTS)
        self.index = index
        self.name = f'a{index}'
        self.path = a['path']
        self.xpub = a['xpub']
        self.scripts = [a['ext'], a['chg']]
        self.where = {}
        for br in (0, 1):
            for i, s in enumerate(self.scripts[br]):
                self.where[s] = (br, i)
        self.used = [0, 0]   # one past the highest index paid, per branch
        self.wid = f'w{index}'

    def lnd_json(self):
        return {'accounts': [{
            'name': self.name, 'address_type': 'WITNESS_PUBKEY_HASH',
            'extended_public_key': b58check_reversion(self.xpub, '045f1cf6'),
            'master_key_fingerprint': None, 'derivation_path': self.path,
            'external_key_count': 0, 'internal_key_count': 0,
            'watch_only': False}]}

    def pick(self, rng, branch=None, limit=None):
        """A random index inside both wallets' windows (WINDOW)."""
        br = rng.choice((0, 0, 1)) if branch is None else branch
        hi = min(self.used[br] + GAP, NSCRIPTS)
        if limit is not None:
            hi = min(hi, limit)
        lo = max(0, self.used[br] - 15)
        i = rng.randrange(lo, hi)
        return br, i


class Diff:
    def __init__(self, h, b, tool, rng, coldnode_args):
        self.h, self.b, self.tool, self.rng = h, b, tool, rng
        self.args = coldnode_args
        self.node = None
        self.funds = []          # (txid, vout) of fan-out outputs
        self.fund_script = None
        self.base = 0            # lowest height a reorg may undo
        self.accts = []
        self.imported = []       # accounts coldnode and bcoin watch
        self.log = []
        self.counts = {}
        self.dropped = 0

    # ---- comparison -------------------------------------------------------
    def cold_balances(self):
        p = subprocess.run(
            [os.environ['COLDCTL'], f'--datadir={self.node.datadir}',
             f'--rpcserver=127.0.0.1:{rpc_port(self.node)}',
             '--macaroonpath=' +
             os.path.join(self.node.datadir, 'monitor.macaroon'),
             '--timeout=10', 'walletbalance'],
            capture_output=True, text=True, timeout=30)
        if p.returncode != 0:
            return None
        r = json.loads(p.stdout)
        out = {}
        for a in self.imported:
            e = r.get('account_balance', {}).get(a.name, {})
            out[a.name] = (int(e.get('confirmed_balance', 0)),
                           int(e.get('unconfirmed_balance', 0)))
        return out

    def bcoin_expected(self):
        """What coldnode must show, per account, from bcoin's wallets."""
        out = {}
        for a in self.imported:
            bal = self.b.wallet_http('GET', f'/wallet/{a.wid}/balance')
            # MEMPOOL_SPEND: our coins spent by pending transactions.
            spent = 0
            for tx in self.b.wallet_http('GET',
                                         f'/wallet/{a.wid}/tx/unconfirmed'):
                for i in tx['inputs']:
                    if i.get('path'):
                        spent += i['value']
            conf = bal['confirmed'] - spent
            out[a.name] = (conf, bal['unconfirmed'] - conf)
        return out

    def drop_pending(self):
        """DROPPED_PENDING: abandon in bcoin what the node's mempool lost."""
        mp = set(self.b.rpc('getrawmempool'))
        n = 0
        for a in self.imported:
            for tx in self.b.wallet_http('GET',
                                         f'/wallet/{a.wid}/tx/unconfirmed'):
                if tx['hash'] not in mp:
                    try:
                        self.b.wallet_http(
                            'DELETE', f'/wallet/{a.wid}/tx/{tx["hash"]}')
                        n += 1
                    except BcoinError as e:
                        # gone with an abandoned parent (bcoin removes a
                        # transaction's spenders with it)
                        if 'not eligible' not in str(e):
                            raise
        return n

    def cold_synced(self):
        try:
            w = coldctl_state(self.node)['wallet']
        except SystemExit:
            raise
        best = self.b.rpc('getbestblockhash')
        return (w.get('tip_hash') == best and
                int(w.get('rescan_height', -1)) == -1)

    def agree(self, step, timeout=60.0, drop=False):
        """Both caught up with the node, equal for two reads in a row.
        @drop: after an invalidateblock, abandon in bcoin what the node's
        mempool dropped (bcoin's wallet learns of the disconnects some
        time after the RPC answered: each read, not once)."""
        deadline = time.monotonic() + timeout
        last = None
        stable = 0
        while time.monotonic() < deadline:
            if drop:
                self.dropped += self.drop_pending()
            if self.cold_synced():
                want = self.bcoin_expected()
                got = self.cold_balances()
                if got == want and want == last:
                    stable += 1
                    if stable >= 2:
                        return want
                else:
                    stable = 0
                last = want if got == want else None
            time.sleep(0.1)
        w = coldctl_state(self.node)['wallet']
        fail(f'step {step}: balances differ: coldnode {self.cold_balances()}'
             f', bcoin (mapped) {self.bcoin_expected()}; wallet {w}; node '
             f'tip {self.b.height()} {self.b.rpc("getbestblockhash")}\n'
             f'last steps: {self.log[-8:]}\n{self.node.tail()}')

    # ---- setup ------------------------------------------------------------
    def setup(self, mnemonic):
        b = self.b
        b.activate_segwit()
        self.fund_script = self.tool(cmd='p2wkh',
                                     wif=b.miner['wif'])['script']
        # one early coinbase (50 BTC) fanned out
        cb = b.rpc('getblock', b.rpc('getblockhash', 1), 1)['tx'][0]
        value = round(b.rpc('gettxout', cb, 0)['value'] * 1e8)
        outs = [{'script': self.fund_script, 'value': FUND_VALUE}
                for _ in range(FUND_OUTPUTS)]
        # the rest back (bcoin refuses an "absurdly-high-fee")
        outs.append({'script': self.fund_script,
                     'value': value - FUND_VALUE * FUND_OUTPUTS - 100000})
        tx = self.tool(cmd='sign', inputs=[{
            'txid': cb, 'vout': 0, 'value': value, 'wif': b.miner['wif'],
            'script': b.miner_script}], outputs=outs)
        b.send(tx['hex'])
        b.mine(1)
        self.funds = [(tx['txid'], i) for i in range(FUND_OUTPUTS)]
        b.mine(GAP)
        # coldnode's first block: a reorg never reaches below it (blocks
        # below the birthday are not scanned, even when a reorg replaces
        # them; bcoin's wallet follows the reorg down to the fork).
        self.base = b.height()
        self.accts = [Account(self.tool, mnemonic, 0),
                      Account(self.tool, mnemonic, 1)]
        a0 = self.accts[0]
        path = os.path.join(self.h.tmp, 'a0.json')
        with open(path, 'w') as f:
            json.dump(a0.lnd_json(), f)
        self.bcoin_wallet(a0)
        self.imported = [a0]
        # No birthday: the wallet starts at the chain's tip, as a new
        # user's does; the later import with a birthday must keep what it
        # found since (issue 17 item 2).
        self.node = self.h.node('w', *self.args, f'--wallet.accounts={path}')
        self.node.start()
        self.agree('setup')

    def bcoin_wallet(self, a):
        self.b.wallet_http('PUT', f'/wallet/{a.wid}', {
            'watchOnly': True, 'witness': True,
            'accountKey': b58check_reversion(a.xpub, 'eab4fa05')})

    # ---- actions ----------------------------------------------------------
    def pay(self, outputs):
        """One transaction from a fan-out output to [(script, value)]."""
        txid, vout = self.funds.pop()
        total = sum(v for _, v in outputs)
        outs = [{'script': s, 'value': v} for s, v in outputs]
        outs.append({'script': self.fund_script,
                     'value': FUND_VALUE - total - 2000})
        tx = self.tool(cmd='sign', inputs=[{
            'txid': txid, 'vout': vout, 'value': FUND_VALUE,
            'wif': self.b.miner['wif'], 'script': self.fund_script}],
            outputs=outs)
        self.b.send(tx['hex'])
        return tx['txid']

    def step_pay(self, rng):
        a = rng.choice(self.imported)
        n = rng.randint(1, 3)
        outs, picked = [], []
        for _ in range(n):
            br, i = a.pick(rng)
            picked.append((br, i))
            outs.append((a.scripts[br][i], rng.randint(1000, 1_000_000)))
        self.pay(outs)
        for br, i in picked:
            a.used[br] = max(a.used[br], i + 1)
        mined = rng.random() < 0.6
        if mined:
            self.b.mine(1)
        return f'pay {a.name} {picked}{" mined" if mined else ""}'

    def step_mine(self, rng):
        n = rng.randint(1, 3)
        self.b.mine(n)
        return f'mine {n}'

    def step_spend(self, rng):
        cands = []
        for a in self.imported:
            for c in self.b.wallet_http('GET', f'/wallet/{a.wid}/coin'):
                if c['height'] > 0 and c['script'] in a.where:
                    cands.append((a, c))
        if not cands:
            return self.step_pay(rng)
        rng.shuffle(cands)
        a = cands[0][0]
        ins = [c for acct, c in cands if acct is a][:rng.randint(1, 2)]
        total = sum(c['value'] for c in ins)
        inputs = []
        for c in ins:
            br, i = a.where[c['script']]
            inputs.append({'txid': c['hash'], 'vout': c['index'],
                           'value': c['value'],
                           'path': f'{a.path}/{br}/{i}'})
        outs = [{'script': self.fund_script, 'value': total // 2}]
        change = total - total // 2 - 1000
        chg = None
        if change > 1000 and rng.random() < 0.7:
            chg = a.pick(rng, branch=1)
            outs.append({'script': a.scripts[1][chg[1]], 'value': change})
        tx = self.tool(cmd='sign', mnemonic=self.mnemonic, inputs=inputs,
                       outputs=outs)
        self.b.send(tx['hex'])
        if chg:
            a.used[1] = max(a.used[1], chg[1] + 1)
        mined = rng.random() < 0.5
        if mined:
            self.b.mine(1)
        return (f'spend {a.name} {len(ins)} coins, change {chg}'
                f'{" mined" if mined else ""}')

    def step_reorg(self, rng, longer=True):
        tip = self.b.height()
        room = tip - self.base - 1
        if room < 1:
            return self.step_mine(rng)
        d = rng.randint(1, min(10, room))
        blk = self.b.rpc('getblockhash', tip - d + 1)
        self.b.rpc('invalidateblock', blk)
        # a payment on the new branch sometimes, then more work
        extra = ''
        if longer:
            if rng.random() < 0.5:
                extra = ' + ' + self.step_pay(rng)
            if self.b.height() <= tip:
                self.b.mine(tip + 1 - self.b.height())
        return (f'invalidateblock depth {d}'
                f'{", longer branch" if longer else ", shorter"}{extra}')

    def step_kill(self, rng):
        """kill -9 coldnode at a random moment of a catch-up."""
        n = rng.randint(1, 12)
        what = []
        if rng.random() < 0.5:
            what.append(self.step_pay(rng))
        self.b.mine(n)
        time.sleep(rng.random() * 0.4)
        self.node.kill()
        if rng.random() < 0.3:
            what.append(self.step_mine(rng))  # while it is down
        self.node.start()
        return f'kill -9 after mining {n}; {what}'

    def step_import(self, rng):
        a = self.accts[1]
        tip = self.b.height()
        pays = getattr(self, 'a1_heights', set())
        bday = rng.randint(self.base, tip)
        while bday in pays or bday - 1 in pays:
            bday = rng.randint(self.base, tip)
        path = os.path.join(self.h.tmp, 'a1.json')
        with open(path, 'w') as f:
            json.dump(a.lnd_json(), f)
        p = subprocess.run(
            [os.environ['COLDCTL'], f'--datadir={self.node.datadir}',
             f'--rpcserver=127.0.0.1:{rpc_port(self.node)}',
             '--macaroonpath=' +
             os.path.join(self.node.datadir, 'admin.macaroon'),
             '--timeout=10', 'wallet', 'importaccounts', '--birthday',
             str(bday), path], capture_output=True, text=True, timeout=30)
        if p.returncode != 0:
            fail(f'importaccounts: {p.stderr}')
        self.bcoin_wallet(a)
        self.b.wallet_http('POST', '/rescan', {'height': bday})
        self.imported.append(a)
        # Payments made before: in both windows only if below 10 each.
        # One whose block a reorg replaced is gone (the node dropped it
        # with its mempool): it uses no index, or the test would pay past
        # coldnode's window (used + 10) and inside bcoin's (max(1, used)
        # + 10) and call the difference a bug.
        live = [(h, br, i) for (h, br, i, bh) in self.a1_pays
                if self.hash_at(h) == bh]
        a.used = [max([i + 1 for (h, br, i) in live
                       if h >= bday and br == b] or [0]) for b in (0, 1)]
        gone = len(self.a1_pays) - len(live)
        return (f'import a1 with birthday {bday} (tip {tip})'
                f'{f"; {gone} earlier payments reorged away" if gone else ""}')

    def hash_at(self, h):
        """The node's block hash at height @h, None above its tip (a
        'shorter' step may have left it below)."""
        try:
            return self.b.rpc('getblockhash', h)
        except RPCError:
            return None

    def step_pay_future(self, rng):
        """Before its import: a mined payment to account 1, indexes < 10
        (whatever the birthday, each lies inside both windows)."""
        a = self.accts[1]
        br, i = a.pick(rng, limit=GAP - 1)
        self.pay([(a.scripts[br][i], rng.randint(1000, 500_000))])
        self.b.mine(1)
        h = self.b.height()
        self.a1_heights = getattr(self, 'a1_heights', set()) | {h}
        self.a1_pays.append((h, br, i, self.b.rpc('getblockhash', h)))
        return f'pay a1 (not imported yet) {br}/{i} at {h}'


def main():
    seed = int(os.environ.get('WALLET_DIFF_SEED') or
               random.SystemRandom().randrange(1 << 32))
    steps = int(os.environ.get('WALLET_DIFF_STEPS') or 40)
    shorter = os.environ.get('WALLET_DIFF_SHORTER') != '0'
    print(f'wallet differential: seed {seed}, {steps} steps '
          f'(WALLET_DIFF_SEED={seed} reproduces it)', file=sys.stderr)
    rng = random.Random(seed)
    t0 = time.monotonic()
    with Harness() as h, BcoinWallet(log=os.path.join(h.tmp, 'bcoin.log')) \
            as b:
        tool = Tool()
        try:
            mnemonic = tool(cmd='account', n=1)['mnemonic']
            args = ['--signer=local', '--network=regtest', '--nolisten',
                    '--bitcoind.blockpollinginterval=100ms',
                    f'--wallet.gaplimit={GAP}', *b.coldnode_args()]
            d = Diff(h, b, tool, rng, args)
            d.mnemonic = mnemonic
            d.a1_pays = []
            d.setup(mnemonic)
            import_at = rng.randint(steps // 4, max(steps // 2, 1))
            kinds = (['pay'] * 30 + ['mine'] * 12 + ['spend'] * 18 +
                     ['reorg'] * 12 + ['kill'] * 8 + ['future'] * 6 +
                     (['shorter'] * 6 if shorter else []))
            for s in range(steps):
                if s == import_at:
                    kind = 'import'
                else:
                    kind = rng.choice(kinds)
                    if kind == 'future' and d.accts[1] in d.imported:
                        kind = 'pay'
                if kind == 'pay':
                    what = d.step_pay(rng)
                elif kind == 'mine':
                    what = d.step_mine(rng)
                elif kind == 'spend':
                    what = d.step_spend(rng)
                elif kind == 'reorg':
                    what = d.step_reorg(rng)
                elif kind == 'shorter':
                    what = d.step_reorg(rng, longer=False)
                elif kind == 'kill':
                    what = d.step_kill(rng)
                elif kind == 'future':
                    what = d.step_pay_future(rng)
                else:
                    what = d.step_import(rng)
                d.counts[kind] = d.counts.get(kind, 0) + 1
                d.log.append(f'{s}: {what}')
                bal = d.agree(f'{s} ({what})',
                              drop=kind in ('reorg', 'shorter'))
                if os.environ.get('WALLET_DIFF_VERBOSE'):
                    print(f'{s}: {what} -> {bal}', file=sys.stderr)
            final = d.agree('final')
            print(f'wallet differential: {steps} steps agree in '
                  f'{time.monotonic() - t0:.1f} s; steps by kind '
                  f'{d.counts}; final balances {final}; node height '
                  f'{b.height()}; pending transactions abandoned in bcoin '
                  f'(DROPPED_PENDING) {d.dropped}', file=sys.stderr)
        finally:
            tool.close()


if __name__ == '__main__':
    run(main)
