"""The staff console's commands.

    python -m bot.apps.console_admin create-admin --username ana --name "Ana Puig"
    python -m bot.apps.console_admin add-user --username joan --role staff --language es
    python -m bot.apps.console_admin set-password --username joan
    python -m bot.apps.console_admin users
    python -m bot.apps.console_admin purge [--days 90] [--dry-run]

Passwords are asked twice at the terminal, or read from standard input with
--password-stdin (for scripts: `printf '%s' "$PW" | ... --password-stdin`),
never from the command line, where other users of the machine could see
them. `purge` deletes conversations and reminders older than the retention
period (RECORDA_RETENTION_DAYS, 90 by default); the worker runs it daily.
"""
from __future__ import annotations

import argparse
import getpass
import json
import logging
import sys
from typing import Optional

from bot.console.accounts import ADMIN, ROLES, AccountError, Accounts
from bot.foundation.languages import LANGUAGES
from bot.foundation.settings import Settings


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password (10 characters or more): ")
    if getpass.getpass("Same password again: ") != first:
        raise AccountError("mismatch", "The two passwords differ")
    return first


def _add(accounts: Accounts, args, role: str) -> int:
    password = _read_password(args.password_stdin)
    user = accounts.create_user(args.username, args.name or args.username, password, role, args.language)
    print(f"Created {user.role} {user.username!r}. Sign in at {Settings.from_env().public_url}/console")
    return 0


def _purge(settings: Settings, args) -> int:
    from bot.console.retention import purge
    days = args.days if args.days is not None else settings.retention_days
    if args.days is None and days == 0:
        print("error: RECORDA_RETENTION_DAYS is 0 (no purge); give --days N to purge anyway",
              file=sys.stderr)
        return 2
    try:
        report = purge(settings, days, dry_run=args.dry_run)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(report.to_dict(), indent=2))
    return 0


def main(argv: Optional[list] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.apps.console_admin", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    for name, helptext in (("create-admin", "create an administrator (the first one, say)"),
                           ("add-user", "create a user with a role")):
        cmd = commands.add_parser(name, help=helptext)
        cmd.add_argument("--username", required=True)
        cmd.add_argument("--name", help="the name shown in the console")
        cmd.add_argument("--language", choices=LANGUAGES, default="ca")
        cmd.add_argument("--password-stdin", action="store_true")
        if name == "add-user":
            cmd.add_argument("--role", choices=ROLES, required=True)
    cmd = commands.add_parser("set-password", help="give a user a new password (ends their sessions)")
    cmd.add_argument("--username", required=True)
    cmd.add_argument("--password-stdin", action="store_true")
    commands.add_parser("users", help="list the users")
    cmd = commands.add_parser("purge", help="delete conversations and reminders past the retention period")
    cmd.add_argument("--days", type=int, help="keep this many days (default: RECORDA_RETENTION_DAYS, 90)")
    cmd.add_argument("--dry-run", action="store_true", help="count what would go, delete nothing")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    settings = Settings.from_env()
    accounts = Accounts.from_settings(settings)
    try:
        if args.command == "create-admin":
            return _add(accounts, args, ADMIN)
        if args.command == "add-user":
            return _add(accounts, args, args.role)
        if args.command == "set-password":
            user = accounts.get_by_username(args.username)
            if user is None:
                raise AccountError("no_such_user", f"No user {args.username!r}")
            accounts.set_password(user.id, _read_password(args.password_stdin))
            print(f"New password set for {user.username!r}; their sessions have ended.")
            return 0
        if args.command == "users":
            for user in accounts.all_users():
                state = "active" if user.active else "deactivated"
                print(f"{user.username:24} {user.role:7} {user.language}  {state}  {user.display_name}")
            return 0
        if args.command == "purge":
            return _purge(settings, args)
    except AccountError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 1


if __name__ == "__main__":
    sys.exit(main())
