"""The signer and the chain backend lost at the same time: both reported
(SAFE_MODE with its cause, chain lost with its cause), RPC keeps
answering, nothing crashes; both come back: ACTIVE and synced, with the
blocks mined meanwhile connected."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                '..', 'supervisor'))

from bcoin import Bcoin
from chainlib import coldctl_getinfo, wait_chain
from ctl import coldctl_state
from harness import Harness, fail, run
from signer_harness import Signer


def main():
    with Harness() as h, Bcoin(log=os.path.join(h.tmp, 'bcoin.log')) as b:
        b.mine(3)
        x = h.node('x', '--signer=remote', '--network=regtest', '--nolisten',
                   '--bitcoind.blockpollinginterval=200ms',
                   *b.coldnode_args())
        x.start(wait=r'p2p stays off|SUPV: gRPC listening')
        s = Signer(h, 's', x).start()
        x.wait_log(r'-> ACTIVE')
        wait_chain(x, lambda c: c['status'] == 'synced' and
                   c['height'] == b.height(), 'synced')

        raws = [b.rpc('getblock', b.rpc('getblockhash', i), 0)
                for i in range(1, b.height() + 1)]
        m = x.mark()
        s.kill()
        b.kill()
        x.wait_log(r'ACTIVE -> SAFE_MODE', since=m)
        c = wait_chain(x, lambda c: c['status'] == 'lost', 'chain lost')
        st = coldctl_state(x)
        if st['state'] != 'SAFE_MODE' or not st['last_cause']:
            fail(f'signer loss not reported: {st["state"]} {st["last_cause"]}')
        if not c['last_error']:
            fail(f'chain loss without a cause: {c}')
        gi = coldctl_getinfo(x)
        if gi['synced_to_chain']:
            fail('synced_to_chain while the chain is lost')

        # Both back; blocks were mined while the node was away.
        b.start(port=b.port)
        for r in raws:
            b.rpc('submitblock', r)
        b.mine(5)
        s2 = Signer(h, 's2', x, keyfile=s.keyfile).start()
        x.wait_log(r'SAFE_MODE -> ACTIVE', since=m)
        wait_chain(x, lambda c: c['status'] == 'synced' and
                   c['height'] == b.height() and
                   c['hash'] == b.rpc('getbestblockhash'),
                   'caught up after both came back', timeout=60)
        if not coldctl_getinfo(x)['synced_to_chain']:
            fail('not synced_to_chain after catching up')
        if not x.running():
            fail('coldnode died')
        s2.stop()


if __name__ == '__main__':
    run(main)
