"""Key bindings of the interactive shell, on top of prompt_toolkit's Emacs set.

The defaults already give line editing, Up/Down history and Ctrl-R search;
these make the keys a shell user reaches for behave as in bash:

* Ctrl-D on an empty line ends the session (elsewhere it deletes a character);
* Ctrl-C abandons the line being typed and shows a fresh prompt (while a
  command runs, Ctrl-C never reaches the prompt: it interrupts the command);
* Ctrl-L clears the screen and redraws the prompt;
* Tab completes: the common part at once, then cycles through the menu;
  Shift-Tab cycles back; Enter on a highlighted entry takes it without
  running the line yet; keys typed right behind a Tab wait until its
  completion has landed (:mod:`omsh.ssh.keyinput`), so a quick Tab Enter
  runs the completed line;
* a paste of several lines (the terminal's bracketed paste) runs each line
  as its own command, in order, as if typed; a last line without a newline
  is left on the prompt to be finished;
* Ctrl-Z, which would stop a job in bash, does nothing but say why: omsh
  has no job control.
"""

from __future__ import annotations

from collections.abc import Callable

from prompt_toolkit.application import get_app
from prompt_toolkit.filters import Condition, completion_is_selected
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent
from prompt_toolkit.key_binding.bindings.named_commands import get_by_name
from prompt_toolkit.keys import Keys

#: What Ctrl-Z says, in place of stopping anything.
NO_JOB_CONTROL = "omsh has no job control; Ctrl-C cancels, Ctrl-D exits"

#: Called with the complete lines of a paste after the first, and the rest.
PasteHandler = Callable[[list[str], str], None]


@Condition
def _line_is_empty() -> bool:
    return not get_app().current_buffer.text


def shell_key_bindings(
    on_paste: PasteHandler | None = None,
    notify: Callable[[str], None] | None = None,
    tab_done: Callable[[], None] | None = None,
) -> KeyBindings:
    """The bindings described in the module docstring.

    *on_paste* gets the lines of a multi-line paste that follow the one run
    at once; *notify* shows a one-line notice (the toolbar's); *tab_done* is
    called when a Tab started no completion in the background (it moved
    through the menu), so keys held behind it may follow
    (:meth:`omsh.ssh.keyinput.ChannelKeys.tab_done`).
    """
    bindings = KeyBindings()

    @bindings.add("c-d", filter=_line_is_empty)
    def _end_session(event: KeyPressEvent) -> None:
        event.app.exit(exception=EOFError(), style="class:exiting")

    @bindings.add("c-c")
    def _abandon_line(event: KeyPressEvent) -> None:
        event.app.exit(exception=KeyboardInterrupt(), style="class:aborting")

    # prompt_toolkit's readline commands, bound here so the shell's keys are
    # all in one place whatever the library's defaults become.
    bindings.add("c-l")(get_by_name("clear-screen"))

    @bindings.add("tab")
    def _complete(event: KeyPressEvent) -> None:  # readline's menu-complete
        buffer = event.current_buffer
        if buffer.complete_state:
            buffer.complete_next()
            if tab_done is not None:
                tab_done()
        else:  # its completer reports when it has landed
            buffer.start_completion(insert_common_part=True)

    bindings.add("s-tab")(get_by_name("menu-complete-backward"))

    @bindings.add("enter", filter=completion_is_selected)
    def _take_completion(event: KeyPressEvent) -> None:
        event.current_buffer.complete_state = None

    @bindings.add("c-z")
    def _no_job_control(event: KeyPressEvent) -> None:
        if notify is not None:
            notify(NO_JOB_CONTROL)

    if on_paste is not None:
        paste_lines = on_paste

        @bindings.add(Keys.BracketedPaste)
        def _paste(event: KeyPressEvent) -> None:
            text = event.data.replace("\r\n", "\n").replace("\r", "\n")
            first, *more = text.split("\n")
            event.current_buffer.insert_text(first)
            if more:
                *complete, rest = more
                paste_lines(complete, rest)
                event.current_buffer.validate_and_handle()

    return bindings
