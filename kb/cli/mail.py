"""`kb mail` and `kb digest`: a test message through config.toml's [mail], and the digests."""

from __future__ import annotations

import click

from kb import digest, mail


def register(main: click.Group) -> None:
    from kb.cli.context import Context, pass_ctx

    @main.group("mail")
    def mail_() -> None:
        """Email through the SMTP server in config.toml's [mail]."""

    @mail_.command("test")
    @click.argument("address")
    @pass_ctx
    def test(c: Context, address: str) -> None:
        """Send a test message to ADDRESS and say, in one line, what happened."""
        settings = c.cfg.mail
        mail.check(settings)
        message = mail.compose(
            settings,
            address,
            f"{c.cfg.site.title}: a test message",
            f"This is a test message from {c.cfg.site.title} ({c.cfg.site.base_url}). Email works.",
        )
        mail.send(settings, message)
        click.echo(f"sent a test message to {address} through {settings.host}:{settings.port} ({settings.security})")

    @main.group("digest")
    def digest_() -> None:
        """Email digests of new and changed notes, for those who subscribed on their account page."""

    @digest_.command("send")
    @click.option("--dry-run", is_flag=True, help="Say who would get which notes; send and record nothing.")
    @pass_ctx
    def send(c: Context, dry_run: bool) -> None:
        """Send the digests that are due (the scheduler does this daily)."""
        report = digest.run(c.ws, dry_run=dry_run)
        for d in report.dry:
            click.echo(f"{d.user.email} ({d.period}): " + ", ".join(f"[{i.tlp_label}] {i.slug}" for i in d.items))
        for problem in report.failed:
            click.echo(f"failed: {problem}", err=True)
        click.echo(report.line())
        if report.failed:
            raise SystemExit(1)
