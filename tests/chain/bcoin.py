"""A real bitcoin full node for the tests: bcoin 1.0.2 on regtest.

Standard library only.  bcoin is installed by `scripts/install-deps --test`
into tests/bcoin/node_modules (pinned in tests/bcoin/package-lock.json);
meson passes NODE (node.js) and BCOIN_DIR (tests/bcoin) in the environment,
the defaults below work from a source checkout too.

    from bcoin import Bcoin
    with Bcoin() as b:                      # starts on a free 127.0.0.1 port
        b.mine(101)                         # to the harness's own key
        f = b.fund_2of2(pub1, pub2, 100000) # real P2WSH 2-of-2, mined
        f.scid                              # (block height, tx index, vout)
        b.rpc('getblockcount')

Everything is 127.0.0.1 only; the node keeps its chain in memory, so a
restart (stop()/start()) starts from genesis unless keep_chain: then the
blocks are fed back with submitblock.  bcoin quirks handled here (see the
issue): segwit activates at height 432 on its regtest (activate_segwit()),
sendrawtransaction returns before validation (send() waits for the mempool),
getblock takes verbosity 0 or 1.
"""

import base64
import hashlib
import json
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
BCOIN_DIR = os.path.abspath(os.environ.get('BCOIN_DIR') or
                            os.path.join(HERE, '..', 'bcoin'))
NODE = os.environ.get('NODE') or 'node'
SEGWIT_HEIGHT = 432
COINBASE_MATURITY = 100


def _varint(n):
    return bytes([n]) if n < 0xfd else b'\xfd' + n.to_bytes(2, 'little')


def _empty_block(prev_hash_hex, height, ntime):
    """A regtest block with only a coinbase paying nothing (BIP 34 height
    in its scriptSig) on prev_hash_hex (display order), its proof of work
    ground here (regtest's target passes about every other nonce).
    Returns (hex, hash in display order)."""
    script_sig = bytes([3]) + height.to_bytes(3, 'little') + b'\x00\x00'
    cb = (b'\x01\x00\x00\x00' + b'\x01' + b'\x00' * 32 +
          b'\xff\xff\xff\xff' + _varint(len(script_sig)) + script_sig +
          b'\xff\xff\xff\xff' + b'\x01' + (0).to_bytes(8, 'little') +
          b'\x01\x51' + b'\x00\x00\x00\x00')
    merkle = hash256(cb)
    bits = 0x207fffff
    target = (bits & 0xffffff) << (8 * ((bits >> 24) - 3))
    for nonce in range(1 << 20):
        hdr = ((0x20000000).to_bytes(4, 'little') +
               bytes.fromhex(prev_hash_hex)[::-1] + merkle +
               ntime.to_bytes(4, 'little') + bits.to_bytes(4, 'little') +
               nonce.to_bytes(4, 'little'))
        h = hash256(hdr)
        if int.from_bytes(h, 'little') <= target:
            return (hdr + b'\x01' + cb).hex(), h[::-1].hex()
    raise BcoinError('no proof of work found')


class BcoinError(Exception):
    pass


class RPCError(BcoinError):
    def __init__(self, code, message):
        super().__init__(f'{code}: {message}')
        self.code = code
        self.message = message


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


def sha256(b):
    return hashlib.sha256(b).digest()


def hash256(b):
    return sha256(sha256(b))


def p2pkh_script(pub_hex):
    h = hashlib.new('ripemd160', sha256(bytes.fromhex(pub_hex))).digest()
    return '76a914' + h.hex() + '88ac'


def multisig_2of2(pub1_hex, pub2_hex, sort=True):
    """BOLT 3 funding witness script: 2 <pubkey1> <pubkey2> 2 OP_CHECKMULTISIG,
    keys in lexicographic order of their compressed form (sort=False keeps
    the given order, for wrong-order tests)."""
    a, b = bytes.fromhex(pub1_hex), bytes.fromhex(pub2_hex)
    if sort and b < a:
        a, b = b, a
    return (b'\x52\x21' + a + b'\x21' + b + b'\x52\xae').hex()


def p2wsh(witness_script_hex):
    return '0020' + sha256(bytes.fromhex(witness_script_hex)).hex()


def tool(req):
    """Run tests/bcoin/tool.js with one JSON request (keygen, sign)."""
    p = subprocess.run([NODE, os.path.join(BCOIN_DIR, 'tool.js')],
                       input=json.dumps(req).encode(), capture_output=True,
                       timeout=60, cwd=BCOIN_DIR)
    if p.returncode != 0:
        raise BcoinError('tool.js: ' + p.stderr.decode(errors='replace'))
    return json.loads(p.stdout)


def keygen(n=1):
    """n fresh compressed keys: [{wif, priv, pub}] (hex)."""
    return tool({'cmd': 'keygen', 'n': n})


class Funding:
    """A mined funding output."""

    def __init__(self, txid, vout, value, script, height, txindex, blockhash,
                 witness_script=None, wifs=None):
        self.txid, self.vout, self.value, self.script = txid, vout, value, script
        self.height, self.txindex, self.blockhash = height, txindex, blockhash
        self.witness_script, self.wifs = witness_script, wifs

    @property
    def scid(self):
        return (self.height, self.txindex, self.vout)

    @property
    def scid_int(self):
        return (self.height << 40) | (self.txindex << 16) | self.vout

    @property
    def scid_str(self):
        return f'{self.height}x{self.txindex}x{self.vout}'


class Bcoin:
    def __init__(self, api_key='coldnode-test-pass', log=None):
        self.api_key = api_key
        self.port = None
        self.proc = None
        self.logpath = log
        self._logf = None
        self.miner = None          # {wif, priv, pub}
        self.miner_script = None
        self._spent = set()        # (txid, vout) of coinbases we used

    # -- process --------------------------------------------------------
    def start(self, port=None, timeout=30.0):
        self.port = port or self.port or free_port()
        entry = os.path.join(BCOIN_DIR, 'node_modules', 'bcoin', 'bin', 'node')
        if not os.path.exists(entry):
            raise BcoinError(f'{entry} missing: run scripts/install-deps --test')
        args = [NODE, entry, '--network=regtest', '--memory=true',
                '--workers=false', '--listen=false', '--http-host=127.0.0.1',
                # no wallet plugin: its HTTP server has a fixed port
                '--no-wallet=true',
                f'--http-port={self.port}', f'--api-key={self.api_key}',
                '--log-level=warning', '--log-console=true']
        if self.logpath:
            self._logf = open(self.logpath, 'ab')
        self.proc = subprocess.Popen(
            args, cwd=BCOIN_DIR, stdin=subprocess.DEVNULL,
            stdout=self._logf or subprocess.DEVNULL,
            stderr=subprocess.STDOUT if self._logf else subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise BcoinError(f'bcoin exited with {self.proc.returncode}')
            try:
                self.rpc('getblockcount', timeout=2)
                break
            except (OSError, BcoinError):
                if time.monotonic() > deadline:
                    self.stop()
                    raise BcoinError('bcoin did not answer within '
                                     f'{timeout:.0f} s')
                time.sleep(0.1)
        if self.miner is None:
            self.miner = keygen(1)[0]
            self.miner_script = p2pkh_script(self.miner['pub'])
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None
        if self._logf:
            self._logf.close()
            self._logf = None

    def kill(self):
        """SIGKILL (the node goes away without a goodbye)."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None

    def restart_with_blocks(self, extra=0):
        """Stop, start again on the same port and feed the old chain back
        (bcoin keeps its chain in memory), then mine `extra` more blocks."""
        raws = [self.rpc('getblock', self.rpc('getblockhash', h), 0)
                for h in range(1, self.rpc('getblockcount') + 1)]
        self.stop()
        self.start(port=self.port)
        for r in raws:
            self.rpc('submitblock', r)
        if extra:
            self.mine(extra)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    @property
    def url(self):
        return f'http://127.0.0.1:{self.port}/'

    def coldnode_args(self):
        """coldnode options pointing at this node."""
        return ['--bitcoin.node=bitcoind',
                f'--bitcoind.rpchost=127.0.0.1:{self.port}',
                '--bitcoind.rpcuser=coldnode', f'--bitcoind.rpcpass={self.api_key}']

    # -- JSON-RPC -------------------------------------------------------
    def rpc_raw(self, body, timeout=30):
        data = json.dumps(body).encode()
        req = urllib.request.Request(self.url, data=data, method='POST')
        auth = base64.b64encode(f'x:{self.api_key}'.encode()).decode()
        req.add_header('Authorization', 'Basic ' + auth)
        req.add_header('Content-Type', 'application/json')
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as e:
            body = e.read()
            try:
                return json.loads(body)
            except ValueError:
                raise BcoinError(f'HTTP {e.code}: {body[:200]!r}')

    def rpc(self, method, *params, timeout=30):
        r = self.rpc_raw({'method': method, 'params': list(params), 'id': 1},
                         timeout=timeout)
        if r.get('error'):
            raise RPCError(r['error'].get('code'), r['error'].get('message'))
        return r['result']

    # -- chain ----------------------------------------------------------
    def height(self):
        return self.rpc('getblockcount')

    def mine(self, n=1, script=None):
        """Mine n blocks (coinbase to the harness key, or to the P2PKH of
        `script`'s key); returns their hashes."""
        hashes = []
        addr = self._miner_address()
        left = n
        while left > 0:
            k = min(left, 200)
            hashes += self.rpc('generatetoaddress', k, addr, timeout=120)
            left -= k
        return hashes

    def _miner_address(self):
        # bcoin's regtest address prefixes differ from bitcoind's: let bcoin
        # print it (tool.js keygen).
        return self.miner['address']

    def activate_segwit(self):
        """bcoin's regtest activates segwit at height 432."""
        h = self.height()
        if h < SEGWIT_HEIGHT + 1:
            self.mine(SEGWIT_HEIGHT + 1 - h)

    def _coinbase_utxo(self, need):
        """A mature, unspent coinbase of the harness key worth >= need."""
        tip = self.height()
        for h in range(1, tip - COINBASE_MATURITY + 1):
            blk = self.rpc('getblock', self.rpc('getblockhash', h), 1)
            txid = blk['tx'][0]
            if (txid, 0) in self._spent:
                continue
            out = self.rpc('gettxout', txid, 0)
            if not out:
                self._spent.add((txid, 0))
                continue
            value = round(out['value'] * 1e8)
            if out['scriptPubKey']['hex'] != self.miner_script or value < need:
                self._spent.add((txid, 0))
                continue
            return txid, 0, value
        raise BcoinError('no mature coinbase: mine() more than 100 blocks first')

    def send(self, hexstr, timeout=30):
        """sendrawtransaction and wait until the tx is in the mempool (bcoin
        answers before it validated the tx)."""
        txid = self.rpc('sendrawtransaction', hexstr)
        deadline = time.monotonic() + timeout
        while txid not in self.rpc('getrawmempool'):
            if time.monotonic() > deadline:
                raise BcoinError(f'tx {txid} not in the mempool after {timeout} s '
                                 '(rejected?)')
            time.sleep(0.05)
        return txid

    def pay_to(self, outputs, fee=10000):
        """One tx from a harness coinbase to outputs [(script_hex, value)];
        sent, not mined. Returns (txid, hex)."""
        total = sum(v for _, v in outputs)
        txid, vout, value = self._coinbase_utxo(total + fee)
        outs = [{'script': s, 'value': v} for s, v in outputs]
        change = value - total - fee
        if change > 1000:
            outs.append({'script': self.miner_script, 'value': change})
        r = tool({'cmd': 'sign', 'inputs': [{
            'txid': txid, 'vout': vout, 'value': value,
            'script': self.miner_script, 'wifs': [self.miner['wif']]}],
            'outputs': outs})
        self._spent.add((txid, vout))
        self.send(r['hex'])
        return r['txid'], r['hex']

    def empty_branch(self, blockhash, n):
        """Reorg: invalidate blockhash and submit n blocks holding only a
        coinbase on its parent (so nothing of the old branch is mined
        again, whatever bcoin does with its mempool).  Returns the new
        tip's hash."""
        parent = self.rpc('getblockheader', blockhash, True)
        self.rpc('invalidateblock', blockhash)
        prev, t = parent['previousblockhash'], parent['time']
        for i in range(n):
            raw, prev = _empty_block(prev, parent['height'] + i, t + 1 + i)
            self.rpc('submitblock', raw)
        if self.rpc('getbestblockhash') != prev:
            raise BcoinError('the empty branch did not become the best')
        return prev

    def locate(self, txid, blockhash):
        """(height, index in block) of txid in blockhash."""
        blk = self.rpc('getblock', blockhash, 1)
        return blk['height'], blk['tx'].index(txid)

    def fund(self, script_hex, value, mine=True):
        """A real output paying script_hex, mined in a block of its own.
        Returns a Funding."""
        txid, _ = self.pay_to([(script_hex, value)])
        if not mine:
            return Funding(txid, 0, value, script_hex, None, None, None)
        bh = self.mine(1)[0]
        height, idx = self.locate(txid, bh)
        return Funding(txid, 0, value, script_hex, height, idx, bh)

    def fund_2of2(self, pub1, pub2, value=100000, keys=None, sort=True):
        """A real BOLT 3 funding output: P2WSH of the 2-of-2 of pub1/pub2,
        mined. keys: the two private keys, kept for spend(): {wif,..}
        dicts from keygen() or raw 32-byte private keys (hex or bytes)."""
        ws = multisig_2of2(pub1, pub2, sort=sort)
        f = self.fund(p2wsh(ws), value)
        f.witness_script = ws
        f.wifs, f.privs = None, None
        if keys and isinstance(keys[0], dict):
            f.wifs = [k['wif'] for k in keys]
        elif keys:
            f.privs = [k.hex() if isinstance(k, bytes) else k for k in keys]
        return f

    def spend(self, f, to_script=None, fee=1000, mine=True):
        """Spend a Funding made by fund_2of2 with its keys (needs segwit
        active: activate_segwit() before funding). Returns the spending txid."""
        if not (f.wifs or getattr(f, 'privs', None)):
            raise BcoinError('spend: the funding was made without keys')
        r = tool({'cmd': 'sign', 'inputs': [{
            'txid': f.txid, 'vout': f.vout, 'value': f.value, 'script': f.script,
            'wifs': f.wifs or [], 'privs': getattr(f, 'privs', None) or [],
            'witness_script': f.witness_script}],
            'outputs': [{'script': to_script or self.miner_script,
                         'value': f.value - fee}]})
        self.send(r['hex'])
        if mine:
            self.mine(1)
        return r['txid']
