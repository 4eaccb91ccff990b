"""dripsim's pure domain model of automated emails (RULES.md).

Pure: no clock reads, sleeps, threads, actors, simulation engines, sockets or
files. Time comes in as an argument (`now`, POSIX seconds); what should
happen comes back as return values and rows of `Automation.events`.
"""

from core.audience import Applied, apply_changes
from core.automation import Automation, SendBatch
from core.commands import (
    AddToGroup,
    AutomationCommand,
    CancelSchedule,
    Delete,
    DeletePending,
    DeleteSubscriber,
    Edit,
    End,
    HardBounce,
    ListChange,
    ListRows,
    Observe,
    ObserveMany,
    Outcome,
    Pause,
    PendingQuery,
    QueryPending,
    RecordEngagements,
    RecordOutcomes,
    Resume,
    Schedule,
    SendNow,
    SetField,
    Start,
    SubscribersAdded,
    TrackMany,
    Unsubscribe,
    hard_bounces,
)
from core.config import AutomationConfig
from core.errors import ConfigError, DripError, NotAllowed
from core.events import KINDS, REASONS, EventLog, EventRows
from core.filters import Condition, Filter
from core.handlers import HANDLERS, Context, Effects, OneBatch, SavedPage, advance, advance_window, handle
from core.lifecycle import TRANSITIONS, Command, State
from core.pending import PAGE_SIZE, EntryState, PendingList, PendingPage, PendingRow, Selection, Why
from core.routing import Routes, check_sources
from core.stats import Stats, conservation_violations
from core.subscribers import Source, Status, SubscriberStore
from core.timing import Delay, Repeat, SendWindow
from core.triggers import Duplicates, KeyedSignals, Kind, RateLimit, Signal, Signals, Trigger

__all__ = [
    "HANDLERS",
    "KINDS",
    "PAGE_SIZE",
    "REASONS",
    "TRANSITIONS",
    "AddToGroup",
    "Applied",
    "Automation",
    "AutomationCommand",
    "AutomationConfig",
    "CancelSchedule",
    "Command",
    "Condition",
    "ConfigError",
    "Context",
    "Delay",
    "Delete",
    "DeletePending",
    "DeleteSubscriber",
    "DripError",
    "Duplicates",
    "Edit",
    "Effects",
    "End",
    "EntryState",
    "EventLog",
    "EventRows",
    "Filter",
    "HardBounce",
    "KeyedSignals",
    "Kind",
    "ListChange",
    "ListRows",
    "NotAllowed",
    "Observe",
    "ObserveMany",
    "OneBatch",
    "Outcome",
    "Pause",
    "PendingList",
    "PendingPage",
    "PendingQuery",
    "PendingRow",
    "QueryPending",
    "RateLimit",
    "RecordEngagements",
    "RecordOutcomes",
    "Repeat",
    "Resume",
    "Routes",
    "SavedPage",
    "Schedule",
    "Selection",
    "SendBatch",
    "SendNow",
    "SendWindow",
    "SetField",
    "Signal",
    "Signals",
    "Source",
    "Start",
    "State",
    "Stats",
    "Status",
    "SubscriberStore",
    "SubscribersAdded",
    "TrackMany",
    "Trigger",
    "Unsubscribe",
    "Why",
    "Workspace",
    "advance",
    "advance_window",
    "apply_changes",
    "check_sources",
    "conservation_violations",
    "handle",
    "hard_bounces",
]
from core.workspace import Workspace
