"""Issue 19, item 3: safe mode keeps the graph fresh, however long the
signer is away.  Real processes on 127.0.0.1: coldnode X (remote signer,
--gossip.minsessions=3) with four persistent peers, @node-dlc/noise
listeners (tests/supervisor/gossip_peers.js): three gossip-only and one
full (--fullpeer).

The signer goes away: X enters SAFE_MODE, the full peer is closed.  Then
every peer closes every session ("every retained session is killed by its
peer").  X must, with no signer:
  - dial 3 gossip-only sessions with a local key that is not its node id
    (the peers see another node id), within a minute;
  - store new gossip the peers send over them;
  - never redial a persistent peer with its own identity (each such dial
    would park until the 4 s deadline: the peer would see a failed
    handshake): the peers' logs hold no failed handshake from X for the
    whole absence (ABSENCE seconds: short by default, --absence 600 with
    -Dlong_tests).
The signer comes back: ACTIVE, the local-key sessions are closed and every
peer is dialed again with X's node id (the full one as full).

Usage: test_safe_mode_gossip.py [--absence SECONDS]"""
import argparse
import os
import queue
import subprocess
import threading
import time

from harness import CHAIN, Harness, fail, run
from ctl import coldctl_state
from signer_harness import Signer

HERE = os.path.dirname(os.path.abspath(__file__))
NODE = os.environ.get('NODE', 'node')


class Peers:
    """gossip_peers.js: its events, read by a thread."""

    def __init__(self, n, graph):
        self.p = subprocess.Popen(
            [NODE, os.path.join(HERE, 'gossip_peers.js'), str(n),
             CHAIN['regtest'].hex(), graph],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.peers = []
        for line in self.p.stdout:
            if line.startswith('PEER '):
                _, port, pub = line.split()
                self.peers.append((int(port), pub))
            elif line.strip() == 'READY':
                break
        if len(self.peers) != n:
            fail('gossip_peers.js did not start')
        self.events = []
        self.lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.p.stdout:
            with self.lock:
                self.events.append((time.monotonic(), line.split()))

    def since(self, t0=0.0):
        with self.lock:
            return [e for t, e in self.events if t >= t0]

    def send(self, cmd):
        self.p.stdin.write(cmd + '\n')
        self.p.stdin.flush()

    def wait(self, pred, what, timeout=60, t0=0.0):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            got = pred(self.since(t0))
            if got:
                return got
            time.sleep(0.1)
        fail(f'peers: no {what} within {timeout}s: {self.since(t0)[-20:]}')

    def stop(self):
        self.p.terminate()
        self.p.wait(10)


def sessions_from(events, who):
    """Peer indexes holding a session (SESSION minus CLOSED) with @who."""
    live = {}
    for e in events:
        if e[0] == 'SESSION' and e[2] == who:
            live[e[1]] = live.get(e[1], 0) + 1
        elif e[0] == 'CLOSED' and e[2] == who:
            live[e[1]] = live.get(e[1], 0) - 1
    return {k for k, v in live.items() if v > 0}


def updates(node):
    return int(coldctl_state(node)['gossip']['channel_updates'])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--absence', type=float, default=8)
    a = ap.parse_args()
    with Harness() as h:
        graph = os.path.join(h.tmp, 'graph.bin')
        subprocess.run([os.environ['GENGRAPH'], '--nodes', '40',
                        '--channels', '120', '--network', 'regtest',
                        '--out', graph], check=True,
                       stdout=subprocess.DEVNULL)
        peers = Peers(4, graph)
        full_pub = peers.peers[3][1]
        args = ['--signer=remote', '--network=regtest',
                '--signerlisten=127.0.0.1:0', '--rpclisten=127.0.0.1:0',
                '--nolisten', '--gossip.minsessions=3',
                '--signer.pinginterval=500ms', '--signer.pingtimeout=2s',
                '--debuglevel=debug', f'--fullpeer={full_pub}']
        for port, pub in peers.peers:
            args.append(f'--connect={pub}@127.0.0.1:{port}')
        x = h.node('x', *args).start()
        s = Signer(h, 's', x).start()
        x.wait_log(r'WAITING_FOR_SIGNER -> ACTIVE')
        x_id = x.node_id()
        peers.wait(lambda ev: len(sessions_from(ev, x_id)) == 4,
                   'four sessions with the node id')
        x.wait_log(rf'peer {full_pub}@.* ready \(outbound, full\)')
        peers.send('SEND 100')
        end = time.monotonic() + 30
        while updates(x) == 0:
            if time.monotonic() > end:
                fail('no gossip stored while ACTIVE')
            time.sleep(0.2)

        # --- the signer goes away, then every peer drops X --------------
        m = x.mark()
        s.kill()
        x.wait_log(r'ACTIVE -> SAFE_MODE', since=m)
        t_absent = time.monotonic()
        x.wait_log(r'holding .*persistent redials', since=m)
        peers.send('KILL')
        t_kill = time.monotonic()
        def local_sessions(ev):
            keys = {e[2] for e in ev if e[0] == 'SESSION' and e[2] != x_id}
            return keys if any(len(sessions_from(ev, k)) >= 3
                               for k in keys) else None

        got = peers.wait(local_sessions, '3 sessions with a local key',
                         timeout=60, t0=t_kill)
        took = time.monotonic() - t_kill
        if len(got) != 1:
            fail(f'more than one local key: {got}')
        local = got.pop()
        print(f'3 gossip-only sessions with local key {local[:16]}... '
              f'{took:.1f}s after the peers dropped X')
        if x.count_log(r'local gossip key', since=m) < 3:
            fail('X does not log its local-key sessions')
        st = coldctl_state(x)
        if st['state'] != 'SAFE_MODE' or int(st['peers']['gossip_only']) < 3:
            fail(f'X in safe mode: {st["state"]} {st["peers"]}')

        # New gossip over them is stored.
        u0 = updates(x)
        peers.send('SEND 200')
        end = time.monotonic() + 30
        while updates(x) <= u0:
            if time.monotonic() > end:
                fail('no new gossip stored in safe mode')
            time.sleep(0.2)
        print(f'channel updates stored: {u0} -> {updates(x)} in safe mode')

        # The rest of the absence: nothing for the peers to see.
        left = a.absence - (time.monotonic() - t_absent)
        if left > 0:
            time.sleep(left)
        # Issue 19: "a peer's log in a signer absence holds no failed
        # handshakes from us" (the start, where a loaded machine can let
        # an early dial wait past its 4 s ECDH deadline, is not the
        # absence).
        hsfail = [e for e in peers.since(t_absent) if e[0] == 'HSFAIL']
        if hsfail:
            fail(f'peers saw failed handshakes during the absence: '
                 f'{hsfail}')
        if x.count_log(r'no node-key ECDH within', since=m):
            fail('X parked a handshake in safe mode')

        # --- the signer comes back: the node's identity again -----------
        m = x.mark()
        t_back = time.monotonic()
        Signer(h, 's2', x, keyfile=s.keyfile).start()
        x.wait_log(r'SAFE_MODE -> ACTIVE', since=m)
        peers.wait(lambda ev: len(sessions_from(ev, x_id)) == 4,
                   'four sessions with the node id again', t0=t_back)
        x.wait_log(rf'peer {full_pub}@.* ready \(outbound, full\)', since=m)
        peers.wait(lambda ev: not sessions_from(ev, local) or None,
                   'local-key sessions closed', t0=0)
        hsfail = [e for e in peers.since(t_absent) if e[0] == 'HSFAIL']
        if hsfail:
            fail(f'peers saw failed handshakes: {hsfail}')
        peers.stop()


if __name__ == '__main__':
    run(main)
