"""``[api]``: tokens from the environment or a private file, never from the config file
itself, never printed; problems named by field like every other config error."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from engine.cli import describe, main
from engine.config import ConfigError, parse_config

SECRET = "0123456789abcdef0123456789abcdef"
BASE = """
short_code = "4777"
[[carriers.kpn.binds]]
name = "kpn-1"
system_id = "ja"
password = "pw"
"""


def with_token(*lines: str) -> str:
    return BASE + '[[api.tokens]]\nname = "crm"\nscopes = ["read", "send"]\n' + "\n".join(lines)


def error(text: str, environ: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as info:
        parse_config(text, source="ja.toml", environ=environ or {})
    return str(info.value)


def test_a_token_from_the_environment_is_loaded_and_hidden() -> None:
    config = parse_config(with_token('token_env = "CRM_TOKEN"'), environ={"CRM_TOKEN": SECRET})
    (token,) = config.api.tokens
    assert (token.name, token.scopes, token.token) == ("crm", ["read", "send"], SECRET)
    assert SECRET not in repr(config)
    assert describe(config)[-1] == "api: /api/v1, tokens crm (read, send)"
    assert describe(parse_config(BASE, environ={}))[-1] == "api: no tokens"


def test_a_token_file_is_read_and_a_readable_one_warned_about(tmp_path: Path) -> None:
    path = tmp_path / "crm.token"
    path.write_text(SECRET + "\n")
    os.chmod(path, 0o644)
    warnings: list[str] = []
    config = parse_config(with_token(f'token_file = "{path}"'), source="ja.toml",
                          environ={}, on_warning=warnings.append)  # fmt: skip
    assert config.api.tokens[0].token == SECRET
    assert warnings == [f'ja.toml: api.tokens[0].token_file: warning: "{path}" is open to group '
                        "or others (mode 0644): run chmod 600 on it"]  # fmt: skip


@pytest.mark.parametrize(
    ("lines", "environ", "message"),
    [
        (('token = "' + SECRET + '"',), {},
         "ja.toml: api.tokens[0].token: expected the token in the environment or a file"),
        ((), {}, "ja.toml: api.tokens[0]: expected exactly one of token_env or token_file"),
        (('token_env = "CRM_TOKEN"',), {},
         "ja.toml: api.tokens[0].token_env: environment variable CRM_TOKEN is not set"),
        (('token_env = "CRM_TOKEN"',), {"CRM_TOKEN": "short"},
         "ja.toml: api.tokens[0].token_env: expected a token of at least 32 characters, "
         "$CRM_TOKEN has 5 (not shown)"),
    ],
)  # fmt: skip
def test_bad_tokens_are_named_by_field(
    lines: tuple[str, ...], environ: dict[str, str], message: str
) -> None:
    got = error(with_token(*lines), environ)
    assert got.startswith(message)
    assert SECRET not in got


def test_unknown_scope_lists_the_choices() -> None:
    text = BASE + '[[api.tokens]]\nname = "x"\nscopes = ["root"]\ntoken_env = "T"\n'
    assert error(text, {"T": SECRET}) == (
        'ja.toml: api.tokens[0].scopes[0]: expected one of "admin", "appeals", "export", '
        '"read", "send", "subscribe", got "root"'
    )


def test_names_and_values_are_unique() -> None:
    text = BASE + "".join(
        f'[[api.tokens]]\nname = "crm"\nscopes = ["read"]\ntoken_env = "T{i}"\n' for i in (1, 2)
    )
    message = error(text, {"T1": SECRET, "T2": SECRET})
    assert 'api.tokens[1].name: "crm" is already the name of api.tokens[0]' in message
    assert "api.tokens[1]: the same token as api.tokens[0] (not shown)" in message
    assert SECRET not in message


def test_check_config_never_prints_a_token(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CRM_TOKEN", SECRET)
    config = tmp_path / "ja.toml"
    config.write_text(with_token('token_env = "CRM_TOKEN"'))
    assert main(["check-config", str(config)]) == 0
    out, err = capsys.readouterr()
    assert "api: /api/v1, tokens crm (read, send)" in out
    assert SECRET not in out + err
