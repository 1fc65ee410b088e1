"""The embedded CDMI 1.1.1 endpoint (aiohttp), on the same loop and store as SSH.

Thin like the SSH front end: it maps HTTP to :class:`~omsh.store.view.StoreView`
operations, so every access is decided by the same ``check_access`` and every
change keeps the same catalog and audit trail.  Modules:

* :mod:`~omsh.cdmi.protocol` — media types, version negotiation, URIs,
  selectors, JSON answers and errors;
* :mod:`~omsh.cdmi.auth` — HTTP Basic against the store's principals;
* :mod:`~omsh.cdmi.bodies` — CDMI JSON request bodies, checked up front;
* :mod:`~omsh.cdmi.representation` — the JSON bodies CDMI defines, capabilities;
* :mod:`~omsh.cdmi.context` — the parsed request and the store plumbing;
* :mod:`~omsh.cdmi.containers`, :mod:`~omsh.cdmi.dataobjects` — the handlers;
* :mod:`~omsh.cdmi.updates` — metadata, ``cdmi_acl``, copy and move;
* :mod:`~omsh.cdmi.values`, :mod:`~omsh.cdmi.staging` — values out and in;
* :mod:`~omsh.cdmi.handlers` — the entry point and dispatch;
* :mod:`~omsh.cdmi.server` — the application and its listener.

Deliberate choices where CDMI 1.1.1 leaves room or this server does less:

* ``domainURI`` is never returned and is ignored in requests: there are no
  domains (``cdmi_domains`` is ``"false"``); CDMI 1.1.1 §12.1.1 makes the
  field optional in that case.
* A selection that returns ``value`` or ``children`` also returns
  ``valuerange``/``valuetransferencoding`` or ``childrenrange``: a client
  cannot use a partial value or listing without knowing what it got.
* ``valuetransferencoding`` ``json`` is refused (400); ``utf-8`` and
  ``base64`` are supported, and a value reads back the way it was written.
* Clients may send system metadata (``cdmi_size``…) back, as read; it is
  ignored.  Only ``cdmi_acl`` is writable.
* ``cdmi_size`` of a container is its number of children, as in the shell.
* User metadata keep their JSON type: a number or boolean is stored as one,
  a JSON string stays a string even when it looks like a number or a date
  (the shell types bare text; JSON already says what a value is).
"""
