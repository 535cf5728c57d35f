/* The signer set's decisions (src/supervisor/signerset.c), by table:
 * admission, the role a key-checked signer gets, which standby takes
 * over, and what each loss means for the state machine. */
#include "supervisor/supervisor.h"

#include <stdint.h>

#include "check.h"

#define A SV_ROLE_ACTIVE
#define S SV_ROLE_STANDBY
#define C SV_ROLE_CHECKING
#define NONE SIZE_MAX

struct loss_row {
	const char *what;
	enum sv_role lost;
	size_t n;
	struct sv_set_member rest[4];
	bool fsm;
	enum sv_event ev;
	size_t promote;
	bool requeue;
};

static const struct loss_row loss[] = {
	{ "last active signer", A, 0, { { 0 } },
	  true, SV_EV_SIGNER_LOST, NONE, false },
	{ "active, one healthy standby", A, 1, { { S, true, 2 } },
	  true, SV_EV_FAILOVER, 0, false },
	{ "active, the oldest standby wins", A, 3,
	  { { S, true, 7 }, { S, true, 3 }, { S, true, 5 } },
	  true, SV_EV_FAILOVER, 1, false },
	{ "active, the oldest is unhealthy", A, 3,
	  { { S, true, 7 }, { S, false, 3 }, { S, true, 5 } },
	  true, SV_EV_FAILOVER, 2, false },
	{ "active, only unhealthy standbys", A, 2,
	  { { S, false, 3 }, { S, false, 4 } },
	  true, SV_EV_SIGNER_LOST, NONE, false },
	{ "active, only a stream still checking", A, 1, { { C, true, 0 } },
	  true, SV_EV_SIGNER_LOST, NONE, false },
	{ "active, checking + standby", A, 2,
	  { { C, true, 0 }, { S, true, 9 } },
	  true, SV_EV_FAILOVER, 1, false },
	{ "a standby: nothing moves", S, 1, { { A, true, 1 } },
	  false, SV_EV_SIGNER_LOST, NONE, true },
	{ "a standby among standbys", S, 2, { { A, true, 1 }, { S, true, 4 } },
	  false, SV_EV_SIGNER_LOST, NONE, true },
	{ "checking, an active one is there", C, 1, { { A, true, 1 } },
	  false, SV_EV_SIGNER_LOST, NONE, true },
	{ "checking, no active signer", C, 0, { { 0 } },
	  true, SV_EV_SIGNER_LOST, NONE, true },
	{ "checking, another checking", C, 1, { { C, true, 0 } },
	  true, SV_EV_SIGNER_LOST, NONE, true },
};

int main(void)
{
	/* Admission: lnd's one signer at max 1; 0 is treated as 1. */
	CHECK(sv_set_admit(0, 1));
	CHECK(!sv_set_admit(1, 1));
	CHECK(sv_set_admit(0, 0));
	CHECK(!sv_set_admit(1, 0));
	CHECK(sv_set_admit(1, 2));
	CHECK(!sv_set_admit(2, 2));
	CHECK(sv_set_admit(15, SV_MAX_SIGNERS));
	CHECK(!sv_set_admit(16, SV_MAX_SIGNERS));

	/* Role: the first key-checked signer is active, later ones wait. */
	CHECK(sv_set_role_on_ready(false) == SV_ROLE_ACTIVE);
	CHECK(sv_set_role_on_ready(true) == SV_ROLE_STANDBY);

	for (size_t i = 0; i < CN_ARRAY_SIZE(loss); i++) {
		const struct loss_row *x = &loss[i];
		struct sv_set_loss d = sv_set_on_loss(x->lost, x->rest, x->n);
		if (d.fsm != x->fsm || (d.fsm && d.ev != x->ev) ||
		    d.promote != x->promote || d.requeue != x->requeue)
			fprintf(stderr, "row %zu: %s\n", i, x->what);
		CHECK(d.fsm == x->fsm);
		if (x->fsm)
			CHECK(d.ev == x->ev);
		CHECK(d.promote == x->promote);
		CHECK(d.requeue == x->requeue);
		/* Invariants: a failover always names who takes over, and
		 * only the active signer's loss moves the state. */
		CHECK((d.fsm && d.ev == SV_EV_FAILOVER) ==
		      (d.promote != NONE));
		if (d.promote != NONE) {
			CHECK(x->rest[d.promote].role == SV_ROLE_STANDBY);
			CHECK(x->rest[d.promote].healthy);
		}
		if (x->lost == SV_ROLE_ACTIVE)
			CHECK(d.fsm && !d.requeue);
	}

	/* Every FSM step a loss can produce is valid from ACTIVE. */
	CHECK(sv_fsm_step(SV_ACTIVE, SV_EV_FAILOVER).valid);
	CHECK(sv_fsm_step(SV_ACTIVE, SV_EV_FAILOVER).next == SV_ACTIVE);

	CHECK(strcmp(sv_role_str(SV_ROLE_ACTIVE), "active") == 0);
	CHECK(strcmp(sv_role_str(SV_ROLE_STANDBY), "standby") == 0);
	return check_exit();
}
