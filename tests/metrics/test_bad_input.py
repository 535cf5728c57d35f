"""Bad input on the metrics port (--prometheus.listen): garbage, a header
flood, a body on GET, other methods and paths, a connection flood over
the limit, half-sent requests.  Each gets an HTTP error or a closed
connection from libmicrohttpd, and the daemon keeps serving: a normal
scrape works after each, and the gRPC port still answers."""
import os
import socket
import time

from harness import Harness, run, fail
from ctl import coldctl_state
from promlib import metrics_port, scrape


def exchange(port, data, read=True):
    """Send @data, return what comes back until close (or 64 KiB)."""
    s = socket.create_connection(('127.0.0.1', port), 10)
    s.settimeout(3)
    try:
        s.sendall(data)
    except OSError:
        pass  # closed on us mid-send: also a refusal
    out = b''
    if read:
        try:
            while len(out) < 65536:
                chunk = s.recv(4096)
                if not chunk:
                    break
                out += chunk
        except (socket.timeout, ConnectionResetError):
            pass
    s.close()
    return out


def status_line(resp):
    return resp.split(b'\r\n', 1)[0].decode(errors='replace')


def main():
    with Harness() as h:
        x = h.node('x', '--signer=local', '--network=regtest', '--nolisten',
                   '--prometheus.listen=127.0.0.1:0').start()
        port = metrics_port(x)

        def still_serving(after):
            st, _, text = scrape(port)
            if st != 200 or 'coldnode_supervisor_state' not in text:
                fail(f'after {after}: scrape {st}')
            if not x.running():
                fail(f'after {after}: coldnode exited')

        cases = [
            # Binary garbage: MHD answers 400 or waits for a line end
            # until its idle timeout closes the connection.
            ('garbage', b'\x00\xff\x16\x03\x01 not http at all\r\n\r\n',
             ('HTTP/1.1 400', '')),
            ('text garbage', b'hello world foo\r\n\r\n', ('HTTP/1.1 400',)),
            ('TLS hello', bytes.fromhex('16030100a1010000') + b'\x00' * 100,
             ('HTTP/1.1 400', '')),
            ('header flood', b'GET /metrics HTTP/1.1\r\nHost: x\r\n' +
             b'X-A: ' + b'a' * 100000 + b'\r\n\r\n',
             ('HTTP/1.1 431', 'HTTP/1.1 413', 'HTTP/1.1 400', '')),
            ('POST', b'POST /metrics HTTP/1.1\r\nHost: x\r\n'
             b'Content-Length: 3\r\nConnection: close\r\n\r\nabc',
             ('HTTP/1.1 405',)),
            ('GET with body', b'GET /metrics HTTP/1.1\r\nHost: x\r\n'
             b'Content-Length: 5\r\nConnection: close\r\n\r\nhello',
             ('HTTP/1.1 400',)),
            ('other path', b'GET /../../etc/passwd HTTP/1.1\r\nHost: x\r\n'
             b'Connection: close\r\n\r\n', ('HTTP/1.1 404',)),
            ('HTTP/0.9', b'GET /metrics\r\n\r\n', ('HTTP/1.1 400', '')),
            ('bad version', b'GET /metrics HTTP/9.9\r\nHost: x\r\n\r\n',
             ('HTTP/1.1 505', 'HTTP/1.1 400', '')),
            ('no Host (HTTP/1.1 requires it)',
             b'GET /metrics HTTP/1.1\r\nConnection: close\r\n\r\n',
             ('HTTP/1.1 400',)),
        ]
        for name, data, want in cases:
            t0 = time.monotonic()
            got = status_line(exchange(port, data))
            print(f"{name}: {got!r} in {time.monotonic() - t0:.1f}s")
            if not any(got.startswith(w) if w else got == ''
                       for w in want):
                fail(f'{name}: got {got!r}, want one of {want}')
            still_serving(name)

        # Half-sent requests and a flood over the connection limit (16):
        # refused or held, never a stall of the loop.
        held = [socket.create_connection(('127.0.0.1', port), 10)
                for _ in range(40)]
        for i, s in enumerate(held):
            try:
                s.sendall(b'GET /metr' if i % 2 else b'')
            except OSError:
                pass
        coldctl_state(x)  # the loop still serves gRPC meanwhile
        for s in held:
            s.close()
        still_serving('connection flood')
        if x.count_log(r'\[BRK\]'):
            fail('BROKEN log line')
        # --logdir default: the same lines in <datadir>/logs/coldnode.log.
        with open(os.path.join(x.datadir, 'logs', 'coldnode.log')) as f:
            if 'PROM: Prometheus metrics on http://127.0.0.1:' not in f.read():
                fail('no log file copy in <datadir>/logs/coldnode.log')


run(main)
