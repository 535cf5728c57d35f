/*~ announce: our own node_announcement.  Internal to the daemon.
 *
 * BOLT 7 wants it signed with the node key, so it is made only while the
 * supervisor is ACTIVE: once per entry into ACTIVE, signed through
 * sv_sign_message (the remote signer, or the local key), then stored and
 * relayed by gossip like anyone's.  A watch-only node has no channels, so
 * it never makes a channel_update (gossip_own_chan_upd stays unused).
 */
#ifndef COLDNODE_DAEMON_ANNOUNCE_H
#define COLDNODE_DAEMON_ANNOUNCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ev_loop;
struct gossip;
struct supervisor;
struct daemon_announce;

/* Room for the descriptors we announce (BOLT 7 puts no cap of its own
 * below the message size; this keeps the message small). */
#define DAEMON_ANNOUNCE_MAX_ADDR 256

/**
 * daemon_announce_addresses - BOLT 7 address descriptors for the --listen
 * addresses worth announcing: IPv4 (type 1) then IPv6 (type 2) literals
 * that are neither unspecified (0.0.0.0, ::) nor loopback.  Host names are
 * skipped.  Port 0 means "the bound port": @first_port for listener 0, and
 * the address is skipped for the others (their port is not known).
 * @out: @cap bytes.  @listen: borrowed "host:port" / "[v6]:port" strings.
 * Returns the bytes written (descriptors that do not fit are left out).
 * Pure (addrdesc.c).
 */
size_t daemon_announce_addresses(uint8_t *out, size_t cap,
				 const char *const *listen, size_t num_listen,
				 uint16_t first_port);

struct daemon_announce_config {
	const char *alias;        /* copied (at most 32 bytes); "" for none */
	uint8_t rgb[3];
	const uint8_t *addresses; /* copied: daemon_announce_addresses' */
	size_t addresses_len;     /* at most DAEMON_ANNOUNCE_MAX_ADDR */
};

/**
 * daemon_announce_new - ready to announce @node_id (33 bytes, copied).
 * @loop, @g, @sv: borrowed; must outlive the announcer.  @cfg: copied.
 * Nothing is made until daemon_announce_sv_changed sees ACTIVE.  The
 * caller has called gossip_set_own_id(@g, @node_id).
 */
struct daemon_announce *daemon_announce_new(
	struct ev_loop *loop, struct gossip *g, struct supervisor *sv,
	const uint8_t node_id[33], const struct daemon_announce_config *cfg);
/* Cancels a signature in flight (nothing is stored).  NULL is fine. */
void daemon_announce_free(struct daemon_announce *a);

/* Call from the supervisor's `changed` callback (and once after _new):
 * on a new entry into ACTIVE, one announcement is made on the next loop
 * iteration, if the supervisor is still ACTIVE then. */
void daemon_announce_sv_changed(struct daemon_announce *a);

#endif /* COLDNODE_DAEMON_ANNOUNCE_H */
