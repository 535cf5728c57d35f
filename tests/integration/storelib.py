"""The gossip store read from outside a running coldnode (SQLite in WAL
mode: a second connection sees committed transactions only and does not
block the writer), for the integration tests."""
import os
import sqlite3
import time

from harness import fail


def counts(node):
    """(nodes, channels, updates): the store's meta counters; zeros while
    it does not exist yet."""
    path = os.path.join(node.datadir, 'gossip.sqlite3')
    if not os.path.exists(path):
        return (0, 0, 0)
    db = sqlite3.connect(f'file:{path}?mode=ro', uri=True, timeout=5)
    try:
        rows = dict(db.execute('SELECT k, v FROM meta').fetchall())
    except sqlite3.OperationalError:
        return (0, 0, 0)
    finally:
        db.close()
    return (int(rows.get('nodes', 0)), int(rows.get('channels', 0)),
            int(rows.get('updates', 0)))


def integrity(node):
    """SQLite's PRAGMA integrity_check of the store: 'ok' or the damage."""
    db = sqlite3.connect(os.path.join(node.datadir, 'gossip.sqlite3'),
                         timeout=5)
    try:
        return db.execute('PRAGMA integrity_check').fetchone()[0]
    finally:
        db.close()


def wait_counts(node, want, timeout=30):
    """Until @node's counts are @want; fails with its log's tail."""
    end = time.time() + timeout
    while time.time() < end:
        if counts(node) == want:
            return
        time.sleep(0.1)
    fail(f'{node.name}: counts {counts(node)}, want {want}\n' + node.tail())
