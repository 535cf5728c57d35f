'use strict';
// Helper of the wallet differential test (tests/wallet/test_wallet_diff.py),
// kept running: one JSON request per line on stdin, one JSON answer per line
// on stdout (a node start per signature would cost more than the step).
// bcoin's own BIP39/BIP32 code (an implementation coldnode did not write).
//   {"cmd":"account","mnemonic"?,"account":K,"n":N}
//     -> {mnemonic, path, xpub (tpub form), ext:[p2wkh script hex x N],
//         chg:[... x N]}                       BIP84 m/84'/1'/K'
//   {"cmd":"sign","mnemonic"?,"inputs":[{txid, vout, value,
//      path ("m/84'/1'/0'/0/5": a key of the mnemonic, P2WPKH) |
//      wif + script (P2PKH or P2WPKH of that key)}],
//    "outputs":[{script, value}]}                  -> {hex, txid}
//   {"cmd":"p2wkh","wif"}                          -> {script}
// txids in display order; scripts hex.
const path = require('path');
const readline = require('readline');
const bcoinDir = path.resolve(process.env.BCOIN_DIR || path.join(__dirname, '..', 'bcoin'));
const bcoin = require(path.join(bcoinDir, 'node_modules', 'bcoin'));
const {Mnemonic, HDPrivateKey, KeyRing, MTX, Coin, Script} = bcoin;

const masters = new Map();
function master(phrase) {
  if (!masters.has(phrase))
    masters.set(phrase, HDPrivateKey.fromMnemonic(Mnemonic.fromPhrase(phrase)));
  return masters.get(phrase);
}

function p2wkh(ring) {
  return Script.fromProgram(0, ring.getKeyHash());
}

function handle(req) {
  if (req.cmd === 'account') {
    const phrase = req.mnemonic || new Mnemonic({bits: 128}).getPhrase();
    const p = `m/84'/1'/${req.account || 0}'`;
    const acct = master(phrase).derivePath(p);
    const ext = [], chg = [];
    const b0 = acct.derive(0), b1 = acct.derive(1);
    for (let i = 0; i < (req.n || 20); i++) {
      ext.push(p2wkh(KeyRing.fromPublic(b0.derive(i).publicKey)).toRaw().toString('hex'));
      chg.push(p2wkh(KeyRing.fromPublic(b1.derive(i).publicKey)).toRaw().toString('hex'));
    }
    return {mnemonic: phrase, path: p, xpub: acct.toPublic().toBase58('testnet'),
            ext, chg};
  }
  if (req.cmd === 'p2wkh') {
    const ring = KeyRing.fromSecret(req.wif, 'regtest');
    return {script: p2wkh(ring).toRaw().toString('hex')};
  }
  if (req.cmd === 'sign') {
    const mtx = new MTX();
    const rings = [];
    for (const inp of req.inputs) {
      let ring, script;
      if (inp.path) {
        ring = KeyRing.fromPrivate(master(req.mnemonic).derivePath(inp.path).privateKey);
        ring.witness = true;
        script = p2wkh(ring);
      } else {
        ring = KeyRing.fromSecret(inp.wif, 'regtest');
        script = Script.fromRaw(Buffer.from(inp.script, 'hex'));
        ring.witness = script.isProgram();
      }
      mtx.addCoin(Coin.fromOptions({
        hash: Buffer.from(inp.txid, 'hex').reverse().toString('hex'),
        index: inp.vout, value: inp.value, script, height: 1, version: 1}));
      rings.push(ring);
    }
    for (const o of req.outputs)
      mtx.addOutput(Script.fromRaw(Buffer.from(o.script, 'hex')), o.value);
    mtx.sign(rings);
    if (!mtx.verify())
      throw new Error('the signed transaction does not verify');
    const tx = mtx.toTX();
    return {hex: tx.toRaw().toString('hex'), txid: tx.txid()};
  }
  throw new Error('unknown cmd ' + req.cmd);
}

const rl = readline.createInterface({input: process.stdin});
rl.on('line', (line) => {
  let out;
  try {
    out = {ok: handle(JSON.parse(line))};
  } catch (e) {
    out = {error: String(e.stack || e)};
  }
  process.stdout.write(JSON.stringify(out) + '\n');
});
