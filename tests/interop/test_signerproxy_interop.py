"""coldnode's signer proxy between a watch-only lnd and an outbound signer,
both played by implementations nobody here wrote the wire code of:

  lnd's side: tests/interop/lnd_watchonly.js, @grpc/grpc-js on lnd's own
  signer.proto and walletkit.proto from the npm `lightning` package, one
  channel, lnd's 5 s deadline, its macaroon as hex metadata;
  the signer: tests/interop/lnd_signer.js (lnd's outbound signer rules,
  MuSig2 on @brandonblack/musig, PSBTs on bitcoinjs-lib).

  1. basic: ECDH, SignMessage wire/compact/Schnorr, a MuSig2 session from
     create to combine (the signature verifies under the aggregate key), a
     signer error (UNKNOWN + the signer's text), an unknown method
     (UNIMPLEMENTED naming it); every answer equals the same signer's own
     answer byte for byte.
  2. SignPsbt of a real PSBT spending a bcoin regtest output; the
     finalized transaction is accepted and mined by bcoin.
  3. 1000 DeriveSharedKey calls in flight on one connection, matched.
  4. Bad input: forged, garbage and expired macaroons, an oversized
     request; a signer answering ids it was never sent.
  5. A signer slower than lnd's deadline: ABORTED just before it.  The
     signer killed with calls in flight (it answers late): those and
     new calls (held) fail within the hold time with FAILED_PRECONDITION /
     ABORTED, never UNAVAILABLE or DEADLINE_EXCEEDED; health says
     NOT_SERVING; the signer back: the next call succeeds on the same lnd
     connection.
  6. coldctl state and /metrics count it.

Env (meson): COLDNODE, COLDCTL, NODE, NODE_PATH, PYTHONPATH
(tests/integration and tests/chain), BCOIN_DIR.
"""
import hashlib
import json
import os
import re
import subprocess
import time
import urllib.request

from bcoin import Bcoin
from ctl import coldctl_state
from harness import DEFAULT_TIMEOUT, Harness, Lines, fail, ln_privkey, \
    ln_pubkey, run

NODE = os.environ.get('NODE', 'node')
HERE = os.path.dirname(os.path.abspath(__file__))
HOLD = 1.5  # --signerproxy.holdtime


class Proc:
    """A child whose stdout lines are read by a thread (harness.Lines)."""

    def __init__(self, args, env=None):
        self.p = subprocess.Popen(args, stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True,
                                  env=env)
        self.out = Lines(self.p)

    def line(self, pred, timeout=DEFAULT_TIMEOUT, what='a line'):
        return self.out.wait(pred, timeout, what)

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()


class Lnd(Proc):
    def cmd(self, c, timeout=DEFAULT_TIMEOUT, expect_ok=True):
        self.p.stdin.write(c + '\n')
        self.p.stdin.flush()
        ln = self.line(lambda l: l.startswith('{') and '"cmd"' in l,
                       timeout, f'answer to {c}')
        r = json.loads(ln)
        if expect_ok and not r['ok']:
            fail(f'{c}: {r["error"]}')
        return r


def start_signer(x, priv, sport, **env):
    """Start the signer and wait until coldnode is ACTIVE with it."""
    m = x.mark()
    e = dict(os.environ, **env)
    s = Proc([NODE, os.path.join(HERE, 'lnd_signer.js'), f'127.0.0.1:{sport}',
              os.path.join(x.datadir, 'tls.cert'),
              os.path.join(x.datadir, 'signer.macaroon'), priv.hex()], env=e)
    s.line(lambda l: l == 'REGISTERED', what='REGISTERED')
    x.wait_log(r'-> ACTIVE', since=m)
    return s


def kill_signer(x, s):
    m = x.mark()
    s.kill()
    x.wait_log(r'ACTIVE -> SAFE_MODE', since=m)


def metrics(port):
    with urllib.request.urlopen(f'http://127.0.0.1:{port}/metrics',
                                timeout=10) as r:
        return r.read().decode()


def main():
    priv = ln_privkey()
    node_id = ln_pubkey(priv).hex()
    with Harness() as h, Bcoin() as b:
        x = h.node('x', '--signer=remote', '--network=regtest',
                   '--signerlisten=127.0.0.1:0', '--rpclisten=127.0.0.1:0',
                   '--signerproxy.listen=127.0.0.1:0', '--nolisten',
                   f'--signerproxy.holdtime={HOLD}s',
                   f'--signer.nodepubkey={node_id}',
                   '--prometheus.listen=127.0.0.1:0',
                   '--signer.pinginterval=500ms', '--signer.pingtimeout=2s')
        x.start(wait=r'signer proxy for a watch-only lnd')
        mport = int(x.wait_log(
            r'PROM: Prometheus metrics on http://127\.0\.0\.1:(\d+)/').group(1))
        sport = int(x.wait_log(
            r'SUPV: gRPC listening on 127\.0\.0\.1:\d+ \(port (\d+)\)')
            .group(1))
        pport = int(x.wait_log(
            r'SPXY: gRPC listening on 127\.0\.0\.1:\d+ \(port (\d+)\)')
            .group(1))
        macp = os.path.join(x.datadir, 'signerproxy.macaroon')
        if oct(os.stat(macp).st_mode & 0o777) != '0o600':
            fail('signerproxy.macaroon is not 0600')
        if x.count_log(r'p2p started'):
            fail('coldnode started p2p in signer-proxy mode')
        lnd = Lnd([NODE, os.path.join(HERE, 'lnd_watchonly.js'),
                   f'127.0.0.1:{pport}', os.path.join(x.datadir, 'tls.cert'),
                   macp, priv.hex()])
        signer = None
        try:
            # 0. No signer yet: held, then the non-fatal status.
            r = lnd.cmd('health')
            if r.get('serving') != 'NOT_SERVING':
                fail(f'health with no signer: {r}')
            r = lnd.cmd('away 4')
            print('no signer:', r)
            if set(r['codes']) != {'FAILED_PRECONDITION'} or \
                    'signer is away' not in r['sample'] or \
                    r['max_ms'] < HOLD * 1000 * 0.9:
                fail(f'calls with no signer: {r}')

            signer = start_signer(x, priv, sport)
            r = lnd.cmd('health')
            if r.get('serving') != 'SERVING':
                fail(f'health with a signer: {r}')

            # 1. The shapes lnd sends, byte for byte.
            print('basic:', lnd.cmd('basic'))

            # 2. A real PSBT, signed through coldnode, mined by bcoin.
            wallet_pub = subprocess.check_output(
                [NODE, '-e', 'const s=require(process.argv[1]).makeSigner('
                 'Buffer.from(process.argv[2],"hex"));'
                 'console.log(s.walletPub.toString("hex"))',
                 os.path.join(HERE, 'lnd_signer.js'), priv.hex()],
                text=True).strip()
            h160 = hashlib.new('ripemd160', hashlib.sha256(
                bytes.fromhex(wallet_pub)).digest()).digest()
            b.mine(101)
            b.activate_segwit()
            f = b.fund('0014' + h160.hex(), 200000)
            r = lnd.cmd(f'psbt {f.txid} {f.vout} {f.value}')
            txid = b.send(r['tx'])
            bh = b.mine(1)[0]
            if txid not in b.rpc('getblock', bh, 1)['tx']:
                fail('signed PSBT transaction not mined')
            print('psbt: mined', txid)

            # 3. 1000 calls in flight on one connection.
            print('flood:', lnd.cmd('flood 1000', timeout=120))

            # 4. Bad input.
            print('badmac:', lnd.cmd('badmac'))
            print('expiredmac:', lnd.cmd('expiredmac'))
            print('oversized:', lnd.cmd('oversized'))
            kill_signer(x, signer)
            signer = start_signer(x, priv, sport, LND_SIGNER_BOGUS='1')
            print('bogus ids:', lnd.cmd('flood 50'))
            if not x.running():
                fail('coldnode died')

            # 5. Killed with calls in flight (answers 3 s late), then held.
            kill_signer(x, signer)
            signer = start_signer(x, priv, sport, LND_SIGNER_DELAY_MS='3000')
            # A signer slower than lnd's deadline (2 s here): answered
            # ABORTED before it, never DEADLINE_EXCEEDED.
            r = lnd.cmd('slow 4 2000')
            print('slow signer:', r)
            if set(r['codes']) != {'ABORTED'} or r['max_ms'] >= 2000 or \
                    "before the caller's deadline" not in r['sample']:
                fail(f'calls to a slow signer: {r}')
            lnd.p.stdin.write('inflight 20\n')
            lnd.p.stdin.flush()
            lnd.line(lambda l: '"started"' in l, what='started')
            signer.line(lambda l: 'shared_key_request' in l, what='requests')
            time.sleep(0.3)
            kill_signer(x, signer)
            ln = lnd.line(lambda l: '"cmd"' in l, what='inflight result')
            r = json.loads(ln)
            print('killed in flight:', r)
            # ECDH answers were delayed: in flight at the kill (ABORTED);
            # the signatures were answered at once (OK).
            if not r['ok'] or set(r['codes']) != {'ABORTED', 'OK'} or \
                    r['codes']['ABORTED'] != 10:
                fail(f'in-flight calls: {r}')
            if r['max_ms'] > HOLD * 1000 + 1500:
                fail(f'in-flight calls took {r["max_ms"]} ms')
            r = lnd.cmd('away 6')
            print('held while away:', r)
            if set(r['codes']) != {'FAILED_PRECONDITION'} or \
                    r['max_ms'] > HOLD * 1000 + 1000:
                fail(f'held calls: {r}')
            # The signer back: the next call succeeds, same lnd channel.
            signer = start_signer(x, priv, sport)
            print('signer back:', lnd.cmd('flood 10'))
            # Held across the signer's arrival: succeeds.
            kill_signer(x, signer)
            lnd.p.stdin.write('flood 5\n')
            lnd.p.stdin.flush()
            time.sleep(0.3)
            signer = start_signer(x, priv, sport)
            r = json.loads(lnd.line(lambda l: '"cmd"' in l,
                                    what='held flood'))
            if not r['ok']:
                fail(f'calls held until the signer came back: {r}')
            print('held then answered:', r)

            # 6. Visible.
            st = coldctl_state(x)
            sp = st.get('signer_proxy')
            if not sp or sp['hold_time'] != HOLD:
                fail(f'coldctl state: signer_proxy {sp}')
            by = {m['method']: m for m in sp['methods']}
            d = by['DeriveSharedKey']
            if int(d['ok']) < 1000 or int(d['signer_away']) < 1 or \
                    int(d['held']) < 1 or int(d['wait_count']) < 1 or \
                    int(by['SignPsbt']['ok']) != 1 or \
                    int(by['MuSig2CombineSig']['ok']) != 1 or \
                    int(by['SignMessage']['signer_error']) < 1:
                fail(f'coldctl state: signer_proxy counts {sp}')
            lst = [l for l in st['listeners'] if l['name'] == 'signerproxy']
            # One lnd connection through every signer loss: it never had
            # to reconnect.
            if not lst or int(lst[0]['accepted']) != 1 or \
                    int(sp['connections']) != 1:
                fail(f'lnd reconnected to the proxy: {lst} {sp}')
            print('coldctl state signer_proxy DeriveSharedKey:', d)
            m = metrics(mport)
            for pat in [r'coldnode_signerproxy_calls_total\{method='
                        r'"DeriveSharedKey",outcome="ok"\} [1-9]',
                        r'coldnode_signerproxy_calls_total\{method='
                        r'"DeriveSharedKey",outcome="signer_away"\} [1-9]',
                        r'coldnode_signerproxy_held_total\{method='
                        r'"DeriveSharedKey"\} [1-9]',
                        r'coldnode_signerproxy_wait_seconds_count\{method='
                        r'"DeriveSharedKey"\} [1-9]']:
                if not re.search(pat, m):
                    fail(f'/metrics lacks {pat}:\n' + '\n'.join(
                        l for l in m.splitlines() if 'signerproxy' in l))
            if not x.running():
                fail('coldnode exited')
            if x.broken_lines():
                fail(f'BROKEN log lines: {x.broken_lines()}')
        finally:
            lnd.kill()
            if signer:
                signer.kill()


run(main)
