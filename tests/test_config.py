"""Configuration: bad input is refused with a message that names the key and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.cli import main
from monitor.config import load_config, masked_dump, parse_config
from monitor.errors import ConfigError

MINIMAL = {"brand": {"name": "Acme"}, "sources": [{"type": "jsonl", "path": "m.jsonl"}]}


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "monitor.toml"
    path.write_text(body, encoding="utf-8")
    return path


def test_shipped_example_config_is_valid_without_secrets() -> None:
    config = load_config("config/monitor.example.toml", env={})
    assert config.brand.name == "Acme"
    assert config.sources[0].name == "sample"
    assert config.slack.secret("token") is None


def test_relative_source_path_is_resolved_against_the_config_file(tmp_path: Path) -> None:
    path = write(tmp_path, '[brand]\nname="Acme"\n[[sources]]\ntype="jsonl"\npath="m.jsonl"\n')
    config = load_config(path, env={})
    assert config.sources[0].path == tmp_path / "m.jsonl"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            '[brand]\nname="Acme"\ncolour="red"\n[[sources]]\ntype="jsonl"\npath="m"\n',
            "brand.colour: unknown key",
        ),
        (
            '[brand]\nname="Acme"\n[[sources]]\ntype="jsonl"\npath="m"\ninterval_seconds=0\n',
            "sources[0].interval_seconds: Input should be greater than or equal to 1 (got 0)",
        ),
        (
            '[brand]\nname="Acme"\n[[sources]]\ntype="jsonl"\npath="m"\ninterval_seconds="often"\n',
            "sources[0].interval_seconds",
        ),
        (
            '[brand]\nname="Acme"\n[[sources]]\ntype="myspace"\n',
            "unknown source type 'myspace'; known types:",
        ),
        ('[brand]\nname="Acme"\n', "sources: required key is missing"),
        ('[[sources]]\ntype="jsonl"\npath="m"\n', "brand: required key is missing"),
        (
            '[brand]\nname="Acme"\n[[sources]]\ntype="jsonl"\npath="a"\n[[sources]]\ntype="jsonl"\n'
            'path="b"\n',
            "source names must be unique, jsonl repeats",
        ),
        ("[brand\nname=", "is not valid TOML"),
    ],
)
def test_bad_config_names_the_key_and_exits_2(
    tmp_path: Path, body: str, expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, body)
    with pytest.raises(ConfigError) as caught:
        load_config(path, env={})
    assert expected in str(caught.value)
    assert main(["check-config", "--config", str(path)]) == 2
    assert expected in capsys.readouterr().err


def test_missing_config_file_says_where_it_looked(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read configuration"):
        load_config(tmp_path / "nope.toml", env={})


def test_secrets_come_from_the_environment_and_never_print(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = parse_config(
        MINIMAL | {"slack": {"token_env": "MY_TOKEN", "channel": "C1"}},
        base_dir=tmp_path,
        env={"MY_TOKEN": "xoxb-very-secret"},
    )
    assert config.slack.secret("token") is not None
    dumped = str(masked_dump(config))
    assert "xoxb-very-secret" not in dumped
    assert "'token': '********** (set)'" in dumped
    assert "xoxb-very-secret" not in repr(config)

    monkeypatch.setenv("MY_TOKEN", "xoxb-very-secret")
    path = write(
        tmp_path,
        '[brand]\nname="Acme"\n[slack]\ntoken_env="MY_TOKEN"\nchannel="C1"\nsink="console"\n'
        '[[sources]]\ntype="jsonl"\npath="m"\n',
    )
    assert main(["check-config", "--config", str(path)]) == 0
    out = capsys.readouterr()
    assert "xoxb-very-secret" not in out.out + out.err
    assert "********** (set)" in out.out


def test_database_password_is_masked(tmp_path: Path) -> None:
    config = parse_config(
        MINIMAL | {"database": {"url": "postgresql+psycopg://u:hunter2@db/monitor"}},
        base_dir=tmp_path,
        env={},
    )
    dumped = str(masked_dump(config))
    assert "hunter2" not in dumped.replace("'url': 'postgresql+psycopg://u:hunter2@db/monitor'", "")


def test_state_dir_defaults_to_systemd_state_directory(tmp_path: Path) -> None:
    config = parse_config(MINIMAL, base_dir=tmp_path, env={"STATE_DIRECTORY": "/var/lib/cm"})
    assert config.database_url == "sqlite:////var/lib/cm/monitor.db"
