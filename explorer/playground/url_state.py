"""The Playground's state in the page's URL, as TensorFlow Playground keeps its own: every control, and which
controls a lesson or a teacher's link hides. Each key is a control's name (settings.py) after the prefix `pg_`, so
it never meets the page's own keys (service/url_state.py: seed, L, ...); only values that differ from the defaults
are written.

    ?tab=playground&pg_model=vqvae&pg_data=ring&pg_seed=3&pg_num_codes=8&pg_kmeans_init=0&pg_hide=lr,beta

    pg_model            vae | vqvae                   pg_data        moons | ring | spiral | digits | fashion-mnist
    pg_seed             0 .. 2^31 - 1                 pg_latent_dim  1 | 2 (the VAE's latent)
    pg_arch             mlp | conv (image VAE)        pg_lr          1e-05 .. 0.1
    pg_batch_size       8 .. 1024                     pg_mc_samples  1 .. 64 (L)
    pg_beta             0 .. 10                       pg_num_codes   2 .. 64 (K)
    pg_commitment       0 .. 10                       pg_codebook    ema | loss
    pg_codebook_weight  0 .. 10                       pg_ema_decay   0.5 .. 0.999
    pg_kmeans_init      1 | 0                         pg_restarts    1 | 0 (dead-code restarts)
    pg_steps_per_scene  0 | 10 | 1 (0: full speed; 10 or 1: slow motion, each scene's last step as arrows)
    pg_hide             controls to hide, by these names (without pg_), and the buttons play, pause, step, reset,
                        save, separated by commas

(`tab=playground` is the page's own key: it opens the tab.) Reading never fails: a value that does not fit is dropped
with a message naming it and what it takes, and the others are kept (from_query).
"""
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from urllib.parse import parse_qs, urlencode

from explorer.errors import PlaygroundError
from explorer.playground.settings import PlaygroundSettings, check_settings

PREFIX = "pg_"
HIDE = PREFIX + "hide"
NAMES = tuple(f.name for f in fields(PlaygroundSettings))
BUTTONS = ("play", "pause", "step", "reset", "save")
HIDEABLE = (*NAMES, *BUTTONS)
FLAGS = {"1": True, "true": True, "0": False, "false": False}
MAX_VALUE = 200  # characters of one value read
DEFAULT = PlaygroundSettings()


@dataclass(frozen=True)
class PlaygroundState:
    settings: PlaygroundSettings = DEFAULT
    hidden: tuple[str, ...] = ()  # of HIDEABLE, in its order
    messages: list[str] = field(default_factory=list)  # one per value dropped (from_query)
    given: frozenset = frozenset()  # the controls the URL set (to_query of what differs from the defaults)


def _value(v) -> str:
    if isinstance(v, bool):
        return "1" if v else "0"
    return repr(v) if isinstance(v, float) else str(v)


def to_query(settings: PlaygroundSettings, hidden=()) -> str:
    """The query string (no leading ?) of the settings that differ from the defaults and the hidden controls."""
    pairs = [(PREFIX + n, _value(getattr(settings, n))) for n in NAMES if getattr(settings, n) != getattr(DEFAULT, n)]
    hide = [n for n in HIDEABLE if n in set(hidden)]
    if hide:
        pairs.append((HIDE, ",".join(hide)))
    return urlencode(pairs, safe=",")


def _pairs(query) -> dict[str, str]:
    """The query's pg_ keys and their (last) values, from a query string or a mapping (request.query_params)."""
    if isinstance(query, Mapping):
        raw = dict(query)
    else:
        raw = parse_qs(str(query).lstrip("?"), keep_blank_values=True, max_num_fields=200)
    out = {}
    for k, v in raw.items():
        if str(k).startswith(PREFIX):
            v = v[-1] if isinstance(v, (list, tuple)) and v else v
            out[str(k)] = str(v)[:MAX_VALUE]
    return out


def from_query(query) -> PlaygroundState:
    """The Playground's state from a URL query: each good value kept, each bad one dropped with a message (never
    raises)."""
    values, hidden, messages = {}, (), []
    for key, text in _pairs(query).items():
        name = key[len(PREFIX):]
        if key == HIDE:
            asked = [h.strip() for h in text.split(",") if h.strip()]
            unknown = [h for h in asked if h not in HIDEABLE]
            if unknown:
                messages.append(f"URL value {HIDE}= names {', '.join(repr(h) for h in unknown)}, not Playground "
                                f"controls: use {', '.join(HIDEABLE)}")
            hidden = tuple(n for n in HIDEABLE if n in asked)
            continue
        if name not in NAMES:
            messages.append(f"URL key {key!r} is not a Playground control: use pg_ and one of {', '.join(NAMES)}")
            continue
        value = text
        if name in ("kmeans_init", "restarts"):
            if text.lower() not in FLAGS:
                messages.append(f"URL value {key}={text!r} is not 1 or 0: dropped")
                continue
            value = FLAGS[text.lower()]
        try:
            check_settings({name: value})
        except PlaygroundError as e:
            messages.append(f"URL value {key}={text!r} dropped: {e}")
            continue
        values[name] = value
    settings = check_settings(values)  # each alone was good: together too
    return PlaygroundState(settings, hidden, messages, frozenset(values))
