"""Issue 19 with lnd's outbound signer as the standby, unchanged
(tests/interop/lnd_signer.js: it registers and answers pings, and does not
know it is a standby).  coldnode X runs --signer.maxsigners=2; a coldsigner
is active, the lnd-faithful signer with the same key registers second and
waits.  The coldsigner is killed -9: the lnd signer is active in the same
loop iteration, X stays ACTIVE, and an inbound @node-dlc/noise handshake
completes through it (ECDH by lnd's DeriveSharedKey rules); nothing
coldnode sent it was refused.

Env (meson): COLDNODE, COLDSIGNER, NODE, NODE_PATH, PYTHONPATH."""
import os
import subprocess
import time

from harness import CHAIN, Harness, Lines, TestFailure, fail, ln_privkey, \
    ln_pubkey, run
from signer_harness import Signer

NODE = os.environ.get('NODE', 'node')
HERE = os.path.dirname(os.path.abspath(__file__))
CHAIN_HEX = CHAIN['regtest'].hex()


def main():
    priv = ln_privkey()
    node_id = ln_pubkey(priv).hex()
    with Harness() as h:
        keyfile = os.path.join(h.tmp, 'node.key')
        fd = os.open(keyfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, priv)
        os.close(fd)
        x = h.node('x', '--signer=remote', '--network=regtest',
                   '--signerlisten=127.0.0.1:0', '--rpclisten=127.0.0.1:0',
                   '--listen=127.0.0.1:0', '--signer.maxsigners=2',
                   f'--signer.nodepubkey={node_id}',
                   '--signer.pinginterval=300ms', '--signer.pingtimeout=2s',
                   '--debuglevel=debug').start()
        sport = int(x.wait_log(
            r'SUPV: gRPC listening on 127\.0\.0\.1:\d+ \(port (\d+)\)')
            .group(1))
        cs = Signer(h, 'cs', x, keyfile=keyfile).start()
        x.wait_log(r'WAITING_FOR_SIGNER -> ACTIVE')
        m = x.mark()
        lnd = subprocess.Popen(
            [NODE, os.path.join(HERE, 'lnd_signer.js'),
             f'127.0.0.1:{sport}', os.path.join(x.datadir, 'tls.cert'),
             os.path.join(x.datadir, 'signer.macaroon'), priv.hex()],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        slines = Lines(lnd, timeout=30)
        peer = None
        try:
            slines.wait('REGISTERED')
            x.wait_log(r'proved node key .*: standby', since=m)
            # Pinged as a standby, and asked nothing else.
            time.sleep(1.0)
            m = x.mark()
            cs.kill()
            x.wait_log(r'standby signer .* is active now', since=m)
            if x.count_log(r'SAFE_MODE', since=0):
                fail('coldnode entered SAFE_MODE with a standby there')

            # Inbound BOLT 8 through the lnd signer.
            peer = subprocess.Popen(
                [NODE, os.path.join(HERE, 'noise_peer.js'), 'hold',
                 '127.0.0.1', str(x.p2p_port()), node_id, CHAIN_HEX],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT, text=True)
            plines = Lines(peer, timeout=30)
            try:
                plines.wait('OK client')
            except TestFailure as e:
                time.sleep(0.5)
                fail(f'{e}\nhandshake through the lnd signer failed; it '
                     f'said: {slines.drain()}')
            x.wait_log(r'ready \(inbound, gossip-only\)')
            lnd.kill()
            log = slines.rest()
            refused = [l for l in log if l.startswith('REFUSED')]
            if refused:
                fail(f'lnd-faithful signer refused: {refused}')
            reqs = [l for l in log if l.startswith('REQUEST')]
            kinds = [l.split()[2] for l in reqs]
            if 'shared_key_request' not in kinds:
                fail(f'the lnd signer was never asked for ECDH: {log}')
            # Before the failover it was only pinged (and key-checked).
            first_ecdh = kinds.index('shared_key_request')
            before = set(kinds[:first_ecdh])
            if not before <= {'ping', 'sign_message_req'} or \
                    kinds[:first_ecdh].count('sign_message_req') > 1:
                fail(f'the standby was asked more than pings and its key '
                     f'check: {kinds[:first_ecdh]}')
            x.wait_log(r'ACTIVE -> SAFE_MODE: signer lost')
            if not x.running():
                fail('coldnode exited')
        finally:
            for p in (lnd, peer):
                if p and p.poll() is None:
                    p.kill()
                    p.wait()


run(main)
