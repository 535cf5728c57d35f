"""The example alert rules (contrib/prometheus/coldnode-rules.yml) pass
`promtool check rules`, fire on the series they are meant for
(`promtool test rules` with rules_test.yml), and use only metrics that
docs/operations.md documents (a table row)."""
import os
import re
import subprocess
import tempfile

from harness import run, fail
from promlib import documented_metrics, tool

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
RULES = os.path.join(ROOT, 'contrib', 'prometheus', 'coldnode-rules.yml')


def promtool(*args):
    p = subprocess.run([tool('promtool'), *args], capture_output=True,
                       text=True, timeout=120)
    if p.returncode != 0:
        fail(f'promtool {" ".join(args)}: rc {p.returncode}\n{p.stdout}'
             f'{p.stderr}')
    return p.stdout


def main():
    out = promtool('check', 'rules', RULES)
    # Every rule in the file must be one promtool loads.
    with open(RULES) as f:
        n = sum(1 for line in f if line.lstrip().startswith('- alert:'))
    if n < 10 or f'SUCCESS: {n} rules found' not in out:
        fail(f'promtool check rules: {out}')
    with tempfile.TemporaryDirectory() as tmp:
        with open(os.path.join(HERE, 'rules_test.yml')) as f:
            text = f.read().replace('RULES', RULES)
        path = os.path.join(tmp, 'rules_test.yml')
        with open(path, 'w') as f:
            f.write(text)
        promtool('test', 'rules', path)
    with open(RULES) as f:
        used = set(re.findall(r'\b(coldnode_[a-z0-9_]+?)'
                              r'(?:_bucket|_sum|_count)?\b', f.read()))
    known = set(documented_metrics())
    unknown = sorted(used - known)
    if unknown:
        fail(f'rules use metrics docs/operations.md does not list: '
             f'{unknown}')


run(main)
