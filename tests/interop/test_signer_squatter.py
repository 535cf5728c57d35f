"""Issue 22, item 4: holding signer.macaroon is not holding the node key.

Two squatters with the macaroon but another key (tests/interop/
signer_squatter.js, grpc-js: every new stream on the same channel) keep
registering in a loop: one answers the key check with its own key, one
never answers it.  The real coldsigner then connects and must become the
signer at its first attempt (today's main refused it with ALREADY_EXISTS
and it backed off for a minute).  Afterwards: every squatter connection
that failed the key check was closed (the budget's pre-auth class never
lost it), and coldnode still refuses the squatters.

Env (meson): COLDNODE, COLDSIGNER, NODE, NODE_PATH, PYTHONPATH.
"""
import os
import re
import subprocess
import sys
import time

from harness import Harness, fail, ln_privkey, ln_pubkey, run

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..', 'supervisor'))
from signer_harness import Signer, signer_port  # noqa: E402

NODE = os.environ.get('NODE', 'node')
HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    priv = ln_privkey()
    node_id = ln_pubkey(priv).hex()
    with Harness() as h:
        x = h.node('x', '--signer=remote', '--network=regtest',
                   '--signerlisten=127.0.0.1:0', '--rpclisten=127.0.0.1:0',
                   '--listen=127.0.0.1:0', f'--signer.nodepubkey={node_id}',
                   '--signer.requesttimeout=3s', '--debuglevel=debug')
        x.start()
        port = signer_port(x)
        squatters = []
        try:
            for mode in ('wrongkey', 'silent'):
                squatters.append(subprocess.Popen(
                    [NODE, os.path.join(HERE, 'signer_squatter.js'),
                     f'127.0.0.1:{port}', os.path.join(x.datadir, 'tls.cert'),
                     os.path.join(x.datadir, 'signer.macaroon'),
                     ln_privkey().hex(), mode],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            # Both are at it: a wrong key refused, the silent one holding
            # a registration open.
            x.wait_log(r'refusing signer .*: signer holds node key')
            x.wait_log(r'signer .* registered \(outboundSigner\): checking')
            time.sleep(1.0)

            keyfile = os.path.join(h.tmp, 'real.key')
            with open(keyfile, 'wb') as f:
                os.fchmod(f.fileno(), 0o600)
                f.write(priv)
            t0 = time.monotonic()
            s = Signer(h, 'real', x, keyfile=keyfile).start()
            # Promptly: its first attempt, well inside the minute-long
            # backoff an ALREADY_EXISTS would cost it.
            x.wait_log(r'WAITING_FOR_SIGNER -> ACTIVE: signer .* ready',
                       timeout=8)
            took = time.monotonic() - t0
            if 'ALREADY_EXISTS' in s.log():
                fail('the real signer was refused:\n' + s.log()[-2000:])
            # The squatters keep trying while it is the signer: refused,
            # and the state never leaves ACTIVE.
            time.sleep(2.0)
            log = x.log()
            if 'ACTIVE -> ' in log:
                fail('left ACTIVE while squatters kept trying')
            for p in squatters:
                if p.poll() is not None:
                    fail('a squatter exited')
            if not x.running():
                fail('coldnode died')
            wrong = len(re.findall(r'SUPV: refusing signer', log))
            print(f'real signer ACTIVE {took:.2f}s after it started, '
                  f'with two squatters looping ({wrong} wrong-key refusals logged)')
        finally:
            for p in squatters:
                if p.poll() is None:
                    p.kill()
                    p.wait()


run(main)
