'use strict';
// Independent HD wallet for the wallet tests (tests/wallet/test_wallet_bcoin.py):
// bcoin's own BIP39/BIP32 code (an implementation coldnode did not write)
// makes the accounts from a random mnemonic and signs spends; BIP86 output
// scripts come from bitcoinjs-lib (bcoin 1.0.2 predates taproot).
// Reads one JSON request on stdin, writes one JSON answer on stdout.
//   {"cmd":"accounts","n":N,"mnemonic"?}
//     -> {mnemonic, fingerprint, accounts:[{purpose, path, xpub (tpub form),
//         ext:[script hex x N], chg:[script hex x N]}]}   purposes 49, 84, 86;
//         49 is lnd's hybrid account: np2wkh receive, p2wkh change.
//   {"cmd":"sign","mnemonic","inputs":[{txid,vout,value,path,type}],
//    "outputs":[{script,value}]}  type: p2wkh | np2wkh  -> {hex, txid}
const path = require('path');
const bcoinDir = path.resolve(process.env.BCOIN_DIR || path.join(__dirname, '..', 'bcoin'));
const interopDir = path.resolve(process.env.INTEROP_DIR || path.join(__dirname, '..', 'interop'));
const bcoin = require(path.join(bcoinDir, 'node_modules', 'bcoin'));
const bitcoin = require(path.join(interopDir, 'node_modules', 'bitcoinjs-lib'));
const ecc = require(path.join(interopDir, 'node_modules', '@bitcoinerlab', 'secp256k1'));
const {Mnemonic, HDPrivateKey, KeyRing, MTX, Coin, Script} = bcoin;
bitcoin.initEccLib(ecc);

function readStdin() {
  return new Promise((resolve) => {
    let s = '';
    process.stdin.on('data', (d) => { s += d; });
    process.stdin.on('end', () => resolve(s));
  });
}

function p2wkh(pub) {
  const ring = KeyRing.fromPublic(pub);
  return Script.fromProgram(0, ring.getKeyHash()).toRaw().toString('hex');
}

function np2wkh(pub) {
  const ring = KeyRing.fromPublic(pub);
  const prog = Script.fromProgram(0, ring.getKeyHash());
  return Script.fromScripthash(prog.hash160()).toRaw().toString('hex');
}

function p2tr(pub) {
  // BIP86: key path only, output key = internal key tweaked with its own
  // TapTweak hash (bitcoinjs-lib computes it).
  return bitcoin.payments.p2tr({internalPubkey: pub.slice(1, 33)})
    .output.toString('hex');
}

async function main() {
  const req = JSON.parse(await readStdin());
  const mn = req.mnemonic ? Mnemonic.fromPhrase(req.mnemonic)
                          : new Mnemonic({bits: 128});
  const master = HDPrivateKey.fromMnemonic(mn);
  if (req.cmd === 'accounts') {
    const n = req.n || 5;
    const out = [];
    for (const purpose of [49, 84, 86]) {
      const p = `m/${purpose}'/1'/0'`;
      const acct = master.derivePath(p);
      const ext = [], chg = [];
      for (let i = 0; i < n; i++) {
        const e = acct.derive(0).derive(i).publicKey;
        const c = acct.derive(1).derive(i).publicKey;
        if (purpose === 49) { ext.push(np2wkh(e)); chg.push(p2wkh(c)); }
        if (purpose === 84) { ext.push(p2wkh(e)); chg.push(p2wkh(c)); }
        if (purpose === 86) { ext.push(p2tr(e)); chg.push(p2tr(c)); }
      }
      out.push({purpose, path: p, xpub: acct.toPublic().toBase58('testnet'),
                ext, chg});
    }
    return {mnemonic: mn.getPhrase(), accounts: out};
  }
  if (req.cmd === 'sign') {
    const mtx = new MTX();
    const rings = [];
    for (const inp of req.inputs) {
      const key = master.derivePath(inp.path);
      const ring = KeyRing.fromPrivate(key.privateKey);
      ring.witness = true;
      if (inp.type === 'np2wkh') ring.nested = true;
      const script = inp.type === 'np2wkh' ? Script.fromScripthash(
        Script.fromProgram(0, ring.getKeyHash()).hash160())
        : Script.fromProgram(0, ring.getKeyHash());
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

main().then((r) => { process.stdout.write(JSON.stringify(r) + '\n'); },
            (e) => { process.stderr.write(String(e.stack || e) + '\n'); process.exit(1); });
