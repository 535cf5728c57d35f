// N BOLT 8 + BOLT 1 listeners on @node-dlc/noise (an implementation nobody
// here wrote), each with its own node key, that coldnode dials as its
// persistent peers in the safe-mode gossip test (issue 19).  They exchange
// init, answer pings, and send gossip from a tools/gengraph file on
// command.  Every session and every failed handshake is printed, so the
// test can read "the peer's log".
//
//   node gossip_peers.js N CHAINHEX GRAPHFILE
//     prints "PEER <port> <pubkey>" N times, then "READY"; then events:
//       SESSION <index> <remote pubkey>   init received
//       CLOSED <index> <remote pubkey>
//       HSFAIL <index> <why>             a connection closed before the
//                                        handshake completed
//     stdin commands:
//       KILL          close every session (the peer "restarts")
//       SEND K        send the next K gossip messages to every session
//   With GENGRAPH_SEED=S in the environment, listener i holds gengraph's
//   node key i for seed S (tools/gengraph_lib.c: SHA256("gengraph node" ||
//   be64(S) || be32(i))), so a graph made with --seed S --loopback-ports
//   announces the listeners themselves.  GRAPHFILE is read at the first
//   SEND (it may be written after READY, once the ports are known).
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const readline = require('readline');
const noise = require('@node-dlc/noise');

function u16(n) {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

function initMsg(chain) {
  // gossip_queries (bit 7, optional); networks = [chain] (TLV 1).
  return Buffer.concat([u16(16), u16(0), u16(1), Buffer.from([0x80]),
                        Buffer.from([1, 32]), chain]);
}

function readGraph(path) {
  const buf = fs.readFileSync(path);
  const msgs = [];
  for (let off = 0; off + 2 <= buf.length;) {
    const len = buf.readUInt16BE(off);
    msgs.push(buf.subarray(off + 2, off + 2 + len));
    off += 2 + len;
  }
  return msgs;
}

const sessions = new Set();

function gengraphKey(i) {
  const b = Buffer.alloc(12);
  b.writeBigUInt64BE(BigInt(process.env.GENGRAPH_SEED));
  b.writeUInt32BE(i, 8);
  return crypto.createHash('sha256').update('gengraph node').update(b)
    .digest();
}

function listenOne(idx, chain) {
  return new Promise((resolve) => {
    const ls = process.env.GENGRAPH_SEED ? gengraphKey(idx)
                                         : crypto.randomBytes(32);
    const server = noise.createServer({ ls }, (sock) => {
      let ready = false;
      let inited = false;
      sock.on('ready', () => {
        ready = true;
        sock.write(initMsg(chain));
      });
      sock.on('data', (m) => {
        const type = m.length >= 2 ? m.readUInt16BE(0) : -1;
        if (type === 16 && !inited) {
          inited = true;
          sessions.add(sock);
          console.log(`SESSION ${idx} ${sock.rpk.toString('hex')}`);
        } else if (type === 18 && m.length >= 4) {
          const want = m.readUInt16BE(2);
          if (want < 65532) {
            sock.write(Buffer.concat([u16(19), u16(want),
                                      Buffer.alloc(want)]));
          }
        }
      });
      sock.on('error', () => {});
      sock.on('close', () => {
        if (!ready) {
          console.log(`HSFAIL ${idx} closed before the handshake completed`);
        } else if (inited) {
          sessions.delete(sock);
          console.log(`CLOSED ${idx} ${sock.rpk.toString('hex')}`);
        }
      });
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
  let graph = null;
  let next = 0;
  for (let i = 0; i < n; i++) {
    const [port, pub] = await listenOne(i, chain);
    console.log(`PEER ${port} ${pub}`);
  }
  console.log('READY');
  const rl = readline.createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    const [cmd, arg] = line.trim().split(/\s+/);
    if (cmd === 'KILL') {
      for (const s of sessions) s.destroy();
    } else if (cmd === 'SEND') {
      const k = Number(arg);
      if (!graph) graph = readGraph(process.argv[4]);
      const batch = graph.slice(next, next + k);
      next += batch.length;
      for (const s of sessions) for (const m of batch) s.write(m);
      console.log(`SENT ${batch.length} to ${sessions.size}`);
    }
  });
  process.on('SIGTERM', () => process.exit(0));
}

main();
