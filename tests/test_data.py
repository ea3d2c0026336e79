"""Fashion-MNIST from Debian's dataset-fashion-mnist through torchvision's reader: the split,
the shapes, the test set, resume-exact batches, and errors that name the fix."""

import pytest
import torch
from omegaconf import OmegaConf

from amup_timm.data import DEBIAN_FASHION, build_data

pytestmark = pytest.mark.skipif(not DEBIAN_FASHION.is_dir(),
                                reason="apt-get install dataset-fashion-mnist (README set-up)")


def fashion(tmp_path, monkeypatch, **over):
    monkeypatch.setenv("AMUP_CACHE", str(tmp_path / "cache"))
    cfg = OmegaConf.create({"name": "fashion_mnist", "root": None, "download": False,
                            "num_classes": 10, "in_chans": 1, "img_size": 28,
                            "batch_size": 128, **over})
    return build_data(cfg, torch.device("cpu"), seed=3)


def test_split_shapes_and_test_set(tmp_path, monkeypatch):
    data = fashion(tmp_path, monkeypatch)
    assert (len(data.train), len(data.val), len(data.test)) == (55_000, 5_000, 10_000)
    (raw,) = (tmp_path / "cache/fashion_mnist").glob("*/FashionMNIST/raw")  # keyed by source
    assert sorted(p.name for p in raw.iterdir()) == ["t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte",
                        "train-images-idx3-ubyte", "train-labels-idx1-ubyte"]
    x, y = next(data.train_batches())
    assert x.shape == (128, 1, 28, 28) and y.shape == (128,) and y.max() <= 9
    assert abs(x.mean()) < 0.1 and 0.9 < x.std() < 1.1  # normalized
    # the validation split is a fixed part of the 60,000 training images, disjoint from train
    train_x = data.train.tensors[0].flatten(1)
    val_x = data.val.tensors[0].flatten(1)
    hashes = set(map(hash, map(bytes, (train_x[:2000] * 255).round().to(torch.uint8).numpy())))
    assert not hashes & set(map(hash, map(bytes, (val_x * 255).round().to(torch.uint8).numpy())))
    assert torch.equal(fashion(tmp_path, monkeypatch).val.tensors[1], data.val.tensors[1])
    xt, yt = next(data.val_batches(1, "test"))
    assert xt.shape == (128, 1, 28, 28) and torch.bincount(data.test.tensors[1]).tolist() == [
        1000] * 10  # Fashion-MNIST's test set is balanced


def test_batches_from_a_step_are_those_an_uninterrupted_run_sees(tmp_path, monkeypatch):
    data = fashion(tmp_path, monkeypatch, batch_size=2000)
    stream = data.train_batches(0)
    seen = [next(stream) for _ in range(30)]  # 27 batches an epoch: crosses into epoch 2
    resumed = data.train_batches(25)
    for i in range(25, 30):
        x, y = next(resumed)
        assert torch.equal(x, seen[i][0]) and torch.equal(y, seen[i][1])


def test_resized_for_convnext(tmp_path, monkeypatch):
    x, _ = next(fashion(tmp_path, monkeypatch, img_size=32).train_batches())
    assert x.shape == (128, 1, 32, 32)


def test_missing_files_name_the_package_root_and_download(tmp_path, monkeypatch):
    """Without a root, the error names Debian's package; a root given is never replaced (by
    Debian's copy either) and the error names it."""
    with pytest.raises(FileNotFoundError) as e:
        fashion(tmp_path, monkeypatch, root=str(tmp_path / "empty"))
    assert all(w in str(e.value) for w in (str(tmp_path / "empty"), "data.root",
                                            "data.download=true"))
    monkeypatch.setattr("amup_timm.data.DEBIAN_FASHION", tmp_path / "absent")
    with pytest.raises(FileNotFoundError) as e:
        fashion(tmp_path, monkeypatch)
    assert all(w in str(e.value) for w in ("dataset-fashion-mnist", "data.root",
                                            "data.download=true"))
