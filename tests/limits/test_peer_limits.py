"""Resource limits of the p2p side, against a real coldnode:

  --maxpeers              sessions of any state; the next inbound
                          connection is refused, with a log line
  --maxpendinghandshakes  inbound sessions not yet ready (here: handshakes
                          waiting for the remote signer's ECDH); the next
                          inbound connection evicts the oldest of them, with
                          a log line, and the waiting ones complete once the
                          signer is back
  --peer.maxbuffer        a peer that never reads while we queue pongs
                          for it is dropped, with a log line, and only it

Each case checks that well-behaved sessions are untouched and that the node
serves again once below the limit.  Bad values for the flags are refused at
start-up."""
import asyncio
import os
import re
import socket
import subprocess

from harness import (CHAIN, Harness, LNReader, coldnode_exe, fail, ln_connect,
                     ln_privkey, ln_pubkey, ln_session, msg_init, msg_ping,
                     run)
from signer_harness import Signer

COMMON = ('--network=regtest', '--pinginterval=1h')


def refused(port, timeout=5):
    """True if the node hangs up on a fresh TCP connection at once (a
    served one would wait for our act one)."""
    s = socket.create_connection(('127.0.0.1', port))
    s.settimeout(timeout)
    try:
        got = s.recv(100)
    except (ConnectionResetError, BrokenPipeError):
        got = b''
    except socket.timeout:
        got = None
    finally:
        s.close()
    return got == b''


async def pong_ok(t, r, n=7):
    t.send_bytes(msg_ping(n))
    m = await r.expect(19)
    if int.from_bytes(m[2:4], 'big') != n:
        fail('wrong pong length')


async def wait_log(node, regex, since, timeout=15):
    """node.wait_log, but letting the asyncio loop run (our transports
    close and flush only when it does)."""
    await wait_until(lambda: node.count_log(regex, since=since) > 0,
                     f'{node.name}: /{regex}/\n' + node.tail(), timeout)
    return node.wait_log(regex, since=since, timeout=0)


async def wait_until(pred, what, timeout=10):
    end = asyncio.get_running_loop().time() + timeout
    while not pred():
        if asyncio.get_running_loop().time() > end:
            fail(f'timed out waiting for {what}')
        await asyncio.sleep(0.05)


async def case_maxpeers(h):
    a = h.node('maxpeers', '--signer=local', *COMMON, '--maxpeers=3').start()
    port, nid = a.p2p_port(), a.node_id()
    m0 = a.mark()
    sessions = [await ln_session('127.0.0.1', port, nid, CHAIN['regtest'])
                for _ in range(3)]
    # Ready on the node's side too (sessions before init are not counted
    # at accept: they have their own budget, --maxpendinghandshakes).
    await wait_until(lambda: a.count_log(r'PEER: peer \S+ ready', m0) >= 3,
                     'three sessions ready')
    m = a.mark()
    if not refused(port):
        fail('a 4th connection was served with --maxpeers=3')
    a.wait_log(r'PEER: refusing connection from 127\.0\.0\.1:\d+: max '
               r'peers \(3\) reached \(--maxpeers\)', since=m)
    # The three sessions are untouched.
    for t, r, _ in sessions:
        await pong_ok(t, r)
    # Below the limit again: served.
    t, r, _ = sessions.pop()
    t.close()
    await wait_log(a, r'closed .* \(gossip-only\)', since=m)
    t, r, _ = await ln_session('127.0.0.1', port, nid, CHAIN['regtest'])
    await pong_ok(t, r)
    sessions.append((t, r, None))
    for t, _, _ in sessions:
        t.close()
    a.stop()


async def hang_handshake(port, nid):
    """An Electrum handshake that will wait for act two as long as it
    takes; returns the task (its result is the transport)."""
    task = asyncio.ensure_future(ln_connect('127.0.0.1', port, nid))
    await asyncio.sleep(0)  # let it connect before the next one
    return task


async def case_maxpending(h):
    # A remote-signer node whose key is known but whose signer is away:
    # p2p is up, and every inbound handshake waits for the signer's ECDH.
    key = ln_privkey()
    keyfile = os.path.join(h.tmp, 'pending-signer.key')
    with open(keyfile, 'wb') as f:
        f.write(key)
    os.chmod(keyfile, 0o600)
    nid = ln_pubkey(key).hex()
    a = h.node('maxpending', '--signer=remote', *COMMON,
               '--debuglevel=info,PEER=debug',
               f'--signer.nodepubkey={nid}', '--handshaketimeout=30s',
               '--maxpendinghandshakes=2').start()
    port = a.p2p_port()
    m = a.mark()
    waiting = [await hang_handshake(port, nid) for _ in range(2)]
    # Both connections accepted (then their act ones wait for the ECDH).
    await wait_until(lambda: a.count_log(r'inbound connection from', m) >= 2,
                     'two inbound connections')
    if any(t.done() for t in waiting):
        fail('a handshake finished with no signer')
    # A third evicts the oldest waiting one (src/admit): the newcomer is
    # admitted, the budget stays at two.
    waiting.append(await hang_handshake(port, nid))
    await wait_log(a, r'PEER: p2p: pre-auth budget \(2, '
                   r'--maxpendinghandshakes\) full: evicted an '
                   r'unauthenticated connection of the most crowded source '
                   r'to admit 127\.0\.0\.1:\d+', since=m)
    await wait_log(a, r'closed 127\.0\.0\.1:\d+ inbound \(before init\): '
                   r'evicted', since=m)
    first = waiting.pop(0)
    try:
        await asyncio.wait_for(first, 20)
        completed = True
    except asyncio.TimeoutError:
        fail('the evicted handshake was not closed')
    except Exception:  # Electrum: connection closed during the handshake
        completed = False
    if completed:
        fail('the evicted handshake completed')
    # The signer arrives: the two waiting handshakes complete.
    s = Signer(h, 'pending-signer', a, keyfile=keyfile).start()
    await wait_log(a, r'-> ACTIVE', since=m, timeout=20)
    for task in waiting:
        t = await asyncio.wait_for(task, 20)
        t.send_bytes(msg_init(CHAIN['regtest']))
        r = LNReader(t)
        await r.expect(16)
        await pong_ok(t, r)
        t.close()
    # Nothing pending now: a new session is served.
    t, r, _ = await ln_session('127.0.0.1', port, nid, CHAIN['regtest'])
    await pong_ok(t, r)
    t.close()
    a.stop()
    s.stop()


async def case_maxbuffer(h):
    cap = 200000
    a = h.node('maxbuffer', '--signer=local', *COMMON,
               f'--peer.maxbuffer={cap}').start()
    port, nid = a.p2p_port(), a.node_id()
    good_t, good_r, _ = await ln_session('127.0.0.1', port, nid,
                                         CHAIN['regtest'])
    bad_t, bad_r, _ = await ln_session('127.0.0.1', port, nid,
                                       CHAIN['regtest'])
    sock = bad_t.writer.get_extra_info('socket')
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    bad_port = bad_t.writer.get_extra_info('sockname')[1]
    m = a.mark()
    # Ask for the largest pongs and never read them: what the kernel
    # buffers cannot hold queues in coldnode until the cap.
    for _ in range(40):
        try:
            for _ in range(50):
                bad_t.send_bytes(msg_ping(65531))
            await bad_t.writer.drain()
        except ConnectionError:
            break  # dropped, as it should be
        await pong_ok(good_t, good_r)
        if a.count_log(r'--peer\.maxbuffer', since=m):
            break
    line = await wait_log(a, rf'PEER: dropping 127\.0\.0\.1:{bad_port}: send '
                          rf'buffer full: max buffer \({cap}\) reached '
                          r'\(--peer\.maxbuffer', since=m)
    await wait_log(a, rf'closed .*127\.0\.0\.1:{bad_port} .*--peer\.maxbuffer',
                   since=m)
    # Only that peer: the other one still answers.
    await pong_ok(good_t, good_r)
    if a.count_log(r'closed ', since=m) != 1:
        fail('more than the slow peer was closed')
    good_t.close()
    bad_t.close()
    a.stop()
    print('maxbuffer:', line.group(0))


def case_bad_values():
    """A buffer cap below one framed message, or a limit that is not a
    number, is refused at start-up (exit code 2, a line saying why)."""
    for arg, why in (('--peer.maxbuffer=65568', 'below one framed'),
                     ('--maxpendinghandshakes=-1', 'is not a number'),
                     ('--maxpeers=lots', 'is not a number'),
                     ('--peer.actonetimeout=0', 'must be positive'),
                     ('--rpc.maxpreauth=0', 'at least 1'),
                     ('--signer.preauthtimeout=0', 'must be positive')):
        p = subprocess.run([coldnode_exe(), '--datadir=/nonexistent', arg],
                           capture_output=True, text=True, timeout=10)
        if p.returncode != 2 or why not in p.stderr:
            fail(f'{arg}: exit {p.returncode}, {p.stderr.strip()!r}')


def idle_from(src, port):
    s = socket.socket()
    s.bind((src, 0))
    s.connect(('127.0.0.1', port))
    return s


def closed_soon(s, timeout=15):
    """True if the node closes @s (we send nothing) within @timeout."""
    s.settimeout(timeout)
    try:
        return s.recv(100) == b''
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


async def case_preauth(h):
    """Per-source cap on inbound connections before init (closed at
    accept, before act one) and the act one deadline."""
    a = h.node('preauth', '--signer=local', *COMMON,
               '--debuglevel=info,PEER=debug',
               '--peer.maxpreauthpersource=2', '--peer.actonetimeout=2s',
               '--handshaketimeout=60s').start()
    port, nid = a.p2p_port(), a.node_id()
    m = a.mark()
    held = [idle_from('127.0.0.1', port) for _ in range(2)]
    await wait_until(lambda: a.count_log(r'inbound connection from', m) >= 2,
                     'two inbound connections')
    if not refused(port):
        fail('a 3rd connection from one source was served with '
             '--peer.maxpreauthpersource=2')
    a.wait_log(r'\[UNU\] PEER: p2p: refusing connection from '
               r'127\.0\.0\.1:\d+: 2 from that source not yet authenticated '
               r'\(max 2, --peer\.maxpreauthpersource\)', since=m)
    # Another source is not affected, and a real session from it is
    # served while 127.0.0.1 is at its cap.
    other = idle_from('127.0.0.2', port)
    # The idle ones are closed at the act one deadline (2 s), not at the
    # handshake timeout (60 s); counted as timed out.
    for s in held + [other]:
        if not closed_soon(s):
            fail('an idle connection outlived --peer.actonetimeout')
        s.close()
    a.wait_log(r'\[UNU\] PEER: p2p: closing connection from '
               r'127\.0\.0\.\d:\d+: no act one within 2s', since=m)
    # Below the cap again: a full session is served.
    t, r, _ = await ln_session('127.0.0.1', port, nid, CHAIN['regtest'])
    await pong_ok(t, r)
    t.close()
    a.stop()


async def case_log_cap(h):
    """A flood of bad act ones (anyone can send them) is not a flood of
    log lines: at most 10 "closed ... inbound (before init)" lines a
    second, the rest summed up in one line, so the log files (rotated at
    --maxlogfilesize) keep what matters.  Every close is accounted for."""
    a = h.node('logcap', '--signer=local', *COMMON).start()
    port = a.p2p_port()
    m = a.mark()
    n = 300

    def bad_act_one():
        s = socket.create_connection(('127.0.0.1', port))
        s.sendall(b'\x01' + bytes(49))  # act one, unknown version
        if not closed_soon(s):
            fail('a bad act one did not close the connection')
        s.close()

    for _ in range(n):
        bad_act_one()
    await asyncio.sleep(1.1)  # a new second: the next line sums up
    bad_act_one()
    a.wait_log(r'\[INF\] PEER: \d+ more inbound connections closed before '
               r'init not logged \(at most 10 lines a second\)', since=m)
    text = a.log()[m:]
    lines = len(re.findall(r'\[INF\] PEER: closed 127\.0\.0\.1:\d+ inbound '
                           r'\(before init\)', text))
    summed = sum(int(x) for x in re.findall(
        r'PEER: (\d+) more inbound connections closed before init', text))
    if lines >= n or lines + summed != n + 1:
        fail(f'{lines} lines and {summed} summed up for {n + 1} closes')
    a.stop()


async def amain():
    case_bad_values()
    with Harness() as h:
        await case_log_cap(h)
        await case_preauth(h)
        await case_maxpeers(h)
        await case_maxpending(h)
        await case_maxbuffer(h)


def main():
    asyncio.run(amain())


run(main)
