"""Framework folder layouts (Hugging Face Trainer, Lightning) and several files for one step."""

import os
import shutil
import sys

import numpy as np
import pytest

from stochthermo.bridge import diagnose, open_runs, read_checkpoint, read_scalars
from stochthermo.bridge._layouts import read_hparams_yaml
from stochthermo.errors import BridgeError, CorruptFileError

FIX = os.path.join(os.path.dirname(__file__), "fixtures", "bridge")
TORCH = dict(np.load(os.path.join(FIX, "expected_torch.npz")))
LAYOUTS = os.path.join(FIX, "tc_layouts")


def same_bits(a, b):
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def test_hugging_face_trainer_output_folders():
    (run,) = open_runs(os.path.join(LAYOUTS, "hf"))
    assert [t.name for t in run.trials] == ["trial_a", "trial_b"]
    assert run.steps.tolist() == [2, 4, 6]
    assert run.batch_size == 8 and run.lr == 0.05
    assert run.meta["config_file"].endswith(os.path.join("checkpoint-6", "trainer_state.json"))
    for t in run.trials:
        files = {os.path.basename(f.path) for f in t.frames}
        assert files == {"model.safetensors" if t.name == "trial_a" else "pytorch_model.bin"}
        for f in t.frames:
            got = t.read(f)["p"]
            for k, v in got.items():
                assert same_bits(v, TORCH[f"hf/{t.name}/{f.step}/{k}"]), (t.name, f.step, k)
        steps, loss = read_scalars(t.scalar_files[0])["loss"]
        assert steps.tolist() == list(range(1, 7))
        assert np.array_equal(loss, TORCH[f"hf/{t.name}/loss"])
    # training_args.bin is a pickle of a Python object: skipped, never opened
    with pytest.raises(BridgeError):
        read_checkpoint(os.path.join(LAYOUTS, "hf", "trial_a", "checkpoint-2",
                                     "training_args.bin"))
    d = diagnose([run])
    assert d.runs[0].noise_var.size == 2 and np.all(d.runs[0].noise_var > 0)
    assert set(d.runs[0].scalars) >= {"loss", "learning_rate"}


def test_lightning_log_folders():
    (run,) = open_runs(os.path.join(LAYOUTS, "lit"))
    assert [t.name for t in run.trials] == ["version_0", "version_1"]
    assert run.steps.tolist() == [2, 4] and run.batch_size == 8 and run.lr == 0.05
    assert any("last.ckpt" in s and "epoch=0-step=4.ckpt" in s
               for s in run.meta["skipped_files"])
    for t in run.trials:
        for f in t.frames:
            for k, v in t.read(f)["p"].items():
                assert k.startswith("model.")
                assert same_bits(v, TORCH[f"lit/{t.name}/{f.step}/{k}"])
        sc = read_scalars(t.scalar_files[0])
        assert np.array_equal(sc["train_loss"][1], TORCH[f"lit/{t.name}/loss"])
        assert sc["val_loss"][0].tolist() == [3]


def test_several_files_for_one_step_pick_by_documented_preference(tmp_path):
    sd = read_checkpoint(os.path.join(FIX, "weights.safetensors"))
    for j in range(2):
        d = tmp_path / "run" / f"t{j}"
        d.mkdir(parents=True)
        for s in (0, 1):
            shutil.copy(os.path.join(FIX, "weights.safetensors"),
                        d / f"step_{s:05d}.safetensors")
            np.savez(d / f"step_{s:05d}.npz", **{k: v + 1 for k, v in sd.items()})
    (run,) = open_runs(tmp_path / "run")
    assert run.steps.tolist() == [0, 1]
    assert all(f.path.endswith(".safetensors") for t in run.trials for f in t.frames)
    assert len(run.meta["skipped_files"]) == 4
    assert all("skipped" in s and s.endswith(".npz") for s in run.meta["skipped_files"])
    # two files of the same format for one step are still refused, naming both
    t0 = tmp_path / "run" / "t0"
    shutil.copy(t0 / "step_00000.safetensors", t0 / "s0.safetensors")
    with pytest.raises(BridgeError, match="two checkpoints for step 0"):
        open_runs(tmp_path / "run")


HOSTILE_YAML = "batch_size: 16\nlr: !!python/object/apply:os.system ['echo pwned']\n"


def test_hparams_yaml_is_read_safely(tmp_path, monkeypatch):
    p = tmp_path / "hparams.yaml"
    p.write_text("batch_size: 16\nlr: 1e-3\nname: 'mlp'\nflag: true\nblock:\n  inner: 3\n")
    got = read_hparams_yaml(p)
    assert got["batch_size"] == 16 and float(got["lr"]) == 1e-3  # YAML 1.1 reads "1e-3" as text
    monkeypatch.setitem(sys.modules, "yaml", None)  # without PyYAML: the small parser
    fallback = read_hparams_yaml(p)
    assert fallback["batch_size"] == 16 and fallback["lr"] == 1e-3
    assert fallback["name"] == "mlp" and fallback["flag"] is True and "inner" not in fallback
    p.write_text(HOSTILE_YAML)
    assert read_hparams_yaml(p)["lr"].startswith("!!python")  # a string, nothing constructed
    monkeypatch.undo()
    pytest.importorskip("yaml")
    with pytest.raises(CorruptFileError, match="not valid YAML"):
        read_hparams_yaml(p)
