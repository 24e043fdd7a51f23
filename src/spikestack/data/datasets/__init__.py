"""Event datasets. Each looks for the official files under ``root`` and says exactly which
file to put where when they are missing; only with ``download=True`` (where the files have
a stable public URL) does one fetch them."""

from spikestack.data.datasets.asldvs import ASLDVS
from spikestack.data.datasets.audio_folder import AudioFolder
from spikestack.data.datasets.base import EventDataset, Resource, locate, md5sum
from spikestack.data.datasets.cifar10dvs import CIFAR10DVS
from spikestack.data.datasets.dsec import DSECFlow
from spikestack.data.datasets.dvsgesture import DVS128Gesture
from spikestack.data.datasets.dvslip import DVSLip
from spikestack.data.datasets.esimagenet import ESImageNet
from spikestack.data.datasets.event_folder import EventFolder, parse_labels
from spikestack.data.datasets.hardvs import HARDVS
from spikestack.data.datasets.ncaltech101 import NCaltech101
from spikestack.data.datasets.ncars import NCARS
from spikestack.data.datasets.nmnist import NMNIST
from spikestack.data.datasets.ntidigits import NTIDIGITS
from spikestack.data.datasets.pokerdvs import POKERDVS
from spikestack.data.datasets.shd import SHD, SSC
from spikestack.data.datasets.static_images import CIFAR10, MNIST, FashionMNIST, read_idx

__all__ = [
    "CIFAR10",
    "MNIST",
    "FashionMNIST",
    "read_idx",
    "ASLDVS",
    "CIFAR10DVS",
    "DSECFlow",
    "HARDVS",
    "NCARS",
    "NMNIST",
    "NTIDIGITS",
    "POKERDVS",
    "SHD",
    "SSC",
    "DVS128Gesture",
    "DVSLip",
    "ESImageNet",
    "EventDataset",
    "AudioFolder",
    "EventFolder",
    "NCaltech101",
    "Resource",
    "locate",
    "md5sum",
    "parse_labels",
]
