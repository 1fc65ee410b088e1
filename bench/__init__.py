"""Benchmarks that compare omsh with reference systems and print ratios.

``make bench`` (``python -m bench``) starts an omsh server and, as the
reference, OpenSSH's own ``sshd`` on loopback ports, runs the same client
(``ssh`` with the same options) against both, interleaving the runs, and
prints a table of medians and ratios with their targets.  Results are also
written as JSON to ``bench/out/``.

Benchmarks report; they never assert.  A target that is missed is printed as
``MISS``, and the exit status is 0 unless a case could not run at all.

Modules:

* :mod:`bench.launcher`: starting, waiting for and stopping servers on
  127.0.0.1 (``omsh serve`` among them), and the OpenSSH client options;
  the end-to-end tests use it too;
* :mod:`bench.harness`: timing, medians, RSS sampling, results and the table;
* :mod:`bench.ssh_client`: the OpenSSH client command line shared by both sides;
* :mod:`bench.omsh_server`: an omsh server whose store is populated offline;
* :mod:`bench.ssh_reference`: an unprivileged ``sshd`` with its own keys and config;
* :mod:`bench.ssh_bench`: the cases (exec, cat, put, RSS, big ``ls``);
* :mod:`bench.query_bench`: ``python -m bench query``, metadata queries over
  1,000,000 objects against SQLite with an index per field, index build rate
  and index size;
* :mod:`bench.acl_bench`: ``python -m bench acl``, ``ls -l`` of 10,000 children
  as a user whose access is inherited 10 levels up through 50 ACEs vs as admin;
* :mod:`bench.__main__`: the command line.
"""
