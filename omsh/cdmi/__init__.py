"""The embedded CDMI 1.1.1 endpoint (aiohttp), on the same loop and store as SSH.

Thin like the SSH front end: it maps HTTP to :class:`~omsh.store.view.StoreView`
operations, so every access is decided by the same ``check_access`` and every
change keeps the same catalog and audit trail.  The modules, in the order
a request meets them (ARCHITECTURE §3 follows a PUT through them):

* :mod:`~omsh.cdmi.server` — the aiohttp application and its listener;
* :mod:`~omsh.cdmi.dispatch` — the entry point: negotiate, authenticate,
  route to a handler, turn errors into statuses;
* :mod:`~omsh.cdmi.protocol` — media types, version negotiation, URIs,
  selectors, JSON answers and errors;
* :mod:`~omsh.cdmi.auth` — HTTP Basic against the store's principals;
* :mod:`~omsh.cdmi.context` — the parsed request, locating its target, the
  store plumbing (worker threads, loop reads, group commit);
* :mod:`~omsh.cdmi.containers`, :mod:`~omsh.cdmi.dataobjects` — the handlers;
* :mod:`~omsh.cdmi.bodies` — CDMI JSON request bodies, checked up front;
* :mod:`~omsh.cdmi.values`, :mod:`~omsh.cdmi.staging` — values out and in;
* :mod:`~omsh.cdmi.updates` — metadata, ``cdmi_acl``, copy and move;
* :mod:`~omsh.cdmi.representation` — the JSON bodies CDMI defines, capabilities;
* :mod:`~omsh.cdmi.changes` — ``GET /cdmi_changes``, the change feed (an
  extension: ``watch`` as server-sent events, resumable by ``Last-Event-ID``).

Browsers share the port: :meth:`~omsh.cdmi.dispatch.CdmiService.handle`
first asks :func:`omsh.web.negotiation.claims` and hands a browser's request
(a GET preferring ``text/html``, no ``X-CDMI-Specification-Version``, no
CDMI selector; or anything below ``/_omsh/``) to :mod:`omsh.web`, which
answers HTML pages.  Everything else is answered here exactly as before.

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
* A container named without its trailing ``/``, or a data object with one,
  is answered ``301`` with the right URI in ``Location`` (§9.1) for every
  method but a data object PUT, which conflicts (409) with a container
  there; a bare ``/cdmi_objectid/ID`` names either kind and is answered.
* ``/cdmi_objectid/ID/NAME/...`` is the path NAME/... below the container
  with that ID (§5.10), for every method and as a copy/move source.
* Names starting with ``cdmi_`` are never created over CDMI (400, §9.1.2);
  objects so named by other means can still be read and changed.
* A ranged read sends the bytes of the range, base64-encoded when the value
  was written as base64 or the bytes are not whole UTF-8 (a range may cut a
  character); a ranged update keeps a base64 value base64 (§8.3, §8.4).
* A copy or move from a missing source is 404, naming the source.  A CDMI
  create without ``mimetype`` gets ``text/plain`` (§8.2.5); media types are
  kept and compared in lower case.
* The root container has neither ``parentURI`` nor ``parentID`` (it is in
  no container); the capabilities root's parent is the root container.
* ``cdmi_acl`` lists the object's own ACEs; inherited ones are not repeated
  (``acl PATH`` in the shell shows them).
* Versions spelled ``1.0.N`` with a suffix (libcdmi 0.1.2 sends ``1.0.1h``)
  are answered as ``1.0.2``; anything else unknown is a 400 that lists the
  supported versions.  Only HTTP Basic is spoken: a Digest attempt gets 401
  with a ``Basic`` challenge, so the client falls back.
* ``GET /cdmi_changes?since=TXN&path=/x&query=EXPR&until=now`` is an
  extension, not CDMI: the ``watch`` change feed as server-sent events
  (``text/event-stream``, chosen over long-polling because one response
  carries every event with no gap between polls and ``EventSource``
  resumes by itself from the ``id:``, the transaction id).  Same
  authentication and per-event ACL filtering as ``watch``.
* ``PUT CONTAINER/?query=EXPR`` (an omsh extension, CDMI has no bulk
  update) with a CDMI container body holding only ``metadata`` sets those
  items on every object below the container that the query shows the
  caller, in one transaction, as ``set-meta --query``: ``200`` with
  ``{"query", "count", "changed"}`` (``application/json``), ``400`` with a
  one-line message for a malformed query or another field, ``403`` and
  nothing changed if the caller may not change one match.  Items are
  merged (none deleted); ``cdmi_acl`` is refused.
* User metadata keep their JSON type: a number or boolean is stored as one,
  a JSON string stays a string even when it looks like a number or a date
  (the shell types bare text; JSON already says what a value is).
"""
