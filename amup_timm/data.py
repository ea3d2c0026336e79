"""Data for train.py and the probe: synthetic (on the device), digits, Fashion-MNIST, CIFAR and
image folders.

Every source yields the same batches for the same (seed, step), so that a resumed run sees
exactly the data an uninterrupted run would have seen, and is sharded across DDP ranks.
"""

from __future__ import annotations

import gzip
import hashlib
import math
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset, Sampler, TensorDataset

Batch = tuple[torch.Tensor, torch.Tensor]


class EpochSampler(Sampler[int]):
    """A seeded permutation per epoch, sharded by rank, that can start mid-epoch."""

    def __init__(self, size: int, batch_size: int, seed: int, rank: int = 0, world: int = 1):
        self.size, self.batch_size, self.seed = size, batch_size, seed
        self.rank, self.world = rank, world
        self.epoch, self.skip = 0, 0

    def set_epoch(self, epoch: int, skip_batches: int = 0) -> None:
        self.epoch, self.skip = epoch, skip_batches

    def __len__(self) -> int:
        return self.batches_per_epoch * self.batch_size - self.skip * self.batch_size

    @property
    def batches_per_epoch(self) -> int:
        return max(1, self.size // (self.batch_size * self.world))

    def __iter__(self) -> Iterator[int]:
        g = torch.Generator().manual_seed(self.seed * 100003 + self.epoch)
        perm = torch.randperm(self.size, generator=g)[self.rank::self.world]
        perm = perm[: self.batches_per_epoch * self.batch_size]
        return iter(perm[self.skip * self.batch_size:].tolist())


@dataclass
class DataSource:
    """Train batches from any step onward, and a fixed validation set."""

    name: str
    num_classes: int
    in_chans: int
    img_size: int
    batch_size: int
    train: Dataset | None = None
    val: Dataset | None = None
    test: Dataset | None = None
    num_workers: int = 0
    seed: int = 0
    rank: int = 0
    world: int = 1
    device: torch.device = torch.device("cpu")
    synthetic: "SyntheticTask | None" = None

    @property
    def steps_per_epoch(self) -> int:
        if self.synthetic is not None:
            return self.synthetic.steps_per_epoch
        return EpochSampler(len(self.train), self.batch_size, self.seed, self.rank,
                            self.world).batches_per_epoch

    def train_batches(self, start_step: int = 0) -> Iterator[Batch]:
        """Endless training batches on the device, beginning at ``start_step``."""
        if self.synthetic is not None:
            step = start_step
            while True:
                yield self.synthetic.batch(step, self.rank)
                step += 1
        sampler = EpochSampler(len(self.train), self.batch_size, self.seed, self.rank, self.world)
        epoch, skip = divmod(start_step, sampler.batches_per_epoch)
        pin = self.device.type == "cuda"
        while True:
            sampler.set_epoch(epoch, skip)
            # its own generator: worker seeds and augmentation depend on (seed, epoch) only,
            # never on the global RNG, so a resumed run sees the same stream
            gen = torch.Generator().manual_seed(self.seed * 100003 + epoch + 1)
            loader = DataLoader(self.train, self.batch_size, sampler=sampler, drop_last=True,
                                num_workers=self.num_workers, pin_memory=pin,
                                persistent_workers=False, generator=gen)
            for x, y in loader:
                yield (x.to(self.device, non_blocking=pin), y.to(self.device, non_blocking=pin))
            epoch, skip = epoch + 1, 0

    def val_batches(self, max_batches: int | None = None, split: str = "val"
                    ) -> Iterator[Batch]:
        """The ``val`` (selects eta*) or ``test`` split (reports only; sources without one have
        no test split), this rank's shard, in a fixed order."""
        if self.synthetic is not None:
            for i in range(max_batches or self.synthetic.val_batches):
                yield self.synthetic.batch(-(i + 1), self.rank)
            return
        dataset = self.val if split == "val" else self.test
        idx = list(range(len(dataset)))[self.rank::self.world]
        loader = DataLoader(torch.utils.data.Subset(dataset, idx), self.batch_size,
                            num_workers=self.num_workers)
        for i, (x, y) in enumerate(loader):
            if max_batches is not None and i >= max_batches:
                return
            yield x.to(self.device), y.to(self.device)


class SyntheticTask:
    """A learnable task generated on the device: class templates plus Gaussian noise.

    Batch ``step`` is a pure function of (seed, step, rank), so nothing touches the disk or
    the CPU and a resumed run gets the same batches; negative steps are the validation set.
    """

    def __init__(self, num_classes: int, in_chans: int, img_size: int, batch_size: int,
                 seed: int, device: torch.device, noise: float = 1.0, steps_per_epoch: int = 100,
                 val_batches: int = 4):
        self.num_classes, self.batch_size, self.noise = num_classes, batch_size, noise
        self.shape = (in_chans, img_size, img_size)
        self.seed, self.device = seed, device
        self.steps_per_epoch, self.val_batches = steps_per_epoch, val_batches
        g = torch.Generator(device="cpu").manual_seed(seed)
        low = torch.randn(num_classes, in_chans, 4, 4, generator=g)
        self.templates = F.interpolate(low, size=(img_size, img_size), mode="bilinear",
                                       align_corners=False).to(device)

    def batch(self, step: int, rank: int = 0) -> Batch:
        g = torch.Generator(device=self.device).manual_seed(
            (self.seed * 1_000_003 + step * 7919 + rank) % (2 ** 63))
        y = torch.randint(0, self.num_classes, (self.batch_size,), device=self.device, generator=g)
        noise = torch.randn((self.batch_size, *self.shape), device=self.device, generator=g)
        return self.templates[y] + self.noise * noise, y


def _digits(img_size: int, val_fraction: float = 1 / 6) -> tuple[Dataset, Dataset]:
    """scikit-learn's bundled 8x8 digits (1797 images), upscaled, split with a fixed seed."""
    from sklearn.datasets import load_digits

    d = load_digits()
    x = torch.tensor(d.images, dtype=torch.float32).unsqueeze(1) / 16.0
    x = F.interpolate(x, size=(img_size, img_size), mode="bilinear", align_corners=False)
    x = (x - x.mean()) / x.std()
    y = torch.tensor(d.target, dtype=torch.long)
    perm = torch.randperm(len(y), generator=torch.Generator().manual_seed(0))
    n_val = int(len(y) * val_fraction)
    val, train = perm[:n_val], perm[n_val:]
    return TensorDataset(x[train], y[train]), TensorDataset(x[val], y[val])


FASHION_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                 "t10k-labels-idx1-ubyte")
DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")  # apt-get install dataset-fashion-mnist
FASHION_MEAN, FASHION_STD = 0.2860, 0.3530


def cache_dir() -> Path:
    """Where unpacked data sets live: ``$AMUP_CACHE``, else ``$XDG_CACHE_HOME/amup_timm``."""
    if os.environ.get("AMUP_CACHE"):
        return Path(os.environ["AMUP_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "amup_timm"


def fashion_root(root: str | None, download: bool) -> Path:
    """A root under which torchvision finds ``FashionMNIST/raw/<idx files>``: ``root`` itself,
    or the gzipped IDX files of ``root`` (or, with no root given, of Debian's package) unpacked
    once into the cache, keyed by their source. A root given (``data.root`` or ``DATA_ROOT``)
    is never replaced by another copy."""
    def unpacked(r: Path) -> bool:
        return all((r / "FashionMNIST" / "raw" / f).is_file() for f in FASHION_FILES)

    def flat(d: Path) -> bool:
        return all((d / f"{f}.gz").is_file() for f in FASHION_FILES)

    if root and unpacked(Path(root)):
        return Path(root)
    source = Path(root) if root else DEBIAN_FASHION
    if flat(source):
        stats = [(f, (source / f"{f}.gz").stat()) for f in FASHION_FILES]
        key = hashlib.sha1(repr((str(source.resolve()), [(f, s.st_size, s.st_mtime_ns)
                                                          for f, s in stats])).encode())
        out = cache_dir() / "fashion_mnist" / key.hexdigest()[:12]
        if not unpacked(out):
            raw = out / "FashionMNIST" / "raw"
            raw.mkdir(parents=True, exist_ok=True)
            for f in FASHION_FILES:
                tmp = raw / f"{f}.tmp{os.getpid()}"
                with gzip.open(source / f"{f}.gz", "rb") as src, open(tmp, "wb") as dst:
                    shutil.copyfileobj(src, dst)
                os.replace(tmp, raw / f)
        return out
    if download:
        return Path(root) if root else cache_dir() / "fashion_mnist"
    if root:
        raise FileNotFoundError(
            f"Fashion-MNIST not found under data.root={root!r} (set by data.root or DATA_ROOT): "
            "it has neither FashionMNIST/raw/<idx files> nor the four .gz files "
            f"({', '.join(f + '.gz' for f in FASHION_FILES)}). Point data.root at them, set "
            "data.download=true to download there, or unset it (data.root=null, no DATA_ROOT) "
            f"to use {DEBIAN_FASHION}.")
    raise FileNotFoundError(
        f"Fashion-MNIST not found: no data.root and {DEBIAN_FASHION} is missing. Install "
        "Debian's package (`apt-get install dataset-fashion-mnist`), point data.root at the "
        "files, or set data.download=true on a machine with network access.")


def _fashion_mnist(root: str | None, img_size: int, download: bool, val_size: int = 5000
                   ) -> tuple[Dataset, Dataset, Dataset]:
    """Fashion-MNIST through torchvision's reader: 55,000 training and 5,000 validation images
    (a fixed split of the 60,000) and the 10,000 test images, normalized, resized once."""
    from torchvision import datasets

    where = fashion_root(root, download)
    try:
        parts = [datasets.FashionMNIST(str(where), train=t, download=download)
                 for t in (True, False)]
    except Exception as e:  # torchvision raises RuntimeError, urllib URLError
        raise FileNotFoundError(
            f"Fashion-MNIST could not be read or downloaded under {where} ({type(e).__name__}: "
            f"{e}). Install Debian's `dataset-fashion-mnist`, point data.root at the files, or "
            "set data.download=true where a network exists.") from e

    def tensors(d) -> tuple[torch.Tensor, torch.Tensor]:
        x = d.data.unsqueeze(1).float() / 255.0
        if img_size != 28:
            x = F.interpolate(x, size=(img_size, img_size), mode="bilinear", align_corners=False)
        return (x - FASHION_MEAN) / FASHION_STD, d.targets.long()

    (x, y), (xt, yt) = tensors(parts[0]), tensors(parts[1])
    perm = torch.randperm(len(y), generator=torch.Generator().manual_seed(0))
    val, train = perm[:val_size], perm[val_size:]
    return (TensorDataset(x[train], y[train]), TensorDataset(x[val], y[val]),
            TensorDataset(xt, yt))


def _torchvision_cifar(name: str, root: str, img_size: int, download: bool
                       ) -> tuple[Dataset, Dataset]:
    from torchvision import datasets, transforms

    cls = datasets.CIFAR10 if name == "cifar10" else datasets.CIFAR100
    norm = transforms.Normalize((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616))
    resize = [transforms.Resize(img_size)] if img_size != 32 else []
    train_tf = transforms.Compose(resize + [transforms.RandomCrop(img_size, padding=img_size // 8),
                                            transforms.RandomHorizontalFlip(),
                                            transforms.ToTensor(), norm])
    val_tf = transforms.Compose(resize + [transforms.ToTensor(), norm])
    try:
        return (cls(root, train=True, transform=train_tf, download=download),
                cls(root, train=False, transform=val_tf, download=download))
    except Exception as e:  # torchvision raises RuntimeError, urllib URLError without a network
        raise FileNotFoundError(
            f"{name} not found under data.root={root!r} ({type(e).__name__}: {e}). Put the "
            "extracted dataset there (data.root=DIR) or set data.download=true on a machine "
            "with network access.") from e


def _imagefolder(root: str, img_size: int) -> tuple[Dataset, Dataset]:
    import os

    from timm.data import create_dataset, create_transform

    for split in ("train", "val"):
        if not os.path.isdir(os.path.join(root, split)):
            raise FileNotFoundError(f"data.root={root!r} needs {split}/<class>/<image> folders")
    train = create_dataset("", root=root, split="train", is_training=True,
                           transform=create_transform(img_size, is_training=True))
    val = create_dataset("", root=root, split="val",
                         transform=create_transform(img_size, is_training=False))
    return train, val


def build_data(cfg: Any, device: torch.device, seed: int = 0, rank: int = 0,
               world: int = 1) -> DataSource:
    """A ``DataSource`` from the ``data`` config node (name, batch_size, img_size, ...)."""
    common = dict(name=cfg.name, num_classes=int(cfg.num_classes), in_chans=int(cfg.in_chans),
                  img_size=int(cfg.img_size), batch_size=int(cfg.batch_size),
                  num_workers=int(cfg.get("num_workers", 0)), seed=seed, rank=rank, world=world,
                  device=device)
    if cfg.name == "synthetic":
        task = SyntheticTask(common["num_classes"], common["in_chans"], common["img_size"],
                             common["batch_size"], seed, device, float(cfg.get("noise", 1.0)),
                             int(cfg.get("steps_per_epoch", 100)))
        return DataSource(**common, synthetic=task)
    test = None
    if cfg.name == "digits":
        train, val = _digits(common["img_size"])
    elif cfg.name == "fashion_mnist":
        train, val, test = _fashion_mnist(cfg.get("root"), common["img_size"],
                                          bool(cfg.get("download", False)),
                                          int(cfg.get("val_size", 5000)))
    elif cfg.name in ("cifar10", "cifar100"):
        train, val = _torchvision_cifar(cfg.name, cfg.root, common["img_size"],
                                        bool(cfg.get("download", True)))
    elif cfg.name == "imagefolder":
        train, val = _imagefolder(cfg.root, common["img_size"])
    else:
        raise ValueError(f"unknown data.name={cfg.name!r}; choose synthetic, digits, "
                         "fashion_mnist, cifar10, cifar100 or imagefolder")
    if len(train) < common["batch_size"] * world:
        raise ValueError(f"data.batch_size={common['batch_size']} x {world} process(es) is larger "
                         f"than the {len(train)} training images of {cfg.name}")
    return DataSource(**common, train=train, val=val, test=test)


def num_steps(max_steps: int | None, epochs: float | None, steps_per_epoch: int) -> int:
    """Training length: ``max_steps`` if given, else ``epochs`` x steps per epoch."""
    if max_steps:
        return int(max_steps)
    if epochs:
        return int(math.ceil(epochs * steps_per_epoch))
    raise ValueError("set trainer.max_steps or trainer.epochs")
