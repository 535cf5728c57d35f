'use strict';
// bitcoind-ZMQ publisher for bcoin: a test double of bitcoind's ZMQ
// interface (-zmqpubrawtx, -zmqpubrawblock), which bcoin does not have.
// It follows a running bcoin node over its websocket API (mempool `tx`,
// chain `block connect`) and publishes what bitcoind would, on two PUB
// sockets: three frames, topic "rawtx"/"rawblock", the raw transaction or
// block, and a 4-byte little-endian sequence number counted per topic from
// 0 (bitcoind's src/zmq/zmqpublishnotifier.cpp as documented in doc/zmq.md).
//
//   node zmq-publisher.js '{"port":BCOIN_HTTP_PORT,"apiKey":"...",
//                           "endpoints":{"rawtx":..., "rawblock":...}}'
// prints one line {"rawtx":"tcp://127.0.0.1:P","rawblock":"tcp://..."} once
// subscribed.  "endpoints" (optional) binds those instead of free ports: a
// bitcoind restarted with the same -zmqpub* options, counting from 0
// again.  Commands on stdin, one a line:
//   drop rawtx N    the next N rawtx messages are counted but not sent (a
//                   sequence gap, as a full queue in bitcoind makes one)
//   subscribed      answers ok once both topics have a subscriber (a
//                   message published before is lost to it: ZMQ's "slow
//                   joiner"); XPUB sockets only to see the subscriptions,
//                   the subscriber sees a PUB socket's bytes
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
    this.sock = new zmq.XPublisher({sendHighWaterMark: 100000});
    this.seq = 0;
    this.drop = 0;
    this.queue = Promise.resolve(); // one send at a time, in order
    this.subscribers = 0;
    this.waiting = [];
  }
  async bind(endpoint) {
    await this.sock.bind(endpoint || 'tcp://127.0.0.1:0');
    this.watch();
    return this.sock.lastEndpoint;
  }
  async watch() {
    // XPUB: [1, topic...] subscribes, [0, topic...] unsubscribes.
    for await (const [m] of this.sock) {
      this.subscribers += m[0] === 1 ? 1 : -1;
      if (this.subscribers > 0)
        this.waiting.splice(0).forEach((f) => f());
    }
  }
  subscribed() {
    return this.subscribers > 0 ? Promise.resolve()
      : new Promise((f) => this.waiting.push(f));
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
  const want = opt.endpoints || {};
  const eps = {rawtx: await rawtx.bind(want.rawtx),
               rawblock: await rawblock.bind(want.rawblock)};
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
    } else if (w[0] === 'subscribed') {
      Promise.all([rawtx.subscribed(), rawblock.subscribed()])
        .then(() => process.stdout.write(`ok\n`));
    }
  });
  rl.on('close', () => process.exit(0));
}

main().catch((e) => {
  process.stderr.write(String(e.stack || e) + '\n');
  process.exit(1);
});
