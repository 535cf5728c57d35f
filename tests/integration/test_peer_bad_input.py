"""Malformed input against a running coldnode over real sockets.

Handshake-level abuse uses raw bytes (act one built with Electrum's BOLT 8
code and then broken); session-level abuse uses Electrum's transport for a
valid session.  After each case the node must log a line naming the reason
for that connection, and a fresh, well-behaved client must still be served
(handshake, init, ping -> pong)."""
import asyncio
import socket

from harness import (CHAIN, Harness, LNReader, fail, ln_connect, ln_session,
                     msg_init, msg_ping, msg_type, run)

HS_TIMEOUT = '1s'


def act1(node_id_hex):
    """A valid act one towards @node_id_hex (Electrum's code)."""
    from electrum.lntransport import (HandshakeState, act1_initiator_message,
                                      create_ephemeral_key)
    hs = HandshakeState(bytes.fromhex(node_id_hex))
    epriv, epub = create_ephemeral_key()
    msg, _ = act1_initiator_message(hs, epriv, epub)
    return msg


def raw(port, data, close=True, wait_close=True):
    """Send @data on a fresh TCP connection; returns its local port."""
    s = socket.create_connection(('127.0.0.1', port))
    lport = s.getsockname()[1]
    s.sendall(data)
    if wait_close:
        # The node must hang up on us without sending anything.
        s.settimeout(10)
        try:
            got = s.recv(100)
        except ConnectionResetError:
            got = b''
        if got:
            fail(f'node answered bad input with {got.hex()}')
    if close:
        s.close()
    return lport


def closed_line(node, lport, reason, since=0):
    return node.wait_log(rf'closed .*127\.0\.0\.1:{lport} .*{reason}',
                         since=since)


async def healthy(port, node_id):
    t, r, _ = await ln_session('127.0.0.1', port, node_id,
                               CHAIN['regtest'])
    t.send_bytes(msg_ping(9))
    m = await r.expect(19)
    if int.from_bytes(m[2:4], 'big') != 9:
        fail('healthy client got a wrong pong')
    t.close()


def lport_of(t):
    return t.writer.get_extra_info('sockname')[1]


async def session_cases(node, port, node_id):
    # A message before init.
    t = await ln_connect('127.0.0.1', port, node_id)
    lp = lport_of(t)
    t.send_bytes(msg_ping(4))
    if not await LNReader(t).closed():
        fail('node kept a session whose first message was a ping')
    closed_line(node, lp, r'first message was ping \(18\), not init')
    await healthy(port, node_id)

    # init with networks that do not include regtest.
    t = await ln_connect('127.0.0.1', port, node_id)
    lp = lport_of(t)
    t.send_bytes(msg_init(networks=[CHAIN['mainnet']]))
    if not await LNReader(t).closed():
        fail('node kept a session with no chain in common')
    closed_line(node, lp, r'no chain in common')
    await healthy(port, node_id)

    # init requiring an unknown even feature bit (bit 30).
    t = await ln_connect('127.0.0.1', port, node_id)
    lp = lport_of(t)
    t.send_bytes(msg_init(features=(1 << 30).to_bytes(4, 'big')))
    if not await LNReader(t).closed():
        fail('node kept a session requiring unknown feature 30')
    closed_line(node, lp, r'unknown feature bit 30')
    await healthy(port, node_id)

    # Unknown odd type: ignored, the session still answers a ping.
    t, r, _ = await ln_session('127.0.0.1', port, node_id)
    lp = lport_of(t)
    t.send_bytes((32769).to_bytes(2, 'big') + b'odd and unknown')
    t.send_bytes(msg_ping(11))
    m = await r.expect(19)
    if int.from_bytes(m[2:4], 'big') != 11:
        fail('wrong pong after an unknown odd message')
    node.wait_log(rf'127\.0\.0\.1:{lp}: ignoring unknown odd message '
                  r'type 32769')

    # Oversized num_pong_bytes: ignored (no pong), session stays up.
    t.send_bytes(msg_ping(65532))
    t.send_bytes(msg_ping(65535))
    t.send_bytes(msg_ping(12))
    m = await r.expect(19)
    if int.from_bytes(m[2:4], 'big') != 12:
        fail('node answered a ping with num_pong_bytes >= 65532')
    node.wait_log(rf'127\.0\.0\.1:{lp}: ignoring ping asking for 65532')

    # Unsolicited pong: closed.
    t.send_bytes((19).to_bytes(2, 'big') + b'\x00\x03' + bytes(3))
    if not await r.closed():
        fail('node kept a session after an unsolicited pong')
    closed_line(node, lp, r'unsolicited pong')
    await healthy(port, node_id)

    # Unknown even type: closed.
    t, r, _ = await ln_session('127.0.0.1', port, node_id)
    lp = lport_of(t)
    t.send_bytes((32768).to_bytes(2, 'big') + b'even and unknown')
    if not await r.closed():
        fail('node kept a session after an unknown even message')
    closed_line(node, lp, r'unknown even message type 32768')
    await healthy(port, node_id)

    # Handshake done but no init: closed at the timeout.
    t = await ln_connect('127.0.0.1', port, node_id)
    lp = lport_of(t)
    if not await LNReader(t).closed(timeout=10):
        fail('node kept a session that never sent init')
    closed_line(node, lp, r'no init within')
    await healthy(port, node_id)


def main():
    with Harness() as h:
        node = h.node('node', '--signer=local', '--network=regtest',
                      '--listen=127.0.0.1:0', f'--handshaketimeout={HS_TIMEOUT}',
                      '--debuglevel=debug').start()
        port, node_id = node.p2p_port(), node.node_id()
        ok = lambda: asyncio.run(healthy(port, node_id))
        ok()

        # Garbage act one (invalid ephemeral key).
        lp = raw(port, bytes([0]) + bytes([0xff] * 49))
        closed_line(node, lp, r'ACT1_BAD_PUBKEY')
        ok()
        # Wrong version byte.
        a = act1(node_id)
        lp = raw(port, b'\x01' + a[1:])
        closed_line(node, lp, r'ACT1_BAD_VERSION')
        ok()
        # Bad MAC.
        lp = raw(port, a[:-1] + bytes([a[-1] ^ 1]))
        closed_line(node, lp, r'ACT1_BAD_TAG')
        ok()
        # Truncated act, then close.
        lp = raw(port, a[:20], wait_close=False)
        closed_line(node, lp, r'ACT1_READ_FAILED')
        ok()
        # Stalled handshake: connect, say nothing.
        s = socket.create_connection(('127.0.0.1', port))
        lp = s.getsockname()[1]
        closed_line(node, lp, r'HANDSHAKE_TIMEOUT')
        s.close()
        ok()
        # Stalled after act one (no act three).
        s = socket.create_connection(('127.0.0.1', port))
        lp = s.getsockname()[1]
        s.sendall(act1(node_id))
        closed_line(node, lp, r'HANDSHAKE_TIMEOUT')
        s.close()
        ok()

        asyncio.run(session_cases(node, port, node_id))
        if not node.running():
            fail('node died')

        # max peers: with a cap of 1 and one session ready, a second
        # connection is refused (logged) while the first is served.
        # (Sessions not yet ready have their own budget, src/admit.)
        capped = h.node('capped', '--signer=local', '--network=regtest',
                        '--listen=127.0.0.1:0', '--maxpeers=1',
                        '--debuglevel=debug').start()
        cport, cid = capped.p2p_port(), capped.node_id()

        async def capped_case():
            t, r, _ = await ln_session('127.0.0.1', cport, cid,
                                       CHAIN['regtest'])
            capped.wait_log(r'PEER: peer \S+ ready')
            second = socket.create_connection(('127.0.0.1', cport))
            capped.wait_log(r'refusing connection from 127\.0\.0\.1:\d+: '
                            r'max peers \(1\) reached')
            second.close()
            t.close()
            await asyncio.sleep(0.2)
        asyncio.run(capped_case())
        capped.wait_log(r'closed \S+ inbound \(gossip-only\)')
        asyncio.run(healthy(cport, cid))


run(main)
