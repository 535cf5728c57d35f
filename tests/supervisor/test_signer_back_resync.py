"""Issue 21: gossip that went by while the signer was away is synced when
it returns, not an hour later.  Real processes on 127.0.0.1:

  A  coldnode --signer=local, listening, a tools/gengraph graph of 120
     channels;
  B  coldnode --signer=remote with a coldsigner S, --connect to A (a
     gossip-only persistent peer), --gossip.minsessions=0 (no local-key
     sessions in safe mode: while S is away B has no session at all).

B syncs A's 120 channels.  S is killed: B enters SAFE_MODE.  A stops,
learns 100 more channels (gengraph into its store, timestamped before B
will reconnect, as gossip that went by during the outage) and starts again
on the same port.  While S is away B has no session and stays at 120.
S returns: B is ACTIVE, redials A, and its timestamp filter asks A only for
gossip from then on (docs/gossip.md, Sync), so the 100 channels come only
from the sync that `gossip_resync(..., "signer back")` opens
(src/daemon/main.c): B logs "graph sync requested: signer back", the sync
asks A for exactly 100 channels, and B ends with A's counts.  Without that
call B stays at 120 until the hourly historical sync."""
import os
import subprocess
import time

from harness import Harness, fail, run
from signer_harness import Signer
from storelib import counts, wait_counts

N_FIRST = 120
N_MORE = 100


def gengraph(datadir, *args):
    subprocess.run([os.environ['GENGRAPH'], '--network', 'regtest',
                    '--datadir', datadir, *args], check=True,
                   stdout=subprocess.DEVNULL)


def main():
    now = int(time.time())
    with Harness() as h:
        a = h.node('a', '--signer=local', '--network=regtest',
                   '--debuglevel=debug', '--listen=127.0.0.1:0')
        os.makedirs(a.datadir, mode=0o700, exist_ok=True)
        gengraph(a.datadir, '--nodes', '40', '--channels', str(N_FIRST),
                 '--now', str(now - 600))
        a.start()
        a_id, a_port = a.node_id(), a.p2p_port()

        b = h.node('b', '--signer=remote', '--network=regtest',
                   '--signerlisten=127.0.0.1:0', '--nolisten',
                   '--debuglevel=debug', '--gossip.minsessions=0',
                   f'--connect={a_id}@127.0.0.1:{a_port}')
        b.start(wait=r'p2p stays off')
        s = Signer(h, 's', b).start()
        b.wait_log(r'WAITING_FOR_SIGNER -> ACTIVE')
        first = counts(a)
        if first[1] != N_FIRST:
            fail(f'A has {first}, want {N_FIRST} channels')
        wait_counts(b, first, 30)
        b.wait_log(r'graph sync done')

        # --- the signer goes away; A goes down and learns more ----------
        mb = b.mark()
        s.kill()
        b.wait_log(r'ACTIVE -> SAFE_MODE', since=mb)
        a.stop()
        b.wait_log(rf'closed {a_id}@', since=mb)
        gengraph(a.datadir, '--nodes', '50', '--channels', str(N_MORE),
                 '--seed', '7', '--first-block', '700000',
                 '--now', str(now - 300))
        want = counts(a)
        if want[1] != N_FIRST + N_MORE:
            fail(f'A has {want}, want {N_FIRST + N_MORE} channels')
        a.args = [x for x in a.args if not x.startswith('--listen=')] + \
            [f'--listen=127.0.0.1:{a_port}']
        ma = a.mark()
        a.start()
        if a.p2p_port() != a_port:
            fail(f'A came back on port {a.p2p_port()}, not {a_port}')

        # No signer, no session: B must not have the new channels.
        time.sleep(1.5)
        if counts(b) != first:
            fail(f'B has {counts(b)} with no signer and no session, '
                 f'want {first}')
        if b.count_log(rf'peer {a_id}@.* ready', since=mb):
            fail('B reached A with its node id while the signer was away')
        if a.count_log(r'PEER: peer .* ready', since=ma):
            fail('A saw a session while B had no signer')

        # --- the signer returns ------------------------------------------
        mb = b.mark()
        s2 = Signer(h, 's2', b, keyfile=s.keyfile).start()
        b.wait_log(r'SAFE_MODE -> ACTIVE', since=mb)
        b.wait_log(rf'peer {a_id}@.* ready', since=mb)
        wait_counts(b, want, 20)
        b.wait_log(r'graph sync requested: signer back', since=mb)
        # It is the resync that fetched them, by scid, from A.
        b.wait_log(rf'graph sync done: asked for {N_MORE} channels',
                   since=mb)
        print(f'B: {first} before the signer returned, {want} after '
              f'(resync asked A for {N_MORE} channels)')
        s2.stop()


run(main)
