"""Two coldnode instances (--signer=local): A's store is pre-filled with a
synthetic graph by tools/gengraph; B starts empty, dials A and syncs
the graph (gossip_timestamp_filter, query_channel_range with timestamps,
query_short_channel_ids).  B must end with A's counts; then B is killed
with SIGKILL mid-sync and after sync, and each restart opens a clean store
holding what was committed, and serves at once.  Without a chain backend
every synced channel is stored as unverified, and GetState (coldctl state)
says so."""
import os
import subprocess
import time

from ctl import coldctl_state
from harness import Harness, run, fail
from storelib import counts, integrity, wait_counts

COMMON = ('--signer=local', '--network=regtest', '--debuglevel=debug')
NODES, CHANNELS = 300, 1500  # big enough to kill a node mid-sync


def main():
    gengraph = os.environ['GENGRAPH']
    with Harness() as h:
        a = h.node('a', *COMMON, '--listen=127.0.0.1:0')
        os.makedirs(a.datadir, mode=0o700, exist_ok=True)
        subprocess.run([gengraph, '--nodes', str(NODES), '--channels',
                        str(CHANNELS), '--network', 'regtest',
                        '--datadir', a.datadir], check=True,
                       stdout=subprocess.DEVNULL)
        want = (NODES, CHANNELS, 2 * CHANNELS)
        if counts(a) != want:
            fail(f'injector wrote {counts(a)}, want {want}')
        a.start()
        port, a_id = a.p2p_port(), a.node_id()

        b = h.node('b', *COMMON, '--nolisten',
                   f'--connect={a_id}@127.0.0.1:{port}').start()
        b.wait_log(r'graph sync done')
        wait_counts(b, want)
        # A answered B's range query and B's scid queries.
        a.wait_log(r'graph sync done')
        # No UTXO check was possible: all of them are unverified.
        g = coldctl_state(b)['gossip']
        if g['channels'] != str(CHANNELS) or \
                g['channels_unverified'] != str(CHANNELS):
            fail(f'GetState gossip: {g}, want {CHANNELS} unverified')

        # Crash after the sync: everything committed is there at once.
        b.kill()
        if integrity(b) != 'ok':
            fail('store not clean after kill -9')
        if counts(b) != want:
            fail(f'after kill -9: {counts(b)}')
        mb = b.mark()
        b.start()
        wait_counts(b, want, timeout=5)

        # A third node killed mid-sync, then restarted: clean store, and it
        # finishes the sync.
        c = h.node('c', *COMMON, '--nolisten',
                   f'--connect={a_id}@127.0.0.1:{port}').start()
        c.wait_log(r'graph sync: query_channel_range sent')
        deadline = time.time() + 10
        while counts(c)[1] == 0 and time.time() < deadline:
            time.sleep(0.005)
        c.kill()
        if integrity(c) != 'ok':
            fail('store not clean after kill -9 mid-sync')
        partial = counts(c)
        c.start()
        wait_counts(c, want)
        if any(x < y for x, y in zip(counts(c), partial)):
            fail(f'lost committed data: {partial} -> {counts(c)}')
        print(f'synced {counts(b)}; c killed at {partial}, then '
              f'{counts(c)}; B restarted in {b.log()[mb:].count(chr(10))} '
              'log lines')


run(main)
