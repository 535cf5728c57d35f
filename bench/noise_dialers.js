// N BOLT 8 + BOLT 1 initiators on @node-dlc/noise (an implementation
// nobody here wrote), for bench_reconnect.py's scenario C: each with its
// own key dials HOST:PORT (coldnode's node id RPK) at once, sends init
// when the handshake completes and prints "READY <i>" when coldnode's
// init arrives; then holds the session (answers pings) until SIGTERM.
//
//   node noise_dialers.js N HOST PORT RPK CHAINHEX
'use strict';

const crypto = require('crypto');
const noise = require('@node-dlc/noise');

function u16(n) {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

function initMsg(chain) {
  return Buffer.concat([u16(16), u16(0), u16(0), Buffer.from([1, 32]), chain]);
}

function main() {
  const [n, host, port, rpk, chainHex] = process.argv.slice(2);
  const chain = Buffer.from(chainHex, 'hex');
  for (let i = 0; i < Number(n); i++) {
    const sock = noise.connect({
      ls: crypto.randomBytes(32), rpk: Buffer.from(rpk, 'hex'), host,
      port: Number(port),
    });
    let inited = false;
    sock.on('ready', () => sock.write(initMsg(chain)));
    sock.on('data', (m) => {
      const type = m.readUInt16BE(0);
      if (type === 16 && !inited) {
        inited = true;
        console.log(`READY ${i}`);
      } else if (type === 18 && m.length >= 4) {
        const want = m.readUInt16BE(2);
        if (want < 65532) {
          sock.write(Buffer.concat([u16(19), u16(want), Buffer.alloc(want)]));
        }
      }
    });
    sock.on('error', (e) => console.log(`ERROR ${i} ${e.message}`));
  }
  console.log('STARTED');
  process.on('SIGTERM', () => process.exit(0));
}

main();
