/*~ sd_notify through libsystemd: it knows every form $NOTIFY_SOCKET takes
 * (a path, an abstract "@name", vsock in newer systemd) and checks
 * $WATCHDOG_PID against our pid; the datagram protocol is simple but
 * those corners are not worth rewriting.  Messages are newline-separated
 * VAR=value lines in one datagram.
 */
#include "daemon/notify.h"

#include "common/common.h"

#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>

struct daemon_notify {
	struct ev_loop *loop; /* borrowed */
	ev_timer watchdog;
	bool watchdog_on;
	char last_status[512];
};

static void send_msg(const char *msg)
{
	int r = sd_notify(0, msg);

	if (r < 0)
		log_unusual("MAIN", "sd_notify: %s", strerror(-r));
}

static void on_watchdog(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
	send_msg("WATCHDOG=1");
}

struct daemon_notify *daemon_notify_new(struct ev_loop *loop)
{
	struct daemon_notify *n = calloc(1, sizeof(*n));
	uint64_t usec = 0;

	if (!n)
		return NULL;
	n->loop = loop;
	/* sd_watchdog_enabled(3): "half the time" is the recommended
	 * interval. */
	if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
		double every = (double)usec / 2e6;
		ev_timer_init(&n->watchdog, on_watchdog, every, every);
		ev_timer_start(loop, &n->watchdog);
		n->watchdog_on = true;
		log_info("MAIN", "systemd watchdog: WATCHDOG=1 every %.3fs",
			 every);
	}
	return n;
}

void daemon_notify_free(struct daemon_notify *n)
{
	if (!n)
		return;
	if (n->watchdog_on)
		ev_timer_stop(n->loop, &n->watchdog);
	free(n);
}

void daemon_notify_ready(struct daemon_notify *n, const char *status)
{
	char msg[600];

	snprintf(n->last_status, sizeof(n->last_status), "%s", status);
	snprintf(msg, sizeof(msg), "READY=1\nSTATUS=%s", status);
	send_msg(msg);
}

void daemon_notify_status(struct daemon_notify *n, const char *state,
			  const char *cause)
{
	char status[512], msg[600];

	snprintf(status, sizeof(status), "%s: %s", state, cause);
	/* One line: STATUS is a single variable. */
	for (char *p = status; *p; p++)
		if (*p == '\n')
			*p = ' ';
	if (strcmp(status, n->last_status) == 0)
		return;
	memcpy(n->last_status, status, sizeof(status));
	snprintf(msg, sizeof(msg), "STATUS=%s", status);
	send_msg(msg);
}

void daemon_notify_stopping(struct daemon_notify *n)
{
	send_msg("STOPPING=1\nSTATUS=stopping");
}
