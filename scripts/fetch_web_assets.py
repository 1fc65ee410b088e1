"""Fetch the web terminal's browser libraries from the npm registry.

``make venv`` runs this: each package named in ``omsh/web/assets.json`` is
downloaded as the registry's tarball, checked against the pinned Subresource
Integrity hash (the same ``sha512-…`` that ``npm`` records in a lock file),
and the listed files are written to ``omsh/web/static/vendor/``.  Nothing
there is edited or committed by hand.  Quick and silent when the files are
already there for these versions.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import sys
import tarfile
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "omsh" / "web" / "assets.json"
VENDOR = ROOT / "omsh" / "web" / "static" / "vendor"
STAMP = VENDOR / ".fetched"


def fetch(package: dict[str, object]) -> None:
    url = str(package["tarball"])
    with urllib.request.urlopen(url, timeout=60) as response:
        data = response.read()
    algorithm, _, expected = str(package["integrity"]).partition("-")
    digest = base64.b64encode(hashlib.new(algorithm, data).digest()).decode()
    if digest != expected:
        raise SystemExit(f"omsh: {url}: integrity check failed; refusing to install it")
    files = dict(package["files"])  # type: ignore[call-overload]
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        for member, target in files.items():
            extracted = archive.extractfile(member)
            if extracted is None:
                raise SystemExit(f"omsh: {url}: {member} is missing from the package")
            (VENDOR / target).write_bytes(extracted.read())


def main() -> int:
    lock = LOCK.read_text(encoding="utf-8")
    if STAMP.exists() and STAMP.read_text(encoding="utf-8") == lock:
        return 0
    VENDOR.mkdir(parents=True, exist_ok=True)
    for package in json.loads(lock)["packages"]:
        try:
            fetch(package)
        except OSError as error:
            print(f"omsh: cannot fetch {package['name']} from the npm registry: {error}",
                  file=sys.stderr)
            return 1
    STAMP.write_text(lock, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
