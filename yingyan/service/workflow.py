"""The closed loop of an incident: its states, the actions that move it, and who may take them.

``next_state(state, action, role)`` is the whole state machine: it returns the state an action
leads to, or raises :class:`TransitionError` naming why the action is refused (wrong state, or a
role that may not take it). The service applies it inside the transaction that records the
step, so every transition is checked here and nowhere else.

::

    detected ─alert─► alerted ─acknowledge─► acknowledged ─confirm─► confirmed ─dispatch─► dispatched
        │                 └──────confirm / dismiss──────┘    └dismiss─► dismissed      │
        └─acknowledge / confirm / dismiss (a dispatcher acts on what was not alerted)   arrive
                                                                                         ▼
    closed ◄─close─ reported ◄─report─ cleared ◄─clear─ on_scene ◄───────────────────────┘
       │ └──────────── reopen ──► confirmed        dismissed ─close─► closed; ─reopen─► acknowledged

A note can be added in every state by anyone who may act on the incident; dispatching more
units while dispatched or on scene keeps the state.
"""

from __future__ import annotations

from enum import StrEnum


class State(StrEnum):
    """Where an incident stands in the loop."""

    DETECTED = "detected"
    ALERTED = "alerted"
    ACKNOWLEDGED = "acknowledged"
    CONFIRMED = "confirmed"
    DISMISSED = "dismissed"
    DISPATCHED = "dispatched"
    ON_SCENE = "on_scene"
    CLEARED = "cleared"
    REPORTED = "reported"
    CLOSED = "closed"


class Action(StrEnum):
    """What a person (or the system) does to an incident."""

    ALERT = "alert"  # the system: the alert rules passed and the alert was decided
    ACKNOWLEDGE = "acknowledge"
    CONFIRM = "confirm"
    DISMISS = "dismiss"  # a false alarm; needs a reason
    DISPATCH = "dispatch"  # needs who is sent
    ARRIVE = "arrive"  # responders on scene
    CLEAR = "clear"  # lanes open (roadway clearance)
    REPORT = "report"  # to the departments involved
    CLOSE = "close"
    REOPEN = "reopen"
    NOTE = "note"  # a remark, an answer from a department


class Role(StrEnum):
    """What a user is in the command centre's organisation."""

    ADMIN = "admin"
    DISPATCHER = "dispatcher"
    OFFICER = "officer"
    LIAISON = "liaison"
    VIEWER = "viewer"
    SYSTEM = "system"  # the service itself (alerts, escalations)


class TransitionError(Exception):
    """An action that cannot be taken: the message says why, in words a user understands."""

    def __init__(self, message: str, forbidden: bool = False) -> None:
        super().__init__(message)
        self.forbidden = forbidden  # a role's lack of right (403), not the incident's state (409)


OPEN_STATES = frozenset(State) - {State.CLOSED, State.DISMISSED}
ENDED_STATES = frozenset({State.CLOSED, State.DISMISSED})

# action -> {from state: to state}; a state absent from the map refuses the action.
TRANSITIONS: dict[Action, dict[State, State]] = {
    Action.ALERT: {State.DETECTED: State.ALERTED},
    Action.ACKNOWLEDGE: {State.DETECTED: State.ACKNOWLEDGED, State.ALERTED: State.ACKNOWLEDGED},
    Action.CONFIRM: {s: State.CONFIRMED for s in (State.DETECTED, State.ALERTED, State.ACKNOWLEDGED)},
    Action.DISMISS: {s: State.DISMISSED for s in (State.DETECTED, State.ALERTED, State.ACKNOWLEDGED)},
    Action.DISPATCH: {
        State.CONFIRMED: State.DISPATCHED,
        State.DISPATCHED: State.DISPATCHED,
        State.ON_SCENE: State.ON_SCENE,
    },
    Action.ARRIVE: {State.DISPATCHED: State.ON_SCENE},
    Action.CLEAR: {State.ON_SCENE: State.CLEARED},
    Action.REPORT: {State.CLEARED: State.REPORTED},
    Action.CLOSE: {State.REPORTED: State.CLOSED, State.DISMISSED: State.CLOSED},
    Action.REOPEN: {State.CLOSED: State.CONFIRMED, State.DISMISSED: State.ACKNOWLEDGED},
    Action.NOTE: {s: s for s in State},
}

# Who may take which action (on the incidents they may act on at all: access.py decides that).
RIGHTS: dict[Role, frozenset[Action]] = {
    Role.ADMIN: frozenset(Action) - {Action.ALERT},
    Role.DISPATCHER: frozenset(Action) - {Action.ALERT},
    Role.OFFICER: frozenset({Action.ACKNOWLEDGE, Action.CONFIRM, Action.ARRIVE, Action.CLEAR, Action.NOTE}),
    Role.LIAISON: frozenset({Action.NOTE}),
    Role.VIEWER: frozenset(),
    Role.SYSTEM: frozenset({Action.ALERT, Action.NOTE}),
}

# Actions that must say something: a dismissal its reason, a dispatch who goes, a report to whom.
NEEDS = {Action.DISMISS: "reason", Action.DISPATCH: "unit", Action.REPORT: "departments", Action.NOTE: "note"}


def next_state(state: State, action: Action, role: Role) -> State:
    """The state ``action`` by a ``role`` leads to from ``state``; raises TransitionError if refused."""
    if action not in RIGHTS[role]:
        raise TransitionError(f"a {role.value} may not {action.value} an incident", forbidden=True)
    target = TRANSITIONS[action].get(state)
    if target is None:
        allowed = ", ".join(sorted(s.value for s in TRANSITIONS[action])) or "no state"
        raise TransitionError(f"cannot {action.value} an incident that is {state.value} (only when {allowed})")
    return target


def allowed_actions(state: State, role: Role) -> list[Action]:
    """The actions a role may take on an incident in ``state`` (the console's buttons)."""
    return [a for a in Action if a in RIGHTS[role] and state in TRANSITIONS[a]]
