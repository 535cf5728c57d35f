"""bitcoind's ZMQ rawtx/rawblock (--bitcoind.zmqpubrawtx,
--bitcoind.zmqpubrawblock) against a real node: bcoin regtest, whose
mempool and chain events are published as bitcoind's exact ZMQ messages by
tests/bcoin/zmq-publisher.js (a test double of bitcoind's ZMQ interface:
bcoin has none).

1. A flood of mempool transactions, many paying the wallet's watched
   scripts (lnd accounts), with --bitcoind.blockpollinginterval=600s: the
   full mempool poll ran once at the start, so only ZMQ rawtx can bring
   them in time; the unconfirmed balance must be the sum of every payment.
2. One block mines them all: only rawblock can make coldnode poll the tip
   within the 600 s interval; confirmed == the sum, unconfirmed 0.
3. A sequence gap: the publisher skips one rawtx (counted, not sent); the
   next message shows the gap and coldnode polls the whole mempool, where
   the skipped payment is found.
4. bitcoind restarted: the publisher killed -9 and a new one started on
   the same endpoints, its sequences back at 0, still at the 600 s poll.
   libzmq reconnects; the next payment (the resync: one restart per topic
   on the metrics page, no gap), a second payment pushed by rawtx without
   a full poll, and a block must all come through ZMQ.
5. Fallback: restarted with a 0.5 s poll interval, the publisher killed: a
   payment sent after the kill is still seen (ZMQ silent for 10 poll
   intervals: every poll is a full one again), and blocks are followed.
6. The publisher back on the same endpoints during the fallback
   (coldnode_chain_zmq_rawtx_silent 1): its first rawtx, a restart, ends
   it (the gauge back to 0).

Default: 1,500 transactions, 1,000 of them watched; ZMQ_LOAD=5000:2000
(meson -Dlong_tests=true) for more."""
import json
import os
import select
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..', 'wallet'))
from bcoin import Bcoin, BCOIN_DIR, NODE  # noqa: E402
from ctl import coldctl_state  # noqa: E402
from harness import Harness, fail, run  # noqa: E402
from promlib import metrics_port, parse, scrape  # noqa: E402
from test_wallet_bcoin import balance, wait_tip  # noqa: E402
from test_chain_mempool_load import (prepare_flood, send_all,  # noqa: E402
                                     wait_mempool)

PUBLISHER = os.path.join(BCOIN_DIR, 'zmq-publisher.js')
RESTART_LOG = (r'zmq raw(tx|block): sequence went back by \d+ '
               r'\(the publisher restarted')


def zmq_metrics(n):
    """coldnode_chain_zmq_* and the full mempool polls, from the
    Prometheus page."""
    samples, _ = parse(scrape(metrics_port(n))[2])

    def get(name, **labels):
        return samples[(name, frozenset(labels.items()))]
    return {'rawtx': get('coldnode_chain_zmq_messages_total', topic='rawtx'),
            'rawblock': get('coldnode_chain_zmq_messages_total',
                            topic='rawblock'),
            'gaps': get('coldnode_chain_zmq_sequence_gaps_total'),
            'restarts': get('coldnode_chain_zmq_sequence_restarts_total'),
            'bad': get('coldnode_chain_zmq_malformed_total'),
            'full_polls': get('coldnode_chain_mempool_full_polls_total'),
            'silent': get('coldnode_chain_zmq_rawtx_silent')}


def state_agrees(n, timeout=10):
    """`coldctl state`'s chain object (GetState's ChainState 25-31) says
    what the metrics page says; the two are read one after the other, so
    retried until they agree.  Returns the metrics."""
    names = {'rawtx': 'zmq_rawtx', 'rawblock': 'zmq_rawblock',
             'gaps': 'zmq_gaps', 'restarts': 'zmq_restarts',
             'bad': 'zmq_malformed', 'full_polls': 'mempool_full_polls',
             'silent': 'zmq_rawtx_silent'}
    deadline = time.monotonic() + timeout
    while True:
        m = zmq_metrics(n)
        ch = coldctl_state(n)['chain']
        st = {k: (1 if ch[v] is True else 0 if ch[v] is False
                  else int(ch[v])) for k, v in names.items()}
        if st == {k: int(v) for k, v in m.items()}:
            return m
        if time.monotonic() > deadline:
            fail(f'coldctl state chain {st} != metrics {m}')
        time.sleep(0.1)


def wait_zmq(n, ok, timeout, what):
    deadline = time.monotonic() + timeout
    while True:
        m = zmq_metrics(n)
        if ok(m):
            return m
        if time.monotonic() > deadline:
            fail(f'{what}: ZMQ metrics {m}\n{n.tail()}')
        time.sleep(0.2)


class Publisher:
    """tests/bcoin/zmq-publisher.js following bcoin b."""

    def __init__(self, b, logpath, eps=None):
        """eps: bind these endpoints (a restarted bitcoind) instead of
        free ports."""
        self.log = open(logpath, 'ab')
        opt = {'port': b.port, 'apiKey': b.api_key}
        if eps:
            opt['endpoints'] = eps
        self.proc = subprocess.Popen(
            [NODE, PUBLISHER, json.dumps(opt)],
            cwd=BCOIN_DIR, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=self.log)
        line = self.proc.stdout.readline()
        if not line:
            fail(f'zmq-publisher.js exited ({self.proc.wait()})')
        self.eps = json.loads(line)

    def drop(self, topic, n):
        self.proc.stdin.write(f'drop {topic} {n}\n'.encode())
        self.proc.stdin.flush()
        if self.proc.stdout.readline().strip() != b'ok':
            fail('zmq-publisher.js did not take the command')

    def subscribed(self, timeout=30):
        """Returns once both topics have a subscriber (coldnode has
        (re)connected): what is published before is lost to it."""
        self.proc.stdin.write(b'subscribed\n')
        self.proc.stdin.flush()
        if not select.select([self.proc.stdout], [], [], timeout)[0]:
            fail(f'coldnode did not subscribe to the publisher on '
                 f'{self.eps} within {timeout} s')
        if self.proc.stdout.readline().strip() != b'ok':
            fail('zmq-publisher.js did not take the command')

    def kill(self):
        """kill -9, as a crashed bitcoind."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.log.close()


def wait_balance(n, unconf, conf, timeout, what):
    deadline = time.monotonic() + timeout
    bal = None
    while time.monotonic() < deadline:
        if not n.running():
            fail(f'coldnode died ({what})\n{n.tail()}')
        bal = balance(n)
        if (bal['unconfirmed_balance'] == unconf and
                bal['confirmed_balance'] == conf):
            return time.monotonic() - (deadline - timeout)
        time.sleep(0.2)
    fail(f'{what}: balance {bal}, want unconfirmed {unconf} confirmed '
         f'{conf}\n{n.tail()}')


def main():
    total, watched = (int(x) for x in
                      os.environ.get('ZMQ_LOAD', '1500:1000').split(':'))
    with Harness() as h, Bcoin(log=os.path.join(h.tmp, 'bcoin.log')) as b:
        b.activate_segwit()
        accounts, scripts, want, r = prepare_flood(h, b, total, watched)

        pub = Publisher(b, os.path.join(h.tmp, 'publisher.log'))
        zargs = [f'--bitcoind.zmqpubrawtx={pub.eps["rawtx"]}',
                 f'--bitcoind.zmqpubrawblock={pub.eps["rawblock"]}']
        common = ['--signer=local', '--network=regtest', '--nolisten',
                  '--prometheus.listen=127.0.0.1:0',
                  *b.coldnode_args(), f'--wallet.accounts={accounts}',
                  f'--wallet.birthday={b.height()}', *zargs]
        n = h.node('m', '--bitcoind.blockpollinginterval=600s', *common)
        n.start()
        wait_tip(n, b.height())
        polls0 = n.count_log(r'zmq .*sequence gap')

        # 1. The flood, seen through rawtx alone.
        t0 = time.monotonic()
        send_all(b, [s['hex'] for s in r['spends']])
        wait_mempool(b, {s['txid'] for s in r['spends']})
        sent = time.monotonic() - t0
        took = wait_balance(n, want, 0, 120, f'{watched} payments by rawtx')
        print(f'{total} transactions ({watched} watched) sent in '
              f'{sent:.1f} s; all seen through ZMQ {took:.1f} s after the '
              f'last was accepted, poll interval 600 s', file=sys.stderr)

        # 2. A block: rawblock polls the tip at once.
        b.mine(1)
        wait_tip(n, b.height(), timeout=60)
        wait_balance(n, 0, want, 60, 'the block through rawblock')

        # 3. A sequence gap: one rawtx not sent, the next one shows it.
        mark = n.mark()
        pub.drop('rawtx', 1)
        v1, v2 = 77001, 77002
        b.pay_to([(scripts[1], v1)])
        b.pay_to([(scripts[2], v2)])
        n.wait_log(r'zmq rawtx: 1 message\(s\) missed \(sequence gap\)',
                   timeout=30, since=mark)
        wait_balance(n, v1 + v2, want, 60, 'the resync after a gap')
        if n.count_log(r'zmq .*sequence gap') != polls0 + 1:
            fail('expected exactly one sequence gap\n' + n.tail())

        # 4. bitcoind restarted: the publisher killed -9 and started again
        # on the same endpoints, its sequences back at 0.  Still a 600 s
        # poll: only ZMQ can bring the next payments and block in time.
        t4 = time.monotonic()
        mark, m0 = n.mark(), zmq_metrics(n)
        if m0['gaps'] != 1 or m0['restarts'] != 0 or m0['bad'] != 0:
            fail(f'before the publisher restart: {m0}')
        old_eps = pub.eps
        pub.kill()
        pub = Publisher(b, os.path.join(h.tmp, 'publisher.log'), eps=old_eps)
        if pub.eps != old_eps:
            fail(f'publisher restarted on {pub.eps}, not {old_eps}')
        pub.subscribed()  # libzmq reconnected (it retries every 100 ms)
        v5, v6 = 66005, 66006
        unconf = v1 + v2 + v5
        b.pay_to([(scripts[5], v5)])
        took = wait_balance(n, unconf, want, 30,
                            'a payment after the publisher restarted')
        n.wait_log(RESTART_LOG, timeout=10, since=mark)
        # The resync is done: the next payment comes by rawtx alone (no
        # full poll), as before the restart.
        m1 = zmq_metrics(n)
        unconf += v6
        b.pay_to([(scripts[6], v6)])
        wait_balance(n, unconf, want, 30, 'the next payment by rawtx')
        m2 = zmq_metrics(n)
        if m2['full_polls'] != m1['full_polls'] or m2['rawtx'] <= m1['rawtx']:
            fail(f'the payment after the resync was not pushed by rawtx: '
                 f'{m1} then {m2}')
        b.mine(1)
        wait_tip(n, b.height(), timeout=30)
        conf = want + unconf
        wait_balance(n, 0, conf, 30, 'a block after the publisher restarted')
        m3 = state_agrees(n)
        # One restart per topic, seen once: no gap, nothing malformed.
        if (n.count_log(RESTART_LOG, since=mark) != 2 or
                m3['restarts'] != 2 or m3['gaps'] != 1 or m3['bad'] != 0 or
                m3['rawblock'] <= m0['rawblock']):
            fail(f'expected one restart per topic: {m0} then {m3}\n' +
                 n.tail())
        print(f'publisher restarted: the next payment seen through ZMQ in '
              f'{took:.1f} s, then a payment and a block; step 4 took '
              f'{time.monotonic() - t4:.1f} s', file=sys.stderr)

        # 5. Fallback to polling: restarted with a 0.5 s poll, then the
        # publisher killed.
        n.stop()
        n.args = [a for a in n.args
                  if not a.startswith('--bitcoind.blockpollinginterval')]
        n.args.append('--bitcoind.blockpollinginterval=500ms')
        n.start()
        wait_tip(n, b.height())
        wait_balance(n, 0, conf, 60, 'after the restart')
        v3, v4 = 88003, 88004
        b.pay_to([(scripts[3], v3)])
        wait_balance(n, v3, conf, 30, 'a payment by rawtx')
        pub.kill()
        b.pay_to([(scripts[4], v4)])
        took = wait_balance(n, v3 + v4, conf, 60,
                            'a payment after the publisher was killed')
        b.mine(1)
        wait_tip(n, b.height(), timeout=30)
        wait_balance(n, 0, conf + v3 + v4, 30,
                     'a block after the publisher was killed')
        print(f'publisher killed: the next payment seen by polling in '
              f'{took:.1f} s, the next block followed', file=sys.stderr)

        # 6. bitcoind back on the same endpoints while coldnode is in the
        # fallback (no rawtx for 10 polls: every poll a full one): its
        # first rawtx ends the fallback.
        t6 = time.monotonic()
        wait_zmq(n, lambda m: m['silent'] == 1, 30, 'the fallback')
        n.wait_log(r'zmq rawtx: none for 10 poll intervals', timeout=5)
        m5, mark = state_agrees(n), n.mark()
        pub = Publisher(b, os.path.join(h.tmp, 'publisher.log'), eps=old_eps)
        pub.subscribed()
        v7 = 99007
        b.pay_to([(scripts[7], v7)])
        wait_balance(n, v7, conf + v3 + v4, 30,
                     'a payment after the publisher came back')
        wait_zmq(n, lambda m: (m['silent'] == 0 and m['rawtx'] > m5['rawtx']
                               and m['restarts'] == m5['restarts'] + 1 and
                               m['gaps'] == m5['gaps']),
                 30, 'rawtx again, the fallback ended')
        n.wait_log(r'zmq rawtx: messages again', timeout=5, since=mark)
        print(f'publisher back: fallback ended; step 6 took '
              f'{time.monotonic() - t6:.1f} s', file=sys.stderr)
        pub.kill()
        if not n.running():
            fail('coldnode died')
        n.stop()


if __name__ == '__main__':
    run(main)
