"""ksynth: compression by program synthesis over the KT DSL.

Heavy dependencies (numba, ray, z3, torch) are imported lazily by the modules that use them.
"""
from ksynth.api import CompressConfig, Compressor, Decompressor, Result, compress, decompress
from ksynth.dsl.program import Program
from ksynth.errors import KsynthError

__version__ = "0.1.0"
__all__ = ["compress", "decompress", "Compressor", "Decompressor", "CompressConfig", "Result",
           "Program", "KsynthError", "__version__"]
