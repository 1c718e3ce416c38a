"""Export from JAX, import into xDSL, and argument checking at run time."""

import struct

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from xdsl.dialects.builtin import NameLoc

import ditto_compiler
from ditto_compiler import DittoError
from ditto_compiler.frontend.importer import parse_module, prepare_stablehlo_text
from ditto_compiler.frontend.jax_export import export_stablehlo, public_mask

ARGS = ({"w": np.zeros((2, 3)), "b": np.zeros(3)}, np.zeros(4), [np.zeros(1), np.zeros(2)])


@pytest.mark.parametrize(
    "public, expected",
    [
        (None, [False] * 5),
        ([1], [False, False, True, False, False]),
        ((True, False, False), [True, True, False, False, False]),
        (({"w": True, "b": False}, False, [False, True]), [False, True, False, False, True]),
    ],
)
def test_public_mask(public, expected):
    # Leaves in tree order: b, w (dict keys sort), x, list[0], list[1].
    assert public_mask(ARGS, public) == expected


def test_public_mask_rejects_bad_prefix():
    with pytest.raises(DittoError, match="pytree prefix"):
        public_mask(ARGS, (True, False))
    with pytest.raises(DittoError, match="out of range"):
        public_mask(ARGS, [3])


def _constant_values(module):
    op = next(o for o in module.walk() if o.name == "stablehlo.constant")
    return op.value.get_values()


def test_hex_floats_are_bit_exact():
    text = '"builtin.module"() ({ %0 = "stablehlo.constant"() <{value = dense<[0xFF800000, 0x7FC00000, 0x3F800000]> : tensor<3xf32>}> : () -> tensor<3xf32> }) : () -> ()'
    values = _constant_values(parse_module(text))
    assert values[0] == -np.inf and np.isnan(values[1]) and values[2] == 1.0


def test_splat_hex_float():
    text = '"builtin.module"() ({ %0 = "stablehlo.constant"() <{value = dense<0xFF800000> : tensor<2x2xf32>}> : () -> tensor<2x2xf32> }) : () -> ()'
    assert list(_constant_values(parse_module(text))) == [-np.inf] * 4


def test_integer_hex_is_left_alone():
    text = prepare_stablehlo_text("dense<0x10> : tensor<i32>")
    assert text == "dense<0x10> : tensor<i32>"


def test_jax_export_with_locations_imports():
    def f(x):
        return jnp.max(jnp.tanh(x), axis=-1)

    text, sig = export_stablehlo(f, (np.ones((2, 3), np.float32),))
    assert "#loc" in text and "0xFF800000" in text  # what xDSL could not take as-is
    module = parse_module(text)
    names = [o.location.desc.data for o in module.walk() if isinstance(o.location, NameLoc)]
    assert any(n.endswith("/tanh") for n in names)
    assert sig.shapes == ((2, 3),)


def test_dense_resource_blob():
    blob = "0x04000000" + struct.pack("<2f", 1.5, -2.0).hex()
    text = (
        '"builtin.module"() ({ %0 = "stablehlo.constant"() <{value = dense_resource<w> : tensor<2xf32>}> : () -> tensor<2xf32> }) : () -> ()\n'
        f'{{-#\n  dialect_resources: {{\n    builtin: {{\n      w: "{blob}"\n    }}\n  }}\n#-}}\n'
    )
    assert list(_constant_values(parse_module(text))) == [1.5, -2.0]


def test_elided_resource_is_reported():
    text = '"builtin.module"() ({ %0 = "stablehlo.constant"() <{value = dense_resource<__elided__> : tensor<2xf32>}> : () -> tensor<2xf32> }) : () -> ()\n{-#\n dialect_resources: { builtin: { } }\n#-}\n'
    with pytest.raises(DittoError, match="has no data"):
        parse_module(text)


def test_malformed_ir_is_a_ditto_error():
    with pytest.raises(DittoError, match="malformed IR"):
        parse_module(
            '"builtin.module"() ({ %0 = "stablehlo.add"(%x, %x) : (tensor<f32>, tensor<f32>) -> tensor<f32> }) : () -> ()'
        )


def test_unsupported_op_names_op_and_location():
    def f(x):
        return jnp.sort(x)

    with pytest.raises(DittoError) as info:
        ditto_compiler.compile(f, np.ones(4, np.float32))
    assert "'stablehlo.sort' is not supported" in str(info.value)


def test_untraceable_function():
    def f(x):
        if x.sum() > 0:  # data-dependent Python control flow
            return x
        return -x

    with pytest.raises(DittoError, match="JAX could not lower"):
        ditto_compiler.compile(f, np.ones(3, np.float32))


def test_run_checks_arguments():
    prog = ditto_compiler.compile(
        lambda p, x: x @ p["w"], {"w": np.ones((3, 2), np.float32)}, np.ones((4, 3), np.float32)
    )
    with pytest.raises(DittoError, match=r"argument \[1\] has shape \[5, 3\], expected \[4, 3\]"):
        prog.run({"w": np.ones((3, 2), np.float32)}, np.ones((5, 3), np.float32))
    with pytest.raises(DittoError, match=r"argument \[0\]\['w'\] has dtype int64"):
        prog.run({"w": np.ones((3, 2), np.int64)}, np.ones((4, 3), np.float32))
    with pytest.raises(DittoError, match="structure"):
        prog.run(np.ones((3, 2), np.float32), np.ones((4, 3), np.float32))


def test_program_exposes_every_stage():
    prog = ditto_compiler.compile(jax.nn.relu, np.ones(3, np.float32))
    assert '"stablehlo.maximum"' in prog.stablehlo
    assert "pphlo.maximum" in prog.ir and "stablehlo" not in prog.ir
    assert prog.pphlo.startswith('"builtin.module"()') and "pphlo.version" in prog.pphlo
