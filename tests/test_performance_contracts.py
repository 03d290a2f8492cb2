"""The contracts behind the performance work (issues 5 and 8), not timings: timings live in
bench/run.py. Initialisation skipping on meta must leave every build exactly as a plain meta
build; ending the process early must never lose output; cheap commands must stay cheap to
import."""

from __future__ import annotations

import importlib.util
import inspect
import json
import os
import subprocess
import sys
import textwrap

import pytest
import torch
from conftest import ROOT, SAMPLES, run_process, sample
from torch import nn

from paraminspect.loaders.fastmeta import meta_device_without_init, skip_meta_init
from paraminspect.tensors.walk import build_inventory

ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}


def _load_sample(name: str):
    spec = importlib.util.spec_from_file_location(f"_perf_{name}", SAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _fingerprint(model: nn.Module) -> dict:
    """Everything about a build that is not a value: names, types, shapes, strides, dtypes,
    requires_grad, devices, state_dict keys, and paraminspect's own records (kinds)."""
    inv = build_inventory(model)

    def tensor(t: torch.Tensor) -> tuple:
        return (type(t).__name__, tuple(t.shape), t.stride(), t.dtype, t.requires_grad, t.device.type)

    return {
        "parameters": [(n, tensor(p)) for n, p in model.named_parameters(remove_duplicate=False)],
        "buffers": [(n, tensor(b)) for n, b in model.named_buffers(remove_duplicate=False)],
        "state_dict": list(model.state_dict()),
        "modules": [(n, type(m).__qualname__) for n, m in model.named_modules()],
        "records": inv.tensors,
        "module_records": inv.modules,
        "references": inv.references,
        "totals": inv.totals,
    }


def _plain_and_fast(build) -> tuple[dict, dict]:
    """A plain meta build, and the fast one: both ways of skipping initialisers (the stacked
    modes and the single mode that loaders.build uses) must give the same model."""
    with torch.device("meta"):
        plain = build()
    with torch.device("meta"), skip_meta_init():
        stacked = build()
    with meta_device_without_init():
        merged = build()
    assert _fingerprint(merged) == _fingerprint(stacked)
    return _fingerprint(plain), _fingerprint(merged)


@pytest.mark.parametrize(
    "name", ["resnet18", "vit_tiny_patch16_224", "convnext_atto", "efficientnet_b0", "swin_tiny_patch4_window7_224"]
)
def test_timm_build_unchanged_by_init_skipping(name):
    import timm

    plain, fast = _plain_and_fast(lambda: timm.create_model(name, pretrained=False))
    assert plain["parameters"], name
    assert fast == plain


SAMPLE_FACTORIES = [
    ("tiny_vit", "build"),
    ("buffers", "build"),
    ("tied_embedding", "build"),
    ("frozen_backbone", "build"),
    ("unregistered_tensor", "build"),
    ("mlp", "build"),
    ("huge", "build"),
]


@pytest.mark.parametrize(("name", "attr"), SAMPLE_FACTORIES)
def test_sample_build_unchanged_by_init_skipping(name, attr):
    factory = getattr(_load_sample(name), attr)
    plain, fast = _plain_and_fast(factory)
    assert plain["parameters"]
    assert fast == plain


def _op_cases() -> list[tuple[str, object]]:
    """Calls that the mode intercepts, next to ones it must hand to torch unchanged."""
    return [
        ("normal_", lambda: torch.empty(3, 4).normal_(0.0, 0.02)),
        ("trunc_normal_", lambda: nn.init.trunc_normal_(torch.empty(5, 2), std=0.02)),
        ("kaiming_normal_", lambda: nn.init.kaiming_normal_(torch.empty(6, 3, 3, 3))),
        ("erfinv/clamp chain", lambda: torch.empty(4).uniform_(-1, 1).erfinv_().mul_(2.0).add_(1).clamp_(-2, 2)),
        ("randn * scale", lambda: torch.randn(2, 3, 4) * 0.02),
        ("scale * randn half", lambda: 0.5 * torch.randn(7, dtype=torch.float16)),
        ("randn / 0-dim tensor", lambda: torch.randn(3) / torch.tensor(2.0, dtype=torch.float64)),
        ("randint", lambda: torch.randint(0, 10, (3, 2))),
        ("randint float", lambda: torch.randint(10, (3,), dtype=torch.float16)),
        ("randn_like strided", lambda: torch.randn_like(torch.empty(3, 4).t())),
        ("rand_like bf16", lambda: torch.rand_like(torch.empty(2, 5), dtype=torch.bfloat16)),
        ("arange", lambda: torch.arange(3, 17, 4)),
        ("arange float dtype", lambda: torch.arange(10, dtype=torch.float32)),
        ("arange float bounds", lambda: torch.arange(0.0, 1.0, 0.3)),
        ("linspace", lambda: torch.linspace(0, 1, 9)),
        ("logspace f64", lambda: torch.logspace(0, 2, 3, dtype=torch.float64)),
        ("int tensor + 1", lambda: torch.zeros(3, dtype=torch.int64) + 1),
        ("int tensor * 0.5", lambda: torch.zeros(3, dtype=torch.int64) * 0.5),
        ("broadcasting add_", lambda: torch.empty(2, 3).add_(torch.empty(3))),
        ("channels_last mul", lambda: torch.empty(2, 3, 4, 5).to(memory_format=torch.channels_last) * 2.0),
    ]


@pytest.mark.parametrize(("label", "make"), _op_cases(), ids=[c[0] for c in _op_cases()])
def test_op_results_match_plain_meta(label, make):
    with torch.device("meta"):
        plain = make()
    with torch.device("meta"), skip_meta_init():
        fast = make()
    assert fast.is_meta
    assert (fast.shape, fast.stride(), fast.dtype, fast.requires_grad) == (
        plain.shape,
        plain.stride(),
        plain.dtype,
        plain.requires_grad,
    ), label


@pytest.mark.parametrize(
    ("label", "make"),
    [
        ("normal_ on an integer tensor", lambda: torch.zeros(3, dtype=torch.int64).normal_()),
        ("in-place op on a leaf that requires grad", lambda: nn.Parameter(torch.empty(3)).normal_()),
        ("add_ that cannot broadcast", lambda: torch.empty(2, 3).add_(torch.empty(2))),
        ("randn with an integer dtype", lambda: torch.randn(3, dtype=torch.int64)),
        ("arange with a step of the wrong sign", lambda: torch.arange(0, 10, -1)),
    ],
)
def test_errors_are_those_of_a_plain_meta_build(label, make):
    with pytest.raises(Exception) as plain, torch.device("meta"):
        make()
    with pytest.raises(Exception) as fast, torch.device("meta"), skip_meta_init():
        make()
    assert (type(fast.value), str(fast.value)) == (type(plain.value), str(plain.value)), label
    with pytest.raises(Exception) as merged, meta_device_without_init():
        make()
    assert (type(merged.value), str(merged.value)) == (type(plain.value), str(plain.value)), label


def test_in_place_ops_still_seen_by_autograd_bookkeeping():
    """Both ways: through the dispatch mode, and answered by the function mode itself (a
    plain-scalar in-place method on meta, with no grad to record)."""
    plain = torch.empty(4, device="meta")
    plain.normal_()
    plain.mul_(2.0)
    fast = torch.empty(4, device="meta")
    with skip_meta_init():
        result = fast.normal_()
        fast.mul_(2.0)
    assert result is fast
    assert fast._version == plain._version
    merged = torch.empty(4, device="meta")
    with meta_device_without_init():
        result = merged.normal_()
        merged.mul_(2.0)
        weight = nn.Parameter(torch.empty(4))
        with torch.no_grad():
            same = weight.uniform_(-1, 1)
        grown = torch.empty(4).requires_grad_().mul(1.0).add_(1.0)  # recorded by autograd
    assert result is merged and same is weight
    assert merged._version == plain._version and weight._version == 1
    assert grown.grad_fn is not None and type(grown.grad_fn).__name__ == "AddBackward0"


def test_tensors_off_meta_are_untouched():
    generator = torch.Generator().manual_seed(0)
    expected = torch.empty(5).uniform_(generator=generator) * 3 + 1
    generator.manual_seed(0)
    with torch.device("meta"), skip_meta_init():
        got = torch.empty(5, device="cpu").uniform_(generator=generator) * 3 + 1
        steps = torch.arange(4, device="cpu")
    assert torch.equal(got, expected)
    assert steps.tolist() == list(range(4))


def test_huge_sample_is_a_70b_decoder_from_its_config():
    huge = _load_sample("huge")
    config = {n: p.default for n, p in inspect.signature(huge.Decoder).parameters.items()}
    assert (config["layers"], config["dim"], config["hidden"], config["vocab"]) == (80, 8192, 28_672, 128_256)
    with torch.device("meta"), skip_meta_init():
        model = huge.build()
    d, kv = config["dim"], config["dim"] // config["heads"] * config["kv_heads"]
    per_layer = 2 * d + 2 * d * d + 2 * d * kv + 3 * d * config["hidden"]
    expected = 2 * config["vocab"] * d + d + config["layers"] * per_layer
    assert sum(p.numel() for p in model.parameters()) == expected
    assert 69e9 < expected < 72e9
    assert all(t.is_meta for t in model.state_dict().values())
    assert [n for n, _ in model.named_buffers()] == ["rotary.inv_freq"]
    assert "rotary.inv_freq" not in model.state_dict()


@pytest.mark.parametrize("tensors", [1, 10, 11])
def test_build_many_holds_exactly_that_many_tensors(tensors):
    huge = _load_sample("huge")
    assert inspect.signature(huge.build_many).parameters["tensors"].default == 50_000
    with torch.device("meta"):
        model = huge.build_many(tensors)
    assert len(build_inventory(model).tensors) == tensors


# --- whole processes ---------------------------------------------------------------------------


def _run_python(code: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**ENV, **(env or {})},
        timeout=300,
    )


def test_meta_build_does_not_import_dynamo():
    """One process builds the samples one after another and says after each what it holds:
    a module imported by any build stays in sys.modules, so each line covers that build."""
    names = ["huge", "tiny_vit", "buffers"]
    proc = _run_python(
        """
        import sys
        from paraminspect.loaders.dispatch import load
        for spec in sys.argv[1:]:
            loaded = load(spec)
            heavy = sorted(m for m in ("torch._dynamo", "sympy") if m in sys.modules)
            print(loaded.build_device, heavy)
        """,
        *(sample(name) for name in names),
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["meta []"] * len(names), (names, proc.stdout)


def _imported(*args: str) -> set[str]:
    """Top-level packages a real `python -m paraminspect ...` process and its model's child
    process import (-X importtime lists every module at its first import, whatever imported it)."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "paraminspect", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=ENV,
        timeout=300,
    )
    assert proc.returncode in (0, 1), proc.stderr[-2000:]
    names = set()
    for line in proc.stderr.splitlines():
        line = line.removeprefix("model output: ")  # the model's child process writes its own list
        if line.startswith("import time:") and line.count("|") == 2:
            names.add(line.rsplit("|", 1)[1].strip().split(".")[0])
    assert "paraminspect" in names
    return names


@pytest.mark.parametrize("args", [["--help"], ["rules"], ["explain", "PI001"], ["show", "--help"]])
def test_cheap_commands_import_neither_torch_nor_timm(args):
    assert not {"torch", "timm"} & _imported(*args)


@pytest.mark.parametrize(
    "args",
    [
        ["show", sample("mlp")],
        ["show", sample("mlp"), "-f", "json"],
        ["show", sample("mlp"), "--depth", "1", "-f", "markdown"],
        ["check", sample("unregistered_tensor")],
        ["check", sample("unregistered_tensor"), "-f", "sarif"],
    ],
)
def test_factory_path_does_not_import_timm(args):
    imported = _imported(*args)
    assert "torch" in imported
    assert "timm" not in imported and "torchvision" not in imported


def test_piped_output_complete_when_the_process_ends_early(cli):
    expected = cli("show", "vit_base_patch16_224", "--no-collapse")  # every row: a long output
    assert expected.code == 0
    piped = run_process("show", "vit_base_patch16_224", "--no-collapse")
    assert piped.code == 0, piped.err
    assert len(piped.out) > 16_384  # several pipe/stdio buffers: the tail must be flushed
    assert piped.out == expected.out


def test_output_file_complete_when_the_process_ends_early(cli, tmp_path):
    expected = cli("show", "vit_base_patch16_224", "-f", "json")
    written = tmp_path / "vit.json"
    result = run_process("show", "vit_base_patch16_224", "-f", "json", "-o", str(written))
    assert result.code == 0, result.err
    assert result.out == ""
    assert written.read_text(encoding="utf-8") == expected.out
    assert json.loads(expected.out)["resolved"] == "timm:vit_base_patch16_224"


def test_exit_codes_survive_the_early_exit():
    assert run_process("check", sample("unregistered_tensor")).code == 1
    assert run_process("show", "no_such_model_anywhere_xyz").code == 2
    assert run_process("rules").code == 0


_ATEXIT_PROBE = """
    import atexit, sys
    atexit.register(lambda: sys.stderr.write("atexit ran\\n"))
    sys.argv = ["paraminspect", "rules"]
    from paraminspect.cli import entry
    entry()
"""


def test_entry_ends_the_process_without_teardown_unless_told_not_to():
    fast = _run_python(_ATEXIT_PROBE)
    assert fast.returncode == 0 and "PI001" in fast.stdout
    assert "atexit ran" not in fast.stderr
    normal = _run_python(_ATEXIT_PROBE, env={"PARAMINSPECT_NO_FAST_EXIT": "1"})
    assert normal.returncode == 0 and normal.stdout == fast.stdout
    assert "atexit ran" in normal.stderr


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (("show", sample("huge", "build_many"), "-a", "tensors=4000"), 0),
        (("show", sample("huge", "build_many"), "-a", "tensors=4000", "-f", "json"), 0),
        (("check", sample("ci_example")), 1),
        (("rules",), 0),
    ],
)
def test_broken_pipe_is_quiet_and_keeps_the_exit_code(args, code):
    proc = subprocess.Popen(
        [sys.executable, "-m", "paraminspect", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
        env=ENV,
    )
    first = proc.stdout.readline()
    proc.stdout.close()  # the reader goes away, like `| head -1`
    err = proc.stderr.read().decode()
    proc.stderr.close()
    # the exit code reports the result, not the reader (click/rich would say 1)
    assert proc.wait(timeout=300) == code
    assert first.strip()
    assert "Traceback" not in err and "Exception ignored" not in err and "Error" not in err


def test_single_meta_mode_is_the_default_device_and_nests():
    """meta_device_without_init stands in for `torch.device("meta")`: torch reports meta as
    the default device, a factory's own `with torch.device("cpu")` block still builds on CPU,
    an explicit device wins, and the collector is running again afterwards."""
    import gc

    assert gc.isenabled()
    with meta_device_without_init():
        assert torch.get_default_device().type == "meta"
        assert not gc.isenabled()
        assert torch.empty(2).device.type == "meta"
        with torch.device("cpu"):
            assert torch.zeros(2).device.type == "cpu"
        assert nn.Linear(3, 2).weight.device.type == "meta"
        assert torch.ones(2, device="cpu").device.type == "cpu"
    assert gc.isenabled()
    assert torch.empty(2).device.type == "cpu"
    with pytest.raises(ValueError), meta_device_without_init():
        raise ValueError("a failing build")
    assert gc.isenabled() and torch.empty(1).device.type == "cpu"


def test_no_collector_pass_while_a_checked_model_is_alive():
    """check_task keeps the collector paused from the build to the end of the checks (each
    pass would rescan the whole young model), and leaves it as it found it."""
    import gc

    from paraminspect.commands.check import check_in_child as check_task

    passes_during_check = []

    def count(phase: str, info: dict) -> None:
        frame = sys._getframe(1)
        while phase == "start" and frame is not None:
            if frame.f_code.co_name == "check_model":
                passes_during_check.append(info["generation"])
            frame = frame.f_back

    spec = f"{SAMPLES / 'huge.py'}:build_many"
    check_task(spec, kwargs={"tensors": 10})  # imports done before counting
    gc.callbacks.append(count)
    try:
        result = check_task(spec, kwargs={"tensors": 4000})
    finally:
        gc.callbacks.remove(count)
    assert result.error is None and result.findings == ()
    assert passes_during_check == []
    assert gc.isenabled()


def _write_into_no_grad_view(t: torch.Tensor) -> None:
    t.requires_grad_()
    with torch.no_grad():
        view = t[0]
    view[1, 2] = 1.0  # autograd refuses: a view made under no_grad, written with grad on


_SETITEM_ERRORS = [
    ("a view made under no_grad", _write_into_no_grad_view),
    ("index out of range", lambda t: t.__setitem__((7, 0, 0), 1)),
    ("negative index out of range", lambda t: t.__setitem__(-5, 1.0)),
    ("too many indices", lambda t: t.__setitem__((1, 2, 3, 4), 1)),
    ("an int torch cannot unpack", lambda t: t.__setitem__(0, 10**30)),
    ("an index into a 0-dim tensor", lambda t: t[0, 0, 0].__setitem__(0, 1)),
    ("a leaf that requires grad", lambda t: nn.Parameter(t).__setitem__(0, 1.0)),
]


@pytest.mark.parametrize(("label", "fill"), _SETITEM_ERRORS, ids=[c[0] for c in _SETITEM_ERRORS])
def test_element_writes_fail_as_on_plain_meta(label, fill):
    """`t[i, j] = number` is answered by the mode only where torch would do nothing else."""
    with pytest.raises(Exception) as plain, torch.device("meta"):
        fill(torch.zeros(4, 5, 6))
    for mode in (skip_meta_init, meta_device_without_init):
        with pytest.raises(Exception) as fast, torch.device("meta"), mode():
            fill(torch.zeros(4, 5, 6))
        assert (type(fast.value), str(fast.value)) == (type(plain.value), str(plain.value)), label


def test_element_writes_bump_versions_and_keep_autograd():
    def fill(table: torch.Tensor) -> torch.Tensor:
        for i in range(4):
            table[i, -1] = 1
            table[i] = 0.5
        table[(2, 3)] = True
        grown = torch.zeros(3, requires_grad=True) * 1.0
        grown[0] = 2.0  # recorded by autograd: torch's own path
        return grown

    with torch.device("meta"):
        plain = torch.zeros(4, 5, 6)
        plain_grown = fill(plain)
    for mode in (skip_meta_init, meta_device_without_init):
        with torch.device("meta"), mode():
            fast = torch.zeros(4, 5, 6)
            fast_grown = fill(fast)
        assert fast._version == plain._version == 9
        assert type(fast_grown.grad_fn).__name__ == type(plain_grown.grad_fn).__name__ == "CopySlices"
