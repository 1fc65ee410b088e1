"""The ``omsh`` console script: ``serve``, ``user add``, ``check``, ``reindex``, ``pack``,
``import``.

``user add``, ``check``, ``reindex``, ``pack`` and ``import`` open the store directly and
so work while the server is stopped (a FileStorage can be opened by one
process at a time; over ZEO the server stays up).  ``check`` and ``reindex``
share their code with the shell's ``check`` (:mod:`omsh.commands.maintenance`),
``pack`` with the shell's ``pack`` (:mod:`omsh.store.retention`).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from zc.lockfile import LockError

from omsh.errors import NotFound, OmshError, UsageError
from omsh.store.database import ADMIN_USER, Store
from omsh.store.model import StoreRoot

if TYPE_CHECKING:
    from omsh.cdmi.server import CdmiListener
    from omsh.ssh.context import ServerContext

log = logging.getLogger("omsh")

DEFAULT_SSH_PORT = 2222
DEFAULT_CDMI_PORT = 8080
WORKER_THREADS = 32


def _add_storage_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--data",
        default="var",
        metavar="DIR",
        help="data folder holding Data.fs and blobs/ (default: ./var)",
    )
    group.add_argument(
        "--storage",
        metavar="URI",
        help="ZODB storage URI instead: file://, memory://, zeo://host:port, "
        "postgresql://USER@HOST:PORT/DATABASE (its password from PGPASSWORD or ~/.pgpass)",
    )


def _open_store(args: argparse.Namespace) -> Store:
    """The store the options name; one line if another process holds it open."""
    try:
        if args.storage:
            return Store.open(uri=args.storage)
        return Store.open(data_dir=args.data)
    except LockError:
        where = args.storage or args.data
        raise OmshError(
            f"{where} is in use by another process (a running omsh serve?): "
            "stop it first, or use the shell's commands"
        ) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="omsh", description="SSH shell over an object store")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the SSH server")
    _add_storage_options(serve)
    serve.add_argument(
        "--keys",
        default="keys",
        metavar="DIR",
        help="host key folder; keys/authorized_keys seeds admin (default: ./keys)",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    serve.add_argument(
        "--ssh-port",
        type=int,
        default=DEFAULT_SSH_PORT,
        help=f"SSH port, 0 for any free one (default: {DEFAULT_SSH_PORT})",
    )
    serve.add_argument(
        "--cdmi-port",
        type=int,
        default=DEFAULT_CDMI_PORT,
        help=f"CDMI (HTTP) port, 0 for any free one, -1 to disable (default: {DEFAULT_CDMI_PORT})",
    )
    serve.add_argument("--tls-cert", metavar="PEM", help="serve CDMI over HTTPS with this cert")
    serve.add_argument("--tls-key", metavar="PEM", help="the private key for --tls-cert")
    serve.add_argument(
        "--cdmi-json-limit",
        type=int,
        default=16 * 1024 * 1024,
        metavar="BYTES",
        help="largest CDMI JSON request body; larger values go as plain PUTs (default 16 MiB)",
    )
    serve.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    _add_throttle_options(serve)

    user = commands.add_parser("user", help="manage users while the server is stopped")
    user_commands = user.add_subparsers(dest="user_command", required=True)
    add = user_commands.add_parser("add", help="create a user")
    add.add_argument("name")
    add.add_argument("--admin", action="store_true", help="member of the admins group")
    add.add_argument(
        "--group",
        action="append",
        default=[],
        metavar="G",
        help="also a member of group G (created if missing); repeatable",
    )
    add.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of standard input",
    )
    add.add_argument(
        "--key", metavar="PUBKEY_FILE", help="authorize the OpenSSH public key(s) in this file"
    )
    _add_storage_options(add)

    check = commands.add_parser(
        "check", help="verify every blob against its stored hash and the catalog against the tree"
    )
    check.add_argument(
        "--repair", action="store_true", help="rebuild the catalog if it disagrees with the tree"
    )
    _add_storage_options(check)

    reindex = commands.add_parser("reindex", help="rebuild the metadata catalog from the tree")
    _add_storage_options(reindex)

    pack = commands.add_parser(
        "pack", help="remove history older than an age (snapshots keep theirs)"
    )
    pack.add_argument(
        "--keep",
        required=True,
        metavar="AGE",
        help="history to keep: an age (30d, 12h; 0 = only the current state) or an ISO time",
    )
    pack.add_argument("--dry-run", action="store_true", help="only say what the pack time would be")
    _add_storage_options(pack)
    _add_import_parser(commands)
    return parser


def _add_import_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from omsh.store.bulkload import BATCH_OBJECTS

    bulk = commands.add_parser(
        "import",
        help="bulk load a folder tree or JSON lines while the server is stopped",
        description="Load DIR (folders become containers, files objects) under --into, or "
        'the JSON lines of --jsonl FILE ({"path": P, "content": FILE, "metadata": {...}}), '
        "in transactions of --batch objects.  The input is checked whole first: a bad line "
        "stores nothing.  Running it again resumes: existing objects are replaced.",
    )
    source = bulk.add_mutually_exclusive_group(required=True)
    source.add_argument("directory", nargs="?", metavar="DIR", help="the folder tree to load")
    source.add_argument("--jsonl", metavar="FILE", help="JSON lines naming the objects")
    bulk.add_argument("--into", metavar="PATH", help="the container DIR becomes (with DIR)")
    bulk.add_argument(
        "--as",
        dest="user",
        default=ADMIN_USER,
        metavar="USER",
        help=f"store as this user, who owns the objects (default: {ADMIN_USER})",
    )
    bulk.add_argument(
        "--batch",
        type=_positive,
        default=BATCH_OBJECTS,
        metavar="N",
        help=f"objects per transaction at most (default: {BATCH_OBJECTS}; fewer when big)",
    )
    _add_storage_options(bulk)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 <= value <= 3600:
        raise argparse.ArgumentTypeError("must be between 0 and 3600 seconds")
    return value


def _add_throttle_options(serve: argparse.ArgumentParser) -> None:
    from omsh.authn import ADDRESS_DELAY_CAP, BASE_DELAY, FREE_FAILURES, USER_DELAY_CAP

    throttle = serve.add_argument_group(
        "failed-login throttling",
        f"after {FREE_FAILURES} failures the delay before the next answer doubles with each one",
    )
    throttle.add_argument(
        "--auth-delay",
        type=_seconds,
        default=BASE_DELAY,
        metavar="SECONDS",
        help=f"the first delay (default: {BASE_DELAY})",
    )
    throttle.add_argument(
        "--auth-delay-max",
        type=_seconds,
        default=ADDRESS_DELAY_CAP,
        metavar="SECONDS",
        help=f"the longest delay for one client address (default: {ADDRESS_DELAY_CAP:g})",
    )
    throttle.add_argument(
        "--auth-delay-user-max",
        type=_seconds,
        default=USER_DELAY_CAP,
        metavar="SECONDS",
        help="the longest delay for one user name, kept short so an attacked account "
        f"stays usable from elsewhere (default: {USER_DELAY_CAP:g})",
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "serve":
            return serve(args)
        if args.command == "user":
            return user_add(args)
        if args.command == "reindex":
            return reindex(args)
        if args.command == "pack":
            return pack(args)
        if args.command == "import":
            return bulk_import(args)
        return check(args)
    except OmshError as exc:
        print(f"omsh: {exc}", file=sys.stderr)
        return exc.exit_status
    except KeyboardInterrupt:
        return 130


def user_add(args: argparse.Namespace) -> int:
    """Create a user and their home offline, audited as the operating-system user who ran it.

    On a fresh (empty or missing) store this is its first start: see :func:`_first_user`.
    """
    import getpass

    from omsh.store import admin
    from omsh.store.access import ADMIN_GROUP, Principal
    from omsh.store.principals import home_path, parse_authorized_key
    from omsh.store.view import StoreView

    password = None
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise OmshError("empty password on standard input")
    keys = []
    if args.key:
        try:
            with open(args.key, encoding="utf-8") as stream:
                lines = [line for line in stream if line.strip() and not line.startswith("#")]
        except OSError as exc:
            raise OmshError(f"{args.key}: {exc.strerror}") from None
        keys = [parse_authorized_key(line) for line in lines]
    groups = [*args.group, *([ADMIN_GROUP] if args.admin else [])]

    store = _open_store(args)
    generated = None
    try:
        operator = Principal(f"omsh-cli:{getpass.getuser()}", frozenset({ADMIN_GROUP}))

        def add(root: StoreRoot) -> None:
            view = StoreView(root, operator)
            for group in groups:
                if group not in root.principals.groups:
                    admin.add_group(view, group)
            admin.add_user(view, args.name, password=password, keys=keys, groups=groups)

        if store.is_initialized():
            store.bootstrap()  # only brings the schema up to date
            store.run(add)
        else:
            generated = _first_user(store, args, add)
    finally:
        store.close()
    joined = f" (groups: {', '.join(groups)})" if groups else ""
    print(f"omsh: user {args.name} created{joined}, home {home_path(args.name)}")
    if generated:
        print(f"omsh: created user {ADMIN_USER} with password: {generated}")
    return 0


def _first_user(
    store: Store, args: argparse.Namespace, add: Callable[[StoreRoot], None]
) -> str | None:
    """Set up a fresh store with *add* as its first transaction; any generated admin password.

    ``user add NAME --admin`` makes NAME the first administrator, with the
    operator's password and keys.  A first user who is not an administrator
    comes with ``admin`` (password from ``OMSH_ADMIN_PASSWORD``, else
    generated and printed here, once), so the store stays administrable.
    """
    if args.name == ADMIN_USER and not args.admin:
        raise UsageError(f"{ADMIN_USER} is a fresh store's administrator: add --admin")
    return store.bootstrap(
        admin_password=os.environ.get("OMSH_ADMIN_PASSWORD"),
        first_admin=args.name if args.admin else ADMIN_USER,
        populate=add,
    )


def check(args: argparse.Namespace) -> int:
    """Re-hash every stored object and check the catalog (repair it with ``--repair``)."""
    from omsh.commands.maintenance import check_store, offline_runner

    store = _open_store(args)
    try:
        report = check_store(
            offline_runner(store), store=store, repair=args.repair, on_finding=print
        )
    finally:
        store.close()
    print(report.summary())
    return report.exit_status


def reindex(args: argparse.Namespace) -> int:
    """Rebuild the catalog in one transaction, with a progress line on stderr."""
    from omsh.commands.maintenance import ProgressLine, offline_runner, reindex_store

    store = _open_store(args)
    progress = ProgressLine(sys.stderr, "indexed")
    try:
        indexed = reindex_store(offline_runner(store), progress)
    finally:
        progress.close()
        store.close()
    print(f"catalog rebuilt: {indexed} objects indexed")
    return 0


def pack(args: argparse.Namespace) -> int:
    """Pack the storage to now minus ``--keep``, never past a snapshot; print what it did."""
    from omsh.store.retention import pack_store, plan_pack

    store = _open_store(args)
    try:
        if not store.is_initialized():
            raise NotFound(None, "no omsh store there: nothing to pack")
        plan = plan_pack(store, args.keep)
        lines = plan.lines(done=False) if args.dry_run else pack_store(store, plan).lines()
    finally:
        store.close()
    for line in lines:
        print(line)
    return 0


def bulk_import(args: argparse.Namespace) -> int:
    """``omsh import``: check the whole input, then load it in big transactions."""
    from omsh.commands.maintenance import ProgressLine
    from omsh.store.bulkload import items_from_jsonl, items_from_tree, load

    if args.directory is not None:
        if args.into is None:
            raise UsageError("import DIR needs --into PATH (the container DIR becomes)")
        plan = items_from_tree(args.directory, args.into)
    else:
        if args.into is not None:
            raise UsageError("--into goes with a DIR; JSON lines name whole paths")
        plan = items_from_jsonl(args.jsonl)
    store = _open_store(args)
    progress = ProgressLine(sys.stderr, "imported")
    try:
        if not store.is_initialized():
            raise NotFound(None, "no omsh store there: start it once (omsh serve) or add a user")
        store.bootstrap()  # only brings the schema up to date
        loaded = load(store, args.user, plan, batch=args.batch, progress=progress)
    finally:
        progress.close()
        store.close()
    print(
        f"imported {loaded.objects:,} objects ({loaded.containers:,} containers) in "
        f"{loaded.transactions:,} transactions, {loaded.seconds:.1f} s, {loaded.rate:,.0f}/s"
    )
    return 0


def serve(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=args.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("asyncssh").setLevel(logging.WARNING)
    return asyncio.run(_serve(args))


async def _serve(args: argparse.Namespace) -> int:
    from omsh.authn import Authenticator, ThrottlePolicy
    from omsh.commands.registry import default_registry
    from omsh.ssh.context import ServerContext
    from omsh.ssh.hostkey import fingerprint, load_or_create_host_key
    from omsh.ssh.server import start_ssh_server
    from omsh.ssh.sftp import sftp_factory
    from omsh.web.terminal import TerminalTarget

    store = _open_store(args)
    executor = ThreadPoolExecutor(max_workers=WORKER_THREADS, thread_name_prefix="omsh-worker")
    try:
        admin_keys: list[str] = []
        authorized = os.path.join(args.keys, "authorized_keys")
        if os.path.exists(authorized):
            with open(authorized, encoding="utf-8") as stream:
                admin_keys = stream.readlines()
        generated = store.bootstrap(
            admin_password=os.environ.get("OMSH_ADMIN_PASSWORD"), admin_keys=admin_keys
        )
        swept = store.sweep_staging()
        if swept:
            log.info("removed %d staged uploads left by an earlier stop", swept)
        if generated:
            # Shown once, on the terminal that started the server, never logged.
            print(f"omsh: created user admin with password: {generated}", flush=True)
        host_key = load_or_create_host_key(args.keys)
        context = ServerContext(
            store=store,
            registry=default_registry(),
            authenticator=Authenticator(
                store,
                executor,
                ThrottlePolicy(
                    base_delay=args.auth_delay,
                    address_cap=args.auth_delay_max,
                    user_cap=args.auth_delay_user_max,
                ),
            ),
            executor=executor,
        )
        server = await start_ssh_server(
            context, args.host, args.ssh_port, host_key, sftp_factory=sftp_factory(context)
        )
        port = server.sockets[0].getsockname()[1]
        print(f"omsh: host key {fingerprint(host_key)}", flush=True)
        print(f"omsh: SSH listening on {args.host}:{port}", flush=True)
        cdmi_runner = None
        if args.cdmi_port >= 0:
            cdmi_runner = await _start_cdmi(args, context)
            target = TerminalTarget(args.host, port, host_key.convert_to_public())
            cdmi_runner.service.pages.enable_terminal(target)

        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
        log.info("shutting down")
        server.close()
        await server.wait_closed()
        if cdmi_runner is not None:
            await cdmi_runner.cleanup()
        context.close()
        return 0
    finally:
        executor.shutdown(wait=False, cancel_futures=True)
        store.close()


async def _start_cdmi(args: argparse.Namespace, context: ServerContext) -> CdmiListener:
    from omsh.cdmi.dispatch import CdmiService
    from omsh.cdmi.server import start_cdmi_server, tls_context

    if bool(args.tls_cert) != bool(args.tls_key):
        raise OmshError("--tls-cert and --tls-key go together")
    ssl_context = tls_context(args.tls_cert, args.tls_key) if args.tls_cert else None
    service = CdmiService(
        context.store, context.executor, context.authenticator, json_limit=args.cdmi_json_limit
    )
    runner, port = await start_cdmi_server(
        service, args.host, args.cdmi_port, ssl_context=ssl_context
    )
    scheme = "https" if ssl_context else "http"
    print(f"omsh: CDMI listening on {scheme}://{args.host}:{port}/", flush=True)
    return runner


if __name__ == "__main__":
    sys.exit(main())
