"""Event and spike data: the canonical event record, readers, transforms, datasets."""

from spikestack.data.events import (
    EVENT_DTYPE,
    EVENT_DTYPE_1D,
    EventFormatError,
    check_events,
    is_event_array,
    make_events,
)
from spikestack.data.io import detect_format, iter_events, read_events, write_events
from spikestack.data.sliced import PadTensors, SlicedDataset
from spikestack.data.splits import split_dataset

__all__ = [
    "EVENT_DTYPE",
    "EVENT_DTYPE_1D",
    "EventFormatError",
    "PadTensors",
    "SlicedDataset",
    "check_events",
    "detect_format",
    "is_event_array",
    "iter_events",
    "make_events",
    "read_events",
    "split_dataset",
    "write_events",
]
