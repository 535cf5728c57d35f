// A remote signer that behaves like lnd's outbound signer
// (watchonlynode.experimentalenable, lnd 90ea05d5a), written from lnd's
// sources and independent of coldsigner's code: @grpc/grpc-js +
// @grpc/proto-loader on proto/watchonly.proto and proto/signrpc.proto (lnd's
// names and field numbers), the npm secp256k1 package for the key.
//
//   node lnd_signer.js HOST:PORT TLSCERT MACAROON PRIVHEX [WALLETPRIVHEX]
//
// Also what a watch-only lnd forwards through coldnode's signer proxy
// (docs/signerproxy.md): MuSig2 sessions (signer_server.go +
// input/musig2_session_manager.go, on @brandonblack/musig, BIP 327 with
// 33-byte keys as MUSIG2_VERSION_V100RC2) and SignPsbt (walletkit_server.go:
// sign every input whose BIP 32 derivation names a key of ours, with
// bitcoinjs-lib; answer the PSBT and the indexes signed).  The wallet key
// (WALLETPRIVHEX, default sha256(PRIVHEX || "wallet")) stands for lnd's
// on-chain wallet and its MuSig2 keys (family 0).
//
// required as a module: makeSigner(priv, walletPriv) -> process(req), the
// same code a test calls directly to compare answers byte for byte.
//
// It follows lnwallet/rpcwallet/remote_signer_client.go:
//  - macaroon: gRPC metadata "macaroon" = hex of the file (macaroons.
//    NewMacaroonCredential), TLS verified against TLSCERT and the host name;
//  - registration: ref_request_id 1, registration_challenge
//    "registrationChallenge", registration_info "outboundSigner"; the answer
//    must be request_id 1 and registration_complete;
//  - each request answered by signrpc's DeriveSharedKey / SignMessage rules
//    (lnrpc/signrpc/signer_server.go) with lnd's error texts, wrapped as
//    formResponse does: "error processing the request in the remote
//    signer: ...";  anything else: "unimplemented request by watch-only
//    node".
// It holds one key, used as the node key (family 6, index 0), like an lnd
// signer whose wallet derives that key.
//
// Prints one line per event on stdout: "REGISTERED", "REQUEST <id> <type>",
// "REFUSED <id> <text>", "ENDED <reason>".  Exits when the stream ends.
'use strict';

const fs = require('fs');
const path = require('path');
const crypto = require('crypto');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');
const secp = require('secp256k1');
const bitcoin = require('bitcoinjs-lib');
const { musig, schnorr } = require('./musig_noble');

// LND_PROTO_DIR: lnd's own message set (tests/cluster strips coldnode's
// field 100 to show an lnd signer skips it).
const PROTO_DIR = process.env.LND_PROTO_DIR || path.join(__dirname, '..', '..', 'proto');
const PREFIX = 'error processing the request in the remote signer: ';
const NODE_FAMILY = 6;

function out(line) {
  process.stdout.write(line + '\n');
}

let priv, nodePub, walletPriv, walletPub;

function setKeys(p, w) {
  priv = Buffer.from(p);
  nodePub = Buffer.from(secp.publicKeyCreate(priv, true));
  walletPriv = w ? Buffer.from(w)
    : crypto.createHash('sha256').update(Buffer.concat([priv, Buffer.from('wallet')])).digest();
  walletPub = Buffer.from(secp.publicKeyCreate(walletPriv, true));
}

// secp256k1's field prime, for dcrd's "x >= field prime" check.
const FIELD_P = Buffer.from(
  'fffffffffffffffffffffffffffffffffffffffffffffffffffffffefffffc2f', 'hex');

// lnd's parseRawKeyBytes over btcec.ParsePubKey (dcrd secp256k1):
// returns {key} (null when empty) or {err}.
function parseRawKeyBytes(b) {
  if (!b || b.length === 0) return { key: null };
  if (b.length !== 33) {
    return { err: 'pubkey must be serialized in compressed format if specified' };
  }
  if (b[0] !== 2 && b[0] !== 3) {
    return { err: 'invalid public key: unsupported format: ' + b[0].toString(16) };
  }
  if (Buffer.compare(b.subarray(1), FIELD_P) >= 0) {
    return { err: 'invalid public key: x >= field prime' };
  }
  if (!secp.publicKeyVerify(b)) {
    return {
      err: 'invalid public key: x coordinate ' + b.subarray(1).toString('hex') +
        ' is not on the secp256k1 curve',
    };
  }
  return { key: Buffer.from(b) };
}

// The private key lnd's keyring would find for (family, index, pubkey), or
// null ("unable to derive private key").  With a pubkey lnd scans the
// family for it; this signer's family 6 holds only index 0.
function derive(family, index, pub) {
  if (family === 0) {
    if (pub) return pub.equals(walletPub) ? walletPriv : null;
    return index === 0 ? walletPriv : null;
  }
  if (family !== NODE_FAMILY) return null;
  if (pub) return pub.equals(nodePub) ? priv : null;
  return index === 0 ? priv : null;
}

// signer_server.go DeriveSharedKey, check by check.
function deriveSharedKey(r) {
  const eph = parseRawKeyBytes(r.ephemeral_pubkey);
  if (eph.err) throw new Error('error in ephemeral pubkey: ' + eph.err);
  if (!eph.key) throw new Error('must provide ephemeral pubkey');
  if (r.key_desc && r.key_loc) throw new Error('use either key_desc or key_loc');
  if (r.key_desc && !r.key_desc.key_loc) {
    throw new Error('when setting key_desc the field key_desc.key_loc must also be set');
  }
  let keyLoc = r.key_loc;
  let rawKeyBytes = null;
  if (r.key_desc) {
    keyLoc = r.key_desc.key_loc;
    rawKeyBytes = r.key_desc.raw_key_bytes && r.key_desc.raw_key_bytes.length
      ? r.key_desc.raw_key_bytes : null;
  }
  if (!keyLoc) keyLoc = { key_family: NODE_FAMILY, key_index: 0 };
  const family = keyLoc.key_family || 0;
  const index = keyLoc.key_index || 0;
  if (rawKeyBytes && index !== 0) throw new Error('use either raw_key_bytes or key_index');
  const pk = parseRawKeyBytes(rawKeyBytes);
  if (pk.err) throw new Error('error in raw pubkey: ' + pk.err);
  const k = derive(family, index, pk.key);
  if (!k) throw new Error('unable to derive shared key: unable to derive private key');
  // SHA256 of the compressed shared point (btcec / libsecp256k1 default).
  return { shared_key: Buffer.from(secp.ecdh(eph.key, k)) };
}

function sha256(b) {
  return crypto.createHash('sha256').update(b).digest();
}

// signer_server.go SignMessage, check by check.
function signMessage(r) {
  const tag = r.tag && r.tag.length ? r.tag : null;
  if (!r.msg || r.msg.length === 0) throw new Error('a message to sign MUST be passed in');
  if (!r.key_loc) throw new Error('a key locator MUST be passed in');
  if (r.schnorr_sig && r.compact_sig) {
    throw new Error('compact format can not be used for Schnorr signatures');
  }
  if (!r.schnorr_sig && tag) {
    throw new Error('tag can only be used when the Schnorr signature option is set');
  }
  if (tag && tag.subarray(0, 7).toString() === 'BIP0340') {
    throw new Error('tag cannot have BIP0340 prefix');
  }
  if (tag && tag.subarray(0, 10).toString() === 'TapSighash') {
    throw new Error('tag cannot be TapSighash');
  }
  if (r.double_hash && tag) throw new Error("double hash and tag can't be set at the same time");
  const k = derive(r.key_loc.key_family || 0, r.key_loc.key_index || 0, null);
  if (!k) throw new Error("can't sign the hash: unable to derive private key");
  if (r.schnorr_sig) {
    // keychain/btcwallet.go SignMessageSchnorr: tagged hash, double or
    // single SHA-256; the tap tweak is not supported by this test signer.
    if (r.schnorr_sig_tap_tweak && r.schnorr_sig_tap_tweak.length) {
      throw new Error("can't sign the hash: tap tweak not implemented by this test signer");
    }
    let d;
    if (tag) d = schnorr.utils.taggedHash(tag.toString(), r.msg);
    else d = r.double_hash ? sha256(sha256(r.msg)) : sha256(r.msg);
    // Deterministic (zero aux randomness), as btcec's schnorr.Sign is.
    return { signature: Buffer.from(schnorr.sign(d, k, Buffer.alloc(32))) };
  }
  const digest = r.double_hash ? sha256(sha256(r.msg)) : sha256(r.msg);
  const s = secp.ecdsaSign(digest, k); // RFC 6979, low S, as btcec
  if (r.compact_sig) {
    // btcec SignCompact: header 27 + recid + 4 (compressed key), r, s.
    return { signature: Buffer.concat([Buffer.from([27 + s.recid + 4]), Buffer.from(s.signature)]) };
  }
  // lnwire fixed 64-byte r || s.
  return { signature: Buffer.from(s.signature) };
}

// ---- MuSig2 (input/musig2_session_manager.go) ----
const sessions = new Map(); // hex session id -> state

function findSession(id) {
  const s = sessions.get(Buffer.from(id || []).toString('hex'));
  if (!s) throw new Error(`session with ID ${Buffer.from(id || []).toString('hex')} not found`);
  return s;
}

function allNonces(s) {
  return s.nonces.length === s.pubkeys.length;
}

function musigCreate(r) {
  if ((r.version || 'MUSIG2_VERSION_UNDEFINED') !== 'MUSIG2_VERSION_V100RC2') {
    throw new Error('error creating MuSig2 session: this test signer only does MUSIG2_VERSION_V100RC2');
  }
  const kl = r.key_loc || {};
  const k = derive(kl.key_family || 0, kl.key_index || 0, null);
  if (!k) throw new Error('error deriving private key: unable to derive private key');
  const local = Buffer.from(secp.publicKeyCreate(k, true));
  const pubkeys = musig.keySort((r.all_signer_pubkeys || []).map((b) => Buffer.from(b)));
  if (!pubkeys.some((p) => local.equals(Buffer.from(p)))) {
    throw new Error('error creating signing context: signing key is not in the list of signers');
  }
  if ((r.tweaks && r.tweaks.length) || r.taproot_tweak) {
    throw new Error('error creating signing context: tweaks not implemented by this test signer');
  }
  const ctx = musig.keyAgg(pubkeys);
  const combined = Buffer.from(musig.getXOnlyPubkey(ctx));
  // The library finds the secret nonce by this very object: keep it.
  const nonceObj = musig.nonceGen({ secretKey: k, publicKey: local });
  const nonce = Buffer.from(nonceObj);
  const id = sha256(Buffer.concat([combined, nonce]));
  const s = { k, local, pubkeys, combined, nonce, nonceObj, nonces: [nonce], aggNonce: null, sigs: [], done: false };
  for (const n of r.other_signer_public_nonces || []) s.nonces.push(Buffer.from(n));
  sessions.set(id.toString('hex'), s);
  return {
    session_id: id, combined_key: combined, taproot_internal_key: Buffer.alloc(0),
    local_public_nonces: nonce, have_all_nonces: allNonces(s), version: 'MUSIG2_VERSION_V100RC2',
  };
}

function musigRegisterNonces(r) {
  const s = findSession(r.session_id);
  if (allNonces(s)) throw new Error('already have all nonces');
  for (const n of r.other_signer_public_nonces || []) s.nonces.push(Buffer.from(n));
  return { have_all_nonces: allNonces(s) };
}

function musigRegisterCombined(r) {
  const s = findSession(r.session_id);
  if (!r.combined_public_nonce || r.combined_public_nonce.length !== 66) {
    throw new Error('combined nonce must be 66 bytes');
  }
  s.aggNonce = Buffer.from(r.combined_public_nonce);
  s.nonces = s.pubkeys.map(() => s.nonce); // "have all nonces" from now on
  return {};
}

function aggNonce(s) {
  if (s.aggNonce) return s.aggNonce;
  if (!allNonces(s)) throw new Error(`only have ${s.nonces.length} of ${s.pubkeys.length} required nonces`);
  return Buffer.from(musig.nonceAgg(s.nonces));
}

function musigGetCombined(r) {
  return { combined_public_nonce: aggNonce(findSession(r.session_id)) };
}

function musigSign(r) {
  const s = findSession(r.session_id);
  if (!r.message_digest || r.message_digest.length !== 32) throw new Error('message digest must be 32 bytes');
  const an = aggNonce(s);
  s.sessionKey = musig.startSigningSession(an, Buffer.from(r.message_digest), s.pubkeys);
  const sig = Buffer.from(musig.partialSign({ secretKey: s.k, publicNonce: s.nonceObj, sessionKey: s.sessionKey }));
  s.sigs = [sig];
  if (r.cleanup) sessions.delete(Buffer.from(r.session_id).toString('hex'));
  return { local_partial_signature: sig };
}

function musigCombine(r) {
  const s = findSession(r.session_id);
  if (s.done) throw new Error('already have all partial signatures');
  for (const p of r.other_partial_signatures || []) s.sigs.push(Buffer.from(p));
  if (s.sigs.length < s.pubkeys.length) return { have_all_signatures: false };
  s.done = true;
  return { have_all_signatures: true, final_signature: Buffer.from(musig.signAgg(s.sigs, s.sessionKey)) };
}

function musigCleanup(r) {
  findSession(r.session_id);
  sessions.delete(Buffer.from(r.session_id).toString('hex'));
  return {};
}

// ---- SignPsbt (walletkit_server.go): inputs with our BIP 32 key ----
function signPsbt(r) {
  let psbt;
  try {
    psbt = bitcoin.Psbt.fromBuffer(Buffer.from(r.funded_psbt || []));
  } catch (e) {
    throw new Error(`error parsing PSBT: ${e.message}`);
  }
  const keyPair = {
    publicKey: walletPub,
    sign: (hash) => Buffer.from(secp.ecdsaSign(hash, walletPriv).signature),
  };
  const signed = [];
  psbt.data.inputs.forEach((inp, i) => {
    const mine = (inp.bip32Derivation || []).some((d) => walletPub.equals(d.pubkey));
    if (!mine || !inp.witnessUtxo || (inp.partialSig && inp.partialSig.length)) return;
    psbt.signInput(i, keyPair);
    signed.push(i);
  });
  return { signed_psbt: psbt.toBuffer(), signed_inputs: signed };
}

const HANDLERS = {
  shared_key_request: ['shared_key_response', deriveSharedKey],
  sign_message_req: ['sign_message_resp', signMessage],
  mu_sig2_session_request: ['mu_sig2_session_response', musigCreate],
  mu_sig2_register_nonces_request: ['mu_sig2_register_nonces_response', musigRegisterNonces],
  mu_sig2_combined_nonces_req: ['mu_sig2_comb_nonces_resp', musigRegisterCombined],
  mu_sig2_get_combined_nonces_req: ['mu_sig2_get_comb_nonces_resp', musigGetCombined],
  mu_sig2_sign_request: ['mu_sig2_sign_response', musigSign],
  mu_sig2_combine_sig_request: ['mu_sig2_combine_sig_response', musigCombine],
  mu_sig2_cleanup_request: ['mu_sig2_cleanup_response', musigCleanup],
  sign_psbt_request: ['sign_psbt_response', signPsbt],
};

function process1(req) {
  const id = req.request_id;
  if (req.sign_request_type === 'ping') return { ref_request_id: id, pong: true };
  const h = HANDLERS[req.sign_request_type];
  if (!h) throw new Error('unimplemented request by watch-only node');
  return { ref_request_id: id, [h[0]]: h[1](req[req.sign_request_type]) };
}

// One request -> the response object, SignerError included (formResponse).
function answer(req) {
  try {
    return process1(req);
  } catch (e) {
    return { ref_request_id: req.request_id, signer_error: { error: PREFIX + e.message } };
  }
}

const LOADER_OPTS = {
  includeDirs: [PROTO_DIR],
  keepCase: true,
  longs: String,
  enums: String,
  bytes: Buffer,
  defaults: false,
  oneofs: true,
};

function main() {
  const [target, certPath, macPath, privHex, walletHex] = process.argv.slice(2);
  if (!privHex) {
    console.error('usage: lnd_signer.js HOST:PORT TLSCERT MACAROON PRIVHEX [WALLETPRIVHEX]');
    process.exit(2);
  }
  setKeys(Buffer.from(privHex, 'hex'), walletHex ? Buffer.from(walletHex, 'hex') : null);
  const def = protoLoader.loadSync('watchonly.proto', LOADER_OPTS);
  const pkg = grpc.loadPackageDefinition(def);
  const mac = fs.readFileSync(macPath).toString('hex');
  const creds = grpc.credentials.combineChannelCredentials(
    grpc.credentials.createSsl(fs.readFileSync(certPath)),
    grpc.credentials.createFromMetadataGenerator((_args, cb) => {
      const md = new grpc.Metadata();
      md.add('macaroon', mac);
      cb(null, md);
    }));
  const client = new pkg.watchonlyrpc.WatchOnly(target, creds);
  const call = client.SignCoordinatorStreams();
  let registered = false;

  call.write({
    ref_request_id: '1',
    signer_registration: {
      registration_challenge: Buffer.from('registrationChallenge'),
      registration_info: 'outboundSigner',
    },
  });
  call.on('data', (req) => {
    if (!registered) {
      // remote_signer_client.go, the handshake.
      if (req.request_id !== '1') {
        out(`ENDED initial response request id must be 1, but is: ${req.request_id}`);
        process.exit(1);
      }
      if (req.sign_request_type !== 'registration_response') {
        out(`ENDED expected registration response, but got: ${req.sign_request_type}`);
        process.exit(1);
      }
      const rr = req.registration_response;
      if (rr.registration_response_type !== 'registration_complete') {
        out(`ENDED registration error: ${rr.registration_error}`);
        process.exit(1);
      }
      registered = true;
      out('REGISTERED');
      return;
    }
    if (!quiet) out(`REQUEST ${req.request_id} ${req.sign_request_type}`);
    const resp = answer(req);
    if (resp.signer_error) out(`REFUSED ${req.request_id} ${resp.signer_error.error.slice(PREFIX.length)}`);
    // LND_SIGNER_BOGUS=1: first an answer to an id never sent.
    if (bogus) {
      call.write({ ref_request_id: String(BigInt(req.request_id) + 1000000000n),
        shared_key_response: { shared_key: Buffer.alloc(32, 0xee) } });
    }
    if (delayMs && req.sign_request_type === 'shared_key_request') {
      setTimeout(() => call.write(resp), delayMs);
    }
    else call.write(resp);
  });
  call.on('error', (e) => {
    out(`ENDED ${e.code} ${e.details}`);
    process.exit(1);
  });
  call.on('end', () => {
    out('ENDED stream closed');
    process.exit(0);
  });
}

// LND_SIGNER_QUIET=1: no REQUEST lines (benchmarks, floods);
// LND_SIGNER_DELAY_MS: answer ECDH this late (calls in flight when
// killed; the key check, a SignMessage, is answered at once).
const quiet = process.env.LND_SIGNER_QUIET === '1';
const delayMs = Number(process.env.LND_SIGNER_DELAY_MS || 0);
const bogus = process.env.LND_SIGNER_BOGUS === '1';

if (require.main === module) {
  main();
} else {
  module.exports = {
    makeSigner(p, w) {
      setKeys(p, w);
      return { answer, nodePub, walletPub };
    },
    LOADER_OPTS,
    PROTO_DIR,
  };
}
