'use strict';
// bitcoind-ZMQ publisher for bcoin: a test double of bitcoind's ZMQ
// interface (-zmqpubrawtx, -zmqpubrawblock), which bcoin does not have.
// It follows a running bcoin node over its websocket API (mempool `tx`,
// chain `block connect`) and publishes what bitcoind would, on two PUB
// sockets: three frames, topic "rawtx"/"rawblock", the raw transaction or
// block, and a 4-byte little-endian sequence number counted per topic from
// 0 (bitcoind's src/zmq/zmqpublishnotifier.cpp as documented in doc/zmq.md).
//
//   node zmq-publisher.js '{"port":BCOIN_HTTP_PORT,"apiKey":"..."}'
// prints one line {"rawtx":"tcp://127.0.0.1:P","rawblock":"tcp://..."} once
// subscribed.  Commands on stdin, one a line:
//   drop rawtx N    the next N rawtx messages are counted but not sent (a
//                   sequence gap, as a full queue in bitcoind makes one)
const crypto = require('crypto');
const readline = require('readline');
const zmq = require('zeromq');
const {NodeClient} = require('bclient');

function hash256(b) {
  const h = crypto.createHash('sha256').update(b).digest();
  return crypto.createHash('sha256').update(h).digest();
}

class Topic {
  constructor(name) {
    this.name = name;
    this.sock = new zmq.Publisher({sendHighWaterMark: 100000});
    this.seq = 0;
    this.drop = 0;
    this.queue = Promise.resolve(); // one send at a time, in order
  }
  async bind() {
    await this.sock.bind('tcp://127.0.0.1:0');
    return this.sock.lastEndpoint;
  }
  publish(body) {
    const seq = Buffer.alloc(4);
    seq.writeUInt32LE(this.seq >>> 0);
    this.seq = (this.seq + 1) >>> 0;
    if (this.drop > 0) {
      this.drop--;
      return;
    }
    this.queue = this.queue.then(
      () => this.sock.send([this.name, body, seq]));
  }
}

async function main() {
  const opt = JSON.parse(process.argv[2]);
  const rawtx = new Topic('rawtx');
  const rawblock = new Topic('rawblock');
  const eps = {rawtx: await rawtx.bind(), rawblock: await rawblock.bind()};
  const client = new NodeClient({host: '127.0.0.1', port: opt.port,
                                 apiKey: opt.apiKey, network: 'regtest'});
  // bcoin sends a socket only the transactions matching its bloom filter:
  // one byte of ones with one hash function matches every transaction.
  const all = Buffer.from('01ff' + '01000000' + '00000000' + '00', 'hex');
  client.bind('tx', (raw) => rawtx.publish(Buffer.from(raw)));
  let blocks = Promise.resolve();
  client.bind('block connect', (entry) => {
    const hash = Buffer.from(hash256(Buffer.from(entry).slice(0, 80)))
      .reverse().toString('hex');
    // In connect order, whole block as bitcoind publishes it.
    blocks = blocks.then(async () => {
      const hex = await client.execute('getblock', [hash, 0]);
      rawblock.publish(Buffer.from(hex, 'hex'));
    }).catch((e) => process.stderr.write(`getblock ${hash}: ${e}\n`));
  });
  await client.open();
  await client.setFilter(all);
  process.stdout.write(JSON.stringify(eps) + '\n');
  const rl = readline.createInterface({input: process.stdin});
  rl.on('line', (line) => {
    const w = line.trim().split(/\s+/);
    if (w[0] === 'drop' && (w[1] === 'rawtx' || w[1] === 'rawblock')) {
      (w[1] === 'rawtx' ? rawtx : rawblock).drop += parseInt(w[2], 10);
      process.stdout.write(`ok\n`);
    }
  });
  rl.on('close', () => process.exit(0));
}

main().catch((e) => {
  process.stderr.write(String(e.stack || e) + '\n');
  process.exit(1);
});
