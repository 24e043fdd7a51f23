import pytest
import torch

from spikestack.train import checkpoint as ckpt


def _state(value):
    return {"model": {"w": torch.full((3,), float(value))}, "epoch": value}


def test_save_load_keep_and_weights_only(tmp_path):
    for epoch in range(1, 5):
        ckpt.save_checkpoint(_state(epoch), tmp_path, epoch, keep=2)
    names = [p.name for p in ckpt.list_checkpoints(tmp_path)]
    assert names == ["epoch_0003.pt", "epoch_0004.pt"]
    state, path = ckpt.load_latest(tmp_path)
    assert path.name == "epoch_0004.pt" and state["epoch"] == 4
    # the files load under torch's safe loader directly
    assert torch.load(path, weights_only=True)["model"]["w"].tolist() == [4.0] * 3


def test_crash_mid_write_keeps_previous_checkpoint(tmp_path, monkeypatch):
    ckpt.save_checkpoint(_state(1), tmp_path, 1)

    def crash(obj, f, *args, **kwargs):
        f.write(b"partial bytes")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(OSError, match="disk full"):
        ckpt.save_checkpoint(_state(2), tmp_path, 2)
    monkeypatch.undo()
    files = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())
    assert files == ["epoch_0001.pt"]  # no partial file, no temp left behind
    assert ckpt.load_latest(tmp_path)[0]["epoch"] == 1


def test_corrupt_last_checkpoint_falls_back_with_warning(tmp_path):
    ckpt.save_checkpoint(_state(1), tmp_path, 1)
    path = ckpt.save_checkpoint(_state(2), tmp_path, 2)
    path.write_bytes(path.read_bytes()[:20])
    with pytest.warns(RuntimeWarning, match="epoch_0002.pt is unreadable"):
        state, used = ckpt.load_latest(tmp_path)
    assert state["epoch"] == 1 and used.name == "epoch_0001.pt"


def test_missing_and_foreign_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoints"):
        ckpt.load_latest(tmp_path)
    with pytest.raises(FileNotFoundError):
        ckpt.load_checkpoint(tmp_path / "nope.pt")
    torch.save({"weights": 1}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a spikestack checkpoint"):
        ckpt.load_checkpoint(tmp_path / "other.pt")


def test_checkpoint_with_code_is_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    torch.save({"model": {}, "x": Evil()}, tmp_path / "evil.pt")
    with pytest.raises(ValueError, match="not a spikestack checkpoint or is damaged") as caught:
        ckpt.load_checkpoint(tmp_path / "evil.pt")
    assert "weights_only" not in str(caught.value)  # no advice to run a file's code


def test_damaged_files_give_one_clear_error(tmp_path):
    good = ckpt.save_checkpoint(_state(1), tmp_path, 1)
    cases = {
        "truncated.pt": good.read_bytes()[: len(good.read_bytes()) // 2],
        "random.pt": bytes(range(256)) * 8,
        "empty.pt": b"",
    }
    for name, content in cases.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(
            ValueError, match=f"{name} is not a spikestack checkpoint or is damaged"
        ):
            ckpt.load_checkpoint(tmp_path / name)
