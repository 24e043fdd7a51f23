"""Event and spike data: the canonical event record, readers, transforms, datasets."""

from spikestack.data.events import (
    EVENT_DTYPE,
    EVENT_DTYPE_1D,
    EventFormatError,
    check_events,
    is_event_array,
    make_events,
)

__all__ = [
    "EVENT_DTYPE",
    "EVENT_DTYPE_1D",
    "EventFormatError",
    "check_events",
    "is_event_array",
    "make_events",
]
