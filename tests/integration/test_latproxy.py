"""tools/latproxy, the latency harness of bench/bench_reconnect.py.

Checks, against a real echo server on 127.0.0.1:
  - only 127.0.0.0/8 targets are accepted (exit code 2 otherwise);
  - bytes pass intact both ways (1 MiB, in order) and an EOF passes on;
  - an upstream that refuses closes the client;
  - the delays are at least what the model says (lower bounds only: a slow
    machine can only add time): connect + first echo >= 4 one-way delays
    (the connect's round trip, then the bytes' round trip), each further
    echo >= 2;
  - --rate-kbps: 200 KB echoed through a 200 KB/s link arrive intact and
    no sooner than the rate allows (a lower bound again), and a sender
    that nobody reads from is held back (its writes block) instead of
    being buffered by the proxy without bound.
"""
import hashlib
import os
import socket
import subprocess
import threading
import time

from harness import fail, free_port, run

DELAY_MS = 50


def echo_server():
    ls = socket.socket()
    ls.bind(('127.0.0.1', 0))
    ls.listen(16)

    def serve(c):
        with c:
            while True:
                b = c.recv(65536)
                if not b:
                    return
                c.sendall(b)

    def loop():
        while True:
            try:
                c, _ = ls.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(c,), daemon=True).start()

    threading.Thread(target=loop, daemon=True).start()
    return ls


def start_proxy(*targets, rate=None):
    extra = ['--rate-kbps', str(rate)] if rate else []
    p = subprocess.Popen([os.environ['LATPROXY'], '--delay-ms', str(DELAY_MS),
                          *extra, *targets], stdout=subprocess.PIPE, text=True)
    ports = []
    for line in p.stdout:
        if line.startswith('MAP '):
            ports.append(int(line.split()[1]))
        if line.strip() == 'READY':
            return p, ports
    fail(f'latproxy exited with {p.wait()}')


def recv_exact(s, n):
    out = b''
    while len(out) < n:
        b = s.recv(n - len(out))
        if not b:
            fail(f'EOF after {len(out)} of {n} bytes')
        out += b
    return out


def main():
    d = DELAY_MS / 1000
    for bad in ('10.0.0.1:80', '0.0.0.0:80', '127.0.0.1:0', 'nonsense'):
        rc = subprocess.run([os.environ['LATPROXY'], '--delay-ms', '1', bad],
                            capture_output=True, timeout=10).returncode
        if rc != 2:
            fail(f'latproxy accepted target {bad} (rc {rc})')

    ls = echo_server()
    dead = free_port()
    proxy, (port, dead_port) = start_proxy(
        f'127.0.0.1:{ls.getsockname()[1]}', f'127.0.0.1:{dead}')
    try:
        # The model's lower bounds.
        t0 = time.monotonic()
        s = socket.create_connection(('127.0.0.1', port), timeout=20)
        s.sendall(b'x')
        recv_exact(s, 1)
        first = time.monotonic() - t0
        if first < 4 * d:
            fail(f'connect + first echo took {first:.3f}s, under 4 x {d}s')
        for _ in range(3):
            t1 = time.monotonic()
            s.sendall(b'y')
            recv_exact(s, 1)
            rt = time.monotonic() - t1
            if rt < 2 * d:
                fail(f'a round trip took {rt:.3f}s, under 2 x {d}s')

        # 1 MiB both ways, intact and in order.
        blob = os.urandom(1 << 20)
        got = []
        reader = threading.Thread(
            target=lambda: got.append(recv_exact(s, len(blob))))
        reader.start()
        s.sendall(blob)
        reader.join(30)
        if not got or hashlib.sha256(got[0]).digest() != \
                hashlib.sha256(blob).digest():
            fail('1 MiB echo came back altered')

        # EOF passes on: the echo server closes, so do we.
        s.shutdown(socket.SHUT_WR)
        if s.recv(1) != b'':
            fail('no EOF after the half-close went through')
        s.close()

        # An upstream that refuses: the client is closed.
        s = socket.create_connection(('127.0.0.1', dead_port), timeout=20)
        try:
            if s.recv(1) != b'':
                fail('data from a refused upstream')
        except ConnectionResetError:
            pass
        s.close()
    finally:
        proxy.terminate()
        if proxy.wait(10) != 0:
            fail('latproxy did not exit 0 on SIGTERM')
        ls.close()
    rate_limited()


def rate_limited():
    ls = echo_server()
    proxy, (port,) = start_proxy(f'127.0.0.1:{ls.getsockname()[1]}',
                                 rate=200)
    try:
        s = socket.create_connection(('127.0.0.1', port), timeout=30)
        blob = os.urandom(200 * 1000)
        got = []
        t0 = time.monotonic()
        reader = threading.Thread(
            target=lambda: got.append(recv_exact(s, len(blob))))
        reader.start()
        s.sendall(blob)
        reader.join(30)
        took = time.monotonic() - t0
        if not got or got[0] != blob:
            fail('200 KB through the rate-limited link came back altered')
        # 200 KB each way at 200 KB/s, minus the 50 ms bucket.
        if took < 0.9:
            fail(f'200 KB passed 200 KB/s in {took:.2f} s')
        s.close()

        # Nobody reads: the writer is held back, not buffered away.
        s = socket.create_connection(('127.0.0.1', port), timeout=30)
        s.setblocking(False)
        sent = 0
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            try:
                sent += s.send(b'z' * 65536)
            except BlockingIOError:
                time.sleep(0.05)
        # 1.5 s at 200 KB/s plus the windows and kernel buffers (a few
        # MiB); unbounded buffering would take gigabytes.
        if sent > 16 * 1024 * 1024:
            fail(f'{sent} bytes accepted from a sender nobody reads')
        s.close()
    finally:
        proxy.terminate()
        if proxy.wait(10) != 0:
            fail('latproxy did not exit 0 on SIGTERM')
        ls.close()


if __name__ == '__main__':
    run(main)
