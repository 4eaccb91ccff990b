"""dripsim's pure domain model of automated emails (RULES.md).

Pure: no clock reads, sleeps, threads, actors, simulation engines, sockets or
files. Time comes in as an argument (`now`, POSIX seconds); what should
happen comes back as return values and rows of `Automation.events`.
"""

from core.automation import Automation, SendBatch
from core.config import AutomationConfig
from core.errors import ConfigError, DripError, NotAllowed
from core.events import KINDS, REASONS, EventLog, EventRows
from core.filters import Condition, Filter
from core.lifecycle import TRANSITIONS, Command, State
from core.pending import PAGE_SIZE, EntryState, PendingList, PendingPage, PendingRow, Selection, Why
from core.stats import Stats, conservation_violations
from core.subscribers import Source, Status, SubscriberStore
from core.timing import Delay, Repeat, SendWindow
from core.triggers import Duplicates, Kind, RateLimit, Signal, Trigger

__all__ = [
    "KINDS", "PAGE_SIZE", "REASONS", "TRANSITIONS", "Automation", "AutomationConfig", "Command",
    "Condition", "ConfigError", "Delay", "DripError", "Duplicates", "EntryState", "EventLog",
    "EventRows", "Filter", "Kind", "NotAllowed", "PendingList", "PendingPage", "PendingRow",
    "RateLimit", "Repeat", "Selection", "SendBatch", "SendWindow", "Signal", "Source", "State",
    "Stats", "Status", "SubscriberStore", "Trigger", "Why", "Workspace", "conservation_violations",
]
from core.workspace import Workspace
