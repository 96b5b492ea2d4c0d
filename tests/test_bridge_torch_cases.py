"""What torch.load(weights_only=True) reads, read without torch: files from the fixture script.

``tests/fixtures/make_bridge_fixtures.py --torch-cases`` wrote every ``tc_*`` file with
PyTorch and the values torch reads back into ``expected_torch.npz``.
"""

import io
import os
import pickle
import zipfile

import numpy as np
import pytest

from stochthermo.bridge import read_checkpoint
from stochthermo.bridge._checkpoint import open_checkpoint
from stochthermo.bridge._dtypes import FLOAT8_FORMATS, widen
from stochthermo.bridge._pickle import TorchValue
from stochthermo.errors import BridgeError, CorruptFileError, UnsafeFileError

FIX = os.path.join(os.path.dirname(__file__), "fixtures", "bridge")
EXPECTED = dict(np.load(os.path.join(FIX, "expected.npz")))
TORCH = dict(np.load(os.path.join(FIX, "expected_torch.npz")))


def fix(name):
    return os.path.join(FIX, name)


def same_bits(a, b):
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


@pytest.mark.parametrize("name", ["tc_legacy_p4.pt", "tc_legacy_p5.pt", "tc_nocrc.pt"])
def test_legacy_protocols_4_5_and_files_without_checksums(name):
    sd = read_checkpoint(fix(name))
    zoo = {k[4:]: v for k, v in EXPECTED.items() if k.startswith("zoo/")}
    assert list(sd) == list(zoo)
    for k, v in sd.items():
        assert same_bits(v, zoo[k]), k


def test_nocrc_verify_names_the_missing_checksums():
    with pytest.raises(CorruptFileError, match="compute_crc32=False"):
        read_checkpoint(fix("tc_nocrc.pt"), verify=True)
    assert read_checkpoint(fix("zoo_zip.pt"), verify=True)  # real checksums pass


@pytest.mark.parametrize("name", ["tc_narrow.pt", "tc_narrow_legacy.pt"])
def test_float8_unsigned_and_complex32_match_torch(name):
    sd = read_checkpoint(fix(name))
    want = {k[7:]: v for k, v in TORCH.items() if k.startswith("narrow/")}
    assert list(sd) == list(want)
    for k, v in sd.items():
        w = want[k]
        assert v.dtype == w.dtype and v.shape == w.shape, k
        if k.startswith("all_"):  # every code, NaNs included (their payload is not kept)
            assert np.array_equal(v, w, equal_nan=True), k
            assert np.array_equal(np.isnan(v), np.isnan(w))
        else:
            assert same_bits(v, w), k
    assert sd["float8_e4m3fn"].dtype == np.float32 and sd["complex32"].dtype == np.complex64
    assert sd["uint64"].dtype == np.uint64 and sd["uint64"][1] == 2**62


def test_float8_tables_match_ml_dtypes():
    ml_dtypes = pytest.importorskip("ml_dtypes")
    codes = np.arange(256, dtype=np.uint8)
    for name in FLOAT8_FORMATS:
        ref = codes.view(getattr(ml_dtypes, name)).astype(np.float32)
        got = widen(name, codes)
        assert np.array_equal(got, ref, equal_nan=True), name
        assert np.array_equal(np.isnan(got), np.isnan(ref)), name
    assert widen("float8_e4m3fn", np.array([0x7E], np.uint8))[0] == 448.0
    assert widen("float8_e5m2", np.array([0x7C], np.uint8))[0] == np.inf


def test_benign_values_are_inert_and_skipped():
    for name in ("tc_benign.pt", "tc_benign_legacy.pt"):
        sd = read_checkpoint(fix(name))
        assert list(sd) == ["w"] and same_bits(sd["w"], TORCH["benign/w"])
        with open_checkpoint(fix(name)) as ck:
            tree = ck.tree
            assert ck.stored_step() == 3
        assert tree["bytes"] == b"\x00\xffab" and tree["bytearray"] == bytearray(b"xyz")
        assert tree["complex"] == 1 + 2j
        assert tree["layout"] == TorchValue("torch.strided")
        assert tree["qscheme"] == TorchValue("torch.per_tensor_affine")
        assert repr(tree["dtype"]) == "torch.float16"


def test_no_tensor_dropped_silently():
    with pytest.raises(BridgeError, match=r"\[1\] and the entry \['1'\]"):
        read_checkpoint(fix("tc_collide_int.pt"))
    with pytest.raises(BridgeError, match=r"\['x.y'\] and the entry \['x'\]\['y'\]"):
        read_checkpoint(fix("tc_collide_dot.pt"))
    assert read_checkpoint(fix("tc_collide_dot.pt"), key="x")["y"].shape == (3,)
    ema = read_checkpoint(fix("tc_ema.pt"))
    assert sorted(ema) == ["ema.w", "w"]
    assert same_bits(ema["w"], TORCH["ones2"]) and same_bits(ema["ema.w"], TORCH["zeros3"])
    lst = read_checkpoint(fix("tc_model_list.pt"))
    assert list(lst) == ["model.0", "model.1"]
    assert same_bits(lst["model.1"], TORCH["zeros3"])
    assert list(read_checkpoint(fix("tc_model_list.pt"), key="model")) == ["0", "1"]


@pytest.mark.parametrize("name, kind", [("tc_quantized.pt", "quantized"),
                                        ("tc_sparse.pt", "sparse"), ("tc_nested.pt", "nested")])
def test_tensors_without_numpy_meaning_are_refused_by_kind(name, kind):
    with pytest.raises(BridgeError, match=f"{kind} tensor"):
        read_checkpoint(fix(name))


def test_safetensors_complex64_and_float8():
    sd = read_checkpoint(fix("tc_narrow.safetensors"))
    for k in ("c64", "f8_e4m3", "f8_e5m2"):
        assert same_bits(sd[k], TORCH[f"st/{k}"]), k
    safetensors = pytest.importorskip("safetensors")
    with safetensors.safe_open(fix("tc_narrow.safetensors"), framework="numpy") as f:
        assert same_bits(sd["c64"], f.get_tensor("c64"))


def _zip_with(data_pkl: bytes):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("archive/data.pkl", data_pkl)
    return buf.getvalue()


@pytest.mark.parametrize("payload, err", [
    (b"\x80\x02c_codecs\nencode\nX\x01\x00\x00\x00aX\x05\x00\x00\x00rot13\x86R.",
     CorruptFileError),
    (b"\x80\x02c__builtin__\nbytearray\nK\x05\x85R.", CorruptFileError),
    (b"\x80\x02ctorch.serialization\n_get_layout\nX\x02\x00\x00\x00os\x85R.", CorruptFileError),
    (b"\x80\x02cbuiltins\neval\nX\x01\x00\x00\x001\x85R.", UnsafeFileError),
    (b"\x80\x02c_codecs\ndecode\nX\x01\x00\x00\x00a\x85R.", UnsafeFileError),
])
def test_benign_globals_accept_only_benign_arguments(tmp_path, payload, err):
    p = tmp_path / "h.pt"
    p.write_bytes(_zip_with(payload))
    with pytest.raises(err):
        read_checkpoint(p)


def test_legacy_header_of_other_protocols_is_not_mistaken(tmp_path):
    p = tmp_path / "plain.pt"
    p.write_bytes(pickle.dumps({"w": 1}, protocol=4))
    with pytest.raises(CorruptFileError, match="unknown checkpoint format"):
        read_checkpoint(p)
