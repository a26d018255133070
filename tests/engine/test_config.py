"""Config decoding: the example loads, and every bad value gets a message naming the field,
the value and what was expected."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
import trustme

from engine.cli import main
from engine.config import BindConfig, Config, ConfigError, load_config, parse_config

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "ja-engine.toml"
ENV = {"KPN_PW": "s3cret"}

MINIMAL = """
short_code = "4777"
[[carriers.kpn.binds]]
name = "kpn-1"
system_id = "ja"
password_env = "KPN_PW"
"""


def parse(text: str, environ: dict[str, str] | None = None) -> Config:
    return parse_config(text, source="ja.toml", environ=ENV if environ is None else environ)


def error(text: str, environ: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as info:
        parse(text, environ)
    return str(info.value)


def with_bind_line(line: str) -> str:
    return MINIMAL.replace('system_id = "ja"', f'system_id = "ja"\n{line}')


def test_example_file_loads() -> None:
    config = load_config(EXAMPLE, environ={"KPN_SMPP_PASSWORD": "kpnpass"})
    assert config.short_code == "4777"
    assert set(config.carriers) == {"kpn", "vodafone"}
    kpn1 = config.carriers["kpn"].binds[0]
    assert (kpn1.name, kpn1.port, kpn1.tls, kpn1.password) == ("kpn-1", 3550, True, "kpnpass")
    assert kpn1.password_env == "KPN_SMPP_PASSWORD"
    assert config.carriers["vodafone"].binds[0].password == "sim"
    assert config.routing.default_carrier == "kpn"
    assert [b.name for _, b in config.all_binds()] == ["kpn-1", "kpn-2", "vf-1"]


def test_defaults() -> None:
    config = parse(MINIMAL)
    bind = config.carriers["kpn"].binds[0]
    assert bind == BindConfig(
        name="kpn-1", system_id="ja", password="s3cret", password_env="KPN_PW"
    )
    assert (bind.host, bind.port, bind.bind_type, bind.window, bind.rate) == (
        "127.0.0.1",
        2775,
        "transceiver",
        64,
        100.0,
    )
    assert (bind.source_ton, bind.source_npi, bind.tls_verify) == (3, 0, True)
    assert config.routing.default_carrier == "kpn"  # the only carrier
    assert config.redis.url is None
    assert config.redis.appendfsync == "everysec"
    assert config.metrics.port == 9477
    assert config.outbox.transactional_policy_unknown == "drop"
    assert config.outbox.bulk_policy_unknown == "resend"
    assert config.inbox.per_number_burst == 10
    assert config.country_code == "31"


def test_int_accepted_for_float_field() -> None:
    assert parse(with_bind_line("rate = 250")).carriers["kpn"].binds[0].rate == 250.0


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            'window = "64"',
            'ja.toml: carriers.kpn.binds[0].window: expected an int between 1 and 10000, got "64"',
        ),
        ("window = 0", "carriers.kpn.binds[0].window: expected an int between 1 and 10000, got 0"),
        (
            "port = 70000",
            "carriers.kpn.binds[0].port: expected an int between 1 and 65535, got 70000",
        ),
        ("rate = 0", "carriers.kpn.binds[0].rate: expected a number > 0, got 0"),
        ("burst = 0.5", "carriers.kpn.binds[0].burst: expected an int >= 1, got 0.5"),
        ("tls = 1", "carriers.kpn.binds[0].tls: expected true or false, got 1"),
        (
            'bind_type = "tx"',
            'carriers.kpn.binds[0].bind_type: expected one of "receiver", "transceiver", '
            '"transmitter", got "tx"',
        ),
        (
            "source_ton = 7",
            "carriers.kpn.binds[0].source_ton: expected an int between 0 and 6, got 7",
        ),
        (
            "source_npi = 2",
            "carriers.kpn.binds[0].source_npi: "
            "expected one of 0, 1, 3, 4, 6, 8, 9, 10, 14, 18, got 2",
        ),
        (
            'system_type = "ABCDEFGHIJKLM"',
            "carriers.kpn.binds[0].system_type: expected a string of at most 12 characters, "
            'got "ABCDEFGHIJKLM"',
        ),
        (
            "reconnect_initial = 5.0\nreconnect_max = 2.0",
            "carriers.kpn.binds[0].reconnect_max: expected >= reconnect_initial 5.0, got 2.0",
        ),
        ('name = "kpn 1"', "carriers.kpn.binds[0].name: expected 1 to 64 of A-Z a-z 0-9 _ . -"),
    ],
)
def test_bad_bind_value(line: str, message: str) -> None:
    text = with_bind_line(line)
    if line.startswith("name"):
        text = text.replace('name = "kpn-1"\n', "", 1)
    assert message in error(text)


def test_system_id_length_per_smpp() -> None:
    assert error(MINIMAL.replace('"ja"', '"ABCDEFGHIJKLMNOP"')) == (
        "ja.toml: carriers.kpn.binds[0].system_id: expected a string of 1 to 15 characters, "
        'got "ABCDEFGHIJKLMNOP"'
    )


def test_missing_required_field() -> None:
    assert error(MINIMAL.replace('system_id = "ja"\n', "")) == (
        "ja.toml: carriers.kpn.binds[0].system_id: required field missing: "
        "expected a string of 1 to 15 characters"
    )


def test_error_in_second_carrier_names_it() -> None:
    text = MINIMAL + '[[carriers.vf.binds]]\nname = "vf-1"\nsystem_id = "x"\npassword = "p"\n'
    text += "window = -1\n"
    assert "ja.toml: carriers.vf.binds[0].window: expected an int between 1 and 10000" in (
        error(text)
    )


@pytest.mark.parametrize(
    ("extra", "path", "allowed"),
    [
        ("colour = 1", "colour", "short_code, carriers, routing"),
        ("[routing]\nfoo = 1", "routing.foo", "default_carrier, prefer_last_inbound"),
        ("[carriers.kpn]\nweight = 3", "carriers.kpn.weight", "binds, prefixes"),
        ("[[carriers.kpn.binds]]\ncolour = 1", "carriers.kpn.binds[1].colour", "name, host, port"),
    ],
)
def test_unknown_field_at_any_depth(extra: str, path: str, allowed: str) -> None:
    # Top-level keys must come before the first table header in TOML.
    text = f"{extra}\n{MINIMAL}" if extra.startswith("colour") else f"{MINIMAL}{extra}\n"
    message = error(text)
    assert message.startswith(f"ja.toml: {path}: unknown field (allowed: ")
    assert allowed in message


def test_toml_syntax_error_has_line_and_column() -> None:
    message = error('short_code = "4777"\ncarriers = [\n  = 3\n')
    assert message.startswith("ja.toml: invalid TOML: ")
    assert "line 3, column 3" in message


def test_password_env_resolved_and_hidden() -> None:
    bind = parse(MINIMAL, {"KPN_PW": "hunter2"}).carriers["kpn"].binds[0]
    assert bind.password == "hunter2"
    assert bind.password_env == "KPN_PW"
    assert "hunter2" not in repr(bind)
    assert "password=<hidden>" in repr(bind)
    assert "hunter2" not in repr(parse(MINIMAL, {"KPN_PW": "hunter2"}))


def test_password_env_not_set() -> None:
    assert error(MINIMAL, {}) == (
        "ja.toml: carriers.kpn.binds[0].password_env: environment variable KPN_PW is not set"
    )


def test_password_from_env_too_long_is_not_shown() -> None:
    message = error(MINIMAL, {"KPN_PW": "muchtoolong"})
    assert "carriers.kpn.binds[0].password_env: expected at most 8 ASCII characters" in message
    assert "$KPN_PW has 11" in message
    assert "muchtoolong" not in message


def test_inline_password_too_long_is_not_shown() -> None:
    text = MINIMAL.replace('password_env = "KPN_PW"', 'password = "muchtoolong"')
    message = error(text)
    assert message == (
        "ja.toml: carriers.kpn.binds[0].password: expected a string of at most 8 characters, "
        "got a string of 11 characters (not shown)"
    )


@pytest.mark.parametrize("both", [True, False])
def test_exactly_one_password_source(both: bool) -> None:
    text = (
        with_bind_line('password = "x"') if both else MINIMAL.replace('password_env = "KPN_PW"', "")
    )
    assert error(text) == (
        "ja.toml: carriers.kpn.binds[0]: "
        "expected exactly one of password, password_env or password_file"
    )


def test_duplicate_bind_names_across_carriers() -> None:
    text = MINIMAL + '[[carriers.vf.binds]]\nname = "kpn-1"\nsystem_id = "x"\npassword = "p"\n'
    text += '[routing]\ndefault_carrier = "kpn"\n'
    assert error(text) == (
        'ja.toml: carriers.vf.binds[0].name: "kpn-1" is already the name of carriers.kpn.binds[0]'
    )


def test_default_carrier_must_exist() -> None:
    assert error(MINIMAL + '[routing]\ndefault_carrier = "vf"\n') == (
        'ja.toml: routing.default_carrier: expected one of kpn, got "vf"'
    )


def test_no_default_with_several_carriers() -> None:
    text = MINIMAL + '[[carriers.vf.binds]]\nname = "vf-1"\nsystem_id = "x"\npassword = "p"\n'
    assert parse(text).routing.default_carrier is None


@pytest.mark.parametrize(
    ("prefixes", "message"),
    [
        ('["3161"]', 'carriers.kpn.prefixes[0]: expected "+" and digits, got "3161"'),
        ('["+31", "+31 6"]', 'carriers.kpn.prefixes[1]: expected "+" and digits, got "+31 6"'),
    ],
)
def test_bad_prefix(prefixes: str, message: str) -> None:
    text = MINIMAL.replace(
        "[[carriers.kpn.binds]]", f"[carriers.kpn]\nprefixes = {prefixes}\n[[carriers.kpn.binds]]"
    )
    assert message in error(text)


def test_prefix_routed_to_two_carriers() -> None:
    text = MINIMAL.replace(
        "[[carriers.kpn.binds]]", '[carriers.kpn]\nprefixes = ["+3161"]\n[[carriers.kpn.binds]]'
    )
    text += '[carriers.vf]\nprefixes = ["+3161"]\n'
    text += '[[carriers.vf.binds]]\nname = "vf-1"\nsystem_id = "x"\npassword = "p"\n'
    assert "ja.toml: carriers.vf.prefixes: +3161 is also routed to kpn" in error(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('short_code = "47a7"', 'short_code: expected 3 to 15 digits, got "47a7"'),
        ("short_code = 4777", "short_code: expected a string, got 4777"),
        ('country_code = "+31"', 'country_code: expected 1 to 3 digits, got "+31"'),
    ],
)
def test_bad_top_level_value(text: str, message: str) -> None:
    body = MINIMAL.replace('short_code = "4777"\n', "") if "short_code" in text else MINIMAL
    assert f"ja.toml: {message}" in error(f"{text}\n{body}")


def test_carriers_required_and_not_empty() -> None:
    assert error('short_code = "4777"\ncarriers = {}\n') == (
        "ja.toml: carriers: expected a table of at least 1 entry, got a table"
    )
    assert error('short_code = "4777"\n[carriers.kpn]\nbinds = []\n') == (
        "ja.toml: carriers.kpn.binds: expected an array of at least 1 tables, got an array"
    )


def test_bad_carrier_name() -> None:
    message = error(MINIMAL.replace("carriers.kpn.", 'carriers."KPN NL".'))
    assert 'ja.toml: carriers.KPN NL: carrier name "KPN NL": expected only a-z' in message


def test_several_semantic_problems_reported_together() -> None:
    text = with_bind_line("reconnect_max = 0.1\nsource_npi = 2")
    lines = error(text, {}).splitlines()
    assert len(lines) == 3
    assert all(line.startswith("ja.toml: carriers.kpn.binds[0].") for line in lines)


def test_redis_url_from_environment_and_checked() -> None:
    env = {**ENV, "REDIS_URL": "redis://127.0.0.1:6379/3"}
    assert parse(MINIMAL, env).redis.url == "redis://127.0.0.1:6379/3"
    in_file = MINIMAL + '[redis]\nurl = "unix:///run/redis.sock"\n'
    assert parse(in_file, env).redis.url == "unix:///run/redis.sock"
    message = error(MINIMAL, {**ENV, "REDIS_URL": "http://u:pw@host"})
    assert message == (
        "ja.toml: redis.url (from REDIS_URL): expected a URL starting with redis://, rediss://, "
        'unix://, got "host"'
    )


def test_load_config_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"missing\.toml: cannot read"):
        load_config(tmp_path / "missing.toml")


def test_config_error_is_value_error_with_problems() -> None:
    with pytest.raises(ValueError, match="window") as info:
        parse(with_bind_line("window = 0"))
    assert isinstance(info.value, ConfigError)
    assert info.value.source == "ja.toml"
    assert info.value.problems[0][0] == "carriers.kpn.binds[0].window"


def test_reclaim_idle_must_outlast_the_response_timeout() -> None:
    text = with_bind_line("response_timeout = 40.0")  # outbox.reclaim_idle defaults to 60 s
    assert "outbox.reclaim_idle: expected more than twice the longest response_timeout (40 s)" in (
        error(text)
    )
    assert parse(text + "[outbox]\nreclaim_idle = 81\n", ENV).outbox.reclaim_idle == 81


def test_campaign_defaults_and_a_partial_language() -> None:
    config = parse(MINIMAL + '[campaigns.templates.de]\nhelp = "Hilfe: {organisation}"\n')
    campaigns = config.campaigns
    assert (campaigns.default_language, campaigns.thank_delay) == ("nl", 60.0)
    assert config.inbox.router == "campaigns"
    assert sorted(campaigns.templates) == ["de", "en", "nl"]
    assert campaigns.templates["de"].help == "Hilfe: {organisation}"
    assert campaigns.templates["de"].stop == campaigns.templates["en"].stop  # filled in


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        (
            '[campaigns.templates.nl]\nwelcome = "Hoi {name}"',
            "ja.toml: campaigns.templates.nl.welcome: unknown placeholder {name}",
        ),
        (
            '[campaigns.templates.nl]\nstop = "' + "x" * 161 + '"',
            "ja.toml: campaigns.templates.nl.stop: ",
        ),
        ('[campaigns]\ndefault_language = "fr"', "ja.toml: campaigns.default_language: "),
        ('[campaigns]\norganisation = "A {b}"', "ja.toml: campaigns.organisation: "),
        (
            '[campaigns.keywords.xx]\nsign = ["STOP"]',
            "ja.toml: campaigns.keywords: ",
        ),
        (
            "[inbox]\nredelivery_window = 0",
            "ja.toml: inbox.redelivery_window: expected a number > 0",
        ),
        ('[inbox]\nrouter = "csv"', 'ja.toml: inbox.router: expected one of "campaigns", "log"'),
    ],
)
def test_bad_campaign_settings_name_the_field(table: str, expected: str) -> None:
    assert error(MINIMAL + table).startswith(expected)


# --- password_file ----------------------------------------------------------------------------


def password_file(tmp_path: Path, content: bytes, mode: int = 0o600) -> Path:
    path = tmp_path / "kpn.pw"
    path.write_bytes(content)
    os.chmod(path, mode)
    return path


def with_password_file(path: Path) -> str:
    return MINIMAL.replace('password_env = "KPN_PW"', f'password_file = "{path}"')


@pytest.mark.parametrize(
    ("content", "password"),
    [(b"s3cret\n", "s3cret"), (b"s3cret", "s3cret"), (b"s3cret\r\n", "s3cret"),
     (b"s3cret\n\n", "s3cret\n")],  # only one newline is the file's, the rest is the password
)  # fmt: skip
def test_password_file_read(tmp_path: Path, content: bytes, password: str) -> None:
    warnings: list[str] = []
    text = with_password_file(password_file(tmp_path, content))
    bind = parse_config(text, source="ja.toml", on_warning=warnings.append).carriers["kpn"].binds[0]
    assert bind.password == password
    assert warnings == []
    assert "password=<hidden>" in repr(bind)


def test_password_file_open_to_others_warns(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = password_file(tmp_path, b"s3cret\n", mode=0o644)
    with caplog.at_level(logging.WARNING, logger="engine.config"):
        bind = parse(with_password_file(path)).carriers["kpn"].binds[0]
    assert bind.password == "s3cret"  # a warning, not an error
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
        (
            logging.WARNING,
            f'ja.toml: carriers.kpn.binds[0].password_file: warning: "{path}" is open to group '
            "or others (mode 0644): run chmod 600 on it",
        )
    ]


def test_password_file_missing_names_the_field(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.pw"
    assert error(with_password_file(path)) == (
        f'ja.toml: carriers.kpn.binds[0].password_file: cannot read "{path}" (No such file or '
        "directory): expected a file holding the password, readable by the engine's user only "
        "(chmod 600)"
    )


def test_password_file_unreadable_is_an_error(tmp_path: Path) -> None:
    message = error(with_password_file(tmp_path))  # a directory: open() fails as for EACCES
    assert message.startswith(
        f'ja.toml: carriers.kpn.binds[0].password_file: cannot read "{tmp_path}" (Is a directory)'
    )


def test_password_file_too_long_is_not_shown(tmp_path: Path) -> None:
    message = error(with_password_file(password_file(tmp_path, b"muchtoolong\n")))
    assert "carriers.kpn.binds[0].password_file: expected at most 8 ASCII characters" in message
    assert "has 11 (not shown)" in message
    assert "muchtoolong" not in message


def test_password_file_is_one_source_of_three(tmp_path: Path) -> None:
    text = with_bind_line(f'password_file = "{password_file(tmp_path, b"x")}"')
    assert error(text) == (
        "ja.toml: carriers.kpn.binds[0]: "
        "expected exactly one of password, password_env or password_file"
    )


@pytest.mark.parametrize("mode", [0o600, 0o644])
def test_check_config_never_prints_the_password_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], mode: int
) -> None:
    config = tmp_path / "ja.toml"
    config.write_text(with_password_file(password_file(tmp_path, b"s3cret\n", mode)))
    assert main(["check-config", str(config)]) == 0
    out, err = capsys.readouterr()
    assert out.startswith(f"{config}: OK\n")
    assert "s3cret" not in out + err
    warned = "password_file: warning: " in err
    assert warned == (mode == 0o644)  # check-config shows the warning, on stderr


def test_check_config_never_prints_a_bad_password_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "ja.toml"
    config.write_text(with_password_file(password_file(tmp_path, b"muchtoolong\n")))
    assert main(["check-config", str(config)]) == 2
    out, err = capsys.readouterr()
    assert "password_file: expected at most 8 ASCII characters" in err
    assert "muchtoolong" not in out + err


# --- TLS ------------------------------------------------------------------------------------


def with_tls(*lines: str) -> str:
    return with_bind_line("\n".join(lines))


@pytest.fixture(scope="module")
def ca_pem(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    trustme.CA().cert_pem.write_to_path(str(path))
    return path


def test_tls_defaults_verify_with_the_system_store() -> None:
    bind = parse(with_tls("tls = true")).carriers["kpn"].binds[0]
    assert (bind.tls_verify, bind.tls_ca, bind.tls_server_name, bind.tls_pin_sha256) == (
        True,
        None,
        None,
        [],
    )


def test_tls_fields_load(ca_pem: Path) -> None:
    digest = "ab" * 32
    pins = [":".join(["AB"] * 32), "q80=".rjust(44, "q"), digest]
    text = with_tls(
        "tls = true",
        f'tls_ca = "{ca_pem}"',
        'tls_server_name = "smpp.kpn.example"',
        f"tls_pin_sha256 = {pins!r}".replace("'", '"'),
    )
    bind = parse(text).carriers["kpn"].binds[0]
    assert bind.tls_ca == str(ca_pem)
    assert bind.tls_server_name == "smpp.kpn.example"
    assert bind.tls_pin_sha256 == [digest, "aa" * 30 + "abcd", digest]  # all as lower-case hex


def test_tls_ca_missing_names_the_field_and_the_fix(tmp_path: Path) -> None:
    missing = tmp_path / "nope.pem"
    assert error(with_tls("tls = true", f'tls_ca = "{missing}"')) == (
        f'ja.toml: carriers.kpn.binds[0].tls_ca: file "{missing}" not found: give the path of '
        "the carrier's CA bundle (PEM), or leave tls_ca out to use the system's trust store"
    )


def test_tls_ca_without_certificates(tmp_path: Path) -> None:
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    assert error(with_tls("tls = true", f'tls_ca = "{junk}"')) == (
        f'ja.toml: carriers.kpn.binds[0].tls_ca: no certificate found in "{junk}": expected a '
        "PEM file of CA certificates (-----BEGIN CERTIFICATE----- blocks)"
    )


def test_tls_ca_with_verification_off_is_refused(ca_pem: Path) -> None:
    assert error(with_tls("tls = true", "tls_verify = false", f'tls_ca = "{ca_pem}"')) == (
        "ja.toml: carriers.kpn.binds[0].tls_ca: expected no tls_ca with tls_verify = false "
        "(nothing is verified)"
    )


@pytest.mark.parametrize(
    "line", ['tls_ca = "{ca}"', f'tls_pin_sha256 = ["{"ab" * 32}"]', 'tls_server_name = "x"']
)
def test_tls_settings_need_tls(ca_pem: Path, line: str) -> None:
    field = line.split(" ")[0]
    assert error(with_tls(line.format(ca=ca_pem))) == (
        f"ja.toml: carriers.kpn.binds[0].{field}: expected tls = true with {field}, got tls = false"
    )


@pytest.mark.parametrize("pin", ["ab" * 31, "zz" * 32, "sha256:" + "ab" * 32, "q" * 44])
def test_bad_pin_is_refused(pin: str) -> None:
    text = with_tls("tls = true", f'tls_pin_sha256 = ["{"ab" * 32}", "{pin}"]')
    assert error(text) == (
        "ja.toml: carriers.kpn.binds[0].tls_pin_sha256[1]: expected a SHA-256 fingerprint: "
        f'64 hex digits (colons allowed) or 44 base64 characters, got "{pin}"'
    )


def test_http_and_logging_defaults() -> None:
    config = parse(MINIMAL)
    assert (config.http.host, config.http.port) == ("127.0.0.1", 9477)
    assert (config.logging.format, config.logging.level) == ("plain", "INFO")


def test_http_address_in_its_own_section() -> None:
    config = parse(MINIMAL + '[http]\nhost = "::1"\nport = 0\n[logging]\nformat = "json"\n')
    assert (config.http.host, config.http.port) == ("::1", 0)
    assert config.logging.format == "json"


def test_metrics_host_and_port_are_the_older_name_of_http() -> None:
    config = parse(MINIMAL + '[metrics]\nhost = "0.0.0.0"\nport = 9500\n')
    assert (config.http.host, config.http.port) == ("0.0.0.0", 9500)


def test_http_and_metrics_address_together_are_refused() -> None:
    text = error(MINIMAL + "[http]\nport = 9500\n[metrics]\nport = 9501\n")
    assert text == (
        "ja.toml: metrics.port: expected the HTTP server's address in [http] only ([metrics] "
        "host and port are its older name): move them to [http]"
    )


def test_unknown_log_level_names_the_choices() -> None:
    text = error(MINIMAL + '[logging]\nlevel = "LOUD"\n')
    assert text == (
        'ja.toml: logging.level: expected one of "DEBUG", "ERROR", "INFO", "WARNING", got "LOUD"'
    )
