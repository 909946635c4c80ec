"""``idp accounts``: account administration from the command line (issue 2, item 3; R-50).

Thin click wrappers: the work is in `idp.accounts.importer` and `idp.accounts.service`.
Personal data is shown masked; every change is audited with a masked target (R-53).
"""

from __future__ import annotations

import sys

import click

from idp.accounts.models import Channel, IdType
from idp.platform import Platform

_ID_TYPES = click.Choice([t.value for t in IdType])


def _platform() -> Platform:
    from idp.cli import get_platform

    return get_platform()


@click.group()
def accounts() -> None:
    """Natural-person accounts."""


@accounts.command("import")
@click.argument("file", type=click.File("rb"))
@click.option("--allow-errors", is_flag=True, help="Exit 0 even if some lines were rejected.")
@click.option("--batch-size", type=click.IntRange(1, 10_000), default=500, show_default=True,
              help="Accounts committed per transaction.")
def import_command(file, allow_errors: bool, batch_size: int) -> None:  # type: ignore[no-untyped-def]
    """Import legacy accounts from JSON lines in FILE ('-' for stdin).

    Each line: {"id_type", "id_number", "name", "phone", "realname_level",
    "password_hash"}. Bad lines are reported by number and skipped; a re-run changes
    nothing. Exit status 1 if any line was rejected, unless --allow-errors.
    """
    from idp.accounts.importer import import_accounts, iter_report_lines

    platform = _platform()
    report = import_accounts(platform.db, platform.protector, platform.hasher, file,
                             batch_size=batch_size)
    for text in iter_report_lines(report):
        click.echo(text, err=True)
    click.echo(f"imported: {report.imported}, unchanged: {report.unchanged}, "
               f"rejected: {len(report.rejected)}")
    if report.rejected and not allow_errors:
        sys.exit(1)


@accounts.command("create")
@click.option("--id-type", type=_ID_TYPES, default=IdType.RESIDENT_ID.value, show_default=True)
@click.option("--id-number", required=True)
@click.option("--name", required=True)
@click.option("--phone", default=None, help="Bound mainland mobile number.")
@click.option("--password", default=None, help="Prompted for (hidden) when not given.")
@click.option("--random-password", is_flag=True, help="Generate one and print it once.")
@click.option("--level", type=click.IntRange(1, 3), default=1, show_default=True,
              help="Real-name level (acr).")
@click.option("--channel", type=click.Choice([c.value for c in Channel]),
              default=Channel.COUNTER.value, show_default=True)
def create_command(id_type: str, id_number: str, name: str, phone: str | None,
                   password: str | None, random_password: bool, level: int,
                   channel: str) -> None:
    """Open an account (R-50); the document number must not have one yet (R-63)."""
    from idp.accounts.service import check_password_strength, generate_password

    name = " ".join(name.split())
    number, phone = _checked_identity(id_type, id_number, name, phone)
    if random_password and password is not None:
        raise click.UsageError("give --password or --random-password, not both")
    if random_password:
        password = generate_password()
    elif password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    weak = check_password_strength(password)
    if weak:
        raise click.UsageError(f"password refused: {weak}")
    sub = _create(id_type, number, name, phone, password, level, channel)
    click.echo(f"created account {sub}")
    if random_password:
        click.echo(f"password (shown once): {password}")


def _checked_identity(id_type: str, id_number: str, name: str,
                      phone: str | None) -> tuple[str, str | None]:
    """Normalise and shape-check the document, name and phone; UsageError when wrong."""
    from idp.accounts.importer import document_problem, name_problem, phone_problem
    from idp.accounts.service import normalize_document, normalize_phone

    number = normalize_document(id_number)
    phone = normalize_phone(phone) if phone else None
    problem = (document_problem(id_type, number) or name_problem(name)
               or (phone_problem(phone) if phone else None))
    if problem:
        raise click.UsageError(problem)
    return number, phone


def _create(id_type: str, number: str, name: str, phone: str | None, password: str,
            level: int, channel: str) -> str:
    from idp.accounts.service import AccountExists, Accounts, PhoneTaken
    from idp.audit.service import record
    from idp.crypto import mask_id_number

    platform = _platform()
    try:
        with platform.db.session() as session:
            person = Accounts(session, platform.protector, platform.hasher).create(
                id_type=id_type, id_number=number, name=name, phone=phone,
                password=password, realname_level=level, channel=channel)
            record(session, actor="cli:admin", action="account:create",
                   target=mask_id_number(number),
                   details={"sub": person.sub, "id_type": id_type, "realname_level": level,
                            "channel": channel})
            return person.sub
    except AccountExists:
        raise click.ClickException("an account with this document already exists") from None
    except PhoneTaken:
        raise click.ClickException("this phone is bound to another account") from None


@accounts.command("show")
@click.argument("identifier")
@click.option("--id-type", type=_ID_TYPES, default=None,
              help="Needed when one number exists under two document types.")
def show_command(identifier: str, id_type: str | None) -> None:
    """Show an account, masked, by ID number or bound phone (R-30)."""
    from idp.accounts.service import Accounts
    from idp.passwords import UnknownHashFormat, scheme_of

    platform = _platform()
    with platform.db.session() as session:
        accounts = Accounts(session, platform.protector, platform.hasher)
        person = (accounts.by_document(identifier, id_type) if id_type
                  else accounts.by_identifier(identifier))
        if person is None:
            raise click.ClickException("no such account (or ambiguous: give --id-type)")
        view = accounts.view(person)
        try:
            scheme = scheme_of(person.password_hash) if person.password_hash else "none"
        except UnknownHashFormat:
            scheme = "unrecognised"
        rows = [("sub", view.sub), ("id_type", view.id_type), ("id_number", view.id_number),
                ("name", view.name), ("phone", view.phone or "-"),
                ("realname_level", str(view.realname_level)), ("status", view.status),
                ("channel", person.channel), ("password", scheme),
                ("must_change_password", str(person.must_change_password).lower()),
                ("created_at", person.created_at.isoformat(timespec="seconds"))]
    for key, value in rows:
        click.echo(f"{key:<22}{value}")
