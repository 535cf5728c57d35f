// lnd's side of coldnode's signer proxy: a watch-only lnd's RPCKeyRing
// calls (lnwallet/rpcwallet/rpcwallet.go), made with @grpc/grpc-js on lnd's
// own signer.proto and walletkit.proto as the npm `lightning` package ships
// them, over ONE channel (lnd keeps one connection to its signer), with
// lnd's 5 s per-call deadline and its macaroon as hex metadata.
//
//   node lnd_watchonly.js HOST:PORT TLSCERT MACAROON PRIVHEX
//
// PRIVHEX is the signer's key: the same code as the signer
// (lnd_signer.js makeSigner) answers every request here directly, and each
// answer through coldnode must be byte for byte that answer.
//
// Reads commands on stdin, one per line, and prints one JSON line each
// ({"ok": true, ...} or {"ok": false, "error": ...}):
//   basic                 ECDH, SignMessage (wire, compact, Schnorr), a
//                         MuSig2 session create -> combine with a second
//                         party played here, a signer error, an unknown
//                         method, the health service
//   psbt TXID VOUT VALUE  SignPsbt of a real PSBT spending that P2WPKH
//                         output of the signer's wallet key; prints the
//                         finalized transaction
//   flood N               N DeriveSharedKey calls at once, answers matched
//   away N                N calls that must each fail with the signer-away
//                         status (never UNAVAILABLE / DEADLINE_EXCEEDED)
//   inflight N            like away, printing {"started": N} first
//   slow N MS             N DeriveSharedKey calls with an MS deadline
//   badmac | expiredmac | oversized | health
'use strict';

const fs = require('fs');
const path = require('path');
const crypto = require('crypto');
const readline = require('readline');
const grpc = require('@grpc/grpc-js');
const protobuf = require('protobufjs');
const secp = require('secp256k1');
const bitcoin = require('bitcoinjs-lib');
const macaroon = require('macaroon');
const { musig, schnorr } = require('./musig_noble');
const { makeSigner, PROTO_DIR } = require('./lnd_signer.js');

const LND_PROTOS = path.join(path.dirname(require.resolve('lightning/package.json')),
  'grpc', 'protos');
const NETWORK = bitcoin.networks.regtest;
const DEADLINE_MS = 5000; // lnd's remotesigner.timeout
const STATUS = Object.fromEntries(Object.entries(grpc.status).map(([k, v]) => [v, k]));

const [target, certPath, macPath, privHex] = process.argv.slice(2);
const signer = makeSigner(Buffer.from(privHex, 'hex'));

// lnd's protos (what the watch-only lnd encodes) and ours (what the signer
// decodes): two independent descriptions of the same bytes.
function loadRoot(dir, files) {
  const root = new protobuf.Root();
  root.resolvePath = (_o, t) => path.join(dir, t);
  root.loadSync(files, { keepCase: true });
  return root;
}
const lnd = loadRoot(LND_PROTOS, ['signer.proto', 'walletkit.proto']);
const ours = loadRoot(PROTO_DIR, ['watchonly.proto']);
const TO_OBJ = { longs: String, enums: String, bytes: Buffer, defaults: false, oneofs: true };

// Method -> lnd request/response types, our stream member names.
const M = {
  DeriveSharedKey: ['/signrpc.Signer/DeriveSharedKey', 'signrpc.SharedKeyRequest', 'signrpc.SharedKeyResponse', 'shared_key_request', 'shared_key_response'],
  SignMessage: ['/signrpc.Signer/SignMessage', 'signrpc.SignMessageReq', 'signrpc.SignMessageResp', 'sign_message_req', 'sign_message_resp'],
  MuSig2CreateSession: ['/signrpc.Signer/MuSig2CreateSession', 'signrpc.MuSig2SessionRequest', 'signrpc.MuSig2SessionResponse', 'mu_sig2_session_request', 'mu_sig2_session_response'],
  MuSig2RegisterNonces: ['/signrpc.Signer/MuSig2RegisterNonces', 'signrpc.MuSig2RegisterNoncesRequest', 'signrpc.MuSig2RegisterNoncesResponse', 'mu_sig2_register_nonces_request', 'mu_sig2_register_nonces_response'],
  MuSig2RegisterCombinedNonce: ['/signrpc.Signer/MuSig2RegisterCombinedNonce', 'signrpc.MuSig2RegisterCombinedNonceRequest', 'signrpc.MuSig2RegisterCombinedNonceResponse', 'mu_sig2_combined_nonces_req', 'mu_sig2_comb_nonces_resp'],
  MuSig2GetCombinedNonce: ['/signrpc.Signer/MuSig2GetCombinedNonce', 'signrpc.MuSig2GetCombinedNonceRequest', 'signrpc.MuSig2GetCombinedNonceResponse', 'mu_sig2_get_combined_nonces_req', 'mu_sig2_get_comb_nonces_resp'],
  MuSig2Sign: ['/signrpc.Signer/MuSig2Sign', 'signrpc.MuSig2SignRequest', 'signrpc.MuSig2SignResponse', 'mu_sig2_sign_request', 'mu_sig2_sign_response'],
  MuSig2CombineSig: ['/signrpc.Signer/MuSig2CombineSig', 'signrpc.MuSig2CombineSigRequest', 'signrpc.MuSig2CombineSigResponse', 'mu_sig2_combine_sig_request', 'mu_sig2_combine_sig_response'],
  MuSig2Cleanup: ['/signrpc.Signer/MuSig2Cleanup', 'signrpc.MuSig2CleanupRequest', 'signrpc.MuSig2CleanupResponse', 'mu_sig2_cleanup_request', 'mu_sig2_cleanup_response'],
  SignPsbt: ['/walletrpc.WalletKit/SignPsbt', 'walletrpc.SignPsbtRequest', 'walletrpc.SignPsbtResponse', 'sign_psbt_request', 'sign_psbt_response'],
};

function encodeLnd(typeName, obj) {
  const T = lnd.lookupType(typeName);
  return Buffer.from(T.encode(T.fromObject(obj)).finish());
}

function decodeLnd(typeName, bytes) {
  const T = lnd.lookupType(typeName);
  return T.toObject(T.decode(bytes), TO_OBJ);
}

// The same signer, called directly with the same request bytes: decoded
// with our protos as its stream would, answered, encoded back.  A
// SignerError gives {error}.
function direct(method, reqBytes) {
  const [, , , reqMember, respMember] = M[method];
  const Req = ours.lookupType('watchonlyrpc.SignCoordinatorRequest');
  const Resp = ours.lookupType('watchonlyrpc.SignCoordinatorResponse');
  const inner = Req.fields[reqMember].resolvedType;
  const req = { request_id: '2', sign_request_type: reqMember,
    [reqMember]: inner.toObject(inner.decode(reqBytes), TO_OBJ) };
  const resp = signer.answer(req);
  if (resp.signer_error) return { error: resp.signer_error.error };
  const full = Resp.encode(Resp.fromObject(resp)).finish();
  const back = Resp.decode(full);
  const outT = Resp.fields[respMember].resolvedType;
  return { bytes: Buffer.from(outT.encode(back[respMember]).finish()) };
}

const mac = fs.readFileSync(macPath);
let macHex = mac.toString('hex');
const client = new grpc.Client(target, grpc.credentials.createSsl(fs.readFileSync(certPath)), {
  'grpc.max_send_message_length': 64 * 1024 * 1024,
});

// One unary call, raw bytes both ways.  Resolves {bytes} or {code, details}.
function call(pathName, reqBytes, opts = {}) {
  const md = new grpc.Metadata();
  md.add('macaroon', opts.macHex || macHex);
  return new Promise((resolve) => {
    const t0 = process.hrtime.bigint();
    client.makeUnaryRequest(pathName, (b) => b, (b) => b, reqBytes, md,
      { deadline: Date.now() + (opts.deadlineMs || DEADLINE_MS) },
      (err, resp) => {
        const ms = Number(process.hrtime.bigint() - t0) / 1e6;
        if (err) resolve({ code: err.code, status: STATUS[err.code], details: err.details, ms });
        else resolve({ bytes: Buffer.from(resp), ms });
      });
  });
}

function must(cond, what) {
  if (!cond) throw new Error(what);
}

// A forwarded call whose answer must equal the direct one byte for byte.
async function same(method, reqObj) {
  const [p, reqT, respT] = M[method];
  const reqBytes = encodeLnd(reqT, reqObj);
  const r = await call(p, reqBytes);
  const d = direct(method, reqBytes);
  if (d.error) {
    must(r.code !== undefined, `${method}: signer refused directly (${d.error}) but the proxy answered`);
    must(r.status === 'UNKNOWN' && r.details === d.error,
      `${method}: signer error came back as ${r.status} "${r.details}", want UNKNOWN "${d.error}"`);
    return { error: r.details };
  }
  must(r.bytes, `${method}: ${r.status} ${r.details}`);
  must(r.bytes.equals(d.bytes), `${method}: answer through coldnode ${r.bytes.toString('hex')} != direct ${d.bytes.toString('hex')}`);
  return decodeLnd(respT, r.bytes);
}

const sha256 = (b) => crypto.createHash('sha256').update(b).digest();
const ephemeral = () => {
  let k;
  do k = crypto.randomBytes(32); while (!secp.privateKeyVerify(k));
  return { k, pub: Buffer.from(secp.publicKeyCreate(k, true)) };
};

async function basic() {
  const node = signer.nodePub;
  const res = {};
  // Brontide: RPCKeyRing.ECDH sends key_desc{raw_key_bytes, key_loc{6,0}}.
  const e = ephemeral();
  const sk = await same('DeriveSharedKey', {
    ephemeral_pubkey: e.pub,
    key_desc: { raw_key_bytes: node, key_loc: { key_family: 6, key_index: 0 } },
  });
  must(Buffer.from(sk.shared_key).equals(Buffer.from(secp.ecdh(node, e.k))), 'ECDH result is not ours');
  // netann: SignMessage(keyLoc{6,0}, data, doubleHash=true), wire format.
  const msg = crypto.randomBytes(100);
  const s1 = await same('SignMessage', { msg, key_loc: { key_family: 6, key_index: 0 }, double_hash: true });
  must(secp.ecdsaVerify(Buffer.from(s1.signature), sha256(sha256(msg)), node), 'wire signature does not verify');
  const s2 = await same('SignMessage', { msg, key_loc: { key_family: 6, key_index: 0 }, double_hash: true, compact_sig: true });
  must(s2.signature.length === 65, 'compact signature is not 65 bytes');
  const rec = secp.ecdsaRecover(Buffer.from(s2.signature).subarray(1), s2.signature[0] - 31, sha256(sha256(msg)), true);
  must(Buffer.from(rec).equals(node), 'compact signature does not recover the node key');
  const s3 = await same('SignMessage', { msg, key_loc: { key_family: 6, key_index: 0 }, schnorr_sig: true });
  must(schnorr.verify(Buffer.from(s3.signature), sha256(msg), node.subarray(1)), 'Schnorr signature does not verify');
  res.sign_message = 3;
  // A signer error: its text, status UNKNOWN (as a dialled signer's).
  const bad = await same('SignMessage', { msg, key_loc: { key_family: 7, key_index: 3 }, double_hash: true });
  must(bad.error && bad.error.includes('unable to derive private key'), `signer error text: ${JSON.stringify(bad)}`);
  // MuSig2, lnd's funding/close flow shape: create with the other party's
  // nonce unknown, register it, sign, combine with theirs, clean up.
  const wallet = signer.walletPub;
  const k2 = ephemeral();
  const pks = [wallet, k2.pub];
  const cs = await call(M.MuSig2CreateSession[0], encodeLnd(M.MuSig2CreateSession[1], {
    key_loc: { key_family: 0, key_index: 0 }, all_signer_pubkeys: pks, version: 'MUSIG2_VERSION_V100RC2',
  }));
  must(cs.bytes, `MuSig2CreateSession: ${cs.status} ${cs.details}`);
  const sess = decodeLnd(M.MuSig2CreateSession[2], cs.bytes);
  const aggCtx = musig.keyAgg(musig.keySort(pks));
  const aggKey = Buffer.from(musig.getXOnlyPubkey(aggCtx));
  must(Buffer.from(sess.combined_key).equals(aggKey), 'combined key differs from BIP 327 key aggregation');
  must(!sess.have_all_nonces, 'have_all_nonces before the other nonce');
  const nonce2 = musig.nonceGen({ secretKey: k2.k, publicKey: k2.pub }); // the object keys its secret
  const rn = await call(M.MuSig2RegisterNonces[0], encodeLnd(M.MuSig2RegisterNonces[1], {
    session_id: sess.session_id, other_signer_public_nonces: [nonce2] }));
  must(rn.bytes && decodeLnd(M.MuSig2RegisterNonces[2], rn.bytes).have_all_nonces, `RegisterNonces: ${rn.status} ${rn.details}`);
  const gc = await call(M.MuSig2GetCombinedNonce[0], encodeLnd(M.MuSig2GetCombinedNonce[1], { session_id: sess.session_id }));
  must(gc.bytes, `GetCombinedNonce: ${gc.status} ${gc.details}`);
  const aggNonce = Buffer.from(decodeLnd(M.MuSig2GetCombinedNonce[2], gc.bytes).combined_public_nonce);
  must(aggNonce.equals(Buffer.from(musig.nonceAgg([Buffer.from(sess.local_public_nonces), nonce2]))), 'combined nonce differs');
  const digest = crypto.randomBytes(32);
  const ms = await call(M.MuSig2Sign[0], encodeLnd(M.MuSig2Sign[1], { session_id: sess.session_id, message_digest: digest }));
  must(ms.bytes, `MuSig2Sign: ${ms.status} ${ms.details}`);
  const partial1 = Buffer.from(decodeLnd(M.MuSig2Sign[2], ms.bytes).local_partial_signature);
  const sessionKey = musig.startSigningSession(aggNonce, digest, musig.keySort(pks));
  must(musig.partialVerify({ sig: partial1, publicKey: wallet, publicNonce: Buffer.from(sess.local_public_nonces), sessionKey }),
    'the signer\'s partial signature does not verify');
  const partial2 = Buffer.from(musig.partialSign({ secretKey: k2.k, publicNonce: nonce2, sessionKey }));
  const cb = await call(M.MuSig2CombineSig[0], encodeLnd(M.MuSig2CombineSig[1], { session_id: sess.session_id, other_partial_signatures: [partial2] }));
  must(cb.bytes, `MuSig2CombineSig: ${cb.status} ${cb.details}`);
  const fin = decodeLnd(M.MuSig2CombineSig[2], cb.bytes);
  must(fin.have_all_signatures, 'CombineSig: not all signatures');
  must(schnorr.verify(Buffer.from(fin.final_signature), digest, aggKey), 'MuSig2 signature does not verify under the aggregate key');
  const cl = await call(M.MuSig2Cleanup[0], encodeLnd(M.MuSig2Cleanup[1], { session_id: sess.session_id }));
  must(cl.bytes && cl.bytes.length === 0, `MuSig2Cleanup: ${cl.status} ${cl.details}`);
  // RegisterCombinedNonce (empty answer) on a second session, then a
  // signer error for a session that is gone.
  const cs2 = await call(M.MuSig2CreateSession[0], encodeLnd(M.MuSig2CreateSession[1], {
    key_loc: { key_family: 0, key_index: 0 }, all_signer_pubkeys: pks, version: 'MUSIG2_VERSION_V100RC2' }));
  const sess2 = decodeLnd(M.MuSig2CreateSession[2], cs2.bytes);
  const rc = await call(M.MuSig2RegisterCombinedNonce[0], encodeLnd(M.MuSig2RegisterCombinedNonce[1], {
    session_id: sess2.session_id, combined_public_nonce: musig.nonceAgg([Buffer.from(sess2.local_public_nonces), nonce2]) }));
  must(rc.bytes && rc.bytes.length === 0, `RegisterCombinedNonce: ${rc.status} ${rc.details}`);
  await call(M.MuSig2Cleanup[0], encodeLnd(M.MuSig2Cleanup[1], { session_id: sess2.session_id }));
  const gone = await call(M.MuSig2Sign[0], encodeLnd(M.MuSig2Sign[1], { session_id: sess2.session_id, message_digest: digest }));
  must(gone.status === 'UNKNOWN' && /session with ID [0-9a-f]+ not found/.test(gone.details), `gone session: ${gone.status} ${gone.details}`);
  res.musig2 = 'verified';
  // A method RPCKeyRing never calls: UNIMPLEMENTED, named.
  const un = await call('/signrpc.Signer/SignOutputRaw', Buffer.alloc(0));
  must(un.status === 'UNIMPLEMENTED' && un.details.includes('/signrpc.Signer/SignOutputRaw'), `unknown method: ${un.status} ${un.details}`);
  return res;
}

async function signPsbt(txid, vout, value) {
  const wallet = signer.walletPub;
  const pay = bitcoin.payments.p2wpkh({ pubkey: wallet, network: NETWORK });
  const dest = bitcoin.payments.p2wpkh({ pubkey: ephemeral().pub, network: NETWORK });
  const psbt = new bitcoin.Psbt({ network: NETWORK });
  psbt.addInput({
    hash: txid, index: Number(vout),
    witnessUtxo: { script: pay.output, value: Number(value) },
    // What lnd puts in: the key's BIP 32 path (m/84'/1'/0'/0/0) and the
    // fingerprint of the signer's master key.
    bip32Derivation: [{ masterFingerprint: Buffer.from('f00dbabe', 'hex'), path: "m/84'/1'/0'/0/0", pubkey: wallet }],
  });
  psbt.addOutput({ script: dest.output, value: Number(value) - 1000 });
  const r = await same('SignPsbt', { funded_psbt: psbt.toBuffer() });
  must(r.signed_inputs && r.signed_inputs.length === 1 && r.signed_inputs[0] === 0, `signed_inputs ${JSON.stringify(r.signed_inputs)}`);
  const signed = bitcoin.Psbt.fromBuffer(Buffer.from(r.signed_psbt), { network: NETWORK });
  must(signed.validateSignaturesOfInput(0, (pub, hash, sig) => secp.ecdsaVerify(sig, hash, pub)), 'PSBT signature does not verify');
  signed.finalizeAllInputs();
  return { tx: signed.extractTransaction().toHex() };
}

async function flood(n) {
  const node = signer.nodePub;
  const eph = Array.from({ length: n }, ephemeral);
  const t0 = Date.now();
  const rs = await Promise.all(eph.map((e) => call(M.DeriveSharedKey[0], encodeLnd(M.DeriveSharedKey[1], {
    ephemeral_pubkey: e.pub, key_desc: { raw_key_bytes: node, key_loc: { key_family: 6, key_index: 0 } } }))));
  rs.forEach((r, i) => {
    must(r.bytes, `call ${i}: ${r.status} ${r.details}`);
    const got = Buffer.from(decodeLnd(M.DeriveSharedKey[2], r.bytes).shared_key);
    must(got.equals(Buffer.from(secp.ecdh(node, eph[i].k))), `call ${i}: answer belongs to another call`);
  });
  return { calls: n, ms: Date.now() - t0 };
}

// Calls while the signer is away or dies: every one must fail with a
// status considerShutdown does not act on, before lnd's deadline.
async function away(n, announce, deadlineMs) {
  const node = signer.nodePub;
  const ps = Array.from({ length: n }, (_, i) => {
    const e = ephemeral();
    const opts = { deadlineMs };
    if (i % 2 && !deadlineMs) return call(M.SignMessage[0], encodeLnd(M.SignMessage[1], { msg: e.pub, key_loc: { key_family: 6 }, double_hash: true }), opts);
    return call(M.DeriveSharedKey[0], encodeLnd(M.DeriveSharedKey[1], {
      ephemeral_pubkey: e.pub, key_desc: { raw_key_bytes: node, key_loc: { key_family: 6, key_index: 0 } } }), opts);
  });
  if (announce) process.stdout.write(JSON.stringify({ started: n }) + '\n');
  const rs = await Promise.all(ps);
  const codes = {};
  let maxMs = 0;
  for (const r of rs) {
    const k = r.status || 'OK';
    codes[k] = (codes[k] || 0) + 1;
    maxMs = Math.max(maxMs, r.ms);
    must(k !== 'UNAVAILABLE' && k !== 'DEADLINE_EXCEEDED', `fatal status for lnd: ${k} ${r.details}`);
  }
  const sample = (rs.find((r) => r.status) || {}).details;
  return { codes, max_ms: Math.round(maxMs), sample };
}

async function badmac() {
  const req = encodeLnd(M.DeriveSharedKey[1], { ephemeral_pubkey: ephemeral().pub });
  // Another root key's macaroon: same ids, wrong signature.
  const forged = macaroon.newMacaroon({ version: 2, rootKey: crypto.randomBytes(32), identifier: macaroon.importMacaroon(mac).identifier, location: 'lnd' });
  const r1 = await call(M.DeriveSharedKey[0], req, { macHex: Buffer.from(forged.exportBinary()).toString('hex') });
  must(r1.status === 'UNAUTHENTICATED' || r1.status === 'PERMISSION_DENIED', `forged macaroon: ${r1.status} ${r1.details}`);
  const r2 = await call(M.DeriveSharedKey[0], req, { macHex: 'zz' });
  must(r2.status === 'UNAUTHENTICATED' || r2.status === 'PERMISSION_DENIED', `garbage macaroon: ${r2.status}`);
  return { forged: r1.status, garbage: r2.status };
}

async function expiredmac() {
  const m = macaroon.importMacaroon(mac);
  m.addFirstPartyCaveat(Buffer.from('time-before 2020-01-01T00:00:00Z'));
  const r = await call(M.DeriveSharedKey[0], encodeLnd(M.DeriveSharedKey[1], { ephemeral_pubkey: ephemeral().pub }),
    { macHex: Buffer.from(m.exportBinary()).toString('hex') });
  must(r.status === 'UNAUTHENTICATED' || r.status === 'PERMISSION_DENIED', `expired macaroon: ${r.status} ${r.details}`);
  return { expired: r.status, details: r.details };
}

async function oversized() {
  const r = await call(M.SignPsbt[0], encodeLnd(M.SignPsbt[1], { funded_psbt: Buffer.alloc(5 * 1024 * 1024, 1) }));
  must(r.status === 'RESOURCE_EXHAUSTED', `oversized: ${r.status} ${r.details}`);
  return { oversized: r.status };
}

function health() {
  const svc = Buffer.from('coldnode.signerproxy');
  const req = Buffer.concat([Buffer.from([0x0a, svc.length]), svc]);
  return new Promise((resolve) => {
    client.makeUnaryRequest('/grpc.health.v1.Health/Check', (b) => b, (b) => b, req, new grpc.Metadata(),
      { deadline: Date.now() + DEADLINE_MS }, (err, resp) => {
        if (err) resolve({ status: STATUS[err.code], details: err.details });
        else resolve({ serving: resp.length === 2 && resp[1] === 1 ? 'SERVING' : resp.length === 2 && resp[1] === 2 ? 'NOT_SERVING' : resp.toString('hex') });
      });
  });
}

async function run(line) {
  const [cmd, ...a] = line.trim().split(/\s+/);
  switch (cmd) {
    case 'basic': return basic();
    case 'psbt': return signPsbt(a[0], a[1], a[2]);
    case 'flood': return flood(Number(a[0]));
    case 'away': return away(Number(a[0]), false);
    case 'inflight': return away(Number(a[0]), true);
    case 'slow': return away(Number(a[0]), false, Number(a[1]));
    case 'badmac': return badmac();
    case 'expiredmac': return expiredmac();
    case 'oversized': return oversized();
    case 'health': return health();
    default: throw new Error(`unknown command ${cmd}`);
  }
}

const rl = readline.createInterface({ input: process.stdin });
rl.on('line', (line) => {
  if (!line.trim()) return;
  run(line).then((r) => process.stdout.write(JSON.stringify({ ok: true, cmd: line.trim(), ...r }) + '\n'),
    (e) => process.stdout.write(JSON.stringify({ ok: false, cmd: line.trim(), error: e.message }) + '\n'));
});
rl.on('close', () => {
  client.close();
});
