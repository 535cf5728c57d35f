"""Helpers shared by the soak test and the crash-restart test, on top of
tests/integration/harness.py.  Standard library only.

Meson passes the binaries through the environment: COLDNODE, COLDSIGNER,
COLDCTL, GENGRAPH, SOAKLOAD, SOAKLOAD_RPC."""
import json
import os
import subprocess
import threading
import time

from harness import fail
# Committed counts and integrity of the gossip store, as the tests name them.
from storelib import counts as committed_counts  # noqa: F401
from storelib import integrity as store_integrity  # noqa: F401


def exe(name):
    path = os.environ.get(name)
    if not path or not os.access(path, os.X_OK):
        fail(f'{name} is not set to its binary (run through meson)')
    return path


def make_graph(tmp, nodes, channels, name='graph.bin'):
    """A signed synthetic graph file (tools/gengraph); returns (path,
    number of messages)."""
    path = os.path.join(tmp, name)
    subprocess.run([exe('GENGRAPH'), '--nodes', str(nodes), '--channels',
                    str(channels), '--network', 'regtest', '--out', path],
                   check=True, stdout=subprocess.DEVNULL)
    return path, nodes + 3 * channels


def coldctl(node, *args, macaroon='monitor.macaroon', timeout=10):
    """Run coldctl against @node's unix RPC socket; returns (rc, parsed
    JSON or None, stderr)."""
    cmd = [exe('COLDCTL'), f'--rpcserver=unix:{node.datadir}/rpc.sock',
           f'--datadir={node.datadir}',
           f'--macaroonpath={os.path.join(node.datadir, macaroon)}',
           '--timeout=5'] + list(args)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    try:
        out = json.loads(p.stdout) if p.returncode == 0 else None
    except json.JSONDecodeError:
        out = None
    return p.returncode, out, p.stderr.strip()


def state_counts(st):
    g = st['gossip']
    return (int(g['nodes']), int(g['channels']), int(g['channel_updates']))


class JsonLines:
    """A child process printing one JSON object per line on stdout; keeps
    the last one."""

    def __init__(self, cmd, errpath):
        self.err = open(errpath, 'ab')
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                                     stderr=self.err, text=True)
        self.last = None
        self.lines = 0
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()

    def _read(self):
        for line in self.proc.stdout:
            try:
                self.last = json.loads(line)
                self.lines += 1
            except json.JSONDecodeError:
                pass

    def wait_for(self, pred, what, timeout=30):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.last is not None and pred(self.last):
                return self.last
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        fail(f'timed out waiting for {what}; last report {self.last}')

    def stop(self):
        """SIGTERM; returns the final report."""
        if self.proc.poll() is None:
            self.proc.terminate()
        self.proc.wait(15)
        self.t.join(5)
        self.err.close()
        return self.last


def soakload(h, node_id, port, *args):
    return JsonLines([exe('SOAKLOAD'), '--connect',
                      f'{node_id}@127.0.0.1:{port}'] + list(args),
                     os.path.join(h.tmp, 'soakload.err'))


def soakload_rpc(h, node, *args):
    return JsonLines([exe('SOAKLOAD_RPC'), '--rpcserver',
                      f'unix:{node.datadir}/rpc.sock', '--tlscertpath',
                      os.path.join(node.datadir, 'tls.cert'),
                      '--macaroonpath',
                      os.path.join(node.datadir, 'monitor.macaroon')]
                     + list(args), os.path.join(h.tmp, 'soakload_rpc.err'))


def vm_kb(pid, field):
    """VmRSS / VmHWM of @pid in kB (0 if gone)."""
    try:
        with open(f'/proc/{pid}/status') as f:
            for line in f:
                if line.startswith(field + ':'):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0
