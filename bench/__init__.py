"""Benchmarks that compare omsh with reference systems and print ratios.

``make bench`` (``python -m bench``) starts an omsh server and, as the
reference, OpenSSH's own ``sshd`` on loopback ports, runs the same client
(``ssh`` with the same options) against both, interleaving the runs, and
prints a table of medians and ratios with their targets.  Results are also
written as JSON to ``bench/out/``.

Benchmarks report; they never assert.  A target that is missed is printed as
``MISS``, and the exit status is 0 unless a case could not run at all.

Modules:

* :mod:`bench.__main__`: ``python -m bench [GROUP]``, which group runs;
* :mod:`bench.runner`: what every group's command line does, from what the
  group declares (:class:`~bench.runner.Group`): options, settings, temp
  folder, set-up, cases, report, JSON;
* :mod:`bench.harness`: timing, medians, RSS sampling, results and the table;
* :mod:`bench.launcher`: starting, waiting for and stopping servers on
  127.0.0.1 (``omsh serve`` among them), and the OpenSSH client options;
  the end-to-end tests use it too;
* :mod:`bench.omsh_server`: an omsh server whose store is populated offline;
* :mod:`bench.ssh_client`: the OpenSSH client command line shared by both sides;
* :mod:`bench.ssh_reference`: an unprivileged ``sshd`` with its own keys and config;
* the groups, one module each: :mod:`bench.ssh_bench` (exec, cat, put, RSS,
  big ``ls`` against sshd), :mod:`bench.query_bench` (metadata queries over
  1,000,000 objects against SQLite, index build rate and size),
  :mod:`bench.acl_bench` (``ls -l`` of 10,000 children as a user whose
  access is inherited 10 levels up through 50 ACEs vs as admin),
  :mod:`bench.cdmi_bench` (the CDMI endpoint against a bare aiohttp app, with
  :mod:`bench.cdmi_reference`), :mod:`bench.sftp_bench` (SFTP and rclone
  against sshd's sftp-server), :mod:`bench.complete_bench` (Tab
  completion in a container of 100,000 children vs listing it) and
  :mod:`bench.bulk_bench` (``set-meta --query`` on 100,000 objects vs
  SQLite's ``UPDATE … WHERE``).
"""
