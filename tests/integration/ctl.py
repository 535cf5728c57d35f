"""coldctl from integration tests: `coldctl state` (GetState) as parsed,
strictly checked JSON.  Standard library only; meson passes COLDCTL (the coldctl binary)."""
import json
import os
import subprocess

from harness import fail


def rpc_port(node):
    """The node's gRPC port (--rpclisten=127.0.0.1:0), this run's line."""
    return int(node.wait_log(
        r'RPC: gRPC listening on 127\.0\.0\.1:\d+ \(port (\d+)\)',
        since=getattr(node, '_start_mark', 0)).group(1))


# Sections coldctl state always prints (coldctl.c cmd_state), whatever the
# node runs with: chain (backend "none" without one), wallet (source
# "empty" without coins), dials and listeners (flood counters).
STATE_SECTIONS = {'state': str, 'since_unix': str, 'last_cause': str,
                  'signer': dict, 'peers': dict, 'gossip': dict,
                  'wallet': dict, 'chain': dict, 'counters': dict,
                  'dials': dict, 'listeners': list,
                  'signers': list}


def _no_dup_keys(pairs):
    keys = [k for k, _ in pairs]
    dups = sorted({k for k in keys if keys.count(k) > 1})
    if dups:
        fail(f'coldctl state: duplicate keys {dups}')
    return dict(pairs)


def _not_json(name):
    fail(f'coldctl state: {name} is not JSON')


def parse_state_json(out):
    """coldctl's hand-printed JSON, strictly: UTF-8, RFC 8259 (no NaN or
    Infinity, no raw control characters, no duplicate keys), every
    section present with its type.  Every test that calls coldctl_state
    checks this: no backend (metrics-prometheus), a backend (chain-*),
    a wallet with accounts (wallet-bcoin), flood counters (flood),
    early dials (signer-overlap)."""
    try:
        text = out.decode('utf-8')
    except UnicodeDecodeError as e:
        fail(f'coldctl state: not UTF-8: {e}')
    try:
        st = json.loads(text, object_pairs_hook=_no_dup_keys,
                        parse_constant=_not_json)
    except json.JSONDecodeError as e:
        fail(f'coldctl state: invalid JSON: {e}\n{text}')
    if not isinstance(st, dict):
        fail(f'coldctl state: not an object: {text}')
    for k, t in STATE_SECTIONS.items():
        if not isinstance(st.get(k), t):
            fail(f'coldctl state: "{k}" missing or not {t.__name__}: '
                 f'{text}')
    for entry in st['signers']:
        if not isinstance(entry, dict) or entry.get('role') not in (
                'active', 'standby', 'checking'):
            fail(f'coldctl state: bad signers entry {entry!r}')
    for entry in st['listeners']:
        if not isinstance(entry, dict) or not isinstance(
                entry.get('name'), str):
            fail(f'coldctl state: bad listeners entry {entry!r}')
    return st


def coldctl_state(node):
    """`coldctl state` against @node (monitor macaroon), parsed JSON
    (strictly: parse_state_json).  Meson passes COLDCTL."""
    exe = os.environ.get('COLDCTL')
    if not exe or not os.access(exe, os.X_OK):
        fail('COLDCTL is not set to the coldctl binary')
    p = subprocess.run(
        [exe, f'--datadir={node.datadir}',
         f'--rpcserver=127.0.0.1:{rpc_port(node)}',
         f'--macaroonpath={os.path.join(node.datadir, "monitor.macaroon")}',
         '--timeout=10', 'state'],
        capture_output=True, timeout=30)
    if p.returncode != 0:
        fail(f'coldctl state: rc {p.returncode}\n'
             f'{p.stderr.decode(errors="replace")}')
    return parse_state_json(p.stdout)
