"""The drawing primitives of the architecture figure (``diagram``): boxes, arrows, labels, shapes.

One matplotlib axes whose data units are a tenth of an inch (``UNIT_INCHES``);
``diagram`` decides where everything goes, this module how it looks.
"""

from __future__ import annotations

import dataclasses
import io

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch

Dim = int | str  # a tensor dimension: a number, or a name such as "batch"

UNIT_INCHES = 0.1  # one drawing unit
BOX_WIDTH = 33.0
BOX_HEIGHT = 5.4  # a box with a title and a detail line
THIN_HEIGHT = 3.2  # a one-line box (norm, add, dropout)

# Colours after the paper's figure: attention orange, feed-forward blue, add & norm yellow.
COLORS = {
    "embedding": "#f7d4d4",
    "attention": "#fbd7a4",
    "ffn": "#cde3f6",
    "norm": "#f4f0bd",
    "dropout": "#e4e4e4",
    "projection": "#ddd3f1",
    "frame": "#f1f1f1",
    "line": "#303030",
    "shape": "#1f5f99",
}
TITLE_SIZE, DETAIL_SIZE, SHAPE_SIZE = 9.0, 7.4, 7.4


@dataclasses.dataclass(frozen=True)
class Box:
    """Where a drawn box sits."""

    left: float
    bottom: float
    width: float
    height: float

    @property
    def right(self) -> float:
        return self.left + self.width

    @property
    def top(self) -> float:
        return self.bottom + self.height

    @property
    def cx(self) -> float:
        return self.left + self.width / 2

    @property
    def cy(self) -> float:
        return self.bottom + self.height / 2


class ShowableFigure(Figure):
    """A pyplot-free ``Figure`` that Jupyter shows as a PNG even before pyplot has drawn anything.

    IPython learns to show figures only once pyplot loads its inline backend,
    which happens at the first pyplot figure, not at ``import``; until then a
    bare ``Figure`` displays as ``<Figure size ...>``.
    """

    def _repr_png_(self) -> bytes:
        buffer = io.BytesIO()
        self.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
        return buffer.getvalue()


class Canvas:
    """Boxes, arrows and labels on one axes whose data units are ``UNIT_INCHES``."""

    def __init__(self, ax: Axes):
        self.ax = ax

    def box(self, cx: float, bottom: float, title: str, detail: str = "", *, color: str, gid: str) -> Box:
        height = BOX_HEIGHT if detail else THIN_HEIGHT
        box = Box(cx - BOX_WIDTH / 2, bottom, BOX_WIDTH, height)
        self.ax.add_patch(
            FancyBboxPatch(
                (box.left, box.bottom),
                box.width,
                box.height,
                boxstyle="round,pad=0,rounding_size=0.8",
                facecolor=color,
                edgecolor=COLORS["line"],
                linewidth=0.9,
                zorder=3,
                gid=gid,
            )
        )
        if detail:
            self.text(cx, box.top - 1.7, title, size=TITLE_SIZE, weight="bold")
            self.text(cx, box.bottom + 1.5, detail, size=DETAIL_SIZE)
        else:
            self.text(cx, box.cy, title, size=TITLE_SIZE)
        return box

    def text(self, x: float, y: float, text: str, *, size: float, ha: str = "center", **kwargs) -> None:
        self.ax.text(x, y, text, ha=ha, va="center", fontsize=size, zorder=5, **kwargs)

    def shape(self, x: float, y: float, dims: tuple[Dim, ...], *, ha: str = "left") -> None:
        """A tensor shape beside an arrow, e.g. ``(batch, S, 128)``."""
        self.text(x, y, shape_text(dims), size=SHAPE_SIZE, ha=ha, color=COLORS["shape"], style="italic")

    def arrow(self, *points: tuple[float, float]) -> None:
        """A line through ``points`` with an arrow head at the last one."""
        *path, (x0, y0), end = points
        if path:
            xs, ys = zip(*path, (x0, y0))
            self.ax.plot(xs, ys, color=COLORS["line"], linewidth=1.0, zorder=2, solid_capstyle="butt")
        self.ax.add_patch(
            FancyArrowPatch(
                (x0, y0),
                end,
                arrowstyle="-|>",
                mutation_scale=9,
                shrinkA=0,
                shrinkB=0,
                color=COLORS["line"],
                linewidth=1.0,
                zorder=2,
            )
        )

    def plus(self, cx: float, cy: float, gid: str) -> Box:
        """The sum of the embedding and the positional encoding: a circled plus."""
        radius = 1.3
        self.ax.add_patch(
            Circle(
                (cx, cy),
                radius,
                facecolor="white",
                edgecolor=COLORS["line"],
                linewidth=0.9,
                zorder=3,
                gid=gid,
            )
        )
        self.text(cx, cy, "+", size=11)
        return Box(cx - radius, cy - radius, 2 * radius, 2 * radius)


def shape_text(dims: tuple[Dim, ...]) -> str:
    """``(batch, S, 128)``."""
    return "(" + ", ".join(str(d) for d in dims) + ")"
