"""Shared harness for coldnode integration, interop and bad-input tests.

Standard library only (run with /usr/bin/python3).  Meson passes the
binaries through the environment: COLDNODE (the daemon), NODE (node.js, for
interop scripts), NODE_PATH (tests/interop/node_modules).

Typical use:

    from harness import Harness
    with Harness() as h:
        a = h.node('a', '--signer=local', '--listen=127.0.0.1:0')
        a.start()
        port = a.p2p_port()           # parsed from the start line
        b = h.node('b', '--signer=local', '--nolisten',
                   f'--connect={a.node_id()}@127.0.0.1:{port}')
        b.start()
        b.wait_log(r'peer .* ready')
    # leaving the block: every node gets SIGTERM and must exit 0, and any
    # "[BRK]" log line fails the test.

Electrum's BOLT 8 transport (an independent implementation) is wrapped by
the ln_* helpers at the bottom for tests that need a real Lightning peer.
"""

import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

DEFAULT_TIMEOUT = 15.0

# Options with a fixed default port: Node.start() sets each to 127.0.0.1:0
# unless the test passes it.
PORT_OPTIONS = ('--rpclisten', '--signerlisten', '--listen')

# BOLT 0 chain hashes (genesis hash, wire byte order).
CHAIN = {
    'mainnet': bytes.fromhex(
        '6fe28c0ab6f1b372c1a6a246ae63f74f931e8365e15a089c68d6190000000000'),
    'regtest': bytes.fromhex(
        '06226e46111a0b59caaf126043eb5bbf28c34f3a5e332a1fc7b2b73cf188910f'),
}


class TestFailure(Exception):
    pass


def fail(msg):
    raise TestFailure(msg)


def free_port():
    """A TCP port that was free a moment ago (bind port 0, close)."""
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


def coldnode_exe():
    exe = os.environ.get('COLDNODE')
    if not exe or not os.access(exe, os.X_OK):
        fail('COLDNODE is not set to the coldnode binary (run through meson)')
    return exe


class Node:
    """One coldnode process with its own datadir and log file."""

    def __init__(self, harness, name, args, datadir=None):
        self.h = harness
        self.name = name
        self.datadir = datadir or os.path.join(harness.tmp, name)
        self.args = list(args)
        self.logpath = os.path.join(harness.tmp, name + '.log')
        self.proc = None
        self.logfile = None

    # -- process control --------------------------------------------------
    def start(self, wait=r'p2p started|p2p stays off'):
        if self.proc:
            fail(f'{self.name}: already running')
        os.makedirs(self.datadir, mode=0o700, exist_ok=True)
        self.logfile = open(self.logpath, 'ab')
        self._start_mark = self.mark()
        cmd = [coldnode_exe(), f'--datadir={self.datadir}'] + self.args
        # Tests run in parallel: never use the fixed default ports.
        for opt in PORT_OPTIONS:
            if opt == '--listen' and '--nolisten' in self.args:
                continue
            if not any(a.startswith(opt + '=') or a == opt
                       for a in self.args):
                cmd.append(f'{opt}=127.0.0.1:0')
        self.proc = subprocess.Popen(cmd, stdout=self.logfile,
                                     stderr=subprocess.STDOUT)
        if wait:
            self.wait_log(wait, since=self._start_mark)
        return self

    def stop(self, expect_rc=0, timeout=DEFAULT_TIMEOUT):
        """SIGTERM and require a clean exit."""
        if not self.proc:
            return None
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            self._close()
            fail(f'{self.name}: did not exit within {timeout}s of SIGTERM')
        self._close()
        if expect_rc is not None and rc != expect_rc:
            fail(f'{self.name}: exit code {rc}, expected {expect_rc}\n'
                 + self.tail())
        return rc

    def kill(self):
        """SIGKILL: simulate a crash (no exit code check)."""
        if self.proc:
            self.proc.kill()
            self.proc.wait()
            self._close()

    def _close(self):
        self.proc = None
        if self.logfile:
            self.logfile.close()
            self.logfile = None

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    # -- logs -------------------------------------------------------------
    def log(self):
        try:
            with open(self.logpath, 'r', errors='replace') as f:
                return f.read()
        except FileNotFoundError:
            return ''

    def mark(self):
        """Position in the log; pass as since= to wait for newer lines."""
        return len(self.log())

    def tail(self, n=40):
        return f'--- last lines of {self.name} ---\n' + '\n'.join(
            self.log().splitlines()[-n:])

    def wait_log(self, regex, timeout=DEFAULT_TIMEOUT, since=0):
        """Wait until a log line after @since matches @regex; returns the
        match.  Fails if the process dies first."""
        pat = re.compile(regex)
        end = time.monotonic() + timeout
        while True:
            text = self.log()[since:]
            for line in text.splitlines():
                m = pat.search(line)
                if m:
                    return m
            if self.proc and self.proc.poll() is not None:
                fail(f'{self.name}: exited ({self.proc.returncode}) while '
                     f'waiting for /{regex}/\n' + self.tail())
            if time.monotonic() > end:
                fail(f'{self.name}: no log line /{regex}/ within '
                     f'{timeout}s\n' + self.tail())
            time.sleep(0.05)

    def count_log(self, regex, since=0):
        pat = re.compile(regex)
        return sum(1 for l in self.log()[since:].splitlines()
                   if pat.search(l))

    def broken_lines(self):
        return [l for l in self.log().splitlines() if '[BRK]' in l]

    # -- facts from the start lines ----------------------------------------
    def node_id(self):
        return self.wait_log(r'node id ([0-9a-f]{66})').group(1)

    def p2p_port(self):
        return int(self.wait_log(r'p2p started: .* listening port (\d+)')
                   .group(1))


class Harness:
    """Context manager: temp dir, nodes, and the final checks."""

    def __init__(self, keep=False):
        self.keep = keep or bool(os.environ.get('KEEP_TMP'))
        self.tmp = tempfile.mkdtemp(prefix='coldnode-it-')
        self.nodes = []

    def node(self, name, *args, datadir=None):
        n = Node(self, name, args, datadir)
        self.nodes.append(n)
        return n

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        errors = []
        for n in self.nodes:
            if n.proc:
                try:
                    n.stop()
                except TestFailure as e:
                    errors.append(str(e))
            brk = n.broken_lines()
            if brk:
                errors.append(f'{n.name}: BROKEN log lines:\n' +
                              '\n'.join(brk))
        if exc_type is not None or errors:
            for n in self.nodes:
                sys.stderr.write(n.tail() + '\n')
            print(f'(logs kept in {self.tmp})', file=sys.stderr)
        elif not self.keep:
            shutil.rmtree(self.tmp, ignore_errors=True)
        if errors and exc_type is None:
            raise TestFailure('\n'.join(errors))
        return False


class Lines:
    """A child's stdout, line by line, read by a thread (no select on a
    buffered pipe).  @timeout: the default wait of wait() and rest()."""

    def __init__(self, proc, timeout=DEFAULT_TIMEOUT):
        self.proc = proc
        self.timeout = timeout
        self.q = queue.Queue()
        self.all = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self):
        for line in self.proc.stdout:
            self.q.put(line.rstrip('\n'))
        self.q.put(None)

    def wait(self, want, timeout=None, what=None):
        """The first line starting with @want, or for which @want(line) is
        true when it is a function (fails at the timeout or the child's
        end, naming @what)."""
        match = want if callable(want) else (lambda l: l.startswith(want))
        end = time.monotonic() + (timeout or self.timeout)
        while time.monotonic() < end:
            try:
                line = self.q.get(timeout=0.2)
            except queue.Empty:
                continue
            if line is None:
                break
            self.all.append(line)
            if match(line):
                return line
        if what:
            fail(f'no {what}; got {self.all[-20:]}')
        fail(f'no "{want}" line; got {self.all}')

    def drain(self):
        """The lines read so far plus whatever is waiting now."""
        while True:
            try:
                line = self.q.get_nowait()
            except queue.Empty:
                return self.all
            if line is None:
                return self.all
            self.all.append(line)

    def rest(self):
        """Everything, once the child has exited."""
        self.proc.wait(self.timeout)
        while True:
            line = self.q.get(timeout=self.timeout)
            if line is None:
                return self.all
            self.all.append(line)


def descendants(pid):
    """Every live process below @pid (from /proc), children first."""
    kids = {}
    for d in os.listdir('/proc'):
        if not d.isdigit():
            continue
        try:
            with open(f'/proc/{d}/stat') as f:
                st = f.read()
        except OSError:
            continue
        ppid = int(st[st.rindex(')') + 2:].split()[1])
        kids.setdefault(ppid, []).append(int(d))
    out, todo = [], [pid]
    while todo:
        for k in kids.get(todo.pop(), []):
            out.append(k)
            todo.append(k)
    return out


def reap():
    """A failed test may leave what it started (a signer, a load tool, a
    proxy) running: kill them, so that they cannot disturb the next test."""
    for pid in descendants(os.getpid()):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def run(main):
    """Run a test's main(); exit 1 with the reason on failure.  Whatever
    it leaves running is killed either way."""
    try:
        main()
    except TestFailure as e:
        print(f'FAIL: {e}', file=sys.stderr)
        sys.exit(1)
    finally:
        reap()
    print('PASS')


# --------------------------------------------------------------------------
# BOLT 1 message helpers (bytes only) and Electrum's BOLT 8 transport.

def msg_init(chain=None, features=b'', networks=None):
    """init: empty globalfeatures, @features, networks TLV (list of chain
    hashes; default [chain])."""
    if networks is None:
        networks = [chain if chain is not None else CHAIN['regtest']]
    body = (16).to_bytes(2, 'big') + b'\x00\x00'
    body += len(features).to_bytes(2, 'big') + features
    if networks is not False:
        blob = b''.join(networks)
        assert len(blob) < 0xfd
        body += b'\x01' + bytes([len(blob)]) + blob
    return body


def msg_ping(num_pong_bytes, byteslen=0):
    return ((18).to_bytes(2, 'big') + num_pong_bytes.to_bytes(2, 'big') +
            byteslen.to_bytes(2, 'big') + bytes(byteslen))


def msg_type(msg):
    return int.from_bytes(msg[:2], 'big')


def ln_privkey():
    """A fresh random secp256k1 private key (32 bytes)."""
    from electrum import ecc
    return ecc.ECPrivkey.generate_random_key().get_secret_bytes()


def ln_pubkey(priv):
    from electrum import ecc
    return ecc.ECPrivkey(priv).get_public_key_bytes(compressed=True)


async def ln_connect(host, port, node_id_hex, priv=None):
    """Electrum initiator: TCP connect + BOLT 8 handshake.  Returns the
    transport (send_bytes(msg), read_messages())."""
    from electrum.lntransport import LNTransport
    from electrum.lnutil import LNPeerAddr
    t = LNTransport(priv or ln_privkey(),
                    LNPeerAddr(host, port, bytes.fromhex(node_id_hex)),
                    proxy=None)
    await t.handshake()
    return t


class LNReader:
    """Wraps an Electrum transport's message generator with timeouts."""

    def __init__(self, transport):
        self.t = transport
        self.gen = transport.read_messages()

    async def next(self, timeout=DEFAULT_TIMEOUT):
        import asyncio
        return await asyncio.wait_for(self.gen.__anext__(), timeout)

    async def expect(self, mtype, timeout=DEFAULT_TIMEOUT,
                     skip=(18,) + tuple(range(256, 266))):
        """Next message of @mtype; pings and BOLT 7 gossip from the node
        (its gossip_timestamp_filter and sync queries on connect), or other
        @skip types, in between are skipped."""
        import asyncio
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            if left <= 0:
                raise asyncio.TimeoutError()
            m = await self.next(left)
            if msg_type(m) == mtype:
                return m
            if msg_type(m) not in skip:
                fail(f'expected message type {mtype}, got {msg_type(m)}')

    async def closed(self, timeout=DEFAULT_TIMEOUT):
        """True once the remote closes the connection."""
        from electrum.lnutil import LightningPeerConnectionClosed
        end = time.monotonic() + timeout
        try:
            while time.monotonic() < end:
                await self.next(end - time.monotonic())
        except LightningPeerConnectionClosed:
            return True
        except Exception:
            return False
        return False


async def ln_session(host, port, node_id_hex, chain=None):
    """Handshake + init exchange with a coldnode; returns (transport,
    reader, their_init)."""
    t = await ln_connect(host, port, node_id_hex)
    r = LNReader(t)
    t.send_bytes(msg_init(chain))
    their = await r.expect(16)
    return t, r, their
