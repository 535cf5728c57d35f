"""A signer that dials the signer port on a loopback address other than
127.0.0.1 verifies coldnode's certificate (the --signerlisten host is in
tls.cert), and tls.cert is renewed at startup like lnd's:

  1. the data dir holds an expired pair naming only 127.0.0.1: coldnode
     moves it to tls.cert.old / tls.key.old, logs one line, makes a new
     one; --signerlisten=127.0.0.2:0: coldsigner dials 127.0.0.2 and the
     node goes ACTIVE; Python's ssl (OpenSSL, hostname checked) verifies
     the new cert for 127.0.0.2 and refuses the old one;
  2. restart with --signerlisten=127.0.0.3:0: the cert does not name it,
     a warning says so, the pair is kept (lnd: only --tlsautorefresh
     renews for names) and a TLS client for 127.0.0.3 fails to verify;
  3. restart with --tlsautorefresh: renewed, coldsigner on 127.0.0.3 works.

Only 127.0.0.0/8 is ever dialed.  Env (meson): COLDNODE, COLDSIGNER,
PYTHONPATH (tests/integration, tests/supervisor).
"""
import datetime
import os
import re
import socket
import ssl

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from harness import Harness, fail, run
from signer_harness import Signer

COMMON = ('--signer=remote', '--network=regtest', '--rpclisten=127.0.0.1:0',
          '--listen=127.0.0.1:0', '--debuglevel=debug')


def write_expired_pair(datadir):
    os.makedirs(datadir, mode=0o700, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, 'old')])
    now = datetime.datetime.utcnow()
    import ipaddress
    cert = (x509.CertificateBuilder()
            .subject_name(name).issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=400))
            .not_valid_after(now - datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.DNSName('localhost'),
                 x509.IPAddress(ipaddress.ip_address('127.0.0.1'))]),
                critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None),
                           critical=True)
            .sign(key, hashes.SHA256()))
    pem = cert.public_bytes(serialization.Encoding.PEM)
    with open(os.path.join(datadir, 'tls.cert'), 'wb') as f:
        f.write(pem)
    fd = os.open(os.path.join(datadir, 'tls.key'),
                 os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, key.private_bytes(serialization.Encoding.PEM,
                                   serialization.PrivateFormat.PKCS8,
                                   serialization.NoEncryption()))
    os.close(fd)
    return pem


def tls_verifies(cafile, host, port):
    """True if a TLS client pinned to @cafile accepts the server at
    @host:@port under the name @host (an IP: checked against IP SANs)."""
    ctx = ssl.create_default_context(cafile=cafile)
    ctx.set_alpn_protocols(['h2'])
    try:
        with socket.create_connection((host, port), timeout=10) as s:
            with ctx.wrap_socket(s, server_hostname=host):
                return True
    except ssl.SSLCertVerificationError:
        return False


def signer_port(node, host, since):
    return int(node.wait_log(
        rf'SUPV: gRPC listening on {re.escape(host)}:\d+ \(port (\d+)\)',
        since=since).group(1))


def main():
    with Harness() as h:
        d = os.path.join(h.tmp, 'x')
        old_pem = write_expired_pair(d)
        cert = os.path.join(d, 'tls.cert')

        # 1. Expired: renewed at startup, old pair kept.
        x = h.node('x', *COMMON, '--signerlisten=127.0.0.2:0', datadir=d)
        m = x.mark()
        x.start()
        x.wait_log(r'TLS certificate .*tls\.cert expired .*: made a new one '
                   r'.*IP:127\.0\.0\.2.*the old pair is kept as '
                   r'.*tls\.cert\.old and .*tls\.key\.old', since=m)
        with open(cert + '.old', 'rb') as f:
            if f.read() != old_pem:
                fail('tls.cert.old is not the old certificate')
        if not os.path.exists(os.path.join(d, 'tls.key.old')):
            fail('tls.key.old missing')
        port = signer_port(x, '127.0.0.2', m)
        if not tls_verifies(cert, '127.0.0.2', port):
            fail('new tls.cert does not verify for 127.0.0.2')
        if tls_verifies(cert + '.old', '127.0.0.2', port):
            fail('the old certificate still verifies')
        s = Signer(h, 's', x, target=f'127.0.0.2:{port}').start()
        x.wait_log(r'WAITING_FOR_SIGNER -> ACTIVE', since=m)
        s.stop()
        x.stop()

        # 2. A name the cert lacks: warned, kept (no --tlsautorefresh).
        with open(cert, 'rb') as f:
            pem2 = f.read()
        x = h.node('x2', *COMMON, '--signerlisten=127.0.0.3:0', datadir=d)
        m = x.mark()
        x.start()
        x.wait_log(r'tls\.cert does not name 127\.0\.0\.3: clients dialing '
                   r'it will fail verification', since=m)
        with open(cert, 'rb') as f:
            if f.read() != pem2:
                fail('tls.cert changed without --tlsautorefresh')
        port = signer_port(x, '127.0.0.3', m)
        if tls_verifies(cert, '127.0.0.3', port):
            fail('a cert without 127.0.0.3 verified for it')
        x.stop()

        # 3. --tlsautorefresh: renewed with the name; a signer connects.
        x = h.node('x3', *COMMON, '--signerlisten=127.0.0.3:0',
                   '--tlsautorefresh', datadir=d)
        m = x.mark()
        x.start()
        x.wait_log(r'tls\.cert does not name 127\.0\.0\.3: made a new one',
                   since=m)
        with open(cert + '.old', 'rb') as f:
            if f.read() != pem2:
                fail('tls.cert.old is not the previous certificate')
        port = signer_port(x, '127.0.0.3', m)
        s = Signer(h, 's3', x, keyfile=s.keyfile,
                   target=f'127.0.0.3:{port}').start()
        x.wait_log(r'WAITING_FOR_SIGNER -> ACTIVE', since=m)
        s.stop()
        x.stop()


run(main)
