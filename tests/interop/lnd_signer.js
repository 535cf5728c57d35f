// A remote signer that behaves like lnd's outbound signer
// (watchonlynode.experimentalenable, lnd 90ea05d5a), written from lnd's
// sources and independent of coldsigner's code: @grpc/grpc-js +
// @grpc/proto-loader on proto/watchonly.proto and proto/signrpc.proto (lnd's
// names and field numbers), the npm secp256k1 package for the key.
//
//   node lnd_signer.js HOST:PORT TLSCERT MACAROON PRIVHEX
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

// LND_PROTO_DIR: lnd's own message set (tests/cluster strips coldnode's
// field 100 to show an lnd signer skips it).
const PROTO_DIR = process.env.LND_PROTO_DIR || path.join(__dirname, '..', '..', 'proto');
const PREFIX = 'error processing the request in the remote signer: ';
const NODE_FAMILY = 6;

function out(line) {
  process.stdout.write(line + '\n');
}

const [target, certPath, macPath, privHex] = process.argv.slice(2);
if (!privHex) {
  console.error('usage: lnd_signer.js HOST:PORT TLSCERT MACAROON PRIVHEX');
  process.exit(2);
}
const priv = Buffer.from(privHex, 'hex');
const nodePub = Buffer.from(secp.publicKeyCreate(priv, true));

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
  if (r.schnorr_sig) throw new Error("can't sign the hash: Schnorr not implemented by this test signer");
  const digest = r.double_hash ? sha256(sha256(r.msg)) : sha256(r.msg);
  const s = secp.ecdsaSign(digest, k); // RFC 6979, low S, as btcec
  if (r.compact_sig) {
    // btcec SignCompact: header 27 + recid + 4 (compressed key), r, s.
    return { signature: Buffer.concat([Buffer.from([27 + s.recid + 4]), Buffer.from(s.signature)]) };
  }
  // lnwire fixed 64-byte r || s.
  return { signature: Buffer.from(s.signature) };
}

function process1(req) {
  const id = req.request_id;
  switch (req.sign_request_type) {
    case 'shared_key_request':
      return { ref_request_id: id, shared_key_response: deriveSharedKey(req.shared_key_request) };
    case 'sign_message_req':
      return { ref_request_id: id, sign_message_resp: signMessage(req.sign_message_req) };
    case 'ping':
      return { ref_request_id: id, pong: true };
    default:
      throw new Error('unimplemented request by watch-only node');
  }
}

function main() {
  const def = protoLoader.loadSync('watchonly.proto', {
    includeDirs: [PROTO_DIR],
    keepCase: true,
    longs: String,
    bytes: Buffer,
    defaults: false,
    oneofs: true,
  });
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
    out(`REQUEST ${req.request_id} ${req.sign_request_type}`);
    let resp;
    try {
      resp = process1(req);
    } catch (e) {
      out(`REFUSED ${req.request_id} ${e.message}`);
      resp = { ref_request_id: req.request_id, signer_error: { error: PREFIX + e.message } };
    }
    call.write(resp);
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

main();
