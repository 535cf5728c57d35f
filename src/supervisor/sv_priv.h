/* Internal to src/supervisor: the pieces supervisor.c uses from its
 * sibling files.  Not a public header. */
#ifndef COLDNODE_SV_PRIV_H
#define COLDNODE_SV_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* pin.c: the node key learnt from the first signer, in SQLite.
 * @path borrowed.  Returns false (logged) on a database error; *found says
 * whether a key was pinned. */
bool sv_pin_load(const char *path, uint8_t pub[33], bool *found);
bool sv_pin_store(const char *path, const uint8_t pub[33]);

struct supervisor;
struct peer_mgr;
/* supervisor.c, for keysource.c: the attached peer manager (or NULL) and
 * a slot for the adapter's state. */
struct peer_mgr *sv_peer_mgr(const struct supervisor *sv);
void **sv_keysource_slot(struct supervisor *sv);
/* keysource.c: free the adapter's state (all requests are done). */
void sv_keysource_free_all(struct supervisor *sv);

/* server.c: a connection was accepted on the signer port (@peer borrowed):
 * fires sv_cbs.signer_arriving if no signer is ready. */
void sv_connection_arrived(struct supervisor *sv, const char *peer);

#endif /* COLDNODE_SV_PRIV_H */
