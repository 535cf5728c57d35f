'use strict';
// Small bcoin-library helper for the chain tests (tests/chain/bcoin.py).
// Reads one JSON request on stdin, writes one JSON answer on stdout.
//   {"cmd":"keygen","n":N}  -> [{wif, priv, pub, address}] (compressed keys;
//                             address: bcoin's regtest P2PKH form)
//   {"cmd":"sign", "inputs":[{txid, vout, value, script, wifs:[..] or privs:[hex..],
//                             witness_script?}],
//    "outputs":[{script, value}], "locktime"?}           -> {hex, txid}
// txids are in display order (as the RPC prints them); scripts and keys hex.
// witness_script set: the input is P2WSH of that script (a 2-of-2 funding
// output), signed with every key in wifs; otherwise P2PKH/P2WPKH of wifs[0].
const bcoin = require('bcoin');
const {KeyRing, MTX, Coin, Script} = bcoin;

function readStdin() {
  return new Promise((resolve) => {
    let s = '';
    process.stdin.on('data', (d) => { s += d; });
    process.stdin.on('end', () => resolve(s));
  });
}

async function main() {
  const req = JSON.parse(await readStdin());
  if (req.cmd === 'keygen') {
    const out = [];
    for (let i = 0; i < (req.n || 1); i++) {
      const r = KeyRing.generate(true);
      out.push({wif: r.toSecret('regtest'), priv: r.getPrivateKey('hex'),
                pub: r.getPublicKey('hex'),
                address: r.getAddress('string', 'regtest')});
    }
    return out;
  }
  if (req.cmd === 'sign') {
    const mtx = new MTX();
    const rings = [];
    for (const inp of req.inputs) {
      const coin = Coin.fromOptions({
        hash: Buffer.from(inp.txid, 'hex').reverse().toString('hex'), index: inp.vout,
        value: inp.value, script: Script.fromRaw(Buffer.from(inp.script, 'hex')),
        height: inp.height === undefined ? 1 : inp.height, version: 1});
      mtx.addCoin(coin);
      const keys = (inp.wifs || []).map((w) => KeyRing.fromSecret(w, 'regtest'))
        .concat((inp.privs || []).map((p) => KeyRing.fromPrivate(Buffer.from(p, 'hex'), true)));
      for (const r of keys) {
        if (inp.witness_script) {
          r.script = Script.fromRaw(Buffer.from(inp.witness_script, 'hex'));
          r.witness = true;
        } else if (inp.witness) {
          r.witness = true;
        }
        rings.push(r);
      }
    }
    for (const o of req.outputs)
      mtx.addOutput(Script.fromRaw(Buffer.from(o.script, 'hex')), o.value);
    if (req.locktime) mtx.setLocktime(req.locktime);
    mtx.sign(rings);
    if (!mtx.verify())
      throw new Error('the signed transaction does not verify');
    const tx = mtx.toTX();
    return {hex: tx.toRaw().toString('hex'), txid: tx.txid()};
  }
  throw new Error('unknown cmd ' + req.cmd);
}

main().then((r) => { process.stdout.write(JSON.stringify(r) + '\n'); },
            (e) => { process.stderr.write(String(e.stack || e) + '\n'); process.exit(1); });
