"""`kb users`: accounts from the command line (the first admin is made here)."""

from __future__ import annotations

import sys

import click

from kb.accounts import ROLES, Accounts, check_org


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    return click.prompt("Password (12+ characters)", hide_input=True, confirmation_prompt=True)


def register(main: click.Group) -> None:
    from kb.cli.context import Context, pass_ctx

    @main.group()
    def users() -> None:
        """Manage accounts: admins, staff, and partners of an organisation."""

    @users.command("add")
    @click.argument("email")
    @click.option("--role", type=click.Choice(ROLES), required=True, help="admin, staff or partner.")
    @click.option(
        "--org",
        help="A partner's organisation: a slug registered in config.toml's [[organisations]] (e.g. acme-drones).",
    )
    @click.option("--name", default="", help="The person's name, shown in the audit log.")
    @click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
    @pass_ctx
    def add(c: Context, email: str, role: str, org: str | None, name: str, password_stdin: bool) -> None:
        """Add a user. Prompts for the password unless --password-stdin.

        A partner's --org must be registered in config.toml's [[organisations]]; an address
        outside that organisation's email_domain is warned about, not refused."""
        cfg = c.cfg
        if org:
            check_org(email, org, cfg.organisations)  # before the password is asked for
        user = Accounts(c.ws.store, cfg.accounts).add(
            email,
            _password(password_stdin),
            role,
            org=org,
            name=name,
            organisations=cfg.organisations,
            warn=lambda message: click.echo(f"warning: {message}", err=True),
        )
        click.echo(f"added {user.email} ({user.role}{', ' + user.org if user.org else ''})")

    @users.command("list")
    @pass_ctx
    def list_(c: Context) -> None:
        """List every user with role, organisation and state."""
        people = Accounts(c.ws.store, c.ws.cfg.accounts).all()
        if not people:
            click.echo("no users yet; add the first admin with: kb users add EMAIL --role admin")
        for u in people:
            state = "disabled" if u.disabled else "active"
            click.echo(f"{u.email:40} {u.role:8} {u.org or '-':28} {state:9} last sign-in {u.last_login or 'never'}")

    @users.command()
    @click.argument("email")
    @pass_ctx
    def disable(c: Context, email: str) -> None:
        """Disable a user: signs them out everywhere and revokes their private feed URL."""
        Accounts(c.ws.store, c.ws.cfg.accounts).disable(email)
        click.echo(f"disabled {email}; their sessions and private feed URL no longer work")

    @users.command()
    @click.argument("email")
    @pass_ctx
    def enable(c: Context, email: str) -> None:
        """Enable a disabled user again."""
        Accounts(c.ws.store, c.ws.cfg.accounts).enable(email)
        click.echo(f"enabled {email}")

    @users.command("reset-password")
    @click.argument("email")
    @click.option("--password-stdin", is_flag=True, help="Read the new password from standard input.")
    @pass_ctx
    def reset_password(c: Context, email: str, password_stdin: bool) -> None:
        """Set a new password; signs the user out everywhere."""
        Accounts(c.ws.store, c.ws.cfg.accounts).reset_password(email, _password(password_stdin))
        click.echo(f"password reset for {email}; their other sessions are signed out")
