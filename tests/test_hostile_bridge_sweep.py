"""Hostile inputs to the bridge readers found by a sweep: each now gives our own error, fast.

Pickles whose memo indices would make the unpickler allocate gigabytes, NumPy headers NumPy
itself cannot tokenize, damaged compressed ``.npz`` members, impossible ``.npy`` shapes, ragged
long-format CSV rows and TensorBoard records (valid checksums) holding malformed tensors.
"""

import io
import os
import struct
import zipfile

import numpy as np
import pytest

from stochthermo.bridge import checkpoint_layout, read_checkpoint, read_scalars
from stochthermo.bridge._scalars import masked_crc32c
from stochthermo.errors import BridgeError, CorruptFileError, ResourceError

# ---- pickles ----------------------------------------------------------------------------------


def _zip_with_pickle(pkl: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("archive/data.pkl", pkl)
        z.writestr("archive/byteorder", "little")
    return buf.getvalue()


@pytest.mark.parametrize("put", [
    b"r" + (1 << 24).to_bytes(4, "little"),  # LONG_BINPUT
    b"p16777216\n",  # PUT (text)
], ids=["LONG_BINPUT", "PUT"])
def test_memo_index_far_beyond_the_pickle_is_refused(tmp_path, put):
    """``LONG_BINPUT 0x7fffffff`` in a 40-byte file would make the unpickler allocate and
    clear a 32 GiB memo; indices past the opcodes read so far are refused before unpickling
    (kept at 2**24 here, so a regression costs 256 MiB, not the machine)."""
    p = tmp_path / "memo.pt"
    p.write_bytes(_zip_with_pickle(b"\x80\x02}" + put + b"."))
    with pytest.raises(CorruptFileError, match=r"memo\.pt: malformed pickle \(memo index 16777216"):
        read_checkpoint(p)


def test_sequential_memo_indices_still_read(tmp_path):
    """A pickle that memoises and fetches entries (as every pickler writes) is unchanged."""
    # {"a": [], "b": <memo 1>} with BINPUT 0 / 1 and BINGET 1
    pkl = b"\x80\x02}q\x00(X\x01\x00\x00\x00a]q\x01X\x01\x00\x00\x00bh\x01u."
    p = tmp_path / "ok.pt"
    p.write_bytes(_zip_with_pickle(pkl))
    with pytest.raises(BridgeError, match="holds no tensors"):  # loaded, then found empty
        read_checkpoint(p)


def _u(text: str) -> bytes:
    raw = text.encode()
    return b"X" + struct.pack("<I", len(raw)) + raw


#: ``_rebuild_tensor_v2`` of 2 float32 items in storage record "0"
_TENSOR = (b"ctorch._utils\n_rebuild_tensor_v2\n((" + _u("storage") + b"ctorch\nFloatStorage\n"
           + _u("0") + _u("cpu") + b"K\x02tQK\x00(K\x02t(K\x01t\x89ccollections\nOrderedDict\n)RtR")
_RECORDS = {"0": np.arange(2, dtype="<f4").tobytes()}


def _zip_with_records(pkl: bytes, records) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("archive/data.pkl", pkl)
        z.writestr("archive/byteorder", "little")
        for key, data in records.items():
            z.writestr(f"archive/data/{key}", data)
    return buf.getvalue()


@pytest.mark.parametrize("value", [b"ctorch\nTensor\n", b"ctorch\ndevice\n"],
                         ids=["not-callable", "callable"])
def test_state_on_an_ordered_dict_cannot_shadow_its_methods(tmp_path, value):
    """``BUILD`` with ``{"items": <allow-listed global>}`` on the state dict used to replace
    its ``items`` method (a TypeError from deep inside); the state (PyTorch's ``_metadata``)
    is now dropped and the tensor reads."""
    pkl = (b"\x80\x02ccollections\nOrderedDict\n)R}" + _u("items") + value + b"sb"
           + _u("w") + _TENSOR + b"s.")
    p = tmp_path / "sd.pt"
    p.write_bytes(_zip_with_records(pkl, _RECORDS))
    np.testing.assert_array_equal(read_checkpoint(p)["w"], np.arange(2, dtype=np.float32))


def test_state_on_an_allow_listed_function_is_refused(tmp_path):
    """``BUILD`` on ``_rebuild_tensor_v2`` would set its ``__defaults__`` for every later file
    read by the process; it is refused and the next file reads as before."""
    from stochthermo.bridge import _pickle

    pkl = (b"\x80\x02ctorch._utils\n_rebuild_tensor_v2\nN}" + _u("__defaults__")
           + b"(K\x01K\x02K\x03ts\x86b0}.")
    p = tmp_path / "bad.pt"
    p.write_bytes(_zip_with_records(pkl, {}))
    with pytest.raises(CorruptFileError, match=r"bad\.pt: malformed pickle: state applied to a "
                       "function"):
        read_checkpoint(p)
    assert _pickle._rebuild_tensor_v2.__defaults__ == (False, None, None)
    ok = tmp_path / "ok.pt"
    ok.write_bytes(_zip_with_records(b"\x80\x02}" + _u("w") + _TENSOR + b"s.", _RECORDS))
    np.testing.assert_array_equal(read_checkpoint(ok)["w"], np.arange(2, dtype=np.float32))


@pytest.mark.parametrize("pkl, message", [
    (b"\x80\x02cos\nsystem\n.", "names the global os.system"),
    (b"\x80\x02Pfoo\n.", "malformed storage reference"),
    (b"\x80\x02ctorch\ndevice\n)R.", "malformed torch.device record"),
], ids=["global", "persistent-id", "rebuild-function"])
def test_pickle_errors_name_the_file(tmp_path, pkl, message):
    """Among hundreds of checkpoints the one-line error must say which file is bad."""
    p = tmp_path / "step_000007.pt"
    p.write_bytes(_zip_with_records(pkl, {}))
    with pytest.raises(BridgeError, match=rf"step_000007\.pt: .*{message}"):
        read_checkpoint(p)


def test_untyped_storage_errors_name_the_file(tmp_path):
    """``_rebuild_tensor_v3`` viewing 3 bytes of an untyped storage as float32 items."""
    pkl = (b"\x80\x02}" + _u("w") + b"ctorch._utils\n_rebuild_tensor_v3\n((" + _u("storage")
           + b"ctorch.storage\nUntypedStorage\n" + _u("0") + _u("cpu") + b"K\x03tQK\x00(K\x01t"
           + b"(K\x01t\x89ccollections\nOrderedDict\n)Rctorch\nfloat32\ntRs.")
    p = tmp_path / "step_000008.pt"
    p.write_bytes(_zip_with_records(pkl, {"0": b"abc"}))
    with pytest.raises(CorruptFileError, match=r"step_000008\.pt: storage record '0' holds 3 "
                       "bytes, not a whole number of 4-byte items"):
        read_checkpoint(p)


def _central_entry(raw: bytearray, name: str) -> int:
    """Offset of ``name``'s entry in the zip central directory."""
    i = raw.find(b"PK\x01\x02")
    while i >= 0:
        n = struct.unpack("<H", raw[i + 28:i + 30])[0]
        if raw[i + 46:i + 46 + n] == name.encode():
            return i
        i = raw.find(b"PK\x01\x02", i + 4)
    raise KeyError(name)


def test_record_declaring_more_than_the_budget_raises_resource_error(tmp_path):
    """A compressed record whose directory declares 2 GiB for an 8-byte tensor: refused as a
    ResourceError (it used to come back as a CorruptFileError quoting it, the path twice)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("archive/data.pkl", b"\x80\x02}" + _u("w") + _TENSOR + b"s.")
        z.writestr("archive/data/0", _RECORDS["0"], compress_type=zipfile.ZIP_DEFLATED)
    raw = bytearray(buf.getvalue())
    i = _central_entry(raw, "archive/data/0")
    raw[i + 24:i + 28] = struct.pack("<I", 0x7FFFFFFF)  # uncompressed size
    p = tmp_path / "big.pt"
    p.write_bytes(bytes(raw))
    with pytest.raises(ResourceError, match=r"^[^(]*big\.pt: decompressing record "):
        read_checkpoint(p)


def test_directory_entry_aimed_at_another_records_header(tmp_path):
    """Without ``verify`` an uncompressed record is read straight from the file; a directory
    entry pointing at another record's local header is refused, as zipfile.open refuses it."""
    raw = bytearray(_zip_with_records(b"\x80\x02}" + _u("w") + _TENSOR + b"s.", _RECORDS))
    i = _central_entry(raw, "archive/data/0")
    raw[i + 42:i + 46] = struct.pack("<I", 0)  # the header of archive/data.pkl
    p = tmp_path / "alias.pt"
    p.write_bytes(bytes(raw))
    with pytest.raises(CorruptFileError, match=r"alias\.pt: the zip directory points record "
                       "'archive/data/0' at the local header of 'archive/data.pkl'"):
        read_checkpoint(p)


def test_several_wrappers_without_a_standard_key_is_a_file_problem(tmp_path):
    """``{"lodel": {...}, "optimizer": {...}}`` (one flipped bit in "model"): ambiguous file
    content, reported as a BridgeError like two tensors sharing a name (it was a
    ValidationError, which the mutation fuzzing of tests/test_bridge_fuzz.py does not allow)."""
    pkl = (b"\x80\x02}" + _u("lodel") + b"}" + _u("w") + _TENSOR + b"ss" + _u("optimizer")
           + b"}" + _u("m") + _TENSOR + b"ss.")
    p = tmp_path / "two.pt"
    p.write_bytes(_zip_with_records(pkl, _RECORDS))
    with pytest.raises(BridgeError, match=r"two\.pt: several entries hold tensors \(\['lodel', "
                       r"'optimizer'\]\) .*pass key= to choose one"):
        read_checkpoint(p)
    np.testing.assert_array_equal(read_checkpoint(p, key="lodel")["w"], [0.0, 1.0])


# ---- NumPy ------------------------------------------------------------------------------------


def _npy(header: str, data: bytes = b"\0" * 64) -> bytes:
    h = header.encode("latin-1")
    h += b" " * (16 - (10 + len(h) + 1) % 16) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(h).to_bytes(2, "little") + h + data


def test_npy_header_numpy_cannot_tokenize(tmp_path):
    """An unclosed bracket makes NumPy's header parser raise ``tokenize.TokenError``."""
    p = tmp_path / "w.npy"
    p.write_bytes(_npy("{'descr': '<f4', 'fortran_order': False, 'shape': ((2,), }"))
    with pytest.raises(CorruptFileError, match=r"w\.npy: malformed NumPy file"):
        read_checkpoint(p)


@pytest.mark.parametrize("shape", ["(-4,)", "(True,)", "(0, 4611686018427387904)"],
                         ids=["negative", "bool", "too-large"])
def test_npy_shapes_no_array_can_have(tmp_path, shape):
    """Headers NumPy parses but no array can have are refused from the header alone."""
    p = tmp_path / "w.npy"
    p.write_bytes(_npy(f"{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}"))
    with pytest.raises(CorruptFileError, match=r"w\.npy: malformed NumPy file \(shape"):
        checkpoint_layout(p)


def test_damaged_compressed_npz_member(tmp_path):
    """An invalid DEFLATE block type raises ``zlib.error`` inside zipfile."""
    buf = io.BytesIO()
    np.savez_compressed(buf, a=np.arange(60.0))
    raw = bytearray(buf.getvalue())
    off = zipfile.ZipFile(io.BytesIO(bytes(raw))).getinfo("a.npy").header_offset
    n_name, n_extra = struct.unpack("<HH", raw[off + 26:off + 30])
    raw[off + 30 + n_name + n_extra] = 0x07  # BTYPE 11: reserved
    p = tmp_path / "w.npz"
    p.write_bytes(bytes(raw))
    with pytest.raises(CorruptFileError, match=r"w\.npz: malformed NumPy file .*invalid block"):
        read_checkpoint(p)


# ---- scalar logs ------------------------------------------------------------------------------


def test_ragged_row_in_a_long_format_csv(tmp_path):
    """A row cut before its tag column is skipped like a row without a value."""
    p = tmp_path / "metrics.csv"
    p.write_text("step,tag,value\n1,loss,0.5\n2\n3,loss,0.25\n")
    steps, vals = read_scalars(p)["loss"]
    assert steps.tolist() == [1, 3] and vals.tolist() == [0.5, 0.25]


def _varint(n: int) -> bytes:
    out = b""
    while True:
        b, n = n & 0x7F, n >> 7
        if not n:
            return out + bytes([b])
        out += bytes([b | 0x80])


def _field(num: int, wire: int, payload: bytes) -> bytes:
    tag = _varint(num << 3 | wire)
    return tag + (_varint(len(payload)) if wire == 2 else b"") + payload


def _event_file(tensor: bytes) -> bytes:
    """One TFRecord (valid checksums) holding an Event with a ``loss`` TensorProto value."""
    value = _field(1, 2, b"loss") + _field(8, 2, tensor)
    data = _field(2, 0, _varint(3)) + _field(5, 2, _field(1, 2, value))
    head = struct.pack("<Q", len(data))
    return (head + struct.pack("<I", masked_crc32c(head)) + data
            + struct.pack("<I", masked_crc32c(data)))


@pytest.mark.parametrize("tensor", [
    _field(5, 2, b"\0" * 5),  # packed float_val, not a multiple of 4 bytes
    _field(5, 0, _varint(3)),  # float_val as a varint
    _field(6, 5, b"\0" * 4),  # double_val as fixed32
], ids=["packed-5-bytes", "float-varint", "double-fixed32"])
def test_tensorboard_record_with_a_malformed_tensor(tmp_path, tensor):
    p = tmp_path / "events.out.tfevents.1"
    p.write_bytes(_event_file(tensor))
    with pytest.raises(CorruptFileError, match=r"tfevents\.1: record at byte 0: malformed "
                       r"protocol buffer"):
        read_scalars(p)


def test_tensorboard_tensor_content_of_the_wrong_size_is_skipped(tmp_path):
    """``tensor_content`` of 3 bytes for a float32 scalar is not a scalar: no value, no crash."""
    p = tmp_path / "events.out.tfevents.1"
    p.write_bytes(_event_file(_field(1, 0, _varint(1)) + _field(4, 2, b"\0" * 3)))
    assert read_scalars(p) == {}
    p.write_bytes(_event_file(_field(1, 0, _varint(1)) + _field(4, 2, struct.pack("<f", 2.5))))
    assert read_scalars(p)["loss"][1].tolist() == [2.5]


def test_deeply_nested_json_line(tmp_path):
    """``json`` raises RecursionError (not ValueError) on 100 000 nested brackets."""
    p = tmp_path / "log.jsonl"
    p.write_text('{"step": 1, "loss": 0.5}\n{"a": ' + "[" * 100_000 + "]" * 100_000 + "}\n")
    with pytest.raises(CorruptFileError, match=r"log\.jsonl:2: nested too deeply"):
        read_scalars(p)


# ---- whole runs -------------------------------------------------------------------------------


def _run(root, params):
    """``root/bs4/t{j}/step_{s}.npz`` holding ``w = params(j, s)`` for 3 trials, 4 steps."""
    for j in range(3):
        folder = root / "bs4" / f"t{j}"
        folder.mkdir(parents=True)
        for s in range(4):
            np.savez(folder / f"step_{s}.npz", w=params(j, s))
    return root


def test_long_double_parameters_are_diagnosed_in_float64(tmp_path):
    """float128 checkpoints used to fail deep in einsum (no safe cast to float64)."""
    from stochthermo.bridge import diagnose, open_runs

    rng = np.random.default_rng(0)
    w = rng.normal(size=(3, 4, 5))
    d64 = diagnose(open_runs(_run(tmp_path / "a", lambda j, s: w[j, s])), progress=False)
    dld = diagnose(open_runs(_run(tmp_path / "b", lambda j, s: w[j, s].astype(np.longdouble))),
                   progress=False)
    np.testing.assert_allclose(dld.runs[0].noise_var, d64.runs[0].noise_var, rtol=1e-12)


def test_panel_data_past_what_an_axis_can_hold_is_left_out():
    """Parameters near +-1e308 (a diverging run) make matplotlib's tick placement overflow;
    the panels leave such values out (as NaN), summary.json keeps them."""
    from stochthermo.plotting._fig41 import LOG_RANGE, _drawable

    data = {"shown": {4: np.array([1e308, -1e308, 2.0, np.inf])},
            "noise_var": {4: np.array([1e-300, 1e-3, 1e290, -1.0, 0.0])},
            "noise_var_stderr": {4: np.array([1e-300, 1e290])},
            "batch_sizes": (4,), "noise_label": "x"}
    out = _drawable(data)
    np.testing.assert_array_equal(out["shown"][4], [np.nan, np.nan, 2.0, np.nan])
    np.testing.assert_array_equal(out["noise_var"][4], [np.nan, 1e-3, np.nan, -1.0, 0.0])
    np.testing.assert_array_equal(out["noise_var_stderr"][4], [1e-300, np.nan])
    assert out["batch_sizes"] == (4,) and out["noise_label"] == "x" and LOG_RANGE[1] < 1e300
    assert data["shown"][4][0] == 1e308  # the input is not changed


# the statistics of infinite increments warn (NumPy); that is the data, not the point here
@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
def test_analyze_of_a_diverged_run_writes_the_summary_without_panels(tmp_path, capsys):
    """Parameters of +-1e300 give infinite noise estimates everywhere: matplotlib cannot
    place the noise panel's axis. analyze used to exit 1 ("ValueError: Axis limits cannot be
    NaN or Inf"); it now writes summary.json and report.html and says the panels are missing."""
    import json

    from stochthermo.cli import main

    root = _run(tmp_path / "runs", lambda j, s: np.array([1e300, -1e300, 5e299 * (j - 1), 1.0,
                                                          float(s)]) * (1 + 0.01 * s * j))
    out = tmp_path / "out"
    assert main(["analyze", str(root), "--out", str(out), "--no-progress"]) == 0
    assert "warning: the Fig. 4.1 panels were not drawn" in capsys.readouterr().out
    summary = json.loads((out / "summary.json").read_text())
    assert summary["panels"] == [] and "panels were not drawn" in summary["warnings"][-1]
    assert "panels were not drawn" in (out / "report.html").read_text()
    assert sorted(os.listdir(out)) == ["report.html", "summary.json"]


def test_intervals_without_a_noise_estimate_do_not_make_a_valid_window(tmp_path):
    """Parameters of +-1e300 overflow every sum: no interval may pass the validity tests."""
    import warnings

    from stochthermo.bridge import diagnose, open_runs
    from stochthermo.bridge._validity import interval_passes

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # overflow in the data's statistics
        big = diagnose(open_runs(_run(tmp_path / "a", lambda j, s: np.array(
            [1e300, -1e300, 5e299 * (j - 1), 1.0, float(s)]) * (1 + 0.01 * s * j))),
            progress=False)
    assert np.isnan(big.runs[0].noise_var).all()
    assert not big.runs[0].valid.any() and big.window is None
    # control: trials sharing their start and moved by noise only give a window
    noise = np.random.default_rng(0).normal(size=(3, 4, 5))
    noise[:, 0] = 0.0
    w = 1.0 + 0.1 * np.cumsum(noise, axis=1)
    ok = diagnose(open_runs(_run(tmp_path / "b", lambda j, s: w[j, s])), progress=False)
    assert ok.runs[0].valid.all() and ok.window == (0, 3)
    assert not interval_passes(np.array([np.nan, 0.0]), np.array([0.1, 0.1]),
                               np.array([1.0, 1.0]))[0]


def _shard_trial(folder, steps, members=(0, 1)):
    """A TrajectoryWriter-like shard whose step list is ``steps`` (members for ``members``)."""
    from stochthermo.bridge._writer import SHARD_MARKER

    folder.mkdir(parents=True)
    arrays = {f"s{s:012d}/p/w": np.full(3, float(s)) for s in members}
    np.savez(folder / "shard_000000000000_000000000001.npz", **arrays,
             **{SHARD_MARKER: np.asarray(steps)})


@pytest.mark.parametrize("steps, message", [
    (np.array(["a", "b"]), r"'s step list \(__stochthermo_shard__\) is <U1 of shape \(2,\)"),
    (np.array([0.0, np.nan]), r"'s step list .* is float64 of shape \(2,\)"),
    (np.array(0), r"'s step list .* is int64 of shape \(\)"),
    (np.array([0, 1, 2]), r" lists step 2 but holds no members s000000000002/"),
    (np.array([0, 0]), r" lists step 0 twice"),
], ids=["strings", "nan", "0-d", "step-without-members", "duplicate"])
def test_shard_step_lists_that_do_not_match_the_shard(tmp_path, steps, message):
    """A shard's step list used to be trusted (``int()`` of strings and NaN, iteration over a
    0-d array: ValueError/TypeError from deep inside open_runs)."""
    from stochthermo.bridge import open_runs

    _shard_trial(tmp_path / "run" / "t0", [0, 1])
    _shard_trial(tmp_path / "run" / "t1", steps)
    with pytest.raises(CorruptFileError, match=rf"t1/shard_0+_0+1\.npz: the shard{message}"):
        open_runs(tmp_path / "run")


def test_probe_of_strings_is_refused_naming_the_file(tmp_path, capsys):
    """``--probe`` holding strings used to exit 1 with "ValueError: could not convert"."""
    from stochthermo.bridge import diagnose, open_runs
    from stochthermo.cli import main
    from stochthermo.errors import ValidationError

    root = _run(tmp_path / "runs", lambda j, s: np.full(5, float(j + s)))
    probe = tmp_path / "probe.npy"
    np.save(probe, np.array([["a", "b"], ["c", "d"]]))
    assert main(["analyze", str(root), "--out", str(tmp_path / "out"), "--probe", str(probe),
                 "--no-progress"]) == 2
    assert "probe.npy: the probe inputs are <U1 values, not numbers" in capsys.readouterr().err
    with pytest.raises(ValidationError, match="probe has <U1 values, not numbers"):
        diagnose(open_runs(root), probe=np.load(probe))


def test_max_lag_past_the_memory_budget_is_refused_before_allocating(tmp_path):
    """The autocorrelation ring has max_lag + 1 slots; ``--max-lag 100000000`` used to exit 1
    with NumPy's MemoryError (or allocate gigabytes on a large machine)."""
    from stochthermo.bridge import diagnose, open_runs

    root = _run(tmp_path / "runs", lambda j, s: np.full(5, float(j + s)))
    with pytest.raises(ResourceError, match=r"max_lag=10{15} would need about .* the run has 3 "
                       "intervals, so lags past 2 are never reached"):
        diagnose(open_runs(root), max_lag=10**15)


def test_run_whose_shards_list_no_steps(tmp_path):
    """Every trial's shard lists no steps: used to be an IndexError inside open_runs."""
    from stochthermo.bridge import open_runs
    from stochthermo.bridge._writer import SHARD_MARKER

    for j in range(2):
        folder = tmp_path / "bs4" / f"t{j}"
        folder.mkdir(parents=True)
        np.savez(folder / "shard_000000000000_000000000001.npz",
                 **{SHARD_MARKER: np.array([], dtype=np.int64)})
    with pytest.raises(BridgeError, match="bs4.* holds no checkpoint with a step"):
        open_runs(tmp_path)


def test_folder_names_that_are_not_utf8(tmp_path, capsys):
    """Folder names with bytes that are not UTF-8 (surrogate escapes in Python) used to make
    matplotlib's set_text and the UTF-8 encoding of report.html fail (exit 1)."""
    from stochthermo.cli import main

    root = os.path.join(os.fsencode(tmp_path), b"ru\xffns")
    try:
        os.makedirs(os.path.join(root, b"bs4\xfe"))
    except OSError:  # a file system that only takes UTF-8 names
        pytest.skip("the file system refuses names that are not UTF-8")
    rng = np.random.default_rng(0)
    for j in range(3):
        folder = os.path.join(root, b"bs4\xfe", b"t%d\xfd" % j)
        os.makedirs(folder)
        for s in range(4):
            np.savez(os.fsdecode(os.path.join(folder, b"step_%d.npz" % s)),
                     w=rng.normal(size=5))
    out = tmp_path / "out"
    assert main(["analyze", os.fsdecode(root), "--out", str(out), "--no-progress"]) == 0
    assert "bs4\ufffd: 3 trials" in capsys.readouterr().out
    assert "ru\ufffdns" in (out / "report.html").read_text(encoding="utf-8")


# ---- HDF5 -------------------------------------------------------------------------------------


def test_hdf5_damaged_symbol_table(tmp_path):
    """h5py reports a damaged group as RuntimeError("Object visitation failed ...")."""
    h5py = pytest.importorskip("h5py")
    p = tmp_path / "w.h5"
    with h5py.File(p, "w") as f:
        f["w"] = np.arange(3.0)
    raw = bytearray(p.read_bytes())
    i = raw.find(b"SNOD")
    raw[i:i + 4] = b"XXXX"
    p.write_bytes(bytes(raw))
    with pytest.raises(CorruptFileError, match=r"w\.h5: unreadable HDF5 file .*symbol table"):
        read_checkpoint(p)


@pytest.mark.parametrize("kind", ["external", "virtual"])
def test_hdf5_data_kept_in_other_files_is_refused(tmp_path, kind):
    """HDF5 opens whatever file a dataset names for its data: a file outside the run folder
    would be read as parameters, a FIFO would block forever."""
    h5py = pytest.importorskip("h5py")
    from stochthermo.errors import UnsafeFileError

    other = tmp_path / "elsewhere"
    other.mkdir()
    (tmp_path / "run").mkdir()
    p = tmp_path / "run" / "w.h5"
    if kind == "external":
        (other / "secret.bin").write_bytes(np.arange(4.0).tobytes())
        with h5py.File(p, "w") as f:
            f.create_dataset("w", shape=(4,), dtype="<f8",
                             external=[(str(other / "secret.bin"), 0, h5py.h5f.UNLIMITED)])
    else:
        with h5py.File(other / "src.h5", "w") as f:
            f["d"] = np.arange(4.0)
        layout = h5py.VirtualLayout(shape=(4,), dtype="<f8")
        layout[:] = h5py.VirtualSource(str(other / "src.h5"), "d", shape=(4,))
        with h5py.File(p, "w") as f:
            f.create_virtual_dataset("w", layout)
    with pytest.raises(UnsafeFileError, match=r"w\.h5: HDF5 dataset 'w' keeps its data in other "
                       r"files \(\[.*elsewhere"):
        read_checkpoint(p)


# ---- shared containers ----------------------------------------------------------------------


def _i4(i: int) -> bytes:
    return i.to_bytes(4, "little")


def _dag_pickle(depth: int, leaf: bytes, *, filled_later: bool = False) -> bytes:
    """``{"a": l_depth}`` with ``l_0 = [leaf]``, ``l_i = [l_(i-1), l_(i-1)]``: 2**depth paths.

    ``filled_later``: every list is memoised empty and filled afterwards with APPENDS of memo
    references (the sizes seen when the lists were memoised stay 1).
    """
    out = b"\x80\x02(" + leaf + b"lr" + _i4(0) + b"0"
    if filled_later:
        out += b"".join(b"]r" + _i4(i) + b"0" for i in range(1, depth + 1))
        for i in range(1, depth + 1):
            get = b"j" + _i4(i - 1)
            out += b"j" + _i4(i) + b"(" + get + get + b"e0"
    else:
        for i in range(1, depth + 1):
            get = b"j" + _i4(i - 1)
            out += b"(" + get + get + b"lr" + _i4(i) + b"0"
    return out + b"}" + _u("a") + b"j" + _i4(depth) + b"s."


def _tuple_dag(depth: int) -> bytes:
    """``t_0 = (None,)``, ``t_i = (t_(i-1), t_(i-1))``, left on the stack."""
    out = b"N\x85r" + _i4(0) + b"0"
    for i in range(1, depth + 1):
        get = b"j" + _i4(i - 1)
        out += get + get + b"\x86r" + _i4(i) + b"0"
    return out + b"j" + _i4(depth)


@pytest.mark.timeout(30)
@pytest.mark.parametrize("where", ["dict-key", "storage-reference", "nested-lists"])
def test_pickle_bomb_of_shared_references(tmp_path, where):
    """A few hundred bytes of tuples (or lists) holding two references to the previous one
    describe 2**depth objects: hashing one as a dict key (inside the unpickler, in C),
    printing one in a message or walking one takes time doubling with each level (hours at
    depth 40). Refused by the pass before unpickling; depth 24 keeps a regression to seconds."""
    pkl = {"dict-key": b"\x80\x02}" + _tuple_dag(24) + _TENSOR + b"s.",
           "storage-reference": b"\x80\x02(" + _u("storage") + _tuple_dag(24) + b"tQ.",
           "nested-lists": _dag_pickle(24, b"N")}[where]
    p = tmp_path / "bomb.pt"
    p.write_bytes(_zip_with_records(pkl, _RECORDS))
    with pytest.raises(CorruptFileError, match=r"bomb\.pt: malformed pickle \(references to "
                       r"shared objects expand to \d+ objects by opcode \d+; a pickle bomb"):
        read_checkpoint(p)


@pytest.mark.timeout(10)  # 23 s before the fix, doubling with each level
def test_shared_containers_without_tensors_are_looked_at_once(tmp_path):
    """Lists memoised empty and filled later pass the pass before unpickling; 24 levels took
    23 s to find they hold no tensors, doubling with every level."""
    p = tmp_path / "dag.pt"
    p.write_bytes(_zip_with_records(_dag_pickle(24, b"N", filled_later=True), {}))
    with pytest.raises(BridgeError, match=r"dag\.pt: the checkpoint holds no tensors"):
        read_checkpoint(p)


def test_messages_print_shared_lists_briefly(tmp_path):
    """Lists memoised empty and filled later pass the pass before unpickling; printing 40
    levels of them in full would never end. Messages show three levels (reprlib)."""
    lists = _dag_pickle(12, b"N", filled_later=True)[2:].split(b"}" + _u("a"))[0]
    p = tmp_path / "ref.pt"
    p.write_bytes(_zip_with_records(b"\x80\x02(" + _u("storage") + lists + b"j" + _i4(12)
                                    + b"tQ.", {}))
    with pytest.raises(CorruptFileError, match=r"ref\.pt: malformed storage reference "
                       r"\('storage', \[\[\[\.\.\.\], \[\.\.\.\]\], "):
        read_checkpoint(p)


def test_shared_containers_expanding_past_the_entry_limit(tmp_path, monkeypatch):
    """With a tensor at the bottom every one of the 2**20 paths is a name: refused once the
    entries visited pass the limit (lowered here to keep the test fast)."""
    from stochthermo.bridge import _checkpoint

    monkeypatch.setattr(_checkpoint, "_MAX_ENTRIES", 1000)
    p = tmp_path / "dag.pt"
    p.write_bytes(_zip_with_records(_dag_pickle(20, _TENSOR, filled_later=True), _RECORDS))
    with pytest.raises(CorruptFileError, match=r"dag\.pt: the checkpoint's containers expand to "
                       "more than 1000 entries"):
        read_checkpoint(p)
    small = tmp_path / "small.pt"  # 2**3 names of one tensor: read as before
    small.write_bytes(_zip_with_records(_dag_pickle(3, _TENSOR), _RECORDS))
    assert len(read_checkpoint(small)) == 8


def test_folders_nested_past_the_recursion_limit(tmp_path):
    """os.walk recurses once per level: 1100 nested folders were a RecursionError (exit 1).

    Shown with 400 levels under a recursion limit of 300 (a tree deep enough for the default
    limit could not be removed by shutil.rmtree, which recurses the same way).
    """
    import sys

    from stochthermo.bridge import open_runs

    (tmp_path / "/".join(["d"] * 400)).mkdir(parents=True)
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(300)
    try:
        with pytest.raises(BridgeError, match="nested more than 64 levels deep"):
            open_runs(tmp_path)
    finally:
        sys.setrecursionlimit(limit)
