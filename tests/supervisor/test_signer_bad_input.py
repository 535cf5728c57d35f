"""Bad input on a real coldnode's signer port (TLS on --signerlisten and
the unix socket): garbage bytes, HTTP/1.1 over TLS, a wrong macaroon, a
second signer, a signer with the wrong key.  Each is refused (logged, with
a clear gRPC status where there is a gRPC call) and the daemon keeps
running and still accepts the right signer.  The stream-level cases (no
registration, wrong first id, unknown oneof, oversize frame) run against
the same server code in test_server.c."""
import os
import socket
import ssl
import time

from harness import Harness, run, fail
from signer_harness import Signer, signer_port


def raw(port, data, use_tls):
    """Send @data; return what came back before the server closed."""
    s = socket.create_connection(('127.0.0.1', port), timeout=10)
    if use_tls:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.set_alpn_protocols(['http/1.1'])
        try:
            s = ctx.wrap_socket(s)
        except (ssl.SSLError, OSError):
            return b''  # refused at TLS: fine
    got = b''
    try:
        s.sendall(data)
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            got += chunk
    except (OSError, ssl.SSLError):
        pass
    s.close()
    return got


def main():
    with Harness() as h:
        x = h.node('x', '--signer=remote', '--network=regtest',
                   '--signerlisten=127.0.0.1:0', '--rpclisten=127.0.0.1:0',
                   '--listen=127.0.0.1:0', '--signer.requesttimeout=1s',
                   '--debuglevel=debug')
        x.start(wait=r'p2p stays off')
        port = signer_port(x)

        # Garbage, then HTTP/1.1 in clear and over TLS: connection closed.
        raw(port, b'\x00\xffgarbage\r\n' * 50, use_tls=False)
        raw(port, b'GET / HTTP/1.1\r\nHost: x\r\n\r\n', use_tls=False)
        raw(port, b'GET / HTTP/1.1\r\nHost: x\r\n\r\n', use_tls=True)
        if not x.running():
            fail('coldnode died on garbage')

        # A macaroon without remotesigner:generate (the admin one).
        bad = Signer(h, 'badmac', x,
                     macaroon=os.path.join(x.datadir, 'admin.macaroon'))
        bad.start()
        bad.wait_log(r'coldnode refused us: PERMISSION_DENIED')
        bad.stop()

        # The right signer: pinned on first contact.
        s = Signer(h, 's', x).start()
        x.wait_log(r'WAITING_FOR_SIGNER -> ACTIVE')

        # A second signer, on the unix socket this time.
        sock = os.path.join(x.datadir, 'signer.sock')
        s2 = Signer(h, 's2', x, keyfile=s.keyfile, target=f'unix:{sock}')
        s2.start()
        s2.wait_log(r'ALREADY_EXISTS: only one remote signer can be connected')
        s2.stop()
        x.wait_log(r'refused signer stream from unix: only one remote signer')

        # The signer goes; one with another key comes: refused, logged.
        s.stop()
        x.wait_log(r'ACTIVE -> SAFE_MODE')
        w = Signer(h, 'wrongkey', x).start()
        w.wait_log(r'coldnode refused us: PERMISSION_DENIED: signer holds '
                   r'node key')
        x.wait_log(r'refusing signer .*: signer holds node key')
        w.stop()

        # Still alive, and the right signer (now over the unix socket)
        # brings it back.
        if not x.running():
            fail('coldnode died')
        m = x.mark()
        s3 = Signer(h, 's3', x, keyfile=s.keyfile, target=f'unix:{sock}')
        s3.start()
        x.wait_log(r'SAFE_MODE -> ACTIVE', since=m)
        s3.stop()


run(main)
