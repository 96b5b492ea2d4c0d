"""Hostile files, stores and output folders: each reproducer gives our own error, fast.

Checkpoints that expand a few hundred bytes into gigabytes, DEFLATE bombs, FIFOs named like
checkpoints, links out of the run folder, malformed ``config.json`` values, damaged on-disk
stores and interrupted output folders (issue 11).
"""

import io
import json
import os
import struct
import zipfile
import zlib

import numpy as np
import pytest

from stochthermo.bridge import open_runs, read_checkpoint
from stochthermo.errors import (
    BridgeError,
    CorruptFileError,
    ResourceError,
    ShapeError,
    UnsafeFileError,
)

# ---- torch.save files written by hand (no torch needed) -------------------------------------


def _u(text: str) -> bytes:
    raw = text.encode()
    return b"X" + struct.pack("<I", len(raw)) + raw


def _int(v: int) -> bytes:
    return b"J" + struct.pack("<i", v)


def _tensor_pickle(tensors) -> bytes:
    """Protocol-2 pickle of ``{name: _rebuild_tensor_v2(storage key, 0, size, stride)}``.

    ``tensors`` is a list of ``(name, key, numel, size, stride)``; storages are FloatStorage.
    """
    out = [b"\x80\x02}("]
    for name, key, numel, size, stride in tensors:
        out += [
            _u(name), b"ctorch._utils\n_rebuild_tensor_v2\n(",
            b"(", _u("storage"), b"ctorch\nFloatStorage\n", _u(key), _u("cpu"), _int(numel),
            b"tQ", _int(0),
            b"(" + b"".join(_int(s) for s in size) + b"t",
            b"(" + b"".join(_int(s) for s in stride) + b"t",
            b"\x89ccollections\nOrderedDict\n)R", b"tR",
        ]
    out.append(b"u.")
    return b"".join(out)


def _torch_zip(data_pkl: bytes, records, *, compress=()):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("archive/data.pkl", data_pkl)
        z.writestr("archive/byteorder", "little")
        for key, data in records.items():
            kind = zipfile.ZIP_DEFLATED if key in compress else zipfile.ZIP_STORED
            z.writestr(f"archive/data/{key}", data, compress_type=kind)
    return buf.getvalue()


def test_hand_written_zip_reads_like_torch(tmp_path):
    """The builder itself is right: a contiguous tensor and a broadcast view read exactly."""
    pkl = _tensor_pickle([("w", "0", 6, (2, 3), (3, 1)), ("b", "1", 1, (4,), (0,))])
    p = tmp_path / "ok.pt"
    p.write_bytes(_torch_zip(pkl, {"0": np.arange(6, dtype="<f4").tobytes(),
                                   "1": np.float32(2.5).tobytes()}))
    sd = read_checkpoint(p)
    np.testing.assert_array_equal(sd["w"], np.arange(6, dtype=np.float32).reshape(2, 3))
    np.testing.assert_array_equal(sd["b"], np.full(4, 2.5, np.float32))


def test_stride0_views_have_a_total_budget_per_file(tmp_path):
    # 8 views of one stored float, 2^27 elements each: 4 GiB from a file of < 1 KB
    pkl = _tensor_pickle([(f"w{i}", "0", 1, (1 << 27,), (0,)) for i in range(8)])
    p = tmp_path / "stride0.pt"
    p.write_bytes(_torch_zip(pkl, {"0": np.float32(1).tobytes()}))
    assert p.stat().st_size < 2000
    with pytest.raises(ResourceError, match=r"stride0\.pt.*'w0'.*expanded view.*max_bytes="):
        read_checkpoint(p)
    # a raised limit reads what is really wanted (one small broadcast buffer)
    pkl = _tensor_pickle([("w", "0", 1, (1 << 20,), (0,))])
    p.write_bytes(_torch_zip(pkl, {"0": np.float32(3).tobytes()}))
    with pytest.raises(ResourceError):
        read_checkpoint(p, max_bytes=1 << 20)
    assert read_checkpoint(p)["w"].sum() == 3 * (1 << 20)


def _deflated_zeros(n_bytes: int, header: bytes = b"") -> tuple[bytes, int]:
    """A raw DEFLATE stream of ``header`` + ``n_bytes`` zeros, and its CRC-32."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    parts, crc = [c.compress(header)], zlib.crc32(header)
    block = bytes(1 << 22)
    for _ in range(n_bytes // len(block)):
        parts.append(c.compress(block))
        crc = zlib.crc32(block, crc)
    parts.append(c.flush())
    return b"".join(parts), crc


def _bomb_torch_zip(path, n_items):
    pkl = _tensor_pickle([("w", "0", n_items, (n_items,), (1,))])
    comp, crc = _deflated_zeros(4 * n_items)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("archive/data.pkl", pkl)
        z.writestr("archive/byteorder", "little")
        info = zipfile.ZipInfo("archive/data/0")
        info.compress_type = zipfile.ZIP_DEFLATED
        z.writestr(info, b"")  # placeholder, rewritten below
    # rebuild with the pre-compressed record: local header, data, central directory
    return _replace_member(buf.getvalue(), "archive/data/0", comp, crc, 4 * n_items, path)


def _replace_member(raw, name, comp, crc, size, path):
    """Re-emit the zip ``raw`` with member ``name`` holding the DEFLATE stream ``comp``."""
    src = zipfile.ZipFile(io.BytesIO(raw))
    out = io.BytesIO()
    central = []
    for info in src.infolist():
        data = src.read(info.filename)
        if info.filename == name:
            method, payload, c, usize = 8, comp, crc, size
        else:
            method, payload, c, usize = 0, data, zlib.crc32(data), len(data)
        fname = info.filename.encode()
        off = out.tell()
        out.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, method, 0, 0, c,
                              len(payload), usize, len(fname), 0) + fname + payload)
        central.append(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, method, 0, 0,
                                   c, len(payload), usize, len(fname), 0, 0, 0, 0, 0, off)
                       + fname)
    start = out.tell()
    cd = b"".join(central)
    out.write(cd + struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(central), len(central),
                               len(cd), start, 0))
    path.write_bytes(out.getvalue())
    return path


def test_deflate_bomb_is_refused_before_decompressing(tmp_path):
    # 128 MiB of zeros in a ~130 KB file: more than 200x and more than the 64 MiB floor
    p = _bomb_torch_zip(tmp_path / "bomb.pt", 1 << 25)
    assert p.stat().st_size < 300_000
    with pytest.raises(ResourceError, match=r"bomb\.pt.*max_ratio="):
        read_checkpoint(p)
    assert read_checkpoint(p, max_ratio=10_000)["w"].shape == (1 << 25,)


def _npy_header(shape, dtype="<f4") -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": dtype, "fortran_order": False, "shape": tuple(shape)})
    return buf.getvalue()


def _bomb_npz(path, n_items):
    header = _npy_header((n_items,))
    comp, crc = _deflated_zeros(4 * n_items, header)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("w.npy", b"")
    return _replace_member(buf.getvalue(), "w.npy", comp, crc, len(header) + 4 * n_items, path)


def test_npz_bomb_and_shape_mismatch_found_from_headers(tmp_path):
    p = _bomb_npz(tmp_path / "bomb.npz", 1 << 25)
    with pytest.raises(ResourceError, match=r"bomb\.npz"):
        read_checkpoint(p)
    # in a run, the bomb's header (another shape) is caught before any data is read
    trial = tmp_path / "run" / "t0"
    trial.mkdir(parents=True)
    np.savez(trial / "step_000000.npz", w=np.zeros(3, np.float32))
    _bomb_npz(trial / "step_000010.npz", 1 << 25)
    with pytest.raises(ShapeError, match=r"step_000010\.npz.*step 10"):
        open_runs(tmp_path / "run")


def test_header_promising_more_than_the_file_holds(tmp_path):
    p = tmp_path / "lie.npy"
    p.write_bytes(_npy_header((1 << 40,)) + bytes(64))
    with pytest.raises(CorruptFileError, match="declares shape"):
        read_checkpoint(p)


def test_overlapping_safetensors_ranges(tmp_path):
    header = {f"t{i}": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}
              for i in range(3)}
    text = json.dumps(header).encode()
    p = tmp_path / "o.safetensors"
    p.write_bytes(struct.pack("<Q", len(text)) + text + bytes(16))
    with pytest.raises(CorruptFileError, match="overlap"):
        read_checkpoint(p)


# ---- FIFOs and links --------------------------------------------------------------------------


def _trial(root, steps=(0, 1), shape=(3,)):
    root.mkdir(parents=True, exist_ok=True)
    for s in steps:
        np.save(root / f"step_{s:06d}.npy", np.full(shape, float(s)))
    return root


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
@pytest.mark.timeout(20)
def test_fifo_named_like_a_checkpoint_never_blocks(tmp_path):
    from stochthermo.cli import main

    trial = _trial(tmp_path / "runs" / "t0")
    os.mkfifo(trial / "step_000010.pt")
    with pytest.raises(UnsafeFileError, match=r"step_000010\.pt.*FIFO"):
        read_checkpoint(trial / "step_000010.pt")
    with pytest.raises(UnsafeFileError, match="FIFO"):
        open_runs(tmp_path / "runs")
    assert main(["analyze", str(tmp_path / "runs"), "--out", str(tmp_path / "o"),
                 "--no-progress"]) == 2


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symbolic links on this platform")
def test_links_out_of_the_run_folder_need_follow_links(tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    np.save(outside / "secret.npy", np.arange(3.0))
    trial = _trial(tmp_path / "runs" / "t0")
    link = trial / "step_000005.npy"
    os.symlink(outside / "secret.npy", link)
    with pytest.raises(UnsafeFileError, match="follow_links=True"):
        read_checkpoint(link)
    with pytest.raises(UnsafeFileError, match="outside"):
        open_runs(tmp_path / "runs")
    np.testing.assert_array_equal(read_checkpoint(link, follow_links=True)["array"],
                                  np.arange(3.0))
    (run,) = open_runs(tmp_path / "runs", follow_links=True)
    assert run.steps.tolist() == [0, 1, 5]
    # a link inside the folder is fine
    link.unlink()
    os.symlink(trial / "step_000001.npy", link)
    assert open_runs(tmp_path / "runs")[0].steps.tolist() == [0, 1, 5]


# ---- config.json ------------------------------------------------------------------------------


@pytest.mark.parametrize("text, key", [
    ('[{"batch_size": 10}]', "JSON list"),
    ('{"batch_size": "abc"}', "'batch_size'"),
    ('{"batch_size": "ten"}', "'batch_size'"),
    ('{"batch_size": 1e999}', "'batch_size'"),
    ('{"batch_size": NaN}', "'batch_size'"),
    ('{"batch_size": 0}', "'batch_size'"),
    ('{"batch_size": -4}', "'batch_size'"),
    ('{"batch_size": true}', "'batch_size'"),
    ('{"batch_size": 2.5}', "'batch_size'"),
    ('{"batch": "x"}', "'batch'"),
    ('{"lr": "abc"}', "'lr'"),
    ('{"lr": 1e999}', "'lr'"),
    ('{"lr": NaN}', "'lr'"),
    ('{"lr": 0}', "'lr'"),
    ('{"lr": -0.1}', "'lr'"),
    ('{"lr": false}', "'lr'"),
    ('{"learning_rate": [1]}', "'learning_rate'"),
    ('{"batch_size": 10,', "not valid JSON"),
    ('"bs10"', "JSON string"),
])
def test_config_json_problems_name_the_file_and_key(tmp_path, text, key):
    run = tmp_path / "bs10"
    _trial(run / "t0")
    (run / "config.json").write_text(text)
    with pytest.raises(BridgeError) as info:
        open_runs(run)
    msg = str(info.value)
    assert str(run / "config.json") in msg and key in msg
    for foreign in ("invalid literal", "could not convert", "division by zero"):
        assert foreign not in msg


def test_config_values_that_are_fine(tmp_path):
    run = tmp_path / "r"
    _trial(run / "t0")
    (run / "config.json").write_text('{"batch_size": "32", "lr": "0.5", "note": [1, 2]}')
    (r,) = open_runs(run)
    assert (r.batch_size, r.lr, r.meta["note"]) == (32, 0.5, [1, 2])
    (r,) = open_runs(run, meta={"batch_size": 8.0})
    assert r.batch_size == 8
    with pytest.raises(BridgeError, match=r"meta=.*'lr'"):
        open_runs(run, meta={"lr": float("nan")})
    bs0 = tmp_path / "bs0"
    _trial(bs0 / "t0")
    with pytest.raises(BridgeError, match="name of run folder"):
        open_runs(bs0)


def test_scalar_log_with_nan_step(tmp_path):
    from stochthermo.bridge import read_scalars

    p = tmp_path / "log.csv"
    p.write_text("step,loss\n0,1.0\nnan,2.0\n")
    with pytest.raises(CorruptFileError, match=r"log\.csv.*row 2"):
        read_scalars(p)


# ---- output folders: all of one run -----------------------------------------------------------


def _fake_section(tag, *, fail=False):
    def section(*, quick, seed, out_figs):
        from stochthermo._atomic import write_atomic

        write_atomic(out_figs / f"{tag}.png", b"png of " + tag.encode(), mode="wb")
        if fail:
            raise KeyboardInterrupt
        return {"tag": tag, "figures": []}

    return section


def test_interrupted_demo_leaves_the_previous_output_intact(tmp_path, monkeypatch):
    from stochthermo.cli import main
    from stochthermo.commands import demo

    out = tmp_path / "report"
    monkeypatch.setattr(demo, "SECTIONS", {"a": _fake_section("old"), "b": _fake_section("b")})
    monkeypatch.setattr(demo, "_build_report", lambda result: "<html>old</html>")
    assert main(["demo", "--out", str(out), "--sections", "a,b", "--seed", "1"]) == 0
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == 1 and set(manifest["files"]) == {
        "figures/old.png", "figures/b.png", "results.json", "report.html"}
    # a second run is interrupted in its second section, after writing a figure
    monkeypatch.setattr(demo, "SECTIONS", {"a": _fake_section("new"),
                                           "b": _fake_section("b2", fail=True)})
    assert main(["demo", "--out", str(out), "--sections", "a,b", "--seed", "2"]) == 130
    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before  # nothing of the new run mixed in, nothing removed
    assert sorted(os.listdir(tmp_path)) == ["report"]  # no half folder left beside it
    # an uninterrupted run replaces the output whole
    monkeypatch.setattr(demo, "SECTIONS", {"a": _fake_section("new"), "b": _fake_section("b")})
    assert main(["demo", "--out", str(out), "--sections", "a,b", "--seed", "3"]) == 0
    assert sorted(p.name for p in (out / "figures").iterdir()) == ["b.png", "new.png"]
    assert json.loads((out / "manifest.json").read_text())["seed"] == 3


def test_output_folder_of_other_files_is_never_replaced(tmp_path, monkeypatch):
    from stochthermo.cli import main
    from stochthermo.commands import demo

    monkeypatch.setattr(demo, "SECTIONS", {"a": _fake_section("x")})
    monkeypatch.setattr(demo, "_build_report", lambda result: "<html></html>")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("precious")
    # a bad --out is an input error: exit 2, as every usage and input error
    assert main(["demo", "--out", str(mine), "--sections", "a"]) == 2
    assert os.listdir(mine) == ["thesis.tex"]
    monkeypatch.chdir(mine)
    assert main(["demo", "--out", ".", "--sections", "a"]) == 2
    assert os.listdir(mine) == ["thesis.tex"]


def test_interrupted_analyze_keeps_the_old_summary(tmp_path, monkeypatch):
    from stochthermo.cli import main
    from stochthermo.commands import analyze

    rng = np.random.default_rng(0)
    for b in (1, 10):
        for t in ("t0", "t1"):
            folder = tmp_path / "runs" / f"bs{b}" / t
            folder.mkdir(parents=True)
            theta = np.zeros(4)
            for s in range(0, 12, 2):
                np.save(folder / f"step_{s:06d}.npy", theta)
                theta = theta + rng.normal(size=4) / b
    out = tmp_path / "o"
    assert main(["analyze", str(tmp_path / "runs"), "--out", str(out), "--no-progress",
                 "--lr", "0.1"]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def interrupted(diag, out_dir):
        (out_dir / "panel_a_trajectories.png").write_bytes(b"new")
        raise KeyboardInterrupt

    monkeypatch.setattr(analyze, "write_panels", interrupted)
    assert main(["analyze", str(tmp_path / "runs"), "--out", str(out), "--no-progress",
                 "--lr", "0.2"]) == 130
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(os.listdir(tmp_path)) == ["o", "runs"]


# ---- on-disk stores -----------------------------------------------------------------------


def _store_case(tmp_path):
    pytest.importorskip("zarr")
    import stochthermo as st
    from stochthermo.store import simulate_to_store

    model = st.LinearLangevin([[1.0, 0.8], [-0.8, 1.0]], [[1.0, 0.0], [0.0, 0.3]])
    kw = dict(n_steps=40, dt=0.01, method="exact", x0="stationary", observables=("heat",),
              save_every=2)
    path = tmp_path / "r.zarr"
    simulate_to_store(model, path, n_traj=50, seed=4, chunk_size=10, **kw)
    return model, kw, path


def _chunk(path, name, i):
    top = path / name / "c" / str(i)
    if top.is_file():
        return top
    (f,) = [p for p in top.rglob("*") if p.is_file()]
    return f


def _x_chunk(path, i):
    return _chunk(path, "x", i)


def _flip(f, pos=-5):
    raw = bytearray(f.read_bytes())
    raw[pos] ^= 0x5A
    f.write_bytes(bytes(raw))


@pytest.mark.parametrize("damage, where", [
    ("delete", "open"), ("truncate", "open"), ("flip", "read"),
])
def test_damaged_store_chunks_are_named(tmp_path, damage, where):
    from stochthermo import estimate
    from stochthermo.errors import DamagedStoreError
    from stochthermo.store import open_store

    _, _, path = _store_case(tmp_path)
    f = _x_chunk(path, 3)
    if damage == "delete":
        f.unlink()
    elif damage == "truncate":
        f.write_bytes(f.read_bytes()[:-7])
    else:
        _flip(f)
    if where == "open":
        with pytest.raises(DamagedStoreError, match=r"chunk indices along trajectories: 3\b") as e:
            open_store(path)
        assert e.value.chunks == (3,)
        return
    s = open_store(path)  # sizes agree: the content is checked when the chunk is read
    np.testing.assert_array_equal(s.x[:30].shape, (30, 21, 2))  # chunks 0-2 are fine
    with pytest.raises(DamagedStoreError) as e:
        estimate.entropy_production(s, method="linear")
    assert e.value.chunks == (3,)
    with pytest.raises(DamagedStoreError):
        np.asarray(s.x)
    with pytest.raises(DamagedStoreError) as e:
        open_store(path, verify=True)
    assert e.value.chunks == (3,)


def test_damaged_observable_chunk(tmp_path):
    from stochthermo.errors import DamagedStoreError
    from stochthermo.store import open_store

    _, _, path = _store_case(tmp_path)
    _chunk(path, "obs_heat", 1).unlink()
    with pytest.raises(DamagedStoreError) as e:
        open_store(path)
    assert e.value.chunks == (1,)


def test_garbage_metadata_gives_our_error(tmp_path):
    import stochthermo as st
    from stochthermo.errors import DamagedStoreError
    from stochthermo.store import SIDECAR, open_store

    model, kw, path = _store_case(tmp_path)
    (path / "zarr.json").write_bytes(b"\x00garbage{")
    with pytest.raises(DamagedStoreError, match="zarr.json"):
        open_store(path)
    from stochthermo.store import simulate_to_store

    with pytest.warns(RuntimeWarning, match=r"damaged metadata \(zarr.json\)"):
        s = simulate_to_store(model, path, n_traj=50, seed=4, chunk_size=10, **kw)
    assert s.n_traj == 50
    # an array's metadata and the time grid are rewritten from what the store recorded
    (path / "x" / "zarr.json").write_text('{"zarr_format": 3, "shape": [1]}')
    _flip(_chunk(path, "t", 0))
    with pytest.raises(DamagedStoreError, match=r"x/zarr.json"):
        open_store(path)
    with pytest.warns(RuntimeWarning, match=r"x/zarr.json, t.*chunk\(s\) \[0\]"):
        s = simulate_to_store(model, path, n_traj=50, seed=4, chunk_size=10, **kw)
    assert s.meta["repaired_chunks"] == [0]
    e = st.simulate(model, n_traj=50, seed=4, **kw)
    np.testing.assert_array_equal(np.asarray(s.x), e.x)
    np.testing.assert_array_equal(s.t, e.t)
    # an unreadable chunk record is a damaged chunk
    from stochthermo.store import CHUNK_RECORDS

    (path / CHUNK_RECORDS / "2.json").write_text("{")
    with pytest.raises(DamagedStoreError) as info:
        open_store(path)
    assert info.value.chunks == (2,)
    with pytest.warns(RuntimeWarning, match=r"1 damaged chunk\(s\) \[2\], recomputed"):
        simulate_to_store(model, path, n_traj=50, seed=4, chunk_size=10, **kw)
    (path / SIDECAR).write_text("[1, 2")
    with pytest.raises(DamagedStoreError, match=SIDECAR):
        open_store(path)
    with pytest.raises(DamagedStoreError, match=SIDECAR):
        simulate_to_store(model, path, n_traj=50, seed=4, chunk_size=10, **kw)


def test_resume_recomputes_damaged_chunks_bit_identically(tmp_path, monkeypatch):
    import stochthermo as st
    from stochthermo import store

    model, kw, path = _store_case(tmp_path)
    _x_chunk(path, 0).unlink()
    _flip(_x_chunk(path, 2))
    f = _chunk(path, "obs_heat", 4)
    f.write_bytes(f.read_bytes()[:-3])
    starts = []
    real = store._simulate_chunk

    def counting(*args):
        starts.append(args[2])
        return real(*args)

    monkeypatch.setattr(store, "_simulate_chunk", counting)
    with pytest.warns(RuntimeWarning, match=r"3 damaged chunk\(s\) \[0, 2, 4\]"):
        s = store.simulate_to_store(model, path, n_traj=50, seed=4, chunk_size=10, **kw)
    assert starts == [0, 20, 40]  # only the damaged chunks were recomputed
    assert s.meta["repaired_chunks"] == [0, 2, 4]
    e = st.simulate(model, n_traj=50, seed=4, **kw)
    np.testing.assert_array_equal(np.asarray(s.x), e.x)
    np.testing.assert_array_equal(np.asarray(s.observables["heat"]), e.observables["heat"])
    assert store.open_store(path, verify=True).meta["repaired_chunks"] == []


def test_step_beyond_int64_in_a_file_name(tmp_path):
    trial = _trial(tmp_path / "runs" / "t0")
    np.save(trial / ("step_" + "9" * 25 + ".npy"), np.zeros(3))
    with pytest.raises(BridgeError, match="more than 18 digits"):
        open_runs(tmp_path / "runs")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
@pytest.mark.timeout(20)
def test_fifo_scalar_log_and_config_never_block(tmp_path):
    from stochthermo.bridge import read_scalars

    trial = _trial(tmp_path / "run" / "t0")
    os.mkfifo(trial / "metrics.csv")
    with pytest.raises(UnsafeFileError, match="FIFO"):
        read_scalars(trial / "metrics.csv")
    with pytest.raises(UnsafeFileError, match=r"metrics\.csv"):
        open_runs(tmp_path / "run")
    os.unlink(trial / "metrics.csv")
    os.mkfifo(tmp_path / "run" / "config.json")
    with pytest.raises(UnsafeFileError, match=r"config\.json"):
        open_runs(tmp_path / "run")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
@pytest.mark.timeout(30)
def test_fifo_planted_in_a_store_never_blocks(tmp_path):
    import stochthermo as st
    from stochthermo.errors import DamagedStoreError
    from stochthermo.store import open_store, simulate_to_store

    model, kw, path = _store_case(tmp_path)
    f = _x_chunk(path, 1)
    f.unlink()
    os.mkfifo(f)
    with pytest.raises(DamagedStoreError) as info:
        open_store(path)
    assert info.value.chunks == (1,)
    with pytest.warns(RuntimeWarning, match=r"\[1\], recomputed"):
        s = simulate_to_store(model, path, n_traj=50, seed=4, chunk_size=10, **kw)
    np.testing.assert_array_equal(np.asarray(s.x), st.simulate(model, n_traj=50, seed=4, **kw).x)
