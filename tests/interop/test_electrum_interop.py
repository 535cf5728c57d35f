"""Interop with Electrum's BOLT 8 transport (electrum.lntransport, an
independent Python implementation), both directions:
  - LNTransport dials coldnode: handshake, init both ways, ping -> pong of
    the asked length;
  - coldnode (--connect) dials an LNResponderTransport server: the server
    sees coldnode's node id, init both ways, pings both ways."""
import asyncio

from harness import (CHAIN, Harness, LNReader, fail, ln_privkey, ln_pubkey,
                     ln_session, msg_init, msg_ping, msg_type, run)

COMMON = ('--signer=local', '--network=regtest', '--debuglevel=debug')


def pong_len(m):
    return int.from_bytes(m[2:4], 'big')


def check_init(m):
    # Their init must carry networks = [regtest].
    gflen = int.from_bytes(m[2:4], 'big')
    off = 4 + gflen
    flen = int.from_bytes(m[off:off + 2], 'big')
    off += 2 + flen
    if CHAIN['regtest'] not in m[off:]:
        fail('coldnode init lacks the regtest chain in networks')


async def initiator(port, node_id):
    t, r, their = await ln_session('127.0.0.1', port, node_id)
    check_init(their)
    for want in (0, 1, 300, 65531):
        t.send_bytes(msg_ping(want, 5))
        m = await r.expect(19)
        if pong_len(m) != want or len(m) != 4 + want:
            fail(f'pong of {pong_len(m)} bytes for a ping asking {want}')
        if any(m[4:]):
            fail('pong ignored bytes are not zero')
    t.close()


async def responder(h):
    from electrum.lntransport import LNResponderTransport
    priv = ln_privkey()
    done = asyncio.get_running_loop().create_future()

    async def on_conn(reader, writer):
        try:
            t = LNResponderTransport(priv, reader, writer)
            rs = await t.handshake()
            r = LNReader(t)
            their = await r.next()
            if msg_type(their) != 16:
                fail('coldnode did not send init first')
            check_init(their)
            t.send_bytes(msg_init())
            t.send_bytes(msg_ping(77))
            got_pong = answered = False
            while not (got_pong and answered):
                m = await r.next()
                if msg_type(m) == 19:
                    if pong_len(m) != 77:
                        fail('bad pong length from coldnode')
                    got_pong = True
                elif msg_type(m) == 18:
                    t.send_bytes((19).to_bytes(2, 'big') + m[2:4] +
                                 bytes(pong_len(m)))
                    answered = True
            done.set_result(rs.hex())
        except Exception as e:  # report in the main task
            if not done.done():
                done.set_exception(e)

    server = await asyncio.start_server(on_conn, '127.0.0.1', 0)
    sport = server.sockets[0].getsockname()[1]
    spub = ln_pubkey(priv).hex()
    b = h.node('initiator', *COMMON, '--nolisten', '--pinginterval=200ms',
               f'--connect={spub}@127.0.0.1:{sport}')
    # Start without blocking the event loop that serves Electrum.
    await asyncio.get_running_loop().run_in_executor(None, b.start)
    remote = await asyncio.wait_for(done, 20)
    if remote != b.node_id():
        fail(f'responder saw {remote}, coldnode is {b.node_id()}')
    await asyncio.get_running_loop().run_in_executor(
        None, lambda: b.wait_log(r'got matching pong'))
    b.wait_log(rf'peer {spub}@127.0.0.1:{sport} ready \(outbound')
    server.close()


def main():
    with Harness() as h:
        a = h.node('responder', *COMMON, '--listen=127.0.0.1:0').start()
        asyncio.run(initiator(a.p2p_port(), a.node_id()))
        a.wait_log(r'ready \(inbound')
        a.wait_log(r'answering ping with 65531 bytes')
        asyncio.run(responder(h))


run(main)
