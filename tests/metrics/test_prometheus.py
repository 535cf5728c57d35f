"""Issue 12, metrics end to end with real processes on 127.0.0.1: coldnode
X (remote signer, --prometheus.listen), its signer S, a full peer C that X
dials, a gossip-only peer A that dials X, and a real Prometheus server
scraping X every second.

The page passes `promtool check metrics`; every metric documented in
docs/operations.md is on it; Prometheus' own query API sees the state go
ACTIVE -> SAFE_MODE when S is killed, the full-peers gauge drop to 0 and
the gossip-only gauge stay at 1; counters for the ECDH requests, the
signer loss, the closes and the RPC calls are on the page."""
import os

from harness import Harness, run, fail
from ctl import coldctl_state
from signer_harness import Signer, write_node_key
from promlib import (Prometheus, documented_metrics, metrics_port, parse,
                     promtool_check_metrics, scrape, value)

PEER = ('--signer=local', '--network=regtest', '--rpclisten=127.0.0.1:0')


def main():
    with Harness() as h:
        c_dir = os.path.join(h.tmp, 'c')
        c_id = write_node_key(c_dir)
        c = h.node('c', *PEER, '--listen=127.0.0.1:0', datadir=c_dir).start()
        c_port = c.p2p_port()

        x = h.node('x', '--signer=remote', '--network=regtest',
                   '--signerlisten=127.0.0.1:0', '--rpclisten=127.0.0.1:0',
                   '--listen=127.0.0.1:0', '--prometheus.listen=127.0.0.1:0',
                   '--signer.pinginterval=500ms', '--signer.pingtimeout=2s',
                   # Only the retained session in safe mode: no extra
                   # gossip sessions with a local key (docs/gossip.md).
                   '--gossip.minsessions=0',
                   f'--fullpeer={c_id}',
                   f'--connect={c_id}@127.0.0.1:{c_port}')
        x.start(wait=r'p2p stays off')
        mport = metrics_port(x)

        # Before any signer: the page is already valid.
        status, ctype, text = scrape(mport)
        if status != 200 or not ctype.startswith('text/plain; version=0.0.4'):
            fail(f'scrape: {status} {ctype}')
        promtool_check_metrics(text)
        samples, _ = parse(text)
        if value(samples, 'coldnode_supervisor_state',
                 state='WAITING_FOR_SIGNER') != 1:
            fail('not WAITING_FOR_SIGNER before the signer')
        # The flood and early-dial counters are there at zero before p2p
        # even starts (no node key yet): a dashboard sees 0, not a gap.
        for lst in ('rpc', 'signer', 'p2p'):
            for cls in ('unauthenticated', 'authenticated'):
                value(samples, 'coldnode_listener_connections',
                      listener=lst, **{'class': cls})
            value(samples, 'coldnode_listener_accepted_total', listener=lst)
            for reason in ('refused_source', 'evicted', 'timed_out'):
                value(samples, 'coldnode_listener_closed_total',
                      listener=lst, reason=reason)
            value(samples, 'coldnode_listener_auth_full_total', listener=lst)
        if value(samples, 'coldnode_listener_accepted_total',
                 listener='p2p') != 0:
            fail('p2p connections counted before p2p started')
        for result in ('ready', 'failed', 'skipped'):
            if value(samples, 'coldnode_peer_early_dials_total',
                     result=result) != 0:
                fail(f'early dials {result} before any signer')
        for name in ('coldnode_peer_early_dials_started_total',
                     'coldnode_peer_park_timeouts_total',
                     'coldnode_signer_arrivals_total'):
            if value(samples, name) != 0:
                fail(f'{name} not 0 before any signer')

        s = Signer(h, 's', x).start()
        x.wait_log(r'WAITING_FOR_SIGNER -> ACTIVE')
        x_id, x_port = x.node_id(), x.p2p_port()
        x.wait_log(rf'peer {c_id}@.* ready \(outbound, full\)')
        a = h.node('a', *PEER, '--nolisten',
                   f'--connect={x_id}@127.0.0.1:{x_port}').start()
        x.wait_log(r'peer .* ready \(inbound, gossip-only\)')
        # One GetState call, counted by the RPC metrics; strict JSON with
        # no chain backend and an empty wallet (ctl.parse_state_json).
        st = coldctl_state(x)
        if (st['chain']['backend'] != 'none' or
                st['chain']['status'] != 'off' or
                st['wallet']['source'] != 'empty'):
            fail(f'coldctl state without a backend: {st}')

        status, ctype, text = scrape(mport)
        promtool_check_metrics(text)
        samples, families = parse(text)
        missing = [n for n in documented_metrics() if n not in families]
        if missing:
            fail(f'documented in docs/operations.md but not scraped: '
                 f'{missing}')
        if value(samples, 'coldnode_signer_requests_total', kind='ecdh',
                 result='ok') < 2:
            fail('ECDH requests (two handshakes) not counted')
        if value(samples, 'coldnode_signer_request_duration_seconds_count',
                 kind='ecdh') < 2:
            fail('ECDH latency not observed')
        if value(samples, 'coldnode_rpc_calls_total',
                 service='coldrpc.Supervisor', method='GetState',
                 code='OK') < 1:
            fail('GetState call not counted')
        if value(samples, 'coldnode_peer_handshakes_total',
                 direction='inbound', result='ok') != 1:
            fail('inbound handshake not counted')
        for name in ('coldnode_peer_received_bytes_total',
                     'coldnode_peer_sent_bytes_total'):
            if value(samples, name) < 2 * 4:  # init both ways at least
                fail(f'{name} not counted')
        if value(samples, 'coldnode_loop_iterations_total') < 1 or \
                value(samples, 'coldnode_loop_busy_seconds_count') < 1:
            fail('loop iterations not counted')
        if value(samples, 'coldnode_signer_connected') != 1:
            fail('signer not connected on the page')
        # Connection budgets: the registered signer is authenticated on
        # the signer port, A's session on p2p, and coldctl came in on rpc.
        if value(samples, 'coldnode_listener_connections',
                 listener='signer', **{'class': 'authenticated'}) != 1:
            fail('the signer is not an authenticated signer-port '
                 'connection on the page')
        if value(samples, 'coldnode_signer_arrivals_total') < 1:
            fail('the signer\'s arrival not counted')
        if value(samples, 'coldnode_listener_accepted_total',
                 listener='p2p') != 1 or \
                value(samples, 'coldnode_listener_connections',
                      listener='p2p', **{'class': 'authenticated'}) != 1:
            fail('A\'s inbound session not counted by the p2p budget')
        if value(samples, 'coldnode_listener_accepted_total',
                 listener='rpc') < 1:
            fail('coldctl\'s connection not counted by the rpc budget')

        prom = Prometheus(h.tmp, [mport])
        try:
            prom.wait_value('coldnode_supervisor_state{state="ACTIVE"}', 1)
            prom.wait_value('coldnode_peers{mode="full"}', 1)
            prom.wait_value('coldnode_peers{mode="gossip-only"}', 1)

            s.kill()
            x.wait_log(r'ACTIVE -> SAFE_MODE')
            prom.wait_value('coldnode_supervisor_state{state="SAFE_MODE"}',
                            1)
            prom.wait_value('coldnode_supervisor_state{state="ACTIVE"}', 0)
            prom.wait_value('coldnode_peers{mode="full"}', 0)
            prom.wait_value('coldnode_peers{mode="gossip-only"}', 1)
            prom.wait_value('coldnode_signer_connected', 0)
            prom.wait_value('coldnode_signer_losses_total', 1)
            prom.wait_value('coldnode_peer_closes_total'
                            '{reason="signer_lost"}', 1)
            # The scrape target itself stayed healthy throughout.
            prom.wait_value('up{job="coldnode"}', 1)
        finally:
            prom.stop()
        a.stop()


run(main)
