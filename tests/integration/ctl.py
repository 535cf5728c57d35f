"""coldctl from integration tests: `coldctl state` (GetState) as parsed
JSON.  Standard library only; meson passes COLDCTL (the coldctl binary)."""
import json
import os
import subprocess

from harness import fail


def rpc_port(node):
    """The node's gRPC port (--rpclisten=127.0.0.1:0), this run's line."""
    return int(node.wait_log(
        r'RPC: gRPC listening on 127\.0\.0\.1:\d+ \(port (\d+)\)',
        since=getattr(node, '_start_mark', 0)).group(1))


def coldctl_state(node):
    """`coldctl state` against @node (monitor macaroon), parsed JSON.
    Meson passes COLDCTL."""
    exe = os.environ.get('COLDCTL')
    if not exe or not os.access(exe, os.X_OK):
        fail('COLDCTL is not set to the coldctl binary')
    p = subprocess.run(
        [exe, f'--datadir={node.datadir}',
         f'--rpcserver=127.0.0.1:{rpc_port(node)}',
         f'--macaroonpath={os.path.join(node.datadir, "monitor.macaroon")}',
         '--timeout=10', 'state'],
        capture_output=True, text=True, timeout=30)
    if p.returncode != 0:
        fail(f'coldctl state: rc {p.returncode}\n{p.stderr}')
    return json.loads(p.stdout)
