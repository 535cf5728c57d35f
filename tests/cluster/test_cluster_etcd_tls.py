"""coldnode talks to etcd over TLS with a client certificate
(--cluster.etcd.cacert/cert/key): a one-member etcd that requires client
certificates (--client-cert-auth), a CA and two certificates made with
openssl.  The instance leads, its key reads back with etcdctl over TLS;
without the client certificate it cannot join (etcd refuses the
handshake) and stays a standby."""
import base64
import json
import os
import subprocess
import time

from harness import Harness, fail, free_port, run
from clusterlib import ETCD, ETCDCTL


def openssl(*args, cwd):
    p = subprocess.run(['openssl', *args], cwd=cwd, capture_output=True,
                       timeout=60)
    if p.returncode != 0:
        fail(f'openssl {args}: {p.stderr.decode()}')


def make_pki(d):
    openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt',
            'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key',
            '-out', 'ca.crt', '-days', '2', '-subj', '/CN=test-ca', cwd=d)
    for name, ext in (('server', 'subjectAltName=IP:127.0.0.1\n'
                       'extendedKeyUsage=serverAuth,clientAuth\n'),
                      ('client', 'extendedKeyUsage=clientAuth\n')):
        with open(os.path.join(d, name + '.ext'), 'w') as f:
            f.write(ext)
        openssl('req', '-newkey', 'ec', '-pkeyopt',
                'ec_paramgen_curve:P-256', '-nodes', '-keyout',
                name + '.key', '-out', name + '.csr', '-subj',
                f'/CN={name}', cwd=d)
        openssl('x509', '-req', '-in', name + '.csr', '-CA', 'ca.crt',
                '-CAkey', 'ca.key', '-CAcreateserial', '-out',
                name + '.crt', '-days', '2', '-extfile', name + '.ext',
                cwd=d)


def main():
    with Harness() as h:
        pki = os.path.join(h.tmp, 'pki')
        os.makedirs(pki)
        make_pki(pki)
        cport, pport = free_port(), free_port()
        f = lambda n: os.path.join(pki, n)
        etcd = subprocess.Popen(
            [ETCD, '--name', 'm0', '--data-dir', os.path.join(h.tmp, 'etcd'),
             '--listen-client-urls', f'https://127.0.0.1:{cport}',
             '--advertise-client-urls', f'https://127.0.0.1:{cport}',
             '--listen-peer-urls', f'http://127.0.0.1:{pport}',
             '--initial-advertise-peer-urls', f'http://127.0.0.1:{pport}',
             '--initial-cluster', f'm0=http://127.0.0.1:{pport}',
             '--cert-file', f('server.crt'), '--key-file', f('server.key'),
             '--trusted-ca-file', f('ca.crt'), '--client-cert-auth',
             '--log-level', 'warn'],
            stdout=open(os.path.join(h.tmp, 'etcd.log'), 'ab'),
            stderr=subprocess.STDOUT)
        try:
            tls = ['--cacert', f('ca.crt'), '--cert', f('client.crt'),
                   '--key', f('client.key')]
            env = dict(os.environ, ETCDCTL_API='3')

            def ctl(*args):
                return subprocess.run(
                    [ETCDCTL, f'--endpoints=https://127.0.0.1:{cport}',
                     '--command-timeout=3s', *tls, *args],
                    capture_output=True, timeout=10, env=env)
            end = time.monotonic() + 15
            while ctl('endpoint', 'health').returncode != 0:
                if time.monotonic() > end:
                    fail('etcd over TLS not healthy')
                time.sleep(0.1)
            common = ('--signer=remote', '--network=regtest',
                      '--cluster.enable-leader-election',
                      '--cluster.leader-session-ttl=2s',
                      f'--cluster.etcd.host=127.0.0.1:{cport}',
                      f'--cluster.etcd.cacert={f("ca.crt")}')
            # Without a client certificate: refused, never leads.
            x = h.node('x', *common, '--cluster.id=x').start(
                wait=r'cluster member x: standby until elected')
            x.wait_log(r'\[UNU\] CLUS: lease grant on https://\S+ '
                       r'failed: .*retrying on every member')
            time.sleep(1)
            if 'leading the cluster' in x.log():
                fail('led without a client certificate')
            x.stop()
            # With it: leads; etcdctl reads the key over TLS.
            t = h.node('t', *common, '--cluster.id=t',
                       f'--cluster.etcd.cert={f("client.crt")}',
                       f'--cluster.etcd.key={f("client.key")}').start(
                wait=r'cluster member t: standby until elected')
            t.wait_log(r'MAIN: leading the cluster with token (\d+)')
            p = ctl('get', '--prefix', '/coldnode/leader/', '-w', 'json')
            kvs = json.loads(p.stdout).get('kvs', [])
            vals = [json.loads(base64.b64decode(kv['value'])) for kv in kvs]
            if [v['id'] for v in vals] != ['t']:
                fail(f'etcdctl over TLS reads {vals}')
            t.stop()
            print('etcd over TLS with a client certificate: t leads, its '
                  'key reads back; without the certificate x never joins')
        finally:
            etcd.kill()
            etcd.wait()


if __name__ == '__main__':
    run(main)
