"""A misconfigured service is refused before it starts, each problem named by its field, never a traceback:
``yingyan serve --check`` says the same as every start does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from tests.service.conftest import write_site
from yingyan.cli import app


def check(site: Path, *extra: str, serve: bool = False) -> tuple[int, str]:
    """``yingyan serve --check`` (or a real start, ``serve``) on a site; its exit code and what it said."""
    args = ["serve", "--config", str(site), "--no-cameras", *extra]
    result = CliRunner().invoke(app, args if serve else [*args, "--check"])
    text = result.output
    assert "Traceback" not in text, text
    return result.exit_code, " ".join(text.split())


def edited(site: Path, change: dict[str, Any]) -> Path:
    data = yaml.safe_load(site.read_text(encoding="utf-8"))
    for key, value in change.items():
        target = data
        *parents, last = key.split(".")
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        target[int(last) if last.isdigit() else last] = value
    site.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return site


def test_a_sound_configuration_passes(tmp_path: Path) -> None:
    code, said = check(write_site(tmp_path / "site"))
    assert code == 0 and "can start as configured" in said


def test_a_webhook_whose_key_is_not_set_is_refused_at_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("YY_UNSET_HOOK_KEY", raising=False)
    hook = {"name": "platform", "url": "http://127.0.0.1:9/hook", "secret_env": "YY_UNSET_HOOK_KEY"}
    site = write_site(tmp_path / "site", {"webhooks": [hook]})
    for serve in (False, True):
        code, said = check(site, serve=serve)
        assert code == 2 and "service.webhooks.0.secret_env" in said and "YY_UNSET_HOOK_KEY" in said
    monkeypatch.setenv("YY_UNSET_HOOK_KEY", "k")
    assert check(site)[0] == 0


def test_an_unknown_escalation_channel_is_refused(tmp_path: Path) -> None:
    site = write_site(tmp_path / "site", {"escalation": {"channels": ["websocket", "sms"]}})
    code, said = check(site)
    assert code == 2 and "service.escalation.channels.1" in said


def test_a_camera_district_that_is_not_listed_is_refused(tmp_path: Path) -> None:
    site = edited(write_site(tmp_path / "site"), {"cameras.2.district": "wset"})
    code, said = check(site)
    assert code == 2 and "cameras.2.district 'wset'" in said and "east, west" in said


def test_a_data_folder_that_cannot_be_made_is_refused(tmp_path: Path) -> None:
    site = write_site(tmp_path / "site")
    (tmp_path / "site" / "data").write_text("a file where the folder should be", encoding="utf-8")
    code, said = check(site)
    assert code == 2 and "service.data_dir" in said


def test_a_corrupt_database_file_is_named_at_start(tmp_path: Path) -> None:
    site = write_site(tmp_path / "site")
    (tmp_path / "site" / "data").mkdir()
    (tmp_path / "site" / "data" / "yingyan.db").write_bytes(b"this is not SQLite" * 1000)
    for serve in (False, True):
        code, said = check(site, serve=serve)
        assert code == 2 and "yingyan.db" in said and "not a database" in said


def test_an_unreachable_database_server_is_named(tmp_path: Path) -> None:
    code, said = check(write_site(tmp_path / "site"), "--db", "postgresql+psycopg://nobody:pw@127.0.0.1:9/none")
    assert code == 2 and "--db" in said and "cannot connect" in said and "pw" not in said


def test_a_simulation_without_video_is_served_by_replay_not_by_cameras(tmp_path: Path) -> None:
    run = CliRunner().invoke(app, ["sim", "run", "free-flow", "--no-render", "--duration", "20",
                                   "--out", str(tmp_path / "sim")])  # fmt: skip
    assert run.exit_code == 0, run.output
    site = tmp_path / "sim" / "site.yaml"
    assert "source: null" not in site.read_text(encoding="utf-8")
    assert check(site)[0] == 0  # --no-cameras: nothing to play
    result = CliRunner().invoke(app, ["serve", "--config", str(site), "--check"])  # with its cameras: refused
    said = " ".join(result.output.split())
    assert result.exit_code == 2 and "cameras.0.source: camera K1 has no source" in said and "--replay" in said
