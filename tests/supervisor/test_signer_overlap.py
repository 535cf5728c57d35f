"""Issue 14, end to end with real processes on 127.0.0.1: coldnode X in
remote mode knows its node key (--signer.nodepubkey) and has one
persistent peer P (a coldnode in local mode whose own handshake timeout
is long, so that only X can end a handshake).

1. No signer ever comes: X dials P at start, gets through acts one and
   two, waits for the node-key ECDH at most the park deadline (4 s, under
   lnd's 5 s act-three read deadline), then hangs up and redials with
   backoff, again and again.  P never keeps a half-open handshake: every
   inbound connection it sees is closed by X.  X keeps serving its RPC.
2. Something connects to the signer port and never registers: X dials P
   at once (ahead of the signer), and that handshake too is closed at the
   park deadline.
   Meanwhile an inbound flood fills X's --maxpendinghandshakes (2) with
   idle connections: that budget is the inbound one, so the early dial
   (ours) is made all the same.
3. The signer comes: ACTIVE, and P is connected.

The dial counters of GetState and the metrics page agree at each step.

No timing assertion: each step waits (bounded) for what must happen."""
import os
import socket

from harness import Harness, run, fail
from ctl import coldctl_state
from signer_harness import Signer, signer_port, write_node_key
from promlib import metrics_port, parse, scrape, value


def dials(node):
    st = coldctl_state(node)
    return st, {k: int(v) for k, v in st['dials'].items()}


def check_metrics(node, d):
    """The metrics page says what GetState's dial counters say."""
    _, _, text = scrape(metrics_port(node))
    samples, _ = parse(text)
    got = {
        'early_dials': value(samples,
                             'coldnode_peer_early_dials_started_total'),
        'early_ready': value(samples, 'coldnode_peer_early_dials_total',
                             result='ready'),
        'early_refused': value(samples, 'coldnode_peer_early_dials_total',
                               result='skipped'),
        'park_timeouts': value(samples, 'coldnode_peer_park_timeouts_total'),
        'signer_arrivals': value(samples, 'coldnode_signer_arrivals_total'),
    }
    for k, v in got.items():
        if v != d[k]:
            fail(f'metrics {k} = {v}, GetState says {d[k]}')
    return samples


def main():
    with Harness() as h:
        p_dir = os.path.join(h.tmp, 'p')
        p_id = write_node_key(p_dir)
        p = h.node('p', '--signer=local', '--network=regtest',
                   '--listen=127.0.0.1:0', '--handshaketimeout=120s',
                   '--debuglevel=debug', datadir=p_dir).start()
        p_port = p.p2p_port()

        key_dir = os.path.join(h.tmp, 'signerkey')
        x_id = write_node_key(key_dir)
        keyfile = os.path.join(key_dir, 'node.key')
        x = h.node('x', '--signer=remote', '--network=regtest',
                   f'--signer.nodepubkey={x_id}',
                   '--signerlisten=127.0.0.1:0', '--rpclisten=127.0.0.1:0',
                   '--listen=127.0.0.1:0', '--maxpendinghandshakes=2',
                   '--prometheus.listen=127.0.0.1:0', '--debuglevel=debug',
                   '--handshaketimeout=30s',
                   f'--connect={p_id}@127.0.0.1:{p_port}')
        x.start()

        # --- 1. no signer: dial, park, hang up, redial -------------------
        park = r'no node-key ECDH within 4\.0s'
        x.wait_log(rf'closed {p_id}@.* outbound \(before init\): {park}',
                   timeout=30)
        x.wait_log(r'redialing', timeout=30)
        # A second round: the redial parks and is closed the same way.
        m = x.mark()
        x.wait_log(rf'closed {p_id}@.*: {park}', since=m, timeout=30)
        p.wait_log(r'closed 127\.0\.0\.1:\d+ inbound \(before init\)',
                   timeout=30)
        st, d = dials(x)
        if st['state'] != 'WAITING_FOR_SIGNER':
            fail(f'state: {st}')
        if d['park_timeouts'] < 2 or d['early_dials'] != 0:
            fail(f'dial counters after two parked dials: {d}')
        # Every handshake P saw was ended by X (P's own timeout is 120 s),
        # none completed.
        if p.count_log(r'ready \(inbound'):
            fail('P completed a handshake without a signer')
        if not x.running():
            fail('coldnode died without a signer')

        # --- 2. a signer connection that never registers ------------------
        # Wait for a backoff of 4 s or more, so the dial that follows is
        # the one the signer's arrival starts.
        # (No signer connection so far: arrivals and early dials are as in
        # step 1; read them before, so nothing slows the connect below.)
        before = d
        x.wait_log(rf'redialing {p_id}@.* in ([4-9]|\d\d)s', timeout=60)
        mx = x.mark()
        # The inbound flood: more idle connections than X's pending
        # handshake budget (the newest evict the oldest).
        flood = [socket.create_connection(('127.0.0.1', x.p2p_port()))
                 for _ in range(3)]
        x.wait_log(r'p2p: pre-auth budget \(2, --maxpendinghandshakes\) '
                   r'full', since=mx)
        s = socket.create_connection(('127.0.0.1', signer_port(x)))
        try:
            x.wait_log(r'connection from 127\.0\.0\.1:\d+ on the signer '
                       r'port while WAITING_FOR_SIGNER', since=mx)
            x.wait_log(r'dialing 1 persistent peer\(s\) ahead of the signer',
                       since=mx)
            x.wait_log(rf'closed {p_id}@.*: {park}', since=mx, timeout=30)
            st, d = dials(x)
            if d['signer_arrivals'] != before['signer_arrivals'] + 1:
                fail(f'signer arrival not counted: {before} -> {d}')
            if d['early_dials'] != before['early_dials'] + 1:
                fail(f'early dial not counted: {before} -> {d}')
            if d['park_timeouts'] <= before['park_timeouts']:
                fail(f'park timeout not counted: {before} -> {d}')
            if d['early_refused'] != before['early_refused']:
                fail(f'early dial held back by the inbound flood: '
                     f'{before} -> {d}')
            if st['state'] != 'WAITING_FOR_SIGNER':
                fail(f'state: {st}')
            samples = check_metrics(x, d)
            if value(samples, 'coldnode_peer_early_dials_total',
                     result='failed') < 1:
                fail('the parked-out early dial not counted as failed')
            if value(samples, 'coldnode_listener_closed_total',
                     listener='p2p', reason='evicted') < 1:
                fail('the inbound flood\'s eviction not on the metrics page')
        finally:
            s.close()
            for f in flood:
                f.close()
        if p.count_log(r'ready \(inbound'):
            fail('P completed a handshake without a signer')

        # --- 3. the signer: ACTIVE and P connected -------------------------
        mx = x.mark()
        sig = Signer(h, 's', x, keyfile=keyfile).start()
        x.wait_log(r'WAITING_FOR_SIGNER -> ACTIVE', since=mx, timeout=30)
        x.wait_log(rf'peer {p_id}@.* ready \(outbound', since=mx, timeout=60)
        p.wait_log(rf'peer {x_id}@.* ready \(inbound', timeout=30)
        st, d = dials(x)
        if st['state'] != 'ACTIVE' or d['signer_arrivals'] < 2:
            fail(f'after the signer: {st}')
        check_metrics(x, d)
        sig.stop()


if __name__ == '__main__':
    run(main)
