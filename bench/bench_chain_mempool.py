"""A mempool poll at the issue's scale against a real node (bcoin
regtest): N (default 5,000) transactions enter the mempool at once, then
bench_chain mempool measures one coldnode poll (requests, bytes, wall and
CPU) against the node's own getrawmempool + getrawtransaction cost for the
same calls from a bare client (the limit), and prints the ratio; then
bench_chain zmq the CPU per transaction when the same N transactions
arrive as bitcoind's ZMQ rawtx instead (into an empty mempool, and into
one already holding SYNTH), with the ratio to the poll's; then
bench_chain mempool-synth the per-poll CPU and memory of a 300,000-tx
mempool (mainnet peaks) without a node.

  BENCH_CHAIN=... NODE=... BCOIN_DIR=... PYTHONPATH=tests/chain \\
      bench_chain_mempool.py [N] [SYNTH]
"""
import json
import re
import tempfile
import os
import subprocess
import sys
import time

from bcoin import Bcoin, NODE, BCOIN_DIR

N = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
SYNTH = int(sys.argv[2]) if len(sys.argv) > 2 else 300000
EXE = os.environ['BENCH_CHAIN']
HERE = os.path.dirname(os.path.abspath(__file__))
FANOUT, EACH = 2000, 30000


def main():
    with Bcoin() as b:
        b.mine(101 + (N + FANOUT - 1) // FANOUT)
        coins = []
        for _ in range((N + FANOUT - 1) // FANOUT):
            txid, vout, value = b._coinbase_utxo(FANOUT * EACH + 200000)
            b._spent.add((txid, vout))
            coins.append({'txid': txid, 'vout': vout, 'value': value,
                          'script': b.miner_script})
        req = {'wif': b.miner['wif'], 'coins': coins, 'fanout': FANOUT,
               'each': EACH, 'targets': [{'script': b.miner_script,
                                          'value': 10000}] * N}
        p = subprocess.run([NODE, os.path.join(HERE, '..', 'tests', 'chain',
                                               'flood.js')],
                           input=json.dumps(req).encode(),
                           capture_output=True, check=True, cwd=BCOIN_DIR,
                           env=dict(os.environ, BCOIN_DIR=BCOIN_DIR))
        r = json.loads(p.stdout)
        for x in r['fanouts']:
            b.rpc('sendrawtransaction', x)
        b.mine(1)
        spends = [s['hex'] for s in r['spends']]
        for i in range(0, len(spends), 250):
            b.rpc_raw([{'method': 'sendrawtransaction', 'params': [x],
                        'id': j} for j, x in enumerate(spends[i:i + 250])],
                      timeout=300)
        deadline = time.monotonic() + 600
        while len(b.rpc('getrawmempool')) < N:
            if time.monotonic() > deadline:
                break
            time.sleep(0.5)
        have = len(b.rpc('getrawmempool'))
        print(f'bcoin regtest: {have} transactions in the mempool',
              flush=True)
        out = subprocess.run([EXE, 'mempool', f'127.0.0.1:{b.port}',
                              b.api_key, str(min(N, have))],
                             capture_output=True, text=True)
        sys.stdout.write(out.stdout)
        sys.stderr.write(out.stderr)
        if out.returncode:
            return out.returncode
        m = re.search(r'(\d+) ms CPU', out.stdout)
        poll_us = int(m.group(1)) * 1000 / min(N, have) if m else None
    # The same transactions by ZMQ rawtx (a publisher in a child process,
    # bitcoind's frames): no node needed.
    with tempfile.NamedTemporaryFile('w', suffix='.hex') as f:
        f.write('\n'.join(spends) + '\n')
        f.flush()
        for pre in (0, SYNTH):
            out = subprocess.run([EXE, 'zmq', f.name, str(pre)],
                                 capture_output=True, text=True)
            sys.stdout.write(out.stdout)
            sys.stderr.write(out.stderr)
            if out.returncode:
                return out.returncode
            m = re.search(r'\(([0-9.]+) us each', out.stdout)
            if m and poll_us:
                print(f'  CPU per transaction, ZMQ / poll (mempool of '
                      f'{pre}): {float(m.group(1)):.1f} / {poll_us:.1f} us '
                      f'= {float(m.group(1)) / poll_us:.2f}', flush=True)
    out = subprocess.run([EXE, 'mempool-synth', str(SYNTH)],
                         capture_output=True, text=True)
    sys.stdout.write(out.stdout)
    sys.stderr.write(out.stderr)
    return out.returncode


if __name__ == '__main__':
    sys.exit(main())
