"""Bad answers from the chain backend.  A proxy test double
(FaultyProxy) sits between coldnode and a real bcoin and, on command,
replaces the node's answers with malformed JSON, truncated or oversized
responses, no answer at all (timeout), HTTP errors, the -28 warming-up
error (in a batch, and as
bitcoind's HTTP 500 whole-request error), a wrong password, a
block that does not parse, or an error text with quotes, a tab and a
UTF-8 character cut in half (coldctl state must stay valid JSON).  Each time coldnode must stay up, serve RPC,
report `chain: lost` with the cause, and catch up once answers are good
again."""
import http.server
import json
import os
import threading
import time
import urllib.request

from bcoin import Bcoin
from chainlib import coldctl_getinfo, wait_chain
from harness import Harness, fail, free_port, run


class FaultyProxy:
    """HTTP proxy to bcoin that can corrupt its answers (test double)."""

    def __init__(self, upstream_port):
        self.upstream = f'http://127.0.0.1:{upstream_port}/'
        self.fault = None
        proxy = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = 'HTTP/1.1'

            def log_message(self, *a):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers['Content-Length']))
                f = proxy.fault
                if f == 'hang':
                    # Never answers (within coldnode's --bitcoind.rpctimeout).
                    time.sleep(4)
                    return
                if f == 'http503':
                    return self.reply(503, b'Service Unavailable')
                if f == 'checks503' and b'gettxout' in body:
                    # Only the funding checks' last stage fails: the
                    # tip polls go through (test_chain_unverified.py).
                    return self.reply(503, b'Service Unavailable')
                if f == 'http401':
                    return self.reply(401, b'')
                if f == 'warmup500':
                    # bitcoind's whole-request failure: HTTP 500 and one
                    # error object, not a batch.
                    return self.reply(500, json.dumps({
                        'result': None, 'id': None, 'error': {
                            'code': -28,
                            'message': 'Loading block index...'}}).encode())
                if f == 'nasty':
                    # A node error text with quotes, a backslash, a tab
                    # and two-byte characters, long enough that coldnode's
                    # 96-byte copy of it cuts one in half: coldctl state
                    # must still print valid JSON (ctl.parse_state_json).
                    return self.reply(500, json.dumps({
                        'result': None, 'id': None, 'error': {
                            'code': -1, 'message': NASTY}}).encode())
                if f == 'malformed':
                    return self.reply(200, b'[{"result": tru')
                if f == 'truncated':
                    self.send_response(200)
                    self.send_header('Content-Length', '1000')
                    self.end_headers()
                    self.wfile.write(b'[{"result":')
                    self.wfile.flush()
                    self.close_connection = True
                    return
                if f == 'oversized':
                    return self.reply(200, b'[' + b' ' * (33 << 20) + b']')
                if f == 'warmup':
                    calls = json.loads(body)
                    out = [{'result': None, 'id': c['id'], 'error': {
                        'code': -28, 'message': 'Loading block index...'}}
                        for c in calls]
                    return self.reply(200, json.dumps(out).encode())
                req = urllib.request.Request(proxy.upstream, data=body,
                                             method='POST')
                req.add_header('Authorization', self.headers['Authorization'])
                with urllib.request.urlopen(req, timeout=30) as r:
                    data = r.read()
                if f == 'badblock':
                    calls = json.loads(body)
                    out = json.loads(data)
                    for c, o in zip(calls, out):
                        if c['method'] == 'getblock':
                            o['result'] = o['result'][:200]  # cut short
                    data = json.dumps(out).encode()
                self.reply(200, data)

            def reply(self, code, data):
                self.send_response(code)
                self.send_header('Content-Type', 'application/json')
                self.send_header('Content-Length', str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.port = free_port()
        self.srv = http.server.ThreadingHTTPServer(('127.0.0.1', self.port), H)
        self.srv.daemon_threads = True
        self.t = threading.Thread(target=self.srv.serve_forever, daemon=True)
        self.t.start()

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


# 10 ASCII bytes, then 2-byte characters: the 95 bytes of the message
# kept (chain_internal.h, message[96]) end inside one.
NASTY = 'x "q" \\ \t:' + '\u00e9' * 100
CASES = [
    ('nasty', 'node error -1: x "q" \\ \t:\u00e9'),
    ('malformed', 'malformed JSON'),
    ('truncated', ''),           # curl's own words for a short body
    ('oversized', 'response over'),
    ('http503', 'HTTP 503'),
    ('http401', 'authentication failed'),
    ('warmup', '-28'),
    ('warmup500', 'node error -28: Loading block index'),
    ('badblock', 'does not parse'),
    ('hang', 'Timeout was reached'),   # curl's words
]


def main():
    with Harness() as h, Bcoin(log=os.path.join(h.tmp, 'bcoin.log')) as b:
        b.mine(3)
        p = FaultyProxy(b.port)
        try:
            args = [a for a in b.coldnode_args() if 'rpchost' not in a]
            n = h.node('a', '--signer=local', '--network=regtest',
                       '--nolisten', '--bitcoind.blockpollinginterval=200ms',
                       '--bitcoind.rpctimeout=1s',
                       f'--bitcoind.rpchost=127.0.0.1:{p.port}', *args)
            n.start()
            tip = lambda: b.rpc('getbestblockhash')
            wait_chain(n, lambda s: s['status'] == 'synced' and
                       s['hash'] == tip(), 'first sync')
            lost_before = 0
            for fault, cause in CASES:
                p.fault = fault
                b.mine(1)  # something to fetch (badblock needs a block)
                st = wait_chain(n, lambda s: s['status'] == 'lost',
                                f'lost on {fault}', timeout=60)
                if cause not in st['last_error']:
                    fail(f'{fault}: cause {st["last_error"]!r} lacks {cause!r}')
                if fault == 'nasty' and \
                        not st['last_error'].endswith('\u00e9\ufffd'):
                    fail(f'the cut character is not U+FFFD: '
                         f'{st["last_error"]!r}')
                if st['lost_count'] <= lost_before:
                    fail(f'{fault}: lost_count not counted: {st}')
                lost_before = st['lost_count']
                if coldctl_getinfo(n)['synced_to_chain']:
                    fail(f'{fault}: synced_to_chain while lost')
                p.fault = None
                wait_chain(n, lambda s: s['status'] == 'synced' and
                           s['hash'] == tip(), f'recovery after {fault}',
                           timeout=60)
            if not n.running():
                fail('coldnode died')
        finally:
            p.close()


if __name__ == '__main__':
    run(main)
