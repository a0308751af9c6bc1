"""The command line as a user meets it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from yingyan.cli import app, parse_size
from yingyan.sim.library import builtin_names, load_builtin

runner = CliRunner()


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["config"],
        ["config", "schema"],
        ["sim"],
        ["sim", "list"],
        ["sim", "run"],
        ["demo"],
        ["serve"],
        ["user"],
        ["user", "add"],
        ["user", "list"],
        ["user", "disable"],
    ],
)
def test_every_command_has_help(args: list[str]) -> None:
    result = runner.invoke(app, [*args, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_sim_list_names_every_scenario_on_one_line() -> None:
    result = runner.invoke(app, ["sim", "list"])
    assert result.exit_code == 0
    scenarios, families = result.output.strip().split("\n\n")
    lines = scenarios.splitlines()
    assert [line.split()[0] for line in lines] == builtin_names()
    assert all(len(line.split()) > 3 for line in lines)  # each with its description
    assert [line.split()[0] for line in families.splitlines()[1:]] == [
        "arterial-incidents", "expressway-incidents", "recurrent-peaks", "quiet-bad-conditions", "kerb-parking",
    ]  # fmt: skip


def _walk(schema: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for model in [schema, *schema.get("$defs", {}).values()]:
        for name, prop in model.get("properties", {}).items():
            found.append((f"{model.get('title')}.{name}", prop))
    return found


def test_config_schema_titles_and_describes_every_field() -> None:
    result = runner.invoke(app, ["config", "schema"])
    assert result.exit_code == 0
    schemas = json.loads(result.output)
    assert set(schemas) == {"scenario", "site", "calibration"}
    for schema in schemas.values():
        for where, prop in _walk(schema):
            # A field holding a sub-model is titled by that model's own definition.
            ref = prop.get("$ref", "").removeprefix("#/$defs/")
            title = prop.get("title") or schema.get("$defs", {}).get(ref, {}).get("title")
            assert title and prop.get("description"), where
    one = json.loads(runner.invoke(app, ["config", "schema", "scenario"]).output)
    assert one["title"] == "Scenario" and "checkpoints" in one["properties"]


def test_bad_scenario_file_exits_2_naming_the_field(tmp_path: Path) -> None:
    data = load_builtin("free-flow").model_dump(mode="json")
    data["checkpoints"][0]["fps"] = 0
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    result = runner.invoke(app, ["sim", "run", str(path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "checkpoints.0.fps" in result.output and "bad.yaml" in result.output
    assert not (tmp_path / "out").exists()


def test_sim_run_writes_a_run(tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = runner.invoke(
        app, ["sim", "run", "free-flow", "--out", str(out), "--duration", "6", "--fps", "5", "--size", "160x90"]
    )
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["duration_s"] == 6 and manifest["cameras"][0]["resolution"] == [160, 90]
    assert (out / "cameras" / "K1" / "video.mp4").stat().st_size > 0
    again = runner.invoke(app, ["sim", "run", "free-flow", "--out", str(out), "--duration", "6"])
    assert again.exit_code == 2 and "already exists" in again.output


@given(w=st.integers(10, 9999), h=st.integers(10, 9999), sep=st.sampled_from(["x", "X", " x "]))
def test_size_parser(w: int, h: int, sep: str) -> None:
    text = f"{w}{sep}{h}"
    if w % 2 or h % 2:
        with pytest.raises(Exception, match="even"):
            parse_size(text)
    else:
        assert parse_size(text) == (w, h)


@pytest.mark.parametrize("text", ["640", "640x", "x360", "640*360", "-640x360", "6.5x3"])
def test_size_parser_rejects_garbage(text: str) -> None:
    with pytest.raises(Exception, match="WIDTHxHEIGHT"):
        parse_size(text)


def test_scenario_file_one_way_with_a_departing_camera(tmp_path: Path) -> None:
    scenario = Path(__file__).parent / "data" / "oneway-departing.yaml"
    out = tmp_path / "run"
    result = runner.invoke(app, ["sim", "run", str(scenario), "--out", str(out)])
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    (cam,) = manifest["cameras"]
    lo, hi = cam["measured_m"]
    assert 600 < lo < hi  # looking along the traffic: the measured stretch lies downstream
    assert manifest["network"]["two_way"] is False
    assert (out / "spacetime_forward.png").is_file() and not (out / "spacetime_reverse.png").exists()
    with (out / "cameras" / "G1" / "boxes.csv").open() as handle:
        assert sum(1 for _ in handle) > 30
    lanes = {row.split(",")[1] for row in (out / "cameras" / "G1" / "lane_state.csv").read_text().splitlines()[1:]}
    assert lanes == {"G1-L1", "G1-L2", "G1-L3"}


def test_users_are_added_listed_and_disabled_from_the_command_line(tmp_path: Path) -> None:
    from tests.service.conftest import write_site

    db = f"sqlite:///{tmp_path / 'users.db'}"
    site = write_site(tmp_path / "site")  # districts east and west
    first = ["--password-stdin", "--config", str(site), "--db", db]
    typo = runner.invoke(app, ["user", "add", "wang", "--role", "dispatcher", "--district", "eats", *first],
                         input="a long password\n")  # fmt: skip
    assert typo.exit_code == 2 and "unknown district 'eats' (known: east, west)" in typo.output
    added = runner.invoke(app, ["user", "add", "wang", "--role", "dispatcher", "--district", "east", "--supervisor",
                                *first], input="a long password\n")  # fmt: skip
    assert added.exit_code == 0, added.output
    short = runner.invoke(app, ["user", "add", "li", "--role", "officer", "--district", "east", "--password-stdin",
                                "--db", db], input="short\n")  # fmt: skip
    assert short.exit_code == 2 and "at least 8 characters" in short.output
    twice = runner.invoke(app, ["user", "add", "wang", "--role", "viewer", "--district", "east", "--password-stdin",
                                "--db", db], input="a long password\n")  # fmt: skip
    assert twice.exit_code == 2 and "exists already" in twice.output
    liaison = runner.invoke(app, ["user", "add", "zhao", "--role", "liaison", "--district", "east", "--password-stdin",
                                  "--db", db], input="a long password\n")  # fmt: skip
    assert liaison.exit_code == 2 and "needs a department" in liaison.output
    assert runner.invoke(app, ["user", "disable", "wang", "--db", db]).exit_code == 0
    listed = runner.invoke(app, ["user", "list", "--db", db], env={"COLUMNS": "200"})
    assert listed.exit_code == 0 and "wang" in listed.output and "disabled" in listed.output
    assert "a long password" not in listed.output
    missing = runner.invoke(app, ["user", "disable", "nobody", "--db", db])
    assert missing.exit_code == 2 and "no user 'nobody'" in missing.output
