"""contrib/systemd units: `systemd-analyze verify` accepts both, and
`systemd-analyze security --offline=true` scores each at or under 2.0
(docs/operations.md has the figures).  verify refuses an ExecStart binary
that does not exist, so the test points ExecStart at the build's
binaries in a temporary copy; nothing else changes."""
import os
import re
import subprocess
import tempfile

from harness import run, fail

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
UNITS = {'coldnode.service': ('/usr/local/bin/coldnode', 'COLDNODE'),
         'coldsigner.service': ('/usr/local/bin/coldsigner', 'COLDSIGNER')}
MAX_EXPOSURE = 2.0


def main():
    analyze = os.environ.get('SYSTEMD_ANALYZE', '/usr/bin/systemd-analyze')
    if not os.access(analyze, os.X_OK):
        fail('systemd-analyze not found (Debian package systemd)')
    with tempfile.TemporaryDirectory() as tmp:
        for unit, (installed, env) in UNITS.items():
            with open(os.path.join(ROOT, 'contrib', 'systemd', unit)) as f:
                text = f.read()
            for want in ('Type=notify', 'NoNewPrivileges=yes',
                         'ProtectSystem=strict', 'ReadWritePaths=',
                         'PrivateTmp=yes', 'RestrictAddressFamilies='):
                if want not in text:
                    fail(f'{unit}: no {want}')
            if f'ExecStart={installed} ' not in text:
                fail(f'{unit}: ExecStart is not {installed}')
            path = os.path.join(tmp, unit)
            with open(path, 'w') as f:
                f.write(text.replace(f'ExecStart={installed} ',
                                     f'ExecStart={os.environ[env]} '))
            p = subprocess.run([analyze, 'verify', path],
                               capture_output=True, text=True, timeout=60)
            if p.returncode != 0 or p.stderr.strip():
                fail(f'systemd-analyze verify {unit}: rc {p.returncode}\n'
                     f'{p.stdout}{p.stderr}')
            p = subprocess.run([analyze, 'security', '--offline=true', path],
                               capture_output=True, text=True, timeout=60)
            m = re.search(r'Overall exposure level for \S+: ([0-9.]+)',
                          p.stdout)
            if not m:
                fail(f'systemd-analyze security {unit}: rc {p.returncode}\n'
                     f'{p.stdout[-2000:]}{p.stderr}')
            score = float(m.group(1))
            print(f'{unit}: exposure {score}')
            if score > MAX_EXPOSURE:
                fail(f'{unit}: exposure {score} > {MAX_EXPOSURE}')


run(main)
