"""The rendering core shared by the synthetic generators (:mod:`~studylib.data.synthetic_pose` and
:mod:`~studylib.data.synthetic_face`).

Both generators draw with these pieces, so they mean the same thing by a knob check, "inside the
image", a palette, a texture, a canvas and a shade:

* **Knobs.** :class:`KnobError` (a ``ValueError``) for every value a generator does not accept,
  with one message form, ``"<name> must be <what was expected>, got <value>"``:
  :func:`check_knobs`, :func:`check_range`, :func:`check_interval`, :func:`check_choices`,
  :func:`check_flag` for the configs' fields, :func:`check_generator_args` for
  ``num_images``, ``image_size`` and ``seed``, and :func:`check_config` for the config's type.
* **The image's extent.** :func:`inside_image`: the pixel-centre convention of
  :mod:`studylib.data.keypoints`, in which a ``size``-pixel image spans ``[-0.5, size - 0.5]``;
  its ``margin`` asks for points further in. The face generator's ``valid`` uses no margin; the
  pose generator's uses half a pixel (``[0, size - 1]``), as its published labels always have.
* **Palettes.** :func:`pick` (a table colour times a random brightness), :func:`hsv_colour` and
  :func:`muted_colour` (random scene colours).
* **Textures.** :class:`Texture`: a pattern mixing two colours, evaluated at points of a
  primitive's own frame (:meth:`Texture.colours`, so a pattern follows a limb) or over a box of
  the image (:meth:`Texture.render`); :func:`tile_bank` and :func:`upsampled_noise` are its noise.
* **Canvas and shading.** :class:`Canvas`: a float RGB image, one blend for everything painted
  on it, analytic anti-aliased capsules and ellipses shaded like cylinders
  (:meth:`Canvas.shade`), painting through Pillow masks, and an optional coverage mask;
  :func:`local_frame` and :func:`ellipse_alpha` build further analytic shapes,
  :func:`covered` reads a coverage mask at keypoints, and :func:`dome_shading` shades a filled
  silhouette as a dome.
* **Outlines** for Pillow's drawing functions: :func:`flat`, :func:`ellipse_points`,
  :func:`random_polygon`, :func:`spline`. **Sensor:** :func:`quantize`.

Colour scale. The canvas, the textures and the blend do not care what range colours are in: the
pose generator paints in [0, 1] and the face generator in [0, 255]. Each keeps its own scale
because converting one to the other would round differently and change the data that the
study's results were computed on; :func:`hsv_colour` returns [0, 1] and :func:`muted_colour`
[0, 255] for the same reason.
"""

from __future__ import annotations

import colorsys
import math
import numbers
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

__all__ = [
    "MIN_IMAGE_SIZE",
    "Canvas",
    "KnobError",
    "Texture",
    "check_choices",
    "check_config",
    "check_count",
    "check_flag",
    "check_generator_args",
    "check_interval",
    "check_knobs",
    "check_range",
    "covered",
    "dome_shading",
    "ellipse_alpha",
    "ellipse_points",
    "flat",
    "hsv_colour",
    "inside_image",
    "knob_error",
    "local_frame",
    "muted_colour",
    "pick",
    "quantize",
    "random_polygon",
    "spline",
    "tile_bank",
    "upsampled_noise",
]

# ---------------------------------------------------------------------------------------------
# Knob and argument checks


class KnobError(ValueError):
    """A synthetic generator was given a knob (config field) or argument value it does not accept.

    A subclass of ``ValueError``, so code that catches ``ValueError`` around a config or a
    generator call (for example the run configs' knob check) keeps working.
    """


def knob_error(name: str, expected: str, value) -> KnobError:
    """The error for ``name`` (a knob, as ``Config.field``, or an argument) with a bad ``value``."""
    return KnobError(f"{name} must be {expected}, got {value!r}")


def _is_real(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_range(name: str, value, low: float, high: float) -> None:
    """Raise :class:`KnobError` unless ``value`` is a finite real number in [low, high]."""
    if not (_is_real(value) and math.isfinite(value) and low <= value <= high):
        raise knob_error(name, f"in [{low:g}, {high:g}]", value)


def check_knobs(config, ranges: dict[str, tuple[float, float]]) -> None:
    """:func:`check_range` for each field of ``config`` named in ``ranges`` (field -> bounds);
    the error names the field as ``ConfigClass.field``."""
    owner = type(config).__name__
    for name, (low, high) in ranges.items():
        check_range(f"{owner}.{name}", getattr(config, name), low, high)


def check_interval(name: str, value, low: float, high: float) -> tuple[float, float]:
    """A ``(low, high)`` pair of numbers, each in [low, high], in order; returned as floats."""
    if not isinstance(value, tuple | list) or len(value) != 2:
        raise knob_error(name, "a (low, high) pair", value)
    for bound in value:
        check_range(name, bound, low, high)
    if value[0] > value[1]:
        raise knob_error(name, "a (low, high) pair with low <= high", tuple(value))
    return float(value[0]), float(value[1])


def check_choices(name: str, value, choices: tuple[str, ...]) -> tuple[str, ...]:
    """A non-empty collection of distinct members of ``choices`` (not a bare string), as a tuple."""
    try:
        items = None if isinstance(value, str) else tuple(value)
    except TypeError:
        items = None
    if not items or not set(items) <= set(choices) or len(set(items)) != len(items):
        raise knob_error(name, f"a non-empty tuple of distinct choices from {choices}", value)
    return items


def check_flag(name: str, value) -> None:
    """Raise :class:`KnobError` unless ``value`` is ``True`` or ``False``."""
    if not isinstance(value, bool):
        raise knob_error(name, "True or False", value)


def check_count(name: str, value, low: int) -> int:
    """An integer (not a bool) >= ``low``, returned as a Python int."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise knob_error(name, f"an integer >= {low}", value)
    return int(value)


#: Smallest image side a generator draws (a figure or a face needs a few pixels per part).
MIN_IMAGE_SIZE = 32


def check_generator_args(num_images, image_size, seed) -> tuple[int, int, int]:
    """Check ``generate_*(num_images, image_size, seed, ...)``'s arguments; returns them as ints."""
    return (
        check_count("num_images", num_images, 1),
        check_count("image_size", image_size, MIN_IMAGE_SIZE),
        check_count("seed", seed, 0),
    )


def check_config(config, kind: type) -> None:
    """Raise ``TypeError`` unless ``config`` is a ``kind`` (a wrong type, not a bad value)."""
    if not isinstance(config, kind):
        raise TypeError(f"config must be a {kind.__name__}, got {type(config).__name__}")


# ---------------------------------------------------------------------------------------------
# The image's extent


def inside_image(points: np.ndarray, size: int, margin: float = 0.0) -> np.ndarray:
    """(...) bool: each (x, y) point of ``points`` (..., 2) lies inside a ``size``-pixel square.

    Pixel-centre convention (:mod:`studylib.data.keypoints`): the centre of pixel (row i, column
    j) is (j, i) and the pixel covers half a pixel around it, so the image spans
    ``[-0.5, size - 0.5]`` on both axes, edges included. ``margin`` asks for points at least that
    far in from the edges: ``margin=0.5`` keeps the points on or between the outermost pixel
    centres, ``[0, size - 1]``.
    """
    low, high = -0.5 + margin, size - 0.5 - margin
    return np.all((points >= low) & (points <= high), axis=-1)


def covered(coverage: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(K,) bool: the pixel nearest each of ``points`` (K, 2) is more than half covered in
    ``coverage`` (H, W); a point outside the image is looked up at the nearest edge pixel."""
    height, width = coverage.shape
    columns = np.clip(np.rint(points[:, 0]).astype(np.int64), 0, width - 1)
    rows = np.clip(np.rint(points[:, 1]).astype(np.int64), 0, height - 1)
    return coverage[rows, columns] > 0.5


# ---------------------------------------------------------------------------------------------
# Palettes


def pick(rng: np.random.Generator, table: np.ndarray, low: float, high: float) -> np.ndarray:
    """A row of ``table`` (colours) chosen uniformly, times a brightness uniform in [low, high]."""
    return table[rng.integers(len(table))] * rng.uniform(low, high)


def hsv_colour(rng: np.random.Generator) -> np.ndarray:
    """A random RGB colour in [0, 1] (float32): any hue, saturation up to 0.85, value 0.12-0.95."""
    hue, saturation, value = rng.random(), rng.uniform(0.0, 0.85), rng.uniform(0.12, 0.95)
    return np.array(colorsys.hsv_to_rgb(hue, saturation, value), dtype=np.float32)


def muted_colour(rng: np.random.Generator) -> np.ndarray:
    """A random RGB colour in [0, 255] pulled towards its grey, as most colours in photographs."""
    red, green, blue, saturation = rng.random(4).tolist()
    colour = 15 + 225 * np.array([red, green, blue])
    grey = 75 + 75 * (red + green + blue)
    return grey + (colour - grey) * (0.15 + 0.65 * saturation)


# ---------------------------------------------------------------------------------------------
# Textures


@lru_cache(maxsize=1)
def tile_bank() -> np.ndarray:
    """Four tileable smooth-noise textures (4, 64, 64) in [0, 1], from a fixed seed."""
    rng = np.random.default_rng(20240601)
    size = 64
    freq = np.fft.fftfreq(size)
    radius = np.sqrt(freq[:, None] ** 2 + freq[None, :] ** 2)
    textures = []
    for cutoff in (0.04, 0.08, 0.15, 0.3):
        spectrum = np.fft.fft2(rng.standard_normal((size, size))) * np.exp(
            -((radius / cutoff) ** 2)
        )
        field = np.real(np.fft.ifft2(spectrum))
        field = (field - field.min()) / (field.max() - field.min())
        textures.append(field)
    return np.stack(textures).astype(np.float32)


def upsampled_noise(
    rng: np.random.Generator, grid: tuple[int, ...], width: int, height: int
) -> np.ndarray:
    """Smooth noise in [0, 255] (float32): a random uint8 ``grid`` (rows, columns[, channels])
    resized bicubically to ``width`` x ``height``."""
    cells = Image.fromarray(rng.integers(0, 256, size=grid, dtype=np.uint8))
    return np.asarray(cells.resize((width, height), Image.BICUBIC), dtype=np.float32)


#: Texture kinds evaluated point by point (:meth:`Texture.colours`).
POINTWISE_KINDS = ("solid", "stripes", "checks", "tiles")
#: Texture kinds that depend on the box they fill (only :meth:`Texture.render`).
BOX_KINDS = ("noise", "streaks", "gradient")


@dataclass(frozen=True)
class Texture:
    """A procedural texture: a pattern that mixes ``first`` into ``second``.

    Kinds: ``"solid"`` (``first`` only), ``"stripes"`` and ``"checks"`` (of ``period`` pixels at
    ``angle`` radians), ``"tiles"`` (the smooth noise of :func:`tile_bank` tile ``tile``, a texel
    being a quarter ``period``), and, over a box of the image only, ``"noise"`` (smooth blobs,
    ``cells`` across the box), ``"streaks"`` (hair-like strands) and ``"gradient"`` (along
    ``angle``). ``seed`` draws the noise and streaks. Colours are float32 in the caller's scale.
    """

    kind: str
    first: np.ndarray
    second: np.ndarray
    angle: float = 0.0
    period: float = 8.0
    cells: int = 6
    seed: int = 0
    tile: int = 0

    def __post_init__(self) -> None:
        if self.kind not in POINTWISE_KINDS + BOX_KINDS:
            raise ValueError(
                f"Texture.kind must be one of {POINTWISE_KINDS + BOX_KINDS}, got {self.kind!r}"
            )
        for name in ("first", "second"):
            object.__setattr__(self, name, np.asarray(getattr(self, name), dtype=np.float32))

    @classmethod
    def solid(cls, colour) -> Texture:
        """One colour."""
        colour = np.asarray(colour, dtype=np.float32)
        return cls("solid", colour, colour, period=1.0)

    @classmethod
    def shaded(
        cls, rng: np.random.Generator, colour, contrast: float, kind: str = "noise"
    ) -> Texture:
        """``colour`` with a brightness variation of +-``contrast`` (fabric, skin, hair)."""
        colour = np.asarray(colour, dtype=np.float64)
        return cls(
            kind=kind,
            first=colour * (1 - contrast),
            second=colour * (1 + contrast),
            cells=int(rng.integers(2, 6)),
            seed=int(rng.integers(2**31)),
        )

    def _mix(self, weight: np.ndarray) -> np.ndarray:
        first = self.first
        return first + weight.astype(np.float32)[..., None] * (self.second - first)

    def colours(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Colours (..., 3) at coordinates ``u`` and ``v`` (pixels) of the texture's frame."""
        if self.kind == "solid":
            return self.first
        cos_a, sin_a = math.cos(self.angle), math.sin(self.angle)
        along = u * cos_a + v * sin_a
        across = v * cos_a - u * sin_a
        if self.kind == "stripes":
            weight = (np.sin(along * (2.0 * math.pi / self.period)) > 0).astype(np.float32)
        elif self.kind == "checks":
            weight = (np.floor(along / self.period) + np.floor(across / self.period)) % 2
        elif self.kind == "tiles":
            texture = tile_bank()[self.tile]
            size = texture.shape[0]
            texel = self.period / 4.0
            rows = np.floor(across / texel).astype(np.int64) % size
            cols = np.floor(along / texel).astype(np.int64) % size
            weight = texture[rows, cols]
        else:
            raise ValueError(f"a {self.kind!r} texture depends on its box: use Texture.render")
        return self._mix(weight)

    def render(self, x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
        """(y1 - y0, x1 - x0, 3) float32 colours of the image box [x0, x1) x [y0, y1)."""
        height, width = y1 - y0, x1 - x0
        if self.kind in ("noise", "streaks"):
            if self.kind == "noise":
                grid = (self.cells, self.cells)
            else:
                grid = (max(2, height // 24), max(2, width // 3))
            rng = np.random.default_rng(self.seed)
            return self._mix(upsampled_noise(rng, grid, width, height) / 255)
        x = np.arange(x0, x1, dtype=np.float32)[None, :]
        y = np.arange(y0, y1, dtype=np.float32)[:, None]
        if self.kind == "gradient":
            along = x * math.cos(self.angle) + y * math.sin(self.angle)
            return self._mix((along - along.min()) / (np.ptp(along) + 1e-6))
        return np.broadcast_to(self.colours(x, y), (height, width, 3))


# ---------------------------------------------------------------------------------------------
# Canvas and shading


class Canvas:
    """A float RGB image (``pixels``, (S, S, 3) float32) that everything is blended onto.

    Two ways to paint, one blend (:meth:`paint`): analytic anti-aliased primitives
    (:meth:`capsule`, :meth:`ellipse`, and any shape a caller builds on :meth:`window`) shaded
    by :meth:`shade` under the light ``light`` (a 2-D unit vector), and Pillow masks
    (:meth:`new_mask`, :meth:`paint_mask`, :meth:`paint_polygon`). While ``track_coverage`` is
    set, ``coverage`` keeps the largest opacity painted at each pixel.
    """

    def __init__(self, pixels: np.ndarray, light: np.ndarray | None = None) -> None:
        self.pixels = pixels
        self.size = pixels.shape[0]
        self.light = light
        self.coverage = np.zeros(pixels.shape[:2], dtype=np.float32)
        self.track_coverage = False
        self._coords = np.arange(self.size, dtype=np.float32)

    # ---- the blend -----------------------------------------------------------------------------

    def paint(self, region, alpha: np.ndarray, colour: np.ndarray) -> None:
        """Blend ``colour`` into ``pixels[region]`` with opacity ``alpha`` (the region's shape)."""
        pixels = self.pixels[region]
        pixels += alpha[..., None] * (colour - pixels)
        if self.track_coverage:
            np.maximum(self.coverage[region], alpha, out=self.coverage[region])

    # ---- analytic primitives -------------------------------------------------------------------

    def window(self, low: np.ndarray, high: np.ndarray):
        """The part of the image in the box [low, high] (x, y): (region, xs (1, W), ys (H, 1)),
        or ``None`` when the box misses the image."""
        x0, y0 = max(0, math.floor(low[0])), max(0, math.floor(low[1]))
        x1, y1 = min(self.size, math.ceil(high[0]) + 1), min(self.size, math.ceil(high[1]) + 1)
        if x0 >= x1 or y0 >= y1:
            return None
        return (
            (slice(y0, y1), slice(x0, x1)),
            self._coords[x0:x1][None, :],
            self._coords[y0:y1][:, None],
        )

    def shade(self, nx: np.ndarray, ny: np.ndarray, brightness: float) -> np.ndarray:
        """Cylinder/sphere shading from the 2-D part of the surface normal, under ``light``."""
        nz = np.sqrt(np.clip(1.0 - nx * nx - ny * ny, 0.0, 1.0))
        lx, ly = self.light
        return brightness * (0.5 + 0.4 * nz + 0.22 * (nx * lx + ny * ly))

    def capsule(
        self,
        start: np.ndarray,
        end: np.ndarray,
        radii: tuple[float, float],
        material: Texture,
        brightness: float = 1.0,
    ) -> None:
        """A tapered capsule from ``start`` (radius ``radii[0]``) to ``end`` (``radii[1]``)."""
        reach = max(radii) + 1.0
        window = self.window(np.minimum(start, end) - reach, np.maximum(start, end) + reach)
        if window is None:
            return
        region, xs, ys = window
        dx, dy = float(end[0] - start[0]), float(end[1] - start[1])
        length = math.hypot(dx, dy)
        ex, ey = (dx / length, dy / length) if length > 1e-6 else (1.0, 0.0)
        along, across = local_frame(xs, ys, start, ex, ey)
        t = np.clip(along / max(length, 1e-6), 0.0, 1.0)
        off = along - t * length
        distance = np.sqrt(off * off + across * across)
        radius = radii[0] + t * (radii[1] - radii[0])
        alpha = np.clip(radius - distance + 0.5, 0.0, 1.0)
        nx = (off * ex - across * ey) / radius
        ny = (off * ey + across * ex) / radius
        shade = self.shade(nx, ny, brightness)
        self.paint(region, alpha, material.colours(along, across) * shade[..., None])

    def ellipse(
        self,
        centre: np.ndarray,
        axis: np.ndarray,
        half_axes: tuple[float, float],
        material: Texture,
        brightness: float = 1.0,
        box: bool = False,
    ) -> None:
        """A shaded ellipse (with ``box``, a rectangle); half-axes along ``axis`` and across it."""
        half_u, half_v = max(half_axes[0], 0.3), max(half_axes[1], 0.3)
        reach = max(half_u, half_v) + 1.0
        window = self.window(centre - reach, centre + reach)
        if window is None:
            return
        region, xs, ys = window
        ex, ey = float(axis[0]), float(axis[1])
        u, v = local_frame(xs, ys, centre, ex, ey)
        if box:
            alpha = np.clip(np.minimum(half_u - np.abs(u), half_v - np.abs(v)) + 0.5, 0.0, 1.0)
            nu, nv = 0.3 * u / half_u, 0.3 * v / half_v
        else:
            nu, nv = u / half_u, v / half_v
            alpha = ellipse_alpha(nu, nv, half_u, half_v)[1]
        shade = self.shade(nu * ex - nv * ey, nu * ey + nv * ex, brightness)
        self.paint(region, alpha, material.colours(u, v) * shade[..., None])

    # ---- Pillow masks --------------------------------------------------------------------------

    def new_mask(self) -> tuple[Image.Image, ImageDraw.ImageDraw]:
        """An empty 8-bit mask of the canvas's size and a Pillow pen for it."""
        mask = Image.new("L", (self.size, self.size), 0)
        return mask, ImageDraw.Draw(mask)

    def paint_mask(self, mask: Image.Image, colour, opacity: float = 1.0) -> None:
        """Blend ``colour`` (an RGB triple or a :class:`Texture`) where ``mask`` is set."""
        box = mask.getbbox()
        if box is None:
            return
        x0, y0, x1, y1 = box
        alpha = np.asarray(mask.crop(box), dtype=np.float32) * (opacity / 255.0)
        if isinstance(colour, Texture):
            source = colour.render(x0, y0, x1, y1)
        else:
            source = np.asarray(colour, dtype=np.float32)
        self.paint((slice(y0, y1), slice(x0, x1)), alpha, source)

    def paint_polygon(self, points: np.ndarray, colour, opacity: float = 1.0) -> Image.Image:
        """Fill the polygon ``points`` (N, 2) with ``colour``; returns its mask."""
        mask, draw = self.new_mask()
        draw.polygon(flat(points), fill=255)
        self.paint_mask(mask, colour, opacity)
        return mask


def local_frame(xs: np.ndarray, ys: np.ndarray, origin, ex: float, ey: float):
    """Pixel coordinates ``xs`` (1, W) and ``ys`` (H, 1) in a primitive's own frame, from
    ``origin``: ``along`` the unit direction (ex, ey) and ``across`` it, along (-ey, ex)."""
    px, py = xs - float(origin[0]), ys - float(origin[1])
    return px * ex + py * ey, py * ex - px * ey


def ellipse_alpha(nu: np.ndarray, nv: np.ndarray, half_u: float, half_v: float):
    """(rho, alpha) of an ellipse at normalised coordinates (``nu``, ``nv``): the elliptic radius
    (1 on the outline) and the anti-aliased coverage, a one-pixel ramp across the outline."""
    rho = np.sqrt(nu * nu + nv * nv)
    return rho, np.clip((1.0 - rho) * min(half_u, half_v) + 0.5, 0.0, 1.0)


def dome_shading(
    mask: Image.Image, reduce: int, sigma: float, light: np.ndarray, strength: float
) -> Image.Image:
    """Lambert shading (a float image of ``mask``'s size) of a dome over the silhouette ``mask``.

    The dome is the mask blurred by ``sigma``, computed at 1/``reduce`` of the mask's resolution
    (shading is smooth, so the coarse grid is enough) and resized back; ``light`` is a 3-D unit
    vector and ``strength`` in [0, 1] blends from flat (0) to full shading.
    """
    small = mask.reduce(reduce).filter(ImageFilter.GaussianBlur(sigma))
    grad_y, grad_x = np.gradient(np.asarray(small, dtype=np.float32) / 255)
    steepness = 4.0 * sigma
    normal = np.stack([-grad_x * steepness, -grad_y * steepness, np.ones_like(grad_x)], -1)
    normal /= np.linalg.norm(normal, axis=-1, keepdims=True)
    lambert = np.clip(normal @ light.astype(np.float32), 0.0, 1.0)
    shading = Image.fromarray((1 - strength) + strength * 1.15 * lambert)
    return shading.resize(mask.size, Image.BILINEAR)


# ---------------------------------------------------------------------------------------------
# Outlines for Pillow's drawing functions


def flat(points: np.ndarray) -> list[float]:
    """(N, 2) array to the flat coordinate list Pillow's drawing functions take."""
    return np.asarray(points, dtype=np.float64).ravel().tolist()


def ellipse_points(centre, radii, angle: float = 0.0, num: int = 20) -> np.ndarray:
    """(num, 2) points of a 2-D ellipse with semi-axes ``radii``, turned by ``angle`` radians."""
    t = np.linspace(0.0, 2 * np.pi, num, endpoint=False)
    local = np.stack([radii[0] * np.cos(t), radii[1] * np.sin(t)], axis=1)
    c, s = math.cos(angle), math.sin(angle)
    return local @ np.array([[c, s], [-s, c]]) + np.asarray(centre)


def random_polygon(
    rng: np.random.Generator, centre, count: int, radius: float, low: float
) -> np.ndarray:
    """(count, 2) corners of a random star-shaped polygon around ``centre``: sorted random
    angles, each corner at ``radius`` times a factor uniform in [low, 1]."""
    angles = np.sort(rng.uniform(0, 2 * np.pi, size=count))
    radii = radius * rng.uniform(low, 1.0, size=count)
    return centre + np.stack([np.cos(angles), np.sin(angles)], axis=1) * radii[:, None]


def spline(points: np.ndarray, samples: int = 5) -> np.ndarray:
    """An open Catmull-Rom curve through (N, 2) points (``samples`` per segment)."""
    points = np.asarray(points, dtype=np.float64)
    padded = np.concatenate([points[:1], points, points[-1:]])
    t = np.linspace(0.0, 1.0, samples, endpoint=False)[:, None]
    t2, t3 = t * t, t * t * t
    pieces = []
    for i in range(len(points) - 1):
        p0, p1, p2, p3 = padded[i], padded[i + 1], padded[i + 2], padded[i + 3]
        pieces.append(
            0.5
            * (
                2 * p1
                + (p2 - p0) * t
                + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t2
                + (3 * p1 - p0 - 3 * p2 + p3) * t3
            )
        )
    pieces.append(points[-1:])
    return np.concatenate(pieces)


# ---------------------------------------------------------------------------------------------
# Sensor


def quantize(values: np.ndarray) -> np.ndarray:
    """Intensities in [0, 255] (any float array) rounded to the nearest uint8, clipped."""
    return np.clip(np.rint(values), 0, 255).astype(np.uint8)
