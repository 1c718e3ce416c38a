# lit configuration for ditto-compiler's IR tests: `lit test/lit`.
import os

import lit.formats

config.name = "ditto-compiler"
config.test_format = lit.formats.ShTest(execute_external=False)
config.suffixes = [".mlir"]
config.test_source_root = os.path.dirname(__file__)
config.excludes = ["inputs"]
# ditto-opt and filecheck come from the active environment.
config.environment["PATH"] = os.environ["PATH"]
