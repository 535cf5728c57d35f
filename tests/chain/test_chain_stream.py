"""The chain module's block stream (what the wallet view consumes),
through its public API against a real node (bcoin regtest): blocks
connected once each, in height order, from START_BACK below the tip; on a
reorg the old branch disconnected newest first, then the new branch
connected oldest first; after a restart the stream resumes from the
stored tip without repeating a block; the mempool poll reports the node's
mempool."""
import os
import shutil
import subprocess
import tempfile
import threading
import time

from bcoin import Bcoin, keygen, p2pkh_script
from harness import fail, run

EXE = os.environ['CHAIN_STREAM']


class Stream:
    def __init__(self, b, db, back):
        self.p = subprocess.Popen([EXE, f'127.0.0.1:{b.port}', b.api_key, db,
                                   str(back)], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True)
        self.lines = []
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()

    def _read(self):
        for line in self.p.stdout:
            self.lines.append(line.split())

    def wait(self, pred, what, timeout=30):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if pred(self.lines):
                return
            time.sleep(0.05)
        fail(f'stream: no {what} in 30 s; got {self.lines[-20:]}')

    def stop(self):
        self.p.stdin.close()
        if self.p.wait(15) != 0:
            fail(f'chain_stream exit code {self.p.returncode}')


def conns(lines):
    return [(int(l[1]), l[2]) for l in lines if l[0] == 'C']


def main():
    tmp = tempfile.mkdtemp(prefix='chain-stream-')
    try:
        follow(os.path.join(tmp, 'chain.sqlite3'))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def follow(db):
    with Bcoin() as b:
        b.mine(101)               # a mature coinbase for the mempool part
        s = Stream(b, db, 3)
        tip = b.height()
        s.wait(lambda ls: conns(ls) and conns(ls)[-1][0] == tip, 'tip')
        c = conns(s.lines)
        if [h for h, _ in c] != list(range(tip - 3, tip + 1)):
            fail(f'start 3 below the tip, in order: {c}')
        for h, hh in c:
            if b.rpc('getblockhash', h) != hh:
                fail(f'block {h}: hash {hh} is not the node\'s')

        # Reorg: invalidate the last 2 blocks, mine 3 on the other branch.
        old = [b.rpc('getblockhash', h) for h in (tip - 1, tip)]
        # Before invalidateblock: the node is shorter at once, and is
        # followed back (no initialblockdownload) before the new blocks.
        mark = len(s.lines)
        b.rpc('invalidateblock', old[0])
        new = b.mine(3)
        s.wait(lambda ls: conns(ls[mark:]) and
               conns(ls[mark:])[-1][1] == new[-1], 'the new branch')
        ev = [l for l in s.lines[mark:] if l[0] in 'CD']
        want = ([['D', str(tip), old[1]], ['D', str(tip - 1), old[0]]] +
                [['C', str(tip - 1 + i), new[i]] for i in range(3)])
        if [e[:3] for e in ev] != want:
            fail(f'reorg events {ev}, want {want}')

        s.stop()

        # Restart: resumes from the stored tip, no block repeated; the
        # mempool poll sees a transaction waiting.
        b.mine(2)
        b.pay_to([(p2pkh_script(keygen(1)[0]['pub']), 50000)])
        s2 = Stream(b, db, 3)
        s2.wait(lambda ls: conns(ls) and
                conns(ls)[-1][1] == b.rpc('getbestblockhash'), 'catch-up')
        c2 = conns(s2.lines)
        if [h for h, _ in c2] != [b.height() - 1, b.height()]:
            fail(f'after a restart only the 2 new blocks: {c2}')
        s2.wait(lambda ls: ['M', '1'] in ls, 'a mempool poll with the tx')
        s2.stop()


if __name__ == '__main__':
    run(main)
