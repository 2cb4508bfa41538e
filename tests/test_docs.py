"""Docs that cannot drift: every setting the code reads is in the shipped config.toml (at its
default; `[[organisations]]`, which has none, as a commented example) and in README; every `kb`
command and option that --help shows is in README."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import click

from kb import config
from kb.cli.main import main
from kb.files.scaffold import CONFIG_TEMPLATE

REPO = Path(__file__).parent.parent
README = (REPO / "README.md").read_text(encoding="utf-8")
SHIPPED = (REPO / "config.toml").read_text(encoding="utf-8")


def toml_literal(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    return repr(value)


def settings() -> list[tuple[str, str, object]]:
    """(section, key, default) for every setting the code knows."""
    out = [("kb", key, getattr(config.Config, key, None)) for key in config._TOP]
    out[3] = ("kb", "review_days", 365)
    paths = {"entries_dir": "entries", "feeds_dir": "feeds", "var_dir": "var"}
    out = [(s, k, paths.get(k, d)) for s, k, d in out]
    for section, cls in config._SECTIONS.items():
        out += [(section, f.name, getattr(cls(), f.name)) for f in dataclasses.fields(cls)]
    return out


def test_the_shipped_config_is_what_kb_init_writes():
    assert SHIPPED == CONFIG_TEMPLATE


def test_every_setting_is_in_the_shipped_config_at_its_default():
    missing = []
    for section, key, default in settings():
        body = SHIPPED.split(f"[{section}]\n", 1)[1].split("\n[", 1)[0]
        if not re.search(rf"^# {re.escape(key)} = {re.escape(toml_literal(default))}(\s|$)", body, re.M):
            missing.append(f"{section}.{key} = {toml_literal(default)}")
    assert missing == []


def test_every_setting_is_in_readme():
    assert [f"{s}.{k}" for s, k, _ in settings() if f"`{s}.{k}`" not in README] == []


def test_every_organisations_key_is_in_the_shipped_example_and_readme():
    """`[[organisations]]` is an array of tables with no default: the shipped config.toml shows a
    commented example table with every key, and README's row names every key."""
    example = SHIPPED.split("# [[organisations]]\n", 1)[1]
    row = next((line for line in README.splitlines() if line.startswith("| `[[organisations]]`")), "")
    missing = [key for key in config.ORGANISATION_KEYS if not re.search(rf"^# {key} = ", example, re.M)]
    missing += [f"README: {key}" for key in config.ORGANISATION_KEYS if f"`{key}`" not in row]
    assert missing == []


def commands(group: click.Group, prefix: str = "kb") -> list[tuple[str, click.Command]]:
    out = []
    for name, command in group.commands.items():
        out.append((f"{prefix} {name}", command))
        if isinstance(command, click.Group):
            out += commands(command, f"{prefix} {name}")
    return out


def lines_about(name: str) -> list[str]:
    """README lines that show the command (in a code span, or a command line in a code block)."""
    pattern = re.compile(rf"(`|^\s*(\$ )?){re.escape(name)}(\s|`|$)")
    return [line for line in README.splitlines() if pattern.search(line)]


def test_every_command_and_option_is_in_readme():
    missing = []
    for name, command in commands(main):
        about = "\n".join(lines_about(name))
        if not about:
            missing.append(name)
        for param in command.params:
            if isinstance(param, click.Option):
                for opt in param.opts:
                    if opt.startswith("--") and opt != "--help" and not re.search(rf"{re.escape(opt)}\b", about):
                        missing.append(f"{name} {opt}")
    assert missing == []
