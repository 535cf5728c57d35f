"""Interop with @node-dlc/noise (independent BOLT 8 in JavaScript), both
directions: the JS peer dials coldnode, and coldnode (--connect) dials a JS
NoiseServer.  Each side sends init, pings, and checks the pong length."""
import os
import subprocess

from harness import CHAIN, Harness, fail, run

NODE = os.environ.get('NODE', 'node')
SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                      'noise_peer.js')
COMMON = ('--signer=local', '--network=regtest', '--debuglevel=debug')
CHAIN_HEX = CHAIN['regtest'].hex()


def js(*args, timeout=30):
    return subprocess.run([NODE, SCRIPT, *args], capture_output=True,
                          text=True, timeout=timeout)


def main():
    with Harness() as h:
        # (1) JS initiator -> coldnode responder.
        a = h.node('responder', *COMMON, '--listen=127.0.0.1:0').start()
        port, node_id = a.p2p_port(), a.node_id()
        r = js('client', '127.0.0.1', str(port), node_id, CHAIN_HEX)
        if r.returncode != 0 or 'OK client' not in r.stdout:
            fail(f'noise client failed: {r.stdout}{r.stderr}')
        a.wait_log(r'ready \(inbound')
        a.wait_log(r'answering ping with 1234 bytes')

        # (2) coldnode initiator -> JS responder (NoiseServer).
        srv = subprocess.Popen([NODE, SCRIPT, 'server', CHAIN_HEX],
                               stdout=subprocess.PIPE, text=True)
        try:
            first = srv.stdout.readline().split()
            if len(first) != 3 or first[0] != 'LISTEN':
                fail(f'noise server did not start: {first}')
            sport, spub = first[1], first[2]
            b = h.node('initiator', *COMMON, '--nolisten',
                       '--pinginterval=200ms',
                       f'--connect={spub}@127.0.0.1:{sport}').start()
            out, _ = srv.communicate(timeout=30)
            if srv.returncode != 0 or 'OK server' not in out:
                fail(f'noise server failed: {out}')
            remote = [l.split()[1] for l in out.splitlines()
                      if l.startswith('REMOTE')]
            if remote != [b.node_id()]:
                fail(f'server saw node id {remote}, coldnode is '
                     f'{b.node_id()}')
            b.wait_log(rf'peer {spub}@127.0.0.1:{sport} ready \(outbound')
            b.wait_log(r'answering ping with 1234 bytes')
            b.wait_log(r'got matching pong')
        finally:
            if srv.poll() is None:
                srv.kill()
                srv.wait()


run(main)
