// N BOLT 8 + BOLT 1 listeners on @node-dlc/noise (an implementation
// nobody here wrote), for bench_reconnect.py: each has its own node key,
// listens on 127.0.0.1:0, exchanges init with whoever completes the
// handshake and answers pings.
//
//   node noise_peers.js N CHAINHEX
//       prints "PEER <port> <pubkey>" N times, then "READY"; runs until
//       SIGTERM.
'use strict';

const crypto = require('crypto');
const noise = require('@node-dlc/noise');

function u16(n) {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

// init: no features, networks = [chain] (BOLT 1 TLV type 1).
function initMsg(chain) {
  return Buffer.concat([u16(16), u16(0), u16(0), Buffer.from([1, 32]), chain]);
}

function listenOne(chain) {
  return new Promise((resolve) => {
    const ls = crypto.randomBytes(32);
    const server = noise.createServer({ ls }, (sock) => {
      sock.on('ready', () => sock.write(initMsg(chain)));
      sock.on('data', (m) => {
        if (m.length >= 4 && m.readUInt16BE(0) === 18) {
          const want = m.readUInt16BE(2);
          if (want < 65532) {
            sock.write(Buffer.concat([u16(19), u16(want), Buffer.alloc(want)]));
          }
        }
      });
      sock.on('error', () => {});
    });
    server.listen({ host: '127.0.0.1', port: 0 }, () => {
      const ecdh = crypto.createECDH('secp256k1');
      ecdh.setPrivateKey(ls);
      resolve([server.address().port,
               ecdh.getPublicKey(null, 'compressed').toString('hex')]);
    });
  });
}

async function main() {
  const n = Number(process.argv[2]);
  const chain = Buffer.from(process.argv[3], 'hex');
  for (let i = 0; i < n; i++) {
    const [port, pub] = await listenOne(chain);
    console.log(`PEER ${port} ${pub}`);
  }
  console.log('READY');
  process.on('SIGTERM', () => process.exit(0));
}

main();
