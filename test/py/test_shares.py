"""Moving ABY3 shares between SPU's 64- and 32-bit rings, on real SPU runtimes."""

import threading

import numpy as np
import pytest
import spu.api as spu_api
from spu import libspu

from ditto_compiler import DittoError
from ditto_compiler.ring import RingConfig
from ditto_compiler.runtime.channels import MemoryHub
from ditto_compiler.runtime.party import spu_runtime_config
from ditto_compiler.runtime.shares import arithmetic_ring, lift_words, reduce_words, share_words, with_words

LARGE, SMALL = RingConfig(64, 18), RingConfig(32, 8)
RNG = np.random.default_rng(5)


def run(ring, code, inputs):
    """Run PPHLO on per-party input shares; return per-party output shares (nothing revealed)."""
    exe = libspu.Executable(
        name="t", input_names=[f"i{j}" for j in range(len(inputs))], output_names=["o"], code=code.encode()
    )
    hub, outputs = MemoryHub(3, recv_timeout_s=30.0), [None] * 3

    def party(rank):
        runtime = spu_api.Runtime(hub.context(rank), spu_runtime_config(ring))
        for j, shares in enumerate(inputs):
            runtime.set_var(f"i{j}", shares[rank])
        runtime.run(exe)
        outputs[rank] = runtime.get_var("o")

    threads = [threading.Thread(target=party, args=(r,)) for r in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outputs


def program(n, body, arg, result):
    return (
        f'"builtin.module"() ({{ "func.func"() <{{function_type = ({arg}) -> {result}, sym_name = "main"}}> ({{\n'
        f"^bb0(%x: {arg}):\n{body}\n}}) : () -> () }}) : () -> ()"
    ).replace("N", str(n))


def test_words_round_trip():
    io = spu_api.Io(3, spu_runtime_config(LARGE))
    x = RNG.normal(size=7).astype(np.float32)
    shares = io.make_shares(x, libspu.Visibility.VIS_SECRET)
    assert [arithmetic_ring(s) for s in shares] == [64, 64, 64]
    rebuilt = [with_words(s, share_words(s)) for s in shares]
    np.testing.assert_array_equal(io.reconstruct(rebuilt), io.reconstruct(shares))
    # Replicated layout: party i's second word is party i+1's first.
    words = [share_words(s) for s in shares]
    assert all((words[i][:, 1] == words[(i + 1) % 3][:, 0]).all() for i in range(3))


def test_downcast_is_a_truncation_then_local_reduction():
    n = 64
    x = np.concatenate([RNG.uniform(-(2**20), 2**20, n - 4), [0.0, -1.0, 2**20 - 1, -(2**20)]]).astype(np.float32)
    large_io, small_io = spu_api.Io(3, spu_runtime_config(LARGE)), spu_api.Io(3, spu_runtime_config(SMALL))
    shares = large_io.make_shares(x, libspu.Visibility.VIS_SECRET)
    t = "tensor<Nx!pphlo.secret<f32>>"
    # Drop the surplus 10 fraction bits in the large ring: the raw value is then x at 8 bits.
    body = (
        f'%c = "pphlo.constant"() <{{value = dense<9.765625e-04> : tensor<Nxf32>}}> : () -> tensor<Nxf32>\n'
        f'%y = "pphlo.multiply"(%x, %c) : ({t}, tensor<Nxf32>) -> {t}\n"func.return"(%y) : ({t}) -> ()'
    )
    truncated = run(LARGE, program(n, body, t, t), [shares])
    small = [with_words(s, reduce_words(share_words(s), 32)) for s in truncated]
    got = small_io.reconstruct(small)
    np.testing.assert_allclose(got, x, atol=2.0**-SMALL.fraction_bits, rtol=0)


def test_generic_upcast_removes_the_wrap_exactly():
    n = 64
    x = np.concatenate([RNG.uniform(-(2**21), 2**21, n - 3), [0.0, 2**21, -(2**21)]]).astype(np.float32)
    large_io, small_io = spu_api.Io(3, spu_runtime_config(LARGE)), spu_api.Io(3, spu_runtime_config(SMALL))
    shares = small_io.make_shares(x, libspu.Visibility.VIS_SECRET)
    # Bias the raw value (as an integer: SPU's encoder would clamp a fixed-point 2^22 to 2^30 - 1)
    # so it is non-negative below 2^31; lifted words then sum to x + bias + w * 2^32, w in {0, 1, 2}.
    f, i32 = "tensor<Nx!pphlo.secret<f32>>", "tensor<Nx!pphlo.secret<i32>>"
    bias = (
        f'%r = "pphlo.bitcast_convert"(%x) : ({f}) -> {i32}\n'
        f'%b = "pphlo.constant"() <{{value = dense<1073741824> : tensor<Nxi32>}}> : () -> tensor<Nxi32>\n'
        f'%y = "pphlo.add"(%r, %b) : ({i32}, tensor<Nxi32>) -> {i32}\n"func.return"(%y) : ({i32}) -> ()'
    )
    biased = run(SMALL, program(n, bias, f, i32), [shares])
    lifted = [with_words(s, lift_words(share_words(s), 64), libspu.DataType.DT_I64) for s in biased]
    i64 = "tensor<Nx!pphlo.secret<i64>>"
    # In the large ring: mask to 32 bits (an exact A2B/B2A round trip), unbias, add 10 fraction bits.
    unwrap = (
        f'%m = "pphlo.constant"() <{{value = dense<4294967295> : tensor<Nxi64>}}> : () -> tensor<Nxi64>\n'
        f'%a = "pphlo.and"(%x, %m) : ({i64}, tensor<Nxi64>) -> {i64}\n'
        f'%b = "pphlo.constant"() <{{value = dense<1073741824> : tensor<Nxi64>}}> : () -> tensor<Nxi64>\n'
        f'%u = "pphlo.subtract"(%a, %b) : ({i64}, tensor<Nxi64>) -> {i64}\n'
        f'%s = "pphlo.constant"() <{{value = dense<1024> : tensor<Nxi64>}}> : () -> tensor<Nxi64>\n'
        f'%w = "pphlo.multiply"(%u, %s) : ({i64}, tensor<Nxi64>) -> {i64}\n'
        f'%y = "pphlo.bitcast_convert"(%w) : ({i64}) -> {f}\n"func.return"(%y) : ({f}) -> ()'
    )
    upcast = run(LARGE, program(n, unwrap, i64, f), [lifted])
    # Exact: the small ring's value, in the large ring (inputs were encoded with 8 fraction bits).
    np.testing.assert_array_equal(large_io.reconstruct(upcast), small_io.reconstruct(shares))


def test_boolean_shares_are_refused():
    io = spu_api.Io(3, spu_runtime_config(LARGE))
    n = 4
    shares = io.make_shares(np.arange(n, dtype=np.float32), libspu.Visibility.VIS_SECRET)
    f, b = "tensor<Nx!pphlo.secret<f32>>", "tensor<Nx!pphlo.secret<i1>>"
    body = (
        f'%c = "pphlo.constant"() <{{value = dense<1.5> : tensor<Nxf32>}}> : () -> tensor<Nxf32>\n'
        f'%y = "pphlo.less"(%x, %c) : ({f}, tensor<Nxf32>) -> {b}\n"func.return"(%y) : ({b}) -> ()'
    )
    flags = run(LARGE, program(n, body, f, b), [shares])
    meta = libspu.ValueMeta()
    meta.ParseFromString(flags[0].meta)
    if meta.storage_type.startswith("aby3.AShr"):
        pytest.skip(f"SPU returned comparison results as {meta.storage_type}")
    with pytest.raises(DittoError, match="expected an arithmetic ABY3 share"):
        share_words(flags[0])
