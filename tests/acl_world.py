"""The ACL world: four people, one small tree, and who may do what there.

People: ``admin`` (member of admins), ``alice`` (staff), ``bob`` (interns),
``carol`` (staff and interns).  The tree and its ACEs::

    /                         OWNER@ all (inherit) -- nothing for AUTHENTICATED@
    /org                      allow g:staff rwdm, allow g:interns r   (inherit)
    /org/dept/memo            allow bob m
    /org/dept/team            allow alice a, deny carol wdm           (inherit)
    /org/dept/team/doc        three levels below the /org grants
    /org/dept/team/inbox/     allow bob w                             (inherit)
    /org/dept/team/inbox/letter
    /org/dept/team/secret/    deny g:interns r                        (inherit)
    /org/dept/team/secret/plan  allow bob read-metadata

So carol's inherited staff write is overridden by a deny one level up from
the objects, and the interns' inherited read by a deny on ``secret``.

Each row is a command line and the expected exit status of admin, alice,
bob and carol, in that order ("0044": admin and alice succeed, bob and carol
get "permission denied").  A refused command prints nothing on stdout, says
``permission denied`` on stderr and changes nothing in the store.

Shared by the in-process matrix (tests/test_acl_matrix.py) and the same rules
over real SSH (tests/test_acl_e2e.py).
"""

from __future__ import annotations

USERS = ("admin", "alice", "bob", "carol")

#: Who is in which group (admin is in admins).
GROUPS = {"staff": ("alice", "carol"), "interns": ("bob", "carol")}

#: Nothing below the root is granted to AUTHENTICATED@: only what SETUP says.
ROOT_SETUP = ["setfacl -b /", "acl grant / OWNER@ all --inherit"]

#: Admin's command lines that build the tree, with each ``put``'s content.
SETUP = [
    ("mkdir -p /org/dept/team/secret /org/dept/team/inbox", b""),
    ("put /org/dept/team/doc", b"hello\nworld\n"),
    ("put /org/dept/team/secret/plan", b"the plan\n"),
    ("put /org/dept/memo", b"memo\n"),
    ("set-meta /org/dept/team/doc kind=doc", b""),
    ("acl grant /org g:staff rwdm --inherit", b""),
    ("acl grant /org g:interns r --inherit", b""),
    ("acl grant /org/dept/team alice a --inherit", b""),
    ("acl deny /org/dept/team carol wdm --inherit", b""),
    ("acl deny /org/dept/team/secret g:interns r --inherit", b""),
    ("acl grant /org/dept/team/inbox bob w --inherit", b""),
    ("put /org/dept/team/inbox/letter", b"dear bob\n"),
    # Single bits that tell the rights apart: metadata without content...
    ("acl grant /org/dept/memo bob m", b""),
    ("acl grant /org/dept/team/secret/plan bob read-metadata", b""),
]

READS = [
    # navigate
    ("ls /", "0444"),
    ("ls /org", "0000"),
    ("ls -l /org/dept/team", "0000"),
    ("ls -R /org/dept", "0000"),
    ("ls /org/dept/team/secret", "0044"),
    ("ls -d /org/dept/team/secret", "0044"),
    ("cd /org/dept/team", "0000"),
    ("cd /org/dept/team/secret", "0044"),
    ("tree /org", "0000"),
    ("tree /org/dept/team/secret", "0044"),
    ("stat /org/dept/team/doc", "0000"),
    ("stat /org/dept/team/secret/plan", "0004"),  # bob: read-metadata, not read
    # content
    ("cat /org/dept/team/doc", "0000"),
    ("cat /org/dept/team/secret/plan", "0044"),
    ("cat /nothing/here", "3444"),  # root is not listable: no "not found" leak
    ("cat /org/dept/team/secret/nothing", "3344"),
    ("head -n 1 /org/dept/team/doc", "0000"),
    ("head -c 3 /org/dept/team/secret/plan", "0044"),
    ("verify /org/dept/team/doc", "0000"),
    ("verify /org/dept/team/secret/plan", "0044"),
    ("verify -r /org/dept/team/secret", "0044"),
    # query: a scope the caller may not list is refused
    ("find /org/dept/team/secret", "0044"),
    ("query \"name = 'plan'\" --in /org/dept/team/secret", "0044"),
    ("find /org --name doc", "0000"),
    # metadata
    ("meta /org/dept/team/doc", "0000"),
    ("meta /org/dept/team/secret/plan", "0004"),
    ("meta /org/dept/team/secret", "0044"),
    # access
    ("acl /org/dept/team/doc", "0000"),
    ("acl /org/dept/team/secret/plan", "0044"),
    ("getfacl /org/dept/team/secret", "0044"),
    ("acl check /org/dept/team/secret/plan", "0000"),
]

WRITES = [
    # content: write on the target container, delete on what goes away
    ("put /org/dept/team/new", "0044"),
    ("put /org/dept/team/doc", "0044"),
    ("put /org/dept/team/inbox/new", "0004"),
    ("put /org/dept/team/secret/new", "0044"),
    ("mkdir /org/dept/team/newdir", "0044"),
    ("mkdir /org/dept/newdir", "0040"),
    ("rm /org/dept/team/doc", "0044"),
    ("rm -r /org/dept/team/secret", "0044"),
    ("rm /org/dept/memo", "0040"),
    ("rm /org/dept/team/inbox/letter", "0044"),  # bob may write there, not delete
    ("put /org/dept/team/inbox/letter", "0004"),
    ("put /org/dept/memo", "0040"),
    ("mv /org/dept/memo /org/dept/memo2", "0040"),
    ("mv /org/dept/memo /org/dept/team/memo", "0044"),
    ("mv /org/dept/team/doc /org/dept/team/inbox/doc", "0044"),  # bob: no delete on doc
    ("cp /org/dept/team/doc /org/dept/copy", "0040"),
    ("cp /org/dept/team/secret/plan /org/dept/copy", "0044"),
    ("cp /org/dept/team/doc /org/dept/team/inbox/copy", "0004"),
    # metadata
    ("set-meta /org/dept/team/doc k=1", "0044"),
    ("set-meta /org/dept/memo k=1", "0000"),  # bob: write-metadata, not write
    ("set-meta /org/dept/team/doc -d kind", "0044"),
    # access: write-acl
    ("acl grant /org/dept/team/doc bob w", "0044"),
    ("acl deny /org/dept/team/doc bob r", "0044"),
    ("acl revoke /org/dept/team/secret g:interns", "0044"),
    ("acl grant /org/dept/memo bob w", "0444"),
    ("acl grant -R /org/dept/team bob m", "0044"),
    ("setfacl -m u:bob:w /org/dept/team/doc", "0044"),
    ("setfacl -b /org/dept/team/secret", "0044"),
]


def relocate(line: str, top: str) -> str:
    """*line* with the tree moved from ``/org`` to *top* (a fresh copy per row)."""
    return line.replace("/org", top)


def cases(rows: list[tuple[str, str]]) -> list[tuple[str, str, int]]:
    """``(line, user, expected status)`` for every row and person."""
    return [
        (line, user, int(statuses[index]))
        for line, statuses in rows
        for index, user in enumerate(USERS)
    ]
