"""The embedded CDMI 1.1.1 endpoint (aiohttp), on the same loop and store as SSH.

Thin like the SSH front end: it maps HTTP to :class:`~omsh.store.view.StoreView`
operations, so every access is decided by the same ``check_access`` and every
change keeps the same catalog and audit trail.  Modules:

* :mod:`~omsh.cdmi.protocol` — content types, version negotiation, URIs,
  query-string selectors, errors;
* :mod:`~omsh.cdmi.auth` — HTTP Basic against the store's principals;
* :mod:`~omsh.cdmi.representation` — the JSON bodies CDMI defines;
* :mod:`~omsh.cdmi.handlers` — one coroutine per method and resource kind;
* :mod:`~omsh.cdmi.server` — the application and its start-up.
"""
