"""Helpers for the metrics tests: scrape coldnode's /metrics, parse the
text format, run promtool, and run a real Prometheus server (Debian's
`prometheus` package) on 127.0.0.1.  Standard library only.  Meson passes
PROMTOOL and PROMETHEUS (paths) and DOCS_OPERATIONS (docs/operations.md)."""
import json
import os
import re
import shutil
import signal
import subprocess
import time
import urllib.parse
import urllib.request

from harness import DEFAULT_TIMEOUT, fail, free_port


def tool(name):
    exe = os.environ.get(name.upper()) or shutil.which(name)
    if not exe or not os.access(exe, os.X_OK):
        fail(f'{name} not found: scripts/install-deps --test installs '
             f'Debian\'s prometheus package')
    return exe


def metrics_port(node):
    return int(node.wait_log(
        r'PROM: Prometheus metrics on http://127\.0\.0\.1:(\d+)/metrics',
        since=getattr(node, '_start_mark', 0)).group(1))


def scrape(port, path='/metrics'):
    with urllib.request.urlopen(f'http://127.0.0.1:{port}{path}',
                                timeout=10) as r:
        ctype = r.headers.get('Content-Type', '')
        return r.status, ctype, r.read().decode()


SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$')


def parse(text):
    """{(name, frozenset(labels)): value} and the set of TYPE'd families."""
    samples, families = {}, set()
    for line in text.splitlines():
        if line.startswith('# TYPE '):
            families.add(line.split()[2])
            continue
        if not line or line.startswith('#'):
            continue
        m = SAMPLE.match(line)
        if not m:
            fail(f'unparsable metrics line: {line!r}')
        labels = frozenset(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"',
                                      m.group(2) or ''))
        samples[(m.group(1), labels)] = float(m.group(3))
    return samples, families


def value(samples, name, **labels):
    key = (name, frozenset(labels.items()))
    if key not in samples:
        fail(f'no sample {name}{labels}')
    return samples[key]


def promtool_check_metrics(text):
    p = subprocess.run([tool('promtool'), 'check', 'metrics'],
                       input=text, capture_output=True, text=True,
                       timeout=60)
    if p.returncode != 0 or p.stdout.strip() or p.stderr.strip():
        fail(f'promtool check metrics: rc {p.returncode}\n{p.stdout}'
             f'{p.stderr}')


def documented_metrics():
    """Every metric family named in a table row of docs/operations.md
    ("| `coldnode_...` |"): each must appear on a scrape."""
    path = os.environ.get('DOCS_OPERATIONS')
    if not path or not os.path.exists(path):
        fail('DOCS_OPERATIONS is not set to docs/operations.md')
    names = []
    with open(path) as f:
        for line in f:
            m = re.match(r'^\| `(coldnode_[a-z0-9_]+)`', line)
            if m:
                names.append(m.group(1))
    if len(names) < 30:
        fail(f'docs/operations.md lists only {len(names)} metrics')
    return names


class Prometheus:
    """A real Prometheus server scraping @targets every second."""

    def __init__(self, tmp, targets, rules=None):
        """@rules: a rule file to load (alerts then show in ALERTS)."""
        self.dir = os.path.join(tmp, 'prometheus')
        os.makedirs(self.dir, exist_ok=True)
        self.port = free_port()
        cfg = os.path.join(self.dir, 'prometheus.yml')
        with open(cfg, 'w') as f:
            f.write('global:\n  scrape_interval: 1s\n'
                    '  evaluation_interval: 1s\n'
                    'scrape_configs:\n  - job_name: coldnode\n'
                    '    scrape_timeout: 1s\n'
                    '    static_configs:\n      - targets: ['
                    + ', '.join(f"'127.0.0.1:{p}'" for p in targets)
                    + ']\n')
            if rules:
                f.write(f"rule_files:\n  - '{rules}'\n")
        self.logpath = os.path.join(self.dir, 'prometheus.log')
        self.logfile = open(self.logpath, 'ab')
        self.proc = subprocess.Popen(
            [tool('prometheus'), f'--config.file={cfg}',
             f'--storage.tsdb.path={os.path.join(self.dir, "data")}',
             f'--web.listen-address=127.0.0.1:{self.port}',
             '--log.level=warn'],
            stdout=self.logfile, stderr=subprocess.STDOUT)
        self.wait_ready()

    def log(self):
        with open(self.logpath, errors='replace') as f:
            return f.read()

    def wait_ready(self, timeout=60):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                fail('prometheus exited:\n' + self.log()[-3000:])
            try:
                with urllib.request.urlopen(
                        f'http://127.0.0.1:{self.port}/-/ready',
                        timeout=5) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        fail('prometheus not ready:\n' + self.log()[-3000:])

    def query(self, expr):
        """Instant query: [(labels, value)]."""
        url = (f'http://127.0.0.1:{self.port}/api/v1/query?' +
               urllib.parse.urlencode({'query': expr}))
        with urllib.request.urlopen(url, timeout=10) as r:
            body = json.load(r)
        if body.get('status') != 'success':
            fail(f'prometheus query {expr}: {body}')
        return [(res['metric'], float(res['value'][1]))
                for res in body['data']['result']]

    def wait_value(self, expr, want, timeout=DEFAULT_TIMEOUT * 2):
        """Until the query has exactly one result equal to @want."""
        end = time.monotonic() + timeout
        got = None
        while time.monotonic() < end:
            got = self.query(expr)
            if len(got) == 1 and got[0][1] == want:
                return
            time.sleep(0.25)
        fail(f'prometheus: {expr} = {got}, want {want} within {timeout}s\n'
             + self.log()[-2000:])

    def stop(self):
        if self.proc:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None
            self.logfile.close()
