# pylint: disable=redefined-outer-name
# (pytest fixtures are passed by the name of the function that makes them)
import datetime
import json
import os
import subprocess
import sys
import zipfile

import pytest

from engine import release
from engine.release import ReleaseInputError

HOSTILE = [None, 1, 1.2, b"1.2.3", ["1.2.3"], "", "1.2", "1.2.3.4", "18.0.a.1.0", "1.2.3\n",
           "\n1.2.3", "1.2.3 ", "1..2.3", "-1.2.3", "1.2.-3", "v1.2.3", "18.0.1.2.3.4",
           "1" * 29 + ".1.1", "\u0661.\u0662.\u0663", "1.2.3; rm -rf /", "$(id).1.2"]  # fmt: skip


@pytest.mark.parametrize("version", ["1.2.3", "0.0.0", "18.0.1.2.3", "17.0.10.20.300"])
def test_check_version_accepts_module_versions(version):
    assert release.check_version(version) is None


@pytest.mark.parametrize("version", HOSTILE)
def test_check_version_refuses_anything_else(version):
    message = release.check_version(version)
    assert "is not a module version" in message and "\n" not in message


def test_check_version_length_limit():
    assert release.check_version("18.0.1.2." + "3" * 21) is None  # 30 characters
    assert release.check_version("18.0.1.2." + "3" * 22) is not None


@pytest.mark.parametrize("name", ["v1.2.3", "18.0.1.2.3", "a", "Release_2024-05.1", "x" * 64])
def test_check_release_name_accepts(name):
    assert release.check_release_name(name) is None


@pytest.mark.parametrize(
    "name",
    [None, 12, "", "x" * 65, "-v1", ".v1", "_v1", "v1..2", "v1.lock", "v 1", "v1/2", "v1\n",
     "v1~1", "v1^", "v1:2", "v1@{0}", "é1"],
)  # fmt: skip
def test_check_release_name_refuses(name):
    assert "is not a release name" in release.check_release_name(name)


@pytest.mark.parametrize(
    ("version", "part", "expected"),
    [
        ("18.0.1.2.3", "major", "18.0.2.0.0"),
        ("18.0.1.2.3", "minor", "18.0.1.3.0"),
        ("18.0.1.2.3", "patch", "18.0.1.2.4"),
        ("1.2.3", "major", "2.0.0"),
        ("1.2.3", "minor", "1.3.0"),
        ("1.2.3", "patch", "1.2.4"),
        ("18.0.9.9.9", "patch", "18.0.9.9.10"),
    ],
)
def test_bump(version, part, expected):
    assert release.bump(version, part) == expected


@pytest.mark.parametrize("version", HOSTILE)
def test_bump_refuses_bad_versions(version):
    with pytest.raises(ReleaseInputError):
        release.bump(version, "patch")


@pytest.mark.parametrize("part", [None, "", "Major", "series", "build", 0, "patch\n"])
def test_bump_refuses_bad_parts(part):
    with pytest.raises(ReleaseInputError):
        release.bump("1.2.3", part)


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("1.2.3", "1.2.3", 0),
        ("1.2.3", "1.2.4", -1),
        ("1.10.0", "1.9.0", 1),  # numbers, not text
        ("18.0.1.2.3", "17.0.9.9.9", 1),
        ("18.0.1.2.3", "18.0.1.2.3", 0),
        ("1.2.3", "18.0.1.2.3", 0),  # read in the other one's series
        ("18.0.1.2.4", "1.2.3", 1),
        ("2.0.0", "18.0.1.9.9", 1),
    ],
)
def test_compare(a, b, expected):
    assert release.compare(a, b) == expected
    assert release.compare(b, a) == -expected


@pytest.mark.parametrize("version", HOSTILE)
def test_compare_refuses_bad_versions(version):
    with pytest.raises(ReleaseInputError):
        release.compare(version, "1.2.3")
    with pytest.raises(ReleaseInputError):
        release.compare("1.2.3", version)


# --- suggest_bump on real git diffs -----------------------------------------------------------

MODEL = """from odoo import fields, models


class Garden(models.Model):
    _name = "garden.plot"
    _description = "Garden plot"

    # The plot's name
    name = fields.Char(required=True)
    area = fields.Float(string="Area")
"""


@pytest.fixture
def module_repo(tmp_path):
    """A git repository holding one committed module; returns (git, folder, first commit)."""
    repo = tmp_path / "repo"
    env = {**os.environ, "GIT_AUTHOR_NAME": "Test Author", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "Test Author", "GIT_COMMITTER_EMAIL": "t@example.com",
           "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull, "LC_ALL": "C"}  # fmt: skip

    def git(*args):
        done = subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True)
        return done.stdout.decode()

    (repo / "garden" / "models").mkdir(parents=True)
    manifest = '{"name": "Garden", "version": "18.0.1.0.0"}\n'
    (repo / "garden" / "__manifest__.py").write_text(manifest)
    (repo / "garden" / "models" / "plot.py").write_text(MODEL)
    git("init", "-q", "-b", "main")
    git("add", "-A")
    git("commit", "-q", "-m", "feat: garden")
    return git, repo / "garden", git("rev-parse", "HEAD").strip()


def suggest(module_repo):
    git, _folder, base = module_repo
    git("add", "-A")
    git("commit", "-q", "--allow-empty", "-m", "change")
    diff = git("diff", "-U0", "--no-color", "--no-ext-diff", base, "HEAD", "--", "garden")
    return release.suggest_bump(diff)


def edit(path, old, new):
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_suggest_bump_new_field(module_repo):
    plot = module_repo[1] / "models" / "plot.py"
    edit(plot, "    area =", '    partner_id = fields.Many2one("res.partner")\n    area =')
    assert suggest(module_repo) == ("minor", "new field partner_id in garden/models/plot.py")


def test_suggest_bump_modified_field_is_a_patch(module_repo):
    plot = module_repo[1] / "models" / "plot.py"
    edit(plot, 'string="Area"', 'string="Area (m²)", digits=(6, 2)')
    assert suggest(module_repo) == ("patch", "changes only")


def test_suggest_bump_renamed_field_is_new(module_repo):
    edit(module_repo[1] / "models" / "plot.py", "area = fields.Float", "surface = fields.Float")
    assert suggest(module_repo) == ("minor", "new field surface in garden/models/plot.py")


def test_suggest_bump_migration_scripts(module_repo):
    folder = module_repo[1] / "migrations" / "18.0.1.1.0"
    folder.mkdir(parents=True)
    (folder / "post-migrate.py").write_text("def migrate(cr, version):\n    pass\n")
    assert suggest(module_repo) == ("minor", "new migration scripts")


def test_suggest_bump_empty_migration_file(module_repo):
    """An empty new file has no hunk and no "+++" line: its path comes from the header."""
    folder = module_repo[1] / "migrations" / "18.0.1.1.0"
    folder.mkdir(parents=True)
    (folder / "__init__.py").write_text("")
    assert suggest(module_repo) == ("minor", "new migration scripts")


def test_suggest_bump_changed_migration_is_a_patch(module_repo):
    git, folder, _base = module_repo
    (folder / "migrations" / "18.0.1.0.0").mkdir(parents=True)
    script = folder / "migrations" / "18.0.1.0.0" / "post-migrate.py"
    script.write_text("def migrate(cr, version):\n    pass\n")
    git("add", "-A")
    git("commit", "-q", "-m", "migration")
    base = git("rev-parse", "HEAD").strip()
    script.write_text("def migrate(cr, version):\n    return\n")
    assert suggest((git, folder, base)) == ("patch", "changes only")


def test_suggest_bump_new_model(module_repo):
    (module_repo[1] / "models" / "bed.py").write_text(
        'from odoo import fields, models\n\n\nclass Bed(models.Model):\n    _name = "garden.bed"\n'
        "    name = fields.Char()\n"
    )
    assert suggest(module_repo) == ("minor", "new model garden.bed")


def test_suggest_bump_comment_only(module_repo):
    edit(module_repo[1] / "models" / "plot.py", "# The plot's name", "# What the plot is called")
    assert suggest(module_repo) == ("patch", "changes only")


def test_suggest_bump_field_line_in_a_text_file_is_not_a_field(module_repo):
    (module_repo[1] / "README.md").write_text("Add:\n\n    note = fields.Text()\n")
    assert suggest(module_repo) == ("patch", "changes only")


def test_suggest_bump_no_change(module_repo):
    assert suggest(module_repo) == ("none", "")
    assert release.suggest_bump("") == ("none", "")
    assert release.suggest_bump(None) == ("none", "")


def test_suggest_bump_added_line_that_looks_like_a_header(module_repo):
    """An added line "++ b/garden/migrations/x.py" shows as "+++ b/..." inside a hunk of a
    new file: it is content, not the file's path."""
    (module_repo[1] / "notes.txt").write_text("++ b/garden/migrations/1.0/x.py\n")
    assert suggest(module_repo) == ("patch", "changes only")


# --- set_manifest_version ---------------------------------------------------------------------

DOUBLE = """# -*- coding: utf-8 -*-
{
    "name": "Garden",
    "summary": "version control of the garden",
    "version" :  "18.0.1.0.0",
    "depends": ["base"],
}
"""


def test_set_manifest_version_double_quotes():
    assert release.set_manifest_version(DOUBLE, "18.0.1.1.0") == DOUBLE.replace(
        '"18.0.1.0.0"', '"18.0.1.1.0"'
    )


def test_set_manifest_version_single_quotes():
    text = "{'name': 'Garden',\r\n 'version': '1.0.0',\r\n 'license': 'AGPL-3'}"
    assert release.set_manifest_version(text, "1.0.1") == (
        "{'name': 'Garden',\r\n 'version': '1.0.1',\r\n 'license': 'AGPL-3'}"
    )


@pytest.mark.parametrize(
    "text",
    [
        DOUBLE + '{"version": "18.0.2.0.0"}\n',  # two keys
        '{"name": "Garden"}',  # none
        "{'version': 18}",  # not a quoted value
        None,
    ],
)
def test_set_manifest_version_refuses_unclear_manifests(text):
    with pytest.raises(ReleaseInputError):
        release.set_manifest_version(text, "18.0.1.1.0")


@pytest.mark.parametrize("version", HOSTILE)
def test_set_manifest_version_refuses_bad_versions(version):
    with pytest.raises(ReleaseInputError):
        release.set_manifest_version(DOUBLE, version)


# --- changelog --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("feat: add plots", ("feat", None, False, "add plots")),
        ("fix(sale)!: round totals ", ("fix", "sale", True, "round totals")),
        ("Feat(web): x", ("feat", "web", False, "x")),
        ("feat!: drop v1", ("feat", None, True, "drop v1")),
        ("ci: cache pip", ("ci", None, False, "cache pip")),
        ("feature: not a type", (None, None, False, "feature: not a type")),
        ("feat:no space", (None, None, False, "feat:no space")),
        ("feat(): empty scope", (None, None, False, "feat(): empty scope")),
        ("Fix the thing", (None, None, False, "Fix the thing")),
        ("", (None, None, False, "")),
        (None, (None, None, False, "")),
    ],
)
def test_parse_subject(subject, expected):
    assert release.parse_subject(subject) == expected


def commit(n, subject, repo="garden"):
    return {"repo": repo, "sha": f"{n:x}" * 40, "subject": subject, "author": "Test Author"}


def test_changelog_conventional():
    commits = [
        commit(1, "feat(plot): add a surface field"),
        commit(2, "fix: round the area"),
        commit(3, "Merge branch 'dev' into main"),
        commit(4, "feat!: drop the old API", repo="tools"),
        commit(5, "docs: explain plots"),
        commit(6, "update the logo"),
        commit(7, "ci: cache pip"),
        commit(8, "build: pin ruff"),
        commit(9, "refactor(bed)!: rename beds"),
    ]
    fragments = [
        ("garden/readme/newsfragments/12.feature", "Plots have a surface.\n"),
        ("garden/readme/newsfragments/3.bugfix", "  The area is\n  rounded.\n\n"),
        ("garden/readme/newsfragments/4.removal", "The v1 API is gone."),
        ("garden/readme/newsfragments/5.misc", ""),
    ]
    text = release.changelog("18.0.2.0.0", commits, fragments, datetime.date(2024, 5, 1))
    assert text == (
        "# 18.0.2.0.0 (2024-05-01)\n"
        "\n"
        "## Breaking changes\n"
        "\n"
        "- drop the old API (tools 44444444)\n"
        "- **bed**: rename beds (garden 99999999)\n"
        "\n"
        "## Features\n"
        "\n"
        "- Plots have a surface.\n"
        "- **plot**: add a surface field (garden 11111111)\n"
        "\n"
        "## Bug fixes\n"
        "\n"
        "- The area is rounded.\n"
        "- round the area (garden 22222222)\n"
        "\n"
        "## Documentation\n"
        "\n"
        "- explain plots (garden 55555555)\n"
        "\n"
        "## Build\n"
        "\n"
        "- cache pip (garden 77777777)\n"
        "- pin ruff (garden 88888888)\n"
        "\n"
        "## Removals\n"
        "\n"
        "- The v1 API is gone.\n"
        "\n"
        "## Other changes\n"
        "\n"
        "- update the logo (garden 66666666)\n"
    )


def test_changelog_not_conventional():
    commits = [
        commit(10, "Add a surface field"),
        commit(11, "Merge pull request #4 from x/y"),
        commit(12, "fixed: the area [ci skip]", repo="tools"),
    ]
    when = datetime.datetime(2024, 5, 1, 23, 59, tzinfo=datetime.timezone.utc)
    assert release.changelog("v2", commits, date=when) == (
        "# v2 (2024-05-01)\n"
        "\n"
        "## Changes\n"
        "\n"
        f"- Add a surface field (garden {'a' * 8})\n"
        f"- fixed: the area [ci skip] (tools {'c' * 8})\n"
    )


def test_changelog_empty():
    assert release.changelog("18.0.1.0.1", []) == "# 18.0.1.0.1\n\nNo change.\n"
    merges = [commit(1, "Merge branch 'x'")]
    assert release.changelog("18.0.1.0.1", merges, [("a/1.doc", " \n")]) == (
        "# 18.0.1.0.1\n\nNo change.\n"
    )


def test_changelog_is_deterministic_and_checks_the_version():
    fragments = [("n/2.doc", "B"), ("n/1.doc", "A"), ("n/9.unknown", "C")]
    first = release.changelog("1.0.0", [], fragments)
    assert first == release.changelog("1.0.0", [], list(reversed(fragments)))
    assert first == "# 1.0.0\n\n## Documentation\n\n- A\n- B\n\n## Other changes\n\n- C\n"
    for version in (None, "", "1.0.0\n## Injected", "../x"):
        with pytest.raises(ReleaseInputError):
            release.changelog(version, [])
    with pytest.raises(ReleaseInputError):
        release.changelog("1.0.0", [], date="2024-05-01\n# x")


def test_parse_log_of_real_git(module_repo):
    git, folder, base = module_repo
    (folder / "a.py").write_text("a = 1\n")
    git("add", "-A")
    git("commit", "-q", "-m", "fix: a | b \t c $(id)")
    git("commit", "-q", "--allow-empty", "-m", "chore: second\n\nbody line\nmore")
    commits = release.parse_log(git("log", f"--format={release.LOG_FORMAT}", f"{base}..HEAD"))
    assert [c["subject"] for c in commits] == ["chore: second", "fix: a | b \t c $(id)"]
    assert all(c["author"] == "Test Author" and len(c["sha"]) == 40 for c in commits)
    assert commits[0]["sha"] == git("rev-parse", "HEAD").strip()
    assert release.parse_log("") == [] and release.parse_log(None) == []
    assert release.parse_log("\n\nabc\x1fMe\x1fs\x1e\nbad\x1e") == [
        {"sha": "abc", "author": "Me", "subject": "s"}
    ]


# --- rotation_keep ----------------------------------------------------------------------------


def test_rotation_keep_grandfather_father_son():
    start = datetime.datetime(2024, 1, 1, 2, 0)  # a Monday, ISO week 1
    backups = [(day, start + datetime.timedelta(days=day)) for day in range(120)]
    last = datetime.datetime(2024, 4, 29)  # day 119, a Monday, ISO week 18
    backups += [("late", last.replace(hour=23)), ("early", last.replace(hour=1))]
    backups.reverse()  # order does not matter
    # days: Apr 29 ("late", newer than day 119 at 02:00), Apr 28 .. Apr 23 (days 118 .. 113)
    # weeks: 18 ("late"), 17 (Sun Apr 28 = 118), 16 (Sun Apr 21 = 111), 15 (Sun Apr 14 = 104)
    # months: April ("late"), March (Mar 31 = day 90), February (Feb 29 = day 59)
    expected = {"late", 118, 117, 116, 115, 114, 113, 111, 104, 90, 59}
    assert release.rotation_keep(backups) == expected
    assert release.rotation_keep(backups, 0, 0, 0) == set()
    assert release.rotation_keep(backups, 1, 0, 0) == {"late"}
    assert release.rotation_keep(backups, 0, 0, 12) == {"late", 90, 59, 30}
    assert release.rotation_keep(backups, 0, 1, 0) == {"late"}
    assert release.rotation_keep(backups, 500, 0, 0) == set(range(119)) | {"late"}
    assert release.rotation_keep([], 7, 4, 3) == set()


def test_rotation_keep_same_instant_keeps_the_later_one():
    when = datetime.datetime(2024, 1, 1)
    assert release.rotation_keep([("a", when), ("b", when)], 1, 1, 1) == {"b"}


@pytest.mark.parametrize(
    ("counts", "backups"),
    [
        ((-1, 4, 3), []),
        ((7, None, 3), []),
        ((7, 4, 1.5), []),
        ((True, 4, 3), []),
        ((7, 4, 3), [("a", "2024-01-01")]),
        ((7, 4, 3), [("a", datetime.date(2024, 1, 1))]),
    ],
)
def test_rotation_keep_refuses_bad_input(counts, backups):
    with pytest.raises(ReleaseInputError):
        release.rotation_keep(backups, *counts)


# --- DUMP_CHECK_SCRIPT ------------------------------------------------------------------------

SQL = b"--\n-- PostgreSQL database dump\n--\nCREATE TABLE res_partner (id integer);\n" * 50
MANIFEST = {"odoo_dump": "1", "db_name": "prod", "version": "18.0", "version_info": [18, 0],
            "major_version": "18.0", "pg_version": "16.0",
            "modules": {"base": "18.0.1.3", "web": "18.0.1.0", "sale": "18.0.1.2"}}  # fmt: skip


def make_dump(path, members, compression=zipfile.ZIP_DEFLATED):
    with zipfile.ZipFile(path, "w", compression) as dump:
        for name, data in members.items():
            if name.endswith("/"):
                dump.writestr(zipfile.ZipInfo(name), b"")
            else:
                dump.writestr(name, data)
    return str(path)


def good_members():
    return {
        "dump.sql": SQL,
        "manifest.json": json.dumps(MANIFEST).encode(),
        "filestore/": b"",
        "filestore/ab/": b"",
        "filestore/ab/ab12cd": b"\x89PNG attachment",
        "filestore/cd/cd34ef": b"%PDF-1.4 invoice",
    }


def check_dump(path):
    done = subprocess.run(
        [sys.executable, "-c", release.DUMP_CHECK_SCRIPT, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.stderr == ""  # never a traceback
    return done.returncode, release.parse_dump_check(done.stdout)


def test_dump_check_good(tmp_path):
    path = make_dump(tmp_path / "prod 2024-05-01 $(id).zip", good_members())
    assert check_dump(path) == (0, {
        "ok": True, "size": os.path.getsize(path), "sql_bytes": len(SQL), "files": 2,
        "modules": 3, "database": "prod", "version": "18.0", "error": "",
    })  # fmt: skip


def test_dump_check_without_dump_sql(tmp_path):
    members = good_members()
    del members["dump.sql"]
    code, found = check_dump(make_dump(tmp_path / "x.zip", members))
    assert code == 1 and not found["ok"] and found["files"] == 2
    assert found["error"] == "ValueError: the archive has no dump.sql"


def test_dump_check_corrupt_member(tmp_path):
    path = tmp_path / "corrupt.zip"
    make_dump(path, good_members(), zipfile.ZIP_STORED)
    data = bytearray(path.read_bytes())
    at = data.index(b"CREATE TABLE res_partner") + len(b"CREATE ")
    data[at : at + 5] = b"XXXXX"  # same length: the archive still opens, the CRC fails
    path.write_bytes(bytes(data))
    code, found = check_dump(path)
    assert code == 1 and not found["ok"] and found["sql_bytes"] == len(SQL)
    assert found["error"] == "ValueError: corrupt member in the archive: dump.sql"


def test_dump_check_truncated(tmp_path):
    path = tmp_path / "truncated.zip"
    make_dump(path, good_members())
    path.write_bytes(path.read_bytes()[:200])
    code, found = check_dump(path)
    assert code == 1 and not found["ok"] and found["error"].startswith("BadZipFile: ")


def test_dump_check_not_a_zip(tmp_path):
    path = tmp_path / "dump.zip"
    path.write_bytes(SQL)
    code, found = check_dump(path)
    assert code == 1 and found["size"] == len(SQL)
    assert found["error"] == "BadZipFile: File is not a zip file"


def test_dump_check_missing_file_and_folder(tmp_path):
    code, found = check_dump(tmp_path / "absent.zip")
    assert code == 1 and found["error"].startswith("FileNotFoundError: ")
    code, found = check_dump(tmp_path)
    assert code == 1 and not found["ok"] and found["error"]


@pytest.mark.parametrize(
    ("manifest", "error"),
    [
        (None, "ValueError: the archive has no manifest.json"),
        (b"{not json", "ValueError: manifest.json is unreadable: Expecting property name"),
        (b"\xff\xfe", "ValueError: manifest.json is unreadable: 'utf-8' codec"),
        (b"[1, 2]", "ValueError: manifest.json is not a JSON object"),
    ],
)
def test_dump_check_bad_manifest(tmp_path, manifest, error):
    members = good_members()
    if manifest is None:
        del members["manifest.json"]
    else:
        members["manifest.json"] = manifest
    code, found = check_dump(make_dump(tmp_path / "x.zip", members))
    assert code == 1 and not found["ok"] and found["error"].startswith(error)
    assert found["sql_bytes"] == len(SQL) and found["files"] == 2


@pytest.mark.parametrize(
    "text",
    [None, "", "Traceback (most recent call last):", "[]", '{"ok": true}',
     '{"ok": "yes", "size": 1, "sql_bytes": 1, "files": 0, "modules": 0, "database": "",'
     ' "version": "", "error": ""}',
     '{"ok": true, "size": true, "sql_bytes": 1, "files": 0, "modules": 0, "database": "",'
     ' "version": "", "error": ""}'],
)  # fmt: skip
def test_parse_dump_check_refuses_garbage(text):
    with pytest.raises(ReleaseInputError):
        release.parse_dump_check(text)


def test_parse_dump_check_reads_the_last_line():
    line = json.dumps({"ok": False, "size": 3, "sql_bytes": 0, "files": 0, "modules": 0,
                       "database": "", "version": "", "error": "x", "extra": 1})  # fmt: skip
    assert release.parse_dump_check(f"warning: noise\n{line}\n\n")["error"] == "x"
    assert "extra" not in release.parse_dump_check(line)
