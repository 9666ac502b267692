"""``chainwatch create-user``: a user and a first API key, from the operator's shell.

  chainwatch create-user --username NAME --role admin [--email E] [--key-name N]

This is how the first admin comes to exist. The new API key is printed alone on the last
line of stdout (capture it with ``| tail -n 1``); it is shown this once and not stored.
Exit codes as for every ``chainwatch`` command: 0 done, 1 failed (for example the username
is taken), 2 bad usage or configuration.
"""

from __future__ import annotations

import argparse

from domain.model import Role
from domain.services.users import IssuedKey, create_user, issue_api_key
from entrypoints.bootstrap import Container, bootstrap
from entrypoints.cli.common import EXIT_OK, Commands, run_database
from entrypoints.settings import Settings

_ROLES = [role.value for role in Role]


def register(commands: Commands) -> None:
    """Add ``create-user`` to ``chainwatch``'s parser."""
    parser = commands.add_parser(
        "create-user",
        help="create a user and an API key; prints the key alone on the last line",
    )
    parser.add_argument("--username", required=True, help="1-64 of a-z, 0-9, '_', '.', '-'")
    parser.add_argument("--role", required=True, choices=_ROLES, help="what the user may do")
    parser.add_argument("--email", help="contact address (optional)")
    parser.add_argument("--key-name", default="created by chainwatch create-user")
    parser.set_defaults(command=_create_user)


def _create_user(args: argparse.Namespace, settings: Settings) -> int:
    container = bootstrap(settings)
    issued = run_database(
        container,
        lambda: _create(container, args.username, args.role, args.email, args.key_name),
        on_migrated=_quietly,
    )
    print(f"created user {issued.key.user_id} ({args.username}, {args.role})")
    print(f"API key {issued.key.prefix}… - shown once, store it now:")
    print(issued.token)
    return EXIT_OK


async def _create(
    container: Container, username: str, role: str, email: str | None, key_name: str
) -> IssuedKey:
    user = await create_user(container.services, username, role, email, actor=None)
    return await issue_api_key(container.services, user.id, key_name, actor=None)


def _quietly(applied: list[str]) -> None:
    """Pending migrations are applied silently here, as create-user always has done."""
