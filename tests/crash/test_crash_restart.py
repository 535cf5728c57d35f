"""Crash safety: coldnode (--signer=local) ingests a stream of signed gossip
from 20 sessions (tools/soakload, repeating the stream so nothing a crash
loses stays lost) and is killed with SIGKILL at random points, KILLS times,
restarting after each kill.  Every time:

  - the store passes PRAGMA integrity_check and opens;
  - nothing committed is lost: the counts committed before the kill (read
    by a second SQLite connection, which sees committed data only) are
    still there after it, and never go down from one run to the next;
  - the restarted node serves RPC at once: the first GetState, sent as soon
    as the gRPC server logs that it listens, succeeds (no retry) and
    already reports at least the committed counts.

At the end the stream is let run to completion and the store must hold
the whole graph.  Usage: test_crash_restart.py [KILLS] [SEED]"""
import random
import sys
import time

from harness import Harness, fail, free_port, run
from soaklib import (coldctl, committed_counts, make_graph, soakload,
                     state_counts, store_integrity)

KILLS = int(sys.argv[1]) if len(sys.argv) > 1 else 20
SEED = int(sys.argv[2]) if len(sys.argv) > 2 else random.randrange(1 << 30)
NODES, CHANNELS = 1000, 4000
RATE = 1500  # gossip messages per second, over all sessions: the
#               stream (13000 messages) outlasts the kills


def start(node):
    """Start and ask GetState as soon as the gRPC server is up; returns
    (seconds from spawn to the answer, the state)."""
    t0 = time.monotonic()
    m = node.mark()
    node.start(wait=None)
    node.wait_log(r'RPC: gRPC listening on .*rpc\.sock', since=m)
    rc, st, err = coldctl(node, 'state')
    if rc != 0 or st is None:
        fail(f'restarted node did not answer GetState at once: {err}\n'
             + node.tail())
    return time.monotonic() - t0, st


def main():
    rnd = random.Random(SEED)
    print(f'seed {SEED}, {KILLS} kills')
    with Harness() as h:
        graph, _ = make_graph(h.tmp, NODES, CHANNELS)
        want = (NODES, CHANNELS, 2 * CHANNELS)
        port = free_port()
        node = h.node('crash', '--signer=local', '--network=regtest',
                      f'--listen=127.0.0.1:{port}')
        _, st = start(node)
        node_id = node.node_id()
        load = soakload(h, node_id, port, '--gossip', '20', '--graph', graph,
                        '--rate', str(RATE), '--repeat')
        floor = (0, 0, 0)   # highest committed counts seen so far
        answer_times = []
        progressed = 0
        for i in range(KILLS):
            # Let the stream run a random while, then crash mid-ingest.
            time.sleep(rnd.uniform(0.05, 0.5))
            before = committed_counts(node)
            node.kill()
            if store_integrity(node) != 'ok':
                fail(f'kill {i}: store corrupt after kill -9')
            after = committed_counts(node)
            if any(a < b for a, b in zip(after, before)):
                fail(f'kill {i}: committed {before}, after kill {after}')
            if any(a < b for a, b in zip(after, floor)):
                fail(f'kill {i}: counts went down: {floor} -> {after}')
            progressed += after != floor
            floor = after
            took, st = start(node)
            answer_times.append(took)
            got = state_counts(st)
            if any(g < c for g, c in zip(got, after)):
                fail(f'kill {i}: GetState after restart says {got}, '
                     f'committed {after}')
        # No more crashes: the repeated stream fills in what was lost.
        end = time.monotonic() + 60
        while committed_counts(node) != want and time.monotonic() < end:
            time.sleep(0.2)
        if committed_counts(node) != want:
            fail(f'store holds {committed_counts(node)}, want {want}')
        rep = load.stop()
        node.stop()
        if store_integrity(node) != 'ok':
            fail('store corrupt after a clean stop')
        answer_times.sort()
        print(f'{KILLS} kills, counts grew between {progressed} of them; '
              f'final {want}; restart to first GetState answer: median '
              f'{answer_times[len(answer_times) // 2] * 1000:.0f} ms, max '
              f'{answer_times[-1] * 1000:.0f} ms; soakload {rep}')
        if progressed < KILLS // 4:
            fail(f'only {progressed} of {KILLS} kills hit a growing store: '
                 'the test is not testing ingestion')


run(main)
