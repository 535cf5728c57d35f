"""--rpc.maxstreams against a real coldnode, with a hand-driven HTTP/2
client over real TLS (so the test, not a library, decides when to
acknowledge the server's SETTINGS):

  * a client that opens three SubscribeState streams before acknowledging
    SETTINGS_MAX_CONCURRENT_STREAMS=2 gets RST_STREAM REFUSED_STREAM on the
    third only; the first two keep receiving, the connection keeps working
    (a stream opened after one is cancelled is served), and the node logs
    one line naming the flag, however many streams are refused;
  * a client that acknowledges the limit and still exceeds it loses its
    connection (GOAWAY PROTOCOL_ERROR), with a log line;
  * other connections are served throughout;
  * --rpc.maxstreams=0 is refused at start-up."""
import os
import socket
import ssl
import struct
import subprocess
import time

from harness import Harness, coldnode_exe, fail, run

MAX = 2
COMMON = ('--signer=local', '--network=regtest', '--nolisten',
          f'--rpc.maxstreams={MAX}')
LOG_RE = (r'refusing stream from 127\.0\.0\.1:\d+: max streams per '
          rf'connection \({MAX}\) reached \(--rpc\.maxstreams\)')

DATA, HEADERS, RST_STREAM, SETTINGS, PING, GOAWAY = 0, 1, 3, 4, 6, 7
END_STREAM, END_HEADERS, ACK = 0x1, 0x4, 0x1
REFUSED_STREAM, PROTOCOL_ERROR, CANCEL = 7, 1, 8
SETTINGS_MAX_CONCURRENT_STREAMS = 3


def hpack_int(n, prefix_bits=7):
    top = (1 << prefix_bits) - 1
    if n < top:
        return bytes([n])
    out = [top]
    n -= top
    while n >= 128:
        out.append(n % 128 + 128)
        n //= 128
    out.append(n)
    return bytes(out)


def hpack(headers):
    """Literal header fields without indexing, new names, no Huffman
    (RFC 7541 §6.2.2): simple and valid."""
    out = b''
    for k, v in headers:
        k, v = k.encode(), v.encode()
        out += b'\x00' + hpack_int(len(k)) + k + hpack_int(len(v)) + v
    return out


def frame(ftype, flags, sid, payload=b''):
    return (struct.pack('>I', len(payload))[1:] + bytes([ftype, flags])
            + struct.pack('>I', sid) + payload)


class H2:
    """One TLS + HTTP/2 connection, frames in and out by hand."""

    def __init__(self, port, cert):
        ctx = ssl.create_default_context(cafile=cert)
        ctx.set_alpn_protocols(['h2'])
        raw = socket.create_connection(('127.0.0.1', port), timeout=10)
        self.s = ctx.wrap_socket(raw, server_hostname='localhost')
        if self.s.selected_alpn_protocol() != 'h2':
            fail('server did not select ALPN h2')
        self.buf = b''
        self.seen = []  # every frame read, in order
        self.server_settings = None
        self.s.sendall(b'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'
                       + frame(SETTINGS, 0, 0))

    def send(self, data):
        self.s.sendall(data)

    def request(self, sid, path, mac, body=b'\x00\x00\x00\x00\x00'):
        hb = hpack([(':method', 'POST'), (':scheme', 'https'),
                    (':path', path), (':authority', 'localhost'),
                    ('content-type', 'application/grpc'), ('te', 'trailers'),
                    ('macaroon', mac)])
        self.send(frame(HEADERS, END_HEADERS, sid, hb)
                  + frame(DATA, END_STREAM, sid, body))

    def next_frame(self, timeout=10):
        """(type, flags, stream id, payload), or None once closed."""
        end = time.monotonic() + timeout
        while True:
            if len(self.buf) >= 9:
                n = int.from_bytes(self.buf[:3], 'big')
                if len(self.buf) >= 9 + n:
                    ftype, flags = self.buf[3], self.buf[4]
                    sid = int.from_bytes(self.buf[5:9], 'big') & 0x7fffffff
                    payload = self.buf[9:9 + n]
                    self.buf = self.buf[9 + n:]
                    self.seen.append((ftype, flags, sid, payload))
                    if ftype == SETTINGS and not flags & ACK:
                        self.server_settings = {
                            int.from_bytes(payload[i:i + 2], 'big'):
                            int.from_bytes(payload[i + 2:i + 6], 'big')
                            for i in range(0, len(payload), 6)}
                    return ftype, flags, sid, payload
            left = end - time.monotonic()
            if left <= 0:
                fail('no frame from the server in time')
            self.s.settimeout(left)
            try:
                got = self.s.recv(65536)
            except socket.timeout:
                continue
            except (ConnectionResetError, ssl.SSLError):
                got = b''
            if not got:
                return None
            self.buf += got

    def until(self, pred, what, timeout=10):
        """The first frame, already read or read now, for which
        pred(frame) is true."""
        for f in self.seen:
            if pred(f):
                return f
        end = time.monotonic() + timeout
        while True:
            f = self.next_frame(max(0.1, end - time.monotonic()))
            if f is None:
                fail(f'connection closed while waiting for {what}')
            if pred(f):
                return f
            if time.monotonic() > end:
                fail(f'timed out waiting for {what}')

    def close(self):
        self.s.close()


def data_on(sid):
    return lambda f: f[0] == DATA and f[2] == sid and len(f[3]) > 5


def served(port, cert, mac, what):
    """A fresh connection gets a GetInfo answer (a DATA frame)."""
    c = H2(port, cert)
    c.request(1, '/lnrpc.Lightning/GetInfo', mac)
    c.until(data_on(1), f'GetInfo answer ({what})')
    c.close()


def rpc_port(node):
    return int(node.wait_log(
        r'gRPC listening on 127\.0\.0\.1:\d+ \(port (\d+)\)').group(1))


def main():
    with Harness() as h:
        a = h.node('maxstreams', *COMMON).start()
        port = rpc_port(a)
        cert = os.path.join(a.datadir, 'tls.cert')
        mac = open(os.path.join(a.datadir, 'monitor.macaroon'),
                   'rb').read().hex()
        sub = '/coldrpc.Supervisor/SubscribeState'

        # 1. Three streams (ids 1, 3, 5) before we ACK the server's
        # SETTINGS: the third is refused, only it.
        since = a.mark()
        c = H2(port, cert)
        for sid in (1, 3, 5):
            c.request(sid, sub, mac)
        c.until(lambda f: f[0] == RST_STREAM and f[2] == 5,
                'RST_STREAM on the third stream')
        if c.server_settings is None or \
           c.server_settings.get(SETTINGS_MAX_CONCURRENT_STREAMS) != MAX:
            fail(f'SETTINGS_MAX_CONCURRENT_STREAMS is not {MAX}: '
                 f'{c.server_settings}')
        a.wait_log(LOG_RE, since=since)
        for sid in (1, 3):
            c.until(data_on(sid), f'a state update on stream {sid}')

        # More refused streams on the same connection: no more log lines
        # (at most one per 10 s per connection).
        for sid in (7, 9, 11):
            c.request(sid, sub, mac)
            c.until(lambda f, sid=sid: f[0] == RST_STREAM and f[2] == sid,
                    f'RST_STREAM on stream {sid}')

        # The connection still works: cancel stream 1, open stream 13.
        c.send(frame(RST_STREAM, 0, 1, struct.pack('>I', CANCEL)))
        c.request(13, sub, mac)
        f = c.until(lambda f: f[2] == 13 and f[0] in (DATA, RST_STREAM),
                    'an answer on stream 13')
        if f[0] != DATA:
            fail('stream 13 was refused although one slot was free')
        served(port, cert, mac, 'while a client sits at its cap')
        if a.count_log(r'refusing stream from', since=since) != 1:
            fail('refused streams were not rate-limited to one line\n'
                 + a.tail())
        c.close()
        # ... and the held-back ones are counted when the connection ends.
        a.wait_log(r'127\.0\.0\.1:\d+: 3 more streams refused at max '
                   rf'streams per connection \({MAX}\)', since=since)

        # 2. A client that acknowledges the limit and exceeds it anyway
        # loses its connection, with a log line; others are unaffected.
        since = a.mark()
        c = H2(port, cert)
        c.until(lambda f: f[0] == SETTINGS and not f[1] & ACK,
                'server SETTINGS')
        c.send(frame(SETTINGS, ACK, 0))
        # A PING round trip: the server has processed our ACK after it.
        c.send(frame(PING, 0, 0, b'12345678'))
        c.until(lambda f: f[0] == PING and f[1] & ACK, 'PING ACK')
        for sid in (1, 3, 5):
            c.request(sid, sub, mac)
        f = c.until(lambda f: f[0] == GOAWAY, 'GOAWAY')
        if int.from_bytes(f[3][4:8], 'big') != PROTOCOL_ERROR:
            fail('GOAWAY is not PROTOCOL_ERROR')
        a.wait_log(r'closing connection from 127\.0\.0\.1:\d+: it opened '
                   rf'more than max streams per connection \({MAX}\) after '
                   r'acknowledging that limit \(--rpc\.maxstreams\)',
                   since=since)
        c.close()
        served(port, cert, mac, 'after a client broke the limit')
        a.stop()

        # 3. Bad values are refused at start-up.
        d = os.path.join(h.tmp, 'bad')
        r = subprocess.run([coldnode_exe(), f'--datadir={d}',
                            '--rpc.maxstreams=0'],
                           capture_output=True, text=True, timeout=30)
        if r.returncode != 2 or '--rpc.maxstreams' not in r.stderr:
            fail(f'--rpc.maxstreams=0 not refused: rc {r.returncode} '
                 f'{r.stderr}')


if __name__ == '__main__':
    run(main)
