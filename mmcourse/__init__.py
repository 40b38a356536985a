"""mmcourse: the helper package of *Multimodal Machine Learning from Scratch*.

One module per concept (``core``, ``results``, ``training``, ``viz``, ``widgets``, ``exercises``,
``noise``, ``modalities``, ``data``); the notebooks in ``notebooks/`` derive each one.
The most used names are available at the top level.
"""
from mmcourse.core import as_tensor, check_shape, get_device, set_seed
from mmcourse.results import record, recorded

__all__ = ["set_seed", "get_device", "check_shape", "as_tensor", "record", "recorded"]
__version__ = "0.1.0"
