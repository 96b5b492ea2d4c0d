"""Checkpoint and scalar readers against fixture files made by torch/safetensors/tensorboard."""

import io
import os
import pathlib
import pickle
import struct
import zipfile

import numpy as np
import pytest

from stochthermo.bridge import checkpoint_layout, read_checkpoint, read_scalars
from stochthermo.bridge._scalars import crc32c, masked_crc32c
from stochthermo.errors import BridgeError, CorruptFileError, UnsafeFileError, ValidationError

FIX = os.path.join(os.path.dirname(__file__), "fixtures", "bridge")
EXPECTED = dict(np.load(os.path.join(FIX, "expected.npz")))


def fix(name):
    return os.path.join(FIX, name)


def same_bits(a, b):
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


@pytest.mark.parametrize("name", ["zoo_zip.pt", "zoo_legacy.pt"])
def test_dtype_zoo_bit_for_bit(name):
    sd = read_checkpoint(fix(name))
    zoo = {k[4:]: v for k, v in EXPECTED.items() if k.startswith("zoo/")}
    assert list(sd) == list(zoo)
    for k, v in sd.items():
        assert same_bits(v, zoo[k]), k
        assert v.flags.c_contiguous and v.flags.writeable
    assert sd["bf16"].dtype == np.float32
    # views of one storage are independent arrays
    sd["transposed"][0, 0] = -1.0
    assert sd["row"][0] == zoo["row"][0]


def test_wrapper_default_key_and_explicit_key():
    sd = read_checkpoint(fix("wrapper_zip.pt"))
    mlp = {k[4:]: v for k, v in EXPECTED.items() if k.startswith("mlp/")}
    assert list(sd) == list(mlp)
    for k in sd:
        assert same_bits(sd[k], mlp[k])
    assert read_checkpoint(fix("wrapper_zip.pt"), key="model").keys() == sd.keys()
    mom = read_checkpoint(fix("wrapper_zip.pt"), key="optimizer/state")
    assert set(mom) == {f"{i}.momentum_buffer" for i in range(6)}
    with pytest.raises(ValidationError, match="key='nope'"):
        read_checkpoint(fix("wrapper_zip.pt"), key="nope")
    lay = checkpoint_layout(fix("wrapper_zip.pt"))
    assert lay["0.weight"] == ((6, 4), np.dtype(np.float32))


def test_parameter_list_and_safetensors():
    sd = read_checkpoint(fix("params_list.pt"))
    assert same_bits(sd["0"], EXPECTED["mlp/0.weight"])
    assert same_bits(sd["5"], EXPECTED["mlp/4.bias"])
    st = read_checkpoint(fix("weights.safetensors"))
    assert same_bits(st["w"], EXPECTED["zoo/f32"])
    assert same_bits(st["h"], EXPECTED["zoo/f16"])
    assert same_bits(st["b"], EXPECTED["zoo/bf16"])
    assert same_bits(st["i"], EXPECTED["zoo/i64"])


def test_safetensors_matches_the_package():
    safetensors = pytest.importorskip("safetensors")

    st = read_checkpoint(fix("weights.safetensors"))
    with safetensors.safe_open(fix("weights.safetensors"), framework="numpy") as f:
        for k in ("w", "h", "i"):
            assert same_bits(st[k], f.get_tensor(k))


def test_npy_npz_hdf5(tmp_path):
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    np.save(tmp_path / "a.npy", a)
    np.savez(tmp_path / "b.npz", w=a, b=a[0].astype(np.float64))
    assert same_bits(read_checkpoint(tmp_path / "a.npy")["array"], a)
    sd = read_checkpoint(tmp_path / "b.npz")
    assert same_bits(sd["w"], a) and same_bits(sd["b"], a[0].astype(np.float64))
    np.save(tmp_path / "o.npy", np.array([{"x": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(UnsafeFileError):
        read_checkpoint(tmp_path / "o.npy")
    h5py = pytest.importorskip("h5py")
    with h5py.File(tmp_path / "c.h5", "w") as f:
        f["layer/w"] = a
    assert same_bits(read_checkpoint(tmp_path / "c.h5")["layer.w"], a)


# ---- hostile and broken files ------------------------------------------------------------


class _Payload:
    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (open, (self.target, "w"))


def _torch_zip_with(data_pkl: bytes, extra=()):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("archive/data.pkl", data_pkl)
        z.writestr("archive/byteorder", "little")
        for name, data in extra:
            z.writestr(name, data)
    return buf.getvalue()


def test_reduce_payload_is_refused_and_not_run(tmp_path):
    target = tmp_path / "pwned"
    payload = pickle.dumps({"w": _Payload(str(target))}, protocol=2)
    for name, data in [
        ("zip.pt", _torch_zip_with(payload)),
        ("legacy.pt", pathlib.Path(fix("zoo_legacy.pt")).read_bytes()[:15] + payload),
    ]:
        p = tmp_path / name
        p.write_bytes(data)
        with pytest.raises(UnsafeFileError, match="builtins.open|io.open"):
            read_checkpoint(p)
        assert not target.exists()
    assert sorted(os.listdir(tmp_path)) == ["legacy.pt", "zip.pt"]


def test_global_outside_allow_list(tmp_path):
    data = b"\x80\x02cos\nsystem\nq\x00X\x04\x00\x00\x00trueq\x01\x85q\x02Rq\x03."
    p = tmp_path / "g.pt"
    p.write_bytes(_torch_zip_with(data))
    with pytest.raises(UnsafeFileError, match="os.system"):
        read_checkpoint(p)
    p.write_bytes(_torch_zip_with(pickle.dumps({"w": np.float64(1.0)}, protocol=2)))
    with pytest.raises(UnsafeFileError, match="numpy"):
        read_checkpoint(p)


def test_zip_member_with_dotdot(tmp_path):
    raw = pathlib.Path(fix("zoo_zip.pt")).read_bytes()
    buf = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(raw)) as src, zipfile.ZipFile(buf, "w") as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info.filename))
        dst.writestr("zoo_zip/../../evil", b"x")
    p = tmp_path / "dots.pt"
    p.write_bytes(buf.getvalue())
    with pytest.raises(UnsafeFileError, match=r"\.\."):
        read_checkpoint(p)


def _rezip(src_path, drop=None, replace=None):
    buf = io.BytesIO()
    with zipfile.ZipFile(src_path) as src, zipfile.ZipFile(buf, "w") as dst:
        for info in src.infolist():
            if drop and info.filename.endswith(drop):
                continue
            data = src.read(info.filename)
            if replace and info.filename.endswith(replace[0]):
                data = replace[1](data)
            dst.writestr(info.filename, data)
    return buf.getvalue()


def test_missing_and_short_storage_records(tmp_path):
    p = tmp_path / "x.pt"
    p.write_bytes(_rezip(fix("zoo_zip.pt"), drop="/data/0"))
    with pytest.raises(CorruptFileError, match="missing"):
        read_checkpoint(p)
    p.write_bytes(_rezip(fix("zoo_zip.pt"), replace=("/data/0", lambda d: d[:-4])))
    with pytest.raises(CorruptFileError, match="too short"):
        read_checkpoint(p)
    raw = pathlib.Path(fix("zoo_legacy.pt")).read_bytes()
    p.write_bytes(raw[:-3])
    with pytest.raises(CorruptFileError):
        read_checkpoint(p)


@pytest.mark.parametrize("make", [
    lambda raw: b"",
    lambda raw: raw[: len(raw) // 2],
    lambda raw: raw[:100],
    lambda raw: np.random.default_rng(0).bytes(4096),
    lambda raw: b"PK\x03\x04" + np.random.default_rng(1).bytes(500),
    lambda raw: b"\x80\x02" + np.random.default_rng(2).bytes(500),
])
@pytest.mark.parametrize("name", ["zoo_zip.pt", "zoo_legacy.pt", "weights.safetensors"])
def test_broken_files_raise_bridge_errors(tmp_path, make, name):
    raw = pathlib.Path(fix(name)).read_bytes()
    p = tmp_path / "broken.pt"
    p.write_bytes(make(raw))
    with pytest.raises(BridgeError):
        read_checkpoint(p)
    assert os.listdir(tmp_path) == ["broken.pt"]


def test_corrupted_storage_fails_crc(tmp_path):
    raw = bytearray(pathlib.Path(fix("zoo_zip.pt")).read_bytes())
    with zipfile.ZipFile(fix("zoo_zip.pt")) as z:
        info = z.getinfo("zoo_zip/data/0")
        n_name, n_extra = struct.unpack("<HH", raw[info.header_offset + 26:info.header_offset + 30])
        start = info.header_offset + 30 + n_name + n_extra
    raw[start] ^= 0xFF
    p = tmp_path / "crc.pt"
    p.write_bytes(bytes(raw))
    with pytest.raises(CorruptFileError, match="CRC"):
        read_checkpoint(p, verify=True)
    assert read_checkpoint(p)["f32"].shape == (4, 6)  # structure intact, checksum not asked


# ---- scalars ------------------------------------------------------------------------------


def test_crc32c_known_value():
    assert crc32c(b"123456789") == 0xE3069283
    assert masked_crc32c(b"") == (((0 >> 15) | (0 << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def test_tensorboard_equals_csv_builtin():
    tb = read_scalars(fix("events.out.tfevents.fixture"))
    cs = read_scalars(fix("scalars.csv"))
    assert set(tb) == set(cs) == {"loss", "accuracy"}
    for k in cs:
        assert np.array_equal(tb[k][0], cs[k][0]) and np.array_equal(tb[k][1], cs[k][1])


def test_tensorboard_package_route():
    pytest.importorskip("tensorboard")
    tb = read_scalars(fix("events.out.tfevents.fixture"), backend="tensorboard")
    cs = read_scalars(fix("scalars.csv"))
    for k in cs:
        assert np.array_equal(tb[k][0], cs[k][0]) and np.array_equal(tb[k][1], cs[k][1])


def test_tfevents_corruption_detected(tmp_path):
    raw = bytearray(pathlib.Path(fix("events.out.tfevents.fixture")).read_bytes())
    raw[len(raw) // 2] ^= 0x01
    p = tmp_path / "events.out.tfevents.bad"
    p.write_bytes(bytes(raw))
    with pytest.raises(CorruptFileError, match="CRC32C"):
        read_scalars(p)
    p.write_bytes(bytes(raw[:37]))
    with pytest.raises(CorruptFileError):
        read_scalars(p)


def test_jsonl_and_long_csv(tmp_path):
    (tmp_path / "a.jsonl").write_text(
        '{"step": 2, "loss": 0.5}\n{"step": 1, "loss": 0.7, "acc": 0.1}\n\n')
    s = read_scalars(tmp_path / "a.jsonl")
    assert s["loss"][0].tolist() == [1, 2] and s["loss"][1].tolist() == [0.7, 0.5]
    assert s["acc"][1].tolist() == [0.1]
    (tmp_path / "b.csv").write_text("step,tag,value\n0,loss,1.5\n0,acc,0.2\n5,loss,1.0\n")
    s = read_scalars(tmp_path / "b.csv")
    assert s["loss"][0].tolist() == [0, 5] and s["acc"][1].tolist() == [0.2]
    with pytest.raises(BridgeError):
        read_scalars(tmp_path / "missing.csv")
    with pytest.raises(ValidationError, match="backend"):
        read_scalars(tmp_path / "b.csv", backend="nope")
