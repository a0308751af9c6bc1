"""The authorisation matrix: every role, in its own district and another, tries every action.

The incident (district east, reported to the tow service) is put in a state where the action
is possible, so the only reason for a refusal is who asks: 200 allowed, 403 not this role's
right, 404 not visible at all (another district; a liaison whose department was not asked).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.service.conftest import PASSWORD, engine_incident, make_runtime
from yingyan.service import models as m
from yingyan.service.api import create_app
from yingyan.service.runtime import ServiceRuntime
from yingyan.service.workflow import Action, State

STATE_FOR = {
    Action.ACKNOWLEDGE: State.ALERTED, Action.CONFIRM: State.ACKNOWLEDGED, Action.DISMISS: State.ACKNOWLEDGED,
    Action.DISPATCH: State.CONFIRMED, Action.ARRIVE: State.DISPATCHED, Action.CLEAR: State.ON_SCENE,
    Action.REPORT: State.CLEARED, Action.CLOSE: State.REPORTED, Action.REOPEN: State.CLOSED, Action.NOTE: State.ALERTED,
}  # fmt: skip
BODY = {"note": "记录", "reason": "误报", "unit": "警车 023", "departments": ["tow"]}
ALL = set(STATE_FOR)
# The policy, written out: what each role may do in its own district.
MAY = {
    "admin": ALL,
    "dispatcher": ALL,
    "officer": {Action.ACKNOWLEDGE, Action.CONFIRM, Action.ARRIVE, Action.CLEAR, Action.NOTE},
    "liaison": {Action.NOTE},
    "viewer": set(),
}
PEOPLE = {  # role -> (user in district east, user in district west)
    "dispatcher": ("disp_east", "disp_west"), "officer": ("off_east", "off_west"),
    "liaison": ("liaison_tow", "liaison_west"), "viewer": ("viewer_east", "viewer_west"), "admin": ("admin", None),
}  # fmt: skip


@pytest.fixture
def setup(tmp_path: Path, db_url: str) -> Iterator[tuple[ServiceRuntime, TestClient, dict[str, dict[str, str]]]]:
    runtime = make_runtime(tmp_path / "site", db_url)
    with TestClient(create_app(runtime)) as client:
        tokens = {}
        for users in PEOPLE.values():
            for user in users:
                if user is not None:
                    reply = client.post("/api/v1/auth/login", json={"username": user, "password": PASSWORD}).json()
                    tokens[user] = {"Authorization": f"Bearer {reply['token']}"}
        yield runtime, client, tokens


def test_every_role_in_every_district_tries_every_action(
    setup: tuple[ServiceRuntime, TestClient, dict[str, dict[str, str]]],
) -> None:
    runtime, client, tokens = setup
    incident_id = runtime.store.ingest_incident(runtime.run, engine_incident()).incident_id
    outcomes: dict[tuple[str, str, str], int] = {}
    for role, (east, west) in PEOPLE.items():
        for where, user in (("own", east), ("other", west)):
            if user is None:
                continue
            for action, state in STATE_FOR.items():
                with runtime.db.sessions.begin() as s:
                    row = s.get(m.Incident, incident_id)
                    assert row is not None
                    row.state, row.departments = state.value, ["tow"]
                response = client.post(
                    f"/api/v1/incidents/{incident_id}/actions", json={"action": action.value, **BODY},
                    headers=tokens[user],
                )  # fmt: skip
                outcomes[(role, where, action.value)] = response.status_code
                if where == "other":
                    expected = 404
                else:
                    expected = 200 if action in MAY[role] else 403
                assert response.status_code == expected, (role, where, action.value, response.text)
    assert len(outcomes) == 9 * len(STATE_FOR)
    assert sum(code == 200 for code in outcomes.values()) == sum(len(v) for v in MAY.values())


def test_a_liaison_sees_only_what_their_department_was_asked_about(
    setup: tuple[ServiceRuntime, TestClient, dict[str, dict[str, str]]],
) -> None:
    runtime, client, tokens = setup
    incident_id = runtime.store.ingest_incident(runtime.run, engine_incident()).incident_id
    assert client.get("/api/v1/incidents", headers=tokens["liaison_tow"]).json() == []
    with runtime.db.sessions.begin() as s:
        row = s.get(m.Incident, incident_id)
        assert row is not None
        row.departments = ["ambulance"]
    assert client.get("/api/v1/incidents", headers=tokens["liaison_tow"]).json() == []
    with runtime.db.sessions.begin() as s:
        row = s.get(m.Incident, incident_id)
        assert row is not None
        row.departments = ["ambulance", "tow"]
    assert [i["id"] for i in client.get("/api/v1/incidents", headers=tokens["liaison_tow"]).json()] == [incident_id]
    assert client.get("/api/v1/incidents", headers=tokens["liaison_west"]).json() == []
