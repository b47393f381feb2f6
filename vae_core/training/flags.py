"""Command-line flags generated from the Config fields' metadata: each setting's help text lives in config.py
only, and the commands (vae_core.train, vae_core.train_prior, vae_core.fit_prior) build their flags from it."""
import argparse
import dataclasses

from ..config import COMPILE_MODES, Config


def flag_name(name: str) -> str:
    """--latent-dim for latent_dim."""
    return "--" + name.replace("_", "-")


def add_setting_flags(p: argparse.ArgumentParser, names, shown_defaults: dict, flag_of=flag_name,
                      extra_help: dict | None = None) -> None:
    """A flag for each Config field in `names`, its help the field's metadata["help"] (+ extra_help[name]) with
    " (default: ...)" where shown_defaults has a value for it. Every flag's value is None when it is not given,
    so the caller tells "not given" from a default."""
    fields, defaults = {f.name: f for f in dataclasses.fields(Config)}, Config()
    for name in names:
        help = fields[name].metadata["help"] + (extra_help or {}).get(name, "")
        shown = shown_defaults.get(name)
        if shown is not None and shown != "" and not isinstance(shown, bool):
            help += f" (default: {shown:g})" if isinstance(shown, float) else f" (default: {shown})"
        kind = type(getattr(defaults, name))
        if name == "compile":  # --compile alone: the default mode; --no-compile: none (e.g. on --resume)
            p.add_argument(flag_of(name), nargs="?", const="default", choices=[m for m in COMPILE_MODES if m],
                           default=None, help=help)
            p.add_argument("--no-compile", dest="compile", action="store_const", const="", help="no torch.compile")
        elif kind is bool:
            p.add_argument(flag_of(name), dest=name, action=argparse.BooleanOptionalAction, default=None, help=help)
        else:
            p.add_argument(flag_of(name), dest=name, type=kind, default=None, help=help)


def prior_parser(prog: str, description: str, checkpoint_help: str, defaults: dict,
                 prefix: str) -> argparse.ArgumentParser:
    """The parser of a command that fits a prior to a checkpoint: the checkpoint folder, a flag for each setting in
    `defaults` named without `prefix` (prior_layers: --layers), and --device."""
    p = argparse.ArgumentParser(prog=prog, description=description,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint", help=checkpoint_help)
    add_setting_flags(p, list(defaults), defaults, lambda name: flag_name(name.removeprefix(prefix)))
    p.add_argument("--device", default="auto", help="auto (CUDA, then MPS, then CPU), cpu, cuda, mps")
    return p


def given_settings(args: argparse.Namespace, names) -> dict:
    """The settings among `names` given on the command line (their flags' values are None when not given)."""
    return {k: v for k, v in vars(args).items() if k in names and v is not None}
