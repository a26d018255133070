"""``ja-engine subscribers ...``: imports that are all or nothing, masked look-ups, forget."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
import trio

from counters import Store
from engine.console.numbers import NumberError, to_e164

SECRET = "a-long-enough-forget-secret"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+31612345678", "+31612345678"),
        ("06 1234 5678", "+31612345678"),
        ("+31 (0)6-12345678", "+31612345678"),
        ("0031612345678", "+31612345678"),
        ("31612345678", "+31612345678"),
        ("+44 20 7946 0958", "+442079460958"),
    ],
)
def test_numbers_become_e164(raw: str, expected: str) -> None:
    assert to_e164(raw, "31") == expected


@pytest.mark.parametrize("raw", ["06-1234", "phone", "+31 6 1234 5678 9012 3456", ""])
def test_bad_numbers_say_why(raw: str) -> None:
    with pytest.raises(NumberError):
        to_e164(raw, "31")


def config(tmp_path: Path, redis_url: str, store: Store) -> Path:
    path = tmp_path / "ja.toml"
    path.write_text(
        f'short_code = "4777"\n[redis]\nurl = "{redis_url}"\n'
        f'namespace = "{store.keys.namespace}"\nforget_secret_env = "JA_FORGET_SECRET"\n'
        '[carriers.sim]\n[[carriers.sim.binds]]\nname = "s"\nsystem_id = "ja"\npassword = "pw"\n'
    )
    return path


async def ja(path: Path, *args: str, secret: str = SECRET) -> tuple[int, str, str]:
    env = {**os.environ, "JA_FORGET_SECRET": secret}
    command = [sys.executable, "-m", "engine", "subscribers", args[0], "-c", str(path), *args[1:]]
    with trio.fail_after(60):
        done = await trio.run_process(
            command, capture_stdout=True, capture_stderr=True, check=False, env=env
        )
    return done.returncode, done.stdout.decode(), done.stderr.decode()


@pytest.mark.slow
async def test_import_show_forget_stats(store: Store, redis_url: str, tmp_path: Path) -> None:
    path = config(tmp_path, redis_url, store)
    bad = tmp_path / "bad.csv"
    bad.write_text("name,phone\nAnna,06 1234 5678\nBob,06-12\nCor,+31 6 8765 4321\nDik,none\n")
    code, _, err = await ja(path, "import", str(bad))
    assert code == 1
    assert "line 3:" in err
    assert "line 5:" in err
    assert "nothing imported" in err
    assert await store.subscribers.counts() == (0, 0, 0)

    good = tmp_path / "good.csv"
    good.write_text("0612345678\n+31 6 8765 4321\n06 1234 5678\n")
    code, out, _ = await ja(path, "import", str(good), "--json")
    assert code == 0
    assert json.loads(out) == {"read": 3, "distinct": 2, "pending": 2, "already_active": 0,
                               "refused_forgotten": 0}  # fmt: skip
    assert await store.subscribers.counts() == (0, 2, 0)  # pending until they text START

    code, out, _ = await ja(path, "show", "0612345678")
    assert code == 0
    assert out.splitlines()[0] == "+3161234****: pending"
    assert "pending     via import:good.csv" in out
    code, out, _ = await ja(path, "show", "0612345678", "--unmasked", "--json")
    assert json.loads(out)["number"] == "+31612345678"

    code, _, err = await ja(path, "forget", "0612345678", secret="")
    assert code == 2  # the configuration itself is refused: the variable is empty
    assert "JA_FORGET_SECRET" in err
    code, out, _ = await ja(path, "forget", "0612345678", "--reason", "ticket-7")
    assert code == 0
    assert "erased" in out
    code, out, _ = await ja(path, "import", str(good), "--json")
    assert json.loads(out)["refused_forgotten"] == 1  # an import cannot bring it back

    code, out, _ = await ja(path, "stats", "--json")
    assert code == 0
    assert json.loads(out)["pending"] == 1
    code, _, err = await ja(path, "show", "not-a-number")
    assert code == 2
    assert "not a phone number" in err
