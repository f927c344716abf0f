"""The push webhook of a workspace: ``POST /erplibre_devops/webhook/<workspace id>/<token>``.

A forge (GitHub, Gitea, Forgejo, GitLab) calls it on a push; the token in the URL and the
payload's signature by the workspace's webhook secret (``X-Hub-Signature-256``,
``X-Gitea-Signature``, ``X-Gitlab-Token``) are both checked, in constant time.  A wrong token
or signature is a 403 with nothing queued.  A push of a branch the workspace tests queues a
test run that pulls first (or one after the run under way).  At most RATE_MAX calls per
workspace per minute (once its token is known good) are read (429 beyond), and at most
MAX_BODY bytes of a body (413).
"""

import json
import threading
import time
from collections import defaultdict, deque

from odoo import http
from odoo.http import request

MAX_BODY = 1 << 20
RATE_MAX = 30
RATE_WINDOW = 60.0
_calls = defaultdict(deque)
_lock = threading.Lock()


def _too_many(key):
    """Whether workspace ``key`` had RATE_MAX calls in the last minute (per worker
    process; the keys are workspaces whose token was right, so they stay few)."""
    now = time.monotonic()
    with _lock:
        for old in [k for k, c in _calls.items() if not c or now - c[-1] > RATE_WINDOW]:
            del _calls[old]
        calls = _calls[key]
        while calls and now - calls[0] > RATE_WINDOW:
            calls.popleft()
        if len(calls) >= RATE_MAX:
            return True
        calls.append(now)
        return False


def _answer(status, payload):
    return request.make_response(
        json.dumps(payload), headers=[("Content-Type", "application/json")], status=status
    )


class DevopsWebhook(http.Controller):
    @http.route(
        "/erplibre_devops/webhook/<int:workspace_id>/<string:token>",
        type="http",
        auth="public",
        methods=["POST"],
        csrf=False,
        save_session=False,
    )
    def push(self, workspace_id, token, **_kwargs):
        Workspace = request.env["devops.workspace"].sudo()
        workspace = Workspace._webhook_workspace(workspace_id, token)
        if not workspace:
            return _answer(403, {"error": "unknown webhook"})
        # Werkzeug's own request (Odoo's wrapper offers only get_data, which reads it all).
        # Odoo runs this again when a concurrent push made the transaction fail to
        # serialize: the body read and the call counted the first time are kept on it.
        raw = getattr(request.httprequest, "_HTTPRequest__wrapped", request.httprequest)
        if not getattr(raw, "_devops_counted", False):
            raw._devops_counted = True
            # Counted once the token is known good: nobody else can spend its calls.
            if _too_many(workspace.id):
                return _answer(429, {"error": "too many calls, try again in a minute"})
        length = request.httprequest.content_length
        if length is not None and length > MAX_BODY:
            return _answer(413, {"error": "payload too large"})
        body = getattr(raw, "_devops_body", None)
        if body is None:  # at most MAX_BODY + 1 bytes, whatever the body (chunked too)
            body = raw._devops_body = raw.stream.read(MAX_BODY + 1)
        if len(body) > MAX_BODY:
            return _answer(413, {"error": "payload too large"})
        status, payload = workspace._webhook_push(dict(request.httprequest.headers), body)
        return _answer(status, payload)
