"""Two coldnode instances (--signer=local): B dials A (--connect), both
finish the BOLT 8 handshake and init, ping each other; A is stopped and
restarted on the same port and B, a persistent peer, redials it with a
doubling backoff that resets once a session works.  Every SIGTERM stop must
be a clean exit 0."""
import os
import stat

from harness import Harness, run

COMMON = ('--signer=local', '--network=regtest', '--pinginterval=200ms',
          '--debuglevel=debug')


def main():
    with Harness() as h:
        a = h.node('a', *COMMON, '--listen=127.0.0.1:0').start()
        port, a_id = a.p2p_port(), a.node_id()
        # Datadir 0700 and node.key 0600 were created on first start.
        assert stat.S_IMODE(os.stat(a.datadir).st_mode) == 0o700
        assert stat.S_IMODE(os.stat(os.path.join(a.datadir, 'node.key'))
                            .st_mode) == 0o600

        b = h.node('b', *COMMON, '--nolisten',
                   f'--connect={a_id}@127.0.0.1:{port}').start()
        b_id = b.node_id()
        b.wait_log(rf'peer {a_id}@127.0.0.1:{port} ready \(outbound')
        a.wait_log(rf'peer {b_id}@127\.0\.0\.1:\d+ ready \(inbound')
        # Pings both ways, each answered with the length asked for.
        for n in (a, b):
            n.wait_log(r'got matching pong')
            n.wait_log(r'answering ping with \d+ bytes')

        # Stop the listener: B logs the close and schedules a redial.
        mb = b.mark()
        a.stop()
        b.wait_log(rf'closed {a_id}@.*outbound', since=mb)
        b.wait_log(r'redialing .* in 1s', since=mb)
        # Backoff doubles while the listener stays down.
        b.wait_log(r'connect failed: Connection refused', since=mb)
        b.wait_log(r'redialing .* in 2s', since=mb)

        # Restart A on the same port with the same key: B comes back.
        a.args = [x for x in a.args if not x.startswith('--listen')]
        a.args.append(f'--listen=127.0.0.1:{port}')
        ma = a.mark()
        a.start()
        assert a.node_id() == a_id
        b.wait_log(rf'peer {a_id}@127.0.0.1:{port} ready \(outbound',
                   since=mb)
        a.wait_log(rf'peer {b_id}@.* ready \(inbound', since=ma)
        a.wait_log(r'got matching pong', since=ma)

        # A working session reset the backoff: the next drop redials in 1s.
        mb = b.mark()
        a.kill()
        b.wait_log(rf'closed {a_id}@.*outbound', since=mb)
        b.wait_log(r'redialing .* in 1s', since=mb)
        # Exit codes are checked (0) when the harness stops both.


run(main)
