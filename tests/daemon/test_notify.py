"""Issue 12, systemd notifications: coldnode (remote signer) with
NOTIFY_SOCKET pointing at a datagram socket this test reads, and
WATCHDOG_USEC set.  The messages and their order: READY=1 with
STATUS=WAITING_FOR_SIGNER first (the RPC port already accepts, no signer
yet), STATUS=ACTIVE: ... when the signer registers, STATUS=SAFE_MODE: signer
lost: ... when it is killed, WATCHDOG=1 meanwhile, STOPPING=1 on SIGTERM
after all of them."""
import os
import socket
import threading

from harness import Harness, run, fail
from ctl import rpc_port
from signer_harness import Signer


class Listener:
    """Collects every datagram on a unix socket, in arrival order."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.settimeout(0.2)
        self.msgs = []
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self.done = False
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        while not self.done:
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                continue
            with self.cond:
                self.msgs.append(data.decode())
                self.cond.notify_all()

    def wait(self, pred, what, timeout=30, after=-1):
        """Index of the first message after index @after matching."""
        def found():
            return any(pred(m) for m in self.msgs[after + 1:])
        with self.cond:
            if not self.cond.wait_for(found, timeout):
                fail(f'no notification {what} within {timeout}s; got '
                     f'{self.msgs}')
            return next(i for i, m in enumerate(self.msgs)
                        if i > after and pred(m))

    def close(self):
        self.done = True
        self.t.join()
        self.sock.close()


def main():
    with Harness() as h:
        lst = Listener(os.path.join(h.tmp, 'notify.sock'))
        x = h.node('x', '--signer=remote', '--network=regtest',
                   '--signerlisten=127.0.0.1:0', '--rpclisten=127.0.0.1:0',
                   '--nolisten', '--signer.pinginterval=500ms',
                   '--signer.pingtimeout=2s')
        os.environ['NOTIFY_SOCKET'] = os.path.join(h.tmp, 'notify.sock')
        os.environ['WATCHDOG_USEC'] = '200000'
        try:
            x.start(wait=r'p2p stays off')
        finally:
            # Only coldnode gets them: coldsigner notifies too.
            del os.environ['NOTIFY_SOCKET']
            del os.environ['WATCHDOG_USEC']

        ready = lst.wait(lambda m: 'READY=1' in m.split('\n'), 'READY=1')
        first = [m for m in lst.msgs if m != 'WATCHDOG=1'][0]
        if not first.startswith('READY=1\nSTATUS=WAITING_FOR_SIGNER: '):
            fail(f'first notification: {first!r}')
        # READY means the RPC port accepts connections.
        socket.create_connection(('127.0.0.1', rpc_port(x)), 5).close()

        s = Signer(h, 's', x).start()
        x.wait_log(r'WAITING_FOR_SIGNER -> ACTIVE')
        active = lst.wait(lambda m: m.startswith('STATUS=ACTIVE: '),
                          'STATUS=ACTIVE')
        s.kill()
        x.wait_log(r'ACTIVE -> SAFE_MODE')
        safe = lst.wait(lambda m: m.startswith('STATUS=SAFE_MODE: signer '
                                               'lost: '),
                        'STATUS=SAFE_MODE: signer lost')
        # The loop keeps pinging the watchdog in safe mode too.
        lst.wait(lambda m: m == 'WATCHDOG=1', 'WATCHDOG=1 in safe mode',
                 after=safe)
        x.stop()
        stopping = lst.wait(lambda m: m.startswith('STOPPING=1'),
                            'STOPPING=1')
        lst.close()
        if not ready < active < safe < stopping:
            fail(f'notifications out of order: {lst.msgs}')
        statuses = [m for m in lst.msgs[:stopping]
                    if m.startswith('STATUS=')]
        if [st.split(':')[0] for st in statuses] != \
                ['STATUS=ACTIVE', 'STATUS=SAFE_MODE']:
            fail(f'one STATUS per transition expected: {statuses}')
        for m in lst.msgs:
            for line in m.split('\n'):
                if '=' not in line:
                    fail(f'malformed notification line {line!r} in {m!r}')


run(main)
