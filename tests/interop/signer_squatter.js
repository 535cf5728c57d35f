// A client that holds signer.macaroon but not the node key, trying to keep
// coldnode's signer slot busy (issue 22, item 4): it registers like lnd's
// outbound signer, then either answers the key check with ITS key (mode
// "wrongkey") or never answers it (mode "silent"), and as soon as a stream
// ends it registers again on a new stream of the same grpc-js channel, so
// on the same HTTP/2 connection while coldnode keeps it open (grpc-js
// reconnects by itself when it does not).
//
//   node signer_squatter.js HOST:PORT TLSCERT MACAROON PRIVHEX MODE
//
// Prints "STREAM <n>" per stream opened and "ENDED <n> <code> <details>"
// per stream ended, on stdout.  Runs until killed.
'use strict';

const fs = require('fs');
const path = require('path');
const crypto = require('crypto');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');
const secp = require('secp256k1');

const [target, certPath, macPath, privHex, mode] = process.argv.slice(2);
if (!mode || (mode !== 'wrongkey' && mode !== 'silent')) {
  console.error('usage: signer_squatter.js HOST:PORT TLSCERT MACAROON PRIVHEX wrongkey|silent');
  process.exit(2);
}
const priv = Buffer.from(privHex, 'hex');

function sha256(b) {
  return crypto.createHash('sha256').update(b).digest();
}

const def = protoLoader.loadSync('watchonly.proto', {
  includeDirs: [path.join(__dirname, '..', '..', 'proto')],
  keepCase: true, longs: String, bytes: Buffer, defaults: false, oneofs: true,
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
let n = 0;

function one() {
  const id = ++n;
  const call = client.SignCoordinatorStreams();
  let again = false;
  const next = () => {
    if (again) return;
    again = true;
    setImmediate(one);
  };
  process.stdout.write(`STREAM ${id}\n`);
  call.write({
    ref_request_id: '1',
    signer_registration: {
      registration_challenge: Buffer.from('registrationChallenge'),
      registration_info: 'outboundSigner',
    },
  });
  call.on('data', (req) => {
    if (req.sign_request_type !== 'sign_message_req' || mode !== 'wrongkey') return;
    const r = req.sign_message_req;
    const s = secp.ecdsaSign(sha256(sha256(r.msg)), priv);
    call.write({
      ref_request_id: req.request_id,
      sign_message_resp: {
        signature: Buffer.concat([Buffer.from([27 + s.recid + 4]),
          Buffer.from(s.signature)]),
      },
    });
  });
  call.on('error', (e) => {
    process.stdout.write(`ENDED ${id} ${e.code} ${e.details}\n`);
    next();
  });
  call.on('end', () => next());
}

one();
