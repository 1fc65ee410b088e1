"""The CDMI cases' reference: a bare aiohttp app doing the least each case needs.

``python -m bench.cdmi_reference --small FILE --big FILE --uploads DIR`` serves,
on a free loopback port:

``GET /small``        the bytes of FILE, held in memory (4 KiB in the bench);
``GET /big``          FILE streamed with ``web.FileResponse`` (``sendfile``);
``PUT /upload/NAME``  the body written to DIR/NAME as it arrives (plain
                      blocking writes of 1 MiB chunks: no hashing, no ``fsync``);
``PUT /scratch/NAME`` the same into SCRATCH (``--scratch``, meant to be tmpfs).

No authentication, no routing beyond these three: what omsh's CDMI endpoint
is compared with is aiohttp itself.  It prints ``reference listening on
http://HOST:PORT/`` once it accepts connections.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from aiohttp import web

CHUNK = 1024 * 1024


def make_app(small: bytes, big: Path, uploads: Path, scratch: Path) -> web.Application:
    async def get_small(_: web.Request) -> web.Response:
        return web.Response(body=small, content_type="application/octet-stream")

    async def get_big(_: web.Request) -> web.FileResponse:
        return web.FileResponse(big, chunk_size=CHUNK)

    async def store(request: web.Request, folder: Path) -> web.Response:
        with (folder / request.match_info["name"]).open("wb") as stream:
            async for chunk in request.content.iter_chunked(CHUNK):
                stream.write(chunk)
        return web.Response(status=201)

    async def put(request: web.Request) -> web.Response:
        return await store(request, uploads)

    async def put_scratch(request: web.Request) -> web.Response:
        return await store(request, scratch)

    app = web.Application(client_max_size=0)
    app.router.add_get("/small", get_small)
    app.router.add_get("/big", get_big)
    app.router.add_put("/upload/{name}", put)
    app.router.add_put("/scratch/{name}", put_scratch)
    return app


async def serve(args: argparse.Namespace) -> None:
    app = make_app(args.small.read_bytes(), args.big, args.uploads, args.scratch)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, args.host, 0, backlog=1024)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    print(f"reference listening on http://{args.host}:{port}/", flush=True)
    await asyncio.Event().wait()  # until terminated


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.cdmi_reference")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--small", type=Path, required=True, help="served from memory")
    parser.add_argument("--big", type=Path, required=True, help="streamed from disk")
    parser.add_argument("--uploads", type=Path, required=True, help="where PUT bodies go")
    parser.add_argument("--scratch", type=Path, required=True, help="where /scratch/ PUTs go")
    asyncio.run(serve(parser.parse_args()))


if __name__ == "__main__":
    main()
