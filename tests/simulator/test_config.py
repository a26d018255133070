"""Configuration: TOML decoding, errors that name the field, flags over the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from smpp.simulator import ConfigError, load_config
from smpp.simulator.cli import build_parser, config_from_args

EXAMPLE = """
host = "0.0.0.0"
port = 2776
seed = 42
time_compression = 60.0

[[accounts]]
system_id = "engine"
password = "secret"
tps = 100
strict = true
bind_types = ["transceiver"]

[handsets]
count = 1_000_000
first_number = "31600000000"
reply_probability = 0.4

[receipts.outcomes]
DELIVRD = 0.9
UNDELIV = 0.1

[tv]
enabled = true
profile = [[0, 0], [60, 1000], [300, 1000], [360, 0]]

[[faults.script]]
at = 30
action = "refuse_binds"
duration = 10
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sim.toml"
    path.write_text(text)
    return path


def test_example_file(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, EXAMPLE))
    assert config.accounts[0].tps == 100
    assert config.accounts[0].strict
    assert config.handsets.count == 1_000_000
    assert config.receipts.outcomes == {"DELIVRD": 0.9, "UNDELIV": 0.1}
    assert config.tv.profile[1] == (60.0, 1000.0)
    assert config.faults.script[0].action == "refuse_binds"


def test_docs_example_is_valid(tmp_path: Path) -> None:
    docs = (Path(__file__).parents[2] / "docs" / "simulator.md").read_text()
    start = docs.index("```toml\n") + len("```toml\n")
    config = load_config(write(tmp_path, docs[start : docs.index("```", start)]))
    assert config.accounts


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[handsets]\ncuont = 5\n", "unknown field `cuont` - at `$.handsets`"),
        ("[handsets]\nreply_probability = 1.5\n", "reply_probability must be between 0 and 1"),
        ("[[accounts]]\nsystem_id = 'a'\npassword = 'p'\ntps = 'fast'\n", "$.accounts[0].tps"),
        ("[receipts.outcomes]\nDELIVERED = 1.0\n", "unknown ['DELIVERED']"),
        ("[faults]\nerror_status = 'ESME_NOPE'\n", "unknown command status 'ESME_NOPE'"),
        ("[[accounts]]\nsystem_id = 'a'\npassword = 'p'\nstrict = true\n", "strict needs tps"),
        ("port = [", "not valid TOML"),
    ],
)
def test_errors_name_the_field(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text))
    assert message in str(info.value)


def test_missing_file() -> None:
    with pytest.raises(ConfigError, match="No such file"):
        load_config("/nonexistent/sim.toml")


def test_flags_override_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, EXAMPLE)
    args = build_parser().parse_args(
        [
            "--config",
            str(path),
            "--port",
            "0",
            "--handsets",
            "5000",
            "--reply-probability",
            "1",
            "--seed",
            "3",
            "--ledger",
            "out.jsonl",
            "--account",
            "a:pw:50",
            "--account",
            "b:pw",
            "--tv-rate",
            "max",
            "--receipt-delay",
            "0.5",
        ]
    )
    config = config_from_args(args)
    assert config.port == 0
    assert config.handsets.count == 5000
    assert config.handsets.reply_probability == 1.0
    assert config.seed == 3
    assert config.ledger.path == "out.jsonl"
    assert [(a.system_id, a.tps) for a in config.accounts] == [("a", 50.0), ("b", 0.0)]
    assert config.tv.enabled
    assert config.tv.profile == [(0.0, float("inf"))]
    assert (config.receipts.delay, config.receipts.jitter) == (0.5, 0.0)
    assert config.time_compression == 60.0  # from the file


def test_bad_flags() -> None:
    parser = build_parser()
    with pytest.raises(SystemExit):
        parser.parse_args(["--account", "no-password"])
    args = parser.parse_args(["--reply-probability", "2"])
    with pytest.raises(ConfigError, match="reply_probability"):
        config_from_args(args)
