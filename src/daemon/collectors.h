/*~ collectors: the daemon's metrics collectors, one per module, reading
 * each module's read-only stats at scrape time.  Internal to the daemon.
 *
 * The handles are double pointers: p2p starts late (when the node id is
 * known) and gossip may be missing; a NULL handle writes no samples for
 * that module (its families are still declared, so dashboards see 0).
 */
#ifndef COLDNODE_DAEMON_COLLECTORS_H
#define COLDNODE_DAEMON_COLLECTORS_H

#include <stdbool.h>
#include <stdint.h>

struct metrics;
struct supervisor;
struct peer_mgr;
struct gossip;
struct rpc_server;

struct daemon_sources {
	struct supervisor *const *sv;  /* each borrowed, may point at NULL */
	struct peer_mgr *const *peers;
	struct gossip *const *gossip;
	struct rpc_server *rpc;        /* the monitoring gRPC server */
	/* The signer port (remote mode; started after the metrics). */
	struct rpc_server *const *signer_srv;
	int64_t started_unix;          /* for "signer never seen" */
	const char *version;
};

/* Adds the supervisor, peer, gossip, rpc, listener-budget and process
 * collectors to @m.
 * @src borrowed: must outlive @m.  False on allocation failure. */
bool daemon_collectors_add(struct metrics *m,
			   const struct daemon_sources *src);

/* Chain view and wallet: registered separately (their sources come up
 * after the RPC node).  @chain points at NULL with --bitcoin.node=none or
 * a backend that failed to start; @wallet NULL: none. */
struct chain;
struct wallet;
struct daemon_chain_sources {
	struct chain *const *chain; /* borrowed, may point at NULL */
	struct wallet *wallet;      /* borrowed (the RPC node's), may be NULL */
};

/* Adds the chain and wallet collectors to @m.  @src borrowed: must
 * outlive @m.  False on allocation failure. */
bool daemon_collectors_add_chain(struct metrics *m,
				 const struct daemon_chain_sources *src);

/* Leader election (docs/cluster.md): role, tokens, lease, renewals,
 * fencing refusals.  @cluster and @sv borrowed (may point at NULL); they
 * must outlive @m.  False on allocation failure. */
struct cluster;
struct daemon_cluster_sources {
	struct cluster *const *cluster;
	struct supervisor *const *sv;
};
bool daemon_collectors_add_cluster(struct metrics *m,
				   const struct daemon_cluster_sources *src);
/* The signer proxy (--signerproxy.listen; started after the metrics, so
 * @proxy points at NULL until then).  @proxy borrowed: must outlive @m. */
struct signerproxy;
bool daemon_collectors_add_signerproxy(struct metrics *m,
				       struct signerproxy *const *proxy);

#endif /* COLDNODE_DAEMON_COLLECTORS_H */
