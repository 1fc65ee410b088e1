"""Key bindings of the interactive shell, on top of prompt_toolkit's Emacs set.

The defaults already give line editing, Up/Down history and Ctrl-R search;
these make the keys a shell user reaches for behave as in bash:

* Ctrl-D on an empty line ends the session (elsewhere it deletes a character);
* Ctrl-C abandons the line being typed and shows a fresh prompt (while a
  command runs, Ctrl-C never reaches the prompt: it interrupts the command);
* Ctrl-L clears the screen and redraws the prompt;
* Tab completes: the common part at once, then cycles through the menu;
  Shift-Tab cycles back; Enter on a highlighted entry takes it without
  running the line yet.
"""

from __future__ import annotations

from prompt_toolkit.application import get_app
from prompt_toolkit.filters import Condition, completion_is_selected
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent
from prompt_toolkit.key_binding.bindings.named_commands import get_by_name


@Condition
def _line_is_empty() -> bool:
    return not get_app().current_buffer.text


def shell_key_bindings() -> KeyBindings:
    """The bindings described in the module docstring."""
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
    bindings.add("tab")(get_by_name("menu-complete"))
    bindings.add("s-tab")(get_by_name("menu-complete-backward"))

    @bindings.add("enter", filter=completion_is_selected)
    def _take_completion(event: KeyPressEvent) -> None:
        event.current_buffer.complete_state = None

    return bindings
