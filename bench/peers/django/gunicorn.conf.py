"""How the peer is served: `gunicorn -c gunicorn.conf.py`, listening on 127.0.0.1:$PORT.

Sync workers, gunicorn's default and the kind its documentation recommends for applications that
are bound by CPU and do no slow I/O, as checking an API key is (one SQLite lookup and a SHA-512).
They close each connection after its answer; in production a buffering proxy keeps the clients'
connections open and opens one to gunicorn per request, so a client pays the same here.

Two workers, one per core of the machines the benchmark runs on and as many as the other peers
run, rather than gunicorn's `2-4 x cores` rule of thumb, so that no server gets more processes.
"""

import os

wsgi_app = "peer.wsgi:application"
bind = f"127.0.0.1:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("PEER_WORKERS", "2"))
worker_class = "sync"
loglevel = "warning"
accesslog = None
