// A remote gossip peer built on @node-dlc/noise (BOLT 8) and @node-dlc/wire
// (BOLT 7 codec), neither written here, against a running coldnode that
// holds a synthetic graph (test_gossip_interop_peer.py starts it):
//
//   node interop_gossip_peer.js PORT NODEID CHAINHEX CHANNELS NODES TS_LO TS_HI
//
// 1. query_channel_range over every block, with timestamps and checksums:
//    the replies (parsed by @node-dlc/wire) carry every channel once, in
//    order, split across several replies, the last one complete;
// 2. query_short_channel_ids of (up to) 8,000 of those scids: every
//    channel_announcement, both updates, every node_announcement of their
//    nodes once, then reply_short_channel_ids_end;
// 3. gossip_timestamp_filter [TS_LO, TS_HI): only updates and node
//    announcements inside the window, each channel_announcement before its
//    updates.
// Prints "OK ..." and exits 0, or "FAIL: ..." and exits 1.
'use strict';

const crypto = require('crypto');
const noise = require('@node-dlc/noise');
const wire = require('@node-dlc/wire');
const common = require('@node-dlc/common');
const { EncodingType } = require('@node-dlc/wire/dist/serialize/EncodingType');

const [port, nodeId, chainHex, nChan, nNode, tsLo, tsHi] = process.argv.slice(2);
const chain = Buffer.from(chainHex, 'hex');
const CHANNELS = Number(nChan), NODES = Number(nNode);
const TS_LO = Number(tsLo), TS_HI = Number(tsHi);

function fail(msg) {
  console.log('FAIL: ' + msg);
  process.exit(1);
}
setTimeout(() => fail('timed out in step ' + step), 240000).unref();

function u16(n) { const b = Buffer.alloc(2); b.writeUInt16BE(n); return b; }
const initMsg = Buffer.concat([u16(16), u16(0), u16(0), Buffer.from([1, 32]), chain]);

let step = 'init';
const sock = noise.connect({ ls: crypto.randomBytes(32), rpk: Buffer.from(nodeId, 'hex'),
  host: '127.0.0.1', port: Number(port) });
sock.on('error', (e) => fail('socket: ' + e.message));
sock.on('close', () => { if (step !== 'done') fail('closed by coldnode in step ' + step); });

let scids = [], replies = 0, seen = new Set();
const upd = {}, nodesSeen = new Set(), annSeen = new Set();
let qCount = { 256: 0, 257: 0, 258: 0 };
let summary = [];

function startRange() {
  step = 'range';
  const q = new wire.QueryChannelRangeMessage();
  q.chainHash = chain; q.firstBlocknum = 0; q.numberOfBlocks = 0xffffffff;
  q.timestamps = true; q.checksums = true;
  sock.write(q.serialize());
}

function startScids() {
  step = 'scids';
  const q = new wire.QueryShortChannelIdsMessage();
  q.chainHash = chain;
  q.shortChannelIds = scids.slice(0, 8000);
  sock.write(q.serialize(EncodingType.Raw));
}

function startFilter() {
  step = 'filter';
  const f = new wire.GossipTimestampFilterMessage();
  f.chainHash = chain; f.firstTimestamp = TS_LO; f.timestampRange = TS_HI - TS_LO;
  sock.write(f.serialize());
  armQuiet();
}

// The backfill has no end marker, and coldnode paces it by the send queue
// (a pong may overtake what is not queued yet): once no gossip has come for
// 3 s, a ping, whose pong then follows everything sent.  The test's Python
// side checks the counts against the store, so a stall that ended this
// early fails there.
let quiet = null;
function armQuiet() {
  if (quiet) clearTimeout(quiet);
  quiet = setTimeout(() => { sock.write(Buffer.concat([u16(18), u16(8), u16(0)])); }, 3000);
}

let fUpd = 0, fNode = 0, fAnn = 0, fOut = 0, fOrder = 0;
const fAnnSent = new Set();

sock.on('ready', () => sock.write(initMsg));
sock.on('data', (m) => {
  const type = m.readUInt16BE(0);
  if (type === 18) { // their ping: answer
    const n = m.readUInt16BE(2);
    if (n < 65532) sock.write(Buffer.concat([u16(19), u16(n), Buffer.alloc(n)]));
    return;
  }
  if (step === 'init') {
    if (type !== 16) fail('first message is not init');
    startRange();
    return;
  }
  if (step === 'range' && type === 264) {
    const r = wire.ReplyChannelRangeMessage.deserialize(m);
    replies++;
    if (!r.chainHash.equals(chain)) fail('reply_channel_range chain');
    if (r.timestamps.length !== r.shortChannelIds.length ||
        r.checksums.length !== r.shortChannelIds.length)
      fail('timestamps/checksums do not match the scids');
    for (const s of r.shortChannelIds) {
      const k = s.toString();
      if (seen.has(k)) fail('scid twice: ' + k);
      if (s.block < r.firstBlocknum || s.block >= r.firstBlocknum + r.numberOfBlocks)
        fail('scid outside its reply: ' + k);
      seen.add(k);
      scids.push(s);
    }
    if (r.fullInformation && r.firstBlocknum + r.numberOfBlocks >= 0xffffffff) {
      if (scids.length !== CHANNELS) fail(`range: ${scids.length} channels, want ${CHANNELS}`);
      if (replies < 2) fail('range answer not split across replies');
      summary.push(`range: ${CHANNELS} channels in ${replies} replies`);
      startScids();
    }
    return;
  }
  if (step === 'scids') {
    if (type === 256) {
      const ca = wire.ChannelAnnouncementMessage.deserialize(m);
      if (!wire.ChannelAnnouncementMessage.verifySignatures(ca)) fail('bad channel_announcement');
      annSeen.add(ca.shortChannelId.toString());
      upd[ca.shortChannelId.toString()] = [ca.nodeId1.toString('hex'), ca.nodeId2.toString('hex')];
      qCount[256]++;
    } else if (type === 258) {
      qCount[258]++;
    } else if (type === 257) {
      const na = wire.NodeAnnouncementMessage.deserialize(m);
      const k = na.nodeId.toString('hex');
      if (nodesSeen.has(k)) fail('node_announcement twice in one answer: ' + k);
      nodesSeen.add(k);
      qCount[257]++;
    } else if (type === 262) {
      const e = wire.ReplyShortChannelIdsEndMessage.deserialize(m);
      const asked = Math.min(8000, scids.length);
      if (!e.complete) fail('full_information 0');
      if (qCount[256] !== asked || qCount[258] !== 2 * asked)
        fail(`scids: ${qCount[256]} announcements / ${qCount[258]} updates for ${asked}`);
      const want = new Set();
      for (const k of Object.keys(upd)) { want.add(upd[k][0]); want.add(upd[k][1]); }
      for (const k of want) if (!nodesSeen.has(k)) fail('node_announcement missing: ' + k);
      if (nodesSeen.size !== want.size) fail('node_announcement of a node not asked for');
      summary.push(`query_short_channel_ids: ${asked} scids, ${nodesSeen.size} node_announcements, each once`);
      startFilter();
    }
    return;
  }
  if (step === 'filter') {
    if (type === 256 || type === 257 || type === 258) armQuiet();
    if (type === 256) {
      const ca = wire.ChannelAnnouncementMessage.deserialize(m);
      fAnnSent.add(ca.shortChannelId.toString());
      fAnn++;
    } else if (type === 258) {
      const cu = wire.ChannelUpdateMessage.deserialize(m);
      if (cu.timestamp < TS_LO || cu.timestamp >= TS_HI) fOut++;
      if (!fAnnSent.has(cu.shortChannelId.toString())) fOrder++;
      fUpd++;
    } else if (type === 257) {
      const na = wire.NodeAnnouncementMessage.deserialize(m);
      if (na.timestamp < TS_LO || na.timestamp >= TS_HI) fOut++;
      fNode++;
    } else if (type === 19) {
      if (fOut) fail(`${fOut} messages outside the filter window`);
      if (fOrder) fail(`${fOrder} updates before their channel_announcement`);
      if (!fUpd || !fNode) fail(`filter: ${fUpd} updates, ${fNode} nodes`);
      summary.push(`gossip_timestamp_filter: ${fAnn} announcements, ${fUpd} updates, ${fNode} nodes, all in the window`);
      step = 'done';
      console.log('OK ' + summary.join('; '));
      console.log(`COUNTS ${fUpd} ${fNode}`);
      sock.end();
      process.exit(0);
    }
  }
});
