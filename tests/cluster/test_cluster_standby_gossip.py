"""A standby keeps its gossip store warm without the node identity
(issue 20 with issue 19's local-key sessions; docs/cluster.md, "What a
standby keeps").  Real processes on 127.0.0.1: a 3-member etcd, two
coldnode instances (a, b) with --gossip.minsessions=3, three
@node-dlc/noise listeners (tests/supervisor/gossip_peers.js, an
implementation nobody here wrote) holding gengraph's keys of nodes 0-2,
whose node_announcements in the graph give their 127.0.0.1 ports; a has
all three as --connect peers, b only the first.  One coldsigner dials
both signer ports.

  1. a leads with the node identity: the peers see 3 sessions with the
     node id.  b stands by: peer 0 sees a session with another key (b's
     local key; b's store is empty, so no other candidate yet); b's p2p
     port (--listen) refuses connections: a standby accepts nothing for
     the node id.
  2. the peers publish the graph (new channel updates, their own
     addresses): b's store takes it over the local-key session; b
     registered no signer and sent it no request; with the graph's
     addresses (--gossip.candidaterefresh=1s) b reaches 3 local-key
     sessions (fewer persistent peers than --gossip.minsessions).
  3. a killed -9: b leads, the signer is ACTIVE on it, peer 0 sees the
     node id again from b, b's local-key session is closed and its p2p
     port accepts.
  4. a back (standby, local-key sessions of its own); an operator deletes
     b's election key: a leads, b stands down and is back to local-key
     sessions with a new key, 3 at once: its --connect peer and two found
     in the graph as the standby period starts."""
import os
import shutil
import socket
import subprocess
import time

from harness import CHAIN, Harness, fail, free_port, run
from clusterlib import Etcd
from test_cluster_etcd import (SHARED, TTL, Member, coldctl_state,
                               signer_active, start_signer, wait_for)
from test_safe_mode_gossip import Peers, sessions_from

MIN = 3
SEED = 7


def updates(m):
    return int(coldctl_state(m.node, m.rpc)['gossip']['channel_updates'])


def local_keys(ev, not_id, n=MIN):
    """Keys other than @not_id holding @n sessions (one per peer)."""
    keys = {e[2] for e in ev if e[0] == 'SESSION' and e[2] != not_id}
    return {k for k in keys if len(sessions_from(ev, k)) >= n}


def port_open(port):
    s = socket.socket()
    s.settimeout(2)
    try:
        s.connect(('127.0.0.1', port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def no_signer_use(m, what):
    c = coldctl_state(m.node, m.rpc)['counters']
    used = {k: c[k] for k in ('signer_registrations', 'requests_ok',
                              'requests_failed', 'requests_unavailable',
                              'requests_timed_out', 'requests_in_flight',
                              'requests_queued', 'requests_early')
            if int(c[k])}
    if used:
        fail(f'{what}: {used}')


def main():
    with Harness() as h:
        etcd = Etcd(h.tmp)
        procs = []
        peers = None
        try:
            etcd.start_all()
            graph = os.path.join(h.tmp, 'graph.bin')
            os.environ['GENGRAPH_SEED'] = str(SEED)
            peers = Peers(3, graph)
            subprocess.run([os.environ['GENGRAPH'], '--nodes', '40',
                            '--channels', '120', '--network', 'regtest',
                            '--seed', str(SEED), '--loopback-ports',
                            ','.join(str(p) for p, _ in peers.peers),
                            '--out', graph], check=True,
                           stdout=subprocess.DEVNULL)
            conns = [f'--connect={pub}@127.0.0.1:{port}'
                     for port, pub in peers.peers]
            opt = f'--gossip.minsessions={MIN}'
            a = Member(h, 'a', etcd.endpoints(), extra=(*conns, opt))
            b_listen = free_port()
            b = Member(h, 'b', etcd.endpoints(), extra=(
                conns[0], opt, f'--listen=127.0.0.1:{b_listen}',
                '--gossip.candidaterefresh=1s'))
            scenario(h, etcd, peers, a, b, b_listen, procs)
        finally:
            for p in procs:
                if p.poll() is None:
                    p.terminate()
                    p.wait(10)
            if peers:
                peers.stop()
            etcd.stop_all()


def scenario(h, etcd, peers, a, b, b_listen, procs):
    # ---- 1. a leads with the node id, b keeps local-key sessions.
    a.start()
    a.node.wait_log(r'MAIN: leading the cluster with token \d+')
    os.makedirs(b.node.datadir, mode=0o700, exist_ok=True)
    for f in SHARED:
        shutil.copy2(os.path.join(a.node.datadir, f), b.node.datadir)
    b.start()
    sproc, slog = start_signer(h, a, b, [f'127.0.0.1:{a.signer}',
                                         f'127.0.0.1:{b.signer}'])
    procs.append(sproc)
    wait_for('signer ACTIVE on a', lambda: signer_active(a), 10)
    node_id = a.node.wait_log(r'MAIN: node id ([0-9a-f]{66})').group(1)
    peers.wait(lambda ev: len(sessions_from(ev, node_id)) == MIN,
               f'{MIN} sessions with the node id (a)', timeout=20)
    got = peers.wait(lambda ev: local_keys(ev, node_id, 1) or None,
                     'a session with b\'s local key', timeout=20)
    if len(got) != 1:
        fail(f'more than one local key: {got}')
    b_key = got.pop()
    b.node.wait_log(rf'standby gossip: up to {MIN} gossip-only')
    if b.node.count_log(rf'ready \(outbound, gossip-only, local gossip '
                        rf'key {b_key}\)') != 1:
        fail('b does not log its local-key session')
    if 'p2p started' in b.node.log() or port_open(b_listen):
        fail('the standby runs p2p with the node identity')
    st = coldctl_state(b.node, b.rpc)
    if st['cluster']['role'] != 'standby' or \
       int(st['peers']['gossip_only']) != 1 or int(st['peers']['full']):
        fail(f'b: {st["cluster"]["role"]} {st["peers"]}')
    if sessions_from(peers.since(0), b_key) != {'0'}:
        fail('b dialed more than its --connect peer with an empty store')
    print(f'1. a leads with node id {node_id[:16]}...; standby b has a '
          f'gossip-only session with local key {b_key[:16]}..., '
          f'its p2p port refuses connections')

    # ---- 2. new gossip reaches b's store over them; b never used a signer.
    u0 = updates(b)
    peers.send('SEND 400')  # 120 channels, 240 updates, 40 nodes
    wait_for('new channel updates in b\'s store',
             lambda: updates(b) > u0, 20)
    no_signer_use(b, 'the standby used the signer')
    if 'is a standby, not the leader; the leader is a' not in \
       open(slog, errors='replace').read():
        fail('b did not refuse the signer naming a')
    peers.wait(lambda ev: len(sessions_from(ev, b_key)) == MIN or None,
               f'{MIN} sessions with b\'s local key (graph candidates)',
               timeout=20)
    no_signer_use(b, 'the standby used the signer')
    print(f'2. standby b stored channel updates {u0} -> {updates(b)}; no '
          f'signer registration, no signer request; {MIN} local-key '
          f'sessions with one --connect peer and the graph\'s addresses')

    # ---- 3. a killed -9: b leads with the node identity.
    a.node.kill()
    peers.wait(lambda ev: not sessions_from(ev, node_id) or None,
               'a\'s sessions closed', timeout=10)
    mark_b = b.node.mark()
    t_kill = time.monotonic()
    wait_for('b leads', lambda: b.leading(mark_b), TTL + 3)
    wait_for('signer ACTIVE on b', lambda: signer_active(b), 10)
    b.node.wait_log(r'standby gossip stopped \(leading', since=mark_b)
    peers.wait(lambda ev: sessions_from(ev, node_id) == {'0'},
               'its --connect peer with the node id (b)', timeout=20)
    peers.wait(lambda ev: not sessions_from(ev, b_key) or None,
               'b\'s local-key session closed', timeout=10)
    if not port_open(b_listen):
        fail('the leader b does not listen')
    print(f'3. a killed -9: b leads with node id {node_id[:16]}... after '
          f'{time.monotonic() - t_kill:.1f} s, local-key sessions closed')

    # ---- 4. a back as a standby; b's key deleted: b stands down.
    a.node.start(wait=r'cluster member \S+: standby until elected')
    a.node.wait_log(rf'standby gossip: up to {MIN} gossip-only',
                    since=a.node._start_mark)
    got = peers.wait(lambda ev: local_keys(ev, node_id) - {b_key} or None,
                     f'{MIN} sessions with a\'s local key', timeout=20)
    a_key = got.pop()
    kvs = etcd.get_prefix('/coldnode/leader/')
    lead = [k for k, v, _, _ in kvs if '"b"' in v]
    mark_b, mark_a = b.node.mark(), a.node.mark()
    rc, _, err = etcd.ctl('del', lead[0])
    if rc != 0:
        fail(f'etcdctl del: {err}')
    a.node.wait_log(r'MAIN: leading the cluster', since=mark_a, timeout=5)
    b.node.wait_log(r'MAIN: standby gossip: up to', since=mark_b,
                    timeout=5)
    cands = int(b.node.wait_log(r'MAIN: (\d+) dial candidate\(s\) from '
                                r'the graph', since=mark_b).group(1))
    got = peers.wait(lambda ev: local_keys(ev, node_id) - {b_key, a_key}
                     or None, f'{MIN} sessions with b\'s new local key',
                     timeout=20)
    wait_for('b\'s p2p port closed', lambda: not port_open(b_listen), 5)
    print(f'4. b stood down: {MIN} local-key sessions (new key '
          f'{got.pop()[:16]}...) with one --connect peer, {cands} '
          f'candidates from the graph; p2p port closed; a leads')


if __name__ == '__main__':
    run(main)
