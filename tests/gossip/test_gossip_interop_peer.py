"""@node-dlc/noise + @node-dlc/wire as the remote gossip peer of a real
coldnode (tests/gossip/interop_gossip_peer.js): a range query over a graph
larger than one reply holds (split across replies), a
query_short_channel_ids of 8,000 scids answered with every
node_announcement once, and a timestamp filter whose backfill holds
exactly the stored gossip of its window.  GOSSIP_INTEROP_CHANNELS sets the
size: 8,100 by default, 50,000 with -Dlong_tests=true."""
import os
import sqlite3
import subprocess

from harness import CHAIN, Harness, fail, run


def main():
    n_chan = int(os.environ.get('GOSSIP_INTEROP_CHANNELS', '8100'))
    n_node = max(2, n_chan * 16000 // 60000)
    now = 1767225600
    with Harness() as h:
        a = h.node('a', '--signer=local', '--network=regtest',
                   '--listen=127.0.0.1:0')
        os.makedirs(a.datadir, mode=0o700, exist_ok=True)
        # gengraph's timestamps fall in the week before --now; the node's
        # clock is later, so they are within two weeks.
        subprocess.run([os.environ['GENGRAPH'], '--nodes', str(n_node),
                        '--channels', str(n_chan), '--network', 'regtest',
                        '--datadir', a.datadir],
                       check=True, stdout=subprocess.DEVNULL)
        db = sqlite3.connect(os.path.join(a.datadir, 'gossip.sqlite3'))
        lo, hi = db.execute('SELECT MIN(ts), MAX(ts) FROM updates').fetchone()
        ts_lo = lo + (hi - lo) // 2
        ts_hi = ts_lo + (hi - lo) // 8
        want_upd = db.execute('SELECT COUNT(*) FROM updates WHERE ts >= ? '
                              'AND ts < ?', (ts_lo, ts_hi)).fetchone()[0]
        want_node = db.execute('SELECT COUNT(*) FROM nodes WHERE ts >= ? '
                               'AND ts < ?', (ts_lo, ts_hi)).fetchone()[0]
        db.close()
        a.start()
        p = subprocess.run(
            [os.environ['NODE'], os.path.join(os.path.dirname(
                os.path.abspath(__file__)), 'interop_gossip_peer.js'),
             str(a.p2p_port()), a.node_id(), CHAIN['regtest'].hex(),
             str(n_chan), str(n_node), str(ts_lo), str(ts_hi)],
            capture_output=True, text=True, timeout=300)
        out = p.stdout + p.stderr
        if p.returncode != 0 or 'OK ' not in out:
            fail(f'@node-dlc peer: {out}\n' + a.tail())
        counts = [l for l in out.splitlines() if l.startswith('COUNTS ')]
        got_upd, got_node = map(int, counts[0].split()[1:])
        if (got_upd, got_node) != (want_upd, want_node):
            fail(f'filter backfill: {got_upd} updates / {got_node} nodes, '
                 f'store has {want_upd} / {want_node} in the window')
        print([l for l in out.splitlines() if l.startswith('OK ')][0])


run(main)
