"""The shareable state of the page: a dataclass that round-trips to a URL query string, as the Projector's bookmarks.

    ?vae=fashion-vae&vq=fashion-vqvae&tab=maths&index=12&axes=3,5&L=16&seed=2&z=0.25,-1.5,...
    ?tab=lessons&lesson=1&step=4&index=3&seed=2       (a lesson's step: its image and seed)

Only values that differ from the defaults are written. Parsing never crashes on what a URL can hold: `from_query`
raises UrlStateError (a UserError: the page shows its message) naming the first bad key and what it takes;
`from_query_lenient` keeps every good value, drops the bad ones and returns a message for each, so a page opened from
a damaged link still shows something. Unknown keys are ignored (Gradio's own, such as __theme, live there too).
Checkpoint names are checked here only for their form: whether they exist, and whether indices and dimensions fit
the models, is `restore_state`'s check against the store's models.
"""
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from urllib.parse import parse_qs, urlencode, urlsplit

from explorer.compute.directions import DIRECTIONS
from explorer.errors import UrlStateError, UserError
from explorer.service.lesson_steps import LESSONS
from explorer.service.store import MAX_SLIDER_DIMS, Store

# the tabs' ids (each view's `key`: map, maths, codes, generate, compare, interpolate, models, playground) and names
# once planned for the Maths tab's parts (a page without such a tab warns and shows the map)
TABS = ("map", "maths", "axes", "sampling", "decoder", "codes", "quantisation", "traversal", "generate", "compare",
        "interpolate", "models", "lessons", "playground")
MAX_QUERY = 8192  # characters
MAX_DIMS = 512  # numbers in a latent
MAX_ABS = 50.0  # |z| beyond this is refused (as service.MAX_ABS_LATENT)
MAX_INT = 10**9
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/+-]{0,199}")  # a checkpoint name: a folder name, maybe parent/name


@dataclass(frozen=True)
class ViewState:
    vae: str | None = None  # checkpoint names (None: the app's default)
    vq: str | None = None
    tab: str = "map"
    index: int | None = None  # the selected test image
    z: tuple[float, ...] | None = None  # the current latent (a clicked spot, slider values); wins over index's mu
    axes: tuple[int, int] | None = None  # the Maths tab's latent axes (i, j) (None: the two most active by KL)
    samples: int = 8  # the Maths tab's L (Monte Carlo samples)
    seed: int = 0  # and its seed
    neighbours: int = 10  # k nearest images shown
    rows: int = 4  # traversal: top-k dimensions
    steps: int = 7  # traversal: values per dimension
    code_index: int | None = None  # the codes view's test image
    cell: tuple[int, int] | None = None  # the codes view's selected cell (row, column)
    lesson: int | None = None  # the Lessons tab's lesson (1: the VAE's, 2: the VQ-VAE's) and step, from 1
    step: int | None = None


KEYS = {"vae": "vae", "vq": "vq", "tab": "tab", "index": "index", "z": "z", "axes": "axes", "L": "samples",
        "seed": "seed", "k": "neighbours", "rows": "rows", "steps": "steps", "codes": "code_index", "cell": "cell",
        "lesson": "lesson", "step": "step"}
DEFAULT = ViewState()


def _int(key: str, s: str, lo: int = 0, hi: int = MAX_INT) -> int:
    if not re.fullmatch(r"[+-]?\d{1,10}", s.strip()):
        raise UrlStateError(f"URL value {key}={s[:40]!r} is not a whole number; use {key}=<{lo}..{hi}>")
    v = int(s)
    if not lo <= v <= hi:
        raise UrlStateError(f"URL value {key}={v} is out of range; use {key}=<{lo}..{hi}>")
    return v


def _ints(key: str, s: str, n: int) -> tuple[int, ...]:
    parts = s.split(",")
    if len(parts) != n:
        raise UrlStateError(f"URL value {key}={s[:40]!r} needs {n} whole numbers separated by commas")
    return tuple(_int(key, p) for p in parts)


def _latent(key: str, s: str) -> tuple[float, ...]:
    parts = s.split(",")
    if not 1 <= len(parts) <= MAX_DIMS:
        raise UrlStateError(f"URL value {key}= needs 1..{MAX_DIMS} numbers separated by commas")
    out = []
    for p in parts:
        try:
            v = float(p)
        except ValueError:
            raise UrlStateError(f"URL value {key}= holds {p[:40]!r}, not a number") from None
        if not math.isfinite(v) or abs(v) > MAX_ABS:
            raise UrlStateError(f"URL value {key}= holds {p[:40]!r}: latent values are finite, within +-{MAX_ABS:g}")
        out.append(v)
    return tuple(out)


def _name(key: str, s: str) -> str:
    if not NAME.fullmatch(s) or ".." in s:
        raise UrlStateError(f"URL value {key}={s[:40]!r} is not a checkpoint name; pick one from the list instead")
    return s


def _tab(key: str, s: str) -> str:
    if s not in TABS:
        raise UrlStateError(f"URL value tab={s[:40]!r} is not a view; use one of {', '.join(TABS)}")
    return s


PARSE = {"vae": _name, "vq": _name, "tab": _tab, "index": _int, "z": _latent,
         "axes": lambda k, s: _ints(k, s, 2), "L": lambda k, s: _int(k, s, 1, 64), "seed": _int,
         "k": lambda k, s: _int(k, s, 1, 100), "rows": lambda k, s: _int(k, s, 1, 16),
         "steps": lambda k, s: _int(k, s, 1, 15), "codes": _int, "cell": lambda k, s: _ints(k, s, 2),
         "lesson": lambda k, s: _int(k, s, 1, 99), "step": lambda k, s: _int(k, s, 1, 99)}


def _pairs(query) -> dict[str, str]:
    """The query's known keys and their (last) values, from a query string, a whole URL or a mapping."""
    if isinstance(query, Mapping):
        raw = {str(k): v for k, v in query.items()}
    elif isinstance(query, str):
        if len(query) > MAX_QUERY:
            raise UrlStateError(f"the URL's query is {len(query)} characters; at most {MAX_QUERY} are read")
        try:
            q = urlsplit(query).query if "://" in query else query.lstrip("?")
            raw = parse_qs(q, keep_blank_values=True, max_num_fields=200)
        except ValueError as e:
            raise UrlStateError(f"the URL's query could not be read ({e})") from e
    else:
        raise UrlStateError(f"a URL query is text, got {type(query).__name__}")
    out = {}
    for k, v in raw.items():
        if k in KEYS:
            v = v[-1] if isinstance(v, (list, tuple)) and v else v
            if not isinstance(v, str) or len(v) > MAX_QUERY:
                raise UrlStateError(f"URL value {k}= must be text of at most {MAX_QUERY} characters")
            out[k] = v
    return out


def from_query(query) -> ViewState:
    """The state a URL query holds (defaults for what it leaves out); UrlStateError at the first bad value."""
    return replace(DEFAULT, **{KEYS[k]: PARSE[k](k, v) for k, v in _pairs(query).items() if v != ""})


def from_query_lenient(query) -> tuple[ViewState, list[str]]:
    """The state from every good value of a URL query, and a message for each bad one (never raises)."""
    try:
        pairs = _pairs(query)
    except UrlStateError as e:
        return DEFAULT, [str(e)]
    good, messages = {}, []
    for k, v in pairs.items():
        if v == "":
            continue
        try:
            good[KEYS[k]] = PARSE[k](k, v)
        except UrlStateError as e:
            messages.append(str(e))
    return replace(DEFAULT, **good), messages


def _text(v) -> str:
    return ",".join(repr(float(x)) if isinstance(x, float) else str(x) for x in v) if isinstance(v, tuple) else str(v)


def to_query(state: ViewState) -> str:
    """The query string (no leading ?) of the values that differ from the defaults; from_query reads it back."""
    attr_key = {a: k for k, a in KEYS.items()}
    pairs = [(attr_key[f.name], _text(getattr(state, f.name))) for f in fields(state)
             if getattr(state, f.name) != getattr(DEFAULT, f.name) and getattr(state, f.name) is not None]
    return urlencode(pairs, safe=",/")


@dataclass
class RestoredState:
    state: ViewState  # what the URL asked for, with what does not fit the models dropped
    messages: list[str]  # one line per value dropped, for the page to show


def restore_state(store: Store, query) -> RestoredState:
    """The view a URL asks for, checked against the store's checkpoints; what does not fit is dropped, with a
    message each (never raises: a damaged link still opens the page)."""
    state, messages = from_query_lenient(query)
    drop = {}

    def check(key, fits, message):
        if getattr(state, key) is not None and key not in drop and not fits(getattr(state, key)):
            messages.append(message)
            drop[key] = None

    for key, kind in (("vae", "vae"), ("vq", "vqvae")):
        check(key, lambda v, kind=kind: v in store.names(kind),
              f"no {kind.upper()} checkpoint {getattr(state, key)!r} here: showing the default instead")
    vae = drop.get("vae", state.vae) or next(iter(store.names("vae")), None)
    vq = drop.get("vq", state.vq) or next(iter(store.names("vqvae")), None)
    if vae is not None:
        d = store.model(vae).latent_dim
        check("z", lambda z: len(z) == d, f"the URL's latent does not have the {d} numbers {vae} takes: dropped")
        axes = d if d <= MAX_SLIDER_DIMS else min(DIRECTIONS, d)  # dimensions, or principal directions
        what = "dimensions" if d <= MAX_SLIDER_DIMS else "directions"
        check("axes", lambda a: max(a) < axes and a[0] != a[1],
              f"latent axes {state.axes} do not fit {vae}: pick two different {what} in 0..{axes - 1}")
    for key, name in (("index", vae), ("code_index", vq)):
        if name is not None and getattr(state, key) is not None:
            try:
                n = len(store.data(name).x_test)
            except UserError as e:  # the data set is missing: the view will say so when it opens
                messages.append(str(e))
                continue
            check(key, lambda i, n=n: i < n, f"test image {getattr(state, key)} is beyond the {n} test images "
                  f"of {name}: dropped")
    names = ", ".join(f"{i + 1} ({x.title})" for i, x in enumerate(LESSONS))
    check("lesson", lambda n: n <= len(LESSONS), f"there is no lesson {state.lesson}: pick one of {names}")
    lesson = drop.get("lesson", state.lesson) or 1
    steps = len(LESSONS[lesson - 1].steps)
    check("step", lambda m: m <= steps, f"lesson {lesson} has steps 1..{steps}, not {state.step}: showing step 1")
    if vq is not None:
        g = store.model(vq).grid_size
        check("cell", lambda c: max(c) < g, f"code grid cell {state.cell} is outside the {g}x{g} grid of {vq}")
    return RestoredState(replace(state, **drop), messages)
