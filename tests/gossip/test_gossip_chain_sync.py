"""The first graph sync WITH a chain backend keeps the whole graph.

bcoin (regtest) holds a real funding output for every channel of the
synthetic graph: fan-out transactions of 1,000 P2WSH 2-of-2 outputs each
(the BOLT 3 funding script of the channel's two funding keys), mined, and
the graph's short_channel_ids point at them (tools/gengraph --keys, then
--scids).  A (no backend) holds the graph; B (with bcoin as its backend)
dials A and syncs: every channel_announcement waits for its funding check,
B's queries wait while the checks are queued, and B ends with A's store,
channels and updates byte for byte, every channel verified, nothing
refused.

GOSSIP_CHAIN_CHANNELS sets the size: 3,000 in the default run, 60,000
(tools/gengraph --full's size, 60 fan-out transactions) with
-Dlong_tests=true.  Prints the sync's time and messages per second."""
import os
import sqlite3
import subprocess
import time

from bcoin import Bcoin, multisig_2of2, p2wsh
from ctl import coldctl_state
from harness import Harness, fail, run

PER_TX = 1000           # outputs per fan-out transaction
VALUE = 20000           # sat per funding output (above P2WSH dust)


def store(node):
    path = os.path.join(node.datadir, 'gossip.sqlite3')
    return sqlite3.connect(f'file:{path}?mode=ro', uri=True, timeout=10)


def counts(node):
    path = os.path.join(node.datadir, 'gossip.sqlite3')
    if not os.path.exists(path):
        return {}
    db = store(node)
    try:
        return dict(db.execute('SELECT k, v FROM meta').fetchall())
    except sqlite3.OperationalError:
        return {}
    finally:
        db.close()


def tables(node):
    db = store(node)
    try:
        chans = db.execute('SELECT scid, raw FROM channels ORDER BY scid'
                           ).fetchall()
        upds = db.execute('SELECT scid, dir, raw FROM updates '
                          'ORDER BY scid, dir').fetchall()
        nodes = db.execute('SELECT node_id, raw FROM nodes ORDER BY node_id'
                           ).fetchall()
        unverified = db.execute('SELECT COUNT(*) FROM channels WHERE '
                                'unverified = 1').fetchone()[0]
    finally:
        db.close()
    return chans, upds, nodes, unverified


def main():
    n_chan = int(os.environ.get('GOSSIP_CHAIN_CHANNELS', '3000'))
    n_node = max(2, n_chan * 16000 // 60000)
    gengraph = os.environ['GENGRAPH']
    common = ('--nodes', str(n_node), '--channels', str(n_chan),
              '--network', 'regtest')
    with Harness() as h, Bcoin(log=os.path.join(h.tmp, 'bcoin.log')) as b:
        n_tx = (n_chan + PER_TX - 1) // PER_TX
        b.mine(101 + n_tx)  # one mature coinbase per fan-out transaction
        keys = subprocess.run([gengraph, '--keys', *common], check=True,
                              capture_output=True, text=True).stdout.split()
        keys = [(keys[i + 1], keys[i + 2]) for i in range(0, len(keys), 3)]
        if len(keys) != n_chan:
            fail(f'gengraph --keys gave {len(keys)} channels')
        t0 = time.monotonic()
        scids = []
        for t in range(n_tx):
            chunk = keys[t * PER_TX:(t + 1) * PER_TX]
            outs = [(p2wsh(multisig_2of2(k1, k2)), VALUE) for k1, k2 in chunk]
            # ~43 vbytes per output: 2 sat/vB.
            txid, _ = b.pay_to(outs, fee=100 * len(outs) + 10000)
            bh = b.mine(1)[0]
            height, idx = b.locate(txid, bh)
            scids += [(height << 40) | (idx << 16) | v
                      for v in range(len(chunk))]
        b.mine(6)  # BOLT 7: six confirmations
        fund_s = time.monotonic() - t0
        path = os.path.join(h.tmp, 'scids')
        with open(path, 'w') as f:
            f.write('\n'.join(str(s) for s in scids) + '\n')

        a = h.node('a', '--signer=local', '--network=regtest',
                   '--listen=127.0.0.1:0')
        os.makedirs(a.datadir, mode=0o700, exist_ok=True)
        subprocess.run([gengraph, *common, '--scids', path,
                        '--datadir', a.datadir], check=True,
                       stdout=subprocess.DEVNULL)
        want = counts(a)
        if want.get('channels') != n_chan or want.get('nodes') != n_node:
            fail(f'injector wrote {want}')
        a.start()
        port, a_id = a.p2p_port(), a.node_id()

        bnode = h.node('b', '--signer=local', '--network=regtest',
                       '--nolisten', '--debuglevel=debug',
                       '--bitcoind.blockpollinginterval=200ms',
                       f'--connect={a_id}@127.0.0.1:{port}',
                       *b.coldnode_args())
        t1 = time.monotonic()
        bnode.start()
        keys_want = ('channels', 'updates', 'nodes')
        deadline = time.monotonic() + max(120, n_chan / 20)
        while time.monotonic() < deadline:
            got = counts(bnode)
            if all(got.get(k) == want[k] for k in keys_want) and \
                    got.get('unverified') == 0:
                break
            time.sleep(0.5)
        sync_s = time.monotonic() - t1
        got = counts(bnode)
        if not all(got.get(k) == want[k] for k in keys_want):
            fail(f'B has {got}, A {want}\n' + bnode.tail())
        ta, tb = tables(a), tables(bnode)
        if ta[0] != tb[0]:
            fail('channel announcements differ')
        if ta[1] != tb[1]:
            fail('channel updates differ')
        if ta[2] != tb[2]:
            fail('node announcements differ')
        if tb[3] != 0:
            fail(f'{tb[3]} channels unverified at B: checks skipped')
        log = bnode.log()
        for bad in ('wait for a funding check: ignoring new ones',
                    'REJ_CHECKS_FULL'):
            if bad in log:
                fail(f'B refused announcements: "{bad}"')
        st = coldctl_state(bnode)['gossip']
        if st['channels'] != str(n_chan) or \
                st.get('channels_unverified', '0') != '0':
            fail(f'GetState gossip: {st}')
        # The sync's state (GossipCounts 5-14): one sync, done, paced,
        # nothing refused.
        if int(st['syncs_completed']) < 1 or \
                int(st['scids_asked']) < n_chan or \
                st['refused_for_capacity'] != '0' or \
                int(st['last_sync_unix']) == 0:
            fail(f'GetState gossip sync: {st}')
        msgs = 3 * n_chan + n_node
        print(f'{n_chan} channels / {n_node} nodes funded in {n_tx} txs '
              f'({fund_s:.1f} s); B synced with checks in {sync_s:.1f} s: '
              f'{msgs / sync_s:.0f} msgs/s, {n_chan / sync_s:.0f} '
              f'checks/s')


run(main)
