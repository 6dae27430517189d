"""Driftglass for Python: is this batch of images still like the images the model was trained on?

The same model files, losses and verdict as the `driftglass` CLI and the browser app: every
number comes from Driftglass's Rust core. Decoding and scoring release the GIL.
"""

import os
from typing import Literal, Optional, Sequence, Tuple, Union

import numpy as np
import numpy.typing as npt

__version__: str

Polarity = Literal["as-is", "invert", "auto"]

class DriftglassError(Exception):
    """A model file, an image or a batch Driftglass cannot use; the message is the core's."""

class Model:
    """A model file: the network, its baseline and its preprocessing."""

    @staticmethod
    def load(source: Union[str, os.PathLike, bytes], polarity: Polarity = "as-is") -> "Model":
        """Load a model file from a path or from its bytes (`polarity` as the CLI's `--polarity`)."""
    @staticmethod
    def bundled(polarity: Polarity = "as-is") -> "Model":
        """The bundled MNIST model (what the CLI and the page use without a model file)."""
    @property
    def sha256(self) -> str: ...
    @property
    def side(self) -> int:
        """Side of the square images the network takes."""
    @property
    def channels(self) -> int:
        """1 (gray) or 3 (RGB)."""
    @property
    def baseline_mean(self) -> float:
        """The baseline's mean loss: a batch's loss ratio is its mean loss over this."""
    def prepare(self, blobs: Sequence[bytes], names: Optional[Sequence[str]] = None) -> "Prepared":
        """Decode and prepare encoded images (PNG, JPEG, GIF, WebP, BMP) as the CLI does.

        An input that cannot be used keeps its reason in `Prepared.errors` and never stops the
        others. `names` default to "0", "1", …
        """
    def score(
        self,
        images: Union["Prepared", npt.NDArray[np.uint8], npt.NDArray[np.float32], npt.NDArray[np.float64]],
        names: Optional[Sequence[str]] = None,
        flag_rate: float = 0.01,
    ) -> "Scores":
        """Score prepared images, or an array shaped [N, H, W] (gray) or [N, H, W, 3] (RGB).

        uint8 arrays are 0–255, float arrays 0–1; arrays are taken as pixels ready to use (as an
        IDX file's: padded to a square and area-resized to the model's side, no polarity or
        centring).
        """

class Prepared:
    """Images decoded and prepared for a model, with the reasons of those that could not be."""

    @property
    def names(self) -> list[str]:
        """Every input's name, in order."""
    @property
    def errors(self) -> list[Tuple[str, str]]:
        """(name, reason) of each input that could not be used."""
    def images(self) -> npt.NDArray[np.float32]:
        """The usable images as the network sees them: [N, side, side] or [N, side, side, 3]."""
    def __len__(self) -> int: ...

class Scores:
    """Per-image scores of a batch or of a part of one; arrays over the scored images, in order.

    Picklable (as JSON): parts scored on other processes or machines are joined by `batch_tests`.
    """

    @property
    def loss(self) -> npt.NDArray[np.float64]:
        """Reconstruction loss per image (the model's loss: BCE or MSE per pixel)."""
    @property
    def mse(self) -> npt.NDArray[np.float64]: ...
    @property
    def p_value(self) -> npt.NDArray[np.float64]:
        """Conformal p-value against the baseline (of the novelty score where the model has one)."""
    @property
    def novelty(self) -> npt.NDArray[np.float64]:
        """Novelty score per image (NaN where the model has none)."""
    @property
    def flagged(self) -> npt.NDArray[np.bool_]: ...
    @property
    def code(self) -> npt.NDArray[np.float32]:
        """Projected latent code per image, [N, code size]."""
    @property
    def names(self) -> list[str]:
        """Names of the scored images."""
    @property
    def errors(self) -> list[Tuple[str, str]]:
        """(name, reason) of each input that could not be scored."""
    def __len__(self) -> int: ...

def batch_tests(
    model: Model,
    scores: Union[Scores, Sequence[Scores]],
    alpha: float = 0.01,
    min_ratio: float = 0.05,
    min_d: float = 0.1,
    min_flagged: float = 0.04,
    min_mmd: float = 0.06,
) -> str:
    """The batch tests over one part or parts in batch order, as the CLI's JSON report.

    Joined parts give exactly the verdict of one run over all their images.
    """

def set_threads(threads: int) -> None:
    """Let each scoring call use at most `threads` threads (0: every core, the default)."""
