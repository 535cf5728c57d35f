"""Issue 3, end to end with real processes on 127.0.0.1: coldnode X in
remote mode, a coldsigner S, and three coldnode peers in local mode: A and
B dial X (gossip-only), X dials C which it treats as a full peer.

Kill S: C is gone at once, A and B stay and keep exchanging pings; a
handshake started in safe mode waits for the signer and completes when it
returns; a channel message from a retained gossip-only peer closes it.
Restart S: ACTIVE again and C is redialled at once.  Every transition is
counted and visible through `coldctl state` (GetState's counters)."""
import asyncio
import os

from harness import Harness, run, fail, ln_connect, LNReader, msg_init, \
    msg_type, CHAIN
from ctl import coldctl_state
from signer_harness import Signer, write_node_key

PEER = ('--signer=local', '--network=regtest', '--pinginterval=200ms',
        '--rpclisten=127.0.0.1:0',
        '--debuglevel=debug')


def pongs(node, peer_id, since):
    return node.count_log(rf'{peer_id}.*got matching pong|'
                          rf'got matching pong', since=since)


def want_counters(st, state, **want):
    """GetState (through coldctl) says @state and these counters."""
    c = st['counters']
    got = dict(c['transitions'])
    got.update({k: v for k, v in c.items() if k != 'transitions'})
    bad = {k: (got.get(k), str(v)) for k, v in want.items()
           if got.get(k) != str(v)}
    if st['state'] != state or bad:
        fail(f'coldctl state: want {state} {want}, got {st["state"]}: '
             f'(got, want) {bad}\n{st}')


def main():
    with Harness() as h:
        # C first: X needs its id and port.
        c_dir = os.path.join(h.tmp, 'c')
        c_id = write_node_key(c_dir)
        c = h.node('c', *PEER, '--listen=127.0.0.1:0', datadir=c_dir).start()
        c_port = c.p2p_port()

        x = h.node('x', '--signer=remote', '--network=regtest',
                   '--signerlisten=127.0.0.1:0', '--rpclisten=127.0.0.1:0',
                   '--listen=127.0.0.1:0', '--pinginterval=200ms',
                   '--handshaketimeout=8s', '--signer.pinginterval=500ms',
                   '--signer.pingtimeout=2s', '--debuglevel=debug',
                   f'--fullpeer={c_id}',
                   f'--connect={c_id}@127.0.0.1:{c_port}')
        x.start(wait=r'p2p stays off')
        s = Signer(h, 's', x).start()
        x.wait_log(r'WAITING_FOR_SIGNER -> ACTIVE')
        x_id, x_port = x.node_id(), x.p2p_port()
        x.wait_log(rf'peer {c_id}@.* ready \(outbound, full\)')

        a = h.node('a', *PEER, '--nolisten',
                   f'--connect={x_id}@127.0.0.1:{x_port}').start()
        b = h.node('b', *PEER, '--nolisten',
                   f'--connect={x_id}@127.0.0.1:{x_port}').start()
        a_id, b_id = a.node_id(), b.node_id()
        for pid in (a_id, b_id):
            x.wait_log(rf'peer {pid}@.* ready \(inbound, gossip-only\)')

        st0 = coldctl_state(x)
        want_counters(st0, 'ACTIVE', waiting_for_signer=1, active=1,
                      safe_mode=0, signer_registrations=1, signer_losses=0)

        # --- the signer goes away --------------------------------------
        mx, ma, mb, mc = x.mark(), a.mark(), b.mark(), c.mark()
        s.kill()
        x.wait_log(r'ACTIVE -> SAFE_MODE: signer lost', since=mx)
        st1 = coldctl_state(x)
        want_counters(st1, 'SAFE_MODE', waiting_for_signer=1, active=1,
                      safe_mode=1, signer_registrations=1, signer_losses=1)
        if int(st1['counters']['generation']) <= \
                int(st0['counters']['generation']):
            fail(f'generation did not move on signer loss: {st1}')
        if int(st1['counters']['full_sessions_closed']) != 1:
            fail(f'full sessions closed not counted: {st1}')
        x.wait_log(rf'closed {c_id}@.* outbound \(full\): signer lost',
                   since=mx)
        x.wait_log(r'closed 1 full peer session\(s\), kept 2 gossip-only',
                   since=mx)
        c.wait_log(r'closed .*inbound', since=mc)
        # A and B keep pinging X (and X them) for a while.
        for n in (a, b):
            for _ in range(3):
                m = n.mark()
                n.wait_log(r'got matching pong', since=m)
        m = x.mark()
        x.wait_log(r'got matching pong', since=m)
        for pid in (a_id, b_id):
            if x.count_log(rf'closed {pid}', since=mx):
                fail(f'gossip-only peer {pid} was closed on signer loss')
        if not x.running():
            fail('coldnode died')

        # Safe mode: a handshake waits for the signer (X redials C, which
        # needs the node key: it must not complete until S is back).
        async def safe_mode_checks():
            # A fresh inbound handshake, started now ...
            hs = asyncio.ensure_future(ln_connect('127.0.0.1', x_port, x_id))
            await asyncio.sleep(1.0)
            if hs.done():
                fail('handshake completed without a signer')
            # ... completes once the signer is back (within 8 s).
            s2.start()
            t = await asyncio.wait_for(hs, 10)
            r = LNReader(t)
            t.send_bytes(msg_init(CHAIN['regtest']))
            await r.expect(16)
            t.close()

        s2 = Signer(h, 's2', x, keyfile=s.keyfile)
        mx = x.mark()
        asyncio.run(safe_mode_checks())
        x.wait_log(r'SAFE_MODE -> ACTIVE', since=mx)
        want_counters(coldctl_state(x), 'ACTIVE', waiting_for_signer=1,
                      active=2, safe_mode=1, signer_registrations=2,
                      signer_losses=1)
        # C, a persistent peer of X, is redialled at once.
        x.wait_log(rf'peer {c_id}@.* ready \(outbound, full\)', since=mx)
        for pid in (a_id, b_id):
            if x.count_log(rf'closed {pid}', since=0):
                fail(f'gossip-only peer {pid} was lost')

        # In safe mode a channel message from a retained peer closes it.
        async def channel_msg_in_safe_mode():
            t = await ln_connect('127.0.0.1', x_port, x_id)
            r = LNReader(t)
            t.send_bytes(msg_init(CHAIN['regtest']))
            await r.expect(16)
            s2.kill()
            x.wait_log(r'ACTIVE -> SAFE_MODE', since=mx2)
            # open_channel (32): needs the signer.
            t.send_bytes((32).to_bytes(2, 'big') + bytes(300))
            if not await r.closed(10):
                fail('channel message in safe mode did not close the peer')

        mx2 = x.mark()
        asyncio.run(channel_msg_in_safe_mode())
        x.wait_log(r'from gossip-only peer while full mode is not allowed',
                   since=mx2)
        want_counters(coldctl_state(x), 'SAFE_MODE', waiting_for_signer=1,
                      active=2, safe_mode=2, signer_registrations=2,
                      signer_losses=2)
        for pid in (a_id, b_id):
            if x.count_log(rf'closed {pid}', since=0):
                fail(f'gossip-only peer {pid} was lost')
        if not x.running():
            fail('coldnode died')


run(main)
