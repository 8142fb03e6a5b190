"""What the engine needs from a model, whichever runtime runs it.

``Encoder`` is what pipeline, query and library are typed with; ``model.Embedder`` is the
one implementation, and it runs its two towers through a ``Towers`` object: one class per
runtime (``model.TorchTowers`` for the first start and fp32; ``engines.OnnxTowers``, whose
towers are ``engines.OrtTower`` or ``engines.OvTower`` as measured fastest on this CPU).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
from PIL import Image


class Towers(Protocol):
    """A model's image and text towers in one runtime: raw (not normalised) embeddings."""

    def encode_pixels(self, pixels: np.ndarray) -> np.ndarray: ...

    def encode_tokens(self, tokens: np.ndarray) -> np.ndarray: ...


class Encoder(Protocol):
    """Pictures and texts to unit vectors of one model."""

    id: str  # the model's fingerprint: which vectors it makes
    dim: int
    image_size: int

    def preprocess(self, image: Image.Image) -> np.ndarray: ...

    def encode_pixels(self, pixels: np.ndarray) -> np.ndarray: ...

    def encode_images(self, images: Sequence[Image.Image]) -> np.ndarray: ...

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray: ...

    def prepare_texts(self) -> None: ...
