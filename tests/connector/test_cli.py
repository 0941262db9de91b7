"""`agora init` and `agora serve` as an operator runs them."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization

from connector.cli import main
from connector.config import load_settings


def test_init_writes_settings_keys_and_admin_key(tmp_path: Path) -> None:
    d = tmp_path / "murcia"
    result = CliRunner().invoke(
        main, ["init", str(d), "--name", "City of Murcia", "--role", "city"]
    )
    assert result.exit_code == 0, result.output
    settings = load_settings(d, env={})
    assert settings.participant.name == "City of Murcia"
    admin_key = (d / "admin-api-key").read_text().strip()
    assert admin_key in result.output
    assert stat.S_IMODE((d / "admin-api-key").stat().st_mode) == 0o600
    assert admin_key not in (d / "agora.toml").read_text()
    manifest = json.loads((d / "keys" / "keyring.json").read_text())
    pem = (d / "keys" / f"{manifest['active']}.pem").read_bytes()
    serialization.load_pem_private_key(pem, password=None)
    assert stat.S_IMODE((d / "keys").stat().st_mode) == 0o700


def test_init_encrypts_the_key_with_a_passphrase(tmp_path: Path) -> None:
    d = tmp_path / "p"
    result = CliRunner(env={"AGORA_KEY_PASSPHRASE": "s3cret"}).invoke(
        main, ["init", str(d), "--name", "Civic Air", "--role", "civic"]
    )
    assert result.exit_code == 0, result.output
    manifest = json.loads((d / "keys" / "keyring.json").read_text())
    pem = (d / "keys" / f"{manifest['active']}.pem").read_bytes()
    assert b"ENCRYPTED" in pem
    serialization.load_pem_private_key(pem, password=b"s3cret")


def test_init_takes_the_passphrase_from_a_named_variable(tmp_path: Path) -> None:
    d = tmp_path / "n"
    result = CliRunner(env={"CITY_KEYS": "pw"}).invoke(
        main, ["init", str(d), "--name", "A", "--role", "city", "--passphrase-env", "CITY_KEYS"]
    )
    assert result.exit_code == 0, result.output
    assert load_settings(d, env={}).security.key_passphrase_env == "CITY_KEYS"
    manifest = json.loads((d / "keys" / "keyring.json").read_text())
    pem = (d / "keys" / f"{manifest['active']}.pem").read_bytes()
    serialization.load_pem_private_key(pem, password=b"pw")


def test_init_refuses_to_overwrite(tmp_path: Path) -> None:
    d = tmp_path / "x"
    runner = CliRunner()
    assert runner.invoke(main, ["init", str(d), "--name", "A", "--role", "city"]).exit_code == 0
    again = runner.invoke(main, ["init", str(d), "--name", "B", "--role", "city"])
    assert again.exit_code != 0
    assert "no existing participant" in again.output


def test_init_rejects_unknown_role(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["init", str(tmp_path / "y"), "--name", "A", "--role", "king"]
    )
    assert result.exit_code == 2
    assert "authority" in result.output


def test_init_records_the_country_and_profile(tmp_path: Path) -> None:
    d = tmp_path / "c"
    result = CliRunner().invoke(
        main,
        ["init", str(d), "--name", "A", "--role", "city", "--country", "es",
         "--homepage", "https://murcia.example", "--contact-email", "data@murcia.example"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    participant = load_settings(d, env={}).participant
    assert (participant.country, participant.homepage) == ("ES", "https://murcia.example")
    assert participant.contact_email == "data@murcia.example"


def test_init_refuses_a_bad_country_naming_the_option(tmp_path: Path) -> None:
    d = tmp_path / "c"
    result = CliRunner().invoke(
        main, ["init", str(d), "--name", "A", "--role", "city", "--country", "Spain"]
    )
    assert result.exit_code == 1 and "--country" in result.output, result.output
    assert not d.exists()


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("AGORA_SERVER_PORT", "many"),
        ("AGORA_SERVER_EVENT_LOOP", "tokio"),
        ("AGORA_IDENTITY_ALLOW_HTTP_HOSTS", '["127.0.0.1"'),  # broken JSON
        ("AGORA_IDENTITY_ALLOW_HTTP_HOSTS", '["example.org"]'),  # valid JSON, refused value
        ("AGORA_SECURITY_ALLOWED_CALLBACK_HOSTS", '{"a": 1}'),  # a table for a list
    ],
)
def test_serve_reports_a_bad_setting_and_exits(tmp_path: Path, variable: str, value: str) -> None:
    d = tmp_path / "z"
    CliRunner().invoke(main, ["init", str(d), "--name", "A", "--role", "city"])
    result = CliRunner(env={variable: value}).invoke(main, ["serve", str(d)])
    assert result.exit_code == 1
    assert variable in result.output and "agora.toml" not in result.output, result.output


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("loop", ["uvloop", "asyncio"])
def test_serve_runs_until_sigterm_and_stops_cleanly(tmp_path: Path, loop: str) -> None:
    d = tmp_path / "srv"
    CliRunner().invoke(main, ["init", str(d), "--name", "A", "--role", "city"])
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGORA_")}
    env["AGORA_SERVER_EVENT_LOOP"] = loop
    proc = subprocess.Popen(
        [sys.executable, "-m", "connector", "serve", str(d), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as r:
                    assert r.status == 200
                    break
            except OSError:
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                assert time.monotonic() < deadline, "serve did not come up"
                time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
        assert proc.returncode == 0, err
        assert f"(event loop: {loop})".encode() in out
        assert b"stopping" in out
        assert b'"msg": "stopped"' in err
    finally:
        if proc.poll() is None:
            proc.kill()
