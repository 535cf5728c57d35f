"""Soak: coldnode (remote signer) under steady load on 127.0.0.1 while its
signer flaps.

  - tools/soakload holds GOSSIP gossip-only and FULL full sessions and
    streams signed gossip (a tools/gengraph graph) at RATE messages/s;
  - tools/soakload_rpc polls GetInfo and GetState at RPC_RATE calls/s with
    the monitor macaroon;
  - coldsigner is killed (SIGKILL) every FLAP_MIN..FLAP_MAX seconds and
    started again SAFE_MIN..SAFE_MAX seconds later, for DURATION seconds.

It reports, and fails unless the first four hold:
  - retained (gossip-only) sessions lost: must be 0;
  - full sessions closed per signer loss: must be all (none left in
    SAFE_MODE; the supervisor's "closed N full" line gives N);
  - RPC calls failed: must be 0;
  - gossip messages accepted (GetState before a clean stop) vs stored
    after restart: must be equal;
  - peak memory (VmHWM) and whether RSS grew from the second quarter of
    the run to the last (more than 10%).

With --kills K it then goes on with crash safety on the same run: the
stream resumes and coldnode is killed with SIGKILL K times at random
points (0.5-5 s apart) and restarted; each time the store must pass
PRAGMA integrity_check, keep every count committed before the kill, and
the first GetState (sent as soon as the gRPC server listens) must succeed
and report at least those counts.

Usage: test_soak.py [--duration S] [--gossip N] [--full M] [--rate R]
                    [--rpc-rate R] [--flap MIN MAX] [--kills K]
                    [--report FILE]
A JSON summary goes to stdout (last line) and to --report FILE."""
import json
import os
import random
import re
import signal
import sys
import threading
import time

from harness import Harness, fail, free_port, ln_privkey, ln_pubkey, run
from signer_harness import Signer
from soaklib import (coldctl, committed_counts, make_graph, soakload,
                     soakload_rpc, state_counts, store_integrity, vm_kb)

ARGS = {'duration': 600.0, 'gossip': 500, 'full': 50, 'rate': 300.0,
        'rpc-rate': 100.0, 'flap': (3.0, 6.0), 'safe': (0.5, 2.0),
        'kills': 0, 'report': None, 'seed': None}


def parse_args(argv):
    a = dict(ARGS)
    i = 0
    while i < len(argv):
        k = argv[i].lstrip('-')
        if k in ('flap', 'safe'):
            a[k] = (float(argv[i + 1]), float(argv[i + 2]))
            i += 3
            continue
        if k not in a:
            fail(f'unknown option {argv[i]}')
        v = argv[i + 1]
        a[k] = v if k == 'report' else (int(v) if k in ('gossip', 'full',
                                                        'seed', 'kills')
                                         else float(v))
        i += 2
    return a


class RssSampler(threading.Thread):
    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid = pid
        self.samples = []  # (t, kB)
        self.halt = threading.Event()

    def run(self):
        t0 = time.monotonic()
        while not self.halt.wait(1.0):
            kb = vm_kb(self.pid, 'VmRSS')
            if kb:
                self.samples.append((time.monotonic() - t0, kb))


def wait_state(node, st, timeout=20):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        rc, s, err = coldctl(node, 'state')
        if rc == 0 and s['state'] == st:
            return s
        time.sleep(0.05)
    fail(f'{node.name}: not {st} within {timeout}s\n' + node.tail())


def crash_phase(node, load, rnd, kills):
    """kill -9 and restart @node @kills times while @load streams."""
    floor = committed_counts(node)
    grew, first = 0, []
    load.proc.send_signal(signal.SIGUSR1)  # resume the stream
    for i in range(kills):
        time.sleep(rnd.uniform(0.5, 5.0))
        before = committed_counts(node)
        node.kill()
        if store_integrity(node) != 'ok':
            fail(f'kill {i}: store corrupt after kill -9')
        after = committed_counts(node)
        if any(x < y for x, y in zip(after, before)) or \
           any(x < y for x, y in zip(after, floor)):
            fail(f'kill {i}: committed {before} (highest seen {floor}), '
                 f'after kill -9 {after}')
        grew += after != floor
        floor = after
        t0 = time.monotonic()
        m = node.mark()
        node.start(wait=None)
        node.wait_log(r'RPC: gRPC listening on .*rpc\.sock', since=m)
        rc, st, err = coldctl(node, 'state')
        if rc != 0:
            fail(f'kill {i}: no GetState answer at once after restart: '
                 f'{err}\n' + node.tail())
        first.append((time.monotonic() - t0) * 1000)
        if any(x < y for x, y in zip(state_counts(st), after)):
            fail(f'kill {i}: GetState says {state_counts(st)}, committed '
                 f'{after}')
    if grew < kills // 4:
        fail(f'only {grew} of {kills} kills hit a growing store: the crash '
             'phase is not testing ingestion')
    first.sort()
    return {'crash_kills': kills, 'crash_counts_grew': grew,
            'crash_store_intact': True,
            'crash_first_getstate_ms_median': round(first[len(first) // 2]),
            'crash_first_getstate_ms_max': round(first[-1])}


def main():
    a = parse_args(sys.argv[1:])
    seed = a['seed'] if a['seed'] is not None else random.randrange(1 << 30)
    rnd = random.Random(seed)
    dur = a['duration']
    # Enough distinct messages for the whole run (a channel brings three,
    # its announcement and two updates; a node one).
    channels = max(400, int(a['rate'] * (dur + 3 * a['kills']) / 3.2) + 1)
    nodes = max(100, channels // 4)
    print(f'soak: seed {seed}, {dur:.0f}s, {a["gossip"]}+{a["full"]} '
          f'sessions, {a["rate"]:.0f} gossip/s, {a["rpc-rate"]:.0f} rpc/s',
          flush=True)
    with Harness() as h:
        t_graph = time.monotonic()
        graph, total = make_graph(h.tmp, nodes, channels)
        print(f'soak: graph of {total} messages made in '
              f'{time.monotonic() - t_graph:.1f}s', flush=True)

        key = ln_privkey()
        keyfile = os.path.join(h.tmp, 'signer.key')
        with open(keyfile, 'wb') as f:
            f.write(key)
        os.chmod(keyfile, 0o600)
        node_id = ln_pubkey(key).hex()
        port = free_port()
        # Fixed ports: sessions and the signer redial them after restarts.
        node = h.node('soak', '--signer=remote', '--network=regtest',
                      f'--signer.nodepubkey={node_id}',
                      f'--listen=127.0.0.1:{port}',
                      f'--signerlisten=127.0.0.1:{free_port()}',
                      f'--maxpeers={a["gossip"] + a["full"] + 100}',
                      # Every load session comes from 127.0.0.1: no
                      # per-source cap on handshakes in flight.
                      '--peer.maxpreauthpersource=0')
        node.start()
        signer = Signer(h, 'signer', node, keyfile=keyfile).start()
        wait_state(node, 'ACTIVE')

        load = soakload(h, node_id, port, '--gossip', str(a['gossip']),
                        '--full', str(a['full']), '--graph', graph,
                        '--rate', str(a['rate']))
        load.wait_for(lambda r: r['gossip_ready'] == a['gossip'] and
                      r['full_ready'] == a['full'], 'all sessions ready',
                      timeout=60 + (a['gossip'] + a['full']) / 10)
        rpc = soakload_rpc(h, node, '--rate', str(a['rpc-rate']),
                           '--pollers', '4')
        rss = RssSampler(node.proc.pid)
        rss.start()

        losses = []  # per loss: (full before, closed, full left)
        t_end = time.monotonic() + dur
        while True:
            wait = rnd.uniform(*a['flap'])
            if time.monotonic() + wait > t_end:
                break
            time.sleep(wait)
            rc, before, err = coldctl(node, 'state')
            if rc != 0:
                fail(f'GetState failed: {err}')
            m = node.mark()
            signer.kill()
            node.wait_log(r'SUPV: ACTIVE -> SAFE_MODE', since=m)
            st = wait_state(node, 'SAFE_MODE')
            mm = re.search(r'SUPV: closed (\d+) full', node.log()[m:])
            losses.append((before['peers']['full'],
                           int(mm.group(1)) if mm else 0,
                           st['peers']['full']))
            time.sleep(rnd.uniform(*a['safe']))
            m = node.mark()
            signer.start()
            node.wait_log(r'SUPV: SAFE_MODE -> ACTIVE', since=m, timeout=30)
        time.sleep(max(0.0, t_end - time.monotonic()))

        rss.halt.set()
        rss.join()
        peak_kb = vm_kb(node.proc.pid, 'VmHWM')
        rpc_rep = rpc.stop()
        # Pause the stream (sessions stay up) and take the counters now:
        # the restarts below close every session.
        load.proc.send_signal(signal.SIGUSR1)
        load_rep = load.wait_for(lambda r: r['paused'], 'the stream paused')
        # Let the node finish what it received, then read what it accepted.
        time.sleep(1.0)
        rc, st, err = coldctl(node, 'state')
        if rc != 0:
            fail(f'GetState failed: {err}')
        accepted = state_counts(st)
        node.stop()   # the signer stays up and redials
        committed = committed_counts(node)
        node.start()
        rc, st2, err = coldctl(node, 'state')
        if rc != 0:
            fail(f'GetState after restart failed: {err}')
        stored = state_counts(st2)
        crash = crash_phase(node, load, rnd, a['kills']) if a['kills'] else {}
        load.stop()
        signer.stop()
        node.stop()

        s = [kb for _, kb in rss.samples]
        q = max(1, len(s) // 4)
        second_q = sum(s[q:2 * q]) / max(1, len(s[q:2 * q]))
        last_q = sum(s[-q:]) / q
        summary = {
            'seed': seed,
            'duration_s': dur,
            'sessions_gossip_only': a['gossip'],
            'sessions_full': a['full'],
            'gossip_rate': a['rate'],
            'rpc_rate': a['rpc-rate'],
            'signer_losses': len(losses),
            'retained_sessions_lost': load_rep['gossip_lost'],
            'full_closed_per_loss': [c for _, c, _ in losses],
            'full_before_loss': [b for b, _, _ in losses],
            'full_left_in_safe_mode': sum(l for _, _, l in losses),
            'full_all_closed': all(l == 0 and c >= b for b, c, l in losses),
            'rpc_calls_ok': rpc_rep['ok'],
            'rpc_calls_failed': rpc_rep['failed'],
            'gossip_sent': load_rep['gossip_sent'],
            'gossip_accepted': sum(accepted),
            'gossip_stored_after_restart': sum(stored),
            'gossip_committed_file': sum(committed),
            'peak_rss_kb': peak_kb,
            'rss_second_quarter_kb': round(second_q),
            'rss_last_quarter_kb': round(last_q),
            'rss_grew': last_q > 1.10 * second_q,
        }
        summary.update(crash)
        line = json.dumps(summary)
        print(line)
        if a['report']:
            with open(a['report'], 'w') as f:
                f.write(line + '\n')
        errors = []
        if summary['retained_sessions_lost']:
            errors.append('retained sessions were lost')
        if not losses:
            errors.append('the signer never flapped (run too short)')
        if not summary['full_all_closed']:
            errors.append(f'full sessions survived a signer loss: {losses}')
        if summary['rpc_calls_failed']:
            errors.append('RPC calls failed (see soakload_rpc.err)')
        if accepted != stored or stored != committed:
            errors.append(f'accepted {accepted}, stored after restart '
                          f'{stored}, in the file {committed}')
        if errors:
            fail('; '.join(errors))


run(main)
