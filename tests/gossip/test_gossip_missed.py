"""Gossip missed while running comes back without a restart.  B syncs A's
graph; then A learns 100 new channels that never reach B by relay (they are
written into A's store behind A's back, as gossip that went by during an
outage of B's link: timestamped before B's gossip_timestamp_filter).
B's periodic historical sync (--gossip.historicalsyncinterval, lnd's hourly
one, here 2 s for the test) asks for them by scid; B ends with A's counts,
and GetState shows more than one sync completed.  Before issue 21 a synced
node never synced again."""
import os
import subprocess
import time

from ctl import coldctl_state
from harness import Harness, fail, run
from storelib import counts, wait_counts

COMMON = ('--signer=local', '--network=regtest', '--debuglevel=debug')


def main():
    gengraph = os.environ['GENGRAPH']
    now = int(time.time())
    with Harness() as h:
        a = h.node('a', *COMMON, '--listen=127.0.0.1:0')
        os.makedirs(a.datadir, mode=0o700, exist_ok=True)
        subprocess.run([gengraph, '--nodes', '40', '--channels', '120',
                        '--network', 'regtest', '--now', str(now - 600),
                        '--datadir', a.datadir], check=True,
                       stdout=subprocess.DEVNULL)
        a.start()
        b = h.node('b', *COMMON, '--nolisten',
                   '--gossip.historicalsyncinterval=2s',
                   f'--connect={a.node_id()}@127.0.0.1:{a.p2p_port()}'
                   ).start()
        wait_counts(b, counts(a), 30)
        # 100 channels (50 new nodes) A learns while B does not hear.
        subprocess.run([gengraph, '--nodes', '50', '--channels', '100',
                        '--seed', '7', '--first-block', '700000',
                        '--network', 'regtest', '--now', str(now - 300),
                        '--datadir', a.datadir], check=True,
                       stdout=subprocess.DEVNULL)
        want = counts(a)
        if want[1] != 220:
            fail(f'A has {want}, want 220 channels')
        wait_counts(b, want, 30)
        st = coldctl_state(b)['gossip']
        if int(st['syncs_completed']) < 2:
            fail(f'GetState gossip: {st}')
        print(f'B caught up to {want} by its periodic sync '
              f'({st["syncs_completed"]} syncs)')


run(main)
