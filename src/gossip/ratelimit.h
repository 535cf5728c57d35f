/*~ Token buckets keyed by a u64 (internal to src/gossip): a burst, then one
 * token per interval.  Used per channel direction for channel_update. */
#ifndef COLDNODE_GOSSIP_RATELIMIT_H
#define COLDNODE_GOSSIP_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct gossip_rl;

struct gossip_rl *gossip_rl_new(unsigned burst, double interval);
void gossip_rl_free(struct gossip_rl *rl);
/* Take a token for @key at time @now (seconds); false if none left. */
bool gossip_rl_take(struct gossip_rl *rl, uint64_t key, double now);
/* Forget buckets that are full again at @now (they behave as new ones). */
void gossip_rl_sweep(struct gossip_rl *rl, double now);

#endif
