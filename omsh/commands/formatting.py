"""Shared text rendering for commands: tables, columns, sizes and times."""

from __future__ import annotations

import time
import unicodedata
from collections.abc import Sequence

from omsh.commands.output import Output


def display_width(text: str) -> int:
    """Terminal cells *text* occupies (East Asian wide characters count 2)."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def pad(text: str, width: int, *, right: bool = False) -> str:
    gap = " " * max(0, width - display_width(text))
    return gap + text if right else text + gap


def printable(name: str) -> str:
    """A name with control characters made visible, so output can't be spoofed."""
    if name.isprintable():
        return name
    return "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in name)


def short_time(epoch: float) -> str:
    """``ls -l`` style: date and minutes, in UTC."""
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(epoch))


def human_size(size: int, *, bytes_unit: str = "B") -> str:
    """*size* bytes as coreutils ``ls -lh``/``du -h``/``df -h`` print it.

    Powers of 1024 with one decimal under 10 (``1.0K``, ``4.5M``, ``10K``,
    ``1.3G``), always rounded up as coreutils does, so a size is never shown
    smaller than it is.  Under 1024 the bare number followed by *bytes_unit*:
    coreutils writes none (``512``), which the sizes columns pass as ``""``;
    a lone ``5B`` reads better where it stands alone (completion hints, stat).
    Exact integer arithmetic, so no float rounding moves a boundary.
    """
    if size < 1024:
        return f"{size}{bytes_unit}"
    scale = 1
    for unit in "KMGTPE":
        scale *= 1024
        tenths = -(-size * 10 // scale)  # ceil(size / scale) in tenths
        if tenths < 100:
            return f"{tenths // 10}.{tenths % 10}{unit}"
        whole = -(-size // scale)
        if whole < 1024 or unit == "E":
            return f"{whole}{unit}"
    raise AssertionError("unreachable: the last unit returns")


def render_table(
    out: Output,
    rows: Sequence[Sequence[str]],
    *,
    headers: Sequence[str] | None = None,
    right_aligned: frozenset[int] = frozenset(),
    styles: Sequence[str | None] | None = None,
) -> None:
    """Aligned columns separated by two spaces; *styles* colours whole rows."""
    table = [list(headers)] if headers else []
    table.extend(list(row) for row in rows)
    if not table:
        return
    widths = [max(display_width(row[i]) for row in table) for i in range(len(table[0]))]
    for index, row in enumerate(table):
        cells = [
            pad(cell, widths[i], right=i in right_aligned) if i < len(row) - 1 else cell
            for i, cell in enumerate(row)
        ]
        text = "  ".join(cells)
        if headers and index == 0:
            text = out.style(text, "bold")
        elif styles:
            style = styles[index - (1 if headers else 0)]
            if style:
                text = out.style(text, style)
        out.line(text)


def render_columns(out: Output, names: Sequence[str], styles: Sequence[str | None]) -> None:
    """Names in as many columns as fit the terminal width, like ``ls``."""
    if not names:
        return
    width = max(display_width(name) for name in names) + 2
    per_row = max(1, out.width // width)
    rows = (len(names) + per_row - 1) // per_row
    for row in range(rows):
        cells = []
        for column in range(per_row):
            index = column * rows + row
            if index < len(names):
                cell = pad(names[index], width) if column < per_row - 1 else names[index]
                style = styles[index]
                cells.append(out.style(cell, style) if style else cell)
        out.line("".join(cells).rstrip())
