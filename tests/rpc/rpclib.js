// Shared helpers for the rpc node.js tests: start the rpc_fake_node test
// double (a real rpc_node with a stubbed supervisor state), drive its
// state over stdin, and build grpc-js clients with lnd's own protos.
'use strict';
const path = require('path');
const fs = require('fs');
const os = require('os');
const {spawn} = require('child_process');

const NM = process.env.NODE_PATH ||
  path.join(__dirname, '..', 'interop', 'node_modules');
const req = m => require(path.join(NM, m));
const grpc = req('@grpc/grpc-js');
const loader = req('@grpc/proto-loader');

const LND_PROTO = path.join(NM, 'lightning', 'grpc', 'protos', 'lightning.proto');
const PROTO_DIR = process.env.PROTO_DIR || path.join(__dirname, '..', '..', 'proto');

function load(file, includeDirs) {
  return grpc.loadPackageDefinition(loader.loadSync(file, {
    keepCase: true, longs: String, enums: String, defaults: true, oneofs: true,
    includeDirs,
  }));
}

let failures = 0;
function check(cond, what) {
  if (!cond) {
    failures++;
    console.error('FAIL: ' + what);
  } else {
    console.log('ok: ' + what);
  }
}
function failed() { return failures; }

class FakeNode {
  constructor(exe, extraArgs = []) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cn-rpc-'));
    this.sock = path.join(this.dir, 'rpc.sock');
    this.proc = spawn(exe, [this.dir, this.sock, ...extraArgs],
      {stdio: ['pipe', 'pipe', 'pipe']});
    this.stderr = '';
    this.proc.stderr.on('data', d => { this.stderr += d.toString(); });
    this.lines = [];
    this.waiters = [];
    let buf = '';
    this.proc.stdout.on('data', d => {
      buf += d.toString();
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        const w = this.waiters.shift();
        if (w) w(line); else this.lines.push(line);
      }
    });
  }
  nextLine() {
    if (this.lines.length) return Promise.resolve(this.lines.shift());
    return new Promise(res => this.waiters.push(res));
  }
  async start() {
    const l = await this.nextLine();
    const m = /^PORT (\d+)/.exec(l);
    if (!m) throw new Error('fake node did not start: ' + l + this.stderr);
    this.port = Number(m[1]);
    this.addr = '127.0.0.1:' + this.port;
    return this;
  }
  async cmd(c) {
    this.proc.stdin.write(c + '\n');
    await this.nextLine();
  }
  file(name) { return fs.readFileSync(path.join(this.dir, name)); }
  macHex(name) { return this.file(name).toString('hex'); }
  async stop() {
    const done = new Promise(res => this.proc.on('exit', res));
    this.proc.stdin.write('quit\n');
    await done;
    if (/\[BRK\]|Sanitizer/.test(this.stderr)) {
      check(false, 'no BROKEN log lines or sanitizer reports:\n' + this.stderr);
    }
    fs.rmSync(this.dir, {recursive: true, force: true});
  }
}

// TLS channel credentials pinned to the node's cert, plus a macaroon
// (hex string, or null for none).
function creds(node, macHex) {
  const ssl = grpc.credentials.createSsl(node.file('tls.cert'));
  if (macHex === null) return ssl;
  return grpc.credentials.combineChannelCredentials(ssl,
    grpc.credentials.createFromMetadataGenerator((_, cb) => {
      const md = new grpc.Metadata();
      md.add('macaroon', macHex);
      cb(null, md);
    }));
}

function call(client, method, request, opts = {}) {
  return new Promise(res => {
    const deadline = new Date(Date.now() + (opts.timeout || 10000));
    client[method](request, {deadline}, (err, resp) => res({err, resp}));
  });
}

module.exports = {grpc, loader, load, LND_PROTO, PROTO_DIR, NM, check, failed,
  FakeNode, creds, call, req};
