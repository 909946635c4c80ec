"""``idp accounts import|create|show`` through click (issue 2 §3, R-50)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from idp.accounts.service import Accounts
from idp.audit.models import AuditRecord
from tests.unit.test_importer import line, resident_id


def test_import_file_prints_summary(platform, idp_cli, tmp_path):
    path = tmp_path / "legacy.jsonl"
    path.write_text(line() + "\n" + line(id_number=resident_id(2), phone="13900000002") + "\n",
                    encoding="utf-8")
    result = idp_cli("accounts", "import", str(path))
    assert result.exit_code == 0, result.output
    assert "imported: 2, unchanged: 0, rejected: 0" in result.stdout
    again = idp_cli("accounts", "import", str(path))
    assert "imported: 0, unchanged: 2, rejected: 0" in again.stdout


def test_import_from_stdin_reports_bad_lines_and_fails(idp_cli):
    text = line() + "\nnot json\n" + line(id_number=resident_id(2), realname_level=9) + "\n"
    result = idp_cli("accounts", "import", "-", input=text)
    assert result.exit_code == 1
    assert "line 2: line is not valid JSON" in result.stderr
    assert "line 3: realname_level must be 1, 2 or 3, got 9" in result.stderr
    assert "imported: 1, unchanged: 0, rejected: 2" in result.stdout
    assert resident_id(2) not in result.output


def test_import_allow_errors_exits_zero(idp_cli):
    result = idp_cli("accounts", "import", "--allow-errors", "-", input="[]\n")
    assert result.exit_code == 0
    assert "rejected: 1" in result.stdout


def test_import_missing_file_is_a_usage_error(idp_cli, tmp_path):
    result = idp_cli("accounts", "import", str(tmp_path / "absent.jsonl"))
    assert result.exit_code == 2


def test_create_with_random_password_prints_it_once(platform, idp_cli):
    result = idp_cli("accounts", "create", "--id-number", "11010519491231002x", "--name",
                     "王五", "--phone", "13700137000", "--random-password", "--level", "3")
    assert result.exit_code == 0, result.output
    password = re.search(r"password \(shown once\): (\S+)", result.stdout).group(1)
    with platform.db.session() as s:
        accounts = Accounts(s, platform.protector, platform.hasher)
        person = accounts.by_identifier("13700137000")
        assert accounts.id_number(person) == "11010519491231002X"
        assert person.realname_level == 3 and person.channel == "counter"
        assert accounts.check_password(person, password)
        audit = s.scalars(select(AuditRecord).where(AuditRecord.action == "account:create")
                          ).one()
        assert audit.actor == "cli:admin" and audit.target == "1101**********002X"


def test_create_prompts_for_password(platform, idp_cli):
    result = idp_cli("accounts", "create", "--id-number", "11010519491231002X", "--name",
                     "王五", input="Str0ng-Passw0rd\nStr0ng-Passw0rd\n")
    assert result.exit_code == 0, result.output
    assert "Str0ng-Passw0rd" not in result.stdout.replace("Password", "")
    with platform.db.session() as s:
        accounts = Accounts(s, platform.protector, platform.hasher)
        assert accounts.check_password(accounts.by_identifier("11010519491231002X"),
                                       "Str0ng-Passw0rd")


BAD_CREATE = [
    (["--id-number", "110105194912310028"], "(check_character)"),
    (["--id-number", "123"], "(length)"),
    (["--phone", "12345"], "is not an 11-digit mainland mobile"),
    (["--name", "   "], "name is empty"),
    (["--password", "short"], "password refused: password_too_short"),
    (["--password", "Str0ng-Passw0rd", "--random-password"], "not both"),
    (["--level", "4"], "Invalid value for '--level'"),
    (["--id-type", "driving_licence"], "Invalid value for '--id-type'"),
]


@pytest.mark.parametrize("args,message", BAD_CREATE)
def test_create_refuses_bad_input(platform, idp_cli, args, message):
    base = {"--id-number": "11010519491231002X", "--name": "王五", "--password":
            "Str0ng-Passw0rd"}
    for i in range(0, len(args) - 1, 2):
        base.pop(args[i], None)
    flat = [x for kv in base.items() for x in kv] + args
    result = idp_cli("accounts", "create", *flat)
    assert result.exit_code == 2
    assert message in result.output
    with platform.db.session() as s:
        assert Accounts(s, platform.protector, platform.hasher).by_identifier(
            "11010519491231002X") is None


def test_create_duplicate_document_fails_cleanly(idp_cli, make_citizen):
    # The shared CITIZEN's number has a wrong check digit, so take the GB 11643 example.
    make_citizen(id_number="11010519491231002X")
    result = idp_cli("accounts", "create", "--id-number", "11010519491231002x", "--name",
                     "张三", "--phone", "13700137000", "--random-password")
    assert result.exit_code == 1
    assert "already exists" in result.stderr


def test_create_taken_phone_fails_cleanly(idp_cli, citizen):
    result = idp_cli("accounts", "create", "--id-number", "110105194912310038", "--name",
                     "王五", "--phone", citizen.phone, "--random-password")
    assert result.exit_code == 1
    assert "bound to another account" in result.stderr


@pytest.mark.parametrize("identifier", ["13800138000", "110105194912310029"])
def test_show_is_masked(idp_cli, citizen, identifier):
    result = idp_cli("accounts", "show", identifier)
    assert result.exit_code == 0, result.output
    assert "1101**********0029" in result.stdout and "138****8000" in result.stdout
    assert "张*" in result.stdout and "argon2" in result.stdout
    assert citizen.id_number not in result.stdout and citizen.phone not in result.stdout


def test_show_unknown_account(idp_cli):
    result = idp_cli("accounts", "show", "13999999999")
    assert result.exit_code == 1
    assert "no such account" in result.stderr
