"""The SSH front end (asyncssh): authentication, sessions, the interactive shell.

Thin by design: it authenticates, then hands command lines to
:class:`omsh.commands.runtime.Shell`, which runs in a worker thread and talks
to the channel through the blocking bridges in :mod:`omsh.ssh.channel`.
"""
