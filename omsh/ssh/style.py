"""Colours of the interactive shell: the typed line, the prompt, the toolbar, menus.

Token colours use the terminal's own 16 ANSI colours so they follow the
user's palette (xterm, tmux, PuTTY alike); the toolbar and the completion
menu use fixed backgrounds, as pgcli's do, so they read as part of the frame
and not as output.  ``NO_COLOR`` turns colour off: the output is then
rendered at a depth of one bit (:data:`MONOCHROME_STYLE`).
"""

from __future__ import annotations

from prompt_toolkit.styles import BaseStyle, Style, merge_styles, style_from_pygments_dict
from pygments.token import Error, Name, Number, Operator, Punctuation, String

#: How each token of :class:`omsh.ssh.lexer.OmshLexer` is shown.
TOKEN_STYLES = {
    Name.Function: "bold ansigreen",  # the command
    Name.Attribute: "ansicyan",  # -l, --json
    Name.Variable: "ansimagenta",  # the key of key=value
    Name.Namespace: "underline",  # a path
    Operator: "ansibrightblack",  # =, --
    Number: "ansibrightblue",
    String: "ansiyellow",
    String.Escape: "bold ansiyellow",
    Punctuation: "bold",  # ;
    Error: "bold ansired",
    Name.Function.Unknown: "bold ansired",  # a command that does not exist
}

#: prompt_toolkit class names used by the prompt, toolbar and menus.
UI_STYLES = {
    "prompt.user": "bold ansigreen",
    "prompt.host": "ansigreen",
    "prompt.cwd": "bold ansiblue",
    "welcome": "ansibrightblack",
    "welcome.version": "bold",
    "bottom-toolbar": "noreverse bg:#303030 #bcbcbc",
    "bottom-toolbar.user": "bold #ffffff",
    "bottom-toolbar.cwd": "#87afff",
    "bottom-toolbar.status": "bold bg:#af0000 #ffffff",
    "bottom-toolbar.hint": "#8a8a8a",
    "bottom-toolbar.notice": "bold #ffd75f",
    "completion-menu.completion": "bg:#008888 #ffffff",
    "completion-menu.completion.current": "bg:#ffffff #000000",
    "completion-menu.meta.completion": "bg:#448888 #ffffff",
    "completion-menu.meta.completion.current": "bg:#00aaaa #000000",
    "completion-menu.multi-column-meta": "bg:#aaffff #000000",
    "auto-suggestion": "#767676",
}

SHELL_STYLE: BaseStyle = merge_styles(
    [style_from_pygments_dict(TOKEN_STYLES), Style.from_dict(UI_STYLES)]
)

#: Without colour (``NO_COLOR``) the output draws no colour at all, and the
#: frame is told apart by reverse video, as no-color.org allows.
MONOCHROME_STYLES = {
    "bottom-toolbar": "reverse",
    "bottom-toolbar.status": "bold",
    "completion-menu.completion": "noreverse",
    "completion-menu.completion.current": "reverse",
    "completion-menu.meta.completion.current": "reverse",
}

MONOCHROME_STYLE: BaseStyle = merge_styles([SHELL_STYLE, Style.from_dict(MONOCHROME_STYLES)])


def shell_style(color: bool) -> BaseStyle:
    """The shell's style with colour, or its monochrome variant (``NO_COLOR``)."""
    return SHELL_STYLE if color else MONOCHROME_STYLE
