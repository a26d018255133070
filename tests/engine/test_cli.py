"""The ``ja-engine`` command line, driven through ``main([...])``."""

from __future__ import annotations

import argparse
import sys
import types
from pathlib import Path

import pytest

from engine.cli import main
from engine.config import Config

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "ja-engine.toml"


@pytest.fixture(autouse=True)
def _environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KPN_SMPP_PASSWORD", "kpnpass")
    monkeypatch.delenv("REDIS_URL", raising=False)


def test_check_config_ok(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", str(EXAMPLE)]) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert lines[0] == f"{EXAMPLE}: OK"
    assert any("carrier kpn (default)" in line for line in lines)
    kpn1 = next(line for line in lines if "bind kpn-1" in line)
    for part in ("smpp.kpn.example:3550", "transceiver", "window=64", "rate=100/s"):
        assert part in kpn1
    assert any("bind vf-1 127.0.0.1:2775" in line for line in lines)
    assert "redis: embedded server" in out
    assert "  http: host 127.0.0.1, port 9477 (/metrics, /healthz, /readyz)" in lines
    public = "  public server: host 127.0.0.1, port 9478, nice 19, 2000 answers/s"
    assert any(line.startswith(public) for line in lines)
    assert "  logs: plain, INFO and above" in lines
    assert "kpnpass" not in out
    assert err == ""


def test_check_config_hides_redis_password(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://:topsecret@db:6379/0")
    assert main(["check-config", str(EXAMPLE)]) == 0
    out = capsys.readouterr().out
    assert "redis: redis://:***@db:6379/0" in out
    assert "topsecret" not in out


def test_check_config_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "ja.toml"
    bad.write_text(EXAMPLE.read_text().replace("window = 32", 'window = "32"'))
    assert main(["check-config", str(bad)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.strip() == (
        f'{bad}: carriers.vodafone.binds[0].window: expected an int between 1 and 10000, got "32"'
    )


def test_check_config_missing_password_env(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("KPN_SMPP_PASSWORD")
    assert main(["check-config", str(EXAMPLE)]) == 2
    assert "environment variable KPN_SMPP_PASSWORD is not set" in capsys.readouterr().err


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in ([], ["check-config"], ["frobnicate"]):
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 2
    assert "usage: ja-engine" in capsys.readouterr().err


def test_run_and_demo_before_app_exists(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "engine.app", None)  # import raises ModuleNotFoundError
    assert main(["run", str(EXAMPLE)]) == 2
    assert main(["demo"]) == 2
    err = capsys.readouterr().err
    assert "run_from_cli is not built yet" in err
    assert "demo_from_cli is not built yet" in err


def test_run_and_demo_call_the_app(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, object]] = []

    def run_from_cli(config: Config, args: argparse.Namespace) -> int:
        calls.append(("run", config.short_code))
        return 0

    def demo_from_cli(args: argparse.Namespace) -> int:
        calls.append(("demo", args.command))
        return 3

    app = types.ModuleType("engine.app")
    app.run_from_cli = run_from_cli  # type: ignore[attr-defined]
    app.demo_from_cli = demo_from_cli  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "engine.app", app)
    assert main(["run", str(EXAMPLE)]) == 0
    assert main(["demo"]) == 3
    assert calls == [("run", "4777"), ("demo", "demo")]


def test_run_with_bad_config_reports_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "ja.toml"
    bad.write_text("short_code = 1\n")
    assert main(["run", str(bad)]) == 2
    assert f"{bad}: short_code: expected a string, got 1" in capsys.readouterr().err


def test_simulator_help_is_forwarded(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["simulator", "--help"])
    assert info.value.code == 0
    assert "--port" in capsys.readouterr().out
