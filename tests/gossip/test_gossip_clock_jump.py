"""Two weeks offline (a clock jump: libfaketime) with the chain backend
away: nothing still alive is lost.  B synced A's graph, then stopped; B
starts again two weeks and a day later (faketime "+15d", running twenty times
fast so the one-minute first prune comes in seconds), its chain backend
unreachable and A not yet up.  Every update B has is now older than two
weeks, but no sync has shown those channels dead: B keeps them all
(before issue 21 the prune at start deleted them).  A comes back with
fresh updates for every channel (gengraph with the same seed, timestamped
at the new time); B syncs them and, with the sync done, prunes nothing
alive: all 120 channels and 240 updates, each newer than the jump."""
import os
import sqlite3
import subprocess
import time

from harness import Harness, fail, free_port, run

COMMON = ('--signer=local', '--network=regtest', '--debuglevel=debug')
JUMP = 15 * 86400


def store(node, sql):
    path = os.path.join(node.datadir, 'gossip.sqlite3')
    db = sqlite3.connect(f'file:{path}?mode=ro', uri=True, timeout=5)
    try:
        return db.execute(sql).fetchone()
    finally:
        db.close()


def main():
    gengraph = os.environ['GENGRAPH']
    real = os.environ['COLDNODE']
    now = int(time.time())
    with Harness() as h:
        port = free_port()
        a = h.node('a', *COMMON, f'--listen=127.0.0.1:{port}')
        os.makedirs(a.datadir, mode=0o700, exist_ok=True)
        subprocess.run([gengraph, '--nodes', '40', '--channels', '120',
                        '--network', 'regtest', '--now', str(now),
                        '--datadir', a.datadir], check=True,
                       stdout=subprocess.DEVNULL)
        a.start()
        a_id = a.node_id()
        b = h.node('b', *COMMON, '--nolisten',
                   f'--connect={a_id}@127.0.0.1:{port}').start()
        end = time.time() + 30
        while time.time() < end and \
                store(b, "SELECT v FROM meta WHERE k='updates'")[0] != 240:
            time.sleep(0.2)
        if store(b, "SELECT v FROM meta WHERE k='channels'")[0] != 120:
            fail('B did not sync A\n' + b.tail())
        b.stop()
        a.stop()

        # A's graph again, same channels, updates signed at the new time.
        os.remove(os.path.join(a.datadir, 'gossip.sqlite3'))
        subprocess.run([gengraph, '--nodes', '40', '--channels', '120',
                        '--network', 'regtest', '--now', str(now + JUMP),
                        '--datadir', a.datadir], check=True,
                       stdout=subprocess.DEVNULL)

        # libfaketime preloaded into coldnode itself (the faketime command
        # would stand between the harness's signals and coldnode).
        lib = subprocess.run(['dpkg', '-L', 'libfaketime'], capture_output=True,
                             text=True).stdout.split()
        lib = [p for p in lib if p.endswith('/libfaketime.so.1')]
        if not lib:
            fail('libfaketime not installed (scripts/install-deps --test)')
        wrapper = os.path.join(h.tmp, 'coldnode-faketime')
        with open(wrapper, 'w') as f:
            f.write(f'#!/bin/sh\nFAKETIME="+{JUMP}s x20" '
                    f'LD_PRELOAD={lib[0]} exec {real} "$@"\n')
        os.chmod(wrapper, 0o755)
        os.environ['COLDNODE'] = wrapper
        # The backend is away the whole time (nothing listens there).
        b.args = b.args + [
            '--bitcoin.node=bitcoind',
            f'--bitcoind.rpchost=127.0.0.1:{free_port()}',
            '--bitcoind.rpcuser=u', '--bitcoind.rpcpass=p']
        mb = b.mark()
        b.start()
        # 4.5 s at twenty times: past the first prune (a minute in).
        time.sleep(4.5)
        chans = store(b, "SELECT v FROM meta WHERE k='channels'")[0]
        if chans != 120:
            fail(f'B pruned before any sync: {chans} channels left\n' +
                 b.tail())
        a.start()
        end = time.time() + 60
        fresh = 0
        while time.time() < end:
            fresh = store(b, 'SELECT COUNT(*) FROM updates WHERE ts > '
                          f'{now + JUMP - 8 * 86400}')[0]
            if fresh == 240:
                break
            time.sleep(0.3)
        if fresh != 240:
            fail(f'B has {fresh} fresh updates of 240\n' + b.tail())
        # A sync completed, then a prune run (hourly at twenty times: wait
        # for the log line of the sync, then for the counts to hold).
        b.wait_log(r'graph sync done', since=mb)
        time.sleep(2)
        got = store(b, "SELECT v FROM meta WHERE k='channels'")[0]
        if got != 120:
            fail(f'B lost live channels after the sync: {got}')
        print('two-week jump with the backend away: 120 channels kept, '
              '240 fresh updates synced')


run(main)
