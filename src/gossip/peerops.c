/*~ The manager's peer operations wired to the real sessions (peer.h).
 * Kept apart so the gossip core links and tests without the peer module. */
#include "gossip/gossip.h"
#include "peer/peer.h"

static void ops_warn(struct peer *p, const char *why)
{
	peer_warn(p, "%s", why);
}

static const struct gossip_peer_ops bolt1_ops = {
	.send = peer_send,
	.warn = ops_warn,
	.close = peer_close,
	.set_user = peer_set_user,
	.get_user = peer_get_user,
	.node_id = peer_node_id,
	.queued = peer_queued,
};

const struct gossip_peer_ops *gossip_peer_ops_bolt1(void)
{
	return &bolt1_ops;
}
