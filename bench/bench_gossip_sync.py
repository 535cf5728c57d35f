"""First graph sync WITH a chain backend (issue 21): the full synthetic
graph (60,000 channels, 16,000 nodes, 196,000 messages, 376,000
signatures) synced from a peer by a coldnode whose bcoin (regtest) holds a
real funding output for every channel, against the single-core verify
bound measured in the same run (bench_gossip's bare
secp256k1_ecdsa_verify loop).

    bench_gossip_sync.py [CHANNELS]     (default 60000)

Needs COLDNODE, COLDCTL, GENGRAPH, BENCH_GOSSIP (bench_gossip), NODE,
BCOIN_DIR, PYTHONPATH=tests/chain:tests/integration (scripts/bench sets
them).  The sync itself is tests/gossip/test_gossip_chain_sync.py, which
also checks that the receiving store equals the sender's."""
import os
import re
import subprocess
import sys

here = os.path.dirname(os.path.abspath(__file__))
n = sys.argv[1] if len(sys.argv) > 1 else '60000'
env = dict(os.environ, GOSSIP_CHAIN_CHANNELS=n)
p = subprocess.run([sys.executable, os.path.join(
    here, '..', 'tests', 'gossip', 'test_gossip_chain_sync.py')],
    env=env, capture_output=True, text=True)
line = [ln for ln in p.stdout.splitlines() if 'synced with checks' in ln]
if p.returncode != 0 or not line:
    sys.stderr.write(p.stdout[-4000:] + p.stderr[-4000:])
    sys.exit('bench_gossip_sync: the sync test failed')
print(line[0])
m = re.search(r'B synced with checks in ([\d.]+) s: (\d+) msgs/s', line[0])
secs, msgs_s = float(m.group(1)), int(m.group(2))
chans = int(n)
nodes = max(2, chans * 16000 // 60000)
sigs = 4 * chans + 2 * chans + nodes
b = subprocess.run([os.environ['BENCH_GOSSIP'], '--small'],
                   capture_output=True, text=True, check=True).stdout
vrate = float(re.search(r'(\d+) verifies/s', b).group(1))
print(f'bound: one core verifies {vrate:.0f} signatures/s: the graph\'s '
      f'{sigs} signatures in {sigs / vrate:.1f} s')
print(f'sync: {sigs / secs:.0f} signatures/s, {msgs_s} messages/s, '
      f'{secs:.1f} s')
print(f'RATIO sync/verify-bound: {sigs / secs / vrate:.2f} (the funding '
      f'checks, one bcoin RPC round each, bound the sync, not signatures)')
