// Interop: independent clients against coldnode's gRPC surface.
//  - @grpc/grpc-js + @grpc/proto-loader with lnd's real lightning.proto
//    (wire compatibility) and our coldrpc/health protos, over TLS with the
//    self-signed cert, on TCP and on the unix socket;
//  - the npm `lightning` package (authenticatedLndGrpc, getWalletInfo,
//    getChainBalance) unchanged;
//  - the npm `macaroon` package verifies our macaroons, and we accept
//    macaroons it mints with our root key (and refuse bad ones).
// Every method is called in each supervisor state of the test double.
// Usage: node interop_grpc.js RPC_FAKE_NODE COLDCTL
'use strict';
const crypto = require('crypto');
const {execFileSync} = require('child_process');
const path = require('path');
const L = require('./rpclib');
const {grpc, check} = L;
const macaroon = L.req('macaroon');
const lightning = L.req('lightning');

const [fakeExe, coldctl] = process.argv.slice(2);

const lnrpc = L.load(L.LND_PROTO).lnrpc;
const coldrpc = L.load(path.join(L.PROTO_DIR, 'coldrpc.proto')).coldrpc;
const health = L.load(path.join(L.PROTO_DIR, 'health.proto')).grpc.health.v1;

const TXA = '0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9';

// protobuf varint-length field
function pbField(tag, bytes) {
  const len = [];
  let n = bytes.length;
  while (n >= 0x80) { len.push((n & 0x7f) | 0x80); n >>>= 7; }
  len.push(n);
  return Buffer.concat([Buffer.from([tag]), Buffer.from(len), bytes]);
}
// lnd identifier: 0x03 + MacaroonId{nonce, storageId "0", ops}
function lndId(ops) {
  const parts = [pbField(0x0a, crypto.randomBytes(16)), pbField(0x12, Buffer.from('0'))];
  for (const [entity, actions] of ops) {
    let op = pbField(0x0a, Buffer.from(entity));
    for (const a of actions) op = Buffer.concat([op, pbField(0x12, Buffer.from(a))]);
    parts.push(pbField(0x1a, op));
  }
  return Buffer.concat([Buffer.from([3]), ...parts]);
}
function mint(rootKey, ops, caveats = []) {
  const m = macaroon.newMacaroon({identifier: lndId(ops), location: 'lnd', rootKey});
  for (const c of caveats) m.addFirstPartyCaveat(c);
  return Buffer.from(m.exportBinary()).toString('hex');
}

async function main() {
  const node = await new L.FakeNode(fakeExe).start();
  const mon = node.macHex('monitor.macaroon');
  const admin = node.macHex('admin.macaroon');
  const ro = node.macHex('readonly.macaroon');
  const rootKey = node.file('macaroons.key');
  check(rootKey.length === 32, 'root key is 32 bytes');

  const ln = (mac, addr = node.addr) => new lnrpc.Lightning(addr, L.creds(node, mac));
  const sv = (mac) => new coldrpc.Supervisor(node.addr, L.creds(node, mac));
  const wl = (mac) => new coldrpc.Wallet(node.addr, L.creds(node, mac));
  const hc = new health.Health(node.addr, L.creds(node, null));

  // --- every method, in every state of the (stubbed) supervisor ---
  for (const [state, signer] of [['ACTIVE', 1], ['WAITING_FOR_SIGNER', 0],
                                 ['SAFE_MODE', 0], ['SAFE_MODE', 1]]) {
    await node.cmd('state ' + state);
    await node.cmd('signer ' + signer);
    const tag = `${state}/signer=${signer}`;
    let r = await L.call(ln(mon), 'getInfo', {});
    check(!r.err && r.resp.identity_pubkey === '02' + 'aa'.repeat(32) &&
          r.resp.alias === 'coldnode-test' && r.resp.num_peers === 3 &&
          r.resp.chains[0].network === 'regtest' && r.resp.color === '#3399ff' &&
          r.resp.features['7'].name === 'gossip-queries' &&
          r.resp.block_height === 800000 && r.resp.synced_to_graph === true,
          `${tag}: GetInfo (lnd proto, monitor macaroon)`);
    r = await L.call(ln(mon), 'walletBalance', {});
    check(!r.err && r.resp.total_balance === '0', `${tag}: WalletBalance`);
    r = await L.call(sv(mon), 'getState', {});
    check(!r.err && r.resp.state === state && r.resp.signer.connected === !!signer &&
          r.resp.peers.gossip_only === 2 && r.resp.gossip.channels === '10',
          `${tag}: GetState`);
    // The fields added later (numbers 4 and 7) decode with the .proto.
    check(!r.err && r.resp.gossip.channels_unverified === '7' &&
          r.resp.counters.generation === '3' &&
          r.resp.counters.transitions.active === '2' &&
          r.resp.counters.transitions.safe_mode === '1' &&
          r.resp.counters.signer_losses === '1' &&
          r.resp.counters.requests_unavailable === '4',
          `${tag}: GetState counters and unverified channels`);
    r = await L.call(hc, 'check', {service: ''});
    check(!r.err && r.resp.status === 'SERVING', `${tag}: health "" SERVING`);
    r = await L.call(hc, 'check', {service: 'lnrpc.Lightning'});
    check(!r.err && r.resp.status === 'SERVING', `${tag}: health lnrpc.Lightning SERVING`);
    r = await L.call(hc, 'check', {service: 'coldnode.signer'});
    check(!r.err && r.resp.status === (signer ? 'SERVING' : 'NOT_SERVING'),
          `${tag}: health coldnode.signer follows the signer`);
  }
  await node.cmd('state ACTIVE');
  await node.cmd('signer 1');

  let r = await L.call(hc, 'check', {service: 'no.such.Service'});
  check(r.err && r.err.code === grpc.status.NOT_FOUND, 'health: unknown service NOT_FOUND');

  // --- unix socket (TLS too, like lnd) ---
  r = await L.call(ln(mon, 'unix:' + node.sock), 'getInfo', {});
  check(!r.err && r.resp.alias === 'coldnode-test', 'GetInfo over the unix socket');

  // --- wallet import (admin) then balances ---
  r = await L.call(wl(admin), 'importUnspent', {utxos: [
    {txid: TXA, vout: 0, amount_sat: 150000, confirmations: 3},
    {txid: TXA, vout: 1, amount_sat: 2500, confirmations: 0},
    {txid: TXA, vout: 2, amount_sat: 70, confirmations: 9, locked: true},
  ]});
  check(!r.err && r.resp.imported === 3 && r.resp.total_sat === '152570', 'ImportUnspent (admin)');
  r = await L.call(ln(mon), 'walletBalance', {});
  check(!r.err && r.resp.total_balance === '152500' && r.resp.confirmed_balance === '150000' &&
        r.resp.unconfirmed_balance === '2500' && r.resp.locked_balance === '70' &&
        r.resp.account_balance.default.confirmed_balance === '150000',
        'WalletBalance after import');
  r = await L.call(ln(mon), 'walletBalance', {min_confs: 4});
  check(!r.err && r.resp.confirmed_balance === '0' && r.resp.unconfirmed_balance === '152500',
        'WalletBalance min_confs=4');
  // lnd's rpcserver.go WalletBalance: "if in.MinConfs <= 0 { in.MinConfs = 1 }":
  // 0 and negative are answered as 1, not refused.
  for (const mc of [0, -1, -2147483648]) {
    r = await L.call(ln(mon), 'walletBalance', {min_confs: mc});
    check(!r.err && r.resp.confirmed_balance === '150000' && r.resp.unconfirmed_balance === '2500',
          `WalletBalance min_confs=${mc} answered as 1 (lnd)`);
  }

  // --- permissions ---
  r = await L.call(wl(mon), 'importUnspent', {utxos: []});
  check(r.err && r.err.code === grpc.status.PERMISSION_DENIED &&
        /onchain:write/.test(r.err.details), 'monitor: ImportUnspent PERMISSION_DENIED');
  r = await L.call(wl(ro), 'importUnspent', {utxos: []});
  check(r.err && r.err.code === grpc.status.PERMISSION_DENIED, 'readonly: ImportUnspent PERMISSION_DENIED');
  r = await L.call(ln(null), 'getInfo', {});
  check(r.err && r.err.code === grpc.status.UNAUTHENTICATED &&
        /expected 1 macaroon, got 0/.test(r.err.details), 'no macaroon: UNAUTHENTICATED');
  const tampered = Buffer.from(mon, 'hex');
  tampered[tampered.length - 1] ^= 1;
  r = await L.call(ln(tampered.toString('hex')), 'getInfo', {});
  check(r.err && r.err.code === grpc.status.UNAUTHENTICATED, 'tampered macaroon: UNAUTHENTICATED');
  r = await L.call(ln('zz' + mon), 'getInfo', {});
  check(r.err && r.err.code === grpc.status.UNAUTHENTICATED, 'non-hex macaroon: UNAUTHENTICATED');
  r = await L.call(ln(mint(crypto.randomBytes(32), [['info', ['read']]])), 'getInfo', {});
  check(r.err && r.err.code === grpc.status.UNAUTHENTICATED &&
        /signature/.test(r.err.details), 'macaroon from another root key: UNAUTHENTICATED');
  r = await L.call(ln(mint(rootKey, [['info', ['read']]], ['time-before 2001-01-01T00:00:00Z'])), 'getInfo', {});
  check(r.err && r.err.code === grpc.status.UNAUTHENTICATED && /expired/.test(r.err.details),
        'expired time-before: UNAUTHENTICATED');
  r = await L.call(ln(mint(rootKey, [['info', ['read']]], ['ipaddr 10.9.8.7'])), 'getInfo', {});
  check(r.err && r.err.code === grpc.status.UNAUTHENTICATED && /IP/.test(r.err.details),
        'wrong ipaddr: UNAUTHENTICATED');
  r = await L.call(ln(mint(rootKey, [['info', ['read']]], ['frobnicate now'])), 'getInfo', {});
  check(r.err && r.err.code === grpc.status.UNAUTHENTICATED, 'unknown caveat: UNAUTHENTICATED');

  // --- macaroons minted by the npm package with our root key ---
  r = await L.call(ln(mint(rootKey, [['info', ['read']]],
    ['time-before 2099-01-01T00:00:00Z', 'ipaddr 127.0.0.1'])), 'getInfo', {});
  check(!r.err && r.resp.alias === 'coldnode-test', 'npm-minted macaroon (with caveats) accepted');
  r = await L.call(ln(mint(rootKey, [['info', ['read']]])), 'walletBalance', {});
  check(r.err && r.err.code === grpc.status.PERMISSION_DENIED, 'npm-minted info:read: WalletBalance denied');
  r = await L.call(ln(mint(rootKey, [['uri', ['/lnrpc.Lightning/WalletBalance']]])), 'walletBalance', {});
  check(!r.err, 'uri:<method> permission accepted');

  // --- the npm package verifies ours ---
  for (const f of ['admin', 'readonly', 'monitor']) {
    const m = macaroon.importMacaroon(node.file(f + '.macaroon'));
    let ok = true;
    try { m.verify(rootKey, () => null); } catch (e) { ok = false; }
    check(ok && m.location === 'lnd' && m.identifier[0] === 3, `npm macaroon verifies ${f}.macaroon`);
    let bad = true;
    try { m.verify(crypto.randomBytes(32), () => null); bad = false; } catch (e) { /* expected */ }
    check(bad, `npm macaroon rejects ${f}.macaroon under another key`);
  }
  if (coldctl) {
    const hex = execFileSync(coldctl, ['--datadir=' + node.dir, 'bakemacaroon',
      '--timeout', '600', '--ip_address', '127.0.0.1', 'info:read']).toString().trim();
    const m = macaroon.importMacaroon(Buffer.from(hex, 'hex'));
    const seen = [];
    let ok = true;
    try { m.verify(rootKey, c => { seen.push(c); return null; }); } catch (e) { ok = false; }
    check(ok && seen.length === 2 && /^time-before \d{4}-/.test(seen[0]) && seen[1] === 'ipaddr 127.0.0.1',
          'npm macaroon verifies a coldctl-baked macaroon with caveats');
    r = await L.call(ln(hex), 'getInfo', {});
    check(!r.err, 'coldctl-baked macaroon accepted by the node');
  }

  // --- unknown method ---
  r = await L.call(ln(mon), 'listPeers', {});
  check(r.err && r.err.code === grpc.status.UNIMPLEMENTED, 'unknown method: UNIMPLEMENTED');

  // --- server streaming: SubscribeState and Health/Watch ---
  {
    const got = [];
    const st = sv(mon).subscribeState({});
    const wait = n => new Promise(res => {
      const t = setInterval(() => { if (got.length >= n) { clearInterval(t); res(); } }, 10);
    });
    st.on('data', d => got.push(d.state));
    st.on('error', () => {});
    await wait(1);
    await node.cmd('state SAFE_MODE');
    await wait(2);
    check(got[0] === 'ACTIVE' && got[1] === 'SAFE_MODE', 'SubscribeState pushes changes');
    const hw = [];
    const w = hc.watch({service: 'coldnode.signer'});
    w.on('data', d => hw.push(d.status));
    w.on('error', () => {});
    await new Promise(res => setTimeout(res, 100));
    await node.cmd('signer 0');
    await new Promise(res => { const t = setInterval(() => { if (hw.length >= 2) { clearInterval(t); res(); } }, 10); });
    check(hw[0] === 'SERVING' && hw[1] === 'NOT_SERVING', 'Health/Watch follows the signer');
    st.cancel();
    w.cancel();
    await node.cmd('signer 1');
    await node.cmd('state ACTIVE');
  }

  // --- the npm `lightning` package, unchanged ---
  {
    const {lnd} = lightning.authenticatedLndGrpc({
      cert: node.file('tls.cert').toString('base64'),
      macaroon: node.file('monitor.macaroon').toString('base64'),
      socket: node.addr,
    });
    try {
      const info = await lightning.getWalletInfo({lnd});
      check(info.public_key === '02' + 'aa'.repeat(32) && info.alias === 'coldnode-test' &&
            info.peers_count === 3 && info.current_block_height === 800000,
            'lightning.getWalletInfo');
      const bal = await lightning.getChainBalance({lnd});
      check(bal.chain_balance === 150000, 'lightning.getChainBalance');
    } catch (e) {
      check(false, 'lightning package calls: ' + JSON.stringify(e));
    }
  }

  await node.stop();
  process.exit(L.failed() ? 1 : 0);
}

main().catch(e => { console.error(e); process.exit(1); });
