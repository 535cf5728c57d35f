// BOLT 8 + BOLT 1 peer built on @node-dlc/noise (an independent BOLT 8
// implementation), driven by test_noise_interop.py.
//
//   node noise_peer.js client HOST PORT NODEID CHAINHEX
//       dial coldnode, exchange init, ping it, check the pong length.
//   node noise_peer.js hold HOST PORT NODEID CHAINHEX
//       as client, then stay connected: print "OK client", answer pings,
//       and for each "ping" line on stdin send a ping and print "PONG"
//       when it is answered (a session kept across the signer's loss).
//   node noise_peer.js server CHAINHEX
//       listen on 127.0.0.1:0, print "LISTEN <port> <pubkey>", accept one
//       coldnode, exchange init, ping it, answer its pings, print
//       "REMOTE <pubkey>" and exit 0 once both directions worked.
'use strict';

const crypto = require('crypto');
const noise = require('@node-dlc/noise');

const PING_LEN = 1234;

function fail(msg) {
  console.error('FAIL: ' + msg);
  process.exit(1);
}

function u16(n) {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

// init: no globalfeatures, no features, networks = [chain].
function initMsg(chain) {
  return Buffer.concat([u16(16), u16(0), u16(0), Buffer.from([1, 32]), chain]);
}

function pingMsg(numPongBytes) {
  return Buffer.concat([u16(18), u16(numPongBytes), u16(0)]);
}

function pongMsg(len) {
  return Buffer.concat([u16(19), u16(len), Buffer.alloc(len)]);
}

// Check coldnode's init: type 16 and its networks TLV holds @chain.
function checkInit(m, chain) {
  if (m.readUInt16BE(0) !== 16) fail('first message is not init');
  let off = 2;
  const gflen = m.readUInt16BE(off);
  off += 2 + gflen;
  const flen = m.readUInt16BE(off);
  off += 2 + flen;
  let sawChain = false;
  while (off < m.length) {
    const type = m[off];
    const len = m[off + 1];
    if (type === 1 && m.slice(off + 2, off + 2 + len).equals(chain)) sawChain = true;
    off += 2 + len;
  }
  if (!sawChain) fail('init networks TLV does not hold our chain');
}

// Runs the BOLT 1 part on a ready NoiseSocket; calls done() once init was
// exchanged, our ping was answered with PING_LEN bytes and (if
// @wantTheirPing) we answered one of theirs.
function speak(sock, chain, wantTheirPing, done) {
  let gotInit = false;
  let gotPong = false;
  let answered = !wantTheirPing;
  sock.write(initMsg(chain));
  sock.on('data', (m) => {
    const type = m.readUInt16BE(0);
    if (!gotInit) {
      checkInit(m, chain);
      gotInit = true;
      sock.write(pingMsg(PING_LEN));
      return;
    }
    if (type === 19) {
      const len = m.readUInt16BE(2);
      if (len !== PING_LEN) fail(`pong of ${len} bytes, asked ${PING_LEN}`);
      if (m.length !== 4 + PING_LEN) fail('pong body length mismatch');
      gotPong = true;
    } else if (type === 18) {
      const want = m.readUInt16BE(2);
      if (want < 65532) sock.write(pongMsg(want));
      answered = true;
    }
    if (gotPong && answered) done();
  });
  sock.on('error', (e) => fail('socket error: ' + e.message));
}

function main() {
  const mode = process.argv[2];
  const ls = crypto.randomBytes(32);
  if (mode === 'hold') {
    const [host, port, nodeId, chainHex] = process.argv.slice(3);
    const sock = noise.connect({
      ls, rpk: Buffer.from(nodeId, 'hex'), host, port: Number(port),
    });
    const t = setTimeout(() => fail('timed out'), 20000);
    let ok = false;
    sock.on('ready', () => {
      speak(sock, Buffer.from(chainHex, 'hex'), false, () => {
        if (ok) return;
        ok = true;
        clearTimeout(t);
        sock.on('data', (m) => {
          if (m.readUInt16BE(0) === 19) console.log('PONG');
        });
        console.log('OK client');
      });
    });
    sock.on('error', (e) => fail('connect: ' + e.message));
    sock.on('close', () => { console.log('CLOSED'); process.exit(0); });
    process.stdin.on('data', (d) => {
      for (const l of d.toString().split('\n')) {
        if (l.trim() === 'ping') sock.write(pingMsg(PING_LEN));
      }
    });
    process.stdin.on('end', () => process.exit(0));
    return;
  }
  setTimeout(() => fail('timed out'), 20000).unref();
  if (mode === 'client') {
    const [host, port, nodeId, chainHex] = process.argv.slice(3);
    const chain = Buffer.from(chainHex, 'hex');
    const sock = noise.connect({
      ls,
      rpk: Buffer.from(nodeId, 'hex'),
      host,
      port: Number(port),
    });
    sock.on('ready', () => {
      speak(sock, chain, false, () => {
        console.log('OK client');
        sock.end();
        process.exit(0);
      });
    });
    sock.on('error', (e) => fail('connect: ' + e.message));
  } else if (mode === 'server') {
    const chain = Buffer.from(process.argv[3], 'hex');
    const server = noise.createServer({ ls }, (sock) => {
      sock.on('ready', () => {
        console.log('REMOTE ' + sock.rpk.toString('hex'));
        speak(sock, chain, true, () => {
          console.log('OK server');
          sock.end();
          server.close();
          process.exit(0);
        });
      });
    });
    server.listen({ host: '127.0.0.1', port: 0 }, () => {
      const ecdh = crypto.createECDH('secp256k1');
      ecdh.setPrivateKey(ls);
      const pub = ecdh.getPublicKey(null, 'compressed').toString('hex');
      console.log(`LISTEN ${server.address().port} ${pub}`);
    });
  } else {
    fail('usage: noise_peer.js client|server ...');
  }
}

main();
