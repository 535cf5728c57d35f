"""BOLT 7 funding-output checks against a real node (bcoin regtest), with
real funding transactions (P2WSH 2-of-2, built and signed by bcoin's
library, mined) and real signed channel_announcements on their real
short_channel_ids, sent over BOLT 8 (Electrum's transport):

  a valid channel is stored (checked: verified, capacity watched);
  wrong script, wrong keys, spent, no such output / transaction / block,
  too few confirmations and a wrong chain are each ignored and counted;
  a spend makes the channel forgotten 72 blocks later;
  a reorg that removes a funding block is treated as a spend;
  a channel accepted at 4 confirmations is checked again at 6: kept when
  its output stays, forgotten at once when it was spent in between or its
  funding block was replaced by a reorg (across a restart: the re-check
  list is in chain.sqlite3);
  the Prometheus page (coldnode_chain_* metrics) says what GetState says.
"""
import asyncio
import hashlib
import os
import time

from bcoin import Bcoin, p2pkh_script
from chainlib import chain_state, wait_chain
from ctl import coldctl_state
from harness import (CHAIN, Harness, fail, ln_privkey, ln_pubkey, ln_session,
                     run)
from promlib import metrics_port, parse, scrape


def h256d(b):
    return hashlib.sha256(hashlib.sha256(b).digest()).digest()


def sign(priv, h):
    from electrum import ecc
    return ecc.ECPrivkey(priv).sign(h)


class Chan:
    """Four keys of a channel: two nodes, two funding keys."""

    def __init__(self):
        ks = [ln_privkey() for _ in range(4)]
        n = sorted([(ln_pubkey(ks[0]), ks[0], ks[2]),
                    (ln_pubkey(ks[1]), ks[1], ks[3])])
        (self.node1, self.npriv1, self.bpriv1), \
            (self.node2, self.npriv2, self.bpriv2) = n
        self.btc1, self.btc2 = ln_pubkey(self.bpriv1), ln_pubkey(self.bpriv2)

    def announcement(self, scid, chain=CHAIN['regtest'], btc=None):
        """channel_announcement (type 256) signed by all four keys;
        btc: (key1, key2) announced instead of the funding keys."""
        b1, b2 = btc or (self.btc1, self.btc2)
        body = (b'\x00\x00' + chain + scid.to_bytes(8, 'big') +
                self.node1 + self.node2 + b1 + b2)
        h = h256d(body)
        sigs = (sign(self.npriv1, h) + sign(self.npriv2, h) +
                sign(self.bpriv1, h) + sign(self.bpriv2, h))
        return (256).to_bytes(2, 'big') + sigs + body


async def send_all(port, node_id, msgs):
    t, r, _ = await ln_session('127.0.0.1', port, node_id, CHAIN['regtest'])
    for m in msgs:
        t.send_bytes(m)
    # A ping round trip: everything before it was read.
    from harness import msg_ping
    t.send_bytes(msg_ping(4))
    await r.expect(19)
    t.close()


def gossip_channels(n):
    return int(coldctl_state(n)['gossip']['channels'])


def wait_checks(n, want, timeout=60):
    def ok(st):
        return all(int(st['checks'][k]) >= v for k, v in want.items())
    return wait_chain(n, ok, f'checks {want}', timeout=timeout)


def metrics_agree(n, timeout=30):
    """coldnode_chain_* on the metrics page equal GetState's chain section
    (funding checks by result, watch set, spends, forgotten, reorgs).  The
    two are read one after the other, so retried until they agree."""
    port = metrics_port(n)
    names = {'coldnode_chain_watched_outpoints': 'watched',
             'coldnode_chain_channels_spent_total': 'spent',
             'coldnode_chain_channels_forgotten_total': 'forgotten',
             'coldnode_chain_funding_checks_queued': 'checks_queued',
             'coldnode_chain_reorgs_total': 'reorgs',
             'coldnode_chain_blocks_connected_total': 'blocks_connected',
             'coldnode_chain_tip_height': 'height',
             'coldnode_chain_funding_rechecks_pending': 'rechecks_pending'}
    deadline = time.monotonic() + timeout
    while True:
        samples, _ = parse(scrape(port)[2])
        st = chain_state(n)
        page = {k: samples.get(('coldnode_chain_funding_checks_total',
                                frozenset({('result', k)})))
                for k in st['checks']}
        page.update({'re-' + k: samples.get(
            ('coldnode_chain_funding_rechecks_total',
             frozenset({('result', k)}))) for k in st['rechecks']})
        page.update({v: samples.get((k, frozenset()))
                     for k, v in names.items()})
        want = {k: int(v) for k, v in st['checks'].items()}
        want.update({'re-' + k: int(v) for k, v in st['rechecks'].items()})
        want.update({v: int(st[v]) for v in names.values()})
        if page == want:
            return
        if time.monotonic() > deadline:
            fail(f'metrics page {page} != GetState {want}')
        time.sleep(0.2)


def main():
    with Harness() as h, Bcoin(log=os.path.join(h.tmp, 'bcoin.log')) as b:
        b.activate_segwit()        # P2WSH spends need it (height 432)
        n = h.node('a', '--signer=local', '--network=regtest',
                   '--listen=127.0.0.1:0',
                   '--bitcoind.blockpollinginterval=200ms',
                   '--prometheus.listen=127.0.0.1:0',
                   *b.coldnode_args())
        n.start()
        port, nid = n.p2p_port(), n.node_id()
        wait_chain(n, lambda s: s['status'] == 'synced', 'synced')

        good, spent, wrongkeys, shallow, reorged = (Chan() for _ in range(5))
        fg = b.fund_2of2(good.btc1.hex(), good.btc2.hex(), 250000,
                         keys=[good.bpriv1, good.bpriv2])
        fs = b.fund_2of2(spent.btc1.hex(), spent.btc2.hex(), 100000,
                         keys=[spent.bpriv1, spent.bpriv2])
        other = Chan()
        fw = b.fund_2of2(other.btc1.hex(), other.btc2.hex(), 100000)
        notp2wsh = Chan()
        fp = b.fund(p2pkh_script(notp2wsh.btc1.hex()), 100000)
        fr = b.fund_2of2(reorged.btc1.hex(), reorged.btc2.hex(), 100000,
                         keys=[reorged.bpriv1, reorged.bpriv2])
        b.spend(fs)                # spent before it is announced
        b.mine(6)
        fsh = b.fund_2of2(shallow.btc1.hex(), shallow.btc2.hex(), 100000)
        b.mine(1)                  # 2 confirmations only
        wait_chain(n, lambda s: s['height'] == b.height() and
                   s['status'] == 'synced', 'tip')

        missing = Chan()
        wrongchain = Chan()
        msgs = [
            good.announcement(fg.scid_int),
            spent.announcement(fs.scid_int),
            wrongkeys.announcement(fw.scid_int),      # not its keys
            notp2wsh.announcement(fp.scid_int),
            shallow.announcement(fsh.scid_int),
            reorged.announcement(fr.scid_int),
            missing.announcement((fg.height << 40) | (fg.txindex << 16) | 7),
            missing.announcement((fg.height << 40) | (50 << 16)),
            missing.announcement(((b.height() + 1000) << 40) | (1 << 16)),
            wrongchain.announcement(fg.scid_int + 1, chain=CHAIN['mainnet']),
        ]
        asyncio.run(send_all(port, nid, msgs))
        st = wait_checks(n, {'ok': 2, 'spent': 1, 'wrong_keys': 1,
                             'not_p2wsh': 1, 'unconfirmed': 1,
                             'no_output': 1, 'no_tx': 1, 'no_block': 1})
        if int(st['checks']['ok']) != 2 or int(st['watched']) != 2:
            fail(f'exactly the good and the reorged channel pass: {st}')
        if gossip_channels(n) != 2:
            fail(f'gossip stores {gossip_channels(n)} channels, want 2')
        if coldctl_state(n)['gossip']['channels_unverified'] not in ('0', 0):
            fail('channels stored unverified with a backend')
        metrics_agree(n)

        # A reorg that removes the reorged channel's funding block (and all
        # after it): its funding output is gone, treated as spent.
        b.rpc('invalidateblock', fr.blockhash)
        b.mine(12)
        st = wait_chain(n, lambda s: int(s['spent']) >= 1 and
                        s['height'] == b.height(), 'reorg seen as spent')
        n.wait_log(r'funding output spent')

        # The reorged channel goes 72 blocks after its funding block left.
        b.mine(max(0, fr.height + 72 - b.height()))
        st = wait_chain(n, lambda s: int(s['forgotten']) == 1,
                        'the reorged channel forgotten')
        if gossip_channels(n) != 1:
            fail(f'{gossip_channels(n)} channels after forgetting one, want 1')

        # The watch set survives a restart (chain.sqlite3): the spend
        # below is seen by a coldnode that did not check the channel.
        n.stop()
        n.start()
        port = int(n.wait_log(r'p2p started: .* listening port (\d+)',
                              since=n._start_mark).group(1))  # new port
        wait_chain(n, lambda s: s['status'] == 'synced' and
                   s['watched'] == 1, 'watch set reloaded')

        # The good channel is spent: still known at 71 blocks after the
        # spend, forgotten at the 72nd (BOLT 7's delay).
        b.spend(fg)
        spent_at = b.height()
        wait_chain(n, lambda s: int(s['spent']) == 1, 'spend seen')
        b.mine(71)
        st = wait_chain(n, lambda s: s['height'] == spent_at + 71, 'tip')
        if int(st['forgotten']) != 0 or gossip_channels(n) != 1:
            fail(f'forgotten before 72 blocks: {st}')
        b.mine(1)
        st = wait_chain(n, lambda s: int(s['forgotten']) == 1,
                        'the spent channel forgotten after 72 blocks')
        if gossip_channels(n) != 0 or int(st['watched']) != 0:
            fail(f'{gossip_channels(n)} channels left after forgetting: {st}')
        n.wait_log(r'forgotten \(spent 72 blocks ago\)')
        metrics_agree(n)
        print('chain section at the end:', st)

        # BOLT 7's "a block or two short" of 6: 4 confirmations pass, 3 do
        # not.
        four, three = Chan(), Chan()
        f4 = b.fund_2of2(four.btc1.hex(), four.btc2.hex(), 120000)
        f3 = b.fund_2of2(three.btc1.hex(), three.btc2.hex(), 120000)
        b.mine(2)
        if b.rpc('gettxout', f4.txid, 0)['confirmations'] != 4 or \
                b.rpc('gettxout', f3.txid, 0)['confirmations'] != 3:
            fail('test setup: wrong confirmation counts')
        wait_chain(n, lambda s: s['height'] == b.height(), 'tip')
        before = chain_state(n)['checks']
        asyncio.run(send_all(port, nid, [four.announcement(f4.scid_int),
                                         three.announcement(f3.scid_int)]))
        st = wait_checks(n, {'ok': before['ok'] + 1,
                             'unconfirmed': before['unconfirmed'] + 1})
        if gossip_channels(n) != 1:
            fail(f'4 confirmations: stored; 3: not. {gossip_channels(n)}')

        # BOLT 7's re-check: a channel accepted at 4 confirmations is
        # checked again when its funding block has 6.  The one above
        # waits for it; its output stays, so it stays.
        st = chain_state(n)
        if int(st['rechecks_pending']) != 1:
            fail(f'the 4-confirmation channel awaits no re-check: {st}')
        rk = st['rechecks']
        b.mine(2)
        st = wait_chain(n, lambda s: int(s['rechecks']['ok']) ==
                        int(rk['ok']) + 1 and
                        int(s['rechecks_pending']) == 0,
                        'the re-check at 6 passed')
        if gossip_channels(n) != 1:
            fail(f'a channel whose output stayed was dropped: {st}')
        metrics_agree(n)

        # Spent before its 6th confirmation: forgotten by the re-check
        # at 6, not 72 blocks after the spend.
        sp = Chan()
        fsp = b.fund_2of2(sp.btc1.hex(), sp.btc2.hex(), 110000,
                          keys=[sp.bpriv1, sp.bpriv2])
        b.mine(3)
        wait_chain(n, lambda s: s['height'] == b.height(), 'tip')
        ok0 = chain_state(n)['checks']['ok']
        asyncio.run(send_all(port, nid, [sp.announcement(fsp.scid_int)]))
        wait_checks(n, {'ok': int(ok0) + 1})
        if gossip_channels(n) != 2 or \
                int(chain_state(n)['rechecks_pending']) != 1:
            fail('the channel at 4 confirmations: stored, re-check due')
        b.spend(fsp)               # in its 5th block
        b.mine(1)                  # its 6th: the re-check
        st = wait_chain(n, lambda s: int(s['rechecks']['spent']) ==
                        int(rk['spent']) + 1, 'the re-check saw the spend')
        if gossip_channels(n) != 1 or int(st['rechecks_pending']) != 0 \
                or int(st['forgotten']) != 1:
            fail(f'the spent channel was not forgotten by its re-check: '
                 f'{gossip_channels(n)} channels, {st}')
        n.wait_log(r'forgotten: its re-check at 6 confirmations says '
                   r'output spent')

        # Its funding block replaced by a reorg (an empty branch, so the
        # transaction is not mined again): forgotten by the re-check.
        # The re-check list survives a restart in between.
        ro = Chan()
        fro = b.fund_2of2(ro.btc1.hex(), ro.btc2.hex(), 115000)
        b.mine(3)
        wait_chain(n, lambda s: s['height'] == b.height(), 'tip')
        ok0 = chain_state(n)['checks']['ok']
        asyncio.run(send_all(port, nid, [ro.announcement(fro.scid_int)]))
        wait_checks(n, {'ok': int(ok0) + 1})
        n.stop()
        n.start()
        port = int(n.wait_log(r'p2p started: .* listening port (\d+)',
                              since=n._start_mark).group(1))
        wait_chain(n, lambda s: s['status'] == 'synced' and
                   int(s['rechecks_pending']) == 1,
                   're-check list reloaded')
        if gossip_channels(n) != 2:
            fail('the channel at 4 confirmations is not stored')
        b.empty_branch(fro.blockhash, 6)   # the new block at its height: empty
        st = wait_chain(n, lambda s: int(s['rechecks']['no_tx']) >= 1 and
                        s['height'] == b.height(),
                        'the re-check after the reorg')
        if gossip_channels(n) != 1 or int(st['rechecks_pending']) != 0:
            fail(f'the reorged-out channel was not forgotten by its '
                 f're-check: {gossip_channels(n)} channels, {st}')
        if b.height() >= fro.height + 72:
            fail('test setup: the 72-block forget would have run')
        metrics_agree(n)

        # Backend lost: a new announcement waits (queued, not stored), and
        # is checked once the node is back with its chain.
        late = Chan()
        fl = b.fund_2of2(late.btc1.hex(), late.btc2.hex(), 130000)
        b.mine(5)
        wait_chain(n, lambda s: s['height'] == b.height(), 'tip')
        raws = [b.rpc('getblock', b.rpc('getblockhash', i), 0)
                for i in range(1, b.height() + 1)]
        ok_before = chain_state(n)['checks']['ok']
        b.kill()
        wait_chain(n, lambda s: s['status'] == 'lost', 'lost')
        asyncio.run(send_all(port, nid, [late.announcement(fl.scid_int)]))
        st = wait_chain(n, lambda s: s['checks_queued'] == 1,
                        'the check waiting')
        if gossip_channels(n) != 1:
            fail('an announcement was stored while its check waits')
        b.start(port=b.port)
        for r in raws:
            b.rpc('submitblock', r)
        wait_checks(n, {'ok': ok_before + 1}, timeout=90)
        if gossip_channels(n) != 2 or chain_state(n)['checks_queued'] != 0:
            fail('the waiting check did not complete after the node came '
                 'back')

        # Channels stored unverified before a backend was configured are
        # checked in the background once the chain is synced.
        ok2, bad2 = Chan(), Chan()
        f2 = b.fund_2of2(ok2.btc1.hex(), ok2.btc2.hex(), 300000)
        fb2 = b.fund_2of2(Chan().btc1.hex(), Chan().btc2.hex(), 300000)
        b.mine(6)
        u = h.node('u', '--signer=local', '--network=regtest',
                   '--listen=127.0.0.1:0',
                   '--bitcoind.blockpollinginterval=200ms')
        u.start()
        asyncio.run(send_all(u.p2p_port(), u.node_id(),
                             [ok2.announcement(f2.scid_int),
                              bad2.announcement(fb2.scid_int)]))
        g = coldctl_state(u)['gossip']
        if int(g['channels_unverified']) != 2:
            fail(f'without a backend both are stored unverified: {g}')
        u.stop()
        u.args += b.coldnode_args()
        u.start()
        u.wait_log(r'background check of channels stored unverified done: '
                   r'2 checked', timeout=60)
        g = coldctl_state(u)['gossip']
        if int(g['channels_unverified']) != 0 or int(g['channels']) != 1:
            fail(f'after the background check: {g}')
        st = chain_state(u)
        if st['checks']['ok'] != 1 or st['checks']['wrong_keys'] != 1:
            fail(f'background check results: {st["checks"]}')


if __name__ == '__main__':
    run(main)
