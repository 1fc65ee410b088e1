"""The store in a browser: server-rendered pages on the CDMI port.

A request that prefers ``text/html`` and carries no CDMI version header is
a browser's (:mod:`~omsh.web.negotiation`); :mod:`omsh.cdmi.dispatch` hands
it here before CDMI sees it, so CDMI and plain HTTP clients see no change.
The modules, in the order a request meets them:

* :mod:`~omsh.web.negotiation` — which requests are a browser's;
* :mod:`~omsh.web.sessions` — log-in sessions (a cookie naming a
  server-side entry), their CSRF tokens, the Origin/Referer check;
* :mod:`~omsh.web.service` — the entry point: who is asking, routing, the
  forms (upload, mkdir, rm, set-meta), errors as pages;
* :mod:`~omsh.web.pages` — what a page shows, read in one transaction
  through :class:`~omsh.store.view.StoreView` (so every page goes through
  the same access decisions as the shell and CDMI);
* ``templates/`` — Jinja2 templates, autoescaped: every value is escaped.

Pages need no JavaScript.  Every form is a POST below ``/_omsh/`` (a path
prefix the browser front end keeps for itself) protected by the session's
CSRF token and an Origin/Referer check.
"""
