"""coldnode with a signer as strict as lnd's (tests/interop/lnd_signer.js:
grpc-js, lnd's watchonly/signrpc field names and numbers, lnd's
DeriveSharedKey and SignMessage rules and error texts) and an inbound BOLT 8
peer from @node-dlc/noise:

  registration with lnd's fixed values, coldnode's key check (a compact
  SignMessage) -> ACTIVE; the peer's handshake completes through the
  signer's ECDH (refused by lnd's rules if coldnode sent key_desc and the
  deprecated key_loc together); init and ping/pong; our node_announcement,
  signed by the signer, verifies against the node id (Electrum's
  libsecp256k1 binding); the signer is killed -> SAFE_MODE, and the peer's
  session stays (it still gets pongs).  The signer never refuses anything
  coldnode sends.

Env (meson): COLDNODE, NODE, NODE_PATH, PYTHONPATH (tests/integration).
"""
import hashlib
import os
import sqlite3
import subprocess
import time

from electrum import ecc

from harness import CHAIN, DEFAULT_TIMEOUT, Harness, Lines, TestFailure, \
    fail, ln_privkey, ln_pubkey, run

NODE = os.environ.get('NODE', 'node')
HERE = os.path.dirname(os.path.abspath(__file__))
CHAIN_HEX = CHAIN['regtest'].hex()


def stored_ann(node, node_id, timeout=DEFAULT_TIMEOUT):
    path = os.path.join(node.datadir, 'gossip.sqlite3')
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if os.path.exists(path):
            db = sqlite3.connect(f'file:{path}?mode=ro', uri=True, timeout=5)
            try:
                row = db.execute('SELECT raw FROM nodes WHERE node_id = ?',
                                 (bytes.fromhex(node_id),)).fetchone()
            except sqlite3.OperationalError:
                row = None
            finally:
                db.close()
            if row:
                return bytes(row[0])
        time.sleep(0.05)
    fail('our node_announcement never reached the store\n' + node.tail())


def main():
    priv = ln_privkey()
    node_id = ln_pubkey(priv).hex()
    with Harness() as h:
        x = h.node('x', '--signer=remote', '--network=regtest',
                   '--signerlisten=127.0.0.1:0', '--rpclisten=127.0.0.1:0',
                   '--listen=127.0.0.1:0', '--alias=lndsigner',
                   f'--signer.nodepubkey={node_id}',
                   '--signer.pinginterval=500ms', '--signer.pingtimeout=2s',
                   '--debuglevel=debug').start()
        sport = int(x.wait_log(
            r'SUPV: gRPC listening on 127\.0\.0\.1:\d+ \(port (\d+)\)')
            .group(1))
        signer = subprocess.Popen(
            [NODE, os.path.join(HERE, 'lnd_signer.js'),
             f'127.0.0.1:{sport}', os.path.join(x.datadir, 'tls.cert'),
             os.path.join(x.datadir, 'signer.macaroon'), priv.hex()],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        slines = Lines(signer)
        peer = None
        try:
            slines.wait('REGISTERED')
            x.wait_log(r'WAITING_FOR_SIGNER -> ACTIVE')

            # Inbound BOLT 8: act 2 needs ECDH with the node key.
            peer = subprocess.Popen(
                [NODE, os.path.join(HERE, 'noise_peer.js'), 'hold',
                 '127.0.0.1', str(x.p2p_port()), node_id, CHAIN_HEX],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT, text=True)
            plines = Lines(peer)
            try:
                plines.wait('OK client')
            except TestFailure as e:
                time.sleep(0.5)  # let the signer's last lines arrive
                fail(f'{e}\nhandshake through the signer failed; the '
                     f'signer said: {slines.drain()}')
            x.wait_log(r'ready \(inbound, gossip-only\)')

            # Our node_announcement, signed through the signer.
            raw = stored_ann(x, node_id)
            if int.from_bytes(raw[:2], 'big') != 257:
                fail('stored node_announcement has the wrong type')
            digest = hashlib.sha256(hashlib.sha256(raw[66:]).digest()).digest()
            pub = ecc.ECPubkey(bytes.fromhex(node_id))
            if not pub.verify_message_hash(raw[2:66], digest):
                fail('node_announcement signature does not verify')

            # Every request coldnode sent passed lnd's rules.
            signer.kill()
            log = slines.rest()
            refused = [l for l in log if l.startswith('REFUSED')]
            if refused:
                fail(f'lnd-faithful signer refused: {refused}')
            kinds = {l.split()[2] for l in log if l.startswith('REQUEST')}
            if 'shared_key_request' not in kinds or \
                    'sign_message_req' not in kinds:
                fail(f'requests seen by the signer: {kinds}')

            # Signer gone: safe mode; the gossip-only peer stays.
            x.wait_log(r'ACTIVE -> SAFE_MODE: signer lost')
            peer.stdin.write('ping\n')
            peer.stdin.flush()
            plines.wait('PONG')
            if not x.running():
                fail('coldnode exited')
        finally:
            for p in (signer, peer):
                if p and p.poll() is None:
                    p.kill()
                    p.wait()


run(main)
