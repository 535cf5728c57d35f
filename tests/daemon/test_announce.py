"""Our own node_announcement, end to end with real processes on 127.0.0.1.

Local key (--signer=local --alias=test --color=...): right after start the
gossip store holds our node_announcement; its bytes are parsed here and the
signature checked with electrum's libsecp256k1 binding (an independent
implementation) against the node id.  A restart makes a newer one.

Remote signer (coldsigner, key known up front with --signer.nodepubkey so
p2p and the announcer run while WAITING_FOR_SIGNER): nothing is made before
the signer is ACTIVE; then the announcement appears, signed by the signer's
key.  Signer lost: SAFE_MODE makes nothing; back: a newer one.

The store keeps it although we have no channel (BOLT 7 would have others
ignore it: the exception is for our own only).
Env (set by meson): COLDNODE, COLDSIGNER, PYTHONPATH (tests/integration and
tests/supervisor).
"""
import hashlib
import os
import sqlite3
import time

from electrum import ecc

from harness import Harness, run, fail, ln_privkey, ln_pubkey
from signer_harness import Signer

COMMON = ('--network=regtest', '--listen=127.0.0.1:0',
          '--rpclisten=127.0.0.1:0', '--debuglevel=debug')
MADE = r'made our node_announcement: timestamp (\d+)'


def stored(node, node_id):
    """(timestamp, raw) of @node_id's node_announcement in the store, or
    None.  WAL mode: reading does not disturb the running node."""
    path = os.path.join(node.datadir, 'gossip.sqlite3')
    if not os.path.exists(path):
        return None
    db = sqlite3.connect(f'file:{path}?mode=ro', uri=True, timeout=5)
    try:
        row = db.execute('SELECT ts, raw FROM nodes WHERE node_id = ?',
                         (bytes.fromhex(node_id),)).fetchone()
    except sqlite3.OperationalError:
        row = None
    finally:
        db.close()
    return row


def wait_stored(node, node_id, newer_than=-1, timeout=15):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        row = stored(node, node_id)
        if row and row[0] > newer_than:
            return row
        time.sleep(0.05)
    fail(f'{node.name}: no node_announcement newer than {newer_than} in '
         f'the store\n' + node.tail())


def parse_node_ann(raw):
    """BOLT 7 node_announcement fields, by hand."""
    if int.from_bytes(raw[0:2], 'big') != 257:
        fail(f'not a node_announcement: type {raw[0:2].hex()}')
    sig = raw[2:66]
    flen = int.from_bytes(raw[66:68], 'big')
    p = 68 + flen
    ts = int.from_bytes(raw[p:p + 4], 'big')
    node_id = raw[p + 4:p + 37]
    rgb = raw[p + 37:p + 40]
    alias = raw[p + 40:p + 72]
    alen = int.from_bytes(raw[p + 72:p + 74], 'big')
    addrs = raw[p + 74:p + 74 + alen]
    return dict(sig=sig, ts=ts, node_id=node_id, rgb=rgb, alias=alias,
                addrs=addrs, rest=raw[p + 74 + alen:])


def check_signed(raw, pub, alias, rgb):
    """The signature: node_id's key over SHA256d(raw[66:]), BOLT 7."""
    na = parse_node_ann(raw)
    if na['node_id'] != pub:
        fail(f'node_id {na["node_id"].hex()}, want {pub.hex()}')
    digest = hashlib.sha256(hashlib.sha256(raw[66:]).digest()).digest()
    if not ecc.ECPubkey(pub).verify_message_hash(na['sig'], digest):
        fail('node_announcement signature does not verify')
    # Sanity: the check above does reject a wrong key.
    other = ln_pubkey(ln_privkey())
    if ecc.ECPubkey(other).verify_message_hash(na['sig'], digest):
        fail('signature verifies under a random key')
    if na['alias'] != alias.encode().ljust(32, b'\0'):
        fail(f'alias {na["alias"]!r}')
    if na['rgb'] != rgb:
        fail(f'rgb {na["rgb"].hex()}, want {rgb.hex()}')
    # Loopback listeners are not announced.
    if na['addrs'] or na['rest']:
        fail(f'unexpected addresses {na["addrs"].hex()} / trailing bytes')
    return na


def write_key(path):
    priv = ln_privkey()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, priv)
    os.close(fd)
    return ln_pubkey(priv)


def main():
    with Harness() as h:
        # --- local key -------------------------------------------------
        a = h.node('a', '--signer=local', '--alias=test', '--color=#1a2b3c',
                   *COMMON).start()
        a_id = a.node_id()
        a.wait_log(MADE)
        ts1, raw = wait_stored(a, a_id)
        na = check_signed(raw, bytes.fromhex(a_id), 'test',
                          bytes.fromhex('1a2b3c'))
        if na['ts'] != ts1 or abs(na['ts'] - time.time()) > 3600:
            fail(f'timestamp {na["ts"]} (stored {ts1})')
        # Restarted: a newer one (strictly greater, even within a second).
        a.stop()
        a.start()
        ts2, raw = wait_stored(a, a_id, newer_than=ts1)
        check_signed(raw, bytes.fromhex(a_id), 'test',
                     bytes.fromhex('1a2b3c'))

        # --- remote signer ---------------------------------------------
        keyfile = os.path.join(h.tmp, 's.key')
        pub = write_key(keyfile)
        x = h.node('x', '--signer=remote', '--alias=test-remote',
                   '--color=#000001', f'--signer.nodepubkey={pub.hex()}',
                   '--signerlisten=127.0.0.1:0', *COMMON)
        x.start(wait=r'p2p started')
        x.wait_log(r'waiting for the signer')
        # WAITING_FOR_SIGNER: the announcer exists (the key is known) but
        # makes nothing.  The store is already open: no row for us.
        if stored(x, pub.hex()) is not None:
            fail('node_announcement made without a signer')
        s = Signer(h, 's', x, keyfile=keyfile).start()
        x.wait_log(r'WAITING_FOR_SIGNER -> ACTIVE')
        ts1, raw = wait_stored(x, pub.hex())
        check_signed(raw, pub, 'test-remote', bytes.fromhex('000001'))
        log = x.log()
        if log.find('made our node_announcement') < \
                log.find('WAITING_FOR_SIGNER -> ACTIVE'):
            fail('node_announcement made before ACTIVE')
        if x.count_log(MADE) != 1:
            fail('more than one node_announcement for one ACTIVE')

        # Signer lost: SAFE_MODE makes nothing new.
        mx = x.mark()
        s.kill()
        x.wait_log(r'ACTIVE -> SAFE_MODE', since=mx)
        if x.count_log(MADE, since=mx):
            fail('node_announcement made in SAFE_MODE')
        if stored(x, pub.hex())[0] != ts1:
            fail('stored node_announcement changed in SAFE_MODE')
        # Back: a newer one, from the signer again.
        s2 = Signer(h, 's2', x, keyfile=keyfile).start()
        x.wait_log(r'SAFE_MODE -> ACTIVE', since=mx)
        ts2, raw = wait_stored(x, pub.hex(), newer_than=ts1)
        check_signed(raw, pub, 'test-remote', bytes.fromhex('000001'))
        if x.count_log(MADE, since=mx) != 1:
            fail('want exactly one node_announcement after the return')
        # Never even attempted without a signer (it would fail UNAVAILABLE).
        if x.count_log(r'node_announcement not made'):
            fail('node_announcement attempted outside ACTIVE')
        # coldsigner's policy (on by default, issue 22) let every real
        # request through: the key checks and both announcements.
        for sg in (s, s2):
            if 'policy=check' not in sg.log() or 'refused' in sg.log():
                fail(f'{sg.name}: policy refused a real request:\n'
                     + sg.log()[-2000:])
        s2.kill()


run(main)
