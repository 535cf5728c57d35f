"""Connection floods against each listener of a real coldnode (issue #13).

tools/flood keeps N idle connections (TLS done, or bare TCP) from one
source (127.0.0.2) or 50 sources (127.0.0.2..51) and reopens each one as
soon as coldnode closes it.  The legitimate party connects from 127.0.0.1
(a source that does not flood) or the unix socket.  N is 4x the listener's
pre-auth budget.

  signer    the signer (killed, flood started, signer restarted) brings the
            node to ACTIVE within 5 s
  rpc       GetInfo over the unix socket: every time; over TCP: >= 95%
  p2p       an @node-dlc/noise peer completes handshake, init and
            ping/pong within 5 s; a gossip-only and a full peer connected
            before the flood answer pings after it (never dropped)
  safemode  the signer gone: rpc as above, the gossip-only peer kept, and
            the node stays in SAFE_MODE (nothing else changes)
  watch     issue 22 item 1: grpc.health.v1.Health/Watch without a
            macaroon, 100 streams each sending a 4,000,000-byte `service`,
            on one connection, then on 32 (one source's pre-auth cap):
            every call RESOURCE_EXHAUSTED or reset, none served, coldnode's
            peak RSS (VmHWM) grows by less than WATCH_RSS_BOUND_MB, an
            authenticated monitor (coldctl getinfo) is answered and the
            signer stays ACTIVE
  hpack     issue 22 item 2: 32 connections each sending request headers
            made of 1-byte HPACK references to one 4,000-byte `macaroon`
            value, with the signer pinged every second and a 1 s request
            timeout: the signer stays ACTIVE, the monitor is answered, RSS
            stays under its bound; prints the loop's longest iteration
            (coldnode_loop_busy_max_seconds, docs/benchmarks.md)
  ecdh      (issue 22) the signer behind a 200 ms RTT link (tools/latproxy)
            while 50 sources send BOLT 8 act ones as fast as the node
            answers them (each one a request to the signer): the signer
            is never lost, the state stays ACTIVE, and an authenticated
            monitor (coldctl state) is answered throughout

Each part also reads GetState's per-listener counters (field 9) and checks
the flood was refused (one source) or evicted (50 sources).  The 5 s
bounds are the issue's requirement, not a measurement.

Usage: test_flood.py signer|rpc|p2p|safemode|ecdh  (meson passes
COLDNODE, COLDSIGNER, COLDCTL, FLOOD, LATPROXY, NODE, NOISE_PEER,
NODE_PATH)."""
import asyncio
import json
import os
import subprocess
import sys
import threading
import time

from harness import (CHAIN, Harness, LNReader, fail, free_port, ln_connect,
                     ln_privkey, ln_pubkey, msg_init, msg_ping, run)
from ctl import coldctl_state, rpc_port
from signer_harness import Signer, signer_port

SIGNER_PREAUTH = 64     # --signer.maxpreauth default
RPC_PREAUTH = 128       # --rpc.maxpreauth default
P2P_PREAUTH = 200       # --maxpendinghandshakes default
SOURCES = (1, 50)
FLOOD_SECONDS = 60      # upper bound; each flood is stopped when done
PROCS = []              # floods and signers, killed at the end whatever happens


class Flood:
    """One tools/flood process; its JSON lines are kept in .last."""

    def __init__(self, target, conns, sources, tls, extra=(), act1=None):
        cmd = [os.environ['FLOOD'], '--target', target, '--conns',
               str(conns), '--sources', str(sources), '--duration',
               str(FLOOD_SECONDS), '--interval', '0.25']
        if tls:
            cmd.append('--tls')
        cmd += list(extra)
        if act1:
            cmd += ['--act1', act1]
        self.conns = conns
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        PROCS.append(self.proc)
        self.last = {}
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()

    def _read(self):
        for line in self.proc.stdout:
            try:
                self.last = json.loads(line)
            except ValueError:
                pass

    def wait_pressure(self, timeout=30):
        """Until every connection was opened once and the node has closed
        some (refused or evicted): the flood is on."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            s = self.last
            if (s.get('connects', 0) >= self.conns and s.get('closed', 0) > 0
                    and s.get('t', 0) >= 1.0):
                return s
            time.sleep(0.05)
        fail(f'flood never got going: {self.last}')

    def stop(self):
        self.proc.terminate()
        self.proc.wait(15)
        self.t.join(5)
        return self.last


def listener(node, name):
    for entry in coldctl_state(node)['listeners']:
        if entry['name'] == name:
            return entry
    fail(f'GetState has no listener {name}')


def check_pressure(node, name, sources, before):
    """The flood was refused (one source, over its cap) or evicted (many
    sources, budget full) on @name since @before."""
    now = listener(node, name)
    key = 'refused_source' if sources == 1 else 'evicted'
    if int(now[key]) <= int(before[key]):
        fail(f'{name}: no {key} under a {sources}-source flood: {now}')
    print(f'  {name} listener: {now}')
    return now


def coldctl(node, target, what='getinfo'):
    p = subprocess.run(
        [os.environ['COLDCTL'], f'--datadir={node.datadir}',
         f'--rpcserver={target}',
         f'--macaroonpath={os.path.join(node.datadir, "monitor.macaroon")}',
         '--timeout=10', what],
        capture_output=True, text=True, timeout=30)
    return p.returncode == 0


def new_node(h, name, *extra):
    key = ln_privkey()
    keyfile = os.path.join(h.tmp, name + '-signer.key')
    with open(keyfile, 'wb') as f:
        f.write(key)
    os.chmod(keyfile, 0o600)
    full_key = ln_privkey()
    node = h.node(name, '--signer=remote', '--network=regtest',
                  f'--signer.nodepubkey={ln_pubkey(key).hex()}',
                  f'--fullpeer={ln_pubkey(full_key).hex()}',
                  '--pinginterval=1h', *extra).start()
    node.nid = ln_pubkey(key).hex()
    node.keyfile = keyfile
    node.full_key = full_key
    return node


def signer(h, node, name, **kw):
    s = Signer(h, name, node, keyfile=node.keyfile, **kw).start()
    PROCS.append(s.proc)
    return s


def start_signer(h, node, name):
    m = node.mark()
    s = signer(h, node, name)
    node.wait_log(r'-> ACTIVE', since=m, timeout=30)
    return s


# ---- parts -----------------------------------------------------------------

def part_signer(h):
    node = new_node(h, 'fl-signer')
    sport = signer_port(node)
    # coldsigner retries a failed connect soon (0.1 s doubling to 2 s), not
    # on its registration backoff (1 s x1.5 to 60 s).
    s = signer(h, node, 'signer-nothere', target=f'127.0.0.1:{free_port()}')
    s.wait_log(r'redialling in 0\.1 s')
    s.wait_log(r'redialling in 0\.2 s')
    s.wait_log(r'redialling in 0\.4 s')
    s.stop()
    for sources in SOURCES:
        before = listener(node, 'signer')
        fl = Flood(f'127.0.0.1:{sport}', 4 * SIGNER_PREAUTH, sources, True)
        fl.wait_pressure()
        m = node.mark()
        t0 = time.monotonic()
        s = signer(h, node, f'signer-{sources}')
        node.wait_log(r'-> ACTIVE', since=m, timeout=30)
        took = time.monotonic() - t0
        # The registered signer is authenticated: the flood going on
        # never evicts it.
        time.sleep(1.5)
        stats = fl.stop()
        if node.count_log(r'-> SAFE_MODE', since=m):
            fail(f'{sources} source(s): the flood evicted the signer')
        print(f'{sources} source(s): signer in, node ACTIVE after '
              f'{took:.2f}s; flood {stats}')
        if took > 5:
            fail(f'{sources} source(s): ACTIVE after {took:.2f}s (> 5 s)')
        now = check_pressure(node, 'signer', sources, before)
        # Registration accepted: counted as authenticated, not pre-auth.
        if now['authenticated'] != 1:
            fail(f'the registered signer is not counted as authenticated: '
                 f'{now}')
        m = node.mark()
        s.kill()
        node.wait_log(r'-> SAFE_MODE', since=m)
    node.stop()


def rpc_under_flood(node, sources, unix_n=10, tcp_n=20):
    port = rpc_port(node)
    before = listener(node, 'rpc')
    fl = Flood(f'127.0.0.1:{port}', 4 * RPC_PREAUTH, sources, True)
    fl.wait_pressure()
    sock = os.path.join(node.datadir, 'rpc.sock')
    unix_ok = sum(coldctl(node, 'unix:' + sock) for _ in range(unix_n))
    tcp_ok = sum(coldctl(node, f'127.0.0.1:{port}') for _ in range(tcp_n))
    stats = fl.stop()
    print(f'{sources} source(s): GetInfo unix {unix_ok}/{unix_n}, '
          f'TCP {tcp_ok}/{tcp_n}; flood {stats}')
    if unix_ok != unix_n:
        fail(f'{sources} source(s): GetInfo over the unix socket failed '
             f'{unix_n - unix_ok} of {unix_n}')
    if tcp_ok < 0.95 * tcp_n:
        fail(f'{sources} source(s): GetInfo over TCP {tcp_ok}/{tcp_n} '
             '(< 95%)')
    check_pressure(node, 'rpc', sources, before)


def part_rpc(h):
    node = new_node(h, 'fl-rpc')
    s = start_signer(h, node, 'signer-rpc')
    for sources in SOURCES:
        rpc_under_flood(node, sources)
    s.stop()
    node.stop()


async def pong_ok(t, r, n=9):
    t.send_bytes(msg_ping(n))
    m = await r.expect(19, timeout=15)
    if int.from_bytes(m[2:4], 'big') != n:
        fail('wrong pong length')


async def session(node, priv=None):
    t = await ln_connect('127.0.0.1', node.p2p_port(), node.nid, priv)
    r = LNReader(t)
    t.send_bytes(msg_init(CHAIN['regtest']))
    await r.expect(16)
    await pong_ok(t, r)
    return t, r


async def noise_peer(node):
    """@node-dlc/noise client: handshake, init, ping/pong; seconds taken."""
    t0 = time.monotonic()
    p = await asyncio.create_subprocess_exec(
        os.environ['NODE'], os.environ['NOISE_PEER'], 'client', '127.0.0.1',
        str(node.p2p_port()), node.nid, CHAIN['regtest'].hex(),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(p.communicate(), 60)
    took = time.monotonic() - t0
    if p.returncode != 0 or b'OK client' not in out:
        fail(f'noise peer failed (rc {p.returncode}): {out.decode()}')
    return took


async def p2p_under_flood(node, sources, kept, new_peer=True):
    before = listener(node, 'p2p')
    fl = Flood(f'127.0.0.1:{node.p2p_port()}', 4 * P2P_PREAUTH, sources,
               False)
    await asyncio.get_running_loop().run_in_executor(None, fl.wait_pressure)
    took = await noise_peer(node) if new_peer else None
    # The sessions from before the flood still answer.
    for what, (t, r) in kept.items():
        await pong_ok(t, r)
    stats = fl.stop()
    print(f'{sources} source(s): noise peer '
          f'{"in %.2fs" % took if took is not None else "not tried"}; '
          f'{", ".join(kept)} kept; flood {stats}')
    if took is not None and took > 5:
        fail(f'{sources} source(s): noise peer took {took:.2f}s (> 5 s)')
    check_pressure(node, 'p2p', sources, before)


async def p2p_main(h):
    node = new_node(h, 'fl-p2p')
    s = start_signer(h, node, 'signer-p2p')
    gossip_key = ln_privkey()
    gossip = await session(node, gossip_key)
    full = await session(node, node.full_key)
    st = coldctl_state(node)
    if st['peers'] != {'gossip_only': 1, 'full': 1}:
        fail(f'want one gossip-only and one full peer: {st["peers"]}')
    m = node.mark()
    for sources in SOURCES:
        await p2p_under_flood(node, sources,
                              {'gossip-only': gossip, 'full': full})
    for key in (gossip_key, node.full_key):
        if node.count_log(r'closed ' + ln_pubkey(key).hex(), since=m):
            fail('a ready peer was closed during the flood:\n' + node.tail())
    for t, _ in (gossip, full):
        t.close()
    s.stop()
    node.stop()


def part_p2p(h):
    asyncio.run(p2p_main(h))


async def safemode_main(h):
    node = new_node(h, 'fl-safe')
    s = start_signer(h, node, 'signer-safe')
    gossip_key = ln_privkey()
    gossip = await session(node, gossip_key)
    m = node.mark()
    s.kill()
    node.wait_log(r'ACTIVE -> SAFE_MODE', since=m)
    m = node.mark()
    for sources in SOURCES:
        await asyncio.get_running_loop().run_in_executor(
            None, rpc_under_flood, node, sources)
        # New handshakes need the signer's ECDH: only kept peers here.
        await p2p_under_flood(node, sources, {'gossip-only': gossip},
                              new_peer=False)
    st = coldctl_state(node)
    if st['state'] != 'SAFE_MODE' or st['peers']['gossip_only'] != 1:
        fail(f'safe mode changed under the flood: {st["state"]} '
             f'{st["peers"]}')
    if node.count_log(r'closed ' + ln_pubkey(gossip_key).hex(), since=m):
        fail('the gossip-only peer was closed during the flood')
    gossip[0].close()
    node.stop()


def part_safemode(h):
    asyncio.run(safemode_main(h))


# ---- issue 22: what a client without a macaroon can cost ------------------

# Peak RSS growth allowed under the attacks (MiB).  Before the fix one
# connection of the watch attack alone held 100 x 4 MB (about 400 MiB);
# now a refused call holds a few KiB: the bound leaves room for malloc
# arenas, TLS and nghttp2 buffers of the 32 connections, and for
# AddressSanitizer's redzones and quarantine in scripts/test's second pass
# (gcc build: +2.2 MiB; ASan build with the 8 MiB quarantine: +13-18 MiB).
WATCH_RSS_BOUND_MB = 64
HPACK_RSS_BOUND_MB = 64


def small_asan_quarantine():
    """Under AddressSanitizer (scripts/test's second pass) freed memory
    waits in a 256 MiB quarantine by default, which a flood of
    connections fills: RSS would measure the sanitizer.  8 MiB keeps the
    bounds meaningful (the unfixed code grows by hundreds of MiB); the
    variable is ignored by a build without ASan."""
    opts = os.environ.get('ASAN_OPTIONS', '')
    os.environ['ASAN_OPTIONS'] = (opts + ':' if opts else '') + \
        'quarantine_size_mb=8'


def status_kb(node, key):
    with open(f'/proc/{node.proc.pid}/status') as f:
        for line in f:
            if line.startswith(key + ':'):
                return int(line.split()[1])
    fail(f'no {key} in /proc/{node.proc.pid}/status')


def loop_max(mport):
    """coldnode_loop_busy_max_seconds (reset by each scrape)."""
    import urllib.request
    try:
        with urllib.request.urlopen(f'http://127.0.0.1:{mport}/metrics',
                                    timeout=10) as r:
            for line in r.read().decode().splitlines():
                if line.startswith('coldnode_loop_busy_max_seconds '):
                    return float(line.split()[1])
    except OSError as e:
        # Before issue 22's fix the HPACK attack stalled the loop so long
        # that a scrape went unanswered for 10 s.
        fail(f'the metrics endpoint did not answer within 10 s (the loop '
             f'is stalled): {e}')
    fail('no coldnode_loop_busy_max_seconds in /metrics')


def still_serving(node, m, what):
    """The monitor is answered and the signer never left ACTIVE."""
    port = rpc_port(node)
    if not coldctl(node, f'127.0.0.1:{port}'):
        fail(f'{what}: the authenticated monitor was not answered')
    if node.count_log(r'-> SAFE_MODE', since=m):
        fail(f'{what}: the signer was lost:\n' + node.tail())
    st = coldctl_state(node)
    if st['state'] != 'ACTIVE':
        fail(f'{what}: state {st["state"]}, want ACTIVE')


def attack(node, mport, kind, conns, seconds, extra=(), target=None,
           sources=1):
    """Runs one attack on @target (default: the RPC port) for @seconds
    while scraping the loop maximum and checking the monitor; returns
    (flood stats, loop max, VmHWM kB, monitor answers)."""
    port = rpc_port(node)
    fl = Flood(target or f'127.0.0.1:{port}', conns, sources, True,
               ['--attack', kind] + list(extra))
    worst = 0.0
    monitor = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        time.sleep(0.5)
        worst = max(worst, loop_max(mport))
        monitor += coldctl(node, f'127.0.0.1:{port}')
    stats = fl.stop()
    worst = max(worst, loop_max(mport))
    return stats, worst, status_kb(node, 'VmHWM'), monitor


def part_watch(h):
    small_asan_quarantine()
    mport = free_port()
    node = new_node(h, 'fl-watch', f'--prometheus.listen=127.0.0.1:{mport}')
    s = start_signer(h, node, 'signer-watch')
    coldctl(node, f'127.0.0.1:{rpc_port(node)}')
    base = status_kb(node, 'VmHWM')
    m = node.mark()
    before = listener(node, 'rpc')
    # 32: one source's pre-auth cap; 128 (--long): the whole budget.
    sizes = (1, 32, 128) if os.environ.get('FLOOD_LONG') == '1' else (1, 32)
    for conns in sizes:
        stats, worst, hwm, monitor = attack(node, mport, 'watch', conns,
                                            4 if conns < 128 else 10,
                                            sources=max(1, conns // 32))
        grown = (hwm - base) / 1024
        print(f'watch x{conns} connection(s): {stats}; VmHWM +{grown:.1f} '
              f'MiB (bound {WATCH_RSS_BOUND_MB}); loop max {worst * 1e3:.1f} '
              f'ms; monitor answered {monitor} times')
        if grown > WATCH_RSS_BOUND_MB:
            fail(f'watch x{conns}: peak RSS grew {grown:.1f} MiB '
                 f'(> {WATCH_RSS_BOUND_MB})')
        if stats.get('watch_served', 0):
            fail(f'watch x{conns}: {stats["watch_served"]} calls served')
        refused = stats.get('watch_exhausted', 0) + stats.get('watch_reset', 0)
        if refused < 100 * conns:
            fail(f'watch x{conns}: only {refused} calls refused: {stats}')
        if stats.get('watch_other', 0):
            fail(f'watch x{conns}: calls with another status: {stats}')
        still_serving(node, m, f'watch x{conns}')
    now = listener(node, 'rpc')
    got = int(now['unauth_calls_refused']) - int(before['unauth_calls_refused'])
    want = 100 * sum(sizes)
    if got < want:
        fail(f'GetState counts {got} macaroon-less calls refused, want '
             f'{want} or more: {now}')
    s.stop()
    node.stop()


def part_hpack(h):
    small_asan_quarantine()
    mport = free_port()
    node = new_node(h, 'fl-hpack', f'--prometheus.listen=127.0.0.1:{mport}',
                    '--signer.pinginterval=1s', '--signer.requesttimeout=1s')
    s = start_signer(h, node, 'signer-hpack')
    coldctl(node, f'127.0.0.1:{rpc_port(node)}')
    base = status_kb(node, 'VmHWM')
    m = node.mark()
    loop_max(mport)
    before = listener(node, 'rpc')
    stats, worst, hwm, monitor = attack(node, mport, 'hpack', 32, 5)
    grown = (hwm - base) / 1024
    print(f'hpack x32 connections: {stats}; loop max {worst * 1e3:.1f} ms '
          f'(signer ping interval 1000 ms); VmHWM +{grown:.1f} MiB; monitor '
          f'answered {monitor} times')
    if stats.get('hpack_streams', 0) < 32:
        fail(f'the attack did not get going: {stats}')
    if grown > HPACK_RSS_BOUND_MB:
        fail(f'hpack: peak RSS grew {grown:.1f} MiB (> {HPACK_RSS_BOUND_MB})')
    still_serving(node, m, 'hpack')
    now = listener(node, 'rpc')
    if int(now['headers_refused']) <= int(before['headers_refused']):
        fail(f'GetState counts no header lists refused: {now}')
    # The signer port is served by the same core (src/rpc/call.c): the
    # same attack there, within its per-source pre-auth cap (4).
    stats, worst, hwm, monitor = attack(
        node, mport, 'hpack', 4, 3, target=f'127.0.0.1:{signer_port(node)}')
    grown = (hwm - base) / 1024
    print(f'hpack x4 connections on the signer port: {stats}; loop max '
          f'{worst * 1e3:.1f} ms; VmHWM +{grown:.1f} MiB')
    if stats.get('hpack_streams', 0) < 4:
        fail(f'the signer-port attack did not get going: {stats}')
    if grown > HPACK_RSS_BOUND_MB:
        fail(f'hpack: peak RSS grew {grown:.1f} MiB (> {HPACK_RSS_BOUND_MB})')
    still_serving(node, m, 'hpack on the signer port')


ECDH_FLOOD_SECONDS = 6
MOBILE_KBPS = 256


def latproxy(target, delay_ms, kbps):
    """tools/latproxy in front of @target; returns the local port."""
    p = subprocess.Popen([os.environ['LATPROXY'], '--delay-ms',
                          str(delay_ms), '--kbps', str(kbps), target],
                         stdout=subprocess.PIPE, text=True)
    PROCS.append(p)
    port = None
    for line in p.stdout:
        if line.startswith('MAP '):
            port = int(line.split()[1])
        if line.startswith('READY'):
            return port
    fail('latproxy did not start')


def part_ecdh(h):
    # Timeouts of 2 s (lnd's default is 5 s) keep the part to a few
    # seconds: the flood lasts three of them.
    node = new_node(h, 'fl-ecdh', '--signer.requesttimeout=2s',
                    '--signer.pingtimeout=2s', '--signer.pinginterval=500ms')
    # A mobile link: 200 ms RTT, 256 kbit/s each way.
    port = latproxy(f'127.0.0.1:{signer_port(node)}', 100, MOBILE_KBPS)
    m = node.mark()
    s = signer(h, node, 'signer-ecdh', target=f'127.0.0.1:{port}')
    node.wait_log(r'-> ACTIVE', since=m, timeout=30)
    m = node.mark()
    # Each connection sends act one and closes at once: the request stays
    # with the signer, the slot is free for the next act one.
    fl = Flood(f'127.0.0.1:{node.p2p_port()}', P2P_PREAUTH, 50, False,
               act1=node.nid)
    end = time.monotonic() + ECDH_FLOOD_SECONDS
    polls = answered = peak = 0
    states = set()
    while time.monotonic() < end:
        polls += 1
        try:
            st = coldctl_state(node)
            answered += 1
            states.add(st['state'])
            peak = max(peak, int(st['counters']['inbound_ecdh']))
        except Exception as e:  # noqa: BLE001 - counted, reported below
            print(f'  coldctl state failed: {e}')
        time.sleep(0.25)
    stats = fl.stop()
    st = coldctl_state(node)
    c = st['counters']
    dropped = node.count_log(r'inbound handshake dropped at act one',
                             since=m)
    print(f'signer at 200 ms RTT, {MOBILE_KBPS} kbit/s, under a 50-source '
          f'act-one flood for {ECDH_FLOOD_SECONDS}s: state(s) '
          f'{sorted(states)}, monitor answered {answered}/{polls}, ECDH '
          f'requests refused or cancelled {c["requests_failed"]}, '
          f'"dropped at act one" log lines {dropped}, counted '
          f'{c["inbound_ecdh_refused"]}, strangers\' ECDH at once at most '
          f'{peak}; flood {stats}')
    if int(c['requests_failed']) == 0:
        fail('the flood never made coldnode ask the signer: ' + str(c))
    if not dropped:
        fail('no act one was dropped at --signer.maxinboundecdh')
    # GetState's counters (20-21): the log lines are rate-limited, the
    # counter is not; the gauge never passes the budget (16).
    if int(c['inbound_ecdh_refused']) < dropped or peak > 16:
        fail(f'inbound_ecdh_refused {c["inbound_ecdh_refused"]} < '
             f'{dropped} log lines, or inbound_ecdh peaked at {peak} > 16')
    if node.count_log(r'-> SAFE_MODE', since=m) or \
            node.count_log(r'signer .* gone', since=m) or \
            int(c['signer_losses']) or int(c['requests_timed_out']):
        fail('the act-one flood knocked the signer off:\n' + node.tail())
    if states != {'ACTIVE'} or st['state'] != 'ACTIVE':
        fail(f'state left ACTIVE: {states}, now {st["state"]}')
    if answered != polls:
        fail(f'the monitor was answered {answered}/{polls} times')
    s.stop()
    node.stop()


PARTS = {'signer': part_signer, 'rpc': part_rpc, 'p2p': part_p2p,
         'safemode': part_safemode, 'watch': part_watch, 'hpack': part_hpack,
         'ecdh': part_ecdh}


def main():
    if len(sys.argv) != 2 or sys.argv[1] not in PARTS:
        fail('usage: test_flood.py ' + '|'.join(PARTS))
    with Harness() as h:
        try:
            PARTS[sys.argv[1]](h)
        finally:
            for p in PROCS:
                if p.poll() is None:
                    p.kill()
                    p.wait()


run(main)
