"""The gRPC surface of the real coldnode binary, driven with coldctl:
first-start files (tls.cert/key, macaroons) and their modes, GetInfo with
the node's identity, supervisor state, wallet import and balances,
bakemacaroon, permissions, the unix socket, restart (nothing regenerated),
and answers while no signer is connected.

Env (set by meson): COLDNODE, COLDCTL, PYTHONPATH=tests/integration.
"""
import json
import os
import stat
import subprocess

from harness import Harness, fail, run

COLDCTL = os.environ.get('COLDCTL', '')

LISTUNSPENT = [
    {"txid": "0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9",
     "vout": 0, "address": "bcrt1qexample", "label": "", "amount": 0.5,
     "confirmations": 6, "spendable": True, "solvable": True, "safe": True,
     "parent_descs": ["wpkh(tpub/84h/1h/0h/0/*)#abc"]},
    {"txid": "1a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9",
     "vout": 3, "address": "bcrt1qother", "amount": 0.00012345,
     "confirmations": 0, "spendable": True, "safe": False},
]


def rpc_port(node):
    # this run's line, not one from before a restart
    return int(node.wait_log(
        r'gRPC listening on 127\.0\.0\.1:\d+ \(port (\d+)\)',
        since=node._start_mark).group(1))


def ctl(node, *args, server=None, mac=None, expect_rc=0):
    cmd = [COLDCTL, f'--datadir={node.datadir}',
           f'--rpcserver={server or "127.0.0.1:%d" % rpc_port(node)}',
           '--timeout=10']
    if mac:
        cmd.append(f'--macaroonpath={os.path.join(node.datadir, mac)}')
    cmd += list(args)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    if p.returncode != expect_rc:
        fail(f'coldctl {" ".join(args)}: rc {p.returncode} (want '
             f'{expect_rc})\nstdout: {p.stdout}\nstderr: {p.stderr}')
    if expect_rc == 0 and p.stdout.lstrip().startswith('{'):
        return json.loads(p.stdout)
    return p


def check_files(node):
    for f in ('tls.key', 'macaroons.key', 'admin.macaroon',
              'readonly.macaroon', 'monitor.macaroon'):
        mode = stat.S_IMODE(os.stat(os.path.join(node.datadir, f)).st_mode)
        if mode != 0o600:
            fail(f'{f}: mode {oct(mode)}, want 0600')
    if os.path.getsize(os.path.join(node.datadir, 'macaroons.key')) != 32:
        fail('macaroons.key is not 32 bytes')
    with open(os.path.join(node.datadir, 'tls.cert')) as f:
        if 'BEGIN CERTIFICATE' not in f.read():
            fail('tls.cert is not a PEM certificate')


def snapshot(node):
    out = {}
    for f in ('tls.cert', 'tls.key', 'macaroons.key', 'admin.macaroon',
              'monitor.macaroon'):
        with open(os.path.join(node.datadir, f), 'rb') as fh:
            out[f] = fh.read()
    return out


def start_refused(node, what, regex):
    """coldnode with @node's options must refuse to start (issue 22)."""
    import re
    cmd = [os.environ['COLDNODE'], f'--datadir={node.datadir}'] + \
        node.args + ['--rpclisten=127.0.0.1:0', '--signerlisten=127.0.0.1:0']
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=15)
    except subprocess.TimeoutExpired:
        fail(f'{what}: coldnode started anyway (still running after 15 s)')
    out = p.stdout + p.stderr
    if p.returncode == 0 or not re.search(regex, out):
        fail(f'{what}: coldnode started anyway or said something else '
             f'(rc {p.returncode}):\n{out[-2000:]}')


def tls12_handshake(port, cipher):
    """True if openssl s_client completes a TLS 1.2 handshake offering
    only @cipher."""
    p = subprocess.run(
        ['openssl', 's_client', '-connect', f'127.0.0.1:{port}',
         '-tls1_2', '-cipher', cipher, '-alpn', 'h2'],
        stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
    # stdout holds the node's binary SETTINGS frame too.
    out = p.stdout.decode(errors='replace')
    return p.returncode == 0 and f'Cipher is {cipher}' in out


def issue22(h, a):
    """Key file modes, TLS 1.2 suites, bakemacaroon's options."""
    port = rpc_port(a)
    # TLS 1.2: ECDHE + AEAD only, as lnd (the cert is ECDSA P-256).
    if not tls12_handshake(port, 'ECDHE-ECDSA-AES128-GCM-SHA256'):
        fail('TLS 1.2 with ECDHE-ECDSA-AES128-GCM-SHA256 refused')
    if not tls12_handshake(port, 'ECDHE-ECDSA-CHACHA20-POLY1305'):
        fail('TLS 1.2 with ECDHE-ECDSA-CHACHA20-POLY1305 refused')
    for weak in ('ECDHE-ECDSA-AES128-SHA', 'ECDHE-ECDSA-AES256-SHA384',
                 'ECDHE-ECDSA-AES128-SHA256'):
        if tls12_handshake(port, weak):
            fail(f'TLS 1.2 with the CBC suite {weak} accepted')
    # bakemacaroon: each caveat option once (a second --timeout wrote
    # past a 2-entry array), values checked.
    for args, want in (
            (['--timeout', '60', '--timeout', '60', '--ip_address',
              '127.0.0.1'], '--timeout given more than once'),
            (['--ip_address', '127.0.0.1', '--ip_address', '127.0.0.1'],
             '--ip_address given more than once'),
            (['--ip_address', 'not-an-ip'], 'not an IPv4 or IPv6'),
            (['--timeout', '99999999999999999999'], '--timeout must be')):
        p = ctl(a, 'bakemacaroon', *args, 'info:read', expect_rc=2)
        if want not in p.stderr:
            fail(f'bakemacaroon {args}: {p.stderr}')
    a.stop()
    # Key files readable by others are refused, like the node key.
    for f, regex in (('macaroons.key', r'macaroon root key .* must not be '
                      r'accessible by group or others \(mode 640'),
                     ('tls.key', r'TLS key .* must not be accessible by '
                      r'group or others \(mode 644')):
        path = os.path.join(a.datadir, f)
        os.chmod(path, 0o640 if f == 'macaroons.key' else 0o644)
        start_refused(a, f, regex)
        os.chmod(path, 0o600)
    a.start()


def main():
    if not COLDCTL:
        fail('COLDCTL is not set')
    with Harness() as h:
        a = h.node('a', '--signer=local', '--network=regtest',
                   '--listen=127.0.0.1:0', '--alias=rpc-test')
        a.start()
        # The RPC is up before any key or p2p work.
        log = a.log()
        if log.find('gRPC listening') > log.find('node id'):
            fail('gRPC started after the node key was loaded')
        check_files(a)

        info = ctl(a, 'getinfo', mac='monitor.macaroon')
        if info['identity_pubkey'] != a.node_id():
            fail(f'GetInfo identity {info["identity_pubkey"]} != node id')
        if info['alias'] != 'rpc-test' or info['num_peers'] != 0 or \
                info['chains'][0]['network'] != 'regtest':
            fail(f'GetInfo fields: {info}')
        st = ctl(a, 'state', mac='monitor.macaroon')
        if not st['state']:
            fail(f'empty state: {st}')
        # the default unix socket, TLS like lnd
        sock = os.path.join(a.datadir, 'rpc.sock')
        info2 = ctl(a, 'getinfo', server='unix:' + sock)
        if info2['identity_pubkey'] != a.node_id():
            fail('GetInfo over the unix socket differs')

        # wallet: monitor may read but not import; admin imports
        lu = os.path.join(h.tmp, 'listunspent.json')
        with open(lu, 'w') as f:
            json.dump(LISTUNSPENT, f)
        p = ctl(a, 'wallet', 'import', lu, mac='monitor.macaroon',
                expect_rc=1)
        if 'PERMISSION_DENIED' not in p.stderr or \
                'onchain:write' not in p.stderr:
            fail(f'monitor import: {p.stderr}')
        r = ctl(a, 'wallet', 'import', lu)
        if r['imported'] != 2 or r['total_sat'] != '50012345':
            fail(f'import: {r}')
        bal = ctl(a, 'walletbalance', mac='monitor.macaroon')
        if bal['confirmed_balance'] != '50000000' or \
                bal['unconfirmed_balance'] != '12345' or \
                bal['total_balance'] != '50012345' or \
                bal['account_balance']['default']['confirmed_balance'] \
                != '50000000':
            fail(f'walletbalance: {bal}')

        # bakemacaroon: info:read only
        ctl(a, 'bakemacaroon', '--save_to',
            os.path.join(a.datadir, 'info.macaroon'), 'info:read')
        ctl(a, 'getinfo', mac='info.macaroon')
        p = ctl(a, 'walletbalance', mac='info.macaroon', expect_rc=1)
        if 'PERMISSION_DENIED' not in p.stderr:
            fail(f'info-only macaroon got WalletBalance: {p.stderr}')
        # an expired one
        ctl(a, 'bakemacaroon', '--save_to',
            os.path.join(a.datadir, 'ip.macaroon'), '--ip_address',
            '10.1.2.3', 'info:read')
        p = ctl(a, 'getinfo', mac='ip.macaroon', expect_rc=1)
        if 'UNAUTHENTICATED' not in p.stderr:
            fail(f'ip-locked macaroon accepted: {p.stderr}')

        issue22(h, a)

        # restart: nothing regenerated, wallet kept
        before = snapshot(a)
        a.stop()
        a.start()
        if snapshot(a) != before:
            fail('restart regenerated TLS or macaroon files')
        bal = ctl(a, 'walletbalance', mac='monitor.macaroon')
        if bal['total_balance'] != '50012345':
            fail(f'wallet not persisted: {bal}')

        # no signer at all: the surface still answers
        b = h.node('b', '--signer=remote', '--network=regtest',
                   '--nolisten')
        b.start(wait=r'gRPC listening on 127\.0\.0\.1')
        info = ctl(b, 'getinfo', mac='monitor.macaroon')
        if info['chains'][0]['network'] != 'regtest':
            fail(f'GetInfo without signer: {info}')
        ctl(b, 'walletbalance', mac='monitor.macaroon')
        st = ctl(b, 'state', mac='monitor.macaroon')
        if st['signer']['connected']:
            fail(f'state says a signer is connected: {st}')


if __name__ == '__main__':
    run(main)
