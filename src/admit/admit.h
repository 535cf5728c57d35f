/*~ admit: who keeps a connection slot on a listener while someone floods
 * it.  One instance per listener (RPC TCP, RPC unix socket, signer TCP,
 * signer unix socket, p2p); the RPC server, the signer port and the peer
 * manager all use this one policy.
 *
 * Connections are counted in two classes that never compete:
 *  - unauthenticated (pre-auth): accepted, not yet proven (RPC: no call
 *    with a valid macaroon yet; signer port: the same, with the
 *    signer-only macaroon; p2p: BOLT 8 handshake and `init` not done);
 *  - authenticated: proven.  A flood of the first kind never closes or
 *    refuses the second kind.
 *
 * Pre-auth rules (OpenSSH MaxStartups/PerSourceMaxStartups, Bitcoin Core's
 * inbound eviction):
 *  - a source (IPv4 address, IPv6 /64) with max_per_source pre-auth
 *    connections already gets its new one refused at accept, before any
 *    TLS or BOLT 8 work: the cheapest refusal there is;
 *  - when the pre-auth budget is full a newcomer is admitted and one
 *    pre-auth connection is evicted: the oldest of the most crowded source
 *    in the most crowded network group (IPv4 /16, IPv6 /32, all local
 *    addresses one group, as Bitcoin Core's GetGroup).  A legitimate client
 *    from its own address holds one slot, so it is evicted only once every
 *    source holds a single slot (more distinct sources than the budget).
 *
 * Sans-I/O: addresses and a clock value in, decisions and events out (the
 * evict callback).  Counters per reason; log lines at most one per second
 * per reason, with the number left unlogged.
 */
#ifndef COLDNODE_ADMIT_H
#define COLDNODE_ADMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sockaddr;
struct admit;
struct admit_slot;

enum admit_reason {
	ADMIT_REFUSED_SOURCE = 0, /* source at max_per_source: refused at accept */
	ADMIT_EVICTED,            /* pre-auth budget full: evicted for a newcomer */
	ADMIT_AUTH_FULL,          /* proved itself with max_auth open: kept pre-auth */
	ADMIT_TIMED_OUT,          /* pre-auth deadline passed (owner reports it) */
	ADMIT_NUM_REASONS
};

/* "refused_source", "evicted", "auth_full", "timed_out"; static. */
const char *admit_reason_str(enum admit_reason r);

struct admit_config {
	const char *name;      /* listener, e.g. "rpc"; borrowed (static) */
	const char *subsys;    /* log subsystem; borrowed (static) */
	size_t max_unauth;     /* pre-auth budget; > 0 (SIZE_MAX: none) */
	size_t max_auth;       /* authenticated slots; > 0 (SIZE_MAX: none) */
	size_t max_per_source; /* pre-auth per source; 0: no cap (unix) */
	/* Options named in log lines; borrowed (static), NULL: none. */
	const char *unauth_flag;
	const char *per_source_flag;
};

struct admit_cbs {
	/* Pre-auth connection @owner was evicted: close it (its slot is no
	 * longer counted; call admit_release on it when it is gone, possibly
	 * from inside this callback).  Must not call admit_accept. */
	void (*evict)(void *arg, void *owner);
	void *arg; /* borrowed */
};

/* @cfg, @cbs: copied.  Aborts on a bad config (programmer error). */
struct admit *admit_new(const struct admit_config *cfg,
			const struct admit_cbs *cbs);
/* Every slot must have been released.  NULL ok. */
void admit_free(struct admit *a);

/**
 * admit_accept - a connection was accepted from @sa.
 * @sa: borrowed; NULL or AF_UNIX for a local socket (no source cap).
 * @owner: borrowed; handed back in the evict callback.
 * @peer: borrowed; for the log line ("1.2.3.4:5").
 * @now: cn_now() (the one clock every admit call uses), for the log rate
 *    limit.
 * Returns the connection's slot (the caller owns it until admit_release),
 * or NULL: refused (counted, logged); close the socket at once.  May call
 * the evict callback (for another connection) before returning.
 */
struct admit_slot *admit_accept(struct admit *a, const struct sockaddr *sa,
				void *owner, const char *peer, double now);

/* The connection proved itself (@peer: borrowed, for a log line).
 * Returns false (and leaves it pre-auth,
 * still evictable) if max_auth authenticated connections are open. */
bool admit_authenticated(struct admit *a, struct admit_slot *s,
			 const char *peer);
bool admit_is_authenticated(const struct admit_slot *s);

/* Count (and rate-limit-log) a close the owner decided, e.g.
 * ADMIT_TIMED_OUT.  @peer, @why: borrowed; @why ends the log line
 * ("no authorised call within 10s"). */
void admit_note(struct admit *a, enum admit_reason r, const char *peer,
		const char *why, double now);

/* The connection is gone (slot freed).  NULL ok. */
void admit_release(struct admit *a, struct admit_slot *s);

struct admit_stats {
	const char *name; /* borrowed from the config */
	uint32_t unauthenticated, authenticated;
	uint64_t accepted;
	uint64_t count[ADMIT_NUM_REASONS];
	/* Filled by the listener's owner, not by admit (gRPC ports, issue
	 * 22; 0 elsewhere): requests refused for their header list (stream
	 * reset, or a pre-auth connection closed), and macaroon-less calls
	 * refused (pre-auth caps, request size). */
	uint64_t headers_refused, unauth_calls_refused;
};
void admit_get_stats(const struct admit *a, struct admit_stats *out);

#endif
