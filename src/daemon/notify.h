/*~ notify: systemd's service notification protocol (sd_notify(3)), for
 * Type=notify units.  Internal to the daemon.  Without $NOTIFY_SOCKET every
 * call is a no-op, so running outside systemd costs nothing.
 */
#ifndef COLDNODE_DAEMON_NOTIFY_H
#define COLDNODE_DAEMON_NOTIFY_H

struct ev_loop;
struct daemon_notify;

/* Starts the watchdog timer on @loop (borrowed) if systemd asked for one
 * ($WATCHDOG_USEC for our pid): WATCHDOG=1 every half period, from the
 * loop, so a stuck loop is restarted.  NULL on allocation failure. */
struct daemon_notify *daemon_notify_new(struct ev_loop *loop);
void daemon_notify_free(struct daemon_notify *n); /* NULL ok */

/* READY=1 with a STATUS= line (@status borrowed). */
void daemon_notify_ready(struct daemon_notify *n, const char *status);
/* STATUS=@state: @cause, sent when it differs from the last one sent. */
void daemon_notify_status(struct daemon_notify *n, const char *state,
			  const char *cause);
/* STOPPING=1. */
void daemon_notify_stopping(struct daemon_notify *n);

#endif /* COLDNODE_DAEMON_NOTIFY_H */
