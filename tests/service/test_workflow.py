"""The closed loop as a state machine: no sequence of actions, by anyone, reaches an invalid state,
and every step taken is in the audit in order."""

from __future__ import annotations

import itertools
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule
from sqlalchemy import select

from tests.service.conftest import engine_incident
from yingyan.service import models as m
from yingyan.service.access import Principal
from yingyan.service.config import ServiceConfig
from yingyan.service.db import open_database
from yingyan.service.store import IncidentStore, NotFound, RunContext
from yingyan.service.workflow import (
    RIGHTS,
    TRANSITIONS,
    Action,
    Role,
    State,
    TransitionError,
    allowed_actions,
    next_state,
)

HUMANS = [r for r in Role if r is not Role.SYSTEM]
# What must have happened before a state can be reached.
BEFORE = {
    State.DISPATCHED: {State.CONFIRMED},
    State.ON_SCENE: {State.DISPATCHED},
    State.CLEARED: {State.ON_SCENE},
    State.REPORTED: {State.CLEARED},
}


def test_the_happy_path_is_one_transition_per_step() -> None:
    path = [
        (Action.ALERT, Role.SYSTEM, State.ALERTED), (Action.ACKNOWLEDGE, Role.OFFICER, State.ACKNOWLEDGED),
        (Action.CONFIRM, Role.OFFICER, State.CONFIRMED), (Action.DISPATCH, Role.DISPATCHER, State.DISPATCHED),
        (Action.ARRIVE, Role.OFFICER, State.ON_SCENE), (Action.CLEAR, Role.OFFICER, State.CLEARED),
        (Action.REPORT, Role.DISPATCHER, State.REPORTED), (Action.CLOSE, Role.DISPATCHER, State.CLOSED),
        (Action.REOPEN, Role.DISPATCHER, State.CONFIRMED),
    ]  # fmt: skip
    state = State.DETECTED
    for action, role, expected in path:
        state = next_state(state, action, role)
        assert state is expected


def test_refusals_name_the_reason() -> None:
    with pytest.raises(TransitionError, match="a officer may not close") as denied:
        next_state(State.REPORTED, Action.CLOSE, Role.OFFICER)
    assert denied.value.forbidden
    with pytest.raises(TransitionError, match="cannot arrive an incident that is alerted") as wrong:
        next_state(State.ALERTED, Action.ARRIVE, Role.DISPATCHER)
    assert not wrong.value.forbidden
    assert allowed_actions(State.ALERTED, Role.VIEWER) == []
    assert allowed_actions(State.REPORTED, Role.LIAISON) == [Action.NOTE]


@given(st.lists(st.tuples(st.sampled_from(list(Action)), st.sampled_from(list(Role))), max_size=40))
@settings(max_examples=500)
def test_no_sequence_of_actions_reaches_an_invalid_state(steps: list[tuple[Action, Role]]) -> None:
    state, history = State.DETECTED, [State.DETECTED]
    for action, role in steps:
        try:
            after = next_state(state, action, role)
        except TransitionError:
            assert action not in RIGHTS[role] or state not in TRANSITIONS[action]
            continue
        assert action in RIGHTS[role] and after in State
        if after is not state:
            for needed in BEFORE.get(after, set()):
                assert needed in history, (history, action, after)
        if after is State.CLOSED and state is not State.CLOSED:
            assert state in (State.REPORTED, State.DISMISSED)
        state = after
        history.append(state)


class LoopOnTheDatabase(RuleBasedStateMachine):
    """Random people acting on one stored incident: the store agrees with the model, the audit chains."""

    def __init__(self) -> None:
        super().__init__()
        folder = Path(tempfile.mkdtemp())
        self.db = open_database(f"sqlite:///{folder / 'loop.db'}")
        self.store = IncidentStore(self.db, ServiceConfig(), folder)
        run = RunContext("run", datetime.now(UTC), folder)
        self.incident_id = self.store.ingest_incident(run, engine_incident()).incident_id
        self.state = State.ALERTED
        self.steps = 2  # detect, alert

    @rule(
        action=st.sampled_from([a for a in Action if a is not Action.ALERT]),
        role=st.sampled_from(HUMANS),
        own_district=st.booleans(),
    )
    def act(self, action: Action, role: Role, own_district: bool) -> None:
        who = Principal(1, f"u-{role.value}", role, frozenset({"default" if own_district else "elsewhere"}),
                        "tow" if role is Role.LIAISON else None)  # fmt: skip
        data = {"reason": "误报", "unit": "U1", "departments": ["tow"]}
        try:
            self.store.act(who, self.incident_id, action, note="n", data=data)
        except NotFound:
            assert not who.can_see("default", self._departments())
            return
        except TransitionError:
            allowed = who.can_act(action, "default", self._departments()) and self.state in TRANSITIONS[action]
            assert not allowed
            return
        self.state = TRANSITIONS[action][self.state]
        self.steps += 1

    def _departments(self) -> list[str]:
        with self.db.sessions() as s:
            row = s.get(m.Incident, self.incident_id)
            assert row is not None
            return list(row.departments)

    @invariant()
    def store_agrees_and_audit_chains(self) -> None:
        with self.db.sessions() as s:
            row = s.get(m.Incident, self.incident_id)
            steps = list(s.scalars(select(m.Step).where(m.Step.incident_id == self.incident_id).order_by(m.Step.id)))
        assert row is not None and State(row.state) is self.state
        assert len(steps) == self.steps
        for before, after in itertools.pairwise(steps):
            assert after.from_state == before.to_state and after.at >= before.at

    def teardown(self) -> None:
        self.db.dispose()


TestLoopOnTheDatabase = LoopOnTheDatabase.TestCase
TestLoopOnTheDatabase.settings = settings(
    max_examples=25, stateful_step_count=30, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
