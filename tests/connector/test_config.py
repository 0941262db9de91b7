"""A bad or missing setting fails at start, naming the file, the key and the expectation."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from connector.config import load_settings
from connector.errors import ConfigError


def test_missing_file_says_how_to_create_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(tmp_path, env={})
    assert str(tmp_path / "agora.toml") in str(err.value)
    assert "agora init" in str(err.value)


def test_bad_toml_syntax(tmp_path: Path) -> None:
    (tmp_path / "agora.toml").write_text("[participant\nname = 1")
    with pytest.raises(ConfigError) as err:
        load_settings(tmp_path, env={})
    assert err.value.key == "(syntax)"


def test_missing_required_key(tmp_path: Path) -> None:
    (tmp_path / "agora.toml").write_text('[participant]\nname = "X"\nrole = "city"\n')
    with pytest.raises(ConfigError) as err:
        load_settings(tmp_path, env={})
    assert err.value.key == "security"
    assert err.value.source.endswith("agora.toml")


def test_wrong_type_names_key_and_value(participant_dir: Callable[..., Path]) -> None:
    d = participant_dir()
    text = (d / "agora.toml").read_text().replace("port = 0", 'port = "eighty"')
    (d / "agora.toml").write_text(text)
    with pytest.raises(ConfigError) as err:
        load_settings(d, env={})
    assert err.value.key == "server.port"
    assert "integer" in err.value.expected
    assert err.value.got == "eighty"


def test_unknown_role(participant_dir: Callable[..., Path]) -> None:
    d = participant_dir()
    (d / "agora.toml").write_text((d / "agora.toml").read_text().replace('"city"', '"mayor"'))
    with pytest.raises(ConfigError) as err:
        load_settings(d, env={})
    assert err.value.key == "participant.role"
    assert "authority" in err.value.expected


def test_unknown_section_is_refused(participant_dir: Callable[..., Path]) -> None:
    d = participant_dir()
    (d / "agora.toml").write_text((d / "agora.toml").read_text() + "\n[sever]\nport = 1\n")
    with pytest.raises(ConfigError) as err:
        load_settings(d, env={})
    assert err.value.key == "[sever]"


def test_unknown_key_is_refused(participant_dir: Callable[..., Path]) -> None:
    d = participant_dir()
    text = (d / "agora.toml").read_text().replace("[server]", "[server]\nprot = 9")
    (d / "agora.toml").write_text(text)
    with pytest.raises(ConfigError) as err:
        load_settings(d, env={})
    assert err.value.key == "server.prot"


def test_environment_overrides(participant_dir: Callable[..., Path]) -> None:
    d = participant_dir()
    s = load_settings(d, env={"AGORA_SERVER_PORT": "9123", "AGORA_SERVER_HOST": "0.0.0.0"})
    assert s.server.port == 9123
    assert s.server.host == "0.0.0.0"
    assert s.did == "did:web:0.0.0.0%3A9123"


def test_bad_environment_override_names_the_variable(
    participant_dir: Callable[..., Path],
) -> None:
    d = participant_dir()
    with pytest.raises(ConfigError) as err:
        load_settings(d, env={"AGORA_SERVER_PORT": "99999"})
    assert err.value.source == "environment"
    assert err.value.key == "AGORA_SERVER_PORT"


@pytest.mark.parametrize("value", ['["127.0.0.1", "localhost"]', "127.0.0.1, localhost"])
def test_list_settings_from_the_environment(
    participant_dir: Callable[..., Path], value: str
) -> None:
    from connector.trust.settings import identity_settings

    d = participant_dir()
    env = {"AGORA_IDENTITY_ALLOW_HTTP_HOSTS": value, "AGORA_SECURITY_ALLOWED_CALLBACK_HOSTS": value}
    s = load_settings(d, env=env)
    assert identity_settings(s).allow_http_hosts == ["127.0.0.1", "localhost"]
    assert s.security.allowed_callback_hosts == ["127.0.0.1", "localhost"]


def test_a_bad_list_variable_is_named_not_the_file(participant_dir: Callable[..., Path]) -> None:
    from connector.trust.settings import identity_settings

    d = participant_dir()
    s = load_settings(d, env={"AGORA_IDENTITY_ALLOW_HTTP_HOSTS": '["example.org"]'})
    with pytest.raises(ConfigError) as err:
        identity_settings(s)
    assert (err.value.source, err.value.key) == ("environment", "AGORA_IDENTITY_ALLOW_HTTP_HOSTS")
    with pytest.raises(ConfigError) as err:
        load_settings(d, env={"AGORA_SECURITY_ALLOWED_CALLBACK_HOSTS": "[1,"})
    assert err.value.key == "AGORA_SECURITY_ALLOWED_CALLBACK_HOSTS" and "JSON" in err.value.expected


def test_unsupported_storage_url(participant_dir: Callable[..., Path]) -> None:
    d = participant_dir()
    with pytest.raises(ConfigError) as err:
        load_settings(d, env={"AGORA_STORAGE_URL": "mysql://root@localhost/x"})
    assert "postgresql+asyncpg" in err.value.expected


def test_relative_sqlite_path_is_inside_the_directory(
    participant_dir: Callable[..., Path],
) -> None:
    d = participant_dir()
    s = load_settings(d, env={})
    assert s.database_url == f"sqlite+aiosqlite:///{(d / 'agora.db').resolve()}"


def test_public_url_path_becomes_did_web_path(participant_dir: Callable[..., Path]) -> None:
    d = participant_dir()
    s = load_settings(d, env={"AGORA_SERVER_PUBLIC_URL": "https://murcia.example/agora/"})
    assert s.public_url == "https://murcia.example/agora"
    assert s.did == "did:web:murcia.example:agora"


@pytest.mark.parametrize(
    ("table", "key"),
    [
        ("[ledger]\nanchor_every_records = 0\n", "ledger.anchor_every_records"),
        ("[ledger]\nreceipts_batch_seconds = -1\n", "ledger.receipts_batch_seconds"),
        ('[dsp]\nauthentication = "none"\n', "dsp.authentication"),
        ('[identity]\nallow_http_hosts = ["example.org"]\n', "identity.allow_http_hosts"),
        ('[ngsild]\nmode = "mirror"\n', "ngsild.mode"),
        ("[policies]\ndeletion_interval_s = 0\n", "policies.deletion_interval_s"),
    ],
)
def test_bad_component_setting_fails_start_naming_its_key(
    participant_dir: Callable[..., Path], table: str, key: str
) -> None:
    from connector.dsp.settings import dsp_settings
    from connector.enforcement.settings import enforcement_settings
    from connector.ngsild.proxy.settings import ngsild_settings
    from connector.provenance.settings import ledger_settings
    from connector.trust.settings import identity_settings

    d = participant_dir()
    (d / "agora.toml").write_text((d / "agora.toml").read_text() + "\n" + table)
    settings = load_settings(d, env={})
    loaders = {
        "ledger": ledger_settings,
        "dsp": dsp_settings,
        "identity": identity_settings,
        "ngsild": ngsild_settings,
        "policies": enforcement_settings,
    }
    with pytest.raises(ConfigError) as err:
        loaders[key.split(".")[0]](settings)
    assert err.value.key == key
    assert err.value.source == str(d / "agora.toml")
