"""An output spent only in the mempool is not spent (issue 17): BOLT 7
("the output ... is unspent") and lnd check the UTXO set, so a funding
output whose spend is unconfirmed still passes the funding check
(gettxout with include_mempool=false).  Against bcoin (regtest), with a
real P2WSH 2-of-2 funding output spent by a real transaction left in the
mempool; then the spend mined: a new check says spent.

bcoin 1.0.2's gettxout ignores spends in its mempool even with
include_mempool=true (it only adds the mempool's new coins), where
bitcoind answers null ("an unspent output that is spent in the mempool
won't appear").  BitcoindTxoutProxy, a test double in front of bcoin,
gives its gettxout bitcoind's answer: null when include_mempool is absent
or true and a mempool transaction spends the output; everything else
passes through."""
import asyncio
import http.server
import json
import os
import threading
import time
import urllib.error
import urllib.request

from bcoin import Bcoin
from chainlib import wait_chain
from ctl import coldctl_state
from harness import Harness, fail, free_port, run
from test_chain_funding import Chan, send_all, wait_checks


class BitcoindTxoutProxy:
    """HTTP proxy to bcoin (test double) with bitcoind's gettxout
    include_mempool semantics."""

    def __init__(self, b):
        self.b = b
        proxy = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = 'HTTP/1.1'

            def log_message(self, *a):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers['Content-Length']))
                req = urllib.request.Request(proxy.b.url, data=body,
                                             method='POST')
                req.add_header('Authorization',
                               self.headers['Authorization'])
                try:
                    with urllib.request.urlopen(req, timeout=30) as r:
                        code, data = 200, r.read()
                except urllib.error.HTTPError as e:
                    code, data = e.code, e.read()
                calls = json.loads(body)
                if isinstance(calls, list) and code == 200:
                    out = json.loads(data)
                    spent = None
                    for c, o in zip(calls, out):
                        p = c.get('params') or []
                        if (c.get('method') != 'gettxout' or
                                (len(p) > 2 and not p[2]) or
                                o.get('result') is None):
                            continue
                        if spent is None:
                            spent = proxy.mempool_spends()
                        if (p[0], p[1]) in spent:
                            o['result'] = None
                    data = json.dumps(out).encode()
                self.send_response(code)
                self.send_header('Content-Type', 'application/json')
                self.send_header('Content-Length', str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.port = free_port()
        self.srv = http.server.ThreadingHTTPServer(('127.0.0.1', self.port),
                                                   H)
        self.srv.daemon_threads = True
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def mempool_spends(self):
        spent = set()
        for txid in self.b.rpc('getrawmempool'):
            tx = self.b.rpc('getrawtransaction', txid, 1)
            for i in tx['vin']:
                if 'txid' in i:
                    spent.add((i['txid'], i['vout']))
        return spent

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


def main():
    with Harness() as h, Bcoin(log=os.path.join(h.tmp, 'bcoin.log')) as b:
        b.activate_segwit()
        c, c2 = Chan(), Chan()
        f = b.fund_2of2(c.btc1.hex(), c.btc2.hex(), 200000,
                        keys=[c.bpriv1, c.bpriv2])
        f2 = b.fund_2of2(c2.btc1.hex(), c2.btc2.hex(), 200000,
                         keys=[c2.bpriv1, c2.bpriv2])
        b.mine(6)
        spend = b.spend(f, mine=False)
        if spend not in b.rpc('getrawmempool'):
            fail('the spend is not in the mempool')
        p = BitcoindTxoutProxy(b)
        args = [a for a in b.coldnode_args() if 'rpchost' not in a]
        n = h.node('t', '--signer=local', '--network=regtest',
                   '--listen=127.0.0.1:0',
                   '--bitcoind.blockpollinginterval=200ms',
                   f'--bitcoind.rpchost=127.0.0.1:{p.port}', *args)
        n.start()
        wait_chain(n, lambda s: s['status'] == 'synced' and
                   s['height'] == b.height(), 'synced')
        asyncio.run(send_all(n.p2p_port(), n.node_id(),
                             [c.announcement(f.scid_int)]))
        st = wait_checks(n, {'ok': 1})
        if int(st['checks']['spent']) != 0:
            fail(f'a spend only in the mempool counted as spent: {st}')
        # Mined: spent for a check made now.
        b.spend(f2)
        deadline = time.monotonic() + 30
        while int(coldctl_state(n)['chain']['height']) != b.height():
            if time.monotonic() > deadline:
                fail('not at the tip')
            time.sleep(0.2)
        asyncio.run(send_all(n.p2p_port(), n.node_id(),
                             [c2.announcement(f2.scid_int)]))
        wait_checks(n, {'spent': 1})
        n.stop()
        p.close()


if __name__ == '__main__':
    run(main)
