"""The chain view and wallet metrics against a real bitcoin node (bcoin
1.0.2, regtest): coldnode with --bitcoin.node=bitcoind, a wallet with
accounts (lnd's `wallet accounts list` for keys from bcoin's HD code) and
--prometheus.listen.

Checked on the scrape (`promtool check metrics` each time): every
documented chain/wallet family; heights equal bcoin's, blocks_behind 0,
status synced, backend_up 1; the wallet balance per state and per account
equal to what WalletBalance says and to what bcoin says the outputs are
worth, first unconfirmed then confirmed; the wallet tip at bcoin's tip; a
reorg (invalidateblock) counted in reorgs_total and
blocks_disconnected_total; bcoin killed: status lost, backend_up 0,
wallet_stale 1, the last balances (those WalletBalance serves) kept,
and a real Prometheus loaded with contrib/prometheus/coldnode-rules.yml
has ColdnodeChainBackendLost pending (not while synced).
No-backend samples are checked in test_prometheus.py (its node has no
chain backend)."""
import json
import os
import time

from bcoin import Bcoin
from ctl import coldctl_state
from harness import Harness, fail, run
from promlib import (Prometheus, documented_metrics, metrics_port, parse,
                     promtool_check_metrics, scrape, value)
from test_wallet_bcoin import (balance, hdtool, lnd_accounts, wait_balance,
                               wait_tip, worth)

CHAIN_FAMILIES = ('coldnode_chain_', 'coldnode_wallet_')
RULES = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..',
                     'contrib', 'prometheus', 'coldnode-rules.yml')
LOST_ALERT = ('ALERTS{alertname="ColdnodeChainBackendLost",'
              'alertstate="pending"}')


def page(port):
    status, _, text = scrape(port)
    if status != 200:
        fail(f'scrape: {status}')
    promtool_check_metrics(text)
    return parse(text)


def wait_page(port, pred, what, timeout=60.0):
    deadline = time.monotonic() + timeout
    samples = None
    while time.monotonic() < deadline:
        samples, _ = page(port)
        if pred(samples):
            return samples
        time.sleep(0.2)
    chain = {k: v for k, v in (samples or {}).items()
             if k[0].startswith(CHAIN_FAMILIES)}
    fail(f'metrics: waited {timeout:.0f} s for {what}; chain/wallet '
         f'samples: {chain}')


def main():
    with Harness() as h, Bcoin(log=os.path.join(h.tmp, 'bcoin.log')) as b:
        b.activate_segwit()  # the wallet's segwit outputs are standard
        hd = hdtool({'cmd': 'accounts', 'n': 2})
        a49, a84, a86 = hd['accounts']
        accounts = os.path.join(h.tmp, 'accounts.json')
        doc = lnd_accounts(hd)
        # A second account name, so the per-account label is exercised
        # (and a name that needs escaping in the text format).
        doc['accounts'][2]['name'] = 'savings "t\\r"'
        with open(accounts, 'w') as f:
            json.dump(doc, f)
        w = h.node('w', '--signer=local', '--network=regtest', '--nolisten',
                   '--bitcoind.blockpollinginterval=200ms',
                   *b.coldnode_args(), f'--wallet.accounts={accounts}',
                   f'--wallet.birthday={b.height() + 1}',
                   '--prometheus.listen=127.0.0.1:0')
        w.start()
        port = metrics_port(w)

        samples, families = page(port)
        want = [n for n in documented_metrics()
                if n.startswith(CHAIN_FAMILIES)]
        if len(want) < 20:
            fail(f'docs/operations.md lists only {len(want)} chain/wallet '
                 f'metrics')
        missing = [n for n in want if n not in families]
        if missing:
            fail(f'chain/wallet metrics documented but not scraped: '
                 f'{missing}')

        # 1. Synced at bcoin's tip.
        tip = b.height()
        samples = wait_page(
            port, lambda s: (
                s.get(('coldnode_chain_tip_height', frozenset())) == tip and
                s.get(('coldnode_chain_backend_status',
                       frozenset({('status', 'synced')}))) == 1),
            'the chain synced at bcoin\'s tip')
        for name, want_v in (('coldnode_chain_node_height', tip),
                             ('coldnode_chain_blocks_behind', 0),
                             ('coldnode_chain_backend_up', 1),
                             ('coldnode_chain_synced_to_chain', 1),
                             ('coldnode_wallet_stale', 0)):
            if value(samples, name) != want_v:
                fail(f'{name} = {value(samples, name)}, want {want_v}')
        for st in ('off', 'connecting', 'syncing', 'lost', 'wrong-network'):
            if value(samples, 'coldnode_chain_backend_status',
                     status=st) != 0:
                fail(f'backend status {st} is not 0 while synced')
        hdr = b.rpc('getblockheader', b.rpc('getbestblockhash'), True)
        if value(samples, 'coldnode_chain_tip_timestamp_seconds') != \
                hdr['time']:
            fail('tip timestamp is not the tip header\'s time')
        if value(samples, 'coldnode_wallet_watched_scripts') < 3 * 2 * 20:
            fail('watched scripts: 3 accounts x 2 branches x gap 20 at '
                 'least')
        if value(samples, 'coldnode_chain_requests_total') < 1:
            fail('chain requests not counted')

        # 2. A payment: unconfirmed, then confirmed, per account.
        outs = [(a84['ext'][0], 200000), (a86['ext'][0], 300000)]
        txid, _ = b.pay_to(outs)
        paid = worth(b, [(txid, 0), (txid, 1)])
        p84 = worth(b, [(txid, 0)])
        wait_balance(w, lambda x: x['unconfirmed_balance'] == paid,
                     'the payment unconfirmed')
        samples = wait_page(
            port, lambda s: s.get(('coldnode_wallet_balance_satoshis',
                                   frozenset({('state', 'unconfirmed')})))
            == paid, 'the unconfirmed balance on the page')
        if value(samples, 'coldnode_wallet_balance_satoshis',
                 state='confirmed') != 0:
            fail('confirmed balance before the payment is mined')
        b.mine(1)
        bal = wait_balance(w, lambda x: x['confirmed_balance'] == paid,
                           'the payment confirmed')
        wait_tip(w, b.height())
        samples = wait_page(
            port, lambda s: s.get(('coldnode_wallet_balance_satoshis',
                                   frozenset({('state', 'confirmed')})))
            == paid, 'the confirmed balance on the page')
        for state in ('unconfirmed', 'locked'):
            if value(samples, 'coldnode_wallet_balance_satoshis',
                     state=state) != 0:
                fail(f'{state} balance not 0 after the payment is mined')
        # Both account names, the second escaped as the text format
        # requires (promlib.parse keeps label values escaped).
        if len(bal['account_balance']) != 2:
            fail(f'two accounts expected: {bal}')
        for acct, v in bal['account_balance'].items():
            esc = (acct.replace('\\', '\\\\').replace('"', '\\"')
                   .replace('\n', '\\n'))
            got = value(samples, 'coldnode_wallet_account_balance_satoshis',
                        account=esc, state='confirmed')
            if got != int(v['confirmed_balance']):
                fail(f'account {acct!r}: page {got}, WalletBalance {v}')
        if int(bal['account_balance']['default']['confirmed_balance']) != \
                p84:
            fail(f'default account: {bal}')
        if value(samples, 'coldnode_wallet_tip_height') != b.height():
            fail('wallet tip height is not bcoin\'s tip')
        if value(samples, 'coldnode_wallet_last_update_seconds') < 0:
            fail('wallet last update in the future')

        # 3. A reorg: invalidate the tip, mine a longer branch.
        before = value(samples, 'coldnode_chain_blocks_connected_total')
        b.rpc('invalidateblock', b.rpc('getbestblockhash'))
        b.mine(2)
        tip = b.height()
        samples = wait_page(
            port, lambda s: (
                s.get(('coldnode_chain_tip_height', frozenset())) == tip and
                s.get(('coldnode_chain_reorgs_total', frozenset())) == 1),
            'the reorg counted')
        if value(samples, 'coldnode_chain_blocks_disconnected_total') < 1:
            fail('disconnected block not counted')
        if value(samples, 'coldnode_chain_blocks_connected_total') < \
                before + 2:
            fail('the new branch\'s blocks not counted')

        # 4. bcoin gone: lost, stale; the page shows the last balances,
        # the same WalletBalance serves (nothing can change them now).
        # A real Prometheus with the example rules loaded puts
        # ColdnodeChainBackendLost in pending (it fires after 10 minutes).
        prom = Prometheus(h.tmp, [port], rules=os.path.abspath(RULES))
        try:
            prom.wait_value('coldnode_chain_backend_status{status="synced"}',
                            1)
            if prom.query(LOST_ALERT):
                fail('ColdnodeChainBackendLost pending while synced')
            b.kill()
            prom.wait_value(LOST_ALERT, 1)
            if prom.query('ALERTS{alertname="ColdnodeChainBehind"}'):
                fail('ColdnodeChainBehind at the tip')
        finally:
            prom.stop()
        samples = wait_page(
            port, lambda s: s.get(('coldnode_chain_backend_status',
                                   frozenset({('status', 'lost')}))) == 1,
            'the backend lost')
        for name, want_v in (('coldnode_chain_backend_up', 0),
                             ('coldnode_wallet_stale', 1)):
            if value(samples, name) != want_v:
                fail(f'{name} = {value(samples, name)} with bcoin gone')
        if value(samples, 'coldnode_chain_backend_losses_total') < 1 or \
                value(samples, 'coldnode_chain_request_errors_total') < 1:
            fail('loss / request errors not counted')
        bal = balance(w)
        for state in ('confirmed', 'unconfirmed'):
            if value(samples, 'coldnode_wallet_balance_satoshis',
                     state=state) != bal[f'{state}_balance']:
                fail(f'{state} balance with bcoin gone: page '
                     f'{value(samples, "coldnode_wallet_balance_satoshis", state=state)}'
                     f', WalletBalance {bal}')
        # coldctl state agrees (and is strict JSON with the node's error
        # text in chain.last_error: ctl.parse_state_json).
        st = coldctl_state(w)
        if (st['chain']['status'] != 'lost' or not st['chain']['last_error']
                or st['wallet']['stale'] is not True
                or st['wallet']['source'] != 'accounts'):
            fail(f'coldctl state with bcoin gone: {st}')
        w.stop()


if __name__ == '__main__':
    run(main)
