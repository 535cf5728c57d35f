/*~ The verdict vocabulary: a text for each reason, and what a reason means
 * for the peer that sent it (BOLT 7 says warn, close or just ignore). */
#include "gossip/gossip.h"

const char *gossip_reason_str(enum gossip_reason r)
{
	switch (r) {
	case GOSSIP_OK: return "accepted";
	case GOSSIP_IGN_DUPLICATE: return "duplicate";
	case GOSSIP_IGN_OLDER: return "older than stored";
	case GOSSIP_IGN_HELD: return "held: channel not yet known";
	case GOSSIP_IGN_PENDING: return "waiting for its funding output check";
	case GOSSIP_REJ_CHECKS_FULL: return "funding check queue full";
	case GOSSIP_IGN_NOT_GOSSIP: return "not handled by gossip";
	case GOSSIP_REJ_TRUNCATED: return "truncated";
	case GOSSIP_REJ_BAD_ENCODING: return "bad encoding";
	case GOSSIP_REJ_ZLIB: return "zlib encoding refused";
	case GOSSIP_REJ_WRONG_CHAIN: return "unknown chain_hash";
	case GOSSIP_REJ_BAD_KEY: return "invalid public key";
	case GOSSIP_REJ_NODE_ORDER: return "node_id_1 is not the lesser";
	case GOSSIP_REJ_BAD_NODE_SIG_1: return "Bad node_signature_1";
	case GOSSIP_REJ_BAD_NODE_SIG_2: return "Bad node_signature_2";
	case GOSSIP_REJ_BAD_BTC_SIG_1: return "Bad bitcoin_signature_1";
	case GOSSIP_REJ_BAD_BTC_SIG_2: return "Bad bitcoin_signature_2";
	case GOSSIP_REJ_BAD_SIG: return "Bad signature";
	case GOSSIP_REJ_BAD_ADDRESS: return "bad address descriptors";
	case GOSSIP_REJ_UTXO: return "funding output missing or spent";
	case GOSSIP_REJ_UNVERIFIED_CAP: return "unverified channel cap reached";
	case GOSSIP_REJ_TS_FUTURE: return "timestamp too far in the future";
	case GOSSIP_REJ_TS_STALE: return "timestamp older than two weeks";
	case GOSSIP_REJ_TS_CONFLICT: return "same timestamp, different content";
	case GOSSIP_REJ_UNKNOWN_CHANNEL: return "unknown channel";
	case GOSSIP_REJ_UNKNOWN_NODE: return "node has no announced channel";
	case GOSSIP_REJ_RATE_LIMITED: return "rate limited";
	case GOSSIP_REJ_UNEXPECTED: return "reply without a query";
	case GOSSIP_REJ_BAD_REPLY: return "reply does not match the query";
	case GOSSIP_REJ_BUSY: return "query while one is outstanding";
	case GOSSIP_REJ_STORE: return "store failure";
	case GOSSIP_NUM_REASONS: break;
	}
	return "invalid reason";
}

enum gossip_action gossip_reason_action(enum gossip_reason r)
{
	switch (r) {
	case GOSSIP_OK:
	case GOSSIP_IGN_DUPLICATE:
	case GOSSIP_IGN_OLDER:
	case GOSSIP_IGN_HELD:
	case GOSSIP_IGN_PENDING:
	case GOSSIP_REJ_CHECKS_FULL:
	case GOSSIP_IGN_NOT_GOSSIP:
	/* BOLT 7: "if the specified chain_hash is unknown to the receiver:
	 * MUST ignore the message." */
	case GOSSIP_REJ_WRONG_CHAIN:
	/* Timestamps and unknown channels: the sender may just be behind or
	 * ahead; CLN and lnd ignore these quietly too. */
	case GOSSIP_REJ_TS_FUTURE:
	case GOSSIP_REJ_TS_STALE:
	case GOSSIP_REJ_UNKNOWN_CHANNEL:
	case GOSSIP_REJ_UNKNOWN_NODE:
	case GOSSIP_REJ_UTXO:
	/* Our own limit: the sender may be honest, we just keep no more. */
	case GOSSIP_REJ_UNVERIFIED_CAP:
	/* Our problem, not the peer's. */
	case GOSSIP_REJ_STORE:
	/* Flooding is handled by a per-peer budget (see gossip.c). */
	case GOSSIP_REJ_RATE_LIMITED:
		return GOSSIP_ACT_NONE;
	/* BOLT 7 (channel_announcement, node_announcement): "if signature is
	 * not a valid signature ... SHOULD send a warning. MAY close the
	 * connection. MUST ignore the message." */
	case GOSSIP_REJ_BAD_NODE_SIG_1:
	case GOSSIP_REJ_BAD_NODE_SIG_2:
	case GOSSIP_REJ_BAD_BTC_SIG_1:
	case GOSSIP_REJ_BAD_BTC_SIG_2:
	case GOSSIP_REJ_BAD_KEY:
	case GOSSIP_REJ_NODE_ORDER:
	/* "Same timestamp with different fields: MAY blacklist". */
	case GOSSIP_REJ_TS_CONFLICT:
	case GOSSIP_REJ_BUSY:
		return GOSSIP_ACT_WARN;
	/* BOLT 7 (channel_update): "if signature is not a valid signature
	 * ... SHOULD send a warning and close the connection."  BOLT 1: a
	 * known message too short means close.  Zlib is forbidden. */
	case GOSSIP_REJ_BAD_SIG:
	case GOSSIP_REJ_TRUNCATED:
	case GOSSIP_REJ_BAD_ENCODING:
	case GOSSIP_REJ_ZLIB:
	case GOSSIP_REJ_BAD_ADDRESS:
	case GOSSIP_REJ_UNEXPECTED:
	case GOSSIP_REJ_BAD_REPLY:
		return GOSSIP_ACT_CLOSE;
	case GOSSIP_NUM_REASONS:
		break;
	}
	return GOSSIP_ACT_CLOSE;
}
