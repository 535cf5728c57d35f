/*~ The signer set's decisions, as pure functions.
 *
 * supervisor.c keeps the streams; which one answers requests, whether one
 * more may attach and what losing one means are decided here, so every
 * case is tested by table (tests/supervisor/test_signerset.c) without
 * sockets.  The rule: the node leaves ACTIVE only when no key-checked
 * signer is left.
 */
#include "supervisor/supervisor.h"

#include <stdint.h>

bool sv_set_admit(size_t attached, size_t max)
{
	/* max 0 is a configuration error caught at parse time; treat it as
	 * lnd's one signer. */
	return attached < (max ? max : 1);
}

enum sv_role sv_set_role_on_ready(bool have_active)
{
	return have_active ? SV_ROLE_STANDBY : SV_ROLE_ACTIVE;
}

size_t sv_set_pick(const struct sv_set_member *m, size_t n)
{
	size_t best = SIZE_MAX;

	for (size_t i = 0; i < n; i++) {
		if (m[i].role != SV_ROLE_STANDBY || !m[i].healthy)
			continue;
		/* Longest registered first: it has answered pings longest. */
		if (best == SIZE_MAX || m[i].ready_seq < m[best].ready_seq)
			best = i;
	}
	return best;
}

struct sv_set_loss sv_set_on_loss(enum sv_role lost_role,
				  const struct sv_set_member *rest, size_t n)
{
	struct sv_set_loss d = { .fsm = false, .ev = SV_EV_SIGNER_LOST,
				 .promote = SIZE_MAX, .requeue = false };
	bool have_active = false;

	for (size_t i = 0; i < n; i++)
		have_active |= rest[i].role == SV_ROLE_ACTIVE;

	switch (lost_role) {
	case SV_ROLE_ACTIVE:
		d.fsm = true;
		d.promote = sv_set_pick(rest, n);
		d.ev = d.promote == SIZE_MAX ? SV_EV_SIGNER_LOST
					     : SV_EV_FAILOVER;
		return d;
	case SV_ROLE_STANDBY:
		/* Nobody relied on it.  (It may still hold requests sent
		 * with its key check before another signer got active: they
		 * go back to the queue.) */
		d.requeue = true;
		return d;
	case SV_ROLE_CHECKING:
		/* It may carry requests sent with its key check: they wait
		 * for the next signer.  With an active signer attached the
		 * node's state does not move; without one the state machine
		 * hears of it (and stays where it is). */
		d.requeue = true;
		d.fsm = !have_active;
		return d;
	}
	return d;
}

const char *sv_role_str(enum sv_role r)
{
	switch (r) {
	case SV_ROLE_CHECKING:
		return "checking";
	case SV_ROLE_ACTIVE:
		return "active";
	case SV_ROLE_STANDBY:
		return "standby";
	}
	return "?";
}
