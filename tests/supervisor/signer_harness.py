"""Helpers for supervisor tests on top of tests/integration/harness.py:
a remote-mode coldnode plus coldsigner processes.  Standard library only.
Meson passes COLDSIGNER (the signer binary) next to COLDNODE."""
import os
import re
import signal
import subprocess
import time

from harness import DEFAULT_TIMEOUT, fail


def coldsigner_exe():
    exe = os.environ.get('COLDSIGNER')
    if not exe or not os.access(exe, os.X_OK):
        fail('COLDSIGNER is not set to the coldsigner binary')
    return exe


def signer_port(node):
    """The --signerlisten port (port 0 in tests), from the start lines."""
    return int(node.wait_log(
        r'SUPV: gRPC listening on 127\.0\.0\.1:\d+ \(port (\d+)\)').group(1))


class Signer:
    """One coldsigner process dialling @node's signer port."""

    def __init__(self, h, name, node, keyfile=None, macaroon=None,
                 target=None):
        self.h = h
        self.name = name
        self.node = node
        self.keyfile = keyfile or os.path.join(h.tmp, name + '.key')
        self.macaroon = macaroon or os.path.join(node.datadir,
                                                 'signer.macaroon')
        self.target = target
        self.logpath = os.path.join(h.tmp, name + '.log')
        self.proc = None
        self.logfile = None

    def start(self):
        target = self.target or f'127.0.0.1:{signer_port(self.node)}'
        self.logfile = open(self.logpath, 'ab')
        self.proc = subprocess.Popen(
            [coldsigner_exe(), f'--rpcserver={target}',
             f'--tlscertpath={os.path.join(self.node.datadir, "tls.cert")}',
             f'--macaroonpath={self.macaroon}',
             f'--keyfile={self.keyfile}', '--network=regtest'],
            stdout=self.logfile, stderr=subprocess.STDOUT)
        return self

    def log(self):
        try:
            with open(self.logpath, 'r', errors='replace') as f:
                return f.read()
        except FileNotFoundError:
            return ''

    def wait_log(self, regex, timeout=DEFAULT_TIMEOUT, since=0):
        pat = re.compile(regex)
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for line in self.log()[since:].splitlines():
                m = pat.search(line)
                if m:
                    return m
            time.sleep(0.05)
        fail(f'{self.name}: no log line /{regex}/ within {timeout}s\n'
             + self.log()[-3000:])

    def kill(self):
        """SIGKILL: the signer vanishes without a goodbye."""
        if self.proc:
            self.proc.kill()
            self.proc.wait()
            self.proc = None
            self.logfile.close()

    def stop(self):
        if self.proc:
            self.proc.send_signal(signal.SIGTERM)
            rc = self.proc.wait(DEFAULT_TIMEOUT)
            self.proc = None
            self.logfile.close()
            if rc != 0:
                fail(f'{self.name}: exit code {rc}')


def write_node_key(datadir):
    """Pre-create a local node's key so its id is known before it starts;
    returns the node id (hex)."""
    from harness import ln_privkey, ln_pubkey
    os.makedirs(datadir, mode=0o700, exist_ok=True)
    priv = ln_privkey()
    path = os.path.join(datadir, 'node.key')
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, priv)
    os.close(fd)
    return ln_pubkey(priv).hex()

