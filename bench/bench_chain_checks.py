"""Funding checks per second against a real node (bcoin regtest) holding N
(>= 2000) funding outputs, as a ratio to the raw gettxout rate the same
node answers for the same outputs with the same concurrency.

The N outputs are P2WSH 2-of-2 of deterministic keys (bench_chain keys N),
all in one mined transaction, 6 confirmations deep; bench_chain check then
runs both measurements (best of 5, interleaved).

  BENCH_CHAIN=... NODE=... BCOIN_DIR=... PYTHONPATH=tests/chain \
      bench_chain_checks.py [N]
"""
import os
import subprocess
import sys

from bcoin import Bcoin

N = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
EXE = os.environ['BENCH_CHAIN']


def main():
    keys = subprocess.run([EXE, 'keys', str(N)], capture_output=True,
                          text=True, check=True).stdout.split('\n')
    scripts = [line.split()[2] for line in keys if line]
    with Bcoin() as b:
        b.mine(101)
        txid, _ = b.pay_to([(s, 10000) for s in scripts], fee=200000)
        bh = b.mine(6)[0]
        height, idx = b.locate(txid, bh)
        print(f'bcoin regtest: {N} funding outputs in tx {height}x{idx}',
              flush=True)
        r = subprocess.run([EXE, 'check', f'127.0.0.1:{b.port}', b.api_key,
                            str(height), str(idx), str(N), txid],
                           capture_output=True, text=True)
        sys.stdout.write(r.stdout)
        sys.stderr.write(r.stderr)
        return r.returncode


if __name__ == '__main__':
    sys.exit(main())
