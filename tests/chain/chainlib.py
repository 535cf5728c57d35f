"""Helpers for the chain tests: coldctl getinfo/state as JSON, waiting for
a condition on them.  Standard library only."""
import json
import os
import subprocess
import time

from ctl import coldctl_state, rpc_port
from harness import fail


def coldctl_getinfo(node):
    exe = os.environ['COLDCTL']
    p = subprocess.run(
        [exe, f'--datadir={node.datadir}',
         f'--rpcserver=127.0.0.1:{rpc_port(node)}',
         f'--macaroonpath={os.path.join(node.datadir, "monitor.macaroon")}',
         '--timeout=10', 'getinfo'],
        capture_output=True, text=True, timeout=30)
    if p.returncode != 0:
        fail(f'coldctl getinfo: rc {p.returncode}\n{p.stderr}')
    return json.loads(p.stdout)


def health(node, service='chain'):
    """grpc.health.v1 Check of @service through @grpc/grpc-js:
    'SERVING', 'NOT_SERVING' or 'ERR <code>' (5: NOT_FOUND)."""
    p = subprocess.run(
        [os.environ.get('NODE', 'node'),
         os.path.join(os.path.dirname(os.path.abspath(__file__)), 'health.js'),
         node.datadir, str(rpc_port(node)), service],
        capture_output=True, text=True, timeout=30)
    if p.returncode != 0:
        fail(f'health.js: {p.stderr}')
    return p.stdout.strip()


def chain_state(node):
    """GetState's chain section; 64-bit counters (strings in coldctl's
    JSON, as lncli prints them) as ints."""
    st = coldctl_state(node)['chain']
    for k in ('blocks_connected', 'blocks_disconnected', 'requests',
              'errors', 'lost_count', 'tip_time', 'checks_queued',
              'watched', 'spent', 'forgotten', 'reorgs'):
        st[k] = int(st[k])
    st['checks'] = {k: int(v) for k, v in st['checks'].items()}
    return st


def wait_chain(node, pred, what, timeout=30.0):
    """Poll GetState until pred(chain section) holds; fail with the last
    state otherwise."""
    deadline = time.monotonic() + timeout
    st = None
    while time.monotonic() < deadline:
        st = chain_state(node)
        if pred(st):
            return st
        time.sleep(0.2)
    fail(f'chain: waited {timeout:.0f} s for {what}; last state {st}\n'
         f'{node.tail()}')
