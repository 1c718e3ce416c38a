"""SPU's visibility in the type: `!pphlo.secret<T>` wraps the element type of a secret tensor.

A public value has a plain element type (`tensor<4xf32>`, or a ring type such as
`tensor<4x!fxp.fixed<32, 10>>`); a secret one wraps it
(`tensor<4x!pphlo.secret<f32>>`). The type is SPU's (registered in the `pphlo`
dialect); it lives in its own module because both `pphlo` and `fxp` build on it.
"""

from __future__ import annotations

from collections.abc import Sequence

from xdsl.dialects.builtin import TensorType
from xdsl.ir import Attribute, ParametrizedAttribute, TypeAttribute
from xdsl.irdl import irdl_attr_definition, param_def


@irdl_attr_definition
class SecretType(ParametrizedAttribute, TypeAttribute):
    """`!pphlo.secret<T>`: an element of type T held as secret shares."""

    name = "pphlo.secret"
    base_type: Attribute = param_def()


def is_secret(type_: Attribute) -> bool:
    return isinstance(type_, TensorType) and isinstance(type_.element_type, SecretType)


def base_element_type(type_: TensorType) -> Attribute:
    element = type_.element_type
    return element.base_type if isinstance(element, SecretType) else element


def tensor_type(shape: Sequence[int], element: Attribute, secret: bool) -> TensorType:
    return TensorType(SecretType(element) if secret else element, shape)


def with_visibility(type_: TensorType, secret: bool) -> TensorType:
    return tensor_type(type_.get_shape(), base_element_type(type_), secret)
