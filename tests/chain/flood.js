'use strict';
// Many transactions at once for the mempool load test
// (tests/chain/test_chain_mempool_load.py), built and signed with bcoin's
// own transaction code in one process (one node start per request:
// thousands of tool.js runs would take minutes).
// Reads one JSON request on stdin, writes one JSON answer on stdout:
//   {"wif", "coins":[{txid, vout, value, script}], "fanout": K,
//    "each": V, "targets":[{script, value}]}
//   -> {"fanouts":[hex..], "spends":[{hex, txid}..]}
// Each coin (a P2PKH coinbase of the key) becomes a fan-out transaction of
// up to K outputs of V satoshis back to the key; then one transaction per
// target spends one fan-out output and pays it `value` (the rest is fee).
// Fan-outs must be mined before the spends are sent (each spend then has a
// confirmed parent: no ancestor limit).  txids in display order.
const path = require('path');
const bcoin = require(path.join(path.resolve(process.env.BCOIN_DIR ||
  path.join(__dirname, '..', 'bcoin')), 'node_modules', 'bcoin'));
const {KeyRing, MTX, Coin, Script} = bcoin;

function readStdin() {
  return new Promise((resolve) => {
    let s = '';
    process.stdin.on('data', (d) => { s += d; });
    process.stdin.on('end', () => resolve(s));
  });
}

function coin(txid, vout, value, script) {
  return Coin.fromOptions({
    hash: Buffer.from(txid, 'hex').reverse().toString('hex'), index: vout,
    value, script: Script.fromRaw(Buffer.from(script, 'hex')), height: 1,
    version: 1});
}

async function main() {
  const req = JSON.parse(await readStdin());
  const ring = KeyRing.fromSecret(req.wif, 'regtest');
  const own = Script.fromPubkeyhash(ring.getKeyHash());
  const ownHex = own.toRaw().toString('hex');
  const fanouts = [], outs = [];
  let need = req.targets.length;
  for (const c of req.coins) {
    if (need <= 0)
      break;
    const k = Math.min(need, req.fanout);
    const mtx = new MTX();
    mtx.addCoin(coin(c.txid, c.vout, c.value, c.script));
    for (let i = 0; i < k; i++)
      mtx.addOutput(own, req.each);
    const change = c.value - k * req.each - 100000;
    if (change < 0)
      throw new Error('coin too small for the fan-out');
    mtx.addOutput(own, change);
    mtx.sign([ring]);
    const tx = mtx.toTX();
    fanouts.push(tx.toRaw().toString('hex'));
    for (let i = 0; i < k; i++)
      outs.push({txid: tx.txid(), vout: i});
    need -= k;
  }
  if (need > 0)
    throw new Error('not enough coins for the targets');
  const spends = [];
  req.targets.forEach((t, i) => {
    const mtx = new MTX();
    mtx.addCoin(coin(outs[i].txid, outs[i].vout, req.each, ownHex));
    mtx.addOutput(Script.fromRaw(Buffer.from(t.script, 'hex')), t.value);
    mtx.sign([ring]);
    const tx = mtx.toTX();
    spends.push({hex: tx.toRaw().toString('hex'), txid: tx.txid()});
  });
  return {fanouts, spends};
}

main().then((r) => { process.stdout.write(JSON.stringify(r) + '\n'); },
            (e) => { process.stderr.write(String(e.stack || e) + '\n'); process.exit(1); });
