/* The supervisor state machine, exhaustively: every (state, event) pair. */
#include "supervisor/supervisor.h"

#include "check.h"

#define LOSS (SV_ACT_NEXT_GENERATION | SV_ACT_FAIL_SENT | SV_ACT_DENY_FULL | \
	      SV_ACT_CLOSE_FULL)
#define READY (SV_ACT_ALLOW_FULL | SV_ACT_USE_EARLY | SV_ACT_SEND_QUEUED | \
	       SV_ACT_IDENTITY_DIALS | SV_ACT_REDIAL)
#define SAFE (LOSS | SV_ACT_SAFE_DIALS)
#define FAILOVER (SV_ACT_NEXT_GENERATION | SV_ACT_RESEND_SENT)
#define SHUT (SV_ACT_NEXT_GENERATION | SV_ACT_FAIL_SENT | SV_ACT_FAIL_QUEUED | \
	      SV_ACT_DENY_FULL | SV_ACT_DROP_SIGNER)

struct expect {
	enum sv_state s;
	enum sv_event e;
	bool valid;
	enum sv_state next;
	unsigned actions;
};

static const struct expect table[] = {
	{ SV_WAITING_FOR_SIGNER, SV_EV_LOCAL_KEY, true, SV_ACTIVE, READY },
	{ SV_WAITING_FOR_SIGNER, SV_EV_SIGNER_READY, true, SV_ACTIVE, READY },
	{ SV_WAITING_FOR_SIGNER, SV_EV_SIGNER_LOST, true, SV_WAITING_FOR_SIGNER, LOSS },
	{ SV_WAITING_FOR_SIGNER, SV_EV_SHUTDOWN, true, SV_SHUTTING_DOWN, SHUT },
	{ SV_WAITING_FOR_SIGNER, SV_EV_FAILOVER, false, SV_WAITING_FOR_SIGNER, 0 },
	{ SV_ACTIVE, SV_EV_LOCAL_KEY, false, SV_ACTIVE, 0 },
	{ SV_ACTIVE, SV_EV_SIGNER_READY, false, SV_ACTIVE, 0 },
	{ SV_ACTIVE, SV_EV_SIGNER_LOST, true, SV_SAFE_MODE, SAFE },
	{ SV_ACTIVE, SV_EV_SHUTDOWN, true, SV_SHUTTING_DOWN, SHUT },
	/* A standby took over: the node never leaves ACTIVE. */
	{ SV_ACTIVE, SV_EV_FAILOVER, true, SV_ACTIVE, FAILOVER },
	{ SV_SAFE_MODE, SV_EV_LOCAL_KEY, false, SV_SAFE_MODE, 0 },
	{ SV_SAFE_MODE, SV_EV_SIGNER_READY, true, SV_ACTIVE, READY },
	{ SV_SAFE_MODE, SV_EV_SIGNER_LOST, true, SV_SAFE_MODE, SAFE },
	{ SV_SAFE_MODE, SV_EV_SHUTDOWN, true, SV_SHUTTING_DOWN, SHUT },
	{ SV_SAFE_MODE, SV_EV_FAILOVER, false, SV_SAFE_MODE, 0 },
	{ SV_SHUTTING_DOWN, SV_EV_LOCAL_KEY, false, SV_SHUTTING_DOWN, 0 },
	{ SV_SHUTTING_DOWN, SV_EV_SIGNER_READY, false, SV_SHUTTING_DOWN, 0 },
	{ SV_SHUTTING_DOWN, SV_EV_SIGNER_LOST, true, SV_SHUTTING_DOWN, 0 },
	{ SV_SHUTTING_DOWN, SV_EV_SHUTDOWN, true, SV_SHUTTING_DOWN, 0 },
	{ SV_SHUTTING_DOWN, SV_EV_FAILOVER, true, SV_SHUTTING_DOWN, 0 },
};

int main(void)
{
	bool seen[SV_NUM_STATES][SV_NUM_EVENTS] = { { false } };

	for (size_t i = 0; i < CN_ARRAY_SIZE(table); i++) {
		const struct expect *x = &table[i];
		struct sv_step st = sv_fsm_step(x->s, x->e);
		if (st.valid != x->valid || st.next != x->next ||
		    st.actions != x->actions)
			fprintf(stderr, "row %zu: %s + %s\n", i,
				sv_state_str(x->s), sv_event_str(x->e));
		CHECK(st.valid == x->valid);
		CHECK(st.next == x->next);
		CHECK(st.actions == x->actions);
		seen[x->s][x->e] = true;
	}
	/* The table covers every pair. */
	for (int s = 0; s < SV_NUM_STATES; s++)
		for (int e = 0; e < SV_NUM_EVENTS; e++)
			CHECK(seen[s][e]);

	/* Invariants, whatever the table says. */
	for (int s = 0; s < SV_NUM_STATES; s++) {
		for (int e = 0; e < SV_NUM_EVENTS; e++) {
			struct sv_step st = sv_fsm_step(s, e);
			if (!st.valid) {
				/* Nothing moves on an impossible event. */
				CHECK(st.next == (enum sv_state)s);
				CHECK(st.actions == 0);
				continue;
			}
			/* Safety: outside ACTIVE, full sessions are denied
			 * and losing the signer fails everything sent. */
			if (e == SV_EV_SIGNER_LOST && s != SV_SHUTTING_DOWN) {
				CHECK(st.next != SV_ACTIVE);
				CHECK(st.actions & SV_ACT_FAIL_SENT);
				CHECK(st.actions & SV_ACT_CLOSE_FULL);
				CHECK(st.actions & SV_ACT_DENY_FULL);
				CHECK(st.actions & SV_ACT_NEXT_GENERATION);
				/* Gossip sessions are never touched, and
				 * queued requests keep waiting. */
				CHECK(!(st.actions & SV_ACT_FAIL_QUEUED));
			}
			/* Full sessions are allowed only on entering ACTIVE. */
			if (st.actions & SV_ACT_ALLOW_FULL)
				CHECK(st.next == SV_ACTIVE);
			if (st.next == SV_ACTIVE && s != SV_ACTIVE)
				CHECK(st.actions & SV_ACT_REDIAL);
			/* Once shutting down, always shutting down. */
			if (s == SV_SHUTTING_DOWN)
				CHECK(st.next == SV_SHUTTING_DOWN);
			/* A failover never touches the peers nor drops a
			 * request: what was sent is sent again. */
			if (e == SV_EV_FAILOVER) {
				CHECK(!(st.actions & (SV_ACT_FAIL_SENT |
						      SV_ACT_FAIL_QUEUED |
						      SV_ACT_CLOSE_FULL |
						      SV_ACT_DENY_FULL)));
				if (s != SV_SHUTTING_DOWN)
					CHECK(st.actions & SV_ACT_RESEND_SENT);
			}
			/* Local-key dialing exactly in safe mode, the node's
			 * identity again on entering ACTIVE. */
			if (st.actions & SV_ACT_SAFE_DIALS)
				CHECK(st.next == SV_SAFE_MODE);
			if (st.next == SV_SAFE_MODE && s != SV_SAFE_MODE)
				CHECK(st.actions & SV_ACT_SAFE_DIALS);
			if (st.next == SV_ACTIVE && s != SV_ACTIVE)
				CHECK(st.actions & SV_ACT_IDENTITY_DIALS);
			/* Early answers are used only on entering ACTIVE. */
			if (st.actions & SV_ACT_USE_EARLY)
				CHECK(st.next == SV_ACTIVE && s != SV_ACTIVE);
			CHECK(!((st.actions & SV_ACT_ALLOW_FULL) &&
				(st.actions & SV_ACT_DENY_FULL)));
		}
	}
	/* Names. */
	CHECK(strcmp(sv_state_str(SV_WAITING_FOR_SIGNER), "WAITING_FOR_SIGNER") == 0);
	CHECK(strcmp(sv_state_str(SV_SAFE_MODE), "SAFE_MODE") == 0);
	CHECK(strcmp(sv_event_str(SV_EV_SIGNER_LOST), "SIGNER_LOST") == 0);
	return check_exit();
}
