"""Helpers for the cluster tests: a real 3-member etcd cluster on
127.0.0.1 (Debian's etcd-server 3.4, free ports, temp data dirs), TCP
proxies that can stop forwarding (a partition), a round-robin TCP proxy (a
stable signer address in front of every instance), and SubscribeState
watchers.  Standard library only."""
import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time

from harness import DEFAULT_TIMEOUT, fail, free_port

ETCD = shutil.which('etcd') or '/usr/bin/etcd'
ETCDCTL = shutil.which('etcdctl') or '/usr/bin/etcdctl'


class Etcd:
    """@n members named m0.. on 127.0.0.1, started together."""

    def __init__(self, tmp, n=3):
        self.tmp = tmp
        self.n = n
        self.client = [free_port() for _ in range(n)]
        self.peer = [free_port() for _ in range(n)]
        self.procs = [None] * n
        self.logs = [os.path.join(tmp, f'etcd-m{i}.log') for i in range(n)]
        self.initial = ','.join(f'm{i}=http://127.0.0.1:{self.peer[i]}'
                                for i in range(n))

    def endpoints(self, idx=None):
        idx = range(self.n) if idx is None else idx
        return [f'127.0.0.1:{self.client[i]}' for i in idx]

    def start(self, i):
        if self.procs[i]:
            return
        cmd = [ETCD, '--name', f'm{i}',
               '--data-dir', os.path.join(self.tmp, f'etcd-m{i}'),
               '--listen-client-urls', f'http://127.0.0.1:{self.client[i]}',
               '--advertise-client-urls',
               f'http://127.0.0.1:{self.client[i]}',
               '--listen-peer-urls', f'http://127.0.0.1:{self.peer[i]}',
               '--initial-advertise-peer-urls',
               f'http://127.0.0.1:{self.peer[i]}',
               '--initial-cluster', self.initial,
               '--initial-cluster-token', os.path.basename(self.tmp),
               '--initial-cluster-state', 'new',
               '--log-level', 'warn']
        self.procs[i] = subprocess.Popen(
            cmd, stdout=open(self.logs[i], 'ab'), stderr=subprocess.STDOUT)

    def start_all(self):
        for i in range(self.n):
            self.start(i)
        self.wait_healthy()

    def kill(self, i):
        p = self.procs[i]
        if p:
            p.kill()
            p.wait()
            self.procs[i] = None

    def stop_all(self):
        for i in range(self.n):
            self.kill(i)

    user = None  # "name:password" once auth is enabled

    def ctl(self, *args, idx=None, timeout=10):
        env = dict(os.environ, ETCDCTL_API='3')
        auth = [f'--user={self.user}'] if self.user else []
        p = subprocess.run([ETCDCTL, '--endpoints=' + ','.join(
            self.endpoints(idx)), '--command-timeout=3s'] + auth +
            list(args), capture_output=True, timeout=timeout, env=env)
        return p.returncode, p.stdout.decode(), p.stderr.decode()

    def wait_healthy(self, timeout=DEFAULT_TIMEOUT):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            rc, out, err = self.ctl('endpoint', 'health',
                                    idx=[i for i in range(self.n)
                                         if self.procs[i]])
            if rc == 0:
                return
            time.sleep(0.1)
        fail(f'etcd not healthy within {timeout}s: {out} {err}')

    def raft_leader(self):
        """Index of the member that is raft leader now."""
        rc, out, err = self.ctl('endpoint', 'status', '-w', 'json',
                                idx=[i for i in range(self.n)
                                     if self.procs[i]])
        if rc != 0:
            fail(f'etcdctl endpoint status: {err}')
        for st in json.loads(out):
            port = int(st['Endpoint'].rsplit(':', 1)[1])
            s = st['Status']
            if s['header']['member_id'] == s['leader']:
                return self.client.index(port)
        fail(f'no raft leader in {out}')

    def get_prefix(self, prefix):
        """Every key under @prefix as etcdctl reads it: [(key, value,
        create_revision, lease)], sorted by create revision."""
        rc, out, err = self.ctl('get', '--prefix', prefix, '-w', 'json')
        if rc != 0:
            fail(f'etcdctl get: {err}')
        kvs = json.loads(out).get('kvs', [])
        res = [(base64.b64decode(kv['key']).decode(),
                base64.b64decode(kv.get('value', '')).decode(),
                int(kv['create_revision']), int(kv.get('lease', 0)))
               for kv in kvs]
        return sorted(res, key=lambda r: r[2])


class Proxy:
    """TCP proxy to @targets (ports on 127.0.0.1).  One target: a plain
    forwarder whose `cut` stops forwarding (connections stay open, bytes
    are dropped: a partition, not a reset).  Several: each new connection
    goes to the next target in turn (round robin)."""

    def __init__(self, targets):
        self.targets = list(targets)
        self.cut = False
        self.next = 0
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(('127.0.0.1', 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.lock = threading.Lock()
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.closed:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                t = self.targets[self.next % len(self.targets)]
                self.next += 1
            try:
                u = socket.create_connection(('127.0.0.1', t), timeout=2)
                u.settimeout(None)
            except OSError:
                c.close()
                continue
            with self.lock:
                self.conns += [c, u]
            for a, b in ((c, u), (u, c)):
                threading.Thread(target=self._pump, args=(a, b),
                                 daemon=True).start()

    def _pump(self, a, b):
        while True:
            try:
                d = a.recv(65536)
            except OSError:
                d = b''
            if not d:
                break
            if self.cut:
                continue  # dropped on the floor: a partition
            try:
                b.sendall(d)
            except OSError:
                break
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self):
        self.closed = True
        self.sock.close()
        with self.lock:
            for s in self.conns:
                try:
                    s.close()
                except OSError:
                    pass


class StateWatch:
    """substate.js on one node: SubscribeState updates with arrival time."""

    def __init__(self, node_exe, script, addr, cert, macaroon, logpath):
        self.logpath = logpath
        self.proc = subprocess.Popen(
            [node_exe, script, addr, cert, macaroon],
            stdin=subprocess.PIPE, stdout=open(logpath, 'ab'),
            stderr=subprocess.STDOUT)

    def updates(self):
        out = []
        try:
            with open(self.logpath) as f:
                for line in f:
                    try:
                        out.append(json.loads(line))
                    except ValueError:
                        pass
        except FileNotFoundError:
            pass
        return out

    def active_intervals(self, now_ms):
        """[(start, end)] in ms where the node reported ACTIVE with a
        signer; a stream error ends an interval (the node went away)."""
        res, start = [], None
        for u in self.updates():
            on = (not u.get('gone') and u.get('state') == 'ACTIVE'
                  and u.get('signer'))
            if on and start is None:
                start = u['t']
            elif not on and start is not None:
                res.append((start, u['t']))
                start = None
        if start is not None:
            res.append((start, now_ms))
        return res

    def stop(self):
        if self.proc:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None


def overlaps(a, b):
    """Pairs of intervals of @a and @b that overlap."""
    return [(x, y) for x in a for y in b if x[0] < y[1] and y[0] < x[1]]
